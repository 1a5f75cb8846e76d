//! An asynchronous-friendly job queue over [`blocksmith_store::Store`]: submit, status, result,
//! cancel, retries, per-page progress, crash recovery by leases, and a worker pool with a
//! concurrency limit (scoped threads; no async runtime needed).
//!
//! Keys under the queue's prefix: `<id>/job` (the job record), `<id>/input` (the submitted
//! bytes) and `<id>/page/<n>` (each finished page, so a resumed job skips them).

use crate::pipeline::{Engine, EngineOptions};
use crate::tree::{Document, Page};
use crate::{Error, Result};
use blocksmith_store::record::Record;
use blocksmith_store::{Key, PutOptions, Store, StoreExt};
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

    fn load(&self, id: &JobId) -> Result<(JobRecord, blocksmith_store::Version)> {
        self.store
            .blocking()
            .get_record::<JobRecord>(&self.key(id, "job")?)?
            .ok_or_else(|| Error::JobNotFound(id.0.clone()))
    }

    /// Submits a document; returns its id. Submitting the same bytes with the same options
    /// again returns the same id without new work; a failed or cancelled job is queued again.
    pub fn submit(&self, bytes: &[u8], options: &EngineOptions) -> Result<JobId> {
        options.validate()?;
        let id = Self::job_id(bytes, options);
        let b = self.store.blocking();
        let job_key = self.key(&id, "job")?;
        if let Some((rec, version)) = b.get_record::<JobRecord>(&job_key)? {
            if matches!(rec.status, JobStatus::Failed { .. } | JobStatus::Cancelled) {
                let fresh = JobRecord {
                    status: JobStatus::Queued,
                    attempts: 0,
                    lease_until_ms: 0,
                    last_error: None,
                    ..rec
                };
                match b.put_record(&job_key, &fresh, PutOptions::update(version)) {
                    Ok(_) | Err(blocksmith_store::Error::PreconditionFailed { .. }) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            return Ok(id);
        }
        b.put(&self.key(&id, "input")?, bytes.to_vec())?;
        let rec = JobRecord {
            status: JobStatus::Queued,
            attempts: 0,
            pages_total: 0,
            pages_done: 0,
            lease_until_ms: 0,
            last_error: None,
            options: options.clone(),
        };
        match b.put_record(&job_key, &rec, PutOptions::create()) {
            Ok(_) | Err(blocksmith_store::Error::AlreadyExists { .. }) => Ok(id),
            Err(e) => Err(e.into()),
        }
    }

    /// The job's status.
    pub fn status(&self, id: &JobId) -> Result<JobStatus> {
        Ok(self.load(id)?.0.status)
    }

    /// Every job id in the queue.
    pub fn list(&self) -> Result<Vec<JobId>> {
        let metas = self
            .store
            .blocking()
            .list_all(&format!("{}/", self.prefix))?;
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
    pub fn result(&self, id: &JobId) -> Result<Document> {
        let (rec, _) = self.load(id)?;
        if rec.status != JobStatus::Done {
            return Err(Error::NoResult {
                id: id.0.clone(),
                state: format!("{:?}", rec.status),
            });
        }
        let b = self.store.blocking();
        let mut doc = Document::default();
        for i in 0..rec.pages_total {
            let (PageRecord(page), _) = b
                .get_record::<PageRecord>(&self.key(id, &format!("page/{i:06}"))?)?
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
    pub fn cancel(&self, id: &JobId) -> Result<JobStatus> {
        let key = self.key(id, "job")?;
        let mut out = None;
        self.store
            .blocking()
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
            })?;
        out.ok_or_else(|| Error::JobNotFound(id.0.clone()))
    }

    /// Claims a job for this worker if it is queued or its previous worker's lease ran out.
    /// Returns false if another worker holds it or it is finished.
    pub fn claim(&self, id: &JobId) -> Result<bool> {
        let (mut rec, version) = self.load(id)?;
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
        match self.store.blocking().put_record(
            &self.key(id, "job")?,
            &rec,
            PutOptions::update(version),
        ) {
            Ok(_) => Ok(true),
            Err(blocksmith_store::Error::PreconditionFailed { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Updates the record unless the job was cancelled; returns false if it was.
    fn progress(&self, id: &JobId, f: impl Fn(&mut JobRecord) + Sync) -> Result<bool> {
        let key = self.key(id, "job")?;
        let mut live = true;
        let lease = self.opts.lease.as_millis() as u64;
        self.store
            .blocking()
            .update_record::<JobRecord, _>(&key, |r| {
                let Some(mut r) = r else { return Ok(None) };
                if r.status == JobStatus::Cancelled {
                    live = false;
                    return Ok(None);
                }
                f(&mut r);
                r.lease_until_ms = self.now_ms().saturating_add(lease);
                Ok(Some(r))
            })?;
        Ok(live)
    }

    fn execute(&self, engine: &Engine, id: &JobId) -> Result<Outcome> {
        let b = self.store.blocking();
        let input = b.get(&self.key(id, "input")?)?.data;
        let (rec, _) = self.load(id)?;
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
            let stored = match b.get_record::<PageRecord>(&key) {
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
                b.put_record(&key, &PageRecord(page), PutOptions::new())?;
            }
            let done = i as u32 + 1;
            let live = self.progress(id, |r| {
                r.pages_total = total;
                r.pages_done = done;
                r.status = JobStatus::Running {
                    pages_done: done,
                    pages_total: total,
                };
            })?;
            if !live {
                return Ok(Outcome::Cancelled);
            }
        }
        Ok(Outcome::Done)
    }

    /// Processes one claimed job to its end (done, queued again for a retry, failed, or
    /// cancelled).
    pub fn process(&self, engine: &Engine, id: &JobId, report: &mut RunReport) -> Result<()> {
        match self.execute(engine, id)? {
            Outcome::Cancelled => report.cancelled += 1,
            Outcome::Done => {
                if self.progress(id, |r| r.status = JobStatus::Done)? {
                    report.done += 1;
                } else {
                    report.cancelled += 1;
                }
            }
            Outcome::Error(msg) => self.record_failure(id, &msg, false, report)?,
            Outcome::Fatal(msg) => self.record_failure(id, &msg, true, report)?,
        }
        Ok(())
    }

    fn record_failure(
        &self,
        id: &JobId,
        msg: &str,
        fatal: bool,
        report: &mut RunReport,
    ) -> Result<()> {
        let max = self.opts.max_attempts;
        self.progress(id, |r| {
            r.last_error = Some(msg.to_string());
            r.status = if fatal || r.attempts >= max {
                JobStatus::Failed {
                    error: msg.to_string(),
                    attempts: r.attempts,
                }
            } else {
                JobStatus::Queued
            };
        })?;
        if self.status(id)? == JobStatus::Queued {
            report.retried += 1;
        } else {
            report.failed += 1;
        }
        Ok(())
    }

    /// Runs every claimable job (queued, or running with an expired lease) on at most
    /// `max_concurrency` threads, until none is left. Retries happen within the same call.
    pub fn run_pending(&self, engine: &Engine, max_concurrency: usize) -> Result<RunReport> {
        let report = Mutex::new(RunReport::default());
        let first_error: Mutex<Option<Error>> = Mutex::new(None);
        loop {
            let ids: Vec<JobId> = self
                .list()?
                .into_iter()
                .filter(|id| self.claimable(id).unwrap_or(false))
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

    fn claimable(&self, id: &JobId) -> Result<bool> {
        let (rec, _) = self.load(id)?;
        Ok(match rec.status {
            JobStatus::Queued => true,
            JobStatus::Running { .. } => rec.lease_until_ms <= self.now_ms(),
            _ => false,
        })
    }
}

fn engine_recognizer(engine: &Engine) -> std::sync::Arc<dyn crate::Recognizer> {
    engine.recognizer()
}
