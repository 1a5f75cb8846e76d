//! Interoperability with the Prometheus TSDB XOR chunk encoding
//! (`tsdb/chunkenc/xor.go`, encoding `EncXOR`).
//!
//! The bytes handled here are what Prometheus' `XORChunk.Bytes()` returns
//! (the chunk data, without the chunk-file framing of series ref, length,
//! encoding byte and CRC).
//!
//! # Layout, as read from the Prometheus Go source
//!
//! * 2 bytes: number of samples, big-endian `u16`.
//! * Then an MSB-first bit stream:
//!   * sample 0: timestamp as a Go `binary.PutVarint` (zigzag LEB128), then the
//!     value's 64 raw bits;
//!   * sample 1: `uint64(t1 - t0)` as a Go `binary.PutUvarint`, then the value XOR;
//!   * sample i ≥ 2: delta-of-delta `D` (wrapping 64-bit) in buckets `0` (D = 0),
//!     `10` + 14 bits, `110` + 17 bits, `1110` + 20 bits, each for
//!     `-(2^(n-1) - 1) <= D <= 2^(n-1)` (a field above `2^(n-1)` reads as negative),
//!     otherwise `1111` + 64 bits; then the value XOR.
//!   * value XOR, as in Gorilla: `0` for an unchanged value; `10` + bits inside the
//!     previous window; `11` + 5 bits leading zeros (clamped to 31) + 6 bits
//!     significant length (64 written as 0) + the significant bits. The writer
//!     opens a new window for the first XOR; the reader starts from a window
//!     of leading = trailing = 0, as Prometheus' iterator does.
//!   * the last byte is zero padded.
//!
//! Differences from Prometheus' reader, both on input its writer never
//! produces: a window with leading + length > 64 is rejected as
//! [`Error::Corrupt`] (Prometheus silently wraps `uint8` arithmetic), and
//! whole unused bytes after the last sample give [`Error::TrailingBytes`].
//! Timestamps need not be sorted: wrapping arithmetic keeps any sequence lossless.

use crate::Point;
use crate::bitstream::{BitReader, BitWriter};
use crate::error::{Error, Result};
use crate::gorilla::{XorDecoder, XorEncoder};

/// Most samples a Prometheus XOR chunk can declare (its header is a `u16`).
pub const MAX_SAMPLES: usize = u16::MAX as usize;

/// Prometheus' `bitRange`: whether `x` fits the `n`-bit bucket.
fn bit_range(x: i64, n: u32) -> bool {
    -((1i64 << (n - 1)) - 1) <= x && x <= 1i64 << (n - 1)
}

fn write_uvarint(w: &mut BitWriter, mut v: u64) {
    while v >= 0x80 {
        w.write_bits((v & 0x7F) | 0x80, 8);
        v >>= 7;
    }
    w.write_bits(v, 8);
}

fn read_uvarint(r: &mut BitReader<'_>) -> Result<u64> {
    let mut x = 0u64;
    let mut shift = 0u32;
    for i in 0..10 {
        let b = r.read_bits(8)?;
        if b < 0x80 {
            if i == 9 && b > 1 {
                return Err(Error::Corrupt("prometheus: varint overflows 64 bits"));
            }
            return Ok(x | (b << shift));
        }
        x |= (b & 0x7F) << shift;
        shift += 7;
    }
    Err(Error::Corrupt("prometheus: varint overflows 64 bits"))
}

/// Encodes samples as a Prometheus XOR chunk (`XORChunk.Bytes()`).
///
/// ```
/// use blocksmith_tsz::prometheus;
///
/// let samples = [(1_000, 1.0), (2_000, 1.0), (3_000, 2.0), (4_010, 2.0)];
/// let bytes = prometheus::encode(&samples)?;
/// assert_eq!(&bytes[..2], &[0x00, 0x04]); // big-endian sample count
/// assert_eq!(prometheus::decode(&bytes)?, samples);
/// # Ok::<(), blocksmith_tsz::Error>(())
/// ```
///
/// # Errors
/// [`Error::TooManyPoints`] for more than [`MAX_SAMPLES`] samples.
pub fn encode(samples: &[Point]) -> Result<Vec<u8>> {
    if samples.len() > MAX_SAMPLES {
        return Err(Error::TooManyPoints {
            count: samples.len(),
            max: MAX_SAMPLES,
        });
    }
    let mut w = BitWriter::with_capacity(samples.len() * 2 + 16);
    w.write_bits(samples.len() as u64, 16);
    let mut xor = XorEncoder::default();
    let mut prev_t = 0i64;
    let mut prev_delta = 0u64;
    for (i, &(t, v)) in samples.iter().enumerate() {
        match i {
            0 => {
                write_uvarint(&mut w, ((t << 1) ^ (t >> 63)) as u64);
                xor.first(&mut w, v.to_bits());
            }
            1 => {
                prev_delta = t.wrapping_sub(prev_t) as u64;
                write_uvarint(&mut w, prev_delta);
                xor.next(&mut w, v.to_bits());
            }
            _ => {
                let delta = t.wrapping_sub(prev_t) as u64;
                let dod = delta.wrapping_sub(prev_delta) as i64;
                prev_delta = delta;
                if dod == 0 {
                    w.write_bit(false);
                } else if bit_range(dod, 14) {
                    w.write_bits(0b10, 2);
                    w.write_bits(dod as u64, 14);
                } else if bit_range(dod, 17) {
                    w.write_bits(0b110, 3);
                    w.write_bits(dod as u64, 17);
                } else if bit_range(dod, 20) {
                    w.write_bits(0b1110, 4);
                    w.write_bits(dod as u64, 20);
                } else {
                    w.write_bits(0b1111, 4);
                    w.write_bits(dod as u64, 64);
                }
                xor.next(&mut w, v.to_bits());
            }
        }
        prev_t = t;
    }
    Ok(w.finish())
}

