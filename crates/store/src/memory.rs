//! An in-memory store for tests and caches.

use crate::{
    Capabilities, Error, GetOptions, GetResult, Key, ListOptions, ListPage, ObjectMeta, PutMode,
    PutOptions, PutResult, Result, Store, Version,
};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// A store held in a `BTreeMap` behind a lock. Not durable; conditions hold
/// across threads of one process.
///
/// ```
/// use blocksmith_store::{Key, MemoryStore, StoreExt, PutOptions, Error};
/// let store = MemoryStore::new();
/// let key = Key::new("a").unwrap();
/// store.blocking().put_opts(&key, "1", PutOptions::create()).unwrap();
/// let again = store.blocking().put_opts(&key, "2", PutOptions::create());
/// assert!(matches!(again, Err(Error::AlreadyExists { .. })));
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: RwLock<BTreeMap<Key, (Bytes, u64)>>,
    next_version: AtomicU64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Key, (Bytes, u64)>> {
        // A panic while holding the lock cannot leave the map half-updated
        // (every mutation is a single insert or remove), so poisoning is ignored.
        self.map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn meta(key: &Key, value: &Bytes, version: u64) -> ObjectMeta {
    ObjectMeta {
        key: key.clone(),
        size: value.len() as u64,
        version: Version::from_u64(version),
    }
}

impl Store for MemoryStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::FULL
            .with_durable(false)
            .with_cross_process(false)
    }

    async fn get(&self, key: &Key, options: GetOptions) -> Result<GetResult> {
        let map = self.read();
        let (value, version) = map.get(key).ok_or_else(|| Error::NotFound {
            key: key.to_string(),
        })?;
        let size = value.len() as u64;
        let range = match &options.range {
            Some(r) => r.resolve(key, size)?,
            None => 0..size,
        };
        Ok(GetResult {
            meta: meta(key, value, *version),
            data: value.slice(range.start as usize..range.end as usize),
            range,
        })
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let map = self.read();
        let (value, version) = map.get(key).ok_or_else(|| Error::NotFound {
            key: key.to_string(),
        })?;
        Ok(meta(key, value, *version))
    }

    async fn put(&self, key: &Key, value: Bytes, options: PutOptions) -> Result<PutResult> {
        let mut map = self
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match (&options.mode, map.get(key)) {
            (PutMode::Create, Some(_)) => {
                return Err(Error::AlreadyExists {
                    key: key.to_string(),
                });
            }
            (PutMode::Update(expected), current)
                if current.is_none_or(|(_, v)| Version::from_u64(*v) != *expected) =>
            {
                return Err(Error::PreconditionFailed {
                    key: key.to_string(),
                });
            }
            _ => {}
        }
        let version = self.next_version.fetch_add(1, Ordering::Relaxed) + 1;
        map.insert(key.clone(), (value, version));
        Ok(PutResult {
            version: Version::from_u64(version),
        })
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
        Ok(())
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        options.validate()?;
        let map = self.read();
        let lower = match &options.start_after {
            Some(k) if k.as_str() >= options.prefix.as_str() => Bound::Excluded(k.as_str()),
            _ => Bound::Included(options.prefix.as_str()),
        };
        let objects = map
            .range::<str, _>((lower, Bound::Unbounded))
            .take_while(|(k, _)| k.as_str().starts_with(options.prefix.as_str()))
            .take(options.limit + 1)
            .map(|(k, (v, ver))| meta(k, v, *ver))
            .collect();
        Ok(ListPage::from_sorted(objects, options.limit))
    }
}
