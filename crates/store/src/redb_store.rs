//! The embedded default: a transactional single-file store on [`redb`].
//!
//! # Layout (format 2)
//!
//! - `objects`: key -> a row: kind (1 byte), version (u64 LE), size (u64 LE),
//!   then the value itself (kind 1, values up to [`INLINE_MAX`]) or a list of
//!   extents (kind 2): chunk id (u64 LE), offset (u32 LE), length (u32 LE).
//! - `chunks`: chunk id -> at most [`CHUNK_SIZE`] bytes.
//! - `chunk_refs`: chunk id -> how many extents of all rows name it.
//! - `meta`: `last_version` (the store-wide version counter), `last_chunk`.
//!
//! Format 1 kept every value whole in one `blobs` row (version, then bytes);
//! opening such a file converts it in one transaction.

use crate::{
    Capabilities, ComposePart, Error, GetOptions, GetResult, Key, ListOptions, ListPage,
    ObjectMeta, PutMode, PutOptions, PutResult, Result, Store, Version,
};
use bytes::{Bytes, BytesMut};
use redb::{
    Database, ReadableDatabase, ReadableTable, Table, TableDefinition, TableHandle,
    WriteTransaction,
};
use std::ops::{Bound, Range};
use std::path::Path;

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const CHUNKS: TableDefinition<u64, &[u8]> = TableDefinition::new("chunks");
const REFS: TableDefinition<u64, u64> = TableDefinition::new("chunk_refs");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Format 1: key -> 8-byte little-endian version, then the value.
const LEGACY: TableDefinition<&str, &[u8]> = TableDefinition::new("blobs");
const LAST_VERSION: &str = "last_version";
const LAST_CHUNK: &str = "last_chunk";

const INLINE: u8 = 1;
const CHUNKED: u8 = 2;
const HEADER: usize = 17;
const EXTENT: usize = 16;

/// Values up to this size are kept whole in their row; larger ones are cut
/// into chunks.
pub(crate) const INLINE_MAX: usize = 64 << 10;
/// The largest chunk of a large value: just under 1 MiB, so that a chunk
/// with its B-tree leaf fits one 1 MiB page allocation of redb (which rounds
/// an overflowing leaf up to a power of two: a chunk of exactly 1 MiB would
/// take 2 MiB on disk).
pub(crate) const CHUNK_SIZE: usize = (1 << 20) - 4096;

fn err(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::backend("redb", e)
}

fn corrupt(key: &Key, reason: &str) -> Error {
    Error::Corrupt {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// Options of [`RedbStore::open_with`].
///
/// ```
/// use blocksmith_store::{RedbOptions, RedbStore};
/// let dir = tempfile::tempdir().unwrap();
/// let options = RedbOptions::default().with_cache_size(16 << 20);
/// let store = RedbStore::open_with(dir.path().join("small.redb"), options).unwrap();
/// # drop(store);
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "redb")))]
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedbOptions {
    /// Bytes of pages redb keeps cached in memory (64 MiB by default; redb's
    /// own default is 1 GiB).
    pub cache_size: usize,
}

impl Default for RedbOptions {
    fn default() -> Self {
        RedbOptions {
            cache_size: 64 << 20,
        }
    }
}

impl RedbOptions {
    /// Sets the page cache size in bytes.
    #[must_use]
    pub fn with_cache_size(mut self, bytes: usize) -> Self {
        self.cache_size = bytes;
        self
    }
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
/// Values up to 64 KiB are kept whole in their row. Larger ones are cut into
/// chunks of just under 1 MiB: a ranged get reads only the chunks it covers, a head or a
/// listing reads no value at all, and [`Store::compose`] makes the new object
/// refer to its parts' chunks (counted references) instead of copying them,
/// so publishing an upload of any size moves no bytes. Memory stays bounded
/// by the page cache ([`RedbOptions::cache_size`]) and the value being put.
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
#[cfg_attr(docsrs, doc(cfg(feature = "redb")))]
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
}

/// A piece of a chunk that a large value is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Extent {
    chunk: u64,
    offset: u32,
    len: u32,
}

enum Body<'a> {
    Inline(&'a [u8]),
    Chunked(Vec<Extent>),
}

struct Row<'a> {
    version: u64,
    size: u64,
    body: Body<'a>,
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

