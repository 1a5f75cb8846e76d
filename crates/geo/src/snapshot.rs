//! The snapshot format: the whole index (entities, fence shapes and
//! per-(entity, fence) state, trajectories, clock and counters) as bytes.
//!
//! Layout, little-endian:
//!
//! | field | encoding |
//! | --- | --- |
//! | magic | `BSGEO` |
//! | format | `u8`, 2 (1 is read too: it has no roaming fences) |
//! | clock | `i64` |
//! | counters | 8 x `u64` ([`crate::Stats`] in declaration order) |
//! | kind tags | `u32` n, n x (`u8` len, UTF-8) (codes 3, 4, ... in order) |
//! | fences | `u32` n, n x fence |
//! | entities | `u32` n, n x entity |
//! | roaming fences | `u32` n, n x roaming fence (format 2) |
//! | checksum | `u32` CRC-32 of everything before |
//!
//! A fence is `u16`-prefixed id, `u16` n + n x `u16` kind codes, `u8` has
//! dwell + `i64` dwell ms, `u32` polygons, each `u32` rings, each `u32`
//! points of two `f64` (x = lon, y = lat). An entity is `u16`-prefixed id,
//! `u16` kind code, `f64` lat, `f64` lon, `i64` ts, `u8` flags (1 accuracy,
//! 2 speed, 4 heading, 8 low accuracy) followed by the `f32`s present,
//! `u16` n + n x (`u32` fence index, `i64` since, `u8` dwelt), `u32` n + n x
//! (`i64` ts, `f64` lat, `f64` lon) of trajectory. A roaming fence is
//! `u16`-prefixed id and anchor id, `f64` radius, `u16` n + n x `u16` kind
//! codes, `u8` has dwell + `i64` dwell ms, `u8` placed + `f64` lat + `f64`
//! lon of its centre, `u32` n + n x (`u32` entity index, `i64` since, `u8`
//! dwelt) of members.
//!
//! Decoding checks every length against the bytes left before allocating,
//! every coordinate, code and reference, and the checksum, so hostile bytes
//! give [`Error::Snapshot`], never a panic or an unbounded allocation.

use crate::fence::{Fence, Inside};
use crate::index::{Fix, GeoIndex, GeoOptions};
use crate::roam::RoamState;
use crate::trajectory::TrackPoint;
use crate::{Error, Kind, LatLon, Result, RoamingFence};
use geo::{LineString, MultiPolygon, Polygon};
use std::collections::VecDeque;
use std::sync::Arc;

const MAGIC: &[u8; 5] = b"BSGEO";
const FORMAT: u8 = 2;

struct W(Vec<u8>);

impl W {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, v: f32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn len32(&mut self, n: usize) {
        self.u32(u32::try_from(n).expect("fewer than 2^32 items"));
    }
    fn str16(&mut self, s: &str) {
        self.u16(u16::try_from(s.len()).expect("ids are at most 256 bytes"));
        self.0.extend_from_slice(s.as_bytes());
    }
}

struct R<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> R<'a> {
    fn err<T>(&self, reason: impl Into<String>) -> Result<T> {
        Err(Error::Snapshot {
            offset: self.at,
            reason: reason.into(),
        })
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.b.len() - self.at < n {
            return self.err("truncated");
        }
        let s = &self.b[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N]> {
        Ok(self.take(N)?.try_into().expect("length checked"))
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.arr::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.arr()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.arr()?))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.arr()?))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_le_bytes(self.arr()?))
    }
    /// A count of items of at least `min_size` bytes each, checked against
    /// what is left.
    fn count(&mut self, n: usize, min_size: usize) -> Result<usize> {
        if n.saturating_mul(min_size) > self.b.len() - self.at {
            return self.err(format!("count {n} exceeds the bytes left"));
        }
        Ok(n)
    }
    fn count32(&mut self, min_size: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        self.count(n, min_size)
    }
    fn str(&mut self, len: usize) -> Result<&'a str> {
        let at = self.at;
        let s = self.take(len)?;
        std::str::from_utf8(s).map_err(|_| Error::Snapshot {
            offset: at,
            reason: "string is not UTF-8".into(),
        })
    }
}

