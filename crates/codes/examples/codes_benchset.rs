//! Generates the degradation benchmark set and scores `blocksmith_codes` on it.
//!
//! ```text
//! cargo run --release --example codes_benchset -- target/benchset
//! python3 scripts/zxing_cpp_bench.py target/benchset   # zxing-cpp on the same images, writes docs/benchmarks.md
//! ```
//!
//! Every symbology, three payloads each, rendered and then degraded by each
//! entry of `degrade::benchmark_set()` (rotation, perspective, blur, noise,
//! low contrast, JPEG, scaling). Writes `<dir>/img/*.png`, `<dir>/manifest.csv`
//! (file, symbology, degradation, family, expected text) and `<dir>/ours.csv`
//! (file, decoded 0/1, milliseconds), plus `<dir>/frame_1080p.png`, the frame
//! of the criterion bench, for timing other decoders.

use blocksmith_codes::degrade::{Degradation, benchmark_set, place};
use blocksmith_codes::{
    EncodeOptions, RenderOptions, ScanOptions, Symbology, encode, render, scan,
};
use std::error::Error;
use std::fmt::Write as _;
use std::time::Instant;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + (self.next() % 10) as u8))
            .collect()
    }
    fn upper(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        (0..n)
            .map(|_| char::from(A[(self.next() % A.len() as u64) as usize]))
            .collect()
    }
}

fn payload(s: Symbology, rng: &mut Rng) -> String {
    match s {
        Symbology::Qr => format!("https://example.com/c/{}?src=bench", rng.upper(10)),
        Symbology::MicroQr => rng.digits(8),
        Symbology::Ean13 => format!("{}{}", 1 + rng.next() % 9, rng.digits(11)),
        Symbology::Ean8 => rng.digits(7),
        Symbology::UpcA => rng.digits(11),
        Symbology::UpcE => format!("0{}", rng.digits(6)),
        Symbology::Code128 => format!("BS-{}-{}", rng.upper(6), rng.digits(4)),
        Symbology::Code39 => format!("P{}", rng.upper(8)),
        Symbology::Code93 => format!("C93 {}", rng.upper(6)),
        Symbology::Itf => rng.digits(14),
        Symbology::Codabar => format!("A{}B", rng.digits(10)),
        Symbology::DataMatrix => format!("DM{} {}", rng.upper(12), rng.digits(6)),
        Symbology::Pdf417 => format!("PDF417 {} {}", rng.upper(16), rng.digits(10)),
        _ => format!("AZTEC {}", rng.upper(14)),
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "target/benchset".into()),
    );
    let img_dir = dir.join("img");
    std::fs::create_dir_all(&img_dir)?;
    let mut manifest = String::from("file,symbology,degradation,family,expected\n");
    let mut ours = String::from("file,decoded,ms\n");
    let mut rng = Rng(0x5EED_C0DE_1234_5678);
    let opts = ScanOptions::new();
    let (mut total, mut ok, mut worst) = (0u32, 0u32, 0f64);
    for s in Symbology::ALL {
        for variant in 0..3 {
            let data = payload(s, &mut rng);
            let symbol = encode(&data, &EncodeOptions::new(s))?;
            let scale = if s.is_linear() {
                3
            } else if s == Symbology::MicroQr {
                6
            } else {
                4
            };
            let rgb = render::to_image(
                &symbol,
                &RenderOptions::new().with_scale(scale).with_bar_height(50),
            )?;
            let code = image::DynamicImage::ImageRgb8(rgb).to_luma8();
            let base = place(&code, code.width() + 80, code.height() + 80, 40, 40, 240);
            for (k, d) in benchmark_set().into_iter().enumerate() {
                let img = d.apply(&base, (variant * 100 + k) as u64)?;
                let file = format!("{}_{}_{}.png", s.name(), variant, d.label());
                img.save(img_dir.join(&file))?;
                let t = Instant::now();
                let report = scan::scan_gray(&img, &opts)?;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                worst = worst.max(ms);
                let hit = report.codes.iter().any(|c| c.text == symbol.text);
                total += 1;
                ok += u32::from(hit);
                let _ = writeln!(
                    manifest,
                    "{file},{},{},{},{}",
                    s.name(),
                    d.label(),
                    d.family(),
                    csv(&symbol.text)
                );
                let _ = writeln!(ours, "{file},{},{ms:.2}", u8::from(hit));
            }
        }
    }
    std::fs::write(dir.join("manifest.csv"), manifest)?;
    std::fs::write(dir.join("ours.csv"), ours)?;
    // The criterion bench's 1080p frame.
    let s = encode(
        "https://example.com/campaign/2026/spring?id=000123&src=poster",
        &EncodeOptions::new(Symbology::Qr),
    )?;
    let rgb = render::to_image(&s, &RenderOptions::new().with_scale(6))?;
    let code = image::DynamicImage::ImageRgb8(rgb).to_luma8();
    let frame = Degradation::Noise(6.0).apply(&place(&code, 1920, 1080, 1100, 300, 210), 42)?;
    frame.save(dir.join("frame_1080p.png"))?;
    let t = Instant::now();
    let n = 10;
    for _ in 0..n {
        scan::scan_gray(
            &frame,
            &ScanOptions::new().with_symbologies([Symbology::Qr]),
        )?;
    }
    println!(
        "{ok}/{total} decoded ({:.1}%), slowest image {worst:.0} ms, 1080p QR frame {:.1} ms",
        f64::from(ok) * 100.0 / f64::from(total),
        t.elapsed().as_secs_f64() * 1000.0 / f64::from(n)
    );
    Ok(())
}

fn csv(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}
