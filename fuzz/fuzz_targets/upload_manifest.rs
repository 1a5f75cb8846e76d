//! The dedup manifest decoder: typed errors on hostile bytes, and whatever it
//! accepts re-encodes to the same bytes.
#![no_main]

use blocksmith_upload::manifest::Manifest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::decode(data) {
        assert_eq!(m.encode(), data);
        assert_eq!(
            m.chunks.iter().map(|c| u64::from(c.len)).sum::<u64>(),
            m.length
        );
    }
});
