//! The render cache's and the catalog's crash promise, checked with the
//! store's fault injector: campaigns rendered into a `RenderCache` (one
//! sharing renders with another, one rendered again from the cache, one
//! SVG), products put, updated and removed in a `StoreCatalog`, and a crash
//! (or a lost acknowledgement) hits every store operation in turn; torn puts
//! hit the render blobs, which are created once under their cache key.
//! Restarted from the store alone, every acknowledged manifest and product
//! reads back as acknowledged (or as the write in flight left it), every
//! render an acknowledged manifest lists is there with its checksum, and
//! rendering every campaign again gives the bytes an uninterrupted run
//! gives.

use blocksmith_codes::batch::{Format, Manifest, RenderCache, Template};
use blocksmith_codes::catalog::{Product, StoreCatalog};
use blocksmith_codes::gtin::Gtin;
use blocksmith_codes::{EncodeOptions, RenderOptions, Symbology};
use blocksmith_store::testing::{CrashPoint, CrashTest};
use blocksmith_store::{MemoryStore, Store};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

const CACHE: &str = "codes";
const CATALOG: &str = "catalog";

fn qr() -> Template {
    Template::new("https://example.com/c/{id}")
        .with_render(RenderOptions::new().with_scale(2))
        .with_verify(false)
        .with_threads(1)
}

fn labels() -> Template {
    Template::new("LBL-{id}")
        .with_encode(EncodeOptions::new(Symbology::Code128))
        .with_format(Format::Svg)
        .with_verify(false)
        .with_threads(1)
}

fn ids(from: usize, to: usize) -> Vec<String> {
    (from..to).map(|i| format!("c{i:03}")).collect()
}

fn gtin(s: &str) -> Gtin {
    Gtin::parse(s).unwrap()
}

