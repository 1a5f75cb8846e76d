//! Issue 18: listing prefixes that climb out of the store, and the file
//! permissions and symbolic links of `DirStore`.

use blocksmith_store::{
    DirStore, Error, Key, ListOptions, MemoryStore, ObjectStoreAdapter, RedbStore, Store, StoreExt,
    block_on,
};
use std::sync::Arc;

const CLIMBING: [&str; 7] = [
    "../",
    "../../",
    "a/../",
    "a/../../",
    "./",
    "a/./b",
    "a/b/../../../x",
];

/// Lists `prefix` and returns the error, which must be `InvalidKey` and
/// must not name anything found outside the store.
fn refused<S: Store>(store: &S, prefix: &str, backend: &str) -> String {
    match block_on(store.list(ListOptions::prefix(prefix))) {
        Err(e @ Error::InvalidKey { .. }) => {
            let msg = e.to_string();
            assert!(!msg.contains("secret"), "{backend} {prefix:?}: {msg}");
            msg
        }
        other => panic!("{backend}: prefix {prefix:?} gave {other:?}"),
    }
}

#[test]
fn list_refuses_prefixes_that_climb_out_on_every_backend() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    let dir = DirStore::open(&root).unwrap();
    // Files named like objects (`~`), where `..` from the data directory
    // and from its parent lead.
    // Their names sort first, so a walk outside names them first.
    std::fs::write(root.join("0-secret-root~"), b"x").unwrap();
    std::fs::write(outer.path().join("0-secret-outer~"), b"x").unwrap();
    std::fs::create_dir(root.join("0-secret-dir")).unwrap();
    std::fs::write(root.join("0-secret-dir").join("secret-file~"), b"x").unwrap();
    let redb = RedbStore::open(outer.path().join("db.redb")).unwrap();
    let memory = MemoryStore::new();
    let object = ObjectStoreAdapter::new(Arc::new(object_store::memory::InMemory::new())).unwrap();
    let key = Key::new("a/b/c").unwrap();
    for s in [
        &dir as &dyn blocksmith_store::DynStore,
        &redb,
        &memory,
        &object,
    ] {
        s.blocking().put(&key, b"v".to_vec()).unwrap();
    }
    for prefix in CLIMBING {
        // The same answer everywhere, naming only the prefix.
        let msg = refused(&dir, prefix, "dir");
        assert!(msg.contains(&format!("{prefix:?}")), "{msg}");
        assert_eq!(refused(&memory, prefix, "memory"), msg);
        assert_eq!(refused(&redb, prefix, "redb"), msg);
        assert_eq!(refused(&object, prefix, "object"), msg);
    }
    // A partial last segment of dots is the start of a valid segment.
    let dots = Key::new("a/...").unwrap();
    for s in [
        &dir as &dyn blocksmith_store::DynStore,
        &redb,
        &memory,
        &object,
    ] {
        s.blocking().put(&dots, b"d".to_vec()).unwrap();
        for prefix in ["a/..", "a/.", ".."] {
            let got: Vec<String> = s
                .blocking()
                .list_all(prefix)
                .unwrap()
                .into_iter()
                .map(|m| m.key.into_string())
                .collect();
            let want: Vec<&str> = if prefix == ".." {
                vec![]
            } else {
                vec!["a/..."]
            };
            assert_eq!(got, want, "{prefix:?}");
        }
    }
}

#[cfg(unix)]
mod unix {
    use super::*;
    use blocksmith_store::{ComposePart, PutMode, PutOptions};
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    /// Every entry under `root` (and `root`), with its mode.
    fn modes(root: &Path, out: &mut Vec<(String, u32)>) {
        let m = std::fs::symlink_metadata(root).unwrap();
        out.push((root.display().to_string(), m.permissions().mode()));
        if m.is_dir() {
            for e in std::fs::read_dir(root).unwrap() {
                modes(&e.unwrap().path(), out);
            }
        }
    }

    /// Files 0600 and directories 0700 under a permissive umask, for every
    /// kind of write: small, page-aligned, direct, composed, conditional,
    /// and after deletes.
    #[test]
    fn dir_store_files_are_private_to_the_owner() {
        let old = rustix::process::umask(rustix::fs::Mode::empty());
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("store");
        let store = DirStore::open(&root).unwrap();
        let b = store.blocking();
        let k = |s: &str| Key::new(s).unwrap();
        b.put(&k("keys/api/hash"), b"small".to_vec()).unwrap();
        b.put(&k("big/aligned"), vec![7u8; 100 << 10]).unwrap();
        b.put(&k("big/direct"), vec![9u8; (2 << 20) + 3]).unwrap();
        let v = b.head(&k("keys/api/hash")).unwrap().version;
        b.put_opts(&k("keys/api/hash"), b"small2".to_vec(), PutMode::Update(v))
            .unwrap();
        b.put_opts(&k("uploads/x/created"), b"c".to_vec(), PutMode::Create)
            .unwrap();
        let parts = [
            ComposePart::new(k("big/aligned")),
            ComposePart::new(k("big/direct")),
        ];
        b.compose(&k("joined/obj"), &parts, PutOptions::new())
            .unwrap();
        b.delete(&k("uploads/x/created")).unwrap();
        rustix::process::umask(old);
        let mut all = Vec::new();
        modes(&root, &mut all);
        assert!(all.len() > 12, "{all:?}");
        let open: Vec<_> = all.iter().filter(|(_, m)| m & 0o077 != 0).collect();
        assert!(open.is_empty(), "readable by others: {open:?}");
    }

    /// A store made before files were private gets its directories closed
    /// when opened.
    #[test]
    fn opening_an_old_store_closes_its_directories() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path();
        drop(DirStore::open(root).unwrap());
        for d in ["data", "tmp", "locks", "segs"] {
            std::fs::set_permissions(root.join(d), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        drop(DirStore::open(root).unwrap());
        for d in ["data", "tmp", "locks", "segs"] {
            let m = std::fs::metadata(root.join(d))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(m & 0o777, 0o700, "{d}");
        }
    }

    /// A symbolic link planted where a lock file goes is not followed: the
    /// write fails and nothing is created or locked at the link's target.
    #[test]
    fn dir_store_does_not_follow_planted_lock_links() {
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("store");
        let store = DirStore::open(&root).unwrap();
        let locks = root.join("locks");
        for e in std::fs::read_dir(&locks).unwrap() {
            std::fs::remove_file(e.unwrap().path()).unwrap();
        }
        let victims = outer.path().join("victims");
        std::fs::create_dir(&victims).unwrap();
        let names = (0..64)
            .map(|i| format!("{i:02}"))
            .chain(["tree".to_string()]);
        for name in names {
            std::os::unix::fs::symlink(victims.join(&name), locks.join(&name)).unwrap();
        }
        let key = Key::new("a/b").unwrap();
        let put = store.blocking().put(&key, b"x".to_vec());
        assert!(put.is_err(), "a put locked through a planted link");
        let del = store.blocking().delete(&key);
        assert!(del.is_err(), "a delete locked through a planted link");
        let made: Vec<_> = std::fs::read_dir(&victims).unwrap().collect();
        assert!(made.is_empty(), "created through links: {made:?}");
        // Nothing was published, and no temp file is left.
        assert!(store.blocking().get_opt(&key).unwrap().is_none());
        assert_eq!(std::fs::read_dir(root.join("tmp")).unwrap().count(), 0);
    }
}
