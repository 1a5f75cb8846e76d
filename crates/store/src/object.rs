//! An adapter to the [`object_store`] crate: S3, GCS, Azure Blob and every
//! S3-compatible server, unchanged.

use crate::stream::next;
use crate::{
    ByteRange, ByteStream, Capabilities, ComposePart, Error, GetOptions, GetResult, GetStream, Key,
    ListOptions, ListPage, MultipartId, MultipartLimits, ObjectMeta, PartId, PutMode, PutOptions,
    PutResult, Result, Store, Version,
};
use bytes::Bytes;
use futures_util::StreamExt;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::runtime::{Handle, Runtime};

const BACKEND: &str = "object_store";

/// A [`Store`] over any [`ObjectStore`].
///
/// The adapter runs every request on a Tokio runtime (its own two-thread one,
/// or a handle you pass), so its futures can be awaited from any executor or
/// driven by [`crate::block_on`]: no runtime leaks into the caller.
///
/// Versions are the backend's ETags. Create-only and compare-and-swap map to
/// `object_store`'s `PutMode::Create` and `PutMode::Update`; declare with
/// [`ObjectStoreAdapter::with_capabilities`] what your backend really
/// enforces (`object_store`'s S3 client sends `If-None-Match` and, with its
/// default `S3ConditionalPut::ETagMatch`, `If-Match`; check your server with
/// the conformance suite). Listing relies
/// on the backend returning keys in byte order, as S3, GCS, Azure and
/// `InMemory` do; `object_store`'s `LocalFileSystem` does not (use
/// [`crate::DirStore`] for local disks).
///
/// Built with a [`MultipartStore`] as well ([`ObjectStoreAdapter::with_multipart`]:
/// `AmazonS3`, `GoogleCloudStorage`, `MicrosoftAzure` and `InMemory` are
/// both), it offers multipart uploads ([`Store::create_multipart`]), with
/// S3's part limits unless told otherwise.
///
/// # Large conditional streamed puts
/// `object_store`'s multipart upload takes no condition, so
/// [`Store::put_stream`] sends a create-only or compare-and-swap body of up
/// to 64 MiB as one conditional PUT. A larger create-only body goes as a
/// multipart upload to a staging key (`.blocksmith-staging/<unique>`), is
/// copied server-side to its key with `copy_if_not_exists` (the condition),
/// and the staging object is deleted: on S3 configure
/// `S3CopyIfNotExists::Multipart` on the builder (one `UploadPartCopy`, so
/// up to 5 GiB). Without a conditional copy such a put is
/// [`Error::Unsupported`], found out once per adapter; so is a larger
/// compare-and-swap body. A crash between the copy and the delete leaves
/// the staging object behind (expire `.blocksmith-staging/` with a
/// lifecycle rule).
///
/// # Incomplete multipart uploads
/// An unconditional streamed put (and a large create-only one, on its way
/// to the staging key) is a multipart upload. When the put fails, or its
/// future is dropped before the upload completes (a client disconnected, a
/// `timeout` or `select!` gave up on it), the adapter stops the parts in
/// flight and aborts the upload on its runtime, without waiting for the
/// caller. A process that dies mid-put cannot, and neither can an abort the
/// service refuses: its parts stay stored, and billed, out of sight of
/// listings. Keep a lifecycle rule on the bucket that aborts incomplete
/// multipart uploads after a day or so (S3: `AbortIncompleteMultipartUpload`
/// with `DaysAfterInitiation`; GCS: the `AbortIncompleteMultipartUpload`
/// lifecycle action). The same rule covers the uploads of
/// [`Store::create_multipart`] that their callers never complete.
///
/// ```
/// use blocksmith_store::{Key, ObjectStoreAdapter, StoreExt};
/// use std::sync::Arc;
/// let store = ObjectStoreAdapter::new(Arc::new(object_store::memory::InMemory::new())).unwrap();
/// let key = Key::new("uploads/a.bin").unwrap();
/// store.blocking().put(&key, "hello").unwrap();
/// assert_eq!(&store.blocking().get(&key).unwrap().data[..], b"hello");
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "object-store")))]
#[derive(Debug)]
pub struct ObjectStoreAdapter {
    inner: Arc<dyn ObjectStore>,
    multipart: Option<Multipart>,
    handle: Handle,
    _runtime: Option<OwnedRuntime>,
    capabilities: Capabilities,
    /// Set once a conditional copy came back unsupported.
    no_conditional_copy: AtomicBool,
}

