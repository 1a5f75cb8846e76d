//! The engine: decode, preprocess, layout, recognise every line, assemble the tree.

use crate::input::{self, Limits};
use crate::layout::{self, BlockLayout, LineLayout};
use crate::preprocess::{self, Binarization, PreprocessOptions};
use crate::recognize::{LineImage, Recognizer, WordGuess};
use crate::tree::{Block, Char, Document, Line, Page, StageTimings, Word};
use crate::{Error, Rect, Result};
use image::{DynamicImage, GrayImage};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

/// Options of an [`Engine`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct EngineOptions {
    /// Input limits.
    pub limits: Limits,
    /// Preprocessing.
    pub preprocess: PreprocessOptions,
    /// Words under this confidence are reported for review (default 0.6).
    pub review_threshold: f32,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            preprocess: PreprocessOptions::default(),
            review_threshold: 0.6,
        }
    }
}

impl EngineOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the input limits.
    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
    /// Sets every preprocessing option.
    #[must_use]
    pub fn with_preprocess(mut self, p: PreprocessOptions) -> Self {
        self.preprocess = p;
        self
    }
    /// Sets the binarisation.
    #[must_use]
    pub fn with_binarization(mut self, b: Binarization) -> Self {
        self.preprocess.binarization = b;
        self
    }
    /// Turns deskew on or off.
    #[must_use]
    pub fn with_deskew(mut self, on: bool) -> Self {
        self.preprocess.deskew = on;
        self
    }
    /// Turns orientation detection on or off.
    #[must_use]
    pub fn with_orientation(mut self, on: bool) -> Self {
        self.preprocess.orientation = on;
        self
    }
    /// Sets the target resolution.
    #[must_use]
    pub fn with_target_dpi(mut self, dpi: f32) -> Self {
        self.preprocess.target_dpi = dpi;
        self
    }
    /// Declares the source resolution.
    #[must_use]
    pub fn with_source_dpi(mut self, dpi: Option<f32>) -> Self {
        self.preprocess.source_dpi = dpi;
        self
    }
    /// Sets the review threshold.
    #[must_use]
    pub fn with_review_threshold(mut self, t: f32) -> Self {
        self.review_threshold = t;
        self
    }

    /// Checks that every option is in range.
    ///
    /// # Errors
    /// [`Error::InvalidOptions`] if `target_dpi` is outside 30..=2400, `source_dpi`
    /// outside 10..=4800, `max_skew` outside 0..=45, a Sauvola window under 3 or
    /// `k` outside 0..=1, `median_radius` over 10, or `review_threshold` outside
    /// 0..=1.
    pub fn validate(&self) -> Result<()> {
        let p = &self.preprocess;
        if !(p.target_dpi.is_finite() && (30.0..=2400.0).contains(&p.target_dpi)) {
            return Err(Error::InvalidOptions(
                "target_dpi must be in 30..=2400".into(),
            ));
        }
        if let Some(d) = p.source_dpi
            && !(d.is_finite() && (10.0..=4800.0).contains(&d))
        {
            return Err(Error::InvalidOptions(
                "source_dpi must be in 10..=4800".into(),
            ));
        }
        if !(p.max_skew.is_finite() && (0.0..=45.0).contains(&p.max_skew)) {
            return Err(Error::InvalidOptions("max_skew must be in 0..=45".into()));
        }
        if let Binarization::Sauvola { window, k } = p.binarization
            && (window < 3 || !(k.is_finite() && (0.0..=1.0).contains(&k)))
        {
            return Err(Error::InvalidOptions(
                "Sauvola needs window >= 3 and k in 0..=1".into(),
            ));
        }
        if p.median_radius > 10 {
            return Err(Error::InvalidOptions(
                "median_radius must be at most 10".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.review_threshold) {
            return Err(Error::InvalidOptions(
                "review_threshold must be in 0..=1".into(),
            ));
        }
        Ok(())
    }
}

/// The OCR engine: options plus a [`Recognizer`].
#[derive(Clone)]
pub struct Engine {
    opts: EngineOptions,
    recognizer: Arc<dyn Recognizer>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Default for Engine {
    /// The default options with [`crate::builtin::default_recognizer`].
    fn default() -> Self {
        Self::new(
            EngineOptions::default(),
            crate::builtin::default_recognizer(),
        )
    }
}

fn clamp_conf(c: f32) -> f32 {
    if c.is_finite() {
        c.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

fn offset(r: Rect, crop: Rect) -> Rect {
    // Boxes from the recogniser are clipped to the crop before moving them to the page.
    let x = r.x.min(crop.w);
    let y = r.y.min(crop.h);
    Rect {
        x: crop.x + x,
        y: crop.y + y,
        w: r.w.min(crop.w - x),
        h: r.h.min(crop.h - y),
    }
}

impl Engine {
    /// An engine with these options and recogniser.
    pub fn new(opts: EngineOptions, recognizer: Arc<dyn Recognizer>) -> Self {
        Self { opts, recognizer }
    }

    /// The options.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Decodes every page of an input file under the engine's limits.
    ///
    /// # Errors
    /// As [`input::decode`] under the engine's limits.
    pub fn decode(&self, bytes: &[u8]) -> Result<Vec<DynamicImage>> {
        input::decode(bytes, &self.opts.limits)
    }

    /// Runs the pipeline on one decoded page (page index 0).
    ///
    /// # Errors
    /// As [`Engine::process_page`].
    pub fn process_image(&self, img: &DynamicImage) -> Result<Page> {
        self.process_page(img, 0)
    }

    /// Runs the pipeline on one decoded page with the given index.
    ///
    /// # Errors
    /// As [`EngineOptions::validate`] for the engine's options; as
    /// [`Limits::check_dimensions`] for the image's size; [`Error::Recognizer`]
    /// if the recognizer panics on a line (the panic is caught).
    pub fn process_page(&self, img: &DynamicImage, index: u32) -> Result<Page> {
        self.opts.validate()?;
        self.opts
            .limits
            .check_dimensions(img.width(), img.height())?;
        let t0 = Instant::now();
        let pre = preprocess::preprocess(img, &self.opts.preprocess);
        let t1 = Instant::now();
        let lay = layout::analyze(&pre.binary);
        let t2 = Instant::now();
        let mut blocks = Vec::with_capacity(lay.blocks.len());
        for b in &lay.blocks {
            blocks.push(self.recognize_block(b, &pre.gray, &pre.binary)?);
        }
        let t3 = Instant::now();
        let mut page = Page {
            index,
            width: pre.gray.width(),
            height: pre.gray.height(),
            orientation: pre.orientation,
            skew_degrees: pre.skew_degrees,
            scale: pre.scale,
            confidence: 1.0,
            blocks,
            timings: StageTimings {
                decode: std::time::Duration::ZERO,
                preprocess: t1 - t0,
                layout: t2 - t1,
                recognize: t3 - t2,
            },
        };
        page.aggregate();
        Ok(page)
    }

    /// Decodes and processes every page of an input file.
    ///
    /// # Errors
    /// As [`EngineOptions::validate`], then as [`input::decode`], then as
    /// [`Engine::process_page`] for each page.
    pub fn process_bytes(&self, bytes: &[u8]) -> Result<Document> {
        self.opts.validate()?;
        let t0 = Instant::now();
        let images = self.decode(bytes)?;
        let decode = t0.elapsed();
        let mut doc = Document::default();
        doc.timings.decode = decode;
        for (i, img) in images.iter().enumerate() {
            let mut page = self.process_page(img, i as u32)?;
            if i == 0 {
                page.timings.decode = decode;
            }
            let pt = page.timings;
            doc.timings.preprocess += pt.preprocess;
            doc.timings.layout += pt.layout;
            doc.timings.recognize += pt.recognize;
            doc.pages.push(page);
        }
        Ok(doc)
    }

    fn recognize_block(
        &self,
        b: &BlockLayout,
        gray: &GrayImage,
        binary: &GrayImage,
    ) -> Result<Block> {
        let mut lines = Vec::with_capacity(b.lines.len());
        for l in &b.lines {
            lines.push(self.recognize_line(l, gray, binary)?);
        }
        let mut block = Block {
            bbox: b.bbox,
            kind: b.kind,
            confidence: 1.0,
            lines,
        };
        block.aggregate();
        Ok(block)
    }

    fn recognize_line(&self, l: &LineLayout, gray: &GrayImage, binary: &GrayImage) -> Result<Line> {
        let (pw, ph) = gray.dimensions();
        let pad = (l.x_height * 0.25).round().max(2.0) as u32;
        let x0 = l.bbox.x.saturating_sub(pad);
        let y0 = l.bbox.y.saturating_sub(pad);
        let x1 = (l.bbox.x + l.bbox.w + pad).min(pw);
        let y1 = (l.bbox.y + l.bbox.h + pad).min(ph);
        let crop = Rect {
            x: x0,
            y: y0,
            w: x1.saturating_sub(x0),
            h: y1.saturating_sub(y0),
        };
        let g = image::imageops::crop_imm(gray, crop.x, crop.y, crop.w, crop.h).to_image();
        let bi = image::imageops::crop_imm(binary, crop.x, crop.y, crop.w, crop.h).to_image();
        let words: Vec<Rect> = l
            .words
            .iter()
            .map(|w| Rect {
                x: w.x - crop.x,
                y: w.y - crop.y,
                w: w.w,
                h: w.h,
            })
            .collect();
        let li = LineImage {
            gray: &g,
            binary: &bi,
            words: &words,
            x_height: l.x_height,
            baseline: l.baseline - crop.y as f32,
        };
        let rec = &self.recognizer;
        let guesses: Vec<WordGuess> = catch_unwind(AssertUnwindSafe(|| rec.recognize_line(&li)))
            .map_err(|p| {
                let msg = p
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_string());
                Error::Recognizer(msg)
            })?;
        let words = guesses
            .into_iter()
            .map(|wg| {
                let chars: Vec<Char> = wg
                    .chars
                    .iter()
                    .map(|c| Char {
                        ch: c.ch,
                        bbox: offset(c.bbox, crop),
                        confidence: clamp_conf(c.confidence),
                    })
                    .collect();
                Word {
                    bbox: offset(wg.bbox, crop),
                    text: chars.iter().map(|c| c.ch).collect(),
                    confidence: clamp_conf(wg.confidence),
                    chars,
                }
            })
            .collect();
        let mut line = Line {
            bbox: l.bbox,
            baseline: l.baseline,
            x_height: l.x_height,
            confidence: 0.0,
            words,
        };
        line.aggregate();
        Ok(line)
    }
}

impl Engine {
    /// The recogniser.
    pub fn recognizer(&self) -> Arc<dyn Recognizer> {
        Arc::clone(&self.recognizer)
    }
}
