//! `blocksmith receipts ...`.

use crate::{json, run};

#[test]
fn simulate_then_read_status_and_unread() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = run(
        d,
        &[
            "--json",
            "receipts",
            "simulate",
            "--conversations",
            "4",
            "--members",
            "6",
            "--messages",
            "12",
            "--seed",
            "7",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let sim = json(&o);
    assert_eq!(
        (sim["conversations"].as_u64(), sim["messages"].as_u64()),
        (Some(4), Some(12))
    );
    assert!(sim["updates"].as_u64().unwrap() > 100, "{sim}");
    assert!(sim["writes"].as_u64().unwrap() >= 4, "{sim}");
    assert!(
        sim["aggregator_bytes_per_pair"].as_f64().unwrap() <= 16.0,
        "{sim}"
    );

    // The newest message of sim-0: who sent it, and a member who has not read it.
    let o = run(
        d,
        &[
            "--json", "receipts", "status", "sim-0", "12", "--limit", "100",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let st = json(&o);
    let sender = st["sender"].as_u64().unwrap();
    let readers = st["read_by"].as_array().unwrap().len() as u64;
    assert_eq!(st["read"].as_u64(), Some(readers));
    let delivered: Vec<u64> = st["delivered_to"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(st["delivered"].as_u64(), Some(delivered.len() as u64));

    // A recipient who has not read it (and shows reads: the simulation
    // hides the reads of users n % 10 == 3 and makes those of n % 7 == 5
    // private) reads it: the count moves by one.
    let read_by: Vec<u64> = st["read_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let u = delivered
        .into_iter()
        .find(|u| !read_by.contains(u) && *u != sender && u % 10 != 3 && u % 7 != 5)
        .expect("a recipient who has not read message 12 (seed 7)");
    let o = run(
        d,
        &["--json", "receipts", "read", "sim-0", &u.to_string(), "12"],
    );
    assert!(o.status.success(), "{o:?}");
    let r = json(&o);
    assert_eq!(
        (r["moved"].as_bool(), r["read"].as_u64()),
        (Some(true), Some(12))
    );
    let o = run(d, &["--json", "receipts", "status", "sim-0", "12"]);
    assert_eq!(json(&o)["read"].as_u64(), Some(readers + 1));
    // Stale: never moves back.
    let o = run(
        d,
        &["--json", "receipts", "read", "sim-0", &u.to_string(), "3"],
    );
    let r = json(&o);
    assert_eq!(
        (r["moved"].as_bool(), r["read"].as_u64()),
        (Some(false), Some(12))
    );
    // The reader's badge no longer counts sim-0's message 12.
    let o = run(d, &["--json", "receipts", "unread", &u.to_string()]);
    assert!(o.status.success(), "{o:?}");
    let unread = json(&o);
    assert!(
        unread["unread"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["conversation"] != "sim-0"),
        "{unread}"
    );
    // Human output names the counts.
    let o = run(d, &["receipts", "status", "sim-0", "12"]);
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("read by") && text.contains("delivered to"),
        "{text}"
    );
}

#[test]
fn reading_commands_need_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(dir.path(), &["--json", "receipts", "unread", "1"]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    assert!(!dir.path().join("blocksmith.redb").exists());
}
