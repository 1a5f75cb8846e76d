//! The dispute service: opening, webhook ingestion, evidence, submission,
//! the due-date index and the queries, over a `blocksmith-flow` engine.

use crate::error::{Error, Result};
use crate::hooks::{DisputeHooks, HookContext, Reminder};
use crate::model::{
    Action, Content, DeadlineAction, Dispute, DisputeFlow, EventKind, EvidenceItem, Input, Money,
    NetworkEvent, Policy, Refusal, Stage, Start, Status, check_event_shape, is_name,
};
use crate::table::ReasonTable;
use blocksmith_flow::{
    Clock, Engine, FlowOptions, ListFilter, Registry, RetryPolicy, Signalled, StartOptions,
    StepContext, StepError, SystemClock, Worker,
};
use blocksmith_store::{Key, ListOptions, PutOptions, Store, StoreExt as _};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

const DAY_MS: u64 = 86_400_000;

/// How the dispute service stores, times and limits disputes.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DisputeOptions {
    /// Key prefix of evidence files and the due-date index (default `"dispute"`).
    pub prefix: String,
    /// The acquirer's IANA time zone (default `"UTC"`).
    pub timezone: String,
    /// Calendar days taken off every network deadline (default 2).
    pub safety_margin_days: u32,
    /// Reminders before a deadline, ms (default 7, 3 and 1 days).
    pub reminders_ms: Vec<u64>,
    /// What runs at a missed deadline (default [`DeadlineAction::Escalate`]:
    /// conceding money automatically is a choice a host makes, see
    /// [`DeadlineAction::AutoAccept`]).
    pub on_deadline: DeadlineAction,
    /// Largest evidence file, bytes (default 5 MiB).
    pub max_file_bytes: u64,
    /// Largest text item, bytes (default 20,000).
    pub max_text_bytes: usize,
    /// Most bytes of evidence per dispute (default 4.5 MB, Stripe's cap).
    pub max_total_bytes: u64,
    /// Most evidence items per dispute (default 50).
    pub max_items: usize,
    /// How long a decided, settled dispute still takes late events (a
    /// withdrawal after an acceptance, a duplicate) before it is closed
    /// for good, ms (default 120 days).
    pub retire_after_ms: u64,
    /// Retry policy of the host hooks.
    pub hook_retry: RetryPolicy,
    /// Options of the workflow engine (prefix `"dispute-flow"`; finished
    /// disputes are archived after 90 days and never deleted).
    pub flow: FlowOptions,
}

impl Default for DisputeOptions {
    fn default() -> Self {
        DisputeOptions {
            prefix: "dispute".into(),
            timezone: "UTC".into(),
            safety_margin_days: 2,
            reminders_ms: vec![7 * DAY_MS, 3 * DAY_MS, DAY_MS],
            on_deadline: DeadlineAction::Escalate,
            max_file_bytes: 5 << 20,
            max_text_bytes: 20_000,
            max_total_bytes: 4_500_000,
            max_items: 50,
            retire_after_ms: 120 * DAY_MS,
            hook_retry: RetryPolicy::default(),
            flow: FlowOptions::default()
                .with_prefix("dispute-flow")
                .with_retention(Some(90 * DAY_MS), None),
        }
    }
}

impl DisputeOptions {
    /// Sets the acquirer's time zone (checked when a dispute opens).
    #[must_use]
    pub fn with_timezone(mut self, tz: impl Into<String>) -> Self {
        self.timezone = tz.into();
        self
    }
    /// Sets the safety margin in calendar days.
    #[must_use]
    pub fn with_safety_margin_days(mut self, days: u32) -> Self {
        self.safety_margin_days = days;
        self
    }
    /// Sets the reminders, ms before the deadline.
    #[must_use]
    pub fn with_reminders_ms(mut self, r: Vec<u64>) -> Self {
        self.reminders_ms = r;
        self
    }
    /// Sets what runs at a missed deadline.
    #[must_use]
    pub fn with_on_deadline(mut self, a: DeadlineAction) -> Self {
        self.on_deadline = a;
        self
    }
    /// Sets the evidence limits: file bytes, package bytes, items.
    #[must_use]
    pub fn with_evidence_limits(mut self, file: u64, total: u64, items: usize) -> Self {
        self.max_file_bytes = file;
        self.max_total_bytes = total;
        self.max_items = items;
        self
    }
    /// Sets how long a decided, settled dispute takes late events.
    #[must_use]
    pub fn with_retire_after_ms(mut self, ms: u64) -> Self {
        self.retire_after_ms = ms;
        self
    }
    /// Sets the hooks' retry policy.
    #[must_use]
    pub fn with_hook_retry(mut self, p: RetryPolicy) -> Self {
        self.hook_retry = p;
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

    fn policy(&self) -> Result<Policy> {
        crate::deadline::check_timezone(&self.timezone).map_err(|reason| Error::Invalid {
            what: "time zone",
            reason,
        })?;
        let mut reminders = self.reminders_ms.clone();
        reminders.sort_unstable_by(|a, b| b.cmp(a));
        reminders.dedup();
        reminders.truncate(16);
        Ok(Policy {
            timezone: self.timezone.clone(),
            safety_margin_days: self.safety_margin_days.min(30),
            reminders_ms: reminders,
            on_deadline: self.on_deadline,
            max_items: self.max_items.min(1000),
            max_total_bytes: self.max_total_bytes,
            retire_after_ms: self.retire_after_ms,
        })
    }
}

/// A dispute opened by hand (the `created` event, sequence 1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenDispute {
    /// The dispute id (default `dp_<charge>`).
    pub id: Option<String>,
    /// The disputed charge.
    pub charge: String,
    /// The disputed amount.
    pub amount: Money,
    /// The amount in the settlement currency, when it differs.
    pub settlement: Option<Money>,
    /// The network id.
    pub network: String,
    /// The reason code.
    pub reason: String,
    /// `Chargeback` (default) or `Inquiry`.
    pub stage: Stage,
    /// The processor's deadline, if it gave one.
    pub due_by_ms: Option<u64>,
}

