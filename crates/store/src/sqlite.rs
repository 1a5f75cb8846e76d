//! A single-file store on SQLite (`rusqlite` with the bundled library), for
//! hosts that already run SQLite, and the one embedded store whose
//! conditions hold across processes.
//!
//! # Schema (version 1)
//!
//! - `blocksmith_objects(key TEXT PRIMARY KEY, version INTEGER, value BLOB)`.
//! - `blocksmith_meta(name TEXT PRIMARY KEY, value INTEGER)`: `last_version`
//!   (the store-wide version counter) and `schema` (1).
//!
//! Every write runs in a `BEGIN IMMEDIATE` transaction, which takes SQLite's
//! write lock before it reads: the read-compare-write of a conditional put is
//! atomic across threads and processes. The database runs in WAL mode with
//! `synchronous = FULL`, so a committed put survives a power loss.

use crate::stream::next;
use crate::{
    ByteStream, Capabilities, Error, GetOptions, GetResult, Key, ListOptions, ListPage, ObjectMeta,
    PutMode, PutOptions, PutResult, Result, Store, Version,
};
use bytes::Bytes;
use rusqlite::{Connection, MAIN_DB, OptionalExtension, Transaction, TransactionBehavior, params};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

const SCHEMA: i64 = 1;
/// SQLite's default limit on a value (`SQLITE_MAX_LENGTH`).
const MAX_VALUE: u64 = 1_000_000_000;

/// A backend error; SQLite's busy and locked results (another connection
/// or process held the write lock past the busy timeout) are temporary.
fn err(e: rusqlite::Error) -> Error {
    let temporary = matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    );
    Error::Backend {
        backend: "sqlite",
        temporary,
        source: Box::new(e),
    }
}

/// Options of [`SqliteStore::open_with`].
///
/// ```
/// use blocksmith_store::{SqliteOptions, SqliteStore};
/// use std::time::Duration;
/// let dir = tempfile::tempdir().unwrap();
/// let options = SqliteOptions::default().with_busy_timeout(Duration::from_secs(1));
/// let store = SqliteStore::open_with(dir.path().join("app.sqlite"), options).unwrap();
/// # drop(store);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// How long a write waits for another connection's (or process's) write
    /// lock before it fails with a temporary error (5 s by default).
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl SqliteOptions {
    /// Sets [`SqliteOptions::busy_timeout`].
    #[must_use]
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }
}

/// A store in one SQLite database file: WAL mode, durable commits, and
/// compare-and-swap that holds across processes (SQLite's file locking).
///
/// Values are limited to SQLite's 1 GB; `compose` uses the portable default
/// (read the parts, write the whole). Calls complete synchronously inside
/// the first poll of their future (one connection behind a mutex): wrap the
/// store in [`crate::Offload`] on an async runtime.
///
/// ```
/// use blocksmith_store::{Key, SqliteStore, StoreExt};
/// let dir = tempfile::tempdir().unwrap();
/// let store = SqliteStore::open(dir.path().join("app.sqlite")).unwrap();
/// let key = Key::new("config/app").unwrap();
/// store.blocking().put(&key, "{}").unwrap();
/// assert_eq!(store.blocking().list_all("config/").unwrap().len(), 1);
/// ```
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Where streamed puts spool their body before the write transaction.
    spool_dir: PathBuf,
}

