//! The Gorilla codec (Pelkonen et al., "Gorilla: A Fast, Scalable, In-Memory
//! Time Series Database", VLDB 2015), bit-exact to the paper's section 4.1
//! with two documented extensions for lossless 64-bit timestamps.
//!
//! # Stream layout (MSB-first bits)
//!
//! Inside a [`Chunk`](crate::Chunk) the first timestamp lives in the chunk
//! header; the Gorilla payload then interleaves, per point:
//!
//! | point | timestamp part | value part |
//! |---|---|---|
//! | 0 | — (header) | 64 raw bits |
//! | 1 | first delta `t1 - t0`, **64 bits** (the paper uses 14; wide so nanosecond units never overflow) | XOR |
//! | i ≥ 2 | delta-of-delta bucket | XOR |
//!
//! Delta-of-delta `D = (t_i - t_{i-1}) - (t_{i-1} - t_{i-2})` (wrapping 64-bit arithmetic):
//!
//! | control | payload | range of `D` |
//! |---|---|---|
//! | `0` | — | 0 |
//! | `10` | 7 bits | −63 ..= 64 |
//! | `110` | 9 bits | −255 ..= 256 |
//! | `1110` | 12 bits | −2047 ..= 2048 |
//! | `1111` | 32 bits, two's complement | −(2³¹−1) ..= 2³¹−1 |
//! | `1111` | `0x8000_0000` escape + 64 bits | anything else (**extension**) |
//!
//! The 7/9/12-bit fields hold the low bits of `D`; a field value above
//! `2^(n-1)` decodes as negative (so `64` fits in 7 bits, as in the paper's
//! ranges). The 32-bit pattern `0x8000_0000` (`i32::MIN`, outside the 32-bit
//! range used) is an escape meaning "the real `D` follows as 64 raw bits", so
//! jumps of any size stay lossless.
//!
//! Values: `X = bits(v_i) XOR bits(v_{i-1})`; `0` if `X == 0`; otherwise `1`
//! then either `0` + the meaningful bits inside the previous window (when `X`
//! has at least as many leading and trailing zeros as that window), or `1` +
//! 5 bits of leading-zero count (clamped to 31) + 6 bits of meaningful length
//! (64 is written as 0, since length 0 cannot occur) + the meaningful bits.
//! The first XOR always opens a new window.

use crate::bitstream::{BitReader, BitWriter};
use crate::error::{Error, Result};

/// Escape pattern of the 32-bit delta-of-delta bucket: 64 raw bits follow.
const DOD_ESCAPE_32: u32 = 0x8000_0000;

#[derive(Debug, Default)]
pub(crate) struct XorEncoder {
    prev: u64,
    leading: u32,
    trailing: u32,
    has_window: bool,
}

impl XorEncoder {
    #[inline]
    pub(crate) fn first(&mut self, w: &mut BitWriter, v: u64) {
        w.write_bits(v, 64);
        self.prev = v;
    }

    #[inline]
    pub(crate) fn next(&mut self, w: &mut BitWriter, v: u64) {
        let x = v ^ self.prev;
        self.prev = v;
        if x == 0 {
            w.write_bit(false);
            return;
        }
        let lead = x.leading_zeros().min(31);
        let trail = x.trailing_zeros();
        if self.has_window && lead >= self.leading && trail >= self.trailing {
            w.write_bits(0b10, 2);
            w.write_bits(x >> self.trailing, 64 - self.leading - self.trailing);
        } else {
            self.leading = lead;
            self.trailing = trail;
            self.has_window = true;
            let m = 64 - lead - trail;
            w.write_bits(0b11, 2);
            w.write_bits(u64::from(lead), 5);
            w.write_bits(u64::from(m & 63), 6);
            w.write_bits(x >> trail, m);
        }
    }
}

/// Bits [`XorEncoder`] writes for each value, without writing them: the
/// exact size of a Gorilla column at a fraction of the cost.
#[derive(Debug, Default)]
pub(crate) struct XorCounter {
    prev: u64,
    leading: u32,
    trailing: u32,
    has_window: bool,
}

