//! Uploading from a file, one part at a time.

use crate::noise;
use blocksmith_store::{
    Capabilities, DirStore, GetOptions, GetResult, Key, ListOptions, ListPage, MemoryStore,
    ObjectMeta, PutOptions, PutResult, Store, StoreExt, block_on,
};
use blocksmith_upload::client::{Reader, Uploader};
use blocksmith_upload::{CreateOptions, Error, UploadOptions, Uploads};
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
