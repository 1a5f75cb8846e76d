//! Fault injection with `blocksmith_store::testing`: a store wrapper that
//! fails, loses acknowledgements or tears part writes at the N-th
//! operation, for every N, then "crashes" (every later call fails). A
//! restart on the same data must resume and publish the exact source bytes,
//! and expiry must leave no part behind.

use crate::noise;
use blocksmith_store::testing::CrashTest;
use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use blocksmith_upload::client::Uploader;
use blocksmith_upload::{CreateOptions, Error, UploadOptions, Uploads, Verify};
use bytes::Bytes;

fn options() -> UploadOptions {
    UploadOptions::default().with_part_size(1, 1 << 20)
}

fn create() -> CreateOptions {
    CreateOptions::default()
        .with_id("video-1")
        .with_target("media/video.bin")
        .with_expected(blocksmith_upload::Algorithm::Sha256.digest(&noise(10_000, 42)))
}

fn parts_left(store: &MemoryStore) -> usize {
    store.blocking().list_all("uploads/parts/").unwrap().len()
}

/// Every fault kind at every operation of an upload (parts torn: only the
/// part writes, which a client cut off mid-stream can leave short; the
/// session records are whole or absent, as the store promises), then a
/// restart from the store alone resumes, publishes the exact bytes and
/// keeps every acknowledged byte.
#[test]
fn crash_at_every_operation_then_resume() {
    let file = noise(10_000, 42);
    let uploader = Uploader::default().with_part_size(1000);
    let report = CrashTest::new().with_tear_prefix("uploads/parts/").run(
        MemoryStore::new,
        |faulty| {
            let first = Uploads::with_options(faulty, options());
            let mut acked = 0u64;
            let crashed = block_on(uploader.upload_with(&first, file.clone(), create(), |p| {
                acked = p.received;
                true
            }))
            .is_err();
            (crashed, acked)
        },
        |inner, (crashed, acked), point| {
            assert_eq!(crashed, point.fired, "{point}: the upload saw the crash");
            // Restart: a new engine on what the store kept.
            let second = Uploads::with_options(&inner, options());
            let out = block_on(uploader.upload(&second, file.clone(), create()))
                .unwrap_or_else(|e| panic!("{point}: resume failed: {e}"));
            let published = out.published.expect("published");
            let stored = inner
                .blocking()
                .get(&Key::new("media/video.bin").unwrap())
                .unwrap();
            assert_eq!(stored.data, file, "{point}");
            assert_eq!(published.size, 10_000);
            if crashed {
                assert!(
                    out.resumed || point.plan.at == 1,
                    "{point}: a second run resumes"
                );
                // Only the part in flight is lost: every acknowledged byte is kept.
                assert!(
                    out.already_received >= acked,
                    "{point}: had {acked} acked, server kept {}",
                    out.already_received
                );
            }
            // Expiry leaves nothing behind.
            let later = Uploads::with_options(&inner, options()).with_clock(|| u64::MAX / 2);
            block_on(later.expire()).unwrap();
            assert_eq!(parts_left(&inner), 0, "{point}");
            assert!(
                inner
                    .blocking()
                    .list_all("uploads/sessions/")
                    .unwrap()
                    .is_empty()
            );
        },
    );
    assert!(
        report.runs > 150,
        "only {} fault points exercised",
        report.runs
    );
    assert_eq!(report.crashes + 3, report.runs);
}

#[test]
fn rotten_part_is_detected_discarded_and_resent() {
    let store = MemoryStore::new();
    let uploads = Uploads::with_options(&store, options().with_verify(Verify::Reread));
    let file = noise(5000, 9);
    let id = block_on(uploads.create(CreateOptions::new(5000)))
        .unwrap()
        .session
        .id;
    for i in 0..5u64 {
        let part = file.slice(i as usize * 1000..(i as usize + 1) * 1000);
        block_on(uploads.put_part(&id, i * 1000, part, None)).unwrap();
    }
    // Bit rot in part 3, same size.
    let parts = store
        .blocking()
        .list_all(&format!("uploads/parts/{id}/"))
        .unwrap();
    let victim = &parts[3].key;
    let mut bad = store.blocking().get(victim).unwrap().data.to_vec();
    bad[17] ^= 0x10;
    store.blocking().put(victim, bad).unwrap();
    match block_on(uploads.finalize(&id)) {
        Err(Error::CorruptPart { range }) => assert_eq!(range, 3000..4000),
        other => panic!("{other:?}"),
    }
    // Never assembled: nothing was published, the part is gone and re-requested.
    assert!(
        store
            .blocking()
            .get_opt(&Key::new(format!("uploads/objects/{id}")).unwrap())
            .unwrap()
            .is_none()
    );
    let st = block_on(uploads.status(&id)).unwrap();
    assert_eq!(st.missing, vec![3000..4000]);
    block_on(uploads.put_part(&id, 3000, file.slice(3000..4000), None)).unwrap();
    let p = block_on(uploads.finalize(&id)).unwrap();
    let got = store
        .blocking()
        .get(&Key::new(p.key).unwrap())
        .unwrap()
        .data;
    assert_eq!(got, file);
}

