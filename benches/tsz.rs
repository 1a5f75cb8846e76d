//! Time-series compression throughput: `blocksmith-tsz` chunks (`Gorilla` and
//! `Best` codecs, whole chunk and value column alone) against the crates.io
//! `tsz` crate (a Gorilla implementation) and `pco` (pcodec), encode and
//! decode of one 65 536-point chunk, in one run.
//!
//! ```text
//! cargo bench --bench tsz
//! BENCH_CLOCK=cpu cargo bench --bench tsz   # thread CPU time (Linux)
//! ```
//!
//! `BENCH_CLOCK=cpu` times every routine, ours and the peers', in on-CPU
//! time of the benchmark thread (`CLOCK_THREAD_CPUTIME_ID`) instead of
//! wall time: on a shared machine it leaves out the time spent waiting for
//! a core, not cache contention.
//!
//! Three inputs: `decimal` (1 s timestamps with a few irregular gaps, values
//! with 2 decimal digits such as temperatures), `precise` (the same
//! timestamps, a random walk of full-precision doubles) and `skewed` (the
//! same timestamps, log-normal latencies with one decimal, where the `Pack`
//! codec's entropy coder is chosen). Throughput is in
//! points (values) per second. At start the bench checks that every decoder
//! round-trips its input and prints each contender's size in bits per point.

// Casts between integer and float types are how the inputs are generated and
// how bits/point is computed; every value involved is small and in range.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_wrap)]

use blocksmith_tsz::{Chunk, Codec, Policy, TimeUnit, best, gorilla, pack};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pco::ChunkConfig;
use pco::standalone::{simple_compress, simple_decompress_into};
use std::hint::black_box;
use std::time::Duration;
use tsz::decode::Error as TszError;
use tsz::stream::{BufferedReader, BufferedWriter};
use tsz::{DataPoint, Decode, Encode, StdDecoder, StdEncoder};

#[path = "support/clock.rs"]
mod clock;
use clock::{now, since, timed};

/// Points per input: one full chunk.
const N: usize = Chunk::MAX_POINTS;
/// First timestamp (seconds), late 2023.
const START: i64 = 1_700_000_000;

/// A tiny deterministic xorshift64* generator, so inputs are reproducible.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One input in every representation the contenders take.
struct Input {
    name: &'static str,
    points: Vec<(i64, f64)>,
    timestamps: Vec<i64>,
    values: Vec<f64>,
    tsz_points: Vec<DataPoint>,
}

impl Input {
    fn new(name: &'static str, points: Vec<(i64, f64)>) -> Self {
        let timestamps: Vec<i64> = points.iter().map(|p| p.0).collect();
        let values: Vec<f64> = points.iter().map(|p| p.1).collect();
        let tsz_points = points
            .iter()
            .map(|&(t, v)| DataPoint::new(u64::try_from(t).expect("positive timestamp"), v))
            .collect();
        Input {
            name,
            points,
            timestamps,
            values,
            tsz_points,
        }
    }
}

/// 1 s timestamps; about one point in 2000 is followed by a gap of 2..=300 s.
fn timestamps(rng: &mut XorShift) -> Vec<i64> {
    let mut t = START;
    (0..N)
        .map(|_| {
            let now = t;
            t += if rng.below(2000) == 0 {
                2 + rng.below(299) as i64
            } else {
                1
            };
            now
        })
        .collect()
}

/// Temperatures with 2 decimal digits: a random walk of hundredths.
fn decimal() -> Input {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let ts = timestamps(&mut rng);
    let mut centi: i64 = 2137;
    let points = ts
        .into_iter()
        .map(|t| {
            centi += rng.below(7) as i64 - 3;
            (t, centi as f64 / 100.0)
        })
        .collect();
    Input::new("decimal", points)
}

/// A random walk of full-precision doubles.
fn precise() -> Input {
    let mut rng = XorShift(0xD1B5_4A32_D192_ED03);
    let ts = timestamps(&mut rng);
    let mut v = 1000.0;
    let points = ts
        .into_iter()
        .map(|t| {
            v += rng.unit() - 0.5;
            (t, v)
        })
        .collect();
    Input::new("precise", points)
}

/// Latencies in milliseconds with one decimal, log-normally distributed
/// (most near 12 ms, a long tail): a skewed distribution, where entropy
/// coding pays the most.
fn skewed() -> Input {
    let mut rng = XorShift(0xA076_1D64_78BD_642F);
    let ts = timestamps(&mut rng);
    let points = ts
        .into_iter()
        .map(|t| {
            // Box-Muller: one standard normal from two uniforms.
            let (u1, u2) = (rng.unit().max(1e-12), rng.unit());
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            let ms = (2.5 + 0.6 * z).exp();
            (t, (ms * 10.0).round() / 10.0)
        })
        .collect();
    Input::new("skewed", points)
}

