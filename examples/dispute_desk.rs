//! A dispute desk: a fraud chargeback won with evidence (its money back,
//! fee refunded), and a non-receipt chargeback lost by deadline (the
//! reminders go out, nobody answers, the default action concedes). The
//! processor's webhooks arrive out of order and twice; the ledger balances
//! after every one.
//!
//! ```text
//! cargo run --release --example dispute_desk
//! ```

use blocksmith::dispute::{
    Disputes, EventKind, Evidence, MemoryHooks, Money, NetworkEvent, OpenDispute, Outcome, Status,
};
use blocksmith::flow::ManualClock;
use blocksmith::store::{RedbStore, Store, block_on};
use std::error::Error;
use std::sync::Arc;

const DAY: u64 = 86_400_000;

/// Runs the demo on `store` and returns a summary.
pub(crate) fn demo<S: Store + 'static>(store: Arc<S>) -> Result<String, Box<dyn Error>> {
    block_on(async {
        let t0 = 1_780_272_000_000; // 2026-06-01, UTC
        let clock = ManualClock::new(t0);
        let hooks = MemoryHooks::new();
        let desk = Disputes::new(store, hooks.clone())
            .with_clock(clock.clone())
            .with_options(
                blocksmith::dispute::DisputeOptions::default()
                    .with_timezone("Europe/Berlin")
                    .with_on_deadline(blocksmith::dispute::DeadlineAction::AutoAccept),
            );

        // 1. "I never made this purchase": Visa 10.4, card absent.
        desk.open(
            OpenDispute::new("ch_3PzK", Money::new(12_900, "EUR"), "visa", "10.4")
                .with_id("dp_fraud"),
        )
        .await?;
        let refused = desk.submit("dp_fraud", "ada").await.err();
        let receipt =
            Evidence::text("receipt", "Order 5531: wireless headphones, 129.00 EUR").by("ada");
        let tds = Evidence::text("three_d_secure", "3DS2 challenge passed, ECI 05")
            .with_field("eci", "05")
            .by("ada");
        let device = Evidence::text(
            "device_ip",
            "Same device fingerprint and IP as two undisputed orders in March",
        )
        .with_field("ip_address", "203.0.113.7")
        .by("bo");
        for e in [receipt, tds, device] {
            desk.add_evidence("dp_fraud", e).await?;
        }
        desk.submit("dp_fraud", "ada").await?;

        // 2. "It never arrived": Visa 13.1; nobody answers it.
        let nr = desk
            .open(
                OpenDispute::new("ch_8QwL", Money::new(4_999, "EUR"), "visa", "13.1")
                    .with_id("dp_nonreceipt"),
            )
            .await?;
        let due = nr.due_ms().ok_or("no deadline")?;

        // The processor's webhooks: out of order, one twice.
        let ev = |id: &str, d: &str, seq, kind| NetworkEvent::new(id, d, seq, t0 + 3_600_000, kind);
        let fee = || Some(Money::new(1_500, "EUR"));
        let events = [
            ev(
                "evt_12",
                "dp_fraud",
                3,
                EventKind::Closed {
                    outcome: Outcome::Won,
                },
            ),
            ev(
                "evt_11",
                "dp_fraud",
                2,
                EventKind::FundsWithdrawn {
                    amount: Money::new(12_900, "EUR"),
                    fee: fee(),
                },
            ),
            ev(
                "evt_12",
                "dp_fraud",
                3,
                EventKind::Closed {
                    outcome: Outcome::Won,
                },
            ),
            ev(
                "evt_13",
                "dp_fraud",
                4,
                EventKind::FundsReinstated {
                    amount: Money::new(12_900, "EUR"),
                    fee_refund: fee(),
                },
            ),
            ev(
                "evt_21",
                "dp_nonreceipt",
                2,
                EventKind::FundsWithdrawn {
                    amount: Money::new(4_999, "EUR"),
                    fee: fee(),
                },
            ),
        ];
        let mut balanced = true;
        for e in events {
            let id = e.dispute.clone();
            desk.ingest(e).await?;
            balanced &= desk.get(&id).await?.ledger_balanced();
        }
        // Weeks pass; a worker runs the timers and hooks.
        for day in [10, 22, 26, 27, 28, 30] {
            clock.set(t0 + day * DAY);
            desk.run_due().await?;
        }
        let f = desk.get("dp_fraud").await?;
        let n = desk.get("dp_nonreceipt").await?;
        assert_eq!(f.status, Status::Won);
        assert_eq!(n.status, Status::Accepted);
        let reminders = hooks
            .effects()
            .iter()
            .filter(|e| e.starts_with("remind"))
            .count();
        let stats = desk.stats().await?;
        let rec = desk.reconcile().await?;
        Ok(format!(
            "dispute fraud 10.4: first submission refused ({}); won with {} items, held {} after \
             reinstatement, fee back: merchant balance {}; non-receipt 13.1: due {:.3} days after \
             opening (Berlin end of day, 2-day margin), {reminders} reminders, then {} by deadline, loss {}; ledgers \
             balanced after every event: {balanced}; win rate visa 10.4 {:.0}%, reconciliation \
             findings: {}",
            refused.map_or_else(|| "-".into(), |e| e.to_string()),
            f.evidence.len(),
            f.held(),
            f.balance(blocksmith::dispute::Account::MerchantBalance),
            (due - t0) as f64 / DAY as f64,
            n.status,
            n.balance(blocksmith::dispute::Account::ChargebackLosses),
            stats.by_reason["visa 10.4"].win_rate().unwrap_or(0.0) * 100.0,
            rec.findings.len()
        ))
    })
}

#[allow(dead_code)] // also compiled into the tour, which has its own main
fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/dispute_desk");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(RedbStore::open(dir.join("disputes.redb"))?);
    println!("{}", demo(store)?);
    Ok(())
}
