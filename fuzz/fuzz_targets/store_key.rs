//! Key validation on arbitrary strings: accepted keys obey every rule.
#![no_main]

use blocksmith_store::Key;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(k) = Key::new(s) {
        assert!(!k.as_str().is_empty() && k.as_str().len() <= blocksmith_store::MAX_KEY_LEN);
        assert!(
            k.segments()
                .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
        );
        assert!(!k.as_str().chars().any(char::is_control));
    }
});
