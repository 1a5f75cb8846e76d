//! Opaque, tamper-evident page cursors.
//!
//! A cursor snapshots the ranking boundary of a feed session: the time the
//! first page was ranked at (`as_of`), the first post id that did not exist
//! yet (`horizon`: later posts are "new", counted by
//! [`crate::Feed::new_since`] and never slipped into later pages), the
//! diversity run the last page ended on, and the ids already served. Every
//! later page ranks the same snapshot and leaves out what was served, so pages
//! never repeat a post and never skip one, even while posts arrive and
//! engagement counters move between requests.
//!
//! On the wire it is URL-safe base64 of `payload | mac`, where `mac` is the
//! first 16 bytes of `blake3::keyed_hash(key, payload)`. The payload binds the
//! user, so a cursor cannot be replayed for someone else, and the time it was
//! issued, so a feed configured with
//! [`FeedOptions::cursor_max_age_ms`](crate::FeedOptions::cursor_max_age_ms)
//! refuses an old one with [`Error::CursorExpired`]. The tag is compared in
//! constant time (`subtle`).
//!
//! Payload (version 2): `version (1) | user | as_of zigzag | (issued - as_of)
//! zigzag | horizon | run flags (1) | [author, author run] | [kind (1), kind
//! run] | served count | first served id | gaps - 1`, LEB128 varints. Version
//! 1 payloads (no issue time) still decode, with `issued = as_of`: the session
//! start, never later than the real issue time, so an age limit only errs on
//! the strict side for cursors issued before the upgrade.

use crate::codec::{Reader, put_ivarint, put_varint};
use crate::{Error, Kind, PostId, Result, UserId};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq as _;

const VERSION: u8 = 2;
/// The first version, without an issue time (still accepted).
const VERSION_1: u8 = 1;
const MAC_LEN: usize = 16;
/// Longest cursor string accepted (far above any the feed issues).
pub const MAX_CURSOR_LEN: usize = 64 * 1024;

/// The secret that signs cursors. Keep it stable across restarts so issued
/// cursors stay valid; rotate it to invalidate them all.
#[derive(Clone)]
pub struct CursorKey([u8; 32]);

impl CursorKey {
    /// A key from 32 secret bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key derived from secret material of any length (blake3 `derive_key`).
    pub fn derive(secret: &[u8]) -> Self {
        Self(blake3::derive_key(
            "blocksmith-feed 2026 cursor key v1",
            secret,
        ))
    }

    fn mac(&self, payload: &[u8]) -> [u8; MAC_LEN] {
        let h = blake3::keyed_hash(&self.0, payload);
        let mut out = [0; MAC_LEN];
        out.copy_from_slice(&h.as_bytes()[..MAC_LEN]);
        out
    }
}

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

/// Where the diversity re-ranker stands: the author and kind of the last item
/// placed and how many consecutive items they have had.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunState {
    /// Author of the last item and the length of its run.
    pub author: Option<(UserId, u32)>,
    /// Kind of the last item and the length of its run.
    pub kind: Option<(Kind, u32)>,
}

impl RunState {
    /// The state after placing an item by `author` of `kind`.
    pub fn push(&mut self, author: UserId, kind: Kind) {
        self.author = Some(match self.author {
            Some((a, n)) if a == author => (a, n.saturating_add(1)),
            _ => (author, 1),
        });
        self.kind = Some(match self.kind {
            Some((k, n)) if k == kind => (k, n.saturating_add(1)),
            _ => (kind, 1),
        });
    }

    /// The author run length if `author` came next.
    pub fn author_run_with(&self, author: UserId) -> u32 {
        match self.author {
            Some((a, n)) if a == author => n.saturating_add(1),
            _ => 1,
        }
    }

    /// The kind run length if `kind` came next.
    pub fn kind_run_with(&self, kind: Kind) -> u32 {
        match self.kind {
            Some((k, n)) if k == kind => n.saturating_add(1),
            _ => 1,
        }
    }
}

/// A decoded cursor: the snapshot a feed session pages through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Whose feed.
    pub user: UserId,
    /// The ranking time of the session (scores are computed at this time).
    pub as_of: i64,
    /// When this cursor was issued: the `now` of the read that returned it,
    /// in the feed's milliseconds. Covered by the MAC, so a client cannot
    /// refresh it; checked against
    /// [`FeedOptions::cursor_max_age_ms`](crate::FeedOptions::cursor_max_age_ms).
    pub issued: i64,
    /// Posts with this id or above were created after the session began.
    pub horizon: PostId,
    /// Diversity run at the end of the last page.
    pub run: RunState,
    /// Original post ids already served, ascending and unique.
    pub served: Vec<PostId>,
}

