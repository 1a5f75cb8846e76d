//! The feed engine: follow graph, posts, inboxes, hybrid delivery and ranking.
//!
//! Pure and in memory: no I/O. [`crate::FeedStore`] persists it through a
//! `blocksmith_store::Store`.

use crate::cursor::{Cursor, CursorKey, RunState};
use crate::inbox::{Entry, Inbox};
use crate::model::decay;
use crate::score::{Candidate, Diversity, EdgeRank, Scorer, diversify};
use crate::{Error, Interaction, Kind, Post, PostId, Result, UserId};
use foldhash::HashMap;
use roaring::{RoaringBitmap, RoaringTreemap};
use std::collections::{BTreeSet, BinaryHeap};

/// What happens to posts the user has already been served.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum SeenPolicy {
    /// Rank them like any other.
    Show,
    /// Multiply their score by this factor (0..1).
    Demote(f64),
    /// Never serve them again.
    Hide,
}

/// Configuration of a [`Feed`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FeedOptions {
    /// Authors with at least this many followers are celebrities: their
    /// posts are not pushed into inboxes but pulled at read time (default
    /// 10 000).
    pub celebrity_threshold: u64,
    /// Entries kept per inbox; older ones are trimmed (and pulled when
    /// needed). Default 1000.
    pub inbox_cap: usize,
    /// Only posts younger than this (relative to the ranking time) are
    /// candidates. Default 3 days.
    pub max_age_ms: i64,
    /// At most this many of the newest eligible entries are ranked per
    /// session (default 500).
    pub max_candidates: usize,
    /// Items per page (default 20).
    pub page_size: usize,
    /// Diversity re-ranking limits.
    pub diversity: Diversity,
    /// Treatment of posts already seen (default: demoted, score times 0.3).
    pub seen: SeenPolicy,
    /// Half-life of a user's affinity for an author (default 14 days).
    pub affinity_half_life_ms: i64,
    /// Half-life of a post's engagement velocity (default 1 hour).
    pub velocity_half_life_ms: i64,
    /// User ids must be below this. The engine indexes users densely (about
    /// 64 bytes per id up to the largest one used, plus each user's state),
    /// so this bounds what a hostile id can make it allocate. Default
    /// 4 194 304 (`1 << 22`).
    pub max_users: u32,
    /// Cursors issued more than this long before the read that presents
    /// them are refused with [`Error::CursorExpired`]. `None` (the default):
    /// cursors never expire. Each page's cursor is issued at that read's
    /// `now`, so an active session goes on; one left idle this long ends.
    pub cursor_max_age_ms: Option<i64>,
}

impl Default for FeedOptions {
    fn default() -> Self {
        Self {
            celebrity_threshold: 10_000,
            inbox_cap: 1000,
            max_age_ms: 3 * 86_400_000,
            max_candidates: 500,
            page_size: 20,
            diversity: Diversity::default(),
            seen: SeenPolicy::Demote(0.3),
            affinity_half_life_ms: 14 * 86_400_000,
            velocity_half_life_ms: 3_600_000,
            max_users: 1 << 22,
            cursor_max_age_ms: None,
        }
    }
}

impl FeedOptions {
    /// Sets the celebrity threshold.
    #[must_use]
    pub fn with_celebrity_threshold(mut self, n: u64) -> Self {
        self.celebrity_threshold = n;
        self
    }
    /// Sets the inbox cap (at least 1).
    #[must_use]
    pub fn with_inbox_cap(mut self, n: usize) -> Self {
        self.inbox_cap = n.max(1);
        self
    }
    /// Sets the candidate age limit.
    #[must_use]
    pub fn with_max_age_ms(mut self, ms: i64) -> Self {
        self.max_age_ms = ms.max(1);
        self
    }
    /// Sets how many entries are ranked per session (at least 1).
    #[must_use]
    pub fn with_max_candidates(mut self, n: usize) -> Self {
        self.max_candidates = n.max(1);
        self
    }
    /// Sets the page size (at least 1).
    #[must_use]
    pub fn with_page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }
    /// Sets the diversity limits.
    #[must_use]
    pub fn with_diversity(mut self, d: Diversity) -> Self {
        self.diversity = d;
        self
    }
    /// Sets the seen policy.
    #[must_use]
    pub fn with_seen(mut self, p: SeenPolicy) -> Self {
        self.seen = p;
        self
    }
    /// Sets the affinity half-life.
    #[must_use]
    pub fn with_affinity_half_life_ms(mut self, ms: i64) -> Self {
        self.affinity_half_life_ms = ms.max(1);
        self
    }
    /// Sets the velocity half-life.
    #[must_use]
    pub fn with_velocity_half_life_ms(mut self, ms: i64) -> Self {
        self.velocity_half_life_ms = ms.max(1);
        self
    }
    /// Sets the user id bound.
    #[must_use]
    pub fn with_max_users(mut self, n: u32) -> Self {
        self.max_users = n.max(1);
        self
    }
    /// Sets [`FeedOptions::cursor_max_age_ms`] (`None`: cursors never expire;
    /// negative ages count as 0).
    #[must_use]
    pub fn with_cursor_max_age_ms(mut self, ms: Option<i64>) -> Self {
        self.cursor_max_age_ms = ms.map(|m| m.max(0));
        self
    }
}

