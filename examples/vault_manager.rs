//! A password manager and an API key service in miniature: create two
//! vaults, add items, share a collection from one user to the other, rotate
//! a vault key through a simulated crash, and rotate an API key with a grace
//! period. The store only ever sees ciphertext, wrapped keys and hashes.
//!
//! ```text
//! cargo run --release --example vault_manager
//! ```

use blocksmith::store::{RedbStore, Store, block_on};
use blocksmith::vault::apikey::{ApiKeySpec, ApiKeys};
use blocksmith::vault::{
    Credentials, KdfFloor, KdfParams, KdfPolicy, NewItem, SecretKey, SymmetricKey, Vault,
    VaultOptions,
};
use std::error::Error;
use std::time::Duration;

/// Runs the demo on `store` and returns a one-line summary.
pub(crate) fn demo<S: Store>(store: S) -> Result<String, Box<dyn Error>> {
    block_on(async {
        // Real deployments keep VaultOptions::default() (Argon2id 64 MiB, t=3,
        // p=4) or KdfParams::calibrate(..); the demo uses a lighter cost so it
        // also runs quickly in debug builds.
        let kdf = KdfParams::new(8 * 1024, 1, 1);
        let options = VaultOptions::default()
            .with_kdf(kdf)
            .with_kdf_policy(KdfPolicy::default().with_floor(KdfFloor::Custom {
                memory_kib: 8 * 1024,
                iterations: 1,
            }))
            .with_rotation_batch(2);

        // Alice: two-secret derivation (password + secret key).
        let alice_creds = Credentials::new("alice: correct horse battery staple")
            .with_secret_key(SecretKey::generate()?);
        let (mut alice, _alice_recovery) =
            Vault::create(&store, &alice_creds, options.clone()).await?;
        alice
            .add_many(vec![
                NewItem::new("mail", "hunter2"),
                NewItem::new("postgres prod", "pg://app:s3cr3t@db/prod").with_collection("team"),
                NewItem::new("ci deploy token", "tok_4e1f9a").with_collection("team"),
                NewItem::new("wifi", "long wifi passphrase").with_collection("team"),
                NewItem::new("bank", "PIN 2468"),
            ])
            .await?;

        // Bob shares his public key; Alice compares the fingerprint, then shares.
        let bob_creds = Credentials::new("bob: tr0ub4dor&3");
        let (mut bob, _) = Vault::create(&store, &bob_creds, options.clone()).await?;
        let bob_key = bob.public_key();
        alice.share_collection("team", &bob_key).await?;
        // Bob imports only what Alice sent: the sender is authenticated.
        let alice_key = alice.public_key();
        let received = bob.receive_shares(|s| s.sender == alice_key).await?;
        let shared: usize = received.imported.iter().map(|(s, _)| s.items.len()).sum();
        let bob_reads = bob.get_by_name("postgres prod").await?;
        assert_eq!(bob_reads.as_str(), Some("pg://app:s3cr3t@db/prod"));

        // Alice rotates her vault key; the process "crashes" after 2 items.
        let alice_id = alice.id();
        let progress = alice.rotate_partially(2).await?;
        drop(alice);
        let mut alice = Vault::unlock(&store, alice_id, &alice_creds, options.clone()).await?;
        let pending = alice.rotation_pending().map_or(0, |p| p.done);
        let report = alice.rotate().await?;
        let mail = alice.get_by_name("mail").await?;
        assert_eq!(mail.as_str(), Some("hunter2"));

        // API keys, hashed with a pepper that lives in Alice's vault.
        let pepper = SymmetricKey::generate()?;
        alice
            .add(NewItem::new(
                "apikey pepper",
                pepper.expose_secret().to_vec(),
            ))
            .await?;
        let keys = ApiKeys::new(&store, pepper);
        let old = keys
            .create(ApiKeySpec::new("billing-service").with_scopes(["invoices:read"]))
            .await?;
        let new = keys.rotate(&old.info.id, Duration::from_secs(3600)).await?;
        let both = keys.verify(old.key.expose_secret()).await.is_ok()
            && keys.verify(new.key.expose_secret()).await.is_ok();
        keys.revoke(&old.info.id).await?;
        let old_rejected = keys.verify(old.key.expose_secret()).await.is_err();

        Ok(format!(
            "vault   2 vaults; {} items shared alice->bob (key {}); alice's key rotated epoch {}->{} \
             resumed after a crash at {}/{} items ({} checkpointed); API key rotated with 1 h grace: \
             old+new verify {}, old rejected after revoke {}",
            shared,
            &bob_key.fingerprint()[..8],
            report.from_epoch,
            report.to_epoch,
            progress.done,
            progress.done + progress.remaining,
            pending,
            both,
            old_rejected,
        ))
    })
}

#[allow(dead_code)] // also compiled into the tour, which has its own main
fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/vault_manager");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = RedbStore::open(dir.join("vault.redb"))?;
    println!("{}", demo(&store)?);
    Ok(())
}
