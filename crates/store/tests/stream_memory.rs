//! A 1 GiB object streamed into and out of every backend with the process
//! never growing by 64 MiB: the bound `Store::put_stream` and
//! `Store::get_stream` promise. One test, backends one after another, so
//! the peak resident size (Linux `VmHWM`, reset through
//! `/proc/self/clear_refs` before each) belongs to one backend at a time.
//!
//! PostgreSQL and the S3-compatible server join when `BLOCKSMITH_POSTGRES_URL`
//! and `BLOCKSMITH_S3_ENDPOINT` are set.

use blocksmith_store::{
    ByteStream, Bytes, DirStore, GetOptions, Key, ObjectStoreAdapter, Offload, PutOptions,
    RedbOptions, RedbStore, SqliteStore, Store, StoreExt, block_on, byte_stream,
};
use std::sync::Arc;

const GIB: u64 = 1 << 30;
const BOUND: u64 = 64 << 20;
const CHUNK: usize = 1 << 20;

/// One generated MiB; chunk `i` of an object is it with `i` stamped in its
/// first eight bytes, so a misplaced or repeated chunk is caught.
fn block() -> Vec<u8> {
    (0..CHUNK).map(|i| (i * 131 % 251) as u8).collect()
}

fn chunk(block: &[u8], i: u64, len: usize) -> Bytes {
    let mut c = block[..len].to_vec();
    let stamp = i.to_le_bytes();
    let n = stamp.len().min(len);
    c[..n].copy_from_slice(&stamp[..n]);
    Bytes::from(c)
}

fn body(size: u64) -> ByteStream<'static> {
    let block = block();
    let mut i = 0u64;
    byte_stream(std::iter::from_fn(move || {
        let at = i * CHUNK as u64;
        if at >= size {
            return None;
        }
        let len = (size - at).min(CHUNK as u64) as usize;
        let c = chunk(&block, i, len);
        i += 1;
        Some(Ok(c))
    }))
}

#[cfg(target_os = "linux")]
fn status(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// Streams `size` bytes in and out of `store`; returns how far the peak
/// resident size rose above the resident size before.
fn stream_through<S: Store + ?Sized>(name: &str, store: &S, size: u64) -> u64 {
    #[cfg(target_os = "linux")]
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    #[cfg(target_os = "linux")]
    let before = status("VmRSS:");
    let key = Key::new(format!("stream-memory/{name}")).unwrap();
    let started = std::time::Instant::now();
    let put = block_on(store.put_stream(&key, body(size), PutOptions::new())).unwrap();
    assert_eq!(store.blocking().head(&key).unwrap().size, size, "{name}");
    let got = store
        .blocking()
        .get_stream(&key, GetOptions::new())
        .unwrap();
    assert_eq!(got.meta.version, put.version, "{name}");
    let block = block();
    let mut at = 0u64;
    let mut pending = Vec::new();
    for c in got {
        pending.extend_from_slice(&c.unwrap());
        // Compare whole MiBs as they complete (chunk boundaries differ by
        // backend).
        while pending.len() >= CHUNK || (at + pending.len() as u64 == size && !pending.is_empty()) {
            let len = pending.len().min(CHUNK);
            let i = at / CHUNK as u64;
            assert!(
                pending[..len] == chunk(&block, i, len)[..],
                "{name}: MiB {i} differs"
            );
            pending.drain(..len);
            at += len as u64;
        }
    }
    assert_eq!(at, size, "{name}: streamed length");
    store.blocking().delete(&key).unwrap();
    #[cfg(target_os = "linux")]
    {
        let peak = status("VmHWM:");
        let rise = peak.saturating_sub(before);
        println!(
            "{name}: {} MiB in and out in {:.1} s, peak RSS {} MiB above the {} MiB before",
            size >> 20,
            started.elapsed().as_secs_f64(),
            rise >> 20,
            before >> 20
        );
        rise
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = started;
        0
    }
}

#[test]
fn a_gib_streams_through_every_backend_within_64_mib() {
    let dir = tempfile::tempdir().unwrap();
    let mut rises = Vec::new();

    let store = DirStore::open(dir.path().join("dir")).unwrap();
    rises.push(("DirStore", stream_through("dir", &store, GIB)));
    let offload = Offload::new(store).unwrap();
    rises.push((
        "Offload<DirStore>",
        stream_through("offload", &offload, GIB),
    ));
    drop(offload);

    // redb's page cache is heap: bounded to 16 MiB here (the default is 64).
    let redb = RedbStore::open_with(
        dir.path().join("store.redb"),
        RedbOptions::default().with_cache_size(16 << 20),
    )
    .unwrap();
    rises.push(("RedbStore", stream_through("redb", &redb, GIB)));
    drop(redb);

    // SQLite's values stop at 1e9 bytes.
    let sqlite = SqliteStore::open(dir.path().join("store.sqlite")).unwrap();
    rises.push(("SqliteStore", stream_through("sqlite", &sqlite, 900 << 20)));
    drop(sqlite);

    #[cfg(feature = "postgres")]
    if let Ok(url) = std::env::var("BLOCKSMITH_POSTGRES_URL") {
        let prefix = format!("stream_memory_{}", std::process::id());
        let options = blocksmith_store::PostgresOptions::new(url).with_table_prefix(&prefix);
        let pg = block_on(blocksmith_store::PostgresStore::open(options)).unwrap();
        rises.push(("PostgresStore", stream_through("postgres", &pg, GIB)));
    } else {
        eprintln!("PostgreSQL SKIPPED: set BLOCKSMITH_POSTGRES_URL to stream through a server");
    }

    if let Ok(endpoint) = std::env::var("BLOCKSMITH_S3_ENDPOINT") {
        let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
        let s3 = object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&endpoint)
            .with_bucket_name(env("BLOCKSMITH_S3_BUCKET", "blocksmith"))
            .with_region(env("BLOCKSMITH_S3_REGION", "us-east-1"))
            .with_access_key_id(env("BLOCKSMITH_S3_ACCESS_KEY", "blocksmith"))
            .with_secret_access_key(env("BLOCKSMITH_S3_SECRET_KEY", "blocksmith-secret"))
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .build()
            .unwrap();
        let adapter = ObjectStoreAdapter::new(Arc::new(s3)).unwrap();
        rises.push((
            "ObjectStoreAdapter (S3)",
            stream_through("s3", &adapter, GIB),
        ));
    } else {
        eprintln!("S3 SKIPPED: set BLOCKSMITH_S3_ENDPOINT to stream through a live S3 server");
    }

    for (name, rise) in rises {
        assert!(
            rise < BOUND,
            "{name}: the peak resident size rose by {} MiB (bound {} MiB)",
            rise >> 20,
            BOUND >> 20
        );
    }
}
