//! Product catalog lookup by GTIN, with a `blocksmith-store` implementation,
//! and resolution of a scanned code (EAN/UPC, GS1 element string, GS1
//! Digital Link) to the GTIN it names.

use crate::gtin::Gtin;
use crate::scan::Detection;
use crate::{Result, Symbology, gs1};
use blocksmith_store::{Key, PutOptions, Store, StoreExt, record::Record};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A product record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Product {
    /// GTIN-14 form.
    pub gtin: String,
    /// Display name.
    pub name: String,
    /// Brand.
    pub brand: Option<String>,
    /// Free attributes (size, price, category...).
    pub attributes: BTreeMap<String, String>,
}

impl Product {
    /// A product with a name.
    pub fn new(gtin: &Gtin, name: impl Into<String>) -> Self {
        Self {
            gtin: gtin.as_gtin14().to_string(),
            name: name.into(),
            brand: None,
            attributes: BTreeMap::new(),
        }
    }
    /// Sets the brand.
    #[must_use]
    pub fn with_brand(mut self, brand: impl Into<String>) -> Self {
        self.brand = Some(brand.into());
        self
    }
    /// Adds an attribute.
    #[must_use]
    pub fn with_attribute(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        self.attributes.insert(k.into(), v.into());
        self
    }
}

impl Record for Product {
    const KIND: &'static str = "codes.product";
    const VERSION: u32 = 1;
}

/// Looks products up by GTIN.
pub trait Catalog {
    /// The product with this GTIN, if known.
    fn lookup(&self, gtin: &Gtin) -> Result<Option<Product>>;

    /// Resolves a scanned code to a GTIN and looks it up.
    fn lookup_detection(&self, d: &Detection) -> Result<Option<(Gtin, Product)>> {
        match gtin_of(d) {
            Some(g) => Ok(self.lookup(&g)?.map(|p| (g, p))),
            None => Ok(None),
        }
    }
}

/// The GTIN a scanned code names: the digits of an EAN/UPC (UPC-E
/// expanded), AI 01 of a GS1 element string, or the `/01/` of a GS1
/// Digital Link URL.
pub fn gtin_of(d: &Detection) -> Option<Gtin> {
    gtin_of_text(d.symbology, &d.text)
}

/// [`gtin_of`] on a symbology and text.
pub fn gtin_of_text(symbology: Symbology, text: &str) -> Option<Gtin> {
    match symbology {
        Symbology::UpcE => crate::gtin::upce_to_upca(text)
            .ok()
            .and_then(|a| Gtin::parse(&a).ok()),
        Symbology::Ean13 | Symbology::Ean8 | Symbology::UpcA | Symbology::Itf => {
            Gtin::parse(text).ok()
        }
        _ => {
            let t = text.trim();
            if t.starts_with("http://") || t.starts_with("https://") {
                gs1::parse_digital_link(t).ok()?.gtin()
            } else if t.bytes().all(|b| b.is_ascii_digit()) {
                Gtin::parse(t).ok()
            } else {
                gs1::parse(t).ok()?.gtin()
            }
        }
    }
}

/// A catalog kept in a store: `<prefix>/<gtin14>` holds a [`Product`] record.
#[derive(Debug)]
pub struct StoreCatalog<S> {
    store: S,
    prefix: String,
}

impl<S: Store> StoreCatalog<S> {
    /// A catalog under `prefix` (e.g. `catalog`).
    pub fn new(store: S, prefix: impl Into<String>) -> Self {
        Self {
            store,
            prefix: prefix.into().trim_end_matches('/').to_string(),
        }
    }

    fn key(&self, gtin: &Gtin) -> Result<Key> {
        Ok(Key::new(format!("{}/{}", self.prefix, gtin.as_gtin14()))?)
    }

    /// Adds or replaces a product (its `gtin` field must be a valid GTIN).
    pub fn put(&self, product: &Product) -> Result<()> {
        let g = Gtin::parse(&product.gtin)?;
        let mut p = product.clone();
        p.gtin = g.as_gtin14().to_string();
        self.store
            .blocking()
            .put_record(&self.key(&g)?, &p, PutOptions::new())?;
        Ok(())
    }

    /// Removes a product (idempotent).
    pub fn remove(&self, gtin: &Gtin) -> Result<()> {
        self.store.blocking().delete(&self.key(gtin)?)?;
        Ok(())
    }

    /// How many products the catalog holds.
    pub fn len(&self) -> Result<usize> {
        Ok(self
            .store
            .blocking()
            .list_all(&format!("{}/", self.prefix))?
            .len())
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }
}

impl<S: Store> Catalog for StoreCatalog<S> {
    fn lookup(&self, gtin: &Gtin) -> Result<Option<Product>> {
        Ok(self
            .store
            .blocking()
            .get_record::<Product>(&self.key(gtin)?)?
            .map(|(p, _)| p))
    }
}

/// An in-memory catalog, for tests and small fixed lists.
#[derive(Debug, Clone, Default)]
pub struct MemoryCatalog(pub BTreeMap<Gtin, Product>);

impl Catalog for MemoryCatalog {
    fn lookup(&self, gtin: &Gtin) -> Result<Option<Product>> {
        Ok(self.0.get(gtin).cloned())
    }
}
