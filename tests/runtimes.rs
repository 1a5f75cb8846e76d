//! The async contract: every engine that persists runs inside a Tokio
//! current-thread runtime and a multi-thread one, on the `object_store`
//! adapter sharing that runtime (`ObjectStoreAdapter::with_handle`), with no
//! `block_on` hidden in a library call. On a current-thread runtime such a
//! call parks the runtime's only thread while the adapter's request waits for
//! that thread: the test hangs, so every run is guarded by a watchdog that
//! fails it instead.
//!
//! Each workload is short and realistic and ends with a reopen: a fresh
//! engine over the same store sees what the first one wrote. The blocking
//! backends (`DirStore`, `RedbStore`) run the same workloads through
//! `Offload` from a current-thread runtime.
//!
//! Every crate that persists through `blocksmith-store` has a case here:
//! store, tsz, vault (vaults and API keys), diff, geo, feed, upload
//! (sessions and dedup), sketch, spell, codes, ocr, flow, tenant and
//! dispute.

use blocksmith::codes::batch::{RenderCache, Template};
use blocksmith::codes::catalog::{Catalog, Product, StoreCatalog};
use blocksmith::codes::gtin::Gtin;
use blocksmith::diff::history::{ConfigStore, HistoryOptions, ProposalStatus};
use blocksmith::diff::value::Format;
use blocksmith::feed::{CursorKey, Feed, FeedOptions, FeedStore, Interaction, UserId};
use blocksmith::flow::{
    Engine, ManualClock, Registry, RetryPolicy, Saga, SagaPlan, SagaStep, StartOptions, Status,
    StepError,
};
use blocksmith::geo::{
    Fence, FenceEventKind, Fix, GeoIndex, GeoOptions, Kind, LatLon, QueryFilter,
};
use blocksmith::ocr::{EngineOptions, JobOptions, JobQueue, JobStatus};
use blocksmith::sketch::aggregate::DistinctCount;
use blocksmith::sketch::window::{Emission, WindowKind, WindowOptions, Windowed};
use blocksmith::store::{
    BlockingPool, DirStore, Key, ObjectStoreAdapter, Offload, PutOptions, RedbStore, Store,
    StoreExt,
};
use blocksmith::tsz::TimeUnit;
use blocksmith::tsz::series::{Series, SeriesOptions};
use blocksmith::upload::{Algorithm, CreateOptions, UploadOptions, Uploads};
use blocksmith::vault::{Credentials, NewItem, Vault, VaultOptions};
use bytes::Bytes;
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;
use tokio::runtime::{Builder, Handle, Runtime};

type Outcome = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Far more than any workload needs; only a hang gets near it.
const WATCHDOG: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Debug)]
enum Flavor {
    CurrentThread,
    MultiThread,
}

fn runtime(flavor: Flavor) -> Runtime {
    match flavor {
        Flavor::CurrentThread => Builder::new_current_thread().enable_all().build(),
        Flavor::MultiThread => Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
    }
    .expect("tokio runtime")
}

fn adapter(handle: Handle) -> Arc<ObjectStoreAdapter> {
    let inner = Arc::new(object_store::memory::InMemory::new());
    Arc::new(ObjectStoreAdapter::with_handle(inner, handle))
}

/// Runs `body` on a thread of its own; `Err` if it has not finished within
/// `limit` (the thread is left behind, stuck), the panic message if it
/// panicked.
fn watchdog<T: Send + 'static>(
    limit: Duration,
    body: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(body());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => Ok(v),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("no answer within {limit:?}: hung")),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("the workload panicked".into()),
    }
}

/// Spawns `work(store)` as a task of a fresh runtime of each flavor, its
/// store an adapter on that runtime, and waits for it under the watchdog.
fn on_both_runtimes<F, Fut>(work: F)
where
    F: Fn(Arc<ObjectStoreAdapter>) -> Fut + Send + Copy + 'static,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    for flavor in [Flavor::CurrentThread, Flavor::MultiThread] {
        let r = watchdog(WATCHDOG, move || {
            let rt = runtime(flavor);
            let store = adapter(rt.handle().clone());
            rt.block_on(rt.spawn(work(store)))
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())
        });
        if let Err(e) = r.and_then(|r| r) {
            panic!("{flavor:?} runtime: {e}");
        }
    }
}

