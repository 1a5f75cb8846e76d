//! What workflows say and hear: [`Command`]s out, [`Event`]s in, and the
//! history and status an instance is seen through.

use crate::retry::RetryPolicy;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A step to run: host code registered under [`StepCall::step`], given
/// [`StepCall::input`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StepCall {
    /// The step's id within the instance, unique for the instance's life
    /// (it is part of the idempotency key).
    pub id: String,
    /// The registered step to run.
    pub step: String,
    /// Its input.
    pub input: Value,
    /// Its retry policy (the engine's default when `None`).
    pub retry: Option<RetryPolicy>,
    /// How long one attempt may take, in milliseconds: a result that comes
    /// later counts as a failure of class `"timeout"` (retryable), and an
    /// attempt left running by a crashed worker is given up after it.
    pub timeout_ms: Option<u64>,
    /// What undoes this step once it has completed, if the instance later
    /// fails (saga).
    pub compensation: Option<Compensation>,
}

impl StepCall {
    /// A call of step `step` with id `id` and `input`.
    pub fn new(id: impl Into<String>, step: impl Into<String>, input: Value) -> Self {
        StepCall {
            id: id.into(),
            step: step.into(),
            input,
            retry: None,
            timeout_ms: None,
            compensation: None,
        }
    }

    /// Sets the retry policy.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Sets the per-attempt timeout.
    #[must_use]
    pub fn with_timeout_ms(mut self, ms: u64) -> Self {
        self.timeout_ms = Some(ms);
        self
    }

    /// Registers the step that undoes this one.
    #[must_use]
    pub fn with_compensation(mut self, step: impl Into<String>, input: Value) -> Self {
        self.compensation = Some(Compensation {
            step: step.into(),
            input,
        });
        self
    }
}

/// The step that undoes a completed step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Compensation {
    /// The registered step to run.
    pub step: String,
    /// Its input.
    pub input: Value,
}

/// What a workflow asks the engine to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Command {
    /// Run a step (at least once; its result comes back as an event).
    Run(StepCall),
    /// Wake the instance at `at_ms` with [`Event::TimerFired`].
    SetTimer {
        /// The timer's id (setting it again moves it).
        id: String,
        /// When, in Unix milliseconds.
        at_ms: u64,
    },
    /// Forget a timer.
    CancelTimer {
        /// The timer's id.
        id: String,
    },
    /// Finish successfully with `output`.
    Complete {
        /// The instance's result.
        output: Value,
    },
    /// Finish as failed: the compensations of the completed steps run in
    /// reverse order, then the instance is rolled back.
    Fail {
        /// Why, for the history and the final status.
        reason: String,
    },
}

/// What a workflow hears.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Event {
    /// A step completed.
    StepCompleted {
        /// The step's id.
        id: String,
        /// Its output.
        output: Value,
    },
    /// A step failed for good (not retryable, or out of attempts).
    StepFailed {
        /// The step's id.
        id: String,
        /// The last attempt's error.
        error: StepError,
    },
    /// A timer fired.
    TimerFired {
        /// The timer's id.
        id: String,
    },
    /// A signal arrived (each event id once).
    Signal {
        /// The signal's name.
        name: String,
        /// Its payload.
        data: Value,
    },
}

/// A step's failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{class}: {message}")]
#[non_exhaustive]
pub struct StepError {
    /// A stable class name ("timeout", "card_declined", ...), matched by
    /// [`RetryPolicy::non_retryable`].
    pub class: String,
    /// A message for people.
    pub message: String,
    /// False when retrying cannot help.
    pub retryable: bool,
}

