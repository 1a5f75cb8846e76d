//! A directory of files, for large blobs on a local or network disk.

use crate::stream::{PollStream, next};
use crate::{
    ByteStream, Capabilities, ComposePart, Error, GetOptions, GetResult, GetStream, Key,
    ListOptions, ListPage, ObjectMeta, PutMode, PutOptions, PutResult, Result, Store, Version,
    compose_by_copy, get_stream_by_ranges,
};
use bytes::Bytes;
use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MAGIC: &[u8; 4] = b"BSB1";
/// The magic of an object whose bytes start at [`DIRECT_AT`], on a page
/// boundary: every value of [`ALIGNED_MIN`] bytes or more.
const ALIGNED_MAGIC: &[u8; 4] = b"BSB2";
/// Where a large object's bytes start, and the alignment of file offsets,
/// lengths and memory that direct I/O asks for (4 KiB covers every logical
/// block size in use).
const DIRECT_AT: u64 = 4096;
/// The least value size stored page-aligned in its file. Copies between
/// user memory and the page cache are then page-aligned too, which costs
/// a fraction of an unaligned copy; below this size a 4 KiB header block
/// would weigh on the disk more than the copy does.
const ALIGNED_MIN: u64 = 64 << 10;
/// Zeros from the end of the header to [`DIRECT_AT`].
static PAD: [u8; (DIRECT_AT - HEADER_LEN) as usize] = [0; (DIRECT_AT - HEADER_LEN) as usize];
/// The bounce buffer for direct writes of values whose memory is not aligned.
const BOUNCE: usize = 1 << 20;
/// The magic of a composed object's manifest (see [`DirStore`]'s layout).
const COMPOSED_MAGIC: &[u8; 4] = b"BSC1";
const HEADER_LEN: u64 = 28;
/// A manifest entry: link number (4), segment version (16), start (8), length (8).
const EXTENT_LEN: u64 = 36;
/// How often a read of a composed object starts over when an overwrite
/// removes its segments underneath it.
const READ_ATTEMPTS: usize = 8;
/// How many bytes each chunk of a streamed read carries.
const FILE_CHUNK: u64 = 1 << 20;
const MARKER: &str = "blocksmith-dir-store v1\n";
const LOCK_STRIPES: u64 = 64;
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// A store that keeps each object in its own file under a root directory.
///
/// Layout: `data/<segments>~` holds an object (a 28-byte header with a magic,
/// the version and the length, then the bytes), `tmp/` holds writes in flight,
/// `locks/` holds 64 lock files that serialise conditional writes per key.
/// A value of 64 KiB or more starts on the file's second 4 KiB page (magic
/// `BSB2`), so copies between memory and the page cache are page-aligned:
/// in `benches/store.rs` that takes a buffered 8 MiB put from 1.6x the CPU
/// time of a hand-written durable write to level with it.
///
/// # Direct I/O for large values
/// On Linux a value of at least [`DirStore::DEFAULT_DIRECT_MIN`] bytes
/// (1 MiB; see [`DirStore::with_direct_io`]) is written with `O_DIRECT`:
/// its bytes go from the caller's memory to the disk without a copy into
/// the page cache, and the `fsync` that makes the put durable has no dirty
/// pages to write back (MinIO writes large objects the same way). In
/// `benches/upload.rs` that halves the CPU time of a durable upload. The
/// header is written through the page cache, so reading it stays cheap,
/// and the bytes from offset 4096 with direct I/O. Memory
/// that is 4 KiB-aligned (the upload crate's part buffers) is written as it
/// is; other memory goes through a 1 MiB aligned bounce buffer. A
/// filesystem that refuses `O_DIRECT` gets buffered writes from then on.
/// The values are not left in the page cache, so the first read after a put
/// comes from the disk: right for uploads, which are seldom read at once;
/// `with_direct_io(None)` turns it off where values are read back at once.
///
/// # Composed objects
/// [`Store::compose`] never copies bytes: it hard-links the parts' files into
/// `segs/` (an object file is never changed in place, so a link pins the
/// exact version it saw) and publishes a small manifest in their place, a
/// header with its own magic followed by one 36-byte entry per extent. Reads
/// go through the manifest; replacing or deleting the object unlinks its
/// segments. A crash between those steps can leave unreferenced links, which
/// [`DirStore::collect_garbage`] removes. Where hard links are refused (some
/// network and FAT filesystems), compose falls back to copying.
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
/// Readers take no lock: a rename is atomic. Removing a directory that a
/// delete left empty takes a tree-wide lock exclusively, which puts hold
/// shared from creating their directories to the rename, so a put never
/// loses its directory to a concurrent delete.
///
/// # Permissions
/// On Unix every file the store creates (objects, temp files, manifests,
/// lock files, the marker) is created `0600` and every directory (the root
/// too, when the store creates it) `0700`, whatever the process umask
/// allows beyond that: values such as key hashes and uploads are nobody
/// else's to read, and nobody else can take the locks. Opening an existing
/// store takes group and other permissions off its `data`, `tmp`, `locks`
/// and `segs` directories. Files opened for writing or locking are opened
/// with `O_NOFOLLOW`: a symbolic link planted in their place makes the call
/// fail rather than write or lock elsewhere. Listing refuses a prefix with
/// a `.`, `..` or empty segment ([`Error::InvalidKey`]), as every backend
/// does, and never walks outside the store's directory.
///
/// # Blocking
/// Calls complete synchronously: the file I/O, `fsync`s and renames happen
/// inside the first poll of the future, on the polling thread. Wrap the store
/// in [`crate::Offload`] on an async runtime.
///
/// # Limits
/// Each key segment must fit a file name once escaped (254 bytes). Deleting
/// the last key under a directory removes the directory. The
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
    segs: PathBuf,
    /// Values of at least this many bytes are written with direct I/O.
    direct_min: Option<u64>,
    /// Cleared when the filesystem refuses direct I/O.
    direct_ok: AtomicBool,
}

