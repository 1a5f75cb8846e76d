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
//! - `posts/<block, 8 hex>`: a [`PostBlock`] of 1024 consecutive posts;
//! - `journal/<id, 16 hex>/<part, 6 digits>`: the records of a save in
//!   progress (see below).
//!
//! [`FeedStore::save`] writes only what changed since the last save (the
//! engine tracks dirty users and post blocks). Authors' outboxes and the set
//! of pulled authors are derived from the posts on load. One writer per feed.
//!
//! # Crash safety
//! A save is atomic: a crash at any store operation leaves the feed as the
//! last save that returned `Ok` left it, or as the save in flight would
//! have, never a mix of the two (which could break the engine's invariants:
//! a follow saved without the inbox it backfilled). A save that changes
//! records first writes them all, in order, into journal parts, then
//! commits by writing `meta` naming the journal; then it writes the records
//! to their own keys, writes `meta` without the journal, and deletes the
//! journal parts. [`FeedStore::load`] reads the records named by a
//! committed journal from the journal, and marks them changed, so the next
//! save writes them again. Journal parts left by a save that never
//! committed are ignored, and deleted by the next save that writes a
//! journal. The journal doubles the bytes a save writes; a save that
//! changes no record writes only `meta`.

use crate::codec::{Reader, put_ivarint, put_varint};
use crate::feed::{POST_BLOCK, UserState};
use crate::inbox::{Entry, Inbox};
use crate::{
    CursorKey, EdgeRank, Error, Feed, FeedOptions, Kind, Post, PostId, Result, Scorer, UserId,
};
use blocksmith_store::record::Record;
use blocksmith_store::{Key, Store, StoreExt};
use bytes::Bytes;
use roaring::{RoaringBitmap, RoaringTreemap};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

/// The largest journal part (less if the store's capabilities say so).
const JOURNAL_PART: usize = 8 << 20;

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
    ///
    /// # Errors
    /// [`Error::Corrupt`] if `bytes` are truncated or have trailing bytes, carry
    /// an unknown version, or a bitmap that is not roaring's portable format.
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
            // Wrapping: unsorted authors encode to bytes `decode` refuses.
            put_varint(&mut out, u64::from(a.0.wrapping_sub(prev)));
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
    ///
    /// # Errors
    /// [`Error::Corrupt`] if `bytes` are truncated or have trailing bytes, carry
    /// an unknown version or a count the input cannot hold, authors that are not
    /// strictly ascending or overflow, or a seen set that is not roaring's
    /// portable treemap format.
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
                // Wrapping: a reshare of a later post encodes to bytes
                // `decode` refuses.
                put_varint(&mut out, p.id.0.wrapping_sub(o.0));
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
    ///
    /// # Errors
    /// [`Error::Corrupt`] if `bytes` are truncated or have trailing bytes, carry
    /// an unknown version, flags or kind, a count the input cannot hold, post ids
    /// that overflow, or a reshare that does not point to an earlier post.
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
    /// The committed save whose records may not all be at their keys yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    journal: Option<Journal>,
}

/// Where a save's records are, whole: `parts` parts under
/// `journal/<id>/`, `len` bytes in all, with this BLAKE3 hash.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
struct Journal {
    id: u64,
    parts: u32,
    len: u64,
    hash: String,
}

/// A journal id no save of this process has used, and unlikely to be one
/// another process left behind.
fn journal_id() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos.wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed))
}

impl Record for Meta {
    const KIND: &'static str = "feed.meta";
    const VERSION: u32 = 1;
}

/// What a save wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaveStats {
    /// Keys written: the changed records and `meta` (not the journal).
    pub keys: usize,
    /// Bytes of the changed records written (not counting the journal,
    /// which holds them a second time).
    pub bytes: u64,
}

