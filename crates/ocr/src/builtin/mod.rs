//! The built-in, pure-Rust text recognizer.
//!
//! Pipeline per line: connected components inside each word box -> stacked parts merged into blobs ->
//! doubtful or wide blobs over-segmented at column-profile minima -> best-path search over merges of
//! 1..=3 consecutive primitives, each candidate scored by a small MLP on a 16x16 size-normalised
//! bitmap plus geometry relative to the line's x-height and baseline -> calibrated confidences.
//!
//! ```
//! use blocksmith_ocr::builtin::{BuiltinRecognizer, degrade, harness, render};
//! use blocksmith_ocr::Recognizer;
//!
//! // A line typeset in a font the model was never trained on.
//! let font = render::Font::from_bytes(
//!     "Noto Sans",
//!     include_bytes!("../../tests/data/NotoSans-Regular.ttf").to_vec(),
//! )?;
//! let line = render::render_line(&font, "Hello, world 42", &render::RenderOptions::default().with_pt(12.0));
//! let crop = harness::line_from_crop(line.image.clone(), degrade::binarize(&line.image, 128), 0)
//!     .expect("ink");
//! let rec = BuiltinRecognizer::embedded()?;
//! let words = rec.recognize_line(&crop.as_line());
//! let text: Vec<String> = words.iter().map(|w| w.chars.iter().map(|c| c.ch).collect()).collect();
//! assert_eq!(text.join(" "), "Hello, world 42");
//! assert!(words.iter().all(|w| (0.0..=1.0).contains(&w.confidence)));
//! # Ok::<(), blocksmith_ocr::Error>(())
//! ```

pub mod degrade;
pub mod harness;
pub mod model;
pub mod render;
pub mod segment;
pub mod train;

use crate::recognize::{CharGuess, LineImage, Recognizer, Rect, WordGuess};
use model::{JUNK, Model, Scratch};
use segment::{FEATURES, MAX_MERGE, Piece};
use std::sync::{Arc, OnceLock};

/// The model shipped in the crate (`cargo run --release --example ocr_train` rewrites it).
pub static EMBEDDED_MODEL: &[u8] = include_bytes!("../../data/ocr_model.bin");

/// Character confidence under which a word is reported for human review by default.
pub const DEFAULT_REVIEW_THRESHOLD: f32 = 0.6;

/// Options of the built-in recognizer.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct BuiltinOptions {
    /// Blobs whose best class probability is below this are over-segmented and searched.
    pub split_below: f32,
    /// Blobs wider than this many x-heights are always over-segmented.
    pub split_wider_than: f32,
    /// Apply the l/I/1 and O/0 context rules.
    pub context_rules: bool,
    /// Log-score cost of cutting a blob into parts in the best-path search.
    pub split_penalty: f32,
    /// Log-score cost of joining separate blobs into one glyph in the best-path search.
    pub merge_penalty: f32,
}

impl Default for BuiltinOptions {
    fn default() -> Self {
        Self {
            split_below: 0.85,
            split_wider_than: 1.9,
            context_rules: true,
            split_penalty: 0.4,
            merge_penalty: 0.4,
        }
    }
}

impl BuiltinOptions {
    /// Set [`BuiltinOptions::split_below`].
    #[must_use]
    pub fn with_split_below(mut self, v: f32) -> Self {
        self.split_below = v;
        self
    }
    /// Set [`BuiltinOptions::split_wider_than`].
    #[must_use]
    pub fn with_split_wider_than(mut self, v: f32) -> Self {
        self.split_wider_than = v;
        self
    }
    /// Set [`BuiltinOptions::split_penalty`].
    #[must_use]
    pub fn with_split_penalty(mut self, v: f32) -> Self {
        self.split_penalty = v;
        self
    }
    /// Set [`BuiltinOptions::merge_penalty`].
    #[must_use]
    pub fn with_merge_penalty(mut self, v: f32) -> Self {
        self.merge_penalty = v;
        self
    }
    /// Set [`BuiltinOptions::context_rules`].
    #[must_use]
    pub fn with_context_rules(mut self, v: bool) -> Self {
        self.context_rules = v;
        self
    }
}

