//! KLL quantiles, byte-compatible with Apache DataSketches `kll_doubles_sketch`
//! and `kll_floats_sketch`.
//!
//! A KLL sketch keeps a hierarchy of compactors: level `i` holds items of
//! weight `2^i`, and a full level is sorted, halved at a random offset and
//! promoted. With the default `k = 200` the normalized rank error is about
//! 1.33% (99% confidence, [`KllSketch::normalized_rank_error`]) whatever the
//! stream length, in a few kilobytes. Sketches merge, and
//! [`KllSketch::to_bytes`] / [`KllSketch::from_bytes`] read and write the
//! DataSketches binary format (family 15, serial versions 1 and 2), so a
//! sketch written here answers the same quantiles in Java, C++ or Python.
//!
//! ```
//! use blocksmith_sketch::kll::KllSketch;
//! let mut s = KllSketch::<f64>::new(200)?;
//! for i in 0..100_000 { s.update(f64::from(i)); }
//! let median = s.quantile(0.5).unwrap();
//! assert!((median - 50_000.0).abs() < 100_000.0 * s.normalized_rank_error(false));
//! let back = KllSketch::<f64>::from_bytes(&s.to_bytes())?;
//! assert_eq!(back.quantile(0.5), s.quantile(0.5));
//! # Ok::<(), blocksmith_sketch::Error>(())
//! ```

use crate::error::{Reader, unsupported};
use crate::{Error, Result};

const WHAT: &str = "KLL sketch";
const FAMILY_KLL: u8 = 15;
const FLAG_EMPTY: u8 = 1;
const FLAG_L0_SORTED: u8 = 2;
const FLAG_SINGLE: u8 = 4;
/// The DataSketches default `k`.
pub const DEFAULT_K: u16 = 200;
/// The minimum level width `m` (fixed at 8 in the DataSketches format).
pub const M: u8 = 8;
const MAX_LEVELS: usize = 61;

/// An item type a KLL sketch can hold: `f64` (DataSketches `kll_doubles_sketch`)
/// or `f32` (`kll_floats_sketch`).
pub trait KllItem: Copy + PartialOrd + std::fmt::Debug + Send + Sync + 'static {
    /// Serialized width in bytes.
    const SIZE: usize;
    /// Appends the little-endian bytes.
    fn write(self, out: &mut Vec<u8>);
    /// Reads from exactly `SIZE` bytes.
    fn read(b: &[u8]) -> Self;
    /// True for NaN (which sketches ignore).
    fn is_nan(self) -> bool;
    /// As `f64`.
    fn to_f64(self) -> f64;
}

impl KllItem for f64 {
    const SIZE: usize = 8;
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read(b: &[u8]) -> Self {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        f64::from_le_bytes(a)
    }
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    fn to_f64(self) -> f64 {
        self
    }
}