impl XorCounter {
    #[inline]
    pub(crate) fn next(&mut self, v: u64) -> usize {
        let x = v ^ self.prev;
        self.prev = v;
        if x == 0 {
            return 1;
        }
        let lead = x.leading_zeros().min(31);
        let trail = x.trailing_zeros();
        if self.has_window && lead >= self.leading && trail >= self.trailing {
            (2 + 64 - self.leading - self.trailing) as usize
        } else {
            self.leading = lead;
            self.trailing = trail;
            self.has_window = true;
            (2 + 5 + 6 + 64 - lead - trail) as usize
        }
    }
}

fn dod_bits(dod: i64) -> usize {
    if dod == 0 {
        1
    } else if (-63..=64).contains(&dod) {
        9
    } else if (-255..=256).contains(&dod) {
        12
    } else if (-2047..=2048).contains(&dod) {
        16
    } else if (-(i64::from(i32::MAX))..=i64::from(i32::MAX)).contains(&dod) {
        36
    } else {
        100
    }
}

/// The exact byte length of [`encode_values`]`(values)`, computed without
/// encoding.
pub(crate) fn values_len(values: &[f64]) -> usize {
    let Some((first, rest)) = values.split_first() else {
        return 0;
    };
    let mut c = XorCounter {
        prev: first.to_bits(),
        ..XorCounter::default()
    };
    let bits: usize = 64 + rest.iter().map(|v| c.next(v.to_bits())).sum::<usize>();
    bits.div_ceil(8)
}

/// The exact byte length of [`encode_payload`]`(ts, vals)`, computed
/// without encoding.
pub(crate) fn payload_len(ts: &[i64], vals: &[f64]) -> usize {
    let mut c = XorCounter::default();
    let mut bits = 0usize;
    let (mut prev_t, mut prev_delta) = (0i64, 0i64);
    for (i, (&t, v)) in ts.iter().zip(vals).enumerate() {
        match i {
            0 => {
                c.prev = v.to_bits();
                bits += 64;
            }
            1 => {
                prev_delta = t.wrapping_sub(prev_t);
                bits += 64 + c.next(v.to_bits());
            }
            _ => {
                let delta = t.wrapping_sub(prev_t);
                bits += dod_bits(delta.wrapping_sub(prev_delta)) + c.next(v.to_bits());
                prev_delta = delta;
            }
        }
        prev_t = t;
    }
    bits.div_ceil(8)
}

#[derive(Debug, Default)]
pub(crate) struct XorDecoder {
    prev: u64,
    leading: u32,
    trailing: u32,
    has_window: bool,
}

impl XorDecoder {
    /// A decoder that starts from `first` with Prometheus' initial state: a
    /// zero-width-padding window (leading = trailing = 0) that may be reused.
    pub(crate) fn prometheus(first: u64) -> Self {
        Self {
            prev: first,
            leading: 0,
            trailing: 0,
            has_window: true,
        }
    }

    /// The value the decoder was started from.
    pub(crate) fn next_first(&self) -> u64 {
        self.prev
    }

    #[inline]
    pub(crate) fn next(&mut self, r: &mut BitReader<'_>) -> Result<u64> {
        let ctl = r.peek(2);
        if ctl & 0b10 == 0 {
            r.consume(1)?;
            return Ok(self.prev);
        }
        r.consume(2)?;
        if ctl == 0b11 {
            let hdr = r.read_bits(11)? as u32;
            let lead = hdr >> 6;
            let m = match hdr & 63 {
                0 => 64,
                m => m,
            };
            if lead + m > 64 {
                return Err(Error::Corrupt("gorilla: XOR window exceeds 64 bits"));
            }
            self.leading = lead;
            self.trailing = 64 - lead - m;
            self.has_window = true;
        } else if !self.has_window {
            return Err(Error::Corrupt("gorilla: window reuse before any window"));
        }
        let m = 64 - self.leading - self.trailing;
        let bits = r.read_bits(m)?;
        // m >= 1, so trailing <= 63.
        self.prev ^= bits << self.trailing;
        Ok(self.prev)
    }
}

