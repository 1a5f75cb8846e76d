//! `blocksmith diff` run as a user would.

#[allow(unused_imports)]
use super::{json, run};

#[test]
fn diff_compare_exit_codes_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = (d.join("a.yaml"), d.join("b.yaml"));
    std::fs::write(&a, "replicas: 2\nimage: app:1\nports: [80]\n").unwrap();
    std::fs::write(&b, "image: app:2\nreplicas: 2\nports: [80, 443]\n").unwrap();
    let (sa, sb) = (a.to_str().unwrap(), b.to_str().unwrap());
    // Same file: exit 0, no output.
    let o = run(d, &["diff", sa, sa]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(o.stdout.is_empty());
    // Unified (default): exit 1 like diff(1), nothing on stderr.
    let o = run(d, &["diff", sa, sb]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(o.stderr.is_empty());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains(&format!("--- {sa}\n+++ {sb}\n@@ -1,3 +1,3 @@")),
        "{text}"
    );
    // JSON Patch and report parse the documents (key order ignored).
    let o = run(d, &["--json", "diff", sa, sb, "--format", "json-patch"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        json(&o)["json_patch"],
        serde_json::json!([
            {"op": "replace", "path": "/image", "value": "app:2"},
            {"op": "add", "path": "/ports/1", "value": 443}
        ])
    );
    let o = run(d, &["diff", sa, sb, "--format", "report"]);
    assert_eq!(
        String::from_utf8(o.stdout).unwrap(),
        "~ /image: \"app:1\" -> \"app:2\"\n+ /ports/1: 443\n"
    );
    // Errors keep the CLI's codes: missing file 3, malformed document 2 (with a position).
    assert_eq!(run(d, &["diff", sa, "nope.yaml"]).status.code(), Some(3));
    let bad = d.join("bad.json");
    std::fs::write(&bad, "{\"a\": [1,\n 2,,]}").unwrap();
    let good = d.join("good.json");
    std::fs::write(&good, "{\"a\": [1, 2]}").unwrap();
    let o = run(
        d,
        &[
            "--json",
            "diff",
            good.to_str().unwrap(),
            bad.to_str().unwrap(),
            "--format",
            "report",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err: serde_json::Value = serde_json::from_slice(&o.stderr).unwrap();
    assert!(err["error"].as_str().unwrap().contains("line 2"), "{err}");
}

#[test]
fn diff_apply_unified_and_json_patch_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let old = (1..=20)
        .map(|i| format!("line {i}\n"))
        .collect::<Vec<_>>()
        .concat();
    let new = old
        .replace("line 5\n", "line five\n")
        .replace("line 15\n", "line fifteen\n");
    let (a, b, p) = (d.join("f.txt"), d.join("g.txt"), d.join("f.patch"));
    std::fs::write(&a, &old).unwrap();
    std::fs::write(&b, &new).unwrap();
    let o = run(d, &["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    std::fs::write(&p, &o.stdout).unwrap();
    // Applies in place even with two lines added at the top (offset).
    std::fs::write(&a, format!("# header\n# more\n{old}")).unwrap();
    let o = run(
        d,
        &["diff", "apply", a.to_str().unwrap(), p.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(
        std::fs::read_to_string(&a).unwrap(),
        format!("# header\n# more\n{new}")
    );
    // Reverse undoes it.
    let o = run(
        d,
        &[
            "diff",
            "apply",
            "-R",
            a.to_str().unwrap(),
            p.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(&a).unwrap(),
        format!("# header\n# more\n{old}")
    );
    // A hunk that cannot apply: exit 1, the other hunk applied, a .rej file written.
    std::fs::write(&a, old.replace("line 4\nline 5\nline 6\n", "x\ny\nz\n")).unwrap();
    let o = run(
        d,
        &[
            "--json",
            "diff",
            "apply",
            a.to_str().unwrap(),
            p.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(json(&o)["rejected"][0]["hunk"], 1);
    assert!(
        std::fs::read_to_string(&a)
            .unwrap()
            .contains("line fifteen")
    );
    assert!(
        std::fs::read_to_string(d.join("f.txt.rej"))
            .unwrap()
            .contains("+line five")
    );
    // JSON Patch on a TOML file, written back as TOML.
    let t = d.join("c.toml");
    std::fs::write(&t, "port = 80\nhost = \"a\"\n").unwrap();
    let jp = d.join("p.json");
    std::fs::write(
        &jp,
        r#"[{"op": "replace", "path": "/port", "value": 8080}]"#,
    )
    .unwrap();
    let o = run(
        d,
        &["diff", "apply", t.to_str().unwrap(), jp.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(std::fs::read_to_string(&t).unwrap().contains("port = 8080"));
    // A failing JSON Patch is bad input and leaves the file alone.
    std::fs::write(&jp, r#"[{"op": "test", "path": "/port", "value": 1}]"#).unwrap();
    assert_eq!(
        run(
            d,
            &["diff", "apply", t.to_str().unwrap(), jp.to_str().unwrap()]
        )
        .status
        .code(),
        Some(2)
    );
    assert!(std::fs::read_to_string(&t).unwrap().contains("port = 8080"));
}

#[test]
fn diff_merge_text_and_structured() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = |n: &str, t: &str| {
        let p = d.join(n);
        std::fs::write(&p, t).unwrap();
        p.to_str().unwrap().to_string()
    };
    let base = w("base.txt", "a\nb\nc\nd\ne\n");
    let ours = w("ours.txt", "A\nb\nc\nd\ne\n");
    let theirs = w("theirs.txt", "a\nb\nc\nd\nE\n");
    let o = run(d, &["diff", "merge", &base, &ours, &theirs]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(o.stdout, b"A\nb\nc\nd\nE\n");
    let theirs2 = w("theirs2.txt", "X\nb\nc\nd\ne\n");
    let o = run(d, &["--json", "diff", "merge", &base, &ours, &theirs2]);
    assert_eq!(o.status.code(), Some(1));
    let v = json(&o);
    assert_eq!(v["clean"], false);
    assert_eq!(v["conflicts"][0]["ours"], "A\n");
    assert!(v["text"].as_str().unwrap().starts_with("<<<<<<< "));
    // Structured: same extension on all three.
    let b = w("b.json", r#"{"replicas": 2, "image": "v1"}"#);
    let o1 = w("o.json", r#"{"replicas": 3, "image": "v1"}"#);
    let t1 = w("t.json", r#"{"image": "v2", "replicas": 2}"#);
    let out = d.join("m.json");
    let o = run(
        d,
        &["diff", "merge", &b, &o1, &t1, "-o", out.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let merged: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(merged, serde_json::json!({"replicas": 3, "image": "v2"}));
}

#[test]
fn diff_config_history_and_drift() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let f = d.join("svc.yaml");
    std::fs::write(&f, "replicas: 2\npassword: hunter2\n").unwrap();
    let fs = f.to_str().unwrap();
    let o = run(
        d,
        &[
            "--json", "diff", "config", "commit", "svc", fs, "-m", "first",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(json(&o)["version"], 1);
    std::fs::write(&f, "replicas: 3\npassword: hunter3\n").unwrap();
    run(d, &["diff", "config", "commit", "svc", fs, "-m", "second"]);
    let o = run(d, &["--json", "diff", "config", "log", "svc"]);
    assert_eq!(json(&o).as_array().unwrap().len(), 2);
    let o = run(d, &["diff", "config", "show", "svc", "1", "2"]);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("~ /replicas: 2 -> 3") && !text.contains("hunter"),
        "{text}"
    );
    // Drift: the running config differs; secrets never printed.
    let running = d.join("running.json");
    std::fs::write(&running, r#"{"replicas": 5, "password": "hunter3"}"#).unwrap();
    let o = run(
        d,
        &["diff", "config", "drift", "svc", running.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8(o.stdout)
            .unwrap()
            .contains("~ /replicas: 3 -> 5")
    );
    std::fs::write(&running, r#"{"replicas": 3, "password": "hunter3"}"#).unwrap();
    assert_eq!(
        run(
            d,
            &["diff", "config", "drift", "svc", running.to_str().unwrap()]
        )
        .status
        .code(),
        Some(0)
    );
    let o = run(d, &["--json", "diff", "config", "revert", "svc"]);
    assert_eq!(json(&o)["version"], 3);
    assert_eq!(
        run(d, &["diff", "config", "log", "nope"]).status.code(),
        Some(3)
    );
}
