//! PRE-INTEGRATION HARNESS: a minimal page -> lines -> words splitter and error-rate metrics, so the
//! recognizer can be measured on whole pages before it is merged into `blocksmith-ocr`.
//!
//! The splitter uses a horizontal projection for lines and column gaps for words; it does NOT deskew.
//! At integration the core crate's `Engine` (deskew, binarisation, layout) replaces it.

use image::GrayImage;

use super::degrade;
use super::segment;
use crate::recognize::{LineImage, Recognizer, Rect, WordGuess};

/// A line cut from a page by the harness.
#[derive(Clone, Debug)]
pub struct HarnessLine {
    /// Gray crop.
    pub gray: GrayImage,
    /// Binary crop (0 = ink).
    pub binary: GrayImage,
    /// Word boxes in crop coordinates.
    pub words: Vec<Rect>,
    /// x-height estimate.
    pub x_height: f32,
    /// Baseline estimate (crop row).
    pub baseline: f32,
    /// Top of the crop on the page.
    pub top: u32,
}

impl HarnessLine {
    /// Borrow as the contract's [`LineImage`].
    pub fn as_line(&self) -> LineImage<'_> {
        LineImage {
            gray: &self.gray,
            binary: &self.binary,
            words: &self.words,
            x_height: self.x_height,
            baseline: self.baseline,
        }
    }
}

/// Cut a page (dark text on light paper) into lines and word boxes.
pub fn split_page(page: &GrayImage) -> Vec<HarnessLine> {
    let (w, h) = page.dimensions();
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let th = degrade::otsu(page);
    let bin = degrade::binarize(page, th);
    let raw = bin.as_raw();
    let rows: Vec<u32> = (0..h as usize)
        .map(|y| {
            raw[y * w as usize..(y + 1) * w as usize]
                .iter()
                .map(|&v| u32::from(v == 0))
                .sum::<u32>()
        })
        .collect();
    let min_row_ink = 1;
    let mut runs: Vec<(u32, u32)> = Vec::new();
    let mut y = 0u32;
    while y < h {
        if rows[y as usize] >= min_row_ink {
            let s = y;
            while y < h && rows[y as usize] >= min_row_ink {
                y += 1;
            }
            match runs.last_mut() {
                Some(last) if s - last.1 <= 1 => last.1 = y,
                _ => runs.push((s, y)),
            }
        } else {
            y += 1;
        }
    }
    // Attach thin runs (stray dots) to the nearest line; drop specks.
    let tall: Vec<u32> = runs.iter().map(|r| r.1 - r.0).collect();
    let mut sorted = tall.clone();
    sorted.sort_unstable();
    let typical = sorted.get(sorted.len() / 2).copied().unwrap_or(0);
    let mut lines = Vec::new();
    for &(y0, y1) in &runs {
        if (y1 - y0) * 4 < typical || y1 - y0 < 3 {
            continue;
        }
        let pad = 2;
        let top = y0.saturating_sub(pad);
        let bot = (y1 + pad).min(h);
        let gray = image::imageops::crop_imm(page, 0, top, w, bot - top).to_image();
        let binary = image::imageops::crop_imm(&bin, 0, top, w, bot - top).to_image();
        if let Some(l) = line_from_crop(gray, binary, top) {
            lines.push(l);
        }
    }
    // A line in capitals alone measures its cap height as x-height: fall back to the page's median.
    let mut xhs: Vec<f32> = lines.iter().map(|l| l.x_height).collect();
    xhs.sort_by(f32::total_cmp);
    if let Some(&page_xh) = xhs.get(xhs.len() / 2) {
        for l in &mut lines {
            if l.x_height > 1.2 * page_xh {
                l.x_height = page_xh;
            }
        }
    }
    lines
}

