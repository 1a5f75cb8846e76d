//! Layout analysis on a binary page (0 = ink): connected components, ruled tables, blocks and
//! columns by recursive XY-cut (reading order: top to bottom, columns left to right), text
//! lines with x-height and baseline, and words by gap statistics.

use crate::Rect;
use crate::components::{self, Component, Components, Run};
use image::GrayImage;

/// What a block is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum BlockKind {
    /// Running text.
    Text,
    /// One cell of a ruled table.
    TableCell {
        /// Index of the table on the page.
        table: u32,
        /// Row, from 0 at the top.
        row: u32,
        /// Column, from 0 at the left.
        col: u32,
    },
}

/// One text line found by layout analysis (page coordinates).
#[derive(Clone, Debug, PartialEq)]
pub struct LineLayout {
    /// Bounding box of the line's ink.
    pub bbox: Rect,
    /// Word boxes, left to right.
    pub words: Vec<Rect>,
    /// Estimated x-height in pixels.
    pub x_height: f32,
    /// Estimated baseline row (page y).
    pub baseline: f32,
}

/// One block: a text region or a table cell, with its lines in reading order.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockLayout {
    /// Bounding box (the cell's interior for table cells).
    pub bbox: Rect,
    /// What the block is.
    pub kind: BlockKind,
    /// Lines, top to bottom.
    pub lines: Vec<LineLayout>,
}

/// A ruled table: the positions of its rules.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableLayout {
    /// Bounding box of the grid.
    pub bbox: Rect,
    /// Centre rows of the horizontal rules, top to bottom.
    pub row_rules: Vec<u32>,
    /// Centre columns of the vertical rules, left to right.
    pub col_rules: Vec<u32>,
}

impl TableLayout {
    /// Number of rows of cells.
    pub fn rows(&self) -> usize {
        self.row_rules.len().saturating_sub(1)
    }
    /// Number of columns of cells.
    pub fn cols(&self) -> usize {
        self.col_rules.len().saturating_sub(1)
    }
    /// The cell rectangle between rules (exclusive of the rules' centres).
    pub fn cell(&self, row: usize, col: usize) -> Rect {
        let (y0, y1) = (self.row_rules[row], self.row_rules[row + 1]);
        let (x0, x1) = (self.col_rules[col], self.col_rules[col + 1]);
        Rect {
            x: x0,
            y: y0,
            w: x1 - x0,
            h: y1 - y0,
        }
    }
}

/// The layout of one page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PageLayout {
    /// Blocks in reading order.
    pub blocks: Vec<BlockLayout>,
    /// Ruled tables found.
    pub tables: Vec<TableLayout>,
    /// Median height of character-sized components (pixels); 0 on a blank page.
    pub char_height: f32,
}

/// The union of two rectangles (an empty rectangle is the identity).
pub fn union(a: Rect, b: Rect) -> Rect {
    if a.w == 0 || a.h == 0 {
        return b;
    }
    if b.w == 0 || b.h == 0 {
        return a;
    }
    let x0 = a.x.min(b.x);
    let y0 = a.y.min(b.y);
    let x1 = (a.x + a.w).max(b.x + b.w);
    let y1 = (a.y + a.h).max(b.y + b.h);
    Rect {
        x: x0,
        y: y0,
        w: x1 - x0,
        h: y1 - y0,
    }
}

fn union_all(it: impl IntoIterator<Item = Rect>) -> Rect {
    it.into_iter().fold(Rect::default(), union)
}

fn contains_point(r: Rect, x: u32, y: u32) -> bool {
    x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h
}

fn median_char_height(items: &[Component]) -> f32 {
    let mut hs: Vec<u32> = items
        .iter()
        .filter(|c| c.area >= 4 && c.bbox.h >= 3 && c.bbox.w <= 6 * c.bbox.h)
        .map(|c| c.bbox.h)
        .collect();
    if hs.is_empty() {
        return 0.0;
    }
    let mid = hs.len() / 2;
    *hs.select_nth_unstable(mid).1 as f32
}

/// Finds the horizontal and vertical rules of one large component; a table needs at least two
/// of each.
fn table_from_component(cc: &Components, idx: usize) -> Option<TableLayout> {
    let b = cc.items[idx].bbox;
    let mut rows = vec![0u32; b.h as usize];
    let mut cols = vec![0u32; b.w as usize];
    for (r, &c) in cc.runs.iter().zip(&cc.run_component) {
        if c as usize != idx {
            continue;
        }
        rows[(r.y - b.y) as usize] += r.x1 - r.x0;
        for x in r.x0..r.x1 {
            cols[(x - b.x) as usize] += 1;
        }
    }
    let centres = |v: &[u32], full: u32, origin: u32| -> Vec<u32> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < v.len() {
            if v[i] * 10 >= full * 7 {
                let s = i;
                while i < v.len() && v[i] * 10 >= full * 7 {
                    i += 1;
                }
                out.push(origin + usize::midpoint(s, i) as u32);
            } else {
                i += 1;
            }
        }
        out
    };
    let row_rules = centres(&rows, b.w, b.y);
    let col_rules = centres(&cols, b.h, b.x);
    (row_rules.len() >= 2 && col_rules.len() >= 2).then_some(TableLayout {
        bbox: b,
        row_rules,
        col_rules,
    })
}

