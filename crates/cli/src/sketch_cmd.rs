//! `blocksmith sketch ...`: build sketches from standard input (one item or
//! number per line), print their estimates, write their bytes (Apache
//! DataSketches / DataDog formats) and read any such file back.
//!
//! `--name NAME` keeps the sketch in the store under `sketch/<kind>/<name>`
//! and merges each run's input into it, so counts accumulate across runs.

use crate::backend::CliStore;
use crate::output::{CliError, Output};
use blocksmith_sketch::ddsketch::DdSketch;
use blocksmith_sketch::frequency::{CountMin, SpaceSaving};
use blocksmith_sketch::hll::{HllMode, HllSketch, HllType};
use blocksmith_sketch::kll::{Criteria, KllItem, KllSketch};
use blocksmith_sketch::theta::{self, CompactTheta, UpdateTheta};
use blocksmith_store::{Key, PutOptions, StoreExt, Version};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io::BufRead;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub(crate) enum SketchCmd {
    /// Distinct count of the input lines (HyperLogLog).
    Hll {
        /// log2 of the number of registers (4-21; error about 1.04/sqrt(2^lg_k)).
        #[arg(long, default_value_t = 12)]
        lg_k: u8,
        /// Register width of the serialized sketch.
        #[arg(long = "type", value_enum, default_value_t = HllTypeArg::Hll4)]
        hll_type: HllTypeArg,
        #[command(flatten)]
        io: SketchIo,
    },
    /// Quantiles of the input numbers (KLL, rank error about 1.3% at k = 200).
    Kll {
        /// Accuracy parameter (8-65535).
        #[arg(long, default_value_t = 200)]
        k: u16,
        /// Normalized ranks to report, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = vec![0.5, 0.9, 0.99])]
        ranks: Vec<f64>,
        #[command(flatten)]
        io: SketchIo,
    },
    /// Distinct count of the input lines (Theta, supports set operations).
    Theta {
        /// log2 of the nominal number of retained hashes (5-26).
        #[arg(long, default_value_t = 12)]
        lg_k: u8,
        #[command(flatten)]
        io: SketchIo,
    },
    /// Relative-error quantiles of the input numbers (DDSketch, DataDog protobuf).
    Ddsketch {
        /// Relative accuracy.
        #[arg(long, default_value_t = 0.01)]
        alpha: f64,
        /// Quantiles to report, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = vec![0.5, 0.9, 0.99])]
        quantiles: Vec<f64>,
        #[command(flatten)]
        io: SketchIo,
    },
    /// The most frequent input lines (Space-Saving).
    Topk {
        /// How many items to print.
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// Counters kept (error at most total/capacity per count).
        #[arg(long, default_value_t = 1024)]
        capacity: usize,
        #[command(flatten)]
        io: SketchIo,
    },
    /// Print what a sketch file holds (HLL, KLL or Theta from any
    /// DataSketches implementation, DataDog DDSketch protobuf, or ours).
    Read {
        /// The file (`-`: standard input).
        file: PathBuf,
    },
}

impl SketchCmd {
    /// Whether the sketch itself goes to standard output (`--out -`).
    fn writes_stdout(&self) -> bool {
        match self {
            SketchCmd::Hll { io, .. }
            | SketchCmd::Kll { io, .. }
            | SketchCmd::Theta { io, .. }
            | SketchCmd::Ddsketch { io, .. }
            | SketchCmd::Topk { io, .. } => io.out.as_deref().is_some_and(crate::files::is_std),
            SketchCmd::Read { .. } => false,
        }
    }
}

#[derive(Args, Debug)]
pub(crate) struct SketchIo {
    /// Write the serialized sketch to this file (`-`: standard output, instead of the summary).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the sketch in the store under this name, merging this run's input into it.
    #[arg(long)]
    name: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum HllTypeArg {
    Hll4,
    Hll6,
    Hll8,
}

impl From<HllTypeArg> for HllType {
    fn from(t: HllTypeArg) -> Self {
        match t {
            HllTypeArg::Hll4 => HllType::Hll4,
            HllTypeArg::Hll6 => HllType::Hll6,
            HllTypeArg::Hll8 => HllType::Hll8,
        }
    }
}

impl From<blocksmith_sketch::Error> for CliError {
    fn from(e: blocksmith_sketch::Error) -> Self {
        use blocksmith_sketch::Error as E;
        match e {
            E::Store(e) => e.into(),
            E::InvalidArgument(_) | E::Incompatible(_) | E::Rejected(_) => {
                CliError::BadInput(crate::output::report(&e))
            }
            _ => CliError::BadInput(format!(
                "invalid sketch data: {}",
                crate::output::report(&e)
            )),
        }
    }
}

/// Standard input lines (without line ends; empty lines skipped).
fn lines() -> Result<Vec<String>, CliError> {
    let mut out = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if !line.is_empty() {
            out.push(line.to_string());
        }
    }
    Ok(out)
}

fn numbers() -> Result<Vec<f64>, CliError> {
    lines()?
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#'))
        .map(|(i, l)| {
            l.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| CliError::BadInput(format!("stdin:{}: not a number: {l:?}", i + 1)))
        })
        .collect()
}

