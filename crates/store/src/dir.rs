//! A directory of files, for large blobs on a local or network disk.

use crate::{
    Capabilities, Error, GetOptions, GetResult, Key, ListOptions, ListPage, ObjectMeta, PutMode,
    PutOptions, PutResult, Result, Store, Version,
};
use bytes::Bytes;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MAGIC: &[u8; 4] = b"BSB1";
const HEADER_LEN: u64 = 28;
const MARKER: &str = "blocksmith-dir-store v1\n";
const LOCK_STRIPES: u64 = 64;
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// A store that keeps each object in its own file under a root directory.
///
/// Layout: `data/<segments>~` holds an object (a 28-byte header with a magic,
/// the version and the length, then the bytes), `tmp/` holds writes in flight,
/// `locks/` holds 64 lock files that serialise conditional writes per key.
///
/// # Crash safety
/// A put writes a temp file, `fsync`s it, renames it over the target and
/// `fsync`s the directory, so after a crash a key holds the old value or the
/// new one, never a torn one; a file whose length disagrees with its header
/// is reported as [`Error::Corrupt`], never served.
///
/// # Concurrency
/// Conditional puts and deletes take an exclusive `flock` on the key's lock
/// stripe, so compare-and-swap is correct across threads and processes that
/// share the directory (on a filesystem with working `flock`; NFS is not one).
/// Readers take no lock: a rename is atomic.
///
/// # Limits
/// Each key segment must fit a file name once escaped (254 bytes). The
/// directory is meant for a case-sensitive filesystem. Listing walks the
/// directories under the prefix, so it costs time in the number of keys there.
///
/// ```
/// use blocksmith_store::{DirStore, Key, StoreExt};
/// let dir = tempfile::tempdir().unwrap();
/// let store = DirStore::open(dir.path()).unwrap();
/// let key = Key::new("videos/raw/clip.mp4").unwrap();
/// store.blocking().put(&key, vec![0u8; 1024]).unwrap();
/// assert_eq!(store.blocking().head(&key).unwrap().size, 1024);
/// ```
#[derive(Debug)]
pub struct DirStore {
    data: PathBuf,
    tmp: PathBuf,
    locks: PathBuf,
}

static WRITE_COUNTER: AtomicU32 = AtomicU32::new(0);

