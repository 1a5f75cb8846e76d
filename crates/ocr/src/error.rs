//! The crate's one error type.

/// Everything that can go wrong in `blocksmith-ocr`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The recognizer's model bytes are damaged or of another version (the detail says how).
    #[error("invalid recognizer model")]
    InvalidModel(#[from] crate::builtin::model::ModelError),
    /// Font bytes (for rendering pages) could not be parsed.
    #[error("invalid font data: {0}")]
    InvalidFont(String),
    /// The bytes are not a format this crate reads (PNG, JPEG, TIFF, PBM/PGM).
    #[error("unrecognised image format")]
    UnknownFormat,
    /// The input is larger than [`crate::Limits::max_bytes`].
    #[error("input of {bytes} bytes exceeds the limit of {max} bytes")]
    TooManyBytes {
        /// Input size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// The header declares dimensions over the width/height limits.
    #[error("image of {width}x{height} exceeds the limit of {max_width}x{max_height}")]
    DimensionsTooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// Width limit.
        max_width: u32,
        /// Height limit.
        max_height: u32,
    },
    /// The header declares more pixels than [`crate::Limits::max_pixels`].
    #[error("image of {pixels} pixels exceeds the limit of {max} pixels")]
    TooManyPixels {
        /// Declared pixel count.
        pixels: u64,
        /// The limit.
        max: u64,
    },
    /// A multi-page file has more pages than [`crate::Limits::max_pages`].
    #[error("document has more than {max} pages")]
    TooManyPages {
        /// The limit.
        max: usize,
    },
    /// The image has a zero width or height.
    #[error("image has no pixels")]
    EmptyImage,
    /// The file is damaged or uses an unsupported feature of its format.
    #[error("corrupt or unsupported {format} data: {message}")]
    Corrupt {
        /// The format that was being decoded.
        format: &'static str,
        /// What the decoder said.
        message: String,
    },
    /// An option is out of range.
    #[error("invalid option: {0}")]
    InvalidOptions(String),
    /// The recognizer panicked while reading a line.
    #[error("recognizer failed: {0}")]
    Recognizer(String),
    /// A serialised document or job record could not be read.
    #[error("invalid serialised data: {0}")]
    Serde(String),
    /// No job with this id.
    #[error("no such job: {0}")]
    JobNotFound(String),
    /// The job exists but has no result (yet, or any more).
    #[error("job {id} has no result: {state}")]
    NoResult {
        /// The job id.
        id: String,
        /// Its state, human readable.
        state: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] blocksmith_store::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
