//! Byte-level helpers: a bounds-checked reader and LEB128 / zigzag varints.

use crate::error::{Error, Result};

/// Maps a signed integer to an unsigned one so that small magnitudes stay small.
#[inline]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
#[inline]
pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Appends `v` as an unsigned LEB128 varint (the same bytes as Go's `binary.PutUvarint`).
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends `v` zigzag-encoded as a varint (the same bytes as Go's `binary.PutVarint`).
pub(crate) fn put_varint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

/// A forward-only, bounds-checked reader over a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct ByteReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// Bytes not consumed yet.
    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Takes the next `n` bytes.
    #[inline]
    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Error::Truncated(what));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    #[inline]
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8> {
        Ok(self.take(1, what)?[0])
    }

    #[inline]
    pub(crate) fn u16_le(&mut self, what: &'static str) -> Result<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// Reads an unsigned LEB128 varint with Go's `binary.ReadUvarint` rules:
    /// at most 10 bytes, and the 10th byte may only be 0 or 1.
    pub(crate) fn uvarint(&mut self, what: &'static str) -> Result<u64> {
        let mut x = 0u64;
        let mut shift = 0u32;
        for i in 0..10 {
            let b = self.u8(what)?;
            if b < 0x80 {
                if i == 9 && b > 1 {
                    return Err(Error::Corrupt("varint overflows 64 bits"));
                }
                return Ok(x | (u64::from(b) << shift));
            }
            x |= u64::from(b & 0x7F) << shift;
            shift += 7;
        }
        Err(Error::Corrupt("varint overflows 64 bits"))
    }

    /// Reads a zigzag varint (Go's `binary.ReadVarint`).
    pub(crate) fn varint(&mut self, what: &'static str) -> Result<i64> {
        Ok(unzigzag(self.uvarint(what)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip() {
        for v in [
            0u64,
            1,
            127,
            128,
            300,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_uvarint(&mut b, v);
            let mut r = ByteReader::new(&b);
            assert_eq!(r.uvarint("t").unwrap(), v);
            assert_eq!(r.remaining(), 0);
        }
        for v in [0i64, -1, 1, -64, 64, i64::MIN, i64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(ByteReader::new(&b).varint("t").unwrap(), v);
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        // Go's examples: PutVarint(-1) == [0x01], PutVarint(1) == [0x02], PutUvarint(300) == [0xAC, 0x02].
        let mut b = Vec::new();
        put_varint(&mut b, -1);
        put_varint(&mut b, 1);
        put_uvarint(&mut b, 300);
        assert_eq!(b, [0x01, 0x02, 0xAC, 0x02]);
    }

    #[test]
    fn varint_overflow_and_truncation() {
        assert!(matches!(
            ByteReader::new(&[0xFF; 11]).uvarint("t"),
            Err(Error::Corrupt(_))
        ));
        let mut ten = [0xFFu8; 10];
        ten[9] = 0x02;
        assert!(ByteReader::new(&ten).uvarint("t").is_err());
        assert!(matches!(
            ByteReader::new(&[0x80]).uvarint("t"),
            Err(Error::Truncated(_))
        ));
    }
}
