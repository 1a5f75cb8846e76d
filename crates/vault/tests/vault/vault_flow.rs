//! The vault's everyday life: items, collections, password change, recovery,
//! login verification, persistence across processes.

use crate::common::{creds, opts};
use blocksmith_store::{MemoryStore, RedbStore, block_on};
use blocksmith_vault::{
    Credentials, Error, KdfFloor, KdfParams, KdfPolicy, NewItem, RecoveryKey, SecretKey, Vault,
    VaultOptions,
};

#[test]
fn items_add_get_update_remove_list() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut v, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        assert!(v.is_empty());
        let a = v.add(NewItem::new("email", "hunter2")).await.unwrap();
        let ids = v
            .add_many(vec![
                NewItem::new("github", "ghp_1").with_collection("work"),
                NewItem::new("aws", vec![0u8, 255, 7]).with_collection("work"),
            ])
            .await
            .unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v.collection("work").count(), 2);
        assert_eq!(v.find("aws").unwrap().id(), ids[1]);
        assert_eq!(v.get(&ids[1]).await.unwrap().expose_secret(), &[0, 255, 7]);
        assert_eq!(
            v.get_by_name("email").await.unwrap().as_str(),
            Some("hunter2")
        );
        assert!(matches!(
            v.add(NewItem::new("email", "x")).await,
            Err(Error::DuplicateName { .. })
        ));
        assert!(matches!(
            v.add(NewItem::new("", "x")).await,
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(v.update(&a, "correct horse").await.unwrap(), 2);
        assert_eq!(v.info(&a).unwrap().version(), 2);
        assert_eq!(v.info(&a).unwrap().size(), 13);
        v.remove(&ids[0]).await.unwrap();
        assert!(matches!(
            v.get(&ids[0]).await,
            Err(Error::ItemNotFound { .. })
        ));
        assert!(v.find("github").is_none());
        let seq = v.manifest_seq();
        let vid = v.id();
        drop(v);
        let v = Vault::unlock(&store, vid, &creds(), opts().with_min_manifest_seq(seq))
            .await
            .unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v.get(&a).await.unwrap().expose_secret(), b"correct horse");
        let mut names: Vec<_> = v.items().map(|i| i.name().to_string()).collect();
        names.sort();
        assert_eq!(names, ["aws", "email"]);
    });
}

#[test]
fn password_change_rewraps_one_key_and_keeps_items() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut v, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let id = v.add(NewItem::new("n", "s")).await.unwrap();
        let vid = v.id();
        let item_blobs_before = store.blocking_list(&format!("vault/{vid}/items/"));
        let sk = SecretKey::generate().unwrap();
        let new = Credentials::new("new password").with_secret_key(sk.clone());
        v.change_password(&new, Some(KdfParams::new(128, 2, 1)))
            .await
            .unwrap();
        assert_eq!(v.kdf_params().unwrap(), KdfParams::new(128, 2, 1));
        // No item was rewritten.
        assert_eq!(
            store.blocking_list(&format!("vault/{vid}/items/")),
            item_blobs_before
        );
        drop(v);
        assert!(matches!(
            Vault::unlock(&store, vid, &creds(), opts()).await,
            Err(Error::SecretKeyRequired)
        ));
        assert!(matches!(
            Vault::unlock(&store, vid, &creds().with_secret_key(sk), opts()).await,
            Err(Error::WrongCredentials)
        ));
        let v = Vault::unlock(&store, vid, &new, opts()).await.unwrap();
        assert_eq!(v.get(&id).await.unwrap().expose_secret(), b"s");
    });
}

trait ListVersions {
    fn blocking_list(&self, prefix: &str) -> Vec<(String, String)>;
}

impl ListVersions for MemoryStore {
    fn blocking_list(&self, prefix: &str) -> Vec<(String, String)> {
        use blocksmith_store::StoreExt;
        self.blocking()
            .list_all(prefix)
            .unwrap()
            .into_iter()
            .map(|m| (m.key.to_string(), m.version.to_string()))
            .collect()
    }
}

