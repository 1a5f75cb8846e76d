//! Content-defined chunking dedup across uploads.

use crate::noise;
use blocksmith_store::{MemoryStore, StoreExt, block_on};
use blocksmith_upload::Error;
use blocksmith_upload::cdc::CdcOptions;
use blocksmith_upload::dedup::{DedupStore, Plan};

fn cfg() -> CdcOptions {
    CdcOptions::new(2048, 8192, 32768).unwrap()
}

#[test]
fn second_version_sends_only_changed_chunks() {
    let store = MemoryStore::new();
    let d = DedupStore::new(&store);
    let v1 = noise(1 << 20, 11);
    let mut v2 = v1.to_vec();
    v2.splice(
        300_000..300_000,
        b"an insertion that shifts every later byte".iter().copied(),
    );
    v2.truncate(900_000);
    let r1 = block_on(d.upload("v1", &v1, &Plan::new(&v1, cfg()).unwrap())).unwrap();
    assert_eq!(r1.bytes_sent, v1.len() as u64);
    let plan2 = Plan::new(&v2, cfg()).unwrap();
    assert!(plan2.shared_fraction(&Plan::new(&v1, cfg()).unwrap()) > 0.9);
    let r2 = block_on(d.upload("v2", &v2, &plan2)).unwrap();
    assert!(r2.bytes_sent < 70_000, "sent {}", r2.bytes_sent);
    assert_eq!(r2.bytes_sent + r2.bytes_reused, v2.len() as u64);
    assert_eq!(block_on(d.read("v1")).unwrap(), v1);
    assert_eq!(block_on(d.read("v2")).unwrap(), v2);
    // Deleting v1 and collecting frees only chunks v2 does not use.
    block_on(d.delete("v1")).unwrap();
    let freed = block_on(d.gc()).unwrap();
    assert!(freed > 0);
    assert_eq!(block_on(d.read("v2")).unwrap(), v2);
    block_on(d.delete("v2")).unwrap();
    block_on(d.gc()).unwrap();
    assert!(
        store
            .blocking()
            .list_all("dedup/chunks/")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn repeated_content_inside_one_file_is_sent_once() {
    let store = MemoryStore::new();
    let d = DedupStore::new(&store);
    let block = noise(200_000, 12);
    let mut file = block.to_vec();
    file.extend_from_slice(&block);
    file.extend_from_slice(&block);
    let plan = Plan::new(&file, cfg()).unwrap();
    assert!(plan.internal_dedup_ratio() > 2.5);
    let r = block_on(d.upload("f", &file, &plan)).unwrap();
    assert!(r.bytes_sent < 260_000, "{}", r.bytes_sent);
    assert_eq!(block_on(d.read("f")).unwrap(), file);
}

#[test]
fn wrong_or_missing_chunks_are_refused() {
    let store = MemoryStore::new();
    let d = DedupStore::new(&store);
    let data = noise(50_000, 13);
    let plan = Plan::new(&data, cfg()).unwrap();
    let c = plan.manifest().chunks[0];
    assert!(matches!(
        block_on(d.put_chunk(&c.hash, data.slice(1..=(c.len as usize)))),
        Err(Error::ChecksumMismatch { .. })
    ));
    assert!(matches!(
        block_on(d.commit("x", plan.manifest())),
        Err(Error::ChunkMissing { .. })
    ));
    block_on(d.upload("x", &data, &plan)).unwrap();
    // A chunk rotting in the store is caught on read.
    let key = store.blocking().list_all("dedup/chunks/").unwrap()[0]
        .key
        .clone();
    let mut v = store.blocking().get(&key).unwrap().data.to_vec();
    v[0] ^= 1;
    store.blocking().put(&key, v).unwrap();
    assert!(matches!(
        block_on(d.read("x")),
        Err(Error::ChunkMissing { .. })
    ));
}

#[test]
fn data_other_than_the_planned_file_is_refused_not_a_panic() {
    let store = MemoryStore::new();
    let d = DedupStore::new(&store);
    let data = noise(50_000, 17);
    let plan = Plan::new(&data, cfg()).unwrap();
    // Shorter than the plan: refused before any chunk is read from it.
    assert!(matches!(
        block_on(d.upload("x", &data[..10_000], &plan)),
        Err(Error::Invalid { .. })
    ));
    // Same length, other bytes: the first chunk fails its hash.
    let other = noise(50_000, 19);
    assert!(matches!(
        block_on(d.upload("x", &other, &plan)),
        Err(Error::ChecksumMismatch { .. })
    ));
    assert!(store.blocking().list_all("dedup/").unwrap().is_empty());
}

#[test]
fn a_config_changed_out_of_order_still_chunks_everything() {
    use blocksmith_upload::cdc::{Chunker, cut};
    let data = noise(100_000, 23);
    let mut c = CdcOptions::default();
    c.min_size = 40_000; // above the average and the maximum
    c.avg_size = 1_000;
    c.max_size = 2_000;
    let spans: Vec<_> = Chunker::new(&data, c).collect();
    assert_eq!(spans.iter().map(|s| s.len).sum::<usize>(), data.len());
    assert!(spans.iter().all(|s| s.len >= 1));
    let mut zero = CdcOptions::default();
    zero.min_size = 0;
    zero.avg_size = 0;
    zero.max_size = 0;
    assert_eq!(cut(&data, &zero), 1);
}

/// The blocking twin: the same calls as the async methods.
#[test]
fn dedup_store_blocking_twin() {
    let store = MemoryStore::new();
    let d = DedupStore::new(&store);
    let data = noise(300_000, 21).to_vec();
    let plan = Plan::new(&data, cfg()).unwrap();
    let sync = d.blocking();
    let report = sync.upload("doc", &data, &plan).unwrap();
    assert!(report.chunks_sent > 0);
    assert_eq!(sync.read("doc").unwrap(), data);
    sync.delete("doc").unwrap();
    assert!(sync.read("doc").is_err());
}
