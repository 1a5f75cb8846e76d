//! Golden on-disk records: what each crate writes at today's format, kept in
//! `tests/golden/<format version>/<crate>.golden`.
//!
//! For each crate a deterministic workload (fixed clocks, ids and seeds)
//! writes through the public API into a `MemoryStore`; the test
//!
//! - (a) dumps the store and compares it byte for byte with the golden file
//!   of the current format version (`CURRENT`), so a change to any record's
//!   bytes fails until it is made deliberately;
//! - (b) loads the golden file of **every** format version into a fresh
//!   store and reads it through the public API, checking the values, so a
//!   new format must still read (or migrate) the old one.
//!
//! `BLOCKSMITH_GOLDEN_WRITE=1 cargo test -p blocksmith --test golden
//! --features full` rewrites the current version's files instead of
//! comparing (see `tests/README.md` for when that is right).
//!
//! Where an encoding holds randomness or wall time, (a) compares less:
//! - vault: keys, salts and nonces are random; (a) compares only the record
//!   kinds and schema versions, (b) unlocks the golden vault and verifies
//!   the golden API key;
//! - ocr: a page record carries its stage timings, zeroed on both sides
//!   before comparing;
//! - flow, tenant, dispute: a worker's lease and membership records carry
//!   its name with a random suffix, replaced on both sides before
//!   comparing.
//!
//! The file format is text: `meta <name> <value>` lines, then per stored
//! object a `key <key>` line followed by either `record <kind> <version>`
//! and the record's JSON payload on one line (the typed-record envelope of
//! `blocksmith_store::record`, so the bytes are exact) or `bytes <n>` and
//! the bytes in hex, 64 to a line. Names starting with `~` are not store
//! keys but standalone encodings (the sketches' wire formats).

#[path = "support/engines.rs"]
#[allow(dead_code)] // this file uses only the fixed clock
mod engines;

use blocksmith::store::record::{self, Record};
use blocksmith::store::{Key, MemoryStore, PutOptions, Store, StoreExt, block_on};
use bytes::Bytes;
use engines::{NOW_MS, Outcome};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The format version the crates write today.
const CURRENT: &str = "v0.2";

// ------------------------------------------------------- golden files ----

#[derive(Debug, Default, PartialEq)]
struct Golden {
    meta: BTreeMap<String, String>,
    /// Name (a store key, or `~name` for a standalone encoding) and bytes.
    entries: Vec<(String, Bytes)>,
}

impl Golden {
    fn render(&self, title: &str) -> String {
        let mut out = format!(
            "# {title}\n# Written by tests/golden.rs (BLOCKSMITH_GOLDEN_WRITE=1); do not edit by hand.\n"
        );
        for (k, v) in &self.meta {
            writeln!(out, "meta {k} {v}").expect("string");
        }
        for (name, bytes) in &self.entries {
            writeln!(out, "key {name}").expect("string");
            match record::peek(name, bytes) {
                Ok(env)
                    if std::str::from_utf8(env.payload).is_ok_and(|p| !p.contains('\n'))
                        && record_bytes(env.kind, env.version, env.payload) == *bytes =>
                {
                    writeln!(out, "record {} {}", env.kind, env.version).expect("string");
                    out.push_str(std::str::from_utf8(env.payload).expect("checked"));
                    out.push('\n');
                }
                _ => {
                    writeln!(out, "bytes {}", bytes.len()).expect("string");
                    for line in bytes.chunks(64) {
                        for b in line {
                            write!(out, "{b:02x}").expect("string");
                        }
                        out.push('\n');
                    }
                }
            }
        }
        out
    }

    fn parse(text: &str) -> Result<Golden, String> {
        let mut g = Golden::default();
        let mut lines = text.lines().filter(|l| !l.starts_with('#'));
        while let Some(line) = lines.next() {
            if let Some(rest) = line.strip_prefix("meta ") {
                let (k, v) = rest.split_once(' ').ok_or("meta without value")?;
                g.meta.insert(k.into(), v.into());
            } else if let Some(name) = line.strip_prefix("key ") {
                let how = lines.next().ok_or("key without value")?;
                let bytes = if let Some(rest) = how.strip_prefix("record ") {
                    let (kind, version) = rest.split_once(' ').ok_or("bad record line")?;
                    let version = version.parse().map_err(|_| "bad record version")?;
                    let payload = lines.next().ok_or("record without payload")?;
                    record_bytes(kind, version, payload.as_bytes())
                } else if let Some(n) = how.strip_prefix("bytes ") {
                    let n: usize = n.parse().map_err(|_| "bad length")?;
                    let mut hex = String::new();
                    while hex.len() < 2 * n {
                        hex.push_str(lines.next().ok_or("truncated bytes")?);
                    }
                    (0..n)
                        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
                        .collect::<Result<Vec<u8>, _>>()
                        .map_err(|_| "bad hex")?
                        .into()
                } else {
                    return Err(format!("unexpected line {how:?}"));
                };
                g.entries.push((name.into(), bytes));
            } else if !line.is_empty() {
                return Err(format!("unexpected line {line:?}"));
            }
        }
        Ok(g)
    }

    /// The stored objects (not the `~` entries) as a fresh store.
    fn store(&self) -> Arc<MemoryStore> {
        let store = MemoryStore::new();
        for (name, bytes) in &self.entries {
            if !name.starts_with('~') {
                let key = Key::new(name.as_str()).expect("golden key");
                store
                    .blocking()
                    .put_opts(&key, bytes.clone(), PutOptions::create())
                    .expect("put");
            }
        }
        Arc::new(store)
    }

    fn entry(&self, name: &str) -> &Bytes {
        &self
            .entries
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no golden entry {name}"))
            .1
    }

    /// The record kinds and versions, in order of name.
    fn kinds(&self) -> Vec<(String, u32)> {
        let mut kinds: Vec<_> = self
            .entries
            .iter()
            .filter_map(|(n, b)| record::peek(n, b).ok())
            .map(|e| (e.kind.to_string(), e.version))
            .collect();
        kinds.sort();
        kinds
    }
}

/// A typed record's bytes: the envelope of `blocksmith_store::record`,
/// written here by hand so that an envelope change shows up too.
fn record_bytes(kind: &str, version: u32, payload: &[u8]) -> Bytes {
    let mut out = b"BSRC\x01".to_vec();
    out.push(kind.len() as u8);
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(payload);
    out.into()
}

/// Every object in `store`, in key order.
fn dump<S: Store + ?Sized>(store: &S) -> Outcome<Vec<(String, Bytes)>> {
    let mut out = Vec::new();
    for meta in block_on(store.list_all(""))? {
        let got = block_on(store.get_opt(&meta.key))?.expect("listed");
        out.push((meta.key.to_string(), got.data));
    }
    Ok(out)
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn path(version: &str, name: &str) -> PathBuf {
    golden_dir().join(version).join(format!("{name}.golden"))
}

fn writing() -> bool {
    std::env::var_os("BLOCKSMITH_GOLDEN_WRITE").is_some_and(|v| v == "1")
}

/// Every format version with a golden file for `name`.
fn versions(name: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(golden_dir())
        .expect("tests/golden")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|v| path(v, name).exists())
        .collect();
    out.sort();
    out
}

