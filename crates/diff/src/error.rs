//! The one error type of `blocksmith-diff`.

use crate::value::Format;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong diffing, patching, merging or managing configs.
///
/// Malformed input always names where it is malformed: a line and column for
/// documents, a line for patches, an operation index and a JSON pointer for
/// JSON Patch.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A JSON, YAML or TOML document could not be parsed.
    #[error("invalid {format} at line {line}, column {column}: {message}")]
    Parse {
        /// The format being parsed.
        format: Format,
        /// 1-based line (0 when the parser gave no position).
        line: usize,
        /// 1-based column (0 when the parser gave no position).
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A value cannot be written in the requested format (for example `null`
    /// in TOML, or a top level that is not a table).
    #[error("cannot write {format}: {message}")]
    Encode {
        /// The target format.
        format: Format,
        /// Why.
        message: String,
    },
    /// A unified diff is malformed.
    #[error("invalid patch at line {line}: {message}")]
    PatchSyntax {
        /// 1-based line of the patch text.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Some hunks of a unified patch did not apply (strict apply).
    #[error("{} of {total} hunks failed to apply{}: {}", rejects.len(),
        file.as_deref().map(|f| format!(" to {f}")).unwrap_or_default(),
        rejects.iter().map(|r| format!("hunk #{} ({})", r.index + 1, r.reason)).collect::<Vec<_>>().join(", "))]
    PatchRejected {
        /// The file the patch targets, when the patch names one.
        file: Option<String>,
        /// Hunks in the patch.
        total: usize,
        /// The hunks that failed, with reasons.
        rejects: Vec<crate::patch::Reject>,
    },
    /// A JSON Pointer (RFC 6901) is malformed.
    #[error("invalid JSON pointer {pointer:?}: {reason}")]
    InvalidPointer {
        /// The pointer text.
        pointer: String,
        /// Why it is invalid.
        reason: String,
    },
    /// A JSON Patch document (RFC 6902) is malformed.
    #[error("invalid JSON Patch operation #{index}: {reason}")]
    InvalidJsonPatch {
        /// 0-based index of the operation.
        index: usize,
        /// Why it is invalid.
        reason: String,
    },
    /// A JSON Patch operation could not be applied; the document is unchanged.
    #[error("JSON Patch operation #{index} ({op} {path}) failed: {reason}")]
    JsonPatchFailed {
        /// 0-based index of the failing operation.
        index: usize,
        /// The operation name (`add`, `test`, ...).
        op: &'static str,
        /// Its `path`.
        path: String,
        /// Why it failed.
        reason: String,
    },
    /// Input that is not text (NUL bytes or invalid UTF-8) was given to a text operation.
    #[error("binary input: {what}")]
    Binary {
        /// What was binary.
        what: String,
    },
    /// A named config, version or proposal does not exist.
    #[error("not found: {what}")]
    NotFound {
        /// What was asked for.
        what: String,
    },
    /// A proposal action is not allowed in the proposal's current status.
    #[error("proposal {id}: cannot {action} while {status}")]
    InvalidTransition {
        /// The proposal.
        id: String,
        /// Its current status.
        status: crate::history::ProposalStatus,
        /// The refused action.
        action: &'static str,
    },
    /// A change lost a race or was based on a version that is no longer the head.
    #[error("conflict on {what}: {reason}")]
    Conflict {
        /// The config or proposal.
        what: String,
        /// What happened.
        reason: String,
    },
    /// An argument is out of range or inconsistent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] blocksmith_store::Error),
}
