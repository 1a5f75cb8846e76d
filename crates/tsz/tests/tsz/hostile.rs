//! Hostile input: truncated, bit-flipped and random bytes must give a typed
//! error (or, without checksums, possibly other points), never a panic, a
//! hang or a huge allocation.

use blocksmith_tsz::{Chunk, Error, Policy, TimeUnit, best, gorilla, pack, prometheus};
use proptest::prelude::*;

fn sample_points(n: usize) -> Vec<(i64, f64)> {
    (0..n as i64)
        .map(|i| {
            let t = 1_700_000_000_000 + i * 1000 + (i % 7) * 3;
            let v = match i % 5 {
                0 => f64::NAN,
                1 => (i as f64) * 0.1,
                2 => -0.0,
                3 => (i as f64).sqrt(),
                _ => 25.5,
            };
            (t, v)
        })
        .collect()
}

fn chunks() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for n in [1, 2, 3, 40, 1100] {
        for policy in [Policy::Gorilla, Policy::Best, Policy::Alp] {
            out.push(Chunk::encode(&sample_points(n), TimeUnit::Millis, policy).unwrap());
        }
    }
    out
}

/// Runs every decoder on `bytes`; only panics (test failure) matter here.
fn decode_everything(bytes: &[u8]) {
    let _ = Chunk::peek(bytes);
    let _ = Chunk::decode(bytes);
    let _ = Chunk::decode_unverified(bytes);
    let _ = Chunk::decode_columns(bytes);
    let _ = prometheus::decode(bytes);
    for count in [0, 1, 2, 100, 5000, usize::MAX / 2] {
        let _ = gorilla::decode_values(bytes, count);
        let _ = best::decode_values(bytes, count);
        let _ = pack::decode_values(bytes, count);
    }
}

#[test]
fn every_truncation_is_an_error() {
    for c in chunks() {
        for len in 0..c.len() {
            let r = Chunk::decode(&c[..len]);
            assert!(r.is_err(), "truncated to {len} of {} decoded", c.len());
            let _ = Chunk::decode_unverified(&c[..len]);
        }
        let mut longer = c.clone();
        longer.push(0);
        assert!(matches!(
            Chunk::decode(&longer),
            Err(Error::TrailingBytes(1))
        ));
    }
    let p = prometheus::encode(&sample_points(300)).unwrap();
    for len in 0..p.len() {
        assert!(
            prometheus::decode(&p[..len]).is_err(),
            "prometheus truncated to {len}"
        );
    }
}

#[test]
fn every_bit_flip_is_caught_and_never_panics() {
    for c in chunks().into_iter().filter(|c| c.len() < 3000) {
        for bit in 0..c.len() * 8 {
            let mut d = c.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            assert!(
                Chunk::decode(&d).is_err(),
                "flip of bit {bit} went unnoticed"
            );
            // Without the checksums the payload decoders see the damage directly.
            let _ = Chunk::decode_unverified(&d);
        }
    }
    let p = prometheus::encode(&sample_points(200)).unwrap();
    for bit in 0..p.len() * 8 {
        let mut d = p.clone();
        d[bit / 8] ^= 1 << (bit % 8);
        let _ = prometheus::decode(&d);
    }
}

#[test]
fn huge_declared_counts_fail_fast() {
    // A Best chunk header claiming 65 536 points over a 1-byte payload.
    let mut c = Chunk::encode(&[(5, 1.0)], TimeUnit::Seconds, Policy::Best).unwrap();
    c[8..12].copy_from_slice(&65_536u32.to_le_bytes());
    assert!(Chunk::decode_unverified(&c).is_err());
    c[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        Chunk::decode_unverified(&c),
        Err(Error::TooManyPoints { .. })
    ));
    assert!(prometheus::decode(&[0xFF, 0xFF, 0, 0, 0]).is_err());
    assert!(gorilla::decode_values(&[0; 9], usize::MAX).is_err());
    assert!(best::decode_values(&[0; 9], usize::MAX).is_err());
    assert!(pack::decode_values(&[0; 9], usize::MAX).is_err());
}

/// A structurally valid header (checksum included) in front of arbitrary payload bytes.
fn framed(codec: u8, count: u32, payload: &[u8]) -> Vec<u8> {
    let mut good = Chunk::encode(&[(0, 0.0), (1, 0.0)], TimeUnit::Seconds, Policy::Best).unwrap();
    good.truncate(Chunk::HEADER_LEN);
    good[5] = codec;
    good[8..12].copy_from_slice(&count.to_le_bytes());
    good[20..28].copy_from_slice(&i64::MAX.to_le_bytes());
    good[28..32].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    good.extend_from_slice(payload);
    good.extend_from_slice(&[0; 4]);
    good
}

/// Recomputes both checksums, so damage reaches the payload decoders of the
/// verifying entry points.
fn reseal(c: &mut [u8]) {
    let crc = crc32fast::hash(&c[..32]);
    c[32..36].copy_from_slice(&crc.to_le_bytes());
    let end = c.len() - 4;
    let crc = crc32fast::hash(&c[..end]);
    c[end..].copy_from_slice(&crc.to_le_bytes());
}

/// `decode` and the direct-to-buffer `decode_columns_into` agree on every
/// input: the same points, or both an error.
fn decoders_agree(c: &[u8]) {
    let points = Chunk::decode(c);
    let (mut ts, mut vals) = (vec![7; 3], vec![f64::NAN; 5000]);
    let cols = Chunk::decode_columns_into(c, &mut ts, &mut vals);
    match (points, cols) {
        (Ok((_, p)), Ok(h)) => {
            assert_eq!(h.count as usize, p.len());
            assert_eq!(ts, p.iter().map(|x| x.0).collect::<Vec<_>>());
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&vals),
                bits(&p.iter().map(|x| x.1).collect::<Vec<_>>())
            );
        }
        // Both reject; which check fires first may differ.
        (Err(_), Err(_)) => {}
        (a, b) => panic!("decode gave {a:?}, decode_columns_into gave {b:?}"),
    }
}

#[test]
fn column_decoding_agrees_on_valid_and_resealed_damaged_chunks() {
    for c in chunks().into_iter().filter(|c| c.len() < 3000) {
        decoders_agree(&c);
        for bit in (Chunk::HEADER_LEN * 8..(c.len() - 4) * 8).step_by(3) {
            let mut d = c.clone();
            d[bit / 8] ^= 1 << (bit % 8);
            reseal(&mut d);
            decoders_agree(&d);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        decode_everything(&bytes);
    }

    #[test]
    fn random_payloads_behind_valid_headers(
        codec in 1u8..=3,
        count in 0u32..5000,
        payload in prop::collection::vec(any::<u8>(), 0..2000),
    ) {
        let c = framed(codec, count, &payload);
        let _ = Chunk::decode_unverified(&c);
        prop_assert!(Chunk::decode(&c).is_err());
    }

    #[test]
    fn mutated_valid_payloads_never_panic(
        idx in 0usize..15,
        flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..6),
    ) {
        let mut c = chunks().swap_remove(idx);
        for (at, bit) in flips {
            let i = Chunk::HEADER_LEN + at.index(c.len() - Chunk::HEADER_LEN);
            c[i] ^= 1 << bit;
        }
        let _ = Chunk::decode_unverified(&c);
        reseal(&mut c);
        decoders_agree(&c);
    }
}