fn decode<'a>(key: &Key, raw: &'a [u8]) -> Result<Row<'a>> {
    if raw.len() < HEADER {
        return Err(corrupt(key, "row shorter than its header"));
    }
    let version = le_u64(&raw[1..9]);
    let size = le_u64(&raw[9..17]);
    let rest = &raw[HEADER..];
    let body = match raw[0] {
        INLINE => {
            if rest.len() as u64 != size {
                return Err(corrupt(key, "inline value of the wrong size"));
            }
            Body::Inline(rest)
        }
        CHUNKED => {
            if !rest.len().is_multiple_of(EXTENT) {
                return Err(corrupt(key, "truncated extent list"));
            }
            let extents: Vec<Extent> = rest
                .chunks_exact(EXTENT)
                .map(|e| Extent {
                    chunk: le_u64(e),
                    offset: le_u32(&e[8..]),
                    len: le_u32(&e[12..]),
                })
                .collect();
            if extents.iter().map(|e| u64::from(e.len)).sum::<u64>() != size {
                return Err(corrupt(key, "extents do not add up to the size"));
            }
            Body::Chunked(extents)
        }
        _ => return Err(corrupt(key, "unknown row kind")),
    };
    Ok(Row {
        version,
        size,
        body,
    })
}

fn encode(version: u64, size: u64, body: &Body<'_>) -> Vec<u8> {
    let (kind, extra) = match body {
        Body::Inline(d) => (INLINE, d.len()),
        Body::Chunked(e) => (CHUNKED, e.len() * EXTENT),
    };
    let mut row = Vec::with_capacity(HEADER + extra);
    row.push(kind);
    row.extend_from_slice(&version.to_le_bytes());
    row.extend_from_slice(&size.to_le_bytes());
    match body {
        Body::Inline(d) => row.extend_from_slice(d),
        Body::Chunked(extents) => {
            for e in extents {
                row.extend_from_slice(&e.chunk.to_le_bytes());
                row.extend_from_slice(&e.offset.to_le_bytes());
                row.extend_from_slice(&e.len.to_le_bytes());
            }
        }
    }
    row
}

/// The tables of one write transaction.
struct Writer<'t> {
    objects: Table<'t, &'static str, &'static [u8]>,
    chunks: Table<'t, u64, &'static [u8]>,
    refs: Table<'t, u64, u64>,
    meta: Table<'t, &'static str, u64>,
}

impl<'t> Writer<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Self> {
        Ok(Writer {
            objects: txn.open_table(OBJECTS).map_err(err)?,
            chunks: txn.open_table(CHUNKS).map_err(err)?,
            refs: txn.open_table(REFS).map_err(err)?,
            meta: txn.open_table(META).map_err(err)?,
        })
    }

    /// The version and extents of the current row of `key`.
    fn current(&self, key: &Key) -> Result<Option<(u64, Vec<Extent>)>> {
        let Some(guard) = self.objects.get(key.as_str()).map_err(err)? else {
            return Ok(None);
        };
        let row = decode(key, guard.value())?;
        let extents = match row.body {
            Body::Inline(_) => Vec::new(),
            Body::Chunked(e) => e,
        };
        Ok(Some((row.version, extents)))
    }

    fn next(&mut self, counter: &str) -> Result<u64> {
        let n = self
            .meta
            .get(counter)
            .map_err(err)?
            .map_or(0, |g| g.value())
            + 1;
        self.meta.insert(counter, n).map_err(err)?;
        Ok(n)
    }

    fn retain(&mut self, chunk: u64) -> Result<()> {
        let n = self.refs.get(chunk).map_err(err)?.map_or(0, |g| g.value());
        self.refs.insert(chunk, n + 1).map_err(err)?;
        Ok(())
    }

    /// Drops one reference per extent; a chunk nobody names is deleted.
    fn release(&mut self, extents: &[Extent]) -> Result<()> {
        for e in extents {
            let n = self
                .refs
                .get(e.chunk)
                .map_err(err)?
                .map_or(0, |g| g.value());
            if n <= 1 {
                self.refs.remove(e.chunk).map_err(err)?;
                self.chunks.remove(e.chunk).map_err(err)?;
            } else {
                self.refs.insert(e.chunk, n - 1).map_err(err)?;
            }
        }
        Ok(())
    }

    /// Stores `data` as new chunks, appending their extents.
    fn write_chunks(&mut self, data: &[u8], out: &mut Vec<Extent>) -> Result<()> {
        for piece in data.chunks(CHUNK_SIZE) {
            let chunk = self.next(LAST_CHUNK)?;
            self.chunks.insert(chunk, piece).map_err(err)?;
            self.refs.insert(chunk, 1).map_err(err)?;
            out.push(Extent {
                chunk,
                offset: 0,
                len: u32::try_from(piece.len()).expect("a chunk fits in u32"),
            });
        }
        Ok(())
    }

    /// Writes `value` as the row of `key` with `version`.
    fn write_value(&mut self, key: &Key, version: u64, value: &[u8]) -> Result<()> {
        let size = value.len() as u64;
        let body = if value.len() <= INLINE_MAX {
            Body::Inline(value)
        } else {
            let mut extents = Vec::with_capacity(value.len().div_ceil(CHUNK_SIZE));
            self.write_chunks(value, &mut extents)?;
            Body::Chunked(extents)
        };
        let row = encode(version, size, &body);
        self.objects
            .insert(key.as_str(), row.as_slice())
            .map_err(err)?;
        Ok(())
    }

    /// Fails unless `mode` allows a write over `current`.
    fn check(key: &Key, mode: &PutMode, current: Option<u64>) -> Result<()> {
        match (mode, current) {
            (PutMode::Create, Some(_)) => Err(Error::AlreadyExists {
                key: key.to_string(),
            }),
            (PutMode::Update(expected), cur)
                if cur.is_none_or(|v| Version::from_u64(v) != *expected) =>
            {
                Err(Error::PreconditionFailed {
                    key: key.to_string(),
                })
            }
            _ => Ok(()),
        }
    }
}

