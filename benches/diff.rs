//! Line diff of large files: blocksmith-diff against `similar` and
//! `imara-diff` in the same run.
//!
//! Inputs: synthetic source-like files of 10 k, 100 k and 1 M lines with few
//! (10) or many (1 % of lines) edits, and the real CPython stdlib revision
//! pairs from `crates/diff/data/python-stdlib` (the shape of imara-diff's own benchmark:
//! consecutive revisions of real source files).
//!
//! ```text
//! cargo bench --bench diff
//! DIFF_BENCH_WRITE_INPUTS=target/diff-inputs cargo bench --bench diff   # write the inputs for scripts/diff_vs_git.sh
//! ```

use blocksmith::diff::text::{Algorithm, DiffOptions, TextDiff};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

/// Deterministic xorshift.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const COMMON: &[&str] = &[
    "}\n",
    "\n",
    "    }\n",
    "        return None;\n",
    "    else:\n",
    "        break\n",
    "    fn new() -> Self {\n",
    "#[derive(Debug)]\n",
];

fn line(rng: &mut Rng) -> String {
    if rng.below(10) < 3 {
        return COMMON[rng.below(COMMON.len() as u64) as usize].to_string();
    }
    let indent = "    ".repeat(rng.below(4) as usize);
    format!(
        "{indent}let v{} = compute_{}(x{}, {});\n",
        rng.below(5000),
        rng.below(300),
        rng.below(50),
        rng.below(1000)
    )
}

/// A file of `n` lines and a revision with `edits` edits of 1-5 lines each.
fn make_pair(n: usize, edits: usize, seed: u64) -> (String, String) {
    let mut rng = Rng(seed);
    let old: Vec<String> = (0..n).map(|_| line(&mut rng)).collect();
    let mut new = old.clone();
    for _ in 0..edits {
        let at = rng.below(new.len() as u64) as usize;
        let len = 1 + rng.below(5) as usize;
        match rng.below(3) {
            0 => {
                let end = (at + len).min(new.len());
                new.drain(at..end);
            }
            1 => {
                for k in 0..len {
                    new.insert(at, format!("inserted line {k} {}\n", rng.below(1_000_000)));
                }
            }
            _ => {
                for k in at..(at + len).min(new.len()) {
                    new[k] = format!("changed line {}\n", rng.below(1_000_000));
                }
            }
        }
    }
    (old.concat(), new.concat())
}

fn shapes() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (n, label) in [(10_000, "10k"), (100_000, "100k"), (1_000_000, "1M")] {
        let (a, b) = make_pair(n, 10, 0x5EED ^ n as u64);
        out.push((format!("{label}-few"), a, b));
        let (a, b) = make_pair(n, n / 100, 0xFACE ^ n as u64);
        out.push((format!("{label}-many"), a, b));
    }
    out
}

fn corpus() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/diff/data/python-stdlib");
    let versions = ["3.6", "3.9", "3.12", "3.13"];
    let mut names: Vec<String> = std::fs::read_dir(root.join("3.12"))
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let texts: Vec<String> = versions
            .iter()
            .filter_map(|v| std::fs::read_to_string(root.join(v).join(&name)).ok())
            .collect();
        for w in texts.windows(2) {
            if w[0] != w[1] {
                out.push((w[0].clone(), w[1].clone()));
            }
        }
    }
    out
}

fn ours(a: &str, b: &str, alg: Algorithm) -> usize {
    let d = TextDiff::new(a, b, &DiffOptions::default().with_algorithm(alg));
    d.edits().len()
}

fn imara(a: &str, b: &str, alg: imara_diff::Algorithm) -> usize {
    let input = imara_diff::InternedInput::new(a, b);
    let d = imara_diff::Diff::compute(alg, &input);
    d.hunks().count()
}

fn similar_lines(a: &str, b: &str, alg: similar::Algorithm) -> usize {
    similar::TextDiff::configure()
        .algorithm(alg)
        .diff_lines(a, b)
        .ops()
        .len()
}

