//! A vault persisted through [`blocksmith_store`]: create, unlock, items,
//! password change, recovery, resumable key rotation and sharing.
//!
//! # Layout in the store
//!
//! Under `vault/<vault id>/`:
//! - `header`: a typed record (`vault.header` v1) with the Argon2 parameters
//!   and salt, the vault key wrapped by the password-derived key and by the
//!   recovery key, the auth verifier, the X25519 public key and the sealed
//!   private key, and the current key epoch;
//! - `manifest`: the encrypted item list (see [`crate::item`]);
//! - `items/<item id>/<version>-<tag>`: one item blob per version, the tag
//!   random per write (the previous blob is deleted once the manifest names
//!   the new one; [`Vault::vacuum`] removes blobs orphaned by a crash, in
//!   two passes so that another device's write in flight keeps its blob);
//! - `vacuum`: a typed record (`vault.vacuum` v1), the blobs the last
//!   vacuum pass found unnamed;
//! - `rotation`: a typed record (`vault.rotation` v2) while a key rotation is
//!   under way: the recovery key it will install (sealed by the next key), a
//!   resume cursor and a count, authenticated by a MAC under a key derived
//!   from the next key. The next vault key itself is in the header
//!   (`pending`), wrapped by the password-derived key and sealed to the
//!   recovery key's X25519 public key: never by the key being retired, so
//!   whoever holds the old key (the reason to rotate) learns nothing of the
//!   new one from the store or a backup.
//!
//! # Rotation and other writers
//!
//! A rotation first makes its next key durable in the header, then writes
//! its record, then rewrites the manifest under the next key: from that
//! point a handle that unlocked before the rotation gets
//! [`Error::Conflict`] on its next write and, reopened, seals under the
//! next key. The finish never trusts the cursor: it reads the manifest as
//! stored, opens every item blob it names (re-encrypting any still under the
//! retired key), and commits by compare-and-swap on that manifest version.
//!
//! Shares wait under `shares/<recipient fingerprint>/<share id>`.
//!
//! Everything written is ciphertext, a wrapped key, a public key, a salt, a
//! verifier hash or a number. What the store can still see: how many items
//! there are, their sizes, how often they change, and when.
//!
//! One writer per vault at a time: concurrent writers are detected by the
//! store's compare-and-swap ([`Error::Conflict`]), not merged. Argon2 runs
//! inside [`Vault::create`], [`Vault::unlock`] and
//! [`Vault::change_password`]: on an async server, call them from a blocking
//! thread.

use crate::encoding::{hex_bytes, hex_opt};
use crate::envelope::{self, Context, Envelope, Kind};
use crate::ids::{ItemId, ShareId, VaultId};
use crate::item::{ItemBlob, ItemInfo, Manifest, NewItem};
use crate::kdf::{KdfFloor, KdfParams, KdfPolicy, StoredKdf};
use crate::keys::{AuthKey, AuthVerifier, Credentials, RecoveryKey};
use crate::secret::{SecretBytes, SymmetricKey, random_array};
use crate::share::{self, PublicKey, ReceivedShare, SharedItem};
use crate::{Error, Result};
use blocksmith_store::{Key, PutOptions, Store, StoreExt, Version, record::Record};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};
use x25519_dalek::StaticSecret;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// How a vault is created and opened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VaultOptions {
    /// Argon2id parameters for new vaults and password changes.
    pub kdf: KdfParams,
    /// What stored parameters unlocking (and creating) accepts.
    pub kdf_policy: KdfPolicy,
    /// Refuse a manifest older than this sequence number (a client that
    /// remembers the last one it saw detects a rolled-back store).
    pub min_manifest_seq: u64,
    /// Items re-encrypted between two rotation checkpoints.
    pub rotation_batch: usize,
    /// Refuse a vault whose key epoch is below this (a client that
    /// remembers [`Vault::epoch`] detects a store rolled back to before a
    /// rotation, which would otherwise seal new secrets under the retired
    /// key).
    pub min_epoch: u32,
    /// How long a blob [`Vault::vacuum`] found unnamed must stay unnamed
    /// before a later pass deletes it (seconds, by the clock of the device
    /// that runs the pass; default 900): longer than any write takes
    /// between its blob and its manifest.
    pub vacuum_grace_secs: u64,
}

impl Default for VaultOptions {
    fn default() -> Self {
        VaultOptions {
            kdf: KdfParams::default(),
            kdf_policy: KdfPolicy::default(),
            min_manifest_seq: 0,
            rotation_batch: 64,
            min_epoch: 0,
            vacuum_grace_secs: 900,
        }
    }
}

impl VaultOptions {
    /// Tiny Argon2 parameters (64 KiB, one pass) and no floor: for tests,
    /// benchmarks and demos only, never for real secrets.
    pub fn insecure_fast() -> Self {
        VaultOptions {
            kdf: KdfParams::new(64, 1, 1),
            kdf_policy: KdfPolicy::default().with_floor(KdfFloor::None),
            ..VaultOptions::default()
        }
    }

    /// Sets the Argon2id parameters.
    #[must_use]
    pub fn with_kdf(mut self, kdf: KdfParams) -> Self {
        self.kdf = kdf;
        self
    }

    /// Sets the parameter policy.
    #[must_use]
    pub fn with_kdf_policy(mut self, policy: KdfPolicy) -> Self {
        self.kdf_policy = policy;
        self
    }

    /// Sets the smallest acceptable manifest sequence number.
    #[must_use]
    pub fn with_min_manifest_seq(mut self, seq: u64) -> Self {
        self.min_manifest_seq = seq;
        self
    }

    /// Sets the smallest acceptable key epoch.
    #[must_use]
    pub fn with_min_epoch(mut self, epoch: u32) -> Self {
        self.min_epoch = epoch;
        self
    }

    /// Sets the rotation checkpoint interval (at least 1).
    #[must_use]
    pub fn with_rotation_batch(mut self, n: usize) -> Self {
        self.rotation_batch = n.max(1);
        self
    }

    /// Sets [`VaultOptions::vacuum_grace_secs`].
    #[must_use]
    pub fn with_vacuum_grace_secs(mut self, secs: u64) -> Self {
        self.vacuum_grace_secs = secs;
        self
    }
}

#[derive(Serialize, Deserialize, Clone)]
struct Header {
    vault_id: String,
    created: u64,
    kdf: StoredKdf,
    #[serde(with = "hex_bytes")]
    salt: Vec<u8>,
    secret_key: bool,
    epoch: u32,
    #[serde(with = "hex_bytes")]
    wrapped_key: Vec<u8>,
    #[serde(with = "hex_opt")]
    recovery_wrap: Option<Vec<u8>>,
    #[serde(with = "hex_bytes")]
    auth_verifier: Vec<u8>,
    #[serde(with = "hex_bytes")]
    public_key: Vec<u8>,
    #[serde(with = "hex_bytes")]
    identity: Vec<u8>,
    /// The next vault key while a rotation is under way, wrapped by the
    /// password-derived key, and (with the current key) sealed to the
    /// recovery key the rotation will install: never by the key being
    /// retired, and never to a public key the store hands out.
    #[serde(default)]
    pending: Option<PendingKey>,
}

#[derive(Serialize, Deserialize, Clone)]
struct PendingKey {
    epoch: u32,
    #[serde(with = "hex_bytes")]
    wrapped_key: Vec<u8>,
    /// Ephemeral X25519 public key (32 bytes) then an envelope of kind
    /// `RecoveryWrap` holding the next then the current vault key, under the
    /// key agreed with the X25519 key derived from the rotation's new
    /// recovery key (computed on the device, never read from the store).
    #[serde(default, with = "hex_opt")]
    recovery_seal: Option<Vec<u8>>,
}

impl Record for Header {
    const KIND: &'static str = "vault.header";
    const VERSION: u32 = 1;
}

/// Progress of a rotation. The next key itself lives in the header
/// ([`PendingKey`]); this record holds the recovery key the rotation will
/// install (sealed by the next key), a resume cursor and a count, all
/// authenticated by a MAC under a key derived from the next key, so a store
/// cannot forge progress. The finish never trusts the cursor: it checks
/// every item.
#[derive(Serialize, Deserialize, Clone)]
struct RotationRecord {
    from_epoch: u32,
    to_epoch: u32,
    #[serde(with = "hex_bytes")]
    recovery: Vec<u8>,
    cursor: Option<String>,
    done: u64,
    started: u64,
    #[serde(with = "hex_bytes")]
    mac: Vec<u8>,
}

impl Record for RotationRecord {
    const KIND: &'static str = "vault.rotation";
    const VERSION: u32 = 2;
}

/// The item blobs the last [`Vault::vacuum`] pass found unnamed (their
/// keys), and when (Unix seconds): a pass the grace later deletes those
/// still unnamed.
#[derive(Serialize, Deserialize)]
struct VacuumMarks {
    unnamed: Vec<String>,
    at: u64,
}

impl Record for VacuumMarks {
    const KIND: &'static str = "vault.vacuum";
    const VERSION: u32 = 1;
}

impl RotationRecord {
    fn compute_mac(&self, vault: &VaultId, next: &SymmetricKey) -> [u8; 32] {
        let key = blake3::derive_key(
            "blocksmith-vault v1 rotation record mac",
            next.expose_secret(),
        );
        let mut h = blake3::Hasher::new_keyed(&key);
        h.update(vault.as_bytes());
        h.update(&self.from_epoch.to_le_bytes());
        h.update(&self.to_epoch.to_le_bytes());
        h.update(&(self.recovery.len() as u64).to_le_bytes());
        h.update(&self.recovery);
        match &self.cursor {
            Some(c) => {
                h.update(&[1]);
                h.update(&(c.len() as u64).to_le_bytes());
                h.update(c.as_bytes());
            }
            None => {
                h.update(&[0]);
            }
        }
        h.update(&self.done.to_le_bytes());
        h.update(&self.started.to_le_bytes());
        *h.finalize().as_bytes()
    }

    fn sign(&mut self, vault: &VaultId, next: &SymmetricKey) {
        self.mac = self.compute_mac(vault, next).to_vec();
    }

    fn verify(&self, vault: &VaultId, next: &SymmetricKey) -> Result<()> {
        use subtle::ConstantTimeEq;
        let want = self.compute_mac(vault, next);
        if bool::from(want[..].ct_eq(&self.mac[..])) {
            Ok(())
        } else {
            Err(Error::Inconsistent(
                "rotation record fails authentication (tampered)",
            ))
        }
    }
}

const CTX_VAULT_KEY: &[u8] = b"vault-key";
const CTX_IDENTITY: &[u8] = b"identity";
const CTX_RECOVERY: &[u8] = b"recovery";
const CTX_PENDING: &[u8] = b"pending-key";
const LABEL_PENDING_SEAL: &[u8] = b"blocksmith-vault/v1/recovery-seal";

