//! Hostile stores: every bit flip, every truncation, wrong credentials, wrong
//! associated data, swapped items, replayed versions, rollbacks. Each must
//! fail with a typed error, never a panic and never wrong plaintext.

use crate::common::{creds, opts};
use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use blocksmith_vault::envelope::{Context, Envelope, Kind};
use blocksmith_vault::item::ItemBlob;
use blocksmith_vault::{
    Credentials, Error, ItemId, NewItem, SecretKey, SymmetricKey, Vault, VaultId,
};

fn item_blob_key(store: &MemoryStore, vault: VaultId, item: ItemId) -> Key {
    let metas = store
        .blocking()
        .list_all(&format!("vault/{vault}/items/{item}/"))
        .unwrap();
    assert_eq!(metas.len(), 1, "one live version");
    metas[0].key.clone()
}

/// The errors a damaged or misplaced ciphertext may produce.
fn is_rejection(e: &Error) -> bool {
    matches!(
        e,
        Error::Malformed { .. }
            | Error::UnsupportedVersion { .. }
            | Error::WrongKind { .. }
            | Error::Decrypt
            | Error::UnknownKeyEpoch { .. }
    )
}

#[test]
fn every_bit_flip_and_truncation_of_an_envelope_fails() {
    let key = SymmetricKey::from_bytes([9; 32]);
    let ctx = Context::new(b"vault").with_item(b"item").with_version(4);
    let env = Envelope::seal(&key, Kind::ItemContent, 1, &ctx, b"attack at dawn").unwrap();
    let open = |b: &[u8]| Envelope::parse(b).and_then(|e| e.open(&key, &ctx));
    assert_eq!(open(&env).unwrap().expose_secret(), b"attack at dawn");
    for bit in 0..env.len() * 8 {
        let mut b = env.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        let e = open(&b).expect_err("a flipped bit must not open");
        assert!(is_rejection(&e), "bit {bit}: {e:?}");
    }
    for len in 0..env.len() {
        let e = open(&env[..len]).expect_err("a truncation must not open");
        assert!(is_rejection(&e), "len {len}: {e:?}");
    }
    // Extending is as bad as truncating.
    let mut longer = env.clone();
    longer.push(0);
    assert!(is_rejection(&open(&longer).unwrap_err()));
}

#[test]
fn every_bit_flip_and_truncation_of_a_stored_item_fails_through_the_vault() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut v, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let id = v.add(NewItem::new("bank", "PIN 2468")).await.unwrap();
        let key = item_blob_key(&store, v.id(), id);
        let good = store.blocking().get(&key).unwrap().data.to_vec();
        let mut checked = 0;
        for bit in 0..good.len() * 8 {
            let mut b = good.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            store.blocking().put(&key, b).unwrap();
            let e = v.get(&id).await.expect_err("a flipped bit must not open");
            assert!(is_rejection(&e), "bit {bit}: {e:?}");
            checked += 1;
        }
        for len in 0..good.len() {
            store.blocking().put(&key, good[..len].to_vec()).unwrap();
            let e = v.get(&id).await.expect_err("a truncation must not open");
            assert!(is_rejection(&e), "len {len}: {e:?}");
            checked += 1;
        }
        assert_eq!(checked, good.len() * 9);
        store.blocking().put(&key, good).unwrap();
        assert_eq!(v.get(&id).await.unwrap().expose_secret(), b"PIN 2468");
    });
}

#[test]
fn every_bit_flip_of_the_manifest_and_wrapped_key_fails_unlock() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut v, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        v.add(NewItem::new("a", "b")).await.unwrap();
        let vid = v.id();
        drop(v);
        let mkey = Key::new(format!("vault/{vid}/manifest")).unwrap();
        let good = store.blocking().get(&mkey).unwrap().data.to_vec();
        for bit in 0..good.len() * 8 {
            let mut b = good.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            store.blocking().put(&mkey, b).unwrap();
            let e = Vault::unlock(&store, vid, &creds(), opts())
                .await
                .unwrap_err();
            assert!(is_rejection(&e), "bit {bit}: {e:?}");
        }
        for len in 0..good.len() {
            store.blocking().put(&mkey, good[..len].to_vec()).unwrap();
            let e = Vault::unlock(&store, vid, &creds(), opts())
                .await
                .unwrap_err();
            assert!(is_rejection(&e), "len {len}: {e:?}");
        }
        store.blocking().put(&mkey, good).unwrap();
        assert!(Vault::unlock(&store, vid, &creds(), opts()).await.is_ok());
    });
}

