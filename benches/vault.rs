//! `blocksmith-vault` benchmarks.
//!
//! - `seal_4k` / `open_4k`: one 4 KiB item through the envelope
//!   (XChaCha20-Poly1305, random nonce from the OS, header and context in the
//!   associated data) and through a whole item blob (fresh item key wrapped by
//!   the vault key), against two baselines: `raw_chacha20poly1305`, the
//!   RustCrypto ChaCha20-Poly1305 crate with a counter nonce and no
//!   associated data, and `raw_chacha20poly1305_os_nonce`, the same with a
//!   nonce from the OS (what stateless storage needs). `envelope_fixed_nonce`
//!   isolates the format's cost from the random number generator's. Target:
//!   envelope overhead under 10 %.
//! - `unlock_10k`: unlocking a vault of 10 000 items (header, Argon2id,
//!   unwrap, manifest decrypt and decode) with minimal Argon2 cost so the
//!   vault's own work shows, against `raw_chacha20poly1305_same_bytes`
//!   (decrypting as many bytes as the manifest holds); and unlocking then
//!   reading every item.
//! - `unlock_default_kdf`: the same unlock with the default Argon2id
//!   (64 MiB, t=3, p=4) against `argon2id_alone` with those parameters.
//!
//! Peer crates: `chacha20poly1305`, `argon2`, `getrandom`.
//!
//! ```text
//! cargo bench --bench vault
//! ```

use blocksmith::store::{MemoryStore, block_on};
use blocksmith::vault::envelope::{Context, Envelope, Kind};
use blocksmith::vault::item::ItemBlob;
use blocksmith::vault::kdf::{KdfParams, argon2id};
use blocksmith::vault::{Credentials, ItemId, NewItem, SymmetricKey, Vault, VaultId, VaultOptions};
use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

const ITEM: usize = 4096;
const ITEMS: usize = 10_000;

fn counter_nonce(n: &mut u64) -> [u8; 12] {
    *n += 1;
    let mut nonce = [0u8; 12];
    nonce[4..].copy_from_slice(&n.to_le_bytes());
    nonce
}

fn seal_open(c: &mut Criterion) {
    let key_bytes = [7u8; 32];
    let key = SymmetricKey::from_bytes(key_bytes);
    let raw = ChaCha20Poly1305::new(&key_bytes.into());
    let plain = vec![0x5a_u8; ITEM];
    let vault = VaultId::from_bytes([1; 16]);
    let item = ItemId::from_bytes([2; 16]);
    let ctx = Context::new(vault.as_bytes())
        .with_item(item.as_bytes())
        .with_version(1);

    let mut g = c.benchmark_group("seal_4k");
    g.throughput(Throughput::Bytes(ITEM as u64));
    let mut n = 0u64;
    g.bench_function("raw_chacha20poly1305", |b| {
        b.iter(|| {
            raw.encrypt(&counter_nonce(&mut n).into(), black_box(&plain[..]))
                .unwrap()
        });
    });
    g.bench_function("raw_chacha20poly1305_os_nonce", |b| {
        b.iter(|| {
            let mut nonce = [0u8; 12];
            getrandom::fill(&mut nonce).unwrap();
            raw.encrypt(&nonce.into(), black_box(&plain[..])).unwrap()
        });
    });
    g.bench_function("envelope", |b| {
        b.iter(|| Envelope::seal(&key, Kind::ItemContent, 1, &ctx, black_box(&plain)).unwrap());
    });
    g.bench_function("envelope_fixed_nonce", |b| {
        b.iter(|| {
            Envelope::seal_with_nonce(
                &key,
                Kind::ItemContent,
                1,
                &ctx,
                &[3; 24],
                black_box(&plain),
            )
            .unwrap()
        });
    });
    g.bench_function("item_blob", |b| {
        b.iter(|| ItemBlob::seal(&key, 1, &vault, &item, 1, 7, black_box(&plain)).unwrap());
    });
    g.finish();

    let mut g = c.benchmark_group("open_4k");
    g.throughput(Throughput::Bytes(ITEM as u64));
    let nonce = counter_nonce(&mut n);
    let raw_ct = raw.encrypt(&nonce.into(), &plain[..]).unwrap();
    let env = Envelope::seal(&key, Kind::ItemContent, 1, &ctx, &plain).unwrap();
    let blob = ItemBlob::seal(&key, 1, &vault, &item, 1, 7, &plain).unwrap();
    g.bench_function("raw_chacha20poly1305", |b| {
        b.iter(|| raw.decrypt(&nonce.into(), black_box(&raw_ct[..])).unwrap());
    });
    g.bench_function("envelope", |b| {
        b.iter(|| {
            Envelope::parse(black_box(&env))
                .and_then(|e| e.open(&key, &ctx))
                .unwrap()
        });
    });
    g.bench_function("item_blob", |b| {
        b.iter(|| {
            ItemBlob::parse(black_box(&blob))
                .and_then(|p| p.open(&key, &vault, &item, 1, 7))
                .unwrap()
        });
    });
    g.finish();
}

