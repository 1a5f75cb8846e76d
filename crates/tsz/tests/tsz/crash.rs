//! A crash at every store operation of a series' life (appends that seal
//! chunks, flushes of the head), under every fault kind, then a restart from
//! the store alone: everything acknowledged is there, the series reads back
//! as one of the states it went through, and it carries on.

use blocksmith_store::testing::{CrashPoint, CrashTest, Fault, crash_at_every_operation};
use blocksmith_store::{DirStore, MemoryStore, Store, block_on};
use blocksmith_tsz::series::{Series, SeriesOptions};
use blocksmith_tsz::{Point, TimeUnit};

const N: usize = 30;

fn cfg() -> SeriesOptions {
    SeriesOptions::new(TimeUnit::Seconds).with_max_points(8)
}

fn points() -> Vec<Point> {
    (0..N).map(|i| (i as i64 * 10, i as f64 * 1.25)).collect()
}

/// What the writer saw: points `..acked` were acknowledged durable (by a
/// flush, or by an append that sealed them), points `..attempted` were
/// handed to the series.
#[derive(Debug, Default, Clone, Copy)]
struct Log {
    acked: usize,
    attempted: usize,
}

fn workload<S: Store>(store: S) -> Log {
    let mut log = Log::default();
    let Ok(mut s) = block_on(Series::open(store, "cpu", cfg())) else {
        return log;
    };
    for (i, &(t, v)) in points().iter().enumerate() {
        log.attempted = i + 1;
        let sealed = s.sealed_chunks();
        if block_on(s.append(t, v)).is_err() {
            return log;
        }
        if s.sealed_chunks() > sealed {
            log.acked = i + 1;
        }
        // Flush now and then, in the middle of chunks too.
        if i % 5 == 2 {
            if block_on(s.flush()).is_err() {
                return log;
            }
            log.acked = i + 1;
        }
    }
    if block_on(s.flush()).is_ok() {
        log.acked = N;
    }
    log
}

/// Whether the fault tore a record the series overwrites in place (its
/// meta record or its head). The `Store` contract makes puts atomic, so
/// no conforming backend can do that; the series must then still never
/// serve wrong data, but it may refuse to open with a typed error.
fn tore_in_place(point: &CrashPoint) -> bool {
    point.plan.fault == Fault::Tear
        && point
            .operation
            .as_ref()
            .is_some_and(|op| !op.key.contains("/chunks/"))
}

fn check<S: Store>(inner: &S, log: Log, point: &CrashPoint) {
    let all = points();
    let s = match block_on(Series::open(inner, "cpu", cfg())) {
        Ok(s) => s,
        Err(e) if tore_in_place(point) => {
            eprintln!("{point}: typed error after a torn in-place record: {e}");
            return;
        }
        Err(e) => panic!("{point}: restart failed: {e}"),
    };
    let (got, _) = block_on(s.range(i64::MIN, i64::MAX))
        .unwrap_or_else(|e| panic!("{point}: reading back failed: {e}"));
    let k = got.len();
    assert!(
        (log.acked..=log.attempted).contains(&k),
        "{point}: {k} points back, {} acknowledged, {} attempted",
        log.acked,
        log.attempted
    );
    assert_eq!(got, all[..k], "{point}: not the points written, in order");
    assert_eq!(s.len(), k as u64, "{point}");
    // The restarted series carries on from there.
    let mut s = s;
    for &(t, v) in &all[k..] {
        block_on(s.append(t, v)).unwrap_or_else(|e| panic!("{point}: append after restart: {e}"));
    }
    block_on(s.flush()).unwrap();
    let again = block_on(Series::open(inner, "cpu", cfg())).unwrap();
    let (got, _) = block_on(again.range(i64::MIN, i64::MAX)).unwrap();
    assert_eq!(got, all, "{point}: after carrying on");
}

#[test]
fn series_survives_a_crash_at_every_store_operation() {
    let report = crash_at_every_operation(
        MemoryStore::new,
        |store| workload(store),
        |inner, log, point| check(&inner, log, point),
    );
    assert!(report.operations > 20, "{report:?}");
}

/// The same over a real directory store (whose puts cannot tear).
#[test]
fn series_on_a_dir_store_survives_lost_acknowledgements() {
    let root = tempfile::tempdir().unwrap();
    let mut n = 0;
    let report = CrashTest::new().with_faults([Fault::FailAfter]).run(
        || {
            n += 1;
            DirStore::open(root.path().join(n.to_string())).unwrap()
        },
        |store| workload(store),
        |inner, log, point| check(&inner, log, point),
    );
    assert!(report.crashes > 20, "{report:?}");
}
