//! Test helpers: real text rendered with DejaVu Sans (tests/data, with its licence), page
//! builders, and test-double recognisers.

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use blocksmith_ocr::{CharGuess, LineImage, Recognizer, Rect, WordGuess, components};
use image::{GrayImage, Luma};

pub(crate) static FONT: &[u8] = include_bytes!("../data/DejaVuSans.ttf");

pub(crate) fn font() -> FontRef<'static> {
    FontRef::try_from_slice(FONT).expect("font")
}

/// Width of `text` in pixels at `px`.
pub(crate) fn text_width(text: &str, px: f32) -> f32 {
    let f = font();
    let s = f.as_scaled(PxScale::from(px));
    text.chars().map(|c| s.h_advance(f.glyph_id(c))).sum()
}

/// Draws `text` with its baseline at `baseline`, starting at `x`.
pub(crate) fn draw_text(img: &mut GrayImage, text: &str, x: f32, baseline: f32, px: f32) {
    let f = font();
    let scale = PxScale::from(px);
    let s = f.as_scaled(scale);
    let mut caret = x;
    for c in text.chars() {
        let id = f.glyph_id(c);
        let g = id.with_scale_and_position(scale, point(caret, baseline));
        caret += s.h_advance(id);
        if let Some(o) = f.outline_glyph(g) {
            let b = o.px_bounds();
            o.draw(|gx, gy, cov| {
                let px_ = b.min.x as i32 + gx as i32;
                let py = b.min.y as i32 + gy as i32;
                if px_ >= 0 && py >= 0 && (px_ as u32) < img.width() && (py as u32) < img.height() {
                    let p = img.get_pixel_mut(px_ as u32, py as u32);
                    let v = (255.0 * (1.0 - cov.clamp(0.0, 1.0))) as u8;
                    p.0[0] = p.0[0].min(v);
                }
            });
        }
    }
}

pub(crate) const PROSE: &str = "The quick brown fox jumps over the lazy dog while twelve boxing wizards jump quickly and the five dozen liquor jugs stay packed in my box of hidden gems by the old harbour light";

/// Word-wraps `PROSE`-like text into lines of at most `width` pixels.
pub(crate) fn wrap(text: &str, px: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for w in text.split_whitespace() {
        let cand = if cur.is_empty() {
            w.to_string()
        } else {
            format!("{cur} {w}")
        };
        if text_width(&cand, px) > width && !cur.is_empty() {
            lines.push(std::mem::take(&mut cur));
            cur = w.to_string();
        } else {
            cur = cand;
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// A white page with `lines` of text at `px`, left margin `x`, first baseline `y`.
pub(crate) fn page_with_lines(
    w: u32,
    h: u32,
    lines: &[String],
    px: f32,
    x: f32,
    y: f32,
) -> GrayImage {
    let mut img = GrayImage::from_pixel(w, h, Luma([255]));
    for (i, l) in lines.iter().enumerate() {
        draw_text(&mut img, l, x, y + i as f32 * px * 1.5, px);
    }
    img
}

/// A text page: `n` lines of prose wrapped to the page width at `px`.
pub(crate) fn text_page(w: u32, h: u32, px: f32, n: usize) -> (GrayImage, Vec<String>) {
    let mut src = String::new();
    while src.split_whitespace().count() < n * 12 {
        src.push_str(PROSE);
        src.push(' ');
    }
    let margin = w as f32 * 0.08;
    let mut lines = wrap(&src, px, w as f32 - 2.0 * margin);
    lines.truncate(n);
    (
        page_with_lines(w, h, &lines, px, margin, margin + px),
        lines,
    )
}

/// Test double: one '#' per connected component of each word box, confidence `conf`.
pub(crate) struct ComponentCounter {
    pub(crate) conf: f32,
}

impl Recognizer for ComponentCounter {
    fn recognize_line(&self, line: &LineImage<'_>) -> Vec<WordGuess> {
        let cc = components::label(line.binary);
        line.words
            .iter()
            .map(|&wb| {
                let chars: Vec<CharGuess> = cc
                    .items
                    .iter()
                    .filter(|c| {
                        let cx = c.bbox.x + c.bbox.w / 2;
                        let cy = c.bbox.y + c.bbox.h / 2;
                        cx >= wb.x && cx < wb.x + wb.w && cy >= wb.y && cy < wb.y + wb.h
                    })
                    .map(|c| CharGuess {
                        ch: '#',
                        bbox: c.bbox,
                        confidence: self.conf,
                    })
                    .collect();
                WordGuess {
                    chars,
                    bbox: wb,
                    confidence: self.conf,
                }
            })
            .collect()
    }
}

/// Test double: one word per layout word box, text `w<index>`, confidence by index.
pub(crate) struct WordBoxes;

impl Recognizer for WordBoxes {
    fn recognize_line(&self, line: &LineImage<'_>) -> Vec<WordGuess> {
        line.words
            .iter()
            .enumerate()
            .map(|(i, &bbox)| WordGuess {
                chars: vec![CharGuess {
                    ch: 'w',
                    bbox,
                    confidence: 1.0,
                }],
                bbox,
                confidence: if i % 2 == 0 { 0.95 } else { 0.3 },
            })
            .collect()
    }
}

pub(crate) fn rect_contains(outer: Rect, inner: Rect) -> bool {
    inner.x >= outer.x
        && inner.y >= outer.y
        && inner.x + inner.w <= outer.x + outer.w
        && inner.y + inner.h <= outer.y + outer.h
}
