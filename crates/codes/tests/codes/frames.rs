use super::{enc, gray};
use blocksmith_codes::Symbology;
use blocksmith_codes::degrade::{Degradation, place};
use blocksmith_codes::frames::{FrameOptions, FrameScanner, Roi};

#[test]
fn confirm_over_frames_skip_unchanged_and_dedup() {
    let qr = gray(&enc(Symbology::Qr), 4);
    let frame = place(&qr, 640, 480, 200, 100, 230);
    let mut fs = FrameScanner::new(FrameOptions::new().with_confirm_frames(3));
    let r1 = fs.push(640, 480, frame.as_raw()).unwrap();
    assert!(!r1.skipped && r1.seen.len() == 1 && r1.confirmed.is_empty());
    // Same frame: skipped, but counts as seen.
    let r2 = fs.push_image(&frame).unwrap();
    assert!(r2.skipped && r2.confirmed.is_empty());
    // A slightly different frame (noise): decoded in the tracked region, confirmed.
    let noisy = Degradation::Noise(12.0).apply(&frame, 1).unwrap();
    let r3 = fs.push_image(&noisy).unwrap();
    assert!(!r3.skipped, "noise should count as a change");
    assert!(r3.tracked);
    assert_eq!(r3.confirmed.len(), 1);
    assert_eq!(r3.confirmed[0].text, enc(Symbology::Qr).text);
    // Points are in frame coordinates even when scanning a region.
    assert!(r3.confirmed[0].corners[0].x > 200.0);
    // Still in view: not reported again.
    for i in 0..5 {
        let f = Degradation::Noise(12.0).apply(&frame, 10 + i).unwrap();
        assert!(fs.push_image(&f).unwrap().confirmed.is_empty());
    }
    assert_eq!(fs.frames(), 8);
}

#[test]
fn flicker_does_not_confirm_and_gaps_reset() {
    let qr = gray(&enc(Symbology::Qr), 4);
    let with = place(&qr, 480, 360, 100, 60, 230);
    let without = place(
        &image::GrayImage::from_pixel(10, 10, image::Luma([230])),
        480,
        360,
        0,
        0,
        230,
    );
    let mut opts = FrameOptions::new().with_confirm_frames(2);
    opts.max_gap = 1;
    let mut fs = FrameScanner::new(opts);
    // Seen, then absent for 3 frames, then seen: the count restarts.
    assert!(fs.push_image(&with).unwrap().confirmed.is_empty());
    for _ in 0..3 {
        let n = Degradation::Noise(5.0)
            .apply(&without, fs.frames())
            .unwrap();
        assert!(fs.push_image(&n).unwrap().seen.is_empty());
    }
    let r = fs
        .push_image(&Degradation::Noise(5.0).apply(&with, 99).unwrap())
        .unwrap();
    assert!(r.confirmed.is_empty(), "gap should reset the count");
    let r = fs
        .push_image(&Degradation::Noise(5.0).apply(&with, 98).unwrap())
        .unwrap();
    assert_eq!(r.confirmed.len(), 1);
}

#[test]
fn fixed_roi_ignores_codes_outside() {
    let qr = gray(&enc(Symbology::Qr), 4);
    let frame = place(&qr, 640, 480, 20, 20, 230);
    let mut fs = FrameScanner::new(FrameOptions::new().with_confirm_frames(1).with_roi(Roi {
        x: 320,
        y: 0,
        w: 320,
        h: 480,
    }));
    assert!(fs.push_image(&frame).unwrap().seen.is_empty());
    let mut fs = FrameScanner::new(FrameOptions::new().with_confirm_frames(1).with_roi(Roi {
        x: 0,
        y: 0,
        w: 400,
        h: 400,
    }));
    assert_eq!(fs.push_image(&frame).unwrap().confirmed.len(), 1);
    assert!(fs.push(3, 3, &[0; 8]).is_err());
}

#[test]
fn empty_frame_is_an_error_not_a_panic() {
    let mut fs = FrameScanner::new(FrameOptions::new());
    let empty = blocksmith_codes::image::GrayImage::new(0, 0);
    assert!(matches!(
        fs.push_image(&empty),
        Err(blocksmith_codes::Error::Image(_))
    ));
    assert_eq!(fs.frames(), 0);
    let wide = blocksmith_codes::image::GrayImage::new(5, 0);
    assert!(fs.push_image(&wide).is_err());
}
