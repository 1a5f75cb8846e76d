//! The session engine: ordering, parallelism, deferred length, validation,
//! abort, expiry, concatenation, idempotent publication.

use crate::noise;
use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use blocksmith_upload::session::{gaps, merge_ranges};
use blocksmith_upload::{Algorithm, CreateOptions, Error, SessionState, UploadOptions, Uploads};
use bytes::Bytes;
use proptest::prelude::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

fn small() -> UploadOptions {
    UploadOptions::default().with_part_size(100, 10_000)
}

#[test]
fn out_of_order_parts_and_missing_ranges() {
    let store = MemoryStore::new();
    let up = Uploads::with_options(&store, small());
    let file = noise(1000, 1);
    let id = block_on(up.create(CreateOptions::new(1000)))
        .unwrap()
        .session
        .id;
    block_on(up.put_part(&id, 500, file.slice(500..700), None)).unwrap();
    block_on(up.put_part(&id, 900, file.slice(900..), None)).unwrap();
    let st = block_on(up.status(&id)).unwrap();
    assert_eq!((st.offset, st.received), (0, 300));
    assert_eq!(st.missing, vec![0..500, 700..900]);
    assert!(matches!(
        block_on(up.finalize(&id)),
        Err(Error::Incomplete { missing: 700, .. })
    ));
    block_on(up.put_part(&id, 0, file.slice(..500), None)).unwrap();
    block_on(up.put_part(&id, 700, file.slice(700..900), None)).unwrap();
    // A retried identical part is fine; a different overlapping one is not.
    block_on(up.put_part(&id, 700, file.slice(700..900), None)).unwrap();
    assert!(matches!(
        block_on(up.put_part(&id, 650, file.slice(650..800), None)),
        Err(Error::Overlap { .. })
    ));
    let st = block_on(up.status(&id)).unwrap();
    assert!(st.is_complete());
    assert_eq!(st.offset, 1000);
    let p = block_on(up.finalize(&id)).unwrap();
    assert_eq!(
        store
            .blocking()
            .get(&Key::new(&*p.key).unwrap())
            .unwrap()
            .data,
        file
    );
    // Idempotent, and the parts are gone.
    assert_eq!(block_on(up.finalize(&id)).unwrap(), p);
    assert!(
        store
            .blocking()
            .list_all("uploads/parts/")
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        block_on(up.session(&id)).unwrap().state,
        SessionState::Finalized(_)
    ));
}

#[test]
fn parallel_parts_from_many_threads() {
    let store = Arc::new(MemoryStore::new());
    let up = Uploads::with_options(store.clone(), small());
    let file = noise(64 * 1000, 2);
    let id = block_on(up.create(CreateOptions::new(file.len() as u64)))
        .unwrap()
        .session
        .id;
    let next = AtomicU64::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= 64 {
                        break;
                    }
                    let part = file.slice(i as usize * 1000..(i as usize + 1) * 1000);
                    block_on(up.put_part(&id, i * 1000, part, None)).unwrap();
                }
            });
        }
    });
    let p = block_on(up.finalize(&id)).unwrap();
    assert_eq!(
        store
            .blocking()
            .get(&Key::new(p.key).unwrap())
            .unwrap()
            .data,
        file
    );
}

#[test]
fn deferred_length() {
    let store = MemoryStore::new();
    let up = Uploads::with_options(&store, small());
    let file = noise(450, 3);
    let id = block_on(up.create(CreateOptions::deferred()))
        .unwrap()
        .session
        .id;
    block_on(up.put_part(&id, 0, file.slice(..200), None)).unwrap();
    block_on(up.put_part(&id, 200, file.slice(200..400), None)).unwrap();
    assert!(matches!(
        block_on(up.finalize(&id)),
        Err(Error::LengthUnknown)
    ));
    assert!(matches!(
        block_on(up.declare_length(&id, 300)),
        Err(Error::OutOfBounds { .. })
    ));
    block_on(up.declare_length(&id, 450)).unwrap();
    block_on(up.declare_length(&id, 450)).unwrap();
    assert!(matches!(
        block_on(up.declare_length(&id, 451)),
        Err(Error::LengthConflict { .. })
    ));
    block_on(up.put_part(&id, 400, file.slice(400..), None)).unwrap();
    let p = block_on(up.finalize(&id)).unwrap();
    assert_eq!(p.size, 450);
}

