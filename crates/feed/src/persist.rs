//! Persistence through `blocksmith-store`, and the binary records it writes.
//!
//! # Layout in the store
//! Under `feed/<name>/`:
//! - `meta`: a typed record (`feed.meta` v1) with the post count;
//! - `graph/<user, 8 hex>`: a [`GraphRecord`]: followees, mutes and blocks as
//!   roaring bitmaps in roaring's portable serialization (followers are the
//!   transpose and are rebuilt on load: one source of truth, half the bytes);
//! - `inbox/<user>`: the user's [`Inbox`] block (varint deltas);
//! - `state/<user>`: a [`UserStateRecord`]: decayed affinities and seen posts;
//! - `posts/<block, 8 hex>`: a [`PostBlock`] of 1024 consecutive posts.
//!
//! [`FeedStore::save`] writes only what changed since the last save (the
//! engine tracks dirty users and post blocks). Authors' outboxes and the set
//! of pulled authors are derived from the posts on load. One writer per feed.

use crate::codec::{Reader, put_ivarint, put_varint};
use crate::feed::{POST_BLOCK, UserState};
use crate::inbox::{Entry, Inbox};
use crate::{
    CursorKey, EdgeRank, Error, Feed, FeedConfig, Kind, Post, PostId, Result, Scorer, UserId,
};
use blocksmith_store::record::Record;
use blocksmith_store::{Key, Store, StoreExt};
use bytes::Bytes;
use roaring::{RoaringBitmap, RoaringTreemap};

const RECORD_VERSION: u8 = 1;

fn put_bitmap(out: &mut Vec<u8>, b: &RoaringBitmap) {
    put_varint(out, b.serialized_size() as u64);
    b.serialize_into(&mut *out)
        .expect("writing to a Vec cannot fail");
}

fn get_bitmap(r: &mut Reader<'_>) -> Result<RoaringBitmap> {
    let n = r.len(1)?;
    let bytes = r.bytes(n)?;
    let mut slice = bytes;
    let b = RoaringBitmap::deserialize_from(&mut slice)
        .map_err(|e| r.corrupt(format!("bad roaring bitmap: {e}")))?;
    if !slice.is_empty() {
        return Err(r.corrupt("trailing bytes after a bitmap"));
    }
    Ok(b)
}

/// The persisted part of a user's follow graph.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GraphRecord {
    /// Users followed.
    pub followees: RoaringBitmap,
    /// Users muted.
    pub muted: RoaringBitmap,
    /// Users blocked.
    pub blocked: RoaringBitmap,
}

impl GraphRecord {
    /// Encodes: `version (1) | 3 x (length, roaring serialization)`.
    ///
    /// # Panics
    /// Never (serializing into a `Vec` cannot fail).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![RECORD_VERSION];
        for b in [&self.followees, &self.muted, &self.blocked] {
            put_bitmap(&mut out, b);
        }
        out
    }

    /// Decodes, rejecting anything malformed.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "graph record");
        let v = r.u8()?;
        if v != RECORD_VERSION {
            return Err(r.corrupt(format!("unknown version {v}")));
        }
        let rec = Self {
            followees: get_bitmap(&mut r)?,
            muted: get_bitmap(&mut r)?,
            blocked: get_bitmap(&mut r)?,
        };
        r.finish()?;
        Ok(rec)
    }
}

/// A user's learned state: affinities and seen posts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserStateRecord {
    /// `(author, decayed value, as of)`, ascending by author.
    pub affinity: Vec<(UserId, f64, i64)>,
    /// Posts served.
    pub seen: RoaringTreemap,
}

