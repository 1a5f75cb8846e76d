//! Text rendering with `ab_glyph` (pure Rust) for training data, evaluation pages, tests and benches.
//!
//! Rendering is deterministic: the same font, text and size give the same pixels.

use ab_glyph::{Font as _, FontVec, PxScale, ScaleFont as _, point};
use image::{GrayImage, Luma};

use crate::recognize::Rect;

/// A loaded font (TrueType/OpenType, incl. CFF outlines).
pub struct Font {
    inner: FontVec,
    name: String,
}

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Font")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Font {
    /// Parse a font from its file bytes.
    ///
    /// # Errors
    /// [`Error::InvalidFont`](crate::Error::InvalidFont) if `bytes` are not a
    /// TrueType or OpenType font.
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> crate::Result<Self> {
        let inner =
            FontVec::try_from_vec(bytes).map_err(|e| crate::Error::InvalidFont(e.to_string()))?;
        Ok(Self {
            inner,
            name: name.into(),
        })
    }

    /// The name given at load time.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn scale_for(&self, pt: f32, dpi: f32) -> PxScale {
        let px_per_em = pt * dpi / 72.0;
        let upem = self.inner.units_per_em().unwrap_or(1000.0);
        PxScale::from(px_per_em * self.inner.height_unscaled() / upem)
    }

    /// Whether the font has a real glyph for `c`.
    pub fn has_glyph(&self, c: char) -> bool {
        self.inner.glyph_id(c).0 != 0
    }
}

/// One rendered glyph with its ink box in image coordinates.
#[derive(Clone, Debug)]
pub struct GlyphBox {
    /// The character.
    pub ch: char,
    /// Ink bounding box (pixels with coverage > 0).
    pub bbox: Rect,
    /// Index of the word (whitespace-separated) this glyph belongs to.
    pub word: usize,
}

/// A rendered line of text.
#[derive(Clone, Debug)]
pub struct RenderedLine {
    /// Gray image, 255 = paper, darker = ink.
    pub image: GrayImage,
    /// Per-pixel owner glyph index + 1 (0 = none), same size as `image`, where coverage >= 0.5.
    pub owner: Vec<u16>,
    /// Glyphs of non-space characters in order.
    pub glyphs: Vec<GlyphBox>,
    /// Word boxes (union of glyph boxes per word), in order.
    pub words: Vec<Rect>,
    /// The baseline row.
    pub baseline: f32,
    /// The x-height in pixels (height of the font's `x`).
    pub x_height: f32,
}

/// Options for [`render_line`].
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct RenderOptions {
    /// Point size.
    pub pt: f32,
    /// Resolution in dots per inch.
    pub dpi: f32,
    /// Extra blank pixels around the text.
    pub margin: u32,
    /// Horizontal shear (italic-like slant, dx per dy), 0 = none.
    pub shear: f32,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            pt: 11.0,
            dpi: 300.0,
            margin: 6,
            shear: 0.0,
        }
    }
}

impl RenderOptions {
    /// Set the point size.
    #[must_use]
    pub fn with_pt(mut self, pt: f32) -> Self {
        self.pt = pt;
        self
    }
    /// Set the resolution.
    #[must_use]
    pub fn with_dpi(mut self, dpi: f32) -> Self {
        self.dpi = dpi;
        self
    }
    /// Set the margin.
    #[must_use]
    pub fn with_margin(mut self, margin: u32) -> Self {
        self.margin = margin;
        self
    }
    /// Set the shear.
    #[must_use]
    pub fn with_shear(mut self, shear: f32) -> Self {
        self.shear = shear;
        self
    }
}

/// Line metrics of a font at a size: (ascent, descent (negative), x-height, advance of a space).
pub fn line_metrics(font: &Font, opts: &RenderOptions) -> (f32, f32, f32, f32) {
    let scale = font.scale_for(opts.pt, opts.dpi);
    let sf = font.inner.as_scaled(scale);
    let xid = font.inner.glyph_id('x');
    let xh = font
        .inner
        .outline_glyph(xid.with_scale_and_position(scale, point(0.0, 0.0)))
        .map_or(sf.ascent() * 0.5, |g| -g.px_bounds().min.y);
    (
        sf.ascent(),
        sf.descent(),
        xh,
        sf.h_advance(font.inner.glyph_id(' ')),
    )
}

