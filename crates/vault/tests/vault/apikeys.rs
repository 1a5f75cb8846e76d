//! API keys: issue, verify, rotate with grace, expire, revoke, sweep.

use crate::common::RecordingStore;
use blocksmith_store::{MemoryStore, block_on};
use blocksmith_vault::apikey::{ApiKey, ApiKeyOptions, ApiKeySpec, ApiKeyStatus, ApiKeys};
use blocksmith_vault::{Error, SymmetricKey};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

fn service<S: blocksmith_store::Store>(store: S) -> (ApiKeys<S>, Arc<AtomicU64>) {
    let clock = Arc::new(AtomicU64::new(1_800_000_000));
    let c = clock.clone();
    let keys = ApiKeys::new(store, SymmetricKey::from_bytes([42; 32]))
        .with_clock(move || c.load(Ordering::SeqCst));
    (keys, clock)
}

/// A key with the same prefix and id but another secret, and a valid checksum.
fn forge(key: &ApiKey) -> String {
    let t = key.expose_secret();
    let body_start = t.len() - 50;
    let mut s = format!("{}{}", &t[..body_start + 12], "A".repeat(32));
    let crc = u64::from(crc32fast::hash(s.as_bytes()));
    let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut c = [b'0'; 6];
    let mut v = crc;
    for slot in c.iter_mut().rev() {
        *slot = alphabet[(v % 62) as usize];
        v /= 62;
    }
    s.push_str(std::str::from_utf8(&c).unwrap());
    s
}

#[test]
fn issue_verify_reject() {
    block_on(async {
        let (keys, clock) = service(MemoryStore::new());
        let k = keys
            .create(ApiKeySpec::new("alice").with_scopes(["read", "write"]))
            .await
            .unwrap();
        assert!(k.key.expose_secret().starts_with("bsk_"));
        let info = keys.verify(k.key.expose_secret()).await.unwrap();
        assert_eq!((info.owner.as_str(), info.scopes.len()), ("alice", 2));
        assert_eq!(info.last_used, Some(1_800_000_000));
        // A typo is caught by the checksum, offline.
        let mut typo = k.key.expose_secret().to_string();
        let c = typo.pop().unwrap();
        typo.push(if c == 'a' { 'b' } else { 'a' });
        assert!(matches!(
            keys.verify(&typo).await,
            Err(Error::ApiKeyChecksum)
        ));
        // A well-formed key with the right id but another secret: rejected by the hash.
        let forged = forge(&k.key);
        assert!(ApiKey::parse(&forged).is_ok());
        assert!(matches!(
            keys.verify(&forged).await,
            Err(Error::ApiKeyRejected)
        ));
        // Unknown id, wrong prefix, garbage.
        let stranger = ApiKey::generate("bsk").unwrap();
        assert!(matches!(
            keys.verify(stranger.expose_secret()).await,
            Err(Error::ApiKeyRejected)
        ));
        let other_prefix = ApiKey::generate("ghp").unwrap();
        assert!(matches!(
            keys.verify(other_prefix.expose_secret()).await,
            Err(Error::ApiKeyRejected)
        ));
        assert!(matches!(
            keys.verify("hello").await,
            Err(Error::Malformed { .. })
        ));
        // A service with another pepper rejects the same key.
        let (other, _) = {
            let c = Arc::new(AtomicU64::new(0));
            (
                ApiKeys::new(MemoryStore::new(), SymmetricKey::from_bytes([1; 32])),
                c,
            )
        };
        assert!(other.verify(k.key.expose_secret()).await.is_err());
        // last_used is written at most once per interval.
        clock.fetch_add(30, Ordering::SeqCst);
        assert_eq!(
            keys.verify(k.key.expose_secret()).await.unwrap().last_used,
            Some(1_800_000_000)
        );
        clock.fetch_add(31, Ordering::SeqCst);
        assert_eq!(
            keys.verify(k.key.expose_secret()).await.unwrap().last_used,
            Some(1_800_000_061)
        );
    });
}

