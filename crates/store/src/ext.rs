//! Conveniences over [`Store`]: you get them for free, you never implement them.

use crate::record::{self, Record};
use crate::{
    ByteRange, ByteStream, Error, GetOptions, GetResult, Key, ListOptions, ListPage, ObjectMeta,
    PutMode, PutOptions, PutResult, Result, Store, Version, block_on,
};
use bytes::Bytes;
use std::future::Future;

/// How many times [`StoreExt::update`] retries a lost compare-and-swap.
pub const DEFAULT_UPDATE_ATTEMPTS: u32 = 1000;

/// Extension methods for every [`Store`] (blanket-implemented; do not
/// implement it yourself).
///
/// # One API, awaited or blocking
/// `store.blocking().m(args)` is `store.m(args).await`: every method of
/// [`Blocking`] is the [`Store`] or `StoreExt` method of the same name with
/// the same arguments, driven by [`block_on`]. The two exceptions are the
/// shorthands `Blocking::get(key)` and `Blocking::put(key, value)`, whose
/// names the [`Store`] methods with options hold on the async side; their
/// async spelling is `get_opt(key)` (or `get(key, GetOptions::new())`) and
/// `put_opts(key, value, PutOptions::new())`. `get_range` and `put_opts`
/// read the same on both sides.
///
/// ```
/// use blocksmith_store::{Error, Key, MemoryStore, PutOptions, StoreExt, block_on};
/// let store = MemoryStore::new();
/// let key = Key::new("accounts/42/balance").unwrap();
/// block_on(async {
///     store.put_opts(&key, "100", PutOptions::create()).await?;
///     let current = store.get_opt(&key).await?.expect("just written");
///     store.put_opts(&key, "150", PutOptions::update(current.meta.version)).await?;
///     assert_eq!(&store.get_range(&key, 1..3).await?.data[..], b"50");
///     Ok::<_, Error>(())
/// }).unwrap();
/// // The same calls, blocking:
/// let s = store.blocking();
/// assert!(s.put_opts(&key, "0", PutOptions::create()).unwrap_err().is_conflict());
/// assert_eq!(&s.get_range(&key, 1..3).unwrap().data[..], b"50");
/// ```
///
/// The compare-and-swap loop, written once and correctly:
///
/// ```
/// use blocksmith_store::{Key, MemoryStore, StoreExt};
/// let store = MemoryStore::new();
/// let key = Key::new("counters/visits").unwrap();
/// for _ in 0..3 {
///     store.blocking().update(&key, |old| {
///         let n = old.map_or(0, |b| String::from_utf8_lossy(b).parse::<u64>().unwrap_or(0));
///         Ok(Some((n + 1).to_string().into()))
///     }).unwrap();
/// }
/// assert_eq!(&store.blocking().get(&key).unwrap().data[..], b"3");
/// ```
pub trait StoreExt: Store {
    /// Like [`Store::get`] but a missing key is `Ok(None)`.
    ///
    /// # Errors
    /// As [`Store::get`], save [`Error::NotFound`].
    fn get_opt(&self, key: &Key) -> impl Future<Output = Result<Option<GetResult>>> + Send {
        async move {
            match self.get(key, GetOptions::new()).await {
                Ok(r) => Ok(Some(r)),
                Err(Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        }
    }

    /// Reads a byte range of an object (see [`crate::ByteRange`]).
    ///
    /// # Errors
    /// As [`Store::get`]: [`Error::InvalidRange`] if the range does not fit the object.
    fn get_range(
        &self,
        key: &Key,
        range: impl Into<ByteRange>,
    ) -> impl Future<Output = Result<GetResult>> + Send {
        self.get(key, GetOptions::new().with_range(range))
    }

    /// Writes a value under a condition: [`Store::put`] taking anything that
    /// converts into [`Bytes`] and [`PutOptions`] (a [`PutMode`] does).
    ///
    /// # Errors
    /// As [`Store::put`].
    fn put_opts(
        &self,
        key: &Key,
        value: impl Into<Bytes>,
        options: impl Into<PutOptions>,
    ) -> impl Future<Output = Result<PutResult>> + Send {
        self.put(key, value.into(), options.into())
    }

    /// Read-modify-write with optimistic concurrency.
    ///
    /// `f` sees the current value (or `None`) and returns the new value, or
    /// `Ok(None)` to leave the key as it is, or an error to stop (its own
    /// errors through [`Error::other`]). When another writer wins the race
    /// the value is read again and `f` called again, up to
    /// [`DEFAULT_UPDATE_ATTEMPTS`] times. Returns the new version, or `None` if
    /// `f` chose not to write. Needs create-only and compare-and-swap.
    ///
    /// # Errors
    /// What `f` returns (its own errors as [`Error::Other`]); [`Error::TooManyConflicts`] if the
    /// compare-and-swap loses [`DEFAULT_UPDATE_ATTEMPTS`] times in a row; [`Error::Unsupported`] on
    /// a backend without create-only or compare-and-swap puts; as [`Store::get`] and [`Store::put`]
    /// otherwise.
    fn update<F>(&self, key: &Key, mut f: F) -> impl Future<Output = Result<Option<Version>>> + Send
    where
        F: FnMut(Option<&Bytes>) -> Result<Option<Bytes>> + Send,
    {
        async move {
            for _ in 0..DEFAULT_UPDATE_ATTEMPTS {
                let current = self.get_opt(key).await?;
                let Some(next) = f(current.as_ref().map(|r| &r.data))? else {
                    return Ok(None);
                };
                let mode = match current {
                    Some(r) => PutMode::Update(r.meta.version),
                    None => PutMode::Create,
                };
                match self.put(key, next, mode.into()).await {
                    Ok(p) => return Ok(Some(p.version)),
                    Err(e) if e.is_conflict() => {}
                    Err(e) => return Err(e),
                }
            }
            Err(Error::TooManyConflicts {
                key: key.to_string(),
                attempts: DEFAULT_UPDATE_ATTEMPTS,
            })
        }
    }

    /// Lists every object under `prefix`, following pagination.
    ///
    /// # Errors
    /// As [`Store::list`], for any page.
    fn list_all(&self, prefix: &str) -> impl Future<Output = Result<Vec<ObjectMeta>>> + Send {
        let prefix = prefix.to_string();
        async move {
            let mut out = Vec::new();
            let mut after = None;
            loop {
                let page = self
                    .list(ListOptions::prefix(prefix.clone()).with_start_after(after))
                    .await?;
                out.extend(page.objects);
                match page.next {
                    Some(n) => after = Some(n),
                    None => return Ok(out),
                }
            }
        }
    }

    /// Reads a typed record; `Ok(None)` if the key is missing.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if the stored bytes are not a record or are a record of another kind;
    /// [`Error::SchemaMismatch`] if the record has another schema version; [`Error::Serde`] if its
    /// payload does not deserialize as `T`; as [`Store::get`] otherwise.
    fn get_record<T: Record + Send>(
        &self,
        key: &Key,
    ) -> impl Future<Output = Result<Option<(T, Version)>>> + Send {
        async move {
            match self.get_opt(key).await? {
                Some(r) => Ok(Some((
                    record::decode(key.as_str(), &r.data)?,
                    r.meta.version,
                ))),
                None => Ok(None),
            }
        }
    }

    /// Writes a typed record under a put condition.
    ///
    /// # Errors
    /// [`Error::Serde`] if `value` does not serialize; as [`Store::put`] otherwise.
    fn put_record<T: Record + Sync>(
        &self,
        key: &Key,
        value: &T,
        options: PutOptions,
    ) -> impl Future<Output = Result<PutResult>> + Send {
        async move { self.put(key, record::encode(value)?, options).await }
    }

    /// [`StoreExt::update`] on a typed record.
    ///
    /// # Errors
    /// As [`StoreExt::get_record`] for the stored value, [`StoreExt::put_record`] for the new one,
    /// and [`StoreExt::update`] for the rest.
    fn update_record<T, F>(
        &self,
        key: &Key,
        mut f: F,
    ) -> impl Future<Output = Result<Option<Version>>> + Send
    where
        T: Record + Send,
        F: FnMut(Option<T>) -> Result<Option<T>> + Send,
    {
        async move {
            self.update(key, |old| {
                let old = old
                    .map(|b| record::decode::<T>(key.as_str(), b))
                    .transpose()?;
                f(old)?.map(|v| record::encode(&v)).transpose()
            })
            .await
        }
    }

    /// The same operations as blocking calls, for synchronous hosts and tests.
    fn blocking(&self) -> Blocking<'_, Self> {
        Blocking(self)
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

/// The body of [`Blocking::get_stream`]: an iterator of chunks and a
/// [`std::io::Read`].
pub struct BlockingBody<'a> {
    /// The object's metadata (its full size, not the range's).
    pub meta: ObjectMeta,
    /// Which bytes the body carries.
    pub range: std::ops::Range<u64>,
    body: ByteStream<'a>,
    current: Bytes,
}

impl std::fmt::Debug for BlockingBody<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingBody")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl Iterator for BlockingBody<'_> {
    type Item = Result<Bytes>;
    fn next(&mut self) -> Option<Result<Bytes>> {
        if !self.current.is_empty() {
            return Some(Ok(std::mem::take(&mut self.current)));
        }
        block_on(crate::stream::next(&mut self.body))
    }
}

impl std::io::Read for BlockingBody<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match block_on(crate::stream::next(&mut self.body)) {
                None => return Ok(0),
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Blocking calls over a [`Store`] (see [`StoreExt::blocking`]); each method
/// drives the async one with [`block_on`].
#[derive(Debug)]
pub struct Blocking<'a, S: ?Sized>(&'a S);

impl<'a, S: Store + ?Sized> Blocking<'a, S> {
    /// Reads an object as chunks (see [`Store::get_stream`]); the answer
    /// is an iterator of chunks and a [`std::io::Read`].
    ///
    /// ```
    /// use blocksmith_store::{GetOptions, Key, MemoryStore, StoreExt};
    /// use std::io::Read;
    /// let store = MemoryStore::new();
    /// let key = Key::new("k").unwrap();
    /// store.blocking().put(&key, "streamed").unwrap();
    /// let mut text = String::new();
    /// store.blocking().get_stream(&key, GetOptions::new()).unwrap().read_to_string(&mut text).unwrap();
    /// assert_eq!(text, "streamed");
    /// ```
    ///
    /// # Errors
    /// As [`Store::get_stream`]; reading fails with the body's errors
    /// (as an `io::Error` wrapping the [`Error`] through [`std::io::Read`]).
    pub fn get_stream(&self, key: &Key, options: GetOptions) -> Result<BlockingBody<'a>> {
        let s = block_on(self.0.get_stream(key, options))?;
        Ok(BlockingBody {
            meta: s.meta,
            range: s.range,
            body: s.body,
            current: Bytes::new(),
        })
    }
}

