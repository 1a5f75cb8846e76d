//! Fuzz target: arbitrary strings into the encoded polyline decoder.
//!
//! The first byte picks the precision (0-9, so invalid precisions are
//! exercised too). Decoding returns valid positions or a typed error;
//! re-encoding decoded points and decoding again is stable.
#![no_main]

use blocksmith_geo::polyline;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&p, rest)) = data.split_first() else {
        return;
    };
    let precision = u32::from(p % 10);
    let Ok(s) = std::str::from_utf8(rest) else {
        return;
    };
    if let Ok(points) = polyline::decode(s, precision) {
        for &(lat, lon) in &points {
            assert!(lat.abs() <= 90.0 && lon.abs() <= 180.0);
        }
        let encoded = polyline::encode(&points, precision).expect("decoded points encode");
        assert_eq!(
            polyline::decode(&encoded, precision).expect("re-decodes"),
            points
        );
    }
});
