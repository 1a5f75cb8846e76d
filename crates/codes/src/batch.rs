//! Bulk generation for campaigns: many codes from one template, rendered in
//! parallel, deterministic (the same data and options give the same bytes,
//! so a cache key of both identifies a render), every output verified by
//! decoding, with a manifest.

use crate::render::{self, RenderOptions};
use crate::{EncodeOptions, Error, Result, encode, verify_image};
use blocksmith_store::{Key, PutOptions, Store, StoreExt, record::Record};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Format {
    /// SVG document.
    Svg,
    /// PNG image.
    Png,
}

impl Format {
    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Png => "png",
        }
    }
}

/// A campaign: a data template and how to render each code.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Template {
    /// The payload with `{id}` standing for each code's id,
    /// e.g. `https://example.com/c/{id}`.
    pub data: String,
    /// How to encode.
    pub encode: EncodeOptions,
    /// How to render.
    pub render: RenderOptions,
    /// Output format.
    pub format: Format,
    /// Decode every output back (on by default).
    pub verify: bool,
    /// Worker threads (0: available parallelism).
    pub threads: usize,
}

impl Template {
    /// A template for `data` (containing `{id}`), QR, PNG, verified.
    pub fn new(data: impl Into<String>) -> Self {
        Self {
            data: data.into(),
            encode: EncodeOptions::default(),
            render: RenderOptions::default(),
            format: Format::Png,
            verify: true,
            threads: 0,
        }
    }
    /// Sets the encode options.
    #[must_use]
    pub fn with_encode(mut self, e: EncodeOptions) -> Self {
        self.encode = e;
        self
    }
    /// Sets the render options.
    #[must_use]
    pub fn with_render(mut self, r: RenderOptions) -> Self {
        self.render = r;
        self
    }
    /// Sets the output format.
    #[must_use]
    pub fn with_format(mut self, f: Format) -> Self {
        self.format = f;
        self
    }
    /// Enables or disables verification.
    #[must_use]
    pub fn with_verify(mut self, on: bool) -> Self {
        self.verify = on;
        self
    }
    /// Sets the number of worker threads.
    #[must_use]
    pub fn with_threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// The payload for `id`.
    pub fn data_for(&self, id: &str) -> String {
        self.data.replace("{id}", id)
    }
}

/// The cache key of one render: SHA-256 over the payload and every option
/// that changes the output bytes, hex, 32 characters.
pub fn cache_key(
    data: &str,
    encode: &EncodeOptions,
    render: &RenderOptions,
    format: Format,
) -> String {
    let mut h = Sha256::new();
    h.update(b"blocksmith-codes/render/v1\0");
    h.update((data.len() as u64).to_le_bytes());
    h.update(data.as_bytes());
    h.update(serde_json::to_vec(encode).unwrap_or_default());
    h.update(
        format!(
            "|{}|{:?}|{:?}|{:?}|{}|{}|{}|{:?}",
            render.scale,
            render.quiet_zone,
            render.fg,
            render.bg,
            render.bar_height,
            render.allow_inverted,
            format.extension(),
            render.logo.as_ref().map(|l| l.ratio)
        )
        .as_bytes(),
    );
    if let Some(logo) = &render.logo {
        h.update(logo.image.dimensions().0.to_le_bytes());
        h.update(logo.image.as_raw());
    }
    let d = h.finalize();
    hex(&d[..16])
}

/// One rendered code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The code's id.
    pub id: String,
    /// Its payload.
    pub data: String,
    /// Its cache key.
    pub cache_key: String,
    /// The file bytes.
    pub bytes: Vec<u8>,
    /// It decoded back to `data`.
    pub verified: bool,
}

/// A manifest line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The code's id.
    pub id: String,
    /// Its payload.
    pub data: String,
    /// Its cache key.
    pub cache_key: String,
    /// The file name (`<id>.<ext>`).
    pub file: String,
    /// File size.
    pub size: usize,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Decoded back to `data`.
    pub verified: bool,
    /// Served from the store without rendering.
    pub cached: bool,
}

/// The manifest of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// The template's payload.
    pub template: String,
    /// Symbology name.
    pub symbology: String,
    /// Output format extension.
    pub format: String,
    /// One entry per id, in input order.
    pub entries: Vec<Entry>,
}

impl Record for Manifest {
    const KIND: &'static str = "codes.manifest";
    const VERSION: u32 = 1;
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter()
        .fold(String::with_capacity(b.len() * 2), |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        })
}

fn sha_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

/// Renders and (optionally) verifies one code.
fn render_one(t: &Template, id: &str) -> Result<Item> {
    let data = t.data_for(id);
    let symbol = encode(&data, &t.encode)?;
    let (bytes, img) = match t.format {
        Format::Png => {
            let img = render::to_image(&symbol, &t.render)?;
            (render::png_bytes(&img)?, img)
        }
        Format::Svg => {
            let svg = render::to_svg(&symbol, &t.render)?;
            // The SVG draws the same modules the raster does; verify the raster.
            let img = if t.verify {
                render::to_image(&symbol, &t.render)?
            } else {
                image::RgbImage::new(1, 1)
            };
            (svg.into_bytes(), img)
        }
    };
    if t.verify {
        verify_image(&symbol, &image::DynamicImage::ImageRgb8(img))?;
    }
    Ok(Item {
        cache_key: cache_key(&data, &t.encode, &t.render, t.format),
        id: id.to_string(),
        data,
        bytes,
        verified: t.verify,
    })
}

