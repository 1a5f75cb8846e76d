//! Reminders and deadlines through flow timers: each fires once, on time
//! or late after a restart; the deadline's default action runs.

use crate::common::{DAY, T0, add_all, complete_package, open, service};
use blocksmith_dispute::{DeadlineAction, DisputeOptions, Error, Evidence, MemoryHooks, Status};
use blocksmith_flow::ManualClock;
use blocksmith_store::{MemoryStore, block_on};
use std::sync::Arc;

#[test]
fn reminders_fire_at_their_offsets_and_the_deadline_auto_accepts() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let hooks = MemoryHooks::new();
        let d = service(MemoryStore::new(), &clock, &hooks);
        let due = d
            .open(open("visa", "13.1", "dp_1"))
            .await
            .unwrap()
            .due_ms()
            .unwrap();
        d.run_due().await.unwrap();
        assert!(hooks.effects().is_empty());
        let mut seen = Vec::new();
        for (at, expect) in [
            (due - 7 * DAY, "remind dp_1 0 604800000"),
            (due - 3 * DAY, "remind dp_1 0 259200000"),
            (due - DAY, "remind dp_1 0 86400000"),
            (due, "accept dp_1"),
        ] {
            clock.set(at - 1);
            d.run_due().await.unwrap();
            assert_eq!(hooks.effects(), seen, "nothing before {expect}");
            clock.set(at);
            d.run_due().await.unwrap();
            seen.push(expect.to_string());
            assert_eq!(hooks.effects(), seen);
        }
        let x = d.get("dp_1").await.unwrap();
        assert_eq!(x.status, Status::Accepted);
        assert!(x.rounds[0].deadline_fired);
        assert_eq!(x.reminders_fired.len(), 3);
        clock.set(due + 30 * DAY);
        d.run_due().await.unwrap();
        assert_eq!(hooks.effects(), seen, "nothing fires twice");
    });
}

#[test]
fn a_restarted_process_fires_every_missed_reminder_and_deadline_once() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let clock = ManualClock::new(T0);
        let hooks = MemoryHooks::new();
        let due = {
            let d = service(store.clone(), &clock, &hooks);
            let due = d
                .open(open("visa", "13.1", "dp_1"))
                .await
                .unwrap()
                .due_ms()
                .unwrap();
            d.open(open("visa", "13.1", "dp_2")).await.unwrap();
            let items = complete_package(d.table(), "visa", "13.1");
            add_all(&d, "dp_2", items).await;
            d.submit("dp_2", "ada").await.unwrap();
            due
        }; // the process dies before any timer is due
        clock.set(due + 5 * DAY);
        let d = service(store.clone(), &clock, &hooks);
        d.run_due().await.unwrap();
        d.run_due().await.unwrap();
        let e = hooks.effects();
        let count = |p: &str| e.iter().filter(|x| x.starts_with(p)).count();
        assert_eq!(count("remind dp_1"), 3, "{e:?}");
        assert_eq!(count("accept dp_1"), 1, "{e:?}");
        assert_eq!(count("remind dp_2"), 0, "submitted: no reminder, {e:?}");
        assert_eq!(count("accept dp_2"), 0, "{e:?}");
        assert_eq!(d.get("dp_2").await.unwrap().status, Status::UnderReview);
    });
}

#[test]
fn escalation_calls_people_and_keeps_the_dispute_open() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let hooks = MemoryHooks::new();
        let d = service(MemoryStore::new(), &clock, &hooks).with_options(
            DisputeOptions::default()
                .with_on_deadline(DeadlineAction::Escalate)
                .with_reminders_ms(vec![]),
        );
        let due = d
            .open(open("amex", "C08", "dp_1"))
            .await
            .unwrap()
            .due_ms()
            .unwrap();
        clock.set(due + 1);
        d.run_due().await.unwrap();
        assert_eq!(hooks.effects(), ["escalate dp_1 0"]);
        assert_eq!(d.get("dp_1").await.unwrap().status, Status::NeedsResponse);
        let e = crate::common::item(d.table(), "receipt");
        assert!(matches!(
            d.add_evidence("dp_1", e).await,
            Err(Error::DeadlinePassed { .. })
        ));
        // The merchant may still concede.
        assert_eq!(
            d.accept("dp_1", "ada").await.unwrap().status,
            Status::Accepted
        );
    });
}

#[test]
fn deadlines_count_calendar_days_in_the_acquirers_zone() {
    block_on(async {
        // 2026-03-01 23:30 in Los Angeles is 2 March 07:30 UTC.
        let opened = 1_772_436_600_000;
        let clock = ManualClock::new(opened);
        let d = service(MemoryStore::new(), &clock, &MemoryHooks::new()).with_options(
            DisputeOptions::default()
                .with_timezone("America/Los_Angeles")
                .with_safety_margin_days(0),
        );
        let due = d
            .open(open("amex", "C08", "dp_1"))
            .await
            .unwrap()
            .due_ms()
            .unwrap();
        // 20 days from 1 March (local) end on 21 March 23:59:59.999 PDT
        // (DST began on 8 March): 22 March 06:59:59.999 UTC.
        assert_eq!(due, 1_774_162_799_999);
        let bad = service(MemoryStore::new(), &clock, &MemoryHooks::new())
            .with_options(DisputeOptions::default().with_timezone("Mars/Olympus_Mons"));
        assert!(matches!(
            bad.open(open("amex", "C08", "dp_1")).await,
            Err(Error::Invalid { .. })
        ));
    });
}

#[test]
fn a_submission_the_processor_refuses_reopens_the_response() {
    block_on(async {
        let clock = ManualClock::new(T0);
        let hooks = MemoryHooks::new();
        let d = service(MemoryStore::new(), &clock, &hooks).with_options(
            DisputeOptions::default().with_hook_retry(blocksmith_flow::RetryPolicy::none()),
        );
        d.open(open("visa", "13.1", "dp_1")).await.unwrap();
        let items = complete_package(d.table(), "visa", "13.1");
        add_all(&d, "dp_1", items).await;
        hooks.failing("submit", true);
        d.submit("dp_1", "ada").await.unwrap();
        d.run_due().await.unwrap();
        let x = d.get("dp_1").await.unwrap();
        assert_eq!(x.status, Status::NeedsResponse);
        assert_eq!(x.hook_failures.len(), 1);
        hooks.healed();
        d.add_evidence(
            "dp_1",
            Evidence::text("customer_communication", "emails").by("ada"),
        )
        .await
        .unwrap();
        assert_eq!(
            d.submit("dp_1", "ada").await.unwrap().status,
            Status::UnderReview
        );
        d.run_due().await.unwrap();
        assert!(d.get("dp_1").await.unwrap().rounds[0].delivered);
        assert_eq!(hooks.effects().len(), 1);
    });
}
