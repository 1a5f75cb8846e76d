//! blocksmith-upload: ingest throughput and content-defined chunking speed.
//!
//! - `ingest`: a 16 MiB and a 64 MiB file read from disk part by part
//!   (`Uploader::upload_reader`) and sent in 8 MiB parts, then finalized
//!   (composed by the store, published), into `MemoryStore` (with the default
//!   CRC-32C object digest, with SHA-256, and with `Verify::Reread`: every
//!   part read back and re-checked) and `DirStore` (default and reread;
//!   it writes the 8 MiB parts with `O_DIRECT`, so a reread comes from the disk);
//!   baselines: `std::fs::copy` of the same file to a new file, the copy followed by `sync_all` (DirStore makes
//!   every write durable, so that is its fair comparison), and `std::fs::read`
//!   of the file into memory (what `MemoryStore` does in the end). Every routine
//!   deletes what it wrote, so no sample pays for the dirty pages of earlier ones.
//! - `cdc`: FastCDC (16 KiB / 64 KiB / 256 KiB, normalization 1) over 32 MiB
//!   of random bytes, ours against the `fastcdc` crate's `v2020` chunker.
//!
//! ```text
//! cargo bench --bench upload
//! BENCH_CLOCK=cpu cargo bench --bench upload   # thread CPU time (Linux)
//! ```
//!
//! With `BENCH_CLOCK=cpu` every routine, ours and the baselines, is timed in
//! on-CPU time of the benchmark thread (`CLOCK_THREAD_CPUTIME_ID`, user
//! and kernel time), which leaves out time spent waiting for a core on a
//! shared machine, and also time blocked on the disk (so `sync_all` and
//! DirStore's fsyncs count only for their CPU work: compare them on wall time).

use blocksmith::store::{DirStore, Key, MemoryStore, Store, block_on};
use blocksmith::upload::cdc::{CdcOptions, Chunker};
use blocksmith::upload::client::Uploader;
use blocksmith::upload::{Algorithm, CreateOptions, UploadOptions, Uploads, Verify};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[path = "support/clock.rs"]
mod clock;
use clock::timed;

/// File sizes of the ingest groups: per-upload costs (session records,
/// fsyncs) weigh more on the smaller one.
const FILE_MB: [usize; 2] = [16, 64];
const CDC_MB: usize = 32;

fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("blocksmith-upload-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

static SEQ: AtomicU64 = AtomicU64::new(0);

/// One ingest of `source` as a new object, which is then deleted again (like
/// the baselines' copy, so neither side accumulates files between samples).
fn ingest<S: Store>(uploads: &Uploads<S>, source: &Path) {
    let file = std::fs::File::open(source).unwrap();
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let target = format!("bench/obj{n}");
    let out = block_on(Uploader::default().with_part_size(8 << 20).upload_reader(
        uploads,
        file,
        CreateOptions::default().with_target(target.clone()),
    ))
    .unwrap();
    black_box(out.published.unwrap());
    block_on(uploads.store().delete(&Key::new(target).unwrap())).unwrap();
}

/// The plain copy to a new file, deleted afterwards (`sync` adds `sync_all`).
fn plain_copy(source: &Path, dir: &Path, sync: bool) {
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let dest = dir.join(format!("copy{n}.bin"));
    std::fs::copy(source, &dest).unwrap();
    if sync {
        std::fs::File::open(&dest).unwrap().sync_all().unwrap();
    }
    std::fs::remove_file(&dest).unwrap();
}

type Routine<'a> = Box<dyn FnMut() + 'a>;

/// Every ingest routine and baseline of one file, named as in the report.
fn routines<'a>(
    source: &'a Path,
    dir: &'a Path,
    store: &'a DirStore,
) -> Vec<(&'static str, Routine<'a>)> {
    let options = UploadOptions::default();
    let reread = options.clone().with_verify(Verify::Reread);
    let sha = options.clone().with_digest(Algorithm::Sha256);
    let in_memory = |opts: UploadOptions| -> Routine<'a> {
        Box::new(move || {
            let store = MemoryStore::new();
            ingest(&Uploads::with_options(&store, opts.clone()), source);
        })
    };
    let on_disk = |opts: UploadOptions| -> Routine<'a> {
        let uploads = Uploads::with_options(store, opts);
        Box::new(move || ingest(&uploads, source))
    };
    vec![
        (
            "baseline_std_fs_copy",
            Box::new(move || plain_copy(source, dir, false)),
        ),
        (
            "baseline_std_fs_copy_sync",
            Box::new(move || plain_copy(source, dir, true)),
        ),
        // Into memory, the plain way: what `MemoryStore` ingest compares to.
        (
            "baseline_std_fs_read",
            Box::new(move || drop(std::fs::read(source).unwrap())),
        ),
        ("memory_store", in_memory(options.clone())),
        ("memory_store_reread", in_memory(reread.clone())),
        ("memory_store_sha256_digest", in_memory(sha)),
        ("dir_store", on_disk(options)),
        ("dir_store_reread", on_disk(reread)),
    ]
}

