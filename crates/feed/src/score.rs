//! Ranking: the [`Scorer`] trait, the default EdgeRank-style scorer and the
//! diversity re-ranker.

use crate::cursor::RunState;
use crate::{Kind, Post, UserId};

/// What a scorer sees of one feed candidate.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Candidate<'a> {
    /// The content shown (for a reshare: the original post, with its counters).
    pub post: &'a Post,
    /// Who put it in the viewer's feed: the author, or the followee who reshared it.
    pub via: UserId,
    /// When it entered the feed (the post's or the reshare's timestamp).
    pub ts: i64,
    /// The viewer's decayed affinity for `via`, at `now`.
    pub affinity: f64,
    /// The post's decayed engagement velocity, at `now`.
    pub velocity: f64,
    /// The ranking time.
    pub now: i64,
}

impl<'a> Candidate<'a> {
    /// A candidate (for custom gathering code and reference implementations).
    pub fn new(
        post: &'a Post,
        via: UserId,
        ts: i64,
        affinity: f64,
        velocity: f64,
        now: i64,
    ) -> Self {
        Self {
            post,
            via,
            ts,
            affinity,
            velocity,
            now,
        }
    }
}

/// Scores feed candidates; higher ranks first.
///
/// Must be a pure function of the candidate (the hybrid reader and the
/// reference compare equal only if it is). Non-finite scores rank as 0.
pub trait Scorer: Send + Sync {
    /// The score of one candidate.
    fn score(&self, c: &Candidate<'_>) -> f64;
}

impl<F: Fn(&Candidate<'_>) -> f64 + Send + Sync> Scorer for F {
    fn score(&self, c: &Candidate<'_>) -> f64 {
        self(c)
    }
}

/// The default scorer, EdgeRank-style: a product of
/// - recency decay `0.5^(age / half_life)`,
/// - author affinity `1 + affinity_weight * ln(1 + affinity)` (affinity is the
///   viewer's decayed interaction sum with the author),
/// - engagement `1 + engagement_weight * ln(1 + likes*w_l + comments*w_c + shares*w_s)
///   + velocity_weight * ln(1 + velocity)`,
/// - a per-kind weight.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct EdgeRank {
    /// Recency half-life in milliseconds.
    pub half_life_ms: i64,
    /// Weight of affinity.
    pub affinity_weight: f64,
    /// Weight of the engagement counters.
    pub engagement_weight: f64,
    /// Per-like weight inside the engagement sum.
    pub like_weight: f64,
    /// Per-comment weight.
    pub comment_weight: f64,
    /// Per-share weight.
    pub share_weight: f64,
    /// Weight of the velocity term.
    pub velocity_weight: f64,
    /// Weight of each [`Kind`], indexed by [`Kind::id`].
    pub kind_weights: [f64; 5],
}

impl Default for EdgeRank {
    fn default() -> Self {
        Self {
            half_life_ms: 6 * 3_600_000,
            affinity_weight: 0.6,
            engagement_weight: 0.25,
            like_weight: 1.0,
            comment_weight: 3.0,
            share_weight: 5.0,
            velocity_weight: 0.3,
            kind_weights: [1.0, 1.15, 1.25, 0.9, 1.05],
        }
    }
}

impl EdgeRank {
    /// Sets the recency half-life.
    #[must_use]
    pub fn with_half_life_ms(mut self, ms: i64) -> Self {
        self.half_life_ms = ms.max(1);
        self
    }
    /// Sets the affinity weight.
    #[must_use]
    pub fn with_affinity_weight(mut self, w: f64) -> Self {
        self.affinity_weight = w;
        self
    }
    /// Sets the engagement weight.
    #[must_use]
    pub fn with_engagement_weight(mut self, w: f64) -> Self {
        self.engagement_weight = w;
        self
    }
    /// Sets the velocity weight.
    #[must_use]
    pub fn with_velocity_weight(mut self, w: f64) -> Self {
        self.velocity_weight = w;
        self
    }
    /// Sets the weight of one kind.
    #[must_use]
    pub fn with_kind_weight(mut self, kind: Kind, w: f64) -> Self {
        self.kind_weights[usize::from(kind.id())] = w;
        self
    }
}

impl Scorer for EdgeRank {
    fn score(&self, c: &Candidate<'_>) -> f64 {
        let p = c.post;
        let recency = crate::model::decay(1.0, c.now.saturating_sub(c.ts), self.half_life_ms);
        let ln1p = |x: f64| if x > 0.0 { x.ln_1p() } else { 0.0 };
        let affinity = 1.0 + self.affinity_weight * ln1p(c.affinity);
        let raw = f64::from(p.likes) * self.like_weight
            + f64::from(p.comments) * self.comment_weight
            + f64::from(p.shares) * self.share_weight;
        let engagement =
            1.0 + self.engagement_weight * ln1p(raw) + self.velocity_weight * ln1p(c.velocity);
        self.kind_weights[usize::from(p.kind.id())] * recency * affinity * engagement
    }
}

/// Limits of the diversity re-ranker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diversity {
    /// At most this many consecutive items of one author (0 = unlimited).
    pub max_author_run: u32,
    /// At most this many consecutive items of one kind (0 = unlimited).
    pub max_kind_run: u32,
    /// How far down the ranking the re-ranker looks for an item that keeps
    /// the limits before giving up and taking the best one.
    pub window: usize,
}

