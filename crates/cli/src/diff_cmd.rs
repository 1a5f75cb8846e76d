//! `blocksmith diff ...`: compare, patch and merge files like diff(1),
//! patch(1) and git merge-file, plus a versioned config history in the store.
//!
//! ```text
//! blocksmith diff A B [--format unified|word|json-patch|report]   compare two files
//! blocksmith diff apply FILE PATCH [--fuzz N] [--reverse]     apply a unified diff or JSON Patch in place
//! blocksmith diff merge BASE OURS THEIRS [-o OUT] [--diff3]   three-way merge
//! blocksmith diff config commit|log|show|drift|revert ...     named configs in the store
//! ```
//!
//! # Exit codes
//! `blocksmith diff` follows diff(1): **0** the inputs are the same / the
//! patch applied cleanly / the merge is clean, **1** differences found / some
//! hunks were rejected (a `.rej` file is written) / the merge has conflicts
//! (or, for `config drift`, the running config drifted). These are results,
//! not errors: the output goes to stdout and nothing is printed on stderr.
//! Errors keep the codes of the whole CLI (`crate::output::EXIT_CODES`): 2
//! bad input (usage, unreadable or malformed files, with line and column), 3
//! not found, 4 a write condition failed. An internal failure is also 1 in
//! the main CLI; it is told apart from "differences found" by its message on
//! stderr (a JSON object with `"kind": "internal"` under `--json`), which a
//! result never prints.
//!
//! Any file may be `-` (standard input, once; or standard output for `-o -`).
//! On a terminal (see `--color`), diffs are coloured as git colours them.

use crate::backend::CliStore;
use crate::files;
use crate::output::{CliError, Output};
use anstyle::{AnsiColor, Style};
use blocksmith_diff::history::{ConfigStore, HistoryOptions};
use blocksmith_diff::json_patch::JsonPatch;
use blocksmith_diff::merge::{ConflictStyle, MergeOptions, merge_text, merge_values};
use blocksmith_diff::patch::{ApplyOptions, Patch, apply};
use blocksmith_diff::structured::{self, StructuredOptions};
use blocksmith_diff::text::{Algorithm, DiffOptions, Granularity, TextDiff};
use blocksmith_diff::unified::UnifiedOptions;
use blocksmith_diff::value::{self, Format, Value};
use blocksmith_store::block_on;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Arguments of `blocksmith diff`: either a verb, or two files to compare.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct DiffArgs {
    #[command(subcommand)]
    cmd: Option<DiffCmd>,
    #[command(flatten)]
    compare: CompareArgs,
}

