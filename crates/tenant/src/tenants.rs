//! The tenant service: requests, the provisioning saga on
//! `blocksmith-flow`, the lifecycle, plans and limits.

use crate::error::{Error, Result};
use crate::hooks::{HookContext, HookResult, TenantHooks};
use crate::model::{Limits, Plans, Tenant, TenantStatus, Tier};
use crate::slug;
use blocksmith_flow::{
    BoxFuture, Clock, Engine, FlowOptions, Registry, RetryPolicy, Saga, SagaPlan, SagaStep,
    StartOptions, StepContext, StepError, SystemClock, Worker,
};
use blocksmith_store::{Key, PutOptions, Store, StoreExt};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, RwLock};

/// How the tenant service stores and runs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TenantOptions {
    /// Key prefix of tenant records and slug reservations (default `"tenant"`).
    pub prefix: String,
    /// Time between a soft deletion and the earliest purge, ms (default 30 days).
    pub grace_ms: u64,
    /// How long an in-process [`Limits`] is trusted before it is re-read, ms
    /// (default 5 s; changes made through this process are seen at once).
    pub limits_ttl_ms: u64,
    /// Retry policy of the provisioning steps.
    pub step_retry: RetryPolicy,
    /// Options of the workflow engine (its prefix defaults to `"tenant-flow"`).
    pub flow: FlowOptions,
}

impl Default for TenantOptions {
    fn default() -> Self {
        TenantOptions {
            prefix: "tenant".into(),
            grace_ms: 30 * 86_400_000,
            limits_ttl_ms: 5_000,
            step_retry: RetryPolicy::default(),
            flow: FlowOptions::default().with_prefix("tenant-flow"),
        }
    }
}

impl TenantOptions {
    /// Sets the grace period.
    #[must_use]
    pub fn with_grace_ms(mut self, ms: u64) -> Self {
        self.grace_ms = ms;
        self
    }
    /// Sets the limits cache lifetime.
    #[must_use]
    pub fn with_limits_ttl_ms(mut self, ms: u64) -> Self {
        self.limits_ttl_ms = ms;
        self
    }
    /// Sets the steps' retry policy.
    #[must_use]
    pub fn with_step_retry(mut self, p: RetryPolicy) -> Self {
        self.step_retry = p;
        self
    }
    /// Sets the workflow engine's options.
    #[must_use]
    pub fn with_flow(mut self, f: FlowOptions) -> Self {
        self.flow = f;
        self
    }
    /// Sets the key prefix.
    #[must_use]
    pub fn with_prefix(mut self, p: impl Into<String>) -> Self {
        self.prefix = p.into();
        self
    }
}

/// A request for a new tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateTenant {
    /// The caller's request id: the same id always means the same tenant.
    pub request_id: String,
    /// The wanted slug (normalized).
    pub slug: String,
    /// The plan.
    pub plan: String,
    /// The isolation tier.
    pub tier: Tier,
    /// The admin to invite.
    pub admin_email: String,
}

impl CreateTenant {
    /// A request for `slug` on `plan`, shared tier.
    pub fn new(
        request_id: impl Into<String>,
        slug: impl Into<String>,
        plan: impl Into<String>,
        admin_email: impl Into<String>,
    ) -> Self {
        CreateTenant {
            request_id: request_id.into(),
            slug: slug.into(),
            plan: plan.into(),
            tier: Tier::Shared,
            admin_email: admin_email.into(),
        }
    }
    /// Sets the isolation tier.
    #[must_use]
    pub fn with_tier(mut self, tier: Tier) -> Self {
        self.tier = tier;
        self
    }
}

struct Inner<S> {
    store: Arc<S>,
    hooks: Arc<dyn TenantHooks>,
    plans: Plans,
    options: TenantOptions,
    clock: Arc<dyn Clock>,
    limits: RwLock<HashMap<String, (Arc<Limits>, u64)>>,
}

/// The tenant service over a [`blocksmith_store::Store`] (owned: `S: 'static`, so pass an
/// `Arc` to share one store between services).
pub struct Tenants<S> {
    inner: Arc<Inner<S>>,
    engine: Engine<Arc<S>>,
}

impl<S> fmt::Debug for Tenants<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tenants")
            .field("options", &self.inner.options)
            .field("plans", &self.inner.plans)
            .finish_non_exhaustive()
    }
}

/// Provisioning step ids, in order (the `--fail-at` names of the CLI map to
/// the hooks they call).
pub const PROVISION_STEPS: &[&str] = &[
    "begin", "reserve", "allocate", "migrate", "billing", "seed", "invite", "activate",
];