/// How a read gathers its candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Delivery {
    /// The inbox, merged with celebrities pulled at read time (and the
    /// trimmed range pulled back when needed). The normal path.
    #[default]
    Hybrid,
    /// Naive fan-out on read: scan every followee's posts, ignoring inboxes.
    /// Gives the same page; kept as the baseline to measure against.
    Pull,
}

/// One item of a page.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedItem {
    /// The post shown (for reshares: the original).
    pub post: PostId,
    /// Its author.
    pub author: UserId,
    /// Its kind.
    pub kind: Kind,
    /// Its timestamp.
    pub ts: i64,
    /// The feed entry that ranked best: the post itself or a followee's reshare.
    pub via_post: PostId,
    /// Who put it in the feed (the author, or the resharer of `via_post`).
    pub via: UserId,
    /// Followees who reshared it (within the candidates), ascending.
    pub shared_by: Vec<UserId>,
    /// Its score (after the seen demotion).
    pub score: f64,
    /// Whether the user had already been served it.
    pub seen: bool,
}

/// A page of a feed.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// The items, in display order.
    pub items: Vec<FeedItem>,
    /// Cursor of the next page; `None` at the end of the session.
    pub next: Option<String>,
    /// The ranking time of the session.
    pub as_of: i64,
    /// How many entries were gathered as candidates.
    pub candidates: usize,
}

/// Counters of a feed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeedStats {
    /// Users with state.
    pub users: usize,
    /// Posts created (including deleted).
    pub posts: u64,
    /// Follow edges.
    pub follows: u64,
    /// Inbox entries held.
    pub inbox_entries: u64,
    /// Inbox inserts performed by fan-out and backfill.
    pub inbox_inserts: u64,
    /// Posts that were pulled at read instead of pushed.
    pub pulled_posts: u64,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct UserState {
    pub(crate) followees: RoaringBitmap,
    pub(crate) followers: RoaringBitmap,
    pub(crate) muted: RoaringBitmap,
    pub(crate) blocked: RoaringBitmap,
    /// Users who blocked this one (the transpose of `blocked`, not persisted).
    pub(crate) blocked_by: RoaringBitmap,
    /// Own posts pushed to followers, ascending.
    pub(crate) pushed: Vec<Entry>,
    /// Own posts left to be pulled at read, ascending.
    pub(crate) pulled: Vec<Entry>,
    /// Affinity for each author: (value, as of).
    pub(crate) affinity: HashMap<u32, (f64, i64)>,
    pub(crate) seen: RoaringTreemap,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Dirty {
    pub(crate) graph: RoaringBitmap,
    pub(crate) inbox: RoaringBitmap,
    pub(crate) state: RoaringBitmap,
    pub(crate) post_blocks: BTreeSet<u64>,
}

impl Dirty {
    pub(crate) fn is_empty(&self) -> bool {
        self.graph.is_empty()
            && self.inbox.is_empty()
            && self.state.is_empty()
            && self.post_blocks.is_empty()
    }

    pub(crate) fn merge(&mut self, other: Dirty) {
        self.graph |= other.graph;
        self.inbox |= other.inbox;
        self.state |= other.state;
        self.post_blocks.extend(other.post_blocks);
    }
}

/// Posts per persisted block.
pub(crate) const POST_BLOCK: u64 = 1024;

/// A personalized feed over a follow graph, with hybrid fan-out delivery.
///
/// See the crate documentation for an example.
pub struct Feed<S = EdgeRank> {
    pub(crate) config: FeedOptions,
    pub(crate) scorer: S,
    pub(crate) key: CursorKey,
    pub(crate) users: Vec<Option<Box<UserState>>>,
    /// Inboxes, dense by user id and kept out of `UserState` so that a
    /// fan-out walks them in id order with one cache miss per insert.
    pub(crate) inboxes: Vec<Inbox>,
    pub(crate) posts: Vec<Post>,
    pub(crate) pull_authors: RoaringBitmap,
    pub(crate) dirty: Dirty,
    pub(crate) inbox_inserts: u64,
    pub(crate) sync: crate::persist::SyncState,
}

impl<S> std::fmt::Debug for Feed<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed")
            .field("config", &self.config)
            .field("users", &self.users.len())
            .field("posts", &self.posts.len())
            .finish_non_exhaustive()
    }
}

impl Feed<EdgeRank> {
    /// An empty feed with the default [`EdgeRank`] scorer.
    pub fn new(config: FeedOptions, key: CursorKey) -> Self {
        Self::with_scorer(config, key, EdgeRank::default())
    }
}

