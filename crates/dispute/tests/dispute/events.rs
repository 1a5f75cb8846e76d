//! Webhook ingestion: duplicates, out-of-order delivery, events before
//! `created`, a blocked event and its replacement, reconciliation.

use crate::common::{T0, created, eur, ev, open, service};
use blocksmith_dispute::{Error, EventKind, Ingested, MemoryHooks, Outcome, Status};
use blocksmith_flow::ManualClock;
use blocksmith_store::{MemoryStore, block_on};

fn withdrawn() -> EventKind {
    EventKind::FundsWithdrawn {
        amount: eur(4999),
        fee: Some(eur(1500)),
    }
}

#[test]
fn events_apply_in_sequence_order_once_whatever_the_delivery() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        // Delivered 3, 2, 3, 1, 2: applied 1, 2, 3.
        let e1 = ev("e1", "dp_1", 1, created("dp_1", "visa", "13.1"));
        let e2 = ev("e2", "dp_1", 2, withdrawn());
        let e3 = ev(
            "e3",
            "dp_1",
            3,
            EventKind::Closed {
                outcome: Outcome::Lost,
            },
        );
        assert_eq!(d.ingest(e3.clone()).await.unwrap(), Ingested::Waiting);
        let x = d.get("dp_1").await.unwrap();
        assert_eq!((x.status, x.waiting.len()), (Status::Pending, 1));
        assert_eq!(d.ingest(e2.clone()).await.unwrap(), Ingested::Waiting);
        assert_eq!(d.ingest(e3.clone()).await.unwrap(), Ingested::Duplicate);
        assert_eq!(d.ingest(e1).await.unwrap(), Ingested::Applied);
        let x = d.get("dp_1").await.unwrap();
        assert_eq!(x.status, Status::Lost);
        let order: Vec<&str> = x.applied.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(order, ["e1", "e2", "e3"]);
        assert_eq!(x.ledger.len(), 2, "withdrawal and loss, once each");
        assert!(x.ledger_balanced());
        assert!(matches!(
            d.ingest(e2).await,
            Ok(Ingested::Duplicate) | Err(Error::Closed(_))
        ));
    });
}

#[test]
fn a_number_is_held_by_one_event() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        d.ingest(ev("a2", "dp_1", 2, withdrawn())).await.unwrap();
        let other = ev(
            "b2",
            "dp_1",
            2,
            EventKind::Closed {
                outcome: Outcome::Lost,
            },
        );
        match d.ingest(other).await {
            Err(Error::SequenceConflict { sequence, holder }) => {
                assert_eq!((sequence, holder.as_str()), (2, "a2"));
            }
            r => panic!("{r:?}"),
        }
        // A waiting number too.
        d.ingest(ev(
            "a5",
            "dp_1",
            5,
            EventKind::Closed {
                outcome: Outcome::Lost,
            },
        ))
        .await
        .unwrap();
        assert!(matches!(
            d.ingest(ev(
                "b5",
                "dp_1",
                5,
                EventKind::Closed {
                    outcome: Outcome::Reversed
                }
            ))
            .await,
            Err(Error::SequenceConflict { .. })
        ));
    });
}

#[test]
fn an_invalid_waiting_event_blocks_until_replaced_and_shows_in_reconciliation() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        // 3 says "won" (no submission: invalid in turn); 4 waits behind it.
        d.ingest(ev(
            "e3",
            "dp_1",
            3,
            EventKind::Closed {
                outcome: Outcome::Won,
            },
        ))
        .await
        .unwrap();
        d.ingest(ev(
            "e4",
            "dp_1",
            4,
            EventKind::FundsReinstated {
                amount: eur(4999),
                fee_refund: None,
            },
        ))
        .await
        .unwrap();
        d.ingest(ev("e2", "dp_1", 2, withdrawn())).await.unwrap();
        let x = d.get("dp_1").await.unwrap();
        assert_eq!(x.next_sequence, 3);
        assert_eq!(x.blocked.as_ref().map(|b| b.0), Some(3));
        assert_eq!(x.held(), 4999);
        let r = d.reconcile().await.unwrap();
        assert!(
            r.findings.iter().any(|f| f.issue.contains("blocked")),
            "{r:?}"
        );
        // The processor corrects event 3: a reversal. 3 and 4 apply.
        d.ingest(ev(
            "e3b",
            "dp_1",
            3,
            EventKind::Closed {
                outcome: Outcome::Reversed,
            },
        ))
        .await
        .unwrap();
        let x = d.get("dp_1").await.unwrap();
        assert_eq!(
            (x.status, x.held(), x.next_sequence),
            (Status::Reversed, 0, 5)
        );
        assert!(x.blocked.is_none());
        let r = d.reconcile().await.unwrap();
        assert!(r.findings.is_empty(), "{r:?}");
        assert_eq!(
            r.totals["EUR"]["merchant_balance"], -1500,
            "the fee stays charged"
        );
    });
}

#[test]
fn reconciliation_finds_money_still_held_after_a_win() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        let items = crate::common::complete_package(d.table(), "visa", "13.1");
        crate::common::add_all(&d, "dp_1", items).await;
        d.submit("dp_1", "ada").await.unwrap();
        d.ingest(ev("e2", "dp_1", 2, withdrawn())).await.unwrap();
        d.ingest(ev(
            "e3",
            "dp_1",
            3,
            EventKind::Closed {
                outcome: Outcome::Won,
            },
        ))
        .await
        .unwrap();
        let r = d.reconcile().await.unwrap();
        assert_eq!(r.findings.len(), 1, "{r:?}");
        assert!(r.findings[0].issue.contains("awaiting reinstatement"));
        let s = d.stats().await.unwrap();
        assert_eq!(s.by_reason["visa 13.1"].win_rate(), Some(1.0));
    });
}

#[test]
fn hostile_events_are_refused() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        for bad in [
            ev("", "dp_1", 2, withdrawn()),
            ev("x", "dp_1", 0, withdrawn()),
            ev("x", "../etc", 2, withdrawn()),
            ev(
                "x",
                "dp_1",
                2,
                EventKind::FundsWithdrawn {
                    amount: eur(-5),
                    fee: None,
                },
            ),
            ev(
                "x",
                "dp_1",
                2,
                EventKind::FundsWithdrawn {
                    amount: eur(i64::MAX),
                    fee: None,
                },
            ),
            ev(
                "x",
                "dp_1",
                2,
                EventKind::FundsWithdrawn {
                    amount: blocksmith_dispute::Money::new(5, "eur"),
                    fee: None,
                },
            ),
            ev("x", "dp_1", 9, created("dp_1", "visa", "13.1")),
            ev("x", "dp_2", 1, created("dp_2", "visa", "99.9")),
        ] {
            assert!(d.ingest(bad.clone()).await.is_err(), "{bad:?}");
        }
        assert_eq!(d.get("dp_1").await.unwrap().applied.len(), 1);
        // JSON with unknown fields is refused by the type.
        let j = r#"{"id":"e","dispute":"dp_1","sequence":2,"at_ms":1,"kind":{"type":"closed","outcome":"won"},"extra":1}"#;
        assert!(serde_json::from_str::<blocksmith_dispute::NetworkEvent>(j).is_err());
    });
}
