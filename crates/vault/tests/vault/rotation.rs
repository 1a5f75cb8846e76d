//! Vault-key rotation: complete, partial then resumed, and interrupted by a
//! crash at every possible write.

use crate::common::{FailingStore, creds, opts};
use blocksmith_store::{
    Capabilities, ComposePart, GetOptions, GetResult, Key, ListOptions, ListPage, MemoryStore,
    ObjectMeta, PutOptions, PutResult, Store, StoreExt, block_on,
};
use blocksmith_vault::{Error, ItemId, NewItem, Vault, VaultId};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

async fn filled(
    store: &MemoryStore,
    n: usize,
) -> (VaultId, Vec<ItemId>, blocksmith_vault::RecoveryKey) {
    let (mut v, recovery) = Vault::create(store, &creds(), opts()).await.unwrap();
    let items = (0..n)
        .map(|i| NewItem::new(format!("item {i}"), format!("secret number {i}")))
        .collect();
    let ids = v.add_many(items).await.unwrap();
    (v.id(), ids, recovery)
}

async fn check_all(store: &MemoryStore, vid: VaultId, ids: &[ItemId], epoch: u32) {
    let v = Vault::unlock(store, vid, &creds(), opts()).await.unwrap();
    assert_eq!(v.epoch(), epoch);
    assert!(v.rotation_pending().is_none());
    for id in ids {
        let name = v.info(id).unwrap().name().to_string();
        let n = name.strip_prefix("item ").unwrap();
        assert_eq!(
            v.get(id).await.unwrap().as_str().unwrap(),
            format!("secret number {n}")
        );
    }
}

#[test]
fn rotation_reencrypts_everything_and_retires_the_old_key() {
    block_on(async {
        let store = MemoryStore::new();
        let (vid, ids, old_recovery) = filled(&store, 10).await;
        let mut v = Vault::unlock(&store, vid, &creds(), opts()).await.unwrap();
        let old_pk = v.public_key();
        // Keep a pre-rotation blob to replay afterwards.
        let k0 = store
            .blocking()
            .list_all(&format!("vault/{vid}/items/{}/", ids[0]))
            .unwrap()[0]
            .key
            .clone();
        let old_blob = store.blocking().get(&k0).unwrap().data;
        let report = v.rotate().await.unwrap();
        assert_eq!(
            (report.from_epoch, report.to_epoch, report.items),
            (1, 2, 10)
        );
        assert_ne!(report.public_key, old_pk);
        assert_eq!(v.public_key(), report.public_key);
        assert_ne!(
            store.blocking().get(&k0).unwrap().data,
            old_blob,
            "re-encrypted in place"
        );
        assert!(
            store
                .blocking()
                .get_opt(&Key::new(format!("vault/{vid}/rotation")).unwrap())
                .unwrap()
                .is_none()
        );
        drop(v);
        check_all(&store, vid, &ids, 2).await;
        // The old recovery key no longer opens the vault; the new one does.
        assert!(matches!(
            Vault::unlock_with_recovery(&store, vid, &old_recovery, opts()).await,
            Err(Error::WrongCredentials)
        ));
        assert!(
            Vault::unlock_with_recovery(&store, vid, &report.recovery_key, opts())
                .await
                .is_ok()
        );
        // A ciphertext from before the rotation is sealed under a retired key.
        store.blocking().put(&k0, old_blob).unwrap();
        let v = Vault::unlock(&store, vid, &creds(), opts()).await.unwrap();
        assert!(matches!(
            v.get(&ids[0]).await,
            Err(Error::UnknownKeyEpoch { epoch: 1 })
        ));
    });
}

#[test]
fn partial_rotation_resumes_after_reopen() {
    block_on(async {
        let store = MemoryStore::new();
        let (vid, ids, _) = filled(&store, 25).await;
        let mut v = Vault::unlock(&store, vid, &creds(), opts().with_rotation_batch(4))
            .await
            .unwrap();
        let p = v.rotate_partially(10).await.unwrap();
        assert_eq!((p.done, p.remaining, p.finished), (10, 15, false));
        // Items stay readable mid-rotation, and new writes work.
        assert!(v.get(&ids[24]).await.is_ok());
        let extra = v
            .add(NewItem::new("added mid-rotation", "secret number 99"))
            .await
            .unwrap();
        drop(v); // "crash"
        let mut v = Vault::unlock(&store, vid, &creds(), opts()).await.unwrap();
        let p = v.rotation_pending().unwrap();
        assert_eq!((p.from_epoch, p.to_epoch, p.done), (1, 2, 10));
        assert!(p.remaining >= 15);
        assert_eq!(
            v.get(&extra).await.unwrap().as_str(),
            Some("secret number 99")
        );
        let report = v.rotate().await.unwrap();
        assert_eq!(report.to_epoch, 2);
        assert_eq!(
            v.get(&extra).await.unwrap().as_str(),
            Some("secret number 99")
        );
        drop(v);
        check_all(&store, vid, &ids, 2).await;
        // A second rotation works too.
        let mut v = Vault::unlock(&store, vid, &creds(), opts()).await.unwrap();
        assert_eq!(v.rotate().await.unwrap().to_epoch, 3);
    });
}