#[test]
fn wrong_password_and_secret_key_are_typed() {
    block_on(async {
        let store = MemoryStore::new();
        let sk = SecretKey::generate().unwrap();
        let two = creds().with_secret_key(sk.clone());
        let (v, _) = Vault::create(&store, &two, opts()).await.unwrap();
        let vid = v.id();
        drop(v);
        let e = Vault::unlock(&store, vid, &Credentials::new("wrong"), opts())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::SecretKeyRequired), "{e:?}");
        let e = Vault::unlock(
            &store,
            vid,
            &Credentials::new("wrong").with_secret_key(sk.clone()),
            opts(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, Error::WrongCredentials), "{e:?}");
        let other = creds().with_secret_key(SecretKey::generate().unwrap());
        let e = Vault::unlock(&store, vid, &other, opts())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::WrongCredentials), "{e:?}");
        assert!(Vault::unlock(&store, vid, &two, opts()).await.is_ok());
        let e = Vault::unlock(&store, VaultId::generate().unwrap(), &two, opts())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::VaultNotFound { .. }), "{e:?}");
    });
}

#[test]
fn wrong_associated_data_fails() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut v, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let id = v.add(NewItem::new("n", "s")).await.unwrap();
        let bytes = store
            .blocking()
            .get(&item_blob_key(&store, v.id(), id))
            .unwrap()
            .data;
        let blob = ItemBlob::parse(&bytes).unwrap();
        // The blob itself is fine: the vault opens it.
        assert!(v.get(&id).await.is_ok());
        // The item key envelope opened under a wrong context fails, whichever
        // field is wrong.
        let key_env = blob.key;
        let k = SymmetricKey::from_bytes([0; 32]);
        for ctx in [
            Context::new(b"x"),
            Context::new(v.id().as_bytes()).with_item(b"other"),
            Context::new(v.id().as_bytes())
                .with_item(id.as_bytes())
                .with_version(2),
        ] {
            assert!(matches!(key_env.open(&k, &ctx), Err(Error::Decrypt)));
        }
    });
}

#[test]
fn item_swapped_between_ids_fails() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut v, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let a = v.add(NewItem::new("a", "secret of a")).await.unwrap();
        let b = v.add(NewItem::new("b", "secret of b")).await.unwrap();
        let (ka, kb) = (
            item_blob_key(&store, v.id(), a),
            item_blob_key(&store, v.id(), b),
        );
        let blob_a = store.blocking().get(&ka).unwrap().data;
        store.blocking().put(&kb, blob_a).unwrap();
        let e = v.get(&b).await.unwrap_err();
        assert!(matches!(e, Error::Decrypt), "{e:?}");
        assert_eq!(v.get(&a).await.unwrap().expose_secret(), b"secret of a");
    });
}

#[test]
fn item_moved_to_another_vault_fails() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut v1, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let (mut v2, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let a = v1.add(NewItem::new("a", "one")).await.unwrap();
        let b = v2.add(NewItem::new("b", "two")).await.unwrap();
        let blob = store
            .blocking()
            .get(&item_blob_key(&store, v1.id(), a))
            .unwrap()
            .data;
        store
            .blocking()
            .put(&item_blob_key(&store, v2.id(), b), blob)
            .unwrap();
        assert!(is_rejection(&v2.get(&b).await.unwrap_err()));
    });
}

