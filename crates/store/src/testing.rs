//! Fault injection for crash tests (feature `testing`).
//!
//! [`FaultyStore`] wraps any [`Store`] and counts the operations made
//! through it (`get`, `head`, `put`, `delete`, `list`, `compose`, and each
//! multipart call; not `capabilities`). At the operation its [`FaultPlan`] names it injects a
//! [`Fault`], and from then on the process is taken as dead: every later
//! call fails without reaching the inner store. The inner store then holds
//! exactly what a real crash at that point would have left, and a test
//! "restarts" by opening a new engine over it.
//!
//! [`crash_at_every_operation`] (and [`CrashTest`] to choose the faults)
//! runs a workload once per operation and fault kind, crashing at operation
//! 1, 2, 3, ... until a run completes without reaching the fault, and hands
//! each crashed store to a check. An engine's whole crash test is a few
//! lines:
//!
//! ```
//! use blocksmith_store::testing::{CrashPoint, crash_at_every_operation};
//! use blocksmith_store::{Key, MemoryStore, StoreExt};
//!
//! let report = crash_at_every_operation(
//!     MemoryStore::new,
//!     // The workload: five writes, each acknowledged (Ok) or not.
//!     |store| {
//!         let mut acked = Vec::new();
//!         for i in 0..5 {
//!             let key = Key::new(format!("log/{i}")).unwrap();
//!             if store.blocking().put(&key, format!("entry {i}")).is_err() {
//!                 break; // crashed: a real process would be gone
//!             }
//!             acked.push(key);
//!         }
//!         acked
//!     },
//!     // After the crash, from the store alone: every acknowledged write
//!     // is there, whole.
//!     |inner: MemoryStore, acked: Vec<Key>, point: &CrashPoint| {
//!         for (i, key) in acked.iter().enumerate() {
//!             let got = inner.blocking().get(key).unwrap();
//!             assert_eq!(got.data, format!("entry {i}"), "{point}");
//!         }
//!     },
//! );
//! // Five puts, three fault kinds: crashes at 1..=5 and one clean run each.
//! assert_eq!(report.operations, 5);
//! assert_eq!(report.runs, 18);
//! ```

use crate::{ByteStream, GetStream, MultipartId, PartId};
use crate::{
    Capabilities, ComposePart, Error, GetOptions, GetResult, Key, ListOptions, ListPage,
    ObjectMeta, PutOptions, PutResult, Result, Store,
};
use bytes::Bytes;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The backend name of the errors a [`FaultyStore`] returns.
pub const BACKEND: &str = "faulty";

/// What happens at the faulted operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The operation fails without reaching the inner store: the process
    /// died before sending it.
    FailBefore,
    /// A write (`put`, `delete`, `compose`, and every multipart call) is
    /// applied to the inner store, then the caller gets an error: the
    /// acknowledgement was lost. A read or a listing fails as with
    /// [`Fault::FailBefore`].
    FailAfter,
    /// A `put` stores the first half of its bytes (`value.len() / 2`, under
    /// the put's own mode), then fails: what a store without atomic puts,
    /// or a client cut off while streaming a value, leaves behind; a
    /// multipart `put_part` likewise stores the first half as that part.
    /// Only writes to keys under [`FaultPlan::with_tear_prefix`] (every key
    /// by default) are torn; any other operation fails as with
    /// [`Fault::FailBefore`].
    /// The [`Store`] contract promises atomic puts, so this is a stronger
    /// fault than any conforming backend shows.
    Tear,
}

impl Fault {
    /// Every fault kind, in declaration order.
    pub const ALL: [Fault; 3] = [Fault::FailBefore, Fault::FailAfter, Fault::Tear];
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Fault::FailBefore => "fail-before",
            Fault::FailAfter => "fail-after",
            Fault::Tear => "tear",
        })
    }
}

/// When and how a [`FaultyStore`] fails: "at operation `at` (counted from
/// 1), inject `fault`".
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultPlan {
    /// The operation that faults, counted from 1 (0: never).
    pub at: u64,
    /// What happens there.
    pub fault: Fault,
    /// [`Fault::Tear`] tears only puts to keys starting with this.
    pub tear_prefix: String,
}

impl FaultPlan {
    /// Injects `fault` at operation `at` (counted from 1; 0 never fires).
    pub fn new(at: u64, fault: Fault) -> Self {
        FaultPlan {
            at,
            fault,
            tear_prefix: String::new(),
        }
    }

