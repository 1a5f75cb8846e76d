//! What the security review found, each now refused: forged event ids that
//! collide with merchant actions, damaged records (a waiting event under
//! another number, a timer id at the edge of the integers), withdrawals
//! beyond the disputed amount, refused events that used to leave records
//! or index entries behind, control characters in actors, one bad index
//! entry failing the whole queue.

use crate::common::{DAY, T0, add_all, complete_package, created, eur, ev, open, service};
use blocksmith_dispute::model::DisputeFlow;
use blocksmith_dispute::{
    Dispute, Error, EventKind, Evidence, Ingested, MemoryHooks, Outcome, Status,
};
use blocksmith_flow::{Event, ManualClock, Workflow};
use blocksmith_store::{Key, MemoryStore, PutOptions, Store, StoreExt as _, block_on};
use bytes::Bytes;

#[test]
fn event_ids_never_collide_with_merchant_actions() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        // Events named like the service's own action ids, parked ahead.
        for (i, id) in ["accept", "submit:1:0", "add:ev1"].iter().enumerate() {
            let e = ev(
                id,
                "dp_1",
                900 + i as u64,
                EventKind::Closed {
                    outcome: Outcome::Lost,
                },
            );
            assert_eq!(d.ingest(e).await.unwrap(), Ingested::Waiting);
        }
        add_all(&d, "dp_1", complete_package(d.table(), "visa", "13.1")).await;
        assert_eq!(
            d.submit("dp_1", "ada").await.unwrap().status,
            Status::UnderReview
        );
        let mut e = crate::common::item(d.table(), "customer_communication");
        e = e.with_id("ev1");
        assert!(
            d.add_evidence("dp_1", e).await.is_err(),
            "submitted: no more evidence"
        );
    });
}

#[test]
fn withdrawals_never_exceed_the_disputed_amount() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        let w = |n| EventKind::FundsWithdrawn {
            amount: eur(n),
            fee: None,
        };
        // More than disputed at once.
        assert!(matches!(
            d.ingest(ev("w0", "dp_1", 2, w(5000))).await,
            Err(Error::InvalidTransition { .. })
        ));
        d.ingest(ev("w1", "dp_1", 2, w(4999))).await.unwrap();
        d.ingest(ev(
            "l",
            "dp_1",
            3,
            EventKind::Closed {
                outcome: Outcome::Lost,
            },
        ))
        .await
        .unwrap();
        // Lost: held is 0 again, but the amount is out already.
        for (i, n) in [4999, 900_000_000].into_iter().enumerate() {
            let r = d.ingest(ev(&format!("w{}", i + 2), "dp_1", 4, w(n))).await;
            assert!(matches!(r, Err(Error::InvalidTransition { .. })), "{r:?}");
        }
        let x = d.get("dp_1").await.unwrap();
        assert_eq!(
            x.balance(blocksmith_dispute::Account::ChargebackLosses),
            4999
        );
    });
}

fn mutated(d: &Dispute, f: impl FnOnce(&mut serde_json::Value)) -> Dispute {
    let mut v = serde_json::to_value(d).unwrap();
    f(&mut v);
    serde_json::from_value(v).unwrap()
}

#[test]
fn damaged_records_never_hang_or_panic_a_worker() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        let x = d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        // A waiting event filed under another number: it blocks, the
        // transition returns.
        let e2 = ev(
            "e2",
            "dp_1",
            2,
            EventKind::FundsWithdrawn {
                amount: eur(10),
                fee: None,
            },
        );
        let mut bad = mutated(&x, |v| {
            v["waiting"]["3"] = serde_json::json!({ "event": e2, "rules": null });
        });
        let next = ev(
            "e2x",
            "dp_1",
            2,
            EventKind::FundsWithdrawn {
                amount: eur(10),
                fee: None,
            },
        );
        let t = std::time::Instant::now();
        let input = blocksmith_dispute::model::Input::Network {
            event: next,
            rules: None,
            policy: None,
        };
        let _ = bad.apply(&input);
        assert!(t.elapsed().as_secs() < 2);
        assert!(bad.blocked.is_some());
        // Timer ids at the edge of the integers.
        let mut state = x.clone();
        for id in [
            "deadline-18446744073709551615",
            "remind-18446744073709551615-1",
            "remind-x",
            "retire",
        ] {
            let _ = DisputeFlow.react(&mut state, &Event::TimerFired { id: id.into() });
        }
        // A dispute awaiting a response with no round.
        let mut odd = mutated(&x, |v| v["rounds"] = serde_json::json!([]));
        let submit = blocksmith_dispute::model::Input::Merchant {
            actor: "a".into(),
            at_ms: T0,
            action: blocksmith_dispute::model::Action::Submit { round: 0 },
        };
        assert!(odd.apply(&submit).is_err());
    });
}

