//! `SqliteStore`: conformance, reopen, compare-and-swap across processes,
//! the schema guard and a busy database as a temporary error.

use crate::check;
use blocksmith_store::{
    Error, GetOptions, Key, PutOptions, SqliteOptions, SqliteStore, Store, StoreExt, block_on,
};
use std::time::Duration;

#[test]
fn sqlite_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let r = check(&SqliteStore::open(dir.path().join("db.sqlite")).unwrap());
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
}

#[test]
fn sqlite_reopens_with_data_and_fresh_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let key = Key::new("k/1").unwrap();
    let v1 = {
        let store = SqliteStore::open(&path).unwrap();
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        store
            .blocking()
            .put(&Key::new("k/big").unwrap(), big)
            .unwrap();
        store.blocking().put(&key, "1").unwrap().version
    };
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.blocking().get(&key).unwrap().meta.version, v1);
    let v2 = store.blocking().put(&key, "2").unwrap().version;
    assert_ne!(v1, v2);
    let r = block_on(store.get(
        &Key::new("k/big").unwrap(),
        GetOptions::new().with_range(1000..1010u64),
    ))
    .unwrap();
    let want: Vec<u8> = (1000..1010u32).map(|i| (i % 251) as u8).collect();
    assert_eq!((&r.data[..], r.meta.size), (&want[..], 200_000));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    drop(SqliteStore::open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE blocksmith_meta SET value = 99 WHERE name = 'schema'",
        [],
    )
    .unwrap();
    drop(conn);
    assert!(matches!(
        SqliteStore::open(&path),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn a_write_lock_held_elsewhere_is_a_temporary_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let store = SqliteStore::open_with(
        &path,
        SqliteOptions::default().with_busy_timeout(Duration::from_millis(50)),
    )
    .unwrap();
    let mut other = rusqlite::Connection::open(&path).unwrap();
    let txn = other
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    let err =
        block_on(store.put(&Key::new("k").unwrap(), "v".into(), PutOptions::new())).unwrap_err();
    assert!(err.is_temporary(), "{err:?}");
    drop(txn);
    store.blocking().put(&Key::new("k").unwrap(), "v").unwrap();
}

const WORKER_ENV: &str = "BLOCKSMITH_SQLITE_CAS_WORKER";

/// Not a test on its own: the child process of `sqlite_cas_across_processes`.
#[test]
fn sqlite_cas_worker() {
    let Ok(path) = std::env::var(WORKER_ENV) else {
        return;
    };
    let store = SqliteStore::open(path).unwrap();
    let key = Key::new("shared/counter").unwrap();
    for _ in 0..50 {
        store
            .blocking()
            .update(&key, blocksmith_store::conformance::increment)
            .unwrap();
    }
}

#[test]
fn sqlite_cas_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    drop(SqliteStore::open(&path).unwrap());
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "sqlite::sqlite_cas_worker",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(WORKER_ENV, &path)
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let store = SqliteStore::open(&path).unwrap();
    let got = store
        .blocking()
        .get(&Key::new("shared/counter").unwrap())
        .unwrap();
    assert_eq!(&got.data[..], b"200", "lost updates across processes");
}