/// Render one line of text (no wrapping). Characters the font lacks are skipped.
pub fn render_line(font: &Font, text: &str, opts: &RenderOptions) -> RenderedLine {
    let scale = font.scale_for(opts.pt, opts.dpi);
    let sf = font.inner.as_scaled(scale);
    let (ascent, descent, x_height, _) = line_metrics(font, opts);
    let m = opts.margin as f32;
    let baseline = (m + ascent).round();
    let height = (m * 2.0 + ascent - descent).ceil().max(1.0) as u32;
    // Lay out first to know the width.
    let mut pen = m;
    let mut prev = None;
    let mut placed = Vec::new();
    let mut word = 0usize;
    let mut in_word = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if in_word {
                word += 1;
                in_word = false;
            }
            let id = font.inner.glyph_id(' ');
            pen += sf.h_advance(id);
            prev = Some(id);
            continue;
        }
        let id = font.inner.glyph_id(c);
        if id.0 == 0 {
            continue;
        }
        if let Some(p) = prev {
            pen += sf.kern(p, id);
        }
        placed.push((c, id, pen, word));
        in_word = true;
        pen += sf.h_advance(id);
        prev = Some(id);
    }
    let shear_extra = (opts.shear.abs() * height as f32).ceil();
    let width = (pen + m + shear_extra).ceil().max(1.0) as u32;
    let mut cov = vec![0f32; (width * height) as usize];
    let mut owner = vec![0u16; (width * height) as usize];
    let mut glyphs = Vec::with_capacity(placed.len());
    for (gi, &(c, id, x, w)) in placed.iter().enumerate() {
        let Some(og) = font
            .inner
            .outline_glyph(id.with_scale_and_position(scale, point(x, baseline)))
        else {
            continue;
        };
        let b = og.px_bounds();
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0u32, 0u32);
        og.draw(|gx, gy, v| {
            if v <= 0.02 {
                return;
            }
            let fy = b.min.y + gy as f32;
            let fx = b.min.x + gx as f32 + opts.shear * (baseline - fy);
            if fx < 0.0 || fy < 0.0 {
                return;
            }
            let (px, py) = (fx.round() as u32, fy as u32);
            if px >= width || py >= height {
                return;
            }
            let i = (py * width + px) as usize;
            cov[i] = (cov[i] + v).min(1.0);
            if v >= 0.5 {
                owner[i] = (gi + 1).min(u16::MAX as usize) as u16;
            }
            x0 = x0.min(px);
            y0 = y0.min(py);
            x1 = x1.max(px);
            y1 = y1.max(py);
        });
        if x0 == u32::MAX {
            continue;
        }
        glyphs.push((
            gi,
            GlyphBox {
                ch: c,
                bbox: Rect {
                    x: x0,
                    y: y0,
                    w: x1 - x0 + 1,
                    h: y1 - y0 + 1,
                },
                word: w,
            },
        ));
    }
    // Owner indices refer to `placed`; remap to `glyphs` positions.
    let mut remap = vec![0u16; placed.len() + 1];
    for (k, (gi, _)) in glyphs.iter().enumerate() {
        remap[gi + 1] = (k + 1) as u16;
    }
    for o in &mut owner {
        *o = remap[*o as usize];
    }
    let glyphs: Vec<GlyphBox> = glyphs.into_iter().map(|(_, g)| g).collect();
    let mut words: Vec<Rect> = Vec::new();
    let mut last_word = usize::MAX;
    for g in &glyphs {
        if g.word == last_word {
            if let Some(r) = words.last_mut() {
                *r = union(*r, g.bbox);
            }
        } else {
            words.push(g.bbox);
            last_word = g.word;
        }
    }
    let image = GrayImage::from_fn(width, height, |x, y| {
        let v = cov[(y * width + x) as usize];
        Luma([(255.0 * (1.0 - v)).round() as u8])
    });
    RenderedLine {
        image,
        owner,
        glyphs,
        words,
        baseline,
        x_height,
    }
}

pub use crate::layout::union;

/// Advance width of `text` on one line.
pub fn text_width(font: &Font, text: &str, opts: &RenderOptions) -> f32 {
    let sf = font.inner.as_scaled(font.scale_for(opts.pt, opts.dpi));
    let mut w = 0.0;
    let mut prev = None;
    for c in text.chars() {
        let id = font.inner.glyph_id(c);
        if let Some(p) = prev {
            w += sf.kern(p, id);
        }
        w += sf.h_advance(id);
        prev = Some(id);
    }
    w
}

/// A rendered page and the text on it, one line per `\n`.
#[derive(Clone, Debug)]
pub struct RenderedPage {
    /// The page, 255 = paper.
    pub image: GrayImage,
    /// The text as laid out.
    pub text: String,
    /// How many words of the input were placed.
    pub words_used: usize,
}

/// Lay out words (greedy wrap) on a page of `width` x `height` pixels with `margin`, at most `max_lines`.
pub fn render_page(
    font: &Font,
    words: &[&str],
    opts: &RenderOptions,
    width: u32,
    height: u32,
    margin: u32,
    max_lines: usize,
) -> RenderedPage {
    let (ascent, descent, _, _) = line_metrics(font, opts);
    let pitch = ((ascent - descent) * 1.2).ceil().max(1.0) as u32;
    let avail = width.saturating_sub(2 * margin) as f32;
    let mut page = GrayImage::from_pixel(width, height, Luma([255]));
    let mut lines: Vec<String> = Vec::new();
    let mut i = 0;
    let mut y = margin;
    let line_opts = opts.with_margin(0);
    while i < words.len() && lines.len() < max_lines && y + pitch <= height.saturating_sub(margin) {
        let mut cur = String::new();
        while i < words.len() {
            let cand = if cur.is_empty() {
                words[i].to_string()
            } else {
                format!("{cur} {}", words[i])
            };
            if text_width(font, &cand, opts) > avail && !cur.is_empty() {
                break;
            }
            cur = cand;
            i += 1;
        }
        let r = render_line(font, &cur, &line_opts);
        image::imageops::overlay(&mut page, &r.image, i64::from(margin), i64::from(y));
        lines.push(cur);
        y += pitch;
    }
    RenderedPage {
        image: page,
        text: lines.join("\n"),
        words_used: i,
    }
}
