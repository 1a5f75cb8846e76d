//! Receipts at chat scale, each against a brute-force baseline in the same run:
//! - `receipts_updates`: watermark updates into the engine's write-coalescing
//!   layer (scroll bursts by random members of 200 groups of 500, with the
//!   lags folded into the indexes every 100 000 updates, inside the timing)
//!   vs the same engine indexing every update at once, vs a row per
//!   (conversation, member, message) in a hash set;
//! - `receipts_read_by_10k`: "read by N of M" for a message in a group of
//!   10 000 members (some joined late, some left) vs a scan of the members'
//!   watermarks (copied into a plain array: the most favourable scan);
//! - `receipts_badge_1000`: a user's unread badge over 1 000 conversations
//!   vs counting the unread messages one by one.
//!
//! The aggregator's memory per (conversation, member) pair after the update
//! run is printed (computed from capacities, see `Receipts::memory`).
//!
//! ```text
//! cargo bench --bench receipts
//! BENCH_CLOCK=cpu cargo bench --bench receipts   # on-CPU time (a shared machine)
//! ```

use blocksmith::receipts::{Conversation, ReceiptKind, Receipts, ReceiptsOptions, UserId};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::collections::HashSet;
use std::hint::black_box;
use std::time::Duration;

#[path = "support/clock.rs"]
mod clock;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const GROUPS: usize = 200;
const MEMBERS: u64 = 500;
const MESSAGES: u64 = 8000;

fn groups() -> (Receipts, Vec<String>) {
    let mut r = Receipts::new(ReceiptsOptions::default());
    let ids: Vec<String> = (0..GROUPS).map(|g| format!("group-{g}")).collect();
    for id in &ids {
        for u in 0..MEMBERS {
            r.join(id, UserId(u)).unwrap();
        }
        for seq in 1..=MESSAGES {
            r.post(id, seq, UserId(seq % 50), &[]).unwrap();
        }
    }
    r.drain();
    (r, ids)
}

/// Scroll bursts: a random member of a random group reads 1 to 32
/// messages one by one, with a delivery acknowledgement running a few
/// messages ahead every fourth step.
struct Stream {
    rng: Rng,
    pos: Vec<u64>,
}

impl Stream {
    fn new() -> Self {
        Stream {
            rng: Rng(0x9E37_79B9_7F4A_7C15),
            pos: vec![100; GROUPS * MEMBERS as usize],
        }
    }

    fn take(&mut self, n: u64) -> Vec<(u32, u64, ReceiptKind, u64)> {
        let mut out = Vec::with_capacity(n as usize);
        while (out.len() as u64) < n {
            let g = self.rng.below(GROUPS as u64) as u32;
            let u = self.rng.below(MEMBERS);
            let p = &mut self.pos[g as usize * MEMBERS as usize + u as usize];
            for step in 0..=self.rng.below(32) {
                if (out.len() as u64) >= n {
                    break;
                }
                // Wrap around well before the end: a stale update then
                // changes nothing, as replays do.
                *p = if *p >= MESSAGES - 40 { 100 } else { *p + 1 };
                if step % 4 == 3 {
                    out.push((g, u, ReceiptKind::Delivered, (*p + 5).min(MESSAGES)));
                } else {
                    out.push((g, u, ReceiptKind::Read, *p));
                }
            }
        }
        out
    }
}