impl OpenDispute {
    /// A chargeback of `amount` on `charge`, on `network` for `reason`.
    pub fn new(
        charge: impl Into<String>,
        amount: Money,
        network: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        OpenDispute {
            id: None,
            charge: charge.into(),
            amount,
            settlement: None,
            network: network.into(),
            reason: reason.into(),
            stage: Stage::Chargeback,
            due_by_ms: None,
        }
    }
    /// Sets the dispute id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
    /// Sets the settlement amount (another currency).
    #[must_use]
    pub fn with_settlement(mut self, m: Money) -> Self {
        self.settlement = Some(m);
        self
    }
    /// Opens it as an inquiry (retrieval request).
    #[must_use]
    pub fn as_inquiry(mut self) -> Self {
        self.stage = Stage::Inquiry;
        self
    }
    /// Sets the processor's deadline.
    #[must_use]
    pub fn with_due_by_ms(mut self, ms: u64) -> Self {
        self.due_by_ms = Some(ms);
        self
    }
}

/// An evidence item to add.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Evidence {
    /// Its id (random when `None`): adding the same id twice is a
    /// duplicate (safe to retry).
    pub id: Option<String>,
    /// The kind.
    pub kind: String,
    /// Text, or a file's name and bytes.
    pub body: EvidenceBody,
    /// Fields the kind requires (tracking number, delivery date, ...).
    pub fields: BTreeMap<String, String>,
    /// Who adds it.
    pub actor: String,
}

/// The body of an [`Evidence`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvidenceBody {
    /// Text.
    Text(String),
    /// A file: its name and bytes.
    File(String, Bytes),
}

impl Evidence {
    /// A text item of `kind`.
    pub fn text(kind: impl Into<String>, text: impl Into<String>) -> Self {
        Evidence {
            id: None,
            kind: kind.into(),
            body: EvidenceBody::Text(text.into()),
            fields: BTreeMap::new(),
            actor: "unknown".into(),
        }
    }
    /// A file item of `kind` (PDF, PNG, JPEG or UTF-8 text, by its bytes).
    pub fn file(kind: impl Into<String>, name: impl Into<String>, bytes: impl Into<Bytes>) -> Self {
        Evidence {
            id: None,
            kind: kind.into(),
            body: EvidenceBody::File(name.into(), bytes.into()),
            fields: BTreeMap::new(),
            actor: "unknown".into(),
        }
    }
    /// Sets a field.
    #[must_use]
    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.fields.insert(name.into(), value.into());
        self
    }
    /// Sets the item id (an idempotency key for the add).
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
    /// Sets who adds it, for the audit (`"unknown"` unless set).
    #[must_use]
    pub fn by(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }
}

/// What [`Disputes::ingest`] did (a webhook handler answers 2xx to each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ingested {
    /// Applied, with any waiting events it unblocked.
    Applied,
    /// Kept until the events before it arrive. It is checked when its turn
    /// comes: if it is not valid then, it blocks the events after it (see
    /// [`Dispute::blocked`] and [`Disputes::reconcile`]) until the processor
    /// sends a corrected event under a new id with the same sequence number.
    Waiting,
    /// Seen before: nothing changed.
    Duplicate,
}

/// One row of the due-date queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Due {
    /// The dispute.
    pub id: String,
    /// Its response deadline, Unix ms.
    pub due_ms: u64,
    /// Its status.
    pub status: Status,
    /// Its stage.
    pub stage: Stage,
    /// The disputed amount.
    pub amount: Option<Money>,
    /// The network and reason code.
    pub network: String,
    /// The reason code.
    pub reason: String,
    /// What the package still needs.
    pub missing: usize,
}

/// Outcomes of one reason code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReasonStats {
    /// Won (and reversed: the money came back).
    pub won: u64,
    /// Lost or accepted.
    pub lost: u64,
    /// Still open.
    pub open: u64,
}

impl ReasonStats {
    /// Won over decided, if any were decided.
    pub fn win_rate(&self) -> Option<f64> {
        let d = self.won + self.lost;
        (d > 0).then(|| self.won as f64 / d as f64)
    }
}

/// Win rates and amounts at risk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Stats {
    /// By `"<network> <reason code>"`.
    pub by_reason: BTreeMap<String, ReasonStats>,
    /// Disputed amounts of open chargebacks, by currency (the charge's).
    pub at_risk: BTreeMap<String, i64>,
    /// Funds held now, by settlement currency.
    pub held: BTreeMap<String, i64>,
}

/// One finding of [`Disputes::reconcile`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Finding {
    /// The dispute.
    pub id: String,
    /// What is off.
    pub issue: String,
}

/// The ledger checked against the disputes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Reconciliation {
    /// Disputes checked.
    pub disputes: u64,
    /// Account balances summed over every dispute, by currency.
    pub totals: BTreeMap<String, BTreeMap<String, i64>>,
    /// What needs a look.
    pub findings: Vec<Finding>,
}

struct Inner<S> {
    store: Arc<S>,
    hooks: Arc<dyn DisputeHooks>,
    table: Arc<ReasonTable>,
    options: DisputeOptions,
    clock: Arc<dyn Clock>,
    /// Reads instances for the hooks (an engine without steps).
    reader: Engine<Arc<S>>,
}

/// The dispute service. Cheap to share behind an `Arc`; every process on
/// one store sees the same disputes.
pub struct Disputes<S> {
    inner: Arc<Inner<S>>,
    engine: Engine<Arc<S>>,
}

impl<S> std::fmt::Debug for Disputes<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disputes")
            .field("prefix", &self.inner.options.prefix)
            .field("table", &self.inner.table.version)
            .finish_non_exhaustive()
    }
}

fn step_err(e: &Error) -> StepError {
    match e {
        Error::Store(_) | Error::Flow(_) => StepError::retryable("store", e.to_string()),
        _ => StepError::permanent("dispute", e.to_string()),
    }
}

fn random_id(prefix: &str) -> Result<String> {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(|_| Error::Invalid {
        what: "random id",
        reason: "the random number generator failed".into(),
    })?;
    Ok(format!("{prefix}{}", hex(&b)))
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            use std::fmt::Write as _;
            let _ = write!(s, "{x:02x}");
            s
        })
}

/// The content type of evidence bytes, by their signature; `None` for a
/// type the networks do not take.
pub fn sniff_content_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if std::str::from_utf8(bytes).is_ok_and(|s| {
        !s.chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    }) {
        Some("text/plain")
    } else {
        None
    }
}

fn check_date(s: &str) -> bool {
    s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok()
}

