//! Feed reads and fan-out, against baselines in the same run:
//! - `rank_1k`: ranking a first page out of 1000 candidates (hybrid read vs
//!   a brute-force scan of every post);
//! - `first_page`: a user following 500 authors, 5 of them celebrities:
//!   hybrid read vs naive fan-out on read (`Delivery::Pull`) vs brute force;
//! - `fan_out`: one post to 100 k followers (pure fan-out on write: 100 k
//!   inbox inserts) vs the same author treated as a celebrity (pulled at read).

use blocksmith::feed::cursor::RunState;
use blocksmith::feed::{
    Candidate, CursorKey, Delivery, Feed, FeedOptions, Kind, Post, PostId, Scorer, UserId,
    diversify,
};
use criterion::{Criterion, criterion_group, criterion_main};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

const HOUR: i64 = 3_600_000;
const NOW: i64 = 100 * HOUR;

/// The brute-force reference: scan every post, filter, score, sort, diversify.
fn brute_force(feed: &Feed, u: UserId, now: i64) -> Vec<PostId> {
    let cfg = feed.options();
    let followees = feed.followees(u).cloned().unwrap_or_default();
    let hidden = |a: UserId| feed.is_muted(u, a) || feed.is_blocked(u, a) || feed.is_blocked(a, u);
    let posts = feed.posts();
    let mut entries: Vec<&Post> = posts
        .iter()
        .filter(|p| {
            !p.deleted
                && followees.contains(p.author.0)
                && p.ts <= now
                && p.ts > now - cfg.max_age_ms
                && !hidden(p.author)
                && p.reshare_of.is_none_or(|o| {
                    !posts[o.0 as usize].deleted && !hidden(posts[o.0 as usize].author)
                })
        })
        .collect();
    entries.sort_by_key(|p| std::cmp::Reverse((p.ts, p.id)));
    entries.truncate(cfg.max_candidates);
    let mut best: HashMap<PostId, f64> = HashMap::new();
    for p in entries {
        let o = &posts[p.reshare_of.unwrap_or(p.id).0 as usize];
        let c = Candidate::new(
            o,
            p.author,
            p.ts,
            feed.affinity(u, p.author, now),
            o.velocity_at(now, cfg.velocity_half_life_ms),
            now,
        );
        let s = feed.scorer().score(&c);
        let e = best.entry(o.id).or_insert(f64::NEG_INFINITY);
        *e = e.max(s);
    }
    let mut ranked: Vec<(PostId, f64)> = best.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
    let keys: Vec<_> = ranked
        .iter()
        .map(|r| (posts[r.0.0 as usize].author, posts[r.0.0 as usize].kind))
        .collect();
    diversify(
        &keys,
        cfg.page_size,
        &mut RunState::default(),
        cfg.diversity,
    )
    .into_iter()
    .map(|i| ranked[i].0)
    .collect()
}

fn key() -> CursorKey {
    CursorKey::derive(b"bench")
}

/// User 0 follows `authors` authors (ids 1..); the first `celebs` of them get
/// 10 001 extra followers; each author posts `per_author` posts (celebrities
/// 5x as many), spread over the last 48 hours; 2000 unrelated authors post
/// too, so the brute force has a realistic haystack.
fn build(config: FeedOptions, authors: u32, celebs: u32, per_author: u32) -> Feed {
    let mut f = Feed::new(config, key());
    let u = UserId(0);
    for a in 1..=authors {
        f.follow(u, UserId(a)).unwrap();
    }
    for c in 1..=celebs {
        for x in 0..10_001 {
            f.follow(UserId(100_000 + x), UserId(c)).unwrap();
        }
    }
    let mut seed = 1u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut posts = Vec::new();
    for a in 1..=authors + 2000 {
        let n = if a <= celebs {
            per_author * 5
        } else {
            per_author
        };
        for _ in 0..n {
            posts.push((NOW - 48 * HOUR + (rnd() % (48 * HOUR as u64)) as i64, a));
        }
    }
    posts.sort_unstable();
    for (i, (ts, a)) in posts.into_iter().enumerate() {
        let p = f.publish(UserId(a), ts, Kind::ALL[i % 5]).unwrap();
        for _ in 0..rnd() % 4 {
            f.interact(
                UserId(1 + (rnd() % u64::from(authors)) as u32),
                p,
                blocksmith::feed::Interaction::Like,
                ts,
            )
            .unwrap();
        }
    }
    f
}

fn bench_reads(c: &mut Criterion) {
    let u = UserId(0);
    // Ranking 1k candidates: 100 authors x 12 posts, all in the inbox.
    let f = build(
        FeedOptions::default()
            .with_max_candidates(1000)
            .with_inbox_cap(1200),
        100,
        0,
        12,
    );
    let page = f.read(u, None, NOW).unwrap();
    assert_eq!(page.candidates, 1000);
    assert_eq!(
        page.items.iter().map(|i| i.post).collect::<Vec<_>>(),
        brute_force(&f, u, NOW)
    );
    let mut g = c.benchmark_group("rank_1k");
    g.bench_function("hybrid", |b| {
        b.iter(|| f.read(black_box(u), None, NOW).unwrap());
    });
    g.bench_function("brute_force", |b| {
        b.iter(|| brute_force(&f, black_box(u), NOW));
    });
    g.finish();
    drop(f);

    // First page: 500 followees, 5 celebrities, default config.
    let f = build(FeedOptions::default(), 500, 5, 6);
    let page = f.read(u, None, NOW).unwrap();
    assert_eq!(
        page.items.iter().map(|i| i.post).collect::<Vec<_>>(),
        brute_force(&f, u, NOW)
    );
    assert_eq!(
        page.items,
        f.read_with(u, None, NOW, Delivery::Pull).unwrap().items
    );
    eprintln!(
        "first_page setup: {} posts, {} candidates, inbox {} entries, {} celebrities",
        f.posts().len(),
        page.candidates,
        f.inbox(u).unwrap().len(),
        (1..=500).filter(|&a| f.is_celebrity(UserId(a))).count()
    );
    let mut g = c.benchmark_group("first_page");
    g.bench_function("hybrid", |b| {
        b.iter(|| f.read(black_box(u), None, NOW).unwrap());
    });
    g.bench_function("pull_on_read", |b| {
        b.iter(|| {
            f.read_with(black_box(u), None, NOW, Delivery::Pull)
                .unwrap()
        });
    });
    g.bench_function("brute_force", |b| {
        b.iter(|| brute_force(&f, black_box(u), NOW));
    });
    g.finish();
}

fn bench_fan_out(c: &mut Criterion) {
    let star = UserId(0);
    let mut g = c.benchmark_group("fan_out_100k");
    for (name, threshold) in [("push_100k_inserts", u64::MAX), ("celebrity_pull", 10_000)] {
        let mut f = Feed::new(
            FeedOptions::default()
                .with_celebrity_threshold(threshold)
                .with_inbox_cap(64),
            key(),
        );
        for x in 1..=100_000 {
            f.follow(UserId(x), star).unwrap();
        }
        let mut ts = 0;
        g.bench_function(name, |b| {
            b.iter(|| {
                ts += 1;
                f.publish(star, ts, Kind::Text).unwrap()
            });
        });
        let s = f.stats();
        eprintln!(
            "{name}: {} posts, {} inbox inserts",
            s.posts, s.inbox_inserts
        );
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = bench_reads, bench_fan_out
}
criterion_main!(benches);