impl<S: Store + ?Sized> Blocking<'_, S> {
    /// Reads a whole object (async: [`StoreExt::get_opt`], or
    /// [`Store::get`] with [`GetOptions::new`]).
    ///
    /// # Errors
    /// As [`Store::get`].
    pub fn get(&self, key: &Key) -> Result<GetResult> {
        block_on(self.0.get(key, GetOptions::new()))
    }
    /// Reads a whole object, `None` if missing.
    ///
    /// # Errors
    /// As [`StoreExt::get_opt`].
    pub fn get_opt(&self, key: &Key) -> Result<Option<GetResult>> {
        block_on(self.0.get_opt(key))
    }
    /// Reads a byte range.
    ///
    /// # Errors
    /// As [`StoreExt::get_range`].
    pub fn get_range(&self, key: &Key, range: impl Into<ByteRange>) -> Result<GetResult> {
        block_on(self.0.get_range(key, range))
    }
    /// Reads metadata.
    ///
    /// # Errors
    /// As [`Store::head`].
    pub fn head(&self, key: &Key) -> Result<ObjectMeta> {
        block_on(self.0.head(key))
    }
    /// Overwrites a value (async: [`StoreExt::put_opts`] with
    /// [`PutOptions::new`]).
    ///
    /// # Errors
    /// As [`Store::put`].
    pub fn put(&self, key: &Key, value: impl Into<Bytes>) -> Result<PutResult> {
        block_on(self.0.put(key, value.into(), PutOptions::new()))
    }
    /// Writes a value under a condition.
    ///
    /// # Errors
    /// As [`Store::put`].
    pub fn put_opts(
        &self,
        key: &Key,
        value: impl Into<Bytes>,
        options: impl Into<PutOptions>,
    ) -> Result<PutResult> {
        block_on(self.0.put_opts(key, value, options))
    }
    /// Deletes (idempotent).
    ///
    /// # Errors
    /// As [`Store::delete`].
    pub fn delete(&self, key: &Key) -> Result<()> {
        block_on(self.0.delete(key))
    }
    /// Writes an object from a stream (see [`Store::put_stream`]).
    ///
    /// # Errors
    /// As [`Store::put_stream`].
    pub fn put_stream(
        &self,
        key: &Key,
        body: ByteStream<'_>,
        options: impl Into<PutOptions>,
    ) -> Result<PutResult> {
        block_on(self.0.put_stream(key, body, options.into()))
    }
    /// Writes an object from a reader, in chunks of 1 MiB (see
    /// [`Store::put_stream`]).
    ///
    /// ```
    /// use blocksmith_store::{Key, MemoryStore, PutOptions, StoreExt};
    /// let store = MemoryStore::new();
    /// let key = Key::new("from/file").unwrap();
    /// let file = std::io::Cursor::new(vec![9u8; 3 << 20]);
    /// store.blocking().put_reader(&key, file, PutOptions::create()).unwrap();
    /// assert_eq!(store.blocking().head(&key).unwrap().size, 3 << 20);
    /// ```
    ///
    /// # Errors
    /// [`Error::Io`] if reading fails (nothing is written then); as
    /// [`Store::put_stream`].
    pub fn put_reader(
        &self,
        key: &Key,
        reader: impl std::io::Read + Send,
        options: impl Into<PutOptions>,
    ) -> Result<PutResult> {
        self.put_stream(key, crate::stream::reader_stream(reader), options)
    }
    /// See [`Store::compose`].
    ///
    /// # Errors
    /// As [`Store::compose`].
    pub fn compose(
        &self,
        target: &Key,
        parts: &[crate::ComposePart],
        options: impl Into<PutOptions>,
    ) -> Result<PutResult> {
        block_on(self.0.compose(target, parts, options.into()))
    }
    /// See [`Store::create_multipart`].
    ///
    /// # Errors
    /// As [`Store::create_multipart`].
    pub fn create_multipart(&self, key: &Key) -> Result<crate::MultipartId> {
        block_on(self.0.create_multipart(key))
    }
    /// See [`Store::put_part`].
    ///
    /// # Errors
    /// As [`Store::put_part`].
    pub fn put_part(
        &self,
        key: &Key,
        upload: &crate::MultipartId,
        number: u32,
        data: impl Into<Bytes>,
    ) -> Result<crate::PartId> {
        block_on(self.0.put_part(key, upload, number, data.into()))
    }
    /// See [`Store::complete_multipart`].
    ///
    /// # Errors
    /// As [`Store::complete_multipart`].
    pub fn complete_multipart(
        &self,
        key: &Key,
        upload: &crate::MultipartId,
        parts: &[crate::PartId],
    ) -> Result<PutResult> {
        block_on(self.0.complete_multipart(key, upload, parts))
    }
    /// See [`Store::abort_multipart`].
    ///
    /// # Errors
    /// As [`Store::abort_multipart`].
    pub fn abort_multipart(&self, key: &Key, upload: &crate::MultipartId) -> Result<()> {
        block_on(self.0.abort_multipart(key, upload))
    }
    /// Lists one page.
    ///
    /// # Errors
    /// As [`Store::list`].
    pub fn list(&self, options: ListOptions) -> Result<ListPage> {
        block_on(self.0.list(options))
    }
    /// Lists everything under `prefix`.
    ///
    /// # Errors
    /// As [`StoreExt::list_all`].
    pub fn list_all(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        block_on(self.0.list_all(prefix))
    }
    /// See [`StoreExt::update`].
    ///
    /// # Errors
    /// As [`StoreExt::update`].
    pub fn update<F>(&self, key: &Key, f: F) -> Result<Option<Version>>
    where
        F: FnMut(Option<&Bytes>) -> Result<Option<Bytes>> + Send,
    {
        block_on(self.0.update(key, f))
    }
    /// See [`StoreExt::get_record`].
    ///
    /// # Errors
    /// As [`StoreExt::get_record`].
    pub fn get_record<T: Record + Send>(&self, key: &Key) -> Result<Option<(T, Version)>> {
        block_on(self.0.get_record(key))
    }
    /// See [`StoreExt::put_record`].
    ///
    /// # Errors
    /// As [`StoreExt::put_record`].
    pub fn put_record<T: Record + Sync>(
        &self,
        key: &Key,
        value: &T,
        options: impl Into<PutOptions>,
    ) -> Result<PutResult> {
        block_on(self.0.put_record(key, value, options.into()))
    }
    /// See [`StoreExt::update_record`].
    ///
    /// # Errors
    /// As [`StoreExt::update_record`].
    pub fn update_record<T, F>(&self, key: &Key, f: F) -> Result<Option<Version>>
    where
        T: Record + Send,
        F: FnMut(Option<T>) -> Result<Option<T>> + Send,
    {
        block_on(self.0.update_record(key, f))
    }
}
