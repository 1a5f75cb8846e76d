//! The crate's error type.

/// Everything that can go wrong in `blocksmith-spell`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A binary dictionary could not be decoded.
    #[error("corrupt dictionary at byte {offset}: {reason}")]
    CorruptDictionary {
        /// Byte offset where decoding failed.
        offset: usize,
        /// What was wrong.
        reason: &'static str,
    },
    /// Input that the encoder cannot represent (unsorted, duplicate or empty words, bad indices).
    #[error("invalid dictionary input: {0}")]
    InvalidInput(String),
    /// A word that cannot go into a user dictionary (empty, too long, or containing whitespace).
    #[error("invalid user word {word:?}: {reason}")]
    InvalidWord {
        /// The rejected word.
        word: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// An undo named a replacement that does not exist or no longer matches the text.
    #[error("nothing to undo: {0}")]
    NothingToUndo(String),
    /// A persistence error from the store.
    #[error(transparent)]
    Store(#[from] blocksmith_store::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
