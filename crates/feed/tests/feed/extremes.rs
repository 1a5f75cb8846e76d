//! Extreme timestamps and hand-built records: typed errors or correct
//! answers, never an arithmetic overflow.

use super::feed;
use blocksmith_feed::persist::UserStateRecord;
use blocksmith_feed::{Cursor, Error, FeedOptions, Interaction, Kind, PostId, RunState, UserId};

#[test]
fn interactions_and_affinity_at_opposite_ends_of_time() {
    let (u, a) = (UserId(1), UserId(2));
    let mut f = feed(FeedOptions::default());
    f.follow(u, a).unwrap();
    let p = f.publish(a, i64::MIN, Kind::Text).unwrap();
    f.interact(u, p, Interaction::Like, i64::MIN).unwrap();
    // `now - t` overflowed: an affinity read long before it was learned is
    // the learned value, read an eternity after it has decayed to nothing.
    assert!(f.affinity(u, a, i64::MIN) > 0.0);
    assert!(f.affinity(u, a, i64::MAX).abs() < 1e-9);
    // `ts - velocity_ts` and `ts - affinity ts` overflowed here.
    f.interact(u, p, Interaction::Like, i64::MAX).unwrap();
    let post = f.post(p).unwrap();
    // The first like has decayed away: only the second counts.
    assert!((post.velocity - 1.0).abs() < 1e-9, "{}", post.velocity);
    // `now - velocity_ts` overflowed.
    assert!((post.velocity_at(i64::MIN, 3_600_000) - 1.0).abs() < 1e-9);
}

#[test]
fn hand_built_records_out_of_order_encode_to_refused_bytes() {
    let key = super::key();
    let c = Cursor {
        user: UserId(1),
        as_of: 0,
        issued: 0,
        horizon: PostId(10),
        run: RunState::default(),
        served: vec![PostId(5), PostId(5)],
    };
    // Repeated served ids made `encode` underflow.
    let s = c.encode(&key);
    assert!(matches!(
        Cursor::decode(&key, &s),
        Err(Error::InvalidCursor(_))
    ));

    let rec = UserStateRecord {
        affinity: vec![(UserId(7), 1.0, 0), (UserId(3), 1.0, 0)],
        seen: roaring::RoaringTreemap::new(),
    };
    assert!(matches!(
        UserStateRecord::decode(&rec.encode()),
        Err(Error::Corrupt { .. })
    ));
}
