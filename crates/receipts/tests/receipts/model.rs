//! Random histories of joins, leaves, posts, deletions, receipts in any
//! order, device acknowledgements, privacy changes and unread markers,
//! checked after every step against the brute-force reference: every
//! status, count, list and badge equal, and no watermark ever lower.

use crate::reference::{Fail, Kind, Policy, Reference, kind};
use blocksmith_receipts::{
    Conversation, DeviceId, DevicePolicy, ListKind, Privacy, ReceiptKind, Receipts,
    ReceiptsOptions, UserId,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

const CONVS: [&str; 3] = ["dm", "team", "all-hands"];
const USERS: u8 = 10;

#[derive(Clone, Debug)]
pub(crate) enum Op {
    Join(u8, u8),
    Leave(u8, u8),
    Post(u8, u8, u8, u8),
    Delete(u8, u8),
    Receipt(u8, u8, u8, u8),
    Device(u8, u8, u8, u8),
    RemoveDevice(u8, u8, u8),
    Privacy(u8, u8, bool),
    MarkRead(u8, u8),
    MarkAllRead(u8),
    MarkUnread(u8, u8, u8),
    Drain,
    Roundtrip,
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
    let c = 0..CONVS.len() as u8;
    let u = 0..USERS;
    prop_oneof![
        4 => (c.clone(), u.clone()).prop_map(|(c, u)| Op::Join(c, u)),
        1 => (c.clone(), u.clone()).prop_map(|(c, u)| Op::Leave(c, u)),
        5 => (c.clone(), any::<u8>(), u.clone(), any::<u8>()).prop_map(|(c, s, u, m)| Op::Post(c, s, u, m)),
        1 => (c.clone(), any::<u8>()).prop_map(|(c, s)| Op::Delete(c, s)),
        8 => (c.clone(), u.clone(), 0..3u8, any::<u8>()).prop_map(|(c, u, k, s)| Op::Receipt(c, u, k, s)),
        2 => (c.clone(), u.clone(), 0..3u8, any::<u8>()).prop_map(|(c, u, d, s)| Op::Device(c, u, d, s)),
        1 => (c.clone(), u.clone(), 0..3u8).prop_map(|(c, u, d)| Op::RemoveDevice(c, u, d)),
        1 => (c.clone(), u.clone(), any::<bool>()).prop_map(|(c, u, h)| Op::Privacy(c, u, h)),
        1 => (c.clone(), u.clone()).prop_map(|(c, u)| Op::MarkRead(c, u)),
        1 => u.clone().prop_map(Op::MarkAllRead),
        1 => (c.clone(), u.clone(), any::<u8>()).prop_map(|(c, u, s)| Op::MarkUnread(c, u, s)),
        1 => Just(Op::Drain),
        1 => Just(Op::Roundtrip),
    ]
}

/// Ten members in "all-hands" to start with: past the size where the
/// engine indexes every move at once, so its lagging index entries (the
/// write-coalescing path) are exercised; "dm" and "team" start empty.
pub(crate) fn seed(r: &mut Receipts, m: &mut Reference, options: &ReceiptsOptions) {
    for u in 0..USERS {
        apply(r, m, &Op::Join(2, u), options);
    }
}

/// A sequence number near the conversation's newest, sometimes out of range.
pub(crate) fn seq_of(x: u8, last: u64, max_ahead: u64) -> u64 {
    match x {
        255 => last + max_ahead + 1,
        254 => last + max_ahead,
        _ => u64::from(x) % (last + 3),
    }
}

pub(crate) fn options(
    all_devices: bool,
    reciprocal: bool,
    limit: bool,
) -> (ReceiptsOptions, Policy) {
    let max_ahead = 5;
    let options = ReceiptsOptions::default()
        .with_max_ahead(max_ahead)
        .with_device_policy(if all_devices {
            DevicePolicy::All
        } else {
            DevicePolicy::Any
        })
        .with_reciprocal(reciprocal)
        .with_read_list_limit(limit.then_some(3));
    let policy = Policy {
        all_devices,
        reciprocal,
        list_limit: limit.then_some(3),
        max_ahead,
    };
    (options, policy)
}

fn same<T: std::fmt::Debug + PartialEq>(
    got: blocksmith_receipts::Result<T>,
    want: Result<T, Fail>,
    what: &str,
) {
    match (got, want) {
        (Ok(g), Ok(w)) => assert_eq!(g, w, "{what}"),
        (Err(e), Err(w)) => assert_eq!(kind(&e), w, "{what}: {e}"),
        (g, w) => panic!("{what}: engine {g:?}, reference {w:?}"),
    }
}

/// Applies one step to both; panics where they disagree on success.
pub(crate) fn apply(r: &mut Receipts, m: &mut Reference, op: &Op, options: &ReceiptsOptions) {
    let max_ahead = m.policy.max_ahead;
    let name = |c: &u8| CONVS[*c as usize];
    match op {
        Op::Join(c, u) => {
            let got = r.join(name(c), UserId(u64::from(*u))).unwrap();
            assert_eq!(got, m.join(name(c), u64::from(*u)), "{op:?}");
        }
        Op::Leave(c, u) => {
            same(
                r.leave(name(c), UserId(u64::from(*u))),
                m.leave(name(c), u64::from(*u)),
                &format!("{op:?}"),
            );
        }
        Op::Post(c, s, u, mentions) => {
            let last = m.last(name(c));
            let seq = if *s < 128 {
                last + 1
            } else {
                seq_of(*s, last, max_ahead)
            };
            let ms: Vec<u64> = (0..u64::from(USERS))
                .filter(|b| u64::from(*mentions) & (1 << b) != 0)
                .collect();
            let ids: Vec<UserId> = ms.iter().map(|&x| UserId(x)).collect();
            same(
                r.post(name(c), seq, UserId(u64::from(*u)), &ids),
                m.post(name(c), seq, u64::from(*u), &ms),
                &format!("{op:?} seq {seq}"),
            );
        }
        Op::Delete(c, s) => {
            let seq = seq_of(*s, m.last(name(c)), max_ahead);
            same(
                r.delete(name(c), seq),
                m.delete(name(c), seq),
                &format!("{op:?} seq {seq}"),
            );
        }
        Op::Receipt(c, u, k, s) => {
            let seq = seq_of(*s, m.last(name(c)), max_ahead);
            let (rk, mk) = match k {
                0 => (ReceiptKind::Delivered, Kind::Delivered),
                1 => (ReceiptKind::Read, Kind::Read),
                _ => (ReceiptKind::ReadPrivate, Kind::ReadPrivate),
            };
            same(
                r.receipt(name(c), UserId(u64::from(*u)), rk, seq).map(drop),
                m.receipt(name(c), u64::from(*u), mk, seq),
                &format!("{op:?} seq {seq}"),
            );
        }
        Op::Device(c, u, d, s) => {
            let seq = seq_of(*s, m.last(name(c)), max_ahead);
            same(
                r.delivered_to_device(name(c), UserId(u64::from(*u)), DeviceId(u64::from(*d)), seq)
                    .map(drop),
                m.device(name(c), u64::from(*u), u64::from(*d), seq),
                &format!("{op:?} seq {seq}"),
            );
        }
        Op::RemoveDevice(c, u, d) => {
            same(
                r.remove_device(name(c), UserId(u64::from(*u)), DeviceId(u64::from(*d)))
                    .map(drop),
                m.remove_device(name(c), u64::from(*u), u64::from(*d)),
                &format!("{op:?}"),
            );
        }
        Op::Privacy(c, u, hidden) => {
            let p = if *hidden {
                Privacy::Hidden
            } else {
                Privacy::Public
            };
            same(
                r.set_privacy(name(c), UserId(u64::from(*u)), p),
                m.set_hidden(name(c), u64::from(*u), *hidden),
                &format!("{op:?}"),
            );
        }
        Op::MarkRead(c, u) => {
            same(
                r.mark_read(name(c), UserId(u64::from(*u))).map(drop),
                m.mark_read(name(c), u64::from(*u)),
                &format!("{op:?}"),
            );
        }
        Op::MarkAllRead(u) => {
            r.mark_all_read(UserId(u64::from(*u)));
            m.mark_all_read(u64::from(*u));
        }
        Op::MarkUnread(c, u, s) => {
            let seq = seq_of(*s, m.last(name(c)), max_ahead);
            same(
                r.mark_unread(name(c), UserId(u64::from(*u)), seq),
                m.mark_unread(name(c), u64::from(*u), seq),
                &format!("{op:?}"),
            );
        }
        Op::Drain => {
            r.drain();
        }
        Op::Roundtrip => {
            *r = roundtrip(r, options);
        }
    }
}

/// Every conversation through its block and back into a fresh engine.
pub(crate) fn roundtrip(r: &Receipts, options: &ReceiptsOptions) -> Receipts {
    let mut fresh = Receipts::new(options.clone());
    for c in r.conversations() {
        let bytes = c.to_bytes();
        let back = Conversation::from_bytes(&bytes, options).unwrap();
        assert_eq!(
            back.to_bytes(),
            bytes,
            "re-encoding {} changed its bytes",
            c.id()
        );
        fresh.load(back);
    }
    fresh
}

/// Watermarks seen so far: (delivered, read, read_public) per (conv, user).
pub(crate) type Marks = BTreeMap<(String, u64), (u64, u64, u64)>;

/// Checks every query against the reference, and that no watermark fell.
pub(crate) fn check(r: &mut Receipts, m: &Reference, marks: &mut Marks, drain_first: bool) {
    for c in m.convs.keys() {
        let last = m.last(c);
        if drain_first {
            // Through the engine (folds the lags first) ...
            for seq in 0..=last + 1 {
                for viewer in 0..3 {
                    let got = r
                        .status(c, seq, UserId(viewer))
                        .map(|s| (s.sender.0, s.recipients, s.delivered, s.read));
                    same(
                        got,
                        m.status(c, seq, viewer),
                        &format!("status {c} {seq} by {viewer}"),
                    );
                }
            }
        }
        // ... and straight on the conversation (corrects for the lags).
        let conv = r.conversation(c).expect("conversation in memory");
        assert_eq!(conv.last_seq(), last, "{c}: last");
        for seq in 0..=last + 1 {
            for viewer in 0..3 {
                let got = conv
                    .status(seq, UserId(viewer))
                    .map(|s| (s.sender.0, s.recipients, s.delivered, s.read));
                let want = m.status(c, seq, viewer);
                same(got, want, &format!("status {c} {seq} by {viewer}"));
                if let Ok(s) = conv.status(seq, UserId(viewer)) {
                    // The state follows from the counts.
                    let st = match (s.recipients, s.read) {
                        (0, _) => blocksmith_receipts::MessageState::Sent,
                        (n, Some(r)) if r == n => blocksmith_receipts::MessageState::Read,
                        (n, _) if s.delivered == n => blocksmith_receipts::MessageState::Delivered,
                        _ => blocksmith_receipts::MessageState::Sent,
                    };
                    assert_eq!(s.state, st);
                }
            }
            for (kind, read) in [(ListKind::Delivered, false), (ListKind::Read, true)] {
                let viewer = seq % 3;
                let got = conv.list(seq, UserId(viewer), kind, usize::MAX).map(|v| {
                    let mut v: Vec<u64> = v.into_iter().map(|u| u.0).collect();
                    v.sort_unstable();
                    v
                });
                same(
                    got,
                    m.list(c, seq, viewer, read),
                    &format!("{kind:?} list {c} {seq}"),
                );
                // A limited list is a prefix of the same members.
                if let Ok(all) = conv.list(seq, UserId(viewer), kind, usize::MAX) {
                    let two = conv.list(seq, UserId(viewer), kind, 2).unwrap();
                    assert_eq!(two.len(), all.len().min(2));
                    assert!(two.iter().all(|u| all.contains(u)));
                }
            }
        }
        for u in 0..u64::from(USERS) {
            let got = conv.unread(UserId(u));
            assert_eq!(
                (got.messages, got.mentions),
                m.unread(c, u),
                "unread {c} of {u}"
            );
            if let Some(v) = conv.member(UserId(u)) {
                assert!(
                    v.read_public <= v.read && v.read <= v.delivered,
                    "{c} {u}: {v:?}"
                );
                let now = (v.delivered, v.read, v.read_public);
                let key = (c.clone(), u);
                if let Some(&before) = marks.get(&key) {
                    assert!(
                        now.0 >= before.0 && now.1 >= before.1 && now.2 >= before.2,
                        "{c} {u}: watermark fell from {before:?} to {now:?}"
                    );
                }
                marks.insert(key, now);
            }
        }
    }
    for u in 0..u64::from(USERS) {
        let b = r.badge(UserId(u));
        assert_eq!(
            (b.messages, b.mentions, b.conversations),
            m.badge(u),
            "badge of {u}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_matches_the_reference(
        ops in prop::collection::vec(op(), 1..80),
        all_devices in any::<bool>(),
        reciprocal in any::<bool>(),
        limit in any::<bool>(),
    ) {
        let (options, policy) = options(all_devices, reciprocal, limit);
        let mut r = Receipts::new(options.clone());
        let mut m = Reference::new(policy);
        let mut marks = Marks::new();
        seed(&mut r, &mut m, &options);
        for (n, op) in ops.iter().enumerate() {
            apply(&mut r, &mut m, op, &options);
            check(&mut r, &m, &mut marks, n % 2 == 0);
        }
    }
}

#[test]
fn read_by_counts_in_a_group_with_joins_and_leaves() {
    let mut r = Receipts::default();
    for u in 0..5 {
        r.join("g", UserId(u)).unwrap();
    }
    r.post("g", 1, UserId(0), &[]).unwrap();
    r.join("g", UserId(5)).unwrap(); // after message 1: does not count for it
    r.post("g", 2, UserId(1), &[UserId(0)]).unwrap();
    r.read("g", UserId(1), 1).unwrap();
    r.read("g", UserId(2), 2).unwrap();
    r.delivered("g", UserId(3), 2).unwrap();
    let s = r.status("g", 1, UserId(0)).unwrap();
    assert_eq!((s.recipients, s.delivered, s.read), (4, 3, Some(2)));
    r.leave("g", UserId(2)).unwrap(); // stops counting
    let s = r.status("g", 1, UserId(0)).unwrap();
    assert_eq!((s.recipients, s.delivered, s.read), (3, 2, Some(1)));
    let s = r.status("g", 2, UserId(1)).unwrap();
    // Recipients of 2: 0, 3, 4, 5 (1 sent it, 2 left); only 3 has it.
    assert_eq!((s.recipients, s.delivered, s.read), (4, 1, Some(0)));
    r.read("g", UserId(4), 2).unwrap();
    let s = r.status("g", 2, UserId(1)).unwrap();
    assert_eq!((s.recipients, s.delivered, s.read), (4, 2, Some(1)));
    let readers = r.list("g", 2, UserId(1), ListKind::Read, 10).unwrap();
    assert_eq!(readers, [UserId(4)]);
    assert_eq!(r.unread("g", UserId(5)).unwrap().messages, 1);
    // 0 read up to 1 by sending it; 2 mentions 0.
    assert_eq!(r.unread("g", UserId(0)).unwrap().messages, 1);
    assert_eq!(r.unread("g", UserId(0)).unwrap().mentions, 1);
}