#[test]
fn rotation_interrupted_at_every_write_resumes_to_a_consistent_vault() {
    block_on(async {
        let mut crashes = 0;
        for budget in 0.. {
            let data = Arc::new(MemoryStore::new());
            let (vid, ids, _) = filled(&data, 7).await;
            let failing = FailingStore::new(data.clone(), budget);
            let mut v = Vault::unlock(&failing, vid, &creds(), opts().with_rotation_batch(2))
                .await
                .unwrap();
            match v.rotate().await {
                Ok(r) => {
                    assert_eq!(r.to_epoch, 2);
                    check_all(&data, vid, &ids, 2).await;
                    break;
                }
                Err(Error::Store(_)) => crashes += 1,
                Err(e) => panic!("budget {budget}: unexpected {e:?}"),
            }
            drop(v);
            // Restart on a healthy store: the vault opens, every item reads.
            let mut v = Vault::unlock(&*data, vid, &creds(), opts()).await.unwrap();
            for id in &ids {
                assert!(
                    v.get(id).await.is_ok(),
                    "budget {budget}: item unreadable mid-rotation"
                );
            }
            // Committed before the crash: the recovery key it installed is
            // still there to show, and it opens the vault.
            let committed = v.epoch() == 2;
            if committed {
                let installed = v.rotation_recovery_key().unwrap().expect("installed key");
                assert!(
                    Vault::unlock_with_recovery(&*data, vid, &installed, opts())
                        .await
                        .is_ok(),
                    "budget {budget}"
                );
            }
            // `rotate` always moves the key on from the epoch it finds.
            let report = v.rotate().await.unwrap();
            let want = if committed { 3 } else { 2 };
            assert_eq!(report.to_epoch, want, "budget {budget}");
            drop(v);
            check_all(&data, vid, &ids, want).await;
            assert!(
                Vault::unlock_with_recovery(&*data, vid, &report.recovery_key, opts())
                    .await
                    .is_ok(),
                "budget {budget}"
            );
        }
        // 7 items in batches of 2: header (pending key), manifest, record,
        // 7 items, 4 checkpoints, manifest, header, record delete = 17
        // writes, each interrupted once.
        assert_eq!(crashes, 17);
    });
}

type Hook = Box<dyn FnOnce() + Send>;

/// A store that runs another client's code just before its `at`-th
/// operation: the rotating handle's view, with a second device's write
/// landing at that exact point.
struct Interleaved {
    inner: Arc<MemoryStore>,
    ops: AtomicU64,
    at: u64,
    hook: Mutex<Option<Hook>>,
}

impl Interleaved {
    fn tick(&self) {
        let n = self.ops.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.at {
            let hook = self.hook.lock().unwrap().take();
            if let Some(h) = hook {
                h();
            }
        }
    }
    fn fired(&self) -> bool {
        self.hook.lock().unwrap().is_none()
    }
}

impl Store for Interleaved {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn get(&self, key: &Key, options: GetOptions) -> blocksmith_store::Result<GetResult> {
        self.tick();
        self.inner.get(key, options).await
    }
    async fn head(&self, key: &Key) -> blocksmith_store::Result<ObjectMeta> {
        self.tick();
        self.inner.head(key).await
    }
    async fn put(
        &self,
        key: &Key,
        value: Bytes,
        options: PutOptions,
    ) -> blocksmith_store::Result<PutResult> {
        self.tick();
        self.inner.put(key, value, options).await
    }
    async fn delete(&self, key: &Key) -> blocksmith_store::Result<()> {
        self.tick();
        self.inner.delete(key).await
    }
    async fn list(&self, options: ListOptions) -> blocksmith_store::Result<ListPage> {
        self.tick();
        self.inner.list(options).await
    }
    async fn compose(
        &self,
        target: &Key,
        parts: &[ComposePart],
        options: PutOptions,
    ) -> blocksmith_store::Result<PutResult> {
        self.tick();
        self.inner.compose(target, parts, options).await
    }
}

