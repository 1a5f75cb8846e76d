//! Upsert validation: out-of-order, impossible jumps, invalid input,
//! staleness and eviction, batches.

use blocksmith_geo::{
    Error, Fix, GeoIndex, GeoOptions, Kind, LatLon, Outcome, QueryFilter, Rejection, Update,
};

#[test]
fn out_of_order_fixes_are_ignored_and_counted() {
    let mut index = GeoIndex::default();
    assert_eq!(
        index
            .upsert("a", &Kind::Driver, Fix::new(1.0, 1.0, 100))
            .unwrap(),
        Outcome::Inserted
    );
    let out = index
        .upsert("a", &Kind::Driver, Fix::new(1.0001, 1.0, 99))
        .unwrap();
    assert_eq!(out, Outcome::OutOfOrder { stored_ts_ms: 100 });
    assert_eq!(index.get("a").unwrap().fix.lat, 1.0);
    // Equal time, same place: accepted.
    assert_eq!(
        index
            .upsert("a", &Kind::Driver, Fix::new(1.0, 1.0, 100))
            .unwrap(),
        Outcome::Moved
    );
    assert_eq!(index.stats().out_of_order, 1);
}

#[test]
fn impossible_jumps_are_rejected_with_the_numbers() {
    let mut index = GeoIndex::new(GeoOptions::default().with_max_speed_mps(Some(50.0)));
    index
        .upsert("a", &Kind::Driver, Fix::new(0.0, 0.0, 0))
        .unwrap();
    // 1.11 km in 10 s = 106 m/s beyond the 50 m tolerance.
    let out = index
        .upsert("a", &Kind::Driver, Fix::new(0.01, 0.0, 10_000))
        .unwrap();
    let Outcome::Rejected(Rejection::ImpossibleJump {
        distance_m,
        elapsed_ms,
        implied_speed_mps,
        limit_mps,
    }) = out
    else {
        panic!("{out:?}")
    };
    assert!((distance_m - 1111.95).abs() < 0.1, "{distance_m}");
    assert_eq!(elapsed_ms, 10_000);
    assert!(
        (implied_speed_mps - 106.2).abs() < 0.1,
        "{implied_speed_mps}"
    );
    assert_eq!(limit_mps, 50.0);
    assert!(out.to_string_lossy().contains("impossible jump"));
    assert_eq!(index.get("a").unwrap().fix.ts_ms, 0);
    // The same place 30 s later is plausible (37 m/s).
    assert_eq!(
        index
            .upsert("a", &Kind::Driver, Fix::new(0.01, 0.0, 30_000))
            .unwrap(),
        Outcome::Moved
    );
    // Jitter within the tolerance at the same instant is fine; beyond is not.
    assert_eq!(
        index
            .upsert("a", &Kind::Driver, Fix::new(0.0102, 0.0, 30_000))
            .unwrap(),
        Outcome::Moved
    );
    assert!(matches!(
        index.upsert("a", &Kind::Driver, Fix::new(0.02, 0.0, 30_000)).unwrap(),
        Outcome::Rejected(Rejection::ImpossibleJump { implied_speed_mps, .. }) if implied_speed_mps.is_infinite()
    ));
    // Reported accuracy widens the tolerance.
    assert_eq!(
        index
            .upsert(
                "a",
                &Kind::Driver,
                Fix::new(0.02, 0.0, 30_000).with_accuracy(1_500.0)
            )
            .unwrap(),
        Outcome::Moved
    );
    assert_eq!(index.stats().rejected_jumps, 2);
}

trait Lossy {
    fn to_string_lossy(&self) -> String;
}
impl Lossy for Outcome {
    fn to_string_lossy(&self) -> String {
        match self {
            Outcome::Rejected(r) => r.to_string(),
            other => format!("{other:?}"),
        }
    }
}

