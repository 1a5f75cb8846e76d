use super::{enc, gray};
use blocksmith_codes::degrade::{Degradation, place};
use blocksmith_codes::scan::{self, scan_bytes, scan_gray, scan_luma};
use blocksmith_codes::{Error, ScanOptions, Symbology};
use image::GrayImage;
use std::time::{Duration, Instant};

fn png(img: &GrayImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::ImageLuma8(img.clone())
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[test]
fn several_codes_in_one_image_with_positions() {
    let qr = gray(&enc(Symbology::Qr), 4);
    let ean = gray(&enc(Symbology::Ean13), 3);
    let dm = gray(&enc(Symbology::DataMatrix), 6);
    let mut canvas = place(&qr, 1000, 700, 40, 40, 235);
    image::imageops::overlay(&mut canvas, &ean, 520, 60);
    image::imageops::overlay(&mut canvas, &dm, 600, 420);
    let report = scan_bytes(&png(&canvas), &super::opts().with_exhaustive(true)).unwrap();
    let mut found: Vec<Symbology> = report.codes.iter().map(|d| d.symbology).collect();
    found.sort();
    assert_eq!(
        found,
        vec![Symbology::Qr, Symbology::Ean13, Symbology::DataMatrix],
        "{report:?}"
    );
    for d in &report.codes {
        let [tl, _, br, _] = d.corners;
        let (cx, cy) = (f32::midpoint(tl.x, br.x), f32::midpoint(tl.y, br.y));
        let (x0, y0, w, h) = match d.symbology {
            Symbology::Qr => (40.0, 40.0, qr.width() as f32, qr.height() as f32),
            Symbology::Ean13 => (520.0, 60.0, ean.width() as f32, ean.height() as f32),
            _ => (600.0, 420.0, dm.width() as f32, dm.height() as f32),
        };
        assert!(
            cx > x0 && cx < x0 + w && cy > y0 && cy < y0 + h,
            "{:?} centre ({cx},{cy}) outside its code",
            d.symbology
        );
    }
    assert_eq!(
        report
            .codes
            .iter()
            .find(|d| d.symbology == Symbology::Qr)
            .unwrap()
            .ec_level
            .as_deref(),
        Some("M")
    );
}

#[test]
fn rotated_blurred_noisy_low_contrast_inverted() {
    let qr = gray(&enc(Symbology::Qr), 5);
    let cases = [
        Degradation::Rotate(30.0),
        Degradation::Rotate(90.0),
        Degradation::Blur(1.5),
        Degradation::Noise(30.0),
        Degradation::LowContrast(40),
        Degradation::Jpeg(15),
        Degradation::Perspective(0.2),
        Degradation::Scale(0.5),
    ];
    for d in cases {
        let img = d.apply(&qr, 7).unwrap();
        let r = scan_gray(&img, &super::opts()).unwrap();
        assert_eq!(r.codes.len(), 1, "{}: {r:?}", d.label());
        assert_eq!(r.codes[0].text, enc(Symbology::Qr).text);
    }
    // Inverted.
    let mut inv = qr.clone();
    image::imageops::invert(&mut inv);
    let r = scan_gray(&inv, &super::opts()).unwrap();
    assert_eq!(r.codes.len(), 1);
    // Inversion off: not found.
    let r = scan_gray(
        &inv,
        &super::opts().with_inverted(false).with_preprocess(false),
    )
    .unwrap();
    assert!(r.codes.is_empty());
}

#[test]
fn tilted_and_vertical_linear_codes() {
    for s in [Symbology::Ean13, Symbology::Code128] {
        let img = gray(&enc(s), 3);
        for deg in [90.0, 40.0, -35.0] {
            let rot = Degradation::Rotate(deg).apply(&img, 0).unwrap();
            let r = scan_gray(&rot, &super::opts()).unwrap();
            assert_eq!(r.codes.len(), 1, "{s} at {deg}: {r:?}");
            assert_eq!(r.codes[0].text, enc(s).text);
            // Points map back inside the rotated image.
            for p in &r.codes[0].points {
                assert!(
                    p.x >= -2.0
                        && p.y >= -2.0
                        && p.x <= rot.width() as f32 + 2.0
                        && p.y <= rot.height() as f32 + 2.0,
                    "{p:?}"
                );
            }
        }
    }
}

#[test]
fn large_photo_is_downscaled() {
    let qr = gray(&enc(Symbology::Qr), 24);
    let big = place(&qr, 4000, 3000, 1500, 1000, 220);
    let r = scan_gray(&big, &super::opts()).unwrap();
    assert!(r.downscale > 2.0);
    assert_eq!(r.codes.len(), 1);
    // Points are in the original image's coordinates.
    let [tl, _, br, _] = r.codes[0].corners;
    assert!(
        tl.x > 1500.0 && br.x < 1500.0 + qr.width() as f32,
        "{tl:?} {br:?}"
    );
}

#[test]
fn symbology_filter() {
    let img = gray(&enc(Symbology::Qr), 4);
    let r = scan_gray(&img, &super::opts().with_symbologies([Symbology::Ean13])).unwrap();
    assert!(r.codes.is_empty());
}

#[test]
fn hostile_inputs_get_typed_errors() {
    let opts = ScanOptions::new();
    assert!(matches!(scan_bytes(b"", &opts), Err(Error::Image(_))));
    assert!(matches!(
        scan_bytes(b"not an image at all", &opts),
        Err(Error::Image(_))
    ));
    let good = png(&gray(&enc(Symbology::Qr), 2));
    assert!(matches!(
        scan_bytes(&good[..good.len() / 2], &opts),
        Err(Error::Image(_))
    ));
    // A PNG header claiming 100000 x 100000 pixels: refused before decoding.
    let mut bomb = good.clone();
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    assert!(matches!(
        scan_bytes(&bomb, &opts),
        Err(Error::ImageTooLarge { .. } | Error::Image(_))
    ));
    assert!(matches!(
        scan_bytes(&good, &super::opts().with_max_pixels(100)),
        Err(Error::ImageTooLarge { .. })
    ));
    assert!(matches!(
        scan_luma(10, 10, &[0; 99], &opts),
        Err(Error::Image(_))
    ));
    assert!(matches!(scan_luma(0, 0, &[], &opts), Err(Error::Image(_))));
}

#[test]
fn noise_images_are_bounded_in_time() {
    // Random noise and stripes make the detectors work hardest; every scan
    // stays inside the budget plus one decoder call.
    let mut seed = 0x1234_5678u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for kind in 0..4 {
        let img = GrayImage::from_fn(1024, 768, |x, y| {
            let v = match kind {
                0 => next() as u8,
                1 => {
                    if (x / 3) % 2 == 0 {
                        0
                    } else {
                        255
                    }
                }
                2 => {
                    if (x / 7 + y / 7) % 2 == 0 {
                        0
                    } else {
                        255
                    }
                }
                _ => ((x * y) % 256) as u8,
            };
            image::Luma([v])
        });
        let t = Instant::now();
        let budget = Duration::from_millis(300);
        let r = scan_gray(&img, &ScanOptions::new().with_time_budget(budget)).unwrap();
        // The budget plus at most one decoder call (generous: debug builds on a loaded machine).
        assert!(
            t.elapsed() < budget + Duration::from_secs(10),
            "kind {kind}: {:?}",
            t.elapsed()
        );
        assert_eq!(r.decoder_panics, 0);
    }
    // A tiny budget stops early and says so.
    let img = GrayImage::from_fn(800, 800, |_, _| image::Luma([next() as u8]));
    let r = scan_gray(
        &img,
        &super::opts().with_time_budget(Duration::from_millis(1)),
    )
    .unwrap();
    assert!(r.budget_exhausted);
}

#[test]
fn scan_options_builders() {
    let o = super::opts().with_max_codes(0).with_max_dimension(10);
    assert_eq!(o.max_codes, 1);
    assert_eq!(o.max_dimension, 64);
    let img = image::DynamicImage::ImageLuma8(gray(&enc(Symbology::Aztec), 4));
    let r = scan::scan_image(&img, &super::opts()).unwrap();
    assert_eq!(r.codes[0].symbology, Symbology::Aztec);
}

#[test]
fn deskew_reads_tilted_2d_codes() {
    // Aztec and Data Matrix detectors want axis-aligned symbols; the deskew
    // variant turns the image back by its dominant edge direction.
    for s in [Symbology::Aztec, Symbology::DataMatrix] {
        let img = gray(&enc(s), 4);
        let canvas = place(&img, img.width() + 80, img.height() + 80, 40, 40, 240);
        for deg in [12.0, -25.0] {
            let rot = Degradation::Rotate(deg).apply(&canvas, 0).unwrap();
            let r = scan_gray(&rot, &super::opts()).unwrap();
            assert_eq!(r.codes.len(), 1, "{s} at {deg}: {r:?}");
            assert_eq!(r.codes[0].text, enc(s).text);
        }
    }
}

/// A strongly keystoned QR and Aztec (the top edge shrunk to 40% of the
/// width, as in the benchmark set's `perspective-0.3`) decode through the
/// keystone correction, with corners mapped back into the distorted image.
#[test]
fn keystoned_codes_decode_with_corners_in_the_original() {
    use imageproc::geometric_transformations::Projection;
    for (s, scale) in [
        (Symbology::Qr, 3),
        (Symbology::Qr, 5),
        (Symbology::Aztec, 4),
    ] {
        let code = gray(&enc(s), scale);
        let (w, h) = (code.width() + 80, code.height() + 80);
        let base = place(&code, w, h, 40, 40, 240);
        let img = Degradation::Perspective(0.3).apply(&base, 0).unwrap();
        let r = scan_gray(&img, &super::opts()).unwrap();
        let d = r
            .codes
            .iter()
            .find(|d| d.symbology == s)
            .unwrap_or_else(|| panic!("{s:?} not decoded: {r:?}"));
        assert_eq!(d.variant, "keystone", "{s:?}");
        // Where the degradation moved the code's centre.
        let (fw, fh) = (w as f32, h as f32);
        let p = 0.3 * fw;
        let warp = Projection::from_control_points(
            [(0.0, 0.0), (fw, 0.0), (fw, fh), (0.0, fh)],
            [(p, 0.0), (fw - p, 0.0), (fw, fh), (0.0, fh)],
        )
        .unwrap();
        let (ex, ey) = warp * (fw / 2.0, fh / 2.0);
        let cx = d.corners.iter().map(|c| c.x).sum::<f32>() / 4.0;
        let cy = d.corners.iter().map(|c| c.y).sum::<f32>() / 4.0;
        let tol = code.width() as f32 * 0.25;
        assert!(
            (cx - ex).abs() < tol && (cy - ey).abs() < tol,
            "{s:?}: centre ({cx}, {cy}), expected near ({ex}, {ey})"
        );
    }
}

#[test]
fn an_input_over_the_byte_limit_is_refused_before_decoding() {
    let options = ScanOptions::new().with_max_input_bytes(100);
    let r = scan_bytes(&[0u8; 101], &options);
    assert!(
        matches!(
            r,
            Err(Error::InputTooLarge {
                size: 101,
                limit: 100
            })
        ),
        "{r:?}"
    );
}
