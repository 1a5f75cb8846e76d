//! Release-mode encode/decode throughput on the sample datasets.
//!
//! Run with `cargo run --release --example throughput`. Each dataset sample
//! (1024 values) is tiled to 64 Ki points with regular millisecond timestamps,
//! then encoded and decoded repeatedly; figures are millions of points/s on
//! one core.

use blocksmith_tsz::{Chunk, Policy, TimeUnit, best, gorilla};
use std::hint::black_box;
use std::time::{Duration, Instant};

const DECIMAL: &[&str] = &[
    "arade4",
    "basel_temp_f",
    "bird_migration_f",
    "bitcoin_transactions_f",
    "cms1",
    "cms9",
    "cms25",
    "gov10",
    "gov30",
    "gov40",
    "medicare1",
    "neon_bio_temp_c",
    "neon_dew_point_temp",
    "neon_pm10_dust",
    "neon_wind_dir",
    "ssd_hdd_benchmarks_f",
    "stocks_de",
    "stocks_uk",
];
const HIGH_PRECISION: &[&str] = &["air_sensor_f", "poi_lon"];
const N: usize = Chunk::MAX_POINTS;

fn load(name: &str) -> Vec<f64> {
    let path = format!("{}/data/timeseries/{name}.csv", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("dataset file");
    let base: Vec<f64> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    base.iter().copied().cycle().take(N).collect()
}

/// Runs `f` repeatedly for at least 300 ms; returns million items per second.
fn rate(items: usize, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    let mut iters = 0u32;
    while start.elapsed() < Duration::from_millis(300) {
        f();
        iters += 1;
    }
    items as f64 * f64::from(iters) / start.elapsed().as_secs_f64() / 1e6
}

fn main() {
    let ts: Vec<i64> = (0..N as i64)
        .map(|i| 1_700_000_000_000 + i * 1000)
        .collect();
    println!(
        "{:<16} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "group (Mpts/s)", "G enc", "B enc", "G vals", "B vals", "G chunk", "B chunk", "B points"
    );
    for (label, names) in [("decimal", DECIMAL), ("high-precision", HIGH_PRECISION)] {
        let mut acc = [0.0f64; 7];
        for name in names {
            let vals = load(name);
            let gv = gorilla::encode_values(&vals);
            let bv = best::encode_values(&vals);
            let gc = Chunk::encode_columns(&ts, &vals, TimeUnit::Millis, Policy::Gorilla).unwrap();
            let bc = Chunk::encode_columns(&ts, &vals, TimeUnit::Millis, Policy::Best).unwrap();
            let (mut t, mut v) = (Vec::new(), Vec::new());
            let r = [
                rate(N, || {
                    black_box(
                        Chunk::encode_columns(&ts, &vals, TimeUnit::Millis, Policy::Gorilla)
                            .unwrap(),
                    );
                }),
                rate(N, || {
                    black_box(
                        Chunk::encode_columns(&ts, &vals, TimeUnit::Millis, Policy::Best).unwrap(),
                    );
                }),
                rate(N, || {
                    v.clear();
                    gorilla::decode_values_into(black_box(&gv), N, &mut v).unwrap();
                }),
                rate(N, || {
                    v.clear();
                    best::decode_values_into(black_box(&bv), N, &mut v).unwrap();
                }),
                rate(N, || {
                    Chunk::decode_columns_into(black_box(&gc), &mut t, &mut v).unwrap();
                }),
                rate(N, || {
                    Chunk::decode_columns_into(black_box(&bc), &mut t, &mut v).unwrap();
                }),
                rate(N, || {
                    black_box(Chunk::decode(black_box(&bc)).unwrap());
                }),
            ];
            for (a, x) in acc.iter_mut().zip(r) {
                *a += x;
            }
        }
        let k = names.len() as f64;
        println!(
            "{:<16} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1} {:>10.1}",
            label,
            acc[0] / k,
            acc[1] / k,
            acc[2] / k,
            acc[3] / k,
            acc[4] / k,
            acc[5] / k,
            acc[6] / k
        );
    }
    println!(
        "G/B = Gorilla/Best; enc = Chunk::encode_columns; vals = value column only;\n\
         chunk = Chunk::decode_columns_into (CRC + timestamps + values);\n\
         points = Chunk::decode (interleaved Vec<(i64, f64)>). Mean over datasets."
    );
}
