//! Integration tests of every backend: the conformance suite plus what is
//! particular to each (crash safety, processes, dyn dispatch, S3).

use blocksmith_store::conformance::{Report, Suite};
use blocksmith_store::{
    BlockingPool, Bytes, DirStore, DynStore, Error, Key, MemoryStore, ObjectStoreAdapter, Offload,
    PutOptions, RedbStore, Store, StoreExt,
};
use proptest::strategy::Strategy as _;
use std::sync::Arc;

#[path = "store/adapter.rs"]
mod adapter;
#[path = "store/faulty.rs"]
mod faulty;
#[path = "store/multipart.rs"]
mod multipart;
#[cfg(feature = "postgres")]
#[path = "store/postgres.rs"]
mod postgres;
#[path = "store/scratch.rs"]
mod scratch;
#[path = "store/security.rs"]
mod security;
#[cfg(feature = "sqlite")]
#[path = "store/sqlite.rs"]
mod sqlite;

pub(crate) fn check<S: Store + ?Sized>(store: &S) -> Report {
    let report = Suite::new(store).run().unwrap_or_else(|f| panic!("{f}"));
    println!("passed {:?}, skipped {:?}", report.passed, report.skipped);
    report
}

#[test]
fn memory_conforms() {
    let r = check(&MemoryStore::new());
    assert!(r.skipped.is_empty());
}

#[test]
fn dir_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let r = check(&DirStore::open(dir.path()).unwrap());
    assert!(r.skipped.is_empty());
}

#[test]
fn redb_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let r = check(&RedbStore::open(dir.path().join("db.redb")).unwrap());
    assert!(r.skipped.is_empty());
}

#[test]
fn object_store_in_memory_conforms() {
    let inner = Arc::new(object_store::memory::InMemory::new());
    let r = check(&ObjectStoreAdapter::new(inner).unwrap());
    assert!(r.skipped.is_empty());
}

#[test]
fn offload_conforms_on_its_own_pool() {
    let pool = BlockingPool::new(3).unwrap();
    let r = check(&Offload::with_pool(MemoryStore::new(), pool.clone()));
    assert!(r.skipped.is_empty());
    let dir = tempfile::tempdir().unwrap();
    let r = check(&Offload::with_pool(
        DirStore::open(dir.path().join("d")).unwrap(),
        pool,
    ));
    assert!(r.skipped.is_empty());
    let r = check(&Offload::new(RedbStore::open(dir.path().join("db.redb")).unwrap()).unwrap());
    assert!(r.skipped.is_empty());
}

#[test]
fn offload_conforms_on_tokio_spawn_blocking() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Offload::with_tokio(DirStore::open(dir.path()).unwrap(), rt.handle().clone());
    let r = check(&store);
    assert!(r.skipped.is_empty());
    // Awaited inside the runtime's only thread, the put runs on its blocking
    // pool; the capabilities are the inner store's.
    let key = Key::new("inside/runtime").unwrap();
    rt.block_on(async {
        store.put_opts(&key, "v", PutOptions::create()).await?;
        assert_eq!(
            store.get_range(&key, 0..1).await?.data,
            Bytes::from_static(b"v")
        );
        Ok::<_, Error>(())
    })
    .unwrap();
    assert_eq!(store.capabilities(), store.inner().capabilities());
}

#[test]
fn update_closures_fail_with_their_own_errors() {
    #[derive(Debug, thiserror::Error)]
    #[error("balance would go negative")]
    struct Overdraft;
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Limit(u32);
    impl blocksmith_store::Record for Limit {
        const KIND: &'static str = "test.limit";
        const VERSION: u32 = 1;
    }
    let store = MemoryStore::new();
    let key = Key::new("accounts/1").unwrap();
    store.blocking().put(&key, "10").unwrap();
    let err = store
        .blocking()
        .update(&key, |old| {
            let n: i64 = std::str::from_utf8(old.unwrap()).unwrap().parse().unwrap();
            if n < 20 {
                return Err(Error::other(Overdraft));
            }
            Ok(Some((n - 20).to_string().into()))
        })
        .unwrap_err();
    assert!(matches!(err, Error::Other { .. }));
    assert!(!err.is_conflict() && !err.is_temporary() && !err.is_not_found());
    let source = std::error::Error::source(&err).unwrap();
    assert!(source.downcast_ref::<Overdraft>().is_some());
    // The value is unchanged; typed records carry the same errors.
    assert_eq!(&store.blocking().get(&key).unwrap().data[..], b"10");
    let rkey = Key::new("records/1").unwrap();
    let err = blocksmith_store::block_on(store.update_record::<Limit, _>(&rkey, |_| {
        Err(Error::other(std::io::Error::other("refused")))
    }))
    .unwrap_err();
    // The message names the failure; the closure's own error is the source.
    assert_eq!(err.to_string(), "the caller's operation failed");
    assert_eq!(
        std::error::Error::source(&err).unwrap().to_string(),
        "refused"
    );
}