impl<S: Store + 'static> Inner<S> {
    fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    fn due_key(&self, due_ms: u64, id: &str) -> Result<Key> {
        Ok(Key::new(format!(
            "{}/due/{due_ms:016}/{id}",
            self.options.prefix
        ))?)
    }

    /// An item's file: keyed by the item, so no two items share one and a
    /// removal never takes another item's bytes.
    /// Puts the due-index entry of dispute `id` due at `due_ms` (idempotent).
    async fn put_due(&self, due_ms: u64, id: &str) -> Result<()> {
        let k = self.due_key(due_ms, id)?;
        self.store
            .put(&k, Bytes::new(), PutOptions::default())
            .await?;
        Ok(())
    }

    fn file_key(&self, id: &str, item: &str, sha: &str) -> Result<Key> {
        Ok(Key::new(format!(
            "{}/files/{id}/{item}/{sha}",
            self.options.prefix
        ))?)
    }

    /// Brings the due index in line with the dispute as it is now (not as
    /// it was when the step was scheduled: index steps may run out of
    /// order), removing the entries the step names that are not current.
    async fn index(&self, step: StepContext) -> std::result::Result<Value, StepError> {
        let id = step.instance.clone();
        let current = match self
            .reader
            .get(&id)
            .await
            .map_err(|e| step_err(&e.into()))?
        {
            Some(v) => decode(&id, v.state).ok().and_then(|d| d.due_ms()),
            None => None,
        };
        if let Some(due) = current {
            self.put_due(due, &id).await.map_err(|e| step_err(&e))?;
        }
        let named = step.input["clear"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(std::iter::once(&step.input["set"]));
        for due in named {
            let Some(due) = due.as_u64() else { continue };
            if current == Some(due) {
                continue;
            }
            let k = self.due_key(due, &id).map_err(|e| step_err(&e))?;
            self.store
                .delete(&k)
                .await
                .map_err(|e| step_err(&e.into()))?;
        }
        Ok(Value::Null)
    }

    async fn hook(&self, step: StepContext) -> std::result::Result<Value, StepError> {
        let view = self
            .reader
            .get(&step.instance)
            .await
            .map_err(|e| step_err(&e.into()))?
            .ok_or_else(|| StepError::permanent("dispute", "the dispute is gone"))?;
        let dispute: Dispute = serde_json::from_value(view.state)
            .map_err(|e| StepError::permanent("dispute", format!("unreadable dispute: {e}")))?;
        let round = step.input["round"].as_u64().unwrap_or(0) as usize;
        let ctx = HookContext {
            dispute,
            round,
            idempotency_key: step.idempotency_key.clone(),
            attempt: step.attempt,
        };
        let hooks = self.hooks.clone();
        let name = step
            .step_id
            .rsplit('-')
            .next()
            .unwrap_or_default()
            .to_string();
        match name.as_str() {
            "submit" => {
                let ids: Vec<&str> = step.input["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                let package: Vec<EvidenceItem> = ctx
                    .dispute
                    .evidence
                    .iter()
                    .filter(|e| ids.contains(&e.id.as_str()))
                    .cloned()
                    .collect();
                hooks.submit(ctx, package).await?;
            }
            "accept" => hooks.accept(ctx).await?,
            "remind" => {
                let reminder = Reminder {
                    due_ms: step.input["due_ms"].as_u64().unwrap_or(0),
                    before_ms: step.input["before_ms"].as_u64().unwrap_or(0),
                };
                hooks.remind(ctx, reminder).await?;
            }
            "escalate" => hooks.escalate(ctx).await?,
            other => {
                return Err(StepError::permanent("dispute", format!("no hook {other}")));
            }
        }
        Ok(json!({"round": round}))
    }
}

fn registry<S: Store + 'static>(inner: &Arc<Inner<S>>) -> Registry {
    let i = inner.clone();
    let index = move |ctx: StepContext| {
        let i = i.clone();
        async move { i.index(ctx).await }
    };
    let mut r = Registry::new()
        .with_workflow(DisputeFlow)
        .with_step_fn("dispute.index", index);
    for name in ["submit", "accept", "remind", "escalate"] {
        let i = inner.clone();
        r = r.with_step_fn(format!("dispute.{name}"), move |ctx: StepContext| {
            let i = i.clone();
            async move { i.hook(ctx).await }
        });
    }
    r
}

