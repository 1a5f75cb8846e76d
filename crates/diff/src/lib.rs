#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

mod error;
pub mod history;
pub mod json_patch;
pub mod merge;
pub mod merge_patch;
pub mod patch;
pub mod redact;
pub mod structured;
pub mod text;
pub mod unified;
pub mod value;

pub use error::{Error, Result};
