//! Integration tests of `blocksmith-upload`.

mod dedup;
mod faults;
mod images;
mod multipart;
mod ownership;
mod reader;
#[path = "../support/s3.rs"]
mod s3;
mod sessions;
mod strip;
mod tus;

use bytes::Bytes;

/// Deterministic pseudo-random bytes.
pub(crate) fn noise(n: usize, seed: u64) -> Bytes {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect::<Vec<u8>>()
        .into()
}
