//! The `blocksmith` binary, run as a user would.

use std::process::{Command, Output};

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blocksmith"))
        .arg("--store")
        .arg(dir)
        .args(args)
        .output()
        .expect("run blocksmith")
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