static WRITE_COUNTER: AtomicU32 = AtomicU32::new(0);

impl DirStore {
    /// The default least value size written with direct I/O (1 MiB).
    pub const DEFAULT_DIRECT_MIN: u64 = 1 << 20;

    /// Opens (creating if needed) a store rooted at `root`.
    ///
    /// # Errors
    /// [`Error::Io`] if the store's directories cannot be created or its marker file read or
    /// written; [`Error::Corrupt`] if `root` holds a marker file of something else (another
    /// program's directory, or a store format this version does not read).
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        let store = DirStore {
            data: root.join("data"),
            tmp: root.join("tmp"),
            locks: root.join("locks"),
            segs: root.join("segs"),
            direct_min: Some(Self::DEFAULT_DIRECT_MIN),
            direct_ok: AtomicBool::new(cfg!(target_os = "linux")),
        };
        for d in [&store.data, &store.tmp, &store.locks, &store.segs] {
            create_dirs(d).map_err(|e| Error::io(format!("create {}", d.display()), e))?;
            // Stores made before files were private: their own four
            // directories become private too (best effort: not the owner
            // leaves them as they are), which hides every file below them.
            make_private_dir(d);
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
                // Written whole under a name of its own, then renamed: a
                // process opening the same new store at the same moment
                // reads no marker or all of it, never a half-written one.
                let tmp = store.tmp.join(format!("marker-{:032x}", new_version()));
                private_file()
                    .write(true)
                    .create_new(true)
                    .open(&tmp)
                    .and_then(|mut f| f.write_all(MARKER.as_bytes()).and_then(|()| f.sync_all()))
                    .and_then(|()| fs::rename(&tmp, &marker))
                    .map_err(|e| {
                        let _ = fs::remove_file(&tmp);
                        Error::io("write marker", e)
                    })?;
            }
            Err(e) => return Err(Error::io("read marker", e)),
        }
        store.clean_stale_temps();
        Ok(store)
    }

    /// Writes values of at least `min` bytes with direct I/O (`O_DIRECT`,
    /// Linux only; see the type's docs), or none with `None`. The default
    /// is [`Self::DEFAULT_DIRECT_MIN`]. Reading is the same either way, and a
    /// store holds both kinds of files.
    #[must_use]
    pub fn with_direct_io(mut self, min: Option<u64>) -> Self {
        self.direct_min = min;
        self
    }

    fn clean_stale_temps(&self) {
        let Ok(entries) = fs::read_dir(&self.tmp) else {
            return;
        };
        let now = SystemTime::now();
        for e in entries.flatten() {
            if is_stale(&e, now) {
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
        let f = self.lock_file(&format!("{stripe:02}"))?;
        f.lock().map_err(|e| Error::io("lock", e))?;
        Ok(f)
    }

    fn lock_file(&self, name: &str) -> Result<File> {
        let path = self.locks.join(name);
        private_file()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(format!("open lock {}", path.display()), e))
    }

    /// The directory-tree lock: a put holds it shared from creating the
    /// object's directories to renaming the object into them, and pruning
    /// empty directories holds it exclusively, so a prune never removes a
    /// directory a put has just made (across processes too, through `flock`).
    fn tree_lock(&self, exclusive: bool) -> Result<File> {
        let f = self.lock_file("tree")?;
        let res = if exclusive { f.lock() } else { f.lock_shared() };
        res.map_err(|e| Error::io("lock tree", e))?;
        Ok(f)
    }

    /// Where a write of `version` is prepared.
    fn temp_path(&self, version: u128) -> PathBuf {
        self.tmp.join(format!("{version:032x}"))
    }

    /// Writes a synced temp file of `chunks` under a fresh version's name.
    fn write_temp(&self, version: u128, chunks: &[&[u8]]) -> Result<PathBuf> {
        let path = self.temp_path(version);
        let mut f = private_file()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("create temp file", e))?;
        let res = chunks
            .iter()
            .try_for_each(|c| f.write_all(c))
            .and_then(|()| f.sync_all());
        if let Err(e) = res {
            let _ = fs::remove_file(&path);
            return Err(Error::io("write temp file", e));
        }
        Ok(path)
    }

    /// Writes a synced temp file holding `value` as an object of `version`:
    /// with direct I/O when the value is large enough and the filesystem
    /// takes it, through the page cache otherwise.
    fn write_value(&self, version: u128, value: &[u8]) -> Result<PathBuf> {
        let len = value.len() as u64;
        if self.direct_min.is_some_and(|min| len >= min) && self.direct_ok.load(Ordering::Relaxed) {
            let path = self.temp_path(version);
            match direct::write(&path, &header(*ALIGNED_MAGIC, version, len), value) {
                Ok(()) => return Ok(path),
                Err(e) => {
                    let _ = fs::remove_file(&path);
                    if !direct::refused(&e) {
                        return Err(Error::io("write temp file", e));
                    }
                    // This filesystem does not do direct I/O: never again.
                    self.direct_ok.store(false, Ordering::Relaxed);
                }
            }
        }
        if len >= ALIGNED_MIN {
            let head = header(*ALIGNED_MAGIC, version, len);
            return self.write_temp(version, &[&head, &PAD, value]);
        }
        self.write_temp(version, &[&header(*MAGIC, version, len), value])
    }

    fn seg_path(&self, composed: u128, link: u32) -> PathBuf {
        self.segs.join(format!("{composed:032x}.{link}"))
    }

    /// Removes `dir` and its ancestors below the data root while they are
    /// empty, so that per-upload or per-job prefixes leave no directories
    /// behind. Holds the tree lock exclusively (see [`Self::tree_lock`]), and
    /// takes it only when `dir` looks empty, so most deletes never wait.
    fn prune_empty(&self, mut dir: &Path) {
        let looks_empty = fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none());
        if !looks_empty || dir == self.data {
            return;
        }
        let Ok(_tree) = self.tree_lock(true) else {
            return;
        };
        while dir != self.data && dir.starts_with(&self.data) && fs::remove_dir(dir).is_ok() {
            match dir.parent() {
                Some(up) => dir = up,
                None => break,
            }
        }
    }

    /// Removes the segment links of a replaced or deleted composed object.
    fn unlink_segments(&self, composed: Option<(u128, Vec<Extent>)>) {
        if let Some((version, extents)) = composed {
            for e in extents {
                let _ = fs::remove_file(self.seg_path(version, e.link));
            }
        }
    }

    /// The manifest of the object at `path`, if it is a composed one
    /// (damaged or missing files count as not composed).
    fn composed_at(key: &Key, path: &Path) -> Option<(u128, Vec<Extent>)> {
        let (f, h) = open_object(key, path).ok()?;
        manifest_of(key, f, &h)
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
        // The deepest directory that exists already: the new entries are
        // below it, so it and the new directories are the ones to sync.
        let mut existing = parent;
        while !existing.is_dir() && existing != self.data {
            let Some(up) = existing.parent() else { break };
            existing = up;
        }
        create_dirs(parent).map_err(|e| Error::io("create directories", e))?;
        // Make every new directory entry durable (the parent's own entry
        // for the object is synced after the rename).
        let mut d = parent;
        while d != existing {
            let Some(up) = d.parent() else { break };
            Self::sync_dir(up)?;
            d = up;
        }
        Ok(())
    }

    fn publish(&self, key: &Key, path: &Path, tmp: &Path, mode: &PutMode) -> Result<()> {
        let lock = self.lock(key)?;
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
        let replaced = Self::composed_at(key, path);
        // No prune can remove the directories between their creation and
        // the rename into them.
        let tree = self.tree_lock(false)?;
        self.ensure_parent(path)?;
        fs::rename(tmp, path).map_err(|e| Error::io("rename temp file", e))?;
        drop(tree);
        Self::sync_dir(path.parent().expect("object paths have a parent"))?;
        drop(lock);
        self.unlink_segments(replaced);
        Ok(())
    }

    /// The extents of `part`, each pinned by a new link `segs/<version>.<n>`
    /// (numbered from `links`). `Ok(None)`: a link could not be made, copy
    /// instead.
    fn link_part(
        &self,
        version: u128,
        part: &ComposePart,
        links: &mut Vec<PathBuf>,
        out: &mut Vec<Extent>,
    ) -> Result<Option<()>> {
        let src = self.object_path(&part.key)?;
        let link = links.len() as u32;
        let dst = self.seg_path(version, link);
        match fs::hard_link(&src, &dst) {
            Ok(()) => links.push(dst.clone()),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return Err(Error::NotFound {
                    key: part.key.to_string(),
                });
            }
            Err(_) => return Ok(None),
        }
        // The link is the version we compose, whatever happens to the key now.
        let (mut f, h) = open_object(&part.key, &dst)?;
        let range = match &part.range {
            Some(r) => r.resolve(&part.key, h.len)?,
            None => 0..h.len,
        };
        if !h.composed && range.end > range.start {
            out.push(Extent {
                link,
                version: h.version,
                start: range.start,
                len: range.end - range.start,
            });
            return Ok(Some(()));
        }
        // An empty part needs no link; a composed one links its segments
        // instead of its manifest.
        let inner = if h.composed {
            read_extents(&part.key, &mut f, &h)?
        } else {
            Vec::new()
        };
        drop(f);
        let _ = fs::remove_file(&dst);
        links.pop();
        let mut at = 0u64;
        for e in inner {
            let (lo, hi) = (range.start.max(at), range.end.min(at + e.len));
            if lo < hi {
                let n = links.len() as u32;
                let dst = self.seg_path(version, n);
                // A missing segment means the part was replaced meanwhile.
                if fs::hard_link(self.seg_path(h.version, e.link), &dst).is_err() {
                    return Ok(None);
                }
                links.push(dst);
                out.push(Extent {
                    link: n,
                    version: e.version,
                    start: e.start + (lo - at),
                    len: hi - lo,
                });
            }
            at += e.len;
        }
        Ok(Some(()))
    }

    /// [`Store::compose`] by hard links; `Ok(None)` when it must copy.
    fn compose_linked(
        &self,
        target: &Key,
        parts: &[ComposePart],
        mode: &PutMode,
    ) -> Result<Option<u128>> {
        let path = self.object_path(target)?;
        let version = new_version();
        let mut links = Vec::new();
        let mut extents = Vec::new();
        let cleanup = |links: &[PathBuf]| {
            for l in links {
                let _ = fs::remove_file(l);
            }
        };
        for p in parts {
            match self.link_part(version, p, &mut links, &mut extents) {
                Ok(Some(())) => {}
                Ok(None) => {
                    cleanup(&links);
                    return Ok(None);
                }
                Err(e) => {
                    cleanup(&links);
                    return Err(e);
                }
            }
        }
        let len: u64 = extents.iter().map(|e| e.len).sum();
        let mut manifest = Vec::with_capacity(HEADER_LEN as usize + 4 + extents.len() * 36);
        manifest.extend_from_slice(&header(*COMPOSED_MAGIC, version, len));
        manifest.extend_from_slice(&(extents.len() as u32).to_le_bytes());
        for e in &extents {
            manifest.extend_from_slice(&e.link.to_le_bytes());
            manifest.extend_from_slice(&e.version.to_le_bytes());
            manifest.extend_from_slice(&e.start.to_le_bytes());
            manifest.extend_from_slice(&e.len.to_le_bytes());
        }
        let published = Self::sync_dir(&self.segs)
            .and_then(|()| self.write_temp(version, &[&manifest]))
            .and_then(|tmp| {
                self.publish(target, &path, &tmp, mode).inspect_err(|_| {
                    let _ = fs::remove_file(&tmp);
                })
            });
        match published {
            Ok(()) => Ok(Some(version)),
            Err(e) => {
                cleanup(&links);
                Err(e)
            }
        }
    }

    /// Reads `range` of a composed object into a buffer; `Ok(None)` when a
    /// segment vanished (the object was replaced meanwhile: read again).
    fn read_composed(
        &self,
        key: &Key,
        h: &Header,
        extents: &[Extent],
        range: &std::ops::Range<u64>,
    ) -> Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; (range.end - range.start) as usize];
        let mut at = 0u64;
        for e in extents {
            let (lo, hi) = (range.start.max(at), range.end.min(at + e.len));
            if lo < hi {
                let seg = self.seg_path(h.version, e.link);
                let (mut f, sh) = match open_object(key, &seg) {
                    Ok(x) => x,
                    Err(Error::NotFound { .. }) => return Ok(None),
                    Err(e) => return Err(e),
                };
                if sh.composed || sh.version != e.version || e.start + e.len > sh.len {
                    return Err(Error::Corrupt {
                        key: key.to_string(),
                        reason: "a segment is not the version its manifest names".into(),
                    });
                }
                let dst = &mut buf[(lo - range.start) as usize..(hi - range.start) as usize];
                f.seek(SeekFrom::Start(sh.data_at + e.start + (lo - at)))
                    .and_then(|_| f.read_exact(dst))
                    .map_err(|err| Error::io(format!("read {key}"), err))?;
            }
            at += e.len;
        }
        Ok(Some(buf))
    }

    /// Removes segment links that no composed object refers to (left by a
    /// crash between publishing a manifest and unlinking the segments it
    /// replaced, or in the middle of a compose). Links younger than an hour
    /// are kept, as they may belong to a compose in flight. Returns how many
    /// links were removed.
    ///
    /// # Errors
    /// An I/O error walking the directories.
    pub fn collect_garbage(&self) -> Result<usize> {
        let mut keys = Vec::new();
        Self::walk(&self.data, "", "", &mut keys, &ListOptions::new())?;
        let mut live = std::collections::HashSet::new();
        for k in keys {
            let key = Key::new(k)?;
            if let Some((v, extents)) = Self::composed_at(&key, &self.object_path(&key)?) {
                live.extend(extents.iter().map(|e| format!("{v:032x}.{}", e.link)));
            }
        }
        let entries = fs::read_dir(&self.segs).map_err(|e| Error::io("list segments", e))?;
        let now = SystemTime::now();
        let mut removed = 0;
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if is_stale(&e, now) && !live.contains(&name) && fs::remove_file(e.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
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
    /// Where the bytes start in the file.
    data_at: u64,
    /// A manifest of extents rather than the bytes themselves.
    composed: bool,
}

/// One run of a composed object: `len` bytes from `start` of the segment
/// linked as `segs/<manifest version>.<link>`, which holds `version`.
#[derive(Debug, Clone, Copy)]
struct Extent {
    link: u32,
    version: u128,
    start: u64,
    len: u64,
}

/// Options that create a file readable and writable by its owner only
/// (0600 on Unix, whatever the umask lets through of that) and refuse to
/// open a symbolic link at the path (`O_NOFOLLOW`), so nobody who could
/// plant a link makes a write or a lock land elsewhere.
fn private_file() -> OpenOptions {
    #[allow(unused_mut)]
    let mut o = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    o
}

/// Creates `dir` and its missing ancestors, each private to the owner
/// (0700 on Unix).
fn create_dirs(dir: &Path) -> std::io::Result<()> {
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Takes group and other permissions off `dir` (Unix; best effort).
fn make_private_dir(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = fs::symlink_metadata(dir)
            && m.is_dir()
            && m.permissions().mode() & 0o077 != 0
        {
            let _ = fs::set_permissions(
                dir,
                fs::Permissions::from_mode(m.permissions().mode() & 0o700),
            );
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Whether `path` is `root` or names an entry below it, reading the path
/// lexically: every component after `root` is a plain name (no `..`, no
/// `.`, no root or drive prefix).
fn stays_under(path: &Path, root: &Path) -> bool {
    path.strip_prefix(root).is_ok_and(|rest| {
        rest.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
    })
}

/// A temp file of a streamed put, removed when dropped while it holds its
/// path (the put failed, or its future was dropped mid-body).
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

/// Last modified more than [`STALE_TEMP`] before `now`.
fn is_stale(entry: &fs::DirEntry, now: SystemTime) -> bool {
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| now.duration_since(t).ok())
        .is_some_and(|age| age > STALE_TEMP)
}

fn new_version() -> u128 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = WRITE_COUNTER.fetch_add(1, Ordering::Relaxed);
    (u128::from(nanos) << 64) | (u128::from(std::process::id()) << 32) | u128::from(n)
}

/// The version and extents of an opened object, if it is a composed one
/// (a damaged manifest counts as not composed).
fn manifest_of(key: &Key, mut f: File, h: &Header) -> Option<(u128, Vec<Extent>)> {
    if !h.composed {
        return None;
    }
    Some((h.version, read_extents(key, &mut f, h).ok()?))
}

/// Reads the manifest of a composed object (`f` positioned after the header).
fn read_extents(key: &Key, f: &mut File, h: &Header) -> Result<Vec<Extent>> {
    let corrupt = |reason: &str| Error::Corrupt {
        key: key.to_string(),
        reason: reason.to_string(),
    };
    let mut rest = Vec::new();
    f.read_to_end(&mut rest)
        .map_err(|e| Error::io(format!("read {key}"), e))?;
    let (count, entries) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| corrupt("manifest without a count"))?;
    let count = u32::from_le_bytes(*count) as usize;
    if entries.len() as u64 != count as u64 * EXTENT_LEN {
        return Err(corrupt("manifest length does not match its count"));
    }
    let mut total = 0u64;
    let extents: Vec<Extent> = entries
        .chunks_exact(EXTENT_LEN as usize)
        .map(|c| Extent {
            link: u32::from_le_bytes(c[..4].try_into().expect("4 bytes")),
            version: u128::from_le_bytes(c[4..20].try_into().expect("16 bytes")),
            start: u64::from_le_bytes(c[20..28].try_into().expect("8 bytes")),
            len: u64::from_le_bytes(c[28..36].try_into().expect("8 bytes")),
        })
        .collect();
    for e in &extents {
        total = total
            .checked_add(e.len)
            .filter(|_| e.start.checked_add(e.len).is_some())
            .ok_or_else(|| corrupt("manifest extent overflows"))?;
    }
    if total != h.len {
        return Err(corrupt("manifest extents do not add up to its length"));
    }
    Ok(extents)
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
    let (composed, data_at) = match &h[..4] {
        m if m == MAGIC => (false, HEADER_LEN),
        m if m == ALIGNED_MAGIC => (false, DIRECT_AT),
        m if m == COMPOSED_MAGIC => (true, HEADER_LEN),
        _ => return Err(corrupt("bad magic")),
    };
    let header = Header {
        version: u128::from_le_bytes(h[4..20].try_into().expect("16 bytes")),
        len: u64::from_le_bytes(h[20..28].try_into().expect("8 bytes")),
        data_at,
        composed,
    };
    let file_len = f.metadata().map_err(|e| Error::io("stat", e))?.len();
    if !composed && Some(file_len) != data_at.checked_add(header.len) {
        return Err(corrupt(
            "length does not match header (torn or foreign file)",
        ));
    }
    Ok((f, header))
}

/// An object file's header: magic, version, length.
fn header(magic: [u8; 4], version: u128, len: u64) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..4].copy_from_slice(&magic);
    h[4..20].copy_from_slice(&version.to_le_bytes());
    h[20..28].copy_from_slice(&len.to_le_bytes());
    h
}

