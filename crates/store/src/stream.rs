//! Streamed values: [`ByteStream`], [`GetStream`] and the portable
//! implementations behind [`Store::get_stream`] and [`Store::put_stream`].
//!
//! A whole-value [`Store::get`] or [`Store::put`] holds the value in memory.
//! The streamed twins move it in chunks, so an object of any size passes
//! through a bounded amount of memory, the way `object_store`'s
//! `GetResult::into_stream` and `put_multipart`, or OpenDAL's `Reader` and
//! `Writer`, do.

use crate::{
    ByteRange, ComposePart, Error, GetOptions, Key, ObjectMeta, PutOptions, PutResult, Result,
    Store, Version,
};
use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};

/// A stream of byte chunks, in order: the body of a streamed get or put.
///
/// Build one from an iterator with [`byte_stream`], from any `Stream` of
/// `Result<Bytes>` with `Box::pin`, or from an async reader with
/// `tokio_util::io::ReaderStream` (mapping its `io::Error` with
/// [`Error::from_io`]).
pub type ByteStream<'a> = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send + 'a>>;

/// How many bytes the portable streamed get reads per request (4 MiB).
pub const STREAM_CHUNK: u64 = 4 << 20;

/// A stream of the chunks of `items`, for [`Store::put_stream`].
///
/// ```
/// use blocksmith_store::{Bytes, Key, MemoryStore, PutOptions, Store, StoreExt, block_on, byte_stream};
/// let store = MemoryStore::new();
/// let key = Key::new("logs/today").unwrap();
/// let lines = (0..3).map(|i| Ok(Bytes::from(format!("line {i}\n"))));
/// block_on(store.put_stream(&key, byte_stream(lines), PutOptions::new())).unwrap();
/// assert_eq!(&store.blocking().get(&key).unwrap().data[..], b"line 0\nline 1\nline 2\n");
/// ```
pub fn byte_stream<'a, I>(items: I) -> ByteStream<'a>
where
    I: IntoIterator<Item = Result<Bytes>>,
    I::IntoIter: Send + 'a,
{
    Box::pin(IterStream(items.into_iter()))
}

struct IterStream<I>(I);

// Never pin-projected: the iterator is only used through `&mut`.
impl<I> Unpin for IterStream<I> {}

impl<I: Iterator<Item = Result<Bytes>>> Stream for IterStream<I> {
    type Item = Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.next())
    }
}

/// A stream of the bytes of a blocking reader, in chunks of up to 1 MiB.
///
/// Each poll reads from `reader` on the polling thread, so use it from
/// synchronous code ([`crate::Blocking::put_stream`], as
/// [`crate::Blocking::put_reader`] does) or on a blocking pool, not on an
/// async runtime's worker thread.
pub fn reader_stream<'a, R: std::io::Read + Send + 'a>(mut reader: R) -> ByteStream<'a> {
    let mut done = false;
    Box::pin(PollStream(move |_: &mut Context<'_>| {
        if done {
            return Poll::Ready(None);
        }
        let mut buf = vec![0u8; READER_CHUNK];
        let mut filled = 0;
        while filled < buf.len() {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => {
                    done = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    done = true;
                    return Poll::Ready(Some(Err(Error::io("read the body", e))));
                }
            }
        }
        if filled == 0 {
            return Poll::Ready(None);
        }
        buf.truncate(filled);
        Poll::Ready(Some(Ok(Bytes::from(buf))))
    }))
}

const READER_CHUNK: usize = 1 << 20;

/// The answer of [`Store::get_stream`]: the object's metadata, which bytes
/// the body carries, and the body.
///
/// Every chunk of `body` belongs to the version in `meta`. If the object is
/// replaced or deleted while the body is read, a backend that cannot keep
/// serving the old version ends the body with
/// [`Error::PreconditionFailed`] instead of mixing two versions.
pub struct GetStream<'a> {
    /// The object's metadata (its full size, not the range's).
    pub meta: ObjectMeta,
    /// Which bytes `body` carries.
    pub range: Range<u64>,
    /// The bytes, in chunks.
    pub body: ByteStream<'a>,
}

