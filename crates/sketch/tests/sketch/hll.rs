use super::Rng;
use blocksmith_sketch::Error;
use blocksmith_sketch::hll::{HllMode, HllSketch, HllType};
use proptest::prelude::*;

const TYPES: [HllType; 3] = [HllType::Hll4, HllType::Hll6, HllType::Hll8];

#[test]
fn relative_error_within_three_standard_errors_over_many_trials() {
    // 1.04/sqrt(k) is the standard error of plain HLL; HIP is tighter.
    for lg_k in [8u8, 10, 12] {
        let k = f64::from(1u32 << lg_k);
        let se = 1.04 / k.sqrt();
        let mut rng = Rng(0x00C0_FFEE ^ u64::from(lg_k));
        let trials = 60;
        let n = 50_000u64;
        let (mut outside, mut sum_sq) = (0, 0.0);
        for _ in 0..trials {
            let mut s = HllSketch::new(lg_k, HllType::Hll4).unwrap();
            let base = rng.next_u64();
            for i in 0..n {
                s.update_u64(base.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)));
            }
            let rel = s.estimate() / n as f64 - 1.0;
            sum_sq += rel * rel;
            if rel.abs() > 3.0 * se {
                outside += 1;
            }
        }
        let rmse = (sum_sq / f64::from(trials)).sqrt();
        assert!(
            outside <= 1,
            "lg_k {lg_k}: {outside} of {trials} trials beyond 3 SE"
        );
        assert!(rmse < 1.2 * se, "lg_k {lg_k}: RMSE {rmse} vs SE {se}");
    }
}

#[test]
fn merged_sketches_estimate_the_union_within_bounds() {
    let mut rng = Rng(7);
    for t in TYPES {
        let mut outside = 0;
        for _ in 0..30 {
            let base = rng.next_u64();
            let mut a = HllSketch::new(12, t).unwrap();
            let mut b = HllSketch::new(11, t).unwrap();
            for i in 0..40_000u64 {
                a.update_u64(base ^ i);
            }
            for i in 20_000..70_000u64 {
                b.update_u64(base ^ i);
            }
            a.merge(&b).unwrap();
            assert_eq!(a.lg_k(), 11, "merges at the smaller lg_k");
            let se = 1.04 / f64::from(1u32 << 11).sqrt();
            if (a.estimate() / 70_000.0 - 1.0).abs() > 3.0 * se {
                outside += 1;
            }
            // A merged sketch survives its own bytes.
            let back = HllSketch::from_bytes(&a.to_bytes()).unwrap();
            assert_eq!(back.estimate(), a.estimate());
        }
        assert!(outside <= 1, "{t:?}: {outside} merges beyond 3 SE");
    }
}

#[test]
fn small_cardinalities_are_nearly_exact_and_modes_progress() {
    let mut s = HllSketch::new(14, HllType::Hll8).unwrap();
    assert!(s.is_empty());
    assert_eq!(s.estimate(), 0.0);
    for i in 0..1000u64 {
        s.update(&i);
        s.update(&i); // duplicates change nothing
    }
    assert_eq!(s.mode(), HllMode::Set);
    assert!((s.estimate() - 1000.0).abs() < 0.5);
    // Item types hash canonically: i32 7 and u64 7 are the same item; "" is ignored.
    let mut t = HllSketch::new(10, HllType::Hll4).unwrap();
    t.update(&7i32);
    t.update(&7u64);
    t.update("");
    t.update(&-0.0f64);
    t.update(&0.0f64);
    assert!((t.estimate() - 2.0).abs() < 1e-6);
    assert!(matches!(
        HllSketch::new(3, HllType::Hll4),
        Err(Error::InvalidArgument(_))
    ));
}

