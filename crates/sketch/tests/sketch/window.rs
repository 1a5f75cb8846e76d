use super::Rng;
use blocksmith_sketch::aggregate::{Count, DistinctCount, Moments, Welford};
use blocksmith_sketch::window::{
    Emission, LatePolicy, Window, WindowKind, WindowOptions, Windowed,
};
use blocksmith_store::{MemoryStore, block_on};

type CountJob = Windowed<&'static str, (), Count>;

fn fired<K: Clone, I, O: Clone>(out: &[Emission<K, I, O>]) -> Vec<(K, Window, O)> {
    out.iter()
        .filter_map(|e| match e {
            Emission::Fired {
                key,
                window,
                output,
            } => Some((key.clone(), *window, output.clone())),
            _ => None,
        })
        .collect()
}

fn w(start: i64, end: i64) -> Window {
    Window { start, end }
}

#[test]
fn tumbling_windows_fire_when_the_watermark_passes_their_end() {
    let opts = WindowOptions::new(WindowKind::Tumbling { size: 10 }).with_allowed_lateness(5);
    let mut job = CountJob::new(opts).unwrap();
    let mut out = Vec::new();
    for (k, t) in [("a", 1), ("b", 3), ("a", 9), ("a", 12), ("b", 8), ("a", 14)] {
        out.extend(job.process(k, t, ()).unwrap());
    }
    // Watermark 14 - 5 = 9: nothing fired yet; t=8 for b was on time.
    assert!(fired(&out).is_empty());
    out.extend(job.process("a", 15, ()).unwrap()); // watermark 10 >= end 10
    assert_eq!(fired(&out), [("a", w(0, 10), 2), ("b", w(0, 10), 2)]);
    out.clear();
    out.extend(job.process("b", 2, ()).unwrap()); // late: dropped
    assert_eq!(job.stats().late_dropped, 1);
    out.extend(job.flush());
    assert_eq!(fired(&out), [("a", w(10, 20), 3)]);
    assert_eq!(job.state_windows(), 0);
}

#[test]
fn sliding_windows_count_every_overlap() {
    let opts = WindowOptions::new(WindowKind::Sliding { size: 10, slide: 5 });
    let mut job = CountJob::new(opts).unwrap();
    let mut out = Vec::new();
    for t in [0, 4, 6, 11] {
        out.extend(job.process("k", t, ()).unwrap());
    }
    out.extend(job.flush());
    assert_eq!(
        fired(&out),
        [
            ("k", w(-5, 5), 2),
            ("k", w(0, 10), 3),
            ("k", w(5, 15), 2),
            ("k", w(10, 20), 1)
        ]
    );
}

#[test]
fn session_windows_merge_and_split_on_the_gap() {
    let opts = WindowOptions::new(WindowKind::Session { gap: 10 }).with_allowed_lateness(100);
    let mut job = CountJob::new(opts).unwrap();
    let mut out = Vec::new();
    // Two sessions [0, 15) and [40, 55), then an event at 20 that does not
    // bridge them and one at 30 that merges it with the second.
    for t in [0, 5, 40, 45, 20, 30] {
        out.extend(job.process("u", t, ()).unwrap());
    }
    out.extend(job.flush());
    assert_eq!(fired(&out), [("u", w(0, 15), 2), ("u", w(20, 55), 4)]);
}

#[test]
fn late_policies_drop_route_or_update() {
    let base = WindowOptions::new(WindowKind::Tumbling { size: 10 });
    let events = [
        ("a", 1),
        ("a", 25),
        ("a", 3),
        ("a", 26),
        ("a", 41),
        ("a", 4),
    ];
    let run = |opts: WindowOptions| {
        let mut job = CountJob::new(opts).unwrap();
        let mut out = Vec::new();
        for (k, t) in events {
            out.extend(job.process(k, t, ()).unwrap());
        }
        out.extend(job.flush());
        (out, job.stats())
    };
    let (out, stats) = run(base.clone());
    assert_eq!(stats.late_dropped, 2);
    assert_eq!(fired(&out)[0], ("a", w(0, 10), 1));

    let (out, stats) = run(base.clone().with_late_policy(LatePolicy::SideOutput));
    assert_eq!(stats.late_side, 2);
    let late: Vec<i64> = out
        .iter()
        .filter_map(|e| match e {
            Emission::Late { time, .. } => Some(*time),
            _ => None,
        })
        .collect();
    assert_eq!(late, [3, 4]);

    // Updates while retained (until watermark 10 + 20 = 30), dropped after.
    let (out, stats) = run(base
        .with_late_policy(LatePolicy::Update)
        .with_update_retention(20));
    let updates: Vec<(Window, u64)> = out
        .iter()
        .filter_map(|e| match e {
            Emission::Updated { window, output, .. } => Some((*window, *output)),
            _ => None,
        })
        .collect();
    assert_eq!(updates, [(w(0, 10), 2)]);
    assert_eq!((stats.late_updates, stats.late_dropped), (1, 1));
}

