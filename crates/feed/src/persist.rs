//! Persistence through `blocksmith-store`, and the binary records it writes.
//!
//! # Layout in the store
//! Under `feed/<name>/`:
//! - `meta`: a typed record (`feed.meta` v1): the last save (the head of the
//!   log: its generation and nonce) and the checkpoint (the save through
//!   which every record is at its own key), with the post count there;
//! - `graph/<user, 8 hex>`: a [`GraphRecord`]: followees, mutes and blocks as
//!   roaring bitmaps in roaring's portable serialization (followers are the
//!   transpose and are rebuilt on load: one source of truth, half the bytes);
//! - `inbox/<user>`: the user's [`Inbox`] block (varint deltas);
//! - `state/<user>`: a [`UserStateRecord`]: decayed affinities and seen posts;
//! - `posts/<block, 8 hex>`: a [`PostBlock`] of 1024 consecutive posts;
//! - `log/<generation, 16 hex>-<nonce, 16 hex>`: a [`LogEntry`]: the records
//!   one save changed, and the nonce of the save before it;
//! - `journal/<nonce, 16 hex>/<part, 6 digits>`: the records of a save too
//!   large to keep in its log entry.
//!
//! Records at their own keys are [`stamp`]ed with the generation of the
//! save that wrote them. [`FeedStore::save`] writes only what changed since
//! the feed was loaded, refreshed or saved (the engine tracks dirty users
//! and post blocks). Authors' outboxes and the set of pulled authors are
//! derived from the posts on load.
//!
//! # Several writers
//! Any number of processes may load, change and save one feed. A save
//! writes its log entry, then moves `meta`'s head from the save the feed
//! reflects to its own by compare-and-swap: the commit point. A writer
//! whose feed is behind the head gets [`Error::Conflict`] and writes
//! nothing; [`FeedStore::update`] refreshes, reruns the change and saves
//! again until it wins. So saves form one chain, post ids never collide,
//! and a fan-out always sees the follower sets of every earlier save. After
//! the commit, the saver writes the records of the saves since the
//! checkpoint to their own keys (each by compare-and-swap on its stamp, so
//! an older record never overwrites a newer one) and moves the checkpoint.
//! [`FeedStore::refresh`] applies the saves since the feed's own from the
//! log; readers use it between pages. Log entries are kept for the 256
//! saves before the checkpoint, so that a load or refresh overlapping that
//! many saves still finds them.
//!
//! # Crash safety
//! A save is atomic: a crash at any store operation leaves the feed as the
//! last save that returned `Ok` left it, or as the save in flight would
//! have, never a mix of the two (which could break the engine's invariants:
//! a follow saved without the inbox it backfilled). [`FeedStore::load`]
//! reads the records at their keys, then the log entries from the
//! checkpoint to the head (read after them, so none of those records is
//! newer than the head), and applies the entries in order. A log entry or
//! journal parts left by a save that never committed are never named by
//! the chain from the head, and are removed with old entries. A save that
//! changes no record writes nothing.

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

// ------------------------------------------------------------------------
// Record keys, stamps and the log of saves.

/// Which record a key under `feed/<name>/` holds.
///
/// The order (post blocks first, ascending) is the order in which records
/// are applied to a feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKey {
    /// `posts/<block>`: a [`PostBlock`] of posts `block * 1024 ..`.
    Posts(u64),
    /// `graph/<user>`: a [`GraphRecord`].
    Graph(UserId),
    /// `inbox/<user>`: an [`Inbox`] block.
    Inbox(UserId),
    /// `state/<user>`: a [`UserStateRecord`].
    State(UserId),
}

impl RecordKey {
    /// The key's name under the feed's prefix, e.g. `graph/0000002a`.
    pub fn name(&self) -> String {
        match self {
            Self::Posts(b) => format!("posts/{b:08x}"),
            Self::Graph(u) => format!("graph/{:08x}", u.0),
            Self::Inbox(u) => format!("inbox/{:08x}", u.0),
            Self::State(u) => format!("state/{:08x}", u.0),
        }
    }

    /// Parses a name [`RecordKey::name`] wrote; `None` for anything else
    /// (another kind, upper-case or extra digits).
    pub fn parse(name: &str) -> Option<Self> {
        let (kind, n) = name.split_once('/')?;
        if n.len() < 8
            || !n
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        let v = u64::from_str_radix(n, 16).ok()?;
        let user = || u32::try_from(v).ok().map(UserId);
        let rk = match kind {
            "posts" => Self::Posts(v),
            "graph" => Self::Graph(user()?),
            "inbox" => Self::Inbox(user()?),
            "state" => Self::State(user()?),
            _ => return None,
        };
        (rk.name() == name).then_some(rk)
    }
}

/// The first byte of a record stored at its own key with the save that
/// wrote it (no record version is this byte).
const STAMP: u8 = 0xFE;

/// `record` as stored at its own key: stamped with the generation of the
/// save that writes it (see [`unstamp`]).
pub fn stamp(generation: u64, record: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(record.len() + 10);
    out.push(STAMP);
    put_varint(&mut out, generation);
    out.extend_from_slice(record);
    out
}

/// Splits a record read from its own key into the generation of the save
/// that wrote it and the record. A record written before stamps existed
/// (it starts with its own version byte) is generation 0.
///
/// # Errors
/// [`Error::Corrupt`] if the stamp is truncated or overflows.
pub fn unstamp(bytes: &[u8]) -> Result<(u64, &[u8])> {
    match bytes.split_first() {
        Some((&STAMP, rest)) => {
            let mut r = Reader::new(rest, "record stamp");
            let generation = r.varint()?;
            let used = rest.len() - r.remaining();
            Ok((generation, &rest[used..]))
        }
        _ => Ok((0, bytes)),
    }
}