impl fmt::Debug for GetStream<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetStream")
            .field("meta", &self.meta)
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl GetStream<'_> {
    /// Reads the whole body into one buffer (the body's length, checked).
    ///
    /// # Errors
    /// The body's first error; [`Error::Corrupt`] if the body is longer or
    /// shorter than `range` says.
    pub async fn collect(mut self) -> Result<Bytes> {
        let want = self.range.end - self.range.start;
        let mut out = BytesMut::with_capacity(usize::try_from(want.min(STREAM_CHUNK)).unwrap_or(0));
        while let Some(chunk) = next(&mut self.body).await {
            out.extend_from_slice(&chunk?);
            if out.len() as u64 > want {
                break;
            }
        }
        if out.len() as u64 != want {
            return Err(Error::Corrupt {
                key: self.meta.key.to_string(),
                reason: format!(
                    "the streamed body has {} bytes, its range {}",
                    out.len(),
                    want
                ),
            });
        }
        Ok(out.freeze())
    }
}

/// The next item of a stream.
pub(crate) async fn next<S: Stream + Unpin + ?Sized>(s: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

/// What the receiving side of a streamed put fed through a channel reports
/// when the channel closed without the end message (`None`): the caller's
/// future was dropped mid-body.
pub(crate) fn cancelled_body() -> Error {
    Error::other(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "the body stopped before its end (the put was cancelled)",
    ))
}

/// The portable [`Store::get_stream`]: ranged gets of [`STREAM_CHUNK`]
/// bytes, each checked to be of the version the first one read.
///
/// Backends whose ranged reads touch only the bytes asked for (every
/// backend in this crate) stream in bounded memory this way; an object
/// replaced mid-stream ends it with [`Error::PreconditionFailed`].
///
/// # Errors
/// As [`Store::get`] for the first window; later windows' errors come
/// through the body.
pub async fn get_stream_by_ranges<'a, S: Store + ?Sized>(
    store: &'a S,
    key: &Key,
    options: GetOptions,
) -> Result<GetStream<'a>> {
    get_by_ranges(store, key, options, STREAM_CHUNK).await
}

pub(crate) async fn get_by_ranges<'a, S: Store + ?Sized>(
    store: &'a S,
    key: &Key,
    options: GetOptions,
    window: u64,
) -> Result<GetStream<'a>> {
    let window = window.max(1);
    // The first window tells the size and version.
    let first = match &options.range {
        None => ByteRange::Bounded(0..window),
        Some(ByteRange::Bounded(r)) => {
            ByteRange::Bounded(r.start..r.end.min(r.start.saturating_add(window)))
        }
        Some(ByteRange::From(s)) => ByteRange::Bounded(*s..s.saturating_add(window)),
        Some(suffix @ ByteRange::Suffix(_)) => {
            let start = suffix.resolve(key, store.head(key).await?.size)?.start;
            ByteRange::Bounded(start..start.saturating_add(window))
        }
    };
    let head = match store.get(key, GetOptions::new().with_range(first)).await {
        Ok(r) => r,
        // An empty object has no first window: read it whole.
        Err(Error::InvalidRange { .. }) if options.range.is_none() => {
            store.get(key, GetOptions::new()).await?
        }
        Err(e) => return Err(e),
    };
    let size = head.meta.size;
    let range = match &options.range {
        None => 0..size,
        Some(r) => r.resolve(key, size)?,
    };
    if head.range.start != range.start {
        // A suffix of an object replaced between the head and the read.
        return Err(Error::PreconditionFailed {
            key: key.to_string(),
        });
    }
    let read_to = head.range.end;
    let state = Windows {
        store,
        key: key.clone(),
        version: head.meta.version.clone(),
        at: read_to,
        end: range.end,
        window,
        first: Some(head.data),
        pending: None,
    };
    Ok(GetStream {
        meta: head.meta,
        range,
        body: Box::pin(state.into_stream()),
    })
}

type Pending<'a> = Pin<Box<dyn std::future::Future<Output = Result<crate::GetResult>> + Send + 'a>>;

struct Windows<'a, S: ?Sized> {
    store: &'a S,
    key: Key,
    version: Version,
    at: u64,
    end: u64,
    window: u64,
    first: Option<Bytes>,
    pending: Option<Pending<'a>>,
}

impl<'a, S: Store + ?Sized> Windows<'a, S> {
    fn into_stream(self) -> impl Stream<Item = Result<Bytes>> + Send + 'a {
        WindowStream(self)
    }
}

struct WindowStream<'a, S: ?Sized>(Windows<'a, S>);

impl<S: ?Sized> Unpin for WindowStream<'_, S> {}