impl RedbStore {
    /// Opens or creates the database file at `path` with the default
    /// [`RedbOptions`].
    ///
    /// # Errors
    /// [`Error::Backend`] when redb cannot open or create the file (another
    /// process holds it, permissions, a damaged file), [`Error::Corrupt`]
    /// when a format 1 row cannot be converted.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, RedbOptions::default())
    }

    /// Opens or creates the database file at `path`. A file of the first
    /// format (every value whole in one row) is converted to the chunked
    /// layout in one transaction.
    ///
    /// # Errors
    /// As [`RedbStore::open`].
    #[allow(clippy::needless_pass_by_value)] // by value, like every `*Options` here
    pub fn open_with(path: impl AsRef<Path>, options: RedbOptions) -> Result<Self> {
        let RedbOptions { cache_size } = options;
        let db = Database::builder()
            .set_cache_size(cache_size)
            .create(path.as_ref())
            .map_err(err)?;
        let txn = db.begin_write().map_err(err)?;
        let legacy = txn
            .list_tables()
            .map_err(err)?
            .any(|t| t.name() == LEGACY.name());
        {
            let mut w = Writer::open(&txn)?;
            if legacy {
                let old = txn.open_table(LEGACY).map_err(err)?;
                for row in old.range(..).map_err(err)? {
                    let (k, v) = row.map_err(err)?;
                    let key = Key::new(k.value())?;
                    let raw = v.value();
                    if raw.len() < 8 {
                        return Err(corrupt(&key, "value shorter than its version header"));
                    }
                    w.write_value(&key, le_u64(raw), &raw[8..])?;
                }
            }
        }
        if legacy {
            txn.delete_table(LEGACY).map_err(err)?;
        }
        txn.commit().map_err(err)?;
        Ok(RedbStore { db })
    }

    /// Runs `f` on the decoded row of `key` inside a read transaction, with
    /// the chunk table at hand.
    fn with_row<T>(
        &self,
        key: &Key,
        f: impl FnOnce(&Row<'_>, &dyn Fn(u64) -> Result<Option<Bytes>>) -> Result<T>,
    ) -> Result<T> {
        let txn = self.db.begin_read().map_err(err)?;
        let objects = txn.open_table(OBJECTS).map_err(err)?;
        let guard = objects
            .get(key.as_str())
            .map_err(err)?
            .ok_or_else(|| Error::NotFound {
                key: key.to_string(),
            })?;
        let row = decode(key, guard.value())?;
        let chunks = txn.open_table(CHUNKS).map_err(err)?;
        let read = |id: u64| -> Result<Option<Bytes>> {
            Ok(chunks
                .get(id)
                .map_err(err)?
                .map(|g| Bytes::copy_from_slice(g.value())))
        };
        f(&row, &read)
    }
}

