//! Sharing items with another user by public-key wrapping (X25519 + HKDF +
//! XChaCha20-Poly1305).
//!
//! A share is a snapshot: the sender seals copies of the chosen items to the
//! recipient's X25519 public key, the recipient opens it with the private key
//! kept (sealed) in their vault and imports the items. Later changes are not
//! propagated; share again.
//!
//! # Key agreement
//!
//! Authenticated, like HPKE's auth mode: with an ephemeral key `e`, the
//! sender's static key `s` and the recipient's `r`,
//! `key = HKDF-SHA256(salt = "blocksmith-vault/v1/share", ikm = X25519(e, R) || X25519(s, R),
//! info = share id || E || S || R)`. Only the holder of `r` can open it, and
//! opening proves the sender held `s`. Low-order public keys (a non-contributory
//! exchange) are rejected.
//!
//! # Share bundle, format version 1
//!
//! | bytes | field |
//! | --- | --- |
//! | 4 | magic `BSVS` |
//! | 1 | format version, `1` |
//! | 16 | share id |
//! | 32 | ephemeral public key `E` |
//! | 32 | sender public key `S` |
//! | 32 | recipient public key `R` |
//! | rest | envelope of kind `Share`, bound to (share id, `R`, 0) |
//!
//! The envelope's plaintext: u32 item count, then per item a u16-prefixed
//! name, a collection flag (0/1) and u16-prefixed collection, and a
//! u32-prefixed secret.

use crate::encoding::{hex_array, hex_encode};
use crate::envelope::{Context, Envelope, Kind};
use crate::ids::ShareId;
use crate::item::check_name;
use crate::keys::hkdf32;
use crate::secret::{SecretBytes, SymmetricKey, random_array};
use crate::wire::{Reader, put_str16};
use crate::{Error, Result};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use x25519_dalek::StaticSecret;
use zeroize::Zeroizing;

const MAGIC: &[u8; 4] = b"BSVS";
const FORMAT: u8 = 1;
const SALT: &[u8] = b"blocksmith-vault/v1/share";
const FINGERPRINT_LABEL: &[u8] = b"blocksmith-vault/v1/fingerprint";
const PK_PREFIX: &str = "bsvpk1_";

/// A vault's X25519 public key: what others share to. Text form `bsvpk1_`
/// followed by 64 hex digits. Compare [`PublicKey::fingerprint`]s out of band
/// before sharing: the store is not trusted to hand out the right key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// Wraps key bytes.
    pub fn from_bytes(b: [u8; 32]) -> Self {
        PublicKey(b)
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 128-bit fingerprint (32 hex digits) for comparing keys out of band;
    /// also names the key's inbox in the store.
    pub fn fingerprint(&self) -> String {
        let h = Sha256::new()
            .chain_update(FINGERPRINT_LABEL)
            .chain_update(self.0)
            .finalize();
        hex_encode(&h[..16])
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PK_PREFIX}{}", hex_encode(&self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

impl FromStr for PublicKey {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let hex = s
            .trim()
            .strip_prefix(PK_PREFIX)
            .ok_or(Error::malformed("public key", "expected bsvpk1_ prefix"))?;
        Ok(PublicKey(hex_array("public key", hex)?))
    }
}

/// One item inside a share.
#[derive(Clone)]
pub struct SharedItem {
    /// The item's name.
    pub name: String,
    /// Its collection, if any.
    pub collection: Option<String>,
    /// The secret.
    pub secret: SecretBytes,
}

zeroize_labels_on_drop!(SharedItem);

impl fmt::Debug for SharedItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedItem")
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

/// An opened share.
#[derive(Debug, Clone)]
pub struct ReceivedShare {
    /// The share id.
    pub id: ShareId,
    /// Who sealed it (authenticated: compare its fingerprint with the one
    /// you expect).
    pub sender: PublicKey,
    /// The items.
    pub items: Vec<SharedItem>,
}

fn derive_key(
    share: &ShareId,
    dh1: &[u8],
    dh2: &[u8],
    e: &PublicKey,
    s: &PublicKey,
    r: &PublicKey,
) -> SymmetricKey {
    let mut ikm = Zeroizing::new([0u8; 64]);
    ikm[..32].copy_from_slice(dh1);
    ikm[32..].copy_from_slice(dh2);
    let mut info = Vec::with_capacity(16 + 96);
    info.extend_from_slice(share.as_bytes());
    info.extend_from_slice(&e.0);
    info.extend_from_slice(&s.0);
    info.extend_from_slice(&r.0);
    hkdf32(SALT, &ikm[..], &info)
}

fn dh(secret: &StaticSecret, public: &PublicKey) -> Result<Zeroizing<[u8; 32]>> {
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(public.0));
    if !shared.was_contributory() {
        return Err(Error::malformed("public key", "low-order point"));
    }
    Ok(Zeroizing::new(shared.to_bytes()))
}

