//! One conversation's receipt state: the member table with each member's
//! watermarks, the message log (who sent what, what is gone, who is
//! mentioned), and the order-statistic indexes that answer "read by N of M"
//! without walking the members.

use crate::fenwick::Fenwick;
use crate::{DeviceId, DevicePolicy, Error, Privacy, ReceiptsOptions, Result, Seq, UserId};
use foldhash::HashMap;
use std::collections::{BTreeMap, BTreeSet};

/// A sender entry of the message log: `0` no message (yet), else the
/// sender's member index + 1; [`DELETED`] is or-ed in when deleted.
pub(crate) const DELETED: u32 = 1 << 31;
/// The sender bits of an entry.
pub(crate) const SENDER: u32 = DELETED - 1;
/// The most members a conversation holds (member indices are 31 bits).
pub(crate) const MAX_MEMBERS: usize = (SENDER - 1) as usize;
/// Conversations with at most this many member slots index every
/// watermark move at once (a 1:1 chat has nothing to coalesce in its
/// indexes, and no queue to pay for).
const SMALL: usize = 8;

/// A watermark update: what a client reports for a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReceiptKind {
    /// Messages up to the sequence number reached the user (or the device).
    Delivered,
    /// The user read up to the sequence number; shown to others unless the
    /// user hides read receipts ([`Privacy::Hidden`]).
    Read,
    /// A private read receipt (Matrix `m.read.private`): moves the user's
    /// own read position, synced to their devices, never shown to others.
    ReadPrivate,
}

/// The sender's view of one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessageState {
    /// Not yet delivered to every recipient (one grey tick).
    Sent,
    /// Delivered to every recipient (two grey ticks).
    Delivered,
    /// Read by every recipient (two blue ticks).
    Read,
}

/// Counts for one message as its sender (or any viewer) sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageStatus {
    /// The message.
    pub seq: Seq,
    /// Its sender.
    pub sender: UserId,
    /// Active members who were in the conversation when it was posted,
    /// the sender excepted: "of M".
    pub recipients: u32,
    /// Recipients it was delivered to (read implies delivered).
    pub delivered: u32,
    /// Recipients who read it and show it; `None` when the viewer may not
    /// see read receipts (they hide their own under
    /// [`ReceiptsOptions::reciprocal`]).
    pub read: Option<u32>,
    /// Sent, delivered to all, or read by all (1:1: the other member).
    pub state: MessageState,
}

/// Unread counts of one member in one conversation, or summed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unread {
    /// Messages after the member's read position, own and deleted ones excepted.
    pub messages: u64,
    /// Of those, the ones that mention the member.
    pub mentions: u64,
}

/// Which receipt list to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ListKind {
    /// Recipients the message was delivered to (including those who read it).
    Delivered,
    /// Recipients who read it (publicly).
    Read,
}

/// One member's state as the member's own devices see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MemberView {
    /// The user.
    pub user: UserId,
    /// Whether the user is in the conversation now.
    pub active: bool,
    /// The newest message when the user (last) joined; earlier messages
    /// are not theirs to read.
    pub joined_at: Seq,
    /// Delivered watermark.
    pub delivered: Seq,
    /// The user's own read position (public and private receipts).
    pub read: Seq,
    /// What others see of it.
    pub read_public: Seq,
    /// "Mark unread from here": messages from this one on count as unread.
    pub unread_from: Option<Seq>,
    /// The user's read-receipt setting in this conversation.
    pub privacy: Privacy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Device {
    pub(crate) id: DeviceId,
    pub(crate) delivered: Seq,
    pub(crate) removed: bool,
}

/// A member slot. Watermarks always hold `join <= read_public <= read <=
/// delivered`. The two `lag_*` fields are the write-coalescing layer: how
/// far the index (Fenwick trees, sorted sets) trails the watermark.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub(crate) user: UserId,
    pub(crate) join: Seq,
    pub(crate) read_public: Seq,
    pub(crate) read: Seq,
    pub(crate) delivered: Seq,
    /// 0: none; else messages `>= unread_from` count as unread.
    pub(crate) unread_from: Seq,
    /// Odd: active. Incremented by every join and leave.
    pub(crate) epoch: u32,
    /// Incremented by every settings change (privacy, mark unread):
    /// the newer setting wins a merge.
    pub(crate) settings: u32,
    pub(crate) lag_read: u16,
    pub(crate) lag_delivered: u16,
    pub(crate) privacy: Privacy,
    /// In `Conversation::queue` (index lags).
    pub(crate) queued: bool,
    /// In `Conversation::touched_users` (own position moved, for the feed).
    pub(crate) touched: bool,
    /// Own messages that are not gone, ascending.
    pub(crate) own: Vec<Seq>,
    /// Messages that mention the member and are not gone, ascending.
    pub(crate) mentioned: Vec<Seq>,
    pub(crate) devices: Vec<Device>,
}

