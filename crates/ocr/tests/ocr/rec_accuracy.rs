use blocksmith_ocr::builtin::degrade::{self, Rng};
use blocksmith_ocr::builtin::model::Model;
use blocksmith_ocr::builtin::render::{RenderOptions, render_line};
use blocksmith_ocr::builtin::{BuiltinRecognizer, harness, train};
use blocksmith_ocr::recognize::{LineImage, Recognizer};

use super::rec_util::heldout_font;

#[test]
fn classifier_accuracy_on_heldout_font() {
    let font = heldout_font();
    let ds = train::generate(std::slice::from_ref(&font), 150, 31337);
    let m = Model::from_bytes(blocksmith_ocr::builtin::EMBEDDED_MODEL).unwrap();
    let acc = train::accuracy(&m, &ds);
    assert!(acc > 0.85, "held-out glyph accuracy {acc}");
}

const SENTENCES: &[&str] = &[
    "The quick brown fox jumps over the lazy dog.",
    "Licensed under the Apache License, Version 2.0 (the \"License\");",
    "You may obtain a copy of the License at: section 4(d), page 12/30.",
    "Pack my box with five dozen liquor jugs!",
    "Total: $1,250.75 + 8% tax = $1,350.81; see [3] #42.",
];

#[test]
fn recognizes_clean_lines_in_heldout_font() {
    let font = heldout_font();
    let rec = BuiltinRecognizer::embedded().unwrap();
    let (mut edits, mut chars) = (0, 0);
    for &pt in &[9.0f32, 12.0, 16.0] {
        for s in SENTENCES {
            let line = render_line(&font, s, &RenderOptions::default().with_pt(pt));
            let bin = degrade::binarize(&line.image, degrade::otsu(&line.image));
            let li = LineImage {
                gray: &line.image,
                binary: &bin,
                words: &line.words,
                x_height: line.x_height,
                baseline: line.baseline,
            };
            let words = rec.recognize_line(&li);
            let got = harness::page_text(std::slice::from_ref(&words));
            let (e, n, _, _) = harness::error_counts(s, &got);
            edits += e;
            chars += n;
            for w in &words {
                assert!((0.0..=1.0).contains(&w.confidence));
            }
        }
    }
    let cer = edits as f64 / chars as f64;
    assert!(cer < 0.04, "held-out line CER {cer}");
}

#[test]
fn degraded_lines_mostly_right_and_confidence_tracks_errors() {
    let font = heldout_font();
    let rec = BuiltinRecognizer::embedded().unwrap();
    let mut rng = Rng::new(5);
    let mut pairs = Vec::new();
    for (i, s) in SENTENCES.iter().enumerate() {
        let line = render_line(&font, s, &RenderOptions::default().with_pt(10.0 + i as f32));
        let g = degrade::noise(&degrade::blur(&line.image, 0.8), 20.0, &mut rng);
        let bin = degrade::binarize(&g, degrade::otsu(&g));
        let li = LineImage {
            gray: &g,
            binary: &bin,
            words: &line.words,
            x_height: line.x_height,
            baseline: line.baseline,
        };
        let words = rec.recognize_line(&li);
        let truth: Vec<&str> = s.split_whitespace().collect();
        if words.len() == truth.len() {
            for (w, t) in words.iter().zip(truth) {
                let txt: String = w.chars.iter().map(|c| c.ch).collect();
                pairs.push((w.confidence, txt == t));
            }
        }
    }
    assert!(pairs.len() >= 30);
    let right = pairs.iter().filter(|p| p.1).count() as f64 / pairs.len() as f64;
    assert!(right > 0.75, "word accuracy {right}");
    let mean_conf_right = pairs
        .iter()
        .filter(|p| p.1)
        .map(|p| f64::from(p.0))
        .sum::<f64>()
        / pairs.iter().filter(|p| p.1).count().max(1) as f64;
    assert!(
        mean_conf_right > 0.6,
        "confidence of right words {mean_conf_right}"
    );
}

#[test]
fn metrics_are_correct() {
    assert_eq!(
        harness::levenshtein(&['a', 'b', 'c'], &['a', 'x', 'c', 'd']),
        2
    );
    assert_eq!(harness::error_counts("a  b\nc", "a b c"), (0, 5, 0, 3));
    assert_eq!(harness::error_counts("one two", "one tw0"), (1, 7, 1, 2));
    assert!((train::ece(&[(0.9, true), (0.9, false)], 10) - 0.4).abs() < 1e-6);
    assert!(train::ece(&[(1.0, true), (0.0, false)], 10) < 1e-9);
}
