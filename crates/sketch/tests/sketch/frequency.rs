use super::Rng;
use blocksmith_sketch::bloom::{BloomFilter, ExactSet};
use blocksmith_sketch::frequency::{CountMin, ErrorType, SpaceSaving};
use proptest::prelude::*;
use std::collections::HashMap;

/// A Zipf-like stream of page names.
fn zipf_stream(rng: &mut Rng, n: usize, pages: u64) -> Vec<String> {
    (0..n)
        .map(|_| {
            let u = rng.uniform();
            let rank = ((pages as f64).powf(u) - 1.0) as u64; // log-uniform ranks
            format!("/page/{rank}")
        })
        .collect()
}

#[test]
fn count_min_never_underestimates_and_meets_its_bound() {
    let mut rng = Rng(17);
    let stream = zipf_stream(&mut rng, 200_000, 50_000);
    let mut truth: HashMap<&str, u64> = HashMap::new();
    let mut cm = CountMin::with_error(0.001, 0.01).unwrap();
    for s in &stream {
        *truth.entry(s).or_default() += 1;
        cm.update(s.as_str(), 1);
    }
    let bound = 0.001 * stream.len() as f64;
    let mut over = 0;
    for (item, &c) in &truth {
        let est = cm.estimate(*item);
        assert!(est >= c);
        if (est - c) as f64 > bound {
            over += 1;
        }
    }
    // With delta = 1%, at most ~1% of items may exceed the bound.
    assert!(
        f64::from(over) <= 0.01 * truth.len() as f64,
        "{over} of {}",
        truth.len()
    );
    let back = CountMin::from_bytes(&cm.to_bytes()).unwrap();
    assert_eq!(back, cm);
    let mut twice = cm.clone();
    twice.merge(&cm).unwrap();
    assert_eq!(twice.estimate("/page/0"), 2 * cm.estimate("/page/0"));
}

#[test]
fn space_saving_guarantees_and_error_modes() {
    let mut rng = Rng(23);
    let stream = zipf_stream(&mut rng, 100_000, 20_000);
    let mut truth: HashMap<String, u64> = HashMap::new();
    let mut ss = SpaceSaving::new(200).unwrap();
    for s in &stream {
        *truth.entry(s.clone()).or_default() += 1;
        ss.update(s, 1);
    }
    let n = stream.len() as u64;
    let eps = n / 200;
    for (item, &c) in &truth {
        let r = ss.bounds(item);
        assert!(
            r.lower <= c && c <= r.upper.max(r.lower),
            "{item}: {c} not in [{}, {}]",
            r.lower,
            r.upper
        );
        if c > eps {
            assert!(r.upper >= c, "heavy hitter {item} ({c}) must be tracked");
        }
    }
    let threshold = n / 100;
    let heavy: Vec<&String> = truth
        .iter()
        .filter(|(_, c)| **c > threshold)
        .map(|(k, _)| k)
        .collect();
    let nfp = ss.frequent_items(threshold, ErrorType::NoFalsePositives);
    let nfn = ss.frequent_items(threshold, ErrorType::NoFalseNegatives);
    for r in &nfp {
        assert!(truth[&r.item] > threshold, "false positive {}", r.item);
    }
    for h in &heavy {
        assert!(nfn.iter().any(|r| &r.item == *h), "false negative {h}");
    }
    assert!(nfp.len() <= heavy.len() && heavy.len() <= nfn.len());
    assert_eq!(ss.top_k(1)[0].item, "/page/0");
    assert_eq!(SpaceSaving::from_bytes(&ss.to_bytes()).unwrap(), ss);
}

