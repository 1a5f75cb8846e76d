//! The share payload decoder (`decode_items`, private) through the public API: arbitrary bytes
//! are sealed as the plaintext of a well-formed share bundle to a real vault, which opens it
//! with `Vault::open_share`. The items decode or the open fails with a typed error, never a
//! panic; what decodes re-encodes to exactly the input (the payload has one encoding).
//!
//! The bundle is built here as `share.rs` documents it: `BSVS | 1 | share id | ephemeral pk |
//! sender pk | recipient pk | envelope (kind Share)`, keyed by HKDF-SHA256 over the two X25519
//! agreements. A known item list is opened once at start-up, so a change of that format fails
//! this target loudly instead of fuzzing only the MAC check.
#![no_main]

use blocksmith_store::{MemoryStore, block_on};
use blocksmith_vault::envelope::{Context, Envelope, Kind, NONCE_LEN};
use blocksmith_vault::{Credentials, PublicKey, ShareId, SymmetricKey, Vault, VaultOptions};
use libfuzzer_sys::fuzz_target;
use x25519_dalek::{PublicKey as XPublic, StaticSecret};

struct Setup {
    vault: Vault<&'static MemoryStore>,
    header: Vec<u8>,
    key: SymmetricKey,
    id: ShareId,
    recipient: PublicKey,
}

impl Setup {
    fn new() -> Self {
        let store: &'static MemoryStore = Box::leak(Box::new(MemoryStore::new()));
        let (vault, _) = block_on(Vault::create(
            store,
            &Credentials::new("fuzz"),
            VaultOptions::insecure_fast(),
        ))
        .expect("a vault");
        let recipient = vault.public_key();
        let id = ShareId::from_bytes([7; 16]);
        let eph = StaticSecret::from([1; 32]);
        let sender = StaticSecret::from([2; 32]);
        let e = XPublic::from(&eph).to_bytes();
        let s = XPublic::from(&sender).to_bytes();
        let r = XPublic::from(*recipient.as_bytes());
        let mut ikm = [0u8; 64];
        ikm[..32].copy_from_slice(eph.diffie_hellman(&r).as_bytes());
        ikm[32..].copy_from_slice(sender.diffie_hellman(&r).as_bytes());
        let mut info = Vec::new();
        info.extend_from_slice(id.as_bytes());
        info.extend_from_slice(&e);
        info.extend_from_slice(&s);
        info.extend_from_slice(recipient.as_bytes());
        let mut key = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(Some(b"blocksmith-vault/v1/share"), &ikm)
            .expand(&info, &mut key)
            .expect("32 bytes");
        let mut header = b"BSVS\x01".to_vec();
        header.extend_from_slice(id.as_bytes());
        header.extend_from_slice(&e);
        header.extend_from_slice(&s);
        header.extend_from_slice(recipient.as_bytes());
        let setup = Setup {
            vault,
            header,
            key: SymmetricKey::from_bytes(key),
            id,
            recipient,
        };
        // The harness speaks the format: a known item list opens.
        let known = encode(&[("db", Some("team"), b"hunter2".as_slice())]);
        let opened = setup
            .open(&known)
            .expect("the harness builds valid bundles");
        assert_eq!(opened.items.len(), 1);
        assert_eq!(opened.items[0].name, "db");
        assert_eq!(opened.items[0].secret.expose_secret(), b"hunter2");
        setup
    }

    fn open(&self, payload: &[u8]) -> blocksmith_vault::Result<blocksmith_vault::ReceivedShare> {
        let ctx = Context::new(self.id.as_bytes()).with_item(self.recipient.as_bytes());
        let env =
            Envelope::seal_with_nonce(&self.key, Kind::Share, 0, &ctx, &[9; NONCE_LEN], payload)?;
        let mut bundle = self.header.clone();
        bundle.extend_from_slice(&env);
        self.vault.open_share(&bundle)
    }
}

/// The share payload: `count u32 | (name str16 | flag (0, or 1 and collection str16) |
/// secret len u32 | secret)*`, little-endian, str16 a u16 length and UTF-8.
fn encode(items: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut out = (items.len() as u32).to_le_bytes().to_vec();
    let str16 = |out: &mut Vec<u8>, s: &str| {
        out.extend_from_slice(&(s.len() as u16).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    };
    for (name, collection, secret) in items {
        str16(&mut out, name);
        match collection {
            Some(c) => {
                out.push(1);
                str16(&mut out, c);
            }
            None => out.push(0),
        }
        out.extend_from_slice(&(secret.len() as u32).to_le_bytes());
        out.extend_from_slice(secret);
    }
    out
}

thread_local! {
    static SETUP: Setup = Setup::new();
}

fuzz_target!(|data: &[u8]| {
    SETUP.with(|setup| {
        let Ok(share) = setup.open(data) else {
            return;
        };
        assert_eq!(
            share.sender.as_bytes(),
            &XPublic::from(&StaticSecret::from([2; 32])).to_bytes()
        );
        let items: Vec<_> = share
            .items
            .iter()
            .map(|i| {
                (
                    i.name.as_str(),
                    i.collection.as_deref(),
                    i.secret.expose_secret(),
                )
            })
            .collect();
        assert_eq!(
            encode(&items),
            data,
            "decode_items then encode is the identity"
        );
    });
});
