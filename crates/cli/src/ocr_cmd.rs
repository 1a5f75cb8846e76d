//! `blocksmith ocr IMAGE... [--format text|json|hocr]`: read document images.
//!
//! Each file goes through the OCR job queue in the store, so running again on the same image
//! with the same options returns the stored result without new work. Files are recognised on
//! `--jobs` threads; a bar on stderr counts pages, and with text output each file's pages are
//! printed as soon as it and the files before it are done, not at the end.

use crate::backend::CliStore;
use crate::files;
use crate::output::{CliError, Output};
use crate::progress;
use blocksmith_ocr::jobs::{JobId, JobOptions, JobQueue, JobStatus, RunReport};
use blocksmith_ocr::{Binarization, Document, Engine, EngineOptions, export};
use clap::{Args, ValueEnum};
use serde_json::json;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// Arguments of `blocksmith ocr`.
#[derive(Args, Debug)]
#[allow(clippy::struct_excessive_bools)] // independent command-line switches
pub(crate) struct OcrArgs {
    /// Images: PNG, JPEG, TIFF (every page) or PBM/PGM; `-` reads one from standard input.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Output: plain text in reading order, the full JSON tree (as `--json`),
    /// or hOCR (XHTML with boxes and word confidences) of every page.
    #[arg(long, value_enum)]
    format: Option<OcrFormat>,
    /// Same as `--format text`.
    #[arg(long, hide = true, conflicts_with_all = ["hocr", "format"])]
    text: bool,
    /// Same as `--format hocr`.
    #[arg(long, hide = true, conflicts_with = "format")]
    hocr: bool,
    /// Resolution of the images, if known (they are rescaled to 300 DPI).
    #[arg(long, value_name = "DPI")]
    dpi: Option<f32>,
    /// Global Otsu binarisation instead of adaptive Sauvola.
    #[arg(long)]
    otsu: bool,
    /// Do not correct skew.
    #[arg(long)]
    no_deskew: bool,
    /// Do not detect 90/180/270 degree orientation.
    #[arg(long)]
    no_orientation: bool,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
}

/// `blocksmith ocr --format`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OcrFormat {
    /// Plain text in reading order.
    Text,
    /// The document tree, one JSON array over the files.
    Json,
    /// hOCR.
    Hocr,
}

impl OcrArgs {
    /// Whether the output is JSON (`--format json`), so errors are JSON too.
    pub(crate) fn wants_json(&self) -> bool {
        self.format == Some(OcrFormat::Json)
    }

    fn output_format(&self, json: bool) -> Result<OcrFormat, CliError> {
        let asked = match (self.format, self.text, self.hocr) {
            (Some(f), _, _) => Some(f),
            (None, true, _) => Some(OcrFormat::Text),
            (None, _, true) => Some(OcrFormat::Hocr),
            (None, false, false) => None,
        };
        match (asked, json) {
            (Some(OcrFormat::Text | OcrFormat::Hocr), true) => Err(CliError::BadInput(
                "--json is --format json: give one output format".into(),
            )),
            (_, true) => Ok(OcrFormat::Json),
            (f, false) => Ok(f.unwrap_or(OcrFormat::Text)),
        }
    }
}

impl From<blocksmith_ocr::Error> for CliError {
    fn from(e: blocksmith_ocr::Error) -> Self {
        use blocksmith_ocr::Error as E;
        match e {
            E::Store(e) => e.into(),
            E::JobNotFound(_) => CliError::NotFound(crate::output::report(&e)),
            E::UnknownFormat
            | E::TooManyBytes { .. }
            | E::DimensionsTooLarge { .. }
            | E::TooManyPixels { .. }
            | E::TooManyPages { .. }
            | E::EmptyImage
            | E::Corrupt { .. }
            | E::InvalidOptions(_) => CliError::BadInput(crate::output::report(&e)),
            _ => CliError::Internal(crate::output::report(&e)),
        }
    }
}

fn open(dir: &Path) -> Result<CliStore, CliError> {
    crate::backend::open(dir)
}

/// Runs job `id` to its end in this process (or waits for the process that
/// holds it), retrying as the queue's options allow, and returns its document.
fn finish(
    queue: &JobQueue<CliStore>,
    engine: &Engine,
    id: &JobId,
    name: &str,
) -> Result<Document, CliError> {
    loop {
        if queue.blocking().claim(id)? {
            queue
                .blocking()
                .process(engine, id, &mut RunReport::default())?;
        }
        match queue.blocking().status(id)? {
            JobStatus::Done => return Ok(queue.blocking().result(id)?),
            JobStatus::Failed { error, .. } => {
                return Err(CliError::Internal(format!("{name}: {error}")));
            }
            // Failed once and queued for another attempt: claim it again.
            JobStatus::Queued => {}
            // Another process holds the lease: wait for it (or for the lease to run out).
            JobStatus::Running { .. } => std::thread::sleep(Duration::from_millis(100)),
            other => {
                return Err(CliError::Internal(format!(
                    "{name}: job ended as {other:?}"
                )));
            }
        }
    }
}

