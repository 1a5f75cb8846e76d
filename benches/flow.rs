//! Durable workflows: transitions per second of a 5-step saga on
//! `MemoryStore` and `RedbStore`, against the floor of the same number of
//! raw store puts of a record of the same size; store operations per
//! transition (printed); and the due-time index: one tick that fires 10 due
//! timers among 10 k and among 1 M pending ones (O(due), not O(pending)).
//!
//! ```text
//! cargo bench --bench flow
//! BLOCKSMITH_FLOW_TIMERS=100000 cargo bench --bench flow -- due   # a smaller index
//! ```

use blocksmith::flow::{
    Command, Engine, Event, FlowOptions, ManualClock, Registry, Saga, SagaPlan, SagaStep,
    StartOptions, Workflow,
};
use blocksmith::store::{
    Capabilities, ComposePart, DynStore, GetOptions, GetResult, Key, ListOptions, ListPage,
    MemoryStore, ObjectMeta, PutOptions, PutResult, RedbStore, Store, StoreExt, block_on,
};
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[path = "support/clock.rs"]
#[allow(dead_code)] // the shared clock; this bench uses part of it
mod clock;

const T0: u64 = 1_780_000_000_000;

fn registry() -> Registry {
    Registry::new()
        .with_workflow(Saga)
        .with_workflow(Sleeper)
        .with_step_fn(
            "noop",
            |ctx| async move { Ok(json!({ "ok": ctx.step_id })) },
        )
}

fn plan() -> SagaPlan {
    SagaPlan::new(
        (0..5)
            .map(|i| {
                SagaStep::new(format!("s{i}"), "noop", json!({ "n": i }))
                    .with_compensation("noop", json!({}))
            })
            .collect(),
    )
}

/// Counts store operations.
struct Counting<S> {
    inner: S,
    ops: AtomicU64,
    puts: AtomicU64,
}

impl<S: Store> Store for Counting<S> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn get(&self, key: &Key, o: GetOptions) -> blocksmith::store::Result<GetResult> {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.inner.get(key, o).await
    }
    async fn head(&self, key: &Key) -> blocksmith::store::Result<ObjectMeta> {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.inner.head(key).await
    }
    async fn put(
        &self,
        key: &Key,
        v: Bytes,
        o: PutOptions,
    ) -> blocksmith::store::Result<PutResult> {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.puts.fetch_add(1, Ordering::Relaxed);
        self.inner.put(key, v, o).await
    }
    async fn delete(&self, key: &Key) -> blocksmith::store::Result<()> {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.inner.delete(key).await
    }
    async fn list(&self, o: ListOptions) -> blocksmith::store::Result<ListPage> {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.inner.list(o).await
    }
    async fn compose(
        &self,
        t: &Key,
        p: &[ComposePart],
        o: PutOptions,
    ) -> blocksmith::store::Result<PutResult> {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.inner.compose(t, p, o).await
    }
}

/// Runs `n` sagas to completion on `engine`; returns the transitions.
fn run_sagas<S: Store>(engine: &Engine<S>, n: usize, tag: u64) -> u64 {
    block_on(async {
        for i in 0..n {
            engine
                .start::<Saga>(
                    &plan(),
                    StartOptions::default().with_id(format!("b{tag}-{i}")),
                )
                .await
                .unwrap();
        }
        let mut w = engine.worker("bench").unwrap();
        let r = w.run_until_idle(16).await.unwrap();
        w.release().await.unwrap();
        assert!(r.transitions >= 5 * n as u64, "{r:?}");
        r.transitions + n as u64 // the starts are transitions too
    })
}

fn options() -> FlowOptions {
    // One shard: the worker scans one index; retention off (no archive entry).
    FlowOptions::default()
        .with_shards(1)
        .with_retention(None, None)
}