impl DirStore {
    /// Opens (creating if needed) a store rooted at `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        let store = DirStore {
            data: root.join("data"),
            tmp: root.join("tmp"),
            locks: root.join("locks"),
        };
        for d in [&store.data, &store.tmp, &store.locks] {
            fs::create_dir_all(d).map_err(|e| Error::io(format!("create {}", d.display()), e))?;
        }
        let marker = root.join("BLOCKSMITH");
        match fs::read_to_string(&marker) {
            Ok(s) if s == MARKER => {}
            Ok(_) => {
                return Err(Error::Corrupt {
                    key: marker.display().to_string(),
                    reason: "not a blocksmith directory store of a known version".into(),
                });
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                fs::write(&marker, MARKER).map_err(|e| Error::io("write marker", e))?;
            }
            Err(e) => return Err(Error::io("read marker", e)),
        }
        store.clean_stale_temps();
        Ok(store)
    }

    fn clean_stale_temps(&self) {
        let Ok(entries) = fs::read_dir(&self.tmp) else {
            return;
        };
        let now = SystemTime::now();
        for e in entries.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > STALE_TEMP);
            if old {
                let _ = fs::remove_file(e.path());
            }
        }
    }

    fn object_path(&self, key: &Key) -> Result<PathBuf> {
        let mut p = self.data.clone();
        let mut segs = key.segments().peekable();
        while let Some(seg) = segs.next() {
            let mut name = escape(seg);
            if segs.peek().is_none() {
                name.push('~');
            }
            if name.len() > 255 {
                return Err(Error::InvalidKey {
                    key: key.as_str().chars().take(64).collect(),
                    reason: "segment too long for a file name (DirStore)",
                });
            }
            p.push(name);
        }
        Ok(p)
    }

    fn lock(&self, key: &Key) -> Result<File> {
        let stripe = fnv1a(key.as_str().as_bytes()) % LOCK_STRIPES;
        let path = self.locks.join(format!("{stripe:02}"));
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(format!("open lock {}", path.display()), e))?;
        f.lock().map_err(|e| Error::io("lock", e))?;
        Ok(f)
    }

    /// Writes header + value to a synced temp file; returns its path and version.
    fn write_temp(&self, value: &[u8]) -> Result<(PathBuf, u128)> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let n = WRITE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let version =
            (u128::from(nanos) << 64) | (u128::from(std::process::id()) << 32) | u128::from(n);
        let path = self.tmp.join(format!("{version:032x}"));
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("create temp file", e))?;
        let mut header = [0u8; HEADER_LEN as usize];
        header[..4].copy_from_slice(MAGIC);
        header[4..20].copy_from_slice(&version.to_le_bytes());
        header[20..28].copy_from_slice(&(value.len() as u64).to_le_bytes());
        let res = f
            .write_all(&header)
            .and_then(|()| f.write_all(value))
            .and_then(|()| f.sync_all());
        if let Err(e) = res {
            let _ = fs::remove_file(&path);
            return Err(Error::io("write temp file", e));
        }
        Ok((path, version))
    }

    fn sync_dir(dir: &Path) -> Result<()> {
        // Directories cannot be opened for syncing on every platform; where they
        // can, the rename is made durable.
        match File::open(dir) {
            Ok(d) => d
                .sync_all()
                .map_err(|e| Error::io(format!("fsync {}", dir.display()), e)),
            Err(_) => Ok(()),
        }
    }

    fn ensure_parent(&self, path: &Path) -> Result<()> {
        let parent = path.parent().expect("object paths have a parent");
        if parent.is_dir() {
            return Ok(());
        }
        fs::create_dir_all(parent).map_err(|e| Error::io("create directories", e))?;
        // Make every new directory entry durable, up to the data root.
        let mut d = parent;
        while d != self.data {
            let Some(up) = d.parent() else { break };
            Self::sync_dir(up)?;
            d = up;
        }
        Ok(())
    }

    fn publish(&self, key: &Key, path: &Path, tmp: &Path, mode: &PutMode) -> Result<()> {
        let _lock = self.lock(key)?;
        // An overwrite does not look at what is there, so it also repairs a
        // damaged file; conditional puts read the current version.
        let current = if *mode == PutMode::Overwrite {
            None
        } else {
            match open_object(key, path) {
                Ok((_, h)) => Some(h.version),
                Err(Error::NotFound { .. }) => None,
                Err(e) => return Err(e),
            }
        };
        match (mode, current) {
            (PutMode::Create, Some(_)) => {
                return Err(Error::AlreadyExists {
                    key: key.to_string(),
                });
            }
            (PutMode::Update(expected), cur) if cur.is_none_or(|v| version_of(v) != *expected) => {
                return Err(Error::PreconditionFailed {
                    key: key.to_string(),
                });
            }
            _ => {}
        }
        self.ensure_parent(path)?;
        fs::rename(tmp, path).map_err(|e| Error::io("rename temp file", e))?;
        Self::sync_dir(path.parent().expect("object paths have a parent"))
    }

    fn walk(
        dir: &Path,
        key_prefix: &str,
        name_filter: &str,
        out: &mut Vec<String>,
        opts: &ListOptions,
    ) -> Result<()> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(format!("list {}", dir.display()), e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| Error::io("list", e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let (seg, is_object) = match name.strip_suffix('~') {
                Some(s) => (s, true),
                None => (name, false),
            };
            let Some(seg) = unescape(seg) else { continue };
            // Only the first level is filtered by the partial last segment of
            // the prefix; below it every key matches the prefix.
            if !seg.starts_with(name_filter) {
                continue;
            }
            let full = format!("{key_prefix}{seg}");
            let ft = entry.file_type().map_err(|e| Error::io("list", e))?;
            if is_object && ft.is_file() {
                if opts.matches(&full) {
                    out.push(full);
                }
            } else if !is_object && ft.is_dir() {
                Self::walk(&entry.path(), &format!("{full}/"), "", out, opts)?;
            }
        }
        Ok(())
    }
}

struct Header {
    version: u128,
    len: u64,
}

fn version_of(v: u128) -> Version {
    Version::new(format!("{v:032x}"))
}

