//! Little binary helpers shared by every decoder: LEB128 varints, zigzag and a
//! bounds-checked reader that turns every short or malformed input into a typed
//! error.

use crate::{Error, Result};

/// Appends `v` as an unsigned LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Zigzag-maps a signed integer so small magnitudes stay short.
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Appends a signed integer as a zigzag varint.
pub(crate) fn put_ivarint(out: &mut Vec<u8>, v: i64) {
    put_varint(out, zigzag(v));
}

/// A cursor over untrusted bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8], what: &'static str) -> Self {
        Self { buf, pos: 0, what }
    }

    pub(crate) fn corrupt(&self, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            what: self.what,
            reason: format!("{} (at byte {})", reason.into(), self.pos),
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or_else(|| self.corrupt("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.remaining() < n {
            return Err(self.corrupt(format!("truncated: need {n} bytes")));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn varint(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let low = u64::from(b & 0x7f);
            if shift == 63 && low > 1 {
                return Err(self.corrupt("varint overflows 64 bits"));
            }
            v |= low << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.corrupt("varint longer than 10 bytes"))
    }

    pub(crate) fn ivarint(&mut self) -> Result<i64> {
        Ok(unzigzag(self.varint()?))
    }

    pub(crate) fn u32v(&mut self) -> Result<u32> {
        let v = self.varint()?;
        u32::try_from(v).map_err(|_| self.corrupt(format!("{v} does not fit 32 bits")))
    }

    /// A length that must be coverable by the remaining bytes at
    /// `min_bytes_each` bytes per element (bounds allocations by input size).
    pub(crate) fn len(&mut self, min_bytes_each: usize) -> Result<usize> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| self.corrupt("length overflows"))?;
        if n.saturating_mul(min_bytes_each.max(1)) > self.remaining() {
            return Err(self.corrupt(format!("length {n} exceeds the remaining input")));
        }
        Ok(n)
    }

    pub(crate) fn f64(&mut self) -> Result<f64> {
        let b = self.bytes(8)?;
        let v = f64::from_le_bytes(b.try_into().expect("8 bytes"));
        if v.is_finite() {
            Ok(v)
        } else {
            Err(self.corrupt("non-finite float"))
        }
    }

    pub(crate) fn finish(&self) -> Result<()> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.corrupt(format!("{} trailing bytes", self.remaining())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn varints_round_trip(a: u64, b: i64) {
            let mut out = Vec::new();
            put_varint(&mut out, a);
            put_ivarint(&mut out, b);
            let mut r = Reader::new(&out, "test");
            prop_assert_eq!(r.varint().unwrap(), a);
            prop_assert_eq!(r.ivarint().unwrap(), b);
            prop_assert!(r.finish().is_ok());
        }

        #[test]
        fn hostile_varints_are_errors(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut r = Reader::new(&bytes, "test");
            while !r.is_empty() {
                if r.varint().is_err() { break; }
            }
        }
    }

    #[test]
    fn overlong_varint_rejected() {
        let bytes = [0xff; 11];
        assert!(Reader::new(&bytes, "t").varint().is_err());
        let mut max = Vec::new();
        put_varint(&mut max, u64::MAX);
        assert_eq!(Reader::new(&max, "t").varint().unwrap(), u64::MAX);
        let mut bad = max.clone();
        bad[9] = 0x02;
        assert!(Reader::new(&bad, "t").varint().is_err());
    }
}