/// One merged stream of entries, read newest first.
struct Stream<'a> {
    src: Src<'a>,
    /// Entries at indices `< end` remain.
    end: usize,
}

enum Src<'a> {
    Inbox(&'a Inbox),
    Slice(&'a [Entry]),
}

impl Stream<'_> {
    fn get(&self, i: usize) -> Entry {
        match self.src {
            Src::Inbox(b) => b.entry_at(i),
            Src::Slice(s) => s[i],
        }
    }
    fn pop(&mut self) -> Option<Entry> {
        if self.end == 0 {
            None
        } else {
            self.end -= 1;
            Some(self.get(self.end))
        }
    }
}

/// A candidate group: one original post and the entries that carry it.
struct Group {
    original: PostId,
    score: f64,
    best: Entry,
    via: UserId,
    shared_by: Vec<UserId>,
    seen: bool,
}

impl<S: Scorer> Feed<S> {
    /// An empty feed with a custom scorer.
    pub fn with_scorer(config: FeedOptions, key: CursorKey, scorer: S) -> Self {
        Self {
            config,
            scorer,
            key,
            users: Vec::new(),
            inboxes: Vec::new(),
            posts: Vec::new(),
            pull_authors: RoaringBitmap::new(),
            dirty: Dirty::default(),
            inbox_inserts: 0,
            sync: crate::persist::SyncState::default(),
        }
    }

    /// Drops every user, post and inbox, keeping options, key and scorer.
    pub(crate) fn clear_data(&mut self) {
        self.users.clear();
        self.inboxes.clear();
        self.posts.clear();
        self.pull_authors.clear();
        self.dirty = Dirty::default();
        self.inbox_inserts = 0;
        self.sync = crate::persist::SyncState::default();
    }

    /// The generation of the last save this feed reflects (0 for a feed
    /// never saved or loaded; see [`crate::FeedStore`]).
    pub fn generation(&self) -> u64 {
        self.sync.generation
    }

    /// Whether the feed has changes a [`crate::FeedStore::save`] has not
    /// written yet.
    pub fn has_unsaved_changes(&self) -> bool {
        !self.dirty.is_empty() || !self.sync.legacy.is_empty()
    }

    /// The options it was made with.
    pub fn options(&self) -> &FeedOptions {
        &self.config
    }

    /// The scorer.
    pub fn scorer(&self) -> &S {
        &self.scorer
    }

    pub(crate) fn user(&self, u: UserId) -> Option<&UserState> {
        self.users.get(u.0 as usize).and_then(|s| s.as_deref())
    }

    pub(crate) fn user_mut(&mut self, u: UserId) -> Result<&mut UserState> {
        if u.0 >= self.config.max_users {
            return Err(Error::UserOutOfRange {
                id: u.0,
                max: self.config.max_users,
            });
        }
        let i = u.0 as usize;
        if i >= self.users.len() {
            self.users.resize_with(i + 1, || None);
            self.inboxes.resize_with(i + 1, Inbox::default);
        }
        Ok(self.users[i].get_or_insert_with(Box::default))
    }

    fn post_ref(&self, id: PostId) -> Result<&Post> {
        usize::try_from(id.0)
            .ok()
            .and_then(|i| self.posts.get(i))
            .ok_or(Error::UnknownPost(id.0))
    }

    /// A post by id.
    pub fn post(&self, id: PostId) -> Option<&Post> {
        usize::try_from(id.0).ok().and_then(|i| self.posts.get(i))
    }

    /// Every post, in id order (deleted ones included, flagged).
    pub fn posts(&self) -> &[Post] {
        &self.posts
    }

    /// The id the next post will get.
    pub fn next_post_id(&self) -> PostId {
        PostId(self.posts.len() as u64)
    }

    /// Users `u` follows.
    pub fn followees(&self, u: UserId) -> Option<&RoaringBitmap> {
        self.user(u).map(|s| &s.followees)
    }

    /// Users following `u`.
    pub fn followers(&self, u: UserId) -> Option<&RoaringBitmap> {
        self.user(u).map(|s| &s.followers)
    }

    /// Number of users `u` follows.
    pub fn followee_count(&self, u: UserId) -> u64 {
        self.user(u).map_or(0, |s| s.followees.len())
    }

    /// Number of followers of `u`.
    pub fn follower_count(&self, u: UserId) -> u64 {
        self.user(u).map_or(0, |s| s.followers.len())
    }

    /// Whether `u` muted `a`.
    pub fn is_muted(&self, u: UserId, a: UserId) -> bool {
        self.user(u).is_some_and(|s| s.muted.contains(a.0))
    }

    /// Whether `u` blocked `a`.
    pub fn is_blocked(&self, u: UserId, a: UserId) -> bool {
        self.user(u).is_some_and(|s| s.blocked.contains(a.0))
    }

    /// Whether `u` has been served `post` (by [`Feed::mark_seen`]).
    pub fn is_seen(&self, u: UserId, post: PostId) -> bool {
        self.user(u).is_some_and(|s| s.seen.contains(post.0))
    }

