//! `blocksmith tsz ...`: measure and apply time-series compression.

use crate::output::{CliError, Output};
use blocksmith_tsz::{Chunk, Point, Policy, TimeUnit, best, gorilla, pack};
use clap::{Subcommand, ValueEnum};
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub(crate) enum TszCmd {
    /// Bits/value of each codec on files of values (one per line, or `timestamp,value`),
    /// with a verified round trip; per file and overall.
    Stats {
        /// Input files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Compress a file of points into a stream of chunks.
    Compress {
        /// Input: values one per line, or `timestamp,value`.
        input: PathBuf,
        /// Output file of concatenated chunks.
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
        /// Input file of concatenated chunks.
        input: PathBuf,
        /// Output file (standard output if absent).
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
            | blocksmith_tsz::Error::LateWrite { .. } => CliError::BadInput(e.to_string()),
            // Everything else is a decoder rejecting its input.
            _ => CliError::BadInput(format!("invalid chunk data: {e}")),
        }
    }
}

/// Parses values one per line, or `timestamp,value` lines. Value-only files
/// get timestamps 0, 1, 2, ...; blank lines and `#` comments are skipped.
fn read_points(path: &Path) -> Result<Vec<Point>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::BadInput(format!("read {}: {e}", path.display())))?;
    let mut points = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || {
            CliError::BadInput(format!(
                "{}:{}: cannot parse {line:?}",
                path.display(),
                i + 1
            ))
        };
        let point = match line.split_once(',') {
            Some((t, v)) => (
                t.trim().parse::<i64>().map_err(|_| bad())?,
                v.trim().parse::<f64>().map_err(|_| bad())?,
            ),
            None => (points.len() as i64, line.parse::<f64>().map_err(|_| bad())?),
        };
        points.push(point);
    }
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
            return Err(CliError::Internal("round trip mismatch".into()));
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
            for f in &files {
                let values: Vec<f64> = read_points(f)?.into_iter().map(|p| p.1).collect();
                let sizes = measure(&values)?;
                n_all += values.len();
                for (a, s) in all.iter_mut().zip(sizes) {
                    *a += s;
                }
                rows.push((f.display().to_string(), values.len(), sizes));
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
            let mut points = read_points(&input)?;
            points.sort_by_key(|p| p.0);
            let policy = match policy {
                PolicyArg::Gorilla => Policy::Gorilla,
                PolicyArg::Best => Policy::Best,
                PolicyArg::Alp => Policy::Alp,
                PolicyArg::Auto => Policy::Auto,
            };
            let mut bytes = Vec::new();
            for part in points.chunks(Chunk::MAX_POINTS) {
                bytes.extend_from_slice(&Chunk::encode(part, unit.into(), policy)?);
            }
            std::fs::write(&output, &bytes)?;
            let raw = points.len() * 16;
            out.emit(
                &json!({"points": points.len(), "bytes": bytes.len(), "ratio": round2(raw as f64 / bytes.len().max(1) as f64)}),
                || format!("{} points -> {} bytes ({:.2}x smaller than 16 bytes/point)", points.len(), bytes.len(), raw as f64 / bytes.len().max(1) as f64),
            );
        }
        TszCmd::Decompress { input, output } => {
            let bytes = std::fs::read(&input)
                .map_err(|e| CliError::BadInput(format!("read {}: {e}", input.display())))?;
            let mut rest = &bytes[..];
            let mut text = String::new();
            let mut n = 0;
            while !rest.is_empty() {
                let header = Chunk::peek(rest)?;
                let len = header.total_len().min(rest.len());
                let (_, points) = Chunk::decode(&rest[..len])?;
                for (t, v) in &points {
                    let _ = writeln!(text, "{t},{v:?}");
                }
                n += points.len();
                rest = &rest[len..];
            }
            match output {
                Some(path) => {
                    std::fs::write(&path, text)?;
                    out.emit(&json!({"points": n}), || {
                        format!("{n} points -> {}", path.display())
                    });
                }
                None => print!("{text}"),
            }
        }
    }
    Ok(())
}