impl Member {
    pub(crate) fn new(user: UserId) -> Self {
        Member {
            user,
            join: 0,
            read_public: 0,
            read: 0,
            delivered: 0,
            unread_from: 0,
            epoch: 0,
            settings: 0,
            lag_read: 0,
            lag_delivered: 0,
            privacy: Privacy::Public,
            queued: false,
            touched: false,
            own: Vec::new(),
            mentioned: Vec::new(),
            devices: Vec::new(),
        }
    }

    pub(crate) fn active(&self) -> bool {
        self.epoch & 1 == 1
    }

    /// The position unread counts start after.
    fn effective_read(&self) -> Seq {
        if self.unread_from == 0 {
            self.read
        } else {
            self.read.min(self.unread_from - 1)
        }
    }

    /// What the device policy says was delivered to the user (0 without devices).
    fn device_delivered(&self, policy: DevicePolicy) -> Seq {
        let live = self
            .devices
            .iter()
            .filter(|d| !d.removed)
            .map(|d| d.delivered);
        match policy {
            DevicePolicy::Any => live.max().unwrap_or(0),
            DevicePolicy::All => live.min().unwrap_or(0),
        }
    }
}

/// The options a conversation's logic depends on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Policy {
    pub(crate) devices: DevicePolicy,
    pub(crate) reciprocal: bool,
    pub(crate) read_list_limit: Option<u32>,
    pub(crate) max_ahead: u64,
}

impl Policy {
    pub(crate) fn of(o: &ReceiptsOptions) -> Self {
        Policy {
            devices: o.device_policy,
            reciprocal: o.reciprocal,
            read_list_limit: o.read_list_limit,
            max_ahead: o.max_ahead,
        }
    }
}

/// One conversation's receipts: members, watermarks, the message log and
/// the indexes. Built and changed through [`crate::Receipts`]; read here.
///
/// Every query is exact at any time: index entries that trail a watermark
/// (updates not yet folded into the indexes) are corrected for.
#[derive(Clone, Debug)]
pub struct Conversation {
    pub(crate) id: String,
    pub(crate) policy: Policy,
    pub(crate) members: Vec<Member>,
    pub(crate) index: HashMap<UserId, u32>,
    /// The highest sequence number in the log (posted, or a gap before one).
    pub(crate) last: Seq,
    /// `senders[seq - 1]`, see [`DELETED`].
    pub(crate) senders: Vec<u32>,
    /// Sequence numbers `<= last` with no message or a deleted one, ascending.
    pub(crate) gone: Vec<Seq>,
    /// Who each (present) message mentions, by member index.
    pub(crate) mentions: BTreeMap<Seq, Vec<u32>>,
    pub(crate) active: u32,
    /// Active members by indexed delivered watermark, public read
    /// watermark and join position.
    pub(crate) fw_delivered: Fenwick,
    pub(crate) fw_read: Fenwick,
    pub(crate) fw_join: Fenwick,
    pub(crate) by_delivered: BTreeSet<(Seq, u32)>,
    pub(crate) by_read: BTreeSet<(Seq, u32)>,
    /// Members whose index entries trail their watermarks.
    pub(crate) queue: Vec<u32>,
    /// Messages whose counts may have changed since the feed last looked.
    pub(crate) touched_lo: Seq,
    pub(crate) touched_hi: Seq,
    /// Members whose own read position moved since the feed last looked.
    pub(crate) touched_users: Vec<u32>,
    /// Effective changes so far (a flush remembers the count it wrote).
    pub(crate) changes: u64,
}

impl Conversation {
    pub(crate) fn new(id: &str, policy: Policy) -> Self {
        Conversation {
            id: id.to_string(),
            policy,
            members: Vec::new(),
            index: HashMap::default(),
            last: 0,
            senders: Vec::new(),
            gone: Vec::new(),
            mentions: BTreeMap::new(),
            active: 0,
            fw_delivered: Fenwick::default(),
            fw_read: Fenwick::default(),
            fw_join: Fenwick::default(),
            by_delivered: BTreeSet::new(),
            by_read: BTreeSet::new(),
            queue: Vec::new(),
            touched_lo: Seq::MAX,
            touched_hi: 0,
            touched_users: Vec::new(),
            changes: 0,
        }
    }

    /// The conversation's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The newest sequence number (0 before the first message).
    pub fn last_seq(&self) -> Seq {
        self.last
    }

    /// Active members.
    pub fn member_count(&self) -> u32 {
        self.active
    }

