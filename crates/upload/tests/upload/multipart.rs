//! Sessions on a store with multipart uploads (the `object_store` adapter
//! over `InMemory`, and the live S3 server when `BLOCKSMITH_S3_ENDPOINT` is
//! set): aligned parts go straight into the upload, odd ones are joined at
//! finalize, one completion publishes, another engine can finish what one
//! began, abort and expiry drop the upload, and a crash at any store
//! operation is resumed.

use crate::noise;
use blocksmith_store::testing::{CrashTest, Fault};
use blocksmith_store::{
    Bytes, Capabilities, ComposePart, GetOptions, GetResult, Key, ListOptions, ListPage,
    MultipartId, MultipartLimits, ObjectMeta, ObjectStoreAdapter, PartId, PutOptions, PutResult,
    Store, StoreExt, block_on,
};
use blocksmith_upload::client::Uploader;
use blocksmith_upload::{
    Algorithm, CreateOptions, Error, SessionState, UploadOptions, Uploads, Verify,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The multipart part size of these tests (the store's minimum is lower).
pub(crate) const S: u64 = 4096;

/// An adapter over `bucket` with multipart uploads of parts from 1 KiB.
pub(crate) fn adapter(bucket: &Arc<object_store::memory::InMemory>) -> ObjectStoreAdapter {
    ObjectStoreAdapter::new(bucket.clone())
        .unwrap()
        .with_multipart(bucket.clone())
        .with_capabilities(Capabilities::FULL.with_multipart(Some(MultipartLimits::new(
            1024,
            1 << 30,
            10_000,
        ))))
}

pub(crate) fn options() -> UploadOptions {
    UploadOptions::default()
        .with_part_size(1, 1 << 30)
        .with_max_image_bytes(1024)
        .with_multipart_part_size(S)
}

/// Whether a key is one of the engine's session records (not counted).
fn record(key: &Key) -> bool {
    key.as_str().starts_with("uploads/sessions/")
}

/// A store wrapper that counts the bytes read and written through it,
/// session records aside.
struct Metered<S> {
    inner: S,
    read: AtomicU64,
    written: AtomicU64,
    parts: AtomicU64,
}

impl<S> Metered<S> {
    fn new(inner: S) -> Self {
        Metered {
            inner,
            read: AtomicU64::new(0),
            written: AtomicU64::new(0),
            parts: AtomicU64::new(0),
        }
    }
    /// Bytes read, written by puts, and sent as multipart parts so far.
    fn counts(&self) -> (u64, u64, u64) {
        (
            self.read.load(Ordering::SeqCst),
            self.written.load(Ordering::SeqCst),
            self.parts.load(Ordering::SeqCst),
        )
    }
}

impl<S: Store> Store for Metered<S> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn get(&self, key: &Key, options: GetOptions) -> blocksmith_store::Result<GetResult> {
        let r = self.inner.get(key, options).await?;
        if !record(key) {
            self.read.fetch_add(r.data.len() as u64, Ordering::SeqCst);
        }
        Ok(r)
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
        if !record(key) {
            self.written.fetch_add(value.len() as u64, Ordering::SeqCst);
        }
        self.inner.put(key, value, options).await
    }
    async fn delete(&self, key: &Key) -> blocksmith_store::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, options: ListOptions) -> blocksmith_store::Result<ListPage> {
        self.inner.list(options).await
    }
    /// The inner store's compose: where it is a server-side copy (a
    /// staged upload published to its target), no byte passes through the
    /// client, so none is counted.
    async fn compose(
        &self,
        target: &Key,
        parts: &[ComposePart],
        options: PutOptions,
    ) -> blocksmith_store::Result<PutResult> {
        self.inner.compose(target, parts, options).await
    }
    async fn create_multipart(&self, key: &Key) -> blocksmith_store::Result<MultipartId> {
        self.inner.create_multipart(key).await
    }
    async fn put_part(
        &self,
        key: &Key,
        upload: &MultipartId,
        number: u32,
        data: Bytes,
    ) -> blocksmith_store::Result<PartId> {
        self.parts.fetch_add(data.len() as u64, Ordering::SeqCst);
        self.inner.put_part(key, upload, number, data).await
    }
    async fn complete_multipart(
        &self,
        key: &Key,
        upload: &MultipartId,
        parts: &[PartId],
    ) -> blocksmith_store::Result<PutResult> {
        self.inner.complete_multipart(key, upload, parts).await
    }
    async fn abort_multipart(
        &self,
        key: &Key,
        upload: &MultipartId,
    ) -> blocksmith_store::Result<()> {
        self.inner.abort_multipart(key, upload).await
    }
}

