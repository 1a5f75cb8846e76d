//! The window checkpoint's crash promise, checked with the store's fault
//! injector: two keyed jobs (sessions with late updates, sliding distinct
//! counts with a side output) restore their checkpoints, process a stream
//! with late and out-of-order events and checkpoint every few events; a crash
//! (or a lost acknowledgement, or a torn put) hits every store operation in
//! turn. Restarted from the store alone, each job restores the last
//! acknowledged checkpoint or the one in flight, never anything else, and
//! replaying the stream from the restored job's position gives exactly what
//! an uninterrupted job gives.

use super::Rng;
use blocksmith_sketch::aggregate::{Aggregator, DistinctCount, Welford};
use blocksmith_sketch::window::{LatePolicy, WindowKind, WindowOptions, Windowed};
use blocksmith_store::testing::{CrashPoint, Fault, OpKind, crash_at_every_operation};
use blocksmith_store::{MemoryStore, Store, block_on};

const EVENTS: usize = 150;
/// Events between checkpoints.
const EVERY: usize = 25;

/// A deterministic stream: four keys, event times drifting forward with
/// jitter, so events arrive out of order, some late, and a few (one in ten)
/// so late that their window is gone.
fn events() -> Vec<(u64, i64, f64)> {
    let mut rng = Rng(0x5eed_c4a5);
    let mut t = 0i64;
    (0..EVENTS)
        .map(|i| {
            t += (rng.next_u64() % 40) as i64;
            let jitter = if i % 10 == 9 { 700 } else { 0 } + (rng.next_u64() % 250) as i64;
            (rng.next_u64() % 4, t - jitter, rng.uniform() * 100.0)
        })
        .collect()
}

/// One of the jobs the workload checkpoints.
struct Spec<I, A> {
    name: &'static str,
    make: fn() -> Windowed<u64, I, A>,
    input: fn(f64) -> I,
}

fn sessions() -> Spec<f64, Welford> {
    Spec {
        name: "sessions",
        make: || {
            let opts = WindowOptions::new(WindowKind::Session { gap: 120 })
                .with_allowed_lateness(100)
                .with_late_policy(LatePolicy::Update)
                .with_update_retention(300);
            Windowed::new(opts).unwrap()
        },
        input: |v| v,
    }
}

fn uniques() -> Spec<u64, DistinctCount> {
    Spec {
        name: "uniques",
        make: || {
            let opts = WindowOptions::new(WindowKind::Sliding {
                size: 600,
                slide: 200,
            })
            .with_allowed_lateness(100)
            .with_late_policy(LatePolicy::SideOutput);
            Windowed::with_aggregator(opts, DistinctCount::new(8)).unwrap()
        },
        input: |v| (v * 10.0) as u64,
    }
}

/// What the workload saw of one job's checkpoints: the stream position
/// (events processed) of the last one acknowledged and of the one in
/// flight when the crash hit.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    acked: Option<usize>,
    inflight: Option<usize>,
}

/// One job's life: restore (nothing yet), then process the stream and
/// checkpoint every `EVERY` events. Returns false once the store failed.
fn run_job<I, A, S>(
    spec: &Spec<I, A>,
    store: &S,
    chunk: usize,
    job: &mut Windowed<u64, I, A>,
    seen: &mut Seen,
) -> bool
where
    I: Clone,
    A: Aggregator<I> + Sync,
    S: Store,
{
    for &(k, t, v) in &events()[chunk * EVERY..(chunk + 1) * EVERY] {
        job.process(k, t, (spec.input)(v)).unwrap();
    }
    let at = (chunk + 1) * EVERY;
    seen.inflight = Some(at);
    if block_on(job.save(store, spec.name)).is_err() {
        return false;
    }
    seen.acked = Some(at);
    seen.inflight = None;
    true
}

fn workload<S: Store>(store: &S) -> (Seen, Seen) {
    let (s, u) = (sessions(), uniques());
    let mut seen = (Seen::default(), Seen::default());
    // A job starts from its checkpoint (there is none yet).
    let Ok(None) = block_on(Windowed::<u64, f64, Welford>::load(store, s.name)) else {
        return seen;
    };
    let Ok(None) = block_on(Windowed::<u64, u64, DistinctCount>::load(store, u.name)) else {
        return seen;
    };
    let (mut js, mut ju) = ((s.make)(), (u.make)());
    for chunk in 0..EVENTS / EVERY {
        if !run_job(&s, store, chunk, &mut js, &mut seen.0)
            || !run_job(&u, store, chunk, &mut ju, &mut seen.1)
        {
            break;
        }
    }
    seen
}