async fn store_itself<S: Store + 'static>(store: Arc<S>) -> Outcome {
    let key = Key::new("accounts/42/balance")?;
    store.put_opts(&key, "100", PutOptions::create()).await?;
    for _ in 0..5 {
        store
            .update(&key, |old| {
                let n: i64 = std::str::from_utf8(old.map_or(&b"0"[..], |b| &b[..]))
                    .map_err(blocksmith::store::Error::other)?
                    .parse()
                    .map_err(blocksmith::store::Error::other)?;
                Ok(Some((n + 10).to_string().into()))
            })
            .await?;
    }
    assert_eq!(&store.get_range(&key, 0..3).await?.data[..], b"150");
    let parts = Key::new("accounts/42/statement")?;
    store
        .put_opts(&parts, Bytes::from(vec![7u8; 4096]), PutOptions::new())
        .await?;
    assert_eq!(store.list_all("accounts/42/").await?.len(), 2);
    Ok(())
}

#[test]
fn store_itself_on_both_runtimes() {
    on_both_runtimes(|store| async move {
        store_itself(store.clone()).await?;
        // A second adapter over the same objects sees them.
        let again = ObjectStoreAdapter::with_handle(store.inner().clone(), Handle::current());
        let got = again.get_opt(&Key::new("accounts/42/balance")?).await?;
        assert_eq!(&got.expect("written").data[..], b"150");
        Ok(())
    });
}

async fn tsz_series<S: Store + 'static>(store: Arc<S>) -> Outcome {
    let config = SeriesOptions::new(TimeUnit::Seconds).with_max_points(100);
    let mut s = Series::open(store.clone(), "cpu", config.clone()).await?;
    for t in 0..1000 {
        s.append(t, f64::from((t % 60) as u32)).await?;
    }
    s.flush().await?;
    drop(s);
    let s = Series::open(store, "cpu", config).await?;
    let (points, _) = s.range(250, 349).await?;
    assert_eq!(points.len(), 100);
    Ok(())
}

#[test]
fn tsz_series_on_both_runtimes() {
    on_both_runtimes(tsz_series);
}

async fn vault<S: Store + 'static>(store: Arc<S>) -> Outcome {
    let creds = Credentials::new("correct horse battery staple");
    let opts = VaultOptions::insecure_fast();
    let (mut v, _recovery) = Vault::create(store.clone(), &creds, opts.clone()).await?;
    let id = v.add(NewItem::new("email", "hunter2")).await?;
    let vault_id = v.id();
    drop(v);
    let v = Vault::unlock(store, vault_id, &creds, opts).await?;
    assert_eq!(v.get(&id).await?.expose_secret(), b"hunter2");
    Ok(())
}

#[test]
fn vault_on_both_runtimes() {
    on_both_runtimes(vault);
}

async fn upload<S: Store + 'static>(store: Arc<S>) -> Outcome {
    let file = Bytes::from_static(b"hello, resumable world!");
    let options = UploadOptions::default().with_part_size(4, 1 << 20);
    let id = {
        let uploads = Uploads::with_options(store.clone(), options.clone());
        let opened = uploads
            .create(
                CreateOptions::new(file.len() as u64)
                    .with_target("files/hello.txt")
                    .with_expected(Algorithm::Sha256.digest(&file)),
            )
            .await?;
        let tail = file.slice(12..);
        let crc = Algorithm::Crc32c.digest(&tail);
        uploads
            .put_part(&opened.session.id, 12, tail, Some(&crc))
            .await?;
        opened.session.id
    };
    // A new process asks what is missing and sends only that.
    let uploads = Uploads::with_options(store.clone(), options);
    assert_eq!(uploads.status(&id).await?.missing, vec![0..12]);
    uploads.put_part(&id, 0, file.slice(..12), None).await?;
    uploads.finalize(&id).await?;
    let got = store.get_opt(&Key::new("files/hello.txt")?).await?;
    assert_eq!(got.expect("published").data, file);
    Ok(())
}

#[test]
fn upload_on_both_runtimes() {
    on_both_runtimes(upload);
}

