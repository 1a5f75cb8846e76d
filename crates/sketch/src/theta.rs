//! Theta sketches: distinct counts that support set operations (union,
//! intersection, difference), byte-compatible with Apache DataSketches'
//! compact Theta sketches (serial version 3).
//!
//! An [`UpdateTheta`] keeps the smallest 63-bit hashes below a threshold
//! `theta`, at most `2k` before it trims back to `k`; the estimate is
//! `retained / (theta / 2^63)` with relative standard error about
//! `1/sqrt(k)`. [`CompactTheta`] is the immutable, ordered result that set
//! operations take and return, and that serializes.
//!
//! ```
//! use blocksmith_sketch::theta::{UpdateTheta, intersection, union};
//! let (mut a, mut b) = (UpdateTheta::new(12)?, UpdateTheta::new(12)?);
//! for i in 0..60_000u64 { a.update(&i); }
//! for i in 30_000..90_000u64 { b.update(&i); }
//! let both = intersection(&[a.compact(), b.compact()]);
//! let either = union(&[a.compact(), b.compact()], 12)?;
//! assert!((both.estimate() - 30_000.0).abs() < 30_000.0 * 0.06);
//! assert!((either.estimate() - 90_000.0).abs() < 90_000.0 * 0.05);
//! # Ok::<(), blocksmith_sketch::Error>(())
//! ```

use crate::error::{Reader, unsupported};
use crate::hash::{DEFAULT_SEED, SketchItem, seed_hash};
use crate::{Error, Result};
use std::collections::HashSet;

const WHAT: &str = "Theta sketch";
/// Theta at its maximum: nothing sampled away (`2^63 - 1`).
pub const MAX_THETA: u64 = i64::MAX as u64;
const FAMILY_COMPACT: u8 = 3;
const FLAG_READ_ONLY: u8 = 2;
const FLAG_EMPTY: u8 = 4;
const FLAG_COMPACT: u8 = 8;
const FLAG_ORDERED: u8 = 16;
/// Smallest supported `lg_k`.
pub const MIN_LG_K: u8 = 5;
/// Largest supported `lg_k`.
pub const MAX_LG_K: u8 = 26;

fn check_lg_k(lg_k: u8) -> Result<()> {
    if (MIN_LG_K..=MAX_LG_K).contains(&lg_k) {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "Theta lg_k must be in {MIN_LG_K}..={MAX_LG_K}, got {lg_k}"
        )))
    }
}

/// Keeps the `k` smallest of `hashes`, returning the new theta.
fn trim(hashes: &mut Vec<u64>, k: usize, theta: u64) -> u64 {
    if hashes.len() <= k {
        return theta;
    }
    hashes.select_nth_unstable(k);
    let new_theta = hashes[k];
    hashes.truncate(k);
    new_theta
}

/// An updatable Theta sketch with nominal size `2^lg_k`.
#[derive(Clone, Debug)]
pub struct UpdateTheta {
    lg_k: u8,
    theta: u64,
    set: HashSet<u64, BuildIdentity>,
    empty: bool,
}

/// Hashes are already uniform: use them as their own `HashSet` hash, with
/// the (uniform) low half rotated into the top bits the table tags entries
/// with, since retained hashes all sit below theta and share their top bits.
#[derive(Clone, Copy, Debug, Default)]
pub struct BuildIdentity;

/// The identity hasher behind [`BuildIdentity`].
#[derive(Clone, Copy, Debug, Default)]
pub struct IdentityHasher(u64);

impl std::hash::Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v.rotate_left(32);
    }
}

impl std::hash::BuildHasher for BuildIdentity {
    type Hasher = IdentityHasher;
    fn build_hasher(&self) -> IdentityHasher {
        IdentityHasher(0)
    }
}

impl UpdateTheta {
    /// A new sketch keeping about `2^lg_k` hashes (`lg_k` in 5..=26).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `lg_k` is not in 5..=26.
    pub fn new(lg_k: u8) -> Result<Self> {
        check_lg_k(lg_k)?;
        Ok(UpdateTheta {
            lg_k,
            theta: MAX_THETA,
            set: HashSet::with_capacity_and_hasher(64, BuildIdentity),
            empty: true,
        })
    }

    /// `log2` of the nominal size.
    pub fn lg_k(&self) -> u8 {
        self.lg_k
    }

    /// Adds an item (hashed as DataSketches hashes it).
    #[inline]
    pub fn update<T: SketchItem + ?Sized>(&mut self, item: &T) {
        if let Some((h1, _)) = item.hash128(DEFAULT_SEED) {
            self.update_hash(h1 >> 1);
        }
    }

    /// Adds a 63-bit hash directly.
    #[inline]
    pub fn update_hash(&mut self, hash: u64) {
        self.empty = false;
        if hash == 0 || hash >= self.theta {
            return;
        }
        if self.set.insert(hash) && self.set.len() > 2 << self.lg_k {
            let mut v: Vec<u64> = self.set.drain().collect();
            self.theta = trim(&mut v, 1 << self.lg_k, self.theta);
            self.set.extend(v);
        }
    }