#[test]
fn dyn_store_conforms() {
    let store: Arc<dyn DynStore> = Arc::new(MemoryStore::new());
    check(&store);
    let boxed: Box<dyn DynStore> = Box::new(MemoryStore::new());
    check(&*boxed);
}

/// A backend that declares no conditional writes must refuse them, and the
/// suite must report the skipped checks.
#[test]
fn undeclared_capabilities_are_skipped_and_refused() {
    let inner = Arc::new(object_store::memory::InMemory::new());
    let caps = blocksmith_store::Capabilities::FULL
        .with_create_only(false)
        .with_compare_and_swap(false);
    let store = ObjectStoreAdapter::new(inner)
        .unwrap()
        .with_capabilities(caps);
    let r = check(&store);
    let skipped: Vec<_> = r.skipped.iter().map(|s| s.0).collect();
    assert_eq!(
        skipped,
        [
            "create_only",
            "compare_and_swap",
            "create_race",
            "compare_and_swap_race"
        ]
    );
}

/// The live S3-compatible server's endpoint, when `BLOCKSMITH_S3_ENDPOINT`
/// is set (`.ci/run` starts one). Without it the caller skips, saying so,
/// unless `BLOCKSMITH_REQUIRE_S3=1`, which CI sets so a missing server fails
/// the run.
pub(crate) fn s3_endpoint() -> Option<String> {
    let Ok(endpoint) = std::env::var("BLOCKSMITH_S3_ENDPOINT") else {
        assert!(
            std::env::var("BLOCKSMITH_REQUIRE_S3").is_err(),
            "BLOCKSMITH_REQUIRE_S3 is set but BLOCKSMITH_S3_ENDPOINT is not"
        );
        eprintln!("SKIPPED: set BLOCKSMITH_S3_ENDPOINT to run against a live S3 server");
        return None;
    };
    Some(endpoint)
}

/// A builder for the live server (bucket, region and keys from
/// `BLOCKSMITH_S3_*`, with defaults), with conditional puts.
pub(crate) fn s3_builder(endpoint: &str) -> object_store::aws::AmazonS3Builder {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    object_store::aws::AmazonS3Builder::new()
        .with_endpoint(endpoint)
        .with_bucket_name(env("BLOCKSMITH_S3_BUCKET", "blocksmith"))
        .with_region(env("BLOCKSMITH_S3_REGION", "us-east-1"))
        .with_access_key_id(env("BLOCKSMITH_S3_ACCESS_KEY", "blocksmith"))
        .with_secret_access_key(env("BLOCKSMITH_S3_SECRET_KEY", "blocksmith-secret"))
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch)
}

/// Runs against a live S3-compatible server (see [`s3_endpoint`]), multipart
/// uploads included, with the conditional copy a large create-only stream
/// needs.
#[test]
fn s3_server_conforms() {
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let s3 = Arc::new(
        s3_builder(&endpoint)
            .with_copy_if_not_exists(object_store::aws::S3CopyIfNotExists::Multipart)
            .build()
            .expect("S3 builder"),
    );
    let store = ObjectStoreAdapter::new(s3.clone())
        .unwrap()
        .with_multipart(s3);
    let r = check(&store);
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    assert!(r.unsupported.is_empty(), "{:?}", r.unsupported);
}

