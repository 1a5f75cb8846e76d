//! The embedded default: a transactional single-file store on [`redb`].

use crate::{
    Capabilities, Error, GetOptions, GetResult, Key, ListOptions, ListPage, ObjectMeta, PutMode,
    PutOptions, PutResult, Result, Store, Version,
};
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::ops::Bound;
use std::path::Path;

/// Key -> 8-byte little-endian version, then the value.
const BLOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("blobs");
/// Store-wide counters.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const LAST_VERSION: &str = "last_version";

fn err(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::backend("redb", e)
}

/// The embedded default store: one file, ACID transactions, crash-safe,
/// on the [`redb`] crate.
///
/// Every put runs in one write transaction (redb allows one at a time), so the
/// read-compare-write of a conditional put is atomic across threads. A second
/// process cannot open the same file while this one holds it (redb locks it),
/// so cross-process sharing goes through a server store instead.
/// Versions come from a store-wide counter, so they are never reused.
///
/// Values are read whole from the B-tree page cache and ranges sliced from
/// them; for blobs of many megabytes prefer [`crate::DirStore`].
///
/// Calls complete synchronously: a put commits (with an `fsync`) inside the
/// first poll of its future. Wrap the store in [`crate::Offload`] on an async
/// runtime.
///
/// ```
/// use blocksmith_store::{Key, RedbStore, StoreExt};
/// let dir = tempfile::tempdir().unwrap();
/// let store = RedbStore::open(dir.path().join("blocksmith.redb")).unwrap();
/// let key = Key::new("config/app").unwrap();
/// store.blocking().put(&key, "{}").unwrap();
/// assert_eq!(store.blocking().list_all("config/").unwrap().len(), 1);
/// ```
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    /// Opens or creates the database file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let db = Database::create(path.as_ref()).map_err(err)?;
        let txn = db.begin_write().map_err(err)?;
        txn.open_table(BLOBS).map_err(err)?;
        txn.open_table(META).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(RedbStore { db })
    }
}

fn split<'a>(key: &Key, raw: &'a [u8]) -> Result<(u64, &'a [u8])> {
    if raw.len() < 8 {
        return Err(Error::Corrupt {
            key: key.to_string(),
            reason: "value shorter than its version header".into(),
        });
    }
    let (v, data) = raw.split_at(8);
    Ok((u64::from_le_bytes(v.try_into().expect("8 bytes")), data))
}

impl RedbStore {
    /// Runs `f` on the stored version and bytes of `key` inside a read transaction.
    fn with_row<T>(&self, key: &Key, f: impl FnOnce(u64, &[u8]) -> Result<T>) -> Result<T> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(BLOBS).map_err(err)?;
        let guard = table
            .get(key.as_str())
            .map_err(err)?
            .ok_or_else(|| Error::NotFound {
                key: key.to_string(),
            })?;
        let (version, data) = split(key, guard.value())?;
        f(version, data)
    }
}

impl Store for RedbStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::FULL.with_cross_process(false)
    }

    async fn get(&self, key: &Key, options: GetOptions) -> Result<GetResult> {
        self.with_row(key, |version, data| {
            let size = data.len() as u64;
            let range = match &options.range {
                Some(r) => r.resolve(key, size)?,
                None => 0..size,
            };
            Ok(GetResult {
                meta: ObjectMeta {
                    key: key.clone(),
                    size,
                    version: Version::from_u64(version),
                },
                data: Bytes::copy_from_slice(&data[range.start as usize..range.end as usize]),
                range,
            })
        })
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        self.with_row(key, |version, data| {
            Ok(ObjectMeta {
                key: key.clone(),
                size: data.len() as u64,
                version: Version::from_u64(version),
            })
        })
    }

    async fn put(&self, key: &Key, value: Bytes, options: PutOptions) -> Result<PutResult> {
        let txn = self.db.begin_write().map_err(err)?;
        let version = {
            let mut blobs = txn.open_table(BLOBS).map_err(err)?;
            let current = match blobs.get(key.as_str()).map_err(err)? {
                Some(g) => Some(split(key, g.value())?.0),
                None => None,
            };
            match (&options.mode, current) {
                (PutMode::Create, Some(_)) => {
                    return Err(Error::AlreadyExists {
                        key: key.to_string(),
                    });
                }
                (PutMode::Update(expected), cur)
                    if cur.is_none_or(|v| Version::from_u64(v) != *expected) =>
                {
                    return Err(Error::PreconditionFailed {
                        key: key.to_string(),
                    });
                }
                _ => {}
            }
            let mut meta = txn.open_table(META).map_err(err)?;
            let version = meta
                .get(LAST_VERSION)
                .map_err(err)?
                .map_or(0, |g| g.value())
                + 1;
            meta.insert(LAST_VERSION, version).map_err(err)?;
            let mut row = Vec::with_capacity(8 + value.len());
            row.extend_from_slice(&version.to_le_bytes());
            row.extend_from_slice(&value);
            blobs.insert(key.as_str(), row.as_slice()).map_err(err)?;
            version
        };
        txn.commit().map_err(err)?;
        Ok(PutResult {
            version: Version::from_u64(version),
        })
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        let txn = self.db.begin_write().map_err(err)?;
        txn.open_table(BLOBS)
            .map_err(err)?
            .remove(key.as_str())
            .map_err(err)?;
        txn.commit().map_err(err)
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        options.validate()?;
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(BLOBS).map_err(err)?;
        let lower = match &options.start_after {
            Some(k) if k.as_str() >= options.prefix.as_str() => Bound::Excluded(k.as_str()),
            _ => Bound::Included(options.prefix.as_str()),
        };
        let mut objects = Vec::new();
        for row in table
            .range::<&str>((lower, Bound::Unbounded))
            .map_err(err)?
        {
            let (k, v) = row.map_err(err)?;
            if !k.value().starts_with(options.prefix.as_str()) || objects.len() > options.limit {
                break;
            }
            let key = Key::new(k.value())?;
            let (version, data) = split(&key, v.value())?;
            objects.push(ObjectMeta {
                size: data.len() as u64,
                version: Version::from_u64(version),
                key,
            });
        }
        Ok(ListPage::from_sorted(objects, options.limit))
    }
}
