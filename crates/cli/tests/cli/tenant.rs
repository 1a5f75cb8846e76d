//! `blocksmith tenant ...` and `blocksmith flow ...`.

use crate::{json, run};

#[test]
fn tenant_create_rolls_back_a_failed_step_then_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = run(
        d,
        &[
            "--json",
            "tenant",
            "create",
            "Acme Corp",
            "--plan",
            "pro",
            "--tier",
            "schema",
            "--fail-at",
            "billing",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let v = json(&o);
    assert_eq!(v["tenant"]["status"], "failed");
    assert_eq!(
        v["effects"],
        serde_json::json!([
            "allocate acme-corp",
            "migrate acme-corp",
            "release acme-corp"
        ])
    );
    // The slug is free: a second request takes it.
    let o = run(
        d,
        &[
            "--json",
            "tenant",
            "create",
            "acme-corp",
            "--plan",
            "pro",
            "--request-id",
            "r2",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)["tenant"]["status"], "active");
    // The workflows are listed and shown with their history.
    let o = run(d, &["--json", "flow", "list", "--state", "rolled_back"]);
    assert_eq!(json(&o).as_array().unwrap().len(), 1);
    let o = run(d, &["--json", "flow", "show", "tn-r2.provision"]);
    assert_eq!(json(&o)["instance"]["status"], "completed");
    assert!(json(&o)["history"].as_array().unwrap().len() > 10);
    // Lifecycle, with typed refusals.
    let o = run(d, &["tenant", "suspend", "acme-corp", "--reason", "unpaid"]);
    assert!(o.status.success(), "{o:?}");
    let o = run(d, &["tenant", "suspend", "acme-corp"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let o = run(d, &["tenant", "show", "nope-nope"]);
    assert_eq!(o.status.code(), Some(3), "{o:?}");
    let o = run(d, &["tenant", "create", "www"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let o = run(d, &["--json", "tenant", "show", "acme-corp"]);
    let actions: Vec<String> = json(&o)["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["create", "provision", "activate", "suspend"]);
    let o = run(d, &["--json", "flow", "tick"]);
    assert!(o.status.success(), "{o:?}");
}
