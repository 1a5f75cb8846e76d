//! The `tsz` series `Meta` record read back from a store: arbitrary bytes at `tsz/fz/meta`,
//! then `Series::open` (in the matching and another time unit), appends, a seal and a flush
//! (which read and rewrite it) and queries. Typed errors, never a panic; whatever opens
//! reopens with the points it was given.
#![no_main]

use blocksmith_fuzz::record_bytes;
use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use blocksmith_tsz::TimeUnit;
use blocksmith_tsz::series::{Series, SeriesOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let store = MemoryStore::new();
    let bytes = record_bytes("tsz.series", 1, data);
    store
        .blocking()
        .put(&Key::new("tsz/fz/meta").unwrap(), bytes)
        .unwrap();
    block_on(async {
        let _ = Series::open(&store, "fz", SeriesOptions::new(TimeUnit::Millis)).await;
        let config = SeriesOptions::new(TimeUnit::Seconds).with_max_points(4);
        let Ok(mut s) = Series::open(&store, "fz", config.clone()).await else {
            return;
        };
        for t in 0..10 {
            if s.append(t, t as f64).await.is_err() {
                return;
            }
        }
        if s.seal().await.is_err() || s.flush().await.is_err() {
            return;
        }
        let (points, _) = s.range(0, 9).await.expect("own points read back");
        assert_eq!(points.len(), 10);
        let s = Series::open(&store, "fz", config).await.expect("reopens");
        assert_eq!(s.len(), 10);
        let _ = s.rollup(0, 9, 3).await;
    });
});
