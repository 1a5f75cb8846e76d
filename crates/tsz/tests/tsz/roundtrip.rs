//! Property tests: every codec round-trips every input bit-exactly.

use blocksmith_tsz::{Chunk, Codec, Error, Policy, TimeUnit, best, gorilla, pack, prometheus};
use proptest::prelude::*;

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Any f64 bit pattern: NaN payloads, -0.0, infinities, subnormals...
fn any_bits() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        prop::sample::select(vec![
            0.0,
            -0.0,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7FF0_0000_0000_0001),
            f64::from_bits(0xFFF8_0000_DEAD_BEEF),
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            f64::from_bits(1),
            f64::MAX,
            f64::MIN,
            1.0,
        ]),
    ]
}

/// Decimal-looking values, the case ALP is built for (with a few specials).
fn decimalish() -> impl Strategy<Value = f64> {
    prop_oneof![
        9 => (-1_000_000i64..1_000_000, 0u32..5).prop_map(|(m, k)| m as f64 / 10f64.powi(k as i32)),
        1 => any_bits(),
    ]
}

fn values(len: std::ops::Range<usize>) -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        prop::collection::vec(any_bits(), len.clone()),
        prop::collection::vec(decimalish(), len.clone()),
        // Slowly varying series.
        (decimalish(), prop::collection::vec(-3i32..4, len)).prop_map(|(start, steps)| {
            let mut v = start;
            steps
                .iter()
                .map(|&s| {
                    v += f64::from(s) * 0.25;
                    v
                })
                .collect()
        }),
    ]
}

/// Non-decreasing timestamps: arbitrary (extremes included) or regular with jitter and gaps.
fn timestamps(n: usize) -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        prop::collection::vec(
            prop_oneof![any::<i64>(), Just(i64::MIN), Just(i64::MAX), Just(0)],
            n
        )
        .prop_map(|mut v| {
            v.sort_unstable();
            v
        }),
        (
            any::<i64>(),
            0i64..1_000_000_000,
            prop::collection::vec(0i64..3, n)
        )
            .prop_map(move |(start, step, jitter)| {
                let mut t = start;
                jitter
                    .iter()
                    .map(|&j| {
                        t = t.saturating_add(step + j * (step / 10 + 1) * i64::from(j == 2) * 100);
                        t
                    })
                    .collect()
            }),
    ]
}

fn points(max: usize) -> impl Strategy<Value = Vec<(i64, f64)>> {
    (0..max).prop_flat_map(|n| {
        (timestamps(n), values(n..n + 1)).prop_map(|(t, v)| t.into_iter().zip(v).collect())
    })
}

