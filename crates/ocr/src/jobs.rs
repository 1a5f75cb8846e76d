//! A job queue over [`blocksmith_store::Store`]: submit, status, result, cancel, retries,
//! per-page progress, crash recovery by leases, and a worker pool with a concurrency limit.
//!
//! Every method that touches the store is `async` and needs no particular runtime; each has a
//! blocking twin on [`JobQueue::blocking`] for synchronous hosts (the same call, without
//! `.await`). Recognition is CPU work: [`JobQueue::process`] and [`JobQueue::run_pending`]
//! recognise pages on the task that polls them, between their store calls, so an async host runs
//! them where CPU work belongs (Tokio's `spawn_blocking`, a worker thread of its own), never on
//! a task that serves requests. [`BlockingJobQueue::run_pending`] spreads jobs over scoped
//! threads instead.
//!
//! Keys under the queue's prefix: `<id>/job` (the job record), `<id>/input` (the submitted
//! bytes) and `<id>/page/<n>` (each finished page, so a resumed job skips them).

use crate::pipeline::{Engine, EngineOptions};
use crate::tree::{Document, Page};
use crate::{Error, Result};
use blocksmith_store::record::Record;
use blocksmith_store::{Key, PutOptions, Store, StoreExt, block_on};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A job id: the content hash of the input and a hash of the engine options.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct JobId(pub String);

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a job is.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker holds it.
    Running {
        /// Pages finished.
        pages_done: u32,
        /// Pages in the document (0 until decoded).
        pages_total: u32,
    },
    /// Finished; the result is available.
    Done,
    /// Gave up after `attempts` attempts.
    Failed {
        /// The last error.
        error: String,
        /// Attempts made.
        attempts: u32,
    },
    /// Cancelled by a caller.
    Cancelled,
}

/// A job's state as a person reads it: `queued`, `running (3/10 pages)`,
/// `done`, `failed after 2 attempts: <error>`, `cancelled`.
impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JobStatus::Queued => f.write_str("queued"),
            JobStatus::Running {
                pages_done,
                pages_total,
            } => write!(f, "running ({pages_done}/{pages_total} pages)"),
            JobStatus::Done => f.write_str("done"),
            JobStatus::Failed { error, attempts } => {
                let s = if *attempts == 1 { "" } else { "s" };
                write!(f, "failed after {attempts} attempt{s}: {error}")
            }
            JobStatus::Cancelled => f.write_str("cancelled"),
        }
    }
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct JobRecord {
    status: JobStatus,
    attempts: u32,
    pages_total: u32,
    pages_done: u32,
    lease_until_ms: u64,
    last_error: Option<String>,
    options: EngineOptions,
}

impl Record for JobRecord {
    const KIND: &'static str = "ocr.job";
    const VERSION: u32 = 1;
}

#[derive(serde::Serialize, serde::Deserialize)]
struct PageRecord(Page);

impl Record for PageRecord {
    const KIND: &'static str = "ocr.page";
    const VERSION: u32 = 1;
}

/// Options of a [`JobQueue`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobOptions {
    /// Attempts before a job is marked failed (default 3).
    pub max_attempts: u32,
    /// How long a worker's claim lasts without progress; a job still `Running` after its
    /// lease is taken over by another worker (default 5 minutes).
    pub lease: Duration,
}

impl Default for JobOptions {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            lease: Duration::from_secs(300),
        }
    }
}

impl JobOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the attempt limit (at least 1).
    #[must_use]
    pub fn with_max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
    /// Sets the lease.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }
}

/// What one [`JobQueue::run_pending`] call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunReport {
    /// Jobs finished.
    pub done: usize,
    /// Jobs that failed and were queued again.
    pub retried: usize,
    /// Jobs that failed for good.
    pub failed: usize,
    /// Jobs found cancelled while running.
    pub cancelled: usize,
    /// Jobs another worker took over while this one ran them (its lease ran
    /// out): this worker stopped writing to them.
    pub lost: usize,
}

