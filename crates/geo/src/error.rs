//! The one error type of `blocksmith-geo`.

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `blocksmith-geo`.
///
/// Hostile input (coordinates, ids, snapshots, polylines, CSV) always ends
/// here as a typed error, never as a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A latitude or longitude is NaN, infinite, |lat| > 90 or |lon| > 180.
    #[error(
        "invalid coordinate lat={lat} lon={lon}: latitude must be in [-90, 90] and longitude in [-180, 180]"
    )]
    InvalidCoordinate {
        /// The latitude given.
        lat: f64,
        /// The longitude given.
        lon: f64,
    },
    /// A field of a fix other than its position is out of range.
    #[error("invalid fix: {field} = {value} ({reason})")]
    InvalidFix {
        /// `accuracy_m`, `speed_mps` or `heading_deg`.
        field: &'static str,
        /// The value given.
        value: f64,
        /// What the field must be.
        reason: &'static str,
    },
    /// An entity or fence id is empty or too long.
    #[error("invalid id {id:?}: {reason}")]
    InvalidId {
        /// The id (truncated to 64 characters).
        id: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A kind tag is empty or too long, or too many distinct kinds exist.
    #[error("invalid kind {kind:?}: {reason}")]
    InvalidKind {
        /// The kind (truncated to 64 characters).
        kind: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A query parameter is out of range (negative radius, inverted box).
    #[error("invalid query: {reason}")]
    InvalidQuery {
        /// What is wrong.
        reason: String,
    },
    /// A fence shape cannot be used.
    #[error("invalid fence {fence:?}: {reason}")]
    InvalidFence {
        /// The fence id.
        fence: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A fence with this id already exists.
    #[error("fence {fence:?} already exists")]
    DuplicateFence {
        /// The fence id.
        fence: String,
    },
    /// An entity or fence that was named does not exist.
    #[error("{what} {id:?} not found")]
    NotFound {
        /// `"entity"` or `"fence"`.
        what: &'static str,
        /// The id asked for.
        id: String,
    },
    /// A trajectory's points are not in time order.
    #[error("invalid trajectory: {reason}")]
    InvalidTrajectory {
        /// What is wrong.
        reason: String,
    },
    /// Snapshot bytes are truncated, corrupt or of another format.
    #[error("invalid snapshot at byte {offset}: {reason}")]
    Snapshot {
        /// Where decoding stopped.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// An encoded polyline is malformed.
    #[error("invalid polyline at byte {offset}: {reason}")]
    Polyline {
        /// Where decoding stopped.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A CSV line cannot be parsed.
    #[error("CSV line {line}: {reason}")]
    Csv {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] blocksmith_store::Error),
}

pub(crate) fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}
