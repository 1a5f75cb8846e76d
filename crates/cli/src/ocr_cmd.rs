//! `blocksmith ocr IMAGE... [--text|--json|--hocr]`: read document images.
//!
//! Each file goes through the OCR job queue in the store, so running again on the same image
//! with the same options returns the stored result without new work.

use crate::output::{CliError, Output};
use blocksmith_ocr::jobs::{JobOptions, JobQueue, JobStatus};
use blocksmith_ocr::{Binarization, Document, Engine, EngineOptions, export};
use blocksmith_store::RedbStore;
use clap::Args;
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Arguments of `blocksmith ocr`.
#[derive(Args, Debug)]
#[allow(clippy::struct_excessive_bools)] // independent command-line switches
pub(crate) struct OcrArgs {
    /// Images: PNG, JPEG, TIFF (every page) or PBM/PGM.
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Plain text in reading order (the default; `--json` prints the full tree).
    #[arg(long, conflicts_with = "hocr")]
    text: bool,
    /// hOCR (XHTML with boxes and word confidences) of every page of every image.
    #[arg(long)]
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

impl From<blocksmith_ocr::Error> for CliError {
    fn from(e: blocksmith_ocr::Error) -> Self {
        use blocksmith_ocr::Error as E;
        match e {
            E::Store(e) => e.into(),
            E::JobNotFound(_) => CliError::NotFound(e.to_string()),
            E::UnknownFormat
            | E::TooManyBytes { .. }
            | E::DimensionsTooLarge { .. }
            | E::TooManyPixels { .. }
            | E::TooManyPages { .. }
            | E::EmptyImage
            | E::Corrupt { .. }
            | E::InvalidOptions(_) => CliError::BadInput(e.to_string()),
            _ => CliError::Internal(e.to_string()),
        }
    }
}

fn open(dir: &Path) -> Result<RedbStore, CliError> {
    std::fs::create_dir_all(dir)?;
    Ok(RedbStore::open(dir.join("blocksmith.redb"))?)
}

pub(crate) fn run(args: OcrArgs, store_dir: &Path, out: &Output) -> Result<(), CliError> {
    let OcrArgs {
        images,
        text: _,
        hocr,
        dpi,
        otsu,
        no_deskew,
        no_orientation,
        jobs,
    } = args;
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
    let mut ids = Vec::with_capacity(images.len());
    for path in &images {
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::BadInput(format!("{}: {e}", path.display())))?;
        // Decode first so a bad file is reported as such, with its name.
        engine.decode(&bytes).map_err(|e| match CliError::from(e) {
            CliError::BadInput(m) => CliError::BadInput(format!("{}: {m}", path.display())),
            other => other,
        })?;
        ids.push(queue.blocking().submit(&bytes, &opts)?);
    }
    queue.blocking().run_pending(&engine, jobs.max(1))?;
    let mut docs: Vec<(PathBuf, Document)> = Vec::with_capacity(ids.len());
    for (path, id) in images.iter().zip(&ids) {
        match queue.blocking().status(id)? {
            JobStatus::Done => docs.push((path.clone(), queue.blocking().result(id)?)),
            JobStatus::Failed { error, .. } => {
                return Err(CliError::Internal(format!("{}: {error}", path.display())));
            }
            other => {
                return Err(CliError::Internal(format!(
                    "{}: job ended as {other:?}",
                    path.display()
                )));
            }
        }
    }
    if hocr {
        let mut all = Document::default();
        for (_, d) in &docs {
            for p in &d.pages {
                let mut p = p.clone();
                p.index = all.pages.len() as u32;
                all.pages.push(p);
            }
        }
        print!("{}", export::to_hocr(&all));
        return Ok(());
    }
    let threshold = opts.review_threshold;
    let value = json!(
        docs.iter()
            .zip(&ids)
            .map(|((path, d), id)| json!({
                "file": path.display().to_string(),
                "job": id.0,
                "pages": d.pages.len(),
                "confidence": d.confidence(),
                "text": export::to_text(d),
                "review": d.low_confidence(threshold),
                "document": d,
            }))
            .collect::<Vec<_>>()
    );
    out.emit(&value, || {
        let many = docs.len() > 1;
        let mut s = String::new();
        for (path, d) in &docs {
            if many {
                let _ = writeln!(s, "==> {} <==", path.display());
            }
            s.push_str(&export::to_text(d));
        }
        s.trim_end_matches('\n').to_string()
    });
    Ok(())
}
