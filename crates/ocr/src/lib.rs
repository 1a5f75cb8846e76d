//! Document OCR engine: decode document images (PNG, JPEG, multi-page TIFF, PBM/PGM) under
//! size limits, preprocess them (contrast, Otsu/Sauvola binarisation, denoise, border removal,
//! orientation, deskew, DPI normalisation), analyse the layout (components, ruled tables,
//! columns and blocks in reading order, lines, words), recognise each line through a
//! [`Recognizer`], and return a [`Document`] tree with boxes and calibrated confidences,
//! exportable as plain text, hOCR or JSON. [`jobs::JobQueue`] runs documents as persistent,
//! idempotent, retried jobs over a `blocksmith_store::Store`.
//!
//! ```
//! use blocksmith_ocr::{Engine, EngineOptions, LineImage, Recognizer, WordGuess, CharGuess};
//! use blocksmith_ocr::image::{DynamicImage, GrayImage, Luma};
//! use std::sync::Arc;
//!
//! /// A stand-in recogniser: one '#' per word box the layout found.
//! struct Hashes;
//! impl Recognizer for Hashes {
//!     fn recognize_line(&self, line: &LineImage<'_>) -> Vec<WordGuess> {
//!         line.words.iter().map(|&bbox| WordGuess {
//!             chars: vec![CharGuess { ch: '#', bbox, confidence: 0.9 }],
//!             bbox,
//!             confidence: 0.9,
//!         }).collect()
//!     }
//! }
//!
//! // A white page with two lines of three "words" of dark blobs each.
//! let mut page = GrayImage::from_pixel(600, 300, Luma([255]));
//! for line in 0..2u32 {
//!     for word in 0..3u32 {
//!         for glyph in 0..4u32 {
//!             let x0 = 40 + word * 120 + glyph * 24;
//!             let y0 = 60 + line * 90;
//!             for y in y0..y0 + 30 { for x in x0..x0 + 16 { page.put_pixel(x, y, Luma([20])); } }
//!         }
//!     }
//! }
//! let engine = Engine::new(EngineOptions::default(), Arc::new(Hashes));
//! let page = engine.process_image(&DynamicImage::ImageLuma8(page)).unwrap();
//! let lines: Vec<String> = page.lines().map(|l| l.text()).collect();
//! assert_eq!(lines, ["# # #", "# # #"]);
//! assert!((page.confidence - 0.9).abs() < 1e-6);
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

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
pub use jobs::{BlockingJobQueue, JobId, JobOptions, JobQueue, JobStatus};
pub use layout::{BlockKind, PageLayout};
pub use pipeline::{Engine, EngineOptions};
pub use preprocess::{Binarization, Orientation, PreprocessOptions};
pub use recognize::{CharGuess, LineImage, Recognizer, Rect, WordGuess};
pub use tree::{Block, Char, Document, Line, Page, ReviewLevel, ReviewRegion, StageTimings, Word};
