//! Pipelines across crates, on one store (a `DirStore`, as a server would
//! keep uploads):
//!
//! - a phone photo (JPEG with EXIF: a GPS-like description) of a QR code
//!   is uploaded with metadata stripping, the code is scanned from the
//!   published object and resolved through the product catalog;
//! - a photographed text page goes the same way into the OCR job queue;
//! - a blob is sealed in a vault envelope under a data key kept as a vault
//!   item, uploaded in parts, downloaded and opened; a tampered or moved
//!   copy does not open.

use blocksmith::codes::catalog::{Catalog, Product, StoreCatalog, gtin_of};
use blocksmith::codes::gtin::Gtin;
use blocksmith::codes::scan::{ScanOptions, scan_bytes};
use blocksmith::codes::{EncodeOptions, Symbology, encode};
use blocksmith::store::{DirStore, Key, PutOptions, Store, StoreExt, block_on};
use blocksmith::upload::{Algorithm, CreateOptions, Published, UploadOptions, Uploads};
use bytes::Bytes;
use image::{GrayImage, ImageEncoder, Luma, Rgb, RgbImage};
use std::sync::Arc;

type Outcome<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What the EXIF block says; it must not reach the published object.
const SECRET: &str = "GPS 48.85837N 2.29448E home";

/// A baseline JPEG of `img` with an APP1 EXIF segment (one ImageDescription
/// tag holding [`SECRET`]) and a COM segment, as cameras write them.
fn photo_jpeg(img: &RgbImage) -> Vec<u8> {
    let mut plain = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 92)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .expect("encode jpeg");
    assert_eq!(&plain[..2], b"\xff\xd8");
    // TIFF header, one IFD entry (0x010e ImageDescription, ASCII), no next IFD.
    let text = format!("{SECRET}\0");
    let mut tiff = b"II*\0\x08\0\0\0\x01\0\x0e\x01\x02\0".to_vec();
    tiff.extend_from_slice(&(text.len() as u32).to_le_bytes());
    tiff.extend_from_slice(&26u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(text.as_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let comment = format!("taken at {SECRET}");
    let mut out = plain[..2].to_vec();
    for (marker, body) in [(0xe1u8, app1), (0xfe, comment.into_bytes())] {
        out.extend_from_slice(&[0xff, marker]);
        out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&body);
    }
    out.extend_from_slice(&plain[2..]);
    out
}

/// Uploads `file` in two parts, stripping metadata, and returns the
/// published object and its bytes as stored.
async fn upload_photo<S: Store>(
    uploads: &Uploads<S>,
    id: &str,
    file: &[u8],
) -> Outcome<(Published, Bytes)> {
    let file = Bytes::copy_from_slice(file);
    let opened = uploads
        .create(
            CreateOptions::new(file.len() as u64)
                .with_id(id)
                .with_target(format!("photos/{id}.jpg"))
                .with_strip_metadata(true),
        )
        .await?;
    let half = file.len() / 2;
    uploads
        .put_part(&opened.session.id, 0, file.slice(..half), None)
        .await?;
    uploads
        .put_part(&opened.session.id, half as u64, file.slice(half..), None)
        .await?;
    let published = uploads.finalize(id).await?;
    let stored = uploads
        .store()
        .get_opt(&Key::new(published.key.as_str())?)
        .await?
        .ok_or("published object missing")?;
    Ok((published, stored.data))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The checks every stripped photo passes.
fn assert_stripped(original: &[u8], published: &Published, stored: &[u8]) {
    assert!(contains(original, SECRET.as_bytes()) && contains(original, b"Exif\0\0"));
    assert!(!contains(stored, SECRET.as_bytes()), "metadata published");
    assert!(!contains(stored, b"Exif\0\0"), "EXIF published");
    assert!(published.stripped_bytes > SECRET.len() as u64);
    assert_eq!(published.size, stored.len() as u64);
    assert_eq!(
        original.len() as u64 - published.stripped_bytes,
        published.size
    );
    let image = published.image.as_ref().expect("sniffed as an image");
    assert_eq!(published.content_type, "image/jpeg");
    // The pixels survive: the stored file decodes to the same size.
    let decoded = image::load_from_memory(stored).expect("still a JPEG");
    assert_eq!(
        (decoded.width(), decoded.height()),
        (image.width, image.height)
    );
}

fn server() -> Outcome<(tempfile::TempDir, Arc<DirStore>)> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(DirStore::open(dir.path().join("store"))?);
    Ok((dir, store))
}

