//! [`Receipts`]: every conversation of a process in memory, with the user
//! index behind badges, and the write-coalescing bookkeeping that decides
//! which conversation blocks to write and when.

use crate::conversation::{Conversation, Policy};
use crate::feed::FeedLog;
use crate::{
    Clock, DeviceId, Error, ListKind, MessageStatus, Privacy, ReceiptKind, ReceiptsOptions, Result,
    Seq, SystemClock, Unread, UserId,
};
use blocksmith_store::Version;
use foldhash::HashMap;
use std::sync::Arc;

/// A user's unread badge over their conversations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Badge {
    /// Unread messages over every conversation.
    pub messages: u64,
    /// Unread mentions over every conversation.
    pub mentions: u64,
    /// Conversations with at least one unread message.
    pub conversations: u32,
}

/// What the write-coalescing layer holds, measured from the capacities of
/// its structures (see [`Receipts::memory`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemoryStats {
    /// Conversations in memory.
    pub conversations: usize,
    /// (conversation, member) pairs: member slots, active or not.
    pub pairs: usize,
    /// Bytes of the write-coalescing state: per member slot the two 16-bit
    /// index lags and the queued flag (5 bytes, over each member table's
    /// capacity), the queues of lagging members (4 bytes per slot of
    /// capacity), per conversation the flush bookkeeping (dirty-since time,
    /// update count, flag: 13 bytes) and the dirty-conversation queue (4
    /// bytes per slot of capacity).
    pub aggregator_bytes: usize,
    /// Updates waiting to be folded into the indexes (lagging members).
    pub lagging: usize,
    /// Conversations with changes not yet written.
    pub dirty: usize,
}

impl MemoryStats {
    /// `aggregator_bytes / pairs`.
    pub fn bytes_per_pair(&self) -> f64 {
        if self.pairs == 0 {
            0.0
        } else {
            self.aggregator_bytes as f64 / self.pairs as f64
        }
    }
}

/// One conversation in memory with its write bookkeeping.
pub(crate) struct Slot {
    pub(crate) conv: Conversation,
    /// When the first unwritten change came (clock ms).
    pub(crate) dirty_since: u64,
    /// Updates since the last write.
    pub(crate) updates: u32,
    pub(crate) in_dirty: bool,
    /// The stored block's version (`None`: not stored yet).
    pub(crate) version: Option<Version>,
    pub(crate) feed: FeedLog,
}

/// Receipts of many conversations, in memory: the pure engine under
/// [`crate::ReceiptStore`], usable on its own (a host with its own
/// persistence writes [`Conversation::to_bytes`]).
///
/// Updates are cheap: a watermark update changes the member's slot and
/// records how far the order-statistic indexes trail (the write-coalescing
/// layer); a burst of updates by one member is folded in as one move when a
/// status is asked for, by [`Receipts::drain`], or by the change feed.
pub struct Receipts {
    pub(crate) options: ReceiptsOptions,
    policy: Policy,
    pub(crate) clock: Arc<dyn Clock>,
    ids: HashMap<String, u32>,
    pub(crate) slots: Vec<Slot>,
    users: HashMap<UserId, Vec<(u32, u32)>>,
    dirty: Vec<u32>,
    pub(crate) feed_epoch: u64,
}

impl std::fmt::Debug for Receipts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receipts")
            .field("conversations", &self.slots.len())
            .field("dirty", &self.dirty.len())
            .finish_non_exhaustive()
    }
}

impl Default for Receipts {
    fn default() -> Self {
        Self::new(ReceiptsOptions::default())
    }
}

impl Receipts {
    /// An empty engine.
    pub fn new(options: ReceiptsOptions) -> Self {
        Receipts {
            policy: Policy::of(&options),
            options,
            clock: Arc::new(SystemClock),
            ids: HashMap::default(),
            slots: Vec::new(),
            users: HashMap::default(),
            dirty: Vec::new(),
            feed_epoch: crate::feed::new_epoch(),
        }
    }

