//! Every persisting engine as a two-phase workload over any store: `write`
//! does realistic work and returns what it expects to find; `check` builds
//! a new engine value over the (reopened) store, asserts that state and
//! does a little more work on it. `tests/backends.rs` runs each on every
//! backend; `tests/shared_store.rs` runs them all on one store.
//!
//! Each engine uses its default key prefix (or, where the caller names the
//! prefix, the one its docs use), listed in [`Engine::PREFIXES`].

use blocksmith::store::{Key, Store, StoreExt};
use bytes::Bytes;
use serde_json::json;
use std::future::Future;
use std::sync::Arc;

/// A workload's result.
pub(crate) type Outcome<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// One persisting engine.
pub(crate) trait Engine {
    /// A label for messages.
    const NAME: &'static str;
    /// The key prefixes it writes under (with their trailing `/`).
    const PREFIXES: &'static [&'static str];
    /// What `write` left for `check` to find.
    type Expect;
    /// Does the work on a fresh store.
    fn write<S: Store + ?Sized + 'static>(
        store: Arc<S>,
    ) -> impl Future<Output = Outcome<Self::Expect>>;
    /// Opens a new engine over the store (reopened) and checks the state.
    fn check<S: Store + ?Sized + 'static>(
        store: Arc<S>,
        expect: Self::Expect,
    ) -> impl Future<Output = Outcome>;
}

/// A fixed time for the engines that take a clock (milliseconds).
pub(crate) const NOW_MS: u64 = 1_780_000_000_000;

fn fixed_ms() -> u64 {
    NOW_MS
}

// ---------------------------------------------------------------- tsz ----

pub(crate) struct Tsz;

impl Engine for Tsz {
    const NAME: &'static str = "tsz series";
    const PREFIXES: &'static [&'static str] = &["tsz/"];
    type Expect = u64;

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome<u64> {
        use blocksmith::tsz::TimeUnit;
        use blocksmith::tsz::series::{Series, SeriesOptions};
        let config = SeriesOptions::new(TimeUnit::Seconds).with_max_points(120);
        let mut cpu = Series::open(store.clone(), "cpu.user", config.clone()).await?;
        let mut mem = Series::open(store, "mem.used", config).await?;
        for t in 0..1_000i64 {
            cpu.append(t, f64::from((t % 60) as u32) / 60.0).await?;
            mem.append(t, 1e9 + (t * 4096) as f64).await?;
        }
        // Sealed chunks plus an unsealed head made durable by flush.
        cpu.flush().await?;
        mem.flush().await?;
        assert!(cpu.sealed_chunks() >= 8);
        Ok(cpu.len())
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, points: u64) -> Outcome {
        use blocksmith::tsz::TimeUnit;
        use blocksmith::tsz::series::{Series, SeriesOptions};
        let config = SeriesOptions::new(TimeUnit::Seconds).with_max_points(120);
        let mut cpu = Series::open(store.clone(), "cpu.user", config.clone()).await?;
        assert_eq!(cpu.len(), points);
        let (got, _) = cpu.range(250, 349).await?;
        assert_eq!(got.len(), 100);
        assert!((got[10].1 - f64::from(20u32) / 60.0).abs() < 1e-12);
        let mem = Series::open(store.clone(), "mem.used", config.clone()).await?;
        let (last, _) = mem.range(999, 999).await?;
        // Lossless: the same bits come back.
        assert_eq!(last[0].1.to_bits(), (1e9 + 999.0 * 4096.0f64).to_bits());
        // Keep writing after the reopen; a third open sees it all.
        cpu.append(1_000, 0.5).await?;
        cpu.flush().await?;
        let cpu = Series::open(store, "cpu.user", config).await?;
        assert_eq!(cpu.len(), points + 1);
        Ok(())
    }
}

// -------------------------------------------------------------- vault ----

pub(crate) struct VaultItems;

