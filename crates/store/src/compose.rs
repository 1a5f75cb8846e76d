//! Server-side concatenation: [`ComposePart`] and the generic
//! [`compose_by_copy`] that [`Store::compose`] falls back to.

use crate::{ByteRange, Key, PutOptions, PutResult, Result, Store};

/// One piece of a [`Store::compose`]: a whole object, or a byte range of it.
///
/// ```
/// use blocksmith_store::{ByteRange, ComposePart, Key};
/// let whole = ComposePart::new(Key::new("parts/0").unwrap());
/// let tail = ComposePart::new(Key::new("parts/1").unwrap()).with_range(ByteRange::From(10));
/// assert!(whole.range.is_none() && tail.range.is_some());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ComposePart {
    /// The source object.
    pub key: Key,
    /// The bytes of it to use (resolved like the range of [`crate::GetOptions::with_range`]); all of it
    /// when `None`.
    pub range: Option<ByteRange>,
}

impl ComposePart {
    /// The whole object at `key`.
    pub fn new(key: Key) -> Self {
        ComposePart { key, range: None }
    }

    /// Only `range` of the object.
    #[must_use]
    pub fn with_range(mut self, range: impl Into<ByteRange>) -> Self {
        self.range = Some(range.into());
        self
    }
}

impl From<Key> for ComposePart {
    fn from(key: Key) -> Self {
        ComposePart::new(key)
    }
}

/// The portable [`Store::compose`]: streams every part, in windows, into
/// [`Store::put_stream`] under `options`.
///
/// Backends that override `compose` call it for the cases their fast path
/// does not cover. With a backend whose `put_stream` writes chunk by chunk
/// (every backend of this crate) it needs memory for a few windows
/// ([`crate::STREAM_CHUNK`]), whatever the size of the parts. A part
/// replaced while it is read fails the compose with
/// [`crate::Error::PreconditionFailed`], and nothing is written.
///
/// # Errors
/// [`crate::Error::NotFound`] for a missing part, [`crate::Error::InvalidRange`] for a range
/// outside its part, and whatever the final put returns.
pub async fn compose_by_copy<S: Store + ?Sized>(
    store: &S,
    target: &Key,
    parts: &[ComposePart],
    options: PutOptions,
) -> Result<PutResult> {
    store
        .put_stream(target, crate::stream::parts_stream(store, parts), options)
        .await
}
