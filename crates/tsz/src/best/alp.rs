//! ALP decimal scheme (Afroozeh, Kuffo & Boncz, SIGMOD 2024), one vector.
//!
//! A double `v` is encoded with an (exponent `e`, factor `f`) pair, `0 <= f <= e <= 18`:
//!
//! * encode: `n = round(v * 10^e * 10^-f)` (left to right, doubles), as `i64`;
//! * decode: `v' = (n * 10^f) * 10^-e` with one rounding for `n * 10^f` and
//!   `10^-e` the nearest double to the inverse power — ALP's
//!   `encoded * FACT_ARR[f] * FRAC_ARR[e]`. ALP forms `n * 10^f` as an exact
//!   integer product and converts it once; since the encoder keeps
//!   `|n| < 2^51` and `10^f` (f ≤ 18) is an exact double, the double product
//!   `(n as f64) * 10^f` rounds the same exact value once and is identical,
//!   while letting the decoder stay in SIMD-friendly double arithmetic
//!   (`n as f64` itself is done with the 2^52 + 2^51 magic-number trick).
//!
//! Every value is checked at encode time with the very decode expression the
//! decoder uses (`v'.to_bits() == v.to_bits()`), so round trips are bit exact;
//! values that fail (including NaN, ±inf, −0.0, out-of-range magnitudes) become
//! exceptions stored as (position, raw bits) and patched after decoding.
//!
//! Vector layout: `e: u8, f: u8, width: u8, base: zigzag varint,
//! exceptions: varint, packed (n - base) at width bits, positions: u16 LE each,
//! raw values: u64 LE each`.

use crate::bitpack::{bit_width, pack, packed_len, unpack};
use crate::bytes_io::{ByteReader, put_uvarint, put_varint};
use crate::error::{Error, Result};

/// Largest exponent tried (ALP's limit for doubles).
pub(crate) const MAX_EXPONENT: usize = 18;

const F10: [f64; 19] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18,
];
const IF10: [f64; 19] = [
    1e0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10, 1e-11, 1e-12, 1e-13, 1e-14,
    1e-15, 1e-16, 1e-17, 1e-18,
];
/// 2^52 + 2^51: adding and subtracting it rounds a double to the nearest
/// integer (ties to even) when its magnitude is below 2^51.
const MAGIC: f64 = 6_755_399_441_055_744.0;
/// Bit pattern of [`MAGIC`]: `bits(MAGIC) + n` is `bits(MAGIC + n)` for `|n| <= 2^51`.
const MAGIC_BITS: i64 = 0x4338_0000_0000_0000;
/// Encoded integers must stay strictly below this magnitude (2^51).
const INT_LIMIT: f64 = 2_251_799_813_685_248.0;

/// Bytes an exception costs (u16 position + u64 value).
const EXCEPTION_BYTES: usize = 10;

/// Exact `n as f64` for `|n| <= 2^51`, in SIMD-friendly integer/double ops.
#[inline(always)]
pub(crate) fn int_to_f64(n: i64) -> f64 {
    f64::from_bits(n.wrapping_add(MAGIC_BITS) as u64) - MAGIC
}

/// ALP's decode expression; the encoder verifies with exactly this function.
#[inline(always)]
pub(crate) fn decode_one(n: i64, e: usize, f: usize) -> f64 {
    int_to_f64(n) * F10[f] * IF10[e]
}

/// Tries to encode `v`; `None` if it does not round-trip bit-exactly.
#[inline(always)]
pub(crate) fn encode_one(v: f64, e: usize, f: usize) -> Option<i64> {
    let d = v * F10[e] * IF10[f];
    // The magic-number round needs |d| < 2^51 (NaN fails the test too).
    if d.is_nan() || d.abs() >= INT_LIMIT {
        return None;
    }
    let n = ((d + MAGIC) - MAGIC) as i64;
    (n.abs() < INT_LIMIT as i64 && decode_one(n, e, f).to_bits() == v.to_bits()).then_some(n)
}

