//! Geofences: polygons with holes, indexed in an R*-tree of their bounding
//! boxes, with Enter / Exit / Dwell events.

use crate::error::truncate;
use crate::{Error, Kind, LatLon, Result};
use geo::kernels::RobustKernel;
use geo::{BoundingRect, Coord, Intersects, Kernel, MultiPolygon, Orientation};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

type Hasher = foldhash::fast::RandomState;

/// Longest entity or fence id, in bytes.
pub const MAX_ID_LEN: usize = 256;

pub(crate) fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(Error::InvalidId {
            id: truncate(id),
            reason: "an id is 1 to 256 bytes",
        });
    }
    Ok(())
}

/// A geofence: one or more polygons (with holes) in longitude/latitude
/// degrees (`x` = longitude, `y` = latitude, as in GeoJSON), optionally
/// limited to some kinds of entity, optionally emitting a Dwell event once
/// an entity has stayed inside for `dwell_ms`.
///
/// Edges are straight lines in longitude/latitude, as in GeoJSON. A point on
/// an edge is inside. A fence may cross the antimeridian by using longitudes
/// past ±180 (for example 170 to 190), up to ±360 and at most 360 wide.
///
/// ```
/// use blocksmith_geo::{Fence, Kind};
/// use geo::polygon;
/// let airport = polygon![(x: 2.50, y: 48.99), (x: 2.60, y: 48.99), (x: 2.60, y: 49.03), (x: 2.50, y: 49.03)];
/// let fence = Fence::new("cdg", airport).with_kinds([Kind::Driver]).with_dwell_ms(300_000);
/// assert!(fence.contains_point(49.0, 2.55));
/// assert!(!fence.contains_point(48.0, 2.55));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Fence {
    /// The fence id (1 to [`MAX_ID_LEN`] bytes).
    pub id: Arc<str>,
    /// The area, `x` = longitude and `y` = latitude in degrees.
    pub shape: MultiPolygon<f64>,
    /// Kinds of entity the fence applies to; empty means every kind.
    pub kinds: Vec<Kind>,
    /// Emit [`FenceEventKind::Dwell`] after this long inside, in milliseconds.
    pub dwell_ms: Option<i64>,
}