/// Estimate metrics and word boxes of one line crop.
pub fn line_from_crop(gray: GrayImage, binary: GrayImage, top: u32) -> Option<HarnessLine> {
    let (w, h) = binary.dimensions();
    let comps = segment::components(&binary, Rect { x: 0, y: 0, w, h }, 2);
    if comps.is_empty() {
        return None;
    }
    // Metrics from components larger than noise specks (all of them if there are none).
    let big: Vec<&segment::Piece> = comps.iter().filter(|c| c.pixels.len() >= 8).collect();
    let big: Vec<&segment::Piece> = if big.is_empty() {
        comps.iter().collect()
    } else {
        big
    };
    let mut bottoms: Vec<u32> = big.iter().map(|c| c.y1).collect();
    bottoms.sort_unstable();
    let baseline = bottoms[bottoms.len() * 6 / 10] as f32;
    let mut heights: Vec<u32> = big
        .iter()
        .filter(|c| (c.y1 as f32 - baseline).abs() <= 2.0)
        .map(|c| c.h())
        .collect();
    if heights.is_empty() {
        heights = big.iter().map(|c| c.h()).collect();
    }
    heights.sort_unstable();
    let x_height = heights[heights.len() * 4 / 10].max(2) as f32;
    // Word boxes from column gaps.
    // Columns count as ink only through components big enough to be glyph parts (noise specks do not).
    let keep = segment::min_area(x_height);
    let mut cols = vec![false; w as usize];
    for c in comps.iter().filter(|c| c.pixels.len() >= keep) {
        for col in &mut cols[c.x0 as usize..c.x1 as usize] {
            *col = true;
        }
    }
    let mut runs: Vec<(u32, u32)> = Vec::new();
    let mut x = 0u32;
    while x < w {
        if cols[x as usize] {
            let s = x;
            while x < w && cols[x as usize] {
                x += 1;
            }
            runs.push((s, x));
        } else {
            x += 1;
        }
    }
    let gaps: Vec<f32> = runs.windows(2).map(|r| (r[1].0 - r[0].1) as f32).collect();
    let gap_min = word_gap_threshold(&gaps, x_height);
    let mut words: Vec<Rect> = Vec::new();
    for (i, &(s, e)) in runs.iter().enumerate() {
        match words.last_mut() {
            Some(last) if i > 0 && gaps[i - 1] < gap_min => last.w = e - last.x,
            _ => words.push(Rect {
                x: s,
                y: 0,
                w: e - s,
                h,
            }),
        }
    }
    Some(HarnessLine {
        gray,
        binary,
        words,
        x_height,
        baseline,
        top,
    })
}

/// Gap width separating words: the midpoint of a two-means split of the line's gaps, kept within
/// 0.3-1.2 x-heights (monospaced fonts have wide letter gaps, proportional ones narrow word gaps).
fn word_gap_threshold(gaps: &[f32], x_height: f32) -> f32 {
    let (lo_c, hi_c) = (0.3 * x_height, 1.2 * x_height);
    let default = 0.42 * x_height;
    if gaps.len() < 3 {
        return default.max(2.0);
    }
    let mut a = gaps.iter().copied().fold(f32::INFINITY, f32::min);
    let mut b = gaps.iter().copied().fold(0f32, f32::max);
    for _ in 0..20 {
        let mid = f32::midpoint(a, b);
        let (mut sa, mut na, mut sb, mut nb) = (0f32, 0f32, 0f32, 0f32);
        for &g in gaps {
            if g < mid {
                sa += g;
                na += 1.0;
            } else {
                sb += g;
                nb += 1.0;
            }
        }
        if na == 0.0 || nb == 0.0 {
            break;
        }
        (a, b) = (sa / na, sb / nb);
    }
    // Two clusters only when they are clearly apart; otherwise fall back to the fixed ratio.
    let t = if b > 1.8 * a.max(1.0) {
        f32::midpoint(a, b)
    } else {
        default
    };
    t.clamp(lo_c, hi_c).max(2.0)
}

/// Recognise a whole page with the harness splitter; returns the words per line.
pub fn recognize_page(rec: &dyn Recognizer, page: &GrayImage) -> Vec<Vec<WordGuess>> {
    split_page(page)
        .iter()
        .map(|l| rec.recognize_line(&l.as_line()))
        .collect()
}

/// Text of recognised lines: words joined by spaces, lines by newlines.
pub fn page_text(lines: &[Vec<WordGuess>]) -> String {
    lines
        .iter()
        .map(|l| {
            l.iter()
                .map(|w| w.chars.iter().map(|c| c.ch).collect::<String>())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Collapse all whitespace runs to one space and trim.
pub fn normalize_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Levenshtein distance between two sequences.
pub fn levenshtein<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(x != y);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Character and word errors of `hyp` against `reference` after whitespace normalisation:
/// (char edits, reference chars, word edits, reference words).
pub fn error_counts(reference: &str, hyp: &str) -> (usize, usize, usize, usize) {
    let (r, h) = (normalize_ws(reference), normalize_ws(hyp));
    let rc: Vec<char> = r.chars().collect();
    let hc: Vec<char> = h.chars().collect();
    let rw: Vec<&str> = r.split(' ').filter(|s| !s.is_empty()).collect();
    let hw: Vec<&str> = h.split(' ').filter(|s| !s.is_empty()).collect();
    (
        levenshtein(&rc, &hc),
        rc.len(),
        levenshtein(&rw, &hw),
        rw.len(),
    )
}