#[test]
fn limits_are_checked_up_front() {
    let store = MemoryStore::new();
    let opts = small().with_max_size(5000).with_max_parts(20);
    let up = Uploads::with_options(&store, opts);
    assert!(matches!(
        block_on(up.create(CreateOptions::new(5001))),
        Err(Error::TooLarge { .. })
    ));
    let tight = Uploads::with_options(&store, small().with_max_parts(2).with_part_size(1, 100));
    assert!(matches!(
        block_on(tight.create(CreateOptions::new(201))),
        Err(Error::TooManyParts { .. })
    ));
    let id = block_on(up.create(CreateOptions::new(1000)))
        .unwrap()
        .session
        .id;
    // Too small (not the last part), too big, out of bounds.
    assert!(matches!(
        block_on(up.put_part(&id, 0, noise(50, 1), None)),
        Err(Error::PartTooSmall { .. })
    ));
    assert!(block_on(up.put_part(&id, 950, noise(50, 1), None)).is_ok());
    assert!(matches!(
        block_on(up.put_part(&id, 900, noise(200, 1), None)),
        Err(Error::OutOfBounds { .. })
    ));
    let big = Uploads::with_options(&store, small().with_part_size(1, 100));
    let id2 = block_on(big.create(CreateOptions::new(1000)))
        .unwrap()
        .session
        .id;
    assert!(matches!(
        block_on(big.put_part(&id2, 0, noise(101, 1), None)),
        Err(Error::TooLarge { what: "part", .. })
    ));
    assert!(matches!(
        block_on(up.create(CreateOptions::default().with_id("../x"))),
        Err(Error::InvalidId { .. })
    ));
    assert!(matches!(
        block_on(up.status("nope")),
        Err(Error::NotFound { .. })
    ));
    let huge = CreateOptions::new(10).with_metadata("k", "v".repeat(70_000));
    assert!(matches!(
        block_on(up.create(huge)),
        Err(Error::TooLarge {
            what: "metadata",
            ..
        })
    ));
}

#[test]
fn content_type_by_magic_bytes() {
    let store = MemoryStore::new();
    let up = Uploads::with_options(&store, small().with_allowed_types(["image/*", "video/mp4"]));
    // A PDF named like an image is refused on its first part.
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend_from_slice(&noise(300, 4));
    let id = block_on(
        up.create(CreateOptions::new(pdf.len() as u64).with_metadata("filename", "cat.png")),
    )
    .unwrap()
    .session
    .id;
    let r = block_on(up.put_part(&id, 0, Bytes::from(pdf), None));
    assert!(
        matches!(&r, Err(Error::ContentTypeNotAllowed { found }) if found == "application/pdf"),
        "{r:?}"
    );
    let png = crate::images::png(640, 480, true);
    let id = block_on(up.create(CreateOptions::new(png.len() as u64)))
        .unwrap()
        .session
        .id;
    block_on(up.put_part(&id, 0, Bytes::from(png), None)).unwrap();
    let p = block_on(up.finalize(&id)).unwrap();
    assert_eq!(p.content_type, "image/png");
    assert_eq!(p.image.map(|i| (i.width, i.height)), Some((640, 480)));
}