fn encode_items(items: &[SharedItem]) -> Result<SecretBytes> {
    // The exact size, so the buffer never grows: a reallocation would leave
    // a copy of the secrets in freed memory that nothing zeroizes.
    let cap = 4 + items
        .iter()
        .map(|i| {
            2 + i.name.len()
                + 1
                + i.collection.as_ref().map_or(0, |c| 2 + c.len())
                + 4
                + i.secret.len()
        })
        .sum::<usize>();
    let mut buf = SecretBytes::new(Vec::with_capacity(cap));
    let out = buf.as_mut_vec();
    out.extend_from_slice(&(items.len() as u32).to_le_bytes());
    for it in items {
        check_name("item name", &it.name)?;
        put_str16(out, &it.name);
        match &it.collection {
            Some(c) => {
                check_name("collection name", c)?;
                out.push(1);
                put_str16(out, c);
            }
            None => out.push(0),
        }
        let s = it.secret.expose_secret();
        let n = u32::try_from(s.len()).map_err(|_| Error::TooLarge {
            what: "shared secret",
            len: s.len(),
            max: u32::MAX as usize,
        })?;
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(s);
    }
    debug_assert_eq!(out.capacity(), cap, "the share buffer grew");
    Ok(buf)
}

fn decode_items(bytes: &[u8]) -> Result<Vec<SharedItem>> {
    const WHAT: &str = "share payload";
    let mut r = Reader::new(WHAT, bytes);
    let n = r.u32()? as usize;
    // Each item takes at least 9 bytes.
    if n > r.remaining() / 9 {
        return Err(Error::malformed(WHAT, "item count exceeds the data"));
    }
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.str16()?.to_string();
        let collection = match r.u8()? {
            0 => None,
            1 => Some(r.str16()?.to_string()),
            _ => return Err(Error::malformed(WHAT, "bad collection flag")),
        };
        let len = r.u32()? as usize;
        let secret = SecretBytes::from_slice(r.bytes(len)?);
        items.push(SharedItem {
            name,
            collection,
            secret,
        });
    }
    r.finish()?;
    Ok(items)
}

/// Seals `items` from `sender` to `recipient`, returning the share id and
/// the bundle bytes.
pub(crate) fn seal(
    sender: &StaticSecret,
    recipient: &PublicKey,
    items: &[SharedItem],
) -> Result<(ShareId, Vec<u8>)> {
    let id = ShareId::generate()?;
    let eph = StaticSecret::from(random_array::<32>()?);
    let e = PublicKey(x25519_dalek::PublicKey::from(&eph).to_bytes());
    let s = PublicKey(x25519_dalek::PublicKey::from(sender).to_bytes());
    let key = derive_key(
        &id,
        &dh(&eph, recipient)?[..],
        &dh(sender, recipient)?[..],
        &e,
        &s,
        recipient,
    );
    let plain = encode_items(items)?;
    let ctx = Context::new(id.as_bytes()).with_item(&recipient.0);
    let env = Envelope::seal(&key, Kind::Share, 0, &ctx, plain.expose_secret())?;
    let mut out = Vec::with_capacity(117 + env.len());
    out.extend_from_slice(MAGIC);
    out.push(FORMAT);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&e.0);
    out.extend_from_slice(&s.0);
    out.extend_from_slice(&recipient.0);
    out.extend_from_slice(&env);
    Ok((id, out))
}

/// The public fields of a share bundle, readable without the private key.
#[derive(Debug, Clone, Copy)]
pub struct ShareHeader<'a> {
    /// The share id.
    pub id: ShareId,
    /// The ephemeral public key.
    pub ephemeral: PublicKey,
    /// The sender's public key.
    pub sender: PublicKey,
    /// The recipient's public key.
    pub recipient: PublicKey,
    envelope: Envelope<'a>,
}

