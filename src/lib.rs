//! # Blocksmith
//!
//! Embeddable, storage-agnostic engines for the hard parts of common backend
//! features. This umbrella crate re-exports each Blocksmith crate behind a
//! cargo feature of the same name; depend on the member crates directly
//! (`blocksmith-store`, ...) to keep your dependency tree minimal.
//!
//! ```
//! use blocksmith::store::{Key, MemoryStore, StoreExt};
//! let store = MemoryStore::new();
//! store.blocking().put(&Key::new("hello").unwrap(), "world").unwrap();
//! ```
//!
//! # Crate features
//! - `store` (default): [`store`], the storage traits every crate persists through.
//! - `redb` (default): the embedded default backend `store::RedbStore`.
//! - `tokio`: `store::Offload::with_tokio`, a blocking backend on a Tokio runtime's blocking pool.
//! - `object-store`: `store::ObjectStoreAdapter` over the `object_store` crate, no cloud backend.
//! - `object-store-aws`, `object-store-gcp`, `object-store-azure`: the adapter with that cloud's
//!   `object_store` backend.
//! - `tsz` (default): [`tsz`], time-series compression and series over a store.
//! - `geo` (default): [`geo`], moving-entity index, nearby queries, geofences, trajectories.
//! - `diff` (default): [`diff`], text and structured diff, patch, merge, config history and drift.
//! - `vault` (default): [`vault`], zero-knowledge vault crypto, key rotation, sharing, API keys.
//! - `flow` (default): [`flow`], durable workflows: sagas, timers, signals, leased workers.
//! - `tenant` (default): [`tenant`], tenant provisioning and lifecycle on flow.
//! - `dispute` (default): [`dispute`], payment dispute lifecycle, evidence, deadlines and ledger on flow.
//! - `full`: everything.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "store")]
#[doc(inline)]
pub use blocksmith_store as store;

#[cfg(feature = "tsz")]
#[doc(inline)]
pub use blocksmith_tsz as tsz;

#[cfg(feature = "vault")]
#[doc(inline)]
pub use blocksmith_vault as vault;

#[cfg(feature = "diff")]
#[doc(inline)]
pub use blocksmith_diff as diff;

#[cfg(feature = "geo")]
#[doc(inline)]
pub use blocksmith_geo as geo;

/// The README's examples, compiled and run as doctests.
#[cfg(feature = "feed")]
#[doc(inline)]
pub use blocksmith_feed as feed;

#[cfg(feature = "upload")]
#[doc(inline)]
pub use blocksmith_upload as upload;

#[cfg(feature = "sketch")]
#[doc(inline)]
pub use blocksmith_sketch as sketch;

#[cfg(feature = "spell")]
#[doc(inline)]
pub use blocksmith_spell as spell;

#[cfg(feature = "codes")]
#[doc(inline)]
pub use blocksmith_codes as codes;

#[cfg(feature = "ocr")]
#[doc(inline)]
pub use blocksmith_ocr as ocr;

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(feature = "flow")]
#[doc(inline)]
pub use blocksmith_flow as flow;

#[cfg(feature = "tenant")]
#[doc(inline)]
pub use blocksmith_tenant as tenant;

#[cfg(feature = "dispute")]
#[doc(inline)]
pub use blocksmith_dispute as dispute;
