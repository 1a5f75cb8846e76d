#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

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
