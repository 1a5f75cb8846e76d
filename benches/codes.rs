//! QR encode and decode on a 1080p frame: `blocksmith::codes` against plain
//! `rxing` (its `detect_in_luma` helper, try-harder on) and `rqrr`, and QR
//! encoding against the plain `qrcode` crate.
//!
//! ```text
//! cargo bench --bench codes
//! ```

use blocksmith::codes::degrade::{Degradation, place};
use blocksmith::codes::{
    EncodeOptions, RenderOptions, ScanOptions, Symbology, encode, render, scan,
};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

const URL: &str = "https://example.com/campaign/2026/spring?id=000123&src=poster";

/// A 1920x1080 frame: the code at 6 px per module, off-centre, on a
/// shaded background with sensor noise.
fn frame() -> image::GrayImage {
    let s = encode(URL, &EncodeOptions::new(Symbology::Qr)).unwrap();
    let img = render::to_image(&s, &RenderOptions::new().with_scale(6)).unwrap();
    let code = image::DynamicImage::ImageRgb8(img).to_luma8();
    let f = place(&code, 1920, 1080, 1100, 300, 210);
    Degradation::Noise(6.0).apply(&f, 42).unwrap()
}

fn decode(c: &mut Criterion) {
    let f = frame();
    let (w, h) = f.dimensions();
    let raw = f.as_raw().clone();
    // Sanity: all three read it.
    let ours = scan::scan_gray(&f, &ScanOptions::new().with_symbologies([Symbology::Qr])).unwrap();
    assert_eq!(ours.codes[0].text, URL);
    let plain =
        rxing::helpers::detect_in_luma(raw.clone(), w, h, Some(rxing::BarcodeFormat::QR_CODE))
            .unwrap();
    assert_eq!(plain.getText(), URL);
    let mut prep = rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
        raw[y * w as usize + x]
    });
    let grids = prep.detect_grids();
    assert_eq!(grids[0].decode().unwrap().1, URL);

    let mut g = c.benchmark_group("qr_decode_1080p");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    g.bench_function("blocksmith_codes_qr_only", |b| {
        let o = ScanOptions::new().with_symbologies([Symbology::Qr]);
        b.iter(|| black_box(scan::scan_gray(&f, &o).unwrap().codes.len()));
    });
    g.bench_function("blocksmith_codes_all_symbologies", |b| {
        let o = ScanOptions::new();
        b.iter(|| black_box(scan::scan_gray(&f, &o).unwrap().codes.len()));
    });
    g.bench_function("rxing_detect_in_luma", |b| {
        b.iter(|| {
            black_box(
                rxing::helpers::detect_in_luma(
                    raw.clone(),
                    w,
                    h,
                    Some(rxing::BarcodeFormat::QR_CODE),
                )
                .map(|r| r.getText().len()),
            )
        });
    });
    g.bench_function("rqrr", |b| {
        b.iter(|| {
            let mut p =
                rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
                    raw[y * w as usize + x]
                });
            black_box(
                p.detect_grids()
                    .first()
                    .map(|g| g.decode().map(|d| d.1.len())),
            )
        });
    });
    g.finish();
}

fn encode_bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("qr_encode");
    g.sample_size(20).measurement_time(Duration::from_secs(2));
    g.bench_function("blocksmith_codes_modules", |b| {
        let o = EncodeOptions::new(Symbology::Qr);
        b.iter(|| black_box(encode(black_box(URL), &o).unwrap().width));
    });
    g.bench_function("qrcode_crate_modules", |b| {
        b.iter(|| black_box(qrcode::QrCode::new(black_box(URL)).unwrap().width()));
    });
    g.bench_function("blocksmith_codes_png", |b| {
        let o = EncodeOptions::new(Symbology::Qr);
        let r = RenderOptions::new().with_scale(4);
        b.iter(|| black_box(render::to_png(&encode(URL, &o).unwrap(), &r).unwrap().len()));
    });
    g.bench_function("blocksmith_codes_svg", |b| {
        let o = EncodeOptions::new(Symbology::Qr);
        let r = RenderOptions::new();
        b.iter(|| black_box(render::to_svg(&encode(URL, &o).unwrap(), &r).unwrap().len()));
    });
    g.finish();
}

criterion_group!(benches, decode, encode_bench);
criterion_main!(benches);