pub(crate) fn object<S: Store>(store: &S, key: &str) -> Bytes {
    store.blocking().get(&Key::new(key).unwrap()).unwrap().data
}

pub(crate) fn part_names<S: Store>(store: &S, id: &str) -> Vec<(String, u64)> {
    store
        .blocking()
        .list_all(&format!("uploads/parts/{id}/"))
        .unwrap()
        .into_iter()
        .map(|m| {
            (
                m.key.as_str().rsplit('/').next().unwrap().to_string(),
                m.size,
            )
        })
        .collect()
}

/// The key a session's multipart upload is at: its staging key (a
/// create-only custom target) or its target.
pub(crate) fn upload_at(s: &blocksmith_upload::Session) -> String {
    let mp = s.multipart.as_ref().expect("a multipart session");
    mp.staging.clone().unwrap_or_else(|| s.target.clone())
}

/// Sends `file[from..to]` as a part of session `id`.
pub(crate) fn send_to<S: Store>(up: &Uploads<S>, id: &str, file: &Bytes, from: u64, to: u64) {
    block_on(up.put_part(id, from, file.slice(from as usize..to as usize), None)).unwrap();
}

/// Whether the store still has the multipart upload `upload` of `target`.
fn upload_exists<S: Store>(store: &S, target: &str, upload: &MultipartId) -> bool {
    // Part numbers past the slots of any test: sending one does not disturb
    // the upload's own parts.
    match store
        .blocking()
        .put_part(&Key::new(target).unwrap(), upload, 9_999, "probe")
    {
        Ok(_) => true,
        Err(blocksmith_store::Error::NotFound { .. }) => false,
        Err(e) => panic!("probing the upload: {e}"),
    }
}

#[test]
fn aligned_parts_go_straight_into_the_upload_and_another_engine_completes_it() {
    let bucket = Arc::new(object_store::memory::InMemory::new());
    let first = Metered::new(adapter(&bucket));
    let up = Uploads::with_options(&first, options());
    let length = 5 * S + 100;
    let file = noise(length as usize, 11);
    let opened =
        block_on(up.create(CreateOptions::new(length).with_target("media/a.bin"))).unwrap();
    let session = opened.session;
    let mp = session.multipart.clone().expect("a multipart upload");
    assert_eq!(mp.part_size, S);
    assert_eq!(session.multipart_part_size(), Some(S));
    // Out of order; the last one short.
    for k in [3u64, 0, 5, 1] {
        let range = k * S..((k + 1) * S).min(length);
        let part = file.slice(range.start as usize..range.end as usize);
        block_on(up.put_part(&session.id, range.start, part, None)).unwrap();
    }
    // A retried part is accepted again: sent into the upload again under
    // its number (what the upload holds is then what its marker names),
    // and still one marker.
    block_on(up.put_part(&session.id, 0, file.slice(..S as usize), None)).unwrap();
    let st = block_on(up.status(&session.id)).unwrap();
    assert_eq!(st.missing, vec![2 * S..3 * S, 4 * S..5 * S]);
    assert_eq!((st.offset, st.received), (2 * S, 3 * S + 100));
    // Markers only: empty objects naming the parts, every byte in the upload.
    let names = part_names(&first, &session.id);
    assert_eq!(names.len(), 4);
    assert!(
        names.iter().all(|(n, size)| n.contains("-m") && *size == 0),
        "{names:?}"
    );
    let (read, written, sent) = first.counts();
    assert_eq!(
        (read, written),
        (0, 0),
        "no part bytes stored as objects or read"
    );
    assert_eq!(sent, 4 * S + 100, "the retry was sent again");
    assert!(matches!(
        block_on(up.finalize(&session.id)),
        Err(Error::Incomplete { missing, .. }) if missing == 2 * S
    ));

    // Another process: a new adapter over the same bucket, a new engine.
    let second = Metered::new(adapter(&bucket));
    let other = Uploads::with_options(&second, options());
    for k in [4u64, 2] {
        let part = file.slice((k * S) as usize..((k + 1) * S) as usize);
        block_on(other.put_part(&session.id, k * S, part, None)).unwrap();
    }
    let published = block_on(other.finalize(&session.id)).unwrap();
    // Only the first bytes were read back, for the content type.
    let (read, written, sent) = second.counts();
    assert!(read <= 64, "finalize read {read} bytes back");
    assert_eq!((written, sent), (0, 2 * S));
    assert_eq!(object(&second, "media/a.bin"), file);
    assert_eq!(published.size, length);
    assert_eq!(published.checksum, Algorithm::Crc32c.digest(&file));
    assert_eq!(published.content_type, "application/octet-stream");
    assert!(part_names(&second, &session.id).is_empty());
    assert!(!upload_exists(&second, "media/a.bin", &mp.upload));
    // Idempotent.
    assert_eq!(block_on(up.finalize(&session.id)).unwrap(), published);
}

