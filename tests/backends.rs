//! Every persisting engine on every backend, with a reopen: the same
//! realistic workload (`tests/support/engines.rs`) runs on `MemoryStore`,
//! `DirStore`, `RedbStore`, `SqliteStore`, `Arc<dyn DynStore>`, `ObjectStoreAdapter`
//! over `object_store`'s `InMemory` and `PostgresStore` (on the server in
//! `BLOCKSMITH_POSTGRES_URL`, in tables of the engine's own; left out, and
//! said so, without it, unless `BLOCKSMITH_REQUIRE_POSTGRES=1`); then a new
//! engine value over the same data (the files reopened, for `DirStore` and
//! `RedbStore`, a new connection pool for `PostgresStore`) checks the state
//! and keeps working.
//!
//! The engines' futures are driven by `blocksmith::store::block_on`, the
//! workspace's executor-free way to run them; the adapter brings its own
//! runtime for its I/O.

#[path = "support/engines.rs"]
#[allow(dead_code)] // `Engine::PREFIXES` is for `tests/shared_store.rs`
mod engines;

use blocksmith::store::{
    DirStore, DynStore, MemoryStore, ObjectStoreAdapter, PostgresOptions, PostgresStore, RedbStore,
    SqliteStore, Store, block_on,
};
use engines::{Engine, Outcome};
use std::path::PathBuf;
use std::sync::Arc;

/// Where an engine's data lives between the write and the reopen.
trait Backend {
    const NAME: &'static str;
    type S: Store + ?Sized + 'static;
    /// A store over the backend's data: a fresh value each time, over the
    /// same data.
    fn open(&self) -> Outcome<Arc<Self::S>>;
}

struct Memory(Arc<MemoryStore>);

impl Backend for Memory {
    const NAME: &'static str = "MemoryStore";
    type S = MemoryStore;
    fn open(&self) -> Outcome<Arc<MemoryStore>> {
        Ok(self.0.clone())
    }
}

struct Dir(PathBuf);

impl Backend for Dir {
    const NAME: &'static str = "DirStore";
    type S = DirStore;
    fn open(&self) -> Outcome<Arc<DirStore>> {
        Ok(Arc::new(DirStore::open(&self.0)?))
    }
}

struct Redb(PathBuf);

impl Backend for Redb {
    const NAME: &'static str = "RedbStore";
    type S = RedbStore;
    fn open(&self) -> Outcome<Arc<RedbStore>> {
        // redb locks its file: the write phase's store must be gone, which
        // also proves the engines do not keep it alive.
        Ok(Arc::new(RedbStore::open(&self.0)?))
    }
}

struct Sqlite(PathBuf);

impl Backend for Sqlite {
    const NAME: &'static str = "SqliteStore";
    type S = SqliteStore;
    fn open(&self) -> Outcome<Arc<SqliteStore>> {
        Ok(Arc::new(SqliteStore::open(&self.0)?))
    }
}

/// `Arc<dyn DynStore>` over a redb file: the type-erased path with a
/// durable store under it.
struct Dyn(PathBuf);

impl Backend for Dyn {
    const NAME: &'static str = "Arc<dyn DynStore>";
    type S = dyn DynStore;
    fn open(&self) -> Outcome<Arc<dyn DynStore>> {
        let store: Arc<dyn DynStore> = Arc::new(RedbStore::open(&self.0)?);
        Ok(store)
    }
}

struct ObjectStore(Arc<object_store::memory::InMemory>);

impl Backend for ObjectStore {
    const NAME: &'static str = "ObjectStoreAdapter(InMemory)";
    type S = ObjectStoreAdapter;
    fn open(&self) -> Outcome<Arc<ObjectStoreAdapter>> {
        Ok(Arc::new(ObjectStoreAdapter::new(self.0.clone())?))
    }
}

/// Tables of their own (named from the engine and the process) in the
/// server at `url`, dropped before and after.
struct Postgres {
    url: String,
    prefix: String,
}

