//! Several writers and readers on one stored feed: saves form one chain,
//! nothing is lost, a lost race is retried, and the result is the feed a
//! single writer makes by applying every change in the order the saves
//! committed.

use super::{HOUR, key, read_all};
use blocksmith_feed::persist::{GraphRecord, LogBody, LogEntry, RecordKey, stamp, unstamp};
use blocksmith_feed::{Error, Feed, FeedOptions, FeedStore, Interaction, Kind, PostId, UserId};
use blocksmith_store::record::Record;
use blocksmith_store::{Key, MemoryStore, StoreExt};
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::fmt::Write as _;

const USERS: u32 = 24;
/// After every post the tests make, within the default 3-day window.
const NOW: i64 = 60 * HOUR;
const PER_WRITER: usize = 60;

fn config() -> FeedOptions {
    // Small inboxes and a low celebrity threshold: trimming, horizons and
    // pulled authors are all in play.
    FeedOptions::default()
        .with_inbox_cap(6)
        .with_celebrity_threshold(6)
        .with_page_size(4)
}

/// One change a writer makes. Every op succeeds or changes nothing, so
/// that its effect depends only on the feed it is applied to.
#[derive(Clone, Copy, Debug)]
enum Op {
    Follow(u32, u32),
    Unfollow(u32, u32),
    Publish(u32, i64),
    Reshare(u32, u64, i64),
    Like(u32, u64, i64),
    Mute(u32, u32),
    Delete(u64),
    Seen(u32, u64),
}

fn apply(f: &mut Feed, op: Op) {
    let u = UserId;
    // The post an op names, among those that exist now.
    let post = |f: &Feed, n: u64| -> Option<PostId> {
        let len = f.posts().len() as u64;
        (len > 0).then(|| PostId(n % len))
    };
    match op {
        Op::Follow(a, b) if a != b => drop(f.follow(u(a), u(b))),
        Op::Unfollow(a, b) => drop(f.unfollow(u(a), u(b))),
        Op::Publish(a, ts) => drop(f.publish(u(a), ts, Kind::Text)),
        Op::Reshare(a, n, ts) => {
            if let Some(p) = post(f, n) {
                let _ = f.reshare(u(a), p, ts);
            }
        }
        Op::Like(a, n, ts) => {
            if let Some(p) = post(f, n) {
                let _ = f.interact(u(a), p, Interaction::Like, ts);
            }
        }
        Op::Mute(a, b) if a != b => drop(f.mute(u(a), u(b))),
        Op::Delete(n) => {
            if let Some(p) = post(f, n) {
                let _ = f.delete(p);
            }
        }
        Op::Seen(a, n) => {
            if let Some(p) = post(f, n) {
                let _ = f.mark_seen(u(a), [p]);
            }
        }
        _ => {}
    }
}

fn ops(seed: u64, n: usize) -> Vec<Op> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let (a, b) = (
                (next() % u64::from(USERS)) as u32,
                (next() % u64::from(USERS)) as u32,
            );
            let ts = (i as i64 + 1) * HOUR / 7 + (next() % 1000) as i64;
            match next() % 16 {
                0..=4 => Op::Follow(a, b),
                5 => Op::Unfollow(a, b),
                6..=9 => Op::Publish(a, ts),
                10 => Op::Reshare(a, next(), ts),
                11 | 12 => Op::Like(a, next(), ts),
                13 => Op::Mute(a, b),
                14 => Op::Delete(next()),
                _ => Op::Seen(a, next()),
            }
        })
        .collect()
}

/// Everything a restart must reproduce, as text.
fn summary(f: &Feed) -> String {
    let mut out = format!("{:?}\n", f.posts());
    for i in 0..USERS {
        let u = UserId(i);
        let _ = writeln!(
            out,
            "{i}: {:?} {:?} {:?} {}\n   {:?}",
            f.followees(u),
            f.followers(u),
            f.inbox(u),
            f.is_seen(u, PostId(0)),
            read_all(f, u, NOW)
                .iter()
                .map(|i| i.post.0)
                .collect::<Vec<_>>()
        );
    }
    out
}