async fn api_keys<S: Store + 'static>(store: Arc<S>) -> Outcome {
    use blocksmith::vault::{ApiKeySpec, ApiKeyStatus, ApiKeys, SymmetricKey};
    let pepper = || SymmetricKey::from_bytes([7; 32]);
    let keys = ApiKeys::new(store.clone(), pepper()).with_clock(|| 1_780_000_000);
    let ci = keys
        .create(ApiKeySpec::new("ada").with_scopes(["deploy"]))
        .await?;
    let old = keys.create(ApiKeySpec::new("bob")).await?;
    keys.revoke(&old.info.id).await?;
    // A restarted service verifies with the same pepper.
    let keys = ApiKeys::new(store, pepper()).with_clock(|| 1_780_000_100);
    let info = keys.verify(ci.key.expose_secret()).await?;
    assert_eq!(
        (info.owner.as_str(), &info.scopes[..]),
        ("ada", &["deploy".to_string()][..])
    );
    assert!(keys.verify(old.key.expose_secret()).await.is_err());
    assert!(matches!(
        keys.get(&old.info.id).await?.status,
        ApiKeyStatus::Revoked { .. }
    ));
    assert_eq!(keys.list(None).await?.len(), 2);
    Ok(())
}

#[test]
fn vault_api_keys_on_both_runtimes() {
    on_both_runtimes(api_keys);
}

async fn dedup<S: Store + 'static>(store: Arc<S>) -> Outcome {
    use blocksmith::upload::cdc::CdcOptions;
    use blocksmith::upload::dedup::{DedupStore, Plan};
    // Two versions of a 600 KiB file that differ in one region.
    let v1: Vec<u8> = (0..600 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let mut v2 = v1.clone();
    v2[300_000..300_100].fill(0);
    let chunks = DedupStore::new(store.clone());
    let first = chunks
        .upload("v1", &v1, &Plan::new(&v1, CdcOptions::default())?)
        .await?;
    assert_eq!(first.chunks_sent, first.chunks);
    // A restarted server: the second version sends only what changed.
    let chunks = DedupStore::new(store);
    let second = chunks
        .upload("v2", &v2, &Plan::new(&v2, CdcOptions::default())?)
        .await?;
    assert!(second.chunks_sent < second.chunks, "{second:?}");
    assert!(second.bytes_reused > 0);
    assert_eq!(chunks.read("v1").await?, v1);
    assert_eq!(chunks.read("v2").await?, v2);
    chunks.delete("v1").await?;
    assert!(chunks.gc().await? > 0);
    assert_eq!(chunks.read("v2").await?, v2);
    Ok(())
}

#[test]
fn upload_dedup_on_both_runtimes() {
    on_both_runtimes(dedup);
}

async fn spell_user_dictionary<S: Store + 'static>(store: Arc<S>) -> Outcome {
    use blocksmith::spell::UserDictionary;
    let mut mine = UserDictionary::new();
    mine.add("blocksmith")?;
    mine.record_typed("kubectl")?;
    mine.save(&*store, "ada").await?;
    // Another device saves its own words; the saves merge.
    let mut other = UserDictionary::new();
    other.add("rustacean")?;
    other.save(&*store, "ada").await?;
    let back = UserDictionary::load(&*store, "ada").await?;
    assert!(back.contains("blocksmith") && back.contains("rustacean"));
    assert!(back.learned("kubectl").is_some());
    Ok(())
}

#[test]
fn spell_user_dictionary_on_both_runtimes() {
    on_both_runtimes(spell_user_dictionary);
}

async fn codes<S: Store + 'static>(store: Arc<S>) -> Outcome {
    let pen = Gtin::parse("4006381333931")?;
    let catalog = StoreCatalog::new(store.clone(), "catalog");
    catalog
        .put(&Product::new(&pen, "Highlighter").with_brand("Stabilo"))
        .await?;
    assert_eq!(catalog.len().await?, 1);
    let template = Template::new("https://example.com/c/{id}");
    let ids: Vec<String> = (0..4).map(|i| format!("p{i}")).collect();
    let cache = RenderCache::new(store.clone(), "codes");
    let first = cache.render_campaign("spring", &template, &ids).await?;
    // Fresh engines over the same store: the campaign's renders are cached.
    let cache = RenderCache::new(store.clone(), "codes");
    assert_eq!(cache.manifest("spring").await?.as_ref(), Some(&first));
    let more: Vec<String> = (0..6).map(|i| format!("p{i}")).collect();
    let second = cache.render_campaign("summer", &template, &more).await?;
    assert_eq!(second.entries.iter().filter(|e| e.cached).count(), 4);
    let catalog = StoreCatalog::new(store, "catalog");
    let p = catalog.lookup(&pen).await?.expect("stored");
    assert_eq!(p.brand.as_deref(), Some("Stabilo"));
    Ok(())
}

