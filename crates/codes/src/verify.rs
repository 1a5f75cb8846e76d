//! Checking that a rendered code reads back as what was encoded.

use crate::render::{self, RenderOptions};
use crate::scan::{self, Detection, ScanOptions};
use crate::{Error, Result, Symbol};

/// Renders `symbol` with `options`, decodes the pixels and checks that the
/// decoder returns the symbol's text in its symbology. Returns the detection.
///
/// # Errors
/// As [`RenderOptions::check`] when the options do not fit the symbol;
/// [`Error::Verify`] if the render does not decode back to the symbol's text.
pub fn verify(symbol: &Symbol, options: &RenderOptions) -> Result<Detection> {
    let img = render::to_image(symbol, options)?;
    verify_image(symbol, &image::DynamicImage::ImageRgb8(img))
}

/// Checks that `img` holds `symbol` (see [`verify`]).
///
/// # Errors
/// [`Error::Image`] if `img` is empty; [`Error::ImageTooLarge`] if it has
/// more than 50 million pixels; [`Error::Verify`] if no code in it decodes to
/// the symbol's text in its symbology.
pub fn verify_image(symbol: &Symbol, img: &image::DynamicImage) -> Result<Detection> {
    let opts = ScanOptions::default()
        .with_symbologies([symbol.symbology])
        .with_max_dimension(4096)
        .with_time_budget(std::time::Duration::from_secs(30));
    let report = scan::scan_image(img, &opts)?;
    report
        .codes
        .into_iter()
        .find(|d| d.text == symbol.text)
        .ok_or_else(|| {
            Error::Verify(format!(
                "{} {:?} did not decode back ({} decoder calls)",
                symbol.symbology, symbol.text, report.decoder_calls
            ))
        })
}
