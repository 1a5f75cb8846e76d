//! `blocksmith upload ...`: resumable chunked uploads into the embedded store,
//! and content-defined chunking plans.

use crate::backend::CliStore;
use crate::output::{CliError, Output};
use crate::progress;
use blocksmith_store::block_on;
use blocksmith_upload::cdc::CdcOptions;
use blocksmith_upload::client::{Reader, Source, Uploader};
use blocksmith_upload::dedup::Plan;
use blocksmith_upload::{Algorithm, CreateOptions, SessionState, UploadOptions, Uploads};
use clap::Subcommand;
use serde_json::json;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const MIB: u64 = 1 << 20;

#[derive(Subcommand, Debug)]
pub(crate) enum UploadCmd {
    /// Upload FILE in parts into the store under its file name (or `--name`).
    /// Resumable: after an interruption, run the same command again and it
    /// continues where the store says it stopped.
    Put {
        /// The file (`-`: stdin, read once in parts; needs `--name`).
        file: PathBuf,
        /// The key to store it under (default: the file name).
        #[arg(long)]
        name: Option<String>,
        /// Part size in KiB.
        #[arg(long, default_value_t = 8192)]
        part_kib: u64,
        /// Replace an existing object with other content.
        #[arg(long)]
        overwrite: bool,
        /// Strip image metadata (EXIF, XMP, comments) before storing.
        #[arg(long)]
        strip_metadata: bool,
        /// Stop after sending this many parts, as an interrupted client would.
        #[arg(long, value_name = "N")]
        stop_after: Option<usize>,
    },
    /// Show an upload session: state, offset, missing ranges.
    Status {
        /// The session id (printed by `put`).
        id: String,
    },
    /// List upload sessions.
    List,
    /// Abort a session and delete its parts.
    Abort {
        /// The session id.
        id: String,
    },
    /// Remove expired sessions and parts that belong to no open session.
    Expire,
    /// Content-defined chunk boundaries of FILE (FastCDC), and the dedup ratio
    /// against another file.
    Chunks {
        /// The file.
        file: PathBuf,
        /// Compare with this file: how many bytes dedup would not send again.
        #[arg(long, value_name = "OTHER")]
        against: Option<PathBuf>,
        /// Minimum chunk size in KiB.
        #[arg(long, default_value_t = 16)]
        min_kib: usize,
        /// Average chunk size in KiB.
        #[arg(long, default_value_t = 64)]
        avg_kib: usize,
        /// Maximum chunk size in KiB.
        #[arg(long, default_value_t = 256)]
        max_kib: usize,
        /// Print every boundary.
        #[arg(long)]
        list: bool,
    },
}

impl From<blocksmith_upload::Error> for CliError {
    fn from(e: blocksmith_upload::Error) -> Self {
        use blocksmith_upload::Error as E;
        let msg = crate::output::report(&e);
        match e {
            E::Store(e) => e.into(),
            E::NotFound { .. } | E::Gone { .. } => CliError::NotFound(msg),
            E::TargetExists { .. } | E::OffsetMismatch { .. } | E::Overlap { .. } => {
                CliError::Conflict(msg)
            }
            E::Random(_) => CliError::Internal(msg),
            _ => CliError::BadInput(msg),
        }
    }
}

fn open(dir: &Path) -> Result<CliStore, CliError> {
    crate::backend::open(dir)
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::BadInput(format!("read {}: {e}", path.display())))
}

