//! Persistence through `blocksmith-store`, and the binary records it writes.
//!
//! # Layout in the store
//! Under `feed/<name>/`:
//! - `meta`: a typed record (`feed.meta` v2): the last save (the head of the
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
//! writes its log entry (then its parts, if any), then moves `meta`'s head
//! from the save the feed reflects to its own by compare-and-swap: the
//! commit point. A writer whose feed is behind the head gets
//! [`Error::Conflict`] and commits nothing; [`FeedStore::update`] undoes
//! the change (reading back only the records it touched), applies the saves
//! made since from the log, reruns the change and saves again until it
//! wins. So saves form one chain, post ids never collide, and a fan-out
//! always sees the follower sets of every earlier save. When the store's
//! reply to the commit is lost, the saver looks along the chain for its
//! entry (another save may already stand on it) rather than guessing from
//! the head; if it cannot tell, the save is kept in doubt
//! ([`Error::InDoubt`]) and settled by the next save or update, so a
//! change is never applied twice. After the commit, the saver writes the
//! records of the saves since the checkpoint to their own keys (each by
//! compare-and-swap on its stamp, so an older record never overwrites a
//! newer one) and moves the checkpoint. [`FeedStore::refresh`] applies the
//! saves since the feed's own from the log; readers use it between pages.
//! Log entries are kept for the 1024 saves before the checkpoint
//! ([`FeedStore::with_log_retention`]): a load must read the records while
//! fewer saves than that are made (it starts again otherwise, up to 8
//! times). Every writer should use the same [`FeedOptions`] (they decide
//! fan-out, trimming and the celebrity threshold, and are not stored).
//!
//! The format before several writers (a `meta` of version 1 naming a
//! journal) loads, and its first save moves it to the log. A process of
//! that format must not run beside this one: it overwrites `meta` and the
//! records without looking; stop every such writer before the first new
//! save (its loads of the new format fail with a schema mismatch).
//!
//! # Crash safety
//! A save is atomic: a crash at any store operation leaves the feed as the
//! last save that returned `Ok` left it, or as the save in flight would
//! have, never a mix of the two (which could break the engine's invariants:
//! a follow saved without the inbox it backfilled). [`FeedStore::load`]
//! reads the records at their keys, then the log entries from the
//! checkpoint to the head (read after them, so none of those records is
//! newer than the head: a record that is, or records without any `meta`,
//! are refused as corrupt rather than mixed into a second history), and
//! applies the entries in order. A log entry or parts left by a save that
//! never committed are never named by the chain from the head, and are
//! removed with old entries. A save that changes no record writes nothing.

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
    // The smallest record: a name of 14 bytes and an empty value, with
    // their lengths.
    let n = r.len(16)?;
    let mut out: Vec<(RecordKey, Vec<u8>)> = Vec::with_capacity(n.min(4096));
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
    checkpoint: u64,
    head: u64,
    head_nonce: u64,
}

impl Record for Meta {
    const KIND: &'static str = "feed.meta";
    /// Version 1 was the single-writer format's (`posts` and `journal`):
    /// a process of that format finds this one a schema mismatch, and stops.
    const VERSION: u32 = 2;
}

/// The single-writer format's root record.
#[derive(serde::Serialize, serde::Deserialize)]
struct MetaV1 {
    posts: u64,
    journal: Option<Journal>,
}

impl Record for MetaV1 {
    const KIND: &'static str = "feed.meta";
    const VERSION: u32 = 1;
}

/// A save of the single-writer format: `parts` parts under
/// `journal/<id>/`, `len` bytes in all, with this BLAKE3 hash.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
struct Journal {
    id: u64,
    parts: u32,
    len: u64,
    hash: String,
}

/// A save whose commit failed with an unknown outcome.
#[derive(Clone, Debug)]
pub(crate) struct InDoubt {
    generation: u64,
    nonce: u64,
    keys: Vec<RecordKey>,
    /// Posts after it.
    posts: u64,
}

/// How far a feed in memory is in the stored log (kept in the [`Feed`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct SyncState {
    /// The last save this feed reflects (0: none).
    pub(crate) generation: u64,
    /// That save's nonce.
    pub(crate) nonce: u64,
    /// Posts after that save.
    pub(crate) posts: u64,
    /// Whether the feed came from (or went to) a stored feed.
    pub(crate) stored: bool,
    /// The records of the saves after the stored checkpoint that this feed
    /// reflects: what its next checkpoint writes to their own keys.
    pub(crate) pending: BTreeMap<u64, Vec<RecordKey>>,
    /// A save whose commit failed with an unknown outcome.
    pub(crate) in_doubt: Option<InDoubt>,
    /// Records a single-writer-format journal held when the feed was
    /// loaded, maybe not at their keys: the next save writes them again.
    pub(crate) legacy: BTreeSet<RecordKey>,
}

/// The largest log body kept inline in its entry.
const INLINE_MAX: usize = 1 << 20;
/// Saves whose log entries outlive the checkpoint (so that a load or a
/// refresh that overlaps this many saves still finds them).
const LOG_RETAIN: u64 = 1024;
/// A save whose generation is a multiple of this removes old log entries.
const GC_EVERY: u64 = 64;
/// Loads that find the log moved under them before giving up.
const LOAD_ATTEMPTS: usize = 8;
/// Attempts of [`FeedStore::update`].
const UPDATE_ATTEMPTS: usize = 32;

