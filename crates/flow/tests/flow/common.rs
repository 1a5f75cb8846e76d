//! Shared test fixtures: a side-effect sink that deduplicates by
//! idempotency key (as a real service does), steps that fail on cue, and a
//! small approval workflow with a timer and a signal.

use blocksmith_flow::{
    Command, Event, ManualClock, Registry, RetryPolicy, Saga, StepCall, StepError, Workflow,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub(crate) const T0: u64 = 1_700_000_000_000;

/// Side effects, deduplicated by idempotency key.
#[derive(Clone, Default)]
pub(crate) struct Sink {
    inner: Arc<Mutex<SinkState>>,
}

#[derive(Default)]
pub(crate) struct SinkState {
    /// idempotency key -> effect name
    pub(crate) by_key: BTreeMap<String, String>,
    /// every call, duplicates included (at-least-once runs)
    pub(crate) runs: u64,
    /// effects in the order first applied: "<instance>/<step>[/undo]"
    pub(crate) order: Vec<String>,
}

impl Sink {
    pub(crate) fn apply(&self, key: &str, effect: String) {
        let mut s = self.inner.lock().unwrap();
        s.runs += 1;
        if !s.by_key.contains_key(key) {
            s.by_key.insert(key.to_string(), effect.clone());
            s.order.push(effect);
        }
    }

    pub(crate) fn order(&self) -> Vec<String> {
        self.inner.lock().unwrap().order.clone()
    }

    /// Effects applied for `instance`, in order.
    pub(crate) fn effects_of(&self, instance: &str) -> Vec<String> {
        let p = format!("{instance}/");
        self.order()
            .into_iter()
            .filter(|e| e.starts_with(&p))
            .map(|e| e[p.len()..].to_string())
            .collect()
    }

    pub(crate) fn runs(&self) -> u64 {
        self.inner.lock().unwrap().runs
    }
}

/// A step's behaviour, given in its input: `fail_attempts` attempts fail
/// (retryably, or for good when `permanent`), then it succeeds.
pub(crate) fn behaving_step(
    sink: Sink,
) -> impl Fn(blocksmith_flow::StepContext) -> std::future::Ready<Result<Value, StepError>>
+ Send
+ Sync
+ 'static {
    move |ctx| {
        let fail = ctx.input["fail_attempts"].as_u64().unwrap_or(0);
        let permanent = ctx.input["permanent"].as_bool().unwrap_or(false);
        if u64::from(ctx.attempt) <= fail {
            return std::future::ready(Err(if permanent {
                StepError::permanent("declined", "refused for good")
            } else {
                StepError::retryable("flaky", "try again")
            }));
        }
        // The effect is keyed by the idempotency key minus the attempt: a
        // step's effect happens once per step, whichever attempt succeeds.
        let effect = if ctx.compensating {
            format!("{}/{}/undo", ctx.instance, ctx.step_id)
        } else {
            format!("{}/{}", ctx.instance, ctx.step_id)
        };
        sink.apply(&ctx.idempotency_key, effect);
        std::future::ready(Ok(json!({ "done": ctx.step_id })))
    }
}

pub(crate) fn registry(sink: &Sink) -> Registry {
    Registry::new()
        .with_workflow(Saga)
        .with_workflow(Approval)
        .with_step_fn("act", behaving_step(sink.clone()))
        .with_step_fn("undo", behaving_step(sink.clone()))
}

pub(crate) fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .with_initial_interval_ms(100)
        .with_maximum_interval_ms(1_000)
        .with_maximum_attempts(attempts)
}

pub(crate) fn clock() -> ManualClock {
    ManualClock::new(T0)
}

/// Waits for an "approve" signal until a deadline; on approval, runs a
/// step and completes; on the deadline, fails. Signals other than
/// "approve" are counted.
pub(crate) struct Approval;

#[derive(Serialize, Deserialize)]
pub(crate) struct ApprovalInput {
    pub(crate) deadline_ms: u64,
}

#[derive(Serialize, Deserialize, Default)]
pub(crate) struct ApprovalState {
    pub(crate) approved: bool,
    pub(crate) notes: u32,
}

impl Workflow for Approval {
    const KIND: &'static str = "approval";
    type Input = ApprovalInput;
    type State = ApprovalState;

    fn start(&self, input: ApprovalInput) -> (ApprovalState, Vec<Command>) {
        (
            ApprovalState::default(),
            vec![Command::SetTimer {
                id: "deadline".into(),
                at_ms: input.deadline_ms,
            }],
        )
    }

    fn react(&self, state: &mut ApprovalState, event: &Event) -> Vec<Command> {
        match event {
            Event::Signal { name, .. } if name == "approve" && !state.approved => {
                state.approved = true;
                vec![
                    Command::CancelTimer {
                        id: "deadline".into(),
                    },
                    Command::Run(StepCall::new("provision", "act", json!({}))),
                ]
            }
            Event::Signal { .. } => {
                state.notes += 1;
                Vec::new()
            }
            Event::TimerFired { .. } => vec![Command::Fail {
                reason: "no approval before the deadline".into(),
            }],
            Event::StepCompleted { .. } => vec![Command::Complete {
                output: json!({ "approved": true }),
            }],
            Event::StepFailed { id, error } => vec![Command::Fail {
                reason: format!("{id}: {error}"),
            }],
            _ => Vec::new(),
        }
    }
}
