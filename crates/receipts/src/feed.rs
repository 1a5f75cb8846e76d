//! The change feed: "message M is now read by N", batched and throttled per
//! conversation, resumable from a cursor.
//!
//! Every [`crate::ReceiptsOptions::feed_interval_ms`] at most, a
//! conversation whose counts or members' positions changed gets one batch:
//! the new counts of every message whose counts may have changed, as runs
//! of consecutive messages with equal counts, and the new read position of
//! every member whose position moved. A subscriber (one of a user's
//! devices) reads the batches after its cursor with [`Receipts::changes`]
//! and sees only what concerns it: counts of runs holding its own messages
//! (read counts hidden if it hides its own under
//! [`crate::ReceiptsOptions::reciprocal`]) and its own position, private
//! reads included (that is how a read syncs to the user's other devices).
//! A cursor from before the batches kept, or from another process, gets a
//! resync page: the current counts of the newest messages and the position.

use crate::conversation::Conversation;
use crate::{Error, Receipts, Result, Seq, Unread, UserId};
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};

/// One change a subscriber sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// Every message in `from..=to` (those that exist) now has these counts
    /// (see [`crate::MessageStatus`]).
    Counts {
        /// First message of the run.
        from: Seq,
        /// Last message of the run.
        to: Seq,
        /// Recipients ("of M").
        recipients: u32,
        /// Delivered to.
        delivered: u32,
        /// Read by; `None` when the subscriber may not see read receipts.
        read: Option<u32>,
    },
    /// The subscriber's own read position and unread counts in the
    /// conversation (private reads included).
    Position {
        /// The user's own read position.
        read: Seq,
        /// Unread counts after it.
        unread: Unread,
    },
}

/// The changes of one batch a subscriber sees.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangeBatch {
    /// The batch's number in the conversation (ascending).
    pub id: u64,
    /// When it was formed (clock ms).
    pub at_ms: u64,
    /// What changed.
    pub changes: Vec<Change>,
}

/// What [`Receipts::changes`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChangePage {
    /// Batches after the cursor that concern the subscriber, oldest first.
    pub batches: Vec<ChangeBatch>,
    /// The cursor to resume from.
    pub cursor: String,
    /// The cursor could not be resumed (too old, another process's, or
    /// none given): `batches` holds one snapshot batch instead, the current
    /// counts of the newest messages and the position.
    pub resync: bool,
}

#[derive(Clone, Debug)]
struct Run {
    from: Seq,
    to: Seq,
    recipients: u32,
    delivered: u32,
    read: u32,
}

#[derive(Clone, Debug)]
struct Position {
    member: u32,
    read: Seq,
    unread: Unread,
}

#[derive(Clone, Debug)]
struct Batch {
    id: u64,
    at_ms: u64,
    runs: Vec<Run>,
    positions: Vec<Position>,
}

/// One conversation's feed state.
#[derive(Clone, Debug, Default)]
pub(crate) struct FeedLog {
    /// The id the next batch gets (ids start at 1).
    next_id: u64,
    /// When the last batch was formed (`None`: never).
    last_at: Option<u64>,
    batches: VecDeque<Batch>,
}

/// A random number per process, so a cursor from another process (or
/// another engine) is recognised and answered with a resync.
pub(crate) fn new_epoch() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0x5eed);
    h.finish()
}

fn cursor(epoch: u64, next: u64) -> String {
    format!("rc1-{epoch:016x}-{next}")
}

fn parse_cursor(s: &str) -> Option<(u64, u64)> {
    let rest = s.strip_prefix("rc1-")?;
    let (e, n) = rest.split_once('-')?;
    if e.len() != 16 {
        return None;
    }
    Some((u64::from_str_radix(e, 16).ok()?, n.parse().ok()?))
}

/// The counts of present messages in `from..=to` as runs.
fn runs(conv: &Conversation, from: Seq, to: Seq) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for seq in from.max(1)..=to.min(conv.last) {
        let e = conv.senders[(seq - 1) as usize];
        if e & crate::conversation::DELETED != 0 || e & crate::conversation::SENDER == 0 {
            continue;
        }
        let s = (e & crate::conversation::SENDER) - 1;
        let (recipients, delivered, read) = conv.counts(seq, s);
        match out.last_mut() {
            Some(r) if (r.recipients, r.delivered, r.read) == (recipients, delivered, read) => {
                r.to = seq;
            }
            _ => out.push(Run {
                from: seq,
                to: seq,
                recipients,
                delivered,
                read,
            }),
        }
    }
    out
}

fn position(conv: &Conversation, member: u32) -> Position {
    Position {
        member,
        read: conv.members[member as usize].read,
        unread: conv.unread_of(member),
    }
}

