//! Sagas end to end on one worker: success, rollback in reverse order,
//! retries with backoff, non-retryable errors, timeouts, failed
//! compensations, idempotent starts, history.

use crate::common::{Sink, T0, clock, fast_retry, registry};
use blocksmith_flow::{
    Engine, Error, FlowOptions, HistoryKind, ListFilter, RetryPolicy, Saga, SagaPlan, SagaStep,
    StartOptions, Status, StepError,
};
use blocksmith_store::{MemoryStore, StoreExt, block_on};
use serde_json::json;

/// `n` steps `s0..`, each undone by "undo"; step `fail` (if any) fails
/// `attempts` times (permanently when `permanent`).
pub(crate) fn plan(n: usize, fail: Option<(usize, u64, bool)>) -> SagaPlan {
    SagaPlan::new(
        (0..n)
            .map(|i| {
                let input = match fail {
                    Some((f, attempts, permanent)) if f == i => {
                        json!({ "fail_attempts": attempts, "permanent": permanent })
                    }
                    _ => json!({}),
                };
                SagaStep::new(format!("s{i}"), "act", input)
                    .with_compensation("undo", json!({}))
                    .with_retry(fast_retry(3))
            })
            .collect(),
    )
}

#[test]
fn a_saga_runs_its_steps_in_order_once_each() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let engine = Engine::new(&store, registry(&sink)).with_clock(clock());
        let id = engine
            .start::<Saga>(&plan(3, None), StartOptions::default().with_tag("demo"))
            .await
            .unwrap()
            .id;
        let mut w = engine.worker("w").unwrap();
        w.run_until_idle(10).await.unwrap();
        let v = engine.get(&id).await.unwrap().unwrap();
        assert_eq!(v.status, Status::Completed);
        assert_eq!(v.completed_steps, ["s0", "s1", "s2"]);
        assert_eq!(sink.effects_of(&id), ["s0", "s1", "s2"]);
        assert_eq!(v.output.unwrap()["s2"]["done"], "s2");
        // The history is contiguous and tells the story.
        let h = engine.history(&id).await.unwrap();
        assert!(h.iter().enumerate().all(|(i, e)| e.seq == i as u64));
        assert!(matches!(h[0].kind, HistoryKind::Started { .. }));
        assert!(matches!(
            h.last().unwrap().kind,
            HistoryKind::Finished {
                status: Status::Completed
            }
        ));
        // Searchable by status, kind and tag.
        let f = ListFilter::default()
            .with_status(Status::Completed)
            .with_tag("demo");
        assert_eq!(engine.list(&f).await.unwrap().len(), 1);
        let f = ListFilter::default().with_kind("approval");
        assert!(engine.list(&f).await.unwrap().is_empty());
        // Nothing left in the due index.
        let idx = store.blocking().list_all("flow/d/").unwrap();
        assert_eq!(idx.len(), 1, "only the retention entry: {idx:?}");
    });
}

#[test]
fn a_failed_step_rolls_back_the_completed_ones_in_reverse_order() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let engine = Engine::new(&store, registry(&sink)).with_clock(clock());
        let id = engine
            .start::<Saga>(&plan(4, Some((2, 1, true))), StartOptions::default())
            .await
            .unwrap()
            .id;
        engine
            .worker("w")
            .unwrap()
            .run_until_idle(10)
            .await
            .unwrap();
        let v = engine.get(&id).await.unwrap().unwrap();
        assert_eq!(v.status, Status::RolledBack);
        assert_eq!(v.undone, ["s1", "s0"]);
        assert!(v.not_undone.is_empty());
        assert!(v.failure.unwrap().contains("s2"));
        assert_eq!(sink.effects_of(&id), ["s0", "s1", "s1/undo", "s0/undo"]);
    });
}

