//! ALP_rd ("real doubles") scheme for high-precision values, one vector.
//!
//! Each value's 64 bits are cut into a left part (the top `64 - r` bits,
//! `r` in `48..=63`, so at most 16 bits) and a right part (the low `r` bits).
//! Left parts are dictionary encoded with at most 8 entries (`b = 0..=3` bit
//! indices); left parts missing from the dictionary are exceptions stored as
//! (u16 position, u16 left part). Right parts are bit-packed at `r` bits.
//!
//! Vector layout: `r: u8, b: u8, dictionary: 2^b × u16 LE, exceptions: varint,
//! packed indices (b bits), packed right parts (r bits), positions: u16 LE each,
//! left parts: u16 LE each`.

use crate::bitpack::{pack, packed_len, unpack};
use crate::bytes_io::{ByteReader, put_uvarint};
use crate::error::{Error, Result};

/// Smallest right-part width (left part at most 16 bits).
const MIN_RIGHT: u32 = 48;
/// Largest dictionary index width (8 entries).
const MAX_DICT_WIDTH: u32 = 3;
const EXCEPTION_BITS: u64 = 32;

/// Left parts of `vals` for right width `r`, with their frequencies, most frequent first.
fn ranked_lefts(vals: &[f64], r: u32) -> Vec<(u16, u32)> {
    let mut lefts: Vec<u16> = vals.iter().map(|v| (v.to_bits() >> r) as u16).collect();
    lefts.sort_unstable();
    let mut runs: Vec<(u16, u32)> = Vec::new();
    for l in lefts {
        match runs.last_mut() {
            Some((x, c)) if *x == l => *c += 1,
            _ => runs.push((l, 1)),
        }
    }
    runs.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    runs
}

/// A fully encoded vector, ready to be written.
pub(crate) struct Encoded {
    r: u32,
    b: u32,
    dict: Vec<u16>,
    idx: Vec<u64>,
    right: Vec<u64>,
    exc_pos: Vec<u16>,
    exc_left: Vec<u16>,
}

impl Encoded {
    /// Chooses `(r, b)` on a sample of `vals` and encodes all of them.
    pub(crate) fn new(vals: &[f64]) -> Self {
        let step = (vals.len() / 256).max(1);
        let sample: Vec<f64> = vals.iter().step_by(step).copied().collect();
        let mut best = (u64::MAX, 63, 0);
        for r in MIN_RIGHT..=63 {
            let ranked = ranked_lefts(&sample, r);
            let mut covered = 0u64;
            for b in 0..=MAX_DICT_WIDTH {
                let lo = if b == 0 { 0 } else { 1usize << (b - 1) };
                let hi = 1usize << b;
                covered += ranked
                    .iter()
                    .take(hi)
                    .skip(lo)
                    .map(|&(_, c)| u64::from(c))
                    .sum::<u64>();
                let n = sample.len() as u64;
                let cost = n * u64::from(r + b) + (n - covered) * EXCEPTION_BITS;
                if cost < best.0 {
                    best = (cost, r, b);
                }
            }
        }
        let (_, r, b) = best;
        let ranked = ranked_lefts(vals, r);
        let dict: Vec<u16> = ranked.iter().take(1 << b).map(|&(l, _)| l).collect();
        let mut idx = Vec::with_capacity(vals.len());
        let mut right = Vec::with_capacity(vals.len());
        let mut exc_pos = Vec::new();
        let mut exc_left = Vec::new();
        let rmask = (1u64 << r) - 1;
        for (i, v) in vals.iter().enumerate() {
            let bits = v.to_bits();
            let left = (bits >> r) as u16;
            right.push(bits & rmask);
            if let Some(k) = dict.iter().position(|&d| d == left) {
                idx.push(k as u64);
            } else {
                idx.push(0);
                exc_pos.push(i as u16);
                exc_left.push(left);
            }
        }
        Self {
            r,
            b,
            dict,
            idx,
            right,
            exc_pos,
            exc_left,
        }
    }

    /// Serialized size in bytes (varint counted at its maximum).
    pub(crate) fn size(&self) -> usize {
        2 + (2 << self.b)
            + 3
            + packed_len(self.idx.len(), self.b)
            + packed_len(self.right.len(), self.r)
            + self.exc_pos.len() * 4
    }

    /// Appends the vector body (without the scheme byte).
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.push(self.r as u8);
        out.push(self.b as u8);
        for k in 0..(1usize << self.b) {
            let d = self.dict.get(k).copied().unwrap_or(0);
            out.extend_from_slice(&d.to_le_bytes());
        }
        put_uvarint(out, self.exc_pos.len() as u64);
        pack(&self.idx, self.b, out);
        pack(&self.right, self.r, out);
        for p in &self.exc_pos {
            out.extend_from_slice(&p.to_le_bytes());
        }
        for l in &self.exc_left {
            out.extend_from_slice(&l.to_le_bytes());
        }
    }
}

/// Decodes a vector body into `out`; `scratch` must be at least `2 * out.len()` long.
pub(crate) fn decode(r: &mut ByteReader<'_>, out: &mut [f64], scratch: &mut [u64]) -> Result<()> {
    let n = out.len();
    let rw = u32::from(r.u8("alp_rd right width")?);
    let b = u32::from(r.u8("alp_rd dictionary width")?);
    if !(MIN_RIGHT..=63).contains(&rw) || b > MAX_DICT_WIDTH {
        return Err(Error::Corrupt("alp_rd: bit widths out of range"));
    }
    let mut dict = [0u64; 8];
    for d in dict.iter_mut().take(1 << b) {
        *d = u64::from(r.u16_le("alp_rd dictionary")?) << rw;
    }
    let exc = r.uvarint("alp_rd exception count")?;
    if exc > n as u64 {
        return Err(Error::Corrupt("alp_rd: more exceptions than values"));
    }
    let exc = exc as usize;
    let (idx, right) = scratch[..2 * n].split_at_mut(n);
    unpack(r.take(packed_len(n, b), "alp_rd indices")?, b, idx)?;
    unpack(r.take(packed_len(n, rw), "alp_rd right parts")?, rw, right)?;
    for ((o, &i), &rt) in out.iter_mut().zip(idx.iter()).zip(right.iter()) {
        // i < 2^b <= 8 by construction of the unpacker.
        *o = f64::from_bits(dict[(i & 7) as usize] | rt);
    }
    let pos = r.take(exc * 2, "alp_rd exception positions")?;
    let lefts = r.take(exc * 2, "alp_rd exception left parts")?;
    for (p, l) in pos.chunks_exact(2).zip(lefts.chunks_exact(2)) {
        let p = usize::from(u16::from_le_bytes([p[0], p[1]]));
        let left = u64::from(u16::from_le_bytes([l[0], l[1]]));
        let rt = *right
            .get(p)
            .ok_or(Error::Corrupt("alp_rd: exception position out of range"))?;
        out[p] = f64::from_bits((left << rw) | rt);
    }
    Ok(())
}
