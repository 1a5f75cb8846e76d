//! Roaming fences: a circle of fixed radius around a moving entity (its
//! anchor), in the spirit of Tile38's roaming geofences. "Riders within
//! 300 m of driver d7" is a roaming fence anchored on `d7`.
//!
//! An entity is inside a roaming fence when its latest good-accuracy fix is
//! within the radius (great-circle, the same test as
//! [`GeoIndex::radius`]) of the anchor's latest good-accuracy fix. The state
//! is re-evaluated when the entity moves (against the fence's current
//! centre) and when the anchor moves (every entity within the radius), so
//! membership always equals a fresh radius query around the anchor.
//!
//! Cost: a member-side check scans the placed roaming fences linearly (a
//! dot product each), so it suits tens to a few thousand roaming fences; an
//! anchor move costs one radius query.

use crate::error::truncate;
use crate::fence::{FenceEvent, FenceEventKind, check_id};
use crate::index::{GeoIndex, QueryFilter, Radius};
use crate::sphere::{MAX_DISTANCE_M, chord2, unit};
use crate::{Error, Kind, LatLon, Result};
use std::collections::HashMap;
use std::sync::Arc;

type Hasher = foldhash::fast::RandomState;

/// A fence that follows an entity: every entity within `radius_m` of the
/// anchor (the anchor itself excepted) is inside.
///
/// Fence ids share one namespace with polygon [`crate::Fence`]s, so an
/// event's fence id names exactly one fence.
///
/// ```
/// use blocksmith_geo::{Fix, GeoIndex, Kind, RoamingFence, FenceEventKind};
/// let mut index = GeoIndex::default();
/// index.add_roaming_fence(RoamingFence::new("near-d7", "d7", 300.0).with_kinds([Kind::Rider]))?;
/// index.upsert("d7", &Kind::Driver, Fix::new(48.8566, 2.3522, 1_000))?;
/// index.upsert("r1", &Kind::Rider, Fix::new(48.8580, 2.3522, 2_000))?; // ~156 m north
/// let events: Vec<_> = index.drain_events().collect();
/// assert_eq!(events[0].kind, FenceEventKind::Enter);
/// assert_eq!((&*events[0].entity, &*events[0].fence), ("r1", "near-d7"));
/// // The driver drives away: the rider is left outside.
/// index.upsert("d7", &Kind::Driver, Fix::new(48.8566, 2.3622, 60_000))?;
/// assert_eq!(index.drain_events().next().unwrap().kind, FenceEventKind::Exit);
/// # Ok::<(), blocksmith_geo::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RoamingFence {
    /// The fence id (1 to [`crate::MAX_ID_LEN`] bytes).
    pub id: Arc<str>,
    /// The id of the entity the fence follows.
    pub anchor: Arc<str>,
    /// Radius in metres (great-circle), above 0 and at most half the
    /// Earth's circumference.
    pub radius_m: f64,
    /// Kinds of entity the fence applies to; empty means every kind.
    pub kinds: Vec<Kind>,
    /// Emit [`FenceEventKind::Dwell`] after this long inside, in milliseconds.
    pub dwell_ms: Option<i64>,
}

impl RoamingFence {
    /// A roaming fence for every kind, without dwell events.
    pub fn new(id: impl Into<Arc<str>>, anchor: impl Into<Arc<str>>, radius_m: f64) -> Self {
        RoamingFence {
            id: id.into(),
            anchor: anchor.into(),
            radius_m,
            kinds: Vec::new(),
            dwell_ms: None,
        }
    }

    /// Applies the fence to these kinds only.
    #[must_use]
    pub fn with_kinds(mut self, kinds: impl IntoIterator<Item = Kind>) -> Self {
        self.kinds = kinds.into_iter().collect();
        self
    }

