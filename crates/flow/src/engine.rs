//! The engine: starting instances, signals, queries, and the workers that
//! run due work under shard leases.

use crate::clock::{Clock, SystemClock};
use crate::error::{Error, Result, serde_err};
use crate::model::{HistoryEvent, HistoryKind, InstanceView, Status, StepError};
use crate::record::{Chunk, Instance, LeaseRecord, MemberRecord, Rules, SIGNAL_DEDUP_WINDOW, Work};
use crate::retry::RetryPolicy;
use crate::workflow::{Registry, StepContext, Workflow};
use blocksmith_store::{Key, ListOptions, PutOptions, Store, StoreExt, Version};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// Largest signal payload, as JSON.
pub const MAX_SIGNAL_BYTES: usize = 64 << 10;

/// Most transitions one worker makes on one instance per visit.
const MAX_TRANSITIONS_PER_VISIT: usize = 64;

/// How an engine stores and runs workflows.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FlowOptions {
    /// Store key prefix of everything the engine writes (default `"flow"`).
    pub prefix: String,
    /// Instances are hashed onto this many shards; a worker leases whole
    /// shards (default 16). Fixed for the life of a store: it is recorded
    /// there by the first engine, and an engine with another count is
    /// refused (`Error::Invalid`).
    pub shards: u32,
    /// How long a shard lease lasts without renewal, in ms (default 30 s).
    pub lease_ms: u64,
    /// History events kept in the instance record before they move to a
    /// chunk of their own (default 32).
    pub history_chunk: usize,
    /// Retry policy of steps that name none.
    pub default_retry: RetryPolicy,
    /// Retry policy of compensations (default: 10 attempts, up to 5 min
    /// apart).
    pub compensation_retry: RetryPolicy,
    /// A finished instance is moved to the archive this long after it
    /// finished (default: 7 days; `None`: never).
    pub archive_after_ms: Option<u64>,
    /// An archived instance is deleted this long after it finished
    /// (default: 30 days; `None`: kept).
    pub delete_after_ms: Option<u64>,
}

impl Default for FlowOptions {
    fn default() -> Self {
        FlowOptions {
            prefix: "flow".into(),
            shards: 16,
            lease_ms: 30_000,
            history_chunk: 32,
            default_retry: RetryPolicy::default(),
            compensation_retry: RetryPolicy::default()
                .with_maximum_attempts(10)
                .with_maximum_interval_ms(300_000),
            archive_after_ms: Some(7 * 86_400_000),
            delete_after_ms: Some(30 * 86_400_000),
        }
    }
}

impl FlowOptions {
    /// Sets the key prefix.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
    /// Sets the number of shards (at least 1).
    #[must_use]
    pub fn with_shards(mut self, n: u32) -> Self {
        self.shards = n.max(1);
        self
    }
    /// Sets the lease length in ms (at least 1).
    #[must_use]
    pub fn with_lease_ms(mut self, ms: u64) -> Self {
        self.lease_ms = ms.max(1);
        self
    }
    /// Sets the events kept inline before a history chunk is written.
    #[must_use]
    pub fn with_history_chunk(mut self, n: usize) -> Self {
        self.history_chunk = n.max(1);
        self
    }
    /// Sets the default retry policy.
    #[must_use]
    pub fn with_default_retry(mut self, p: RetryPolicy) -> Self {
        self.default_retry = p;
        self
    }
    /// Sets the compensations' retry policy.
    #[must_use]
    pub fn with_compensation_retry(mut self, p: RetryPolicy) -> Self {
        self.compensation_retry = p;
        self
    }
    /// Sets the retention: archive after, delete after (ms after finishing).
    #[must_use]
    pub fn with_retention(
        mut self,
        archive_after_ms: Option<u64>,
        delete_after_ms: Option<u64>,
    ) -> Self {
        self.archive_after_ms = archive_after_ms;
        self.delete_after_ms = delete_after_ms;
        self
    }
}

/// How an instance is started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StartOptions {
    /// The instance id, typically a request id: starting twice with one id
    /// returns the first instance and starts nothing (idempotent). Random
    /// when `None`.
    pub id: Option<String>,
    /// Tags to search by.
    pub tags: Vec<String>,
}

impl StartOptions {
    /// Sets the instance id (idempotency key).
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
    /// Adds a tag.
    #[must_use]
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }
}

/// What [`Engine::start`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Started {
    /// The instance id.
    pub id: String,
    /// False when an instance with this id existed already (nothing new
    /// was started).
    pub created: bool,
}

/// What [`Engine::signal`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signalled {
    /// Delivered to the instance.
    Delivered,
    /// An event with this id was delivered before: nothing changed.
    Duplicate,
}

/// Which instances [`Engine::list`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListFilter {
    /// Only this status.
    pub status: Option<Status>,
    /// Only this workflow kind.
    pub kind: Option<String>,
    /// Only instances with this tag.
    pub tag: Option<String>,
    /// Include archived instances.
    pub archived: bool,
}

impl ListFilter {
    /// Only `status`.
    #[must_use]
    pub fn with_status(mut self, s: Status) -> Self {
        self.status = Some(s);
        self
    }
    /// Only `kind`.
    #[must_use]
    pub fn with_kind(mut self, k: impl Into<String>) -> Self {
        self.kind = Some(k.into());
        self
    }
    /// Only instances tagged `tag`.
    #[must_use]
    pub fn with_tag(mut self, t: impl Into<String>) -> Self {
        self.tag = Some(t.into());
        self
    }
    /// Include the archive.
    #[must_use]
    pub fn with_archived(mut self, yes: bool) -> Self {
        self.archived = yes;
        self
    }

    fn matches(&self, i: &Instance) -> bool {
        self.status.is_none_or(|s| s == i.status)
            && self.kind.as_deref().is_none_or(|k| k == i.kind)
            && self
                .tag
                .as_deref()
                .is_none_or(|t| i.tags.iter().any(|x| x == t))
    }
}

