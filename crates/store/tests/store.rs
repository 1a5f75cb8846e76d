//! Integration tests of every backend: the conformance suite plus what is
//! particular to each (crash safety, processes, dyn dispatch, S3).

use blocksmith_store::conformance::{Report, Suite};
use blocksmith_store::{
    DirStore, DynStore, Error, Key, MemoryStore, ObjectStoreAdapter, PutOptions, RedbStore, Store,
    StoreExt,
};
use std::sync::Arc;

fn check<S: Store + ?Sized>(store: &S) -> Report {
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

/// Runs against a live S3-compatible server when `BLOCKSMITH_S3_ENDPOINT` is
/// set (`.ci/run` starts one). Without it the test says so and passes, unless
/// `BLOCKSMITH_REQUIRE_S3=1`, which CI sets so a missing server fails the run.
#[test]
fn s3_server_conforms() {
    let Ok(endpoint) = std::env::var("BLOCKSMITH_S3_ENDPOINT") else {
        assert!(
            std::env::var("BLOCKSMITH_REQUIRE_S3").is_err(),
            "BLOCKSMITH_REQUIRE_S3 is set but BLOCKSMITH_S3_ENDPOINT is not"
        );
        eprintln!("SKIPPED: set BLOCKSMITH_S3_ENDPOINT to run against a live S3 server");
        return;
    };
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
    let s3 = object_store::aws::AmazonS3Builder::new()
        .with_endpoint(&endpoint)
        .with_bucket_name(env("BLOCKSMITH_S3_BUCKET", "blocksmith"))
        .with_region(env("BLOCKSMITH_S3_REGION", "us-east-1"))
        .with_access_key_id(env("BLOCKSMITH_S3_ACCESS_KEY", "blocksmith"))
        .with_secret_access_key(env("BLOCKSMITH_S3_SECRET_KEY", "blocksmith-secret"))
        .with_allow_http(true)
        .with_virtual_hosted_style_request(false)
        .with_conditional_put(object_store::aws::S3ConditionalPut::ETagMatch)
        .build()
        .expect("S3 builder");
    let store = ObjectStoreAdapter::new(Arc::new(s3)).unwrap();
    let r = check(&store);
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
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
