use blocksmith_codes::batch::{self, Format, RenderCache, Template};
use blocksmith_codes::{EncodeOptions, Error, RenderOptions, Symbology, scan};
use blocksmith_store::MemoryStore;

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("c{i:04}")).collect()
}

#[test]
fn batch_is_parallel_deterministic_and_verified() {
    let t = Template::new("https://example.com/c/{id}")
        .with_render(RenderOptions::new().with_scale(3))
        .with_threads(3);
    let (items, manifest) = batch::render_batch(&t, &ids(24)).unwrap();
    assert_eq!(items.len(), 24);
    assert!(items.iter().all(|i| i.verified));
    assert_eq!(manifest.entries[5].id, "c0005");
    assert_eq!(manifest.entries[5].data, "https://example.com/c/c0005");
    assert_eq!(manifest.entries[5].file, "c0005.png");
    // Same bytes with one thread; cache keys identify renders.
    let (single, m1) = batch::render_batch(&t.clone().with_threads(1), &ids(24)).unwrap();
    assert_eq!(single, items);
    assert_eq!(m1, manifest);
    let keys: std::collections::HashSet<_> = items.iter().map(|i| &i.cache_key).collect();
    assert_eq!(keys.len(), 24);
    let other = batch::cache_key(
        &items[0].data,
        &EncodeOptions::default(),
        &RenderOptions::new().with_scale(4),
        Format::Png,
    );
    assert_ne!(other, items[0].cache_key);
    // Each PNG decodes to its own data.
    let r = scan::scan_bytes(&items[7].bytes, &super::opts()).unwrap();
    assert_eq!(r.codes[0].text, items[7].data);
    // SVG output and a linear template.
    let t2 = Template::new("{id}")
        .with_encode(EncodeOptions::new(Symbology::Code128))
        .with_format(Format::Svg);
    let (svgs, m2) = batch::render_batch(&t2, &ids(3)).unwrap();
    assert!(
        std::str::from_utf8(&svgs[0].bytes)
            .unwrap()
            .starts_with("<svg")
    );
    assert_eq!(m2.format, "svg");
    let dir = tempfile::tempdir().unwrap();
    batch::write_dir(dir.path(), &svgs, &m2).unwrap();
    assert!(dir.path().join("c0002.svg").exists());
    assert!(dir.path().join("manifest.json").exists());
}

#[test]
fn batch_rejects_bad_ids_and_unencodable_data() {
    let t = Template::new("{id}").with_encode(EncodeOptions::new(Symbology::Ean13));
    assert!(matches!(
        batch::render_batch(&t, &["123".into()]),
        Err(Error::Encode { .. })
    ));
    let q = Template::new("x/{id}");
    assert!(matches!(
        batch::render_batch(&q, &["../x".into()]),
        Err(Error::InvalidOption(_))
    ));
    assert!(matches!(
        batch::render_batch(&q, &["a".into(), "a".into()]),
        Err(Error::InvalidOption(_))
    ));
}

#[test]
fn render_cache_skips_known_renders() {
    let store = MemoryStore::new();
    let cache = RenderCache::new(&store, "codes");
    let t =
        Template::new("https://example.com/s/{id}").with_render(RenderOptions::new().with_scale(2));
    let m = cache
        .blocking()
        .render_campaign("spring", &t, &ids(5))
        .unwrap();
    assert!(m.entries.iter().all(|e| !e.cached));
    let more = ids(8);
    let m2 = cache
        .blocking()
        .render_campaign("spring2", &t, &more)
        .unwrap();
    assert_eq!(m2.entries.iter().filter(|e| e.cached).count(), 5);
    assert_eq!(
        m2.entries.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        more
    );
    assert_eq!(m2.entries[0].sha256, m.entries[0].sha256);
    assert_eq!(cache.blocking().manifest("spring").unwrap().unwrap(), m);
    assert!(cache.blocking().manifest("none").unwrap().is_none());
    let bytes = cache
        .blocking()
        .get(&m.entries[1].cache_key)
        .unwrap()
        .unwrap();
    assert_eq!(
        scan::scan_bytes(&bytes, &super::opts()).unwrap().codes[0].text,
        m.entries[1].data
    );
}

#[test]
fn a_cached_render_cut_short_is_rendered_again() {
    use blocksmith_store::{Key, StoreExt};
    let store = MemoryStore::new();
    let cache = RenderCache::new(&store, "codes");
    for t in [
        Template::new("https://example.com/s/{id}").with_render(RenderOptions::new().with_scale(2)),
        Template::new("{id}")
            .with_encode(EncodeOptions::new(Symbology::Code128))
            .with_format(Format::Svg),
    ] {
        let m = cache
            .blocking()
            .render_campaign("first", &t, &ids(2))
            .unwrap();
        let e = &m.entries[0];
        let whole = cache.blocking().get(&e.cache_key).unwrap().unwrap();
        // What a put cut off halfway leaves on a store without atomic puts.
        let key = Key::new(format!("codes/renders/{}", e.cache_key)).unwrap();
        store
            .blocking()
            .put(&key, whole[..whole.len() / 2].to_vec())
            .unwrap();
        let again = cache
            .blocking()
            .render_campaign("second", &t, &ids(2))
            .unwrap();
        assert!(!again.entries[0].cached, "the damaged render is not served");
        assert!(again.entries[1].cached);
        assert_eq!(again.entries[0].sha256, e.sha256);
        assert_eq!(
            cache.blocking().get(&e.cache_key).unwrap().unwrap(),
            whole,
            "replaced"
        );
    }
}