#[test]
fn rotation_with_grace_then_revocation() {
    block_on(async {
        let (keys, clock) = service(MemoryStore::new());
        let old = keys
            .create(
                ApiKeySpec::new("svc")
                    .with_scopes(["deploy"])
                    .with_ttl(Duration::from_secs(86_400)),
            )
            .await
            .unwrap();
        let new = keys
            .rotate(&old.info.id, Duration::from_secs(600))
            .await
            .unwrap();
        assert_eq!(new.info.replaces.as_deref(), Some(old.info.id.as_str()));
        assert_eq!(new.info.scopes, ["deploy"]);
        assert_eq!(new.info.expires, Some(1_800_000_000 + 86_400));
        // During the grace period both work.
        let o = keys.verify(old.key.expose_secret()).await.unwrap();
        assert_eq!(
            o.status,
            ApiKeyStatus::Grace {
                until: 1_800_000_600
            }
        );
        assert_eq!(o.replaced_by.as_deref(), Some(new.info.id.as_str()));
        assert!(keys.verify(new.key.expose_secret()).await.is_ok());
        // Rotating a key that is already being replaced is refused.
        assert!(matches!(
            keys.rotate(&old.info.id, Duration::ZERO).await,
            Err(Error::ApiKeyNotActive { .. })
        ));
        // After the grace period only the new key works.
        clock.fetch_add(600, Ordering::SeqCst);
        assert!(matches!(
            keys.verify(old.key.expose_secret()).await,
            Err(Error::ApiKeyRevoked { .. })
        ));
        assert!(keys.verify(new.key.expose_secret()).await.is_ok());
        assert_eq!(keys.sweep().await.unwrap(), 1);
        assert_eq!(keys.sweep().await.unwrap(), 0);
        assert!(matches!(
            keys.get(&old.info.id).await.unwrap().status,
            ApiKeyStatus::Revoked { .. }
        ));
        // Expiry.
        clock.fetch_add(86_400, Ordering::SeqCst);
        assert!(matches!(
            keys.verify(new.key.expose_secret()).await,
            Err(Error::ApiKeyExpired { .. })
        ));
        // Revocation is immediate and idempotent.
        let k = keys.create(ApiKeySpec::new("svc")).await.unwrap();
        keys.revoke(&k.info.id).await.unwrap();
        keys.revoke(&k.info.id).await.unwrap();
        assert!(matches!(
            keys.verify(k.key.expose_secret()).await,
            Err(Error::ApiKeyRevoked { .. })
        ));
        assert!(matches!(
            keys.revoke("nope").await,
            Err(Error::ApiKeyNotFound { .. })
        ));
        assert_eq!(keys.list(Some("svc")).await.unwrap().len(), 3);
        assert_eq!(keys.list(Some("nobody")).await.unwrap().len(), 0);
    });
}

#[test]
fn zero_grace_revokes_at_once_and_store_sees_only_hashes() {
    block_on(async {
        let store = RecordingStore::default();
        let (keys, _) = service(store.clone());
        let keys = keys.with_options(ApiKeyOptions::default().with_prefix("acme_live"));
        let old = keys.create(ApiKeySpec::new("o")).await.unwrap();
        assert!(old.key.expose_secret().starts_with("acme_live_"));
        keys.verify(old.key.expose_secret()).await.unwrap();
        let new = keys.rotate(&old.info.id, Duration::ZERO).await.unwrap();
        assert!(keys.verify(old.key.expose_secret()).await.is_err());
        keys.verify(new.key.expose_secret()).await.unwrap();
        let log = store.log.lock().unwrap();
        let mut saw_id = false;
        for (key, value) in &log.values {
            let text = String::from_utf8_lossy(value);
            for k in [&old.key, &new.key] {
                let secret_part = &k.expose_secret()[k.expose_secret().len() - 38..];
                assert!(!text.contains(secret_part), "key material in {key}");
                assert!(!key.contains(secret_part));
            }
            saw_id |= text.contains(old.key.id());
        }
        assert!(
            saw_id,
            "the scanner sees the (public) id, so it would see the secret"
        );
    });
}

