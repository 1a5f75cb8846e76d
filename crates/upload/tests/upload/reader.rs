//! Uploading from a file, one part at a time.

use crate::noise;
use blocksmith_store::{
    Capabilities, DirStore, GetOptions, GetResult, Key, ListOptions, ListPage, MemoryStore,
    ObjectMeta, PutOptions, PutResult, Store, StoreExt, block_on,
};
use blocksmith_upload::client::{Reader, Uploader};
use blocksmith_upload::{Algorithm, CreateOptions, Error, UploadOptions, Uploads};
use bytes::Bytes;
use std::io::Write;
use std::sync::Mutex;

/// Keeps a copy of every put value and records where the caller's buffer was.
struct Copying {
    inner: MemoryStore,
    part_ptrs: Mutex<Vec<usize>>,
}

impl Store for Copying {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn get(&self, key: &Key, options: GetOptions) -> blocksmith_store::Result<GetResult> {
        self.inner.get(key, options).await
    }
    async fn head(&self, key: &Key) -> blocksmith_store::Result<ObjectMeta> {
        self.inner.head(key).await
    }
    async fn put(
        &self,
        key: &Key,
        value: Bytes,
        options: PutOptions,
    ) -> blocksmith_store::Result<PutResult> {
        if key.as_str().contains("/parts/") {
            self.part_ptrs.lock().unwrap().push(value.as_ptr() as usize);
        }
        let copy = Bytes::copy_from_slice(&value);
        drop(value);
        self.inner.put(key, copy, options).await
    }
    async fn delete(&self, key: &Key) -> blocksmith_store::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, options: ListOptions) -> blocksmith_store::Result<ListPage> {
        self.inner.list(options).await
    }
}

/// Parts down to one byte, so tests stay small.
fn small_parts() -> UploadOptions {
    UploadOptions::default().with_part_size(1, 1 << 30)
}

#[test]
fn a_file_uploads_part_by_part_into_one_reused_buffer() {
    let data = noise(10_500, 3);
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&data).unwrap();
    let store = Copying {
        inner: MemoryStore::new(),
        part_ptrs: Mutex::new(Vec::new()),
    };
    let uploads = Uploads::with_options(&store, small_parts());
    let out = block_on(Uploader::default().with_part_size(1000).upload_reader(
        &uploads,
        file,
        CreateOptions::default().with_target("files/a"),
    ))
    .unwrap();
    assert_eq!(out.parts_sent, 11);
    let stored = store
        .blocking()
        .get(&Key::new("files/a").unwrap())
        .unwrap()
        .data;
    assert_eq!(stored, data);
    // The store let go of every part, so each was read into the same memory.
    let ptrs = store.part_ptrs.lock().unwrap().clone();
    assert_eq!(ptrs.len(), 11);
    assert!(ptrs.iter().all(|&p| p == ptrs[0]), "{ptrs:?}");
}

#[test]
fn an_interrupted_file_upload_resumes_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let data = noise(25_000, 4);
    std::fs::write(&path, &data).unwrap();
    let store = DirStore::open(dir.path().join("store")).unwrap();
    let uploads = Uploads::with_options(&store, small_parts());
    let create = || {
        CreateOptions::default()
            .with_id("resume-me")
            .with_target("files/big")
    };
    let up = Uploader::default().with_part_size(4096);
    // First run: stop after two parts, as a killed client would.
    let reader = Reader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let first =
        block_on(up.upload_source_with(&uploads, reader, create(), |p| p.parts_sent < 2)).unwrap();
    assert_eq!((first.parts_sent, first.published), (2, None));
    // A fresh client with the same file sends only the rest.
    let second =
        block_on(up.upload_reader(&uploads, std::fs::File::open(&path).unwrap(), create()))
            .unwrap();
    assert!(second.resumed);
    assert_eq!(second.already_received, 2 * 4096);
    assert_eq!(second.bytes_sent, 25_000 - 2 * 4096);
    let stored = store
        .blocking()
        .get(&Key::new("files/big").unwrap())
        .unwrap()
        .data;
    assert_eq!(stored, data);
}

