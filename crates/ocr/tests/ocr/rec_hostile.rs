use blocksmith_ocr::builtin::{BuiltinRecognizer, harness};
use blocksmith_ocr::recognize::{LineImage, Recognizer, Rect};
use image::{GrayImage, Luma};
use proptest::prelude::*;
use std::sync::OnceLock;

fn rec() -> &'static BuiltinRecognizer {
    static R: OnceLock<BuiltinRecognizer> = OnceLock::new();
    R.get_or_init(|| BuiltinRecognizer::embedded().unwrap())
}

fn check(img: &GrayImage, words: &[Rect], xh: f32, bl: f32) {
    let line = LineImage {
        gray: img,
        binary: img,
        words,
        x_height: xh,
        baseline: bl,
    };
    for w in rec().recognize_line(&line) {
        assert!((0.0..=1.0).contains(&w.confidence));
        assert!(!w.chars.is_empty());
        for c in &w.chars {
            assert!((0.0..=1.0).contains(&c.confidence));
            assert!(c.bbox.x + c.bbox.w <= img.width() && c.bbox.y + c.bbox.h <= img.height());
        }
    }
}

#[test]
fn degenerate_lines_do_not_panic() {
    let empty = GrayImage::new(0, 0);
    let full = Rect {
        x: 0,
        y: 0,
        w: 50,
        h: 50,
    };
    check(&empty, &[full], 10.0, 8.0);
    let one = GrayImage::from_pixel(200, 1, Luma([0]));
    check(
        &one,
        &[Rect {
            x: 0,
            y: 0,
            w: 200,
            h: 1,
        }],
        10.0,
        1.0,
    );
    let ink = GrayImage::from_pixel(300, 40, Luma([0]));
    check(
        &ink,
        &[
            Rect {
                x: 0,
                y: 0,
                w: 300,
                h: 40,
            },
            Rect {
                x: 100,
                y: 0,
                w: 10,
                h: 40,
            },
        ],
        12.0,
        30.0,
    );
    let blank = GrayImage::from_pixel(300, 40, Luma([255]));
    check(
        &blank,
        &[Rect {
            x: 0,
            y: 0,
            w: 300,
            h: 40,
        }],
        12.0,
        30.0,
    );
    for (xh, bl) in [
        (f32::NAN, f32::NAN),
        (f32::INFINITY, -5.0),
        (0.0, 1e9),
        (-3.0, 0.0),
        (1e9, f32::NEG_INFINITY),
    ] {
        check(
            &ink,
            &[Rect {
                x: 0,
                y: 0,
                w: 300,
                h: 40,
            }],
            xh,
            bl,
        );
    }
    // Word boxes outside the image and of overflowing size.
    check(
        &ink,
        &[
            Rect {
                x: 1000,
                y: 1000,
                w: 5,
                h: 5,
            },
            Rect {
                x: u32::MAX - 2,
                y: u32::MAX - 2,
                w: u32::MAX,
                h: u32::MAX,
            },
        ],
        12.0,
        30.0,
    );
    assert!(harness::split_page(&empty).is_empty());
    let _ = harness::recognize_page(rec(), &ink);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_lines_do_not_panic(
        w in 1u32..120, h in 1u32..40, seed in any::<u64>(), density in 0.0f32..1.0,
        boxes in proptest::collection::vec((0u32..130, 0u32..50, 0u32..130, 0u32..50), 0..5),
        xh in -5.0f32..60.0, bl in -10.0f32..60.0,
    ) {
        let mut s = seed | 1;
        let img = GrayImage::from_fn(w, h, |_, _| {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            Luma([if (s % 1000) as f32 / 1000.0 < density { 0 } else { 255 }])
        });
        let words: Vec<Rect> = boxes.into_iter().map(|(x, y, bw, bh)| Rect { x, y, w: bw, h: bh }).collect();
        check(&img, &words, xh, bl);
    }
}
