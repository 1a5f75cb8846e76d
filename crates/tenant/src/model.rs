//! Tenants, plans, quotas and the audit trail.

use crate::error::{Error, Result};
use blocksmith_store::record::Record;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// How a tenant's data is isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Tier {
    /// Shared tables, rows keyed by tenant id.
    Shared,
    /// A schema of its own in a shared database.
    Schema,
    /// A database of its own.
    Database,
}

impl Tier {
    /// `"shared"`, `"schema"` or `"database"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Shared => "shared",
            Tier::Schema => "schema",
            Tier::Database => "database",
        }
    }
}

impl std::str::FromStr for Tier {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "shared" => Ok(Tier::Shared),
            "schema" => Ok(Tier::Schema),
            "database" => Ok(Tier::Database),
            _ => Err(Error::UnknownPlan(format!("tier {s}"))),
        }
    }
}

/// Where a tenant is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TenantStatus {
    /// Asked for; provisioning has not started.
    Requested,
    /// Provisioning steps are running.
    Provisioning,
    /// In use.
    Active,
    /// Switched off (unpaid, abuse); data kept.
    Suspended,
    /// Soft-deleted: data exported, kept until the grace period ends.
    Deleted,
    /// Deprovisioning steps are running.
    Deprovisioning,
    /// Gone: data released, slug free again. The record stays for the audit.
    Purged,
    /// Provisioning failed and was rolled back.
    Failed,
}

impl TenantStatus {
    /// The snake-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Requested => "requested",
            TenantStatus::Provisioning => "provisioning",
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
            TenantStatus::Deleted => "deleted",
            TenantStatus::Deprovisioning => "deprovisioning",
            TenantStatus::Purged => "purged",
            TenantStatus::Failed => "failed",
        }
    }
}

/// A plan: quotas, features, an optional trial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plan {
    /// The plan's name.
    pub name: String,
    /// Resource limits (`"seats"`, `"projects"`, `"storage_mb"`, ...).
    pub quotas: BTreeMap<String, u64>,
    /// Feature flags the plan turns on.
    pub features: BTreeSet<String>,
    /// Days of trial for new tenants on this plan.
    pub trial_days: Option<u32>,
}

impl Plan {
    /// A plan with no quota and no feature.
    pub fn new(name: impl Into<String>) -> Self {
        Plan {
            name: name.into(),
            quotas: BTreeMap::new(),
            features: BTreeSet::new(),
            trial_days: None,
        }
    }
    /// Sets a quota.
    #[must_use]
    pub fn with_quota(mut self, resource: impl Into<String>, limit: u64) -> Self {
        self.quotas.insert(resource.into(), limit);
        self
    }
    /// Adds a feature.
    #[must_use]
    pub fn with_feature(mut self, f: impl Into<String>) -> Self {
        self.features.insert(f.into());
        self
    }
    /// Sets the trial length.
    #[must_use]
    pub fn with_trial_days(mut self, d: u32) -> Self {
        self.trial_days = Some(d);
        self
    }
}

/// The plans a service offers, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plans(BTreeMap<String, Plan>);

impl Plans {
    /// No plans.
    pub fn new() -> Self {
        Plans::default()
    }
    /// Adds a plan.
    #[must_use]
    pub fn with(mut self, plan: Plan) -> Self {
        self.0.insert(plan.name.clone(), plan);
        self
    }
    /// A plan by name.
    ///
    /// # Errors
    /// [`Error::UnknownPlan`].
    pub fn get(&self, name: &str) -> Result<&Plan> {
        self.0
            .get(name)
            .ok_or_else(|| Error::UnknownPlan(name.to_string()))
    }
    /// A typical ladder: `free` (3 seats, 2 projects, 500 MB), `pro` (25
    /// seats, 50 projects, 50 GB, SSO, a 14-day trial), `enterprise` (1000
    /// seats, 10 000 projects, 5 TB, SSO, audit export).
    pub fn example() -> Self {
        Plans::new()
            .with(
                Plan::new("free")
                    .with_quota("seats", 3)
                    .with_quota("projects", 2)
                    .with_quota("storage_mb", 500),
            )
            .with(
                Plan::new("pro")
                    .with_quota("seats", 25)
                    .with_quota("projects", 50)
                    .with_quota("storage_mb", 50_000)
                    .with_feature("sso")
                    .with_trial_days(14),
            )
            .with(
                Plan::new("enterprise")
                    .with_quota("seats", 1_000)
                    .with_quota("projects", 10_000)
                    .with_quota("storage_mb", 5_000_000)
                    .with_feature("sso")
                    .with_feature("audit_export"),
            )
    }
}

