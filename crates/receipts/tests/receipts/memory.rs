//! The write-coalescing layer holds at most 16 bytes per (conversation,
//! member) pair, computed from the capacities of its structures
//! (`Receipts::memory`): 5 bytes per member slot (two 16-bit index lags and
//! a flag), 4 per slot of the lagging-member queues, 13 per conversation
//! and 4 per slot of the dirty-conversation queue. Measured at the peak:
//! every member lagging, every conversation dirty.

use blocksmith_receipts::{Receipts, ReceiptsOptions, UserId};

fn burst(r: &mut Receipts, convs: usize, members: u64, messages: u64) -> f64 {
    for c in 0..convs {
        let id = format!("c{c}");
        for u in 0..members {
            r.join(&id, UserId(u)).unwrap();
        }
        for seq in 1..=messages {
            r.post(&id, seq, UserId(seq % members), &[]).unwrap();
        }
    }
    // Every member scrolls: delivered then read, in bursts.
    for c in 0..convs {
        let id = format!("c{c}");
        for u in 0..members {
            for seq in 1..=messages {
                r.delivered(&id, UserId(u), seq).unwrap();
            }
            for seq in 1..=messages / 2 {
                r.read(&id, UserId(u), seq).unwrap();
            }
        }
    }
    let m = r.memory();
    assert_eq!(m.pairs, convs * members as usize);
    assert_eq!(m.dirty, convs);
    m.bytes_per_pair()
}

#[test]
fn at_most_16_bytes_per_pair_at_the_peak() {
    let one_to_one = burst(&mut Receipts::new(ReceiptsOptions::default()), 10_000, 2, 6);
    let groups = burst(
        &mut Receipts::new(ReceiptsOptions::default()),
        1_000,
        100,
        6,
    );
    let mut big = Receipts::new(ReceiptsOptions::default());
    let large = burst(&mut big, 1, 10_000, 4);
    assert!(
        big.memory().lagging > 9_000,
        "the burst left members lagging"
    );
    eprintln!(
        "aggregator bytes per pair: 10 000 1:1 chats {one_to_one:.2}, 1 000 groups of 100 {groups:.2}, one group of 10 000 {large:.2}"
    );
    for (what, b) in [
        ("1:1", one_to_one),
        ("groups of 100", groups),
        ("10 000 members", large),
    ] {
        assert!(b <= 16.0, "{what}: {b:.2} bytes per pair");
    }
    // Folding the lags in leaves the capacity (reused by the next burst).
    big.drain();
    assert_eq!(big.memory().lagging, 0);
}
