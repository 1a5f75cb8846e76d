use super::render::text_page;
use blocksmith_ocr::preprocess::{
    self, Binarization, Orientation, PreprocessOptions, binarize_otsu, binarize_sauvola,
    detect_orientation, estimate_skew, normalize_contrast, remove_borders, remove_speckles, rotate,
};
use image::{DynamicImage, GrayImage, Luma};

fn ink(img: &GrayImage) -> usize {
    img.pixels().filter(|p| p.0[0] < 128).count()
}

#[test]
fn deskew_within_0_2_degrees_over_plus_minus_15() {
    let (page, _) = text_page(1100, 1400, 22.0, 24);
    let bin = binarize_otsu(&page);
    assert!(estimate_skew(&bin, 15.0).abs() <= 0.2);
    let mut worst = 0.0f32;
    for &angle in &[
        -15.0f32, -12.3, -9.0, -5.5, -2.25, -0.7, 0.35, 1.1, 3.3, 7.75, 11.2, 14.9,
    ] {
        let rotated = rotate(&page, angle);
        let est = estimate_skew(&binarize_otsu(&rotated), 15.0);
        let err = (est - angle).abs();
        worst = worst.max(err);
        assert!(err <= 0.2, "angle {angle}: estimated {est}");
    }
    eprintln!("deskew worst error {worst:.3} degrees");
}

#[test]
fn deskew_of_sparse_page_and_blank_page() {
    let (page, _) = text_page(900, 1200, 20.0, 3);
    for &angle in &[-8.0f32, 4.5] {
        let est = estimate_skew(&binarize_otsu(&rotate(&page, angle)), 15.0);
        assert!((est - angle).abs() <= 0.2, "angle {angle}: {est}");
    }
    let blank = GrayImage::from_pixel(300, 300, Luma([255]));
    assert_eq!(estimate_skew(&blank, 15.0), 0.0);
    assert_eq!(estimate_skew(&GrayImage::new(0, 0), 15.0), 0.0);
}

#[test]
fn preprocess_corrects_skew() {
    let (page, _) = text_page(1000, 1200, 22.0, 16);
    let rotated = rotate(&page, 6.0);
    let p = preprocess::preprocess(
        &DynamicImage::ImageLuma8(rotated),
        &PreprocessOptions::default(),
    );
    assert!((p.skew_degrees - 6.0).abs() <= 0.2, "{}", p.skew_degrees);
    assert!(estimate_skew(&p.binary, 15.0).abs() <= 0.2);
    assert_eq!(p.orientation, Orientation::Up);
}

#[test]
fn orientation_of_quarter_turns() {
    let (page, _) = text_page(1000, 1300, 24.0, 18);
    let bin = binarize_otsu(&page);
    assert_eq!(detect_orientation(&bin), Orientation::Up);
    let cases = [
        (image::imageops::rotate90(&bin), Orientation::Right),
        (image::imageops::rotate180(&bin), Orientation::Down),
        (image::imageops::rotate270(&bin), Orientation::Left),
    ];
    for (img, want) in cases {
        let got = detect_orientation(&img);
        assert_eq!(got, want);
        assert_eq!(got.correct(&img), bin, "{want:?} corrected");
    }
}

#[test]
fn otsu_and_sauvola_separate_text_from_uneven_background() {
    let (page, _) = text_page(800, 600, 24.0, 8);
    // Background darkening from 250 to 120 left to right: a global threshold fails here.
    let shaded = GrayImage::from_fn(800, 600, |x, y| {
        let bg = 250.0 - 130.0 * x as f32 / 800.0;
        let v = f32::from(page.get_pixel(x, y).0[0]) / 255.0 * bg;
        Luma([v as u8])
    });
    let truth = ink(&binarize_otsu(&page));
    let sau = binarize_sauvola(&shaded, 31, 0.2);
    let otsu = binarize_otsu(&shaded);
    let err = |b: &GrayImage| {
        b.pixels()
            .zip(page.pixels())
            .filter(|(a, t)| (a.0[0] < 128) != (t.0[0] < 128))
            .count()
    };
    assert!(
        err(&sau) < truth / 3,
        "sauvola errors {} of {truth}",
        err(&sau)
    );
    assert!(
        err(&otsu) > err(&sau) * 3,
        "otsu {} sauvola {}",
        err(&otsu),
        err(&sau)
    );
}