fn saga(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    // Store operations per transition, measured once.
    let counting = Counting {
        inner: MemoryStore::new(),
        ops: AtomicU64::new(0),
        puts: AtomicU64::new(0),
    };
    let engine = Engine::new(&counting, registry())
        .with_clock(ManualClock::new(T0))
        .with_options(options());
    run_sagas(&engine, 1, 0); // leases and membership settle
    let (ops0, puts0) = (
        counting.ops.load(Ordering::Relaxed),
        counting.puts.load(Ordering::Relaxed),
    );
    let transitions = run_sagas(&engine, 200, 1);
    let ops = counting.ops.load(Ordering::Relaxed) - ops0;
    let puts = counting.puts.load(Ordering::Relaxed) - puts0;
    println!(
        "flow/saga5: {transitions} transitions, {ops} store operations ({:.2} per transition), {puts} puts ({:.2} per transition)",
        ops as f64 / transitions as f64,
        puts as f64 / transitions as f64
    );
    let record = block_on(
        counting
            .inner
            .get(&Key::new("flow/i/b1-0").unwrap(), GetOptions::new()),
    )
    .unwrap()
    .data;
    let per_saga = transitions / 200;

    let mut g = c.benchmark_group("flow/saga5");
    g.throughput(Throughput::Elements(per_saga));
    g.measurement_time(Duration::from_secs(8));
    let stores: Vec<(&str, Box<dyn DynStore>)> = vec![
        ("memory", Box::new(MemoryStore::new())),
        (
            "redb",
            Box::new(RedbStore::open(tmp.path().join("flow.redb")).unwrap()),
        ),
    ];
    let mut tag = 10;
    for (name, store) in &stores {
        let engine = Engine::new(&**store, registry())
            .with_clock(ManualClock::new(T0))
            .with_options(options());
        g.bench_function(BenchmarkId::new("engine", name), |b| {
            b.iter_custom(|iters| {
                tag += 1;
                let t = clock::now();
                run_sagas(&engine, iters as usize, tag);
                clock::since(t)
            });
        });
        // The floor: one raw put of the same record per transition.
        let key = Key::new("floor/record").unwrap();
        g.bench_function(BenchmarkId::new("raw_puts", name), |b| {
            b.iter_custom(|iters| {
                let t = clock::now();
                for _ in 0..iters * per_saga {
                    store.blocking().put(&key, record.clone()).unwrap();
                }
                clock::since(t)
            });
        });
    }
    g.finish();
}

/// A workflow that only waits for a timer.
struct Sleeper;

impl Workflow for Sleeper {
    const KIND: &'static str = "sleeper";
    type Input = u64;
    type State = ();
    fn start(&self, at: u64) -> ((), Vec<Command>) {
        (
            (),
            vec![Command::SetTimer {
                id: "t".into(),
                at_ms: at,
            }],
        )
    }
    fn react(&self, (): &mut (), event: &Event) -> Vec<Command> {
        match event {
            Event::TimerFired { .. } => vec![Command::Complete {
                output: json!(null),
            }],
            _ => Vec::new(),
        }
    }
}

fn due(c: &mut Criterion) {
    let big: usize = std::env::var("BLOCKSMITH_FLOW_TIMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut g = c.benchmark_group("flow/due_10");
    g.sample_size(20);
    for pending in [10_000usize, big] {
        let store = MemoryStore::new();
        let clock = ManualClock::new(T0);
        let engine = Engine::new(&store, registry())
            .with_clock(clock.clone())
            .with_options(options());
        block_on(async {
            for i in 0..pending {
                // Far in the future: never due during the bench.
                engine
                    .start::<Sleeper>(
                        &(T0 + 10_000_000_000 + i as u64),
                        StartOptions::default().with_id(format!("s{i}")),
                    )
                    .await
                    .unwrap();
            }
            let mut w = engine.worker("setup").unwrap();
            w.run_until_idle(4).await.unwrap();
            w.release().await.unwrap();
        });
        let mut w = engine.worker("bench").unwrap();
        let mut round = 0u64;
        g.bench_function(BenchmarkId::from_parameter(pending), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    round += 1;
                    // Ten timers due now, among `pending` that are not.
                    block_on(async {
                        for k in 0..10 {
                            engine
                                .start::<Sleeper>(
                                    &(T0 + round * 1_000 + 600 + k),
                                    StartOptions::default().with_id(format!("d{round}-{k}")),
                                )
                                .await
                                .unwrap();
                        }
                    });
                    clock.set(T0 + round * 1_000 + 999);
                    let t = clock::now();
                    let r = block_on(w.tick()).unwrap();
                    total += clock::since(t);
                    assert_eq!(r.timers, 10);
                }
                total
            });
        });
    }
    g.finish();
}

criterion_group!(benches, saga, due);
criterion_main!(benches);