impl Fence {
    /// A fence for every kind, without dwell events.
    pub fn new(id: impl Into<Arc<str>>, shape: impl Into<MultiPolygon<f64>>) -> Self {
        Fence {
            id: id.into(),
            shape: shape.into(),
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

    /// True if the point (degrees) is inside or on the boundary, trying the
    /// longitude shifted by ±360 for fences that cross the antimeridian.
    pub fn contains_point(&self, lat: f64, lon: f64) -> bool {
        let Some(r) = self.shape.bounding_rect() else {
            return false;
        };
        shifts(r.min().x, r.max().x, lon)
            .into_iter()
            .flatten()
            .any(|x| self.shape.intersects(&Coord { x, y: lat }))
    }

    /// Checks the shape and options; returns the bounding box.
    pub(crate) fn validate(&self) -> Result<geo::Rect<f64>> {
        check_id(&self.id)?;
        let bad = |reason: String| Error::InvalidFence {
            fence: truncate(&self.id),
            reason,
        };
        if self.shape.0.is_empty() {
            return Err(bad("no polygon".into()));
        }
        for (i, poly) in self.shape.0.iter().enumerate() {
            for (j, ring) in std::iter::once(poly.exterior())
                .chain(poly.interiors())
                .enumerate()
            {
                if ring.0.len() < 4 {
                    return Err(bad(format!(
                        "polygon {i} ring {j} has fewer than 3 distinct points"
                    )));
                }
                if let Some(c) = ring.0.iter().find(|c| {
                    !(c.x.is_finite() && c.y.is_finite() && c.y.abs() <= 90.0 && c.x.abs() <= 360.0)
                }) {
                    return Err(bad(format!(
                        "coordinate x={} y={} out of range (|lat| <= 90, |lon| <= 360)",
                        c.x, c.y
                    )));
                }
            }
        }
        let rect = self
            .shape
            .bounding_rect()
            .ok_or_else(|| bad("empty shape".into()))?;
        if rect.width() > 360.0 {
            return Err(bad("wider than 360 degrees of longitude".into()));
        }
        check_kinds_and_dwell(&self.kinds, self.dwell_ms).map_err(bad)?;
        Ok(rect)
    }
}

/// The options fences of both sorts share: kind tags in range, a
/// non-negative dwell time.
pub(crate) fn check_kinds_and_dwell(
    kinds: &[Kind],
    dwell_ms: Option<i64>,
) -> std::result::Result<(), String> {
    if let Some(d) = dwell_ms
        && d < 0
    {
        return Err(format!("negative dwell time {d}"));
    }
    for k in kinds {
        if let Kind::Tag(t) = k
            && (t.is_empty() || t.len() > crate::kind::MAX_KIND_LEN)
        {
            return Err(format!("bad kind tag {:?}", truncate(t)));
        }
    }
    Ok(())
}

/// The longitudes at which to test a point against a shape spanning
/// `min_x..=max_x`.
#[inline]
fn shifts(min_x: f64, max_x: f64, lon: f64) -> [Option<f64>; 3] {
    [
        Some(lon),
        (max_x > 180.0).then_some(lon + 360.0),
        (min_x < -180.0).then_some(lon - 360.0),
    ]
}

/// What happened between an entity and a fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum FenceEventKind {
    /// The entity's first accepted fix inside the fence.
    Enter,
    /// The entity's first accepted fix outside after being inside.
    Exit,
    /// The entity has been inside for the fence's dwell time.
    Dwell,
    /// The entity was inside when it was removed or evicted as stale.
    Removed,
}

/// An event emitted by [`crate::GeoIndex`]; collect them with
/// [`crate::GeoIndex::drain_events`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FenceEvent {
    /// What happened.
    pub kind: FenceEventKind,
    /// The entity id.
    pub entity: Arc<str>,
    /// The fence id.
    pub fence: Arc<str>,
    /// The time of the fix (or of the clock, for Dwell from
    /// [`crate::GeoIndex::advance_clock`] and for evictions).
    pub ts_ms: i64,
    /// The entity's position.
    pub position: LatLon,
}

/// Per-(entity, fence) state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Inside {
    pub(crate) fence: u32,
    pub(crate) since: i64,
    pub(crate) dwelt: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct FenceSlot {
    pub(crate) fence: Fence,
    pub(crate) kind_codes: Vec<u16>,
    rect: Rectangle<[f64; 2]>,
    /// The rings in one allocation (see [`flatten`]).
    flat: Arc<[f64]>,
    pub(crate) members: HashSet<u32, Hasher>,
}

impl FenceSlot {
    #[inline]
    fn applies_to(&self, kind: Option<u16>) -> bool {
        kind.is_none_or(|k| self.kind_codes.is_empty() || self.kind_codes.contains(&k))
    }
}

/// The shape as `[polygons, (rings, (points, x0, y0, x1, y1, ...)...)...]`
/// in one allocation: the containment test then follows one pointer
/// instead of one per polygon and ring.
fn flatten(shape: &MultiPolygon<f64>) -> Arc<[f64]> {
    let mut v = vec![shape.0.len() as f64];
    for p in &shape.0 {
        v.push((1 + p.interiors().len()) as f64);
        for r in std::iter::once(p.exterior()).chain(p.interiors()) {
            v.push(r.0.len() as f64);
            for c in &r.0 {
                v.push(c.x);
                v.push(c.y);
            }
        }
    }
    v.into()
}

#[derive(PartialEq)]
enum Pos {
    Inside,
    Boundary,
    Outside,
}

