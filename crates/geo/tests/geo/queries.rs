//! Every radius / box / kNN answer equals a brute-force scan, for random
//! points worldwide with extra weight on the antimeridian and polar caps.

use blocksmith_geo::{
    BBox, Fix, GeoIndex, GeoOptions, Hit, Kind, LatLon, MAX_DISTANCE_M, QueryFilter, distance_m,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn coord() -> impl Strategy<Value = (f64, f64)> {
    prop_oneof![
        4 => (-90.0..=90.0f64, -180.0..=180.0f64),
        2 => (85.0..=90.0f64, -180.0..=180.0f64),
        2 => (-90.0..=-85.0f64, -180.0..=180.0f64),
        2 => (-5.0..5.0f64, 179.0..=180.0f64),
        2 => (-5.0..5.0f64, -180.0..=-179.0f64),
        2 => (48.80..48.90f64, 2.30..2.40f64),
        1 => prop_oneof![
            Just((90.0, 0.0)),
            Just((90.0, 123.0)),
            Just((-90.0, 180.0)),
            Just((0.0, 180.0)),
            Just((0.0, -180.0)),
            Just((48.85, 2.35)),
            Just((89.999_999, -179.999_999)),
        ],
    ]
}

fn radius() -> impl Strategy<Value = f64> {
    prop_oneof![
        (0.0..7.5f64).prop_map(|e| 10f64.powf(e)), // 1 m to 30,000 km
        Just(0.0),
        Just(MAX_DISTANCE_M),
        Just(1_000.0),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Upsert {
        id: u16,
        kind: u8,
        at: (f64, f64),
        dt: i64,
    },
    Remove {
        id: u16,
    },
}

fn op(max_id: u16) -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..max_id, 0..3u8, coord(), 0..100_000i64)
            .prop_map(|(id, kind, at, dt)| Op::Upsert { id, kind, at, dt }),
        1 => (0..max_id).prop_map(|id| Op::Remove { id }),
    ]
}

fn kind(k: u8) -> Kind {
    match k {
        0 => Kind::Driver,
        1 => Kind::Rider,
        _ => Kind::Tag("scooter".into()),
    }
}

/// The model: every live entity's kind and fix.
struct Model {
    entities: BTreeMap<String, (Kind, Fix)>,
    clock: i64,
    ttl: Option<i64>,
}

impl Model {
    fn brute(
        &self,
        from: LatLon,
        keep: impl Fn(&Fix) -> bool,
        filter: &QueryFilter,
        limit: usize,
    ) -> Vec<(String, f64)> {
        let cutoff = match self.ttl {
            Some(t) if !filter.include_stale => self.clock.saturating_sub(t),
            _ => i64::MIN,
        };
        let mut v: Vec<(String, f64)> = self
            .entities
            .iter()
            .filter(|(_, (k, f))| {
                f.ts_ms >= cutoff
                    && (filter.kinds.is_empty() || filter.kinds.contains(k))
                    && keep(f)
            })
            .map(|(id, (_, f))| (id.clone(), distance_m(from, f.position())))
            .collect();
        v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        v.truncate(limit);
        v
    }
}

fn ids(hits: &[Hit]) -> Vec<(String, f64)> {
    hits.iter()
        .map(|h| (h.id.to_string(), h.distance_m))
        .collect()
}

fn build(ops: &[Op], cell: f64, ttl: Option<i64>) -> (GeoIndex, Model) {
    let options = GeoOptions::default()
        .with_cell_size_m(cell)
        .with_ttl_ms(ttl)
        .with_max_speed_mps(None);
    let mut index = GeoIndex::new(options);
    let mut model = Model {
        entities: BTreeMap::new(),
        clock: i64::MIN,
        ttl,
    };
    let mut t = 0i64;
    for op in ops {
        match op {
            Op::Upsert {
                id,
                kind: k,
                at,
                dt,
            } => {
                t += dt;
                let id = format!("e{id}");
                let fix = Fix::new(at.0, at.1, t);
                let out = index.upsert(&id, &kind(*k), fix).unwrap();
                assert!(out.is_accepted(), "{out:?}");
                model.entities.insert(id, (kind(*k), fix));
                model.clock = model.clock.max(t);
            }
            Op::Remove { id } => {
                let id = format!("e{id}");
                assert_eq!(index.remove(&id), model.entities.remove(&id).is_some());
            }
        }
    }
    assert_eq!(index.len(), model.entities.len());
    (index, model)
}

