//! `DirStore` reading hostile files: the bytes under an object's name (a
//! plain object or a composed object's manifest) and a segment it may point
//! to. Every read must give a value or a typed error, never a panic.
#![no_main]

use blocksmith_store::{ByteRange, DirStore, GetOptions, Key, Store, StoreExt, block_on};
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

fn root() -> &'static (PathBuf, DirStore) {
    static ROOT: OnceLock<(PathBuf, DirStore)> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("blocksmith-fuzz-dir-{}", std::process::id()));
        let store = DirStore::open(&dir).expect("open a scratch DirStore");
        (dir, store)
    })
}

fuzz_target!(|data: &[u8]| {
    let (dir, store) = root();
    let split = usize::from(data.first().copied().unwrap_or(0)).min(data.len());
    let (object, segment) = data.split_at(split);
    let _ = std::fs::write(dir.join("data/k~"), object);
    // A segment under the name the manifest's version gives, if it has one.
    if let Some(v) = object.get(4..20) {
        let version = u128::from_le_bytes(v.try_into().expect("16 bytes"));
        let _ = std::fs::write(dir.join(format!("segs/{version:032x}.0")), segment);
    }
    let key = Key::new("k").expect("valid key");
    let _ = block_on(store.get(&key, GetOptions::new()));
    let _ = block_on(store.get(
        &key,
        GetOptions::new().with_range(ByteRange::Bounded(1..40)),
    ));
    let _ = block_on(store.get(&key, GetOptions::new().with_range(ByteRange::Suffix(7))));
    let _ = block_on(store.head(&key));
    let _ = store.blocking().list_all("");
    let _ = store.blocking().delete(&key);
});
