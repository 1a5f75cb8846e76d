//! Roaming fences: circles that follow an anchor entity.

use blocksmith_geo::{
    Error, Fence, FenceEventKind, Fix, GeoIndex, GeoOptions, Kind, LatLon, RoamingFence,
    distance_m, geo::polygon, snapshot,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn events(index: &mut GeoIndex) -> Vec<(FenceEventKind, String, String)> {
    index
        .drain_events()
        .map(|e| (e.kind, e.entity.to_string(), e.fence.to_string()))
        .collect()
}

fn ev(kind: FenceEventKind, entity: &str, fence: &str) -> (FenceEventKind, String, String) {
    (kind, entity.to_string(), fence.to_string())
}

fn opts() -> GeoOptions {
    GeoOptions::default().with_max_speed_mps(None)
}

/// `m` metres north of (lat, lon), roughly.
fn north(lat: f64, lon: f64, m: f64) -> (f64, f64) {
    (lat + m / 111_195.0, lon)
}

#[test]
fn rider_enters_and_leaves_as_either_side_moves() {
    use FenceEventKind::{Dwell, Enter, Exit};
    let mut index = GeoIndex::new(opts());
    index
        .add_roaming_fence(
            RoamingFence::new("near-d1", "d1", 500.0)
                .with_kinds([Kind::Rider])
                .with_dwell_ms(60_000),
        )
        .unwrap();
    let (lat, lon) = (48.8566, 2.3522);
    // Before the anchor exists the fence is nowhere.
    index
        .upsert("r1", &Kind::Rider, Fix::new(lat, lon, 0))
        .unwrap();
    assert!(events(&mut index).is_empty());
    assert_eq!(index.roaming_fence_center("near-d1"), None);
    // The anchor arrives next to r1: r1 enters.
    let (a, b) = north(lat, lon, 300.0);
    index
        .upsert("d1", &Kind::Driver, Fix::new(a, b, 1_000))
        .unwrap();
    assert_eq!(events(&mut index), [ev(Enter, "r1", "near-d1")]);
    assert_eq!(
        index.roaming_fence_center("near-d1"),
        Some(LatLon::new(a, b).unwrap())
    );
    // Another driver close by is not a rider: never inside.
    index
        .upsert("d2", &Kind::Driver, Fix::new(lat, lon, 1_500))
        .unwrap();
    assert!(events(&mut index).is_empty());
    // r1 moves, still within 500 m: nothing; after the dwell time: Dwell.
    index
        .upsert("r1", &Kind::Rider, Fix::new(lat, lon, 30_000))
        .unwrap();
    assert!(events(&mut index).is_empty());
    index
        .upsert("r1", &Kind::Rider, Fix::new(lat, lon, 61_000))
        .unwrap();
    assert_eq!(events(&mut index), [ev(Dwell, "r1", "near-d1")]);
    // r1 walks 900 m south of the driver: Exit.
    let (c, d) = north(lat, lon, -600.0);
    index
        .upsert("r1", &Kind::Rider, Fix::new(c, d, 70_000))
        .unwrap();
    assert_eq!(events(&mut index), [ev(Exit, "r1", "near-d1")]);
    // The driver comes to r1: Enter again, at the driver's time.
    index
        .upsert("d1", &Kind::Driver, Fix::new(c, d, 80_000))
        .unwrap();
    let got: Vec<_> = index.drain_events().collect();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].kind, got[0].ts_ms), (Enter, 80_000));
    assert_eq!(got[0].position, LatLon::new(c, d).unwrap());
    assert_eq!(index.fence_members("near-d1").unwrap(), ["r1".into()]);
    let info = index.get("r1").unwrap();
    assert_eq!(info.fences, [("near-d1".into(), 80_000)]);
    // The anchor is never a member of its own fence.
    index
        .add_roaming_fence(RoamingFence::new("around-d1", "d1", 10_000.0))
        .unwrap();
    index
        .upsert("d1", &Kind::Driver, Fix::new(c, d, 90_000))
        .unwrap();
    let members = index.fence_members("around-d1").unwrap();
    assert_eq!(members, ["d2".into(), "r1".into()]);
    assert_eq!(
        events(&mut index),
        [ev(Enter, "d2", "around-d1"), ev(Enter, "r1", "around-d1")]
    );
}

