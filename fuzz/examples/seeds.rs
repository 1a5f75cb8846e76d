//! Writes the committed seed corpus of every fuzz target: `fuzz/corpus/<target>/<name>`.
//!
//! Run it through `scripts/fuzz_seeds.sh` (stable toolchain, no cargo-fuzz needed). Seeds are
//! a few valid inputs made by the crates' own encoders, engines and fixtures, plus edge cases
//! (empty, truncated, one byte flipped). Everything is deterministic except the few values the
//! crates draw at random (vault ids, nonces and keys), so regenerating changes those files.
//! Keep the corpus small: this program refuses to write more than 2 MB in all.

use blocksmith_store::record::{self, Record};
use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Out {
    root: PathBuf,
    total: usize,
}

impl Out {
    fn put(&mut self, target: &str, name: &str, bytes: impl AsRef<[u8]>) {
        let bytes = bytes.as_ref();
        let dir = self.root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
        self.total += bytes.len();
        assert!(self.total < 2_000_000, "the seed corpus grew past 2 MB");
    }

    /// A valid input, a truncated copy, a copy with one byte flipped, and the empty input.
    fn variants(&mut self, target: &str, name: &str, bytes: &[u8]) {
        self.put(target, name, bytes);
        if bytes.len() > 1 {
            self.put(
                target,
                &format!("{name}-truncated"),
                &bytes[..bytes.len() / 2],
            );
            let mut flipped = bytes.to_vec();
            let i = bytes.len() * 2 / 3;
            flipped[i] ^= 0x10;
            self.put(target, &format!("{name}-flipped"), flipped);
        }
        self.put(target, "empty", b"");
    }

    /// Each of `texts` as one seed.
    fn texts(&mut self, target: &str, texts: &[&str]) {
        for (i, t) in texts.iter().enumerate() {
            self.put(target, &format!("text-{i}"), t.as_bytes());
        }
        self.put(target, "empty", b"");
    }
}

fn read(path: &str) -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A QR code of `text` as PNG.
fn qr_png(text: &str, scale: u32) -> Vec<u8> {
    use blocksmith_codes::{EncodeOptions, RenderOptions, Symbology, encode, render};
    let s = encode(text, &EncodeOptions::new(Symbology::Qr)).unwrap();
    render::to_png(&s, &RenderOptions::new().with_scale(scale)).unwrap()
}

/// An EAN-13 as PNG.
fn ean_png() -> Vec<u8> {
    use blocksmith_codes::{EncodeOptions, RenderOptions, Symbology, encode, render};
    let s = encode("4006381333931", &EncodeOptions::new(Symbology::Ean13)).unwrap();
    render::to_png(&s, &RenderOptions::new().with_scale(2)).unwrap()
}