#[inline]
fn write_dod(w: &mut BitWriter, dod: i64) {
    if dod == 0 {
        w.write_bit(false);
    } else if (-63..=64).contains(&dod) {
        w.write_bits(0b10, 2);
        w.write_bits(dod as u64, 7);
    } else if (-255..=256).contains(&dod) {
        w.write_bits(0b110, 3);
        w.write_bits(dod as u64, 9);
    } else if (-2047..=2048).contains(&dod) {
        w.write_bits(0b1110, 4);
        w.write_bits(dod as u64, 12);
    } else if (-(i64::from(i32::MAX))..=i64::from(i32::MAX)).contains(&dod) {
        w.write_bits(0b1111, 4);
        w.write_bits(dod as u64, 32);
    } else {
        w.write_bits(0b1111, 4);
        w.write_bits(u64::from(DOD_ESCAPE_32), 32);
        w.write_bits(dod as u64, 64);
    }
}

#[inline]
fn read_small(r: &mut BitReader<'_>, n: u32) -> Result<i64> {
    let bits = r.read_bits(n)?;
    Ok(if bits > 1 << (n - 1) {
        bits as i64 - (1i64 << n)
    } else {
        bits as i64
    })
}

#[inline]
fn read_dod(r: &mut BitReader<'_>) -> Result<i64> {
    let ctl = r.peek(4) as u8;
    // Number of leading one bits of the 4-bit control prefix.
    let ones = (ctl << 4).leading_ones().min(4);
    match ones {
        0 => {
            r.consume(1)?;
            Ok(0)
        }
        1 => {
            r.consume(2)?;
            read_small(r, 7)
        }
        2 => {
            r.consume(3)?;
            read_small(r, 9)
        }
        3 => {
            r.consume(4)?;
            read_small(r, 12)
        }
        _ => {
            r.consume(4)?;
            let b = r.read_bits(32)? as u32;
            if b == DOD_ESCAPE_32 {
                Ok(r.read_bits(64)? as i64)
            } else {
                Ok(i64::from(b as i32))
            }
        }
    }
}

/// Encodes a value column alone with Gorilla's XOR scheme (no timestamps).
///
/// The output is the MSB-first bit stream, zero padded to whole bytes.
///
/// ```
/// let values = [1.0, 1.0, 1.5, f64::NAN];
/// let bytes = blocksmith_tsz::gorilla::encode_values(&values);
/// let back = blocksmith_tsz::gorilla::decode_values(&bytes, values.len())?;
/// assert!(values.iter().zip(&back).all(|(a, b)| a.to_bits() == b.to_bits()));
/// # Ok::<(), blocksmith_tsz::Error>(())
/// ```
pub fn encode_values(values: &[f64]) -> Vec<u8> {
    let mut w = BitWriter::with_capacity(values.len() * 2 + 8);
    let mut enc = XorEncoder::default();
    if let Some((first, rest)) = values.split_first() {
        enc.first(&mut w, first.to_bits());
        for v in rest {
            enc.next(&mut w, v.to_bits());
        }
    }
    w.finish()
}

/// Decodes `count` values written by [`encode_values`].
///
/// # Errors
/// [`Error::Truncated`] if `bytes` ends early, [`Error::Corrupt`] for invalid
/// control bits, [`Error::TrailingBytes`] if whole bytes are left over.
pub fn decode_values(bytes: &[u8], count: usize) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    decode_values_into(bytes, count, &mut out)?;
    Ok(out)
}

