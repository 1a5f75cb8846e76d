//! Fuzz target: scanning arbitrary bytes, as an image file and as a raw
//! grayscale frame. Must never panic, and each call stays bounded by the
//! scan options' limits and time budget.
#![no_main]

use blocksmith_codes::ScanOptions;
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let opts = ScanOptions::new()
        .with_max_pixels(4_000_000)
        .with_time_budget(Duration::from_millis(500));
    // As an encoded image (PNG, JPEG).
    let _ = blocksmith_codes::scan::scan_bytes(data, &opts);
    // As a raw luma frame: the first byte picks the width.
    if data.len() > 16 {
        let w = u32::from(data[0]).max(1) + 16;
        let pixels = &data[1..];
        let h = (pixels.len() as u32) / w;
        if h > 0 {
            let frame = &pixels[..(w * h) as usize];
            if let Ok(report) = blocksmith_codes::scan::scan_luma(w, h, frame, &opts) {
                assert!(report.codes.len() <= opts.max_codes);
            }
        }
    }
});
