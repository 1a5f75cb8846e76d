//! `blocksmith tsz ...`: measure and apply time-series compression.

use crate::files;
use crate::output::{CliError, Output};
use crate::progress;
use blocksmith_tsz::{Chunk, Point, Policy, TimeUnit, best, gorilla, pack};
use clap::{Subcommand, ValueEnum};
use serde_json::json;
use std::fmt::Write as _;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub(crate) enum TszCmd {
    /// Bits/value of each codec on files of values (one per line, or `timestamp,value`),
    /// with a verified round trip; per file and overall.
    Stats {
        /// Input files (`-`: standard input).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Compress a file of points into a stream of chunks.
    Compress {
        /// Input: values one per line, or `timestamp,value` (`-`: standard input).
        input: PathBuf,
        /// Output file of concatenated chunks (`-`: standard output).
        output: PathBuf,
        /// Codec policy.
        #[arg(long, value_enum, default_value_t = PolicyArg::Auto)]
        policy: PolicyArg,
        /// Unit of the timestamps.
        #[arg(long, value_enum, default_value_t = UnitArg::Ms)]
        unit: UnitArg,
    },
    /// Decompress a chunk stream back to `timestamp,value` lines.
    Decompress {
        /// Input file of concatenated chunks (`-`: standard input).
        input: PathBuf,
        /// Output file (standard output if absent or `-`).
        output: Option<PathBuf>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum PolicyArg {
    Gorilla,
    Best,
    Alp,
    Auto,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum UnitArg {
    S,
    Ms,
    Us,
    Ns,
}

impl From<UnitArg> for TimeUnit {
    fn from(u: UnitArg) -> Self {
        match u {
            UnitArg::S => TimeUnit::Seconds,
            UnitArg::Ms => TimeUnit::Millis,
            UnitArg::Us => TimeUnit::Micros,
            UnitArg::Ns => TimeUnit::Nanos,
        }
    }
}

impl From<blocksmith_tsz::Error> for CliError {
    fn from(e: blocksmith_tsz::Error) -> Self {
        match e {
            blocksmith_tsz::Error::Store(e) => e.into(),
            blocksmith_tsz::Error::TooManyPoints { .. }
            | blocksmith_tsz::Error::UnsortedTimestamps { .. }
            | blocksmith_tsz::Error::LateWrite { .. } => {
                CliError::BadInput(crate::output::report(&e))
            }
            // Everything else is a decoder rejecting its input.
            _ => CliError::BadInput(format!("invalid chunk data: {}", crate::output::report(&e))),
        }
    }
}

/// Parses values one per line, or `timestamp,value` lines. Value-only files
/// get timestamps 0, 1, 2, ...; blank lines and `#` comments are skipped. The
/// input is read as a stream (`-` is standard input); with `out`, a bar
/// counts the bytes of a file.
fn read_points(path: &Path, out: Option<&Output>) -> Result<Vec<Point>, CliError> {
    let name = files::name(path);
    let (mut input, len) = files::reader(path)?;
    let bar = match (out, len) {
        (Some(out), Some(len)) => progress::bytes(len, out),
        _ => indicatif::ProgressBar::hidden(),
    };
    let mut points = Vec::new();
    let mut line = String::new();
    for i in 0.. {
        line.clear();
        let n = input
            .read_line(&mut line)
            .map_err(|e| CliError::BadInput(format!("read {name}: {e}")))?;
        if n == 0 {
            break;
        }
        bar.inc(n as u64);
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || CliError::BadInput(format!("{name}:{}: cannot parse {line:?}", i + 1));
        let point = match line.split_once(',') {
            Some((t, v)) => (
                t.trim().parse::<i64>().map_err(|_| bad())?,
                v.trim().parse::<f64>().map_err(|_| bad())?,
            ),
            None => (points.len() as i64, line.parse::<f64>().map_err(|_| bad())?),
        };
        points.push(point);
    }
    bar.finish_and_clear();
    Ok(points)
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Values-only bytes of each codec (Gorilla, ALP, Pack) and of what
/// `Policy::Best` writes (Pack, or Gorilla where smaller), each verified by
/// decoding.
fn measure(values: &[f64]) -> Result<[usize; 4], CliError> {
    let mut sizes = [0usize; 4];
    for part in values.chunks(Chunk::MAX_POINTS) {
        let g = gorilla::encode_values(part);
        let a = best::encode_values(part);
        let p = pack::encode_values(part);
        if !same_bits(&gorilla::decode_values(&g, part.len())?, part)
            || !same_bits(&best::decode_values(&a, part.len())?, part)
            || !same_bits(&pack::decode_values(&p, part.len())?, part)
        {
            return Err(CliError::Verify("round trip mismatch".into()));
        }
        sizes[0] += g.len();
        sizes[1] += a.len();
        sizes[2] += p.len();
        sizes[3] += p.len().min(g.len());
    }
    Ok(sizes)
}

fn bpv(bytes: usize, n: usize) -> f64 {
    if n == 0 {
        0.0
    } else {
        bytes as f64 * 8.0 / n as f64
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub(crate) fn run(cmd: TszCmd, out: &Output) -> Result<(), CliError> {
    match cmd {
        TszCmd::Stats { files } => {
            let mut rows = Vec::new();
            let (mut n_all, mut all) = (0, [0usize; 4]);
            files::one_stdin(files.iter().map(PathBuf::as_path))?;
            for f in &files {
                let values: Vec<f64> = read_points(f, None)?.into_iter().map(|p| p.1).collect();
                let sizes = measure(&values)?;
                n_all += values.len();
                for (a, s) in all.iter_mut().zip(sizes) {
                    *a += s;
                }
                rows.push((files::name(f), values.len(), sizes));
            }
            rows.push(("(overall)".to_string(), n_all, all));
            let value = json!(
                rows.iter()
                    .map(|(f, n, [g, a, p, b])| json!({
                        "file": f,
                        "points": n,
                        "bits_per_value": {
                            "gorilla": round2(bpv(*g, *n)),
                            "alp": round2(bpv(*a, *n)),
                            "pack": round2(bpv(*p, *n)),
                            "best": round2(bpv(*b, *n)),
                        },
                        "roundtrip": "verified",
                    }))
                    .collect::<Vec<_>>()
            );
            out.emit(&value, || {
                let mut s = format!(
                    "{:<40} {:>9} {:>9} {:>9} {:>9} {:>9}  round trip\n",
                    "file", "points", "gorilla", "alp", "pack", "best"
                );
                for (f, n, [g, a, p, b]) in &rows {
                    let _ = writeln!(
                        s,
                        "{f:<40} {n:>9} {:>9.2} {:>9.2} {:>9.2} {:>9.2}  ok",
                        bpv(*g, *n),
                        bpv(*a, *n),
                        bpv(*p, *n),
                        bpv(*b, *n)
                    );
                }
                s.push_str("(bits per value, values only)");
                s
            });
        }
        TszCmd::Compress {
            input,
            output,
            policy,
            unit,
        } => {
            // A bar over the input's bytes while it is parsed, then one over the chunks.
            let mut points = read_points(&input, Some(out))?;
            points.sort_by_key(|p| p.0);
            let policy = match policy {
                PolicyArg::Gorilla => Policy::Gorilla,
                PolicyArg::Best => Policy::Best,
                PolicyArg::Alp => Policy::Alp,
                PolicyArg::Auto => Policy::Auto,
            };
            let chunks = points.len().div_ceil(Chunk::MAX_POINTS) as u64;
            let bar = progress::count(chunks, "chunks", out);
            let mut w = files::writer(&output)?;
            let mut written = 0;
            for part in points.chunks(Chunk::MAX_POINTS) {
                let chunk = Chunk::encode(part, unit.into(), policy)?;
                w.write_all(&chunk).or_else(files::quiet_pipe)?;
                written += chunk.len();
                bar.inc(1);
            }
            w.flush().or_else(files::quiet_pipe)?;
            bar.finish_and_clear();
            // With the chunks on standard output, the summary would corrupt them.
            if !files::is_std(&output) {
                let raw = points.len() * 16;
                let ratio = raw as f64 / written.max(1) as f64;
                out.emit(
                    &json!({"points": points.len(), "bytes": written, "ratio": round2(ratio)}),
                    || format!("{} points -> {written} bytes ({ratio:.2}x smaller than 16 bytes/point)", points.len()),
                );
            }
        }
        TszCmd::Decompress { input, output } => {
            let bytes = files::read(&input)?;
            let output = output.filter(|o| !files::is_std(o));
            let mut w = match &output {
                Some(path) => files::writer(path)?,
                None => files::writer(Path::new("-"))?,
            };
            // Each chunk is written out as soon as it is decoded.
            let mut rest = &bytes[..];
            let mut n = 0;
            let mut text = String::new();
            while !rest.is_empty() {
                let header = Chunk::peek(rest)?;
                let len = header.total_len().min(rest.len());
                let (_, points) = Chunk::decode(&rest[..len])?;
                text.clear();
                for (t, v) in &points {
                    let _ = writeln!(text, "{t},{v:?}");
                }
                w.write_all(text.as_bytes()).or_else(files::quiet_pipe)?;
                n += points.len();
                rest = &rest[len..];
            }
            w.flush().or_else(files::quiet_pipe)?;
            if let Some(path) = output {
                out.emit(&json!({"points": n}), || {
                    format!("{n} points -> {}", path.display())
                });
            }
        }
    }
    Ok(())
}
