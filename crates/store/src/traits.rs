//! The storage traits: [`Store`] (static, zero-cost) and [`DynStore`] (its
//! dyn-compatible twin).

use crate::{ByteStream, GetStream, PutOptions, PutResult, Result};
use crate::{
    Capabilities, ComposePart, GetOptions, GetResult, Key, ListOptions, ListPage, ObjectMeta,
};
use crate::{MultipartId, PartId};
use bytes::Bytes;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A boxed, `Send` future, as returned by [`DynStore`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A store of versioned blobs: the one way Blocksmith crates persist state.
///
/// Implement this trait for your own backend; the six required methods are all
/// there is to write ([`Store::compose`] and the streamed calls have portable
/// defaults; multipart uploads, [`Store::create_multipart`] and the calls
/// after it, are optional and refused by default). Conveniences (compare-and-swap retry, typed records, listing every
/// page) come from [`crate::StoreExt`], blocking calls from
/// [`crate::StoreExt::blocking`], and `Arc<dyn DynStore>` works wherever a
/// `Store` is expected. Run [`crate::conformance`] against your implementation.
///
/// # Semantics every implementation guarantees
/// - A put is atomic: a reader sees the old value or the new one, never a mix.
/// - Every successful put returns a fresh [`crate::Version`], never reused for that key.
/// - [`crate::PutMode::Create`] on an existing key fails with
///   [`crate::Error::AlreadyExists`]; [`crate::PutMode::Update`] with another
///   version (or on a missing key) fails with [`crate::Error::PreconditionFailed`],
///   when [`Capabilities`] declares them; otherwise they fail with
///   [`crate::Error::Unsupported`], never silently overwrite.
/// - Delete is idempotent: deleting a missing key succeeds.
/// - Listing is in ascending byte order of keys, by plain string prefix, and
///   resumes strictly after `start_after`.
///
/// # Errors of every method
/// Besides the errors each method names, any call can fail as its backend
/// does: [`crate::Error::Io`] (the local backends), [`crate::Error::Backend`]
/// (redb, object stores; [`crate::Error::is_temporary`] says whether the same
/// call may succeed again) or [`crate::Error::Corrupt`] (stored bytes the
/// backend did not write: a torn or foreign file).
///
/// The futures are `Send` and need no particular runtime: the embedded
/// backends complete synchronously, the `object_store` adapter drives its own
/// I/O on a Tokio runtime it owns or is given.
///
/// # Which backends block, and for how long
/// A backend that completes synchronously does its work in the first poll of
/// its future, on the thread that polls it. On an async runtime that is a
/// worker thread, unavailable to other tasks for that long:
///
/// | backend | a call blocks the polling thread for |
/// | --- | --- |
/// | [`crate::MemoryStore`] | a lock and a map operation (microseconds) |
/// | [`crate::DirStore`] | file I/O: a put writes a temp file, `fsync`s it, renames it and `fsync`s the directory (milliseconds on an SSD, tens on a disk or network filesystem); conditional writes also wait for a `flock`; reads and listings read files and directories |
/// | `RedbStore` | a read transaction for reads; a put or delete commits a write transaction with an `fsync`, waiting for any other writer first |
/// | `SqliteStore` | a statement or transaction on its one connection, a put's commit with its `fsync`, waiting up to the busy timeout for another writer |
/// | `ObjectStoreAdapter` | never: it spawns the request on its Tokio runtime and awaits the task |
/// | `PostgresStore` | never: it spawns the call (a pooled connection's statements) on its Tokio runtime and awaits the task |
/// | [`crate::Offload`] | never: it runs the inner store's call on a blocking pool and awaits the result |
///
/// An async host wraps `DirStore` and `RedbStore` in [`crate::Offload`]; a
/// synchronous host calls them directly (through [`crate::StoreExt::blocking`]).
pub trait Store: Send + Sync {
    /// What this backend can do.
    fn capabilities(&self) -> Capabilities;

    /// Reads an object (or a range of it) with its metadata.
    ///
    /// # Errors
    /// [`crate::Error::NotFound`] if the key does not exist; [`crate::Error::InvalidRange`] if
    /// `options.range` does not fit the object ([`crate::ByteRange::resolve`]); a backend failure
    /// (see [`Store`]).
    fn get(&self, key: &Key, options: GetOptions)
    -> impl Future<Output = Result<GetResult>> + Send;

    /// Reads an object's metadata.
    ///
    /// # Errors
    /// [`crate::Error::NotFound`] if the key does not exist; a backend failure (see [`Store`]).
    fn head(&self, key: &Key) -> impl Future<Output = Result<ObjectMeta>> + Send;

    /// Writes a whole object atomically, under the condition in `options`.
    ///
    /// # Errors
    /// [`crate::Error::AlreadyExists`] if the mode is create-only and the key exists;
    /// [`crate::Error::PreconditionFailed`] if the mode is update and the stored version is another
    /// one or the key is missing; [`crate::Error::Unsupported`] if the mode needs a capability the
    /// backend does not declare; a backend failure (see [`Store`]).
    fn put(
        &self,
        key: &Key,
        value: Bytes,
        options: PutOptions,
    ) -> impl Future<Output = Result<PutResult>> + Send;

    /// Deletes an object; succeeds if it is absent.
    ///
    /// # Errors
    /// a backend failure (see [`Store`]); a missing key is not an error.
    fn delete(&self, key: &Key) -> impl Future<Output = Result<()>> + Send;

    /// Lists one page of objects.
    ///
    /// # Errors
    /// [`crate::Error::InvalidKey`] if the prefix cannot begin any key (an empty, `.` or `..`
    /// segment before its last `/`, a control character, a backslash, over 1024 bytes); a backend
    /// failure (see [`Store`]).
    fn list(&self, options: ListOptions) -> impl Future<Output = Result<ListPage>> + Send;

    /// Writes at `target` the concatenation of `parts` (whole objects or
    /// ranges of them, in order), atomically and under the condition in
    /// `options`, like S3's multipart completion or GCS's compose. The parts
    /// stay where they are; a part may be named more than once.
    ///
    /// The provided implementation is [`crate::compose_by_copy`]: it reads the
    /// parts and puts their concatenation. Backends that can join objects
    /// without bringing their bytes through memory override it:
    /// [`crate::DirStore`] hard-links the parts' files under a small manifest,
    /// `RedbStore` refers to the parts' chunks (values over 64 KiB),
    /// [`crate::MemoryStore`] shares the parts' buffers.
    ///
    /// ```
    /// use blocksmith_store::{ComposePart, Key, MemoryStore, PutOptions, Store, StoreExt, block_on};
    /// let store = MemoryStore::new();
    /// let (a, b) = (Key::new("parts/a").unwrap(), Key::new("parts/b").unwrap());
    /// store.blocking().put(&a, "hello, ").unwrap();
    /// store.blocking().put(&b, "world").unwrap();
    /// let whole = Key::new("greeting").unwrap();
    /// let parts = [ComposePart::new(a), ComposePart::new(b)];
    /// block_on(store.compose(&whole, &parts, PutOptions::create())).unwrap();
    /// assert_eq!(&store.blocking().get(&whole).unwrap().data[..], b"hello, world");
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::NotFound`] if a part does not exist; [`crate::Error::InvalidRange`] if a
    /// part's range does not fit it; then as [`Store::put`] for the target.
    fn compose(
        &self,
        target: &Key,
        parts: &[ComposePart],
        options: PutOptions,
    ) -> impl Future<Output = Result<PutResult>> + Send {
        crate::compose_by_copy(self, target, parts, options)
    }

    /// Reads an object (or a range of it) as a stream of chunks, so that
    /// an object of any size passes through bounded memory.
    ///
    /// Every chunk is of the version in [`GetStream::meta`]; an object
    /// replaced while it is streamed ends the body with
    /// [`crate::Error::PreconditionFailed`] (or, where the backend keeps the
    /// old version readable, the body carries the old version to its end).
    ///
    /// The provided implementation is [`crate::get_stream_by_ranges`]:
    /// ranged gets of [`crate::STREAM_CHUNK`] bytes, each checked to be of
    /// the first one's version. `DirStore` reads the open file, the
    /// `object_store` adapter one streaming GET.
    ///
    /// ```
    /// use blocksmith_store::{Key, MemoryStore, GetOptions, Store, StoreExt, block_on};
    /// let store = MemoryStore::new();
    /// let key = Key::new("video").unwrap();
    /// store.blocking().put(&key, vec![7u8; 10_000]).unwrap();
    /// let got = block_on(store.get_stream(&key, GetOptions::new().with_range(100..200))).unwrap();
    /// assert_eq!(got.range, 100..200);
    /// assert_eq!(block_on(got.collect()).unwrap().len(), 100);
    /// ```
    ///
    /// # Errors
    /// As [`Store::get`] for opening the stream; the body's items fail with
    /// a backend failure, or [`crate::Error::PreconditionFailed`] if the
    /// object changed and the old version is gone.
    fn get_stream(
        &self,
        key: &Key,
        options: GetOptions,
    ) -> impl Future<Output = Result<GetStream<'_>>> + Send {
        crate::get_stream_by_ranges(self, key, options)
    }

    /// Writes an object from a stream of chunks, atomically and under the
    /// condition in `options`, like [`Store::put`]: readers see the old value
    /// until the whole body is stored. If the body yields an error, nothing
    /// is written and that error is returned.
    ///
    /// The provided implementation is [`crate::put_stream_collected`], which
    /// holds the whole value in memory; every backend of this crate
    /// overrides it to write chunk by chunk (`DirStore` into its temp file,
    /// `RedbStore` into chunks committed with the row, `SqliteStore` through
    /// a spool file and SQLite's incremental blob I/O, the `object_store`
    /// adapter as a multipart upload).
    ///
    /// ```
    /// use blocksmith_store::{Bytes, Key, MemoryStore, PutOptions, Store, StoreExt, block_on, byte_stream};
    /// let store = MemoryStore::new();
    /// let key = Key::new("big").unwrap();
    /// let chunks = (0..4).map(|_| Ok(Bytes::from(vec![1u8; 1024])));
    /// block_on(store.put_stream(&key, byte_stream(chunks), PutOptions::create())).unwrap();
    /// assert_eq!(store.blocking().head(&key).unwrap().size, 4096);
    /// ```
    ///
    /// # Errors
    /// The body's first error; then as [`Store::put`].
    fn put_stream(
        &self,
        key: &Key,
        body: ByteStream<'_>,
        options: PutOptions,
    ) -> impl Future<Output = Result<PutResult>> + Send {
        crate::put_stream_collected(self, key, body, options)
    }

    /// Starts a multipart upload of the object at `key`: parts are sent
    /// with [`Store::put_part`] in any order, by any process that has the
    /// returned id, and [`Store::complete_multipart`] joins them into the
    /// object in one step (S3's `CreateMultipartUpload`,
    /// `UploadPart` and `CompleteMultipartUpload`). Nothing is visible at
    /// `key` until then. An upload neither completed nor aborted keeps its
    /// parts stored (and billed) until [`Store::abort_multipart`] or the
    /// service's own expiry (on S3, a lifecycle rule).
    ///
    /// Backends declare it in [`Capabilities::multipart`], with the part
    /// sizes they take; the provided implementations fail with
    /// [`crate::Error::Unsupported`]. The `object_store` adapter has it when
    /// built with a `MultipartStore` (S3, GCS, Azure, `InMemory`).
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] if the backend has no multipart
    /// uploads; a backend failure (see [`Store`]).
    fn create_multipart(&self, key: &Key) -> impl Future<Output = Result<MultipartId>> + Send {
        let _ = key;
        std::future::ready(Err(crate::multipart::unsupported()))
    }

    /// Stores part `number` (from 1) of the multipart upload `upload` of
    /// `key`, replacing a part of that number sent before. Every part but
    /// the last must be at least [`crate::MultipartLimits::min_part_size`]
    /// bytes (checked when the upload is completed).
    ///
    /// # Errors
    /// [`crate::Error::InvalidMultipart`] if `number` is 0 or over the
    /// backend's most parts; [`crate::Error::NotFound`] if the upload does not
    /// exist (completed, aborted, or never created here);
    /// [`crate::Error::Unsupported`] as for [`Store::create_multipart`]; a
    /// backend failure (see [`Store`]).
    fn put_part(
        &self,
        key: &Key,
        upload: &MultipartId,
        number: u32,
        data: Bytes,
    ) -> impl Future<Output = Result<PartId>> + Send {
        let _ = (key, upload, number, data);
        std::future::ready(Err(crate::multipart::unsupported()))
    }

    /// Completes the multipart upload `upload`: writes at `key`, atomically,
    /// the concatenation of `parts`, which must be the parts numbered
    /// `1..=n` in order (as [`Store::put_part`] returned them). Like an
    /// overwriting put, it replaces what `key` holds (S3's completion takes
    /// no condition through `object_store`). The upload is gone afterwards.
    ///
    /// # Errors
    /// [`crate::Error::InvalidMultipart`] if `parts` are not numbered `1..=n`
    /// in order (checked before anything is sent); [`crate::Error::NotFound`]
    /// if the upload does not exist (completed already, aborted, or never
    /// created here); [`crate::Error::Unsupported`] as for
    /// [`Store::create_multipart`]; a backend failure (see [`Store`]), also
    /// when a part is smaller than the backend takes or is not the one a
    /// [`PartId`] names.
    fn complete_multipart(
        &self,
        key: &Key,
        upload: &MultipartId,
        parts: &[PartId],
    ) -> impl Future<Output = Result<PutResult>> + Send {
        let _ = (key, upload, parts);
        std::future::ready(Err(crate::multipart::unsupported()))
    }

    /// Aborts the multipart upload `upload` of `key`, dropping its parts.
    /// Idempotent: an upload that is gone (aborted, or completed) is not an
    /// error.
    ///
    /// # Errors
    /// [`crate::Error::Unsupported`] as for [`Store::create_multipart`]; a
    /// backend failure (see [`Store`]).
    fn abort_multipart(
        &self,
        key: &Key,
        upload: &MultipartId,
    ) -> impl Future<Output = Result<()>> + Send {
        let _ = (key, upload);
        std::future::ready(Err(crate::multipart::unsupported()))
    }
}

