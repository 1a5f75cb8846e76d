//! Helpers shared by the fuzz targets.

use blocksmith_store::record;

/// The record envelope's magic (see `blocksmith_store::record`).
const MAGIC: &[u8; 4] = b"BSRC";

/// What a store would hold for a typed record of `kind` and `version`, made from fuzz input.
///
/// Input that already starts with the envelope magic is used as is, so seeds copied out of a
/// store replay byte for byte and the envelope checks stay fuzzed. Anything else becomes the
/// JSON payload of a well-formed envelope of the right kind and version, so most mutations
/// reach the record's serde decoder instead of dying at the magic check.
///
/// # Panics
/// If the envelope built here does not read back as `kind`/`version` (the store's record
/// format changed: update this helper).
pub fn record_bytes(kind: &str, version: u32, data: &[u8]) -> Vec<u8> {
    if data.starts_with(MAGIC) {
        return data.to_vec();
    }
    let mut out = Vec::with_capacity(10 + kind.len() + data.len());
    out.extend_from_slice(MAGIC);
    out.push(1);
    out.push(kind.len() as u8);
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(data);
    let env = record::peek("fuzz", &out).expect("the envelope format changed");
    assert_eq!((env.kind, env.version, env.payload), (kind, version, data));
    out
}
