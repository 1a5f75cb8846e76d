#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

pub mod aggregate;
pub mod bloom;
pub mod ddsketch;
mod error;
pub mod experiment;
pub mod frequency;
pub mod hash;
pub mod hll;
pub mod kll;
mod proto;
pub mod stats;
pub mod theta;
pub mod window;

pub use error::{Error, Result};