impl KllItem for f32 {
    const SIZE: usize = 4;
    fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn read(b: &[u8]) -> Self {
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

const POW3: [u64; 31] = {
    let mut a = [1u64; 31];
    let mut i = 1;
    while i < 31 {
        a[i] = a[i - 1] * 3;
        i += 1;
    }
    a
};

fn cap_shallow(k: u64, depth: usize) -> u64 {
    (((k << (depth + 1)) / POW3[depth]) + 1) >> 1
}

/// The capacity of `level` in a sketch of `num_levels` levels (DataSketches' formula).
fn level_capacity(k: u16, num_levels: usize, level: usize) -> usize {
    let depth = num_levels - level - 1;
    let k = u64::from(k);
    let c = if depth <= 30 {
        cap_shallow(k, depth)
    } else {
        let half = depth / 2;
        cap_shallow(cap_shallow(k, half), depth - half)
    };
    c.max(u64::from(M)) as usize
}

fn total_capacity(k: u16, num_levels: usize) -> usize {
    (0..num_levels)
        .map(|l| level_capacity(k, num_levels, l))
        .sum()
}

/// A KLL quantiles sketch over `f64` or `f32` items.
#[derive(Clone, Debug, PartialEq)]
pub struct KllSketch<T: KllItem> {
    k: u16,
    min_k: u16,
    n: u64,
    /// `levels[i]` holds items of weight `2^i`; levels above 0 are sorted.
    levels: Vec<Vec<T>>,
    l0_sorted: bool,
    min: Option<T>,
    max: Option<T>,
    capacity: usize,
    retained: usize,
    rng: u64,
}

impl<T: KllItem> KllSketch<T> {
    /// A new sketch with accuracy parameter `k` (8..=65535; 200 is the usual default).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `k` is below 8.
    pub fn new(k: u16) -> Result<Self> {
        if k < u16::from(M) {
            return Err(Error::InvalidArgument(format!(
                "KLL k must be >= {M}, got {k}"
            )));
        }
        Ok(Self::empty(k, k))
    }

    fn empty(k: u16, min_k: u16) -> Self {
        KllSketch {
            k,
            min_k,
            n: 0,
            levels: vec![Vec::new()],
            l0_sorted: false,
            min: None,
            max: None,
            capacity: total_capacity(k, 1),
            retained: 0,
            rng: 0x9E37_79B9_7F4A_7C15 ^ u64::from(k),
        }
    }

    /// Re-seeds the random compaction offsets (for reproducible experiments).
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.rng = seed | 1;
        self
    }

    /// The accuracy parameter.
    pub fn k(&self) -> u16 {
        self.k
    }

    /// Number of items seen.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// True if nothing was added.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Number of items the sketch keeps.
    pub fn num_retained(&self) -> usize {
        self.retained
    }

    /// The smallest item seen.
    pub fn min(&self) -> Option<T> {
        self.min
    }

    /// The largest item seen.
    pub fn max(&self) -> Option<T> {
        self.max
    }

    /// True once the sketch has compacted (answers are approximate).
    pub fn is_estimation_mode(&self) -> bool {
        self.levels.len() > 1
    }

    /// The normalized rank error for this sketch's (minimum) `k` at 99%
    /// confidence: for single ranks/quantiles (`pmf = false`) or for PMF/CDF
    /// bins (`pmf = true`). DataSketches' published empirical fit.
    pub fn normalized_rank_error(&self, pmf: bool) -> f64 {
        normalized_rank_error(self.min_k, pmf)
    }

    fn next_bit(&mut self) -> usize {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 63) as usize
    }

    /// Adds an item (NaN is ignored, as DataSketches does).
    #[inline]
    pub fn update(&mut self, item: T) {
        if item.is_nan() {
            return;
        }
        if let (Some(lo), Some(hi)) = (self.min, self.max) {
            if item < lo {
                self.min = Some(item);
            }
            if item > hi {
                self.max = Some(item);
            }
        } else {
            self.min = Some(item);
            self.max = Some(item);
        }
        if self.retained >= self.capacity {
            self.compress();
        }
        self.n += 1;
        self.l0_sorted = false;
        self.levels[0].push(item);
        self.retained += 1;
    }

    fn compress(&mut self) {
        while self.retained >= self.capacity {
            let num = self.levels.len();
            let level = (0..num)
                .find(|&l| self.levels[l].len() >= level_capacity(self.k, num, l))
                .unwrap_or(0);
            self.compact_level(level);
        }
    }

    /// Halves `level` into `level + 1`.
    fn compact_level(&mut self, level: usize) {
        if level + 1 == self.levels.len() {
            self.levels.push(Vec::new());
            self.capacity = total_capacity(self.k, self.levels.len());
        }
        let mut items = std::mem::take(&mut self.levels[level]);
        if level == 0 && !self.l0_sorted {
            items.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        }
        let odd = items.len() % 2 == 1;
        let (keep, rest) = if odd {
            (Some(items[0]), &items[1..])
        } else {
            (None, &items[..])
        };
        let offset = self.next_bit();
        let halved: Vec<T> = rest.iter().skip(offset).step_by(2).copied().collect();
        let above = std::mem::take(&mut self.levels[level + 1]);
        self.levels[level + 1] = merge_sorted(&halved, &above);
        self.retained -= rest.len() - halved.len();
        items.clear();
        items.extend(keep);
        self.levels[level] = items;
        if level == 0 {
            self.l0_sorted = true;
        }
    }