#[test]
fn refused_events_leave_no_record_and_no_index_entry() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        let store = d.engine().store().clone();
        // Number 1 that is not `created`: no pending record.
        for i in 0..5 {
            let e = ev(
                "x",
                &format!("dp_{i}"),
                1,
                EventKind::Closed {
                    outcome: Outcome::Won,
                },
            );
            assert!(d.ingest(e).await.is_err());
        }
        assert!(
            store
                .blocking()
                .list_all("dispute-flow/i/")
                .unwrap()
                .is_empty()
        );
        // A created event that is refused (a dispute cannot open in
        // arbitration), or replayed with another time: no index entries.
        let mut bad = created("dp_a", "visa", "13.1");
        if let EventKind::Created { stage, .. } = &mut bad {
            *stage = blocksmith_dispute::Stage::Arbitration;
        }
        assert!(d.ingest(ev("c", "dp_a", 1, bad)).await.is_err());
        d.open(open("visa", "13.1", "dp_b")).await.unwrap();
        for k in 0..5 {
            let mut e = ev("open:dp_b", "dp_b", 1, created("dp_b", "visa", "13.1"));
            e.at_ms = T0 + k * DAY;
            assert_eq!(d.ingest(e).await.unwrap(), Ingested::Duplicate);
        }
        let idx = store.blocking().list_all("dispute/due/").unwrap();
        assert_eq!(idx.len(), 1, "{idx:?}");
    });
}

#[test]
fn one_bad_index_entry_does_not_fail_the_queue() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        let store = d.engine().store().clone();
        for k in [
            "dispute/due/0000000000000001/bad id",
            "dispute/due/x/y",
            "dispute/due/0000000000000002",
        ] {
            store
                .put(&Key::new(k).unwrap(), Bytes::new(), PutOptions::default())
                .await
                .unwrap();
        }
        let rows = d.due(u64::MAX, 10, None).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert!(d.due(u64::MAX, 0, None).await.unwrap().is_empty());
    });
}

#[test]
fn actors_are_printable() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        let e = Evidence::text("receipt", "x").by("ada\u{1b}[2J");
        assert!(d.add_evidence("dp_1", e).await.is_err());
        assert!(d.accept("dp_1", "bo\u{202E}").await.is_err());
    });
}

fn pdf(t: &str) -> Vec<u8> {
    format!("%PDF-1.4 {t}").into_bytes()
}

async fn files<S: Store + 'static>(d: &blocksmith_dispute::Disputes<S>) -> usize {
    d.engine()
        .store()
        .list_all("dispute/files/")
        .await
        .unwrap()
        .len()
}

#[test]
fn refused_evidence_ids_leave_no_files() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        let f = |id: &str, t: &str| {
            Evidence::file("receipt", "r.pdf", pdf(t))
                .with_id(id)
                .by("ada")
        };
        d.add_evidence("dp_1", f("a", "orig")).await.unwrap();
        for i in 0..5 {
            let r = d.add_evidence("dp_1", f("a", &format!("other {i}"))).await;
            assert!(matches!(r, Err(Error::Invalid { .. })), "{r:?}");
        }
        assert_eq!(files(&d).await, 1);
        // The same item again is a retry.
        d.add_evidence("dp_1", f("a", "orig")).await.unwrap();
        // A removed id is never used again, and leaves nothing behind.
        d.add_evidence("dp_1", f("b", "b")).await.unwrap();
        d.remove_evidence("dp_1", "b", "ada").await.unwrap();
        assert!(d.add_evidence("dp_1", f("b", "b2")).await.is_err());
        assert!(d.add_evidence("dp_1", f("b", "b")).await.is_err());
        assert_eq!(files(&d).await, 1);
    });
}

#[test]
fn items_with_the_same_bytes_keep_their_own_files() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        for id in ["a", "b"] {
            let e = Evidence::file("receipt", "r.pdf", pdf("same"))
                .with_id(id)
                .by("ada");
            d.add_evidence("dp_1", e).await.unwrap();
        }
        d.remove_evidence("dp_1", "a", "bo").await.unwrap();
        assert_eq!(d.file("dp_1", "b").await.unwrap(), pdf("same"));
        assert!(matches!(
            d.file("dp_1", "a").await,
            Err(Error::NoEvidence { .. })
        ));
    });
}

#[test]
fn an_unreadable_record_is_named_not_fatal() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        d.open(open("visa", "13.1", "dp_2")).await.unwrap();
        d.engine()
            .store()
            .put(
                &Key::new("dispute-flow/i/dp_2").unwrap(),
                Bytes::from_static(b"garbage"),
                PutOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(d.due(u64::MAX, 10, None).await.unwrap().len(), 1);
        assert_eq!(d.list().await.unwrap().len(), 1);
        d.stats().await.unwrap();
        let r = d.reconcile().await.unwrap();
        assert!(
            r.findings
                .iter()
                .any(|f| f.id.contains("dp_2") && f.issue.contains("does not read")),
            "{r:?}"
        );
    });
}