/// Copies `range` of a chunked value into one buffer, reading only the
/// chunks it covers.
fn read_extents(
    key: &Key,
    extents: &[Extent],
    range: &Range<u64>,
    read: &dyn Fn(u64) -> Result<Option<Bytes>>,
) -> Result<Bytes> {
    let want = usize::try_from(range.end - range.start)
        .map_err(|_| corrupt(key, "range larger than memory"))?;
    let mut out = BytesMut::with_capacity(want);
    let mut at = 0u64;
    for e in extents {
        let (start, end) = (at, at + u64::from(e.len));
        at = end;
        if end <= range.start || e.len == 0 {
            continue;
        }
        if start >= range.end {
            break;
        }
        let data = read(e.chunk)?.ok_or_else(|| corrupt(key, "a chunk is missing"))?;
        let from = u64::from(e.offset) + range.start.saturating_sub(start);
        let to = u64::from(e.offset) + (range.end.min(end) - start);
        if to > data.len() as u64 {
            return Err(corrupt(key, "a chunk is shorter than its extent"));
        }
        out.extend_from_slice(&data[from as usize..to as usize]);
    }
    Ok(out.freeze())
}

impl Store for RedbStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::FULL.with_cross_process(false)
    }

    async fn get(&self, key: &Key, options: GetOptions) -> Result<GetResult> {
        self.with_row(key, |row, read| {
            let range = match &options.range {
                Some(r) => r.resolve(key, row.size)?,
                None => 0..row.size,
            };
            let data = match &row.body {
                Body::Inline(d) => {
                    Bytes::copy_from_slice(&d[range.start as usize..range.end as usize])
                }
                Body::Chunked(extents) => read_extents(key, extents, &range, read)?,
            };
            Ok(GetResult {
                meta: ObjectMeta {
                    key: key.clone(),
                    size: row.size,
                    version: Version::from_u64(row.version),
                },
                data,
                range,
            })
        })
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        self.with_row(key, |row, _| {
            Ok(ObjectMeta {
                key: key.clone(),
                size: row.size,
                version: Version::from_u64(row.version),
            })
        })
    }

    async fn put(&self, key: &Key, value: Bytes, options: PutOptions) -> Result<PutResult> {
        let txn = self.db.begin_write().map_err(err)?;
        let version = {
            let mut w = Writer::open(&txn)?;
            let current = w.current(key)?;
            Writer::check(key, &options.mode, current.as_ref().map(|c| c.0))?;
            let version = w.next(LAST_VERSION)?;
            w.write_value(key, version, &value)?;
            if let Some((_, old)) = current {
                w.release(&old)?;
            }
            version
        };
        txn.commit().map_err(err)?;
        Ok(PutResult {
            version: Version::from_u64(version),
        })
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut w = Writer::open(&txn)?;
            if let Some((_, old)) = w.current(key)? {
                w.objects.remove(key.as_str()).map_err(err)?;
                w.release(&old)?;
            }
        }
        txn.commit().map_err(err)
    }

    /// Composes without copying large values: the new row lists the parts'
    /// chunks (each gaining a reference). Bytes of small (inline) parts are
    /// gathered into new chunks, so the cost is bounded by one chunk of
    /// memory whatever the parts are.
    async fn compose(
        &self,
        target: &Key,
        parts: &[ComposePart],
        options: PutOptions,
    ) -> Result<PutResult> {
        let txn = self.db.begin_write().map_err(err)?;
        let version = {
            let mut w = Writer::open(&txn)?;
            let current = w.current(target)?;
            Writer::check(target, &options.mode, current.as_ref().map(|c| c.0))?;
            let mut extents = Vec::new();
            let mut pending: Vec<u8> = Vec::new();
            let mut size = 0u64;
            for p in parts {
                let (range, source) = {
                    let guard = w.objects.get(p.key.as_str()).map_err(err)?.ok_or_else(|| {
                        Error::NotFound {
                            key: p.key.to_string(),
                        }
                    })?;
                    let row = decode(&p.key, guard.value())?;
                    let range = match &p.range {
                        Some(r) => r.resolve(&p.key, row.size)?,
                        None => 0..row.size,
                    };
                    let source = match row.body {
                        Body::Inline(d) => {
                            pending.extend_from_slice(&d[range.start as usize..range.end as usize]);
                            None
                        }
                        Body::Chunked(e) => Some(e),
                    };
                    (range, source)
                };
                size += range.end - range.start;
                if pending.len() >= CHUNK_SIZE {
                    let full = pending.len() / CHUNK_SIZE * CHUNK_SIZE;
                    w.write_chunks(&pending[..full], &mut extents)?;
                    pending.drain(..full);
                }
                let Some(source) = source else { continue };
                if !pending.is_empty() {
                    w.write_chunks(&pending, &mut extents)?;
                    pending.clear();
                }
                let mut at = 0u64;
                for e in source {
                    let (start, end) = (at, at + u64::from(e.len));
                    at = end;
                    if end <= range.start || e.len == 0 {
                        continue;
                    }
                    if start >= range.end {
                        break;
                    }
                    let skip = range.start.saturating_sub(start);
                    let len = range.end.min(end) - start - skip;
                    w.retain(e.chunk)?;
                    extents.push(Extent {
                        chunk: e.chunk,
                        offset: e.offset + u32::try_from(skip).expect("within a chunk"),
                        len: u32::try_from(len).expect("within a chunk"),
                    });
                }
            }
            let version = w.next(LAST_VERSION)?;
            if extents.is_empty() && pending.len() <= INLINE_MAX {
                let row = encode(version, size, &Body::Inline(&pending));
                w.objects
                    .insert(target.as_str(), row.as_slice())
                    .map_err(err)?;
            } else {
                if !pending.is_empty() {
                    w.write_chunks(&pending, &mut extents)?;
                }
                let row = encode(version, size, &Body::Chunked(extents));
                w.objects
                    .insert(target.as_str(), row.as_slice())
                    .map_err(err)?;
            }
            if let Some((_, old)) = current {
                w.release(&old)?;
            }
            version
        };
        txn.commit().map_err(err)?;
        Ok(PutResult {
            version: Version::from_u64(version),
        })
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        options.validate()?;
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(OBJECTS).map_err(err)?;
        let lower = match &options.start_after {
            Some(k) if k.as_str() >= options.prefix.as_str() => Bound::Excluded(k.as_str()),
            _ => Bound::Included(options.prefix.as_str()),
        };
        let mut objects = Vec::new();
        for row in table.range((lower, Bound::Unbounded)).map_err(err)? {
            let (k, v) = row.map_err(err)?;
            if !k.value().starts_with(options.prefix.as_str()) || objects.len() > options.limit {
                break;
            }
            let key = Key::new(k.value())?;
            let row = decode(&key, v.value())?;
            objects.push(ObjectMeta {
                size: row.size,
                version: Version::from_u64(row.version),
                key,
            });
        }
        Ok(ListPage::from_sorted(objects, options.limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{StoreExt, block_on};
    use redb::ReadableTableMetadata;

    fn key(s: &str) -> Key {
        Key::new(s).unwrap()
    }

    fn counts(store: &RedbStore) -> (u64, u64) {
        let txn = store.db.begin_read().unwrap();
        let chunks = txn.open_table(CHUNKS).unwrap().len().unwrap();
        let refs = txn.open_table(REFS).unwrap().len().unwrap();
        (chunks, refs)
    }

    fn pattern(n: usize, seed: u8) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn large_values_are_chunked_read_by_range_and_freed() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("s.redb")).unwrap();
        let big = pattern(3 * CHUNK_SIZE + 777, 1);
        let k = key("big");
        store.blocking().put(&k, big.clone()).unwrap();
        assert_eq!(counts(&store), (4, 4));
        let r = block_on(store.get(
            &k,
            GetOptions::new().with_range(CHUNK_SIZE as u64 - 5..2 * CHUNK_SIZE as u64 + 9),
        ))
        .unwrap();
        assert_eq!(&r.data[..], &big[CHUNK_SIZE - 5..2 * CHUNK_SIZE + 9]);
        assert_eq!(&store.blocking().get(&k).unwrap().data[..], &big[..]);
        assert_eq!(store.blocking().head(&k).unwrap().size, big.len() as u64);
        // Overwriting with a small value frees every chunk.
        store.blocking().put(&k, "small").unwrap();
        assert_eq!(counts(&store), (0, 0));
        store.blocking().put(&k, big.clone()).unwrap();
        store.blocking().delete(&k).unwrap();
        assert_eq!(counts(&store), (0, 0));
    }

    #[test]
    fn compose_shares_chunks_and_frees_them_with_the_last_reference() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("s.redb")).unwrap();
        let a = pattern(2 * CHUNK_SIZE + 10, 2);
        let b = pattern(100, 3); // inline
        let c = pattern(CHUNK_SIZE + 1, 4);
        store.blocking().put(&key("p/a"), a.clone()).unwrap();
        store.blocking().put(&key("p/b"), b.clone()).unwrap();
        store.blocking().put(&key("p/c"), c.clone()).unwrap();
        let before = counts(&store).0;
        let parts = [
            ComposePart::new(key("p/a")).with_range(5..(2 * CHUNK_SIZE as u64 + 3)),
            ComposePart::new(key("p/b")),
            ComposePart::new(key("p/c")),
            ComposePart::new(key("p/b")).with_range(10..20),
        ];
        block_on(store.compose(&key("whole"), &parts, PutOptions::create())).unwrap();
        let mut want = a[5..2 * CHUNK_SIZE + 3].to_vec();
        want.extend_from_slice(&b);
        want.extend_from_slice(&c);
        want.extend_from_slice(&b[10..20]);
        assert_eq!(
            &store.blocking().get(&key("whole")).unwrap().data[..],
            &want[..]
        );
        // Only the inline bytes became new chunks (two: b, then b[10..20]).
        assert_eq!(counts(&store).0, before + 2);
        for p in ["p/a", "p/b", "p/c"] {
            store.blocking().delete(&key(p)).unwrap();
        }
        assert_eq!(
            &store.blocking().get(&key("whole")).unwrap().data[..],
            &want[..]
        );
        let r = block_on(store.get(
            &key("whole"),
            GetOptions::new().with_range(CHUNK_SIZE as u64..want.len() as u64 - 3),
        ))
        .unwrap();
        assert_eq!(&r.data[..], &want[CHUNK_SIZE..want.len() - 3]);
        store.blocking().delete(&key("whole")).unwrap();
        assert_eq!(counts(&store), (0, 0));
    }

    #[test]
    fn composing_small_parts_stays_inline() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("s.redb")).unwrap();
        store.blocking().put(&key("a"), "hello ").unwrap();
        store.blocking().put(&key("b"), "world").unwrap();
        let parts = [ComposePart::new(key("a")), ComposePart::new(key("b"))];
        block_on(store.compose(&key("ab"), &parts, PutOptions::create())).unwrap();
        assert_eq!(
            &store.blocking().get(&key("ab")).unwrap().data[..],
            b"hello world"
        );
        assert_eq!(counts(&store), (0, 0));
    }

    #[test]
    fn a_format_1_file_is_converted_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.redb");
        let big = pattern(INLINE_MAX + 5, 9);
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut t = txn.open_table(LEGACY).unwrap();
                let mut row = 7u64.to_le_bytes().to_vec();
                row.extend_from_slice(b"{}");
                t.insert("config/app", row.as_slice()).unwrap();
                let mut row = 9u64.to_le_bytes().to_vec();
                row.extend_from_slice(&big);
                t.insert("files/big", row.as_slice()).unwrap();
                let mut m = txn.open_table(META).unwrap();
                m.insert(LAST_VERSION, 9).unwrap();
            }
            txn.commit().unwrap();
        }
        let store = RedbStore::open(&path).unwrap();
        let r = store.blocking().get(&key("config/app")).unwrap();
        assert_eq!(
            (&r.data[..], r.meta.version),
            (&b"{}"[..], Version::from_u64(7))
        );
        assert_eq!(
            &store.blocking().get(&key("files/big")).unwrap().data[..],
            &big[..]
        );
        let v = store.blocking().put(&key("next"), "x").unwrap();
        assert_eq!(v.version, Version::from_u64(10));
        drop(store);
        // The old table is gone: a second open has nothing to convert.
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(store.blocking().list_all("").unwrap().len(), 3);
    }

    #[test]
    fn damaged_rows_are_corrupt_not_panics() {
        let k = key("k");
        for raw in [
            &[][..],
            &[INLINE, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1][..],
            &[CHUNKED, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1][..],
            &[9; HEADER][..],
        ] {
            assert!(matches!(decode(&k, raw), Err(Error::Corrupt { .. })));
        }
        let read = |_| Ok(Some(Bytes::from_static(b"abc")));
        let e = [Extent {
            chunk: 1,
            offset: 2,
            len: 5,
        }];
        assert!(matches!(
            read_extents(&k, &e, &(0..5), &read),
            Err(Error::Corrupt { .. })
        ));
    }
}
