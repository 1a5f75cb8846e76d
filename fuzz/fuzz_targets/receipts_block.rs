//! Fuzz target: arbitrary bytes into the blocksmith-receipts conversation
//! block decoder.
//!
//! Decoding must return `Ok` or a typed `Err`, never panic, hang or allocate
//! without bound. `from_bytes_unverified` skips the checksum so the fuzzer
//! gets past it into the structure checks; whatever decodes must re-encode
//! and decode again to the same bytes, and answer queries without panicking.
#![no_main]

use blocksmith_receipts::{Conversation, ListKind, ReceiptsOptions, UserId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = ReceiptsOptions::default();
    let _ = Conversation::from_bytes(data, &options);
    if let Ok(c) = Conversation::from_bytes_unverified(data, &options) {
        let bytes = c.to_bytes();
        let again = Conversation::from_bytes(&bytes, &options).expect("our own encoding decodes");
        assert_eq!(again.to_bytes(), bytes);
        let users: Vec<UserId> = c.users().take(32).collect();
        for seq in 0..=c.last_seq().min(64) + 1 {
            let viewer = users.first().copied().unwrap_or(UserId(0));
            if let Ok(s) = again.status(seq, viewer) {
                assert!(s.delivered <= s.recipients);
                assert!(s.read.is_none_or(|r| r <= s.delivered));
                let _ = again.list(seq, viewer, ListKind::Read, 8);
                let _ = again.list(seq, viewer, ListKind::Delivered, 8);
            }
        }
        for u in users {
            let _ = again.unread(u);
            let v = again.member(u).expect("a member");
            assert!(v.read_public <= v.read && v.read <= v.delivered);
        }
    }
});
