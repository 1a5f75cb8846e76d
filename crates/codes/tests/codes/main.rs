//! Integration tests of `blocksmith-codes`.

mod batch;
mod catalog;
mod crash;
mod encode;
mod frames;
mod gs1;
mod render;
mod scan;

use blocksmith_codes::{EncodeOptions, RenderOptions, Symbol, Symbology, encode};
use image::GrayImage;

/// A sample payload each symbology accepts.
pub(crate) fn sample(s: Symbology) -> &'static str {
    match s {
        Symbology::Qr => "https://example.com/campaign/spring?id=00042",
        Symbology::MicroQr => "12345",
        Symbology::Ean13 => "400638133393",
        Symbology::Ean8 => "9638507",
        Symbology::UpcA => "03600029145",
        Symbology::UpcE => "0123456",
        Symbology::Code128 => "BLK-2026/11#a",
        Symbology::Code39 => "CODE 39-OK",
        Symbology::Code93 => "CODE93 TEST",
        Symbology::Itf => "00012345678905",
        Symbology::Codabar => "A40156B",
        Symbology::DataMatrix => "DataMatrix 2026 \u{e9}t\u{e9}",
        Symbology::Pdf417 => "PDF417 payload with several words 1234567890",
        Symbology::Aztec => "Aztec: boarding pass 123",
        _ => "X",
    }
}

pub(crate) fn gray(symbol: &Symbol, scale: u32) -> GrayImage {
    let o = RenderOptions::new().with_scale(scale);
    let img = blocksmith_codes::render::to_image(symbol, &o).unwrap();
    image::DynamicImage::ImageRgb8(img).to_luma8()
}

pub(crate) fn enc(s: Symbology) -> Symbol {
    encode(sample(s), &EncodeOptions::new(s)).unwrap()
}

/// Scan options for tests: a generous time budget, so results do not depend
/// on how loaded the machine is or on the build profile.
pub(crate) fn opts() -> blocksmith_codes::ScanOptions {
    blocksmith_codes::ScanOptions::new().with_time_budget(std::time::Duration::from_secs(60))
}