/// Request ids become tenant ids (`tn-<request id>`) and workflow ids:
/// the same rules, checked before anything is written.
fn check_request_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidSlug {
            slug: id.chars().take(80).collect(),
            reason: "a request id must be 1-100 ASCII letters, digits, - _ . or @",
        })
    }
}

fn check_email(e: &str) -> Result<()> {
    let ok = e.len() <= 254 && e.contains('@') && !e.chars().any(|c| c.is_control() || c == ' ');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidSlug {
            slug: e.chars().take(80).collect(),
            reason: "not an email address",
        })
    }
}

fn step_err(e: &Error) -> StepError {
    match e {
        Error::Store(_) | Error::Contended(_) => StepError::retryable("store", e.to_string()),
        _ => StepError::permanent("tenant", e.to_string()),
    }
}

impl<S: Store + 'static> Inner<S> {
    fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    fn tenant_key(&self, id: &str) -> Result<Key> {
        Ok(Key::new(format!("{}/t/{id}", self.options.prefix))?)
    }

    fn slug_key(&self, slug: &str) -> Result<Key> {
        Ok(Key::new(format!("{}/s/{slug}", self.options.prefix))?)
    }

    async fn load(&self, id: &str) -> Result<(Tenant, blocksmith_store::Version)> {
        self.store
            .get_record::<Tenant>(&self.tenant_key(id)?)
            .await?
            .ok_or_else(|| Error::NotFound(id.to_string()))
    }

    /// Read-modify-write of a tenant by compare-and-swap. `f` returns
    /// `Ok(false)` to leave the record as it is.
    async fn update(
        &self,
        id: &str,
        mut f: impl FnMut(&mut Tenant, u64) -> Result<bool>,
    ) -> Result<Tenant> {
        for _ in 0..32 {
            let (mut t, v) = self.load(id).await?;
            let now = self.now();
            if !f(&mut t, now)? {
                return Ok(t);
            }
            t.revision += 1;
            t.updated_ms = t.updated_ms.max(now);
            match self
                .store
                .put_record(&self.tenant_key(id)?, &t, PutOptions::update(v))
                .await
            {
                Ok(_) => {
                    self.limits
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(id);
                    return Ok(t);
                }
                Err(e) if e.is_conflict() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contended(id.to_string()))
    }

    async fn ctx(&self, step: &StepContext) -> Result<HookContext> {
        let id = step.input["tenant"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (t, _) = self.load(&id).await?;
        Ok(HookContext {
            tenant_id: t.id,
            slug: t.slug,
            tier: t.tier,
            plan: t.plan,
            admin_email: t.admin_email,
            idempotency_key: step.idempotency_key.clone(),
            attempt: step.attempt,
        })
    }

    /// A step that calls a hook, then stores `field` of its output in the
    /// tenant (when given).
    async fn hook_step(
        self: Arc<Self>,
        step: StepContext,
        call: fn(&dyn TenantHooks, HookContext) -> HookResult,
        field: Option<&'static str>,
    ) -> std::result::Result<Value, StepError> {
        let ctx = self.ctx(&step).await.map_err(|e| step_err(&e))?;
        let id = ctx.tenant_id.clone();
        let out = match call(self.hooks.as_ref(), ctx).await {
            Ok(out) => {
                if step.compensating {
                    self.note_cleanup(&id, &step.step_id, None).await;
                }
                out
            }
            Err(e) => {
                // A compensation that fails is remembered on the tenant (the
                // last error; cleared when a later attempt succeeds), so a
                // rollback that left something behind is visible.
                if step.compensating {
                    self.note_cleanup(&id, &step.step_id, Some(e.to_string()))
                        .await;
                }
                return Err(e);
            }
        };
        if let Some(field) = field {
            let v = out[field].as_str().map(str::to_string);
            self.update(&id, |t, _| {
                let slot = match field {
                    "location" => &mut t.location,
                    "account" => &mut t.billing_account,
                    "invitation" => &mut t.invitation,
                    _ => &mut t.export,
                };
                if *slot == v {
                    return Ok(false);
                }
                slot.clone_from(&v);
                Ok(true)
            })
            .await
            .map_err(|e| step_err(&e))?;
        }
        Ok(out)
    }

    async fn note_cleanup(&self, id: &str, step: &str, error: Option<String>) {
        let _ = self
            .update(id, |t, _| {
                let changed = match &error {
                    Some(e) => {
                        t.cleanup_failed
                            .insert(step.to_string(), e.clone())
                            .as_ref()
                            != Some(e)
                    }
                    None => t.cleanup_failed.remove(step).is_some(),
                };
                Ok(changed)
            })
            .await;
    }

    /// Reserves the slug, naming this tenant (idempotent for it). A freed
    /// reservation is empty and is taken by compare-and-swap, so a late
    /// release can never free a new holder's.
    async fn reserve(self: Arc<Self>, step: StepContext) -> std::result::Result<Value, StepError> {
        let id = step.input["tenant"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (t, _) = self.load(&id).await.map_err(|e| step_err(&e))?;
        let key = self.slug_key(&t.slug).map_err(|e| step_err(&e))?;
        for _ in 0..8 {
            let holder = self
                .store
                .get_opt(&key)
                .await
                .map_err(|e| step_err(&e.into()))?;
            let mode = match &holder {
                Some(h) if h.data[..] == *id.as_bytes() => return Ok(json!({ "slug": t.slug })),
                Some(h) if h.data.is_empty() => PutOptions::update(h.meta.version.clone()),
                Some(_) => {
                    return Err(StepError::permanent(
                        "slug_taken",
                        format!("slug {:?} is taken", t.slug),
                    ));
                }
                None => PutOptions::create(),
            };
            match self.store.put(&key, id.clone().into(), mode).await {
                Ok(_) => return Ok(json!({ "slug": t.slug })),
                Err(e) if e.is_conflict() => {}
                Err(e) => return Err(step_err(&e.into())),
            }
        }
        Err(StepError::retryable("store", "slug reservation contended"))
    }

    /// Frees the slug if this tenant holds it; `to` is the status to end in
    /// (none: the status is left alone).
    async fn release_slug(
        self: Arc<Self>,
        step: StepContext,
        to: Option<TenantStatus>,
    ) -> std::result::Result<Value, StepError> {
        let id = step.input["tenant"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (t, _) = self.load(&id).await.map_err(|e| step_err(&e))?;
        let key = self.slug_key(&t.slug).map_err(|e| step_err(&e))?;
        // A rollback whose clean-up failed keeps the slug: a new tenant must
        // not inherit what the old one left behind.
        if to.is_none() && !t.cleanup_failed.is_empty() {
            return Ok(json!({ "kept": t.slug }));
        }
        if let Some(h) = self
            .store
            .get_opt(&key)
            .await
            .map_err(|e| step_err(&e.into()))?
            && h.data[..] == *id.as_bytes()
        {
            // Freed by compare-and-swap on the version that names us.
            match self
                .store
                .put(
                    &key,
                    bytes::Bytes::new(),
                    PutOptions::update(h.meta.version),
                )
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_conflict() => {}
                Err(e) => return Err(step_err(&e.into())),
            }
        }
        if let Some(to) = to {
            self.update(&id, |t, now| {
                if t.status == to {
                    return Ok(false);
                }
                t.change(now, "purge", to, json!({}));
                Ok(true)
            })
            .await
            .map_err(|e| step_err(&e))?;
        }
        Ok(json!(null))
    }

    async fn set_status(
        self: Arc<Self>,
        step: StepContext,
        action: &'static str,
        from: &'static [TenantStatus],
        to: TenantStatus,
    ) -> std::result::Result<Value, StepError> {
        let id = step.input["tenant"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let grace = self.options.grace_ms;
        let plans = self.plans.clone();
        self.update(&id, |t, now| {
            if t.status == to {
                return Ok(false);
            }
            if !from.contains(&t.status) {
                return Err(Error::InvalidTransition {
                    from: t.status,
                    action,
                });
            }
            match to {
                TenantStatus::Active => {
                    let plan = plans.get(&t.plan)?;
                    t.quotas.clone_from(&plan.quotas);
                    t.features.clone_from(&plan.features);
                    t.trial_ends_ms = plan
                        .trial_days
                        .map(|d| now.saturating_add(u64::from(d) * 86_400_000));
                }
                TenantStatus::Deleted => {
                    t.deleted_ms = Some(now);
                    t.purge_after_ms = Some(now.saturating_add(grace));
                }
                _ => {}
            }
            let detail = if to == TenantStatus::Failed && !t.cleanup_failed.is_empty() {
                json!({ "cleanup_failed": t.cleanup_failed })
            } else {
                json!({})
            };
            t.change(now, action, to, detail);
            Ok(true)
        })
        .await
        .map_err(|e| step_err(&e))?;
        Ok(json!(null))
    }
}

macro_rules! hook {
    ($inner:expr, $call:expr, $field:expr) => {{
        let inner = $inner.clone();
        move |ctx: StepContext| {
            let inner = inner.clone();
            async move { inner.hook_step(ctx, $call, $field).await }
        }
    }};
}

/// A step that moves the tenant from one of `from` to `to` (idempotent).
fn status_step<S: Store + 'static>(
    inner: &Arc<Inner<S>>,
    action: &'static str,
    from: &'static [TenantStatus],
    to: TenantStatus,
) -> impl Fn(StepContext) -> BoxFuture<'static, std::result::Result<Value, StepError>>
+ Send
+ Sync
+ 'static {
    let inner = inner.clone();
    move |ctx| {
        let i = inner.clone();
        Box::pin(async move { i.set_status(ctx, action, from, to).await })
    }
}

fn registry<S: Store + 'static>(inner: &Arc<Inner<S>>) -> Registry {
    let i = inner.clone();
    let reserve = move |ctx: StepContext| {
        let i = i.clone();
        async move { i.reserve(ctx).await }
    };
    let i = inner.clone();
    let unreserve = move |ctx: StepContext| {
        let i = i.clone();
        async move { i.release_slug(ctx, None).await }
    };
    let i = inner.clone();
    let free_slug = move |ctx: StepContext| {
        let i = i.clone();
        async move { i.release_slug(ctx, Some(TenantStatus::Purged)).await }
    };
    Registry::new()
        .with_workflow(Saga)
        .with_step_fn(
            "tenant.begin",
            status_step(
                inner,
                "provision",
                &[TenantStatus::Requested],
                TenantStatus::Provisioning,
            ),
        )
        .with_step_fn(
            "tenant.fail",
            status_step(
                inner,
                "rollback",
                &[TenantStatus::Requested, TenantStatus::Provisioning],
                TenantStatus::Failed,
            ),
        )
        .with_step_fn("tenant.reserve", reserve)
        .with_step_fn("tenant.unreserve", unreserve)
        .with_step_fn("tenant.free_slug", free_slug)
        .with_step_fn(
            "tenant.allocate",
            hook!(inner, |h, c| h.allocate(c), Some("location")),
        )
        .with_step_fn("tenant.release", hook!(inner, |h, c| h.release(c), None))
        .with_step_fn("tenant.migrate", hook!(inner, |h, c| h.migrate(c), None))
        .with_step_fn(
            "tenant.billing",
            hook!(inner, |h, c| h.create_billing(c), Some("account")),
        )
        .with_step_fn(
            "tenant.cancel_billing",
            hook!(inner, |h, c| h.cancel_billing(c), None),
        )
        .with_step_fn("tenant.seed", hook!(inner, |h, c| h.seed(c), None))
        .with_step_fn(
            "tenant.invite",
            hook!(inner, |h, c| h.invite_admin(c), Some("invitation")),
        )
        .with_step_fn(
            "tenant.revoke_invite",
            hook!(inner, |h, c| h.revoke_invite(c), None),
        )
        .with_step_fn(
            "tenant.export",
            hook!(inner, |h, c| h.export_data(c), Some("export")),
        )
        .with_step_fn(
            "tenant.activate",
            status_step(
                inner,
                "activate",
                &[TenantStatus::Provisioning],
                TenantStatus::Active,
            ),
        )
        .with_step_fn(
            "tenant.mark_deleted",
            status_step(
                inner,
                "delete",
                &[TenantStatus::Active, TenantStatus::Suspended],
                TenantStatus::Deleted,
            ),
        )
        .with_step_fn(
            "tenant.deprovision",
            status_step(
                inner,
                "deprovision",
                &[TenantStatus::Deleted],
                TenantStatus::Deprovisioning,
            ),
        )
}

