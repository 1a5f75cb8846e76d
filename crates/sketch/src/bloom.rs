//! A Bloom filter: set membership with no false negatives and a tunable
//! false-positive rate, plus exact distinct sets on roaring bitmaps.
//!
//! ```
//! use blocksmith_sketch::bloom::{BloomFilter, ExactSet};
//! let mut seen = BloomFilter::with_rate(10_000, 0.01)?;
//! seen.insert(&"user-42");
//! assert!(seen.contains(&"user-42"));
//! let mut exact = ExactSet::new();
//! exact.insert(42);
//! exact.insert(42);
//! assert_eq!(exact.len(), 1);
//! # Ok::<(), blocksmith_sketch::Error>(())
//! ```

use crate::error::{Reader, corrupt, unsupported};
use crate::hash::{DEFAULT_SEED, SketchItem};
use crate::{Error, Result};
use roaring::RoaringTreemap;

const MAGIC: &[u8; 4] = b"BSBF";
const VERSION: u8 = 1;
const MAX_BITS: u64 = 1 << 36;

/// A Bloom filter of `m` bits probed by `k` double-hashed positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BloomFilter {
    bits: Vec<u64>,
    m: u64,
    k: u8,
    inserted: u64,
}

impl BloomFilter {
    /// A filter of `m` bits and `k` hashes.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `m` is 0 or above 2^36, or `k` is 0 or above 32.
    pub fn new(m: u64, k: u8) -> Result<Self> {
        if m == 0 || m > MAX_BITS || k == 0 || k > 32 {
            return Err(Error::InvalidArgument(format!(
                "Bloom filter needs 1..=2^36 bits and 1..=32 hashes, got {m} bits, {k} hashes"
            )));
        }
        Ok(BloomFilter {
            bits: vec![0; m.div_ceil(64) as usize],
            m,
            k,
            inserted: 0,
        })
    }

    /// A filter sized for `n` items at false-positive rate `fpp`
    /// (`m = -n ln p / ln^2 2`, `k = m/n ln 2`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `n` is 0, `fpp` is not in (0, 1) (NaN
    /// included), or the filter this asks for needs more than 2^36 bits.
    pub fn with_rate(n: u64, fpp: f64) -> Result<Self> {
        if n == 0 || !(fpp > 0.0 && fpp < 1.0) {
            return Err(Error::InvalidArgument(
                "Bloom filter needs n > 0 and fpp in (0, 1)".into(),
            ));
        }
        let ln2 = std::f64::consts::LN_2;
        let m = (-(n as f64) * fpp.ln() / (ln2 * ln2)).ceil().max(64.0) as u64;
        let k = ((m as f64 / n as f64) * ln2).round().clamp(1.0, 32.0) as u8;
        Self::new(m, k)
    }

    /// Bits in the filter.
    pub fn num_bits(&self) -> u64 {
        self.m
    }

    /// Hash functions per item.
    pub fn num_hashes(&self) -> u8 {
        self.k
    }

    /// Insert calls so far (duplicates included).
    pub fn inserted(&self) -> u64 {
        self.inserted
    }

    #[inline]
    fn positions<T: SketchItem + ?Sized>(&self, item: &T) -> impl Iterator<Item = u64> + use<T> {
        let (h1, h2) = item.hash128(DEFAULT_SEED).unwrap_or((0, 0));
        let m = self.m;
        (0..u64::from(self.k)).map(move |i| h1.wrapping_add(i.wrapping_mul(h2 | 1)) % m)
    }

    /// Adds an item.
    pub fn insert<T: SketchItem + ?Sized>(&mut self, item: &T) {
        for p in self.positions(item) {
            self.bits[(p / 64) as usize] |= 1 << (p % 64);
        }
        self.inserted += 1;
    }

    /// False if the item was certainly never inserted.
    pub fn contains<T: SketchItem + ?Sized>(&self, item: &T) -> bool {
        self.positions(item)
            .all(|p| self.bits[(p / 64) as usize] & (1 << (p % 64)) != 0)
    }

    /// The false-positive rate expected from the bits set so far.
    pub fn estimated_fpp(&self) -> f64 {
        let set: u64 = self.bits.iter().map(|w| u64::from(w.count_ones())).sum();
        (set as f64 / self.m as f64).powi(i32::from(self.k))
    }

    /// Unions `other` (same size and hash count) into `self`.
    ///
    /// # Errors
    /// [`Error::Incompatible`] if `other` has another number of bits or hashes;
    /// `self` is unchanged then.
    pub fn merge(&mut self, other: &BloomFilter) -> Result<()> {
        if (self.m, self.k) != (other.m, other.k) {
            return Err(Error::Incompatible(
                "Bloom filters of different shapes".into(),
            ));
        }
        for (a, b) in self.bits.iter_mut().zip(&other.bits) {
            *a |= b;
        }
        self.inserted = self.inserted.saturating_add(other.inserted);
        Ok(())
    }

