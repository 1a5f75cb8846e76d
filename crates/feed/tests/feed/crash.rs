//! A crash at every store operation of a run of saves (follows with
//! backfill, posts, reshares, likes, mutes, blocks, deletes, seen-state),
//! under every fault kind, then a restart from the store alone: the feed
//! loads as the last save acknowledged or as the save in flight, never a
//! mix, and carries on.

use super::key;
use blocksmith_feed::{Feed, FeedOptions, FeedStore, Interaction, Kind, PostId, UserId};
use blocksmith_store::testing::{CrashPoint, Fault, crash_at_every_operation};
use blocksmith_store::{MemoryStore, Store, block_on};
use std::fmt::Write as _;

const USERS: u32 = 8;
const BATCHES: usize = 4;
const NOW: i64 = 100_000;

fn config() -> FeedOptions {
    // Small inboxes: trimming and horizons are part of what is saved.
    FeedOptions::default()
        .with_inbox_cap(4)
        .with_celebrity_threshold(5)
}

/// The changes made before save `b`.
fn batch(f: &mut Feed, b: usize) {
    let u = UserId;
    let ts = 1_000 * (b as i64 + 1);
    match b {
        0 => {
            for i in 0..USERS {
                f.follow(u(i), u((i + 1) % USERS)).unwrap();
                f.follow(u(i), u((i + 2) % USERS)).unwrap();
            }
            for (n, a) in [1, 2, 3, 1, 2].into_iter().enumerate() {
                f.publish(u(a), ts + n as i64, Kind::Text).unwrap();
            }
        }
        1 => {
            // A follow backfills the inbox: graph and inbox must go together.
            f.follow(u(0), u(5)).unwrap();
            for i in 1..USERS - 1 {
                f.follow(u(i), u(7)).unwrap(); // a celebrity now
            }
            f.publish(u(5), ts, Kind::Photo).unwrap();
            f.publish(u(7), ts + 1, Kind::Video).unwrap();
            f.interact(u(0), PostId(1), Interaction::Like, ts + 2)
                .unwrap();
            f.interact(u(3), PostId(0), Interaction::Comment, ts + 3)
                .unwrap();
        }
        2 => {
            f.unfollow(u(0), u(1));
            f.mute(u(2), u(3)).unwrap();
            f.block(u(4), u(5)).unwrap();
            f.reshare(u(2), PostId(5), ts).unwrap();
            f.mark_seen(u(1), [PostId(2), PostId(3)]).unwrap();
        }
        _ => {
            f.delete(PostId(4)).unwrap();
            for n in 0..3 {
                f.publish(u(6), ts + n, Kind::Text).unwrap();
            }
            f.follow(u(3), u(6)).unwrap();
        }
    }
}

/// What a restart reads, as text.
fn summary(f: &Feed) -> String {
    let mut out = format!("{:?}\n", f.posts());
    for i in 0..USERS {
        let u = UserId(i);
        let _ = writeln!(
            out,
            "{i}: {:?} {:?} {:?}\n   {:?}",
            f.followees(u),
            f.followers(u),
            f.inbox(u),
            f.read(u, None, NOW).unwrap().items
        );
    }
    out
}

/// The summary after each number of saves, from a run without faults.
fn expected() -> Vec<String> {
    let store = MemoryStore::new();
    let fs = FeedStore::new(&store, "social").unwrap();
    let mut f = Feed::new(config(), key());
    let mut out = vec![summary(&f)];
    for b in 0..BATCHES {
        batch(&mut f, b);
        block_on(fs.save(&mut f)).unwrap();
        let back = block_on(fs.load(config(), key())).unwrap();
        assert_eq!(summary(&back), summary(&f), "a save loads back as it was");
        out.push(summary(&back));
    }
    out
}

/// Makes the changes and saves after each batch; returns how many saves
/// were acknowledged.
fn workload<S: Store>(store: S) -> usize {
    let fs = FeedStore::new(store, "social").unwrap();
    let mut f = Feed::new(config(), key());
    for b in 0..BATCHES {
        batch(&mut f, b);
        if block_on(fs.save(&mut f)).is_err() {
            return b;
        }
    }
    BATCHES
}

/// Whether the fault tore `meta`, the one record a save writes over in
/// place with nothing to fall back on. The `Store` contract makes puts
/// atomic, so no conforming backend can do that; loading must then never
/// give a wrong feed, but may fail with a typed error.
fn tore_meta(point: &CrashPoint) -> bool {
    point.plan.fault == Fault::Tear
        && point
            .operation
            .as_ref()
            .is_some_and(|op| op.key.ends_with("/meta"))
}

fn check<S: Store>(inner: S, acked: usize, point: &CrashPoint, expected: &[String]) {
    let fs = FeedStore::new(inner, "social").unwrap();
    let mut f = match block_on(fs.load(config(), key())) {
        Ok(f) => f,
        Err(e) if tore_meta(point) => {
            eprintln!("{point}: typed error after a torn meta: {e}");
            return;
        }
        Err(e) => panic!("{point}: restart failed: {e}"),
    };
    let got = summary(&f);
    let done = if got == expected[acked] {
        acked
    } else if point.fired && acked < BATCHES && got == expected[acked + 1] {
        acked + 1
    } else {
        panic!(
            "{point}: {acked} saves acknowledged, loaded another state:\n{got}\nexpected:\n{}",
            expected[acked]
        );
    };
    // The restarted process redoes what was lost and carries on.
    for b in done..BATCHES {
        batch(&mut f, b);
        block_on(fs.save(&mut f))
            .unwrap_or_else(|e| panic!("{point}: save {b} after restart: {e}"));
    }
    // Once more with nothing new: a journal loaded at the restart is
    // written out too.
    block_on(fs.save(&mut f)).unwrap();
    let back = block_on(fs.load(config(), key())).unwrap();
    assert_eq!(summary(&back), expected[BATCHES], "{point}");
}

#[test]
fn feed_survives_a_crash_at_every_store_operation() {
    let expected = expected();
    let report = crash_at_every_operation(
        MemoryStore::new,
        |store| workload(store),
        |inner, acked, point| check(inner, acked, point, &expected),
    );
    assert!(report.operations > 40, "{report:?}");
}

/// Loading reads a journal through async closures: its future is still
/// `Send`, so hosts can spawn it.
#[test]
fn load_and_save_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let fs = FeedStore::new(MemoryStore::new(), "social").unwrap();
    send(&fs.load(config(), key()));
    let mut f = Feed::new(config(), key());
    send(&fs.save(&mut f));
}
