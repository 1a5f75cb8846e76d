//! Cross-implementation compatibility: bytes written by Apache DataSketches
//! (Python) and DataDog's ddsketch are read with identical estimates, and the
//! bytes we write (committed under tests/fixtures/rust, verified by
//! scripts/sketch_fixtures.py) are still exactly what the code produces.

use blocksmith_sketch::ddsketch::DdSketch;
use blocksmith_sketch::hll::{HllSketch, HllType};
use blocksmith_sketch::kll::{Criteria, KllItem, KllSketch};
use blocksmith_sketch::theta::{self, CompactTheta, UpdateTheta};
use serde_json::{Value, json};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn py_manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(fixtures().join("py/manifest.json")).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn py_bytes(e: &Value) -> Vec<u8> {
    std::fs::read(fixtures().join("py").join(e["file"].as_str().unwrap())).unwrap()
}

fn hll_type(s: &str) -> HllType {
    match s {
        "hll4" => HllType::Hll4,
        "hll6" => HllType::Hll6,
        _ => HllType::Hll8,
    }
}

fn hll_of(lg_k: u8, t: HllType, kind: &str, n: u64, offset: u64) -> HllSketch {
    let mut sk = HllSketch::new(lg_k, t).unwrap();
    for i in offset..offset + n {
        if kind == "int" {
            sk.update(&i);
        } else {
            sk.update(&format!("item-{i}"));
        }
    }
    sk
}

#[test]
fn hll_reads_datasketches_bytes_with_identical_estimates() {
    let mut checked = 0;
    for e in py_manifest() {
        let fam = e["family"].as_str().unwrap();
        if fam != "hll" && fam != "hll_union" {
            continue;
        }
        let bytes = py_bytes(&e);
        let sk = HllSketch::from_bytes(&bytes).unwrap_or_else(|err| panic!("{}: {err}", e["file"]));
        let expected = e["estimate"].as_f64().unwrap();
        if fam == "hll" {
            assert_eq!(sk.estimate(), expected, "{}", e["file"]);
            // The same items sketched here give the same estimate as DataSketches.
            let lg_k = e["lg_k"].as_u64().unwrap() as u8;
            let t = hll_type(e["type"].as_str().unwrap());
            let ours = hll_of(
                lg_k,
                t,
                e["items"].as_str().unwrap(),
                e["n"].as_u64().unwrap(),
                0,
            );
            assert_eq!(ours.estimate(), expected, "rebuilt {}", e["file"]);
            // Register widths convert losslessly through our bytes.
            for t2 in [HllType::Hll4, HllType::Hll6, HllType::Hll8] {
                let mut copy = sk.clone();
                copy.set_target_type(t2);
                let back = HllSketch::from_bytes(&copy.to_bytes()).unwrap();
                assert_eq!(back.estimate(), expected, "{} as {t2:?}", e["file"]);
            }
        } else {
            let n = e["n"].as_f64().unwrap();
            assert!(
                (sk.estimate() - expected).abs() < 0.02 * n,
                "{}: {} vs {expected}",
                e["file"],
                sk.estimate()
            );
        }
        checked += 1;
    }
    assert!(checked > 100, "only {checked} HLL fixtures");
}

const RANKS: [f64; 9] = [0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0];

fn kll_summary<T: KllItem>(sk: &KllSketch<T>) -> Value {
    if sk.is_empty() {
        return json!({"n": 0, "num_retained": 0, "quantiles": [], "quantiles_inclusive": [], "ranks_inclusive": []});
    }
    let q = |c| -> Vec<f64> {
        RANKS
            .iter()
            .map(|&r| sk.quantile_with(r, c).unwrap().to_f64())
            .collect()
    };
    let ranks: Vec<f64> = RANKS
        .iter()
        .map(|&r| {
            sk.rank(sk.quantile_with(r, Criteria::Exclusive).unwrap())
                .unwrap()
        })
        .collect();
    json!({"n": sk.n(), "num_retained": sk.num_retained(), "min": sk.min().unwrap().to_f64(),
        "max": sk.max().unwrap().to_f64(), "quantiles": q(Criteria::Exclusive),
        "quantiles_inclusive": q(Criteria::Inclusive), "ranks_inclusive": ranks})
}

