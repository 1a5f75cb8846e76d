//! Read receipts in a chat app: the two ticks of a 1:1 chat, "read by N of
//! M" in a 250-member group while people scroll, someone hiding their read
//! receipts, a sender's phone following the change feed, the unread badge,
//! and a restart from the store.
//!
//! ```text
//! cargo run --release --example chat_receipts
//! ```

use blocksmith::receipts::{
    Change, DeviceId, ListKind, ManualClock, Privacy, ReceiptStore, ReceiptsOptions, UserId,
};
use blocksmith::store::Store;
use std::error::Error;

const ADA: UserId = UserId(1);
const BOB: UserId = UserId(2);

/// Runs the demo on `store` and returns a one-line summary.
pub(crate) fn demo<S: Store>(store: S) -> Result<String, Box<dyn Error>> {
    let clock = ManualClock::new(1_767_225_600_000);
    let options = ReceiptsOptions::default()
        .with_reciprocal(true)
        .with_read_list_limit(Some(256))
        .with_flush_interval_ms(1000);
    let rs = ReceiptStore::with_clock(&store, options.clone(), clock.clone());
    let b = rs.blocking();

    // 1:1: sent, delivered (Bob's phone), read.
    b.join("dm-ada-bob", ADA)?;
    b.join("dm-ada-bob", BOB)?;
    b.post("dm-ada-bob", 1, ADA, &[])?;
    let sent = b.status("dm-ada-bob", 1, ADA)?.state;
    b.delivered_to_device("dm-ada-bob", BOB, DeviceId(1), 1)?;
    let delivered = b.status("dm-ada-bob", 1, ADA)?.state;
    b.read("dm-ada-bob", BOB, 1)?;
    let read = b.status("dm-ada-bob", 1, ADA)?.state;

    // A group of 250: Ada posts every tenth message, people scroll in bursts.
    let group = "team-all-hands";
    for u in 1..=250 {
        b.join(group, UserId(u))?;
    }
    b.set_privacy(group, UserId(7), Privacy::Hidden)?; // reads, but does not show it
    // Ada's phone follows the feed from now on.
    let mut cursor = b.changes(group, ADA, None, 100)?.cursor;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut rand = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for seq in 1..=40u64 {
        let sender = if seq % 10 == 0 {
            ADA
        } else {
            UserId(2 + rand(249))
        };
        b.post(group, seq, sender, if seq == 30 { &[BOB] } else { &[] })?;
        for _ in 0..60 {
            let u = UserId(1 + rand(250));
            b.delivered(group, u, seq)?;
            if rand(3) == 0 {
                for s in seq.saturating_sub(5)..=seq {
                    b.read(group, u, s)?; // a scroll: six updates, one watermark move
                }
            }
        }
        clock.advance(250);
        b.tick()?;
    }
    clock.advance(1000); // past the feed's throttle: the last batch forms
    b.tick()?;
    let s = b.status(group, 40, ADA)?;
    let readers = b.list(group, 40, ADA, ListKind::Read, 5)?;
    // What Ada's phone received: "message 40 now read by N".
    let page = b.changes(group, ADA, Some(&cursor), 100)?;
    cursor = page.cursor;
    let mut latest = None;
    for change in page.batches.iter().flat_map(|b| &b.changes) {
        if let Change::Counts { from, to, read, .. } = *change
            && (from..=to).contains(&40)
        {
            latest = read;
        }
    }
    assert_eq!(latest, s.read, "the feed's last word is the status");
    let badge = b.badge(BOB);

    // A restart: everything written by the last tick or flush is there.
    b.flush()?;
    let again = ReceiptStore::with_clock(&store, options, clock);
    let s2 = again.blocking().status(group, 40, ADA)?;
    assert_eq!((s2.delivered, s2.read), (s.delivered, s.read));
    let _ = cursor;

    Ok(format!(
        "receipts 1:1 {sent:?} -> {delivered:?} -> {read:?}; group message 40 delivered to {} and read by {} of {} \
         (first readers {:?}), Ada's phone saw read by {}; Bob's badge {} unread ({} mention); same after a restart",
        s.delivered,
        s.read.map_or_else(|| "?".into(), |r| r.to_string()),
        s.recipients,
        readers.iter().map(|u| u.0).collect::<Vec<_>>(),
        latest.map_or_else(|| "?".into(), |r| r.to_string()),
        badge.messages,
        badge.mentions,
    ))
}

#[allow(dead_code)] // also compiled into the tour, which has its own main
fn main() -> Result<(), Box<dyn Error>> {
    println!("{}", demo(blocksmith::store::MemoryStore::new())?);
    Ok(())
}