#[test]
fn retries_back_off_on_the_clock_and_then_succeed() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let clock = clock();
        let engine = Engine::new(&store, registry(&sink)).with_clock(clock.clone());
        let id = engine
            .start::<Saga>(&plan(2, Some((1, 2, false))), StartOptions::default())
            .await
            .unwrap()
            .id;
        let mut w = engine.worker("w").unwrap();
        w.run_until_idle(10).await.unwrap();
        let v = engine.get(&id).await.unwrap().unwrap();
        assert_eq!(v.status, Status::Running, "waiting for the retry");
        assert_eq!(v.pending_steps, ["s1"]);
        // Not due yet: ticking does not run it.
        let runs = sink.runs();
        w.run_until_idle(10).await.unwrap();
        assert_eq!(sink.runs(), runs);
        clock.advance(10_000);
        w.run_until_idle(10).await.unwrap();
        let v = engine.get(&id).await.unwrap().unwrap();
        assert_eq!(v.status, Status::Running, "second attempt failed too");
        clock.advance(10_000);
        w.run_until_idle(10).await.unwrap();
        let v = engine.get(&id).await.unwrap().unwrap();
        assert_eq!(v.status, Status::Completed);
        let fails: Vec<(u32, Option<u64>)> = engine
            .history(&id)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|e| match e.kind {
                HistoryKind::StepFailed {
                    attempt,
                    retry_at_ms,
                    ..
                } => Some((attempt, retry_at_ms)),
                _ => None,
            })
            .collect();
        assert_eq!(fails.len(), 2);
        assert_eq!(fails[0].0, 1);
        // 100 ms nominal, +-20% jitter; then 200 ms nominal.
        let d1 = fails[0].1.unwrap() - T0;
        assert!((80..=120).contains(&d1), "{d1}");
        assert_eq!(fails[1].0, 2);
    });
}

#[test]
fn retries_run_out_and_non_retryable_classes_are_not_retried() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let clock = clock();
        let registry = registry(&sink).with_step_fn("card", |_ctx| async {
            Err(StepError::retryable("card_declined", "no"))
        });
        let engine = Engine::new(&store, registry).with_clock(clock.clone());
        let p = SagaPlan::new(vec![
            SagaStep::new("s0", "act", json!({})).with_compensation("undo", json!({})),
            SagaStep::new("pay", "card", json!({}))
                .with_retry(fast_retry(5).with_non_retryable("card_declined")),
        ]);
        let id = engine
            .start::<Saga>(&p, StartOptions::default())
            .await
            .unwrap()
            .id;
        let mut w = engine.worker("w").unwrap();
        w.run_until_idle(10).await.unwrap();
        let v = engine.get(&id).await.unwrap().unwrap();
        assert_eq!(v.status, Status::RolledBack, "declined once, not retried");
        // Out of attempts: 3 attempts, then the rollback.
        let id = engine
            .start::<Saga>(&plan(2, Some((1, 10, false))), StartOptions::default())
            .await
            .unwrap()
            .id;
        for _ in 0..5 {
            w.run_until_idle(10).await.unwrap();
            clock.advance(5_000);
        }
        let v = engine.get(&id).await.unwrap().unwrap();
        assert_eq!(v.status, Status::RolledBack);
        assert_eq!(v.undone, ["s0"]);
    });
}

#[test]
fn a_compensation_that_fails_for_good_is_reported_and_the_rest_still_run() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let opts = FlowOptions::default().with_compensation_retry(RetryPolicy::none());
        let engine = Engine::new(&store, registry(&sink))
            .with_clock(clock())
            .with_options(opts);
        let p = SagaPlan::new(vec![
            SagaStep::new("a", "act", json!({})).with_compensation("undo", json!({})),
            SagaStep::new("b", "act", json!({}))
                .with_compensation("undo", json!({ "fail_attempts": 9, "permanent": true })),
            SagaStep::new("c", "act", json!({})),
            SagaStep::new("d", "act", json!({ "fail_attempts": 1, "permanent": true })),
        ]);
        let id = engine
            .start::<Saga>(&p, StartOptions::default())
            .await
            .unwrap()
            .id;
        engine
            .worker("w")
            .unwrap()
            .run_until_idle(10)
            .await
            .unwrap();
        let v = engine.get(&id).await.unwrap().unwrap();
        assert_eq!(v.status, Status::Failed);
        assert_eq!(v.not_undone, ["b"]);
        assert_eq!(v.undone, ["a"], "c has no compensation; a is still undone");
        assert_eq!(sink.effects_of(&id), ["a", "b", "c", "a/undo"]);
    });
}