/// A save's nonce: 64 random bits (from the process, a counter, the time
/// and the thread), never 0.
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
    u64::from_le_bytes(r).max(1)
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
    /// The generation of the save (the feed's, for a save with nothing to
    /// write).
    pub generation: u64,
    /// The save committed, but writing records to their own keys failed;
    /// the next save by any writer does it (nothing is lost: until then
    /// loads read them from the log).
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
    retain: u64,
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

/// Drops the posts from `n` on (posts made by a change being discarded),
/// with their outbox entries; an author left without pulled posts stops
/// being pulled.
fn truncate_posts<Sc: Scorer>(feed: &mut Feed<Sc>, n: usize) {
    while feed.posts.len() > n {
        let p = feed.posts.pop().expect("longer than n");
        let e = Entry::new(p.ts, p.id);
        if let Some(Some(s)) = feed.users.get_mut(p.author.0 as usize) {
            let outbox = if p.pushed {
                &mut s.pushed
            } else {
                &mut s.pulled
            };
            if let Ok(at) = outbox.binary_search(&e) {
                outbox.remove(at);
            }
            if !p.pushed && s.pulled.is_empty() {
                feed.pull_authors.remove(p.author.0);
            }
        }
    }
}

/// Sets record `rk` to what a feed without it holds (a record a discarded
/// change created).
fn clear_record<Sc: Scorer>(
    feed: &mut Feed<Sc>,
    rk: RecordKey,
    inboxes: &mut Vec<UserId>,
) -> Result<()> {
    match rk {
        RecordKey::Posts(_) => Ok(()), // `truncate_posts` took them
        RecordKey::Graph(u) => apply_graph(feed, u, GraphRecord::default()),
        RecordKey::Inbox(u) => {
            if let Some(inbox) = feed.inboxes.get_mut(u.0 as usize) {
                *inbox = Inbox::default();
                inboxes.push(u);
            }
            Ok(())
        }
        RecordKey::State(u) => {
            if let Some(Some(s)) = feed.users.get_mut(u.0 as usize) {
                s.affinity.clear();
                s.seen = RoaringTreemap::new();
            }
            Ok(())
        }
    }
}

/// Record kinds at their own keys, in the order they are applied.
const RECORD_KINDS: [&str; 4] = ["posts/", "graph/", "inbox/", "state/"];

/// Checkpoint puts in flight at once.
const CHECKPOINT_CONCURRENCY: usize = 16;

impl<S: Store> FeedStore<S> {
    /// A feed named `name` (a valid key segment) in `store`.
    ///
    /// # Errors
    /// [`Error::Invalid`] if `name` is empty or contains `/`, or if the
    /// store lacks create-only puts or compare-and-swap (saves commit by
    /// them); [`Error::Store`] if `name` cannot be a key segment (`.`, `..`,
    /// a backslash or a control character).
    pub fn new(store: S, name: &str) -> Result<Self> {
        if name.is_empty() || name.contains('/') {
            return Err(Error::Invalid(format!("bad feed name {name:?}")));
        }
        let prefix = format!("feed/{name}/");
        Key::new(format!("{prefix}meta"))?;
        let caps = store.capabilities();
        if !caps.create_only || !caps.compare_and_swap {
            return Err(Error::Invalid(
                "a feed needs a store with create-only puts and compare-and-swap".into(),
            ));
        }
        Ok(Self {
            store,
            prefix,
            retain: LOG_RETAIN,
        })
    }

    /// Keeps the log entries of the last `saves` saves before the
    /// checkpoint (default 1024, at least 1): a load must read the feed's
    /// records while fewer saves than that are made, and a reader that far
    /// behind refreshes from the log instead of loading whole. More costs
    /// the entries' bytes in the store.
    #[must_use]
    pub fn with_log_retention(mut self, saves: u64) -> Self {
        self.retain = saves.max(1);
        self
    }

