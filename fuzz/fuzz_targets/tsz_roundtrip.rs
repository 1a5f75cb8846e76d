//! Fuzz target: arbitrary points must round-trip bit-exactly through every
//! codec (chunks under each policy, the value-only codecs (Gorilla, ALP,
//! Pack) and Prometheus XOR).
#![no_main]

use blocksmith_tsz::{Chunk, Policy, TimeUnit, best, gorilla, pack, prometheus};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Each 16-byte record is one point: i64 timestamp then f64 bits, little-endian.
    let mut points: Vec<(i64, f64)> = data
        .chunks_exact(16)
        .take(Chunk::MAX_POINTS)
        .map(|c| {
            let mut t = [0u8; 8];
            let mut v = [0u8; 8];
            t.copy_from_slice(&c[..8]);
            v.copy_from_slice(&c[8..]);
            (i64::from_le_bytes(t), f64::from_bits(u64::from_le_bytes(v)))
        })
        .collect();

    // Prometheus accepts any timestamp order.
    let bytes = prometheus::encode(&points).expect("within u16 samples");
    let back = prometheus::decode(&bytes).expect("own output decodes");
    assert_same(&points, &back);

    let values: Vec<f64> = points.iter().map(|p| p.1).collect();
    let g = gorilla::decode_values(&gorilla::encode_values(&values), values.len()).unwrap();
    let b = best::decode_values(&best::encode_values(&values), values.len()).unwrap();
    let k = pack::decode_values(&pack::encode_values(&values), values.len()).unwrap();
    assert!(
        values
            .iter()
            .zip(&k)
            .all(|(x, y)| x.to_bits() == y.to_bits())
    );
    assert!(
        values
            .iter()
            .zip(&g)
            .all(|(x, y)| x.to_bits() == y.to_bits())
    );
    assert!(
        values
            .iter()
            .zip(&b)
            .all(|(x, y)| x.to_bits() == y.to_bits())
    );

    // Chunks need non-decreasing timestamps.
    points.sort_by_key(|p| p.0);
    for policy in [Policy::Gorilla, Policy::Best, Policy::Alp, Policy::Auto] {
        let bytes = Chunk::encode(&points, TimeUnit::Nanos, policy).expect("valid input");
        let (unit, back) = Chunk::decode(&bytes).expect("own output decodes");
        assert_eq!(unit, TimeUnit::Nanos);
        assert_same(&points, &back);
    }
});

fn assert_same(a: &[(i64, f64)], b: &[(i64, f64)]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.0, y.0);
        assert_eq!(x.1.to_bits(), y.1.to_bits());
    }
}
