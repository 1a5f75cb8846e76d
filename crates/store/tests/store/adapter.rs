//! The `object_store` adapter against a wrapped `InMemory` that watches
//! what the adapter asks of it: a streamed put dropped mid-body aborts its
//! multipart upload and stops its part uploads in flight; a body longer
//! than the range the server answered is an error, never extra bytes.

use blocksmith_store::{
    ByteRange, Bytes, ComposePart, Error, GetOptions, Key, ObjectStoreAdapter, PutOptions, Store,
    StoreExt,
};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions as OsPutOptions, PutPayload, PutResult, UploadPart,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What the adapter did through a [`Spy`].
#[derive(Debug, Default)]
struct Seen {
    uploads: AtomicUsize,
    parts_started: AtomicUsize,
    /// Part uploads whose future was dropped before it finished.
    parts_dropped: AtomicUsize,
    aborts: AtomicUsize,
    completes: AtomicUsize,
    copies_if_absent: AtomicUsize,
    /// Part uploads never finish while set.
    stall_parts: AtomicBool,
    /// Bytes appended to every streamed body while set.
    pad_bodies: AtomicBool,
}

/// An `InMemory` that counts multipart calls and can stall part uploads or
/// send bodies longer than their range.
#[derive(Debug)]
struct Spy {
    inner: InMemory,
    seen: Arc<Seen>,
}

impl std::fmt::Display for Spy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Spy({})", self.inner)
    }
}

/// Counts its drop unless it was disarmed.
struct DropCount(Arc<Seen>, bool);

