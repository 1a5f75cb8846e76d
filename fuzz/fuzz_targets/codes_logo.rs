//! Logo image bytes (`Logo::from_bytes`, PNG or JPEG, at most 4096x4096 pixels): a logo or a typed
//! error, never a panic; a logo that loads renders in the centre of a QR code (image and
//! SVG) or is refused with a typed error.
#![no_main]

use blocksmith_codes::render::{to_image, to_svg};
use blocksmith_codes::{EcLevel, EncodeOptions, Logo, RenderOptions, Symbology, encode};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static SYMBOL: OnceLock<blocksmith_codes::Symbol> = OnceLock::new();
    let symbol = SYMBOL.get_or_init(|| {
        encode(
            "https://example.com/p/42",
            &EncodeOptions::new(Symbology::Qr).with_ec_level(EcLevel::H),
        )
        .expect("a QR code")
    });
    // The first byte picks the ratio (0..=0.51, a little past the allowed 0.5).
    let Some((&r, bytes)) = data.split_first() else {
        return;
    };
    let ratio = f32::from(r % 52) / 100.0;
    let Ok(logo) = Logo::from_bytes(bytes, ratio) else {
        return;
    };
    // The limit is on pixels (4096 x 4096 of them), not on each side.
    assert!(u64::from(logo.image.width()) * u64::from(logo.image.height()) <= 4096 * 4096);
    let opts = RenderOptions::new().with_scale(2).with_logo(logo);
    if let Ok(img) = to_image(symbol, &opts) {
        assert!(img.width() > 0 && img.height() > 0);
    }
    let _ = to_svg(symbol, &opts);
});