/// The wrapped store's multipart API.
#[derive(Clone)]
struct Multipart(Arc<dyn MultipartStore>);

impl std::fmt::Debug for Multipart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MultipartStore")
    }
}

/// A runtime the adapter owns; shut down without blocking, so dropping the
/// adapter inside another runtime is fine.
#[derive(Debug)]
struct OwnedRuntime(Option<Runtime>);

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// The multipart upload of a streamed put, from its creation until its
/// completion. Dropped before that (the caller's future went away, or the
/// put failed), it stops the part uploads in flight and aborts the upload
/// on the adapter's runtime, so no parts are left stored (and billed) and
/// no part keeps sending after the caller is gone.
struct PendingUpload {
    upload: Option<Box<dyn object_store::MultipartUpload>>,
    in_flight: std::collections::VecDeque<tokio::task::JoinHandle<object_store::Result<()>>>,
    handle: Handle,
}

impl PendingUpload {
    /// Starts sending `data` as the next part, on the runtime.
    fn put_part(&mut self, data: Bytes) {
        let upload = self.upload.as_mut().expect("the upload is pending");
        let sending = upload.put_part(data.into());
        self.in_flight.push_back(self.handle.spawn(sending));
    }

    /// Stops the parts in flight and aborts the upload (spawned on the
    /// runtime: it finishes even if nobody awaits it); `None` once it was
    /// completed or aborted.
    fn abort(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        for h in self.in_flight.drain(..) {
            h.abort();
        }
        let mut upload = self.upload.take()?;
        Some(self.handle.spawn(async move {
            let _ = upload.abort().await;
        }))
    }
}

impl Drop for PendingUpload {
    fn drop(&mut self) {
        drop(self.abort());
    }
}

