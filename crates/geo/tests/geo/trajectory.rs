//! Trajectories: retention, Douglas-Peucker, encoded polylines.

use blocksmith_geo::{
    Error, Fix, GeoIndex, GeoOptions, HistoryOptions, Kind, TrackPoint, Trajectory, polyline,
};
use proptest::prelude::*;

#[test]
fn google_spec_example() {
    // https://developers.google.com/maps/documentation/utilities/polylinealgorithm
    let pts = [(38.5, -120.2), (40.7, -120.95), (43.252, -126.453)];
    assert_eq!(
        polyline::encode(&pts, 5).unwrap(),
        "_p~iF~ps|U_ulLnnqC_mqNvxq`@"
    );
    assert_eq!(
        polyline::decode("_p~iF~ps|U_ulLnnqC_mqNvxq`@", 5).unwrap(),
        pts
    );
    // The spec's single-value example: -179.9832104 -> `~oia@`.
    let s = polyline::encode(&[(0.0, -179.983_210_4)], 5).unwrap();
    assert_eq!(&s[1..], "`~oia@");
    assert_eq!(polyline::encode(&[], 5).unwrap(), "");
    assert!(polyline::decode("", 5).unwrap().is_empty());
}

#[test]
fn polyline_errors_are_typed() {
    let p = |s: &str| polyline::decode(s, 5);
    assert!(matches!(
        p("_p~iF"),
        Err(Error::Polyline {
            reason: "latitude without a longitude",
            ..
        })
    ));
    assert!(matches!(
        p("_p~iF~ps|"),
        Err(Error::Polyline {
            reason: "value cut short",
            ..
        })
    ));
    assert!(matches!(
        p("_p~iF ps|U"),
        Err(Error::Polyline { offset: 5, .. })
    ));
    assert!(matches!(
        p("~~~~~~~~~~~~~~~~~~?"),
        Err(Error::Polyline { .. })
    ));
    // 91 degrees of latitude.
    let s = polyline::encode(&[(45.0, 0.0), (46.0, 0.0)], 5).unwrap();
    let twice = format!("{s}{}", &s[s.len() / 2..]);
    let _ = polyline::decode(&twice, 5); // valid or typed error, never a panic
    let over =
        polyline::encode(&[(90.0, 0.0)], 5).unwrap() + &polyline::encode(&[(1.0, 0.0)], 5).unwrap();
    assert!(matches!(
        polyline::decode(&over, 5),
        Err(Error::Polyline {
            reason: "decoded coordinate out of range",
            ..
        })
    ));
    assert!(polyline::encode(&[(f64::NAN, 0.0)], 5).is_err());
    assert!(polyline::encode(&[(0.0, 0.0)], 8).is_err());
}

proptest! {
    #[test]
    fn polyline_round_trip(
        pts in proptest::collection::vec((-90.0..=90.0f64, -180.0..=180.0f64), 0..50),
        precision in 0..=7u32,
    ) {
        let s = polyline::encode(&pts, precision).unwrap();
        let back = polyline::decode(&s, precision).unwrap();
        prop_assert_eq!(back.len(), pts.len());
        let f = 10f64.powi(precision as i32);
        for (a, b) in pts.iter().zip(&back) {
            prop_assert!((a.0 - b.0).abs() <= 0.5 / f + 1e-9 && (a.1 - b.1).abs() <= 0.5 / f + 1e-9);
        }
        // Decoding what we encode and re-encoding is the identity.
        prop_assert_eq!(polyline::encode(&back, precision).unwrap(), s);
    }

    #[test]
    fn polyline_decoder_never_panics(s in "[\\x00-\\x7f]{0,64}", precision in 0..10u32) {
        let _ = polyline::decode(&s, precision);
    }

    #[test]
    fn polyline_decoder_survives_printable_garbage(s in "[?-~]{0,64}") {
        if let Ok(pts) = polyline::decode(&s, 5) {
            for (lat, lon) in pts {
                prop_assert!(lat.abs() <= 90.0 && lon.abs() <= 180.0);
            }
        }
    }
}

fn tp(ts: i64, lat: f64, lon: f64) -> TrackPoint {
    TrackPoint {
        ts_ms: ts,
        lat,
        lon,
    }
}

/// Points along a parallel with sideways offsets of `amp_m` metres.
fn zigzag(lat0: f64, lon0: f64, amp_m: f64, n: i64) -> Vec<TrackPoint> {
    let dlat = amp_m / 111_195.0;
    (0..n)
        .map(|i| {
            let off = if i % 2 == 0 { 0.0 } else { dlat };
            tp(i, lat0 + off, lon0 + i as f64 * 0.001)
        })
        .collect()
}

#[test]
fn douglas_peucker_in_metres() {
    let t = Trajectory::new(zigzag(45.0, 7.0, 10.0, 21)).unwrap();
    assert_eq!(t.simplify(4.0).len(), 21);
    assert_eq!(t.simplify(20.0).len(), 2);
    assert_eq!(t.simplify(0.0).len(), 21);
    let s = t.simplify(20.0);
    assert_eq!(s.points()[0], t.points()[0]);
    assert_eq!(s.points()[1], t.points()[20]);
    // A right-angle corner survives any tolerance smaller than the legs.
    let corner: Vec<_> = (0..10)
        .map(|i| tp(i, 45.0, 7.0 + i as f64 * 0.001))
        .chain((1..10).map(|i| tp(10 + i, 45.0 + i as f64 * 0.001, 7.009)))
        .collect();
    let s = Trajectory::new(corner).unwrap().simplify(10.0);
    assert_eq!(s.len(), 3);
    assert_eq!(s.points()[1].lon, 7.009);
    assert_eq!(s.points()[1].lat, 45.0);
}