#[test]
fn dir_store_never_serves_a_torn_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let key = Key::new("a/b").unwrap();
    store.blocking().put(&key, vec![7u8; 1000]).unwrap();
    // Simulate a torn write that bypassed the temp-and-rename path.
    let file = dir.path().join("data/a/b~");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..500]).unwrap();
    assert!(matches!(
        store.blocking().get(&key),
        Err(Error::Corrupt { .. })
    ));
    std::fs::write(&file, &bytes[..10]).unwrap();
    assert!(matches!(
        store.blocking().head(&key),
        Err(Error::Corrupt { .. })
    ));
    // Listing reports the damage instead of skipping the object.
    assert!(matches!(
        store.blocking().list_all(""),
        Err(Error::Corrupt { .. })
    ));
    // A put replaces it; a leftover temp file from a crashed writer is invisible.
    store.blocking().put(&key, "ok").unwrap();
    std::fs::write(dir.path().join("tmp/crashed"), b"partial").unwrap();
    assert_eq!(store.blocking().list_all("").unwrap().len(), 1);
}

#[test]
fn dir_store_reopens_with_data() {
    let dir = tempfile::tempdir().unwrap();
    let key = Key::new("persist/me").unwrap();
    let v = DirStore::open(dir.path())
        .unwrap()
        .blocking()
        .put(&key, "kept")
        .unwrap()
        .version;
    let store = DirStore::open(dir.path()).unwrap();
    let got = store.blocking().get(&key).unwrap();
    assert_eq!((&got.data[..], got.meta.version), (&b"kept"[..], v));
    std::fs::write(dir.path().join("BLOCKSMITH"), "something else").unwrap();
    assert!(matches!(
        DirStore::open(dir.path()),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn redb_store_reopens_with_data_and_fresh_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    let key = Key::new("k").unwrap();
    let v1 = RedbStore::open(&path)
        .unwrap()
        .blocking()
        .put(&key, "1")
        .unwrap()
        .version;
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.blocking().get(&key).unwrap().meta.version, v1);
    let v2 = store.blocking().put(&key, "2").unwrap().version;
    assert_ne!(v1, v2);
}

const WORKER_ENV: &str = "BLOCKSMITH_DIR_CAS_WORKER";

/// Not a test on its own: the child process of `dir_store_cas_across_processes`.
#[test]
fn dir_cas_worker() {
    let Ok(root) = std::env::var(WORKER_ENV) else {
        return;
    };
    let store = DirStore::open(root).unwrap();
    let key = Key::new("shared/counter").unwrap();
    for _ in 0..50 {
        store
            .blocking()
            .update(&key, blocksmith_store::conformance::increment)
            .unwrap();
    }
}

#[test]
fn dir_store_cas_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "dir_cas_worker",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(WORKER_ENV, dir.path())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let store = DirStore::open(dir.path()).unwrap();
    let got = store
        .blocking()
        .get(&Key::new("shared/counter").unwrap())
        .unwrap();
    assert_eq!(&got.data[..], b"200", "lost updates across processes");
}

#[test]
fn async_api_on_tokio() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = MemoryStore::new();
        let key = Key::new("k").unwrap();
        store
            .put(&key, "v".into(), PutOptions::create())
            .await
            .unwrap();
        let got = store.get_opt(&key).await.unwrap().unwrap();
        assert_eq!(&got.data[..], b"v");
    });
}

#[test]
fn typed_records_through_a_store() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Counter {
        n: u32,
    }
    impl blocksmith_store::Record for Counter {
        const KIND: &'static str = "test.counter";
        const VERSION: u32 = 1;
    }
    #[derive(serde::Serialize, serde::Deserialize, Debug)]
    struct CounterV2 {
        n: u64,
    }
    impl blocksmith_store::Record for CounterV2 {
        const KIND: &'static str = "test.counter";
        const VERSION: u32 = 2;
    }
    let store = MemoryStore::new();
    let s = store.blocking();
    let key = Key::new("c").unwrap();
    for _ in 0..3 {
        s.update_record::<Counter, _>(&key, |c| {
            Ok(Some(Counter {
                n: c.map_or(0, |c| c.n) + 1,
            }))
        })
        .unwrap();
    }
    assert_eq!(
        s.get_record::<Counter>(&key).unwrap().unwrap().0,
        Counter { n: 3 }
    );
    assert!(matches!(
        s.get_record::<CounterV2>(&key),
        Err(Error::SchemaMismatch {
            expected: 2,
            found: 1,
            ..
        })
    ));
    s.put(&key, "garbage").unwrap();
    assert!(matches!(
        s.get_record::<Counter>(&key),
        Err(Error::Corrupt { .. })
    ));
}

