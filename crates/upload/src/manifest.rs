//! The manifest of a deduplicated object: its chunks by hash, in order.
//!
//! Layout (integers little-endian):
//!
//! | bytes | field |
//! | --- | --- |
//! | 4 | magic `BSUM` |
//! | 1 | format, `1` |
//! | 4 | chunk count `n` |
//! | 8 | object length |
//! | 32 | SHA-256 of the object |
//! | 36 x n | per chunk: SHA-256 (32), length (4) |
//! | 4 | CRC-32C of everything before |

use crate::checksum::sha256;
use crate::{Error, Result};

const MAGIC: &[u8; 4] = b"BSUM";
const FORMAT: u8 = 1;
const HEADER: usize = 4 + 1 + 4 + 8 + 32;
const ENTRY: usize = 36;

/// One chunk of an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkRef {
    /// SHA-256 of the chunk's bytes.
    pub hash: [u8; 32],
    /// Its length (positive).
    pub len: u32,
}

/// An object as a list of chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Total length (the sum of the chunk lengths).
    pub length: u64,
    /// SHA-256 of the whole object.
    pub sha256: [u8; 32],
    /// The chunks, in order.
    pub chunks: Vec<ChunkRef>,
}

impl Manifest {
    /// The manifest of `data` cut at `spans` (which must tile `data`).
    ///
    /// # Errors
    /// [`Error::Invalid`] if `spans` do not tile `data` (a gap, an overlap, an
    /// empty span, one past the end or longer than `u32::MAX`) or do not cover it.
    pub fn build(
        data: &[u8],
        spans: impl IntoIterator<Item = std::ops::Range<usize>>,
    ) -> Result<Self> {
        let mut chunks = Vec::new();
        let mut next = 0;
        for r in spans {
            if r.start != next
                || r.end <= r.start
                || r.end > data.len()
                || r.len() > u32::MAX as usize
            {
                return Err(Error::invalid(
                    "manifest",
                    "chunk spans do not tile the data",
                ));
            }
            next = r.end;
            chunks.push(ChunkRef {
                hash: sha256(&data[r.clone()]),
                len: r.len() as u32,
            });
        }
        if next != data.len() {
            return Err(Error::invalid(
                "manifest",
                "chunk spans do not cover the data",
            ));
        }
        Ok(Manifest {
            length: data.len() as u64,
            sha256: sha256(data),
            chunks,
        })
    }

    /// Encodes the manifest.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + ENTRY * self.chunks.len() + 4);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT);
        out.extend_from_slice(&(self.chunks.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.length.to_le_bytes());
        out.extend_from_slice(&self.sha256);
        for c in &self.chunks {
            out.extend_from_slice(&c.hash);
            out.extend_from_slice(&c.len.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and checks a manifest: framing, checksum, and that the chunk
    /// lengths are positive and add up to the object length.
    ///
    /// # Errors
    /// [`Error::Invalid`] if `bytes` are truncated, have another magic or
    /// format byte, fail their CRC-32C, hold a chunk count that does not match
    /// their size, an empty chunk, or chunk lengths that do not add up to the
    /// object length.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let bad = |r: &str| Error::invalid("manifest", r);
        if bytes.len() < HEADER + 4 {
            return Err(bad("truncated"));
        }
        if &bytes[..4] != MAGIC {
            return Err(bad("bad magic"));
        }
        if bytes[4] != FORMAT {
            return Err(bad("unknown format"));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        if crc32c::crc32c(body).to_le_bytes() != crc {
            return Err(bad("checksum mismatch"));
        }
        let field = |at: usize| body.get(at..).ok_or_else(|| bad("truncated"));
        let n =
            u32::from_le_bytes(*field(5)?.first_chunk().ok_or_else(|| bad("truncated"))?) as usize;
        if (body.len() - HEADER) != n.checked_mul(ENTRY).ok_or_else(|| bad("count overflow"))? {
            return Err(bad("chunk count does not match the size"));
        }
        let length = u64::from_le_bytes(*field(9)?.first_chunk().ok_or_else(|| bad("truncated"))?);
        let sha256: [u8; 32] = *field(17)?.first_chunk().ok_or_else(|| bad("truncated"))?;
        let mut chunks = Vec::with_capacity(n);
        let mut total = 0u64;
        for e in body[HEADER..].chunks_exact(ENTRY) {
            let (hash, rest) = e
                .split_first_chunk::<32>()
                .ok_or_else(|| bad("truncated"))?;
            let len = u32::from_le_bytes(*rest.first_chunk().ok_or_else(|| bad("truncated"))?);
            if len == 0 {
                return Err(bad("empty chunk"));
            }
            total += u64::from(len);
            chunks.push(ChunkRef { hash: *hash, len });
        }
        if total != length {
            return Err(bad("chunk lengths do not add up to the object length"));
        }
        Ok(Manifest {
            length,
            sha256,
            chunks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn roundtrip(data in proptest::collection::vec(any::<u8>(), 0..3000), cuts in proptest::collection::vec(1usize..500, 0..10)) {
            let mut spans = Vec::new();
            let mut at = 0;
            for c in cuts {
                if at + c >= data.len() { break; }
                spans.push(at..at + c);
                at += c;
            }
            if at < data.len() { spans.push(at..data.len()); }
            let m = Manifest::build(&data, spans).unwrap();
            let bytes = m.encode();
            prop_assert_eq!(Manifest::decode(&bytes).unwrap(), m);
        }

        #[test]
        fn hostile_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), flip in any::<usize>()) {
            let _ = Manifest::decode(&bytes);
            let mut good = Manifest::build(b"hello world", [0..5, 5..11]).unwrap().encode();
            let i = flip % good.len();
            good[i] ^= 0x40;
            prop_assert!(Manifest::decode(&good).is_err());
        }
    }
}
