//! MSB-first bit streams, as used by the Gorilla paper and Prometheus' `bstream`.

use crate::error::{Error, Result};

/// Writes bits most-significant first into a byte vector.
#[derive(Debug, Default, Clone)]
pub(crate) struct BitWriter {
    buf: Vec<u8>,
    /// Pending bits live in the low `n` bits of `acc` (`n < 8` between calls).
    acc: u64,
    n: u32,
}

impl BitWriter {
    pub(crate) fn with_capacity(bytes: usize) -> Self {
        Self {
            buf: Vec::with_capacity(bytes),
            acc: 0,
            n: 0,
        }
    }

    /// Number of bits written so far.
    #[cfg(test)]
    pub(crate) fn bit_len(&self) -> usize {
        self.buf.len() * 8 + self.n as usize
    }

    /// Writes the low `k` bits of `v` (`k <= 64`), most significant first.
    #[inline]
    pub(crate) fn write_bits(&mut self, v: u64, k: u32) {
        debug_assert!(k <= 64);
        if k > 56 {
            self.write_bits(v >> 32, k - 32);
            self.write_bits(v & 0xFFFF_FFFF, 32);
            return;
        }
        if k == 0 {
            return;
        }
        let masked = v & (u64::MAX >> (64 - k));
        self.acc = (self.acc << k) | masked;
        self.n += k;
        while self.n >= 8 {
            self.n -= 8;
            self.buf.push((self.acc >> self.n) as u8);
        }
    }

    #[inline]
    pub(crate) fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Flushes the last partial byte (zero padded) and returns the bytes.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.buf.push((self.acc << (8 - self.n)) as u8);
        }
        self.buf
    }
}

/// Reads bits most-significant first from a byte slice; never reads out of bounds.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Next byte of `data` to load into `acc`.
    pos: usize,
    /// Left-aligned bit buffer; the top `bits` bits are valid.
    acc: u64,
    bits: u32,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self {
            data,
            pos: 0,
            acc: 0,
            bits: 0,
        }
    }

    /// Bits not consumed yet.
    pub(crate) fn bits_remaining(&self) -> usize {
        self.bits as usize + (self.data.len() - self.pos) * 8
    }

    /// Tops up the buffer to at least 57 bits when the input allows it.
    #[inline]
    fn refill(&mut self) {
        if let Some(w) = self.data.get(self.pos..self.pos + 8) {
            let mut a = [0u8; 8];
            a.copy_from_slice(w);
            // Bits past the claimed bytes are real stream bits too, so OR-ing
            // them again on the next refill is harmless.
            self.acc |= u64::from_be_bytes(a) >> self.bits;
            let take = (63 - self.bits) / 8;
            self.pos += take as usize;
            self.bits += take * 8;
        } else {
            while self.bits <= 56 && self.pos < self.data.len() {
                self.acc |= u64::from(self.data[self.pos]) << (56 - self.bits);
                self.bits += 8;
                self.pos += 1;
            }
        }
    }

    /// Returns the next `k` bits (`1 <= k <= 56`) without consuming them,
    /// zero padded past the end of input.
    #[inline]
    pub(crate) fn peek(&mut self, k: u32) -> u64 {
        debug_assert!((1..=56).contains(&k));
        if self.bits < k {
            self.refill();
        }
        self.acc >> (64 - k)
    }

    /// Consumes `k` bits previously seen through [`Self::peek`].
    #[inline]
    pub(crate) fn consume(&mut self, k: u32) -> Result<()> {
        if self.bits < k {
            return Err(Error::Truncated("bit stream"));
        }
        self.acc = if k == 64 { 0 } else { self.acc << k };
        self.bits -= k;
        Ok(())
    }

    /// Reads `k` bits, `0 <= k <= 64`.
    #[inline]
    pub(crate) fn read_bits(&mut self, k: u32) -> Result<u64> {
        if k > 56 {
            let hi = self.read_bits(k - 32)?;
            let lo = self.read_bits(32)?;
            return Ok((hi << 32) | lo);
        }
        if k == 0 {
            return Ok(0);
        }
        if self.bits < k {
            self.refill();
            if self.bits < k {
                return Err(Error::Truncated("bit stream"));
            }
        }
        let v = self.acc >> (64 - k);
        self.acc <<= k;
        self.bits -= k;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_mixed_widths() {
        let mut w = BitWriter::default();
        let items: Vec<(u64, u32)> = (0..2000u64)
            .map(|i| {
                let k = (i * 13 % 65) as u32;
                let v = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                (if k == 64 { v } else { v & ((1u64 << k) - 1) }, k)
            })
            .collect();
        for &(v, k) in &items {
            w.write_bits(v, k);
        }
        let total = w.bit_len();
        let bytes = w.finish();
        assert_eq!(bytes.len(), total.div_ceil(8));
        let mut r = BitReader::new(&bytes);
        for &(v, k) in &items {
            assert_eq!(r.read_bits(k).unwrap(), v, "width {k}");
        }
        assert!(r.bits_remaining() < 8);
        assert!(r.read_bits(8).is_err());
    }

    #[test]
    fn known_layout() {
        let mut w = BitWriter::default();
        w.write_bits(0b101, 3);
        w.write_bits(0x1F, 5);
        w.write_bit(true);
        assert_eq!(w.finish(), vec![0b1011_1111, 0b1000_0000]);
    }
}
