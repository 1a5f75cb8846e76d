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
//! geo, feed, sketch and diff are not here yet (their persistence API is
//! being reshaped).

use blocksmith::codes::batch::{RenderCache, Template};
use blocksmith::codes::catalog::{Catalog, Product, StoreCatalog};
use blocksmith::codes::gtin::Gtin;
use blocksmith::flow::{
    Engine, ManualClock, Registry, RetryPolicy, Saga, SagaPlan, SagaStep, StartOptions, Status,
    StepError,
};
use blocksmith::ocr::{EngineOptions, JobOptions, JobQueue, JobStatus};
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
                CreateOptions::with_length(file.len() as u64)
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
                rt.spawn(store_itself(redb.clone())),
                rt.spawn(vault(redb.clone())),
                rt.spawn(codes(redb.clone())),
                rt.spawn(tenant(redb.clone())),
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
