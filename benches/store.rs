//! Store throughput: put / get / list of every backend against `std::fs`
//! doing the same work directly, in one run.
//!
//! ```text
//! cargo bench --bench store
//! BENCH_CLOCK=cpu cargo bench --bench store -- put_8MiB   # CPU time of the large puts
//! ```

use blocksmith::store::{DirStore, DynStore, Key, ListOptions, MemoryStore, RedbStore, StoreExt};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

#[path = "support/clock.rs"]
mod clock;
use clock::timed;

const VALUE: usize = 4096;
const LISTED: usize = 1000;

fn backends(dir: &Path) -> Vec<(&'static str, Box<dyn DynStore>)> {
    vec![
        ("memory", Box::new(MemoryStore::new())),
        ("dir", Box::new(DirStore::open(dir.join("dir")).unwrap())),
        (
            "redb",
            Box::new(RedbStore::open(dir.join("db.redb")).unwrap()),
        ),
    ]
}

/// The baseline: what a hand-written crash-safe file write costs (temp file,
/// fsync, rename, fsync of the directory), and a plain `std::fs::write`.
fn fs_write_durable(dir: &Path, name: &str, value: &[u8]) {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = std::fs::File::create(&tmp).unwrap();
    f.write_all(value).unwrap();
    f.sync_all().unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
    std::fs::File::open(dir).unwrap().sync_all().unwrap();
}

fn bench(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let stores = backends(tmp.path());
    let raw = tmp.path().join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    let value = vec![0xA5u8; VALUE];
    let key = Key::new("bench/value").unwrap();

    let mut g = c.benchmark_group("store/put_4KiB");
    g.throughput(Throughput::Bytes(VALUE as u64));
    for (name, s) in &stores {
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| s.blocking().put(&key, value.clone()).unwrap());
        });
    }
    g.bench_function(BenchmarkId::from_parameter("std_fs_durable"), |b| {
        b.iter(|| fs_write_durable(&raw, "value", &value));
    });
    g.bench_function(BenchmarkId::from_parameter("std_fs_write"), |b| {
        b.iter(|| std::fs::write(raw.join("plain"), &value).unwrap());
    });
    g.finish();

    let mut g = c.benchmark_group("store/get_4KiB");
    g.throughput(Throughput::Bytes(VALUE as u64));
    for (name, s) in &stores {
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| black_box(s.blocking().get(&key).unwrap().data));
        });
    }
    g.bench_function(BenchmarkId::from_parameter("std_fs_read"), |b| {
        b.iter(|| black_box(std::fs::read(raw.join("value")).unwrap()));
    });
    g.finish();

    // Listing 1000 keys (one page) against reading a directory of 1000 files.
    let listdir = raw.join("list");
    std::fs::create_dir_all(&listdir).unwrap();
    for (_, s) in &stores {
        for i in 0..LISTED {
            s.blocking()
                .put(&Key::new(format!("list/{i:04}")).unwrap(), vec![1u8; 16])
                .unwrap();
        }
    }
    for i in 0..LISTED {
        std::fs::write(listdir.join(format!("{i:04}")), [1u8; 16]).unwrap();
    }
    let mut g = c.benchmark_group("store/list_1000");
    g.throughput(Throughput::Elements(LISTED as u64));
    for (name, s) in &stores {
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                let page = s
                    .blocking()
                    .list(ListOptions::prefix("list/").with_limit(LISTED))
                    .unwrap();
                assert_eq!(page.objects.len(), LISTED);
            });
        });
    }
    g.bench_function(BenchmarkId::from_parameter("std_fs_read_dir_stat"), |b| {
        b.iter(|| {
            let mut names: Vec<(String, u64)> = std::fs::read_dir(&listdir)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    (
                        e.file_name().into_string().unwrap(),
                        e.metadata().unwrap().len(),
                    )
                })
                .collect();
            names.sort_unstable();
            assert_eq!(names.len(), LISTED);
        });
    });
    g.finish();
}

/// A large durable put into `DirStore`: with direct I/O (the default at
/// 1 MiB and more) from page-aligned memory and from ordinary heap memory
/// (through the bounce buffer), buffered, and the hand-written durable
/// write of the same bytes. With `BENCH_CLOCK=cpu`, thread CPU time
/// (leaving out the wait for the disk).
fn bench_large_put(c: &mut Criterion) {
    const LARGE: usize = 8 << 20;
    let tmp = tempfile::tempdir().unwrap();
    let direct = DirStore::open(tmp.path().join("direct")).unwrap();
    let buffered = DirStore::open(tmp.path().join("buffered"))
        .unwrap()
        .with_direct_io(None);
    let raw = tmp.path().join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    let heap = bytes::Bytes::from(vec![0x5Au8; LARGE]);
    let aligned = {
        let v = vec![0x5Au8; LARGE + 4096];
        let at = v.as_ptr().align_offset(4096);
        bytes::Bytes::from(v).slice(at..at + LARGE)
    };
    let key = Key::new("bench/large").unwrap();
    let mut g = c.benchmark_group("store/put_8MiB_dir");
    g.throughput(Throughput::Bytes(LARGE as u64));
    let cases = [
        ("direct_aligned_memory", &direct, &aligned),
        ("direct_heap_memory", &direct, &heap),
        ("buffered", &buffered, &heap),
    ];
    for (name, store, value) in cases {
        g.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter_custom(|n| timed(n, || store.blocking().put(&key, (*value).clone()).unwrap()));
        });
    }
    g.bench_function(BenchmarkId::from_parameter("std_fs_durable"), |b| {
        b.iter_custom(|n| timed(n, || fs_write_durable(&raw, "large", &heap)));
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench, bench_large_put
}
criterion_main!(benches);