impl<'a> ShareHeader<'a> {
    /// Parses a share bundle's header.
    ///
    /// # Errors
    /// [`Error::Malformed`] if the bundle is truncated or has a bad magic;
    /// [`Error::UnsupportedVersion`] for an unknown bundle format; any error
    /// of [`Envelope::parse_kind`] for the envelope that follows the header.
    pub fn parse(bytes: &'a [u8]) -> Result<ShareHeader<'a>> {
        const WHAT: &str = "share bundle";
        let mut r = Reader::new(WHAT, bytes);
        if r.bytes(4)? != MAGIC {
            return Err(Error::malformed(WHAT, "bad magic"));
        }
        let v = r.u8()?;
        if v != FORMAT {
            return Err(Error::UnsupportedVersion {
                what: WHAT,
                version: u32::from(v),
            });
        }
        Ok(ShareHeader {
            id: ShareId::from_bytes(r.array()?),
            ephemeral: PublicKey(r.array()?),
            sender: PublicKey(r.array()?),
            recipient: PublicKey(r.array()?),
            envelope: Envelope::parse_kind(r.rest(), Kind::Share)?,
        })
    }
}

/// Opens a share bundle with the recipient's private key.
pub(crate) fn open(recipient: &StaticSecret, bytes: &[u8]) -> Result<ReceivedShare> {
    let h = ShareHeader::parse(bytes)?;
    let me = PublicKey(x25519_dalek::PublicKey::from(recipient).to_bytes());
    if h.recipient != me {
        return Err(Error::Decrypt);
    }
    let key = derive_key(
        &h.id,
        &dh(recipient, &h.ephemeral)?[..],
        &dh(recipient, &h.sender)?[..],
        &h.ephemeral,
        &h.sender,
        &h.recipient,
    );
    let ctx = Context::new(h.id.as_bytes()).with_item(&h.recipient.0);
    let plain = h.envelope.open(&key, &ctx)?;
    Ok(ReceivedShare {
        id: h.id,
        sender: h.sender,
        items: decode_items(plain.expose_secret())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kp(b: u8) -> (StaticSecret, PublicKey) {
        let s = StaticSecret::from([b; 32]);
        let p = PublicKey(x25519_dalek::PublicKey::from(&s).to_bytes());
        (s, p)
    }

    fn item(name: &str, secret: &[u8]) -> SharedItem {
        SharedItem {
            name: name.into(),
            collection: Some("team".into()),
            secret: SecretBytes::from_slice(secret),
        }
    }

    #[test]
    fn only_the_recipient_opens_and_sender_is_authenticated() {
        let (alice, alice_pk) = kp(1);
        let (bob, bob_pk) = kp(2);
        let (eve, _) = kp(3);
        let (id, bundle) =
            seal(&alice, &bob_pk, &[item("db", b"pw1"), item("api", b"pw2")]).unwrap();
        let got = open(&bob, &bundle).unwrap();
        assert_eq!(got.id, id);
        assert_eq!(got.sender, alice_pk);
        assert_eq!(got.items.len(), 2);
        assert_eq!(got.items[1].secret.expose_secret(), b"pw2");
        assert!(open(&eve, &bundle).is_err());
        // Claiming another sender breaks the key agreement.
        let mut forged = bundle.clone();
        forged[53..85].copy_from_slice(&kp(3).1.0);
        assert!(matches!(open(&bob, &forged), Err(Error::Decrypt)));
    }

    #[test]
    fn low_order_keys_are_rejected() {
        let (alice, _) = kp(1);
        let zero = PublicKey([0; 32]);
        assert!(seal(&alice, &zero, &[item("a", b"b")]).is_err());
    }

    #[test]
    fn public_key_text() {
        let (_, pk) = kp(9);
        let t = pk.to_string();
        assert!(t.starts_with("bsvpk1_"));
        assert_eq!(t.parse::<PublicKey>().unwrap(), pk);
        assert!("bsvpk1_zz".parse::<PublicKey>().is_err());
        assert_eq!(pk.fingerprint().len(), 32);
    }

    proptest! {
        #[test]
        fn payload_roundtrip(names in proptest::collection::vec("[a-z]{1,10}", 0..8),
                             secret in proptest::collection::vec(any::<u8>(), 0..64)) {
            let items: Vec<_> = names.iter().map(|n| item(n, &secret)).collect();
            let back = decode_items(encode_items(&items).unwrap().expose_secret()).unwrap();
            prop_assert_eq!(back.len(), items.len());
            for (a, b) in back.iter().zip(&items) {
                prop_assert_eq!(&a.name, &b.name);
                prop_assert_eq!(&a.collection, &b.collection);
                prop_assert_eq!(&a.secret, &b.secret);
            }
        }

        #[test]
        fn hostile_bundles(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let (bob, _) = kp(2);
            prop_assert!(open(&bob, &bytes).is_err());
            let _ = decode_items(&bytes);
        }
    }

    #[test]
    fn the_share_buffer_is_sized_exactly_and_never_reallocates() {
        let items: Vec<SharedItem> = (0..5)
            .map(|i| SharedItem {
                name: format!("name {i}"),
                collection: (i % 2 == 0).then(|| "c".repeat(900)),
                secret: SecretBytes::from_slice(&vec![7u8; 300 * i]),
            })
            .collect();
        let mut buf = encode_items(&items).unwrap();
        let v = buf.as_mut_vec();
        assert_eq!(v.len(), v.capacity());
        assert_eq!(decode_items(v).unwrap().len(), 5);
    }
}