fn updates(c: &mut Criterion) {
    let mut g = c.benchmark_group("receipts_updates");
    g.throughput(Throughput::Elements(1));
    let (mut r, ids) = groups();
    let mut stream = Stream::new();
    let mut since_drain = 0u64;
    g.bench_function("engine", |b| {
        b.iter_custom(|iters| {
            let ups = stream.take(iters);
            let t = clock::now();
            for &(g, u, kind, seq) in &ups {
                black_box(r.receipt(&ids[g as usize], UserId(u), kind, seq).unwrap());
                since_drain += 1;
                if since_drain == 100_000 {
                    r.drain();
                    since_drain = 0;
                }
            }
            clock::since(t)
        });
    });
    let m = r.memory();
    eprintln!(
        "aggregator memory: {:.2} bytes per (conversation, member) pair ({} pairs, {} bytes)",
        m.bytes_per_pair(),
        m.pairs,
        m.aggregator_bytes
    );
    g.bench_function("indexed_at_once", |b| {
        b.iter_custom(|iters| {
            let ups = stream.take(iters);
            let t = clock::now();
            for &(g, u, kind, seq) in &ups {
                let id = &ids[g as usize];
                black_box(r.receipt(id, UserId(u), kind, seq).unwrap());
                // Fold this one move into the indexes now (no coalescing).
                black_box(r.status(id, 1, UserId(0)).unwrap());
            }
            clock::since(t)
        });
    });
    drop(r);
    // A row per (conversation, member, message) delivered and read: a
    // read up to `seq` inserts the rows from the member's previous position.
    let mut last: Vec<(u64, u64)> = vec![(100, 100); GROUPS * MEMBERS as usize];
    g.bench_function("per_message_rows", |b| {
        b.iter_custom(|iters| {
            let ups = stream.take(iters);
            let mut read: HashSet<(u32, u32, u32), foldhash::fast::RandomState> =
                HashSet::default();
            let mut delivered: HashSet<(u32, u32, u32), foldhash::fast::RandomState> =
                HashSet::default();
            let t = clock::now();
            for &(g, u, kind, seq) in &ups {
                let l = &mut last[g as usize * MEMBERS as usize + u as usize];
                let (from, set) = match kind {
                    ReceiptKind::Read => (&mut l.0, &mut read),
                    _ => (&mut l.1, &mut delivered),
                };
                if seq < *from {
                    *from = seq; // the stream wrapped around
                }
                for s in *from + 1..=seq {
                    set.insert((g, u as u32, s as u32));
                }
                *from = (*from).max(seq);
            }
            let e = clock::since(t);
            black_box((read.len(), delivered.len()));
            e
        });
    });
    g.finish();
}

/// A group of 10 000: members join while 10 000 messages are posted, a
/// tenth leave, every member at a random position.
fn big_group() -> (Receipts, Vec<u64>) {
    let mut r = Receipts::new(ReceiptsOptions::default());
    let mut rng = Rng(42);
    let n = 10_000u64;
    for u in 0..n / 2 {
        r.join("big", UserId(u)).unwrap();
    }
    let mut joined = n / 2;
    for seq in 1..=10_000 {
        r.post("big", seq, UserId(rng.below(joined)), &[]).unwrap();
        if seq % 2 == 0 && joined < n {
            r.join("big", UserId(joined)).unwrap();
            joined += 1;
        }
    }
    for u in 0..n {
        let d = rng.below(10_001);
        r.delivered("big", UserId(u), d).unwrap();
        r.read("big", UserId(u), rng.below(d + 1)).unwrap();
        if rng.below(10) == 0 {
            r.leave("big", UserId(u)).unwrap();
        }
    }
    r.drain();
    let conv = r.conversation("big").unwrap();
    let probes: Vec<u64> = (0..1000)
        .map(|_| rng.below(10_000) + 1)
        .filter(|&s| conv.sender(s).is_some())
        .collect();
    (r, probes)
}

/// (join, read_public, delivered, active, user) of every member.
fn plain_members(conv: &Conversation) -> Vec<(u64, u64, u64, bool, u64)> {
    conv.users()
        .map(|u| {
            let v = conv.member(u).unwrap();
            (v.joined_at, v.read_public, v.delivered, v.active, u.0)
        })
        .collect()
}