fn bench_ingest(c: &mut Criterion) {
    let dir = scratch();
    let store = DirStore::open(dir.join("dirstore")).unwrap();
    for mb in FILE_MB {
        let source = dir.join(format!("source{mb}.bin"));
        std::fs::write(&source, noise(mb << 20, 1)).unwrap();
        let mut g = c.benchmark_group(format!("upload/ingest_{mb}MiB"));
        g.sample_size(20).measurement_time(Duration::from_secs(3));
        g.throughput(Throughput::Bytes((mb << 20) as u64));
        for (name, mut f) in routines(&source, &dir, &store) {
            g.bench_function(name, |b| b.iter_custom(|n| timed(n, &mut f)));
        }
        g.finish();
        let _ = std::fs::remove_file(&source);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn bench_cdc(c: &mut Criterion) {
    let data = noise(CDC_MB << 20, 2);
    let (min, avg, max) = (16 * 1024, 64 * 1024, 256 * 1024);
    let config = CdcOptions::new(min, avg, max).unwrap();
    let mut g = c.benchmark_group("upload/cdc_32MiB");
    g.sample_size(20).measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function("blocksmith_fastcdc", |b| {
        b.iter_custom(|n| timed(n, || Chunker::new(black_box(&data), config).count()));
    });
    g.bench_function("baseline_fastcdc_crate_v2020", |b| {
        b.iter_custom(|n| {
            timed(n, || {
                fastcdc::v2020::FastCDC::new(black_box(&data), min as u32, avg as u32, max as u32)
                    .count()
            })
        });
    });
    g.finish();
    let ours = Chunker::new(&data, config).count();
    let theirs = fastcdc::v2020::FastCDC::new(&data, min as u32, avg as u32, max as u32).count();
    println!(
        "cdc chunk counts on {CDC_MB} MiB: ours {ours} (avg {} B), fastcdc {theirs} (avg {} B)",
        data.len() / ours,
        data.len() / theirs
    );
}

/// `UPLOAD_ROUNDS=N`: after criterion, every ingest routine and baseline
/// once per round, interleaved, for N rounds; prints the least wall time of
/// each on the benches' clock (the steadiest figure on a shared machine,
/// where criterion's medians move with the neighbours' load).
fn interleaved_rounds(_: &mut Criterion) {
    let Some(rounds) = std::env::var("UPLOAD_ROUNDS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    else {
        return;
    };
    let dir = scratch();
    for mb in FILE_MB {
        let source = dir.join(format!("rounds{mb}.bin"));
        std::fs::write(&source, noise(mb << 20, 1)).unwrap();
        let store = DirStore::open(dir.join("rounds-dirstore")).unwrap();
        let mut routines = routines(&source, &dir, &store);
        let mut best = vec![Duration::MAX; routines.len()];
        for _ in 0..rounds {
            for (i, (_, f)) in routines.iter_mut().enumerate() {
                best[i] = best[i].min(timed(1, &mut **f));
            }
        }
        for ((name, _), t) in routines.iter().zip(&best) {
            println!(
                "rounds {mb} MiB: {name:<27} least {:.2} ms",
                t.as_secs_f64() * 1e3
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench_cdc, bench_ingest, interleaved_rounds);
criterion_main!(benches);