impl Engine for VaultItems {
    const NAME: &'static str = "vault";
    const PREFIXES: &'static [&'static str] = &["vault/"];
    type Expect = (blocksmith::vault::VaultId, Vec<blocksmith::vault::ItemId>);

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome<Self::Expect> {
        use blocksmith::vault::{Credentials, NewItem, Vault, VaultOptions};
        let creds = Credentials::new("correct horse battery staple");
        let (mut v, _recovery) =
            Vault::create(store, &creds, VaultOptions::insecure_fast()).await?;
        let mut ids = Vec::new();
        for (name, secret) in [
            ("email", "hunter2"),
            ("bank", "1234"),
            ("wifi", "swordfish"),
        ] {
            ids.push(v.add(NewItem::new(name, secret)).await?);
        }
        v.update(&ids[1], "4321").await?;
        v.remove(&ids[2]).await?;
        Ok((v.id(), ids))
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, expect: Self::Expect) -> Outcome {
        use blocksmith::vault::{Credentials, NewItem, Vault, VaultOptions};
        let (id, ids) = expect;
        let creds = Credentials::new("correct horse battery staple");
        let opts = VaultOptions::insecure_fast();
        let mut v = Vault::unlock(store.clone(), id, &creds, opts.clone()).await?;
        assert_eq!(v.get(&ids[0]).await?.expose_secret(), b"hunter2");
        assert_eq!(v.get(&ids[1]).await?.expose_secret(), b"4321");
        assert!(v.get(&ids[2]).await.is_err());
        assert_eq!(v.len(), 2);
        v.add(NewItem::new("ssh", "id_ed25519")).await?;
        let wrong = Credentials::new("Tr0ub4dor&3");
        assert!(Vault::unlock(store, id, &wrong, opts).await.is_err());
        Ok(())
    }
}

pub(crate) struct ApiKeys;

impl Engine for ApiKeys {
    const NAME: &'static str = "vault api keys";
    const PREFIXES: &'static [&'static str] = &["apikeys/"];
    type Expect = (String, String, String);

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome<Self::Expect> {
        use blocksmith::vault::{ApiKeySpec, ApiKeys, SymmetricKey};
        let keys =
            ApiKeys::new(store, SymmetricKey::from_bytes([7; 32])).with_clock(|| NOW_MS / 1000);
        let ci = keys
            .create(ApiKeySpec::new("ada").with_scopes(["deploy", "read"]))
            .await?;
        let old = keys.create(ApiKeySpec::new("bob")).await?;
        keys.revoke(&old.info.id).await?;
        Ok((
            ci.key.expose_secret().to_string(),
            old.key.expose_secret().to_string(),
            old.info.id,
        ))
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, expect: Self::Expect) -> Outcome {
        use blocksmith::vault::{ApiKeySpec, ApiKeyStatus, ApiKeys, SymmetricKey};
        let (ci, old, old_id) = expect;
        let keys = ApiKeys::new(store, SymmetricKey::from_bytes([7; 32]))
            .with_clock(|| NOW_MS / 1000 + 60);
        let info = keys.verify(&ci).await?;
        assert_eq!(info.owner, "ada");
        assert_eq!(info.scopes, ["deploy", "read"]);
        assert!(keys.verify(&old).await.is_err());
        assert!(matches!(
            keys.get(&old_id).await?.status,
            ApiKeyStatus::Revoked { .. }
        ));
        keys.create(ApiKeySpec::new("cy")).await?;
        assert_eq!(keys.list(None).await?.len(), 3);
        assert_eq!(keys.list(Some("ada")).await?.len(), 1);
        Ok(())
    }
}

// --------------------------------------------------------------- diff ----

pub(crate) struct Diff;

impl Engine for Diff {
    const NAME: &'static str = "diff config history";
    const PREFIXES: &'static [&'static str] = &["diff/"];
    type Expect = String;

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome<String> {
        use blocksmith::diff::history::{ConfigStore, HistoryOptions};
        use blocksmith::diff::value::Format;
        let configs = ConfigStore::new(store, HistoryOptions::default().with_clock(fixed_ms));
        let yaml = Some(Format::Yaml);
        configs
            .commit("web", "replicas: 2\npassword: a\n", yaml, "ada", "first")
            .await?;
        configs
            .commit(
                "web",
                "replicas: 2\npassword: a\nport: 80\n",
                yaml,
                "ada",
                "port",
            )
            .await?;
        configs
            .commit("db", "{\"pool\": 10}", Some(Format::Json), "bob", "db")
            .await?;
        let p = configs
            .propose(
                "web",
                "replicas: 3\npassword: b\nport: 80\n",
                yaml,
                "ada",
                "scale",
            )
            .await?;
        configs.submit(&p.id, "ada").await?;
        configs.approve(&p.id, "bob").await?;
        Ok(p.id)
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, proposal: String) -> Outcome {
        use blocksmith::diff::history::{ConfigStore, HistoryOptions, ProposalStatus};
        let configs = ConfigStore::new(store, HistoryOptions::default().with_clock(fixed_ms));
        assert_eq!(configs.names().await?, ["db", "web"]);
        assert_eq!(configs.history("web").await?.len(), 2);
        let p = configs.proposal(&proposal).await?;
        assert_eq!(p.status, ProposalStatus::Approved);
        let p = configs.apply(&proposal, "ada").await?;
        assert_eq!(p.applied_version, Some(3));
        let d = configs.diff("web", 2, 3).await?;
        assert!(d.report.contains("~ /replicas: 2 -> 3"), "{}", d.report);
        assert!(d.report.contains("[REDACTED]"), "{}", d.report);
        let reverted = configs.revert("web", "ada", None).await?;
        assert_eq!(reverted.version, 4);
        let head = configs.head("web").await?.expect("head");
        assert_eq!(head.content, "replicas: 2\npassword: a\nport: 80\n");
        assert_eq!(head.timestamp_ms, NOW_MS);
        Ok(())
    }
}

