//! The one error type of `blocksmith-store`.

use std::fmt;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to a store.
///
/// The variants a caller branches on are stable: [`Error::NotFound`],
/// [`Error::AlreadyExists`] (create-only put on an existing key) and
/// [`Error::PreconditionFailed`] (compare-and-swap lost the race). Everything a
/// backend cannot classify is [`Error::Backend`], with the original error as its
/// source and a flag saying whether retrying may help.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key does not exist.
    #[error("key not found: {key}")]
    NotFound {
        /// The key that was asked for.
        key: String,
    },
    /// A create-only put found the key already present.
    #[error("key already exists: {key}")]
    AlreadyExists {
        /// The key that was written.
        key: String,
    },
    /// A compare-and-swap put found another version than the one expected
    /// (or no value at all).
    #[error("precondition failed for {key}: the stored version is not the expected one")]
    PreconditionFailed {
        /// The key that was written.
        key: String,
    },
    /// A key was rejected at construction.
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The rejected input (truncated to 64 characters).
        key: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A byte range cannot be served for an object of this size.
    #[error("invalid range {range} for {key} of {size} bytes")]
    InvalidRange {
        /// The object.
        key: String,
        /// The requested range, human readable.
        range: String,
        /// The object's size.
        size: u64,
    },
    /// The backend does not support this operation (see [`crate::Capabilities`]).
    #[error("{backend} does not support {operation}")]
    Unsupported {
        /// The backend's name.
        backend: &'static str,
        /// The operation, e.g. `"compare-and-swap put"`.
        operation: &'static str,
    },
    /// A multipart upload was given parts that do not make a whole: a
    /// completion naming parts other than `1..=n` in order (a part missing,
    /// repeated or out of place), or a part number outside the backend's
    /// limits ([`crate::MultipartLimits`]).
    #[error("invalid multipart upload of {key}: {reason}")]
    InvalidMultipart {
        /// The object being uploaded.
        key: String,
        /// What is wrong with the parts.
        reason: String,
    },
    /// Stored bytes are not what this crate wrote (a torn file, a foreign file,
    /// a record of another type).
    #[error("corrupt data at {key}: {reason}")]
    Corrupt {
        /// Where the data was read.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A typed record was written by another schema version than the reader's.
    #[error("record {key} has schema {kind} v{found}, reader expects v{expected}")]
    SchemaMismatch {
        /// Where the record was read.
        key: String,
        /// The record kind.
        kind: String,
        /// The version the reader understands.
        expected: u32,
        /// The version found in the envelope.
        found: u32,
    },
    /// A typed record could not be (de)serialized.
    #[error("record {key} could not be (de)serialized")]
    Serde {
        /// Where the record was read or written.
        key: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// A compare-and-swap helper gave up after this many attempts.
    #[error("gave up on {key} after {attempts} conflicting attempts")]
    TooManyConflicts {
        /// The contended key.
        key: String,
        /// How many attempts were made.
        attempts: u32,
    },
    /// An I/O error from a local backend.
    #[error("i/o error: {context}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Any other backend failure.
    #[error("{backend} backend error")]
    Backend {
        /// The backend's name.
        backend: &'static str,
        /// Whether retrying the same call may succeed (network hiccup, lock timeout).
        temporary: bool,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A call did not finish within the time limit the backend was given
    /// (`PostgresOptions::call_timeout`). Temporary; like any error after
    /// a request went out, a write that timed out may still have taken
    /// effect (its commit was on its way), so read before writing again
    /// where that matters.
    #[error("{backend} call did not finish within {after:?}")]
    TimedOut {
        /// The backend's name.
        backend: &'static str,
        /// The limit that passed.
        after: std::time::Duration,
    },
    /// An error of the caller's, carried through a store call: what an
    /// [`crate::StoreExt::update`] closure returns when its own logic fails
    /// (see [`Error::other`]). The original error is the source; find it with
    /// `std::error::Error::source` and `downcast_ref`.
    #[error("the caller's operation failed")]
    Other {
        /// The caller's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// True when the error says the key does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    /// True for a failed write condition (create-only or compare-and-swap).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Error::AlreadyExists { .. } | Error::PreconditionFailed { .. }
        )
    }

    /// True when the same call may succeed if retried.
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::Backend { temporary, .. } => *temporary,
            Error::TimedOut { .. } => true,
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
            ),
            _ => false,
        }
    }

    /// An I/O error from the caller's side of a stream (a reader feeding a
    /// [`crate::ByteStream`], such as `tokio_util::io::ReaderStream`), as
    /// [`Error::Io`].
    pub fn from_io(source: std::io::Error) -> Self {
        Error::Io {
            context: "reading the body".to_string(),
            source,
        }
    }

    /// Wraps an error of the caller's, so that a closure handed to a store
    /// helper ([`crate::StoreExt::update`], [`crate::StoreExt::update_record`])
    /// can fail with it and the caller get it back.
    ///
    /// ```
    /// use blocksmith_store::{Error, Key, MemoryStore, StoreExt};
    /// let store = MemoryStore::new();
    /// let key = Key::new("counters/n").unwrap();
    /// let err = store.blocking().update(&key, |old| match old {
    ///     Some(v) => Ok(Some(v.clone())),
    ///     None => Err(Error::other(std::io::Error::other("no counter yet"))),
    /// }).unwrap_err();
    /// assert!(matches!(err, Error::Other { .. }));
    /// // The message names the failure; the caller's error is its source.
    /// let source = std::error::Error::source(&err).unwrap();
    /// assert_eq!(source.to_string(), "no counter yet");
    /// ```
    pub fn other(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Other {
            source: Box::new(source),
        }
    }

    pub(crate) fn io(context: impl fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            context: context.to_string(),
            source,
        }
    }

    #[cfg_attr(
        not(any(feature = "redb", feature = "object-store", feature = "postgres")),
        allow(dead_code)
    )]
    pub(crate) fn backend(
        backend: &'static str,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Backend {
            backend,
            temporary: false,
            source: Box::new(source),
        }
    }
}
