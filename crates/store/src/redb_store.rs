//! The embedded default: a transactional single-file store on [`redb`].
//!
//! # Layout (format 2)
//!
//! - `objects`: key -> a row: kind (1 byte), version (u64 LE), size (u64 LE),
//!   then the value itself (kind 1, values up to [`INLINE_MAX`]) or a list of
//!   extents (kind 2): chunk id (u64 LE), offset (u32 LE), length (u32 LE),
//!   each within one chunk.
//! - `chunks`: chunk id -> at most [`CHUNK_SIZE`] bytes.
//! - `chunk_refs`: chunk id -> how many extents of all rows name it.
//! - `meta`: `last_version` (the store-wide version counter), `last_chunk`.
//! - `blobs`: an empty table of another type (`u64 -> u64`), so that a build
//!   of format 1, which kept every value whole in a `blobs` table of
//!   `&str -> &[u8]`, refuses the file (`TableTypeMismatch`) instead of
//!   writing beside format 2.
//!
//! - `staged`: chunk id -> 0, for chunks a streamed put has written in
//!   transactions of their own and no row names yet. The put's last
//!   transaction names them in its row and removes them from here; opening
//!   the file deletes the chunks still listed (a put that never finished).
//!
//! Opening a format 1 file converts it in one transaction. A row that cannot
//! be converted (a key that is not valid today, a row shorter than its
//! version) is moved, as it was, to `blobs_unconverted`.

use crate::stream::next;
use crate::{
    ByteStream, Capabilities, ComposePart, Error, GetOptions, GetResult, Key, ListOptions,
    ListPage, ObjectMeta, PutMode, PutOptions, PutResult, Result, Store, Version,
};
use bytes::Bytes;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, Table, TableDefinition, TableError,
    TableHandle, WriteTransaction,
};
use std::ops::{Bound, Range};
use std::path::Path;

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const CHUNKS: TableDefinition<u64, &[u8]> = TableDefinition::new("chunks");
const REFS: TableDefinition<u64, u64> = TableDefinition::new("chunk_refs");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const STAGED: TableDefinition<u64, u64> = TableDefinition::new("staged");
/// Format 1: key -> 8-byte little-endian version, then the value.
const LEGACY: TableDefinition<&str, &[u8]> = TableDefinition::new("blobs");
/// The same name with another type: keeps format 1 builds out.
const TOMBSTONE: TableDefinition<u64, u64> = TableDefinition::new("blobs");
/// Format 1 rows the conversion could not read, kept as they were.
const UNCONVERTED: TableDefinition<&str, &[u8]> = TableDefinition::new("blobs_unconverted");
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
/// The least piece of a chunk that [`Store::compose`] refers to; smaller
/// pieces are copied. So a row never lists many tiny extents (composing a
/// composed object with itself cannot make reads slow), at the cost of
/// copying under 64 KiB per part.
const MIN_SHARED: u64 = INLINE_MAX as u64;
/// How much of a streamed put's body is gathered before its chunks are
/// written (in a transaction of their own): four chunks.
const STAGE_BYTES: usize = 4 * CHUNK_SIZE;

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
/// chunks of just under 1 MiB: a ranged get reads only the chunks it covers,
/// a head or a listing reads no value, and [`Store::compose`] makes the new
/// object refer to its parts' chunks (counted references) instead of copying
/// them, so publishing an upload of any size moves no bytes (pieces under
/// 64 KiB are copied, so rows never list many tiny extents). A chunk lives as
/// long as one object refers to it: a 64 KiB range composed out of a large
/// object keeps that object's chunk. Memory stays bounded by the page cache
/// ([`RedbOptions::cache_size`]) and the value being read or put.
///
/// A row that is damaged can still be deleted or overwritten (its chunks,
/// if any, are then left unreferenced); reading it is [`Error::Corrupt`].
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

/// The kind, version and size of a row, without reading its body.
fn decode_header(key: &Key, raw: &[u8]) -> Result<(u8, u64, u64)> {
    if raw.len() < HEADER {
        return Err(corrupt(key, "row shorter than its header"));
    }
    if raw[0] != INLINE && raw[0] != CHUNKED {
        return Err(corrupt(key, "unknown row kind"));
    }
    Ok((raw[0], le_u64(&raw[1..9]), le_u64(&raw[9..17])))
}

