//! The key hierarchy: credentials, the secret key, the recovery key and the
//! server-authentication key.
//!
//! ```text
//! password ─┐
//! secret key ┼─ Argon2id(P=password, S=salt, K=secret key, X="BSV1"||vault id) = master key
//! salt ─────┘
//! master key ─ HKDF-SHA256(salt=vault id)
//!     ├─ info "blocksmith-vault/v1/kek"  → key-encryption key: wraps the vault key
//!     └─ info "blocksmith-vault/v1/auth" → authentication key: sent to a server at login
//!            └─ HKDF-SHA256(salt=vault id, info "blocksmith-vault/v1/auth-verifier") → what the server stores
//! recovery key ─ HKDF-SHA256(salt=vault id, info "blocksmith-vault/v1/recovery-kek") → wraps the vault key too
//! vault key (random, per epoch) → wraps random item keys, seals the manifest and the identity key
//! item key (random, per item)  → seals the item's secret
//! ```
//!
//! The key-encryption key and the authentication key are two outputs of one
//! HKDF with different labels: knowing the authentication key (or the
//! verifier a server stores) tells nothing about the key-encryption key, so
//! the server that checks logins still cannot decrypt the vault.

use crate::encoding::{base32_decode, base32_encode};
use crate::ids::VaultId;
use crate::kdf::{KdfParams, argon2id};
use crate::secret::{Password, SymmetricKey, random_array};
use crate::{Error, Result};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

pub(crate) const LABEL_KEK: &[u8] = b"blocksmith-vault/v1/kek";
pub(crate) const LABEL_AUTH: &[u8] = b"blocksmith-vault/v1/auth";
pub(crate) const LABEL_VERIFIER: &[u8] = b"blocksmith-vault/v1/auth-verifier";
pub(crate) const LABEL_RECOVERY: &[u8] = b"blocksmith-vault/v1/recovery-kek";
pub(crate) const LABEL_RECOVERY_X25519: &[u8] = b"blocksmith-vault/v1/recovery-x25519";

/// HKDF-SHA256 with `salt`, one 32-byte output for `info`.
pub(crate) fn hkdf32(salt: &[u8], ikm: &[u8], info: &[u8]) -> SymmetricKey {
    let hk = Hkdf::<Sha256>::new(Some(salt), ikm);
    let mut out = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit: expand cannot fail.
    let _ = hk.expand(info, &mut out[..]);
    SymmetricKey::from_bytes(*out)
}

fn checksum2(label: &[u8], bytes: &[u8]) -> [u8; 2] {
    let h = Sha256::new()
        .chain_update(label)
        .chain_update(bytes)
        .finalize();
    // First 10 bits as two base32 digits.
    [h[0] >> 3, ((h[0] & 7) << 2) | (h[1] >> 6)]
}

const B32: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Formats `prefix-` + base32(bytes) + 2 check characters, in groups of 6.
fn format_key(prefix: &str, label: &[u8], bytes: &[u8]) -> Zeroizing<String> {
    let mut chars = base32_encode(bytes);
    for c in checksum2(label, bytes) {
        chars.push(B32[usize::from(c)] as char);
    }
    let mut out = Zeroizing::new(String::with_capacity(
        prefix.len() + chars.len() * 7 / 6 + 1,
    ));
    out.push_str(prefix);
    for (i, c) in chars.chars().enumerate() {
        if i % 6 == 0 {
            out.push('-');
        }
        out.push(c);
    }
    out
}

