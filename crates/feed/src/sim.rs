//! A synthetic social network: power-law follower counts, skewed posting
//! activity, interactions, reshares, deletes, unfollows, mutes and blocks.
//! Used by the tests, the bench, the example and `blocksmith feed simulate`.

use crate::{Feed, Interaction, Kind, PostId, Result, Scorer, UserId};

/// A small deterministic generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
}

/// Samples ranks `0..n` with probability proportional to `1 / (rank + 1)^s`.
#[derive(Clone, Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// A Zipf distribution over `n` ranks with exponent `s`.
    pub fn new(n: usize, s: f64) -> Self {
        let mut acc = 0.0;
        let cdf = (0..n.max(1))
            .map(|i| {
                acc += 1.0 / ((i + 1) as f64).powf(s);
                acc
            })
            .collect();
        Self { cdf }
    }
    /// One rank.
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let x = rng.unit() * self.cdf[self.cdf.len() - 1];
        self.cdf
            .partition_point(|&c| c <= x)
            .min(self.cdf.len() - 1)
    }
}

/// Parameters of a simulation.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct SimOptions {
    /// Users.
    pub users: u32,
    /// Posts to publish.
    pub posts: u64,
    /// Mean followees per user.
    pub avg_follows: u32,
    /// Zipf exponent of author popularity (follower counts follow a power law).
    pub popularity_exponent: f64,
    /// Timestamp of the first post (ms).
    pub start_ms: i64,
    /// Mean gap between posts (ms).
    pub mean_gap_ms: i64,
    /// Interactions per post (mean).
    pub interactions_per_post: f64,
    /// Probability a post gets reshared by a follower.
    pub reshare_rate: f64,
    /// Probability, per post, of a delete / unfollow / mute / block / new follow event.
    pub churn_rate: f64,
    /// Seed.
    pub seed: u64,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            users: 1000,
            posts: 10_000,
            avg_follows: 40,
            popularity_exponent: 1.0,
            start_ms: 1_764_201_600_000,
            mean_gap_ms: 20_000,
            interactions_per_post: 2.0,
            reshare_rate: 0.05,
            churn_rate: 0.01,
            seed: 42,
        }
    }
}

impl SimOptions {
    /// `users` users and `posts` posts, other parameters default.
    pub fn new(users: u32, posts: u64) -> Self {
        Self {
            users: users.max(2),
            posts,
            ..Self::default()
        }
    }
    /// Sets the mean followees per user.
    #[must_use]
    pub fn with_avg_follows(mut self, n: u32) -> Self {
        self.avg_follows = n.max(1);
        self
    }
    /// Sets the popularity exponent.
    #[must_use]
    pub fn with_popularity_exponent(mut self, s: f64) -> Self {
        self.popularity_exponent = s;
        self
    }
    /// Sets the mean gap between posts.
    #[must_use]
    pub fn with_mean_gap_ms(mut self, ms: i64) -> Self {
        self.mean_gap_ms = ms.max(1);
        self
    }
    /// Sets the churn probability.
    #[must_use]
    pub fn with_churn_rate(mut self, p: f64) -> Self {
        self.churn_rate = p;
        self
    }
    /// Sets the reshare probability.
    #[must_use]
    pub fn with_reshare_rate(mut self, p: f64) -> Self {
        self.reshare_rate = p;
        self
    }
    /// Sets the interactions per post.
    #[must_use]
    pub fn with_interactions_per_post(mut self, n: f64) -> Self {
        self.interactions_per_post = n;
        self
    }
    /// Sets the seed.
    #[must_use]
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
}

/// What a simulation did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SimReport {
    /// Follow edges created at the start.
    pub follows: u64,
    /// Posts published (reshares included).
    pub posts: u64,
    /// Reshares.
    pub reshares: u64,
    /// Interactions.
    pub interactions: u64,
    /// Deletes, unfollows, mutes, blocks, late follows.
    pub churn: u64,
    /// Largest follower count.
    pub max_followers: u64,
    /// Timestamp after the last event.
    pub end_ms: i64,
}

