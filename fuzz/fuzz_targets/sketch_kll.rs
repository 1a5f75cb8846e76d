//! Fuzz target: arbitrary bytes into the DataSketches KLL decoder (doubles
//! and floats). Typed errors only; decoded sketches answer queries, merge
//! and round-trip byte for byte.
#![no_main]

use blocksmith_sketch::kll::KllSketch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = KllSketch::<f64>::from_bytes(data) {
        let bytes = s.to_bytes();
        let again = KllSketch::<f64>::from_bytes(&bytes).expect("our own bytes decode");
        assert_eq!(again.to_bytes(), bytes);
        let _ = s.quantile(0.5);
        let _ = s.rank(1.0);
        let mut m = KllSketch::<f64>::new(200).expect("valid");
        m.update(1.0);
        m.merge(&s).expect("KLL merges never fail");
        let _ = m.quantile(0.99);
    }
    if let Ok(s) = KllSketch::<f32>::from_bytes(data) {
        let bytes = s.to_bytes();
        assert_eq!(
            KllSketch::<f32>::from_bytes(&bytes)
                .expect("decodes")
                .to_bytes(),
            bytes
        );
    }
});
