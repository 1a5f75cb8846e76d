//! API keys: readable prefix, embedded checksum, keyed hash at rest,
//! constant-time verification, rotation with a grace period, revocation.
//!
//! # Key format
//!
//! `<prefix>_<id><secret><checksum>`, for example
//! `bsk_4fQ2x9LmZ0aBt8...`: the prefix (1-24 of `a-z`, `0-9`, `_`, starting
//! with a letter) says what the key is, so leaked-key scanners can spot it; the
//! body is 50 base62 characters: a 12-character public key id (the lookup
//! handle, about 71 bits), a 32-character secret (about 190 bits) and a
//! 6-character CRC-32 of everything before it, so a typo or a truncated copy
//! is caught offline by [`ApiKey::parse`] without a database round trip.
//!
//! # At rest
//!
//! Only `BLAKE3-keyed(pepper, "blocksmith-apikey/v1" || key)` is stored,
//! with the metadata (owner, scopes, created, expires, last used, status).
//! Keys are high-entropy, so a fast keyed hash is enough (no password
//! hashing); the pepper is a host secret kept outside the store, so a stolen
//! store cannot even test guesses.

use crate::encoding::{base62_fixed, hex_bytes, is_base62, random_base62};
use crate::secret::SymmetricKey;
use crate::{Error, Result};
use blocksmith_store::{Key, PutOptions, Store, StoreExt, record::Record};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Length of the public id part.
pub const ID_LEN: usize = 12;
/// Length of the secret part.
pub const SECRET_LEN: usize = 32;
/// Length of the checksum part.
pub const CHECKSUM_LEN: usize = 6;
const BODY_LEN: usize = ID_LEN + SECRET_LEN + CHECKSUM_LEN;
const HASH_DOMAIN: &[u8] = b"blocksmith-apikey/v1";

fn check_prefix(prefix: &str) -> Result<()> {
    let b = prefix.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 24
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidArgument(
            "API key prefix must be 1-24 of a-z, 0-9, _ starting with a letter".into(),
        ))
    }
}

fn checksum(text: &str) -> String {
    base62_fixed(u64::from(crc32fast::hash(text.as_bytes())), CHECKSUM_LEN)
}

/// A full API key (the secret the client holds). Zeroized on drop; `Debug`
/// shows only the prefix and id.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ApiKey(String);

impl ApiKey {
    /// A fresh key with `prefix`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `prefix` is not 1-24 of `a-z`, `0-9`,
    /// `_` starting with a letter; [`Error::Rng`] if the random number
    /// generator fails.
    ///
    /// ```
    /// use blocksmith_vault::apikey::ApiKey;
    /// let key = ApiKey::generate("bsk")?;
    /// let parsed = ApiKey::parse(key.expose_secret())?;
    /// assert_eq!(parsed.prefix(), "bsk");
    /// assert_eq!(parsed.id(), key.id());
    /// assert!(!format!("{key:?}").contains(&key.expose_secret()[20..]));
    /// # Ok::<(), blocksmith_vault::Error>(())
    /// ```
    pub fn generate(prefix: &str) -> Result<ApiKey> {
        check_prefix(prefix)?;
        let id = random_base62(ID_LEN)?;
        let secret = random_base62(SECRET_LEN)?;
        let mut text = Zeroizing::new(String::with_capacity(prefix.len() + 1 + BODY_LEN));
        text.push_str(prefix);
        text.push('_');
        text.push_str(&id);
        text.push_str(&secret);
        let c = checksum(&text);
        text.push_str(&c);
        Ok(ApiKey(std::mem::take(&mut *text)))
    }

    /// Checks the format and the checksum, offline.
    ///
    /// # Errors
    /// [`Error::Malformed`] for the wrong shape (no `_`, a bad prefix, a body
    /// that is not 50 base62 characters); [`Error::ApiKeyChecksum`] if the
    /// checksum does not match (a typo or a truncated copy).
    pub fn parse(text: &str) -> Result<ApiKey> {
        const WHAT: &str = "API key";
        let text = text.trim();
        let (prefix, body) = text
            .rsplit_once('_')
            .ok_or(Error::malformed(WHAT, "missing prefix"))?;
        check_prefix(prefix).map_err(|_| Error::malformed(WHAT, "bad prefix"))?;
        if body.len() != BODY_LEN || !is_base62(body.as_bytes()) {
            return Err(Error::malformed(WHAT, "body is not 50 base62 characters"));
        }
        let split = text.len() - CHECKSUM_LEN;
        if checksum(&text[..split]) != text[split..] {
            return Err(Error::ApiKeyChecksum);
        }
        Ok(ApiKey(text.to_string()))
    }

