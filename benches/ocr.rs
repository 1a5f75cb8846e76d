//! OCR stage timings on an A4 page at 300 DPI (2480x3508): preprocessing and layout, against
//! imageproc's own Otsu threshold and connected-component labelling in the same run.
//!
//! The `full_page` group times a whole page: decode a PNG of the page, preprocess, layout
//! (pages per second = 1 / median), then the same with the built-in recognizer
//! (`Engine::default().process_bytes`, printing the time of each stage once), against decoding
//! alone. `cargo bench --bench ocr_recognize` times recognition alone.
//!
//! Peers: `imageproc` (baseline), `image`, `ab_glyph` (renders the page from DejaVu Sans).

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use blocksmith::ocr::preprocess::{self, PreprocessOptions};
use blocksmith::ocr::{components, layout};
use criterion::{Criterion, criterion_group, criterion_main};
use image::{DynamicImage, GrayImage, Luma};
use std::hint::black_box;
use std::time::Duration;

/// The font used to render the page; adjust when the bench moves to the workspace root.
const FONT_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/crates/ocr/tests/data/DejaVuSans.ttf"
);

const TEXT: &str = "The quick brown fox jumps over the lazy dog while twelve boxing wizards jump quickly and the five dozen liquor jugs stay packed in my box of hidden gems by the old harbour light. Jackdaws love my big sphinx of quartz, and the quick onyx goblin jumps over the lazy dwarf while bright vixens jump and dozy fowl quack in the night.";

/// Two columns of 11 pt text (46 px at 300 DPI) with a title, turned by 1.5 degrees.
fn a4_page() -> GrayImage {
    let data = std::fs::read(FONT_PATH).expect("font");
    let font = FontRef::try_from_slice(&data).expect("font");
    let (w, h) = (2480u32, 3508u32);
    let mut img = GrayImage::from_pixel(w, h, Luma([255]));
    let draw = |img: &mut GrayImage, text: &str, x: f32, y: f32, px: f32| {
        let scale = PxScale::from(px);
        let sf = font.as_scaled(scale);
        let mut caret = x;
        for c in text.chars() {
            let id = font.glyph_id(c);
            let g = id.with_scale_and_position(scale, point(caret, y));
            caret += sf.h_advance(id);
            if let Some(o) = font.outline_glyph(g) {
                let b = o.px_bounds();
                o.draw(|gx, gy, cov| {
                    let (px_, py) = (b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32);
                    if px_ >= 0 && py >= 0 && (px_ as u32) < w && (py as u32) < h {
                        let p = img.get_pixel_mut(px_ as u32, py as u32);
                        p.0[0] = p.0[0].min((255.0 * (1.0 - cov.clamp(0.0, 1.0))) as u8);
                    }
                });
            }
        }
        caret - x
    };
    draw(&mut img, "Harbour Quarterly Report", 700.0, 330.0, 92.0);
    let px = 46.0;
    let col_w = 980.0;
    for col in 0..2 {
        let x0 = 220.0 + col as f32 * 1100.0;
        let mut y = 520.0;
        let mut line = String::new();
        let words: Vec<&str> = TEXT.split_whitespace().cycle().take(900).collect();
        for wd in words {
            let cand = if line.is_empty() {
                wd.to_string()
            } else {
                format!("{line} {wd}")
            };
            let sf = font.as_scaled(PxScale::from(px));
            let width: f32 = cand.chars().map(|c| sf.h_advance(font.glyph_id(c))).sum();
            if width > col_w {
                draw(&mut img, &line, x0, y, px);
                y += px * 1.25;
                line = wd.to_string();
                if y > 3250.0 {
                    break;
                }
            } else {
                line = cand;
            }
        }
    }
    preprocess::rotate(&img, 1.5)
}

fn bench(c: &mut Criterion) {
    let page = a4_page();
    let input = DynamicImage::ImageLuma8(page.clone());
    let opts = PreprocessOptions::default();
    let pre = preprocess::preprocess(&input, &opts);
    assert!(
        (pre.skew_degrees - 1.5).abs() <= 0.2,
        "skew {}",
        pre.skew_degrees
    );

    let mut g = c.benchmark_group("ocr");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("preprocess_full_a4", |b| {
        b.iter(|| preprocess::preprocess(black_box(&input), &opts));
    });
    g.bench_function("layout_a4", |b| {
        b.iter(|| layout::analyze(black_box(&pre.binary)));
    });
    g.bench_function("binarize_otsu_a4", |b| {
        b.iter(|| preprocess::binarize_otsu(black_box(&page)));
    });
    g.bench_function("baseline_imageproc_otsu_threshold_a4", |b| {
        b.iter(|| {
            let level = imageproc::contrast::otsu_level(black_box(&page));
            imageproc::contrast::threshold(&page, level, imageproc::contrast::ThresholdType::Binary)
        });
    });
    g.bench_function("binarize_sauvola_a4", |b| {
        b.iter(|| preprocess::binarize_sauvola(black_box(&page), 31, 0.2));
    });
    g.bench_function("rotate_a4", |b| {
        b.iter(|| preprocess::rotate(black_box(&page), -1.5));
    });
    g.bench_function("estimate_skew_a4", |b| {
        b.iter(|| preprocess::estimate_skew(black_box(&pre.binary), 15.0));
    });
    g.bench_function("components_a4", |b| {
        b.iter(|| components::label(black_box(&pre.binary)));
    });
    g.bench_function("baseline_imageproc_connected_components_a4", |b| {
        b.iter(|| {
            imageproc::region_labelling::connected_components(
                black_box(&pre.binary),
                imageproc::region_labelling::Connectivity::Eight,
                Luma([255u8]),
            )
        });
    });
    g.finish();

    let mut png = Vec::new();
    input
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("png");
    let limits = blocksmith::ocr::Limits::default();
    let mut g = c.benchmark_group("full_page");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("baseline_decode_png_a4", |b| {
        b.iter(|| blocksmith::ocr::decode(black_box(&png), &limits).expect("decode"));
    });
    g.bench_function("decode_preprocess_layout_a4", |b| {
        b.iter(|| {
            let pages = blocksmith::ocr::decode(black_box(&png), &limits).expect("decode");
            let pre = preprocess::preprocess(&pages[0], &opts);
            layout::analyze(&pre.binary)
        });
    });
    // The whole pipeline with the built-in recognizer: what a page costs end to end.
    let engine = blocksmith::ocr::Engine::default();
    let doc = engine.process_bytes(&png).expect("ocr");
    let t = doc.timings;
    eprintln!(
        "full page: {} words; stages decode {:.0} ms, preprocess {:.0} ms, layout {:.0} ms, recognize {:.0} ms",
        doc.pages[0].lines().map(|l| l.words.len()).sum::<usize>(),
        t.decode.as_secs_f64() * 1e3,
        t.preprocess.as_secs_f64() * 1e3,
        t.layout.as_secs_f64() * 1e3,
        t.recognize.as_secs_f64() * 1e3,
    );
    g.bench_function("decode_preprocess_layout_recognize_a4", |b| {
        b.iter(|| engine.process_bytes(black_box(&png)).expect("ocr"));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
