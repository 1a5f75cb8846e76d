//! The stored form of a conversation: one compact block per conversation.
//!
//! ```text
//! "BSRC"  magic
//! u8      format version (1)
//! varint  id length, id bytes
//! varint  last sequence number
//! varint  member count, then per member (in member-index order):
//!         varint user, varint epoch, varint settings,
//!         u8 flags (bit 0: hidden; bit 1: has an unread marker; others 0),
//!         varint join, varint read_public - join, varint read - read_public,
//!         varint delivered - read, [varint unread_from],
//!         varint device count, per device: varint id, varint delivered, u8 removed
//! per sequence number 1..=last: varint (sender index + 1) << 1 | deleted
//!         (sender 0: no message known)
//! varint  mention count, per message: varint seq delta (>= 1),
//!         varint k (>= 1), k varint member indices (ascending)
//! u32 LE  CRC-32 of everything before
//! ```
//!
//! Varints are LEB128. Watermarks are stored as deltas, so the invariant
//! `join <= read_public <= read <= delivered` holds for any bytes; the decoder
//! checks every other one (bounds, order, uniqueness) and returns
//! [`Error::Corrupt`] with the offset where it stopped, never panics, and
//! allocates no more than the input's length justifies.

use crate::conversation::{Conversation, DELETED, Device, MAX_MEMBERS, Member, Policy};
use crate::{DeviceId, Error, MAX_AHEAD_LIMIT, Privacy, ReceiptsOptions, Result, UserId};

/// The block's magic bytes.
pub const MAGIC: &[u8; 4] = b"BSRC";
/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;

const FLAG_HIDDEN: u8 = 1;
const FLAG_MARKER: u8 = 2;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn corrupt(&self, reason: &'static str) -> Error {
        Error::Corrupt {
            reason,
            offset: self.pos,
        }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn u8(&mut self) -> Result<u8> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| self.corrupt("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let part = u64::from(b & 0x7f);
            if shift == 63 && part > 1 {
                return Err(self.corrupt("varint overflows 64 bits"));
            }
            v |= part << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.corrupt("varint longer than 10 bytes"))
    }

    fn u32(&mut self) -> Result<u32> {
        u32::try_from(self.varint()?).map_err(|_| self.corrupt("value over 32 bits"))
    }

    fn add(&self, a: u64, b: u64) -> Result<u64> {
        a.checked_add(b)
            .ok_or_else(|| self.corrupt("watermark overflows"))
    }
}