/// Three writers change one feed at once through `update`, while a reader
/// pages through feeds, refreshing between pages. Every update is one
/// save of its own; replaying the changes in the order their saves
/// committed gives exactly the stored feed.
#[test]
fn concurrent_writers_make_the_feed_a_single_writer_would() {
    let store = MemoryStore::new();
    let fs = FeedStore::new(&store, "shared").unwrap();
    let mut committed: Vec<(u64, bool, Op)> = Vec::new();
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..3u64)
            .map(|w| {
                let fs = &fs;
                s.spawn(move || {
                    let mut f = fs.blocking().load(config(), key()).unwrap();
                    let mut done = Vec::new();
                    for op in ops(w + 1, PER_WRITER) {
                        let ((), stats) = fs
                            .blocking()
                            .update(&mut f, |f| {
                                apply(f, op);
                                Ok(())
                            })
                            .unwrap();
                        done.push((stats.generation, stats.keys == 0, op));
                    }
                    done
                })
            })
            .collect();
        let reader = s.spawn(|| {
            let mut f = fs.blocking().load(config(), key()).unwrap();
            let mut sessions = 0;
            for round in 0..40u32 {
                let u = UserId(round % USERS);
                let mut seen = BTreeSet::new();
                let mut page = f.read(u, None, NOW).unwrap();
                loop {
                    for item in &page.items {
                        assert!(seen.insert(item.post), "{u}: {} served twice", item.post);
                    }
                    let Some(next) = page.next else { break };
                    // Other writers save meanwhile: the cursor's snapshot
                    // still holds on the refreshed feed.
                    fs.blocking().refresh(&mut f).unwrap();
                    page = f.read(u, Some(&next), NOW).unwrap();
                }
                sessions += 1;
            }
            sessions
        });
        for w in writers {
            committed.extend(w.join().unwrap());
        }
        assert_eq!(reader.join().unwrap(), 40);
    });
    // Every change that wrote something is a save of its own.
    let mut gens: Vec<u64> = committed.iter().filter(|c| !c.1).map(|c| c.0).collect();
    gens.sort_unstable();
    let n = gens.len() as u64;
    assert_eq!(gens, (1..=n).collect::<Vec<_>>(), "saves form one chain");
    assert!(n > PER_WRITER as u64, "{n} saves");
    // A change that wrote nothing saw the feed as of its generation.
    committed.sort_by_key(|c| (c.0, c.1));
    let mut replay = Feed::new(config(), key());
    for &(_, _, op) in &committed {
        apply(&mut replay, op);
    }
    let stored = fs.blocking().load(config(), key()).unwrap();
    assert_eq!(stored.generation(), n);
    let served: usize = (0..USERS)
        .map(|u| read_all(&stored, UserId(u), NOW).len())
        .sum();
    assert!(served > 100, "timelines are not empty: {served}");
    assert_eq!(summary(&stored), summary(&replay));
}

/// A plain `save` from a feed that is behind gets a typed conflict, keeps
/// its changes unsaved, and overwrites nothing.
#[test]
fn a_stale_save_is_a_conflict_and_writes_nothing() {
    let store = MemoryStore::new();
    let fs = FeedStore::new(&store, "x").unwrap();
    let mut a = Feed::new(config(), key());
    a.follow(UserId(1), UserId(2)).unwrap();
    fs.blocking().save(&mut a).unwrap();
    let mut b = fs.blocking().load(config(), key()).unwrap();
    a.publish(UserId(2), HOUR, Kind::Text).unwrap();
    fs.blocking().save(&mut a).unwrap();
    b.publish(UserId(3), HOUR, Kind::Photo).unwrap();
    let before = store.blocking().list_all("").unwrap();
    assert!(matches!(
        fs.blocking().save(&mut b),
        Err(Error::Conflict(_))
    ));
    assert!(b.has_unsaved_changes());
    assert_eq!(
        store.blocking().list_all("").unwrap(),
        before,
        "nothing written"
    );
    // Refreshing over unsaved changes is refused; update retries on a reload.
    assert!(matches!(
        fs.blocking().refresh(&mut b),
        Err(Error::Invalid(_))
    ));
    let mut b = fs.blocking().load(config(), key()).unwrap();
    let (p, _) = fs
        .blocking()
        .update(&mut b, |f| f.publish(UserId(3), HOUR, Kind::Photo))
        .unwrap();
    assert_eq!(p, PostId(1));
    // A feed never loaded from this store cannot save over the stored one.
    let mut fresh = Feed::new(config(), key());
    fresh.follow(UserId(5), UserId(6)).unwrap();
    assert!(matches!(
        fs.blocking().save(&mut fresh),
        Err(Error::Conflict(_))
    ));
    let back = fs.blocking().load(config(), key()).unwrap();
    assert_eq!(back.posts().len(), 2);
    assert!(
        back.followees(UserId(5))
            .is_none_or(roaring::RoaringBitmap::is_empty)
    );
}