/// The stored sketch of a kind and name, if any.
struct Stored {
    store: CliStore,
    key: Key,
    /// The version the merge started from (`None`: there was none), so
    /// that a run racing another one fails instead of dropping its items.
    version: Option<Version>,
}

/// The store handle and the previous bytes, when `--name` was given.
type Previous = Option<(Stored, Option<Vec<u8>>)>;

fn stored(store_dir: &Path, kind: &str, name: Option<&String>) -> Result<Previous, CliError> {
    let Some(name) = name else { return Ok(None) };
    let store = crate::backend::open(store_dir)?;
    let key = Key::new(format!("sketch/{kind}/{name}"))?;
    let old = store.blocking().get_opt(&key)?;
    let version = old.as_ref().map(|r| r.meta.version.clone());
    let old = old.map(|r| r.data.to_vec());
    Ok(Some((
        Stored {
            store,
            key,
            version,
        },
        old,
    )))
}

fn finish(bytes: &[u8], io: &SketchIo, stored: Option<Stored>) -> Result<(), CliError> {
    if let Some(path) = &io.out {
        crate::files::write(path, bytes)?;
    }
    if let Some(s) = stored {
        // Compare-and-swap on what was merged: another run that stored
        // the sketch meanwhile makes this one fail (run it again), never
        // lose that run's items.
        let mode = match s.version {
            Some(v) => PutOptions::update(v),
            None => PutOptions::create(),
        };
        s.store.blocking().put_opts(&s.key, bytes.to_vec(), mode)?;
    }
    Ok(())
}

fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

fn hll_json(s: &HllSketch) -> Value {
    json!({
        "family": "hll",
        "estimate": s.estimate(),
        "lower_bound": s.lower_bound(2),
        "upper_bound": s.upper_bound(2),
        "lg_k": s.lg_k(),
        "type": format!("{:?}", s.target_type()).to_uppercase().replace("HLL", "HLL_"),
        "mode": match s.mode() { HllMode::List => "list", HllMode::Set => "set", HllMode::Hll => "hll" },
    })
}

fn kll_json<T: KllItem>(s: &KllSketch<T>, ranks: &[f64], item: &str) -> Value {
    let q: serde_json::Map<String, Value> = ranks
        .iter()
        .map(|&r| {
            (
                r.to_string(),
                json!(s.quantile_with(r, Criteria::Inclusive).map(KllItem::to_f64)),
            )
        })
        .collect();
    json!({
        "family": "kll",
        "item": item,
        "n": s.n(),
        "k": s.k(),
        "retained": s.num_retained(),
        "min": s.min().map(KllItem::to_f64),
        "max": s.max().map(KllItem::to_f64),
        "quantiles": q,
        "rank_error": s.normalized_rank_error(false),
    })
}

fn theta_json(s: &CompactTheta) -> Value {
    json!({
        "family": "theta",
        "estimate": s.estimate(),
        "lower_bound": s.lower_bound(2),
        "upper_bound": s.upper_bound(2),
        "retained": s.num_retained(),
        "theta": s.theta(),
    })
}

fn dd_json(s: &DdSketch, qs: &[f64]) -> Value {
    let q: serde_json::Map<String, Value> = qs
        .iter()
        .map(|&r| (r.to_string(), json!(s.quantile(r))))
        .collect();
    json!({"family": "ddsketch", "count": s.count(), "alpha": round(s.relative_accuracy()),
        // null when unknown: the protobuf bytes do not carry them.
        "sum": s.sum(), "min": s.min(), "max": s.max(), "quantiles": q})
}

fn human(v: &Value) -> String {
    let mut s = String::new();
    if let Some(obj) = v.as_object() {
        for (k, val) in obj {
            match val {
                Value::Object(m) => {
                    for (q, x) in m {
                        let _ = writeln!(s, "{k}[{q}]\t{x}");
                    }
                }
                Value::Array(rows) => {
                    for r in rows {
                        let _ = writeln!(s, "{}\t{}", r["item"].as_str().unwrap_or(""), r["count"]);
                    }
                }
                _ => {
                    let _ = writeln!(
                        s,
                        "{k}\t{}",
                        val.as_str().map_or_else(|| val.to_string(), str::to_string)
                    );
                }
            }
        }
    }
    s.trim_end().to_string()
}

fn topk_json(s: &SpaceSaving, k: usize) -> Value {
    let rows: Vec<Value> = s
        .top_k(k)
        .into_iter()
        .map(|r| json!({"item": r.item, "count": r.upper, "lower_bound": r.lower}))
        .collect();
    json!({"family": "topk", "total": s.total(), "max_error": s.max_error(), "items": rows})
}