    /// The distinct count estimate.
    pub fn estimate(&self) -> f64 {
        estimate(self.set.len(), self.theta)
    }

    /// The immutable, ordered form (trimmed to `k` entries).
    pub fn compact(&self) -> CompactTheta {
        let mut v: Vec<u64> = self.set.iter().copied().collect();
        let theta = trim(&mut v, 1 << self.lg_k, self.theta);
        v.sort_unstable();
        CompactTheta {
            theta,
            hashes: v,
            empty: self.empty,
        }
    }
}

fn estimate(count: usize, theta: u64) -> f64 {
    if theta == MAX_THETA {
        count as f64
    } else {
        count as f64 / (theta as f64 / MAX_THETA as f64)
    }
}

/// An immutable Theta sketch: sorted hashes below `theta`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompactTheta {
    theta: u64,
    hashes: Vec<u64>,
    empty: bool,
}

impl CompactTheta {
    /// The empty sketch.
    pub fn empty() -> Self {
        CompactTheta {
            theta: MAX_THETA,
            hashes: Vec::new(),
            empty: true,
        }
    }

    /// The distinct count estimate.
    pub fn estimate(&self) -> f64 {
        estimate(self.hashes.len(), self.theta)
    }

    /// Approximate bound `num_std_dev` standard deviations below the
    /// estimate (normal approximation of the binomial sample).
    pub fn lower_bound(&self, num_std_dev: u8) -> f64 {
        let (est, sd) = self.spread();
        (est - f64::from(num_std_dev) * sd).max(self.hashes.len() as f64)
    }

    /// Approximate bound `num_std_dev` standard deviations above the estimate.
    pub fn upper_bound(&self, num_std_dev: u8) -> f64 {
        let (est, sd) = self.spread();
        est + f64::from(num_std_dev) * sd
    }

    fn spread(&self) -> (f64, f64) {
        let p = self.theta as f64 / MAX_THETA as f64;
        let n = self.hashes.len() as f64;
        (self.estimate(), (n * (1.0 - p)).sqrt() / p)
    }

    /// The sampling threshold as a fraction of the hash space.
    pub fn theta(&self) -> f64 {
        self.theta as f64 / MAX_THETA as f64
    }

    /// The raw 63-bit threshold.
    pub fn theta64(&self) -> u64 {
        self.theta
    }

    /// Number of hashes kept.
    pub fn num_retained(&self) -> usize {
        self.hashes.len()
    }

    /// True if nothing was ever added.
    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// True if the estimate is sampled rather than exact.
    pub fn is_estimation_mode(&self) -> bool {
        self.theta < MAX_THETA && !self.empty
    }

    /// The retained hashes, ascending.
    pub fn hashes(&self) -> &[u64] {
        &self.hashes
    }

    /// Serializes in the DataSketches compact Theta format (serial version 3, ordered).
    pub fn to_bytes(&self) -> Vec<u8> {
        if self.empty {
            return vec![
                1,
                3,
                FAMILY_COMPACT,
                0,
                0,
                FLAG_READ_ONLY | FLAG_EMPTY | FLAG_COMPACT | FLAG_ORDERED,
                0,
                0,
            ];
        }
        let est = self.is_estimation_mode();
        let pre = if est {
            3
        } else if self.hashes.len() == 1 {
            1
        } else {
            2
        };
        let mut out = Vec::with_capacity(24 + 8 * self.hashes.len());
        out.extend_from_slice(&[
            pre,
            3,
            FAMILY_COMPACT,
            0,
            0,
            FLAG_READ_ONLY | FLAG_COMPACT | FLAG_ORDERED,
        ]);
        out.extend_from_slice(&seed_hash(DEFAULT_SEED).to_le_bytes());
        if pre > 1 {
            out.extend_from_slice(&(self.hashes.len() as u32).to_le_bytes());
            out.extend_from_slice(&[0; 4]);
        }
        if est {
            out.extend_from_slice(&self.theta.to_le_bytes());
        }
        for h in &self.hashes {
            out.extend_from_slice(&h.to_le_bytes());
        }
        out
    }