impl FeedLog {
    /// Forms a batch from what changed, if the interval allows.
    pub(crate) fn tick(
        &mut self,
        conv: &mut Conversation,
        now: u64,
        interval: u64,
        max_messages: usize,
        retain: usize,
    ) -> bool {
        if !conv.has_touched()
            || self
                .last_at
                .is_some_and(|t| now.saturating_sub(t) < interval)
        {
            return false;
        }
        conv.drain();
        let (range, users) = conv.take_touched();
        let runs = match range {
            Some((lo, hi)) => {
                let lo = lo.max(hi.saturating_sub(max_messages as u64 - 1));
                runs(conv, lo, hi)
            }
            None => Vec::new(),
        };
        let positions: Vec<Position> = users.into_iter().map(|i| position(conv, i)).collect();
        self.last_at = Some(now);
        if runs.is_empty() && positions.is_empty() {
            return false;
        }
        self.next_id = self.next_id.max(1);
        self.batches.push_back(Batch {
            id: self.next_id,
            at_ms: now,
            runs,
            positions,
        });
        self.next_id += 1;
        while self.batches.len() > retain {
            self.batches.pop_front();
        }
        true
    }

    fn view(conv: &Conversation, viewer: UserId, b: &Batch) -> Vec<Change> {
        let sees = conv.sees_reads(viewer);
        let me = conv.index.get(&viewer).copied();
        let mut out = Vec::new();
        for r in &b.runs {
            if conv.sent_any(viewer, r.from, r.to) {
                out.push(Change::Counts {
                    from: r.from,
                    to: r.to,
                    recipients: r.recipients,
                    delivered: r.delivered,
                    read: sees.then_some(r.read),
                });
            }
        }
        for p in &b.positions {
            if Some(p.member) == me {
                out.push(Change::Position {
                    read: p.read,
                    unread: p.unread,
                });
            }
        }
        out
    }
}

impl Receipts {
    /// Forms the change-feed batches that are due (each conversation at
    /// most once per [`crate::ReceiptsOptions::feed_interval_ms`]). Returns
    /// how many were formed. [`crate::ReceiptStore::tick`] calls it.
    pub fn feed_tick(&mut self) -> usize {
        let now = self.clock.now_ms();
        let (interval, max, retain) = (
            self.options.feed_interval_ms,
            self.options.feed_max_messages.max(1),
            self.options.feed_retain.max(1),
        );
        let mut n = 0;
        for s in &mut self.slots {
            n += usize::from(s.feed.tick(&mut s.conv, now, interval, max, retain));
        }
        n
    }

    /// The changes of `conv` after `cursor` that concern `viewer`, at most
    /// `limit` batches (see the [`crate::feed`] module). Without a cursor,
    /// or with one that cannot be resumed, a resync page.
    ///
    /// # Errors
    /// [`Error::UnknownConversation`]; [`Error::InvalidCursor`] for a
    /// string that is not a cursor.
    pub fn changes(
        &self,
        conv: &str,
        viewer: UserId,
        cursor_in: Option<&str>,
        limit: usize,
    ) -> Result<ChangePage> {
        let k = self.slot_index(conv)?;
        let slot = &self.slots[k as usize];
        let (c, log) = (&slot.conv, &slot.feed);
        let next = log.next_id.max(1);
        let oldest = log.batches.front().map_or(next, |b| b.id);
        let resume = match cursor_in {
            None => None,
            Some(s) => {
                let (epoch, id) =
                    parse_cursor(s).ok_or_else(|| Error::InvalidCursor(s.to_string()))?;
                (epoch == self.feed_epoch && id >= oldest && id <= next).then_some(id)
            }
        };
        let Some(from) = resume else {
            // Resync: the counts of the newest messages and the position now.
            let last = c.last;
            let lo = last.saturating_sub(self.options.feed_max_messages.max(1) as u64 - 1);
            let mut snap = Batch {
                id: next - 1,
                at_ms: self.clock.now_ms(),
                runs: runs(c, lo, last),
                positions: Vec::new(),
            };
            if let Some(&i) = c.index.get(&viewer) {
                snap.positions.push(position(c, i));
            }
            return Ok(ChangePage {
                batches: vec![ChangeBatch {
                    id: snap.id,
                    at_ms: snap.at_ms,
                    changes: FeedLog::view(c, viewer, &snap),
                }],
                cursor: cursor(self.feed_epoch, next),
                resync: true,
            });
        };
        let mut batches = Vec::new();
        let mut resume_at = from;
        for b in log.batches.iter().filter(|b| b.id >= from) {
            if batches.len() >= limit {
                break;
            }
            resume_at = b.id + 1;
            let changes = FeedLog::view(c, viewer, b);
            if !changes.is_empty() {
                batches.push(ChangeBatch {
                    id: b.id,
                    at_ms: b.at_ms,
                    changes,
                });
            }
        }
        Ok(ChangePage {
            batches,
            cursor: cursor(self.feed_epoch, resume_at),
            resync: false,
        })
    }
}
