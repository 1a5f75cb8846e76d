//! Update throughput and merge cost of blocksmith-sketch against Apache
//! DataSketches' Rust port (the `datasketches` crate) in the same run, for
//! every sketch both have: HLL, KLL, Theta, Count-Min, Bloom filter and
//! frequent items. DDSketch has no peer there and is measured alone.
//!
//! ```text
//! cargo bench --bench sketch
//! ```

use blocksmith::sketch::bloom::BloomFilter;
use blocksmith::sketch::ddsketch::DdSketch;
use blocksmith::sketch::frequency::{CountMin, SpaceSaving};
use blocksmith::sketch::hll::{HllSketch, HllType};
use blocksmith::sketch::kll::KllSketch;
use blocksmith::sketch::theta::{self, UpdateTheta};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use datasketches::kll::KllFloat;
use std::hint::black_box;
use std::time::Duration;

const N: u64 = 1 << 20;

fn values(n: usize) -> Vec<f64> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 11) as f64 / (1u64 << 53) as f64 * 10.0).exp()
        })
        .collect()
}

fn pages(n: usize) -> Vec<String> {
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            format!("/page/{}", (50_000f64.powf(u) - 1.0) as u64)
        })
        .collect()
}

fn hll(c: &mut Criterion) {
    let mut g = c.benchmark_group("hll_update_u64");
    g.throughput(Throughput::Elements(N));
    g.bench_function("blocksmith/update_u64", |b| {
        b.iter(|| {
            let mut s = HllSketch::new(12, HllType::Hll8).unwrap();
            for i in 0..N {
                s.update_u64(i);
            }
            black_box(s.estimate())
        });
    });
    g.bench_function("blocksmith/update", |b| {
        b.iter(|| {
            let mut s = HllSketch::new(12, HllType::Hll8).unwrap();
            for i in 0..N {
                s.update(&i);
            }
            black_box(s.estimate())
        });
    });
    g.bench_function("datasketches", |b| {
        b.iter(|| {
            let mut s =
                datasketches::hll::HllSketch::new(12, datasketches::hll::HllType::Hll8).unwrap();
            for i in 0..N {
                s.update(i);
            }
            black_box(s.estimate())
        });
    });
    g.finish();

    let mut g = c.benchmark_group("hll_merge");
    let (mut a, mut b2) = (
        HllSketch::new(12, HllType::Hll8).unwrap(),
        HllSketch::new(12, HllType::Hll8).unwrap(),
    );
    let mut da = datasketches::hll::HllSketch::new(12, datasketches::hll::HllType::Hll8).unwrap();
    let mut db = datasketches::hll::HllSketch::new(12, datasketches::hll::HllType::Hll8).unwrap();
    for i in 0..N {
        a.update_u64(i);
        b2.update_u64(i + N / 2);
        da.update(i);
        db.update(i + N / 2);
    }
    g.bench_function("blocksmith", |b| {
        b.iter(|| {
            let mut u = a.clone();
            u.merge(&b2).unwrap();
            black_box(u.estimate())
        });
    });
    g.bench_function("datasketches", |b| {
        b.iter(|| {
            let mut u = datasketches::hll::HllUnion::new(12).unwrap();
            u.update(&da);
            u.update(&db);
            black_box(u.estimate())
        });
    });
    g.finish();
}

fn kll(c: &mut Criterion) {
    let vals = values(N as usize);
    let mut g = c.benchmark_group("kll_update_f64");
    g.throughput(Throughput::Elements(N));
    g.bench_function("blocksmith", |b| {
        b.iter(|| {
            let mut s = KllSketch::<f64>::new(200).unwrap();
            for &v in &vals {
                s.update(v);
            }
            black_box(s.num_retained())
        });
    });
    g.bench_function("datasketches", |b| {
        b.iter(|| {
            let mut s = datasketches::kll::KllSketch::<KllFloat<f64>>::new(200).unwrap();
            for &v in &vals {
                s.update(KllFloat::<f64>::new(v).unwrap());
            }
            black_box(s.num_retained())
        });
    });
    g.finish();

    let parts: Vec<KllSketch<f64>> = vals
        .chunks(N as usize / 8)
        .map(|c| {
            let mut s = KllSketch::new(200).unwrap();
            for &v in c {
                s.update(v);
            }
            s
        })
        .collect();
    let dparts: Vec<datasketches::kll::KllSketch<KllFloat<f64>>> = vals
        .chunks(N as usize / 8)
        .map(|c| {
            let mut s = datasketches::kll::KllSketch::new(200).unwrap();
            for &v in c {
                s.update(KllFloat::<f64>::new(v).unwrap());
            }
            s
        })
        .collect();
    let mut g = c.benchmark_group("kll_merge_8");
    g.bench_function("blocksmith", |b| {
        b.iter(|| {
            let mut m = KllSketch::<f64>::new(200).unwrap();
            for p in &parts {
                m.merge(p).unwrap();
            }
            black_box(m.n())
        });
    });
    g.bench_function("datasketches", |b| {
        b.iter(|| {
            let mut m = datasketches::kll::KllSketch::<KllFloat<f64>>::new(200).unwrap();
            for p in &dparts {
                m.merge(p).unwrap();
            }
            black_box(m.n())
        });
    });
    g.finish();
}