pub(crate) fn run(cmd: SketchCmd, store_dir: &Path, out: &Output) -> Result<(), CliError> {
    let to_stdout = cmd.writes_stdout();
    let value = match cmd {
        SketchCmd::Hll { lg_k, hll_type, io } => {
            let mut s = HllSketch::new(lg_k, hll_type.into())?;
            let input = lines()?;
            for l in &input {
                s.update(l.as_str());
            }
            let st = stored(store_dir, "hll", io.name.as_ref())?;
            let st = match st {
                Some((st, Some(old))) => {
                    let mut prev = HllSketch::from_bytes(&old)?;
                    prev.merge(&s)?;
                    prev.set_target_type(hll_type.into());
                    s = prev;
                    Some(st)
                }
                Some((st, None)) => Some(st),
                None => None,
            };
            finish(&s.to_bytes(), &io, st)?;
            let mut v = hll_json(&s);
            v["lines"] = json!(input.len());
            v
        }
        SketchCmd::Kll { k, ranks, io } => {
            if ranks.iter().any(|r| !(0.0..=1.0).contains(r)) {
                return Err(CliError::BadInput("ranks must be in [0, 1]".into()));
            }
            let mut s = KllSketch::<f64>::new(k)?;
            for v in numbers()? {
                s.update(v);
            }
            let st = match stored(store_dir, "kll", io.name.as_ref())? {
                Some((st, Some(old))) => {
                    let mut prev = KllSketch::<f64>::from_bytes(&old)?;
                    prev.merge(&s)?;
                    s = prev;
                    Some(st)
                }
                Some((st, None)) => Some(st),
                None => None,
            };
            finish(&s.to_bytes(), &io, st)?;
            kll_json(&s, &ranks, "double")
        }
        SketchCmd::Theta { lg_k, io } => {
            let mut u = UpdateTheta::new(lg_k)?;
            for l in lines()? {
                u.update(l.as_str());
            }
            let mut s = u.compact();
            let st = match stored(store_dir, "theta", io.name.as_ref())? {
                Some((st, Some(old))) => {
                    s = theta::union(&[CompactTheta::from_bytes(&old)?, s], lg_k)?;
                    Some(st)
                }
                Some((st, None)) => Some(st),
                None => None,
            };
            finish(&s.to_bytes(), &io, st)?;
            theta_json(&s)
        }
        SketchCmd::Ddsketch {
            alpha,
            quantiles,
            io,
        } => {
            if quantiles.iter().any(|r| !(0.0..=1.0).contains(r)) {
                return Err(CliError::BadInput("quantiles must be in [0, 1]".into()));
            }
            let mut s = DdSketch::new(alpha)?;
            for v in numbers()? {
                s.update(v);
            }
            let st = match stored(store_dir, "ddsketch", io.name.as_ref())? {
                Some((st, Some(old))) => {
                    let mut prev = DdSketch::from_bytes(&old)?;
                    prev.merge(&s)?;
                    s = prev;
                    Some(st)
                }
                Some((st, None)) => Some(st),
                None => None,
            };
            finish(&s.to_bytes(), &io, st)?;
            dd_json(&s, &quantiles)
        }
        SketchCmd::Topk { k, capacity, io } => {
            let mut s = SpaceSaving::new(capacity)?;
            for l in lines()? {
                s.update(&l, 1);
            }
            let st = match stored(store_dir, "topk", io.name.as_ref())? {
                Some((st, Some(old))) => {
                    let mut prev = SpaceSaving::from_bytes(&old)?;
                    prev.merge(&s)?;
                    s = prev;
                    Some(st)
                }
                Some((st, None)) => Some(st),
                None => None,
            };
            finish(&s.to_bytes(), &io, st)?;
            topk_json(&s, k)
        }
        SketchCmd::Read { file } => {
            let bytes = crate::files::read(&file)?;
            read(&bytes)?
        }
    };
    if !to_stdout {
        out.emit(&value, || human(&value));
    }
    Ok(())
}

/// Recognizes a sketch by its header and decodes it.
fn read(bytes: &[u8]) -> Result<Value, CliError> {
    let ranks = [0.0, 0.01, 0.25, 0.5, 0.75, 0.99, 1.0];
    match (bytes.get(1), bytes.get(2)) {
        (Some(1), Some(7)) => return Ok(hll_json(&HllSketch::from_bytes(bytes)?)),
        (Some(1 | 2), Some(15)) => {
            return match KllSketch::<f64>::from_bytes(bytes) {
                Ok(s) => Ok(kll_json(&s, &ranks, "double")),
                Err(_) => Ok(kll_json(
                    &KllSketch::<f32>::from_bytes(bytes)?,
                    &ranks,
                    "float",
                )),
            };
        }
        (Some(3), Some(3)) => return Ok(theta_json(&CompactTheta::from_bytes(bytes)?)),
        _ => {}
    }
    match bytes.get(..4) {
        Some(b"BSSS") => return Ok(topk_json(&SpaceSaving::from_bytes(bytes)?, 10)),
        Some(b"BSCM") => {
            let s = CountMin::from_bytes(bytes)?;
            return Ok(
                json!({"family": "countmin", "total": s.total(), "depth": s.depth(), "width": s.width()}),
            );
        }
        _ => {}
    }
    if let Ok(s) = DdSketch::from_bytes(bytes) {
        return Ok(dd_json(&s, &[0.5, 0.9, 0.99]));
    }
    Err(CliError::BadInput(
        "not a recognized sketch (HLL, KLL, Theta, DDSketch, top-k, Count-Min)".into(),
    ))
}
