//! Small text encodings: hex (records), Crockford base32 (human-typed keys),
//! base62 (API keys). Decoders return typed errors on any input.

use crate::{Error, Result};
use zeroize::Zeroizing;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex.
pub(crate) fn hex_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes hex (either case).
pub(crate) fn hex_decode(what: &'static str, s: &str) -> Result<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return Err(Error::malformed(what, "odd number of hex digits"));
    }
    b.chunks_exact(2)
        .map(|p| match (hex_val(p[0]), hex_val(p[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(Error::malformed(what, "not a hex digit")),
        })
        .collect()
}

/// Decodes hex into exactly `N` bytes.
pub(crate) fn hex_array<const N: usize>(what: &'static str, s: &str) -> Result<[u8; N]> {
    hex_decode(what, s)?
        .try_into()
        .map_err(|_| Error::malformed(what, "wrong length"))
}

/// serde adapter: `Vec<u8>` as a hex string.
pub(crate) mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::hex_encode(v))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        super::hex_decode("hex field", &s).map_err(serde::de::Error::custom)
    }
}

/// serde adapter: `Option<Vec<u8>>` as an optional hex string.
pub(crate) mod hex_opt {
    use serde::{Deserialize, Deserializer, Serializer};

    #[allow(clippy::ref_option)] // serde's `with` passes `&Option<T>`
    pub(crate) fn serialize<S: Serializer>(v: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_some(&super::hex_encode(v)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| super::hex_decode("hex field", &s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Crockford's base32 alphabet (no I, L, O, U).
const B32: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Base32 (Crockford), upper case, no padding; the last character carries
/// zero bits when `bytes.len() * 8` is not a multiple of 5.
pub(crate) fn base32_encode(bytes: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(bytes.len() * 8 / 5 + 1));
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(B32[((acc >> bits) & 31) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(B32[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

fn base32_val(c: u8) -> Option<u32> {
    let c = c.to_ascii_uppercase();
    let c = match c {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        _ => c,
    };
    B32.iter().position(|&x| x == c).map(|p| p as u32)
}

/// Decodes exactly `n` bytes of Crockford base32 (case-insensitive, `O`
/// read as `0`, `I`/`L` as `1`); the unused trailing bits must be zero.
pub(crate) fn base32_decode(what: &'static str, s: &[u8], n: usize) -> Result<Zeroizing<Vec<u8>>> {
    if s.len() != (n * 8).div_ceil(5) {
        return Err(Error::malformed(what, "wrong length"));
    }
    let mut out = Zeroizing::new(Vec::with_capacity(n));
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in s {
        let v = base32_val(c).ok_or_else(|| Error::malformed(what, "not a base32 character"))?;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if acc != 0 {
        return Err(Error::malformed(what, "non-zero padding bits"));
    }
    Ok(out)
}

/// Base62 alphabet: digits, upper, lower.
pub(crate) const B62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `n` uniformly random base62 characters (rejection sampling, no modulo bias).
pub(crate) fn random_base62(n: usize) -> Result<Zeroizing<String>> {
    let mut out = Zeroizing::new(String::with_capacity(n));
    let mut buf = Zeroizing::new([0u8; 64]);
    while out.len() < n {
        crate::secret::fill_random(&mut buf[..])?;
        for &b in buf.iter() {
            // 248 = 4 * 62: values above are rejected so every char is equally likely.
            if b < 248 && out.len() < n {
                out.push(B62[usize::from(b % 62)] as char);
            }
        }
    }
    Ok(out)
}

/// `v` in base62, left-padded with `0` to `width` characters.
pub(crate) fn base62_fixed(mut v: u64, width: usize) -> String {
    let mut chars = vec![b'0'; width];
    for slot in chars.iter_mut().rev() {
        *slot = B62[(v % 62) as usize];
        v /= 62;
    }
    String::from_utf8(chars).unwrap_or_default()
}

/// True when every byte is a base62 character.
pub(crate) fn is_base62(s: &[u8]) -> bool {
    s.iter().all(u8::is_ascii_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hex_known() {
        assert_eq!(hex_encode(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(hex_decode("t", "00ABff").unwrap(), vec![0, 0xab, 0xff]);
        assert!(hex_decode("t", "0").is_err());
        assert!(hex_decode("t", "zz").is_err());
    }

    #[test]
    fn base32_known() {
        // 5 bytes = 40 bits = 8 characters exactly.
        assert_eq!(&*base32_encode(&[0xff; 5]), "ZZZZZZZZ");
        assert_eq!(&*base32_encode(&[0; 5]), "00000000");
        assert_eq!(
            &**base32_decode("t", b"zzzzzzzz", 5).unwrap(),
            &[0xff; 5][..]
        );
        assert_eq!(&**base32_decode("t", b"oooooooo", 5).unwrap(), &[0; 5][..]);
        // 1 byte = 2 chars with 2 padding bits that must be zero.
        assert!(base32_decode("t", b"ZZ", 1).is_err());
        assert_eq!(&**base32_decode("t", b"ZW", 1).unwrap(), &[0xff][..]);
        assert!(base32_decode("t", b"U0", 1).is_err());
    }

    #[test]
    fn base62_fixed_width() {
        assert_eq!(base62_fixed(0, 6), "000000");
        assert_eq!(base62_fixed(61, 2), "0z");
        assert_eq!(base62_fixed(u64::from(u32::MAX), 6), "4gfFC3");
        let r = random_base62(40).unwrap();
        assert_eq!(r.len(), 40);
        assert!(is_base62(r.as_bytes()));
    }

    proptest! {
        #[test]
        fn hex_roundtrip(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(hex_decode("t", &hex_encode(&b)).unwrap(), b);
        }

        #[test]
        fn base32_roundtrip(b in proptest::collection::vec(any::<u8>(), 0..64)) {
            let s = base32_encode(&b);
            prop_assert_eq!(&**base32_decode("t", s.as_bytes(), b.len()).unwrap(), &b[..]);
        }

        #[test]
        fn base32_hostile(s in proptest::collection::vec(any::<u8>(), 0..40), n in 0usize..30) {
            let _ = base32_decode("t", &s, n);
        }
    }
}
