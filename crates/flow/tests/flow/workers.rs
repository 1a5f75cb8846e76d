//! Several workers on one store: shards shared fairly, a worker paused
//! past its lease loses to the one that took over (fencing), and no
//! transition happens twice whatever the interleaving.

use crate::basics::plan;
use crate::common::{Sink, T0, registry};
use blocksmith_flow::{Engine, FlowOptions, ManualClock, Saga, StartOptions, Status};
use blocksmith_store::{
    Capabilities, ComposePart, GetOptions, GetResult, Key, ListOptions, ListPage, MemoryStore,
    ObjectMeta, PutOptions, PutResult, Store, block_on,
};
use bytes::Bytes;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

fn options() -> FlowOptions {
    FlowOptions::default().with_shards(8).with_lease_ms(10_000)
}

#[test]
fn workers_share_the_shards_and_finish_everything_once() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let clock = ManualClock::new(T0);
        let engine = Engine::new(&store, registry(&sink))
            .with_clock(clock.clone())
            .with_options(options());
        let mut ids = Vec::new();
        for i in 0..40 {
            let p = plan(3, (i % 4 == 0).then_some((1, 1, true)));
            ids.push(
                engine
                    .start::<Saga>(&p, StartOptions::default())
                    .await
                    .unwrap()
                    .id,
            );
        }
        let mut ws: Vec<_> = (0..4)
            .map(|i| engine.worker(&format!("w{i}")).unwrap())
            .collect();
        // Everyone announces itself; then shares settle to 2 shards each.
        for _ in 0..3 {
            for w in &mut ws {
                w.tick().await.unwrap();
            }
            clock.advance(3_000);
        }
        let mut all: BTreeSet<u32> = BTreeSet::new();
        for w in &ws {
            assert!(w.shards().len() <= 2, "{:?}", w.shards());
            for s in w.shards() {
                assert!(all.insert(s), "shard {s} held twice");
            }
        }
        for _ in 0..4 {
            for w in &mut ws {
                w.run_until_idle(10).await.unwrap();
            }
        }
        for (i, id) in ids.iter().enumerate() {
            let v = engine.get(id).await.unwrap().unwrap();
            if i % 4 == 0 {
                assert_eq!(v.status, Status::RolledBack);
                assert_eq!(sink.effects_of(id), ["s0", "s0/undo"]);
            } else {
                assert_eq!(v.status, Status::Completed);
                assert_eq!(sink.effects_of(id), ["s0", "s1", "s2"]);
            }
        }
        // Disjoint shards and no crash: no step ran twice.
        assert_eq!(sink.runs(), 10 * 2 + 30 * 3);
        for w in &mut ws {
            w.release().await.unwrap();
        }
    });
}

type Hook = Box<dyn FnOnce() + Send>;

/// A store that runs another client's code just before its `at`-th
/// operation: worker A's view, with worker B (whose clock is past A's lease)
/// taking over at that exact point.
struct Interleaved {
    inner: Arc<MemoryStore>,
    ops: AtomicU64,
    at: u64,
    hook: Mutex<Option<Hook>>,
}

impl Interleaved {
    fn tick(&self) {
        let n = self.ops.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.at {
            let hook = self.hook.lock().unwrap().take();
            if let Some(h) = hook {
                h();
            }
        }
    }
}

impl Store for Interleaved {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn get(&self, key: &Key, options: GetOptions) -> blocksmith_store::Result<GetResult> {
        self.tick();
        self.inner.get(key, options).await
    }
    async fn head(&self, key: &Key) -> blocksmith_store::Result<ObjectMeta> {
        self.tick();
        self.inner.head(key).await
    }
    async fn put(
        &self,
        key: &Key,
        value: Bytes,
        options: PutOptions,
    ) -> blocksmith_store::Result<PutResult> {
        self.tick();
        self.inner.put(key, value, options).await
    }
    async fn delete(&self, key: &Key) -> blocksmith_store::Result<()> {
        self.tick();
        self.inner.delete(key).await
    }
    async fn list(&self, options: ListOptions) -> blocksmith_store::Result<ListPage> {
        self.tick();
        self.inner.list(options).await
    }
    async fn compose(
        &self,
        target: &Key,
        parts: &[ComposePart],
        options: PutOptions,
    ) -> blocksmith_store::Result<PutResult> {
        self.tick();
        self.inner.compose(target, parts, options).await
    }
}

/// Worker A starts on a store; at every one of its store operations in
/// turn, worker B, whose clock is past A's lease, takes every shard over
/// and runs all to the end. A then carries on with its stale view. Every
/// instance ends right, each effect once, each history without a doubled
/// transition.
#[test]
fn a_worker_paused_past_its_lease_never_doubles_a_transition() {
    let mut points = 0;
    for at in 1.. {
        let sink = Sink::default();
        let data = Arc::new(MemoryStore::new());
        let clock_a = ManualClock::new(T0);
        let ids: Vec<String> = {
            let engine = Engine::new(&*data, registry(&sink))
                .with_clock(clock_a.clone())
                .with_options(options());
            (0..3)
                .map(|i| {
                    let p = plan(3, (i == 1).then_some((2, 1, true)));
                    block_on(
                        engine.start::<Saga>(&p, StartOptions::default().with_id(format!("i{i}"))),
                    )
                    .unwrap()
                    .id
                })
                .collect()
        };
        let (bdata, bsink) = (data.clone(), sink.clone());
        let hook: Hook = Box::new(move || {
            let clock_b = ManualClock::new(T0 + 60_000);
            let engine = Engine::new(&*bdata, registry(&bsink))
                .with_clock(clock_b)
                .with_options(options());
            let mut b = engine.worker("b").unwrap();
            block_on(b.run_until_idle(20)).unwrap();
        });
        let store = Interleaved {
            inner: data.clone(),
            ops: AtomicU64::new(0),
            at,
            hook: Mutex::new(Some(hook)),
        };
        let engine = Engine::new(&store, registry(&sink))
            .with_clock(clock_a.clone())
            .with_options(options());
        let mut a = engine.worker("a").unwrap();
        block_on(a.run_until_idle(20)).unwrap();
        let fired = store.hook.lock().unwrap().is_none();
        // Finish whatever is left (B may have fired before A did anything).
        clock_a.set(T0 + 200_000);
        let finisher = Engine::new(&*data, registry(&sink))
            .with_clock(clock_a.clone())
            .with_options(options());
        block_on(finisher.worker("c").unwrap().run_until_idle(20)).unwrap();
        for id in &ids {
            let v = block_on(finisher.get(id)).unwrap().unwrap();
            let want = if id == "i1" {
                (Status::RolledBack, vec!["s0", "s1", "s1/undo", "s0/undo"])
            } else {
                (Status::Completed, vec!["s0", "s1", "s2"])
            };
            assert_eq!(v.status, want.0, "at {at}: {id}");
            assert_eq!(sink.effects_of(id), want.1, "at {at}: {id}");
            let h = block_on(finisher.history(id)).unwrap();
            let completions: Vec<_> = h
                .iter()
                .filter_map(|e| match &e.kind {
                    blocksmith_flow::HistoryKind::StepCompleted { id, .. } => Some(id.clone()),
                    _ => None,
                })
                .collect();
            let unique: BTreeSet<_> = completions.iter().collect();
            assert_eq!(
                unique.len(),
                completions.len(),
                "at {at}: {id}: {completions:?}"
            );
        }
        points += 1;
        if !fired {
            break;
        }
    }
    assert!(points > 20, "{points}");
}