/// A failed closure leaves neither its changes in memory nor in the store.
#[test]
fn an_update_whose_change_fails_changes_nothing() {
    let store = MemoryStore::new();
    let fs = FeedStore::new(&store, "x").unwrap();
    let mut f = Feed::new(config(), key());
    f.follow(UserId(1), UserId(2)).unwrap();
    fs.blocking().save(&mut f).unwrap();
    let err = fs.blocking().update(&mut f, |f| {
        f.follow(UserId(3), UserId(4))?;
        f.follow(UserId(5), UserId(5)) // invalid
    });
    assert!(matches!(err, Err(Error::Invalid(_))));
    assert!(!f.has_unsaved_changes());
    assert!(
        f.followees(UserId(3))
            .is_none_or(roaring::RoaringBitmap::is_empty)
    );
    assert_eq!(f.generation(), 1);
}

/// A refreshed feed equals a fresh load; a reader far behind (its saves'
/// log entries removed) is reloaded whole. Old log entries and the parts
/// of a large save are removed, so the log stays bounded.
#[test]
fn refresh_catches_up_and_the_log_stays_bounded() {
    let store = MemoryStore::new();
    let fs = FeedStore::new(&store, "big").unwrap();
    // One save too large for its log entry: its records go into parts.
    let mut f = Feed::new(config().with_max_users(1 << 20), key());
    for u in 0..30_000u32 {
        f.follow(UserId(u), UserId((u * 7 + 1) % 30_000)).unwrap();
        f.follow(UserId(u), UserId((u * 13 + 5) % 30_000)).unwrap();
    }
    let stats = fs.blocking().save(&mut f).unwrap();
    assert!(stats.bytes > 1 << 20, "{stats:?}");
    assert!(
        !store
            .blocking()
            .list_all("feed/big/journal/")
            .unwrap()
            .is_empty()
    );
    let options = config().with_max_users(1 << 20);
    let mut behind = fs.blocking().load(options.clone(), key()).unwrap();
    let mut near = fs.blocking().load(options.clone(), key()).unwrap();
    for (i, op) in ops(9, 330).into_iter().enumerate() {
        fs.blocking()
            .update(&mut f, |f| {
                apply(f, op);
                f.publish(UserId(i as u32 % USERS), i as i64 * HOUR / 10, Kind::Text)?;
                Ok(())
            })
            .unwrap();
        if i == 20 {
            assert!(fs.blocking().refresh(&mut near).unwrap() > 20);
        }
    }
    let logs = store.blocking().list_all("feed/big/log/").unwrap().len();
    assert!(logs <= 256 + 64 + 1, "{logs} log entries kept");
    assert!(
        store
            .blocking()
            .list_all("feed/big/journal/")
            .unwrap()
            .is_empty(),
        "the large save's parts were removed with its entry"
    );
    let fresh = fs.blocking().load(options, key()).unwrap();
    assert_eq!(fresh.generation(), 331);
    for g in [&mut behind, &mut near] {
        fs.blocking().refresh(g).unwrap();
        assert_eq!(g.generation(), 331);
        assert_eq!(summary(g), summary(&fresh));
        assert_eq!(g.stats().follows, fresh.stats().follows);
    }
}

