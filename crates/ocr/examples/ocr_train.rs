//! Retrain the built-in model: `cargo run --release -p blocksmith-ocr --example ocr_train [-- --lines N --epochs E --out PATH]`
//! (default output: the crate's `data/ocr_model.bin`).
//!
//! Needs Debian's `fonts-dejavu fonts-liberation fonts-freefont-ttf` (training fonts) and
//! `fonts-urw-base35 fonts-noto-core` (held-out fonts, only measured, never trained on).
//! Writes `data/ocr_model.bin` by default.

use std::time::Instant;

use blocksmith_ocr::builtin::BuiltinRecognizer;
use blocksmith_ocr::builtin::model::Model;
use blocksmith_ocr::builtin::render::Font;
use blocksmith_ocr::builtin::train::{self, TrainOptions};

/// Training fonts (serif, sans, mono; regular, bold, italic).
pub(crate) const TRAIN_FONTS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Italic.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Italic.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Italic.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSans.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSerif.ttf",
    "/usr/share/fonts/truetype/freefont/FreeSerifBold.ttf",
    "/usr/share/fonts/truetype/freefont/FreeMono.ttf",
    "/usr/share/fonts/truetype/freefont/FreeMonoBold.ttf",
];

/// Held-out fonts: never used for training or calibration.
pub(crate) const HELDOUT_FONTS: &[&str] = &[
    "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Regular.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf",
    "/usr/share/fonts/opentype/urw-base35/NimbusMonoPS-Regular.otf",
    "/usr/share/fonts/opentype/urw-base35/C059-Roman.otf",
    "/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf",
    "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
];

pub(crate) fn load(paths: &[&str]) -> Result<Vec<Font>, Box<dyn std::error::Error>> {
    paths
        .iter()
        .map(|p| {
            let name = std::path::Path::new(p)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or(p)
                .to_string();
            let bytes = std::fs::read(p)
                .map_err(|e| format!("{p}: {e} (install the Debian font packages)"))?;
            Ok(Font::from_bytes(name, bytes)?)
        })
        .collect()
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let lines = arg("--lines", 7000);
    let epochs = arg("--epochs", 7);
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/data/ocr_model.bin").into());
    let t0 = Instant::now();
    let fonts = load(TRAIN_FONTS)?;
    let held = load(HELDOUT_FONTS)?;
    if let Some(i) = args.iter().position(|a| a == "--calibrate-only") {
        // Refit temperature and Platt scaling of an existing model (e.g. after changing the search).
        let path = args
            .get(i + 1)
            .ok_or("--calibrate-only needs a model path")?;
        let model = Model::from_bytes(&std::fs::read(path)?)?;
        return calibrate_and_write(model, &fonts, &held, &out, t0, 0.0);
    }
    // Generate in two halves on two threads.
    let (a, b) = std::thread::scope(|s| {
        let h1 = s.spawn(|| train::generate(&fonts, lines / 2, 1));
        let h2 = s.spawn(|| train::generate(&fonts, lines - lines / 2, 2));
        (h1.join(), h2.join())
    });
    let mut ds = a.map_err(|_| "generator panicked")?;
    ds.extend(b.map_err(|_| "generator panicked")?);
    let junk = ds.y.iter().filter(|&&y| y == 0).count();
    println!(
        "samples {} (junk {junk}) from {lines} lines in {:.1}s",
        ds.len(),
        t0.elapsed().as_secs_f64()
    );
    let val = train::generate(&fonts, 400, 99);
    let held_ds = train::generate(&held, 600, 1234);
    let mut model = Model::new(train::classes(), &[192, 128], 3);
    let t1 = Instant::now();
    train::train(
        &mut model,
        &ds,
        &TrainOptions::default().with_epochs(epochs),
        |e, l| {
            println!(
                "epoch {e}: loss {l:.4} ({:.0}s)",
                t1.elapsed().as_secs_f64()
            );
        },
    );
    let train_secs = t1.elapsed().as_secs_f64();
    // Quantise (round trip through the file format) before calibrating, so calibration sees the shipped weights.
    let model = Model::from_bytes(&model.to_bytes())?;
    println!(
        "accuracy: train-font val {:.4}, held-out fonts {:.4}",
        train::accuracy(&model, &val),
        train::accuracy(&model, &held_ds)
    );
    calibrate_and_write(model, &fonts, &held, &out, t0, train_secs)
}

fn calibrate_and_write(
    mut model: Model,
    fonts: &[Font],
    held: &[Font],
    out: &str,
    t0: Instant,
    train_secs: f64,
) -> Result<(), Box<dyn std::error::Error>> {
    let val = train::generate(fonts, 400, 99);
    model.temperature = train::fit_temperature(&model, &val);
    let cal = train::calibration_lines(fonts, 1500, 4242);
    let outcomes = train::word_outcomes(&BuiltinRecognizer::from_model(model.clone()), &cal);
    let (a, b) = train::fit_platt(&outcomes);
    model.platt_a = a;
    model.platt_b = b;
    let rec = BuiltinRecognizer::from_model(model.clone());
    let held_lines = train::calibration_lines(held, 600, 777);
    let pairs: Vec<(f32, bool)> = train::word_outcomes(&rec, &held_lines)
        .into_iter()
        .map(|(s, ok)| (model.word_confidence(s), ok))
        .collect();
    let (e, t) = train::line_errors(&rec, &held_lines);
    let bytes = model.to_bytes();
    std::fs::write(out, &bytes)?;
    println!(
        "temperature {:.2}, platt a {a:.3} b {b:.3}; held-out fonts: word ECE {:.4} over {} words, line CER {:.4}",
        model.temperature,
        train::ece(&pairs, 10),
        pairs.len(),
        e as f64 / t.max(1) as f64
    );
    println!(
        "wrote {out}: {} bytes; training {train_secs:.0}s, total {:.0}s",
        bytes.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