    /// Serializes: `BSBF`, version, k (u8), m (u64), inserted (u64), words (u64 LE).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(22 + 8 * self.bits.len());
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(self.k);
        out.extend_from_slice(&self.m.to_le_bytes());
        out.extend_from_slice(&self.inserted.to_le_bytes());
        for w in &self.bits {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Reads [`BloomFilter::to_bytes`]'s format.
    ///
    /// # Errors
    /// - [`Error::Truncated`] if `bytes` end inside the header or the bit array;
    /// - [`Error::Unsupported`] for another magic or format version;
    /// - [`Error::Corrupt`] if the shape is out of range (as for
    ///   [`BloomFilter::new`]), the bit array is not exactly `ceil(m / 64)` words,
    ///   or a bit beyond `m` is set.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "Bloom filter";
        let mut rd = Reader::new(WHAT, bytes);
        if rd.bytes(4)? != MAGIC {
            return Err(unsupported(WHAT, "bad magic"));
        }
        if rd.u8()? != VERSION {
            return Err(unsupported(WHAT, "unknown version"));
        }
        let k = rd.u8()?;
        let m = rd.u64()?;
        let inserted = rd.u64()?;
        if m == 0 || m > MAX_BITS || k == 0 || k > 32 {
            return Err(rd.corrupt("bad shape"));
        }
        let words = m.div_ceil(64) as usize;
        if rd.remaining() != words * 8 {
            return Err(rd.corrupt("bit array length does not match m"));
        }
        let mut f = BloomFilter::new(m, k)?;
        for w in &mut f.bits {
            *w = rd.u64()?;
        }
        if m % 64 != 0 && f.bits[words - 1] >> (m % 64) != 0 {
            return Err(rd.corrupt("bits set beyond m"));
        }
        f.inserted = inserted;
        Ok(f)
    }
}

/// An exact set of `u64` ids (user ids, row ids) on a roaring bitmap, for
/// the counts that must not be approximate.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ExactSet(RoaringTreemap);

impl ExactSet {
    /// The empty set.
    pub fn new() -> Self {
        ExactSet(RoaringTreemap::new())
    }

    /// Adds an id; true if it was new.
    pub fn insert(&mut self, id: u64) -> bool {
        self.0.insert(id)
    }

    /// True if the id is present.
    pub fn contains(&self, id: u64) -> bool {
        self.0.contains(id)
    }

    /// The exact number of distinct ids.
    pub fn len(&self) -> u64 {
        self.0.len()
    }

    /// True if no id was added.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Unions `other` into `self`.
    ///
    /// # Errors
    /// Never fails today (any two of these sketches merge); it returns a
    /// `Result` so that every sketch's `merge` has the same shape.
    pub fn merge(&mut self, other: &ExactSet) -> Result<()> {
        self.0 |= &other.0;
        Ok(())
    }

    /// The ids present in both.
    #[must_use]
    pub fn intersection(&self, other: &ExactSet) -> ExactSet {
        ExactSet(&self.0 & &other.0)
    }

    /// The ids in `self` but not in `other`.
    #[must_use]
    pub fn difference(&self, other: &ExactSet) -> ExactSet {
        ExactSet(&self.0 - &other.0)
    }

    /// The underlying bitmap.
    pub fn bitmap(&self) -> &RoaringTreemap {
        &self.0
    }

    /// Serializes in the portable roaring format (64-bit extension).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.serialized_size());
        // Writing into a Vec cannot fail.
        let _ = self.0.serialize_into(&mut out);
        out
    }

    /// Reads [`ExactSet::to_bytes`]'s format.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if `bytes` are not roaring's portable 64-bit treemap
    /// format (including a bitmap count the input cannot hold) or have trailing
    /// bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        // Each bitmap in the 64-bit format needs at least 12 bytes: refuse
        // counts the input cannot hold before roaring allocates for them.
        if bytes.len() >= 8 {
            let n = u64::from_le_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
            if n > (bytes.len() as u64) / 12 {
                return Err(corrupt("exact set", "bitmap count exceeds the input"));
            }
        }
        let mut rd = bytes;
        let map = RoaringTreemap::deserialize_from(&mut rd)
            .map_err(|e| corrupt("exact set", e.to_string()))?;
        if !rd.is_empty() {
            return Err(corrupt("exact set", "trailing bytes"));
        }
        Ok(ExactSet(map))
    }
}