fn read_bucket(r: &mut BitReader<'_>, n: u32) -> Result<i64> {
    let bits = r.read_bits(n)?;
    Ok(if bits > 1 << (n - 1) {
        bits.wrapping_sub(1 << n) as i64
    } else {
        bits as i64
    })
}

/// Decodes a Prometheus XOR chunk (`XORChunk.Bytes()`) into samples.
///
/// # Errors
/// [`Error::Truncated`] when the bytes end before the declared sample count,
/// [`Error::Corrupt`] for invalid varints or XOR windows,
/// [`Error::TrailingBytes`] for whole unused bytes after the last sample.
pub fn decode(bytes: &[u8]) -> Result<Vec<Point>> {
    let [hi, lo, ..] = *bytes else {
        return Err(Error::Truncated("prometheus: sample count"));
    };
    let count = usize::from(u16::from_be_bytes([hi, lo]));
    let mut r = BitReader::new(&bytes[2..]);
    // Sample 0 takes at least 72 bits, every other one at least 2.
    let bits = r.bits_remaining();
    if count > 0 && (bits < 72 || count - 1 > (bits - 72) / 2) {
        return Err(Error::Truncated(
            "prometheus: too few bytes for sample count",
        ));
    }
    let mut out = Vec::with_capacity(count);
    if count > 0 {
        let mut t = crate::bytes_io::unzigzag(read_uvarint(&mut r)?);
        let mut xor = XorDecoder::prometheus(r.read_bits(64)?);
        out.push((t, f64::from_bits(xor.next_first())));
        let mut delta = 0u64;
        for i in 1..count {
            if i == 1 {
                delta = read_uvarint(&mut r)?;
            } else {
                let ctl = r.peek(4) as u8;
                let dod = match (ctl << 4).leading_ones().min(4) {
                    0 => {
                        r.consume(1)?;
                        0
                    }
                    1 => {
                        r.consume(2)?;
                        read_bucket(&mut r, 14)?
                    }
                    2 => {
                        r.consume(3)?;
                        read_bucket(&mut r, 17)?
                    }
                    3 => {
                        r.consume(4)?;
                        read_bucket(&mut r, 20)?
                    }
                    _ => {
                        r.consume(4)?;
                        r.read_bits(64)? as i64
                    }
                };
                delta = delta.wrapping_add(dod as u64);
            }
            t = t.wrapping_add(delta as i64);
            out.push((t, f64::from_bits(xor.next(&mut r)?)));
        }
    }
    let left = r.bits_remaining();
    if left >= 8 {
        return Err(Error::TrailingBytes(left / 8));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand-assembled from the layout above (see the test's comments), not
    /// produced by Prometheus itself.
    #[test]
    fn hand_assembled_vector() {
        // count = 4                                   -> 00 04
        // t0 = 1000: zigzag 2000 = 0x7D0 -> LEB128    -> D0 0F
        // v0 = 1.0 = 0x3FF0_0000_0000_0000            -> 3F F0 00 00 00 00 00 00
        // t1 - t0 = 1000 -> LEB128                    -> E8 07
        // bits: v1 same '0' | dod 0 '0' | v2 = 2.0: XOR 0x7FF0.. -> '11' 00001 001011 11111111111
        //       | dod 10: '10' 00000000001010 | v3 same '0' | pad
        //   0011_0000 1001_0111 1111_1111 1110_0000 0000_0010 1000_0000
        let expected = [
            0x00, 0x04, 0xD0, 0x0F, 0x3F, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xE8, 0x07,
            0x30, 0x97, 0xFF, 0xE0, 0x02, 0x80,
        ];
        let samples = [(1_000, 1.0), (2_000, 1.0), (3_000, 2.0), (4_010, 2.0)];
        assert_eq!(encode(&samples).unwrap(), expected);
        assert_eq!(decode(&expected).unwrap(), samples);
    }

    #[test]
    fn buckets_and_extremes() {
        let mut samples = vec![(i64::MAX, f64::NAN), (i64::MIN, -0.0), (0, f64::INFINITY)];
        let mut t = 0i64;
        for (i, step) in [
            1i64,
            8192,
            8193,
            -8191,
            -8192,
            65536,
            65537,
            524_288,
            524_289,
            1 << 40,
        ]
        .iter()
        .enumerate()
        {
            t += step;
            samples.push((t, f64::from_bits(i as u64 * 0x0123_4567_89AB_CDEF)));
        }
        let bytes = encode(&samples).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back.len(), samples.len());
        for (a, b) in samples.iter().zip(&back) {
            assert_eq!(a.0, b.0);
            assert_eq!(a.1.to_bits(), b.1.to_bits());
        }
        assert_eq!(decode(&[0, 0]).unwrap(), vec![]);
        assert!(decode(&[0]).is_err());
        assert!(decode(&[0, 5, 1, 2]).is_err());
    }
}