/// The recogniser [`crate::Engine::default`] uses: [`BuiltinRecognizer`] with the embedded
/// model, parsed once and shared.
///
/// # Panics
/// Never in a released build: the embedded model is checked when the crate is tested
/// (`rec_model::embedded_model_loads_and_is_compact` and every accuracy test).
pub fn default_recognizer() -> Arc<dyn Recognizer> {
    static SHARED: OnceLock<Arc<BuiltinRecognizer>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            Arc::new(BuiltinRecognizer::embedded().expect("the embedded OCR model is valid"))
        })
        .clone()
}

/// The built-in recognizer.
#[derive(Clone, Debug)]
pub struct BuiltinRecognizer {
    model: Model,
    opts: BuiltinOptions,
    junk: Option<usize>,
}

/// A classified candidate glyph.
#[derive(Clone, Copy, Debug)]
struct Cand {
    ch: char,
    p: f32,
}

impl BuiltinRecognizer {
    /// The recognizer with the model embedded in the crate.
    ///
    /// # Errors
    /// [`Error::InvalidModel`](crate::Error::InvalidModel) if the embedded model
    /// does not parse; never in a released build (the crate's tests load it).
    pub fn embedded() -> crate::Result<Self> {
        Ok(Self::from_model(Model::from_bytes(EMBEDDED_MODEL)?))
    }

    /// A recognizer over a given model.
    pub fn from_model(model: Model) -> Self {
        let junk = model.classes.iter().position(|&c| c == JUNK);
        Self {
            model,
            opts: BuiltinOptions::default(),
            junk,
        }
    }

    /// Replace the options.
    #[must_use]
    pub fn with_options(mut self, opts: BuiltinOptions) -> Self {
        self.opts = opts;
        self
    }

    /// The model in use.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Classify one candidate: best non-junk class and its calibrated probability.
    fn classify(&self, p: &Piece, xh: f32, bl: f32, s: &mut Work) -> Cand {
        segment::features(p, xh, bl, &mut s.feat);
        self.model.predict(&s.feat, &mut s.scratch, &mut s.probs);
        let mut best = (0usize, -1f32);
        for (i, &v) in s.probs.iter().enumerate() {
            if Some(i) != self.junk && v > best.1 {
                best = (i, v);
            }
        }
        Cand {
            ch: self.model.classes[best.0],
            p: best.1.clamp(0.0, 1.0),
        }
    }