    /// Every user that ever joined, active or not, in join order.
    pub fn users(&self) -> impl Iterator<Item = UserId> + '_ {
        self.members.iter().map(|m| m.user)
    }

    /// Messages that exist (posted and not deleted).
    pub fn message_count(&self) -> u64 {
        self.last - self.gone.len() as u64
    }

    fn active_index(&self, user: UserId) -> Result<u32> {
        match self.index.get(&user) {
            Some(&i) if self.members[i as usize].active() => Ok(i),
            _ => Err(Error::NotMember {
                conversation: self.id.clone(),
                user,
            }),
        }
    }

    fn check_ahead(&self, seq: Seq) -> Result<()> {
        if seq > self.last.saturating_add(self.policy.max_ahead) {
            return Err(Error::OutOfRange {
                seq,
                last: self.last,
                max_ahead: self.policy.max_ahead,
            });
        }
        Ok(())
    }

    fn touch(&mut self, from: Seq, to: Seq) {
        let to = to.min(self.last);
        if from <= to {
            self.touched_lo = self.touched_lo.min(from);
            self.touched_hi = self.touched_hi.max(to);
        }
    }

    fn touch_user(&mut self, i: u32) {
        let m = &mut self.members[i as usize];
        if !m.touched {
            m.touched = true;
            self.touched_users.push(i);
        }
    }

    // ---- index maintenance ------------------------------------------------

    fn index_insert(&mut self, i: u32) {
        let m = &self.members[i as usize];
        let (j, r, d) = (m.join, m.read_public, m.delivered);
        self.fw_join.inc(j);
        self.fw_read.inc(r);
        self.fw_delivered.inc(d);
        self.by_read.insert((r, i));
        self.by_delivered.insert((d, i));
        self.active += 1;
    }

    fn index_remove(&mut self, i: u32) {
        let m = &mut self.members[i as usize];
        let (j, r, d) = (
            m.join,
            m.read_public - Seq::from(m.lag_read),
            m.delivered - Seq::from(m.lag_delivered),
        );
        m.lag_read = 0;
        m.lag_delivered = 0;
        self.fw_join.dec(j);
        self.fw_read.dec(r);
        self.fw_delivered.dec(d);
        self.by_read.remove(&(r, i));
        self.by_delivered.remove(&(d, i));
        self.active -= 1;
    }

    /// Folds one member's lag into the indexes.
    fn settle(&mut self, i: u32) {
        let m = &mut self.members[i as usize];
        m.queued = false;
        if !m.active() {
            m.lag_read = 0;
            m.lag_delivered = 0;
            return;
        }
        let (lr, ld) = (m.lag_read, m.lag_delivered);
        let (r, d) = (m.read_public, m.delivered);
        m.lag_read = 0;
        m.lag_delivered = 0;
        if lr > 0 {
            let old = r - Seq::from(lr);
            self.fw_read.dec(old);
            self.fw_read.inc(r);
            self.by_read.remove(&(old, i));
            self.by_read.insert((r, i));
        }
        if ld > 0 {
            let old = d - Seq::from(ld);
            self.fw_delivered.dec(old);
            self.fw_delivered.inc(d);
            self.by_delivered.remove(&(old, i));
            self.by_delivered.insert((d, i));
        }
    }

    /// Folds every pending watermark move into the indexes (what a query
    /// would otherwise correct for). Returns the members settled.
    pub(crate) fn drain(&mut self) -> usize {
        let queue = std::mem::take(&mut self.queue);
        let n = queue.len();
        for &i in &queue {
            self.settle(i);
        }
        // Keep the allocation: the next burst reuses it.
        self.queue = queue;
        self.queue.clear();
        n
    }

    /// Moves member `i`'s watermarks up to the given values (each only
    /// ever rises), recording how far the indexes now trail.
    fn raise(&mut self, i: u32, read_public: Seq, read: Seq, delivered: Seq) -> bool {
        let m = &mut self.members[i as usize];
        let (old_rp, old_r, old_d) = (m.read_public, m.read, m.delivered);
        let rp = old_rp.max(read_public);
        let r = old_r.max(read).max(rp);
        let d = old_d.max(delivered).max(r);
        if rp == old_rp && r == old_r && d == old_d {
            return false;
        }
        m.read_public = rp;
        m.read = r;
        m.delivered = d;
        if m.active() {
            let lr = Seq::from(m.lag_read) + (rp - old_rp);
            let ld = Seq::from(m.lag_delivered) + (d - old_d);
            if self.members.len() <= SMALL || lr > Seq::from(u16::MAX) || ld > Seq::from(u16::MAX) {
                // A small conversation, or a jump too long to hold: index it now.
                self.settle_exact(i, rp - lr, d - ld);
            } else {
                let m = &mut self.members[i as usize];
                m.lag_read = lr as u16;
                m.lag_delivered = ld as u16;
                if (lr > 0 || ld > 0) && !m.queued {
                    m.queued = true;
                    self.queue.push(i);
                }
            }
            if rp > old_rp {
                self.touch(old_rp + 1, rp);
            }
            if d > old_d {
                self.touch(old_d + 1, d);
            }
        }
        if r > old_r {
            self.touch_user(i);
        }
        true
    }

    /// Re-indexes member `i` from the given old indexed values.
    fn settle_exact(&mut self, i: u32, old_r: Seq, old_d: Seq) {
        let m = &mut self.members[i as usize];
        let (r, d) = (m.read_public, m.delivered);
        m.lag_read = 0;
        m.lag_delivered = 0;
        if r != old_r {
            self.fw_read.dec(old_r);
            self.fw_read.inc(r);
            self.by_read.remove(&(old_r, i));
            self.by_read.insert((r, i));
        }
        if d != old_d {
            self.fw_delivered.dec(old_d);
            self.fw_delivered.inc(d);
            self.by_delivered.remove(&(old_d, i));
            self.by_delivered.insert((d, i));
        }
    }

    // ---- changes ----------------------------------------------------------

    /// Adds `user` (or brings them back). Returns their member index and
    /// whether the slot is new.
    pub(crate) fn join(&mut self, user: UserId) -> Result<(u32, bool)> {
        let (i, new) = if let Some(&i) = self.index.get(&user) {
            (i, false)
        } else {
            if self.members.len() >= MAX_MEMBERS {
                return Err(Error::TooManyMembers(self.id.clone()));
            }
            let i = self.members.len() as u32;
            if self.members.len() < 2 * SMALL {
                // Small tables grow one slot at a time: no spare slots.
                self.members.reserve_exact(1);
            }
            self.members.push(Member::new(user));
            self.index.insert(user, i);
            (i, true)
        };
        let last = self.last;
        let m = &mut self.members[i as usize];
        if m.active() {
            return Ok((i, new));
        }
        m.epoch += 1;
        m.join = last;
        m.read_public = m.read_public.max(last);
        m.read = m.read.max(last);
        m.delivered = m.delivered.max(last);
        m.unread_from = 0;
        m.lag_read = 0;
        m.lag_delivered = 0;
        self.index_insert(i);
        self.touch_user(i);
        self.changes += 1;
        Ok((i, new))
    }

    pub(crate) fn leave(&mut self, user: UserId) -> Result<()> {
        let Some(&i) = self.index.get(&user) else {
            return Err(Error::NotMember {
                conversation: self.id.clone(),
                user,
            });
        };
        if !self.members[i as usize].active() {
            return Ok(());
        }
        self.index_remove(i);
        let m = &mut self.members[i as usize];
        m.epoch += 1;
        let join = m.join;
        self.touch(join + 1, self.last);
        self.changes += 1;
        Ok(())
    }

    fn extend_to(&mut self, seq: Seq) {
        while self.last < seq {
            self.last += 1;
            self.senders.push(0);
            self.gone.push(self.last);
        }
    }

    /// Removes `seq` from a sorted vector if there.
    fn remove_sorted(v: &mut Vec<Seq>, seq: Seq) {
        if let Ok(p) = v.binary_search(&seq) {
            v.remove(p);
        }
    }

    fn insert_sorted(v: &mut Vec<Seq>, seq: Seq) {
        match v.last() {
            Some(&l) if l >= seq => {
                if let Err(p) = v.binary_search(&seq) {
                    v.insert(p, seq);
                }
            }
            _ => v.push(seq),
        }
    }

    pub(crate) fn post(&mut self, seq: Seq, sender: UserId, mentions: &[UserId]) -> Result<()> {
        if seq == 0 {
            return Err(Error::OutOfRange {
                seq,
                last: self.last,
                max_ahead: self.policy.max_ahead,
            });
        }
        self.check_ahead(seq)?;
        let s = self.active_index(sender)?;
        if seq <= self.last {
            let entry = self.senders[(seq - 1) as usize];
            let known = entry & SENDER;
            if known != 0 {
                if known == s + 1 {
                    return Ok(()); // the same message again
                }
                return Err(Error::SeqTaken {
                    conversation: self.id.clone(),
                    seq,
                });
            }
            self.senders[(seq - 1) as usize] = entry | (s + 1);
            if entry & DELETED != 0 {
                // Deleted before it arrived here: it stays gone, but
                // sending is still reading.
                self.apply(s, ReceiptKind::Read, seq, None);
                self.changes += 1;
                return Ok(());
            }
            Self::remove_sorted(&mut self.gone, seq);
            Self::insert_sorted(&mut self.members[s as usize].own, seq);
        } else {
            self.extend_to(seq - 1);
            self.last = seq;
            self.senders.push(s + 1);
            self.members[s as usize].own.push(seq);
        }
        let mut idxs = Vec::new();
        for &u in mentions {
            if let Some(&i) = self.index.get(&u)
                && i != s
                && self.members[i as usize].active()
                && !idxs.contains(&i)
            {
                idxs.push(i);
                Self::insert_sorted(&mut self.members[i as usize].mentioned, seq);
                self.touch_user(i);
            }
        }
        if !idxs.is_empty() {
            idxs.sort_unstable();
            self.mentions.insert(seq, idxs);
        }
        // Sending is reading: the sender's read position moves to the
        // message (shown to others unless they hide read receipts).
        self.apply(s, ReceiptKind::Read, seq, None);
        self.touch(seq, seq);
        self.changes += 1;
        Ok(())
    }

    pub(crate) fn delete(&mut self, seq: Seq) -> Result<()> {
        if seq == 0 {
            return Err(Error::NoMessage {
                conversation: self.id.clone(),
                seq,
            });
        }
        self.check_ahead(seq)?;
        self.extend_to(seq);
        let entry = self.senders[(seq - 1) as usize];
        if entry & DELETED != 0 {
            return Ok(());
        }
        self.senders[(seq - 1) as usize] = entry | DELETED;
        let sender = entry & SENDER;
        if sender != 0 {
            Self::remove_sorted(&mut self.members[(sender - 1) as usize].own, seq);
            if let Some(idxs) = self.mentions.remove(&seq) {
                for i in idxs {
                    Self::remove_sorted(&mut self.members[i as usize].mentioned, seq);
                    self.touch_user(i);
                }
            }
            Self::insert_sorted(&mut self.gone, seq);
        }
        self.changes += 1;
        Ok(())
    }

    pub(crate) fn receipt(
        &mut self,
        user: UserId,
        kind: ReceiptKind,
        seq: Seq,
        device: Option<DeviceId>,
    ) -> Result<bool> {
        let i = self.active_index(user)?;
        self.check_ahead(seq)?;
        Ok(self.apply(i, kind, seq, device))
    }

    /// Applies a receipt of active member `i`; whether a watermark moved.
    fn apply(&mut self, i: u32, kind: ReceiptKind, seq: Seq, device: Option<DeviceId>) -> bool {
        let policy = self.policy.devices;
        let m = &mut self.members[i as usize];
        let moved = match kind {
            ReceiptKind::Delivered => {
                let target = match device {
                    None => seq,
                    Some(id) => {
                        let floor = m.delivered;
                        match m.devices.binary_search_by_key(&id, |d| d.id) {
                            Ok(p) if m.devices[p].removed => return false,
                            Ok(p) => m.devices[p].delivered = m.devices[p].delivered.max(seq),
                            Err(p) => m.devices.insert(
                                p,
                                Device {
                                    id,
                                    delivered: floor.max(seq),
                                    removed: false,
                                },
                            ),
                        }
                        m.device_delivered(policy)
                    }
                };
                self.raise(i, 0, 0, target)
            }
            ReceiptKind::Read => {
                let public = if m.privacy == Privacy::Public { seq } else { 0 };
                self.raise(i, public, seq, seq)
            }
            ReceiptKind::ReadPrivate => self.raise(i, 0, seq, seq),
        };
        let mut marker = false;
        if kind != ReceiptKind::Delivered {
            let m = &mut self.members[i as usize];
            if m.unread_from != 0 && seq >= m.unread_from {
                m.unread_from = if seq + 1 > m.read { 0 } else { seq + 1 };
                marker = true;
                self.touch_user(i);
            }
        }
        if moved || marker {
            self.changes += 1;
        }
        moved
    }

    pub(crate) fn remove_device(&mut self, user: UserId, device: DeviceId) -> Result<bool> {
        let i = self.active_index(user)?;
        let policy = self.policy.devices;
        let m = &mut self.members[i as usize];
        let Some(d) = m.devices.iter_mut().find(|d| d.id == device && !d.removed) else {
            return Ok(false);
        };
        d.removed = true;
        let target = m.device_delivered(policy);
        self.raise(i, 0, 0, target);
        self.changes += 1;
        Ok(true)
    }

    pub(crate) fn set_privacy(&mut self, user: UserId, privacy: Privacy) -> Result<()> {
        let i = self.active_index(user)?;
        let m = &mut self.members[i as usize];
        if m.privacy != privacy {
            m.privacy = privacy;
            m.settings += 1;
            self.changes += 1;
        }
        Ok(())
    }

    pub(crate) fn mark_read(&mut self, user: UserId) -> Result<bool> {
        let last = self.last;
        self.receipt(user, ReceiptKind::Read, last, None)
    }

    pub(crate) fn mark_unread(&mut self, user: UserId, from: Seq) -> Result<()> {
        let i = self.active_index(user)?;
        let m = &mut self.members[i as usize];
        // Before the join there is nothing of theirs; past the read
        // position everything is unread already.
        let from = from.max(m.join + 1);
        if from > m.read {
            return Ok(());
        }
        m.unread_from = from;
        m.settings += 1;
        self.touch_user(i);
        self.changes += 1;
        Ok(())
    }

    // ---- queries ----------------------------------------------------------

    /// The sender's member index of a present message.
    fn present_sender(&self, seq: Seq) -> Result<u32> {
        if seq == 0 || seq > self.last {
            return Err(self.no_message(seq));
        }
        let e = self.senders[(seq - 1) as usize];
        if e & DELETED != 0 || e & SENDER == 0 {
            return Err(self.no_message(seq));
        }
        Ok((e & SENDER) - 1)
    }

    fn no_message(&self, seq: Seq) -> Error {
        Error::NoMessage {
            conversation: self.id.clone(),
            seq,
        }
    }

    /// Whether the viewer may see read receipts here.
    pub(crate) fn sees_reads(&self, viewer: UserId) -> bool {
        !(self.policy.reciprocal
            && self
                .index
                .get(&viewer)
                .is_some_and(|&i| self.members[i as usize].privacy == Privacy::Hidden))
    }

    /// `(recipients, delivered, read)` of a present message sent by member `s`.
    pub(crate) fn counts(&self, seq: Seq, s: u32) -> (u32, u32, u32) {
        let late = self.active - self.fw_join.below(seq);
        let mut read = self.active - self.fw_read.below(seq) - late;
        let mut delivered = self.active - self.fw_delivered.below(seq) - late;
        let mut present = self.active - late;
        // Entries that trail their watermarks: count them where they are.
        for &i in &self.queue {
            let m = &self.members[i as usize];
            if !m.active() || m.join >= seq {
                continue;
            }
            let r0 = m.read_public - Seq::from(m.lag_read);
            if r0 < seq && m.read_public >= seq {
                read += 1;
            }
            let d0 = m.delivered - Seq::from(m.lag_delivered);
            if d0 < seq && m.delivered >= seq {
                delivered += 1;
            }
        }
        let sm = &self.members[s as usize];
        if sm.active() && sm.join < seq {
            present -= 1;
            read -= u32::from(sm.read_public >= seq);
            delivered -= u32::from(sm.delivered >= seq);
        }
        (present, delivered, read)
    }

    /// The status of message `seq` as `viewer` sees it: "delivered to 12,
    /// read by 9 of 14". Members who joined after the message and members
    /// who left do not count, nor does the sender. `O(log n)` (plus the
    /// members whose updates are not yet folded into the indexes).
    ///
    /// # Errors
    /// [`Error::NoMessage`] if there is no such message (never posted here,
    /// or deleted).
    pub fn status(&self, seq: Seq, viewer: UserId) -> Result<MessageStatus> {
        let s = self.present_sender(seq)?;
        let (recipients, delivered, read) = self.counts(seq, s);
        let read = self.sees_reads(viewer).then_some(read);
        let state = if recipients > 0 && read == Some(recipients) {
            MessageState::Read
        } else if recipients > 0 && delivered == recipients {
            MessageState::Delivered
        } else {
            MessageState::Sent
        };
        Ok(MessageStatus {
            seq,
            sender: self.members[s as usize].user,
            recipients,
            delivered,
            read,
            state,
        })
    }

    /// Who message `seq` was delivered to, or who read it ("read by: ..."),
    /// at most `limit`, ordered by how far each has got (least first), then
    /// join order. Walks only the members at or past the message in the
    /// index (those who joined after it are skipped there), never the whole
    /// member table.
    ///
    /// # Errors
    /// [`Error::NoMessage`] as [`Conversation::status`]; [`Error::Hidden`]
    /// for a read list above [`ReceiptsOptions::read_list_limit`] members,
    /// or asked for by a viewer who hides their own read receipts under
    /// [`ReceiptsOptions::reciprocal`].
    pub fn list(
        &self,
        seq: Seq,
        viewer: UserId,
        kind: ListKind,
        limit: usize,
    ) -> Result<Vec<UserId>> {
        let s = self.present_sender(seq)?;
        if kind == ListKind::Read {
            if self.policy.read_list_limit.is_some_and(|l| self.active > l) {
                return Err(Error::Hidden {
                    what: "read",
                    reason: "the group is larger than the read-list limit",
                });
            }
            if !self.sees_reads(viewer) {
                return Err(Error::Hidden {
                    what: "read",
                    reason: "the viewer hides their own read receipts",
                });
            }
        }
        let set = match kind {
            ListKind::Delivered => &self.by_delivered,
            ListKind::Read => &self.by_read,
        };
        let mut out: Vec<(Seq, u32)> = Vec::new();
        for &(v, i) in set.range((seq, 0)..) {
            if out.len() >= limit {
                break;
            }
            if i != s && self.members[i as usize].join < seq {
                out.push((v, i));
            }
        }
        let before = out.len();
        for &i in &self.queue {
            let m = &self.members[i as usize];
            if i == s || !m.active() || m.join >= seq {
                continue;
            }
            let (now, lag) = match kind {
                ListKind::Delivered => (m.delivered, m.lag_delivered),
                ListKind::Read => (m.read_public, m.lag_read),
            };
            if now - Seq::from(lag) < seq && now >= seq {
                out.push((now, i));
            }
        }
        if out.len() > before {
            out.sort_unstable();
            out.truncate(limit);
        }
        Ok(out
            .into_iter()
            .map(|(_, i)| self.members[i as usize].user)
            .collect())
    }

    /// Unread messages and mentions of `user` here (zero when not a member).
    pub fn unread(&self, user: UserId) -> Unread {
        match self.index.get(&user) {
            Some(&i) => self.unread_of(i),
            None => Unread::default(),
        }
    }

    pub(crate) fn unread_of(&self, i: u32) -> Unread {
        let m = &self.members[i as usize];
        if !m.active() {
            return Unread::default();
        }
        let e = m.effective_read();
        if e >= self.last {
            return Unread::default();
        }
        let after = |v: &[Seq]| match v.last() {
            Some(&l) if l > e => (v.len() - v.partition_point(|&x| x <= e)) as u64,
            _ => 0,
        };
        Unread {
            messages: self.last - e - after(&self.gone) - after(&m.own),
            mentions: after(&m.mentioned),
        }
    }

    /// A member's own view of their state, `None` if they never joined.
    pub fn member(&self, user: UserId) -> Option<MemberView> {
        let &i = self.index.get(&user)?;
        let m = &self.members[i as usize];
        Some(MemberView {
            user,
            active: m.active(),
            joined_at: m.join,
            delivered: m.delivered,
            read: m.read,
            read_public: m.read_public,
            unread_from: (m.unread_from != 0).then_some(m.unread_from),
            privacy: m.privacy,
        })
    }

    /// The sender of message `seq`, if it exists.
    pub fn sender(&self, seq: Seq) -> Option<UserId> {
        self.present_sender(seq)
            .ok()
            .map(|s| self.members[s as usize].user)
    }

    /// Whether `user` sent any message in `from..=to` that is not gone.
    pub(crate) fn sent_any(&self, user: UserId, from: Seq, to: Seq) -> bool {
        self.index.get(&user).is_some_and(|&i| {
            let own = &self.members[i as usize].own;
            let p = own.partition_point(|&x| x < from);
            own.get(p).is_some_and(|&x| x <= to)
        })
    }

    /// Bytes of the write-coalescing state: the two 16-bit lags and the
    /// queued flag of every member slot (5 bytes, counted over the member
    /// table's capacity) and the queue of lagging members (4 bytes per slot
    /// of its capacity).
    pub(crate) fn aggregator_bytes(&self) -> usize {
        self.members.capacity() * 5 + self.queue.capacity() * 4
    }

    /// Rebuilds every derived structure (own and mention lists, gone list,
    /// member index, order-statistic indexes) from the member slots and the
    /// message log.
    pub(crate) fn rebuild(&mut self) {
        self.index = HashMap::default();
        for (i, m) in self.members.iter_mut().enumerate() {
            m.own.clear();
            m.mentioned.clear();
            m.lag_read = 0;
            m.lag_delivered = 0;
            m.queued = false;
            self.index.insert(m.user, i as u32);
        }
        self.queue.clear();
        self.gone.clear();
        for (k, &e) in self.senders.iter().enumerate() {
            let seq = k as Seq + 1;
            if e & DELETED != 0 || e & SENDER == 0 {
                self.gone.push(seq);
            } else {
                self.members[((e & SENDER) - 1) as usize].own.push(seq);
            }
        }
        let senders = &self.senders;
        self.mentions.retain(|&seq, _| {
            let e = senders[(seq - 1) as usize];
            e & DELETED == 0 && e & SENDER != 0
        });
        for (&seq, idxs) in &self.mentions {
            for &i in idxs {
                self.members[i as usize].mentioned.push(seq);
            }
        }
        let mut top = self.last;
        for m in &self.members {
            top = top.max(m.delivered);
        }
        let n = top as usize + 1;
        let (mut cj, mut cr, mut cd) = (vec![0u32; n], vec![0u32; n], vec![0u32; n]);
        self.by_read.clear();
        self.by_delivered.clear();
        self.active = 0;
        for (i, m) in self.members.iter().enumerate() {
            if m.active() {
                cj[m.join as usize] += 1;
                cr[m.read_public as usize] += 1;
                cd[m.delivered as usize] += 1;
                self.by_read.insert((m.read_public, i as u32));
                self.by_delivered.insert((m.delivered, i as u32));
                self.active += 1;
            }
        }
        self.fw_join = Fenwick::from_counts(cj);
        self.fw_read = Fenwick::from_counts(cr);
        self.fw_delivered = Fenwick::from_counts(cd);
    }

    /// Merges another copy of this conversation into this one (a block
    /// another writer stored): watermarks by maximum, membership by the
    /// newer epoch, settings by the newer version, messages and deletions
    /// by union (a sequence number two writers gave different senders takes
    /// `other`'s, the stored one).
    pub(crate) fn merge(&mut self, other: &Conversation) {
        let policy = self.policy.devices;
        let mut map = Vec::with_capacity(other.members.len());
        for b in &other.members {
            let i = if let Some(&i) = self.index.get(&b.user) {
                i
            } else {
                let i = self.members.len() as u32;
                self.members.push(Member::new(b.user));
                self.index.insert(b.user, i);
                i
            };
            map.push(i);
            let a = &mut self.members[i as usize];
            if b.epoch > a.epoch {
                a.epoch = b.epoch;
                a.join = b.join;
            } else if b.epoch == a.epoch {
                a.join = a.join.max(b.join);
            }
            a.read_public = a.read_public.max(b.read_public);
            a.read = a.read.max(b.read);
            a.delivered = a.delivered.max(b.delivered);
            if b.settings > a.settings {
                a.settings = b.settings;
                a.privacy = b.privacy;
                a.unread_from = b.unread_from;
            } else if b.settings == a.settings {
                a.privacy = a.privacy.max(b.privacy);
                a.unread_from = if a.unread_from == 0 || b.unread_from == 0 {
                    0
                } else {
                    a.unread_from.max(b.unread_from)
                };
            }
            for d in &b.devices {
                match a.devices.iter_mut().find(|x| x.id == d.id) {
                    Some(x) => {
                        x.delivered = x.delivered.max(d.delivered);
                        x.removed |= d.removed;
                    }
                    None => a.devices.push(d.clone()),
                }
            }
            a.devices.sort_by_key(|d| d.id);
        }
        for a in &mut self.members {
            a.read_public = a.read_public.max(a.join);
            a.read = a.read.max(a.read_public);
            a.delivered = a.delivered.max(a.read).max(a.device_delivered(policy));
            if a.unread_from != 0 && a.unread_from > a.read {
                a.unread_from = 0;
            }
        }
        if other.last > self.last {
            self.senders.resize(other.last as usize, 0);
            self.last = other.last;
        }
        for (k, &e) in other.senders.iter().enumerate() {
            let mine = &mut self.senders[k];
            let sender = match e & SENDER {
                0 => *mine & SENDER,
                s => map[(s - 1) as usize] + 1,
            };
            *mine = (*mine | e) & DELETED | sender;
        }
        for (&seq, idxs) in &other.mentions {
            let mine = self.mentions.entry(seq).or_default();
            for &i in idxs {
                let i = map[i as usize];
                if !mine.contains(&i) {
                    mine.push(i);
                }
            }
            mine.sort_unstable();
        }
        self.rebuild();
        // Anything may have changed: the feed looks at every message and
        // every member's position once more.
        self.touch(1, self.last);
        for i in 0..self.members.len() as u32 {
            self.touch_user(i);
        }
        self.changes += 1;
    }

    /// Takes the range of messages whose counts may have changed and the
    /// members whose own position moved since the last call.
    pub(crate) fn take_touched(&mut self) -> (Option<(Seq, Seq)>, Vec<u32>) {
        let range =
            (self.touched_lo <= self.touched_hi).then_some((self.touched_lo, self.touched_hi));
        self.touched_lo = Seq::MAX;
        self.touched_hi = 0;
        let users = std::mem::take(&mut self.touched_users);
        for &i in &users {
            self.members[i as usize].touched = false;
        }
        (range, users)
    }

    pub(crate) fn has_touched(&self) -> bool {
        self.touched_lo <= self.touched_hi || !self.touched_users.is_empty()
    }
}
