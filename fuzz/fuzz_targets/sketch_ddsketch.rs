//! Fuzz target: arbitrary bytes into the DDSketch protobuf decoder. Typed
//! errors only, bounded memory whatever keys the message names; decoded
//! sketches answer quantiles and round-trip.
#![no_main]

use blocksmith_sketch::ddsketch::DdSketch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = DdSketch::from_bytes(data) {
        let q = s.quantile(0.5);
        let again = DdSketch::from_bytes(&s.to_bytes()).expect("our own bytes decode");
        assert_eq!(again.quantile(0.5).map(f64::to_bits), q.map(f64::to_bits));
    }
});