#[test]
fn an_attempt_that_ends_after_its_deadline_is_a_timeout() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let clock = clock();
        let c2 = clock.clone();
        let registry = registry(&sink).with_step_fn("slow", move |ctx| {
            let c = c2.clone();
            async move {
                if ctx.attempt == 1 {
                    c.advance(5_000); // takes 5 s
                }
                Ok(json!(ctx.attempt))
            }
        });
        let engine = Engine::new(&store, registry).with_clock(clock.clone());
        let p = SagaPlan::new(vec![
            SagaStep::new("slow", "slow", json!({}))
                .with_timeout_ms(1_000)
                .with_retry(fast_retry(3)),
        ]);
        let id = engine
            .start::<Saga>(&p, StartOptions::default())
            .await
            .unwrap()
            .id;
        let mut w = engine.worker("w").unwrap();
        w.run_until_idle(10).await.unwrap();
        clock.advance(1_000);
        w.run_until_idle(10).await.unwrap();
        let v = engine.get(&id).await.unwrap().unwrap();
        assert_eq!(v.status, Status::Completed);
        assert_eq!(
            v.output.unwrap()["slow"],
            2,
            "the late first result was discarded"
        );
        let timeouts = engine
            .history(&id)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| matches!(&e.kind, HistoryKind::StepFailed { error, .. } if error.class == "timeout"))
            .count();
        assert_eq!(timeouts, 1);
    });
}

#[test]
fn starting_twice_with_one_id_starts_once() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let engine = Engine::new(&store, registry(&sink)).with_clock(clock());
        let o = StartOptions::default().with_id("req-42");
        let a = engine
            .start::<Saga>(&plan(2, None), o.clone())
            .await
            .unwrap();
        let b = engine
            .start::<Saga>(&plan(5, None), o.clone())
            .await
            .unwrap();
        assert!(a.created && !b.created);
        assert_eq!(a.id, b.id);
        engine
            .worker("w")
            .unwrap()
            .run_until_idle(10)
            .await
            .unwrap();
        assert_eq!(sink.effects_of("req-42"), ["s0", "s1"]);
        // The same id for another kind of workflow is refused.
        let other = engine
            .start::<crate::common::Approval>(&crate::common::ApprovalInput { deadline_ms: T0 }, o)
            .await;
        assert!(matches!(other, Err(Error::Invalid { .. })));
        // Hostile ids are typed errors.
        for bad in ["", "../x", "a/b", ".hidden", &"x".repeat(200), "sp ace"] {
            assert!(matches!(
                engine
                    .start::<Saga>(&plan(1, None), StartOptions::default().with_id(bad))
                    .await,
                Err(Error::Invalid { .. })
            ));
        }
    });
}

#[test]
fn long_histories_move_to_chunks_and_read_back_whole() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let engine = Engine::new(&store, registry(&sink))
            .with_clock(clock())
            .with_options(FlowOptions::default().with_history_chunk(8));
        let id = engine
            .start::<Saga>(&plan(30, None), StartOptions::default())
            .await
            .unwrap()
            .id;
        engine
            .worker("w")
            .unwrap()
            .run_until_idle(10)
            .await
            .unwrap();
        let h = engine.history(&id).await.unwrap();
        assert_eq!(
            h.len() as u64,
            engine.get(&id).await.unwrap().unwrap().history_len
        );
        assert!(h.len() > 60);
        assert!(h.iter().enumerate().all(|(i, e)| e.seq == i as u64));
        let chunks = store.blocking().list_all(&format!("flow/h/{id}/")).unwrap();
        assert!(chunks.len() >= 7, "{}", chunks.len());
    });
}