    /// The readable prefix.
    pub fn prefix(&self) -> &str {
        self.0.rsplit_once('_').map_or("", |(p, _)| p)
    }

    /// The public id (safe to log: it identifies the key, it does not open anything).
    pub fn id(&self) -> &str {
        let start = self.0.len() - BODY_LEN;
        &self.0[start..start + ID_LEN]
    }

    /// The whole key, to give to the client once. Do not log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The stored hash of this key under `pepper`.
    pub fn hash(&self, pepper: &SymmetricKey) -> [u8; 32] {
        let mut h = blake3::Hasher::new_keyed(pepper.expose_secret());
        h.update(HASH_DOMAIN);
        h.update(self.0.as_bytes());
        *h.finalize().as_bytes()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({}_{}…<redacted>)", self.prefix(), self.id())
    }
}

/// The state of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ApiKeyStatus {
    /// Works until it expires.
    Active,
    /// Replaced by a rotation; still works until `until` (Unix seconds).
    Grace {
        /// End of the grace period.
        until: u64,
    },
    /// No longer works.
    Revoked {
        /// When it was revoked.
        at: u64,
    },
}

/// What is stored about a key: metadata and the keyed hash, never the key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiKeyInfo {
    /// The public id.
    pub id: String,
    /// The token prefix.
    pub prefix: String,
    /// Who the key belongs to.
    pub owner: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// Creation time, Unix seconds.
    pub created: u64,
    /// Expiry, Unix seconds.
    pub expires: Option<u64>,
    /// Last successful verification (updated at most once per
    /// [`ApiKeyOptions::touch_interval`]).
    pub last_used: Option<u64>,
    /// State.
    pub status: ApiKeyStatus,
    /// The key that replaced this one.
    pub replaced_by: Option<String>,
    /// The key this one replaced.
    pub replaces: Option<String>,
}

/// What the store holds: the metadata and the keyed hash (kept out of
/// [`ApiKeyInfo`] so hosts that serialize the metadata never publish it).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredKey {
    #[serde(flatten)]
    info: ApiKeyInfo,
    #[serde(with = "hex_bytes")]
    hash: Vec<u8>,
    /// Which pepper keyed `hash` (empty: the unnamed first one).
    #[serde(default)]
    pepper: String,
    /// MAC over every field that decides what the key may do (not
    /// `last_used`), keyed from the pepper: a store writer without the
    /// pepper cannot revive a revoked key, lift an expiry or add scopes.
    #[serde(default, with = "hex_bytes")]
    mac: Vec<u8>,
}

impl StoredKey {
    fn compute_mac(&self, pepper: &SymmetricKey) -> [u8; 32] {
        fn put(h: &mut blake3::Hasher, b: &[u8]) {
            h.update(&(b.len() as u64).to_le_bytes());
            h.update(b);
        }
        fn put_opt(h: &mut blake3::Hasher, v: Option<&[u8]>) {
            match v {
                Some(b) => {
                    h.update(&[1]);
                    put(h, b);
                }
                None => {
                    h.update(&[0]);
                }
            }
        }
        let key = blake3::derive_key(
            "blocksmith-vault v1 api key record mac",
            pepper.expose_secret(),
        );
        let mut h = blake3::Hasher::new_keyed(&key);
        let i = &self.info;
        put(&mut h, i.id.as_bytes());
        put(&mut h, i.prefix.as_bytes());
        put(&mut h, i.owner.as_bytes());
        h.update(&(i.scopes.len() as u64).to_le_bytes());
        for sc in &i.scopes {
            put(&mut h, sc.as_bytes());
        }
        h.update(&i.created.to_le_bytes());
        put_opt(
            &mut h,
            i.expires.map(u64::to_le_bytes).as_ref().map(|b| &b[..]),
        );
        let (tag, t) = match i.status {
            ApiKeyStatus::Active => (0u8, 0),
            ApiKeyStatus::Grace { until } => (1, until),
            ApiKeyStatus::Revoked { at } => (2, at),
        };
        h.update(&[tag]);
        h.update(&t.to_le_bytes());
        put_opt(&mut h, i.replaced_by.as_deref().map(str::as_bytes));
        put_opt(&mut h, i.replaces.as_deref().map(str::as_bytes));
        put(&mut h, self.pepper.as_bytes());
        put(&mut h, &self.hash);
        *h.finalize().as_bytes()
    }