    /// Emits Dwell events after `ms` milliseconds inside.
    #[must_use]
    pub fn with_dwell_ms(mut self, ms: i64) -> Self {
        self.dwell_ms = Some(ms);
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        check_id(&self.id)?;
        check_id(&self.anchor)?;
        let bad = |reason: String| Error::InvalidFence {
            fence: truncate(&self.id),
            reason,
        };
        if !(self.radius_m.is_finite() && self.radius_m > 0.0 && self.radius_m <= MAX_DISTANCE_M) {
            return Err(bad(format!(
                "radius {} m must be above 0 and at most {MAX_DISTANCE_M} m",
                self.radius_m
            )));
        }
        crate::fence::check_kinds_and_dwell(&self.kinds, self.dwell_ms).map_err(bad)
    }
}

/// Per-(entity, roaming fence) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RoamState {
    pub(crate) since: i64,
    pub(crate) dwelt: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct RoamSlot {
    pub(crate) fence: RoamingFence,
    pub(crate) kind_codes: Vec<u16>,
    /// The anchor's latest good-accuracy position, once it has one.
    pub(crate) center: Option<LatLon>,
    xyz: [f64; 3],
    radius: Radius,
    /// The anchor's entity slot while it is in the index.
    pub(crate) anchor_slot: Option<u32>,
    pub(crate) members: HashMap<u32, RoamState, Hasher>,
}

impl RoamSlot {
    fn applies_to(&self, kind: u16) -> bool {
        self.kind_codes.is_empty() || self.kind_codes.contains(&kind)
    }

    fn place(&mut self, at: LatLon) {
        self.center = Some(at);
        self.xyz = unit(at.lat(), at.lon());
    }

    /// Members sorted by entity id (deterministic event order).
    fn sorted_members(&self, index: &GeoIndex) -> Vec<(Arc<str>, u32)> {
        let mut v: Vec<(Arc<str>, u32)> = self
            .members
            .keys()
            .map(|&m| (index.entity_id(m), m))
            .collect();
        v.sort_unstable();
        v
    }
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RoamSet {
    pub(crate) slots: Vec<Option<RoamSlot>>,
    free: Vec<u32>,
    pub(crate) ids: HashMap<Arc<str>, u32, Hasher>,
    by_anchor: HashMap<Arc<str>, Vec<u32>, Hasher>,
    /// Per entity slot, the roaming fences it is inside (sorted). Kept
    /// apart from the entity record, which every fix may touch, because
    /// few entities are ever inside one.
    of: HashMap<u32, Vec<u32>, Hasher>,
}

impl RoamSet {
    pub(crate) fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub(crate) fn get(&self, slot: u32) -> &RoamSlot {
        self.slots[slot as usize]
            .as_ref()
            .expect("roaming slot referenced by state is live")
    }

    pub(crate) fn get_mut(&mut self, slot: u32) -> &mut RoamSlot {
        self.slots[slot as usize]
            .as_mut()
            .expect("roaming slot referenced by state is live")
    }

    fn anchored_on(&self, id: &str) -> Vec<u32> {
        self.by_anchor.get(id).cloned().unwrap_or_default()
    }

    /// The roaming fences entity `slot` is inside, sorted.
    pub(crate) fn memberships(&self, slot: u32) -> &[u32] {
        self.of.get(&slot).map_or(&[], Vec::as_slice)
    }

    fn replace_memberships(&mut self, slot: u32, now: Vec<u32>) -> Vec<u32> {
        if now.is_empty() {
            self.of.remove(&slot).unwrap_or_default()
        } else {
            self.of.insert(slot, now).unwrap_or_default()
        }
    }

    /// Records that entity `slot` is inside fence `r`; false if it already was.
    fn join(&mut self, slot: u32, r: u32) -> bool {
        let v = self.of.entry(slot).or_default();
        match v.binary_search(&r) {
            Ok(_) => false,
            Err(i) => {
                v.insert(i, r);
                true
            }
        }
    }

