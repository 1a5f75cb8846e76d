//! A reference model of sagas, checked against the engine on random plans
//! run by two racing workers, with a crash at a random store operation and
//! a restart: every instance ends in its model state, each step's effect
//! happens exactly once, and compensations run once each, in reverse.

use crate::common::{Sink, T0, fast_retry, registry};
use blocksmith_flow::{
    Engine, FlowOptions, ManualClock, RetryPolicy, Saga, SagaPlan, SagaStep, StartOptions, Status,
};
use blocksmith_store::testing::{Fault, FaultPlan, FaultyStore};
use blocksmith_store::{MemoryStore, block_on};
use proptest::prelude::*;
use serde_json::json;

#[derive(Debug, Clone)]
pub(crate) struct StepSpec {
    /// Attempts that fail before one succeeds.
    fail_attempts: u64,
    /// Failures are permanent (no retry).
    permanent: bool,
    /// `None`: no compensation; `Some(true)`: a compensation that fails
    /// for good.
    compensation: Option<bool>,
}

fn step_spec() -> impl Strategy<Value = StepSpec> {
    (
        prop_oneof![4 => Just(0u64), 1 => 1u64..3, 1 => Just(5u64)],
        prop::bool::weighted(0.2),
        prop_oneof![1 => Just(None), 3 => Just(Some(false)), 1 => Just(Some(true))],
    )
        .prop_map(|(fail_attempts, permanent, compensation)| StepSpec {
            fail_attempts,
            permanent,
            compensation,
        })
}

const ATTEMPTS: u32 = 3;

fn to_plan(specs: &[StepSpec]) -> SagaPlan {
    SagaPlan::new(
        specs
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut st = SagaStep::new(
                    format!("s{i}"),
                    "act",
                    json!({ "fail_attempts": s.fail_attempts, "permanent": s.permanent }),
                )
                .with_retry(fast_retry(ATTEMPTS));
                if let Some(fails) = s.compensation {
                    let input = if fails {
                        json!({ "fail_attempts": 99, "permanent": true })
                    } else {
                        json!({})
                    };
                    st = st.with_compensation("undo", input);
                }
                st
            })
            .collect(),
    )
}

/// What the model says: final status and the effects, in order.
fn model(specs: &[StepSpec]) -> (Status, Vec<String>) {
    let mut effects = Vec::new();
    let fails = |s: &StepSpec| {
        s.fail_attempts > 0 && (s.permanent || s.fail_attempts >= u64::from(ATTEMPTS))
    };
    let Some(f) = specs.iter().position(fails) else {
        effects.extend((0..specs.len()).map(|i| format!("s{i}")));
        return (Status::Completed, effects);
    };
    effects.extend((0..f).map(|i| format!("s{i}")));
    let mut all_undone = true;
    for i in (0..f).rev() {
        match specs[i].compensation {
            Some(false) => effects.push(format!("s{i}/undo")),
            Some(true) => all_undone = false,
            None => {}
        }
    }
    let status = if all_undone {
        Status::RolledBack
    } else {
        Status::Failed
    };
    (status, effects)
}

fn options() -> FlowOptions {
    FlowOptions::default()
        .with_shards(4)
        .with_lease_ms(1_000)
        .with_compensation_retry(RetryPolicy::none())
        .with_history_chunk(4)
}