#[test]
fn contrast_stretch_and_flat_images() {
    let low = GrayImage::from_fn(100, 100, |x, _| Luma([100 + (x % 50) as u8]));
    let s = normalize_contrast(&low, 0.5, 99.5);
    let (mn, mx) = s
        .pixels()
        .fold((255u8, 0u8), |(a, b), p| (a.min(p.0[0]), b.max(p.0[0])));
    assert_eq!((mn, mx), (0, 255));
    let flat = GrayImage::from_pixel(10, 10, Luma([77]));
    assert_eq!(normalize_contrast(&flat, 1.0, 99.0), flat);
    let empty = GrayImage::new(0, 0);
    assert_eq!(normalize_contrast(&empty, 1.0, 99.0).len(), 0);
    assert_eq!(binarize_sauvola(&empty, 15, 0.3).len(), 0);
    assert_eq!(binarize_otsu(&empty).len(), 0);
}

#[test]
fn speckles_and_borders_are_removed() {
    let (page, _) = text_page(700, 500, 24.0, 5);
    let mut bin = binarize_otsu(&page);
    let clean = ink(&bin);
    // Salt: isolated single dark pixels in the margins.
    let mut noisy = bin.clone();
    for i in 0..200u32 {
        noisy.put_pixel((i * 37) % 700, 450 + (i * 13) % 45, Luma([0]));
    }
    let removed = remove_speckles(&mut noisy, 3);
    assert!(removed >= 150, "{removed}");
    assert!(ink(&noisy).abs_diff(clean) < clean / 50);
    // A dark scanner border 25 px wide on the left and top.
    let mut gray = page.clone();
    for y in 0..500 {
        for x in 0..700 {
            if x < 25 || y < 20 {
                gray.put_pixel(x, y, Luma([10]));
                bin.put_pixel(x, y, Luma([0]));
            }
        }
    }
    assert!(remove_borders(&mut gray, &mut bin) >= 1);
    assert!(
        ink(&bin).abs_diff(clean) < clean / 50,
        "{} vs {clean}",
        ink(&bin)
    );
    assert!(gray.get_pixel(3, 250).0[0] > 200);
}

#[test]
fn dpi_normalisation_rescales() {
    let (page, _) = text_page(600, 400, 12.0, 4);
    let opts = PreprocessOptions::default()
        .with_source_dpi(Some(150.0))
        .with_target_dpi(300.0)
        .with_binarization(Binarization::Otsu);
    let p = preprocess::preprocess(&DynamicImage::ImageLuma8(page.clone()), &opts);
    assert_eq!(p.gray.dimensions(), (1200, 800));
    assert!((p.scale - 2.0).abs() < 1e-6);
    // Estimation: text rendered at 300 DPI body size (about 46 px em) reads as ~300 DPI.
    let (big, _) = text_page(1600, 1200, 46.0, 12);
    let est = preprocess::estimate_dpi(&binarize_otsu(&big)).expect("estimate");
    assert!((220.0..400.0).contains(&est), "{est}");
}

#[test]
fn preprocess_finds_orientation_of_skewed_turned_pages() {
    let (page, _) = text_page(900, 1100, 22.0, 14);
    let upright = binarize_otsu(&page);
    for skew in [-4.0f32, 2.5] {
        let skewed = rotate(&page, skew);
        let cases = [
            (skewed.clone(), Orientation::Up),
            (image::imageops::rotate90(&skewed), Orientation::Right),
            (image::imageops::rotate180(&skewed), Orientation::Down),
            (image::imageops::rotate270(&skewed), Orientation::Left),
        ];
        for (img, want) in cases {
            let p = preprocess::preprocess(
                &DynamicImage::ImageLuma8(img),
                &PreprocessOptions::default(),
            );
            assert_eq!(p.orientation, want, "skew {skew}");
            assert!(
                (p.skew_degrees - skew).abs() <= 0.2,
                "{want:?} {skew}: {}",
                p.skew_degrees
            );
            assert_eq!(p.binary.dimensions(), upright.dimensions());
        }
    }
}

