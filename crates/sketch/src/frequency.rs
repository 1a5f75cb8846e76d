//! Frequency sketches: [`CountMin`] point estimates and [`SpaceSaving`]
//! heavy hitters / top-k with explicit error modes.
//!
//! ```
//! use blocksmith_sketch::frequency::{CountMin, ErrorType, SpaceSaving};
//! let mut cm = CountMin::with_error(0.001, 0.01)?;
//! let mut top = SpaceSaving::new(64)?;
//! for i in 0..10_000u64 {
//!     let page = if i % 3 == 0 { "/home".to_string() } else { format!("/p/{}", i % 500) };
//!     cm.update(&page, 1);
//!     top.update(&page, 1);
//! }
//! assert!(cm.estimate(&"/home") >= 3334);
//! assert_eq!(top.top_k(1)[0].item, "/home");
//! let sure = top.frequent_items(1000, ErrorType::NoFalsePositives);
//! assert_eq!(sure.len(), 1);
//! # Ok::<(), blocksmith_sketch::Error>(())
//! ```

use crate::error::{Reader, unsupported};
use crate::hash::{DEFAULT_SEED, SketchItem};
use crate::{Error, Result};
use foldhash::fast::FixedState;
use hashbrown::HashTable;
use std::collections::HashMap;
use std::hash::BuildHasher;

const CM_MAGIC: &[u8; 4] = b"BSCM";
const SS_MAGIC: &[u8; 4] = b"BSSS";
const VERSION: u8 = 1;

fn magic(rd: &mut Reader<'_>, what: &'static str, m: [u8; 4]) -> Result<()> {
    if rd.bytes(4)? != m {
        return Err(unsupported(what, "bad magic"));
    }
    let v = rd.u8()?;
    if v != VERSION {
        return Err(unsupported(what, format!("version {v}")));
    }
    Ok(())
}

/// A Count-Min sketch: `estimate(x) >= true(x)`, and with probability
/// `1 - delta`, `estimate(x) <= true(x) + epsilon * total`, where
/// `width = ceil(e / epsilon)` and `depth = ceil(ln(1 / delta))`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountMin {
    depth: usize,
    width: usize,
    total: u64,
    counts: Vec<u64>,
}

impl CountMin {
    /// A sketch of `depth` rows of `width` counters.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `depth` is not in 1..=32 or `width` not in
    /// 1..=2^28.
    pub fn new(depth: usize, width: usize) -> Result<Self> {
        if !(1..=32).contains(&depth) || width == 0 || width > 1 << 28 {
            return Err(Error::InvalidArgument(format!(
                "Count-Min needs depth 1..=32 and width 1..=2^28, got {depth} x {width}"
            )));
        }
        Ok(CountMin {
            depth,
            width,
            total: 0,
            counts: vec![0; depth * width],
        })
    }

    /// A sketch sized for additive error `epsilon * total` with probability `1 - delta`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `epsilon` or `delta` is not in (0, 1), or
    /// they ask for more than 2^28 columns (`epsilon` below about 1e-8) or more
    /// than 32 rows (`delta` below about 1e-14).
    pub fn with_error(epsilon: f64, delta: f64) -> Result<Self> {
        if !(epsilon > 0.0 && epsilon < 1.0 && delta > 0.0 && delta < 1.0) {
            return Err(Error::InvalidArgument(
                "epsilon and delta must be in (0, 1)".into(),
            ));
        }
        let width = (std::f64::consts::E / epsilon).ceil() as usize;
        let depth = (1.0 / delta).ln().ceil().max(1.0) as usize;
        Self::new(depth, width)
    }

    /// Rows.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Counters per row.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Sum of all weights added.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The additive error bound `e / width * total` (holds with probability
    /// `1 - e^-depth`).
    pub fn error_bound(&self) -> f64 {
        std::f64::consts::E / self.width as f64 * self.total as f64
    }