    /// Merges `other` into `self`. The result's error bound is that of the
    /// smaller `k` of the two.
    ///
    /// # Errors
    /// Never fails today (any two of these sketches merge); it returns a
    /// `Result` so that every sketch's `merge` has the same shape.
    pub fn merge(&mut self, other: &KllSketch<T>) -> Result<()> {
        if other.is_empty() {
            return Ok(());
        }
        for &item in &other.levels[0] {
            if self.retained >= self.capacity {
                self.compress();
            }
            self.levels[0].push(item);
            self.retained += 1;
        }
        self.l0_sorted = false;
        for (l, items) in other.levels.iter().enumerate().skip(1) {
            while self.levels.len() <= l {
                self.levels.push(Vec::new());
            }
            let mine = std::mem::take(&mut self.levels[l]);
            self.levels[l] = merge_sorted(&mine, items);
            self.retained += items.len();
        }
        self.capacity = total_capacity(self.k, self.levels.len());
        self.compress();
        self.n += other.n;
        self.min_k = self.min_k.min(other.min_k);
        for v in [other.min, other.max].into_iter().flatten() {
            if self.min.is_none_or(|m| v < m) {
                self.min = Some(v);
            }
            if self.max.is_none_or(|m| v > m) {
                self.max = Some(v);
            }
        }
        Ok(())
    }

    /// The retained items with their weights, sorted, with cumulative weights.
    pub fn sorted_view(&self) -> SortedView<T> {
        let mut entries: Vec<(T, u64)> = Vec::with_capacity(self.retained);
        for (l, items) in self.levels.iter().enumerate() {
            entries.extend(items.iter().map(|&v| (v, 1u64 << l)));
        }
        entries.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        let mut total = 0;
        for e in &mut entries {
            total += e.1;
            e.1 = total;
        }
        SortedView {
            entries,
            total,
            min: self.min,
            max: self.max,
        }
    }

    /// The approximate item at normalized `rank` (0..=1, inclusive search, as
    /// DataSketches' Java and C++ default); `None` if empty or `rank` is out of range.
    pub fn quantile(&self, rank: f64) -> Option<T> {
        self.sorted_view().quantile(rank)
    }

    /// [`KllSketch::quantile`] under an explicit search criterion.
    pub fn quantile_with(&self, rank: f64, criteria: Criteria) -> Option<T> {
        self.sorted_view().quantile_with(rank, criteria)
    }

    /// The approximate normalized rank of `item` (fraction of items `<= item`).
    pub fn rank(&self, item: T) -> Option<f64> {
        self.sorted_view().rank(item)
    }

    /// Serializes in the DataSketches KLL format.
    pub fn to_bytes(&self) -> Vec<u8> {
        let empty = self.n == 0;
        let single = self.n == 1;
        let mut out =
            Vec::with_capacity(20 + 4 * self.levels.len() + T::SIZE * (self.retained + 2));
        let flags = if empty { FLAG_EMPTY } else { 0 }
            | if single { FLAG_SINGLE } else { 0 }
            // Only the full form has a level zero to call sorted (the compact
            // forms read back unsorted: keep serialize a fixed point).
            | if self.l0_sorted && !empty && !single { FLAG_L0_SORTED } else { 0 };
        out.push(if empty || single { 2 } else { 5 });
        out.push(if single { 2 } else { 1 });
        out.push(FAMILY_KLL);
        out.push(flags);
        out.extend_from_slice(&self.k.to_le_bytes());
        out.push(M);
        out.push(0);
        if empty {
            return out;
        }
        if single {
            self.levels
                .iter()
                .flatten()
                .next()
                .copied()
                .or(self.min)
                .into_iter()
                .for_each(|v| v.write(&mut out));
            return out;
        }
        out.extend_from_slice(&self.n.to_le_bytes());
        out.extend_from_slice(&self.min_k.to_le_bytes());
        out.push(self.levels.len() as u8);
        out.push(0);
        // Level offsets inside a buffer of total capacity, filled from the top.
        let cap = total_capacity(self.k, self.levels.len());
        let mut offsets = vec![0usize; self.levels.len() + 1];
        offsets[self.levels.len()] = cap;
        for l in (0..self.levels.len()).rev() {
            offsets[l] = offsets[l + 1] - self.levels[l].len();
        }
        for &o in &offsets[..self.levels.len()] {
            out.extend_from_slice(&(o as u32).to_le_bytes());
        }
        if let (Some(lo), Some(hi)) = (self.min, self.max) {
            lo.write(&mut out);
            hi.write(&mut out);
        }
        for items in &self.levels {
            for &v in items {
                v.write(&mut out);
            }
        }
        out
    }

