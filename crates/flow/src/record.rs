//! The stored records (instance, history chunk, lease) and the pure
//! transition logic on an instance record.

use crate::error::{Error, Result};
use crate::model::{
    Command, Compensation, Event, HistoryEvent, HistoryKind, InstanceView, Status, StepCall,
    StepError,
};
use crate::retry::RetryPolicy;
use crate::workflow::AnyWorkflow;
use blocksmith_store::record::Record;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How many signal event ids an instance remembers for deduplication.
pub(crate) const SIGNAL_DEDUP_WINDOW: usize = 4096;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub(crate) call: StepCall,
    pub(crate) attempt: u32,
    pub(crate) due_ms: u64,
    pub(crate) compensating: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Done {
    pub(crate) id: String,
    pub(crate) compensation: Option<Compensation>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Instance {
    pub(crate) id: String,
    pub(crate) kind: String,
    pub(crate) version: u32,
    pub(crate) status: Status,
    pub(crate) state: Value,
    pub(crate) tags: Vec<String>,
    pub(crate) created_ms: u64,
    pub(crate) updated_ms: u64,
    pub(crate) finished_ms: Option<u64>,
    pub(crate) output: Option<Value>,
    pub(crate) failure: Option<String>,
    pub(crate) pending: Vec<Pending>,
    pub(crate) timers: Vec<(String, u64)>,
    pub(crate) completed: Vec<Done>,
    pub(crate) undo_queue: Vec<Done>,
    pub(crate) undone: Vec<String>,
    pub(crate) not_undone: Vec<String>,
    pub(crate) signals: Vec<String>,
    /// The due-index entry this instance relies on (at or before its next
    /// work): written before any record that names it.
    pub(crate) wake_ms: Option<u64>,
    /// The exact due-index key of that entry (unique per write).
    #[serde(default)]
    pub(crate) wake_key: Option<String>,
    /// Lease token of the last worker that wrote it.
    pub(crate) fence: u64,
    /// Events in the history so far.
    pub(crate) seq: u64,
    /// Stored history chunks, in order.
    pub(crate) chunk_keys: Vec<String>,
    /// Events not yet moved to a chunk.
    pub(crate) tail: Vec<HistoryEvent>,
    #[serde(default)]
    pub(crate) archived: bool,
}

impl Record for Instance {
    const KIND: &'static str = "flow.instance";
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Chunk {
    pub(crate) events: Vec<HistoryEvent>,
}

impl Record for Chunk {
    const KIND: &'static str = "flow.history";
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LeaseRecord {
    pub(crate) owner: String,
    pub(crate) token: u64,
    pub(crate) expires_ms: u64,
}

impl Record for LeaseRecord {
    const KIND: &'static str = "flow.lease";
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Layout {
    pub(crate) shards: u32,
}

impl Record for Layout {
    const KIND: &'static str = "flow.layout";
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MemberRecord {
    pub(crate) owner: String,
    pub(crate) expires_ms: u64,
}

impl Record for MemberRecord {
    const KIND: &'static str = "flow.member";
    const VERSION: u32 = 1;
}

/// What to do next on an instance.
pub(crate) enum Work {
    Timer(usize),
    Step(usize),
}

/// Engine settings the transition logic needs.
pub(crate) struct Rules<'a> {
    pub(crate) default_retry: &'a RetryPolicy,
    pub(crate) compensation_retry: &'a RetryPolicy,
}

impl Instance {
    pub(crate) fn new(
        id: String,
        kind: String,
        version: u32,
        state: Value,
        tags: Vec<String>,
        now: u64,
    ) -> Self {
        Instance {
            id,
            kind,
            version,
            status: Status::Running,
            state,
            tags,
            created_ms: now,
            updated_ms: now,
            finished_ms: None,
            output: None,
            failure: None,
            pending: Vec::new(),
            timers: Vec::new(),
            completed: Vec::new(),
            undo_queue: Vec::new(),
            undone: Vec::new(),
            not_undone: Vec::new(),
            signals: Vec::new(),
            wake_ms: None,
            wake_key: None,
            fence: 0,
            seq: 0,
            chunk_keys: Vec::new(),
            tail: Vec::new(),
            archived: false,
        }
    }

    pub(crate) fn log(&mut self, now: u64, kind: HistoryKind) {
        self.tail.push(HistoryEvent {
            seq: self.seq,
            at_ms: now,
            kind,
        });
        self.seq = self.seq.saturating_add(1);
        self.updated_ms = self.updated_ms.max(now);
    }

    fn step_id_taken(&self, id: &str) -> bool {
        self.completed.iter().any(|d| d.id == id)
            || self.pending.iter().any(|p| p.call.id == id)
            || self.undone.iter().any(|u| u == id)
            || self.not_undone.iter().any(|u| u == id)
    }

    /// Applies a workflow's commands.
    pub(crate) fn apply_commands(
        &mut self,
        commands: Vec<Command>,
        now: u64,
        rules: &Rules<'_>,
    ) -> Result<()> {
        for c in commands {
            if self.status != Status::Running {
                break; // finished or failing: later commands have no effect
            }
            match c {
                Command::Run(call) => {
                    if call.id.is_empty()
                        || call.id.len() > 128
                        || !call
                            .id
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                    {
                        return Err(
                            self.invalid("a step id must be 1-128 ASCII letters, digits, - _ or .")
                        );
                    }
                    if self.step_id_taken(&call.id) {
                        return Err(self.invalid(&format!("step id {:?} used twice", call.id)));
                    }
                    self.log(
                        now,
                        HistoryKind::StepScheduled {
                            id: call.id.clone(),
                            step: call.step.clone(),
                        },
                    );
                    self.pending.push(Pending {
                        call,
                        attempt: 1,
                        due_ms: now,
                        compensating: false,
                    });
                }
                Command::SetTimer { id, at_ms } => {
                    self.timers.retain(|(t, _)| *t != id);
                    self.log(
                        now,
                        HistoryKind::TimerSet {
                            id: id.clone(),
                            at_ms,
                        },
                    );
                    self.timers.push((id, at_ms));
                }
                Command::CancelTimer { id } => {
                    let before = self.timers.len();
                    self.timers.retain(|(t, _)| *t != id);
                    if self.timers.len() != before {
                        self.log(now, HistoryKind::TimerCancelled { id });
                    }
                }
                Command::Complete { output } => {
                    self.output = Some(output);
                    self.pending.clear();
                    self.timers.clear();
                    self.finish(Status::Completed, now);
                }
                Command::Fail { reason } => {
                    // A step still outstanding may be running on a worker
                    // right now (its result will lose the race to this
                    // write): its compensation runs too, first, since a
                    // compensation must cope with "never happened" anyway.
                    let outstanding: Vec<Done> = self
                        .pending
                        .iter()
                        .rev()
                        .filter(|p| !p.compensating && p.call.compensation.is_some())
                        .map(|p| Done {
                            id: p.call.id.clone(),
                            compensation: p.call.compensation.clone(),
                        })
                        .collect();
                    self.pending.clear();
                    self.timers.clear();
                    self.failure = Some(reason.clone());
                    self.status = Status::Compensating;
                    self.log(now, HistoryKind::CompensationStarted { reason });
                    self.undo_queue = outstanding;
                    self.undo_queue.extend(
                        self.completed
                            .iter()
                            .rev()
                            .filter(|d| d.compensation.is_some())
                            .cloned(),
                    );
                    self.next_compensation(now, rules);
                }
            }
        }
        Ok(())
    }

    fn invalid(&self, reason: &str) -> Error {
        Error::InvalidCommand {
            kind: self.kind.clone(),
            reason: reason.to_string(),
        }
    }

    fn finish(&mut self, status: Status, now: u64) {
        self.status = status;
        self.finished_ms = Some(now);
        self.log(now, HistoryKind::Finished { status });
    }

    /// Schedules the next compensation, or finishes the rollback.
    fn next_compensation(&mut self, now: u64, rules: &Rules<'_>) {
        if self.undo_queue.is_empty() {
            let status = if self.not_undone.is_empty() {
                Status::RolledBack
            } else {
                Status::Failed
            };
            self.finish(status, now);
            return;
        }
        let d = self.undo_queue.remove(0);
        let Some(comp) = d.compensation else {
            return self.next_compensation(now, rules);
        };
        let mut call = StepCall::new(d.id, comp.step, comp.input);
        call.retry = Some(rules.compensation_retry.clone());
        self.pending.push(Pending {
            call,
            attempt: 1,
            due_ms: now,
            compensating: true,
        });
    }

    /// Delivers an event to the workflow (while it runs) and applies its
    /// commands.
    pub(crate) fn react(
        &mut self,
        wf: &dyn AnyWorkflow,
        event: &Event,
        now: u64,
        rules: &Rules<'_>,
    ) -> Result<()> {
        if self.status != Status::Running {
            return Ok(());
        }
        // A definition that errs (state that does not deserialize, an
        // invalid command) fails this instance, which is rolled back: it
        // never wedges the worker or the other instances.
        let before = self.state.clone();
        let outcome = match wf.react(&mut self.state, event) {
            Ok(commands) => self.apply_commands(commands, now, rules),
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            self.state = before;
            self.apply_commands(
                vec![Command::Fail {
                    reason: format!("workflow error: {e}"),
                }],
                now,
                rules,
            )?;
        }
        Ok(())
    }

    /// The next thing due at `now`: timers first (earliest), then steps in
    /// the order scheduled.
    pub(crate) fn next_work(&self, now: u64) -> Option<Work> {
        if let Some((i, _)) = self
            .timers
            .iter()
            .enumerate()
            .filter(|(_, (_, at))| *at <= now)
            .min_by_key(|(_, (_, at))| *at)
        {
            return Some(Work::Timer(i));
        }
        self.pending
            .iter()
            .position(|p| p.due_ms <= now)
            .map(Work::Step)
    }

    /// When the instance next has work (retention not included).
    pub(crate) fn next_due(&self) -> Option<u64> {
        if self.status.is_finished() {
            return None;
        }
        let steps = self.pending.iter().map(|p| p.due_ms);
        let timers = self.timers.iter().map(|(_, at)| *at);
        steps.chain(timers).min()
    }

    pub(crate) fn fire_timer(
        &mut self,
        i: usize,
        wf: &dyn AnyWorkflow,
        now: u64,
        rules: &Rules<'_>,
    ) -> Result<()> {
        let (id, _) = self.timers.remove(i);
        self.log(now, HistoryKind::TimerFired { id: id.clone() });
        self.react(wf, &Event::TimerFired { id }, now, rules)
    }

    /// Records the outcome of an attempt of `pending[i]`.
    pub(crate) fn step_result(
        &mut self,
        i: usize,
        result: std::result::Result<Value, StepError>,
        wf: &dyn AnyWorkflow,
        now: u64,
        rules: &Rules<'_>,
        key: &str,
    ) -> Result<()> {
        let p = self.pending[i].clone();
        let id = p.call.id.clone();
        match result {
            Ok(output) => {
                self.pending.remove(i);
                if p.compensating {
                    self.log(
                        now,
                        HistoryKind::StepCompleted {
                            id: format!("{id}/undo"),
                            attempt: p.attempt,
                            output,
                        },
                    );
                    self.log(now, HistoryKind::Compensated { id: id.clone() });
                    self.undone.push(id);
                    self.next_compensation(now, rules);
                    Ok(())
                } else {
                    self.log(
                        now,
                        HistoryKind::StepCompleted {
                            id: id.clone(),
                            attempt: p.attempt,
                            output: output.clone(),
                        },
                    );
                    self.completed.push(Done {
                        id: id.clone(),
                        compensation: p.call.compensation.clone(),
                    });
                    self.react(wf, &Event::StepCompleted { id, output }, now, rules)
                }
            }
            Err(error) => {
                let policy = p.call.retry.as_ref().unwrap_or(rules.default_retry);
                let retry = policy.retries(&error.class, error.retryable, p.attempt);
                let retry_at = retry.then(|| now.saturating_add(policy.delay_ms(p.attempt, key)));
                let logged_id = if p.compensating {
                    format!("{id}/undo")
                } else {
                    id.clone()
                };
                self.log(
                    now,
                    HistoryKind::StepFailed {
                        id: logged_id,
                        attempt: p.attempt,
                        error: error.clone(),
                        retry_at_ms: retry_at,
                    },
                );
                if let Some(at) = retry_at {
                    let q = &mut self.pending[i];
                    q.attempt += 1;
                    q.due_ms = at;
                    return Ok(());
                }
                self.pending.remove(i);
                if p.compensating {
                    self.log(
                        now,
                        HistoryKind::CompensationFailed {
                            id: id.clone(),
                            error,
                        },
                    );
                    self.not_undone.push(id);
                    self.next_compensation(now, rules);
                    Ok(())
                } else {
                    self.react(wf, &Event::StepFailed { id, error }, now, rules)
                }
            }
        }
    }

    pub(crate) fn view(&self) -> InstanceView {
        InstanceView {
            id: self.id.clone(),
            kind: self.kind.clone(),
            version: self.version,
            status: self.status,
            state: self.state.clone(),
            tags: self.tags.clone(),
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
            finished_ms: self.finished_ms,
            output: self.output.clone(),
            failure: self.failure.clone(),
            completed_steps: self.completed.iter().map(|d| d.id.clone()).collect(),
            undone: self.undone.clone(),
            not_undone: self.not_undone.clone(),
            pending_steps: self.pending.iter().map(|p| p.call.id.clone()).collect(),
            timers: self.timers.clone(),
            history_len: self.seq,
            archived: self.archived,
        }
    }
}