#[derive(Clone, Copy)]
enum Item {
    Text(usize),
    Table(usize),
}

/// Splits `items` at whitespace gaps of at least `min_gap` along one axis.
fn split_axis(items: &[(Item, Rect)], vertical_cut: bool, min_gap: u32) -> Vec<Vec<(Item, Rect)>> {
    let mut spans: Vec<(u32, u32, usize)> = items
        .iter()
        .enumerate()
        .map(|(i, (_, r))| {
            if vertical_cut {
                (r.x, r.x + r.w, i)
            } else {
                (r.y, r.y + r.h, i)
            }
        })
        .collect();
    spans.sort_unstable();
    let mut groups: Vec<Vec<(Item, Rect)>> = Vec::new();
    let mut end = 0u32;
    for (s, e, i) in spans {
        if groups.is_empty() || s >= end.saturating_add(min_gap) {
            groups.push(Vec::new());
        }
        if let Some(g) = groups.last_mut() {
            g.push(items[i]);
        }
        end = end.max(e);
    }
    groups
}

fn xy_cut(items: Vec<(Item, Rect)>, col_gap: u32, row_gap: u32, out: &mut Vec<Vec<(Item, Rect)>>) {
    if items.len() <= 1 {
        if !items.is_empty() {
            out.push(items);
        }
        return;
    }
    let cols = split_axis(&items, true, col_gap);
    if cols.len() > 1 {
        for g in cols {
            xy_cut(g, col_gap, row_gap, out);
        }
        return;
    }
    let rows = split_axis(&items, false, row_gap);
    if rows.len() > 1 {
        for g in rows {
            xy_cut(g, col_gap, row_gap, out);
        }
        return;
    }
    out.push(items);
}

/// Groups components into lines, then words. `ids` index `cc.items`.
fn build_lines(
    cc: &Components,
    comp_runs: (&[Run], &[(usize, usize)]),
    ids: &[usize],
    char_h: f32,
) -> Vec<LineLayout> {
    let items = &cc.items;
    let big_min = (char_h * 0.45).max(2.0) as u32;
    let (mut big, small): (Vec<usize>, Vec<usize>) =
        ids.iter().partition(|&&i| items[i].bbox.h >= big_min);
    big.sort_by_key(|&i| (items[i].bbox.y, items[i].bbox.x));
    // Each line: (top, bottom, member ids).
    let mut lines: Vec<(u32, u32, Vec<usize>)> = Vec::new();
    for &i in &big {
        let b = items[i].bbox;
        let (t, bo) = (b.y, b.y + b.h);
        let mut best: Option<(f32, usize)> = None;
        for (li, l) in lines.iter().enumerate().rev().take(8) {
            let ov = bo.min(l.1).saturating_sub(t.max(l.0)) as f32;
            let denom = b.h.min(l.1 - l.0).max(1) as f32;
            let r = ov / denom;
            if r >= 0.5 && best.is_none_or(|(br, _)| r > br) {
                best = Some((r, li));
            }
        }
        match best {
            Some((_, li)) => {
                let l = &mut lines[li];
                l.0 = l.0.min(t);
                l.1 = l.1.max(bo);
                l.2.push(i);
            }
            None => lines.push((t, bo, vec![i])),
        }
    }
    for &i in &small {
        let b = items[i].bbox;
        let cy = b.y + b.h / 2;
        let mut best: Option<(u32, usize)> = None;
        for (li, l) in lines.iter().enumerate() {
            let d = if cy < l.0 {
                l.0 - cy
            } else if cy >= l.1 {
                cy - l.1 + 1
            } else {
                0
            };
            // Dots and accents sit at most about half a line height away.
            if d * 2 <= (l.1 - l.0).max(2) && best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, li));
            }
        }
        match best {
            Some((_, li)) => lines[li].2.push(i),
            None => lines.push((b.y, b.y + b.h, vec![i])),
        }
    }
    lines.sort_by_key(|l| (l.0, l.1));
    lines
        .into_iter()
        .map(|(_, _, ids)| line_from_components(cc, comp_runs, ids, big_min))
        .collect()
}

