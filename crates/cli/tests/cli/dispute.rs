//! `blocksmith dispute ...`.

use crate::{json, run};

#[test]
fn dispute_open_evidence_submit_events_ledger_due() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let open = [
        "--json",
        "dispute",
        "open",
        "--charge",
        "ch_42",
        "--amount",
        "4999",
        "--currency",
        "EUR",
        "--network",
        "visa",
        "--reason",
        "13.1",
    ];
    let o = run(d, &open);
    assert!(o.status.success(), "{o:?}");
    let v = json(&o);
    assert_eq!(v["status"], "needs_response");
    assert_eq!(v["missing"].as_array().unwrap().len(), 2);
    // Incomplete: refused, naming what is missing (exit 2).
    let o = run(d, &["dispute", "submit", "dp_ch_42"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("proof_of_delivery"));
    let pod = d.join("pod.pdf");
    std::fs::write(&pod, b"%PDF-1.4 proof of delivery").unwrap();
    let o = run(
        d,
        &[
            "--json",
            "dispute",
            "evidence",
            "dp_ch_42",
            "--add",
            "proof_of_delivery",
            pod.to_str().unwrap(),
            "--field",
            "tracking_number=1Z9",
            "--field",
            "delivered_on=2026-12-01",
            "--by",
            "ada",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)["evidence"][0]["content"]["type"], "file");
    let o = run(
        d,
        &[
            "dispute", "evidence", "dp_ch_42", "--add", "receipt", "Order 42",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let o = run(d, &["--json", "dispute", "submit", "dp_ch_42"]);
    assert_eq!(json(&o)["status"], "under_review");
    let o = run(d, &["dispute", "submit", "dp_ch_42"]);
    assert_eq!(o.status.code(), Some(4), "single use: {o:?}");
    // Events from a file, one delivered twice.
    let ev = r#"{"id":"evt_2","dispute":"dp_ch_42","sequence":2,"at_ms":1796600000000,
        "kind":{"type":"funds_withdrawn","amount":{"amount":4999,"currency":"EUR"},
        "fee":{"amount":1500,"currency":"EUR"}}}"#;
    std::fs::write(d.join("ev.json"), format!("[{ev},{ev}]")).unwrap();
    let o = run(
        d,
        &[
            "--json",
            "dispute",
            "event",
            "dp_ch_42",
            d.join("ev.json").to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)["events"][1]["duplicate"], true);
    let o = run(d, &["--json", "dispute", "ledger", "dp_ch_42"]);
    let v = json(&o);
    assert_eq!(
        (v["held"].as_i64(), v["balanced"].as_bool()),
        (Some(4999), Some(true))
    );
    // The due queue: one open dispute awaiting a response.
    let o = run(
        d,
        &[
            "dispute",
            "open",
            "--charge",
            "ch_43",
            "--amount",
            "100",
            "--currency",
            "USD",
            "--network",
            "amex",
            "--reason",
            "C08",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let o = run(d, &["--json", "dispute", "due", "--within", "60d"]);
    let rows = json(&o);
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["id"], "dp_ch_43");
    let o = run(d, &["--json", "dispute", "show", "dp_nope"]);
    assert_eq!(o.status.code(), Some(3));
    let o = run(d, &["--json", "dispute", "due", "--within", "7w"]);
    assert_eq!(o.status.code(), Some(2));
}