    /// Saves between two removals of old log entries.
    fn gc_every(&self) -> u64 {
        (self.retain / 4).clamp(1, GC_EVERY)
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

    /// The root record (either format) and its version.
    async fn meta(&self) -> Result<Option<(Meta, blocksmith_store::Version)>> {
        let key = self.meta_key()?;
        let Some(r) = self.store.get_opt(&key).await? else {
            return Ok(None);
        };
        let env = blocksmith_store::record::peek(key.as_str(), &r.data)?;
        let meta = if env.kind == MetaV1::KIND && env.version == MetaV1::VERSION {
            let old: MetaV1 = blocksmith_store::record::decode(key.as_str(), &r.data)?;
            Meta {
                posts: old.posts,
                journal: old.journal,
                ..Meta::default()
            }
        } else {
            blocksmith_store::record::decode::<Meta>(key.as_str(), &r.data)?
        };
        if meta.checkpoint > meta.head {
            return Err(corrupt("meta's checkpoint is past its head"));
        }
        Ok(Some((meta, r.meta.version)))
    }

    /// Deletes every object under `journal/<nonce>/`.
    async fn remove_parts(&self, nonce: u64) -> Result<()> {
        let prefix = format!("{}journal/{nonce:016x}/", self.prefix);
        for m in self.store.list_all(&prefix).await? {
            self.store.delete(&m.key).await?;
        }
        Ok(())
    }

    /// Writes a save's log entry, then its parts if the body is too large
    /// for the entry (so that every part is named by an entry).
    async fn write_log(
        &self,
        generation: u64,
        prev: u64,
        posts: u64,
        nonce: u64,
        records: Vec<(RecordKey, Vec<u8>)>,
    ) -> Result<()> {
        let max = self.store.capabilities().max_value_size;
        let limit = max.map_or(INLINE_MAX, |m| (m as usize).clamp(1, INLINE_MAX));
        let size: usize = records.iter().map(|(_, v)| v.len() + 24).sum();
        let (body, parts) = if size + 64 <= limit {
            (LogBody::Inline(records), None)
        } else {
            let bytes = encode_records(&records);
            drop(records);
            let part_size = max.map_or(JOURNAL_PART, |m| (m as usize).clamp(1, JOURNAL_PART));
            let parts = u32::try_from(bytes.len().div_ceil(part_size))
                .map_err(|_| Error::Invalid("save too large".into()))?;
            let body = LogBody::Parts {
                parts,
                len: bytes.len() as u64,
                hash: *blake3::hash(&bytes).as_bytes(),
            };
            (body, Some((bytes, part_size)))
        };
        let entry = Bytes::from(
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
            .put(&key, entry.clone(), blocksmith_store::PutOptions::create())
            .await
        {
            Ok(_) => {}
            // Our own put, retried by the store after a lost reply?
            Err(e) if is_conflict(&e) => match self.store.get_opt(&key).await? {
                Some(r) if r.data == entry => {}
                _ => return Err(e.into()),
            },
            Err(e) => return Err(e.into()),
        }
        if let Some((bytes, part_size)) = parts {
            for (i, chunk) in (0u32..).zip(bytes.chunks(part_size)) {
                self.store
                    .put(
                        &self.part_key(nonce, i)?,
                        Bytes::copy_from_slice(chunk),
                        blocksmith_store::PutOptions::new(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    /// The log entry of save `(generation, nonce)` as stored (its parts not
    /// read); `None` if it is gone.
    async fn read_log_entry(&self, generation: u64, nonce: u64) -> Result<Option<LogEntry>> {
        let Some(r) = self
            .store
            .get_opt(&self.log_key(generation, nonce)?)
            .await?
        else {
            return Ok(None);
        };
        let entry = LogEntry::decode(&r.data)?;
        if entry.generation != generation {
            return Err(corrupt(format!(
                "log entry {generation} says it is {}",
                entry.generation
            )));
        }
        Ok(Some(entry))
    }

    /// The log entry of save `(generation, nonce)` with its records inline;
    /// `None` if it is gone (removed by the log's cleanup).
    async fn read_log(&self, generation: u64, nonce: u64) -> Result<Option<LogEntry>> {
        let Some(mut entry) = self.read_log_entry(generation, nonce).await? else {
            return Ok(None);
        };
        if let LogBody::Parts { parts, len, hash } = entry.body {
            let mut body = Vec::new();
            for i in 0..parts {
                let Some(part) = self.store.get_opt(&self.part_key(nonce, i)?).await? else {
                    // Removed with the entry, or missing from a committed one.
                    if self.read_log_entry(generation, nonce).await?.is_some() {
                        return Err(corrupt(format!("log entry {generation} misses part {i}")));
                    }
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

    /// The records of a single-writer-format journal, by record; `None` if
    /// a part is gone.
    async fn read_journal(&self, j: &Journal) -> Result<Option<BTreeMap<RecordKey, Bytes>>> {
        let corrupt = |reason: String| Error::Corrupt {
            what: "feed journal",
            reason,
        };
        let mut body = Vec::new();
        for i in 0..j.parts {
            let Some(data) = self.store.get_opt(&self.part_key(j.id, i)?).await? else {
                return Ok(None);
            };
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
        Ok(Some(out))
    }

    /// The saves after `floor` on the chain that ends at `m`'s head, newest
    /// first, each with its nonce, and the nonce of save `floor`; `None` if
    /// an entry is gone (removed by the log's cleanup).
    async fn read_chain(
        &self,
        m: &Meta,
        floor: u64,
    ) -> Result<Option<(Vec<(u64, LogEntry)>, u64)>> {
        let mut chain = Vec::new();
        let (mut g, mut n) = (m.head, m.head_nonce);
        while g > floor {
            let Some(e) = self.read_log(g, n).await? else {
                return Ok(None);
            };
            let prev = e.prev;
            chain.push((n, e));
            n = prev;
            g -= 1;
        }
        Ok(Some((chain, n)))
    }

    /// Whether save `(generation, nonce)` is on the chain that ends at
    /// `m`'s head: `None` if the log no longer tells.
    async fn committed_in(&self, m: &Meta, generation: u64, nonce: u64) -> Result<Option<bool>> {
        if (m.head, m.head_nonce) == (generation, nonce) {
            return Ok(Some(true));
        }
        if m.head <= generation {
            return Ok(Some(false));
        }
        let (mut g, mut n) = (m.head, m.head_nonce);
        while g > generation + 1 {
            let Some(e) = self.read_log_entry(g, n).await? else {
                return Ok(None);
            };
            n = e.prev;
            g -= 1;
        }
        Ok(self.read_log_entry(g, n).await?.map(|e| e.prev == nonce))
    }

    /// Settles a save whose outcome was unknown, against the stored head
    /// `m`: adopts it if it committed. Returns whether it did (`None`: no
    /// save was in doubt).
    async fn settle<Sc: Scorer>(
        &self,
        feed: &mut Feed<Sc>,
        m: Option<&Meta>,
    ) -> Result<Option<bool>> {
        let Some(d) = feed.sync.in_doubt.clone() else {
            return Ok(None);
        };
        let verdict = match m {
            None => Some(false),
            Some(m) => self.committed_in(m, d.generation, d.nonce).await?,
        };
        match verdict {
            Some(true) => {
                feed.sync.generation = d.generation;
                feed.sync.nonce = d.nonce;
                feed.sync.posts = d.posts;
                feed.sync.stored = true;
                feed.sync.pending.insert(d.generation, d.keys);
                feed.sync.in_doubt = None;
                Ok(Some(true))
            }
            Some(false) => {
                feed.sync.in_doubt = None;
                Ok(Some(false))
            }
            None => Err(Error::InDoubt {
                generation: d.generation,
            }),
        }
    }

    /// Commits the records as the feed's next save: its log entry, then
    /// `meta`'s head moved to it by compare-and-swap (the commit point).
    async fn commit<Sc: Scorer>(
        &self,
        feed: &mut Feed<Sc>,
        records: Vec<(RecordKey, Vec<u8>)>,
    ) -> Result<()> {
        let meta_key = self.meta_key()?;
        let mut current = self.meta().await?;
        self.settle(feed, current.as_ref().map(|(m, _)| m)).await?;
        let stale =
            |current: &Option<(Meta, blocksmith_store::Version)>, sync: &SyncState| match current {
                None => sync.stored,
                Some((m, _)) => {
                    !sync.stored || (m.head, m.head_nonce) != (sync.generation, sync.nonce)
                }
            };
        let conflict = |current: &Option<(Meta, blocksmith_store::Version)>, sync: &SyncState| {
            Error::Conflict(if sync.stored {
                format!(
                    "another writer saved the feed first (stored save {}, this feed's {}): \
                     discard_changes and make them again, or use update",
                    current.as_ref().map_or(0, |(m, _)| m.head),
                    sync.generation
                )
            } else {
                "a feed is stored under this name already, and this feed was not loaded \
                 from it: load it and make the changes on that"
                    .into()
            })
        };
        if stale(&current, &feed.sync) {
            return Err(conflict(&current, &feed.sync));
        }
        let generation = feed
            .sync
            .generation
            .checked_add(1)
            .ok_or_else(|| corrupt("the generation overflows"))?;
        let nonce = fresh_nonce();
        let posts = feed.posts.len() as u64;
        let doubt = InDoubt {
            generation,
            nonce,
            keys: records.iter().map(|(k, _)| *k).collect(),
            posts,
        };
        self.write_log(generation, feed.sync.nonce, posts, nonce, records)
            .await?;
        loop {
            if let Some((m, _)) = &current
                && (m.head, m.head_nonce) == (generation, nonce)
            {
                break;
            }
            if stale(&current, &feed.sync) {
                // Our compare-and-swap may have gone through before another
                // save went on top of it (a retried request answered as a
                // conflict): the chain tells. An entry is never deleted
                // here: the log's cleanup removes it if it is not on it.
                let m = current.as_ref().map(|(m, _)| m.clone());
                match m {
                    Some(m) => match self.committed_in(&m, generation, nonce).await {
                        Ok(Some(true)) => break,
                        Ok(Some(false)) => return Err(conflict(&current, &feed.sync)),
                        _ => {
                            feed.sync.in_doubt = Some(doubt);
                            return Err(Error::InDoubt { generation });
                        }
                    },
                    None => return Err(conflict(&current, &feed.sync)),
                }
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
                Err(e) if is_conflict(&e) => match self.meta().await {
                    Ok(m) => current = m,
                    Err(e) => {
                        feed.sync.in_doubt = Some(doubt);
                        return Err(e);
                    }
                },
                Err(e) => {
                    // The outcome is unknown: look.
                    if let Ok(Some((m, _))) = self.meta().await
                        && let Ok(Some(true)) = self.committed_in(&m, generation, nonce).await
                    {
                        break;
                    }
                    feed.sync.in_doubt = Some(doubt);
                    return Err(e.into());
                }
            }
        }
        feed.sync.generation = generation;
        feed.sync.nonce = nonce;
        feed.sync.posts = posts;
        feed.sync.stored = true;
        feed.sync.pending.insert(generation, doubt.keys);
        Ok(())
    }

    /// Writes `value` (a stamped record) at `key` unless the stored one is
    /// as new or newer (a compare-and-swap, so that a slow writer never puts
    /// an older record over a newer one). A stored record whose stamp does
    /// not decode is overwritten.
    async fn put_stamped(&self, key: Key, generation: u64, value: Bytes) -> Result<()> {
        loop {
            let options = match self.store.get_opt(&key).await? {
                None => blocksmith_store::PutOptions::create(),
                Some(r) => {
                    if unstamp(&r.data).map_or(0, |(s, _)| s) >= generation {
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
        use futures_util::{StreamExt, TryStreamExt};
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
            let mut puts = Vec::with_capacity(keys.len());
            for rk in keys {
                if let Some(bytes) = encode_record(feed, rk) {
                    puts.push((self.record_key(rk)?, Bytes::from(stamp(generation, &bytes))));
                }
            }
            futures_util::stream::iter(puts)
                .map(|(key, value)| self.put_stamped(key, generation, value))
                .buffer_unordered(CHECKPOINT_CONCURRENCY)
                .try_collect::<()>()
                .await?;
            let meta_key = self.meta_key()?;
            let mut current = self.meta().await?;
            while let Some((m, v)) = current {
                if m.checkpoint >= generation {
                    break;
                }
                let next = Meta {
                    posts: feed.sync.posts,
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
        if generation.is_multiple_of(self.gc_every()) {
            // Best effort: the next multiple tries again.
            let _ = self.remove_old_log(generation).await;
        }
        Ok(())
    }

    /// Removes log entries (and their parts) of saves more than the
    /// retention before `checkpoint`, and journal parts no entry (nor
    /// a single-writer `meta`) names.
    async fn remove_old_log(&self, checkpoint: u64) -> Result<()> {
        let cutoff = checkpoint.saturating_sub(self.retain);
        // Parts first: a part is written after its entry, so an entry the
        // listing below misses has no part in this one.
        let journal_prefix = format!("{}journal/", self.prefix);
        let parts = self.store.list_all(&journal_prefix).await?;
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
            let in_parts = self
                .read_log_entry(g, n)
                .await
                .ok()
                .flatten()
                .is_none_or(|e| matches!(e.body, LogBody::Parts { .. }));
            if in_parts {
                self.remove_parts(n).await?;
            }
            self.store.delete(&m.key).await?;
        }
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
        for m in parts {
            let rest = &m.key.as_str()[journal_prefix.len()..];
            let n = rest
                .split_once('/')
                .and_then(|(n, _)| u64::from_str_radix(n, 16).ok());
            if n.is_some_and(|n| !named.contains(&n)) {
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
    ///   the save did not commit, and its changes cannot be saved on top of
    ///   the other writer's; drop them with [`FeedStore::discard_changes`]
    ///   and make them again ([`FeedStore::update`] does both). Post ids
    ///   the changes returned are provisional until a save commits them;
    /// - [`Error::InDoubt`] if the store's reply to the commit was lost and
    ///   the log cannot tell whether it took effect; the next save or
    ///   update settles it;
    /// - [`Error::Invalid`] if a changed record is larger than the store's
    ///   `max_value_size`;
    /// - [`Error::Store`] if the store fails: the changes stay marked
    ///   unsaved, and a later save writes them (a store failure after the
    ///   commit point is not an error: see
    ///   [`SaveStats::checkpoint_deferred`]).
    pub async fn save<Sc: Scorer>(&self, feed: &mut Feed<Sc>) -> Result<SaveStats> {
        if feed.dirty.is_empty() && feed.sync.legacy.is_empty() {
            if feed.sync.in_doubt.is_some() {
                let current = self.meta().await?;
                self.settle(feed, current.as_ref().map(|(m, _)| m)).await?;
            }
            return Ok(SaveStats {
                generation: feed.sync.generation,
                ..SaveStats::default()
            });
        }
        let dirty = std::mem::take(&mut feed.dirty);
        let legacy = std::mem::take(&mut feed.sync.legacy);
        let mut keys = dirty_keys(&dirty);
        keys.extend(legacy.iter().copied());
        keys.sort_unstable();
        keys.dedup();
        let records: Vec<(RecordKey, Vec<u8>)> = keys
            .iter()
            .filter_map(|&rk| encode_record(feed, rk).map(|b| (rk, b)))
            .collect();
        let too_large = self.store.capabilities().max_value_size.and_then(|max| {
            records
                .iter()
                .find(|(_, b)| b.len() as u64 + 10 > max)
                .map(|(rk, b)| (rk.name(), b.len(), max))
        });
        let mut stats = SaveStats {
            keys: records.len(),
            bytes: records.iter().map(|(_, b)| b.len() as u64).sum(),
            ..SaveStats::default()
        };
        let result = match too_large {
            Some((name, len, max)) => Err(Error::Invalid(format!(
                "{name} is {len} bytes, more than the store takes ({max})"
            ))),
            None => self.commit(feed, records).await,
        };
        if let Err(e) = result {
            feed.dirty.merge(dirty);
            feed.sync.legacy.extend(legacy);
            return Err(e);
        }
        stats.generation = feed.sync.generation;
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
    ///   contradicts the others (a reshare of a reshare, a user following
    ///   itself, an inbox naming an unknown post, a record newer than the
    ///   last save, records without a `meta`);
    /// - [`Error::UserOutOfRange`] if the stored feed has users at or beyond
    ///   `config.max_users` (it was saved with a larger bound);
    /// - [`Error::Conflict`] if other writers' saves kept removing the log
    ///   entries this load needed (more than 1024 saves during each of 8
    ///   attempts).
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
                // No feed, unless records say otherwise: a lost `meta` is
                // refused rather than starting a second history over them.
                for kind in RECORD_KINDS {
                    let prefix = format!("{}{kind}", self.prefix);
                    let page = self
                        .store
                        .list(blocksmith_store::ListOptions::prefix(prefix).with_limit(1))
                        .await?;
                    if !page.objects.is_empty() {
                        return Err(corrupt("records are stored but no meta names them"));
                    }
                }
                return Ok(());
            };
            // 1. The records at their keys (any of them maybe newer than
            // `m1`, never newer than the head read below).
            let mut records: BTreeMap<RecordKey, Bytes> = BTreeMap::new();
            let mut newest = 0;
            for kind in RECORD_KINDS {
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
                    let (stamp, body) = unstamp(&data)?;
                    newest = newest.max(stamp);
                    let at = data.len() - body.len();
                    records.insert(rk, data.slice(at..));
                }
            }
            // 2. A single-writer-format save not yet at its keys.
            let mut legacy = BTreeMap::new();
            if let Some(j) = &m1.journal {
                let Some(records) = self.read_journal(j).await? else {
                    let now = self.meta().await?.and_then(|(m, _)| m.journal);
                    if now.as_ref() == Some(j) {
                        return Err(corrupt("a part of the feed's journal is missing"));
                    }
                    continue; // written out and removed under this load
                };
                legacy = records;
            }
            records.extend(legacy.iter().map(|(k, v)| (*k, v.clone())));
            // 3. The saves after the checkpoint, newest first.
            let Some((m2, _)) = self.meta().await? else {
                return Err(corrupt("meta vanished during a load"));
            };
            if newest > m2.head {
                return Err(corrupt(format!(
                    "a record of save {newest} is stored, but the last save is {}",
                    m2.head
                )));
            }
            if m2.head < m1.head || m2.checkpoint < m1.checkpoint {
                return Err(corrupt("meta went back during a load"));
            }
            let Some((chain, _)) = self.read_chain(&m2, m1.checkpoint).await? else {
                continue; // removed under this load: read again
            };
            let posts = chain.first().map_or(m1.posts, |(_, e)| e.posts);
            let mut pending = BTreeMap::new();
            for (_, e) in chain.into_iter().rev() {
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
                posts,
                stored: true,
                pending,
                in_doubt: None,
                legacy: legacy.into_keys().collect(),
            };
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
                "the feed has unsaved changes: save them, or drop them with \
                 FeedStore::discard_changes, before a refresh"
                    .into(),
            ));
        }
        let before = feed.sync.generation;
        let Some((m, _)) = self.meta().await? else {
            if feed.sync.stored || before != 0 {
                self.load_into(feed).await?;
            }
            return Ok(0);
        };
        feed.sync.pending.retain(|&g, _| g > m.checkpoint);
        if feed.sync.stored && (m.head, m.head_nonce) == (before, feed.sync.nonce) {
            return Ok(0);
        }
        let behind = !feed.sync.stored
            || m.head <= before
            || before.saturating_add(self.retain) < m.checkpoint;
        let chain = if behind {
            None
        } else {
            self.read_chain(&m, before).await?
        };
        // Too far behind, or not on the stored chain at all: load whole.
        let Some((chain, _)) = chain.filter(|(_, n)| *n == feed.sync.nonce) else {
            self.load_into(feed).await?;
            return Ok(feed.sync.generation.abs_diff(before));
        };
        let applied = chain.len() as u64;
        for (nonce, e) in chain.into_iter().rev() {
            let LogBody::Inline(recs) = e.body else {
                unreachable!("read_log inlines")
            };
            let mut inboxes = Vec::new();
            let result = recs
                .iter()
                .try_for_each(|(rk, v)| apply_record(feed, *rk, v, &mut inboxes))
                .and_then(|()| check_applied(feed, e.posts, &inboxes));
            if let Err(err) = result {
                // Never leave half a save applied.
                feed.clear_data();
                return Err(err);
            }
            if e.generation > m.checkpoint {
                feed.sync
                    .pending
                    .insert(e.generation, recs.iter().map(|(k, _)| *k).collect());
            }
            feed.sync.generation = e.generation;
            feed.sync.nonce = nonce;
            feed.sync.posts = e.posts;
        }
        Ok(applied)
    }

    /// Drops the feed's unsaved changes and brings it to the latest save:
    /// what to do after [`FeedStore::save`] returned [`Error::Conflict`]
    /// (then make the changes again; [`FeedStore::update`] does both). The
    /// records the changes touched are read back as the stored feed holds
    /// them now and the saves since the feed's own are applied from the
    /// log, so it costs what changed, not a reload (it falls back to a
    /// whole load when the log no longer reaches the feed's save). Post ids
    /// the dropped changes returned may now name other writers' posts.
    ///
    /// # Errors
    /// As [`FeedStore::load_with_scorer`].
    pub async fn discard_changes<Sc: Scorer>(&self, feed: &mut Feed<Sc>) -> Result<()> {
        self.discard_and_refresh(feed).await
    }

    async fn discard_and_refresh<Sc: Scorer>(&self, feed: &mut Feed<Sc>) -> Result<()> {
        let dirty = std::mem::take(&mut feed.dirty);
        feed.sync.in_doubt = None;
        let keys: BTreeSet<RecordKey> = dirty_keys(&dirty).into_iter().collect();
        match self.undo_and_refresh(feed, &keys).await {
            Ok(true) => Ok(()),
            Ok(false) | Err(_) => self.load_into(feed).await,
        }
    }

    /// [`FeedStore::discard_and_refresh`] without the fallback: `Ok(false)`
    /// if the log does not reach the feed's save.
    async fn undo_and_refresh<Sc: Scorer>(
        &self,
        feed: &mut Feed<Sc>,
        keys: &BTreeSet<RecordKey>,
    ) -> Result<bool> {
        let base = feed.sync.generation;
        // 1. The touched records at their keys (read before `meta`, so none
        // is newer than the head read next).
        let mut at_keys = Vec::with_capacity(keys.len());
        for &rk in keys {
            let data = self.store.get_opt(&self.record_key(rk)?).await?;
            at_keys.push((rk, data.map(|r| r.data)));
        }
        let Some((m, _)) = self.meta().await? else {
            return Ok(false);
        };
        if !feed.sync.stored || m.head < base {
            return Ok(false);
        }
        // 2. The log back to the older of the checkpoint and the feed's save.
        let floor = m.checkpoint.min(base);
        let Some((chain, floor_nonce)) = self.read_chain(&m, floor).await? else {
            return Ok(false);
        };
        let base_nonce = if base == floor {
            Some(floor_nonce)
        } else {
            chain
                .iter()
                .find(|(_, e)| e.generation == base)
                .map(|(n, _)| *n)
        };
        if base_nonce != Some(feed.sync.nonce) {
            return Ok(false); // not on the stored chain
        }
        // 3. Undo: the touched records as stored.
        truncate_posts(feed, usize::try_from(feed.sync.posts).unwrap_or(usize::MAX));
        let mut inboxes = Vec::new();
        for (rk, data) in at_keys {
            match data {
                Some(d) => {
                    let (stamp, body) = unstamp(&d)?;
                    if stamp > m.head {
                        return Err(corrupt(format!(
                            "{} is newer than the last save",
                            rk.name()
                        )));
                    }
                    apply_record(feed, rk, body, &mut inboxes)?;
                }
                None => clear_record(feed, rk, &mut inboxes)?,
            }
        }
        // 4. The log: every record of the saves after the feed's own, and
        // the touched records of those after the checkpoint.
        let posts = chain.first().map_or(m.posts, |(_, e)| e.posts);
        for (nonce, e) in chain.into_iter().rev() {
            let LogBody::Inline(recs) = e.body else {
                unreachable!("read_log inlines")
            };
            let g = e.generation;
            for (rk, v) in &recs {
                if g > base || (g > m.checkpoint && keys.contains(rk)) {
                    apply_record(feed, *rk, v, &mut inboxes)?;
                }
            }
            if g > base {
                feed.sync
                    .pending
                    .insert(g, recs.iter().map(|(k, _)| *k).collect());
                feed.sync.generation = g;
                feed.sync.nonce = nonce;
            }
        }
        check_applied(feed, posts, &inboxes)?;
        feed.sync.posts = posts;
        feed.sync.pending.retain(|&g, _| g > m.checkpoint);
        Ok(true)
    }

    /// Runs `f` on the latest feed and saves what it changed, again and
    /// again until no other writer saved in between: the way several
    /// writers share one feed. `f` may run several times (on a newer feed
    /// each time), so it must make its changes from scratch. Returns what
    /// the successful run returned.
    ///
    /// A lost race costs reading back the records the change touched and
    /// the saves made since; a save of an earlier call whose outcome was
    /// unknown ([`Error::InDoubt`]) is settled first.
    ///
    /// # Errors
    /// - what `f` returns (its changes are dropped);
    /// - [`Error::Invalid`] if the feed has unsaved changes when called;
    /// - [`Error::Conflict`] after 32 lost races in a row;
    /// - as [`FeedStore::save`] and [`FeedStore::refresh`]; after a store
    ///   error the changes are dropped (or kept in doubt, see
    ///   [`Error::InDoubt`]), so calling `update` again is safe.
    pub async fn update<Sc, T, F>(&self, feed: &mut Feed<Sc>, mut f: F) -> Result<(T, SaveStats)>
    where
        Sc: Scorer,
        F: FnMut(&mut Feed<Sc>) -> Result<T> + Send,
        T: Send,
    {
        if feed.sync.in_doubt.is_some() {
            let current = self.meta().await?;
            if self.settle(feed, current.as_ref().map(|(m, _)| m)).await? == Some(true) {
                // The earlier call's changes are saved.
                feed.dirty = crate::feed::Dirty::default();
            } else {
                self.discard_and_refresh(feed).await?;
            }
        }
        if !feed.dirty.is_empty() {
            return Err(Error::Invalid(
                "the feed has unsaved changes: save them, or drop them with \
                 FeedStore::discard_changes, before an update"
                    .into(),
            ));
        }
        for _ in 0..UPDATE_ATTEMPTS {
            self.refresh(feed).await?;
            let out = match f(feed) {
                Ok(out) => out,
                Err(e) => {
                    if !feed.dirty.is_empty() {
                        self.discard_and_refresh(feed).await?;
                    }
                    return Err(e);
                }
            };
            match self.save(feed).await {
                Ok(stats) => return Ok((out, stats)),
                Err(Error::Conflict(_)) => self.discard_and_refresh(feed).await?,
                Err(e) => {
                    if feed.sync.in_doubt.is_none() {
                        // Not committed: drop the changes, so that calling
                        // again starts clean.
                        let _ = self.discard_and_refresh(feed).await;
                    }
                    return Err(e);
                }
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
    /// [`FeedStore::discard_changes`].
    ///
    /// # Errors
    /// As [`FeedStore::discard_changes`].
    pub fn discard_changes<Sc: Scorer>(&self, feed: &mut Feed<Sc>) -> Result<()> {
        blocksmith_store::block_on(self.0.discard_changes(feed))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Interaction, Kind};
    use blocksmith_store::{MemoryStore, block_on};

    fn options() -> FeedOptions {
        FeedOptions::default()
            .with_inbox_cap(3)
            .with_celebrity_threshold(3)
    }

    fn same<Sc: Scorer>(a: &Feed<Sc>, b: &Feed<Sc>) {
        assert_eq!(a.posts(), b.posts());
        for u in 0..12 {
            let u = UserId(u);
            let or_empty = |f: &Feed<Sc>, g: fn(&Feed<Sc>, UserId) -> Option<&RoaringBitmap>| {
                g(f, u).cloned().unwrap_or_default()
            };
            assert_eq!(
                or_empty(a, Feed::followees),
                or_empty(b, Feed::followees),
                "{u}"
            );
            assert_eq!(
                or_empty(a, Feed::followers),
                or_empty(b, Feed::followers),
                "{u}"
            );
            assert_eq!(
                a.inbox(u).cloned().unwrap_or_default(),
                b.inbox(u).cloned().unwrap_or_default(),
                "{u}"
            );
            assert_eq!(a.is_seen(u, PostId(0)), b.is_seen(u, PostId(0)));
            assert_eq!(
                a.affinity(u, UserId(2), 10_000).to_bits(),
                b.affinity(u, UserId(2), 10_000).to_bits()
            );
            assert_eq!(
                a.read(u, None, 10_000).unwrap(),
                b.read(u, None, 10_000).unwrap()
            );
        }
        assert_eq!(a.pull_authors, b.pull_authors);
    }

    /// A lost race is undone from the records the change touched and the
    /// log, without a reload, and leaves exactly the stored feed.
    #[test]
    fn a_discarded_change_is_undone_without_a_reload() {
        let store = MemoryStore::new();
        let fs = FeedStore::new(&store, "t").unwrap();
        let key = CursorKey::derive(b"t");
        let mut f = Feed::new(options(), key.clone());
        for u in 1..8 {
            f.follow(UserId(u), UserId(0)).unwrap(); // 0 is pulled
        }
        f.follow(UserId(1), UserId(2)).unwrap();
        f.follow(UserId(3), UserId(2)).unwrap();
        f.publish(UserId(2), 1_000, Kind::Text).unwrap();
        f.publish(UserId(0), 1_500, Kind::Text).unwrap();
        block_on(fs.save(&mut f)).unwrap();
        let mut a = block_on(fs.load(options(), key.clone())).unwrap();
        // Another writer saves twice meanwhile.
        for ts in [2_000, 2_500] {
            block_on(fs.update(&mut f, |f| {
                f.follow(UserId(4), UserId(2))?;
                f.publish(UserId(2), ts, Kind::Photo)?;
                f.interact(UserId(1), PostId(0), Interaction::Like, ts)
            }))
            .unwrap();
        }
        // `a`'s change touches posts (new and old), inboxes, graph and state.
        a.publish(UserId(2), 3_000, Kind::Video).unwrap();
        a.publish(UserId(0), 3_100, Kind::Video).unwrap();
        a.follow(UserId(5), UserId(2)).unwrap();
        a.follow(UserId(9), UserId(10)).unwrap(); // users the store never saw
        a.interact(UserId(3), PostId(0), Interaction::Comment, 3_200)
            .unwrap();
        a.mark_seen(UserId(1), [PostId(0)]).unwrap();
        a.delete(PostId(1)).unwrap();
        assert!(matches!(block_on(fs.save(&mut a)), Err(Error::Conflict(_))));
        let keys: BTreeSet<RecordKey> = dirty_keys(&a.dirty).into_iter().collect();
        a.dirty = crate::feed::Dirty::default();
        assert!(
            block_on(fs.undo_and_refresh(&mut a, &keys)).unwrap(),
            "no reload"
        );
        let stored = block_on(fs.load(options(), key)).unwrap();
        assert_eq!(a.generation(), stored.generation());
        same(&a, &stored);
        // And it saves on top as any up-to-date feed does.
        a.publish(UserId(2), 4_000, Kind::Text).unwrap();
        block_on(fs.save(&mut a)).unwrap();
    }
}
