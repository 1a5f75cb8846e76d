//! Product catalog lookup by GTIN, with a `blocksmith-store` implementation,
//! and resolution of a scanned code (EAN/UPC, GS1 element string, GS1
//! Digital Link) to the GTIN it names.

use crate::gtin::Gtin;
use crate::scan::Detection;
use crate::{Result, Symbology, gs1};
use blocksmith_store::{Key, PutOptions, Store, StoreExt, block_on, record::Record};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;

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
///
/// Lookups are `async`, as a catalog may live in a store or behind a
/// service; an in-memory one ([`MemoryCatalog`]) completes at once. A
/// synchronous host drives them with [`blocksmith_store::block_on`], or
/// uses [`StoreCatalog::blocking`].
pub trait Catalog: Sync {
    /// The product with this GTIN, if known.
    ///
    /// # Errors
    /// Whatever the catalog's source fails with: [`StoreCatalog`] gives
    /// [`Error::Store`](crate::Error::Store) if its prefix does not make a
    /// valid key, the store fails, or the stored record is not a product
    /// record of this version; [`MemoryCatalog`] never fails.
    fn lookup(&self, gtin: &Gtin) -> impl Future<Output = Result<Option<Product>>> + Send;

    /// Resolves a scanned code to a GTIN and looks it up (`None` if the code
    /// names no GTIN or the catalog does not know it).
    ///
    /// # Errors
    /// As [`Catalog::lookup`].
    fn lookup_detection(
        &self,
        d: &Detection,
    ) -> impl Future<Output = Result<Option<(Gtin, Product)>>> + Send {
        let gtin = gtin_of(d);
        async move {
            match gtin {
                Some(g) => Ok(self.lookup(&g).await?.map(|p| (g, p))),
                None => Ok(None),
            }
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
///
/// Every method is `async`; [`StoreCatalog::blocking`] has the same calls
/// for synchronous hosts.
///
/// ```
/// use blocksmith_codes::catalog::{Catalog, Product, StoreCatalog};
/// use blocksmith_codes::gtin::Gtin;
/// use blocksmith_store::{MemoryStore, block_on};
/// let catalog = StoreCatalog::new(MemoryStore::new(), "catalog");
/// let gtin = Gtin::parse("4006381333931").unwrap();
/// block_on(async {
///     catalog.put(&Product::new(&gtin, "Pen").with_brand("Stabilo")).await?;
///     assert_eq!(catalog.lookup(&gtin).await?.unwrap().name, "Pen");
///     Ok::<_, blocksmith_codes::Error>(())
/// }).unwrap();
/// assert_eq!(catalog.blocking().len().unwrap(), 1);
/// ```
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
    ///
    /// # Errors
    /// [`Error::Gtin`](crate::Error::Gtin) if `product.gtin` is not a valid
    /// GTIN; [`Error::Store`](crate::Error::Store) if the prefix does not make
    /// a valid key or the store fails.
    pub async fn put(&self, product: &Product) -> Result<()> {
        let g = Gtin::parse(&product.gtin)?;
        let mut p = product.clone();
        p.gtin = g.as_gtin14().to_string();
        self.store
            .put_record(&self.key(&g)?, &p, PutOptions::new())
            .await?;
        Ok(())
    }

    /// Changes a product by compare-and-swap: `f` gets the stored product
    /// (`None` if there is none) and returns the new one (`Ok(None)`: leave
    /// it as stored; an error stops the update and is returned). On a concurrent change `f` runs again on the newer
    /// product, so two nodes editing one product never lose an edit (where
    /// [`StoreCatalog::put`] is last-writer-wins). The product keeps the
    /// GTIN it is stored under. Returns the product as stored after.
    ///
    /// ```
    /// use blocksmith_codes::catalog::{Product, StoreCatalog};
    /// use blocksmith_codes::gtin::Gtin;
    /// use blocksmith_store::MemoryStore;
    /// let catalog = StoreCatalog::new(MemoryStore::new(), "catalog");
    /// let gtin = Gtin::parse("4006381333931").unwrap();
    /// catalog.blocking().put(&Product::new(&gtin, "Pen"))?;
    /// let p = catalog.blocking().update(&gtin, |p| {
    ///     Ok(p.map(|p| p.with_attribute("colour", "blue")))
    /// })?;
    /// assert_eq!(p.unwrap().attributes["colour"], "blue");
    /// # Ok::<(), blocksmith_codes::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) if the prefix does not make a
    /// valid key, the store fails, the stored record does not decode, or the
    /// product kept changing under 1000 attempts; what `f` returns.
    pub async fn update<F>(&self, gtin: &Gtin, mut f: F) -> Result<Option<Product>>
    where
        F: FnMut(Option<Product>) -> Result<Option<Product>> + Send,
    {
        let key = self.key(gtin)?;
        let canonical = gtin.as_gtin14().to_string();
        let mut after = None;
        let mut failed = None;
        let r = self
            .store
            .update_record::<Product, _>(&key, |old| {
                after.clone_from(&old);
                let next = match f(old) {
                    Ok(Some(next)) => next,
                    Ok(None) => return Ok(None),
                    Err(e) => {
                        failed = Some(e);
                        return Ok(None);
                    }
                };
                let mut next = next;
                next.gtin.clone_from(&canonical);
                after = Some(next.clone());
                Ok(Some(next))
            })
            .await;
        if let Some(e) = failed {
            return Err(e);
        }
        r?;
        Ok(after)
    }

    /// Removes a product (idempotent).
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) if the prefix does not make a
    /// valid key or the store fails.
    pub async fn remove(&self, gtin: &Gtin) -> Result<()> {
        self.store.delete(&self.key(gtin)?).await?;
        Ok(())
    }

    /// How many products the catalog holds.
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) if the store fails to list.
    pub async fn len(&self) -> Result<usize> {
        Ok(self
            .store
            .list_all(&format!("{}/", self.prefix))
            .await?
            .len())
    }