fn theta_sketches(c: &mut Criterion) {
    let mut g = c.benchmark_group("theta_update_u64");
    g.throughput(Throughput::Elements(N));
    g.bench_function("blocksmith", |b| {
        b.iter(|| {
            let mut s = UpdateTheta::new(12).unwrap();
            for i in 0..N {
                s.update(&i);
            }
            black_box(s.estimate())
        });
    });
    g.bench_function("datasketches", |b| {
        b.iter(|| {
            let mut s = datasketches::theta::ThetaSketchBuilder::default()
                .lg_k(12)
                .build()
                .unwrap();
            for i in 0..N {
                s.update(i);
            }
            black_box(s.estimate())
        });
    });
    g.finish();

    let (mut a, mut b2) = (UpdateTheta::new(12).unwrap(), UpdateTheta::new(12).unwrap());
    let mut da = datasketches::theta::ThetaSketchBuilder::default()
        .lg_k(12)
        .build()
        .unwrap();
    let mut db = datasketches::theta::ThetaSketchBuilder::default()
        .lg_k(12)
        .build()
        .unwrap();
    for i in 0..N {
        a.update(&i);
        b2.update(&(i + N / 2));
        da.update(i);
        db.update(i + N / 2);
    }
    let (ca, cb) = (a.compact(), b2.compact());
    let (dca, dcb) = (da.compact(true), db.compact(true));
    let mut g = c.benchmark_group("theta_union");
    g.bench_function("blocksmith", |b| {
        b.iter(|| {
            black_box(
                theta::union(&[ca.clone(), cb.clone()], 12)
                    .unwrap()
                    .estimate(),
            )
        });
    });
    g.bench_function("datasketches", |b| {
        b.iter(|| {
            let mut u = datasketches::theta::ThetaUnionBuilder::default()
                .lg_k(12)
                .build()
                .unwrap();
            u.update(&dca).unwrap();
            u.update(&dcb).unwrap();
            black_box(u.to_sketch(true).estimate())
        });
    });
    g.finish();
}

fn frequency(c: &mut Criterion) {
    let mut g = c.benchmark_group("countmin_update_u64");
    g.throughput(Throughput::Elements(N));
    g.bench_function("blocksmith", |b| {
        b.iter_batched(
            || CountMin::new(5, 2719).unwrap(),
            |mut s| {
                for i in 0..N {
                    s.update(&(i & 0xffff), 1);
                }
                black_box(s.estimate(&7u64))
            },
            BatchSize::LargeInput,
        );
    });
    g.bench_function("datasketches", |b| {
        b.iter_batched(
            || datasketches::countmin::CountMinSketch::<u64>::new(5, 2719).unwrap(),
            |mut s| {
                for i in 0..N {
                    s.update(i & 0xffff);
                }
                black_box(s.estimate(7u64))
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();

    let mut g = c.benchmark_group("bloom_insert_u64");
    g.throughput(Throughput::Elements(N));
    g.bench_function("blocksmith", |b| {
        b.iter_batched(
            || BloomFilter::with_rate(N, 0.01).unwrap(),
            |mut f| {
                for i in 0..N {
                    f.insert(&i);
                }
                black_box(f.contains(&3u64))
            },
            BatchSize::LargeInput,
        );
    });
    g.bench_function("datasketches", |b| {
        b.iter_batched(
            || {
                datasketches::bloom::BloomFilterBuilder::with_accuracy(N, 0.01)
                    .build()
                    .unwrap()
            },
            |mut f| {
                for i in 0..N {
                    f.insert(i);
                }
                black_box(f.contains(&3u64))
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();

    let items = pages(200_000);
    let mut g = c.benchmark_group("topk_update_str");
    g.throughput(Throughput::Elements(items.len() as u64));
    g.bench_function("blocksmith", |b| {
        b.iter(|| {
            let mut s = SpaceSaving::new(1024).unwrap();
            for p in &items {
                s.update(p, 1);
            }
            black_box(s.top_k(10).len())
        });
    });
    g.bench_function("datasketches", |b| {
        b.iter(|| {
            let mut s =
                datasketches::frequencies::FrequentItemsSketch::<String>::new(1024).unwrap();
            for p in &items {
                s.update_ref(p.as_str());
            }
            black_box(s.estimate("/page/0"))
        });
    });
    g.finish();
}

fn ddsketch(c: &mut Criterion) {
    let vals = values(N as usize);
    let mut g = c.benchmark_group("ddsketch_add_f64");
    g.throughput(Throughput::Elements(N));
    g.bench_function("blocksmith", |b| {
        b.iter(|| {
            let mut s = DdSketch::new(0.01).unwrap();
            for &v in &vals {
                s.update(v);
            }
            black_box(s.quantile(0.99))
        });
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = hll, kll, theta_sketches, frequency, ddsketch
}
criterion_main!(benches);
