//! Vault-key rotation: complete, partial then resumed, and interrupted by a
//! crash at every possible write.

use crate::common::{FailingStore, creds, opts};
use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use blocksmith_vault::{Error, ItemId, NewItem, Vault, VaultId};
use std::sync::Arc;

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
            let report = v.rotate().await.unwrap();
            assert_eq!(report.to_epoch, 2, "budget {budget}");
            drop(v);
            check_all(&data, vid, &ids, 2).await;
            // The recovery key reported on resume is the one installed.
            assert!(
                Vault::unlock_with_recovery(&*data, vid, &report.recovery_key, opts())
                    .await
                    .is_ok(),
                "budget {budget}"
            );
        }
        // 7 items in batches of 2: record, 7 items, 4 checkpoints, manifest,
        // header, record delete = 15 writes, each interrupted once.
        assert_eq!(crashes, 15);
    });
}