fn seg_count(root: &std::path::Path) -> usize {
    std::fs::read_dir(root.join("segs")).unwrap().count()
}

/// `compose` on a directory links the parts' files instead of copying them,
/// and replacing or deleting the result leaves no segment behind.
#[cfg(unix)]
#[test]
fn dir_store_compose_links_instead_of_copying() {
    use blocksmith_store::ComposePart;
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let b = store.blocking();
    let (a, c) = (Key::new("parts/a").unwrap(), Key::new("parts/c").unwrap());
    b.put(&a, vec![1u8; 1 << 20]).unwrap();
    b.put(&c, vec![2u8; 1000]).unwrap();
    let whole = Key::new("objects/whole").unwrap();
    let parts = [ComposePart::new(a.clone()), ComposePart::new(c.clone())];
    b.compose(&whole, &parts, PutOptions::create()).unwrap();
    let part_file = dir.path().join("data/parts/a~");
    assert_eq!(std::fs::metadata(&part_file).unwrap().nlink(), 2);
    let manifest = std::fs::metadata(dir.path().join("data/objects/whole~")).unwrap();
    assert!(manifest.len() < 200, "the manifest holds no data");
    assert_eq!(seg_count(dir.path()), 2);
    // The parts go; the object stays whole, also after reopening.
    b.delete(&a).unwrap();
    b.delete(&c).unwrap();
    let reopened = DirStore::open(dir.path()).unwrap();
    let got = reopened.blocking().get(&whole).unwrap();
    assert_eq!(got.data.len(), (1 << 20) + 1000);
    assert!(got.data[..1 << 20].iter().all(|&x| x == 1));
    assert!(got.data[1 << 20..].iter().all(|&x| x == 2));
    // Overwriting and deleting a composed object unlink its segments.
    b.put(&a, "x").unwrap();
    b.compose(&whole, &[ComposePart::new(a.clone())], PutOptions::new())
        .unwrap();
    assert_eq!(seg_count(dir.path()), 1);
    b.put(&whole, "plain").unwrap();
    assert_eq!(seg_count(dir.path()), 0);
    b.compose(&whole, &[ComposePart::new(a)], PutOptions::new())
        .unwrap();
    b.delete(&whole).unwrap();
    assert_eq!(seg_count(dir.path()), 0);
}

/// A damaged manifest or a lost segment is reported, never served; links
/// orphaned by a crash are collected, live ones kept.
#[test]
fn dir_store_composed_damage_and_garbage() {
    use blocksmith_store::ComposePart;
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let b = store.blocking();
    let p = Key::new("p").unwrap();
    b.put(&p, vec![5u8; 4096]).unwrap();
    let (live, dead) = (Key::new("live").unwrap(), Key::new("dead").unwrap());
    b.compose(&live, &[ComposePart::new(p.clone())], PutOptions::new())
        .unwrap();
    b.compose(
        &dead,
        &[ComposePart::new(p.clone()), ComposePart::new(p)],
        PutOptions::new(),
    )
    .unwrap();
    let manifest = dir.path().join("data/dead~");
    let bytes = std::fs::read(&manifest).unwrap();
    std::fs::write(&manifest, &bytes[..bytes.len() - 3]).unwrap();
    assert!(matches!(b.get(&dead), Err(Error::Corrupt { .. })));
    // A "crash" after removing the manifest but before unlinking: orphans.
    std::fs::remove_file(&manifest).unwrap();
    assert_eq!(seg_count(dir.path()), 3);
    assert_eq!(store.collect_garbage().unwrap(), 0, "young links are kept");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    for e in std::fs::read_dir(dir.path().join("segs")).unwrap() {
        let f = std::fs::File::options()
            .write(true)
            .open(e.unwrap().path())
            .unwrap();
        f.set_modified(old).unwrap();
    }
    assert_eq!(store.collect_garbage().unwrap(), 2);
    assert_eq!(b.get(&live).unwrap().data.len(), 4096);
    // A segment lost under a live manifest is corruption.
    for e in std::fs::read_dir(dir.path().join("segs")).unwrap() {
        std::fs::remove_file(e.unwrap().path()).unwrap();
    }
    assert!(matches!(b.get(&live), Err(Error::Corrupt { .. })));
}