    #[inline]
    fn cells<T: SketchItem + ?Sized>(&self, item: &T) -> impl Iterator<Item = usize> + use<T> {
        let (h1, h2) = item.hash128(DEFAULT_SEED).unwrap_or((0, 0));
        let (w, d) = (self.width as u64, self.depth);
        (0..d).map(move |i| {
            i * w as usize + (h1.wrapping_add((i as u64).wrapping_mul(h2 | 1)) % w) as usize
        })
    }

    /// Adds `weight` occurrences of `item`.
    pub fn update<T: SketchItem + ?Sized>(&mut self, item: &T, weight: u64) {
        for c in self.cells(item) {
            self.counts[c] = self.counts[c].saturating_add(weight);
        }
        self.total = self.total.saturating_add(weight);
    }

    /// The estimated count of `item` (never below the true count).
    pub fn estimate<T: SketchItem + ?Sized>(&self, item: &T) -> u64 {
        self.cells(item).map(|c| self.counts[c]).min().unwrap_or(0)
    }

    /// Adds `other`'s counts (same dimensions required).
    ///
    /// # Errors
    /// [`Error::Incompatible`] if `other` has another depth or width; `self` is
    /// unchanged then.
    pub fn merge(&mut self, other: &CountMin) -> Result<()> {
        if (self.depth, self.width) != (other.depth, other.width) {
            return Err(Error::Incompatible(format!(
                "Count-Min {}x{} vs {}x{}",
                self.depth, self.width, other.depth, other.width
            )));
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        self.total = self.total.saturating_add(other.total);
        Ok(())
    }

    /// Serializes: `BSCM`, version, depth (u8), width (u32), total (u64), counters (u64 LE).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(18 + 8 * self.counts.len());
        out.extend_from_slice(CM_MAGIC);
        out.push(VERSION);
        out.push(self.depth as u8);
        out.extend_from_slice(&(self.width as u32).to_le_bytes());
        out.extend_from_slice(&self.total.to_le_bytes());
        for c in &self.counts {
            out.extend_from_slice(&c.to_le_bytes());
        }
        out
    }

    /// Reads [`CountMin::to_bytes`]'s format.
    ///
    /// # Errors
    /// - [`Error::Truncated`] if `bytes` end before the counters they announce;
    /// - [`Error::Unsupported`] for another magic or format version;
    /// - [`Error::Corrupt`] if the dimensions are out of range (as for
    ///   [`CountMin::new`]), bytes trail the counters, or a row does not sum to
    ///   the total.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut rd = Reader::new("Count-Min sketch", bytes);
        magic(&mut rd, "Count-Min sketch", *CM_MAGIC)?;
        let depth = usize::from(rd.u8()?);
        let width = rd.u32()? as usize;
        let total = rd.u64()?;
        if !(1..=32).contains(&depth) || width == 0 || width > 1 << 28 {
            return Err(rd.corrupt(format!("dimensions {depth} x {width}")));
        }
        rd.need_items(depth * width, 8)?;
        let mut s = CountMin::new(depth, width)?;
        for c in &mut s.counts {
            *c = rd.u64()?;
        }
        if rd.remaining() != 0 {
            return Err(rd.corrupt("trailing bytes"));
        }
        for row in s.counts.chunks(width) {
            if row.iter().try_fold(0u64, |a, &b| a.checked_add(b)) != Some(total) {
                return Err(rd.corrupt("a row does not sum to the total"));
            }
        }
        s.total = total;
        Ok(s)
    }
}

/// Which side of the error a frequent-items query takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ErrorType {
    /// Only items whose *lower* bound exceeds the threshold: every item
    /// returned is truly frequent, some frequent items may be missed.
    NoFalsePositives,
    /// Every item whose *upper* bound exceeds the threshold: no truly frequent
    /// item is missed, some returned items may not be frequent.
    NoFalseNegatives,
}

