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
/// Two ways to build one: [`Fence::from_lat_lon`] takes rings of
/// `(lat, lon)` pairs, the order of [`crate::Fix::new`], [`LatLon::new`]
/// and [`Fence::contains_point`]; [`Fence::new`] takes `geo` shapes
/// (re-exported as [`crate::geo`]), which are `(x, y)` = `(lon, lat)`, as
/// in GeoJSON, and can be multipolygons.
///
/// ```
/// use blocksmith_geo::geo::polygon;
/// use blocksmith_geo::{Fence, Kind};
/// // (lat, lon), as everywhere else in this crate's API.
/// let airport = Fence::from_lat_lon("cdg", [[(48.99, 2.50), (48.99, 2.60), (49.03, 2.60), (49.03, 2.50)]])?;
/// // The same area as a `geo` polygon: x = longitude, y = latitude.
/// let shape = polygon![(x: 2.50, y: 48.99), (x: 2.60, y: 48.99), (x: 2.60, y: 49.03), (x: 2.50, y: 49.03)];
/// assert_eq!(airport, Fence::new("cdg", shape));
/// let fence = airport.with_kinds([Kind::Driver]).with_dwell_ms(300_000);
/// assert!(fence.contains_point(49.0, 2.55));
/// assert!(!fence.contains_point(48.0, 2.55));
/// # Ok::<(), blocksmith_geo::Error>(())
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

    /// A fence for every kind, without dwell events, over one polygon given
    /// as rings of `(latitude, longitude)` points in degrees: the first ring
    /// is the boundary, the others are holes (GeoJSON's polygon layout, in
    /// this crate's lat/lon order). Closing a ring is optional. The points
    /// are checked here as coordinates; the shape is checked like any other
    /// when the fence is added to an index.
    ///
    /// # Errors
    /// [`Error::InvalidCoordinate`] for a NaN or infinite value, a latitude
    /// beyond ±90 or a longitude beyond ±360 (fences may cross the
    /// antimeridian by going past ±180).
    pub fn from_lat_lon<R>(
        id: impl Into<Arc<str>>,
        rings: impl IntoIterator<Item = R>,
    ) -> Result<Self>
    where
        R: IntoIterator<Item = (f64, f64)>,
    {
        let mut rings = rings
            .into_iter()
            .map(|ring| {
                ring.into_iter()
                    .map(|(lat, lon)| {
                        if !(lat.is_finite()
                            && lon.is_finite()
                            && lat.abs() <= 90.0
                            && lon.abs() <= 360.0)
                        {
                            return Err(Error::InvalidCoordinate { lat, lon });
                        }
                        Ok(Coord { x: lon, y: lat })
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(geo::LineString::new)
            })
            .collect::<Result<Vec<_>>>()?
            .into_iter();
        let outer = rings
            .next()
            .unwrap_or_else(|| geo::LineString::new(Vec::new()));
        Ok(Fence::new(id, geo::Polygon::new(outer, rings.collect())))
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

/// The squared distance from `c` to the nearest edge of the flattened
/// shape (see [`flatten`]).
fn flat_edge_d2(flat: &[f64], c: Coord<f64>) -> f64 {
    let mut d2 = f64::INFINITY;
    let mut i = 1;
    let npolys = flat.first().map_or(0, |n| *n as usize);
    for _ in 0..npolys {
        let nrings = flat[i] as usize;
        i += 1;
        for _ in 0..nrings {
            let npts = flat[i] as usize;
            let pts = &flat[i + 1..i + 1 + 2 * npts];
            i += 1 + 2 * npts;
            for k in 0..npts.saturating_sub(1) {
                let (sx, sy, ex, ey) = (pts[2 * k], pts[2 * k + 1], pts[2 * k + 2], pts[2 * k + 3]);
                let (vx, vy, wx, wy) = (ex - sx, ey - sy, c.x - sx, c.y - sy);
                let len2 = vx * vx + vy * vy;
                let t = if len2 > 0.0 {
                    ((wx * vx + wy * vy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (dx, dy) = (wx - t * vx, wy - t * vy);
                d2 = d2.min(dx * dx + dy * dy);
            }
            if npts == 1 {
                let (dx, dy) = (c.x - pts[0], c.y - pts[1]);
                d2 = d2.min(dx * dx + dy * dy);
            }
        }
    }
    d2
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

/// Most candidate entries (over all cached tiles) before the cache is
/// cleared.
const MAX_TILE_FENCES: usize = 1 << 24;

/// Where a tile's candidate list lives in [`FenceSet`]'s arena: offset and
/// length, valid while [`FenceSet::generation`] is unchanged.
pub(crate) type TileList = (u32, u32);

type Node = GeomWithData<Rectangle<[f64; 2]>, u32>;

#[derive(Debug, Clone, Default)]
pub(crate) struct FenceSet {
    pub(crate) slots: Vec<Option<FenceSlot>>,
    free: Vec<u32>,
    pub(crate) ids: HashMap<Arc<str>, u32, Hasher>,
    tree: RTree<Node>,
    wrapped_east: usize,
    wrapped_west: usize,
    /// Per index cell, where the fences whose boxes meet it sit in
    /// `arena` (found with the R*-tree on first use, dropped whenever
    /// fences change).
    tiles: HashMap<u64, TileList, Hasher>,
    /// The candidate lists of every cached tile, one after the other.
    arena: Vec<TileFence>,
    /// Bumped whenever fences change or the tile cache is cleared: a
    /// per-entity cache of fence state or of a tile list taken under another
    /// generation is stale. Never 0 once a fence was added.
    generation: u64,
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
        self.reset_tiles();
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
        self.reset_tiles();
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

    /// Drops the cached tile lists and starts a new generation.
    fn reset_tiles(&mut self) {
        self.tiles.clear();
        self.arena.clear();
        self.generation += 1;
    }

    /// The current generation (see the field).
    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Reads the rings of the candidates of tile `tile` whose boxes hold the
    /// point (see [`crate::GeoIndex::upsert_batch`]).
    pub(crate) fn touch_tile(&self, tile: u64, lat: f64, lon: f64) -> f64 {
        self.tiles
            .get(&tile)
            .map_or(0.0, |&list| self.touch_candidates(list, lat, lon))
    }

    /// Reads every cache line of the rings of the candidates of `list`
    /// whose boxes contain the point: what [`FenceSet::containing_in_list`]
    /// will read for it.
    pub(crate) fn touch_candidates(&self, (off, len): TileList, lat: f64, lon: f64) -> f64 {
        let Some(list) = self.arena.get(off as usize..(off + len) as usize) else {
            return 0.0;
        };
        let mut sum = 0.0;
        for t in list {
            let x = lon + t.shift;
            if x < t.min[0] || x > t.max[0] || lat < t.min[1] || lat > t.max[1] {
                continue;
            }
            sum += t.flat.iter().step_by(8).sum::<f64>();
        }
        sum
    }

    /// The candidate list of index cell `tile` (bounds `south, west, north,
    /// east`): the fences whose boxes meet it, found with the R*-tree on
    /// first use and cached. May start a new generation (when the cache is
    /// full).
    pub(crate) fn tile_list(&mut self, tile: u64, [s, w, n, e]: [f64; 4]) -> TileList {
        if let Some(&list) = self.tiles.get(&tile) {
            return list;
        }
        if self.tiles.len() >= MAX_TILES || self.arena.len() >= MAX_TILE_FENCES {
            self.reset_tiles();
        }
        let off = self.arena.len();
        for shift in self.shifts().into_iter().flatten() {
            let env = AABB::from_corners([w + shift, s], [e + shift, n]);
            for node in self.tree.locate_in_envelope_intersecting(&env) {
                let (min, max) = (node.geom().lower(), node.geom().upper());
                let fs = self.slots[node.data as usize]
                    .as_ref()
                    .expect("fence slot in the tree is live");
                self.arena.push(TileFence {
                    slot: node.data,
                    shift,
                    min,
                    max,
                    all_kinds: fs.kind_codes.is_empty(),
                    flat: fs.flat.clone(),
                });
            }
        }
        let list = (off as u32, (self.arena.len() - off) as u32);
        self.tiles.insert(tile, list);
        list
    }

    /// Like [`FenceSet::containing`] for a point of a tile whose candidate
    /// list is `list` (from [`FenceSet::tile_list`] in this generation).
    pub(crate) fn containing_in_list(
        &self,
        lat: f64,
        lon: f64,
        kind: Option<u16>,
        (off, len): TileList,
        out: &mut Vec<u32>,
    ) {
        out.clear();
        let list = &self.arena[off as usize..(off + len) as usize];
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

    /// A distance (in degrees of the longitude/latitude plane the
    /// containment tests work in) within which the point can move without
    /// crossing the boundary of any fence of tile list `list` that applies
    /// to `kind`: while it stays in the tile, closer than this to `(lat,
    /// lon)`, with the same kind and fences, [`FenceSet::containing_in_list`]
    /// gives the same answer (a disc meeting no boundary lies wholly inside
    /// or wholly outside each polygon). Rounded down by a margin far above
    /// the rounding errors; infinite when no fence applies.
    pub(crate) fn clearance(
        &self,
        lat: f64,
        lon: f64,
        kind: Option<u16>,
        (off, len): TileList,
    ) -> f64 {
        let list = &self.arena[off as usize..(off + len) as usize];
        let applies = |t: &TileFence| t.all_kinds || self.get(t.slot).applies_to(kind);
        // The squared distance from the point to a candidate's box (0 inside).
        let box_d2 = |t: &TileFence| {
            let x = lon + t.shift;
            let dx = (t.min[0] - x).max(x - t.max[0]).max(0.0);
            let dy = (t.min[1] - lat).max(lat - t.max[1]).max(0.0);
            dx * dx + dy * dy
        };
        // Edges of the fences whose boxes hold the point first, then those
        // of the other fences whose boxes are nearer than the nearest edge
        // so far (a box is never farther than its shape).
        let mut d2 = f64::INFINITY;
        for t in list {
            if applies(t) && box_d2(t) == 0.0 {
                d2 = d2.min(flat_edge_d2(
                    &t.flat,
                    Coord {
                        x: lon + t.shift,
                        y: lat,
                    },
                ));
            }
        }
        for t in list {
            let b = box_d2(t);
            if b > 0.0 && b < d2 && applies(t) {
                d2 = d2.min(flat_edge_d2(
                    &t.flat,
                    Coord {
                        x: lon + t.shift,
                        y: lat,
                    },
                ));
            }
        }
        // 1e-9 relative and 1e-10 degrees (about 10 micrometres) absolute:
        // the distances are exact to about 1e-13 degrees.
        d2.sqrt() * (1.0 - 1e-9) - 1e-10
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
