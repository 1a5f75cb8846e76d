//! Fuzz the decode and preprocessing entry points: arbitrary bytes are decoded under small
//! limits; every page that decodes goes through preprocessing and layout analysis.
#![no_main]

use blocksmith_ocr::preprocess::{self, Binarization, PreprocessOptions};
use blocksmith_ocr::{Limits, decode, layout};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default()
        .with_max_bytes(1 << 20)
        .with_max_dimensions(512, 512)
        .with_max_pixels(1 << 16)
        .with_max_pages(4);
    let Ok(pages) = decode(data, &limits) else {
        return;
    };
    assert!(pages.len() <= 4);
    let otsu = data.first().is_some_and(|b| b & 1 == 1);
    let opts = PreprocessOptions::default().with_binarization(if otsu {
        Binarization::Otsu
    } else {
        Binarization::Sauvola { window: 15, k: 0.3 }
    });
    for page in pages {
        assert!(page.width() <= 512 && page.height() <= 512);
        let pre = preprocess::preprocess(&page, &opts);
        let lay = layout::analyze(&pre.binary);
        for b in &lay.blocks {
            for l in &b.lines {
                assert!(l.bbox.x + l.bbox.w <= pre.binary.width());
                assert!(l.bbox.y + l.bbox.h <= pre.binary.height());
            }
        }
    }
});