fn read(version: &str, name: &str) -> Golden {
    let p = path(version, name);
    let text = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}; BLOCKSMITH_GOLDEN_WRITE=1 writes it", p.display()));
    Golden::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// How much of an encoding (a) compares.
#[derive(Clone, Copy)]
enum Compare {
    /// Every byte.
    Exact,
    /// Every byte after this rewrite of both sides (wall time, random names).
    Normalized(fn(&str, Bytes) -> Bytes),
    /// Only the record kinds and versions (random keys and ciphertexts).
    Kinds,
}

/// The whole golden test of one crate: (a) against the current version's
/// file (or writing it), (b) decoding every version's file.
fn golden(name: &str, title: &str, now: &Golden, compare: Compare, check: fn(&Golden) -> Outcome) {
    if writing() {
        let p = path(CURRENT, name);
        std::fs::create_dir_all(p.parent().expect("dir")).expect("mkdir");
        std::fs::write(&p, now.render(title)).expect("write golden");
    } else {
        let old = read(CURRENT, name);
        // The file format round-trips, so a mismatch is about the bytes.
        assert_eq!(Golden::parse(&now.render(title)).as_ref(), Ok(now));
        match compare {
            Compare::Exact => assert_entries(name, &old.entries, &now.entries),
            Compare::Normalized(f) => {
                let norm = |g: &Golden| -> Vec<(String, Bytes)> {
                    let tokens = random_tokens(g);
                    let mut out: Vec<_> = g
                        .entries
                        .iter()
                        .map(|(k, v)| {
                            let v = f(k, v.clone());
                            (
                                blank_tokens(k.as_bytes(), &tokens),
                                blank_tokens(&v, &tokens),
                            )
                        })
                        .map(|(k, v)| (String::from_utf8(k.to_vec()).expect("utf-8 key"), v))
                        .collect();
                    out.sort();
                    out
                };
                assert_entries(name, &norm(&old), &norm(now));
            }
            Compare::Kinds => assert_eq!(old.kinds(), now.kinds(), "{name}: record kinds"),
        }
    }
    // (b) also on what was just written, so a fresh file is checked too.
    check(now).unwrap_or_else(|e| panic!("{name}: decoding today's encoding: {e}"));
    for version in versions(name) {
        let old = read(&version, name);
        check(&old).unwrap_or_else(|e| panic!("{name}: decoding the {version} golden file: {e}"));
    }
}

fn assert_entries(name: &str, old: &[(String, Bytes)], now: &[(String, Bytes)]) {
    let keys = |e: &[(String, Bytes)]| e.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>();
    assert_eq!(
        keys(old),
        keys(now),
        "{name}: the stored keys changed against tests/golden/{CURRENT}/{name}.golden \
         (a format change: add a migration and a new golden version, see tests/README.md)"
    );
    for ((k, a), (_, b)) in old.iter().zip(now) {
        assert!(
            a == b,
            "{name}: {k} is encoded differently than in tests/golden/{CURRENT}/{name}.golden \
             (a format change: add a migration and a new golden version, see tests/README.md)\n\
             golden: {:?}\nnow:    {:?}",
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(b)
        );
    }
}

/// The random parts of flow's key names: the 24-hex-digit suffix of a
/// due-index entry (`<prefix>/d/<shard>/<due>/<instance>/<random>`).
fn random_tokens(g: &Golden) -> Vec<String> {
    let hex = |t: &str, n: usize| t.len() == n && t.bytes().all(|b| b.is_ascii_hexdigit());
    let due = g
        .entries
        .iter()
        .filter(|(k, _)| k.contains("/d/"))
        .filter_map(|(k, _)| k.rsplit('/').next())
        .filter(|t| hex(t, 24));
    // A feed's log entries are named `<generation>-<random nonce>`.
    let feed_log = g
        .entries
        .iter()
        .filter(|(k, _)| k.starts_with("feed/") && k.contains("/log/"))
        .filter_map(|(k, _)| k.rsplit('-').next())
        .filter(|t| hex(t, 16));
    due.chain(feed_log).map(str::to_string).collect()
}

/// `bytes` with every token replaced by `*`.
fn blank_tokens(bytes: &[u8], tokens: &[String]) -> Bytes {
    let mut out = bytes.to_vec();
    for t in tokens {
        let t = t.as_bytes();
        let mut i = 0;
        while i + t.len() <= out.len() {
            if &out[i..i + t.len()] == t {
                out.splice(i..i + t.len(), *b"*");
            }
            i += 1;
        }
    }
    out.into()
}