/// Direct-I/O writes of object files (Linux).
#[cfg(target_os = "linux")]
mod direct {
    use super::{BOUNCE, DIRECT_AT};
    use std::fs::{File, OpenOptions};
    use std::io::{self, ErrorKind, Write};
    use std::os::unix::fs::{FileExt, OpenOptionsExt};
    use std::path::Path;

    const ALIGN: usize = DIRECT_AT as usize;

    /// Creates `path` holding `header` at 0 and `value` at [`DIRECT_AT`],
    /// synced. The header goes through the page cache (later reads of it
    /// stay cheap), the value's blocks with `O_DIRECT`.
    pub(super) fn write(path: &Path, header: &[u8], value: &[u8]) -> io::Result<()> {
        #[cfg(test)]
        {
            super::tests::DIRECT_TRIES.with(|n| n.set(n.get() + 1));
            if super::tests::REFUSE_DIRECT.with(std::cell::Cell::get) {
                return Err(io::Error::from(ErrorKind::InvalidInput));
            }
        }
        let mut head = super::private_file()
            .write(true)
            .create_new(true)
            .open(path)?;
        head.write_all(header)?;
        let body = OpenOptions::new()
            .write(true)
            .custom_flags((rustix::fs::OFlags::DIRECT | rustix::fs::OFlags::NOFOLLOW).bits() as i32)
            .open(path)?;
        let whole = value.len() / ALIGN * ALIGN;
        let (blocks, tail) = value.split_at(whole);
        let mut at = DIRECT_AT;
        if blocks.as_ptr().align_offset(ALIGN) == 0 {
            write_aligned(&body, blocks, at)?;
            at += whole as u64;
        } else {
            let mut bounce = Aligned::new(BOUNCE.min(whole));
            for chunk in blocks.chunks(BOUNCE) {
                let buf = &mut bounce.as_mut()[..chunk.len()];
                buf.copy_from_slice(chunk);
                write_aligned(&body, buf, at)?;
                at += chunk.len() as u64;
            }
        }
        if !tail.is_empty() {
            // The last partial block, zero-padded (cut to length below).
            let mut last = Aligned::new(ALIGN);
            last.as_mut()[..tail.len()].copy_from_slice(tail);
            write_aligned(&body, last.as_mut(), at)?;
        }
        body.set_len(at + tail.len() as u64)?;
        // One fsync covers the inode: the header's page and the metadata.
        body.sync_all()?;
        drop(head);
        Ok(())
    }

