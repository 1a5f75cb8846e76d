use super::Rng;
use blocksmith_sketch::theta::{self, CompactTheta, UpdateTheta};
use proptest::prelude::*;

#[test]
fn set_operations_estimate_within_three_standard_errors() {
    let mut rng = Rng(31);
    let lg_k = 12u8;
    let k = f64::from(1u32 << lg_k);
    let (mut bad_u, mut bad_i, mut bad_d) = (0, 0, 0);
    for _ in 0..20 {
        let base = rng.next_u64();
        let (mut a, mut b) = (
            UpdateTheta::new(lg_k).unwrap(),
            UpdateTheta::new(lg_k).unwrap(),
        );
        for i in 0..100_000u64 {
            a.update(&(base ^ i));
        }
        for i in 60_000..200_000u64 {
            b.update(&(base ^ i));
        }
        let (a, b) = (a.compact(), b.compact());
        let u = theta::union(&[a.clone(), b.clone()], lg_k).unwrap();
        let i = theta::intersection(&[a.clone(), b.clone()]);
        let d = theta::a_not_b(&a, &b);
        // RSE of a KMV estimate of n from a sample is about sqrt(1/retained).
        let within = |est: f64, truth: f64, retained: usize| {
            (est - truth).abs() <= 3.0 * truth / (retained.max(1) as f64).sqrt() + 1.0
        };
        bad_u += usize::from(!within(u.estimate(), 200_000.0, u.num_retained()));
        bad_i += usize::from(!within(i.estimate(), 40_000.0, i.num_retained()));
        bad_d += usize::from(!within(d.estimate(), 60_000.0, d.num_retained()));
        assert!(u.num_retained() as f64 <= k);
    }
    assert!(bad_u + bad_i + bad_d <= 1, "{bad_u} {bad_i} {bad_d}");
}

#[test]
fn exact_mode_is_exact_and_jaccard_works() {
    let (mut a, mut b) = (UpdateTheta::new(12).unwrap(), UpdateTheta::new(12).unwrap());
    for i in 0..1000u64 {
        a.update(&i);
    }
    for i in 500..1500u64 {
        b.update(&i);
    }
    let (a, b) = (a.compact(), b.compact());
    assert!(!a.is_estimation_mode());
    assert_eq!(
        theta::intersection(&[a.clone(), b.clone()]).estimate(),
        500.0
    );
    assert_eq!(
        theta::union(&[a.clone(), b.clone()], 12)
            .unwrap()
            .estimate(),
        1500.0
    );
    assert_eq!(theta::a_not_b(&a, &b).estimate(), 500.0);
    assert!((theta::jaccard(&a, &b, 12).unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert!(CompactTheta::empty().is_empty());
    assert_eq!(
        CompactTheta::from_bytes(&CompactTheta::empty().to_bytes()).unwrap(),
        CompactTheta::empty()
    );
}

#[test]
fn theta_rejects_other_seeds_and_bad_entries() {
    let mut a = UpdateTheta::new(9).unwrap();
    for i in 0..10_000u64 {
        a.update(&i);
    }
    let good = a.compact().to_bytes();
    let mut bad = good.clone();
    bad[6] ^= 1; // seed hash
    assert!(matches!(
        CompactTheta::from_bytes(&bad),
        Err(blocksmith_sketch::Error::Unsupported { .. })
    ));
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 8..].copy_from_slice(&u64::MAX.to_le_bytes()); // hash above theta
    assert!(CompactTheta::from_bytes(&bad).is_err());
    let mut bad = good.clone();
    bad[8..12].copy_from_slice(&u32::MAX.to_le_bytes()); // count the input cannot hold
    assert!(CompactTheta::from_bytes(&bad).is_err());
}

proptest! {
    #[test]
    fn theta_round_trip(items in proptest::collection::vec(any::<u64>(), 0..3000), lg_k in 5u8..12) {
        let mut s = UpdateTheta::new(lg_k).unwrap();
        for i in &items {
            s.update(i);
        }
        let c = s.compact();
        let back = CompactTheta::from_bytes(&c.to_bytes()).unwrap();
        prop_assert_eq!(&back, &c);
        prop_assert_eq!(back.estimate(), c.estimate());
    }

    #[test]
    fn hostile_theta_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = CompactTheta::from_bytes(&bytes);
        let mut framed = vec![3u8, 3, 3, 0, 0, 26, 0xcc, 0x93];
        framed.extend_from_slice(&bytes);
        let _ = CompactTheta::from_bytes(&framed);
    }
}