    /// Reads the DataSketches KLL format (the item width must match `T`).
    /// Hostile bytes give an error, never a panic or an allocation beyond
    /// what the input holds.
    ///
    /// # Errors
    /// - [`Error::Truncated`] if `bytes` end before the items the preamble
    ///   announces;
    /// - [`Error::Unsupported`] for another sketch family, an `m` other than 8, or
    ///   a serial version, preamble size and flags combination DataSketches does
    ///   not write;
    /// - [`Error::Corrupt`] if `k` or `min_k` is out of range, the level offsets
    ///   are not increasing within capacity, a level is unsorted, an item is NaN
    ///   or outside `[min, max]`, or bytes trail the items (also the symptom of
    ///   bytes of another item width than `T`).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut rd = Reader::new(WHAT, bytes);
        let pre = rd.u8()?;
        let ser_ver = rd.u8()?;
        let family = rd.u8()?;
        let flags = rd.u8()?;
        let k = rd.u16()?;
        let m = rd.u8()?;
        rd.u8()?;
        if family != FAMILY_KLL {
            return Err(unsupported(
                WHAT,
                format!("family {family} is not KLL (15)"),
            ));
        }
        if m != M {
            return Err(unsupported(WHAT, format!("m = {m} (only 8 is defined)")));
        }
        if k < u16::from(M) {
            return Err(rd.corrupt(format!("k = {k} below m")));
        }
        let empty = flags & FLAG_EMPTY != 0;
        let single = flags & FLAG_SINGLE != 0;
        match (ser_ver, pre, empty, single) {
            (1 | 2, 2, true, false) => {
                if rd.remaining() != 0 {
                    return Err(rd.corrupt("trailing bytes"));
                }
                return Ok(Self::empty(k, k));
            }
            (2, 2, false, true) => {
                let mut s = Self::empty(k, k);
                let v = T::read(rd.bytes(T::SIZE)?);
                if v.is_nan() {
                    return Err(rd.corrupt("NaN item"));
                }
                if rd.remaining() != 0 {
                    return Err(rd.corrupt("trailing bytes (or another item width)"));
                }
                s.update(v);
                return Ok(s);
            }
            (1, 5, false, false) => {}
            _ => {
                return Err(unsupported(
                    WHAT,
                    format!(
                        "serial version {ser_ver} with {pre} preamble ints and flags {flags:#x}"
                    ),
                ));
            }
        }
        let n = rd.u64()?;
        let min_k = rd.u16()?;
        let num_levels = usize::from(rd.u8()?);
        rd.u8()?;
        if min_k > k || min_k < u16::from(M) {
            return Err(rd.corrupt(format!("min_k {min_k} outside {M}..={k}")));
        }
        if num_levels == 0 || num_levels > MAX_LEVELS {
            return Err(rd.corrupt(format!("{num_levels} levels")));
        }
        let cap = total_capacity(k, num_levels);
        rd.need_items(num_levels, 4)?;
        let mut offsets = Vec::with_capacity(num_levels + 1);
        for _ in 0..num_levels {
            offsets.push(rd.u32()? as usize);
        }
        offsets.push(cap);
        if offsets.windows(2).any(|w| w[0] > w[1]) {
            return Err(rd.corrupt("level offsets are not increasing within capacity"));
        }
        let retained = cap - offsets[0];
        rd.need_items(retained + 2, T::SIZE)?;
        let lo = T::read(rd.bytes(T::SIZE)?);
        let hi = T::read(rd.bytes(T::SIZE)?);
        let mut levels = Vec::with_capacity(num_levels);
        let mut weight: u128 = 0;
        for l in 0..num_levels {
            let len = offsets[l + 1] - offsets[l];
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                let v = T::read(rd.bytes(T::SIZE)?);
                if v.is_nan() || v < lo || v > hi {
                    return Err(rd.corrupt("item NaN or outside [min, max]"));
                }
                items.push(v);
            }
            if l > 0 && items.windows(2).any(|w| w[0] > w[1]) {
                return Err(rd.corrupt(format!("level {l} is not sorted")));
            }
            weight += (len as u128) << l;
            levels.push(items);
        }
        if rd.remaining() != 0 {
            return Err(rd.corrupt("trailing bytes (or another item width)"));
        }
        if lo.is_nan() || hi.is_nan() || lo > hi {
            return Err(rd.corrupt("bad min/max"));
        }
        if weight != u128::from(n) {
            return Err(rd.corrupt(format!("n = {n} but retained weight is {weight}")));
        }
        let mut s = Self::empty(k, min_k);
        s.n = n;
        s.levels = levels;
        s.l0_sorted = flags & FLAG_L0_SORTED != 0;
        s.min = Some(lo);
        s.max = Some(hi);
        s.capacity = cap;
        s.retained = retained;
        if s.retained > s.capacity {
            s.compress();
        }
        Ok(s)
    }
}

