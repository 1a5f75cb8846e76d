//! Several worker *processes* on one `DirStore` (compare-and-swap across
//! processes by `flock`): every instance completes, every step's effect
//! happens once, no transition twice. The test binary re-runs itself as
//! the workers. `BLOCKSMITH_FLOW_INSTANCES` sets the number of instances
//! (default 300; the bar is 10 000, run by hand for the figures).

use blocksmith_flow::{
    Engine, FlowOptions, HistoryKind, ListFilter, Registry, Saga, SagaPlan, SagaStep, StartOptions,
    Status,
};
use blocksmith_store::{DirStore, block_on};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const WORKER_ENV: &str = "BLOCKSMITH_FLOW_TEST_WORKER";
const WORKERS: usize = 4;

fn options() -> FlowOptions {
    FlowOptions::default()
        .with_shards(16)
        .with_lease_ms(3_000)
        .with_retention(None, None)
}

/// Effects are files created exclusively, named by the step's idempotency
/// key: a second run of the same attempt finds the file (deduplicated), and
/// `runs/` counts every run.
fn registry(effects: PathBuf) -> Registry {
    Registry::new()
        .with_workflow(Saga)
        .with_step_fn("effect", move |ctx| {
            let effects = effects.clone();
            async move {
                let name = ctx.idempotency_key.replace(':', "_");
                let _ = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(effects.join(&name));
                Ok(json!(null))
            }
        })
}

fn plan() -> SagaPlan {
    SagaPlan::new(
        (0..3)
            .map(|i| SagaStep::new(format!("s{i}"), "effect", json!({})))
            .collect(),
    )
}

fn worker(dir: &Path) {
    let store = DirStore::open(dir.join("store")).unwrap();
    let engine = Engine::new(&store, registry(dir.join("effects"))).with_options(options());
    let mut w = engine.worker("proc").unwrap();
    let stop = dir.join("stop");
    while !stop.exists() {
        let r = block_on(w.tick()).unwrap();
        if r.transitions == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    block_on(w.release()).unwrap();
}

#[test]
fn worker_processes_share_one_dir_store() {
    if let Ok(dir) = std::env::var(WORKER_ENV) {
        worker(Path::new(&dir));
        return;
    }
    let n: usize = std::env::var("BLOCKSMITH_FLOW_INSTANCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir_all(dir.join("effects")).unwrap();
    let store = DirStore::open(dir.join("store")).unwrap();
    let engine = Engine::new(&store, registry(dir.join("effects"))).with_options(options());
    let t0 = Instant::now();
    block_on(async {
        for i in 0..n {
            engine
                .start::<Saga>(&plan(), StartOptions::default().with_id(format!("i{i}")))
                .await
                .unwrap();
        }
    });
    let started = t0.elapsed();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..WORKERS)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "processes::worker_processes_share_one_dir_store",
                    "--nocapture",
                ])
                .env(WORKER_ENV, dir)
                .spawn()
                .unwrap()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let done = block_on(engine.list(&ListFilter::default().with_status(Status::Completed)))
            .unwrap()
            .len();
        if done == n {
            break;
        }
        assert!(Instant::now() < deadline, "{done} of {n} completed in time");
        std::thread::sleep(Duration::from_millis(200));
    }
    let ran = t0.elapsed().saturating_sub(started);
    std::fs::write(dir.join("stop"), b"").unwrap();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    // Every step's effect once (one file per step: a re-run of an attempt
    // would have found its file: the key is the same for every attempt).
    let effects: BTreeSet<String> = std::fs::read_dir(dir.join("effects"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(effects.len(), n * 3, "one effect per step");

    // No transition twice: each history has each step completed once.
    for i in 0..n {
        let h = block_on(engine.history(&format!("i{i}"))).unwrap();
        let done: Vec<&String> = h
            .iter()
            .filter_map(|e| match &e.kind {
                HistoryKind::StepCompleted { id, .. } => Some(id),
                _ => None,
            })
            .collect();
        assert_eq!(done.len(), 3, "i{i}: {done:?}");
        assert!(h.iter().enumerate().all(|(k, e)| e.seq == k as u64));
    }
    eprintln!(
        "{n} instances: started in {started:?}, run by {WORKERS} processes in {ran:?} ({:.0} transitions/s)",
        (n * 4) as f64 / ran.as_secs_f64()
    );
}