#[test]
fn removal_eviction_and_poor_accuracy() {
    use FenceEventKind::{Enter, Exit, Removed};
    let mut index = GeoIndex::new(
        opts()
            .with_max_accuracy_m(Some(50.0))
            .with_ttl_ms(Some(60_000)),
    );
    index
        .add_roaming_fence(RoamingFence::new("f", "a", 200.0))
        .unwrap();
    let (lat, lon) = (-33.86, 151.21);
    index
        .upsert("a", &Kind::Asset, Fix::new(lat, lon, 0))
        .unwrap();
    index
        .upsert("x", &Kind::Rider, Fix::new(lat, lon, 0))
        .unwrap();
    index
        .upsert("y", &Kind::Rider, Fix::new(lat, lon, 0))
        .unwrap();
    assert_eq!(
        events(&mut index),
        [ev(Enter, "x", "f"), ev(Enter, "y", "f")]
    );
    // A poor fix far away changes nothing, on either side.
    let far = north(lat, lon, 5_000.0);
    index
        .upsert(
            "x",
            &Kind::Rider,
            Fix::new(far.0, far.1, 1_000).with_accuracy(400.0),
        )
        .unwrap();
    index
        .upsert(
            "a",
            &Kind::Asset,
            Fix::new(far.0, far.1, 1_000).with_accuracy(400.0),
        )
        .unwrap();
    assert!(events(&mut index).is_empty());
    assert_eq!(index.fence_members("f").unwrap(), ["x".into(), "y".into()]);
    // A good anchor fix far away: y leaves; x (last fix poor) keeps its state.
    index
        .upsert("a", &Kind::Asset, Fix::new(far.0, far.1, 2_000))
        .unwrap();
    assert_eq!(events(&mut index), [ev(Exit, "y", "f")]);
    // Removing a member emits Removed.
    assert!(index.remove("x"));
    assert_eq!(events(&mut index), [ev(Removed, "x", "f")]);
    // Removing the anchor lifts the fence: its members get Exit.
    index
        .upsert("y", &Kind::Rider, Fix::new(far.0, far.1, 3_000))
        .unwrap();
    assert_eq!(events(&mut index), [ev(Enter, "y", "f")]);
    assert!(index.remove("a"));
    assert_eq!(events(&mut index), [ev(Exit, "y", "f")]);
    assert_eq!(index.roaming_fence_center("f"), None);
    assert!(index.fence_members("f").unwrap().is_empty());
    // The anchor comes back (a new entity with the same id): the fence follows it.
    index
        .upsert("a", &Kind::Asset, Fix::new(far.0, far.1, 4_000))
        .unwrap();
    assert_eq!(events(&mut index), [ev(Enter, "y", "f")]);
    // Eviction of a stale anchor lifts the fence too.
    index
        .upsert("y", &Kind::Rider, Fix::new(far.0, far.1, 100_000))
        .unwrap();
    assert_eq!(index.evict_stale(), ["a".into()]);
    assert_eq!(events(&mut index), [ev(Exit, "y", "f")]);
    // Removing the fence clears state without events.
    index
        .upsert("a", &Kind::Asset, Fix::new(far.0, far.1, 100_000))
        .unwrap();
    assert_eq!(events(&mut index), [ev(Enter, "y", "f")]);
    assert_eq!(index.remove_roaming_fence("f").unwrap().radius_m, 200.0);
    assert!(events(&mut index).is_empty());
    assert!(index.get("y").unwrap().fences.is_empty());
    assert!(index.fence_members("f").is_none());
}