fn recovery_public_of(recovery: &RecoveryKey, vault: &VaultId) -> Vec<u8> {
    x25519_dalek::PublicKey::from(&recovery.sealing_secret(vault))
        .to_bytes()
        .to_vec()
}

fn pending_seal_key(vault: &VaultId, dh: &[u8; 32], epk: &[u8], rpk: &[u8]) -> SymmetricKey {
    let mut info = Vec::with_capacity(LABEL_PENDING_SEAL.len() + 64);
    info.extend_from_slice(LABEL_PENDING_SEAL);
    info.extend_from_slice(epk);
    info.extend_from_slice(rpk);
    crate::keys::hkdf32(vault.as_bytes(), dh, &info)
}

fn pending_ctx(vault: &VaultId, epoch: u32) -> Context<'_> {
    Context::new(vault.as_bytes())
        .with_item(CTX_PENDING)
        .with_version(u64::from(epoch))
}

/// Seals the next and the current vault key to the rotation's new recovery
/// key (ephemeral-static X25519 + HKDF): mid-rotation, that recovery key
/// alone opens the vault, items on both sides of the cursor included.
fn seal_to_recovery(
    recovery: &RecoveryKey,
    epoch: u32,
    vault: &VaultId,
    next: &SymmetricKey,
    current: &SymmetricKey,
) -> Result<Vec<u8>> {
    let rpk: [u8; 32] = recovery_public_of(recovery, vault)
        .try_into()
        .map_err(|_| Error::Inconsistent("recovery public key length"))?;
    let eph = StaticSecret::from(random_array::<32>()?);
    let epk = x25519_dalek::PublicKey::from(&eph).to_bytes();
    let shared = eph.diffie_hellman(&x25519_dalek::PublicKey::from(rpk));
    if !shared.was_contributory() {
        return Err(Error::Inconsistent(
            "recovery public key is a low-order point",
        ));
    }
    let k = pending_seal_key(vault, shared.as_bytes(), &epk, &rpk);
    let mut both = zeroize::Zeroizing::new([0u8; 64]);
    both[..32].copy_from_slice(next.expose_secret());
    both[32..].copy_from_slice(current.expose_secret());
    let env = Envelope::seal(
        &k,
        Kind::RecoveryWrap,
        epoch,
        &pending_ctx(vault, epoch),
        &both[..],
    )?;
    let mut out = Vec::with_capacity(32 + env.len());
    out.extend_from_slice(&epk);
    out.extend_from_slice(&env);
    Ok(out)
}

fn open_with_recovery(
    recovery: &RecoveryKey,
    epoch: u32,
    vault: &VaultId,
    sealed: &[u8],
) -> Result<(SymmetricKey, SymmetricKey)> {
    if sealed.len() < 32 {
        return Err(Error::malformed("pending key seal", "truncated"));
    }
    let (epk, env) = sealed.split_at(32);
    let epk: [u8; 32] = epk
        .try_into()
        .map_err(|_| Error::malformed("pending key seal", "truncated"))?;
    let secret = recovery.sealing_secret(vault);
    let rpk = x25519_dalek::PublicKey::from(&secret).to_bytes();
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(epk));
    if !shared.was_contributory() {
        return Err(Error::malformed("pending key seal", "low-order point"));
    }
    let k = pending_seal_key(vault, shared.as_bytes(), &epk, &rpk);
    let env = Envelope::parse_kind(env, Kind::RecoveryWrap)?;
    if env.key_epoch() != epoch {
        return Err(Error::Inconsistent("pending key sealed for another epoch"));
    }
    match env.open(&k, &pending_ctx(vault, epoch)) {
        Ok(b) if b.len() == 64 => Ok((
            SymmetricKey::from_slice(&b.expose_secret()[..32])?,
            SymmetricKey::from_slice(&b.expose_secret()[32..])?,
        )),
        Ok(_) => Err(Error::malformed("pending key seal", "bad length")),
        Err(Error::Decrypt) => Err(Error::WrongCredentials),
        Err(e) => Err(e),
    }
}

fn unwrap_pending(
    header: &Header,
    id: &VaultId,
    kek: &SymmetricKey,
) -> Result<Option<(u32, SymmetricKey)>> {
    let Some(p) = &header.pending else {
        return Ok(None);
    };
    if Some(p.epoch) != header.epoch.checked_add(1) {
        return Err(Error::Inconsistent("pending key of another epoch"));
    }
    let key = unwrap_vault_key(kek, Kind::VaultKey, p.epoch, id, &p.wrapped_key)?;
    Ok(Some((p.epoch, key)))
}

/// Progress of a key rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotationProgress {
    /// The key generation being retired.
    pub from_epoch: u32,
    /// The key generation being installed.
    pub to_epoch: u32,
    /// Items re-encrypted so far (over all runs).
    pub done: u64,
    /// Items still to re-encrypt.
    pub remaining: u64,
    /// True once the new key is installed and the old one retired.
    pub finished: bool,
}

/// What a completed rotation did.
#[derive(Debug)]
#[non_exhaustive]
pub struct RotationReport {
    /// The retired key generation.
    pub from_epoch: u32,
    /// The new key generation.
    pub to_epoch: u32,
    /// Items re-encrypted (over all runs, including interrupted ones).
    pub items: u64,
    /// The new recovery key (the old one no longer opens the vault): show it
    /// to the user.
    pub recovery_key: RecoveryKey,
    /// The vault's new public key (shares must now be sent to it).
    pub public_key: PublicKey,
}

/// What a client needs before logging in: how to derive its keys.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PreLogin {
    /// The vault.
    pub vault: VaultId,
    /// Argon2id parameters.
    pub kdf: KdfParams,
    /// Argon2 salt.
    pub salt: Vec<u8>,
    /// Whether the vault needs a secret key as well as the password.
    pub secret_key_required: bool,
}

impl PreLogin {
    /// Derives the [`AuthKey`] to present at login (checking `policy`
    /// first, so a server cannot downgrade the cost and then brute-force
    /// what it receives).
    ///
    /// # Errors
    /// [`Error::KdfParams`] if `policy` rejects the parameters (below its
    /// floor, above its ceilings, cheaper than its previous ones) or Argon2
    /// rejects them or the salt; [`Error::SecretKeyRequired`] if the vault
    /// needs a secret key and `credentials` has none.
    pub fn derive_auth_key(
        &self,
        credentials: &Credentials,
        policy: &KdfPolicy,
    ) -> Result<AuthKey> {
        policy.check(&self.kdf)?;
        if self.secret_key_required && credentials.secret_key().is_none() {
            return Err(Error::SecretKeyRequired);
        }
        Ok(credentials.derive(&self.kdf, &self.salt, &self.vault)?.auth)
    }
}

struct KeyRing {
    epoch: u32,
    current: SymmetricKey,
    pending: Option<(u32, SymmetricKey)>,
}

impl KeyRing {
    fn get(&self, epoch: u32) -> Result<&SymmetricKey> {
        if epoch == self.epoch {
            return Ok(&self.current);
        }
        match &self.pending {
            Some((e, k)) if *e == epoch => Ok(k),
            _ => Err(Error::UnknownKeyEpoch { epoch }),
        }
    }

    /// The key new data is sealed with: the pending one during a rotation.
    fn write(&self) -> (u32, &SymmetricKey) {
        match &self.pending {
            Some((e, k)) => (*e, k),
            None => (self.epoch, &self.current),
        }
    }
}

/// What [`Vault::load_state`] reads besides the header.
struct Opened {
    identity: StaticSecret,
    manifest: Manifest,
    manifest_version: Version,
    rotation: Option<(RotationRecord, Version)>,
}

/// How many times [`Vault::unlock`] reads the header again when a
/// rotation moved the manifest on meanwhile.
const UNLOCK_ATTEMPTS: u32 = 4;

/// An unlocked vault over a [`Store`].
///
/// ```
/// use blocksmith_store::{MemoryStore, block_on};
/// use blocksmith_vault::{Credentials, NewItem, Vault, VaultOptions};
/// block_on(async {
///     let store = MemoryStore::new();
///     let creds = Credentials::new("correct horse battery staple");
///     let opts = VaultOptions::insecure_fast(); // tests only: tiny Argon2 cost
///     let (mut vault, _recovery) = Vault::create(&store, &creds, opts.clone()).await?;
///     let id = vault.add(NewItem::new("email", "hunter2")).await?;
///     let vault_id = vault.id();
///     drop(vault);
///     let vault = Vault::unlock(&store, vault_id, &creds, opts.clone()).await?;
///     assert_eq!(vault.get(&id).await?.expose_secret(), b"hunter2");
///     assert!(Vault::unlock(&store, vault_id, &Credentials::new("nope"), opts).await.is_err());
///     Ok::<(), blocksmith_vault::Error>(())
/// })?;
/// # Ok::<(), blocksmith_vault::Error>(())
/// ```
pub struct Vault<S> {
    store: S,
    id: VaultId,
    options: VaultOptions,
    kek: Option<SymmetricKey>,
    keys: KeyRing,
    identity: StaticSecret,
    header: Header,
    header_version: Version,
    manifest: Manifest,
    manifest_version: Version,
    rotation: Option<(RotationRecord, Version)>,
}

impl<S> fmt::Debug for Vault<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("id", &self.id)
            .field("epoch", &self.keys.epoch)
            .field("items", &self.manifest.items.len())
            .field("manifest_seq", &self.manifest.seq)
            .finish_non_exhaustive()
    }
}

fn prefix(id: &VaultId) -> String {
    format!("vault/{id}")
}

fn key_of(id: &VaultId, rest: &str) -> Result<Key> {
    Ok(Key::new(format!("{}/{rest}", prefix(id)))?)
}

/// The store key of an item's blob: version and a random per-write tag, so a
/// blob orphaned by an interrupted write never blocks the next one.
fn item_key(id: &VaultId, item: &ItemId, version: u64, tag: u64) -> Result<Key> {
    key_of(id, &format!("items/{item}/{version:016x}-{tag:016x}"))
}

fn random_tag() -> Result<u64> {
    Ok(u64::from_le_bytes(random_array()?))
}

fn conflict(e: blocksmith_store::Error, what: &'static str) -> Error {
    if e.is_conflict() {
        Error::Conflict(what)
    } else {
        Error::Store(e)
    }
}

fn seal_identity(
    key: &SymmetricKey,
    epoch: u32,
    vault: &VaultId,
    id: &StaticSecret,
) -> Result<Vec<u8>> {
    let ctx = Context::new(vault.as_bytes())
        .with_item(CTX_IDENTITY)
        .with_version(u64::from(epoch));
    Envelope::seal(key, Kind::IdentityKey, epoch, &ctx, id.as_bytes())
}

fn wrap_vault_key(
    kek: &SymmetricKey,
    kind: Kind,
    epoch: u32,
    vault: &VaultId,
    key: &SymmetricKey,
) -> Result<Vec<u8>> {
    let ctx = Context::new(vault.as_bytes())
        .with_item(CTX_VAULT_KEY)
        .with_version(u64::from(epoch));
    Envelope::seal(kek, kind, epoch, &ctx, key.expose_secret())
}

