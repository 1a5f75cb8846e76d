#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

pub mod deadline;
mod error;
pub mod hooks;
pub mod model;
mod service;
pub mod table;

pub use error::{Error, Result};
pub use hooks::{DisputeHooks, HookContext, HookResult, MemoryHooks, Reminder};
pub use model::{
    Account, AuditEntry, Checklist, Content, DeadlineAction, Dispute, EventKind, EvidenceItem,
    Missing, Money, NetworkEvent, Outcome, Posting, Refusal, Round, Stage, Status, Transaction,
    TxKind,
};
pub use model::{DisputeFlow, Policy, Waiting, minor_digits};
pub use service::{
    BlockingDisputes, DisputeOptions, Disputes, Due, Evidence, EvidenceBody, Finding, Ingested,
    OpenDispute, ReasonStats, Reconciliation, Stats, sniff_content_type,
};
pub use table::{
    Category, DisputeRules, FieldSpec, KindSpec, NetworkRules, ReasonCode, ReasonTable,
};