    /// The inbox of `u`.
    pub fn inbox(&self, u: UserId) -> Option<&Inbox> {
        self.user(u).map(|_| &self.inboxes[u.0 as usize])
    }

    /// The decayed affinity of `u` for `author` at `now`.
    pub fn affinity(&self, u: UserId, author: UserId, now: i64) -> f64 {
        self.user(u)
            .and_then(|s| s.affinity.get(&author.0))
            .map_or(0.0, |&(v, t)| {
                decay(v, now.saturating_sub(t), self.config.affinity_half_life_ms)
            })
    }

    /// Whether `a` currently counts as a celebrity (pulled at read).
    pub fn is_celebrity(&self, a: UserId) -> bool {
        self.follower_count(a) >= self.config.celebrity_threshold
    }

    /// Counters.
    pub fn stats(&self) -> FeedStats {
        let mut s = FeedStats {
            posts: self.posts.len() as u64,
            inbox_inserts: self.inbox_inserts,
            ..FeedStats::default()
        };
        for (u, inbox) in self.users.iter().zip(&self.inboxes) {
            let Some(u) = u else { continue };
            s.users += 1;
            s.follows += u.followees.len();
            s.inbox_entries += inbox.len() as u64;
            s.pulled_posts += u.pulled.len() as u64;
        }
        s
    }

    /// `u` follows `a`; backfills `a`'s pushed posts into `u`'s inbox.
    /// Returns whether the edge is new.
    ///
    /// # Errors
    /// - [`Error::Invalid`] if `u == a` (following yourself), or either has
    ///   blocked the other;
    /// - [`Error::UserOutOfRange`] if `u` or `a` is at or beyond
    ///   [`FeedOptions::max_users`].
    pub fn follow(&mut self, u: UserId, a: UserId) -> Result<bool> {
        if u == a {
            return Err(Error::Invalid("a user cannot follow themselves".into()));
        }
        self.user_mut(a)?;
        self.user_mut(u)?;
        if self.is_blocked(u, a) || self.is_blocked(a, u) {
            return Err(Error::Invalid(format!("{u} and {a} are blocked")));
        }
        if !self.user_mut(u)?.followees.insert(a.0) {
            return Ok(false);
        }
        self.user_mut(a)?.followers.insert(u.0);
        self.dirty.graph.insert(u.0);
        self.backfill(u, a);
        Ok(true)
    }

    /// Copies `a`'s pushed posts above `u`'s inbox horizon into the inbox,
    /// keeping the inbox complete above its horizon.
    fn backfill(&mut self, u: UserId, a: UserId) {
        let cap = self.config.inbox_cap;
        let Some(author) = self.users[a.0 as usize].as_deref() else {
            return;
        };
        let inbox = &mut self.inboxes[u.0 as usize];
        let from = inbox
            .horizon()
            .map_or(0, |h| author.pushed.partition_point(|e| *e <= h));
        let mut slice = &author.pushed[from..];
        if slice.is_empty() {
            return;
        }
        if slice.len() > cap {
            // Inserting them all would trim these away; say so with the horizon.
            inbox.raise_horizon(slice[slice.len() - cap - 1]);
            slice = &slice[slice.len() - cap..];
        }
        for &e in slice {
            if inbox.insert(e, cap) {
                self.inbox_inserts += 1;
            }
        }
        self.dirty.inbox.insert(u.0);
    }

    /// `u` stops following `a`. Takes effect on the next read.
    pub fn unfollow(&mut self, u: UserId, a: UserId) -> bool {
        let removed = self
            .users
            .get_mut(u.0 as usize)
            .and_then(|s| s.as_deref_mut())
            .is_some_and(|s| s.followees.remove(a.0));
        if removed {
            if let Some(s) = self
                .users
                .get_mut(a.0 as usize)
                .and_then(|s| s.as_deref_mut())
            {
                s.followers.remove(u.0);
            }
            self.dirty.graph.insert(u.0);
        }
        removed
    }

    /// `u` mutes `a`: `a`'s posts and reshares of them leave `u`'s feed.
    ///
    /// # Errors
    /// [`Error::UserOutOfRange`] if `u` or `a` is at or beyond
    /// [`FeedOptions::max_users`].
    pub fn mute(&mut self, u: UserId, a: UserId) -> Result<bool> {
        self.user_mut(a)?;
        let added = self.user_mut(u)?.muted.insert(a.0);
        self.dirty.graph.insert(u.0);
        Ok(added)
    }

    /// Undoes [`Feed::mute`].
    ///
    /// # Errors
    /// [`Error::UserOutOfRange`] if `u` is at or beyond [`FeedOptions::max_users`].
    pub fn unmute(&mut self, u: UserId, a: UserId) -> Result<bool> {
        let removed = self.user_mut(u)?.muted.remove(a.0);
        self.dirty.graph.insert(u.0);
        Ok(removed)
    }