impl UserStateRecord {
    /// Encodes: `version | count | (author delta, f64 LE, ts zigzag)* | seen length | treemap`.
    ///
    /// # Panics
    /// Never (serializing into a `Vec` cannot fail).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![RECORD_VERSION];
        put_varint(&mut out, self.affinity.len() as u64);
        let mut prev = 0u32;
        for &(a, v, t) in &self.affinity {
            put_varint(&mut out, u64::from(a.0 - prev));
            out.extend_from_slice(&v.to_le_bytes());
            put_ivarint(&mut out, t);
            prev = a.0;
        }
        put_varint(&mut out, self.seen.serialized_size() as u64);
        self.seen
            .serialize_into(&mut out)
            .expect("writing to a Vec cannot fail");
        out
    }

    /// Decodes, rejecting anything malformed (unsorted authors, non-finite values).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "user state record");
        let v = r.u8()?;
        if v != RECORD_VERSION {
            return Err(r.corrupt(format!("unknown version {v}")));
        }
        let n = r.len(10)?;
        let mut affinity = Vec::with_capacity(n);
        let mut prev: Option<u32> = None;
        for _ in 0..n {
            let d = r.u32v()?;
            let a = match prev {
                None => d,
                Some(p) => {
                    if d == 0 {
                        return Err(r.corrupt("authors not strictly ascending"));
                    }
                    p.checked_add(d)
                        .ok_or_else(|| r.corrupt("author id overflows"))?
                }
            };
            let value = r.f64()?;
            let ts = r.ivarint()?;
            affinity.push((UserId(a), value, ts));
            prev = Some(a);
        }
        let len = r.len(1)?;
        let mut slice = r.bytes(len)?;
        let seen = RoaringTreemap::deserialize_from(&mut slice)
            .map_err(|e| r.corrupt(format!("bad roaring treemap: {e}")))?;
        if !slice.is_empty() {
            return Err(r.corrupt("trailing bytes after the seen set"));
        }
        r.finish()?;
        Ok(Self { affinity, seen })
    }
}

/// A block of consecutive posts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PostBlock {
    /// The posts, with consecutive ids.
    pub posts: Vec<Post>,
}

const F_DELETED: u8 = 1 << 3;
const F_PUSHED: u8 = 1 << 4;
const F_RESHARE: u8 = 1 << 5;

impl PostBlock {
    /// Encodes: `version | count | first id | per post: kind|flags (1), author,
    /// ts zigzag, [original id delta back], likes, comments, shares, velocity f64,
    /// velocity ts delta zigzag`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.posts.len() * 24);
        out.push(RECORD_VERSION);
        put_varint(&mut out, self.posts.len() as u64);
        put_varint(&mut out, self.posts.first().map_or(0, |p| p.id.0));
        for p in &self.posts {
            let mut tag = p.kind.id();
            if p.deleted {
                tag |= F_DELETED;
            }
            if p.pushed {
                tag |= F_PUSHED;
            }
            if p.reshare_of.is_some() {
                tag |= F_RESHARE;
            }
            out.push(tag);
            put_varint(&mut out, u64::from(p.author.0));
            put_ivarint(&mut out, p.ts);
            if let Some(o) = p.reshare_of {
                put_varint(&mut out, p.id.0 - o.0);
            }
            put_varint(&mut out, u64::from(p.likes));
            put_varint(&mut out, u64::from(p.comments));
            put_varint(&mut out, u64::from(p.shares));
            out.extend_from_slice(&p.velocity.to_le_bytes());
            put_ivarint(&mut out, p.velocity_ts.wrapping_sub(p.ts));
        }
        out
    }

    /// Decodes, rejecting anything malformed (a reshare must point to an
    /// earlier post).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "post block");
        let v = r.u8()?;
        if v != RECORD_VERSION {
            return Err(r.corrupt(format!("unknown version {v}")));
        }
        // The smallest post: tag, author, ts, likes, comments, shares (1 byte each),
        // velocity (8), velocity ts delta (1).
        let n = r.len(15)?;
        let first = r.varint()?;
        let mut posts = Vec::with_capacity(n);
        for i in 0..n as u64 {
            let id = first
                .checked_add(i)
                .ok_or_else(|| r.corrupt("post id overflows"))?;
            let tag = r.u8()?;
            if tag & !(0x07 | F_DELETED | F_PUSHED | F_RESHARE) != 0 {
                return Err(r.corrupt(format!("unknown flags {tag:#x}")));
            }
            let kind = Kind::from_id(tag & 0x07).ok_or_else(|| r.corrupt("unknown kind"))?;
            let author = UserId(r.u32v()?);
            let ts = r.ivarint()?;
            let reshare_of = if tag & F_RESHARE != 0 {
                let back = r.varint()?;
                if back == 0 || back > id {
                    return Err(r.corrupt("reshare must point to an earlier post"));
                }
                Some(PostId(id - back))
            } else {
                None
            };
            let likes = r.u32v()?;
            let comments = r.u32v()?;
            let shares = r.u32v()?;
            let velocity = r.f64()?;
            let velocity_ts = ts.wrapping_add(r.ivarint()?);
            posts.push(Post {
                id: PostId(id),
                author,
                ts,
                kind,
                reshare_of,
                likes,
                comments,
                shares,
                velocity,
                velocity_ts,
                deleted: tag & F_DELETED != 0,
                pushed: tag & F_PUSHED != 0,
            });
        }
        r.finish()?;
        Ok(Self { posts })
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    posts: u64,
}

