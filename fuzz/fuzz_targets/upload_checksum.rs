//! `Upload-Checksum` and `Upload-Metadata` parsers: no panic, and parsed
//! values re-encode to something that parses back the same.
#![no_main]

use blocksmith_upload::Checksum;
use blocksmith_upload::tus::{encode_metadata, parse_metadata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(c) = Checksum::parse_tus(&s) {
        assert_eq!(Checksum::parse_tus(&c.to_tus()).unwrap(), c);
    }
    if let Ok(m) = parse_metadata(&s) {
        assert_eq!(parse_metadata(&encode_metadata(&m)).unwrap(), m);
    }
});