fn run_case(plans: &[Vec<StepSpec>], crash_at: u64, fault: Fault) {
    let sink = Sink::default();
    let data = MemoryStore::new();
    let clock = ManualClock::new(T0);
    let mut ids = Vec::new();
    {
        // Before the crash: starts and two workers taking turns, on a store
        // that dies at operation `crash_at`.
        let faulty = FaultyStore::new(&data, FaultPlan::new(crash_at, fault));
        let engine = Engine::new(&faulty, registry(&sink))
            .with_clock(clock.clone())
            .with_options(options());
        for (i, p) in plans.iter().enumerate() {
            let id = format!("inst-{i}");
            if engine
                .start::<Saga>(&to_plan(p), StartOptions::default().with_id(id.clone()))
                .await_blocking()
                .is_ok()
            {
                ids.push((id, i));
            } else {
                break;
            }
        }
        let (Ok(mut a), Ok(mut b)) = (engine.worker("a"), engine.worker("b")) else {
            return;
        };
        for _ in 0..6 {
            if block_on(a.tick()).is_err() || block_on(b.tick()).is_err() {
                break;
            }
            clock.advance(400);
        }
    }
    // Restart from the store alone, after the dead workers' leases expired.
    clock.advance(10_000);
    let engine = Engine::new(&data, registry(&sink))
        .with_clock(clock.clone())
        .with_options(options());
    let mut w = engine.worker("restarted").unwrap();
    for _ in 0..20 {
        block_on(w.run_until_idle(20)).unwrap();
        clock.advance(2_000);
    }
    for (id, i) in &ids {
        let v = block_on(engine.get(id))
            .unwrap()
            .expect("an acknowledged start exists");
        let (status, effects) = model(&plans[*i]);
        assert_eq!(v.status, status, "{id}: {:?}", plans[*i]);
        assert_eq!(sink.effects_of(id), effects, "{id}: {:?}", plans[*i]);
        let h = block_on(engine.history(id)).unwrap();
        assert!(
            h.iter().enumerate().all(|(n, e)| e.seq == n as u64),
            "{id}: history has gaps"
        );
    }
}

trait AwaitBlocking: Future + Sized {
    fn await_blocking(self) -> Self::Output {
        block_on(self)
    }
}
impl<F: Future> AwaitBlocking for F {}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]
    #[test]
    fn random_sagas_end_in_their_model_state(
        plans in prop::collection::vec(prop::collection::vec(step_spec(), 1..5), 1..4),
        crash_at in 1u64..400,
        fault in prop_oneof![Just(Fault::FailBefore), Just(Fault::FailAfter)],
    ) {
        run_case(&plans, crash_at, fault);
    }
}

#[test]
fn the_model_itself_is_right_on_a_known_case() {
    let specs = vec![
        StepSpec {
            fail_attempts: 0,
            permanent: false,
            compensation: Some(false),
        },
        StepSpec {
            fail_attempts: 0,
            permanent: false,
            compensation: Some(true),
        },
        StepSpec {
            fail_attempts: 1,
            permanent: false,
            compensation: None,
        },
        StepSpec {
            fail_attempts: 1,
            permanent: true,
            compensation: None,
        },
    ];
    let (status, effects) = model(&specs);
    assert_eq!(status, Status::Failed);
    assert_eq!(effects, ["s0", "s1", "s2", "s0/undo"]);
    run_case(&[specs], u64::MAX, Fault::FailBefore);
}

/// One thing that happens to an approval instance: time moves to `at`
/// (ms after the start; a worker ticks), then a signal may arrive.
#[derive(Debug, Clone)]
struct Step {
    at: u64,
    signal: Option<(bool, u8)>, // (approve?, event id)
}

fn approval_steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (
            0u64..2_000,
            prop::option::weighted(0.8, (prop::bool::weighted(0.3), 0u8..6)),
        ),
        1..12,
    )
    .prop_map(|mut v| {
        v.sort_by_key(|(at, _)| *at);
        v.dedup_by_key(|(at, _)| *at); // one moment, one event
        v.into_iter()
            .map(|(at, signal)| Step { at, signal })
            .collect()
    })
}

/// The model: the first approve before the deadline wins, else the
/// deadline rolls it back; notes count each event id once, until the end.
fn approval_model(deadline: u64, steps: &[Step]) -> (Status, u32) {
    let mut seen = std::collections::BTreeSet::new();
    let mut notes = 0;
    for s in steps {
        if s.at >= deadline {
            return (Status::RolledBack, notes);
        }
        if let Some((approve, id)) = s.signal {
            // Event ids are per kind: "a3" and "n3" differ.
            if !seen.insert((approve, id)) {
                continue;
            }
            if approve {
                return (Status::Completed, notes);
            }
            notes += 1;
        }
    }
    (Status::Running, notes)
}