// ---------------------------------------------------------------- geo ----

pub(crate) struct Geo;

type Hits = Vec<(std::sync::Arc<str>, u64)>;

fn geo_hits(index: &blocksmith::geo::GeoIndex) -> Outcome<Hits> {
    use blocksmith::geo::{LatLon, QueryFilter};
    let here = LatLon::new(52.52, 13.35)?;
    Ok(index
        .radius(here, 5_000.0, 100, &QueryFilter::new())?
        .into_iter()
        .map(|h| (h.id, h.distance_m.round() as u64))
        .collect())
}

impl Engine for Geo {
    const NAME: &'static str = "geo index";
    const PREFIXES: &'static [&'static str] = &["geo/"];
    type Expect = (Hits, Vec<std::sync::Arc<str>>);

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome<Self::Expect> {
        use blocksmith::geo::{Fence, Fix, GeoIndex, GeoOptions, HistoryOptions, Kind};
        let options = GeoOptions::default()
            .with_ttl_ms(None)
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
        )?
        .with_kinds([Kind::Driver])
        .with_dwell_ms(60_000);
        index.add_fence(depot)?;
        for step in 0..5i64 {
            for i in 0..40i64 {
                let lat = 52.40 + i as f64 * 0.005 + step as f64 * 0.0005;
                let kind = if i % 4 == 0 {
                    Kind::Rider
                } else {
                    Kind::Driver
                };
                index.upsert(
                    &format!("e{i}"),
                    &kind,
                    Fix::new(lat, 13.35, 1_000 + step * 10_000),
                )?;
            }
        }
        index.drain_events().for_each(drop);
        index.save(&*store, "berlin").await?;
        // A second save replaces the first atomically.
        let info = index.save(&*store, "berlin").await?;
        assert_eq!(info.epoch, 2);
        Ok((
            geo_hits(&index)?,
            index.fence_members("depot").expect("fence"),
        ))
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, expect: Self::Expect) -> Outcome {
        use blocksmith::geo::{FenceEventKind, Fix, GeoIndex, Kind};
        let (hits, inside) = expect;
        let mut index = GeoIndex::load(&*store, "berlin").await?.expect("saved");
        assert_eq!(index.len(), 40);
        assert_eq!(geo_hits(&index)?, hits);
        assert_eq!(index.fence_members("depot").expect("fence"), inside);
        assert_eq!(index.trajectory("e1").expect("history").len(), 5);
        // Fence state survived: the drivers inside dwell, one leaves.
        index.upsert(&inside[0], &Kind::Driver, Fix::new(52.60, 13.35, 600_000))?;
        index.advance_clock(700_000);
        let events: Vec<_> = index.drain_events().collect();
        assert!(
            events
                .iter()
                .any(|e| e.kind == FenceEventKind::Exit && e.entity == inside[0])
        );
        let dwelt = events
            .iter()
            .filter(|e| e.kind == FenceEventKind::Dwell)
            .count();
        assert_eq!(dwelt, inside.len() - 1);
        assert_eq!(index.save(&*store, "berlin").await?.epoch, 3);
        Ok(())
    }
}

// --------------------------------------------------------------- feed ----

pub(crate) struct FeedEngine;

fn feed_config() -> blocksmith::feed::FeedOptions {
    blocksmith::feed::FeedOptions::default()
        .with_celebrity_threshold(4)
        .with_inbox_cap(8)
        .with_page_size(5)
}

fn feed_key() -> blocksmith::feed::CursorKey {
    blocksmith::feed::CursorKey::derive(b"feed secret")
}

const HOUR: i64 = 3_600_000;