#[test]
fn an_unknown_step_fails_the_instance_instead_of_wedging_it() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let engine = Engine::new(&store, registry(&sink)).with_clock(clock());
        let p = SagaPlan::new(vec![
            SagaStep::new("a", "act", json!({})).with_compensation("undo", json!({})),
            SagaStep::new("b", "no-such-step", json!({})),
        ]);
        let id = engine
            .start::<Saga>(&p, StartOptions::default())
            .await
            .unwrap()
            .id;
        engine
            .worker("w")
            .unwrap()
            .run_until_idle(10)
            .await
            .unwrap();
        let v = engine.get(&id).await.unwrap().unwrap();
        assert_eq!(v.status, Status::RolledBack);
        assert!(v.failure.unwrap().contains("unknown_step"));
    });
}

#[test]
fn a_broken_instance_never_stalls_the_others() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let registry = registry(&sink).with_step_fn("boom", |_ctx| async {
            panic!("a bug in a step");
        });
        let engine = Engine::new(&store, registry).with_clock(clock());
        // A plan that repeats a step id fails at once, before any step.
        let dup = SagaPlan::new(vec![
            SagaStep::new("a", "act", json!({})),
            SagaStep::new("a", "act", json!({})),
        ]);
        let d = engine
            .start::<Saga>(&dup, StartOptions::default())
            .await
            .unwrap()
            .id;
        // A step that panics is a failed attempt, not a crashed worker.
        let p = SagaPlan::new(vec![
            SagaStep::new("x", "act", json!({})).with_compensation("undo", json!({})),
            SagaStep::new("y", "boom", json!({})).with_retry(RetryPolicy::none()),
        ]);
        let pid = engine
            .start::<Saga>(&p, StartOptions::default())
            .await
            .unwrap()
            .id;
        let ok = engine
            .start::<Saga>(&plan(2, None), StartOptions::default())
            .await
            .unwrap()
            .id;
        let mut w = engine.worker("w").unwrap();
        w.run_until_idle(10).await.unwrap();
        assert_eq!(
            engine.get(&d).await.unwrap().unwrap().status,
            Status::RolledBack
        );
        assert!(sink.effects_of(&d).is_empty());
        let v = engine.get(&pid).await.unwrap().unwrap();
        assert_eq!(v.status, Status::RolledBack);
        assert!(v.failure.unwrap().contains("a bug in a step"));
        assert_eq!(
            engine.get(&ok).await.unwrap().unwrap().status,
            Status::Completed
        );
        // A step id that would collide with a compensation's key is refused.
        let bad = SagaPlan::new(vec![SagaStep::new("x/undo", "act", json!({}))]);
        let b = engine.start::<Saga>(&bad, StartOptions::default()).await;
        assert!(matches!(b, Err(Error::InvalidCommand { .. })), "{b:?}");
    });
}

#[test]
fn a_store_with_another_shard_count_is_refused() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let a = Engine::new(&store, registry(&sink)).with_clock(clock());
        a.start::<Saga>(&plan(1, None), StartOptions::default())
            .await
            .unwrap();
        let b = Engine::new(&store, registry(&sink))
            .with_clock(clock())
            .with_options(FlowOptions::default().with_shards(4));
        assert!(matches!(
            b.start::<Saga>(&plan(1, None), StartOptions::default())
                .await,
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            b.worker("w").unwrap().tick().await,
            Err(Error::Invalid { .. })
        ));
    });
}

#[test]
fn a_step_longer_than_the_lease_still_completes_when_no_one_took_over() {
    block_on(async {
        let sink = Sink::default();
        let store = MemoryStore::new();
        let clock = clock();
        let c2 = clock.clone();
        let registry = registry(&sink).with_step_fn("long", move |_ctx| {
            let c = c2.clone();
            async move {
                c.advance(120_000); // two minutes, four leases
                Ok(json!("done"))
            }
        });
        let engine = Engine::new(&store, registry).with_clock(clock.clone());
        let p = SagaPlan::new(vec![SagaStep::new("l", "long", json!({}))]);
        let id = engine
            .start::<Saga>(&p, StartOptions::default())
            .await
            .unwrap()
            .id;
        engine.worker("w").unwrap().run_until_idle(3).await.unwrap();
        assert_eq!(
            engine.get(&id).await.unwrap().unwrap().status,
            Status::Completed
        );
    });
}