#[test]
fn simplification_across_the_antimeridian_and_over_the_pole() {
    // A straight line along the equator through 180 degrees.
    let pts: Vec<_> = (0..21)
        .map(|i| {
            let mut lon = 179.99 + f64::from(i) * 0.001;
            if lon > 180.0 {
                lon -= 360.0;
            }
            tp(i64::from(i), 0.0, lon)
        })
        .collect();
    assert_eq!(Trajectory::new(pts).unwrap().simplify(1.0).len(), 2);
    // Along meridian 0 up to the pole and down meridian 180: a great circle.
    let pts: Vec<_> = (0..10)
        .map(|i| tp(i, 89.99 + i as f64 * 0.001, 0.0))
        .chain((0..10).map(|i| tp(10 + i, 90.0 - i as f64 * 0.001, 180.0)))
        .collect();
    let t = Trajectory::new(pts).unwrap();
    assert_eq!(t.simplify(1.0).len(), 2);
    assert!(
        (t.length_m() - 0.019 * 111_195.0).abs() < 1.0,
        "{}",
        t.length_m()
    );
    // A 30 m zigzag 11 km from the pole, across the antimeridian (steps of
    // 0.1 degree of longitude are 19 m there) keeps every corner.
    let pts: Vec<_> = (0..11)
        .map(|i| {
            let lat = if i % 2 == 0 {
                89.9
            } else {
                89.9 + 30.0 / 111_195.0
            };
            let mut lon = 179.5 + f64::from(i) * 0.1;
            if lon > 180.0 {
                lon -= 360.0;
            }
            tp(i64::from(i), lat, lon)
        })
        .collect();
    let t = Trajectory::new(pts).unwrap();
    assert_eq!(t.simplify(5.0).len(), 11);
    assert_eq!(t.simplify(40.0).len(), 2);
}

#[test]
fn long_trajectories_are_simplified_in_stretches() {
    // Paris to Tokyo in 1 degree steps of longitude along a parallel: no
    // panic, endpoints kept, every kept point is an original point.
    let pts: Vec<_> = (0..138).map(|i| tp(i, 45.0, 2.0 + i as f64)).collect();
    let t = Trajectory::new(pts).unwrap();
    let s = t.simplify(1_000.0);
    assert!(s.len() >= 2 && s.len() < t.len());
    assert_eq!(s.points().first(), t.points().first());
    assert_eq!(s.points().last(), t.points().last());
    assert!(s.points().iter().all(|p| t.points().contains(p)));
}

#[test]
fn invalid_trajectories_are_rejected() {
    assert!(Trajectory::new(vec![tp(2, 0.0, 0.0), tp(1, 0.0, 0.0)]).is_err());
    assert!(Trajectory::new(vec![tp(1, 91.0, 0.0)]).is_err());
}

#[test]
fn index_history_with_retention() {
    let h = HistoryOptions::default()
        .with_max_points(5)
        .with_max_age_ms(Some(10_000));
    let mut index = GeoIndex::new(GeoOptions::default().with_history(Some(h)));
    for i in 0..8 {
        index
            .upsert(
                "bus",
                &Kind::Asset,
                Fix::new(45.0, 7.0 + f64::from(i) * 0.0001, i64::from(i) * 1_000),
            )
            .unwrap();
    }
    let t = index.trajectory("bus").unwrap();
    assert_eq!(
        t.points().iter().map(|p| p.ts_ms).collect::<Vec<_>>(),
        [3_000, 4_000, 5_000, 6_000, 7_000]
    );
    index
        .upsert("bus", &Kind::Asset, Fix::new(45.0, 7.001, 15_500))
        .unwrap();
    let t = index.trajectory("bus").unwrap();
    assert_eq!(
        t.points().iter().map(|p| p.ts_ms).collect::<Vec<_>>(),
        [6_000, 7_000, 15_500]
    );
    // Rejected and out-of-order fixes are not history.
    index
        .upsert("bus", &Kind::Asset, Fix::new(45.0, 7.001, 1))
        .unwrap();
    index
        .upsert("bus", &Kind::Asset, Fix::new(10.0, 7.001, 15_600))
        .unwrap();
    assert_eq!(index.trajectory("bus").unwrap().len(), 3);
    let line = index.trajectory("bus").unwrap().to_polyline(5).unwrap();
    assert_eq!(polyline::decode(&line, 5).unwrap().len(), 3);
    // Without history options the trail stays empty.
    let mut plain = GeoIndex::default();
    plain
        .upsert("x", &Kind::Asset, Fix::new(0.0, 0.0, 0))
        .unwrap();
    assert!(plain.trajectory("x").unwrap().is_empty());
    assert!(plain.trajectory("nobody").is_none());
}
