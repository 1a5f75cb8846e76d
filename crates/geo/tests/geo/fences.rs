//! Geofence Enter / Exit / Dwell, holes, kinds, accuracy gating, removal.

use blocksmith_geo::geo::{LineString, MultiPolygon, Polygon, polygon};
use blocksmith_geo::{
    Error, Fence, FenceEvent, FenceEventKind, Fix, GeoIndex, GeoOptions, Kind, LatLon,
};
use proptest::prelude::*;

fn events(index: &mut GeoIndex) -> Vec<(FenceEventKind, String, String)> {
    index
        .drain_events()
        .map(|e: FenceEvent| (e.kind, e.entity.to_string(), e.fence.to_string()))
        .collect()
}

/// A square 0..1 x 0..1 degrees with a hole 0.4..0.6.
fn donut() -> Polygon<f64> {
    Polygon::new(
        LineString::from(vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]),
        vec![LineString::from(vec![
            (0.4, 0.4),
            (0.6, 0.4),
            (0.6, 0.6),
            (0.4, 0.6),
        ])],
    )
}

fn opts() -> GeoOptions {
    GeoOptions::default().with_max_speed_mps(None)
}

#[test]
fn enter_exit_through_a_hole_and_dwell() {
    use FenceEventKind::{Dwell, Enter, Exit};
    let mut index = GeoIndex::new(opts());
    index
        .add_fence(Fence::new("donut", donut()).with_dwell_ms(10_000))
        .unwrap();
    let k = Kind::Driver;
    let ev = |k: FenceEventKind| (k, "car".to_string(), "donut".to_string());
    index.upsert("car", &k, Fix::new(-0.5, -0.5, 0)).unwrap(); // outside
    assert!(events(&mut index).is_empty());
    index.upsert("car", &k, Fix::new(0.2, 0.2, 1_000)).unwrap(); // in the ring
    assert_eq!(events(&mut index), [ev(Enter)]);
    index.upsert("car", &k, Fix::new(0.3, 0.3, 5_000)).unwrap(); // still in, 4 s
    assert!(events(&mut index).is_empty());
    index.upsert("car", &k, Fix::new(0.5, 0.5, 6_000)).unwrap(); // in the hole: out
    assert_eq!(events(&mut index), [ev(Exit)]);
    index.upsert("car", &k, Fix::new(0.7, 0.7, 7_000)).unwrap(); // back in the ring
    assert_eq!(events(&mut index), [ev(Enter)]);
    index.upsert("car", &k, Fix::new(0.8, 0.8, 16_000)).unwrap(); // 9 s since re-entry
    assert!(events(&mut index).is_empty());
    index.upsert("car", &k, Fix::new(0.8, 0.8, 17_000)).unwrap(); // 10 s: dwell, once
    assert_eq!(events(&mut index), [ev(Dwell)]);
    index.upsert("car", &k, Fix::new(0.8, 0.8, 30_000)).unwrap();
    assert!(events(&mut index).is_empty());
    assert_eq!(
        index.get("car").unwrap().fences,
        vec![("donut".into(), 7_000)]
    );
    assert_eq!(index.fence_members("donut").unwrap(), vec!["car".into()]);
    index.upsert("car", &k, Fix::new(2.0, 2.0, 31_000)).unwrap();
    assert_eq!(events(&mut index), [ev(Exit)]);
    assert!(index.fence_members("donut").unwrap().is_empty());
    assert_eq!(index.stats().events, 5);
}

#[test]
fn dwell_from_the_clock_without_fixes() {
    let mut index = GeoIndex::new(opts());
    index
        .add_fence(Fence::new("lot", donut()).with_dwell_ms(60_000))
        .unwrap();
    index
        .upsert("a", &Kind::Asset, Fix::new(0.1, 0.1, 0))
        .unwrap();
    index
        .upsert("b", &Kind::Asset, Fix::new(0.1, 0.9, 30_000))
        .unwrap();
    events(&mut index);
    index.advance_clock(59_999);
    assert!(events(&mut index).is_empty());
    index.advance_clock(60_000);
    assert_eq!(
        events(&mut index),
        [(FenceEventKind::Dwell, "a".into(), "lot".into())]
    );
    index.advance_clock(1_000_000);
    assert_eq!(
        events(&mut index),
        [(FenceEventKind::Dwell, "b".into(), "lot".into())]
    );
    index.advance_clock(2_000_000);
    assert!(events(&mut index).is_empty());
}

