//! A document OCR service in miniature: a page of real text typeset in a font the recognizer
//! never saw, with a ruled table and a 2-degree scanner tilt, is submitted as a PNG to the job
//! queue over a store; a worker pool processes it with the built-in recognizer, and the result
//! comes back as a tree with confidences, plain text (scored against the typeset text) and hOCR.
//!
//! ```text
//! cargo run --release --example ocr_document
//! OCR_DOCUMENT_VERBOSE=1 cargo run --release --example ocr_document   # every line and its word confidences
//! ```

use blocksmith::ocr::builtin::harness;
use blocksmith::ocr::builtin::render::{Font, RenderOptions, render_line, render_page};
use blocksmith::ocr::jobs::{JobOptions, JobQueue};
use blocksmith::ocr::{BlockKind, Engine, EngineOptions, export};
use blocksmith::store::{RedbStore, Store};
use image::{DynamicImage, GrayImage, ImageFormat, Luma};
use std::error::Error;

/// Text for the page (from the Apache License 2.0, the crate's evaluation text).
const TEXT: &str = "Unless required by applicable law or agreed to in writing, software distributed \
under the License is distributed on an AS IS BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, \
either express or implied. See the License for the specific language governing permissions and \
limitations under the License. You may obtain a copy of the License at the address given in the \
NOTICE file, and you must retain, in the Source form of any Derivative Works that You distribute, \
all copyright, patent, trademark, and attribution notices from the Source form of the Work.";

/// A font that was never used to train the recognizer (Noto Sans, OFL 1.1).
const FONT: &[u8] = include_bytes!("../crates/ocr/tests/data/NotoSans-Regular.ttf");

/// An A5 page at 300 DPI: 11 pt text, then a ruled 2x2 table, turned by 2 degrees as a scanner
/// would, as PNG bytes; and the text as typeset (the ground truth).
fn scanned_page() -> Result<(Vec<u8>, String), Box<dyn Error>> {
    let font = Font::from_bytes("Noto Sans", FONT.to_vec())?;
    let opts = RenderOptions::default().with_pt(11.0);
    let words: Vec<&str> = TEXT.split_whitespace().collect();
    let body = render_page(&font, &words, &opts, 1748, 1500, 150, 40);
    let mut page = GrayImage::from_pixel(1748, 2480, Luma([255]));
    image::imageops::overlay(&mut page, &body.image, 0, 0);
    let mut truth = body.text.clone();
    // A ruled 2x2 table below the text, a word or two in each cell.
    let (tx, ty, cw, ch) = (150u32, 1600u32, 700u32, 120u32);
    let fill = |img: &mut GrayImage, x: u32, y: u32, w: u32, h: u32| {
        for yy in y..y + h {
            for xx in x..x + w {
                img.put_pixel(xx, yy, Luma([0]));
            }
        }
    };
    for r in 0..=2 {
        fill(&mut page, tx, ty + r * ch, 2 * cw + 4, 4);
    }
    for c in 0..=2 {
        fill(&mut page, tx + c * cw, ty, 4, 2 * ch + 4);
    }
    for (i, cell) in ["Licensor", "Apache 2.0", "Version", "January 2004"]
        .iter()
        .enumerate()
    {
        let line = render_line(&font, cell, &opts.with_margin(0));
        let (r, c) = (i as u32 / 2, i as u32 % 2);
        let (x, y) = (tx + c * cw + 40, ty + r * ch + 30);
        image::imageops::overlay(&mut page, &line.image, i64::from(x), i64::from(y));
        truth.push('\n');
        truth.push_str(cell);
    }
    let tilted = blocksmith::ocr::preprocess::rotate(&page, 2.0);
    let mut png = std::io::Cursor::new(Vec::new());
    DynamicImage::ImageLuma8(tilted).write_to(&mut png, ImageFormat::Png)?;
    Ok((png.into_inner(), truth))
}

/// Runs the demo on `store` and returns a one-line summary.
pub(crate) fn demo<S: Store>(store: S) -> Result<String, Box<dyn Error>> {
    let (png, truth) = scanned_page()?;
    let queue = JobQueue::new(store, "ocr/jobs", JobOptions::default());
    let opts = EngineOptions::default();
    let id = queue.blocking().submit(&png, &opts)?;
    let again = queue.blocking().submit(&png, &opts)?; // idempotent by content hash
    let engine = Engine::default();
    let report = queue.blocking().run_pending(&engine, 2)?;
    let doc = queue.blocking().result(&id)?;
    let page = &doc.pages[0];
    let cells = page
        .blocks
        .iter()
        .filter(|b| matches!(b.kind, BlockKind::TableCell { .. }))
        .count();
    let text_blocks = page.blocks.len() - cells;
    let lines = page.lines().count();
    let words: usize = page.lines().map(|l| l.words.len()).sum();
    let review = doc.low_confidence(opts.review_threshold).len();
    let hocr = export::to_hocr(&doc);
    let text = export::to_text(&doc);
    let (errors, chars, _, _) = harness::error_counts(&truth, &text);
    let cer = 100.0 * errors as f64 / chars.max(1) as f64;
    if std::env::var_os("OCR_DOCUMENT_VERBOSE").is_some() {
        for line in page.lines() {
            let confs: Vec<String> = line
                .words
                .iter()
                .map(|w| format!("{:.2}", w.confidence))
                .collect();
            println!(
                "{:.2}  {}  [{}]",
                line.confidence,
                line.text(),
                confs.join(" ")
            );
        }
    }
    Ok(format!(
        "ocr     {} page PNG ({} KiB) as job {}… (resubmitted: same id {}), {} done: skew {:.2} deg corrected, \
         {text_blocks} text blocks + a {cells}-cell table, {lines} lines, {words} words at page confidence {:.2}, \
         CER {cer:.2}% against the typeset text (an unseen font), {review} words for review; {} B hOCR; \
         preprocess {:.0} ms, layout {:.0} ms, recognition {:.0} ms",
        doc.pages.len(),
        png.len() / 1024,
        &id.0[..8],
        again == id,
        report.done,
        page.skew_degrees,
        page.confidence,
        hocr.len(),
        page.timings.preprocess.as_secs_f64() * 1e3,
        page.timings.layout.as_secs_f64() * 1e3,
        page.timings.recognize.as_secs_f64() * 1e3,
    ))
}

#[allow(dead_code)] // also compiled into the tour, which has its own main
fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ocr_document");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = RedbStore::open(dir.join("ocr.redb"))?;
    println!("{}", demo(&store)?);
    Ok(())
}