impl Engine for FeedEngine {
    const NAME: &'static str = "feed store";
    const PREFIXES: &'static [&'static str] = &["feed/"];
    /// Each user's first page and its cursor.
    type Expect = Vec<(Vec<blocksmith::feed::PostId>, Option<String>)>;

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome<Self::Expect> {
        use blocksmith::feed::{Feed, FeedStore, Interaction, Kind, UserId};
        let mut feed = Feed::new(feed_config(), feed_key());
        let feeds = FeedStore::new(store, "social")?;
        for u in 1..12u32 {
            feed.follow(UserId(u), UserId(0))?; // a celebrity
            feed.follow(UserId(u), UserId(u % 3 + 1))?;
        }
        feed.mute(UserId(5), UserId(2))?;
        feeds.save(&mut feed).await?;
        let mut posts = Vec::new();
        for i in 0..40i64 {
            let author = UserId((i % 4) as u32);
            posts.push(feed.publish(author, i * HOUR, Kind::Text)?);
        }
        feed.reshare(UserId(1), posts[8], 41 * HOUR)?;
        feed.interact(UserId(7), posts[12], Interaction::Like, 42 * HOUR)?;
        feed.delete(posts[30])?;
        feeds.save(&mut feed).await?;
        let mut pages = Vec::new();
        for u in 0..12u32 {
            let page = feed.read(UserId(u), None, 43 * HOUR)?;
            pages.push((page.items.iter().map(|i| i.post).collect(), page.next));
        }
        Ok(pages)
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, pages: Self::Expect) -> Outcome {
        use blocksmith::feed::{FeedStore, Kind, UserId};
        let feeds = FeedStore::new(store, "social")?;
        let mut feed = feeds.load(feed_config(), feed_key()).await?;
        assert_eq!(feed.follower_count(UserId(0)), 11);
        assert!(feed.is_muted(UserId(5), UserId(2)));
        for (u, (ids, next)) in pages.iter().enumerate() {
            let page = feed.read(UserId(u as u32), None, 43 * HOUR)?;
            let got: Vec<_> = page.items.iter().map(|i| i.post).collect();
            assert_eq!(&got, ids, "user {u}");
            // A cursor issued before the restart still continues the session.
            if let Some(cursor) = next {
                let more = feed.read(UserId(u as u32), Some(cursor), 44 * HOUR)?;
                assert!(more.items.iter().all(|i| !ids.contains(&i.post)));
            }
        }
        // And the feed keeps working and saving.
        let p = feed.publish(UserId(2), 45 * HOUR, Kind::Photo)?;
        feeds.save(&mut feed).await?;
        let feed = feeds.load(feed_config(), feed_key()).await?;
        assert!(feed.post(p).is_some());
        Ok(())
    }
}

// ------------------------------------------------------------- upload ----

pub(crate) struct Upload;

impl Engine for Upload {
    const NAME: &'static str = "upload sessions";
    /// `files/`: the target the workload names for one upload.
    const PREFIXES: &'static [&'static str] = &["uploads/", "files/"];
    type Expect = (String, Bytes, Bytes);

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome<Self::Expect> {
        use blocksmith::upload::{Algorithm, CreateOptions, UploadOptions, Uploads};
        let file: Bytes = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let options = UploadOptions::default().with_part_size(1_000, 1 << 20);
        let uploads = Uploads::with_options(store, options).with_clock(|| NOW_MS / 1000);
        // One upload completes; another is left half sent.
        let done = uploads
            .create(CreateOptions::new(file.len() as u64).with_id("done"))
            .await?;
        uploads
            .put_part(&done.session.id, 0, file.slice(..60_000), None)
            .await?;
        uploads
            .put_part(&done.session.id, 60_000, file.slice(60_000..), None)
            .await?;
        uploads.finalize(&done.session.id).await?;
        let half = uploads
            .create(
                CreateOptions::new(file.len() as u64)
                    .with_id("half")
                    .with_target("files/report.bin")
                    .with_expected(Algorithm::Sha256.digest(&file)),
            )
            .await?;
        let tail = file.slice(40_000..);
        let crc = Algorithm::Crc32c.digest(&tail);
        uploads
            .put_part(&half.session.id, 40_000, tail, Some(&crc))
            .await?;
        Ok((half.session.id, file.slice(..40_000), file))
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, expect: Self::Expect) -> Outcome {
        use blocksmith::upload::{UploadOptions, Uploads};
        let (id, head, file) = expect;
        let options = UploadOptions::default().with_part_size(1_000, 1 << 20);
        let uploads = Uploads::with_options(store.clone(), options).with_clock(|| NOW_MS / 1000);
        let status = uploads.status(&id).await?;
        assert_eq!(status.missing, vec![0..40_000]);
        uploads.put_part(&id, 0, head, None).await?;
        let published = uploads.finalize(&id).await?;
        assert_eq!(published.key, "files/report.bin");
        let got = store.get_opt(&Key::new("files/report.bin")?).await?;
        assert_eq!(got.expect("published").data, file);
        let done = store.get_opt(&Key::new("uploads/objects/done")?).await?;
        assert_eq!(done.expect("published").data, file);
        assert!(matches!(
            uploads.session("done").await?.state,
            blocksmith::upload::SessionState::Finalized(_)
        ));
        Ok(())
    }
}

