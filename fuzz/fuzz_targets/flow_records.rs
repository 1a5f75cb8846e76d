//! `blocksmith-flow` records read back from a store: arbitrary bytes as an instance record
//! (`flow.instance`), a history chunk, a lease or the layout record, then every engine call
//! that reads them (query, history, list, signal, a worker's ticks). Typed errors, never a
//! panic; an instance that still runs carries on.
#![no_main]

use blocksmith_flow::{
    Engine, FlowOptions, ListFilter, ManualClock, Registry, Saga, SagaPlan, SagaStep, StartOptions,
};
use blocksmith_fuzz::record_bytes;
use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let store = MemoryStore::new();
    let registry = Registry::new()
        .with_workflow(Saga)
        .with_step_fn("ok", |_ctx| async { Ok(json!(1)) });
    let clock = ManualClock::new(1_700_000_000_000);
    let options = FlowOptions::default().with_shards(2).with_history_chunk(2);
    let engine = Engine::new(&store, registry)
        .with_clock(clock.clone())
        .with_options(options);
    let plan = SagaPlan::new(vec![
        SagaStep::new("a", "ok", json!({})).with_compensation("ok", json!({})),
        SagaStep::new("b", "ok", json!({})),
    ]);
    block_on(async {
        engine
            .start::<Saga>(&plan, StartOptions::default().with_id("x"))
            .await
            .expect("a fresh store starts");
        let (key, kind) = match which % 4 {
            0 => ("flow/i/x".to_string(), "flow.instance"),
            1 => ("flow/h/x/0000000000000000-00".to_string(), "flow.history"),
            2 => ("flow/l/00000".to_string(), "flow.lease"),
            _ => ("flow/layout".to_string(), "flow.layout"),
        };
        store
            .blocking()
            .put(&Key::new(key).unwrap(), record_bytes(kind, 1, rest))
            .unwrap();
        let _ = engine.get("x").await;
        let _ = engine.history("x").await;
        let _ = engine
            .list(&ListFilter::default().with_archived(true))
            .await;
        let _ = engine.signal("x", "s", "e1", json!({ "n": 1 })).await;
        if let Ok(mut w) = engine.worker("w") {
            for _ in 0..3 {
                let _ = w.tick().await;
                clock.advance(60_000);
            }
        }
        let _ = engine.history("x").await;
    });
});