impl ObjectStoreAdapter {
    /// Wraps `inner`, starting a private two-thread Tokio runtime for its I/O.
    ///
    /// # Errors
    /// [`Error::Io`] if the Tokio runtime cannot be started.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("blocksmith-object-store")
            .enable_all()
            .build()
            .map_err(|e| Error::io("start tokio runtime", e))?;
        Ok(ObjectStoreAdapter {
            inner,
            multipart: None,
            handle: rt.handle().clone(),
            _runtime: Some(OwnedRuntime(Some(rt))),
            capabilities: Capabilities::FULL,
            no_conditional_copy: AtomicBool::new(false),
        })
    }

    /// Wraps `inner`, running its I/O on an existing runtime.
    ///
    /// Await the adapter's futures inside that runtime, or drive them with
    /// [`crate::block_on`] (`.blocking()`) from a thread that is not one of
    /// its workers: on a current-thread runtime, blocking its only thread
    /// on the adapter leaves nobody to run the request, and the call hangs.
    pub fn with_handle(inner: Arc<dyn ObjectStore>, handle: Handle) -> Self {
        ObjectStoreAdapter {
            inner,
            multipart: None,
            handle,
            _runtime: None,
            capabilities: Capabilities::FULL,
            no_conditional_copy: AtomicBool::new(false),
        }
    }

    /// Declares what the backend enforces (default: every condition, no
    /// multipart uploads until [`ObjectStoreAdapter::with_multipart`]).
    #[must_use]
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
    }

    /// Offers multipart uploads ([`Store::create_multipart`] and the calls
    /// after it) through `multipart`, which must be the same store as the
    /// one wrapped (`AmazonS3`, `GoogleCloudStorage`, `MicrosoftAzure` and
    /// `InMemory` implement both traits), and declares them in
    /// [`Capabilities::multipart`] with [`MultipartLimits::S3`] unless
    /// limits were declared already (call [`ObjectStoreAdapter::with_capabilities`]
    /// afterwards to change them: Azure takes blocks of any size, up to
    /// 50 000 of them).
    ///
    /// ```
    /// use blocksmith_store::{Key, MultipartLimits, ObjectStoreAdapter, Store, StoreExt};
    /// use std::sync::Arc;
    /// let memory = Arc::new(object_store::memory::InMemory::new());
    /// let store = ObjectStoreAdapter::new(memory.clone()).unwrap().with_multipart(memory);
    /// assert_eq!(store.capabilities().multipart, Some(MultipartLimits::S3));
    /// let key = Key::new("videos/big.mp4").unwrap();
    /// let s = store.blocking();
    /// let upload = s.create_multipart(&key).unwrap();
    /// // Parts in any order, from any process that has `upload`.
    /// let second = s.put_part(&key, &upload, 2, "world").unwrap();
    /// let first = s.put_part(&key, &upload, 1, vec![b'-'; 5 << 20]).unwrap();
    /// s.complete_multipart(&key, &upload, &[first, second]).unwrap();
    /// assert_eq!(s.head(&key).unwrap().size, (5 << 20) + 5);
    /// ```
    #[must_use]
    pub fn with_multipart(mut self, multipart: Arc<dyn MultipartStore>) -> Self {
        self.multipart = Some(Multipart(multipart));
        if self.capabilities.multipart.is_none() {
            self.capabilities.multipart = Some(MultipartLimits::S3);
        }
        self
    }

    /// The multipart API and its limits, if declared.
    fn multipart(&self) -> Result<(Arc<dyn MultipartStore>, MultipartLimits)> {
        match (&self.multipart, self.capabilities.multipart) {
            (Some(m), Some(limits)) => Ok((m.0.clone(), limits)),
            _ => Err(Error::Unsupported {
                backend: BACKEND,
                operation: "multipart uploads (build the adapter with_multipart)",
            }),
        }
    }

    /// `mode` as `object_store` takes it, if the backend declares it.
    fn put_mode(&self, mode: PutMode) -> Result<object_store::PutMode> {
        let caps = self.capabilities;
        Ok(match mode {
            PutMode::Overwrite => object_store::PutMode::Overwrite,
            PutMode::Create if caps.create_only => object_store::PutMode::Create,
            PutMode::Update(v) if caps.compare_and_swap => {
                let s = v.as_str();
                object_store::PutMode::Update(match s.strip_prefix("v:") {
                    Some(ver) => object_store::UpdateVersion {
                        e_tag: None,
                        version: Some(ver.to_string()),
                    },
                    None => object_store::UpdateVersion {
                        e_tag: Some(s.to_string()),
                        version: None,
                    },
                })
            }
            PutMode::Create => {
                return Err(Error::Unsupported {
                    backend: BACKEND,
                    operation: "create-only put",
                });
            }
            PutMode::Update(_) => {
                return Err(Error::Unsupported {
                    backend: BACKEND,
                    operation: "compare-and-swap put",
                });
            }
        })
    }

    /// Waits for one part upload of a streamed put.
    async fn wait_part(
        &self,
        key: &Key,
        part: Option<tokio::task::JoinHandle<object_store::Result<()>>>,
    ) -> Result<()> {
        let Some(h) = part else { return Ok(()) };
        h.await
            .map_err(|e| Error::backend(BACKEND, e))?
            .map_err(|e| map_err(key, e))
    }

    /// Streams `first`, then `body`, into `key` as one unconditional
    /// multipart upload of [`PART_SIZE`] parts, [`PARTS_IN_FLIGHT`] at a
    /// time; aborted on any error, and when the future is dropped before
    /// the upload completes (see [`PendingUpload`]).
    async fn stream_multipart(
        &self,
        key: &Key,
        first: Bytes,
        mut body: ByteStream<'_>,
    ) -> Result<PutResult> {
        let p = path(key)?;
        let k = key.clone();
        let upload =
            self.run(move |inner| async move {
                inner.put_multipart(&p).await.map_err(|e| map_err(&k, e))
            })
            .await?;
        let mut pending = PendingUpload {
            upload: Some(upload),
            in_flight: std::collections::VecDeque::new(),
            handle: self.handle.clone(),
        };
        let mut part = Vec::new();
        let mut parts_sent = 0usize;
        let sent: Result<()> = async {
            let mut rest = first;
            loop {
                while !rest.is_empty() {
                    let full = if part.is_empty() && rest.len() >= PART_SIZE {
                        // A whole part already in one buffer: no copy.
                        rest.split_to(PART_SIZE)
                    } else {
                        if part.capacity() == 0 {
                            part.reserve_exact(PART_SIZE);
                        }
                        let take = rest.len().min(PART_SIZE - part.len());
                        part.extend_from_slice(&rest.split_to(take));
                        if part.len() < PART_SIZE {
                            continue;
                        }
                        Bytes::from(std::mem::take(&mut part))
                    };
                    if pending.in_flight.len() >= PARTS_IN_FLIGHT {
                        let h = pending.in_flight.pop_front();
                        self.wait_part(key, h).await?;
                    }
                    pending.put_part(full);
                    parts_sent += 1;
                }
                match next(&mut body).await.transpose()? {
                    Some(chunk) => rest = chunk,
                    None => break,
                }
            }
            // The last part may be short; an empty object is one empty part.
            if !part.is_empty() || parts_sent == 0 {
                pending.put_part(Bytes::from(std::mem::take(&mut part)));
            }
            while let Some(h) = pending.in_flight.pop_front() {
                self.wait_part(key, Some(h)).await?;
            }
            Ok(())
        }
        .await;
        let k = key.clone();
        match sent {
            Ok(()) => {
                // Disarmed: from here the completion runs on the runtime
                // whether or not this future is still awaited.
                let mut upload = pending.upload.take().expect("the upload is pending");
                let r = self
                    .on_runtime(async move { upload.complete().await.map_err(|e| map_err(&k, e)) })
                    .await?;
                Ok(PutResult {
                    version: version(r.e_tag, r.version),
                })
            }
            Err(e) => {
                // Best effort, awaited: the error that stopped the upload is
                // the news.
                if let Some(aborted) = pending.abort() {
                    let _ = aborted.await;
                }
                Err(e)
            }
        }
    }

    /// A create-only streamed put over [`CONDITIONAL_STREAM_MAX`]: `first`
    /// and the rest of `body` go to a staging key as a multipart upload,
    /// then a conditional server-side copy publishes them at `key`, and the
    /// staging object is deleted.
    async fn create_by_copy(
        &self,
        key: &Key,
        first: Bytes,
        body: ByteStream<'_>,
    ) -> Result<PutResult> {
        let unsupported = || Error::Unsupported {
            backend: BACKEND,
            operation: "a create-only streamed put over 64 MiB without a conditional copy \
                        (on S3, configure S3CopyIfNotExists::Multipart)",
        };
        if self.no_conditional_copy.load(Ordering::Relaxed) {
            return Err(unsupported());
        }
        // Taken already: say so before sending the body.
        match self.head(key).await {
            Ok(_) => {
                return Err(Error::AlreadyExists {
                    key: key.to_string(),
                });
            }
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
        let staging = staging_key()?;
        self.stream_multipart(&staging, first, body).await?;
        let copied = self.copy_if_absent(&staging, key).await;
        // The staging object goes whatever happened; once the copy is done,
        // a failed delete leaves garbage, not a failed put.
        let deleted = self.delete(&staging).await;
        drop(deleted);
        match copied {
            Err(Error::Unsupported { .. }) => Err(unsupported()),
            other => other,
        }
    }

    /// Copies `from` to `to` server-side unless `to` exists
    /// (`copy_if_not_exists`): [`Error::AlreadyExists`] if it does,
    /// [`Error::Unsupported`] (remembered) if the backend has no such copy.
    async fn copy_if_absent(&self, from: &Key, to: &Key) -> Result<PutResult> {
        let (src, dst) = (path(from)?, path(to)?);
        let k = to.clone();
        let copied = self
            .run(move |inner| async move {
                inner
                    .copy_if_not_exists(&src, &dst)
                    .await
                    .map_err(|e| map_err(&k, e))
            })
            .await;
        if let Err(Error::Unsupported { .. }) = copied {
            self.no_conditional_copy.store(true, Ordering::Relaxed);
        }
        copied?;
        // The copy answers no version: read it (the object was created just
        // now; only an overwriting writer could have replaced it since).
        Ok(PutResult {
            version: self.head(to).await?.version,
        })
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    async fn run<T, F, Fut>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(Arc<dyn ObjectStore>) -> Fut,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        self.on_runtime(f(self.inner.clone())).await
    }

    /// Runs `fut` on the adapter's runtime and awaits it from any executor.
    async fn on_runtime<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        self.handle
            .spawn(fut)
            .await
            .map_err(|e| Error::backend(BACKEND, e))?
    }
}