/// A tus client sending odd chunk sizes: its parts are stored as they come,
/// and finalize joins them into multipart parts, reading back only those
/// bytes.
#[test]
fn odd_parts_are_joined_at_finalize_reading_back_only_them() {
    let bucket = Arc::new(object_store::memory::InMemory::new());
    let store = Metered::new(adapter(&bucket));
    let up = Uploads::with_options(&store, options());
    let length = 6 * S + 77;
    let file = noise(length as usize, 12);
    let id = block_on(up.create(CreateOptions::new(length).with_target("media/b.bin")))
        .unwrap()
        .session
        .id;
    let send = |from: u64, to: u64| {
        block_on(up.put_part(&id, from, file.slice(from as usize..to as usize), None)).unwrap();
    };
    // Slots 0 and 2 aligned; slot 1 in two pieces; slots 3.. in odd pieces
    // that straddle slot boundaries, out of order.
    send(2 * S, 3 * S);
    send(S, S + 1000);
    send(0, S);
    send(S + 1000, 2 * S);
    let mut at = 3 * S;
    let mut odd = Vec::new();
    while at < length {
        let end = (at + 3000).min(length);
        odd.push(at..end);
        at = end;
    }
    for r in odd.iter().rev() {
        send(r.start, r.end);
    }
    let stored: u64 = length - 2 * S;
    assert_eq!(store.counts(), (0, stored, 2 * S));
    let published = block_on(up.finalize(&id)).unwrap();
    let (read, written, sent) = store.counts();
    // The stored bytes once, and (slot 0 being in the upload) the first
    // bytes of the object for its content type.
    assert!(
        (stored..stored + 64).contains(&read),
        "read {read}, stored {stored}"
    );
    assert_eq!(written, stored, "finalize stored nothing");
    assert_eq!(sent, 2 * S + stored, "every byte went into the upload once");
    assert_eq!(object(&store, "media/b.bin"), file);
    assert_eq!(published.checksum, Algorithm::Crc32c.digest(&file));
    assert!(part_names(&store, &id).is_empty());
}

