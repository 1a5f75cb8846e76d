//! Items: the stored item blob and the encrypted manifest that lists items.
//!
//! # Item blob, format version 2
//!
//! Stored at `vault/<vault id>/items/<item id>/<version>-<tag>` (16 hex
//! digits each; the tag is random per write).
//!
//! | bytes | field |
//! | --- | --- |
//! | 4 | magic `BSVI` |
//! | 1 | format version, `2` (version 1 did not bind the tag and is refused) |
//! | 2 | length `n` of the wrapped item key, u16 LE |
//! | n | envelope of kind `ItemKey`: the item's random key, sealed by the vault key |
//! | rest | envelope of kind `ItemContent`: the secret, sealed by the item key |
//!
//! Both envelopes are bound to (vault id, item id || tag, version): the
//! envelope context's item field is the 16-byte item id followed by the
//! 8-byte write tag (u64 LE), so a blob from another write of the same
//! version (an orphan of an interrupted write, say) never opens in its place.
//!
//! # Manifest blob, format version 1
//!
//! Stored at `vault/<vault id>/manifest`: magic `BSVM`, format version `1`,
//! the sequence number (u64 LE, raised on every write), then an envelope of
//! kind `Manifest` bound to (vault id, `"manifest"`, sequence number). Its
//! plaintext lists every item: id, version, blob tag, timestamps, size, name
//! and collection, so names never reach the store in clear and an item blob
//! replayed from an older version is detected (the manifest names the version
//! to expect).

use crate::envelope::{self, Context, Envelope, Kind};
use crate::ids::{ItemId, VaultId};
use crate::secret::{SecretBytes, SymmetricKey};
use crate::wire::{Reader, put_str16};
use crate::{Error, Result};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use zeroize::{Zeroize, Zeroizing};

const ITEM_MAGIC: &[u8; 4] = b"BSVI";
const MANIFEST_MAGIC: &[u8; 4] = b"BSVM";
const FORMAT: u8 = 2;
const MANIFEST_FORMAT: u8 = 1;
const MANIFEST_PLAIN_FORMAT: u8 = 1;

/// Longest item name or collection name, in bytes.
pub const MAX_NAME_LEN: usize = 1024;

/// The envelope context's item field of a blob: item id, then the write tag.
fn bind_tag(item: &ItemId, tag: u64) -> [u8; 24] {
    let mut b = [0u8; 24];
    b[..16].copy_from_slice(item.as_bytes());
    b[16..].copy_from_slice(&tag.to_le_bytes());
    b
}

/// A parsed item blob (envelopes not yet opened).
#[derive(Debug, Clone, Copy)]
pub struct ItemBlob<'a> {
    /// The wrapped item key.
    pub key: Envelope<'a>,
    /// The sealed content.
    pub content: Envelope<'a>,
}