/// A feed persisted in a [`Store`] under `feed/<name>/`.
///
/// ```
/// use blocksmith_feed::{CursorKey, Feed, FeedOptions, FeedStore, Kind, UserId};
/// use blocksmith_store::{MemoryStore, block_on};
/// block_on(async {
///     let key = CursorKey::derive(b"secret");
///     let mut feed = Feed::new(FeedOptions::default(), key.clone());
///     feed.follow(UserId(1), UserId(2))?;
///     let p = feed.publish(UserId(2), 1_000, Kind::Text)?;
///     let fs = FeedStore::new(MemoryStore::new(), "news")?;
///     fs.save(&mut feed).await?;
///     let back = fs.load(FeedOptions::default(), key).await?;
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
    ///
    /// # Errors
    /// [`Error::Invalid`] if `name` is empty or contains `/`; [`Error::Store`] if
    /// it cannot be a key segment (`.`, `..`, a backslash or a control
    /// character).
    pub fn new(store: S, name: &str) -> Result<Self> {
        if name.is_empty() || name.contains('/') {
            return Err(Error::Invalid(format!("bad feed name {name:?}")));
        }
        let prefix = format!("feed/{name}/");
        Key::new(format!("{prefix}meta"))?;
        Ok(Self { store, prefix })
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn key(&self, kind: &str, n: u64) -> Result<Key> {
        Ok(Key::new(format!("{}{kind}/{n:08x}", self.prefix))?)
    }

    fn meta_key(&self) -> Result<Key> {
        Ok(Key::new(format!("{}meta", self.prefix))?)
    }

    /// Writes `records` into journal parts; returns the journal to commit.
    async fn write_journal(&self, records: &[(Key, Vec<u8>)]) -> Result<Journal> {
        let mut body = Vec::new();
        for (k, v) in records {
            put_varint(&mut body, k.as_str().len() as u64);
            body.extend_from_slice(k.as_str().as_bytes());
            put_varint(&mut body, v.len() as u64);
            body.extend_from_slice(v);
        }
        let part_size = self
            .store
            .capabilities()
            .max_value_size
            .map_or(JOURNAL_PART, |m| (m as usize).clamp(1, JOURNAL_PART));
        let id = journal_id();
        let mut parts = 0;
        for (i, chunk) in body.chunks(part_size).enumerate() {
            let key = Key::new(format!("{}journal/{id:016x}/{i:06}", self.prefix))?;
            self.store
                .put(
                    &key,
                    Bytes::copy_from_slice(chunk),
                    blocksmith_store::PutOptions::new(),
                )
                .await?;
            parts = i + 1;
        }
        Ok(Journal {
            id,
            parts: u32::try_from(parts).map_err(|_| Error::Invalid("journal too large".into()))?,
            len: body.len() as u64,
            hash: blake3::hash(&body).to_hex().to_string(),
        })
    }

    /// The records of a committed journal, by key.
    async fn read_journal(&self, j: &Journal) -> Result<BTreeMap<String, Vec<u8>>> {
        let corrupt = |reason: String| Error::Corrupt {
            what: "feed journal",
            reason,
        };
        let mut body = Vec::new();
        for i in 0..j.parts {
            let key = Key::new(format!("{}journal/{:016x}/{i:06}", self.prefix, j.id))?;
            let data = self
                .store
                .get_opt(&key)
                .await?
                .ok_or_else(|| corrupt(format!("missing {key}")))?;
            body.extend_from_slice(&data.data);
            if body.len() as u64 > j.len {
                return Err(corrupt("longer than its meta says".into()));
            }
        }
        if body.len() as u64 != j.len || blake3::hash(&body).to_hex().as_str() != j.hash {
            return Err(corrupt("does not match its meta".into()));
        }
        let mut r = Reader::new(&body, "feed journal");
        let mut out = BTreeMap::new();
        while !r.is_empty() {
            let n = r.len(1)?;
            let key = std::str::from_utf8(r.bytes(n)?)
                .ok()
                .filter(|k| k.starts_with(&self.prefix))
                .ok_or_else(|| r.corrupt("bad key"))?
                .to_string();
            let n = r.len(1)?;
            out.insert(key, r.bytes(n)?.to_vec());
        }
        Ok(out)
    }

    /// Deletes every journal part (none is named by `meta` any more).
    async fn remove_journals(&self) -> Result<()> {
        for m in self
            .store
            .list_all(&format!("{}journal/", self.prefix))
            .await?
        {
            self.store.delete(&m.key).await?;
        }
        Ok(())
    }

    /// Writes everything that changed since the last save, atomically (see
    /// the module's "Crash safety").
    ///
    /// # Errors
    /// [`Error::Store`] if the store fails; the changes stay marked dirty, so the
    /// next save writes them again. A crash or failure mid-save leaves the
    /// stored feed as the last completed save or this one, never a mix.
    pub async fn save<Sc: Scorer>(&self, feed: &mut Feed<Sc>) -> Result<SaveStats> {
        let mut stats = SaveStats::default();
        let dirty = std::mem::take(&mut feed.dirty);
        let result = async {
            let mut records: Vec<(Key, Vec<u8>)> = Vec::new();
            for u in &dirty.graph {
                if let Some(s) = feed.user(UserId(u)) {
                    let rec = GraphRecord {
                        followees: s.followees.clone(),
                        muted: s.muted.clone(),
                        blocked: s.blocked.clone(),
                    };
                    records.push((self.key("graph", u64::from(u))?, rec.encode()));
                }
            }
            for u in &dirty.inbox {
                if let Some(inbox) = feed.inbox(UserId(u)) {
                    records.push((self.key("inbox", u64::from(u))?, inbox.encode()));
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
                    records.push((self.key("state", u64::from(u))?, rec.encode()));
                }
            }
            for &b in &dirty.post_blocks {
                let lo = (b * POST_BLOCK) as usize;
                let hi = (lo + POST_BLOCK as usize).min(feed.posts.len());
                if lo < hi {
                    let block = PostBlock {
                        posts: feed.posts[lo..hi].to_vec(),
                    };
                    records.push((self.key("posts", b)?, block.encode()));
                }
            }
            let posts = feed.posts.len() as u64;
            let meta_key = self.meta_key()?;
            let journal = if records.is_empty() {
                None
            } else {
                let journal = self.write_journal(&records).await?;
                // The commit point.
                let meta = Meta {
                    posts,
                    journal: Some(journal.clone()),
                };
                self.store
                    .put_record(&meta_key, &meta, blocksmith_store::PutOptions::new())
                    .await?;
                Some(journal)
            };
            for (key, bytes) in records {
                stats.keys += 1;
                stats.bytes += bytes.len() as u64;
                self.store
                    .put(
                        &key,
                        Bytes::from(bytes),
                        blocksmith_store::PutOptions::new(),
                    )
                    .await?;
            }
            let meta = Meta {
                posts,
                journal: None,
            };
            self.store
                .put_record(&meta_key, &meta, blocksmith_store::PutOptions::new())
                .await?;
            stats.keys += 1;
            if journal.is_some() {
                self.remove_journals().await?;
            }
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
    ///
    /// # Errors
    /// As [`FeedStore::load_with_scorer`].
    pub async fn load(&self, config: FeedOptions, key: CursorKey) -> Result<Feed<EdgeRank>> {
        self.load_with_scorer(config, key, EdgeRank::default())
            .await
    }

    /// Loads the feed (an empty one if nothing was saved) with a custom scorer.
    ///
    /// # Errors
    /// - [`Error::Store`] if the store fails or a stored key is not valid;
    /// - [`Error::Corrupt`] if a stored record does not decode, is missing or
    ///   contradicts the others (a reshare of a reshare, a user following itself,
    ///   an inbox naming an unknown post, a journal entry of an unknown kind);
    /// - [`Error::UserOutOfRange`] if the stored feed has users at or beyond
    ///   `config.max_users` (it was saved with a larger bound).
    pub async fn load_with_scorer<Sc: Scorer>(
        &self,
        config: FeedOptions,
        key: CursorKey,
        scorer: Sc,
    ) -> Result<Feed<Sc>> {
        let mut feed = Feed::with_scorer(config, key, scorer);
        let Some((meta, _)) = self.store.get_record::<Meta>(&self.meta_key()?).await? else {
            return Ok(feed);
        };
        // A committed save's records, some maybe not at their keys yet.
        let journal = match &meta.journal {
            Some(j) => self.read_journal(j).await?,
            None => BTreeMap::new(),
        };
        let read = async |key: &Key| -> Result<Option<Bytes>> {
            if let Some(b) = journal.get(key.as_str()) {
                return Ok(Some(Bytes::copy_from_slice(b)));
            }
            Ok(self.store.get_opt(key).await?.map(|r| r.data))
        };
        // The keys under `prefix`: stored or journaled.
        let keys_under = async |prefix: &str| -> Result<Vec<Key>> {
            let mut keys: BTreeSet<String> = self
                .store
                .list_all(prefix)
                .await?
                .into_iter()
                .map(|m| m.key.into_string())
                .collect();
            keys.extend(journal.keys().filter(|k| k.starts_with(prefix)).cloned());
            keys.into_iter()
                .map(|k| Key::new(k).map_err(Error::from))
                .collect()
        };
        let corrupt = |reason: String| Error::Corrupt {
            what: "feed",
            reason,
        };
        // Posts.
        let blocks = meta.posts.div_ceil(POST_BLOCK);
        for b in 0..blocks {
            let k = self.key("posts", b)?;
            let data = read(&k)
                .await?
                .ok_or_else(|| corrupt(format!("missing {k}")))?;
            let block = PostBlock::decode(&data)?;
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
        for key in keys_under(&graph_prefix).await? {
            let u = UserId(parse_hex_suffix(&key, &graph_prefix)?);
            let data = read(&key)
                .await?
                .ok_or_else(|| corrupt(format!("{key} vanished")))?;
            let rec = GraphRecord::decode(&data)?;
            let max = [&rec.followees, &rec.muted, &rec.blocked]
                .iter()
                .filter_map(|b| b.max())
                .max();
            if let Some(top) = max
                && top >= feed.config.max_users
            {
                return Err(corrupt(format!("{key} names user {top}, beyond max_users")));
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
        for key in keys_under(&inbox_prefix).await? {
            let u = UserId(parse_hex_suffix(&key, &inbox_prefix)?);
            let data = read(&key)
                .await?
                .ok_or_else(|| corrupt(format!("{key} vanished")))?;
            let inbox = Inbox::decode(&data)?;
            if inbox.entries().any(|e| e.post.0 >= meta.posts) {
                return Err(corrupt(format!("inbox of {u} names an unknown post")));
            }
            feed.user_mut(u)?;
            feed.inboxes[u.0 as usize] = inbox;
        }
        let state_prefix = format!("{}state/", self.prefix);
        for key in keys_under(&state_prefix).await? {
            let u = UserId(parse_hex_suffix(&key, &state_prefix)?);
            let data = read(&key)
                .await?
                .ok_or_else(|| corrupt(format!("{key} vanished")))?;
            let rec = UserStateRecord::decode(&data)?;
            let s: &mut UserState = feed.user_mut(u)?;
            s.affinity = rec
                .affinity
                .iter()
                .map(|&(a, v, t)| (a.0, (v, t)))
                .collect();
            s.seen = rec.seen;
        }
        // What the journal holds may not be at its keys: the next save
        // writes it again (and a journal of its own first).
        for key in journal.keys() {
            let rest = &key[self.prefix.len()..];
            let (kind, n) = rest.split_once('/').unwrap_or((rest, ""));
            let n = u64::from_str_radix(n, 16).map_err(|_| corrupt(format!("journaled {key}")))?;
            match kind {
                "graph" => drop(feed.dirty.graph.insert(n as u32)),
                "inbox" => drop(feed.dirty.inbox.insert(n as u32)),
                "state" => drop(feed.dirty.state.insert(n as u32)),
                "posts" => drop(feed.dirty.post_blocks.insert(n)),
                _ => return Err(corrupt(format!("journaled {key}"))),
            }
        }
        Ok(feed)
    }
}

impl<S: Store> FeedStore<S> {
    /// The same calls as blocking ones, for synchronous hosts, tools and
    /// tests (each drives the async method to completion on the calling
    /// thread with [`blocksmith_store::block_on`]: never call it from inside
    /// an async runtime's task).
    pub fn blocking(&self) -> BlockingFeedStore<'_, S> {
        BlockingFeedStore(self)
    }
}

/// Blocking calls over a [`FeedStore`] (see [`FeedStore::blocking`]).
#[derive(Debug)]
pub struct BlockingFeedStore<'a, S>(&'a FeedStore<S>);

impl<S: Store> BlockingFeedStore<'_, S> {
    /// [`FeedStore::save`].
    ///
    /// # Errors
    /// As [`FeedStore::save`].
    pub fn save<Sc: Scorer>(&self, feed: &mut Feed<Sc>) -> Result<SaveStats> {
        blocksmith_store::block_on(self.0.save(feed))
    }
    /// [`FeedStore::load`].
    ///
    /// # Errors
    /// As [`FeedStore::load`].
    pub fn load(&self, config: FeedOptions, key: CursorKey) -> Result<Feed<EdgeRank>> {
        blocksmith_store::block_on(self.0.load(config, key))
    }
    /// [`FeedStore::load_with_scorer`].
    ///
    /// # Errors
    /// As [`FeedStore::load_with_scorer`].
    pub fn load_with_scorer<Sc: Scorer>(
        &self,
        config: FeedOptions,
        key: CursorKey,
        scorer: Sc,
    ) -> Result<Feed<Sc>> {
        blocksmith_store::block_on(self.0.load_with_scorer(config, key, scorer))
    }
}