/// The dyn-compatible twin of [`Store`], implemented for every `Store`.
///
/// Use `Arc<dyn DynStore>` to choose a backend at run time; it implements
/// [`Store`] itself, so it goes wherever a store is expected.
///
/// ```
/// use blocksmith_store::{DynStore, MemoryStore, Key, StoreExt};
/// use std::sync::Arc;
/// let store: Arc<dyn DynStore> = Arc::new(MemoryStore::new());
/// let s = store.blocking();
/// s.put(&Key::new("k").unwrap(), "v").unwrap();
/// assert_eq!(&s.get(&Key::new("k").unwrap()).unwrap().data[..], b"v");
/// ```
pub trait DynStore: Send + Sync {
    /// See [`Store::capabilities`].
    fn dyn_capabilities(&self) -> Capabilities;
    /// See [`Store::get`].
    fn dyn_get<'a>(&'a self, key: &'a Key, options: GetOptions)
    -> BoxFuture<'a, Result<GetResult>>;
    /// See [`Store::head`].
    fn dyn_head<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<ObjectMeta>>;
    /// See [`Store::put`].
    fn dyn_put<'a>(
        &'a self,
        key: &'a Key,
        value: Bytes,
        options: PutOptions,
    ) -> BoxFuture<'a, Result<PutResult>>;
    /// See [`Store::delete`].
    fn dyn_delete<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<()>>;
    /// See [`Store::list`].
    fn dyn_list(&self, options: ListOptions) -> BoxFuture<'_, Result<ListPage>>;
    /// See [`Store::compose`].
    fn dyn_compose<'a>(
        &'a self,
        target: &'a Key,
        parts: &'a [ComposePart],
        options: PutOptions,
    ) -> BoxFuture<'a, Result<PutResult>>;
    /// See [`Store::get_stream`].
    fn dyn_get_stream<'a: 'f, 'k: 'f, 'f>(
        &'a self,
        key: &'k Key,
        options: GetOptions,
    ) -> BoxFuture<'f, Result<GetStream<'a>>>;
    /// See [`Store::put_stream`].
    fn dyn_put_stream<'a>(
        &'a self,
        key: &'a Key,
        body: ByteStream<'a>,
        options: PutOptions,
    ) -> BoxFuture<'a, Result<PutResult>>;
    /// See [`Store::create_multipart`].
    fn dyn_create_multipart<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<MultipartId>>;
    /// See [`Store::put_part`].
    fn dyn_put_part<'a>(
        &'a self,
        key: &'a Key,
        upload: &'a MultipartId,
        number: u32,
        data: Bytes,
    ) -> BoxFuture<'a, Result<PartId>>;
    /// See [`Store::complete_multipart`].
    fn dyn_complete_multipart<'a>(
        &'a self,
        key: &'a Key,
        upload: &'a MultipartId,
        parts: &'a [PartId],
    ) -> BoxFuture<'a, Result<PutResult>>;
    /// See [`Store::abort_multipart`].
    fn dyn_abort_multipart<'a>(
        &'a self,
        key: &'a Key,
        upload: &'a MultipartId,
    ) -> BoxFuture<'a, Result<()>>;
}

