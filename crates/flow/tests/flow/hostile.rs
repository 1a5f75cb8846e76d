//! A hostile or damaged store: whatever bytes sit under the engine's keys,
//! every call returns (a typed error or a result), never a panic.

use crate::common::{Sink, T0, clock, registry};
use blocksmith_flow::{Engine, FlowOptions, Saga, StartOptions};
use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use proptest::prelude::*;

fn real_record() -> (MemoryStore, Vec<(String, Vec<u8>)>) {
    let sink = Sink::default();
    let store = MemoryStore::new();
    {
        let engine = Engine::new(&store, registry(&sink))
            .with_clock(clock())
            .with_options(FlowOptions::default().with_shards(1).with_history_chunk(4));
        block_on(async {
            engine
                .start::<Saga>(
                    &crate::basics::plan(3, Some((2, 1, true))),
                    StartOptions::default().with_id("x"),
                )
                .await
                .unwrap();
            engine.worker("w").unwrap().run_until_idle(5).await.unwrap();
        });
    }
    let all = store
        .blocking()
        .list_all("flow/")
        .unwrap()
        .into_iter()
        .map(|m| {
            let v = store.blocking().get(&m.key).unwrap().data.to_vec();
            (m.key.as_str().to_string(), v)
        })
        .collect();
    (store, all)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]
    #[test]
    fn damaged_records_never_panic(
        which in 0usize..64,
        flips in prop::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        cut in any::<Option<usize>>(),
        garbage in prop::collection::vec(any::<u8>(), 0..64),
        use_garbage in prop::bool::weighted(0.2),
    ) {
        let (store, records) = real_record();
        let (key, mut value) = records[which % records.len()].clone();
        if use_garbage {
            value = garbage;
        } else {
            for (at, x) in flips {
                if !value.is_empty() {
                    let n = value.len();
                    value[at % n] ^= x;
                }
            }
            if let Some(c) = cut {
                let n = value.len();
                value.truncate(c % (n + 1));
            }
        }
        store.blocking().put(&Key::new(key).unwrap(), value).unwrap();
        let sink = Sink::default();
        let c = blocksmith_flow::ManualClock::new(T0 + 100_000);
        let engine = Engine::new(&store, registry(&sink))
            .with_clock(c)
            .with_options(FlowOptions::default().with_shards(1).with_history_chunk(4));
        block_on(async {
            let _ = engine.get("x").await;
            let _ = engine.history("x").await;
            let _ = engine.signal("x", "s", "e", serde_json::json!(1)).await;
            let _ = engine.list(&blocksmith_flow::ListFilter::default()).await;
            if let Ok(mut w) = engine.worker("w2") {
                let _ = w.run_until_idle(3).await;
            }
        });
    }
}