    /// A plan that never fires: the wrapper only counts operations.
    pub fn never() -> Self {
        Self::new(0, Fault::FailBefore)
    }

    /// Tears only puts to keys starting with `prefix` (by default every
    /// key): for instance the part uploads of an upload engine, whose
    /// clients may be cut off mid-stream, but not its records.
    #[must_use]
    pub fn with_tear_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.tear_prefix = prefix.into();
        self
    }
}

impl fmt::Display for FaultPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.at == 0 {
            return f.write_str("no fault");
        }
        write!(f, "{} at operation {}", self.fault, self.at)
    }
}

/// The kind of a store operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OpKind {
    /// [`Store::get`].
    Get,
    /// [`Store::head`].
    Head,
    /// [`Store::put`].
    Put,
    /// [`Store::delete`].
    Delete,
    /// [`Store::list`].
    List,
    /// [`Store::compose`].
    Compose,
    /// [`Store::create_multipart`].
    CreateMultipart,
    /// [`Store::put_part`].
    PutPart,
    /// [`Store::complete_multipart`].
    CompleteMultipart,
    /// [`Store::abort_multipart`].
    AbortMultipart,
}

/// The operation a fault hit: its kind and the key it named (for a
/// listing, the prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultedOp {
    /// What the call was.
    pub kind: OpKind,
    /// Its key (target of a compose, prefix of a listing).
    pub key: String,
}

impl fmt::Display for FaultedOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            OpKind::Get => "get",
            OpKind::Head => "head",
            OpKind::Put => "put",
            OpKind::Delete => "delete",
            OpKind::List => "list",
            OpKind::Compose => "compose",
            OpKind::CreateMultipart => "create_multipart",
            OpKind::PutPart => "put_part",
            OpKind::CompleteMultipart => "complete_multipart",
            OpKind::AbortMultipart => "abort_multipart",
        };
        write!(f, "{kind} {:?}", self.key)
    }
}

/// The source of every error a [`FaultyStore`] injects, inside
/// [`Error::Backend`] (backend [`BACKEND`]); see [`is_injected`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InjectedCrash {
    /// The operation that faulted.
    pub at: u64,
    /// Whether this call is the faulted one (`false`: a call after it).
    pub first: bool,
}

impl fmt::Display for InjectedCrash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first {
            write!(f, "injected crash at operation {}", self.at)
        } else {
            write!(f, "store crashed (injected at operation {})", self.at)
        }
    }
}

impl std::error::Error for InjectedCrash {}

/// Whether `error` was injected by a [`FaultyStore`] (found anywhere in
/// its chain of sources, so an engine's error wrapping a store error
/// counts too).
pub fn is_injected(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut e = Some(error);
    while let Some(err) = e {
        if err.is::<InjectedCrash>() {
            return true;
        }
        e = err.source();
    }
    false
}

/// A [`Store`] wrapper that injects one [`Fault`] at the operation its
/// [`FaultPlan`] names, then behaves as a crashed process: every later
/// call fails with [`Error::Backend`] (backend [`BACKEND`], not
/// temporary) whose source is an [`InjectedCrash`].
///
/// Works over any store: `MemoryStore`, `DirStore`, `RedbStore`, a
/// reference or an `Arc` to one, `Arc<dyn DynStore>`. Get the inner store
/// back with [`FaultyStore::inner`] or [`FaultyStore::into_inner`] to
/// restart on what it kept.
///
/// # Errors
/// Every method returns the inner store's results as they are, except at
/// and after the fault, where it returns the injected [`Error::Backend`].
/// At the faulted call that is so even when applying the write failed in
/// the inner store (a create-only put on an existing key, say): the
/// caller never learns the outcome, as after a real crash.
///
/// ```
/// use blocksmith_store::testing::{Fault, FaultPlan, FaultyStore, is_injected};
/// use blocksmith_store::{Key, MemoryStore, StoreExt};
///
/// let faulty = FaultyStore::new(MemoryStore::new(), FaultPlan::new(2, Fault::FailAfter));
/// let (a, b) = (Key::new("a").unwrap(), Key::new("b").unwrap());
/// faulty.blocking().put(&a, "1").unwrap(); // operation 1
/// let lost = faulty.blocking().put(&b, "2").unwrap_err(); // 2: applied, not acknowledged
/// assert!(is_injected(&lost));
/// assert!(faulty.crashed());
/// assert!(faulty.blocking().get(&a).is_err()); // dead from now on
/// assert_eq!(faulty.ops(), 2);
/// let inner = faulty.into_inner();
/// assert_eq!(&inner.blocking().get(&b).unwrap().data[..], b"2");
/// ```
#[derive(Debug)]
pub struct FaultyStore<S> {
    inner: S,
    plan: FaultPlan,
    ops: AtomicU64,
    crashed: AtomicBool,
    faulted: std::sync::Mutex<Option<FaultedOp>>,
}

