//! `blocksmith sketch ...`, run as a user would. Goes in
//! `crates/cli/tests/cli/sketch.rs` with `mod sketch;` in `tests/cli/main.rs`,
//! whose `json` and `run_stdin` helpers it uses.

use super::{json, run_stdin};
use std::fmt::Write as _;

/// Builds standard input from a range, one line per number.
fn lines(range: impl Iterator<Item = u32>, mut f: impl FnMut(&mut String, u32)) -> String {
    range.fold(String::new(), |mut out, i| {
        f(&mut out, i);
        out
    })
}

#[test]
fn sketch_count_quantiles_topk_and_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let users = lines(0..5000, |out, i| {
        let _ = writeln!(out, "user-{}", i % 1000);
    });

    let hll_file = d.join("users.hll");
    let o = run_stdin(
        d,
        &[
            "sketch",
            "hll",
            "--out",
            hll_file.to_str().unwrap(),
            "--json",
        ],
        &users,
    );
    assert!(o.status.success(), "{o:?}");
    let v = json(&o);
    assert_eq!(v["lines"], 5000);
    let est = v["estimate"].as_f64().unwrap();
    assert!((est - 1000.0).abs() < 30.0, "{est}");
    let o = run_stdin(
        d,
        &["sketch", "read", hll_file.to_str().unwrap(), "--json"],
        "",
    );
    assert_eq!(
        json(&o)["estimate"].as_f64().unwrap().to_bits(),
        est.to_bits()
    );
    assert_eq!(json(&o)["family"], "hll");

    let theta_file = d.join("users.theta");
    let o = run_stdin(
        d,
        &[
            "sketch",
            "theta",
            "--out",
            theta_file.to_str().unwrap(),
            "--json",
        ],
        &users,
    );
    assert_eq!(json(&o)["estimate"], 1000.0);
    let o = run_stdin(
        d,
        &["sketch", "read", theta_file.to_str().unwrap(), "--json"],
        "",
    );
    assert_eq!(json(&o)["estimate"], 1000.0);

    let numbers = lines(1..=1000, |out, i| {
        let _ = writeln!(out, "{i}");
    });
    let kll_file = d.join("latency.kll");
    let o = run_stdin(
        d,
        &[
            "sketch",
            "kll",
            "--ranks",
            "0.5,0.99",
            "--out",
            kll_file.to_str().unwrap(),
            "--json",
        ],
        &numbers,
    );
    let v = json(&o);
    assert_eq!(v["n"], 1000);
    assert_eq!(v["quantiles"]["0.5"], 500.0);
    assert_eq!(v["quantiles"]["0.99"], 990.0);
    let o = run_stdin(
        d,
        &["sketch", "read", kll_file.to_str().unwrap(), "--json"],
        "",
    );
    assert_eq!(json(&o)["max"], 1000.0);

    let dd_file = d.join("latency.dd");
    let o = run_stdin(
        d,
        &[
            "sketch",
            "ddsketch",
            "--out",
            dd_file.to_str().unwrap(),
            "--json",
        ],
        &numbers,
    );
    let p99 = json(&o)["quantiles"]["0.99"].as_f64().unwrap();
    assert!((p99 - 990.0).abs() <= 0.01 * 990.0);
    let o = run_stdin(
        d,
        &["sketch", "read", dd_file.to_str().unwrap(), "--json"],
        "",
    );
    assert_eq!(json(&o)["family"], "ddsketch");

    let pages = "/a\n/b\n/a\n/c\n/a\n/b\n";
    let o = run_stdin(d, &["sketch", "topk", "--k", "2", "--json"], pages);
    let v = json(&o);
    assert_eq!(v["items"][0]["item"], "/a");
    assert_eq!(v["items"][0]["count"], 3);
    assert_eq!(v["items"][1]["item"], "/b");

    // Human output names the estimate.
    let o = run_stdin(d, &["sketch", "hll"], "x\ny\nx\n");
    assert!(String::from_utf8_lossy(&o.stdout).contains("estimate"));
}

#[test]
fn sketch_accumulates_in_the_store_and_rejects_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let day1 = lines(0..600, |out, i| {
        let _ = writeln!(out, "u{i}");
    });
    let day2 = lines(300..900, |out, i| {
        let _ = writeln!(out, "u{i}");
    });
    run_stdin(d, &["sketch", "hll", "--name", "visitors"], &day1);
    let o = run_stdin(d, &["sketch", "hll", "--name", "visitors", "--json"], &day2);
    let est = json(&o)["estimate"].as_f64().unwrap();
    assert!((est - 900.0).abs() < 15.0, "{est}");

    let o = run_stdin(d, &["sketch", "kll", "--json"], "1\n2\nthree\n");
    assert_eq!(o.status.code(), Some(2));
    let junk = d.join("junk.bin");
    std::fs::write(&junk, b"\x0a\x01\x07\x0cnot a sketch").unwrap();
    let o = run_stdin(d, &["sketch", "read", junk.to_str().unwrap(), "--json"], "");
    assert_eq!(o.status.code(), Some(2));
    let err: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(err["kind"], "bad_input");
}