impl<'a> ItemBlob<'a> {
    /// Parses an item blob.
    ///
    /// # Errors
    /// [`Error::Malformed`] if the blob is truncated, has a bad magic, or its
    /// two envelopes name different key epochs; [`Error::UnsupportedVersion`]
    /// for an unknown blob format; any error of [`Envelope::parse_kind`] for
    /// either envelope ([`Error::WrongKind`] if they are not an item key and
    /// item content).
    pub fn parse(bytes: &'a [u8]) -> Result<ItemBlob<'a>> {
        const WHAT: &str = "item blob";
        let mut r = Reader::new(WHAT, bytes);
        if r.bytes(4)
            .map_err(|_| Error::malformed(WHAT, "truncated"))?
            != ITEM_MAGIC
        {
            return Err(Error::malformed(WHAT, "bad magic"));
        }
        let v = r.u8()?;
        if v != FORMAT {
            return Err(Error::UnsupportedVersion {
                what: WHAT,
                version: u32::from(v),
            });
        }
        let n = usize::from(r.u16()?);
        let key = Envelope::parse_kind(r.bytes(n)?, Kind::ItemKey)?;
        let content = Envelope::parse_kind(r.rest(), Kind::ItemContent)?;
        if key.key_epoch() != content.key_epoch() {
            return Err(Error::malformed(WHAT, "key and content epochs differ"));
        }
        Ok(ItemBlob { key, content })
    }

    /// Seals `secret` as version `version` of item `item`: a fresh random
    /// item key, wrapped by `vault_key` (generation `epoch`).
    ///
    /// # Errors
    /// [`Error::Rng`] if the random number generator fails;
    /// [`Error::TooLarge`] if `secret` exceeds
    /// [`MAX_PLAINTEXT`](crate::envelope::MAX_PLAINTEXT).
    pub fn seal(
        vault_key: &SymmetricKey,
        epoch: u32,
        vault: &VaultId,
        item: &ItemId,
        version: u64,
        tag: u64,
        secret: &[u8],
    ) -> Result<Vec<u8>> {
        // One system call for the item key and both nonces.
        let mut r = Zeroizing::new([0u8; 32 + 2 * envelope::NONCE_LEN]);
        crate::secret::fill_random(&mut r[..])?;
        let item_key = SymmetricKey::from_slice(&r[..32])?;
        let mut n1 = [0u8; envelope::NONCE_LEN];
        n1.copy_from_slice(&r[32..56]);
        let mut n2 = [0u8; envelope::NONCE_LEN];
        n2.copy_from_slice(&r[56..]);
        let bound = bind_tag(item, tag);
        let ctx = Context::new(vault.as_bytes())
            .with_item(&bound)
            .with_version(version);
        let wrapped = Envelope::seal_with_nonce(
            vault_key,
            Kind::ItemKey,
            epoch,
            &ctx,
            &n1,
            item_key.expose_secret(),
        )?;
        let content =
            Envelope::seal_with_nonce(&item_key, Kind::ItemContent, epoch, &ctx, &n2, secret)?;
        let mut out = Vec::with_capacity(7 + wrapped.len() + content.len());
        out.extend_from_slice(ITEM_MAGIC);
        out.push(FORMAT);
        out.extend_from_slice(&(wrapped.len() as u16).to_le_bytes());
        out.extend_from_slice(&wrapped);
        out.extend_from_slice(&content);
        Ok(out)
    }

    /// The vault key generation the blob is sealed under.
    pub fn epoch(&self) -> u32 {
        self.key.key_epoch()
    }

    /// Unwraps the item key with `vault_key`.
    ///
    /// # Errors
    /// [`Error::Decrypt`] if `vault_key`, `vault`, `item`, `version` or `tag`
    /// is not what the blob was sealed with, or the bytes were tampered with;
    /// [`Error::Malformed`] if the unwrapped key is not 32 bytes (a blob
    /// sealed by a buggy or hostile writer holding the key).
    pub fn item_key(
        &self,
        vault_key: &SymmetricKey,
        vault: &VaultId,
        item: &ItemId,
        version: u64,
        tag: u64,
    ) -> Result<SymmetricKey> {
        let bound = bind_tag(item, tag);
        let ctx = Context::new(vault.as_bytes())
            .with_item(&bound)
            .with_version(version);
        SymmetricKey::from_slice(self.key.open(vault_key, &ctx)?.expose_secret())
    }

    /// Opens the content with `vault_key`.
    ///
    /// # Errors
    /// As [`ItemBlob::item_key`]; [`Error::Decrypt`] if the content was
    /// tampered with.
    pub fn open(
        &self,
        vault_key: &SymmetricKey,
        vault: &VaultId,
        item: &ItemId,
        version: u64,
        tag: u64,
    ) -> Result<SecretBytes> {
        let item_key = self.item_key(vault_key, vault, item, version, tag)?;
        let bound = bind_tag(item, tag);
        let ctx = Context::new(vault.as_bytes())
            .with_item(&bound)
            .with_version(version);
        self.content.open(&item_key, &ctx)
    }
}

/// What the vault knows about an item without decrypting it: kept in the
/// encrypted manifest. Name and collection are zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct ItemInfo {
    pub(crate) id: ItemId,
    pub(crate) name: String,
    pub(crate) collection: Option<String>,
    pub(crate) version: u64,
    pub(crate) tag: u64,
    pub(crate) created: u64,
    pub(crate) updated: u64,
    pub(crate) size: u32,
}

