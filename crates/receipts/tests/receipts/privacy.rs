//! Privacy: hidden read receipts, WhatsApp's reciprocity, private receipts
//! (Matrix `m.read.private`), the read-list limit, and delivery in every
//! mode; devices; unread markers and badges.

use blocksmith_receipts::{
    DeviceId, DevicePolicy, Error, ListKind, MessageState, Privacy, Receipts, ReceiptsOptions,
    UserId,
};

const ADA: UserId = UserId(1);
const BOB: UserId = UserId(2);
const CY: UserId = UserId(3);

fn chat(options: ReceiptsOptions, members: &[UserId]) -> Receipts {
    let mut r = Receipts::new(options);
    for &u in members {
        r.join("c", u).unwrap();
    }
    for seq in 1..=5 {
        r.post("c", seq, ADA, &[]).unwrap();
    }
    r
}

#[test]
fn a_hidden_reader_shows_delivery_but_not_reading() {
    let mut r = chat(ReceiptsOptions::default(), &[ADA, BOB]);
    r.set_privacy("c", BOB, Privacy::Hidden).unwrap();
    r.read("c", BOB, 5).unwrap();
    let s = r.status("c", 5, ADA).unwrap();
    assert_eq!(
        (s.delivered, s.read, s.state),
        (1, Some(0), MessageState::Delivered)
    );
    // Bob's own devices know he read everything.
    assert_eq!(r.unread("c", BOB).unwrap().messages, 0);
    // Showing receipts again: the next read shows its position (which
    // covers the earlier messages), the hidden ones stay hidden until then.
    r.set_privacy("c", BOB, Privacy::Public).unwrap();
    assert_eq!(r.status("c", 5, ADA).unwrap().read, Some(0));
    r.post("c", 6, ADA, &[]).unwrap();
    r.read("c", BOB, 6).unwrap();
    assert_eq!(r.status("c", 5, ADA).unwrap().state, MessageState::Read);
}

#[test]
fn reciprocity_hides_everyones_reads_from_a_hider() {
    for reciprocal in [false, true] {
        let mut r = chat(
            ReceiptsOptions::default().with_reciprocal(reciprocal),
            &[ADA, BOB, CY],
        );
        r.read("c", BOB, 5).unwrap();
        r.set_privacy("c", ADA, Privacy::Hidden).unwrap();
        let s = r.status("c", 5, ADA).unwrap();
        assert_eq!(s.delivered, 1, "delivered works in every mode");
        let list = r.list("c", 5, ADA, ListKind::Read, 10);
        if reciprocal {
            assert_eq!(s.read, None);
            assert!(matches!(list, Err(Error::Hidden { .. })));
            assert_eq!(r.list("c", 5, ADA, ListKind::Delivered, 10).unwrap(), [BOB]);
        } else {
            assert_eq!(s.read, Some(1));
            assert_eq!(list.unwrap(), [BOB]);
        }
        // Others still see reads.
        assert_eq!(r.status("c", 5, CY).unwrap().read, Some(1));
    }
}

#[test]
fn private_receipts_move_only_the_readers_position() {
    let mut r = chat(ReceiptsOptions::default(), &[ADA, BOB]);
    r.read_private("c", BOB, 4).unwrap();
    r.read("c", BOB, 2).unwrap();
    let s = r.status("c", 4, ADA).unwrap();
    assert_eq!((s.delivered, s.read), (1, Some(0)));
    assert_eq!(r.status("c", 2, ADA).unwrap().read, Some(1));
    let v = r.conversation("c").unwrap().member(BOB).unwrap();
    assert_eq!((v.read, v.read_public, v.delivered), (4, 2, 4));
    assert_eq!(r.unread("c", BOB).unwrap().messages, 1);
}