impl Cursor {
    /// The unsigned payload bytes.
    pub fn to_payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24 + self.served.len() * 2);
        out.push(VERSION);
        put_varint(&mut out, u64::from(self.user.0));
        put_ivarint(&mut out, self.as_of);
        // Usually a few bytes: a session lasts minutes, not epochs.
        put_ivarint(&mut out, self.issued.wrapping_sub(self.as_of));
        put_varint(&mut out, self.horizon.0);
        let flags = u8::from(self.run.author.is_some()) | (u8::from(self.run.kind.is_some()) << 1);
        out.push(flags);
        if let Some((a, n)) = self.run.author {
            put_varint(&mut out, u64::from(a.0));
            put_varint(&mut out, u64::from(n));
        }
        if let Some((k, n)) = self.run.kind {
            out.push(k.id());
            put_varint(&mut out, u64::from(n));
        }
        put_varint(&mut out, self.served.len() as u64);
        let mut prev: Option<u64> = None;
        for p in &self.served {
            match prev {
                None => put_varint(&mut out, p.0),
                // Wrapping: unsorted or repeated ids (a hand-built cursor)
                // encode to a payload `from_payload` refuses, not a panic.
                Some(q) => put_varint(&mut out, p.0.wrapping_sub(q).wrapping_sub(1)),
            }
            prev = Some(p.0);
        }
        out
    }

    /// Parses payload bytes (no authenticity check: use [`Cursor::decode`] on
    /// anything a client sent).
    ///
    /// # Errors
    /// [`Error::InvalidCursor`] if the payload is truncated, has trailing bytes,
    /// an unknown version, flag or kind, or served ids that overflow.
    pub fn from_payload(bytes: &[u8]) -> Result<Cursor> {
        let bad = |_| Error::InvalidCursor("malformed payload");
        let mut r = Reader::new(bytes, "cursor");
        let version = r.u8().map_err(bad)?;
        if version != VERSION && version != VERSION_1 {
            return Err(Error::InvalidCursor("unknown cursor version"));
        }
        let user = UserId(r.u32v().map_err(bad)?);
        let as_of = r.ivarint().map_err(bad)?;
        let issued = if version == VERSION_1 {
            as_of
        } else {
            as_of.wrapping_add(r.ivarint().map_err(bad)?)
        };
        let horizon = PostId(r.varint().map_err(bad)?);
        let flags = r.u8().map_err(bad)?;
        if flags > 3 {
            return Err(Error::InvalidCursor("malformed payload"));
        }
        let mut run = RunState::default();
        if flags & 1 != 0 {
            let a = UserId(r.u32v().map_err(bad)?);
            let n = r.u32v().map_err(bad)?;
            run.author = Some((a, n));
        }
        if flags & 2 != 0 {
            let k =
                Kind::from_id(r.u8().map_err(bad)?).ok_or(Error::InvalidCursor("unknown kind"))?;
            let n = r.u32v().map_err(bad)?;
            run.kind = Some((k, n));
        }
        let n = r.len(1).map_err(bad)?;
        let mut served = Vec::with_capacity(n);
        let mut prev: Option<u64> = None;
        for _ in 0..n {
            let v = r.varint().map_err(bad)?;
            let id = match prev {
                None => v,
                Some(q) => q
                    .checked_add(v)
                    .and_then(|x| x.checked_add(1))
                    .ok_or(Error::InvalidCursor("malformed payload"))?,
            };
            served.push(PostId(id));
            prev = Some(id);
        }
        r.finish().map_err(bad)?;
        Ok(Cursor {
            user,
            as_of,
            issued,
            horizon,
            run,
            served,
        })
    }

    /// Signs and encodes the cursor as an opaque URL-safe string.
    pub fn encode(&self, key: &CursorKey) -> String {
        let mut bytes = self.to_payload();
        let mac = key.mac(&bytes);
        bytes.extend_from_slice(&mac);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a cursor string, verifying its MAC under `key`.
    ///
    /// # Errors
    /// [`Error::InvalidCursor`] if `s` is longer than the longest cursor, not
    /// base64url, too short to hold a MAC, signed under another key or tampered
    /// with, or its payload is malformed (as for [`Cursor::from_payload`]).
    pub fn decode(key: &CursorKey, s: &str) -> Result<Cursor> {
        if s.len() > MAX_CURSOR_LEN {
            return Err(Error::InvalidCursor("too long"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| Error::InvalidCursor("not base64url"))?;
        if bytes.len() < MAC_LEN + 1 {
            return Err(Error::InvalidCursor("too short"));
        }
        let (payload, mac) = bytes.split_at(bytes.len() - MAC_LEN);
        let expected = key.mac(payload);
        if !bool::from(expected[..].ct_eq(mac)) {
            return Err(Error::InvalidCursor(
                "signature mismatch (tampered or foreign)",
            ));
        }
        Cursor::from_payload(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_cursor() -> impl Strategy<Value = Cursor> {
        (
            any::<u32>(),
            any::<i64>(),
            any::<i64>(),
            any::<u64>(),
            proptest::option::of((any::<u32>(), any::<u32>())),
            proptest::option::of((0u8..5, any::<u32>())),
            proptest::collection::btree_set(any::<u64>(), 0..50),
        )
            .prop_map(|(u, as_of, issued, h, a, k, served)| Cursor {
                user: UserId(u),
                as_of,
                issued,
                horizon: PostId(h),
                run: RunState {
                    author: a.map(|(a, n)| (UserId(a), n)),
                    kind: k.map(|(k, n)| (Kind::from_id(k).unwrap(), n)),
                },
                served: served.into_iter().map(PostId).collect(),
            })
    }

    proptest! {
        #[test]
        fn round_trip(c in arb_cursor()) {
            let key = CursorKey::derive(b"test");
            let s = c.encode(&key);
            prop_assert_eq!(Cursor::decode(&key, &s).unwrap(), c.clone());
            prop_assert_eq!(Cursor::from_payload(&c.to_payload()).unwrap(), c);
        }

        #[test]
        fn any_bit_flip_is_detected(c in arb_cursor(), bit in any::<proptest::sample::Index>()) {
            let key = CursorKey::derive(b"test");
            let mut bytes = URL_SAFE_NO_PAD.decode(c.encode(&key)).unwrap();
            let i = bit.index(bytes.len() * 8);
            bytes[i / 8] ^= 1 << (i % 8);
            let forged = URL_SAFE_NO_PAD.encode(&bytes);
            prop_assert!(matches!(Cursor::decode(&key, &forged), Err(Error::InvalidCursor(_))));
        }

        #[test]
        fn hostile_strings_never_panic(s in ".{0,80}", bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let key = CursorKey::derive(b"test");
            let _ = Cursor::decode(&key, &s);
            let _ = Cursor::decode(&key, &URL_SAFE_NO_PAD.encode(&bytes));
            let _ = Cursor::from_payload(&bytes);
        }
    }

    #[test]
    fn other_key_is_rejected() {
        let c = Cursor {
            user: UserId(7),
            as_of: 1,
            issued: 3,
            horizon: PostId(2),
            run: RunState::default(),
            served: vec![PostId(1)],
        };
        let s = c.encode(&CursorKey::derive(b"a"));
        assert!(Cursor::decode(&CursorKey::derive(b"b"), &s).is_err());
        assert_eq!(Cursor::decode(&CursorKey::derive(b"a"), &s).unwrap(), c);
    }

    #[test]
    fn version_1_cursors_decode_with_the_session_start_as_issue_time() {
        // user 7, as_of 40 (zigzag 80), horizon 2, no run, one served id 1:
        // the layout version 1 wrote.
        let v1 = [VERSION_1, 7, 80, 2, 0, 1, 1];
        let key = CursorKey::derive(b"a");
        let mut bytes = v1.to_vec();
        bytes.extend_from_slice(&key.mac(&v1));
        let c = Cursor::decode(&key, &URL_SAFE_NO_PAD.encode(bytes)).unwrap();
        assert_eq!(
            c,
            Cursor {
                user: UserId(7),
                as_of: 40,
                issued: 40,
                horizon: PostId(2),
                run: RunState::default(),
                served: vec![PostId(1)],
            }
        );
        assert_eq!(c.to_payload()[0], VERSION);
    }
}