#[test]
fn space_saving_merge_keeps_heavy_hitters() {
    let mut rng = Rng(29);
    let stream = zipf_stream(&mut rng, 60_000, 10_000);
    let (mut a, mut b) = (
        SpaceSaving::new(100).unwrap(),
        SpaceSaving::new(100).unwrap(),
    );
    let mut truth: HashMap<String, u64> = HashMap::new();
    for (i, s) in stream.iter().enumerate() {
        *truth.entry(s.clone()).or_default() += 1;
        if i % 2 == 0 {
            a.update(s, 1);
        } else {
            b.update(s, 1);
        }
    }
    a.merge(&b).unwrap();
    assert_eq!(a.total(), 60_000);
    for (item, &c) in &truth {
        let r = a.bounds(item);
        assert!(r.lower <= c, "{item}: lower {} above {c}", r.lower);
        if c > 2 * 60_000 / 100 {
            assert!(r.upper >= c, "{item} lost in the merge");
        }
    }
}

#[test]
fn bloom_filter_has_no_false_negatives_and_its_rate() {
    let mut f = BloomFilter::with_rate(50_000, 0.01).unwrap();
    for i in 0..50_000u64 {
        f.insert(&i);
    }
    assert!((0..50_000u64).all(|i| f.contains(&i)));
    let fp = (1_000_000..1_100_000u64).filter(|i| f.contains(i)).count();
    let rate = fp as f64 / 100_000.0;
    assert!(rate < 0.015, "false-positive rate {rate}");
    assert!((f.estimated_fpp() - 0.01).abs() < 0.005);
    let back = BloomFilter::from_bytes(&f.to_bytes()).unwrap();
    assert_eq!(back, f);
    let mut g = BloomFilter::with_rate(50_000, 0.01).unwrap();
    g.insert("other");
    g.merge(&f).unwrap();
    assert!(g.contains("other") && g.contains(&7u64));
}

#[test]
fn exact_sets_count_exactly() {
    let (mut a, mut b) = (ExactSet::new(), ExactSet::new());
    for i in 0..100_000u64 {
        a.insert(i * 3);
        b.insert(i * 5);
    }
    assert_eq!(a.len(), 100_000);
    assert_eq!(a.intersection(&b).len(), 20_000);
    assert_eq!(a.difference(&b).len(), 80_000);
    a.merge(&b).unwrap();
    assert_eq!(a.len(), 180_000);
    assert_eq!(ExactSet::from_bytes(&a.to_bytes()).unwrap(), a);
    assert!(ExactSet::from_bytes(&[0xff; 16]).is_err());
}

proptest! {
    #[test]
    fn frequency_round_trips(items in proptest::collection::vec("[a-z]{0,6}", 0..500)) {
        let mut cm = CountMin::new(4, 64).unwrap();
        let mut ss = SpaceSaving::new(16).unwrap();
        let mut bf = BloomFilter::new(1000, 5).unwrap();
        let mut ex = ExactSet::new();
        for (i, s) in items.iter().enumerate() {
            cm.update(s.as_str(), 1);
            ss.update(s, (i % 3 + 1) as u64);
            bf.insert(s.as_str());
            ex.insert(i as u64 * 7919);
        }
        prop_assert_eq!(CountMin::from_bytes(&cm.to_bytes()).unwrap(), cm);
        prop_assert_eq!(SpaceSaving::from_bytes(&ss.to_bytes()).unwrap(), ss);
        prop_assert_eq!(BloomFilter::from_bytes(&bf.to_bytes()).unwrap(), bf);
        prop_assert_eq!(ExactSet::from_bytes(&ex.to_bytes()).unwrap(), ex);
    }

    #[test]
    fn hostile_frequency_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = CountMin::from_bytes(&bytes);
        let _ = SpaceSaving::from_bytes(&bytes);
        let _ = BloomFilter::from_bytes(&bytes);
        let _ = ExactSet::from_bytes(&bytes);
        for magic in [&b"BSCM\x01"[..], b"BSSS\x01", b"BSBF\x01"] {
            let mut framed = magic.to_vec();
            framed.extend_from_slice(&bytes);
            let _ = CountMin::from_bytes(&framed);
            let _ = SpaceSaving::from_bytes(&framed);
            let _ = BloomFilter::from_bytes(&framed);
        }
    }
}