impl<S: Store> FaultyStore<S> {
    /// Wraps `inner`, to fault as `plan` says.
    pub fn new(inner: S, plan: FaultPlan) -> Self {
        FaultyStore {
            inner,
            plan,
            ops: AtomicU64::new(0),
            crashed: AtomicBool::new(false),
            faulted: std::sync::Mutex::new(None),
        }
    }

    /// Operations counted so far (the faulted one included; calls after
    /// the crash are not counted).
    pub fn ops(&self) -> u64 {
        self.ops.load(Ordering::SeqCst)
    }

    /// Whether the fault has fired.
    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    /// The operation the fault hit, once it has fired.
    pub fn faulted(&self) -> Option<FaultedOp> {
        self.faulted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The plan.
    pub fn plan(&self) -> &FaultPlan {
        &self.plan
    }

    /// The wrapped store, to inspect it or restart on it.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Unwraps the store.
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn crash_error(&self, first: bool) -> Error {
        Error::Backend {
            backend: BACKEND,
            temporary: false,
            source: Box::new(InjectedCrash {
                at: self.plan.at,
                first,
            }),
        }
    }

    /// Counts an operation. `Ok(Some(fault))`: it is the faulted one;
    /// `Err`: the store has crashed already.
    fn tick(&self, kind: OpKind, key: &str) -> Result<Option<Fault>> {
        if self.crashed() {
            return Err(self.crash_error(false));
        }
        let n = self.ops.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.plan.at && !self.crashed.swap(true, Ordering::SeqCst) {
            *self
                .faulted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(FaultedOp {
                kind,
                key: key.to_string(),
            });
            return Ok(Some(self.plan.fault));
        }
        if self.crashed() {
            // Another thread's call faulted meanwhile.
            return Err(self.crash_error(false));
        }
        Ok(None)
    }

    /// A read or listing: no effect to apply, every fault fails it.
    fn read_tick(&self, kind: OpKind, key: &str) -> Result<()> {
        match self.tick(kind, key)? {
            Some(_) => Err(self.crash_error(true)),
            None => Ok(()),
        }
    }
}

impl<S: Store> Store for FaultyStore<S> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn get(&self, key: &Key, options: GetOptions) -> Result<GetResult> {
        self.read_tick(OpKind::Get, key.as_str())?;
        self.inner.get(key, options).await
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        self.read_tick(OpKind::Head, key.as_str())?;
        self.inner.head(key).await
    }

    async fn put(&self, key: &Key, value: Bytes, options: PutOptions) -> Result<PutResult> {
        match self.tick(OpKind::Put, key.as_str())? {
            None => self.inner.put(key, value, options).await,
            Some(fault) => {
                match fault {
                    Fault::FailBefore => {}
                    Fault::FailAfter => {
                        let _ = self.inner.put(key, value, options).await;
                    }
                    Fault::Tear => {
                        if key.as_str().starts_with(self.plan.tear_prefix.as_str()) {
                            let half = value.slice(..value.len() / 2);
                            let _ = self.inner.put(key, half, options).await;
                        }
                    }
                }
                Err(self.crash_error(true))
            }
        }
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        match self.tick(OpKind::Delete, key.as_str())? {
            None => self.inner.delete(key).await,
            Some(fault) => {
                if fault == Fault::FailAfter {
                    let _ = self.inner.delete(key).await;
                }
                Err(self.crash_error(true))
            }
        }
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        self.read_tick(OpKind::List, &options.prefix)?;
        self.inner.list(options).await
    }