fn line_from_components(
    cc: &Components,
    comp_runs: (&[Run], &[(usize, usize)]),
    mut ids: Vec<usize>,
    big_min: u32,
) -> LineLayout {
    let items = &cc.items;
    let (runs, comp_runs) = comp_runs;
    ids.sort_by_key(|&i| items[i].bbox.x);
    let bbox = union_all(ids.iter().map(|&i| items[i].bbox));
    let mut hs: Vec<u32> = ids
        .iter()
        .map(|&i| items[i].bbox)
        .filter(|b| b.h >= big_min)
        .map(|b| b.h)
        .collect();
    let mut bottoms: Vec<u32> = ids
        .iter()
        .map(|&i| items[i].bbox)
        .filter(|b| b.h >= big_min)
        .map(|b| b.y + b.h)
        .collect();
    hs.sort_unstable();
    bottoms.sort_unstable();
    let x_height = if hs.is_empty() {
        bbox.h as f32
    } else {
        hs[(hs.len() * 35 / 100).min(hs.len() - 1)] as f32
    };
    let baseline = if bottoms.is_empty() {
        (bbox.y + bbox.h) as f32
    } else {
        bottoms[bottoms.len() / 2] as f32
    };
    // Word gaps are measured on the ink above the baseline, where descender hooks (j, y)
    // cannot bridge a space and crossbars (T) still join their letters.
    let band0 = bbox.y;
    let band1 = (baseline.round() as u32).max(band0 + 1);
    let mut occ = vec![false; bbox.w as usize];
    for &i in &ids {
        for r in &runs[comp_runs[i].0..comp_runs[i].1] {
            if r.y >= band0 && r.y < band1 {
                occ[(r.x0 - bbox.x) as usize..(r.x1 - bbox.x) as usize].fill(true);
            }
        }
    }
    // Occupied intervals [start, end) in page x.
    let mut spans: Vec<(u32, u32)> = Vec::new();
    let mut x = 0usize;
    while x < occ.len() {
        if occ[x] {
            let s = x;
            while x < occ.len() && occ[x] {
                x += 1;
            }
            spans.push((bbox.x + s as u32, bbox.x + x as u32));
        } else {
            x += 1;
        }
    }
    if spans.is_empty() {
        // No ink in the band (a line of dashes or dots): use component boxes.
        for &i in &ids {
            let b = items[i].bbox;
            match spans.last_mut() {
                Some(s) if b.x < s.1 => s.1 = s.1.max(b.x + b.w),
                _ => spans.push((b.x, b.x + b.w)),
            }
        }
    }
    let gaps: Vec<u32> = spans.windows(2).map(|w| w[1].0 - w[0].1).collect();
    let t = word_gap_threshold(&gaps, x_height);
    // Split points: the middle of every gap wider than the threshold.
    let cuts: Vec<u32> = spans
        .windows(2)
        .zip(&gaps)
        .filter(|(_, g)| **g as f32 > t)
        .map(|(w, _)| u32::midpoint(w[0].1, w[1].0))
        .collect();
    let mut words = vec![Rect::default(); cuts.len() + 1];
    for &i in &ids {
        let b = items[i].bbox;
        let cx = b.x + b.w / 2;
        let k = cuts.partition_point(|&c| c <= cx);
        words[k] = union(words[k], b);
    }
    words.retain(|w| w.w > 0 && w.h > 0);
    LineLayout {
        bbox,
        words,
        x_height,
        baseline,
    }
}

/// Word gap threshold: the best two-class split of the gaps when they are clearly bimodal,
/// otherwise half the x-height.
fn word_gap_threshold(gaps: &[u32], x_height: f32) -> f32 {
    let fallback = (x_height * 0.5).max(2.0);
    if gaps.len() < 4 {
        return fallback;
    }
    let mut g: Vec<f32> = gaps.iter().map(|&v| v as f32).collect();
    g.sort_by(f32::total_cmp);
    let n = g.len();
    let total: f32 = g.iter().sum();
    let mut best = (0.0f32, fallback);
    let mut acc = 0.0;
    for k in 1..n {
        acc += g[k - 1];
        let (m0, m1) = (acc / k as f32, (total - acc) / (n - k) as f32);
        let between = (k * (n - k)) as f32 * (m1 - m0).powi(2);
        if between > best.0 && g[k] > g[k - 1] {
            best = (between, f32::midpoint(g[k - 1], g[k]));
            // Remember the class means for the bimodality check below.
            if m1 < 2.0 * m0.max(1.0) || m1 < 0.4 * x_height {
                best.1 = f32::NAN;
            }
        }
    }
    if best.1.is_nan() {
        return fallback;
    }
    best.1.clamp(x_height * 0.35, x_height * 1.2).max(2.0)
}