fn parse_key<const N: usize>(
    what: &'static str,
    prefix: &str,
    label: &[u8],
    text: &str,
) -> Result<Zeroizing<[u8; N]>> {
    let text = text.trim();
    let head = text
        .get(..prefix.len())
        .ok_or(Error::malformed(what, "too short"))?;
    if !head.eq_ignore_ascii_case(prefix) {
        return Err(Error::malformed(what, "wrong prefix"));
    }
    let body: Zeroizing<Vec<u8>> = Zeroizing::new(
        text.as_bytes()[prefix.len()..]
            .iter()
            .copied()
            .filter(|c| *c != b'-' && !c.is_ascii_whitespace())
            .collect(),
    );
    let data_chars = (N * 8).div_ceil(5);
    if body.len() != data_chars + 2 {
        return Err(Error::malformed(what, "wrong length"));
    }
    let bytes = base32_decode(what, &body[..data_chars], N)?;
    let check = base32_decode_digits(what, &body[data_chars..])?;
    if check != checksum2(label, &bytes) {
        return Err(Error::malformed(what, "checksum mismatch (typo?)"));
    }
    let mut out = Zeroizing::new([0u8; N]);
    out.copy_from_slice(&bytes);
    Ok(out)
}

fn base32_decode_digits(what: &'static str, s: &[u8]) -> Result<[u8; 2]> {
    let mut out = [0u8; 2];
    for (o, &c) in out.iter_mut().zip(s) {
        let c = match c.to_ascii_uppercase() {
            b'O' => b'0',
            b'I' | b'L' => b'1',
            c => c,
        };
        *o = B32
            .iter()
            .position(|&x| x == c)
            .ok_or(Error::malformed(what, "not a base32 character"))? as u8;
    }
    Ok(out)
}

/// The optional second secret of two-secret key derivation (like
/// 1Password's Secret Key): 160 random bits generated on the user's device
/// and never sent anywhere, mixed into Argon2id as its secret input `K`. With
/// it, a stolen store cannot be attacked by guessing passwords alone.
///
/// Text form: `S1-` then 34 Crockford base32 characters (the last two a
/// checksum that catches typos), in groups of six.
///
/// ```
/// use blocksmith_vault::SecretKey;
/// let key = SecretKey::generate()?;
/// let text = key.to_text();
/// assert!(text.starts_with("S1-"));
/// assert_eq!(SecretKey::parse(&text.to_lowercase())?, key);
/// assert!(format!("{key:?}").contains("redacted"));
/// # Ok::<(), blocksmith_vault::Error>(())
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 20]);

const SECRET_KEY_PREFIX: &str = "S1";
const SECRET_KEY_LABEL: &[u8] = b"blocksmith-vault/v1/secret-key-check";

impl SecretKey {
    /// A fresh random secret key.
    ///
    /// # Errors
    /// [`Error::Rng`] if the operating system's random number generator fails.
    pub fn generate() -> Result<Self> {
        Ok(SecretKey(random_array()?))
    }

    /// Parses the text form (case-insensitive, dashes and spaces ignored,
    /// `O`/`I`/`L` read as `0`/`1`); a typo fails the checksum.
    ///
    /// # Errors
    /// [`Error::Malformed`] if the text does not start with `S1`, has the
    /// wrong number of characters, holds a character outside Crockford
    /// base32, or fails its checksum.
    pub fn parse(text: &str) -> Result<Self> {
        let b = parse_key::<20>("secret key", SECRET_KEY_PREFIX, SECRET_KEY_LABEL, text)?;
        Ok(SecretKey(*b))
    }

    /// The text form, to show the user once (and print on an emergency kit).
    pub fn to_text(&self) -> Zeroizing<String> {
        format_key(SECRET_KEY_PREFIX, SECRET_KEY_LABEL, &self.0)
    }

