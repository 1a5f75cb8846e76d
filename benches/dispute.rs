//! Payment disputes: webhook events ingested per second on `MemoryStore`
//! and `RedbStore` against the floor of one raw put of the dispute's
//! record per event, and the response queue ("the 100 disputes due
//! first") over many open disputes, from the due-date index against a
//! scan of every dispute, in the same run.
//!
//! ```text
//! cargo bench --bench dispute
//! BLOCKSMITH_DISPUTES=100000 cargo bench --bench dispute -- due   # a smaller set
//! ```

use blocksmith::dispute::{
    DisputeOptions, Disputes, EventKind, MemoryHooks, Money, NetworkEvent, Outcome, Stage,
};
use blocksmith::flow::{FlowOptions, ManualClock};
use blocksmith::store::{Key, ListOptions, MemoryStore, RedbStore, Store, StoreExt, block_on};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::sync::Arc;
use std::time::Duration;

#[path = "support/clock.rs"]
#[allow(dead_code)] // the shared clock; this bench uses part of it
mod clock;

const T0: u64 = 1_780_272_000_000;
const DAY: u64 = 86_400_000;

fn service<S: Store + 'static>(store: S, clock: &ManualClock) -> Disputes<S> {
    Disputes::new(store, MemoryHooks::new())
        .with_clock(clock.clone())
        .with_options(
            DisputeOptions::default().with_flow(
                FlowOptions::default()
                    .with_prefix("dispute-flow")
                    .with_shards(4),
            ),
        )
}

fn eur(n: i64) -> Money {
    Money::new(n, "EUR")
}

/// A dispute's life as its processor reports it: created, funds
/// withdrawn, lost.
fn events(id: &str, at: u64) -> [NetworkEvent; 3] {
    let created = EventKind::Created {
        stage: Stage::Chargeback,
        charge: format!("ch_{id}"),
        amount: eur(4999),
        settlement: None,
        network: "visa".into(),
        reason: "13.1".into(),
        due_by_ms: None,
    };
    let w = EventKind::FundsWithdrawn {
        amount: eur(4999),
        fee: Some(eur(1500)),
    };
    let lost = EventKind::Closed {
        outcome: Outcome::Lost,
    };
    [
        NetworkEvent::new(format!("{id}-1"), id, 1, at, created),
        NetworkEvent::new(format!("{id}-2"), id, 2, at + 1000, w),
        NetworkEvent::new(format!("{id}-3"), id, 3, at + 2000, lost),
    ]
}

fn ingest_on<S: Store + 'static>(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    store: &Arc<S>,
) {
    let clock = ManualClock::new(T0);
    let d = service(store.clone(), &clock);
    let mut n = 0u64;
    // The record a dispute's events write, for the floor.
    block_on(async {
        for e in events("probe", T0) {
            d.ingest(e).await.unwrap();
        }
    });
    let record = store
        .blocking()
        .get(&Key::new("dispute-flow/i/probe").unwrap())
        .unwrap()
        .data;
    println!(
        "dispute/ingest: the dispute record is {} bytes",
        record.len()
    );
    g.bench_function(BenchmarkId::new("service", name), |b| {
        b.iter_custom(|iters| {
            let t = clock::now();
            block_on(async {
                for _ in 0..iters {
                    n += 1;
                    for e in events(&format!("dp{n}"), T0) {
                        d.ingest(e).await.unwrap();
                    }
                }
            });
            clock::since(t)
        });
    });
    // The floor: one raw put of the dispute's record per event.
    let key = Key::new("floor/record").unwrap();
    g.bench_function(BenchmarkId::new("raw_puts", name), |b| {
        b.iter_custom(|iters| {
            let t = clock::now();
            for _ in 0..iters * 3 {
                store.blocking().put(&key, record.clone()).unwrap();
            }
            clock::since(t)
        });
    });
}

fn ingest(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("dispute/ingest");
    g.throughput(Throughput::Elements(3));
    g.measurement_time(Duration::from_secs(8));
    ingest_on(&mut g, "memory", &Arc::new(MemoryStore::new()));
    ingest_on(
        &mut g,
        "redb",
        &Arc::new(RedbStore::open(tmp.path().join("d.redb")).unwrap()),
    );
    g.finish();
}

fn due(c: &mut Criterion) {
    let n: u64 = std::env::var("BLOCKSMITH_DISPUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let clock = ManualClock::new(T0);
    let store = Arc::new(MemoryStore::new());
    let d = service(store.clone(), &clock);
    let built = std::time::Instant::now();
    block_on(async {
        // Opened over 30 days: deadlines spread over a month.
        for i in 0..n {
            let at = T0 + i * (30 * DAY / n.max(1));
            let [created, ..] = events(&format!("dp{i:07}"), at);
            d.ingest(created).await.unwrap();
        }
    });
    println!(
        "dispute/due: {n} open disputes built in {:.1?}",
        built.elapsed()
    );
    let until = T0 + 40 * DAY;
    let mut g = c.benchmark_group("dispute/due_first_100");
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("index", n), |b| {
        b.iter(|| {
            let rows = block_on(d.due(until, 100, None)).unwrap();
            assert_eq!(rows.len(), 100);
            rows
        });
    });
    // The baseline: read every dispute (a page of keys at a time, so the
    // scan holds one page, not a million records) and keep the 100 due
    // first.
    g.bench_function(BenchmarkId::new("scan", n), |b| {
        b.iter(|| {
            block_on(async {
                let mut best: std::collections::BinaryHeap<(u64, String)> =
                    std::collections::BinaryHeap::new();
                let mut after = None;
                loop {
                    let page = store
                        .list(
                            ListOptions::prefix("dispute-flow/i/")
                                .with_start_after(after.clone())
                                .with_limit(1000),
                        )
                        .await
                        .unwrap();
                    for m in &page.objects {
                        let id = &m.key.as_str()["dispute-flow/i/".len()..];
                        let x = d.get(id).await.unwrap();
                        if let Some(t) = x.due_ms().filter(|t| *t <= until) {
                            best.push((t, x.id));
                            if best.len() > 100 {
                                best.pop();
                            }
                        }
                    }
                    after = page.objects.last().map(|m| m.key.clone());
                    if after.is_none() {
                        break;
                    }
                }
                let rows = best.into_sorted_vec();
                assert_eq!(rows.len(), 100);
                rows
            })
        });
    });
    g.finish();
}

criterion_group!(benches, ingest, due);
criterion_main!(benches);