fn check_kll<T: KllItem>(e: &Value) {
    let sk = KllSketch::<T>::from_bytes(&py_bytes(e))
        .unwrap_or_else(|err| panic!("{}: {err}", e["file"]));
    let got = kll_summary(&sk);
    for key in [
        "n",
        "num_retained",
        "min",
        "max",
        "quantiles",
        "quantiles_inclusive",
        "ranks_inclusive",
    ] {
        assert_eq!(got.get(key), e.get(key), "{} {key}", e["file"]);
    }
    // Our bytes of their sketch read back identically.
    let back = KllSketch::<T>::from_bytes(&sk.to_bytes()).unwrap();
    assert_eq!(kll_summary(&back), got, "{} re-serialized", e["file"]);
}

#[test]
fn kll_reads_datasketches_bytes_with_identical_quantiles() {
    let mut checked = 0;
    for e in py_manifest().iter().filter(|e| e["family"] == "kll") {
        if e["type"] == "f64" {
            check_kll::<f64>(e);
        } else {
            check_kll::<f32>(e);
        }
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} KLL fixtures");
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    a == b || (a - b).abs() <= rel * a.abs().max(b.abs())
}

#[test]
fn ddsketch_reads_datadog_protobuf_with_identical_quantiles() {
    let mut checked = 0;
    for e in py_manifest().iter().filter(|e| e["family"] == "ddsketch") {
        let sk =
            DdSketch::from_bytes(&py_bytes(e)).unwrap_or_else(|err| panic!("{}: {err}", e["file"]));
        assert_eq!(sk.count(), e["count"].as_f64().unwrap());
        for (q, want) in RANKS.iter().zip(e["quantiles"].as_array().unwrap()) {
            let got = sk.quantile(*q).unwrap();
            assert!(
                close(got, want.as_f64().unwrap(), 1e-12),
                "{} q{q}: {got} vs {want}",
                e["file"]
            );
        }
        let back = DdSketch::from_bytes(&sk.to_bytes()).unwrap();
        assert_eq!(back, sk);
        checked += 1;
    }
    assert!(checked >= 4);
}

#[test]
fn theta_reads_datasketches_bytes_with_identical_estimates() {
    let mut checked = 0;
    for e in py_manifest().iter().filter(|e| e["family"] == "theta") {
        let sk = CompactTheta::from_bytes(&py_bytes(e))
            .unwrap_or_else(|err| panic!("{}: {err}", e["file"]));
        assert_eq!(
            sk.estimate(),
            e["estimate"].as_f64().unwrap(),
            "{}",
            e["file"]
        );
        assert_eq!(
            sk.num_retained() as u64,
            e["num_retained"].as_u64().unwrap()
        );
        assert_eq!(sk.theta64(), e["theta"].as_u64().unwrap());
        assert_eq!(CompactTheta::from_bytes(&sk.to_bytes()).unwrap(), sk);
        checked += 1;
    }
    assert!(checked >= 10);
}

fn kll_values(n: u64, seed: u64) -> Vec<f64> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            (u * 8.0).exp()
        })
        .collect()
}