fn filter() -> impl Strategy<Value = QueryFilter> {
    (0..5u8, any::<bool>()).prop_map(|(k, stale)| {
        let f = QueryFilter::new().with_stale(stale);
        match k {
            0 => f.with_kind(Kind::Driver),
            1 => f
                .with_kind(Kind::Rider)
                .with_kind(Kind::Tag("scooter".into())),
            2 => f.with_kind(Kind::Tag("never-seen".into())),
            _ => f,
        }
    })
}

fn cell() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(10.0),
        Just(250.0),
        Just(5_000.0),
        Just(200_000.0),
        Just(1_000_000.0)
    ]
}

/// `PROPTEST_CASES` raises the case count for long runs.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(300), ..ProptestConfig::default() })]

    #[test]
    fn radius_and_knn_equal_brute_force(
        ops in proptest::collection::vec(op(150), 1..250),
        cell in cell(),
        ttl in prop_oneof![Just(None), (0..5_000_000i64).prop_map(Some)],
        queries in proptest::collection::vec((coord(), radius(), prop_oneof![1..20usize, Just(usize::MAX)], filter()), 1..12),
    ) {
        let (index, model) = build(&ops, cell, ttl);
        for ((lat, lon), r, limit, f) in queries {
            let c = LatLon::new(lat, lon).unwrap();
            let got = index.radius(c, r, limit, &f).unwrap();
            let want = model.brute(c, |p| distance_m(c, p.position()) <= r, &f, limit);
            prop_assert_eq!(ids(&got), want.clone(), "radius {} at {:?} limit {}", r, (lat, lon), limit);
            for h in &got {
                prop_assert_eq!(h.fix, model.entities[&*h.id].1);
            }
            let k = limit.min(50);
            let got = index.nearest(c, k, None, &f).unwrap();
            let want = model.brute(c, |_| true, &f, k);
            prop_assert_eq!(ids(&got), want, "knn {} at {:?}", k, (lat, lon));
            let got = index.nearest(c, k, Some(r), &f).unwrap();
            let want = model.brute(c, |p| distance_m(c, p.position()) <= r, &f, k);
            prop_assert_eq!(ids(&got), want, "knn {} within {} at {:?}", k, r, (lat, lon));
            let n = index.count_within(c, r, &f).unwrap();
            let want = model.brute(c, |p| distance_m(c, p.position()) <= r, &f, usize::MAX);
            prop_assert_eq!(n, want.len());
        }
    }

    #[test]
    fn bbox_equals_brute_force(
        ops in proptest::collection::vec(op(150), 1..250),
        cell in cell(),
        boxes in proptest::collection::vec((coord(), coord(), prop_oneof![1..20usize, Just(usize::MAX)], filter()), 1..12),
    ) {
        let (index, model) = build(&ops, cell, None);
        for ((a_lat, a_lon), (b_lat, b_lon), limit, f) in boxes {
            let (s, n) = if a_lat <= b_lat { (a_lat, b_lat) } else { (b_lat, a_lat) };
            // a_lon > b_lon gives a box wrapping the antimeridian.
            let bbox = BBox::new(s, a_lon, n, b_lon).unwrap();
            let c = bbox.center();
            let got = index.bbox(bbox, limit, &f);
            let want = model.brute(c, |p| bbox.contains(p.lat, p.lon), &f, limit);
            prop_assert_eq!(ids(&got), want, "box {:?}", bbox);
        }
    }
}

