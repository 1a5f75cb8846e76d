//! The lifecycle through the public API: each stage, every refusal typed
//! and changing nothing.

use crate::common::{DAY, T0, add_all, complete_package, eur, ev, open, service};
use blocksmith_dispute::{
    Account, Error, EventKind, Evidence, MemoryHooks, Money, OpenDispute, Outcome, Stage, Status,
    TxKind,
};
use blocksmith_flow::ManualClock;
use blocksmith_store::{MemoryStore, StoreExt as _, block_on};

#[test]
fn a_chargeback_is_won_with_evidence_and_the_money_comes_back() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let hooks = MemoryHooks::new();
        let d = service(MemoryStore::new(), &clock, &hooks);
        d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        let items = complete_package(d.table(), "visa", "13.1");
        add_all(&d, "dp_1", items).await;
        let s = d.submit("dp_1", "ada").await.unwrap();
        assert_eq!(s.status, Status::UnderReview);
        d.run_due().await.unwrap();
        assert!(d.get("dp_1").await.unwrap().rounds[0].delivered);
        let withdrawn = EventKind::FundsWithdrawn {
            amount: eur(4999),
            fee: Some(eur(1500)),
        };
        d.ingest(ev("e2", "dp_1", 2, withdrawn)).await.unwrap();
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
        let reinstated = EventKind::FundsReinstated {
            amount: eur(4999),
            fee_refund: Some(eur(1500)),
        };
        d.ingest(ev("e4", "dp_1", 4, reinstated)).await.unwrap();
        let x = d.get("dp_1").await.unwrap();
        assert_eq!(x.status, Status::Won);
        assert_eq!(x.held(), 0);
        assert_eq!(x.balance(Account::MerchantBalance), 0);
        assert_eq!(x.balance(Account::DisputeFees), 0);
        assert!(x.ledger_balanced());
        let kinds: Vec<TxKind> = x.ledger.iter().map(|t| t.kind).collect();
        assert_eq!(kinds, [TxKind::FundsWithdrawn, TxKind::FundsReinstated]);
        // Decided and settled: late events are still taken for the retire
        // window (120 days), then the workflow completes and refuses them.
        d.run_due().await.unwrap();
        clock.set(T0 + 121 * DAY);
        d.run_due().await.unwrap();
        let late = ev(
            "e5",
            "dp_1",
            5,
            EventKind::Closed {
                outcome: Outcome::Lost,
            },
        );
        assert!(matches!(d.ingest(late).await, Err(Error::Closed(_))));
        assert_eq!(hooks.effects().len(), 1);
    });
}

#[test]
fn a_loss_and_an_acceptance_turn_held_funds_into_losses() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        for id in ["dp_l", "dp_a"] {
            d.open(open("mastercard", "4855", id)).await.unwrap();
            let w = EventKind::FundsWithdrawn {
                amount: eur(4999),
                fee: Some(eur(1500)),
            };
            d.ingest(ev(&format!("{id}-w"), id, 2, w)).await.unwrap();
        }
        d.ingest(ev(
            "l3",
            "dp_l",
            3,
            EventKind::Closed {
                outcome: Outcome::Lost,
            },
        ))
        .await
        .unwrap();
        d.accept("dp_a", "ada").await.unwrap();
        d.run_due().await.unwrap();
        for id in ["dp_l", "dp_a"] {
            let x = d.get(id).await.unwrap();
            assert_eq!(x.held(), 0, "{id}");
            assert_eq!(x.balance(Account::ChargebackLosses), 4999, "{id}");
            assert_eq!(x.balance(Account::MerchantBalance), -6499, "{id}");
            assert!(x.ledger_balanced());
        }
        assert_eq!(d.get("dp_a").await.unwrap().status, Status::Accepted);
        let stats = d.stats().await.unwrap();
        assert_eq!(stats.by_reason["mastercard 4855"].lost, 2);
        assert_eq!(stats.by_reason["mastercard 4855"].win_rate(), Some(0.0));
    });
}

