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
//! Only `store` and `redb` are on by default; every engine is opt-in, or all
//! of them with `full`.
//! - `store` (default): [`store`], the storage traits every crate persists through.
//! - `redb` (default): the embedded default backend `store::RedbStore`.
//! - `sqlite`: `store::SqliteStore`, one SQLite file (bundled library), compare-and-swap across
//!   processes.
//! - `postgres`: `store::PostgresStore`, tables in a PostgreSQL server (`tokio-postgres`),
//!   compare-and-swap across processes and machines.
//! - `tokio`: `store::Offload::with_tokio`, a blocking backend on a Tokio runtime's blocking pool.
//! - `object-store`: `store::ObjectStoreAdapter` over the `object_store` crate, no cloud backend.
//! - `object-store-aws`, `object-store-gcp`, `object-store-azure`: the adapter with that cloud's
//!   `object_store` backend.
//! - `tsz`: [`tsz`], time-series compression and series over a store.
//! - `geo`: [`geo`], moving-entity index, nearby queries, geofences, trajectories.
//! - `diff`: [`diff`], text and structured diff, patch, merge, config history and drift.
//! - `vault`: [`vault`], zero-knowledge vault crypto, key rotation, sharing, API keys.
//! - `feed`: [`feed`], feed ranking, hybrid fan-out delivery, cursors.
//! - `upload`: [`upload`], resumable chunked uploads, tus protocol layer, content-defined dedup.
//! - `sketch`: [`sketch`], mergeable sketches, event-time windows, experiment statistics.
//! - `spell`: [`spell`], autocorrect with an embedded English dictionary.
//! - `codes`: [`codes`], QR and barcode generation and scanning, GS1, campaigns, frame scanning.
//! - `ocr`: [`ocr`], OCR of document images to text, a JSON tree or hOCR.
//! - `flow`: [`flow`], durable workflows: sagas, timers, signals, leased workers.
//! - `tenant`: [`tenant`], tenant provisioning and lifecycle on flow.
//! - `dispute`: [`dispute`], payment dispute lifecycle, evidence, deadlines and ledger on flow.
//! - `receipts`: [`receipts`], delivery and read receipts, unread counts and privacy at chat scale.
//! - `full`: everything.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "store")]
#[cfg_attr(docsrs, doc(cfg(feature = "store")))]
#[doc(inline)]
pub use blocksmith_store as store;

#[cfg(feature = "tsz")]
#[cfg_attr(docsrs, doc(cfg(feature = "tsz")))]
#[doc(inline)]
pub use blocksmith_tsz as tsz;

#[cfg(feature = "vault")]
#[cfg_attr(docsrs, doc(cfg(feature = "vault")))]
#[doc(inline)]
pub use blocksmith_vault as vault;

#[cfg(feature = "diff")]
#[cfg_attr(docsrs, doc(cfg(feature = "diff")))]
#[doc(inline)]
pub use blocksmith_diff as diff;

#[cfg(feature = "geo")]
#[cfg_attr(docsrs, doc(cfg(feature = "geo")))]
#[doc(inline)]
pub use blocksmith_geo as geo;

#[cfg(feature = "feed")]
#[cfg_attr(docsrs, doc(cfg(feature = "feed")))]
#[doc(inline)]
pub use blocksmith_feed as feed;

#[cfg(feature = "upload")]
#[cfg_attr(docsrs, doc(cfg(feature = "upload")))]
#[doc(inline)]
pub use blocksmith_upload as upload;

#[cfg(feature = "sketch")]
#[cfg_attr(docsrs, doc(cfg(feature = "sketch")))]
#[doc(inline)]
pub use blocksmith_sketch as sketch;

#[cfg(feature = "spell")]
#[cfg_attr(docsrs, doc(cfg(feature = "spell")))]
#[doc(inline)]
pub use blocksmith_spell as spell;

#[cfg(feature = "codes")]
#[cfg_attr(docsrs, doc(cfg(feature = "codes")))]
#[doc(inline)]
pub use blocksmith_codes as codes;

#[cfg(feature = "ocr")]
#[cfg_attr(docsrs, doc(cfg(feature = "ocr")))]
#[doc(inline)]
pub use blocksmith_ocr as ocr;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(feature = "flow")]
#[cfg_attr(docsrs, doc(cfg(feature = "flow")))]
#[doc(inline)]
pub use blocksmith_flow as flow;

#[cfg(feature = "tenant")]
#[cfg_attr(docsrs, doc(cfg(feature = "tenant")))]
#[doc(inline)]
pub use blocksmith_tenant as tenant;

#[cfg(feature = "dispute")]
#[cfg_attr(docsrs, doc(cfg(feature = "dispute")))]
#[doc(inline)]
pub use blocksmith_dispute as dispute;

#[cfg(feature = "receipts")]
#[cfg_attr(docsrs, doc(cfg(feature = "receipts")))]
#[doc(inline)]
pub use blocksmith_receipts as receipts;
