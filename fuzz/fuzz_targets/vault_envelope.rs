//! Fuzz the envelope parser and `open` on arbitrary bytes: never a panic,
//! never a successful open without the key.
#![no_main]

use blocksmith_vault::SymmetricKey;
use blocksmith_vault::envelope::{Context, Envelope};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = SymmetricKey::from_bytes([0x42; 32]);
    let ctx = Context::new(b"fuzz-vault")
        .with_item(b"item")
        .with_version(1);
    if let Ok(env) = Envelope::parse(data) {
        let _ = (env.kind(), env.key_epoch(), env.plaintext_len());
        assert!(env.open(&key, &ctx).is_err(), "forged envelope opened");
    }
});