/// The sketches whose bytes we commit for the Python side to verify.
fn rust_fixtures() -> Vec<(String, Vec<u8>, Value)> {
    let mut out = Vec::new();
    for lg_k in [4u8, 8, 12, 14] {
        for (tname, t) in [
            ("hll4", HllType::Hll4),
            ("hll6", HllType::Hll6),
            ("hll8", HllType::Hll8),
        ] {
            for n in [0u64, 5, 100, 1000, 30000] {
                for kind in ["int", "str"] {
                    let sk = hll_of(lg_k, t, kind, n, 0);
                    let name = format!("hll_{tname}_lg{lg_k}_{kind}_{n}.bin");
                    let meta = json!({"file": name, "family": "hll", "lg_k": lg_k, "type": tname,
                        "items": kind, "n": n, "estimate": sk.estimate()});
                    out.push((name, sk.to_bytes(), meta));
                }
            }
        }
    }
    for (tname, t) in [
        ("hll4", HllType::Hll4),
        ("hll6", HllType::Hll6),
        ("hll8", HllType::Hll8),
    ] {
        let mut a = hll_of(12, t, "int", 30000, 0);
        a.merge(&hll_of(12, t, "int", 30000, 20000)).unwrap();
        let name = format!("hll_union_{tname}_lg12.bin");
        let meta =
            json!({"file": name, "family": "hll_union", "n": 50000, "estimate": a.estimate()});
        out.push((name, a.to_bytes(), meta));
    }
    for k in [200u16, 50] {
        for n in [0u64, 1, 100, 5000, 100_000] {
            let vals = kll_values(n, 11 + n);
            let mut d = KllSketch::<f64>::new(k).unwrap();
            let mut f = KllSketch::<f32>::new(k).unwrap();
            for &v in &vals {
                d.update(v);
                f.update(v as f32);
            }
            let name = format!("kll_f64_k{k}_{n}.bin");
            let mut meta = json!({"file": name, "family": "kll", "type": "f64", "k": k});
            meta.as_object_mut()
                .unwrap()
                .extend(kll_summary(&d).as_object().unwrap().clone());
            out.push((name, d.to_bytes(), meta));
            let name = format!("kll_f32_k{k}_{n}.bin");
            let mut meta = json!({"file": name, "family": "kll", "type": "f32", "k": k});
            meta.as_object_mut()
                .unwrap()
                .extend(kll_summary(&f).as_object().unwrap().clone());
            out.push((name, f.to_bytes(), meta));
        }
    }
    for alpha in [0.01, 0.05] {
        let mut sk = DdSketch::new(alpha).unwrap();
        for v in kll_values(20_000, 5) {
            sk.update(v);
            sk.update(-v / 3.0);
        }
        sk.update(0.0);
        let name = format!("ddsketch_a{}.bin", (alpha * 100.0) as u32);
        let q: Vec<f64> = RANKS.iter().map(|&r| sk.quantile(r).unwrap()).collect();
        let meta = json!({"file": name, "family": "ddsketch", "count": sk.count(), "quantiles": q});
        out.push((name, sk.to_bytes(), meta));
    }
    let theta_of = |lo: u64, hi: u64| {
        let mut t = UpdateTheta::new(12).unwrap();
        for i in lo..hi {
            t.update(&i);
        }
        t.compact()
    };
    for n in [0u64, 1, 100, 3000, 100_000] {
        let sk = theta_of(0, n);
        let name = format!("theta_lg12_{n}.bin");
        let meta = json!({"file": name, "family": "theta", "estimate": sk.estimate(), "num_retained": sk.num_retained()});
        out.push((name, sk.to_bytes(), meta));
    }
    let (a, b) = (theta_of(0, 60_000), theta_of(30_000, 90_000));
    for (op, sk) in [
        ("union", theta::union(&[a.clone(), b.clone()], 12).unwrap()),
        ("intersection", theta::intersection(&[a.clone(), b.clone()])),
        ("anotb", theta::a_not_b(&a, &b)),
    ] {
        let name = format!("theta_setop_{op}.bin");
        let meta = json!({"file": name, "family": "theta", "estimate": sk.estimate(), "num_retained": sk.num_retained()});
        out.push((name, sk.to_bytes(), meta));
    }
    out
}

#[test]
fn committed_rust_fixtures_are_what_the_code_writes() {
    let dir = fixtures().join("rust");
    let all = rust_fixtures();
    if std::env::var_os("SKETCH_WRITE_FIXTURES").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes, _) in &all {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        let manifest: Vec<&Value> = all.iter().map(|f| &f.2).collect();
        std::fs::write(
            dir.join("manifest.json"),
            serde_json::to_string_pretty(&manifest).unwrap(),
        )
        .unwrap();
    }
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest.as_array().unwrap().len(), all.len());
    for (name, bytes, meta) in &all {
        let committed = std::fs::read(dir.join(name)).unwrap();
        assert!(
            committed == *bytes,
            "{name} differs from the committed fixture"
        );
        let m = manifest
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["file"] == meta["file"])
            .unwrap();
        assert_eq!(m, meta);
    }
}
