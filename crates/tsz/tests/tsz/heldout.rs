//! Held-out data, never used to tune the `Pack` codec (`data/heldout/`,
//! see its README): real value and timestamp columns, plus generated
//! realistic series. Prints Pack against pco and Gorilla; the only bar is
//! that a Best chunk is never larger than Gorilla's.

use blocksmith_tsz::{Chunk, Policy, TimeUnit, best, gorilla, pack};
use pco::ChunkConfig;
use pco::standalone::simple_compress;
use std::path::PathBuf;

fn load_text(name: &str) -> String {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "data",
        "heldout",
        &format!("{name}.csv"),
    ]
    .iter()
    .collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load_f64(name: &str) -> Vec<f64> {
    load_text(name)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

fn load_i64(name: &str) -> Vec<i64> {
    load_text(name)
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect()
}

/// Deterministic xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Generated realistic series, 1024 values each (seeds fixed, never tuned on).
fn generated() -> Vec<(&'static str, Vec<f64>)> {
    let mut r = Rng(0x0123_4567_89AB_CDEF);
    let round = |v: f64, d: i32| (v * 10f64.powi(d)).round() / 10f64.powi(d);
    let mut price = 187.0;
    let prices = (0..1024)
        .map(|_| {
            price *= 1.0 + 0.002 * r.normal();
            round(price, 2)
        })
        .collect();
    let (mut lat, mut v) = (48.856_614, 0.0);
    let gps = (0..1024)
        .map(|_| {
            v = 0.9 * v + 0.000_02 * r.normal();
            lat += v;
            round(lat, 7)
        })
        .collect();
    let temps = (0..1024)
        .map(|i| {
            let day = (f64::from(i) / 96.0 * std::f64::consts::TAU).sin();
            round(14.0 + 6.0 * day + 0.3 * r.normal(), 1)
        })
        .collect();
    let cpu = (0..1024)
        .map(|_| round((35.0 + 12.0 * r.normal()).clamp(0.0, 100.0), 2))
        .collect();
    vec![
        ("gen_prices_2dp", prices),
        ("gen_gps_lat_7dp", gps),
        ("gen_temperature_1dp", temps),
        ("gen_cpu_percent_2dp", cpu),
    ]
}

fn bits(bytes: usize, n: usize) -> f64 {
    bytes as f64 * 8.0 / n as f64
}

#[test]
fn heldout_values() {
    let mut series: Vec<(&str, Vec<f64>)> = [
        "cities_lat",
        "cities_lon",
        "nfl_ydline",
        "nfl_togo",
        "nfl_offscore",
    ]
    .iter()
    .map(|&n| (n, load_f64(n)))
    .collect();
    series.extend(generated());
    println!(
        "{:<22} {:>8} {:>8} {:>8} {:>8} | {:>8} {:>8}",
        "held-out values", "gorilla", "alp", "pack", "pco", "chunk G", "chunk P"
    );
    let (mut sg, mut sa, mut sp, mut sc) = (0.0, 0.0, 0.0, 0.0);
    for (name, vals) in &series {
        let n = vals.len();
        let g = gorilla::encode_values(vals);
        let a = best::encode_values(vals);
        let p = pack::encode_values(vals);
        let c = simple_compress(vals, &ChunkConfig::default()).unwrap();
        let back = pack::decode_values(&p, n).unwrap();
        assert!(
            back.iter()
                .zip(vals)
                .all(|(x, y)| x.to_bits() == y.to_bits())
        );
        let points: Vec<(i64, f64)> = vals
            .iter()
            .enumerate()
            .map(|(i, &v)| (1_700_000_000 + i as i64, v))
            .collect();
        let cg = Chunk::encode(&points, TimeUnit::Seconds, Policy::Gorilla).unwrap();
        let cp = Chunk::encode(&points, TimeUnit::Seconds, Policy::Best).unwrap();
        assert!(cp.len() <= cg.len(), "{name}: Best chunk above Gorilla's");
        let row = [
            bits(g.len(), n),
            bits(a.len(), n),
            bits(p.len(), n),
            bits(c.len(), n),
        ];
        sg += row[0];
        sa += row[1];
        sp += row[2];
        sc += row[3];
        println!(
            "{name:<22} {:>8.2} {:>8.2} {:>8.2} {:>8.2} | {:>8.2} {:>8.2}",
            row[0],
            row[1],
            row[2],
            row[3],
            bits(cg.len(), n),
            bits(cp.len(), n)
        );
    }
    let k = series.len() as f64;
    println!(
        "{:<22} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
        "AVERAGE",
        sg / k,
        sa / k,
        sp / k,
        sc / k
    );
}

#[test]
fn heldout_timestamps() {
    let mut r = Rng(0xFEED_FACE_CAFE_BEEF);
    let start = 1_700_000_000_000i64;
    let regular: Vec<i64> = (0..4096).map(|i| start + i * 15_000).collect();
    let jittered: Vec<i64> = (0..4096)
        .map(|i| start + i * 15_000 + (r.next() % 41) as i64 - 20)
        .collect();
    let mut t = start;
    let gappy: Vec<i64> = (0..4096)
        .map(|_| {
            t += if r.next().is_multiple_of(50) {
                15_000 * (2 + (r.next() % 20) as i64)
            } else {
                15_000
            };
            t
        })
        .collect();
    let cols: Vec<(&str, Vec<i64>, TimeUnit)> = vec![
        (
            "ts_nfl_plays (real)",
            load_i64("ts_nfl_plays"),
            TimeUnit::Seconds,
        ),
        (
            "ts_mbta_arrivals (real)",
            load_i64("ts_mbta_arrivals"),
            TimeUnit::Seconds,
        ),
        ("regular 15 s (ms)", regular, TimeUnit::Millis),
        ("jittered +-20 ms", jittered, TimeUnit::Millis),
        ("gappy (missed scrapes)", gappy, TimeUnit::Millis),
    ];
    println!(
        "{:<26} {:>10} {:>10} {:>10} {:>10}   (payload bits/point, constant values)",
        "timestamps", "gorilla", "alp dod", "pack", "pco delta"
    );
    for (name, ts, unit) in &cols {
        assert!(ts.windows(2).all(|w| w[0] <= w[1]), "{name}");
        let n = ts.len();
        let vals = vec![1.0; n];
        // Chunk payloads (the 40 header and checksum bytes left out): the
        // timestamp column plus a constant value column of a few bytes.
        let size = |policy| {
            let c = Chunk::encode_columns(ts, &vals, *unit, policy).unwrap();
            let (_, back) = Chunk::decode(&c).unwrap();
            assert!(back.iter().map(|p| p.0).eq(ts.iter().copied()));
            bits(c.len() - Chunk::HEADER_LEN - Chunk::TRAILER_LEN, n)
        };
        let pco = simple_compress(ts, &ChunkConfig::default()).unwrap();
        println!(
            "{name:<26} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
            size(Policy::Gorilla),
            size(Policy::Alp),
            size(Policy::Best),
            bits(pco.len(), n)
        );
    }
}