#[test]
fn a_file_that_shrinks_mid_upload_is_an_error_not_a_short_object() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    std::fs::write(&path, noise(5_000, 5)).unwrap();
    let reader = Reader::new(std::fs::File::open(&path).unwrap()).unwrap();
    // The file is cut after its length was taken.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(2_500)
        .unwrap();
    let store = MemoryStore::new();
    let uploads = Uploads::with_options(&store, small_parts());
    let r = block_on(Uploader::default().with_part_size(1000).upload_source_with(
        &uploads,
        reader,
        CreateOptions::default().with_target("files/f"),
        |_| true,
    ));
    assert!(matches!(r, Err(Error::Source(_))), "{r:?}");
    assert!(store.blocking().get(&Key::new("files/f").unwrap()).is_err());
}

/// Parts of a megabyte and more are read into page-aligned mapped memory,
/// reused when the store lets go, and never reused while a store holds it.
#[test]
fn large_parts_use_aligned_mapped_buffers_reused_only_when_free() {
    use blocksmith_upload::client::MAPPED_MIN;
    let part = MAPPED_MIN as usize;
    let data = noise(3 * part + 12_345, 6);
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&data).unwrap();
    let copying = Copying {
        inner: MemoryStore::new(),
        part_ptrs: Mutex::new(Vec::new()),
    };
    let up = Uploader::default().with_part_size(part as u64);
    let target = || CreateOptions::default().with_target("files/m");
    let uploads = Uploads::with_options(&copying, small_parts());
    block_on(up.upload_reader(&uploads, file.try_clone().unwrap(), target())).unwrap();
    let stored = copying
        .blocking()
        .get(&Key::new("files/m").unwrap())
        .unwrap();
    assert_eq!(stored.data, data);
    let ptrs = copying.part_ptrs.lock().unwrap().clone();
    assert_eq!(ptrs.len(), 4);
    // The three whole parts share one buffer; the short last one (below
    // the mapped size) comes from the heap.
    assert!(
        ptrs[..3].iter().all(|&p| p == ptrs[0] && p % 4096 == 0),
        "{ptrs:?}"
    );
    // A store that keeps the parts keeps their buffers: nothing overwritten.
    let memory = MemoryStore::new();
    let uploads = Uploads::with_options(&memory, small_parts());
    block_on(up.upload_reader(&uploads, file, target())).unwrap();
    assert_eq!(
        memory
            .blocking()
            .get(&Key::new("files/m").unwrap())
            .unwrap()
            .data,
        data
    );
}

/// Whether the mapping holding `addr` carries the huge-page advice (`hg`
/// in `/proc/self/smaps`).
#[cfg(target_os = "linux")]
fn huge_page_advised(addr: usize) -> Option<bool> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut inside = false;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-')
            && let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
        {
            inside = (a..b).contains(&addr);
        } else if inside && let Some(flags) = line.strip_prefix("VmFlags:") {
            return Some(flags.split_whitespace().any(|f| f == "hg"));
        }
    }
    None
}

#[cfg(target_os = "linux")]
#[test]
fn mapped_part_buffers_ask_for_huge_pages() {
    use blocksmith_upload::client::Source;
    let data = noise(4 << 20, 7);
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&data).unwrap();
    let mut reader = Reader::new(file).unwrap();
    let part = reader.read(0..4 << 20).unwrap();
    assert_eq!(part, data);
    let small = reader.read(0..1000).unwrap();
    assert_eq!(small, data[..1000]);
    let thp =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    if !thp.is_empty() && !thp.contains("[never]") {
        assert_eq!(huge_page_advised(part.as_ptr() as usize), Some(true));
        assert_ne!(huge_page_advised(small.as_ptr() as usize), Some(true));
    }
}