fn check_ids(ids: &[String]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        if id.is_empty()
            || id.len() > 128
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            || id.starts_with('.')
        {
            return Err(Error::InvalidOption(format!(
                "id {id:?}: 1-128 of A-Z a-z 0-9 - _ . (not leading .)"
            )));
        }
        if !seen.insert(id) {
            return Err(Error::InvalidOption(format!("duplicate id {id:?}")));
        }
    }
    Ok(())
}

/// Renders every id in parallel. Output order is input order whatever the
/// thread count; the first failure (an id that does not encode, a render
/// that does not verify) fails the batch.
///
/// # Errors
/// - [`Error::InvalidOption`] if an id is empty, longer than 128 bytes, has a
///   character other than `A-Z a-z 0-9 - _ .`, starts with `.`, or repeats;
/// - as [`encode`](crate::encode()) if a payload does not encode, and as
///   [`render::to_image`] if the template's render
///   options do not fit a symbol;
/// - [`Error::Verify`] if a render does not decode back (with `verify` on) or
///   a render thread panicked.
pub fn render_batch(t: &Template, ids: &[String]) -> Result<(Vec<Item>, Manifest)> {
    check_ids(ids)?;
    let threads = if t.threads == 0 {
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    } else {
        t.threads
    }
    .clamp(1, 64)
    .min(ids.len().max(1));
    let chunk = ids.len().div_ceil(threads).max(1);
    let results: Vec<Result<Vec<Item>>> = std::thread::scope(|s| {
        let handles: Vec<_> = ids
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(|id| render_one(t, id)).collect()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Verify("a render worker panicked".into())))
            })
            .collect()
    });
    let mut items = Vec::with_capacity(ids.len());
    for r in results {
        items.extend(r?);
    }
    let manifest = manifest_for(t, &items, &vec![false; items.len()]);
    Ok((items, manifest))
}

fn manifest_for(t: &Template, items: &[Item], cached: &[bool]) -> Manifest {
    Manifest {
        template: t.data.clone(),
        symbology: t.encode.symbology.name().to_string(),
        format: t.format.extension().to_string(),
        entries: items
            .iter()
            .zip(cached)
            .map(|(i, &c)| Entry {
                id: i.id.clone(),
                data: i.data.clone(),
                cache_key: i.cache_key.clone(),
                file: format!("{}.{}", i.id, t.format.extension()),
                size: i.bytes.len(),
                sha256: sha_hex(&i.bytes),
                verified: i.verified,
                cached: c,
            })
            .collect(),
    }
}

/// Writes a batch into `dir` (`<id>.<ext>` files and `manifest.json`).
///
/// # Errors
/// [`Error::Io`] if the directory cannot be created or a file written.
pub fn write_dir(dir: &std::path::Path, items: &[Item], manifest: &Manifest) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for i in items {
        std::fs::write(dir.join(format!("{}.{}", i.id, manifest.format)), &i.bytes)?;
    }
    let json =
        serde_json::to_vec_pretty(manifest).map_err(|e| Error::InvalidOption(e.to_string()))?;
    std::fs::write(dir.join("manifest.json"), json)?;
    Ok(())
}

/// Whether `bytes` is a whole file of `format`. A render cut short (a put
/// interrupted on a store without atomic puts) is not: the cache renders it
/// again rather than serve it.
fn is_whole(format: Format, bytes: &[u8]) -> bool {
    const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    // The empty IEND chunk that ends every PNG: length, type, CRC.
    const PNG_END: &[u8] = b"\0\0\0\0IEND\xae\x42\x60\x82";
    match format {
        Format::Png => bytes.starts_with(PNG_SIGNATURE) && bytes.ends_with(PNG_END),
        Format::Svg => bytes.starts_with(b"<svg") && bytes.trim_ascii_end().ends_with(b"</svg>"),
    }
}

/// A batch persisted through a store, renders cached by their cache key:
/// `<prefix>/renders/<cache key>` holds the bytes, `<prefix>/campaigns/<name>`
/// the manifest. A render already in the store is not redone, unless it is
/// not a whole file.
#[derive(Debug)]
pub struct RenderCache<S> {
    store: S,
    prefix: String,
}

impl<S: Store> RenderCache<S> {
    /// A cache under `prefix` (e.g. `codes`).
    pub fn new(store: S, prefix: impl Into<String>) -> Self {
        Self {
            store,
            prefix: prefix.into().trim_end_matches('/').to_string(),
        }
    }

    fn key(&self, kind: &str, name: &str) -> Result<Key> {
        Ok(Key::new(format!("{}/{kind}/{name}", self.prefix))?)
    }

