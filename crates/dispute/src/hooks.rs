//! The host's side: telling the processor and the people, behind one trait,
//! and an in-memory reference implementation for tests and demos.

use crate::model::{Dispute, EvidenceItem};
use blocksmith_flow::{BoxFuture, StepError};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

/// What a hook is told.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HookContext {
    /// The dispute, as it is when the hook runs.
    pub dispute: Dispute,
    /// The response round the call is about (0-based).
    pub round: usize,
    /// Unchanged when a crashed or failed attempt is re-run: pass it to
    /// the system you call so a re-run has no second effect.
    pub idempotency_key: String,
    /// The attempt, from 1.
    pub attempt: u32,
}

/// A reminder that a response deadline is near.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reminder {
    /// The deadline, Unix ms.
    pub due_ms: u64,
    /// How long before it this reminder was set for, ms.
    pub before_ms: u64,
}

/// What a hook returns: success, or a [`StepError`] (retried per the
/// step policy unless permanent).
pub type HookResult = BoxFuture<'static, Result<(), StepError>>;

/// The systems a dispute talks to. Each method runs at least once per
/// occasion and must be idempotent on [`HookContext::idempotency_key`].
pub trait DisputeHooks: Send + Sync + 'static {
    /// Sends the response package (the items, files by store key; read
    /// them with [`crate::Disputes::file`]) to the processor. A permanent
    /// failure reopens the response while its deadline lasts.
    fn submit(&self, ctx: HookContext, package: Vec<EvidenceItem>) -> HookResult;
    /// Tells the processor the merchant concedes.
    fn accept(&self, ctx: HookContext) -> HookResult;
    /// A response deadline is near and nothing is submitted.
    fn remind(&self, ctx: HookContext, reminder: Reminder) -> HookResult;
    /// A deadline passed without a submission and the policy escalates.
    fn escalate(&self, ctx: HookContext) -> HookResult;
}

/// The state of [`MemoryHooks`].
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct MemoryState {
    /// Every effect, once per idempotency key, in order:
    /// `"submit dp_1 0 [ev_a, ev_b]"`, `"accept dp_1"`, `"remind dp_1 0 86400000"`,
    /// `"escalate dp_1 0"`.
    pub effects: Vec<String>,
    /// Every call, re-runs included.
    pub calls: u64,
    seen: BTreeSet<String>,
}

/// In-memory [`DisputeHooks`]: records effects (deduplicated by
/// idempotency key, as a real processor does) and fails on cue. Clones
/// share their state.
#[derive(Debug, Clone, Default)]
pub struct MemoryHooks {
    state: Arc<Mutex<MemoryState>>,
    fail: Arc<Mutex<BTreeMap<String, bool>>>,
}

impl MemoryHooks {
    /// Hooks that always succeed.
    pub fn new() -> Self {
        MemoryHooks::default()
    }

    /// The hook names [`MemoryHooks::failing`] takes.
    pub const HOOKS: &'static [&'static str] = &["submit", "accept", "remind", "escalate"];

    /// Makes hook `name` fail from now on, for good (`permanent`) or
    /// retryably; clones share it.
    ///
    /// # Panics
    /// On a name that is not a hook (a test's typo would pass silently).
    pub fn failing(&self, name: &str, permanent: bool) {
        assert!(Self::HOOKS.contains(&name), "no hook named {name:?}");
        self.fail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_string(), permanent);
    }

    /// Makes every hook succeed again.
    pub fn healed(&self) {
        self.fail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Runs `f` on the state.
    pub fn with_state<T>(&self, f: impl FnOnce(&MemoryState) -> T) -> T {
        f(&self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The effects so far.
    pub fn effects(&self) -> Vec<String> {
        self.with_state(|s| s.effects.clone())
    }

    fn run(&self, hook: &str, ctx: &HookContext, effect: String) -> HookResult {
        let fail = self
            .fail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(hook)
            .copied();
        let mut s = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        s.calls += 1;
        let r = match fail {
            Some(true) => Err(StepError::permanent("injected", format!("{hook} failed"))),
            Some(false) => Err(StepError::retryable("injected", format!("{hook} failed"))),
            None => {
                if s.seen.insert(ctx.idempotency_key.clone()) {
                    s.effects.push(effect);
                }
                Ok(())
            }
        };
        Box::pin(std::future::ready(r))
    }
}

impl DisputeHooks for MemoryHooks {
    fn submit(&self, ctx: HookContext, package: Vec<EvidenceItem>) -> HookResult {
        let ids: Vec<&str> = package.iter().map(|e| e.id.as_str()).collect();
        let e = format!(
            "submit {} {} [{}]",
            ctx.dispute.id,
            ctx.round,
            ids.join(", ")
        );
        self.run("submit", &ctx, e)
    }
    fn accept(&self, ctx: HookContext) -> HookResult {
        let e = format!("accept {}", ctx.dispute.id);
        self.run("accept", &ctx, e)
    }
    fn remind(&self, ctx: HookContext, reminder: Reminder) -> HookResult {
        let e = format!(
            "remind {} {} {}",
            ctx.dispute.id, ctx.round, reminder.before_ms
        );
        self.run("remind", &ctx, e)
    }
    fn escalate(&self, ctx: HookContext) -> HookResult {
        let e = format!("escalate {} {}", ctx.dispute.id, ctx.round);
        self.run("escalate", &ctx, e)
    }
}