impl<S: Store + 'static> Disputes<S> {
    /// A dispute service over `store`, telling the outside world through
    /// `hooks`, with the standard reason table and default options.
    pub fn new(store: S, hooks: impl DisputeHooks) -> Self {
        Self::build(
            Arc::new(store),
            Arc::new(hooks),
            Arc::new(ReasonTable::standard()),
            DisputeOptions::default(),
            Arc::new(SystemClock),
        )
    }

    fn build(
        store: Arc<S>,
        hooks: Arc<dyn DisputeHooks>,
        table: Arc<ReasonTable>,
        options: DisputeOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let inner = Arc::new(Inner {
            store: store.clone(),
            hooks,
            table,
            options: options.clone(),
            clock: clock.clone(),
            reader: Engine::new(store.clone(), Registry::new().with_workflow(DisputeFlow))
                .with_options(options.flow.clone()),
        });
        let engine = Engine::new(store, registry(&inner))
            .with_options(options.flow)
            .with_clock(clock);
        Disputes { inner, engine }
    }

    fn rebuild(
        self,
        table: Arc<ReasonTable>,
        options: DisputeOptions,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self::build(
            self.inner.store.clone(),
            self.inner.hooks.clone(),
            table,
            options,
            clock,
        )
    }

    /// Sets the options.
    #[must_use]
    pub fn with_options(self, options: DisputeOptions) -> Self {
        let (t, c) = (self.inner.table.clone(), self.inner.clock.clone());
        self.rebuild(t, options, c)
    }

    /// Replaces the reason table (new disputes use it; open ones keep
    /// theirs), after checking it as [`ReasonTable::check`] does.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the table's first problem.
    pub fn with_table(self, table: ReasonTable) -> Result<Self> {
        table.check()?;
        let (o, c) = (self.inner.options.clone(), self.inner.clock.clone());
        Ok(self.rebuild(Arc::new(table), o, c))
    }

    /// Replaces the clock (tests, simulations).
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        let (t, o) = (self.inner.table.clone(), self.inner.options.clone());
        self.rebuild(t, o, Arc::new(clock))
    }

    /// The reason table new disputes open under.
    pub fn table(&self) -> &ReasonTable {
        &self.inner.table
    }

    /// The workflow engine (instance id = dispute id, kind `"dispute"`).
    pub fn engine(&self) -> &Engine<Arc<S>> {
        &self.engine
    }

    /// A worker running the timers and host hooks (see
    /// [`blocksmith_flow::Worker`]).
    ///
    /// # Errors
    /// As [`Engine::worker`].
    pub fn worker(&self, name: &str) -> Result<Worker<'_, Arc<S>>> {
        Ok(self.engine.worker(name)?)
    }

    /// Runs every timer and hook that is due, in this process, until
    /// nothing is (tools and tests; services run workers).
    ///
    /// # Errors
    /// Store and engine errors.
    pub async fn run_due(&self) -> Result<()> {
        let mut w = self.worker("disputes")?;
        w.run_until_idle(256).await?;
        w.release().await?;
        Ok(())
    }

    /// Opens a dispute by hand: the same as ingesting its `created` event
    /// (sequence 1, event id `open:<id>`), so opening twice is harmless.
    ///
    /// # Errors
    /// As [`Disputes::ingest`].
    pub async fn open(&self, req: OpenDispute) -> Result<Dispute> {
        let id = req
            .id
            .clone()
            .unwrap_or_else(|| format!("dp_{}", req.charge));
        let ev = NetworkEvent {
            id: format!("open:{id}"),
            dispute: id.clone(),
            sequence: 1,
            at_ms: self.inner.now(),
            kind: EventKind::Created {
                stage: req.stage,
                charge: req.charge,
                amount: req.amount,
                settlement: req.settlement,
                network: req.network,
                reason: req.reason,
                due_by_ms: req.due_by_ms,
            },
        };
        self.ingest(ev).await?;
        self.get(&id).await
    }

    /// Takes a processor's event: deduplicated by event id, applied in
    /// sequence order (an event ahead of its turn waits for the ones
    /// before it; one that is not valid in turn blocks them, see
    /// [`Dispute::blocked`]).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed event, [`Error::UnknownReason`],
    /// [`Error::SequenceConflict`], [`Error::InvalidTransition`] (closed as
    /// won before a submission, ...) and [`Error::Closed`]: nothing
    /// changed. Store and engine errors (retry: the event id makes it safe).
    pub async fn ingest(&self, mut event: NetworkEvent) -> Result<Ingested> {
        check_id(&event.dispute)?;
        if let EventKind::Created { network, .. } = &mut event.kind {
            network.make_ascii_lowercase();
        }
        check_event_shape(&event).map_err(Refusal::into_error)?;
        let (rules, policy) = match &event.kind {
            EventKind::Created {
                network, reason, ..
            } => (
                Some(self.inner.table.rules(network, reason)?),
                Some(self.inner.options.policy()?),
            ),
            EventKind::Updated {
                reason: Some(code), ..
            } => {
                let d = self.get(&event.dispute).await?;
                (Some(self.inner.table.rules(&d.network, code)?), None)
            }
            _ => (None, None),
        };
        let input = Input::Network {
            event: event.clone(),
            rules,
            policy,
        };
        if matches!(event.kind, EventKind::Created { .. }) {
            // Checked on a new dispute first (typed refusal, nothing
            // written); a new dispute then starts with it in one write.
            let mut fresh = Dispute::pending(&event.dispute);
            fresh.apply(&input).map_err(Refusal::into_error)?;
            let due = fresh.due_ms();
            let started = self
                .engine
                .start::<DisputeFlow>(
                    &Start {
                        id: event.dispute.clone(),
                        first: Some(input.clone()),
                    },
                    StartOptions::default().with_id(&event.dispute),
                )
                .await?;
            if started.created {
                // Into the queue at once (the workflow's index step makes
                // sure of it after a crash here).
                if let Some(due) = due {
                    self.inner.put_due(due, &event.dispute).await?;
                }
                return Ok(Ingested::Applied);
            }
        } else if event.sequence == 1 {
            // Only `created` opens a dispute: anything else at number 1
            // would leave a record for a dispute that never was.
            return Err(Error::InvalidTransition {
                status: Status::Pending,
                action: event.kind.name().to_string(),
            });
        }
        match self
            .signal(&event.dispute, &format!("net:{}", event.id), &input, true)
            .await
        {
            Ok(Some(state)) => {
                // Read off the JSON state: a webhook needs no typed copy.
                let created = matches!(event.kind, EventKind::Created { .. });
                if let Some(due) = due_to_index(&state, created) {
                    self.inner.put_due(due, &event.dispute).await?;
                }
                let applied = state["applied"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x["id"] == event.id.as_str()));
                if applied {
                    Ok(Ingested::Applied)
                } else {
                    Ok(Ingested::Waiting)
                }
            }
            Ok(None) => Ok(Ingested::Duplicate),
            // A closed dispute still knows the events it applied: a late
            // redelivery is a duplicate, not an error.
            Err(Error::Closed(id)) => match self.get(&event.dispute).await {
                Ok(d) if d.applied.iter().any(|a| a.id == event.id) => Ok(Ingested::Duplicate),
                _ => Err(Error::Closed(id)),
            },
            Err(e) => Err(e),
        }
    }

    /// Delivers `input`; the dispute's state (JSON) as it left it, or
    /// `None` for a duplicate.
    async fn signal(
        &self,
        id: &str,
        event_id: &str,
        input: &Input,
        create: bool,
    ) -> Result<Option<Value>> {
        let data = serde_json::to_value(input).map_err(|e| Error::Invalid {
            what: "input",
            reason: e.to_string(),
        })?;
        for _ in 0..2 {
            match self
                .engine
                .signal_view(id, "input", event_id, data.clone())
                .await
            {
                Ok((Signalled::Duplicate, _) | (_, None)) => return Ok(None),
                Ok((_, Some(view))) => return Ok(Some(view.state)),
                Err(blocksmith_flow::Error::NotFound(_)) if create => {
                    self.engine
                        .start::<DisputeFlow>(
                            &Start {
                                id: id.to_string(),
                                first: None,
                            },
                            StartOptions::default().with_id(id),
                        )
                        .await?;
                }
                Err(blocksmith_flow::Error::Rejected { reason, .. })
                    if serde_json::from_value::<Refusal>(reason.clone())
                        .is_ok_and(|r| r == Refusal::Duplicate) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::NotFound(id.to_string()))
    }

    async fn act(
        &self,
        id: &str,
        actor: &str,
        action_id: Option<String>,
        action: Action,
    ) -> Result<Option<Dispute>> {
        check_id(id)?;
        let action_id = match action_id {
            Some(a) => a,
            None => random_id("act_")?,
        };
        let input = Input::Merchant {
            actor: actor.to_string(),
            at_ms: self.inner.now(),
            action,
        };
        let Some(state) = self
            .signal(id, &format!("act:{action_id}"), &input, false)
            .await?
        else {
            return Ok(None);
        };
        if let Some(due) = due_to_index(&state, false) {
            self.inner.put_due(due, id).await?;
        }
        decode(id, state).map(Some)
    }

    /// Adds an evidence item: a file is checked (size, and type by its
    /// bytes: PDF, PNG, JPEG or text), tried on a copy of the dispute, then
    /// stored under the item with its SHA-256 before the add is recorded.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an unknown kind or a missing or malformed
    /// field, [`Error::EvidenceLimit`], [`Error::DeadlinePassed`],
    /// [`Error::AlreadySubmitted`], [`Error::InvalidTransition`],
    /// [`Error::NotFound`]; store errors.
    pub async fn add_evidence(&self, id: &str, ev: Evidence) -> Result<EvidenceItem> {
        check_id(id)?;
        let spec = self
            .inner
            .table
            .evidence_kinds
            .get(&ev.kind)
            .ok_or_else(|| Error::Invalid {
                what: "evidence kind",
                reason: format!("{:?} is not in the table", ev.kind),
            })?;
        for f in &spec.fields {
            match ev.fields.get(&f.name) {
                None => {
                    return Err(Error::Invalid {
                        what: "evidence",
                        reason: format!("{} needs field {}", ev.kind, f.name),
                    });
                }
                Some(v) if f.date && !check_date(v) => {
                    return Err(Error::Invalid {
                        what: "evidence",
                        reason: format!("field {} must be a date YYYY-MM-DD, not {v:?}", f.name),
                    });
                }
                Some(_) => {}
            }
        }
        if ev.fields.len() > 32
            || ev
                .fields
                .iter()
                .any(|(k, v)| !is_name(k) || v.len() > 1024 || v.chars().any(char::is_control))
        {
            return Err(Error::Invalid {
                what: "evidence",
                reason:
                    "at most 32 fields, named, values of at most 1 KiB without control characters"
                        .into(),
            });
        }
        if ev.actor.is_empty() || ev.actor.len() > 128 {
            return Err(Error::Invalid {
                what: "actor",
                reason: "must be 1-128 bytes".into(),
            });
        }
        let item_id = match &ev.id {
            Some(i) if is_name(i) => i.clone(),
            Some(i) => {
                return Err(Error::Invalid {
                    what: "evidence id",
                    reason: format!("{i:?} is not 1-64 letters, digits, _ - ."),
                });
            }
            None => random_id("ev_")?,
        };
        let content = match &ev.body {
            EvidenceBody::Text(t) => {
                if t.is_empty() || t.len() > self.inner.options.max_text_bytes {
                    return Err(Error::EvidenceLimit(format!(
                        "a text item must be 1-{} bytes",
                        self.inner.options.max_text_bytes
                    )));
                }
                Content::Text { text: t.clone() }
            }
            EvidenceBody::File(name, bytes) => {
                if name.is_empty()
                    || name.len() > 255
                    || !crate::model::is_printable(name)
                    || name.contains(['/', '\\'])
                    || name == ".."
                {
                    return Err(Error::Invalid {
                        what: "file name",
                        reason: "must be 1-255 bytes, a name without a path, control or \
                                 direction-override characters"
                            .into(),
                    });
                }
                if bytes.is_empty() || bytes.len() as u64 > self.inner.options.max_file_bytes {
                    return Err(Error::EvidenceLimit(format!(
                        "a file must be 1-{} bytes",
                        self.inner.options.max_file_bytes
                    )));
                }
                let Some(ct) = sniff_content_type(bytes) else {
                    return Err(Error::EvidenceLimit(
                        "only PDF, PNG, JPEG and plain text files are accepted".into(),
                    ));
                };
                let sha = hex(&Sha256::digest(bytes));
                let key = self.inner.file_key(id, &item_id, &sha)?;
                let content = Content::File {
                    key: key.as_str().to_string(),
                    name: name.clone(),
                    content_type: ct.to_string(),
                    bytes: bytes.len() as u64,
                    sha256: sha.clone(),
                };
                // Checked against the dispute before a byte is stored: a
                // refused add leaves nothing behind (a race with another
                // change is settled below).
                self.dry_run(id, &ev.actor, &item_id, &ev.kind, &content, &ev.fields)
                    .await?;
                match self
                    .inner
                    .store
                    .put(&key, bytes.clone(), PutOptions::create())
                    .await
                {
                    Ok(_) => {}
                    Err(e) if e.is_conflict() => {}
                    Err(e) => return Err(e.into()),
                }
                content
            }
        };
        let action = Action::AddEvidence {
            id: item_id.clone(),
            kind: ev.kind.clone(),
            content: content.clone(),
            fields: ev.fields.clone(),
        };
        let d = match self
            .act(id, &ev.actor, Some(format!("add:{item_id}")), action)
            .await
        {
            Ok(Some(d)) => d,
            Ok(None) => self.get(id).await?, // a retry: the item is there
            Err(e) => {
                if let Content::File { sha256, .. } = &content {
                    self.drop_file_if_unused(id, &item_id, sha256).await;
                }
                return Err(e);
            }
        };
        let item = d
            .evidence
            .into_iter()
            .find(|e| e.id == item_id)
            .ok_or_else(|| Error::Invalid {
                what: "evidence id",
                reason: format!("{item_id} was used before (and removed)"),
            })?;
        // An id is an idempotency key: reused for another item, it is an
        // error, not a silent success.
        if item.kind != ev.kind || item.content != content || item.fields != ev.fields {
            return Err(Error::Invalid {
                what: "evidence id",
                reason: format!("{item_id} names another item already"),
            });
        }
        Ok(item)
    }

    /// Removes an item added in the current round (before submission);
    /// its file goes too unless another item of the dispute has the same
    /// bytes.
    ///
    /// # Errors
    /// As [`Disputes::add_evidence`].
    pub async fn remove_evidence(&self, id: &str, item: &str, actor: &str) -> Result<()> {
        let before = self.get(id).await?;
        let file = before.evidence.iter().find_map(|e| match &e.content {
            Content::File { sha256, .. } if e.id == item => Some(sha256.clone()),
            _ => None,
        });
        self.act(
            id,
            actor,
            None,
            Action::RemoveEvidence {
                item: item.to_string(),
            },
        )
        .await?;
        if let Some(sha) = file {
            self.drop_file_if_unused(id, item, &sha).await;
        }
        Ok(())
    }

    /// Runs an add on a copy of the dispute: the refusal it would meet, if any.
    async fn dry_run(
        &self,
        id: &str,
        actor: &str,
        item: &str,
        kind: &str,
        content: &Content,
        fields: &BTreeMap<String, String>,
    ) -> Result<()> {
        let mut d = self.get(id).await?;
        let input = Input::Merchant {
            actor: actor.to_string(),
            at_ms: self.inner.now(),
            action: Action::AddEvidence {
                id: item.to_string(),
                kind: kind.to_string(),
                content: content.clone(),
                fields: fields.clone(),
            },
        };
        // The same item again (same kind, content and fields) is a retry,
        // answered after the signal; the id naming anything else is refused
        // before a byte is stored.
        if let Some(e) = d.evidence.iter().find(|e| e.id == item) {
            if e.kind == kind && e.content == *content && e.fields == *fields {
                return Ok(());
            }
            return Err(Error::Invalid {
                what: "evidence id",
                reason: format!("{item} names another item already"),
            });
        }
        d.apply(&input).map(|_| ()).map_err(Refusal::into_error)
    }

    /// Deletes an item's evidence file unless the item is there with it
    /// (best effort: an orphan file is harmless).
    async fn drop_file_if_unused(&self, id: &str, item: &str, sha256: &str) {
        let Ok(d) = self.get(id).await else { return };
        let used = d.evidence.iter().any(|e| {
            e.id == item && matches!(&e.content, Content::File { sha256: s, .. } if s == sha256)
        });
        if !used && let Ok(k) = self.inner.file_key(id, item, sha256) {
            let _ = self.inner.store.delete(&k).await;
        }
    }

    /// Submits the response: refused, naming what is missing, until the
    /// package meets the reason code's checklist; once per round (a second
    /// call, a retry of a call whose answer was lost included, is
    /// [`Error::AlreadySubmitted`]).
    ///
    /// # Errors
    /// [`Error::EvidenceIncomplete`], [`Error::AlreadySubmitted`],
    /// [`Error::DeadlinePassed`], [`Error::InvalidTransition`],
    /// [`Error::NotFound`]; store errors.
    pub async fn submit(&self, id: &str, actor: &str) -> Result<Dispute> {
        // One action id per round and failed delivery: a retried call is a
        // duplicate, a new submission after a refused delivery is not.
        let d = self.get(id).await?;
        let failed = d.round().map_or(0, |r| r.failed_deliveries);
        let action_id = format!("submit:{}:{failed}", d.rounds.len());
        let round = d.rounds.len().saturating_sub(1) as u32;
        match self
            .act(id, actor, Some(action_id), Action::Submit { round })
            .await?
        {
            Some(d) => Ok(d),
            // Single use: a second call (a retry too) learns it is done.
            None => Err(Error::AlreadySubmitted),
        }
    }

    /// Concedes the dispute (held funds become a loss).
    ///
    /// # Errors
    /// [`Error::InvalidTransition`] unless a response is awaited,
    /// [`Error::NotFound`]; store errors.
    pub async fn accept(&self, id: &str, actor: &str) -> Result<Dispute> {
        match self
            .act(id, actor, Some("accept".into()), Action::Accept)
            .await?
        {
            Some(d) => Ok(d),
            None => self.get(id).await, // accepted before: the same answer
        }
    }

    /// A dispute.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Corrupt`], store errors.
    pub async fn get(&self, id: &str) -> Result<Dispute> {
        check_id(id)?;
        let v = self
            .engine
            .get(id)
            .await?
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        if v.kind != "dispute" {
            return Err(Error::NotFound(id.to_string()));
        }
        decode(id, v.state)
    }

    /// An evidence file's bytes, checked against its hash.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown dispute, [`Error::NoEvidence`]
    /// for an unknown item, [`Error::Invalid`] for a text item,
    /// [`Error::Corrupt`] when the stored bytes do not match, store errors.
    pub async fn file(&self, id: &str, item: &str) -> Result<Bytes> {
        let d = self.get(id).await?;
        let sha256 = match d.evidence.iter().find(|e| e.id == item) {
            Some(EvidenceItem {
                content: Content::File { sha256, .. },
                ..
            }) => sha256,
            Some(_) => {
                return Err(Error::Invalid {
                    what: "evidence item",
                    reason: format!("{item} is text, not a file"),
                });
            }
            None => {
                return Err(Error::NoEvidence {
                    id: id.to_string(),
                    item: item.to_string(),
                });
            }
        };
        let key = self.inner.file_key(id, item, sha256)?;
        let b = self
            .inner
            .store
            .get_opt(&key)
            .await?
            .ok_or_else(|| Error::Corrupt {
                id: id.to_string(),
                reason: format!("evidence file {item} is missing"),
            })?
            .data;
        if hex(&Sha256::digest(&b)) != *sha256 {
            return Err(Error::Corrupt {
                id: id.to_string(),
                reason: format!("evidence file {item} does not match its hash"),
            });
        }
        Ok(b)
    }

    /// The response queue: disputes awaiting a response whose deadline is
    /// at or before `until_ms` (overdue ones first), earliest first, at
    /// most `limit`, resuming after `after` (the last row of the page
    /// before). Reads the due-date index, not every dispute: the cost is
    /// the rows returned (each checked against its dispute).
    ///
    /// # Errors
    /// Store errors.
    pub async fn due(&self, until_ms: u64, limit: usize, after: Option<&Due>) -> Result<Vec<Due>> {
        let prefix = format!("{}/due/", self.inner.options.prefix);
        let mut start = after
            .map(|d| self.inner.due_key(d.due_ms, &d.id))
            .transpose()?;
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = limit.min(10_000);
        'pages: loop {
            let page = self
                .inner
                .store
                .list(
                    ListOptions::prefix(prefix.clone())
                        .with_start_after(start.clone())
                        .with_limit(limit.max(64)),
                )
                .await?;
            for m in &page.objects {
                start = Some(m.key.clone());
                let rest = &m.key.as_str()[prefix.len()..];
                let Some((due, id)) = rest.split_once('/') else {
                    continue;
                };
                let Ok(due_ms) = due.parse::<u64>() else {
                    continue;
                };
                if due_ms > until_ms {
                    break 'pages;
                }
                // A row that names no readable dispute (stale, damaged) is
                // skipped; only a failing store fails the queue.
                let d = match self.get(id).await {
                    Ok(d) => d,
                    Err(Error::Store(
                        blocksmith_store::Error::Corrupt { .. }
                        | blocksmith_store::Error::SchemaMismatch { .. }
                        | blocksmith_store::Error::Serde { .. },
                    )) => continue,
                    Err(e @ (Error::Store(_) | Error::Flow(_))) => return Err(e),
                    Err(_) => continue,
                };
                if d.due_ms() != Some(due_ms) {
                    continue; // stale: answered, moved or closed
                }
                out.push(Due {
                    id: d.id.clone(),
                    due_ms,
                    status: d.status,
                    stage: d.stage,
                    amount: d.amount.clone(),
                    network: d.network.clone(),
                    reason: d.reason.clone(),
                    missing: d.missing().len(),
                });
                if out.len() >= limit {
                    break 'pages;
                }
            }
            if page.next.is_none() && page.objects.len() < limit.max(64) {
                break;
            }
            if page.objects.is_empty() {
                break;
            }
        }
        Ok(out)
    }

    /// Every dispute, pending ones (events before `created`) included;
    /// damaged records are left out ([`Disputes::reconcile`] names them).
    /// Reads every record: for reports, not for requests.
    ///
    /// # Errors
    /// Store errors, [`Error::Corrupt`].
    pub async fn list(&self) -> Result<Vec<Dispute>> {
        let mut out = Vec::new();
        // A damaged record is left out (and named by `reconcile`).
        self.scan(|d| {
            if let Ok(d) = d {
                out.push(d);
            }
        })
        .await?;
        Ok(out)
    }

    /// Visits every dispute (a damaged record as its id and error), a page
    /// at a time: memory stays bounded whatever the number of disputes.
    async fn scan(
        &self,
        mut visit: impl FnMut(Result<Dispute, (String, Error)>) + Send,
    ) -> Result<()> {
        let filter = ListFilter::default()
            .with_kind("dispute")
            .with_archived(true);
        self.engine
            .scan(&filter, |v| match v {
                Ok(v) => {
                    let id = v.id.clone();
                    visit(decode(&v.id, v.state).map_err(|e| (id, e)));
                }
                Err((key, e)) => visit(Err((key, e.into()))),
            })
            .await?;
        Ok(())
    }

    /// Win rate by reason code, amounts at risk and funds held (reads
    /// every dispute).
    ///
    /// # Errors
    /// As [`Disputes::list`].
    pub async fn stats(&self) -> Result<Stats> {
        let mut s = Stats::default();
        self.scan(|d| {
            if let Ok(d) = d {
                add_to_stats(&mut s, &d);
            }
        })
        .await?;
        Ok(s)
    }

    /// Checks the ledger against the disputes: every transaction balanced,
    /// no held funds on a decided dispute past its reinstatement, no
    /// negative balance, no event stuck waiting, no hook failure left
    /// unexplained.
    ///
    /// # Errors
    /// As [`Disputes::list`].
    pub async fn reconcile(&self) -> Result<Reconciliation> {
        let mut r = Reconciliation::default();
        self.scan(|d| match d {
            Ok(d) => reconcile_one(&mut r, &d),
            Err((id, e)) => r.findings.push(Finding {
                id,
                issue: format!("the record does not read: {e}"),
            }),
        })
        .await?;
        Ok(r)
    }
}