fn check_chunk(pts: &[(i64, f64)], policy: Policy) -> Result<(), TestCaseError> {
    let bytes = Chunk::encode(pts, TimeUnit::Nanos, policy).unwrap();
    let h = Chunk::peek(&bytes).unwrap();
    prop_assert_eq!(h.count as usize, pts.len());
    prop_assert_eq!(h.total_len(), bytes.len());
    let (unit, back) = Chunk::decode(&bytes).unwrap();
    prop_assert_eq!(unit, TimeUnit::Nanos);
    prop_assert_eq!(back.len(), pts.len());
    for (a, b) in pts.iter().zip(&back) {
        prop_assert_eq!(a.0, b.0);
        prop_assert_eq!(a.1.to_bits(), b.1.to_bits());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn chunk_round_trip_all_policies(pts in points(2600)) {
        for policy in [Policy::Gorilla, Policy::Best, Policy::Alp, Policy::Auto] {
            check_chunk(&pts, policy)?;
        }
    }

    #[test]
    fn value_codecs_round_trip(vals in values(0..2100)) {
        let g = gorilla::encode_values(&vals);
        prop_assert!(same_bits(&gorilla::decode_values(&g, vals.len()).unwrap(), &vals));
        let b = best::encode_values(&vals);
        prop_assert!(same_bits(&best::decode_values(&b, vals.len()).unwrap(), &vals));
        let p = pack::encode_values(&vals);
        prop_assert!(same_bits(&pack::decode_values(&p, vals.len()).unwrap(), &vals));
        // Pack is never larger than Gorilla by more than its mode byte and length.
        // (An empty column: Pack still writes its mode byte and length.)
        prop_assert!(vals.is_empty() || p.len() <= g.len() + 4, "{} > {}", p.len(), g.len());
    }

    /// Long columns (several sample runs, strided bin samples) of every
    /// shape, at chunk scale: the value column and the Best chunk.
    #[test]
    fn pack_long_columns_round_trip(
        vals in values(9000..20000),
        policy in prop::sample::select(vec![Policy::Best, Policy::Auto]),
    ) {
        let p = pack::encode_values(&vals);
        prop_assert!(same_bits(&pack::decode_values(&p, vals.len()).unwrap(), &vals));
        let ts: Vec<i64> = (0..vals.len() as i64).map(|i| i * 1000 + (i * 7919 % 13)).collect();
        let c = Chunk::encode_columns(&ts, &vals, TimeUnit::Millis, policy).unwrap();
        let cols = Chunk::decode_columns(&c).unwrap();
        prop_assert_eq!(cols.timestamps, ts);
        prop_assert!(same_bits(&cols.values, &vals));
    }

    #[test]
    fn prometheus_round_trip_any_order(
        samples in prop::collection::vec((any::<i64>(), any_bits()), 0..400)
    ) {
        let bytes = prometheus::encode(&samples).unwrap();
        let back = prometheus::decode(&bytes).unwrap();
        prop_assert_eq!(back.len(), samples.len());
        for (a, b) in samples.iter().zip(&back) {
            prop_assert_eq!(a.0, b.0);
            prop_assert_eq!(a.1.to_bits(), b.1.to_bits());
        }
    }

    #[test]
    fn unsorted_timestamps_are_rejected(mut ts in prop::collection::vec(any::<i64>(), 2..50)) {
        ts.sort_unstable();
        ts.dedup();
        prop_assume!(ts.len() >= 2);
        ts.swap(0, 1);
        let vals = vec![1.0; ts.len()];
        let err = Chunk::encode_columns(&ts, &vals, TimeUnit::Millis, Policy::Best).unwrap_err();
        let is_unsorted = matches!(err, Error::UnsortedTimestamps { index: 1, .. });
        prop_assert!(is_unsorted);
    }
}

#[test]
fn limits_and_shapes() {
    let max = vec![(0i64, 0.5f64); Chunk::MAX_POINTS];
    for policy in [Policy::Gorilla, Policy::Best, Policy::Alp] {
        let bytes = Chunk::encode(&max, TimeUnit::Seconds, policy).unwrap();
        assert_eq!(Chunk::decode(&bytes).unwrap().1.len(), Chunk::MAX_POINTS);
    }
    let over = vec![(0i64, 0.5f64); Chunk::MAX_POINTS + 1];
    assert!(matches!(
        Chunk::encode(&over, TimeUnit::Seconds, Policy::Best),
        Err(Error::TooManyPoints {
            count: 65_537,
            max: 65_536
        })
    ));
    assert!(matches!(
        Chunk::encode_columns(&[1, 2], &[1.0], TimeUnit::Seconds, Policy::Best),
        Err(Error::ColumnLengthMismatch {
            timestamps: 2,
            values: 1
        })
    ));
    let over = vec![(0i64, 0.5f64); prometheus::MAX_SAMPLES + 1];
    assert!(matches!(
        prometheus::encode(&over),
        Err(Error::TooManyPoints { .. })
    ));
    // Empty chunks are valid.
    let empty = Chunk::encode(&[], TimeUnit::Micros, Policy::Auto).unwrap();
    assert_eq!(Chunk::decode(&empty).unwrap(), (TimeUnit::Micros, vec![]));
    assert!(!Chunk::peek(&empty).unwrap().overlaps(i64::MIN, i64::MAX));
}

#[test]
fn auto_picks_the_smaller_codec() {
    // Constant-ish values with random timestamps: Gorilla's XOR '0' bits win.
    let pts: Vec<(i64, f64)> = (0..200)
        .map(|i| (i * i * 7919 % 1_000_003 + i * 1_000_003, 1.0))
        .collect();
    let auto = Chunk::encode(&pts, TimeUnit::Millis, Policy::Auto).unwrap();
    let g = Chunk::encode(&pts, TimeUnit::Millis, Policy::Gorilla).unwrap();
    let b = Chunk::encode(&pts, TimeUnit::Millis, Policy::Best).unwrap();
    let a = Chunk::encode(&pts, TimeUnit::Millis, Policy::Alp).unwrap();
    assert_eq!(auto.len(), g.len().min(b.len()).min(a.len()));
    assert_eq!(Chunk::peek(&a).unwrap().codec, Codec::Best);
}

/// Policy::Best never writes a chunk larger than Gorilla's: on data where
/// XOR coding wins (a constant with rare changes and jittered timestamps),
/// it falls back to Gorilla (or Pack's Gorilla value mode).
#[test]
fn best_never_above_gorilla() {
    let shapes: Vec<Vec<(i64, f64)>> = vec![
        (0..3000)
            .map(|i| (i * 1000 + i % 3, if i % 500 == 0 { 2.0 } else { 1.0 }))
            .collect(),
        (0..3000)
            .map(|i| (i, f64::from_bits(0x4000_0000_0000_0000 + (i as u64 % 3))))
            .collect(),
        (0..50).map(|i| (i, 0.1 * i as f64)).collect(),
    ];
    for pts in shapes {
        let g = Chunk::encode(&pts, TimeUnit::Millis, Policy::Gorilla).unwrap();
        let b = Chunk::encode(&pts, TimeUnit::Millis, Policy::Best).unwrap();
        assert!(b.len() <= g.len(), "{} > {}", b.len(), g.len());
    }
}

/// A missed scrape in an otherwise regular series costs a timestamp exception,
/// not a wider slot for every point of its vector.
#[test]
fn one_timestamp_gap_stays_cheap() {
    let mut ts: Vec<i64> = (0..4096).map(|i| 1_700_000_000_000 + i * 15_000).collect();
    let regular_points: Vec<(i64, f64)> = ts.iter().map(|&t| (t, 1.0)).collect();
    for t in &mut ts[2000..] {
        *t += 300_000; // five minutes of missed scrapes
    }
    ts[3000..].iter_mut().for_each(|t| *t -= 7); // and a small clock step
    let gappy: Vec<(i64, f64)> = ts.iter().map(|&t| (t, 1.0)).collect();
    let regular = Chunk::encode(&regular_points, TimeUnit::Millis, Policy::Best).unwrap();
    let bytes = Chunk::encode(&gappy, TimeUnit::Millis, Policy::Best).unwrap();
    assert_eq!(Chunk::decode(&bytes).unwrap().1, gappy);
    // Two events, each a pair of delta-of-delta exceptions of a few bytes.
    assert!(
        bytes.len() <= regular.len() + 32,
        "{} bytes with two gaps vs {} regular",
        bytes.len(),
        regular.len()
    );
}
