//! Saving and loading through blocksmith-store; record decoders.

use super::{feed, key};
use blocksmith_feed::persist::{GraphRecord, PostBlock, UserStateRecord};
use blocksmith_feed::sim::{self, SimOptions};
use blocksmith_feed::{Error, FeedOptions, FeedStore, Inbox, Kind, Post, PostId, UserId};
use blocksmith_store::{Key, MemoryStore, RedbStore, Store, StoreExt, block_on};
use proptest::prelude::*;

fn config() -> FeedOptions {
    FeedOptions::default()
        .with_inbox_cap(30)
        .with_celebrity_threshold(40)
}

fn round_trip<S: Store>(store: S) {
    let mut f = feed(config());
    let r = sim::run(&mut f, &SimOptions::new(200, 3000).with_churn_rate(0.1)).unwrap();
    for u in 0..20 {
        let items = f.read(UserId(u), None, r.end_ms).unwrap().items;
        f.mark_seen(UserId(u), items.iter().take(3).map(|i| i.post))
            .unwrap();
    }
    let fs = FeedStore::new(store, "social").unwrap();
    let stats = block_on(fs.save(&mut f)).unwrap();
    assert!(stats.keys > 200, "{stats:?}");
    let back = block_on(fs.load(config(), key())).unwrap();
    assert_eq!(back.posts(), f.posts());
    let (bs, fs_) = (back.stats(), f.stats());
    assert_eq!(
        (
            bs.users,
            bs.posts,
            bs.follows,
            bs.inbox_entries,
            bs.pulled_posts
        ),
        (
            fs_.users,
            fs_.posts,
            fs_.follows,
            fs_.inbox_entries,
            fs_.pulled_posts
        )
    );
    for u in 0..200 {
        let u = UserId(u);
        assert_eq!(back.followees(u), f.followees(u));
        assert_eq!(back.followers(u), f.followers(u));
        assert_eq!(back.inbox(u), f.inbox(u));
        assert_eq!(
            back.read(u, None, r.end_ms).unwrap(),
            f.read(u, None, r.end_ms).unwrap()
        );
    }
    // Incremental: one new post by a small author writes its block and the
    // followers' inboxes, nothing else; a save with no change writes nothing.
    let author = (0..200)
        .map(UserId)
        .find(|&a| (1..5).contains(&f.follower_count(a)))
        .unwrap();
    assert_eq!(
        block_on(fs.save(&mut f)).unwrap().keys,
        0,
        "nothing changed"
    );
    f.publish(author, r.end_ms, Kind::Poll).unwrap();
    let stats = block_on(fs.save(&mut f)).unwrap();
    assert_eq!(stats.keys as u64, 1 + f.follower_count(author));
}

#[test]
fn save_and_load_memory_store() {
    round_trip(MemoryStore::new());
}

#[test]
fn save_and_load_redb() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(RedbStore::open(dir.path().join("feed.redb")).unwrap());
}

#[test]
fn corrupt_records_are_typed_errors() {
    let store = MemoryStore::new();
    let mut f = feed(config());
    f.follow(UserId(1), UserId(2)).unwrap();
    f.publish(UserId(2), 0, Kind::Text).unwrap();
    let fs = FeedStore::new(&store, "x").unwrap();
    block_on(fs.save(&mut f)).unwrap();
    for k in [
        "feed/x/graph/00000001",
        "feed/x/inbox/00000001",
        "feed/x/posts/00000000",
    ] {
        let key = Key::new(k).unwrap();
        let good = store.blocking().get(&key).unwrap().data;
        let mut bad = good.to_vec();
        bad.truncate(bad.len() - 1);
        store.blocking().put(&key, bad).unwrap();
        assert!(
            matches!(
                block_on(fs.load(config(), key_())),
                Err(Error::Corrupt { .. })
            ),
            "{k}"
        );
        store.blocking().put(&key, good).unwrap();
    }
    // A well-formed record naming a user beyond max_users.
    let huge = GraphRecord {
        followees: (0..10u32).map(|i| (1 << 22) + i).collect(),
        ..GraphRecord::default()
    };
    let graph = Key::new("feed/x/graph/00000001").unwrap();
    let good = store.blocking().get(&graph).unwrap().data;
    store.blocking().put(&graph, huge.encode()).unwrap();
    assert!(matches!(
        block_on(fs.load(config(), key_())),
        Err(Error::Corrupt { .. })
    ));
    store.blocking().put(&graph, good).unwrap();
    assert!(block_on(fs.load(config(), key_())).is_ok());
    store
        .blocking()
        .delete(&Key::new("feed/x/posts/00000000").unwrap())
        .unwrap();
    assert!(matches!(
        block_on(fs.load(config(), key_())),
        Err(Error::Corrupt { .. })
    ));
    assert!(FeedStore::new(&store, "a/b").is_err());
}

fn key_() -> blocksmith_feed::CursorKey {
    key()
}