/// Runs `op` on `v`, reopening the vault and retrying on a conflict, as a
/// client does.
async fn with_retry<T>(
    store: &Arc<MemoryStore>,
    vid: VaultId,
    v: &mut Vault<Arc<MemoryStore>>,
    mut op: impl AsyncFnMut(&mut Vault<Arc<MemoryStore>>) -> Result<T, Error>,
) -> T {
    for _ in 0..5 {
        match op(v).await {
            Ok(t) => return t,
            Err(Error::Conflict(_)) => {
                *v = Vault::unlock(store.clone(), vid, &creds(), opts())
                    .await
                    .unwrap();
            }
            Err(e) => panic!("second device: {e:?}"),
        }
    }
    panic!("second device: conflicts without end");
}

#[derive(Clone, Copy, Debug)]
enum Finish {
    /// The rotating client crashes after the partial run, reopens, rotates.
    AfterCrash,
    /// It carries on with the same handle; on a conflict, reopens and retries.
    SameHandle,
}

/// A rotation started by one device, while a second device that unlocked
/// *before* the rotation began adds items (ids fall on both sides of the
/// cursor) and updates items already re-encrypted and not yet reached, at
/// every store operation of the rotation. Afterwards a fresh unlock opens
/// every item, with the latest value each device was told was saved.
#[test]
fn a_second_device_writing_during_a_rotation_never_loses_an_item() {
    block_on(async {
        let mut points = 0;
        for finish in [Finish::AfterCrash, Finish::SameHandle] {
            for at in 1.. {
                let data = Arc::new(MemoryStore::new());
                let (vid, ids, _) = filled(&data, 20).await;
                let mut sorted = ids.clone();
                sorted.sort();
                let (first, last) = (sorted[0], sorted[19]);
                // What each item must hold at the end, by name.
                let expected: Arc<Mutex<BTreeMap<String, String>>> = Arc::new(Mutex::new(
                    (0..20)
                        .map(|i| (format!("item {i}"), format!("secret number {i}")))
                        .collect(),
                ));
                // The second device unlocks before the rotation begins.
                let mut b = Vault::unlock(data.clone(), vid, &creds(), opts())
                    .await
                    .unwrap();
                let (bdata, bexp) = (data.clone(), expected.clone());
                let hook: Hook = Box::new(move || {
                    block_on(async {
                        let added = with_retry(&bdata, vid, &mut b, async |v| {
                            v.add_many(
                                (0..6)
                                    .map(|i| NewItem::new(format!("b{i}"), format!("from b {i}")))
                                    .collect(),
                            )
                            .await
                        })
                        .await;
                        assert_eq!(added.len(), 6);
                        for (id, value) in [(first, "b updated first"), (last, "b updated last")] {
                            with_retry(&bdata, vid, &mut b, async |v| v.update(&id, value).await)
                                .await;
                            let name = b.info(&id).unwrap().name().to_string();
                            bexp.lock().unwrap().insert(name, value.to_string());
                        }
                        let mut e = bexp.lock().unwrap();
                        for i in 0..6 {
                            e.insert(format!("b{i}"), format!("from b {i}"));
                        }
                    });
                });
                let store = Interleaved {
                    inner: data.clone(),
                    ops: AtomicU64::new(0),
                    at,
                    hook: Mutex::new(Some(hook)),
                };
                let mut a = Vault::unlock(&store, vid, &creds(), opts().with_rotation_batch(4))
                    .await
                    .unwrap();
                let partial = a.rotate_partially(10).await;
                let mut done = false;
                if let Finish::AfterCrash = finish {
                    drop(a);
                    a = Vault::unlock(&store, vid, &creds(), opts()).await.unwrap();
                } else if let Err(e) = &partial {
                    assert!(matches!(e, Error::Conflict(_)), "{finish:?} at {at}: {e:?}");
                    a = Vault::unlock(&store, vid, &creds(), opts()).await.unwrap();
                }
                for _ in 0..5 {
                    match a.rotate().await {
                        Ok(r) => {
                            assert_eq!(r.to_epoch, 2);
                            done = true;
                            break;
                        }
                        Err(Error::Conflict(_)) => {
                            a = Vault::unlock(&store, vid, &creds(), opts()).await.unwrap();
                        }
                        Err(e) => panic!("{finish:?} at {at}: rotate: {e:?}"),
                    }
                }
                assert!(done, "{finish:?} at {at}: rotation never finished");
                let fired = store.fired();
                drop(a);
                // A fresh unlock: the new key only, every item opens.
                let v = Vault::unlock(data.clone(), vid, &creds(), opts())
                    .await
                    .unwrap();
                assert_eq!(v.epoch(), 2);
                assert!(v.rotation_pending().is_none());
                let want = expected.lock().unwrap().clone();
                if fired {
                    assert_eq!(v.len(), 26, "{finish:?} at {at}");
                }
                for info in v.items() {
                    let got = v.get(&info.id()).await.unwrap_or_else(|e| {
                        panic!("{finish:?} at {at}: item {} lost: {e:?}", info.name())
                    });
                    assert_eq!(
                        got.as_str(),
                        want.get(info.name()).map(String::as_str),
                        "{finish:?} at {at}: {}",
                        info.name()
                    );
                }
                points += 1;
                if !fired {
                    break;
                }
            }
        }
        assert!(points > 60, "{points} interleavings");
    });
}