    /// `u` blocks `a`: follows in both directions end, and neither sees the
    /// other's posts (nor reshares of them) from the next read on.
    ///
    /// # Errors
    /// - [`Error::Invalid`] if `u == a` (blocking yourself);
    /// - [`Error::UserOutOfRange`] if `u` or `a` is at or beyond
    ///   [`FeedOptions::max_users`].
    pub fn block(&mut self, u: UserId, a: UserId) -> Result<bool> {
        if u == a {
            return Err(Error::Invalid("a user cannot block themselves".into()));
        }
        self.user_mut(a)?;
        let added = self.user_mut(u)?.blocked.insert(a.0);
        self.user_mut(a)?.blocked_by.insert(u.0);
        self.unfollow(u, a);
        self.unfollow(a, u);
        self.dirty.graph.insert(u.0);
        Ok(added)
    }

    /// Undoes [`Feed::block`] (follows are not restored).
    ///
    /// # Errors
    /// [`Error::UserOutOfRange`] if `u` is at or beyond [`FeedOptions::max_users`].
    pub fn unblock(&mut self, u: UserId, a: UserId) -> Result<bool> {
        let removed = self.user_mut(u)?.blocked.remove(a.0);
        if let Some(s) = self
            .users
            .get_mut(a.0 as usize)
            .and_then(|s| s.as_deref_mut())
        {
            s.blocked_by.remove(u.0);
        }
        self.dirty.graph.insert(u.0);
        Ok(removed)
    }

    /// Publishes a post. Below the celebrity threshold it is fanned out on
    /// write into every follower's inbox; above, it is pulled at read time.
    ///
    /// # Errors
    /// [`Error::UserOutOfRange`] if `author` is at or beyond
    /// [`FeedOptions::max_users`].
    pub fn publish(&mut self, author: UserId, ts: i64, kind: Kind) -> Result<PostId> {
        self.create(author, ts, kind, None)
    }

    /// `user` reshares `post` (a reshare of a reshare reshares the original).
    /// Counts as a share of the original and raises `user`'s affinity for its author.
    ///
    /// # Errors
    /// - [`Error::UnknownPost`] if `post` was never created;
    /// - [`Error::DeletedPost`] if `post` or the original it reshares is deleted;
    /// - [`Error::UserOutOfRange`] if `user` is at or beyond
    ///   [`FeedOptions::max_users`].
    pub fn reshare(&mut self, user: UserId, post: PostId, ts: i64) -> Result<PostId> {
        let p = self.post_ref(post)?;
        let original = p.original();
        let o = self.post_ref(original)?;
        if p.deleted || o.deleted {
            return Err(Error::DeletedPost(original.0));
        }
        let kind = o.kind;
        self.interact(user, original, Interaction::Share, ts)?;
        self.create(user, ts, kind, Some(original))
    }

    fn create(
        &mut self,
        author: UserId,
        ts: i64,
        kind: Kind,
        reshare_of: Option<PostId>,
    ) -> Result<PostId> {
        let threshold = self.config.celebrity_threshold;
        let cap = self.config.inbox_cap;
        let id = PostId(self.posts.len() as u64);
        let e = Entry::new(ts, id);
        let a = self.user_mut(author)?;
        let pushed = a.followers.len() < threshold;
        let outbox = if pushed { &mut a.pushed } else { &mut a.pulled };
        match outbox.last() {
            Some(&l) if l > e => {
                let i = outbox.partition_point(|x| *x < e);
                outbox.insert(i, e);
            }
            _ => outbox.push(e),
        }
        self.posts.push(Post {
            id,
            author,
            ts,
            kind,
            reshare_of,
            likes: 0,
            comments: 0,
            shares: 0,
            velocity: 0.0,
            velocity_ts: ts,
            deleted: false,
            pushed,
        });
        self.dirty.post_blocks.insert(id.0 / POST_BLOCK);
        if pushed {
            let followers = std::mem::take(
                &mut self.users[author.0 as usize]
                    .as_mut()
                    .expect("author")
                    .followers,
            );
            self.fan_out(&followers, e, cap);
            self.dirty.inbox |= &followers;
            self.users[author.0 as usize]
                .as_mut()
                .expect("author")
                .followers = followers;
        } else {
            self.pull_authors.insert(author.0);
        }
        Ok(id)
    }

    fn fan_out(&mut self, followers: &RoaringBitmap, e: Entry, cap: usize) {
        let mut n = 0;
        for f in followers {
            if let Some(inbox) = self.inboxes.get_mut(f as usize)
                && inbox.insert(e, cap)
            {
                n += 1;
            }
        }
        self.inbox_inserts += n;
    }

    /// Deletes a post: it (and reshares of it) are never served again.
    ///
    /// # Errors
    /// [`Error::UnknownPost`] if `post` was never created (deleting a deleted
    /// post is `Ok`).
    pub fn delete(&mut self, post: PostId) -> Result<()> {
        self.post_ref(post)?;
        self.posts[post.0 as usize].deleted = true;
        self.dirty.post_blocks.insert(post.0 / POST_BLOCK);
        Ok(())
    }