impl<S: Store + 'static> Tenants<S> {
    /// A tenant service over `store`, provisioning through `hooks`, offering
    /// `plans`.
    pub fn new(store: S, hooks: impl TenantHooks, plans: Plans) -> Self {
        Self::build(
            Arc::new(store),
            Arc::new(hooks),
            plans,
            TenantOptions::default(),
            Arc::new(SystemClock),
        )
    }

    fn build(
        store: Arc<S>,
        hooks: Arc<dyn TenantHooks>,
        plans: Plans,
        options: TenantOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let inner = Arc::new(Inner {
            store: store.clone(),
            hooks,
            plans,
            options: options.clone(),
            clock: clock.clone(),
            limits: RwLock::new(HashMap::new()),
        });
        let engine = Engine::new(store, registry(&inner))
            .with_options(options.flow)
            .with_clock(clock);
        Tenants { inner, engine }
    }

    fn rebuild(self, options: TenantOptions, clock: Arc<dyn Clock>) -> Self {
        let Inner {
            store,
            hooks,
            plans,
            ..
        } = match Arc::try_unwrap(self.inner) {
            Ok(i) => i,
            Err(shared) => Inner {
                store: shared.store.clone(),
                hooks: shared.hooks.clone(),
                plans: shared.plans.clone(),
                options: shared.options.clone(),
                clock: shared.clock.clone(),
                limits: RwLock::new(HashMap::new()),
            },
        };
        Self::build(store, hooks, plans, options, clock)
    }

    /// Sets the options.
    #[must_use]
    pub fn with_options(self, options: TenantOptions) -> Self {
        let clock = self.inner.clock.clone();
        self.rebuild(options, clock)
    }

    /// Replaces the clock (tests, simulations).
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        let options = self.inner.options.clone();
        self.rebuild(options, Arc::new(clock))
    }

    /// The workflow engine running provisioning (for its queries and
    /// histories: instance ids are `<tenant id>.provision`, `.delete` and
    /// `.purge`).
    pub fn engine(&self) -> &Engine<Arc<S>> {
        &self.engine
    }

    /// A worker to run provisioning steps (see [`blocksmith_flow::Worker`]).
    ///
    /// # Errors
    /// As [`Engine::worker`].
    pub fn worker(&self, name: &str) -> Result<Worker<'_, Arc<S>>> {
        Ok(self.engine.worker(name)?)
    }

    /// Runs every step that is due, in this process, until nothing is
    /// (a convenience for tools and tests; services run workers).
    ///
    /// # Errors
    /// Store and engine errors.
    pub async fn run_due(&self) -> Result<()> {
        let mut w = self.worker("tenants")?;
        w.run_until_idle(64).await?;
        w.release().await?;
        Ok(())
    }

    /// Requests a tenant: the record is written and provisioning begins (a
    /// worker runs it). The same `request_id` returns the same tenant and
    /// starts nothing new; reused for a different request it is an error.
    ///
    /// # Errors
    /// [`Error::InvalidSlug`], [`Error::UnknownPlan`], [`Error::RequestMismatch`],
    /// [`Error::Flow`] for a bad request id, store errors. A slug another
    /// tenant holds fails the provisioning (status [`TenantStatus::Failed`]),
    /// not this call, since the reservation is its first step.
    pub async fn create(&self, req: CreateTenant) -> Result<Tenant> {
        let slug = slug::normalize(&req.slug)?;
        self.inner.plans.get(&req.plan)?;
        check_request_id(&req.request_id)?;
        check_email(&req.admin_email)?;
        let id = format!("tn-{}", req.request_id);
        let key = self.inner.tenant_key(&id).map_err(|_| Error::InvalidSlug {
            slug: req.request_id.clone(),
            reason: "request id not usable as a key",
        })?;
        let now = self.inner.now();
        let mut t = Tenant {
            id: id.clone(),
            slug,
            plan: req.plan.clone(),
            tier: req.tier,
            status: TenantStatus::Requested,
            admin_email: req.admin_email.clone(),
            request_id: req.request_id.clone(),
            location: None,
            billing_account: None,
            invitation: None,
            export: None,
            quotas: BTreeMap::new(),
            features: std::collections::BTreeSet::new(),
            config: BTreeMap::new(),
            trial_ends_ms: None,
            created_ms: now,
            updated_ms: now,
            deleted_ms: None,
            purge_after_ms: None,
            cleanup_failed: BTreeMap::new(),
            revision: 1,
            audit: Vec::new(),
        };
        t.audit.push(crate::model::AuditEntry {
            at_ms: now,
            action: "create".into(),
            from: None,
            to: TenantStatus::Requested,
            detail: json!({ "plan": req.plan, "tier": req.tier.as_str() }),
        });
        let t = match self
            .inner
            .store
            .put_record(&key, &t, PutOptions::create())
            .await
        {
            Ok(_) => t,
            Err(e) if e.is_conflict() => {
                let (old, _) = self.inner.load(&id).await?;
                if old.slug != t.slug
                    || old.plan != t.plan
                    || old.tier != t.tier
                    || old.admin_email != t.admin_email
                {
                    return Err(Error::RequestMismatch(req.request_id));
                }
                old
            }
            Err(e) => return Err(e.into()),
        };
        // Idempotent too: the instance id is the tenant's.
        self.engine
            .start::<Saga>(
                &self.provision_plan(&id),
                StartOptions::default()
                    .with_id(format!("{id}.provision"))
                    .with_tag("tenant.provision"),
            )
            .await?;
        Ok(t)
    }

    fn step(&self, id: &str, step: &str, name: &str) -> SagaStep {
        SagaStep::new(step, name, json!({ "tenant": id }))
            .with_retry(self.inner.options.step_retry.clone())
    }

    fn provision_plan(&self, id: &str) -> SagaPlan {
        let undo = |s: SagaStep, name: &str| s.with_compensation(name, json!({ "tenant": id }));
        SagaPlan::new(vec![
            // Its undo is the last to run: the tenant ends `failed`.
            undo(self.step(id, "begin", "tenant.begin"), "tenant.fail"),
            undo(
                self.step(id, "reserve", "tenant.reserve"),
                "tenant.unreserve",
            ),
            undo(
                self.step(id, "allocate", "tenant.allocate"),
                "tenant.release",
            ),
            self.step(id, "migrate", "tenant.migrate"),
            undo(
                self.step(id, "billing", "tenant.billing"),
                "tenant.cancel_billing",
            ),
            self.step(id, "seed", "tenant.seed"),
            undo(
                self.step(id, "invite", "tenant.invite"),
                "tenant.revoke_invite",
            ),
            self.step(id, "activate", "tenant.activate"),
        ])
    }

    /// The workflow id for an action: `base` the first time; after a
    /// failed run of it, a new one (`base-2`, ...), so the action can be
    /// tried again; while one runs (or once one succeeded), that one.
    async fn attempt_id(&self, base: &str) -> Result<String> {
        for n in 1..=50u32 {
            let id = if n == 1 {
                base.to_string()
            } else {
                format!("{base}-{n}")
            };
            match self.engine.get(&id).await? {
                Some(v)
                    if matches!(
                        v.status,
                        blocksmith_flow::Status::RolledBack | blocksmith_flow::Status::Failed
                    ) => {}
                _ => return Ok(id),
            }
        }
        Err(Error::Contended(base.to_string()))
    }

    async fn resolve(&self, slug_or_id: &str) -> Result<String> {
        if slug_or_id.starts_with("tn-") {
            return Ok(slug_or_id.to_string());
        }
        let slug = slug::normalize(slug_or_id)?;
        let key = self.inner.slug_key(&slug)?;
        match self.inner.store.get_opt(&key).await? {
            Some(r) if !r.data.is_empty() => String::from_utf8(r.data.to_vec())
                .map_err(|_| Error::NotFound(slug_or_id.to_string())),
            _ => Err(Error::NotFound(slug_or_id.to_string())),
        }
    }

    /// A tenant by slug (while it holds one) or by id (`tn-...`, always).
    ///
    /// # Errors
    /// [`Error::NotFound`], store errors.
    pub async fn get(&self, slug_or_id: &str) -> Result<Tenant> {
        let id = self.resolve(slug_or_id).await?;
        Ok(self.inner.load(&id).await?.0)
    }

    /// Every tenant (with `status`, if given), in id order.
    ///
    /// # Errors
    /// Store errors.
    pub async fn list(&self, status: Option<TenantStatus>) -> Result<Vec<Tenant>> {
        let mut out = Vec::new();
        for m in self
            .inner
            .store
            .list_all(&format!("{}/t/", self.inner.options.prefix))
            .await?
        {
            if let Some((t, _)) = self.inner.store.get_record::<Tenant>(&m.key).await?
                && status.is_none_or(|s| s == t.status)
            {
                out.push(t);
            }
        }
        Ok(out)
    }

    async fn transition(
        &self,
        slug_or_id: &str,
        action: &'static str,
        from: &[TenantStatus],
        to: TenantStatus,
        detail: Value,
    ) -> Result<Tenant> {
        let id = self.resolve(slug_or_id).await?;
        self.inner
            .update(&id, |t, now| {
                if !from.contains(&t.status) {
                    return Err(Error::InvalidTransition {
                        from: t.status,
                        action,
                    });
                }
                t.change(now, action, to, detail.clone());
                Ok(true)
            })
            .await
    }

    /// Suspends an active tenant (its limits stop admitting use).
    ///
    /// # Errors
    /// [`Error::InvalidTransition`] unless active; [`Error::NotFound`].
    pub async fn suspend(&self, slug_or_id: &str, reason: &str) -> Result<Tenant> {
        self.transition(
            slug_or_id,
            "suspend",
            &[TenantStatus::Active],
            TenantStatus::Suspended,
            json!({ "reason": reason }),
        )
        .await
    }

    /// Resumes a suspended tenant.
    ///
    /// # Errors
    /// [`Error::InvalidTransition`] unless suspended; [`Error::NotFound`].
    pub async fn resume(&self, slug_or_id: &str) -> Result<Tenant> {
        self.transition(
            slug_or_id,
            "resume",
            &[TenantStatus::Suspended],
            TenantStatus::Active,
            json!({}),
        )
        .await
    }

    /// Moves a tenant to another plan: its quotas and features change at
    /// once (a downgrade below current use is the host's to police with
    /// [`Limits::check`]).
    ///
    /// # Errors
    /// [`Error::UnknownPlan`], [`Error::InvalidTransition`] unless active or
    /// suspended.
    pub async fn change_plan(&self, slug_or_id: &str, plan: &str) -> Result<Tenant> {
        let p = self.inner.plans.get(plan)?.clone();
        let id = self.resolve(slug_or_id).await?;
        self.inner
            .update(&id, |t, now| {
                if !matches!(t.status, TenantStatus::Active | TenantStatus::Suspended) {
                    return Err(Error::InvalidTransition {
                        from: t.status,
                        action: "change the plan of",
                    });
                }
                if t.plan == p.name {
                    return Ok(false);
                }
                let detail = json!({ "from": t.plan, "to": p.name });
                t.plan.clone_from(&p.name);
                t.quotas.clone_from(&p.quotas);
                t.features.clone_from(&p.features);
                let status = t.status;
                t.change(now, "plan", status, detail);
                Ok(true)
            })
            .await
    }

    /// Sets one configuration value.
    ///
    /// # Errors
    /// [`Error::NotFound`], store errors.
    pub async fn set_config(&self, slug_or_id: &str, key: &str, value: Value) -> Result<Tenant> {
        let id = self.resolve(slug_or_id).await?;
        self.inner
            .update(&id, |t, _| {
                if t.config.get(key) == Some(&value) {
                    return Ok(false);
                }
                t.config.insert(key.to_string(), value.clone());
                Ok(true)
            })
            .await
    }

    /// Soft-deletes a tenant: its data is exported, then it is marked
    /// deleted, purgeable after the grace period. Runs as a workflow (a
    /// worker completes it).
    ///
    /// # Errors
    /// [`Error::InvalidTransition`] unless active or suspended.
    pub async fn delete(&self, slug_or_id: &str) -> Result<Tenant> {
        let id = self.resolve(slug_or_id).await?;
        let (t, _) = self.inner.load(&id).await?;
        if !matches!(t.status, TenantStatus::Active | TenantStatus::Suspended) {
            return Err(Error::InvalidTransition {
                from: t.status,
                action: "delete",
            });
        }
        let plan = SagaPlan::new(vec![
            self.step(&id, "export", "tenant.export"),
            self.step(&id, "mark_deleted", "tenant.mark_deleted"),
        ]);
        self.engine
            .start::<Saga>(
                &plan,
                StartOptions::default().with_id(self.attempt_id(&format!("{id}.delete")).await?),
            )
            .await?;
        Ok(t)
    }

    /// Purges a deleted tenant after its grace period: billing closed,
    /// invitation withdrawn, data released, slug freed; the record stays,
    /// status purged, for the audit. Runs as a workflow.
    ///
    /// # Errors
    /// [`Error::InvalidTransition`] unless deleted and past the grace period.
    pub async fn purge(&self, slug_or_id: &str) -> Result<Tenant> {
        let id = self.resolve(slug_or_id).await?;
        let (t, _) = self.inner.load(&id).await?;
        let due = t.purge_after_ms.is_some_and(|p| self.inner.now() >= p);
        if t.status != TenantStatus::Deleted || !due {
            return Err(Error::InvalidTransition {
                from: t.status,
                action: "purge (before the grace period ends, or undeleted)",
            });
        }
        let plan = SagaPlan::new(vec![
            self.step(&id, "deprovision", "tenant.deprovision"),
            self.step(&id, "cancel_billing", "tenant.cancel_billing"),
            self.step(&id, "revoke_invite", "tenant.revoke_invite"),
            self.step(&id, "release", "tenant.release"),
            self.step(&id, "free_slug", "tenant.free_slug"),
        ]);
        self.engine
            .start::<Saga>(
                &plan,
                StartOptions::default().with_id(self.attempt_id(&format!("{id}.purge")).await?),
            )
            .await?;
        Ok(t)
    }

    /// The tenant's limits, for in-process checks on every request: served
    /// from memory, re-read after [`TenantOptions::limits_ttl_ms`] (at once
    /// after a change made through this service).
    ///
    /// # Errors
    /// [`Error::NotFound`], store errors (on a refresh).
    pub async fn limits(&self, slug_or_id: &str) -> Result<Arc<Limits>> {
        let now = self.inner.now();
        let id = if slug_or_id.starts_with("tn-") {
            slug_or_id.to_string()
        } else {
            self.resolve(slug_or_id).await?
        };
        if let Some((l, at)) = self
            .inner
            .limits
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
            && now.saturating_sub(*at) < self.inner.options.limits_ttl_ms
        {
            return Ok(l.clone());
        }
        let (t, _) = self.inner.load(&id).await?;
        let l = Arc::new(t.limits());
        self.inner
            .limits
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, (l.clone(), now));
        Ok(l)
    }
}

