//! Fuzz the text decoders: API keys, secret keys, recovery keys, public keys
//! and ids. Whatever parses must print back to something that parses to the
//! same value.
#![no_main]

use blocksmith_vault::apikey::ApiKey;
use blocksmith_vault::{ItemId, PublicKey, RecoveryKey, SecretKey};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(k) = ApiKey::parse(s) {
        assert_eq!(
            ApiKey::parse(k.expose_secret()).expect("reparse").id(),
            k.id()
        );
    }
    if let Ok(k) = SecretKey::parse(s) {
        assert_eq!(SecretKey::parse(&k.to_text()).expect("reparse"), k);
    }
    if let Ok(k) = RecoveryKey::parse(s) {
        assert_eq!(RecoveryKey::parse(&k.to_text()).expect("reparse"), k);
    }
    if let Ok(k) = s.parse::<PublicKey>() {
        assert_eq!(k.to_string().parse::<PublicKey>().expect("reparse"), k);
    }
    if let Ok(id) = s.parse::<ItemId>() {
        assert_eq!(id.to_string().parse::<ItemId>().expect("reparse"), id);
    }
});
