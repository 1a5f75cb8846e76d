//! The benches' clock: wall time, or with `BENCH_CLOCK=cpu` (Linux) the
//! on-CPU time of the benchmark thread from `/proc/thread-self/schedstat`,
//! which leaves out the time spent waiting for a core on a shared machine
//! (not cache contention). Included by the benches with `#[path]`.

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Wall time since the first call, or the thread's on-CPU time.
pub(crate) fn now() -> Duration {
    static CPU: OnceLock<bool> = OnceLock::new();
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let cpu = *CPU.get_or_init(|| {
        ["BENCH_CLOCK", "GEO_BENCH_CLOCK"]
            .iter()
            .any(|k| std::env::var(k).is_ok_and(|v| v == "cpu"))
    });
    if cpu
        && let Some(ns) = std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
    {
        return Duration::from_nanos(ns);
    }
    EPOCH.get_or_init(Instant::now).elapsed()
}

/// Time elapsed since `t` (a [`now`] reading).
pub(crate) fn since(t: Duration) -> Duration {
    now().saturating_sub(t)
}

/// Times `iters` calls of `f`.
pub(crate) fn timed<T>(iters: u64, mut f: impl FnMut() -> T) -> Duration {
    let t = now();
    for _ in 0..iters {
        black_box(f());
    }
    since(t)
}