fn open_object(key: &Key, path: &Path) -> Result<(File, Header)> {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(Error::NotFound {
                key: key.to_string(),
            });
        }
        Err(e) => return Err(Error::io(format!("open {key}"), e)),
    };
    let corrupt = |reason: &str| Error::Corrupt {
        key: key.to_string(),
        reason: reason.to_string(),
    };
    let mut h = [0u8; HEADER_LEN as usize];
    f.read_exact(&mut h).map_err(|e| match e.kind() {
        ErrorKind::UnexpectedEof => corrupt("file shorter than its header"),
        _ => Error::io(format!("read {key}"), e),
    })?;
    if &h[..4] != MAGIC {
        return Err(corrupt("bad magic"));
    }
    let header = Header {
        version: u128::from_le_bytes(h[4..20].try_into().expect("16 bytes")),
        len: u64::from_le_bytes(h[20..28].try_into().expect("8 bytes")),
    };
    let file_len = f.metadata().map_err(|e| Error::io("stat", e))?.len();
    if file_len != HEADER_LEN + header.len {
        return Err(corrupt(
            "length does not match header (torn or foreign file)",
        ));
    }
    Ok((f, header))
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Characters escaped in file names: our own markers (`%`, `~`) and those
/// Windows refuses.
fn needs_escape(c: char) -> bool {
    matches!(c, '%' | '~' | '<' | '>' | ':' | '"' | '|' | '?' | '*')
}

fn escape(seg: &str) -> String {
    let mut out = String::with_capacity(seg.len());
    for c in seg.chars() {
        if needs_escape(c) {
            let _ = write!(out, "%{:02X}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

fn unescape(name: &str) -> Option<String> {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => {
                let hex: String = chars.by_ref().take(2).collect();
                let code = u8::from_str_radix(&hex, 16).ok()?;
                let c = char::from(code);
                if !needs_escape(c) {
                    return None;
                }
                out.push(c);
            }
            '~' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

impl Store for DirStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::FULL
    }

    async fn get(&self, key: &Key, options: GetOptions) -> Result<GetResult> {
        let path = self.object_path(key)?;
        let (mut f, h) = open_object(key, &path)?;
        let range = match &options.range {
            Some(r) => r.resolve(key, h.len)?,
            None => 0..h.len,
        };
        let mut buf = vec![0u8; (range.end - range.start) as usize];
        f.seek(SeekFrom::Start(HEADER_LEN + range.start))
            .and_then(|_| f.read_exact(&mut buf))
            .map_err(|e| Error::io(format!("read {key}"), e))?;
        Ok(GetResult {
            meta: ObjectMeta {
                key: key.clone(),
                size: h.len,
                version: version_of(h.version),
            },
            range,
            data: Bytes::from(buf),
        })
    }

    async fn head(&self, key: &Key) -> Result<ObjectMeta> {
        let (_, h) = open_object(key, &self.object_path(key)?)?;
        Ok(ObjectMeta {
            key: key.clone(),
            size: h.len,
            version: version_of(h.version),
        })
    }

    async fn put(&self, key: &Key, value: Bytes, options: PutOptions) -> Result<PutResult> {
        let path = self.object_path(key)?;
        let (tmp, version) = self.write_temp(&value)?;
        match self.publish(key, &path, &tmp, &options.mode) {
            Ok(()) => Ok(PutResult {
                version: version_of(version),
            }),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        let path = self.object_path(key)?;
        let _lock = self.lock(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Self::sync_dir(path.parent().expect("object paths have a parent")),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("delete {key}"), e)),
        }
    }

    async fn list(&self, options: ListOptions) -> Result<ListPage> {
        options.validate()?;
        let (dir_part, name_filter) = match options.prefix.rfind('/') {
            Some(i) => options.prefix.split_at(i + 1),
            None => ("", options.prefix.as_str()),
        };
        let mut dir = self.data.clone();
        for seg in dir_part.split('/').filter(|s| !s.is_empty()) {
            dir.push(escape(seg));
        }
        let mut keys = Vec::new();
        Self::walk(&dir, dir_part, name_filter, &mut keys, &options)?;
        keys.sort_unstable();
        let mut objects = Vec::with_capacity(keys.len().min(options.limit + 1));
        for k in keys {
            if objects.len() > options.limit {
                break;
            }
            let key = Key::new(k)?;
            match self.head(&key).await {
                Ok(m) => objects.push(m),
                Err(Error::NotFound { .. }) => {} // deleted while listing
                Err(e) => return Err(e),
            }
        }
        Ok(ListPage::from_sorted(objects, options.limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_roundtrips() {
        for s in ["plain", "a%b", "x~y", "w:i*n?", "日本", "%41"] {
            let e = escape(s);
            assert!(!e.contains('~'));
            assert_eq!(unescape(&e).as_deref(), Some(s));
        }
        assert_eq!(unescape("bad%4"), None);
        assert_eq!(
            unescape("%41"),
            None,
            "only escaped characters may be escaped"
        );
    }
}