/// The deadline to put in the due index at once, read off a dispute's JSON
/// state: one that moved (a new round, an update, a reopened response) or
/// a new dispute's, while a response is awaited. Everything else waits for
/// the workflow's index step (the entry is idempotent; the step removes the
/// old one).
fn due_to_index(state: &Value, created: bool) -> Option<u64> {
    let awaits = matches!(
        state["status"].as_str(),
        Some("needs_response" | "warning_needs_response")
    );
    let rounds = state["rounds"].as_array()?;
    let last = rounds.last()?;
    let moved = created
        || rounds.len() > 1
        || last["due_moved"].as_bool() == Some(true)
        || last["failed_deliveries"].as_u64().is_some_and(|n| n > 0);
    if awaits && moved {
        last["due_ms"].as_u64()
    } else {
        None
    }
}

/// A dispute from its workflow state, which must name it.
fn decode(id: &str, state: Value) -> Result<Dispute> {
    let d: Dispute = serde_json::from_value(state).map_err(|e| Error::Corrupt {
        id: id.to_string(),
        reason: e.to_string(),
    })?;
    if d.id != id {
        return Err(Error::Corrupt {
            id: id.to_string(),
            reason: "the record names another dispute".into(),
        });
    }
    Ok(d)
}

fn check_id(id: &str) -> Result<()> {
    if id.is_empty()
        || id.len() > 100
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
        || id.starts_with('.')
    {
        return Err(Error::Invalid {
            what: "dispute id",
            reason: format!("{id:?} is not 1-100 letters, digits, _ - . :"),
        });
    }
    Ok(())
}

