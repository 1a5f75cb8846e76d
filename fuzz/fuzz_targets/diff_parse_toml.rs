//! The Toml parser entry point: never panics; what parses writes back and
//! re-parses to the same value (when the value has a Toml form).
#![no_main]

use blocksmith_diff::value::{Format, parse, to_string};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(value) = parse(text, Format::Toml) else {
        return;
    };
    if let Ok(written) = to_string(&value, Format::Toml) {
        assert_eq!(parse(&written, Format::Toml).ok(), Some(value));
    }
});