    fn mac_ok(&self, pepper: &SymmetricKey) -> bool {
        bool::from(self.compute_mac(pepper)[..].ct_eq(&self.mac[..]))
    }
}

impl Record for StoredKey {
    const KIND: &'static str = "vault.apikey";
    const VERSION: u32 = 1;
}

/// What a new key is for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiKeySpec {
    /// Owner (a user or service id).
    pub owner: String,
    /// Scopes.
    pub scopes: Vec<String>,
    /// Lifetime; `None` never expires.
    pub ttl: Option<Duration>,
}

impl ApiKeySpec {
    /// A non-expiring key without scopes for `owner`.
    pub fn new(owner: impl Into<String>) -> Self {
        ApiKeySpec {
            owner: owner.into(),
            scopes: Vec::new(),
            ttl: None,
        }
    }

    /// Adds scopes.
    #[must_use]
    pub fn with_scopes<I, T>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Sets the lifetime.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

/// A key just issued: give `key` to the client once.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NewApiKey {
    /// The key.
    pub key: ApiKey,
    /// Its stored metadata.
    pub info: ApiKeyInfo,
}

/// How the service names and touches keys.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiKeyOptions {
    /// Token prefix of new keys, and the only one [`ApiKeys::verify`]
    /// accepts (default `bsk`).
    pub prefix: String,
    /// Store key prefix (default `apikeys`).
    pub store_prefix: String,
    /// Minimum time between two `last_used` writes of one key (default 60 s).
    pub touch_interval: Duration,
}

impl Default for ApiKeyOptions {
    fn default() -> Self {
        ApiKeyOptions {
            prefix: "bsk".into(),
            store_prefix: "apikeys".into(),
            touch_interval: Duration::from_secs(60),
        }
    }
}

impl ApiKeyOptions {
    /// Sets the token prefix.
    #[must_use]
    pub fn with_prefix(mut self, p: impl Into<String>) -> Self {
        self.prefix = p.into();
        self
    }

    /// Sets the store key prefix.
    #[must_use]
    pub fn with_store_prefix(mut self, p: impl Into<String>) -> Self {
        self.store_prefix = p.into();
        self
    }

    /// Sets the `last_used` write interval.
    #[must_use]
    pub fn with_touch_interval(mut self, d: Duration) -> Self {
        self.touch_interval = d;
        self
    }
}

type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

fn system_clock() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The API key service over a [`Store`].
///
/// ```
/// use blocksmith_store::{MemoryStore, block_on};
/// use blocksmith_vault::apikey::{ApiKeys, ApiKeySpec};
/// use blocksmith_vault::SymmetricKey;
/// use std::time::Duration;
/// block_on(async {
///     let keys = ApiKeys::new(MemoryStore::new(), SymmetricKey::generate()?);
///     let old = keys.create(ApiKeySpec::new("svc-billing").with_scopes(["invoices:read"])).await?;
///     let verified = keys.verify(old.key.expose_secret()).await?;
///     assert_eq!(verified.owner, "svc-billing");
///     // Rotate with a grace period: both keys work until it ends.
///     let new = keys.rotate(&old.info.id, Duration::from_secs(3600)).await?;
///     assert!(keys.verify(old.key.expose_secret()).await.is_ok());
///     assert!(keys.verify(new.key.expose_secret()).await.is_ok());
///     keys.revoke(&old.info.id).await?;
///     assert!(keys.verify(old.key.expose_secret()).await.is_err());
///     Ok::<(), blocksmith_vault::Error>(())
/// })?;
/// # Ok::<(), blocksmith_vault::Error>(())
/// ```
pub struct ApiKeys<S> {
    store: S,
    pepper: SymmetricKey,
    pepper_id: String,
    old_peppers: Vec<(String, SymmetricKey)>,
    options: ApiKeyOptions,
    clock: Clock,
}

