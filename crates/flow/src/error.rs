//! The crate's error type.

/// Everything that can go wrong in `blocksmith-flow`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] blocksmith_store::Error),
    /// A workflow's input, state or a step's value did not (de)serialize.
    #[error("serialization of {what} failed")]
    Serde {
        /// What was being (de)serialized.
        what: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// No workflow of this kind (and version) is registered.
    #[error("unknown workflow {kind:?} version {version}")]
    UnknownWorkflow {
        /// The workflow kind.
        kind: String,
        /// The version asked for (0: the latest).
        version: u32,
    },
    /// A command named a step that is not registered.
    #[error("unknown step {0:?}")]
    UnknownStep(String),
    /// No instance with this id.
    #[error("workflow instance {0:?} not found")]
    NotFound(String),
    /// The instance has finished (or is rolling back): it takes no more
    /// signals.
    #[error("workflow instance {0:?} has finished")]
    Finished(String),
    /// An id, name or tag is not acceptable.
    #[error("invalid {what}: {reason}")]
    Invalid {
        /// What was rejected.
        what: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The workflow refused the signal in the instance's current state
    /// ([`Workflow::admit`](crate::Workflow::admit)); nothing was written.
    #[error("workflow instance {id:?} refused the signal: {reason}")]
    Rejected {
        /// The instance.
        id: String,
        /// The workflow's reason, as JSON.
        reason: serde_json::Value,
    },
    /// Another writer kept winning the compare-and-swap on an instance.
    #[error("workflow instance {0:?} is contended: too many concurrent writers")]
    Contended(String),
    /// The workflow definition returned a command that is not valid in the
    /// instance's state (a duplicate step id, say).
    #[error("workflow {kind:?} issued an invalid command: {reason}")]
    InvalidCommand {
        /// The workflow kind.
        kind: String,
        /// What was wrong.
        reason: String,
    },
    /// A stored record does not make sense (damaged or written by a newer
    /// version).
    #[error("corrupt flow record {key}: {reason}")]
    Corrupt {
        /// The store key.
        key: String,
        /// What was wrong.
        reason: String,
    },
    /// The random number generator failed.
    #[error("random number generator failed")]
    Random,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn serde_err(what: &'static str) -> impl FnOnce(serde_json::Error) -> Error {
    move |source| Error::Serde { what, source }
}