/// One tracked item with its count bounds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    /// The item.
    pub item: String,
    /// Upper bound of its true count (the Space-Saving counter).
    pub upper: u64,
    /// Lower bound of its true count.
    pub lower: u64,
}

impl Row {
    /// The point estimate (the upper bound, as Space-Saving reports).
    pub fn estimate(&self) -> u64 {
        self.upper
    }
}

/// Space-Saving heavy hitters over string items with `capacity` counters:
/// every item whose true count exceeds `total / capacity` is tracked, and
/// each count is overestimated by at most `total / capacity`. Mergeable
/// (Agarwal et al., "Mergeable summaries").
///
/// Counters live in an indexed binary min-heap, so an update is a hash
/// lookup plus `O(log capacity)` array swaps, with no allocation except when
/// a new item takes over the smallest counter.
#[derive(Clone, Debug)]
pub struct SpaceSaving {
    capacity: usize,
    total: u64,
    /// Slots, found by item; each slot's hash is kept in `hashes`.
    table: HashTable<u32>,
    build: FixedState,
    hashes: Vec<u64>,
    /// Per slot: item, count (upper bound), error.
    items: Vec<String>,
    counts: Vec<u64>,
    errors: Vec<u64>,
    /// Min-heap of slots by count, and each slot's position in it.
    heap: Vec<u32>,
    pos: Vec<u32>,
}

impl PartialEq for SpaceSaving {
    fn eq(&self, o: &Self) -> bool {
        self.capacity == o.capacity
            && self.total == o.total
            && self.items.len() == o.items.len()
            && self.items.iter().enumerate().all(|(s, k)| {
                o.find(k).is_some_and(|t| {
                    (self.counts[s], self.errors[s]) == (o.counts[t as usize], o.errors[t as usize])
                })
            })
    }
}

impl SpaceSaving {
    /// A summary of `capacity` counters (1..=1,000,000).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `capacity` is not in 1..=1,000,000.
    pub fn new(capacity: usize) -> Result<Self> {
        if !(1..=1_000_000).contains(&capacity) {
            return Err(Error::InvalidArgument(format!(
                "Space-Saving capacity must be 1..=1000000, got {capacity}"
            )));
        }
        Ok(SpaceSaving {
            capacity,
            total: 0,
            table: HashTable::new(),
            build: FixedState::default(),
            hashes: Vec::new(),
            items: Vec::new(),
            counts: Vec::new(),
            errors: Vec::new(),
            heap: Vec::new(),
            pos: Vec::new(),
        })
    }