#[test]
fn recovery_key_unlocks_then_sets_a_new_password() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut v, recovery) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let id = v.add(NewItem::new("n", "s")).await.unwrap();
        let vid = v.id();
        drop(v);
        let text = recovery.to_text();
        let parsed = RecoveryKey::parse(&text.to_lowercase()).unwrap();
        let mut v = Vault::unlock_with_recovery(&store, vid, &parsed, opts())
            .await
            .unwrap();
        assert_eq!(v.get(&id).await.unwrap().expose_secret(), b"s");
        // Rotation needs a password-derived key first.
        assert!(matches!(v.rotate().await, Err(Error::PasswordRequired)));
        v.change_password(&Credentials::new("reset"), None)
            .await
            .unwrap();
        drop(v);
        assert!(
            Vault::unlock(&store, vid, &Credentials::new("reset"), opts())
                .await
                .is_ok()
        );
        // A wrong recovery key is a typed error.
        let wrong = RecoveryKey::generate().unwrap();
        assert!(matches!(
            Vault::unlock_with_recovery(&store, vid, &wrong, opts()).await,
            Err(Error::WrongCredentials)
        ));
        // Issuing a new recovery key retires the old one.
        let mut v = Vault::unlock(&store, vid, &Credentials::new("reset"), opts())
            .await
            .unwrap();
        let fresh = v.new_recovery_key().await.unwrap();
        assert!(
            Vault::unlock_with_recovery(&store, vid, &recovery, opts())
                .await
                .is_err()
        );
        assert!(
            Vault::unlock_with_recovery(&store, vid, &fresh, opts())
                .await
                .is_ok()
        );
    });
}