/// The single-writer format (unstamped records, a journal named by `meta`)
/// still loads, and the first save moves it to the log.
#[test]
fn a_feed_saved_in_the_single_writer_format_loads_and_saves() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct OldMeta {
        posts: u64,
        journal: Option<OldJournal>,
    }
    #[derive(serde::Serialize, serde::Deserialize)]
    struct OldJournal {
        id: u64,
        parts: u32,
        len: u64,
        hash: String,
    }
    impl Record for OldMeta {
        const KIND: &'static str = "feed.meta";
        const VERSION: u32 = 1;
    }
    let store = MemoryStore::new();
    let s = store.blocking();
    let put = |k: &str, v: Vec<u8>| {
        s.put(&Key::new(format!("feed/old/{k}")).unwrap(), v)
            .unwrap()
    };
    // What the old code wrote for: 1 follows 2, 2 posted once; and a
    // committed journal that makes 1 follow 3 as well.
    let mut reference = Feed::new(config(), key());
    reference.follow(UserId(1), UserId(2)).unwrap();
    reference.publish(UserId(2), HOUR, Kind::Text).unwrap();
    let graph = |f: &Feed, u| GraphRecord {
        followees: f.followees(UserId(u)).cloned().unwrap_or_default(),
        ..GraphRecord::default()
    };
    put("graph/00000001", graph(&reference, 1).encode());
    put(
        "inbox/00000001",
        reference.inbox(UserId(1)).unwrap().encode(),
    );
    put(
        "posts/00000000",
        blocksmith_feed::persist::PostBlock {
            posts: reference.posts().to_vec(),
        }
        .encode(),
    );
    reference.follow(UserId(1), UserId(3)).unwrap();
    let name = "feed/old/graph/00000001";
    let rec = graph(&reference, 1).encode();
    let mut body = vec![name.len() as u8];
    body.extend_from_slice(name.as_bytes());
    body.push(rec.len() as u8);
    body.extend_from_slice(&rec);
    put("journal/0000000000000007/000000", body.clone());
    let meta = OldMeta {
        posts: 1,
        journal: Some(OldJournal {
            id: 7,
            parts: 1,
            len: body.len() as u64,
            hash: blake3::hash(&body).to_hex().to_string(),
        }),
    };
    s.put_record(
        &Key::new("feed/old/meta").unwrap(),
        &meta,
        blocksmith_store::PutOptions::new(),
    )
    .unwrap();
    let fs = FeedStore::new(&store, "old").unwrap();
    let mut f = fs.blocking().load(config(), key()).unwrap();
    assert_eq!(summary(&f), summary(&reference));
    assert!(f.has_unsaved_changes(), "the journal is written again");
    let stats = fs.blocking().save(&mut f).unwrap();
    assert_eq!((stats.keys, stats.generation), (1, 1));
    let stored = s.get(&Key::new(name).unwrap()).unwrap().data;
    assert_eq!(unstamp(&stored).unwrap(), (1, rec.as_slice()));
    let back = fs.blocking().load(config(), key()).unwrap();
    assert_eq!(summary(&back), summary(&reference));
}

proptest! {
    #[test]
    fn log_entries_round_trip(
        generation in 1u64..u64::MAX,
        prev in any::<u64>(),
        posts in any::<u64>(),
        users in proptest::collection::btree_map(any::<u32>(), proptest::collection::vec(any::<u8>(), 0..40), 0..12),
        parts in proptest::option::of((any::<u32>(), any::<u64>(), any::<[u8; 32]>())),
    ) {
        let body = match parts {
            Some((parts, len, hash)) => LogBody::Parts { parts, len, hash },
            None => LogBody::Inline(
                users
                    .into_iter()
                    .enumerate()
                    .map(|(i, (u, v))| {
                        let rk = match i % 4 {
                            0 => RecordKey::Graph(UserId(u)),
                            1 => RecordKey::Inbox(UserId(u)),
                            2 => RecordKey::State(UserId(u)),
                            _ => RecordKey::Posts(u64::from(u)),
                        };
                        (rk, v)
                    })
                    .collect::<std::collections::BTreeMap<_, _>>()
                    .into_iter()
                    .collect(),
            ),
        };
        let e = LogEntry { generation, prev, posts, body };
        prop_assert_eq!(LogEntry::decode(&e.encode()).unwrap(), e);
    }

    #[test]
    fn stamps_round_trip(generation in any::<u64>(), record in proptest::collection::vec(any::<u8>(), 0..50)) {
        let stamped = stamp(generation, &record);
        prop_assert_eq!(unstamp(&stamped).unwrap(), (generation, record.as_slice()));
    }

    #[test]
    fn record_key_names_round_trip(u in any::<u32>(), b in any::<u64>()) {
        for rk in [RecordKey::Graph(UserId(u)), RecordKey::Inbox(UserId(u)), RecordKey::State(UserId(u)), RecordKey::Posts(b)] {
            prop_assert_eq!(RecordKey::parse(&rk.name()), Some(rk));
        }
    }

    #[test]
    fn hostile_log_entries_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = LogEntry::decode(&bytes);
        let mut framed = b"FL\x01".to_vec();
        framed.extend_from_slice(&bytes);
        if let Ok(e) = LogEntry::decode(&framed) {
            prop_assert_eq!(LogEntry::decode(&e.encode()).unwrap(), e);
        }
        let _ = unstamp(&bytes);
        let _ = RecordKey::parse(&String::from_utf8_lossy(&bytes));
    }
}