#[test]
fn old_version_replayed_fails() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut v, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let id = v.add(NewItem::new("db", "password v1")).await.unwrap();
        let k1 = item_blob_key(&store, v.id(), id);
        let old = store.blocking().get(&k1).unwrap().data;
        assert_eq!(v.update(&id, "password v2").await.unwrap(), 2);
        let k2 = item_blob_key(&store, v.id(), id);
        assert_ne!(k1, k2);
        assert!(
            store.blocking().get_opt(&k1).unwrap().is_none(),
            "old version deleted"
        );
        // The store serves version 1's ciphertext where version 2 belongs.
        store.blocking().put(&k2, old.clone()).unwrap();
        let e = v.get(&id).await.unwrap_err();
        assert!(matches!(e, Error::Decrypt), "{e:?}");
        // Reopening does not help: the manifest names version 2.
        let vid = v.id();
        drop(v);
        let v = Vault::unlock(&store, vid, &creds(), opts()).await.unwrap();
        assert!(matches!(v.get(&id).await, Err(Error::Decrypt)));
        // Restoring the old key too, with the manifest saying version 2, is still refused.
        store.blocking().put(&k1, old).unwrap();
        assert!(matches!(v.get(&id).await, Err(Error::Decrypt)));
    });
}

#[test]
fn manifest_rollback_is_detected_by_a_client_that_remembers() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut v, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let vid = v.id();
        v.add(NewItem::new("a", "1")).await.unwrap();
        let mkey = Key::new(format!("vault/{vid}/manifest")).unwrap();
        let old_manifest = store.blocking().get(&mkey).unwrap().data;
        let revoked = v.add(NewItem::new("b", "2")).await.unwrap();
        let seen = v.manifest_seq();
        drop(v);
        // A store that rolls the whole manifest back to an older consistent state.
        store.blocking().put(&mkey, old_manifest).unwrap();
        let e = Vault::unlock(&store, vid, &creds(), opts().with_min_manifest_seq(seen))
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Rollback { expected, found, .. } if expected == seen && found == seen - 1),
            "{e:?}"
        );
        // Without the remembered sequence number the old state opens (documented limit).
        let v = Vault::unlock(&store, vid, &creds(), opts()).await.unwrap();
        assert!(v.info(&revoked).is_none());
        // Swapping the sequence number in the clear prefix fails authentication.
        let mut forged = store.blocking().get(&mkey).unwrap().data.to_vec();
        forged[5..13].copy_from_slice(&seen.to_le_bytes());
        store.blocking().put(&mkey, forged).unwrap();
        let e = Vault::unlock(&store, vid, &creds(), opts())
            .await
            .unwrap_err();
        assert!(matches!(e, Error::Decrypt), "{e:?}");
    });
}

#[test]
fn unknown_format_versions_are_rejected() {
    let key = SymmetricKey::from_bytes([1; 32]);
    let ctx = Context::new(b"v");
    let mut env = Envelope::seal(&key, Kind::Custom, 0, &ctx, b"x").unwrap();
    for v in [0u8, 2, 255] {
        env[4] = v;
        assert!(matches!(
            Envelope::parse(&env),
            Err(Error::UnsupportedVersion { version, .. }) if version == u32::from(v)
        ));
    }
    env[4] = 1;
    env[5] = 77;
    assert!(matches!(
        Envelope::parse(&env),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn errors_and_debug_never_show_secrets() {
    block_on(async {
        let store = MemoryStore::new();
        let c = Credentials::new("pw-Z9Q-unique").with_secret_key(SecretKey::generate().unwrap());
        let (mut v, recovery) = Vault::create(&store, &c, opts()).await.unwrap();
        let id = v
            .add(NewItem::new("name-K7W-unique", "secret-X4J-unique"))
            .await
            .unwrap();
        let secret = v.get(&id).await.unwrap();
        let dup = v
            .add(NewItem::new("name-K7W-unique", "secret-X4J-unique"))
            .await
            .unwrap_err();
        let texts = [
            format!("{c:?}"),
            format!("{v:?}"),
            format!("{secret:?}"),
            format!("{recovery:?}"),
            format!("{:?}", v.info(&id).unwrap()),
            format!("{dup:?} {dup}"),
            format!("{:?}", NewItem::new("name-K7W-unique", "secret-X4J-unique")),
            format!(
                "{:?}",
                Vault::unlock(&store, v.id(), &Credentials::new("pw-Z9Q-unique"), opts())
                    .await
                    .unwrap_err()
            ),
        ];
        for t in texts {
            for needle in ["pw-Z9Q", "K7W", "X4J", &recovery.to_text()[3..12]] {
                assert!(!t.contains(needle), "{needle} leaked in {t}");
            }
        }
    });
}
