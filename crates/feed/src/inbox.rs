//! Bounded per-user inboxes: the fan-out-on-write side of delivery.
//!
//! An inbox is a sorted run of [`Entry`] keys `(timestamp, post id)` capped at
//! a size. Trimming drops the oldest entries and raises the inbox's
//! *horizon*: the inbox is complete for every key above its horizon (every
//! pushed post of every followee is there), and the reader fills anything it
//! needs at or below the horizon by pulling from authors' outboxes. That
//! invariant is what lets a trimmed inbox still give exactly the brute-force
//! answer.
//!
//! # Encoded block
//! `version (1) | flags (1: bit0 = has horizon) | [horizon ts zigzag, horizon id] |
//! count | first ts zigzag, first id | then per entry: ts delta, id delta zigzag`,
//! all LEB128 varints. Entries are strictly ascending; the decoder checks it.

use crate::codec::{Reader, put_ivarint, put_varint};
use crate::{PostId, Result};
use std::collections::VecDeque;

const BLOCK_VERSION: u8 = 1;

/// A feed entry's sort key: newer timestamps first when read newest-first,
/// post id breaking ties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Entry {
    /// Post timestamp (milliseconds).
    pub ts: i64,
    /// Post id.
    pub post: PostId,
}

impl Entry {
    /// A key.
    pub fn new(ts: i64, post: PostId) -> Self {
        Self { ts, post }
    }
}

/// A bounded, sorted inbox with a completeness horizon.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inbox {
    entries: VecDeque<Entry>,
    horizon: Option<Entry>,
}

impl Inbox {
    /// An empty inbox (complete everywhere).
    pub fn new() -> Self {
        Self::default()
    }