/// Encodes an index (see the module documentation for the layout).
pub fn encode(index: &GeoIndex) -> Vec<u8> {
    let mut w = W(Vec::with_capacity(64 + index.len() * 64));
    w.0.extend_from_slice(MAGIC);
    w.u8(FORMAT);
    w.i64(index.clock);
    let s = index.stats;
    for v in [
        s.inserted,
        s.moved,
        s.out_of_order,
        s.rejected_jumps,
        s.low_accuracy,
        s.evicted,
        s.removed,
        s.events,
    ] {
        w.u64(v);
    }
    let tags: Vec<&Kind> = index.kinds.tags().collect();
    w.len32(tags.len());
    for t in tags {
        let b = t.as_str().as_bytes();
        w.u8(b.len() as u8);
        w.0.extend_from_slice(b);
    }
    // Fences in slot order; state refers to them by position in this list.
    let mut fence_pos = vec![u32::MAX; index.fences.slots.len()];
    let live: Vec<(usize, &crate::fence::FenceSlot)> = index
        .fences
        .slots
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.as_ref().map(|f| (i, f)))
        .collect();
    w.len32(live.len());
    for (n, (slot, fs)) in live.iter().enumerate() {
        fence_pos[*slot] = n as u32;
        w.str16(&fs.fence.id);
        w.u16(fs.kind_codes.len() as u16);
        for &c in &fs.kind_codes {
            w.u16(c);
        }
        w.u8(u8::from(fs.fence.dwell_ms.is_some()));
        w.i64(fs.fence.dwell_ms.unwrap_or(0));
        w.len32(fs.fence.shape.0.len());
        for poly in &fs.fence.shape.0 {
            w.len32(1 + poly.interiors().len());
            for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                w.len32(ring.0.len());
                for c in &ring.0 {
                    w.f64(c.x);
                    w.f64(c.y);
                }
            }
        }
    }
    let entities: Vec<(&crate::index::Entity, &crate::index::Hot)> = index
        .entities
        .iter()
        .zip(&index.hot)
        .filter_map(|(e, h)| e.as_ref().map(|e| (e, h)))
        .collect();
    w.len32(entities.len());
    // Roaming state refers to entities by position in this list.
    let mut entity_pos = vec![u32::MAX; index.entities.len()];
    for (n, slot) in index
        .entities
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.as_ref().map(|_| i))
        .enumerate()
    {
        entity_pos[slot] = n as u32;
    }
    for (e, h) in entities {
        w.str16(&e.id);
        w.u16(h.kind);
        w.f64(h.fix.lat);
        w.f64(h.fix.lon);
        w.i64(h.fix.ts_ms);
        let f = &h.fix;
        let flags = u8::from(f.accuracy_m.is_some())
            | (u8::from(f.speed_mps.is_some()) << 1)
            | (u8::from(f.heading_deg.is_some()) << 2)
            | (u8::from(h.low_acc) << 3);
        w.u8(flags);
        for v in [f.accuracy_m, f.speed_mps, f.heading_deg]
            .into_iter()
            .flatten()
        {
            w.f32(v);
        }
        w.u16(e.inside.len() as u16);
        for s in &e.inside {
            w.u32(fence_pos[s.fence as usize]);
            w.i64(s.since);
            w.u8(u8::from(s.dwelt));
        }
        w.len32(e.trail.len());
        for p in &e.trail {
            w.i64(p.ts_ms);
            w.f64(p.lat);
            w.f64(p.lon);
        }
    }
    let roaming: Vec<&crate::roam::RoamSlot> = index.roam.slots.iter().flatten().collect();
    w.len32(roaming.len());
    for rs in roaming {
        w.str16(&rs.fence.id);
        w.str16(&rs.fence.anchor);
        w.f64(rs.fence.radius_m);
        w.u16(rs.kind_codes.len() as u16);
        for &c in &rs.kind_codes {
            w.u16(c);
        }
        w.u8(u8::from(rs.fence.dwell_ms.is_some()));
        w.i64(rs.fence.dwell_ms.unwrap_or(0));
        w.u8(u8::from(rs.center.is_some()));
        let c = rs.center.map_or((0.0, 0.0), |c| (c.lat(), c.lon()));
        w.f64(c.0);
        w.f64(c.1);
        let mut members: Vec<(u32, RoamState)> = rs
            .members
            .iter()
            .map(|(&m, &st)| (entity_pos[m as usize], st))
            .collect();
        members.sort_unstable_by_key(|m| m.0);
        w.len32(members.len());
        for (pos, st) in members {
            w.u32(pos);
            w.i64(st.since);
            w.u8(u8::from(st.dwelt));
        }
    }
    let crc = crc32fast::hash(&w.0);
    w.u32(crc);
    w.0
}

/// Decodes a snapshot into an index with `options`, verifying the checksum.
///
/// The snapshot holds data, not configuration: `options` may differ from
/// those of the saved index. Positions are re-bucketed into the new cell
/// size, so queries give the same answers; TTL, speed and accuracy limits
/// apply from now on (state already computed, like fence membership, is
/// kept as saved).
///
/// # Errors
/// [`Error::Snapshot`] (with the byte offset) if `bytes` are truncated, fail
/// the checksum, or fail any check of [`decode_unverified`].
pub fn decode(bytes: &[u8], options: GeoOptions) -> Result<GeoIndex> {
    if bytes.len() < MAGIC.len() + 5 {
        return Err(Error::Snapshot {
            offset: 0,
            reason: "truncated".into(),
        });
    }
    let (body, tail) = bytes.split_at(bytes.len() - 4);
    let stored = tail
        .iter()
        .rev()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    if crc32fast::hash(body) != stored {
        return Err(Error::Snapshot {
            offset: body.len(),
            reason: "checksum mismatch".into(),
        });
    }
    decode_body(body, options)
}