/// Replaces every `"<field>":<value>` number or string in a JSON payload.
fn blank_json_field(payload: &str, field: &str, with: &str) -> String {
    let needle = format!("\"{field}\":");
    let mut out = String::with_capacity(payload.len());
    let mut rest = payload;
    while let Some(i) = rest.find(&needle) {
        out.push_str(&rest[..i + needle.len()]);
        rest = &rest[i + needle.len()..];
        let end = if let Some(string) = rest.strip_prefix('"') {
            1 + string.find('"').expect("closed string") + 1
        } else {
            rest.find([',', '}', ']']).unwrap_or(rest.len())
        };
        out.push_str(with);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn rewrite_record(key: &str, bytes: Bytes, f: impl Fn(&str) -> String) -> Bytes {
    match record::peek(key, &bytes) {
        Ok(env) => match std::str::from_utf8(env.payload) {
            Ok(p) => record_bytes(env.kind, env.version, f(p).as_bytes()),
            Err(_) => bytes,
        },
        Err(_) => bytes,
    }
}

fn golden_of(store: &MemoryStore) -> Golden {
    Golden {
        meta: BTreeMap::new(),
        entries: dump(store).expect("dump"),
    }
}

// ---------------------------------------------------------------- tsz ----

fn tsz_options() -> blocksmith::tsz::series::SeriesOptions {
    blocksmith::tsz::series::SeriesOptions::new(blocksmith::tsz::TimeUnit::Seconds)
        .with_max_points(100)
}

fn tsz_value(t: i64) -> f64 {
    (t % 17) as f64 * 0.25 + 20.0
}

#[test]
fn tsz() {
    use blocksmith::tsz::series::Series;
    let store = MemoryStore::new();
    block_on(async {
        let mut s = Series::open(&store, "cpu", tsz_options()).await?;
        for t in 0..250 {
            s.append(1_700_000_000 + t * 10, tsz_value(t)).await?;
        }
        // Two sealed chunks and an open head.
        s.flush().await?;
        Outcome::Ok(())
    })
    .expect("workload");
    golden(
        "tsz",
        "blocksmith-tsz: a series (meta, sealed chunks, head)",
        &golden_of(&store),
        Compare::Exact,
        |g| {
            let store = g.store();
            block_on(async {
                let s = Series::open(store, "cpu", tsz_options()).await?;
                assert_eq!(s.len(), 250);
                assert_eq!(s.sealed_chunks(), 2);
                let (points, _) = s.range(1_700_000_000, 1_700_010_000).await?;
                assert_eq!(points.len(), 250);
                for (i, (t, v)) in points.iter().enumerate() {
                    assert_eq!(*t, 1_700_000_000 + i as i64 * 10);
                    assert_eq!(v.to_bits(), tsz_value(i as i64).to_bits());
                }
                Ok(())
            })
        },
    );
}

// -------------------------------------------------------------- vault ----

#[test]
fn vault() {
    use blocksmith::vault::{
        ApiKeySpec, ApiKeys, Credentials, NewItem, SymmetricKey, Vault, VaultOptions,
    };
    let store = MemoryStore::new();
    let mut meta = BTreeMap::new();
    block_on(async {
        let creds = Credentials::new("correct horse battery staple");
        let (mut v, _) = Vault::create(&store, &creds, VaultOptions::insecure_fast()).await?;
        v.add(NewItem::new("email", "hunter2")).await?;
        let bank = v.add(NewItem::new("bank", "1234")).await?;
        v.update(&bank, "4321").await?;
        meta.insert("vault_id".to_string(), v.id().to_string());
        let keys =
            ApiKeys::new(&store, SymmetricKey::from_bytes([7; 32])).with_clock(|| NOW_MS / 1000);
        let key = keys
            .create(ApiKeySpec::new("ada").with_scopes(["deploy"]))
            .await?;
        meta.insert("api_key".to_string(), key.key.expose_secret().to_string());
        Outcome::Ok(())
    })
    .expect("workload");
    let now = Golden {
        meta,
        entries: dump(&store).expect("dump"),
    };
    golden(
        "vault",
        "blocksmith-vault: a vault (header, manifest, items) and an API key; random keys and nonces",
        &now,
        Compare::Kinds,
        |g| {
            let store = g.store();
            block_on(async {
                let creds = Credentials::new("correct horse battery staple");
                let id = g.meta["vault_id"].parse()?;
                let v =
                    Vault::unlock(store.clone(), id, &creds, VaultOptions::insecure_fast()).await?;
                assert_eq!(v.get_by_name("email").await?.expose_secret(), b"hunter2");
                assert_eq!(v.get_by_name("bank").await?.expose_secret(), b"4321");
                let keys = ApiKeys::new(store, SymmetricKey::from_bytes([7; 32]))
                    .with_clock(|| NOW_MS / 1000 + 60);
                let info = keys.verify(&g.meta["api_key"]).await?;
                assert_eq!(
                    (info.owner.as_str(), info.scopes.as_slice()),
                    ("ada", &["deploy".to_string()][..])
                );
                Ok(())
            })
        },
    );
}

/// The vault's envelope with a fixed nonce (`seal_with_nonce`, for
/// known-answer tests): the one vault encoding (a) can compare exactly.
#[test]
fn vault_envelope() {
    use blocksmith::vault::SymmetricKey;
    use blocksmith::vault::envelope::{Context, Envelope, Kind};
    let key = SymmetricKey::from_bytes([7; 32]);
    let item = Context::new(b"vault-1")
        .with_item(b"item-7")
        .with_version(2);
    let custom = Context::new(b"tenant-acme").with_item(b"files/a.pdf");
    let mut now = Golden::default();
    for (name, kind, epoch, ctx, nonce, text) in [
        (
            "~item-content",
            Kind::ItemContent,
            3,
            &item,
            [9; 24],
            &b"hunter2"[..],
        ),
        (
            "~custom",
            Kind::Custom,
            0,
            &custom,
            [1; 24],
            &b"%PDF-1.7 contract"[..],
        ),
    ] {
        let sealed = Envelope::seal_with_nonce(&key, kind, epoch, ctx, &nonce, text).expect("seal");
        now.entries.push((name.to_string(), sealed.into()));
    }
    golden(
        "vault-envelope",
        "blocksmith-vault: the ciphertext envelope (format 1), fixed key and nonces",
        &now,
        Compare::Exact,
        |g| {
            use blocksmith::vault::envelope::open;
            let key = SymmetricKey::from_bytes([7; 32]);
            let item = Context::new(b"vault-1")
                .with_item(b"item-7")
                .with_version(2);
            let e = Envelope::parse(g.entry("~item-content"))?;
            assert_eq!(
                (e.kind(), e.key_epoch(), e.nonce()),
                (Kind::ItemContent, 3, &[9; 24])
            );
            assert_eq!(e.open(&key, &item)?.expose_secret(), b"hunter2");
            let custom = Context::new(b"tenant-acme").with_item(b"files/a.pdf");
            let pdf = open(&key, Kind::Custom, &custom, g.entry("~custom"))?;
            assert_eq!(pdf.expose_secret(), b"%PDF-1.7 contract");
            // Bound to its item: the other context does not open it.
            assert!(open(&key, Kind::Custom, &item, g.entry("~custom")).is_err());
            Ok(())
        },
    );
}

// --------------------------------------------------------------- diff ----

fn fixed_ms() -> u64 {
    NOW_MS
}

#[test]
fn diff() {
    use blocksmith::diff::history::{ConfigStore, HistoryOptions};
    use blocksmith::diff::value::Format;
    let store = MemoryStore::new();
    block_on(async {
        let configs = ConfigStore::new(&store, HistoryOptions::default().with_clock(fixed_ms));
        let yaml = Some(Format::Yaml);
        configs
            .commit("web", "replicas: 2\npassword: a\n", yaml, "ada", "first")
            .await?;
        let p = configs
            .propose("web", "replicas: 3\npassword: b\n", yaml, "ada", "scale")
            .await?;
        configs.submit(&p.id, "ada").await?;
        configs.approve(&p.id, "bob").await?;
        configs.apply(&p.id, "ada").await?;
        configs
            .propose("web", "replicas: 9\n", yaml, "eve", "too big")
            .await?;
        Outcome::Ok(())
    })
    .expect("workload");
    golden(
        "diff",
        "blocksmith-diff: config versions, head, proposals, proposal counter",
        &golden_of(&store),
        Compare::Exact,
        |g| {
            use blocksmith::diff::history::ProposalStatus;
            let store = g.store();
            block_on(async {
                let configs =
                    ConfigStore::new(store, HistoryOptions::default().with_clock(fixed_ms));
                let history = configs.history("web").await?;
                assert_eq!(history.len(), 2);
                assert_eq!(history[1].content, "replicas: 3\npassword: b\n");
                assert_eq!(history[1].timestamp_ms, NOW_MS);
                assert_eq!(history[1].parent, Some(1));
                let proposals = configs.proposals().await?;
                assert_eq!(proposals.len(), 2);
                assert_eq!(proposals[0].status, ProposalStatus::Applied);
                assert_eq!(proposals[0].approvals, ["bob"]);
                assert_eq!(proposals[1].status, ProposalStatus::Draft);
                // The counter continues after the stored ids.
                let next = configs
                    .propose("web", "replicas: 4\n", None, "ada", "next")
                    .await?;
                assert!(proposals.iter().all(|p| p.id != next.id));
                Ok(())
            })
        },
    );
}

// ---------------------------------------------------------------- geo ----

#[test]
fn geo() {
    use blocksmith::geo::{Fence, Fix, GeoIndex, GeoOptions, HistoryOptions, Kind, RoamingFence};
    let options = GeoOptions::default()
        .with_ttl_ms(Some(600_000))
        .with_history(Some(HistoryOptions::default()))
        .with_huge_pages(false);
    let mut index = GeoIndex::new(options);
    let depot = Fence::from_lat_lon(
        "depot",
        [[
            (52.50, 13.30),
            (52.50, 13.40),
            (52.55, 13.40),
            (52.55, 13.30),
        ]],
    )
    .expect("fence")
    .with_kinds([Kind::Driver])
    .with_dwell_ms(60_000);
    index.add_fence(depot).expect("fence");
    index
        .add_roaming_fence(RoamingFence::new("near-d0", "d0", 2_000.0).with_kinds([Kind::Rider]))
        .expect("roaming fence");
    for step in 0..3i64 {
        for i in 0..8i64 {
            let kind = if i % 3 == 0 {
                Kind::Rider
            } else {
                Kind::Driver
            };
            let fix = Fix::new(
                52.49 + i as f64 * 0.01,
                13.35 + step as f64 * 0.001,
                1_000 + step * 30_000,
            )
            .with_accuracy(5.0 + i as f32);
            index.upsert(&format!("d{i}"), &kind, fix).expect("upsert");
        }
    }
    index.drain_events().for_each(drop);
    let store = MemoryStore::new();
    block_on(index.save(&store, "berlin")).expect("save");
    golden(
        "geo",
        "blocksmith-geo: an index snapshot (manifest and one part)",
        &golden_of(&store),
        Compare::Exact,
        |g| {
            use blocksmith::geo::{LatLon, QueryFilter};
            let store = g.store();
            let back = block_on(GeoIndex::load(&*store, "berlin"))?.expect("saved");
            assert_eq!(back.len(), 8);
            assert_eq!(back.clock(), 61_000);
            assert_eq!(back.options().ttl_ms, Some(600_000));
            let d3 = back.get("d3").expect("entity");
            assert_eq!(d3.fix.ts_ms, 61_000);
            assert_eq!(back.trajectory("d3").expect("history").len(), 3);
            let members = back.fence_members("depot").expect("fence");
            assert_eq!(
                members.iter().map(|m| &**m).collect::<Vec<_>>(),
                ["d1", "d2", "d4", "d5"]
            );
            let hits = back.radius(
                LatLon::new(52.518, 13.352)?,
                1_500.0,
                10,
                &QueryFilter::new(),
            )?;
            assert_eq!(
                hits.iter().map(|h| &*h.id).collect::<Vec<_>>(),
                ["d3", "d2", "d4"]
            );
            Ok(())
        },
    );
}

// --------------------------------------------------------------- feed ----

/// The nonce of a feed's last save is random: blanked in `meta` (and in the
/// log entry's name, by [`random_tokens`]).
fn blank_head_nonce(k: &str, b: Bytes) -> Bytes {
    rewrite_record(k, b, |p| blank_json_field(p, "head_nonce", "0"))
}

fn feed_config() -> blocksmith::feed::FeedOptions {
    blocksmith::feed::FeedOptions::default()
        .with_celebrity_threshold(3)
        .with_inbox_cap(4)
        .with_page_size(10)
}

#[test]
fn feed() {
    use blocksmith::feed::{CursorKey, Feed, FeedStore, Interaction, Kind, UserId};
    let store = MemoryStore::new();
    block_on(async {
        let mut feed = Feed::new(feed_config(), CursorKey::derive(b"golden"));
        for u in 1..5u32 {
            feed.follow(UserId(u), UserId(0))?;
        }
        feed.follow(UserId(1), UserId(2))?;
        feed.mute(UserId(3), UserId(2))?;
        feed.block(UserId(4), UserId(2))?;
        let mut posts = Vec::new();
        for i in 0..8i64 {
            posts.push(feed.publish(UserId((i % 3) as u32), 1_000 + i * 60_000, Kind::Text)?);
        }
        feed.reshare(UserId(1), posts[0], 600_000)?;
        feed.interact(UserId(1), posts[2], Interaction::Like, 700_000)?;
        feed.interact(UserId(1), posts[2], Interaction::Comment, 700_000)?;
        feed.mark_seen(UserId(1), [posts[0], posts[3]])?;
        feed.delete(posts[5])?;
        FeedStore::new(&store, "social")?.save(&mut feed).await?;
        Outcome::Ok(())
    })
    .expect("workload");
    golden(
        "feed",
        "blocksmith-feed: meta, graph, inbox, state and post block records, the log",
        &golden_of(&store),
        Compare::Normalized(blank_head_nonce),
        |g| {
            let store = g.store();
            block_on(async {
                let feed = FeedStore::new(store, "social")?
                    .load(feed_config(), CursorKey::derive(b"golden"))
                    .await?;
                assert_eq!(feed.posts().len(), 9);
                assert_eq!(feed.follower_count(UserId(0)), 4);
                assert!(feed.is_muted(UserId(3), UserId(2)));
                assert!(feed.is_blocked(UserId(4), UserId(2)));
                assert!(feed.is_seen(UserId(1), blocksmith::feed::PostId(3)));
                let p2 = feed.post(blocksmith::feed::PostId(2)).expect("post");
                assert_eq!((p2.likes, p2.comments), (1, 1));
                assert!(
                    feed.post(blocksmith::feed::PostId(5))
                        .expect("post")
                        .deleted
                );
                assert!(feed.affinity(UserId(1), UserId(2), 700_000) > 0.0);
                // Followees 0 and 2: posts 0, 3, 6 and 2 (5 is deleted).
                let page = feed.read(UserId(1), None, 800_000)?;
                let mut ids: Vec<u64> = page.items.iter().map(|i| i.post.0).collect();
                ids.sort_unstable();
                assert_eq!(ids, [0, 2, 3, 6]);
                Ok(())
            })
        },
    );
}

// ------------------------------------------------------------- upload ----

#[test]
fn upload() {
    use blocksmith::upload::cdc::CdcOptions;
    use blocksmith::upload::dedup::{DedupStore, Plan};
    use blocksmith::upload::{Algorithm, CreateOptions, UploadOptions, Uploads};
    let file: Bytes = (0..3_000u32).map(|i| (i % 251) as u8).collect();
    let store = MemoryStore::new();
    block_on(async {
        let uploads = Uploads::with_options(
            &store,
            UploadOptions::default().with_part_size(100, 1 << 20),
        )
        .with_clock(|| NOW_MS / 1000);
        let done = uploads
            .create(
                CreateOptions::new(3_000)
                    .with_id("done")
                    .with_metadata("filename", "a.bin")
                    .with_expected(Algorithm::Sha256.digest(&file)),
            )
            .await?;
        uploads
            .put_part(&done.session.id, 0, file.slice(..1_000), None)
            .await?;
        uploads
            .put_part(&done.session.id, 1_000, file.slice(1_000..), None)
            .await?;
        uploads.finalize("done").await?;
        let open = uploads
            .create(CreateOptions::new(3_000).with_id("open"))
            .await?;
        let crc = Algorithm::Crc32c.digest(&file.slice(2_000..));
        uploads
            .put_part(&open.session.id, 2_000, file.slice(2_000..), Some(&crc))
            .await?;
        let chunks = DedupStore::new(&store);
        let config = CdcOptions::new(256, 512, 1_024)?;
        chunks
            .upload("file", &file, &Plan::new(&file, config)?)
            .await?;
        Outcome::Ok(())
    })
    .expect("workload");
    golden(
        "upload",
        "blocksmith-upload: sessions, parts, a published object, dedup chunks and manifest",
        &golden_of(&store),
        Compare::Exact,
        |g| {
            let store = g.store();
            let file: Bytes = (0..3_000u32).map(|i| (i % 251) as u8).collect();
            block_on(async {
                let uploads = Uploads::with_options(
                    store.clone(),
                    UploadOptions::default().with_part_size(100, 1 << 20),
                )
                .with_clock(|| NOW_MS / 1000);
                let done = uploads.session("done").await?;
                assert_eq!(done.metadata["filename"], "a.bin");
                assert_eq!(done.created_at, NOW_MS / 1000);
                let blocksmith::upload::SessionState::Finalized(p) = done.state else {
                    return Err("not finalized".into());
                };
                assert_eq!((p.key.as_str(), p.size), ("uploads/objects/done", 3_000));
                let status = uploads.status("open").await?;
                assert_eq!(status.missing, vec![0..2_000]);
                uploads
                    .put_part("open", 0, file.slice(..2_000), None)
                    .await?;
                uploads.finalize("open").await?;
                let got = store
                    .get_opt(&Key::new("uploads/objects/open")?)
                    .await?
                    .expect("published");
                assert_eq!(got.data, file);
                assert_eq!(DedupStore::new(store).read("file").await?, file);
                Ok(())
            })
        },
    );
}

// ------------------------------------------------------------- sketch ----

fn sketch_job()
-> blocksmith::sketch::window::Windowed<String, u64, blocksmith::sketch::aggregate::DistinctCount> {
    use blocksmith::sketch::window::{WindowKind, WindowOptions, Windowed};
    let opts =
        WindowOptions::new(WindowKind::Tumbling { size: 60_000 }).with_allowed_lateness(5_000);
    Windowed::new(opts).expect("options")
}

fn sketch_events() -> impl Iterator<Item = (String, i64, u64)> {
    (0..400u64).map(|i| (format!("/p{}", i % 2), (i * 250) as i64, i % 50))
}

#[test]
fn sketch() {
    use blocksmith::sketch::bloom::{BloomFilter, ExactSet};
    use blocksmith::sketch::ddsketch::DdSketch;
    use blocksmith::sketch::frequency::{CountMin, SpaceSaving};
    use blocksmith::sketch::hll::{HllSketch, HllType};
    use blocksmith::sketch::kll::KllSketch;
    use blocksmith::sketch::theta::UpdateTheta;
    let store = MemoryStore::new();
    let mut job = sketch_job();
    let events: Vec<_> = sketch_events().collect();
    for (k, t, u) in &events[..300] {
        job.process(k.clone(), *t, *u).expect("process");
    }
    block_on(job.save(&store, "users")).expect("save");
    let mut now = golden_of(&store);
    let mut hll4 = HllSketch::new(8, HllType::Hll4).expect("hll");
    let mut hll8 = HllSketch::new(8, HllType::Hll8).expect("hll");
    let mut kll = KllSketch::<f64>::new(200).expect("kll").with_seed(42);
    let mut theta = UpdateTheta::new(8).expect("theta");
    let mut dd = DdSketch::new(0.01).expect("ddsketch");
    let mut cm = CountMin::new(3, 64).expect("count-min");
    let mut ss = SpaceSaving::new(8).expect("space-saving");
    let mut bloom = BloomFilter::new(1_024, 3).expect("bloom");
    let mut exact = ExactSet::new();
    for i in 0..1_000u64 {
        hll4.update(&i);
        hll8.update(&(i % 100));
        kll.update(i as f64);
        theta.update(&i);
        dd.update(1.0 + i as f64);
        cm.update(&(i % 10), 1);
        ss.update(&format!("k{}", i % 12), 1 + i % 3);
        bloom.insert(&(i * 7));
        exact.insert(i * 3);
    }
    for (name, bytes) in [
        ("~hll4", hll4.to_bytes()),
        ("~hll8", hll8.to_bytes()),
        ("~kll", kll.to_bytes()),
        ("~theta", theta.compact().to_bytes()),
        ("~ddsketch", dd.to_bytes()),
        ("~countmin", cm.to_bytes()),
        ("~spacesaving", ss.to_bytes()),
        ("~bloom", bloom.to_bytes()),
        ("~exactset", exact.to_bytes()),
    ] {
        now.entries.push((name.to_string(), bytes.into()));
    }
    golden(
        "sketch",
        "blocksmith-sketch: a window checkpoint and every sketch's wire format",
        &now,
        Compare::Exact,
        |g| {
            let store = g.store();
            let mut job = block_on(blocksmith::sketch::window::Windowed::<
                String,
                u64,
                blocksmith::sketch::aggregate::DistinctCount,
            >::load(&*store, "users"))?
            .expect("checkpoint");
            assert_eq!(job.stats().events, 300);
            // The restored job finishes the stream as an uninterrupted one.
            let mut whole = sketch_job();
            let mut want = Vec::new();
            let mut got = Vec::new();
            for (i, (k, t, u)) in sketch_events().enumerate() {
                want.extend(whole.process(k.clone(), t, u)?);
                if i >= 300 {
                    got.extend(job.process(k, t, u)?);
                }
            }
            want.extend(whole.flush());
            got.extend(job.flush());
            assert_eq!(got, want[want.len() - got.len()..]);
            let near = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol * b;
            let hll4 = HllSketch::from_bytes(g.entry("~hll4"))?;
            assert!(near(hll4.estimate(), 1_000.0, 0.1), "{}", hll4.estimate());
            let hll8 = HllSketch::from_bytes(g.entry("~hll8"))?;
            assert!(near(hll8.estimate(), 100.0, 0.1), "{}", hll8.estimate());
            let kll = KllSketch::<f64>::from_bytes(g.entry("~kll"))?;
            assert!(near(kll.quantile(0.5).expect("median"), 500.0, 0.05));
            let theta = blocksmith::sketch::theta::CompactTheta::from_bytes(g.entry("~theta"))?;
            assert!(near(theta.estimate(), 1_000.0, 0.2), "{}", theta.estimate());
            let dd = DdSketch::from_bytes(g.entry("~ddsketch"))?;
            assert!(near(dd.quantile(0.5).expect("median"), 500.0, 0.02));
            let cm = CountMin::from_bytes(g.entry("~countmin"))?;
            assert!(cm.estimate(&3u64) >= 100);
            let ss = SpaceSaving::from_bytes(g.entry("~spacesaving"))?;
            assert_eq!(ss.top_k(1).len(), 1);
            let bloom = BloomFilter::from_bytes(g.entry("~bloom"))?;
            assert!((0..1_000u64).all(|i| bloom.contains(&(i * 7))));
            let exact = ExactSet::from_bytes(g.entry("~exactset"))?;
            assert!(exact.contains(2_997) && !exact.contains(2_998));
            Ok(())
        },
    );
}

// -------------------------------------------------------------- spell ----

#[test]
fn spell() {
    use blocksmith::spell::UserDictionary;
    let store = MemoryStore::new();
    block_on(async {
        let mut d = UserDictionary::new();
        d.add("blocksmith")?;
        d.add("tokio")?;
        d.record_revert("teh")?;
        d.record_typed("kubectl")?;
        d.save(&store, "ada").await?;
        let mut other = UserDictionary::new();
        other.add("rustacean")?;
        other.add("tokio")?;
        other.remove("tokio");
        other.save(&store, "ada").await?;
        Outcome::Ok(())
    })
    .expect("workload");
    golden(
        "spell",
        "blocksmith-spell: a user dictionary with learned words and a tombstone",
        &golden_of(&store),
        Compare::Exact,
        |g| {
            let store = g.store();
            let d = block_on(UserDictionary::load(&*store, "ada"))?;
            assert!(d.contains("blocksmith") && d.contains("rustacean"));
            assert!(!d.contains("tokio"));
            assert!(d.learned("teh").is_some());
            // Typed once: counted, not yet protected.
            assert_eq!(d.learned("kubectl").map(|l| l.typed), Some(1));
            assert!(!d.contains("kubectl"));
            let mut words: Vec<_> = d.words().collect();
            words.sort_unstable();
            assert_eq!(words, ["blocksmith", "rustacean", "teh"]);
            Ok(())
        },
    );
}

// -------------------------------------------------------------- codes ----

#[test]
fn codes() {
    use blocksmith::codes::batch::{Format, RenderCache, Template};
    use blocksmith::codes::catalog::{Product, StoreCatalog};
    use blocksmith::codes::gtin::Gtin;
    let store = MemoryStore::new();
    block_on(async {
        let catalog = StoreCatalog::new(&store, "catalog");
        let g = Gtin::parse("4006381333931")?;
        catalog
            .put(&Product::new(&g, "Highlighter").with_brand("Stabilo"))
            .await?;
        // SVG: the crate's own rendering, not an image library's encoder.
        let template = Template::new("https://example.com/c/{id}").with_format(Format::Svg);
        let ids: Vec<String> = (0..2).map(|i| format!("p{i}")).collect();
        RenderCache::new(&store, "codes")
            .render_campaign("spring", &template, &ids)
            .await?;
        Outcome::Ok(())
    })
    .expect("workload");
    golden(
        "codes",
        "blocksmith-codes: a catalog product, SVG renders and a campaign manifest",
        &golden_of(&store),
        Compare::Exact,
        |g| {
            use blocksmith::codes::catalog::Catalog;
            let store = g.store();
            block_on(async {
                let catalog = StoreCatalog::new(store.clone(), "catalog");
                let p = catalog
                    .lookup(&Gtin::parse("4006381333931")?)
                    .await?
                    .expect("product");
                assert_eq!(
                    (p.name.as_str(), p.brand.as_deref()),
                    ("Highlighter", Some("Stabilo"))
                );
                let cache = RenderCache::new(store.clone(), "codes");
                let m = cache.manifest("spring").await?.expect("manifest");
                assert_eq!(m.entries.len(), 2);
                assert_eq!(m.entries[1].data, "https://example.com/c/p1");
                assert!(m.entries.iter().all(|e| e.verified));
                // The stored renders are served from the cache.
                let template = Template::new("https://example.com/c/{id}").with_format(Format::Svg);
                let again = cache
                    .render_campaign("again", &template, &["p0".to_string()])
                    .await?;
                assert!(again.entries[0].cached);
                assert_eq!(again.entries[0].sha256, m.entries[0].sha256);
                Ok(())
            })
        },
    );
}

// ---------------------------------------------------------------- ocr ----

/// A blank page as binary PGM (P5): bytes of our own, not an encoder's.
fn pgm_page(shade: u8) -> Vec<u8> {
    let mut out = b"P5\n64 32\n255\n".to_vec();
    out.extend(std::iter::repeat_n(shade, 64 * 32));
    out
}

#[test]
fn ocr() {
    use blocksmith::ocr::{EngineOptions, JobOptions, JobQueue};
    let store = MemoryStore::new();
    block_on(async {
        let queue = JobQueue::new(&store, "ocr/jobs", JobOptions::default()).with_clock(|| NOW_MS);
        queue
            .submit(&pgm_page(255), &EngineOptions::default())
            .await?;
        queue
            .run_pending(&blocksmith::ocr::Engine::default())
            .await?;
        queue
            .submit(&pgm_page(250), &EngineOptions::default())
            .await?;
        Outcome::Ok(())
    })
    .expect("workload");
    let zero_timings = |k: &str, b: Bytes| {
        rewrite_record(k, b, |p| {
            let p = blank_json_field(p, "secs", "0");
            blank_json_field(&p, "nanos", "0")
        })
    };
    golden(
        "ocr",
        "blocksmith-ocr: job records, inputs and a page result",
        &golden_of(&store),
        Compare::Normalized(zero_timings),
        |g| {
            use blocksmith::ocr::JobStatus;
            let store = g.store();
            block_on(async {
                let queue =
                    JobQueue::new(store, "ocr/jobs", JobOptions::default()).with_clock(|| NOW_MS);
                let mut statuses = Vec::new();
                for id in queue.list().await? {
                    statuses.push(queue.status(&id).await?);
                    if queue.status(&id).await? == JobStatus::Done {
                        let doc = queue.result(&id).await?;
                        assert_eq!((doc.pages.len(), doc.pages[0].width), (1, 64));
                    }
                }
                statuses.sort_by_key(|s| format!("{s:?}"));
                assert_eq!(statuses, [JobStatus::Done, JobStatus::Queued]);
                Ok(())
            })
        },
    );
}

// --------------------------------------------------------------- flow ----

/// A worker's name carries a random suffix (`<name>-<hex>`): replaced in
/// lease and membership records.
fn blank_owner(k: &str, b: Bytes) -> Bytes {
    rewrite_record(k, b, |p| blank_json_field(p, "owner", "\"-\""))
}

fn flow_registry() -> blocksmith::flow::Registry {
    use blocksmith::flow::{Registry, Saga, StepError};
    Registry::new()
        .with_workflow(Saga)
        .with_step_fn("create_db", |ctx| async move {
            Ok(json!({ "db": ctx.input["name"] }))
        })
        .with_step_fn("drop_db", |_ctx| async move { Ok(json!(null)) })
        .with_step_fn("charge_card", |_ctx| async move {
            Err(StepError::permanent("card_declined", "insufficient funds"))
        })
}

#[test]
fn flow() {
    use blocksmith::flow::{
        Engine, ManualClock, RetryPolicy, Saga, SagaPlan, SagaStep, StartOptions,
    };
    let store = MemoryStore::new();
    block_on(async {
        let engine = Engine::new(&store, flow_registry()).with_clock(ManualClock::new(NOW_MS));
        let plan = SagaPlan::new(vec![
            SagaStep::new("db", "create_db", json!({ "name": "acme" }))
                .with_compensation("drop_db", json!({ "name": "acme" })),
            SagaStep::new("billing", "charge_card", json!({ "cents": 4900 }))
                .with_retry(RetryPolicy::none()),
        ]);
        engine
            .start::<Saga>(&plan, StartOptions::default().with_id("rolled-back"))
            .await?;
        let mut worker = engine.worker("w")?;
        worker.run_until_idle(10).await?;
        worker.release().await?;
        engine
            .start::<Saga>(&plan, StartOptions::default().with_id("waiting"))
            .await?;
        Outcome::Ok(())
    })
    .expect("workload");
    golden(
        "flow",
        "blocksmith-flow: instance, lease, layout and member records, due index",
        &golden_of(&store),
        Compare::Normalized(blank_owner),
        |g| {
            use blocksmith::flow::{Engine, ManualClock, Status};
            let store = g.store();
            block_on(async {
                let engine =
                    Engine::new(store, flow_registry()).with_clock(ManualClock::new(NOW_MS + 1));
                let done = engine.get("rolled-back").await?.expect("instance");
                assert_eq!(done.status, Status::RolledBack);
                assert_eq!(done.undone, ["db"]);
                let mut worker = engine.worker("w2")?;
                worker.run_until_idle(10).await?;
                worker.release().await?;
                assert_eq!(
                    engine.get("waiting").await?.expect("instance").status,
                    Status::RolledBack
                );
                Ok(())
            })
        },
    );
}

// ------------------------------------------------------------- tenant ----

#[test]
fn tenant() {
    use blocksmith::flow::ManualClock;
    use blocksmith::tenant::{CreateTenant, MemoryHooks, Plans, Tenants, Tier};
    let store = Arc::new(MemoryStore::new());
    block_on(async {
        let tenants = Tenants::new(store.clone(), MemoryHooks::new(), Plans::example())
            .with_clock(ManualClock::new(NOW_MS));
        let req = CreateTenant::new("signup-1", "Acme Corp", "pro", "ada@acme.test")
            .with_tier(Tier::Schema);
        tenants.create(req).await?;
        tenants.run_due().await?;
        tenants.suspend("acme-corp", "card expired").await?;
        Outcome::Ok(())
    })
    .expect("workload");
    golden(
        "tenant",
        "blocksmith-tenant: tenant record, slug reservation and its flow instance",
        &golden_of(&store),
        Compare::Normalized(blank_owner),
        |g| {
            use blocksmith::tenant::TenantStatus;
            let store = g.store();
            block_on(async {
                let tenants = Tenants::new(store, MemoryHooks::new(), Plans::example())
                    .with_clock(ManualClock::new(NOW_MS + 1));
                let t = tenants.get("acme-corp").await?;
                assert_eq!(t.status, TenantStatus::Suspended);
                assert_eq!((t.plan.as_str(), t.created_ms), ("pro", NOW_MS));
                tenants.resume("acme-corp").await?;
                assert_eq!(tenants.get("acme-corp").await?.status, TenantStatus::Active);
                Ok(())
            })
        },
    );
}

// ------------------------------------------------------------ dispute ----

#[test]
fn dispute() {
    use blocksmith::dispute::{Disputes, Evidence, MemoryHooks, Money, OpenDispute};
    use blocksmith::flow::ManualClock;
    let store = Arc::new(MemoryStore::new());
    block_on(async {
        let desk =
            Disputes::new(store.clone(), MemoryHooks::new()).with_clock(ManualClock::new(NOW_MS));
        desk.open(
            OpenDispute::new("ch_3PzK", Money::new(12_900, "EUR"), "visa", "10.4").with_id("dp_1"),
        )
        .await?;
        desk.add_evidence(
            "dp_1",
            Evidence::text("receipt", "Order 5531")
                .with_id("note")
                .by("ada"),
        )
        .await?;
        desk.add_evidence(
            "dp_1",
            Evidence::file("receipt", "r.pdf", &b"%PDF-1.7 receipt"[..])
                .with_id("pdf")
                .by("ada"),
        )
        .await?;
        desk.run_due().await?;
        Outcome::Ok(())
    })
    .expect("workload");
    golden(
        "dispute",
        "blocksmith-dispute: a dispute on flow, evidence file, due index",
        &golden_of(&store),
        Compare::Normalized(blank_owner),
        |g| {
            let store = g.store();
            block_on(async {
                let desk = Disputes::new(store, MemoryHooks::new())
                    .with_clock(ManualClock::new(NOW_MS + 1));
                let d = desk.get("dp_1").await?;
                assert_eq!(d.evidence.len(), 2);
                assert_eq!(d.amount, Some(Money::new(12_900, "EUR")));
                assert_eq!((d.reason.as_str(), d.created_ms), ("10.4", NOW_MS));
                assert_eq!(&desk.file("dp_1", "pdf").await?[..], b"%PDF-1.7 receipt");
                Ok(())
            })
        },
    );
}

// ----------------------------------------------------- the file format ----

#[test]
fn the_golden_file_format_round_trips_and_rejects_damage() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct R {
        a: Vec<u8>,
    }
    impl Record for R {
        const KIND: &'static str = "k.x";
        const VERSION: u32 = 3;
    }
    let g = Golden {
        meta: [("a".to_string(), "b c".to_string())].into(),
        entries: vec![
            ("x/rec".into(), record_bytes("k.x", 3, b"{\"a\":[1,2]}")),
            ("x/bin".into(), (0..200u8).collect()),
            ("x/empty".into(), Bytes::new()),
        ],
    };
    let text = g.render("t");
    assert!(text.contains("record k.x 3\n{\"a\":[1,2]}\n"), "{text}");
    assert_eq!(Golden::parse(&text), Ok(g));
    assert!(Golden::parse(&text.replace("bytes 200", "bytes 300")).is_err());
    assert!(Golden::parse("key a\nweird\n").is_err());
    // The envelope written by hand is the store's.
    assert_eq!(
        record::encode(&R { a: vec![1, 2] }).expect("encode"),
        record_bytes("k.x", 3, b"{\"a\":[1,2]}")
    );
}

// -------------------------------------------------------------- store ----

/// The store's own on-disk formats: what `RedbStore` and `DirStore` put on
/// disk. Their files hold versions from a counter or a clock and process
/// id, so (a) is not possible for them; (b) opens the golden files.
fn store_values() -> Vec<(&'static str, Bytes)> {
    vec![
        ("a/small", Bytes::from_static(b"hello")),
        ("a/empty", Bytes::new()),
        (
            "b/unicode-\u{e9}t\u{e9}",
            Bytes::from_static("d\u{e9}j\u{e0} vu".as_bytes()),
        ),
        // Past the inline limit of redb rows and the page-aligned layout of
        // directory files (64 KiB).
        ("c/large", (0..66_000u32).map(|i| (i % 253) as u8).collect()),
    ]
}

fn check_store<S: Store>(store: &S) -> Outcome {
    for (k, v) in store_values() {
        let got = block_on(store.get_opt(&Key::new(k)?))?.ok_or(k)?;
        assert_eq!(got.data, v, "{k}");
    }
    let composed = block_on(store.get_opt(&Key::new("d/composed")?))?.ok_or("composed")?;
    assert_eq!(&composed.data[..], b"hello\xc3\xa9");
    let listed = block_on(store.list_all("a/"))?;
    assert_eq!(listed.len(), 2);
    Ok(())
}

fn fill_store<S: Store>(store: &S) -> Outcome {
    use blocksmith::store::ComposePart;
    for (k, v) in store_values() {
        block_on(store.put_opts(&Key::new(k)?, v, PutOptions::create()))?;
    }
    let parts = [
        ComposePart::new(Key::new("a/small")?),
        ComposePart::new(Key::new("b/unicode-\u{e9}t\u{e9}")?).with_range(1..3),
    ];
    block_on(store.compose(&Key::new("d/composed")?, &parts, PutOptions::create()))?;
    Ok(())
}

#[test]
fn store_redb_file() {
    use blocksmith::store::RedbStore;
    let p = golden_dir().join(CURRENT).join("store.redb");
    if writing() {
        let _ = std::fs::remove_file(&p);
        let store = RedbStore::open(&p).expect("create");
        fill_store(&store).expect("fill");
    }
    let mut checked = 0;
    for version in std::fs::read_dir(golden_dir()).expect("golden dir") {
        let file = version.expect("entry").path().join("store.redb");
        if file.exists() {
            // Opened from a copy: opening may convert an older format.
            let dir = tempfile::tempdir().expect("temp dir");
            let copy = dir.path().join("store.redb");
            std::fs::copy(&file, &copy).expect("copy");
            let store =
                RedbStore::open(&copy).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            check_store(&store).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            checked += 1;
        }
    }
    assert!(
        checked > 0,
        "no golden redb file; BLOCKSMITH_GOLDEN_WRITE=1 writes it"
    );
}

#[test]
fn store_dir_tree() {
    use blocksmith::store::DirStore;
    if writing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = DirStore::open(dir.path()).expect("create");
        fill_store(&store).expect("fill");
        let mut entries = Vec::new();
        let mut stack = vec![dir.path().join("data"), dir.path().join("segs")];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).expect("read dir") {
                let path = e.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let rel = path.strip_prefix(dir.path()).expect("inside");
                    entries.push((
                        format!("~{}", rel.display()),
                        std::fs::read(&path).expect("read").into(),
                    ));
                }
            }
        }
        entries.sort();
        let g = Golden {
            meta: BTreeMap::new(),
            entries,
        };
        std::fs::write(
            path(CURRENT, "store-dir"),
            g.render("blocksmith-store: a DirStore tree (data/ and segs/); names are paths"),
        )
        .expect("write golden");
    }
    let versions = versions("store-dir");
    assert!(
        !versions.is_empty(),
        "no golden DirStore tree; BLOCKSMITH_GOLDEN_WRITE=1 writes it"
    );
    for version in versions {
        let g = read(&version, "store-dir");
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, bytes) in &g.entries {
            let p = dir.path().join(name.trim_start_matches('~'));
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
            std::fs::write(&p, bytes).expect("write");
        }
        let store = DirStore::open(dir.path()).expect("open");
        check_store(&store).unwrap_or_else(|e| panic!("{version} DirStore tree: {e}"));
    }
}