    fn leave(&mut self, slot: u32, r: u32) {
        if let Some(v) = self.of.get_mut(&slot) {
            v.retain(|&s| s != r);
            if v.is_empty() {
                self.of.remove(&slot);
            }
        }
    }
}

/// What changed for one entity in one fence.
struct Change {
    kind: FenceEventKind,
    entity: Arc<str>,
    slot: u32,
}

impl GeoIndex {
    /// Adds a roaming fence. It is placed at its anchor's latest
    /// good-accuracy fix (if the anchor is already here); entities are
    /// notified from the next accepted fix of the anchor or of themselves,
    /// as with [`GeoIndex::add_fence`].
    ///
    /// # Errors
    /// - [`Error::InvalidId`] if the fence or anchor id is empty or longer than
    ///   [`MAX_ID_LEN`](crate::MAX_ID_LEN) bytes;
    /// - [`Error::InvalidFence`] if the radius is not above 0 and at most
    ///   [`MAX_DISTANCE_M`](crate::MAX_DISTANCE_M), or its kinds or dwell
    ///   time are invalid;
    /// - [`Error::DuplicateFence`] if a fence or roaming fence of that id exists;
    /// - [`Error::InvalidKind`] if its kinds would exceed 65,536 distinct tags.
    pub fn add_roaming_fence(&mut self, fence: RoamingFence) -> Result<()> {
        fence.validate()?;
        if self.fences.ids.contains_key(&*fence.id) || self.roam.ids.contains_key(&*fence.id) {
            return Err(Error::DuplicateFence {
                fence: truncate(&fence.id),
            });
        }
        let kind_codes = fence
            .kinds
            .iter()
            .map(|k| self.kinds.intern(k))
            .collect::<Result<Vec<_>>>()?;
        let anchor_slot = self.slot_of(&fence.anchor);
        let mut rs = RoamSlot {
            radius: Radius::new(fence.radius_m),
            fence,
            kind_codes,
            center: None,
            xyz: [0.0; 3],
            anchor_slot,
            members: HashMap::default(),
        };
        if let Some(a) = anchor_slot
            && !self.hot[a as usize].low_acc
        {
            rs.place(self.hot[a as usize].fix.position());
        }
        let set = &mut self.roam;
        let slot = set.free.pop().unwrap_or_else(|| {
            set.slots.push(None);
            (set.slots.len() - 1) as u32
        });
        set.ids.insert(rs.fence.id.clone(), slot);
        set.by_anchor
            .entry(rs.fence.anchor.clone())
            .or_default()
            .push(slot);
        set.slots[slot as usize] = Some(rs);
        Ok(())
    }

    /// Removes a roaming fence and its per-entity state, without events;
    /// returns it.
    pub fn remove_roaming_fence(&mut self, id: &str) -> Option<RoamingFence> {
        let slot = self.roam.ids.remove(id)?;
        let rs = self.roam.slots[slot as usize].take()?;
        self.roam.free.push(slot);
        if let Some(list) = self.roam.by_anchor.get_mut(&*rs.fence.anchor) {
            list.retain(|&s| s != slot);
            if list.is_empty() {
                self.roam.by_anchor.remove(&*rs.fence.anchor);
            }
        }
        for &m in rs.members.keys() {
            self.roam.leave(m, slot);
        }
        Some(rs.fence)
    }

    /// A roaming fence by id.
    pub fn roaming_fence(&self, id: &str) -> Option<&RoamingFence> {
        let slot = *self.roam.ids.get(id)?;
        Some(&self.roam.get(slot).fence)
    }