/// Decodes a snapshot without its trailing checksum (for fuzzing the
/// structure checks and for salvage): `bytes` must not include the 4
/// checksum bytes.
///
/// # Errors
/// [`Error::Snapshot`] (with the byte offset) if `bytes` are truncated, have
/// another magic, an unknown format, counts the input cannot hold, or an id,
/// kind, fence, fix or roaming state the index would refuse (the underlying
/// error is in the reason).
pub fn decode_unverified(bytes: &[u8], options: GeoOptions) -> Result<GeoIndex> {
    decode_body(bytes, options)
}

fn decode_body(bytes: &[u8], options: GeoOptions) -> Result<GeoIndex> {
    let mut r = R { b: bytes, at: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return Err(Error::Snapshot {
            offset: 0,
            reason: "not a geo snapshot (bad magic)".into(),
        });
    }
    let format = r.u8()?;
    if !(1..=FORMAT).contains(&format) {
        return r.err(format!("unknown snapshot format {format}"));
    }
    let history = options.history;
    let mut index = GeoIndex::new(options);
    index.clock = r.i64()?;
    let mut c = [0u64; 8];
    for v in &mut c {
        *v = r.u64()?;
    }
    index.stats = crate::index::Stats {
        inserted: c[0],
        moved: c[1],
        out_of_order: c[2],
        rejected_jumps: c[3],
        low_accuracy: c[4],
        evicted: c[5],
        removed: c[6],
        events: c[7],
    };
    let ntags = r.count32(2)?;
    for _ in 0..ntags {
        let n = usize::from(r.u8()?);
        let at = r.at;
        let t = r.str(n)?;
        let kind = Kind::parse(t);
        if !matches!(kind, Kind::Tag(_)) || index.kinds.lookup(&kind).is_some() {
            return Err(Error::Snapshot {
                offset: at,
                reason: format!("kind tag {t:?} is built in or repeated"),
            });
        }
        index.kinds.intern(&kind).map_err(|e| Error::Snapshot {
            offset: at,
            reason: e.to_string(),
        })?;
    }
    let nkinds = index.kinds.len();
    let nfences = r.count32(2 + 2 + 9 + 4)?;
    let mut fence_slots = Vec::with_capacity(nfences);
    for _ in 0..nfences {
        let at = r.at;
        let idlen = usize::from(r.u16()?);
        let id: Arc<str> = r.str(idlen)?.into();
        let (kinds, dwell_ms) = read_kinds_and_dwell(&mut r, &index)?;
        let npoly = r.count32(4)?;
        let mut polys = Vec::with_capacity(npoly);
        for _ in 0..npoly {
            let nrings = r.count32(4)?;
            if nrings == 0 {
                return r.err("polygon without rings");
            }
            let mut rings = Vec::with_capacity(nrings);
            for _ in 0..nrings {
                let np = r.count32(16)?;
                let mut coords = Vec::with_capacity(np);
                for _ in 0..np {
                    let x = r.f64()?;
                    let y = r.f64()?;
                    coords.push(geo::Coord { x, y });
                }
                rings.push(LineString(coords));
            }
            let ext = rings.remove(0);
            polys.push(Polygon::new(ext, rings));
        }
        let mut fence = Fence::new(id.clone(), MultiPolygon(polys)).with_kinds(kinds);
        fence.dwell_ms = dwell_ms;
        index.add_fence(fence).map_err(|e| Error::Snapshot {
            offset: at,
            reason: e.to_string(),
        })?;
        fence_slots.extend(index.fence_slot(&id));
    }
    let nent = r.count32(2 + 2 + 8 + 8 + 8 + 1 + 2 + 4)?;
    for _ in 0..nent {
        let at = r.at;
        let idlen = usize::from(r.u16()?);
        let id = r.str(idlen)?;
        crate::fence::check_id(id).map_err(|e| Error::Snapshot {
            offset: at,
            reason: e.to_string(),
        })?;
        let kind = r.u16()?;
        if usize::from(kind) >= nkinds {
            return r.err(format!("unknown kind code {kind}"));
        }
        let mut fix = Fix::new(r.f64()?, r.f64()?, r.i64()?);
        let flags = r.u8()?;
        if flags & !0x0f != 0 {
            return r.err(format!("unknown entity flags {flags:#x}"));
        }
        if flags & 1 != 0 {
            fix.accuracy_m = Some(r.f32()?);
        }
        if flags & 2 != 0 {
            fix.speed_mps = Some(r.f32()?);
        }
        if flags & 4 != 0 {
            fix.heading_deg = Some(r.f32()?);
        }
        fix.validate().map_err(|e| Error::Snapshot {
            offset: at,
            reason: e.to_string(),
        })?;
        let nin = usize::from(r.u16()?);
        let nin = r.count(nin, 13)?;
        let mut inside: Vec<Inside> = Vec::with_capacity(nin);
        for _ in 0..nin {
            let fi = r.u32()? as usize;
            let since = r.i64()?;
            let dwelt = match r.u8()? {
                0 => false,
                1 => true,
                _ => return r.err("bad dwelt flag"),
            };
            let Some(&fence) = fence_slots.get(fi) else {
                return r.err(format!("fence index {fi} out of range"));
            };
            if inside.iter().any(|s| s.fence == fence) {
                return r.err("entity inside the same fence twice");
            }
            inside.push(Inside {
                fence,
                since,
                dwelt,
            });
        }
        let ntrail = r.count32(24)?;
        let mut trail = VecDeque::with_capacity(if history.is_some() { ntrail } else { 0 });
        let mut last = i64::MIN;
        for _ in 0..ntrail {
            let p = TrackPoint {
                ts_ms: r.i64()?,
                lat: r.f64()?,
                lon: r.f64()?,
            };
            if crate::sphere::check(p.lat, p.lon).is_err() || p.ts_ms < last {
                return r.err("invalid or unordered trajectory point");
            }
            last = p.ts_ms;
            if history.is_some() {
                trail.push_back(p);
            }
        }
        if let Some(h) = history {
            while trail.len() > h.max_points.max(1) {
                trail.pop_front();
            }
        }
        index
            .restore_entity(id, kind, fix, flags & 8 != 0, inside, trail)
            .map_err(|e| Error::Snapshot {
                offset: at,
                reason: e.to_string(),
            })?;
    }
    if format >= 2 {
        decode_roaming(&mut r, &mut index, nent)?;
    }
    if r.at != bytes.len() {
        return r.err("trailing bytes");
    }
    Ok(index)
}

