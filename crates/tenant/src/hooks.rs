//! The host's side of provisioning: the steps that touch real systems
//! (databases, billing, email), behind one trait, and an in-memory
//! reference implementation for tests and demos.

use crate::model::Tier;
use blocksmith_flow::{BoxFuture, StepError};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// What a hook is told.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HookContext {
    /// The tenant id.
    pub tenant_id: String,
    /// Its slug.
    pub slug: String,
    /// Its isolation tier.
    pub tier: Tier,
    /// Its plan.
    pub plan: String,
    /// Its admin's email.
    pub admin_email: String,
    /// Unchanged when a crashed attempt is re-run: pass it to the system you
    /// call so the re-run has no second effect.
    pub idempotency_key: String,
    /// The attempt, from 1.
    pub attempt: u32,
}

/// What a hook returns: a JSON value (see each method for the fields read)
/// or a [`StepError`] (retried per the step's policy unless permanent).
pub type HookResult = BoxFuture<'static, Result<Value, StepError>>;

/// The host systems a tenant is provisioned in. Every method runs at least
/// once per provisioning (it must be idempotent on
/// [`HookContext::idempotency_key`]); the undo methods run when a later
/// step fails, in reverse order.
pub trait TenantHooks: Send + Sync + 'static {
    /// Allocates the data location for the tier (a row range, a schema, a
    /// database). Returns `{"location": "..."}`.
    fn allocate(&self, ctx: HookContext) -> HookResult;
    /// Undoes [`TenantHooks::allocate`] (drops what it made).
    fn release(&self, ctx: HookContext) -> HookResult;
    /// Runs the schema migrations in the location.
    fn migrate(&self, ctx: HookContext) -> HookResult;
    /// Creates the billing account. Returns `{"account": "..."}`.
    fn create_billing(&self, ctx: HookContext) -> HookResult;
    /// Closes the billing account.
    fn cancel_billing(&self, ctx: HookContext) -> HookResult;
    /// Writes the seed data.
    fn seed(&self, ctx: HookContext) -> HookResult;
    /// Invites the admin. Returns `{"invitation": "..."}`.
    fn invite_admin(&self, ctx: HookContext) -> HookResult;
    /// Withdraws the invitation.
    fn revoke_invite(&self, ctx: HookContext) -> HookResult;
    /// Exports the tenant's data before a soft deletion. Returns
    /// `{"export": "..."}`.
    fn export_data(&self, ctx: HookContext) -> HookResult;
}

/// The state of [`MemoryHooks`].
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct MemoryState {
    /// Every effect applied, once per idempotency key, in order
    /// (`"allocate acme"`, ...).
    pub effects: Vec<String>,
    /// Every call, re-runs included.
    pub calls: u64,
    /// Live data locations.
    pub locations: BTreeSet<String>,
    /// Open billing accounts.
    pub accounts: BTreeSet<String>,
    /// Outstanding invitations.
    pub invitations: BTreeSet<String>,
    /// Exports made.
    pub exports: BTreeSet<String>,
    seen: BTreeMap<String, Value>,
}

/// In-memory [`TenantHooks`]: records effects (deduplicated by idempotency
/// key), keeps the resources it made, and fails on cue.
#[derive(Debug, Clone, Default)]
pub struct MemoryHooks {
    state: Arc<Mutex<MemoryState>>,
    fail_at: Arc<Mutex<BTreeSet<String>>>,
}

impl MemoryHooks {
    /// Hooks that always succeed.
    pub fn new() -> Self {
        MemoryHooks::default()
    }

    /// Makes the named hook fail for good, to show a rollback: one of
    /// [`MemoryHooks::HOOKS`] (the [`TenantHooks`] method names); calls add
    /// up. Clones share their state (so a test keeps a handle on what the
    /// service's copy did): arming a clone arms them all.
    ///
    /// # Panics
    /// On a name that is not a hook (a test's typo would otherwise pass
    /// silently).
    #[must_use]
    pub fn failing_at(self, hook: impl Into<String>) -> Self {
        let hook = hook.into();
        assert!(
            Self::HOOKS.contains(&hook.as_str()),
            "no hook named {hook:?}; one of {:?}",
            Self::HOOKS
        );
        self.fail_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(hook);
        self
    }

