//! DDSketch: quantiles with a guaranteed relative error, serialized as
//! DataDog's `DDSketch` protobuf message.
//!
//! Values are mapped to logarithmic buckets of ratio
//! `gamma = (1 + alpha) / (1 - alpha)`; every quantile the sketch returns is
//! within relative error `alpha` of the true value at that rank
//! (`|estimate - true| <= alpha * |true|`), for any distribution, as long as
//! the bucket range was not collapsed (by default up to 2048 buckets per sign,
//! a dynamic range of `gamma^2048`, about `10^17` at `alpha = 1%`).
//!
//! The bucket mapping is DataDog's `LogarithmicMapping` (interpolation
//! `NONE`, index offset 0): the same values land in the same keys as in the
//! `ddsketch` Python package, the Go and Java libraries and the Datadog
//! agent. [`DdSketch::to_bytes`] writes `sketches-proto`'s `DDSketch`
//! message (contiguous bin counts) and [`DdSketch::from_bytes`] reads both
//! its contiguous and its sparse (`binCounts` map) encodings.
//!
//! That message has no sum, min or max field, and an extension would be
//! bytes the other implementations do not write. So [`DdSketch::sum`],
//! [`DdSketch::min`] and [`DdSketch::max`] are exact while every value went
//! in through [`DdSketch::update`] on this side, and `None` (unknown) once
//! the sketch holds values decoded from bytes, directly or through a merge:
//! never a wrong number.
//!
//! ```
//! use blocksmith_sketch::ddsketch::DdSketch;
//! let mut s = DdSketch::new(0.01)?;
//! for i in 1..=10_000 { s.update(f64::from(i)); }
//! let p99 = s.quantile(0.99).unwrap();
//! assert!((p99 - 9_900.0).abs() <= 0.01 * 9_900.0);
//! assert_eq!(s.sum(), Some(50_005_000.0));
//! let back = DdSketch::from_bytes(&s.to_bytes())?;
//! assert_eq!(back.quantile(0.99), Some(p99));
//! assert_eq!((back.sum(), back.max()), (None, None)); // not in the message
//! # Ok::<(), blocksmith_sketch::Error>(())
//! ```

use crate::proto::{Decoder, Field, put_bytes, put_double, put_sint32, zigzag32};
use crate::{Error, Result};

const WHAT: &str = "DDSketch protobuf";
/// The default bucket budget per sign.
pub const DEFAULT_MAX_BINS: usize = 2048;

/// A dense run of bucket counts that collapses its lowest keys beyond `max_bins`.
#[derive(Clone, Debug, PartialEq, Default)]
struct Store {
    bins: Vec<f64>,
    offset: i64,
    count: f64,
}

impl Store {
    fn add(&mut self, key: i32, w: f64, max_bins: usize) {
        let mut key = i64::from(key);
        let max = max_bins as i64;
        if self.bins.is_empty() {
            self.offset = key;
            self.bins.push(w);
            self.count += w;
            return;
        }
        let hi = self.offset + self.bins.len() as i64 - 1;
        if key < self.offset {
            let lowest = (hi - max + 1).max(key);
            key = key.max(lowest);
            let grow = (self.offset - key) as usize;
            if grow > 0 {
                let mut v = vec![0.0; grow];
                v.extend_from_slice(&self.bins);
                self.bins = v;
                self.offset = key;
            }
        } else if key > hi {
            let new_lo = key - max + 1;
            if new_lo > self.offset {
                // Collapse every bucket below new_lo into new_lo.
                let cut = ((new_lo - self.offset) as usize).min(self.bins.len());
                let folded: f64 = self.bins[..cut].iter().sum();
                self.bins.drain(..cut);
                self.offset += cut as i64;
                if self.offset < new_lo || self.bins.is_empty() {
                    self.bins.clear();
                    self.offset = new_lo;
                    self.bins.push(0.0);
                }
                self.bins[0] += folded;
            }
            let need = (key - self.offset + 1) as usize;
            self.bins.resize(need, 0.0);
        }
        self.bins[(key - self.offset) as usize] += w;
        self.count += w;
    }

    fn key_at_rank(&self, rank: f64, lower: bool) -> i64 {
        let mut running = 0.0;
        for (i, &c) in self.bins.iter().enumerate() {
            running += c;
            if (lower && running > rank) || (!lower && running >= rank + 1.0) {
                return self.offset + i as i64;
            }
        }
        self.offset + self.bins.len() as i64 - 1
    }