    /// Renders the ids not already cached, stores them, stores the manifest
    /// under `campaign` and returns it.
    ///
    /// Rendering is CPU work: between its store calls the future renders
    /// the missing codes with [`render_batch`] (in parallel, the polling
    /// thread waiting for the batch), so an async host renders a campaign
    /// on its blocking pool (Tokio's `spawn_blocking`) or a thread of its
    /// own, not on a task that serves requests.
    ///
    /// # Errors
    /// As [`render_batch`] for the ids and the renders; [`Error::Store`] if
    /// `campaign`, the prefix or a cache key does not make a valid key or the
    /// store fails. Renders stored before a failure stay cached.
    pub async fn render_campaign(
        &self,
        campaign: &str,
        t: &Template,
        ids: &[String],
    ) -> Result<Manifest> {
        check_ids(ids)?;
        let s = &self.store;
        let mut missing = Vec::new();
        let mut damaged = std::collections::HashSet::new();
        let mut cached_items = Vec::new();
        for id in ids {
            let key = cache_key(&t.data_for(id), &t.encode, &t.render, t.format);
            match s.get_opt(&self.key("renders", &key)?).await? {
                Some(r) if is_whole(t.format, &r.data) => cached_items.push(Item {
                    id: id.clone(),
                    data: t.data_for(id),
                    cache_key: key,
                    bytes: r.data.to_vec(),
                    verified: t.verify,
                }),
                Some(_) => {
                    damaged.insert(id.clone());
                    missing.push(id.clone());
                }
                None => missing.push(id.clone()),
            }
        }
        let (fresh, _) = render_batch(t, &missing)?;
        for item in &fresh {
            let key = self.key("renders", &item.cache_key)?;
            // A damaged render is replaced (renders are deterministic, so a
            // concurrent writer puts the same bytes); a new one is created.
            let mode = if damaged.contains(&item.id) {
                PutOptions::new()
            } else {
                PutOptions::create()
            };
            match s.put_opts(&key, item.bytes.clone(), mode).await {
                Ok(_) | Err(blocksmith_store::Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        // Back to input order.
        let mut all: Vec<(Item, bool)> = fresh
            .into_iter()
            .map(|i| (i, false))
            .chain(cached_items.into_iter().map(|i| (i, true)))
            .collect();
        let order: std::collections::HashMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        all.sort_by_key(|(i, _)| order[i.id.as_str()]);
        let (items, cached): (Vec<Item>, Vec<bool>) = all.into_iter().unzip();
        let manifest = manifest_for(t, &items, &cached);
        s.put_record(
            &self.key("campaigns", campaign)?,
            &manifest,
            PutOptions::new(),
        )
        .await?;
        Ok(manifest)
    }

    /// The stored manifest of `campaign`.
    ///
    /// # Errors
    /// [`Error::Store`] if `campaign` or the prefix does not make a valid key,
    /// the store fails, or the stored record is not a manifest of this version.
    pub async fn manifest(&self, campaign: &str) -> Result<Option<Manifest>> {
        Ok(self
            .store
            .get_record::<Manifest>(&self.key("campaigns", campaign)?)
            .await?
            .map(|(m, _)| m))
    }

    /// The stored bytes of a render.
    ///
    /// # Errors
    /// [`Error::Store`] if `cache_key` or the prefix does not make a valid key or
    /// the store fails.
    pub async fn get(&self, cache_key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .store
            .get_opt(&self.key("renders", cache_key)?)
            .await?
            .map(|r| r.data.to_vec()))
    }

    /// The same calls as blocking ones, for synchronous hosts, tools and
    /// tests (each drives the async method to completion on the calling
    /// thread: never call it from inside an async runtime's task).
    pub fn blocking(&self) -> BlockingRenderCache<'_, S> {
        BlockingRenderCache(self)
    }
}

/// Blocking calls over a [`RenderCache`] (see [`RenderCache::blocking`]);
/// each method drives the async one with [`blocksmith_store::block_on`].
#[derive(Debug)]
pub struct BlockingRenderCache<'a, S>(&'a RenderCache<S>);

impl<S: Store> BlockingRenderCache<'_, S> {
    /// [`RenderCache::render_campaign`].
    ///
    /// # Errors
    /// As [`RenderCache::render_campaign`].
    pub fn render_campaign(
        &self,
        campaign: &str,
        t: &Template,
        ids: &[String],
    ) -> Result<Manifest> {
        blocksmith_store::block_on(self.0.render_campaign(campaign, t, ids))
    }
    /// [`RenderCache::manifest`].
    ///
    /// # Errors
    /// As [`RenderCache::manifest`].
    pub fn manifest(&self, campaign: &str) -> Result<Option<Manifest>> {
        blocksmith_store::block_on(self.0.manifest(campaign))
    }
    /// [`RenderCache::get`].
    ///
    /// # Errors
    /// As [`RenderCache::get`].
    pub fn get(&self, cache_key: &str) -> Result<Option<Vec<u8>>> {
        blocksmith_store::block_on(self.0.get(cache_key))
    }
}
