//! [`Offload`]: a blocking backend's work moved off the caller's thread.
//!
//! [`crate::DirStore`] and [`crate::RedbStore`] do their I/O inside their
//! futures: the first poll writes, `fsync`s and renames, then returns
//! `Ready`. That is what a synchronous host wants, and what blocks an async
//! runtime's worker thread for the length of a commit. `Offload` runs each
//! call on a blocking pool instead, a Tokio runtime's
//! ([`Offload::with_tokio`], feature `tokio`) or a small pool of its own
//! ([`BlockingPool`]), and the caller's future waits for the result without
//! blocking anything, on any executor.

use crate::stream::next;
use crate::{
    ByteStream, Capabilities, ComposePart, Error, GetOptions, GetResult, Key, ListOptions,
    ListPage, MultipartId, ObjectMeta, PartId, PutOptions, PutResult, Result, Store, block_on,
};
use bytes::Bytes;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};

const BACKEND: &str = "offload";

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A small pool of threads that run blocking store calls for [`Offload`].
///
/// The threads start with the pool and stop when the last handle to it is
/// dropped and the jobs queued before are done. Cloning shares the pool.
/// A job that panics is reported to its caller as an [`Error::Backend`];
/// the thread carries on.
///
/// ```
/// use blocksmith_store::{BlockingPool, Key, MemoryStore, Offload, PutOptions, StoreExt, block_on};
/// let pool = BlockingPool::new(2).unwrap();
/// let store = Offload::with_pool(MemoryStore::new(), pool);
/// let key = Key::new("k").unwrap();
/// block_on(store.put_opts(&key, "v", PutOptions::new())).unwrap();
/// assert_eq!(&store.blocking().get(&key).unwrap().data[..], b"v");
/// ```
#[derive(Clone)]
pub struct BlockingPool {
    jobs: mpsc::Sender<Job>,
    threads: usize,
}

impl fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingPool")
            .field("threads", &self.threads)
            .finish_non_exhaustive()
    }
}

impl BlockingPool {
    /// How many threads the shared pool of [`Offload::new`] runs.
    pub const DEFAULT_THREADS: usize = 4;

