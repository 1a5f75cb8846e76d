//! Typed records: serde values in a versioned envelope.
//!
//! Crates that keep structured state (a follow graph header, a config history
//! entry) store it as a record. The envelope names the record kind and its
//! schema version, so a reader that meets a record written by another schema
//! gets [`Error::SchemaMismatch`] instead of misreading it, and a migration can
//! [`peek`] the version and decode the payload the old way.
//!
//! Layout (all integers little-endian):
//!
//! | bytes | field |
//! | --- | --- |
//! | 4 | magic `BSRC` |
//! | 1 | envelope format, `1` |
//! | 1 | kind length `n` (1-64) |
//! | n | kind, UTF-8 |
//! | 4 | schema version |
//! | rest | payload, JSON |

use crate::{Error, Result};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

const MAGIC: &[u8; 4] = b"BSRC";
const FORMAT: u8 = 1;

/// A value stored as a typed record.
///
/// ```
/// use blocksmith_store::record::Record;
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct Profile { name: String }
/// impl Record for Profile {
///     const KIND: &'static str = "example.profile";
///     const VERSION: u32 = 1;
/// }
/// let bytes = blocksmith_store::record::encode(&Profile { name: "ada".into() }).unwrap();
/// let back: Profile = blocksmith_store::record::decode("k", &bytes).unwrap();
/// assert_eq!(back.name, "ada");
/// ```
pub trait Record: Serialize + DeserializeOwned {
    /// A stable name for the kind of record, 1-64 bytes (e.g. `"feed.inbox"`).
    const KIND: &'static str;
    /// The schema version; bump it when the serialized shape changes.
    const VERSION: u32;
}

/// The parts of an envelope, without decoding the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The record kind.
    pub kind: &'a str,
    /// The schema version it was written with.
    pub version: u32,
    /// The JSON payload.
    pub payload: &'a [u8],
}

/// Encodes a record.
///
/// `T::KIND` must be 1-64 bytes long: checked when the program is built
/// (a longer or empty kind fails to compile), never at run time.
///
/// ```compile_fail,E0080
/// use blocksmith_store::record::{Record, encode};
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Nameless;
/// impl Record for Nameless {
///     const KIND: &'static str = "";
///     const VERSION: u32 = 1;
/// }
/// let _ = encode(&Nameless);
/// ```
///
/// # Errors
/// [`Error::Serde`] if `value` does not serialize to JSON (a map with
/// non-string keys, a `Serialize` impl that fails).
pub fn encode<T: Record>(value: &T) -> Result<Bytes> {
    const {
        assert!(
            !T::KIND.is_empty() && T::KIND.len() <= 64,
            "Record::KIND must be 1-64 bytes"
        );
    }
    let kind = T::KIND.as_bytes();
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT);
    out.push(kind.len() as u8);
    out.extend_from_slice(kind);
    out.extend_from_slice(&T::VERSION.to_le_bytes());
    serde_json::to_writer(&mut out, value).map_err(|source| Error::Serde {
        key: T::KIND.to_string(),
        source,
    })?;
    Ok(Bytes::from(out))
}

/// Reads the envelope of stored bytes; `key` only labels errors.
///
/// # Errors
/// [`Error::Corrupt`] if `bytes` do not start with the record magic, have another envelope format,
/// are truncated, or have a kind that is empty, over 64 bytes or not UTF-8.
pub fn peek<'a>(key: &str, bytes: &'a [u8]) -> Result<Envelope<'a>> {
    let corrupt = |reason: &str| Error::Corrupt {
        key: key.to_string(),
        reason: reason.to_string(),
    };
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| corrupt("not a record (bad magic)"))?;
    let (&format, rest) = rest.split_first().ok_or_else(|| corrupt("truncated"))?;
    if format != FORMAT {
        return Err(corrupt(&format!("unknown envelope format {format}")));
    }
    let (&n, rest) = rest.split_first().ok_or_else(|| corrupt("truncated"))?;
    let n = usize::from(n);
    if n == 0 || n > 64 || rest.len() < n + 4 {
        return Err(corrupt("truncated or bad kind length"));
    }
    let kind = std::str::from_utf8(&rest[..n]).map_err(|_| corrupt("kind is not UTF-8"))?;
    let version = u32::from_le_bytes([rest[n], rest[n + 1], rest[n + 2], rest[n + 3]]);
    Ok(Envelope {
        kind,
        version,
        payload: &rest[n + 4..],
    })
}

/// Decodes a record, checking its kind and schema version.
///
/// # Errors
/// As [`peek`]; [`Error::Corrupt`] if the record is of another kind; [`Error::SchemaMismatch`] if
/// it has another schema version; [`Error::Serde`] if the payload does not deserialize as `T`.
pub fn decode<T: Record>(key: &str, bytes: &[u8]) -> Result<T> {
    let env = peek(key, bytes)?;
    if env.kind != T::KIND {
        return Err(Error::Corrupt {
            key: key.to_string(),
            reason: format!("record kind {:?}, expected {:?}", env.kind, T::KIND),
        });
    }
    if env.version != T::VERSION {
        return Err(Error::SchemaMismatch {
            key: key.to_string(),
            kind: env.kind.to_string(),
            expected: T::VERSION,
            found: env.version,
        });
    }
    serde_json::from_slice(env.payload).map_err(|source| Error::Serde {
        key: key.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    struct R {
        a: u64,
        b: String,
        c: Vec<i32>,
    }
    impl Record for R {
        const KIND: &'static str = "test.r";
        const VERSION: u32 = 3;
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct R4 {
        a: u64,
    }
    impl Record for R4 {
        const KIND: &'static str = "test.r";
        const VERSION: u32 = 4;
    }

    #[test]
    fn version_mismatch_is_reported() {
        let b = encode(&R {
            a: 1,
            b: "x".into(),
            c: vec![],
        })
        .unwrap();
        match decode::<R4>("k", &b) {
            Err(Error::SchemaMismatch {
                expected, found, ..
            }) => assert_eq!((expected, found), (4, 3)),
            other => panic!("{other:?}"),
        }
        let env = peek("k", &b).unwrap();
        assert_eq!((env.kind, env.version), ("test.r", 3));
    }

    proptest! {
        #[test]
        fn roundtrip(a: u64, b in ".{0,20}", c in proptest::collection::vec(any::<i32>(), 0..10)) {
            let r = R { a, b, c };
            let bytes = encode(&r).unwrap();
            prop_assert_eq!(decode::<R>("k", &bytes).unwrap(), r);
        }

        #[test]
        fn hostile_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode::<R>("k", &bytes);
            let mut framed = b"BSRC\x01".to_vec();
            framed.extend_from_slice(&bytes);
            let _ = decode::<R>("k", &framed);
        }
    }
}