/// Runs a simulation on `feed`.
///
/// # Errors
/// As the [`Feed`] calls it makes: [`crate::Error::UserOutOfRange`] if
/// `cfg.users` exceeds the feed's [`crate::FeedOptions::max_users`];
/// [`crate::Error::Invalid`] if `feed` already holds a block between two
/// users the simulation makes follow each other.
pub fn run<S: Scorer>(feed: &mut Feed<S>, cfg: &SimOptions) -> Result<SimReport> {
    let mut rng = Rng::new(cfg.seed);
    let n = cfg.users.max(2);
    let mut report = SimReport::default();
    // Popularity ranks map to a shuffled user order.
    let mut order: Vec<u32> = (0..n).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let zipf = Zipf::new(n as usize, cfg.popularity_exponent);
    let activity = Zipf::new(n as usize, 0.7);
    for u in 0..n {
        let k = 1 + rng.below(u64::from(cfg.avg_follows) * 2) as u32;
        for _ in 0..k.min(n - 1) {
            let a = order[zipf.sample(&mut rng)];
            if a != u && feed.follow(UserId(u), UserId(a))? {
                report.follows += 1;
            }
        }
    }
    let mut ts = cfg.start_ms;
    let kinds = Kind::ALL;
    let mut created: Vec<PostId> = Vec::new();
    for _ in 0..cfg.posts {
        ts += 1 + rng.below(cfg.mean_gap_ms as u64 * 2) as i64;
        let author = UserId(order[activity.sample(&mut rng)]);
        let kind = kinds[rng.below(kinds.len() as u64) as usize];
        let id = feed.publish(author, ts, kind)?;
        created.push(id);
        report.posts += 1;
        let followers = feed
            .followers(author)
            .map_or(0, roaring::RoaringBitmap::len);
        let random_follower = |rng: &mut Rng, feed: &Feed<S>| {
            feed.followers(author)
                .and_then(|f| f.select(rng.below(followers) as u32))
                .map(UserId)
        };
        if followers > 0 {
            let mut m = cfg.interactions_per_post;
            while m > 0.0 && rng.chance(m.min(1.0)) {
                m -= 1.0;
                if let Some(f) = random_follower(&mut rng, feed) {
                    let what = [
                        Interaction::Click,
                        Interaction::Like,
                        Interaction::Like,
                        Interaction::Comment,
                    ][rng.below(4) as usize];
                    feed.interact(f, id, what, ts + rng.below(60_000) as i64)?;
                    report.interactions += 1;
                }
            }
            if rng.chance(cfg.reshare_rate)
                && let Some(f) = random_follower(&mut rng, feed)
            {
                ts += 1;
                created.push(feed.reshare(f, id, ts)?);
                report.reshares += 1;
                report.posts += 1;
            }
        }
        if rng.chance(cfg.churn_rate) {
            report.churn += 1;
            let u = UserId(rng.below(u64::from(n)) as u32);
            let followee = feed.followees(u).and_then(|f| {
                if f.is_empty() {
                    None
                } else {
                    f.select(rng.below(f.len()) as u32).map(UserId)
                }
            });
            match rng.below(5) {
                0 => {
                    let p = created[rng.below(created.len() as u64) as usize];
                    feed.delete(p)?;
                }
                1 => {
                    if let Some(a) = followee {
                        feed.unfollow(u, a);
                    }
                }
                2 => {
                    if let Some(a) = followee {
                        feed.mute(u, a)?;
                    }
                }
                3 => {
                    if let Some(a) = followee {
                        feed.block(a, u)?;
                    }
                }
                _ => {
                    let a = UserId(order[zipf.sample(&mut rng)]);
                    if a != u && !feed.is_blocked(u, a) && !feed.is_blocked(a, u) {
                        feed.follow(u, a)?;
                    }
                }
            }
        }
    }
    report.max_followers = (0..n)
        .map(|u| feed.follower_count(UserId(u)))
        .max()
        .unwrap_or(0);
    report.end_ms = ts + 1;
    Ok(report)
}