    /// Starts a pool of `threads` threads (at least one).
    ///
    /// # Errors
    /// [`Error::Io`] if the system refuses to start a thread.
    pub fn new(threads: usize) -> Result<Self> {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("blocksmith-offload-{i}"))
                .spawn(move || {
                    loop {
                        // Hold the lock only to take a job, not to run it.
                        let job = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        let Ok(job) = job else { return };
                        // A panicking job drops its completer while unwinding,
                        // which tells the caller; the thread takes the next job.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })
                .map_err(|e| Error::io("start an offload thread", e))?;
        }
        Ok(BlockingPool { jobs: tx, threads })
    }

    /// The process-wide pool [`Offload::new`] uses, with
    /// [`BlockingPool::DEFAULT_THREADS`] threads, started on first use.
    ///
    /// # Errors
    /// [`Error::Io`] if the system refuses to start a thread (on first use).
    pub fn shared() -> Result<Self> {
        static SHARED: OnceLock<BlockingPool> = OnceLock::new();
        if let Some(p) = SHARED.get() {
            return Ok(p.clone());
        }
        let pool = BlockingPool::new(Self::DEFAULT_THREADS)?;
        // A racing first use may have won; its pool is the shared one and
        // this one stops as soon as it is dropped.
        Ok(SHARED.get_or_init(|| pool).clone())
    }

    /// The number of threads.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Runs `f` on the pool; the returned future resolves to its result.
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Receiver<T> {
        let slot = Arc::new(Mutex::new(Slot {
            value: None,
            waker: None,
            closed: false,
        }));
        let done = Completer(Some(slot.clone()));
        let job: Job = Box::new(move || done.complete(f()));
        // The receiving end lives as long as a thread does, and threads only
        // return when every sender is gone: a send cannot fail while `self`
        // holds one. Should it fail, the job (and its completer) is dropped,
        // which closes the slot and the caller gets an error, not a hang.
        let _ = self.jobs.send(job);
        Receiver(slot)
    }
}

/// The shared state of a one-shot result: the value, or that the worker
/// went away without one, and the waker of the task waiting for it.
struct Slot<T> {
    value: Option<T>,
    waker: Option<Waker>,
    closed: bool,
}

/// The worker's end: delivers the value, or on drop without one (a panic)
/// marks the slot closed; either way it wakes the waiting task.
struct Completer<T>(Option<Arc<Mutex<Slot<T>>>>);

impl<T> Completer<T> {
    fn complete(mut self, value: T) {
        if let Some(slot) = self.0.take() {
            let waker = {
                let mut s = slot.lock().unwrap_or_else(PoisonError::into_inner);
                s.value = Some(value);
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            let waker = {
                let mut s = slot.lock().unwrap_or_else(PoisonError::into_inner);
                s.closed = true;
                s.waker.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

/// The caller's end: a future that is ready once the worker is done.
struct Receiver<T>(Arc<Mutex<Slot<T>>>);

impl<T> Future for Receiver<T> {
    type Output = Result<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(v) = s.value.take() {
            return Poll::Ready(Ok(v));
        }
        if s.closed {
            return Poll::Ready(Err(Error::backend(
                BACKEND,
                std::io::Error::other("the offloaded store call panicked"),
            )));
        }
        match &mut s.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[derive(Clone)]
enum Pool {
    Threads(BlockingPool),
    #[cfg(feature = "tokio")]
    Tokio(tokio::runtime::Handle),
}

/// A [`Store`] that runs every call of a blocking backend on a blocking
/// pool, so an async runtime's worker threads never wait on a disk.
///
/// Wrap [`crate::DirStore`] or [`crate::RedbStore`] in it when the host is
/// async (see [`Store`] for how long each backend blocks); synchronous hosts
/// do not need it. Each call moves its arguments to a pool thread, drives the
/// inner store's future there and hands the result back through a waker, so
/// the future works on any executor. Pass a Tokio runtime's handle
/// ([`Offload::with_tokio`], feature `tokio`) to use that runtime's
/// `spawn_blocking` pool, as `object_store`'s local backend does; otherwise
/// calls go to a [`BlockingPool`] (by default one shared, four-thread pool).
///
/// A call whose future is dropped still completes on the pool (a put may
/// land), as with any request already sent. The inner store is meant to
/// complete synchronously: an inner store that waits on a runtime (the
/// `object_store` adapter) gains nothing from it.
///
/// ```
/// use blocksmith_store::{DirStore, Key, Offload, PutOptions, StoreExt, block_on};
/// let dir = tempfile::tempdir().unwrap();
/// let store = Offload::new(DirStore::open(dir.path()).unwrap()).unwrap();
/// let key = Key::new("reports/2024.csv").unwrap();
/// block_on(async {
///     store.put_opts(&key, "a,b\n1,2\n", PutOptions::create()).await?;
///     assert_eq!(&store.get_range(&key, 0..3).await?.data[..], b"a,b");
///     Ok::<_, blocksmith_store::Error>(())
/// }).unwrap();
/// ```
pub struct Offload<S> {
    inner: Arc<S>,
    pool: Pool,
}

impl<S> Clone for Offload<S> {
    fn clone(&self) -> Self {
        Offload {
            inner: self.inner.clone(),
            pool: self.pool.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for Offload<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pool = match &self.pool {
            Pool::Threads(p) => format!("{} threads", p.threads),
            #[cfg(feature = "tokio")]
            Pool::Tokio(_) => "tokio spawn_blocking".to_string(),
        };
        f.debug_struct("Offload")
            .field("inner", &self.inner)
            .field("pool", &pool)
            .finish()
    }
}

impl<S: Store + 'static> Offload<S> {
    /// Wraps `inner`, running its calls on the shared [`BlockingPool`].
    ///
    /// # Errors
    /// As [`BlockingPool::shared`]: the shared pool cannot be started.
    pub fn new(inner: S) -> Result<Self> {
        Ok(Self::with_pool(inner, BlockingPool::shared()?))
    }

    /// Wraps `inner`, running its calls on `pool`.
    pub fn with_pool(inner: S, pool: BlockingPool) -> Self {
        Offload {
            inner: Arc::new(inner),
            pool: Pool::Threads(pool),
        }
    }

    /// Wraps `inner`, running its calls on the blocking pool of the Tokio
    /// runtime behind `handle` (`spawn_blocking`). The futures can still be
    /// awaited from any executor.
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub fn with_tokio(inner: S, handle: tokio::runtime::Handle) -> Self {
        Offload {
            inner: Arc::new(inner),
            pool: Pool::Tokio(handle),
        }
    }

    /// The wrapped store, for calls that may block the caller.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Runs `f` on the inner store on the pool, driving the future it
    /// returns to completion there.
    async fn run<T, F, Fut>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Arc<S>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T>>,
    {
        let inner = self.inner.clone();
        let job = move || block_on(f(inner));
        match &self.pool {
            Pool::Threads(p) => p.run(job).await?,
            #[cfg(feature = "tokio")]
            Pool::Tokio(h) => h
                .spawn_blocking(job)
                .await
                .map_err(|e| Error::backend(BACKEND, e))?,
        }
    }
}

impl<S: Store + 'static> Store for Offload<S> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn get(&self, key: &Key, options: GetOptions) -> Result<GetResult> {
        let key = key.clone();
        self.run(move |s| async move { s.get(&key, options).await })
            .await
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let key = key.clone();
        self.run(move |s| async move { s.head(&key).await }).await
    }

    async fn put(&self, key: &Key, value: Bytes, options: PutOptions) -> Result<PutResult> {
        let key = key.clone();
        self.run(move |s| async move { s.put(&key, value, options).await })
            .await
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        let key = key.clone();
        self.run(move |s| async move { s.delete(&key).await }).await
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        self.run(move |s| async move { s.list(options).await })
            .await
    }

    async fn compose(
        &self,
        target: &Key,
        parts: &[ComposePart],
        options: PutOptions,
    ) -> Result<PutResult> {
        let target = target.clone();
        let parts = parts.to_vec();
        self.run(move |s| async move { s.compose(&target, &parts, options).await })
            .await
    }

    async fn create_multipart(&self, key: &Key) -> Result<MultipartId> {
        let key = key.clone();
        self.run(move |s| async move { s.create_multipart(&key).await })
            .await
    }

    async fn put_part(
        &self,
        key: &Key,
        upload: &MultipartId,
        number: u32,
        data: Bytes,
    ) -> Result<PartId> {
        let (key, upload) = (key.clone(), upload.clone());
        self.run(move |s| async move { s.put_part(&key, &upload, number, data).await })
            .await
    }

    async fn complete_multipart(
        &self,
        key: &Key,
        upload: &MultipartId,
        parts: &[PartId],
    ) -> Result<PutResult> {
        let (key, upload, parts) = (key.clone(), upload.clone(), parts.to_vec());
        self.run(move |s| async move { s.complete_multipart(&key, &upload, &parts).await })
            .await
    }

    async fn abort_multipart(&self, key: &Key, upload: &MultipartId) -> Result<()> {
        let (key, upload) = (key.clone(), upload.clone());
        self.run(move |s| async move { s.abort_multipart(&key, &upload).await })
            .await
    }

    /// The inner store's streamed put runs on the pool, fed through a
    /// channel of one chunk that the caller's future fills from `body`:
    /// neither side blocks the caller's thread, and memory stays at a chunk
    /// or two. (Streamed gets are ranged gets, each run on the pool.)
    async fn put_stream(
        &self,
        key: &Key,
        mut body: ByteStream<'_>,
        options: PutOptions,
    ) -> Result<PutResult> {
        // `None` ends the body; a channel closed without it (the caller's
        // future dropped mid-body) fails the inner put, never a truncated
        // value.
        let (mut tx, mut rx) = futures_channel::mpsc::channel::<Option<Result<Bytes>>>(1);
        let key = key.clone();
        let job = self.run(move |s| async move {
            let mut ended = false;
            let inner_body = crate::stream::PollStream(move |cx: &mut std::task::Context<'_>| {
                use futures_core::Stream;
                if ended {
                    return std::task::Poll::Ready(None);
                }
                match std::pin::Pin::new(&mut rx).poll_next(cx) {
                    std::task::Poll::Pending => std::task::Poll::Pending,
                    std::task::Poll::Ready(Some(Some(item))) => std::task::Poll::Ready(Some(item)),
                    std::task::Poll::Ready(Some(None)) => {
                        ended = true;
                        std::task::Poll::Ready(None)
                    }
                    std::task::Poll::Ready(None) => {
                        ended = true;
                        std::task::Poll::Ready(Some(Err(crate::stream::cancelled_body())))
                    }
                }
            });
            s.put_stream(&key, Box::pin(inner_body), options).await
        });
        let feed = async move {
            let mut send = async |item| {
                std::future::poll_fn(|cx| tx.poll_ready(cx)).await.is_ok()
                    && tx.start_send(item).is_ok()
            };
            while let Some(item) = next(&mut body).await {
                let failed = item.is_err();
                // A closed channel: the inner put ended early (its error is
                // the answer).
                if !send(Some(item)).await || failed {
                    return;
                }
            }
            send(None).await;
        };
        futures_util::future::join(job, feed).await.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemoryStore, StoreExt};

    #[test]
    fn a_panicking_job_is_an_error_and_the_pool_lives_on() {
        let pool = BlockingPool::new(1).unwrap();
        let r: Result<()> = block_on(pool.run(|| panic!("boom")));
        assert!(matches!(
            r,
            Err(Error::Backend {
                backend: "offload",
                ..
            })
        ));
        assert_eq!(block_on(pool.run(|| 7)).unwrap(), 7);
    }

    #[test]
    fn calls_run_on_the_pool_threads() {
        let store = Offload::with_pool(MemoryStore::new(), BlockingPool::new(2).unwrap());
        let name = block_on(
            store.run(|_| async { Ok(std::thread::current().name().map(str::to_string)) }),
        )
        .unwrap();
        assert!(name.unwrap().starts_with("blocksmith-offload-"));
        let key = Key::new("k").unwrap();
        store.blocking().put(&key, "v").unwrap();
        assert_eq!(&store.inner().blocking().get(&key).unwrap().data[..], b"v");
    }

    #[test]
    fn the_shared_pool_is_shared() {
        let a = BlockingPool::shared().unwrap();
        let b = BlockingPool::shared().unwrap();
        assert_eq!(a.threads(), b.threads());
        assert_eq!(a.threads(), BlockingPool::DEFAULT_THREADS);
    }
}