    /// Records an interaction of `user` with `post` at `ts`: bumps the
    /// counters and velocity of the post shown (the original of a reshare)
    /// and `user`'s decayed affinity for its author.
    ///
    /// # Errors
    /// - [`Error::UnknownPost`] if `post` was never created;
    /// - [`Error::DeletedPost`] if the post shown (the original of a reshare) is
    ///   deleted;
    /// - [`Error::UserOutOfRange`] if `user` is at or beyond
    ///   [`FeedOptions::max_users`].
    pub fn interact(
        &mut self,
        user: UserId,
        post: PostId,
        what: Interaction,
        ts: i64,
    ) -> Result<()> {
        let original = self.post_ref(post)?.original();
        let vh = self.config.velocity_half_life_ms;
        let ah = self.config.affinity_half_life_ms;
        self.user_mut(user)?;
        let p = &mut self.posts[original.0 as usize];
        if p.deleted {
            return Err(Error::DeletedPost(original.0));
        }
        match what {
            Interaction::Like => p.likes = p.likes.saturating_add(1),
            Interaction::Comment => p.comments = p.comments.saturating_add(1),
            Interaction::Share => p.shares = p.shares.saturating_add(1),
            Interaction::Click => {}
        }
        if what != Interaction::Click {
            p.velocity = decay(p.velocity, ts.saturating_sub(p.velocity_ts), vh) + 1.0;
            p.velocity_ts = p.velocity_ts.max(ts);
        }
        let author = p.author;
        self.dirty.post_blocks.insert(original.0 / POST_BLOCK);
        if author != user {
            let s = self.user_mut(user)?;
            let slot = s.affinity.entry(author.0).or_insert((0.0, ts));
            slot.0 = decay(slot.0, ts.saturating_sub(slot.1), ah) + what.affinity_weight();
            slot.1 = slot.1.max(ts);
            self.dirty.state.insert(user.0);
        }
        Ok(())
    }

    /// Marks posts as served to `user` (seen-state; see [`SeenPolicy`]).
    ///
    /// # Errors
    /// [`Error::UserOutOfRange`] if `user` is at or beyond
    /// [`FeedOptions::max_users`]. Post ids are not checked.
    pub fn mark_seen(
        &mut self,
        user: UserId,
        posts: impl IntoIterator<Item = PostId>,
    ) -> Result<()> {
        let s = self.user_mut(user)?;
        for p in posts {
            s.seen.insert(p.0);
        }
        self.dirty.state.insert(user.0);
        Ok(())
    }

    /// Whether the entry `p` may be shown to the user whose followees are
    /// `su.followees` and who must not see the authors in `hidden` (mutes,
    /// blocks both ways, precomputed once per read).
    fn visible(&self, su: &UserState, hidden: Option<&RoaringBitmap>, p: &Post) -> bool {
        if p.deleted || !su.followees.contains(p.author.0) {
            return false;
        }
        let hidden = |a: UserId| hidden.is_some_and(|h| h.contains(a.0));
        if hidden(p.author) {
            return false;
        }
        match p.reshare_of {
            None => true,
            Some(o) => self
                .post(o)
                .is_some_and(|o| !o.deleted && !hidden(o.author)),
        }
    }

