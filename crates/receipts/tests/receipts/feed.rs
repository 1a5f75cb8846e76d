//! The change feed: batched and throttled per conversation, resumable
//! from a cursor, a resync for a cursor that cannot be resumed, and (as a
//! property) every change of a message's counts reported with the right
//! numbers in the next batch.

use crate::model::{Op, apply, op, options, seed};
use crate::reference::Reference;
use blocksmith_receipts::{
    Change, Error, ManualClock, ReceiptStore, Receipts, ReceiptsOptions, UserId,
};
use blocksmith_store::MemoryStore;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn group(clock: &ManualClock, options: ReceiptsOptions) -> Receipts {
    let mut r = Receipts::new(options).with_clock(clock.clone());
    for u in 0..12 {
        r.join("g", UserId(u)).unwrap();
    }
    for seq in 1..=10 {
        r.post("g", seq, UserId(seq % 2), &[]).unwrap();
    }
    r
}

/// The counts runs of a page (from, to, recipients, delivered, read).
fn runs(page: &blocksmith_receipts::ChangePage) -> Vec<(u64, u64, u32, u32, Option<u32>)> {
    page.batches
        .iter()
        .flat_map(|b| &b.changes)
        .filter_map(|c| match *c {
            Change::Counts {
                from,
                to,
                recipients,
                delivered,
                read,
            } => Some((from, to, recipients, delivered, read)),
            _ => None,
        })
        .collect()
}

#[test]
fn batches_are_throttled_and_resumable() {
    let clock = ManualClock::new(10_000);
    let mut r = group(
        &clock,
        ReceiptsOptions::default().with_feed_interval_ms(1000),
    );
    // A device of user 0 connects: a resync page with the counts now.
    let first = r.changes("g", UserId(0), None, 10).unwrap();
    assert!(first.resync);
    // Runs holding 0's (even) messages; 1 sent the odd ones up to 9, and
    // sending is reading.
    assert_eq!(
        runs(&first),
        [(1, 9, 11, 1, Some(1)), (10, 10, 11, 0, Some(0))]
    );
    assert_eq!(r.feed_tick(), 1);
    for u in 2..6 {
        r.read("g", UserId(u), 6).unwrap();
    }
    clock.advance(100);
    assert_eq!(r.feed_tick(), 0, "throttled: 100 ms after the last batch");
    let page = r.changes("g", UserId(0), Some(&first.cursor), 10).unwrap();
    assert!(!page.resync);
    // The first batch (posts) and nothing newer yet.
    assert_eq!(page.batches.len(), 1);
    clock.advance(900);
    assert_eq!(r.feed_tick(), 1);
    let page = r.changes("g", UserId(0), Some(&page.cursor), 10).unwrap();
    assert_eq!(page.batches.len(), 1);
    // Messages 2..=6 now read by 4 more (and by 1, who sent 1..=9 odd).
    for (from, to, n, d, read) in runs(&page) {
        for seq in from..=to {
            let s = r.status("g", seq, UserId(0)).unwrap();
            assert_eq!((n, d, read), (s.recipients, s.delivered, s.read), "{seq}");
        }
    }
    assert!(
        runs(&page)
            .iter()
            .any(|&(from, to, ..)| from <= 6 && 6 <= to)
    );
    // Nothing new: an empty page, the same cursor.
    let again = r.changes("g", UserId(0), Some(&page.cursor), 10).unwrap();
    assert!(again.batches.is_empty() && !again.resync);
    assert_eq!(again.cursor, page.cursor);
    // A reader's own devices get their position, not others' counts.
    let mine = r.changes("g", UserId(3), Some(&first.cursor), 10).unwrap();
    let positions: Vec<_> = mine
        .batches
        .iter()
        .flat_map(|b| &b.changes)
        .filter_map(|c| match c {
            Change::Position { read, unread } => Some((*read, unread.messages)),
            _ => None,
        })
        .collect();
    // Joined (position 0, 10 unread), then read up to 6.
    assert_eq!(positions, [(0, 10), (6, 4)]);
    assert!(runs(&mine).is_empty(), "3 sent nothing");
}

#[test]
fn a_cursor_that_cannot_be_resumed_resyncs() {
    let clock = ManualClock::new(0);
    let options = ReceiptsOptions::default()
        .with_feed_interval_ms(0)
        .with_feed_retain(2);
    let mut r = group(&clock, options.clone());
    let start = r.changes("g", UserId(0), None, 10).unwrap().cursor;
    for seq in 1..=4 {
        r.read("g", UserId(5), seq * 2).unwrap();
        r.feed_tick();
    }
    // Four batches formed, two kept: the first cursor is too old.
    assert!(r.changes("g", UserId(0), Some(&start), 10).unwrap().resync);
    assert!(matches!(
        r.changes("g", UserId(0), Some("not-a-cursor"), 10),
        Err(Error::InvalidCursor(_))
    ));
    // Another process (a restart) does not know this process's cursors.
    let current = r.changes("g", UserId(0), None, 10).unwrap().cursor;
    let store = MemoryStore::new();
    let rs = ReceiptStore::with_clock(&store, options, clock.clone());
    rs.blocking().join("g", UserId(0)).unwrap();
    assert!(
        rs.blocking()
            .changes("g", UserId(0), Some(&current), 10)
            .unwrap()
            .resync
    );
}

