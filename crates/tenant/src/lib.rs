#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

mod error;
pub mod hooks;
pub mod model;
pub mod slug;
mod tenants;

pub use error::{Error, Result};
pub use hooks::{HookContext, HookResult, MemoryHooks, TenantHooks};
pub use model::{AuditEntry, Limits, Plan, Plans, Tenant, TenantStatus, Tier};
pub use tenants::{BlockingTenants, CreateTenant, PROVISION_STEPS, TenantOptions, Tenants};