/// Encodes records as a log body: `count | (name length, name, value
/// length, value)*`, names ascending.
pub fn encode_records(records: &[(RecordKey, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + records.iter().map(|r| r.1.len() + 24).sum::<usize>());
    put_varint(&mut out, records.len() as u64);
    for (k, v) in records {
        let name = k.name();
        put_varint(&mut out, name.len() as u64);
        out.extend_from_slice(name.as_bytes());
        put_varint(&mut out, v.len() as u64);
        out.extend_from_slice(v);
    }
    out
}

/// Decodes [`encode_records`] bytes.
///
/// # Errors
/// [`Error::Corrupt`] if `bytes` are truncated or have trailing bytes, name
/// something that is not a [`RecordKey`], or list records out of order or
/// twice.
pub fn decode_records(bytes: &[u8]) -> Result<Vec<(RecordKey, Vec<u8>)>> {
    let mut r = Reader::new(bytes, "feed log records");
    let n = r.len(4)?;
    let mut out: Vec<(RecordKey, Vec<u8>)> = Vec::with_capacity(n);
    for _ in 0..n {
        let len = r.len(1)?;
        let name = std::str::from_utf8(r.bytes(len)?).ok();
        let rk = name
            .and_then(RecordKey::parse)
            .ok_or_else(|| r.corrupt("not a record key"))?;
        if out.last().is_some_and(|(last, _)| *last >= rk) {
            return Err(r.corrupt("records out of order"));
        }
        let len = r.len(1)?;
        out.push((rk, r.bytes(len)?.to_vec()));
    }
    r.finish()?;
    Ok(out)
}

/// One save in a feed's log, stored at `log/<generation>-<nonce>` (both 16
/// hex digits): what the save changed, and the save before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// The save's generation: 1 for a feed's first save, one more each save.
    pub generation: u64,
    /// The nonce of the save before it (0 before the first).
    pub prev: u64,
    /// Posts in the feed after this save.
    pub posts: u64,
    /// The records it changed.
    pub body: LogBody,
}

/// Where a [`LogEntry`]'s records are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogBody {
    /// In the entry, ascending by key.
    Inline(Vec<(RecordKey, Vec<u8>)>),
    /// In `parts` parts under `journal/<nonce>/` (the entry's own nonce):
    /// [`encode_records`] bytes, `len` in all, with this BLAKE3 hash.
    Parts {
        /// How many parts.
        parts: u32,
        /// Their total length.
        len: u64,
        /// The BLAKE3 hash of their concatenation.
        hash: [u8; 32],
    },
}

const LOG_MAGIC: &[u8; 2] = b"FL";
const LOG_VERSION: u8 = 1;

impl LogEntry {
    /// Encodes: `"FL" | version (1) | generation | prev | posts | 0 |
    /// records` for an inline body, `... | 1 | parts | len | hash (32)` for
    /// one in parts.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(LOG_MAGIC);
        out.push(LOG_VERSION);
        put_varint(&mut out, self.generation);
        put_varint(&mut out, self.prev);
        put_varint(&mut out, self.posts);
        match &self.body {
            LogBody::Inline(records) => {
                out.push(0);
                out.extend_from_slice(&encode_records(records));
            }
            LogBody::Parts { parts, len, hash } => {
                out.push(1);
                put_varint(&mut out, u64::from(*parts));
                put_varint(&mut out, *len);
                out.extend_from_slice(hash);
            }
        }
        out
    }

    /// Decodes, rejecting anything malformed.
    ///
    /// # Errors
    /// [`Error::Corrupt`] if `bytes` are truncated or have trailing bytes,
    /// carry another magic, an unknown version or body kind, generation 0,
    /// or records [`decode_records`] refuses.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "feed log entry");
        if r.bytes(2)? != LOG_MAGIC {
            return Err(r.corrupt("not a feed log entry"));
        }
        let v = r.u8()?;
        if v != LOG_VERSION {
            return Err(r.corrupt(format!("unknown version {v}")));
        }
        let generation = r.varint()?;
        if generation == 0 {
            return Err(r.corrupt("generation 0"));
        }
        let prev = r.varint()?;
        let posts = r.varint()?;
        let body = match r.u8()? {
            0 => {
                let rest = r.bytes(r.remaining())?;
                LogBody::Inline(decode_records(rest)?)
            }
            1 => {
                let parts = u32::try_from(r.varint()?).map_err(|_| r.corrupt("too many parts"))?;
                let len = r.varint()?;
                let mut hash = [0; 32];
                hash.copy_from_slice(r.bytes(32)?);
                r.finish()?;
                LogBody::Parts { parts, len, hash }
            }
            t => return Err(r.corrupt(format!("unknown body kind {t}"))),
        };
        Ok(Self {
            generation,
            prev,
            posts,
            body,
        })
    }
}

/// The feed's root record: the last save (the head of the log), and the
/// save through which every record is at its own key (the checkpoint).
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, Default)]
struct Meta {
    /// Posts at the checkpoint.
    posts: u64,
    /// Written by the single-writer format: a committed save whose records
    /// may not all be at their keys yet (read, never written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    journal: Option<Journal>,
    #[serde(default)]
    checkpoint: u64,
    #[serde(default)]
    head: u64,
    #[serde(default)]
    head_nonce: u64,
}

/// A save of the single-writer format: `parts` parts under
/// `journal/<id>/`, `len` bytes in all, with this BLAKE3 hash.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
struct Journal {
    id: u64,
    parts: u32,
    len: u64,
    hash: String,
}

impl Record for Meta {
    const KIND: &'static str = "feed.meta";
    const VERSION: u32 = 1;
}