    /// The raw bytes. Do not log them.
    pub fn expose_secret(&self) -> &[u8; 20] {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SecretKey {}

/// An account recovery key: 256 random bits that wrap the vault key a second
/// time, so a user who forgets the password can still unlock (and then set a
/// new password). Shown once at creation (and after a rotation); never
/// stored.
///
/// Text form: `R1-` then 54 Crockford base32 characters (two of them a
/// checksum), in groups of six.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RecoveryKey([u8; 32]);

const RECOVERY_PREFIX: &str = "R1";
const RECOVERY_LABEL: &[u8] = b"blocksmith-vault/v1/recovery-key-check";

impl RecoveryKey {
    /// A fresh random recovery key.
    ///
    /// # Errors
    /// [`Error::Rng`] if the operating system's random number generator fails.
    pub fn generate() -> Result<Self> {
        Ok(RecoveryKey(random_array()?))
    }

    /// Parses the text form; a typo fails the checksum.
    ///
    /// # Errors
    /// [`Error::Malformed`] if the text does not start with `R1`, has the
    /// wrong number of characters, holds a character outside Crockford
    /// base32, or fails its checksum.
    pub fn parse(text: &str) -> Result<Self> {
        let b = parse_key::<32>("recovery key", RECOVERY_PREFIX, RECOVERY_LABEL, text)?;
        Ok(RecoveryKey(*b))
    }

    /// The text form, to show the user once.
    pub fn to_text(&self) -> Zeroizing<String> {
        format_key(RECOVERY_PREFIX, RECOVERY_LABEL, &self.0)
    }

    /// The raw bytes. Do not log them.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn from_bytes(b: [u8; 32]) -> Self {
        RecoveryKey(b)
    }

    /// The key-encryption key this recovery key gives for `vault`.
    pub(crate) fn kek(&self, vault: &VaultId) -> SymmetricKey {
        hkdf32(vault.as_bytes(), &self.0, LABEL_RECOVERY)
    }

    /// The X25519 secret this recovery key gives for `vault`: its public half
    /// is stored, so a device without the recovery key can seal to it.
    pub(crate) fn sealing_secret(&self, vault: &VaultId) -> x25519_dalek::StaticSecret {
        let k = hkdf32(vault.as_bytes(), &self.0, LABEL_RECOVERY_X25519);
        x25519_dalek::StaticSecret::from(*k.expose_secret())
    }
}

impl fmt::Debug for RecoveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryKey(<redacted>)")
    }
}

impl PartialEq for RecoveryKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for RecoveryKey {}

/// What unlocks a vault: the master password and, for two-secret vaults,
/// the secret key.
///
/// ```
/// use blocksmith_vault::{Credentials, SecretKey};
/// let c = Credentials::new("correct horse battery staple")
///     .with_secret_key(SecretKey::generate()?);
/// assert!(c.secret_key().is_some());
/// assert!(!format!("{c:?}").contains("horse"));
/// # Ok::<(), blocksmith_vault::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Credentials {
    password: Password,
    secret_key: Option<SecretKey>,
}

impl Credentials {
    /// Password-only credentials.
    pub fn new(password: impl Into<Password>) -> Self {
        Credentials {
            password: password.into(),
            secret_key: None,
        }
    }

    /// Adds a secret key (two-secret derivation).
    #[must_use]
    pub fn with_secret_key(mut self, key: SecretKey) -> Self {
        self.secret_key = Some(key);
        self
    }

    /// The password.
    pub fn password(&self) -> &Password {
        &self.password
    }

    /// The secret key, if any.
    pub fn secret_key(&self) -> Option<&SecretKey> {
        self.secret_key.as_ref()
    }

    /// Derives the key-encryption key and the authentication key.
    pub(crate) fn derive(
        &self,
        params: &KdfParams,
        salt: &[u8],
        vault: &VaultId,
    ) -> Result<DerivedKeys> {
        let mut x = [0u8; 20];
        x[..4].copy_from_slice(b"BSV1");
        x[4..].copy_from_slice(vault.as_bytes());
        let secret: &[u8] = self.secret_key.as_ref().map_or(&[], |k| &k.0[..]);
        let mut master = Zeroizing::new([0u8; 32]);
        argon2id(
            params,
            self.password.expose_secret(),
            salt,
            secret,
            &x,
            &mut master[..],
        )?;
        Ok(DerivedKeys {
            kek: hkdf32(vault.as_bytes(), &master[..], LABEL_KEK),
            auth: AuthKey {
                key: hkdf32(vault.as_bytes(), &master[..], LABEL_AUTH),
                vault: *vault,
            },
        })
    }
}

/// The two outputs of the password derivation.
pub(crate) struct DerivedKeys {
    pub(crate) kek: SymmetricKey,
    pub(crate) auth: AuthKey,
}

