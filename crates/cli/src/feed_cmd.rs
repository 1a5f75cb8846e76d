//! `blocksmith feed ...`: simulate a social network and read ranked timelines.

use crate::backend::CliStore;
use crate::output::{CliError, Output};
use blocksmith_feed::sim::{self, SimOptions};
use blocksmith_feed::{CursorKey, Delivery, Feed, FeedItem, FeedOptions, FeedStore, UserId};
use blocksmith_store::block_on;
use clap::Subcommand;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

#[derive(Subcommand, Debug)]
pub(crate) enum FeedCmd {
    /// Run a synthetic social network (power-law follower counts, posts,
    /// likes, reshares, churn) and print timings and sample timelines.
    Simulate {
        /// Users.
        #[arg(long, default_value_t = 1000)]
        users: u32,
        /// Posts.
        #[arg(long, default_value_t = 10_000)]
        posts: u64,
        /// Mean followees per user.
        #[arg(long, default_value_t = 40)]
        avg_follows: u32,
        /// Followers from which an author is a celebrity (pulled at read).
        #[arg(long, default_value_t = 100)]
        threshold: u64,
        /// Inbox cap.
        #[arg(long, default_value_t = 1000)]
        inbox_cap: usize,
        /// Items per page.
        #[arg(long, default_value_t = 10)]
        page_size: usize,
        /// How many sample timelines to print (the most-following users).
        #[arg(long, default_value_t = 2)]
        timelines: usize,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Also persist the feed in the store under this name.
        #[arg(long)]
        save: Option<String>,
        /// Secret that signs cursors.
        #[arg(long, default_value = "blocksmith-cli-dev-secret")]
        secret: String,
    },
    /// Read one page of a user's timeline from a feed saved by `simulate --save`.
    Timeline {
        /// Feed name.
        name: String,
        /// User id.
        user: u32,
        /// Cursor of the page (from a previous `timeline`).
        #[arg(long)]
        cursor: Option<String>,
        /// Ranking time in ms (default: just after the newest post).
        #[arg(long)]
        now: Option<i64>,
        /// Items per page.
        #[arg(long, default_value_t = 10)]
        page_size: usize,
        /// Secret that signs cursors.
        #[arg(long, default_value = "blocksmith-cli-dev-secret")]
        secret: String,
    },
    /// Counters of a saved feed.
    Stats {
        /// Feed name.
        name: String,
    },
}

impl From<blocksmith_feed::Error> for CliError {
    fn from(e: blocksmith_feed::Error) -> Self {
        use blocksmith_feed::Error as E;
        match e {
            E::Store(e) => e.into(),
            E::Corrupt { .. } => CliError::Internal(crate::output::report(&e)),
            E::Conflict(_) => CliError::Conflict(crate::output::report(&e)),
            _ => CliError::BadInput(crate::output::report(&e)),
        }
    }
}

fn open(dir: &Path) -> Result<CliStore, CliError> {
    crate::backend::open(dir)
}

fn item_json(i: &FeedItem) -> Value {
    json!({
        "post": i.post.0,
        "author": i.author.0,
        "kind": i.kind.name(),
        "ts": i.ts,
        "via": i.via.0,
        "shared_by": i.shared_by.iter().map(|u| u.0).collect::<Vec<_>>(),
        "score": (i.score * 1e6).round() / 1e6,
        "seen": i.seen,
    })
}