    /// The hooks [`MemoryHooks::failing_at`] takes.
    pub const HOOKS: &'static [&'static str] = &[
        "allocate",
        "release",
        "migrate",
        "create_billing",
        "cancel_billing",
        "seed",
        "invite_admin",
        "revoke_invite",
        "export_data",
    ];

    /// Runs `f` on the state.
    pub fn with_state<T>(&self, f: impl FnOnce(&MemoryState) -> T) -> T {
        f(&self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn run(
        &self,
        hook: &'static str,
        ctx: &HookContext,
        apply: impl FnOnce(&mut MemoryState) -> Value,
    ) -> HookResult {
        let failing = self
            .fail_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(hook);
        let mut s = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.calls += 1;
        if failing {
            return Box::pin(std::future::ready(Err(StepError::permanent(
                "injected",
                format!("{hook} failed (injected)"),
            ))));
        }
        let out = if let Some(v) = s.seen.get(&ctx.idempotency_key) {
            v.clone()
        } else {
            let v = apply(&mut s);
            s.effects.push(format!("{hook} {}", ctx.slug));
            s.seen.insert(ctx.idempotency_key.clone(), v.clone());
            v
        };
        Box::pin(std::future::ready(Ok(out)))
    }
}

fn location_of(ctx: &HookContext) -> String {
    // Named by the tenant id, never reused (a slug is, once freed).
    let t = ctx.tenant_id.replace('-', "_");
    match ctx.tier {
        Tier::Shared => format!("shared:tenant_id={}", ctx.tenant_id),
        Tier::Schema => format!("schema:{t}"),
        Tier::Database => format!("database:db_{t}"),
    }
}

impl TenantHooks for MemoryHooks {
    fn allocate(&self, ctx: HookContext) -> HookResult {
        let loc = location_of(&ctx);
        self.run("allocate", &ctx, |s| {
            s.locations.insert(loc.clone());
            json!({ "location": loc })
        })
    }
    fn release(&self, ctx: HookContext) -> HookResult {
        let loc = location_of(&ctx);
        self.run("release", &ctx, |s| {
            s.locations.remove(&loc);
            json!(null)
        })
    }
    fn migrate(&self, ctx: HookContext) -> HookResult {
        self.run("migrate", &ctx, |_| json!({ "migrations": 3 }))
    }
    fn create_billing(&self, ctx: HookContext) -> HookResult {
        let acct = format!("acct_{}", ctx.tenant_id);
        self.run("create_billing", &ctx, |s| {
            s.accounts.insert(acct.clone());
            json!({ "account": acct })
        })
    }
    fn cancel_billing(&self, ctx: HookContext) -> HookResult {
        let acct = format!("acct_{}", ctx.tenant_id);
        self.run("cancel_billing", &ctx, |s| {
            s.accounts.remove(&acct);
            json!(null)
        })
    }
    fn seed(&self, ctx: HookContext) -> HookResult {
        self.run("seed", &ctx, |_| json!({ "rows": 12 }))
    }
    fn invite_admin(&self, ctx: HookContext) -> HookResult {
        let inv = format!("inv_{}", ctx.tenant_id);
        self.run("invite_admin", &ctx, |s| {
            s.invitations.insert(inv.clone());
            json!({ "invitation": inv })
        })
    }
    fn revoke_invite(&self, ctx: HookContext) -> HookResult {
        let inv = format!("inv_{}", ctx.tenant_id);
        self.run("revoke_invite", &ctx, |s| {
            s.invitations.remove(&inv);
            json!(null)
        })
    }
    fn export_data(&self, ctx: HookContext) -> HookResult {
        let e = format!("export/{}.tar.zst", ctx.slug);
        self.run("export_data", &ctx, |s| {
            s.exports.insert(e.clone());
            json!({ "export": e })
        })
    }
}