/// The server-authentication secret: what a client proves at login instead
/// of the password. Derived from the master key with its own HKDF label, so
/// it never equals, and reveals nothing about, the key that decrypts the
/// vault. A server stores only its [`AuthVerifier`].
#[derive(Clone)]
pub struct AuthKey {
    key: SymmetricKey,
    vault: VaultId,
}

impl AuthKey {
    /// The bytes to send to the server (over an authenticated channel).
    pub fn expose_secret(&self) -> &[u8; 32] {
        self.key.expose_secret()
    }

    /// Rebuilds an auth key received by a server.
    pub fn from_bytes(vault: VaultId, bytes: [u8; 32]) -> Self {
        AuthKey {
            key: SymmetricKey::from_bytes(bytes),
            vault,
        }
    }

    /// The vault it authenticates for.
    pub fn vault(&self) -> VaultId {
        self.vault
    }

    /// What the server stores to check this key.
    pub fn verifier(&self) -> AuthVerifier {
        AuthVerifier(
            *hkdf32(
                self.vault.as_bytes(),
                self.key.expose_secret(),
                LABEL_VERIFIER,
            )
            .expose_secret(),
        )
    }
}

impl fmt::Debug for AuthKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthKey(vault {}, <redacted>)", self.vault)
    }
}

/// A one-way image of an [`AuthKey`], safe to store server-side. Checking is
/// constant-time.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AuthVerifier([u8; 32]);

impl AuthVerifier {
    /// Wraps stored verifier bytes.
    pub fn from_bytes(b: [u8; 32]) -> Self {
        AuthVerifier(b)
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// True when `key` is the key this verifier was made from (constant-time).
    pub fn verify(&self, key: &AuthKey) -> bool {
        key.verifier().0.ct_eq(&self.0).into()
    }
}

impl fmt::Debug for AuthVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthVerifier(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kek_and_auth_are_separated() {
        let v = VaultId::from_bytes([9; 16]);
        let c = Credentials::new("pw");
        let d = c.derive(&KdfParams::new(64, 1, 1), &[1; 16], &v).unwrap();
        assert_ne!(d.kek.expose_secret(), d.auth.expose_secret());
        assert!(d.auth.verifier().verify(&d.auth));
        let other = AuthKey::from_bytes(v, [0; 32]);
        assert!(!d.auth.verifier().verify(&other));
        // The secret key changes everything.
        let c2 = Credentials::new("pw").with_secret_key(SecretKey::from_bytes_for_test([1; 20]));
        let d2 = c2.derive(&KdfParams::new(64, 1, 1), &[1; 16], &v).unwrap();
        assert_ne!(d.kek, d2.kek);
    }

    #[test]
    fn key_text_catches_typos() {
        let k = RecoveryKey::generate().unwrap();
        let t = k.to_text();
        assert_eq!(t.len(), 2 + 54 + 9);
        assert_eq!(RecoveryKey::parse(&t).unwrap(), k);
        // Change one data character.
        let mut bytes = t.as_bytes().to_vec();
        let i = 5;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let typo = String::from_utf8(bytes).unwrap();
        assert!(RecoveryKey::parse(&typo).is_err());
        assert!(RecoveryKey::parse("S1-AAAA").is_err());
        assert!(SecretKey::parse(&t).is_err());
    }

    impl SecretKey {
        fn from_bytes_for_test(b: [u8; 20]) -> Self {
            SecretKey(b)
        }
    }

    proptest! {
        #[test]
        fn secret_key_text_roundtrip(b: [u8; 20]) {
            let k = SecretKey(b);
            prop_assert_eq!(SecretKey::parse(&k.to_text()).unwrap(), k);
        }

        #[test]
        fn recovery_key_text_roundtrip(b: [u8; 32]) {
            let k = RecoveryKey(b);
            let t = k.to_text();
            prop_assert_eq!(RecoveryKey::parse(&t.replace('-', " ")).unwrap(), k);
        }

        #[test]
        fn key_text_hostile(s in ".{0,80}") {
            let _ = SecretKey::parse(&s);
            let _ = RecoveryKey::parse(&s);
        }
    }
}