#[test]
fn decompression_bombs_are_refused_by_declared_size() {
    let store = MemoryStore::new();
    let up = Uploads::with_options(&store, small().with_max_image_pixels(Some(10_000_000)));
    let bomb = crate::images::png(50_000, 50_000, false);
    let id = block_on(up.create(CreateOptions::new(bomb.len() as u64)))
        .unwrap()
        .session
        .id;
    let r = block_on(up.put_part(&id, 0, Bytes::from(bomb), None));
    assert!(
        matches!(
            r,
            Err(Error::ImageTooLarge {
                width: 50_000,
                height: 50_000,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn strip_metadata_on_request() {
    let store = MemoryStore::new();
    let up = Uploads::with_options(&store, small().with_part_size(1, 1 << 20));
    let jpeg = crate::images::jpeg(300, 200, true);
    let id = block_on(up.create(CreateOptions::new(jpeg.len() as u64).with_strip_metadata(true)))
        .unwrap()
        .session
        .id;
    block_on(up.put_part(&id, 0, Bytes::from(jpeg.clone()), None)).unwrap();
    let p = block_on(up.finalize(&id)).unwrap();
    assert!(p.stripped_bytes > 0);
    let stored = store
        .blocking()
        .get(&Key::new(p.key).unwrap())
        .unwrap()
        .data;
    assert!(!stored.windows(4).any(|w| w == b"Exif"));
    assert_eq!(stored.len() as u64 + p.stripped_bytes, jpeg.len() as u64);
}

#[test]
fn full_checksum_is_verified() {
    let store = MemoryStore::new();
    let up = Uploads::with_options(&store, small());
    let file = noise(300, 5);
    let wrong = Algorithm::Sha256.digest(b"something else");
    let id = block_on(up.create(CreateOptions::new(300).with_expected(wrong)))
        .unwrap()
        .session
        .id;
    block_on(up.put_part(&id, 0, file, None)).unwrap();
    assert!(matches!(
        block_on(up.finalize(&id)),
        Err(Error::ChecksumMismatch { what: "upload", .. })
    ));
    assert!(
        store
            .blocking()
            .list_all("uploads/objects/")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn publication_is_create_only() {
    let store = MemoryStore::new();
    let up = Uploads::with_options(&store, small());
    store
        .blocking()
        .put(&Key::new("taken").unwrap(), "someone else's")
        .unwrap();
    let id = block_on(up.create(CreateOptions::new(300).with_target("taken")))
        .unwrap()
        .session
        .id;
    block_on(up.put_part(&id, 0, noise(300, 6), None)).unwrap();
    assert!(matches!(
        block_on(up.finalize(&id)),
        Err(Error::TargetExists { .. })
    ));
    // Same bytes already there (a crash after publishing): counts as published.
    store
        .blocking()
        .put(&Key::new("taken").unwrap(), noise(300, 6))
        .unwrap();
    block_on(up.finalize(&id)).unwrap();
    // Overwrite on request.
    let id = block_on(
        up.create(
            CreateOptions::new(300)
                .with_target("taken")
                .with_overwrite(true),
        ),
    )
    .unwrap()
    .session
    .id;
    block_on(up.put_part(&id, 0, noise(300, 7), None)).unwrap();
    block_on(up.finalize(&id)).unwrap();
    assert_eq!(
        store
            .blocking()
            .get(&Key::new("taken").unwrap())
            .unwrap()
            .data,
        noise(300, 7)
    );
}

#[test]
fn abort_and_expire() {
    let store = MemoryStore::new();
    let now = Arc::new(AtomicU64::new(1000));
    let clock = now.clone();
    let up = Uploads::with_options(&store, small().with_default_ttl(60))
        .with_clock(move || clock.load(Ordering::SeqCst));
    let a = block_on(up.create(CreateOptions::new(1000)))
        .unwrap()
        .session
        .id;
    let b = block_on(up.create(CreateOptions::new(1000).with_ttl(3600)))
        .unwrap()
        .session
        .id;
    let c = block_on(up.create(CreateOptions::new(1000)))
        .unwrap()
        .session
        .id;
    for id in [&a, &b, &c] {
        block_on(up.put_part(id, 0, noise(500, 1), None)).unwrap();
    }
    block_on(up.abort(&c)).unwrap();
    block_on(up.abort(&c)).unwrap();
    assert!(matches!(
        block_on(up.put_part(&c, 500, noise(500, 1), None)),
        Err(Error::Gone { .. })
    ));
    // An orphan part of a session that never existed.
    store
        .blocking()
        .put(
            &Key::new("uploads/parts/ghost/0000000000000000-0000000000000001-00000000").unwrap(),
            "x",
        )
        .unwrap();
    now.store(1061, Ordering::SeqCst);
    assert!(matches!(
        block_on(up.put_part(&a, 500, noise(500, 1), None)),
        Err(Error::Gone {
            reason: "expired",
            ..
        })
    ));
    let r = block_on(up.expire()).unwrap();
    assert_eq!((r.sessions, r.parts, r.orphans), (2, 1, 1)); // a (1 part) and c's tombstone
    let left: Vec<_> = store.blocking().list_all("uploads/parts/").unwrap();
    assert_eq!(left.len(), 1);
    assert!(left[0].key.as_str().contains(&b));
    assert!(matches!(
        block_on(up.status(&a)),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn concatenation_of_partials() {
    let dir = tempfile::tempdir().unwrap();
    let dirstore = blocksmith_store::DirStore::open(dir.path()).unwrap();
    let memory = MemoryStore::new();
    let stores: [&dyn blocksmith_store::DynStore; 2] = [&memory, &dirstore];
    for store in stores {
        let up = Uploads::with_options(store, small().with_part_size(1, 10_000));
        let file = noise(900, 8);
        let mut ids = Vec::new();
        for i in 0..3 {
            let id = block_on(up.create(CreateOptions::new(300).with_partial(true)))
                .unwrap()
                .session
                .id;
            // Two parts per partial upload: the composed part is itself composed.
            for (off, end) in [(0, 120), (120, 300)] {
                let part = file.slice(i * 300 + off..i * 300 + end);
                block_on(up.put_part(&id, off as u64, part, None)).unwrap();
            }
            assert!(matches!(
                block_on(up.finalize(&id)),
                Err(Error::InvalidState { .. })
            ));
            ids.push(id);
        }
        let (s, p) =
            block_on(up.concat(&ids, CreateOptions::default().with_target("joined"))).unwrap();
        assert_eq!(s.concat, ids);
        assert_eq!(p.size, 900);
        assert_eq!(p.checksum, Algorithm::Crc32c.digest(&file));
        assert_eq!(
            store
                .blocking()
                .get(&Key::new("joined").unwrap())
                .unwrap()
                .data,
            file
        );
    }
}

#[test]
fn resume_by_id_reports_resumed() {
    let store = MemoryStore::new();
    let up = Uploads::with_options(&store, small());
    let o = block_on(up.create(CreateOptions::new(10).with_id("abc"))).unwrap();
    assert!(!o.resumed);
    let o = block_on(up.create(CreateOptions::new(10).with_id("abc"))).unwrap();
    assert!(o.resumed);
    assert!(matches!(
        block_on(up.create(CreateOptions::new(11).with_id("abc"))),
        Err(Error::InvalidState { .. })
    ));
}

proptest! {
    #[test]
    fn missing_ranges_match_a_bitmap(parts in proptest::collection::vec((0u64..200, 1u64..40), 0..12), len in 1u64..256) {
        let ranges: Vec<_> = parts.iter().map(|&(s, l)| s..(s + l).min(len)).filter(|r| r.start < r.end).collect();
        let merged = merge_ranges(ranges.clone());
        let missing = gaps(&merged, len);
        let mut have = vec![false; len as usize];
        for r in &ranges { for i in r.clone() { have[i as usize] = true; } }
        let mut from_bitmap = vec![false; len as usize];
        for r in &missing { for i in r.clone() { from_bitmap[i as usize] = true; } }
        for i in 0..len as usize { prop_assert_eq!(from_bitmap[i], !have[i]); }
        prop_assert!(merged.windows(2).all(|w| w[0].end < w[1].start));
    }

    #[test]
    fn any_part_order_publishes_the_source(seed: u64, order in Just((0..8usize).collect::<Vec<_>>()).prop_shuffle()) {
        let store = MemoryStore::new();
        let up = Uploads::with_options(&store, UploadOptions::default().with_part_size(1, 1000));
        let file = noise(8 * 97 + 13, seed);
        let id = block_on(up.create(CreateOptions::new(file.len() as u64))).unwrap().session.id;
        for i in order {
            let end = if i == 7 { file.len() } else { (i + 1) * 97 };
            block_on(up.put_part(&id, (i * 97) as u64, file.slice(i * 97..end), None)).unwrap();
        }
        let p = block_on(up.finalize(&id)).unwrap();
        // The object CRC combined from the parts equals a direct one.
        prop_assert_eq!(&p.checksum, &Algorithm::Crc32c.digest(&file));
        prop_assert_eq!(store.blocking().get(&Key::new(p.key).unwrap()).unwrap().data, file);
    }
}

#[test]
fn crc32c_expectations_use_the_combined_part_crcs() {
    let store = MemoryStore::new();
    let up = Uploads::with_options(&store, small());
    let file = noise(300, 5);
    for (sum, ok) in [
        (Algorithm::Crc32c.digest(b"other"), false),
        (Algorithm::Crc32c.digest(&file), true),
    ] {
        let id = block_on(up.create(CreateOptions::new(300).with_expected(sum.clone())))
            .unwrap()
            .session
            .id;
        block_on(up.put_part(&id, 0, file.slice(..150), None)).unwrap();
        block_on(up.put_part(&id, 150, file.slice(150..), None)).unwrap();
        let r = block_on(up.finalize(&id));
        assert_eq!(r.is_ok(), ok, "{r:?}");
        if let Ok(p) = r {
            assert_eq!(p.checksum, sum);
        }
    }
}

/// Finalize publishes through `Store::compose`: on a directory store the
/// object's parts are linked, not copied (the object survives the parts'
/// deletion), and the published digests are those of the whole file.
#[test]
fn finalize_composes_and_digests_the_whole_file() {
    for digest in [Algorithm::Crc32c, Algorithm::Sha1, Algorithm::Sha256] {
        let dir = tempfile::tempdir().unwrap();
        let store = blocksmith_store::DirStore::open(dir.path()).unwrap();
        let up = Uploads::with_options(&store, small().with_digest(digest));
        let file = noise(25_000, 21);
        let expected = Algorithm::Sha1.digest(&file);
        let opened =
            block_on(up.create(CreateOptions::new(25_000).with_expected(expected.clone())))
                .unwrap();
        let id = opened.session.id;
        for (i, chunk) in file.chunks(10_000).enumerate() {
            let off = i * 10_000;
            block_on(up.put_part(&id, off as u64, file.slice(off..off + chunk.len()), None))
                .unwrap();
        }
        let p = block_on(up.finalize(&id)).unwrap();
        assert_eq!(p.checksum, digest.digest(&file), "{digest:?}");
        assert_eq!(p.size, 25_000);
        let key = Key::new(p.key.as_str()).unwrap();
        assert_eq!(store.blocking().get(&key).unwrap().data, file);
        // Three parts, three links; the parts themselves are gone.
        assert_eq!(
            std::fs::read_dir(dir.path().join("segs")).unwrap().count(),
            3
        );
        assert!(
            store
                .blocking()
                .list_all("uploads/parts/")
                .unwrap()
                .is_empty()
        );
        // A wrong expected digest of another kind is caught on the same pass.
        let wrong = Algorithm::Sha256.digest(b"not it");
        let id = block_on(up.create(CreateOptions::new(25_000).with_expected(wrong)))
            .unwrap()
            .session
            .id;
        block_on(up.put_part(&id, 0, file.slice(..10_000), None)).unwrap();
        block_on(up.put_part(&id, 10_000, file.slice(10_000..20_000), None)).unwrap();
        block_on(up.put_part(&id, 20_000, file.slice(20_000..), None)).unwrap();
        assert!(matches!(
            block_on(up.finalize(&id)),
            Err(Error::ChecksumMismatch { what: "upload", .. })
        ));
    }
}

/// Two racing clients can leave overlapping parts (each checked the listing
/// before the other wrote); finalize uses each byte once, from the earlier
/// part, and the object is still exact.
#[test]
fn overlapping_parts_from_a_race_compose_exactly() {
    let store = MemoryStore::new();
    let up = Uploads::with_options(&store, small());
    let file = noise(3000, 8);
    let id = block_on(up.create(CreateOptions::new(3000)))
        .unwrap()
        .session
        .id;
    block_on(up.put_part(&id, 0, file.slice(..1000), None)).unwrap();
    block_on(up.put_part(&id, 2000, file.slice(2000..), None)).unwrap();
    // The racing writer's parts, written behind the engine's back.
    for (off, end) in [(500u64, 1500u64), (1200, 2500)] {
        let data = file.slice(off as usize..end as usize);
        let crc = crc32c::crc32c(&data);
        let key = format!("uploads/parts/{id}/{off:016x}-{:016x}-{crc:08x}", end - off);
        store.blocking().put(&Key::new(key).unwrap(), data).unwrap();
    }
    let p = block_on(up.finalize(&id)).unwrap();
    let key = Key::new(p.key.as_str()).unwrap();
    assert_eq!(store.blocking().get(&key).unwrap().data, file);
    assert_eq!(p.checksum, Algorithm::Crc32c.digest(&file));
}

/// `Verify::Trusted` publishes without reading the parts back unless a
/// digest needs the bytes; with a SHA-256 digest the same pass still catches
/// a rotten part.
#[test]
fn trusted_verification_reads_only_when_a_digest_needs_the_bytes() {
    use blocksmith_store::{
        ComposePart, GetOptions, GetResult, ListOptions, ListPage, ObjectMeta, PutOptions,
        PutResult, Store,
    };
    use blocksmith_upload::Verify;
    struct Counting(MemoryStore, AtomicU64);
    impl Store for Counting {
        fn capabilities(&self) -> blocksmith_store::Capabilities {
            self.0.capabilities()
        }
        async fn get(&self, key: &Key, o: GetOptions) -> blocksmith_store::Result<GetResult> {
            if key.as_str().contains("/parts/") {
                self.1.fetch_add(1, Ordering::Relaxed);
            }
            self.0.get(key, o).await
        }
        async fn head(&self, key: &Key) -> blocksmith_store::Result<ObjectMeta> {
            self.0.head(key).await
        }
        async fn put(
            &self,
            key: &Key,
            v: Bytes,
            o: PutOptions,
        ) -> blocksmith_store::Result<PutResult> {
            self.0.put(key, v, o).await
        }
        async fn delete(&self, key: &Key) -> blocksmith_store::Result<()> {
            self.0.delete(key).await
        }
        async fn list(&self, o: ListOptions) -> blocksmith_store::Result<ListPage> {
            self.0.list(o).await
        }
        async fn compose(
            &self,
            t: &Key,
            p: &[ComposePart],
            o: PutOptions,
        ) -> blocksmith_store::Result<PutResult> {
            self.0.compose(t, p, o).await
        }
    }
    let file = noise(4000, 77);
    for (verify, digest, reads_parts) in [
        (Verify::Reread, Algorithm::Crc32c, true),
        (Verify::Trusted, Algorithm::Crc32c, false),
        (Verify::Trusted, Algorithm::Sha256, true),
    ] {
        let store = Counting(MemoryStore::new(), AtomicU64::new(0));
        let up = Uploads::with_options(&store, small().with_verify(verify).with_digest(digest));
        let id = block_on(up.create(CreateOptions::new(4000)))
            .unwrap()
            .session
            .id;
        for i in 0..4usize {
            let part = file.slice(i * 1000..(i + 1) * 1000);
            block_on(up.put_part(&id, i as u64 * 1000, part, None)).unwrap();
        }
        // The first bytes are sniffed in every mode: count from here.
        store.1.store(0, Ordering::Relaxed);
        let p = block_on(up.finalize(&id)).unwrap();
        assert_eq!(p.checksum, digest.digest(&file));
        let reads = store.1.load(Ordering::Relaxed);
        assert_eq!(
            reads > 1,
            reads_parts,
            "{verify:?} {digest:?}: {reads} part reads"
        );
        let key = Key::new(p.key.as_str()).unwrap();
        assert_eq!(store.0.blocking().get(&key).unwrap().data, file);
    }
}

/// A store that, once armed, runs one step of another engine (on the same
/// data) just before the first put whose key contains `on`: a deterministic
/// interleaving of two engines.
struct Racy {
    inner: MemoryStore,
    hook: std::sync::Mutex<Option<(&'static str, Step)>>,
}

enum Step {
    /// The other engine stores a part.
    PutPart(String, Bytes),
    /// The other engine declares the length.
    Declare(String, u64),
}

impl blocksmith_store::Store for Racy {
    fn capabilities(&self) -> blocksmith_store::Capabilities {
        self.inner.capabilities()
    }
    async fn get(
        &self,
        key: &Key,
        o: blocksmith_store::GetOptions,
    ) -> blocksmith_store::Result<blocksmith_store::GetResult> {
        self.inner.get(key, o).await
    }
    async fn head(&self, key: &Key) -> blocksmith_store::Result<blocksmith_store::ObjectMeta> {
        self.inner.head(key).await
    }
    async fn put(
        &self,
        key: &Key,
        v: Bytes,
        o: blocksmith_store::PutOptions,
    ) -> blocksmith_store::Result<blocksmith_store::PutResult> {
        let step = {
            let mut hook = self.hook.lock().unwrap();
            match hook.as_ref() {
                Some((on, _)) if key.as_str().contains(on) => hook.take().map(|(_, s)| s),
                _ => None,
            }
        };
        let other = Uploads::with_options(&self.inner, small());
        match step {
            Some(Step::PutPart(id, data)) => {
                other.put_part(&id, 0, data, None).await.unwrap();
            }
            Some(Step::Declare(id, length)) => {
                other.declare_length(&id, length).await.unwrap();
            }
            None => {}
        }
        self.inner.put(key, v, o).await
    }
    async fn delete(&self, key: &Key) -> blocksmith_store::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(
        &self,
        o: blocksmith_store::ListOptions,
    ) -> blocksmith_store::Result<blocksmith_store::ListPage> {
        self.inner.list(o).await
    }
}

#[test]
fn a_length_declared_while_a_part_is_stored_cannot_underflow_finalize() {
    // Engine B declares 5 bytes: it lists no parts, then, just before its
    // record lands, engine A (which read the session while the length was
    // still deferred) stores 10 bytes at 0 and checks the session again
    // (still deferred). The session ends up 5 bytes long with a part of 10:
    // finalize used to compute `5 - 10` (a panic in debug builds, a wrapped
    // "missing" count in release).
    let store = Racy {
        inner: MemoryStore::new(),
        hook: std::sync::Mutex::new(None),
    };
    let b = Uploads::with_options(&store, small());
    let id = block_on(b.create(CreateOptions::deferred()))
        .unwrap()
        .session
        .id;
    let file = noise(10, 9);
    *store.hook.lock().unwrap() = Some(("/sessions/", Step::PutPart(id.clone(), file.clone())));
    let s = block_on(b.declare_length(&id, 5)).unwrap();
    assert_eq!(s.length, Some(5));
    assert_eq!(
        block_on(b.status(&id)).unwrap().parts,
        1,
        "the race happened"
    );
    let r = block_on(b.finalize(&id));
    assert!(
        matches!(r, Err(Error::OutOfBounds { ref range, length: 5 }) if *range == (0..10)),
        "{r:?}"
    );
    // The contradicting part is gone: the client sends the 5 bytes again.
    let st = block_on(b.status(&id)).unwrap();
    assert_eq!(st.missing, vec![0..5]);
    block_on(b.put_part(&id, 0, file.slice(..5), None)).unwrap();
    assert_eq!(block_on(b.finalize(&id)).unwrap().size, 5);
}

#[test]
fn a_part_stored_past_a_length_declared_meanwhile_is_refused() {
    // The other order: B declares 5 bytes while A's part is on its way (A
    // read the session before). A finds the length on its second look and
    // takes the part back.
    let store = Racy {
        inner: MemoryStore::new(),
        hook: std::sync::Mutex::new(None),
    };
    let a = Uploads::with_options(&store, small());
    let id = block_on(a.create(CreateOptions::deferred()))
        .unwrap()
        .session
        .id;
    *store.hook.lock().unwrap() = Some(("/parts/", Step::Declare(id.clone(), 5)));
    let r = block_on(a.put_part(&id, 0, noise(10, 9), None));
    assert!(
        matches!(r, Err(Error::OutOfBounds { length: 5, .. })),
        "{r:?}"
    );
    assert_eq!(block_on(a.status(&id)).unwrap().parts, 0);
}

/// A store that records the largest value it returns or is given, while
/// armed.
#[derive(Default)]
struct Peak {
    inner: MemoryStore,
    armed: std::sync::atomic::AtomicBool,
    get: AtomicU64,
    put: AtomicU64,
}

impl Peak {
    fn note(&self, n: &AtomicU64, len: usize) {
        if self.armed.load(Ordering::SeqCst) {
            n.fetch_max(len as u64, Ordering::SeqCst);
        }
    }
}

impl blocksmith_store::Store for Peak {
    fn capabilities(&self) -> blocksmith_store::Capabilities {
        self.inner.capabilities()
    }
    async fn get(
        &self,
        key: &Key,
        o: blocksmith_store::GetOptions,
    ) -> blocksmith_store::Result<blocksmith_store::GetResult> {
        let r = self.inner.get(key, o).await?;
        self.note(&self.get, r.data.len());
        Ok(r)
    }
    async fn head(&self, key: &Key) -> blocksmith_store::Result<blocksmith_store::ObjectMeta> {
        self.inner.head(key).await
    }
    async fn put(
        &self,
        key: &Key,
        v: Bytes,
        o: blocksmith_store::PutOptions,
    ) -> blocksmith_store::Result<blocksmith_store::PutResult> {
        self.note(&self.put, v.len());
        self.inner.put(key, v, o).await
    }
    async fn delete(&self, key: &Key) -> blocksmith_store::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(
        &self,
        o: blocksmith_store::ListOptions,
    ) -> blocksmith_store::Result<blocksmith_store::ListPage> {
        self.inner.list(o).await
    }
    async fn compose(
        &self,
        t: &Key,
        p: &[blocksmith_store::ComposePart],
        o: blocksmith_store::PutOptions,
    ) -> blocksmith_store::Result<blocksmith_store::PutResult> {
        // MemoryStore joins the pieces' buffers: no value is built.
        self.inner.compose(t, p, o).await
    }
}

/// A real JPEG carrying `icc` bytes of colour profile (kept by stripping)
/// and followed by `trailer` bytes (dropped).
fn big_jpeg(icc: usize, trailer: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = jpeg_encoder::Encoder::new(&mut out, 80);
    let profile: Vec<u8> = (0..icc).map(|i| (i % 251) as u8).collect();
    e.add_icc_profile(&profile).unwrap();
    e.add_exif_metadata(b"MM\0*\0\0\0\x08GPS").unwrap();
    let rgb: Vec<u8> = (0..64 * 64 * 3).map(|i| (i % 256) as u8).collect();
    e.encode(&rgb, 64, 64, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out.extend(std::iter::repeat_n(0x5A, trailer));
    out
}

const MIB: usize = 1 << 20;

#[test]
fn image_uploads_are_bounded_in_bytes_and_never_held_whole() {
    let store = Peak::default();
    let up = Uploads::with_options(
        &store,
        small()
            .with_part_size(1, 8 * MIB as u64)
            .with_max_image_bytes(8 * MIB as u64),
    );
    let upload = |data: &[u8], deferred: bool, strip: bool| {
        let opts = if deferred {
            CreateOptions::deferred()
        } else {
            CreateOptions::new(data.len() as u64)
        };
        let id = block_on(up.create(opts.with_strip_metadata(strip)))
            .unwrap()
            .session
            .id;
        for (i, c) in data.chunks(MIB).enumerate() {
            block_on(up.put_part(&id, (i * MIB) as u64, Bytes::copy_from_slice(c), None))?;
        }
        if deferred {
            block_on(up.declare_length(&id, data.len() as u64)).unwrap();
        }
        store.armed.store(true, Ordering::SeqCst);
        let r = block_on(up.finalize(&id));
        store.armed.store(false, Ordering::SeqCst);
        r
    };
    // Over the limit: refused on the first part when the length is known...
    let huge = big_jpeg(1000, 9 * MIB);
    let r = upload(&huge, false, false);
    assert!(
        matches!(r, Err(Error::ImageBytesTooLarge { limit, .. }) if limit == 8 * MIB as u64),
        "{r:?}"
    );
    // ... and at finalize, before reading more than the first bytes, when
    // it is declared late.
    let r = upload(&huge, true, false);
    assert!(matches!(r, Err(Error::ImageBytesTooLarge { .. })), "{r:?}");
    assert!(store.get.load(Ordering::SeqCst) <= 64 * 1024);

    // Within it: 3.5 MiB of profile kept, 3 MiB of trailer dropped, in
    // 1 MiB windows and pieces, never the whole image in one value.
    let jpeg = big_jpeg(3 * MIB + MIB / 2, 3 * MIB);
    store.get.store(0, Ordering::SeqCst);
    store.put.store(0, Ordering::SeqCst);
    let p = upload(&jpeg, false, true).unwrap();
    // The trailer and the EXIF segment (marker, length, "Exif\0\0", 11 bytes).
    assert_eq!(p.stripped_bytes as usize, 3 * MIB + 2 + 2 + 6 + 11);
    let peak_get = store.get.load(Ordering::SeqCst) as usize;
    let peak_put = store.put.load(Ordering::SeqCst) as usize;
    assert!(peak_get <= MIB && peak_put <= MIB, "{peak_get} {peak_put}");
    let stored = store
        .inner
        .blocking()
        .get(&Key::new(p.key.as_str()).unwrap())
        .unwrap()
        .data;
    assert_eq!(stored.len() as u64, p.size);
    let (clean, _) = blocksmith_upload::image::strip_metadata(&jpeg[..jpeg.len() - 3 * MIB])
        .unwrap()
        .unwrap();
    assert_eq!(stored, clean);
    assert!(stored.len() > 3 * MIB, "the profile is kept");
    assert!(
        store
            .inner
            .blocking()
            .list_all("uploads/strip/")
            .unwrap()
            .is_empty(),
        "the pieces are gone"
    );
    // Not stripped: the parts are composed as they are, only read in windows.
    store.get.store(0, Ordering::SeqCst);
    store.put.store(0, Ordering::SeqCst);
    let p = upload(&jpeg, false, false).unwrap();
    assert_eq!(p.size, jpeg.len() as u64);
    assert!(store.get.load(Ordering::SeqCst) as usize <= MIB);
    assert!(
        store.put.load(Ordering::SeqCst) as usize <= 1024,
        "only the session record"
    );
}

#[test]
fn a_target_among_the_engines_own_records_is_refused() {
    let store = blocksmith_store::MemoryStore::new();
    let uploads = Uploads::new(&store);
    for target in [
        "uploads/sessions/x",
        "uploads/parts/abc/0",
        "uploads/strip/a/b",
    ] {
        let r = block_on(uploads.create(CreateOptions::new(3).with_target(target)));
        assert!(
            matches!(r, Err(Error::Invalid { what: "target", .. })),
            "{target}: {r:?}"
        );
    }
    // Its own default area for published objects is fine.
    block_on(uploads.create(CreateOptions::new(3).with_target("uploads/objects/x"))).unwrap();
}

/// `expire` deletes a session record only when its bytes are damaged: one
/// written by a newer release (a rolling upgrade) is kept with its parts.
#[test]
fn expire_keeps_records_of_a_newer_release_and_drops_damaged_ones() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct NewerSession {
        note: String,
    }
    impl blocksmith_store::Record for NewerSession {
        const KIND: &'static str = "upload.session";
        const VERSION: u32 = 99;
    }
    let store = MemoryStore::new();
    let up = Uploads::with_options(&store, small());
    let id = up
        .blocking()
        .create(CreateOptions::new(1000))
        .unwrap()
        .session
        .id;
    up.blocking().put_part(&id, 0, noise(500, 3), None).unwrap();
    let record = Key::new(format!("uploads/sessions/{id}")).unwrap();
    let newer = NewerSession {
        note: "from the future".into(),
    };
    store
        .blocking()
        .put_record(&record, &newer, blocksmith_store::PutOptions::new())
        .unwrap();
    let report = up.blocking().expire().unwrap();
    assert_eq!(report.corrupt_records, 0);
    assert_eq!(report.orphans, 0, "the newer session's part was deleted");
    assert!(store.blocking().get_opt(&record).unwrap().is_some());
    store.blocking().put(&record, "not a record").unwrap();
    let report = up.blocking().expire().unwrap();
    assert_eq!(report.corrupt_records, 1);
    assert!(store.blocking().get_opt(&record).unwrap().is_none());
}

/// Runs `meanwhile` when the store is first asked to list `prefix`: another
/// node acting between two steps of this one.
struct Meanwhile<'a> {
    inner: &'a MemoryStore,
    prefix: &'static str,
    hook: std::sync::Mutex<Option<Box<dyn FnOnce() + Send + 'a>>>,
}

impl blocksmith_store::Store for Meanwhile<'_> {
    fn capabilities(&self) -> blocksmith_store::Capabilities {
        self.inner.capabilities()
    }
    async fn get(
        &self,
        key: &Key,
        options: blocksmith_store::GetOptions,
    ) -> blocksmith_store::Result<blocksmith_store::GetResult> {
        blocksmith_store::Store::get(self.inner, key, options).await
    }
    async fn head(&self, key: &Key) -> blocksmith_store::Result<blocksmith_store::ObjectMeta> {
        self.inner.head(key).await
    }
    async fn put(
        &self,
        key: &Key,
        value: Bytes,
        options: blocksmith_store::PutOptions,
    ) -> blocksmith_store::Result<blocksmith_store::PutResult> {
        blocksmith_store::Store::put(self.inner, key, value, options).await
    }
    async fn delete(&self, key: &Key) -> blocksmith_store::Result<()> {
        blocksmith_store::Store::delete(self.inner, key).await
    }
    async fn list(
        &self,
        options: blocksmith_store::ListOptions,
    ) -> blocksmith_store::Result<blocksmith_store::ListPage> {
        if options.prefix == self.prefix {
            let hook = self.hook.lock().unwrap().take();
            if let Some(hook) = hook {
                hook();
            }
        }
        blocksmith_store::Store::list(self.inner, options).await
    }
}

/// A session another node creates and uploads to while `expire` runs (after
/// its listing of sessions, before its sweep of parts) keeps its parts.
#[test]
fn expire_keeps_the_parts_of_a_session_created_while_it_runs() {
    let store = MemoryStore::new();
    let other = Uploads::with_options(&store, small());
    let file = noise(300, 4);
    let created = std::sync::Mutex::new(None);
    let hooked = Meanwhile {
        inner: &store,
        prefix: "uploads/parts/",
        hook: std::sync::Mutex::new(Some(Box::new(|| {
            let id = block_on(other.create(CreateOptions::new(300)))
                .unwrap()
                .session
                .id;
            block_on(other.put_part(&id, 0, file.slice(..200), None)).unwrap();
            *created.lock().unwrap() = Some(id);
        }))),
    };
    let up = Uploads::with_options(&hooked, small());
    let report = block_on(up.expire()).unwrap();
    assert_eq!(report.orphans, 0, "{report:?}");
    let id = created.lock().unwrap().clone().unwrap();
    block_on(other.put_part(&id, 200, file.slice(200..), None)).unwrap();
    let done = block_on(other.finalize(&id)).unwrap();
    assert_eq!(done.size, 300);
}