fn decode<'a>(key: &Key, raw: &'a [u8]) -> Result<Row<'a>> {
    let (kind, version, size) = decode_header(key, raw)?;
    let rest = &raw[HEADER..];
    let body = if kind == INLINE {
        if rest.len() as u64 != size {
            return Err(corrupt(key, "inline value of the wrong size"));
        }
        Body::Inline(rest)
    } else {
        if !rest.len().is_multiple_of(EXTENT) {
            return Err(corrupt(key, "truncated extent list"));
        }
        let mut total = 0u64;
        let mut extents = Vec::with_capacity(rest.len() / EXTENT);
        for e in rest.chunks_exact(EXTENT) {
            let e = Extent {
                chunk: le_u64(e),
                offset: le_u32(&e[8..]),
                len: le_u32(&e[12..]),
            };
            if u64::from(e.offset) + u64::from(e.len) > CHUNK_SIZE as u64 {
                return Err(corrupt(key, "an extent reaches past the largest chunk"));
            }
            total += u64::from(e.len);
            extents.push(e);
        }
        if total != size {
            return Err(corrupt(key, "extents do not add up to the size"));
        }
        Body::Chunked(extents)
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

/// A buffer of `n` bytes, or an error when that much memory is not there
/// (a huge object read whole), never an abort.
fn buffer(key: &Key, n: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let fits = usize::try_from(n)
        .ok()
        .is_some_and(|n| out.try_reserve_exact(n).is_ok());
    if fits {
        Ok(out)
    } else {
        Err(Error::io(
            format!("reading {key}: {n} bytes do not fit in memory; read it by ranges"),
            std::io::ErrorKind::OutOfMemory.into(),
        ))
    }
}

/// Appends bytes `from..to` of chunk `id` to `out`; `Ok(false)` when the
/// chunk is missing or shorter than that.
fn append_chunk(
    chunks: &impl ReadableTable<u64, &'static [u8]>,
    id: u64,
    from: u64,
    to: u64,
    out: &mut Vec<u8>,
) -> Result<bool> {
    let Some(guard) = chunks.get(id).map_err(err)? else {
        return Ok(false);
    };
    let data = guard.value();
    if to > data.len() as u64 {
        return Ok(false);
    }
    out.extend_from_slice(&data[from as usize..to as usize]);
    Ok(true)
}

/// The pieces of chunks that bytes `range` of a chunked value lie in:
/// (chunk, from, to) with `from..to` within the chunk.
fn covered(extents: &[Extent], range: Range<u64>) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
    let mut at = 0u64;
    extents
        .iter()
        .map(move |e| {
            let start = at;
            at += u64::from(e.len);
            (e, start, at)
        })
        .skip_while(move |&(e, _, end)| end <= range.start || e.len == 0)
        .take_while(move |&(_, start, _)| start < range.end)
        .filter(|&(e, _, _)| e.len > 0)
        .map(move |(e, start, end)| {
            let from = u64::from(e.offset) + range.start.saturating_sub(start);
            let to = u64::from(e.offset) + (range.end.min(end) - start);
            (e.chunk, from, to)
        })
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

    /// The version and extents of the current row of `key`. A damaged row
    /// counts as present with version 0 (which no put ever returns) and no
    /// extents, so it can be deleted or overwritten but never matches a
    /// compare-and-swap.
    fn current(&self, key: &Key) -> Result<Option<(u64, Vec<Extent>)>> {
        let Some(guard) = self.objects.get(key.as_str()).map_err(err)? else {
            return Ok(None);
        };
        Ok(Some(match decode(key, guard.value()) {
            Ok(Row {
                version,
                body: Body::Chunked(extents),
                ..
            }) => (version, extents),
            Ok(row) => (row.version, Vec::new()),
            Err(_) => (0, Vec::new()),
        }))
    }

    fn next(&mut self, counter: &str) -> Result<u64> {
        let last = self
            .meta
            .get(counter)
            .map_err(err)?
            .map_or(0, |g| g.value());
        let n = last.checked_add(1).ok_or_else(|| Error::Corrupt {
            key: counter.into(),
            reason: "the counter is at its maximum".into(),
        })?;
        self.meta.insert(counter, n).map_err(err)?;
        Ok(n)
    }

    fn retain(&mut self, chunk: u64) -> Result<()> {
        let n = self.refs.get(chunk).map_err(err)?.map_or(0, |g| g.value());
        self.refs.insert(chunk, n.saturating_add(1)).map_err(err)?;
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

    /// Stores `data` as new chunks of [`CHUNK_SIZE`] (the last one
    /// shorter), appending their extents. Full chunks fill redb's 1 MiB
    /// allocations; a short tail is stored in ordinary pages.
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
    fn write_value(&mut self, key: &str, version: u64, value: &[u8]) -> Result<()> {
        let size = value.len() as u64;
        let body = if value.len() <= INLINE_MAX {
            Body::Inline(value)
        } else {
            let mut extents = Vec::with_capacity(value.len().div_ceil(CHUNK_SIZE));
            self.write_chunks(value, &mut extents)?;
            Body::Chunked(extents)
        };
        let row = encode(version, size, &body);
        self.objects.insert(key, row.as_slice()).map_err(err)?;
        Ok(())
    }

    /// Moves the whole chunks' worth of `pending` into new chunks.
    fn flush_full(&mut self, pending: &mut Vec<u8>, extents: &mut Vec<Extent>) -> Result<()> {
        if pending.len() >= CHUNK_SIZE {
            let full = pending.len() / CHUNK_SIZE * CHUNK_SIZE;
            self.write_chunks(&pending[..full], extents)?;
            pending.drain(..full);
        }
        Ok(())
    }

    /// Writes the row of `key` under the next version: `tail` inline when
    /// nothing was chunked and it fits, else chunked after `extents`; then
    /// releases the chunks of the row it replaces. Returns the version.
    fn finish_row(
        &mut self,
        key: &str,
        size: u64,
        mut extents: Vec<Extent>,
        tail: &[u8],
        replaced: Option<(u64, Vec<Extent>)>,
    ) -> Result<u64> {
        let version = self.next(LAST_VERSION)?;
        let row = if extents.is_empty() && tail.len() <= INLINE_MAX {
            encode(version, size, &Body::Inline(tail))
        } else {
            self.write_chunks(tail, &mut extents)?;
            encode(version, size, &Body::Chunked(extents))
        };
        self.objects.insert(key, row.as_slice()).map_err(err)?;
        if let Some((_, old)) = replaced {
            self.release(&old)?;
        }
        Ok(version)
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

    /// Converts the rows of a format 1 `blobs` table. Rows that cannot be
    /// read are moved to `blobs_unconverted`; the version counter ends at
    /// least at the highest version converted.
    fn convert(&mut self, txn: &WriteTransaction) -> Result<()> {
        let old = txn.open_table(LEGACY).map_err(err)?;
        let mut unconverted = txn.open_table(UNCONVERTED).map_err(err)?;
        let mut highest = 0u64;
        for row in old.range(..).map_err(err)? {
            let (k, v) = row.map_err(err)?;
            let raw = v.value();
            let key = match Key::new(k.value()) {
                Ok(key) if raw.len() >= 8 => key,
                _ => {
                    unconverted.insert(k.value(), raw).map_err(err)?;
                    continue;
                }
            };
            let version = le_u64(raw);
            highest = highest.max(version);
            let stale = self.current(&key)?;
            self.write_value(key.as_str(), version, &raw[8..])?;
            if let Some((_, extents)) = stale {
                self.release(&extents)?;
            }
        }
        let last = self
            .meta
            .get(LAST_VERSION)
            .map_err(err)?
            .map_or(0, |g| g.value());
        self.meta
            .insert(LAST_VERSION, last.max(highest))
            .map_err(err)?;
        Ok(())
    }
}

impl RedbStore {
    /// Opens or creates the database file at `path` with the default
    /// [`RedbOptions`].
    ///
    /// # Errors
    /// [`Error::Backend`] when redb cannot open or create the file (another
    /// process holds it, permissions, a damaged file).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, RedbOptions::default())
    }

    /// Opens or creates the database file at `path`. A file of the first
    /// format (every value whole in one row) is converted to the chunked
    /// layout in one transaction, keeping every version.
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
        let named_blobs = txn
            .list_tables()
            .map_err(err)?
            .any(|t| t.name() == LEGACY.name());
        // A `blobs` table of format 1's type holds rows to convert; one of
        // the tombstone's type is this format's own.
        let legacy = named_blobs
            && match txn.open_table(LEGACY) {
                Ok(_) => true,
                Err(TableError::TableTypeMismatch(_)) => false,
                Err(e) => return Err(err(e)),
            };
        {
            let mut w = Writer::open(&txn)?;
            if legacy {
                w.convert(&txn)?;
            }
            // Chunks of streamed puts that never finished.
            let mut staged = txn.open_table(STAGED).map_err(err)?;
            while let Some((chunk, _)) = staged.pop_first().map_err(err)? {
                let chunk = chunk.value();
                w.release(&[Extent {
                    chunk,
                    offset: 0,
                    len: 0,
                }])?;
            }
        }
        if legacy {
            txn.delete_table(LEGACY).map_err(err)?;
        }
        txn.open_table(TOMBSTONE).map_err(err)?;
        txn.commit().map_err(err)?;
        Ok(RedbStore { db })
    }

    /// Runs `f` on the decoded row of `key` inside a read transaction, with
    /// a reader of chunk slices at hand.
    fn with_row<T>(
        &self,
        key: &Key,
        f: impl FnOnce(&Row<'_>, &ReadChunk<'_>) -> Result<T>,
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
        let read = |id: u64, from: u64, to: u64, out: &mut Vec<u8>| {
            append_chunk(&chunks, id, from, to, out)
        };
        f(&row, &read)
    }

    /// Writes the whole chunks' worth of `buf` as chunks no row names yet,
    /// listed in `staged`, in a transaction of their own (not synced: the
    /// put's last commit syncs them with its row).
    fn stage(&self, buf: &mut Vec<u8>, extents: &mut Vec<Extent>) -> Result<()> {
        let from = extents.len();
        let staged = (|| {
            let mut txn = self.db.begin_write().map_err(err)?;
            txn.set_durability(Durability::None).map_err(err)?;
            {
                let mut w = Writer::open(&txn)?;
                let mut staged = txn.open_table(STAGED).map_err(err)?;
                w.flush_full(buf, extents)?;
                for e in &extents[from..] {
                    staged.insert(e.chunk, 0).map_err(err)?;
                }
            }
            txn.commit().map_err(err)
        })();
        if staged.is_err() {
            // Not committed: those chunk numbers are free again, maybe
            // taken by another put by now, and must never be discarded.
            extents.truncate(from);
        }
        staged
    }

    /// Deletes staged chunks of a put that failed (see [`Staged`]).
    fn discard(&self, extents: &[Extent]) -> Result<()> {
        if extents.is_empty() {
            return Ok(());
        }
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut w = Writer::open(&txn)?;
            let mut staged = txn.open_table(STAGED).map_err(err)?;
            for e in extents {
                staged.remove(e.chunk).map_err(err)?;
            }
            w.release(extents)?;
        }
        txn.commit().map_err(err)
    }

    /// The version and size of `key`'s row, reading no body.
    fn meta_of(&self, key: &Key) -> Result<ObjectMeta> {
        let txn = self.db.begin_read().map_err(err)?;
        let objects = txn.open_table(OBJECTS).map_err(err)?;
        let guard = objects
            .get(key.as_str())
            .map_err(err)?
            .ok_or_else(|| Error::NotFound {
                key: key.to_string(),
            })?;
        let (_, version, size) = decode_header(key, guard.value())?;
        Ok(ObjectMeta {
            key: key.clone(),
            size,
            version: Version::from_u64(version),
        })
    }
}