impl Postgres {
    /// The backend for engine `name`, or `None` (said so) without a server.
    fn for_engine(name: &str) -> Option<Postgres> {
        let Ok(url) = std::env::var("BLOCKSMITH_POSTGRES_URL") else {
            assert!(
                std::env::var("BLOCKSMITH_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "BLOCKSMITH_REQUIRE_POSTGRES=1 but BLOCKSMITH_POSTGRES_URL is not set"
            );
            eprintln!("{name}: PostgresStore SKIPPED (set BLOCKSMITH_POSTGRES_URL to run it)");
            return None;
        };
        let slug: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(24)
            .collect();
        let pg = Postgres {
            url,
            prefix: format!("be_{slug}_{}", std::process::id()),
        };
        pg.drop_tables();
        Some(pg)
    }

    fn drop_tables(&self) {
        let p = &self.prefix;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
                .await
                .expect("connect to BLOCKSMITH_POSTGRES_URL");
            tokio::spawn(conn);
            client
                .batch_execute(&format!(
                    "DROP TABLE IF EXISTS {p}_objects, {p}_chunks, {p}_meta;
                     DROP SEQUENCE IF EXISTS {p}_versions;
                     DROP FUNCTION IF EXISTS {p}_drop_chunks();"
                ))
                .await
                .expect("drop the test's tables");
        });
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.drop_tables();
    }
}

impl Backend for Postgres {
    const NAME: &'static str = "PostgresStore";
    type S = PostgresStore;
    fn open(&self) -> Outcome<Arc<PostgresStore>> {
        let options = PostgresOptions::new(&self.url).with_table_prefix(&self.prefix);
        Ok(Arc::new(block_on(PostgresStore::open(options))?))
    }
}

/// The write, then the check on a reopened store; a panic (a failed
/// assertion) becomes an error naming the backend.
fn run<E: Engine, B: Backend>(backend: &B) -> Outcome {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Outcome {
        let expect = block_on(E::write(backend.open()?))?;
        block_on(E::check(backend.open()?, expect))
    }))
    .unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_default();
        Err(format!("panicked: {msg}").into())
    })
}

fn on_every_backend<E: Engine>() {
    let dir = tempfile::tempdir().expect("temp dir");
    let results = [
        (
            Memory::NAME,
            run::<E, _>(&Memory(Arc::new(MemoryStore::new()))),
        ),
        (Dir::NAME, run::<E, _>(&Dir(dir.path().join("dir")))),
        (
            Redb::NAME,
            run::<E, _>(&Redb(dir.path().join("store.redb"))),
        ),
        (
            Sqlite::NAME,
            run::<E, _>(&Sqlite(dir.path().join("store.sqlite"))),
        ),
        (Dyn::NAME, run::<E, _>(&Dyn(dir.path().join("dyn.redb")))),
        (
            ObjectStore::NAME,
            run::<E, _>(&ObjectStore(
                Arc::new(object_store::memory::InMemory::new()),
            )),
        ),
    ];
    let postgres = Postgres::for_engine(E::NAME).map(|pg| (Postgres::NAME, run::<E, _>(&pg)));
    let failed: Vec<String> = results
        .into_iter()
        .chain(postgres)
        .filter_map(|(name, r)| r.err().map(|e| format!("{name}: {e}")))
        .collect();
    assert!(failed.is_empty(), "{}: {failed:#?}", E::NAME);
}

#[test]
fn tsz_series() {
    on_every_backend::<engines::Tsz>();
}

#[test]
fn vault_items() {
    on_every_backend::<engines::VaultItems>();
}

#[test]
fn vault_api_keys() {
    on_every_backend::<engines::ApiKeys>();
}

#[test]
fn diff_config_history() {
    on_every_backend::<engines::Diff>();
}

#[test]
fn geo_index_and_fences() {
    on_every_backend::<engines::Geo>();
}

#[test]
fn feed_store() {
    on_every_backend::<engines::FeedEngine>();
}

#[test]
fn upload_sessions() {
    on_every_backend::<engines::Upload>();
}

#[test]
fn upload_dedup() {
    on_every_backend::<engines::Dedup>();
}

#[test]
fn sketch_window_checkpoint() {
    on_every_backend::<engines::Sketch>();
}

#[test]
fn spell_user_dictionary() {
    on_every_backend::<engines::Spell>();
}

#[test]
fn codes_catalog_and_render_cache() {
    on_every_backend::<engines::Codes>();
}

#[test]
fn ocr_job_queue() {
    on_every_backend::<engines::Ocr>();
}

#[test]
fn flow_engine() {
    on_every_backend::<engines::Flow>();
}

#[test]
fn tenant_service() {
    on_every_backend::<engines::Tenant>();
}

#[test]
fn dispute_desk() {
    on_every_backend::<engines::Dispute>();
}

#[test]
fn receipts_blocks() {
    on_every_backend::<engines::Receipts>();
}
