//! Series over a store: sealing, range queries that skip chunks, late
//! writes, rollups, rates, retention, reopening.

use blocksmith_store::{DirStore, Key, MemoryStore, StoreExt, block_on};
use blocksmith_tsz::series::{LatePolicy, Series, SeriesOptions};
use blocksmith_tsz::{Error, TimeUnit};

fn cfg() -> SeriesOptions {
    SeriesOptions::new(TimeUnit::Seconds).with_max_points(100)
}

#[test]
fn range_decodes_only_needed_chunks() {
    block_on(async {
        let store = MemoryStore::new();
        let mut s = Series::open(&store, "cpu", cfg()).await.unwrap();
        for t in 0..1050 {
            s.append(t * 10, t as f64 * 0.5).await.unwrap();
        }
        assert_eq!(s.sealed_chunks(), 10);
        assert_eq!(s.len(), 1050);
        let (points, stats) = s.range(2000, 2990).await.unwrap();
        assert_eq!(points.len(), 100);
        assert_eq!(points[0], (2000, 100.0));
        assert_eq!(stats.chunks_total, 10);
        assert_eq!(
            stats.chunks_decoded, 1,
            "only the chunk covering [2000, 2990]"
        );
        // The head (unsealed) is part of the answer too.
        let (tail, stats) = s.range(10_400, 20_000).await.unwrap();
        assert_eq!(tail.len(), 10);
        assert_eq!(stats.chunks_decoded, 0, "served from the head alone");
    });
}

