//! Fuzz target: arbitrary bytes stored as a windowed-aggregation checkpoint.
//! Restoring returns a typed error or a job that keeps processing and
//! flushing without panicking.
#![no_main]

use blocksmith_sketch::aggregate::Welford;
use blocksmith_sketch::window::Windowed;
use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let store = MemoryStore::new();
    let key = Key::new("sketch/window/fuzz").expect("valid key");
    store
        .blocking()
        .put(&key, data.to_vec())
        .expect("memory put");
    if let Ok(Some(mut job)) = block_on(Windowed::<String, f64, Welford>::load(&store, "fuzz")) {
        let _ = job.process("k".to_string(), 0, 1.0);
        let _ = job.process("k".to_string(), i64::MAX, 1.0);
        let _ = job.flush();
    }
});