/// `(10^f, 10^-e)`: the decoder's two factors for a pair.
pub(crate) fn factors(e: usize, f: usize) -> (f64, f64) {
    (F10[f], IF10[e])
}

/// Estimated cost (bits) of a candidate on a sample.
fn estimate(sample: &[f64], e: usize, f: usize) -> u64 {
    let mut min = i64::MAX;
    let mut max = i64::MIN;
    let mut exceptions = 0u64;
    for &v in sample {
        match encode_one(v, e, f) {
            Some(n) => {
                min = min.min(n);
                max = max.max(n);
            }
            None => exceptions += 1,
        }
    }
    let width = if min > max {
        0
    } else {
        bit_width(max.wrapping_sub(min) as u64)
    };
    u64::from(width) * sample.len() as u64 + exceptions * (EXCEPTION_BYTES as u64 * 8)
}

/// Every `(e, f)` pair, `0 <= f <= e <= MAX_EXPONENT`.
fn all_pairs() -> impl Iterator<Item = (usize, usize)> {
    (0..=MAX_EXPONENT).flat_map(|e| (0..=e).map(move |f| (e, f)))
}

fn sample32(vals: &[f64]) -> Vec<f64> {
    let step = (vals.len() / 32).max(1);
    vals.iter().step_by(step).take(32).copied().collect()
}

/// Picks up to `k` promising `(e, f)` pairs for `vals` from a sample of 32
/// values, among `pairs` (all pairs when `None`).
pub(crate) fn candidates(
    vals: &[f64],
    k: usize,
    pairs: Option<&[(usize, usize)]>,
) -> Vec<(usize, usize)> {
    let sample = sample32(vals);
    let mut scored: Vec<(u64, usize, usize)> = match pairs {
        Some(p) => p
            .iter()
            .map(|&(e, f)| (estimate(&sample, e, f), e, f))
            .collect(),
        None => all_pairs()
            .map(|(e, f)| (estimate(&sample, e, f), e, f))
            .collect(),
    };
    // Cheapest first; ties go to the smaller exponent (fewer wasted digits).
    scored.sort_unstable();
    scored.into_iter().take(k).map(|(_, e, f)| (e, f)).collect()
}

/// ALP's first sampling level: the `(e, f)` pairs that win on a sample of
/// vectors spread over the whole column, most frequent first (at most `k`).
/// Each vector then only ranks these, instead of all 190 pairs.
pub(crate) fn column_candidates(vals: &[f64], vector_len: usize, k: usize) -> Vec<(usize, usize)> {
    let vectors = vals.len().div_ceil(vector_len).max(1);
    let stride = vectors.div_ceil(8);
    let mut wins: Vec<(usize, u64, usize, usize)> = Vec::new();
    for v in (0..vectors).step_by(stride) {
        let chunk = &vals[v * vector_len..((v + 1) * vector_len).min(vals.len())];
        let sample = sample32(chunk);
        let Some((cost, e, f)) = all_pairs()
            .map(|(e, f)| (estimate(&sample, e, f), e, f))
            .min()
        else {
            continue;
        };
        match wins.iter_mut().find(|w| (w.2, w.3) == (e, f)) {
            Some(w) => {
                w.0 += 1;
                w.1 += cost;
            }
            None => wins.push((1, cost, e, f)),
        }
    }
    // Most wins first, then cheapest.
    wins.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    wins.into_iter().take(k).map(|w| (w.2, w.3)).collect()
}

/// A fully encoded vector for one `(e, f)` pair, ready to be written.
pub(crate) struct Encoded {
    e: usize,
    f: usize,
    base: i64,
    width: u32,
    ints: Vec<u64>,
    exc_pos: Vec<u16>,
    exc_val: Vec<u64>,
}