/// The client sends parts of the session's part size on its own, whatever
/// its configured size; nothing goes back through it.
#[test]
fn the_uploader_sends_parts_of_the_session_size() {
    let bucket = Arc::new(object_store::memory::InMemory::new());
    let store = Metered::new(adapter(&bucket));
    let up = Uploads::with_options(&store, options());
    let file = noise((7 * S + 5) as usize, 13);
    let out = block_on(
        Uploader::default().with_part_size(1000).upload(
            &up,
            file.clone(),
            CreateOptions::default()
                .with_id("fast")
                .with_target("media/c.bin"),
        ),
    )
    .unwrap();
    assert_eq!(out.parts_sent, 8);
    let (read, written, sent) = store.counts();
    assert!(read <= 64, "read {read}");
    assert_eq!((written, sent), (0, file.len() as u64));
    assert_eq!(object(&store, "media/c.bin"), file);
    // A file: the same through the reader.
    let store2 = Metered::new(adapter(&bucket));
    let up2 = Uploads::with_options(&store2, options());
    let out = block_on(
        Uploader::default().upload_reader(
            &up2,
            std::io::Cursor::new(file.to_vec()),
            CreateOptions::default()
                .with_id("file")
                .with_target("media/d.bin"),
        ),
    )
    .unwrap();
    assert_eq!(out.parts_sent, 8);
    assert_eq!(store2.counts().1, 0);
    assert_eq!(object(&store2, "media/d.bin"), file);
    // A stream of unknown length: parts past the image limit go straight
    // in, the first ones and the last are joined at finalize.
    // (Its part size must fit the longest upload allowed in the store's
    // 10 000 parts: 1 MiB here, so 4 KiB parts do.)
    let store3 = Metered::new(adapter(&bucket));
    let up3 = Uploads::with_options(&store3, options().with_max_size(1 << 20));
    let out = block_on(Uploader::default().upload_stream(
        &up3,
        std::io::Cursor::new(file.to_vec()),
        CreateOptions::deferred().with_target("media/e.bin"),
        |_| true,
    ))
    .unwrap();
    assert_eq!(out.published.unwrap().size, file.len() as u64);
    // Every whole part ends past the 1 KiB image limit, so goes straight
    // in; the short last one (the length is unknown until it has been
    // read) is stored and joined at finalize.
    let (read, written, _) = store3.counts();
    assert_eq!(written, 5);
    assert!((5..5 + 64).contains(&read), "read {read}");
    assert_eq!(object(&store3, "media/e.bin"), file);
}

#[test]
fn small_uploads_and_partials_keep_stored_parts() {
    let bucket = Arc::new(object_store::memory::InMemory::new());
    let store = adapter(&bucket);
    let up = Uploads::with_options(&store, options());
    // At most the image limit: read through at finalize, no upload.
    let small = block_on(up.create(CreateOptions::new(1024)))
        .unwrap()
        .session;
    assert!(small.multipart.is_none());
    let partial = block_on(up.create(CreateOptions::new(10 * S).with_partial(true)))
        .unwrap()
        .session;
    assert!(partial.multipart.is_none());
    let off = Uploads::with_options(&store, options().with_multipart(false));
    assert!(
        block_on(off.create(CreateOptions::new(10 * S)))
            .unwrap()
            .session
            .multipart
            .is_none()
    );
    // Too many parts for the store at this size: the size grows.
    let big = Uploads::with_options(&store, options().with_max_size(1 << 40));
    let session = block_on(big.create(CreateOptions::new(1 << 30)))
        .unwrap()
        .session;
    assert_eq!(session.multipart_part_size(), Some((1 << 30) / 10_000 + 1));
    // Records of sessions without one are as before: no new field.
    let json = serde_json::to_string(&small).unwrap();
    assert!(!json.contains("multipart"), "{json}");
    let back: blocksmith_upload::Session = serde_json::from_str(&json).unwrap();
    assert_eq!(back, small);
}

