//! Delivery semantics: filters at read, celebrity transitions, backfill,
//! reshare dedup, typed errors.

use super::{HOUR, feed, ids};
use blocksmith_feed::{Error, FeedOptions, Interaction, Kind, PostId, UserId};

const U: UserId = UserId(0);
const A: UserId = UserId(1);
const B: UserId = UserId(2);
const C: UserId = UserId(3);

#[test]
fn unfollow_delete_block_mute_apply_on_next_read() {
    let mut f = feed(FeedOptions::default());
    f.follow(U, A).unwrap();
    f.follow(U, B).unwrap();
    f.follow(U, C).unwrap();
    let a1 = f.publish(A, HOUR, Kind::Text).unwrap();
    let b1 = f.publish(B, 2 * HOUR, Kind::Text).unwrap();
    let c1 = f.publish(C, 3 * HOUR, Kind::Text).unwrap();
    // C reshares A's post: shown once, via C, with shared-by context.
    let r = f.reshare(C, a1, 4 * HOUR).unwrap();
    let page = f.read(U, None, 5 * HOUR).unwrap();
    let mut got = ids(&page.items);
    got.sort_unstable();
    assert_eq!(got, [a1.0, b1.0, c1.0]);
    let item = page.items.iter().find(|i| i.post == a1).unwrap();
    assert_eq!(item.shared_by, [C]);
    assert_eq!(
        (item.via, item.via_post),
        (C, r),
        "the fresher reshare ranks best"
    );

    f.delete(b1).unwrap();
    assert!(!ids(&f.read(U, None, 5 * HOUR).unwrap().items).contains(&b1.0));
    // Unfollowing A: the reshare by C still carries A's post.
    f.unfollow(U, A);
    let page = f.read(U, None, 5 * HOUR).unwrap();
    assert_eq!(page.items.iter().find(|i| i.post == a1).unwrap().via, C);
    // Muting A hides reshares of A's posts too.
    f.mute(U, A).unwrap();
    assert_eq!(ids(&f.read(U, None, 5 * HOUR).unwrap().items), [c1.0]);
    f.unmute(U, A).unwrap();
    assert!(ids(&f.read(U, None, 5 * HOUR).unwrap().items).contains(&a1.0));
    // A blocks U: forbidden both ways, even through C's reshare.
    f.block(A, U).unwrap();
    assert_eq!(ids(&f.read(U, None, 5 * HOUR).unwrap().items), [c1.0]);
    assert!(f.follow(U, A).is_err());
    // Deleting the original hides every reshare of it.
    f.unblock(A, U).unwrap();
    f.delete(a1).unwrap();
    assert_eq!(ids(&f.read(U, None, 5 * HOUR).unwrap().items), [c1.0]);
}

#[test]
fn celebrity_transitions_lose_nothing_and_duplicate_nothing() {
    let mut f = feed(FeedOptions::default().with_celebrity_threshold(3));
    let fans: Vec<UserId> = (10..14).map(UserId).collect();
    f.follow(fans[0], A).unwrap();
    let p0 = f.publish(A, HOUR, Kind::Text).unwrap(); // pushed (1 follower)
    f.follow(fans[1], A).unwrap();
    f.follow(fans[2], A).unwrap();
    assert!(f.is_celebrity(A));
    let p1 = f.publish(A, 2 * HOUR, Kind::Photo).unwrap(); // pulled
    assert!(!f.post(p1).unwrap().pushed);
    f.unfollow(fans[2], A);
    let p2 = f.publish(A, 3 * HOUR, Kind::Video).unwrap(); // pushed again
    assert!(f.post(p2).unwrap().pushed);
    f.follow(fans[3], A).unwrap(); // backfill: pushed posts only
    for &fan in &fans[..2] {
        let mut got = ids(&f.read(fan, None, 4 * HOUR).unwrap().items);
        got.sort_unstable();
        assert_eq!(got, [p0.0, p1.0, p2.0], "{fan}");
    }
    let mut got = ids(&f.read(fans[3], None, 4 * HOUR).unwrap().items);
    got.sort_unstable();
    assert_eq!(got, [p0.0, p1.0, p2.0]);
    assert!(f.read(fans[2], None, 4 * HOUR).unwrap().items.is_empty());
}

