use super::export::sample;
use super::input::{encode, tiff_pages};
use blocksmith_ocr::export::{from_json, to_hocr, to_json};
use blocksmith_ocr::{Engine, EngineOptions, Limits, decode, layout, preprocess};
use image::{DynamicImage, GrayImage, ImageFormat, Luma};
use proptest::prelude::*;
use std::sync::{Arc, OnceLock};

fn seeds() -> &'static [Vec<u8>] {
    static S: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    S.get_or_init(|| {
        let g = GrayImage::from_fn(24, 16, |x, y| Luma([((x * 9 + y * 5) % 256) as u8]));
        vec![
            encode(&DynamicImage::ImageLuma8(g.clone()), ImageFormat::Png),
            encode(&DynamicImage::ImageLuma8(g.clone()), ImageFormat::Jpeg),
            tiff_pages(&[g.clone(), g]),
            b"P4\n16 4\n\xff\x00\x0f\xf0\xaa\x55\x00\xff".to_vec(),
            b"P1\n4 2\n1 0 0 1\n0 1 1 0\n".to_vec(),
            b"P5\n3 2\n255\n\x00\x80\xff\x10\x20\x30".to_vec(),
        ]
    })
}

fn small_limits() -> Limits {
    Limits::default()
        .with_max_bytes(1 << 16)
        .with_max_dimensions(256, 256)
        .with_max_pixels(1 << 14)
        .with_max_pages(4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decode_never_panics_on_mutated_headers(
        which in 0usize..6,
        edits in prop::collection::vec((0usize..64, any::<u8>()), 1..6),
        cut in prop::option::of(0usize..200),
    ) {
        let mut b = seeds()[which].clone();
        for (pos, v) in edits {
            if pos < b.len() {
                b[pos] = v;
            }
        }
        if let Some(c) = cut {
            b.truncate(c);
        }
        let lim = small_limits();
        if let Ok(pages) = decode(&b, &lim) {
            for p in pages {
                prop_assert!(p.width() <= 256 && p.height() <= 256);
                prop_assert!(u64::from(p.width()) * u64::from(p.height()) <= 1 << 14);
            }
        }
    }

    #[test]
    fn preprocess_and_layout_never_panic(
        w in 0u32..60, h in 0u32..60, seed in any::<u64>(), density in 0u8..255,
    ) {
        let mut s = seed | 1;
        let img = GrayImage::from_fn(w, h, |_, _| {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            Luma([if (s & 0xff) as u8 > density { 255 } else { (s >> 8) as u8 }])
        });
        let p = preprocess::preprocess(&DynamicImage::ImageLuma8(img.clone()), &preprocess::PreprocessOptions::default());
        let lay = layout::analyze(&p.binary);
        for b in &lay.blocks {
            for l in &b.lines {
                prop_assert!(l.bbox.x + l.bbox.w <= p.binary.width());
                prop_assert!(l.bbox.y + l.bbox.h <= p.binary.height());
            }
        }
        let engine = Engine::new(EngineOptions::default(), Arc::new(super::render::ComponentCounter { conf: 0.5 }));
        if w > 0 && h > 0 {
            let page = engine.process_image(&DynamicImage::ImageLuma8(img)).unwrap();
            let back = from_json(&to_json(&blocksmith_ocr::Document { pages: vec![page], timings: blocksmith_ocr::StageTimings::default() })).unwrap();
            prop_assert_eq!(back.pages.len(), 1);
        }
    }

    #[test]
    fn json_and_hocr_hold_any_text(
        texts in prop::collection::vec("\\PC{0,12}", 1..6),
        confs in prop::collection::vec(0.0f32..=1.0, 6),
    ) {
        let mut d = sample();
        let words: Vec<_> = d.pages[0].blocks[0].lines[0].words.clone();
        let mut line = d.pages[0].blocks[0].lines[0].clone();
        line.words = texts.iter().zip(&confs).map(|(t, &c)| {
            let mut w = words[0].clone();
            w.text = t.clone();
            w.confidence = c;
            w
        }).collect();
        line.aggregate();
        d.pages[0].blocks[0].lines[0] = line;
        d.pages[0].aggregate();
        prop_assert_eq!(from_json(&to_json(&d)).unwrap(), d.clone());
        let h = to_hocr(&d);
        prop_assert_eq!(h.matches("<span").count(), h.matches("</span>").count());
        for t in &texts {
            let mut esc = String::new();
            for c in t.chars() {
                match c {
                    '&' => esc.push_str("&amp;"), '<' => esc.push_str("&lt;"), '>' => esc.push_str("&gt;"),
                    '"' => esc.push_str("&quot;"), '\'' => esc.push_str("&#39;"), c => esc.push(c),
                }
            }
            prop_assert!(h.contains(&esc));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The sliding-sum Sauvola equals the textbook per-pixel formula.
    #[test]
    fn sauvola_matches_the_brute_force_formula(
        w in 1u32..40, h in 1u32..40, window in 3u32..15, k in 0.05f32..0.6, seed in any::<u64>(),
    ) {
        let mut s = seed | 1;
        let img = GrayImage::from_fn(w, h, |_, _| {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            Luma([(s % 256) as u8])
        });
        let fast = preprocess::binarize_sauvola(&img, window, k);
        let r = (window / 2) as i64;
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                let (mut n, mut sum, mut sq) = (0f64, 0f64, 0f64);
                for yy in (y - r).max(0)..=(y + r).min(h as i64 - 1) {
                    for xx in (x - r).max(0)..=(x + r).min(w as i64 - 1) {
                        let v = f64::from(img.get_pixel(xx as u32, yy as u32).0[0]);
                        n += 1.0; sum += v; sq += v * v;
                    }
                }
                let m = sum / n;
                let sd = (sq / n - m * m).max(0.0).sqrt();
                let t = m * (1.0 + f64::from(k) * (sd / 128.0 - 1.0));
                let p = f64::from(img.get_pixel(x as u32, y as u32).0[0]);
                let got_ink = fast.get_pixel(x as u32, y as u32).0[0] == 0;
                if (p - t).abs() > 1e-6 {
                    prop_assert_eq!(got_ink, p <= t, "pixel ({}, {}) p {} t {}", x, y, p, t);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The fast 3x3 median equals the median of each pixel's 3x3 neighbourhood with borders
    /// replicated.
    #[test]
    fn median_3x3_matches_the_brute_force_median(
        w in 1u32..30, h in 1u32..30, seed in any::<u64>(),
    ) {
        let mut s = seed | 1;
        let img = GrayImage::from_fn(w, h, |_, _| {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            Luma([(s % 256) as u8])
        });
        let fast = preprocess::median_denoise(&img, 1);
        for y in 0..h as i64 {
            for x in 0..w as i64 {
                let mut v: Vec<u8> = Vec::with_capacity(9);
                for dy in -1..=1i64 {
                    for dx in -1..=1i64 {
                        let (xx, yy) = ((x + dx).clamp(0, w as i64 - 1), (y + dy).clamp(0, h as i64 - 1));
                        v.push(img.get_pixel(xx as u32, yy as u32)[0]);
                    }
                }
                v.sort_unstable();
                prop_assert_eq!(fast.get_pixel(x as u32, y as u32)[0], v[4], "at ({}, {})", x, y);
            }
        }
    }
}