impl<T: Store> DynStore for T {
    fn dyn_capabilities(&self) -> Capabilities {
        self.capabilities()
    }
    fn dyn_get<'a>(
        &'a self,
        key: &'a Key,
        options: GetOptions,
    ) -> BoxFuture<'a, Result<GetResult>> {
        Box::pin(self.get(key, options))
    }
    fn dyn_head<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<ObjectMeta>> {
        Box::pin(self.head(key))
    }
    fn dyn_put<'a>(
        &'a self,
        key: &'a Key,
        value: Bytes,
        options: PutOptions,
    ) -> BoxFuture<'a, Result<PutResult>> {
        Box::pin(self.put(key, value, options))
    }
    fn dyn_delete<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.delete(key))
    }
    fn dyn_list(&self, options: ListOptions) -> BoxFuture<'_, Result<ListPage>> {
        Box::pin(self.list(options))
    }
    fn dyn_compose<'a>(
        &'a self,
        target: &'a Key,
        parts: &'a [ComposePart],
        options: PutOptions,
    ) -> BoxFuture<'a, Result<PutResult>> {
        Box::pin(self.compose(target, parts, options))
    }
    fn dyn_get_stream<'a: 'f, 'k: 'f, 'f>(
        &'a self,
        key: &'k Key,
        options: GetOptions,
    ) -> BoxFuture<'f, Result<GetStream<'a>>> {
        Box::pin(self.get_stream(key, options))
    }
    fn dyn_put_stream<'a>(
        &'a self,
        key: &'a Key,
        body: ByteStream<'a>,
        options: PutOptions,
    ) -> BoxFuture<'a, Result<PutResult>> {
        Box::pin(self.put_stream(key, body, options))
    }
    fn dyn_create_multipart<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<MultipartId>> {
        Box::pin(self.create_multipart(key))
    }
    fn dyn_put_part<'a>(
        &'a self,
        key: &'a Key,
        upload: &'a MultipartId,
        number: u32,
        data: Bytes,
    ) -> BoxFuture<'a, Result<PartId>> {
        Box::pin(self.put_part(key, upload, number, data))
    }
    fn dyn_complete_multipart<'a>(
        &'a self,
        key: &'a Key,
        upload: &'a MultipartId,
        parts: &'a [PartId],
    ) -> BoxFuture<'a, Result<PutResult>> {
        Box::pin(self.complete_multipart(key, upload, parts))
    }
    fn dyn_abort_multipart<'a>(
        &'a self,
        key: &'a Key,
        upload: &'a MultipartId,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.abort_multipart(key, upload))
    }
}

