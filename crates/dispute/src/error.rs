//! The crate's error type.

use crate::model::{Missing, Status};

/// Everything that can go wrong in `blocksmith-dispute`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] blocksmith_store::Error),
    /// The workflow engine failed.
    #[error(transparent)]
    Flow(blocksmith_flow::Error),
    /// A request, event or table entry is malformed.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was rejected.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// No dispute with this id.
    #[error("dispute {0:?} not found")]
    NotFound(String),
    /// The dispute is closed and settled: it takes no more events.
    #[error("dispute {0:?} is closed")]
    Closed(String),
    /// The action or event is not valid in the dispute's status (won before
    /// a submission, evidence on a closed dispute, ...). Nothing changed.
    #[error("{action} is not allowed while the dispute is {status}")]
    InvalidTransition {
        /// The dispute's status.
        status: Status,
        /// The action or event refused.
        action: String,
    },
    /// The response deadline has passed: no more evidence, no submission.
    #[error("the response deadline passed at {due_ms} (action at {at_ms})")]
    DeadlinePassed {
        /// The deadline, Unix ms.
        due_ms: u64,
        /// When the action was attempted, Unix ms.
        at_ms: u64,
    },
    /// The evidence package lacks required items: each entry is a
    /// requirement, met by any one of its kinds.
    #[error("the evidence package is incomplete: missing {}", missing_list(.missing))]
    EvidenceIncomplete {
        /// The unmet requirements.
        missing: Vec<Missing>,
    },
    /// The response for this stage was already submitted (single use).
    #[error("the response was already submitted")]
    AlreadySubmitted,
    /// A file or the package breaks a size, count or type limit.
    #[error("evidence refused: {0}")]
    EvidenceLimit(String),
    /// Another event holds this sequence number.
    #[error("sequence {sequence} is taken by event {holder:?}")]
    SequenceConflict {
        /// The sequence number.
        sequence: u64,
        /// The event id that holds it.
        holder: String,
    },
    /// No such evidence item on the dispute.
    #[error("no evidence item {item:?} on dispute {id:?}")]
    NoEvidence {
        /// The dispute.
        id: String,
        /// The item.
        item: String,
    },
    /// No such network in the table.
    #[error("unknown network {0:?}")]
    UnknownNetwork(String),
    /// No such reason code for the network in the table.
    #[error("unknown reason code {code:?} for network {network:?}")]
    UnknownReason {
        /// The network.
        network: String,
        /// The reason code.
        code: String,
    },
    /// A stored record does not make sense.
    #[error("corrupt dispute record {id}: {reason}")]
    Corrupt {
        /// The dispute.
        id: String,
        /// What was wrong.
        reason: String,
    },
}

fn missing_list(m: &[Missing]) -> String {
    m.iter()
        .map(|x| x.any_of.join(" or "))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<blocksmith_flow::Error> for Error {
    fn from(e: blocksmith_flow::Error) -> Self {
        match e {
            blocksmith_flow::Error::Store(s) => Error::Store(s),
            blocksmith_flow::Error::Finished(id) => Error::Closed(id),
            blocksmith_flow::Error::NotFound(id) => Error::NotFound(id),
            blocksmith_flow::Error::Rejected { id, reason } => {
                match serde_json::from_value::<crate::model::Refusal>(reason.clone()) {
                    Ok(r) => r.into_error(),
                    Err(_) => Error::Corrupt {
                        id,
                        reason: format!("an unreadable refusal {reason}"),
                    },
                }
            }
            other => Error::Flow(other),
        }
    }
}
