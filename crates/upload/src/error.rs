//! The one error type of `blocksmith-upload`.

use std::ops::Range;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in an upload.
///
/// Variants a protocol layer maps to status codes are stable:
/// [`Error::NotFound`] (404), [`Error::Gone`] (410), [`Error::OffsetMismatch`]
/// (409), [`Error::ChecksumMismatch`] (460), [`Error::TooLarge`] (413),
/// [`Error::ContentTypeNotAllowed`] and [`Error::CannotStrip`] (415),
/// [`Error::ImageTooLarge`] and [`Error::ImageBytesTooLarge`] (413), the rest
/// of the validation errors (400).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] blocksmith_store::Error),
    /// No such upload session.
    #[error("no upload session {id}")]
    NotFound {
        /// The session id.
        id: String,
    },
    /// The session expired, was aborted or was already finalized and cleaned up.
    #[error("upload session {id} is gone: {reason}")]
    Gone {
        /// The session id.
        id: String,
        /// Why.
        reason: &'static str,
    },
    /// A session id is not 1-64 characters of `[A-Za-z0-9_-]`.
    #[error("invalid upload id {id:?}")]
    InvalidId {
        /// The rejected id (truncated).
        id: String,
    },
    /// The object, or a part, is larger than allowed.
    #[error("{what} of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// What was too large (`"upload"`, `"part"`, `"image"` ...).
        what: &'static str,
        /// Its size (bytes, or pixels for images).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A part smaller than the minimum part size that is not the last one.
    #[error("part of {size} bytes at offset {offset} is below the minimum part size {min}")]
    PartTooSmall {
        /// Where it starts.
        offset: u64,
        /// Its size.
        size: u64,
        /// The minimum.
        min: u64,
    },
    /// More parts than allowed.
    #[error("upload would have more than {limit} parts")]
    TooManyParts {
        /// The limit.
        limit: u64,
    },
    /// A part reaches past the declared length, or a length contradicts the data.
    #[error("bytes {range:?} do not fit an upload of {length} bytes")]
    OutOfBounds {
        /// The offending range.
        range: Range<u64>,
        /// The declared length.
        length: u64,
    },
    /// A part overlaps bytes already received with other content or bounds.
    #[error("bytes {range:?} overlap a part already received")]
    Overlap {
        /// The offending range.
        range: Range<u64>,
    },
    /// The client's offset is not where the upload continues (tus `PATCH`).
    #[error("offset {got} does not match the upload offset {expected}")]
    OffsetMismatch {
        /// The offset the server expects.
        expected: u64,
        /// The offset the client sent.
        got: u64,
    },
    /// Data does not match the checksum sent with it (or the full-file checksum).
    #[error("{what} checksum mismatch ({algorithm}){}", discarded(.what))]
    ChecksumMismatch {
        /// `"part"` or `"upload"`.
        what: &'static str,
        /// The algorithm.
        algorithm: &'static str,
    },
    /// Resuming from a source whose bytes differ from the ones the session
    /// already holds (the file changed since the upload began). Nothing was
    /// sent: abort the session, or upload under another id.
    #[error(
        "upload {id}: the bytes stored at {range:?} differ from the source's (it changed since the upload began)"
    )]
    SourceChanged {
        /// The session id.
        id: String,
        /// The first stored range that differs.
        range: Range<u64>,
    },
    /// A stored part fails its checksum: it was deleted and must be sent again.
    #[error("stored part {range:?} is corrupt and was discarded; send it again")]
    CorruptPart {
        /// Bytes to re-send.
        range: Range<u64>,
    },
    /// Finalization asked for while bytes are missing.
    #[error("upload incomplete: {missing} bytes missing, first gap {first:?}")]
    Incomplete {
        /// How many bytes are missing.
        missing: u64,
        /// The first missing range.
        first: Range<u64>,
    },
    /// The upload length is still unknown (deferred) where it is needed.
    #[error("upload length not declared yet")]
    LengthUnknown,
    /// The length was already declared with another value.
    #[error("upload length already declared as {declared}, got {got}")]
    LengthConflict {
        /// The declared length.
        declared: u64,
        /// The new value.
        got: u64,
    },
    /// The content type found by magic bytes is not on the allowed list.
    #[error("content type {found} is not allowed")]
    ContentTypeNotAllowed {
        /// The sniffed type (`application/octet-stream` if unknown).
        found: String,
    },
    /// An image declares more pixels than allowed (a decompression bomb).
    #[error("image of {width}x{height} pixels exceeds the limit of {limit} pixels")]
    ImageTooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The pixel limit.
        limit: u64,
    },
    /// An image upload is larger than [`crate::UploadOptions::max_image_bytes`].
    #[error("image of {size} bytes exceeds the limit of {limit} bytes for images")]
    ImageBytesTooLarge {
        /// Its size in bytes.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Metadata stripping was asked for an image format it cannot strip
    /// (BMP, TIFF, HEIF, AVIF): refused rather than published with its
    /// metadata.
    #[error("metadata cannot be stripped from {format} images")]
    CannotStrip {
        /// The format.
        format: &'static str,
    },
    /// Malformed image headers.
    #[error("invalid {format} image: {reason}")]
    InvalidImage {
        /// The format.
        format: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// The publication key holds another object already.
    #[error("object {key} already exists with other content")]
    TargetExists {
        /// The key.
        key: String,
    },
    /// The operation does not apply to the session's state.
    #[error("upload session {id}: {reason}")]
    InvalidState {
        /// The session id.
        id: String,
        /// Why.
        reason: &'static str,
    },
    /// A manifest, checksum header or other encoded input is malformed.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was being decoded.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// A content-addressed chunk is missing or does not match its hash.
    #[error("chunk {hash} is missing or corrupt")]
    ChunkMissing {
        /// The chunk's hex hash.
        hash: String,
    },
    /// The operating system's random source failed.
    #[error("random source failed: {0}")]
    Random(String),

    /// Reading the upload's source failed (a client-side file).
    #[error("reading the upload source failed")]
    Source(#[from] std::io::Error),
}

/// What a whole-upload checksum mismatch did to the session's parts.
fn discarded(what: &str) -> &'static str {
    if what == "upload" {
        "; its parts were discarded, send the bytes again"
    } else {
        ""
    }
}

impl Error {
    pub(crate) fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what,
            reason: reason.into(),
        }
    }
}
