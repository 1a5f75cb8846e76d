//! `blocksmith-dispute` inputs from outside: arbitrary bytes as a processor webhook event
//! (JSON, one or an array) ingested into a live dispute, and as a host's reason table. Typed
//! errors, never a panic; the ledger balances whatever is ingested.
#![no_main]

use blocksmith_dispute::{Disputes, MemoryHooks, Money, NetworkEvent, OpenDispute, ReasonTable};
use blocksmith_flow::ManualClock;
use blocksmith_store::{MemoryStore, block_on};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = ReasonTable::from_json(text) {
        let _ = t.rules("visa", "13.1");
    }
    let events: Vec<NetworkEvent> = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(a)) => a
            .into_iter()
            .take(16)
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        Ok(v) => serde_json::from_value(v).into_iter().collect(),
        Err(_) => return,
    };
    let d = Disputes::new(MemoryStore::new(), MemoryHooks::new())
        .with_clock(ManualClock::new(1_780_272_000_000));
    block_on(async {
        d.open(OpenDispute::new("ch_1", Money::new(4999, "EUR"), "visa", "13.1").with_id("dp_1"))
            .await
            .expect("a fresh store opens a dispute");
        for e in events {
            let id = e.dispute.clone();
            let _ = d.ingest(e).await;
            if let Ok(x) = d.get(&id).await {
                assert!(x.ledger_balanced(), "an unbalanced ledger: {:?}", x.ledger);
            }
        }
        let _ = d.run_due().await;
        let _ = d.due(u64::MAX, 10, None).await;
        let _ = d.reconcile().await;
    });
});
