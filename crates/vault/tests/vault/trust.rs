//! Defects found by a security review (issue 18), each pinned by a test
//! that failed before its fix.

use crate::common::{creds, opts};
use blocksmith_store::{
    Capabilities, GetOptions, GetResult, Key, ListOptions, ListPage, MemoryStore, ObjectMeta,
    PutOptions, PutResult, Store, block_on,
};
use blocksmith_vault::{Error, KdfFloor, KdfParams, KdfPolicy, NewItem, Vault, VaultOptions};
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The next manifest write is applied, and then the client is told it
/// failed: a timeout after the commit (`Backend`), or a retried conditional
/// put that finds its own first attempt (`PreconditionFailed`).
struct AmbiguousManifest {
    inner: Arc<MemoryStore>,
    armed: AtomicBool,
    as_conflict: bool,
}

impl Store for AmbiguousManifest {
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
        if key.as_str().ends_with("/manifest") && self.armed.swap(false, Ordering::SeqCst) {
            self.inner.put(key, value, options).await?;
            return Err(if self.as_conflict {
                blocksmith_store::Error::PreconditionFailed {
                    key: key.as_str().to_string(),
                }
            } else {
                blocksmith_store::Error::Backend {
                    backend: "ambiguous",
                    temporary: true,
                    source: "timed out after the write".into(),
                }
            });
        }
        self.inner.put(key, value, options).await
    }
    async fn delete(&self, key: &Key) -> blocksmith_store::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, options: ListOptions) -> blocksmith_store::Result<ListPage> {
        self.inner.list(options).await
    }
}