    /// Reads a DataSketches compact Theta sketch (serial version 3, seed 9001).
    ///
    /// # Errors
    /// - [`Error::Truncated`] if `bytes` end before the hashes they announce;
    /// - [`Error::Unsupported`] for a serial version other than 3, a family other
    ///   than compact Theta, a big-endian image, or a seed other than 9001;
    /// - [`Error::Corrupt`] if the preamble size is unknown, theta is outside
    ///   (0, 2^63), or a hash is outside (0, theta) or out of order.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let mut rd = Reader::new(WHAT, bytes);
        let pre = rd.u8()?;
        let ser_ver = rd.u8()?;
        let family = rd.u8()?;
        rd.u8()?;
        rd.u8()?;
        let flags = rd.u8()?;
        let sh = rd.u16()?;
        if ser_ver != 3 {
            return Err(unsupported(
                WHAT,
                format!("serial version {ser_ver} (only the uncompressed v3)"),
            ));
        }
        if family != FAMILY_COMPACT {
            return Err(unsupported(
                WHAT,
                format!("family {family} (only compact Theta, 3)"),
            ));
        }
        if flags & 1 != 0 {
            return Err(unsupported(WHAT, "big-endian image"));
        }
        if flags & FLAG_EMPTY != 0 {
            return Ok(Self::empty());
        }
        if sh != seed_hash(DEFAULT_SEED) {
            return Err(unsupported(
                WHAT,
                format!("seed hash {sh:#06x}: not the default seed 9001"),
            ));
        }
        let (count, theta) = match pre {
            1 => (1, MAX_THETA),
            2 | 3 => {
                let count = rd.u32()? as usize;
                rd.skip(4)?;
                let theta = if pre == 3 { rd.u64()? } else { MAX_THETA };
                (count, theta)
            }
            _ => return Err(rd.corrupt(format!("{pre} preamble longs"))),
        };
        if theta == 0 || theta > MAX_THETA {
            return Err(rd.corrupt("theta outside (0, 2^63)"));
        }
        rd.need_items(count, 8)?;
        let mut hashes = Vec::with_capacity(count);
        for _ in 0..count {
            let h = rd.u64()?;
            if h == 0 || h >= theta {
                return Err(rd.corrupt("hash outside (0, theta)"));
            }
            hashes.push(h);
        }
        if flags & FLAG_ORDERED == 0 {
            hashes.sort_unstable();
        }
        if hashes.windows(2).any(|w| w[0] >= w[1]) {
            return Err(rd.corrupt("hashes not strictly increasing"));
        }
        Ok(CompactTheta {
            theta,
            hashes,
            empty: false,
        })
    }
}

/// The union of `sketches`, trimmed to `2^lg_k` hashes.
///
/// # Errors
/// [`Error::InvalidArgument`] if `lg_k` is not in 5..=26.
pub fn union(sketches: &[CompactTheta], lg_k: u8) -> Result<CompactTheta> {
    check_lg_k(lg_k)?;
    let theta = sketches.iter().map(|s| s.theta).min().unwrap_or(MAX_THETA);
    let mut all: Vec<u64> = sketches
        .iter()
        .flat_map(|s| s.hashes.iter().copied().filter(|&h| h < theta))
        .collect();
    all.sort_unstable();
    all.dedup();
    let theta = trim(&mut all, 1 << lg_k, theta);
    all.sort_unstable();
    Ok(CompactTheta {
        theta,
        hashes: all,
        empty: sketches.iter().all(|s| s.empty),
    })
}

/// The intersection of `sketches` (the empty list gives the empty sketch).
pub fn intersection(sketches: &[CompactTheta]) -> CompactTheta {
    let Some(first) = sketches.first() else {
        return CompactTheta::empty();
    };
    let theta = sketches.iter().map(|s| s.theta).min().unwrap_or(MAX_THETA);
    let hashes: Vec<u64> = first
        .hashes
        .iter()
        .copied()
        .filter(|&h| {
            h < theta
                && sketches[1..]
                    .iter()
                    .all(|s| s.hashes.binary_search(&h).is_ok())
        })
        .collect();
    let empty = sketches.iter().any(|s| s.empty) || (hashes.is_empty() && theta == MAX_THETA);
    CompactTheta {
        theta: if empty { MAX_THETA } else { theta },
        hashes,
        empty,
    }
}

/// The set difference `a \ b`.
pub fn a_not_b(a: &CompactTheta, b: &CompactTheta) -> CompactTheta {
    if a.empty {
        return CompactTheta::empty();
    }
    let theta = a.theta.min(b.theta);
    let hashes: Vec<u64> = a
        .hashes
        .iter()
        .copied()
        .filter(|&h| h < theta && b.hashes.binary_search(&h).is_err())
        .collect();
    let empty = hashes.is_empty() && theta == MAX_THETA;
    CompactTheta {
        theta,
        hashes,
        empty,
    }
}

/// Jaccard similarity estimate `|a ∩ b| / |a ∪ b|` from two sketches.
///
/// # Errors
/// [`Error::InvalidArgument`] if `lg_k` is not in 5..=26.
pub fn jaccard(a: &CompactTheta, b: &CompactTheta, lg_k: u8) -> Result<f64> {
    let u = union(&[a.clone(), b.clone()], lg_k)?;
    if u.hashes.is_empty() {
        return Ok(if a.empty && b.empty { 1.0 } else { 0.0 });
    }
    let i = intersection(&[u.clone(), a.clone(), b.clone()]);
    Ok(i.hashes.len() as f64 / u.hashes.len() as f64)
}