#[test]
fn an_inquiry_closes_or_becomes_a_chargeback() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        d.open(open("visa", "13.3", "dp_q").as_inquiry())
            .await
            .unwrap();
        let x = d.get("dp_q").await.unwrap();
        assert_eq!(
            (x.status, x.stage),
            (Status::WarningNeedsResponse, Stage::Inquiry)
        );
        // An inquiry has no money: a withdrawal is refused.
        let w = EventKind::FundsWithdrawn {
            amount: eur(4999),
            fee: None,
        };
        assert!(matches!(
            d.ingest(ev("q2", "dp_q", 2, w)).await,
            Err(Error::InvalidTransition { .. })
        ));
        d.add_evidence("dp_q", Evidence::text("receipt", "order 7").by("bo"))
            .await
            .unwrap();
        let s = d.submit("dp_q", "bo").await.unwrap();
        assert_eq!(s.status, Status::WarningUnderReview);
        // The issuer escalates: a chargeback with its own window and checklist.
        let esc = EventKind::Escalated {
            stage: Stage::Chargeback,
            due_by_ms: None,
        };
        d.ingest(ev("q2", "dp_q", 2, esc)).await.unwrap();
        let x = d.get("dp_q").await.unwrap();
        assert_eq!(
            (x.status, x.stage, x.rounds.len()),
            (Status::NeedsResponse, Stage::Chargeback, 2)
        );
        assert!(!x.missing().is_empty());

        d.open(open("visa", "13.3", "dp_r").as_inquiry())
            .await
            .unwrap();
        d.ingest(ev(
            "r2",
            "dp_r",
            2,
            EventKind::Closed {
                outcome: Outcome::WarningClosed,
            },
        ))
        .await
        .unwrap();
        assert_eq!(d.get("dp_r").await.unwrap().status, Status::WarningClosed);
    });
}

#[test]
fn visa_goes_to_pre_arbitration_and_arbitration_amex_does_not() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        d.open(open("visa", "13.1", "dp_v")).await.unwrap();
        let items = complete_package(d.table(), "visa", "13.1");
        add_all(&d, "dp_v", items).await;
        d.submit("dp_v", "ada").await.unwrap();
        let pre = EventKind::Escalated {
            stage: Stage::PreArbitration,
            due_by_ms: None,
        };
        d.ingest(ev("v2", "dp_v", 2, pre)).await.unwrap();
        let x = d.get("dp_v").await.unwrap();
        assert_eq!(
            (x.status, x.stage),
            (Status::NeedsResponse, Stage::PreArbitration)
        );
        // Earlier items count; the new round is submitted once more.
        d.add_evidence(
            "dp_v",
            Evidence::text("customer_communication", "chat log").by("ada"),
        )
        .await
        .unwrap();
        d.submit("dp_v", "ada").await.unwrap();
        let arb = EventKind::Escalated {
            stage: Stage::Arbitration,
            due_by_ms: None,
        };
        d.ingest(ev("v3", "dp_v", 3, arb)).await.unwrap();
        d.ingest(ev(
            "v4",
            "dp_v",
            4,
            EventKind::Closed {
                outcome: Outcome::Won,
            },
        ))
        .await
        .unwrap();
        assert_eq!(d.get("dp_v").await.unwrap().status, Status::Won);

        // Mastercard calls the response a second presentment.
        let m = d.open(open("mastercard", "4853", "dp_m")).await.unwrap();
        assert_eq!(m.rules.unwrap().network.response_name, "second_presentment");

        d.open(open("amex", "C08", "dp_x")).await.unwrap();
        let items = complete_package(d.table(), "amex", "C08");
        add_all(&d, "dp_x", items).await;
        d.submit("dp_x", "ada").await.unwrap();
        let pre = EventKind::Escalated {
            stage: Stage::PreArbitration,
            due_by_ms: None,
        };
        assert!(matches!(
            d.ingest(ev("x2", "dp_x", 2, pre)).await,
            Err(Error::InvalidTransition { .. })
        ));
    });
}

