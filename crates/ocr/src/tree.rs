//! The result tree: document, pages, blocks, lines, words and characters, with boxes in page
//! coordinates and confidences.
//!
//! Page coordinates are those of the preprocessed page (upright, deskewed, DPI-normalised);
//! [`Page::orientation`], [`Page::skew_degrees`] and [`Page::scale`] say how it was derived
//! from the input image.

use crate::Rect;
use crate::layout::BlockKind;
use crate::preprocess::Orientation;
use std::time::Duration;

/// Time spent in each stage.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct StageTimings {
    /// Decoding the input bytes.
    pub decode: Duration,
    /// Preprocessing (gray to deskewed binary).
    pub preprocess: Duration,
    /// Layout analysis.
    pub layout: Duration,
    /// Recognition of every line.
    pub recognize: Duration,
}

impl StageTimings {
    /// Adds another page's timings.
    pub fn add(&mut self, o: &StageTimings) {
        self.decode += o.decode;
        self.preprocess += o.preprocess;
        self.layout += o.layout;
        self.recognize += o.recognize;
    }
}

/// One recognised character.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Char {
    /// The character.
    pub ch: char,
    /// Box in page coordinates.
    pub bbox: Rect,
    /// Calibrated probability that it is right.
    pub confidence: f32,
}

/// One recognised word.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Word {
    /// Box in page coordinates.
    pub bbox: Rect,
    /// The text.
    pub text: String,
    /// Calibrated probability that the whole word is right.
    pub confidence: f32,
    /// Its characters.
    pub chars: Vec<Char>,
}

/// One text line.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Line {
    /// Box in page coordinates.
    pub bbox: Rect,
    /// Baseline row (page y).
    pub baseline: f32,
    /// Estimated x-height in pixels.
    pub x_height: f32,
    /// Character-weighted mean of the word confidences; 0 when the recogniser returned
    /// no word for a line that has ink.
    pub confidence: f32,
    /// Words in reading order.
    pub words: Vec<Word>,
}

/// A block of text or a table cell.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Block {
    /// Box in page coordinates.
    pub bbox: Rect,
    /// What the block is.
    pub kind: BlockKind,
    /// Aggregated confidence of its lines (1 for an empty block).
    pub confidence: f32,
    /// Lines in reading order.
    pub lines: Vec<Line>,
}

/// One page.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Page {
    /// Page number, from 0.
    pub index: u32,
    /// Width of the preprocessed page.
    pub width: u32,
    /// Height of the preprocessed page.
    pub height: u32,
    /// Orientation detected and corrected.
    pub orientation: Orientation,
    /// Skew detected and corrected, degrees.
    pub skew_degrees: f32,
    /// DPI normalisation scale applied.
    pub scale: f32,
    /// Aggregated confidence (1 for a page without text).
    pub confidence: f32,
    /// Blocks in reading order.
    pub blocks: Vec<Block>,
    /// Time spent on this page.
    pub timings: StageTimings,
}

/// A whole document.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Document {
    /// Pages in order.
    pub pages: Vec<Page>,
    /// Total time per stage.
    pub timings: StageTimings,
}

/// The level of a region reported for review.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum ReviewLevel {
    /// A word below the threshold.
    Word,
    /// A line with ink for which nothing was recognised.
    Line,
}

/// A region a person should look at.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReviewRegion {
    /// Page index.
    pub page: u32,
    /// What kind of region.
    pub level: ReviewLevel,
    /// Box in page coordinates.
    pub bbox: Rect,
    /// Its confidence.
    pub confidence: f32,
    /// What was recognised (empty for a line).
    pub text: String,
}

fn weighted(items: impl Iterator<Item = (f32, usize)>, empty: f32) -> f32 {
    let (mut s, mut n) = (0.0f64, 0usize);
    for (c, w) in items {
        let w = w.max(1);
        s += f64::from(c) * w as f64;
        n += w;
    }
    if n == 0 { empty } else { (s / n as f64) as f32 }
}

impl Line {
    /// Recomputes the line confidence from the words.
    pub fn aggregate(&mut self) {
        self.confidence = weighted(
            self.words.iter().map(|w| (w.confidence, w.chars.len())),
            0.0,
        );
    }
    /// The line's text, words joined by single spaces.
    pub fn text(&self) -> String {
        let words: Vec<&str> = self.words.iter().map(|w| w.text.as_str()).collect();
        words.join(" ")
    }
    fn weight(&self) -> usize {
        self.words.iter().map(|w| w.chars.len()).sum::<usize>()
    }
}

impl Block {
    /// Recomputes the block confidence from its lines (weighted by characters).
    pub fn aggregate(&mut self) {
        self.confidence = weighted(self.lines.iter().map(|l| (l.confidence, l.weight())), 1.0);
    }
}

impl Page {
    /// Recomputes block and page confidences from the lines (weighted by characters).
    pub fn aggregate(&mut self) {
        for b in &mut self.blocks {
            b.aggregate();
        }
        self.confidence = weighted(
            self.blocks
                .iter()
                .flat_map(|b| &b.lines)
                .map(|l| (l.confidence, l.weight())),
            1.0,
        );
    }

    /// Every line in reading order.
    pub fn lines(&self) -> impl Iterator<Item = &Line> {
        self.blocks.iter().flat_map(|b| &b.lines)
    }

    /// Words below `threshold`, and lines with ink but no words, for human review.
    pub fn low_confidence(&self, threshold: f32) -> Vec<ReviewRegion> {
        let mut out = Vec::new();
        for l in self.lines() {
            if l.words.is_empty() {
                out.push(ReviewRegion {
                    page: self.index,
                    level: ReviewLevel::Line,
                    bbox: l.bbox,
                    confidence: l.confidence,
                    text: String::new(),
                });
            }
            for w in &l.words {
                if w.confidence < threshold {
                    out.push(ReviewRegion {
                        page: self.index,
                        level: ReviewLevel::Word,
                        bbox: w.bbox,
                        confidence: w.confidence,
                        text: w.text.clone(),
                    });
                }
            }
        }
        out
    }
}

impl Document {
    /// Low-confidence regions of every page (see [`Page::low_confidence`]).
    pub fn low_confidence(&self, threshold: f32) -> Vec<ReviewRegion> {
        self.pages
            .iter()
            .flat_map(|p| p.low_confidence(threshold))
            .collect()
    }

    /// Mean page confidence weighted by characters (1 for an empty document).
    pub fn confidence(&self) -> f32 {
        weighted(
            self.pages
                .iter()
                .map(|p| (p.confidence, p.lines().map(Line::weight).sum::<usize>())),
            1.0,
        )
    }
}
