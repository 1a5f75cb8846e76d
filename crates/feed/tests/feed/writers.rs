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
    let mut own = Vec::new();
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
                    (done, f)
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
            let (done, f) = w.join().unwrap();
            committed.extend(done);
            own.push(f);
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
    // Each writer's own feed, after the races it lost (each undone by
    // reading back what its change touched), refreshes to the same feed.
    for mut f in own {
        fs.blocking().refresh(&mut f).unwrap();
        assert_eq!(summary(&f), summary(&stored));
    }
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
    let fs = FeedStore::new(&store, "big")
        .unwrap()
        .with_log_retention(100);
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
    assert!(logs <= 100 + 25 + 1, "{logs} log entries kept");
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

/// A store whose reply to the next compare-and-swap of a feed's `meta` is
/// lost: the put is applied, `meanwhile` runs (another writer saving on
/// top), then the caller gets `reply` and, for `blind_reads` more reads of
/// `meta`, an error.
/// What runs while the reply is lost, and the reply.
type Armed<'a> = (Box<dyn FnOnce() + Send + 'a>, blocksmith_store::Error);

struct LostReply<'a> {
    inner: &'a MemoryStore,
    armed: std::sync::Mutex<Option<Armed<'a>>>,
    blind_reads: std::sync::atomic::AtomicUsize,
}

impl<'a> LostReply<'a> {
    fn new(inner: &'a MemoryStore) -> Self {
        Self {
            inner,
            armed: std::sync::Mutex::new(None),
            blind_reads: std::sync::atomic::AtomicUsize::new(0),
        }
    }
    fn arm(
        &self,
        meanwhile: impl FnOnce() + Send + 'a,
        reply: blocksmith_store::Error,
        blind: usize,
    ) {
        *self.armed.lock().unwrap() = Some((Box::new(meanwhile), reply));
        self.blind_reads
            .store(blind, std::sync::atomic::Ordering::SeqCst);
    }
}

impl blocksmith_store::Store for LostReply<'_> {
    fn capabilities(&self) -> blocksmith_store::Capabilities {
        self.inner.capabilities()
    }
    async fn get(
        &self,
        key: &Key,
        options: blocksmith_store::GetOptions,
    ) -> blocksmith_store::Result<blocksmith_store::GetResult> {
        if key.as_str().ends_with("/meta")
            && self.armed.lock().unwrap().is_none()
            && self
                .blind_reads
                .fetch_update(
                    std::sync::atomic::Ordering::SeqCst,
                    std::sync::atomic::Ordering::SeqCst,
                    |n| n.checked_sub(1),
                )
                .is_ok()
        {
            return Err(blocksmith_store::Error::other(std::io::Error::other(
                "network down",
            )));
        }
        self.inner.get(key, options).await
    }
    async fn head(&self, key: &Key) -> blocksmith_store::Result<blocksmith_store::ObjectMeta> {
        self.inner.head(key).await
    }
    async fn put(
        &self,
        key: &Key,
        value: blocksmith_store::Bytes,
        options: blocksmith_store::PutOptions,
    ) -> blocksmith_store::Result<blocksmith_store::PutResult> {
        let cas = key.as_str().ends_with("/meta")
            && matches!(options.mode, blocksmith_store::PutMode::Update(_));
        let armed = if cas {
            self.armed.lock().unwrap().take()
        } else {
            None
        };
        let result = self.inner.put(key, value, options).await;
        match armed {
            Some((meanwhile, reply)) => {
                result.unwrap();
                meanwhile();
                Err(reply)
            }
            None => result,
        }
    }
    async fn delete(&self, key: &Key) -> blocksmith_store::Result<()> {
        self.inner.delete(key).await
    }
    async fn list(
        &self,
        options: blocksmith_store::ListOptions,
    ) -> blocksmith_store::Result<blocksmith_store::ListPage> {
        self.inner.list(options).await
    }
}

/// Saves the first save of the lost-reply tests (1 follows 2); returns it.
fn save_base(fs: &FeedStore<&MemoryStore>) -> Feed {
    let mut base = Feed::new(config(), key());
    base.follow(UserId(1), UserId(2)).unwrap();
    fs.blocking().save(&mut base).unwrap();
    base
}

/// Another writer publishes on top of whatever is stored.
fn other_writer_publishes(store: &MemoryStore, author: u32) {
    let fs = FeedStore::new(store, "x").unwrap();
    let mut f = fs.blocking().load(config(), key()).unwrap();
    fs.blocking()
        .update(&mut f, |f| f.publish(UserId(author), 2 * HOUR, Kind::Photo))
        .unwrap();
}

