//! Plain data types shared by every backend.

use crate::{Error, Key, Result};
use bytes::Bytes;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// An opaque version tag. Every successful put yields a new one; a
/// compare-and-swap put names the version it expects to replace.
///
/// Versions are never reused for a key, even after a delete and re-create, so
/// a stale compare-and-swap cannot succeed by accident (no ABA).
#[derive(Clone)]
pub struct Version(Repr);

/// A number's hex digits kept inline (what the embedded backends make, once
/// per object a listing returns: no allocation), or a shared string.
#[derive(Clone)]
enum Repr {
    Hex { buf: [u8; 16], at: usize },
    Shared(Arc<str>),
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Version {}

impl std::hash::Hash for Version {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl Version {
    /// Wraps a backend's version string (an ETag, a counter).
    pub fn new(v: impl Into<Arc<str>>) -> Self {
        Version(Repr::Shared(v.into()))
    }

    /// A version from a number (what the embedded backends use): its
    /// lower-case hex digits, as `format!("{v:x}")` writes them.
    pub fn from_u64(v: u64) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [0u8; 16];
        let mut at = buf.len();
        let mut n = v;
        loop {
            at -= 1;
            buf[at] = HEX[(n & 15) as usize];
            n >>= 4;
            if n == 0 {
                break;
            }
        }
        Version(Repr::Hex { buf, at })
    }

    /// The version as a string; only meaningful to the backend that made it.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Hex digits are ASCII: never the empty fallback.
            Repr::Hex { buf, at } => std::str::from_utf8(&buf[*at..]).unwrap_or_default(),
            Repr::Shared(s) => s,
        }
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.as_str())
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a store knows about one object without reading it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The key.
    pub key: Key,
    /// Size in bytes.
    pub size: u64,
    /// The current version.
    pub version: Version,
}

/// A byte range of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// `start..end`; `end` past the object's end is clamped, `start` must be inside.
    Bounded(Range<u64>),
    /// From `start` to the end; `start` must be inside the object.
    From(u64),
    /// The last `n` bytes (the whole object if it is shorter); `n` must be positive.
    Suffix(u64),
}

impl ByteRange {
    /// Resolves the range against an object of `size` bytes, with the same rules
    /// in every backend (they match `object_store`'s and HTTP's).
    ///
    /// # Errors
    /// [`Error::InvalidRange`] if a bounded range is empty or starts at or past `size`, a `From`
    /// starts at or past `size`, or a suffix is of zero bytes or the object is empty.
    pub fn resolve(&self, key: &Key, size: u64) -> Result<Range<u64>> {
        let bad = || Error::InvalidRange {
            key: key.to_string(),
            range: self.to_string(),
            size,
        };
        match *self {
            ByteRange::Bounded(ref r) => {
                if r.start >= r.end || r.start >= size {
                    return Err(bad());
                }
                Ok(r.start..r.end.min(size))
            }
            ByteRange::From(start) => {
                if start >= size {
                    return Err(bad());
                }
                Ok(start..size)
            }
            ByteRange::Suffix(n) => {
                if n == 0 || size == 0 {
                    return Err(bad());
                }
                Ok(size.saturating_sub(n)..size)
            }
        }
    }
}

impl fmt::Display for ByteRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ByteRange::Bounded(r) => write!(f, "bytes={}-{}", r.start, r.end.saturating_sub(1)),
            ByteRange::From(s) => write!(f, "bytes={s}-"),
            ByteRange::Suffix(n) => write!(f, "bytes=-{n}"),
        }
    }
}

impl From<Range<u64>> for ByteRange {
    fn from(r: Range<u64>) -> Self {
        ByteRange::Bounded(r)
    }
}

/// Options of [`crate::Store::get`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GetOptions {
    /// Read only these bytes.
    pub range: Option<ByteRange>,
}

impl GetOptions {
    /// Reads the whole object.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads only `range`.
    #[must_use]
    pub fn with_range(mut self, range: impl Into<ByteRange>) -> Self {
        self.range = Some(range.into());
        self
    }
}

/// The answer of [`crate::Store::get`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetResult {
    /// The object's metadata (its full size, not the range's).
    pub meta: ObjectMeta,
    /// Which bytes `data` holds.
    pub range: Range<u64>,
    /// The bytes.
    pub data: Bytes,
}

/// How a put treats an existing value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PutMode {
    /// Replace whatever is there.
    #[default]
    Overwrite,
    /// Fail with [`Error::AlreadyExists`] if the key exists.
    Create,
    /// Compare-and-swap: write only if the current version is this one, else
    /// fail with [`Error::PreconditionFailed`] (also when the key is missing).
    Update(Version),
}

/// Options of [`crate::Store::put`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PutOptions {
    /// The write condition.
    pub mode: PutMode,
}

impl PutOptions {
    /// Overwrite.
    pub fn new() -> Self {
        Self::default()
    }

    /// Create-only.
    pub fn create() -> Self {
        Self {
            mode: PutMode::Create,
        }
    }

    /// Compare-and-swap against `version`.
    pub fn update(version: Version) -> Self {
        Self {
            mode: PutMode::Update(version),
        }
    }

    /// Sets the mode.
    #[must_use]
    pub fn with_mode(mut self, mode: PutMode) -> Self {
        self.mode = mode;
        self
    }
}

impl From<PutMode> for PutOptions {
    fn from(mode: PutMode) -> Self {
        Self { mode }
    }
}

/// The answer of [`crate::Store::put`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutResult {
    /// The version now stored.
    pub version: Version,
}

/// Options of [`crate::Store::list`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListOptions {
    /// Only keys starting with this string (a plain string prefix: `"a/b"`
    /// matches `a/b`, `a/b/c` and `a/bc`). Empty lists everything.
    pub prefix: String,
    /// Only keys strictly after this one in byte order (for pagination).
    pub start_after: Option<Key>,
    /// At most this many keys per page (default 1000, minimum 1).
    pub limit: usize,
}