#[test]
fn idle_keys_leave_no_state_behind() {
    let opts = WindowOptions::new(WindowKind::Session { gap: 1_000 });
    let mut job: Windowed<u64, (), Count> = Windowed::new(opts).unwrap();
    let mut fired_count = 0;
    for i in 0..100_000u64 {
        // Each key is active once, then idle forever.
        fired_count += job.process(i, (i * 10) as i64, ()).unwrap().len();
        assert!(
            job.active_keys() <= 101,
            "state grew to {} keys",
            job.active_keys()
        );
    }
    assert!(fired_count >= 99_800);
    assert!(job.state_windows() <= 101);
}

/// A random, out-of-order stream: (key, time, value).
fn stream(seed: u64, n: usize) -> Vec<(u64, i64, f64)> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|i| {
            let jitter = (rng.uniform() * 400.0) as i64 - 300;
            (
                rng.next_u64() % 7,
                (i as i64) * 10 + jitter,
                rng.normal() * 5.0 + 50.0,
            )
        })
        .collect()
}

fn run_uninterrupted<A>(
    opts: &WindowOptions,
    events: &[(u64, i64, f64)],
    input: impl Fn(f64) -> A::Input,
) -> Vec<Emission<u64, A::Input, A::Out>>
where
    A: Job,
{
    let mut job = A::make(opts.clone());
    let mut out = Vec::new();
    for &(k, t, v) in events {
        out.extend(A::process(&mut job, k, t, input(v)));
    }
    out.extend(A::flush(&mut job));
    out
}

/// The two aggregators the checkpoint test runs, behind one interface.
trait Job {
    type Input: Clone + PartialEq + std::fmt::Debug;
    type Out: Clone + PartialEq + std::fmt::Debug;
    type W;
    fn make(opts: WindowOptions) -> Self::W;
    fn process(
        job: &mut Self::W,
        k: u64,
        t: i64,
        i: Self::Input,
    ) -> Vec<Emission<u64, Self::Input, Self::Out>>;
    fn flush(job: &mut Self::W) -> Vec<Emission<u64, Self::Input, Self::Out>>;
    fn save_restore(job: &Self::W, store: &MemoryStore) -> Self::W;
}

struct MeanJob;
impl Job for MeanJob {
    type Input = f64;
    type Out = Moments;
    type W = Windowed<u64, f64, Welford>;
    fn make(opts: WindowOptions) -> Self::W {
        Windowed::new(opts).unwrap()
    }
    fn process(job: &mut Self::W, k: u64, t: i64, i: f64) -> Vec<Emission<u64, f64, Moments>> {
        job.process(k, t, i).unwrap()
    }
    fn flush(job: &mut Self::W) -> Vec<Emission<u64, f64, Moments>> {
        job.flush()
    }
    fn save_restore(job: &Self::W, store: &MemoryStore) -> Self::W {
        block_on(job.save(store, "mean")).unwrap();
        block_on(Self::W::load(store, "mean")).unwrap().unwrap()
    }
}

struct UniqueJob;
impl Job for UniqueJob {
    type Input = u64;
    type Out = f64;
    type W = Windowed<u64, u64, DistinctCount>;
    fn make(opts: WindowOptions) -> Self::W {
        Windowed::with_aggregator(opts, DistinctCount::new(10)).unwrap()
    }
    fn process(job: &mut Self::W, k: u64, t: i64, i: u64) -> Vec<Emission<u64, u64, f64>> {
        job.process(k, t, i).unwrap()
    }
    fn flush(job: &mut Self::W) -> Vec<Emission<u64, u64, f64>> {
        job.flush()
    }
    fn save_restore(job: &Self::W, store: &MemoryStore) -> Self::W {
        block_on(job.save(store, "unique")).unwrap();
        block_on(Self::W::load(store, "unique")).unwrap().unwrap()
    }
}

fn check_cuts<A: Job>(
    opts: &WindowOptions,
    events: &[(u64, i64, f64)],
    input: impl Fn(f64) -> A::Input + Copy,
    rng: &mut Rng,
) {
    let expected = run_uninterrupted::<A>(opts, events, input);
    assert!(expected.len() > 10);
    for _ in 0..6 {
        // One to three cuts at random points, each a save + restore into a fresh job.
        let mut cuts: Vec<usize> = (0..=rng.next_u64() % 3)
            .map(|_| (rng.next_u64() as usize) % events.len())
            .collect();
        cuts.sort_unstable();
        let store = MemoryStore::new();
        let mut job = A::make(opts.clone());
        let mut out = Vec::new();
        for (i, &(k, t, v)) in events.iter().enumerate() {
            if cuts.contains(&i) {
                job = A::save_restore(&job, &store);
            }
            out.extend(A::process(&mut job, k, t, input(v)));
        }
        out.extend(A::flush(&mut job));
        assert_eq!(out, expected, "cuts at {cuts:?} with {opts:?}");
    }
}