/// What one [`Worker::tick`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TickReport {
    /// Instance records written (each a transition).
    pub transitions: u64,
    /// Step attempts run (compensations included).
    pub steps: u64,
    /// Timers fired.
    pub timers: u64,
    /// Due-index entries looked at.
    pub due: u64,
    /// Shards this worker holds after the tick.
    pub shards: usize,
    /// Instances archived or deleted by retention.
    pub retired: u64,
    /// Due entries skipped: their instance could not be worked on (a
    /// damaged record, a workflow kind no longer registered). They stay due.
    pub skipped: u64,
}

/// A durable workflow engine over a [`blocksmith_store::Store`].
///
/// `start` and `signal` run the workflow's transition in the calling
/// process (so its registry must know the workflow) and write it at once;
/// steps and timers are run by [`Worker`]s. Every write is a
/// compare-and-swap on the instance record, so a transition happens once
/// whoever races; the shard lease only decides who *tries* (a worker whose
/// lease lapsed loses once the new owner has written).
pub struct Engine<S> {
    store: S,
    registry: Arc<Registry>,
    options: FlowOptions,
    clock: Arc<dyn Clock>,
    /// The store's shard count was checked against the options.
    checked: std::sync::atomic::AtomicBool,
}

impl<S> fmt::Debug for Engine<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("registry", &self.registry)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

fn check_name(what: &'static str, s: &str) -> Result<()> {
    if s.is_empty() || s.len() > 128 {
        return Err(Error::Invalid {
            what,
            reason: "must be 1-128 bytes",
        });
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'@'))
    {
        return Err(Error::Invalid {
            what,
            reason: "only ASCII letters, digits and - _ . : @",
        });
    }
    if s.starts_with('.') {
        return Err(Error::Invalid {
            what,
            reason: "must not start with a dot",
        });
    }
    Ok(())
}

fn random_id() -> Result<String> {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).map_err(|_| Error::Random)?;
    Ok(b.iter().fold(String::with_capacity(24), |mut s, x| {
        use std::fmt::Write as _;
        let _ = write!(s, "{x:02x}");
        s
    }))
}