#[test]
fn rotating_an_expired_key_is_refused_and_rotation_never_extends_a_life() {
    block_on(async {
        let (keys, clock) = service(MemoryStore::new());
        clock.store(1_000, Ordering::SeqCst);
        let k = keys
            .create(ApiKeySpec::new("svc").with_ttl(Duration::from_secs(100)))
            .await
            .unwrap();
        // Halfway through its life, a rotation keeps the same end.
        clock.store(1_050, Ordering::SeqCst);
        let r = keys.rotate(&k.info.id, Duration::ZERO).await.unwrap();
        assert_eq!(r.info.expires, Some(1_100));
        // Once expired, rotating it is refused and mints nothing.
        clock.store(1_100, Ordering::SeqCst);
        let before = keys.list(None).await.unwrap().len();
        assert!(matches!(
            keys.rotate(&r.info.id, Duration::ZERO).await,
            Err(Error::ApiKeyExpired { .. })
        ));
        assert_eq!(keys.list(None).await.unwrap().len(), before);
    });
}

#[test]
fn peppers_rotate_with_an_id_and_keys_move_to_the_new_one_on_use() {
    block_on(async {
        let store = MemoryStore::new();
        let old = SymmetricKey::generate().unwrap();
        let new = SymmetricKey::generate().unwrap();
        let v1 = ApiKeys::new(&store, old.clone()).with_pepper_id("2025");
        let k = v1.create(ApiKeySpec::new("svc")).await.unwrap();
        let secret = k.key.expose_secret().to_string();
        // The new pepper alone does not know the key yet.
        let only_new = ApiKeys::new(&store, new.clone()).with_pepper_id("2026");
        assert!(matches!(
            only_new.verify(&secret).await,
            Err(Error::ApiKeyRejected)
        ));
        // During the switch both are configured; a use re-hashes.
        let both = ApiKeys::new(&store, new.clone())
            .with_pepper_id("2026")
            .with_old_pepper("2025", old);
        both.verify(&secret).await.unwrap();
        // Now the old pepper can go.
        only_new.verify(&secret).await.unwrap();
        // Keys created under the new pepper verify too.
        let k2 = only_new.create(ApiKeySpec::new("svc")).await.unwrap();
        only_new.verify(k2.key.expose_secret()).await.unwrap();
    });
}

#[test]
fn a_store_writer_without_the_pepper_cannot_revive_or_widen_a_key() {
    block_on(async {
        use blocksmith_store::StoreExt;
        let store = MemoryStore::new();
        let (keys, _clock) = service(&store);
        let k = keys
            .create(
                ApiKeySpec::new("svc")
                    .with_scopes(["read"])
                    .with_ttl(Duration::from_secs(60)),
            )
            .await
            .unwrap();
        keys.revoke(&k.info.id).await.unwrap();
        let rk = blocksmith_store::Key::new(format!("apikeys/{}", k.info.id)).unwrap();
        let raw = store.blocking().get(&rk).unwrap().data;
        let text = String::from_utf8(raw.to_vec()).unwrap();
        // Revive it, lift the expiry, add a scope: each is refused.
        for forged in [
            text.replacen("\"state\":\"revoked\"", "\"state\":\"active\"", 1),
            text.replacen("\"read\"", "\"admin\"", 1),
        ] {
            assert_ne!(forged, text, "the edit applies");
            store.blocking().put(&rk, forged.into_bytes()).unwrap();
            assert!(matches!(
                keys.verify(k.key.expose_secret()).await,
                Err(Error::ApiKeyRejected)
            ));
        }
        // The genuine record, put back, still says revoked.
        store.blocking().put(&rk, text.into_bytes()).unwrap();
        assert!(matches!(
            keys.verify(k.key.expose_secret()).await,
            Err(Error::ApiKeyRevoked { .. })
        ));
    });
}
