//! Glyph segmentation inside word boxes and the classifier's feature vector.
//!
//! A word box is cut into connected components of ink; vertically stacked parts (i/j dots, `:` `;` `!`
//! `?` `=`) are merged into blobs; wide or doubtful blobs are over-segmented at minima of the column
//! ink profile. The resulting *primitives* are then combined by the recognizer's best-path search
//! (one candidate glyph = 1 to [`MAX_MERGE`] consecutive primitives).

use image::GrayImage;

use crate::recognize::Rect;

/// Side of the size-normalised glyph bitmap.
pub const GRID: usize = 16;
/// Number of geometric features appended to the bitmap.
pub const GEO: usize = 8;
/// Length of a feature vector.
pub const FEATURES: usize = GRID * GRID + GEO;
/// Most primitives merged into one candidate glyph.
pub const MAX_MERGE: usize = 3;

/// A set of ink pixels with its bounding box (x1, y1 exclusive), in line-crop coordinates.
#[derive(Clone, Debug, Default)]
pub struct Piece {
    /// Ink pixels (x, y).
    pub pixels: Vec<(u32, u32)>,
    /// Left edge.
    pub x0: u32,
    /// Top edge.
    pub y0: u32,
    /// Right edge (exclusive).
    pub x1: u32,
    /// Bottom edge (exclusive).
    pub y1: u32,
}

impl Piece {
    fn from_pixels(pixels: Vec<(u32, u32)>) -> Self {
        let mut p = Piece {
            pixels,
            x0: u32::MAX,
            y0: u32::MAX,
            x1: 0,
            y1: 0,
        };
        p.recompute();
        p
    }
    fn recompute(&mut self) {
        let (mut x0, mut y0, mut x1, mut y1) = (u32::MAX, u32::MAX, 0, 0);
        for &(x, y) in &self.pixels {
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x + 1);
            y1 = y1.max(y + 1);
        }
        if self.pixels.is_empty() {
            (x0, y0) = (0, 0);
        }
        (self.x0, self.y0, self.x1, self.y1) = (x0, y0, x1, y1);
    }
    /// Width in pixels.
    pub fn w(&self) -> u32 {
        self.x1.saturating_sub(self.x0)
    }
    /// Height in pixels.
    pub fn h(&self) -> u32 {
        self.y1.saturating_sub(self.y0)
    }
    /// The bounding box as a [`Rect`].
    pub fn rect(&self) -> Rect {
        Rect {
            x: self.x0,
            y: self.y0,
            w: self.w(),
            h: self.h(),
        }
    }
    /// Union of consecutive pieces.
    pub fn merged(parts: &[Piece]) -> Piece {
        let mut pixels = Vec::with_capacity(parts.iter().map(|p| p.pixels.len()).sum());
        for p in parts {
            pixels.extend_from_slice(&p.pixels);
        }
        Piece::from_pixels(pixels)
    }
}

/// Smallest component area (pixels) kept as ink for a line of x-height `x_height`: smaller specks are noise.
pub fn min_area(x_height: f32) -> usize {
    ((x_height * x_height * 0.02) as usize).max(2)
}

/// Connected components (8-connectivity) of ink (value < 128) of `binary` inside `area`.
/// Components smaller than `min_area` pixels are dropped as specks.
pub fn components(binary: &GrayImage, area: Rect, min_area: usize) -> Vec<Piece> {
    let (iw, ih) = binary.dimensions();
    let x0 = area.x.min(iw);
    let y0 = area.y.min(ih);
    let x1 = area.x.saturating_add(area.w).min(iw);
    let y1 = area.y.saturating_add(area.h).min(ih);
    if x1 <= x0 || y1 <= y0 {
        return Vec::new();
    }
    let (w, h) = ((x1 - x0) as usize, (y1 - y0) as usize);
    let raw = binary.as_raw();
    let mut seen = vec![false; w * h];
    let mut out = Vec::new();
    let mut stack = Vec::new();
    for sy in 0..h {
        for sx in 0..w {
            let si = sy * w + sx;
            if seen[si] || raw[(y0 as usize + sy) * iw as usize + x0 as usize + sx] >= 128 {
                continue;
            }
            seen[si] = true;
            stack.push((sx, sy));
            let mut pixels = Vec::new();
            while let Some((x, y)) = stack.pop() {
                pixels.push((x as u32 + x0, y as u32 + y0));
                for dy in -1i64..=1 {
                    for dx in -1i64..=1 {
                        let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                        if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                            continue;
                        }
                        let ni = ny as usize * w + nx as usize;
                        if !seen[ni]
                            && raw[(y0 as usize + ny as usize) * iw as usize
                                + x0 as usize
                                + nx as usize]
                                < 128
                        {
                            seen[ni] = true;
                            stack.push((nx as usize, ny as usize));
                        }
                    }
                }
            }
            if pixels.len() >= min_area {
                out.push(Piece::from_pixels(pixels));
            }
        }
    }
    out.sort_by_key(|p| (p.x0, p.y0));
    out
}

/// Merge vertically stacked components (dots of i/j, `:` `;` `!` `?` `=`) into blobs, left to right.
pub fn stack_merge(mut comps: Vec<Piece>) -> Vec<Piece> {
    loop {
        let mut found = None;
        'outer: for i in 0..comps.len() {
            for j in i + 1..comps.len() {
                if stacked(&comps[i], &comps[j]) {
                    found = Some((i, j));
                    break 'outer;
                }
            }
        }
        let Some((i, j)) = found else { break };
        let b = comps.remove(j);
        let a = &mut comps[i];
        a.pixels.extend(b.pixels);
        a.recompute();
    }
    comps.sort_by_key(|p| p.x0);
    comps
}