#[test]
fn an_ambiguous_manifest_error_never_deletes_a_committed_secret() {
    block_on(async {
        for as_conflict in [false, true] {
            let data = Arc::new(MemoryStore::new());
            let store = AmbiguousManifest {
                inner: data.clone(),
                armed: AtomicBool::new(false),
                as_conflict,
            };
            let (mut v, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
            let keep = v.add(NewItem::new("old", "v1")).await.unwrap();
            // add: the write committed, the answer was lost.
            store.armed.store(true, Ordering::SeqCst);
            let added = v.add(NewItem::new("new", "fresh")).await;
            // update: same.
            store.armed.store(true, Ordering::SeqCst);
            let updated = v.update(&keep, "v2").await;
            // Whatever the client was told, what the store committed opens,
            // and vacuum keeps it.
            let vid = v.id();
            drop(v);
            let v = Vault::unlock(&*data, vid, &creds(), opts()).await.unwrap();
            assert_eq!(
                v.vacuum().await.unwrap(),
                0,
                "no orphan: both writes recognised"
            );
            let v = Vault::unlock(&*data, vid, &creds(), opts()).await.unwrap();
            assert_eq!(
                v.get_by_name("new").await.unwrap().as_str(),
                Some("fresh"),
                "conflict={as_conflict}"
            );
            assert_eq!(v.get(&keep).await.unwrap().as_str(), Some("v2"));
            // The read-back recognised its own write: the client was told Ok.
            assert!(added.is_ok(), "{added:?}");
            assert_eq!(updated.unwrap(), 2);
        }
    });
}

#[test]
fn a_lost_race_still_cleans_up_its_blob() {
    block_on(async {
        let data = MemoryStore::new();
        let (mut a, _) = Vault::create(&data, &creds(), opts()).await.unwrap();
        let vid = a.id();
        let mut b = Vault::unlock(&data, vid, &creds(), opts()).await.unwrap();
        a.add(NewItem::new("a", "1")).await.unwrap();
        assert!(matches!(
            b.add(NewItem::new("b", "2")).await,
            Err(Error::Conflict(_))
        ));
        // B's blob was deleted: the current manifest never named it.
        assert_eq!(a.vacuum().await.unwrap(), 0);
    });
}

#[test]
fn vacuum_decides_from_the_stored_manifest_not_a_stale_copy() {
    block_on(async {
        let data = MemoryStore::new();
        let (stale, _) = Vault::create(&data, &creds(), opts()).await.unwrap();
        let vid = stale.id();
        let mut fresh = Vault::unlock(&data, vid, &creds(), opts()).await.unwrap();
        let id = fresh.add(NewItem::new("k", "v")).await.unwrap();
        assert_eq!(stale.vacuum().await.unwrap(), 0);
        assert_eq!(fresh.get(&id).await.unwrap().as_str(), Some("v"));
    });
}

#[test]
fn unlock_refuses_parameters_cheaper_than_this_device_used_before() {
    block_on(async {
        let data = MemoryStore::new();
        let strong = KdfParams::new(256, 2, 1);
        let o = opts().with_kdf(strong);
        let (mut v, _) = Vault::create(&data, &creds(), o.clone()).await.unwrap();
        let vid = v.id();
        let remembered = v.kdf_params().unwrap();
        // The server (or whoever holds the store) lowers the cost.
        v.change_password(&creds(), Some(KdfParams::new(64, 1, 1)))
            .await
            .unwrap();
        drop(v);
        let policy = KdfPolicy::default()
            .with_floor(KdfFloor::None)
            .with_previous(remembered);
        let careful = VaultOptions::insecure_fast().with_kdf_policy(policy);
        assert!(matches!(
            Vault::unlock(&data, vid, &creds(), careful).await,
            Err(Error::KdfParams(_))
        ));
        // Equal or stronger parameters pass.
        let ok = KdfPolicy::default()
            .with_floor(KdfFloor::None)
            .with_previous(KdfParams::new(64, 1, 1));
        assert!(
            Vault::unlock(&data, vid, &creds(), opts().with_kdf_policy(ok))
                .await
                .is_ok()
        );
    });
}

#[test]
fn the_default_policy_refuses_more_than_a_gibibyte() {
    let p = KdfPolicy::default();
    assert!(p.check(&KdfParams::new(1024 * 1024, 3, 4)).is_ok());
    assert!(matches!(
        p.check(&KdfParams::new(1024 * 1024 + 1024, 3, 4)),
        Err(Error::KdfParams(_))
    ));
}

#[test]
fn an_item_blob_from_another_write_of_the_same_version_does_not_open() {
    block_on(async {
        use blocksmith_store::StoreExt;
        let data = Arc::new(MemoryStore::new());
        let (mut v, _) = Vault::create(&*data, &creds(), opts()).await.unwrap();
        let id = v.add(NewItem::new("k", "v1")).await.unwrap();
        let vid = v.id();
        drop(v);
        // An update interrupted after its blob: version 2, orphaned.
        let failing = crate::common::FailingStore::new(data.clone(), 1);
        let mut v = Vault::unlock(&failing, vid, &creds(), opts())
            .await
            .unwrap();
        assert!(v.update(&id, "abandoned value").await.is_err());
        drop(v);
        let prefix = format!("vault/{vid}/items/{id}/");
        let orphan = data.blocking().list_all(&prefix).unwrap();
        let orphan = orphan
            .iter()
            .find(|m| m.key.as_str().contains("0000000000000002-"))
            .unwrap();
        let orphan_bytes = data.blocking().get(&orphan.key).unwrap().data;
        // The real version 2, under another tag.
        let mut v = Vault::unlock(&*data, vid, &creds(), opts()).await.unwrap();
        assert_eq!(v.update(&id, "real value").await.unwrap(), 2);
        let live = data
            .blocking()
            .list_all(&prefix)
            .unwrap()
            .into_iter()
            .find(|m| m.key != orphan.key)
            .unwrap();
        // The store serves the orphan in the live blob's place.
        data.blocking().put(&live.key, orphan_bytes).unwrap();
        assert!(matches!(v.get(&id).await, Err(Error::Decrypt)));
    });
}

/// The manifest put times out while still in flight and lands after the
/// client read the old manifest back: the new blob must still be there.
struct LateManifest {
    inner: Arc<MemoryStore>,
    armed: AtomicBool,
    late: std::sync::Mutex<Option<(Key, Bytes, PutOptions)>>,
}

impl LateManifest {
    fn land(&self) {
        if let Some((k, v, o)) = self.late.lock().unwrap().take() {
            block_on(self.inner.put(&k, v, o)).unwrap();
        }
    }
}

impl Store for LateManifest {
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
        if key.as_str().ends_with("/manifest") && self.armed.swap(false, Ordering::SeqCst) {
            *self.late.lock().unwrap() = Some((key.clone(), value, options));
            return Err(blocksmith_store::Error::Backend {
                backend: "late",
                temporary: true,
                source: "timed out (the request is still in flight)".into(),
            });
        }
        self.inner.put(key, value, options).await
    }
    async fn delete(&self, key: &Key) -> blocksmith_store::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, options: ListOptions) -> blocksmith_store::Result<ListPage> {
        self.inner.list(options).await
    }
}

