//! `blocksmith-dispute` inputs from outside: arbitrary bytes as a processor webhook event
//! (JSON, one or an array) ingested into a live dispute, and as a host's reason table. Typed
//! errors, never a panic; the ledger balances whatever is ingested.
#![no_main]

use blocksmith_dispute::{
    Account, Dispute, Disputes, Evidence, MemoryHooks, Money, NetworkEvent, OpenDispute,
    ReasonTable, Status,
};

/// What must hold whatever was ingested.
fn check(x: &Dispute) {
    assert!(x.ledger_balanced(), "an unbalanced ledger: {:?}", x.ledger);
    assert!(x.held() >= 0, "negative held funds: {:?}", x.ledger);
    let disputed = x.settlement.as_ref().map_or(0, |m| m.amount);
    assert!(
        x.balance(Account::ChargebackLosses) <= disputed,
        "losses beyond the disputed amount: {:?}",
        x.ledger
    );
    assert!(
        x.withdrawn_net() <= disputed,
        "over-withdrawn: {:?}",
        x.ledger
    );
    if x.status == Status::Won {
        assert!(
            x.rounds.iter().any(|r| r.submitted_ms.is_some()),
            "won without a submission"
        );
    }
}
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
        for (i, e) in events.into_iter().enumerate() {
            let id = e.dispute.clone();
            let _ = d.ingest(e).await;
            // Merchant actions between events, picked by the input's bytes.
            match data.get(i).map_or(0, |b| b % 5) {
                1 => {
                    let _ = d
                        .add_evidence("dp_1", Evidence::text("receipt", "order 1").by("a"))
                        .await;
                }
                2 => {
                    let e = Evidence::text("proof_of_delivery", "pod")
                        .with_field("tracking_number", "1Z")
                        .with_field("delivered_on", "2026-06-01")
                        .by("a");
                    let _ = d.add_evidence("dp_1", e).await;
                }
                3 => {
                    let _ = d.submit("dp_1", "a").await;
                }
                4 => {
                    let _ = d.accept("dp_1", "a").await;
                }
                _ => {}
            }
            if let Ok(x) = d.get(&id).await {
                check(&x);
            }
        }
        let _ = d.run_due().await;
        let _ = d.due(u64::MAX, 10, None).await;
        let _ = d.reconcile().await;
    });
});
