//! The crate's error type.

/// Everything that can go wrong in `blocksmith-feed`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] blocksmith_store::Error),
    /// A user id beyond [`crate::FeedOptions::max_users`].
    #[error("user id {id} is out of range (max_users is {max})")]
    UserOutOfRange {
        /// The id.
        id: u32,
        /// The configured bound.
        max: u32,
    },
    /// A post id that was never created.
    #[error("unknown post {0}")]
    UnknownPost(u64),
    /// A post that was deleted (it cannot be reshared or interacted with).
    #[error("post {0} is deleted")]
    DeletedPost(u64),
    /// An operation that makes no sense (following yourself, resharing a reshare...).
    #[error("invalid operation: {0}")]
    Invalid(String),
    /// A cursor that is malformed, forged, or issued for another user or feed.
    #[error("invalid cursor: {0}")]
    InvalidCursor(&'static str),
    /// An authentic cursor older than [`crate::FeedOptions::cursor_max_age_ms`].
    #[error("cursor expired: issued at {issued} ms, read at {now} ms, max age {max_age_ms} ms")]
    CursorExpired {
        /// When the cursor was issued (its authenticated issue time).
        issued: i64,
        /// The `now` of the read that presented it.
        now: i64,
        /// The configured limit.
        max_age_ms: i64,
    },
    /// Another writer saved the feed first: this feed's changes were not
    /// saved (see [`crate::FeedStore::update`]).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store's reply to a save's commit was lost, and the log no longer
    /// tells whether it took effect. The feed keeps the save as in doubt:
    /// the next [`crate::FeedStore::save`] or [`crate::FeedStore::update`]
    /// settles it.
    #[error("save {generation} may or may not have committed")]
    InDoubt {
        /// The generation the save would have.
        generation: u64,
    },
    /// Bytes that do not decode (a persisted record, an inbox block).
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// What was being decoded.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