impl SqliteStore {
    /// Opens or creates the database at `path` with the default
    /// [`SqliteOptions`].
    ///
    /// # Errors
    /// [`Error::Backend`] when SQLite cannot open the file or set it up (not
    /// a database, permissions, locked past the busy timeout);
    /// [`Error::Corrupt`] when the file holds a newer schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens or creates the database at `path`, creating the tables.
    ///
    /// # Errors
    /// As [`SqliteStore::open`].
    #[allow(clippy::needless_pass_by_value)] // by value, like every `*Options` here
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self> {
        let mut conn = Connection::open(path.as_ref()).map_err(err)?;
        conn.busy_timeout(options.busy_timeout).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        let txn = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        txn.execute_batch(
            "CREATE TABLE IF NOT EXISTS blocksmith_objects (
                 key TEXT PRIMARY KEY NOT NULL,
                 version INTEGER NOT NULL,
                 value BLOB NOT NULL
             );
             CREATE TABLE IF NOT EXISTS blocksmith_meta (
                 name TEXT PRIMARY KEY NOT NULL,
                 value INTEGER NOT NULL
             );",
        )
        .map_err(err)?;
        let schema: Option<i64> = txn
            .query_row(
                "SELECT value FROM blocksmith_meta WHERE name = 'schema'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        match schema {
            None => {
                txn.execute(
                    "INSERT INTO blocksmith_meta (name, value) VALUES ('schema', ?1)",
                    params![SCHEMA],
                )
                .map_err(err)?;
            }
            Some(SCHEMA) => {}
            Some(other) => {
                return Err(Error::Corrupt {
                    key: "blocksmith_meta/schema".into(),
                    reason: format!("schema {other}, this build reads {SCHEMA}"),
                });
            }
        }
        txn.commit().map_err(err)?;
        let spool_dir = match path.as_ref().parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Spool::sweep(&spool_dir);
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            spool_dir,
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while the lock was held left no transaction open (rusqlite
        // rolls back on drop), so the connection is still usable.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn version_of(key: &Key, v: i64) -> Result<Version> {
    u64::try_from(v)
        .map(Version::from_u64)
        .map_err(|_| Error::Corrupt {
            key: key.to_string(),
            reason: format!("negative version {v}"),
        })
}

fn size_of(key: &Key, n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| Error::Corrupt {
        key: key.to_string(),
        reason: format!("negative size {n}"),
    })
}