impl ItemInfo {
    /// The item id.
    pub fn id(&self) -> ItemId {
        self.id
    }
    /// The name (unique in the vault).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The collection it belongs to, if any.
    pub fn collection(&self) -> Option<&str> {
        self.collection.as_deref()
    }
    /// The version, 1 at creation and raised by every update.
    pub fn version(&self) -> u64 {
        self.version
    }
    /// Creation time, Unix seconds.
    pub fn created(&self) -> u64 {
        self.created
    }
    /// Last update time, Unix seconds.
    pub fn updated(&self) -> u64 {
        self.updated
    }
    /// Size of the secret in bytes.
    pub fn size(&self) -> u32 {
        self.size
    }
}

zeroize_labels_on_drop!(ItemInfo, NewItem);

impl fmt::Debug for ItemInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItemInfo")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// An item to add: a name, an optional collection, and the secret.
///
/// ```
/// use blocksmith_vault::NewItem;
/// let item = NewItem::new("github", "ghp_example").with_collection("work");
/// assert_eq!(item.name(), "github");
/// ```
#[derive(Clone)]
pub struct NewItem {
    pub(crate) name: String,
    pub(crate) collection: Option<String>,
    pub(crate) secret: SecretBytes,
}

impl NewItem {
    /// An item named `name` holding `secret`.
    pub fn new(name: impl Into<String>, secret: impl Into<SecretBytes>) -> Self {
        NewItem {
            name: name.into(),
            collection: None,
            secret: secret.into(),
        }
    }

    /// Puts it in a collection (the unit of sharing several items at once).
    #[must_use]
    pub fn with_collection(mut self, collection: impl Into<String>) -> Self {
        self.collection = Some(collection.into());
        self
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn validate(&self) -> Result<()> {
        check_name("item name", &self.name)?;
        if let Some(c) = &self.collection {
            check_name("collection name", c)?;
        }
        if self.secret.len() > envelope::MAX_PLAINTEXT {
            return Err(Error::TooLarge {
                what: "item secret",
                len: self.secret.len(),
                max: envelope::MAX_PLAINTEXT,
            });
        }
        Ok(())
    }
}

impl fmt::Debug for NewItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewItem")
            .field("secret", &self.secret)
            .finish_non_exhaustive()
    }
}

pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(Error::InvalidArgument(format!(
            "{what} must be 1-{MAX_NAME_LEN} bytes without control characters"
        )));
    }
    Ok(())
}

/// The decrypted manifest: every item, by id and by name.
#[derive(Clone)]
pub(crate) struct Manifest {
    pub(crate) seq: u64,
    pub(crate) items: BTreeMap<ItemId, ItemInfo>,
    pub(crate) by_name: HashMap<String, ItemId>,
}

impl Drop for Manifest {
    fn drop(&mut self) {
        let names = std::mem::take(&mut self.by_name);
        for (mut k, _) in names {
            k.zeroize();
        }
    }
}

impl Manifest {
    pub(crate) fn with_seq(seq: u64) -> Manifest {
        Manifest {
            seq,
            items: BTreeMap::new(),
            by_name: HashMap::new(),
        }
    }

    pub(crate) fn insert(&mut self, info: ItemInfo) {
        self.by_name.insert(info.name.clone(), info.id);
        self.items.insert(info.id, info);
    }

    pub(crate) fn remove(&mut self, id: &ItemId) -> Option<ItemInfo> {
        let info = self.items.remove(id)?;
        if let Some((mut k, _)) = self.by_name.remove_entry(&info.name) {
            k.zeroize();
        }
        Some(info)
    }

