//! Durable timers, signals (deduplicated, in any order), the due-time
//! index, and retention.

use crate::common::{Approval, ApprovalInput, Sink, T0, clock, registry};
use blocksmith_flow::{Engine, Error, FlowOptions, ListFilter, Signalled, StartOptions, Status};
use blocksmith_store::{MemoryStore, StoreExt, block_on};
use serde_json::json;

#[test]
fn a_signal_before_the_deadline_wins_and_duplicates_change_nothing() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let clock = clock();
        let engine = Engine::new(&store, registry(&sink)).with_clock(clock.clone());
        let input = ApprovalInput {
            deadline_ms: T0 + 60_000,
        };
        let id = engine
            .start::<Approval>(&input, StartOptions::default().with_id("dispute-1"))
            .await
            .unwrap()
            .id;
        let mut w = engine.worker("w").unwrap();
        w.run_until_idle(10).await.unwrap();
        // Out of order: a note first, the same webhook twice.
        assert_eq!(
            engine
                .signal(&id, "note", "evt-1", json!({"n": 1}))
                .await
                .unwrap(),
            Signalled::Delivered
        );
        assert_eq!(
            engine
                .signal(&id, "note", "evt-1", json!({"n": 1}))
                .await
                .unwrap(),
            Signalled::Duplicate
        );
        clock.advance(30_000);
        assert_eq!(
            engine
                .signal(&id, "approve", "evt-2", json!({}))
                .await
                .unwrap(),
            Signalled::Delivered
        );
        assert_eq!(
            engine
                .signal(&id, "approve", "evt-2", json!({}))
                .await
                .unwrap(),
            Signalled::Duplicate
        );
        w.run_until_idle(10).await.unwrap();
        let v = engine.get(&id).await.unwrap().unwrap();
        assert_eq!(v.status, Status::Completed);
        assert_eq!(v.state["notes"], 1);
        assert!(v.timers.is_empty(), "the deadline was cancelled");
        assert_eq!(sink.effects_of(&id), ["provision"]);
        // Past the old deadline nothing happens.
        clock.advance(60_000);
        w.run_until_idle(10).await.unwrap();
        assert_eq!(
            engine.get(&id).await.unwrap().unwrap().status,
            Status::Completed
        );
        // A finished instance takes no signals; an unknown one is NotFound.
        assert!(matches!(
            engine.signal(&id, "approve", "evt-3", json!({})).await,
            Err(Error::Finished(_))
        ));
        assert!(matches!(
            engine.signal("nope", "approve", "evt-3", json!({})).await,
            Err(Error::NotFound(_))
        ));
    });
}

#[test]
fn a_deadline_fires_after_a_restart() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let clock = clock();
        let id = {
            let engine = Engine::new(&store, registry(&sink)).with_clock(clock.clone());
            let input = ApprovalInput {
                deadline_ms: T0 + 1_000,
            };
            let id = engine
                .start::<Approval>(&input, StartOptions::default())
                .await
                .unwrap()
                .id;
            engine
                .worker("w")
                .unwrap()
                .run_until_idle(10)
                .await
                .unwrap();
            id
        };
        // A new process, long after its predecessor died.
        clock.advance(3_600_000);
        let engine = Engine::new(&store, registry(&sink)).with_clock(clock.clone());
        let r = engine
            .worker("w2")
            .unwrap()
            .run_until_idle(10)
            .await
            .unwrap();
        assert_eq!(r.timers, 1);
        let v = engine.get(&id).await.unwrap().unwrap();
        assert_eq!(v.status, Status::RolledBack);
        assert_eq!(v.failure.unwrap(), "no approval before the deadline");
    });
}

#[test]
fn due_work_is_found_without_scanning_what_is_not_due() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let clock = clock();
        let engine = Engine::new(&store, registry(&sink))
            .with_clock(clock.clone())
            .with_options(FlowOptions::default().with_shards(4));
        for i in 0..2_000u64 {
            let input = ApprovalInput {
                deadline_ms: T0 + 1_000_000 + i,
            };
            engine
                .start::<Approval>(&input, StartOptions::default().with_id(format!("far-{i}")))
                .await
                .unwrap();
        }
        let mut w = engine.worker("w").unwrap();
        // First tick: every instance is due now (their start work).
        w.run_until_idle(10).await.unwrap();
        for i in 0..3u64 {
            let input = ApprovalInput {
                deadline_ms: T0 + 10 + i,
            };
            engine
                .start::<Approval>(&input, StartOptions::default().with_id(format!("near-{i}")))
                .await
                .unwrap();
        }
        w.run_until_idle(10).await.unwrap();
        clock.advance(100);
        let r = w.tick().await.unwrap();
        assert_eq!(r.timers, 3);
        assert_eq!(r.due, 3, "only the due entries were read");
        let f = ListFilter::default().with_status(Status::RolledBack);
        assert_eq!(engine.list(&f).await.unwrap().len(), 3);
    });
}

#[test]
fn finished_instances_are_archived_then_deleted() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let clock = clock();
        let engine = Engine::new(&store, registry(&sink))
            .with_clock(clock.clone())
            .with_options(FlowOptions::default().with_retention(Some(1_000), Some(5_000)));
        let id = engine
            .start::<blocksmith_flow::Saga>(&crate::basics::plan(2, None), StartOptions::default())
            .await
            .unwrap()
            .id;
        let mut w = engine.worker("w").unwrap();
        w.run_until_idle(10).await.unwrap();
        assert_eq!(
            engine.get(&id).await.unwrap().unwrap().status,
            Status::Completed
        );
        clock.advance(1_500);
        assert_eq!(w.run_until_idle(10).await.unwrap().retired, 1);
        let v = engine.get(&id).await.unwrap().unwrap();
        assert!(v.archived);
        assert!(
            engine.history(&id).await.unwrap().len() > 4,
            "history kept in the archive"
        );
        assert!(
            engine
                .list(&ListFilter::default())
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            engine
                .list(&ListFilter::default().with_archived(true))
                .await
                .unwrap()
                .len(),
            1
        );
        clock.advance(5_000);
        assert_eq!(w.run_until_idle(10).await.unwrap().retired, 1);
        assert!(engine.get(&id).await.unwrap().is_none());
        let left = store.blocking().list_all("flow/").unwrap();
        assert!(
            left.iter().all(|m| m.key.as_str().starts_with("flow/l/")
                || m.key.as_str().starts_with("flow/m/")
                || m.key.as_str() == "flow/layout"),
            "only leases and members left: {left:?}"
        );
    });
}