    /// Uses `clock` for flush intervals and feed throttling.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    pub(crate) fn with_shared_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The options.
    pub fn options(&self) -> &ReceiptsOptions {
        &self.options
    }

    pub(crate) fn slot_index(&self, conv: &str) -> Result<u32> {
        self.ids
            .get(conv)
            .copied()
            .ok_or_else(|| Error::UnknownConversation(conv.to_string()))
    }

    /// Whether `conv` has changes not yet written (by [`crate::ReceiptStore`]).
    pub fn is_dirty(&self, conv: &str) -> bool {
        self.ids
            .get(conv)
            .is_some_and(|&k| self.slots[k as usize].in_dirty)
    }

    /// Whether the conversation is in memory.
    pub fn contains(&self, conv: &str) -> bool {
        self.ids.contains_key(conv)
    }

    /// A conversation, to query.
    pub fn conversation(&self, conv: &str) -> Option<&Conversation> {
        self.ids.get(conv).map(|&k| &self.slots[k as usize].conv)
    }

    /// Every conversation in memory.
    pub fn conversations(&self) -> impl Iterator<Item = &Conversation> + '_ {
        self.slots.iter().map(|s| &s.conv)
    }

    /// Records a change of slot `k` (if `before` differs from its counter).
    fn changed(&mut self, k: u32, before: u64) {
        let slot = &mut self.slots[k as usize];
        if slot.conv.changes == before {
            return;
        }
        slot.updates = slot.updates.saturating_add(1);
        if !slot.in_dirty {
            slot.in_dirty = true;
            slot.dirty_since = self.clock.now_ms();
            self.dirty.push(k);
        }
    }

    fn index_members(&mut self, k: u32, from: usize) {
        let conv = &self.slots[k as usize].conv;
        for (i, m) in conv.members.iter().enumerate().skip(from) {
            self.users.entry(m.user).or_default().push((k, i as u32));
        }
    }

    /// Adds a conversation read from a store (or built elsewhere); it
    /// replaces one of the same id.
    pub(crate) fn insert(&mut self, conv: Conversation, version: Option<Version>) -> u32 {
        if let Some(&k) = self.ids.get(conv.id()) {
            // Same id again: merge rather than lose what is in memory.
            let slot = &mut self.slots[k as usize];
            let (before, changes) = (slot.conv.members.len(), slot.conv.changes);
            slot.conv.merge(&conv);
            if version.is_some() {
                slot.version = version;
            }
            self.index_members(k, before);
            self.changed(k, changes);
            return k;
        }
        let k = self.slots.len() as u32;
        self.ids.insert(conv.id().to_string(), k);
        let mut conv = conv;
        conv.policy = self.policy;
        self.slots.push(Slot {
            conv,
            dirty_since: 0,
            updates: 0,
            in_dirty: false,
            version,
            feed: FeedLog::default(),
        });
        self.index_members(k, 0);
        k
    }

    /// Adds a conversation (decoded with [`Conversation::from_bytes`], say).
    /// One of the same id in memory is merged with it: watermarks by
    /// maximum, messages by union.
    pub fn load(&mut self, conv: Conversation) {
        self.insert(conv, None);
    }

    /// Merges a stored copy into slot `k` (a lost compare-and-swap).
    pub(crate) fn merge_stored(&mut self, k: u32, stored: &Conversation, version: Version) {
        let before_members = self.slots[k as usize].conv.members.len();
        let before = self.slots[k as usize].conv.changes;
        let slot = &mut self.slots[k as usize];
        slot.conv.merge(stored);
        slot.version = Some(version);
        self.index_members(k, before_members);
        self.changed(k, before);
    }

    /// Adds `user` to `conv` (created if new), or brings them back after
    /// leaving. Messages up to the newest one now are not theirs to read.
    /// Returns that position. Joining twice changes nothing.
    ///
    /// # Errors
    /// [`Error::InvalidConversation`] for a malformed id;
    /// [`Error::TooManyMembers`] past 2^31 - 2 members.
    pub fn join(&mut self, conv: &str, user: UserId) -> Result<Seq> {
        let k = if let Some(&k) = self.ids.get(conv) {
            k
        } else {
            if !crate::valid_id(conv) {
                return Err(Error::InvalidConversation(conv.to_string()));
            }
            self.insert(Conversation::new(conv, self.policy), None)
        };
        let before = self.slots[k as usize].conv.changes;
        let (i, new) = self.slots[k as usize].conv.join(user)?;
        if new {
            self.users.entry(user).or_default().push((k, i));
        }
        self.changed(k, before);
        Ok(self.slots[k as usize].conv.members[i as usize].join)
    }

    /// Takes `user` out of `conv`: they stop counting for every message.
    /// Leaving twice changes nothing.
    ///
    /// # Errors
    /// [`Error::UnknownConversation`]; [`Error::NotMember`] if the user never joined.
    pub fn leave(&mut self, conv: &str, user: UserId) -> Result<()> {
        self.with(conv, |c| c.leave(user))
    }

    fn with<T>(&mut self, conv: &str, f: impl FnOnce(&mut Conversation) -> Result<T>) -> Result<T> {
        let k = self.slot_index(conv)?;
        let before = self.slots[k as usize].conv.changes;
        let out = f(&mut self.slots[k as usize].conv);
        self.changed(k, before);
        out
    }

    /// Records message `seq` of `conv`, sent by `sender` (an active member),
    /// mentioning `mentions` (members other than the sender; others are
    /// ignored). Sending is reading: the sender's read position moves to
    /// it. Posting the same message again changes nothing; a message may
    /// arrive after later ones (the gap counted as no message meanwhile).
    ///
    /// # Errors
    /// [`Error::UnknownConversation`]; [`Error::NotMember`] for the sender;
    /// [`Error::OutOfRange`] for 0 or a number more than
    /// [`ReceiptsOptions::max_ahead`] past the newest; [`Error::SeqTaken`]
    /// if another sender's message has that number.
    pub fn post(
        &mut self,
        conv: &str,
        seq: Seq,
        sender: UserId,
        mentions: &[UserId],
    ) -> Result<()> {
        self.with(conv, |c| c.post(seq, sender, mentions))
    }

    /// Deletes message `seq` for everyone: it no longer counts as unread
    /// and has no status. Deleting twice, or before the message arrives
    /// here, is fine.
    ///
    /// # Errors
    /// [`Error::UnknownConversation`]; [`Error::NoMessage`] for 0;
    /// [`Error::OutOfRange`] past [`ReceiptsOptions::max_ahead`].
    pub fn delete(&mut self, conv: &str, seq: Seq) -> Result<()> {
        self.with(conv, |c| c.delete(seq))
    }

    /// Applies a receipt: `user` has `kind` up to `seq`. Watermarks only
    /// rise: a stale or reordered receipt changes nothing. Returns whether a
    /// watermark moved. The hot path: a few hash lookups and compares.
    ///
    /// # Errors
    /// [`Error::UnknownConversation`]; [`Error::NotMember`] (not in the
    /// conversation now); [`Error::OutOfRange`] past [`ReceiptsOptions::max_ahead`].
    pub fn receipt(
        &mut self,
        conv: &str,
        user: UserId,
        kind: ReceiptKind,
        seq: Seq,
    ) -> Result<bool> {
        let k = self.slot_index(conv)?;
        let slot = &mut self.slots[k as usize];
        let before = slot.conv.changes;
        let moved = slot.conv.receipt(user, kind, seq, None)?;
        self.changed(k, before);
        Ok(moved)
    }

    /// [`Receipts::receipt`] with [`ReceiptKind::Delivered`].
    ///
    /// # Errors
    /// As [`Receipts::receipt`].
    pub fn delivered(&mut self, conv: &str, user: UserId, seq: Seq) -> Result<bool> {
        self.receipt(conv, user, ReceiptKind::Delivered, seq)
    }

    /// [`Receipts::receipt`] with [`ReceiptKind::Read`].
    ///
    /// # Errors
    /// As [`Receipts::receipt`].
    pub fn read(&mut self, conv: &str, user: UserId, seq: Seq) -> Result<bool> {
        self.receipt(conv, user, ReceiptKind::Read, seq)
    }

    /// [`Receipts::receipt`] with [`ReceiptKind::ReadPrivate`].
    ///
    /// # Errors
    /// As [`Receipts::receipt`].
    pub fn read_private(&mut self, conv: &str, user: UserId, seq: Seq) -> Result<bool> {
        self.receipt(conv, user, ReceiptKind::ReadPrivate, seq)
    }

    /// Delivery to one of the user's devices; the user's delivered
    /// watermark follows [`ReceiptsOptions::device_policy`]. A removed
    /// device's receipts are ignored.
    ///
    /// # Errors
    /// As [`Receipts::receipt`].
    pub fn delivered_to_device(
        &mut self,
        conv: &str,
        user: UserId,
        device: DeviceId,
        seq: Seq,
    ) -> Result<bool> {
        self.with(conv, |c| {
            c.receipt(user, ReceiptKind::Delivered, seq, Some(device))
        })
    }

    /// Stops counting a device for [`crate::DevicePolicy::All`] (it never
    /// counts again). Returns whether it was there.
    ///
    /// # Errors
    /// [`Error::UnknownConversation`]; [`Error::NotMember`].
    pub fn remove_device(&mut self, conv: &str, user: UserId, device: DeviceId) -> Result<bool> {
        self.with(conv, |c| c.remove_device(user, device))
    }

    /// Sets whether `user`'s read receipts are shown in `conv`. Reads made
    /// while hidden stay unshown; the next public read shows its position.
    ///
    /// # Errors
    /// [`Error::UnknownConversation`]; [`Error::NotMember`].
    pub fn set_privacy(&mut self, conv: &str, user: UserId, privacy: Privacy) -> Result<()> {
        self.with(conv, |c| c.set_privacy(user, privacy))
    }

    /// Reads everything in `conv` (up to the newest message).
    ///
    /// # Errors
    /// As [`Receipts::receipt`].
    pub fn mark_read(&mut self, conv: &str, user: UserId) -> Result<bool> {
        self.with(conv, |c| c.mark_read(user))
    }

    /// Reads everything in every conversation `user` is in. Returns how
    /// many conversations moved.
    pub fn mark_all_read(&mut self, user: UserId) -> u32 {
        let Some(list) = self.users.get(&user) else {
            return 0;
        };
        let mut moved = 0;
        for (k, i) in list.clone() {
            let before = self.slots[k as usize].conv.changes;
            let conv = &mut self.slots[k as usize].conv;
            if conv.members[i as usize].active() && conv.mark_read(user).unwrap_or(false) {
                moved += 1;
            }
            self.changed(k, before);
        }
        moved
    }

    /// "Mark unread from here": messages from `from` on count as unread
    /// for `user` again (their receipts shown to others stay where they
    /// are: receipts never go back). Reading again moves the marker.
    ///
    /// # Errors
    /// [`Error::UnknownConversation`]; [`Error::NotMember`].
    pub fn mark_unread(&mut self, conv: &str, user: UserId, from: Seq) -> Result<()> {
        self.with(conv, |c| c.mark_unread(user, from))
    }

    /// Folds every pending watermark move into the indexes of every
    /// conversation (queries are exact without it; this makes them fast).
    /// Returns the member moves folded.
    pub fn drain(&mut self) -> usize {
        self.slots.iter_mut().map(|s| s.conv.drain()).sum()
    }

    /// The status of message `seq` in `conv` as `viewer` sees it (see
    /// [`Conversation::status`]); folds the conversation's pending moves first.
    ///
    /// # Errors
    /// [`Error::UnknownConversation`]; as [`Conversation::status`].
    pub fn status(&mut self, conv: &str, seq: Seq, viewer: UserId) -> Result<MessageStatus> {
        let k = self.slot_index(conv)?;
        let c = &mut self.slots[k as usize].conv;
        c.drain();
        c.status(seq, viewer)
    }

    /// Who message `seq` was delivered to or read by (see [`Conversation::list`]).
    ///
    /// # Errors
    /// [`Error::UnknownConversation`]; as [`Conversation::list`].
    pub fn list(
        &mut self,
        conv: &str,
        seq: Seq,
        viewer: UserId,
        kind: ListKind,
        limit: usize,
    ) -> Result<Vec<UserId>> {
        let k = self.slot_index(conv)?;
        let c = &mut self.slots[k as usize].conv;
        c.drain();
        c.list(seq, viewer, kind, limit)
    }

    /// `user`'s unread counts in `conv`.
    ///
    /// # Errors
    /// [`Error::UnknownConversation`].
    pub fn unread(&self, conv: &str, user: UserId) -> Result<Unread> {
        let k = self.slot_index(conv)?;
        Ok(self.slots[k as usize].conv.unread(user))
    }

    /// `user`'s badge: unread messages and mentions over every conversation
    /// they are in (of those in memory). `O(c log n)` for `c` conversations.
    pub fn badge(&self, user: UserId) -> Badge {
        let mut b = Badge::default();
        if let Some(list) = self.users.get(&user) {
            for &(k, i) in list {
                let u = self.slots[k as usize].conv.unread_of(i);
                b.messages += u.messages;
                b.mentions += u.mentions;
                b.conversations += u32::from(u.messages > 0);
            }
        }
        b
    }

    /// `user`'s unread counts per conversation, for those with any.
    pub fn unread_all(&self, user: UserId) -> Vec<(&str, Unread)> {
        let mut out = Vec::new();
        if let Some(list) = self.users.get(&user) {
            for &(k, i) in list {
                let c = &self.slots[k as usize].conv;
                let u = c.unread_of(i);
                if u.messages > 0 {
                    out.push((c.id(), u));
                }
            }
        }
        out
    }

    /// The conversations `user` ever joined (in memory).
    pub fn conversations_of(&self, user: UserId) -> Vec<&str> {
        self.users.get(&user).map_or_else(Vec::new, |l| {
            l.iter()
                .map(|&(k, _)| self.slots[k as usize].conv.id())
                .collect()
        })
    }

    /// The write-coalescing layer's memory, computed from capacities.
    pub fn memory(&self) -> MemoryStats {
        let mut m = MemoryStats {
            conversations: self.slots.len(),
            ..MemoryStats::default()
        };
        for s in &self.slots {
            m.pairs += s.conv.members.len();
            m.aggregator_bytes += s.conv.aggregator_bytes() + 13;
            m.lagging += s.conv.queue.len();
            m.dirty += usize::from(s.in_dirty);
        }
        m.aggregator_bytes += self.dirty.capacity() * 4;
        m
    }

    /// Conversations with unwritten changes whose interval has passed (or
    /// all with `all`), or with [`ReceiptsOptions::flush_max_updates`] waiting.
    pub(crate) fn due(&mut self, now: u64, all: bool) -> Vec<String> {
        let slots = &self.slots;
        self.dirty.retain(|&k| slots[k as usize].in_dirty);
        let interval = self.options.flush_interval_ms;
        let max = self.options.flush_max_updates;
        self.dirty
            .iter()
            .map(|&k| &self.slots[k as usize])
            .filter(|s| all || s.updates >= max || now.saturating_sub(s.dirty_since) >= interval)
            .map(|s| s.conv.id().to_string())
            .collect()
    }

    /// Whether `conv` must be written now (write-through, or its size trigger).
    pub(crate) fn must_flush(&self, k: u32) -> bool {
        let s = &self.slots[k as usize];
        s.in_dirty
            && (self.options.flush_interval_ms == 0 || s.updates >= self.options.flush_max_updates)
    }

    /// Records a completed write of `changes` at `version`.
    pub(crate) fn flushed(&mut self, k: u32, changes: u64, version: Version) {
        let now = self.clock.now_ms();
        let s = &mut self.slots[k as usize];
        s.version = Some(version);
        if s.conv.changes == changes {
            s.in_dirty = false;
            s.updates = 0;
        } else {
            // Changes came while writing: they wait for the next write.
            s.dirty_since = now;
            s.updates = 1;
        }
    }
}