/// For each component, the range of its runs in a run list sorted by component.
fn component_runs(cc: &Components) -> (Vec<Run>, Vec<(usize, usize)>) {
    let n = cc.items.len();
    let mut count = vec![0usize; n + 1];
    for &c in &cc.run_component {
        count[c as usize + 1] += 1;
    }
    for i in 0..n {
        count[i + 1] += count[i];
    }
    let ranges: Vec<(usize, usize)> = (0..n).map(|i| (count[i], count[i + 1])).collect();
    let mut sorted = vec![Run { y: 0, x0: 0, x1: 0 }; cc.runs.len()];
    let mut next = count;
    for (r, &c) in cc.runs.iter().zip(&cc.run_component) {
        sorted[next[c as usize]] = *r;
        next[c as usize] += 1;
    }
    (sorted, ranges)
}

/// Analyses the layout of a binary page.
pub fn analyze(binary: &GrayImage) -> PageLayout {
    let cc = components::label(binary);
    analyze_components(&cc)
}

/// Analyses the layout from already labelled components.
pub fn analyze_components(cc: &Components) -> PageLayout {
    let items = &cc.items;
    let char_h = median_char_height(items);
    if char_h == 0.0 {
        return PageLayout::default();
    }
    let ch = char_h as u32;
    let (sorted_runs, ranges) = component_runs(cc);
    let comp_runs = (&sorted_runs[..], &ranges[..]);
    // Tables: large components that hold a grid of rules.
    let mut tables = Vec::new();
    let mut is_table = vec![false; items.len()];
    for (i, c) in items.iter().enumerate() {
        let b = c.bbox;
        let candidate =
            b.w >= 4 * ch && b.h >= 2 * ch && (c.area as f32) < 0.5 * (b.w * b.h) as f32;
        if let Some(t) = candidate.then(|| table_from_component(cc, i)).flatten() {
            is_table[i] = true;
            tables.push(t);
        }
    }
    // Non-text: rules, frames and pictures (much taller than text, or long and thin).
    let is_text = |c: &Component| {
        let b = c.bbox;
        !(b.h > 6 * ch.max(1) || (b.w > 12 * ch.max(1) && b.h * 4 < ch.max(1) * 3))
    };
    let mut cell_members: Vec<Vec<Vec<usize>>> = tables
        .iter()
        .map(|t| vec![Vec::new(); t.rows() * t.cols()])
        .collect();
    let mut free: Vec<(Item, Rect)> = Vec::new();
    'outer: for (i, c) in items.iter().enumerate() {
        if is_table[i] || !is_text(c) {
            continue;
        }
        let (cx, cy) = (c.bbox.x + c.bbox.w / 2, c.bbox.y + c.bbox.h / 2);
        for (ti, t) in tables.iter().enumerate() {
            if contains_point(t.bbox, cx, cy) {
                let row = t.row_rules.iter().rposition(|&r| r <= cy);
                let col = t.col_rules.iter().rposition(|&r| r <= cx);
                if let (Some(r), Some(k)) = (row, col)
                    && r < t.rows()
                    && k < t.cols()
                {
                    cell_members[ti][r * t.cols() + k].push(i);
                }
                continue 'outer;
            }
        }
        free.push((Item::Text(i), c.bbox));
    }
    for (ti, t) in tables.iter().enumerate() {
        free.push((Item::Table(ti), t.bbox));
    }
    let mut groups = Vec::new();
    let col_gap = (char_h * 2.0).ceil() as u32;
    let row_gap = (char_h * 1.8).ceil() as u32;
    xy_cut(free, col_gap, row_gap, &mut groups);
    let mut blocks = Vec::new();
    for g in groups {
        let text: Vec<usize> = g
            .iter()
            .filter_map(|(it, _)| match it {
                Item::Text(i) => Some(*i),
                Item::Table(_) => None,
            })
            .collect();
        let mut parts: Vec<(u32, Vec<BlockLayout>)> = Vec::new();
        if !text.is_empty() {
            let lines = build_lines(cc, comp_runs, &text, char_h);
            let bbox = union_all(lines.iter().map(|l| l.bbox));
            let y = bbox.y;
            parts.push((
                y,
                vec![BlockLayout {
                    bbox,
                    kind: BlockKind::Text,
                    lines,
                }],
            ));
        }
        for (it, _) in &g {
            if let Item::Table(ti) = *it {
                let t = &tables[ti];
                let mut cells = Vec::new();
                for r in 0..t.rows() {
                    for k in 0..t.cols() {
                        let ids = &cell_members[ti][r * t.cols() + k];
                        cells.push(BlockLayout {
                            bbox: t.cell(r, k),
                            kind: BlockKind::TableCell {
                                table: ti as u32,
                                row: r as u32,
                                col: k as u32,
                            },
                            lines: build_lines(cc, comp_runs, ids, char_h),
                        });
                    }
                }
                parts.push((t.bbox.y, cells));
            }
        }
        parts.sort_by_key(|p| p.0);
        blocks.extend(parts.into_iter().flat_map(|p| p.1));
    }
    PageLayout {
        blocks,
        tables,
        char_height: char_h,
    }
}
