use super::Rng;
use blocksmith_sketch::ddsketch::DdSketch;
use blocksmith_sketch::kll::{KllSketch, normalized_rank_error};
use proptest::prelude::*;

/// A named value generator.
type Draw = Box<dyn Fn(&mut Rng) -> f64>;

fn exact_rank(sorted: &[f64], v: f64) -> f64 {
    sorted.partition_point(|&x| x <= v) as f64 / sorted.len() as f64
}

#[test]
fn kll_rank_error_within_published_bound() {
    for k in [50u16, 200] {
        let bound = normalized_rank_error(k, false);
        let mut rng = Rng(0xBEEF + u64::from(k));
        let trials = 40;
        let mut failures = 0;
        let mut worst: f64 = 0.0;
        for trial in 0..trials {
            let n = 20_000 + trial * 997;
            let vals: Vec<f64> = (0..n)
                .map(|_| rng.normal() * 10.0 + rng.uniform())
                .collect();
            let mut s = KllSketch::<f64>::new(k).unwrap().with_seed(rng.next_u64());
            for &v in &vals {
                s.update(v);
            }
            let mut sorted = vals.clone();
            sorted.sort_by(f64::total_cmp);
            let mut max_err: f64 = 0.0;
            for i in 1..100 {
                let r = f64::from(i) / 100.0;
                let q = s.quantile(r).unwrap();
                max_err = max_err.max((exact_rank(&sorted, q) - r).abs());
            }
            worst = worst.max(max_err);
            if max_err > bound {
                failures += 1;
            }
        }
        // The bound holds with 99% confidence per query set.
        assert!(
            failures <= 2,
            "k={k}: {failures}/{trials} over {bound}, worst {worst}"
        );
    }
}

#[test]
fn kll_merge_keeps_the_bound_and_exact_extremes() {
    let mut rng = Rng(99);
    let mut parts: Vec<KllSketch<f64>> = (0..8)
        .map(|i| KllSketch::new(200).unwrap().with_seed(i))
        .collect();
    let mut all = Vec::new();
    for i in 0..80_000 {
        let v = rng.uniform() * 1e6;
        parts[i % 8].update(v);
        all.push(v);
    }
    let mut merged = KllSketch::<f64>::new(200).unwrap();
    for p in &parts {
        merged.merge(p).unwrap();
    }
    all.sort_by(f64::total_cmp);
    assert_eq!(merged.n(), 80_000);
    assert_eq!(merged.min(), Some(all[0]));
    assert_eq!(merged.max(), Some(all[all.len() - 1]));
    for r in [0.01, 0.25, 0.5, 0.75, 0.99] {
        let q = merged.quantile(r).unwrap();
        assert!(
            (exact_rank(&all, q) - r).abs() < merged.normalized_rank_error(false),
            "rank {r}"
        );
    }
    let back = KllSketch::<f64>::from_bytes(&merged.to_bytes()).unwrap();
    assert_eq!(back.quantile(0.5), merged.quantile(0.5));
    assert!(KllSketch::<f32>::from_bytes(&merged.to_bytes()).is_err() || merged.n() == 0);
}

#[test]
fn ddsketch_relative_error_never_above_alpha() {
    let mut rng = Rng(2024);
    for alpha in [0.005, 0.01, 0.05] {
        let dists: [(&str, Draw); 4] = [
            (
                "lognormal",
                Box::new(|r: &mut Rng| (r.normal() * 2.0).exp()),
            ),
            (
                "pareto",
                Box::new(|r: &mut Rng| (1.0 - r.uniform()).powf(-1.0 / 1.2)),
            ),
            (
                "uniform",
                Box::new(|r: &mut Rng| r.uniform() * 1000.0 + 1e-3),
            ),
            ("mixed-sign", Box::new(|r: &mut Rng| r.normal() * 100.0)),
        ];
        for (name, draw) in &dists {
            let vals: Vec<f64> = (0..50_000).map(|_| draw(&mut rng)).collect();
            let mut s = DdSketch::new(alpha).unwrap().with_max_bins(1 << 20);
            for &v in &vals {
                s.update(v);
            }
            let mut sorted = vals.clone();
            sorted.sort_by(f64::total_cmp);
            for i in 0..=1000 {
                let q = f64::from(i) / 1000.0;
                let truth = sorted[(q * (sorted.len() - 1) as f64).floor() as usize];
                let est = s.quantile(q).unwrap();
                let rel = (est - truth).abs() / truth.abs();
                assert!(
                    rel <= alpha * (1.0 + 1e-9),
                    "{name} alpha {alpha} q {q}: {est} vs {truth} ({rel})"
                );
            }
        }
    }
}

