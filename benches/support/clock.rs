//! The benches' clock: wall time, or with `BENCH_CLOCK=cpu` the on-CPU time
//! of the benchmark thread (`CLOCK_THREAD_CPUTIME_ID`, exact to the
//! nanosecond), which leaves out the time spent waiting for a core on a
//! shared machine (not cache contention) and time blocked on a disk.
//! Included by the benches with `#[path]`.
//!
//! Not `/proc/thread-self/schedstat`, which earlier versions read: for a
//! running thread it advances only at scheduler ticks (4 ms here), so one
//! reading around a 20 ms batch was off by up to a fifth.

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
    if cpu && let Some(t) = thread_cpu_time() {
        return t;
    }
    EPOCH.get_or_init(Instant::now).elapsed()
}

#[cfg(unix)]
fn thread_cpu_time() -> Option<Duration> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Some(Duration::new(
        u64::try_from(t.tv_sec).ok()?,
        u32::try_from(t.tv_nsec).ok()?,
    ))
}

#[cfg(not(unix))]
fn thread_cpu_time() -> Option<Duration> {
    None
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