fn stacked(a: &Piece, b: &Piece) -> bool {
    let ox = i64::from(a.x1.min(b.x1)) - i64::from(a.x0.max(b.x0));
    let oy = i64::from(a.y1.min(b.y1)) - i64::from(a.y0.max(b.y0));
    let narrow = i64::from(a.w().min(b.w()).max(1));
    let short = i64::from(a.h().min(b.h()).max(1));
    ox * 2 >= narrow && oy * 3 < short
}

/// Cut a blob at minima of its column ink profile into pieces at least `min_w` wide.
pub fn oversegment(blob: &Piece, x_height: f32) -> Vec<Piece> {
    let w = blob.w() as usize;
    let min_w = (x_height * 0.22).max(2.0) as usize;
    if w < 2 * min_w + 1 {
        return vec![blob.clone()];
    }
    let mut col = vec![0u32; w];
    for &(x, _) in &blob.pixels {
        col[(x - blob.x0) as usize] += 1;
    }
    let max_cut = (x_height * 0.2).max(2.0) as u32;
    let mut cuts = Vec::new();
    let mut last = 0usize;
    for c in min_w..w.saturating_sub(min_w) {
        let v = col[c];
        if v > max_cut {
            continue;
        }
        let lo = c.saturating_sub(2);
        let hi = (c + 2).min(w - 1);
        if (lo..=hi).all(|k| col[k] >= v) && c - last >= min_w {
            // Prefer the middle of a flat minimum.
            cuts.push(c);
            last = c;
        }
    }
    if cuts.is_empty() {
        return vec![blob.clone()];
    }
    let mut parts: Vec<Vec<(u32, u32)>> = vec![Vec::new(); cuts.len() + 1];
    for &(x, y) in &blob.pixels {
        let rel = (x - blob.x0) as usize;
        let k = cuts.partition_point(|&c| c <= rel);
        parts[k].push((x, y));
    }
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(Piece::from_pixels)
        .collect()
}

/// Refine a line's x-height and baseline from its blobs (robust medians around the estimates).
pub fn refine_metrics(blobs: &[Piece], x_height: f32, baseline: f32) -> (f32, f32) {
    let xh0 = if x_height.is_finite() && x_height >= 2.0 {
        x_height
    } else {
        10.0
    };
    let mut bottoms: Vec<f32> = blobs
        .iter()
        .filter(|b| {
            let h = b.h() as f32;
            h > 0.6 * xh0 && h < 1.8 * xh0 && (b.y1 as f32 - baseline).abs() < 0.35 * xh0
        })
        .map(|b| b.y1 as f32)
        .collect();
    let bl = if bottoms.len() >= 3 {
        median(&mut bottoms)
    } else {
        baseline
    };
    let mut heights: Vec<f32> = blobs
        .iter()
        .filter(|b| {
            let h = b.h() as f32;
            h > 0.75 * xh0 && h < 1.2 * xh0 && (b.y1 as f32 - bl).abs() < 0.2 * xh0
        })
        .map(|b| b.h() as f32)
        .collect();
    let xh = if heights.len() >= 3 {
        median(&mut heights)
    } else {
        xh0
    };
    (xh, bl)
}

fn median(v: &mut [f32]) -> f32 {
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// The classifier's feature vector of a candidate glyph, relative to the line's metrics.
pub fn features(p: &Piece, x_height: f32, baseline: f32, out: &mut [f32; FEATURES]) {
    const SUB: usize = 4;
    out.fill(0.0);
    let (w, h) = (p.w().max(1) as usize, p.h().max(1) as usize);
    let mut mask = vec![false; w * h];
    for &(x, y) in &p.pixels {
        let (rx, ry) = ((x - p.x0) as usize, (y - p.y0) as usize);
        if rx < w && ry < h {
            mask[ry * w + rx] = true;
        }
    }
    let side = w.max(h) as f32;
    let s = side / GRID as f32; // source pixels per cell
    let offx = (side - w as f32) / 2.0;
    let offy = (side - h as f32) / 2.0;
    for gy in 0..GRID {
        for gx in 0..GRID {
            let mut hit = 0u32;
            for sy in 0..SUB {
                for sx in 0..SUB {
                    let fx = (gx as f32 + (sx as f32 + 0.5) / SUB as f32) * s - offx;
                    let fy = (gy as f32 + (sy as f32 + 0.5) / SUB as f32) * s - offy;
                    if fx >= 0.0 && fy >= 0.0 {
                        let (ix, iy) = (fx as usize, fy as usize);
                        if ix < w && iy < h && mask[iy * w + ix] {
                            hit += 1;
                        }
                    }
                }
            }
            out[gy * GRID + gx] = hit as f32 / (SUB * SUB) as f32;
        }
    }
    let xh = if x_height.is_finite() && x_height >= 1.0 {
        x_height
    } else {
        h as f32
    };
    let bl = if baseline.is_finite() {
        baseline
    } else {
        p.y1 as f32
    };
    let above_x = p
        .pixels
        .iter()
        .filter(|&&(_, y)| (y as f32) < bl - xh * 1.1)
        .count() as f32;
    let below_b = p
        .pixels
        .iter()
        .filter(|&&(_, y)| (y as f32) >= bl + xh * 0.1)
        .count() as f32;
    let n = p.pixels.len().max(1) as f32;
    let geo = [
        h as f32 / xh,
        w as f32 / xh,
        (bl - p.y1 as f32) / xh,
        (bl - p.y0 as f32) / xh,
        (w as f32 / h as f32).ln(),
        n / (w * h) as f32,
        above_x / n,
        below_b / n,
    ];
    for (k, g) in geo.iter().enumerate() {
        out[GRID * GRID + k] = g.clamp(-4.0, 6.0);
    }
}