    /// Every roaming fence, sorted by id.
    pub fn roaming_fences(&self) -> Vec<&RoamingFence> {
        let mut v: Vec<&RoamingFence> =
            self.roam.slots.iter().flatten().map(|r| &r.fence).collect();
        v.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Where a roaming fence currently is: its anchor's latest
    /// good-accuracy position (`None` before the anchor has one, or after
    /// it was removed).
    pub fn roaming_fence_center(&self, id: &str) -> Option<LatLon> {
        let slot = *self.roam.ids.get(id)?;
        self.roam.get(slot).center
    }

    pub(crate) fn roaming_members(&self, id: &str) -> Option<Vec<Arc<str>>> {
        let slot = *self.roam.ids.get(id)?;
        let mut v: Vec<Arc<str>> = self
            .roam
            .get(slot)
            .members
            .keys()
            .map(|&m| self.entity_id(m))
            .collect();
        v.sort_unstable();
        Some(v)
    }

    /// Re-evaluates roaming fences after an accepted good-accuracy fix of
    /// the entity in `slot`: fences it anchors move with it, and it enters
    /// or leaves the fences of other anchors.
    pub(crate) fn evaluate_roaming(&mut self, slot: u32, id: &str) {
        if self.roam.is_empty() {
            return;
        }
        let fix = self.hot[slot as usize].fix;
        for r in self.roam.anchored_on(id) {
            let rs = self.roam.get_mut(r);
            rs.anchor_slot = Some(slot);
            rs.place(fix.position());
            self.recompute_roaming(r, fix.ts_ms);
        }
        let kind = self.hot[slot as usize].kind;
        let xyz = unit(fix.lat, fix.lon);
        let mut now: Vec<u32> = Vec::new();
        for (r, rs) in self.roam.slots.iter().enumerate() {
            let Some(rs) = rs else { continue };
            if rs.center.is_some()
                && rs.anchor_slot != Some(slot)
                && rs.applies_to(kind)
                && rs.radius.contains(chord2(&xyz, &rs.xyz))
            {
                now.push(r as u32);
            }
        }
        if now.is_empty() && self.roam.memberships(slot).is_empty() {
            return;
        }
        let was = self.roam.replace_memberships(slot, now.clone());
        let entity = self.entity_id(slot);
        let mut changes = Vec::new();
        for &r in &was {
            if now.binary_search(&r).is_err() {
                self.roam.get_mut(r).members.remove(&slot);
                changes.push((r, FenceEventKind::Exit));
            }
        }
        for &r in &now {
            let rs = self.roam.get_mut(r);
            let st = rs.members.entry(slot).or_insert_with(|| {
                changes.push((r, FenceEventKind::Enter));
                RoamState {
                    since: fix.ts_ms,
                    dwelt: false,
                }
            });
            if !st.dwelt
                && let Some(d) = rs.fence.dwell_ms
                && fix.ts_ms.saturating_sub(st.since) >= d
            {
                st.dwelt = true;
                changes.push((r, FenceEventKind::Dwell));
            }
        }
        for (r, kind) in changes {
            let fence = self.roam.get(r).fence.id.clone();
            self.push_event(kind, entity.clone(), fence, fix.ts_ms, fix.position());
        }
    }

    /// Recomputes the members of roaming fence `r` around its (new) centre:
    /// one radius query. Entities whose latest fix is of poor accuracy keep
    /// their state.
    fn recompute_roaming(&mut self, r: u32, ts: i64) {
        let rs = self.roam.get(r);
        let Some(center) = rs.center else { return };
        let filter = QueryFilter {
            kinds: rs.fence.kinds.clone(),
            include_stale: true,
            exclude_low_accuracy: true,
        };
        let mut now: Vec<u32> = self
            .search(center, rs.fence.radius_m, usize::MAX, &filter)
            .into_iter()
            .map(|(_, m)| m)
            .filter(|&m| Some(m) != rs.anchor_slot)
            .collect();
        now.extend(
            rs.members
                .keys()
                .copied()
                .filter(|&m| self.hot[m as usize].low_acc),
        );
        now.sort_unstable();
        now.dedup();
        let mut changes: Vec<Change> = Vec::new();
        for (entity, m) in rs.sorted_members(self) {
            if now.binary_search(&m).is_err() {
                changes.push(Change {
                    kind: FenceEventKind::Exit,
                    entity,
                    slot: m,
                });
            }
        }
        let mut entered: Vec<Change> = now
            .iter()
            .filter(|m| !rs.members.contains_key(m))
            .map(|&m| Change {
                kind: FenceEventKind::Enter,
                entity: self.entity_id(m),
                slot: m,
            })
            .collect();
        entered.sort_unstable_by(|a, b| a.entity.cmp(&b.entity));
        changes.extend(entered);
        let dwell = rs.fence.dwell_ms;
        let fence = rs.fence.id.clone();
        for c in &changes {
            if c.kind == FenceEventKind::Exit {
                self.roam.get_mut(r).members.remove(&c.slot);
                self.roam.leave(c.slot, r);
            } else {
                self.roam.get_mut(r).members.insert(
                    c.slot,
                    RoamState {
                        since: ts,
                        dwelt: false,
                    },
                );
                self.roam.join(c.slot, r);
            }
        }
        if let Some(d) = dwell {
            for (entity, m) in self.roam.get(r).sorted_members(self) {
                let st = self.roam.get_mut(r).members.get_mut(&m).expect("member");
                if !st.dwelt && ts.saturating_sub(st.since) >= d {
                    st.dwelt = true;
                    changes.push(Change {
                        kind: FenceEventKind::Dwell,
                        entity,
                        slot: m,
                    });
                }
            }
        }
        for c in changes {
            let position = self.hot[c.slot as usize].fix.position();
            self.push_event(c.kind, c.entity, fence.clone(), ts, position);
        }
    }

    /// Dwell events due at `now` in roaming fences, as `(fence, entity,
    /// slot, fence slot)`.
    pub(crate) fn roaming_dwell_due(&self, now: i64) -> Vec<(Arc<str>, Arc<str>, u32, u32)> {
        let mut due = Vec::new();
        for (r, rs) in self.roam.slots.iter().enumerate() {
            let Some(rs) = rs else { continue };
            let Some(d) = rs.fence.dwell_ms else { continue };
            for (&m, st) in &rs.members {
                if !st.dwelt && now.saturating_sub(st.since) >= d {
                    due.push((rs.fence.id.clone(), self.entity_id(m), m, r as u32));
                }
            }
        }
        due
    }

    /// Marks a roaming Dwell as emitted.
    pub(crate) fn roaming_dwelt(&mut self, r: u32, m: u32) {
        if let Some(st) = self.roam.get_mut(r).members.get_mut(&m) {
            st.dwelt = true;
        }
    }

    /// The entity in `slot` is being removed: it leaves the roaming fences
    /// it was in (the caller emits Removed for those, listed in its record),
    /// and fences anchored on it are lifted, their members getting Exit.
    pub(crate) fn roaming_entity_removed(&mut self, slot: u32, id: &str, ts: i64) {
        for r in self.roam.replace_memberships(slot, Vec::new()) {
            self.roam.get_mut(r).members.remove(&slot);
        }
        for r in self.roam.anchored_on(id) {
            let rs = self.roam.get(r);
            if rs.anchor_slot != Some(slot) {
                continue;
            }
            let members = rs.sorted_members(self);
            let fence = rs.fence.id.clone();
            for (entity, m) in members {
                self.roam.leave(m, r);
                let position = self.hot[m as usize].fix.position();
                self.push_event(FenceEventKind::Exit, entity, fence.clone(), ts, position);
            }
            let rs = self.roam.get_mut(r);
            rs.members.clear();
            rs.center = None;
            rs.anchor_slot = None;
        }
    }

    /// Restores a roaming fence's placement and members (snapshots).
    pub(crate) fn restore_roaming(
        &mut self,
        id: &str,
        center: Option<LatLon>,
        members: Vec<(u32, RoamState)>,
    ) -> Result<()> {
        let r = *self.roam.ids.get(id).expect("fence was just added");
        let anchor = self.roam.get(r).anchor_slot;
        for &(m, _) in &members {
            if Some(m) == anchor {
                return Err(Error::InvalidFence {
                    fence: truncate(id),
                    reason: "the anchor is a member of its own fence".into(),
                });
            }
            if self.entities.get(m as usize).is_none_or(Option::is_none) {
                return Err(Error::InvalidFence {
                    fence: truncate(id),
                    reason: format!("member slot {m} is not an entity"),
                });
            }
            if !self.roam.join(m, r) {
                return Err(Error::InvalidFence {
                    fence: truncate(id),
                    reason: "an entity is a member twice".into(),
                });
            }
        }
        let rs = self.roam.get_mut(r);
        rs.center = None;
        if let Some(c) = center {
            rs.place(c);
        }
        rs.members = members.into_iter().collect();
        Ok(())
    }

    fn push_event(
        &mut self,
        kind: FenceEventKind,
        entity: Arc<str>,
        fence: Arc<str>,
        ts_ms: i64,
        position: LatLon,
    ) {
        self.events.push(FenceEvent {
            kind,
            entity,
            fence,
            ts_ms,
            position,
        });
        self.stats.events += 1;
    }
}