/// Like [`decode_values`], but appends to `out` so its allocation can be reused.
///
/// # Errors
/// As [`decode_values`]; `out` may hold a partial result after an error.
pub fn decode_values_into(bytes: &[u8], count: usize, out: &mut Vec<f64>) -> Result<()> {
    let mut r = BitReader::new(bytes);
    if count == 0 {
        return finish(&r);
    }
    // Every value needs at least one bit after the 64-bit first value.
    if r.bits_remaining() < 64 || count - 1 > r.bits_remaining() - 64 {
        return Err(Error::Truncated("gorilla values"));
    }
    out.reserve(count);
    let mut dec = XorDecoder {
        prev: r.read_bits(64)?,
        ..XorDecoder::default()
    };
    out.push(f64::from_bits(dec.prev));
    for _ in 1..count {
        out.push(f64::from_bits(dec.next(&mut r)?));
    }
    finish(&r)
}

fn finish(r: &BitReader<'_>) -> Result<()> {
    let left = r.bits_remaining();
    if left >= 8 {
        return Err(Error::TrailingBytes(left / 8));
    }
    Ok(())
}

/// Encodes the interleaved timestamp/value payload (the first timestamp is not included).
pub(crate) fn encode_payload(ts: &[i64], vals: &[f64]) -> Vec<u8> {
    debug_assert_eq!(ts.len(), vals.len());
    let mut w = BitWriter::with_capacity(ts.len() * 3 + 16);
    let mut enc = XorEncoder::default();
    let mut prev_t = 0i64;
    let mut prev_delta = 0i64;
    for (i, (&t, v)) in ts.iter().zip(vals).enumerate() {
        match i {
            0 => enc.first(&mut w, v.to_bits()),
            1 => {
                prev_delta = t.wrapping_sub(prev_t);
                w.write_bits(prev_delta as u64, 64);
                enc.next(&mut w, v.to_bits());
            }
            _ => {
                let delta = t.wrapping_sub(prev_t);
                write_dod(&mut w, delta.wrapping_sub(prev_delta));
                prev_delta = delta;
                enc.next(&mut w, v.to_bits());
            }
        }
        prev_t = t;
    }
    w.finish()
}

/// Points handed to a decode sink at a time.
const BATCH: usize = 1024;