fn unwrap_vault_key(
    kek: &SymmetricKey,
    kind: Kind,
    epoch: u32,
    vault: &VaultId,
    bytes: &[u8],
) -> Result<SymmetricKey> {
    let env = Envelope::parse_kind(bytes, kind)?;
    if env.key_epoch() != epoch {
        return Err(Error::Inconsistent("wrapped vault key of another epoch"));
    }
    let ctx = Context::new(vault.as_bytes())
        .with_item(CTX_VAULT_KEY)
        .with_version(u64::from(epoch));
    match env.open(kek, &ctx) {
        Ok(k) => SymmetricKey::from_slice(k.expose_secret()),
        Err(Error::Decrypt) => Err(Error::WrongCredentials),
        Err(e) => Err(e),
    }
}

fn verifier_of(h: &Header) -> Result<AuthVerifier> {
    let b: [u8; 32] = h.auth_verifier[..]
        .try_into()
        .map_err(|_| Error::Inconsistent("auth verifier length"))?;
    Ok(AuthVerifier::from_bytes(b))
}

fn public_of(s: &StaticSecret) -> PublicKey {
    PublicKey::from_bytes(x25519_dalek::PublicKey::from(s).to_bytes())
}

fn inbox_prefix(pk: &PublicKey) -> String {
    format!("shares/{}/", pk.fingerprint())
}