    /// Gathers the newest `max_candidates` visible entries of `u`'s feed with
    /// `ts` in `(as_of - max_age, as_of]` and id below `horizon`, newest first.
    fn gather<'a>(
        &'a self,
        su: &'a UserState,
        inbox: &'a Inbox,
        as_of: i64,
        horizon: PostId,
        how: Delivery,
    ) -> Vec<Entry> {
        let low = as_of.saturating_sub(self.config.max_age_ms);
        let hidden = if su.muted.is_empty() && su.blocked.is_empty() && su.blocked_by.is_empty() {
            None
        } else {
            Some(&(&su.muted | &su.blocked) | &su.blocked_by)
        };
        let limit = self.config.max_candidates;
        let mut out = Vec::with_capacity(limit.min(1024));
        let accept = |e: Entry, out: &mut Vec<Entry>| {
            if e.post < horizon && self.visible(su, hidden.as_ref(), &self.posts[e.post.0 as usize])
            {
                out.push(e);
            }
        };
        // End index of entries with ts <= as_of in an ascending slice.
        let upto = |s: &[Entry]| s.partition_point(|e| e.ts <= as_of);
        match how {
            Delivery::Pull => {
                for a in &su.followees {
                    if let Some(sa) = self.user(UserId(a)) {
                        for list in [&sa.pushed, &sa.pulled] {
                            let end = upto(list);
                            for &e in list[..end].iter().rev() {
                                if e.ts <= low {
                                    break;
                                }
                                accept(e, &mut out);
                            }
                        }
                    }
                }
                out.sort_unstable_by(|a, b| b.cmp(a));
                out.truncate(limit);
            }
            Delivery::Hybrid => {
                let mut streams: Vec<Stream<'_>> = Vec::new();
                let inbox_end = inbox.partition_point(|e| e.ts <= as_of);
                streams.push(Stream {
                    src: Src::Inbox(inbox),
                    end: inbox_end,
                });
                for a in &(&su.followees & &self.pull_authors) {
                    if let Some(sa) = self.user(UserId(a)) {
                        streams.push(Stream {
                            src: Src::Slice(&sa.pulled),
                            end: upto(&sa.pulled),
                        });
                    }
                }
                let mut heap = BinaryHeap::with_capacity(streams.len() + 8);
                for (i, s) in streams.iter_mut().enumerate() {
                    if let Some(e) = s.pop() {
                        heap.push((e, i));
                    }
                }
                let mut gap_added = false;
                if streams[0].end == 0 && heap.iter().all(|&(_, i)| i != 0) {
                    self.add_gap(su, inbox, as_of, &mut streams, &mut heap);
                    gap_added = true;
                }
                while let Some((e, i)) = heap.pop() {
                    if e.ts <= low {
                        break;
                    }
                    accept(e, &mut out);
                    if out.len() >= limit {
                        break;
                    }
                    if let Some(next) = streams[i].pop() {
                        heap.push((next, i));
                    } else if i == 0 && !gap_added {
                        gap_added = true;
                        self.add_gap(su, inbox, as_of, &mut streams, &mut heap);
                    }
                }
            }
        }
        out
    }

    /// The inbox is exhausted: below its horizon, pull the followees' pushed
    /// posts back in.
    fn add_gap<'a>(
        &'a self,
        su: &'a UserState,
        inbox: &Inbox,
        as_of: i64,
        streams: &mut Vec<Stream<'a>>,
        heap: &mut BinaryHeap<(Entry, usize)>,
    ) {
        let Some(h) = inbox.horizon() else {
            return;
        };
        for a in &su.followees {
            if let Some(sa) = self.user(UserId(a)) {
                let end = sa.pushed.partition_point(|e| *e <= h && e.ts <= as_of);
                let mut s = Stream {
                    src: Src::Slice(&sa.pushed),
                    end,
                };
                if let Some(e) = s.pop() {
                    heap.push((e, streams.len()));
                    streams.push(s);
                }
            }
        }
    }

    /// Groups entries by original post, scores and ranks them (best first).
    fn rank(
        &self,
        u: UserId,
        su: &UserState,
        entries: &[Entry],
        as_of: i64,
        served: &[PostId],
    ) -> Vec<Group> {
        let mut index: HashMap<u64, usize> = HashMap::with_capacity_and_hasher(
            entries.len(),
            foldhash::fast::RandomState::default(),
        );
        let mut groups: Vec<Group> = Vec::with_capacity(entries.len());
        let vh = self.config.velocity_half_life_ms;
        for &e in entries {
            let p = &self.posts[e.post.0 as usize];
            let original = p.original();
            if served.binary_search(&original).is_ok() {
                continue;
            }
            let seen = !su.seen.is_empty() && su.seen.contains(original.0);
            if seen && self.config.seen == SeenPolicy::Hide {
                continue;
            }
            let content = &self.posts[original.0 as usize];
            let c = Candidate {
                post: content,
                via: p.author,
                ts: e.ts,
                affinity: self.affinity(u, p.author, as_of),
                velocity: content.velocity_at(as_of, vh),
                now: as_of,
            };
            let mut score = self.scorer.score(&c);
            if !score.is_finite() {
                score = 0.0;
            }
            let slot = *index.entry(original.0).or_insert_with(|| {
                groups.push(Group {
                    original,
                    score: f64::NEG_INFINITY,
                    best: e,
                    via: p.author,
                    shared_by: Vec::new(),
                    seen,
                });
                groups.len() - 1
            });
            let g = &mut groups[slot];
            if p.reshare_of.is_some() {
                g.shared_by.push(p.author);
            }
            // Exact ties are meant: the newer entry wins them.
            #[allow(clippy::float_cmp)]
            let better = score > g.score || (score == g.score && e > g.best);
            if better {
                g.score = score;
                g.best = e;
                g.via = p.author;
            }
        }
        for g in &mut groups {
            if g.seen
                && let SeenPolicy::Demote(f) = self.config.seen
            {
                g.score *= f;
            }
            g.shared_by.sort_unstable();
            g.shared_by.dedup();
        }
        let order = |a: &Group, b: &Group| {
            b.score
                .total_cmp(&a.score)
                .then(b.original.cmp(&a.original))
        };
        // The re-ranker never looks past the first `page + window` items:
        // select them, sort only those.
        let k = self.config.page_size + self.config.diversity.window.max(1);
        if groups.len() > k {
            groups.select_nth_unstable_by(k - 1, order);
            groups[..k].sort_unstable_by(order);
        } else {
            groups.sort_unstable_by(order);
        }
        groups
    }

    /// Reads a page of `user`'s feed: the first one (`cursor = None`, ranked
    /// at `now`) or the next one of a session.
    ///
    /// # Errors
    /// As [`Feed::read_with`].
    pub fn read(&self, user: UserId, cursor: Option<&str>, now: i64) -> Result<Page> {
        self.read_with(user, cursor, now, Delivery::Hybrid)
    }

    /// [`Feed::read`] with a choice of candidate gathering.
    ///
    /// # Errors
    /// Only with a `cursor`: [`Error::InvalidCursor`] if it is malformed, forged,
    /// signed under another key or issued for another user;
    /// [`Error::CursorExpired`] if it was issued more than
    /// [`FeedOptions::cursor_max_age_ms`] before `now`. A first page never fails.
    pub fn read_with(
        &self,
        user: UserId,
        cursor: Option<&str>,
        now: i64,
        how: Delivery,
    ) -> Result<Page> {
        let session = match cursor {
            Some(s) => self.open_cursor(user, s, now)?,
            None => Cursor {
                user,
                as_of: now,
                issued: now,
                horizon: self.next_post_id(),
                run: RunState::default(),
                served: Vec::new(),
            },
        };
        let empty = UserState::default();
        let empty_inbox = Inbox::default();
        let su = self.user(user).unwrap_or(&empty);
        let inbox = self.inbox(user).unwrap_or(&empty_inbox);
        let entries = self.gather(su, inbox, session.as_of, session.horizon, how);
        let groups = self.rank(user, su, &entries, session.as_of, &session.served);
        let keys: Vec<(UserId, Kind)> = groups
            .iter()
            .map(|g| {
                let p = &self.posts[g.original.0 as usize];
                (p.author, p.kind)
            })
            .collect();
        let mut run = session.run;
        let picks = diversify(
            &keys,
            self.config.page_size,
            &mut run,
            self.config.diversity,
        );
        let items: Vec<FeedItem> = picks
            .iter()
            .map(|&i| {
                let g = &groups[i];
                let p = &self.posts[g.original.0 as usize];
                FeedItem {
                    post: g.original,
                    author: p.author,
                    kind: p.kind,
                    ts: p.ts,
                    via_post: g.best.post,
                    via: g.via,
                    shared_by: g.shared_by.clone(),
                    score: g.score,
                    seen: g.seen,
                }
            })
            .collect();
        let next = if picks.len() < groups.len() {
            let mut served = session.served;
            served.extend(items.iter().map(|i| i.post));
            served.sort_unstable();
            served.dedup();
            Some(
                Cursor {
                    user,
                    as_of: session.as_of,
                    issued: now,
                    horizon: session.horizon,
                    run,
                    served,
                }
                .encode(&self.key),
            )
        } else {
            None
        };
        Ok(Page {
            items,
            next,
            as_of: session.as_of,
            candidates: entries.len(),
        })
    }

    /// Verifies a client's cursor: its MAC, its user, and (with
    /// [`FeedOptions::cursor_max_age_ms`]) its age at `now`.
    fn open_cursor(&self, user: UserId, s: &str, now: i64) -> Result<Cursor> {
        let c = Cursor::decode(&self.key, s)?;
        if c.user != user {
            return Err(Error::InvalidCursor("issued for another user"));
        }
        if let Some(max_age_ms) = self.config.cursor_max_age_ms
            && now.saturating_sub(c.issued) > max_age_ms
        {
            return Err(Error::CursorExpired {
                issued: c.issued,
                now,
                max_age_ms,
            });
        }
        Ok(c)
    }

    /// How many posts arrived in `user`'s feed after the session of `cursor`
    /// began (as of `now`): the pull-to-refresh badge.
    ///
    /// # Errors
    /// [`Error::InvalidCursor`] or [`Error::CursorExpired`], as for
    /// [`Feed::read_with`].
    pub fn new_since(&self, user: UserId, cursor: &str, now: i64) -> Result<usize> {
        let c = self.open_cursor(user, cursor, now)?;
        let empty = UserState::default();
        let empty_inbox = Inbox::default();
        let su = self.user(user).unwrap_or(&empty);
        let inbox = self.inbox(user).unwrap_or(&empty_inbox);
        let entries = self.gather(su, inbox, now, self.next_post_id(), Delivery::Hybrid);
        let mut fresh: Vec<u64> = entries
            .iter()
            .filter(|e| e.post >= c.horizon)
            .map(|e| self.posts[e.post.0 as usize].original())
            .filter(|o| c.served.binary_search(o).is_err())
            .map(|o| o.0)
            .collect();
        fresh.sort_unstable();
        fresh.dedup();
        Ok(fresh.len())
    }
}

impl Inbox {
    pub(crate) fn entry_at(&self, i: usize) -> Entry {
        self.entries_ref()[i]
    }
    pub(crate) fn partition_point(&self, f: impl FnMut(&Entry) -> bool) -> usize {
        self.entries_ref().partition_point(f)
    }
}