/// The version and size of `key`'s value, reading no bytes of it.
fn version_and_size(conn: &Connection, key: &Key) -> Result<(Version, u64)> {
    let (version, size): (i64, i64) = conn
        .prepare_cached("SELECT version, length(value) FROM blocksmith_objects WHERE key = ?1")
        .map_err(err)?
        .query_row(params![key.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(err)?
        .ok_or_else(|| Error::NotFound {
            key: key.to_string(),
        })?;
    Ok((version_of(key, version)?, size_of(key, size)?))
}

/// Checks `mode` against `key`'s current version, takes the next version
/// and lets `write` store the value under it, all inside `txn` (a
/// `BEGIN IMMEDIATE` transaction).
fn write_row(
    txn: &Transaction<'_>,
    key: &Key,
    mode: &PutMode,
    write: impl FnOnce(&Transaction<'_>, i64) -> Result<()>,
) -> Result<i64> {
    let current: Option<i64> = txn
        .prepare_cached("SELECT version FROM blocksmith_objects WHERE key = ?1")
        .map_err(err)?
        .query_row(params![key.as_str()], |r| r.get(0))
        .optional()
        .map_err(err)?;
    match (mode, current) {
        (PutMode::Create, Some(_)) => {
            return Err(Error::AlreadyExists {
                key: key.to_string(),
            });
        }
        (PutMode::Update(expected), cur)
            if cur.is_none_or(|v| {
                u64::try_from(v).map(Version::from_u64).ok().as_ref() != Some(expected)
            }) =>
        {
            return Err(Error::PreconditionFailed {
                key: key.to_string(),
            });
        }
        _ => {}
    }
    let version: i64 = txn
        .prepare_cached(
            "INSERT INTO blocksmith_meta (name, value) VALUES ('last_version', 1)
             ON CONFLICT (name) DO UPDATE SET value = value + 1
             RETURNING value",
        )
        .map_err(err)?
        .query_row([], |r| r.get(0))
        .map_err(err)?;
    write(txn, version)?;
    Ok(version)
}

/// How many bytes a streamed put moves from its spool file to the blob at
/// a time.
const SPOOL_CHUNK: usize = 1 << 20;

/// The name every spool file starts with.
const SPOOL_PREFIX: &str = ".blocksmith-spool-";
/// A spool file not written for this long is left from a process that died
/// mid-put (a live put writes it as its body arrives, then reads it back
/// through the handle it holds).
const STALE_SPOOL: Duration = Duration::from_secs(3600);

/// A temp file beside the database, private to the owner, removed when
/// dropped.
struct Spool(PathBuf);

impl Spool {
    /// Creates a new spool file in `dir`: `create_new` (never an existing
    /// file), mode 0600 and `O_NOFOLLOW` on Unix, so other local users
    /// cannot read the value while it streams in. Only a file this call
    /// created is removed on drop.
    fn create(dir: &Path) -> Result<(Self, std::fs::File)> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = dir.join(format!(
            "{SPOOL_PREFIX}{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut o = std::fs::OpenOptions::new();
        o.read(true).write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600)
                .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
        }
        let file = o
            .open(&path)
            .map_err(|e| Error::io("create the spool file", e))?;
        Ok((Spool(path), file))
    }

    /// Removes the spool files in `dir` that nobody has written for
    /// [`STALE_SPOOL`] (best effort): a crash or a kill mid-put leaves its
    /// spool behind, up to 1 GB each.
    fn sweep(dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let now = std::time::SystemTime::now();
        for e in entries.flatten() {
            let stale = e
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(SPOOL_PREFIX))
                && e.file_type().is_ok_and(|t| t.is_file())
                && e.metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|age| age > STALE_SPOOL);
            if stale {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Store for SqliteStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::FULL.with_max_value_size(Some(MAX_VALUE))
    }

    async fn get(&self, key: &Key, options: GetOptions) -> Result<GetResult> {
        if options.range.is_none() {
            // The whole value: one statement.
            let conn = self.conn();
            let mut stmt = conn
                .prepare_cached("SELECT version, value FROM blocksmith_objects WHERE key = ?1")
                .map_err(err)?;
            let (version, data): (i64, Vec<u8>) = stmt
                .query_row(params![key.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(err)?
                .ok_or_else(|| Error::NotFound {
                    key: key.to_string(),
                })?;
            let size = data.len() as u64;
            return Ok(GetResult {
                meta: ObjectMeta {
                    key: key.clone(),
                    size,
                    version: version_of(key, version)?,
                },
                data: Bytes::from(data),
                range: 0..size,
            });
        }
        let mut conn = self.conn();
        // One read transaction, so the size and the bytes are of one version;
        // the bytes through incremental blob I/O, which reads only the pages
        // of the range (`substr` would load the whole value).
        let txn = conn.transaction().map_err(err)?;
        let (rowid, version, size): (i64, i64, i64) = txn
            .prepare_cached(
                "SELECT rowid, version, length(value) FROM blocksmith_objects WHERE key = ?1",
            )
            .map_err(err)?
            .query_row(params![key.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()
            .map_err(err)?
            .ok_or_else(|| Error::NotFound {
                key: key.to_string(),
            })?;
        let size = size_of(key, size)?;
        let range = match &options.range {
            Some(r) => r.resolve(key, size)?,
            None => 0..size,
        };
        let mut data = vec![0u8; usize::try_from(range.end - range.start).unwrap_or(0)];
        if !data.is_empty() {
            let mut blob = txn
                .blob_open(MAIN_DB, c"blocksmith_objects", c"value", rowid, true)
                .map_err(err)?;
            blob.seek(SeekFrom::Start(range.start))
                .and_then(|_| blob.read_exact(&mut data))
                .map_err(|e| Error::Corrupt {
                    key: key.to_string(),
                    reason: format!("the value is shorter than its length: {e}"),
                })?;
        }
        drop(txn);
        Ok(GetResult {
            meta: ObjectMeta {
                key: key.clone(),
                size,
                version: version_of(key, version)?,
            },
            data: Bytes::from(data),
            range,
        })
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let (version, size) = version_and_size(&self.conn(), key)?;
        Ok(ObjectMeta {
            key: key.clone(),
            size,
            version,
        })
    }

    async fn put(&self, key: &Key, value: Bytes, options: PutOptions) -> Result<PutResult> {
        if value.len() as u64 > MAX_VALUE {
            return Err(Error::Unsupported {
                backend: "sqlite",
                operation: "values over 1 GB",
            });
        }
        let mut conn = self.conn();
        let txn = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let version = write_row(&txn, key, &options.mode, |txn, version| {
            txn.prepare_cached(
                "INSERT INTO blocksmith_objects (key, version, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET version = excluded.version, value = excluded.value",
            )
            .map_err(err)?
            .execute(params![key.as_str(), version, &value[..]])
            .map_err(err)?;
            Ok(())
        })?;
        txn.commit().map_err(err)?;
        Ok(PutResult {
            version: version_of(key, version)?,
        })
    }

    /// Spools the body into a temp file beside the database (no lock held
    /// while the body arrives), then writes it in one transaction through
    /// incremental blob I/O: memory use is one chunk. The spool file
    /// (`.blocksmith-spool-*`) is private to the owner (0600, not followed
    /// through a symlink) and removed when the put ends or its future is
    /// dropped; one a crash left behind is removed by the next open once
    /// nobody has written it for an hour.
    async fn put_stream(
        &self,
        key: &Key,
        mut body: ByteStream<'_>,
        options: PutOptions,
    ) -> Result<PutResult> {
        let (_spool, mut file) = Spool::create(&self.spool_dir)?;
        let io = |e| Error::io("write the spool file", e);
        let mut size = 0u64;
        while let Some(chunk) = next(&mut body).await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            if size > MAX_VALUE {
                return Err(Error::Unsupported {
                    backend: "sqlite",
                    operation: "values over 1 GB",
                });
            }
            file.write_all(&chunk).map_err(io)?;
        }
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        let len = i64::try_from(size).unwrap_or(i64::MAX);
        let mut conn = self.conn();
        let txn = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let version = write_row(&txn, key, &options.mode, |txn, version| {
            let rowid: i64 = txn
                .prepare_cached(
                    "INSERT INTO blocksmith_objects (key, version, value) VALUES (?1, ?2, zeroblob(?3))
                     ON CONFLICT (key) DO UPDATE SET version = excluded.version, value = excluded.value
                     RETURNING rowid",
                )
                .map_err(err)?
                .query_row(params![key.as_str(), version, len], |r| r.get(0))
                .map_err(err)?;
            if size > 0 {
                let mut blob = txn
                    .blob_open(MAIN_DB, c"blocksmith_objects", c"value", rowid, false)
                    .map_err(err)?;
                let mut buf = vec![0u8; SPOOL_CHUNK];
                let mut left = size;
                while left > 0 {
                    let n = usize::try_from(left.min(SPOOL_CHUNK as u64)).unwrap_or(SPOOL_CHUNK);
                    file.read_exact(&mut buf[..n])
                        .map_err(|e| Error::io("read the spool file", e))?;
                    blob.write_all(&buf[..n])
                        .map_err(|e| Error::io("write the blob", e))?;
                    left -= n as u64;
                }
            }
            Ok(())
        })?;
        txn.commit().map_err(err)?;
        Ok(PutResult {
            version: version_of(key, version)?,
        })
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "DELETE FROM blocksmith_objects WHERE key = ?1",
            params![key.as_str()],
        )
        .map_err(err)?;
        Ok(())
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        options.validate()?;
        let conn = self.conn();
        let prefix = options.prefix.as_str();
        let (lower, inclusive) = match &options.start_after {
            Some(k) if k.as_str() >= prefix => (k.as_str(), false),
            _ => (prefix, true),
        };
        let sql = if inclusive {
            "SELECT key, version, length(value) FROM blocksmith_objects WHERE key >= ?1 ORDER BY key"
        } else {
            "SELECT key, version, length(value) FROM blocksmith_objects WHERE key > ?1 ORDER BY key"
        };
        let mut stmt = conn.prepare_cached(sql).map_err(err)?;
        let mut rows = stmt.query(params![lower]).map_err(err)?;
        let mut objects = Vec::with_capacity(options.limit.min(1024) + 1);
        // Rows come in key order: stop at the first one past the prefix (or
        // one past the page, which tells the page there is more).
        while let Some(row) = rows.next().map_err(err)? {
            let k: String = row.get(0).map_err(err)?;
            if !k.starts_with(prefix) || objects.len() > options.limit {
                break;
            }
            let key = Key::new(k)?;
            let version = version_of(&key, row.get(1).map_err(err)?)?;
            let size = size_of(&key, row.get(2).map_err(err)?)?;
            objects.push(ObjectMeta { key, size, version });
        }
        Ok(ListPage::from_sorted(objects, options.limit))
    }
}
