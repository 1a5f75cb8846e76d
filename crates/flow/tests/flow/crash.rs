//! The crash promise with the store's fault injector: a crash at every
//! store operation of a realistic run (sagas that succeed and roll back, a
//! timer, a signal), then a restart from the store alone. Every start and
//! signal that was acknowledged takes effect, every instance ends in its
//! expected state, and every step's effect happens exactly once.

use crate::basics::plan;
use crate::common::{Approval, ApprovalInput, Sink, T0, registry};
use blocksmith_flow::{Engine, FlowOptions, ManualClock, Saga, StartOptions, Status};
use blocksmith_store::testing::{CrashPoint, CrashTest, Fault};
use blocksmith_store::{MemoryStore, Store, block_on};
use serde_json::json;

struct Seen {
    sink: Sink,
    started: Vec<String>,
    approved: bool,
}

fn options() -> FlowOptions {
    FlowOptions::default()
        .with_shards(2)
        .with_lease_ms(1_000)
        .with_history_chunk(4)
}

fn workload<S: Store>(store: S) -> Seen {
    let mut seen = Seen {
        sink: Sink::default(),
        started: Vec::new(),
        approved: false,
    };
    let clock = ManualClock::new(T0);
    let engine = Engine::new(store, registry(&seen.sink))
        .with_clock(clock.clone())
        .with_options(options());
    block_on(async {
        for (id, p) in [("ok", plan(3, None)), ("bad", plan(3, Some((2, 1, true))))] {
            if engine
                .start::<Saga>(&p, StartOptions::default().with_id(id))
                .await
                .is_err()
            {
                return;
            }
            seen.started.push(id.to_string());
        }
        let input = ApprovalInput {
            deadline_ms: T0 + 500_000,
        };
        if engine
            .start::<Approval>(&input, StartOptions::default().with_id("appr"))
            .await
            .is_err()
        {
            return;
        }
        seen.started.push("appr".into());
        let Ok(mut w) = engine.worker("w") else {
            return;
        };
        if w.run_until_idle(10).await.is_err() {
            return;
        }
        if engine
            .signal("appr", "approve", "evt-1", json!({}))
            .await
            .is_err()
        {
            return;
        }
        seen.approved = true;
        let _ = w.run_until_idle(10).await;
    });
    seen
}

#[allow(clippy::needless_pass_by_value)] // the shape CrashTest::run hands over
fn check(inner: MemoryStore, seen: Seen, point: &CrashPoint) {
    let clock = ManualClock::new(T0 + 10_000);
    let engine = Engine::new(&inner, registry(&seen.sink))
        .with_clock(clock.clone())
        .with_options(options());
    block_on(async {
        let mut w = engine.worker("restarted").unwrap();
        w.run_until_idle(20)
            .await
            .unwrap_or_else(|e| panic!("{point}: restart: {e}"));
        // The approval may still be waiting for its signal: resend it, as a
        // webhook sender retries until acknowledged.
        if seen.started.iter().any(|s| s == "appr") {
            engine
                .signal("appr", "approve", "evt-1", json!({}))
                .await
                .map(|_| ())
                .or_else(|e| match e {
                    blocksmith_flow::Error::Finished(_) => Ok(()),
                    e => Err(e),
                })
                .unwrap_or_else(|e| panic!("{point}: signal: {e}"));
            w.run_until_idle(20).await.unwrap();
        }
        for id in &seen.started {
            let v = engine
                .get(id)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("{point}: acknowledged start {id} lost"));
            let (status, effects): (Status, Vec<&str>) = match id.as_str() {
                "ok" => (Status::Completed, vec!["s0", "s1", "s2"]),
                "bad" => (Status::RolledBack, vec!["s0", "s1", "s1/undo", "s0/undo"]),
                _ => (Status::Completed, vec!["provision"]),
            };
            assert_eq!(v.status, status, "{point}: {id}");
            assert_eq!(seen.sink.effects_of(id), effects, "{point}: {id}");
            let h = engine.history(id).await.unwrap();
            assert!(
                h.iter().enumerate().all(|(n, e)| e.seq == n as u64),
                "{point}: {id}"
            );
        }
        if seen.approved {
            let v = engine.get("appr").await.unwrap().unwrap();
            assert_eq!(
                v.status,
                Status::Completed,
                "{point}: acknowledged signal lost"
            );
        }
    });
}

#[test]
fn a_crash_at_every_store_operation_loses_and_doubles_nothing() {
    let report = CrashTest::new()
        .with_faults([Fault::FailBefore, Fault::FailAfter])
        .run(MemoryStore::new, |s| workload(s), check);
    assert!(report.operations > 40, "{report:?}");
}