#[test]
fn dwell_from_the_clock_and_typed_errors() {
    let mut index = GeoIndex::new(opts());
    index
        .add_roaming_fence(RoamingFence::new("f", "a", 100.0).with_dwell_ms(5_000))
        .unwrap();
    index
        .upsert("a", &Kind::Driver, Fix::new(10.0, 10.0, 0))
        .unwrap();
    index
        .upsert("b", &Kind::Driver, Fix::new(10.0, 10.0, 0))
        .unwrap();
    index.drain_events().count();
    index.advance_clock(4_999);
    assert_eq!(index.drain_events().count(), 0);
    index.advance_clock(5_000);
    assert_eq!(events(&mut index), [ev(FenceEventKind::Dwell, "b", "f")]);
    index.advance_clock(50_000);
    assert_eq!(index.drain_events().count(), 0);
    // Ids are shared with polygon fences.
    let sq = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0)];
    index.add_fence(Fence::new("poly", sq.clone())).unwrap();
    assert!(matches!(
        index.add_roaming_fence(RoamingFence::new("poly", "a", 10.0)),
        Err(Error::DuplicateFence { .. })
    ));
    assert!(matches!(
        index.add_fence(Fence::new("f", sq)),
        Err(Error::DuplicateFence { .. })
    ));
    for r in [0.0, -1.0, f64::NAN, f64::INFINITY, 3e7] {
        assert!(matches!(
            index.add_roaming_fence(RoamingFence::new("g", "a", r)),
            Err(Error::InvalidFence { .. })
        ));
    }
    assert!(
        index
            .add_roaming_fence(RoamingFence::new("", "a", 1.0))
            .is_err()
    );
    assert!(
        index
            .add_roaming_fence(RoamingFence::new("g", "", 1.0))
            .is_err()
    );
    assert!(
        index
            .add_roaming_fence(RoamingFence::new("g", "a", 1.0).with_dwell_ms(-1))
            .is_err()
    );
    assert_eq!(index.roaming_fences().len(), 1);
    assert_eq!(index.roaming_fence("f").unwrap().anchor.as_ref(), "a");
}

#[test]
fn roaming_state_survives_a_snapshot() {
    let mut index = GeoIndex::new(opts());
    index
        .add_roaming_fence(
            RoamingFence::new("f", "a", 1_000.0)
                .with_kinds([Kind::Tag("van".into())])
                .with_dwell_ms(10_000),
        )
        .unwrap();
    index
        .add_roaming_fence(RoamingFence::new("unplaced", "nobody", 50.0))
        .unwrap();
    index
        .upsert("a", &Kind::Driver, Fix::new(0.0, 179.9995, 0))
        .unwrap();
    for (i, lon) in [-179.9995, 179.999, -179.99, 179.0].into_iter().enumerate() {
        index
            .upsert(
                &format!("v{i}"),
                &Kind::Tag("van".into()),
                Fix::new(0.0, lon, 1_000),
            )
            .unwrap();
    }
    // Across the antimeridian: v0 (111 m) and v1 (56 m) in, v2 (~1.2 km) and v3 out.
    assert_eq!(
        index.fence_members("f").unwrap(),
        ["v0".into(), "v1".into()]
    );
    let bytes = snapshot::encode(&index);
    let mut back = snapshot::decode(&bytes, opts()).unwrap();
    assert_eq!(snapshot::encode(&back), bytes);
    assert_eq!(back.fence_members("f"), index.fence_members("f"));
    assert_eq!(back.roaming_fences(), index.roaming_fences());
    assert_eq!(
        back.roaming_fence_center("f"),
        index.roaming_fence_center("f")
    );
    // The same future: the anchor moves onto v2.
    for i in [&mut index, &mut back] {
        i.drain_events().count();
        i.upsert("a", &Kind::Driver, Fix::new(0.0, -179.99, 20_000))
            .unwrap();
    }
    let (a, b) = (events(&mut index), events(&mut back));
    assert_eq!(a, b);
    assert!(a.contains(&ev(FenceEventKind::Enter, "v2", "f")), "{a:?}");
    // Hostile variants of a snapshot with roaming state still give typed errors.
    for cut in 0..bytes.len() {
        assert!(snapshot::decode(&bytes[..cut], opts()).is_err());
    }
    for i in 0..bytes.len().saturating_sub(4) {
        let mut body = bytes[..bytes.len() - 4].to_vec();
        body[i] ^= 0x5a;
        let _ = snapshot::decode_unverified(&body, opts());
    }
}