fn path(key: &Key) -> Result<Path> {
    Path::parse(key.as_str()).map_err(|_| Error::InvalidKey {
        key: key.as_str().chars().take(64).collect(),
        reason: "not a valid object_store path",
    })
}

fn version(meta_etag: Option<String>, meta_version: Option<String>) -> Version {
    match (meta_etag, meta_version) {
        (Some(e), _) => Version::new(e),
        (None, Some(v)) => Version::new(format!("v:{v}")),
        (None, None) => Version::new(""),
    }
}

fn map_err(key: &Key, e: object_store::Error) -> Error {
    let key = key.to_string();
    match e {
        object_store::Error::NotFound { .. } => Error::NotFound { key },
        object_store::Error::AlreadyExists { .. } => Error::AlreadyExists { key },
        object_store::Error::Precondition { .. } | object_store::Error::NotModified { .. } => {
            Error::PreconditionFailed { key }
        }
        object_store::Error::NotSupported { .. } | object_store::Error::NotImplemented { .. } => {
            Error::Unsupported {
                backend: BACKEND,
                operation: "this operation",
            }
        }
        other => Error::backend(BACKEND, other),
    }
}

/// [`map_err`] for the multipart calls, where a missing upload is
/// [`Error::NotFound`]: S3 answers `404 NoSuchUpload`, which `object_store`
/// maps to `NotFound`; its `InMemory` store answers a generic
/// "MultipartUpload not found", recognised here by its message. A
/// completion naming a part the service does not hold under that id (S3's
/// `400 InvalidPart`: the part was sent again with other bytes since) is
/// [`Error::InvalidMultipart`]: nothing was completed, and the caller can
/// send the part again.
fn map_multipart_err(key: &Key, e: object_store::Error) -> Error {
    match e {
        object_store::Error::Generic {
            store: "InMemory",
            ref source,
        } if source.to_string().starts_with("MultipartUpload not found") => Error::NotFound {
            key: key.to_string(),
        },
        object_store::Error::Generic { ref source, .. }
            if source.to_string().contains("<Code>InvalidPart</Code>") =>
        {
            Error::InvalidMultipart {
                key: key.to_string(),
                reason: "the service holds another part under a listed part's number \
                         (InvalidPart): send that part again"
                    .into(),
            }
        }
        e => map_err(key, e),
    }
}