/// A small gray JPEG (a gradient).
fn jpeg() -> Vec<u8> {
    let img = image::GrayImage::from_fn(24, 16, |x, y| image::Luma([(x * 10 + y * 3) as u8]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

fn store_dump(store: &MemoryStore, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let b = store.blocking();
    b.list_all(prefix)
        .unwrap()
        .into_iter()
        .map(|m| {
            let v = b.get(&m.key).unwrap().data.to_vec();
            (m.key.as_str().to_string(), v)
        })
        .collect()
}

fn main() {
    let root = std::env::args().nth(1).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"),
        PathBuf::from,
    );
    let _ = std::fs::remove_dir_all(&root);
    let mut o = Out { root, total: 0 };

    store(&mut o);
    tsz(&mut o);
    vault(&mut o);
    diff(&mut o);
    geo(&mut o);
    feed(&mut o);
    upload(&mut o);
    sketch(&mut o);
    spell(&mut o);
    codes(&mut o);
    ocr(&mut o);
    flow(&mut o);
    receipts(&mut o);
    println!("{} bytes of seeds under {}", o.total, o.root.display());
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Sample {
    id: u64,
    name: String,
    tags: Vec<String>,
}

impl Record for Sample {
    const KIND: &'static str = "fuzz.sample";
    const VERSION: u32 = 1;
}

fn store(o: &mut Out) {
    let s = Sample {
        id: 7,
        name: "ada".into(),
        tags: vec!["a".into(), "b".into()],
    };
    o.variants("store_record", "sample", &record::encode(&s).unwrap());
    o.texts(
        "store_key",
        &[
            "a/b/c",
            "uploads/sessions/x-1",
            "a//b",
            "../x",
            "é/ünï/🦀",
            "a/./b",
            "k~",
        ],
    );
    // The object files a DirStore writes for the key the target reads (`data/k~`).
    let dir = tempfile_dir();
    let ds = blocksmith_store::DirStore::open(&dir).unwrap();
    let key = Key::new("k").unwrap();
    for (i, value) in [&b"hello dir store"[..], &[7u8; 300][..]]
        .into_iter()
        .enumerate()
    {
        ds.blocking().put(&key, value.to_vec()).unwrap();
        for entry in walk(&dir) {
            if entry.parent().is_some_and(|p| p.ends_with("data")) {
                o.put(
                    "store_dir_file",
                    &format!("object-{i}"),
                    std::fs::read(&entry).unwrap(),
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    o.put("store_dir_file", "empty", b"");
    redb_rows(o);
}

/// `store_redb_rows`: a split byte, a `RedbStore` row (format 2: kind,
/// version, size, then an inline value or extents of chunk id, offset,
/// length), then chunk 1's bytes.
fn redb_rows(o: &mut Out) {
    fn row(kind: u8, version: u64, size: u64, rest: &[u8]) -> Vec<u8> {
        let mut r = vec![kind];
        r.extend_from_slice(&version.to_le_bytes());
        r.extend_from_slice(&size.to_le_bytes());
        r.extend_from_slice(rest);
        r
    }
    fn extent(chunk: u64, offset: u32, len: u32) -> Vec<u8> {
        [
            &chunk.to_le_bytes()[..],
            &offset.to_le_bytes(),
            &len.to_le_bytes(),
        ]
        .concat()
    }
    fn input(row: &[u8], chunk: &[u8]) -> Vec<u8> {
        let split = u8::try_from(row.len()).expect("seed rows are short");
        [&[split][..], row, chunk].concat()
    }
    let chunk: Vec<u8> = (0..120u8).collect();
    let inline = row(1, 3, 5, b"hello");
    o.put("store_redb_rows", "inline", &input(&inline, b""));
    let one = row(2, 4, 100, &extent(1, 10, 100));
    o.put("store_redb_rows", "chunked", &input(&one, &chunk));
    let two = row(2, 5, 60, &[extent(1, 0, 30), extent(1, 60, 30)].concat());
    o.put("store_redb_rows", "two-extents", &input(&two, &chunk));
    let past = row(2, 6, 100, &extent(1, 50, 100));
    o.put("store_redb_rows", "past-the-chunk", &input(&past, &chunk));
    let missing = row(2, 7, 10, &extent(9, 0, 10));
    o.put("store_redb_rows", "missing-chunk", &input(&missing, &chunk));
    o.put("store_redb_rows", "truncated", &input(&one[..20], &chunk));
    o.put("store_redb_rows", "empty", b"");
}

fn tempfile_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("blocksmith-seeds-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn tsz(o: &mut Out) {
    use blocksmith_tsz::series::{Series, SeriesOptions};
    use blocksmith_tsz::{Chunk, Policy, TimeUnit, best, gorilla, pack, prometheus};
    let points: Vec<(i64, f64)> = (0..40)
        .map(|i| (1_700_000_000 + i * 15, (i % 7) as f64 * 1.5))
        .collect();
    // "best" is the ALP codec (Policy::Best's codec before Pack).
    for (name, policy) in [
        ("gorilla", Policy::Gorilla),
        ("best", Policy::Alp),
        ("pack", Policy::Best),
    ] {
        let c = Chunk::encode(&points, TimeUnit::Seconds, policy).unwrap();
        o.variants("tsz_decode", &format!("chunk-{name}"), &c);
    }
    // A Pack chunk whose values take the tANS path (a skewed distribution)
    // and whose timestamps take the frame of reference with exceptions.
    let skewed: Vec<(i64, f64)> = (0..600)
        .map(|i: i64| {
            let t = 1_700_000_000 + i * 15 + if i % 97 == 0 { 3 } else { 0 };
            let v = match i * 7919 % 100 {
                0..=69 => 20.5,
                70..=89 => 21.0,
                k => 22.0 + k as f64 / 10.0,
            };
            (t, v)
        })
        .collect();
    let c = Chunk::encode(&skewed, TimeUnit::Seconds, Policy::Best).unwrap();
    o.variants("tsz_decode", "chunk-pack-ans", &c);
    o.put(
        "tsz_decode",
        "prometheus",
        prometheus::encode(&points).unwrap(),
    );
    let values: Vec<f64> = points.iter().map(|p| p.1).collect();
    let count = (values.len() as u16).to_le_bytes();
    o.put(
        "tsz_decode",
        "gorilla-values",
        [&count[..], &gorilla::encode_values(&values)].concat(),
    );
    o.put(
        "tsz_decode",
        "best-values",
        [&count[..], &best::encode_values(&values)].concat(),
    );
    o.put(
        "tsz_decode",
        "pack-values",
        [&count[..], &pack::encode_values(&values)].concat(),
    );
    let mut raw = Vec::new();
    for (t, v) in points.iter().take(12) {
        raw.extend_from_slice(&t.to_le_bytes());
        raw.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    o.put("tsz_roundtrip", "points", &raw);
    o.put(
        "tsz_roundtrip",
        "nan-and-extremes",
        [
            i64::MIN.to_le_bytes(),
            f64::NAN.to_bits().to_le_bytes(),
            i64::MAX.to_le_bytes(),
            f64::NEG_INFINITY.to_bits().to_le_bytes(),
        ]
        .concat(),
    );
    o.put("tsz_roundtrip", "empty", b"");
    // The series meta record, as Series writes it.
    let store = MemoryStore::new();
    block_on(async {
        let mut s = Series::open(
            &store,
            "fz",
            SeriesOptions::new(TimeUnit::Seconds).with_max_points(4),
        )
        .await
        .unwrap();
        for t in 0..9 {
            s.append(t, 1.0).await.unwrap();
        }
        s.flush().await.unwrap();
    });
    let meta = store
        .blocking()
        .get(&Key::new("tsz/fz/meta").unwrap())
        .unwrap()
        .data;
    o.variants("tsz_series_meta", "meta", &meta);
    let payload = record::peek("k", &meta).unwrap().payload.to_vec();
    o.put("tsz_series_meta", "payload", &payload);
    o.put(
        "tsz_series_meta",
        "payload-huge-seq",
        br#"{"unit":0,"next_seq":18446744073709551615}"#,
    );
    o.put(
        "tsz_series_meta",
        "payload-bad-unit",
        br#"{"unit":9,"next_seq":0}"#,
    );
}

fn vault(o: &mut Out) {
    use blocksmith_vault::apikey::ApiKey;
    use blocksmith_vault::envelope::{Context, Envelope, Kind};
    use blocksmith_vault::item::ItemBlob;
    use blocksmith_vault::{
        Credentials, ItemId, NewItem, RecoveryKey, SecretKey, SymmetricKey, Vault, VaultId,
        VaultOptions,
    };
    let key = SymmetricKey::from_bytes([0x42; 32]);
    let ctx = Context::new(b"fuzz-vault")
        .with_item(b"item")
        .with_version(1);
    // Sealed under another key than the target's (it asserts no input opens under its key).
    let other = SymmetricKey::from_bytes([0x41; 32]);
    let env = Envelope::seal(&other, Kind::ItemContent, 1, &ctx, b"secret").unwrap();
    o.variants("vault_envelope", "sealed", &env);
    let blob = ItemBlob::seal(
        &key,
        3,
        &VaultId::from_bytes([1; 16]),
        &ItemId::from_bytes([2; 16]),
        9,
        7,
        b"pw",
    )
    .unwrap();
    o.variants("vault_item_blob", "sealed", &blob);
    let texts = [
        SecretKey::generate().unwrap().to_text().to_string(),
        RecoveryKey::generate().unwrap().to_text().to_string(),
        ApiKey::generate("bs").unwrap().expose_secret().to_string(),
        ItemId::from_bytes([2; 16]).to_string(),
    ];
    let mut refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    // A real vault: a public key, and a share bundle between two vaults.
    let store = MemoryStore::new();
    let creds = Credentials::new("seed");
    let (mut a, _) =
        block_on(Vault::create(&store, &creds, VaultOptions::insecure_fast())).unwrap();
    let (b, _) = block_on(Vault::create(&store, &creds, VaultOptions::insecure_fast())).unwrap();
    let pk = b.public_key().to_string();
    refs.push(&pk);
    o.texts("vault_text_keys", &refs);
    let id = block_on(a.add(NewItem::new("db", b"hunter2".to_vec()))).unwrap();
    let (_, bundle) = block_on(a.share_bundle(&[id], &b.public_key())).unwrap();
    o.variants("vault_share", "bundle", &bundle);
    // Share payloads (the plaintext vault_share_items seals).
    let mut p = 2u32.to_le_bytes().to_vec();
    for (name, coll, secret) in [("db", Some("team"), &b"hunter2"[..]), ("wifi", None, b"")] {
        p.extend_from_slice(&(name.len() as u16).to_le_bytes());
        p.extend_from_slice(name.as_bytes());
        match coll {
            Some(c) => {
                p.push(1);
                p.extend_from_slice(&(c.len() as u16).to_le_bytes());
                p.extend_from_slice(c.as_bytes());
            }
            None => p.push(0),
        }
        p.extend_from_slice(&(secret.len() as u32).to_le_bytes());
        p.extend_from_slice(secret);
    }
    o.variants("vault_share_items", "two-items", &p);
    o.put("vault_share_items", "zero-items", 0u32.to_le_bytes());
    o.put("vault_share_items", "count-too-big", u32::MAX.to_le_bytes());
}

fn diff(o: &mut Out) {
    use blocksmith_diff::history::{ConfigStore, HistoryOptions};
    use blocksmith_diff::text::{DiffOptions, TextDiff};
    use blocksmith_diff::unified::UnifiedOptions;
    let old = "a\nb\nc\nd\ne\nf\ng\n";
    let new = "a\nB\nc\nd\ne\nf2\ng\nh\n";
    let d = TextDiff::new(old, new, &DiffOptions::default());
    let unified = d.unified(&UnifiedOptions::default().with_git_path("f.txt"));
    let plain = d.unified(&UnifiedOptions::default().with_labels("a/f", "b/f"));
    o.texts(
        "diff_unified_patch",
        &[
            &unified,
            &plain,
            "--- a\n+++ b\n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+y\n",
        ],
    );
    o.texts(
        "diff_json_patch",
        &[
            "{\"a\":[1,2],\"b\":{\"c\":1}}\0[{\"op\":\"add\",\"path\":\"/a/-\",\"value\":3},{\"op\":\"remove\",\"path\":\"/b/c\"}]",
            "{}\0[{\"op\":\"move\",\"from\":\"/x\",\"path\":\"/y\"},{\"op\":\"test\",\"path\":\"\",\"value\":{}}]",
            "[]\0[{\"op\":\"copy\",\"from\":\"/0\",\"path\":\"/1\"}]",
        ],
    );
    o.texts(
        "diff_parse_json",
        &[
            "{\"a\": [1, 2.5, -3e10, null, true], \"s\": \"\\u00e9\\n\"}",
            "[[[[]]]]",
            "1e999",
            "\"\\ud800\"",
        ],
    );
    o.texts(
        "diff_parse_yaml",
        &[
            "a: 1\nb:\n  - x\n  - {c: d}\n",
            "&a [1, *a]\n",
            "? complex\n: key\n",
            "s: |\n  block\n  text\n",
        ],
    );
    o.texts(
        "diff_parse_toml",
        &[
            "a = 1\n[t]\nb = \"x\"\n[[arr]]\nc = 2021-01-01T00:00:00Z\n",
            "x = { y = [1, 2] }\n",
            "'quoted key' = 1.5e3\n",
        ],
    );
    o.texts(
        "diff_merge",
        &[
            &format!("{old}\0{new}\0a\nb\nC\nd\ne\nf\ng\n"),
            "x\0y\0z",
            "same\n\0same\n\0same\n",
        ],
    );
    // History records as ConfigStore writes them (first byte: which record the rest replaces).
    let store = MemoryStore::new();
    let cs = ConfigStore::new(&store, HistoryOptions::default().with_clock(|| 1_000));
    block_on(async {
        cs.commit("app", "{\"a\": 1}\n", None, "ada", "first")
            .await
            .unwrap();
        cs.propose("app", "{\"a\": 2}\n", None, "ada", "second")
            .await
            .unwrap();
    });
    for (k, v) in store_dump(&store, "diff/") {
        let slot: u8 = if k.contains("/v/") {
            0
        } else if k.ends_with("/head") {
            1
        } else if k.contains("proposals/") {
            2
        } else {
            3
        };
        let name = k.replace('/', "_");
        o.put("diff_history_records", &name, [&[slot][..], &v].concat());
        let payload = record::peek("k", &v).unwrap().payload;
        o.put(
            "diff_history_records",
            &format!("{name}-payload"),
            [&[slot][..], payload].concat(),
        );
    }
    o.put(
        "diff_history_records",
        "head-future-version",
        b"\x01{\"version\":99}",
    );
    o.put(
        "diff_history_records",
        "seq-max",
        b"\x03{\"next\":18446744073709551615}",
    );
}

fn geo(o: &mut Out) {
    use blocksmith_geo::{GeoIndex, GeoOptions, HistoryOptions, csv, polyline, snapshot};
    let rows = "1,car,52.52,13.40,1000,5,12.5,90\n2,bike,48.85,2.35,2000,,,\n3,car,-33.9,151.2,3000,1,0,0\n";
    o.texts("geo_csv", &[rows, "1,car,91,0,1\n", "x,y\n"]);
    let mut framed = b"id,kind,lat,lon,ts,accuracy,speed,heading\n".to_vec();
    framed.extend_from_slice(rows.as_bytes());
    let updates = csv::parse(&framed).unwrap();
    let mut index =
        GeoIndex::new(GeoOptions::default().with_history(Some(HistoryOptions::default())));
    index.upsert_batch(&updates);
    o.variants("geo_snapshot", "index", &snapshot::encode(&index));
    let line = polyline::encode(&[(38.5, -120.2), (40.7, -120.95), (43.252, -126.453)], 5).unwrap();
    o.put("geo_polyline", "p5", [&[5u8][..], line.as_bytes()].concat());
    o.put(
        "geo_polyline",
        "p6",
        [&[6u8][..], b"_p~iF~ps|U_ulLnnqC_mqNvxq`@"].concat(),
    );
    o.put("geo_polyline", "empty", b"");
}

fn feed(o: &mut Out) {
    use blocksmith_feed::{Cursor, CursorKey, Feed, FeedOptions, FeedStore, Kind, UserId};
    let key = CursorKey::derive(b"fuzz");
    let mut f = Feed::new(
        FeedOptions::default()
            .with_page_size(2)
            .with_celebrity_threshold(3),
        key,
    );
    for u in 1..6 {
        f.follow(UserId(0), UserId(u)).unwrap();
        f.follow(UserId(u), UserId(0)).unwrap();
    }
    for t in 0..12 {
        f.publish(
            UserId(1 + t % 5),
            i64::from(t) * 60_000,
            Kind::ALL[t as usize % 5],
        )
        .unwrap();
    }
    let page = f.read(UserId(0), None, 3_600_000).unwrap();
    let next = page.next.unwrap();
    o.texts("feed_cursor", &[&next, "AAAA", "!!!"]);
    let c = Cursor::decode(&CursorKey::derive(b"fuzz"), &next).unwrap();
    o.put("feed_cursor", "payload", c.to_payload());
    let store = MemoryStore::new();
    let fs = FeedStore::new(&store, "fz").unwrap();
    block_on(fs.save(&mut f)).unwrap();
    for (k, v) in store_dump(&store, "feed/fz/") {
        let name = k.replace('/', "_");
        let which = if k.contains("/graph/") {
            0
        } else if k.contains("/inbox/") {
            o.variants("feed_inbox", &name, &v);
            continue;
        } else if k.contains("/posts/") {
            2
        } else if k.ends_with("/meta") {
            continue;
        } else {
            1
        };
        o.put("feed_records", &name, [&[which][..], &v].concat());
    }
    o.put("feed_records", "empty", b"");
}

fn upload(o: &mut Out) {
    use blocksmith_upload::manifest::Manifest;
    use blocksmith_upload::tus::{TusServer, encode_metadata};
    use blocksmith_upload::{Checksum, CreateOptions, UploadOptions, Uploads};
    let md: std::collections::BTreeMap<String, String> = [
        ("filename".to_string(), "a.png".to_string()),
        ("empty".to_string(), String::new()),
    ]
    .into();
    let meta = encode_metadata(&md);
    let sha = Checksum::parse_tus("sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=")
        .map(|c| c.to_tus())
        .unwrap_or_default();
    o.texts(
        "upload_checksum",
        &[
            &meta,
            &sha,
            "md5 1B2M2Y8AsgTpgAmY7PhCfg==",
            "crc32 AAAAAA==",
        ],
    );
    let png = qr_png("x", 1);
    o.variants("upload_image", "png", &png);
    o.put("upload_image", "jpeg", jpeg());
    let data: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
    let m = Manifest::build(&data, [0..100, 100..250, 250..300]).unwrap();
    o.variants("upload_manifest", "three-chunks", &m.encode());
    o.texts(
        "upload_tus_request",
        &[
            "\u{1}/files/\nTus-Resumable: 1.0.0\nUpload-Length: 64\nUpload-Metadata: filename YS5wbmc=",
            "\u{3}/files/x\nTus-Resumable: 1.0.0\nUpload-Offset: 0\nContent-Type: application/offset+octet-stream\n\nhello",
            "\u{2}/files/x\nTus-Resumable: 1.0.0",
            "\u{0}/files/\n",
        ],
    );
    // Session records as Uploads writes them: open, deferred, finalized.
    let store = MemoryStore::new();
    let up = Uploads::with_options(&store, UploadOptions::default().with_part_size(1, 1 << 16))
        .with_clock(|| 1_000_000);
    block_on(async {
        up.create(
            CreateOptions::new(8)
                .with_id("open")
                .with_metadata("filename", "a.bin"),
        )
        .await
        .unwrap();
        up.create(
            CreateOptions::deferred()
                .with_id("deferred")
                .with_partial(true),
        )
        .await
        .unwrap();
        up.create(CreateOptions::new(4).with_id("done"))
            .await
            .unwrap();
        up.put_part("done", 0, bytes::Bytes::from_static(b"abcd"), None)
            .await
            .unwrap();
        up.finalize("done").await.unwrap();
    });
    let _ = TusServer::new(Uploads::new(MemoryStore::new()));
    for (k, v) in store_dump(&store, "uploads/sessions/") {
        let name = k.rsplit('/').next().unwrap().to_string();
        o.put("upload_session_record", &name, &v);
        o.put(
            "upload_session_record",
            &format!("{name}-payload"),
            record::peek("k", &v).unwrap().payload,
        );
    }
    o.put("upload_session_record", "empty", b"");
}

fn sketch(o: &mut Out) {
    use blocksmith_sketch::aggregate::Welford;
    use blocksmith_sketch::bloom::{BloomFilter, ExactSet};
    use blocksmith_sketch::ddsketch::DdSketch;
    use blocksmith_sketch::frequency::{CountMin, SpaceSaving};
    use blocksmith_sketch::theta::UpdateTheta as ThetaSketch;
    use blocksmith_sketch::window::{WindowKind, WindowOptions, Windowed};
    let fx = "crates/sketch/tests/fixtures/py/";
    for f in [
        "hll_hll4_lg4_int_n_1000_compact.bin",
        "hll_hll6_lg8_int_n_100_updatable.bin",
        "hll_hll8_lg4_str_n_100_compact.bin",
        "hll_hll8_lg4_int_n_0_updatable.bin",
    ] {
        o.put("sketch_hll", f, read(&format!("{fx}{f}")));
    }
    o.put("sketch_hll", "empty", b"");
    for f in [
        "kll_f64_k200_lognormal_100.bin",
        "kll_f32_k50_uniform_1.bin",
        "kll_f64_k50_lognormal_0.bin",
    ] {
        o.put("sketch_kll", f, read(&format!("{fx}{f}")));
    }
    o.put("sketch_kll", "empty", b"");
    let mut t = ThetaSketch::new(10).unwrap();
    for i in 0..2000u64 {
        t.update(&i);
    }
    o.variants("sketch_theta", "estimation", &t.compact().to_bytes());
    o.put(
        "sketch_theta",
        "theta_lg12_0.bin",
        read(&format!("{fx}theta_lg12_0.bin")),
    );
    let mut dd = DdSketch::new(0.01).unwrap();
    for i in 1..200 {
        dd.update(f64::from(i) * 0.37 - 10.0);
    }
    o.variants("sketch_ddsketch", "mixed-signs", &dd.to_bytes());
    let mut cm = CountMin::new(3, 32).unwrap();
    let mut ss = SpaceSaving::new(8).unwrap();
    for (i, w) in ["a", "b", "c", "a", "d", "a", "e", "f", "g", "h", "i", "j"]
        .iter()
        .enumerate()
    {
        cm.update(*w, i as u64 + 1);
        ss.update(w, i as u64 + 1);
    }
    o.variants("sketch_frequency", "count-min", &cm.to_bytes());
    o.put("sketch_frequency", "space-saving", ss.to_bytes());
    let mut bf = BloomFilter::new(256, 3).unwrap();
    let mut ex = ExactSet::new();
    for i in 0..20u64 {
        bf.insert(&i);
        ex.insert(i * 1000);
    }
    o.variants("sketch_bloom", "bloom", &bf.to_bytes());
    o.put("sketch_bloom", "exact", ex.to_bytes());
    let store = MemoryStore::new();
    let mut w: Windowed<String, f64, Welford> =
        Windowed::new(WindowOptions::new(WindowKind::Tumbling { size: 10 })).unwrap();
    for i in 0..25 {
        let _ = w.process(format!("k{}", i % 3), i64::from(i), f64::from(i));
    }
    block_on(w.save(&store, "fuzz")).unwrap();
    for (k, v) in store_dump(&store, "sketch/") {
        o.variants("sketch_checkpoint", &k.replace('/', "_"), &v);
    }
}

fn spell(o: &mut Out) {
    use blocksmith_spell::{Lexicon, UserDictionary};
    let lex = Lexicon::from_parts(
        [
            ("the", 100),
            ("quick", 20),
            ("brown", 15),
            ("fox", 12),
            ("jumps", 5),
            ("über", 2),
        ],
        [("the", "quick", 9), ("quick", "brown", 4)],
    )
    .unwrap();
    o.variants("spell_lexicon", "small", &lex.encode());
    o.texts(
        "spell_text",
        &[
            "teh quick borwn fox jumsp",
            "thequickbrownfox",
            "Hello, World! naïve café",
            "a  b\tc\n",
        ],
    );
    let mut d = UserDictionary::new();
    d.add("blocksmith").unwrap();
    d.add("Ünïcode").unwrap();
    o.variants(
        "spell_user_record",
        "two-words",
        &record::encode(&d).unwrap(),
    );
}

fn codes(o: &mut Out) {
    use blocksmith_codes::catalog::{Product, StoreCatalog};
    use blocksmith_codes::gtin::Gtin;
    o.put(
        "codes_scan",
        "qr.png",
        qr_png("https://example.com/p/42", 3),
    );
    o.put("codes_scan", "ean13.png", ean_png());
    o.put("codes_scan", "jpeg", jpeg());
    // Raw luma frame: a width byte, then pixels.
    let mut frame = vec![16u8];
    frame.extend((0..32 * 32).map(|i| if (i / 4) % 2 == 0 { 0u8 } else { 255 }));
    o.put("codes_scan", "luma", frame);
    o.put("codes_scan", "empty", b"");
    o.texts(
        "codes_gs1",
        &[
            "(01)04006381333931(10)ABC123(17)251231",
            "\u{1d}0104006381333931\u{1d}10ABC",
            "https://id.gs1.org/01/04006381333931/10/ABC?17=251231",
            "4006381333931",
            "01234565",
        ],
    );
    let logo = qr_png("logo", 1);
    o.put("codes_logo", "png-ratio-0.2", [&[20u8][..], &logo].concat());
    o.put(
        "codes_logo",
        "jpeg-ratio-0.1",
        [&[10u8][..], &jpeg()].concat(),
    );
    o.put(
        "codes_logo",
        "png-ratio-too-big",
        [&[51u8][..], &logo].concat(),
    );
    let store = MemoryStore::new();
    let cat = StoreCatalog::new(&store, "catalog");
    let g = Gtin::parse("4006381333931").unwrap();
    cat.blocking()
        .put(
            &Product::new(&g, "Pen")
                .with_brand("Stabilo")
                .with_attribute("colour", "blue"),
        )
        .unwrap();
    for (_, v) in store_dump(&store, "catalog/") {
        o.variants("codes_catalog_record", "product", &v);
        let payload = record::peek("k", &v).unwrap().payload;
        o.put("codes_catalog_record", "payload", payload);
    }
    o.put(
        "codes_catalog_record",
        "payload-bad-gtin",
        br#"{"gtin":"123","name":"x","brand":null,"attributes":{}}"#,
    );
}

fn ocr(o: &mut Out) {
    use blocksmith_ocr::export::to_json;
    use blocksmith_ocr::jobs::{JobOptions, JobQueue};
    use blocksmith_ocr::{Engine, EngineOptions, LineImage, Recognizer, WordGuess};
    struct Blank;
    impl Recognizer for Blank {
        fn recognize_line(&self, _: &LineImage<'_>) -> Vec<WordGuess> {
            Vec::new()
        }
    }
    let pbm = b"P1\n8 4\n0 1 1 0 0 1 1 0\n1 0 0 1 1 0 0 1\n1 0 0 1 1 0 0 1\n0 1 1 0 0 1 1 0\n";
    let pgm = {
        let mut v = b"P5\n8 8\n255\n".to_vec();
        v.extend((0..64).map(|i| (i * 4) as u8));
        v
    };
    let png = qr_png("ocr", 2);
    o.put("ocr_decode", "pbm", pbm);
    o.put("ocr_decode", "pgm", &pgm);
    o.variants("ocr_decode", "png", &png);
    o.put("ocr_decode", "jpeg", jpeg());
    let model = read("crates/ocr/data/ocr_model.bin");
    o.put("ocr_model", "embedded", &model);
    o.put("ocr_model", "truncated", &model[..64.min(model.len())]);
    o.put("ocr_model", "empty", b"");
    let mut line = vec![40u8, 20, 40, 60, 1, 2, 2, 30, 16];
    line.extend((0..800).map(|i| if (i / 3) % 4 == 0 { 0u8 } else { 1 }));
    o.put("ocr_recognize_line", "two-strokes", line);
    o.put("ocr_recognize_line", "tiny", [0u8, 0, 0, 0, 0, 0, 0, 0]);
    // A document from the engine (QR modules make components and lines), as JSON.
    let engine = Engine::new(EngineOptions::default(), Arc::new(Blank));
    let pages = engine.decode(&png).unwrap();
    let mut doc = blocksmith_ocr::Document::default();
    doc.pages.push(engine.process_page(&pages[0], 0).unwrap());
    let json = to_json(&doc);
    o.texts("ocr_export_json", &[&json, "{\"pages\":[],\"timings\":{\"decode\":{\"secs\":0,\"nanos\":0},\"preprocess\":{\"secs\":0,\"nanos\":0},\"layout\":{\"secs\":0,\"nanos\":0},\"recognize\":{\"secs\":0,\"nanos\":0}}}", "{}"]);
    // Job and page records as the queue writes them.
    let q = JobQueue::new(MemoryStore::new(), "jobs", JobOptions::default()).with_clock(|| 1_000);
    let input: &[u8] = b"P1\n2 2\n1 0\n0 1\n";
    q.blocking()
        .submit(input, &EngineOptions::default())
        .unwrap();
    let queued = store_dump(q.store(), "jobs/");
    q.blocking().run_pending(&engine, 1).unwrap();
    let done = store_dump(q.store(), "jobs/");
    for (state, dump) in [("queued", queued), ("done", done)] {
        for (k, v) in dump {
            if k.ends_with("/job") {
                o.put(
                    "ocr_job_records",
                    &format!("job-{state}"),
                    [&[0u8][..], &v].concat(),
                );
                o.put(
                    "ocr_job_records",
                    &format!("job-{state}-payload"),
                    [&[0u8][..], record::peek("k", &v).unwrap().payload].concat(),
                );
            } else if k.contains("/page/") {
                o.put("ocr_job_records", "page", [&[1u8][..], &v].concat());
            }
        }
    }
    o.put("ocr_job_records", "empty", b"");
}

/// Flow and tenant records as the engines write them (the first byte picks
/// the record the target replaces; see the targets).
fn flow(o: &mut Out) {
    use blocksmith_flow::{
        Engine, FlowOptions, ManualClock, Registry, Saga, SagaPlan, SagaStep, StartOptions,
    };
    use serde_json::json;
    let store = MemoryStore::new();
    let registry = Registry::new()
        .with_workflow(Saga)
        .with_step_fn("ok", |_ctx| async { Ok(json!(1)) });
    let engine = Engine::new(&store, registry)
        .with_clock(ManualClock::new(1_700_000_000_000))
        .with_options(FlowOptions::default().with_shards(2).with_history_chunk(2));
    let plan = SagaPlan::new(vec![
        SagaStep::new("a", "ok", json!({})).with_compensation("ok", json!({})),
        SagaStep::new("b", "ok", json!({})),
    ]);
    block_on(async {
        engine
            .start::<Saga>(&plan, StartOptions::default().with_id("x"))
            .await
            .unwrap();
        engine.worker("w").unwrap().run_until_idle(4).await.unwrap();
    });
    for (n, (k, v)) in store_dump(&store, "flow/").into_iter().enumerate() {
        let which: u8 = if k.starts_with("flow/i/") {
            0
        } else if k.starts_with("flow/h/") {
            1
        } else if k.starts_with("flow/l/") {
            2
        } else if k == "flow/layout" {
            3
        } else {
            continue;
        };
        let payload = record::peek("k", &v).unwrap().payload.to_vec();
        let name = format!("{which}-{n}");
        o.put("flow_records", &name, [&[which][..], &payload].concat());
    }
    o.put("flow_records", "empty", b"");
    // Tenants.
    let store = std::sync::Arc::new(MemoryStore::new());
    let tenants = blocksmith_tenant::Tenants::new(
        store.clone(),
        blocksmith_tenant::MemoryHooks::new(),
        blocksmith_tenant::Plans::example(),
    )
    .with_clock(ManualClock::new(1_700_000_000_000));
    block_on(async {
        tenants
            .create(blocksmith_tenant::CreateTenant::new(
                "r1", "acme", "pro", "a@b.c",
            ))
            .await
            .unwrap();
        tenants.run_due().await.unwrap();
    });
    let t = store
        .blocking()
        .get(&Key::new("tenant/t/tn-r1").unwrap())
        .unwrap()
        .data;
    let payload = record::peek("k", &t).unwrap().payload.to_vec();
    o.put("tenant_record", "tenant", [&[0u8][..], &payload].concat());
    o.put("tenant_record", "slug", [&[2u8][..], b"tn-r1"].concat());
    o.put("tenant_record", "slug-free", [2u8]);
    disputes(o);
}

/// Dispute inputs (webhook events, the reason table) and records (the
/// workflow record with the dispute in its state, a due-index entry).
fn disputes(o: &mut Out) {
    use blocksmith_dispute::{
        Disputes, EventKind, Evidence, MemoryHooks, Money, NetworkEvent, OpenDispute, Outcome,
        ReasonTable,
    };
    let eur = |n| Money::new(n, "EUR");
    let events = [
        NetworkEvent::new(
            "e2",
            "dp_1",
            2,
            1_780_272_100_000,
            EventKind::FundsWithdrawn {
                amount: eur(4999),
                fee: Some(eur(1500)),
            },
        ),
        NetworkEvent::new(
            "e3",
            "dp_1",
            3,
            1_780_272_200_000,
            EventKind::Closed {
                outcome: Outcome::Lost,
            },
        ),
        NetworkEvent::new(
            "e4",
            "dp_1",
            4,
            1_780_272_300_000,
            EventKind::FundsReinstated {
                amount: eur(4999),
                fee_refund: None,
            },
        ),
    ];
    o.put(
        "dispute_input",
        "events",
        serde_json::to_vec(&events).unwrap(),
    );
    o.put(
        "dispute_input",
        "one",
        serde_json::to_vec(&events[0]).unwrap(),
    );
    let table = ReasonTable::standard();
    o.put(
        "dispute_input",
        "table",
        serde_json::to_vec(&table).unwrap(),
    );
    let store = std::sync::Arc::new(MemoryStore::new());
    let d = Disputes::new(store.clone(), MemoryHooks::new())
        .with_clock(blocksmith_flow::ManualClock::new(1_780_272_000_000));
    block_on(async {
        d.open(OpenDispute::new("ch_1", eur(4999), "visa", "13.1").with_id("dp_1"))
            .await
            .unwrap();
        d.add_evidence("dp_1", Evidence::text("receipt", "order 1").by("a"))
            .await
            .unwrap();
        d.ingest(events[0].clone()).await.unwrap();
        d.run_due().await.unwrap();
    });
    let rec = store
        .blocking()
        .get(&Key::new("dispute-flow/i/dp_1").unwrap())
        .unwrap()
        .data;
    let payload = record::peek("k", &rec).unwrap().payload.to_vec();
    o.put(
        "dispute_record",
        "instance",
        [&[0u8][..], &payload].concat(),
    );
    o.put("dispute_record", "due-entry", [2u8]);
    // Damaged records the review found: a waiting event under another
    // number, timer ids at the edge of the integers.
    let mut v: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    v["state"]["waiting"]["3"] = serde_json::json!({ "event": events[0], "rules": null });
    v["timers"] = serde_json::json!([
        ["deadline-18446744073709551615", 1],
        ["remind-18446744073709551615-1", 1]
    ]);
    o.put(
        "dispute_record",
        "hostile",
        [&[0u8][..], &serde_json::to_vec(&v).unwrap()].concat(),
    );
}

fn receipts(o: &mut Out) {
    use blocksmith_receipts::{DeviceId, Privacy, Receipts, UserId};
    let mut r = Receipts::default();
    for u in 0..12 {
        r.join("team", UserId(1_000 + u)).unwrap();
    }
    for seq in 1..=40 {
        let mention = if seq % 9 == 0 {
            vec![UserId(1_003)]
        } else {
            vec![]
        };
        r.post("team", seq, UserId(1_000 + seq % 12), &mention)
            .unwrap();
    }
    r.read("team", UserId(1_001), 25).unwrap();
    r.read_private("team", UserId(1_002), 33).unwrap();
    r.delivered_to_device("team", UserId(1_004), DeviceId(9), 38)
        .unwrap();
    r.set_privacy("team", UserId(1_005), Privacy::Hidden)
        .unwrap();
    r.mark_unread("team", UserId(1_006), 20).unwrap();
    r.delete("team", 17).unwrap();
    r.leave("team", UserId(1_011)).unwrap();
    r.join("dm", UserId(1)).unwrap();
    r.join("dm", UserId(2)).unwrap();
    r.post("dm", 1, UserId(1), &[]).unwrap();
    r.delivered("dm", UserId(2), 1).unwrap();
    o.variants(
        "receipts_block",
        "group",
        &r.conversation("team").unwrap().to_bytes(),
    );
    o.put(
        "receipts_block",
        "dm",
        r.conversation("dm").unwrap().to_bytes(),
    );
}
