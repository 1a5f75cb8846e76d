//! A click-stream analytics job in miniature: unique users per minute,
//! p99 latency per endpoint, top pages, and one A/B test readout, with the
//! windowed job checkpointed to the store and restored halfway through.
//!
//! ```text
//! cargo run --release --example sketch_analytics
//! ```

use blocksmith::sketch::aggregate::{DistinctCount, RelativeQuantiles};
use blocksmith::sketch::experiment::{AnalysisOptions, Experiment, MetricKind};
use blocksmith::sketch::frequency::SpaceSaving;
use blocksmith::sketch::window::{Emission, LatePolicy, WindowKind, WindowOptions, Windowed};
use blocksmith::store::{Store, block_on};
use std::collections::BTreeMap;
use std::error::Error;

const START_MS: i64 = 1_764_201_600_000; // 2025-11-27T00:00:00Z
const CLICKS: u64 = 300_000; // ten minutes of traffic
const ENDPOINTS: [&str; 3] = ["/api/search", "/api/cart", "/api/checkout"];

/// Deterministic xorshift so every run sees the same stream.
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
        let minute = WindowOptions::new(WindowKind::Tumbling { size: 60_000 })
            .with_allowed_lateness(5_000)
            .with_late_policy(LatePolicy::Drop);
        let mut uniques: Windowed<String, u64, DistinctCount> =
            Windowed::with_aggregator(minute.clone(), DistinctCount::new(12))?;
        let mut latency: Windowed<&'static str, f64, RelativeQuantiles> = Windowed::new(minute)?;
        let mut pages = SpaceSaving::new(256)?;
        let mut exp = Experiment::new(&["control", "new-checkout"], &[0.5, 0.5])?;
        exp.define_metric("purchased", MetricKind::Binary);

        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut fired_minutes, mut p99s) = (BTreeMap::new(), BTreeMap::<&str, f64>::new());
        let mut collect_u = |out: Vec<Emission<String, u64, f64>>| {
            for e in out {
                if let Emission::Fired { window, output, .. } = e {
                    fired_minutes.insert(window.start, output);
                }
            }
        };
        for i in 0..CLICKS {
            // Clicks arrive slightly out of order (network jitter up to 3 s).
            let t = START_MS + (i as i64) * 2 + (rng.next() * 3_000.0) as i64;
            let user = (rng.next() * rng.next() * 40_000.0) as u64; // some users click a lot
            let page = format!("/product/{}", (5_000f64.powf(rng.next()) - 1.0) as u64);
            let endpoint = ENDPOINTS[(rng.next() * 3.0) as usize % 3];
            let base =
                [40.0, 60.0, 180.0][ENDPOINTS.iter().position(|e| *e == endpoint).unwrap_or(0)];
            let ms = base * (rng.next().max(1e-9).ln() * -0.5).exp(); // long-tailed latency
            collect_u(uniques.process("site".to_string(), t, user)?);
            for e in latency.process(endpoint, t, ms)? {
                if let Emission::Fired { key, output, .. } = e {
                    let p = output.quantile(0.99).unwrap_or(0.0);
                    let worst = p99s.entry(key).or_insert(0.0);
                    *worst = worst.max(p);
                }
            }
            pages.update(&page, 1);
            // The A/B test: each user is assigned once by id parity; the new
            // checkout converts 6% of visitors instead of 5%.
            let variant = if user.is_multiple_of(2) {
                "control"
            } else {
                "new-checkout"
            };
            exp.assign(user, variant)?;
            if endpoint == "/api/checkout"
                && rng.next() < if user.is_multiple_of(2) { 0.05 } else { 0.06 } * 3.0 / 4.0
            {
                exp.record(user, "purchased", 1.0)?;
            }
            if i == CLICKS / 2 {
                // Checkpoint the windowed state and carry on from the restored copy.
                uniques.save(&store, "clicks/uniques").await?;
                uniques = Windowed::load(&store, "clicks/uniques")
                    .await?
                    .ok_or("checkpoint missing")?;
            }
        }
        collect_u(uniques.flush());
        let readout = exp.analyze("purchased", &AnalysisOptions::default())?;
        let cmp = &readout.comparisons[0];
        let top = pages.top_k(3);
        let per_minute: Vec<String> = fired_minutes.values().map(|u| format!("{u:.0}")).collect();
        let p99: Vec<String> = p99s.iter().map(|(k, v)| format!("{k} {v:.0} ms")).collect();
        Ok(format!(
            "sketch  {CLICKS} clicks: unique users per minute [{}]; worst per-minute p99 latency {}; top pages {} ({}), {} ({}), {} ({}); \
             A/B purchased {:.2}% -> {:.2}% ({:+.1}% relative, p = {:.3}, SRM p = {:.2}); {} late clicks dropped",
            per_minute.join(", "),
            p99.join(", "),
            top[0].item,
            top[0].upper,
            top[1].item,
            top[1].upper,
            top[2].item,
            top[2].upper,
            readout.variants[0].value * 100.0,
            readout.variants[1].value * 100.0,
            cmp.relative_effect * 100.0,
            cmp.p_value,
            exp.srm().p_value,
            uniques.stats().late_dropped,
        ))
    })
}

#[allow(dead_code)] // also compiled into the tour, which has its own main
fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/sketch_analytics");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = blocksmith::store::RedbStore::open(dir.join("analytics.redb"))?;
    println!("{}", demo(&store)?);
    Ok(())
}