impl Store for dyn DynStore {
    fn capabilities(&self) -> Capabilities {
        self.dyn_capabilities()
    }
    async fn get(&self, key: &Key, options: GetOptions) -> Result<GetResult> {
        self.dyn_get(key, options).await
    }
    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        self.dyn_head(key).await
    }
    async fn put(&self, key: &Key, value: Bytes, options: PutOptions) -> Result<PutResult> {
        self.dyn_put(key, value, options).await
    }
    async fn delete(&self, key: &Key) -> Result<()> {
        self.dyn_delete(key).await
    }
    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        self.dyn_list(options).await
    }
    async fn compose(
        &self,
        target: &Key,
        parts: &[ComposePart],
        options: PutOptions,
    ) -> Result<PutResult> {
        self.dyn_compose(target, parts, options).await
    }
    async fn get_stream(&self, key: &Key, options: GetOptions) -> Result<GetStream<'_>> {
        self.dyn_get_stream(key, options).await
    }
    async fn put_stream(
        &self,
        key: &Key,
        body: ByteStream<'_>,
        options: PutOptions,
    ) -> Result<PutResult> {
        self.dyn_put_stream(key, body, options).await
    }
    async fn create_multipart(&self, key: &Key) -> Result<MultipartId> {
        self.dyn_create_multipart(key).await
    }
    async fn put_part(
        &self,
        key: &Key,
        upload: &MultipartId,
        number: u32,
        data: Bytes,
    ) -> Result<PartId> {
        self.dyn_put_part(key, upload, number, data).await
    }
    async fn complete_multipart(
        &self,
        key: &Key,
        upload: &MultipartId,
        parts: &[PartId],
    ) -> Result<PutResult> {
        self.dyn_complete_multipart(key, upload, parts).await
    }
    async fn abort_multipart(&self, key: &Key, upload: &MultipartId) -> Result<()> {
        self.dyn_abort_multipart(key, upload).await
    }
}

