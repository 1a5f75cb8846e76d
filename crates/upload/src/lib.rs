#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

pub mod cdc;
pub mod checksum;
pub mod client;
pub mod dedup;
mod error;
pub mod image;
pub mod magic;
pub mod manifest;
pub mod session;
pub mod tus;

/// The buffer type of parts and sources (re-exported from `bytes`).
pub use bytes::Bytes;
pub use checksum::{Algorithm, Checksum};
pub use error::{Error, Result};
pub use session::{
    BlockingUploads, CreateOptions, ExpireReport, Multipart, Opened, Published, Received, Session,
    SessionState, Status, UploadOptions, Uploads, Verify,
};
