#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

pub mod builtin;
pub mod components;
mod error;
pub mod export;
pub mod input;
pub mod jobs;
pub mod layout;
pub mod pipeline;
pub mod preprocess;
pub mod recognize;
pub mod tree;

pub use error::{Error, Result};
/// The `image` crate, re-exported: its types (`DynamicImage`, `GrayImage`, ...)
/// appear in this crate's signatures, so callers need no direct dependency
/// of a matching version.
pub use image;
pub use input::{Format, Limits, decode};
pub use jobs::{BlockingJobQueue, JobId, JobOptions, JobQueue, JobStatus, RunReport};
pub use layout::{BlockKind, PageLayout};
pub use pipeline::{Engine, EngineOptions};
pub use preprocess::{Binarization, Orientation, PreprocessOptions};
pub use recognize::{CharGuess, LineImage, Recognizer, Rect, WordGuess};
pub use tree::{Block, Char, Document, Line, Page, ReviewLevel, ReviewRegion, StageTimings, Word};