macro_rules! forward_store {
    ($($ptr:ty),*) => {$(
        impl<T: Store + ?Sized> Store for $ptr {
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
            fn get(&self, key: &Key, options: GetOptions) -> impl Future<Output = Result<GetResult>> + Send {
                (**self).get(key, options)
            }
            fn head(&self, key: &Key) -> impl Future<Output = Result<ObjectMeta>> + Send {
                (**self).head(key)
            }
            fn put(&self, key: &Key, value: Bytes, options: PutOptions) -> impl Future<Output = Result<PutResult>> + Send {
                (**self).put(key, value, options)
            }
            fn delete(&self, key: &Key) -> impl Future<Output = Result<()>> + Send {
                (**self).delete(key)
            }
            fn list(&self, options: ListOptions) -> impl Future<Output = Result<ListPage>> + Send {
                (**self).list(options)
            }
            fn compose(&self, target: &Key, parts: &[ComposePart], options: PutOptions) -> impl Future<Output = Result<PutResult>> + Send {
                (**self).compose(target, parts, options)
            }
            fn get_stream(&self, key: &Key, options: GetOptions) -> impl Future<Output = Result<GetStream<'_>>> + Send {
                (**self).get_stream(key, options)
            }
            fn put_stream(&self, key: &Key, body: ByteStream<'_>, options: PutOptions) -> impl Future<Output = Result<PutResult>> + Send {
                (**self).put_stream(key, body, options)
            }
            fn create_multipart(&self, key: &Key) -> impl Future<Output = Result<MultipartId>> + Send {
                (**self).create_multipart(key)
            }
            fn put_part(&self, key: &Key, upload: &MultipartId, number: u32, data: Bytes) -> impl Future<Output = Result<PartId>> + Send {
                (**self).put_part(key, upload, number, data)
            }
            fn complete_multipart(&self, key: &Key, upload: &MultipartId, parts: &[PartId]) -> impl Future<Output = Result<PutResult>> + Send {
                (**self).complete_multipart(key, upload, parts)
            }
            fn abort_multipart(&self, key: &Key, upload: &MultipartId) -> impl Future<Output = Result<()>> + Send {
                (**self).abort_multipart(key, upload)
            }
        }
    )*};
}

forward_store!(&T, Box<T>, Arc<T>);