#[test]
fn ddsketch_merge_equals_single_sketch_and_collapses_in_budget() {
    let mut rng = Rng(5);
    let (mut a, mut b, mut all) = (
        DdSketch::new(0.01).unwrap(),
        DdSketch::new(0.01).unwrap(),
        DdSketch::new(0.01).unwrap(),
    );
    for i in 0..20_000 {
        let v = (rng.normal() * 3.0).exp();
        if i % 2 == 0 {
            a.update(v);
        } else {
            b.update(v);
        }
        all.update(v);
    }
    a.merge(&b).unwrap();
    for q in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0] {
        assert_eq!(a.quantile(q), all.quantile(q));
    }
    assert!(a.merge(&DdSketch::new(0.02).unwrap()).is_err());
    // A tiny budget collapses the lowest buckets: high quantiles keep the guarantee.
    let mut small = DdSketch::new(0.01).unwrap().with_max_bins(64);
    let mut vals = Vec::new();
    for i in 1..=100_000 {
        let v = f64::from(i) * 0.37;
        small.update(v);
        vals.push(v);
    }
    let p99 = small.quantile(0.99).unwrap();
    let truth = vals[(0.99 * 99_999.0) as usize];
    assert!((p99 - truth).abs() <= 0.01 * truth);
    assert!(
        DdSketch::from_bytes(&small.to_bytes())
            .unwrap()
            .quantile(0.99)
            .is_some()
    );
}

#[test]
fn ddsketch_hostile_protobuf_is_bounded() {
    // A sparse map claiming keys at both ends of i32 must not allocate 2^32 bins.
    let mut msg = vec![0x0a, 0x09, 0x09];
    msg.extend_from_slice(&1.02f64.to_le_bytes());
    let mut store = Vec::new();
    for key in [i32::MIN + 1, i32::MAX] {
        let mut entry = vec![0x08];
        let z = ((key << 1) ^ (key >> 31)) as u32;
        let mut v = u64::from(z);
        while v >= 0x80 {
            entry.push((v as u8) | 0x80);
            v >>= 7;
        }
        entry.push(v as u8);
        entry.push(0x11);
        entry.extend_from_slice(&1.0f64.to_le_bytes());
        store.push(0x0a);
        store.push(entry.len() as u8);
        store.extend_from_slice(&entry);
    }
    msg.push(0x12);
    msg.push(store.len() as u8);
    msg.extend_from_slice(&store);
    let s = DdSketch::from_bytes(&msg).unwrap();
    assert_eq!(s.count(), 2.0);
    assert!(s.to_bytes().len() < 64 * 1024);
    assert!(DdSketch::from_bytes(&[0x0a, 0xff]).is_err());
    assert!(DdSketch::from_bytes(&[]).is_err());
}

/// Issue 29 item 13: a server's sketch through bytes, merged with a live
/// one, reported a sum of 0 and a max below `quantile(1.0)`.
#[test]
fn ddsketch_decoded_and_merged_reports_no_wrong_summary() {
    let mut server = DdSketch::new(0.01).unwrap();
    for i in 1_000..=5_000 {
        server.update(f64::from(i) * 1.1);
    }
    let known = server.sum().unwrap();
    let decoded = DdSketch::from_bytes(&server.to_bytes()).unwrap();
    assert_eq!(
        (decoded.sum(), decoded.min(), decoded.max()),
        (None, None, None)
    );
    let mut live = DdSketch::new(0.01).unwrap();
    for i in 1..=1_000 {
        live.update(f64::from(i));
    }
    assert_eq!(live.sum(), Some(500_500.0));
    let mut merged = live.clone();
    merged.merge(&decoded).unwrap();
    assert_eq!(
        (merged.sum(), merged.min(), merged.max()),
        (None, None, None)
    );
    let top = merged.quantile(1.0).unwrap();
    assert!((top - 5_500.0).abs() <= 0.01 * 5_500.0, "{top}");
    // Live with live keeps an exact summary.
    let mut both = live.clone();
    both.merge(&server).unwrap();
    assert_eq!(both.sum(), Some(500_500.0 + known));
    assert_eq!((both.min(), both.max()), (Some(1.0), Some(5_500.0)));
    // Owners that store the summary beside the bytes restore it; nonsense is refused.
    let mut restored = DdSketch::from_bytes(&server.to_bytes()).unwrap();
    assert!(restored.restore_summary(known, 1_200.0, 1_100.0).is_err());
    assert!(
        restored
            .restore_summary(f64::NAN, 1_100.0, 5_500.0)
            .is_err()
    );
    assert!(!restored.has_summary());
    restored
        .restore_summary(known, server.min().unwrap(), server.max().unwrap())
        .unwrap();
    assert_eq!(restored, server);
    assert!(
        DdSketch::new(0.01)
            .unwrap()
            .restore_summary(0.0, 0.0, 0.0)
            .is_err()
    );
}

