//! `codes` catalog `Product` records read back from a store: arbitrary bytes at the key of a
//! GTIN in a `StoreCatalog` over a `MemoryStore`, then lookup,
//! len and a put of what was read. Typed errors, never a panic; a product that decodes
//! re-encodes to one that decodes the same, and puts back under its own GTIN when valid.
#![no_main]

use blocksmith_codes::catalog::{Product, StoreCatalog};
use blocksmith_codes::gtin::Gtin;
use blocksmith_fuzz::record_bytes;
use blocksmith_store::record::{self, Record};
use blocksmith_store::{Key, MemoryStore, StoreExt};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let store = MemoryStore::new();
    let gtin = Gtin::parse("4006381333931").unwrap();
    let bytes = record_bytes(Product::KIND, Product::VERSION, data);
    store
        .blocking()
        .put(
            &Key::new(format!("catalog/{}", gtin.as_gtin14())).unwrap(),
            bytes,
        )
        .unwrap();
    let cat = StoreCatalog::new(&store, "catalog");
    let _ = cat.blocking().len();
    let Ok(Some(p)) = cat.blocking().lookup(&gtin) else {
        return;
    };
    let again = record::encode(&p).expect("a decoded product encodes");
    assert_eq!(record::decode::<Product>("k", &again).unwrap(), p);
    if let Ok(g) = Gtin::parse(&p.gtin) {
        cat.blocking()
            .put(&p)
            .expect("a product with a valid GTIN puts back");
        let back = cat.blocking().lookup(&g).unwrap().expect("just put");
        assert_eq!(back.gtin, g.as_gtin14());
        assert_eq!(
            (back.name, back.brand, back.attributes),
            (p.name, p.brand, p.attributes)
        );
    }
});