pub(crate) struct Dedup;

fn dedup_versions() -> (Vec<u8>, Vec<u8>) {
    let v1: Vec<u8> = (0..600 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut v2 = v1.clone();
    v2[300_000..300_100].fill(0);
    (v1, v2)
}

impl Engine for Dedup {
    const NAME: &'static str = "upload dedup";
    const PREFIXES: &'static [&'static str] = &["dedup/"];
    type Expect = ();

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome {
        use blocksmith::upload::cdc::CdcOptions;
        use blocksmith::upload::dedup::{DedupStore, Plan};
        let (v1, _) = dedup_versions();
        let chunks = DedupStore::new(store);
        let r = chunks
            .upload("v1", &v1, &Plan::new(&v1, CdcOptions::default())?)
            .await?;
        assert_eq!(r.chunks_sent, r.chunks);
        Ok(())
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, (): ()) -> Outcome {
        use blocksmith::upload::cdc::CdcOptions;
        use blocksmith::upload::dedup::{DedupStore, Plan};
        let (v1, v2) = dedup_versions();
        let chunks = DedupStore::new(store);
        assert_eq!(chunks.read("v1").await?, v1);
        let r = chunks
            .upload("v2", &v2, &Plan::new(&v2, CdcOptions::default())?)
            .await?;
        assert!(r.chunks_sent < r.chunks && r.bytes_reused > 0, "{r:?}");
        chunks.delete("v1").await?;
        assert!(chunks.gc().await? > 0);
        assert_eq!(chunks.read("v2").await?, v2);
        Ok(())
    }
}

// ------------------------------------------------------------- sketch ----

pub(crate) struct Sketch;

type UniqueUsers =
    blocksmith::sketch::window::Windowed<String, u64, blocksmith::sketch::aggregate::DistinctCount>;

type Emissions = Vec<blocksmith::sketch::window::Emission<String, u64, f64>>;

fn sketch_events() -> Vec<(String, i64, u64)> {
    (0..3_000u64)
        .map(|i| (format!("/page/{}", i % 3), (i * 40) as i64, i % 200))
        .collect()
}

impl Engine for Sketch {
    const NAME: &'static str = "sketch window";
    const PREFIXES: &'static [&'static str] = &["sketch/"];
    /// What the first half emitted and what an uninterrupted job emits.
    type Expect = (Emissions, Emissions);

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome<Self::Expect> {
        use blocksmith::sketch::window::{WindowKind, WindowOptions};
        let opts =
            WindowOptions::new(WindowKind::Tumbling { size: 60_000 }).with_allowed_lateness(5_000);
        let events = sketch_events();
        let mut whole = UniqueUsers::new(opts.clone())?;
        let mut expected = Vec::new();
        for (k, t, u) in &events {
            expected.extend(whole.process(k.clone(), *t, *u)?);
        }
        expected.extend(whole.flush());
        let mut job = UniqueUsers::new(opts)?;
        let mut got = Vec::new();
        for (k, t, u) in &events[..1_500] {
            got.extend(job.process(k.clone(), *t, *u)?);
        }
        job.save(&*store, "unique-users").await?;
        Ok((got, expected))
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, expect: Self::Expect) -> Outcome {
        let (mut got, expected) = expect;
        let mut job = UniqueUsers::load(&*store, "unique-users")
            .await?
            .expect("checkpointed");
        assert_eq!(job.stats().events, 1_500);
        for (k, t, u) in &sketch_events()[1_500..] {
            got.extend(job.process(k.clone(), *t, *u)?);
        }
        got.extend(job.flush());
        assert_eq!(got, expected);
        assert!(UniqueUsers::load(&*store, "other").await?.is_none());
        Ok(())
    }
}

// -------------------------------------------------------------- spell ----

pub(crate) struct Spell;

impl Engine for Spell {
    const NAME: &'static str = "spell user dictionary";
    const PREFIXES: &'static [&'static str] = &["spell/"];
    type Expect = ();

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome {
        use blocksmith::spell::UserDictionary;
        let mut laptop = UserDictionary::new();
        laptop.add("blocksmith")?;
        laptop.add("tokio")?;
        laptop.record_revert("teh")?;
        laptop.save(&*store, "ada").await?;
        // Another device saves its own words; the saves merge.
        let mut phone = UserDictionary::new();
        phone.add("rustacean")?;
        for _ in 0..UserDictionary::LEARN_AFTER {
            phone.record_typed("kubectl")?;
        }
        phone.save(&*store, "ada").await?;
        Ok(())
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, (): ()) -> Outcome {
        use blocksmith::spell::UserDictionary;
        let mut back = UserDictionary::load(&*store, "ada").await?;
        for w in ["blocksmith", "tokio", "rustacean"] {
            assert!(back.contains(w), "{w}");
        }
        assert!(back.learned("teh").is_some());
        assert!(back.learned("kubectl").is_some());
        assert!(back.remove("tokio"));
        back.save(&*store, "ada").await?;
        let again = UserDictionary::load(&*store, "ada").await?;
        assert!(!again.contains("tokio") && again.contains("rustacean"));
        assert!(UserDictionary::load(&*store, "bob").await?.is_empty());
        Ok(())
    }
}