impl StepError {
    /// A retryable failure.
    pub fn retryable(class: impl Into<String>, message: impl Into<String>) -> Self {
        StepError {
            class: class.into(),
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure that retrying cannot fix.
    pub fn permanent(class: impl Into<String>, message: impl Into<String>) -> Self {
        StepError {
            class: class.into(),
            message: message.into(),
            retryable: false,
        }
    }
}

/// Where an instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// Running: steps, timers or signals outstanding.
    Running,
    /// Failed; running the compensations of its completed steps.
    Compensating,
    /// Finished successfully.
    Completed,
    /// Failed, and every completed step with a compensation was undone.
    RolledBack,
    /// Failed, and at least one compensation failed for good: the steps
    /// left done are listed in [`InstanceView::not_undone`].
    Failed,
}

impl Status {
    /// True for the final states.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            Status::Completed | Status::RolledBack | Status::Failed
        )
    }

    /// The lower-case name (`"running"`, `"rolled_back"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Compensating => "compensating",
            Status::Completed => "completed",
            Status::RolledBack => "rolled_back",
            Status::Failed => "failed",
        }
    }
}

/// One entry of an instance's append-only history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HistoryEvent {
    /// Position in the history, from 0.
    pub seq: u64,
    /// When, in Unix milliseconds.
    pub at_ms: u64,
    /// What happened.
    pub kind: HistoryKind,
}

/// What a [`HistoryEvent`] records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum HistoryKind {
    /// The instance started.
    Started {
        /// Workflow kind.
        kind: String,
        /// Definition version.
        version: u32,
        /// The input.
        input: Value,
    },
    /// A step was scheduled.
    StepScheduled {
        /// Step id.
        id: String,
        /// Registered step name.
        step: String,
    },
    /// An attempt completed.
    StepCompleted {
        /// Step id.
        id: String,
        /// Attempt number, from 1.
        attempt: u32,
        /// Output.
        output: Value,
    },
    /// An attempt failed.
    StepFailed {
        /// Step id.
        id: String,
        /// Attempt number, from 1.
        attempt: u32,
        /// The error.
        error: StepError,
        /// When the next attempt is due, if it will be retried.
        retry_at_ms: Option<u64>,
    },
    /// A timer was set.
    TimerSet {
        /// Timer id.
        id: String,
        /// Due time.
        at_ms: u64,
    },
    /// A timer was cancelled.
    TimerCancelled {
        /// Timer id.
        id: String,
    },
    /// A timer fired.
    TimerFired {
        /// Timer id.
        id: String,
    },
    /// A signal was received.
    SignalReceived {
        /// Signal name.
        name: String,
        /// Its event id (deduplicated).
        event_id: String,
        /// Payload.
        data: Value,
    },
    /// The instance failed; compensation begins.
    CompensationStarted {
        /// Why the instance failed.
        reason: String,
    },
    /// A completed step was undone.
    Compensated {
        /// The step id undone.
        id: String,
    },
    /// A compensation failed for good; the step stays done.
    CompensationFailed {
        /// The step id not undone.
        id: String,
        /// The last error.
        error: StepError,
    },
    /// The instance finished.
    Finished {
        /// Final status.
        status: Status,
    },
}

/// An instance as a query sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InstanceView {
    /// Instance id.
    pub id: String,
    /// Workflow kind.
    pub kind: String,
    /// Definition version it runs.
    pub version: u32,
    /// Status.
    pub status: Status,
    /// The workflow's state (its `State` type, as JSON).
    pub state: Value,
    /// Tags given at start.
    pub tags: Vec<String>,
    /// Creation time.
    pub created_ms: u64,
    /// Last change.
    pub updated_ms: u64,
    /// When it finished.
    pub finished_ms: Option<u64>,
    /// The output, once completed.
    pub output: Option<Value>,
    /// Why it failed.
    pub failure: Option<String>,
    /// Steps completed so far (ids, in order).
    pub completed_steps: Vec<String>,
    /// Steps undone by compensation, in the order undone.
    pub undone: Vec<String>,
    /// Steps whose compensation failed for good.
    pub not_undone: Vec<String>,
    /// Steps outstanding (ids).
    pub pending_steps: Vec<String>,
    /// Timers outstanding (id, due time).
    pub timers: Vec<(String, u64)>,
    /// Events in the history.
    pub history_len: u64,
    /// True once moved to the archive by retention.
    pub archived: bool,
}