    fn iter(&self) -> impl Iterator<Item = (i64, f64)> + '_ {
        self.bins
            .iter()
            .enumerate()
            .filter(|(_, c)| **c != 0.0)
            .map(|(i, &c)| (self.offset + i as i64, c))
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if !self.bins.is_empty() {
            let mut packed = Vec::with_capacity(8 * self.bins.len());
            for c in &self.bins {
                packed.extend_from_slice(&c.to_le_bytes());
            }
            put_bytes(&mut out, 2, &packed);
            if self.offset != 0 {
                put_sint32(&mut out, 3, self.offset as i32);
            }
        }
        out
    }
}

/// A relative-error quantile sketch (DataDog's DDSketch, logarithmic mapping).
#[derive(Clone, Debug, PartialEq)]
pub struct DdSketch {
    alpha: f64,
    gamma: f64,
    multiplier: f64,
    min_indexable: f64,
    max_bins: usize,
    pos: Store,
    neg: Store,
    zero: f64,
    /// Sum, min and max of the values added, when known: `None` once the
    /// sketch holds values that came through bytes (the protobuf message
    /// does not carry them), so they are never reported wrong.
    summary: Option<Summary>,
}

/// Sum, min and max of the values a sketch holds (`min > max` while empty).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Summary {
    sum: f64,
    min: f64,
    max: f64,
}

impl Summary {
    const EMPTY: Summary = Summary {
        sum: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
    };
}

impl DdSketch {
    /// A sketch whose quantiles are within relative error `alpha` (0 < alpha < 1).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `alpha` is not in (0, 1) (NaN included).
    pub fn new(alpha: f64) -> Result<Self> {
        if !(alpha > 0.0 && alpha < 1.0) {
            return Err(Error::InvalidArgument(format!(
                "DDSketch relative accuracy must be in (0, 1), got {alpha}"
            )));
        }
        Ok(Self::from_gamma(1.0 + 2.0 * alpha / (1.0 - alpha)))
    }

    /// Everything derives from gamma (the one number the protobuf carries), so
    /// a sketch read back maps values exactly as the one written. The
    /// operations follow DataDog's LogarithmicMapping in order.
    fn from_gamma(gamma: f64) -> Self {
        let mantissa = gamma - 1.0;
        let alpha = mantissa / (gamma + 1.0);
        Self::from_parts(
            alpha,
            gamma,
            (1.0 / mantissa.ln_1p()) * std::f64::consts::LN_2,
        )
    }

    fn from_parts(alpha: f64, gamma: f64, multiplier: f64) -> Self {
        DdSketch {
            alpha,
            gamma,
            multiplier,
            min_indexable: f64::MIN_POSITIVE * gamma,
            max_bins: DEFAULT_MAX_BINS,
            pos: Store::default(),
            neg: Store::default(),
            zero: 0.0,
            summary: Some(Summary::EMPTY),
        }
    }

    /// Sets the bucket budget per sign (at least 16); beyond it the lowest
    /// buckets collapse, so only the lowest quantiles lose their guarantee.
    #[must_use]
    pub fn with_max_bins(mut self, max_bins: usize) -> Self {
        self.max_bins = max_bins.max(16);
        self
    }

    /// The relative accuracy `alpha`.
    pub fn relative_accuracy(&self) -> f64 {
        self.alpha
    }

    /// The bucket ratio `gamma`.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }

    /// Total count of values added.
    pub fn count(&self) -> f64 {
        self.pos.count + self.neg.count + self.zero
    }

    /// True if nothing was added.
    pub fn is_empty(&self) -> bool {
        self.count() == 0.0
    }

    /// Sum of the values added: `Some` and exact (as exact as `f64`
    /// addition) while every value went in through [`DdSketch::update`]
    /// here; `None` once the sketch holds values decoded from bytes (the
    /// protobuf message has no sum field), directly or through a merge.
    /// `Some(0.0)` while empty.
    pub fn sum(&self) -> Option<f64> {
        self.summary.map(|s| s.sum)
    }

    /// Smallest value added; `None` if empty or unknown (as for
    /// [`DdSketch::sum`]: the protobuf message does not carry it). When
    /// unknown, [`DdSketch::quantile`]`(0.0)` is the estimate within `alpha`.
    pub fn min(&self) -> Option<f64> {
        self.summary.filter(|s| s.min <= s.max).map(|s| s.min)
    }

    /// Largest value added; `None` if empty or unknown (as for
    /// [`DdSketch::min`]).
    pub fn max(&self) -> Option<f64> {
        self.summary.filter(|s| s.min <= s.max).map(|s| s.max)
    }

    /// True if [`DdSketch::sum`], [`DdSketch::min`] and [`DdSketch::max`]
    /// are known (no value came in through bytes).
    pub fn has_summary(&self) -> bool {
        self.summary.is_some()
    }