#[test]
fn invalid_input_is_a_typed_error_and_changes_nothing() {
    let mut index = GeoIndex::default();
    let k = Kind::Driver;
    for (lat, lon) in [
        (f64::NAN, 0.0),
        (0.0, f64::NAN),
        (90.1, 0.0),
        (-90.1, 0.0),
        (0.0, 180.1),
        (0.0, -181.0),
        (f64::INFINITY, 0.0),
    ] {
        assert!(
            matches!(
                index.upsert("a", &k, Fix::new(lat, lon, 0)),
                Err(Error::InvalidCoordinate { .. })
            ),
            "{lat} {lon}"
        );
    }
    assert!(matches!(
        index.upsert("a", &k, Fix::new(0.0, 0.0, 0).with_accuracy(-1.0)),
        Err(Error::InvalidFix {
            field: "accuracy_m",
            ..
        })
    ));
    assert!(matches!(
        index.upsert("a", &k, Fix::new(0.0, 0.0, 0).with_speed(f32::NAN)),
        Err(Error::InvalidFix {
            field: "speed_mps",
            ..
        })
    ));
    assert!(matches!(
        index.upsert("a", &k, Fix::new(0.0, 0.0, 0).with_heading(360.0)),
        Err(Error::InvalidFix {
            field: "heading_deg",
            ..
        })
    ));
    assert!(matches!(
        index.upsert("", &k, Fix::new(0.0, 0.0, 0)),
        Err(Error::InvalidId { .. })
    ));
    assert!(
        index
            .upsert(&"x".repeat(257), &k, Fix::new(0.0, 0.0, 0))
            .is_err()
    );
    assert!(matches!(
        index.upsert("a", &Kind::Tag("".into()), Fix::new(0.0, 0.0, 0)),
        Err(Error::InvalidKind { .. })
    ));
    assert!(
        index
            .upsert(
                "a",
                &Kind::Tag("k".repeat(65).into()),
                Fix::new(0.0, 0.0, 0)
            )
            .is_err()
    );
    assert!(index.is_empty());
    // The extremes themselves are valid.
    for (i, (lat, lon)) in [(90.0, 180.0), (-90.0, -180.0), (0.0, 180.0)]
        .into_iter()
        .enumerate()
    {
        index
            .upsert(&format!("p{i}"), &k, Fix::new(lat, lon, 0))
            .unwrap();
    }
    assert_eq!(index.len(), 3);
}

#[test]
fn stale_entities_drop_out_of_queries_and_can_be_evicted() {
    let mut index = GeoIndex::new(GeoOptions::default().with_ttl_ms(Some(60_000)));
    index
        .upsert("old", &Kind::Driver, Fix::new(48.85, 2.35, 0))
        .unwrap();
    index
        .upsert("new", &Kind::Driver, Fix::new(48.851, 2.35, 50_000))
        .unwrap();
    let c = LatLon::new(48.85, 2.35).unwrap();
    let all = QueryFilter::new();
    assert_eq!(index.radius(c, 500.0, 10, &all).unwrap().len(), 2);
    index.advance_clock(60_000); // old is exactly at the TTL: still live
    assert_eq!(index.radius(c, 500.0, 10, &all).unwrap().len(), 2);
    index.advance_clock(60_001);
    let got = index.radius(c, 500.0, 10, &all).unwrap();
    assert_eq!(got.iter().map(|h| &*h.id).collect::<Vec<_>>(), ["new"]);
    assert_eq!(index.nearest(c, 5, None, &all).unwrap().len(), 1);
    assert_eq!(
        index
            .radius(c, 500.0, 10, &all.clone().with_stale(true))
            .unwrap()
            .len(),
        2
    );
    assert_eq!(index.len(), 2);
    assert_eq!(index.evict_stale(), vec!["old".into()]);
    assert_eq!(index.len(), 1);
    assert!(index.get("old").is_none());
    assert_eq!(index.stats().evicted, 1);
    // The clock never goes back.
    index.advance_clock(0);
    assert_eq!(index.clock(), 60_001);
}

