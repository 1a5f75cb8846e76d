//! `blocksmith-codes`: QR and barcode generation and scanning over real
//! images, the engine behind a QR generation service (campaigns, bulk
//! generation, output formats) and a barcode scanner service (many
//! symbologies, noisy photos, mobile frames, product catalogs).
//!
//! - [`encode()`]: text to a [`Symbol`] (a module grid) in QR (every mode,
//!   version, level, mask), Micro QR, EAN-13/8, UPC-A/E, Code 128/39/93, ITF,
//!   Codabar, Data Matrix, PDF417 and Aztec, through `qrcode` and `rxing`.
//! - [`render`]: SVG, PNG, terminal and raw modules, with quiet zone, scale,
//!   colours checked for contrast and a centre logo checked against the
//!   error correction budget; [`verify()`] decodes a render back.
//! - [`scan`]: a bounded front end (size limits, downscaling, preprocessing
//!   variants, several codes, panics caught, time budget) over `rxing`.
//! - [`frames`]: a scanner for camera frames with state across frames.
//! - [`batch`]: campaign rendering in parallel from a template, with cache
//!   keys, a manifest and every output verified.
//! - [`gtin`], [`gs1`], [`catalog`]: GTIN check digits, GS1 Application
//!   Identifiers (GS1-128, GS1 DataMatrix, Digital Link) and product lookup
//!   through `blocksmith-store`.
//!
//! ```
//! use blocksmith_codes::{encode, render, scan, EcLevel, EncodeOptions, RenderOptions, ScanOptions, Symbology};
//!
//! let symbol = encode("https://example.com/p/42", &EncodeOptions::new(Symbology::Qr).with_ec_level(EcLevel::Q))?;
//! let png = render::to_png(&symbol, &RenderOptions::new().with_scale(4))?;
//! let svg = render::to_svg(&symbol, &RenderOptions::new())?;
//! assert!(svg.starts_with("<svg"));
//!
//! let report = scan::scan_bytes(&png, &ScanOptions::new())?;
//! assert_eq!(report.codes[0].symbology, Symbology::Qr);
//! assert_eq!(report.codes[0].text, "https://example.com/p/42");
//! assert_eq!(report.codes[0].ec_level.as_deref(), Some("Q"));
//! # Ok::<(), blocksmith_codes::Error>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

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