/// How far a feed in memory is in the stored log (kept in the [`Feed`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct SyncState {
    /// The last save this feed reflects (0: none).
    pub(crate) generation: u64,
    /// That save's nonce.
    pub(crate) nonce: u64,
    /// Whether the feed came from (or went to) a stored feed.
    pub(crate) stored: bool,
    /// The records of the saves after the stored checkpoint that this feed
    /// reflects: what its next checkpoint writes to their own keys.
    pub(crate) pending: BTreeMap<u64, Vec<RecordKey>>,
    /// A save whose commit failed with an unknown outcome.
    pub(crate) in_doubt: Option<(u64, u64)>,
}

/// The largest log body kept inline in its entry.
const INLINE_MAX: usize = 1 << 20;
/// Saves whose log entries outlive the checkpoint (so that a load or a
/// refresh that overlaps this many saves still finds them).
const LOG_RETAIN: u64 = 256;
/// A save whose generation is a multiple of this removes old log entries.
const GC_EVERY: u64 = 64;
/// Journal parts no log entry names are removed once this old (a save
/// writes its parts before its entry).
const ORPHAN_AGE_MS: u64 = 60 * 60 * 1000;
/// Loads that find the log moved under them before giving up.
const LOAD_ATTEMPTS: usize = 8;
/// Attempts of [`FeedStore::update`].
const UPDATE_ATTEMPTS: usize = 32;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A save's nonce: the time in milliseconds (above bit 20, so that
/// orphaned parts can be aged) and 20 bits that differ between processes
/// and calls.
fn fresh_nonce() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = blake3::Hasher::new();
    h.update(&std::process::id().to_le_bytes());
    h.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.update(&nanos.to_le_bytes());
    h.update(format!("{:?}", std::thread::current().id()).as_bytes());
    let mut r = [0; 8];
    r.copy_from_slice(&h.finalize().as_bytes()[..8]);
    ((now_ms() << 20) | (u64::from_le_bytes(r) & 0xF_FFFF)).max(1)
}

fn is_conflict(e: &blocksmith_store::Error) -> bool {
    matches!(
        e,
        blocksmith_store::Error::AlreadyExists { .. }
            | blocksmith_store::Error::PreconditionFailed { .. }
    )
}

/// What a save wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaveStats {
    /// Records the save changed (0 for a save with nothing to write).
    pub keys: usize,
    /// Their bytes (written twice: into the log entry, then at their keys).
    pub bytes: u64,
    /// The generation the feed is at after the save.
    pub generation: u64,
    /// The save committed, but writing its records to their own keys
    /// failed; the next save by any writer does it (nothing is lost: until
    /// then loads read them from the log).
    pub checkpoint_deferred: bool,
}

/// A feed persisted in a [`Store`] under `feed/<name>/`, shared by any
/// number of writers and readers (see the module's "Several writers").
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

/// The bytes of record `rk` as the feed holds it now (`None` if it holds
/// no such record).
fn encode_record<Sc: Scorer>(feed: &Feed<Sc>, rk: RecordKey) -> Option<Vec<u8>> {
    match rk {
        RecordKey::Graph(u) => feed.user(u).map(|s| {
            GraphRecord {
                followees: s.followees.clone(),
                muted: s.muted.clone(),
                blocked: s.blocked.clone(),
            }
            .encode()
        }),
        RecordKey::Inbox(u) => {
            feed.user(u)?;
            feed.inboxes.get(u.0 as usize).map(Inbox::encode)
        }
        RecordKey::State(u) => feed.user(u).map(|s| {
            let mut affinity: Vec<_> = s
                .affinity
                .iter()
                .map(|(&a, &(v, t))| (UserId(a), v, t))
                .collect();
            affinity.sort_unstable_by_key(|x| x.0);
            UserStateRecord {
                affinity,
                seen: s.seen.clone(),
            }
            .encode()
        }),
        RecordKey::Posts(b) => {
            let lo = usize::try_from(b.checked_mul(POST_BLOCK)?).ok()?;
            let hi = lo.saturating_add(POST_BLOCK as usize).min(feed.posts.len());
            (lo < hi).then(|| {
                PostBlock {
                    posts: feed.posts[lo..hi].to_vec(),
                }
                .encode()
            })
        }
    }
}

fn corrupt(reason: impl Into<String>) -> Error {
    Error::Corrupt {
        what: "feed",
        reason: reason.into(),
    }
}

/// The records a feed's dirty set names, ascending.
fn dirty_keys(dirty: &crate::feed::Dirty) -> Vec<RecordKey> {
    let mut keys: Vec<RecordKey> = dirty
        .post_blocks
        .iter()
        .map(|&b| RecordKey::Posts(b))
        .collect();
    keys.extend(dirty.graph.iter().map(|u| RecordKey::Graph(UserId(u))));
    keys.extend(dirty.inbox.iter().map(|u| RecordKey::Inbox(UserId(u))));
    keys.extend(dirty.state.iter().map(|u| RecordKey::State(UserId(u))));
    keys.sort_unstable();
    keys
}

/// Applies one record to a feed, keeping what is derived from it (followers,
/// blocked-by, outboxes, pulled authors) right. Inboxes it replaces are
/// added to `inboxes`, to be checked once all posts are in.
fn apply_record<Sc: Scorer>(
    feed: &mut Feed<Sc>,
    rk: RecordKey,
    bytes: &[u8],
    inboxes: &mut Vec<UserId>,
) -> Result<()> {
    match rk {
        RecordKey::Posts(b) => apply_posts(feed, b, PostBlock::decode(bytes)?),
        RecordKey::Graph(u) => apply_graph(feed, u, GraphRecord::decode(bytes)?),
        RecordKey::Inbox(u) => {
            let inbox = Inbox::decode(bytes)?;
            feed.user_mut(u)?;
            feed.inboxes[u.0 as usize] = inbox;
            inboxes.push(u);
            Ok(())
        }
        RecordKey::State(u) => {
            let rec = UserStateRecord::decode(bytes)?;
            let s: &mut UserState = feed.user_mut(u)?;
            s.affinity = rec
                .affinity
                .iter()
                .map(|&(a, v, t)| (a.0, (v, t)))
                .collect();
            s.seen = rec.seen;
            Ok(())
        }
    }
}