#[test]
fn a_manifest_write_that_lands_after_the_read_back_still_finds_its_blob() {
    block_on(async {
        let data = Arc::new(MemoryStore::new());
        let store = LateManifest {
            inner: data.clone(),
            armed: AtomicBool::new(false),
            late: std::sync::Mutex::new(None),
        };
        let (mut v, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let id = v.add(NewItem::new("k", "v1")).await.unwrap();
        let vid = v.id();
        store.armed.store(true, Ordering::SeqCst);
        assert!(
            v.update(&id, "v2").await.is_err(),
            "the client saw a timeout"
        );
        store.land(); // ...and then the request arrived
        drop(v);
        let v = Vault::unlock(&*data, vid, &creds(), opts()).await.unwrap();
        v.vacuum().await.unwrap();
        assert_eq!(v.get(&id).await.unwrap().as_str(), Some("v2"));
    });
}

#[test]
fn a_replayed_rotation_record_does_not_stop_a_rotation() {
    block_on(async {
        use blocksmith_store::StoreExt;
        let data = MemoryStore::new();
        let (mut v, _) = Vault::create(&data, &creds(), opts()).await.unwrap();
        let vid = v.id();
        v.add(NewItem::new("k", "v")).await.unwrap();
        let rec_key = Key::new(format!("vault/{vid}/rotation")).unwrap();
        // The store keeps a copy of the 1 -> 2 rotation's record.
        v.rotate_partially(usize::MAX).await.unwrap();
        let old_record = data.blocking().get(&rec_key).unwrap().data;
        assert_eq!(v.rotate().await.unwrap().to_epoch, 2);
        let current_recovery = v.new_recovery_key().await.unwrap();
        drop(v);
        // Later the user rotates again (the key leaked, say); the store
        // replays the old record, which now looks like a finished rotation.
        data.blocking().put(&rec_key, old_record).unwrap();
        let mut v = Vault::unlock(&data, vid, &creds(), opts()).await.unwrap();
        assert!(
            v.rotation_recovery_key().unwrap().is_none(),
            "the replayed record's recovery key is not the installed one"
        );
        let r = v.rotate().await.unwrap();
        assert_eq!(
            (r.from_epoch, r.to_epoch),
            (2, 3),
            "rotate moved the key on"
        );
        assert_ne!(r.recovery_key, current_recovery);
        drop(v);
        assert!(
            Vault::unlock_with_recovery(&data, vid, &r.recovery_key, opts())
                .await
                .is_ok()
        );
    });
}

/// Runs `before` just before the next manifest write reaches the store:
/// another device acting while this one's write is in flight (its blob
/// written, its manifest not yet).
struct BeforeManifest<'a> {
    inner: &'a MemoryStore,
    before: std::sync::Mutex<Option<Box<dyn FnOnce() + Send + 'a>>>,
}

impl Store for BeforeManifest<'_> {
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
        if key.as_str().ends_with("/manifest") {
            let before = self.before.lock().unwrap().take();
            if let Some(before) = before {
                before();
            }
        }
        self.inner.put(key, value, options).await
    }
    async fn delete(&self, key: &Key) -> blocksmith_store::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(&self, options: ListOptions) -> blocksmith_store::Result<ListPage> {
        self.inner.list(options).await
    }
}

/// A vacuum on one device while another device's write is between its
/// blob and its manifest keeps the blob (the write then commits and
/// opens); `vacuum_now` would have deleted it.
#[test]
fn vacuum_keeps_the_blob_of_a_write_in_flight_on_another_device() {
    for now in [false, true] {
        let data = MemoryStore::new();
        let vid = block_on(async {
            let (mut v, _) = Vault::create(&data, &creds(), opts()).await.unwrap();
            v.add(NewItem::new("first", "1")).await.unwrap();
            v.id()
        });
        let other = block_on(Vault::unlock(&data, vid, &creds(), opts())).unwrap();
        let hooked = BeforeManifest {
            inner: &data,
            before: std::sync::Mutex::new(Some(Box::new(move || {
                let mut other = other;
                let deleted = if now {
                    other.blocking().vacuum_now().unwrap()
                } else {
                    // Two passes (two devices) while the write is in
                    // flight: the second is within the grace of the first,
                    // so neither deletes.
                    other.blocking().vacuum().unwrap() + other.blocking().vacuum().unwrap()
                };
                assert_eq!(deleted, usize::from(now), "now={now}");
            }))),
        };
        block_on(async {
            let mut v = Vault::unlock(&hooked, vid, &creds(), opts()).await.unwrap();
            let added = v.add(NewItem::new("second", "2")).await;
            let v = Vault::unlock(&data, vid, &creds(), opts()).await.unwrap();
            if now {
                // The manifest names a blob that is gone.
                assert!(added.is_err() || v.get_by_name("second").await.is_err());
            } else {
                added.unwrap();
                assert_eq!(v.get_by_name("second").await.unwrap().as_str(), Some("2"));
                // The next pass finds it named: nothing to delete.
                assert_eq!(v.vacuum().await.unwrap(), 0);
                assert_eq!(v.get_by_name("second").await.unwrap().as_str(), Some("2"));
            }
        });
    }
}