impl<S: Store> Engine<S> {
    /// An engine over `store` running the workflows and steps of `registry`.
    pub fn new(store: S, registry: Registry) -> Self {
        Engine {
            store,
            registry: Arc::new(registry),
            options: FlowOptions::default(),
            clock: Arc::new(SystemClock),
            checked: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The shard count is part of the store's layout (instances are found
    /// by `hash(id) % shards`): the first engine on a store records it, and
    /// an engine with another count is refused rather than losing track of
    /// instances.
    async fn check_layout(&self) -> Result<()> {
        use std::sync::atomic::Ordering;
        if self.checked.load(Ordering::Acquire) {
            return Ok(());
        }
        let key = self.key("layout")?;
        let want = crate::record::Layout {
            shards: self.options.shards,
        };
        let found = match self.store.get_record::<crate::record::Layout>(&key).await? {
            Some((l, _)) => l,
            None => match self
                .store
                .put_record(&key, &want, PutOptions::create())
                .await
            {
                Ok(_) => want.clone(),
                Err(e) if e.is_conflict() => self
                    .store
                    .get_record::<crate::record::Layout>(&key)
                    .await?
                    .map_or(want.clone(), |(l, _)| l),
                Err(e) => return Err(e.into()),
            },
        };
        if found.shards != want.shards {
            return Err(Error::Invalid {
                what: "options",
                reason: "the store was set up with another shard count (FlowOptions::shards is fixed for the life of a store)",
            });
        }
        self.checked.store(true, Ordering::Release);
        Ok(())
    }

    /// Sets the options.
    #[must_use]
    pub fn with_options(mut self, options: FlowOptions) -> Self {
        self.options = options;
        self
    }

    /// Replaces the clock (tests, simulations).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The options.
    pub fn options(&self) -> &FlowOptions {
        &self.options
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    fn rules(&self) -> Rules<'_> {
        Rules {
            default_retry: &self.options.default_retry,
            compensation_retry: &self.options.compensation_retry,
        }
    }

    fn key(&self, rest: &str) -> Result<Key> {
        Ok(Key::new(format!("{}/{rest}", self.options.prefix))?)
    }

    fn instance_key(&self, id: &str) -> Result<Key> {
        self.key(&format!("i/{id}"))
    }

    fn archive_key(&self, id: &str) -> Result<Key> {
        self.key(&format!("a/{id}"))
    }

    pub(crate) fn shard_of(&self, id: &str) -> u32 {
        crc32fast::hash(id.as_bytes()) % self.options.shards.max(1)
    }

    fn due_prefix(&self, shard: u32) -> String {
        format!("{}/d/{shard:05}/", self.options.prefix)
    }

    /// A due-index entry unique to this write (a nonce after the id), so
    /// that a writer deletes only entries it made itself and two writers
    /// never share one.
    fn due_key(&self, id: &str, at_ms: u64) -> Result<Key> {
        Ok(Key::new(format!(
            "{}{at_ms:020}/{id}/{}",
            self.due_prefix(self.shard_of(id)),
            random_id()?
        ))?)
    }

    fn lease_key(&self, shard: u32) -> Result<Key> {
        self.key(&format!("l/{shard:05}"))
    }

    fn member_key(&self, owner: &str) -> Result<Key> {
        self.key(&format!("m/{owner}"))
    }

    /// Starts an instance of workflow `W` on `input` (the latest registered
    /// version of its kind).
    ///
    /// # Errors
    /// [`Error::UnknownWorkflow`] when `W` is not registered, [`Error::Serde`]
    /// when the input does not serialize, [`Error::Invalid`] for a bad id or
    /// tag, [`Error::InvalidCommand`] when the definition's first commands
    /// are invalid, and store errors.
    pub async fn start<W: Workflow>(
        &self,
        input: &W::Input,
        options: StartOptions,
    ) -> Result<Started> {
        let input = serde_json::to_value(input).map_err(serde_err("workflow input"))?;
        self.start_value(W::KIND, input, options).await
    }

    /// Starts an instance of workflow `kind` on a JSON `input`.
    ///
    /// # Errors
    /// As [`Engine::start`].
    pub async fn start_value(
        &self,
        kind: &str,
        input: Value,
        options: StartOptions,
    ) -> Result<Started> {
        let id = match options.id {
            Some(id) => id,
            None => random_id()?,
        };
        check_name("instance id", &id)?;
        for t in &options.tags {
            check_name("tag", t)?;
        }
        self.check_layout().await?;
        let key = self.instance_key(&id)?;
        // Archived: still the same request (until deleted by retention). A
        // live instance with this id is found by the create-only put below.
        if let Some((existing, _)) = self
            .store
            .get_record::<Instance>(&self.archive_key(&id)?)
            .await?
        {
            return Self::existing(&existing, kind, id);
        }
        let version = self.registry.latest(kind)?;
        let wf = self.registry.workflow(kind, version)?;
        let now = self.now();
        let (state, commands) = wf.start(input.clone())?;
        let mut rec = Instance::new(
            id.clone(),
            kind.to_string(),
            version,
            state,
            options.tags,
            now,
        );
        rec.log(
            now,
            HistoryKind::Started {
                kind: kind.to_string(),
                version,
                input,
            },
        );
        rec.apply_commands(commands, now, &self.rules())?;
        self.wake_before_write(&mut rec).await?;
        self.flush_history(&mut rec).await?;
        match self
            .store
            .put_record(&key, &rec, PutOptions::create())
            .await
        {
            Ok(_) => Ok(Started { id, created: true }),
            Err(e) if e.is_conflict() => {
                // Started before (or by a concurrent start): that one stands.
                // The index entry written above is an orphan a worker drops.
                match self.store.get_record::<Instance>(&key).await? {
                    Some((existing, _)) => Self::existing(&existing, kind, id),
                    None => Err(Error::Contended(id)),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    fn existing(existing: &Instance, kind: &str, id: String) -> Result<Started> {
        if existing.kind != kind {
            return Err(Error::Invalid {
                what: "instance id",
                reason: "already used by an instance of another workflow kind",
            });
        }
        Ok(Started { id, created: false })
    }

    /// Makes sure a due-index entry exists at or before the record's next
    /// work *before* the record is written (so a crash never leaves work
    /// that no worker will find). Entries left behind are harmless: a
    /// worker that finds one checks the record.
    async fn wake_before_write(&self, rec: &mut Instance) -> Result<Vec<Key>> {
        let mut written = Vec::new();
        let want = self.next_wake(rec);
        if let Some(w) = want
            && rec.wake_ms.is_none_or(|cur| w < cur)
        {
            let k = self.due_key(&rec.id, w)?;
            self.store
                .put(&k, bytes_empty(), PutOptions::create())
                .await?;
            rec.wake_key = Some(k.as_str().to_string());
            written.push(k);
            rec.wake_ms = Some(w);
        }
        Ok(written)
    }

    /// The instance's next wake: its next work, or its retention deadline.
    fn next_wake(&self, rec: &Instance) -> Option<u64> {
        if let Some(d) = rec.next_due() {
            return Some(d);
        }
        let fin = rec.finished_ms?;
        match (
            rec.archived,
            self.options.archive_after_ms,
            self.options.delete_after_ms,
        ) {
            (false, Some(a), _) => Some(fin.saturating_add(a)),
            (_, _, Some(d)) => Some(fin.saturating_add(d)),
            _ => None,
        }
    }

    /// Moves the history tail to a chunk once it is long enough. The chunk
    /// key is unique to this write, so a writer that loses the race on the
    /// record never overwrites the winner's chunk.
    async fn flush_history(&self, rec: &mut Instance) -> Result<()> {
        if rec.tail.len() < self.options.history_chunk {
            return Ok(());
        }
        let first = rec.tail.first().map_or(0, |e| e.seq);
        let k = self.key(&format!("h/{}/{first:016}-{}", rec.id, random_id()?))?;
        let chunk = Chunk {
            events: std::mem::take(&mut rec.tail),
        };
        if let Err(e) = self
            .store
            .put_record(&k, &chunk, PutOptions::create())
            .await
        {
            rec.tail = chunk.events;
            return Err(e.into());
        }
        rec.chunk_keys.push(k.as_str().to_string());
        Ok(())
    }

    /// Delivers signal `name` with payload `data`, once per `event_id`:
    /// a second delivery of the same event id changes nothing.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Finished`] (after the end, or while
    /// compensations roll it back, an instance takes no signals), [`Error::Rejected`] when the workflow refuses the
    /// signal ([`Workflow::admit`](crate::Workflow::admit)), [`Error::Contended`] when other writers keep
    /// winning, workflow and store errors.
    pub async fn signal(
        &self,
        id: &str,
        name: &str,
        event_id: &str,
        data: Value,
    ) -> Result<Signalled> {
        Ok(self.signal_view(id, name, event_id, data).await?.0)
    }

    /// [`Engine::signal`], returning also the instance as the delivery
    /// left it (`None` for a duplicate), so a caller needs no second read.
    ///
    /// # Errors
    /// As [`Engine::signal`].
    pub async fn signal_view(
        &self,
        id: &str,
        name: &str,
        event_id: &str,
        data: Value,
    ) -> Result<(Signalled, Option<InstanceView>)> {
        check_name("instance id", id)?;
        if event_id.is_empty() || event_id.len() > 256 {
            return Err(Error::Invalid {
                what: "event id",
                reason: "must be 1-256 bytes",
            });
        }
        check_name("signal name", name)?;
        if serde_json::to_vec(&data).map_or(usize::MAX, |v| v.len()) > MAX_SIGNAL_BYTES {
            return Err(Error::Invalid {
                what: "signal payload",
                reason: "larger than 64 KiB as JSON",
            });
        }
        let key = self.instance_key(id)?;
        self.check_layout().await?;
        for _ in 0..32 {
            let Some((mut rec, version)) = self.store.get_record::<Instance>(&key).await? else {
                if self.store.get_opt(&self.archive_key(id)?).await?.is_some() {
                    return Err(Error::Finished(id.to_string()));
                }
                return Err(Error::NotFound(id.to_string()));
            };
            if rec.signals.iter().any(|e| e == event_id) {
                return Ok((Signalled::Duplicate, None));
            }
            // Finished, or rolling back (its workflow hears nothing more):
            // a signal would be recorded and lost.
            if rec.status != Status::Running {
                return Err(Error::Finished(id.to_string()));
            }
            let wf = self.registry.workflow(&rec.kind, rec.version)?.clone();
            if let Err(reason) = wf.admit(&rec.state, name, &data)? {
                return Err(Error::Rejected {
                    id: id.to_string(),
                    reason,
                });
            }
            let now = self.now();
            rec.log(
                now,
                HistoryKind::SignalReceived {
                    name: name.to_string(),
                    event_id: event_id.to_string(),
                    data: data.clone(),
                },
            );
            rec.signals.push(event_id.to_string());
            if rec.signals.len() > SIGNAL_DEDUP_WINDOW {
                rec.signals.remove(0);
            }
            rec.react(
                wf.as_ref(),
                &crate::model::Event::Signal {
                    name: name.to_string(),
                    data: data.clone(),
                },
                now,
                &self.rules(),
            )?;
            self.wake_before_write(&mut rec).await?;
            self.flush_history(&mut rec).await?;
            match self
                .store
                .put_record(&key, &rec, PutOptions::update(version))
                .await
            {
                Ok(_) => return Ok((Signalled::Delivered, Some(rec.view()))),
                Err(e) if e.is_conflict() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contended(id.to_string()))
    }

    async fn load(&self, id: &str) -> Result<Option<Instance>> {
        check_name("instance id", id)?;
        let r = match self
            .store
            .get_record::<Instance>(&self.instance_key(id)?)
            .await?
        {
            Some((r, _)) => Some(r),
            None => self
                .store
                .get_record::<Instance>(&self.archive_key(id)?)
                .await?
                .map(|(r, _)| r),
        };
        if let Some(r) = &r {
            self.check_record(r, id)?;
        }
        Ok(r)
    }

    /// A record must be the one its key names, and name only its own
    /// history chunks: a damaged or hostile store cannot make the engine
    /// act on (or delete) another instance.
    pub(crate) fn check_record(&self, rec: &Instance, id: &str) -> Result<()> {
        let corrupt = |reason: &str| Error::Corrupt {
            key: format!("{}/i/{id}", self.options.prefix),
            reason: reason.to_string(),
        };
        if rec.id != id {
            return Err(corrupt("the record names another instance"));
        }
        let own = format!("{}/h/{id}/", self.options.prefix);
        if rec.chunk_keys.iter().any(|k| !k.starts_with(&own)) {
            return Err(corrupt("a history chunk outside the instance's own"));
        }
        Ok(())
    }

    /// An instance's state and status (archived ones too).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad id, store errors.
    pub async fn get(&self, id: &str) -> Result<Option<InstanceView>> {
        Ok(self.load(id).await?.map(|r| r.view()))
    }

    /// An instance's whole history, oldest first.
    ///
    /// # Errors
    /// [`Error::NotFound`], [`Error::Corrupt`] when a chunk the record names
    /// is missing, store errors.
    pub async fn history(&self, id: &str) -> Result<Vec<HistoryEvent>> {
        let rec = self
            .load(id)
            .await?
            .ok_or_else(|| Error::NotFound(id.to_string()))?;
        let mut out = Vec::new();
        for k in &rec.chunk_keys {
            let key = Key::new(k.clone())?;
            let (chunk, _) =
                self.store
                    .get_record::<Chunk>(&key)
                    .await?
                    .ok_or_else(|| Error::Corrupt {
                        key: k.clone(),
                        reason: "a history chunk the instance names is missing".into(),
                    })?;
            out.extend(chunk.events);
        }
        out.extend(rec.tail);
        Ok(out)
    }

    /// Instances matching `filter`, in id order. This reads every instance
    /// record (and the archive when asked): meant for operators and tools,
    /// not for a hot path.
    ///
    /// # Errors
    /// Store errors, [`Error::Store`] for an unreadable record.
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<InstanceView>> {
        let mut out = Vec::new();
        let mut bad = None;
        self.scan(filter, |v| match v {
            Ok(v) => out.push(v),
            Err(e) => {
                bad.get_or_insert(e);
            }
        })
        .await?;
        match bad {
            Some((_, e)) => Err(e),
            None => Ok(out),
        }
    }

    /// Visits every instance that matches `filter`, reading a page of keys
    /// at a time, so memory stays bounded by the page (and what `visit`
    /// keeps) whatever the number of instances: [`Engine::list`] for
    /// reports over millions. A record that does not read (damaged, or
    /// written by a newer version) is handed to `visit` as its key and
    /// error, and the scan goes on. Returns the number visited. An
    /// instance archived while the scan runs may be seen twice or not at
    /// all.
    ///
    /// # Errors
    /// Store errors other than an unreadable record.
    pub async fn scan(
        &self,
        filter: &ListFilter,
        mut visit: impl FnMut(std::result::Result<InstanceView, (String, Error)>) + Send,
    ) -> Result<u64> {
        let mut n = 0;
        let mut prefixes = vec![format!("{}/i/", self.options.prefix)];
        if filter.archived {
            prefixes.push(format!("{}/a/", self.options.prefix));
        }
        for p in prefixes {
            let mut after = None;
            loop {
                let page = self
                    .store
                    .list(
                        ListOptions::prefix(p.clone())
                            .with_start_after(after.take())
                            .with_limit(1000),
                    )
                    .await?;
                for m in &page.objects {
                    match self.store.get_record::<Instance>(&m.key).await {
                        Ok(Some((r, _))) if filter.matches(&r) => {
                            n += 1;
                            visit(Ok(r.view()));
                        }
                        Ok(_) => {}
                        Err(
                            e @ (blocksmith_store::Error::Corrupt { .. }
                            | blocksmith_store::Error::SchemaMismatch { .. }
                            | blocksmith_store::Error::Serde { .. }),
                        ) => {
                            n += 1;
                            visit(Err((m.key.as_str().to_string(), e.into())));
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                match page.objects.last() {
                    Some(m) => after = Some(m.key.clone()),
                    None => break,
                }
            }
        }
        Ok(n)
    }

    /// A worker named `name` (unique among the workers sharing the store:
    /// a random suffix is added).
    ///
    /// # Errors
    /// [`Error::Invalid`] for a bad name, [`Error::Random`] when the random
    /// number generator fails.
    pub fn worker(&self, name: &str) -> Result<Worker<'_, S>> {
        check_name("worker name", name)?;
        Ok(Worker {
            engine: self,
            owner: format!("{name}-{}", random_id()?),
            leases: BTreeMap::new(),
            next_scan_ms: 0,
        })
    }
}

fn bytes_empty() -> bytes::Bytes {
    bytes::Bytes::new()
}

#[derive(Debug, Clone)]
struct Held {
    token: u64,
    expires_ms: u64,
    version: Version,
}

/// A worker: holds shard leases and runs the due work of its shards. Run
/// any number of them, in one process or many, on one store.
pub struct Worker<'a, S> {
    engine: &'a Engine<S>,
    owner: String,
    leases: BTreeMap<u32, Held>,
    next_scan_ms: u64,
}

impl<S> fmt::Debug for Worker<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("owner", &self.owner)
            .field("shards", &self.leases.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

enum Persisted {
    Yes,
    /// Another writer changed the record, or this worker's lease is gone.
    Lost,
}

impl<S: Store> Worker<'_, S> {
    /// The worker's unique owner name (as written in leases).
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The shards this worker holds.
    pub fn shards(&self) -> Vec<u32> {
        self.leases.keys().copied().collect()
    }

    fn holds(&self, shard: u32, now: u64) -> Option<u64> {
        self.leases
            .get(&shard)
            .filter(|h| h.expires_ms > now)
            .map(|h| h.token)
    }

    /// Acquires free or expired shard leases (up to a fair share of the
    /// live workers) and renews its own past half their life.
    async fn refresh_leases(&mut self) -> Result<()> {
        let e = self.engine;
        let now = e.now();
        let lease = e.options.lease_ms;
        // Renew what is past half its life.
        let mine: Vec<(u32, Held)> = self.leases.iter().map(|(k, v)| (*k, v.clone())).collect();
        for (shard, h) in mine {
            if h.expires_ms <= now {
                self.leases.remove(&shard);
                continue;
            }
            if h.expires_ms - now < lease / 2 {
                let rec = LeaseRecord {
                    owner: self.owner.clone(),
                    token: h.token,
                    expires_ms: now.saturating_add(lease),
                };
                match e
                    .store
                    .put_record(&e.lease_key(shard)?, &rec, PutOptions::update(h.version))
                    .await
                {
                    Ok(r) => {
                        self.leases.insert(
                            shard,
                            Held {
                                token: h.token,
                                expires_ms: rec.expires_ms,
                                version: r.version,
                            },
                        );
                    }
                    Err(err) if err.is_conflict() => {
                        self.leases.remove(&shard);
                    }
                    Err(err) => return Err(err.into()),
                }
            }
        }
        if now < self.next_scan_ms {
            return Ok(());
        }
        self.next_scan_ms = now.saturating_add((lease / 4).max(1));
        // Look at every shard's lease: who is alive, what is free.
        let mut records = Vec::with_capacity(e.options.shards as usize);
        for shard in 0..e.options.shards {
            records.push((
                shard,
                e.store
                    .get_record::<LeaseRecord>(&e.lease_key(shard)?)
                    .await?,
            ));
        }
        // Membership: each worker says it is alive at every scan, so a
        // worker that joins gets a fair share even before it holds a lease.
        let me = MemberRecord {
            owner: self.owner.clone(),
            expires_ms: now.saturating_add(lease),
        };
        e.store
            .put_record(&e.member_key(&self.owner)?, &me, PutOptions::default())
            .await?;
        let mut members: BTreeSet<String> = BTreeSet::new();
        for m in e
            .store
            .list_all(&format!("{}/m/", e.options.prefix))
            .await?
        {
            if let Some((r, _)) = e.store.get_record::<MemberRecord>(&m.key).await? {
                if r.expires_ms > now {
                    members.insert(r.owner);
                } else if now.saturating_sub(r.expires_ms) > lease.saturating_mul(10) {
                    // Long dead: tidy up.
                    e.store.delete(&m.key).await?;
                }
            }
        }
        let mut live: BTreeSet<&str> = members.iter().map(String::as_str).collect();
        live.insert(&self.owner);
        for (_, r) in &records {
            if let Some((l, _)) = r
                && l.expires_ms > now
            {
                live.insert(&l.owner);
            }
        }
        let quota = (e.options.shards as usize).div_ceil(live.len());
        let mut acquire = Vec::new();
        for (shard, r) in &records {
            match r {
                Some((l, _)) if l.expires_ms > now && l.owner != self.owner => {
                    self.leases.remove(shard);
                }
                Some((l, _)) if l.owner == self.owner && l.expires_ms > now => {}
                _ => acquire.push((*shard, r.clone())),
            }
        }
        drop(live);
        for (shard, r) in acquire {
            if self.leases.len() >= quota {
                break;
            }
            let (token, mode) = match &r {
                Some((l, v)) => (l.token.saturating_add(1), PutOptions::update(v.clone())),
                None => (1, PutOptions::create()),
            };
            let rec = LeaseRecord {
                owner: self.owner.clone(),
                token,
                expires_ms: now.saturating_add(lease),
            };
            match e.store.put_record(&e.lease_key(shard)?, &rec, mode).await {
                Ok(p) => {
                    self.leases.insert(
                        shard,
                        Held {
                            token,
                            expires_ms: rec.expires_ms,
                            version: p.version,
                        },
                    );
                }
                Err(err) if err.is_conflict() => {}
                Err(err) => return Err(err.into()),
            }
        }
        // Above a fair share (a worker joined): give the extra shards back.
        while self.leases.len() > quota {
            let Some((&shard, h)) = self.leases.iter().next_back() else {
                break;
            };
            let h = h.clone();
            self.leases.remove(&shard);
            self.give_back(shard, h.token, h.version).await?;
        }
        Ok(())
    }

    /// Renews a lease that ran out if its record still names this worker
    /// with the same token (nobody took the shard over meanwhile).
    async fn renew_lapsed(&mut self, shard: u32, now: u64) -> Result<Option<u64>> {
        let e = self.engine;
        let Some(h) = self.leases.get(&shard).cloned() else {
            return Ok(None);
        };
        let rec = LeaseRecord {
            owner: self.owner.clone(),
            token: h.token,
            expires_ms: now.saturating_add(e.options.lease_ms),
        };
        // A compare-and-swap on the version this worker last wrote: any
        // takeover changed it.
        match e
            .store
            .put_record(&e.lease_key(shard)?, &rec, PutOptions::update(h.version))
            .await
        {
            Ok(r) => {
                self.leases.insert(
                    shard,
                    Held {
                        token: h.token,
                        expires_ms: rec.expires_ms,
                        version: r.version,
                    },
                );
                Ok(Some(h.token))
            }
            Err(err) if err.is_conflict() => {
                self.leases.remove(&shard);
                Ok(None)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Writes `shard`'s lease as lapsed at `token` (a compare-and-swap on
    /// the version this worker holds; lost to a newer owner, it is moot).
    async fn give_back(&self, shard: u32, token: u64, version: Version) -> Result<()> {
        let e = self.engine;
        let rec = LeaseRecord {
            owner: self.owner.clone(),
            token,
            expires_ms: 0,
        };
        match e
            .store
            .put_record(&e.lease_key(shard)?, &rec, PutOptions::update(version))
            .await
        {
            Ok(_) => Ok(()),
            Err(err) if err.is_conflict() => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// Gives back every lease (a clean shutdown: others take over at once).
    ///
    /// # Errors
    /// Store errors.
    pub async fn release(&mut self) -> Result<()> {
        let e = self.engine;
        e.store.delete(&e.member_key(&self.owner)?).await?;
        for (shard, h) in std::mem::take(&mut self.leases) {
            self.give_back(shard, h.token, h.version).await?;
        }
        Ok(())
    }

    /// Runs the work that is due now in this worker's shards, once: steps,
    /// retries, timers, compensations and retention.
    ///
    /// # Errors
    /// Store errors (the tick stops there; what was written stands, and the
    /// next tick, on this worker or another, carries on). Step failures are
    /// not errors: they are recorded and retried per policy.
    pub async fn tick(&mut self) -> Result<TickReport> {
        let mut report = TickReport::default();
        self.engine.check_layout().await?;
        self.refresh_leases().await?;
        let e = self.engine;
        for shard in self.shards() {
            let now = e.now();
            if self.holds(shard, now).is_none() {
                continue;
            }
            let prefix = e.due_prefix(shard);
            let mut after: Option<Key> = None;
            'pages: loop {
                let opts = ListOptions::prefix(prefix.clone())
                    .with_limit(256)
                    .with_start_after(after.clone());
                let page = e.store.list(opts).await?;
                if page.objects.is_empty() {
                    break;
                }
                for m in &page.objects {
                    after = Some(m.key.clone());
                    let Some(rest) = m.key.as_str().strip_prefix(prefix.as_str()) else {
                        continue;
                    };
                    let mut parts = rest.split('/');
                    let (Some(ms), Some(id), Some(_nonce), None) =
                        (parts.next(), parts.next(), parts.next(), parts.next())
                    else {
                        continue;
                    };
                    let Ok(ms) = ms.parse::<u64>() else {
                        continue;
                    };
                    if ms > e.now() {
                        break 'pages; // the index is in time order: nothing else is due
                    }
                    report.due += 1;
                    if self.holds(shard, e.now()).is_none() {
                        break 'pages;
                    }
                    match self.process(shard, &m.key, id, &mut report).await {
                        Ok(()) => {}
                        // The store failing is the tick failing (a crash,
                        // an outage): stop, the next tick carries on.
                        Err(err @ Error::Store(_)) => return Err(err),
                        // Anything else is this instance's alone (a record
                        // that does not read, a workflow no longer
                        // registered): skip it, never stall the others.
                        Err(_) => report.skipped += 1,
                    }
                }
                if page.next.is_none() {
                    break;
                }
            }
        }
        report.shards = self.leases.len();
        Ok(report)
    }

    /// Ticks until a tick finds nothing to do (or `max_ticks`), returning
    /// the sum of the reports. Time does not move unless the clock does.
    ///
    /// # Errors
    /// As [`Worker::tick`].
    pub async fn run_until_idle(&mut self, max_ticks: usize) -> Result<TickReport> {
        let mut total = TickReport::default();
        for _ in 0..max_ticks {
            let r = self.tick().await?;
            total.transitions += r.transitions;
            total.steps += r.steps;
            total.timers += r.timers;
            total.due += r.due;
            total.retired += r.retired;
            total.skipped += r.skipped;
            total.shards = r.shards;
            if r.transitions == 0 && r.steps == 0 && r.retired == 0 {
                break;
            }
        }
        Ok(total)
    }

    async fn process(
        &mut self,
        shard: u32,
        entry: &Key,
        id: &str,
        report: &mut TickReport,
    ) -> Result<()> {
        let e = self.engine;
        let key = e.instance_key(id)?;
        let Some((mut rec, mut version)) = e.store.get_record::<Instance>(&key).await? else {
            return self.retire_archived(entry, id, report).await;
        };
        e.check_record(&rec, id)?;
        if rec.wake_key.as_deref() != Some(entry.as_str()) {
            // An entry the instance no longer relies on.
            e.store.delete(entry).await?;
            return Ok(());
        }
        let Some(token) = self.holds(shard, e.now()) else {
            return Ok(());
        };
        if rec.fence > token {
            // A newer owner wrote this instance: this lease is stale. Mark
            // it lapsed at that owner's token, so the next acquisition (by
            // anyone) fences above it.
            if let Some(h) = self.leases.remove(&shard) {
                self.give_back(shard, rec.fence, h.version).await?;
            }
            return Ok(());
        }
        if rec.status.is_finished() {
            return self.retire(rec, entry, report).await;
        }
        let wf = e.registry.workflow(&rec.kind, rec.version)?.clone();
        let rules = e.rules();
        let mut written: Vec<Key> = Vec::new();
        // A cap per visit: a plan with zero-delay retries (or a timer that
        // re-arms in the past) cannot hold the worker; the rest waits for
        // the next tick, behind the other instances.
        for _ in 0..MAX_TRANSITIONS_PER_VISIT {
            let now = e.now();
            let Some(work) = rec.next_work(now) else {
                break;
            };
            match work {
                Work::Timer(i) => {
                    rec.fire_timer(i, wf.as_ref(), now, &rules)?;
                    report.timers += 1;
                }
                Work::Step(i) => {
                    let p = rec.pending[i].clone();
                    let idempotency_key = if p.compensating {
                        format!("{}:{}:undo", rec.id, p.call.id)
                    } else {
                        format!("{}:{}", rec.id, p.call.id)
                    };
                    let deadline = p.call.timeout_ms.map(|t| now.saturating_add(t));
                    let ctx = StepContext {
                        instance: rec.id.clone(),
                        step_id: p.call.id.clone(),
                        attempt: p.attempt,
                        input: p.call.input.clone(),
                        idempotency_key: idempotency_key.clone(),
                        compensating: p.compensating,
                        deadline_ms: deadline,
                    };
                    let result = match e.registry.step(&p.call.step) {
                        Ok(step) => CatchPanic(step.run(ctx)).await,
                        Err(_) => Err(StepError::permanent(
                            "unknown_step",
                            format!("no step named {:?} is registered", p.call.step),
                        )),
                    };
                    report.steps += 1;
                    let end = e.now();
                    let result = match (result, deadline) {
                        (Ok(_), Some(d)) if end > d => Err(StepError::retryable(
                            "timeout",
                            "the attempt finished after its deadline",
                        )),
                        (r, _) => r,
                    };
                    let seed = format!("{idempotency_key}#{}", p.attempt);
                    rec.step_result(i, result, wf.as_ref(), end, &rules, &seed)?;
                }
            }
            match self
                .persist(shard, &key, &mut rec, &mut version, &mut written)
                .await?
            {
                Persisted::Yes => report.transitions += 1,
                Persisted::Lost => return Ok(()),
            }
        }
        // Point the index at the next work (or retention), then drop the
        // entries no longer needed.
        let want = e.next_wake(&rec);
        if want != rec.wake_ms {
            rec.wake_key = None;
            if let Some(w) = want {
                let k = e.due_key(&rec.id, w)?;
                e.store.put(&k, bytes_empty(), PutOptions::create()).await?;
                rec.wake_key = Some(k.as_str().to_string());
                written.push(k);
            }
            rec.wake_ms = want;
            match self
                .persist(shard, &key, &mut rec, &mut version, &mut written)
                .await?
            {
                Persisted::Yes => {}
                Persisted::Lost => return Ok(()),
            }
        }
        // Only entries this worker made, or the one it was handed (which
        // the record named): never another writer's.
        for k in written.iter().chain(std::iter::once(entry)) {
            if rec.wake_key.as_deref() != Some(k.as_str()) {
                e.store.delete(k).await?;
            }
        }
        Ok(())
    }

    /// One transition written: fenced by this worker's lease token and a
    /// compare-and-swap on the version read.
    async fn persist(
        &mut self,
        shard: u32,
        key: &Key,
        rec: &mut Instance,
        version: &mut Version,
        written: &mut Vec<Key>,
    ) -> Result<Persisted> {
        let e = self.engine;
        let now = e.now();
        let token = match self.holds(shard, now) {
            Some(t) => t,
            // The lease ran out while a step ran: still ours if no one took
            // it over since (the token decides), so renew and go on.
            None => match self.renew_lapsed(shard, now).await? {
                Some(t) => t,
                None => return Ok(Persisted::Lost),
            },
        };
        rec.fence = token;
        rec.updated_ms = rec.updated_ms.max(now);
        written.extend(e.wake_before_write(rec).await?);
        e.flush_history(rec).await?;
        match e
            .store
            .put_record(key, &*rec, PutOptions::update(version.clone()))
            .await
        {
            Ok(r) => {
                *version = r.version;
                Ok(Persisted::Yes)
            }
            Err(err) if err.is_conflict() => Ok(Persisted::Lost),
            Err(err) => Err(err.into()),
        }
    }

    /// Retention of a finished instance: archive it (record and history in
    /// one record under `a/`), or delete it.
    async fn retire(
        &mut self,
        mut rec: Instance,
        entry: &Key,
        report: &mut TickReport,
    ) -> Result<()> {
        let e = self.engine;
        let now = e.now();
        let Some(fin) = rec.finished_ms else {
            e.store.delete(entry).await?;
            return Ok(());
        };
        let archive_at = e.options.archive_after_ms.map(|a| fin.saturating_add(a));
        let delete_at = e.options.delete_after_ms.map(|d| fin.saturating_add(d));
        if archive_at.is_none_or(|t| now < t) && delete_at.is_none_or(|t| now < t) {
            return Ok(()); // not yet: the entry stays
        }
        let history = e.history(&rec.id).await?;
        let deleting = delete_at.is_some_and(|t| now >= t);
        if !deleting {
            // Archive: the whole history inline, then the live record goes.
            rec.tail = history;
            rec.chunk_keys.clear();
            rec.archived = true;
            rec.wake_ms = delete_at;
            rec.wake_key = None;
            if let Some(d) = delete_at {
                let k = e.due_key(&rec.id, d)?;
                e.store.put(&k, bytes_empty(), PutOptions::create()).await?;
                rec.wake_key = Some(k.as_str().to_string());
            }
            e.store
                .put_record(&e.archive_key(&rec.id)?, &rec, PutOptions::default())
                .await?;
        }
        // A finished instance is never written again (signals are
        // refused), so the record can go without a condition.
        e.store.delete(&e.instance_key(&rec.id)?).await?;
        for m in e
            .store
            .list_all(&format!("{}/h/{}/", e.options.prefix, rec.id))
            .await?
        {
            e.store.delete(&m.key).await?;
        }
        if deleting {
            e.store.delete(&e.archive_key(&rec.id)?).await?;
        }
        e.store.delete(entry).await?;
        report.retired += 1;
        Ok(())
    }

    /// An index entry whose instance record is gone: an archived instance
    /// due for deletion, or an orphan.
    async fn retire_archived(
        &mut self,
        entry: &Key,
        id: &str,
        report: &mut TickReport,
    ) -> Result<()> {
        let e = self.engine;
        let now = e.now();
        if let Some((rec, _)) = e.store.get_record::<Instance>(&e.archive_key(id)?).await?
            && let (Some(fin), Some(d)) = (rec.finished_ms, e.options.delete_after_ms)
        {
            if now < fin.saturating_add(d) {
                if rec.wake_key.as_deref() == Some(entry.as_str()) {
                    return Ok(()); // the deletion entry, not yet due
                }
            } else {
                // History chunks a crash may have left, then the archive.
                for m in e
                    .store
                    .list_all(&format!("{}/h/{id}/", e.options.prefix))
                    .await?
                {
                    e.store.delete(&m.key).await?;
                }
                e.store.delete(&e.archive_key(id)?).await?;
                report.retired += 1;
            }
        }
        e.store.delete(entry).await?;
        Ok(())
    }
}

/// Runs a step's future, turning a panic into a failed attempt (class
/// `"panic"`, retried per the policy) instead of unwinding out of the
/// worker.
struct CatchPanic<F>(F);

impl<F> std::future::Future for CatchPanic<F>
where
    F: std::future::Future<Output = std::result::Result<Value, StepError>> + Unpin,
{
    type Output = std::result::Result<Value, StepError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::pin::Pin::new(inner).poll(cx)
        })) {
            Ok(p) => p,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a step panicked".to_string());
                std::task::Poll::Ready(Err(StepError::retryable("panic", msg)))
            }
        }
    }
}

impl<S: Store> Engine<S> {
    /// The same calls as blocking ones, for synchronous hosts, tools and
    /// tests (each drives the async method to completion on the calling
    /// thread: never call it from inside an async runtime's task).
    pub fn blocking(&self) -> BlockingEngine<'_, S> {
        BlockingEngine(self)
    }
}

/// Blocking calls over an [`Engine`] (see [`Engine::blocking`]); each
/// method drives the async one with [`blocksmith_store::block_on`].
#[derive(Debug)]
pub struct BlockingEngine<'a, S>(&'a Engine<S>);

impl<S: Store> BlockingEngine<'_, S> {
    /// [`Engine::start`].
    ///
    /// # Errors
    /// As [`Engine::start`].
    pub fn start<W: Workflow>(&self, input: &W::Input, options: StartOptions) -> Result<Started> {
        blocksmith_store::block_on(self.0.start::<W>(input, options))
    }
    /// [`Engine::start_value`].
    ///
    /// # Errors
    /// As [`Engine::start_value`].
    pub fn start_value(&self, kind: &str, input: Value, options: StartOptions) -> Result<Started> {
        blocksmith_store::block_on(self.0.start_value(kind, input, options))
    }
    /// [`Engine::signal`].
    ///
    /// # Errors
    /// As [`Engine::signal`].
    pub fn signal(&self, id: &str, name: &str, event_id: &str, data: Value) -> Result<Signalled> {
        blocksmith_store::block_on(self.0.signal(id, name, event_id, data))
    }
    /// [`Engine::get`].
    ///
    /// # Errors
    /// As [`Engine::get`].
    pub fn get(&self, id: &str) -> Result<Option<InstanceView>> {
        blocksmith_store::block_on(self.0.get(id))
    }
    /// [`Engine::history`].
    ///
    /// # Errors
    /// As [`Engine::history`].
    pub fn history(&self, id: &str) -> Result<Vec<HistoryEvent>> {
        blocksmith_store::block_on(self.0.history(id))
    }
    /// [`Engine::list`].
    ///
    /// # Errors
    /// As [`Engine::list`].
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<InstanceView>> {
        blocksmith_store::block_on(self.0.list(filter))
    }
}

impl<'a, S: Store> Worker<'a, S> {
    /// The same calls as blocking ones (see [`Engine::blocking`]).
    pub fn blocking(&mut self) -> BlockingWorker<'_, 'a, S> {
        BlockingWorker(self)
    }
}

/// Blocking calls over a [`Worker`] (see [`Worker::blocking`]).
#[derive(Debug)]
pub struct BlockingWorker<'w, 'a, S>(&'w mut Worker<'a, S>);

impl<S: Store> BlockingWorker<'_, '_, S> {
    /// [`Worker::tick`].
    ///
    /// # Errors
    /// As [`Worker::tick`].
    pub fn tick(&mut self) -> Result<TickReport> {
        blocksmith_store::block_on(self.0.tick())
    }
    /// [`Worker::run_until_idle`].
    ///
    /// # Errors
    /// As [`Worker::run_until_idle`].
    pub fn run_until_idle(&mut self, max_ticks: usize) -> Result<TickReport> {
        blocksmith_store::block_on(self.0.run_until_idle(max_ticks))
    }
    /// [`Worker::release`].
    ///
    /// # Errors
    /// As [`Worker::release`].
    pub fn release(&mut self) -> Result<()> {
        blocksmith_store::block_on(self.0.release())
    }
}