#[test]
fn restored_jobs_produce_the_same_outputs_as_uninterrupted_ones() {
    let mut rng = Rng(4242);
    let kinds = [
        WindowKind::Tumbling { size: 500 },
        WindowKind::Sliding {
            size: 600,
            slide: 200,
        },
        WindowKind::Session { gap: 120 },
    ];
    for (i, kind) in kinds.into_iter().enumerate() {
        for policy in [LatePolicy::Drop, LatePolicy::SideOutput, LatePolicy::Update] {
            let opts = WindowOptions::new(kind)
                .with_allowed_lateness(150)
                .with_late_policy(policy)
                .with_update_retention(300);
            let events = stream(100 + i as u64, 1500);
            check_cuts::<MeanJob>(&opts, &events, |v| v, &mut rng);
            check_cuts::<UniqueJob>(&opts, &events, |v| (v * 10.0) as u64, &mut rng);
        }
    }
}

#[test]
fn checkpoint_goes_through_a_real_store() {
    let dir = std::env::temp_dir().join(format!("sketch-window-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let store = blocksmith_store::RedbStore::open(dir.join("w.redb")).unwrap();
    let opts = WindowOptions::new(WindowKind::Tumbling { size: 100 });
    let mut job: Windowed<String, f64, Welford> = Windowed::new(opts).unwrap();
    job.process("x".into(), 5, 1.0).unwrap();
    job.process("x".into(), 6, 3.0).unwrap();
    block_on(job.save(&store, "job-1")).unwrap();
    let mut back: Windowed<String, f64, Welford> =
        block_on(Windowed::load(&store, "job-1")).unwrap().unwrap();
    let out = back.flush();
    assert_eq!(fired(&out)[0].2.mean, 2.0);
    assert!(
        block_on(Windowed::<String, f64, Welford>::load(&store, "missing"))
            .unwrap()
            .is_none()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn extreme_times_and_bad_options_do_not_panic() {
    let kinds = [
        WindowKind::Tumbling { size: 10 },
        WindowKind::Sliding { size: 10, slide: 3 },
        WindowKind::Session { gap: 10 },
    ];
    for kind in kinds {
        for policy in [LatePolicy::Drop, LatePolicy::SideOutput, LatePolicy::Update] {
            let opts = WindowOptions::new(kind)
                .with_allowed_lateness(5)
                .with_late_policy(policy)
                .with_update_retention(i64::MAX);
            let mut job = CountJob::new(opts).unwrap();
            for t in [i64::MIN, -1, 0, i64::MAX, i64::MIN + 1, i64::MAX - 1, 3] {
                job.process("k", t, ()).unwrap();
            }
            let _ = job.flush();
        }
    }
    let too_many = WindowOptions::new(WindowKind::Sliding {
        size: 1_000_000,
        slide: 1,
    });
    assert!(CountJob::new(too_many).is_err());
    assert!(CountJob::new(WindowOptions::new(WindowKind::Session { gap: 0 })).is_err());
}

/// A DDSketch aggregator keeps an exact sum, min and max through a
/// checkpoint (they go beside the protobuf bytes), and session merges of
/// restored windows keep them.
#[test]
fn relative_quantiles_keep_their_summary_through_a_checkpoint() {
    use blocksmith_sketch::aggregate::RelativeQuantiles;
    let store = MemoryStore::new();
    let opts = WindowOptions::new(WindowKind::Session { gap: 10 });
    let mut job: Windowed<String, f64, RelativeQuantiles> = Windowed::new(opts).unwrap();
    job.process("k".into(), 1, 2.0).unwrap();
    job.process("k".into(), 30, 7.0).unwrap();
    block_on(job.save(&store, "dd")).unwrap();
    let mut back: Windowed<String, f64, RelativeQuantiles> =
        block_on(Windowed::load(&store, "dd")).unwrap().unwrap();
    // Bridges the restored session at 30 with a new event at 35.
    back.process("k".into(), 35, 5.0).unwrap();
    let out = back.flush();
    let sessions = fired(&out);
    let last = &sessions[sessions.len() - 1].2;
    assert_eq!(last.sum(), Some(12.0));
    assert_eq!((last.min(), last.max()), (Some(5.0), Some(7.0)));
}