    /// Whether the catalog is empty.
    ///
    /// # Errors
    /// As [`StoreCatalog::len`].
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }

    /// The same calls as blocking ones, for synchronous hosts, tools and
    /// tests (each drives the async method to completion on the calling
    /// thread: never call it from inside an async runtime's task).
    pub fn blocking(&self) -> BlockingCatalog<'_, S> {
        BlockingCatalog(self)
    }
}

impl<S: Store> Catalog for StoreCatalog<S> {
    async fn lookup(&self, gtin: &Gtin) -> Result<Option<Product>> {
        Ok(self
            .store
            .get_record::<Product>(&self.key(gtin)?)
            .await?
            .map(|(p, _)| p))
    }
}

/// Blocking calls over a [`StoreCatalog`] (see [`StoreCatalog::blocking`]);
/// each method drives the async one with [`blocksmith_store::block_on`].
#[derive(Debug)]
pub struct BlockingCatalog<'a, S>(&'a StoreCatalog<S>);

impl<S: Store> BlockingCatalog<'_, S> {
    /// [`StoreCatalog::update`].
    ///
    /// # Errors
    /// As [`StoreCatalog::update`].
    pub fn update<F>(&self, gtin: &Gtin, f: F) -> Result<Option<Product>>
    where
        F: FnMut(Option<Product>) -> Result<Option<Product>> + Send,
    {
        blocksmith_store::block_on(self.0.update(gtin, f))
    }
    /// [`StoreCatalog::put`].
    ///
    /// # Errors
    /// As [`StoreCatalog::put`].
    pub fn put(&self, product: &Product) -> Result<()> {
        block_on(self.0.put(product))
    }
    /// [`StoreCatalog::remove`].
    ///
    /// # Errors
    /// As [`StoreCatalog::remove`].
    pub fn remove(&self, gtin: &Gtin) -> Result<()> {
        block_on(self.0.remove(gtin))
    }
    /// [`StoreCatalog::len`].
    ///
    /// # Errors
    /// As [`StoreCatalog::len`].
    pub fn len(&self) -> Result<usize> {
        block_on(self.0.len())
    }
    /// [`StoreCatalog::is_empty`].
    ///
    /// # Errors
    /// As [`StoreCatalog::len`].
    pub fn is_empty(&self) -> Result<bool> {
        block_on(self.0.is_empty())
    }
    /// [`Catalog::lookup`].
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) if the prefix does not make a
    /// valid key, the store fails, or the stored record is not a product
    /// record of this version.
    pub fn lookup(&self, gtin: &Gtin) -> Result<Option<Product>> {
        block_on(self.0.lookup(gtin))
    }
    /// [`Catalog::lookup_detection`].
    ///
    /// # Errors
    /// As [`BlockingCatalog::lookup`].
    pub fn lookup_detection(&self, d: &Detection) -> Result<Option<(Gtin, Product)>> {
        block_on(self.0.lookup_detection(d))
    }
}

/// An in-memory catalog, for tests and small fixed lists.
#[derive(Debug, Clone, Default)]
pub struct MemoryCatalog(pub BTreeMap<Gtin, Product>);

impl Catalog for MemoryCatalog {
    async fn lookup(&self, gtin: &Gtin) -> Result<Option<Product>> {
        Ok(self.0.get(gtin).cloned())
    }
}