    #[inline]
    fn key(&self, v: f64) -> i32 {
        ((v.ln() / std::f64::consts::LN_2) * self.multiplier).ceil() as i32
    }

    fn value(&self, key: i64) -> f64 {
        2f64.powf(key as f64 / self.multiplier) * (2.0 / (1.0 + self.gamma))
    }

    /// Adds a value (NaN and infinities are ignored).
    #[inline]
    pub fn update(&mut self, v: f64) {
        self.update_weighted(v, 1.0);
    }

    /// Adds a value with a positive weight (a weight that is not a finite
    /// positive number is ignored).
    pub fn update_weighted(&mut self, v: f64, w: f64) {
        if !v.is_finite() || !w.is_finite() || w <= 0.0 {
            return;
        }
        if v > self.min_indexable {
            let k = self.key(v);
            self.pos.add(k, w, self.max_bins);
        } else if v < -self.min_indexable {
            let k = self.key(-v);
            self.neg.add(k, w, self.max_bins);
        } else {
            self.zero += w;
        }
        if let Some(s) = &mut self.summary {
            s.sum += v * w;
            s.min = s.min.min(v);
            s.max = s.max.max(v);
        }
    }

    /// The value at quantile `q` (0..=1): the value of rank `q * (count - 1)`
    /// within relative error `alpha`. `None` if empty or `q` out of range.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let count = self.count();
        if !(0.0..=1.0).contains(&q) || count == 0.0 {
            return None;
        }
        let rank = q * (count - 1.0);
        if rank < self.neg.count {
            let reversed = self.neg.count - rank - 1.0;
            Some(-self.value(self.neg.key_at_rank(reversed, false)))
        } else if rank < self.zero + self.neg.count {
            Some(0.0)
        } else {
            Some(
                self.value(
                    self.pos
                        .key_at_rank(rank - self.zero - self.neg.count, true),
                ),
            )
        }
    }

    /// Restores the sum, min and max the protobuf message does not carry,
    /// for a sketch just decoded by [`DdSketch::from_bytes`] from bytes
    /// whose owner stored them beside it (as the window checkpoints do).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless the sketch holds values, `sum` is
    /// finite and `min <= max` are finite; the summary stays unknown then.
    pub fn restore_summary(&mut self, sum: f64, min: f64, max: f64) -> Result<()> {
        if self.is_empty()
            || !sum.is_finite()
            || !(min.is_finite() && max.is_finite() && min <= max)
        {
            return Err(Error::InvalidArgument(format!(
                "DDSketch summary sum {sum}, min {min}, max {max} for {} values",
                self.count()
            )));
        }
        self.summary = Some(Summary { sum, min, max });
        Ok(())
    }

    /// Merges `other` (which must have the same `alpha`) into `self`. The
    /// sum, min and max stay known only if they were known on both sides.
    ///
    /// # Errors
    /// [`Error::Incompatible`] if the relative accuracies differ; `self` is
    /// unchanged then.
    pub fn merge(&mut self, other: &DdSketch) -> Result<()> {
        if (self.gamma - other.gamma).abs() > 1e-12 * self.gamma {
            return Err(Error::Incompatible(format!(
                "DDSketch gamma {} vs {}",
                self.gamma, other.gamma
            )));
        }
        for (k, c) in other.pos.iter() {
            self.pos.add(k as i32, c, self.max_bins);
        }
        for (k, c) in other.neg.iter() {
            self.neg.add(k as i32, c, self.max_bins);
        }
        self.zero += other.zero;
        self.summary = match (self.summary, other.summary) {
            (Some(a), Some(b)) => Some(Summary {
                sum: a.sum + b.sum,
                min: a.min.min(b.min),
                max: a.max.max(b.max),
            }),
            _ => None,
        };
        Ok(())
    }

    /// Encodes DataDog's `DDSketch` protobuf message (`sketches-proto`):
    /// the mapping and the bin counts. Sum, min and max have no field in
    /// that message and are not written, so the sketch read back reports
    /// them as unknown.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut mapping = Vec::new();
        put_double(&mut mapping, 1, self.gamma);
        let mut out = Vec::new();
        put_bytes(&mut out, 1, &mapping);
        put_bytes(&mut out, 2, &self.pos.encode());
        put_bytes(&mut out, 3, &self.neg.encode());
        if self.zero != 0.0 {
            put_double(&mut out, 4, self.zero);
        }
        out
    }

    /// Decodes DataDog's `DDSketch` protobuf message (logarithmic mapping).
    /// Hostile input gives an error; the store never grows beyond the bucket
    /// budget whatever keys the message holds. Sum, min and max are unknown
    /// (`None`) unless the message holds no value.
    ///
    /// # Errors
    /// [`Error::Corrupt`] for malformed bytes, [`Error::Unsupported`] for a
    /// mapping other than the logarithmic one with offset 0.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |r: &str| crate::error::corrupt(WHAT, r.to_string());
        let mut d = Decoder::new(WHAT, bytes);
        let (mut mapping, mut pos, mut neg, mut zero) = (None, None, None, 0.0);
        while let Some((f, v)) = d.next_field()? {
            match (f, v) {
                (1, Field::Len(b)) => mapping = Some(b),
                (2, Field::Len(b)) => pos = Some(b),
                (3, Field::Len(b)) => neg = Some(b),
                (4, Field::I64(b)) => zero = f64::from_bits(b),
                (1..=4, _) => return Err(bad("wrong wire type")),
                _ => {}
            }
        }
        let (mut gamma, mut offset, mut interp) = (None, 0.0, 0u64);
        let mut md = Decoder::new(WHAT, mapping.ok_or_else(|| bad("no index mapping"))?);
        while let Some((f, v)) = md.next_field()? {
            match (f, v) {
                (1, Field::I64(b)) => gamma = Some(f64::from_bits(b)),
                (2, Field::I64(b)) => offset = f64::from_bits(b),
                (3, Field::Varint(i)) => interp = i,
                (1..=3, _) => return Err(bad("wrong wire type in mapping")),
                _ => {}
            }
        }
        let gamma = gamma.ok_or_else(|| bad("no gamma"))?;
        if !(gamma > 1.0 && gamma.is_finite()) {
            return Err(bad("gamma must be a finite number above 1"));
        }
        if interp != 0 || offset != 0.0 {
            return Err(crate::error::unsupported(
                WHAT,
                format!(
                    "interpolation {interp} / index offset {offset} (only the logarithmic mapping with offset 0)"
                ),
            ));
        }
        if !(zero >= 0.0 && zero.is_finite()) {
            return Err(bad("zero count must be finite and non-negative"));
        }
        let mut s = Self::from_gamma(gamma);
        s.zero = zero;
        for (bytes, negative) in [(pos, false), (neg, true)] {
            let Some(bytes) = bytes else { continue };
            let mut sd = Decoder::new(WHAT, bytes);
            let mut contiguous: Vec<&[u8]> = Vec::new();
            let mut index_offset = 0i32;
            let mut sparse: Vec<(i32, f64)> = Vec::new();
            while let Some((f, v)) = sd.next_field()? {
                match (f, v) {
                    (1, Field::Len(entry)) => {
                        let (mut k, mut c) = (0i32, 0.0);
                        let mut ed = Decoder::new(WHAT, entry);
                        while let Some((ef, ev)) = ed.next_field()? {
                            match (ef, ev) {
                                (1, Field::Varint(x)) => k = zigzag32(x),
                                (2, Field::I64(x)) => c = f64::from_bits(x),
                                _ => return Err(bad("bad bin count entry")),
                            }
                        }
                        sparse.push((k, c));
                    }
                    (2, Field::Len(b)) => {
                        if b.len() % 8 != 0 {
                            return Err(bad("packed doubles not a multiple of 8 bytes"));
                        }
                        contiguous.push(b);
                    }
                    (2, Field::I64(x)) => sparse.push((i32::MIN, f64::from_bits(x))),
                    (3, Field::Varint(x)) => index_offset = zigzag32(x),
                    (1..=3, _) => return Err(bad("wrong wire type in store")),
                    _ => {}
                }
            }
            let store = if negative { &mut s.neg } else { &mut s.pos };
            let mut idx = i64::from(index_offset);
            let put = |key: i64, c: f64, store: &mut Store| -> Result<()> {
                if !(c >= 0.0 && c.is_finite()) {
                    return Err(bad("bin count must be finite and non-negative"));
                }
                let key = i32::try_from(key).map_err(|_| bad("bin index out of range"))?;
                if c > 0.0 {
                    store.add(key, c, s.max_bins);
                }
                Ok(())
            };
            for b in contiguous {
                for chunk in b.chunks_exact(8) {
                    let c = f64::from_bits(u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])));
                    put(idx, c, store)?;
                    idx += 1;
                }
            }
            for (k, c) in sparse {
                // Non-packed contiguous counts follow the same running index.
                let key = if k == i32::MIN {
                    idx += 1;
                    idx - 1
                } else {
                    i64::from(k)
                };
                put(key, c, store)?;
            }
        }
        if !s.is_empty() {
            s.summary = None;
        }
        Ok(s)
    }
}