/// One step of the workload.
#[derive(Clone)]
enum Step {
    Render(&'static str, fn() -> Template, usize, usize),
    Put(Product),
    Remove(&'static str),
}

fn steps() -> Vec<Step> {
    let pen = gtin("4006381333931");
    let tissues = gtin("036000291452");
    vec![
        Step::Put(Product::new(&pen, "Highlighter").with_brand("Stabilo")),
        Step::Render("spring", qr, 0, 3),
        Step::Put(Product::new(&tissues, "Tissues").with_attribute("size", "M")),
        // Shares two renders with "spring".
        Step::Render("summer", qr, 1, 4),
        Step::Remove("4006381333931"),
        Step::Put(Product::new(&tissues, "Tissues").with_attribute("size", "L")),
        // Every render cached: the manifest is rewritten.
        Step::Render("spring", qr, 0, 3),
        Step::Render("labels", labels, 0, 2),
    ]
}

const GTINS: [&str; 2] = ["4006381333931", "036000291452"];

/// What the caller saw acknowledged.
#[derive(Debug, Default)]
struct Seen {
    /// The last manifest each campaign's render returned.
    manifests: BTreeMap<&'static str, Manifest>,
    /// Each product as last acknowledged (None: removed).
    products: BTreeMap<String, Option<Product>>,
    /// The step in flight when the crash hit.
    inflight: Option<usize>,
}

fn gtin14(s: &str) -> String {
    gtin(s).as_gtin14().to_string()
}

fn workload<S: Store>(store: &S) -> Seen {
    let cache = RenderCache::new(store, CACHE);
    let catalog = StoreCatalog::new(store, CATALOG);
    let mut seen = Seen::default();
    for (i, step) in steps().into_iter().enumerate() {
        seen.inflight = Some(i);
        match step {
            Step::Render(campaign, t, a, b) => {
                let Ok(m) = cache.blocking().render_campaign(campaign, &t(), &ids(a, b)) else {
                    return seen;
                };
                seen.manifests.insert(campaign, m);
            }
            Step::Put(p) => {
                if catalog.blocking().put(&p).is_err() {
                    return seen;
                }
                seen.products.insert(p.gtin.clone(), Some(p));
            }
            Step::Remove(g) => {
                if catalog.blocking().remove(&gtin(g)).is_err() {
                    return seen;
                }
                seen.products.insert(gtin14(g), None);
            }
        }
    }
    seen.inflight = None;
    seen
}

/// An uninterrupted run: the manifest each render step returns.
fn reference() -> &'static BTreeMap<usize, Manifest> {
    static REF: OnceLock<BTreeMap<usize, Manifest>> = OnceLock::new();
    REF.get_or_init(|| {
        let store = MemoryStore::new();
        let cache = RenderCache::new(&store, CACHE);
        steps()
            .into_iter()
            .enumerate()
            .filter_map(|(i, step)| match step {
                Step::Render(campaign, t, a, b) => Some((
                    i,
                    cache
                        .blocking()
                        .render_campaign(campaign, &t(), &ids(a, b))
                        .unwrap(),
                )),
                _ => None,
            })
            .collect()
    })
}

fn sha_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// The files of a manifest, by id: (size, checksum).
fn files(m: &Manifest) -> Vec<(String, usize, String)> {
    m.entries
        .iter()
        .map(|e| (e.id.clone(), e.size, e.sha256.clone()))
        .collect()
}

#[allow(clippy::needless_pass_by_value)] // the shape CrashTest::run hands over
fn check(inner: MemoryStore, seen: Seen, point: &CrashPoint) {
    let steps = steps();
    let inflight = seen.inflight.map(|i| &steps[i]);
    let cache = RenderCache::new(&inner, CACHE);
    let catalog = StoreCatalog::new(&inner, CATALOG);

    // Manifests: the last acknowledged one, or the one in flight.
    for campaign in ["spring", "summer", "labels"] {
        let stored = cache
            .blocking()
            .manifest(campaign)
            .unwrap_or_else(|e| panic!("{point}: manifest {campaign}: {e}"));
        let in_flight = match (seen.inflight, inflight) {
            (Some(i), Some(Step::Render(c, ..))) if *c == campaign => Some(&reference()[&i]),
            _ => None,
        };
        let acked = seen.manifests.get(campaign);
        let ok = stored.as_ref() == acked || (stored.is_some() && stored.as_ref() == in_flight);
        assert!(
            ok,
            "{point}: manifest {campaign}: {stored:?}, acknowledged {acked:?}"
        );
        // Every render a stored manifest lists is there, whole.
        for e in stored.iter().flat_map(|m| &m.entries) {
            let bytes = cache
                .blocking()
                .get(&e.cache_key)
                .unwrap_or_else(|err| panic!("{point}: render {}: {err}", e.id))
                .unwrap_or_else(|| panic!("{point}: {campaign}: render of {} lost", e.id));
            assert_eq!(
                (bytes.len(), sha_hex(&bytes)),
                (e.size, e.sha256.clone()),
                "{point}: {campaign}: render of {}",
                e.id
            );
        }
    }

    // Products: as last acknowledged, or as the write in flight left them.
    for g in GTINS {
        let key = gtin14(g);
        let got = catalog
            .blocking()
            .lookup(&gtin(g))
            .unwrap_or_else(|e| panic!("{point}: lookup {g}: {e}"));
        let acked = seen.products.get(&key).cloned().flatten();
        let flight = match inflight {
            Some(Step::Put(p)) if p.gtin == key => Some(Some(p.clone())),
            Some(Step::Remove(r)) if gtin14(r) == key => Some(None),
            _ => None,
        };
        assert!(
            got == acked || flight.as_ref() == Some(&got),
            "{point}: product {g}: {got:?}, acknowledged {acked:?}"
        );
    }
    let present = GTINS
        .iter()
        .filter(|g| catalog.blocking().lookup(&gtin(g)).unwrap().is_some())
        .count();
    assert_eq!(
        catalog.blocking().len().unwrap(),
        present,
        "{point}: catalog size"
    );

    // The engine carries on: rendering every campaign again (from what the
    // cache kept) gives exactly the files of an uninterrupted run, and the
    // catalog takes a new product.
    for (i, step) in steps.iter().enumerate() {
        if let Step::Render(campaign, t, a, b) = step {
            let m = cache
                .blocking()
                .render_campaign(campaign, &t(), &ids(*a, *b))
                .unwrap_or_else(|e| panic!("{point}: render {campaign} after restart: {e}"));
            assert_eq!(
                files(&m),
                files(&reference()[&i]),
                "{point}: {campaign} after restart"
            );
            assert_eq!(
                cache.blocking().manifest(campaign).unwrap().as_ref(),
                Some(&m)
            );
        }
    }
    let new = Product::new(&gtin("96385074"), "Stapler");
    catalog
        .blocking()
        .put(&new)
        .unwrap_or_else(|e| panic!("{point}: put after restart: {e}"));
    assert_eq!(
        catalog.blocking().lookup(&gtin("96385074")).unwrap(),
        Some(new)
    );
}

#[test]
fn the_uninterrupted_workload_acknowledges_everything() {
    let store = MemoryStore::new();
    let seen = workload(&store);
    assert_eq!(seen.inflight, None);
    assert_eq!(seen.manifests.len(), 3);
    let spring = &seen.manifests["spring"];
    assert!(
        spring.entries.iter().all(|e| e.cached),
        "rendered again from the cache"
    );
    assert_eq!(
        seen.manifests["summer"]
            .entries
            .iter()
            .filter(|e| e.cached)
            .count(),
        2
    );
    assert_eq!(seen.products[&gtin14(GTINS[0])], None);
}

#[test]
fn the_render_cache_and_catalog_survive_a_crash_at_every_store_operation() {
    let report = CrashTest::new()
        .with_tear_prefix(format!("{CACHE}/renders/"))
        .run(MemoryStore::new, workload, check);
    // Per render a read of each id's render, a write of each new one and of
    // the manifest; one write per catalog change.
    assert_eq!(report.operations, 25, "{report:?}");
}
