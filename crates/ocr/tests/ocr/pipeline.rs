use super::input::tiff_pages;
use super::render::{ComponentCounter, WordBoxes, rect_contains, text_page};
use blocksmith_ocr::preprocess::{Orientation, rotate};
use blocksmith_ocr::{
    CharGuess, Engine, EngineOptions, Error, LineImage, Recognizer, ReviewLevel, WordGuess,
};
use image::DynamicImage;
use std::sync::Arc;

fn word_count(lines: &[String]) -> usize {
    lines.iter().map(|l| l.split_whitespace().count()).sum()
}

#[test]
fn turned_and_skewed_page_is_read_upright() {
    let (page, lines) = text_page(1100, 1300, 24.0, 14);
    let skewed = rotate(&page, -3.5);
    let turned = image::imageops::rotate90(&skewed);
    let engine = Engine::new(
        EngineOptions::default(),
        Arc::new(ComponentCounter { conf: 1.0 }),
    );
    let p = engine
        .process_image(&DynamicImage::ImageLuma8(turned))
        .unwrap();
    assert_eq!(p.orientation, Orientation::Right);
    assert!((p.skew_degrees + 3.5).abs() <= 0.2, "{}", p.skew_degrees);
    let got: Vec<usize> = p.lines().map(|l| l.words.len()).collect();
    let want: Vec<usize> = lines.iter().map(|l| l.split_whitespace().count()).collect();
    assert_eq!(got, want);
    assert_eq!(p.confidence, 1.0);
    assert!(p.timings.preprocess > std::time::Duration::ZERO);
    for l in p.lines() {
        for w in &l.words {
            assert!(!w.chars.is_empty());
            for c in &w.chars {
                assert!(c.bbox.x + c.bbox.w <= p.width && c.bbox.y + c.bbox.h <= p.height);
            }
            // Word boxes come back in page coordinates, inside their line.
            assert!(rect_contains(l.bbox, w.bbox), "{:?} {:?}", l.bbox, w.bbox);
        }
    }
}

#[test]
fn bytes_to_document_over_multi_page_tiff() {
    let (a, la) = text_page(700, 500, 22.0, 5);
    let (b, lb) = text_page(600, 400, 22.0, 3);
    let bytes = tiff_pages(&[a, b]);
    let engine = Engine::new(
        EngineOptions::default(),
        Arc::new(ComponentCounter { conf: 0.8 }),
    );
    let doc = engine.process_bytes(&bytes).unwrap();
    assert_eq!(doc.pages.len(), 2);
    assert_eq!(doc.pages[1].index, 1);
    let words: Vec<usize> = doc
        .pages
        .iter()
        .map(|p| p.lines().map(|l| l.words.len()).sum())
        .collect();
    assert_eq!(words, [word_count(&la), word_count(&lb)]);
    assert!((doc.confidence() - 0.8).abs() < 1e-5);
    assert!(doc.timings.decode > std::time::Duration::ZERO);
    assert!(doc.low_confidence(0.5).is_empty());
    assert_eq!(doc.low_confidence(0.9).len(), words[0] + words[1]);
}

#[test]
fn low_confidence_words_are_reported_with_aggregates() {
    let (page, lines) = text_page(900, 400, 22.0, 3);
    let engine = Engine::new(EngineOptions::default(), Arc::new(WordBoxes));
    let p = engine
        .process_image(&DynamicImage::ImageLuma8(page))
        .unwrap();
    let review = p.low_confidence(0.6);
    let odd: usize = lines.iter().map(|l| l.split_whitespace().count() / 2).sum();
    assert_eq!(review.len(), odd);
    assert!(
        review
            .iter()
            .all(|r| r.level == ReviewLevel::Word && r.confidence < 0.6)
    );
    for l in p.lines() {
        let n = l.words.len() as f32;
        let even = l.words.len().div_ceil(2) as f32;
        let want = (even * 0.95 + (n - even) * 0.3) / n;
        assert!((l.confidence - want).abs() < 1e-5);
    }
}

struct Hostile;
impl Recognizer for Hostile {
    fn recognize_line(&self, line: &LineImage<'_>) -> Vec<WordGuess> {
        let huge = blocksmith_ocr::Rect {
            x: u32::MAX - 5,
            y: 1_000_000,
            w: u32::MAX,
            h: 9,
        };
        vec![WordGuess {
            chars: vec![CharGuess {
                ch: 'x',
                bbox: huge,
                confidence: f32::NAN,
            }],
            bbox: huge,
            confidence: if line.words.is_empty() { -3.0 } else { 7.0 },
        }]
    }
}

struct Panics;
impl Recognizer for Panics {
    fn recognize_line(&self, _: &LineImage<'_>) -> Vec<WordGuess> {
        panic!("model exploded")
    }
}

struct Silent;
impl Recognizer for Silent {
    fn recognize_line(&self, _: &LineImage<'_>) -> Vec<WordGuess> {
        Vec::new()
    }
}

#[test]
fn hostile_recognizer_output_is_clamped_and_panics_are_errors() {
    let (page, _) = text_page(600, 300, 22.0, 2);
    let img = DynamicImage::ImageLuma8(page);
    let p = Engine::new(EngineOptions::default(), Arc::new(Hostile))
        .process_image(&img)
        .unwrap();
    for l in p.lines() {
        for w in &l.words {
            assert!(rect_contains(
                blocksmith_ocr::Rect {
                    x: 0,
                    y: 0,
                    w: p.width,
                    h: p.height
                },
                w.bbox
            ));
            assert!((0.0..=1.0).contains(&w.confidence));
            assert_eq!(w.chars[0].confidence, 0.0);
        }
    }
    let e = Engine::new(EngineOptions::default(), Arc::new(Panics)).process_image(&img);
    assert!(matches!(e, Err(Error::Recognizer(m)) if m.contains("exploded")));
    // Lines with ink but no words are reported for review at line level.
    let p = Engine::new(EngineOptions::default(), Arc::new(Silent))
        .process_image(&img)
        .unwrap();
    let r = p.low_confidence(0.5);
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|r| r.level == ReviewLevel::Line));
    assert_eq!(p.confidence, 0.0);
}

#[test]
fn options_are_validated_and_limits_apply_to_images() {
    let img = DynamicImage::ImageLuma8(image::GrayImage::new(10, 10));
    let rec = Arc::new(Silent);
    for bad in [
        EngineOptions::default().with_target_dpi(0.0),
        EngineOptions::default().with_source_dpi(Some(f32::NAN)),
        EngineOptions::default().with_review_threshold(2.0),
        EngineOptions::default()
            .with_binarization(blocksmith_ocr::Binarization::Sauvola { window: 1, k: 0.2 }),
    ] {
        let e = Engine::new(bad, rec.clone()).process_image(&img);
        assert!(matches!(e, Err(Error::InvalidOptions(_))));
    }
    let small = EngineOptions::default()
        .with_limits(blocksmith_ocr::Limits::default().with_max_dimensions(5, 5));
    assert!(matches!(
        Engine::new(small, rec.clone()).process_image(&img),
        Err(Error::DimensionsTooLarge { .. })
    ));
    let empty = DynamicImage::ImageLuma8(image::GrayImage::new(0, 7));
    assert!(matches!(
        Engine::new(EngineOptions::default(), rec).process_image(&empty),
        Err(Error::EmptyImage)
    ));
}