#[test]
fn antimeridian_and_pole_neighbours_are_found() {
    let mut index = GeoIndex::new(GeoOptions::default());
    let t = 1;
    index
        .upsert("east", &Kind::Asset, Fix::new(10.0, 179.9995, t))
        .unwrap();
    index
        .upsert("west", &Kind::Asset, Fix::new(10.0, -179.9995, t))
        .unwrap();
    index
        .upsert("far", &Kind::Asset, Fix::new(10.0, 179.9, t))
        .unwrap();
    // 30 m from the pole, on the other side of it.
    index
        .upsert("pole-a", &Kind::Asset, Fix::new(89.9997, 0.0, t))
        .unwrap();
    index
        .upsert("pole-b", &Kind::Asset, Fix::new(89.9997, 180.0, t))
        .unwrap();
    let all = QueryFilter::new();
    let near_east = index
        .radius(LatLon::new(10.0, 179.9995).unwrap(), 200.0, 10, &all)
        .unwrap();
    let got: Vec<&str> = near_east.iter().map(|h| &*h.id).collect();
    assert_eq!(got, ["east", "west"]);
    assert!(
        (near_east[1].distance_m - 109.5).abs() < 0.5,
        "{}",
        near_east[1].distance_m
    );
    let polar = index
        .nearest(LatLon::new(89.9997, 0.0).unwrap(), 2, Some(100.0), &all)
        .unwrap();
    let got: Vec<&str> = polar.iter().map(|h| &*h.id).collect();
    assert_eq!(got, ["pole-a", "pole-b"]);
    assert!(
        (polar[1].distance_m - 66.7).abs() < 0.2,
        "{}",
        polar[1].distance_m
    );
    // -180 and 180 are the same meridian: boxes ending at either see both.
    index
        .upsert("m180", &Kind::Asset, Fix::new(0.0, -180.0, t))
        .unwrap();
    index
        .upsert("p180", &Kind::Asset, Fix::new(0.0, 180.0, t))
        .unwrap();
    for (w, e, want) in [
        (179.0, -180.0, 2),
        (179.0, 180.0, 1),
        (-180.0, -179.0, 1),
        (180.0, -179.0, 2),
    ] {
        let b = BBox::new(0.0, w, 0.0, e).unwrap();
        assert_eq!(index.bbox(b, 10, &all).len(), want, "{w} {e}");
    }
    assert_eq!(
        index
            .radius(LatLon::new(0.0, 180.0).unwrap(), 0.0, 10, &all)
            .unwrap()
            .len(),
        2
    );
    index.remove("m180");
    index.remove("p180");
    let wrap = BBox::new(9.0, 179.99, 11.0, -179.99).unwrap();
    let got: Vec<String> = index
        .bbox(wrap, 10, &all)
        .iter()
        .map(|h| h.id.to_string())
        .collect();
    assert_eq!(got.len(), 2);
    assert!(got.contains(&"east".to_string()) && got.contains(&"west".to_string()));
}

#[test]
fn distance_agrees_with_geo_haversine() {
    use geo::{Distance, Haversine, Point};
    let pairs = [
        ((48.8566, 2.3522), (51.5074, -0.1278)),
        ((0.0, 179.9), (0.0, -179.9)),
        ((89.0, 0.0), (89.0, 180.0)),
        ((-33.87, 151.21), (40.71, -74.0)),
        ((10.0, 10.0), (10.000_001, 10.0)),
    ];
    for ((a0, a1), (b0, b1)) in pairs {
        let ours = distance_m(LatLon::new(a0, a1).unwrap(), LatLon::new(b0, b1).unwrap());
        let theirs = Haversine.distance(Point::new(a1, a0), Point::new(b1, b0));
        assert!(
            (ours - theirs).abs() <= 1e-6 * theirs.max(1.0),
            "{ours} vs {theirs}"
        );
    }
}

#[test]
fn invalid_queries_are_typed_errors() {
    let index = GeoIndex::default();
    assert!(LatLon::new(f64::NAN, 0.0).is_err());
    assert!(LatLon::new(0.0, 180.000_001).is_err());
    let c = LatLon::new(0.0, 0.0).unwrap();
    assert!(index.radius(c, -1.0, 10, &QueryFilter::new()).is_err());
    assert!(index.radius(c, f64::NAN, 10, &QueryFilter::new()).is_err());
    assert!(BBox::new(10.0, 0.0, 5.0, 1.0).is_err());
    assert!(
        index
            .radius(c, f64::INFINITY, 10, &QueryFilter::new())
            .unwrap()
            .is_empty()
    );
}
