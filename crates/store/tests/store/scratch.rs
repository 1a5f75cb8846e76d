//! Security review 21, L2 and L3: a streamed put whose future is dropped
//! mid-body leaves no scratch behind (`DirStore`'s temp file, `RedbStore`'s
//! staged chunks, `SqliteStore`'s spool), `SqliteStore`'s spool is private
//! while it exists, and stale spools a crash left are swept at open.
//!
//! The puts are polled by hand: the body hands over one chunk and then has
//! nothing more, so the first poll does all the writing it can and returns
//! `Pending`; the test looks at the disk, then drops the future.

use blocksmith_store::{Bytes, DirStore, Key, PutOptions, RedbStore, Store, StoreExt};
use redb::ReadableDatabase as _;
use std::future::Future;
use std::path::Path;
use std::task::{Context, Poll};

/// Polls a streamed put of one `len`-byte chunk (then a body that never
/// ends) once, runs `look` while it waits, then drops it.
fn drop_mid_body<S: Store, T>(
    store: &S,
    key: &Key,
    options: PutOptions,
    len: usize,
    look: impl FnOnce() -> T,
) -> T {
    let mut sent = false;
    let body = Box::pin(futures_util::stream::poll_fn(move |_| {
        if sent {
            Poll::Pending
        } else {
            sent = true;
            Poll::Ready(Some(Ok(Bytes::from(vec![5u8; len]))))
        }
    }));
    let mut put = Box::pin(store.put_stream(key, body, options));
    let waker = futures_util::task::noop_waker();
    let polled = put.as_mut().poll(&mut Context::from_waker(&waker));
    assert!(polled.is_pending(), "the put ended without its body's end");
    let seen = look();
    drop(put);
    seen
}

fn names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

#[test]
fn dir_store_removes_the_temp_file_of_a_dropped_put() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("store");
    let store = DirStore::open(&root).unwrap();
    let key = Key::new("dropped/put").unwrap();
    for options in [PutOptions::new(), PutOptions::create()] {
        let during = drop_mid_body(&store, &key, options, 3 << 20, || names(&root.join("tmp")));
        assert_eq!(during.len(), 1, "the body goes to a temp file: {during:?}");
        assert_eq!(names(&root.join("tmp")), Vec::<String>::new());
        assert!(store.blocking().get_opt(&key).unwrap().is_none());
    }
}

/// The entries of `table` in the redb file at `path`, read as it is
/// (without the sweep of staged chunks an open does).
fn redb_len(path: &Path, table: &str) -> u64 {
    let db = redb::Database::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    let t = txn
        .open_untyped_table(redb::TableDefinition::<u64, &[u8]>::new(table))
        .unwrap();
    redb::ReadableTableMetadata::len(&t).unwrap()
}

#[test]
fn redb_store_discards_the_staged_chunks_of_a_dropped_put() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    let kept = Key::new("kept").unwrap();
    let store = RedbStore::open(&path).unwrap();
    store.blocking().put(&kept, vec![1u8; 3 << 20]).unwrap();
    drop(store);
    let chunks = redb_len(&path, "chunks");
    assert!(chunks > 0);
    let store = RedbStore::open(&path).unwrap();
    let key = Key::new("dropped/put").unwrap();
    // 9 MiB: past the staging threshold, so chunks are committed as
    // staged during the first poll.
    for options in [PutOptions::new(), PutOptions::create()] {
        drop_mid_body(&store, &key, options, 9 << 20, || ());
    }
    assert!(store.blocking().get_opt(&key).unwrap().is_none());
    assert_eq!(store.blocking().get(&kept).unwrap().data.len(), 3 << 20);
    drop(store);
    assert_eq!(redb_len(&path, "staged"), 0);
    assert_eq!(redb_len(&path, "chunks"), chunks, "chunks of a dropped put");
}

/// A put that fails after staging (its condition refuses it) discards what
/// it staged, and the store takes the same put again.
#[test]
fn redb_store_discards_staged_chunks_when_the_put_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    let store = RedbStore::open(&path).unwrap();
    let key = Key::new("taken").unwrap();
    store.blocking().put(&key, "old").unwrap();
    let body = Box::pin(futures_util::stream::iter([Ok(Bytes::from(vec![
        2u8;
        9 << 20
    ]))]));
    let r = store
        .blocking()
        .put_stream(&key, body, PutOptions::create());
    assert!(matches!(
        r,
        Err(blocksmith_store::Error::AlreadyExists { .. })
    ));
    assert_eq!(&store.blocking().get(&key).unwrap().data[..], b"old");
    drop(store);
    assert_eq!(redb_len(&path, "staged"), 0);
    assert_eq!(redb_len(&path, "chunks"), 0);
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;
    use blocksmith_store::SqliteStore;

    fn spools(dir: &Path) -> Vec<String> {
        names(dir)
            .into_iter()
            .filter(|n| n.starts_with(".blocksmith-spool-"))
            .collect()
    }

    /// The spool is private while the body streams in, and gone once the
    /// put's future is dropped.
    #[test]
    fn sqlite_spool_is_private_and_goes_with_a_dropped_put() {
        let dir = tempfile::tempdir().unwrap();
        #[cfg(unix)]
        let old = rustix::process::umask(rustix::fs::Mode::empty());
        let store = SqliteStore::open(dir.path().join("app.sqlite")).unwrap();
        let key = Key::new("dropped/put").unwrap();
        let during = drop_mid_body(&store, &key, PutOptions::new(), 2 << 20, || {
            spools(dir.path())
                .into_iter()
                .map(|n| std::fs::symlink_metadata(dir.path().join(n)).unwrap())
                .collect::<Vec<_>>()
        });
        #[cfg(unix)]
        rustix::process::umask(old);
        assert_eq!(during.len(), 1, "the body goes to a spool file");
        assert!(during[0].is_file());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = during[0].permissions().mode();
            assert_eq!(mode & 0o077, 0, "the spool is readable by others: {mode:o}");
        }
        assert_eq!(spools(dir.path()), Vec::<String>::new());
        assert!(store.blocking().get_opt(&key).unwrap().is_none());
    }

    /// Spools a crash left behind are removed at open once nobody has
    /// written them for an hour; a fresh one (another process's put) stays.
    #[test]
    fn sqlite_open_sweeps_stale_spools() {
        let dir = tempfile::tempdir().unwrap();
        let stale = dir.path().join(".blocksmith-spool-1-2-3");
        let fresh = dir.path().join(".blocksmith-spool-4-5-6");
        let other = dir.path().join("notes.txt");
        for p in [&stale, &fresh, &other] {
            std::fs::write(p, b"bytes").unwrap();
        }
        let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        for p in [&stale, &other] {
            std::fs::File::options()
                .write(true)
                .open(p)
                .unwrap()
                .set_modified(two_hours_ago)
                .unwrap();
        }
        drop(SqliteStore::open(dir.path().join("app.sqlite")).unwrap());
        assert!(!stale.exists(), "a stale spool was kept");
        assert!(fresh.exists(), "a live spool was removed");
        assert!(other.exists(), "a file that is no spool was removed");
    }
}