/// Appends bytes `from..to` of a chunk to a buffer; `Ok(false)` when the
/// chunk is missing or shorter than that.
type ReadChunk<'a> = dyn Fn(u64, u64, u64, &mut Vec<u8>) -> Result<bool> + 'a;

/// Copies `range` of a chunked value into one buffer, reading only the
/// slices of the chunks it covers.
fn read_extents(
    key: &Key,
    extents: &[Extent],
    range: &Range<u64>,
    read: &ReadChunk<'_>,
) -> Result<Bytes> {
    let mut out = buffer(key, range.end - range.start)?;
    for (chunk, from, to) in covered(extents, range.clone()) {
        if !read(chunk, from, to, &mut out)? {
            return Err(corrupt(
                key,
                "a chunk is missing or shorter than its extent",
            ));
        }
    }
    Ok(Bytes::from(out))
}

/// The chunks a streamed put staged, discarded when dropped while armed:
/// the put failed (while staging, at its condition, or writing its row) or
/// its future was dropped mid-body. Disarmed once the row naming them is
/// committed.
struct Staged<'a> {
    store: &'a RedbStore,
    extents: Vec<Extent>,
    armed: bool,
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: chunks left staged are freed at the next open.
            let _ = self.store.discard(&self.extents);
        }
    }
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
        self.meta_of(key)
    }

    async fn put(&self, key: &Key, value: Bytes, options: PutOptions) -> Result<PutResult> {
        let txn = self.db.begin_write().map_err(err)?;
        let version = {
            let mut w = Writer::open(&txn)?;
            let current = w.current(key)?;
            Writer::check(key, &options.mode, current.as_ref().map(|c| c.0))?;
            let version = w.next(LAST_VERSION)?;
            w.write_value(key.as_str(), version, &value)?;
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

    /// Writes each full chunk of the body in a short transaction of its own
    /// (other writers go on meanwhile), then the row in one last, synced
    /// transaction that checks the condition: memory use is one chunk.
    async fn put_stream(
        &self,
        key: &Key,
        mut body: ByteStream<'_>,
        options: PutOptions,
    ) -> Result<PutResult> {
        // Every chunk staged is discarded unless the row below commits: on
        // an error anywhere, and when the caller drops this future
        // mid-body.
        let mut staged = Staged {
            store: self,
            extents: Vec::new(),
            armed: true,
        };
        let mut buf: Vec<u8> = Vec::new();
        let mut size = 0u64;
        while let Some(chunk) = next(&mut body).await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            buf.extend_from_slice(&chunk);
            if buf.len() >= STAGE_BYTES {
                self.stage(&mut buf, &mut staged.extents)?;
            }
        }
        // Declared after `staged`, so dropped (aborted) before it discards.
        let txn = self.db.begin_write().map_err(err)?;
        let version = {
            let mut w = Writer::open(&txn)?;
            let mut table = txn.open_table(STAGED).map_err(err)?;
            let current = w.current(key)?;
            Writer::check(key, &options.mode, current.as_ref().map(|c| c.0))?;
            for e in &staged.extents {
                table.remove(e.chunk).map_err(err)?;
            }
            w.finish_row(key.as_str(), size, staged.extents.clone(), &buf, current)?
        };
        txn.commit().map_err(err)?;
        staged.armed = false;
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
    /// chunks (each gaining a reference). Bytes of small parts, and pieces
    /// of chunks under 64 KiB, are gathered into new chunks, so the cost is
    /// bounded by one chunk of memory whatever the parts are.
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
                            Vec::new()
                        }
                        Body::Chunked(e) => e,
                    };
                    (range, source)
                };
                size += range.end - range.start;
                for (chunk, from, to) in covered(&source, range) {
                    if to - from < MIN_SHARED {
                        if !append_chunk(&w.chunks, chunk, from, to, &mut pending)? {
                            return Err(corrupt(
                                &p.key,
                                "a chunk is missing or shorter than its extent",
                            ));
                        }
                    } else {
                        if !pending.is_empty() {
                            w.write_chunks(&pending, &mut extents)?;
                            pending.clear();
                        }
                        w.retain(chunk)?;
                        // Within one chunk (decode checked offset + len), so
                        // these fit in u32.
                        extents.push(Extent {
                            chunk,
                            offset: u32::try_from(from).expect("within a chunk"),
                            len: u32::try_from(to - from).expect("within a chunk"),
                        });
                    }
                    w.flush_full(&mut pending, &mut extents)?;
                }
                w.flush_full(&mut pending, &mut extents)?;
            }
            w.finish_row(target.as_str(), size, extents, &pending, current)?
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
            let (_, version, size) = decode_header(&key, v.value())?;
            objects.push(ObjectMeta {
                size,
                version: Version::from_u64(version),
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

    #[test]
    fn chunks_of_an_unfinished_streamed_put_are_freed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let store = RedbStore::open(&path).unwrap();
            let mut buf = pattern(2 * CHUNK_SIZE + 10, 3);
            let mut extents = Vec::new();
            store.stage(&mut buf, &mut extents).unwrap();
            assert_eq!(extents.len(), 2);
            assert_eq!(buf.len(), 10, "the tail waits for the row");
            // A later durable commit makes the staged chunks persist.
            store.blocking().put(&key("other"), "x").unwrap();
            assert_eq!(counts(&store), (2, 2));
            // The process dies here: no row names the chunks.
        }
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(counts(&store), (0, 0));
        assert_eq!(&store.blocking().get(&key("other")).unwrap().data[..], b"x");
    }

    #[test]
    fn a_refused_streamed_put_frees_its_staged_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("s.redb")).unwrap();
        let k = key("k");
        store.blocking().put(&k, "old").unwrap();
        let big = Bytes::from(pattern(5 * CHUNK_SIZE, 9));
        let body = crate::byte_stream([Ok(big.clone())]);
        let r = crate::block_on(store.put_stream(&k, body, PutOptions::create()));
        assert!(matches!(r, Err(Error::AlreadyExists { .. })), "{r:?}");
        assert_eq!(counts(&store), (0, 0));
        let body = crate::byte_stream([Ok(big.clone())]);
        crate::block_on(store.put_stream(&k, body, PutOptions::new())).unwrap();
        assert_eq!(counts(&store), (5, 5));
        assert_eq!(store.blocking().get(&k).unwrap().data, big);
        store.blocking().delete(&k).unwrap();
        assert_eq!(counts(&store), (0, 0));
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

    /// Opens `path` with redb itself and runs `f` in one committed write
    /// transaction: what a damaged or hostile file, or a build that writes
    /// another format, leaves behind.
    fn tamper(path: &Path, f: impl FnOnce(&WriteTransaction)) {
        let db = Database::create(path).unwrap();
        let txn = db.begin_write().unwrap();
        f(&txn);
        txn.commit().unwrap();
    }

    /// The reference counts are exactly the extents the rows name, and every
    /// counted chunk is stored (no leak, no premature free).
    fn assert_refs_match_rows(store: &RedbStore) {
        let txn = store.db.begin_read().unwrap();
        let objects = txn.open_table(OBJECTS).unwrap();
        let mut named = std::collections::BTreeMap::<u64, u64>::new();
        for row in objects.range(..).unwrap() {
            let (k, v) = row.unwrap();
            let key = Key::new(k.value()).unwrap();
            if let Body::Chunked(extents) = decode(&key, v.value()).unwrap().body {
                for e in extents {
                    *named.entry(e.chunk).or_default() += 1;
                }
            }
        }
        let refs: std::collections::BTreeMap<u64, u64> = txn
            .open_table(REFS)
            .unwrap()
            .range(..)
            .unwrap()
            .map(|r| {
                let (k, v) = r.unwrap();
                (k.value(), v.value())
            })
            .collect();
        let chunks: Vec<u64> = txn
            .open_table(CHUNKS)
            .unwrap()
            .range(..)
            .unwrap()
            .map(|r| r.unwrap().0.value())
            .collect();
        assert_eq!(
            refs, named,
            "reference counts differ from the rows' extents"
        );
        assert_eq!(
            chunks,
            named.keys().copied().collect::<Vec<_>>(),
            "stored chunks differ from the chunks the rows name"
        );
    }

    /// The edge cases of counted references: a key composed into itself,
    /// the same part twice, ranges inside one chunk, an overwrite of a
    /// composed object, its parts deleted under it.
    #[test]
    fn compose_edge_cases_keep_reference_counts_exact() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path().join("s.redb")).unwrap();
        let a = pattern(2 * CHUNK_SIZE + 10, 5);
        store.blocking().put(&key("a"), a.clone()).unwrap();
        store.blocking().put(&key("s"), "small").unwrap();
        // Into itself, twice over, with a range of one chunk.
        let parts = [
            ComposePart::new(key("a")),
            ComposePart::new(key("a")).with_range(3..9),
            ComposePart::new(key("s")),
        ];
        block_on(store.compose(&key("a"), &parts, PutOptions::new())).unwrap();
        let mut want = a.clone();
        want.extend_from_slice(&a[3..9]);
        want.extend_from_slice(b"small");
        assert_eq!(
            &store.blocking().get(&key("a")).unwrap().data[..],
            &want[..]
        );
        assert_refs_match_rows(&store);
        // Another object shares the chunks; the first is overwritten.
        let parts = [ComposePart::new(key("a")), ComposePart::new(key("a"))];
        block_on(store.compose(&key("b"), &parts, PutOptions::create())).unwrap();
        store.blocking().put(&key("a"), "over").unwrap();
        assert_refs_match_rows(&store);
        let b = [want.clone(), want].concat();
        assert_eq!(&store.blocking().get(&key("b")).unwrap().data[..], &b[..]);
        // A failed conditional compose changes nothing.
        let stale = Version::from_u64(1);
        assert!(matches!(
            block_on(store.compose(&key("b"), &parts, PutOptions::update(stale))),
            Err(Error::PreconditionFailed { .. })
        ));
        assert!(matches!(
            block_on(store.compose(&key("b"), &parts, PutOptions::create())),
            Err(Error::AlreadyExists { .. })
        ));
        assert_refs_match_rows(&store);
        store.blocking().delete(&key("b")).unwrap();
        assert_refs_match_rows(&store);
        assert_eq!(counts(&store), (0, 0));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]
        /// Random puts, composes (of ranges, repeated parts, the target
        /// itself) and deletes keep the bytes of every key and the reference
        /// counts exact.
        #[test]
        fn random_operations_keep_bytes_and_reference_counts(
            ops in proptest::collection::vec((0u8..4, 0usize..3, 0usize..3, 0usize..3, 0u64..3_000_000), 1..10)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = RedbStore::open(dir.path().join("s.redb")).unwrap();
            let names = ["x", "y", "z"];
            let mut model = std::collections::HashMap::<&str, Vec<u8>>::new();
            for (i, (op, k, p, q, n)) in ops.into_iter().enumerate() {
                let target = names[k];
                match op {
                    0 => {
                        let len = [10, INLINE_MAX + 1, CHUNK_SIZE + 7, n as usize][(n % 4) as usize];
                        let v = pattern(len, i as u8);
                        store.blocking().put(&key(target), v.clone()).unwrap();
                        model.insert(target, v);
                    }
                    1 => {
                        store.blocking().delete(&key(target)).unwrap();
                        model.remove(target);
                    }
                    _ => {
                        let (pa, pb) = (names[p], names[q]);
                        let (Some(va), Some(vb)) = (model.get(pa), model.get(pb)) else {
                            continue;
                        };
                        let (va, vb) = (va.clone(), vb.clone());
                        let mut parts = vec![ComposePart::new(key(pa))];
                        let mut want = va;
                        if !vb.is_empty() {
                            let start = n % vb.len() as u64;
                            let end = (start + n / 3 + 1).min(vb.len() as u64);
                            parts.push(ComposePart::new(key(pb)).with_range(start..end));
                            want.extend_from_slice(&vb[start as usize..end as usize]);
                        }
                        block_on(store.compose(&key(target), &parts, PutOptions::new())).unwrap();
                        model.insert(target, want);
                    }
                }
                assert_refs_match_rows(&store);
            }
            for (k, v) in &model {
                proptest::prop_assert_eq!(&store.blocking().get(&key(k)).unwrap().data[..], &v[..]);
            }
        }
    }

    /// A hostile row whose extent starts near the end of the u32 range:
    /// composing a range of it must be refused, not overflow `offset + skip`.
    #[test]
    fn composing_a_range_of_a_hostile_extent_is_corrupt_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        drop(RedbStore::open(&path).unwrap());
        tamper(&path, |txn| {
            let e = Extent {
                chunk: 1,
                offset: u32::MAX - 1,
                len: 10,
            };
            let row = encode(1, 10, &Body::Chunked(vec![e]));
            let mut objects = txn.open_table(OBJECTS).unwrap();
            objects.insert("bad", row.as_slice()).unwrap();
            txn.open_table(CHUNKS)
                .unwrap()
                .insert(1, &[0u8; 16][..])
                .unwrap();
            txn.open_table(REFS).unwrap().insert(1, 1).unwrap();
        });
        let store = RedbStore::open(&path).unwrap();
        let parts = [ComposePart::new(key("bad")).with_range(5..10)];
        let r = block_on(store.compose(&key("t"), &parts, PutOptions::new()));
        assert!(matches!(r, Err(Error::Corrupt { .. })), "{r:?}");
    }

    /// A damaged row can still be deleted (format 1 allowed it), so an
    /// operator can clear it and listings under its prefix work again.
    #[test]
    fn a_damaged_row_can_be_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        drop(RedbStore::open(&path).unwrap());
        tamper(&path, |txn| {
            let mut objects = txn.open_table(OBJECTS).unwrap();
            objects.insert("dir/bad", &[9u8; 3][..]).unwrap();
        });
        let store = RedbStore::open(&path).unwrap();
        assert!(matches!(
            store.blocking().list_all("dir/"),
            Err(Error::Corrupt { .. })
        ));
        store.blocking().delete(&key("dir/bad")).unwrap();
        assert!(store.blocking().list_all("dir/").unwrap().is_empty());
    }

    /// A build of format 1 that opens a converted file sees no `blobs`
    /// table, creates one and writes there. The next open of this build must
    /// not merge those rows over the chunked ones and leak their chunks
    /// (better still: the old build cannot open the converted file at all).
    #[test]
    fn rows_an_old_build_wrote_after_conversion_leak_no_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        {
            let store = RedbStore::open(&path).unwrap();
            store
                .blocking()
                .put(&key("k"), pattern(2 * CHUNK_SIZE, 1))
                .unwrap();
        }
        // What `RedbStore::open` and `put` of format 1 did, if the file lets
        // them: open `blobs` as key -> version and bytes, insert a row.
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        let old_build_opened = match txn.open_table(LEGACY) {
            Ok(mut t) => {
                let mut row = 99u64.to_le_bytes().to_vec();
                row.extend_from_slice(b"old build");
                t.insert("k", row.as_slice()).unwrap();
                true
            }
            Err(_) => false,
        };
        txn.commit().unwrap();
        drop(db);
        let store = RedbStore::open(&path).unwrap();
        if old_build_opened {
            assert_eq!(
                &store.blocking().get(&key("k")).unwrap().data[..],
                b"old build"
            );
        }
        assert_refs_match_rows(&store);
    }

    /// One row of a format 1 file that is not a valid key today (damage,
    /// or a hostile file) must not make the whole store impossible to open:
    /// the conversion sets it aside and keeps every other row.
    #[test]
    fn a_format_1_row_with_an_invalid_key_does_not_brick_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.redb");
        tamper(&path, |txn| {
            let mut t = txn.open_table(LEGACY).unwrap();
            let mut row = 1u64.to_le_bytes().to_vec();
            row.extend_from_slice(b"kept");
            t.insert("good", row.as_slice()).unwrap();
            t.insert("bad//key", row.as_slice()).unwrap();
            t.insert("short", &[1u8, 2][..]).unwrap();
            txn.open_table(META)
                .unwrap()
                .insert(LAST_VERSION, 1)
                .unwrap();
        });
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(
            &store.blocking().get(&key("good")).unwrap().data[..],
            b"kept"
        );
    }

    /// No chunk holds more than [`CHUNK_SIZE`] bytes, so an extent reaching
    /// past that is damage. Accepting it lets a row of a few KiB claim a
    /// size of a TiB, and `get` then reserves that much before it reads a
    /// chunk: the allocation fails and the process aborts (not a panic).
    #[test]
    fn an_extent_past_the_largest_chunk_is_corrupt() {
        let k = key("k");
        for e in [
            Extent {
                chunk: 1,
                offset: 0,
                len: u32::MAX,
            },
            Extent {
                chunk: 1,
                offset: CHUNK_SIZE as u32,
                len: 1,
            },
            Extent {
                chunk: 1,
                offset: u32::MAX,
                len: 2,
            },
        ] {
            let row = encode(1, u64::from(e.len), &Body::Chunked(vec![e]));
            assert!(
                matches!(decode(&k, &row), Err(Error::Corrupt { .. })),
                "{e:?} accepted"
            );
        }
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
        // One chunk of three bytes: an extent reaching past it is corrupt.
        let read = |_: u64, from: u64, to: u64, out: &mut Vec<u8>| -> Result<bool> {
            let chunk = b"abc";
            if to > chunk.len() as u64 {
                return Ok(false);
            }
            out.extend_from_slice(&chunk[from as usize..to as usize]);
            Ok(true)
        };
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