fn merge_sorted<T: KllItem>(a: &[T], b: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if b[j] < a[i] {
            out.push(b[j]);
            j += 1;
        } else {
            out.push(a[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// DataSketches' normalized rank error for `k` (99% confidence).
pub fn normalized_rank_error(k: u16, pmf: bool) -> f64 {
    let k = f64::from(k);
    if pmf {
        2.446 / k.powf(0.9433)
    } else {
        2.296 / k.powf(0.9723)
    }
}

/// How a rank maps to an item (DataSketches' search criteria).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Criteria {
    /// Ranks count items `<=` the item (Java/C++ default).
    #[default]
    Inclusive,
    /// Ranks count items `<` the item (Python default).
    Exclusive,
}

/// Sorted retained items with cumulative weights: answers many queries
/// without re-sorting.
#[derive(Clone, Debug)]
pub struct SortedView<T> {
    entries: Vec<(T, u64)>,
    total: u64,
    min: Option<T>,
    max: Option<T>,
}

impl<T: KllItem> SortedView<T> {
    /// The item at normalized `rank` (inclusive search).
    pub fn quantile(&self, rank: f64) -> Option<T> {
        if self.entries.is_empty() || !(0.0..=1.0).contains(&rank) {
            return None;
        }
        self.quantile_with(rank, Criteria::Inclusive)
    }

    /// The item at normalized `rank` under `criteria`: inclusive finds the
    /// first item whose cumulative weight reaches `ceil(rank * n)`, exclusive
    /// the first whose cumulative weight exceeds `floor(rank * n)` (the
    /// default of DataSketches' Python binding).
    pub fn quantile_with(&self, rank: f64, criteria: Criteria) -> Option<T> {
        if self.entries.is_empty() || !(0.0..=1.0).contains(&rank) {
            return None;
        }
        let i = match criteria {
            Criteria::Inclusive => {
                let w = (rank * self.total as f64).ceil() as u64;
                self.entries.partition_point(|e| e.1 < w)
            }
            Criteria::Exclusive => {
                let w = (rank * self.total as f64) as u64;
                self.entries.partition_point(|e| e.1 <= w)
            }
        };
        Some(self.entries[i.min(self.entries.len() - 1)].0)
    }

    /// The exact minimum and maximum items of the stream.
    pub fn min_max(&self) -> Option<(T, T)> {
        self.min.zip(self.max)
    }

    /// The normalized rank of `item`: weight of items `<= item` over the total.
    pub fn rank(&self, item: T) -> Option<f64> {
        self.rank_with(item, Criteria::Inclusive)
    }

    /// The normalized rank of `item`: weight of items `<= item` (inclusive)
    /// or `< item` (exclusive) over the total.
    pub fn rank_with(&self, item: T, criteria: Criteria) -> Option<f64> {
        if self.entries.is_empty() {
            return None;
        }
        let i = match criteria {
            Criteria::Inclusive => self.entries.partition_point(|e| e.0 <= item),
            Criteria::Exclusive => self.entries.partition_point(|e| e.0 < item),
        };
        let w = if i == 0 { 0 } else { self.entries[i - 1].1 };
        Some(w as f64 / self.total as f64)
    }

    /// The cumulative distribution at each split point (`len + 1` values, the last 1).
    pub fn cdf(&self, splits: &[T]) -> Option<Vec<f64>> {
        let mut out: Vec<f64> = splits
            .iter()
            .map(|&s| self.rank(s))
            .collect::<Option<_>>()?;
        out.push(1.0);
        Some(out)
    }
}