/// `range` as `object_store` takes it; what no object could serve fails
/// before a round trip.
fn to_get_range(key: &Key, range: Option<&ByteRange>) -> Result<Option<object_store::GetRange>> {
    let Some(r) = range else { return Ok(None) };
    let trivially_bad = match r {
        ByteRange::Bounded(b) => b.start >= b.end,
        ByteRange::Suffix(n) => *n == 0,
        ByteRange::From(_) => false,
    };
    if trivially_bad {
        return Err(Error::InvalidRange {
            key: key.to_string(),
            range: r.to_string(),
            size: 0,
        });
    }
    Ok(Some(match r.clone() {
        ByteRange::Bounded(b) => object_store::GetRange::Bounded(b),
        ByteRange::From(s) => object_store::GetRange::Offset(s),
        ByteRange::Suffix(n) => object_store::GetRange::Suffix(n),
    }))
}

/// How many bytes each part of a streamed put carries (S3 takes parts of
/// 5 MiB to 5 GiB, the last one shorter).
const PART_SIZE: usize = 8 << 20;
/// How many parts of a streamed put are in flight at once.
const PARTS_IN_FLIGHT: usize = 2;
/// The largest conditional streamed put: `object_store`'s multipart upload
/// takes no condition, so a create-only or compare-and-swap streamed put is
/// gathered and sent as one conditional PUT.
pub(crate) const CONDITIONAL_STREAM_MAX: u64 = 64 << 20;

/// A key no one else writes, for the staging object of a create-only
/// streamed put: time, process and a counter.
fn staging_key() -> Result<Key> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Key::new(format!(
        ".blocksmith-staging/{nanos:x}-{:x}-{n:x}",
        std::process::id()
    ))
}

fn convert_meta(m: object_store::ObjectMeta) -> Result<ObjectMeta> {
    Ok(ObjectMeta {
        key: Key::new(m.location.to_string())?,
        size: m.size,
        version: version(m.e_tag, m.version),
    })
}