/// Decodes a payload written by [`encode_payload`], handing batches of
/// timestamps and values to `sink` in order.
pub(crate) fn decode_payload(
    payload: &[u8],
    count: usize,
    first_ts: i64,
    sink: &mut impl FnMut(&[i64], &[f64]) -> Result<()>,
) -> Result<()> {
    let mut r = BitReader::new(payload);
    if count == 0 {
        return finish(&r);
    }
    // Point 0 needs 64 bits, point 1 needs 65, every later one at least 2.
    let bits = r.bits_remaining();
    if bits < 64 || (count > 1 && (bits - 64 < 65 || (count - 2) > (bits - 129) / 2)) {
        return Err(Error::Truncated("gorilla payload"));
    }
    let mut tbuf = [0i64; BATCH];
    let mut vbuf = [0.0f64; BATCH];
    let mut dec = XorDecoder {
        prev: r.read_bits(64)?,
        ..XorDecoder::default()
    };
    tbuf[0] = first_ts;
    vbuf[0] = f64::from_bits(dec.prev);
    let mut n = 1;
    let mut t = first_ts;
    let mut delta = 0i64;
    for i in 1..count {
        if i == 1 {
            delta = r.read_bits(64)? as i64;
        } else {
            delta = delta.wrapping_add(read_dod(&mut r)?);
        }
        t = t.wrapping_add(delta);
        tbuf[n] = t;
        vbuf[n] = f64::from_bits(dec.next(&mut r)?);
        n += 1;
        if n == BATCH {
            sink(&tbuf, &vbuf)?;
            n = 0;
        }
    }
    if n > 0 {
        sink(&tbuf[..n], &vbuf[..n])?;
    }
    finish(&r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(ts: &[i64], vals: &[f64]) {
        let p = encode_payload(ts, vals);
        let (mut t2, mut v2) = (Vec::new(), Vec::new());
        decode_payload(
            &p,
            ts.len(),
            ts.first().copied().unwrap_or(0),
            &mut |t, v| {
                t2.extend_from_slice(t);
                v2.extend_from_slice(v);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(t2, ts);
        let a: Vec<u64> = vals.iter().map(|v| v.to_bits()).collect();
        let b: Vec<u64> = v2.iter().map(|v| v.to_bits()).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn dod_buckets_round_trip() {
        let dods = [
            0i64,
            1,
            -1,
            64,
            -63,
            65,
            -64,
            256,
            -255,
            257,
            -256,
            2048,
            -2047,
            2049,
            -2048,
            i64::from(i32::MAX),
            -i64::from(i32::MAX),
            i64::from(i32::MIN),
            1 << 40,
            i64::MIN,
            i64::MAX,
        ];
        for &d in &dods {
            let mut w = BitWriter::default();
            write_dod(&mut w, d);
            let bytes = w.finish();
            assert_eq!(read_dod(&mut BitReader::new(&bytes)).unwrap(), d, "dod {d}");
        }
    }

    #[test]
    fn paper_bit_lengths() {
        // Bucket sizes from the paper: 1, 2+7, 3+9, 4+12, 4+32 bits.
        for (d, bits) in [
            (0i64, 1),
            (64, 9),
            (-63, 9),
            (256, 12),
            (2048, 16),
            (70_000, 36),
        ] {
            let mut w = BitWriter::default();
            write_dod(&mut w, d);
            assert_eq!(w.bit_len(), bits, "dod {d}");
        }
        // Escape: 4 + 32 + 64.
        let mut w = BitWriter::default();
        write_dod(&mut w, 1 << 33);
        assert_eq!(w.bit_len(), 100);
    }

    #[test]
    fn paper_example_values() {
        // 12.0 then 24.0: XOR = 0x0010_0000_0000_0000 -> 11 leading zeros, 52 trailing,
        // 1 meaningful bit: '1' '1' + 01011 + 000001 + '1' = 15 bits.
        let mut w = BitWriter::default();
        let mut e = XorEncoder::default();
        e.first(&mut w, 12.0f64.to_bits());
        e.next(&mut w, 24.0f64.to_bits());
        assert_eq!(w.bit_len(), 64 + 2 + 5 + 6 + 1);
        // Same value again: a single '0'.
        e.next(&mut w, 24.0f64.to_bits());
        assert_eq!(w.bit_len(), 64 + 14 + 1);
        // 12.0 again: same XOR, fits the window: '10' + 1 bit.
        e.next(&mut w, 12.0f64.to_bits());
        assert_eq!(w.bit_len(), 64 + 14 + 1 + 3);
    }

    #[test]
    fn extremes() {
        rt(&[], &[]);
        rt(&[i64::MIN], &[f64::NAN]);
        rt(&[i64::MIN, i64::MAX], &[-0.0, f64::INFINITY]);
        rt(
            &[i64::MIN, -1, 0, 0, i64::MAX],
            &[
                f64::MIN_POSITIVE,
                f64::from_bits(1),
                f64::from_bits(u64::MAX),
                1.0,
                -1.0,
            ],
        );
        // Full 64-bit XOR (meaningful length 64, written as 0).
        rt(
            &[0, 1, 2],
            &[
                f64::from_bits(1),
                f64::from_bits(1 << 63),
                f64::from_bits(u64::MAX),
            ],
        );
    }
}

#[cfg(test)]
mod counter_tests {
    use super::*;

    #[test]
    fn counted_sizes_are_exact() {
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut vals = Vec::new();
        let mut ts = Vec::new();
        let mut t = 0i64;
        for i in 0..3000u64 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            vals.push(match i % 4 {
                0 => f64::from_bits(s),
                1 => 1.5,
                _ => (i % 17) as f64 * 0.1,
            });
            t += [0i64, 1, 60, 300, 5000, 1 << 40][(s % 6) as usize];
            ts.push(t);
        }
        for n in [0, 1, 2, 3, 100, 3000] {
            assert_eq!(values_len(&vals[..n]), encode_values(&vals[..n]).len());
            assert_eq!(
                payload_len(&ts[..n], &vals[..n]),
                encode_payload(&ts[..n], &vals[..n]).len()
            );
        }
    }
}