    /// Recognise one word's blobs; returns chars with probabilities.
    fn word(&self, blobs: &[Piece], xh: f32, bl: f32, s: &mut Work) -> Vec<(char, Rect, f32)> {
        // 1. primitives: keep confident blobs, over-segment doubtful or wide ones.
        let mut prims: Vec<Piece> = Vec::new();
        let mut single: Vec<Option<Cand>> = Vec::new();
        // Per primitive: (index of its blob, number of pieces that blob was cut into).
        let mut origin: Vec<(usize, usize)> = Vec::new();
        let mut blob_cand: Vec<Cand> = Vec::new();
        for (bi, b) in blobs.iter().enumerate() {
            let c = self.classify(b, xh, bl, s);
            blob_cand.push(c);
            let wide = b.w() as f32 > self.opts.split_wider_than * xh;
            if c.p < self.opts.split_below || wide {
                let parts = segment::oversegment(b, xh);
                if parts.len() > 1 {
                    single.extend(std::iter::repeat_n(None, parts.len()));
                    origin.extend(std::iter::repeat_n((bi, parts.len()), parts.len()));
                    prims.extend(parts);
                    continue;
                }
            }
            prims.push(b.clone());
            single.push(Some(c));
            origin.push((bi, 1));
        }
        let n = prims.len();
        if n == 0 {
            return Vec::new();
        }
        // 2. best path over merges of up to MAX_MERGE consecutive primitives.
        let max_w = 2.3 * xh;
        let max_gap = 0.45 * xh;
        let mut best = vec![f32::NEG_INFINITY; n + 1];
        let mut back: Vec<(usize, Cand)> = vec![(0, Cand { ch: ' ', p: 0.0 }); n + 1];
        best[0] = 0.0;
        for j in 1..=n {
            for k in 1..=MAX_MERGE.min(j) {
                let i = j - k;
                if best[i] == f32::NEG_INFINITY {
                    continue;
                }
                let (oi, parts) = origin[i];
                let same_blob = origin[j - 1].0 == oi;
                let whole_blob = same_blob && k == parts;
                let penalty = if whole_blob {
                    0.0
                } else if same_blob {
                    self.opts.split_penalty
                } else {
                    self.opts.merge_penalty
                };
                let cand = if whole_blob {
                    blob_cand[oi]
                } else if k == 1 {
                    match single[i] {
                        Some(c) => c,
                        None => self.classify(&prims[i], xh, bl, s),
                    }
                } else {
                    // Merging blobs only pays where some primitive is doubtful.
                    if single[i..j]
                        .iter()
                        .all(|c| c.is_some_and(|c| c.p >= self.opts.split_below))
                    {
                        continue;
                    }
                    let x0 = prims[i..j].iter().map(|p| p.x0).min().unwrap_or(0);
                    let x1 = prims[i..j].iter().map(|p| p.x1).max().unwrap_or(0);
                    if (x1 - x0) as f32 > max_w {
                        continue;
                    }
                    let gaps_ok = prims[i..j]
                        .windows(2)
                        .all(|w| (w[1].x0 as f32 - w[0].x1 as f32) <= max_gap);
                    if !gaps_ok {
                        continue;
                    }
                    self.classify(&Piece::merged(&prims[i..j]), xh, bl, s)
                };
                let score = best[i] + cand.p.max(1e-6).ln() - penalty;
                if score > best[j] {
                    best[j] = score;
                    back[j] = (i, cand);
                }
            }
        }
        let mut out = Vec::new();
        let mut j = n;
        while j > 0 {
            let (i, c) = back[j];
            let r = Piece::merged(&prims[i..j]).rect();
            out.push((c.ch, r, c.p));
            if i >= j {
                break;
            }
            j = i;
        }
        out.reverse();
        if self.opts.context_rules {
            context_rules(&mut out);
        }
        out
    }
}

struct Work {
    feat: [f32; FEATURES],
    scratch: Scratch,
    probs: Vec<f32>,
}

impl Work {
    fn new() -> Self {
        Self {
            feat: [0.0; FEATURES],
            scratch: Scratch::default(),
            probs: Vec::new(),
        }
    }
}

/// Letters whose capital and small forms differ only in size.
const SAME_SHAPE: &str = "cosuvwxzCOSUVWXZ";

/// Resolve glyphs that look alike across fonts (l/I/1/|, O/0, c/C, s/S, ...) from their neighbours.
fn context_rules(chars: &mut [(char, Rect, f32)]) {
    // Case consistency for letters whose two cases share a shape.
    let firm: Vec<char> = chars
        .iter()
        .map(|c| c.0)
        .filter(|c| c.is_alphabetic() && !SAME_SHAPE.contains(*c))
        .collect();
    let firm_upper = firm.iter().filter(|c| c.is_uppercase()).count();
    let firm_lower = firm.len() - firm_upper;
    let first_letter = chars.iter().position(|c| c.0.is_alphabetic()).unwrap_or(0);
    for (k, item) in chars.iter_mut().enumerate() {
        let c = item.0;
        if !SAME_SHAPE.contains(c) {
            continue;
        }
        if firm_upper >= 2 && firm_lower == 0 {
            item.0 = c.to_ascii_uppercase();
        } else if firm_lower >= 2 && firm_upper <= 1 && k > first_letter {
            item.0 = c.to_ascii_lowercase();
        }
    }
    let letters = chars.iter().filter(|c| c.0.is_alphabetic()).count();
    let lower = chars.iter().filter(|c| c.0.is_lowercase()).count();
    let upper = chars
        .iter()
        .filter(|c| c.0.is_uppercase() && c.0 != 'I' && c.0 != 'O')
        .count();
    let digits = chars
        .iter()
        .filter(|c| c.0.is_ascii_digit() && c.0 != '1' && c.0 != '0')
        .count();
    let n = chars.len();
    for k in 0..n {
        let c = chars[k].0;
        let prev = if k > 0 { Some(chars[k - 1].0) } else { None };
        let next = chars.get(k + 1).map(|c| c.0);
        let near_digit =
            prev.is_some_and(|p| p.is_ascii_digit()) || next.is_some_and(|p| p.is_ascii_digit());
        match c {
            'l' if k == 0
                && (n == 1
                    || next.is_some_and(|c| c.is_ascii_lowercase() && !"aeiouyl".contains(c))) =>
            {
                // No English word starts with l + consonant ("If", "In", "It" are far more likely).
                chars[k].0 = 'I';
            }
            'I' | 'l' | '1' | '|' => {
                if digits > 0 && near_digit && letters <= 1 {
                    chars[k].0 = '1';
                } else if c == 'I' && lower > 0 && k > 0 && prev.is_some_and(char::is_lowercase) {
                    chars[k].0 = 'l';
                } else if c == 'l' && upper > 0 && lower <= 1 && n > 1 {
                    chars[k].0 = 'I';
                } else if (c == '|' && letters > 0) || (c == '1' && letters >= 2 && !near_digit) {
                    chars[k].0 = if lower > 0 { 'l' } else { 'I' };
                }
            }
            'O' | '0' => {
                if c == 'O' && near_digit && letters <= 1 {
                    chars[k].0 = '0';
                } else if c == '0' && letters >= 2 && !near_digit {
                    chars[k].0 = if lower > upper { 'o' } else { 'O' };
                }
            }
            _ => {}
        }
    }
}