impl<'a, S: Store + ?Sized> Stream for WindowStream<'a, S> {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let w = &mut self.0;
        if let Some(first) = w.first.take()
            && !first.is_empty()
        {
            return Poll::Ready(Some(Ok(first)));
        }
        if w.pending.is_none() {
            if w.at >= w.end {
                return Poll::Ready(None);
            }
            let to = w.end.min(w.at.saturating_add(w.window));
            let store: &'a S = w.store;
            let key = w.key.clone();
            let range = w.at..to;
            w.pending = Some(Box::pin(async move {
                store.get(&key, GetOptions::new().with_range(range)).await
            }));
        }
        let fut = w.pending.as_mut().expect("set above");
        let res = match fut.as_mut().poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(r) => r,
        };
        w.pending = None;
        let r = match res {
            Ok(r) => r,
            // Gone, or shorter: the version we stream is no longer there.
            Err(Error::NotFound { key } | Error::InvalidRange { key, .. }) => {
                w.at = w.end;
                return Poll::Ready(Some(Err(Error::PreconditionFailed { key })));
            }
            Err(e) => {
                w.at = w.end;
                return Poll::Ready(Some(Err(e)));
            }
        };
        if r.meta.version != w.version || r.data.is_empty() {
            w.at = w.end;
            return Poll::Ready(Some(Err(Error::PreconditionFailed {
                key: w.key.to_string(),
            })));
        }
        w.at = r.range.end;
        Poll::Ready(Some(Ok(r.data)))
    }
}

/// The portable [`Store::put_stream`]: collects the body and puts it whole.
///
/// It needs memory for the whole value; every backend in this crate
/// overrides `put_stream` to write chunk by chunk instead.
///
/// # Errors
/// The body's first error (nothing is written then); as [`Store::put`].
pub async fn put_stream_collected<S: Store + ?Sized>(
    store: &S,
    key: &Key,
    mut body: ByteStream<'_>,
    options: PutOptions,
) -> Result<PutResult> {
    let mut chunks = Vec::new();
    let mut total = 0usize;
    while let Some(c) = next(&mut body).await {
        let c = c?;
        total = total.saturating_add(c.len());
        chunks.push(c);
    }
    let value = match &chunks[..] {
        [] => Bytes::new(),
        [one] => one.clone(),
        _ => {
            let mut out = Vec::new();
            out.try_reserve_exact(total).map_err(|_| {
                Error::io(
                    format!("collect {key}"),
                    std::io::Error::from(std::io::ErrorKind::OutOfMemory),
                )
            })?;
            for c in &chunks {
                out.extend_from_slice(c);
            }
            Bytes::from(out)
        }
    };
    store.put(key, value, options).await
}

/// The body of `parts` concatenated, read part by part in windows (for
/// the portable compose).
pub(crate) fn parts_stream<'a, S: Store + ?Sized>(
    store: &'a S,
    parts: &'a [ComposePart],
) -> ByteStream<'a> {
    let mut index = 0usize;
    let mut current: Option<ByteStream<'a>> = None;
    let mut opening: Option<
        Pin<Box<dyn std::future::Future<Output = Result<GetStream<'a>>> + Send + 'a>>,
    > = None;
    Box::pin(PollStream(move |cx: &mut Context<'_>| {
        loop {
            if let Some(body) = current.as_mut() {
                match body.as_mut().poll_next(cx) {
                    Poll::Ready(None) => current = None,
                    other => return other,
                }
            }
            if let Some(f) = opening.as_mut() {
                match f.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => {
                        opening = None;
                        index = parts.len();
                        return Poll::Ready(Some(Err(e)));
                    }
                    Poll::Ready(Ok(g)) => {
                        opening = None;
                        current = Some(g.body);
                        continue;
                    }
                }
            }
            let Some(p) = parts.get(index) else {
                return Poll::Ready(None);
            };
            index += 1;
            let get = match &p.range {
                Some(r) => GetOptions::new().with_range(r.clone()),
                None => GetOptions::new(),
            };
            opening = Some(Box::pin(get_stream_by_ranges(store, &p.key, get)));
        }
    }))
}

/// A stream from a poll function.
pub(crate) struct PollStream<F>(pub(crate) F);

impl<F> Unpin for PollStream<F> {}

impl<F: FnMut(&mut Context<'_>) -> Poll<Option<Result<Bytes>>>> Stream for PollStream<F> {
    type Item = Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        (self.0)(cx)
    }
}