impl Default for ListOptions {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            start_after: None,
            limit: 1000,
        }
    }
}

impl ListOptions {
    /// Everything, first page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys under `prefix`.
    pub fn prefix(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            ..Self::default()
        }
    }

    /// Continues after `key`.
    #[must_use]
    pub fn with_start_after(mut self, key: Option<Key>) -> Self {
        self.start_after = key;
        self
    }

    /// Sets the page size.
    #[must_use]
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = limit.max(1);
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        crate::key::validate_prefix(&self.prefix)
    }

    pub(crate) fn matches(&self, key: &str) -> bool {
        key.starts_with(self.prefix.as_str())
            && self
                .start_after
                .as_ref()
                .is_none_or(|after| key > after.as_str())
    }
}

/// One page of a listing, in ascending key byte order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListPage {
    /// The objects on this page.
    pub objects: Vec<ObjectMeta>,
    /// Pass as `start_after` to get the next page; `None` on the last page.
    pub next: Option<Key>,
}

impl ListPage {
    /// Builds a page from up to `limit + 1` sorted candidates.
    pub(crate) fn from_sorted(mut objects: Vec<ObjectMeta>, limit: usize) -> Self {
        let next = if objects.len() > limit {
            objects.truncate(limit);
            objects.last().map(|m| m.key.clone())
        } else {
            None
        };
        ListPage { objects, next }
    }
}

/// What a backend can do. Optional abilities are flags, not methods that
/// silently do the wrong thing: the conformance suite skips (and says so) what a
/// backend does not declare, and callers can refuse to start on a store that
/// lacks what they need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(clippy::struct_excessive_bools)] // independent flags, not a state machine
pub struct Capabilities {
    /// [`PutMode::Create`] is atomic.
    pub create_only: bool,
    /// [`PutMode::Update`] is atomic (compare-and-swap).
    pub compare_and_swap: bool,
    /// Conditions hold across processes sharing the store, not only threads.
    pub cross_process: bool,
    /// A successful put survives a crash of the process or the machine.
    pub durable: bool,
    /// Largest value accepted, if limited.
    pub max_value_size: Option<u64>,
    /// Multipart uploads ([`crate::Store::create_multipart`] and the calls
    /// after it), with the part sizes the backend accepts; `None` when the
    /// backend has none (its multipart calls fail with
    /// [`Error::Unsupported`]).
    pub multipart: Option<crate::MultipartLimits>,
}

impl Capabilities {
    /// Every condition, durable, unlimited; no multipart uploads (a backend
    /// that has them declares them with [`Capabilities::with_multipart`]).
    pub const FULL: Capabilities = Capabilities {
        create_only: true,
        compare_and_swap: true,
        cross_process: true,
        durable: true,
        max_value_size: None,
        multipart: None,
    };

    /// Sets `durable`.
    #[must_use]
    pub const fn with_durable(mut self, v: bool) -> Self {
        self.durable = v;
        self
    }

    /// Sets `cross_process`.
    #[must_use]
    pub const fn with_cross_process(mut self, v: bool) -> Self {
        self.cross_process = v;
        self
    }

    /// Sets `create_only`.
    #[must_use]
    pub const fn with_create_only(mut self, v: bool) -> Self {
        self.create_only = v;
        self
    }

    /// Sets `compare_and_swap`.
    #[must_use]
    pub const fn with_compare_and_swap(mut self, v: bool) -> Self {
        self.compare_and_swap = v;
        self
    }

    /// Sets `max_value_size`.
    #[must_use]
    pub const fn with_max_value_size(mut self, v: Option<u64>) -> Self {
        self.max_value_size = v;
        self
    }

    /// Sets `multipart`.
    #[must_use]
    pub const fn with_multipart(mut self, v: Option<crate::MultipartLimits>) -> Self {
        self.multipart = v;
        self
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn numeric_versions_are_their_hex_digits_and_equal_the_same_string() {
        use std::hash::{BuildHasher, RandomState};
        let hasher = RandomState::new();
        for v in [0u64, 1, 15, 16, 255, 0xdead_beef, u64::MAX] {
            let n = Version::from_u64(v);
            let s = Version::new(format!("{v:x}"));
            assert_eq!(n.as_str(), format!("{v:x}"));
            assert_eq!(n, s);
            assert_eq!(hasher.hash_one(&n), hasher.hash_one(&s));
            assert_eq!(n.to_string(), s.to_string());
        }
        assert_ne!(Version::from_u64(1), Version::from_u64(16));
    }

    use super::*;

    #[test]
    fn ranges_resolve_like_http() {
        let k = Key::new("k").unwrap();
        assert_eq!(ByteRange::Bounded(2..5).resolve(&k, 10).unwrap(), 2..5);
        assert_eq!(ByteRange::Bounded(2..50).resolve(&k, 10).unwrap(), 2..10);
        assert!(ByteRange::Bounded(10..12).resolve(&k, 10).is_err());
        assert!(ByteRange::Bounded(3..3).resolve(&k, 10).is_err());
        assert_eq!(ByteRange::From(9).resolve(&k, 10).unwrap(), 9..10);
        assert!(ByteRange::From(10).resolve(&k, 10).is_err());
        assert_eq!(ByteRange::Suffix(3).resolve(&k, 10).unwrap(), 7..10);
        assert_eq!(ByteRange::Suffix(30).resolve(&k, 10).unwrap(), 0..10);
        assert!(ByteRange::Suffix(0).resolve(&k, 10).is_err());
        assert!(ByteRange::Suffix(1).resolve(&k, 0).is_err());
    }
}
