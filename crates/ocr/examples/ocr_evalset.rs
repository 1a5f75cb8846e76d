//! Generate the evaluation set: `cargo run --release -p blocksmith-ocr --example ocr_evalset [-- --out DIR]`.
//!
//! Pages of real English text (`data/eval_text.txt`: the Apache-2.0 and MPL-2.0 licence texts, see
//! data/README.md) rendered as A4 at 300 DPI in several fonts (training and held-out) and sizes 8-16 pt,
//! then degraded. Writes `DIR/<condition>/<font>_<pt>pt.png` with `.txt` ground truth (default
//! `target/ocr_evalset`). Needs the Debian font packages listed in README.md.

use blocksmith_ocr::builtin::degrade::{self, Rng};
use blocksmith_ocr::builtin::render::{Font, RenderOptions, render_page};

/// (font path, label, held out?)
const FONTS: &[(&str, &str, bool)] = &[
    (
        "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
        "DejaVuSerif",
        false,
    ),
    (
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "LiberationSans",
        false,
    ),
    (
        "/usr/share/fonts/truetype/freefont/FreeMono.ttf",
        "FreeMono",
        false,
    ),
    (
        "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Regular.otf",
        "HO-NimbusRoman",
        true,
    ),
    (
        "/usr/share/fonts/opentype/urw-base35/NimbusSans-Regular.otf",
        "HO-NimbusSans",
        true,
    ),
    (
        "/usr/share/fonts/opentype/urw-base35/NimbusMonoPS-Regular.otf",
        "HO-NimbusMono",
        true,
    ),
    (
        "/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf",
        "HO-NotoSerif",
        true,
    ),
];
const SIZES: &[f32] = &[8.0, 11.0, 16.0];
/// Condition names, in report order.
pub(crate) const CONDITIONS: &[&str] = &[
    "clean", "noise", "blur", "contrast", "jpeg30", "skew3", "skew8",
];

fn degrade_page(cond: &str, img: &image::GrayImage, rng: &mut Rng) -> image::GrayImage {
    match cond {
        "noise" => degrade::noise(img, 30.0, rng),
        "blur" => degrade::blur(img, 1.2),
        "contrast" => degrade::contrast(img, 110, 200),
        "jpeg30" => degrade::jpeg(img, 30),
        "skew3" => degrade::rotate(img, 3.0),
        "skew8" => degrade::rotate(img, 8.0),
        _ => img.clone(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "target/ocr_evalset".into());
    let text = include_str!("../data/eval_text.txt");
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut offset = 0usize;
    let mut rng = Rng::new(2026);
    let mut n = 0;
    for &(path, label, _) in FONTS {
        let font = Font::from_bytes(
            label,
            std::fs::read(path).map_err(|e| format!("{path}: {e}"))?,
        )?;
        for &pt in SIZES {
            let opts = RenderOptions::default().with_pt(pt).with_dpi(300.0);
            let start = offset % words.len();
            let page = render_page(&font, &words[start..], &opts, 2480, 3508, 236, 45);
            offset += page.words_used.max(1);
            for &cond in CONDITIONS {
                let dir = format!("{out}/{cond}");
                std::fs::create_dir_all(&dir)?;
                let img = degrade_page(cond, &page.image, &mut rng);
                let name = format!("{dir}/{label}_{pt:.0}pt");
                img.save(format!("{name}.png"))?;
                std::fs::write(format!("{name}.txt"), &page.text)?;
                n += 1;
            }
        }
    }
    println!(
        "ocr_evalset: wrote {n} pages to {out} ({} fonts x {} sizes x {} conditions)",
        FONTS.len(),
        SIZES.len(),
        CONDITIONS.len()
    );
    Ok(())
}