fn apply_posts<Sc: Scorer>(feed: &mut Feed<Sc>, b: u64, block: PostBlock) -> Result<()> {
    let first = b
        .checked_mul(POST_BLOCK)
        .ok_or_else(|| corrupt(format!("post block {b} is out of range")))?;
    if block.posts.len() as u64 > POST_BLOCK || block.posts.first().is_some_and(|p| p.id.0 != first)
    {
        return Err(corrupt(format!(
            "post block {b} does not hold posts {first}.."
        )));
    }
    for p in block.posts {
        let i = p.id.0;
        let len = feed.posts.len() as u64;
        match i.cmp(&len) {
            std::cmp::Ordering::Less => {
                let cur = &mut feed.posts[i as usize];
                if (cur.author, cur.ts, cur.kind, cur.reshare_of, cur.pushed)
                    != (p.author, p.ts, p.kind, p.reshare_of, p.pushed)
                {
                    return Err(corrupt(format!("{} changed what cannot change", p.id)));
                }
                cur.likes = p.likes;
                cur.comments = p.comments;
                cur.shares = p.shares;
                cur.velocity = p.velocity;
                cur.velocity_ts = p.velocity_ts;
                cur.deleted = p.deleted;
            }
            std::cmp::Ordering::Equal => {
                if let Some(o) = p.reshare_of
                    && feed.posts[o.0 as usize].reshare_of.is_some()
                {
                    return Err(corrupt(format!("{} reshares a reshare", p.id)));
                }
                let e = Entry::new(p.ts, p.id);
                let s = feed.user_mut(p.author)?;
                let outbox = if p.pushed {
                    &mut s.pushed
                } else {
                    &mut s.pulled
                };
                match outbox.last() {
                    Some(&l) if l > e => {
                        let at = outbox.partition_point(|x| *x < e);
                        outbox.insert(at, e);
                    }
                    _ => outbox.push(e),
                }
                if !p.pushed {
                    feed.pull_authors.insert(p.author.0);
                }
                feed.posts.push(p);
            }
            std::cmp::Ordering::Greater => {
                return Err(corrupt(format!("posts before {} are missing", p.id)));
            }
        }
    }
    Ok(())
}

fn apply_graph<Sc: Scorer>(feed: &mut Feed<Sc>, u: UserId, rec: GraphRecord) -> Result<()> {
    let key = RecordKey::Graph(u).name();
    let max = [&rec.followees, &rec.muted, &rec.blocked]
        .iter()
        .filter_map(|b| b.max())
        .max();
    if let Some(top) = max
        && top >= feed.config.max_users
    {
        return Err(corrupt(format!("{key} names user {top}, beyond max_users")));
    }
    if [&rec.followees, &rec.muted, &rec.blocked]
        .iter()
        .any(|b| b.contains(u.0))
    {
        return Err(corrupt(format!("{u} refers to itself")));
    }
    // Nothing below can fail: every id is in range.
    for a in rec.followees.iter().chain(&rec.muted).chain(&rec.blocked) {
        feed.user_mut(UserId(a))?;
    }
    let s = feed.user_mut(u)?;
    let old_followees = std::mem::take(&mut s.followees);
    let old_blocked = std::mem::take(&mut s.blocked);
    for a in &old_followees - &rec.followees {
        if let Some(Some(x)) = feed.users.get_mut(a as usize) {
            x.followers.remove(u.0);
        }
    }
    for a in &rec.followees - &old_followees {
        feed.user_mut(UserId(a))?.followers.insert(u.0);
    }
    for a in &old_blocked - &rec.blocked {
        if let Some(Some(x)) = feed.users.get_mut(a as usize) {
            x.blocked_by.remove(u.0);
        }
    }
    for a in &rec.blocked - &old_blocked {
        feed.user_mut(UserId(a))?.blocked_by.insert(u.0);
    }
    let s = feed.user_mut(u)?;
    s.followees = rec.followees;
    s.muted = rec.muted;
    s.blocked = rec.blocked;
    Ok(())
}

