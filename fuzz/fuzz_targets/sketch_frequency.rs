//! Fuzz target: arbitrary bytes into the Count-Min and Space-Saving decoders.
//! Typed errors only; decoded summaries answer queries, merge and round-trip.
#![no_main]

use blocksmith_sketch::frequency::{CountMin, ErrorType, SpaceSaving};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cm) = CountMin::from_bytes(data) {
        assert_eq!(CountMin::from_bytes(&cm.to_bytes()).expect("decodes"), cm);
        let _ = cm.estimate("x");
    }
    if let Ok(ss) = SpaceSaving::from_bytes(data) {
        assert_eq!(
            SpaceSaving::from_bytes(&ss.to_bytes()).expect("decodes"),
            ss
        );
        let _ = ss.top_k(5);
        let _ = ss.frequent_items(1, ErrorType::NoFalsePositives);
        let mut m = SpaceSaving::new(4).expect("valid");
        m.update("a", 3);
        m.merge(&ss).expect("space-saving merges never fail");
    }
});
