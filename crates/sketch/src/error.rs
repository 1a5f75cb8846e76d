//! The crate's error type and a bounds-checked reader for hostile bytes.

/// Everything that can go wrong in `blocksmith-sketch`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Serialized bytes ended before the structure they describe.
    #[error("{what}: truncated input (need {needed} bytes, have {available})")]
    Truncated {
        /// What was being decoded.
        what: &'static str,
        /// Bytes the header promised.
        needed: usize,
        /// Bytes present.
        available: usize,
    },
    /// Serialized bytes are malformed or inconsistent.
    #[error("{what}: corrupt input: {reason}")]
    Corrupt {
        /// What was being decoded.
        what: &'static str,
        /// Why it was rejected.
        reason: String,
    },
    /// Bytes of another sketch family, serial version or hash seed.
    #[error("{what}: unsupported format: {reason}")]
    Unsupported {
        /// What was being decoded.
        what: &'static str,
        /// What is not supported.
        reason: String,
    },
    /// A parameter is out of its documented range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Two sketches cannot be merged (different parameters or seeds).
    #[error("incompatible sketches: {0}")]
    Incompatible(String),
    /// A stream event was rejected (for example a late event under the `Reject` policy).
    #[error("rejected event: {0}")]
    Rejected(String),
    /// A failure of the underlying store.
    #[error(transparent)]
    Store(#[from] blocksmith_store::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn corrupt(what: &'static str, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        what,
        reason: reason.into(),
    }
}

pub(crate) fn unsupported(what: &'static str, reason: impl Into<String>) -> Error {
    Error::Unsupported {
        what,
        reason: reason.into(),
    }
}

/// A little-endian reader over hostile bytes: every read is bounds-checked.
pub(crate) struct Reader<'a> {
    what: &'static str,
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(what: &'static str, buf: &'a [u8]) -> Self {
        Reader { what, buf, pos: 0 }
    }
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    /// Fails unless at least `n` more bytes are present (checked before allocating).
    pub(crate) fn need(&self, n: usize) -> Result<()> {
        if self.remaining() < n {
            return Err(Error::Truncated {
                what: self.what,
                needed: self.pos.saturating_add(n),
                available: self.buf.len(),
            });
        }
        Ok(())
    }
    /// Like [`Reader::need`] for `count` items of `size` bytes, overflow-safe.
    pub(crate) fn need_items(&self, count: usize, size: usize) -> Result<()> {
        match count.checked_mul(size) {
            Some(n) => self.need(n),
            None => Err(corrupt(self.what, "length overflows")),
        }
    }
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        self.need(n)?;
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    pub(crate) fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    pub(crate) fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(crate) fn u64(&mut self) -> Result<u64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    pub(crate) fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64()?))
    }
    pub(crate) fn skip(&mut self, n: usize) -> Result<()> {
        self.bytes(n).map(drop)
    }
    pub(crate) fn corrupt(&self, reason: impl Into<String>) -> Error {
        corrupt(self.what, reason)
    }
}
