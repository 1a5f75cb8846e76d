//! Sharing items and collections between vaults.

use crate::common::{creds, opts};
use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use blocksmith_vault::share::ShareHeader;
use blocksmith_vault::{Credentials, Error, NewItem, PublicKey, Vault};

#[test]
fn share_items_and_a_collection_through_the_inbox() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut alice, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let (mut bob, _) = Vault::create(&store, &Credentials::new("bob's"), opts())
            .await
            .unwrap();
        let ids = alice
            .add_many(vec![
                NewItem::new("wifi", "hunter2"),
                NewItem::new("db", "pg://secret").with_collection("team"),
                NewItem::new("ci", "token-123").with_collection("team"),
            ])
            .await
            .unwrap();
        bob.add(NewItem::new("wifi", "bob's own wifi"))
            .await
            .unwrap();
        // Bob publishes his key; Alice checks its fingerprint out of band.
        let bob_pk: PublicKey = bob.public_key().to_string().parse().unwrap();
        assert_eq!(bob_pk.fingerprint(), bob.public_key().fingerprint());
        alice.share(&ids[..1], &bob_pk).await.unwrap();
        alice.share_collection("team", &bob_pk).await.unwrap();
        assert!(matches!(
            alice.share_collection("nope", &bob_pk).await,
            Err(Error::ItemNotFound { .. })
        ));
        let got = bob.receive_shares().await.unwrap();
        assert_eq!(got.len(), 2);
        for (share, _) in &got {
            assert_eq!(share.sender, alice.public_key());
        }
        assert_eq!(bob.len(), 4);
        assert_eq!(
            bob.get_by_name("wifi").await.unwrap().as_str(),
            Some("bob's own wifi")
        );
        assert_eq!(
            bob.get_by_name("wifi (shared 1)").await.unwrap().as_str(),
            Some("hunter2")
        );
        assert_eq!(bob.collection("team").count(), 2);
        assert_eq!(
            bob.get_by_name("ci").await.unwrap().as_str(),
            Some("token-123")
        );
        // The inbox is empty afterwards.
        assert!(bob.receive_shares().await.unwrap().is_empty());
    });
}

#[test]
fn shares_open_only_for_their_recipient_and_reject_tampering() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut alice, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let (bob, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let (eve, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let id = alice.add(NewItem::new("k", "v")).await.unwrap();
        let (_, bundle) = alice.share_bundle(&[id], &bob.public_key()).await.unwrap();
        let h = ShareHeader::parse(&bundle).unwrap();
        assert_eq!(
            (h.sender, h.recipient),
            (alice.public_key(), bob.public_key())
        );
        assert!(bob.open_share(&bundle).is_ok());
        assert!(eve.open_share(&bundle).is_err());
        for bit in 0..bundle.len() * 8 {
            let mut b = bundle.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(bob.open_share(&b).is_err(), "bit {bit}");
        }
        for len in 0..bundle.len() {
            assert!(bob.open_share(&bundle[..len]).is_err());
        }
    });
}

#[test]
fn a_tampered_inbox_entry_is_reported_and_left_alone() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut alice, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let (mut bob, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let id = alice.add(NewItem::new("k", "v")).await.unwrap();
        let share = alice.share(&[id], &bob.public_key()).await.unwrap();
        let key = Key::new(format!("shares/{}/{share}", bob.public_key().fingerprint())).unwrap();
        let mut b = store.blocking().get(&key).unwrap().data.to_vec();
        let last = b.len() - 1;
        b[last] ^= 1;
        store.blocking().put(&key, b).unwrap();
        assert!(matches!(bob.receive_shares().await, Err(Error::Decrypt)));
        assert!(bob.is_empty());
        assert!(store.blocking().get_opt(&key).unwrap().is_some());
    });
}

#[test]
fn after_rotation_shares_go_to_the_new_key() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut alice, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let (mut bob, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let id = alice.add(NewItem::new("k", "v")).await.unwrap();
        let old_pk = bob.public_key();
        let (_, stale) = alice.share_bundle(&[id], &old_pk).await.unwrap();
        let report = bob.rotate().await.unwrap();
        assert!(bob.open_share(&stale).is_err(), "old private key retired");
        alice.share(&[id], &report.public_key).await.unwrap();
        assert_eq!(bob.receive_shares().await.unwrap().len(), 1);
        assert_eq!(bob.get_by_name("k").await.unwrap().as_str(), Some("v"));
    });
}