proptest! {
    #[test]
    fn kll_round_trip(vals in proptest::collection::vec(-1e9f64..1e9, 0..2000), k in 8u16..300) {
        let mut s = KllSketch::<f64>::new(k).unwrap();
        let mut f = KllSketch::<f32>::new(k).unwrap();
        for &v in &vals {
            s.update(v);
            f.update(v as f32);
        }
        let back = KllSketch::<f64>::from_bytes(&s.to_bytes()).unwrap();
        prop_assert_eq!(back.to_bytes(), s.to_bytes());
        prop_assert_eq!(back.quantile(0.3), s.quantile(0.3));
        let backf = KllSketch::<f32>::from_bytes(&f.to_bytes()).unwrap();
        prop_assert_eq!(backf.to_bytes(), f.to_bytes());
    }

    #[test]
    fn ddsketch_round_trip(vals in proptest::collection::vec(-1e12f64..1e12, 0..2000)) {
        let mut s = DdSketch::new(0.02).unwrap();
        for &v in &vals {
            s.update(v);
        }
        let back = DdSketch::from_bytes(&s.to_bytes()).unwrap();
        for q in [0.0, 0.25, 0.5, 0.99, 1.0] {
            prop_assert_eq!(back.quantile(q), s.quantile(q));
        }
        prop_assert_eq!(back.count(), s.count());
    }

    /// Sum, min and max are exact while known and `None` once any value
    /// came through bytes: never wrong, whatever is decoded and merged.
    #[test]
    fn ddsketch_summary_is_exact_or_unknown(
        parts in proptest::collection::vec(
            (proptest::collection::vec(-1_000_000i32..1_000_000, 0..200), any::<bool>()),
            1..6,
        ),
    ) {
        // Integers: every sum is exact in f64, whatever the merge order.
        let mut total = 0i64;
        let (mut lo, mut hi) = (i32::MAX, i32::MIN);
        let mut through_bytes = false;
        let mut sketches = Vec::new();
        for (vals, encode) in &parts {
            let mut s = DdSketch::new(0.01).unwrap();
            for &v in vals {
                s.update(f64::from(v));
                total += i64::from(v);
                lo = lo.min(v);
                hi = hi.max(v);
            }
            prop_assert_eq!(s.sum(), Some(vals.iter().map(|&v| f64::from(v)).sum::<f64>()));
            if *encode {
                s = DdSketch::from_bytes(&s.to_bytes()).unwrap();
                through_bytes |= !vals.is_empty();
                prop_assert_eq!(s.has_summary(), vals.is_empty());
            }
            sketches.push(s);
        }
        let mut merged = sketches[0].clone();
        for s in &sketches[1..] {
            merged.merge(s).unwrap();
        }
        // Merging into a decoded sketch or a live one gives the same answer.
        let mut reversed = sketches[sketches.len() - 1].clone();
        for s in sketches[..sketches.len() - 1].iter().rev() {
            reversed.merge(s).unwrap();
        }
        let empty = lo > hi;
        for m in [&merged, &reversed] {
            if through_bytes {
                prop_assert_eq!((m.sum(), m.min(), m.max()), (None, None, None));
                prop_assert!(!m.has_summary());
            } else if empty {
                prop_assert_eq!((m.sum(), m.min(), m.max()), (Some(0.0), None, None));
            } else {
                prop_assert_eq!(m.sum(), Some(total as f64));
                prop_assert_eq!(m.min(), Some(f64::from(lo)));
                prop_assert_eq!(m.max(), Some(f64::from(hi)));
            }
            // And bytes of the merge never bring a summary back.
            let again = DdSketch::from_bytes(&m.to_bytes()).unwrap();
            prop_assert_eq!(again.sum().is_some(), empty);
            prop_assert_eq!(again.count(), m.count());
        }
    }

    #[test]
    fn hostile_quantile_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = KllSketch::<f64>::from_bytes(&bytes);
        let _ = KllSketch::<f32>::from_bytes(&bytes);
        let mut framed = vec![5u8, 1, 15, 0, 200, 0, 8, 0];
        framed.extend_from_slice(&bytes);
        let _ = KllSketch::<f64>::from_bytes(&framed);
        let _ = DdSketch::from_bytes(&bytes);
    }
}

/// Found by the `sketch_kll` fuzz target: a full-form sketch with n = 0 and the "level zero
/// sorted" flag serialized as an empty sketch that kept the flag, and that read back without
/// it: serialize was not a fixed point. The compact forms never carry the flag (as
/// DataSketches writes them).
#[test]
fn kll_compact_forms_never_carry_the_sorted_flag() {
    let mut full = vec![5u8, 1, 15, 0x0a, 200, 0, 8, 0];
    full.extend_from_slice(&0u64.to_le_bytes()); // n
    full.extend_from_slice(&[100, 0, 1, 0]); // min_k, levels, unused
    full.extend_from_slice(&200u32.to_le_bytes()); // level 0 offset = capacity: no items
    full.extend_from_slice(&1.0f64.to_le_bytes()); // min
    full.extend_from_slice(&2.0f64.to_le_bytes()); // max
    let s = KllSketch::<f64>::from_bytes(&full).unwrap();
    let bytes = s.to_bytes();
    assert_eq!(bytes[3], 1, "empty flag only");
    let again = KllSketch::<f64>::from_bytes(&bytes).unwrap();
    assert_eq!(again.to_bytes(), bytes);
}
