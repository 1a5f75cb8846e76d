//! A QR campaign in miniature: render 200 poster codes from a URL template
//! in parallel (every one decoded back), keep them in the store by cache key,
//! re-run the campaign with 50 more codes (only those are rendered), then
//! scan a shelf photo holding a product barcode and a GS1 Digital Link and
//! look both up in a catalog kept in the store.
//!
//! ```text
//! cargo run --release --example codes_campaign
//! ```

use blocksmith::codes::batch::{RenderCache, Template};
use blocksmith::codes::catalog::{Product, StoreCatalog};
use blocksmith::codes::degrade::{Degradation, place};
use blocksmith::codes::gtin::Gtin;
use blocksmith::codes::{
    EcLevel, EncodeOptions, RenderOptions, ScanOptions, Symbology, encode, render, scan,
};
use blocksmith::store::Store;
use std::error::Error;
use std::time::Instant;

/// Runs the demo on `store` and returns a one-line summary.
pub(crate) fn demo<S: Store>(store: S) -> Result<String, Box<dyn Error>> {
    let t0 = Instant::now();
    let cache = RenderCache::new(&store, "codes");
    let template = Template::new("https://example.com/c/spring26/{id}")
        .with_encode(EncodeOptions::new(Symbology::Qr).with_ec_level(EcLevel::Q))
        .with_render(RenderOptions::new().with_scale(4));
    let ids: Vec<String> = (0..200).map(|i| format!("p{i:05}")).collect();
    let first = cache
        .blocking()
        .render_campaign("spring26", &template, &ids)?;
    let more: Vec<String> = (0..250).map(|i| format!("p{i:05}")).collect();
    let second = cache
        .blocking()
        .render_campaign("spring26-ext", &template, &more)?;
    let cached = second.entries.iter().filter(|e| e.cached).count();
    let verified = second.entries.iter().filter(|e| e.verified).count();
    let bytes: usize = second.entries.iter().map(|e| e.size).sum();
    let render_ms = t0.elapsed().as_millis();

    // The shelf: an EAN-13 and a Digital Link QR in one tilted, noisy photo.
    let catalog = StoreCatalog::new(&store, "catalog");
    let ean = Gtin::parse("4006381333931")?;
    let dl = Gtin::parse("09506000134352")?;
    catalog
        .blocking()
        .put(&Product::new(&ean, "Highlighter, yellow").with_brand("Stabilo"))?;
    catalog
        .blocking()
        .put(&Product::new(&dl, "Organic oats 500 g").with_attribute("lot", "L2611"))?;
    let gray = |s| -> Result<image::GrayImage, Box<dyn Error>> {
        let img = render::to_image(&s, &RenderOptions::new().with_scale(3))?;
        Ok(image::DynamicImage::ImageRgb8(img).to_luma8())
    };
    let bar = gray(encode(
        "4006381333931",
        &EncodeOptions::new(Symbology::Ean13),
    )?)?;
    let link = gray(encode(
        "https://id.example.com/01/09506000134352/10/L2611?17=270131",
        &EncodeOptions::new(Symbology::Qr),
    )?)?;
    let mut shelf = place(&bar, 1280, 720, 120, 200, 225);
    image::imageops::overlay(&mut shelf, &link, 760, 180);
    let shelf = Degradation::Rotate(8.0).apply(&shelf, 0)?;
    let shelf = Degradation::Noise(10.0).apply(&shelf, 7)?;
    let t1 = Instant::now();
    let report = scan::scan_gray(&shelf, &ScanOptions::new())?;
    let scan_ms = t1.elapsed().as_millis();
    let mut names = Vec::new();
    for d in &report.codes {
        if let Some((_, p)) = catalog.blocking().lookup_detection(d)? {
            names.push(format!("{} -> {}", d.symbology, p.name));
        }
    }
    names.sort();
    Ok(format!(
        "codes   campaign of {} QR codes (first run {}, then {} new, {cached} from the render cache, {verified} verified by decoding, {} KiB PNG) in {render_ms} ms; \
         shelf photo: {} codes in {scan_ms} ms, catalog hits: {}",
        second.entries.len(),
        first.entries.len(),
        second.entries.len() - cached,
        bytes / 1024,
        report.codes.len(),
        names.join("; ")
    ))
}

#[allow(dead_code)] // also compiled into the tour, which has its own main
fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/codes_campaign");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = blocksmith::store::RedbStore::open(dir.join("codes.redb"))?;
    println!("{}", demo(&store)?);
    Ok(())
}
