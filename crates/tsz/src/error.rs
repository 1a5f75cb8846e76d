//! The crate's single error type.

use thiserror::Error;

/// Everything that can go wrong while encoding or decoding.
///
/// Decoders never panic on hostile input: every malformed, truncated or
/// corrupted byte sequence yields one of these variants.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// More points were given (or declared) than a chunk may hold.
    #[error("too many points: {count} (maximum {max})")]
    TooManyPoints {
        /// Number of points given or declared.
        count: usize,
        /// The applicable maximum.
        max: usize,
    },
    /// Timestamps inside a chunk must be non-decreasing.
    #[error("timestamp at index {index} ({current}) is smaller than the previous one ({previous})")]
    UnsortedTimestamps {
        /// Index of the offending point.
        index: usize,
        /// Timestamp of the point before it.
        previous: i64,
        /// Timestamp of the offending point.
        current: i64,
    },
    /// Timestamp and value columns of different lengths were given.
    #[error("column length mismatch: {timestamps} timestamps, {values} values")]
    ColumnLengthMismatch {
        /// Number of timestamps.
        timestamps: usize,
        /// Number of values.
        values: usize,
    },
    /// The input does not start with the chunk magic bytes.
    #[error("bad magic bytes: not a blocksmith-tsz chunk")]
    BadMagic,
    /// The chunk was written by an unknown (newer) format version.
    #[error("unsupported chunk format version {0}")]
    UnsupportedVersion(u8),
    /// The chunk names a codec this build does not know.
    #[error("unknown codec id {0}")]
    UnknownCodec(u8),
    /// The chunk names a time unit this build does not know.
    #[error("unknown time unit id {0}")]
    UnknownTimeUnit(u8),
    /// The input ended before the structure it describes was complete.
    #[error("input truncated: {0}")]
    Truncated(&'static str),
    /// A checksum did not match: the bytes were corrupted.
    #[error("checksum mismatch in {what}: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch {
        /// Which checksum failed (`"header"` or `"chunk"`).
        what: &'static str,
        /// The checksum stored in the input.
        stored: u32,
        /// The checksum computed over the input.
        computed: u32,
    },
    /// The input is structurally invalid.
    #[error("corrupt input: {0}")]
    Corrupt(&'static str),
    /// Bytes were left over after a complete structure was decoded.
    #[error("{0} unexpected trailing bytes")]
    TrailingBytes(usize),
    /// A point is older than the sealed chunks and the series rejects late writes.
    #[error(
        "timestamp {timestamp} is older than the sealed data (sealed until {sealed_until}); late writes are rejected by this series"
    )]
    LateWrite {
        /// The rejected point's timestamp.
        timestamp: i64,
        /// The newest timestamp in the sealed chunks.
        sealed_until: i64,
    },
    /// A series was opened with a configuration that contradicts what is stored.
    #[error("series {series}: {reason}")]
    SeriesMismatch {
        /// The series name.
        series: String,
        /// What differs.
        reason: String,
    },
    /// The storage layer failed.
    #[error(transparent)]
    Store(#[from] blocksmith_store::Error),
}

/// Shorthand for `std::result::Result<T, blocksmith_tsz::Error>`.
pub type Result<T> = std::result::Result<T, Error>;