#[test]
fn codes_catalog_and_render_cache_on_both_runtimes() {
    on_both_runtimes(codes);
}

fn blank_page() -> Vec<u8> {
    let img = image::GrayImage::from_pixel(240, 120, image::Luma([255]));
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)
        .expect("encode png");
    png.into_inner()
}

async fn ocr_jobs<S: Store + 'static>(store: Arc<S>) -> Outcome {
    let page = blank_page();
    let opts = EngineOptions::default();
    let queue = JobQueue::new(store.clone(), "ocr/jobs", JobOptions::default());
    let id = queue.submit(&page, &opts).await?;
    assert_eq!(queue.submit(&page, &opts).await?, id);
    assert_eq!(queue.status(&id).await?, JobStatus::Queued);
    let report = queue
        .run_pending(&blocksmith::ocr::Engine::default())
        .await?;
    assert_eq!(report.done, 1);
    // A fresh queue over the same store sees the finished job.
    let queue = JobQueue::new(store, "ocr/jobs", JobOptions::default());
    assert_eq!(queue.list().await?, vec![id.clone()]);
    assert_eq!(queue.status(&id).await?, JobStatus::Done);
    assert_eq!(queue.result(&id).await?.pages.len(), 1);
    Ok(())
}

#[test]
fn ocr_job_queue_on_both_runtimes() {
    on_both_runtimes(ocr_jobs);
}

fn saga_registry() -> Registry {
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

async fn flow<S: Store + 'static>(store: Arc<S>) -> Outcome {
    let clock = ManualClock::new(1_700_000_000_000);
    let engine = Engine::new(store.clone(), saga_registry()).with_clock(clock.clone());
    let plan = SagaPlan::new(vec![
        SagaStep::new("db", "create_db", json!({ "name": "acme" }))
            .with_compensation("drop_db", json!({ "name": "acme" })),
        SagaStep::new("billing", "charge_card", json!({ "cents": 4900 }))
            .with_retry(RetryPolicy::none()),
    ]);
    let started = engine
        .start::<Saga>(&plan, StartOptions::default().with_id("onboard-acme"))
        .await?;
    let mut worker = engine.worker("w1")?;
    worker.run_until_idle(10).await?;
    worker.release().await?;
    // A fresh engine over the same store sees the rolled-back saga.
    let engine = Engine::new(store, saga_registry()).with_clock(clock);
    let view = engine.get(&started.id).await?.expect("exists");
    assert_eq!(view.status, Status::RolledBack);
    assert_eq!(view.undone, ["db"]);
    Ok(())
}

#[test]
fn flow_on_both_runtimes() {
    on_both_runtimes(flow);
}

async fn tenant<S: Store + 'static>(store: Arc<S>) -> Outcome {
    use blocksmith::tenant::{CreateTenant, MemoryHooks, Plans, TenantStatus, Tenants, Tier};
    let clock = ManualClock::new(1_780_000_000_000);
    let tenants =
        Tenants::new(store.clone(), MemoryHooks::new(), Plans::example()).with_clock(clock.clone());
    let req =
        CreateTenant::new("signup-1", "Acme Corp", "pro", "ada@acme.test").with_tier(Tier::Schema);
    tenants.create(req).await?;
    tenants.run_due().await?;
    tenants.suspend("acme-corp", "card expired").await?;
    // A fresh service over the same store.
    let tenants =
        Tenants::new(store, MemoryHooks::new(), Plans::example()).with_clock(clock.clone());
    let t = tenants.get("acme-corp").await?;
    assert_eq!(t.status, TenantStatus::Suspended);
    tenants.resume("acme-corp").await?;
    assert_eq!(tenants.get("acme-corp").await?.status, TenantStatus::Active);
    Ok(())
}

