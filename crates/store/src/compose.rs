//! Server-side concatenation: [`ComposePart`] and the generic
//! [`compose_by_copy`] that [`Store::compose`] falls back to.

use crate::{ByteRange, GetOptions, Key, PutOptions, PutResult, Result, Store};
use bytes::BytesMut;

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
    /// The bytes of it to use (resolved like [`GetOptions::range`]); all of it
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

/// The portable [`Store::compose`]: reads every part, concatenates them in
/// memory and puts the result under `options`.
///
/// Backends that override `compose` call it for the cases their fast path
/// does not cover. It needs memory for the whole result.
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
    let mut chunks = Vec::with_capacity(parts.len());
    let mut total = 0u64;
    for p in parts {
        let get = match &p.range {
            Some(r) => GetOptions::new().with_range(r.clone()),
            None => GetOptions::new(),
        };
        let r = store.get(&p.key, get).await?;
        total += r.data.len() as u64;
        chunks.push(r.data);
    }
    let value = if let [one] = &chunks[..] {
        one.clone()
    } else {
        let mut out = BytesMut::with_capacity(usize::try_from(total).unwrap_or(0));
        for c in &chunks {
            out.extend_from_slice(c);
        }
        out.freeze()
    };
    store.put(target, value, options).await
}