#[test]
fn private_reads_sync_to_the_readers_devices_only() {
    let clock = ManualClock::new(0);
    let mut r = group(&clock, ReceiptsOptions::default().with_feed_interval_ms(0));
    let c = r.changes("g", UserId(0), None, 10).unwrap().cursor;
    r.feed_tick();
    let c = r.changes("g", UserId(0), Some(&c), 10).unwrap().cursor;
    let before: Vec<_> = (1..=10)
        .map(|seq| r.status("g", seq, UserId(0)).unwrap())
        .collect();
    r.read_private("g", UserId(7), 10).unwrap();
    r.feed_tick();
    let sender = r.changes("g", UserId(0), Some(&c), 10).unwrap();
    // The sender sees a delivery (a private read still delivers), no read.
    assert!(!runs(&sender).is_empty());
    for (from, to, _, d, read) in runs(&sender) {
        for seq in from..=to {
            let b = before[seq as usize - 1];
            assert_eq!((d, read), (b.delivered + 1, b.read), "{seq}");
        }
    }
    let reader = r.changes("g", UserId(7), Some(&c), 10).unwrap();
    assert!(
        reader
            .batches
            .iter()
            .flat_map(|b| &b.changes)
            .any(|c| matches!(
                c,
                Change::Position { read: 10, unread } if unread.messages == 0
            ))
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn every_count_change_is_reported_in_the_next_batch(
        steps in prop::collection::vec(prop_oneof![6 => op().prop_map(Some), 1 => Just(None)], 1..70),
        reciprocal in any::<bool>(),
    ) {
        let (options, policy) = options(false, reciprocal, false);
        let options = options.with_feed_interval_ms(1000).with_feed_max_messages(4096);
        let clock = ManualClock::new(0);
        let mut r = Receipts::new(options.clone()).with_clock(clock.clone());
        let mut m = Reference::new(policy);
        seed(&mut r, &mut m, &options);
        // Per conversation: the cursor before the tick, the counts and
        // positions as of the last batch.
        let mut cursors: BTreeMap<String, String> = BTreeMap::new();
        let mut counts: BTreeMap<(String, u64), (u32, u32, u32)> = BTreeMap::new();
        let mut positions: BTreeMap<(String, u64), (u64, Option<u64>)> = BTreeMap::new();
        for s in steps {
            match s {
                Some(Op::Roundtrip) => continue, // would restart the feed
                Some(o) => { apply(&mut r, &mut m, &o, &options); continue; }
                None => {}
            }
            for c in r.conversations().map(|c| c.id().to_string()).collect::<Vec<_>>() {
                if !cursors.contains_key(&c) {
                    cursors.insert(c.clone(), r.changes(&c, UserId(0), None, 1).unwrap().cursor);
                }
            }
            clock.advance(1000);
            r.feed_tick();
            for (c, cursor) in cursors.clone() {
                let conv = r.conversation(&c).unwrap();
                let mut next = cursor.clone();
                for viewer in 0..10u64 {
                    let page = r.changes(&c, UserId(viewer), Some(&cursor), 100).unwrap();
                    prop_assert!(!page.resync);
                    next = page.cursor.clone();
                    let conv = r.conversation(&c).unwrap();
                    let mut reported = std::collections::BTreeSet::new();
                    let mut position = None;
                    for ch in page.batches.iter().flat_map(|b| &b.changes) {
                        match *ch {
                            Change::Counts { from, to, recipients, delivered, read } => {
                                for seq in from..=to {
                                    if let Ok(s) = conv.status(seq, UserId(viewer)) {
                                        // Never a wrong number.
                                        prop_assert_eq!((recipients, delivered, read), (s.recipients, s.delivered, s.read), "{} {}", c, seq);
                                        reported.insert(seq);
                                    }
                                }
                            }
                            Change::Position { read, unread } => {
                                let v = conv.member(UserId(viewer)).unwrap();
                                prop_assert_eq!(read, v.read);
                                prop_assert_eq!(unread, conv.unread(UserId(viewer)));
                                position = Some(read);
                            }
                            _ => prop_assert!(false, "a change this test does not know"),
                        }
                    }
                    // Every message of the viewer whose counts changed is reported.
                    for seq in 1..=conv.last_seq() {
                        let Ok(s) = conv.status(seq, UserId(viewer)) else { continue };
                        if s.sender != UserId(viewer) {
                            continue;
                        }
                        let now = (s.recipients, s.delivered, s.read.unwrap_or(u32::MAX));
                        let before = counts.insert((c.clone(), seq), now);
                        if before != Some(now) {
                            prop_assert!(reported.contains(&seq), "{} {}: {:?} -> {:?} not reported", c, seq, before, now);
                        }
                    }
                    // A moved read position or marker is reported.
                    if let Some(v) = conv.member(UserId(viewer)) {
                        let now = (v.read, v.unread_from);
                        let before = positions.insert((c.clone(), viewer), now);
                        if before.is_some_and(|b| b != now) {
                            prop_assert_eq!(position, Some(v.read), "{} {}: position {:?} -> {:?}", c, viewer, before, now);
                        }
                    }
                }
                let _ = conv;
                cursors.insert(c, next);
            }
        }
    }
}
