//! Fuzz target: arbitrary bytes into the compact Theta decoder. Typed errors
//! only; decoded sketches round-trip and go through every set operation.
#![no_main]

use blocksmith_sketch::theta::{self, CompactTheta};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = CompactTheta::from_bytes(data) {
        assert_eq!(CompactTheta::from_bytes(&s.to_bytes()).expect("decodes"), s);
        let _ = theta::union(&[s.clone(), s.clone()], 12);
        let _ = theta::intersection(&[s.clone(), CompactTheta::empty()]);
        let _ = theta::a_not_b(&s, &s);
        let _ = (s.estimate(), s.lower_bound(2), s.upper_bound(2));
    }
});