#[test]
fn hll4_exceptions_round_trip() {
    // Registers still at 0 keep cur_min at 0; items whose hash has 14+
    // leading zeros set registers to 15+, which go to the exception table.
    let mut s = HllSketch::new(10, HllType::Hll4).unwrap();
    for i in 0..3000u64 {
        s.update_u64(i);
    }
    let mut found = 0;
    for i in 1_000_000u64.. {
        let (_, h2) =
            blocksmith_sketch::hash::murmur3_u64(i, blocksmith_sketch::hash::DEFAULT_SEED);
        if h2.leading_zeros() >= 14 {
            s.update_u64(i);
            found += 1;
            if found == 3 {
                break;
            }
        }
    }
    let bytes = s.to_bytes();
    assert!(bytes.len() > 40 + 512, "exceptions present");
    for t in TYPES {
        let mut c = HllSketch::from_bytes(&bytes).unwrap();
        assert_eq!(c.estimate(), s.estimate());
        c.set_target_type(t);
        assert_eq!(
            HllSketch::from_bytes(&c.to_bytes()).unwrap().estimate(),
            s.estimate()
        );
    }
}

#[test]
fn hostile_headers_are_typed_errors() {
    let mut s = HllSketch::new(12, HllType::Hll6).unwrap();
    for i in 0..10_000u64 {
        s.update_u64(i);
    }
    let good = s.to_bytes();
    for cut in [0, 1, 7, 8, 39, 40, good.len() - 1] {
        assert!(HllSketch::from_bytes(&good[..cut]).is_err(), "cut at {cut}");
    }
    let mut bad = good.clone();
    bad[2] = 3; // another family
    assert!(matches!(
        HllSketch::from_bytes(&bad),
        Err(Error::Unsupported { .. })
    ));
    let mut bad = good.clone();
    bad[3] = 30; // lg_k out of range
    assert!(matches!(
        HllSketch::from_bytes(&bad),
        Err(Error::Corrupt { .. })
    ));
    // A set claiming four billion coupons fails before allocating.
    let set = [3u8, 1, 7, 12, 5, 8, 0, 1 | (2 << 2), 0xff, 0xff, 0xff, 0xff];
    assert!(HllSketch::from_bytes(&set).is_err());
}

proptest! {
    #[test]
    fn round_trip_any_stream(items in proptest::collection::vec(any::<u64>(), 0..3000), lg_k in 4u8..=14, t in 0usize..3) {
        let mut s = HllSketch::new(lg_k, TYPES[t]).unwrap();
        for i in &items {
            s.update(i);
        }
        let back = HllSketch::from_bytes(&s.to_bytes()).unwrap();
        prop_assert_eq!(back.estimate(), s.estimate());
        prop_assert_eq!(back.to_bytes(), s.to_bytes());
    }

    #[test]
    fn hostile_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = HllSketch::from_bytes(&bytes);
        // Also with a plausible header in front.
        let mut framed = vec![10u8, 1, 7, 4, 0, 8, 0, 2];
        framed.extend_from_slice(&bytes);
        let _ = HllSketch::from_bytes(&framed);
        framed[7] = 2 << 2 | 2;
        let _ = HllSketch::from_bytes(&framed);
    }
}

/// Found by the `sketch_hll` fuzz target: an out-of-order HLL sketch whose registers are all
/// saturated estimated infinity (Ertl's estimator divides by zero there).
#[test]
fn saturated_registers_estimate_a_finite_count() {
    let hex = "0a01070416161616162816161616161616161616161616161616fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe02ffff00000000fff9ffffffffff0000051616161616";
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let s = HllSketch::from_bytes(&bytes).unwrap();
    let e = s.estimate();
    assert!(e.is_finite() && e >= 0.0, "{e}");
    for t in [HllType::Hll4, HllType::Hll6, HllType::Hll8] {
        let mut copy = s.clone();
        copy.set_target_type(t);
        let again = HllSketch::from_bytes(&copy.to_bytes()).unwrap();
        assert_eq!(again.estimate().to_bits(), e.to_bits(), "{t:?}");
    }
}