// -------------------------------------------------------------- codes ----

pub(crate) struct Codes;

impl Engine for Codes {
    const NAME: &'static str = "codes catalog and render cache";
    const PREFIXES: &'static [&'static str] = &["catalog/", "codes/"];
    type Expect = blocksmith::codes::batch::Manifest;

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome<Self::Expect> {
        use blocksmith::codes::batch::{RenderCache, Template};
        use blocksmith::codes::catalog::{Product, StoreCatalog};
        use blocksmith::codes::gtin::Gtin;
        let catalog = StoreCatalog::new(store.clone(), "catalog");
        for (gtin, name) in [
            ("4006381333931", "Highlighter"),
            ("5901234123457", "Notebook"),
        ] {
            let g = Gtin::parse(gtin)?;
            catalog
                .put(&Product::new(&g, name).with_brand("Acme"))
                .await?;
        }
        let template = Template::new("https://example.com/c/{id}");
        let ids: Vec<String> = (0..4).map(|i| format!("p{i}")).collect();
        let cache = RenderCache::new(store, "codes");
        Ok(cache.render_campaign("spring", &template, &ids).await?)
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, first: Self::Expect) -> Outcome {
        use blocksmith::codes::batch::{RenderCache, Template};
        use blocksmith::codes::catalog::{Catalog, StoreCatalog};
        use blocksmith::codes::gtin::Gtin;
        let catalog = StoreCatalog::new(store.clone(), "catalog");
        assert_eq!(catalog.len().await?, 2);
        let p = catalog
            .lookup(&Gtin::parse("5901234123457")?)
            .await?
            .expect("stored");
        assert_eq!(
            (p.name.as_str(), p.brand.as_deref()),
            ("Notebook", Some("Acme"))
        );
        let cache = RenderCache::new(store, "codes");
        assert_eq!(cache.manifest("spring").await?.as_ref(), Some(&first));
        let template = Template::new("https://example.com/c/{id}");
        let more: Vec<String> = (0..6).map(|i| format!("p{i}")).collect();
        let second = cache.render_campaign("summer", &template, &more).await?;
        assert_eq!(second.entries.iter().filter(|e| e.cached).count(), 4);
        Ok(())
    }
}

// ---------------------------------------------------------------- ocr ----

pub(crate) struct Ocr;

/// A blank page: recognition finds nothing, quickly.
pub(crate) fn blank_page(seed: u8) -> Vec<u8> {
    let mut img = image::GrayImage::from_pixel(240, 120, image::Luma([255]));
    img.put_pixel(0, 0, image::Luma([seed]));
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)
        .expect("encode png");
    png.into_inner()
}

impl Engine for Ocr {
    const NAME: &'static str = "ocr job queue";
    const PREFIXES: &'static [&'static str] = &["ocr/jobs/"];
    type Expect = (blocksmith::ocr::JobId, blocksmith::ocr::JobId);

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome<Self::Expect> {
        use blocksmith::ocr::{EngineOptions, JobOptions, JobQueue};
        let opts = EngineOptions::default();
        let queue = JobQueue::new(store, "ocr/jobs", JobOptions::default());
        let done = queue.submit(&blank_page(250), &opts).await?;
        let report = queue
            .run_pending(&blocksmith::ocr::Engine::default())
            .await?;
        assert_eq!(report.done, 1);
        // Submitted, not yet run: a new process picks it up.
        let queued = queue.submit(&blank_page(240), &opts).await?;
        Ok((done, queued))
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, expect: Self::Expect) -> Outcome {
        use blocksmith::ocr::{JobOptions, JobQueue, JobStatus};
        let (done, queued) = expect;
        let queue = JobQueue::new(store, "ocr/jobs", JobOptions::default());
        let mut all = queue.list().await?;
        all.sort();
        let mut want = vec![done.clone(), queued.clone()];
        want.sort();
        assert_eq!(all, want);
        assert_eq!(queue.status(&done).await?, JobStatus::Done);
        assert_eq!(queue.status(&queued).await?, JobStatus::Queued);
        let report = queue
            .run_pending(&blocksmith::ocr::Engine::default())
            .await?;
        assert_eq!(report.done, 1);
        assert_eq!(queue.result(&queued).await?.pages.len(), 1);
        Ok(())
    }
}

