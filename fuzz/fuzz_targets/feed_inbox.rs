//! Inbox block decoding: a block or a typed error, never a panic; whatever
//! decodes is sorted, above its horizon, and re-encodes losslessly.
#![no_main]

use blocksmith_feed::Inbox;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(inbox) = Inbox::decode(data) {
        let entries: Vec<_> = inbox.entries().collect();
        assert!(entries.windows(2).all(|w| w[0] < w[1]));
        if let (Some(h), Some(first)) = (inbox.horizon(), entries.first()) {
            assert!(*first > h);
        }
        assert_eq!(Inbox::decode(&inbox.encode()).expect("own block"), inbox);
    }
});
