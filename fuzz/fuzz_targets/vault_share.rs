//! Fuzz the share bundle parser on arbitrary bytes.
#![no_main]

use blocksmith_vault::share::ShareHeader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = ShareHeader::parse(data) {
        let _ = (h.id, h.sender.fingerprint(), h.recipient.fingerprint());
    }
});