#[test]
fn tenant_on_both_runtimes() {
    on_both_runtimes(tenant);
}

async fn dispute<S: Store + 'static>(store: Arc<S>) -> Outcome {
    use blocksmith::dispute::{Disputes, Evidence, MemoryHooks, Money, OpenDispute};
    let clock = ManualClock::new(1_780_272_000_000);
    let desk = Disputes::new(store.clone(), MemoryHooks::new()).with_clock(clock.clone());
    let opened = desk
        .open(
            OpenDispute::new("ch_3PzK", Money::new(12_900, "EUR"), "visa", "10.4")
                .with_id("dp_fraud"),
        )
        .await?;
    let receipt = Evidence::text("receipt", "Order 5531: headphones, 129.00 EUR").by("ada");
    desk.add_evidence("dp_fraud", receipt).await?;
    desk.run_due().await?;
    // A fresh desk over the same store.
    let desk = Disputes::new(store, MemoryHooks::new()).with_clock(clock);
    let d = desk.get("dp_fraud").await?;
    assert_eq!(d.status, opened.status);
    assert_eq!(d.evidence.len(), 1);
    Ok(())
}

#[test]
fn dispute_on_both_runtimes() {
    on_both_runtimes(dispute);
}

async fn receipts<S: Store + 'static>(store: Arc<S>) -> Outcome {
    use blocksmith::receipts::{ReceiptStore, ReceiptsOptions, UserId};
    // Write-through: every call writes its block by compare-and-swap.
    let options = ReceiptsOptions::default().with_flush_interval_ms(0);
    let rs = ReceiptStore::new(store.clone(), options.clone());
    for u in 1..=3 {
        rs.join("team", UserId(u)).await?;
    }
    rs.post("team", 1, UserId(1), &[UserId(3)]).await?;
    rs.read("team", UserId(2), 1).await?;
    rs.delivered("team", UserId(3), 1).await?;
    // A fresh handle over the same store (and a second writer merging).
    let other = ReceiptStore::new(store, options);
    other.read("team", UserId(3), 1).await?;
    rs.post("team", 2, UserId(2), &[]).await?;
    let s = other.status("team", 1, UserId(1)).await?;
    assert_eq!((s.recipients, s.delivered, s.read), (2, 2, Some(2)));
    rs.tick().await?;
    let after = ReceiptStore::new(rs.store().clone(), ReceiptsOptions::default());
    assert_eq!(after.status("team", 2, UserId(2)).await?.read, Some(0));
    assert_eq!(after.unread("team", UserId(3)).await?.mentions, 0);
    Ok(())
}

#[test]
fn receipts_on_both_runtimes() {
    on_both_runtimes(receipts);
}

async fn geo<S: Store + 'static>(store: Arc<S>) -> Outcome {
    let options = GeoOptions::default()
        .with_ttl_ms(None)
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
    for i in 0..20 {
        let lat = 52.40 + f64::from(i) * 0.01;
        index.upsert(&format!("d{i}"), &Kind::Driver, Fix::new(lat, 13.35, 1_000))?;
    }
    let entered: Vec<_> = index.drain_events().collect();
    assert!(entered.iter().all(|e| e.kind == FenceEventKind::Enter));
    let inside = index.fence_members("depot").expect("fence");
    assert_eq!(inside.len(), entered.len());
    index.save(&*store, "berlin").await?;
    // A restarted process: the index, its fence and who is inside it.
    let mut back = GeoIndex::load(&*store, "berlin").await?.expect("saved");
    let here = LatLon::new(52.52, 13.35)?;
    let all = QueryFilter::new();
    assert_eq!(back.len(), 20);
    assert_eq!(
        back.radius(here, 3_000.0, 50, &all)?,
        index.radius(here, 3_000.0, 50, &all)?
    );
    assert_eq!(back.fence_members("depot").expect("fence"), inside);
    // Membership survived: moving an inside driver out emits Exit, and the
    // ones that stayed dwell.
    back.upsert(&inside[0], &Kind::Driver, Fix::new(52.60, 13.35, 600_000))?;
    back.advance_clock(700_000);
    let events: Vec<_> = back.drain_events().collect();
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
    assert_eq!(back.save(&*store, "berlin").await?.epoch, 2);
    Ok(())
}