/// A job queue persisted in a store.
pub struct JobQueue<S> {
    store: S,
    prefix: String,
    opts: JobOptions,
    clock: Arc<dyn Fn() -> u64 + Send + Sync>,
}

impl<S: std::fmt::Debug> std::fmt::Debug for JobQueue<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobQueue")
            .field("store", &self.store)
            .field("prefix", &self.prefix)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

fn system_clock_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

enum Outcome {
    Done,
    Cancelled,
    /// Another worker claimed the job (this one's lease ran out).
    Lost,
    /// Worth another attempt (the recogniser failed).
    Error(String),
    /// Never worth another attempt (the input does not decode).
    Fatal(String),
}

impl<S: Store> JobQueue<S> {
    /// A queue under `prefix` (e.g. `"ocr/jobs"`).
    pub fn new(store: S, prefix: &str, opts: JobOptions) -> Self {
        Self {
            store,
            prefix: prefix.trim_end_matches('/').to_string(),
            opts,
            clock: Arc::new(system_clock_ms),
        }
    }

    /// Replaces the clock (Unix milliseconds) that leases are taken and checked against, for
    /// tests and simulations. Every worker of the queue uses it; queues sharing a store
    /// should agree on the time.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The current time of the queue's clock (Unix milliseconds).
    pub fn now_ms(&self) -> u64 {
        (self.clock)()
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn key(&self, id: &JobId, rest: &str) -> Result<Key> {
        Ok(Key::new(format!("{}/{}/{rest}", self.prefix, id.0))?)
    }

    /// The id a submission of `bytes` with `options` gets.
    pub fn job_id(bytes: &[u8], options: &EngineOptions) -> JobId {
        let content = blake3::hash(bytes);
        let opts = serde_json::to_vec(options).unwrap_or_default();
        let oh = blake3::hash(&opts);
        JobId(format!("{}-{}", &content.to_hex()[..32], &oh.to_hex()[..8]))
    }

    async fn load(&self, id: &JobId) -> Result<(JobRecord, blocksmith_store::Version)> {
        self.store
            .get_record::<JobRecord>(&self.key(id, "job")?)
            .await?
            .ok_or_else(|| Error::JobNotFound(id.0.clone()))
    }

    /// Submits a document; returns its id. Submitting the same bytes with the same options
    /// again returns the same id without new work; a failed or cancelled job is queued again.
    ///
    /// # Errors
    /// [`Error::InvalidOptions`] as [`EngineOptions::validate`];
    /// [`Error::Store`] if the prefix does not make a valid key, the store fails,
    /// or a stored job record is not of this version.
    pub async fn submit(&self, bytes: &[u8], options: &EngineOptions) -> Result<JobId> {
        options.validate()?;
        let id = Self::job_id(bytes, options);
        let b = &self.store;
        let job_key = self.key(&id, "job")?;
        if let Some((rec, version)) = b.get_record::<JobRecord>(&job_key).await? {
            if matches!(rec.status, JobStatus::Failed { .. } | JobStatus::Cancelled) {
                let fresh = JobRecord {
                    status: JobStatus::Queued,
                    attempts: 0,
                    lease_until_ms: 0,
                    last_error: None,
                    ..rec
                };
                match b
                    .put_record(&job_key, &fresh, PutOptions::update(version))
                    .await
                {
                    Ok(_) | Err(blocksmith_store::Error::PreconditionFailed { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(id);
        }
        b.put_opts(&self.key(&id, "input")?, bytes.to_vec(), PutOptions::new())
            .await?;
        let rec = JobRecord {
            status: JobStatus::Queued,
            attempts: 0,
            pages_total: 0,
            pages_done: 0,
            lease_until_ms: 0,
            last_error: None,
            options: options.clone(),
        };
        match b.put_record(&job_key, &rec, PutOptions::create()).await {
            Ok(_) | Err(blocksmith_store::Error::AlreadyExists { .. }) => Ok(id),
            Err(e) => Err(e.into()),
        }
    }

    /// The job's status.
    ///
    /// # Errors
    /// [`Error::JobNotFound`] if no job has this id; [`Error::Store`] if the
    /// prefix and id do not make a valid key, the store fails, or the job record
    /// is not of this version.
    pub async fn status(&self, id: &JobId) -> Result<JobStatus> {
        Ok(self.load(id).await?.0.status)
    }

    /// Every job id in the queue.
    ///
    /// # Errors
    /// [`Error::Store`] if the store fails to list.
    pub async fn list(&self) -> Result<Vec<JobId>> {
        let metas = self.store.list_all(&format!("{}/", self.prefix)).await?;
        Ok(metas
            .into_iter()
            .filter_map(|m| {
                let k = m
                    .key
                    .as_str()
                    .strip_prefix(&format!("{}/", self.prefix))?
                    .to_string();
                k.strip_suffix("/job").map(|s| JobId(s.to_string()))
            })
            .collect())
    }

    /// The result of a finished job.
    ///
    /// # Errors
    /// [`Error::JobNotFound`] if no job has this id; [`Error::NoResult`] if the
    /// job is not `Done` or one of its pages is missing; [`Error::Store`] if a key
    /// is not valid, the store fails, or a record is not of this version.
    pub async fn result(&self, id: &JobId) -> Result<Document> {
        let (rec, _) = self.load(id).await?;
        if rec.status != JobStatus::Done {
            return Err(Error::NoResult {
                id: id.0.clone(),
                state: rec.status.to_string(),
            });
        }
        let mut doc = Document::default();
        for i in 0..rec.pages_total {
            let (PageRecord(page), _) = self
                .store
                .get_record::<PageRecord>(&self.key(id, &format!("page/{i:06}"))?)
                .await?
                .ok_or_else(|| Error::NoResult {
                    id: id.0.clone(),
                    state: format!("page {i} missing"),
                })?;
            doc.timings.add(&page.timings);
            doc.pages.push(page);
        }
        Ok(doc)
    }

    /// Cancels a queued or running job (a running job stops after its current page).
    /// Returns the status after the call; finished jobs are left as they are.
    ///
    /// # Errors
    /// [`Error::JobNotFound`] if no job has this id; [`Error::Store`] if a key is
    /// not valid, the store fails, the record is not of this version, or the
    /// compare-and-swap keeps losing to other writers.
    pub async fn cancel(&self, id: &JobId) -> Result<JobStatus> {
        let key = self.key(id, "job")?;
        let mut out = None;
        self.store
            .update_record::<JobRecord, _>(&key, |r| {
                let Some(mut r) = r else { return Ok(None) };
                if matches!(r.status, JobStatus::Queued | JobStatus::Running { .. }) {
                    r.status = JobStatus::Cancelled;
                    out = Some(r.status.clone());
                    Ok(Some(r))
                } else {
                    out = Some(r.status.clone());
                    Ok(None)
                }
            })
            .await?;
        out.ok_or_else(|| Error::JobNotFound(id.0.clone()))
    }

    /// Claims a job for this worker if it is queued or its previous worker's lease ran out.
    /// Returns false if another worker holds it or it is finished.
    ///
    /// # Errors
    /// [`Error::JobNotFound`] if no job has this id; [`Error::Store`] if a key is
    /// not valid, the store fails or the record is not of this version. Losing
    /// the claim to another worker is `Ok(false)`, not an error.
    pub async fn claim(&self, id: &JobId) -> Result<bool> {
        let (mut rec, version) = self.load(id).await?;
        let now = self.now_ms();
        let claimable = match rec.status {
            JobStatus::Queued => true,
            JobStatus::Running { .. } => rec.lease_until_ms <= now,
            _ => false,
        };
        if !claimable {
            return Ok(false);
        }
        rec.attempts += 1;
        rec.status = JobStatus::Running {
            pages_done: rec.pages_done,
            pages_total: rec.pages_total,
        };
        rec.lease_until_ms = now.saturating_add(self.opts.lease.as_millis() as u64);
        match self
            .store
            .put_record(&self.key(id, "job")?, &rec, PutOptions::update(version))
            .await
        {
            Ok(_) => Ok(true),
            Err(blocksmith_store::Error::PreconditionFailed { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Updates the record (and extends the lease) if the job is still this
    /// worker's: not cancelled, and not claimed again since the claim
    /// numbered `claim` (the record's attempt count, which every claim
    /// increments: the fencing token of a lease).
    async fn progress(
        &self,
        id: &JobId,
        claim: u32,
        f: impl Fn(&mut JobRecord) + Send + Sync,
    ) -> Result<Option<Outcome>> {
        let key = self.key(id, "job")?;
        let mut stop = None;
        let lease = self.opts.lease.as_millis() as u64;
        self.store
            .update_record::<JobRecord, _>(&key, |r| {
                stop = None;
                let Some(mut r) = r else { return Ok(None) };
                if r.status == JobStatus::Cancelled {
                    stop = Some(Outcome::Cancelled);
                    return Ok(None);
                }
                if r.attempts != claim || !matches!(r.status, JobStatus::Running { .. }) {
                    stop = Some(Outcome::Lost);
                    return Ok(None);
                }
                f(&mut r);
                r.lease_until_ms = self.now_ms().saturating_add(lease);
                Ok(Some(r))
            })
            .await?;
        Ok(stop)
    }

    async fn execute(&self, engine: &Engine, id: &JobId, claim: u32) -> Result<Outcome> {
        let b = &self.store;
        let input = b
            .get(&self.key(id, "input")?, blocksmith_store::GetOptions::new())
            .await?
            .data;
        let (rec, _) = self.load(id).await?;
        let engine = Engine::new(rec.options.clone(), engine_recognizer(engine));
        let pages = match engine.decode(&input) {
            Ok(p) => p,
            Err(e) => return Ok(Outcome::Fatal(e.to_string())),
        };
        let total = pages.len() as u32;
        for (i, img) in pages.iter().enumerate() {
            let key = self.key(id, &format!("page/{i:06}"))?;
            // A page that is missing, or that does not decode (a put cut off by a store
            // without atomic puts), is done (again); a page that reads back is kept.
            let stored = match b.get_record::<PageRecord>(&key).await {
                Ok(page) => page.is_some(),
                Err(
                    blocksmith_store::Error::Corrupt { .. } | blocksmith_store::Error::Serde { .. },
                ) => false,
                Err(e) => return Err(e.into()),
            };
            if !stored {
                let mut page = match engine.process_page(img, i as u32) {
                    Ok(p) => p,
                    Err(e) => return Ok(Outcome::Error(e.to_string())),
                };
                if i == 0 {
                    page.timings.decode = std::time::Duration::ZERO;
                }
                b.put_record(&key, &PageRecord(page), PutOptions::new())
                    .await?;
            }
            let done = i as u32 + 1;
            let stop = self
                .progress(id, claim, |r| {
                    r.pages_total = total;
                    r.pages_done = done;
                    r.status = JobStatus::Running {
                        pages_done: done,
                        pages_total: total,
                    };
                })
                .await?;
            if let Some(stop) = stop {
                return Ok(stop);
            }
        }
        Ok(Outcome::Done)
    }

    /// Processes one claimed job to its end (done, queued again for a retry, failed, or
    /// cancelled).
    ///
    /// Recognition runs on the task that polls this future, a page at a time between store
    /// calls (CPU work: see the [module docs](self)).
    ///
    /// # Errors
    /// [`Error::JobNotFound`] if no job has this id; [`Error::Store`] if the
    /// job's input is missing, a key is not valid, the store fails, or a record is
    /// not of this version (the job's lease then runs out and another worker
    /// takes it over). An input that does not decode or a recognizer failure is
    /// not an error of this call: it is recorded in the job (retried, or `Failed`).
    pub async fn process(&self, engine: &Engine, id: &JobId, report: &mut RunReport) -> Result<()> {
        // The claim this worker holds: the attempt count its claim wrote. A
        // worker whose lease ran out and whose job another worker claimed
        // finds a higher count at its next write, and stops.
        let (rec, _) = self.load(id).await?;
        let claim = rec.attempts;
        let outcome = match self.execute(engine, id, claim).await? {
            Outcome::Done => self
                .progress(id, claim, |r| r.status = JobStatus::Done)
                .await?
                .unwrap_or(Outcome::Done),
            Outcome::Error(msg) => {
                return self.record_failure(id, claim, &msg, false, report).await;
            }
            Outcome::Fatal(msg) => return self.record_failure(id, claim, &msg, true, report).await,
            other => other,
        };
        match outcome {
            Outcome::Done => report.done += 1,
            Outcome::Cancelled => report.cancelled += 1,
            _ => report.lost += 1,
        }
        Ok(())
    }

    async fn record_failure(
        &self,
        id: &JobId,
        claim: u32,
        msg: &str,
        fatal: bool,
        report: &mut RunReport,
    ) -> Result<()> {
        let max = self.opts.max_attempts;
        let stop = self
            .progress(id, claim, |r| {
                r.last_error = Some(msg.to_string());
                r.status = if fatal || r.attempts >= max {
                    JobStatus::Failed {
                        error: msg.to_string(),
                        attempts: r.attempts,
                    }
                } else {
                    JobStatus::Queued
                };
            })
            .await?;
        match stop {
            Some(Outcome::Cancelled) => report.cancelled += 1,
            Some(_) => report.lost += 1,
            None if self.status(id).await? == JobStatus::Queued => report.retried += 1,
            None => report.failed += 1,
        }
        Ok(())
    }

    /// Runs every claimable job (queued, or running with an expired lease), one at a time on
    /// this task, until none is left. Retries happen within the same call. Recognition is CPU
    /// work on the polling task (see the [module docs](self)); for several jobs at once run
    /// this future on several tasks (claims are exclusive) or use
    /// [`BlockingJobQueue::run_pending`] on a thread of your own.
    ///
    /// # Errors
    /// The first error of [`JobQueue::list`], [`JobQueue::claim`] or
    /// [`JobQueue::process`]; the jobs finished before it stay finished.
    pub async fn run_pending(&self, engine: &Engine) -> Result<RunReport> {
        let mut report = RunReport::default();
        loop {
            let mut ids = Vec::new();
            for id in self.list().await? {
                if self.claimable(&id).await.unwrap_or(false) {
                    ids.push(id);
                }
            }
            if ids.is_empty() {
                return Ok(report);
            }
            for id in ids {
                if self.claim(&id).await? {
                    self.process(engine, &id, &mut report).await?;
                }
            }
        }
    }

    async fn claimable(&self, id: &JobId) -> Result<bool> {
        let (rec, _) = self.load(id).await?;
        Ok(match rec.status {
            JobStatus::Queued => true,
            JobStatus::Running { .. } => rec.lease_until_ms <= self.now_ms(),
            _ => false,
        })
    }

    /// The same calls as blocking ones, for synchronous hosts, tools and tests (each drives
    /// the async method to completion on the calling thread: never call it from inside an
    /// async runtime's task).
    pub fn blocking(&self) -> BlockingJobQueue<'_, S> {
        BlockingJobQueue(self)
    }
}

/// Blocking calls over a [`JobQueue`] (see [`JobQueue::blocking`]); each method drives the
/// async one with [`blocksmith_store::block_on`].
#[derive(Debug)]
pub struct BlockingJobQueue<'a, S>(&'a JobQueue<S>);

impl<S: Store> BlockingJobQueue<'_, S> {
    /// [`JobQueue::submit`].
    ///
    /// # Errors
    /// As [`JobQueue::submit`].
    pub fn submit(&self, bytes: &[u8], options: &EngineOptions) -> Result<JobId> {
        block_on(self.0.submit(bytes, options))
    }
    /// [`JobQueue::status`].
    ///
    /// # Errors
    /// As [`JobQueue::status`].
    pub fn status(&self, id: &JobId) -> Result<JobStatus> {
        block_on(self.0.status(id))
    }
    /// [`JobQueue::list`].
    ///
    /// # Errors
    /// As [`JobQueue::list`].
    pub fn list(&self) -> Result<Vec<JobId>> {
        block_on(self.0.list())
    }
    /// [`JobQueue::result`].
    ///
    /// # Errors
    /// As [`JobQueue::result`].
    pub fn result(&self, id: &JobId) -> Result<Document> {
        block_on(self.0.result(id))
    }
    /// [`JobQueue::cancel`].
    ///
    /// # Errors
    /// As [`JobQueue::cancel`].
    pub fn cancel(&self, id: &JobId) -> Result<JobStatus> {
        block_on(self.0.cancel(id))
    }
    /// [`JobQueue::claim`].
    ///
    /// # Errors
    /// As [`JobQueue::claim`].
    pub fn claim(&self, id: &JobId) -> Result<bool> {
        block_on(self.0.claim(id))
    }
    /// [`JobQueue::process`].
    ///
    /// # Errors
    /// As [`JobQueue::process`].
    pub fn process(&self, engine: &Engine, id: &JobId, report: &mut RunReport) -> Result<()> {
        block_on(self.0.process(engine, id, report))
    }

    /// [`JobQueue::run_pending`], with the jobs spread over at most `max_concurrency` scoped
    /// threads (each claims, recognises and records jobs with blocking calls), until none is
    /// left. Retries happen within the same call.
    ///
    /// # Errors
    /// The first error any worker met (as [`JobQueue::claim`] and
    /// [`JobQueue::process`]) or of listing the jobs. The other workers go on
    /// with the jobs left in that round before the call returns it; jobs
    /// finished stay finished.
    pub fn run_pending(&self, engine: &Engine, max_concurrency: usize) -> Result<RunReport> {
        let q = self.0;
        let report = Mutex::new(RunReport::default());
        let first_error: Mutex<Option<Error>> = Mutex::new(None);
        loop {
            let ids: Vec<JobId> = self
                .list()?
                .into_iter()
                .filter(|id| block_on(q.claimable(id)).unwrap_or(false))
                .collect();
            if ids.is_empty() {
                break;
            }
            let queue = Mutex::new(ids);
            let workers = max_concurrency
                .max(1)
                .min(queue.lock().map_or(1, |q| q.len()));
            std::thread::scope(|s| {
                for _ in 0..workers {
                    s.spawn(|| {
                        loop {
                            let next = queue.lock().ok().and_then(|mut q| q.pop());
                            let Some(id) = next else { break };
                            let mut local = RunReport::default();
                            let r = self.claim(&id).and_then(|claimed| {
                                if claimed {
                                    self.process(engine, &id, &mut local)
                                } else {
                                    Ok(())
                                }
                            });
                            if let Ok(mut rep) = report.lock() {
                                rep.done += local.done;
                                rep.retried += local.retried;
                                rep.failed += local.failed;
                                rep.cancelled += local.cancelled;
                                rep.lost += local.lost;
                            }
                            if let (Err(e), Ok(mut fe)) = (r, first_error.lock()) {
                                fe.get_or_insert(e);
                            }
                        }
                    });
                }
            });
            if let Some(e) = first_error.lock().ok().and_then(|mut e| e.take()) {
                return Err(e);
            }
        }
        Ok(report.into_inner().unwrap_or_default())
    }
}

fn engine_recognizer(engine: &Engine) -> std::sync::Arc<dyn crate::Recognizer> {
    engine.recognizer()
}