impl Default for Diversity {
    fn default() -> Self {
        Self {
            max_author_run: 2,
            max_kind_run: 3,
            window: 64,
        }
    }
}

impl Diversity {
    /// Sets the author run limit.
    #[must_use]
    pub fn with_max_author_run(mut self, n: u32) -> Self {
        self.max_author_run = n;
        self
    }
    /// Sets the kind run limit.
    #[must_use]
    pub fn with_max_kind_run(mut self, n: u32) -> Self {
        self.max_kind_run = n;
        self
    }
    /// Sets the look-ahead window (at least 1).
    #[must_use]
    pub fn with_window(mut self, n: usize) -> Self {
        self.window = n.max(1);
        self
    }
}

/// Greedy diversity re-ranking: picks up to `n` items from `ranked` (best
/// first), each time the best not-yet-taken item within the next
/// [`Diversity::window`] that keeps both run limits, else the best that keeps
/// the author limit, else the best. `run` carries the state across pages.
/// Returns indices into `ranked`, in display order.
pub fn diversify(
    ranked: &[(UserId, Kind)],
    n: usize,
    run: &mut RunState,
    limits: Diversity,
) -> Vec<usize> {
    let ok_author = |run: &RunState, a: UserId| {
        limits.max_author_run == 0 || run.author_run_with(a) <= limits.max_author_run
    };
    let ok_kind = |run: &RunState, k: Kind| {
        limits.max_kind_run == 0 || run.kind_run_with(k) <= limits.max_kind_run
    };
    let mut taken = vec![false; ranked.len()];
    let mut first = 0; // first not-taken index
    let mut out = Vec::with_capacity(n.min(ranked.len()));
    while out.len() < n {
        while first < ranked.len() && taken[first] {
            first += 1;
        }
        if first == ranked.len() {
            break;
        }
        let mut both = None;
        let mut author_only = None;
        let mut seen = 0;
        let mut i = first;
        while i < ranked.len() && seen < limits.window.max(1) {
            if !taken[i] {
                seen += 1;
                let (a, k) = ranked[i];
                if ok_author(run, a) {
                    if ok_kind(run, k) {
                        both = Some(i);
                        break;
                    }
                    if author_only.is_none() {
                        author_only = Some(i);
                    }
                }
            }
            i += 1;
        }
        let pick = both.or(author_only).unwrap_or(first);
        taken[pick] = true;
        run.push(ranked[pick].0, ranked[pick].1);
        out.push(pick);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_long_author_runs_when_avoidable() {
        let a = UserId(1);
        let b = UserId(2);
        let ranked: Vec<_> = [a, a, a, a, b, b]
            .iter()
            .map(|&u| (u, Kind::Text))
            .collect();
        let limits = Diversity::default().with_max_kind_run(0);
        let mut run = RunState::default();
        let order = diversify(&ranked, 6, &mut run, limits);
        let authors: Vec<_> = order.iter().map(|&i| ranked[i].0).collect();
        assert_eq!(authors, [a, a, b, a, a, b]);
        // Continuing from a carried run state behaves like one long page.
        let mut run = RunState::default();
        let mut first = diversify(&ranked, 3, &mut run, limits);
        assert_eq!(first, [0, 1, 4]);
        let rest: Vec<_> = (0..6).filter(|i| !first.contains(i)).collect();
        let sub: Vec<_> = rest.iter().map(|&i| ranked[i]).collect();
        first.extend(
            diversify(&sub, 3, &mut run, limits)
                .iter()
                .map(|&i| rest[i]),
        );
        assert_eq!(first, order);
    }

    #[test]
    fn kinds_are_mixed() {
        let ranked: Vec<_> = (0..8)
            .map(|i| (UserId(i), if i < 6 { Kind::Photo } else { Kind::Text }))
            .collect();
        let mut run = RunState::default();
        let order = diversify(&ranked, 8, &mut run, Diversity::default());
        let kinds: Vec<_> = order.iter().map(|&i| ranked[i].1).collect();
        let (p, t) = (Kind::Photo, Kind::Text);
        assert_eq!(kinds, [p, p, p, t, p, p, p, t]);
    }

    #[test]
    fn edgerank_orders_sensibly() {
        let s = EdgeRank::default();
        let post = Post {
            id: crate::PostId(1),
            author: UserId(1),
            ts: 0,
            kind: Kind::Text,
            reshare_of: None,
            likes: 0,
            comments: 0,
            shares: 0,
            velocity: 0.0,
            velocity_ts: 0,
            deleted: false,
            pushed: true,
        };
        let c = |ts, affinity, post: &Post| {
            s.score(&Candidate {
                post,
                via: UserId(1),
                ts,
                affinity,
                velocity: 0.0,
                now: 10 * 3_600_000,
            })
        };
        assert!(c(9 * 3_600_000, 0.0, &post) > c(3_600_000, 0.0, &post));
        assert!(c(0, 5.0, &post) > c(0, 0.0, &post));
        let mut liked = post.clone();
        liked.likes = 100;
        assert!(c(0, 0.0, &liked) > c(0, 0.0, &post));
        // Half-life: six hours older is half the score.
        let r = c(0, 0.0, &post) / c(6 * 3_600_000, 0.0, &post);
        assert!((r - 0.5).abs() < 1e-12);
    }
}