// --------------------------------------------------------------- flow ----

pub(crate) struct Flow;

fn saga_registry() -> blocksmith::flow::Registry {
    use blocksmith::flow::{Registry, Saga, StepError};
    Registry::new()
        .with_workflow(Saga)
        .with_step_fn("create_db", |ctx| async move {
            Ok(json!({ "db": ctx.input["name"] }))
        })
        .with_step_fn("drop_db", |_ctx| async move { Ok(json!(null)) })
        .with_step_fn("charge_card", |ctx| async move {
            if ctx.input["cents"].as_u64() > Some(10_000) {
                Err(StepError::permanent("card_declined", "insufficient funds"))
            } else {
                Ok(json!({ "charged": ctx.input["cents"] }))
            }
        })
}

fn saga_plan(name: &str, cents: u64) -> blocksmith::flow::SagaPlan {
    use blocksmith::flow::{RetryPolicy, SagaPlan, SagaStep};
    SagaPlan::new(vec![
        SagaStep::new("db", "create_db", json!({ "name": name }))
            .with_compensation("drop_db", json!({ "name": name })),
        SagaStep::new("billing", "charge_card", json!({ "cents": cents }))
            .with_retry(RetryPolicy::none()),
    ])
}

impl Engine for Flow {
    const NAME: &'static str = "flow engine";
    const PREFIXES: &'static [&'static str] = &["flow/"];
    type Expect = ();

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome {
        use blocksmith::flow::{Engine, ManualClock, Saga, StartOptions};
        let clock = ManualClock::new(NOW_MS);
        let engine = Engine::new(store, saga_registry()).with_clock(clock);
        for (id, cents) in [("acme", 4_900), ("globex", 49_000)] {
            engine
                .start::<Saga>(&saga_plan(id, cents), StartOptions::default().with_id(id))
                .await?;
        }
        let mut worker = engine.worker("w1")?;
        worker.run_until_idle(20).await?;
        worker.release().await?;
        // Started, never worked on: a restarted worker runs it.
        engine
            .start::<Saga>(
                &saga_plan("initech", 100),
                StartOptions::default().with_id("initech"),
            )
            .await?;
        Ok(())
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, (): ()) -> Outcome {
        use blocksmith::flow::{Engine, ManualClock, Status};
        let clock = ManualClock::new(NOW_MS + 1_000);
        let engine = Engine::new(store, saga_registry()).with_clock(clock);
        let acme = engine.get("acme").await?.expect("exists");
        assert_eq!(acme.status, Status::Completed);
        let globex = engine.get("globex").await?.expect("exists");
        assert_eq!(globex.status, Status::RolledBack);
        assert_eq!(globex.undone, ["db"]);
        let mut worker = engine.worker("w2")?;
        worker.run_until_idle(20).await?;
        worker.release().await?;
        let initech = engine.get("initech").await?.expect("exists");
        assert_eq!(initech.status, Status::Completed);
        Ok(())
    }
}

// ------------------------------------------------------------- tenant ----

pub(crate) struct Tenant;

impl Engine for Tenant {
    const NAME: &'static str = "tenant service";
    const PREFIXES: &'static [&'static str] = &["tenant/", "tenant-flow/"];
    type Expect = ();

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome {
        use blocksmith::flow::ManualClock;
        use blocksmith::tenant::{CreateTenant, MemoryHooks, Plans, Tenants, Tier};
        let clock = ManualClock::new(NOW_MS);
        let tenants = Tenants::new(store, MemoryHooks::new(), Plans::example()).with_clock(clock);
        for (req, name) in [("signup-1", "Acme Corp"), ("signup-2", "Globex")] {
            let r = CreateTenant::new(req, name, "pro", "ada@acme.test").with_tier(Tier::Schema);
            tenants.create(r).await?;
        }
        tenants.run_due().await?;
        tenants.suspend("acme-corp", "card expired").await?;
        Ok(())
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, (): ()) -> Outcome {
        use blocksmith::flow::ManualClock;
        use blocksmith::tenant::{MemoryHooks, Plans, TenantStatus, Tenants};
        let clock = ManualClock::new(NOW_MS + 1_000);
        let tenants = Tenants::new(store, MemoryHooks::new(), Plans::example()).with_clock(clock);
        assert_eq!(
            tenants.get("acme-corp").await?.status,
            TenantStatus::Suspended
        );
        assert_eq!(tenants.get("globex").await?.status, TenantStatus::Active);
        tenants.resume("acme-corp").await?;
        assert_eq!(tenants.get("acme-corp").await?.status, TenantStatus::Active);
        Ok(())
    }
}