fn filled_vault(opts: &VaultOptions) -> (MemoryStore, VaultId) {
    let store = MemoryStore::new();
    let id = block_on(async {
        let (mut v, _) = Vault::create(&store, &Credentials::new("bench"), opts.clone())
            .await
            .unwrap();
        let items = (0..ITEMS)
            .map(|i| {
                NewItem::new(
                    format!("site-{i:05}.example.com"),
                    format!("password-{i:08}-xxxxxxxx"),
                )
            })
            .collect();
        v.add_many(items).await.unwrap();
        v.id()
    });
    (store, id)
}

fn unlock(c: &mut Criterion) {
    let creds = Credentials::new("bench");
    let fast = VaultOptions::insecure_fast();
    let (store, id) = filled_vault(&fast);
    let manifest_len = {
        use blocksmith::store::{Key, StoreExt};
        let k = Key::new(format!("vault/{id}/manifest")).unwrap();
        store.blocking().get(&k).unwrap().data.len()
    };
    let mut g = c.benchmark_group("unlock_10k");
    g.sample_size(20);
    let raw = ChaCha20Poly1305::new(&[9u8; 32].into());
    let nonce = [0u8; 12];
    let ct = raw
        .encrypt(&nonce.into(), vec![1u8; manifest_len].as_slice())
        .unwrap();
    g.bench_function("raw_chacha20poly1305_same_bytes", |b| {
        b.iter(|| raw.decrypt(&nonce.into(), black_box(&ct[..])).unwrap());
    });
    g.bench_function("vault_unlock", |b| {
        b.iter(|| block_on(Vault::unlock(&store, id, &creds, fast.clone())).unwrap());
    });
    g.bench_function(BenchmarkId::new("vault_unlock_and_read_all", ITEMS), |b| {
        b.iter(|| {
            block_on(async {
                let v = Vault::unlock(&store, id, &creds, fast.clone())
                    .await
                    .unwrap();
                let ids: Vec<ItemId> = v.items().map(blocksmith::vault::ItemInfo::id).collect();
                let mut total = 0;
                for i in &ids {
                    total += v.get(i).await.unwrap().len();
                }
                total
            })
        });
    });
    g.finish();

    // Default Argon2id: the derivation dominates, by design.
    let default = VaultOptions::default();
    let store = MemoryStore::new();
    let id = block_on(async {
        let (mut v, _) = Vault::create(&store, &creds, default.clone())
            .await
            .unwrap();
        let items = (0..ITEMS)
            .map(|i| NewItem::new(format!("n{i}"), "p"))
            .collect();
        v.add_many(items).await.unwrap();
        v.id()
    });
    let mut g = c.benchmark_group("unlock_default_kdf");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(6));
    g.bench_function("argon2id_alone", |b| {
        let mut out = [0u8; 32];
        b.iter(|| {
            argon2id(
                &KdfParams::default(),
                b"bench",
                &[3; 16],
                &[],
                &[4; 20],
                &mut out,
            )
            .unwrap();
        });
    });
    g.bench_function("vault_unlock_10k", |b| {
        b.iter(|| block_on(Vault::unlock(&store, id, &creds, default.clone())).unwrap());
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = seal_open, unlock
}
criterion_main!(benches);