    /// The inner store's own streamed get, counted as one operation when it
    /// opens (the body's chunks are not counted).
    async fn get_stream(&self, key: &Key, options: GetOptions) -> Result<GetStream<'_>> {
        self.read_tick(OpKind::Get, key.as_str())?;
        self.inner.get_stream(key, options).await
    }

    /// The inner store's own streamed put, counted as one put. A torn
    /// streamed put stores the body's first chunk only.
    async fn put_stream(
        &self,
        key: &Key,
        mut body: ByteStream<'_>,
        options: PutOptions,
    ) -> Result<PutResult> {
        match self.tick(OpKind::Put, key.as_str())? {
            None => self.inner.put_stream(key, body, options).await,
            Some(fault) => {
                match fault {
                    Fault::FailBefore => {}
                    Fault::FailAfter => {
                        let _ = self.inner.put_stream(key, body, options).await;
                    }
                    Fault::Tear => {
                        if key.as_str().starts_with(self.plan.tear_prefix.as_str())
                            && let Some(Ok(first)) = crate::stream::next(&mut body).await
                        {
                            let _ = self.inner.put(key, first, options).await;
                        }
                    }
                }
                Err(self.crash_error(true))
            }
        }
    }

    /// Counted as one operation.
    async fn create_multipart(&self, key: &Key) -> Result<MultipartId> {
        self.multipart_write(OpKind::CreateMultipart, key, || {
            self.inner.create_multipart(key)
        })
        .await
    }

    /// Counted as one operation; torn, it stores the first half of `data`
    /// as the part.
    async fn put_part(
        &self,
        key: &Key,
        upload: &MultipartId,
        number: u32,
        data: Bytes,
    ) -> Result<PartId> {
        match self.tick(OpKind::PutPart, key.as_str())? {
            None => self.inner.put_part(key, upload, number, data).await,
            Some(fault) => {
                match fault {
                    Fault::FailBefore => {}
                    Fault::FailAfter => {
                        let _ = self.inner.put_part(key, upload, number, data).await;
                    }
                    Fault::Tear => {
                        if key.as_str().starts_with(self.plan.tear_prefix.as_str()) {
                            let half = data.slice(..data.len() / 2);
                            let _ = self.inner.put_part(key, upload, number, half).await;
                        }
                    }
                }
                Err(self.crash_error(true))
            }
        }
    }

    /// Counted as one operation.
    async fn complete_multipart(
        &self,
        key: &Key,
        upload: &MultipartId,
        parts: &[PartId],
    ) -> Result<PutResult> {
        self.multipart_write(OpKind::CompleteMultipart, key, || {
            self.inner.complete_multipart(key, upload, parts)
        })
        .await
    }

    /// Counted as one operation.
    async fn abort_multipart(&self, key: &Key, upload: &MultipartId) -> Result<()> {
        self.multipart_write(OpKind::AbortMultipart, key, || {
            self.inner.abort_multipart(key, upload)
        })
        .await
    }

    /// The inner store's own compose (zero-copy where it has one), counted
    /// as one operation.
    async fn compose(
        &self,
        target: &Key,
        parts: &[ComposePart],
        options: PutOptions,
    ) -> Result<PutResult> {
        match self.tick(OpKind::Compose, target.as_str())? {
            None => self.inner.compose(target, parts, options).await,
            Some(fault) => {
                if fault == Fault::FailAfter {
                    let _ = self.inner.compose(target, parts, options).await;
                }
                Err(self.crash_error(true))
            }
        }
    }
}

impl<S: Store> FaultyStore<S> {
    /// A multipart write: counted, then applied (`FailAfter`) or not
    /// (`FailBefore`, `Tear`) at the fault.
    async fn multipart_write<T, F, Fut>(&self, kind: OpKind, key: &Key, f: F) -> Result<T>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        match self.tick(kind, key.as_str())? {
            None => f().await,
            Some(fault) => {
                if fault == Fault::FailAfter {
                    let _ = f().await;
                }
                Err(self.crash_error(true))
            }
        }
    }
}

/// One run of a [`CrashTest`]: the plan it ran under and whether the fault
/// fired (`false` on the last run of each fault kind, which completed).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CrashPoint {
    /// The plan of this run.
    pub plan: FaultPlan,
    /// Whether the fault fired (the workload reached operation `plan.at`).
    pub fired: bool,
    /// Operations the workload made before it returned.
    pub ops: u64,
    /// The operation the fault hit (`None` when it did not fire).
    pub operation: Option<FaultedOp>,
}

impl fmt::Display for CrashPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(op) = &self.operation {
            write!(f, "crash: {} ({op})", self.plan)
        } else if self.fired {
            write!(f, "crash: {}", self.plan)
        } else {
            write!(f, "{} ops, no crash ({} not reached)", self.ops, self.plan)
        }
    }
}