/// The blocking twin saves and loads on the calling thread.
#[test]
fn blocking_twin_saves_and_loads() {
    let mut f = blocksmith_feed::Feed::new(config(), key());
    f.follow(UserId(1), UserId(2)).unwrap();
    let p = f.publish(UserId(2), 1_000, Kind::Text).unwrap();
    let fs = FeedStore::new(MemoryStore::new(), "sync").unwrap();
    let stats = fs.blocking().save(&mut f).unwrap();
    assert!(stats.keys > 1);
    let back = fs.blocking().load(config(), key()).unwrap();
    assert_eq!(back.read(UserId(1), None, 2_000).unwrap().items[0].post, p);
}

#[test]
fn empty_store_loads_an_empty_feed() {
    let fs = FeedStore::new(MemoryStore::new(), "none").unwrap();
    let f = block_on(fs.load(config(), key())).unwrap();
    assert_eq!(f.posts().len(), 0);
}

type PostFields = (
    u32,
    i64,
    u8,
    Option<u64>,
    (u32, u32, u32),
    (f64, i32),
    bool,
    bool,
);

fn post_fields() -> impl Strategy<Value = PostFields> {
    (
        any::<u32>(),
        any::<i64>(),
        0u8..5,
        proptest::option::of(any::<u64>()),
        (any::<u32>(), any::<u32>(), any::<u32>()),
        (0.0f64..1e9, any::<i32>()),
        any::<bool>(),
        any::<bool>(),
    )
}

fn make_post(id: u64, f: PostFields) -> Post {
    let (a, ts, k, back, (l, c, s), (v, vd), del, pushed) = f;
    Post {
        id: PostId(id),
        author: UserId(a),
        ts,
        kind: Kind::from_id(k).unwrap(),
        reshare_of: back.filter(|_| id > 0).map(|b| PostId(id - 1 - b % id)),
        likes: l,
        comments: c,
        shares: s,
        velocity: v,
        velocity_ts: ts.wrapping_add(i64::from(vd)),
        deleted: del,
        pushed,
    }
}

proptest! {
    #[test]
    fn post_blocks_round_trip(first in 0u64..1_000_000, fields in proptest::collection::vec(post_fields(), 0..20)) {
        let posts: Vec<Post> = fields
            .into_iter()
            .enumerate()
            .map(|(i, f)| make_post(first + i as u64, f))
            .collect();
        let block = PostBlock { posts };
        prop_assert_eq!(PostBlock::decode(&block.encode()).unwrap(), block);
    }

    #[test]
    fn graph_and_state_records_round_trip(
        a in proptest::collection::btree_set(any::<u32>(), 0..50),
        b in proptest::collection::btree_set(any::<u32>(), 0..10),
        aff in proptest::collection::btree_map(any::<u32>(), (-1e6f64..1e6, any::<i64>()), 0..30),
        seen in proptest::collection::btree_set(any::<u64>(), 0..50),
    ) {
        let g = GraphRecord {
            followees: a.iter().copied().collect(),
            muted: b.iter().copied().collect(),
            blocked: a.iter().rev().take(3).copied().collect(),
        };
        prop_assert_eq!(GraphRecord::decode(&g.encode()).unwrap(), g);
        let s = UserStateRecord {
            affinity: aff.iter().map(|(&u, &(v, t))| (UserId(u), v, t)).collect(),
            seen: seen.iter().copied().collect(),
        };
        prop_assert_eq!(UserStateRecord::decode(&s.encode()).unwrap(), s);
    }

    #[test]
    fn hostile_records_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = GraphRecord::decode(&bytes);
        let _ = UserStateRecord::decode(&bytes);
        let _ = PostBlock::decode(&bytes);
        let _ = Inbox::decode(&bytes);
        let mut framed = vec![1u8];
        framed.extend_from_slice(&bytes);
        let _ = GraphRecord::decode(&framed);
        let _ = UserStateRecord::decode(&framed);
        let _ = PostBlock::decode(&framed);
    }
}

/// Found by the `feed_records` fuzz target: the post-block decoder required 16 bytes per post,
/// but a post with small fields (early timestamps, no engagement) encodes in 15, so a saved
/// feed of two such posts failed to load as "corrupt".
#[test]
fn blocks_of_the_smallest_posts_load_back() {
    let mut f = feed(config());
    f.follow(UserId(1), UserId(2)).unwrap();
    for ts in 0..3 {
        f.publish(UserId(2), ts, Kind::Text).unwrap();
    }
    let block = PostBlock {
        posts: (0..3).map(|i| f.post(PostId(i)).unwrap().clone()).collect(),
    };
    assert_eq!(block.encode().len(), 3 + 3 * 15);
    assert_eq!(PostBlock::decode(&block.encode()).unwrap(), block);
    let store = MemoryStore::new();
    let fs = FeedStore::new(&store, "small").unwrap();
    block_on(fs.save(&mut f)).unwrap();
    let back = block_on(fs.load(config(), key())).unwrap();
    assert_eq!(back.post(PostId(2)).unwrap(), f.post(PostId(2)).unwrap());
}