fn uploads(store: &Arc<DirStore>) -> Uploads<Arc<DirStore>> {
    Uploads::with_options(
        store.clone(),
        UploadOptions::default().with_part_size(1, 8 << 20),
    )
}

#[test]
fn a_photographed_qr_code_is_scanned_from_the_stripped_upload_and_found_in_the_catalog() {
    let (_dir, store) = server().expect("store");
    let link = "https://id.gs1.org/01/04006381333931";
    block_on(async {
        let catalog = StoreCatalog::new(store.clone(), "catalog");
        let pen = Gtin::parse("4006381333931")?;
        catalog
            .put(&Product::new(&pen, "Highlighter").with_brand("Stabilo"))
            .await?;

        // The code, rendered by the codes crate, on a grey desk in a photo.
        let symbol = encode(link, &EncodeOptions::new(Symbology::Qr))?;
        let code = blocksmith::codes::render::to_image(
            &symbol,
            &blocksmith::codes::RenderOptions::new().with_scale(6),
        )?;
        let mut photo = RgbImage::from_fn(640, 480, |x, y| {
            let v = 150 + ((x * 7 + y * 13) % 40) as u8;
            Rgb([v, v, v - 10])
        });
        image::imageops::overlay(&mut photo, &code, 170, 60);
        let jpeg = photo_jpeg(&photo);

        let (published, stored) = upload_photo(&uploads(&store), "qr", &jpeg).await?;
        assert_stripped(&jpeg, &published, &stored);
        assert_eq!(published.key, "photos/qr.jpg");

        let report = scan_bytes(&stored, &ScanOptions::new())?;
        let found = report
            .codes
            .iter()
            .find(|d| d.symbology == Symbology::Qr)
            .ok_or("no QR code found in the published photo")?;
        assert_eq!(found.text, link);
        let gtin = gtin_of(found).ok_or("not a GS1 Digital Link")?;
        let product = catalog.lookup(&gtin).await?.ok_or("not in the catalog")?;
        assert_eq!(
            (product.name.as_str(), product.brand.as_deref()),
            ("Highlighter", Some("Stabilo"))
        );
        Outcome::Ok(())
    })
    .expect("pipeline");
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != *cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn a_photographed_text_page_is_recognised_from_the_stripped_upload_by_the_job_queue() {
    use blocksmith::ocr::builtin::render::{Font, RenderOptions, render_page};
    use blocksmith::ocr::{EngineOptions, JobOptions, JobQueue, JobStatus, export};
    let (_dir, store) = server().expect("store");
    let font = Font::from_bytes(
        "DejaVu Sans",
        include_bytes!("../crates/ocr/tests/data/DejaVuSans.ttf").to_vec(),
    )
    .expect("font");
    let words: Vec<&str> = "Invoice 5531 was paid in full on the twelfth of May and the \
        headphones were shipped to the customer by express courier the same afternoon"
        .split(' ')
        .collect();
    let page = render_page(&font, &words, &RenderOptions::default(), 1200, 420, 60, 8);
    assert_eq!(page.words_used, words.len());
    let gray: &GrayImage = &page.image;
    let photo = RgbImage::from_fn(gray.width(), gray.height(), |x, y| {
        let Luma([v]) = *gray.get_pixel(x, y);
        Rgb([v, v, v.saturating_sub(4)])
    });
    let jpeg = photo_jpeg(&photo);
    block_on(async {
        let (published, stored) = upload_photo(&uploads(&store), "page", &jpeg).await?;
        assert_stripped(&jpeg, &published, &stored);

        let queue = JobQueue::new(store.clone(), "ocr/jobs", JobOptions::default());
        let id = queue.submit(&stored, &EngineOptions::default()).await?;
        let report = queue
            .run_pending(&blocksmith::ocr::Engine::default())
            .await?;
        assert_eq!(report.done, 1);
        assert_eq!(queue.status(&id).await?, JobStatus::Done);
        let text = normalize(&export::to_text(&queue.result(&id).await?));
        let truth = normalize(&page.text);
        let errors = edit_distance(&text, &truth);
        // A clean 300 DPI page of a training font: under 2 % of characters wrong.
        assert!(
            errors * 50 < truth.chars().count(),
            "{errors} edits:\n got: {text}\nwant: {truth}"
        );
        Outcome::Ok(())
    })
    .expect("pipeline");
}

#[test]
fn a_blob_sealed_in_a_vault_envelope_survives_an_upload_and_a_tampered_copy_does_not_open() {
    use blocksmith::vault::envelope::{self, Context, Kind};
    use blocksmith::vault::{Credentials, NewItem, SymmetricKey, Vault, VaultOptions};
    let (_dir, store) = server().expect("store");
    let blob: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let target = "files/contract.pdf";
    let ctx = Context::new(b"tenant-acme")
        .with_item(target.as_bytes())
        .with_version(1);
    let creds = Credentials::new("correct horse battery staple");
    let opts = VaultOptions::insecure_fast();
    block_on(async {
        // The data key lives in the user's vault; the store sees ciphertext.
        let (mut vault, _recovery) = Vault::create(store.clone(), &creds, opts.clone()).await?;
        let data_key = SymmetricKey::generate()?;
        vault
            .add(NewItem::new(
                "key:contract.pdf",
                &data_key.expose_secret()[..],
            ))
            .await?;
        let vault_id = vault.id();
        drop(vault);
        let sealed = envelope::Envelope::seal(&data_key, Kind::Custom, 0, &ctx, &blob)?;
        assert_eq!(sealed.len(), blob.len() + envelope::OVERHEAD);

        // Resumable upload of the ciphertext, verified against its digest.
        let sealed = Bytes::from(sealed);
        let uploads = uploads(&store);
        let opened = uploads
            .create(
                CreateOptions::new(sealed.len() as u64)
                    .with_id("contract")
                    .with_target(target)
                    .with_expected(Algorithm::Sha256.digest(&sealed)),
            )
            .await?;
        for start in (0..sealed.len()).step_by(64 * 1024).rev() {
            let end = (start + 64 * 1024).min(sealed.len());
            uploads
                .put_part(
                    &opened.session.id,
                    start as u64,
                    sealed.slice(start..end),
                    None,
                )
                .await?;
        }
        let published = uploads.finalize("contract").await?;
        assert!(published.image.is_none());
        assert_eq!(published.content_type, "application/octet-stream");

        // Another process: unlock, fetch the key, download, open.
        let vault = Vault::unlock(store.clone(), vault_id, &creds, opts).await?;
        let key =
            SymmetricKey::from_slice(vault.get_by_name("key:contract.pdf").await?.expose_secret())?;
        let key_name = Key::new(target)?;
        let stored = store.get_opt(&key_name).await?.ok_or("published")?.data;
        assert!(
            !contains(&stored, &blob[1_000..1_064]),
            "plaintext in the store"
        );
        let opened = envelope::open(&key, Kind::Custom, &ctx, &stored)?;
        assert!(opened.expose_secret() == blob.as_slice());

        // One flipped bit in the stored object: it does not open.
        let mut tampered = stored.to_vec();
        tampered[100_000] ^= 0x01;
        store
            .put_opts(&key_name, Bytes::from(tampered), PutOptions::new())
            .await?;
        let stored = store.get_opt(&key_name).await?.ok_or("stored")?.data;
        let err = envelope::open(&key, Kind::Custom, &ctx, &stored).expect_err("tampered");
        assert!(matches!(err, blocksmith::vault::Error::Decrypt), "{err:?}");
        // Nor does an intact copy under another name (the path is bound).
        let intact = envelope::Envelope::seal(&key, Kind::Custom, 0, &ctx, &blob)?;
        let moved = Context::new(b"tenant-acme")
            .with_item(b"files/other.pdf")
            .with_version(1);
        assert!(envelope::open(&key, Kind::Custom, &moved, &intact).is_err());
        Outcome::Ok(())
    })
    .expect("pipeline");
}
