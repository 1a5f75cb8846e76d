//! `blocksmith store ...`: the embedded blob store from the shell.

use crate::backend::CliStore;
use crate::files;
use crate::output::{CliError, Output};
use blocksmith_store::{
    ByteRange, Key, ListOptions, ObjectMeta, PutMode, PutOptions, StoreExt, Version,
};
use clap::Subcommand;
use serde_json::json;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub(crate) enum StoreCmd {
    /// Write a value (from FILE, `--value`, or standard input).
    Put {
        /// The key, `/`-separated.
        key: String,
        /// Read the value from this file (`-` or absent: standard input).
        file: Option<PathBuf>,
        /// The value as a string.
        #[arg(long, conflicts_with = "file")]
        value: Option<String>,
        /// Fail (exit 4) if the key exists.
        #[arg(long, conflicts_with = "if_version")]
        create: bool,
        /// Compare-and-swap: write only if the current version is this one (exit 4 otherwise).
        #[arg(long, value_name = "VERSION")]
        if_version: Option<String>,
    },
    /// Print a value (or write it to `--output`).
    Get {
        /// The key.
        key: String,
        /// Write the bytes to this file instead of standard output (`-`: standard output).
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Only bytes START..END (END exclusive), `START..` or `-N` (the last N).
        #[arg(long)]
        range: Option<String>,
    },
    /// Print size and version.
    Head {
        /// The key.
        key: String,
    },
    /// List keys under a prefix, in key order.
    List {
        /// Plain string prefix (empty: everything).
        #[arg(default_value = "")]
        prefix: String,
        /// Stop after this many keys.
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Delete a key (succeeds if absent).
    Delete {
        /// The key.
        key: String,
    },
}

fn open(dir: &Path) -> Result<CliStore, CliError> {
    crate::backend::open(dir)
}

fn key(s: &str) -> Result<Key, CliError> {
    Ok(Key::new(s)?)
}

fn parse_range(s: &str) -> Result<ByteRange, CliError> {
    let bad = || CliError::BadInput(format!("bad range {s:?}: use START..END, START.. or -N"));
    if let Some(n) = s.strip_prefix('-') {
        return n.parse().map(ByteRange::Suffix).map_err(|_| bad());
    }
    let (a, b) = s.split_once("..").ok_or_else(bad)?;
    let start = a.parse().map_err(|_| bad())?;
    if b.is_empty() {
        Ok(ByteRange::From(start))
    } else {
        Ok(ByteRange::Bounded(start..b.parse().map_err(|_| bad())?))
    }
}

fn meta_json(m: &ObjectMeta) -> serde_json::Value {
    json!({"key": m.key.as_str(), "size": m.size, "version": m.version.as_str()})
}

pub(crate) fn run(cmd: StoreCmd, dir: &Path, out: &Output) -> Result<(), CliError> {
    let store = open(dir)?;
    let s = store.blocking();
    match cmd {
        StoreCmd::Put {
            key: k,
            file,
            value,
            create,
            if_version,
        } => {
            let k = key(&k)?;
            let bytes = match (file, value) {
                (Some(f), _) => files::read(&f)?,
                (None, Some(v)) => v.into_bytes(),
                (None, None) => {
                    let mut buf = Vec::new();
                    std::io::stdin().read_to_end(&mut buf)?;
                    buf
                }
            };
            let mode = match (create, if_version) {
                (true, _) => PutMode::Create,
                (false, Some(v)) => PutMode::Update(Version::new(v)),
                (false, None) => PutMode::Overwrite,
            };
            let size = bytes.len();
            let r = s.put_opts(&k, bytes, PutOptions::new().with_mode(mode))?;
            out.emit(
                &json!({"key": k.as_str(), "size": size, "version": r.version.as_str()}),
                || format!("stored {k} ({size} bytes, version {})", r.version),
            );
        }
        StoreCmd::Get {
            key: k,
            output,
            range,
        } => {
            let k = key(&k)?;
            let r = match range {
                Some(r) => s.get_range(&k, parse_range(&r)?)?,
                None => s.get(&k)?,
            };
            if let Some(path) = output.filter(|p| !files::is_std(p)) {
                files::write(&path, &r.data)?;
                out.emit(&meta_json(&r.meta), || {
                    format!("wrote {} bytes to {}", r.data.len(), path.display())
                });
            } else if out.json {
                let text = String::from_utf8(r.data.to_vec()).ok();
                let mut v = meta_json(&r.meta);
                v["range"] = json!([r.range.start, r.range.end]);
                v["utf8"] = json!(text);
                out.emit(&v, String::new);
            } else {
                files::write(Path::new("-"), &r.data)?;
            }
        }
        StoreCmd::Head { key: k } => {
            let m = s.head(&key(&k)?)?;
            out.emit(&meta_json(&m), || {
                format!("{}\t{} bytes\tversion {}", m.key, m.size, m.version)
            });
        }
        StoreCmd::List { prefix, limit } => {
            let metas = match limit {
                Some(n) => s.list(ListOptions::prefix(prefix).with_limit(n))?.objects,
                None => s.list_all(&prefix)?,
            };
            out.emit(
                &json!(metas.iter().map(meta_json).collect::<Vec<_>>()),
                || {
                    metas
                        .iter()
                        .map(|m| format!("{}\t{}", m.key, m.size))
                        .collect::<Vec<_>>()
                        .join("\n")
                },
            );
        }
        StoreCmd::Delete { key: k } => {
            let k = key(&k)?;
            s.delete(&k)?;
            out.emit(&json!({"deleted": k.as_str()}), || format!("deleted {k}"));
        }
    }
    Ok(())
}