impl Record for Meta {
    const KIND: &'static str = "feed.meta";
    const VERSION: u32 = 1;
}

/// What a save wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaveStats {
    /// Keys written.
    pub keys: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// A feed persisted in a [`Store`] under `feed/<name>/`.
///
/// ```
/// use blocksmith_feed::{CursorKey, Feed, FeedConfig, FeedStore, Kind, UserId};
/// use blocksmith_store::{MemoryStore, block_on};
/// block_on(async {
///     let key = CursorKey::derive(b"secret");
///     let mut feed = Feed::new(FeedConfig::default(), key.clone());
///     feed.follow(UserId(1), UserId(2))?;
///     let p = feed.publish(UserId(2), 1_000, Kind::Text)?;
///     let fs = FeedStore::new(MemoryStore::new(), "news")?;
///     fs.save(&mut feed).await?;
///     let back = fs.load(FeedConfig::default(), key).await?;
///     assert_eq!(back.read(UserId(1), None, 2_000)?.items[0].post, p);
///     Ok::<(), blocksmith_feed::Error>(())
/// })?;
/// # Ok::<(), blocksmith_feed::Error>(())
/// ```
#[derive(Debug)]
pub struct FeedStore<S> {
    store: S,
    prefix: String,
}

fn parse_hex_suffix(key: &Key, prefix: &str) -> Result<u32> {
    let s = key.as_str();
    let tail = s.strip_prefix(prefix).unwrap_or("");
    if tail.len() != 8 {
        return Err(Error::Corrupt {
            what: "store key",
            reason: format!("unexpected key {s}"),
        });
    }
    u32::from_str_radix(tail, 16).map_err(|_| Error::Corrupt {
        what: "store key",
        reason: format!("unexpected key {s}"),
    })
}

