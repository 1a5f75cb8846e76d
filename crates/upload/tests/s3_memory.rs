//! The bar of issue 21: a 2 GiB upload through `blocksmith-upload` (the
//! `Uploader` client, from a generator) onto the S3-compatible server
//! completes with the process never above 256 MiB resident (Linux `VmHWM`,
//! the peak since it started), and the object is byte-identical (streamed
//! back with `get_stream` and hashed).
//!
//! A test binary of its own, so that no other test shares the process and
//! its peak. Skipped (saying so) without `BLOCKSMITH_S3_ENDPOINT`; fails
//! without it when `BLOCKSMITH_REQUIRE_S3=1`, as CI sets.

#[path = "support/s3.rs"]
mod s3;

use blocksmith_store::{GetOptions, Key, StoreExt, block_on};
use blocksmith_upload::client::{Source, Uploader};
use blocksmith_upload::{Algorithm, Bytes, CreateOptions, UploadOptions, Uploads};
use std::ops::Range;

const SIZE: u64 = 2 << 30;
const BOUND: u64 = 256 << 20;

/// `len` bytes made on demand: the 8 bytes at each multiple of 8 are a hash
/// of their position, so a misplaced, repeated or lost byte is caught.
struct Generated {
    len: u64,
}

fn word(i: u64) -> [u8; 8] {
    // splitmix64
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)).to_le_bytes()
}

fn generate(range: Range<u64>) -> Vec<u8> {
    let mut out = Vec::with_capacity((range.end - range.start) as usize);
    let mut at = range.start;
    while at < range.end {
        let w = word(at / 8);
        let from = (at % 8) as usize;
        let take = (8 - from).min((range.end - at) as usize);
        out.extend_from_slice(&w[from..from + take]);
        at += take as u64;
    }
    out
}

impl Source for Generated {
    fn len(&self) -> u64 {
        self.len
    }
    fn read(&mut self, range: Range<u64>) -> blocksmith_upload::Result<Bytes> {
        Ok(Bytes::from(generate(range)))
    }
}

fn status(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[test]
fn two_gib_through_the_uploader_onto_s3_within_256_mib() {
    let Some(endpoint) = s3::endpoint() else {
        return;
    };
    if !cfg!(target_os = "linux") {
        eprintln!("SKIPPED: the peak resident size is read from Linux's /proc");
        return;
    }
    let store = s3::adapter(&endpoint);
    let options = UploadOptions::default().with_prefix("s3-memory");
    let uploads = Uploads::with_options(&store, options.clone());
    let target = "s3-memory/objects/two-gib.bin";
    let key = Key::new(target).unwrap();
    store.blocking().delete(&key).unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let started = std::time::Instant::now();
    let out = block_on(
        Uploader::default().upload_source_with(
            &uploads,
            Generated { len: SIZE },
            CreateOptions::default()
                .with_id(format!("two-gib-{nanos:x}"))
                .with_target(target),
            |_| true,
        ),
    )
    .unwrap();
    let upload_secs = started.elapsed().as_secs_f64();
    let published = out.published.expect("published");
    assert_eq!(published.size, SIZE);
    // Parts of the session's 8 MiB multipart size, every one straight into
    // the S3 multipart upload.
    assert_eq!(out.parts_sent, 256);
    assert!(
        store
            .blocking()
            .list_all("s3-memory/parts/")
            .unwrap()
            .is_empty()
    );
    let after_upload = status("VmHWM:");

    // Byte-identical: streamed back, every chunk compared with the
    // generator's bytes at its place, and hashed (CRC-32C) against the
    // checksum the publication reported.
    let read_started = std::time::Instant::now();
    let mut crc = 0u32;
    let mut at = 0u64;
    for chunk in store
        .blocking()
        .get_stream(&key, GetOptions::new())
        .unwrap()
    {
        let chunk = chunk.unwrap();
        let end = at + chunk.len() as u64;
        assert!(end <= SIZE, "the object is longer than {SIZE}");
        assert!(
            chunk[..] == generate(at..end)[..],
            "the object differs within {at}..{end}"
        );
        crc = crc32c::crc32c_append(crc, &chunk);
        at = end;
    }
    assert_eq!(at, SIZE, "the object is shorter");
    assert_eq!(
        published.checksum,
        blocksmith_upload::Checksum {
            algorithm: Algorithm::Crc32c,
            digest: crc.to_be_bytes().to_vec(),
        }
    );
    let read_secs = read_started.elapsed().as_secs_f64();
    let peak = status("VmHWM:");
    println!(
        "2 GiB: uploaded and published in {upload_secs:.1} s ({:.0} MiB/s), read back and \
         compared in {read_secs:.1} s; peak RSS {} MiB after the upload, {} MiB in all \
         (bound {} MiB)",
        (SIZE >> 20) as f64 / upload_secs,
        after_upload >> 20,
        peak >> 20,
        BOUND >> 20
    );
    assert!(
        peak < BOUND,
        "the process peaked at {} MiB resident",
        peak >> 20
    );
    store.blocking().delete(&key).unwrap();
    let later = Uploads::with_options(&store, options).with_clock(|| u64::MAX / 4);
    block_on(later.expire()).unwrap();
}