/// Readers racing a writer that replaces a composed object see one whole
/// version or the other, never a mix or an error.
#[test]
fn dir_store_composed_reads_race_overwrites() {
    use blocksmith_store::ComposePart;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(DirStore::open(dir.path()).unwrap());
    let b = store.blocking();
    let parts: Vec<Key> = (0..4u8)
        .map(|i| {
            let k = Key::new(format!("parts/{i}")).unwrap();
            b.put(&k, vec![i; 20_000]).unwrap();
            k
        })
        .collect();
    let target = Key::new("racy").unwrap();
    b.compose(
        &target,
        &[ComposePart::new(parts[0].clone())],
        PutOptions::new(),
    )
    .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (store, stop, target) = (store.clone(), stop.clone(), target.clone());
        std::thread::spawn(move || {
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let got = store.blocking().get(&target).unwrap();
                let first = got.data[0];
                assert!(got.data.len() % 20_000 == 0);
                assert!(got.data.iter().all(|&x| x == first), "mixed versions");
                reads += 1;
            }
            reads
        })
    };
    for round in 0..300usize {
        let k = &parts[round % 4];
        let n = 1 + round % 3;
        let list = vec![ComposePart::new(k.clone()); n];
        b.compose(&target, &list, PutOptions::new()).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    assert_eq!(
        seg_count(dir.path()),
        b.get(&target).unwrap().data.len() / 20_000
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// Composing random ranges of random parts (then of the result) gives
    /// the concatenation, on the memory and the directory store alike.
    #[test]
    fn compose_equals_concatenation(
        sizes in proptest::collection::vec(1usize..3000, 1..5),
        picks in proptest::collection::vec((0usize..8, 0u64..3000, 0u64..3000), 1..7),
    ) {
        use blocksmith_store::ComposePart;
        let dir = tempfile::tempdir().unwrap();
        let dirstore = DirStore::open(dir.path()).unwrap();
        let memory = MemoryStore::new();
        let stores: [&dyn DynStore; 2] = [&dirstore, &memory];
        for store in stores {
            let b = store.blocking();
            let mut datas = Vec::new();
            for (i, &n) in sizes.iter().enumerate() {
                let data: Vec<u8> = (0..n).map(|j| (j * 31 + i * 7) as u8).collect();
                b.put(&Key::new(format!("p/{i}")).unwrap(), data.clone()).unwrap();
                datas.push(data);
            }
            let mut parts = Vec::new();
            let mut expect = Vec::new();
            for &(i, a, z) in &picks {
                let i = i % sizes.len();
                let n = sizes[i] as u64;
                let (lo, hi) = (a.min(z) % n, (a.max(z) % n) + 1);
                let part = ComposePart::new(Key::new(format!("p/{i}")).unwrap());
                if lo + 1 < hi {
                    parts.push(part.with_range(lo..hi));
                    expect.extend_from_slice(&datas[i][lo as usize..hi as usize]);
                } else {
                    parts.push(part);
                    expect.extend_from_slice(&datas[i]);
                }
            }
            let t = Key::new("t").unwrap();
            b.compose(&t, &parts, PutOptions::new()).unwrap();
            proptest::prop_assert_eq!(&b.get(&t).unwrap().data[..], &expect[..]);
            // Again over the composed object, middle third.
            let n = expect.len() as u64;
            let (lo, hi) = (n / 3, (2 * n / 3).max(n / 3 + 1));
            let t2 = Key::new("t2").unwrap();
            let again = [ComposePart::new(t.clone()).with_range(lo..hi), ComposePart::new(t.clone())];
            b.compose(&t2, &again, PutOptions::new()).unwrap();
            let mut expect2 = expect[lo as usize..hi as usize].to_vec();
            expect2.extend_from_slice(&expect);
            proptest::prop_assert_eq!(&b.get(&t2).unwrap().data[..], &expect2[..]);
            let r = b.get_range(&t2, lo..hi).unwrap();
            proptest::prop_assert_eq!(&r.data[..], &expect2[lo as usize..hi as usize]);
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Hostile manifests (the right magic, anything after it) and hostile
    /// segments give a typed error or bytes, never a panic; a manifest whose
    /// extents do not add up is always refused.
    #[test]
    fn hostile_manifests_are_typed_errors(
        version in proptest::prelude::any::<u128>(),
        claimed in 0u64..5000,
        entries in proptest::collection::vec(
            (0u32..3, proptest::prelude::any::<u128>(), 0u64..3000, 0u64..3000), 0..4),
        tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..8),
        segment in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = DirStore::open(dir.path()).unwrap();
        let mut m = b"BSC1".to_vec();
        m.extend_from_slice(&version.to_le_bytes());
        m.extend_from_slice(&claimed.to_le_bytes());
        m.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for (link, v, start, len) in &entries {
            m.extend_from_slice(&link.to_le_bytes());
            m.extend_from_slice(&v.to_le_bytes());
            m.extend_from_slice(&start.to_le_bytes());
            m.extend_from_slice(&len.to_le_bytes());
        }
        m.extend_from_slice(&tail);
        std::fs::write(dir.path().join("data/k~"), &m).unwrap();
        std::fs::write(dir.path().join(format!("segs/{version:032x}.0")), &segment).unwrap();
        let key = Key::new("k").unwrap();
        let got = store.blocking().get(&key);
        let sum: u64 = entries.iter().map(|e| e.3).sum();
        if sum != claimed || !tail.is_empty() {
            proptest::prop_assert!(matches!(got, Err(Error::Corrupt { .. })), "{got:?}");
        }
        if let Ok(r) = got {
            proptest::prop_assert_eq!(r.data.len() as u64, claimed);
        }
        let _ = store.blocking().get_range(&key, 1..50);
        let _ = store.blocking().head(&key);
        store.blocking().delete(&key).unwrap();
    }
}

/// Deleting the last key under a directory removes the empty directories
/// (an upload engine's per-session prefixes must not pile up), and puts
/// racing deletes in the same directory never fail.
#[test]
fn dir_store_prunes_empty_directories_and_races_puts() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(DirStore::open(dir.path()).unwrap());
    let b = store.blocking();
    let keys: Vec<Key> = ["u/parts/s1/a", "u/parts/s1/b", "u/parts/s2/a"]
        .iter()
        .map(|k| Key::new(*k).unwrap())
        .collect();
    for k in &keys {
        b.put(k, "x").unwrap();
    }
    b.delete(&keys[0]).unwrap();
    assert!(
        dir.path().join("data/u/parts/s1").is_dir(),
        "s1 still holds b"
    );
    b.delete(&keys[1]).unwrap();
    assert!(!dir.path().join("data/u/parts/s1").exists());
    assert!(dir.path().join("data/u/parts/s2").is_dir());
    b.delete(&keys[2]).unwrap();
    assert!(
        !dir.path().join("data/u").exists(),
        "every empty level is removed"
    );
    assert_eq!(
        std::fs::read_dir(dir.path().join("data")).unwrap().count(),
        0
    );
    // Four threads, each putting then deleting its own key in one directory,
    // so the directory keeps disappearing under the other's puts.
    let workers: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let key = Key::new(format!("race/deep/k{t}")).unwrap();
                for i in 0..300 {
                    store.blocking().put(&key, format!("{i}")).unwrap();
                    assert_eq!(store.blocking().get(&key).unwrap().data, format!("{i}"));
                    store.blocking().delete(&key).unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    assert!(!dir.path().join("data/race").exists());
}

#[test]
fn dir_conforms_with_every_value_written_direct() {
    let dir = tempfile::tempdir().unwrap();
    let r = check(&DirStore::open(dir.path()).unwrap().with_direct_io(Some(0)));
    assert!(r.skipped.is_empty());
}

/// A value in memory that starts `shift` bytes after a 4 KiB boundary.
fn shifted(data: &[u8], shift: usize) -> bytes::Bytes {
    let mut v = vec![0u8; data.len() + 8192];
    let at = v.as_ptr().align_offset(4096) + shift;
    v[at..at + data.len()].copy_from_slice(data);
    bytes::Bytes::from(v).slice(at..at + data.len())
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
    /// Values written with direct I/O (aligned memory, unaligned memory,
    /// lengths on and off block boundaries) read back whole and in ranges,
    /// through a store that writes buffered too, and compose with buffered
    /// ones.
    #[test]
    fn direct_writes_round_trip(
        len in proptest::prop_oneof![0usize..20_000, (1usize..4).prop_map(|b| b * 4096)],
        shift in proptest::prop_oneof![proptest::strategy::Just(0usize), 1usize..4096],
        range in (0u64..30_000, 0u64..30_000),
    ) {
        use blocksmith_store::ComposePart;
        let dir = tempfile::tempdir().unwrap();
        let direct = DirStore::open(dir.path()).unwrap().with_direct_io(Some(0));
        let buffered = DirStore::open(dir.path()).unwrap().with_direct_io(None);
        let data: Vec<u8> = (0..len).map(|i| (i * 131 + len) as u8).collect();
        let key = Key::new("v/direct").unwrap();
        direct.blocking().put(&key, shifted(&data, shift)).unwrap();
        #[cfg(target_os = "linux")]
        {
            let file = std::fs::read(dir.path().join("data/v/direct~")).unwrap();
            proptest::prop_assert_eq!(&file[..4], b"BSB2");
            proptest::prop_assert_eq!(file.len(), 4096 + len);
        }
        for store in [&direct, &buffered] {
            let got = store.blocking().get(&key).unwrap();
            proptest::prop_assert_eq!(&got.data[..], &data[..]);
            if len > 0 {
                let (a, z) = (range.0 % len as u64, range.1 % len as u64);
                let r = a.min(z)..a.max(z) + 1;
                let part = store.blocking().get_range(&key, r.clone()).unwrap();
                proptest::prop_assert_eq!(&part.data[..], &data[r.start as usize..r.end as usize]);
            }
        }
        let plain = Key::new("v/plain").unwrap();
        buffered.blocking().put(&plain, "tail").unwrap();
        let whole = Key::new("whole").unwrap();
        let parts = [ComposePart::new(key.clone()), ComposePart::new(plain)];
        direct.blocking().compose(&whole, &parts, PutOptions::new()).unwrap();
        let mut expect = data.clone();
        expect.extend_from_slice(b"tail");
        proptest::prop_assert_eq!(&direct.blocking().get(&whole).unwrap().data[..], &expect[..]);
        // A torn direct-written file is refused, never served.
        if len > 0 {
            let path = dir.path().join("data/v/direct~");
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.set_len(4096 + len as u64 - 1).unwrap();
            let torn = direct.blocking().get(&key);
            proptest::prop_assert!(matches!(torn, Err(Error::Corrupt { .. })), "{:?}", torn);
        }
    }
}

/// Values of 64 KiB and more keep their bytes page-aligned in the file (a
/// 4 KiB header block), smaller ones right after the 28-byte header; both
/// read back whole and in ranges, whichever way they were written.
#[test]
fn large_values_are_stored_page_aligned_small_ones_compactly() {
    let dir = tempfile::tempdir().unwrap();
    let buffered = DirStore::open(dir.path()).unwrap().with_direct_io(None);
    for (n, magic, file_len) in [
        (65_535usize, b"BSB1", 28 + 65_535),
        (65_536, b"BSB2", 4096 + 65_536),
        (200_001, b"BSB2", 4096 + 200_001),
    ] {
        let data: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
        let key = Key::new(format!("sizes/{n}")).unwrap();
        buffered.blocking().put(&key, data.clone()).unwrap();
        let file = std::fs::read(dir.path().join(format!("data/sizes/{n}~"))).unwrap();
        assert_eq!((&file[..4], file.len()), (&magic[..], file_len), "{n}");
        assert_eq!(buffered.blocking().get(&key).unwrap().data, data);
        let r = buffered.blocking().get_range(&key, 4000..4200).unwrap();
        assert_eq!(r.data, data[4000..4200]);
    }
}

/// A streamed read of an object replaced midway: backends that read by
/// ranged windows end the body with `PreconditionFailed`; `DirStore` keeps
/// reading the version it opened. Never a mix of two versions.
#[test]
fn a_stream_never_mixes_two_versions() {
    use blocksmith_store::GetOptions;
    let dir = tempfile::tempdir().unwrap();
    let redb = RedbStore::open(dir.path().join("r.redb")).unwrap();
    let dirs = DirStore::open(dir.path().join("d")).unwrap();
    let n = 3 * blocksmith_store::STREAM_CHUNK as usize;
    let old = Bytes::from(vec![1u8; n]);
    let new = Bytes::from(vec![2u8; n]);
    let stores: [(&str, &dyn DynStore); 2] = [("redb", &redb), ("dir", &dirs)];
    for (name, store) in stores {
        let key = Key::new(format!("mix/{name}")).unwrap();
        store.blocking().put(&key, old.clone()).unwrap();
        let mut body = store
            .blocking()
            .get_stream(&key, GetOptions::new())
            .unwrap();
        let first = body.next().unwrap().unwrap();
        assert!(first.iter().all(|&b| b == 1));
        store.blocking().put(&key, new.clone()).unwrap();
        let rest: Vec<_> = body.collect();
        let failed = rest.iter().any(Result::is_err);
        for chunk in rest.iter().flatten() {
            assert!(
                chunk.iter().all(|&b| b == 1),
                "{name}: a chunk of the new version"
            );
        }
        match name {
            "redb" => assert!(
                matches!(rest.last(), Some(Err(Error::PreconditionFailed { .. }))),
                "{name}: {failed}"
            ),
            _ => assert!(!failed, "{name} keeps the opened version"),
        }
    }
}

/// `Offload` feeds a streamed put to the pool through a channel; a body
/// that fails stops it with its own error and writes nothing.
#[test]
fn offload_streams_puts_and_stops_on_a_failing_body() {
    use blocksmith_store::{GetOptions, byte_stream};
    let dir = tempfile::tempdir().unwrap();
    let store = Offload::with_pool(
        DirStore::open(dir.path()).unwrap(),
        BlockingPool::new(1).unwrap(),
    );
    let key = Key::new("offload/stream").unwrap();
    let chunks = (0..20u8).map(|i| Ok(Bytes::from(vec![i; 100_000])));
    store
        .blocking()
        .put_stream(&key, byte_stream(chunks), PutOptions::create())
        .unwrap();
    let got = store
        .blocking()
        .get_stream(&key, GetOptions::new())
        .unwrap();
    let all: Vec<u8> = got.flat_map(|c| c.unwrap().to_vec()).collect();
    assert_eq!(all.len(), 2_000_000);
    assert!(
        all.chunks(100_000)
            .enumerate()
            .all(|(i, c)| c.iter().all(|&b| b as usize == i))
    );
    let failing = byte_stream([
        Ok(Bytes::from_static(b"half")),
        Err(Error::other(std::io::Error::other("gone"))),
    ]);
    let r = store
        .blocking()
        .put_stream(&key, failing, PutOptions::new());
    assert!(matches!(r, Err(Error::Other { .. })), "{r:?}");
    assert_eq!(store.blocking().head(&key).unwrap().size, 2_000_000);
}

/// Several processes (here threads) opening one new `DirStore` at the same
/// moment all succeed: none reads the marker file half written.
#[test]
fn a_new_dir_store_opened_by_many_at_once() {
    for _ in 0..200 {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("store");
        let barrier = std::sync::Barrier::new(8);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    barrier.wait();
                    DirStore::open(&root).expect("a concurrent open");
                });
            }
        });
    }
}