// ------------------------------------------------------------ dispute ----

pub(crate) struct Dispute;

impl Engine for Dispute {
    const NAME: &'static str = "dispute desk";
    const PREFIXES: &'static [&'static str] = &["dispute/", "dispute-flow/"];
    type Expect = blocksmith::dispute::Status;

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome<Self::Expect> {
        use blocksmith::dispute::{Disputes, Evidence, MemoryHooks, Money, OpenDispute};
        use blocksmith::flow::ManualClock;
        let clock = ManualClock::new(NOW_MS);
        let desk = Disputes::new(store, MemoryHooks::new()).with_clock(clock);
        let opened = desk
            .open(
                OpenDispute::new("ch_3PzK", Money::new(12_900, "EUR"), "visa", "10.4")
                    .with_id("dp_fraud"),
            )
            .await?;
        let receipt = Evidence::text("receipt", "Order 5531: headphones, 129.00 EUR").by("ada");
        desk.add_evidence("dp_fraud", receipt).await?;
        let file = Evidence::file("receipt", "invoice.pdf", &b"%PDF-1.7 invoice 5531"[..])
            .with_id("invoice")
            .by("ada");
        desk.add_evidence("dp_fraud", file).await?;
        desk.run_due().await?;
        Ok(opened.status)
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, status: Self::Expect) -> Outcome {
        use blocksmith::dispute::{Disputes, MemoryHooks};
        use blocksmith::flow::ManualClock;
        let clock = ManualClock::new(NOW_MS + 1_000);
        let desk = Disputes::new(store, MemoryHooks::new()).with_clock(clock);
        let d = desk.get("dp_fraud").await?;
        assert_eq!(d.status, status);
        assert_eq!(d.evidence.len(), 2);
        let file = desk.file("dp_fraud", "invoice").await?;
        assert_eq!(&file[..], b"%PDF-1.7 invoice 5531");
        Ok(())
    }
}

// ----------------------------------------------------------- receipts ----

/// Receipts of a group: posts with mentions, public, private and hidden
/// reads, a delivery, written by one flush.
pub(crate) struct Receipts;

impl Engine for Receipts {
    const NAME: &'static str = "receipts";
    const PREFIXES: &'static [&'static str] = &["receipts/"];
    type Expect = ();

    async fn write<S: Store + ?Sized + 'static>(store: Arc<S>) -> Outcome {
        use blocksmith::receipts::{Privacy, ReceiptStore, ReceiptsOptions, UserId};
        let rs = ReceiptStore::new(store, ReceiptsOptions::default());
        for u in 1..=5 {
            rs.join("team", UserId(u)).await?;
        }
        for seq in 1..=8 {
            rs.post("team", seq, UserId(seq % 5 + 1), &[UserId(2)])
                .await?;
        }
        rs.read("team", UserId(3), 6).await?; // stale: 3 sent 7
        rs.read_private("team", UserId(4), 8).await?;
        rs.set_privacy("team", UserId(5), Privacy::Hidden).await?;
        rs.read("team", UserId(5), 8).await?;
        rs.delivered("team", UserId(2), 8).await?;
        rs.flush().await?;
        Ok(())
    }

    async fn check<S: Store + ?Sized + 'static>(store: Arc<S>, (): ()) -> Outcome {
        use blocksmith::receipts::{ListKind, ReceiptStore, ReceiptsOptions, UserId};
        let rs = ReceiptStore::new(store, ReceiptsOptions::default());
        // Message 6 (by 2): to 1, 3, 4, 5; delivered to 3, 4 and 5 (who read
        // it hidden), read publicly by 3 and 4 (their own later posts).
        let s = rs.status("team", 6, UserId(1)).await?;
        assert_eq!((s.recipients, s.delivered, s.read), (4, 3, Some(2)));
        let mut readers = rs.list("team", 6, UserId(1), ListKind::Read, 10).await?;
        readers.sort();
        assert_eq!(readers, [UserId(3), UserId(4)]);
        let u = rs.unread("team", UserId(2)).await?;
        assert_eq!((u.messages, u.mentions), (2, 2));
        rs.read("team", UserId(1), 8).await?;
        rs.flush().await?;
        let again = ReceiptStore::new(rs.store(), ReceiptsOptions::default());
        assert_eq!(again.status("team", 6, UserId(2)).await?.read, Some(3));
        Ok(())
    }
}