impl Store for ObjectStoreAdapter {
    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    async fn get(&self, key: &Key, options: GetOptions) -> Result<GetResult> {
        let p = path(key)?;
        let range = options.range.clone();
        let get_range = to_get_range(key, range.as_ref())?;
        let k = key.clone();
        let res = self
            .run(move |inner| async move {
                let opts = object_store::GetOptions {
                    range: get_range,
                    ..Default::default()
                };
                let r = inner.get_opts(&p, opts).await.map_err(|e| map_err(&k, e))?;
                let meta = r.meta.clone();
                let range = r.range.clone();
                let data = r.bytes().await.map_err(|e| map_err(&k, e))?;
                Ok((meta, range, data))
            })
            .await;
        match res {
            Ok((meta, range, data)) => Ok(GetResult {
                meta: ObjectMeta {
                    key: key.clone(),
                    size: meta.size,
                    version: version(meta.e_tag, meta.version),
                },
                range,
                data,
            }),
            // A range the object cannot serve: report it the same way as every
            // other backend (servers disagree on the status code).
            Err(e) if range.is_some() && !e.is_not_found() => {
                let meta = self.head(key).await?;
                match range.as_ref().map(|r| r.resolve(key, meta.size)) {
                    Some(Err(range_err)) => Err(range_err),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let p = path(key)?;
        let k = key.clone();
        let m = self
            .run(move |inner| async move { inner.head(&p).await.map_err(|e| map_err(&k, e)) })
            .await?;
        Ok(ObjectMeta {
            key: key.clone(),
            size: m.size,
            version: version(m.e_tag, m.version),
        })
    }

    async fn put(&self, key: &Key, value: Bytes, options: PutOptions) -> Result<PutResult> {
        let mode = self.put_mode(options.mode)?;
        let is_update = matches!(mode, object_store::PutMode::Update(_));
        let p = path(key)?;
        let k = key.clone();
        let r = self
            .run(move |inner| async move {
                let opts = object_store::PutOptions {
                    mode,
                    ..Default::default()
                };
                inner
                    .put_opts(&p, value.into(), opts)
                    .await
                    .map_err(|e| match map_err(&k, e) {
                        // Updating a missing key is a failed condition, as everywhere else.
                        Error::NotFound { key } if is_update => Error::PreconditionFailed { key },
                        e => e,
                    })
            })
            .await?;
        Ok(PutResult {
            version: version(r.e_tag, r.version),
        })
    }

    /// One streaming GET, read on the adapter's runtime and handed over
    /// through a channel of two chunks: the caller's executor needs no
    /// Tokio, and memory stays at a few chunks.
    async fn get_stream(&self, key: &Key, options: GetOptions) -> Result<GetStream<'_>> {
        let p = path(key)?;
        let get_range = to_get_range(key, options.range.as_ref())?;
        let k = key.clone();
        let opened = self
            .run(move |inner| async move {
                let opts = object_store::GetOptions {
                    range: get_range,
                    ..Default::default()
                };
                inner.get_opts(&p, opts).await.map_err(|e| map_err(&k, e))
            })
            .await;
        let r = match opened {
            Ok(r) => r,
            // Ranges the object cannot serve: the whole-value path says why.
            Err(e) if options.range.is_some() && !e.is_not_found() => {
                // Resolve the range against the size (a head, no bytes): an
                // invalid range says so, anything else is the error itself.
                let meta = self.head(key).await?;
                if let Some(Err(range_err)) =
                    options.range.as_ref().map(|r| r.resolve(key, meta.size))
                {
                    return Err(range_err);
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        let meta = ObjectMeta {
            key: key.clone(),
            size: r.meta.size,
            version: version(r.meta.e_tag.clone(), r.meta.version.clone()),
        };
        let range = r.range.clone();
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Bytes>>(2);
        let k = key.clone();
        self.handle.spawn(async move {
            let mut body = r.into_stream();
            while let Some(item) = body.next().await {
                let failed = item.is_err();
                if tx.send(item.map_err(|e| map_err(&k, e))).await.is_err() || failed {
                    return; // the reader is gone, or the body ended in error
                }
            }
        });
        // A body that ends short (the reading task was cancelled with the
        // runtime, or panicked) ends in an error, never a silent truncation;
        // one longer than its range (a server whose body disagrees with its
        // Content-Range) ends in an error too, before the extra bytes reach
        // the consumer.
        let mut left = range.end - range.start;
        let k = key.clone();
        let mut ended = false;
        let body = crate::stream::PollStream(move |cx: &mut std::task::Context<'_>| {
            if ended {
                return std::task::Poll::Ready(None);
            }
            match rx.poll_recv(cx) {
                std::task::Poll::Ready(Some(Ok(chunk))) if chunk.len() as u64 > left => {
                    let extra = chunk.len() as u64 - left;
                    ended = true;
                    rx.close();
                    std::task::Poll::Ready(Some(Err(Error::Corrupt {
                        key: k.to_string(),
                        reason: format!(
                            "the server sent {extra} bytes more than the range it answered"
                        ),
                    })))
                }
                std::task::Poll::Ready(Some(Ok(chunk))) => {
                    left -= chunk.len() as u64;
                    std::task::Poll::Ready(Some(Ok(chunk)))
                }
                std::task::Poll::Ready(None) if left > 0 => {
                    ended = true;
                    std::task::Poll::Ready(Some(Err(Error::backend(
                        BACKEND,
                        std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            format!("the body of {k} ended early"),
                        ),
                    ))))
                }
                std::task::Poll::Ready(Some(Err(e))) => {
                    ended = true;
                    rx.close();
                    std::task::Poll::Ready(Some(Err(e)))
                }
                other => other,
            }
        });
        Ok(GetStream {
            meta,
            range,
            body: Box::pin(body),
        })
    }

    /// Unconditional: a multipart upload of 8 MiB parts, two in flight, so
    /// memory stays at a few parts whatever the size; an error (of the body
    /// or of a part) aborts the upload. Create-only and compare-and-swap:
    /// `object_store`'s multipart upload takes no condition, so a body of up
    /// to 64 MiB is gathered and sent as one conditional PUT; a larger
    /// create-only body goes through a staging key and a conditional copy
    /// (see [`ObjectStoreAdapter`]), a larger compare-and-swap body is
    /// [`Error::Unsupported`].
    async fn put_stream(
        &self,
        key: &Key,
        mut body: ByteStream<'_>,
        options: PutOptions,
    ) -> Result<PutResult> {
        if options.mode == PutMode::Overwrite {
            return self.stream_multipart(key, Bytes::new(), body).await;
        }
        self.put_mode(options.mode.clone())?;
        let mut buf = Vec::new();
        while let Some(chunk) = next(&mut body).await {
            let chunk = chunk?;
            if (buf.len() + chunk.len()) as u64 > CONDITIONAL_STREAM_MAX {
                if options.mode != PutMode::Create {
                    return Err(Error::Unsupported {
                        backend: BACKEND,
                        operation: "a compare-and-swap streamed put over 64 MiB \
                                    (object_store's multipart upload takes no condition)",
                    });
                }
                buf.extend_from_slice(&chunk);
                return self.create_by_copy(key, Bytes::from(buf), body).await;
            }
            buf.extend_from_slice(&chunk);
        }
        self.put(key, Bytes::from(buf), options).await
    }

    /// One whole object composed create-only is a conditional server-side
    /// copy (`copy_if_not_exists`) where the backend has one: no byte
    /// passes through the client (on S3 with
    /// `S3CopyIfNotExists::Multipart`, one `UploadPartCopy`, so up to
    /// 5 GiB). Everything else, and an empty source, is the portable
    /// [`crate::compose_by_copy`].
    async fn compose(
        &self,
        target: &Key,
        parts: &[ComposePart],
        options: PutOptions,
    ) -> Result<PutResult> {
        if let [
            ComposePart {
                key: from,
                range: None,
            },
        ] = parts
            && options.mode == PutMode::Create
            && self.capabilities.create_only
            && !self.no_conditional_copy.load(Ordering::Relaxed)
            && self.head(from).await?.size > 0
        {
            match self.copy_if_absent(from, target).await {
                Err(Error::Unsupported { .. }) => {}
                // A source gone between the head and the copy.
                Err(Error::NotFound { .. }) => {
                    return Err(Error::NotFound {
                        key: from.to_string(),
                    });
                }
                other => return other,
            }
        }
        crate::compose_by_copy(self, target, parts, options).await
    }

    async fn create_multipart(&self, key: &Key) -> Result<MultipartId> {
        let (mp, _) = self.multipart()?;
        let p = path(key)?;
        let k = key.clone();
        self.on_runtime(async move {
            mp.create_multipart(&p)
                .await
                .map(MultipartId::new)
                .map_err(|e| map_multipart_err(&k, e))
        })
        .await
    }

    async fn put_part(
        &self,
        key: &Key,
        upload: &MultipartId,
        number: u32,
        data: Bytes,
    ) -> Result<PartId> {
        let (mp, limits) = self.multipart()?;
        crate::multipart::check_number(key, number, &limits)?;
        if data.len() as u64 > limits.max_part_size {
            return Err(Error::InvalidMultipart {
                key: key.to_string(),
                reason: format!(
                    "part {number} has {} bytes, over the {} a part may have",
                    data.len(),
                    limits.max_part_size
                ),
            });
        }
        let p = path(key)?;
        let (k, id) = (key.clone(), upload.as_str().to_string());
        let index = (number - 1) as usize;
        self.on_runtime(async move {
            mp.put_part(&p, &id, index, data.into())
                .await
                .map(|part| PartId::new(number, part.content_id))
                .map_err(|e| map_multipart_err(&k, e))
        })
        .await
    }

    async fn complete_multipart(
        &self,
        key: &Key,
        upload: &MultipartId,
        parts: &[PartId],
    ) -> Result<PutResult> {
        let (mp, _) = self.multipart()?;
        crate::multipart::check_parts(key, parts)?;
        let ids = parts
            .iter()
            .map(|p| object_store::multipart::PartId {
                content_id: p.content_id().to_string(),
            })
            .collect();
        let p = path(key)?;
        let (k, id) = (key.clone(), upload.as_str().to_string());
        let r = self
            .on_runtime(async move {
                mp.complete_multipart(&p, &id, ids)
                    .await
                    .map_err(|e| map_multipart_err(&k, e))
            })
            .await?;
        Ok(PutResult {
            version: version(r.e_tag, r.version),
        })
    }

    async fn abort_multipart(&self, key: &Key, upload: &MultipartId) -> Result<()> {
        let (mp, _) = self.multipart()?;
        let p = path(key)?;
        let (k, id) = (key.clone(), upload.as_str().to_string());
        self.on_runtime(async move {
            match mp.abort_multipart(&p, &id).await {
                Ok(()) => Ok(()),
                Err(e) => match map_multipart_err(&k, e) {
                    // Gone already (aborted or completed): nothing to drop.
                    Error::NotFound { .. } => Ok(()),
                    e => Err(e),
                },
            }
        })
        .await
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        let p = path(key)?;
        let k = key.clone();
        self.run(move |inner| async move {
            match inner.delete(&p).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(map_err(&k, e)),
            }
        })
        .await
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        options.validate()?;
        // object_store lists by whole segments: list the directory part of the
        // prefix and filter by the rest.
        let dir = match options.prefix.rfind('/') {
            Some(i) => Some(
                Path::parse(&options.prefix[..i]).map_err(|_| Error::InvalidKey {
                    key: options.prefix.chars().take(64).collect(),
                    reason: "not a valid object_store prefix",
                })?,
            ),
            None => None,
        };
        let offset = match &options.start_after {
            Some(k) if k.as_str() >= options.prefix.as_str() => Some(path(k)?),
            _ => None,
        };
        let limit = options.limit;
        let opts = options.clone();
        let metas = self
            .run(move |inner| async move {
                let mut stream = match &offset {
                    Some(off) => inner.list_with_offset(dir.as_ref(), off),
                    None => inner.list(dir.as_ref()),
                };
                let mut out = Vec::new();
                while let Some(item) = stream.next().await {
                    let m = item.map_err(|e| Error::backend(BACKEND, e))?;
                    if opts.matches(m.location.as_ref()) {
                        out.push(m);
                        if out.len() > limit {
                            break;
                        }
                    }
                }
                Ok(out)
            })
            .await?;
        let mut objects = metas
            .into_iter()
            .map(convert_meta)
            .collect::<Result<Vec<_>>>()?;
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(ListPage::from_sorted(objects, limit))
    }
}
