//! Fuzz target: arbitrary bytes into the DataSketches HLL decoder.
//!
//! Decoding returns `Ok` or a typed `Err`, never panics or allocates beyond
//! what the input backs; whatever decodes re-encodes to bytes that decode to
//! the same estimate, in every register width, and merges without panicking.
#![no_main]

use blocksmith_sketch::hll::{HllSketch, HllType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sketch) = HllSketch::from_bytes(data) {
        let estimate = sketch.estimate();
        assert!(estimate.is_finite() && estimate >= 0.0);
        for t in [HllType::Hll4, HllType::Hll6, HllType::Hll8] {
            let mut copy = sketch.clone();
            copy.set_target_type(t);
            let again = HllSketch::from_bytes(&copy.to_bytes()).expect("our own bytes decode");
            assert_eq!(again.estimate().to_bits(), estimate.to_bits());
        }
        let mut other = HllSketch::new(10, HllType::Hll8).expect("valid");
        other.update(&42u64);
        other.merge(&sketch).expect("HLL merges never fail");
        let _ = other.estimate();
    }
});
