//! Cursor decoding: arbitrary strings through the MAC check, and arbitrary
//! payloads (signed with the fuzzer's key, so the parser behind the MAC is
//! reached) must give a cursor or a typed error, never a panic; whatever
//! decodes re-encodes to the same cursor.
#![no_main]

use blocksmith_feed::{Cursor, CursorKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = CursorKey::derive(b"fuzz");
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Cursor::decode(&key, s);
    }
    if let Ok(c) = Cursor::from_payload(data) {
        let s = c.encode(&key);
        assert_eq!(Cursor::decode(&key, &s).expect("own cursor"), c);
        assert_eq!(
            Cursor::from_payload(&c.to_payload()).expect("own payload"),
            c
        );
    }
});
