use super::{enc, gray};
use blocksmith_codes::catalog::{Catalog, MemoryCatalog, Product, StoreCatalog, gtin_of_text};
use blocksmith_codes::gtin::Gtin;
use blocksmith_codes::{Symbology, scan};
use blocksmith_store::MemoryStore;

#[test]
fn store_catalog_lookup_from_scans() {
    let store = MemoryStore::new();
    let cat = StoreCatalog::new(&store, "catalog");
    assert!(cat.blocking().is_empty().unwrap());
    let g = Gtin::parse("4006381333931").unwrap();
    cat.blocking()
        .put(
            &Product::new(&g, "Highlighter")
                .with_brand("Stabilo")
                .with_attribute("colour", "yellow"),
        )
        .unwrap();
    let upc = Gtin::parse("036000291452").unwrap();
    cat.blocking().put(&Product::new(&upc, "Tissues")).unwrap();
    assert_eq!(cat.blocking().len().unwrap(), 2);
    assert_eq!(
        cat.blocking().lookup(&g).unwrap().unwrap().brand.as_deref(),
        Some("Stabilo")
    );
    // Scan an EAN-13 image and look it up.
    let img = gray(&enc(Symbology::Ean13), 3);
    let r = scan::scan_gray(&img, &super::opts()).unwrap();
    let (found, p) = cat
        .blocking()
        .lookup_detection(&r.codes[0])
        .unwrap()
        .unwrap();
    assert_eq!(found, g);
    assert_eq!(p.name, "Highlighter");
    // The same product through a GS1 element string and a Digital Link.
    assert_eq!(
        gtin_of_text(Symbology::DataMatrix, "]d20104006381333931"),
        Some(g)
    );
    assert_eq!(
        gtin_of_text(Symbology::Qr, "https://id.gs1.org/01/4006381333931"),
        Some(g)
    );
    assert_eq!(gtin_of_text(Symbology::UpcA, "036000291452"), Some(upc));
    assert_eq!(gtin_of_text(Symbology::Qr, "hello"), None);
    cat.blocking().remove(&upc).unwrap();
    assert!(cat.blocking().lookup(&upc).unwrap().is_none());
    // A product with a bad GTIN is refused.
    let mut bad = Product::new(&g, "x");
    bad.gtin = "123".into();
    assert!(cat.blocking().put(&bad).is_err());
    let mut mem = MemoryCatalog::default();
    mem.0.insert(g, Product::new(&g, "Highlighter"));
    assert_eq!(
        blocksmith_store::block_on(mem.lookup(&g))
            .unwrap()
            .unwrap()
            .gtin,
        "04006381333931"
    );
}

/// Four writers each add their own attributes to one product at once
/// through `update`: no edit is lost (with `put` the last writer would
/// win), and the GTIN stays the one the product is stored under.
#[test]
fn concurrent_updates_never_lose_an_edit() {
    let store = blocksmith_store::MemoryStore::new();
    let catalog = StoreCatalog::new(&store, "catalog");
    let gtin = Gtin::parse("4006381333931").unwrap();
    catalog.blocking().put(&Product::new(&gtin, "Pen")).unwrap();
    std::thread::scope(|s| {
        for w in 0..4 {
            let catalog = &catalog;
            let gtin = &gtin;
            s.spawn(move || {
                for i in 0..25 {
                    catalog
                        .blocking()
                        .update(gtin, |p| {
                            let Some(mut p) = p else { return Ok(None) };
                            p.gtin = "forged".into();
                            Ok(Some(p.with_attribute(format!("w{w}-{i}"), "x")))
                        })
                        .unwrap();
                }
            });
        }
    });
    let p = catalog.blocking().lookup(&gtin).unwrap().unwrap();
    assert_eq!(p.attributes.len(), 100);
    assert_eq!(p.gtin, gtin.as_gtin14());
    // `None` leaves the product as stored; a missing one stays missing.
    let other = Gtin::parse("96385074").unwrap();
    assert_eq!(catalog.blocking().update(&other, Ok).unwrap(), None);
    assert_eq!(catalog.blocking().lookup(&other).unwrap(), None);
    // An error from the closure stops the update and is returned.
    let refused = catalog.blocking().update(&gtin, |_| {
        Err(blocksmith_codes::Error::InvalidOption("no".into()))
    });
    assert!(refused.is_err());
    assert_eq!(
        catalog
            .blocking()
            .lookup(&gtin)
            .unwrap()
            .unwrap()
            .attributes
            .len(),
        100
    );
}