fn add_to_stats(s: &mut Stats, d: &Dispute) {
    if d.status == Status::Pending {
        return;
    }
    let r = s
        .by_reason
        .entry(format!("{} {}", d.network, d.reason))
        .or_default();
    match d.status {
        Status::Won | Status::Reversed => r.won += 1,
        Status::Lost | Status::Accepted => r.lost += 1,
        Status::WarningClosed | Status::Pending => {}
        _ => r.open += 1,
    }
    if !d.status.is_final()
        && d.stage != Stage::Inquiry
        && let Some(a) = &d.amount
    {
        let e = s.at_risk.entry(a.currency.clone()).or_default();
        *e = e.saturating_add(a.amount);
    }
    if let Some(c) = d.settlement.as_ref().map(|m| m.currency.clone()) {
        let h = d.held();
        if h != 0 {
            let e = s.held.entry(c).or_default();
            *e = e.saturating_add(h);
        }
    }
}

fn reconcile_one(r: &mut Reconciliation, d: &Dispute) {
    r.disputes += 1;
    let mut find = |issue: String| {
        r.findings.push(Finding {
            id: d.id.clone(),
            issue,
        });
    };
    if !d.ledger_balanced() {
        find("a transaction does not balance".into());
    }
    let held = d.held();
    if held < 0 {
        find(format!("held funds are negative ({held})"));
    }
    match d.status {
        Status::Won | Status::Reversed if held > 0 => {
            find(format!(
                "{} but {held} still held: awaiting reinstatement",
                d.status
            ));
        }
        Status::Lost | Status::Accepted if held != 0 => {
            find(format!("{} with {held} held", d.status));
        }
        _ => {}
    }
    if let (Some(s), true) = (&d.settlement, d.ledger.is_empty())
        && matches!(d.status, Status::Lost | Status::Accepted)
        && d.stage != Stage::Inquiry
    {
        find(format!(
            "{} but no funds were withdrawn ({s} disputed)",
            d.status
        ));
    }
    if d.status == Status::Pending {
        find(format!(
            "the created event has not arrived; {} events wait",
            d.waiting.len()
        ));
    }
    if let Some((seq, why)) = &d.blocked {
        find(format!("event {seq} is blocked: {why}"));
    } else if let Some(seq) = d.waiting.keys().next() {
        find(format!(
            "waiting for event {} (next held: {seq})",
            d.next_sequence
        ));
    }
    if let Some(f) = d.hook_failures.first() {
        find(format!("hook failed: {f}"));
    }
    for t in &d.ledger {
        let cur = r.totals.entry(t.currency.clone()).or_default();
        for p in &t.postings {
            let name = serde_json::to_value(p.account)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let e = cur.entry(name).or_default();
            *e = e.saturating_add(p.amount);
        }
    }
}

