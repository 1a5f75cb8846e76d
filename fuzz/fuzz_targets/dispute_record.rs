//! `blocksmith-dispute` records read back from a store: arbitrary bytes as a dispute's
//! workflow record (`flow.instance`, the dispute in its state) or a due-index entry, then
//! every call that reads them (get, the due queue, stats, reconciliation, evidence,
//! submission, an event, the worker). Typed errors, never a panic.
#![no_main]

use blocksmith_dispute::{
    Disputes, EventKind, Evidence, MemoryHooks, Money, NetworkEvent, OpenDispute, Outcome,
};
use blocksmith_flow::{Clock as _, ManualClock};
use blocksmith_fuzz::record_bytes;
use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let store = Arc::new(MemoryStore::new());
    let clock = ManualClock::new(1_780_272_000_000);
    let d = Disputes::new(store.clone(), MemoryHooks::new()).with_clock(clock.clone());
    block_on(async {
        d.open(OpenDispute::new("ch_1", Money::new(4999, "EUR"), "visa", "13.1").with_id("dp_1"))
            .await
            .expect("a fresh store opens a dispute");
        let (key, value) = match which % 3 {
            0 | 1 => (
                "dispute-flow/i/dp_1".to_string(),
                record_bytes("flow.instance", 1, rest),
            ),
            _ => (
                format!("dispute/due/{:016}/dp_1", u64::from(which)),
                rest.to_vec(),
            ),
        };
        store
            .blocking()
            .put(&Key::new(key).unwrap(), value)
            .unwrap();
        let _ = d.get("dp_1").await;
        let _ = d.due(u64::MAX, 10, None).await;
        let _ = d.stats().await;
        let _ = d.reconcile().await;
        let _ = d
            .add_evidence("dp_1", Evidence::text("receipt", "order 1").by("a"))
            .await;
        let _ = d.submit("dp_1", "a").await;
        let ev = NetworkEvent::new(
            "e2",
            "dp_1",
            2,
            clock.now_ms(),
            EventKind::Closed {
                outcome: Outcome::Lost,
            },
        );
        let _ = d.ingest(ev).await;
        let _ = d.accept("dp_1", "a").await;
        for _ in 0..2 {
            let _ = d.run_due().await;
            clock.advance(40 * 86_400_000);
        }
        let _ = d.file("dp_1", "x").await;
    });
});
