//! Workflow definitions (typed state machines), host steps, and the
//! registry that names them.

use crate::error::{Error, Result, serde_err};
use crate::model::{Command, Event, StepCall, StepError};
use serde::de::DeserializeOwned;
use serde::{Deserialize as _, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A workflow definition: a typed state machine with pure transitions.
///
/// `start` and `react` must be deterministic functions of their arguments
/// (no clock, no randomness, no I/O): every side effect is a step, run by
/// the engine from the [`Command`]s they return. The engine persists the
/// new state and its commands in one compare-and-swap write, so a crash
/// never loses or doubles a transition.
pub trait Workflow: Send + Sync + 'static {
    /// The kind's stable name (`"tenant.provision"`).
    const KIND: &'static str;
    /// The definition's version. Running instances keep the version they
    /// started with: register every version that may still be running.
    const VERSION: u32 = 1;
    /// What starts an instance.
    type Input: Serialize + DeserializeOwned;
    /// What an instance remembers between events.
    type State: Serialize + DeserializeOwned;

    /// The initial state and first commands.
    fn start(&self, input: Self::Input) -> (Self::State, Vec<Command>);

    /// The transition on `event`: updates `state`, returns what to do next.
    fn react(&self, state: &mut Self::State, event: &Event) -> Vec<Command>;

    /// Whether `state` takes signal `name` with payload `data`: `Err`
    /// refuses it, with a reason the caller can decode. The engine asks
    /// in the same compare-and-swap round that would deliver the signal,
    /// so the answer holds for the state the transition would run on; a
    /// refused signal is [`Error::Rejected`] and writes nothing (its event
    /// id is not used up). Like `react`, it must be deterministic. By
    /// default every signal is taken.
    ///
    /// # Errors
    /// The workflow's reason for refusing, as JSON.
    fn admit(&self, state: &Self::State, name: &str, data: &Value) -> Result<(), Value> {
        let _ = (state, name, data);
        Ok(())
    }
}

/// A workflow with its types erased to JSON, as the engine stores it.
pub(crate) trait AnyWorkflow: Send + Sync {
    fn start(&self, input: Value) -> Result<(Value, Vec<Command>)>;
    fn react(&self, state: &mut Value, event: &Event) -> Result<Vec<Command>>;
    fn admit(&self, state: &Value, name: &str, data: &Value) -> Result<Result<(), Value>>;
}

struct Erased<W>(W);

impl<W: Workflow> AnyWorkflow for Erased<W> {
    fn start(&self, input: Value) -> Result<(Value, Vec<Command>)> {
        let input: W::Input = serde_json::from_value(input).map_err(serde_err("workflow input"))?;
        let (state, commands) = self.0.start(input);
        let state = serde_json::to_value(&state).map_err(serde_err("workflow state"))?;
        Ok((state, commands))
    }

    fn react(&self, state: &mut Value, event: &Event) -> Result<Vec<Command>> {
        let mut typed: W::State =
            W::State::deserialize(&*state).map_err(serde_err("workflow state"))?;
        let commands = self.0.react(&mut typed, event);
        *state = serde_json::to_value(&typed).map_err(serde_err("workflow state"))?;
        Ok(commands)
    }

    fn admit(&self, state: &Value, name: &str, data: &Value) -> Result<Result<(), Value>> {
        let typed: W::State = W::State::deserialize(state).map_err(serde_err("workflow state"))?;
        Ok(self.0.admit(&typed, name, data))
    }
}

/// What a step is told when it runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StepContext {
    /// The instance.
    pub instance: String,
    /// The step's id within the instance.
    pub step_id: String,
    /// The attempt, from 1. It goes up after a recorded failure; a worker
    /// that crashed mid-attempt leaves it unchanged.
    pub attempt: u32,
    /// The step's input.
    pub input: Value,
    /// `"<instance>:<step id>"`, or for a compensation
    /// `"<instance>:<step id>:undo"`: the same for every attempt of the
    /// step, re-runs after a crash and retries after a failure or a
    /// timeout alike (an attempt can fail or time out after the service it
    /// called has acted). Hand it to that service so the step acts once;
    /// [`StepContext::attempt`] tells attempts apart.
    pub idempotency_key: String,
    /// True when this run undoes a completed step.
    pub compensating: bool,
    /// When this attempt times out, in Unix milliseconds, if it can.
    pub deadline_ms: Option<u64>,
}

/// A boxed, sendable future (what a [`Step`] returns, erased).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Host code a workflow runs: one call per attempt, at least once.
pub trait Step: Send + Sync + 'static {
    /// Runs one attempt.
    fn run(&self, ctx: StepContext) -> BoxFuture<'static, Result<Value, StepError>>;
}

struct FnStep<F>(F);

impl<F, Fut> Step for FnStep<F>
where
    F: Fn(StepContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, StepError>> + Send + 'static,
{
    fn run(&self, ctx: StepContext) -> BoxFuture<'static, Result<Value, StepError>> {
        Box::pin((self.0)(ctx))
    }
}