impl<S: Store + 'static> Tenants<S> {
    /// The same calls as blocking ones, for synchronous hosts, tools and
    /// tests (each drives the async method to completion on the calling
    /// thread: never call it from inside an async runtime's task).
    pub fn blocking(&self) -> BlockingTenants<'_, S> {
        BlockingTenants(self)
    }
}

/// Blocking calls over [`Tenants`] (see [`Tenants::blocking`]); each method
/// drives the async one with [`blocksmith_store::block_on`].
pub struct BlockingTenants<'a, S>(&'a Tenants<S>);

impl<S> fmt::Debug for BlockingTenants<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingTenants").finish_non_exhaustive()
    }
}

impl<S: Store + 'static> BlockingTenants<'_, S> {
    /// [`Tenants::run_due`].
    ///
    /// # Errors
    /// As [`Tenants::run_due`].
    pub fn run_due(&self) -> Result<()> {
        blocksmith_store::block_on(self.0.run_due())
    }
    /// [`Tenants::create`].
    ///
    /// # Errors
    /// As [`Tenants::create`].
    pub fn create(&self, req: CreateTenant) -> Result<Tenant> {
        blocksmith_store::block_on(self.0.create(req))
    }
    /// [`Tenants::get`].
    ///
    /// # Errors
    /// As [`Tenants::get`].
    pub fn get(&self, slug_or_id: &str) -> Result<Tenant> {
        blocksmith_store::block_on(self.0.get(slug_or_id))
    }
    /// [`Tenants::list`].
    ///
    /// # Errors
    /// As [`Tenants::list`].
    pub fn list(&self, status: Option<TenantStatus>) -> Result<Vec<Tenant>> {
        blocksmith_store::block_on(self.0.list(status))
    }
    /// [`Tenants::suspend`].
    ///
    /// # Errors
    /// As [`Tenants::suspend`].
    pub fn suspend(&self, slug_or_id: &str, reason: &str) -> Result<Tenant> {
        blocksmith_store::block_on(self.0.suspend(slug_or_id, reason))
    }
    /// [`Tenants::resume`].
    ///
    /// # Errors
    /// As [`Tenants::resume`].
    pub fn resume(&self, slug_or_id: &str) -> Result<Tenant> {
        blocksmith_store::block_on(self.0.resume(slug_or_id))
    }
    /// [`Tenants::change_plan`].
    ///
    /// # Errors
    /// As [`Tenants::change_plan`].
    pub fn change_plan(&self, slug_or_id: &str, plan: &str) -> Result<Tenant> {
        blocksmith_store::block_on(self.0.change_plan(slug_or_id, plan))
    }
    /// [`Tenants::set_config`].
    ///
    /// # Errors
    /// As [`Tenants::set_config`].
    pub fn set_config(&self, slug_or_id: &str, key: &str, value: Value) -> Result<Tenant> {
        blocksmith_store::block_on(self.0.set_config(slug_or_id, key, value))
    }
    /// [`Tenants::delete`].
    ///
    /// # Errors
    /// As [`Tenants::delete`].
    pub fn delete(&self, slug_or_id: &str) -> Result<Tenant> {
        blocksmith_store::block_on(self.0.delete(slug_or_id))
    }
    /// [`Tenants::purge`].
    ///
    /// # Errors
    /// As [`Tenants::purge`].
    pub fn purge(&self, slug_or_id: &str) -> Result<Tenant> {
        blocksmith_store::block_on(self.0.purge(slug_or_id))
    }
    /// [`Tenants::limits`].
    ///
    /// # Errors
    /// As [`Tenants::limits`].
    pub fn limits(&self, slug_or_id: &str) -> Result<Arc<Limits>> {
        blocksmith_store::block_on(self.0.limits(slug_or_id))
    }
}