#[test]
fn low_accuracy_hits_are_flagged_and_can_be_excluded() {
    let mut index = GeoIndex::new(GeoOptions::default().with_max_accuracy_m(Some(50.0)));
    index
        .upsert(
            "good",
            &Kind::Driver,
            Fix::new(1.0, 1.0, 0).with_accuracy(10.0),
        )
        .unwrap();
    index
        .upsert(
            "poor",
            &Kind::Driver,
            Fix::new(1.0, 1.0001, 0).with_accuracy(80.0),
        )
        .unwrap();
    let c = LatLon::new(1.0, 1.0).unwrap();
    let hits = index.radius(c, 100.0, 10, &QueryFilter::new()).unwrap();
    assert_eq!(
        hits.iter().map(|h| h.low_accuracy).collect::<Vec<_>>(),
        [false, true]
    );
    let hits = index
        .radius(
            c,
            100.0,
            10,
            &QueryFilter::new().with_exclude_low_accuracy(true),
        )
        .unwrap();
    assert_eq!(hits.len(), 1);
}

#[test]
fn batches_report_each_kind_of_outcome() {
    let mut index = GeoIndex::default();
    let u = |id: &str, lat: f64, ts: i64| Update::new(id, Kind::Rider, Fix::new(lat, 0.0, ts));
    let batch = vec![
        u("a", 0.0, 10),
        u("b", 0.0, 10),
        u("a", 0.0001, 11),
        u("a", 0.0, 5),
        u("a", 50.0, 12),
        u("c", 95.0, 1),
    ];
    let r = index.upsert_batch(&batch);
    assert_eq!((r.inserted, r.moved, r.out_of_order), (2, 1, 1));
    assert_eq!(r.rejected.len(), 1);
    assert_eq!(r.rejected[0].0, 4);
    assert_eq!(r.invalid.len(), 1);
    assert_eq!(r.invalid[0].0, 5);
    assert_eq!(index.len(), 2);
}

#[test]
fn kind_changes_and_moves_keep_queries_right() {
    let mut index = GeoIndex::new(
        GeoOptions::default()
            .with_cell_size_m(100.0)
            .with_max_speed_mps(None),
    );
    for i in 0..200 {
        let lat = 10.0 + f64::from(i) * 0.0005;
        index
            .upsert(&format!("e{i}"), &Kind::Driver, Fix::new(lat, 10.0, 0))
            .unwrap();
    }
    // Move every other entity far away and switch kinds.
    for i in (0..200).step_by(2) {
        index
            .upsert(
                &format!("e{i}"),
                &Kind::Asset,
                Fix::new(-10.0, -10.0, 1_000_000),
            )
            .unwrap();
    }
    let c = LatLon::new(10.05, 10.0).unwrap();
    let drivers = index
        .radius(
            c,
            100_000.0,
            usize::MAX,
            &QueryFilter::new().with_kind(Kind::Driver),
        )
        .unwrap();
    assert_eq!(drivers.len(), 100);
    assert!(drivers.iter().all(|h| h.kind == Kind::Driver));
    let far = index
        .count_within(LatLon::new(-10.0, -10.0).unwrap(), 1.0, &QueryFilter::new())
        .unwrap();
    assert_eq!(far, 100);
}

#[test]
fn long_batches_report_positions_across_chunks() {
    let mut index = GeoIndex::default();
    let batch: Vec<Update> = (0..300)
        .map(|i| {
            let lat = if i % 97 == 0 {
                100.0
            } else {
                10.0 + f64::from(i % 7) * 1e-4
            };
            Update::new(
                format!("e{}", i % 7),
                Kind::Driver,
                Fix::new(lat, 10.0, i64::from(i / 2)),
            )
        })
        .collect();
    let r = index.upsert_batch(&batch);
    let invalid: Vec<usize> = r.invalid.iter().map(|(i, _)| *i).collect();
    assert_eq!(invalid, [0, 97, 194, 291]);
    assert_eq!(r.inserted, 7);
    assert_eq!(
        r.inserted + r.moved + r.out_of_order + r.rejected.len() + r.invalid.len(),
        300
    );
    // The same updates one by one give the same state.
    let mut one = GeoIndex::default();
    for u in &batch {
        let _ = one.upsert(&u.id, &u.kind, u.fix);
    }
    for id in index.ids() {
        assert_eq!(index.get(&id), one.get(&id));
    }
    assert_eq!(index.stats(), one.stats());
}
