//! The crate's error type.

use crate::model::TenantStatus;

/// Everything that can go wrong in `blocksmith-tenant`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] blocksmith_store::Error),
    /// The workflow engine failed.
    #[error(transparent)]
    Flow(#[from] blocksmith_flow::Error),
    /// A slug is not acceptable.
    #[error("invalid slug {slug:?}: {reason}")]
    InvalidSlug {
        /// The slug as given.
        slug: String,
        /// Why.
        reason: &'static str,
    },
    /// Another tenant holds the slug.
    #[error("slug {0:?} is taken")]
    SlugTaken(String),
    /// No such tenant.
    #[error("tenant {0:?} not found")]
    NotFound(String),
    /// No such plan.
    #[error("unknown plan {0:?}")]
    UnknownPlan(String),
    /// The lifecycle does not allow this action in this state.
    #[error("cannot {action} a tenant that is {from:?}")]
    InvalidTransition {
        /// The tenant's status.
        from: TenantStatus,
        /// What was asked.
        action: &'static str,
    },
    /// A quota would be exceeded.
    #[error("quota {resource:?} exceeded: {used} + {requested} > {limit}")]
    QuotaExceeded {
        /// The resource.
        resource: String,
        /// Its limit.
        limit: u64,
        /// Used so far.
        used: u64,
        /// Asked for.
        requested: u64,
    },
    /// A feature the plan does not include.
    #[error("feature {0:?} is not in the tenant's plan")]
    FeatureDisabled(String),
    /// The same request id was used for a different request.
    #[error("request id {0:?} was used for another tenant request")]
    RequestMismatch(String),
    /// Other writers kept winning the compare-and-swap.
    #[error("tenant {0:?} is contended")]
    Contended(String),
    /// A stored value did not (de)serialize.
    #[error("serialization of {what} failed")]
    Serde {
        /// What.
        what: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