fn bench_shapes(c: &mut Criterion) {
    for (name, a, b) in shapes() {
        let mut g = c.benchmark_group(format!("line_diff/{name}"));
        g.throughput(Throughput::Bytes((a.len() + b.len()) as u64));
        g.bench_function(BenchmarkId::new("ours", "histogram"), |x| {
            x.iter(|| ours(black_box(&a), black_box(&b), Algorithm::Histogram));
        });
        g.bench_function(BenchmarkId::new("imara", "histogram"), |x| {
            x.iter(|| {
                imara(
                    black_box(&a),
                    black_box(&b),
                    imara_diff::Algorithm::Histogram,
                )
            });
        });
        g.bench_function(BenchmarkId::new("similar", "histogram"), |x| {
            x.iter(|| similar_lines(black_box(&a), black_box(&b), similar::Algorithm::Histogram));
        });
        g.bench_function(BenchmarkId::new("ours", "myers"), |x| {
            x.iter(|| ours(black_box(&a), black_box(&b), Algorithm::Myers));
        });
        g.bench_function(BenchmarkId::new("imara", "myers"), |x| {
            x.iter(|| imara(black_box(&a), black_box(&b), imara_diff::Algorithm::Myers));
        });
        g.bench_function(BenchmarkId::new("similar", "myers"), |x| {
            x.iter(|| similar_lines(black_box(&a), black_box(&b), similar::Algorithm::Myers));
        });
        g.finish();
    }
}

fn bench_corpus(c: &mut Criterion) {
    let pairs = corpus();
    let bytes: usize = pairs.iter().map(|(a, b)| a.len() + b.len()).sum();
    let mut g = c.benchmark_group("line_diff/stdlib-revisions");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function(BenchmarkId::new("ours", "histogram"), |x| {
        x.iter(|| {
            pairs
                .iter()
                .map(|(a, b)| ours(a, b, Algorithm::Histogram))
                .sum::<usize>()
        });
    });
    g.bench_function(BenchmarkId::new("imara", "histogram"), |x| {
        x.iter(|| {
            pairs
                .iter()
                .map(|(a, b)| imara(a, b, imara_diff::Algorithm::Histogram))
                .sum::<usize>()
        });
    });
    g.bench_function(BenchmarkId::new("similar", "histogram"), |x| {
        x.iter(|| {
            pairs
                .iter()
                .map(|(a, b)| similar_lines(a, b, similar::Algorithm::Histogram))
                .sum::<usize>()
        });
    });
    g.bench_function(BenchmarkId::new("ours", "myers"), |x| {
        x.iter(|| {
            pairs
                .iter()
                .map(|(a, b)| ours(a, b, Algorithm::Myers))
                .sum::<usize>()
        });
    });
    g.bench_function(BenchmarkId::new("imara", "myers"), |x| {
        x.iter(|| {
            pairs
                .iter()
                .map(|(a, b)| imara(a, b, imara_diff::Algorithm::Myers))
                .sum::<usize>()
        });
    });
    g.bench_function(BenchmarkId::new("similar", "myers"), |x| {
        x.iter(|| {
            pairs
                .iter()
                .map(|(a, b)| similar_lines(a, b, similar::Algorithm::Myers))
                .sum::<usize>()
        });
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = bench_corpus, bench_shapes
}

fn main() {
    // Write the synthetic inputs for scripts/diff_vs_git.sh instead of benchmarking.
    if let Ok(dir) = std::env::var("DIFF_BENCH_WRITE_INPUTS") {
        let dir = Path::new(&dir);
        std::fs::create_dir_all(dir).expect("create input dir");
        for (name, a, b) in shapes() {
            std::fs::write(dir.join(format!("{name}.old")), a).expect("write input");
            std::fs::write(dir.join(format!("{name}.new")), b).expect("write input");
        }
        println!("inputs written to {}", dir.display());
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
