//! A social network in miniature: simulate a power-law follow graph with
//! posts, likes, reshares and churn; persist the feed; reload it; page
//! through one user's ranked timeline and ask how many posts arrived since.
//!
//! ```text
//! cargo run --release --example feed_timeline
//! ```

use blocksmith::feed::sim::{self, SimOptions};
use blocksmith::feed::{CursorKey, Feed, FeedOptions, FeedStore, Kind, UserId};
use blocksmith::store::{RedbStore, Store, block_on};
use std::error::Error;
use std::time::Instant;

/// Runs the demo on `store` and returns a one-line summary.
pub(crate) fn demo<S: Store>(store: S) -> Result<String, Box<dyn Error>> {
    block_on(async {
        let key = CursorKey::derive(b"feed_timeline example secret");
        let config = FeedOptions::default().with_celebrity_threshold(200);
        let mut feed = Feed::new(config.clone(), key.clone());
        let t = Instant::now();
        let report = sim::run(&mut feed, &SimOptions::new(2000, 20_000))?;
        let sim_ms = t.elapsed().as_secs_f64() * 1e3;
        let fs = FeedStore::new(&store, "example")?;
        let saved = fs.save(&mut feed).await?;
        let feed = fs.load(config, key).await?;

        // The user with the most followees.
        let user = (0..2000)
            .map(UserId)
            .max_by_key(|&u| feed.followee_count(u))
            .unwrap_or(UserId(0));
        let now = report.end_ms;
        let t = Instant::now();
        let first = feed.read(user, None, now)?;
        let read_us = t.elapsed().as_secs_f64() * 1e6;
        let second = feed.read(user, first.next.as_deref(), now + 1000)?;
        let top = &first.items[0];
        let celebs = (0..2000).filter(|&a| feed.is_celebrity(UserId(a))).count();
        let shared = first
            .items
            .iter()
            .filter(|i| !i.shared_by.is_empty())
            .count();
        let kinds: Vec<&str> = first.items.iter().take(5).map(|i| i.kind.name()).collect();

        // New posts arrive; the session stays stable and counts them.
        let mut feed = feed;
        let followee = UserId(
            feed.followees(user)
                .and_then(|f| f.iter().next())
                .unwrap_or(0),
        );
        feed.publish(followee, now + 2000, Kind::Photo)?;
        let fresh = feed.new_since(user, first.next.as_deref().unwrap_or_default(), now + 3000)?;
        Ok(format!(
            "feed    {} users, {} posts, {} follows (max {} followers, {celebs} celebrities) simulated in {sim_ms:.0} ms; \
             saved {} keys / {} KiB; {user} follows {}: first page of {} from {} candidates in {read_us:.0} us \
             (top {} by {} score {:.3}; {shared} with shared-by; kinds {}), page 2 has {} more, {fresh} new since",
            2000,
            report.posts,
            report.follows,
            report.max_followers,
            saved.keys,
            saved.bytes / 1024,
            feed.followee_count(user),
            first.items.len(),
            first.candidates,
            top.post,
            top.author,
            top.score,
            kinds.join(","),
            second.items.len(),
        ))
    })
}

#[allow(dead_code)] // also compiled into the tour, which has its own main
fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/feed_timeline");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let store = RedbStore::open(dir.join("feed.redb"))?;
    println!("{}", demo(&store)?);
    Ok(())
}
