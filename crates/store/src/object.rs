//! An adapter to the [`object_store`] crate: S3, GCS, Azure Blob and every
//! S3-compatible server, unchanged.

use crate::stream::next;
use crate::{
    ByteRange, ByteStream, Capabilities, Error, GetOptions, GetResult, GetStream, Key, ListOptions,
    ListPage, ObjectMeta, PutMode, PutOptions, PutResult, Result, Store, Version,
};
use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::future::Future;
use std::sync::Arc;
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
/// enforces (for S3, configure conditional put on the builder). Listing relies
/// on the backend returning keys in byte order, as S3, GCS, Azure and
/// `InMemory` do; `object_store`'s `LocalFileSystem` does not (use
/// [`crate::DirStore`] for local disks).
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
    handle: Handle,
    _runtime: Option<OwnedRuntime>,
    capabilities: Capabilities,
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
            handle: rt.handle().clone(),
            _runtime: Some(OwnedRuntime(Some(rt))),
            capabilities: Capabilities::FULL,
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
            handle,
            _runtime: None,
            capabilities: Capabilities::FULL,
        }
    }

    /// Declares what the backend enforces (default: everything).
    #[must_use]
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = capabilities;
        self
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
        self.handle
            .spawn(f(self.inner.clone()))
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
                self.get(key, options).await?;
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
        // runtime, or panicked) ends in an error, never a silent truncation.
        let mut left = range.end - range.start;
        let k = key.clone();
        let body = crate::stream::PollStream(move |cx: &mut std::task::Context<'_>| {
            match rx.poll_recv(cx) {
                std::task::Poll::Ready(Some(Ok(chunk))) => {
                    left = left.saturating_sub(chunk.len() as u64);
                    std::task::Poll::Ready(Some(Ok(chunk)))
                }
                std::task::Poll::Ready(None) if left > 0 => {
                    left = 0;
                    std::task::Poll::Ready(Some(Err(Error::backend(
                        BACKEND,
                        std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            format!("the body of {k} ended early"),
                        ),
                    ))))
                }
                std::task::Poll::Ready(Some(Err(e))) => {
                    left = 0;
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
    /// `object_store`'s multipart upload takes no condition, so the body is
    /// gathered (up to 64 MiB; more is [`Error::Unsupported`]) and sent as
    /// one conditional PUT.
    async fn put_stream(
        &self,
        key: &Key,
        mut body: ByteStream<'_>,
        options: PutOptions,
    ) -> Result<PutResult> {
        if options.mode != PutMode::Overwrite {
            self.put_mode(options.mode.clone())?;
            let mut buf = Vec::new();
            while let Some(chunk) = next(&mut body).await {
                let chunk = chunk?;
                if (buf.len() + chunk.len()) as u64 > CONDITIONAL_STREAM_MAX {
                    return Err(Error::Unsupported {
                        backend: BACKEND,
                        operation: "a create-only or compare-and-swap streamed put over 64 MiB \
                                    (object_store's multipart upload takes no condition)",
                    });
                }
                buf.extend_from_slice(&chunk);
            }
            return self.put(key, Bytes::from(buf), options).await;
        }
        let p = path(key)?;
        let k = key.clone();
        let mut upload =
            self.run(move |inner| async move {
                inner.put_multipart(&p).await.map_err(|e| map_err(&k, e))
            })
            .await?;
        let mut in_flight = std::collections::VecDeque::new();
        let mut part = Vec::with_capacity(PART_SIZE);
        let sent: Result<()> = async {
            loop {
                let chunk = next(&mut body).await.transpose()?;
                let done = chunk.is_none();
                let mut rest = chunk.unwrap_or_default();
                while !rest.is_empty() {
                    let take = rest.len().min(PART_SIZE - part.len());
                    part.extend_from_slice(&rest.split_to(take));
                    if part.len() == PART_SIZE {
                        let full = std::mem::replace(&mut part, Vec::with_capacity(PART_SIZE));
                        if in_flight.len() >= PARTS_IN_FLIGHT {
                            self.wait_part(key, in_flight.pop_front()).await?;
                        }
                        in_flight.push_back(self.handle.spawn(upload.put_part(full.into())));
                    }
                }
                if done {
                    break;
                }
            }
            // The last part may be short; an empty object is one empty part.
            if !part.is_empty() || in_flight.is_empty() {
                let last = std::mem::take(&mut part);
                in_flight.push_back(self.handle.spawn(upload.put_part(last.into())));
            }
            while let Some(h) = in_flight.pop_front() {
                self.wait_part(key, Some(h)).await?;
            }
            Ok(())
        }
        .await;
        let k = key.clone();
        match sent {
            Ok(()) => {
                let r = self
                    .handle
                    .spawn(async move { upload.complete().await.map_err(|e| map_err(&k, e)) })
                    .await
                    .map_err(|e| Error::backend(BACKEND, e))??;
                Ok(PutResult {
                    version: version(r.e_tag, r.version),
                })
            }
            Err(e) => {
                for h in in_flight {
                    h.abort();
                }
                // Best effort: the error that stopped the upload is the news.
                let _ = self.handle.spawn(async move { upload.abort().await }).await;
                Err(e)
            }
        }
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