impl<S> fmt::Debug for ApiKeys<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<S: Store> ApiKeys<S> {
    /// The synchronous twin: the same calls, each driving the async one
    /// with [`blocksmith_store::block_on`] (for synchronous code; on an
    /// async runtime use the async methods).
    pub fn blocking(&self) -> BlockingApiKeys<'_, S> {
        BlockingApiKeys(self)
    }

    /// A service storing in `store`, hashing with `pepper` (a 256-bit host
    /// secret kept outside the store, e.g. in a vault item or a KMS).
    pub fn new(store: S, pepper: SymmetricKey) -> Self {
        ApiKeys {
            store,
            pepper,
            pepper_id: String::new(),
            old_peppers: Vec::new(),
            options: ApiKeyOptions::default(),
            clock: Arc::new(system_clock),
        }
    }

    /// Sets the options.
    #[must_use]
    pub fn with_options(mut self, options: ApiKeyOptions) -> Self {
        self.options = options;
        self
    }

    /// Names the pepper given to [`ApiKeys::new`], so it can be rotated
    /// later: each stored hash records the id of the pepper that keyed it
    /// (the default id is empty).
    #[must_use]
    pub fn with_pepper_id(mut self, id: impl Into<String>) -> Self {
        self.pepper_id = id.into();
        self
    }

    /// Keeps accepting keys hashed under a retired pepper `id` while it is
    /// rotated out: a key verified under it is re-hashed under the current
    /// pepper on the spot, so the old pepper can be dropped once every live
    /// key has been used (or [`ApiKeys::list`] shows none left on it).
    ///
    /// This is for planned rotation. A pepper that *leaked* must not be kept
    /// as an old pepper: whoever holds it and can write to the store could
    /// insert a record under it during the window, and a use would move it
    /// to the new pepper. After a leak, issue new keys instead.
    #[must_use]
    pub fn with_old_pepper(mut self, id: impl Into<String>, pepper: SymmetricKey) -> Self {
        self.old_peppers.push((id.into(), pepper));
        self
    }

    /// Recomputes a record's MAC after a change (under the pepper it names;
    /// a record whose pepper is gone is left unverifiable, so it no longer
    /// verifies at all).
    fn reseal(&self, r: &mut StoredKey) {
        r.mac = match self.pepper_for(&r.pepper) {
            Some(k) => r.compute_mac(k).to_vec(),
            None => Vec::new(),
        };
    }

    fn pepper_for(&self, id: &str) -> Option<&SymmetricKey> {
        if id == self.pepper_id {
            return Some(&self.pepper);
        }
        self.old_peppers
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, k)| k)
    }

    /// Replaces the clock (Unix seconds), for tests and simulations.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    fn now(&self) -> u64 {
        (self.clock)()
    }

    fn key_of(&self, id: &str) -> Result<Key> {
        Ok(Key::new(format!("{}/{id}", self.options.store_prefix))?)
    }

    /// Issues a key.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the owner is empty or longer than 256
    /// bytes, or [`ApiKeyOptions::prefix`] is not a valid prefix (see
    /// [`ApiKey::generate`]); [`Error::Rng`] if the random number generator
    /// fails; [`Error::Store`] if [`ApiKeyOptions::store_prefix`] does not make
    /// a valid store key or the store fails.
    pub async fn create(&self, spec: ApiKeySpec) -> Result<NewApiKey> {
        self.issue(spec, None).await
    }

    async fn issue(&self, spec: ApiKeySpec, replaces: Option<String>) -> Result<NewApiKey> {
        if spec.owner.is_empty() || spec.owner.len() > 256 {
            return Err(Error::InvalidArgument("owner must be 1-256 bytes".into()));
        }
        let key = ApiKey::generate(&self.options.prefix)?;
        let now = self.now();
        let info = ApiKeyInfo {
            id: key.id().to_string(),
            prefix: self.options.prefix.clone(),
            owner: spec.owner,
            scopes: spec.scopes,
            created: now,
            expires: spec.ttl.map(|d| now.saturating_add(d.as_secs())),
            last_used: None,
            status: ApiKeyStatus::Active,
            replaced_by: None,
            replaces,
        };
        let mut stored = StoredKey {
            info,
            hash: key.hash(&self.pepper).to_vec(),
            pepper: self.pepper_id.clone(),
            mac: Vec::new(),
        };
        self.reseal(&mut stored);
        self.store
            .put_record(
                &self.key_of(&stored.info.id)?,
                &stored,
                PutOptions::create(),
            )
            .await?;
        Ok(NewApiKey {
            key,
            info: stored.info,
        })
    }

    /// Verifies a presented key: format and checksum, then the keyed hash in
    /// constant time, then status and expiry. Returns the key's metadata
    /// (its status says whether it is in a rotation grace period).
    ///
    /// # Errors
    /// - [`Error::Malformed`] or [`Error::ApiKeyChecksum`] if `presented` is
    ///   not a well-formed key ([`ApiKey::parse`]);
    /// - [`Error::ApiKeyRejected`] if its prefix is not this service's, no key
    ///   has its id, its secret is wrong, the stored record was altered
    ///   without the pepper, or it was hashed under a pepper this service no
    ///   longer has (deliberately one error for all of these);
    /// - [`Error::ApiKeyRevoked`] if it was revoked or its rotation grace
    ///   period is over; [`Error::ApiKeyExpired`] if it expired;
    /// - [`Error::Store`] if the store fails or the stored record is not
    ///   readable (including while recording `last_used`).
    pub async fn verify(&self, presented: &str) -> Result<ApiKeyInfo> {
        let key = ApiKey::parse(presented)?;
        if key.prefix() != self.options.prefix {
            return Err(Error::ApiKeyRejected);
        }
        let Some((record, _)) = self
            .store
            .get_record::<StoredKey>(&self.key_of(key.id())?)
            .await?
        else {
            return Err(Error::ApiKeyRejected);
        };
        let Some(pepper_key) = self.pepper_for(&record.pepper) else {
            return Err(Error::ApiKeyRejected);
        };
        let hash = key.hash(pepper_key);
        if !bool::from(hash.ct_eq(&record.hash[..])) || !record.mac_ok(pepper_key) {
            return Err(Error::ApiKeyRejected);
        }
        let StoredKey {
            info,
            hash: stored,
            pepper,
            ..
        } = record;
        let rehash = pepper != self.pepper_id;
        let now = self.now();
        match info.status {
            ApiKeyStatus::Revoked { .. } => return Err(Error::ApiKeyRevoked { id: info.id }),
            ApiKeyStatus::Grace { until } if now >= until => {
                return Err(Error::ApiKeyRevoked { id: info.id });
            }
            _ => {}
        }
        if info.expires.is_some_and(|e| now >= e) {
            return Err(Error::ApiKeyExpired { id: info.id });
        }
        let interval = self.options.touch_interval.as_secs();
        if rehash
            || info
                .last_used
                .is_none_or(|t| now.saturating_sub(t) >= interval)
        {
            let record_key = self.key_of(&info.id)?;
            let current = key.hash(&self.pepper).to_vec();
            let (old_hash, old_pepper) = (stored.clone(), pepper.clone());
            self.store
                .update_record::<StoredKey, _>(&record_key, |old| {
                    Ok(old.map(|mut r| {
                        r.info.last_used = Some(r.info.last_used.map_or(now, |t| t.max(now)));
                        // Move to the current pepper, unless the record
                        // changed under us (then leave its hash alone).
                        if rehash && r.pepper == old_pepper && r.hash == old_hash {
                            r.hash.clone_from(&current);
                            r.pepper.clone_from(&self.pepper_id);
                        }
                        self.reseal(&mut r);
                        r
                    }))
                })
                .await?;
            let mut info = info;
            info.last_used = Some(now);
            return Ok(info);
        }
        Ok(info)
    }

    /// A key's metadata.
    ///
    /// # Errors
    /// [`Error::ApiKeyNotFound`] if no key has this id; [`Error::Store`] if
    /// `id` does not make a valid store key (e.g. `..`), the record is not
    /// readable, or the store fails.
    pub async fn get(&self, id: &str) -> Result<ApiKeyInfo> {
        self.store
            .get_record::<StoredKey>(&self.key_of(id)?)
            .await?
            .map(|(s, _)| s.info)
            .ok_or_else(|| Error::ApiKeyNotFound { id: id.to_string() })
    }

    /// Every key, optionally only `owner`'s.
    ///
    /// # Errors
    /// [`Error::Store`] if the store fails or a stored record is not readable.
    pub async fn list(&self, owner: Option<&str>) -> Result<Vec<ApiKeyInfo>> {
        let mut out = Vec::new();
        for m in self
            .store
            .list_all(&format!("{}/", self.options.store_prefix))
            .await?
        {
            if let Some((s, _)) = self.store.get_record::<StoredKey>(&m.key).await?
                && owner.is_none_or(|o| s.info.owner == o)
            {
                out.push(s.info);
            }
        }
        Ok(out)
    }

    /// Replaces an active key: issues a new one with the same owner, scopes
    /// and lifetime, and puts the old one in a grace period of `grace` during
    /// which both work (zero revokes the old one at once).
    ///
    /// # Errors
    /// - [`Error::ApiKeyNotFound`] if no key has this id;
    /// - [`Error::ApiKeyNotActive`] if it is in a grace period or revoked, or
    ///   another rotation or a revocation changed it meanwhile (the new key
    ///   is then withdrawn);
    /// - [`Error::ApiKeyExpired`] if it expired;
    /// - as [`ApiKeys::create`] for issuing the replacement, and
    ///   [`Error::Store`] if the store fails.
    pub async fn rotate(&self, id: &str, grace: Duration) -> Result<NewApiKey> {
        let old = self.get(id).await?;
        if old.status != ApiKeyStatus::Active {
            return Err(Error::ApiKeyNotActive { id: id.to_string() });
        }
        let now = self.now();
        if old.expires.is_some_and(|e| now >= e) {
            return Err(Error::ApiKeyExpired { id: id.to_string() });
        }
        // The replacement expires when the old key would have: rotating
        // never extends a key's life.
        let mut spec = ApiKeySpec::new(old.owner.clone()).with_scopes(old.scopes.clone());
        if let Some(e) = old.expires {
            spec = spec.with_ttl(Duration::from_secs(e.saturating_sub(now)));
        }
        let new = self.issue(spec, Some(id.to_string())).await?;
        let until = now.saturating_add(grace.as_secs());
        let mut was_active = false;
        self.store
            .update_record::<StoredKey, _>(&self.key_of(id)?, |r| {
                let Some(mut r) = r else { return Ok(None) };
                was_active = r.info.status == ApiKeyStatus::Active;
                if !was_active {
                    return Ok(None);
                }
                r.info.status = if grace.is_zero() {
                    ApiKeyStatus::Revoked { at: now }
                } else {
                    ApiKeyStatus::Grace { until }
                };
                r.info.replaced_by = Some(new.info.id.clone());
                self.reseal(&mut r);
                Ok(Some(r))
            })
            .await?;
        if !was_active {
            // Another rotation or a revocation won the race: withdraw ours.
            self.store.delete(&self.key_of(&new.info.id)?).await?;
            return Err(Error::ApiKeyNotActive { id: id.to_string() });
        }
        Ok(new)
    }

    /// Revokes a key at once (idempotent).
    ///
    /// # Errors
    /// [`Error::ApiKeyNotFound`] if no key has this id; [`Error::Store`] as
    /// for [`ApiKeys::get`], or
    /// ([`blocksmith_store::Error::TooManyConflicts`]) if concurrent writers
    /// kept the record contended.
    pub async fn revoke(&self, id: &str) -> Result<()> {
        let now = self.now();
        let v = self
            .store
            .update_record::<StoredKey, _>(&self.key_of(id)?, |r| {
                Ok(r.and_then(|mut r| {
                    if matches!(r.info.status, ApiKeyStatus::Revoked { .. }) {
                        None
                    } else {
                        r.info.status = ApiKeyStatus::Revoked { at: now };
                        self.reseal(&mut r);
                        Some(r)
                    }
                }))
            })
            .await?;
        if v.is_none() {
            // Either already revoked (fine) or missing (an error).
            self.get(id).await?;
        }
        Ok(())
    }

    /// Marks keys whose grace period is over as revoked; returns how many.
    ///
    /// # Errors
    /// [`Error::Store`] if the store fails or a stored record is not
    /// readable; keys revoked before the failure stay revoked.
    pub async fn sweep(&self) -> Result<usize> {
        let now = self.now();
        let mut n = 0;
        for info in self.list(None).await? {
            if let ApiKeyStatus::Grace { until } = info.status
                && now >= until
            {
                let v = self
                    .store
                    .update_record::<StoredKey, _>(&self.key_of(&info.id)?, |r| {
                        Ok(r.and_then(|mut r| match r.info.status {
                            ApiKeyStatus::Grace { until } if now >= until => {
                                r.info.status = ApiKeyStatus::Revoked { at: until };
                                self.reseal(&mut r);
                                Some(r)
                            }
                            _ => None,
                        }))
                    })
                    .await?;
                n += usize::from(v.is_some());
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn format_and_checksum() {
        let k = ApiKey::generate("bsk").unwrap();
        let t = k.expose_secret();
        assert_eq!(t.len(), 4 + BODY_LEN);
        assert!(t.starts_with("bsk_"));
        assert_eq!(ApiKey::parse(t).unwrap().id(), k.id());
        // Every single-character substitution is caught offline.
        for i in 4..t.len() {
            let mut b = t.as_bytes().to_vec();
            b[i] = if b[i] == b'a' { b'b' } else { b'a' };
            let typo = String::from_utf8(b).unwrap();
            assert!(ApiKey::parse(&typo).is_err(), "position {i}");
        }
        assert!(matches!(
            ApiKey::parse(&t[..t.len() - 1]),
            Err(Error::Malformed { .. })
        ));
        assert!(ApiKey::parse("nounderscore").is_err());
        assert!(ApiKey::generate("Bad").is_err());
        assert!(ApiKey::generate("").is_err());
        assert_eq!(ApiKey::generate("bsk_live").unwrap().prefix(), "bsk_live");
    }

    #[test]
    fn hash_depends_on_pepper() {
        let k = ApiKey::generate("bsk").unwrap();
        let a = k.hash(&SymmetricKey::from_bytes([1; 32]));
        let b = k.hash(&SymmetricKey::from_bytes([2; 32]));
        assert_ne!(a, b);
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,80}") {
            let _ = ApiKey::parse(&s);
        }

        #[test]
        fn roundtrip(prefix in "[a-z][a-z0-9_]{0,10}") {
            let k = ApiKey::generate(&prefix).unwrap();
            let p = ApiKey::parse(k.expose_secret()).unwrap();
            prop_assert_eq!(p.prefix(), prefix.as_str());
            prop_assert_eq!(p.expose_secret(), k.expose_secret());
        }
    }
}

