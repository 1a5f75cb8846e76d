//! The crate's one error type.

/// Everything that can go wrong in `blocksmith-codes`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The payload cannot be encoded in the requested symbology (wrong
    /// characters, wrong length, too long for the chosen version).
    #[error("cannot encode as {symbology}: {reason}")]
    Encode {
        /// The symbology asked for.
        symbology: &'static str,
        /// Why the encoder refused.
        reason: String,
    },
    /// An option is out of range or options contradict each other.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The colour pair is too close to scan reliably.
    #[error(
        "colours {fg} on {bg} have contrast {ratio:.2}:1, below the minimum {min:.2}:1{}",
        if *.inverted { " (and the foreground is lighter than the background)" } else { "" }
    )]
    LowContrast {
        /// Foreground (dark modules) colour, `#rrggbb`.
        fg: String,
        /// Background colour, `#rrggbb`.
        bg: String,
        /// The WCAG contrast ratio of the pair.
        ratio: f64,
        /// The minimum that was required.
        min: f64,
        /// The foreground is lighter than the background (inverted code).
        inverted: bool,
    },
    /// The centre logo would hide more modules than the error correction can repair.
    #[error(
        "logo covers about {needed} codewords but error correction level {level} leaves a budget of {budget}"
    )]
    LogoTooLarge {
        /// Codewords the logo damages (estimate, rounded up).
        needed: usize,
        /// Codewords the code may lose to the logo.
        budget: usize,
        /// The error correction level.
        level: String,
    },
    /// The image bytes could not be decoded as an image.
    #[error("invalid image: {0}")]
    Image(String),
    /// The input is longer than [`crate::ScanOptions::max_input_bytes`].
    #[error("input of {size} bytes exceeds the limit of {limit} bytes")]
    InputTooLarge {
        /// Its length in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The image exceeds a configured limit.
    #[error("image {width}x{height} exceeds the limit of {limit}")]
    ImageTooLarge {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The limit that was exceeded, in words.
        limit: String,
    },
    /// A rendered code did not decode back to its payload.
    #[error("verification failed: {0}")]
    Verify(String),
    /// A barcode decoder panicked on this input (caught at the boundary).
    #[error("decoder failure on this input: {0}")]
    DecoderPanic(String),
    /// A GTIN is malformed.
    #[error("invalid GTIN {gtin:?}: {reason}")]
    Gtin {
        /// The input.
        gtin: String,
        /// What is wrong.
        reason: GtinError,
    },
    /// A GS1 element string or Digital Link is malformed.
    #[error("invalid GS1 data at byte {offset}: {reason}")]
    Gs1 {
        /// Byte offset in the input where the problem was found.
        offset: usize,
        /// What is wrong.
        reason: Gs1Error,
    },
    /// A persisted record could not be used.
    #[error(transparent)]
    Store(#[from] blocksmith_store::Error),
    /// Writing an output failed.
    #[error("i/o error")]
    Io(#[from] std::io::Error),
}

/// What is wrong with a GTIN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GtinError {
    /// Not 8, 12, 13 or 14 characters.
    #[error("length {0} is not 8, 12, 13 or 14")]
    Length(usize),
    /// A character that is not an ASCII digit.
    #[error("non-digit at position {0}")]
    NonDigit(usize),
    /// The check digit does not match.
    #[error("check digit {found} should be {expected}")]
    CheckDigit {
        /// The digit present.
        found: u8,
        /// The digit computed.
        expected: u8,
    },
}

/// What is wrong with a GS1 element string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Gs1Error {
    /// The input is empty.
    #[error("empty input")]
    Empty,
    /// An Application Identifier that is not in the table.
    #[error("unknown application identifier starting {0:?}")]
    UnknownAi(String),
    /// The data ended inside an AI or a fixed-length field.
    #[error("truncated field for AI {0}")]
    Truncated(String),
    /// A field is longer than its AI allows.
    #[error("AI {ai}: {len} characters exceed the maximum {max}")]
    TooLong {
        /// The AI.
        ai: String,
        /// Length found.
        len: usize,
        /// Maximum.
        max: usize,
    },
    /// A field is empty or shorter than its AI requires.
    #[error("AI {ai}: {len} characters, fewer than the minimum {min}")]
    TooShort {
        /// The AI.
        ai: String,
        /// Length found.
        len: usize,
        /// Minimum.
        min: usize,
    },
    /// A character not allowed in this field.
    #[error("AI {ai}: invalid character {ch:?}")]
    BadChar {
        /// The AI.
        ai: String,
        /// The character.
        ch: char,
    },
    /// A GTIN field whose check digit fails.
    #[error("AI {ai}: check digit mismatch")]
    CheckDigit {
        /// The AI.
        ai: String,
    },
    /// A date field that is not a valid YYMMDD.
    #[error("AI {ai}: invalid date {value:?}")]
    BadDate {
        /// The AI.
        ai: String,
        /// The value.
        value: String,
    },
    /// The same AI appears twice.
    #[error("AI {0} appears twice")]
    Duplicate(String),
    /// Bracketed syntax is malformed.
    #[error("malformed bracketed syntax")]
    Syntax,
    /// A Digital Link URL is malformed.
    #[error("malformed GS1 Digital Link: {0}")]
    DigitalLink(String),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