/// The workflows and steps an engine knows, by name.
#[derive(Clone, Default)]
pub struct Registry {
    workflows: HashMap<(String, u32), Arc<dyn AnyWorkflow>>,
    latest: HashMap<String, u32>,
    steps: BTreeMap<String, Arc<dyn Step>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w: Vec<_> = self.workflows.keys().collect();
        w.sort();
        f.debug_struct("Registry")
            .field("workflows", &w)
            .field("steps", &self.steps.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Registers a workflow definition (one per kind and version; new
    /// instances start on the highest version).
    #[must_use]
    pub fn with_workflow<W: Workflow>(mut self, workflow: W) -> Self {
        self.workflows.insert(
            (W::KIND.to_string(), W::VERSION),
            Arc::new(Erased(workflow)),
        );
        let latest = self.latest.entry(W::KIND.to_string()).or_insert(W::VERSION);
        *latest = (*latest).max(W::VERSION);
        self
    }

    /// Registers a step.
    #[must_use]
    pub fn with_step(mut self, name: impl Into<String>, step: impl Step) -> Self {
        self.steps.insert(name.into(), Arc::new(step));
        self
    }

    /// Registers a step given as an async closure.
    #[must_use]
    pub fn with_step_fn<F, Fut>(self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(StepContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, StepError>> + Send + 'static,
    {
        self.with_step(name, FnStep(f))
    }

    pub(crate) fn workflow(&self, kind: &str, version: u32) -> Result<&Arc<dyn AnyWorkflow>> {
        self.workflows
            .get(&(kind.to_string(), version))
            .ok_or_else(|| Error::UnknownWorkflow {
                kind: kind.to_string(),
                version,
            })
    }

    pub(crate) fn latest(&self, kind: &str) -> Result<u32> {
        self.latest
            .get(kind)
            .copied()
            .ok_or_else(|| Error::UnknownWorkflow {
                kind: kind.to_string(),
                version: 0,
            })
    }

    pub(crate) fn step(&self, name: &str) -> Result<&Arc<dyn Step>> {
        self.steps
            .get(name)
            .ok_or_else(|| Error::UnknownStep(name.to_string()))
    }
}

/// A saga as data: steps run in order, each with an optional
/// compensation; the first step that fails for good rolls back the ones
/// before it, in reverse order. [`Saga`] implements [`Workflow`] for such
/// a plan, with each step's output kept in the state.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SagaPlan {
    /// The steps, in order.
    pub steps: Vec<SagaStep>,
}

/// One step of a [`SagaPlan`].
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SagaStep {
    /// Step id (unique in the plan).
    pub id: String,
    /// Registered step to run.
    pub step: String,
    /// Its input.
    pub input: Value,
    /// Registered step that undoes it, and that step's input.
    pub compensation: Option<(String, Value)>,
    /// Retry policy (the engine default when `None`).
    pub retry: Option<crate::RetryPolicy>,
    /// Per-attempt timeout.
    pub timeout_ms: Option<u64>,
}

impl SagaStep {
    /// A step `id` running registered step `step` on `input`.
    pub fn new(id: impl Into<String>, step: impl Into<String>, input: Value) -> Self {
        SagaStep {
            id: id.into(),
            step: step.into(),
            input,
            compensation: None,
            retry: None,
            timeout_ms: None,
        }
    }

    /// Registers the step that undoes this one.
    #[must_use]
    pub fn with_compensation(mut self, step: impl Into<String>, input: Value) -> Self {
        self.compensation = Some((step.into(), input));
        self
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: crate::RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Sets the per-attempt timeout.
    #[must_use]
    pub fn with_timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    fn call(&self) -> StepCall {
        let mut c = StepCall::new(self.id.clone(), self.step.clone(), self.input.clone());
        c.retry.clone_from(&self.retry);
        c.timeout_ms = self.timeout_ms;
        if let Some((s, i)) = &self.compensation {
            c = c.with_compensation(s.clone(), i.clone());
        }
        c
    }
}

impl SagaPlan {
    /// A plan of `steps`.
    pub fn new(steps: Vec<SagaStep>) -> Self {
        SagaPlan { steps }
    }
}

/// The state of a [`Saga`] instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct SagaState {
    /// The plan being run.
    pub plan: Option<SagaPlan>,
    /// Index of the step running now.
    pub next: usize,
    /// Outputs of the completed steps, by step id.
    pub outputs: BTreeMap<String, Value>,
}

/// The generic saga workflow (kind `"saga"`): its input is a [`SagaPlan`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Saga;

impl Workflow for Saga {
    const KIND: &'static str = "saga";
    type Input = SagaPlan;
    type State = SagaState;

    fn start(&self, plan: SagaPlan) -> (SagaState, Vec<Command>) {
        // Step ids must be unique: a plan that repeats one fails at once,
        // before any step runs.
        let mut ids = std::collections::BTreeSet::new();
        if let Some(dup) = plan.steps.iter().find(|s| !ids.insert(s.id.as_str())) {
            let reason = format!("the plan repeats step id {:?}", dup.id);
            return (
                SagaState {
                    plan: Some(plan),
                    next: 0,
                    outputs: BTreeMap::new(),
                },
                vec![Command::Fail { reason }],
            );
        }
        let first = plan.steps.first().map(SagaStep::call);
        let state = SagaState {
            plan: Some(plan),
            next: 0,
            outputs: BTreeMap::new(),
        };
        match first {
            Some(c) => (state, vec![Command::Run(c)]),
            None => (
                state,
                vec![Command::Complete {
                    output: Value::Object(serde_json::Map::new()),
                }],
            ),
        }
    }

    fn react(&self, state: &mut SagaState, event: &Event) -> Vec<Command> {
        let Some(plan) = &state.plan else {
            return vec![Command::Fail {
                reason: "saga state without a plan".into(),
            }];
        };
        match event {
            Event::StepCompleted { id, output } => {
                state.outputs.insert(id.clone(), output.clone());
                state.next += 1;
                match plan.steps.get(state.next) {
                    Some(s) => vec![Command::Run(s.call())],
                    None => vec![Command::Complete {
                        output: serde_json::to_value(&state.outputs).unwrap_or(Value::Null),
                    }],
                }
            }
            Event::StepFailed { id, error } => vec![Command::Fail {
                reason: format!("step {id} failed: {error}"),
            }],
            Event::TimerFired { .. } | Event::Signal { .. } => Vec::new(),
        }
    }
}
