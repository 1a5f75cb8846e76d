//! Config change management in miniature: commit a service config, change it
//! through a reviewed proposal, detect drift between what is desired and what
//! runs (secrets masked in every output), then roll the change back.
//!
//! ```text
//! cargo run --example config_drift
//! ```

use blocksmith::diff::history::{ConfigStore, HistoryOptions, ProposalStatus};
use blocksmith::diff::value::Format;
use blocksmith::store::{RedbStore, Store, block_on};
use std::error::Error;

const V1: &str = "\
service: checkout
replicas: 2
database:
  host: db-1.internal
  password: correct-horse
containers:
  - name: app
    image: shop/checkout:1.8.2
    env:
      - {name: LOG_LEVEL, value: info}
      - {name: STRIPE_API_TOKEN, value: sk_live_111}
  - name: proxy
    image: envoy:1.30
";

const V2: &str = "\
service: checkout
replicas: 3
database:
  host: db-2.internal
  password: battery-staple
containers:
  - name: proxy
    image: envoy:1.31
  - name: app
    image: shop/checkout:1.9.0
    env:
      - {name: LOG_LEVEL, value: info}
      - {name: STRIPE_API_TOKEN, value: sk_live_222}
";

/// What actually runs: someone scaled by hand and hot-patched the log level.
const OBSERVED: &str = r#"{
  "service": "checkout",
  "replicas": 5,
  "database": {"host": "db-2.internal", "password": "battery-staple"},
  "containers": [
    {"name": "proxy", "image": "envoy:1.31"},
    {"name": "app", "image": "shop/checkout:1.9.0",
     "env": [{"name": "LOG_LEVEL", "value": "debug"}, {"name": "STRIPE_API_TOKEN", "value": "sk_live_222"}]}
  ]
}"#;

const SECRETS: [&str; 4] = [
    "correct-horse",
    "battery-staple",
    "sk_live_111",
    "sk_live_222",
];

/// Runs the demo on `store` and returns a one-line summary.
pub(crate) fn demo<S: Store>(store: S) -> Result<String, Box<dyn Error>> {
    block_on(async {
        let configs = ConfigStore::new(store, HistoryOptions::default().with_required_approvals(2));
        let v1 = configs
            .commit("checkout", V1, Some(Format::Yaml), "ada", "initial deploy")
            .await?;

        // A reviewed change: propose, submit, two approvals, apply.
        let p = configs
            .propose(
                "checkout",
                V2,
                Some(Format::Yaml),
                "ada",
                "scale out, new db, bump images",
            )
            .await?;
        configs.submit(&p.id, "ada").await?;
        configs.approve(&p.id, "bob").await?;
        let p = configs.approve(&p.id, "carol").await?;
        assert_eq!(p.status, ProposalStatus::Approved);
        let p = configs.apply(&p.id, "ada").await?;
        let v2 = p
            .applied_version
            .ok_or("proposal applied without a version")?;
        let change = configs.diff("checkout", v1.version, v2).await?;
        let (added, removed, modified, moved) = change
            .changes
            .as_ref()
            .map(blocksmith::diff::structured::StructuredDiff::counts)
            .unwrap_or_default();

        // Drift: desired (head, YAML) against observed (JSON from the running system).
        let drift = configs
            .drift("checkout", OBSERVED, Some(Format::Json))
            .await?;
        let drifted = drift.diff.changes.as_ref().map_or(0, |c| c.changes.len());

        // Every output is redacted.
        let outputs = [
            change.report.clone(),
            change.unified.clone(),
            serde_json::to_string(&change)?,
            drift.diff.report.clone(),
            drift.diff.unified.clone(),
            serde_json::to_string(&drift)?,
        ]
        .concat();
        let leaks = SECRETS.iter().filter(|s| outputs.contains(*s)).count();

        // Undo the proposal in one step.
        let p = configs.rollback(&p.id, "ada").await?;
        let head = configs.head("checkout").await?.ok_or("no head")?;
        let history = configs.history("checkout").await?;
        Ok(format!(
            "diff    checkout: {} versions; proposal {} approved by {} and applied as v{v2} \
             ({modified} modified, {added} added, {removed} removed, {moved} moved); \
             drift vs running: {drifted} changes ({}); secrets leaked in outputs: {leaks}; \
             proposal {} -> v{} restores v1 ({})",
            history.len(),
            p.id,
            p.approvals.len(),
            drift.diff.report.trim_end().replace('\n', ", "),
            p.status,
            head.version,
            if head.hash == v1.hash {
                "hash matches"
            } else {
                "HASH DIFFERS"
            },
        ))
    })
}

#[allow(dead_code)] // also compiled into the tour, which has its own main
fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/config_drift");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = RedbStore::open(dir.join("configs.redb"))?;
    println!("{}", demo(&store)?);
    Ok(())
}
