#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

pub mod batch;
pub mod catalog;
pub mod degrade;
mod encode;
mod error;
pub mod frames;
pub mod gs1;
pub mod gtin;
pub mod render;
pub mod scan;
mod symbology;
mod verify;

pub use encode::{EcLevel, EncodeOptions, QrMode, Symbol, encode, encode_qr_bytes};
pub use error::{Error, Gs1Error, GtinError, Result};
/// The `image` crate, re-exported: its types (`DynamicImage`, `GrayImage`, ...)
/// appear in this crate's signatures, so callers need no direct dependency
/// of a matching version.
pub use image;
pub use render::{Color, Logo, RenderOptions};
pub use scan::{Detection, ScanOptions, ScanReport};
pub use symbology::Symbology;
pub use verify::{verify, verify_image};
