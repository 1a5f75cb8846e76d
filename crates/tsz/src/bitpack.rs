//! Fixed-width, LSB-first bit packing with fast, width-specialised unpacking.
//!
//! `n` values of width `w` occupy exactly `ceil(n * w / 8)` bytes: value `i`
//! sits at bit offset `i * w` of a little-endian bit stream. Unpacking works
//! on groups of 64 values (exactly `w` 64-bit words) with one monomorphised,
//! branch-free routine per width.

use crate::error::{Error, Result};

/// Number of bits needed to represent `max` (0 for 0).
#[inline]
pub(crate) fn bit_width(max: u64) -> u32 {
    64 - max.leading_zeros()
}

/// Bytes occupied by `n` packed values of `w` bits.
#[inline]
pub(crate) fn packed_len(n: usize, w: u32) -> usize {
    (n * w as usize).div_ceil(8)
}

/// Appends `values` packed at `w` bits each. Bits above `w` must be zero.
pub(crate) fn pack(values: &[u64], w: u32, out: &mut Vec<u8>) {
    debug_assert!(w <= 64);
    if w == 0 {
        return;
    }
    let start = out.len();
    out.reserve(packed_len(values.len(), w));
    let mut acc = 0u64;
    let mut nbits = 0u32;
    for &v in values {
        debug_assert!(w == 64 || v >> w == 0);
        acc |= v << nbits;
        if nbits + w >= 64 {
            out.extend_from_slice(&acc.to_le_bytes());
            // Bits of `v` that did not fit (none when nbits == 0).
            acc = if nbits == 0 { 0 } else { v >> (64 - nbits) };
            nbits = nbits + w - 64;
        } else {
            nbits += w;
        }
    }
    let tail = nbits.div_ceil(8) as usize;
    out.extend_from_slice(&acc.to_le_bytes()[..tail]);
    debug_assert_eq!(out.len() - start, packed_len(values.len(), w));
}

#[inline(always)]
fn le_word(src: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&src[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Unpacks `out.len()` values of width `W` (1..=64) from `src`.
///
/// Widths up to 56 read one unaligned little-endian word per value (shift
/// below 8, so `W + 7 <= 63` bits are always inside it); wider values read
/// two words. The last few values, whose word would run past `src`, go
/// through a zero-padded copy.
#[inline(always)]
fn unpack_width<const W: usize>(src: &[u8], out: &mut [u64]) {
    if W == 0 {
        out.fill(0);
        return;
    }
    let mask = if W == 64 { u64::MAX } else { (1u64 << W) - 1 };
    let n = out.len();
    // Whole groups of 8 values (exactly W bytes each) whose reads stay inside
    // `src` (the two-word path reads 16 bytes) go first: one bounds check per
    // group, constant byte offsets and shifts inside it.
    let reach = if W <= 56 { 8 } else { 16 };
    let groups = if src.len() >= W + reach {
        ((src.len() - W - reach) / W + 1).min(n / 8)
    } else {
        0
    };
    let fast = groups * 8;
    let (head, tail) = out.split_at_mut(fast);
    for (g, o8) in head.chunks_exact_mut(8).enumerate() {
        let window = &src[g * W..g * W + W + reach];
        for (k, o) in o8.iter_mut().enumerate() {
            *o = extract::<W>(window, k * W) & mask;
        }
    }
    if !tail.is_empty() {
        let first_bit = fast * W;
        let start = first_bit / 8;
        let mut buf = [0u8; 64 * 8 + 16];
        let rest = &src[start..];
        buf[..rest.len()].copy_from_slice(rest);
        let base = first_bit % 8;
        for (j, o) in tail.iter_mut().enumerate() {
            *o = extract::<W>(&buf, base + j * W) & mask;
        }
    }
}

#[inline(always)]
fn extract<const W: usize>(src: &[u8], bit: usize) -> u64 {
    let byte = bit / 8;
    let sh = (bit % 8) as u32;
    if W <= 56 {
        le_word(src, byte) >> sh
    } else {
        let lo = le_word(src, byte) >> sh;
        // `(x << 1) << (63 - sh)` is `x << (64 - sh)` without the shift-by-64 hazard.
        let hi = (le_word(src, byte + 8) << 1) << (63 - sh);
        lo | hi
    }
}

macro_rules! dispatch_unpack {
    ($w:expr, $src:expr, $out:expr; $($n:literal)*) => {
        match $w {
            $($n => unpack_width::<$n>($src, $out),)*
            _ => return Err(Error::Corrupt("bit width above 64")),
        }
    };
}

/// Unpacks `out.len()` values of width `w` from `src`, which must hold exactly
/// [`packed_len`]`(out.len(), w)` bytes.
pub(crate) fn unpack(src: &[u8], w: u32, out: &mut [u64]) -> Result<()> {
    if w > 64 {
        return Err(Error::Corrupt("bit width above 64"));
    }
    if src.len() != packed_len(out.len(), w) {
        return Err(Error::Truncated("packed integers"));
    }
    dispatch_unpack!(w, src, out;
        0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32
        33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 60 61 62
        63 64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_widths_and_lengths() {
        for w in 0..=64u32 {
            for n in [0usize, 1, 7, 63, 64, 65, 130, 1000, 1024] {
                let mask = if w == 64 { u64::MAX } else { (1u64 << w) - 1 };
                let vals: Vec<u64> = (0..n as u64)
                    .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(w) & mask)
                    .collect();
                let mut bytes = Vec::new();
                pack(&vals, w, &mut bytes);
                assert_eq!(bytes.len(), packed_len(n, w));
                let mut out = vec![0u64; n];
                unpack(&bytes, w, &mut out).unwrap();
                assert_eq!(out, vals, "w={w} n={n}");
            }
        }
    }

    #[test]
    fn rejects_bad_input() {
        let mut out = [0u64; 10];
        assert!(unpack(&[0u8; 3], 65, &mut out).is_err());
        assert!(unpack(&[0u8; 3], 8, &mut out).is_err());
    }
}