#[derive(Debug, Clone)]
enum Op {
    Move(usize, f64, f64),
    Remove(usize),
}

fn coord() -> impl Strategy<Value = (f64, f64)> {
    // Near a few places, the antimeridian and the poles included.
    (
        prop::sample::select(vec![
            (0.0, 179.99),
            (0.0, -179.99),
            (89.99, 0.0),
            (-89.99, 120.0),
            (48.85, 2.35),
        ]),
        -3_000.0..3_000.0f64,
        -3_000.0..3_000.0f64,
    )
        .prop_map(|((lat, lon), dn, de)| {
            let lat = (lat + dn / 111_195.0).clamp(-90.0, 90.0);
            let cos = lat.to_radians().cos().max(1e-3);
            let mut lon = lon + de / (111_195.0 * cos);
            if lon > 180.0 {
                lon -= 360.0;
            }
            if lon < -180.0 {
                lon += 360.0;
            }
            (lat, lon.clamp(-180.0, 180.0))
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..12usize, coord()).prop_map(|(e, (lat, lon))| Op::Move(e, lat, lon)),
        1 => (0..12usize).prop_map(Op::Remove),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// After any sequence of moves and removals, every roaming fence's
    /// members are exactly the entities (of its kinds, not the anchor)
    /// within its radius of the anchor: a brute-force scan.
    #[test]
    fn members_equal_brute_force(
        ops in proptest::collection::vec(op(), 1..120),
        radii in proptest::collection::vec(50.0..4_000.0f64, 3),
    ) {
        let mut index = GeoIndex::new(opts());
        let kinds = [Kind::Driver, Kind::Rider];
        // Fences anchored on e0, e1 and e2; the second one for riders only.
        for (i, r) in radii.iter().enumerate() {
            let mut f = RoamingFence::new(format!("f{i}"), format!("e{i}"), *r);
            if i == 1 {
                f = f.with_kinds([Kind::Rider]);
            }
            index.add_roaming_fence(f).unwrap();
        }
        let mut model: BTreeMap<String, (Kind, LatLon)> = BTreeMap::new();
        for (t, op) in ops.iter().enumerate() {
            match op {
                Op::Move(e, lat, lon) => {
                    let id = format!("e{e}");
                    let kind = kinds[e % 2].clone();
                    index.upsert(&id, &kind, Fix::new(*lat, *lon, t as i64)).unwrap();
                    model.insert(id, (kind, LatLon::new(*lat, *lon).unwrap()));
                }
                Op::Remove(e) => {
                    let id = format!("e{e}");
                    prop_assert_eq!(index.remove(&id), model.remove(&id).is_some());
                }
            }
            for (i, r) in radii.iter().enumerate() {
                let anchor = format!("e{i}");
                let want: Vec<String> = match model.get(&anchor) {
                    None => Vec::new(),
                    Some((_, c)) => model
                        .iter()
                        .filter(|(id, (k, p))| {
                            **id != anchor && (i != 1 || *k == Kind::Rider) && distance_m(*c, *p) <= *r
                        })
                        .map(|(id, _)| id.clone())
                        .collect(),
                };
                let got: Vec<String> = index
                    .fence_members(&format!("f{i}"))
                    .unwrap()
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                prop_assert_eq!(got, want, "fence f{} after op {}", i, t);
            }
        }
        // Every Enter/Exit alternates per (entity, fence).
        let mut inside: BTreeMap<(String, String), bool> = BTreeMap::new();
        for e in index.drain_events() {
            let key = (e.entity.to_string(), e.fence.to_string());
            let was = inside.get(&key).copied().unwrap_or(false);
            match e.kind {
                FenceEventKind::Enter => prop_assert!(!was),
                FenceEventKind::Exit | FenceEventKind::Removed => prop_assert!(was),
                _ => {}
            }
            inside.insert(key, e.kind == FenceEventKind::Enter);
        }
    }
}