#[test]
fn an_image_cannot_go_into_the_upload() {
    let bucket = Arc::new(object_store::memory::InMemory::new());
    let store = adapter(&bucket);
    let up = Uploads::with_options(&store, options());
    let id = block_on(up.create(CreateOptions::new(3 * S)))
        .unwrap()
        .session
        .id;
    let mut png = noise(S as usize, 3).to_vec();
    png[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
    assert!(matches!(
        block_on(up.put_part(&id, 0, png.into(), None)),
        Err(Error::ImageBytesTooLarge { .. })
    ));
}

#[test]
fn expected_digests_are_checked_and_a_mismatch_starts_over() {
    let bucket = Arc::new(object_store::memory::InMemory::new());
    let store = adapter(&bucket);
    let length = 3 * S + 9;
    let file = noise(length as usize, 14);
    let wrong = noise(length as usize, 40);
    let send_all = |up: &Uploads<&ObjectStoreAdapter>, id: &str, data: &Bytes| {
        for k in 0..4u64 {
            let r = k * S..((k + 1) * S).min(length);
            block_on(up.put_part(
                id,
                r.start,
                data.slice(r.start as usize..r.end as usize),
                None,
            ))
            .unwrap();
        }
    };
    for algorithm in [Algorithm::Crc32c, Algorithm::Sha256] {
        let up = Uploads::with_options(&store, options());
        let target = format!("media/{}.bin", algorithm.name());
        let opened = block_on(
            up.create(
                CreateOptions::new(length)
                    .with_target(&*target)
                    .with_expected(algorithm.digest(&file)),
            ),
        )
        .unwrap();
        let (id, first_upload) = (opened.session.id, opened.session.multipart.unwrap().upload);
        send_all(&up, &id, &wrong);
        let r = block_on(up.finalize(&id));
        assert!(
            matches!(r, Err(Error::ChecksumMismatch { what: "upload", .. })),
            "{algorithm:?}: {r:?}"
        );
        // Nothing published, nothing kept; the session is open.
        assert!(
            store
                .blocking()
                .get_opt(&Key::new(&*target).unwrap())
                .unwrap()
                .is_none()
        );
        let st = block_on(up.status(&id)).unwrap();
        assert_eq!(st.received, 0);
        assert_eq!(st.session.state, SessionState::Open);
        // SHA-256 needed the bytes: the upload was completed, checked, the
        // object deleted, and a new upload started.
        let now = st.session.multipart.unwrap().upload;
        assert_eq!(now != first_upload, algorithm == Algorithm::Sha256);
        send_all(&up, &id, &file);
        let p = block_on(up.finalize(&id)).unwrap();
        assert_eq!(object(&store, &target), file);
        assert_eq!(p.checksum, Algorithm::Crc32c.digest(&file));
    }
    // A SHA-256 digest of every object, and a reread: one read back.
    let metered = Metered::new(adapter(&bucket));
    let up = Uploads::with_options(
        &metered,
        options()
            .with_digest(Algorithm::Sha256)
            .with_verify(Verify::Reread),
    );
    let id = block_on(up.create(CreateOptions::new(length).with_target("media/sha.bin")))
        .unwrap()
        .session
        .id;
    let up_ref = &up;
    for k in 0..4u64 {
        let r = k * S..((k + 1) * S).min(length);
        block_on(up_ref.put_part(
            &id,
            r.start,
            file.slice(r.start as usize..r.end as usize),
            None,
        ))
        .unwrap();
    }
    let p = block_on(up.finalize(&id)).unwrap();
    assert_eq!(metered.counts().0, length, "read back once");
    assert_eq!(p.checksum, Algorithm::Sha256.digest(&file));
}

#[test]
fn a_taken_target_is_refused_and_left_alone() {
    let bucket = Arc::new(object_store::memory::InMemory::new());
    let store = adapter(&bucket);
    let up = Uploads::with_options(&store, options());
    let key = Key::new("media/taken.bin").unwrap();
    store.blocking().put(&key, "someone else's").unwrap();
    let length = 2 * S;
    let file = noise(length as usize, 16);
    let session = block_on(up.create(CreateOptions::new(length).with_target("media/taken.bin")))
        .unwrap()
        .session;
    for k in 0..2u64 {
        let part = file.slice((k * S) as usize..((k + 1) * S) as usize);
        block_on(up.put_part(&session.id, k * S, part, None)).unwrap();
    }
    assert!(matches!(
        block_on(up.finalize(&session.id)),
        Err(Error::TargetExists { .. })
    ));
    assert_eq!(
        &store.blocking().get(&key).unwrap().data[..],
        b"someone else's"
    );
    // The upload waits; aborting the session drops it.
    let upload = session.multipart.unwrap().upload;
    assert!(upload_exists(&store, "media/taken.bin", &upload));
    block_on(up.abort(&session.id)).unwrap();
    assert!(!upload_exists(&store, "media/taken.bin", &upload));
    // With overwrite, the same bytes replace it.
    let up2 = Uploads::with_options(&store, options());
    let id = block_on(
        up2.create(
            CreateOptions::new(length)
                .with_target("media/taken.bin")
                .with_overwrite(true),
        ),
    )
    .unwrap()
    .session
    .id;
    for k in 0..2u64 {
        let part = file.slice((k * S) as usize..((k + 1) * S) as usize);
        block_on(up2.put_part(&id, k * S, part, None)).unwrap();
    }
    block_on(up2.finalize(&id)).unwrap();
    assert_eq!(store.blocking().get(&key).unwrap().data, file);
}

#[test]
fn abort_and_expire_drop_the_upload() {
    let bucket = Arc::new(object_store::memory::InMemory::new());
    let store = adapter(&bucket);
    let up = Uploads::with_options(&store, options());
    let file = noise((3 * S) as usize, 17);
    let mut uploads = Vec::new();
    for (id, ttl) in [("aborted", 3600), ("expired", 10), ("live", 3600)] {
        let s = block_on(
            up.create(
                CreateOptions::new(3 * S)
                    .with_id(id)
                    .with_target(format!("media/{id}"))
                    .with_ttl(ttl),
            ),
        )
        .unwrap()
        .session;
        block_on(up.put_part(id, S, file.slice(S as usize..(2 * S) as usize), None)).unwrap();
        block_on(up.put_part(id, 2 * S + 1, file.slice((2 * S + 1) as usize..), None)).unwrap();
        uploads.push((id, s.multipart.unwrap().upload));
    }
    block_on(up.abort("aborted")).unwrap();
    block_on(up.abort("aborted")).unwrap(); // idempotent
    assert!(!upload_exists(&store, "media/aborted", &uploads[0].1));
    assert!(part_names(&store, "aborted").is_empty());
    let later = Uploads::with_options(&store, options()).with_clock(|| u64::MAX / 4);
    let soon = Uploads::with_options(&store, options()).with_clock({
        let now = up.now();
        move || now + 100
    });
    let report = block_on(soon.expire()).unwrap();
    assert_eq!(report.sessions, 1);
    assert!(!upload_exists(&store, "media/expired", &uploads[1].1));
    assert!(upload_exists(&store, "media/live", &uploads[2].1));
    block_on(later.expire()).unwrap();
    assert!(!upload_exists(&store, "media/live", &uploads[2].1));
    assert!(store.blocking().list_all("uploads/").unwrap().is_empty());
}

/// A session's upload that the service dropped (a lifecycle rule): the next
/// part starts a new one, and the parts that were in the old one are asked
/// for again.
#[test]
fn an_upload_gone_from_the_service_is_replaced() {
    let bucket = Arc::new(object_store::memory::InMemory::new());
    let store = adapter(&bucket);
    let up = Uploads::with_options(&store, options());
    let length = 3 * S;
    let file = noise(length as usize, 18);
    let s = block_on(up.create(CreateOptions::new(length).with_target("media/gone")))
        .unwrap()
        .session;
    let slice = |k: u64| file.slice((k * S) as usize..((k + 1) * S) as usize);
    block_on(up.put_part(&s.id, 0, slice(0), None)).unwrap();
    let target = Key::new("media/gone").unwrap();
    store
        .blocking()
        .abort_multipart(&target, &s.multipart.as_ref().unwrap().upload)
        .unwrap();
    // The next part finds the upload gone: a new one, and part 0 is missing.
    let st = block_on(up.put_part(&s.id, S, slice(1), None)).unwrap();
    assert_eq!(st.missing, vec![0..S, 2 * S..3 * S]);
    assert_ne!(st.session.multipart, s.multipart);
    block_on(up.put_part(&s.id, 0, slice(0), None)).unwrap();
    block_on(up.put_part(&s.id, 2 * S, slice(2), None)).unwrap();
    // Dropped again before finalize: finalize asks for its parts again.
    let now = block_on(up.session(&s.id)).unwrap();
    store
        .blocking()
        .abort_multipart(&target, &now.multipart.unwrap().upload)
        .unwrap();
    assert!(matches!(
        block_on(up.finalize(&s.id)),
        Err(Error::Incomplete { missing, .. }) if missing == length
    ));
    let out = block_on(
        Uploader::default().upload(
            &up,
            file.clone(),
            CreateOptions::default()
                .with_id(s.id.clone())
                .with_target("media/gone"),
        ),
    )
    .unwrap();
    assert_eq!(out.bytes_sent, length);
    assert_eq!(store.blocking().get(&target).unwrap().data, file);
}

/// Every fault kind at every store operation (multipart calls included) of
/// an upload in parts of the session's size, and of one in odd parts joined
/// at finalize; then a restart from the store alone resumes and publishes
/// the exact bytes, and expiry leaves no part, session or upload.
#[test]
fn crash_at_every_operation_then_resume_on_the_adapter() {
    let length = 3 * S + 500;
    let file = noise(length as usize, 19);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let handle = rt.handle().clone();
    let make = || {
        let bucket = Arc::new(object_store::memory::InMemory::new());
        ObjectStoreAdapter::with_handle(bucket.clone(), handle.clone())
            .with_multipart(bucket)
            .with_capabilities(Capabilities::FULL.with_multipart(Some(MultipartLimits::new(
                1024,
                1 << 30,
                10_000,
            ))))
    };
    let create = || {
        CreateOptions::default()
            .with_id("crashy")
            .with_target("media/crashy.bin")
            .with_expected(Algorithm::Sha256.digest(&file))
    };
    for odd in [false, true] {
        let report = CrashTest::new()
            .with_faults([Fault::FailBefore, Fault::FailAfter, Fault::Tear])
            // The parts going into the upload (at its staging key: the
            // target is a create-only custom one).
            .with_tear_prefix("uploads/staging/")
            .run(
                make,
                |faulty| {
                    let up = Uploads::with_options(faulty, options());
                    let file = file.clone();
                    if odd {
                        // Parts of 3000 bytes, as a tus client might send.
                        block_on(async {
                            let id = up.create(create().with_length(length)).await?.session.id;
                            let mut at = 0;
                            while at < length {
                                let end = (at + 3000).min(length);
                                up.put_part(&id, at, file.slice(at as usize..end as usize), None)
                                    .await?;
                                at = end;
                            }
                            up.finalize(&id).await
                        })
                        .is_err()
                    } else {
                        block_on(Uploader::default().upload(&up, file, create())).is_err()
                    }
                },
                |inner, crashed, point| {
                    assert_eq!(crashed, point.fired, "{point}");
                    let up = Uploads::with_options(&inner, options());
                    let out = block_on(Uploader::default().upload(&up, file.clone(), create()))
                        .unwrap_or_else(|e| panic!("{point}: resume failed: {e}"));
                    assert_eq!(out.published.unwrap().size, length, "{point}");
                    assert_eq!(object(&inner, "media/crashy.bin"), file, "{point}");
                    let session = block_on(up.session("crashy")).unwrap();
                    let later =
                        Uploads::with_options(&inner, options()).with_clock(|| u64::MAX / 4);
                    block_on(later.expire()).unwrap();
                    assert!(
                        inner.blocking().list_all("uploads/").unwrap().is_empty(),
                        "{point}"
                    );
                    if let Some(mp) = session.multipart {
                        assert!(
                            !upload_exists(&inner, "media/crashy.bin", &mp.upload),
                            "{point}: the upload outlived its session"
                        );
                    }
                },
            );
        println!("odd parts {odd}: {report:?}");
        assert!(report.runs > 100, "only {} runs", report.runs);
    }
}

/// The live S3 server (moto): a session of 5 MiB parts sent out of order,
/// aligned and odd, finalized by another engine over another adapter; then
/// abort and expiry leave no multipart upload (listed on the server).
#[test]
fn s3_sessions_complete_and_leave_nothing() {
    let Some(endpoint) = crate::s3::endpoint() else {
        return;
    };
    let store = crate::s3::adapter(&endpoint);
    let mb = 1u64 << 20;
    let opts = UploadOptions::default()
        .with_prefix("mp-upload-test")
        .with_part_size(1, 1 << 30)
        .with_max_image_bytes(mb)
        .with_multipart_part_size(5 * mb);
    let up = Uploads::with_options(&store, opts.clone());
    let length = 17 * mb + 3;
    let file = noise(length as usize, 20);
    let target = "mp-upload-test/out/session.bin";
    let _ = store.blocking().delete(&Key::new(target).unwrap());
    let session = block_on(up.create(CreateOptions::new(length).with_target(target)))
        .unwrap()
        .session;
    // A create-only custom target: the upload completes at a staging key
    // and is copied to the target only if it is absent.
    let staged = upload_at(&session);
    assert_eq!(staged, format!("mp-upload-test/staging/{}", session.id));
    let id = session.id;
    let send = |up: &Uploads<&ObjectStoreAdapter>, from: u64, to: u64| {
        block_on(up.put_part(&id, from, file.slice(from as usize..to as usize), None)).unwrap();
    };
    send(&up, 10 * mb, 15 * mb); // slot 2, aligned
    send(&up, 15 * mb, length); // the last slot, short
    send(&up, 0, 5 * mb); // slot 0
    send(&up, 7 * mb, 10 * mb); // slot 1 in two odd pieces
    send(&up, 5 * mb, 7 * mb);
    let other_store = crate::s3::adapter(&endpoint);
    let other = Uploads::with_options(&other_store, opts.clone());
    let p = block_on(other.finalize(&id)).unwrap();
    assert_eq!(p.size, length);
    assert_eq!(
        crate::s3::sha256_of(&other_store, target),
        Algorithm::Sha256.digest(&file)
    );
    assert!(crate::s3::pending_uploads(&endpoint, &staged).is_empty());
    assert!(
        store
            .blocking()
            .get_opt(&Key::new(&*staged).unwrap())
            .unwrap()
            .is_none(),
        "the staging object outlived the publication"
    );
    // Published create-only: a second session for the same target is
    // refused before its upload is spent, and the object stays.
    let again = block_on(up.create(CreateOptions::new(length).with_target(target)))
        .unwrap()
        .session;
    for k in 0..4u64 {
        send_to(
            &up,
            &again.id,
            &file,
            k * 5 * mb,
            ((k + 1) * 5 * mb).min(length),
        );
    }
    assert!(matches!(
        block_on(up.finalize(&again.id)),
        Err(Error::TargetExists { .. })
    ));
    block_on(up.abort(&again.id)).unwrap();
    assert_eq!(
        crate::s3::sha256_of(&store, target),
        Algorithm::Sha256.digest(&file)
    );

    // Abort and expiry: no upload left on the server.
    let a = block_on(
        up.create(
            CreateOptions::new(length)
                .with_id("s3-abort")
                .with_target(format!("{target}.a")),
        ),
    )
    .unwrap()
    .session;
    let e = block_on(
        up.create(
            CreateOptions::new(length)
                .with_id("s3-expire")
                .with_target(format!("{target}.e"))
                .with_ttl(5),
        ),
    )
    .unwrap()
    .session;
    for s in [&a, &e] {
        block_on(up.put_part(&s.id, 0, file.slice(..(5 * mb) as usize), None)).unwrap();
        assert_eq!(
            crate::s3::pending_uploads(&endpoint, &upload_at(s)).len(),
            1
        );
    }
    block_on(up.abort(&a.id)).unwrap();
    assert!(crate::s3::pending_uploads(&endpoint, &upload_at(&a)).is_empty());
    let later = Uploads::with_options(&store, opts).with_clock(|| u64::MAX / 4);
    block_on(later.expire()).unwrap();
    assert!(crate::s3::pending_uploads(&endpoint, &upload_at(&e)).is_empty());
    assert!(
        store
            .blocking()
            .list_all("mp-upload-test/sessions/")
            .unwrap()
            .is_empty()
    );
    store.blocking().delete(&Key::new(target).unwrap()).unwrap();
}

/// A session record whose multipart part size was damaged or forged (zero,
/// under the store's minimum, past its maximum) is a typed error on every
/// path that reads it, never a division by zero or a huge allocation; and
/// an expired session whose upload cannot be aborted does not stop
/// `expire` from cleaning the others.
#[test]
fn a_forged_part_size_is_refused() {
    let bucket = Arc::new(object_store::memory::InMemory::new());
    let store = adapter(&bucket);
    let uploads = Uploads::with_options(&store, options());
    let created = uploads
        .blocking()
        .create(CreateOptions::new(10 * S))
        .unwrap();
    let id = created.session.id.clone();
    let key = Key::new(format!("uploads/sessions/{id}")).unwrap();
    for forged in [0u64, 1, 1 << 40] {
        let (mut session, _) = store
            .blocking()
            .get_record::<blocksmith_upload::Session>(&key)
            .unwrap()
            .unwrap();
        session
            .multipart
            .as_mut()
            .expect("a multipart session")
            .part_size = forged;
        store
            .blocking()
            .put_record(&key, &session, PutOptions::new())
            .unwrap();
        let part = Bytes::from(vec![1u8; S as usize]);
        for r in [
            uploads.blocking().status(&id).map(|_| ()),
            uploads
                .blocking()
                .put_part(&id, 0, part.clone(), None)
                .map(|_| ()),
            uploads.blocking().finalize(&id).map(|_| ()),
        ] {
            assert!(
                matches!(r, Err(Error::Invalid { .. })),
                "part size {forged}: {r:?}"
            );
        }
    }
}
