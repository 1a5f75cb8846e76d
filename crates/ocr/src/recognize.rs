//! CONTRACT between the two OCR helpers. Both copy this file verbatim as
//! `src/recognize.rs` of their package (the core package `blocksmith-ocr` re-exports it; the
//! recognizer package implements the trait). Additions are allowed in your own files, NOT here;
//! if you truly need a change, say so in your report.

use image::GrayImage;

/// An axis-aligned box in pixel coordinates of the image it refers to (x, y = top-left).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
}

/// One text line handed to a recognizer by the layout stage.
///
/// `gray` is the deskewed, contrast-normalised line crop (dark text on light background, 0 = black),
/// `binary` the same crop binarised (0 = ink, 255 = background). Both have the same size.
/// `words` are the word boxes the layout stage found, in reading order, in crop coordinates.
/// `x_height` and `baseline` (a y in crop coordinates) are estimates and may be refined.
#[derive(Clone, Debug)]
pub struct LineImage<'a> {
    /// Grayscale line crop.
    pub gray: &'a GrayImage,
    /// Binarised line crop, 0 = ink.
    pub binary: &'a GrayImage,
    /// Word boxes in reading order, crop coordinates.
    pub words: &'a [Rect],
    /// Estimated x-height in pixels.
    pub x_height: f32,
    /// Estimated baseline row in crop coordinates.
    pub baseline: f32,
}

/// One recognised character.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CharGuess {
    /// The character (may be more than one char for ligature splits: then one entry per char with the same box).
    pub ch: char,
    /// Box in crop coordinates.
    pub bbox: Rect,
    /// Calibrated probability that `ch` is right, in 0..=1.
    pub confidence: f32,
}

/// One recognised word: the recognizer may split or merge the layout's word boxes.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WordGuess {
    /// The characters in reading order.
    pub chars: Vec<CharGuess>,
    /// Box in crop coordinates.
    pub bbox: Rect,
    /// Calibrated probability that the whole word is right, in 0..=1.
    pub confidence: f32,
}

/// A text recogniser: turns a line image into words.
pub trait Recognizer: Send + Sync {
    /// Recognise one line. Must not panic on any image (empty, 1 px tall, all ink, no ink).
    fn recognize_line(&self, line: &LineImage<'_>) -> Vec<WordGuess>;
}