    /// Writes all of `buf` (aligned memory, whole blocks) at `at`.
    fn write_aligned(f: &File, mut buf: &[u8], mut at: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match f.write_at(buf, at) {
                Ok(0) => return Err(io::Error::new(ErrorKind::WriteZero, "direct write")),
                // A short write (a full disk) that ends off a block boundary
                // cannot go on with direct I/O; the put fails as a buffered
                // one would.
                Ok(n) if n % ALIGN != 0 => {
                    return Err(io::Error::other("short direct write"));
                }
                Ok(n) => {
                    buf = &buf[n..];
                    at += n as u64;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Whether `e` says the filesystem or device refuses direct I/O (or
    /// its alignment), rather than a real write failure.
    pub(super) fn refused(e: &io::Error) -> bool {
        e.kind() == ErrorKind::InvalidInput
    }

    /// A zeroed buffer whose usable part starts on an [`ALIGN`] boundary.
    struct Aligned {
        buf: Vec<u8>,
        at: usize,
        len: usize,
    }

    impl Aligned {
        fn new(len: usize) -> Self {
            let buf = vec![0u8; len + ALIGN];
            let at = buf.as_ptr().align_offset(ALIGN);
            Aligned { buf, at, len }
        }

        fn as_mut(&mut self) -> &mut [u8] {
            &mut self.buf[self.at..self.at + self.len]
        }
    }
}

/// Without direct I/O every write is buffered.
#[cfg(not(target_os = "linux"))]
mod direct {
    use std::io;
    use std::path::Path;

    pub(super) fn write(_: &Path, _: &[u8], _: &[u8]) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }

    pub(super) fn refused(_: &io::Error) -> bool {
        true
    }
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
        for _ in 0..READ_ATTEMPTS {
            let (mut f, h) = open_object(key, &path)?;
            let range = match &options.range {
                Some(r) => r.resolve(key, h.len)?,
                None => 0..h.len,
            };
            let buf = if h.composed {
                let extents = read_extents(key, &mut f, &h)?;
                match self.read_composed(key, &h, &extents, &range)? {
                    Some(buf) => buf,
                    None => continue, // replaced while we read: again
                }
            } else {
                // Read into spare capacity: no zero-filling first.
                let n = range.end - range.start;
                let mut buf = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
                f.seek(SeekFrom::Start(h.data_at + range.start))
                    .and_then(|_| (&mut f).take(n).read_to_end(&mut buf))
                    .map_err(|e| Error::io(format!("read {key}"), e))?;
                if buf.len() as u64 != n {
                    return Err(Error::Corrupt {
                        key: key.to_string(),
                        reason: "file shorter than its header says".into(),
                    });
                }
                buf
            };
            return Ok(GetResult {
                meta: ObjectMeta {
                    key: key.clone(),
                    size: h.len,
                    version: version_of(h.version),
                },
                range,
                data: Bytes::from(buf),
            });
        }
        Err(Error::Corrupt {
            key: key.to_string(),
            reason: "a segment of the composed object is missing".into(),
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
        let version = new_version();
        let tmp = self.write_value(version, &value)?;
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

    /// Reads from the open file, which keeps the version it opened even if
    /// the object is replaced or deleted meanwhile (composed objects read
    /// window by window, see [`crate::get_stream_by_ranges`]).
    async fn get_stream(&self, key: &Key, options: GetOptions) -> Result<GetStream<'_>> {
        let path = self.object_path(key)?;
        let (mut f, h) = open_object(key, &path)?;
        if h.composed {
            drop(f);
            return get_stream_by_ranges(self, key, options).await;
        }
        let range = match &options.range {
            Some(r) => r.resolve(key, h.len)?,
            None => 0..h.len,
        };
        f.seek(SeekFrom::Start(h.data_at + range.start))
            .map_err(|e| Error::io(format!("read {key}"), e))?;
        let mut left = range.end - range.start;
        let name = key.to_string();
        let body = PollStream(move |_: &mut std::task::Context<'_>| {
            if left == 0 {
                return std::task::Poll::Ready(None);
            }
            let n = left.min(FILE_CHUNK);
            let mut buf = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
            let res = match (&mut f).take(n).read_to_end(&mut buf) {
                Ok(got) if got as u64 == n => {
                    left -= n;
                    Ok(Bytes::from(buf))
                }
                Ok(_) => {
                    left = 0;
                    Err(Error::Corrupt {
                        key: name.clone(),
                        reason: "file shorter than its header says".into(),
                    })
                }
                Err(e) => {
                    left = 0;
                    Err(Error::io(format!("read {name}"), e))
                }
            };
            std::task::Poll::Ready(Some(res))
        });
        Ok(GetStream {
            meta: ObjectMeta {
                key: key.clone(),
                size: h.len,
                version: version_of(h.version),
            },
            range,
            body: Box::pin(body),
        })
    }

    /// Writes the body into a temp file, then publishes it like
    /// [`Store::put`]: memory use is one chunk of the body.
    async fn put_stream(
        &self,
        key: &Key,
        mut body: ByteStream<'_>,
        options: PutOptions,
    ) -> Result<PutResult> {
        let path = self.object_path(key)?;
        let version = new_version();
        let tmp = self.temp_path(version);
        let mut f = private_file()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io("create temp file", e))?;
        // Ours from here: removed on any error, and when the caller drops
        // this future mid-body, unless it was published.
        let mut scratch = TempFile(Some(tmp.clone()));
        let io = |e| Error::io("write temp file", e);
        let written: Result<()> = async {
            f.write_all(&header(*MAGIC, version, 0)).map_err(io)?;
            let mut len = 0u64;
            while let Some(chunk) = next(&mut body).await {
                let chunk = chunk?;
                f.write_all(&chunk).map_err(io)?;
                len += chunk.len() as u64;
            }
            f.seek(SeekFrom::Start(0)).map_err(io)?;
            f.write_all(&header(*MAGIC, version, len)).map_err(io)?;
            f.sync_all().map_err(io)
        }
        .await;
        drop(f);
        written.and_then(|()| self.publish(key, &path, &tmp, &options.mode))?;
        scratch.0 = None;
        Ok(PutResult {
            version: version_of(version),
        })
    }

    async fn delete(&self, key: &Key) -> Result<()> {
        let path = self.object_path(key)?;
        let lock = self.lock(key)?;
        let composed = Self::composed_at(key, &path);
        match fs::remove_file(&path) {
            Ok(()) => Self::sync_dir(path.parent().expect("object paths have a parent"))?,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(format!("delete {key}"), e)),
        }
        drop(lock);
        self.unlink_segments(composed);
        self.prune_empty(path.parent().expect("object paths have a parent"));
        Ok(())
    }

    async fn compose(
        &self,
        target: &Key,
        parts: &[ComposePart],
        options: PutOptions,
    ) -> Result<PutResult> {
        match self.compose_linked(target, parts, &options.mode)? {
            Some(version) => Ok(PutResult {
                version: version_of(version),
            }),
            None => compose_by_copy(self, target, parts, options).await,
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
        // `validate` refused `.`, `..` and empty segments; this makes sure
        // no other spelling leaves the data directory either.
        if !stays_under(&dir, &self.data) {
            return Err(Error::InvalidKey {
                key: options.prefix.chars().take(64).collect(),
                reason: "prefix leaves the store's directory (DirStore)",
            });
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

    thread_local! {
        /// Makes direct writes on this thread fail as on a filesystem
        /// without `O_DIRECT`.
        pub(super) static REFUSE_DIRECT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
        /// Direct writes tried on this thread.
        pub(super) static DIRECT_TRIES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// A filesystem that refuses direct I/O gets buffered writes, from the
    /// refused one on, with the same bytes.
    #[cfg(target_os = "linux")]
    #[test]
    fn refused_direct_io_falls_back_to_buffered_writes() {
        use crate::StoreExt;
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path()).unwrap();
        let data: Vec<u8> = (0..(3 << 20) + 5).map(|i| (i % 251) as u8).collect();
        let tries = || DIRECT_TRIES.with(std::cell::Cell::get);
        let start = tries();
        let key = Key::new("big/one").unwrap();
        store.blocking().put(&key, data.clone()).unwrap();
        assert_eq!(tries() - start, 1, "a large value is written direct");
        REFUSE_DIRECT.with(|r| r.set(true));
        let two = Key::new("big/two").unwrap();
        store.blocking().put(&two, data.clone()).unwrap();
        REFUSE_DIRECT.with(|r| r.set(false));
        assert_eq!(tries() - start, 2);
        assert!(!store.direct_ok.load(Ordering::Relaxed), "refused: off");
        let three = Key::new("big/three").unwrap();
        store.blocking().put(&three, data.clone()).unwrap();
        assert_eq!(tries() - start, 2, "not tried again");
        for k in [key, two, three] {
            assert_eq!(store.blocking().get(&k).unwrap().data, data);
        }
        assert_eq!(
            fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0,
            "no temp left"
        );
    }

    #[test]
    fn stays_under_reads_paths_lexically() {
        let root = Path::new("/srv/store/data");
        assert!(stays_under(root, root));
        assert!(stays_under(&root.join("a/b"), root));
        assert!(stays_under(&root.join("..."), root));
        // (`.` components are dropped when a path is read: still inside.)
        assert!(stays_under(&root.join("a/./b"), root));
        for out in ["..", "a/../..", "a/b/../../.."] {
            assert!(!stays_under(&root.join(out), root), "{out}");
        }
        assert!(!stays_under(Path::new("/srv/store"), root));
        assert!(!stays_under(Path::new("/srv/store/data2"), root));
    }

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