#[test]
fn kinds_accuracy_gating_and_overlaps() {
    let mut index = GeoIndex::new(opts());
    let square = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 1.0)];
    index
        .add_fence(Fence::new("drivers-only", square.clone()).with_kinds([Kind::Driver]))
        .unwrap();
    index.add_fence(Fence::new("everyone", square)).unwrap();
    index
        .upsert("r", &Kind::Rider, Fix::new(0.5, 0.5, 0))
        .unwrap();
    assert_eq!(
        events(&mut index),
        [(FenceEventKind::Enter, "r".into(), "everyone".into())]
    );
    // A poor fix inside: stored and flagged, fence state untouched.
    index
        .upsert(
            "d",
            &Kind::Driver,
            Fix::new(0.5, 0.5, 0).with_accuracy(500.0),
        )
        .unwrap();
    assert!(events(&mut index).is_empty());
    let info = index.get("d").unwrap();
    assert!(info.low_accuracy && info.fences.is_empty());
    assert_eq!(index.stats().low_accuracy, 1);
    index
        .upsert("d", &Kind::Driver, Fix::new(0.5, 0.5, 1).with_accuracy(5.0))
        .unwrap();
    let mut got = events(&mut index);
    got.sort();
    assert_eq!(
        got,
        [
            (FenceEventKind::Enter, "d".into(), "drivers-only".into()),
            (FenceEventKind::Enter, "d".into(), "everyone".into())
        ]
    );
    // A poor fix outside does not exit.
    index
        .upsert(
            "d",
            &Kind::Driver,
            Fix::new(5.0, 5.0, 100_000).with_accuracy(900.0),
        )
        .unwrap();
    assert!(events(&mut index).is_empty());
    assert_eq!(index.get("d").unwrap().fences.len(), 2);
    let here = LatLon::new(0.5, 0.5).unwrap();
    assert_eq!(
        index.fences_containing(here, Some(&Kind::Rider)),
        vec!["everyone".into()]
    );
    assert_eq!(index.fences_containing(here, None).len(), 2);
}

#[test]
fn removal_and_eviction_emit_removed_and_fence_removal_clears_state() {
    let mut index = GeoIndex::new(opts().with_ttl_ms(Some(1_000)));
    index.add_fence(Fence::new("f", donut())).unwrap();
    index.add_fence(Fence::new("g", donut())).unwrap();
    index
        .upsert("a", &Kind::Driver, Fix::new(0.1, 0.1, 0))
        .unwrap();
    index
        .upsert("b", &Kind::Driver, Fix::new(0.1, 0.2, 0))
        .unwrap();
    index
        .upsert("c", &Kind::Driver, Fix::new(0.2, 0.2, 5_000))
        .unwrap();
    events(&mut index);
    assert!(index.remove("a"));
    assert!(!index.remove("a"));
    let mut got = events(&mut index);
    got.sort();
    assert_eq!(
        got,
        [
            (FenceEventKind::Removed, "a".into(), "f".into()),
            (FenceEventKind::Removed, "a".into(), "g".into())
        ]
    );
    // b is stale (5 s behind the clock with a 1 s TTL).
    assert!(index.get("b").unwrap().stale);
    assert_eq!(index.evict_stale(), vec!["b".into()]);
    assert_eq!(events(&mut index).len(), 2);
    assert_eq!(index.len(), 1);
    assert!(index.remove_fence("f").is_some());
    assert!(index.remove_fence("f").is_none());
    assert_eq!(index.get("c").unwrap().fences, vec![("g".into(), 5_000)]);
    // Slot reuse: a new fence takes f's slot and starts empty.
    index.add_fence(Fence::new("h", donut())).unwrap();
    assert!(index.fence_members("h").unwrap().is_empty());
    index
        .upsert("c", &Kind::Driver, Fix::new(0.2, 0.2, 6_000))
        .unwrap();
    assert_eq!(
        events(&mut index),
        [(FenceEventKind::Enter, "c".into(), "h".into())]
    );
}

#[test]
fn antimeridian_fence() {
    let mut index = GeoIndex::new(opts());
    // 179.5 E to 179.5 W written as 179.5 .. 180.5.
    let fiji = polygon![(x: 179.5, y: -17.0), (x: 180.5, y: -17.0), (x: 180.5, y: -16.0), (x: 179.5, y: -16.0)];
    index.add_fence(Fence::new("fiji", fiji)).unwrap();
    index
        .upsert("boat", &Kind::Asset, Fix::new(-16.5, -179.8, 0))
        .unwrap();
    assert_eq!(events(&mut index).len(), 1);
    index
        .upsert("boat", &Kind::Asset, Fix::new(-16.5, 179.8, 1))
        .unwrap();
    assert!(events(&mut index).is_empty());
    index
        .upsert("boat", &Kind::Asset, Fix::new(-16.5, 179.0, 2))
        .unwrap();
    assert_eq!(events(&mut index)[0].0, FenceEventKind::Exit);
}

