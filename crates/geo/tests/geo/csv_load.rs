//! The CSV loader.

use blocksmith_geo::{Error, GeoIndex, Kind, LatLon, QueryFilter, csv};
use proptest::prelude::*;
use std::fmt::Write as _;

#[test]
fn loads_with_optional_columns_any_order_and_crlf() {
    let text = "\u{feff}ts,lon,lat,kind,id,accuracy,speed,heading\r\n\
                1000,2.35,48.85,driver,d1,5,10.5,90\r\n\
                \r\n\
                1001,2.36,48.86,rider,\"r \"\"one\"\"\",,,\r\n";
    let u = csv::parse(text.as_bytes()).unwrap();
    assert_eq!(u.len(), 2);
    assert_eq!(&*u[0].id, "d1");
    assert_eq!(u[0].kind, Kind::Driver);
    assert_eq!(
        (u[0].fix.lat, u[0].fix.lon, u[0].fix.ts_ms),
        (48.85, 2.35, 1000)
    );
    assert_eq!(
        (
            u[0].fix.accuracy_m,
            u[0].fix.speed_mps,
            u[0].fix.heading_deg
        ),
        (Some(5.0), Some(10.5), Some(90.0))
    );
    assert_eq!(&*u[1].id, "r \"one\"");
    assert_eq!(u[1].fix.accuracy_m, None);
    let mut index = GeoIndex::default();
    let r = index.upsert_batch(&u);
    assert_eq!(r.inserted, 2);
    let near = index
        .nearest(
            LatLon::new(48.85, 2.35).unwrap(),
            1,
            None,
            &QueryFilter::new(),
        )
        .unwrap();
    assert_eq!(&*near[0].id, "d1");
}

#[test]
fn errors_name_the_line() {
    let line = |text: &str| match csv::parse(text.as_bytes()) {
        Err(Error::Csv { line, .. }) => line,
        other => panic!("{other:?}"),
    };
    assert_eq!(line(""), 1);
    assert_eq!(line("id,kind,lat,lon\n"), 1);
    assert_eq!(line("id,kind,lat,lon,ts,colour\n"), 1);
    assert_eq!(line("id,kind,lat,lat,ts\n"), 1);
    let h = "id,kind,lat,lon,ts\n";
    assert_eq!(line(&format!("{h}a,driver,1,1,1\nb,driver,1,1\n")), 3);
    assert_eq!(line(&format!("{h}a,driver,91,1,1\n")), 2);
    assert_eq!(line(&format!("{h}a,driver,NaN,1,1\n")), 2);
    assert_eq!(line(&format!("{h}a,driver,x,1,1\n")), 2);
    assert_eq!(line(&format!("{h}a,driver,1,1,1.5\n")), 2);
    assert_eq!(line(&format!("{h},driver,1,1,1\n")), 2);
    assert_eq!(line(&format!("{h}a,,1,1,1\n")), 2);
    assert_eq!(line(&format!("{h}\"a,driver,1,1,1\n")), 2);
    assert_eq!(line(&format!("{h}a\"b,driver,1,1,1\n")), 2);
    assert_eq!(line(&format!("{h}\"a\"x,driver,1,1,1\n")), 2);
    assert!(matches!(
        csv::parse(b"id,kind,lat,lon,ts\n\xff,driver,1,1,1\n"),
        Err(Error::Csv { line: 2, .. })
    ));
}

proptest! {
    #[test]
    fn round_trip(rows in proptest::collection::vec(("[a-z0-9 ,\"-]{1,12}", "[a-z]{1,8}", -90.0..=90.0f64, -180.0..=180.0f64, any::<i64>()), 0..30)) {
        let mut text = String::from("id,kind,lat,lon,ts\n");
        for (id, kind, lat, lon, ts) in &rows {
            writeln!(text, "\"{}\",{kind},{lat:?},{lon:?},{ts}", id.replace('"', "\"\"")).unwrap();
        }
        let parsed = csv::parse(text.as_bytes());
        let ok_ids = rows.iter().all(|r| !r.0.trim().is_empty());
        if !ok_ids {
            prop_assert!(parsed.is_err());
            return Ok(());
        }
        let parsed = parsed.unwrap();
        prop_assert_eq!(parsed.len(), rows.len());
        for (u, (id, kind, lat, lon, ts)) in parsed.iter().zip(&rows) {
            prop_assert_eq!(&*u.id, id.trim());
            prop_assert_eq!(u.kind.as_str(), kind.as_str());
            prop_assert_eq!((u.fix.lat, u.fix.lon, u.fix.ts_ms), (*lat, *lon, *ts));
        }
    }

    #[test]
    fn hostile_input_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = csv::parse(&bytes);
        let mut framed = b"id,kind,lat,lon,ts\n".to_vec();
        framed.extend_from_slice(&bytes);
        let _ = csv::parse(&framed);
    }
}