#[test]
fn out_of_order_in_head_is_sorted_and_late_writes_follow_policy() {
    block_on(async {
        let store = MemoryStore::new();
        let mut s = Series::open(&store, "m", cfg()).await.unwrap();
        for t in [5, 3, 4, 1, 2] {
            s.append(t, t as f64).await.unwrap();
        }
        let (p, _) = s.range(0, 10).await.unwrap();
        assert_eq!(p.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        s.seal().await.unwrap();
        s.append(10, 10.0).await.unwrap();
        match s.append(2, 99.0).await {
            Err(Error::LateWrite {
                timestamp: 2,
                sealed_until: 5,
            }) => {}
            other => panic!("{other:?}"),
        }
        let mut merging = Series::open(&store, "m", cfg().with_late_policy(LatePolicy::Merge))
            .await
            .unwrap();
        merging.append(2, 99.0).await.unwrap();
        let (p, _) = merging.range(0, 5).await.unwrap();
        assert_eq!(
            p,
            [(1, 1.0), (2, 2.0), (2, 99.0), (3, 3.0), (4, 4.0), (5, 5.0)]
        );
    });
}

#[test]
fn reopen_gives_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    block_on(async {
        let store = DirStore::open(dir.path()).unwrap();
        let mut s = Series::open(&store, "disk/io", cfg()).await.unwrap();
        let pts: Vec<(i64, f64)> = (0..345).map(|t| (t, (t * 7 % 13) as f64)).collect();
        s.append_all(&pts).await.unwrap();
        s.flush().await.unwrap();
        let before = s.range(i64::MIN, i64::MAX).await.unwrap().0;
        drop(s);
        let s = Series::open(&store, "disk/io", cfg()).await.unwrap();
        assert_eq!(s.sealed_chunks(), 3);
        assert_eq!(s.range(i64::MIN, i64::MAX).await.unwrap().0, before);
        assert_eq!(before, pts);
        match Series::open(&store, "disk/io", SeriesOptions::new(TimeUnit::Millis)).await {
            Err(Error::SeriesMismatch { .. }) => {}
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn stale_head_after_crash_is_not_doubled() {
    block_on(async {
        let store = MemoryStore::new();
        let mut s = Series::open(&store, "x", cfg()).await.unwrap();
        for t in 0..50 {
            s.append(t, 1.0).await.unwrap();
        }
        s.flush().await.unwrap();
        let key = Key::new("tsz/x/heads/0000000000").unwrap();
        let head = store.blocking().get(&key).unwrap();
        s.seal().await.unwrap();
        // Simulate a crash after the chunk was written but before the head was deleted.
        store.blocking().put(&key, head.data).unwrap();
        let s = Series::open(&store, "x", cfg()).await.unwrap();
        assert_eq!(s.len(), 50);
    });
}

/// A stale head that is only part of the chunk sealed after it (flushed,
/// then more appends, then a seal cut short before the head was deleted)
/// is not read again either.
#[test]
fn partial_stale_head_after_crash_is_not_doubled() {
    block_on(async {
        let store = MemoryStore::new();
        let mut s = Series::open(&store, "x", cfg()).await.unwrap();
        for t in 0..30 {
            s.append(t, 1.0).await.unwrap();
        }
        s.flush().await.unwrap();
        let key = Key::new("tsz/x/heads/0000000000").unwrap();
        let head = store.blocking().get(&key).unwrap();
        for t in 30..100 {
            s.append(t, 1.0).await.unwrap(); // seals at 100 points
        }
        assert_eq!(s.sealed_chunks(), 1);
        store.blocking().put(&key, head.data).unwrap();
        let mut s = Series::open(&store, "x", cfg()).await.unwrap();
        assert_eq!(s.len(), 100);
        // The next write removes the stale head.
        s.append(100, 2.0).await.unwrap();
        s.flush().await.unwrap();
        assert!(store.blocking().get_opt(&key).unwrap().is_none());
        assert_eq!(Series::open(&store, "x", cfg()).await.unwrap().len(), 101);
    });
}

/// A store written by an earlier version keeps its head at `tsz/<name>/head`:
/// it is read, and moved to a numbered head by the next flush.
#[test]
fn unnumbered_head_of_earlier_versions_is_read_and_moved() {
    block_on(async {
        let store = MemoryStore::new();
        let mut s = Series::open(&store, "x", cfg()).await.unwrap();
        for t in 0..130 {
            s.append(t, t as f64).await.unwrap();
        }
        s.flush().await.unwrap();
        // As an earlier version left it: the head without a number.
        let numbered = Key::new("tsz/x/heads/0000000001").unwrap();
        let legacy = Key::new("tsz/x/head").unwrap();
        let head = store.blocking().get(&numbered).unwrap();
        store.blocking().put(&legacy, head.data).unwrap();
        store.blocking().delete(&numbered).unwrap();
        let mut s = Series::open(&store, "x", cfg()).await.unwrap();
        assert_eq!(s.len(), 130);
        s.append(130, 0.5).await.unwrap();
        s.flush().await.unwrap();
        assert!(store.blocking().get_opt(&legacy).unwrap().is_none());
        let s = Series::open(&store, "x", cfg()).await.unwrap();
        let (points, _) = s.range(0, 1000).await.unwrap();
        assert_eq!(points.len(), 131);
        assert_eq!(points[129], (129, 129.0));
        assert_eq!(points[130], (130, 0.5));
    });
}

#[test]
fn rollup_rate_and_retention() {
    block_on(async {
        let store = MemoryStore::new();
        let mut s = Series::open(&store, "req", cfg()).await.unwrap();
        // A counter growing 2/s with a reset at t=300.
        for t in 0..600 {
            let v = if t < 300 { 2 * t } else { 2 * (t - 300) };
            s.append(t, v as f64).await.unwrap();
        }
        // 0 -> 598, reset to 0 (counted as restarting from 0), 0 -> 598.
        let rate = s.rate(0, 599).await.unwrap().unwrap();
        assert!((rate - 1196.0 / 599.0).abs() < 1e-9, "rate {rate}");
        // Without the reset handling the drop would subtract 598.
        assert!(rate > 1.9);
        let buckets = s.rollup(0, 599, 60).await.unwrap();
        assert_eq!(buckets.len(), 10);
        let b = buckets[1];
        assert_eq!(
            (b.start, b.count, b.min, b.max, b.last),
            (60, 60, 120.0, 238.0, 238.0)
        );
        assert!((b.avg() - 179.0).abs() < 1e-9);
        let dropped = s.drop_before(250).await.unwrap();
        assert_eq!(dropped, 2);
        assert_eq!(s.range(0, 199).await.unwrap().0.len(), 0);
        assert_eq!(
            store.blocking().list_all("tsz/req/chunks/").unwrap().len(),
            4
        );
    });
}

#[test]
fn seals_by_time_span() {
    block_on(async {
        let store = MemoryStore::new();
        let config = SeriesOptions::new(TimeUnit::Millis)
            .with_max_points(10_000)
            .with_max_span(60_000);
        let mut s = Series::open(&store, "span", config).await.unwrap();
        for t in 0..300 {
            s.append(t * 1000, 1.0).await.unwrap();
        }
        assert_eq!(s.sealed_chunks(), 4, "a chunk per minute of data");
    });
}

/// Found by the `tsz_series_meta` fuzz target: a stored meta record whose chunk counter is at
/// `u64::MAX` overflowed (a panic with overflow checks) at the next seal.
#[test]
fn an_exhausted_chunk_counter_is_an_error_not_an_overflow() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Meta {
        unit: u8,
        next_seq: u64,
    }
    impl blocksmith_store::record::Record for Meta {
        const KIND: &'static str = "tsz.series";
        const VERSION: u32 = 1;
    }
    let store = MemoryStore::new();
    let meta = Meta {
        unit: 0,
        next_seq: u64::MAX,
    };
    store
        .blocking()
        .put(
            &Key::new("tsz/s/meta").unwrap(),
            blocksmith_store::record::encode(&meta).unwrap(),
        )
        .unwrap();
    block_on(async {
        let mut s = Series::open(&store, "s", SeriesOptions::new(TimeUnit::Seconds))
            .await
            .unwrap();
        s.append(1, 1.0).await.unwrap();
        assert!(matches!(s.seal().await, Err(Error::Corrupt(_))));
        // Nothing was written.
        assert!(
            store
                .blocking()
                .list_all("tsz/s/chunks/")
                .unwrap()
                .is_empty()
        );
    });
}

#[test]
fn rollup_and_rate_at_the_extremes_of_time() {
    // Timestamps are caller input: the oldest and newest ones representable
    // must give answers, not overflow.
    let points = [(i64::MIN, 1.0), (-1, 2.0), (i64::MAX, 5.0)];
    let buckets = blocksmith_tsz::series::rollup(&points, 3);
    assert_eq!(buckets.len(), 3);
    // The bucket of i64::MIN starts at the first multiple of 3 at or below
    // it, which is not representable: it is clamped to i64::MIN.
    assert_eq!((buckets[0].start, buckets[0].count), (i64::MIN, 1));
    assert_eq!((buckets[1].start, buckets[1].last), (-3, 2.0));
    assert_eq!(buckets[2].start, i64::MAX - i64::MAX % 3);
    let span = u64::MAX as f64; // i64::MAX - i64::MIN, in seconds
    let rate = blocksmith_tsz::series::rate(&points, TimeUnit::Seconds).unwrap();
    assert!((rate - 4.0 / span).abs() < 1e-30, "rate {rate}");
}

/// The blocking twin: the same calls as the async methods.
#[test]
fn series_blocking_twin() {
    let store = MemoryStore::new();
    let mut s = block_on(Series::open(
        &store,
        "cpu",
        SeriesOptions::new(TimeUnit::Seconds).with_max_points(4),
    ))
    .unwrap();
    let mut sync = s.blocking();
    for t in 0..10 {
        sync.append(t, t as f64 * 1.5).unwrap();
    }
    sync.flush().unwrap();
    let (points, _) = sync.range(2, 6).unwrap();
    let ts: Vec<i64> = points.iter().map(|p| p.0).collect();
    assert_eq!(ts, [2, 3, 4, 5, 6]);
    assert!(sync.drop_before(5).unwrap() > 0);
}

/// Two handles writing one series (two nodes that each opened it): the
/// second one's flush fails instead of overwriting the head the first one
/// flushed, and the first one's points survive a reopen.
#[test]
fn a_second_writer_cannot_erase_flushed_points() {
    let store = MemoryStore::new();
    let mut a = block_on(Series::open(&store, "cpu", cfg())).unwrap();
    block_on(a.append(10, 1.0)).unwrap();
    block_on(a.flush()).unwrap();
    let mut b = block_on(Series::open(&store, "cpu", cfg())).unwrap();
    block_on(a.append(20, 2.0)).unwrap();
    block_on(a.flush()).unwrap();
    block_on(b.append(30, 3.0)).unwrap();
    let r = block_on(b.flush());
    assert!(
        matches!(&r, Err(Error::Store(e)) if e.is_conflict()),
        "the stale writer's flush: {r:?}"
    );
    let s = block_on(Series::open(&store, "cpu", cfg())).unwrap();
    let (got, _) = block_on(s.range(i64::MIN, i64::MAX)).unwrap();
    assert_eq!(got, vec![(10, 1.0), (20, 2.0)]);
}