/// `geo`'s `coord_pos_relative_to_ring` (winding number with
/// `RobustKernel` orientation, boundary short-cut) over flat points.
#[allow(clippy::float_cmp)] // exact comparisons, as in geo: the rules need them
fn ring_pos(c: Coord<f64>, pts: &[f64]) -> Pos {
    let n = pts.len() / 2;
    let at = |i: usize| Coord {
        x: pts[2 * i],
        y: pts[2 * i + 1],
    };
    match n {
        0 => return Pos::Outside,
        1 => {
            return if c == at(0) {
                Pos::Boundary
            } else {
                Pos::Outside
            };
        }
        _ => {}
    }
    let between = |x: f64, a: f64, b: f64| {
        if a < b {
            x >= a && x <= b
        } else {
            x >= b && x <= a
        }
    };
    let mut winding = 0i32;
    for i in 0..n - 1 {
        let (s, e) = (at(i), at(i + 1));
        if s.y <= c.y {
            if e.y >= c.y {
                let o = RobustKernel::orient2d(s, e, c);
                if o == Orientation::CounterClockwise && e.y != c.y {
                    winding += 1;
                } else if o == Orientation::Collinear && between(c.x, s.x, e.x) {
                    return Pos::Boundary;
                }
            }
        } else if e.y <= c.y {
            let o = RobustKernel::orient2d(s, e, c);
            if o == Orientation::Clockwise {
                winding -= 1;
            } else if o == Orientation::Collinear && between(c.x, s.x, e.x) {
                return Pos::Boundary;
            }
        }
    }
    if winding == 0 {
        Pos::Outside
    } else {
        Pos::Inside
    }
}

/// Inside or on the boundary of the flattened shape: the answer of `geo`'s
/// `MultiPolygon::intersects(&Coord)` (a polygon contains the point if its
/// exterior does and no hole strictly does; a boundary counts as inside).
fn flat_contains(flat: &[f64], c: Coord<f64>) -> bool {
    let mut i = 1;
    let npolys = flat.first().map_or(0, |n| *n as usize);
    for _ in 0..npolys {
        let nrings = flat[i] as usize;
        i += 1;
        let mut verdict: Option<bool> = None;
        for r in 0..nrings {
            let npts = flat[i] as usize;
            let pts = &flat[i + 1..i + 1 + 2 * npts];
            i += 1 + 2 * npts;
            if verdict.is_some() {
                continue;
            }
            match (r, ring_pos(c, pts)) {
                (0, Pos::Outside) => verdict = Some(false),
                (_, Pos::Boundary) => verdict = Some(true),
                (0, Pos::Inside) | (_, Pos::Outside) => {}
                (_, Pos::Inside) => verdict = Some(false),
            }
        }
        if verdict.unwrap_or(true) {
            return true;
        }
    }
    false
}

/// A fence whose box meets a tile, with the longitude shift (0 or ±360)
/// under which it does, its box and rings.
#[derive(Debug, Clone)]
struct TileFence {
    slot: u32,
    shift: f64,
    min: [f64; 2],
    max: [f64; 2],
    all_kinds: bool,
    flat: Arc<[f64]>,
}

/// Most tiles cached before the cache is cleared.
const MAX_TILES: usize = 1 << 20;

type Node = GeomWithData<Rectangle<[f64; 2]>, u32>;

#[derive(Debug, Clone, Default)]
pub(crate) struct FenceSet {
    pub(crate) slots: Vec<Option<FenceSlot>>,
    free: Vec<u32>,
    pub(crate) ids: HashMap<Arc<str>, u32, Hasher>,
    tree: RTree<Node>,
    wrapped_east: usize,
    wrapped_west: usize,
    /// Per index cell, the fences whose boxes meet it (found with the
    /// R*-tree on first use, dropped whenever fences change).
    tiles: HashMap<u64, Box<[TileFence]>, Hasher>,
    /// Dwell time per slot, apart so the hot path need not read the slot.
    dwell: Vec<Option<i64>>,
}