/// Feeds `events[from..]` to `job` and to `uninterrupted` side by side,
/// then ends the stream: every output, counter, watermark and state size
/// must agree.
fn lockstep<I, A>(
    spec: &Spec<I, A>,
    mut job: Windowed<u64, I, A>,
    mut uninterrupted: Windowed<u64, I, A>,
    from: usize,
    what: &str,
) where
    I: Clone + PartialEq + std::fmt::Debug,
    A: Aggregator<I>,
{
    for (i, &(k, t, v)) in events().iter().enumerate().skip(from) {
        let got = job.process(k, t, (spec.input)(v)).unwrap();
        let want = uninterrupted.process(k, t, (spec.input)(v)).unwrap();
        let same = got == want
            && job.stats() == uninterrupted.stats()
            && job.watermark() == uninterrupted.watermark()
            && job.state_windows() == uninterrupted.state_windows();
        assert!(
            same,
            "{what}: differs from the uninterrupted job at event {i}"
        );
    }
    assert!(
        job.flush() == uninterrupted.flush(),
        "{what}: differs at the end"
    );
}

/// The uninterrupted job after `events[..k]`.
fn reference<I: Clone, A: Aggregator<I>>(spec: &Spec<I, A>, k: usize) -> Windowed<u64, I, A> {
    let mut job = (spec.make)();
    for &(key, t, v) in &events()[..k] {
        job.process(key, t, (spec.input)(v)).unwrap();
    }
    job
}

/// Whether the fault tore this job's checkpoint record (overwritten in
/// place). The `Store` contract makes puts atomic, so no conforming backend
/// can do that; restoring must then still never give a wrong job, but it
/// may fail with a typed error.
fn tore(point: &CrashPoint, name: &str) -> bool {
    point.plan.fault == Fault::Tear
        && point
            .operation
            .as_ref()
            .is_some_and(|op| op.kind == OpKind::Put && op.key.ends_with(&format!("/{name}")))
}

fn check_job<I, A>(spec: &Spec<I, A>, inner: &MemoryStore, seen: Seen, point: &CrashPoint)
where
    I: Clone + PartialEq + std::fmt::Debug,
    A: Aggregator<I> + Sync,
{
    let name = spec.name;
    let restored = match block_on(Windowed::<u64, I, A>::load(inner, name)) {
        Ok(r) => r,
        Err(e) if tore(point, name) => {
            eprintln!("{point}: {name}: typed error after a torn checkpoint: {e}");
            return;
        }
        Err(e) => panic!("{point}: {name}: restore failed: {e}"),
    };
    let Some(job) = restored else {
        assert!(
            seen.acked.is_none(),
            "{point}: {name}: acknowledged checkpoint lost ({seen:?})"
        );
        return;
    };
    let at = job.stats().events as usize;
    assert!(
        Some(at) == seen.acked || Some(at) == seen.inflight,
        "{point}: {name}: restored at event {at}, acknowledged {seen:?}"
    );
    // The restored job is the uninterrupted one at that point, and the
    // restarted job carries on: it checkpoints again, and processes the rest
    // of the stream (replayed from its position) as if never stopped.
    let uninterrupted = reference(spec, at);
    block_on(job.save(inner, name))
        .unwrap_or_else(|e| panic!("{point}: {name}: save after restart: {e}"));
    let again = block_on(Windowed::<u64, I, A>::load(inner, name))
        .unwrap()
        .unwrap();
    let what = format!("{point}: {name} restored at event {at}");
    lockstep(spec, job, uninterrupted.clone(), at, &what);
    lockstep(
        spec,
        again,
        uninterrupted,
        at,
        &format!("{what}, saved again"),
    );
}

#[test]
fn window_checkpoints_survive_a_crash_at_every_store_operation() {
    // The stream exercises late updates, side outputs and many windows.
    let s = reference(&sessions(), EVENTS).stats();
    assert!(
        s.late_updates > 0 && s.late_dropped > 0 && s.fired > 20,
        "{s:?}"
    );
    let u = reference(&uniques(), EVENTS).stats();
    assert!(u.late_side > 0 && u.fired > 20, "{u:?}");
    let report = crash_at_every_operation(MemoryStore::new, workload, |inner, (s, u), point| {
        check_job(&sessions(), &inner, s, point);
        check_job(&uniques(), &inner, u, point);
    });
    // Two restores and two checkpoints per chunk.
    assert_eq!(
        report.operations,
        2 + 2 * (EVENTS / EVERY) as u64,
        "{report:?}"
    );
    assert_eq!(report.crashes, 3 * report.operations as usize, "{report:?}");
}