impl Conversation {
    /// The conversation as one block (see the module docs of the format);
    /// [`Conversation::from_bytes`] reads it back.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            16 + self.id.len() + self.members.len() * 12 + self.senders.len() * 2,
        );
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        put_varint(&mut out, self.id.len() as u64);
        out.extend_from_slice(self.id.as_bytes());
        put_varint(&mut out, self.last);
        put_varint(&mut out, self.members.len() as u64);
        for m in &self.members {
            put_varint(&mut out, m.user.0);
            put_varint(&mut out, u64::from(m.epoch));
            put_varint(&mut out, u64::from(m.settings));
            let mut flags = 0;
            if m.privacy == Privacy::Hidden {
                flags |= FLAG_HIDDEN;
            }
            if m.unread_from != 0 {
                flags |= FLAG_MARKER;
            }
            out.push(flags);
            put_varint(&mut out, m.join);
            put_varint(&mut out, m.read_public - m.join);
            put_varint(&mut out, m.read - m.read_public);
            put_varint(&mut out, m.delivered - m.read);
            if m.unread_from != 0 {
                put_varint(&mut out, m.unread_from);
            }
            put_varint(&mut out, m.devices.len() as u64);
            for d in &m.devices {
                put_varint(&mut out, d.id.0);
                put_varint(&mut out, d.delivered);
                out.push(u8::from(d.removed));
            }
        }
        for &e in &self.senders {
            put_varint(
                &mut out,
                (u64::from(e & !DELETED) << 1) | u64::from(e & DELETED != 0),
            );
        }
        put_varint(&mut out, self.mentions.len() as u64);
        let mut prev = 0;
        for (&seq, idxs) in &self.mentions {
            put_varint(&mut out, seq - prev);
            prev = seq;
            put_varint(&mut out, idxs.len() as u64);
            for &i in idxs {
                put_varint(&mut out, u64::from(i));
            }
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads a block written by [`Conversation::to_bytes`]. The options are
    /// the ones queries and changes follow from now on (they are not stored).
    ///
    /// # Errors
    /// [`Error::Corrupt`] for bytes that are not a whole, valid block (with
    /// the offset where decoding stopped); [`Error::UnsupportedFormat`] for a
    /// block of another format version.
    pub fn from_bytes(bytes: &[u8], options: &ReceiptsOptions) -> Result<Conversation> {
        Self::decode(bytes, options, true)
    }

    /// [`Conversation::from_bytes`] without the checksum test (the four
    /// trailing bytes are still required): for fuzzing the structure
    /// checks behind it, and for salvaging a block whose checksum alone is
    /// damaged. Every other check applies.
    ///
    /// # Errors
    /// As [`Conversation::from_bytes`], save the checksum.
    pub fn from_bytes_unverified(bytes: &[u8], options: &ReceiptsOptions) -> Result<Conversation> {
        Self::decode(bytes, options, false)
    }

    fn decode(bytes: &[u8], options: &ReceiptsOptions, verify: bool) -> Result<Conversation> {
        let mut r = Reader { bytes, pos: 0 };
        if bytes.len() < MAGIC.len() + 1 + 4 || &bytes[..4] != MAGIC {
            return Err(r.corrupt("not a conversation block (magic)"));
        }
        r.pos = 4;
        let version = r.u8()?;
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedFormat {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let body = bytes.len() - 4;
        let stored = u32::from_le_bytes([
            bytes[body],
            bytes[body + 1],
            bytes[body + 2],
            bytes[body + 3],
        ]);
        if verify && crc32fast::hash(&bytes[..body]) != stored {
            return Err(Error::Corrupt {
                reason: "checksum mismatch",
                offset: body,
            });
        }
        let mut r = Reader {
            bytes: &bytes[..body],
            pos: 5,
        };
        let id_len = r.varint()?;
        if id_len > r.remaining() as u64 {
            return Err(r.corrupt("truncated id"));
        }
        let id_bytes = &r.bytes[r.pos..r.pos + id_len as usize];
        let id = std::str::from_utf8(id_bytes)
            .ok()
            .filter(|s| crate::valid_id(s))
            .ok_or_else(|| r.corrupt("invalid conversation id"))?
            .to_string();
        r.pos += id_len as usize;
        let last = r.varint()?;
        // Every message takes at least one byte below.
        if last > r.remaining() as u64 {
            return Err(r.corrupt("more messages than bytes"));
        }
        let top = last + options.max_ahead.min(MAX_AHEAD_LIMIT);
        let count = r.varint()?;
        // A member takes at least 9 bytes.
        if count > (r.remaining() / 9) as u64 || count as usize > MAX_MEMBERS {
            return Err(r.corrupt("more members than bytes"));
        }
        let mut conv = Conversation::new(&id, Policy::of(options));
        conv.members.reserve(count as usize);
        for _ in 0..count {
            let user = UserId(r.varint()?);
            let mut m = Member::new(user);
            m.epoch = r.u32()?;
            m.settings = r.u32()?;
            let flags = r.u8()?;
            if flags & !(FLAG_HIDDEN | FLAG_MARKER) != 0 {
                return Err(r.corrupt("unknown member flags"));
            }
            m.privacy = if flags & FLAG_HIDDEN != 0 {
                Privacy::Hidden
            } else {
                Privacy::Public
            };
            m.join = r.varint()?;
            if m.join > last {
                return Err(r.corrupt("join after the last message"));
            }
            let d = r.varint()?;
            m.read_public = r.add(m.join, d)?;
            let d = r.varint()?;
            m.read = r.add(m.read_public, d)?;
            let d = r.varint()?;
            m.delivered = r.add(m.read, d)?;
            if m.delivered > top {
                return Err(r.corrupt("watermark too far ahead"));
            }
            if flags & FLAG_MARKER != 0 {
                m.unread_from = r.varint()?;
                if m.unread_from <= m.join || m.unread_from > m.read {
                    return Err(r.corrupt("unread marker out of range"));
                }
            }
            let devices = r.varint()?;
            if devices > (r.remaining() / 3) as u64 {
                return Err(r.corrupt("more devices than bytes"));
            }
            for _ in 0..devices {
                let id = DeviceId(r.varint()?);
                let delivered = r.varint()?;
                if delivered > top {
                    return Err(r.corrupt("device watermark too far ahead"));
                }
                let removed = match r.u8()? {
                    0 => false,
                    1 => true,
                    _ => return Err(r.corrupt("device flag")),
                };
                if m.devices.last().is_some_and(|d: &Device| d.id >= id) {
                    return Err(r.corrupt("devices out of order"));
                }
                m.devices.push(Device {
                    id,
                    delivered,
                    removed,
                });
            }
            if conv.index.insert(user, conv.members.len() as u32).is_some() {
                return Err(r.corrupt("duplicate member"));
            }
            conv.members.push(m);
        }
        conv.last = last;
        conv.senders.reserve(last as usize);
        for _ in 0..last {
            let v = r.varint()?;
            let sender = v >> 1;
            if sender > count {
                return Err(r.corrupt("sender is not a member"));
            }
            conv.senders
                .push(sender as u32 | if v & 1 == 1 { DELETED } else { 0 });
        }
        let n = r.varint()?;
        if n > r.remaining() as u64 {
            return Err(r.corrupt("more mentions than bytes"));
        }
        let mut prev = 0u64;
        for _ in 0..n {
            let delta = r.varint()?;
            let seq = r.add(prev, delta)?;
            if delta == 0 || seq > last {
                return Err(r.corrupt("mention out of order or range"));
            }
            prev = seq;
            let k = r.varint()?;
            if k == 0 || k > r.remaining() as u64 {
                return Err(r.corrupt("mention list length"));
            }
            let mut idxs = Vec::with_capacity(k as usize);
            for _ in 0..k {
                let i = r.varint()?;
                if i >= count || idxs.last().is_some_and(|&l| u64::from(l) >= i) {
                    return Err(r.corrupt("mentioned member out of order or range"));
                }
                idxs.push(i as u32);
            }
            conv.mentions.insert(seq, idxs);
        }
        if r.remaining() != 0 {
            return Err(r.corrupt("trailing bytes"));
        }
        conv.rebuild();
        Ok(conv)
    }
}