    /// Entries, oldest first.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = Entry> + ExactSizeIterator + '_ {
        self.entries.iter().copied()
    }

    pub(crate) fn entries_ref(&self) -> &VecDeque<Entry> {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The largest key ever trimmed away: the inbox is complete strictly above it.
    pub fn horizon(&self) -> Option<Entry> {
        self.horizon
    }

    /// Inserts `e` keeping order and uniqueness. Returns whether it was
    /// inserted (a key at or below the horizon, or one already present, is not).
    ///
    /// Trimming is amortized: once the inbox exceeds `cap + cap / 8` entries it
    /// is trimmed back to `cap` in one go, so a fan-out insert touches only the
    /// newest end of the inbox (one cache line) rather than both ends.
    pub fn insert(&mut self, e: Entry, cap: usize) -> bool {
        if self.horizon.is_some_and(|h| e <= h) {
            return false;
        }
        match self.entries.back() {
            None => {
                // Reserve up front (small inboxes never regrow; large ones
                // double from here): fewer reallocations, less fragmentation.
                self.entries.reserve_exact((cap + cap / 8 + 1).min(128));
                self.entries.push_back(e);
            }
            Some(&last) if e > last => self.entries.push_back(e),
            Some(_) => match self.entries.binary_search(&e) {
                Ok(_) => return false,
                Err(i) => self.entries.insert(i, e),
            },
        }
        if self.entries.len() > cap + cap / 8 {
            self.trim(cap);
        }
        true
    }

    /// Removes the entries `keep` rejects. The horizon is unchanged: the
    /// caller vouches that the removed entries are no longer owed to the
    /// reader (their author was unfollowed).
    pub fn retain(&mut self, keep: impl FnMut(&Entry) -> bool) {
        self.entries.retain(keep);
    }

    /// Drops the oldest entries beyond `cap`, raising the horizon.
    pub fn trim(&mut self, cap: usize) {
        while self.entries.len() > cap {
            if let Some(dropped) = self.entries.pop_front() {
                self.raise_horizon(dropped);
            }
        }
    }

    /// Declares the inbox incomplete at and below `h`.
    pub fn raise_horizon(&mut self, h: Entry) {
        if self.horizon.is_none_or(|old| h > old) {
            self.horizon = Some(h);
        }
        while self.entries.front().is_some_and(|&f| f <= h) {
            self.entries.pop_front();
        }
    }

    /// Encodes the inbox as a compact block.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.entries.len() * 4);
        out.push(BLOCK_VERSION);
        out.push(u8::from(self.horizon.is_some()));
        if let Some(h) = self.horizon {
            put_ivarint(&mut out, h.ts);
            put_varint(&mut out, h.post.0);
        }
        put_varint(&mut out, self.entries.len() as u64);
        let mut prev: Option<Entry> = None;
        for &e in &self.entries {
            match prev {
                None => {
                    put_ivarint(&mut out, e.ts);
                    put_varint(&mut out, e.post.0);
                }
                Some(p) => {
                    put_varint(&mut out, e.ts.wrapping_sub(p.ts) as u64);
                    put_ivarint(&mut out, e.post.0.wrapping_sub(p.post.0) as i64);
                }
            }
            prev = Some(e);
        }
        out
    }

    /// Decodes a block written by [`Inbox::encode`], rejecting anything malformed.
    ///
    /// # Errors
    /// [`crate::Error::Corrupt`] if `bytes` are truncated or have trailing
    /// bytes, carry an unknown version or flags, a count the input cannot
    /// hold, or entries that are not strictly ascending or lie at or below
    /// the horizon.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader::new(bytes, "inbox block");
        let version = r.u8()?;
        if version != BLOCK_VERSION {
            return Err(r.corrupt(format!("unknown block version {version}")));
        }
        let flags = r.u8()?;
        if flags > 1 {
            return Err(r.corrupt(format!("unknown flags {flags:#x}")));
        }
        let horizon = if flags == 1 {
            Some(Entry::new(r.ivarint()?, PostId(r.varint()?)))
        } else {
            None
        };
        let n = r.len(2)?;
        let mut entries = VecDeque::with_capacity(n);
        let mut prev: Option<Entry> = None;
        for _ in 0..n {
            let e = match prev {
                None => Entry::new(r.ivarint()?, PostId(r.varint()?)),
                Some(p) => {
                    let dts = r.varint()?;
                    let did = r.ivarint()?;
                    // Deltas wrap (the encoder wraps too); order is checked below.
                    let ts = p.ts.wrapping_add(dts as i64);
                    let id = p.post.0.wrapping_add_signed(did);
                    Entry::new(ts, PostId(id))
                }
            };
            if prev.is_some_and(|p| e <= p) {
                return Err(r.corrupt("entries not strictly ascending"));
            }
            if horizon.is_some_and(|h| e <= h) {
                return Err(r.corrupt("entry at or below the horizon"));
            }
            entries.push_back(e);
            prev = Some(e);
        }
        r.finish()?;
        Ok(Self { entries, horizon })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trimming_raises_the_horizon() {
        let mut inbox = Inbox::new();
        for i in 0..10 {
            assert!(inbox.insert(Entry::new(i * 10, PostId(i as u64)), 4));
            assert!(inbox.len() <= 4);
        }
        assert_eq!(inbox.len(), 4);
        assert_eq!(inbox.horizon(), Some(Entry::new(50, PostId(5))));
        // Below the horizon: refused (a reader pulls that range).
        assert!(!inbox.insert(Entry::new(15, PostId(99)), 4));
        // Duplicate: refused.
        assert!(!inbox.insert(Entry::new(90, PostId(9)), 4));
        // Out of order but above the horizon: kept in order.
        assert!(inbox.insert(Entry::new(75, PostId(42)), 4));
        let keys: Vec<_> = inbox.entries().map(|e| e.ts).collect();
        assert_eq!(keys, [70, 75, 80, 90]);
        assert_eq!(inbox.horizon(), Some(Entry::new(60, PostId(6))));
    }

    fn arb_inbox() -> impl Strategy<Value = Inbox> {
        (
            proptest::collection::vec((any::<i64>(), any::<u64>()), 0..60),
            1usize..40,
        )
            .prop_map(|(keys, cap)| {
                let mut inbox = Inbox::new();
                for (ts, id) in keys {
                    inbox.insert(Entry::new(ts, PostId(id)), cap);
                }
                inbox
            })
    }

    proptest! {
        #[test]
        fn block_round_trip(inbox in arb_inbox()) {
            let bytes = inbox.encode();
            prop_assert_eq!(Inbox::decode(&bytes).unwrap(), inbox);
        }

        #[test]
        fn hostile_blocks_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = Inbox::decode(&bytes);
            let mut framed = vec![1u8, 0];
            framed.extend_from_slice(&bytes);
            if let Ok(inbox) = Inbox::decode(&framed) {
                // Whatever decodes re-encodes to the same inbox.
                prop_assert_eq!(Inbox::decode(&inbox.encode()).unwrap(), inbox);
            }
        }

        #[test]
        fn insert_keeps_sorted_unique_and_bounded(keys in proptest::collection::vec((0i64..50, 0u64..50), 0..100), cap in 1usize..20) {
            let mut inbox = Inbox::new();
            for (ts, id) in keys {
                inbox.insert(Entry::new(ts, PostId(id)), cap);
            }
            let v: Vec<_> = inbox.entries().collect();
            prop_assert!(v.len() <= cap + cap / 8);
            prop_assert!(v.windows(2).all(|w| w[0] < w[1]));
            if let (Some(h), Some(f)) = (inbox.horizon(), v.first()) {
                prop_assert!(*f > h);
            }
        }
    }
}