impl<S: Store> Vault<S> {
    /// The synchronous twin: the same calls, each driving the async one
    /// with [`blocksmith_store::block_on`] (for synchronous code; on an
    /// async runtime use the async methods).
    pub fn blocking(&mut self) -> BlockingVault<'_, S> {
        BlockingVault(self)
    }

    /// Creates a vault with a random id, vault key, recovery key and sharing
    /// key pair. Returns the unlocked vault and the recovery key (show it to
    /// the user once; it is not stored).
    ///
    /// # Errors
    /// [`Error::KdfParams`] if `options.kdf_policy` or Argon2 rejects
    /// `options.kdf`; [`Error::Rng`] if the random number generator fails;
    /// [`Error::Store`] if the store fails.
    pub async fn create(
        store: S,
        credentials: &Credentials,
        options: VaultOptions,
    ) -> Result<(Self, RecoveryKey)> {
        options.kdf_policy.check(&options.kdf)?;
        let id = VaultId::generate()?;
        let salt = random_array::<16>()?;
        let derived = credentials.derive(&options.kdf, &salt, &id)?;
        let epoch = 1;
        let vault_key = SymmetricKey::generate()?;
        let recovery = RecoveryKey::generate()?;
        let identity = StaticSecret::from(random_array::<32>()?);
        let header = Header {
            vault_id: id.to_string(),
            created: now(),
            kdf: StoredKdf::from_params(&options.kdf),
            salt: salt.to_vec(),
            secret_key: credentials.secret_key().is_some(),
            epoch,
            wrapped_key: wrap_vault_key(&derived.kek, Kind::VaultKey, epoch, &id, &vault_key)?,
            recovery_wrap: Some(wrap_vault_key(
                &recovery.kek(&id),
                Kind::RecoveryWrap,
                epoch,
                &id,
                &vault_key,
            )?),
            auth_verifier: derived.auth.verifier().as_bytes().to_vec(),
            public_key: public_of(&identity).as_bytes().to_vec(),
            identity: seal_identity(&vault_key, epoch, &id, &identity)?,
            pending: None,
        };
        let manifest = Manifest::with_seq(1);
        let blob = manifest.seal(&vault_key, epoch, &id)?;
        let s = &store;
        let manifest_version = s
            .put(&key_of(&id, "manifest")?, blob.into(), PutOptions::create())
            .await?
            .version;
        let header_version = s
            .put_record(&key_of(&id, "header")?, &header, PutOptions::create())
            .await?
            .version;
        Ok((
            Vault {
                store,
                id,
                options,
                kek: Some(derived.kek),
                keys: KeyRing {
                    epoch,
                    current: vault_key,
                    pending: None,
                },
                identity,
                header,
                header_version,
                manifest,
                manifest_version,
                rotation: None,
            },
            recovery,
        ))
    }

    async fn load_header(store: &S, id: &VaultId) -> Result<(Header, Version)> {
        let (header, version) = store
            .get_record::<Header>(&key_of(id, "header")?)
            .await?
            .ok_or_else(|| Error::VaultNotFound { id: id.to_string() })?;
        if header.vault_id != id.to_string() {
            return Err(Error::Inconsistent("header of another vault"));
        }
        Ok((header, version))
    }

    /// What a client needs to derive its login key ([`PreLogin::derive_auth_key`]).
    ///
    /// # Errors
    /// [`Error::VaultNotFound`] if the store holds no vault `id`;
    /// [`Error::Inconsistent`] if the stored header names another vault;
    /// [`Error::KdfParams`] or [`Error::UnsupportedVersion`] if the stored
    /// key-derivation parameters are not valid Argon2id (version 0x13) ones;
    /// [`Error::Store`] if the header is unreadable or the store fails.
    pub async fn prelogin(store: S, id: VaultId) -> Result<PreLogin> {
        let (h, _) = Self::load_header(&store, &id).await?;
        Ok(PreLogin {
            vault: id,
            kdf: h.kdf.params()?,
            salt: h.salt.clone(),
            secret_key_required: h.secret_key,
        })
    }

    /// Server side of a login: checks an [`AuthKey`] against the stored
    /// verifier, in constant time. Knowing the verifier (or the auth key)
    /// does not decrypt anything.
    ///
    /// A wrong key is `Ok(false)`, not an error.
    ///
    /// # Errors
    /// [`Error::VaultNotFound`] if the store holds no vault `id`;
    /// [`Error::Inconsistent`] if the stored header names another vault or
    /// its verifier is not 32 bytes; [`Error::Store`] if the header is
    /// unreadable or the store fails.
    pub async fn verify_login(store: S, id: VaultId, key: &AuthKey) -> Result<bool> {
        let (h, _) = Self::load_header(&store, &id).await?;
        Ok(key.vault() == id && verifier_of(&h)?.verify(key))
    }

    /// Unlocks with the password (and secret key, for two-secret vaults).
    ///
    /// # Errors
    /// - [`Error::VaultNotFound`] if the store holds no vault `id`;
    /// - [`Error::KdfParams`] if the stored Argon2 parameters are invalid or
    ///   `options.kdf_policy` rejects them (a downgrade, or a cost meant to
    ///   exhaust the client), [`Error::UnsupportedVersion`] for another Argon2
    ///   version;
    /// - [`Error::SecretKeyRequired`] if the vault needs a secret key and
    ///   `credentials` has none;
    /// - [`Error::WrongCredentials`] if the password or secret key is wrong;
    /// - [`Error::Rollback`] if the key epoch is below
    ///   [`VaultOptions::min_epoch`] or the manifest older than
    ///   [`VaultOptions::min_manifest_seq`];
    /// - [`Error::Malformed`], [`Error::UnsupportedVersion`],
    ///   [`Error::WrongKind`], [`Error::Decrypt`], [`Error::UnknownKeyEpoch`]
    ///   or [`Error::Inconsistent`] if stored data is damaged, forged or
    ///   contradicts itself (a header of another vault, a tampered rotation
    ///   record, a manifest under the retired key mid-rotation);
    /// - [`Error::Store`] if a record is unreadable or the store fails.
    pub async fn unlock(
        store: S,
        id: VaultId,
        credentials: &Credentials,
        options: VaultOptions,
    ) -> Result<Self> {
        // Another device may rotate the key between our read of the header
        // and of the manifest: a manifest under a newer epoch than the
        // header named means the header moved on, so read it again (the
        // password-derived key is kept while the KDF inputs stay the same).
        let mut derived: Option<(Vec<u8>, KdfParams, SymmetricKey)> = None;
        let mut attempts = 0;
        loop {
            let (header, header_version) = Self::load_header(&store, &id).await?;
            let params = header.kdf.params()?;
            options.kdf_policy.check(&params)?;
            if header.secret_key && credentials.secret_key().is_none() {
                return Err(Error::SecretKeyRequired);
            }
            let kek = match &derived {
                Some((salt, p, kek)) if *salt == header.salt && *p == params => kek.clone(),
                _ => {
                    let kek = credentials.derive(&params, &header.salt, &id)?.kek;
                    derived = Some((header.salt.clone(), params, kek.clone()));
                    kek
                }
            };
            let vault_key =
                unwrap_vault_key(&kek, Kind::VaultKey, header.epoch, &id, &header.wrapped_key)?;
            let pending = unwrap_pending(&header, &id, &kek)?;
            let keys = KeyRing {
                epoch: header.epoch,
                current: vault_key,
                pending,
            };
            match Self::load_state(&store, id, &header, &keys, &options).await {
                Ok(opened) => {
                    return Ok(Vault {
                        store,
                        id,
                        options,
                        kek: Some(kek),
                        keys,
                        identity: opened.identity,
                        header,
                        header_version,
                        manifest: opened.manifest,
                        manifest_version: opened.manifest_version,
                        rotation: opened.rotation,
                    });
                }
                Err(Error::UnknownKeyEpoch { epoch })
                    if epoch > header.epoch && attempts < UNLOCK_ATTEMPTS =>
                {
                    attempts += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Unlocks with the recovery key. The vault then needs a new password
    /// ([`Vault::change_password`]) before it can rotate its key.
    ///
    /// # Errors
    /// - [`Error::VaultNotFound`] if the store holds no vault `id`;
    /// - [`Error::WrongCredentials`] if `recovery` is neither the vault's
    ///   recovery key nor the one a rotation under way will install;
    /// - [`Error::Inconsistent`] if `recovery` is the previous recovery key
    ///   while a rotation is under way (use the new one, or the password);
    /// - as [`Vault::unlock`] for rollbacks ([`Error::Rollback`]), damaged or
    ///   forged stored data, and store failures.
    pub async fn unlock_with_recovery(
        store: S,
        id: VaultId,
        recovery: &RecoveryKey,
        options: VaultOptions,
    ) -> Result<Self> {
        let (header, header_version) = Self::load_header(&store, &id).await?;
        let header_epoch = header.epoch;
        let wrap = header
            .recovery_wrap
            .as_deref()
            .ok_or(Error::WrongCredentials)?;
        let keys = match unwrap_vault_key(
            &recovery.kek(&id),
            Kind::RecoveryWrap,
            header.epoch,
            &id,
            wrap,
        ) {
            // The recovery key of the current epoch: during a rotation it
            // reads what has not moved to the next key yet.
            Ok(current) => KeyRing {
                epoch: header_epoch,
                current,
                pending: None,
            },
            // Mid-rotation, the recovery key the rotation will install
            // (shown by `rotation_recovery_key`) opens both keys.
            Err(Error::WrongCredentials) => {
                let Some(p) = header
                    .pending
                    .as_ref()
                    .filter(|p| p.recovery_seal.is_some())
                else {
                    return Err(Error::WrongCredentials);
                };
                if Some(p.epoch) != header_epoch.checked_add(1) {
                    return Err(Error::Inconsistent("pending key of another epoch"));
                }
                let sealed = p.recovery_seal.as_deref().unwrap_or_default();
                let (next, current) = open_with_recovery(recovery, p.epoch, &id, sealed)?;
                KeyRing {
                    epoch: header_epoch,
                    current,
                    pending: Some((p.epoch, next)),
                }
            }
            Err(e) => return Err(e),
        };
        Self::finish_open(store, id, header, header_version, None, keys, options).await
    }

    async fn finish_open(
        store: S,
        id: VaultId,
        header: Header,
        header_version: Version,
        kek: Option<SymmetricKey>,
        keys: KeyRing,
        options: VaultOptions,
    ) -> Result<Self> {
        let opened = Self::load_state(&store, id, &header, &keys, &options).await?;
        Ok(Vault {
            store,
            id,
            options,
            kek,
            keys,
            identity: opened.identity,
            header,
            header_version,
            manifest: opened.manifest,
            manifest_version: opened.manifest_version,
            rotation: opened.rotation,
        })
    }

    /// Opens the identity key, the rotation record and the manifest that
    /// `header` and `keys` lead to.
    async fn load_state(
        store: &S,
        id: VaultId,
        header: &Header,
        keys: &KeyRing,
        options: &VaultOptions,
    ) -> Result<Opened> {
        let epoch = header.epoch;
        let ctx = Context::new(id.as_bytes())
            .with_item(CTX_IDENTITY)
            .with_version(u64::from(epoch));
        let sk = envelope::open(&keys.current, Kind::IdentityKey, &ctx, &header.identity)?;
        let sk: zeroize::Zeroizing<[u8; 32]> = zeroize::Zeroizing::new(
            sk.expose_secret()
                .try_into()
                .map_err(|_| Error::Inconsistent("identity key length"))?,
        );
        let identity = StaticSecret::from(*sk);
        if public_of(&identity).as_bytes()[..] != header.public_key[..] {
            return Err(Error::Inconsistent(
                "public key does not match the identity key",
            ));
        }
        if epoch < options.min_epoch {
            return Err(Error::Rollback {
                what: "key epoch",
                expected: u64::from(options.min_epoch),
                found: u64::from(epoch),
            });
        }
        let rotation = store
            .get_record::<RotationRecord>(&key_of(&id, "rotation")?)
            .await?;
        if let Some((rec, _)) = &rotation {
            match &keys.pending {
                Some((to, next)) if rec.from_epoch == epoch && rec.to_epoch == *to => {
                    rec.verify(&id, next)?;
                }
                // The rotation committed (the header names the new epoch);
                // `rotate` cleans the record up.
                None if rec.to_epoch == epoch => rec.verify(&id, &keys.current)?,
                None if Some(rec.to_epoch) == epoch.checked_add(1) => {
                    return Err(Error::Inconsistent(
                        "a key rotation is under way: unlock with the password or with the \
                         recovery key the rotation will install",
                    ));
                }
                _ => return Err(Error::Inconsistent("rotation record of another epoch")),
            }
        }
        let r = store
            .get(
                &key_of(&id, "manifest")?,
                blocksmith_store::GetOptions::new(),
            )
            .await?;
        let (seq, env) = Manifest::parse_blob(&r.data)?;
        // The rotation record is written after the manifest moved to the
        // next key: from then on, a manifest under the retired key is a
        // forgery by whoever holds that key.
        if let (Some((rec, _)), Some((to, _))) = (&rotation, &keys.pending)
            && rec.to_epoch == *to
            && env.key_epoch() != *to
        {
            return Err(Error::Inconsistent(
                "manifest under the retired key during a rotation",
            ));
        }
        if seq < options.min_manifest_seq {
            return Err(Error::Rollback {
                what: "manifest",
                expected: options.min_manifest_seq,
                found: seq,
            });
        }
        let manifest = Manifest::open(&env, seq, keys.get(env.key_epoch())?, &id)?;
        Ok(Opened {
            identity,
            manifest,
            manifest_version: r.meta.version,
            rotation,
        })
    }

    /// The vault id.
    pub fn id(&self) -> VaultId {
        self.id
    }

    /// The current vault key generation (1 at creation, +1 per rotation).
    pub fn epoch(&self) -> u32 {
        self.keys.epoch
    }

    /// The manifest sequence number: remember it and pass it as
    /// [`VaultOptions::with_min_manifest_seq`] to detect a rolled-back store.
    pub fn manifest_seq(&self) -> u64 {
        self.manifest.seq
    }

    /// The Argon2id parameters the vault is stored with.
    ///
    /// # Errors
    /// [`Error::KdfParams`] or [`Error::UnsupportedVersion`] if the stored
    /// parameters are not valid Argon2id ones: [`Vault::unlock`] checks them,
    /// [`Vault::unlock_with_recovery`] does not.
    pub fn kdf_params(&self) -> Result<KdfParams> {
        self.header.kdf.params()
    }

    /// The public key others share items to.
    pub fn public_key(&self) -> PublicKey {
        public_of(&self.identity)
    }

    /// The verifier a login server stores for this vault.
    ///
    /// # Errors
    /// [`Error::Inconsistent`] if the stored verifier is not 32 bytes.
    pub fn auth_verifier(&self) -> Result<AuthVerifier> {
        verifier_of(&self.header)
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.manifest.items.len()
    }

    /// True when the vault holds no item.
    pub fn is_empty(&self) -> bool {
        self.manifest.items.is_empty()
    }

    /// Every item, in id order.
    pub fn items(&self) -> impl Iterator<Item = &ItemInfo> {
        self.manifest.items.values()
    }

    /// Items of a collection.
    pub fn collection<'a>(
        &'a self,
        collection: &'a str,
    ) -> impl Iterator<Item = &'a ItemInfo> + 'a {
        self.items()
            .filter(move |i| i.collection() == Some(collection))
    }

    /// An item by id.
    pub fn info(&self, id: &ItemId) -> Option<&ItemInfo> {
        self.manifest.items.get(id)
    }

    /// An item by name.
    pub fn find(&self, name: &str) -> Option<&ItemInfo> {
        self.manifest
            .by_name
            .get(name)
            .and_then(|id| self.manifest.items.get(id))
    }

    /// Status of an interrupted or partial key rotation, if any.
    pub fn rotation_pending(&self) -> Option<RotationProgress> {
        self.rotation.as_ref().map(|(r, _)| self.progress(r))
    }

    fn progress(&self, r: &RotationRecord) -> RotationProgress {
        let cursor = r.cursor.as_deref().and_then(|c| c.parse::<ItemId>().ok());
        let remaining = match cursor {
            Some(c) => self
                .manifest
                .items
                .range(c..)
                .filter(|(id, _)| **id > c)
                .count(),
            None => self.manifest.items.len(),
        };
        RotationProgress {
            from_epoch: r.from_epoch,
            to_epoch: r.to_epoch,
            done: r.done,
            remaining: remaining as u64,
            finished: r.to_epoch == self.keys.epoch,
        }
    }

    /// Writes `next` over the manifest by compare-and-swap.
    ///
    /// An error does not always mean the write failed: a timeout or a lost
    /// acknowledgement can follow a write that committed, and a client that
    /// retried a committed conditional put sees a failed precondition. So on
    /// any error the manifest is read back. Ours, byte for byte: the write
    /// happened, and this returns `Ok`. Another manifest that still names none
    /// of `new_blobs`: they are deleted (no manifest can name them later, as
    /// their tags are random and every manifest write is a compare-and-swap
    /// on the current one), and the error is returned. Anything else, or a
    /// read-back that fails: the blobs are left for [`Vault::vacuum`], never
    /// deleted on a guess.
    async fn commit_manifest(
        &mut self,
        next: Manifest,
        new_blobs: &[(ItemId, u64, u64)],
    ) -> Result<()> {
        let (epoch, key) = self.keys.write();
        let blob = bytes::Bytes::from(next.seal(key, epoch, &self.id)?);
        let mkey = key_of(&self.id, "manifest")?;
        let err = match self
            .store
            .put(
                &mkey,
                blob.clone(),
                PutOptions::update(self.manifest_version.clone()),
            )
            .await
        {
            Ok(r) => {
                self.manifest = next;
                self.manifest_version = r.version;
                return Ok(());
            }
            Err(e) => conflict(e, "manifest"),
        };
        let Ok(Some(current)) = self.store.get_opt(&mkey).await else {
            return Err(err);
        };
        if current.data == blob {
            self.manifest = next;
            self.manifest_version = current.meta.version;
            return Ok(());
        }
        // Ours can still land later (a request delayed in flight) unless
        // another write has already moved the manifest on: only then is it
        // safe to take the blobs back.
        if new_blobs.is_empty() || current.meta.version == self.manifest_version {
            return Err(err);
        }
        let names_ours = match self.open_manifest_blob(&current.data) {
            Ok(m) => new_blobs.iter().any(|(id, version, tag)| {
                m.items
                    .get(id)
                    .is_some_and(|i| i.version == *version && i.tag == *tag)
            }),
            Err(_) => true, // unreadable to us: keep the blobs
        };
        if !names_ours {
            for (id, version, tag) in new_blobs {
                let _ = self
                    .store
                    .delete(&item_key(&self.id, id, *version, *tag)?)
                    .await;
            }
        }
        Err(err)
    }

    fn open_manifest_blob(&self, data: &[u8]) -> Result<Manifest> {
        let (seq, env) = Manifest::parse_blob(data)?;
        if let (Some((rec, _)), Some((to, _))) = (&self.rotation, &self.keys.pending)
            && rec.to_epoch == *to
            && env.key_epoch() != *to
        {
            return Err(Error::Inconsistent(
                "manifest under the retired key during a rotation",
            ));
        }
        Manifest::open(&env, seq, self.keys.get(env.key_epoch())?, &self.id)
    }

    /// The manifest as the store holds it now.
    async fn load_manifest(&self) -> Result<(Manifest, Version)> {
        let r = self
            .store
            .get(
                &key_of(&self.id, "manifest")?,
                blocksmith_store::GetOptions::new(),
            )
            .await?;
        let m = self.open_manifest_blob(&r.data)?;
        if m.seq < self.options.min_manifest_seq {
            return Err(Error::Rollback {
                what: "manifest",
                expected: self.options.min_manifest_seq,
                found: m.seq,
            });
        }
        Ok((m, r.meta.version))
    }

    fn next_manifest(&self) -> Manifest {
        let mut m = self.manifest.clone();
        m.seq += 1;
        m
    }

    async fn write_item(&self, id: &ItemId, version: u64, tag: u64, secret: &[u8]) -> Result<()> {
        let (epoch, key) = self.keys.write();
        let blob = ItemBlob::seal(key, epoch, &self.id, id, version, tag, secret)?;
        self.store
            .put(
                &item_key(&self.id, id, version, tag)?,
                blob.into(),
                PutOptions::create(),
            )
            .await
            .map_err(|e| conflict(e, "item"))?;
        Ok(())
    }

    /// Adds an item; names are unique.
    ///
    /// # Errors
    /// As [`Vault::add_many`].
    pub async fn add(&mut self, item: NewItem) -> Result<ItemId> {
        Ok(self.add_many(vec![item]).await?.remove(0))
    }

    /// Adds several items with one manifest write.
    ///
    /// # Errors
    /// - [`Error::InvalidArgument`] if a name or collection is empty, longer
    ///   than [`MAX_NAME_LEN`](crate::item::MAX_NAME_LEN) bytes or holds a
    ///   control character;
    /// - [`Error::TooLarge`] if a secret exceeds
    ///   [`MAX_PLAINTEXT`](crate::envelope::MAX_PLAINTEXT);
    /// - [`Error::DuplicateName`] if a name is already in the vault or twice
    ///   in `items`;
    /// - [`Error::Conflict`] if another writer changed the manifest since this
    ///   handle read it (reopen the vault and retry);
    /// - [`Error::Rng`] if the random number generator fails;
    ///   [`Error::Store`] if the store fails.
    ///
    /// On an error no item is added (blobs already written are deleted, or
    /// left for [`Vault::vacuum`] when it cannot be known that the manifest
    /// write failed).
    pub async fn add_many(&mut self, items: Vec<NewItem>) -> Result<Vec<ItemId>> {
        let mut next = self.next_manifest();
        let mut ids = Vec::with_capacity(items.len());
        let mut tags = Vec::with_capacity(items.len());
        let t = now();
        for item in &items {
            item.validate()?;
            if let Some(id) = next.by_name.get(&item.name) {
                return Err(Error::DuplicateName { id: id.to_string() });
            }
            let id = ItemId::generate()?;
            let tag = random_tag()?;
            next.insert(ItemInfo {
                id,
                name: item.name.clone(),
                collection: item.collection.clone(),
                version: 1,
                tag,
                created: t,
                updated: t,
                size: u32::try_from(item.secret.len()).unwrap_or(u32::MAX),
            });
            ids.push(id);
            tags.push(tag);
        }
        let blobs: Vec<(ItemId, u64, u64)> =
            ids.iter().zip(&tags).map(|(i, t)| (*i, 1, *t)).collect();
        for ((id, _, tag), item) in blobs.iter().zip(&items) {
            self.write_item(id, 1, *tag, item.secret.expose_secret())
                .await?;
        }
        self.commit_manifest(next, &blobs).await?;
        Ok(ids)
    }

    /// Decrypts an item's secret.
    ///
    /// # Errors
    /// - [`Error::ItemNotFound`] if the vault has no item `id`;
    /// - [`Error::Inconsistent`] if its blob is missing from the store;
    /// - [`Error::UnknownKeyEpoch`] if the blob is sealed under a retired or
    ///   unknown vault key generation;
    /// - [`Error::Decrypt`] if the blob was tampered with or belongs to
    ///   another item, version or vault; [`Error::Malformed`],
    ///   [`Error::UnsupportedVersion`] or [`Error::WrongKind`] if it is not an
    ///   item blob;
    /// - [`Error::Store`] if the store fails.
    pub async fn get(&self, id: &ItemId) -> Result<SecretBytes> {
        let info = self
            .info(id)
            .ok_or_else(|| Error::ItemNotFound { id: id.to_string() })?;
        let r = self
            .store
            .get_opt(&item_key(&self.id, id, info.version, info.tag)?)
            .await?
            .ok_or(Error::Inconsistent(
                "an item in the manifest is missing from the store",
            ))?;
        self.open_blob(&r.data, id, info.version, info.tag)
    }

    fn open_blob(&self, bytes: &[u8], id: &ItemId, version: u64, tag: u64) -> Result<SecretBytes> {
        let blob = ItemBlob::parse(bytes)?;
        blob.open(self.keys.get(blob.epoch())?, &self.id, id, version, tag)
    }

    /// Decrypts an item's secret, found by name.
    ///
    /// # Errors
    /// [`Error::ItemNotFound`] if no item has this name; otherwise as
    /// [`Vault::get`].
    pub async fn get_by_name(&self, name: &str) -> Result<SecretBytes> {
        let id = self
            .manifest
            .by_name
            .get(name)
            .copied()
            .ok_or_else(|| Error::ItemNotFound {
                id: "(by name)".into(),
            })?;
        self.get(&id).await
    }

    /// Replaces an item's secret (its version goes up by one; the old
    /// version's blob is deleted).
    ///
    /// # Errors
    /// - [`Error::ItemNotFound`] if the vault has no item `id`;
    /// - [`Error::TooLarge`] if `secret` exceeds
    ///   [`MAX_PLAINTEXT`](crate::envelope::MAX_PLAINTEXT);
    /// - [`Error::Conflict`] if another writer changed the manifest since this
    ///   handle read it (reopen the vault and retry);
    /// - [`Error::Rng`] if the random number generator fails;
    /// - [`Error::Store`] if the store fails, including when only deleting
    ///   the old version's blob failed: the update then took effect, and
    ///   [`Vault::vacuum`] removes that blob.
    pub async fn update(&mut self, id: &ItemId, secret: impl Into<SecretBytes>) -> Result<u64> {
        let secret = secret.into();
        let old = self
            .info(id)
            .ok_or_else(|| Error::ItemNotFound { id: id.to_string() })?;
        let (old_version, old_tag) = (old.version, old.tag);
        let (version, tag) = (old_version + 1, random_tag()?);
        self.write_item(id, version, tag, secret.expose_secret())
            .await?;
        let mut next = self.next_manifest();
        if let Some(i) = next.items.get_mut(id) {
            i.version = version;
            i.tag = tag;
            i.updated = now();
            i.size = u32::try_from(secret.len()).unwrap_or(u32::MAX);
        }
        self.commit_manifest(next, &[(*id, version, tag)]).await?;
        self.store
            .delete(&item_key(&self.id, id, old_version, old_tag)?)
            .await?;
        Ok(version)
    }

    /// Removes an item.
    ///
    /// # Errors
    /// [`Error::ItemNotFound`] if the vault has no item `id`;
    /// [`Error::Conflict`] if another writer changed the manifest since this
    /// handle read it; [`Error::Store`] if the store fails, including when
    /// only deleting the blob failed (the item is then removed, and
    /// [`Vault::vacuum`] deletes the blob).
    pub async fn remove(&mut self, id: &ItemId) -> Result<()> {
        let mut next = self.next_manifest();
        let info = next
            .remove(id)
            .ok_or_else(|| Error::ItemNotFound { id: id.to_string() })?;
        let key = item_key(&self.id, id, info.version, info.tag)?;
        self.commit_manifest(next, &[]).await?;
        self.store.delete(&key).await?;
        Ok(())
    }

    /// Deletes item blobs the manifest does not name (left behind by writes
    /// interrupted between the blob and the manifest), safely while other
    /// devices write: a blob is deleted only once it has stayed unnamed for
    /// [`VaultOptions::vacuum_grace_secs`]. A pass records the blobs it
    /// finds unnamed, with the time (under `vault/<id>/vacuum`, shared by
    /// every device); a pass at least the grace later deletes those still
    /// unnamed and records the rest, and a pass earlier than that deletes
    /// nothing. So a blob another device wrote but has not yet named is
    /// named (or its writer gone) before it can be deleted, however many
    /// devices vacuum. Returns how many blobs it deleted.
    ///
    /// # Errors
    /// - [`Error::Rollback`] if the stored manifest is older than
    ///   [`VaultOptions::min_manifest_seq`];
    /// - [`Error::UnknownKeyEpoch`] if it is sealed under a key this handle
    ///   does not hold (another device rotated the key: reopen the vault);
    /// - [`Error::Decrypt`], [`Error::Malformed`],
    ///   [`Error::UnsupportedVersion`], [`Error::WrongKind`] or
    ///   [`Error::Inconsistent`] if the stored manifest is damaged or forged;
    /// - [`Error::Store`] if the store fails (blobs deleted before the failure
    ///   stay deleted) or the record of the previous pass does not decode.
    pub async fn vacuum(&self) -> Result<usize> {
        let marks_key = key_of(&self.id, "vacuum")?;
        let previous = self.store.get_record::<VacuumMarks>(&marks_key).await?;
        let now = now();
        let (marked, at) = match previous {
            Some((m, version)) => {
                if now.saturating_sub(m.at) < self.options.vacuum_grace_secs {
                    return Ok(0); // too soon after the pass that marked them
                }
                (
                    m.unnamed.into_iter().collect::<BTreeSet<String>>(),
                    Some(version),
                )
            }
            None => (BTreeSet::new(), None),
        };
        // Decide from the manifest as stored now (read after the marks).
        let unnamed = self.unnamed_blobs().await?;
        // Claim this pass by compare-and-swap: of two devices vacuuming at
        // once, one deletes, the other stops.
        let left: Vec<String> = unnamed
            .iter()
            .filter(|k| !marked.contains(k.as_str()))
            .map(|k| k.as_str().to_string())
            .collect();
        let mode = match at {
            Some(v) => PutOptions::update(v),
            None => PutOptions::create(),
        };
        match self
            .store
            .put_record(
                &marks_key,
                &VacuumMarks {
                    unnamed: left,
                    at: now,
                },
                mode,
            )
            .await
        {
            Ok(_) => {}
            Err(
                blocksmith_store::Error::PreconditionFailed { .. }
                | blocksmith_store::Error::AlreadyExists { .. },
            ) => return Ok(0),
            Err(e) => return Err(e.into()),
        }
        let mut n = 0;
        for key in unnamed {
            if marked.contains(key.as_str()) {
                self.store.delete(&key).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// Deletes every item blob the manifest does not name, at once. Only
    /// when no other device writes: their blobs not yet named look the
    /// same ([`Vault::vacuum`] is the safe one). Returns how many.
    ///
    /// # Errors
    /// As [`Vault::vacuum`].
    pub async fn vacuum_now(&self) -> Result<usize> {
        let unnamed = self.unnamed_blobs().await?;
        for key in &unnamed {
            self.store.delete(key).await?;
        }
        Ok(unnamed.len())
    }

    /// The item blobs the stored manifest does not name.
    async fn unnamed_blobs(&self) -> Result<Vec<Key>> {
        let prefix = format!("{}/items/", prefix(&self.id));
        // Decide from the manifest as stored now, not this handle's copy: a
        // blob named by a newer manifest (another device's write) is live.
        let (manifest, _) = self.load_manifest().await?;
        let mut out = Vec::new();
        for m in self.store.list_all(&prefix).await? {
            let live = m.key.as_str()[prefix.len()..]
                .split_once('/')
                .and_then(|(item, rest)| {
                    let info = manifest.items.get(&item.parse().ok()?)?;
                    Some(rest == format!("{:016x}-{:016x}", info.version, info.tag))
                })
                .unwrap_or(false);
            if !live {
                out.push(m.key);
            }
        }
        Ok(out)
    }

    async fn save_header(&mut self, next: Header) -> Result<()> {
        let r = self
            .store
            .put_record(
                &key_of(&self.id, "header")?,
                &next,
                PutOptions::update(self.header_version.clone()),
            )
            .await
            .map_err(|e| conflict(e, "header"))?;
        self.header = next;
        self.header_version = r.version;
        Ok(())
    }

    /// Sets a new password (and secret key, and optionally new Argon2
    /// parameters): one key is re-wrapped, no item is touched.
    ///
    /// # Errors
    /// [`Error::KdfParams`] if the parameters (`kdf`, or the stored ones when
    /// `None`) are rejected by [`VaultOptions::kdf_policy`] or by Argon2, or
    /// [`Error::UnsupportedVersion`] for stored ones of another Argon2
    /// version; [`Error::Conflict`] if another writer changed the header
    /// since this handle read it; [`Error::Rng`] if the random number
    /// generator fails; [`Error::Store`] if the store fails.
    pub async fn change_password(
        &mut self,
        credentials: &Credentials,
        kdf: Option<KdfParams>,
    ) -> Result<()> {
        let params = match kdf {
            Some(p) => p,
            None => self.header.kdf.params()?,
        };
        self.options.kdf_policy.check(&params)?;
        let salt = random_array::<16>()?;
        let derived = credentials.derive(&params, &salt, &self.id)?;
        let mut next = self.header.clone();
        next.kdf = StoredKdf::from_params(&params);
        next.salt = salt.to_vec();
        next.secret_key = credentials.secret_key().is_some();
        next.wrapped_key = wrap_vault_key(
            &derived.kek,
            Kind::VaultKey,
            self.keys.epoch,
            &self.id,
            &self.keys.current,
        )?;
        next.auth_verifier = derived.auth.verifier().as_bytes().to_vec();
        if let (Some(p), Some((e, k))) = (next.pending.as_mut(), &self.keys.pending) {
            p.wrapped_key = wrap_vault_key(&derived.kek, Kind::VaultKey, *e, &self.id, k)?;
        }
        self.save_header(next).await?;
        self.kek = Some(derived.kek);
        Ok(())
    }

    /// Issues a new recovery key; the previous one stops working.
    ///
    /// # Errors
    /// [`Error::Conflict`] if another writer changed the header since this
    /// handle read it; [`Error::Rng`] if the random number generator fails;
    /// [`Error::Store`] if the store fails. The previous key keeps working
    /// after an error.
    pub async fn new_recovery_key(&mut self) -> Result<RecoveryKey> {
        let recovery = RecoveryKey::generate()?;
        let mut next = self.header.clone();
        next.recovery_wrap = Some(wrap_vault_key(
            &recovery.kek(&self.id),
            Kind::RecoveryWrap,
            self.keys.epoch,
            &self.id,
            &self.keys.current,
        )?);
        self.save_header(next).await?;
        Ok(recovery)
    }

    /// Rotates the vault key: every item is re-encrypted under a fresh item
    /// key wrapped by a fresh vault key, the manifest and the sharing key
    /// pair are replaced, a new recovery key is issued and the old vault key
    /// is retired (data sealed under it no longer opens). Progress is
    /// checkpointed in the store: if interrupted (crash, store error), unlock
    /// again and call `rotate` to resume where it stopped.
    ///
    /// Shares sent to the old public key and not yet received cannot be
    /// opened afterwards: [`Vault::receive_shares`] first.
    ///
    /// # Errors
    /// - [`Error::PasswordRequired`] if the vault was unlocked with the
    ///   recovery key and no new password was set since;
    /// - [`Error::Conflict`] if another writer changed the header, the
    ///   manifest, the rotation record or an item meanwhile;
    /// - [`Error::Rollback`] if the manifest read back at the finish is older
    ///   than [`VaultOptions::min_manifest_seq`];
    /// - [`Error::Malformed`], [`Error::UnsupportedVersion`],
    ///   [`Error::WrongKind`], [`Error::Decrypt`], [`Error::UnknownKeyEpoch`]
    ///   or [`Error::Inconsistent`] if an item blob or the manifest does not
    ///   open, or the stored rotation state contradicts itself (a pending key
    ///   of another epoch, a tampered rotation record, an item missing from
    ///   the store);
    /// - [`Error::Rng`] if the random number generator fails;
    ///   [`Error::Store`] if the store fails.
    ///
    /// Progress made before an error is kept: unlock again and call `rotate`
    /// to resume.
    pub async fn rotate(&mut self) -> Result<RotationReport> {
        self.rotate_partially(usize::MAX).await?;
        self.finish_rotation().await
    }

    /// The recovery key the rotation under way will install (show it to
    /// the user as soon as the rotation begins: mid-rotation it opens the
    /// vault with [`Vault::unlock_with_recovery`]), or the one a rotation
    /// installed just before a crash kept it from being reported. `None`
    /// when no rotation is under way or left to clean up.
    ///
    /// # Errors
    /// [`Error::Decrypt`] or [`Error::Inconsistent`] when the record does
    /// not open.
    pub fn rotation_recovery_key(&self) -> Result<Option<RecoveryKey>> {
        let Some((rec, _)) = &self.rotation else {
            return Ok(None);
        };
        let key = match &self.keys.pending {
            Some((to, k)) if *to == rec.to_epoch => k,
            _ if rec.to_epoch == self.keys.epoch => &self.keys.current,
            _ => return Ok(None),
        };
        let r = self.pending_recovery(rec, key)?;
        if rec.to_epoch == self.keys.epoch && !self.is_installed_recovery(&r) {
            return Ok(None); // a stale record: not the key installed
        }
        Ok(Some(r))
    }

    fn is_installed_recovery(&self, r: &RecoveryKey) -> bool {
        self.header.recovery_wrap.as_deref().is_some_and(|w| {
            unwrap_vault_key(
                &r.kek(&self.id),
                Kind::RecoveryWrap,
                self.keys.epoch,
                &self.id,
                w,
            )
            .is_ok()
        })
    }

    /// Removes the record of a rotation that already committed (a crash
    /// between the commit and the cleanup, or a record replayed by the
    /// store), so that a new rotation can begin: `rotate` always moves the
    /// key on from the epoch it found.
    async fn clear_finished_rotation(&mut self) -> Result<()> {
        if let Some((rec, _)) = &self.rotation
            && rec.to_epoch == self.keys.epoch
        {
            self.store.delete(&key_of(&self.id, "rotation")?).await?;
            self.rotation = None;
        }
        Ok(())
    }

    /// Begins (or resumes) a rotation and re-encrypts at most `max_items`
    /// items, checkpointing every [`VaultOptions::rotation_batch`] items,
    /// without installing the new key. [`Vault::rotate`] finishes it.
    ///
    /// # Errors
    /// As [`Vault::rotate`] (except the finish's [`Error::Rollback`]).
    pub async fn rotate_partially(&mut self, max_items: usize) -> Result<RotationProgress> {
        if self.kek.is_none() {
            return Err(Error::PasswordRequired);
        }
        self.clear_finished_rotation().await?;
        if self.rotation.is_none() {
            self.begin_rotation().await?;
        }
        let Some((rec, _)) = &self.rotation else {
            return Err(Error::Inconsistent("rotation record missing"));
        };
        if rec.to_epoch == self.keys.epoch {
            return Ok(self.progress(rec));
        }
        let cursor = rec
            .cursor
            .as_deref()
            .map(str::parse::<ItemId>)
            .transpose()?;
        let todo: Vec<(ItemId, u64, u64)> = self
            .manifest
            .items
            .values()
            .filter(|i| cursor.is_none_or(|c| i.id > c))
            .take(max_items)
            .map(|i| (i.id, i.version, i.tag))
            .collect();
        for batch in todo.chunks(self.options.rotation_batch.max(1)) {
            for (id, version, tag) in batch {
                self.reencrypt(id, *version, *tag).await?;
            }
            if let Some((last, _, _)) = batch.last() {
                self.checkpoint(*last, batch.len() as u64).await?;
            }
        }
        match &self.rotation {
            Some((rec, _)) => Ok(self.progress(rec)),
            None => Err(Error::Inconsistent("rotation record missing")),
        }
    }

    async fn begin_rotation(&mut self) -> Result<()> {
        let kek = self.kek.clone().ok_or(Error::PasswordRequired)?;
        let from = self.keys.epoch;
        let to = from
            .checked_add(1)
            .ok_or(Error::Inconsistent("key epoch overflow"))?;
        // The recovery key this rotation installs, made first: the next key
        // is sealed to it (derived here, never read from the store).
        let recovery = RecoveryKey::generate()?;
        // 1. The next key, durable in the header before anything is sealed
        //    under it: wrapped by the password-derived key, and sealed with
        //    the current key to the new recovery key; never by the key being
        //    retired. A rotation whose record was lost resumes with the next
        //    key it began with (re-sealed to this attempt's recovery key).
        let next = match &self.keys.pending {
            Some((e, k)) if *e == to => k.clone(),
            Some(_) => return Err(Error::Inconsistent("pending key of another epoch")),
            None => SymmetricKey::generate()?,
        };
        let mut h = self.header.clone();
        h.pending = Some(PendingKey {
            epoch: to,
            wrapped_key: wrap_vault_key(&kek, Kind::VaultKey, to, &self.id, &next)?,
            recovery_seal: Some(seal_to_recovery(
                &recovery,
                to,
                &self.id,
                &next,
                &self.keys.current,
            )?),
        });
        self.save_header(h).await?;
        self.keys.pending = Some((to, next.clone()));
        // 2. The rotation becomes visible to every other writer: the manifest
        //    moves to the next key now, so a handle that unlocked before this
        //    point fails its next write with a conflict instead of sealing an
        //    item under the key being retired.
        let m = self.next_manifest();
        self.commit_manifest(m, &[]).await?;
        // 3. The progress record, authenticated under the next key. Its
        //    presence also says the manifest has moved (step 2), so from now
        //    on a manifest under the retired key is refused.
        let cctx = Context::new(self.id.as_bytes())
            .with_item(CTX_RECOVERY)
            .with_version(u64::from(to));
        let mut rec = RotationRecord {
            from_epoch: from,
            to_epoch: to,
            recovery: Envelope::seal(
                &next,
                Kind::PendingRecovery,
                to,
                &cctx,
                recovery.expose_secret(),
            )?,
            cursor: None,
            done: 0,
            started: now(),
            mac: Vec::new(),
        };
        rec.sign(&self.id, &next);
        let v = self
            .store
            .put_record(&key_of(&self.id, "rotation")?, &rec, PutOptions::create())
            .await
            .map_err(|e| conflict(e, "rotation record"))?
            .version;
        self.rotation = Some((rec, v));
        Ok(())
    }

    /// Brings one item blob under the next key. A blob already under the
    /// next epoch is opened to prove it (an epoch number alone proves
    /// nothing: the store could forge it, or a lost rotation could have used
    /// another key); one under the retired key is re-encrypted in place.
    async fn reencrypt(&self, id: &ItemId, version: u64, tag: u64) -> Result<()> {
        let key = item_key(&self.id, id, version, tag)?;
        let Some(r) = self.store.get_opt(&key).await? else {
            // Another writer updated or removed the item since this handle
            // read the manifest: a conflict (reopen and resume), not damage.
            let now = self.store.head(&key_of(&self.id, "manifest")?).await?;
            if now.version != self.manifest_version {
                return Err(Error::Conflict("item"));
            }
            return Err(Error::Inconsistent(
                "an item in the manifest is missing from the store",
            ));
        };
        let (to, next) = self.keys.write();
        let secret = self.open_blob(&r.data, id, version, tag)?;
        if ItemBlob::parse(&r.data)?.epoch() == to {
            return Ok(());
        }
        let blob = ItemBlob::seal(next, to, &self.id, id, version, tag, secret.expose_secret())?;
        self.store
            .put(&key, blob.into(), PutOptions::update(r.meta.version))
            .await
            .map_err(|e| conflict(e, "item"))?;
        Ok(())
    }

    async fn checkpoint(&mut self, last: ItemId, n: u64) -> Result<()> {
        let Some((rec, v)) = &self.rotation else {
            return Err(Error::Inconsistent("rotation record missing"));
        };
        let Some((_, next)) = &self.keys.pending else {
            return Err(Error::Inconsistent("next key missing"));
        };
        let mut rec = rec.clone();
        rec.cursor = Some(last.to_string());
        rec.done += n;
        rec.sign(&self.id, next);
        let v = self
            .store
            .put_record(
                &key_of(&self.id, "rotation")?,
                &rec,
                PutOptions::update(v.clone()),
            )
            .await
            .map_err(|e| conflict(e, "rotation record"))?
            .version;
        self.rotation = Some((rec, v));
        Ok(())
    }

    async fn finish_rotation(&mut self) -> Result<RotationReport> {
        let (rec, _) = self
            .rotation
            .clone()
            .ok_or(Error::Inconsistent("rotation record missing"))?;
        let to = rec.to_epoch;
        if to != self.keys.epoch {
            let kek = self.kek.clone().ok_or(Error::PasswordRequired)?;
            let (_, next_key) = self
                .keys
                .pending
                .as_ref()
                .ok_or(Error::Inconsistent("next key missing"))?;
            let next_key = next_key.clone();
            let recovery = self.pending_recovery(&rec, &next_key)?;
            // 1. Never decide from the cursor: take the manifest as the store
            //    holds it now and prove every item it names is under the next
            //    key, re-encrypting any still under the retired one (written
            //    by a handle that unlocked before the rotation began, say).
            let (manifest, version) = self.load_manifest().await?;
            self.manifest = manifest;
            self.manifest_version = version;
            let items: Vec<(ItemId, u64, u64)> = self
                .manifest
                .items
                .values()
                .map(|i| (i.id, i.version, i.tag))
                .collect();
            for (id, version, tag) in &items {
                self.reencrypt(id, *version, *tag).await?;
            }
            // 2. The manifest under the new key, by compare-and-swap against
            //    the version just checked: a write that landed in between
            //    fails this step (retry `rotate`), never the vault.
            let m = self.next_manifest();
            self.commit_manifest(m, &[]).await?;
            // 3. Commit: the header names the new epoch, wraps the new key, and
            //    carries a new sharing key pair. The old key is gone from the store.
            let identity = StaticSecret::from(random_array::<32>()?);
            let mut h = self.header.clone();
            h.epoch = to;
            h.wrapped_key = wrap_vault_key(&kek, Kind::VaultKey, to, &self.id, &next_key)?;
            h.recovery_wrap = Some(wrap_vault_key(
                &recovery.kek(&self.id),
                Kind::RecoveryWrap,
                to,
                &self.id,
                &next_key,
            )?);
            h.pending = None;
            h.identity = seal_identity(&next_key, to, &self.id, &identity)?;
            h.public_key = public_of(&identity).as_bytes().to_vec();
            self.save_header(h).await?;
            self.keys = KeyRing {
                epoch: to,
                current: next_key,
                pending: None,
            };
            self.identity = identity;
        }
        // 4. Clean up (also reached when resuming after a crash past the commit).
        let recovery = self.pending_recovery(&rec, &self.keys.current)?;
        self.store.delete(&key_of(&self.id, "rotation")?).await?;
        self.rotation = None;
        Ok(RotationReport {
            from_epoch: rec.from_epoch,
            to_epoch: to,
            items: rec.done,
            recovery_key: recovery,
            public_key: self.public_key(),
        })
    }

    fn pending_recovery(&self, rec: &RotationRecord, key: &SymmetricKey) -> Result<RecoveryKey> {
        let ctx = Context::new(self.id.as_bytes())
            .with_item(CTX_RECOVERY)
            .with_version(u64::from(rec.to_epoch));
        let b = envelope::open(key, Kind::PendingRecovery, &ctx, &rec.recovery)?;
        let arr: zeroize::Zeroizing<[u8; 32]> = zeroize::Zeroizing::new(
            b.expose_secret()
                .try_into()
                .map_err(|_| Error::Inconsistent("recovery key length"))?,
        );
        Ok(RecoveryKey::from_bytes(*arr))
    }

    /// Seals copies of `items` to `recipient` and returns the bundle (to
    /// hand over out of band, or see [`Vault::share`]).
    ///
    /// # Errors
    /// [`Error::ItemNotFound`] if an id is not in the vault; the errors of
    /// [`Vault::get`] for an item that does not decrypt;
    /// [`Error::Malformed`] if `recipient` is a low-order point (not a usable
    /// public key); [`Error::TooLarge`] if the items together exceed
    /// [`MAX_PLAINTEXT`](crate::envelope::MAX_PLAINTEXT); [`Error::Rng`] if
    /// the random number generator fails.
    pub async fn share_bundle(
        &self,
        items: &[ItemId],
        recipient: &PublicKey,
    ) -> Result<(ShareId, Vec<u8>)> {
        let mut shared = Vec::with_capacity(items.len());
        for id in items {
            let info = self
                .info(id)
                .ok_or_else(|| Error::ItemNotFound { id: id.to_string() })?;
            shared.push(SharedItem {
                name: info.name.clone(),
                collection: info.collection.clone(),
                secret: self.get(id).await?,
            });
        }
        share::seal(&self.identity, recipient, &shared)
    }

    /// Shares `items` with the holder of `recipient`: the sealed bundle waits
    /// in the recipient's inbox in this store until they
    /// [`Vault::receive_shares`]. Check the recipient's
    /// [`PublicKey::fingerprint`] out of band first.
    ///
    /// # Errors
    /// As [`Vault::share_bundle`], and [`Error::Store`] if the store fails.
    pub async fn share(&self, items: &[ItemId], recipient: &PublicKey) -> Result<ShareId> {
        let (id, bundle) = self.share_bundle(items, recipient).await?;
        let key = Key::new(format!("{}{id}", inbox_prefix(recipient)))?;
        self.store
            .put(&key, bundle.into(), PutOptions::create())
            .await?;
        Ok(id)
    }

    /// Shares every item of `collection`.
    ///
    /// # Errors
    /// [`Error::ItemNotFound`] if no item is in `collection`; otherwise as
    /// [`Vault::share`].
    pub async fn share_collection(
        &self,
        collection: &str,
        recipient: &PublicKey,
    ) -> Result<ShareId> {
        let ids: Vec<ItemId> = self.collection(collection).map(ItemInfo::id).collect();
        if ids.is_empty() {
            return Err(Error::ItemNotFound {
                id: "(collection)".into(),
            });
        }
        self.share(&ids, recipient).await
    }

    /// Opens a share bundle sealed to this vault's public key.
    ///
    /// # Errors
    /// [`Error::Decrypt`] if the bundle is not sealed to this vault's public
    /// key or was tampered with; [`Error::Malformed`],
    /// [`Error::UnsupportedVersion`] or [`Error::WrongKind`] if it is not a
    /// share bundle (or names a low-order public key).
    pub fn open_share(&self, bundle: &[u8]) -> Result<ReceivedShare> {
        share::open(&self.identity, bundle)
    }

    /// Imports the items of an opened share. A name already in the vault
    /// gets a ` (shared N)` suffix.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the share holds more than [`MAX_SHARE_ITEMS`]
    /// items; otherwise as [`Vault::add_many`] ([`Error::InvalidArgument`]
    /// also when a suffixed name outgrows
    /// [`MAX_NAME_LEN`](crate::item::MAX_NAME_LEN)).
    pub async fn import_share(&mut self, share: &ReceivedShare) -> Result<Vec<ItemId>> {
        if share.items.len() > MAX_SHARE_ITEMS {
            return Err(Error::TooLarge {
                what: "share (items)",
                len: share.items.len(),
                max: MAX_SHARE_ITEMS,
            });
        }
        let mut items = Vec::with_capacity(share.items.len());
        let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
        // The next suffix to try per base name: many items of one name
        // cost linear time, not quadratic.
        let mut next_n: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for it in &share.items {
            let mut name = it.name.clone();
            let n = next_n.entry(it.name.as_str()).or_insert(1);
            while self.manifest.by_name.contains_key(&name) || taken.contains(&name) {
                name = format!("{} (shared {n})", it.name);
                *n += 1;
            }
            taken.insert(name.clone());
            let mut item = NewItem::new(name, it.secret.clone());
            item.collection.clone_from(&it.collection);
            items.push(item);
        }
        self.add_many(items).await
    }

    /// Opens every share waiting in this vault's inbox, without importing
    /// anything: the host decides, from each share's authenticated
    /// [`ReceivedShare::sender`], which to [`Vault::accept_share`] and which
    /// to [`Vault::reject_share`].
    ///
    /// A bundle that does not open (not for us, tampered, malformed) is moved
    /// out of the inbox to a quarantine prefix (`shares-quarantine/...`) and
    /// reported in [`Inbox::quarantined`], so one bad bundle never blocks the
    /// others.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store fails.
    pub async fn pending_shares(&self) -> Result<Inbox> {
        let prefix = inbox_prefix(&self.public_key());
        let metas = self.store.list_all(&prefix).await?;
        let mut inbox = Inbox::default();
        for m in metas {
            if m.size > MAX_SHARE_BYTES {
                // Never read whole: reported, left where it is.
                inbox.quarantined.push((
                    m.key.as_str().to_string(),
                    Error::TooLarge {
                        what: "share bundle",
                        len: usize::try_from(m.size).unwrap_or(usize::MAX),
                        max: usize::try_from(MAX_SHARE_BYTES).unwrap_or(usize::MAX),
                    },
                ));
                continue;
            }
            let Some(r) = self.store.get_opt(&m.key).await? else {
                continue;
            };
            match self.open_share(&r.data) {
                Ok(share) => inbox.shares.push(PendingShare {
                    key: m.key.clone(),
                    share,
                }),
                Err(e) => {
                    self.quarantine(&m.key, r.data).await;
                    inbox.quarantined.push((m.key.as_str().to_string(), e));
                }
            }
        }
        Ok(inbox)
    }

    /// Moves a bundle out of the inbox, under a name derived from its key
    /// (any inbox key fits) and create-only (one never replaces another).
    /// Best effort: a failure here is never allowed to block the inbox.
    async fn quarantine(&self, key: &Key, data: bytes::Bytes) {
        let fp = self.public_key().fingerprint();
        let name = blake3::hash(key.as_str().as_bytes()).to_hex();
        let Ok(target) = Key::new(format!("shares-quarantine/{fp}/{name}")) else {
            return;
        };
        match self.store.put(&target, data, PutOptions::create()).await {
            Ok(_) => {}
            Err(e) if e.is_conflict() => {}
            Err(_) => return,
        }
        let _ = self.store.delete(key).await;
    }

    /// Imports a pending share's items (see [`Vault::import_share`]) and
    /// removes it from the inbox.
    ///
    /// # Errors
    ///
    /// An item the vault refuses (an invalid name, say) fails the whole
    /// share with its typed error and moves the bundle to the quarantine
    /// prefix; store errors and conflicts as for [`Vault::add_many`].
    pub async fn accept_share(&mut self, pending: &PendingShare) -> Result<Vec<ItemId>> {
        let bundle = self.store.get_opt(&pending.key).await?;
        match self.import_share(&pending.share).await {
            Ok(ids) => {
                self.store.delete(&pending.key).await?;
                Ok(ids)
            }
            Err(
                e @ (Error::InvalidArgument(_) | Error::TooLarge { .. } | Error::Malformed { .. }),
            ) => {
                if let Some(b) = bundle {
                    self.quarantine(&pending.key, b.data).await;
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Deletes a pending share from the inbox without importing it.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store fails.
    pub async fn reject_share(&self, pending: &PendingShare) -> Result<()> {
        self.store.delete(&pending.key).await?;
        Ok(())
    }

    /// Opens the inbox and imports the shares `accept` approves (check
    /// [`ReceivedShare::sender`] against the fingerprints you expect); the
    /// others are deleted. Bundles that do not open, or whose items the
    /// vault refuses, are quarantined and reported, never blocking the rest.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the store fails; [`Error::Conflict`],
    /// [`Error::Rng`] or [`Error::Store`] from importing an accepted share
    /// (see [`Vault::add_many`]). Shares handled before the error stay
    /// imported or deleted.
    pub async fn receive_shares(
        &mut self,
        mut accept: impl FnMut(&ReceivedShare) -> bool,
    ) -> Result<ReceiveReport> {
        let inbox = self.pending_shares().await?;
        let mut report = ReceiveReport {
            quarantined: inbox.quarantined,
            ..ReceiveReport::default()
        };
        for p in inbox.shares {
            if !accept(&p.share) {
                self.reject_share(&p).await?;
                report.rejected.push(p.share);
                continue;
            }
            match self.accept_share(&p).await {
                Ok(ids) => report.imported.push((p.share, ids)),
                Err(
                    e @ (Error::InvalidArgument(_)
                    | Error::TooLarge { .. }
                    | Error::Malformed { .. }),
                ) => {
                    report.quarantined.push((p.key.as_str().to_string(), e));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }
}

/// Largest share bundle read from the inbox (larger ones are reported, not
/// read).
pub const MAX_SHARE_BYTES: u64 = 64 << 20;

/// Most items one share may import.
pub const MAX_SHARE_ITEMS: usize = 10_000;

/// A share waiting in the inbox, opened (its sender authenticated) but not
/// imported.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PendingShare {
    /// Where it waits in the store.
    pub key: Key,
    /// The opened share.
    pub share: ReceivedShare,
}

/// What [`Vault::pending_shares`] found.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Inbox {
    /// Shares that opened, waiting for the host's decision.
    pub shares: Vec<PendingShare>,
    /// Bundles that did not open (store key, why), moved to quarantine.
    pub quarantined: Vec<(String, Error)>,
}

/// What [`Vault::receive_shares`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct ReceiveReport {
    /// Shares imported, with the new items' ids.
    pub imported: Vec<(ReceivedShare, Vec<ItemId>)>,
    /// Shares the host refused (deleted from the inbox).
    pub rejected: Vec<ReceivedShare>,
    /// Bundles quarantined (store key, why): not for us, tampered, or with
    /// items the vault refuses.
    pub quarantined: Vec<(String, Error)>,
}

/// The store key prefix of a vault (for hosts that list or remove vaults).
pub fn store_prefix(id: &VaultId) -> String {
    format!("{}/", prefix(id))
}

/// Blocking calls over [`Vault`] (see [`Vault::blocking`]): the same methods,
/// same names and arguments.
#[derive(Debug)]
pub struct BlockingVault<'a, S>(&'a mut Vault<S>);

impl<S: Store> BlockingVault<'_, S> {
    /// [`Vault::add`].
    ///
    /// # Errors
    /// As [`Vault::add`].
    pub fn add(&mut self, item: NewItem) -> Result<ItemId> {
        blocksmith_store::block_on(self.0.add(item))
    }

    /// [`Vault::add_many`].
    ///
    /// # Errors
    /// As [`Vault::add_many`].
    pub fn add_many(&mut self, items: Vec<NewItem>) -> Result<Vec<ItemId>> {
        blocksmith_store::block_on(self.0.add_many(items))
    }

    /// [`Vault::get`].
    ///
    /// # Errors
    /// As [`Vault::get`].
    pub fn get(&self, id: &ItemId) -> Result<SecretBytes> {
        blocksmith_store::block_on(self.0.get(id))
    }

    /// [`Vault::get_by_name`].
    ///
    /// # Errors
    /// As [`Vault::get_by_name`].
    pub fn get_by_name(&self, name: &str) -> Result<SecretBytes> {
        blocksmith_store::block_on(self.0.get_by_name(name))
    }

    /// [`Vault::update`].
    ///
    /// # Errors
    /// As [`Vault::update`].
    pub fn update(&mut self, id: &ItemId, secret: impl Into<SecretBytes>) -> Result<u64> {
        blocksmith_store::block_on(self.0.update(id, secret))
    }

    /// [`Vault::remove`].
    ///
    /// # Errors
    /// As [`Vault::remove`].
    pub fn remove(&mut self, id: &ItemId) -> Result<()> {
        blocksmith_store::block_on(self.0.remove(id))
    }

    /// [`Vault::vacuum`].
    ///
    /// # Errors
    /// As [`Vault::vacuum`].
    pub fn vacuum(&self) -> Result<usize> {
        blocksmith_store::block_on(self.0.vacuum())
    }
    /// [`Vault::vacuum_now`].
    ///
    /// # Errors
    /// As [`Vault::vacuum_now`].
    pub fn vacuum_now(&self) -> Result<usize> {
        blocksmith_store::block_on(self.0.vacuum_now())
    }

    /// [`Vault::change_password`].
    ///
    /// # Errors
    /// As [`Vault::change_password`].
    pub fn change_password(
        &mut self,
        credentials: &Credentials,
        kdf: Option<KdfParams>,
    ) -> Result<()> {
        blocksmith_store::block_on(self.0.change_password(credentials, kdf))
    }

    /// [`Vault::new_recovery_key`].
    ///
    /// # Errors
    /// As [`Vault::new_recovery_key`].
    pub fn new_recovery_key(&mut self) -> Result<RecoveryKey> {
        blocksmith_store::block_on(self.0.new_recovery_key())
    }

    /// [`Vault::rotate`].
    ///
    /// # Errors
    /// As [`Vault::rotate`].
    pub fn rotate(&mut self) -> Result<RotationReport> {
        blocksmith_store::block_on(self.0.rotate())
    }

    /// [`Vault::rotate_partially`].
    ///
    /// # Errors
    /// As [`Vault::rotate_partially`].
    pub fn rotate_partially(&mut self, max_items: usize) -> Result<RotationProgress> {
        blocksmith_store::block_on(self.0.rotate_partially(max_items))
    }

    /// [`Vault::share_bundle`].
    ///
    /// # Errors
    /// As [`Vault::share_bundle`].
    pub fn share_bundle(
        &self,
        items: &[ItemId],
        recipient: &PublicKey,
    ) -> Result<(ShareId, Vec<u8>)> {
        blocksmith_store::block_on(self.0.share_bundle(items, recipient))
    }

    /// [`Vault::share`].
    ///
    /// # Errors
    /// As [`Vault::share`].
    pub fn share(&self, items: &[ItemId], recipient: &PublicKey) -> Result<ShareId> {
        blocksmith_store::block_on(self.0.share(items, recipient))
    }

    /// [`Vault::share_collection`].
    ///
    /// # Errors
    /// As [`Vault::share_collection`].
    pub fn share_collection(&self, collection: &str, recipient: &PublicKey) -> Result<ShareId> {
        blocksmith_store::block_on(self.0.share_collection(collection, recipient))
    }

    /// [`Vault::import_share`].
    ///
    /// # Errors
    /// As [`Vault::import_share`].
    pub fn import_share(&mut self, share: &ReceivedShare) -> Result<Vec<ItemId>> {
        blocksmith_store::block_on(self.0.import_share(share))
    }

    /// [`Vault::pending_shares`].
    ///
    /// # Errors
    /// As [`Vault::pending_shares`].
    pub fn pending_shares(&self) -> Result<Inbox> {
        blocksmith_store::block_on(self.0.pending_shares())
    }

    /// [`Vault::accept_share`].
    ///
    /// # Errors
    /// As [`Vault::accept_share`].
    pub fn accept_share(&mut self, pending: &PendingShare) -> Result<Vec<ItemId>> {
        blocksmith_store::block_on(self.0.accept_share(pending))
    }

    /// [`Vault::reject_share`].
    ///
    /// # Errors
    /// As [`Vault::reject_share`].
    pub fn reject_share(&self, pending: &PendingShare) -> Result<()> {
        blocksmith_store::block_on(self.0.reject_share(pending))
    }

    /// [`Vault::receive_shares`].
    ///
    /// # Errors
    /// As [`Vault::receive_shares`].
    pub fn receive_shares(
        &mut self,
        accept: impl FnMut(&ReceivedShare) -> bool,
    ) -> Result<ReceiveReport> {
        blocksmith_store::block_on(self.0.receive_shares(accept))
    }
}
