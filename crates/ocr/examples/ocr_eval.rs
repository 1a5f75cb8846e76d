//! Run the built-in recognizer on the evaluation set and report CER/WER per condition:
//! `cargo run --release --example ocr_eval [-- --set DIR] [--model PATH]`.
//! Score another engine's output instead (used by scripts/tesseract_eval.sh):
//! `cargo run --release --example ocr_eval -- --score HYP_DIR [--label NAME] [--seconds S]`
//! where HYP_DIR/<condition>/<page>.txt mirror the set's pages. `--conditions clean,noise` limits
//! the run to those conditions.
//!
//! Pages go through the whole `Engine` (preprocessing with deskew, layout, the built-in
//! recognizer); `--harness` uses the simple line splitter of `builtin::harness` instead (no
//! deskew), which was used to develop the recognizer before the pipeline existed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use blocksmith_ocr::builtin::model::Model;
use blocksmith_ocr::builtin::{BuiltinRecognizer, harness, train};
use blocksmith_ocr::{Engine, EngineOptions};
use std::sync::Arc;

/// Recognised lines: (word, confidence) in reading order.
type Lines = Vec<Vec<(String, f32)>>;

/// Runs one page through the engine (or the harness splitter when `engine` is `None`).
fn run_page(
    rec: &BuiltinRecognizer,
    engine: Option<&Engine>,
    img: image::GrayImage,
) -> Result<Lines, Box<dyn std::error::Error>> {
    Ok(match engine {
        Some(engine) => {
            let page = engine.process_image(&image::DynamicImage::ImageLuma8(img))?;
            page.lines()
                .map(|l| {
                    l.words
                        .iter()
                        .map(|w| (w.text.clone(), w.confidence))
                        .collect()
                })
                .collect()
        }
        None => harness::recognize_page(rec, &img)
            .iter()
            .map(|l| {
                l.iter()
                    .map(|w| (w.chars.iter().map(|c| c.ch).collect(), w.confidence))
                    .collect()
            })
            .collect(),
    })
}

const CONDITIONS: &[&str] = &[
    "clean", "noise", "blur", "contrast", "jpeg30", "skew3", "skew8",
];

#[derive(Default)]
struct Acc {
    ce: usize,
    rc: usize,
    we: usize,
    rw: usize,
    pages: usize,
    secs: f64,
    page_cer: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn opt(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn pages(set: &str, cond: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(format!("{set}/{cond}"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "png"))
                .filter_map(|p| p.file_stem().and_then(|s| s.to_str()).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let set = opt(&args, "--set").unwrap_or_else(|| "target/ocr_evalset".into());
    let score = opt(&args, "--score");
    let label = opt(&args, "--label").unwrap_or_else(|| {
        if score.is_some() {
            "other".into()
        } else {
            "blocksmith".into()
        }
    });
    let rec = match (&score, opt(&args, "--model")) {
        (Some(_), _) => None,
        (None, Some(p)) => Some(BuiltinRecognizer::from_model(Model::from_bytes(
            &std::fs::read(p)?,
        )?)),
        (None, None) => Some(BuiltinRecognizer::embedded()?),
    };
    let engine = match (&rec, args.iter().any(|a| a == "--harness")) {
        (Some(r), false) => Some(Engine::new(EngineOptions::default(), Arc::new(r.clone()))),
        _ => None,
    };
    let hyp_out = format!("target/ocr_eval/{label}");
    let mut by: BTreeMap<(usize, String), Acc> = BTreeMap::new();
    let mut pairs: Vec<(f32, bool)> = Vec::new();
    let only = opt(&args, "--conditions");
    for (ci, &cond) in CONDITIONS.iter().enumerate() {
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|c| c == cond))
        {
            continue;
        }
        for name in pages(&set, cond) {
            let truth = std::fs::read_to_string(format!("{set}/{cond}/{name}.txt"))?;
            let (hyp, secs) = if let Some(dir) = &score {
                // Pages the other engine did not run are skipped, not scored as empty.
                let Ok(hyp) = std::fs::read_to_string(format!("{dir}/{cond}/{name}.txt")) else {
                    continue;
                };
                (hyp, 0.0)
            } else if let Some(rec) = &rec {
                let img = image::open(format!("{set}/{cond}/{name}.png"))?.to_luma8();
                let t = Instant::now();
                let lines = run_page(rec, engine.as_ref(), img)?;
                let secs = t.elapsed().as_secs_f64();
                // Word calibration on lines that align one to one with the ground truth.
                let tl: Vec<&str> = truth.lines().collect();
                if tl.len() == lines.len() {
                    for (l, t) in lines.iter().zip(&tl) {
                        let tw: Vec<&str> = t.split_whitespace().collect();
                        if tw.len() == l.len() {
                            for ((w, c), t) in l.iter().zip(&tw) {
                                pairs.push((*c, w == t));
                            }
                        }
                    }
                }
                let text = lines
                    .iter()
                    .map(|l| {
                        l.iter()
                            .map(|(w, _)| w.as_str())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                std::fs::create_dir_all(format!("{hyp_out}/{cond}"))?;
                std::fs::write(format!("{hyp_out}/{cond}/{name}.txt"), &text)?;
                (text, secs)
            } else {
                continue;
            };
            let (ce, rc, we, rw) = harness::error_counts(&truth, &hyp);
            let group = if name.starts_with("HO-") {
                "held-out fonts"
            } else {
                "training fonts"
            };
            for key in [(ci, "all".to_string()), (ci, group.to_string())] {
                let a = by.entry(key).or_default();
                a.ce += ce;
                a.rc += rc;
                a.we += we;
                a.rw += rw;
                a.pages += 1;
                a.secs += secs;
                a.page_cer.push(ce as f64 / rc.max(1) as f64);
            }
        }
    }
    let total_secs: f64 = opt(&args, "--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            by.iter()
                .filter(|k| k.0.1 == "all")
                .map(|(_, a)| a.secs)
                .sum()
        });
    let total_pages: usize = by
        .iter()
        .filter(|k| k.0.1 == "all")
        .map(|(_, a)| a.pages)
        .sum();
    let mut md = String::from(
        "| engine | condition | fonts | pages | CER | WER | median page CER |\n|---|---|---|---|---|---|---|\n",
    );
    for ((ci, g), a) in &by {
        let _ = writeln!(
            md,
            "| {label} | {} | {g} | {} | {:.2}% | {:.2}% | {:.2}% |",
            CONDITIONS[*ci],
            a.pages,
            100.0 * a.ce as f64 / a.rc.max(1) as f64,
            100.0 * a.we as f64 / a.rw.max(1) as f64,
            100.0 * median(&a.page_cer)
        );
    }
    let _ = write!(
        md,
        "\n{label}: {total_pages} pages in {total_secs:.1} s = {:.2} pages/s\n",
        total_pages as f64 / total_secs.max(1e-9)
    );
    if !pairs.is_empty() {
        let acc = pairs.iter().filter(|p| p.1).count() as f64 / pairs.len() as f64;
        let _ = writeln!(
            md,
            "word confidence: ECE (10 bins) {:.4} over {} aligned words; mean confidence {:.3}, accuracy {acc:.3}",
            train::ece(&pairs, 10),
            pairs.len(),
            pairs.iter().map(|p| f64::from(p.0)).sum::<f64>() / pairs.len() as f64
        );
    }
    std::fs::create_dir_all("target/ocr_eval")?;
    std::fs::write(format!("target/ocr_eval/{label}.md"), &md)?;
    println!("{md}");
    Ok(())
}