#[test]
fn trimmed_inboxes_and_backfill_still_serve_everything() {
    let mut f = feed(
        FeedOptions::default()
            .with_inbox_cap(3)
            .with_page_size(100)
            .with_diversity(blocksmith_feed::Diversity::default().with_max_author_run(0)),
    );
    f.follow(U, A).unwrap();
    let mut posts = Vec::new();
    for i in 0..10 {
        posts.push(f.publish(A, i * 60_000, Kind::Text).unwrap().0);
    }
    // U's inbox holds 3 and a horizon; the rest is pulled back.
    assert_eq!(f.inbox(U).unwrap().len(), 3);
    assert!(f.inbox(U).unwrap().horizon().is_some());
    let mut got = ids(&f.read(U, None, HOUR).unwrap().items);
    got.sort_unstable();
    assert_eq!(got, posts);
    // A late follower gets a backfill bounded by the cap, and the rest.
    f.follow(B, A).unwrap();
    assert_eq!(f.inbox(B).unwrap().len(), 3);
    let mut got = ids(&f.read(B, None, HOUR).unwrap().items);
    got.sort_unstable();
    assert_eq!(got, posts);
    // The age window applies.
    let got = ids(&f.read(B, None, 3 * 86_400_000 + 5 * 60_000).unwrap().items);
    assert_eq!(got.len(), 4, "{got:?}");
}

#[test]
fn interactions_learn_affinity_and_move_rankings() {
    let mut f = feed(FeedOptions::default());
    f.follow(U, A).unwrap();
    f.follow(U, B).unwrap();
    let a1 = f.publish(A, HOUR, Kind::Text).unwrap();
    let b1 = f.publish(B, HOUR + 1, Kind::Text).unwrap();
    assert_eq!(ids(&f.read(U, None, 2 * HOUR).unwrap().items), [b1.0, a1.0]);
    let older = f.publish(A, 0, Kind::Text).unwrap();
    for _ in 0..5 {
        f.interact(U, older, Interaction::Comment, HOUR).unwrap();
    }
    assert!(f.affinity(U, A, HOUR) > 9.9);
    assert!(
        f.affinity(U, A, HOUR + 14 * 86_400_000) < 5.01,
        "affinity decays"
    );
    let order = ids(&f.read(U, None, 2 * HOUR).unwrap().items);
    let pos = |p: PostId| order.iter().position(|&x| x == p.0).unwrap();
    assert!(pos(a1) < pos(b1), "affinity lifts A above B: {order:?}");
    assert_eq!(f.post(older).unwrap().comments, 5);
}

#[test]
fn hostile_calls_get_typed_errors() {
    let mut f = feed(FeedOptions::default().with_max_users(100));
    assert!(matches!(f.follow(U, U), Err(Error::Invalid(_))));
    assert!(matches!(
        f.follow(U, UserId(100)),
        Err(Error::UserOutOfRange { id: 100, .. })
    ));
    assert!(matches!(
        f.publish(UserId(u32::MAX), 0, Kind::Text),
        Err(Error::UserOutOfRange { .. })
    ));
    assert!(matches!(
        f.reshare(U, PostId(9), 0),
        Err(Error::UnknownPost(9))
    ));
    assert!(matches!(
        f.interact(U, PostId(9), Interaction::Like, 0),
        Err(Error::UnknownPost(9))
    ));
    assert!(matches!(
        f.delete(PostId(u64::MAX)),
        Err(Error::UnknownPost(_))
    ));
    let p = f.publish(A, 0, Kind::Text).unwrap();
    f.delete(p).unwrap();
    assert!(matches!(f.reshare(U, p, 1), Err(Error::DeletedPost(_))));
    // Reading an unknown user is an empty feed, not an error.
    assert!(f.read(UserId(99), None, 0).unwrap().items.is_empty());
}

#[test]
fn fan_out_counts_inserts_and_skips_celebrities() {
    let mut f = feed(FeedOptions::default().with_celebrity_threshold(1000));
    for i in 10..510 {
        f.follow(UserId(i), A).unwrap();
    }
    for i in 10..2010 {
        f.follow(UserId(i), B).unwrap();
    }
    let before = f.stats().inbox_inserts;
    f.publish(A, 0, Kind::Text).unwrap();
    assert_eq!(f.stats().inbox_inserts - before, 500);
    f.publish(B, 0, Kind::Text).unwrap();
    assert_eq!(
        f.stats().inbox_inserts - before,
        500,
        "celebrity not fanned out"
    );
    assert_eq!(f.stats().pulled_posts, 1);
}

#[test]
fn feed_is_shareable_across_threads_for_reads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<blocksmith_feed::Feed>();
    let mut f = feed(FeedOptions::default());
    f.follow(U, A).unwrap();
    let p = f.publish(A, 0, Kind::Text).unwrap();
    let f = std::sync::Arc::new(f);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let f = f.clone();
            std::thread::spawn(move || ids(&f.read(U, None, HOUR).unwrap().items))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), [p.0]);
    }
}
