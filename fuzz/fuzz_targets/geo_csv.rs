//! Fuzz target: arbitrary bytes into the CSV loader, then into an index.
//!
//! Parsing returns valid updates or a typed error naming a line; whatever
//! parses must be accepted by an index without panicking.
#![no_main]

use blocksmith_geo::{GeoIndex, csv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = csv::parse(data);
    // Also behind a valid header, so the fuzzer reaches the record parser.
    let mut framed = b"id,kind,lat,lon,ts,accuracy,speed,heading\n".to_vec();
    framed.extend_from_slice(data);
    if let Ok(updates) = csv::parse(&framed) {
        let mut index = GeoIndex::default();
        let report = index.upsert_batch(&updates);
        assert!(
            report.invalid.is_empty(),
            "parsed updates are valid: {:?}",
            report.invalid
        );
    }
});
