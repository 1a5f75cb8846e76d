//! A metrics collector in miniature: ingest a synthetic stream of three
//! series for a day at 10 s resolution, store it compressed, query a range,
//! roll it up and compute a counter rate.
//!
//! ```text
//! cargo run --release --example tsz_metrics
//! ```

use blocksmith::store::{RedbStore, Store, block_on};
use blocksmith::tsz::series::{Series, SeriesOptions};
use blocksmith::tsz::{Policy, TimeUnit};
use std::error::Error;

const START_MS: i64 = 1_764_201_600_000; // 2025-11-27T00:00:00Z
const STEP_MS: i64 = 10_000;
const POINTS: i64 = 8640; // one day

/// Deterministic xorshift so every run ingests the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Runs the demo on `store` and returns a one-line summary.
pub(crate) fn demo<S: Store>(store: S) -> Result<String, Box<dyn Error>> {
    block_on(async {
        let config = SeriesOptions::new(TimeUnit::Millis)
            .with_policy(Policy::Auto)
            .with_max_points(1024);
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut cpu = Series::open(&store, "host1/cpu_percent", config.clone()).await?;
        let mut temp = Series::open(&store, "host1/temp_c", config.clone()).await?;
        let mut reqs = Series::open(&store, "host1/http_requests_total", config).await?;
        let (mut load, mut t_c, mut total) = (35.0f64, 41.0f64, 0.0f64);
        for i in 0..POINTS {
            let t = START_MS + i * STEP_MS + (rng.next() * 40.0) as i64; // scrape jitter
            load = (load + (rng.next() - 0.5) * 6.0).clamp(0.0, 100.0);
            t_c += (rng.next() - 0.5) * 0.4;
            total += (rng.next() * 50.0).floor();
            if i == POINTS / 2 {
                total = 0.0; // the process restarted: the counter resets
            }
            cpu.append(t, (load * 10.0).round() / 10.0).await?;
            temp.append(t, (t_c * 100.0).round() / 100.0).await?;
            reqs.append(t, total).await?;
        }
        let mut stored = 0;
        for s in [&mut cpu, &mut temp, &mut reqs] {
            s.seal().await?;
            stored += s.sealed_bytes();
        }
        let raw = 3 * POINTS as u64 * 16;
        let hour = 3_600_000;
        let (points, stats) = cpu.range(START_MS + 6 * hour, START_MS + 7 * hour).await?;
        let hourly = temp.rollup(START_MS, START_MS + 24 * hour, hour).await?;
        let warmest = hourly.iter().map(|b| b.max).fold(f64::MIN, f64::max);
        let rate = reqs
            .rate(START_MS, START_MS + 24 * hour)
            .await?
            .unwrap_or(0.0);
        Ok(format!(
            "tsz     3 series x {POINTS} points: {raw} raw bytes -> {stored} stored ({:.1}x, {:.2} bits/point); \
             06:00-07:00 cpu query returned {} points decoding {} of {} chunks; \
             24 hourly temp rollups (max {warmest:.2} C); request rate across a counter reset {rate:.2}/s",
            raw as f64 / stored as f64,
            stored as f64 * 8.0 / (3 * POINTS) as f64,
            points.len(),
            stats.chunks_decoded,
            stats.chunks_total,
        ))
    })
}

#[allow(dead_code)] // also compiled into the tour, which has its own main
fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tsz_metrics");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = RedbStore::open(dir.join("metrics.redb"))?;
    println!("{}", demo(&store)?);
    Ok(())
}
