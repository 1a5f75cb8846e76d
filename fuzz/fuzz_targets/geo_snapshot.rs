//! Fuzz target: arbitrary bytes into the blocksmith-geo snapshot decoder.
//!
//! Decoding must return `Ok` or a typed `Err`, never panic, hang or allocate
//! without bound. `decode_unverified` skips the checksum so the fuzzer gets
//! past it into the structure checks; whatever decodes must re-encode and
//! decode again to the same bytes, and answer a query without panicking.
#![no_main]

use blocksmith_geo::{GeoOptions, HistoryOptions, LatLon, QueryFilter, snapshot};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = GeoOptions::default().with_history(Some(HistoryOptions::default()));
    let _ = snapshot::decode(data, options.clone());
    if let Ok(index) = snapshot::decode_unverified(data, options.clone()) {
        let bytes = snapshot::encode(&index);
        let again = snapshot::decode(&bytes, options).expect("our own encoding decodes");
        assert_eq!(snapshot::encode(&again), bytes);
        let c = LatLon::new(0.0, 0.0).expect("valid");
        let _ = again.nearest(c, 3, None, &QueryFilter::new());
    }
});
