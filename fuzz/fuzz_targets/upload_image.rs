//! Image header probing and metadata stripping on hostile files: no panic,
//! stripping never grows a file and keeps the declared dimensions.
#![no_main]

use blocksmith_upload::image::{probe, strip_metadata};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let info = probe(data);
    if let Ok(Some((out, _))) = strip_metadata(data) {
        assert!(out.len() <= data.len());
        let before = info.expect("strip probes first").expect("an image");
        let after = probe(&out)
            .expect("stripped file parses")
            .expect("still an image");
        assert_eq!((before.width, before.height), (after.width, after.height));
    }
});
