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
        let alice_pk = alice.public_key();
        let got = bob.receive_shares(|s| s.sender == alice_pk).await.unwrap();
        assert_eq!(got.imported.len(), 2);
        assert!(got.rejected.is_empty() && got.quarantined.is_empty());
        for (share, _) in &got.imported {
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
        let again = bob.receive_shares(|_| true).await.unwrap();
        assert!(again.imported.is_empty() && again.rejected.is_empty());
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
fn a_tampered_inbox_entry_is_quarantined_and_never_blocks_the_rest() {
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
        // A good share sent after the tampered one still arrives.
        let id2 = alice.add(NewItem::new("k2", "v2")).await.unwrap();
        alice.share(&[id2], &bob.public_key()).await.unwrap();
        let got = bob.receive_shares(|_| true).await.unwrap();
        assert_eq!(got.imported.len(), 1);
        assert_eq!(got.quarantined.len(), 1);
        assert!(matches!(got.quarantined[0].1, Error::Decrypt));
        assert_eq!(bob.get_by_name("k2").await.unwrap().as_str(), Some("v2"));
        // Out of the inbox, kept in quarantine for inspection.
        assert!(store.blocking().get_opt(&key).unwrap().is_none());
        assert_eq!(
            store
                .blocking()
                .list_all("shares-quarantine/")
                .unwrap()
                .len(),
            1
        );
        let next = bob.pending_shares().await.unwrap();
        assert!(next.shares.is_empty() && next.quarantined.is_empty());
    });
}

#[test]
fn shares_from_unknown_senders_are_not_imported() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut alice, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let (mut mallory, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let (mut bob, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let a = alice.add(NewItem::new("from alice", "ok")).await.unwrap();
        let m = mallory
            .add(NewItem::new("bank (new login)", "phish"))
            .await
            .unwrap();
        alice.share(&[a], &bob.public_key()).await.unwrap();
        mallory.share(&[m], &bob.public_key()).await.unwrap();
        // The host sees both, opened and authenticated, before deciding.
        let inbox = bob.pending_shares().await.unwrap();
        assert_eq!(inbox.shares.len(), 2);
        assert!(bob.is_empty(), "nothing imported by looking");
        let alice_pk = alice.public_key();
        let got = bob.receive_shares(|s| s.sender == alice_pk).await.unwrap();
        assert_eq!(got.imported.len(), 1);
        assert_eq!(got.rejected.len(), 1);
        assert_eq!(got.rejected[0].sender, mallory.public_key());
        assert_eq!(bob.len(), 1);
        assert!(bob.find("bank (new login)").is_none());
        assert!(bob.pending_shares().await.unwrap().shares.is_empty());
    });
}

#[test]
fn a_share_the_vault_cannot_import_is_quarantined_not_blocking() {
    block_on(async {
        let store = MemoryStore::new();
        let (mut alice, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        let (mut bob, _) = Vault::create(&store, &creds(), opts()).await.unwrap();
        // A name at the length limit is valid for Alice, but Bob has it too,
        // and the " (shared 1)" suffix makes it too long to import.
        let long = "n".repeat(blocksmith_vault::item::MAX_NAME_LEN);
        bob.add(NewItem::new(long.clone(), "bob's")).await.unwrap();
        let a = alice.add(NewItem::new(long, "alice's")).await.unwrap();
        alice.share(&[a], &bob.public_key()).await.unwrap();
        let b = alice.add(NewItem::new("fine", "ok")).await.unwrap();
        alice.share(&[b], &bob.public_key()).await.unwrap();
        let got = bob.receive_shares(|_| true).await.unwrap();
        assert_eq!(got.imported.len(), 1, "the good share still arrives");
        assert_eq!(got.quarantined.len(), 1);
        assert!(matches!(got.quarantined[0].1, Error::InvalidArgument(_)));
        assert_eq!(bob.get_by_name("fine").await.unwrap().as_str(), Some("ok"));
        // The inbox is clear: the next receive does not fail on it again.
        let next = bob.receive_shares(|_| true).await.unwrap();
        assert!(next.imported.is_empty() && next.quarantined.is_empty());
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
        assert_eq!(
            bob.receive_shares(|_| true).await.unwrap().imported.len(),
            1
        );
        assert_eq!(bob.get_by_name("k").await.unwrap().as_str(), Some("v"));
    });
}