impl<S: Store> FeedStore<S> {
    /// A feed named `name` (a valid key segment) in `store`.
    pub fn new(store: S, name: &str) -> Result<Self> {
        let prefix = format!("feed/{name}/");
        Key::new(format!("{prefix}meta"))?;
        if name.is_empty() || name.contains('/') {
            return Err(Error::Invalid(format!("bad feed name {name:?}")));
        }
        Ok(Self { store, prefix })
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn key(&self, kind: &str, n: u64) -> Result<Key> {
        Ok(Key::new(format!("{}{kind}/{n:08x}", self.prefix))?)
    }

    async fn put(&self, key: &Key, bytes: Vec<u8>, stats: &mut SaveStats) -> Result<()> {
        stats.keys += 1;
        stats.bytes += bytes.len() as u64;
        self.store
            .put(key, Bytes::from(bytes), blocksmith_store::PutOptions::new())
            .await?;
        Ok(())
    }

    /// Writes everything that changed since the last save.
    pub async fn save<Sc: Scorer>(&self, feed: &mut Feed<Sc>) -> Result<SaveStats> {
        let mut stats = SaveStats::default();
        let dirty = std::mem::take(&mut feed.dirty);
        let result = async {
            for u in &dirty.graph {
                if let Some(s) = feed.user(UserId(u)) {
                    let rec = GraphRecord {
                        followees: s.followees.clone(),
                        muted: s.muted.clone(),
                        blocked: s.blocked.clone(),
                    };
                    self.put(&self.key("graph", u64::from(u))?, rec.encode(), &mut stats)
                        .await?;
                }
            }
            for u in &dirty.inbox {
                if let Some(inbox) = feed.inbox(UserId(u)) {
                    self.put(
                        &self.key("inbox", u64::from(u))?,
                        inbox.encode(),
                        &mut stats,
                    )
                    .await?;
                }
            }
            for u in &dirty.state {
                if let Some(s) = feed.user(UserId(u)) {
                    let mut affinity: Vec<_> = s
                        .affinity
                        .iter()
                        .map(|(&a, &(v, t))| (UserId(a), v, t))
                        .collect();
                    affinity.sort_unstable_by_key(|x| x.0);
                    let rec = UserStateRecord {
                        affinity,
                        seen: s.seen.clone(),
                    };
                    self.put(&self.key("state", u64::from(u))?, rec.encode(), &mut stats)
                        .await?;
                }
            }
            for &b in &dirty.post_blocks {
                let lo = (b * POST_BLOCK) as usize;
                let hi = (lo + POST_BLOCK as usize).min(feed.posts.len());
                if lo < hi {
                    let block = PostBlock {
                        posts: feed.posts[lo..hi].to_vec(),
                    };
                    self.put(&self.key("posts", b)?, block.encode(), &mut stats)
                        .await?;
                }
            }
            let meta = Meta {
                posts: feed.posts.len() as u64,
            };
            let key = Key::new(format!("{}meta", self.prefix))?;
            let r = self
                .store
                .put_record(&key, &meta, blocksmith_store::PutOptions::new())
                .await;
            r?;
            stats.keys += 1;
            Ok::<_, Error>(())
        }
        .await;
        if let Err(e) = result {
            // Nothing is lost: what was not written stays dirty.
            feed.dirty.graph |= dirty.graph;
            feed.dirty.inbox |= dirty.inbox;
            feed.dirty.state |= dirty.state;
            feed.dirty.post_blocks.extend(dirty.post_blocks);
            return Err(e);
        }
        Ok(stats)
    }

    /// Loads the feed with the default scorer.
    pub async fn load(&self, config: FeedConfig, key: CursorKey) -> Result<Feed<EdgeRank>> {
        self.load_with_scorer(config, key, EdgeRank::default())
            .await
    }

    /// Loads the feed (an empty one if nothing was saved) with a custom scorer.
    pub async fn load_with_scorer<Sc: Scorer>(
        &self,
        config: FeedConfig,
        key: CursorKey,
        scorer: Sc,
    ) -> Result<Feed<Sc>> {
        let mut feed = Feed::with_scorer(config, key, scorer);
        let meta_key = Key::new(format!("{}meta", self.prefix))?;
        let Some((meta, _)) = self.store.get_record::<Meta>(&meta_key).await? else {
            return Ok(feed);
        };
        let corrupt = |reason: String| Error::Corrupt {
            what: "feed",
            reason,
        };
        // Posts.
        let blocks = meta.posts.div_ceil(POST_BLOCK);
        for b in 0..blocks {
            let k = self.key("posts", b)?;
            let data = self
                .store
                .get_opt(&k)
                .await?
                .ok_or_else(|| corrupt(format!("missing {k}")))?;
            let block = PostBlock::decode(&data.data)?;
            let expect = (meta.posts - b * POST_BLOCK).min(POST_BLOCK) as usize;
            if block.posts.len() != expect
                || block
                    .posts
                    .first()
                    .is_some_and(|p| p.id.0 != b * POST_BLOCK)
            {
                return Err(corrupt(format!(
                    "{k} does not hold posts {}..",
                    b * POST_BLOCK
                )));
            }
            feed.posts.extend(block.posts);
        }
        for i in 0..feed.posts.len() {
            let p = feed.posts[i].clone();
            if let Some(o) = p.reshare_of
                && feed.posts[o.0 as usize].reshare_of.is_some()
            {
                return Err(corrupt(format!("{} reshares a reshare", p.id)));
            }
            let s = feed.user_mut(p.author)?;
            let e = Entry::new(p.ts, p.id);
            if p.pushed {
                s.pushed.push(e);
            } else {
                s.pulled.push(e);
                feed.pull_authors.insert(p.author.0);
            }
        }
        for s in feed.users.iter_mut().flatten() {
            s.pushed.sort_unstable();
            s.pulled.sort_unstable();
        }
        // Graph.
        let graph_prefix = format!("{}graph/", self.prefix);
        for m in self.store.list_all(&graph_prefix).await? {
            let u = UserId(parse_hex_suffix(&m.key, &graph_prefix)?);
            let data = self
                .store
                .get(&m.key, blocksmith_store::GetOptions::new())
                .await?;
            let rec = GraphRecord::decode(&data.data)?;
            let max = [&rec.followees, &rec.muted, &rec.blocked]
                .iter()
                .filter_map(|b| b.max())
                .max();
            if let Some(top) = max
                && top >= feed.config.max_users
            {
                return Err(corrupt(format!(
                    "{} names user {top}, beyond max_users",
                    m.key
                )));
            }
            for a in rec.followees.iter().chain(&rec.muted).chain(&rec.blocked) {
                if a == u.0 {
                    return Err(corrupt(format!("{u} refers to itself")));
                }
                feed.user_mut(UserId(a))?;
            }
            for a in &rec.followees {
                feed.user_mut(UserId(a))?.followers.insert(u.0);
            }
            for a in &rec.blocked {
                feed.user_mut(UserId(a))?.blocked_by.insert(u.0);
            }
            let s = feed.user_mut(u)?;
            s.followees = rec.followees;
            s.muted = rec.muted;
            s.blocked = rec.blocked;
        }
        let inbox_prefix = format!("{}inbox/", self.prefix);
        for m in self.store.list_all(&inbox_prefix).await? {
            let u = UserId(parse_hex_suffix(&m.key, &inbox_prefix)?);
            let data = self
                .store
                .get(&m.key, blocksmith_store::GetOptions::new())
                .await?;
            let inbox = Inbox::decode(&data.data)?;
            if inbox.entries().any(|e| e.post.0 >= meta.posts) {
                return Err(corrupt(format!("inbox of {u} names an unknown post")));
            }
            feed.user_mut(u)?;
            feed.inboxes[u.0 as usize] = inbox;
        }
        let state_prefix = format!("{}state/", self.prefix);
        for m in self.store.list_all(&state_prefix).await? {
            let u = UserId(parse_hex_suffix(&m.key, &state_prefix)?);
            let data = self
                .store
                .get(&m.key, blocksmith_store::GetOptions::new())
                .await?;
            let rec = UserStateRecord::decode(&data.data)?;
            let s: &mut UserState = feed.user_mut(u)?;
            s.affinity = rec
                .affinity
                .iter()
                .map(|&(a, v, t)| (a.0, (v, t)))
                .collect();
            s.seen = rec.seen;
        }
        Ok(feed)
    }
}