pub(crate) fn run(args: OcrArgs, store_dir: &Path, out: &Output) -> Result<(), CliError> {
    let format = args.output_format(out.json)?;
    let OcrArgs {
        images,
        dpi,
        otsu,
        no_deskew,
        no_orientation,
        jobs,
        ..
    } = args;
    files::one_stdin(images.iter().map(PathBuf::as_path))?;
    let mut opts = EngineOptions::default()
        .with_deskew(!no_deskew)
        .with_orientation(!no_orientation)
        .with_source_dpi(dpi);
    if otsu {
        opts = opts.with_binarization(Binarization::Otsu);
    }
    let engine = Engine::new(opts.clone(), blocksmith_ocr::builtin::default_recognizer());
    let store = open(store_dir)?;
    let queue = JobQueue::new(store, "ocr/jobs", JobOptions::default());
    let names: Vec<String> = images.iter().map(|p| files::name(p)).collect();
    let mut ids = Vec::with_capacity(images.len());
    let mut pages = Vec::with_capacity(images.len());
    for (path, name) in images.iter().zip(&names) {
        let bytes = files::read(path)?;
        // Decode first so a bad file is reported as such, with its name.
        let decoded = engine.decode(&bytes).map_err(|e| match CliError::from(e) {
            CliError::BadInput(m) => CliError::BadInput(format!("{name}: {m}")),
            other => other,
        })?;
        pages.push(decoded.len() as u64);
        ids.push(queue.blocking().submit(&bytes, &opts)?);
    }
    let bar = progress::count(pages.iter().sum(), "pages", out);
    let many = images.len() > 1;
    let mut docs: Vec<Option<Document>> = (0..ids.len()).map(|_| None).collect();
    let mut printed = 0;
    let mut stdout = std::io::stdout().lock();
    let (tx, rx) = mpsc::channel::<(usize, Result<Document, CliError>)>();
    let next = AtomicUsize::new(0);
    let workers = jobs.clamp(1, 64).min(ids.len());
    std::thread::scope(|s| -> Result<(), CliError> {
        for _ in 0..workers {
            let tx = tx.clone();
            let (queue, engine, ids, names, next) = (&queue, &engine, &ids, &names, &next);
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= ids.len() {
                        break;
                    }
                    let r = finish(queue, engine, &ids[i], &names[i]);
                    let failed = r.is_err();
                    if tx.send((i, r)).is_err() || failed {
                        // Stop taking work once anything failed.
                        next.store(ids.len(), Ordering::Relaxed);
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut done_pages = 0;
        let mut finished = vec![false; ids.len()];
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok((i, r)) => {
                    let doc = r?;
                    finished[i] = true;
                    done_pages += pages[i];
                    docs[i] = Some(doc);
                    // Print every file whose turn has come, in input order.
                    while printed < docs.len() && format == OcrFormat::Text {
                        let Some(d) = &docs[printed] else { break };
                        let header = if many {
                            format!("==> {} <==\n", names[printed])
                        } else {
                            String::new()
                        };
                        let s = header + &export::to_text(d);
                        bar.suspend(|| write!(stdout, "{s}").and_then(|()| stdout.flush()))
                            .or_else(files::quiet_pipe)?;
                        printed += 1;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            // Pages of the files still running, from their job records.
            let running: u64 = if bar.is_hidden() {
                0
            } else {
                ids.iter()
                    .zip(&finished)
                    .filter(|(_, f)| !**f)
                    .filter_map(|(id, _)| match queue.blocking().status(id) {
                        Ok(JobStatus::Running { pages_done, .. }) => Some(u64::from(pages_done)),
                        _ => None,
                    })
                    .sum()
            };
            bar.set_position(done_pages + running);
        }
        Ok(())
    })?;
    bar.finish_and_clear();
    let docs: Vec<Document> = docs.into_iter().map(Option::unwrap_or_default).collect();
    match format {
        OcrFormat::Text => {}
        OcrFormat::Hocr => {
            let mut all = Document::default();
            for d in &docs {
                for p in &d.pages {
                    let mut p = p.clone();
                    p.index = all.pages.len() as u32;
                    all.pages.push(p);
                }
            }
            write!(stdout, "{}", export::to_hocr(&all)).or_else(files::quiet_pipe)?;
        }
        OcrFormat::Json => {
            let threshold = opts.review_threshold;
            let value = json!(
                docs.iter()
                    .zip(&ids)
                    .zip(&names)
                    .map(|((d, id), name)| json!({
                        "file": name,
                        "job": id.0,
                        "pages": d.pages.len(),
                        "confidence": d.confidence(),
                        "text": export::to_text(d),
                        "review": d.low_confidence(threshold),
                        "document": d,
                    }))
                    .collect::<Vec<_>>()
            );
            writeln!(stdout, "{value}").or_else(files::quiet_pipe)?;
        }
    }
    Ok(())
}
