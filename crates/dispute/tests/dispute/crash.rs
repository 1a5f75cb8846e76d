//! The crash promise: a crash at every store operation of a realistic
//! workload (a fraud dispute won with evidence and its money returned, a
//! non-receipt dispute lost by deadline), then a restart from the store
//! alone that retries the interrupted call, ends exactly where an
//! uninterrupted run ends, with each host effect once and every ledger
//! balanced.

use crate::common::{DAY, T0, eur, ev, item, open, service};
use blocksmith_dispute::{Dispute, Disputes, Error, EventKind, MemoryHooks, Outcome, Status};
use blocksmith_flow::{Clock as _, ManualClock};
use blocksmith_store::testing::{Fault, FaultPlan, FaultyStore};
use blocksmith_store::{MemoryStore, Store, block_on};
use std::sync::Arc;

const STEPS: usize = 13;

async fn step<S: Store + 'static>(
    i: usize,
    d: &Disputes<S>,
    clock: &ManualClock,
) -> Result<(), Error> {
    let t = d.table().clone();
    match i {
        0 => d.open(open("visa", "10.4", "dp_f")).await.map(|_| ()),
        1 => d.open(open("visa", "13.1", "dp_n")).await.map(|_| ()),
        2 => d
            .add_evidence("dp_f", item(&t, "receipt").with_id("r"))
            .await
            .map(|_| ()),
        3 => d
            .add_evidence("dp_f", item(&t, "three_d_secure").with_id("tds"))
            .await
            .map(|_| ()),
        4 => d
            .add_evidence("dp_f", item(&t, "device_ip").with_id("dev"))
            .await
            .map(|_| ()),
        // A retry of a submission that was taken learns it was.
        5 => match d.submit("dp_f", "ada").await {
            Ok(_) | Err(Error::AlreadySubmitted) => Ok(()),
            Err(e) => Err(e),
        },
        6 => {
            let w = EventKind::FundsWithdrawn {
                amount: eur(4999),
                fee: Some(eur(1500)),
            };
            d.ingest(ev("f2", "dp_f", 2, w)).await.map(|_| ())
        }
        7 => d
            .ingest(ev(
                "f3",
                "dp_f",
                3,
                EventKind::Closed {
                    outcome: Outcome::Won,
                },
            ))
            .await
            .map(|_| ()),
        8 => {
            let w = EventKind::FundsWithdrawn {
                amount: eur(4999),
                fee: Some(eur(1500)),
            };
            d.ingest(ev("n2", "dp_n", 2, w)).await.map(|_| ())
        }
        9 => {
            let r = EventKind::FundsReinstated {
                amount: eur(4999),
                fee_refund: None,
            };
            d.ingest(ev("f4", "dp_f", 4, r)).await.map(|_| ())
        }
        10 => {
            if clock.now_ms() < T0 + 40 * DAY {
                clock.set(T0 + 40 * DAY);
            }
            d.run_due().await
        }
        11 => d.run_due().await,
        _ => Ok(()),
    }
}

fn check(point: &str, f: &Dispute, n: &Dispute, hooks: &MemoryHooks) {
    assert_eq!(f.status, Status::Won, "{point}");
    assert_eq!(f.held(), 0, "{point}");
    assert_eq!(n.status, Status::Accepted, "{point}: lost by deadline");
    assert_eq!(n.held(), 0, "{point}");
    assert_eq!(
        n.balance(blocksmith_dispute::Account::ChargebackLosses),
        4999,
        "{point}"
    );
    assert!(f.ledger_balanced() && n.ledger_balanced(), "{point}");
    assert_eq!(f.ledger.len(), 2, "{point}: {:?}", f.ledger);
    assert_eq!(n.ledger.len(), 2, "{point}: {:?}", n.ledger);
    assert_eq!(n.reminders_fired.len(), 3, "{point}");
    let mut e = hooks.effects();
    e.sort();
    assert_eq!(
        e,
        [
            "accept dp_n",
            "remind dp_n 0 259200000",
            "remind dp_n 0 604800000",
            "remind dp_n 0 86400000",
            "submit dp_f 0 [r, tds, dev]",
        ],
        "{point}"
    );
}

#[test]
fn a_crash_at_every_store_operation_ends_where_a_clean_run_ends() {
    let mut crashes = 0;
    for fault in [Fault::FailBefore, Fault::FailAfter] {
        for at in 1.. {
            let data = Arc::new(MemoryStore::new());
            let hooks = MemoryHooks::new();
            let clock = ManualClock::new(T0);
            let faulty = Arc::new(FaultyStore::new(data.clone(), FaultPlan::new(at, fault)));
            let point = format!("{fault:?} at operation {at}");
            let crashed_at = block_on(async {
                let d = service(faulty.clone(), &clock, &hooks);
                for i in 0..STEPS {
                    if step(i, &d, &clock).await.is_err() {
                        return Some(i);
                    }
                }
                None
            });
            let Some(from) = crashed_at else {
                assert!(!faulty.crashed(), "{point}: a crash no call reported");
                break;
            };
            assert!(
                faulty.crashed(),
                "{point}: step {from} failed without a crash"
            );
            crashes += 1;
            // Restart from the store alone; the client retries the call
            // that failed and carries on.
            block_on(async {
                // The new process starts after the dead one's shard leases
                // lapsed.
                clock.advance(60_000);
                let d = service(data.clone(), &clock, &hooks);
                for i in from..STEPS {
                    step(i, &d, &clock)
                        .await
                        .unwrap_or_else(|e| panic!("{point}: step {i} after restart: {e}"));
                }
                let f = d.get("dp_f").await.unwrap();
                let n = d.get("dp_n").await.unwrap();
                check(&point, &f, &n, &hooks);
            });
        }
    }
    assert!(crashes > 100, "only {crashes} crash points");
}