/// What a [`CrashTest`] ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CrashReport {
    /// Workload runs, crashed and complete, over every fault kind.
    pub runs: usize,
    /// Runs where the fault fired.
    pub crashes: usize,
    /// The most operations a complete run made.
    pub operations: u64,
}

/// Runs a workload crashing at every operation under each chosen fault
/// kind; see [`CrashTest::run`]. [`crash_at_every_operation`] is the
/// default test (every [`Fault`], every key tearable).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CrashTest {
    /// The fault kinds to inject, each at every operation.
    pub faults: Vec<Fault>,
    /// See [`FaultPlan::with_tear_prefix`].
    pub tear_prefix: String,
    /// A run that makes more operations than this fails the test (a
    /// workload that retries forever on errors would never finish).
    pub max_operations: u64,
}

impl Default for CrashTest {
    fn default() -> Self {
        CrashTest {
            faults: Fault::ALL.to_vec(),
            tear_prefix: String::new(),
            max_operations: 100_000,
        }
    }
}

impl CrashTest {
    /// Every fault kind, every key tearable, at most 100 000 operations.
    pub fn new() -> Self {
        Self::default()
    }

    /// Injects only these fault kinds.
    #[must_use]
    pub fn with_faults(mut self, faults: impl IntoIterator<Item = Fault>) -> Self {
        self.faults = faults.into_iter().collect();
        self
    }

    /// Tears only puts to keys starting with `prefix`
    /// (see [`FaultPlan::with_tear_prefix`]).
    #[must_use]
    pub fn with_tear_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.tear_prefix = prefix.into();
        self
    }

    /// Sets the most operations a run may make.
    #[must_use]
    pub fn with_max_operations(mut self, n: u64) -> Self {
        self.max_operations = n;
        self
    }

    /// For each fault kind and for `at` = 1, 2, 3, ...: makes a fresh store
    /// with `make_inner`, runs `workload` on it wrapped in a
    /// [`FaultyStore`] crashing at operation `at`, then passes the inner
    /// store, the workload's result (typically what it saw acknowledged)
    /// and the [`CrashPoint`] to `check`, which restarts an engine on the
    /// store and asserts what must have survived. A fault kind is done
    /// after the first run that completes without reaching its fault; that
    /// run is checked too.
    ///
    /// The workload must stop (or carry on, as it likes) when a call
    /// fails; after the crash every call fails.
    ///
    /// # Panics
    /// When `check` or `workload` panics (the panic goes on, after the
    /// crash point is printed to stderr), or when a run makes more than
    /// [`CrashTest::max_operations`] operations.
    pub fn run<S, T>(
        &self,
        mut make_inner: impl FnMut() -> S,
        mut workload: impl FnMut(&FaultyStore<S>) -> T,
        mut check: impl FnMut(S, T, &CrashPoint),
    ) -> CrashReport
    where
        S: Store,
    {
        let mut report = CrashReport::default();
        for &fault in &self.faults {
            for at in 1.. {
                let plan = FaultPlan::new(at, fault).with_tear_prefix(self.tear_prefix.clone());
                let faulty = FaultyStore::new(make_inner(), plan.clone());
                let out = announce(&plan, || workload(&faulty));
                let point = CrashPoint {
                    plan,
                    fired: faulty.crashed(),
                    ops: faulty.ops(),
                    operation: faulty.faulted(),
                };
                assert!(
                    point.ops <= self.max_operations,
                    "{point}: more than {} operations",
                    self.max_operations
                );
                let inner = faulty.into_inner();
                announce(&point.plan, || check(inner, out, &point));
                report.runs += 1;
                if !point.fired {
                    report.operations = report.operations.max(point.ops);
                    break;
                }
                report.crashes += 1;
            }
        }
        report
    }
}

/// Runs `f`; if it panics, says under which plan and goes on panicking.
fn announce<T>(plan: &FaultPlan, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(t) => t,
        Err(panic) => {
            eprintln!("crash test failed under plan: {plan}");
            resume_unwind(panic)
        }
    }
}

/// [`CrashTest::run`] with every [`Fault`] kind and every key tearable.
///
/// # Panics
/// See [`CrashTest::run`].
pub fn crash_at_every_operation<S, T>(
    make_inner: impl FnMut() -> S,
    workload: impl FnMut(&FaultyStore<S>) -> T,
    check: impl FnMut(S, T, &CrashPoint),
) -> CrashReport
where
    S: Store,
{
    CrashTest::new().run(make_inner, workload, check)
}