#[test]
fn geo_index_and_fences_on_both_runtimes() {
    on_both_runtimes(geo);
}

async fn feed<S: Store + 'static>(store: Arc<S>) -> Outcome {
    let key = CursorKey::derive(b"feed secret");
    let config = FeedOptions::default()
        .with_celebrity_threshold(3)
        .with_page_size(5);
    let mut feed = Feed::new(config.clone(), key.clone());
    let users: Vec<UserId> = (0..6).map(UserId).collect();
    for &u in &users[1..] {
        feed.follow(u, users[0])?; // user 0: a celebrity
        if u.0 != 1 {
            feed.follow(u, users[1])?;
        }
    }
    let hour = 3_600_000;
    let mut posts = Vec::new();
    for i in 0..12i64 {
        let author = users[(i % 2) as usize];
        posts.push(feed.publish(author, i * hour, blocksmith::feed::Kind::Text)?);
    }
    feed.interact(users[3], posts[4], Interaction::Like, 13 * hour)?;
    let page = feed.read(users[3], None, 14 * hour)?;
    let feeds = FeedStore::new(store.clone(), "social")?;
    let stats = feeds.save(&mut feed).await?;
    assert!(stats.keys > 1);
    // Nothing changed since: a second save writes nothing.
    assert_eq!(feeds.save(&mut feed).await?.keys, 0);
    // A restarted process ranks the same page and follows its cursor.
    let feeds = FeedStore::new(store, "social")?;
    let back = feeds.load(config, key).await?;
    let again = back.read(users[3], None, 14 * hour)?;
    let ids = |p: &blocksmith::feed::Page| p.items.iter().map(|i| i.post).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&page));
    assert_eq!(back.follower_count(users[0]), 5);
    let next = back.read(users[3], page.next.as_deref(), 15 * hour)?;
    assert!(!next.items.is_empty());
    assert!(next.items.iter().all(|i| !ids(&page).contains(&i.post)));
    Ok(())
}

#[test]
fn feed_store_on_both_runtimes() {
    on_both_runtimes(feed);
}

type UniqueUsers = Windowed<String, u64, DistinctCount>;

async fn sketch<S: Store + 'static>(store: Arc<S>) -> Outcome {
    let opts =
        WindowOptions::new(WindowKind::Tumbling { size: 60_000 }).with_allowed_lateness(5_000);
    let events: Vec<(String, i64, u64)> = (0..3_000u64)
        .map(|i| (format!("/page/{}", i % 3), (i * 40) as i64, i % 200))
        .collect();
    let mut whole = UniqueUsers::new(opts.clone())?;
    let mut expected = Vec::new();
    for (k, t, u) in &events {
        expected.extend(whole.process(k.clone(), *t, *u)?);
    }
    expected.extend(whole.flush());
    // The same stream, checkpointed half way and resumed by a new process.
    let mut job = UniqueUsers::new(opts)?;
    let mut got = Vec::new();
    for (k, t, u) in &events[..1_500] {
        got.extend(job.process(k.clone(), *t, *u)?);
    }
    job.save(&*store, "unique-users").await?;
    drop(job);
    let mut job = UniqueUsers::load(&*store, "unique-users")
        .await?
        .expect("checkpointed");
    assert_eq!(job.stats().events, 1_500);
    for (k, t, u) in &events[1_500..] {
        got.extend(job.process(k.clone(), *t, *u)?);
    }
    got.extend(job.flush());
    assert_eq!(got, expected);
    assert!(
        got.iter()
            .all(|e| matches!(e, Emission::Fired { output, .. } if *output > 150.0))
    );
    Ok(())
}

#[test]
fn sketch_window_checkpoint_on_both_runtimes() {
    on_both_runtimes(sketch);
}

fn fixed_clock() -> u64 {
    1_780_000_000_000
}