// ----------------------------------------------------------- receipts ----

#[test]
fn receipts() {
    use blocksmith::receipts::{DeviceId, Privacy, ReceiptStore, ReceiptsOptions, UserId};
    let store = Arc::new(MemoryStore::new());
    block_on(async {
        let rs = ReceiptStore::new(store.clone(), ReceiptsOptions::default());
        for u in 1..=6 {
            rs.join("team", UserId(u)).await?;
        }
        for seq in 1..=12 {
            rs.post("team", seq, UserId(seq % 6 + 1), &[UserId(3)])
                .await?;
        }
        rs.read("team", UserId(2), 9).await?;
        rs.read_private("team", UserId(4), 12).await?;
        rs.delivered_to_device("team", UserId(5), DeviceId(77), 11)
            .await?;
        rs.set_privacy("team", UserId(6), Privacy::Hidden).await?;
        rs.mark_unread("team", UserId(2), 4).await?;
        rs.delete("team", 7).await?;
        rs.leave("team", UserId(1)).await?;
        rs.flush().await?;
        Outcome::Ok(())
    })
    .expect("workload");
    golden(
        "receipts",
        "blocksmith-receipts: one conversation block (format 1)",
        &golden_of(&store),
        Compare::Exact,
        |g| {
            use blocksmith::receipts::{ReceiptStore, ReceiptsOptions, UserId};
            let store = g.store();
            block_on(async {
                let rs = ReceiptStore::new(store, ReceiptsOptions::default());
                let s = rs.status("team", 6, UserId(2)).await?;
                assert_eq!(s.sender, UserId(1));
                let u = rs.unread("team", UserId(2)).await?;
                assert_eq!(u.messages, 8, "marked unread from 4, and 7 deleted");
                let v =
                    rs.with_engine(|e| e.conversation("team").and_then(|c| c.member(UserId(4))));
                assert_eq!(v.map(|v| (v.read, v.read_public)), Some((12, 9)));
                Ok(())
            })
        },
    );
}