/// One lifecycle change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AuditEntry {
    /// When, Unix ms.
    pub at_ms: u64,
    /// What happened (`"create"`, `"activate"`, `"suspend"`, `"plan"`, ...).
    pub action: String,
    /// Status before.
    pub from: Option<TenantStatus>,
    /// Status after.
    pub to: TenantStatus,
    /// Details (the plan change, the reason for a suspension, ...).
    pub detail: Value,
}

/// A tenant, as stored (typed record `tenant.tenant`, schema 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Tenant {
    /// Stable id (derived from the creating request id).
    pub id: String,
    /// Normalized slug (subdomain).
    pub slug: String,
    /// Plan name.
    pub plan: String,
    /// Isolation tier.
    pub tier: Tier,
    /// Status.
    pub status: TenantStatus,
    /// Admin's email, invited at provisioning.
    pub admin_email: String,
    /// The request id that created it.
    pub request_id: String,
    /// Where its data lives (from the host's `allocate`).
    pub location: Option<String>,
    /// Billing account id (from the host's `create_billing`).
    pub billing_account: Option<String>,
    /// Invitation id (from the host's `invite_admin`).
    pub invitation: Option<String>,
    /// Data export location (from the host's `export_data`, at deletion).
    pub export: Option<String>,
    /// Quotas in force.
    pub quotas: BTreeMap<String, u64>,
    /// Features in force.
    pub features: BTreeSet<String>,
    /// Per-tenant configuration.
    pub config: BTreeMap<String, Value>,
    /// End of the trial, Unix ms.
    pub trial_ends_ms: Option<u64>,
    /// Creation time.
    pub created_ms: u64,
    /// Last change.
    pub updated_ms: u64,
    /// Soft deletion time.
    pub deleted_ms: Option<u64>,
    /// Earliest purge time (end of the grace period).
    pub purge_after_ms: Option<u64>,
    /// Undo steps of a rolled-back provisioning that failed for good (step
    /// id → last error): what was left behind in the host systems. While
    /// not empty, the tenant keeps its slug.
    #[serde(default)]
    pub cleanup_failed: BTreeMap<String, String>,
    /// Raised on every write.
    pub revision: u64,
    /// Every lifecycle change, oldest first.
    pub audit: Vec<AuditEntry>,
}

impl Record for Tenant {
    const KIND: &'static str = "tenant.tenant";
    const VERSION: u32 = 1;
}

impl Tenant {
    pub(crate) fn change(&mut self, now: u64, action: &str, to: TenantStatus, detail: Value) {
        let from = Some(self.status);
        self.status = to;
        self.updated_ms = now;
        self.audit.push(AuditEntry {
            at_ms: now,
            action: action.to_string(),
            from,
            to,
            detail,
        });
    }

    /// The limits in force, for fast in-process checks.
    pub fn limits(&self) -> Limits {
        Limits {
            tenant: self.id.clone(),
            active: matches!(self.status, TenantStatus::Active),
            quotas: self.quotas.clone(),
            features: self.features.clone(),
        }
    }
}

/// A tenant's quotas and features, checked in process (no I/O).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The tenant.
    pub tenant: String,
    /// False while suspended, deleted or not yet provisioned.
    pub active: bool,
    /// Resource limits.
    pub quotas: BTreeMap<String, u64>,
    /// Features.
    pub features: BTreeSet<String>,
}

impl Limits {
    /// Whether `used + requested` of `resource` fits. A resource the plan
    /// does not name is not limited.
    ///
    /// # Errors
    /// [`Error::QuotaExceeded`], or [`Error::InvalidTransition`] when the
    /// tenant is not active.
    pub fn check(&self, resource: &str, used: u64, requested: u64) -> Result<()> {
        if !self.active {
            return Err(Error::InvalidTransition {
                from: TenantStatus::Suspended,
                action: "use",
            });
        }
        match self.quotas.get(resource) {
            Some(&limit) if used.saturating_add(requested) > limit => Err(Error::QuotaExceeded {
                resource: resource.to_string(),
                limit,
                used,
                requested,
            }),
            _ => Ok(()),
        }
    }

    /// Whether the plan includes `feature` (and the tenant is active).
    ///
    /// # Errors
    /// [`Error::FeatureDisabled`], or [`Error::InvalidTransition`] when the
    /// tenant is not active.
    pub fn require(&self, feature: &str) -> Result<()> {
        if !self.active {
            return Err(Error::InvalidTransition {
                from: TenantStatus::Suspended,
                action: "use",
            });
        }
        if self.features.contains(feature) {
            Ok(())
        } else {
            Err(Error::FeatureDisabled(feature.to_string()))
        }
    }
}