fn tsz_encode(points: &[DataPoint]) -> Box<[u8]> {
    let start = points.first().map_or(0, DataPoint::get_time);
    let mut enc = StdEncoder::new(start, BufferedWriter::with_capacity(points.len() * 4));
    for &p in points {
        enc.encode(p);
    }
    enc.close()
}

fn tsz_decode(bytes: Box<[u8]>, out: &mut Vec<DataPoint>) {
    out.clear();
    let mut dec = StdDecoder::new(BufferedReader::new(bytes));
    loop {
        match dec.next() {
            Ok(p) => out.push(p),
            Err(TszError::EndOfStream) => break,
            Err(e) => panic!("tsz crate decode failed: {e}"),
        }
    }
}

/// The two pco columns: values then timestamps.
fn pco_encode(input: &Input) -> (Vec<u8>, Vec<u8>) {
    let config = ChunkConfig::default();
    (
        simple_compress(&input.values, &config).expect("pco values"),
        simple_compress(&input.timestamps, &config).expect("pco timestamps"),
    )
}

fn pco_decode(cols: &(Vec<u8>, Vec<u8>), timestamps: &mut [i64], values: &mut [f64]) {
    let p = simple_decompress_into(&cols.0, values).expect("pco values");
    assert_eq!(p.n_processed, values.len());
    let p = simple_decompress_into(&cols.1, timestamps).expect("pco timestamps");
    assert_eq!(p.n_processed, timestamps.len());
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Every contender's encoding of one input, checked to round-trip.
struct Encoded {
    gorilla: Vec<u8>,
    best: Vec<u8>,
    alp: Vec<u8>,
    gorilla_values: Vec<u8>,
    best_values: Vec<u8>,
    pack_values: Vec<u8>,
    tsz: Box<[u8]>,
    pco: (Vec<u8>, Vec<u8>),
}

impl Encoded {
    fn new(input: &Input) -> Self {
        let e = Encoded {
            gorilla: Chunk::encode(&input.points, TimeUnit::Seconds, Policy::Gorilla).unwrap(),
            best: Chunk::encode(&input.points, TimeUnit::Seconds, Policy::Best).unwrap(),
            alp: Chunk::encode(&input.points, TimeUnit::Seconds, Policy::Alp).unwrap(),
            gorilla_values: gorilla::encode_values(&input.values),
            best_values: best::encode_values(&input.values),
            pack_values: pack::encode_values(&input.values),
            tsz: tsz_encode(&input.tsz_points),
            pco: pco_encode(input),
        };
        e.check(input);
        e
    }

    fn check(&self, input: &Input) {
        let name = input.name;
        let (mut ts, mut vals) = (Vec::new(), Vec::new());
        assert_eq!(
            Chunk::peek(&self.best).unwrap().codec,
            Codec::Pack,
            "{name}"
        );
        for (codec, bytes) in [
            ("gorilla", &self.gorilla),
            ("best", &self.best),
            ("alp", &self.alp),
        ] {
            Chunk::decode_columns_into(bytes, &mut ts, &mut vals).unwrap();
            assert_eq!(ts, input.timestamps, "{name}: ours_{codec} timestamps");
            assert!(
                same_bits(&vals, &input.values),
                "{name}: ours_{codec} values"
            );
            let (unit, points) = Chunk::decode(bytes).unwrap();
            assert_eq!(unit, TimeUnit::Seconds);
            assert_eq!(points.len(), N);
        }
        vals.clear();
        gorilla::decode_values_into(&self.gorilla_values, N, &mut vals).unwrap();
        assert!(
            same_bits(&vals, &input.values),
            "{name}: gorilla values only"
        );
        vals.clear();
        best::decode_values_into(&self.best_values, N, &mut vals).unwrap();
        assert!(same_bits(&vals, &input.values), "{name}: best values only");
        vals.clear();
        pack::decode_values_into(&self.pack_values, N, &mut vals).unwrap();
        assert!(same_bits(&vals, &input.values), "{name}: pack values only");
        // The tsz crate stores times and value bits exactly.
        let mut points = Vec::new();
        tsz_decode(self.tsz.clone(), &mut points);
        assert_eq!(points.len(), N, "{name}: tsz crate point count");
        for (got, want) in points.iter().zip(&input.tsz_points) {
            assert_eq!(got.get_time(), want.get_time(), "{name}: tsz crate time");
            assert_eq!(
                got.get_value().to_bits(),
                want.get_value().to_bits(),
                "{name}: tsz crate value"
            );
        }
        let (mut ts, mut vals) = (vec![0; N], vec![0.0; N]);
        pco_decode(&self.pco, &mut ts, &mut vals);
        assert_eq!(ts, input.timestamps, "{name}: pco timestamps");
        assert!(same_bits(&vals, &input.values), "{name}: pco values");
    }

    fn report(&self, name: &str) {
        let bits = |bytes: usize| (bytes * 8) as f64 / N as f64;
        eprintln!("{name} ({N} points), bits/point:");
        for (who, bytes) in [
            ("ours_gorilla", self.gorilla.len()),
            ("ours_best (Pack)", self.best.len()),
            ("ours_alp", self.alp.len()),
            ("ours_gorilla_values_only", self.gorilla_values.len()),
            ("ours_alp_values_only", self.best_values.len()),
            ("ours_pack_values_only", self.pack_values.len()),
            ("tsz_crate", self.tsz.len()),
            ("pco", self.pco.0.len() + self.pco.1.len()),
            ("pco_values_only", self.pco.0.len()),
            ("pco_timestamps_only", self.pco.1.len()),
        ] {
            eprintln!("  {who:<26} {:>8.3}  ({bytes} bytes)", bits(bytes));
        }
    }
}

fn bench(c: &mut Criterion) {
    let inputs = [decimal(), precise(), skewed()];
    let encoded: Vec<Encoded> = inputs.iter().map(Encoded::new).collect();
    for (input, e) in inputs.iter().zip(&encoded) {
        e.report(input.name);
    }

    for input in &inputs {
        let mut g = c.benchmark_group(format!("tsz/encode/{}", input.name));
        g.throughput(Throughput::Elements(N as u64));
        for (id, policy) in [
            ("ours_gorilla", Policy::Gorilla),
            ("ours_best", Policy::Best),
            ("ours_alp", Policy::Alp),
        ] {
            g.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    timed(iters, || {
                        Chunk::encode(black_box(&input.points), TimeUnit::Seconds, policy)
                    })
                });
            });
        }
        g.bench_function("ours_gorilla_values_only", |b| {
            b.iter_custom(|iters| {
                timed(iters, || gorilla::encode_values(black_box(&input.values)))
            });
        });
        g.bench_function("ours_alp_values_only", |b| {
            b.iter_custom(|iters| timed(iters, || best::encode_values(black_box(&input.values))));
        });
        g.bench_function("ours_pack_values_only", |b| {
            b.iter_custom(|iters| timed(iters, || pack::encode_values(black_box(&input.values))));
        });
        g.bench_function("tsz_crate", |b| {
            b.iter_custom(|iters| timed(iters, || tsz_encode(black_box(&input.tsz_points))));
        });
        g.bench_function("pco", |b| {
            b.iter_custom(|iters| timed(iters, || pco_encode(black_box(input))));
        });
        g.bench_function("pco_values_only", |b| {
            b.iter_custom(|iters| {
                timed(iters, || {
                    simple_compress(black_box(&input.values), &ChunkConfig::default()).unwrap()
                })
            });
        });
        g.finish();
    }

    for (input, e) in inputs.iter().zip(&encoded) {
        let mut g = c.benchmark_group(format!("tsz/decode/{}", input.name));
        g.throughput(Throughput::Elements(N as u64));
        let (mut ts, mut vals) = (Vec::with_capacity(N), Vec::with_capacity(N));
        for (id, bytes) in [
            ("ours_gorilla", &e.gorilla),
            ("ours_best", &e.best),
            ("ours_alp", &e.alp),
        ] {
            g.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    timed(iters, || {
                        Chunk::decode_columns_into(black_box(bytes), &mut ts, &mut vals).unwrap();
                    })
                });
            });
        }
        g.bench_function("ours_gorilla_values_only", |b| {
            b.iter_custom(|iters| {
                timed(iters, || {
                    vals.clear();
                    gorilla::decode_values_into(black_box(&e.gorilla_values), N, &mut vals)
                        .unwrap();
                })
            });
        });
        g.bench_function("ours_alp_values_only", |b| {
            b.iter_custom(|iters| {
                timed(iters, || {
                    vals.clear();
                    best::decode_values_into(black_box(&e.best_values), N, &mut vals).unwrap();
                })
            });
        });
        g.bench_function("ours_pack_values_only", |b| {
            b.iter_custom(|iters| {
                timed(iters, || {
                    vals.clear();
                    pack::decode_values_into(black_box(&e.pack_values), N, &mut vals).unwrap();
                })
            });
        });
        // Its reader takes ownership of a boxed buffer: the copy is made
        // outside the timed routine.
        let mut points = Vec::with_capacity(N);
        g.bench_function("tsz_crate", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let bytes = e.tsz.clone();
                    let t = now();
                    tsz_decode(black_box(bytes), &mut points);
                    total += since(t);
                }
                total
            });
        });
        let (mut ts, mut vals) = (vec![0; N], vec![0.0; N]);
        g.bench_function("pco", |b| {
            b.iter_custom(|iters| {
                timed(iters, || pco_decode(black_box(&e.pco), &mut ts, &mut vals))
            });
        });
        g.bench_function("pco_values_only", |b| {
            b.iter_custom(|iters| {
                timed(iters, || {
                    let p = simple_decompress_into(black_box(&e.pco.0), &mut vals).unwrap();
                    assert_eq!(p.n_processed, N);
                })
            });
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
