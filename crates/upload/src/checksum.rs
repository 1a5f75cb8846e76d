//! Checksums of parts and whole uploads (the tus `checksum` extension's
//! algorithms plus CRC-32C).

use crate::{Error, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use sha1::Digest as _;
use std::fmt;

/// A checksum algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Algorithm {
    /// SHA-1 (what most tus clients send).
    Sha1,
    /// SHA-256.
    Sha256,
    /// CRC-32C (Castagnoli), 4 bytes big-endian: fast, catches corruption, not tampering.
    Crc32c,
}

impl Algorithm {
    /// Every algorithm, in the order advertised by `Tus-Checksum-Algorithm`.
    pub const ALL: [Algorithm; 3] = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Crc32c];

    /// The name used on the wire (`sha1`, `sha256`, `crc32c`).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
            Algorithm::Crc32c => "crc32c",
        }
    }

    /// Parses a wire name (case-insensitive).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// Digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
            Algorithm::Crc32c => 4,
        }
    }

    /// Starts an incremental hash.
    pub fn hasher(self) -> Hasher {
        Hasher(match self {
            Algorithm::Sha1 => State::Sha1(sha1::Sha1::new()),
            Algorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
            Algorithm::Crc32c => State::Crc32c(0),
        })
    }

    /// The checksum of `data`.
    pub fn digest(self, data: &[u8]) -> Checksum {
        let mut h = self.hasher();
        h.update(data);
        h.finish()
    }
}

/// An incremental checksum computation.
#[derive(Clone)]
pub struct Hasher(State);

#[derive(Clone)]
enum State {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Crc32c(u32),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hasher")
    }
}

/// A hasher is a sink for [`std::io::copy`]: streaming a file through it
/// costs one buffer of memory.
///
/// ```
/// use blocksmith_upload::Algorithm;
/// let mut h = Algorithm::Crc32c.hasher();
/// std::io::copy(&mut &b"123456789"[..], &mut h).unwrap();
/// assert_eq!(h.finish().hex(), "e3069283");
/// ```
impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Hasher {
    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.0 {
            State::Sha1(h) => h.update(data),
            State::Sha256(h) => h.update(data),
            State::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
        }
    }

    /// The checksum of everything fed.
    pub fn finish(self) -> Checksum {
        match self.0 {
            State::Sha1(h) => Checksum {
                algorithm: Algorithm::Sha1,
                digest: h.finalize().to_vec(),
            },
            State::Sha256(h) => Checksum {
                algorithm: Algorithm::Sha256,
                digest: h.finalize().to_vec(),
            },
            State::Crc32c(c) => Checksum {
                algorithm: Algorithm::Crc32c,
                digest: c.to_be_bytes().to_vec(),
            },
        }
    }
}

/// A digest with its algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Checksum {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The raw digest bytes.
    pub digest: Vec<u8>,
}

impl Checksum {
    /// Builds a checksum, checking the digest length.
    ///
    /// # Errors
    /// [`Error::Invalid`] if `digest` is not the algorithm's digest length.
    pub fn new(algorithm: Algorithm, digest: Vec<u8>) -> Result<Self> {
        if digest.len() != algorithm.digest_len() {
            return Err(Error::invalid(
                "checksum",
                format!(
                    "{} digest must be {} bytes, got {}",
                    algorithm.name(),
                    algorithm.digest_len(),
                    digest.len()
                ),
            ));
        }
        Ok(Checksum { algorithm, digest })
    }

    /// Parses the tus `Upload-Checksum` form: `<algorithm> <base64 digest>`.
    ///
    /// # Errors
    /// [`Error::Invalid`] if `value` is not `<algorithm> <base64>`, the algorithm
    /// is not `sha1`, `sha256` or `crc32c`, the base64 does not decode, or the
    /// digest has the wrong length.
    pub fn parse_tus(value: &str) -> Result<Self> {
        let (name, b64) = value
            .trim()
            .split_once(' ')
            .ok_or_else(|| Error::invalid("checksum", "expected `<algorithm> <base64>`"))?;
        let algorithm = Algorithm::from_name(name)
            .ok_or_else(|| Error::invalid("checksum", format!("unsupported algorithm {name:?}")))?;
        let digest = STANDARD
            .decode(b64.trim())
            .map_err(|e| Error::invalid("checksum", e.to_string()))?;
        Checksum::new(algorithm, digest)
    }

    /// The tus `Upload-Checksum` form.
    pub fn to_tus(&self) -> String {
        format!(
            "{} {}",
            self.algorithm.name(),
            STANDARD.encode(&self.digest)
        )
    }

    /// Lower-case hex of the digest.
    pub fn hex(&self) -> String {
        hex(&self.digest)
    }

    /// Whether `data` has this checksum.
    pub fn matches(&self, data: &[u8]) -> bool {
        self.algorithm.digest(data).digest == self.digest
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex())
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Parses lower- or upper-case hex of exactly `N` bytes.
pub(crate) fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let b = s.as_bytes();
    if b.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in b.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// SHA-256 of `data`.
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors_and_tus_form() {
        let c = Algorithm::Sha1.digest(b"abc");
        assert_eq!(c.hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(Checksum::parse_tus(&c.to_tus()).unwrap(), c);
        assert_eq!(Algorithm::Crc32c.digest(b"123456789").hex(), "e3069283");
        assert!(Checksum::parse_tus("md5 AAAA").is_err());
        assert!(Checksum::parse_tus("sha1 AAAA").is_err()); // wrong length
        assert!(Checksum::parse_tus("sha1").is_err());
        assert_eq!(unhex::<2>("0aFf"), Some([10, 255]));
        assert_eq!(unhex::<2>("0aF"), None);
    }
}
