use blocksmith_diff::merge::{ConflictStyle, MergeOptions, merge_text, merge_values};
use blocksmith_diff::structured::StructuredOptions;
use serde_json::json;

#[test]
fn clean_text_merges() {
    let base = "a\nb\nc\nd\ne\nf\ng\n";
    let ours = "a\nB\nc\nd\ne\nf\ng\nh\n";
    let theirs = "a\nb\nc\nd\nE\nf\ng\n";
    let m = merge_text(base, ours, theirs, &MergeOptions::default());
    assert!(m.is_clean());
    assert_eq!(m.text, "a\nB\nc\nd\nE\nf\ng\nh\n");
    // The same change on both sides is no conflict.
    let m = merge_text(base, ours, ours, &MergeOptions::default());
    assert_eq!((m.is_clean(), m.text.as_str()), (true, ours));
    // One side unchanged.
    assert_eq!(
        merge_text(base, base, theirs, &MergeOptions::default()).text,
        theirs
    );
}

#[test]
fn conflicts_as_markers_and_data() {
    let base = "1\n2\n3\n4\n5\n";
    let ours = "1\n2\nours\n4\n5\n";
    let theirs = "1\n2\ntheirs\n4\n5\n";
    let m = merge_text(base, ours, theirs, &MergeOptions::default());
    assert_eq!(
        m.text,
        "1\n2\n<<<<<<< ours\nours\n=======\ntheirs\n>>>>>>> theirs\n4\n5\n"
    );
    let c = &m.conflicts[0];
    assert_eq!((c.base_lines.clone(), c.marker_line), (3..4, 3));
    assert_eq!(
        (c.base.as_str(), c.ours.as_str(), c.theirs.as_str()),
        ("3\n", "ours\n", "theirs\n")
    );
    let m = merge_text(
        base,
        ours,
        theirs,
        &MergeOptions::default()
            .with_style(ConflictStyle::Diff3)
            .with_labels("HEAD", "merged common ancestors", "feature"),
    );
    assert_eq!(
        m.text,
        "1\n2\n<<<<<<< HEAD\nours\n||||||| merged common ancestors\n3\n=======\ntheirs\n>>>>>>> feature\n4\n5\n"
    );
    // Common lines at the edges of a conflict are moved out of it.
    let m = merge_text(
        "x\n",
        "same\nA\nend\n",
        "same\nB\nend\n",
        &MergeOptions::default(),
    );
    assert_eq!(
        m.text,
        "same\n<<<<<<< ours\nA\n=======\nB\n>>>>>>> theirs\nend\n"
    );
    // A missing final newline stays out of the markers' way.
    let m = merge_text("x", "y", "z", &MergeOptions::default());
    assert_eq!(m.text, "<<<<<<< ours\ny\n=======\nz\n>>>>>>> theirs\n");
}

#[test]
fn matches_git_merge_file_when_available() {
    // Skips without git, or fails under BLOCKSMITH_REQUIRE_TOOLS=1.
    if !crate::compat::tool("git") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let base = "a\nb\nc\nd\ne\nf\ng\nh\ni\n";
    let ours = "a\nB\nc\nd\ne\nf\ng\nH\ni\n";
    let theirs = "a\nb\nc\nD\ne\nf\ng\nh2\ni\n";
    for (n, t) in [("ours", ours), ("base", base), ("theirs", theirs)] {
        std::fs::write(dir.path().join(n), t).unwrap();
    }
    let out = std::process::Command::new("git")
        .args([
            "merge-file",
            "-p",
            "-L",
            "ours",
            "-L",
            "base",
            "-L",
            "theirs",
            "ours",
            "base",
            "theirs",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let m = merge_text(base, ours, theirs, &MergeOptions::default());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), m.text);
    assert_eq!(out.status.code(), Some(m.conflicts.len() as i32));
}

#[test]
fn structured_merge() {
    let opts = StructuredOptions::default().with_identity_key("name");
    let base = json!({"replicas": 2, "containers": [{"name": "app", "image": "a:1"}, {"name": "db", "image": "pg:15"}], "labels": {"team": "x"}});
    let ours = json!({"replicas": 3, "containers": [{"name": "app", "image": "a:2"}, {"name": "db", "image": "pg:15"}], "labels": {"team": "x"}});
    let theirs = json!({"replicas": 2, "containers": [{"name": "app", "image": "a:1"}, {"name": "cache", "image": "redis"}, {"name": "db", "image": "pg:16"}], "labels": {}});
    let m = merge_values(&base, &ours, &theirs, &opts);
    assert!(m.is_clean(), "{:?}", m.conflicts);
    assert_eq!(
        m.value,
        json!({"replicas": 3, "containers": [{"name": "app", "image": "a:2"}, {"name": "cache", "image": "redis"}, {"name": "db", "image": "pg:16"}], "labels": {}})
    );
    // Both change the same image: a conflict as data; the merged value keeps ours.
    let theirs2 = json!({"replicas": 2, "containers": [{"name": "app", "image": "a:3"}, {"name": "db", "image": "pg:15"}], "labels": {"team": "x"}});
    let m = merge_values(&base, &ours, &theirs2, &opts);
    assert_eq!(m.conflicts.len(), 1);
    let c = &m.conflicts[0];
    assert_eq!(c.path, "/containers[name=app]/image");
    assert_eq!(
        (c.base.clone(), c.ours.clone(), c.theirs.clone()),
        (Some(json!("a:1")), Some(json!("a:2")), Some(json!("a:3")))
    );
    assert_eq!(m.value["containers"][0]["image"], "a:2");
    // Delete vs modify.
    let m = merge_values(&json!({"k": 1}), &json!({}), &json!({"k": 2}), &opts);
    assert_eq!(m.conflicts[0].ours, None);
    // Positional arrays merge as sequences.
    let m = merge_values(
        &json!([1, 2, 3, 4, 5]),
        &json!([0, 1, 2, 3, 4, 5]),
        &json!([1, 2, 3, 4, 5, 6]),
        &opts,
    );
    assert_eq!(
        (m.is_clean(), m.value.clone()),
        (true, json!([0, 1, 2, 3, 4, 5, 6]))
    );
}