/// A counter that refuses a signal taking it below zero.
struct Counter;

impl blocksmith_flow::Workflow for Counter {
    const KIND: &'static str = "counter";
    type Input = i64;
    type State = i64;

    fn start(&self, input: i64) -> (i64, Vec<blocksmith_flow::Command>) {
        (input, Vec::new())
    }

    fn react(
        &self,
        state: &mut i64,
        event: &blocksmith_flow::Event,
    ) -> Vec<blocksmith_flow::Command> {
        if let blocksmith_flow::Event::Signal { data, .. } = event {
            *state += data.as_i64().unwrap_or(0);
        }
        Vec::new()
    }

    fn admit(
        &self,
        state: &i64,
        _name: &str,
        data: &serde_json::Value,
    ) -> Result<(), serde_json::Value> {
        let d = data
            .as_i64()
            .ok_or_else(|| json!({"why": "not a number"}))?;
        if state + d < 0 {
            return Err(json!({"why": "below zero", "balance": state}));
        }
        Ok(())
    }
}

#[test]
fn a_refused_signal_writes_nothing_and_keeps_its_event_id() {
    block_on(async {
        let store = MemoryStore::new();
        let engine = Engine::new(
            &store,
            blocksmith_flow::Registry::new().with_workflow(Counter),
        )
        .with_clock(clock());
        let id = engine
            .start::<Counter>(&2, StartOptions::default().with_id("c"))
            .await
            .unwrap()
            .id;
        let before = engine.history(&id).await.unwrap().len();
        let err = engine
            .signal(&id, "add", "e1", json!(-3))
            .await
            .unwrap_err();
        match err {
            Error::Rejected { id: i, reason } => {
                assert_eq!(i, "c");
                assert_eq!(reason, json!({"why": "below zero", "balance": 2}));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(engine.history(&id).await.unwrap().len(), before);
        assert_eq!(engine.get(&id).await.unwrap().unwrap().state, json!(2));
        // The refused event id was not used up: the same id with a valid
        // payload is delivered.
        assert_eq!(
            engine.signal(&id, "add", "e1", json!(-2)).await.unwrap(),
            blocksmith_flow::Signalled::Delivered
        );
        assert_eq!(engine.get(&id).await.unwrap().unwrap().state, json!(0));
    });
}

#[test]
fn scan_visits_every_instance_a_page_at_a_time() {
    block_on(async {
        let store = MemoryStore::new();
        let engine = Engine::new(
            &store,
            blocksmith_flow::Registry::new().with_workflow(Counter),
        )
        .with_clock(clock());
        for i in 0..2_345 {
            engine
                .start::<Counter>(&i, StartOptions::default().with_id(format!("c{i:05}")))
                .await
                .unwrap();
        }
        let mut sum = 0i64;
        let n = engine
            .scan(&ListFilter::default().with_kind("counter"), |v| {
                sum += v.unwrap().state.as_i64().unwrap();
            })
            .await
            .unwrap();
        assert_eq!(n, 2_345);
        assert_eq!(sum, (0..2_345).sum::<i64>());
        let none = engine
            .scan(&ListFilter::default().with_kind("saga"), |_| {})
            .await
            .unwrap();
        assert_eq!(none, 0);
    });
}

#[test]
fn the_blocking_twins_run_a_saga_from_synchronous_code() {
    let sink = Sink::default();
    let store = MemoryStore::new();
    let engine = Engine::new(&store, registry(&sink)).with_clock(clock());
    let b = engine.blocking();
    let id = b
        .start::<Saga>(&plan(2, None), StartOptions::default())
        .unwrap()
        .id;
    let mut w = engine.worker("w").unwrap();
    let r = w.blocking().run_until_idle(10).unwrap();
    assert!(r.steps >= 2);
    w.blocking().release().unwrap();
    assert_eq!(b.get(&id).unwrap().unwrap().status, Status::Completed);
    assert!(b.history(&id).unwrap().len() > 4);
    assert_eq!(b.list(&ListFilter::default()).unwrap().len(), 1);
}
