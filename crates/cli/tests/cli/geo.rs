//! `blocksmith geo ...`, run as a user would. Goes in
//! `crates/cli/tests/cli/geo.rs` with `mod geo;` in `tests/cli/main.rs`,
//! whose `run` and `json` helpers it uses.

use super::{json, run};

#[test]
fn geo_load_nearby_and_fences() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let csv = d.join("fleet.csv");
    std::fs::write(
        &csv,
        "id,kind,lat,lon,ts\n\
         d1,driver,48.8584,2.2945,1000\n\
         d2,driver,48.8606,2.3376,1000\n\
         r1,rider,48.8590,2.2950,1000\n\
         d3,driver,49.0097,2.5479,1000\n\
         d1,driver,48.8585,2.2946,2000\n\
         d1,driver,48.0000,2.0000,900\n\
         d2,driver,40.0000,2.3376,3000\n",
    )
    .unwrap();
    let o = run(d, &["geo", "load", csv.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{o:?}");
    let v = json(&o);
    assert_eq!(v["rows"], 7);
    assert_eq!(v["inserted"], 4);
    assert_eq!(v["moved"], 1);
    assert_eq!(v["out_of_order"], 1);
    assert_eq!(v["rejected"].as_array().unwrap().len(), 1);
    assert_eq!(v["rejected"][0]["id"], "d2");
    assert_eq!(v["entities"], 4);

    // Nearest first, with distances; a kind filter; a limit.
    let o = run(d, &["geo", "nearby", "48.8584", "2.2945", "5000", "--json"]);
    assert!(o.status.success(), "{o:?}");
    let hits = json(&o);
    let ids: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["d1", "r1", "d2"]);
    assert!(hits[0]["distance_m"].as_f64().unwrap() < 20.0);
    let o = run(
        d,
        &[
            "geo", "nearby", "48.8584", "2.2945", "5000", "--limit", "1", "--kind", "rider",
            "--json",
        ],
    );
    assert_eq!(json(&o).as_array().unwrap().len(), 1);
    assert_eq!(json(&o)[0]["id"], "r1");
    let o = run(d, &["geo", "nearby", "48.8584", "2.2945", "5000"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("d1") && text.contains("distance"), "{text}");

    // An airport fence with a hole, for drivers.
    let airport = r#"{"type":"Polygon","coordinates":[[[2.50,48.99],[2.60,48.99],[2.60,49.03],[2.50,49.03],[2.50,48.99]],[[2.505,48.995],[2.525,48.995],[2.525,49.005],[2.505,49.005],[2.505,48.995]]]}"#;
    let o = run(
        d,
        &[
            "geo",
            "fence",
            "add",
            "cdg",
            "--geojson",
            airport,
            "--kind",
            "driver",
            "--dwell-s",
            "300",
            "--json",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)["holes"], 1);
    let o = run(d, &["geo", "fence", "add", "cdg", "--geojson", airport]);
    assert_eq!(o.status.code(), Some(4));
    let o = run(d, &["geo", "fence", "check", "49.0097", "2.5479", "--json"]);
    assert_eq!(json(&o), serde_json::json!(["cdg"]));
    let o = run(d, &["geo", "fence", "check", "49.0", "2.515", "--json"]); // in the hole
    assert_eq!(json(&o), serde_json::json!([]));
    let o = run(
        d,
        &[
            "geo", "fence", "check", "49.0097", "2.5479", "--kind", "rider", "--json",
        ],
    );
    assert_eq!(json(&o), serde_json::json!([]));
    // d3 moves inside the fence: the next load reports the event.
    std::fs::write(&csv, "id,kind,lat,lon,ts\nd3,driver,49.0098,2.5480,5000\n").unwrap();
    let o = run(d, &["geo", "load", csv.to_str().unwrap(), "--json"]);
    assert_eq!(json(&o)["fence_events"], 1);
    let o = run(d, &["geo", "fence", "list", "--json"]);
    let fences = json(&o);
    assert_eq!(fences[0]["id"], "cdg");
    assert_eq!(fences[0]["members"], serde_json::json!(["d3"]));
    assert_eq!(fences[0]["dwell_ms"], 300_000);
    assert!(run(d, &["geo", "fence", "remove", "cdg"]).status.success());
    assert_eq!(
        run(d, &["geo", "fence", "remove", "cdg"]).status.code(),
        Some(3)
    );
    let o = run(d, &["geo", "fence", "list", "--json"]);
    assert_eq!(json(&o), serde_json::json!([]));
}

#[test]
fn geo_bad_input_exits_2_and_missing_index_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = run(d, &["geo", "nearby", "0", "0", "100"]);
    assert_eq!(o.status.code(), Some(3));
    let csv = d.join("bad.csv");
    std::fs::write(&csv, "id,kind,lat,lon,ts\nx,driver,91,0,1\n").unwrap();
    let o = run(d, &["geo", "load", csv.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert!(err["error"].as_str().unwrap().contains("line 2"), "{err}");
    std::fs::write(&csv, "id,kind,lat,lon,ts\nx,driver,-33.86,151.2,1\n").unwrap();
    assert!(
        run(d, &["geo", "load", csv.to_str().unwrap()])
            .status
            .success()
    );
    // Negative coordinates parse as numbers, not flags.
    let o = run(d, &["geo", "nearby", "-33.86", "151.2", "10", "--json"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)[0]["id"], "x");
    for args in [
        &["geo", "nearby", "95", "0", "100"][..],
        &["geo", "nearby", "0", "0", "-5"],
        &["geo", "nearby", "0", "0", "NaN"],
        &["geo", "fence", "add", "f", "--geojson", "{"],
        &[
            "geo",
            "fence",
            "add",
            "f",
            "--geojson",
            r#"{"type":"Point","coordinates":[0,0]}"#,
        ],
        &[
            "geo",
            "fence",
            "add",
            "f",
            "--geojson",
            r#"{"type":"Polygon","coordinates":[[[0,0],[1,1]]]}"#,
        ],
        &["geo", "fence", "check", "0", "200"],
    ] {
        let o = run(d, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
    }
}

#[test]
fn geo_roaming_fence_follows_its_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = run(
        d,
        &[
            "geo", "fence", "roam", "near-d1", "d1", "500", "--kind", "rider", "--json",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)["center"], serde_json::Value::Null);
    let csv = d.join("moves.csv");
    std::fs::write(
        &csv,
        "id,kind,lat,lon,ts\n\
         d1,driver,48.8566,2.3522,1000\n\
         r1,rider,48.8590,2.3522,2000\n\
         r2,rider,48.9000,2.3522,2000\n\
         d2,driver,48.8567,2.3522,2000\n",
    )
    .unwrap();
    let o = run(d, &["geo", "load", csv.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)["fence_events"], 1);
    let o = run(d, &["geo", "fence", "list", "--json"]);
    let f = &json(&o)[0];
    assert_eq!(f["type"], "roaming");
    assert_eq!(f["anchor"], "d1");
    assert_eq!(f["members"], serde_json::json!(["r1"]));
    assert_eq!(f["center"]["lat"], 48.8566);
    let o = run(d, &["geo", "fence", "list"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("500 m around d1, 1 inside"));
    assert!(
        run(d, &["geo", "fence", "roam", "bad", "d1", "-5"])
            .status
            .code()
            == Some(2)
    );
    assert!(
        run(d, &["geo", "fence", "remove", "near-d1"])
            .status
            .success()
    );
    let o = run(d, &["geo", "fence", "list", "--json"]);
    assert_eq!(json(&o), serde_json::json!([]));
}