async fn diff<S: Store + 'static>(store: Arc<S>) -> Outcome {
    let options = || HistoryOptions::default().with_clock(fixed_clock);
    let configs = ConfigStore::new(store.clone(), options());
    let v1 = configs
        .commit(
            "web",
            "replicas: 2\npassword: a\n",
            Some(Format::Yaml),
            "ada",
            "first",
        )
        .await?;
    let p = configs
        .propose(
            "web",
            "replicas: 3\npassword: b\n",
            Some(Format::Yaml),
            "ada",
            "scale up",
        )
        .await?;
    configs.submit(&p.id, "ada").await?;
    configs.approve(&p.id, "bob").await?;
    // A restarted process applies the approved proposal and sees the history.
    let configs = ConfigStore::new(store, options());
    let applied = configs.apply(&p.id, "ada").await?;
    assert_eq!(applied.status, ProposalStatus::Applied);
    let history = configs.history("web").await?;
    assert_eq!(
        history.iter().map(|v| v.version).collect::<Vec<_>>(),
        [v1.version, v1.version + 1]
    );
    assert_eq!(configs.names().await?, ["web"]);
    let d = configs.diff("web", 1, 2).await?;
    assert!(d.report.contains("~ /replicas: 2 -> 3"), "{}", d.report);
    let drift = configs
        .drift("web", "replicas: 3\npassword: b\n", None)
        .await?;
    assert!(drift.in_sync);
    Ok(())
}

#[test]
fn diff_config_store_on_both_runtimes() {
    on_both_runtimes(diff);
}

/// The watchdog catches what the tests above guard against: a blocking call
/// (`store.blocking()`, a hidden `block_on`) made on a current-thread
/// runtime's only thread while the adapter's request needs that thread.
#[test]
fn the_watchdog_catches_a_block_on_inside_a_current_thread_runtime() {
    let r = watchdog(Duration::from_secs(3), || {
        let rt = runtime(Flavor::CurrentThread);
        let store = adapter(rt.handle().clone());
        rt.block_on(async move {
            store
                .blocking()
                .put(&Key::new("k").expect("key"), "v")
                .map(|_| ())
        })
    });
    let err = r.expect_err("a block_on on the runtime's only thread cannot finish");
    assert!(err.contains("hung"), "{err}");
}

/// `Offload` drives the blocking backends from a current-thread runtime:
/// Tokio's blocking pool for `DirStore`, the built-in pool for `RedbStore`.
#[test]
fn offloaded_dir_and_redb_stores_on_a_current_thread_runtime() {
    let r = watchdog(WATCHDOG, || -> Outcome {
        let rt = runtime(Flavor::CurrentThread);
        let dir = tempfile::tempdir()?;
        let dir_store = Arc::new(Offload::with_tokio(
            DirStore::open(dir.path().join("dir"))?,
            rt.handle().clone(),
        ));
        let redb = Arc::new(Offload::with_pool(
            RedbStore::open(dir.path().join("db.redb"))?,
            BlockingPool::new(2)?,
        ));
        rt.block_on(async {
            for task in [
                rt.spawn(store_itself(dir_store.clone())),
                rt.spawn(tsz_series(dir_store.clone())),
                rt.spawn(upload(dir_store.clone())),
                rt.spawn(flow(dir_store.clone())),
                rt.spawn(geo(dir_store.clone())),
                rt.spawn(feed(dir_store.clone())),
                rt.spawn(store_itself(redb.clone())),
                rt.spawn(vault(redb.clone())),
                rt.spawn(codes(redb.clone())),
                rt.spawn(tenant(redb.clone())),
                rt.spawn(sketch(redb.clone())),
                rt.spawn(diff(redb.clone())),
            ] {
                task.await??;
            }
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })?;
        // Reopened from disk without the wrapper, the data is there.
        drop((dir_store, redb));
        let reopened = RedbStore::open(dir.path().join("db.redb"))?;
        let got = reopened.blocking().get(&Key::new("accounts/42/balance")?)?;
        assert_eq!(&got.data[..], b"150");
        let reopened = DirStore::open(dir.path().join("dir"))?;
        assert!(
            reopened
                .blocking()
                .get_opt(&Key::new("files/hello.txt")?)?
                .is_some()
        );
        Ok(())
    });
    r.expect("no hang").expect("workloads");
}