#[test]
fn read_lists_are_hidden_above_the_limit_counts_are_not() {
    let members: Vec<UserId> = (1..=6).map(UserId).collect();
    let mut r = chat(
        ReceiptsOptions::default().with_read_list_limit(Some(5)),
        &members,
    );
    for &u in &members[1..] {
        r.read("c", u, 3).unwrap();
    }
    assert!(matches!(
        r.list("c", 3, ADA, ListKind::Read, 10),
        Err(Error::Hidden { .. })
    ));
    assert_eq!(
        r.list("c", 3, ADA, ListKind::Delivered, 10).unwrap().len(),
        5
    );
    assert_eq!(r.status("c", 3, ADA).unwrap().read, Some(5));
    r.leave("c", UserId(6)).unwrap();
    assert_eq!(r.list("c", 3, ADA, ListKind::Read, 10).unwrap().len(), 4);
}

#[test]
fn delivered_to_all_devices_or_any() {
    for (policy, after_phone) in [(DevicePolicy::Any, 5), (DevicePolicy::All, 2)] {
        let mut r = chat(
            ReceiptsOptions::default().with_device_policy(policy),
            &[ADA, BOB],
        );
        r.delivered_to_device("c", BOB, DeviceId(1), 2).unwrap(); // laptop
        r.delivered_to_device("c", BOB, DeviceId(2), 5).unwrap(); // phone
        assert_eq!(
            r.status("c", 5, ADA).unwrap().delivered,
            u32::from(after_phone == 5),
            "{policy:?}"
        );
        let v = r.conversation("c").unwrap().member(BOB).unwrap();
        assert_eq!(v.delivered, after_phone, "{policy:?}");
        // The laptop is retired: every remaining device has 5.
        r.remove_device("c", BOB, DeviceId(1)).unwrap();
        assert_eq!(
            r.conversation("c").unwrap().member(BOB).unwrap().delivered,
            5
        );
        // Its late receipts count for nothing, and nothing moves back.
        assert!(!r.delivered_to_device("c", BOB, DeviceId(1), 3).unwrap());
        r.delivered_to_device("c", BOB, DeviceId(3), 1).unwrap(); // a new tablet
        assert_eq!(
            r.conversation("c").unwrap().member(BOB).unwrap().delivered,
            5
        );
    }
}

#[test]
fn unread_markers_mentions_and_badges() {
    let mut r = Receipts::default();
    for c in ["a", "b", "c"] {
        r.join(c, ADA).unwrap();
        r.join(c, BOB).unwrap();
    }
    for seq in 1..=10 {
        r.post("a", seq, ADA, if seq % 4 == 0 { &[BOB] } else { &[] })
            .unwrap();
    }
    r.post("b", 1, BOB, &[]).unwrap(); // own message: not unread
    r.post("b", 2, ADA, &[]).unwrap();
    r.post("c", 1, ADA, &[BOB]).unwrap();
    r.delete("c", 1).unwrap(); // deleted: neither unread nor a mention
    let b = r.badge(BOB);
    assert_eq!((b.messages, b.mentions, b.conversations), (11, 2, 2));
    r.read("a", BOB, 6).unwrap();
    assert_eq!(r.unread("a", BOB).unwrap().messages, 4);
    // "Mark unread from here", then reading moves the marker on.
    r.mark_unread("a", BOB, 3).unwrap();
    assert_eq!(r.unread("a", BOB).unwrap().messages, 8);
    assert_eq!(
        r.status("a", 5, ADA).unwrap().read,
        Some(1),
        "receipts do not go back"
    );
    r.read("a", BOB, 4).unwrap();
    assert_eq!(r.unread("a", BOB).unwrap().messages, 6);
    // Three positions move ("c" too: its only message is deleted, but the
    // position still goes to the end).
    assert_eq!(r.mark_all_read(BOB), 3);
    assert_eq!(r.badge(BOB), blocksmith_receipts::Badge::default());
    assert_eq!(
        r.conversation("a")
            .unwrap()
            .member(BOB)
            .unwrap()
            .unread_from,
        None
    );
}