/// Blocking calls over [`ApiKeys`] (see [`ApiKeys::blocking`]): the same methods,
/// same names and arguments.
#[derive(Debug)]
pub struct BlockingApiKeys<'a, S>(&'a ApiKeys<S>);

impl<S: Store> BlockingApiKeys<'_, S> {
    /// [`ApiKeys::create`].
    ///
    /// # Errors
    /// As [`ApiKeys::create`].
    pub fn create(&self, spec: ApiKeySpec) -> Result<NewApiKey> {
        blocksmith_store::block_on(self.0.create(spec))
    }

    /// [`ApiKeys::verify`].
    ///
    /// # Errors
    /// As [`ApiKeys::verify`].
    pub fn verify(&self, presented: &str) -> Result<ApiKeyInfo> {
        blocksmith_store::block_on(self.0.verify(presented))
    }

    /// [`ApiKeys::get`].
    ///
    /// # Errors
    /// As [`ApiKeys::get`].
    pub fn get(&self, id: &str) -> Result<ApiKeyInfo> {
        blocksmith_store::block_on(self.0.get(id))
    }

    /// [`ApiKeys::list`].
    ///
    /// # Errors
    /// As [`ApiKeys::list`].
    pub fn list(&self, owner: Option<&str>) -> Result<Vec<ApiKeyInfo>> {
        blocksmith_store::block_on(self.0.list(owner))
    }

    /// [`ApiKeys::rotate`].
    ///
    /// # Errors
    /// As [`ApiKeys::rotate`].
    pub fn rotate(&self, id: &str, grace: Duration) -> Result<NewApiKey> {
        blocksmith_store::block_on(self.0.rotate(id, grace))
    }

    /// [`ApiKeys::revoke`].
    ///
    /// # Errors
    /// As [`ApiKeys::revoke`].
    pub fn revoke(&self, id: &str) -> Result<()> {
        blocksmith_store::block_on(self.0.revoke(id))
    }

    /// [`ApiKeys::sweep`].
    ///
    /// # Errors
    /// As [`ApiKeys::sweep`].
    pub fn sweep(&self) -> Result<usize> {
        blocksmith_store::block_on(self.0.sweep())
    }
}
