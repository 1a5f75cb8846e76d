//! A crash at every store operation of a run of snapshot saves, under
//! every fault kind, then a restart from the store alone: the snapshot
//! loaded is the last one acknowledged or the one in flight, never an
//! error, and the next save succeeds and leaves no leftovers.

use crate::snapshot::Tiny;
use blocksmith_geo::{Fix, GeoIndex, GeoOptions, HistoryOptions, Kind, snapshot};
use blocksmith_store::testing::{CrashPoint, CrashTest, Fault, crash_at_every_operation};
use blocksmith_store::{DirStore, MemoryStore, Store, StoreExt, block_on};

const SAVES: usize = 4;

fn options() -> GeoOptions {
    // Large cells: an index is quicker to build, and the answers are the same.
    GeoOptions::default()
        .with_history(Some(HistoryOptions::default()))
        .with_cell_size_m(50_000.0)
}

/// The index after `step` rounds of moves: 80 entities drifting east.
fn index_at(step: usize) -> GeoIndex {
    let mut index = GeoIndex::new(options());
    for s in 0..=step {
        for i in 0..80u32 {
            let kind = if i % 3 == 0 {
                Kind::Driver
            } else {
                Kind::Rider
            };
            let fix = Fix::new(
                48.8 + f64::from(i) * 0.001,
                2.3 + (s as f64) * 0.002 + f64::from(i) * 0.0005,
                (s as i64) * 60_000 + i64::from(i),
            );
            index.upsert(&format!("e{i}"), &kind, fix).unwrap();
        }
    }
    index.drain_events().count();
    index
}

/// The indexes the workload saves in turn, and the one saved after the
/// restart; with the snapshot bytes of each (canonical: what a loaded
/// index encodes to as well).
struct States {
    indexes: Vec<GeoIndex>,
    bytes: Vec<Vec<u8>>,
}

fn states() -> States {
    let indexes: Vec<GeoIndex> = (0..=SAVES).map(index_at).collect();
    let bytes = indexes.iter().map(snapshot::encode).collect();
    States { indexes, bytes }
}

/// Saves the states in turn; returns how many saves were acknowledged.
fn workload<S: Store>(store: &S, states: &States) -> usize {
    for s in 0..SAVES {
        if block_on(states.indexes[s].save(store, "city")).is_err() {
            return s;
        }
    }
    SAVES
}

/// Whether the fault tore the manifest, the one record a save overwrites
/// in place. The `Store` contract makes puts atomic, so no conforming
/// backend can do that; loading must then never give a wrong index, but
/// may fail with a typed error.
fn tore_manifest(point: &CrashPoint) -> bool {
    point.plan.fault == Fault::Tear
        && point
            .operation
            .as_ref()
            .is_some_and(|op| op.key.ends_with("/manifest"))
}

fn check<S: Store>(inner: &S, acked: usize, point: &CrashPoint, states: &States) {
    let loaded = match block_on(GeoIndex::load(inner, "city")) {
        Ok(l) => l,
        Err(e) if tore_manifest(point) => {
            eprintln!("{point}: typed error after a torn manifest: {e}");
            return;
        }
        Err(e) => panic!("{point}: restart failed: {e}"),
    };
    let got = loaded.map(|i| snapshot::encode(&i));
    // The last acknowledged state, or the one in flight.
    let previous = acked.checked_sub(1).map(|s| states.bytes[s].clone());
    let in_flight = (acked < SAVES).then(|| states.bytes[acked].clone());
    assert!(
        got == previous || (point.fired && got.is_some() && got == in_flight),
        "{point}: {acked} saves acknowledged, loaded another state"
    );
    // A new process saves again: it succeeds, and leaves only its parts.
    let info = block_on(states.indexes[SAVES].save(inner, "city"))
        .unwrap_or_else(|e| panic!("{point}: save after restart: {e}"));
    let back = block_on(GeoIndex::load(inner, "city")).unwrap().unwrap();
    assert_eq!(snapshot::encode(&back), states.bytes[SAVES], "{point}");
    let epoch = format!("geo/city/snap/{:016x}/", info.epoch);
    for m in inner.blocking().list_all("geo/city/snap/").unwrap() {
        assert!(
            m.key.as_str().starts_with(&epoch),
            "{point}: leftover {}",
            m.key
        );
    }
}