fn hex(b: &[u8]) -> String {
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub(crate) fn run(cmd: UploadCmd, store_dir: &Path, out: &Output) -> Result<(), CliError> {
    match cmd {
        UploadCmd::Put {
            file,
            name,
            part_kib,
            overwrite,
            strip_metadata,
            stop_after,
        } => {
            let stdin = file.as_os_str() == "-";
            let name = match name {
                Some(n) => n,
                None if stdin => {
                    return Err(CliError::BadInput(
                        "reading stdin: name the object with --name".into(),
                    ));
                }
                None => file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .ok_or_else(|| CliError::BadInput("cannot name the file; use --name".into()))?
                    .to_string(),
            };
            // At most the engine's largest part (5 GiB).
            let part = part_kib.clamp(1, 5 * 1024 * 1024) * 1024;
            let read_err =
                |e: std::io::Error| CliError::BadInput(format!("read {}: {e}", file.display()));
            // A path that is not a regular file (`/dev/stdin`, a FIFO,
            // `<(cmd)`) can be read only once: it goes the way of `-`.
            let (regular, once) = if stdin {
                (None, None)
            } else {
                let f = std::fs::File::open(&file).map_err(read_err)?;
                let meta = f.metadata().map_err(read_err)?;
                if meta.is_file() {
                    (Some((f, meta.len())), None)
                } else {
                    (None, Some(f))
                }
            };
            let store = open(store_dir)?;
            let options = UploadOptions::default()
                .with_part_size(part.min(5 * MIB), 5 * 1024 * MIB)
                .with_digest(Algorithm::Sha256);
            let uploads = Uploads::with_options(&store, options);
            let create = CreateOptions::default()
                .with_target(name.clone())
                .with_overwrite(overwrite)
                .with_strip_metadata(strip_metadata)
                .with_metadata("filename", name.clone());
            let uploader = Uploader::default().with_part_size(part);
            let limit = stop_after.unwrap_or(usize::MAX);
            let o = if let Some((mut f, len)) = regular {
                // The same file under the same name (with the same flags)
                // always maps to the same session, so a second run continues
                // the first. The digest is read in one streaming pass, then
                // the same open file is read again part by part; should it
                // change in between, the digest fails the upload at finalize
                // and its parts are dropped, so a later run can complete it.
                let hash_bar = progress::bytes(len, out);
                hash_bar.set_message("hashing");
                let mut hasher = Algorithm::Sha256.hasher();
                let hashed = std::io::copy(&mut hash_bar.wrap_read(&mut f), &mut hasher)
                    .map_err(read_err)?;
                hash_bar.finish_and_clear();
                if hashed != len {
                    return Err(CliError::BadInput(format!(
                        "{} changed while it was read ({len} bytes, then {hashed})",
                        file.display()
                    )));
                }
                let digest = hasher.finish();
                let flags = [u8::from(overwrite), u8::from(strip_metadata)];
                let id_src = [name.as_bytes(), b"\0", &flags, &digest.digest].concat();
                let id = Algorithm::Sha256.digest(&id_src).hex()[..32].to_string();
                let create = create.with_id(id).with_expected(digest);
                let bar = progress::bytes(len, out);
                let source = Reader::new(f)?;
                if source.len() != len {
                    return Err(CliError::BadInput(format!(
                        "{} changed while it was read ({len} bytes, then {})",
                        file.display(),
                        source.len()
                    )));
                }
                let o = block_on(uploader.upload_source_with(&uploads, source, create, |p| {
                    bar.set_position(p.received);
                    p.parts_sent < limit
                }))?;
                bar.finish_and_clear();
                o
            } else {
                // A pipe cannot be read twice: one pass, parts sent as they
                // come, the length declared at the end (no resuming).
                let bar = progress::stream(out);
                let reader: Box<dyn std::io::Read> = match once {
                    Some(f) => Box::new(f),
                    None => Box::new(std::io::stdin().lock()),
                };
                let o = block_on(uploader.upload_stream(&uploads, reader, create, |p| {
                    bar.set_position(p.received);
                    p.parts_sent < limit
                }))?;
                bar.finish_and_clear();
                o
            };
            let size = o.published.as_ref().map(|p| p.size);
            out.emit(
                &json!({
                    "id": o.id, "name": name, "resumed": o.resumed,
                    "already_received": o.already_received, "bytes_sent": o.bytes_sent,
                    "parts_sent": o.parts_sent, "complete": o.published.is_some(),
                    "size": size,
                    "sha256": o.published.as_ref().map(|p| p.checksum.hex()),
                    "content_type": o.published.as_ref().map(|p| p.content_type.clone()),
                }),
                || {
                    let mut s = if o.resumed {
                        format!(
                            "resumed upload {}: {} bytes were already stored; ",
                            o.id, o.already_received
                        )
                    } else {
                        format!("upload {}: ", o.id)
                    };
                    let _ = write!(s, "sent {} bytes in {} parts", o.bytes_sent, o.parts_sent);
                    match &o.published {
                        Some(p) => {
                            let _ = write!(
                                s,
                                "; stored as {} ({} bytes, {}, sha256 {})",
                                p.key,
                                p.size,
                                p.content_type,
                                p.checksum.hex()
                            );
                        }
                        None => s.push_str("; interrupted: run the same command again to continue"),
                    }
                    s
                },
            );
        }
        UploadCmd::Status { id } => {
            let store = open(store_dir)?;
            let st = block_on(Uploads::new(&store).status(&id))?;
            let state = match &st.session.state {
                SessionState::Open => "open".to_string(),
                SessionState::Finalized(p) => format!("finalized as {}", p.key),
                SessionState::Aborted => "aborted".to_string(),
                _ => "unknown".to_string(),
            };
            let missing: Vec<_> = st.missing.iter().map(|r| json!([r.start, r.end])).collect();
            out.emit(
                &json!({
                    "id": id, "state": state, "length": st.session.length, "offset": st.offset,
                    "received": st.received, "missing": missing, "parts": st.parts,
                    "target": st.session.target, "expires_at": st.session.expires_at,
                }),
                || {
                    let gaps: Vec<String> = st
                        .missing
                        .iter()
                        .map(|r| format!("{}..{}", r.start, r.end))
                        .collect();
                    format!(
                        "{id}: {state}, {} of {} bytes received (offset {}), {} parts{}",
                        st.received,
                        st.session.length.map_or("?".into(), |l| l.to_string()),
                        st.offset,
                        st.parts,
                        if gaps.is_empty() {
                            String::new()
                        } else {
                            format!(", missing {}", gaps.join(" "))
                        }
                    )
                },
            );
        }
        UploadCmd::List => {
            let store = open(store_dir)?;
            let ids = block_on(Uploads::new(&store).list())?;
            out.emit(&json!(ids), || ids.join("\n"));
        }
        UploadCmd::Abort { id } => {
            let store = open(store_dir)?;
            block_on(Uploads::new(&store).abort(&id))?;
            out.emit(&json!({"id": id, "aborted": true}), || {
                format!("{id}: aborted")
            });
        }
        UploadCmd::Expire => {
            let store = open(store_dir)?;
            let r = block_on(Uploads::new(&store).expire())?;
            out.emit(
                &json!({"sessions": r.sessions, "parts": r.parts, "orphans": r.orphans, "corrupt_records": r.corrupt_records}),
                || format!("removed {} sessions, {} parts, {} orphan parts", r.sessions, r.parts, r.orphans),
            );
        }
        UploadCmd::Chunks {
            file,
            against,
            min_kib,
            avg_kib,
            max_kib,
            list,
        } => {
            let config = CdcOptions::new(min_kib * 1024, avg_kib * 1024, max_kib * 1024)?;
            let data = read(&file)?;
            let plan = Plan::new(&data, config)?;
            let chunks = &plan.manifest().chunks;
            let lens: Vec<u64> = chunks.iter().map(|c| u64::from(c.len)).collect();
            let n = lens.len();
            let mut value = json!({
                "file": file.display().to_string(), "size": data.len(), "chunks": n,
                "avg_chunk": data.len().checked_div(n).unwrap_or(0),
                "min_chunk": lens.iter().min(), "max_chunk": lens.iter().max(),
                "internal_dedup_ratio": round3(plan.internal_dedup_ratio()),
            });
            let mut human = format!(
                "{}: {} bytes in {n} chunks (avg {} B, min {} B, max {} B), dedup ratio within the file {:.3}",
                file.display(),
                data.len(),
                data.len().checked_div(n).unwrap_or(0),
                lens.iter().min().unwrap_or(&0),
                lens.iter().max().unwrap_or(&0),
                plan.internal_dedup_ratio()
            );
            if let Some(other) = against {
                let odata = read(&other)?;
                let oplan = Plan::new(&odata, config)?;
                let shared = plan.shared_fraction(&oplan);
                let mut seen = HashSet::new();
                let unique: u64 = chunks
                    .iter()
                    .chain(&oplan.manifest().chunks)
                    .filter(|c| seen.insert(c.hash))
                    .map(|c| u64::from(c.len))
                    .sum();
                let total = (data.len() + odata.len()) as u64;
                let ratio = if unique == 0 {
                    1.0
                } else {
                    total as f64 / unique as f64
                };
                let shared_bytes = (shared * data.len() as f64).round() as u64;
                value["against"] = json!({
                    "file": other.display().to_string(), "size": odata.len(),
                    "chunks": oplan.manifest().chunks.len(),
                    "shared_bytes": shared_bytes, "shared_fraction": round3(shared),
                    "dedup_ratio": round3(ratio),
                });
                let _ = write!(
                    human,
                    "\nagainst {}: {shared_bytes} bytes ({:.1}%) already there; dedup ratio of both {ratio:.3} ({total} -> {unique} bytes)",
                    other.display(),
                    shared * 100.0
                );
            }
            if list {
                let rows: Vec<_> = (0..n)
                    .map(|i| {
                        let r = plan.range(i);
                        json!({"offset": r.start, "len": r.len(), "sha256": hex(&chunks[i].hash)})
                    })
                    .collect();
                for (i, c) in chunks.iter().enumerate() {
                    let r = plan.range(i);
                    let _ = write!(
                        human,
                        "\n{:>12} {:>8} {}",
                        r.start,
                        r.len(),
                        &hex(&c.hash)[..16]
                    );
                }
                value["boundaries"] = json!(rows);
            }
            out.emit(&value, || human);
        }
    }
    Ok(())
}
