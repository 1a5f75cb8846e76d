//! Connected components of a binary image (0 = ink), labelled on horizontal runs with
//! union-find, 8-connectivity.

use crate::Rect;
use image::GrayImage;

/// One horizontal run of ink pixels `x0..x1` on row `y`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Run {
    /// Row.
    pub y: u32,
    /// First ink column.
    pub x0: u32,
    /// One past the last ink column.
    pub x1: u32,
}

/// One connected component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Component {
    /// Bounding box.
    pub bbox: Rect,
    /// Ink pixel count.
    pub area: u32,
}

/// The labelled components of an image, with their runs.
#[derive(Clone, Debug, Default)]
pub struct Components {
    /// Every ink run, row by row.
    pub runs: Vec<Run>,
    /// For each run, the index of its component in [`Components::items`].
    pub run_component: Vec<u32>,
    /// The components, in order of their first pixel (top to bottom, left to right).
    pub items: Vec<Component>,
}

fn find(parent: &mut [u32], mut i: u32) -> u32 {
    while parent[i as usize] != i {
        let p = parent[parent[i as usize] as usize];
        parent[i as usize] = p;
        i = p;
    }
    i
}

/// Labels the ink (value below 128) of `binary`.
pub fn label(binary: &GrayImage) -> Components {
    let (w, h) = binary.dimensions();
    let raw = binary.as_raw();
    let mut runs: Vec<Run> = Vec::new();
    let mut parent: Vec<u32> = Vec::new();
    let mut prev_start = 0usize;
    for y in 0..h {
        let row = &raw[(y * w) as usize..((y + 1) * w) as usize];
        let cur_start = runs.len();
        let mut x = 0usize;
        while x < row.len() {
            if row[x] < 128 {
                let s = x;
                while x < row.len() && row[x] < 128 {
                    x += 1;
                }
                let id = runs.len() as u32;
                runs.push(Run {
                    y,
                    x0: s as u32,
                    x1: x as u32,
                });
                parent.push(id);
            } else {
                x += 1;
            }
        }
        // Merge with overlapping runs of the previous row (8-connected: touching diagonally).
        let mut j = prev_start;
        for i in cur_start..runs.len() {
            let r = runs[i];
            while j < cur_start && runs[j].x1 < r.x0 {
                j += 1;
            }
            let mut k = j;
            while k < cur_start && runs[k].x0 <= r.x1 {
                let a = find(&mut parent, i as u32);
                let b = find(&mut parent, k as u32);
                if a != b {
                    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
                    parent[hi as usize] = lo;
                }
                k += 1;
            }
        }
        prev_start = cur_start;
    }
    let mut run_component = vec![0u32; runs.len()];
    let mut comp_of_root = vec![u32::MAX; runs.len()];
    let mut items: Vec<Component> = Vec::new();
    let mut x1s: Vec<u32> = Vec::new();
    let mut y1s: Vec<u32> = Vec::new();
    for i in 0..runs.len() {
        let root = find(&mut parent, i as u32) as usize;
        let r = runs[i];
        if comp_of_root[root] == u32::MAX {
            comp_of_root[root] = items.len() as u32;
            items.push(Component {
                bbox: Rect {
                    x: r.x0,
                    y: r.y,
                    w: 0,
                    h: 0,
                },
                area: 0,
            });
            x1s.push(r.x1);
            y1s.push(r.y + 1);
        }
        let c = comp_of_root[root] as usize;
        run_component[i] = c as u32;
        let it = &mut items[c];
        it.area += r.x1 - r.x0;
        it.bbox.x = it.bbox.x.min(r.x0);
        x1s[c] = x1s[c].max(r.x1);
        y1s[c] = y1s[c].max(r.y + 1);
    }
    for (c, it) in items.iter_mut().enumerate() {
        it.bbox.w = x1s[c] - it.bbox.x;
        it.bbox.h = y1s[c] - it.bbox.y;
    }
    Components {
        runs,
        run_component,
        items,
    }
}

impl Components {
    /// Paints every component for which `erase` returns true with `value` in each image given.
    pub fn erase_where(
        &self,
        images: &mut [&mut GrayImage],
        value: u8,
        mut erase: impl FnMut(&Component) -> bool,
    ) -> usize {
        let flags: Vec<bool> = self.items.iter().map(&mut erase).collect();
        for img in images.iter_mut() {
            let w = img.width() as usize;
            let buf: &mut [u8] = img;
            for (r, &c) in self.runs.iter().zip(&self.run_component) {
                if flags[c as usize] {
                    let start = r.y as usize * w;
                    if let Some(px) = buf.get_mut(start + r.x0 as usize..start + r.x1 as usize) {
                        px.fill(value);
                    }
                }
            }
        }
        flags.iter().filter(|f| **f).count()
    }
}