#[test]
fn a_file_that_shrinks_inside_a_mapped_part_is_an_error() {
    use blocksmith_upload::client::Source;
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(&noise(3 << 20, 8)).unwrap();
    let mut reader = Reader::new(std::fs::File::open(file.path()).unwrap()).unwrap();
    file.as_file().set_len(2 << 20).unwrap();
    let r = reader.read(1 << 20..3 << 20);
    match r {
        Err(Error::Source(e)) => assert!(e.to_string().contains("ended at 2097152"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stream_uploads_in_order_into_one_reused_buffer_and_cannot_resume() {
    let data = noise(10_500, 5);
    let store = Copying {
        inner: MemoryStore::new(),
        part_ptrs: Mutex::new(Vec::new()),
    };
    let uploads = Uploads::with_options(&store, small_parts());
    let up = Uploader::default().with_part_size(1000);
    let mut seen = Vec::new();
    let out = block_on(
        up.upload_stream(
            &uploads,
            std::io::Cursor::new(data.clone()),
            CreateOptions::deferred()
                .with_id("piped")
                .with_target("files/piped"),
            |p| {
                seen.push(p.received);
                true
            },
        ),
    )
    .unwrap();
    assert_eq!(out.parts_sent, 11);
    assert_eq!(seen.last(), Some(&10_500));
    assert_eq!(out.published.unwrap().size, 10_500);
    let key = Key::new("files/piped").unwrap();
    assert_eq!(
        &store.inner.blocking().get(&key).unwrap().data[..],
        &data[..]
    );
    // The store copied every part, so the stream's buffer was reused.
    let ptrs = store.part_ptrs.lock().unwrap().clone();
    assert!(ptrs.windows(2).all(|w| w[0] == w[1]), "{ptrs:?}");
    // A session that already holds bytes cannot be continued from a stream.
    let stopped = block_on(up.upload_stream(
        &uploads,
        std::io::Cursor::new(data.clone()),
        CreateOptions::deferred().with_id("cut"),
        |p| p.parts_sent < 2,
    ))
    .unwrap();
    assert!(stopped.published.is_none());
    let again = block_on(up.upload_stream(
        &uploads,
        std::io::Cursor::new(data),
        CreateOptions::deferred().with_id("cut"),
        |_| true,
    ));
    assert!(
        matches!(again, Err(Error::InvalidState { .. })),
        "{again:?}"
    );
}

/// `blocksmith upload put` hashes the file, names the session after the
/// digest, then reads the file again to send it. A file changed in between
/// is caught at finalize (the expected digest), but the wrong parts must not
/// stay: the next run with the file as it was hashed resumes the same
/// session id and has to be able to complete it.
#[test]
fn a_session_that_failed_its_digest_can_be_completed_by_the_right_bytes() {
    let hashed = noise(10_500, 7);
    let mut changed = hashed.to_vec();
    changed[6_000] ^= 1;
    let store = MemoryStore::new();
    let uploads = Uploads::with_options(&store, small_parts());
    let up = Uploader::default().with_part_size(1000);
    let create = || {
        CreateOptions::default()
            .with_id("put-abc")
            .with_target("files/report")
            .with_expected(Algorithm::Sha256.digest(&hashed))
    };
    let first = block_on(up.upload_reader(&uploads, std::io::Cursor::new(changed), create()));
    assert!(
        matches!(first, Err(Error::ChecksumMismatch { what: "upload", .. })),
        "{first:?}"
    );
    let again =
        block_on(up.upload_reader(&uploads, std::io::Cursor::new(hashed.clone()), create()));
    let again = again.unwrap();
    assert_eq!(again.published.unwrap().size, hashed.len() as u64);
    let key = Key::new("files/report").unwrap();
    assert_eq!(&store.blocking().get(&key).unwrap().data[..], &hashed[..]);
}

/// A file that changed between two runs (same length) is refused on resume,
/// never published half old and half new.
#[test]
fn resuming_from_a_changed_file_is_refused() {
    let old = noise(10_500, 11).to_vec();
    let mut new = old.clone();
    new[1_500] ^= 0x40; // inside the first run's parts
    let store = MemoryStore::new();
    let uploads = Uploads::with_options(&store, small_parts());
    let up = Uploader::default().with_part_size(1000);
    let create = || {
        CreateOptions::default()
            .with_id("changing")
            .with_target("files/changing")
    };
    let first = block_on(up.upload_reader_with(
        &uploads,
        std::io::Cursor::new(old.clone()),
        create(),
        |p| p.parts_sent < 3,
    ))
    .unwrap();
    assert!(first.published.is_none());
    let second = block_on(up.upload_reader(&uploads, std::io::Cursor::new(new), create()));
    assert!(
        matches!(&second, Err(Error::SourceChanged { id, range }) if id == "changing" && range.contains(&1_500)),
        "{second:?}"
    );
    // The unchanged file resumes and completes.
    let third =
        block_on(up.upload_reader(&uploads, std::io::Cursor::new(old.clone()), create())).unwrap();
    assert!(third.resumed);
    assert_eq!(third.bytes_sent, 10_500 - 3_000);
    let key = Key::new("files/changing").unwrap();
    assert_eq!(&store.blocking().get(&key).unwrap().data[..], &old[..]);
}