impl<S: Store + 'static> Disputes<S> {
    /// The same calls as blocking ones, for synchronous hosts, tools and
    /// tests (each drives the async method to completion on the calling
    /// thread: never call it from inside an async runtime's task).
    pub fn blocking(&self) -> BlockingDisputes<'_, S> {
        BlockingDisputes(self)
    }
}

/// Blocking calls over [`Disputes`] (see [`Disputes::blocking`]); each
/// method drives the async one with [`blocksmith_store::block_on`].
#[derive(Debug)]
pub struct BlockingDisputes<'a, S>(&'a Disputes<S>);

impl<S: Store + 'static> BlockingDisputes<'_, S> {
    /// [`Disputes::open`].
    ///
    /// # Errors
    /// As [`Disputes::open`].
    pub fn open(&self, req: OpenDispute) -> Result<Dispute> {
        blocksmith_store::block_on(self.0.open(req))
    }
    /// [`Disputes::ingest`].
    ///
    /// # Errors
    /// As [`Disputes::ingest`].
    pub fn ingest(&self, event: NetworkEvent) -> Result<Ingested> {
        blocksmith_store::block_on(self.0.ingest(event))
    }
    /// [`Disputes::add_evidence`].
    ///
    /// # Errors
    /// As [`Disputes::add_evidence`].
    pub fn add_evidence(&self, id: &str, ev: Evidence) -> Result<EvidenceItem> {
        blocksmith_store::block_on(self.0.add_evidence(id, ev))
    }
    /// [`Disputes::remove_evidence`].
    ///
    /// # Errors
    /// As [`Disputes::remove_evidence`].
    pub fn remove_evidence(&self, id: &str, item: &str, actor: &str) -> Result<()> {
        blocksmith_store::block_on(self.0.remove_evidence(id, item, actor))
    }
    /// [`Disputes::submit`].
    ///
    /// # Errors
    /// As [`Disputes::submit`].
    pub fn submit(&self, id: &str, actor: &str) -> Result<Dispute> {
        blocksmith_store::block_on(self.0.submit(id, actor))
    }
    /// [`Disputes::accept`].
    ///
    /// # Errors
    /// As [`Disputes::accept`].
    pub fn accept(&self, id: &str, actor: &str) -> Result<Dispute> {
        blocksmith_store::block_on(self.0.accept(id, actor))
    }
    /// [`Disputes::get`].
    ///
    /// # Errors
    /// As [`Disputes::get`].
    pub fn get(&self, id: &str) -> Result<Dispute> {
        blocksmith_store::block_on(self.0.get(id))
    }
    /// [`Disputes::file`].
    ///
    /// # Errors
    /// As [`Disputes::file`].
    pub fn file(&self, id: &str, item: &str) -> Result<Bytes> {
        blocksmith_store::block_on(self.0.file(id, item))
    }
    /// [`Disputes::due`].
    ///
    /// # Errors
    /// As [`Disputes::due`].
    pub fn due(&self, until_ms: u64, limit: usize, after: Option<&Due>) -> Result<Vec<Due>> {
        blocksmith_store::block_on(self.0.due(until_ms, limit, after))
    }
    /// [`Disputes::list`].
    ///
    /// # Errors
    /// As [`Disputes::list`].
    pub fn list(&self) -> Result<Vec<Dispute>> {
        blocksmith_store::block_on(self.0.list())
    }
    /// [`Disputes::stats`].
    ///
    /// # Errors
    /// As [`Disputes::stats`].
    pub fn stats(&self) -> Result<Stats> {
        blocksmith_store::block_on(self.0.stats())
    }
    /// [`Disputes::reconcile`].
    ///
    /// # Errors
    /// As [`Disputes::reconcile`].
    pub fn reconcile(&self) -> Result<Reconciliation> {
        blocksmith_store::block_on(self.0.reconcile())
    }
    /// [`Disputes::run_due`].
    ///
    /// # Errors
    /// As [`Disputes::run_due`].
    pub fn run_due(&self) -> Result<()> {
        blocksmith_store::block_on(self.0.run_due())
    }
}
