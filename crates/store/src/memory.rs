//! An in-memory store for tests and caches.

use crate::{
    Capabilities, ComposePart, Error, GetOptions, GetResult, Key, ListOptions, ListPage,
    ObjectMeta, PutMode, PutOptions, PutResult, Result, Store, Version,
};
use bytes::{Bytes, BytesMut};
use std::collections::BTreeMap;
use std::ops::{Bound, Range};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// A store held in a `BTreeMap` behind a lock. Not durable; conditions hold
/// across threads of one process.
///
/// [`Store::compose`] shares the parts' buffers instead of copying them: a
/// range read inside one part stays zero-copy, and the first whole read of a
/// composed object joins it once (the joined value then replaces the pieces).
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
    map: RwLock<BTreeMap<Key, (Value, u64)>>,
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

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Key, (Value, u64)>> {
        // A panic while holding the lock cannot leave the map half-updated
        // (every mutation is a single insert or remove), so poisoning is ignored.
        self.map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<Key, (Value, u64)>> {
        self.map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Checks `mode` against the current entry, then inserts `value` under a
    /// fresh version.
    fn insert(
        &self,
        map: &mut BTreeMap<Key, (Value, u64)>,
        key: &Key,
        value: Value,
        mode: &PutMode,
    ) -> Result<PutResult> {
        match (mode, map.get(key)) {
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
}

/// A stored value: one buffer, or the shared pieces of a composed object.
#[derive(Debug, Clone)]
enum Value {
    Flat(Bytes),
    Pieces(Arc<[Bytes]>, u64),
}

impl Value {
    fn len(&self) -> u64 {
        match self {
            Value::Flat(b) => b.len() as u64,
            Value::Pieces(_, len) => *len,
        }
    }

    /// The pieces overlapping `range`, cut to it (zero-copy).
    fn slices(&self, range: Range<u64>, out: &mut Vec<Bytes>) {
        let pieces = match self {
            Value::Flat(b) => std::slice::from_ref(b),
            Value::Pieces(p, _) => p,
        };
        let mut at = 0u64;
        for p in pieces {
            let end = at + p.len() as u64;
            if end > range.start && at < range.end {
                let from = range.start.max(at) - at;
                let to = range.end.min(end) - at;
                out.push(p.slice(from as usize..to as usize));
            }
            at = end;
            if at >= range.end {
                break;
            }
        }
    }

    /// The bytes of `range`: a slice when one piece holds them, else a copy.
    fn read(&self, range: Range<u64>) -> Bytes {
        if let Value::Flat(b) = self {
            return b.slice(range.start as usize..range.end as usize);
        }
        let mut pieces = Vec::new();
        self.slices(range.clone(), &mut pieces);
        if pieces.len() == 1 {
            return pieces.pop().expect("one piece");
        }
        let mut out = BytesMut::with_capacity((range.end - range.start) as usize);
        for p in &pieces {
            out.extend_from_slice(p);
        }
        out.freeze()
    }
}

fn meta(key: &Key, value: &Value, version: u64) -> ObjectMeta {
    ObjectMeta {
        key: key.clone(),
        size: value.len(),
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
        let size = value.len();
        let range = match &options.range {
            Some(r) => r.resolve(key, size)?,
            None => 0..size,
        };
        let data = value.read(range.clone());
        let result = GetResult {
            meta: meta(key, value, *version),
            data,
            range,
        };
        let joined = matches!(value, Value::Pieces(..)) && result.data.len() as u64 == size;
        let version = *version;
        drop(map);
        if joined {
            // Keep the joined copy, unless the object changed meanwhile.
            let mut map = self.write();
            if let Some(entry) = map.get_mut(key).filter(|(_, v)| *v == version) {
                entry.0 = Value::Flat(result.data.clone());
            }
        }
        Ok(result)
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let map = self.read();
        let (value, version) = map.get(key).ok_or_else(|| Error::NotFound {
            key: key.to_string(),
        })?;
        Ok(meta(key, value, *version))
    }

    async fn put(&self, key: &Key, value: Bytes, options: PutOptions) -> Result<PutResult> {
        let mut map = self.write();
        self.insert(&mut map, key, Value::Flat(value), &options.mode)
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        self.write().remove(key);
        Ok(())
    }

    async fn compose(
        &self,
        target: &Key,
        parts: &[ComposePart],
        options: PutOptions,
    ) -> Result<PutResult> {
        // One write lock: the parts are read and the result published at
        // one instant.
        let mut map = self.write();
        let mut pieces = Vec::with_capacity(parts.len());
        for p in parts {
            let (value, _) = map.get(&p.key).ok_or_else(|| Error::NotFound {
                key: p.key.to_string(),
            })?;
            let range = match &p.range {
                Some(r) => r.resolve(&p.key, value.len())?,
                None => 0..value.len(),
            };
            value.slices(range, &mut pieces);
        }
        let len = pieces.iter().map(|p| p.len() as u64).sum();
        let value = match pieces.len() {
            0 => Value::Flat(Bytes::new()),
            1 => Value::Flat(pieces.pop().expect("one piece")),
            _ => Value::Pieces(pieces.into(), len),
        };
        self.insert(&mut map, target, value, &options.mode)
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
