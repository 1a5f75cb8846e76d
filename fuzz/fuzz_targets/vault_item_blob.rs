//! Fuzz the item blob container (and the two envelopes inside) on arbitrary
//! bytes, plus a seal/parse/open round trip of the input as a secret.
#![no_main]

use blocksmith_vault::item::ItemBlob;
use blocksmith_vault::{ItemId, SymmetricKey, VaultId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = SymmetricKey::from_bytes([0x42; 32]);
    let vault = VaultId::from_bytes([1; 16]);
    let item = ItemId::from_bytes([2; 16]);
    if let Ok(blob) = ItemBlob::parse(data) {
        let _ = blob.epoch();
        assert!(
            blob.open(&key, &vault, &item, 1, 7).is_err(),
            "forged item opened"
        );
    }
    let sealed = ItemBlob::seal(&key, 3, &vault, &item, 9, 7, data).expect("seal");
    let parsed = ItemBlob::parse(&sealed).expect("parse own blob");
    let back = parsed
        .open(&key, &vault, &item, 9, 7)
        .expect("open own blob");
    assert_eq!(back.expose_secret(), data);
});