impl Encoded {
    /// Encodes `vals` (at most 65 536 of them) with `(e, f)`.
    ///
    /// Beyond plain ALP, the frame of reference is chosen to minimise the
    /// total size: integers outside the best `[base, base + 2^w)` window
    /// become exceptions when that is cheaper than widening every value
    /// (a few outliers no longer inflate the bit width of a whole vector).
    ///
    /// With `trim == false` the frame simply spans every encodable value
    /// (cheaper to compute; used to rank candidates).
    pub(crate) fn new(vals: &[f64], e: usize, f: usize, trim: bool) -> Self {
        let mut ints: Vec<Option<i64>> = vals.iter().map(|&v| encode_one(v, e, f)).collect();
        let (base, width) = if trim {
            let mut sorted: Vec<i64> = ints.iter().flatten().copied().collect();
            sorted.sort_unstable();
            choose_frame(&sorted)
        } else {
            let lo = ints.iter().flatten().copied().min().unwrap_or(0);
            let hi = ints.iter().flatten().copied().max().unwrap_or(0);
            (lo, bit_width(hi.wrapping_sub(lo) as u64))
        };
        let hi = if width == 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        };
        let mut exc_pos = Vec::new();
        let mut exc_val = Vec::new();
        for (i, (slot, v)) in ints.iter_mut().zip(vals).enumerate() {
            let inside = slot.is_some_and(|n| n.wrapping_sub(base) as u64 <= hi);
            if !inside {
                *slot = None;
                exc_pos.push(i as u16);
                exc_val.push(v.to_bits());
            }
        }
        let ints = ints
            .iter()
            .map(|n| n.map_or(0, |n| n.wrapping_sub(base) as u64))
            .collect();
        Self {
            e,
            f,
            base,
            width,
            ints,
            exc_pos,
            exc_val,
        }
    }

    /// Serialized size in bytes (upper bound of the varints is close enough).
    pub(crate) fn size(&self) -> usize {
        3 + 10 + 3 + packed_len(self.ints.len(), self.width) + self.exc_pos.len() * EXCEPTION_BYTES
    }

    /// Appends the vector body (without the scheme byte).
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.push(self.e as u8);
        out.push(self.f as u8);
        out.push(self.width as u8);
        put_varint(out, self.base);
        put_uvarint(out, self.exc_pos.len() as u64);
        pack(&self.ints, self.width, out);
        for p in &self.exc_pos {
            out.extend_from_slice(&p.to_le_bytes());
        }
        for v in &self.exc_val {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// Picks `(base, width)` for sorted integers, minimising
/// `n * width + (values outside the window) * exception cost`.
///
/// Widths are tried from widest to narrowest; for each, only windows that
/// leave few enough values out to beat the best cost so far are examined,
/// with a monotone two-pointer scan, so the search stays near-linear.
fn choose_frame(sorted: &[i64]) -> (i64, u32) {
    let (Some(&lo), Some(&hi)) = (sorted.first(), sorted.last()) else {
        return (0, 0);
    };
    let n = sorted.len();
    let full = bit_width(hi.wrapping_sub(lo) as u64);
    let exc_bits = EXCEPTION_BYTES as u64 * 8;
    let mut best = (n as u64 * u64::from(full), lo, full);
    for w in (0..full).rev() {
        let span = (1u64 << w) - 1;
        let budget = best.0 - n as u64 * u64::from(w);
        // At most `kmax` exceptions keep the cost below the best so far.
        let kmax = (budget.saturating_sub(1) / exc_bits).min(n as u64 - 1) as usize;
        if kmax == 0 {
            continue;
        }
        let need = n - kmax;
        let (mut j, mut best_count, mut best_start) = (0usize, 0usize, 0usize);
        for i in 0..=kmax {
            j = j.max(i + need - 1);
            if j >= n {
                break;
            }
            if sorted[j].wrapping_sub(sorted[i]) as u64 > span {
                continue;
            }
            while j + 1 < n && sorted[j + 1].wrapping_sub(sorted[i]) as u64 <= span {
                j += 1;
            }
            if j + 1 - i > best_count {
                best_count = j + 1 - i;
                best_start = i;
            }
        }
        if best_count > 0 {
            let cost = n as u64 * u64::from(w) + (n - best_count) as u64 * exc_bits;
            if cost < best.0 {
                best = (cost, sorted[best_start], w);
            }
        }
    }
    (best.1, best.2)
}

/// Decodes a vector body into `out`; `scratch` must be at least `out.len()` long.
pub(crate) fn decode(r: &mut ByteReader<'_>, out: &mut [f64], scratch: &mut [u64]) -> Result<()> {
    let n = out.len();
    let e = usize::from(r.u8("alp exponent")?);
    let f = usize::from(r.u8("alp factor")?);
    let width = u32::from(r.u8("alp width")?);
    if e > MAX_EXPONENT || f > e {
        return Err(Error::Corrupt("alp: exponent/factor out of range"));
    }
    let base = r.varint("alp base")?;
    let exc = r.uvarint("alp exception count")?;
    if exc > n as u64 {
        return Err(Error::Corrupt("alp: more exceptions than values"));
    }
    let exc = exc as usize;
    let packed = r.take(packed_len(n, width.min(64)), "alp packed integers")?;
    let ints = &mut scratch[..n];
    unpack(packed, width, ints)?;
    let fact = F10[f];
    let frac = IF10[e];
    let offset = base.wrapping_add(MAGIC_BITS);
    for (o, &x) in out.iter_mut().zip(ints.iter()) {
        // `int_to_f64(x + base) * 10^f * 10^-e`, with the constant parts folded.
        *o = (f64::from_bits(x.wrapping_add(offset as u64)) - MAGIC) * fact * frac;
    }
    let pos = r.take(exc * 2, "alp exception positions")?;
    let raw = r.take(exc * 8, "alp exception values")?;
    for (p, v) in pos.chunks_exact(2).zip(raw.chunks_exact(8)) {
        let p = usize::from(u16::from_le_bytes([p[0], p[1]]));
        let mut a = [0u8; 8];
        a.copy_from_slice(v);
        *out.get_mut(p)
            .ok_or(Error::Corrupt("alp: exception position out of range"))? =
            f64::from_bits(u64::from_le_bytes(a));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_round_trip() {
        assert_eq!(encode_one(12.34, 2, 0), Some(1234));
        assert_eq!(encode_one(1200.0, 2, 2), Some(1200));
        assert_eq!(encode_one(1.23, 14, 12), Some(123));
        assert_eq!(encode_one(-0.0, 2, 0), None);
        assert_eq!(encode_one(f64::NAN, 2, 0), None);
        assert_eq!(encode_one(f64::INFINITY, 0, 0), None);
        assert_eq!(decode_one(1234, 2, 0).to_bits(), 12.34f64.to_bits());
    }

    #[test]
    fn outliers_become_exceptions() {
        let mut vals = vec![0.0; 1024];
        vals[10] = 9600.0;
        vals[500] = 324_000.0;
        let enc = Encoded::new(&vals, 0, 0, true);
        assert_eq!(enc.width, 0);
        assert_eq!(enc.exc_pos, vec![10, 500]);
        // A frame search over sorted data matches brute force.
        let sorted: Vec<i64> = (0..300)
            .map(|i| if i % 97 == 0 { i * 1000 } else { i % 50 })
            .collect();
        let mut sorted = sorted;
        sorted.sort_unstable();
        let (base, w) = choose_frame(&sorted);
        let cost = |base: i64, w: u32| {
            let out = sorted
                .iter()
                .filter(|&&x| x.wrapping_sub(base) as u64 > (1u64 << w) - 1)
                .count();
            sorted.len() as u64 * u64::from(w) + out as u64 * 80
        };
        let brute = (0..20u32)
            .flat_map(|w| sorted.iter().map(move |&b| (b, w)))
            .map(|(b, w)| cost(b, w))
            .min()
            .unwrap();
        assert_eq!(cost(base, w), brute);
    }

    #[test]
    fn picks_two_decimals() {
        let vals: Vec<f64> = (0..1024)
            .map(|i| (f64::from(i) * 7.0 + 1000.0) / 100.0)
            .collect();
        let c = candidates(&vals, 3, None);
        let best = c
            .iter()
            .map(|&(e, f)| Encoded::new(&vals, e, f, true))
            .min_by_key(Encoded::size)
            .unwrap();
        assert!(best.exc_pos.is_empty());
        assert_eq!(best.width, 13);
    }
}
