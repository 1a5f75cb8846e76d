//! Fuzz target: the GS1 parsers (element strings, bracketed syntax, Digital
//! Link URLs) and GTIN validation on arbitrary input. Never panics; whatever
//! parses re-serialises and parses to the same message.
#![no_main]

use blocksmith_codes::{gs1, gtin};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    if let Ok(m) = gs1::parse(&s) {
        assert_eq!(gs1::parse(&m.to_element_string()).ok().as_ref(), Some(&m));
        assert_eq!(
            gs1::parse_bracketed(&m.to_bracketed()).ok().as_ref(),
            Some(&m)
        );
    }
    let _ = gs1::parse_bracketed(&s);
    if let Ok(m) = gs1::parse_digital_link(&s) {
        if let Ok(url) = m.to_digital_link("https://id.example.com") {
            assert!(gs1::parse_digital_link(&url).is_ok());
        }
    }
    let _ = gtin::validate(&s);
    let _ = gtin::upce_to_upca(&s);
    let _ = gtin::check_digit(&s);
});