/// The store applies a save's commit but its reply is lost (answered as a
/// conflict by a retried request, or as an error), and another writer
/// saves on top before the saver looks: the save is found on the chain and
/// reported saved, its log entry stays, and `update` never runs the change
/// twice.
#[test]
fn a_commit_whose_reply_is_lost_is_found_on_the_chain() {
    let replies = [
        blocksmith_store::Error::PreconditionFailed { key: "meta".into() },
        blocksmith_store::Error::other(std::io::Error::other("connection reset")),
    ];
    for (i, reply) in replies.into_iter().enumerate() {
        let store = MemoryStore::new();
        let plain = FeedStore::new(&store, "x").unwrap();
        let base = save_base(&plain);
        let lossy = LostReply::new(&store);
        let fs = FeedStore::new(&lossy, "x").unwrap();
        let mut f = fs.blocking().load(config(), key()).unwrap();
        lossy.arm(|| other_writer_publishes(&store, 3), reply, 0);
        let mut runs = 0;
        let (p, stats) = fs
            .blocking()
            .update(&mut f, |f| {
                runs += 1;
                f.publish(UserId(2), HOUR, Kind::Text)
            })
            .unwrap_or_else(|e| panic!("reply {i}: {e}"));
        assert_eq!((runs, p, stats.generation), (1, PostId(0), 2), "reply {i}");
        let stored = plain.blocking().load(config(), key()).unwrap();
        assert_eq!(stored.posts().len(), 2, "reply {i}: each post once");
        assert_eq!(stored.generation(), 3);
        // The chain is whole: a feed at the base save refreshes across it.
        let mut behind = base;
        assert_eq!(plain.blocking().refresh(&mut behind).unwrap(), 2);
        assert_eq!(summary(&behind), summary(&stored));
    }
}

/// When the saver cannot even read `meta` after the lost reply, the save is
/// kept in doubt; the next `update` settles it from the chain and does not
/// run the earlier change again.
#[test]
fn a_save_in_doubt_is_settled_by_the_next_update() {
    let store = MemoryStore::new();
    let plain = FeedStore::new(&store, "x").unwrap();
    save_base(&plain);
    let lossy = LostReply::new(&store);
    let fs = FeedStore::new(&lossy, "x").unwrap();
    let mut f = fs.blocking().load(config(), key()).unwrap();
    lossy.arm(
        || other_writer_publishes(&store, 3),
        blocksmith_store::Error::other(std::io::Error::other("connection reset")),
        1,
    );
    let err = fs
        .blocking()
        .update(&mut f, |f| f.publish(UserId(2), HOUR, Kind::Text))
        .unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err}");
    assert!(f.has_unsaved_changes(), "kept in doubt");
    // The next update settles it (it had committed) and makes only its own change.
    let (p, _) = fs
        .blocking()
        .update(&mut f, |f| f.publish(UserId(4), 3 * HOUR, Kind::Video))
        .unwrap();
    assert_eq!(p, PostId(2));
    let stored = plain.blocking().load(config(), key()).unwrap();
    assert_eq!(
        stored
            .posts()
            .iter()
            .map(|p| p.author.0)
            .collect::<Vec<_>>(),
        [2, 3, 4]
    );
    assert_eq!(summary(&f), summary(&stored));
}

/// Records newer than the last save, or records with no `meta` at all, are
/// refused instead of being mixed into a second history; a process of the
/// single-writer format cannot read the new `meta`.
#[test]
fn records_the_chain_does_not_explain_are_refused() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct OldMeta {
        posts: u64,
    }
    impl Record for OldMeta {
        const KIND: &'static str = "feed.meta";
        const VERSION: u32 = 1;
    }
    let store = MemoryStore::new();
    let fs = FeedStore::new(&store, "x").unwrap();
    let mut f = Feed::new(config(), key());
    f.follow(UserId(1), UserId(2)).unwrap();
    fs.blocking().save(&mut f).unwrap();
    let meta = Key::new("feed/x/meta").unwrap();
    assert!(matches!(
        store.blocking().get_record::<OldMeta>(&meta),
        Err(blocksmith_store::Error::SchemaMismatch { .. })
    ));
    let graph = Key::new("feed/x/graph/00000001").unwrap();
    let good = store.blocking().get(&graph).unwrap().data;
    let (_, record) = unstamp(&good).unwrap();
    store.blocking().put(&graph, stamp(99, record)).unwrap();
    assert!(matches!(
        fs.blocking().load(config(), key()),
        Err(Error::Corrupt { .. })
    ));
    store.blocking().put(&graph, good).unwrap();
    assert!(fs.blocking().load(config(), key()).is_ok());
    store.blocking().delete(&meta).unwrap();
    assert!(matches!(
        fs.blocking().load(config(), key()),
        Err(Error::Corrupt { .. })
    ));
}
