//! Snapshot and restore through blocksmith-store give identical answers;
//! hostile snapshot bytes give typed errors.

use blocksmith_geo::geo::{LineString, Polygon};
use blocksmith_geo::{
    BBox, Error, Fence, FenceEventKind, Fix, GeoIndex, GeoOptions, HistoryOptions, Kind, LatLon,
    QueryFilter, persist, snapshot,
};
use blocksmith_store::{Capabilities, MemoryStore, RedbStore, Store, StoreExt, block_on};
use proptest::prelude::*;

fn options() -> GeoOptions {
    GeoOptions::default()
        .with_ttl_ms(Some(600_000))
        .with_history(Some(HistoryOptions::default()))
}

/// Deterministic xorshift.
struct Rng(u64);
impl Rng {
    fn f(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn populated() -> GeoIndex {
    let mut index = GeoIndex::new(options());
    let ring = |x: f64, y: f64, s: f64| {
        LineString::from(vec![(x, y), (x + s, y), (x + s, y + s), (x, y + s)])
    };
    index
        .add_fence(
            Fence::new(
                "zone",
                Polygon::new(ring(2.30, 48.83, 0.04), vec![ring(2.31, 48.84, 0.01)]),
            )
            .with_kinds([Kind::Driver, Kind::Tag("van".into())])
            .with_dwell_ms(120_000),
        )
        .unwrap();
    index
        .add_fence(Fence::new(
            "all",
            Polygon::new(ring(2.0, 48.5, 1.0), vec![]),
        ))
        .unwrap();
    index
        .add_fence(Fence::new(
            "dateline",
            Polygon::new(ring(179.0, -1.0, 2.0), vec![]),
        ))
        .unwrap();
    let mut rng = Rng(7);
    for step in 0..5 {
        for i in 0..400 {
            let kind = match i % 4 {
                0 => Kind::Driver,
                1 => Kind::Rider,
                2 => Kind::Tag("van".into()),
                _ => Kind::Asset,
            };
            let (lat, lon) = if i % 10 == 0 {
                (rng.f() * 2.0 - 1.0, 179.5 + rng.f())
            } else {
                (48.8 + rng.f() * 0.1, 2.28 + rng.f() * 0.1)
            };
            let lon = if lon > 180.0 { lon - 360.0 } else { lon };
            let mut fix = Fix::new(lat, lon, step * 60_000 + i64::from(i))
                .with_speed(8.0)
                .with_heading(90.0);
            if i % 7 == 0 {
                fix = fix.with_accuracy(if i % 14 == 0 { 500.0 } else { 12.0 });
            }
            let _ = index.upsert(&format!("e{i}"), &kind, fix).unwrap();
        }
    }
    index.remove("e3");
    index.drain_events().count();
    index
}

fn same_answers(a: &GeoIndex, b: &GeoIndex) {
    assert_eq!(a.len(), b.len());
    assert_eq!(a.ids(), b.ids());
    assert_eq!(a.stats(), b.stats());
    assert_eq!(a.clock(), b.clock());
    let filters = [
        QueryFilter::new(),
        QueryFilter::new().with_kind(Kind::Tag("van".into())),
        QueryFilter::new().with_stale(true),
    ];
    for f in &filters {
        for (lat, lon) in [(48.85, 2.33), (0.0, 180.0), (0.5, -179.9), (90.0, 0.0)] {
            let c = LatLon::new(lat, lon).unwrap();
            for r in [500.0, 5_000.0, 200_000.0] {
                assert_eq!(
                    a.radius(c, r, 20, f).unwrap(),
                    b.radius(c, r, 20, f).unwrap()
                );
                assert_eq!(
                    a.radius(c, r, usize::MAX, f).unwrap(),
                    b.radius(c, r, usize::MAX, f).unwrap()
                );
            }
            assert_eq!(
                a.nearest(c, 7, None, f).unwrap(),
                b.nearest(c, 7, None, f).unwrap()
            );
        }
        let bx = BBox::new(-1.0, 179.0, 49.0, 3.0).unwrap();
        assert_eq!(a.bbox(bx, usize::MAX, f), b.bbox(bx, usize::MAX, f));
    }
    for id in a.ids() {
        assert_eq!(a.get(&id), b.get(&id));
        assert_eq!(a.trajectory(&id), b.trajectory(&id));
    }
    assert_eq!(a.fences(), b.fences());
    for f in a.fences() {
        assert_eq!(a.fence_members(&f.id), b.fence_members(&f.id));
    }
}

/// The same fixes after a restore produce the same events.
fn same_future(mut a: GeoIndex, mut b: GeoIndex) {
    for (i, (lat, lon)) in [(48.845, 2.335), (48.9, 2.4), (48.845, 2.315)]
        .into_iter()
        .enumerate()
    {
        for id in ["e0", "e4", "e8", "e2"] {
            let t = 10_000_000 + i as i64 * 100_000;
            let fa = a.upsert(id, &Kind::Driver, Fix::new(lat, lon, t)).unwrap();
            let fb = b.upsert(id, &Kind::Driver, Fix::new(lat, lon, t)).unwrap();
            assert_eq!(fa, fb);
        }
    }
    a.advance_clock(20_000_000);
    b.advance_clock(20_000_000);
    let ea: Vec<_> = a.drain_events().collect();
    let eb: Vec<_> = b.drain_events().collect();
    assert!(ea.iter().any(|e| e.kind == FenceEventKind::Dwell));
    assert_eq!(ea, eb);
    assert_eq!(a.evict_stale(), b.evict_stale());
}

#[test]
fn bytes_round_trip_gives_identical_answers() {
    let a = populated();
    let bytes = snapshot::encode(&a);
    let b = snapshot::decode(&bytes, options()).unwrap();
    same_answers(&a, &b);
    // Re-encoding the restored index gives the same bytes.
    assert_eq!(snapshot::encode(&b), bytes);
    same_future(a, b);
}

/// Options are host configuration, not data: a restore may change the cell
/// size (entities are re-bucketed) and the answers stay the same.
#[test]
fn restore_with_another_cell_size_gives_identical_answers() {
    let a = populated();
    let bytes = snapshot::encode(&a);
    for cell in [60.0, 1_000.0, 20_000.0] {
        let b = snapshot::decode(&bytes, options().with_cell_size_m(cell)).unwrap();
        same_answers(&a, &b);
        assert_eq!(snapshot::encode(&b), bytes);
    }
    let b = snapshot::decode(&bytes, options().with_cell_size_m(1_000.0)).unwrap();
    same_future(a, b);
}

#[test]
fn store_round_trip_on_redb_with_small_parts() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbStore::open(dir.path().join("geo.redb")).unwrap();
    let a = populated();
    let info = block_on(a.save(&store, "city")).unwrap();
    assert_eq!(info.epoch, 1);
    let b = block_on(GeoIndex::load(&store, "city")).unwrap().unwrap();
    // The options come back from the snapshot; `load_with` replaces them.
    assert_eq!(b.options(), &options());
    assert_ne!(options(), GeoOptions::default());
    let c = block_on(GeoIndex::load_with(&store, "city", GeoOptions::default()))
        .unwrap()
        .unwrap();
    assert_eq!(c.options(), &GeoOptions::default());
    same_answers(&a, &b);
    // A second save replaces the first and deletes its parts.
    let info2 = block_on(b.save(&store, "city")).unwrap();
    assert_eq!(info2.epoch, 2);
    let keys = store.blocking().list_all("geo/city/snap/").unwrap();
    assert!(
        keys.iter()
            .all(|m| m.key.as_str().contains(&format!("{:016x}", 2)))
    );
    assert_eq!(keys.len(), info2.parts as usize);
    same_future(a, b);
    assert!(
        block_on(GeoIndex::load(&store, "nothing"))
            .unwrap()
            .is_none()
    );
    block_on(persist::delete(&store, "city")).unwrap();
    assert!(block_on(GeoIndex::load(&store, "city")).unwrap().is_none());
    assert!(store.blocking().list_all("geo/city/").unwrap().is_empty());
}

/// A store that accepts values of at most 1 KiB, to force many parts.
pub(crate) struct Tiny(pub(crate) MemoryStore);
impl Store for Tiny {
    fn capabilities(&self) -> Capabilities {
        self.0.capabilities().with_max_value_size(Some(1024))
    }
    fn get(
        &self,
        key: &blocksmith_store::Key,
        o: blocksmith_store::GetOptions,
    ) -> impl Future<Output = blocksmith_store::Result<blocksmith_store::GetResult>> + Send {
        self.0.get(key, o)
    }
    fn head(
        &self,
        key: &blocksmith_store::Key,
    ) -> impl Future<Output = blocksmith_store::Result<blocksmith_store::ObjectMeta>> + Send {
        self.0.head(key)
    }
    fn put(
        &self,
        key: &blocksmith_store::Key,
        v: bytes::Bytes,
        o: blocksmith_store::PutOptions,
    ) -> impl Future<Output = blocksmith_store::Result<blocksmith_store::PutResult>> + Send {
        assert!(v.len() <= 1024 || key.as_str().ends_with("manifest"));
        self.0.put(key, v, o)
    }
    fn delete(
        &self,
        key: &blocksmith_store::Key,
    ) -> impl Future<Output = blocksmith_store::Result<()>> + Send {
        self.0.delete(key)
    }
    fn list(
        &self,
        o: blocksmith_store::ListOptions,
    ) -> impl Future<Output = blocksmith_store::Result<blocksmith_store::ListPage>> + Send {
        self.0.list(o)
    }
}

#[test]
fn parts_respect_the_store_value_limit_and_corruption_is_detected() {
    let store = Tiny(MemoryStore::new());
    let a = populated();
    let info = block_on(a.save(&store, "small")).unwrap();
    assert!(info.parts > 10, "{info:?}");
    let b = block_on(GeoIndex::load(&store, "small")).unwrap().unwrap();
    same_answers(&a, &b);
    // Flip a byte in one part: the load fails with a typed error.
    let key =
        blocksmith_store::Key::new(format!("geo/small/snap/{:016x}/000003", info.epoch)).unwrap();
    let mut part = store.0.blocking().get(&key).unwrap().data.to_vec();
    part[10] ^= 0x40;
    store.0.blocking().put(&key, part).unwrap();
    assert!(matches!(
        block_on(GeoIndex::load(&store, "small")),
        Err(Error::Snapshot { .. })
    ));
    // A missing part is a store error, not a panic.
    store.0.blocking().delete(&key).unwrap();
    assert!(matches!(
        block_on(GeoIndex::load(&store, "small")),
        Err(Error::Store(_))
    ));
    assert!(block_on(a.save(&store, "bad/name")).is_err());
}

#[test]
fn concurrent_saver_loses_the_manifest_race() {
    let store = MemoryStore::new();
    let a = populated();
    block_on(a.save(&store, "x")).unwrap();
    // Another writer bumps the manifest between our read and our swap: we
    // simulate it by saving twice from the same starting point.
    let s = store.blocking();
    let key = blocksmith_store::Key::new("geo/x/manifest").unwrap();
    let before = s.get(&key).unwrap();
    block_on(a.save(&store, "x")).unwrap();
    let stale = s.put_opts(
        &key,
        before.data.clone(),
        blocksmith_store::PutOptions::update(before.meta.version),
    );
    assert!(stale.is_err());
}

#[test]
fn hostile_bytes_are_typed_errors() {
    let bytes = snapshot::encode(&populated());
    assert!(snapshot::decode(&[], options()).is_err());
    assert!(snapshot::decode(b"BSGEO", options()).is_err());
    // Every truncation is an error.
    for cut in (0..bytes.len()).step_by(97) {
        assert!(snapshot::decode(&bytes[..cut], options()).is_err());
        assert!(
            snapshot::decode_unverified(&bytes[..cut.saturating_sub(4)], options()).is_err()
                || cut >= bytes.len() - 4
        );
    }
    // Every single flipped byte is caught by the checksum.
    for at in (0..bytes.len()).step_by(31) {
        let mut b = bytes.clone();
        b[at] ^= 0x01;
        assert!(matches!(
            snapshot::decode(&b, options()),
            Err(Error::Snapshot { .. })
        ));
    }
    let body = &bytes[..bytes.len() - 4];
    assert!(snapshot::decode_unverified(body, options()).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_indexes_round_trip(
        pts in proptest::collection::vec((0..40u8, -90.0..=90.0f64, -180.0..=180.0f64, 0..3u8, proptest::option::of(0.0..300.0f32)), 0..120),
    ) {
        let mut a = GeoIndex::new(options().with_max_speed_mps(None));
        a.add_fence(Fence::new("half", Polygon::new(LineString::from(vec![(0.0, -90.0), (180.0, -90.0), (180.0, 90.0), (0.0, 90.0)]), vec![]))).unwrap();
        for (t, (id, lat, lon, k, acc)) in pts.into_iter().enumerate() {
            let kind = [Kind::Driver, Kind::Rider, Kind::Tag("t".into())][usize::from(k)].clone();
            let mut fix = Fix::new(lat, lon, t as i64);
            fix.accuracy_m = acc;
            a.upsert(&format!("id{id}"), &kind, fix).unwrap();
        }
        let bytes = snapshot::encode(&a);
        let b = snapshot::decode(&bytes, options().with_max_speed_mps(None)).unwrap();
        prop_assert_eq!(snapshot::encode(&b), bytes);
        for id in a.ids() {
            prop_assert_eq!(a.get(&id), b.get(&id));
        }
    }

    #[test]
    fn mutated_bodies_never_panic(
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    ) {
        let bytes = snapshot::encode(&populated_small());
        let mut body = bytes[..bytes.len() - 4].to_vec();
        for (at, v) in flips {
            let i = at.index(body.len());
            body[i] = v;
        }
        let end = cut.index(body.len() + 1);
        let _ = snapshot::decode_unverified(&body[..end], options());
    }
}

fn populated_small() -> GeoIndex {
    let mut index = GeoIndex::new(options());
    index
        .add_fence(
            Fence::new(
                "f",
                Polygon::new(
                    LineString::from(vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]),
                    vec![],
                ),
            )
            .with_kinds([Kind::Tag("x".into())]),
        )
        .unwrap();
    for i in 0..5 {
        index
            .upsert(
                &format!("e{i}"),
                &Kind::Tag("x".into()),
                Fix::new(0.2, 0.5, i).with_accuracy(3.0),
            )
            .unwrap();
    }
    index
}