    /// The plaintext encoding (zeroized on drop).
    pub(crate) fn encode(&self) -> SecretBytes {
        let cap = 13
            + self
                .items
                .values()
                .map(|i| 64 + i.name.len() + i.collection.as_ref().map_or(0, String::len))
                .sum::<usize>();
        let mut buf = SecretBytes::new(Vec::with_capacity(cap));
        let out = buf.as_mut_vec();
        out.push(MANIFEST_PLAIN_FORMAT);
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&(self.items.len() as u32).to_le_bytes());
        for i in self.items.values() {
            out.extend_from_slice(i.id.as_bytes());
            out.extend_from_slice(&i.version.to_le_bytes());
            out.extend_from_slice(&i.tag.to_le_bytes());
            out.extend_from_slice(&i.created.to_le_bytes());
            out.extend_from_slice(&i.updated.to_le_bytes());
            out.extend_from_slice(&i.size.to_le_bytes());
            put_str16(out, &i.name);
            match &i.collection {
                Some(c) => {
                    out.push(1);
                    put_str16(out, c);
                }
                None => out.push(0),
            }
        }
        buf
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Manifest> {
        const WHAT: &str = "manifest";
        let mut r = Reader::new(WHAT, bytes);
        let v = r.u8()?;
        if v != MANIFEST_PLAIN_FORMAT {
            return Err(Error::UnsupportedVersion {
                what: WHAT,
                version: u32::from(v),
            });
        }
        let seq = r.u64()?;
        let n = r.u32()? as usize;
        // Each entry takes at least 55 bytes: refuse counts the input cannot hold.
        if n > r.remaining() / 55 {
            return Err(Error::malformed(WHAT, "item count exceeds the data"));
        }
        let mut m = Manifest::with_seq(seq);
        for _ in 0..n {
            let id = ItemId::from_bytes(r.array()?);
            let version = r.u64()?;
            let tag = r.u64()?;
            let created = r.u64()?;
            let updated = r.u64()?;
            let size = r.u32()?;
            let name = r.str16()?.to_string();
            let collection = match r.u8()? {
                0 => None,
                1 => Some(r.str16()?.to_string()),
                _ => return Err(Error::malformed(WHAT, "bad collection flag")),
            };
            if m.items.contains_key(&id) || m.by_name.contains_key(&name) {
                return Err(Error::malformed(WHAT, "duplicate item"));
            }
            m.insert(ItemInfo {
                id,
                name,
                collection,
                version,
                tag,
                created,
                updated,
                size,
            });
        }
        r.finish()?;
        Ok(m)
    }

    /// Seals the manifest into its stored blob.
    pub(crate) fn seal(&self, key: &SymmetricKey, epoch: u32, vault: &VaultId) -> Result<Vec<u8>> {
        let ctx = Context::new(vault.as_bytes())
            .with_item(b"manifest")
            .with_version(self.seq);
        let env = Envelope::seal(
            key,
            Kind::Manifest,
            epoch,
            &ctx,
            self.encode().expose_secret(),
        )?;
        let mut out = Vec::with_capacity(13 + env.len());
        out.extend_from_slice(MANIFEST_MAGIC);
        out.push(MANIFEST_FORMAT);
        out.extend_from_slice(&self.seq.to_le_bytes());
        out.extend_from_slice(&env);
        Ok(out)
    }

    /// Parses a stored manifest blob: its sequence number and envelope.
    pub(crate) fn parse_blob(bytes: &[u8]) -> Result<(u64, Envelope<'_>)> {
        const WHAT: &str = "manifest blob";
        let mut r = Reader::new(WHAT, bytes);
        if r.bytes(4)? != MANIFEST_MAGIC {
            return Err(Error::malformed(WHAT, "bad magic"));
        }
        let v = r.u8()?;
        if v != MANIFEST_FORMAT {
            return Err(Error::UnsupportedVersion {
                what: WHAT,
                version: u32::from(v),
            });
        }
        let seq = r.u64()?;
        Ok((seq, Envelope::parse_kind(r.rest(), Kind::Manifest)?))
    }