#[test]
fn bad_fences_are_typed_errors() {
    let mut index = GeoIndex::default();
    let line = Polygon::new(LineString::from(vec![(0.0, 0.0), (1.0, 1.0)]), vec![]);
    assert!(matches!(
        index.add_fence(Fence::new("x", line)),
        Err(Error::InvalidFence { .. })
    ));
    let nan = polygon![(x: 0.0, y: 0.0), (x: f64::NAN, y: 0.0), (x: 1.0, y: 1.0)];
    assert!(matches!(
        index.add_fence(Fence::new("x", nan)),
        Err(Error::InvalidFence { .. })
    ));
    let lat = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 91.0), (x: 1.0, y: 1.0)];
    assert!(index.add_fence(Fence::new("x", lat)).is_err());
    let wide = polygon![(x: -200.0, y: 0.0), (x: 200.0, y: 0.0), (x: 0.0, y: 1.0)];
    assert!(index.add_fence(Fence::new("x", wide)).is_err());
    assert!(
        index
            .add_fence(Fence::new("x", MultiPolygon::<f64>(vec![])))
            .is_err()
    );
    assert!(index.add_fence(Fence::new("", donut())).is_err());
    assert!(
        index
            .add_fence(Fence::new("x", donut()).with_dwell_ms(-1))
            .is_err()
    );
    index.add_fence(Fence::new("x", donut())).unwrap();
    assert!(matches!(
        index.add_fence(Fence::new("x", donut())),
        Err(Error::DuplicateFence { .. })
    ));
    assert_eq!(index.fence_count(), 1);
}

proptest! {
    /// Events replayed from the start reproduce exactly the membership the
    /// index reports, for random walks over overlapping random fences.
    #[test]
    fn events_track_membership(
        fences in proptest::collection::vec((0.0..0.9f64, 0.0..0.9f64, 0.05..0.5f64, any::<bool>()), 1..8),
        walk in proptest::collection::vec((0..4u8, 0.0..1.0f64, 0.0..1.0f64), 1..80),
    ) {
        let mut index = GeoIndex::new(opts());
        for (i, (x, y, s, hole)) in fences.iter().enumerate() {
            let ext = LineString::from(vec![(*x, *y), (x + s, *y), (x + s, y + s), (*x, y + s)]);
            let holes = if *hole {
                let (a, b) = (x + s * 0.25, y + s * 0.25);
                vec![LineString::from(vec![(a, b), (a + s * 0.5, b), (a + s * 0.5, b + s * 0.5), (a, b + s * 0.5)])]
            } else { vec![] };
            index.add_fence(Fence::new(format!("f{i}"), Polygon::new(ext, holes))).unwrap();
        }
        let mut inside = std::collections::BTreeSet::new();
        for (t, (who, lat, lon)) in walk.into_iter().enumerate() {
            let id = format!("e{who}");
            index.upsert(&id, &Kind::Driver, Fix::new(lat, lon, t as i64)).unwrap();
            for e in index.drain_events() {
                let pair = (e.entity.to_string(), e.fence.to_string());
                match e.kind {
                    FenceEventKind::Enter => prop_assert!(inside.insert(pair)),
                    FenceEventKind::Exit => prop_assert!(inside.remove(&pair)),
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
            }
            // Membership equals a direct containment test of each fence.
            let e = index.get(&id).unwrap();
            for f in index.fences() {
                let want = f.contains_point(lat, lon);
                prop_assert_eq!(e.fences.iter().any(|(n, _)| *n == f.id), want);
                prop_assert_eq!(inside.contains(&(id.clone(), f.id.to_string())), want);
            }
        }
    }
}

/// Fences from (lat, lon) rings equal the (lon, lat) `geo` polygons, holes
/// included, and reject what is not a coordinate.
#[test]
fn fences_from_lat_lon_rings() {
    let outer = [(48.99, 2.50), (48.99, 2.60), (49.03, 2.60), (49.03, 2.50)];
    let hole = [
        (48.995, 2.505),
        (48.995, 2.525),
        (49.005, 2.525),
        (49.005, 2.505),
    ];
    let swap = |r: &[(f64, f64)]| -> LineString<f64> {
        r.iter()
            .map(|&(lat, lon)| (lon, lat))
            .collect::<Vec<_>>()
            .into()
    };
    let fence =
        Fence::from_lat_lon("cdg", [&outer[..], &hole[..]].map(|r| r.iter().copied())).unwrap();
    assert_eq!(
        fence,
        Fence::new("cdg", Polygon::new(swap(&outer), vec![swap(&hole)]))
    );
    assert!(fence.contains_point(49.02, 2.55));
    assert!(!fence.contains_point(49.0, 2.51)); // in the hole
    let mut index = GeoIndex::new(GeoOptions::default());
    index.add_fence(fence).unwrap();
    index
        .upsert("d1", &Kind::Driver, Fix::new(49.02, 2.55, 1_000))
        .unwrap();
    assert_eq!(
        events(&mut index),
        [(FenceEventKind::Enter, "d1".into(), "cdg".into())]
    );
    for bad in [(91.0, 2.0), (48.0, 361.0), (f64::NAN, 2.0)] {
        assert!(matches!(
            Fence::from_lat_lon("x", [[bad, (48.0, 2.0), (49.0, 2.0)]]),
            Err(Error::InvalidCoordinate { .. })
        ));
    }
    // No ring at all is refused when the fence is added.
    let empty = Fence::from_lat_lon("e", std::iter::empty::<[(f64, f64); 0]>()).unwrap();
    assert!(index.add_fence(empty).is_err());
}