/// A store that rewrites the rotation record's cursor to claim the rotation
/// is done does not make the finish skip an item.
#[test]
fn a_forged_rotation_cursor_is_refused() {
    block_on(async {
        let data = MemoryStore::new();
        let (vid, ids, _) = filled(&data, 8).await;
        let mut v = Vault::unlock(&data, vid, &creds(), opts().with_rotation_batch(1))
            .await
            .unwrap();
        v.rotate_partially(1).await.unwrap();
        drop(v);
        let key = Key::new(format!("vault/{vid}/rotation")).unwrap();
        let rec = data.blocking().get(&key).unwrap().data;
        let text = String::from_utf8(rec.to_vec()).unwrap();
        let mut sorted = ids.clone();
        sorted.sort();
        let forged = regex_free_replace_cursor(&text, &sorted[7].to_string());
        assert_ne!(forged, text);
        data.blocking().put(&key, forged.into_bytes()).unwrap();
        assert!(matches!(
            Vault::unlock(&data, vid, &creds(), opts()).await,
            Err(Error::Inconsistent(_))
        ));
    });
}

/// Replaces the value of `"cursor":"..."` in a JSON record.
fn regex_free_replace_cursor(text: &str, cursor: &str) -> String {
    let start = text.find("\"cursor\":\"").unwrap() + "\"cursor\":\"".len();
    let end = start + text[start..].find('"').unwrap();
    format!("{}{}{}", &text[..start], cursor, &text[end..])
}

/// A rotation whose record is lost (deleted by a hostile or failing store)
/// resumes with the next key it began with, so items already re-encrypted
/// still open.
#[test]
fn a_lost_rotation_record_resumes_with_the_same_next_key() {
    block_on(async {
        let data = MemoryStore::new();
        let (vid, ids, _) = filled(&data, 10).await;
        let mut v = Vault::unlock(&data, vid, &creds(), opts().with_rotation_batch(2))
            .await
            .unwrap();
        v.rotate_partially(6).await.unwrap();
        drop(v);
        data.blocking()
            .delete(&Key::new(format!("vault/{vid}/rotation")).unwrap())
            .unwrap();
        let mut v = Vault::unlock(&data, vid, &creds(), opts()).await.unwrap();
        assert_eq!(v.rotate().await.unwrap().to_epoch, 2);
        drop(v);
        check_all(&data, vid, &ids, 2).await;
    });
}

/// Mid-rotation, the recovery key the rotation will install (shown when it
/// begins) opens the vault and reads items on both sides of the cursor;
/// the retired recovery key gets a typed error, not the next key.
#[test]
fn the_new_recovery_key_opens_a_vault_mid_rotation() {
    block_on(async {
        let data = MemoryStore::new();
        let (vid, ids, old_recovery) = filled(&data, 10).await;
        let mut v = Vault::unlock(&data, vid, &creds(), opts().with_rotation_batch(2))
            .await
            .unwrap();
        v.rotate_partially(5).await.unwrap();
        let new_recovery = v
            .rotation_recovery_key()
            .unwrap()
            .expect("shown at the start");
        drop(v);
        let mut v = Vault::unlock_with_recovery(&data, vid, &new_recovery, opts())
            .await
            .unwrap();
        for id in &ids {
            assert!(v.get(id).await.is_ok());
        }
        // Recovery-unlocked: no rotation without a new password.
        assert!(matches!(v.rotate().await, Err(Error::PasswordRequired)));
        assert!(
            Vault::unlock_with_recovery(&data, vid, &old_recovery, opts())
                .await
                .is_err()
        );
        // Finished with the password, the key shown at the start is the one
        // installed.
        let mut v = Vault::unlock(&data, vid, &creds(), opts()).await.unwrap();
        let report = v.rotate().await.unwrap();
        assert_eq!(report.recovery_key, new_recovery);
    });
}