#[test]
fn login_key_is_separate_from_the_encryption_key() {
    block_on(async {
        let store = MemoryStore::new();
        let (v, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let vid = v.id();
        let policy = opts().kdf_policy;
        let pre = Vault::prelogin(&store, vid).await.unwrap();
        assert!(!pre.secret_key_required);
        let auth = pre.derive_auth_key(&creds(), &policy).unwrap();
        assert!(Vault::verify_login(&store, vid, &auth).await.unwrap());
        assert!(v.auth_verifier().unwrap().verify(&auth));
        let bad = pre
            .derive_auth_key(&Credentials::new("nope"), &policy)
            .unwrap();
        assert!(!Vault::verify_login(&store, vid, &bad).await.unwrap());
        // The login key cannot stand in for the key-encryption key: a vault
        // "unlocked" with it as a password fails.
        let as_password = Credentials::new(auth.expose_secret().to_vec());
        assert!(
            Vault::unlock(&store, vid, &as_password, opts())
                .await
                .is_err()
        );
        // A store that downgrades the parameters below the client's floor is refused.
        let strict = KdfPolicy::default();
        assert!(matches!(
            pre.derive_auth_key(&creds(), &strict),
            Err(Error::KdfParams(_))
        ));
        assert!(matches!(
            Vault::unlock(&store, vid, &creds(), VaultOptions::default()).await,
            Err(Error::KdfParams(_))
        ));
    });
}

#[test]
fn creation_refuses_parameters_below_the_floor() {
    block_on(async {
        let store = MemoryStore::new();
        let weak = VaultOptions::default().with_kdf(KdfParams::new(1024, 1, 1));
        assert!(matches!(
            Vault::create(&store, &creds(), weak).await,
            Err(Error::KdfParams(_))
        ));
        let ok = VaultOptions::default()
            .with_kdf(KdfParams::new(256, 1, 1))
            .with_kdf_policy(KdfPolicy::default().with_floor(KdfFloor::Custom {
                memory_kib: 256,
                iterations: 1,
            }));
        assert!(Vault::create(&store, &creds(), ok).await.is_ok());
    });
}

#[test]
fn persists_in_redb_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.redb");
    let (vid, id) = {
        let store = RedbStore::open(&path).unwrap();
        block_on(async {
            let (mut v, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
            let id = v.add(NewItem::new("k", "persisted")).await.unwrap();
            v.rotate().await.unwrap();
            (v.id(), id)
        })
    };
    let store = RedbStore::open(&path).unwrap();
    block_on(async {
        let v = Vault::unlock(&store, vid, &creds(), opts()).await.unwrap();
        assert_eq!(v.epoch(), 2);
        assert_eq!(v.get(&id).await.unwrap().expose_secret(), b"persisted");
    });
}

#[test]
fn concurrent_writers_are_detected() {
    block_on(async {
        let store = MemoryStore::new();
        let (v, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let vid = v.id();
        let mut a = Vault::unlock(&store, vid, &creds(), opts()).await.unwrap();
        let mut b = Vault::unlock(&store, vid, &creds(), opts()).await.unwrap();
        a.add(NewItem::new("x", "1")).await.unwrap();
        assert!(matches!(
            b.add(NewItem::new("y", "2")).await,
            Err(Error::Conflict(_))
        ));
        // The loser left nothing behind: a fresh unlock sees only the winner's item.
        let c = Vault::unlock(&store, vid, &creds(), opts()).await.unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            blocksmith_store::StoreExt::blocking(&store)
                .list_all(&format!("vault/{vid}/items/"))
                .unwrap()
                .len(),
            1
        );
    });
}

#[test]
fn an_interrupted_update_leaves_an_orphan_that_blocks_nothing() {
    use crate::common::FailingStore;
    use blocksmith_store::StoreExt;
    use std::sync::Arc;
    block_on(async {
        let data = Arc::new(MemoryStore::new());
        let (mut v, _) = Vault::create(&*data, &creds(), opts()).await.unwrap();
        let id = v.add(NewItem::new("k", "v1")).await.unwrap();
        let vid = v.id();
        drop(v);
        let blobs = || {
            data.blocking()
                .list_all(&format!("vault/{vid}/items/"))
                .unwrap()
                .len()
        };
        // The new blob is written, then the manifest write (and the cleanup) fail.
        let failing = FailingStore::new(data.clone(), 1);
        let mut v = Vault::unlock(&failing, vid, &creds(), opts())
            .await
            .unwrap();
        assert!(matches!(v.update(&id, "v2").await, Err(Error::Store(_))));
        drop(v);
        assert_eq!(blobs(), 2, "the live blob and an orphan");
        let mut v = Vault::unlock(&*data, vid, &creds(), opts().with_vacuum_grace_secs(0))
            .await
            .unwrap();
        assert_eq!(v.get(&id).await.unwrap().as_str(), Some("v1"));
        // The orphan of version 2 does not block the next version 2.
        assert_eq!(v.update(&id, "v3").await.unwrap(), 2);
        assert_eq!(v.get(&id).await.unwrap().as_str(), Some("v3"));
        // The first pass marks the orphan, the second deletes it.
        assert_eq!(v.vacuum().await.unwrap(), 0);
        assert_eq!(blobs(), 2);
        assert_eq!(v.vacuum().await.unwrap(), 1);
        assert_eq!(v.vacuum().await.unwrap(), 0);
        assert_eq!(blobs(), 1);
        assert_eq!(v.get(&id).await.unwrap().as_str(), Some("v3"));
    });
}

/// The blocking twins: the same calls as the async methods, for
/// synchronous code.
#[test]
fn blocking_twins_of_the_vault_and_api_keys() {
    let store = MemoryStore::new();
    let (mut v, _) = block_on(Vault::create(&store, &creds(), opts())).unwrap();
    let mut sync = v.blocking();
    let id = sync.add(NewItem::new("email", "hunter2")).unwrap();
    assert_eq!(sync.get(&id).unwrap().expose_secret(), b"hunter2");
    sync.update(&id, "hunter3").unwrap();
    assert_eq!(
        sync.get_by_name("email").unwrap().expose_secret(),
        b"hunter3"
    );
    sync.remove(&id).unwrap();
    assert!(sync.get(&id).is_err());
    let keys = blocksmith_vault::ApiKeys::new(
        MemoryStore::new(),
        blocksmith_vault::SymmetricKey::from_bytes([7; 32]),
    );
    let issued = keys
        .blocking()
        .create(blocksmith_vault::ApiKeySpec::new("svc"))
        .unwrap();
    let info = keys.blocking().verify(issued.key.expose_secret()).unwrap();
    assert_eq!(info.id, issued.info.id);
    keys.blocking().revoke(&info.id).unwrap();
    assert!(keys.blocking().verify(issued.key.expose_secret()).is_err());
}