/// The crashed worker's leases lapse at once (its process is gone): the
/// lease records are marked expired, tokens kept, so fencing still holds.
fn expire_leases(data: &MemoryStore) {
    use blocksmith_store::StoreExt;
    for m in data.blocking().list_all("flow/l/").unwrap() {
        let bytes = data.blocking().get(&m.key).unwrap().data;
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let start = text.find("\"expires_ms\":").unwrap() + "\"expires_ms\":".len();
        let end = start + text[start..].find(|c: char| !c.is_ascii_digit()).unwrap();
        let expired = format!("{}0{}", &text[..start], &text[end..]);
        data.blocking().put(&m.key, expired.into_bytes()).unwrap();
    }
}

fn run_approval(deadline: u64, steps: &[Step], crash_at: u64, fault: Fault) {
    use crate::common::{Approval, ApprovalInput};
    let sink = Sink::default();
    let data = MemoryStore::new();
    let clock = ManualClock::new(T0);
    let faulty = FaultyStore::new(&data, FaultPlan::new(crash_at, fault));
    let sick = Engine::new(&faulty, registry(&sink))
        .with_clock(clock.clone())
        .with_options(options());
    let healthy = Engine::new(&data, registry(&sink))
        .with_clock(clock.clone())
        .with_options(options());
    // Calls go to the engine on the faulty store until it dies; from then
    // on to a restarted one, at the same moment (a failed call is retried
    // there, as a client retries until acknowledged).
    let mut dead = false;
    let mut crashed = |dead: &mut bool| {
        if !*dead && faulty.crashed() {
            *dead = true;
            expire_leases(&data);
        }
    };
    let input = ApprovalInput {
        deadline_ms: T0 + deadline,
    };
    let opts = || StartOptions::default().with_id("appr");
    if block_on(sick.start::<Approval>(&input, opts())).is_err() {
        crashed(&mut dead);
        block_on(healthy.start::<Approval>(&input, opts())).unwrap();
    }
    let mut a = sick.worker("a").unwrap();
    let mut b = healthy.worker("b").unwrap();
    let mut tick = |dead: &mut bool, crashed: &mut dyn FnMut(&mut bool)| {
        if !*dead {
            let ok = block_on(a.run_until_idle(5)).is_ok();
            crashed(dead);
            if ok {
                return;
            }
        }
        block_on(b.run_until_idle(5)).unwrap();
    };
    for s in steps {
        clock.set(T0 + s.at);
        tick(&mut dead, &mut crashed);
        if let Some((approve, id)) = s.signal {
            let (name, eid) = if approve {
                ("approve", format!("a{id}"))
            } else {
                ("note", format!("n{id}"))
            };
            let data_json = serde_json::json!({});
            let mut sent = false;
            if !dead {
                sent = matches!(
                    block_on(sick.signal("appr", name, &eid, data_json.clone())),
                    Ok(_) | Err(blocksmith_flow::Error::Finished(_))
                );
                crashed(&mut dead);
            }
            if !sent {
                match block_on(healthy.signal("appr", name, &eid, data_json)) {
                    Ok(_) | Err(blocksmith_flow::Error::Finished(_)) => {}
                    Err(e) => panic!("signal: {e}"),
                }
            }
        }
    }
    tick(&mut dead, &mut crashed); // the steps a signal scheduled; time stands still
    let (status, notes) = approval_model(deadline, steps);
    let v = block_on(healthy.get("appr")).unwrap().unwrap();
    assert_eq!(
        v.status, status,
        "{deadline} {steps:?} crash {crash_at} {fault:?}"
    );
    assert_eq!(v.state["notes"], notes, "{steps:?}");
    let effects = sink.effects_of("appr");
    if status == Status::Completed {
        assert_eq!(effects, ["provision"], "{steps:?}");
    } else {
        assert!(effects.is_empty(), "{steps:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]
    #[test]
    fn signals_twice_and_out_of_order_against_a_deadline(
        deadline in 100u64..1_500,
        steps in approval_steps(),
        crash_at in 1u64..120,
        fault in prop_oneof![Just(Fault::FailBefore), Just(Fault::FailAfter)],
    ) {
        run_approval(deadline, &steps, crash_at, fault);
    }
}