/// Checks a feed after records were applied: `posts` posts, and no inbox
/// in `inboxes` naming a post beyond them.
fn check_applied<Sc: Scorer>(feed: &Feed<Sc>, posts: u64, inboxes: &[UserId]) -> Result<()> {
    if feed.posts.len() as u64 != posts {
        return Err(corrupt(format!(
            "{} posts stored where {posts} were saved",
            feed.posts.len()
        )));
    }
    for &u in inboxes {
        if feed.inboxes[u.0 as usize]
            .entries()
            .any(|e| e.post.0 >= posts)
        {
            return Err(corrupt(format!("inbox of {u} names an unknown post")));
        }
    }
    Ok(())
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

    fn record_key(&self, rk: RecordKey) -> Result<Key> {
        Ok(Key::new(format!("{}{}", self.prefix, rk.name()))?)
    }

    fn meta_key(&self) -> Result<Key> {
        Ok(Key::new(format!("{}meta", self.prefix))?)
    }

    fn log_key(&self, generation: u64, nonce: u64) -> Result<Key> {
        Ok(Key::new(format!(
            "{}log/{generation:016x}-{nonce:016x}",
            self.prefix
        ))?)
    }

    fn part_key(&self, nonce: u64, i: u32) -> Result<Key> {
        Ok(Key::new(format!(
            "{}journal/{nonce:016x}/{i:06}",
            self.prefix
        ))?)
    }

    async fn meta(&self) -> Result<Option<(Meta, blocksmith_store::Version)>> {
        Ok(self.store.get_record::<Meta>(&self.meta_key()?).await?)
    }

    /// Deletes every object under `journal/<nonce>/`.
    async fn remove_parts(&self, nonce: u64) -> Result<()> {
        let prefix = format!("{}journal/{nonce:016x}/", self.prefix);
        for m in self.store.list_all(&prefix).await? {
            self.store.delete(&m.key).await?;
        }
        Ok(())
    }

    /// Writes a save's log entry (and its parts if the body is large);
    /// returns the entry's bytes.
    async fn write_log(
        &self,
        generation: u64,
        prev: u64,
        posts: u64,
        nonce: u64,
        records: Vec<(RecordKey, Vec<u8>)>,
    ) -> Result<Bytes> {
        let limit = self
            .store
            .capabilities()
            .max_value_size
            .map_or(INLINE_MAX, |m| (m as usize).clamp(1, INLINE_MAX));
        let size: usize = records.iter().map(|(_, v)| v.len() + 24).sum();
        let body = if size + 64 <= limit {
            LogBody::Inline(records)
        } else {
            let body = encode_records(&records);
            drop(records);
            let part_size = self
                .store
                .capabilities()
                .max_value_size
                .map_or(JOURNAL_PART, |m| (m as usize).clamp(1, JOURNAL_PART));
            let mut parts = 0u32;
            for chunk in body.chunks(part_size) {
                let key = self.part_key(nonce, parts)?;
                self.store
                    .put(
                        &key,
                        Bytes::copy_from_slice(chunk),
                        blocksmith_store::PutOptions::new(),
                    )
                    .await?;
                parts = parts
                    .checked_add(1)
                    .ok_or_else(|| Error::Invalid("save too large".into()))?;
            }
            LogBody::Parts {
                parts,
                len: body.len() as u64,
                hash: *blake3::hash(&body).as_bytes(),
            }
        };
        let bytes = Bytes::from(
            LogEntry {
                generation,
                prev,
                posts,
                body,
            }
            .encode(),
        );
        let key = self.log_key(generation, nonce)?;
        match self
            .store
            .put(&key, bytes.clone(), blocksmith_store::PutOptions::create())
            .await
        {
            Ok(_) => Ok(bytes),
            // Our own put, retried by the store after a lost reply?
            Err(e) if is_conflict(&e) => match self.store.get_opt(&key).await? {
                Some(r) if r.data == bytes => Ok(bytes),
                _ => Err(Error::Conflict(format!(
                    "another save took nonce {nonce:016x}"
                ))),
            },
            Err(e) => Err(e.into()),
        }
    }

    /// Reads the log entry of save `(generation, nonce)` with its records
    /// inline; `None` if it (or one of its parts) is gone.
    async fn read_log(&self, generation: u64, nonce: u64) -> Result<Option<LogEntry>> {
        let Some(r) = self
            .store
            .get_opt(&self.log_key(generation, nonce)?)
            .await?
        else {
            return Ok(None);
        };
        let mut entry = LogEntry::decode(&r.data)?;
        if entry.generation != generation {
            return Err(corrupt(format!(
                "log entry {generation} says it is {}",
                entry.generation
            )));
        }
        if let LogBody::Parts { parts, len, hash } = entry.body {
            let mut body = Vec::new();
            for i in 0..parts {
                let Some(part) = self.store.get_opt(&self.part_key(nonce, i)?).await? else {
                    return Ok(None);
                };
                body.extend_from_slice(&part.data);
                if body.len() as u64 > len {
                    return Err(corrupt("a log entry's parts are longer than it says"));
                }
            }
            if body.len() as u64 != len || *blake3::hash(&body).as_bytes() != hash {
                return Err(corrupt("a log entry's parts do not match it"));
            }
            entry.body = LogBody::Inline(decode_records(&body)?);
        }
        Ok(Some(entry))
    }

    /// The records of a single-writer-format journal, by record.
    async fn read_journal(&self, j: &Journal) -> Result<BTreeMap<RecordKey, Bytes>> {
        let corrupt = |reason: String| Error::Corrupt {
            what: "feed journal",
            reason,
        };
        let mut body = Vec::new();
        for i in 0..j.parts {
            let key = self.part_key(j.id, i)?;
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
            let rk = std::str::from_utf8(r.bytes(n)?)
                .ok()
                .and_then(|k| k.strip_prefix(&self.prefix))
                .and_then(RecordKey::parse)
                .ok_or_else(|| r.corrupt("bad key"))?;
            let n = r.len(1)?;
            out.insert(rk, Bytes::copy_from_slice(r.bytes(n)?));
        }
        Ok(out)
    }

    /// Commits the records as the feed's next save: its log entry, then
    /// `meta` naming it by compare-and-swap (the commit point).
    async fn commit<Sc: Scorer>(
        &self,
        feed: &mut Feed<Sc>,
        records: Vec<(RecordKey, Vec<u8>)>,
    ) -> Result<()> {
        let meta_key = self.meta_key()?;
        let mut current = self.meta().await?;
        if let Some((g, n)) = feed.sync.in_doubt.take()
            && let Some((m, _)) = &current
            && (m.head, m.head_nonce) == (g, n)
        {
            // The save that failed with an unknown outcome had committed.
            feed.sync.generation = g;
            feed.sync.nonce = n;
            feed.sync.stored = true;
        }
        let stale =
            |current: &Option<(Meta, blocksmith_store::Version)>, sync: &SyncState| match current {
                None => sync.stored,
                Some((m, _)) => {
                    !sync.stored || (m.head, m.head_nonce) != (sync.generation, sync.nonce)
                }
            };
        let conflict = |current: &Option<(Meta, blocksmith_store::Version)>, sync: &SyncState| {
            Error::Conflict(format!(
                "another writer saved the feed first (stored save {}, this feed's {})",
                current.as_ref().map_or(0, |(m, _)| m.head),
                sync.generation
            ))
        };
        if stale(&current, &feed.sync) {
            return Err(conflict(&current, &feed.sync));
        }
        let generation = feed.sync.generation + 1;
        let nonce = fresh_nonce();
        let parts = records.iter().map(|(_, v)| v.len() + 24).sum::<usize>() + 64 > INLINE_MAX;
        self.write_log(
            generation,
            feed.sync.nonce,
            feed.posts.len() as u64,
            nonce,
            records,
        )
        .await?;
        loop {
            if let Some((m, _)) = &current
                && (m.head, m.head_nonce) == (generation, nonce)
            {
                break;
            }
            if stale(&current, &feed.sync) {
                // Never named by `meta`: remove it (the log's cleanup
                // would, later).
                let _ = self.store.delete(&self.log_key(generation, nonce)?).await;
                if parts {
                    let _ = self.remove_parts(nonce).await;
                }
                return Err(conflict(&current, &feed.sync));
            }
            let (next, options) = match &current {
                None => (
                    Meta {
                        head: generation,
                        head_nonce: nonce,
                        ..Meta::default()
                    },
                    blocksmith_store::PutOptions::create(),
                ),
                Some((m, v)) => (
                    Meta {
                        head: generation,
                        head_nonce: nonce,
                        ..m.clone()
                    },
                    blocksmith_store::PutOptions::update(v.clone()),
                ),
            };
            match self.store.put_record(&meta_key, &next, options).await {
                Ok(_) => break,
                Err(e) if is_conflict(&e) => current = self.meta().await?,
                Err(e) => {
                    // The outcome is unknown: look.
                    if let Ok(Some((m, _))) = self.meta().await
                        && (m.head, m.head_nonce) == (generation, nonce)
                    {
                        break;
                    }
                    feed.sync.in_doubt = Some((generation, nonce));
                    return Err(e.into());
                }
            }
        }
        feed.sync.generation = generation;
        feed.sync.nonce = nonce;
        feed.sync.stored = true;
        Ok(())
    }

    /// Writes `bytes` as record `rk` stamped `generation`, unless the stored
    /// one is as new or newer (a compare-and-swap, so that a slow writer
    /// never puts an older record over a newer one).
    async fn put_stamped(&self, rk: RecordKey, generation: u64, bytes: &[u8]) -> Result<()> {
        let key = self.record_key(rk)?;
        let value = Bytes::from(stamp(generation, bytes));
        loop {
            let options = match self.store.get_opt(&key).await? {
                None => blocksmith_store::PutOptions::create(),
                Some(r) => {
                    if unstamp(&r.data)?.0 >= generation {
                        return Ok(());
                    }
                    blocksmith_store::PutOptions::update(r.meta.version)
                }
            };
            match self.store.put(&key, value.clone(), options).await {
                Ok(_) => return Ok(()),
                Err(e) if is_conflict(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Writes the records of every save this feed reflects past the stored
    /// checkpoint to their own keys, then moves the checkpoint to the
    /// feed's generation.
    async fn checkpoint<Sc: Scorer>(&self, feed: &mut Feed<Sc>) -> Result<()> {
        let generation = feed.sync.generation;
        let Some((meta, _)) = self.meta().await? else {
            return Ok(());
        };
        if meta.checkpoint < generation {
            let keys: BTreeSet<RecordKey> = feed
                .sync
                .pending
                .range(meta.checkpoint + 1..=generation)
                .flat_map(|(_, keys)| keys.iter().copied())
                .collect();
            for rk in keys {
                if let Some(bytes) = encode_record(feed, rk) {
                    self.put_stamped(rk, generation, &bytes).await?;
                }
            }
            let meta_key = self.meta_key()?;
            let mut current = self.meta().await?;
            while let Some((m, v)) = current {
                if m.checkpoint >= generation {
                    break;
                }
                let next = Meta {
                    posts: feed.posts.len() as u64,
                    journal: None,
                    checkpoint: generation,
                    ..m
                };
                match self
                    .store
                    .put_record(&meta_key, &next, blocksmith_store::PutOptions::update(v))
                    .await
                {
                    Ok(_) => break,
                    Err(e) if is_conflict(&e) => current = self.meta().await?,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let done = meta.checkpoint.max(generation);
        feed.sync.pending.retain(|&g, _| g > done);
        if generation.is_multiple_of(GC_EVERY) {
            self.remove_old_log(generation).await?;
        }
        Ok(())
    }

    /// Removes log entries (and their parts) older than the last
    /// [`LOG_RETAIN`] saves before `checkpoint`, and journal parts no entry
    /// names that are older than [`ORPHAN_AGE_MS`].
    async fn remove_old_log(&self, checkpoint: u64) -> Result<()> {
        let cutoff = checkpoint.saturating_sub(LOG_RETAIN);
        let log_prefix = format!("{}log/", self.prefix);
        let mut named = BTreeSet::new();
        for m in self.store.list_all(&log_prefix).await? {
            let rest = &m.key.as_str()[log_prefix.len()..];
            let Some((g, n)) = rest.split_once('-').and_then(|(g, n)| {
                Some((
                    u64::from_str_radix(g, 16).ok()?,
                    u64::from_str_radix(n, 16).ok()?,
                ))
            }) else {
                continue;
            };
            if g > cutoff {
                named.insert(n);
                continue;
            }
            self.remove_parts(n).await?;
            self.store.delete(&m.key).await?;
        }
        let journal_prefix = format!("{}journal/", self.prefix);
        let parts = self.store.list_all(&journal_prefix).await?;
        if parts.is_empty() {
            return Ok(());
        }
        if let Some((
            Meta {
                journal: Some(j), ..
            },
            _,
        )) = self.meta().await?
        {
            named.insert(j.id);
        }
        let now = now_ms();
        for m in parts {
            let rest = &m.key.as_str()[journal_prefix.len()..];
            let Some(n) = rest
                .split_once('/')
                .and_then(|(n, _)| u64::from_str_radix(n, 16).ok())
            else {
                continue;
            };
            if !named.contains(&n) && now.saturating_sub(n >> 20) > ORPHAN_AGE_MS {
                self.store.delete(&m.key).await?;
            }
        }
        Ok(())
    }

    /// Saves everything that changed in `feed` since it was loaded, last
    /// refreshed or saved, atomically, as the feed's next save.
    ///
    /// # Errors
    /// - [`Error::Conflict`] if another writer saved the feed since (or the
    ///   feed was never loaded from this store and the store holds one):
    ///   nothing is written, and the changes cannot be saved on top of the
    ///   other writer's; reload and make them again ([`FeedStore::update`]
    ///   does both);
    /// - [`Error::Store`] if the store fails: the changes stay marked
    ///   unsaved, and a later save writes them (a store failure after the
    ///   commit point is not an error: see
    ///   [`SaveStats::checkpoint_deferred`]).
    pub async fn save<Sc: Scorer>(&self, feed: &mut Feed<Sc>) -> Result<SaveStats> {
        if feed.dirty.is_empty() {
            return Ok(SaveStats {
                generation: feed.sync.generation,
                ..SaveStats::default()
            });
        }
        let dirty = std::mem::take(&mut feed.dirty);
        let keys = dirty_keys(&dirty);
        let records: Vec<(RecordKey, Vec<u8>)> = keys
            .iter()
            .filter_map(|&rk| encode_record(feed, rk).map(|b| (rk, b)))
            .collect();
        let mut stats = SaveStats {
            keys: records.len(),
            bytes: records.iter().map(|(_, b)| b.len() as u64).sum(),
            ..SaveStats::default()
        };
        let written: Vec<RecordKey> = records.iter().map(|(rk, _)| *rk).collect();
        if let Err(e) = self.commit(feed, records).await {
            feed.dirty.merge(dirty);
            return Err(e);
        }
        stats.generation = feed.sync.generation;
        feed.sync.pending.insert(feed.sync.generation, written);
        stats.checkpoint_deferred = self.checkpoint(feed).await.is_err();
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

    /// Loads the feed (an empty one if nothing was saved) with a custom
    /// scorer: the latest save, whole, even while other writers save.
    ///
    /// # Errors
    /// - [`Error::Store`] if the store fails or a stored key is not valid;
    /// - [`Error::Corrupt`] if a stored record does not decode, is missing or
    ///   contradicts the others (a reshare of a reshare, a user following itself,
    ///   an inbox naming an unknown post, a key of an unknown kind);
    /// - [`Error::UserOutOfRange`] if the stored feed has users at or beyond
    ///   `config.max_users` (it was saved with a larger bound);
    /// - [`Error::Conflict`] if other writers' saves kept removing the log
    ///   entries this load needed (it tries 8 times).
    pub async fn load_with_scorer<Sc: Scorer>(
        &self,
        config: FeedOptions,
        key: CursorKey,
        scorer: Sc,
    ) -> Result<Feed<Sc>> {
        let mut feed = Feed::with_scorer(config, key, scorer);
        self.load_into(&mut feed).await?;
        Ok(feed)
    }

    /// Replaces what `feed` holds with the latest save.
    async fn load_into<Sc: Scorer>(&self, feed: &mut Feed<Sc>) -> Result<()> {
        for _ in 0..LOAD_ATTEMPTS {
            feed.clear_data();
            let Some((m1, _)) = self.meta().await? else {
                return Ok(());
            };
            // 1. The records at their keys (any of them maybe newer than
            // `m1`, never newer than the head read below).
            let mut records: BTreeMap<RecordKey, Bytes> = BTreeMap::new();
            for kind in ["posts/", "graph/", "inbox/", "state/"] {
                let prefix = format!("{}{kind}", self.prefix);
                for m in self.store.list_all(&prefix).await? {
                    let name = &m.key.as_str()[self.prefix.len()..];
                    let rk = RecordKey::parse(name)
                        .ok_or_else(|| corrupt(format!("unexpected key {}", m.key)))?;
                    let data = self
                        .store
                        .get_opt(&m.key)
                        .await?
                        .ok_or_else(|| corrupt(format!("{} vanished", m.key)))?
                        .data;
                    let (_, body) = unstamp(&data)?;
                    let at = data.len() - body.len();
                    records.insert(rk, data.slice(at..));
                }
            }
            // 2. A single-writer-format save not yet at its keys.
            let legacy = match &m1.journal {
                Some(j) => self.read_journal(j).await?,
                None => BTreeMap::new(),
            };
            records.extend(legacy.iter().map(|(k, v)| (*k, v.clone())));
            // 3. The saves after the checkpoint, newest first.
            let Some((m2, _)) = self.meta().await? else {
                continue;
            };
            let mut chain = Vec::new();
            let (mut g, mut n) = (m2.head, m2.head_nonce);
            let mut whole = m2.head >= m1.checkpoint;
            while whole && g > m1.checkpoint {
                match self.read_log(g, n).await? {
                    Some(e) => {
                        n = e.prev;
                        g -= 1;
                        chain.push(e);
                    }
                    None => whole = false,
                }
            }
            if !whole {
                continue; // removed under this load: read again
            }
            let posts = chain.first().map_or(m1.posts, |e| e.posts);
            let mut pending = BTreeMap::new();
            for e in chain.into_iter().rev() {
                let LogBody::Inline(recs) = e.body else {
                    unreachable!("read_log inlines")
                };
                pending.insert(e.generation, recs.iter().map(|(k, _)| *k).collect());
                records.extend(recs.into_iter().map(|(k, v)| (k, Bytes::from(v))));
            }
            let mut inboxes = Vec::new();
            for (rk, bytes) in records {
                apply_record(feed, rk, &bytes, &mut inboxes)?;
            }
            check_applied(feed, posts, &inboxes)?;
            feed.sync = SyncState {
                generation: m2.head,
                nonce: m2.head_nonce,
                stored: true,
                pending,
                in_doubt: None,
            };
            // What a single-writer journal holds may not be at its keys:
            // the next save writes it again.
            for rk in legacy.keys() {
                feed.dirty.mark(*rk);
            }
            return Ok(());
        }
        Err(Error::Conflict(format!(
            "the log moved under {LOAD_ATTEMPTS} loads in a row"
        )))
    }

    /// Brings `feed` up to the latest save by applying the saves made since
    /// (by other writers) in order; returns how many were applied. A feed
    /// too far behind (its saves' log entries removed) is reloaded whole.
    ///
    /// # Errors
    /// - [`Error::Invalid`] if the feed has unsaved changes (save them
    ///   first, or use [`FeedStore::update`]);
    /// - as [`FeedStore::load_with_scorer`].
    pub async fn refresh<Sc: Scorer>(&self, feed: &mut Feed<Sc>) -> Result<u64> {
        if !feed.dirty.is_empty() {
            return Err(Error::Invalid(
                "the feed has unsaved changes: save them before a refresh".into(),
            ));
        }
        let before = feed.sync.generation;
        let Some((m, _)) = self.meta().await? else {
            if feed.sync.stored || before != 0 {
                self.load_into(feed).await?;
            }
            return Ok(0);
        };
        if feed.sync.stored && (m.head, m.head_nonce) == (before, feed.sync.nonce) {
            return Ok(0);
        }
        if !feed.sync.stored || m.head <= before {
            self.load_into(feed).await?;
            return Ok(feed.sync.generation.abs_diff(before));
        }
        let mut chain = Vec::new();
        let (mut g, mut n) = (m.head, m.head_nonce);
        while g > before {
            match self.read_log(g, n).await? {
                Some(e) => {
                    chain.push((e.generation, n, e.posts, e.body));
                    n = e.prev;
                    g -= 1;
                }
                None => break,
            }
        }
        if g > before || n != feed.sync.nonce {
            // Too far behind, or not on the stored log at all.
            self.load_into(feed).await?;
            return Ok(feed.sync.generation.abs_diff(before));
        }
        let applied = chain.len() as u64;
        for (generation, nonce, posts, body) in chain.into_iter().rev() {
            let LogBody::Inline(recs) = body else {
                unreachable!("read_log inlines")
            };
            let mut inboxes = Vec::new();
            let result = recs
                .iter()
                .try_for_each(|(rk, v)| apply_record(feed, *rk, v, &mut inboxes))
                .and_then(|()| check_applied(feed, posts, &inboxes));
            if let Err(e) = result {
                // Never leave half a save applied.
                feed.clear_data();
                return Err(e);
            }
            feed.sync
                .pending
                .insert(generation, recs.iter().map(|(k, _)| *k).collect());
            feed.sync.generation = generation;
            feed.sync.nonce = nonce;
        }
        Ok(applied)
    }

    /// Runs `f` on the latest feed and saves what it changed, again and
    /// again until no other writer saved in between: the way several
    /// writers share one feed. `f` may run several times (on a newer feed
    /// each time), so it must make its changes from scratch. Returns what
    /// the successful run returned.
    ///
    /// A lost race costs a reload of the feed.
    ///
    /// # Errors
    /// - what `f` returns (its changes are dropped: the feed is reloaded);
    /// - [`Error::Invalid`] if the feed has unsaved changes when called;
    /// - [`Error::Conflict`] after 32 lost races in a row;
    /// - as [`FeedStore::save`] and [`FeedStore::refresh`].
    pub async fn update<Sc, T, F>(&self, feed: &mut Feed<Sc>, mut f: F) -> Result<(T, SaveStats)>
    where
        Sc: Scorer,
        F: FnMut(&mut Feed<Sc>) -> Result<T> + Send,
        T: Send,
    {
        if !feed.dirty.is_empty() {
            return Err(Error::Invalid(
                "the feed has unsaved changes: save them before an update".into(),
            ));
        }
        for _ in 0..UPDATE_ATTEMPTS {
            self.refresh(feed).await?;
            let out = match f(feed) {
                Ok(out) => out,
                Err(e) => {
                    if !feed.dirty.is_empty() {
                        self.load_into(feed).await?;
                    }
                    return Err(e);
                }
            };
            match self.save(feed).await {
                Ok(stats) => return Ok((out, stats)),
                Err(Error::Conflict(_)) => self.load_into(feed).await?,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict(format!(
            "{UPDATE_ATTEMPTS} saves in a row lost the race to other writers"
        )))
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
    /// [`FeedStore::refresh`].
    ///
    /// # Errors
    /// As [`FeedStore::refresh`].
    pub fn refresh<Sc: Scorer>(&self, feed: &mut Feed<Sc>) -> Result<u64> {
        blocksmith_store::block_on(self.0.refresh(feed))
    }
    /// [`FeedStore::update`].
    ///
    /// # Errors
    /// As [`FeedStore::update`].
    pub fn update<Sc, T, F>(&self, feed: &mut Feed<Sc>, f: F) -> Result<(T, SaveStats)>
    where
        Sc: Scorer,
        F: FnMut(&mut Feed<Sc>) -> Result<T> + Send,
        T: Send,
    {
        blocksmith_store::block_on(self.0.update(feed, f))
    }
}