#[test]
fn invalid_changes_are_typed_errors_and_change_nothing() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        d.open(open("visa", "10.4", "dp_1")).await.unwrap();
        let before = d.get("dp_1").await.unwrap();
        // Won before a submission.
        let won = ev(
            "e2",
            "dp_1",
            2,
            EventKind::Closed {
                outcome: Outcome::Won,
            },
        );
        match d.ingest(won.clone()).await {
            Err(Error::InvalidTransition { status, .. }) => {
                assert_eq!(status, Status::NeedsResponse);
            }
            other => panic!("{other:?}"),
        }
        // Reinstated beyond what is held.
        let r = EventKind::FundsReinstated {
            amount: eur(1),
            fee_refund: None,
        };
        assert!(matches!(
            d.ingest(ev("e2b", "dp_1", 2, r)).await,
            Err(Error::InvalidTransition { .. })
        ));
        // Another currency.
        let w = EventKind::FundsWithdrawn {
            amount: Money::new(4999, "USD"),
            fee: None,
        };
        assert!(matches!(
            d.ingest(ev("e2c", "dp_1", 2, w)).await,
            Err(Error::Invalid { .. })
        ));
        // Submission with nothing in the package names what is missing.
        match d.submit("dp_1", "ada").await {
            Err(Error::EvidenceIncomplete { missing }) => assert_eq!(missing.len(), 3),
            other => panic!("{other:?}"),
        }
        // An unknown kind and a missing field.
        assert!(matches!(
            d.add_evidence("dp_1", Evidence::text("selfie", "x")).await,
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            d.add_evidence("dp_1", Evidence::text("proof_of_delivery", "x"))
                .await,
            Err(Error::Invalid { .. })
        ));
        let bad_date = Evidence::text("proof_of_delivery", "x")
            .with_field("tracking_number", "1Z999")
            .with_field("delivered_on", "20/05/2026");
        assert!(matches!(
            d.add_evidence("dp_1", bad_date).await,
            Err(Error::Invalid { .. })
        ));
        assert_eq!(d.get("dp_1").await.unwrap(), before, "nothing changed");
        // The refused event's id and number are still free.
        let w = EventKind::FundsWithdrawn {
            amount: eur(4999),
            fee: None,
        };
        d.ingest(ev("e2", "dp_1", 2, w)).await.unwrap();
        assert_eq!(d.get("dp_1").await.unwrap().held(), 4999);
    });
}

#[test]
fn evidence_after_the_deadline_and_a_second_submission_are_refused() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        let x = d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        let due = x.due_ms().unwrap();
        // Visa: 30 days, less the 2-day margin, at the end of the UTC day.
        assert_eq!(due, T0 + 29 * DAY - 1);
        clock.set(due + 1);
        let e = crate::common::item(d.table(), "receipt");
        match d.add_evidence("dp_1", e).await {
            Err(Error::DeadlinePassed { due_ms, .. }) => assert_eq!(due_ms, due),
            other => panic!("{other:?}"),
        }
        d.open(open("visa", "13.1", "dp_2")).await.unwrap();
        let items = complete_package(d.table(), "visa", "13.1");
        clock.set(T0 + DAY);
        d.open(open("visa", "13.1", "dp_3")).await.unwrap();
        add_all(&d, "dp_3", items).await;
        d.submit("dp_3", "ada").await.unwrap();
        // Single use.
        assert!(matches!(
            d.submit("dp_3", "ada").await,
            Err(Error::AlreadySubmitted)
        ));
        let e = crate::common::item(d.table(), "receipt");
        assert!(matches!(
            d.add_evidence("dp_3", e).await,
            Err(Error::InvalidTransition { .. })
        ));
    });
}

