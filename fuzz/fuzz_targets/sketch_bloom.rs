//! Fuzz target: arbitrary bytes into the Bloom filter and exact-set
//! (roaring) decoders. Typed errors only, no allocation the input cannot back.
#![no_main]

use blocksmith_sketch::bloom::{BloomFilter, ExactSet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(f) = BloomFilter::from_bytes(data) {
        assert_eq!(BloomFilter::from_bytes(&f.to_bytes()).expect("decodes"), f);
        let _ = f.contains("x");
    }
    if let Ok(s) = ExactSet::from_bytes(data) {
        assert_eq!(ExactSet::from_bytes(&s.to_bytes()).expect("decodes"), s);
    }
});