#[test]
fn snapshots_survive_a_crash_at_every_store_operation() {
    let states = states();
    // Parts of at most 1 KiB: several per snapshot.
    assert!(
        states.bytes[0].len() > 3 * 1024,
        "{}",
        states.bytes[0].len()
    );
    let report = crash_at_every_operation(
        || Tiny(MemoryStore::new()),
        |store| workload(store, &states),
        |inner, acked, point| check(&inner, acked, point, &states),
    );
    assert!(report.operations > 30, "{report:?}");
}

/// The same over a real directory store (whose puts cannot tear).
#[test]
fn snapshots_on_a_dir_store_survive_lost_acknowledgements() {
    let states = states();
    let root = tempfile::tempdir().unwrap();
    let mut n = 0;
    let report = CrashTest::new().with_faults([Fault::FailAfter]).run(
        || {
            n += 1;
            DirStore::open(root.path().join(n.to_string())).unwrap()
        },
        |store| workload(store, &states),
        |inner, acked, point| check(&inner, acked, point, &states),
    );
    assert!(report.crashes >= 4 * SAVES, "{report:?}");
}

/// A store that lets another node's save run right after this node's
/// manifest swap, before its cleanup of old epochs.
struct Interleaved {
    inner: MemoryStore,
    other: std::sync::Mutex<Option<GeoIndex>>,
}

impl Store for Interleaved {
    fn capabilities(&self) -> blocksmith_store::Capabilities {
        self.inner.capabilities()
    }
    async fn get(
        &self,
        key: &blocksmith_store::Key,
        options: blocksmith_store::GetOptions,
    ) -> blocksmith_store::Result<blocksmith_store::GetResult> {
        self.inner.get(key, options).await
    }
    async fn head(
        &self,
        key: &blocksmith_store::Key,
    ) -> blocksmith_store::Result<blocksmith_store::ObjectMeta> {
        self.inner.head(key).await
    }
    async fn put(
        &self,
        key: &blocksmith_store::Key,
        value: blocksmith_store::Bytes,
        options: blocksmith_store::PutOptions,
    ) -> blocksmith_store::Result<blocksmith_store::PutResult> {
        let r = self.inner.put(key, value, options).await?;
        if key.as_str().ends_with("/manifest") {
            let other = self.other.lock().unwrap().take();
            if let Some(index) = other {
                index.save(&self.inner, "city").await.unwrap();
            }
        }
        Ok(r)
    }
    async fn delete(&self, key: &blocksmith_store::Key) -> blocksmith_store::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(
        &self,
        options: blocksmith_store::ListOptions,
    ) -> blocksmith_store::Result<blocksmith_store::ListPage> {
        self.inner.list(options).await
    }
}

/// Two nodes save one index name at nearly the same time: the first one's
/// cleanup must not delete the newer epoch the second one committed after
/// its manifest swap (it did: the manifest then named missing parts and
/// `load` failed).
#[test]
fn a_save_keeps_a_newer_epoch_another_node_committed() {
    let store = Interleaved {
        inner: MemoryStore::new(),
        other: std::sync::Mutex::new(Some(index_at(2))),
    };
    block_on(index_at(1).save(&store, "city")).unwrap();
    let loaded = block_on(GeoIndex::load(&store.inner, "city"))
        .unwrap()
        .expect("a snapshot");
    assert_eq!(snapshot::encode(&loaded), snapshot::encode(&index_at(2)));
}

/// `save_if` from a stale node is refused before it writes a part, and
/// the snapshot it would have replaced stays whole.
#[test]
fn a_stale_save_if_writes_nothing() {
    let store = MemoryStore::new();
    let (_, v1) = block_on(index_at(1).save_if(&store, "city", None)).unwrap();
    assert!(block_on(index_at(9).save_if(&store, "city", None)).is_err());
    let (a, va) = block_on(GeoIndex::load_versioned(&store, "city"))
        .unwrap()
        .unwrap();
    assert_eq!(va, v1);
    let (_, v2) = block_on(index_at(2).save_if(&store, "city", Some(va.clone()))).unwrap();
    let before = store.blocking().list_all("geo/city/").unwrap();
    let err = block_on(a.save_if(&store, "city", Some(va))).unwrap_err();
    assert!(
        matches!(
            err,
            blocksmith_geo::Error::Store(blocksmith_store::Error::PreconditionFailed { .. })
        ),
        "{err}"
    );
    assert_eq!(store.blocking().list_all("geo/city/").unwrap(), before);
    let (back, v) = block_on(GeoIndex::load_versioned(&store, "city"))
        .unwrap()
        .unwrap();
    assert_eq!(v, v2);
    assert_eq!(snapshot::encode(&back), snapshot::encode(&index_at(2)));
}