#[test]
fn files_are_checked_stored_by_hash_and_read_back() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new()).with_options(
            blocksmith_dispute::DisputeOptions::default().with_evidence_limits(1000, 900, 50),
        );
        d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        let pdf = b"%PDF-1.7\n% delivery confirmation\n".to_vec();
        let item = d
            .add_evidence(
                "dp_1",
                Evidence::file("proof_of_delivery", "pod.pdf", pdf.clone())
                    .with_field("tracking_number", "1Z999AA10123456784")
                    .with_field("delivered_on", "2026-05-20")
                    .with_id("pod")
                    .by("ada"),
            )
            .await
            .unwrap();
        match &item.content {
            blocksmith_dispute::Content::File {
                content_type,
                bytes,
                ..
            } => {
                assert_eq!(
                    (content_type.as_str(), *bytes),
                    ("application/pdf", pdf.len() as u64)
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(d.file("dp_1", "pod").await.unwrap(), pdf);
        // The same id again is a duplicate, not a second item.
        let again = Evidence::file("proof_of_delivery", "pod.pdf", pdf.clone())
            .with_field("tracking_number", "1Z999AA10123456784")
            .with_field("delivered_on", "2026-05-20")
            .with_id("pod");
        d.add_evidence("dp_1", again).await.unwrap();
        assert_eq!(d.get("dp_1").await.unwrap().evidence.len(), 1);
        // An executable, a file over the limit, a package over the cap.
        let exe = Evidence::file("receipt", "a.exe", b"MZ\x90\x00\x03\x00".to_vec());
        assert!(matches!(
            d.add_evidence("dp_1", exe).await,
            Err(Error::EvidenceLimit(_))
        ));
        let big = Evidence::file("receipt", "big.txt", vec![b'a'; 1001]);
        assert!(matches!(
            d.add_evidence("dp_1", big).await,
            Err(Error::EvidenceLimit(_))
        ));
        let fits = Evidence::file("receipt", "r.txt", vec![b'a'; 900]);
        assert!(matches!(
            d.add_evidence("dp_1", fits).await,
            Err(Error::EvidenceLimit(_))
        ));
        // Removal, with who did what in the audit.
        d.remove_evidence("dp_1", "pod", "bo").await.unwrap();
        let x = d.get("dp_1").await.unwrap();
        assert!(x.evidence.is_empty());
        let trail: Vec<(&str, &str)> = x
            .audit
            .iter()
            .map(|a| (a.actor.as_str(), a.action.as_str()))
            .collect();
        assert_eq!(
            trail,
            [
                ("network", "created"),
                ("ada", "evidence_added"),
                ("bo", "evidence_removed")
            ]
        );
        // The removed item's file went with it.
        let files = d
            .engine()
            .store()
            .blocking()
            .list_all("dispute/files/")
            .unwrap();
        assert!(files.is_empty(), "{files:?}");
        // A refused add stores nothing: a file too big for what is left
        // of the package cap.
        d.add_evidence("dp_1", Evidence::file("receipt", "r.txt", vec![b'a'; 800]))
            .await
            .unwrap();
        let over = Evidence::file("uncategorized", "u.txt", vec![b'b'; 200]);
        assert!(matches!(
            d.add_evidence("dp_1", over).await,
            Err(Error::EvidenceLimit(_))
        ));
        let files = d
            .engine()
            .store()
            .blocking()
            .list_all("dispute/files/")
            .unwrap();
        assert_eq!(files.len(), 1, "{files:?}");
        // An id names one item: reused for another, it is an error.
        let a = Evidence::text("receipt", "first").with_id("dup");
        d.add_evidence("dp_1", a).await.unwrap();
        let b = Evidence::text("receipt", "second").with_id("dup");
        assert!(matches!(
            d.add_evidence("dp_1", b).await,
            Err(Error::Invalid { .. })
        ));
        // File names are names, not paths or direction tricks.
        for bad in ["../x.pdf", "a/b.pdf", "inv\u{202E}fdp.exe"] {
            let e = Evidence::file("receipt", bad, b"%PDF-1.4".to_vec());
            assert!(
                matches!(d.add_evidence("dp_1", e).await, Err(Error::Invalid { .. })),
                "{bad}"
            );
        }
    });
}

#[test]
fn a_dispute_in_another_currency_keeps_both_amounts() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
        let req = OpenDispute::new("ch_9", eur(4999), "visa", "12.5")
            .with_id("dp_fx")
            .with_settlement(Money::new(5421, "USD"));
        d.open(req).await.unwrap();
        let w = EventKind::FundsWithdrawn {
            amount: Money::new(5421, "USD"),
            fee: Some(Money::new(1500, "USD")),
        };
        d.ingest(ev("w", "dp_fx", 2, w)).await.unwrap();
        let x = d.get("dp_fx").await.unwrap();
        let t = &x.ledger[0];
        assert_eq!(t.currency, "USD");
        assert_eq!(t.original, Some(eur(4999)));
        assert_eq!(x.held(), 5421);
        let s = d.stats().await.unwrap();
        assert_eq!(s.at_risk["EUR"], 4999);
        assert_eq!(s.held["USD"], 5421);
    });
}

#[test]
fn the_blocking_twin_runs_a_dispute_from_synchronous_code() {
    let clock = ManualClock::new(T0);
    let d = service(MemoryStore::new(), &clock, &MemoryHooks::new());
    let b = d.blocking();
    b.open(open("visa", "13.1", "dp_1")).unwrap();
    for e in complete_package(d.table(), "visa", "13.1") {
        b.add_evidence("dp_1", e).unwrap();
    }
    assert_eq!(b.submit("dp_1", "ada").unwrap().status, Status::UnderReview);
    b.run_due().unwrap();
    let w = EventKind::FundsWithdrawn {
        amount: eur(4999),
        fee: None,
    };
    b.ingest(ev("e2", "dp_1", 2, w)).unwrap();
    assert_eq!(b.get("dp_1").unwrap().held(), 4999);
    assert_eq!(b.due(u64::MAX, 10, None).unwrap().len(), 0);
    assert_eq!(b.stats().unwrap().held["EUR"], 4999);
    assert!(b.reconcile().unwrap().findings.is_empty());
}