impl FenceSet {
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Adds a validated fence whose kinds are interned as `kind_codes`.
    pub(crate) fn insert(
        &mut self,
        fence: Fence,
        rect: geo::Rect<f64>,
        kind_codes: Vec<u16>,
    ) -> u32 {
        let r = Rectangle::from_corners([rect.min().x, rect.min().y], [rect.max().x, rect.max().y]);
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            (self.slots.len() - 1) as u32
        });
        self.wrapped_east += usize::from(rect.max().x > 180.0);
        self.wrapped_west += usize::from(rect.min().x < -180.0);
        self.tree.insert(GeomWithData::new(r, slot));
        self.ids.insert(fence.id.clone(), slot);
        let flat = flatten(&fence.shape);
        if self.dwell.len() <= slot as usize {
            self.dwell.resize(slot as usize + 1, None);
        }
        self.dwell[slot as usize] = fence.dwell_ms;
        self.slots[slot as usize] = Some(FenceSlot {
            fence,
            kind_codes,
            rect: r,
            flat,
            members: HashSet::default(),
        });
        self.tiles.clear();
        slot
    }

    /// Removes a fence, returning its slot contents.
    pub(crate) fn remove(&mut self, id: &str) -> Option<(u32, FenceSlot)> {
        let slot = self.ids.remove(id)?;
        let fs = self.slots[slot as usize].take()?;
        self.tree.remove(&GeomWithData::new(fs.rect, slot));
        let (lo, hi) = (fs.rect.lower(), fs.rect.upper());
        self.wrapped_east -= usize::from(hi[0] > 180.0);
        self.wrapped_west -= usize::from(lo[0] < -180.0);
        self.free.push(slot);
        self.tiles.clear();
        Some((slot, fs))
    }

    pub(crate) fn get(&self, slot: u32) -> &FenceSlot {
        self.slots[slot as usize]
            .as_ref()
            .expect("fence slot referenced by state is live")
    }

    /// The dwell time of a live fence, from a compact array.
    #[inline]
    pub(crate) fn dwell(&self, slot: u32) -> Option<i64> {
        self.dwell.get(slot as usize).copied().flatten()
    }

    pub(crate) fn get_mut(&mut self, slot: u32) -> &mut FenceSlot {
        self.slots[slot as usize]
            .as_mut()
            .expect("fence slot referenced by state is live")
    }

    fn shifts(&self) -> [Option<f64>; 3] {
        [
            Some(0.0),
            (self.wrapped_east > 0).then_some(360.0),
            (self.wrapped_west > 0).then_some(-360.0),
        ]
    }

    /// Reads the start of a tile's candidate list and of its first
    /// candidates' rings (see [`crate::GeoIndex::upsert_batch`]).
    pub(crate) fn touch_tile(&self, tile: u64) -> f64 {
        self.tiles.get(&tile).map_or(0.0, |list| {
            list.iter()
                .take(4)
                .map(|t| t.min[0] + t.flat.first().copied().unwrap_or(0.0))
                .sum()
        })
    }

    /// Like [`FenceSet::containing`] for a point in index cell `tile`
    /// (bounds `south, west, north, east`), reusing the tile's candidate
    /// list across calls: entities mostly stay in their cell between fixes.
    pub(crate) fn containing_in_tile(
        &mut self,
        lat: f64,
        lon: f64,
        kind: Option<u16>,
        tile: (u64, [f64; 4]),
        out: &mut Vec<u32>,
    ) {
        out.clear();
        if self.ids.is_empty() {
            return;
        }
        if !self.tiles.contains_key(&tile.0) {
            if self.tiles.len() >= MAX_TILES {
                self.tiles.clear();
            }
            let [s, w, n, e] = tile.1;
            let mut list = Vec::new();
            for shift in self.shifts().into_iter().flatten() {
                let env = AABB::from_corners([w + shift, s], [e + shift, n]);
                for node in self.tree.locate_in_envelope_intersecting(&env) {
                    let (min, max) = (node.geom().lower(), node.geom().upper());
                    let fs = self.get(node.data);
                    list.push(TileFence {
                        slot: node.data,
                        shift,
                        min,
                        max,
                        all_kinds: fs.kind_codes.is_empty(),
                        flat: fs.flat.clone(),
                    });
                }
            }
            self.tiles.insert(tile.0, list.into_boxed_slice());
        }
        let Some(list) = self.tiles.get(&tile.0) else {
            return;
        };
        // Boxes first, touching each candidate's rings so that their cache
        // misses overlap, then the exact tests.
        let mut hits = [0u32; 64];
        let mut n = 0;
        let mut sink = 0.0;
        for (i, t) in list.iter().enumerate() {
            let x = lon + t.shift;
            if x < t.min[0] || x > t.max[0] || lat < t.min[1] || lat > t.max[1] {
                continue;
            }
            if n == hits.len() {
                // Very many overlapping boxes: test the rest directly.
                if (t.all_kinds || self.get(t.slot).applies_to(kind))
                    && flat_contains(&t.flat, Coord { x, y: lat })
                {
                    out.push(t.slot);
                }
                continue;
            }
            sink += t.flat.first().copied().unwrap_or(0.0);
            hits[n] = i as u32;
            n += 1;
        }
        std::hint::black_box(sink);
        for &i in &hits[..n] {
            let t = &list[i as usize];
            if !t.all_kinds && !self.get(t.slot).applies_to(kind) {
                continue;
            }
            if flat_contains(
                &t.flat,
                Coord {
                    x: lon + t.shift,
                    y: lat,
                },
            ) {
                out.push(t.slot);
            }
        }
        if out.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
    }

    /// Appends to `out` (sorted, unique) the fences that apply to `kind` and
    /// contain the point.
    pub(crate) fn containing(&self, lat: f64, lon: f64, kind: Option<u16>, out: &mut Vec<u32>) {
        out.clear();
        if self.ids.is_empty() {
            return;
        }
        let xs = [
            Some(lon),
            (self.wrapped_east > 0).then_some(lon + 360.0),
            (self.wrapped_west > 0).then_some(lon - 360.0),
        ];
        for x in xs.into_iter().flatten() {
            for node in self.tree.locate_all_at_point(&[x, lat]) {
                let fs = self.get(node.data);
                if fs.applies_to(kind) && flat_contains(&fs.flat, Coord { x, y: lat }) {
                    out.push(node.data);
                }
            }
        }
        if out.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, Polygon};
    use proptest::prelude::*;

    fn ring(pts: &[(i8, i8)]) -> LineString<f64> {
        pts.iter()
            .map(|&(x, y)| (f64::from(x) / 4.0, f64::from(y) / 4.0))
            .collect::<Vec<_>>()
            .into()
    }

    proptest! {
        /// The flat test gives `geo`'s answer, boundaries and vertices
        /// included (coordinates on a quarter-degree lattice make points land
        /// exactly on edges and corners).
        #[test]
        fn flat_contains_matches_geo(
            polys in proptest::collection::vec(
                (proptest::collection::vec((-8i8..8, -8i8..8), 3..8),
                 proptest::collection::vec(proptest::collection::vec((-8i8..8, -8i8..8), 3..6), 0..2)),
                1..3),
            probes in proptest::collection::vec((-18i16..18, -18i16..18), 1..40),
        ) {
            let shape = MultiPolygon(
                polys.iter().map(|(ext, holes)| Polygon::new(ring(ext), holes.iter().map(|h| ring(h)).collect())).collect(),
            );
            let flat = flatten(&shape);
            let mut points: Vec<Coord<f64>> = probes
                .iter()
                .map(|&(x, y)| Coord { x: f64::from(x) / 8.0, y: f64::from(y) / 8.0 })
                .collect();
            for p in &shape.0 {
                points.extend(p.exterior().0.iter().copied());
            }
            for c in points {
                prop_assert_eq!(flat_contains(&flat, c), shape.intersects(&c), "{:?}", c);
            }
        }
    }
}