#[test]
fn uploader_resends_rotten_parts_itself() {
    let store = MemoryStore::new();
    let uploads = Uploads::with_options(&store, options().with_verify(Verify::Reread));
    let file = noise(4000, 5);
    let uploader = Uploader::default().with_part_size(1000);
    let c = CreateOptions::default().with_id("rot");
    // Send three parts, "crash", rot two of them, resume.
    block_on(uploader.upload_with(&uploads, file.clone(), c.clone(), |p| p.parts_sent < 3))
        .unwrap();
    for meta in store
        .blocking()
        .list_all("uploads/parts/rot/")
        .unwrap()
        .iter()
        .take(2)
    {
        let mut v = store.blocking().get(&meta.key).unwrap().data.to_vec();
        v[0] ^= 1;
        store.blocking().put(&meta.key, v).unwrap();
    }
    let out = block_on(uploader.upload(&uploads, file.clone(), c)).unwrap();
    assert!(out.resumed);
    assert_eq!(out.already_received, 3000);
    assert_eq!(out.bytes_sent, 3000); // the missing part plus the two rotten ones
    let key = Key::new(out.published.unwrap().key).unwrap();
    assert_eq!(store.blocking().get(&key).unwrap().data, file);
}

#[test]
fn wrong_part_checksum_is_refused_before_storing() {
    let store = MemoryStore::new();
    let uploads = Uploads::with_options(&store, options());
    let id = block_on(uploads.create(CreateOptions::new(10)))
        .unwrap()
        .session
        .id;
    let sum = blocksmith_upload::Algorithm::Sha1.digest(b"0123456789");
    let r = block_on(uploads.put_part(&id, 0, Bytes::from_static(b"0123456780"), Some(&sum)));
    assert!(
        matches!(r, Err(Error::ChecksumMismatch { what: "part", .. })),
        "{r:?}"
    );
    assert_eq!(parts_left(&store), 0);
}

/// The child half of `killed_process_resumes`: uploads slowly into the
/// `DirStore` named by `UPLOAD_KILL_DIR`, printing each acknowledged part.
#[test]
fn child_uploader() {
    let Ok(dir) = std::env::var("UPLOAD_KILL_DIR") else {
        return; // only runs when spawned by killed_process_resumes
    };
    let store = blocksmith_store::DirStore::open(dir).unwrap();
    let uploads = Uploads::with_options(&store, options());
    let file = noise(200_000, 77);
    let _ = block_on(
        Uploader::default().with_part_size(10_000).upload_with(
            &uploads,
            file,
            CreateOptions::default()
                .with_id("killed")
                .with_target("out/killed.bin"),
            |p| {
                println!("acked {}", p.received);
                std::thread::sleep(std::time::Duration::from_millis(20));
                true
            },
        ),
    );
}

/// A real `kill -9` in the middle of an upload, then a new process resumes.
#[test]
fn killed_process_resumes() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "faults::child_uploader",
            "--exact",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("UPLOAD_KILL_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut acked = 0u64;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(n) = line.strip_prefix("acked ") {
            acked = n.parse().unwrap();
            if acked >= 70_000 {
                child.kill().unwrap(); // SIGKILL: no destructor, no flush
                break;
            }
        }
    }
    child.wait().unwrap();
    assert!(
        (70_000..200_000).contains(&acked),
        "child finished too early: {acked}"
    );
    let store = blocksmith_store::DirStore::open(dir.path()).unwrap();
    let uploads = Uploads::with_options(&store, options());
    let st = block_on(uploads.status("killed")).unwrap();
    assert!(
        st.received >= acked,
        "lost acknowledged parts: {} < {acked}",
        st.received
    );
    let file = noise(200_000, 77);
    let out = block_on(
        Uploader::default().with_part_size(10_000).upload(
            &uploads,
            file.clone(),
            CreateOptions::default()
                .with_id("killed")
                .with_target("out/killed.bin"),
        ),
    )
    .unwrap();
    assert!(out.resumed);
    assert_eq!(out.bytes_sent, 200_000 - st.received);
    let got = store
        .blocking()
        .get(&Key::new("out/killed.bin").unwrap())
        .unwrap();
    assert_eq!(got.data, file);
}