impl Recognizer for BuiltinRecognizer {
    fn recognize_line(&self, line: &LineImage<'_>) -> Vec<WordGuess> {
        let bin = line.binary;
        if bin.width() == 0 || bin.height() == 0 || line.words.is_empty() {
            return Vec::new();
        }
        let xh_est = if line.x_height.is_finite() && line.x_height >= 2.0 {
            line.x_height
        } else {
            (bin.height() as f32 * 0.45).max(2.0)
        };
        let bl_est = if line.baseline.is_finite() {
            line.baseline.clamp(0.0, bin.height() as f32)
        } else {
            bin.height() as f32 * 0.75
        };
        let min_area = segment::min_area(xh_est);
        let per_word: Vec<Vec<Piece>> = line
            .words
            .iter()
            .map(|r| segment::stack_merge(segment::components(bin, *r, min_area)))
            .collect();
        let all: Vec<Piece> = per_word.iter().flatten().cloned().collect();
        let (xh, bl) = segment::refine_metrics(&all, xh_est, bl_est);
        let mut s = Work::new();
        let mut out = Vec::new();
        for blobs in &per_word {
            let chars = self.word(blobs, xh, bl, &mut s);
            if chars.is_empty() {
                continue;
            }
            let sum_ln: f32 = chars.iter().map(|c| c.2.max(1e-6).ln()).sum();
            let bbox = chars
                .iter()
                .map(|c| c.1)
                .reduce(render::union)
                .unwrap_or_default();
            out.push(WordGuess {
                chars: chars
                    .into_iter()
                    .map(|(ch, bbox, confidence)| CharGuess {
                        ch,
                        bbox,
                        confidence,
                    })
                    .collect(),
                bbox,
                confidence: self.model.word_confidence(sum_ln),
            });
        }
        out
    }
}

/// Words of a line whose confidence is below `threshold`: the regions to send to human review.
pub fn review_regions(words: &[WordGuess], threshold: f32) -> Vec<Rect> {
    words
        .iter()
        .filter(|w| w.confidence < threshold)
        .map(|w| w.bbox)
        .collect()
}

/// Line confidence: geometric mean of word confidences (1.0 for an empty line).
pub fn line_confidence(words: &[WordGuess]) -> f32 {
    if words.is_empty() {
        return 1.0;
    }
    let s: f32 = words.iter().map(|w| w.confidence.max(1e-6).ln()).sum();
    (s / words.len() as f32).exp()
}

/// Page confidence: character-weighted mean of word confidences (the expected fraction of words right).
pub fn page_confidence(lines: &[Vec<WordGuess>]) -> f32 {
    let (mut num, mut den) = (0f32, 0f32);
    for w in lines.iter().flatten() {
        let n = w.chars.len().max(1) as f32;
        num += n * w.confidence;
        den += n;
    }
    if den == 0.0 { 1.0 } else { num / den }
}