/// A streamed put whose caller goes away mid-body (its future dropped)
/// writes nothing, on the backends that finish the put elsewhere than in
/// the caller's future (`Offload`'s pool here; `PostgresStore`'s runtime in
/// `store/postgres.rs`): the body's end is a message, not the channel closing.
#[test]
fn a_cancelled_streamed_put_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Offload::new(DirStore::open(dir.path()).unwrap()).unwrap();
    let key = Key::new("cancelled/put").unwrap();
    cancel_mid_body(&store, &key);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        store.blocking().get_opt(&key).unwrap().is_none(),
        "a truncated value was published"
    );
}

/// Starts a streamed put whose body sends one chunk and then waits forever,
/// and drops it after a moment.
pub(crate) fn cancel_mid_body<S: Store>(store: &S, key: &Key) {
    let mut sent = false;
    let body = Box::pin(futures_util::stream::poll_fn(move |_| {
        if sent {
            std::task::Poll::Pending
        } else {
            sent = true;
            std::task::Poll::Ready(Some(Ok(Bytes::from(vec![7u8; 3 << 20]))))
        }
    }));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let r = rt.block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_millis(300),
            store.put_stream(key, body, PutOptions::new()),
        )
        .await
    });
    assert!(r.is_err(), "the put finished without the end of its body");
}