    fn count_at(&self, heap_index: usize) -> u64 {
        self.counts[self.heap[heap_index] as usize]
    }

    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.pos[self.heap[a] as usize] = a as u32;
        self.pos[self.heap[b] as usize] = b as u32;
    }

    fn sift_up(&mut self, mut i: usize) {
        while i > 0 {
            let parent = (i - 1) / 2;
            if self.count_at(parent) <= self.count_at(i) {
                break;
            }
            self.swap(i, parent);
            i = parent;
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut m = i;
            if l < n && self.count_at(l) < self.count_at(m) {
                m = l;
            }
            if r < n && self.count_at(r) < self.count_at(m) {
                m = r;
            }
            if m == i {
                return;
            }
            self.swap(i, m);
            i = m;
        }
    }

    fn find(&self, item: &str) -> Option<u32> {
        let h = self.build.hash_one(item);
        self.table
            .find(h, |&s| self.items[s as usize] == item)
            .copied()
    }

    fn insert_new(&mut self, item: &str, count: u64, err: u64) {
        let slot = self.items.len() as u32;
        let h = self.build.hash_one(item);
        self.items.push(item.to_string());
        self.hashes.push(h);
        let hashes = &self.hashes;
        self.table.insert_unique(h, slot, |&s| hashes[s as usize]);
        self.counts.push(count);
        self.errors.push(err);
        self.pos.push(self.heap.len() as u32);
        self.heap.push(slot);
        self.sift_up(self.heap.len() - 1);
    }

    /// The smallest counter once every counter is in use, else 0.
    fn floor(&self) -> u64 {
        if self.items.len() < self.capacity || self.heap.is_empty() {
            0
        } else {
            self.count_at(0)
        }
    }

    /// Counters available.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Sum of all weights added.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The maximum overestimate of any count: at most `total / capacity`
    /// once full, 0 while every item seen still has its own counter.
    pub fn max_error(&self) -> u64 {
        self.errors
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .max(self.floor())
    }

    /// Adds `weight` occurrences of `item`.
    pub fn update(&mut self, item: &str, weight: u64) {
        if weight == 0 {
            return;
        }
        self.total = self.total.saturating_add(weight);
        let h = self.build.hash_one(item);
        let items = &self.items;
        if let Some(&slot) = self.table.find(h, |&s| items[s as usize] == item) {
            let c = &mut self.counts[slot as usize];
            *c = c.saturating_add(weight);
            self.sift_down(self.pos[slot as usize] as usize);
            return;
        }
        if self.items.len() < self.capacity {
            self.insert_new(item, weight, 0);
            return;
        }
        // The newcomer takes over the smallest counter (and its string
        // buffer), inheriting its count as error.
        let slot = self.heap[0] as usize;
        if let Ok(entry) = self
            .table
            .find_entry(self.hashes[slot], |&s| s as usize == slot)
        {
            entry.remove();
        }
        self.items[slot].clear();
        self.items[slot].push_str(item);
        self.hashes[slot] = h;
        let hashes = &self.hashes;
        self.table
            .insert_unique(h, slot as u32, |&s| hashes[s as usize]);
        let min = self.counts[slot];
        self.errors[slot] = min;
        self.counts[slot] = min.saturating_add(weight);
        self.sift_down(0);
    }

    fn slot_row(&self, slot: usize) -> Row {
        Row {
            item: self.items[slot].clone(),
            upper: self.counts[slot],
            lower: self.counts[slot] - self.errors[slot],
        }
    }

    /// Slots by count descending, then item ascending.
    fn ranked(&self) -> Vec<usize> {
        let mut slots: Vec<usize> = (0..self.items.len()).collect();
        slots.sort_by(|&a, &b| {
            self.counts[b]
                .cmp(&self.counts[a])
                .then_with(|| self.items[a].cmp(&self.items[b]))
        });
        slots
    }

    /// Count bounds for `item`: tracked items get their counter; untracked
    /// ones get `[0, min counter]`.
    pub fn bounds(&self, item: &str) -> Row {
        match self.find(item) {
            Some(slot) => self.slot_row(slot as usize),
            None => Row {
                item: item.to_string(),
                upper: self.floor(),
                lower: 0,
            },
        }
    }

    /// The `k` items with the largest counts, largest first (ties by item).
    pub fn top_k(&self, k: usize) -> Vec<Row> {
        self.ranked()
            .into_iter()
            .take(k)
            .map(|s| self.slot_row(s))
            .collect()
    }

    /// Items whose count exceeds `threshold` under `error_type`, largest first.
    pub fn frequent_items(&self, threshold: u64, error_type: ErrorType) -> Vec<Row> {
        self.ranked()
            .into_iter()
            .map(|s| self.slot_row(s))
            .filter(|r| match error_type {
                ErrorType::NoFalsePositives => r.lower > threshold,
                ErrorType::NoFalseNegatives => r.upper > threshold,
            })
            .collect()
    }

    /// Merges `other` into `self`, keeping `self`'s capacity.
    ///
    /// # Errors
    /// Never fails today (any two of these sketches merge); it returns a
    /// `Result` so that every sketch's `merge` has the same shape.
    pub fn merge(&mut self, other: &SpaceSaving) -> Result<()> {
        let (mine_floor, other_floor) = (self.floor(), other.floor());
        let mut merged: HashMap<&str, (u64, u64)> = HashMap::new();
        for (s, k) in self.items.iter().enumerate() {
            let (c, e) = (self.counts[s], self.errors[s]);
            let (oc, oe) = other.find(k).map_or((other_floor, other_floor), |t| {
                (other.counts[t as usize], other.errors[t as usize])
            });
            merged.insert(k, (c.saturating_add(oc), e.saturating_add(oe)));
        }
        for (t, k) in other.items.iter().enumerate() {
            let (c, e) = (other.counts[t], other.errors[t]);
            merged
                .entry(k)
                .or_insert((c.saturating_add(mine_floor), e.saturating_add(mine_floor)));
        }
        let mut rows: Vec<(String, (u64, u64))> = merged
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        rows.sort_by(|a, b| b.1.0.cmp(&a.1.0).then_with(|| a.0.cmp(&b.0)));
        rows.truncate(self.capacity);
        let total = self.total.saturating_add(other.total);
        let capacity = self.capacity;
        *self = SpaceSaving {
            capacity,
            total,
            table: HashTable::new(),
            build: FixedState::default(),
            hashes: Vec::new(),
            items: Vec::new(),
            counts: Vec::new(),
            errors: Vec::new(),
            heap: Vec::new(),
            pos: Vec::new(),
        };
        for (k, (c, e)) in rows {
            self.insert_new(&k, c, e);
        }
        Ok(())
    }

    /// Serializes: `BSSS`, version, capacity (u32), total (u64), entry count
    /// (u32), then per entry: item length (u32), UTF-8 item, count (u64), error (u64).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(SS_MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&(self.capacity as u32).to_le_bytes());
        out.extend_from_slice(&self.total.to_le_bytes());
        out.extend_from_slice(&(self.items.len() as u32).to_le_bytes());
        for slot in self.ranked() {
            let (item, count, err) = (&self.items[slot], self.counts[slot], self.errors[slot]);
            out.extend_from_slice(&(item.len() as u32).to_le_bytes());
            out.extend_from_slice(item.as_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&err.to_le_bytes());
        }
        out
    }

    /// Reads [`SpaceSaving::to_bytes`]'s format.
    ///
    /// # Errors
    /// - [`Error::Truncated`] if `bytes` end before the entries they announce;
    /// - [`Error::Unsupported`] for another magic or format version;
    /// - [`Error::Corrupt`] if the capacity is out of range, there are more
    ///   entries than capacity, an item is not UTF-8 or appears twice, a count is
    ///   0 or below its error, the lower bounds sum above the total, or bytes
    ///   trail the entries.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "Space-Saving summary";
        let mut rd = Reader::new(WHAT, bytes);
        magic(&mut rd, WHAT, *SS_MAGIC)?;
        let capacity = rd.u32()? as usize;
        let total = rd.u64()?;
        let n = rd.u32()? as usize;
        let mut s = SpaceSaving::new(capacity).map_err(|_| rd.corrupt("bad capacity"))?;
        if n > capacity {
            return Err(rd.corrupt("more entries than capacity"));
        }
        rd.need_items(n, 20)?;
        let mut sum = 0u64;
        for _ in 0..n {
            let len = rd.u32()? as usize;
            let item =
                std::str::from_utf8(rd.bytes(len)?).map_err(|_| rd.corrupt("item is not UTF-8"))?;
            let count = rd.u64()?;
            let err = rd.u64()?;
            if err > count || count == 0 {
                return Err(rd.corrupt("error above count, or a zero count"));
            }
            if s.find(item).is_some() {
                return Err(rd.corrupt("duplicate item"));
            }
            s.insert_new(item, count, err);
            sum = sum.saturating_add(count - err);
        }
        if sum > total {
            return Err(rd.corrupt("lower bounds exceed the total"));
        }
        if rd.remaining() != 0 {
            return Err(rd.corrupt("trailing bytes"));
        }
        s.total = total;
        Ok(s)
    }
}