    /// Opens a parsed manifest envelope.
    pub(crate) fn open(
        env: &Envelope<'_>,
        seq: u64,
        key: &SymmetricKey,
        vault: &VaultId,
    ) -> Result<Manifest> {
        let ctx = Context::new(vault.as_bytes())
            .with_item(b"manifest")
            .with_version(seq);
        let plain = env.open(key, &ctx)?;
        let m = Manifest::decode(plain.expose_secret())?;
        if m.seq != seq {
            return Err(Error::Inconsistent("manifest sequence number"));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn info(i: u8, name: String, coll: Option<String>) -> ItemInfo {
        ItemInfo {
            id: ItemId::from_bytes([i; 16]),
            name,
            collection: coll,
            version: u64::from(i) + 1,
            tag: u64::from(i) * 7,
            created: 1_700_000_000,
            updated: 1_700_000_001,
            size: 42,
        }
    }

    proptest! {
        #[test]
        fn manifest_roundtrip(seq: u64, names in proptest::collection::btree_set("[a-z]{1,12}", 0..20),
                              coll in proptest::option::of("[a-z ]{1,8}")) {
            let mut m = Manifest::with_seq(seq);
            for (i, n) in names.iter().enumerate() {
                m.insert(info(i as u8, n.clone(), coll.clone()));
            }
            let back = Manifest::decode(m.encode().expose_secret()).unwrap();
            prop_assert_eq!(back.seq, seq);
            prop_assert_eq!(back.items.len(), m.items.len());
            for (id, i) in &m.items {
                prop_assert_eq!(&back.items[id], i);
                prop_assert_eq!(back.by_name[&i.name], *id);
            }
        }

        #[test]
        fn manifest_hostile(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Manifest::decode(&bytes);
            let _ = Manifest::parse_blob(&bytes);
        }

        #[test]
        fn item_blob_roundtrip(secret in proptest::collection::vec(any::<u8>(), 0..200), version: u64, epoch: u32, tag: u64) {
            let k = SymmetricKey::from_bytes([5; 32]);
            let v = VaultId::from_bytes([1; 16]);
            let id = ItemId::from_bytes([2; 16]);
            let blob = ItemBlob::seal(&k, epoch, &v, &id, version, tag, &secret).unwrap();
            let parsed = ItemBlob::parse(&blob).unwrap();
            prop_assert_eq!(parsed.epoch(), epoch);
            let got = parsed.open(&k, &v, &id, version, tag).unwrap();
            prop_assert_eq!(got.expose_secret(), &secret[..]);
            // The write tag is bound: the same blob under another tag fails.
            prop_assert!(parsed.open(&k, &v, &id, version, tag ^ 1).is_err());
        }

        #[test]
        fn item_blob_hostile(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let k = SymmetricKey::from_bytes([5; 32]);
            let v = VaultId::from_bytes([1; 16]);
            let id = ItemId::from_bytes([2; 16]);
            if let Ok(b) = ItemBlob::parse(&bytes) {
                prop_assert!(b.open(&k, &v, &id, 1, 0).is_err());
            }
        }
    }

    #[test]
    fn names_are_checked() {
        assert!(NewItem::new("", "x").validate().is_err());
        assert!(NewItem::new("a\nb", "x").validate().is_err());
        assert!(NewItem::new("x".repeat(1025), "x").validate().is_err());
        assert!(
            NewItem::new("ok", "x")
                .with_collection("")
                .validate()
                .is_err()
        );
        assert!(NewItem::new("ok", "x").validate().is_ok());
    }

    #[test]
    fn manifest_blob_binds_sequence() {
        let k = SymmetricKey::from_bytes([5; 32]);
        let v = VaultId::from_bytes([1; 16]);
        let mut m = Manifest::with_seq(7);
        m.insert(info(1, "a".into(), None));
        let mut blob = m.seal(&k, 1, &v).unwrap();
        let (seq, env) = Manifest::parse_blob(&blob).unwrap();
        assert_eq!(Manifest::open(&env, seq, &k, &v).unwrap().items.len(), 1);
        // Claiming another sequence number fails authentication.
        blob[5] = 8;
        let (seq, env) = Manifest::parse_blob(&blob).unwrap();
        assert!(matches!(
            Manifest::open(&env, seq, &k, &v),
            Err(Error::Decrypt)
        ));
    }
}