fn item_line(s: &mut String, n: usize, i: &FeedItem) {
    let _ = write!(
        s,
        "  {n:>3}. {} by {} ({}) score {:.4}",
        i.post,
        i.author,
        i.kind.name(),
        i.score
    );
    if !i.shared_by.is_empty() {
        let by: Vec<String> = i.shared_by.iter().map(ToString::to_string).collect();
        let _ = write!(s, ", shared by {}", by.join(", "));
    }
    s.push('\n');
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn newest(feed: &Feed) -> i64 {
    feed.posts().iter().map(|p| p.ts).max().unwrap_or(0) + 1
}

pub(crate) fn run(cmd: FeedCmd, store_dir: &Path, out: &Output) -> Result<(), CliError> {
    match cmd {
        FeedCmd::Simulate {
            users,
            posts,
            avg_follows,
            threshold,
            inbox_cap,
            page_size,
            timelines,
            seed,
            save,
            secret,
        } => {
            if users < 2 {
                return Err(CliError::BadInput("--users must be at least 2".into()));
            }
            let config = FeedOptions::default()
                .with_celebrity_threshold(threshold)
                .with_inbox_cap(inbox_cap)
                .with_page_size(page_size);
            let mut feed = Feed::new(config, CursorKey::derive(secret.as_bytes()));
            let t = Instant::now();
            let report = sim::run(
                &mut feed,
                &SimOptions::new(users, posts)
                    .with_avg_follows(avg_follows)
                    .with_seed(seed),
            )?;
            let sim_ms = t.elapsed().as_secs_f64() * 1e3;
            let stats = feed.stats();
            let now = report.end_ms;
            // Read every user's first page both ways, timing each.
            let (mut hybrid_us, mut pull_us) = (Vec::new(), Vec::new());
            let mut mismatches = 0u32;
            for u in 0..users {
                let u = UserId(u);
                let t = Instant::now();
                let h = feed.read(u, None, now)?;
                hybrid_us.push(t.elapsed().as_secs_f64() * 1e6);
                let t = Instant::now();
                let p = feed.read_with(u, None, now, Delivery::Pull)?;
                pull_us.push(t.elapsed().as_secs_f64() * 1e6);
                if h.items != p.items {
                    mismatches += 1;
                }
            }
            hybrid_us.sort_by(f64::total_cmp);
            pull_us.sort_by(f64::total_cmp);
            let mut sample: Vec<UserId> = (0..users).map(UserId).collect();
            sample.sort_by_key(|&u| std::cmp::Reverse(feed.followee_count(u)));
            sample.truncate(timelines);
            let mut pages = Vec::new();
            for &u in &sample {
                pages.push((u, feed.read(u, None, now)?));
            }
            let saved = match &save {
                Some(name) => {
                    let store = open(store_dir)?;
                    let fs = FeedStore::new(&store, name)?;
                    // A feed saves on top of the one it was loaded from:
                    // a new simulation never overwrites a stored feed.
                    Some(block_on(fs.save(&mut feed)).map_err(|e| match e {
                        blocksmith_feed::Error::Conflict(_) => CliError::Conflict(format!(
                            "a feed named {name:?} already exists in this store"
                        )),
                        e => e.into(),
                    })?)
                }
                None => None,
            };
            let celebrities = (0..users).filter(|&a| feed.is_celebrity(UserId(a))).count();
            let value = json!({
                "users": users,
                "posts": report.posts,
                "reshares": report.reshares,
                "interactions": report.interactions,
                "follows": stats.follows,
                "max_followers": report.max_followers,
                "celebrities": celebrities,
                "pulled_posts": stats.pulled_posts,
                "inbox_inserts": stats.inbox_inserts,
                "simulate_ms": round1(sim_ms),
                "read_us": {
                    "hybrid": {"p50": round1(percentile(&hybrid_us, 0.5)), "p99": round1(percentile(&hybrid_us, 0.99))},
                    "pull": {"p50": round1(percentile(&pull_us, 0.5)), "p99": round1(percentile(&pull_us, 0.99))},
                },
                "hybrid_equals_pull": mismatches == 0,
                "mismatches": mismatches,
                "saved": saved.map(|s| json!({"name": save, "keys": s.keys, "bytes": s.bytes})),
                "now": now,
                "timelines": pages.iter().map(|(u, p)| json!({
                    "user": u.0,
                    "followees": feed.followee_count(*u),
                    "candidates": p.candidates,
                    "items": p.items.iter().map(item_json).collect::<Vec<_>>(),
                    "next": p.next,
                })).collect::<Vec<_>>(),
            });
            out.emit(&value, || {
                let mut s = format!(
                    "{users} users, {} posts ({} reshares), {} follows, max {} followers, {celebrities} celebrities\n\
                     simulated in {sim_ms:.0} ms: {} inbox inserts (fan-out on write), {} posts pulled at read\n\
                     first page, all users: hybrid p50 {:.1} us p99 {:.1} us; pull-on-read p50 {:.1} us p99 {:.1} us; \
                     hybrid == pull for {} of {users} users\n",
                    report.posts,
                    report.reshares,
                    stats.follows,
                    report.max_followers,
                    stats.inbox_inserts,
                    stats.pulled_posts,
                    percentile(&hybrid_us, 0.5),
                    percentile(&hybrid_us, 0.99),
                    percentile(&pull_us, 0.5),
                    percentile(&pull_us, 0.99),
                    users - mismatches,
                );
                if let (Some(name), Some(st)) = (&save, saved) {
                    let _ = writeln!(s, "saved as {name:?}: {} keys, {} bytes", st.keys, st.bytes);
                }
                for (u, p) in &pages {
                    let _ = writeln!(
                        s,
                        "timeline of {u} (follows {}, {} candidates):",
                        feed.followee_count(*u),
                        p.candidates
                    );
                    for (n, i) in p.items.iter().enumerate() {
                        item_line(&mut s, n + 1, i);
                    }
                }
                s.trim_end().to_string()
            });
        }
        FeedCmd::Timeline {
            name,
            user,
            cursor,
            now,
            page_size,
            secret,
        } => {
            let store = open(store_dir)?;
            let fs = FeedStore::new(&store, &name)?;
            let config = FeedOptions::default().with_page_size(page_size);
            let feed = block_on(fs.load(config, CursorKey::derive(secret.as_bytes())))?;
            if feed.posts().is_empty() {
                return Err(CliError::NotFound(format!("no feed named {name:?}")));
            }
            let now = now.unwrap_or_else(|| newest(&feed));
            let u = UserId(user);
            let page = feed.read(u, cursor.as_deref(), now)?;
            let fresh = match &cursor {
                Some(c) => Some(feed.new_since(u, c, now)?),
                None => None,
            };
            let value = json!({
                "user": user,
                "as_of": page.as_of,
                "candidates": page.candidates,
                "items": page.items.iter().map(item_json).collect::<Vec<_>>(),
                "next": page.next,
                "new_since": fresh,
            });
            out.emit(&value, || {
                let mut s = format!(
                    "timeline of {u} as of {} ({} candidates):\n",
                    page.as_of, page.candidates
                );
                for (n, i) in page.items.iter().enumerate() {
                    item_line(&mut s, n + 1, i);
                }
                if let Some(f) = fresh {
                    let _ = writeln!(s, "{f} new posts since this session began");
                }
                match &page.next {
                    Some(c) => {
                        let _ = write!(s, "next: --cursor {c}");
                    }
                    None => s.push_str("(end of feed)"),
                }
                s
            });
        }
        FeedCmd::Stats { name } => {
            let store = open(store_dir)?;
            let fs = FeedStore::new(&store, &name)?;
            let feed = block_on(fs.load(FeedOptions::default(), CursorKey::derive(b"stats")))?;
            if feed.posts().is_empty() {
                return Err(CliError::NotFound(format!("no feed named {name:?}")));
            }
            let st = feed.stats();
            let value = json!({
                "users": st.users,
                "posts": st.posts,
                "follows": st.follows,
                "inbox_entries": st.inbox_entries,
                "pulled_posts": st.pulled_posts,
            });
            out.emit(&value, || {
                format!(
                    "{} users, {} posts, {} follows, {} inbox entries, {} posts pulled at read",
                    st.users, st.posts, st.follows, st.inbox_entries, st.pulled_posts
                )
            });
        }
    }
    Ok(())
}
