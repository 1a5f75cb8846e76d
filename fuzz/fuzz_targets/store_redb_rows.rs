//! `RedbStore` reading hostile rows: the bytes of an object's row (an inline
//! value or a list of extents) and of chunk 1 that it may name, written
//! straight into the file with redb, as damage or a hostile file would leave
//! them. Every call over them must give a value or a typed error: never a
//! panic, an overflow or an aborting allocation.
//!
//! Input: the first byte is where the row ends (capped at the input's
//! length); the rest is the row, then the chunk.
#![no_main]

use blocksmith_store::{
    ByteRange, ComposePart, GetOptions, Key, PutOptions, RedbStore, Store, StoreExt, block_on,
};
use libfuzzer_sys::fuzz_target;
use redb::{Database, TableDefinition};
use std::path::PathBuf;
use std::sync::OnceLock;

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const CHUNKS: TableDefinition<u64, &[u8]> = TableDefinition::new("chunks");
const REFS: TableDefinition<u64, u64> = TableDefinition::new("chunk_refs");

fn path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("blocksmith-fuzz-redb-{}.redb", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let body = data.get(1..).unwrap_or(&[]);
    let split = usize::from(data.first().copied().unwrap_or(0)).min(body.len());
    let (row, chunk) = body.split_at(split);
    let path = path();
    let _ = std::fs::remove_file(path);
    // A fresh file of today's format, then the hostile row and chunk.
    drop(RedbStore::open(path).expect("create a scratch store"));
    {
        let db = Database::create(path).expect("open the scratch file with redb");
        let txn = db.begin_write().expect("write transaction");
        {
            let mut objects = txn.open_table(OBJECTS).expect("objects");
            objects.insert("k", row).expect("insert row");
            let mut chunks = txn.open_table(CHUNKS).expect("chunks");
            chunks.insert(1u64, chunk).expect("insert chunk");
            let mut refs = txn.open_table(REFS).expect("refs");
            refs.insert(1u64, 1u64).expect("insert ref");
        }
        txn.commit().expect("commit");
    }
    let store = RedbStore::open(path).expect("reopen the store");
    let key = Key::new("k").expect("valid key");
    let _ = block_on(store.get(&key, GetOptions::new()));
    for range in [
        ByteRange::Bounded(1..40),
        ByteRange::Bounded(70_000..1_200_000),
        ByteRange::Suffix(7),
        ByteRange::From(65_536),
    ] {
        let _ = block_on(store.get(&key, GetOptions::new().with_range(range)));
    }
    let _ = block_on(store.head(&key));
    let _ = store.blocking().list_all("");
    let target = Key::new("t").expect("valid key");
    let parts = [
        ComposePart::new(key.clone()).with_range(ByteRange::Bounded(3..70_000)),
        ComposePart::new(key.clone()),
    ];
    let _ = block_on(store.compose(&target, &parts, PutOptions::new()));
    let _ = block_on(store.get(&target, GetOptions::new()));
    let _ = store.blocking().delete(&target);
    let _ = store.blocking().put(&key, "over");
    let _ = store.blocking().delete(&key);
});
