//! A resumable upload that survives a crash: a client sends a 3 MiB video
//! in 256 KiB parts with CRC-32C, is killed after five parts, and a new
//! process (a new engine over the same store) asks what is missing, sends
//! only that, finalizes and checks the published bytes. Then an edited copy
//! goes up through content-defined chunking and sends only what changed.
//!
//! ```text
//! cargo run --example upload_resume
//! ```

use blocksmith::store::{Key, RedbStore, Store, StoreExt, block_on};
use blocksmith::upload::cdc::CdcOptions;
use blocksmith::upload::client::Uploader;
use blocksmith::upload::dedup::{DedupStore, Plan};
use blocksmith::upload::{Algorithm, CreateOptions, UploadOptions, Uploads};
use bytes::Bytes;
use std::error::Error;

const SIZE: usize = 3 << 20;
const PART: u64 = 256 << 10;

/// A deterministic "video": an MP4 `ftyp` box, then noise.
fn video() -> Bytes {
    let mut v = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2".to_vec();
    let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
    while v.len() < SIZE {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v.push((s >> 24) as u8);
    }
    v.into()
}

/// Runs the demo on `store` and returns a one-line summary.
pub(crate) fn demo<S: Store>(store: S) -> Result<String, Box<dyn Error>> {
    block_on(async {
        let options = UploadOptions::default()
            .with_part_size(PART, 64 << 20)
            .with_allowed_types(["video/*", "image/*"])
            .with_digest(Algorithm::Sha256); // the expected SHA-256 is reused, not recomputed
        let file = video();
        let create = CreateOptions::default()
            .with_id("clip-2026-11-27")
            .with_target("media/clip.mp4")
            .with_expected(Algorithm::Sha256.digest(&file));
        let uploader = Uploader::default().with_part_size(PART);

        // First process: killed after five parts (the callback says stop).
        {
            let first = Uploads::with_options(&store, options.clone());
            uploader
                .upload_with(&first, file.clone(), create.clone(), |p| p.parts_sent < 5)
                .await?;
        } // the engine is gone; only the store remembers

        // Second process: same session id, asks what is missing, sends the rest.
        let second = Uploads::with_options(&store, options);
        let status = second.status("clip-2026-11-27").await?;
        let missing = status.missing.len();
        let out = uploader.upload(&second, file.clone(), create).await?;
        let published = out.published.ok_or("not published")?;
        let stored = store
            .get_opt(&Key::new(published.key.as_str())?)
            .await?
            .ok_or("missing object")?;
        if stored.data != file {
            return Err("published bytes differ from the source".into());
        }

        // An edited copy through content-defined chunking: only changed chunks travel.
        let dedup = DedupStore::new(&store);
        let config = CdcOptions::new(16 << 10, 64 << 10, 256 << 10)?;
        dedup
            .upload("clip-v1", &file, &Plan::new(&file, config)?)
            .await?;
        let mut edited = file.to_vec();
        edited.splice(
            1_000_000..1_000_000,
            b"<an inserted subtitle track>".iter().copied(),
        );
        let report = dedup
            .upload("clip-v2", &edited, &Plan::new(&edited, config)?)
            .await?;
        if dedup.read("clip-v2").await? != edited {
            return Err("dedup read-back differs".into());
        }
        Ok(format!(
            "upload  {SIZE}-byte {} in {} KiB parts: killed after 5 parts, resumed={} with {} bytes already stored \
             ({missing} missing range), sent {} more in {} parts, published {} (sha256 {}..) and verified; \
             edited copy via FastCDC sent {} of {} bytes ({} of {} chunks)",
            published.content_type,
            PART >> 10,
            out.resumed,
            out.already_received,
            out.bytes_sent,
            out.parts_sent,
            published.key,
            published.checksum.hex().get(..12).unwrap_or_default(),
            report.bytes_sent,
            edited.len(),
            report.chunks_sent,
            report.chunks,
        ))
    })
}

#[allow(dead_code)] // also compiled into the tour, which has its own main
fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/upload_resume");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = RedbStore::open(dir.join("upload.redb"))?;
    println!("{}", demo(&store)?);
    Ok(())
}
