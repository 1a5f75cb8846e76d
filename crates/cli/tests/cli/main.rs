//! The `blocksmith` binary, run as a user would.

mod codes;
mod contract;
mod diff;
mod dispute;
mod feed;
mod geo;
mod ocr;
mod receipts;
mod sketch;
mod spell;
mod tenant;
mod upload;
mod vault;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blocksmith"))
        .arg("--store")
        .arg(dir)
        .args(args)
        .output()
        .expect("run blocksmith")
}

/// Runs `blocksmith` with `input` on its standard input.
pub(crate) fn run_stdin(dir: &std::path::Path, args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_blocksmith"))
        .arg("--store")
        .arg(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run blocksmith");
    // A command that refuses its arguments exits without reading stdin: a
    // write into the closed pipe is then not the test's failure.
    if let Err(e) = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
    {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    child.wait_with_output().expect("wait")
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).expect("JSON on stdout")
}

#[test]
fn store_put_get_list_delete() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = run(
        d,
        &["store", "put", "notes/a", "--value", "hello", "--json"],
    );
    assert!(o.status.success(), "{o:?}");
    let version = json(&o)["version"].as_str().unwrap().to_string();
    run(d, &["store", "put", "notes/b", "--value", "world"]);
    let o = run(d, &["store", "get", "notes/a"]);
    assert_eq!(o.stdout, b"hello");
    let o = run(d, &["store", "get", "notes/a", "--range", "1..3"]);
    assert_eq!(o.stdout, b"el");
    let o = run(d, &["store", "list", "notes/", "--json"]);
    let keys: Vec<_> = json(&o)
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, ["notes/a", "notes/b"]);
    // Compare-and-swap with the right version, then a stale one.
    let o = run(
        d,
        &[
            "store",
            "put",
            "notes/a",
            "--value",
            "v2",
            "--if-version",
            &version,
        ],
    );
    assert!(o.status.success());
    let o = run(
        d,
        &[
            "store",
            "put",
            "notes/a",
            "--value",
            "v3",
            "--if-version",
            &version,
        ],
    );
    assert_eq!(o.status.code(), Some(4));
    let o = run(d, &["store", "put", "notes/a", "--value", "x", "--create"]);
    assert_eq!(o.status.code(), Some(4));
    assert!(run(d, &["store", "delete", "notes/a"]).status.success());
    let o = run(d, &["store", "get", "notes/a", "--json"]);
    assert_eq!(o.status.code(), Some(3));
    let err: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert_eq!(err["kind"], "not_found");
}

#[test]
fn bad_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["store", "get", "../etc/passwd"][..],
        &["store", "get", "a", "--range", "x..y"],
        &["store", "frobnicate"],
    ] {
        let o = run(dir.path(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {o:?}");
    }
}

#[test]
fn tsz_stats_compress_decompress() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tsz/data/timeseries/stocks_de.csv"
    );
    let o = run(d, &["--json", "tsz", "stats", data]);
    assert!(o.status.success(), "{o:?}");
    let rows = json(&o);
    let row = &rows[0];
    assert_eq!(row["points"], 1024);
    let g = row["bits_per_value"]["gorilla"].as_f64().unwrap();
    let b = row["bits_per_value"]["best"].as_f64().unwrap();
    assert!(b < g / 2.0, "best {b} vs gorilla {g}");
    // Best is Pack where Pack is smaller than Gorilla: never above either.
    let p = row["bits_per_value"]["pack"].as_f64().unwrap();
    let a = row["bits_per_value"]["alp"].as_f64().unwrap();
    assert!(
        b <= p && b <= g && a > 0.0,
        "best {b}, pack {p}, alp {a}, gorilla {g}"
    );
    assert_eq!(rows[1]["file"], "(overall)");

    let pts = d.join("pts.csv");
    let mut lines = String::new();
    for i in 0..5000i64 {
        let (t, v) = (1_700_000_000_000 + i * 1000, (i % 97) as f64 / 4.0);
        lines.push_str(&t.to_string());
        lines.push(',');
        lines.push_str(&v.to_string());
        lines.push('\n');
    }
    std::fs::write(&pts, &lines).unwrap();
    let packed = d.join("pts.tsz");
    let o = run(
        d,
        &[
            "tsz",
            "compress",
            pts.to_str().unwrap(),
            packed.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let back = d.join("back.csv");
    let o = run(
        d,
        &[
            "tsz",
            "decompress",
            packed.to_str().unwrap(),
            back.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let parse = |s: &str| -> Vec<(i64, f64)> {
        s.lines()
            .map(|l| {
                let (t, v) = l.split_once(',').unwrap();
                (t.parse().unwrap(), v.parse().unwrap())
            })
            .collect()
    };
    assert_eq!(
        parse(&std::fs::read_to_string(back).unwrap()),
        parse(&lines)
    );
    // A damaged file is bad input, not a crash.
    let mut bytes = std::fs::read(&packed).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&packed, bytes).unwrap();
    let o = run(d, &["tsz", "decompress", packed.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
}