#[test]
fn rotate_matches_imageproc() {
    use imageproc::geometric_transformations::{Border, Interpolation, rotate_about_center};
    let (page, _) = text_page(400, 300, 20.0, 4);
    for deg in [-13.0f32, -2.5, 0.7, 9.0] {
        let ours = rotate(&page, deg);
        let theirs = rotate_about_center(
            &page,
            deg.to_radians(),
            Interpolation::Bilinear,
            Border::Constant(Luma([255])),
        );
        let diff: u64 = ours
            .pixels()
            .zip(theirs.pixels())
            .map(|(a, b)| u64::from(a.0[0].abs_diff(b.0[0])))
            .sum();
        let mean = diff as f64 / (400.0 * 300.0);
        assert!(mean < 1.5, "{deg}: mean difference {mean}");
    }
}

#[test]
fn large_page_is_analysed_on_a_shrunk_copy_and_turned_once() {
    // Longer side 2,600: orientation and skew are found on a copy shrunk by 2, then the full
    // page is turned once and binarised once.
    let (page, _) = text_page(1900, 2600, 40.0, 40);
    let opts = PreprocessOptions::default();
    let p = preprocess::preprocess(&DynamicImage::ImageLuma8(page.clone()), &opts);
    let upright = ink(&p.binary);
    assert_eq!(p.skew_degrees, 0.0);
    assert_eq!(p.orientation, Orientation::Up);
    // Not resampled: the gray page is the input with its contrast stretched.
    assert_eq!(p.gray, normalize_contrast(&page, 0.5, 99.5));
    for (skew, want) in [
        (2.3f32, Orientation::Up),
        (-0.8, Orientation::Down),
        (-6.5, Orientation::Right),
    ] {
        let skewed = rotate(&page, skew);
        let img = match want {
            Orientation::Down => image::imageops::rotate180(&skewed),
            Orientation::Right => image::imageops::rotate90(&skewed),
            _ => skewed,
        };
        let p = preprocess::preprocess(&DynamicImage::ImageLuma8(img), &opts);
        assert_eq!(p.orientation, want, "skew {skew}");
        assert!(
            (p.skew_degrees - skew).abs() <= 0.2,
            "{skew}: {}",
            p.skew_degrees
        );
        assert_eq!(p.binary.dimensions(), page.dimensions());
        assert!(estimate_skew(&p.binary, 15.0).abs() <= 0.2);
        let got = ink(&p.binary);
        // Two bilinear resamplings (the test's and the deskew) thicken strokes a little.
        assert!(got.abs_diff(upright) < upright / 5, "{got} vs {upright}");
    }
}

/// The noise estimate is about 0 on a clean page and tracks added Gaussian noise; a noisy page
/// gets the automatic median and reads like the clean one.
#[test]
fn noise_is_estimated_and_filtered() {
    use blocksmith_ocr::preprocess::{AUTO_MEDIAN_SIGMA, estimate_noise};
    let (clean, _) = text_page(1200, 900, 40.0, 8);
    assert!(estimate_noise(&clean) < 1.0, "{}", estimate_noise(&clean));
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut gauss = || {
        // Sum of 12 uniforms - 6: a unit normal, near enough.
        let mut t = 0.0f32;
        for _ in 0..12 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            t += (s >> 40) as f32 / (1u64 << 24) as f32;
        }
        t - 6.0
    };
    let mut noisy = clean.clone();
    for p in noisy.pixels_mut() {
        p.0[0] = (f32::from(p.0[0]) + 30.0 * gauss()).clamp(0.0, 255.0) as u8;
    }
    let sigma = estimate_noise(&noisy);
    assert!((AUTO_MEDIAN_SIGMA..40.0).contains(&sigma), "{sigma}");
    // With the automatic median the noisy page binarises to nearly the clean page's components.
    let on = preprocess::preprocess(
        &DynamicImage::ImageLuma8(noisy.clone()),
        &PreprocessOptions::default(),
    );
    let off = preprocess::preprocess(
        &DynamicImage::ImageLuma8(noisy),
        &PreprocessOptions::default().with_auto_median(false),
    );
    let clean_ink = ink(&preprocess::preprocess(
        &DynamicImage::ImageLuma8(clean),
        &PreprocessOptions::default(),
    )
    .binary);
    let (on_ink, off_ink) = (ink(&on.binary), ink(&off.binary));
    assert!(
        on_ink.abs_diff(clean_ink) < off_ink.abs_diff(clean_ink),
        "clean {clean_ink}, filtered {on_ink}, unfiltered {off_ink}"
    );
}
