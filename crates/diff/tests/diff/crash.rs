//! A crash at every store operation of a config history's life (commits,
//! a proposal through submit, approve, apply and rollback, a rejected
//! proposal, a revert), under every fault kind, then a restart from the
//! store alone: every step acknowledged is there, the step in flight took
//! effect or did not (an apply or rollback cut short is completed by calling
//! it again, without a second version), and the history carries on.

use blocksmith_diff::history::{ConfigStore, HistoryOptions, ProposalStatus, VersionOrigin};
use blocksmith_diff::value::Format;
use blocksmith_store::testing::{CrashPoint, Fault, crash_at_every_operation};
use blocksmith_store::{MemoryStore, Store, block_on};

fn clock() -> u64 {
    1_764_201_600_000
}

fn configs<S: Store>(store: S) -> ConfigStore<S> {
    ConfigStore::new(store, HistoryOptions::default().with_clock(clock))
}

const WEB1: &str = "replicas: 2\npassword: a\n";
const WEB2: &str = "replicas: 2\npassword: b\n";
const WEB3: &str = "replicas: 3\npassword: b\n";
const DB1: &str = "size: 10\n";
const DB2: &str = "size: 20\n";
const STEPS: usize = 11;

/// The id of the proposal of `content` (ids are not part of the model: a
/// propose cut short after taking a number leaves a gap).
async fn id_of<S: Store>(c: &ConfigStore<S>, content: &str) -> blocksmith_diff::Result<String> {
    let p = c.proposals().await?;
    Ok(p.into_iter()
        .find(|p| p.content == content)
        .map(|p| p.id)
        .expect("proposed"))
}

/// Step `k` of the workload.
async fn step<S: Store>(c: &ConfigStore<S>, k: usize) -> blocksmith_diff::Result<()> {
    let y = Some(Format::Yaml);
    match k {
        0 => drop(c.commit("web", WEB1, y, "ada", "first").await?),
        1 => drop(c.commit("web", WEB2, y, "ada", "rotate").await?),
        2 => drop(c.propose("web", WEB3, y, "ada", "scale up").await?),
        3 => drop(c.submit(&id_of(c, WEB3).await?, "ada").await?),
        4 => drop(c.approve(&id_of(c, WEB3).await?, "bob").await?),
        5 => drop(c.apply(&id_of(c, WEB3).await?, "ada").await?),
        6 => drop(c.commit("db", DB1, y, "ada", "db").await?),
        7 => drop(c.propose("db", DB2, y, "ada", "grow").await?),
        8 => drop(c.reject(&id_of(c, DB2).await?, "bob", "too big").await?),
        9 => drop(c.rollback(&id_of(c, WEB3).await?, "ada").await?),
        10 => drop(c.revert("web", "ada", None).await?),
        _ => unreachable!(),
    }
    Ok(())
}

/// What a restart reads: each config's versions (number, content, origin
/// kind) and each proposal (config, content, status, applied version,
/// approvals), without ids and times.
type Summary = (Vec<(String, u64, String, &'static str)>, Vec<String>);

async fn summary<S: Store>(c: &ConfigStore<S>) -> blocksmith_diff::Result<Summary> {
    let mut versions = Vec::new();
    for name in c.names().await? {
        for v in c.history(&name).await? {
            let origin = match v.origin {
                VersionOrigin::Commit => "commit",
                VersionOrigin::Revert { .. } => "revert",
                VersionOrigin::Proposal { .. } => "proposal",
                VersionOrigin::Rollback { .. } => "rollback",
            };
            versions.push((name.clone(), v.version, v.content, origin));
        }
        // The head agrees with the history.
        let head = c.head(&name).await?.map(|h| h.version);
        assert_eq!(head, versions.last().map(|v| v.1));
    }
    let mut proposals: Vec<String> = c
        .proposals()
        .await?
        .into_iter()
        .map(|p| {
            format!(
                "{} {:?} {:?} {:?} {:?}",
                p.config, p.content, p.status, p.applied_version, p.approvals
            )
        })
        .collect();
    proposals.sort();
    Ok((versions, proposals))
}

/// The summary after each number of steps, from a run without faults.
fn expected() -> Vec<Summary> {
    block_on(async {
        let c = configs(MemoryStore::new());
        let mut out = vec![summary(&c).await.unwrap()];
        for k in 0..STEPS {
            step(&c, k).await.unwrap();
            out.push(summary(&c).await.unwrap());
        }
        let p = c.proposal(&id_of(&c, WEB3).await.unwrap()).await.unwrap();
        assert_eq!(p.status, ProposalStatus::RolledBack);
        out
    })
}

/// Runs the steps; returns how many were acknowledged.
fn workload<S: Store>(store: S) -> usize {
    let c = configs(store);
    (0..STEPS)
        .find(|&k| block_on(step(&c, k)).is_err())
        .unwrap_or(STEPS)
}

/// Whether the fault tore a record. Every key here is a record, and the
/// `Store` contract makes puts atomic, so no conforming backend can do
/// that; reading must then never give a wrong history, but may fail with
/// a typed error.
fn torn(point: &CrashPoint) -> bool {
    point.plan.fault == Fault::Tear
        && point
            .operation
            .as_ref()
            .is_some_and(|op| op.to_string().starts_with("put"))
}

fn check<S: Store>(inner: S, acked: usize, point: &CrashPoint, expected: &[Summary]) {
    let c = configs(inner);
    match block_on(restart(&c, acked, point, expected)) {
        Ok(()) => {}
        Err(e) if torn(point) => eprintln!("{point}: typed error after a torn record: {e}"),
        Err(e) => panic!("{point}: after the restart: {e}"),
    }
}

async fn restart<S: Store>(
    c: &ConfigStore<S>,
    acked: usize,
    point: &CrashPoint,
    expected: &[Summary],
) -> blocksmith_diff::Result<()> {
    let got = summary(c).await?;
    let mut done = acked;
    if acked < STEPS {
        if got == expected[acked + 1] {
            done = acked + 1; // the step in flight took effect
        } else {
            if got != expected[acked] {
                // Only an apply or a rollback may be cut short between
                // its version and its proposal update.
                assert!(
                    acked == 5 || acked == 9,
                    "{point}: step {acked} left another state: {got:#?}"
                );
            }
            // Again, after the restart: completed, exactly once.
            step(c, acked).await?;
            done = acked + 1;
        }
    } else {
        assert_eq!(got, expected[STEPS], "{point}");
    }
    assert_eq!(summary(c).await?, expected[done], "{point}");
    // The history carries on.
    for k in done..STEPS {
        step(c, k).await?;
    }
    assert_eq!(summary(c).await?, expected[STEPS], "{point}");
    Ok(())
}

#[test]
fn history_survives_a_crash_at_every_store_operation() {
    let expected = expected();
    let report = crash_at_every_operation(
        MemoryStore::new,
        |store| workload(store),
        |inner, acked, point| check(inner, acked, point, &expected),
    );
    assert!(report.operations > 40, "{report:?}");
}