/// Comparing two files (`blocksmith diff A B`). A file literally named like a
/// verb (`apply`, `merge`, `config`) is written `./apply`.
#[derive(Args, Debug)]
pub(crate) struct CompareArgs {
    /// The old file.
    #[arg(required = true)]
    a: Option<PathBuf>,
    /// The new file.
    #[arg(required = true)]
    b: Option<PathBuf>,
    /// Output: a unified diff, a word diff inline (`[-old-]{+new+}`), an
    /// RFC 6902 JSON Patch, or a readable report (the last two parse the
    /// files as JSON, YAML or TOML). `--json` wraps any of them in JSON.
    #[arg(long, value_enum, default_value_t = FormatArg::Unified)]
    format: FormatArg,
    /// Diff algorithm.
    #[arg(long, value_enum, default_value_t = AlgorithmArg::Histogram)]
    algorithm: AlgorithmArg,
    /// Lines of context in unified output.
    #[arg(short = 'U', long, default_value_t = 3)]
    context: usize,
    /// Same as `--format word`.
    #[arg(long, hide = true)]
    word_diff: bool,
    /// Document format of both files (default: from the extension, else guessed).
    #[arg(long = "as", value_enum)]
    doc_format: Option<DocFormat>,
    /// Identity key of array elements (repeatable), e.g. `--identity-key name`.
    #[arg(long = "identity-key")]
    identity_keys: Vec<String>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum DiffCmd {
    /// Apply a unified diff (from git or GNU diff) or a JSON Patch to FILE, in place.
    Apply {
        /// The file to patch.
        file: PathBuf,
        /// The patch: unified diff text, or a JSON Patch array.
        patch: PathBuf,
        /// Context lines a hunk may ignore at each end (GNU patch's --fuzz).
        #[arg(long, default_value_t = 2)]
        fuzz: usize,
        /// Apply the patch backwards (undo it).
        #[arg(short = 'R', long)]
        reverse: bool,
        /// Write the result here instead of changing FILE.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Three-way merge: the changes from BASE to THEIRS applied onto OURS.
    Merge {
        /// The common ancestor.
        base: PathBuf,
        /// Our version.
        ours: PathBuf,
        /// Their version.
        theirs: PathBuf,
        /// Write the merge here (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Show the base inside conflicts (git's diff3 style).
        #[arg(long)]
        diff3: bool,
        /// Merge as documents (JSON/YAML/TOML) instead of lines; default when
        /// the three files share a document extension.
        #[arg(long)]
        structured: bool,
        /// Identity key of array elements for structured merges (repeatable).
        #[arg(long = "identity-key")]
        identity_keys: Vec<String>,
    },
    /// Named configs with history in the store.
    #[command(subcommand)]
    Config(ConfigCmd),
}

#[derive(Subcommand, Debug)]
pub(crate) enum ConfigCmd {
    /// Commit FILE as the next version of NAME.
    Commit {
        /// Config name.
        name: String,
        /// The content.
        file: PathBuf,
        /// Who.
        #[arg(long, default_value = "cli")]
        author: String,
        /// Why.
        #[arg(short, long, default_value = "")]
        message: String,
    },
    /// List the versions of NAME.
    Log {
        /// Config name.
        name: String,
    },
    /// Show the redacted diff between two versions of NAME.
    Show {
        /// Config name.
        name: String,
        /// Old version.
        from: u64,
        /// New version.
        to: u64,
    },
    /// Compare the head of NAME with what runs (FILE); exit 1 on drift.
    Drift {
        /// Config name.
        name: String,
        /// The observed config.
        file: PathBuf,
    },
    /// Undo the head version of NAME in one step.
    Revert {
        /// Config name.
        name: String,
        /// Who.
        #[arg(long, default_value = "cli")]
        author: String,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FormatArg {
    Unified,
    Word,
    JsonPatch,
    Report,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum AlgorithmArg {
    Histogram,
    Myers,
    Minimal,
    Patience,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum DocFormat {
    Json,
    Yaml,
    Toml,
}

impl From<DocFormat> for Format {
    fn from(f: DocFormat) -> Self {
        match f {
            DocFormat::Json => Format::Json,
            DocFormat::Yaml => Format::Yaml,
            DocFormat::Toml => Format::Toml,
        }
    }
}

/// What a successful `blocksmith diff` found: `Different` exits with 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Same / clean.
    Same,
    /// Differences, rejected hunks, conflicts or drift.
    Different,
}

impl Outcome {
    fn from_bool(different: bool) -> Self {
        if different {
            Outcome::Different
        } else {
            Outcome::Same
        }
    }
}

impl From<blocksmith_diff::Error> for CliError {
    fn from(e: blocksmith_diff::Error) -> Self {
        use blocksmith_diff::Error as E;
        let msg = crate::output::report(&e);
        match e {
            E::Store(e) => e.into(),
            E::NotFound { .. } => CliError::NotFound(msg),
            E::Conflict { .. } | E::InvalidTransition { .. } => CliError::Conflict(msg),
            _ => CliError::BadInput(msg),
        }
    }
}

fn read(path: &Path) -> Result<String, CliError> {
    let bytes = files::read(path)?;
    let name = files::name(path);
    if bytes.contains(&0) {
        return Err(CliError::BadInput(format!(
            "{name}: binary file (NUL byte)"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        CliError::BadInput(format!(
            "{name}: not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn write(path: &Path, text: &str) -> Result<(), CliError> {
    files::write(path, text.as_bytes())
}

/// A unified diff, word diff or report coloured as git colours them: file
/// headers bold, hunk headers cyan, removals red, additions green.
fn colorize(text: &str, format: FormatArg, out: &Output) -> String {
    if !out.color_out {
        return text.to_string();
    }
    let (red, green) = (AnsiColor::Red.on_default(), AnsiColor::Green.on_default());
    if format == FormatArg::Word {
        // `[-old-]` red and `{+new+}` green, the markers kept.
        let mut s = String::with_capacity(text.len() + 64);
        let mut rest = text;
        while let Some(i) = rest.find(['[', '{']) {
            let (open, close, style) = if rest[i..].starts_with("[-") {
                ("[-", "-]", red)
            } else if rest[i..].starts_with("{+") {
                ("{+", "+}", green)
            } else {
                s.push_str(&rest[..=i]);
                rest = &rest[i + 1..];
                continue;
            };
            let Some(end) = rest[i + open.len()..].find(close) else {
                break;
            };
            let end = i + open.len() + end + close.len();
            s.push_str(&rest[..i]);
            s.push_str(&out.paint(style, &rest[i..end]));
            rest = &rest[end..];
        }
        s.push_str(rest);
        return s;
    }
    text.split_inclusive('\n')
        .map(|line| {
            let body = line.strip_suffix('\n').unwrap_or(line);
            let style = if format == FormatArg::Unified
                && (body.starts_with("--- ") || body.starts_with("+++ "))
            {
                Style::new().bold()
            } else if body.starts_with("@@") {
                AnsiColor::Cyan.on_default()
            } else if body.starts_with('+') {
                green
            } else if body.starts_with('-') {
                red
            } else if format == FormatArg::Report && body.starts_with('~') {
                AnsiColor::Yellow.on_default()
            } else {
                return line.to_string();
            };
            let nl = if line.len() > body.len() { "\n" } else { "" };
            out.paint(style, body) + nl
        })
        .collect()
}

/// The document format of `path`: forced, from its extension, or guessed.
fn parse_doc(path: &Path, text: &str, forced: Option<Format>) -> Result<(Value, Format), CliError> {
    let named = forced.or_else(|| Format::from_path(&path.to_string_lossy()));
    let parsed = match named {
        Some(f) => value::parse(text, f).map(|v| (v, f)),
        None => value::parse_any(text),
    };
    parsed.map_err(|e| CliError::BadInput(format!("{}: {e}", path.display())))
}

fn structured_options(keys: &[String]) -> StructuredOptions {
    keys.iter().fold(StructuredOptions::default(), |o, k| {
        o.with_identity_key(k.clone())
    })
}

fn trim_nl(s: &str) -> String {
    s.strip_suffix('\n').unwrap_or(s).to_string()
}

pub(crate) fn run(args: DiffArgs, store_dir: &Path, out: &Output) -> Result<Outcome, CliError> {
    match args.cmd {
        None => compare(args.compare, out),
        Some(DiffCmd::Apply {
            file,
            patch,
            fuzz,
            reverse,
            output,
        }) => apply_cmd(&file, &patch, fuzz, reverse, output.as_deref(), out),
        Some(DiffCmd::Merge {
            base,
            ours,
            theirs,
            output,
            diff3,
            structured,
            identity_keys,
        }) => merge_cmd(
            &[base, ours, theirs],
            output.as_deref(),
            diff3,
            structured,
            &identity_keys,
            out,
        ),
        Some(DiffCmd::Config(cmd)) => config_cmd(cmd, store_dir, out),
    }
}

fn compare(c: CompareArgs, out: &Output) -> Result<Outcome, CliError> {
    let (Some(a_path), Some(b_path)) = (c.a, c.b) else {
        return Err(CliError::BadInput("usage: blocksmith diff A B".into()));
    };
    files::one_stdin([a_path.as_path(), b_path.as_path()])?;
    let (a, b) = (read(&a_path)?, read(&b_path)?);
    let format = if c.word_diff {
        FormatArg::Word
    } else {
        c.format
    };
    if matches!(format, FormatArg::Unified | FormatArg::Word) {
        let algorithm = match c.algorithm {
            AlgorithmArg::Histogram => Algorithm::Histogram,
            AlgorithmArg::Myers => Algorithm::Myers,
            AlgorithmArg::Minimal => Algorithm::MyersMinimal,
            AlgorithmArg::Patience => Algorithm::Patience,
        };
        let granularity = if format == FormatArg::Word {
            Granularity::Word
        } else {
            Granularity::Line
        };
        let d = TextDiff::new(
            &a,
            &b,
            &DiffOptions::default()
                .with_algorithm(algorithm)
                .with_granularity(granularity),
        );
        let stats = d.stats();
        let text = if format == FormatArg::Word {
            if d.is_empty() {
                String::new()
            } else {
                d.inline()
            }
        } else {
            d.unified(
                &UnifiedOptions::default()
                    .with_context(c.context)
                    .with_labels(a_path.display().to_string(), b_path.display().to_string()),
            )
        };
        out.emit(
            &json!({"different": !d.is_empty(), "insertions": stats.insertions, "deletions": stats.deletions, "diff": text}),
            || colorize(&trim_nl(&text), format, out),
        );
        return Ok(Outcome::from_bool(!d.is_empty()));
    }
    let forced = c.doc_format.map(Format::from);
    let (va, _) = parse_doc(&a_path, &a, forced)?;
    let (vb, _) = parse_doc(&b_path, &b, forced)?;
    let d = structured::diff(&va, &vb, &structured_options(&c.identity_keys));
    let (added, removed, modified, moved) = d.counts();
    if format == FormatArg::JsonPatch {
        let patch = d.to_json_patch().to_value();
        let pretty = serde_json::to_string_pretty(&patch).unwrap_or_default();
        out.emit(
            &json!({"different": !d.is_empty(), "json_patch": patch}),
            || pretty,
        );
    } else {
        let report = d.report();
        out.emit(
            &json!({"different": !d.is_empty(), "added": added, "removed": removed, "modified": modified, "moved": moved, "changes": d.changes}),
            || colorize(&trim_nl(&report), FormatArg::Report, out),
        );
    }
    Ok(Outcome::from_bool(!d.is_empty()))
}

fn apply_cmd(
    file: &Path,
    patch_path: &Path,
    fuzz: usize,
    reverse: bool,
    output: Option<&Path>,
    out: &Output,
) -> Result<Outcome, CliError> {
    files::one_stdin([file, patch_path])?;
    let target = read(file)?;
    let patch_text = read(patch_path)?;
    // FILE `-` (read from standard input) is written to standard output.
    let dest = output.unwrap_or(file);
    let to_stdout = files::is_std(dest);
    if patch_text.trim_start().starts_with('[') {
        if reverse {
            return Err(CliError::BadInput(
                "--reverse applies to unified diffs only".into(),
            ));
        }
        let patch = JsonPatch::from_str(&patch_text)
            .map_err(|e| CliError::BadInput(format!("{}: {e}", patch_path.display())))?;
        let (doc, format) = parse_doc(file, &target, None)?;
        let patched = patch.apply(&doc)?;
        let text = value::to_string(&patched, format)?;
        if to_stdout && out.json {
            out.emit(
                &json!({"applied": patch.ops().len(), "rejected": 0, "text": text}),
                String::new,
            );
        } else if to_stdout {
            write(dest, &text)?;
        } else {
            write(dest, &text)?;
            out.emit(&json!({"applied": patch.ops().len(), "rejected": 0, "file": dest.display().to_string()}), || {
                format!("applied {} JSON Patch operations to {}", patch.ops().len(), dest.display())
            });
        }
        return Ok(Outcome::Same);
    }
    let parsed = Patch::parse(&patch_text)
        .map_err(|e| CliError::BadInput(format!("{}: {e}", patch_path.display())))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let with_hunks: Vec<_> = parsed.files.iter().filter(|f| !f.is_empty()).collect();
    let fp = match with_hunks.as_slice() {
        [one] => *one,
        many => many
            .iter()
            .find(|f| {
                f.target_path(0)
                    .is_some_and(|p| p == name || p.ends_with(&format!("/{name}")))
            })
            .copied()
            .ok_or_else(|| {
                CliError::BadInput(format!(
                    "{}: no file patch for {name}",
                    patch_path.display()
                ))
            })?,
    };
    let fp = if reverse { fp.reversed() } else { fp.clone() };
    let report = apply(&target, &fp, &ApplyOptions::default().with_fuzz(fuzz));
    let mut value = json!({
        "file": dest.display().to_string(),
        "applied": report.hunks,
        "rejected": report.rejects.iter().map(|r| json!({"hunk": r.index + 1, "reason": r.reason})).collect::<Vec<_>>(),
    });
    if to_stdout {
        // The patched text is the output: with --json inside the object, else
        // on stdout with the failed hunks (no .rej file) on stderr.
        if out.json {
            value["text"] = json!(report.text);
            out.emit(&value, String::new);
        } else {
            write(dest, &report.text)?;
            for r in &report.rejects {
                eprintln!("Hunk #{} FAILED: {}", r.index + 1, r.reason);
            }
        }
        return Ok(Outcome::from_bool(!report.rejects.is_empty()));
    }
    write(dest, &report.text)?;
    let rej_path = PathBuf::from(format!("{}.rej", dest.display()));
    if !report.rejects.is_empty() {
        write(&rej_path, &report.rejects_file(&fp))?;
    }
    out.emit(&value, || {
        let mut lines = Vec::new();
        for h in &report.hunks {
            if h.offset != 0 || h.fuzz != 0 {
                lines.push(format!(
                    "Hunk #{} succeeded with fuzz {} (offset {} lines).",
                    h.index + 1,
                    h.fuzz,
                    h.offset
                ));
            }
        }
        for r in &report.rejects {
            lines.push(format!("Hunk #{} FAILED: {}", r.index + 1, r.reason));
        }
        if !report.rejects.is_empty() {
            lines.push(format!(
                "{} out of {} hunks FAILED -- saving rejects to {}",
                report.rejects.len(),
                fp.hunks.len(),
                rej_path.display()
            ));
        }
        lines.push(format!("patched {}", dest.display()));
        lines.join("\n")
    });
    Ok(Outcome::from_bool(!report.rejects.is_empty()))
}

fn merge_cmd(
    paths: &[PathBuf; 3],
    output: Option<&Path>,
    diff3: bool,
    structured: bool,
    identity_keys: &[String],
    out: &Output,
) -> Result<Outcome, CliError> {
    files::one_stdin(paths.iter().map(PathBuf::as_path))?;
    let output = output.filter(|o| !files::is_std(o));
    let texts = [read(&paths[0])?, read(&paths[1])?, read(&paths[2])?];
    let formats: Vec<Option<Format>> = paths
        .iter()
        .map(|p| Format::from_path(&p.to_string_lossy()))
        .collect();
    let shared = formats[0].filter(|f| formats.iter().all(|g| *g == Some(*f)));
    if structured || shared.is_some() {
        let forced = shared;
        let (base, format) = parse_doc(&paths[0], &texts[0], forced)?;
        let (ours, _) = parse_doc(&paths[1], &texts[1], Some(format))?;
        let (theirs, _) = parse_doc(&paths[2], &texts[2], Some(format))?;
        let m = merge_values(&base, &ours, &theirs, &structured_options(identity_keys));
        let text = value::to_string(&m.value, format)?;
        if let Some(o) = output {
            write(o, &text)?;
        }
        out.emit(
            &json!({"clean": m.is_clean(), "conflicts": m.conflicts, "value": m.value}),
            || {
                let mut s = if output.is_none() {
                    trim_nl(&text)
                } else {
                    String::new()
                };
                for c in &m.conflicts {
                    let show = |v: &Option<Value>| {
                        v.as_ref().map_or("(absent)".to_string(), Value::to_string)
                    };
                    if !s.is_empty() {
                        s.push('\n');
                    }
                    let _ = write!(
                        s,
                        "CONFLICT {}: base {}, ours {} (kept), theirs {}",
                        c.path,
                        show(&c.base),
                        show(&c.ours),
                        show(&c.theirs)
                    );
                }
                s
            },
        );
        return Ok(Outcome::from_bool(!m.is_clean()));
    }
    let label = |p: &PathBuf| p.display().to_string();
    let opts = MergeOptions::default()
        .with_style(if diff3 {
            ConflictStyle::Diff3
        } else {
            ConflictStyle::Merge
        })
        .with_labels(&label(&paths[1]), &label(&paths[0]), &label(&paths[2]));
    let m = merge_text(&texts[0], &texts[1], &texts[2], &opts);
    if let Some(o) = output {
        write(o, &m.text)?;
    }
    out.emit(
        &json!({"clean": m.is_clean(), "conflicts": m.conflicts, "text": m.text}),
        || {
            if output.is_none() {
                trim_nl(&m.text)
            } else {
                format!(
                    "{} conflicts -> {}",
                    m.conflicts.len(),
                    output.map(|o| o.display().to_string()).unwrap_or_default()
                )
            }
        },
    );
    Ok(Outcome::from_bool(!m.is_clean()))
}

fn open(dir: &Path) -> Result<ConfigStore<CliStore>, CliError> {
    let store = crate::backend::open(dir)?;
    Ok(ConfigStore::new(store, HistoryOptions::default()))
}

fn config_cmd(cmd: ConfigCmd, dir: &Path, out: &Output) -> Result<Outcome, CliError> {
    let configs = open(dir)?;
    match cmd {
        ConfigCmd::Commit {
            name,
            file,
            author,
            message,
        } => {
            let text = read(&file)?;
            let format = Format::from_path(&file.to_string_lossy());
            let v = block_on(configs.commit(&name, &text, format, &author, &message))?;
            out.emit(
                &json!({"name": v.name, "version": v.version, "hash": v.hash, "parent": v.parent}),
                || format!("{} v{} {}", v.name, v.version, &v.hash[..12]),
            );
            Ok(Outcome::Same)
        }
        ConfigCmd::Log { name } => {
            let versions = block_on(configs.history(&name))?;
            if versions.is_empty() {
                return Err(CliError::NotFound(format!("config {name}")));
            }
            let rows: Vec<_> = versions
                .iter()
                .map(|v| json!({"version": v.version, "parent": v.parent, "hash": v.hash, "author": v.author, "message": v.message, "timestamp_ms": v.timestamp_ms, "origin": v.origin}))
                .collect();
            out.emit(&json!(rows), || {
                versions
                    .iter()
                    .map(|v| {
                        format!(
                            "v{:<4} {} {:<12} {}",
                            v.version,
                            &v.hash[..12],
                            v.author,
                            v.message
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            });
            Ok(Outcome::Same)
        }
        ConfigCmd::Show { name, from, to } => {
            let d = block_on(configs.diff(&name, from, to))?;
            out.emit(&serde_json::to_value(&d).unwrap_or_default(), || {
                trim_nl(&d.report)
            });
            Ok(Outcome::from_bool(!d.is_empty()))
        }
        ConfigCmd::Drift { name, file } => {
            let text = read(&file)?;
            let r =
                block_on(configs.drift(&name, &text, Format::from_path(&file.to_string_lossy())))?;
            out.emit(&serde_json::to_value(&r).unwrap_or_default(), || {
                if r.in_sync {
                    format!("{name} v{}: in sync", r.version)
                } else {
                    format!(
                        "{name} v{}: drifted\n{}",
                        r.version,
                        trim_nl(&r.diff.report)
                    )
                }
            });
            Ok(Outcome::from_bool(!r.in_sync))
        }
        ConfigCmd::Revert { name, author } => {
            let v = block_on(configs.revert(&name, &author, None))?;
            out.emit(
                &json!({"name": v.name, "version": v.version, "hash": v.hash, "origin": v.origin}),
                || format!("{} v{} ({})", v.name, v.version, v.message),
            );
            Ok(Outcome::Same)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::ColorArg;

    #[test]
    fn colours_mark_changes_and_nothing_else() {
        let on = Output::new(false, false, ColorArg::Always);
        let off = Output::new(false, false, ColorArg::Never);
        let word = "a [-b-]{+c+} [d] {e}";
        assert_eq!(colorize(word, FormatArg::Word, &off), word);
        let w = colorize(word, FormatArg::Word, &on);
        assert!(
            w.contains("\u{1b}[31m[-b-]") && w.contains("\u{1b}[32m{+c+}"),
            "{w:?}"
        );
        assert!(w.ends_with(" [d] {e}"), "{w:?}");
        let unified = "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+y\n z";
        let u = colorize(unified, FormatArg::Unified, &on);
        assert_eq!(u.matches('\u{1b}').count(), 10, "{u:?}");
        assert!(u.ends_with("\n z"), "{u:?}");
        let r = colorize("~ /a: 1 -> 2\n+ /b: 3", FormatArg::Report, &on);
        assert!(
            r.starts_with("\u{1b}[33m~") && r.contains("\u{1b}[32m+ /b"),
            "{r:?}"
        );
    }
}