impl Drop for DropCount {
    fn drop(&mut self) {
        if self.1 {
            self.0.parts_dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[derive(Debug)]
struct SpyUpload {
    inner: Box<dyn MultipartUpload>,
    seen: Arc<Seen>,
}

#[async_trait::async_trait]
impl MultipartUpload for SpyUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.seen.parts_started.fetch_add(1, Ordering::SeqCst);
        let sending = self.inner.put_part(data);
        let seen = self.seen.clone();
        Box::pin(async move {
            let mut guard = DropCount(seen.clone(), true);
            if seen.stall_parts.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            let r = sending.await;
            guard.1 = false;
            r
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.seen.completes.fetch_add(1, Ordering::SeqCst);
        self.inner.complete().await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.seen.aborts.fetch_add(1, Ordering::SeqCst);
        self.inner.abort().await
    }
}

#[async_trait::async_trait]
impl ObjectStore for Spy {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: OsPutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.seen.uploads.fetch_add(1, Ordering::SeqCst);
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(SpyUpload {
            inner,
            seen: self.seen.clone(),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: object_store::GetOptions,
    ) -> object_store::Result<GetResult> {
        let r = self.inner.get_opts(location, options).await?;
        if !self.seen.pad_bodies.load(Ordering::SeqCst) {
            return Ok(r);
        }
        let (meta, range, attributes, extensions) = (
            r.meta.clone(),
            r.range.clone(),
            r.attributes.clone(),
            r.extensions.clone(),
        );
        let padded = r
            .into_stream()
            .chain(futures_util::stream::iter([Ok(Bytes::from_static(
                b"trailing bytes",
            ))]))
            .boxed();
        Ok(GetResult {
            payload: GetResultPayload::Stream(padded),
            meta,
            range,
            attributes,
            extensions,
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        if matches!(options.mode, object_store::CopyMode::Create) {
            self.seen.copies_if_absent.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.copy_opts(from, to, options).await
    }
}

fn spied() -> (ObjectStoreAdapter, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let spy = Spy {
        inner: InMemory::new(),
        seen: seen.clone(),
    };
    (ObjectStoreAdapter::new(Arc::new(spy)).unwrap(), seen)
}

/// Waits (up to a minute) for `done`: the adapter's clean-up runs on its
/// runtime, after the caller has gone.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A streamed put dropped mid-body, after a part went out: the part upload
/// in flight is stopped and the multipart upload aborted, with nobody left
/// awaiting either; nothing is published.
#[test]
fn a_dropped_streamed_put_aborts_its_multipart_upload() {
    let (store, seen) = spied();
    seen.stall_parts.store(true, Ordering::SeqCst);
    let key = Key::new("dropped/put").unwrap();
    // 9 MiB: one whole 8 MiB part goes out, then the body waits forever.
    let mut sent = false;
    let body = Box::pin(futures_util::stream::poll_fn(move |_| {
        if sent {
            std::task::Poll::Pending
        } else {
            sent = true;
            std::task::Poll::Ready(Some(Ok(Bytes::from(vec![7u8; 9 << 20]))))
        }
    }));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let r = rt.block_on(async {
        let put = store.put_stream(&key, body, PutOptions::new());
        tokio::pin!(put);
        // Polled until the part is on its way, then dropped.
        let started = || seen.parts_started.load(Ordering::SeqCst) == 1;
        tokio::select! {
            r = &mut put => Some(r),
            () = async {
                while !started() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            } => None,
        }
    });
    assert!(r.is_none(), "the put finished without the end of its body");
    eventually("the upload is aborted", || {
        seen.aborts.load(Ordering::SeqCst) == 1
    });
    eventually("the part in flight is stopped", || {
        seen.parts_dropped.load(Ordering::SeqCst) == 1
    });
    assert_eq!(seen.completes.load(Ordering::SeqCst), 0);
    assert!(store.blocking().get_opt(&key).unwrap().is_none());

    // A put that completes is not aborted.
    seen.stall_parts.store(false, Ordering::SeqCst);
    let value = Bytes::from(vec![3u8; 9 << 20]);
    let body = Box::pin(futures_util::stream::iter([Ok(value.clone())]));
    store
        .blocking()
        .put_stream(&key, body, PutOptions::new())
        .unwrap();
    assert_eq!(store.blocking().get(&key).unwrap().data, value);
    assert_eq!(seen.completes.load(Ordering::SeqCst), 1);
    assert_eq!(seen.aborts.load(Ordering::SeqCst), 1);
}

/// A server whose body runs past the range it answered: the streamed get
/// fails with `Corrupt` when the extra bytes arrive, and hands none of them
/// to the consumer.
#[test]
fn a_body_longer_than_its_range_is_an_error() {
    let (store, seen) = spied();
    let key = Key::new("long/body").unwrap();
    let value = Bytes::from((0..100u8).collect::<Vec<u8>>());
    store.blocking().put(&key, value.clone()).unwrap();
    seen.pad_bodies.store(true, Ordering::SeqCst);
    for range in [
        None,
        Some(ByteRange::from(10..20)),
        Some(ByteRange::From(90)),
    ] {
        let options = match &range {
            Some(r) => GetOptions::new().with_range(r.clone()),
            None => GetOptions::new(),
        };
        let got = store.blocking().get_stream(&key, options).unwrap();
        let want = got.range.end - got.range.start;
        let mut bytes = Vec::new();
        let mut failed = None;
        for chunk in got {
            match chunk {
                Ok(c) => bytes.extend_from_slice(&c),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        assert!(
            matches!(failed, Some(Error::Corrupt { .. })),
            "{range:?}: {failed:?}"
        );
        assert!(
            bytes.len() as u64 <= want,
            "{range:?}: extra bytes handed on"
        );
    }
    seen.pad_bodies.store(false, Ordering::SeqCst);
    assert_eq!(store.blocking().get(&key).unwrap().data, value);
}

/// A create-only compose of one whole object is one conditional
/// server-side copy.
#[test]
fn a_create_only_compose_of_one_object_is_a_conditional_copy() {
    let (store, seen) = spied();
    let from = Key::new("copy/from").unwrap();
    let to = Key::new("copy/to").unwrap();
    store.blocking().put(&from, "the bytes").unwrap();
    let v = store
        .blocking()
        .compose(&to, &[ComposePart::new(from.clone())], PutOptions::create())
        .unwrap()
        .version;
    assert_eq!(seen.copies_if_absent.load(Ordering::SeqCst), 1);
    assert_eq!(&store.blocking().get(&to).unwrap().data[..], b"the bytes");
    assert_eq!(store.blocking().head(&to).unwrap().version, v);
    assert!(matches!(
        store
            .blocking()
            .compose(&to, &[ComposePart::new(from)], PutOptions::create()),
        Err(Error::AlreadyExists { .. })
    ));
}
