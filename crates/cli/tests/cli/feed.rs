//! `blocksmith feed ...`, run as a user would. Goes in
//! `crates/cli/tests/cli/feed.rs` with `mod feed;` in `tests/cli/main.rs`,
//! whose `run` and `json` helpers it uses.

use super::{json, run};

#[test]
fn feed_simulate_timeline_stats() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = run(
        d,
        &[
            "feed",
            "simulate",
            "--users",
            "300",
            "--posts",
            "3000",
            "--threshold",
            "40",
            "--save",
            "net",
            "--json",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let v = json(&o);
    assert_eq!(v["users"], 300);
    assert!(v["posts"].as_u64().unwrap() >= 3000);
    assert!(v["celebrities"].as_u64().unwrap() > 0);
    assert!(v["pulled_posts"].as_u64().unwrap() > 0);
    assert_eq!(v["hybrid_equals_pull"], true);
    assert_eq!(v["timelines"].as_array().unwrap().len(), 2);
    let user = v["timelines"][0]["user"].as_u64().unwrap().to_string();
    let first = &v["timelines"][0]["items"];
    assert_eq!(first.as_array().unwrap().len(), 10);

    // The saved feed serves the same first page, then the next one.
    let now = v["now"].as_i64().unwrap().to_string();
    let o = run(
        d,
        &["feed", "timeline", "net", &user, "--now", &now, "--json"],
    );
    assert!(o.status.success(), "{o:?}");
    let page = json(&o);
    assert_eq!(&page["items"], first);
    let cursor = page["next"].as_str().unwrap().to_string();
    let o = run(
        d,
        &[
            "feed", "timeline", "net", &user, "--cursor", &cursor, "--json",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let next = json(&o);
    assert_eq!(next["new_since"], 0);
    let seen: Vec<_> = first
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["post"])
        .collect();
    for i in next["items"].as_array().unwrap() {
        assert!(!seen.contains(&&i["post"]), "duplicate across pages");
    }
    // A tampered cursor is bad input; an unknown feed is not found.
    let mut forged = cursor.clone();
    let c = if forged.ends_with('A') { "B" } else { "A" };
    forged.replace_range(forged.len() - 1.., c);
    let o = run(d, &["feed", "timeline", "net", &user, "--cursor", &forged]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let o = run(d, &["feed", "timeline", "nope", "1"]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    let o = run(d, &["feed", "stats", "net", "--json"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)["users"], 300);
    // Human output names the timelines.
    let o = run(d, &["feed", "simulate", "--users", "50", "--posts", "300"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("timeline of u") && text.contains("hybrid == pull"),
        "{text}"
    );
}