fn decode_roaming(r: &mut R<'_>, index: &mut GeoIndex, nent: usize) -> Result<()> {
    let n = r.count32(2 + 2 + 8 + 2 + 9 + 17 + 4)?;
    for _ in 0..n {
        let at = r.at;
        let idlen = usize::from(r.u16()?);
        let id: Arc<str> = r.str(idlen)?.into();
        let alen = usize::from(r.u16()?);
        let anchor: Arc<str> = r.str(alen)?.into();
        let radius = r.f64()?;
        let (kinds, dwell_ms) = read_kinds_and_dwell(r, index)?;
        let center = match (r.u8()?, r.f64()?, r.f64()?) {
            (0, _, _) => None,
            (1, lat, lon) => Some(LatLon::new(lat, lon).map_err(|e| Error::Snapshot {
                offset: at,
                reason: e.to_string(),
            })?),
            _ => return r.err("bad centre flag"),
        };
        let nm = r.count32(13)?;
        let mut members = Vec::with_capacity(nm);
        for _ in 0..nm {
            let pos = r.u32()?;
            let since = r.i64()?;
            let dwelt = match r.u8()? {
                0 => false,
                1 => true,
                _ => return r.err("bad dwelt flag"),
            };
            if pos as usize >= nent {
                return r.err(format!("entity index {pos} out of range"));
            }
            members.push((pos, RoamState { since, dwelt }));
        }
        let mut fence = RoamingFence::new(id.clone(), anchor, radius).with_kinds(kinds);
        fence.dwell_ms = dwell_ms;
        let snap = |e: Error| Error::Snapshot {
            offset: at,
            reason: e.to_string(),
        };
        index.add_roaming_fence(fence).map_err(snap)?;
        index.restore_roaming(&id, center, members).map_err(snap)?;
    }
    Ok(())
}

/// A fence's kinds (`u16` n + n x `u16` code) and dwell (`u8` flag + `i64`).
fn read_kinds_and_dwell(r: &mut R<'_>, index: &GeoIndex) -> Result<(Vec<Kind>, Option<i64>)> {
    let nk = usize::from(r.u16()?);
    let nk = r.count(nk, 2)?;
    let mut kinds = Vec::with_capacity(nk);
    for _ in 0..nk {
        let code = r.u16()?;
        if usize::from(code) >= index.kinds.len() {
            return r.err(format!("unknown kind code {code}"));
        }
        kinds.push(index.kinds.get(code).clone());
    }
    let dwell_ms = match (r.u8()?, r.i64()?) {
        (0, _) => None,
        (1, d) => Some(d),
        _ => return r.err("bad dwell flag"),
    };
    Ok((kinds, dwell_ms))
}
