#![no_main]
//! Fuzz the built-in recognizer with arbitrary small line images, word boxes and metrics.
use blocksmith_ocr::builtin::BuiltinRecognizer;
use blocksmith_ocr::recognize::{LineImage, Recognizer, Rect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let w = u32::from(data[0] % 96) + 1;
    let h = u32::from(data[1] % 48) + 1;
    let xh = f32::from(data[2]) / 4.0;
    let bl = f32::from(data[3]) / 4.0;
    let nwords = usize::from(data[4] % 4);
    let mut words = Vec::new();
    for k in 0..nwords {
        let b = |i: usize| u32::from(*data.get(5 + k * 4 + i).unwrap_or(&0));
        words.push(Rect {
            x: b(0),
            y: b(1) % 64,
            w: b(2),
            h: b(3) % 64,
        });
    }
    let px = &data[5..];
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        let i = (y * w + x) as usize;
        image::Luma([
            if px.get(i % px.len().max(1)).copied().unwrap_or(255) & 1 == 0 {
                0
            } else {
                255
            },
        ])
    });
    let rec = BuiltinRecognizer::embedded().expect("embedded model");
    let line = LineImage {
        gray: &img,
        binary: &img,
        words: &words,
        x_height: xh,
        baseline: bl,
    };
    for word in rec.recognize_line(&line) {
        assert!((0.0..=1.0).contains(&word.confidence));
    }
});