fn scan_counts(members: &[(u64, u64, u64, bool, u64)], seq: u64, sender: u64) -> (u32, u32, u32) {
    let (mut n, mut d, mut r) = (0, 0, 0);
    for &(join, read, delivered, active, user) in members {
        if active && join < seq && user != sender {
            n += 1;
            d += u32::from(delivered >= seq);
            r += u32::from(read >= seq);
        }
    }
    (n, d, r)
}

fn read_by(c: &mut Criterion) {
    let (r, probes) = big_group();
    let conv = r.conversation("big").unwrap();
    let members = plain_members(conv);
    for &seq in &probes {
        let s = conv.status(seq, UserId(0)).unwrap();
        assert_eq!(
            (s.recipients, s.delivered, s.read.unwrap()),
            scan_counts(&members, seq, s.sender.0),
            "message {seq}"
        );
    }
    let mut g = c.benchmark_group("receipts_read_by_10k");
    let mut i = 0;
    g.bench_function("fenwick", |b| {
        b.iter_custom(|iters| {
            clock::timed(iters, || {
                i = (i + 1) % probes.len();
                conv.status(probes[i], UserId(0)).unwrap()
            })
        });
    });
    g.bench_function("scan_members", |b| {
        b.iter_custom(|iters| {
            clock::timed(iters, || {
                i = (i + 1) % probes.len();
                let seq = probes[i];
                let sender = conv.sender(seq).unwrap().0;
                scan_counts(&members, seq, sender)
            })
        });
    });
    g.finish();
}

/// User 0 in 1 000 conversations of 20 members and 200 messages each, at
/// a random position, with own messages, deletions and mentions.
fn inbox() -> Receipts {
    let mut r = Receipts::new(ReceiptsOptions::default());
    let mut rng = Rng(7);
    for c in 0..1000 {
        let id = format!("chat-{c}");
        for u in 0..20 {
            r.join(&id, UserId(u)).unwrap();
        }
        for seq in 1..=200 {
            let sender = if rng.below(20) == 0 {
                0
            } else {
                1 + rng.below(19)
            };
            let mention = if rng.below(30) == 0 {
                vec![UserId(0)]
            } else {
                vec![]
            };
            r.post(&id, seq, UserId(sender), &mention).unwrap();
            if rng.below(50) == 0 {
                r.delete(&id, seq).unwrap();
            }
        }
        // Posting moved user 0's position to their last message; some
        // conversations are read further, some marked unread.
        r.read(&id, UserId(0), rng.below(201)).unwrap();
        if rng.below(10) == 0 {
            r.mark_unread(&id, UserId(0), rng.below(200) + 1).unwrap();
        }
    }
    r.drain();
    r
}

fn scan_badge(r: &Receipts, user: UserId) -> (u64, u64) {
    let (mut n, mut conversations) = (0, 0);
    for conv in r.conversations() {
        let Some(v) = conv.member(user).filter(|v| v.active) else {
            continue;
        };
        let from = v.unread_from.map_or(v.read, |m| v.read.min(m - 1));
        let mut k = 0;
        for seq in from + 1..=conv.last_seq() {
            if conv.sender(seq).is_some_and(|s| s != user) {
                k += 1;
            }
        }
        n += k;
        conversations += u64::from(k > 0);
    }
    (n, conversations)
}

fn badge(c: &mut Criterion) {
    let r = inbox();
    let b = r.badge(UserId(0));
    assert_eq!(
        (b.messages, u64::from(b.conversations)),
        scan_badge(&r, UserId(0))
    );
    eprintln!(
        "badge of user 0: {} unread in {} conversations, {} mentions",
        b.messages, b.conversations, b.mentions
    );
    let mut g = c.benchmark_group("receipts_badge_1000");
    g.bench_function("engine", |bch| {
        bch.iter_custom(|iters| clock::timed(iters, || r.badge(UserId(0))));
    });
    g.bench_function("scan_messages", |bch| {
        bch.iter_custom(|iters| clock::timed(iters, || scan_badge(&r, UserId(0))));
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = updates, read_by, badge
}
criterion_main!(benches);
