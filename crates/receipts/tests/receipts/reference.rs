//! A brute-force reference: per message, the set of users it was
//! delivered to, read by (publicly) and seen by (the user's own position);
//! every query walks those sets. No watermarks, no indexes, no lags.

use std::collections::{BTreeMap, BTreeSet};

/// The error kinds the engine must agree on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fail {
    UnknownConversation,
    NotMember,
    NoMessage,
    OutOfRange,
    SeqTaken,
    Hidden,
}

pub(crate) fn kind(e: &blocksmith_receipts::Error) -> Fail {
    use blocksmith_receipts::Error as E;
    match e {
        E::UnknownConversation(_) => Fail::UnknownConversation,
        E::NotMember { .. } => Fail::NotMember,
        E::NoMessage { .. } => Fail::NoMessage,
        E::OutOfRange { .. } => Fail::OutOfRange,
        E::SeqTaken { .. } => Fail::SeqTaken,
        E::Hidden { .. } => Fail::Hidden,
        other => panic!("unexpected error {other}"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Delivered,
    Read,
    ReadPrivate,
}

#[derive(Clone, Debug, Default)]
struct Msg {
    sender: Option<u64>,
    deleted: bool,
    mentions: BTreeSet<u64>,
}

#[derive(Clone, Debug, Default)]
struct User {
    active: bool,
    join: u64,
    hidden: bool,
    marker: Option<u64>,
    /// device -> (delivered up to, removed)
    devices: BTreeMap<u64, (u64, bool)>,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Conv {
    last: u64,
    msgs: BTreeMap<u64, Msg>,
    users: BTreeMap<u64, User>,
    /// seq -> users, for every seq of the domain (posted or not).
    delivered: BTreeMap<u64, BTreeSet<u64>>,
    read_public: BTreeMap<u64, BTreeSet<u64>>,
    seen: BTreeMap<u64, BTreeSet<u64>>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Policy {
    pub all_devices: bool,
    pub reciprocal: bool,
    pub list_limit: Option<u32>,
    pub max_ahead: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct Reference {
    pub policy: Policy,
    pub convs: BTreeMap<String, Conv>,
}

/// Status as the reference computes it: (sender, recipients, delivered, read).
pub(crate) type Status = (u64, u32, u32, Option<u32>);

fn add(sets: &mut BTreeMap<u64, BTreeSet<u64>>, user: u64, upto: u64) {
    for s in 1..=upto {
        sets.entry(s).or_default().insert(user);
    }
}

fn has(sets: &BTreeMap<u64, BTreeSet<u64>>, user: u64, seq: u64) -> bool {
    sets.get(&seq).is_some_and(|s| s.contains(&user))
}

/// The highest seq whose set holds the user (0 if none).
fn top(sets: &BTreeMap<u64, BTreeSet<u64>>, user: u64) -> u64 {
    sets.iter()
        .filter(|(_, s)| s.contains(&user))
        .map(|(&k, _)| k)
        .max()
        .unwrap_or(0)
}

impl Conv {
    fn exists(&self, seq: u64) -> Option<&Msg> {
        self.msgs
            .get(&seq)
            .filter(|m| m.sender.is_some() && !m.deleted)
    }

    fn active(&self, user: u64) -> Result<(), Fail> {
        match self.users.get(&user) {
            Some(u) if u.active => Ok(()),
            _ => Err(Fail::NotMember),
        }
    }

    fn read_as(&mut self, user: u64, kind: Kind, seq: u64) {
        match kind {
            Kind::Delivered => add(&mut self.delivered, user, seq),
            Kind::Read | Kind::ReadPrivate => {
                add(&mut self.seen, user, seq);
                add(&mut self.delivered, user, seq);
                if kind == Kind::Read && !self.users[&user].hidden {
                    add(&mut self.read_public, user, seq);
                }
                let own = top(&self.seen, user);
                let u = self.users.get_mut(&user).unwrap();
                if let Some(m) = u.marker
                    && seq >= m
                {
                    u.marker = (seq < own).then_some(seq + 1);
                }
            }
        }
    }

    /// Users counted for message `seq`: active, joined before it, not the sender.
    fn recipients(&self, seq: u64, sender: u64) -> Vec<u64> {
        self.users
            .iter()
            .filter(|&(&id, u)| u.active && u.join < seq && id != sender)
            .map(|(&id, _)| id)
            .collect()
    }
}

impl Reference {
    pub(crate) fn new(policy: Policy) -> Self {
        Reference {
            policy,
            convs: BTreeMap::new(),
        }
    }

    fn conv(&mut self, c: &str) -> Result<&mut Conv, Fail> {
        self.convs.get_mut(c).ok_or(Fail::UnknownConversation)
    }

    fn ahead(&self, c: &Conv, seq: u64) -> Result<(), Fail> {
        if seq > c.last + self.policy.max_ahead {
            Err(Fail::OutOfRange)
        } else {
            Ok(())
        }
    }

    pub(crate) fn join(&mut self, c: &str, user: u64) -> u64 {
        let conv = self.convs.entry(c.to_string()).or_default();
        let last = conv.last;
        let u = conv.users.entry(user).or_default();
        if u.active {
            return u.join;
        }
        u.active = true;
        u.join = last;
        u.marker = None;
        // History before joining is not theirs to read.
        add(&mut conv.seen, user, last);
        add(&mut conv.read_public, user, last);
        add(&mut conv.delivered, user, last);
        last
    }

    pub(crate) fn leave(&mut self, c: &str, user: u64) -> Result<(), Fail> {
        let conv = self.conv(c)?;
        let u = conv.users.get_mut(&user).ok_or(Fail::NotMember)?;
        u.active = false;
        Ok(())
    }

    pub(crate) fn post(
        &mut self,
        c: &str,
        seq: u64,
        sender: u64,
        mentions: &[u64],
    ) -> Result<(), Fail> {
        let max_ahead = self.policy.max_ahead;
        let conv = self.conv(c)?;
        if seq == 0 || seq > conv.last + max_ahead {
            return Err(Fail::OutOfRange);
        }
        conv.active(sender)?;
        let m = conv.msgs.entry(seq).or_default();
        match m.sender {
            Some(s) if s == sender => return Ok(()),
            Some(_) => return Err(Fail::SeqTaken),
            None => {}
        }
        m.sender = Some(sender);
        if !m.deleted {
            for &u in mentions {
                if u != sender && conv.users.get(&u).is_some_and(|x| x.active) {
                    conv.msgs.get_mut(&seq).unwrap().mentions.insert(u);
                }
            }
        }
        conv.last = conv.last.max(seq);
        conv.read_as(sender, Kind::Read, seq);
        Ok(())
    }

    pub(crate) fn delete(&mut self, c: &str, seq: u64) -> Result<(), Fail> {
        let max_ahead = self.policy.max_ahead;
        let conv = self.conv(c)?;
        if seq == 0 {
            return Err(Fail::NoMessage);
        }
        if seq > conv.last + max_ahead {
            return Err(Fail::OutOfRange);
        }
        let m = conv.msgs.entry(seq).or_default();
        m.deleted = true;
        m.mentions.clear();
        conv.last = conv.last.max(seq);
        Ok(())
    }

    pub(crate) fn receipt(&mut self, c: &str, user: u64, kind: Kind, seq: u64) -> Result<(), Fail> {
        let conv = self.convs.get(c).ok_or(Fail::UnknownConversation)?;
        conv.active(user)?;
        self.ahead(conv, seq)?;
        self.conv(c)?.read_as(user, kind, seq);
        Ok(())
    }

    fn device_value(&self, conv: &Conv, user: u64) -> u64 {
        let live = conv.users[&user]
            .devices
            .values()
            .filter(|d| !d.1)
            .map(|d| d.0);
        if self.policy.all_devices {
            live.min().unwrap_or(0)
        } else {
            live.max().unwrap_or(0)
        }
    }

    pub(crate) fn device(&mut self, c: &str, user: u64, device: u64, seq: u64) -> Result<(), Fail> {
        let conv = self.convs.get(c).ok_or(Fail::UnknownConversation)?;
        conv.active(user)?;
        self.ahead(conv, seq)?;
        let conv = self.convs.get_mut(c).unwrap();
        let floor = top(&conv.delivered, user);
        let u = conv.users.get_mut(&user).unwrap();
        let d = u.devices.entry(device).or_insert((floor, false));
        if d.1 {
            return Ok(());
        }
        d.0 = d.0.max(seq);
        let conv = &self.convs[c];
        let v = self.device_value(conv, user);
        add(&mut self.convs.get_mut(c).unwrap().delivered, user, v);
        Ok(())
    }

    pub(crate) fn remove_device(&mut self, c: &str, user: u64, device: u64) -> Result<(), Fail> {
        let conv = self.conv(c)?;
        conv.active(user)?;
        let u = conv.users.get_mut(&user).unwrap();
        match u.devices.get_mut(&device) {
            Some(d) if !d.1 => d.1 = true,
            _ => return Ok(()),
        }
        let conv = &self.convs[c];
        let v = self.device_value(conv, user);
        add(&mut self.convs.get_mut(c).unwrap().delivered, user, v);
        Ok(())
    }

    pub(crate) fn set_hidden(&mut self, c: &str, user: u64, hidden: bool) -> Result<(), Fail> {
        let conv = self.conv(c)?;
        conv.active(user)?;
        conv.users.get_mut(&user).unwrap().hidden = hidden;
        Ok(())
    }

    pub(crate) fn mark_read(&mut self, c: &str, user: u64) -> Result<(), Fail> {
        let last = self.conv(c)?.last;
        self.receipt(c, user, Kind::Read, last)
    }

    pub(crate) fn mark_all_read(&mut self, user: u64) {
        let ids: Vec<String> = self.convs.keys().cloned().collect();
        for c in ids {
            if self.convs[&c].users.get(&user).is_some_and(|u| u.active) {
                self.mark_read(&c, user).unwrap();
            }
        }
    }

    pub(crate) fn mark_unread(&mut self, c: &str, user: u64, from: u64) -> Result<(), Fail> {
        let conv = self.conv(c)?;
        conv.active(user)?;
        let own = top(&conv.seen, user);
        let u = conv.users.get_mut(&user).unwrap();
        let from = from.max(u.join + 1);
        if from <= own {
            u.marker = Some(from);
        }
        Ok(())
    }

    pub(crate) fn status(&self, c: &str, seq: u64, viewer: u64) -> Result<Status, Fail> {
        let conv = self.convs.get(c).ok_or(Fail::UnknownConversation)?;
        let m = conv.exists(seq).ok_or(Fail::NoMessage)?;
        let sender = m.sender.unwrap();
        let rec = conv.recipients(seq, sender);
        let delivered = rec
            .iter()
            .filter(|&&u| has(&conv.delivered, u, seq))
            .count() as u32;
        let read = rec
            .iter()
            .filter(|&&u| has(&conv.read_public, u, seq))
            .count() as u32;
        let sees = !(self.policy.reciprocal && conv.users.get(&viewer).is_some_and(|u| u.hidden));
        Ok((sender, rec.len() as u32, delivered, sees.then_some(read)))
    }

    pub(crate) fn list(
        &self,
        c: &str,
        seq: u64,
        viewer: u64,
        read: bool,
    ) -> Result<Vec<u64>, Fail> {
        let conv = self.convs.get(c).ok_or(Fail::UnknownConversation)?;
        let m = conv.exists(seq).ok_or(Fail::NoMessage)?;
        let sender = m.sender.unwrap();
        if read {
            let active = conv.users.values().filter(|u| u.active).count() as u32;
            if self.policy.list_limit.is_some_and(|l| active > l) {
                return Err(Fail::Hidden);
            }
            if self.policy.reciprocal && conv.users.get(&viewer).is_some_and(|u| u.hidden) {
                return Err(Fail::Hidden);
            }
        }
        let sets = if read {
            &conv.read_public
        } else {
            &conv.delivered
        };
        Ok(conv
            .recipients(seq, sender)
            .into_iter()
            .filter(|&u| has(sets, u, seq))
            .collect())
    }

    /// (messages, mentions) unread by `user` in `c`.
    pub(crate) fn unread(&self, c: &str, user: u64) -> (u64, u64) {
        let Some(conv) = self.convs.get(c) else {
            return (0, 0);
        };
        let Some(u) = conv.users.get(&user).filter(|u| u.active) else {
            return (0, 0);
        };
        let (mut n, mut mentions) = (0, 0);
        for seq in 1..=conv.last {
            let Some(m) = conv.exists(seq) else { continue };
            if m.sender == Some(user) {
                continue;
            }
            let unread = !has(&conv.seen, user, seq) || u.marker.is_some_and(|k| seq >= k);
            if unread {
                n += 1;
                mentions += u64::from(m.mentions.contains(&user));
            }
        }
        (n, mentions)
    }

    /// (messages, mentions, conversations with unread).
    pub(crate) fn badge(&self, user: u64) -> (u64, u64, u32) {
        let mut b = (0, 0, 0);
        for c in self.convs.keys() {
            let (n, m) = self.unread(c, user);
            b.0 += n;
            b.1 += m;
            b.2 += u32::from(n > 0);
        }
        b
    }

    pub(crate) fn last(&self, c: &str) -> u64 {
        self.convs.get(c).map_or(0, |c| c.last)
    }
}
