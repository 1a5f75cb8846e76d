//! The moving-entity index: upserts, queries, staleness, geofence state.

use crate::fence::{Fence, FenceEvent, FenceEventKind, FenceSet, Inside, check_id};
use crate::grid::{ColRun, Grid, key};
use crate::id::IdKey;
use crate::kind::Kinds;
use crate::roam::RoamSet;
use crate::sphere::{self, MAX_DISTANCE_M, chord2, chord2_to_m, m_to_chord2, unit};
use crate::trajectory::{HistoryOptions, TrackPoint, Trajectory};
use crate::{Error, Kind, LatLon, Result};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

type Hasher = foldhash::fast::RandomState;

/// Tags a roaming fence slot among polygon fence slots.
const ROAMING: u32 = 1 << 31;

/// Relative margin around distance thresholds inside which the exact
/// distance is computed (see `sphere`).
const MARGIN: f64 = 1e-7;

/// How an index treats its input (every field has a `with_*` builder).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct GeoOptions {
    /// Side of an index cell in metres (default 250). Smaller cells make
    /// small-radius queries scan fewer entities and moves cross cells more
    /// often; see `benches/geo.rs` for the trade-off.
    pub cell_size_m: f64,
    /// Entities silent longer than this (behind [`GeoIndex::clock`]) drop out
    /// of query results and are removed by [`GeoIndex::evict_stale`].
    /// Default: none.
    pub ttl_ms: Option<i64>,
    /// Reject a fix whose implied speed from the previous one exceeds this,
    /// in metres per second (default 100, i.e. 360 km/h).
    pub max_speed_mps: Option<f64>,
    /// Distance never counted as a jump, in metres (GPS jitter; default
    /// 50). The accuracies of both fixes are added to it.
    pub jump_tolerance_m: f64,
    /// Fixes with an accuracy worse (larger) than this many metres are
    /// stored but flagged and left out of geofence evaluation (default 100).
    pub max_accuracy_m: Option<f64>,
    /// Keep per-entity trajectories (default: off).
    pub history: Option<HistoryOptions>,
    /// Ask the kernel for transparent huge pages for the dense per-entity
    /// arrays (Linux; default: on). Every upsert reads them at random, and
    /// on 4 KiB pages most of those reads also miss the TLB: in the 10 k
    /// fence bench this is worth about 1.25x. Only takes effect where THP
    /// is in `madvise` or `always` mode; turn it off where page faults
    /// must never wait for the kernel to compact memory (THP `defrag` in
    /// `madvise` mode makes faults in advised ranges do so).
    pub huge_pages: bool,
}

impl Default for GeoOptions {
    fn default() -> Self {
        GeoOptions {
            cell_size_m: 250.0,
            ttl_ms: None,
            max_speed_mps: Some(100.0),
            jump_tolerance_m: 50.0,
            max_accuracy_m: Some(100.0),
            history: None,
            huge_pages: true,
        }
    }
}

impl GeoOptions {
    /// Sets [`GeoOptions::cell_size_m`] (clamped to 10 m - 1000 km).
    #[must_use]
    pub fn with_cell_size_m(mut self, m: f64) -> Self {
        self.cell_size_m = if m.is_finite() {
            m.clamp(10.0, 1_000_000.0)
        } else {
            250.0
        };
        self
    }
    /// Sets [`GeoOptions::ttl_ms`].
    #[must_use]
    pub fn with_ttl_ms(mut self, ttl: Option<i64>) -> Self {
        self.ttl_ms = ttl.map(|t| t.max(0));
        self
    }
    /// Sets [`GeoOptions::max_speed_mps`].
    #[must_use]
    pub fn with_max_speed_mps(mut self, v: Option<f64>) -> Self {
        self.max_speed_mps = v;
        self
    }
    /// Sets [`GeoOptions::jump_tolerance_m`].
    #[must_use]
    pub fn with_jump_tolerance_m(mut self, m: f64) -> Self {
        self.jump_tolerance_m = m.max(0.0);
        self
    }
    /// Sets [`GeoOptions::max_accuracy_m`].
    #[must_use]
    pub fn with_max_accuracy_m(mut self, m: Option<f64>) -> Self {
        self.max_accuracy_m = m;
        self
    }
    /// Sets [`GeoOptions::history`].
    #[must_use]
    pub fn with_history(mut self, h: Option<HistoryOptions>) -> Self {
        self.history = h;
        self
    }
    /// Sets [`GeoOptions::huge_pages`].
    #[must_use]
    pub fn with_huge_pages(mut self, on: bool) -> Self {
        self.huge_pages = on;
        self
    }
}

/// One position report of an entity.
///
/// ```
/// use blocksmith_geo::Fix;
/// let f = Fix::new(48.85, 2.35, 1_700_000_000_000).with_accuracy(8.0).with_speed(12.5).with_heading(90.0);
/// assert_eq!(f.accuracy_m, Some(8.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Fix {
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
    /// Time of the fix, milliseconds (Unix epoch by convention).
    pub ts_ms: i64,
    /// Horizontal accuracy radius, metres.
    pub accuracy_m: Option<f32>,
    /// Speed over ground, metres per second.
    pub speed_mps: Option<f32>,
    /// Heading, degrees clockwise from north, in [0, 360).
    pub heading_deg: Option<f32>,
}

impl Fix {
    /// A fix without accuracy, speed or heading.
    pub fn new(lat: f64, lon: f64, ts_ms: i64) -> Fix {
        Fix {
            lat,
            lon,
            ts_ms,
            accuracy_m: None,
            speed_mps: None,
            heading_deg: None,
        }
    }
    /// Sets the accuracy.
    #[must_use]
    pub fn with_accuracy(mut self, m: f32) -> Fix {
        self.accuracy_m = Some(m);
        self
    }
    /// Sets the speed.
    #[must_use]
    pub fn with_speed(mut self, mps: f32) -> Fix {
        self.speed_mps = Some(mps);
        self
    }
    /// Sets the heading.
    #[must_use]
    pub fn with_heading(mut self, deg: f32) -> Fix {
        self.heading_deg = Some(deg);
        self
    }
    /// The position.
    pub fn position(&self) -> LatLon {
        // Fields are public: an unvalidated fix maps to the nearest valid
        // position rather than panicking.
        LatLon::trusted(
            if self.lat.is_nan() {
                0.0
            } else {
                self.lat.clamp(-90.0, 90.0)
            },
            if self.lon.is_nan() {
                0.0
            } else {
                self.lon.clamp(-180.0, 180.0)
            },
        )
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidCoordinate`] if the position is NaN, infinite or out of
    /// range; [`Error::InvalidFix`] if the accuracy or speed is negative or not
    /// finite, or the heading is not in [0, 360).
    pub fn validate(&self) -> Result<()> {
        sphere::check(self.lat, self.lon)?;
        let bad = |field, value: f32, reason| Error::InvalidFix {
            field,
            value: f64::from(value),
            reason,
        };
        if let Some(a) = self.accuracy_m
            && !(a.is_finite() && a >= 0.0)
        {
            return Err(bad("accuracy_m", a, "finite and >= 0"));
        }
        if let Some(s) = self.speed_mps
            && !(s.is_finite() && s >= 0.0)
        {
            return Err(bad("speed_mps", s, "finite and >= 0"));
        }
        if let Some(h) = self.heading_deg
            && !(h.is_finite() && (0.0..360.0).contains(&h))
        {
            return Err(bad("heading_deg", h, "in [0, 360)"));
        }
        Ok(())
    }
}

/// An owned update, for batches and loaders.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Update {
    /// Entity id.
    pub id: Arc<str>,
    /// Entity kind.
    pub kind: Kind,
    /// The fix.
    pub fix: Fix,
}

impl Update {
    /// An update.
    pub fn new(id: impl Into<Arc<str>>, kind: Kind, fix: Fix) -> Update {
        Update {
            id: id.into(),
            kind,
            fix,
        }
    }
}

/// Why a fix was refused.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Rejection {
    /// The fix implies moving faster than [`GeoOptions::max_speed_mps`].
    ImpossibleJump {
        /// Distance from the stored fix.
        distance_m: f64,
        /// Time since the stored fix.
        elapsed_ms: i64,
        /// Distance beyond the jitter tolerance over elapsed time (infinite
        /// for a zero interval).
        implied_speed_mps: f64,
        /// The configured limit.
        limit_mps: f64,
    },
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::ImpossibleJump {
                distance_m,
                elapsed_ms,
                implied_speed_mps,
                limit_mps,
            } => write!(
                f,
                "impossible jump: {distance_m:.0} m in {elapsed_ms} ms implies {implied_speed_mps:.1} m/s, limit {limit_mps} m/s"
            ),
        }
    }
}

/// What an upsert did.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// A new entity.
    Inserted,
    /// A known entity's position was replaced.
    Moved,
    /// The fix is older than the stored one: ignored and counted.
    OutOfOrder {
        /// Timestamp of the stored fix.
        stored_ts_ms: i64,
    },
    /// The fix was refused.
    Rejected(Rejection),
}

impl Outcome {
    /// True for [`Outcome::Inserted`] and [`Outcome::Moved`].
    pub fn is_accepted(&self) -> bool {
        matches!(self, Outcome::Inserted | Outcome::Moved)
    }
}

/// What a batch of upserts did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct BatchReport {
    /// New entities.
    pub inserted: usize,
    /// Moves of known entities.
    pub moved: usize,
    /// Fixes older than the stored ones, ignored.
    pub out_of_order: usize,
    /// Refused fixes, by position in the batch.
    pub rejected: Vec<(usize, Rejection)>,
    /// Invalid updates (bad coordinates, ids, kinds), by position.
    pub invalid: Vec<(usize, Error)>,
}

/// Counters since the index was created (or restored).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// New entities.
    pub inserted: u64,
    /// Accepted moves of known entities.
    pub moved: u64,
    /// Out-of-order fixes ignored.
    pub out_of_order: u64,
    /// Impossible jumps rejected.
    pub rejected_jumps: u64,
    /// Accepted fixes flagged for poor accuracy.
    pub low_accuracy: u64,
    /// Entities removed by [`GeoIndex::evict_stale`].
    pub evicted: u64,
    /// Entities removed by [`GeoIndex::remove`].
    pub removed: u64,
    /// Fence events emitted.
    pub events: u64,
}

/// One answer of a query.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Hit {
    /// Entity id.
    pub id: Arc<str>,
    /// Entity kind.
    pub kind: Kind,
    /// The stored fix.
    pub fix: Fix,
    /// Great-circle distance from the query point (the box centre for box
    /// queries), metres.
    pub distance_m: f64,
    /// The fix is worse than [`GeoOptions::max_accuracy_m`].
    pub low_accuracy: bool,
}

/// A stored entity as seen from outside.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EntityInfo {
    /// Entity id.
    pub id: Arc<str>,
    /// Entity kind.
    pub kind: Kind,
    /// The latest accepted fix.
    pub fix: Fix,
    /// The fix is worse than [`GeoOptions::max_accuracy_m`].
    pub low_accuracy: bool,
    /// Silent for longer than the TTL.
    pub stale: bool,
    /// Fences the entity is inside, with the time it entered.
    pub fences: Vec<(Arc<str>, i64)>,
}

/// Which entities a query considers.
///
/// ```
/// use blocksmith_geo::{Kind, QueryFilter};
/// let only_drivers = QueryFilter::new().with_kind(Kind::Driver);
/// assert_eq!(only_drivers.kinds, vec![Kind::Driver]);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct QueryFilter {
    /// Only these kinds; empty means every kind.
    pub kinds: Vec<Kind>,
    /// Include entities silent for longer than the TTL.
    pub include_stale: bool,
    /// Leave out fixes flagged for poor accuracy (default: they are
    /// included, with [`Hit::low_accuracy`] set).
    pub exclude_low_accuracy: bool,
}

impl QueryFilter {
    /// Every live entity.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a kind to the allowed set.
    #[must_use]
    pub fn with_kind(mut self, kind: Kind) -> Self {
        self.kinds.push(kind);
        self
    }
    /// Sets [`QueryFilter::include_stale`].
    #[must_use]
    pub fn with_stale(mut self, include: bool) -> Self {
        self.include_stale = include;
        self
    }
    /// Sets [`QueryFilter::exclude_low_accuracy`].
    #[must_use]
    pub fn with_exclude_low_accuracy(mut self, exclude: bool) -> Self {
        self.exclude_low_accuracy = exclude;
        self
    }
}

/// A latitude/longitude box; `west > east` crosses the antimeridian.
/// Bounds are inclusive.
///
/// ```
/// use blocksmith_geo::BBox;
/// let fiji = BBox::new(-21.0, 177.0, -12.0, -178.0)?; // wraps
/// assert!(fiji.contains(-17.7, 178.4) && fiji.contains(-16.5, -179.9));
/// assert!(!fiji.contains(-17.7, 170.0));
/// # Ok::<(), blocksmith_geo::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    south: f64,
    west: f64,
    north: f64,
    east: f64,
}

impl BBox {
    /// A box; fails on invalid coordinates or `south > north`.
    ///
    /// # Errors
    /// [`Error::InvalidCoordinate`] if a corner is out of range;
    /// [`Error::InvalidQuery`] if `south > north`.
    pub fn new(south: f64, west: f64, north: f64, east: f64) -> Result<BBox> {
        sphere::check(south, west)?;
        sphere::check(north, east)?;
        if south > north {
            return Err(Error::InvalidQuery {
                reason: format!("box south {south} is north of its north {north}"),
            });
        }
        Ok(BBox {
            south,
            west,
            north,
            east,
        })
    }
    /// `(south, west, north, east)`.
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        (self.south, self.west, self.north, self.east)
    }
    /// True if the point is inside (bounds included).
    pub fn contains(&self, lat: f64, lon: f64) -> bool {
        (self.south..=self.north).contains(&lat)
            && if self.west <= self.east {
                (self.west..=self.east).contains(&lon)
            } else {
                lon >= self.west || lon <= self.east
            }
    }
    /// The centre (longitude midway going east from west to east).
    pub fn center(&self) -> LatLon {
        let lat = f64::midpoint(self.south, self.north);
        let mut lon = if self.west <= self.east {
            f64::midpoint(self.west, self.east)
        } else {
            f64::midpoint(self.west, self.east + 360.0)
        };
        if lon > 180.0 {
            lon -= 360.0;
        }
        LatLon::trusted(lat, lon)
    }
}

/// One entity in a cell: what a query scan reads, 40 bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    xyz: [f64; 3],
    ts: i64,
    slot: u32,
    kind: u16,
    low_acc: bool,
}

/// Per-slot state that every upsert reads and writes, in one cache line.
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
pub(crate) struct Hot {
    pub(crate) fix: Fix,
    cell: u64,
    pos: u32,
    pub(crate) kind: u16,
    pub(crate) low_acc: bool,
    /// The entity is inside at least one fence.
    in_fence: bool,
}

/// Per-slot summary of an entity's polygon-fence state, dense so that the
/// common update (same fences as before, no dwell due) needs neither the
/// cold [`Entity`] record nor a hash lookup of its tile's fence list.
///
/// Valid only while `generation` equals the fence set's (any fence change
/// starts a new one); an entity whose state changes outside
/// [`GeoIndex::evaluate_fences`] has its summary reset.
#[derive(Debug, Clone, Copy, Default)]
#[repr(align(64))]
pub(crate) struct FenceCache {
    /// Fence-set generation the summary was taken under (0: none).
    generation: u64,
    /// The index cell whose candidate list `list` is.
    tile: u64,
    /// That cell's candidate list in the fence set's arena.
    list: (u32, u32),
    /// The fences the entity is inside, sorted (first `n`; meaningful only
    /// with [`FenceCache::MEMBERS`]).
    fences: [u32; FenceCache::INLINE],
    n: u8,
    flags: u8,
    /// The kind the fences were evaluated for.
    kind: u16,
    /// Where they were evaluated (latitude, longitude)...
    anchor: [f64; 2],
    /// ... and the squared clearance around it (see
    /// [`crate::fence::FenceSet::clearance`]) within which, in the same
    /// tile, the answer cannot change.
    clear2: f64,
}

impl FenceCache {
    /// Most fences summarised; an entity inside more takes the full path.
    const INLINE: usize = 3;
    /// `fences[..n]` is exactly the set of fences the entity is inside.
    const MEMBERS: u8 = 1;
    /// Some fence the entity is inside may still owe a Dwell event.
    const DWELL_PENDING: u8 = 2;

    /// True if a fix at `(lat, lon)` in cell `tile` of an entity of
    /// `kind` is, under fence generation `generation`, inside exactly the
    /// fences it already is, with no Dwell due: nothing to evaluate.
    #[inline]
    fn settled(&self, generation: u64, tile: u64, kind: u16, lat: f64, lon: f64) -> bool {
        let (dy, dx) = (lat - self.anchor[0], lon - self.anchor[1]);
        self.generation == generation
            && self.tile == tile
            && self.kind == kind
            && self.flags & (Self::MEMBERS | Self::DWELL_PENDING) == Self::MEMBERS
            && dx * dx + dy * dy < self.clear2
    }

    #[inline]
    fn members(&self) -> Option<&[u32]> {
        (self.flags & Self::MEMBERS != 0).then(|| &self.fences[..usize::from(self.n)])
    }
}

/// Per-slot state that upserts rarely touch.
#[derive(Debug, Clone)]
pub(crate) struct Entity {
    /// The id as results and events hand it out: cloning it costs an atomic
    /// increment instead of an allocation per hit (the id table keeps its
    /// own inline copy, so upserts never follow this pointer).
    pub(crate) id: Arc<str>,
    pub(crate) inside: Vec<Inside>,
    pub(crate) trail: VecDeque<TrackPoint>,
}

enum KindSel {
    All,
    Some(Vec<u16>),
}

struct Sel {
    kinds: KindSel,
    cutoff: i64,
    no_low_acc: bool,
}

impl Sel {
    #[inline]
    fn keep(&self, e: &Entry) -> bool {
        e.ts >= self.cutoff
            && !(self.no_low_acc && e.low_acc)
            && match &self.kinds {
                KindSel::All => true,
                KindSel::Some(v) => v.contains(&e.kind),
            }
    }
}

/// Relative band of squared chords treated as possible ties: distances
/// are compared exactly (with ids breaking ties) only inside it.
const TIE: f64 = 1e-9;

#[derive(Clone, Copy)]
struct Cand {
    c2: f64,
    slot: u32,
}

impl PartialEq for Cand {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Cand {}
impl PartialOrd for Cand {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Cand {
    fn cmp(&self, o: &Self) -> Ordering {
        self.c2.total_cmp(&o.c2).then(self.slot.cmp(&o.slot))
    }
}

/// The `k` best candidates by (distance, id).
///
/// The heap orders by squared chord, which needs neither the arc sine of a
/// distance nor the entity's id (another allocation). Candidates within
/// [`TIE`] of the worst are kept aside, and the final sort by (distance, id)
/// over the heap and those gives exactly the `k` smallest by (distance, id).
struct Best<'a> {
    k: usize,
    heap: BinaryHeap<Cand>,
    aside: Vec<Cand>,
    entities: &'a [Option<Entity>],
}

impl<'a> Best<'a> {
    fn new(k: usize, entities: &'a [Option<Entity>]) -> Self {
        Best {
            k,
            heap: BinaryHeap::with_capacity(k.min(4096) + 1),
            aside: Vec::new(),
            entities,
        }
    }

    /// Offers a candidate; returns the worst squared chord once full.
    #[inline]
    fn offer(&mut self, c2: f64, slot: u32) -> Option<f64> {
        let cand = Cand { c2, slot };
        if self.heap.len() < self.k {
            self.heap.push(cand);
        } else {
            let top = *self.heap.peek()?;
            if c2 > top.c2 * (1.0 + TIE) {
                return None;
            }
            if c2 < top.c2 {
                if let Some(mut t) = self.heap.peek_mut() {
                    *t = cand;
                }
                if self
                    .heap
                    .peek()
                    .is_some_and(|w| top.c2 <= w.c2 * (1.0 + TIE))
                {
                    self.aside.push(top);
                }
            } else {
                self.aside.push(cand);
            }
        }
        if self.heap.len() == self.k {
            self.heap.peek().map(|c| c.c2)
        } else {
            None
        }
    }

    fn into_sorted(self) -> Vec<(f64, u32)> {
        let worst = self
            .heap
            .peek()
            .map_or(f64::INFINITY, |c| c.c2 * (1.0 + TIE));
        let mut all: Vec<(f64, u32)> = self
            .heap
            .into_iter()
            .chain(self.aside.into_iter().filter(|t| t.c2 <= worst))
            .map(|c| (chord2_to_m(c.c2), c.slot))
            .collect();
        sort_hits(&mut all, self.entities);
        all.truncate(self.k);
        all
    }
}

/// Sorts `(distance, slot)` pairs by distance, then id.
fn sort_hits(hits: &mut [(f64, u32)], entities: &[Option<Entity>]) {
    hits.sort_unstable_by(|a, b| {
        a.0.total_cmp(&b.0)
            .then_with(|| live(entities, a.1).id.cmp(&live(entities, b.1).id))
    });
}

/// A cell waiting in a best-first search, nearest (smallest bound) first.
#[derive(Clone, Copy)]
struct QueuedCell<'a> {
    lb: f64,
    key: u64,
    cell: &'a [Entry],
}

impl PartialEq for QueuedCell<'_> {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}

impl Eq for QueuedCell<'_> {}

impl PartialOrd for QueuedCell<'_> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for QueuedCell<'_> {
    /// Reversed, so that `BinaryHeap` pops the smallest bound.
    fn cmp(&self, o: &Self) -> Ordering {
        o.lb.total_cmp(&self.lb).then(o.key.cmp(&self.key))
    }
}

/// Receives the entries a scan finds.
trait Visitor {
    /// Current squared-chord threshold: entries beyond it are skipped.
    fn threshold(&self) -> f64;
    fn visit(&mut self, e: &Entry, c2: f64);
}

/// Exact inclusion test against a radius, with the margin band.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Radius {
    r: f64,
    lo: f64,
    hi: f64,
}

impl Radius {
    pub(crate) fn new(r: f64) -> Radius {
        let c2 = m_to_chord2(r);
        Radius {
            r,
            lo: c2 * (1.0 - MARGIN),
            hi: c2 * (1.0 + MARGIN) + 1e-300,
        }
    }
    #[inline]
    fn admits(&self, c2: f64) -> Option<f64> {
        if c2 > self.hi {
            return None;
        }
        let d = chord2_to_m(c2);
        (c2 <= self.lo || d <= self.r).then_some(d)
    }

    /// Like [`Radius::admits`] without computing the distance unless the
    /// chord is in the margin band.
    #[inline]
    pub(crate) fn contains(&self, c2: f64) -> bool {
        c2 <= self.lo || (c2 <= self.hi && chord2_to_m(c2) <= self.r)
    }
}

struct TopK<'a> {
    radius: Radius,
    best: Best<'a>,
    worst_hi: f64,
}

impl Visitor for TopK<'_> {
    fn threshold(&self) -> f64 {
        self.worst_hi.min(self.radius.hi)
    }
    #[inline]
    fn visit(&mut self, e: &Entry, c2: f64) {
        if self.radius.contains(c2)
            && let Some(w) = self.best.offer(c2, e.slot)
        {
            self.worst_hi = w * (1.0 + MARGIN) + 1e-300;
        }
    }
}

struct Collect {
    radius: Radius,
    out: Vec<(f64, u32)>,
}

impl Visitor for Collect {
    fn threshold(&self) -> f64 {
        self.radius.hi
    }
    #[inline]
    fn visit(&mut self, e: &Entry, c2: f64) {
        if let Some(d) = self.radius.admits(c2) {
            self.out.push((d, e.slot));
        }
    }
}

struct Count {
    radius: Radius,
    n: usize,
}

impl Visitor for Count {
    fn threshold(&self) -> f64 {
        self.radius.hi
    }
    #[inline]
    fn visit(&mut self, _: &Entry, c2: f64) {
        self.n += usize::from(self.radius.contains(c2));
    }
}

/// A real-time index of moving entities with geofences.
///
/// Entities live in a hash of grid cells roughly `cell_size_m` on a side
/// (see the crate documentation for why not an R-tree); a move within a cell
/// rewrites the entry in place, a move across cells is a swap-remove and a
/// push. Geofences live in an R*-tree (`rstar`) of their bounding boxes and
/// are tested with `geo` point-in-polygon on accepted fixes; a fix closer to
/// the entity's last tested position than any boundary of the fences near
/// it (and in the same cell) keeps the answer without a test.
///
/// Not thread-safe by itself: wrap it in a lock, or shard entities over
/// several indexes.
#[derive(Debug, Clone)]
pub struct GeoIndex {
    options: GeoOptions,
    grid: Grid,
    cells: HashMap<u64, Vec<Entry>, Hasher>,
    pub(crate) entities: Vec<Option<Entity>>,
    pub(crate) hot: Vec<Hot>,
    free: Vec<u32>,
    ids: HashMap<IdKey, u32, Hasher>,
    pub(crate) kinds: Kinds,
    pub(crate) fences: FenceSet,
    pub(crate) roam: RoamSet,
    pub(crate) clock: i64,
    pub(crate) stats: Stats,
    pub(crate) events: Vec<FenceEvent>,
    scratch: Vec<u32>,
    /// Per slot, a summary of the polygon-fence state (filled lazily, only
    /// once there are fences).
    fence_cache: Vec<FenceCache>,
}

impl Default for GeoIndex {
    fn default() -> Self {
        Self::new(GeoOptions::default())
    }
}

impl GeoIndex {
    /// An empty index.
    pub fn new(options: GeoOptions) -> Self {
        let mut options = options;
        options.cell_size_m = if options.cell_size_m.is_finite() {
            options.cell_size_m.clamp(10.0, 1_000_000.0)
        } else {
            250.0
        };
        GeoIndex {
            grid: Grid::new(options.cell_size_m),
            options,
            cells: HashMap::default(),
            entities: Vec::new(),
            hot: Vec::new(),
            free: Vec::new(),
            ids: HashMap::default(),
            kinds: Kinds::default(),
            fences: FenceSet::default(),
            roam: RoamSet::default(),
            clock: i64::MIN,
            stats: Stats::default(),
            events: Vec::new(),
            scratch: Vec::new(),
            fence_cache: Vec::new(),
        }
    }

    /// The options.
    pub fn options(&self) -> &GeoOptions {
        &self.options
    }

    /// Number of entities (stale ones included until evicted).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True if there is no entity.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The index clock: the latest accepted fix time or
    /// [`GeoIndex::advance_clock`] value (`i64::MIN` when empty). Staleness
    /// is measured against it.
    pub fn clock(&self) -> i64 {
        self.clock
    }

    /// Fence events not yet drained.
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// Takes the fence events emitted so far, oldest first.
    pub fn drain_events(&mut self) -> std::vec::Drain<'_, FenceEvent> {
        self.events.drain(..)
    }

    fn cutoff(&self, include_stale: bool) -> i64 {
        match self.options.ttl_ms {
            Some(ttl) if !include_stale => self.clock.saturating_sub(ttl),
            _ => i64::MIN,
        }
    }

    /// Inserts or moves an entity.
    ///
    /// Invalid input is an `Err`; an out-of-order or refused fix is an
    /// `Ok` with the [`Outcome`] saying why nothing changed. Accepted fixes
    /// with good accuracy are evaluated against the fences; events go to
    /// [`GeoIndex::drain_events`].
    ///
    /// # Errors
    /// - [`Error::InvalidCoordinate`] or [`Error::InvalidFix`] if `fix` is
    ///   invalid (as for [`Fix::validate`]);
    /// - [`Error::InvalidKind`] if `kind` is a new tag when 65,536 distinct kinds
    ///   exist already;
    /// - [`Error::InvalidId`] if `id` is empty or longer than
    ///   [`MAX_ID_LEN`](crate::MAX_ID_LEN) bytes.
    ///
    /// Out-of-order, implausible and stale fixes are `Ok` with an [`Outcome`]
    /// saying so, not errors.
    pub fn upsert(&mut self, id: &str, kind: &Kind, fix: Fix) -> Result<Outcome> {
        self.upsert_known(id, kind, fix, None)
    }

    /// [`GeoIndex::upsert`], given the entity's slot when already looked up
    /// (`known`: `Some` only with the slot `id` maps to now).
    fn upsert_known(
        &mut self,
        id: &str,
        kind: &Kind,
        fix: Fix,
        known: Option<u32>,
    ) -> Result<Outcome> {
        fix.validate()?;
        let kind = self.kinds.intern(kind)?;
        let low_acc = match (fix.accuracy_m, self.options.max_accuracy_m) {
            (Some(a), Some(max)) => f64::from(a) > max,
            _ => false,
        };
        let xyz = unit(fix.lat, fix.lon);
        let cell = self.grid.key(fix.lat, fix.lon);
        let entry = Entry {
            xyz,
            ts: fix.ts_ms,
            slot: 0,
            kind,
            low_acc,
        };
        let found = known.or_else(|| self.ids.get(id.as_bytes()).copied());
        let (slot, outcome) = if let Some(slot) = found {
            let h = self.hot[slot as usize];
            let (old_cell, old_pos, old_fix) = (h.cell, h.pos as usize, h.fix);
            if fix.ts_ms < old_fix.ts_ms {
                self.stats.out_of_order += 1;
                return Ok(Outcome::OutOfOrder {
                    stored_ts_ms: old_fix.ts_ms,
                });
            }
            if let Some(limit) = self.options.max_speed_mps {
                // Recomputed rather than read from the cell entry: two sines
                // cost less than the cache miss.
                let old_xyz = unit(old_fix.lat, old_fix.lon);
                let d = chord2_to_m(chord2(&old_xyz, &xyz));
                let slack = self.options.jump_tolerance_m
                    + f64::from(old_fix.accuracy_m.unwrap_or(0.0))
                    + f64::from(fix.accuracy_m.unwrap_or(0.0));
                if d > slack {
                    let elapsed_ms = fix.ts_ms.saturating_sub(old_fix.ts_ms);
                    let implied = if elapsed_ms > 0 {
                        (d - slack) / (elapsed_ms as f64 / 1000.0)
                    } else {
                        f64::INFINITY
                    };
                    if implied > limit {
                        self.stats.rejected_jumps += 1;
                        return Ok(Outcome::Rejected(Rejection::ImpossibleJump {
                            distance_m: d,
                            elapsed_ms,
                            implied_speed_mps: implied,
                            limit_mps: limit,
                        }));
                    }
                }
            }
            let entry = Entry { slot, ..entry };
            let pos = if cell == old_cell {
                cell_mut(&mut self.cells, cell)[old_pos] = entry;
                old_pos as u32
            } else {
                self.unlink(old_cell, old_pos);
                let v = self.cells.entry(cell).or_default();
                v.push(entry);
                (v.len() - 1) as u32
            };
            let h = &mut self.hot[slot as usize];
            h.fix = fix;
            h.cell = cell;
            h.pos = pos;
            h.kind = kind;
            h.low_acc = low_acc;
            self.stats.moved += 1;
            (slot, Outcome::Moved)
        } else {
            check_id(id)?;
            let id = IdKey::new(id);
            let v = self.cells.entry(cell).or_default();
            let hot = Hot {
                fix,
                cell,
                pos: v.len() as u32,
                kind,
                low_acc,
                in_fence: false,
            };
            let slot = if let Some(s) = self.free.pop() {
                self.hot[s as usize] = hot;
                if let Some(c) = self.fence_cache.get_mut(s as usize) {
                    *c = FenceCache::default();
                }
                s
            } else {
                crate::huge::push(&mut self.hot, hot, self.options.huge_pages);
                crate::huge::push(&mut self.entities, None, self.options.huge_pages);
                (self.entities.len() - 1) as u32
            };
            v.push(Entry { slot, ..entry });
            self.entities[slot as usize] = Some(Entity {
                id: Arc::from(id.as_str()),
                inside: Vec::new(),
                trail: VecDeque::new(),
            });
            self.ids.insert(id, slot);
            self.stats.inserted += 1;
            (slot, Outcome::Inserted)
        };
        if low_acc {
            self.stats.low_accuracy += 1;
        }
        self.clock = self.clock.max(fix.ts_ms);
        if let Some(h) = self.options.history {
            let e = live_mut(&mut self.entities, slot);
            push_trail(&mut e.trail, &h, fix);
        }
        if !low_acc {
            self.evaluate_fences(slot);
            self.evaluate_roaming(slot, id);
        }
        Ok(outcome)
    }

    /// Applies many updates; invalid ones are reported, not fatal.
    ///
    /// Faster per update than [`GeoIndex::upsert`] in a loop: updates are
    /// taken in chunks whose entities are located first, all at once, so the
    /// memory accesses of a chunk overlap instead of waiting on each other.
    /// The outcome is the same as upserting them one by one, in order.
    pub fn upsert_batch<'u>(
        &mut self,
        updates: impl IntoIterator<Item = &'u Update>,
    ) -> BatchReport {
        const CHUNK: usize = 64;
        let mut r = BatchReport::default();
        let mut chunk: Vec<&Update> = Vec::with_capacity(CHUNK);
        let mut base = 0;
        let mut it = updates.into_iter().peekable();
        while it.peek().is_some() {
            chunk.clear();
            chunk.extend(it.by_ref().take(CHUNK));
            // The slots of the chunk's entities found by `warm` stay right
            // while it is applied: an upsert may add ids, never remove any.
            let known = self.warm(&chunk);
            for (k, u) in chunk.iter().enumerate() {
                match self.upsert_known(&u.id, &u.kind, u.fix, known[k]) {
                    Ok(Outcome::Inserted) => r.inserted += 1,
                    Ok(Outcome::Moved) => r.moved += 1,
                    Ok(Outcome::OutOfOrder { .. }) => r.out_of_order += 1,
                    Ok(Outcome::Rejected(why)) => r.rejected.push((base + k, why)),
                    Err(e) => r.invalid.push((base + k, e)),
                }
            }
            base += chunk.len();
        }
        r
    }

    /// Reads what upserting `chunk` will read (id slots, hot records, cell
    /// entries, fence state and candidate fences) in independent passes, so
    /// the cache misses overlap.
    /// Returns, per update of the chunk, the slot of its entity if it had
    /// one.
    fn warm(&self, chunk: &[&Update]) -> [Option<u32>; 64] {
        let mut known = [None; 64];
        let mut slots = [0u32; 64];
        let mut at = [0u8; 64];
        let mut n = 0;
        for (k, u) in chunk.iter().enumerate().take(64) {
            if let Some(&s) = self.ids.get(u.id.as_bytes()) {
                known[k] = Some(s);
                slots[n] = s;
                at[n] = k as u8;
                n += 1;
            }
        }
        let mut sink = 0i64;
        for &s in &slots[..n] {
            sink ^= self.hot[s as usize].fix.ts_ms;
        }
        for &s in &slots[..n] {
            let h = &self.hot[s as usize];
            if let Some(e) = self.cells.get(&h.cell).and_then(|v| v.get(h.pos as usize)) {
                sink ^= e.ts;
            }
        }
        if self.fences.len() > 0 {
            // The fence summary, then the candidate list it points to (or
            // the new cell's, found by its key).
            for &s in &slots[..n] {
                if let Some(c) = self.fence_cache.get(s as usize) {
                    sink ^= c.tile as i64;
                }
            }
            let generation = self.fences.generation();
            let mut f = 0.0;
            let mut unsettled = [0u32; 64];
            let mut m = 0;
            for (&s, &k) in slots[..n].iter().zip(&at[..n]) {
                let fix = chunk[usize::from(k)].fix;
                if sphere::check(fix.lat, fix.lon).is_err() {
                    continue;
                }
                let cell = self.grid.key(fix.lat, fix.lon);
                let kind = self.hot[s as usize].kind;
                f += match self.fence_cache.get(s as usize) {
                    Some(c) if c.settled(generation, cell, kind, fix.lat, fix.lon) => continue,
                    Some(c) if c.generation == generation && c.tile == cell => {
                        self.fences.touch_candidates(c.list, fix.lat, fix.lon)
                    }
                    _ => self.fences.touch_tile(cell, fix.lat, fix.lon),
                };
                unsettled[m] = s;
                m += 1;
            }
            // The fence state of the entities whose fixes need evaluating
            // (read when their fences change).
            for &s in &unsettled[..m] {
                if let Some(e) = &self.entities[s as usize] {
                    sink ^= e.inside.first().map_or(0, |i| i.since);
                }
            }
            std::hint::black_box(f);
        }
        std::hint::black_box(sink);
        known
    }

    /// Forgets the fence summary of `slot` (its fence state changed
    /// elsewhere, or the slot has a new entity).
    fn reset_fence_cache(&mut self, slot: u32) {
        if let Some(c) = self.fence_cache.get_mut(slot as usize) {
            *c = FenceCache::default();
        }
    }

    fn evaluate_fences(&mut self, slot: u32) {
        // Without fences no entity is inside one (removing a fence clears
        // its state), so the cold entity record is not touched.
        if self.fences.len() == 0 {
            return;
        }
        let h = self.hot[slot as usize];
        let (lat, lon, ts) = (h.fix.lat, h.fix.lon, h.fix.ts_ms);
        if self.fence_cache.len() <= slot as usize {
            crate::huge::resize(
                &mut self.fence_cache,
                self.hot.len().max(slot as usize + 1),
                FenceCache::default(),
                self.options.huge_pages,
            );
        }
        let cached = self.fence_cache[slot as usize];
        if cached.settled(self.fences.generation(), h.cell, h.kind, lat, lon) {
            return;
        }
        let list = if cached.generation == self.fences.generation() && cached.tile == h.cell {
            cached.list
        } else {
            self.fences.tile_list(h.cell, self.grid.cell_bounds(h.cell))
        };
        self.fences
            .containing_in_list(lat, lon, Some(h.kind), list, &mut self.scratch);
        // Taken after `tile_list`, which may start a new generation.
        let generation = self.fences.generation();
        let clearance = self.fences.clearance(lat, lon, Some(h.kind), list);
        let mut summary = FenceCache {
            generation,
            tile: h.cell,
            list,
            fences: [0; FenceCache::INLINE],
            n: 0,
            flags: 0,
            kind: h.kind,
            anchor: [lat, lon],
            clear2: if clearance > 0.0 {
                clearance * clearance
            } else {
                0.0
            },
        };
        if cached.generation == generation
            && cached.flags & FenceCache::DWELL_PENDING == 0
            && cached.members() == Some(&self.scratch[..])
        {
            // Inside the same fences as before and no Dwell due: nothing to
            // emit nor to record (what the full path below would find).
            summary.fences = cached.fences;
            summary.n = cached.n;
            summary.flags = cached.flags;
            self.fence_cache[slot as usize] = summary;
            return;
        }
        if self.scratch.is_empty() && !h.in_fence {
            summary.flags = FenceCache::MEMBERS;
            self.fence_cache[slot as usize] = summary;
            return;
        }
        let e = live_mut(&mut self.entities, slot);
        let position = LatLon::trusted(lat, lon);
        let fences = &mut self.fences;
        let events = &mut self.events;
        let now = &self.scratch;
        let mut emitted = 0u64;
        let mut emit = |kind, fence: &Arc<str>| {
            emitted += 1;
            events.push(FenceEvent {
                kind,
                entity: e.id.clone(),
                fence: fence.clone(),
                ts_ms: ts,
                position,
            });
        };
        e.inside.retain(|s| {
            if now.binary_search(&s.fence).is_ok() {
                return true;
            }
            let fs = fences.get_mut(s.fence);
            fs.members.remove(&slot);
            emit(FenceEventKind::Exit, &fs.fence.id);
            false
        });
        for &f in now {
            let idx = if let Some(i) = e.inside.iter().position(|s| s.fence == f) {
                i
            } else {
                let fs = fences.get_mut(f);
                fs.members.insert(slot);
                emit(FenceEventKind::Enter, &fs.fence.id);
                e.inside.push(Inside {
                    fence: f,
                    since: ts,
                    dwelt: false,
                });
                e.inside.len() - 1
            };
            let s = &mut e.inside[idx];
            // The fence slot itself is read only when an event is due.
            if !s.dwelt
                && let Some(d) = fences.dwell(f)
                && ts.saturating_sub(s.since) >= d
            {
                s.dwelt = true;
                emit(FenceEventKind::Dwell, &fences.get(f).fence.id);
            }
        }
        self.hot[slot as usize].in_fence = !e.inside.is_empty();
        self.stats.events += emitted;
        // The entity is now inside exactly the fences of `now` (sorted).
        if now.len() <= FenceCache::INLINE {
            summary.fences[..now.len()].copy_from_slice(now);
            summary.n = now.len() as u8;
            summary.flags = FenceCache::MEMBERS;
        }
        if e.inside
            .iter()
            .any(|s| !s.dwelt && fences.dwell(s.fence).is_some())
        {
            summary.flags |= FenceCache::DWELL_PENDING;
        }
        self.fence_cache[slot as usize] = summary;
    }

    /// Moves the clock forward to `now_ms` (never back) and emits Dwell
    /// events for entities that have stayed inside a fence long enough
    /// without sending a fix.
    pub fn advance_clock(&mut self, now_ms: i64) {
        self.clock = self.clock.max(now_ms);
        let now = self.clock;
        let mut due = Vec::new();
        for (fslot, fs) in self.fences.slots.iter().enumerate() {
            let Some(fs) = fs else { continue };
            let Some(d) = fs.fence.dwell_ms else { continue };
            for &m in &fs.members {
                let e = live(&self.entities, m);
                if let Some(s) = e.inside.iter().find(|s| s.fence == fslot as u32)
                    && !s.dwelt
                    && now.saturating_sub(s.since) >= d
                {
                    due.push((fs.fence.id.clone(), e.id.clone(), m, fslot as u32));
                }
            }
        }
        // Roaming fences' slots are tagged with the top bit.
        due.extend(
            self.roaming_dwell_due(now)
                .into_iter()
                .map(|(f, e, m, r)| (f, e, m, r | ROAMING)),
        );
        due.sort_unstable_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        for (fence, entity, m, fslot) in due {
            if fslot & ROAMING != 0 {
                self.roaming_dwelt(fslot & !ROAMING, m);
            } else {
                let e = live_mut(&mut self.entities, m);
                if let Some(s) = e.inside.iter_mut().find(|s| s.fence == fslot) {
                    s.dwelt = true;
                }
            }
            self.events.push(FenceEvent {
                kind: FenceEventKind::Dwell,
                entity,
                fence,
                ts_ms: now,
                position: self.hot[m as usize].fix.position(),
            });
            self.stats.events += 1;
        }
    }

    /// Removes an entity; returns false if it was absent. Fences it was
    /// inside emit [`FenceEventKind::Removed`].
    pub fn remove(&mut self, id: &str) -> bool {
        let Some(&slot) = self.ids.get(id.as_bytes()) else {
            return false;
        };
        self.remove_slot(slot, self.clock);
        self.stats.removed += 1;
        true
    }

    /// Swap-removes the entry at `pos` of `cell`, fixing the moved entry's
    /// entity and dropping the cell once empty.
    fn unlink(&mut self, cell: u64, pos: usize) {
        let v = cell_mut(&mut self.cells, cell);
        v.swap_remove(pos);
        if let Some(moved) = v.get(pos) {
            let m = moved.slot;
            self.hot[m as usize].pos = pos as u32;
        } else if v.is_empty() {
            self.cells.remove(&cell);
        }
    }

    fn remove_slot(&mut self, slot: u32, ts: i64) {
        let Some(e) = self.entities[slot as usize].take() else {
            return;
        };
        self.ids.remove(e.id.as_bytes());
        let h = self.hot[slot as usize];
        self.unlink(h.cell, h.pos as usize);
        for s in &e.inside {
            let fs = self.fences.get_mut(s.fence);
            fs.members.remove(&slot);
            self.events.push(FenceEvent {
                kind: FenceEventKind::Removed,
                entity: e.id.clone(),
                fence: fs.fence.id.clone(),
                ts_ms: ts,
                position: h.fix.position(),
            });
            self.stats.events += 1;
        }
        let mut roam_events = Vec::new();
        for &r in self.roam.memberships(slot) {
            roam_events.push(self.roam.get(r).fence.id.clone());
        }
        for fence in roam_events {
            self.events.push(FenceEvent {
                kind: FenceEventKind::Removed,
                entity: e.id.clone(),
                fence,
                ts_ms: ts,
                position: h.fix.position(),
            });
            self.stats.events += 1;
        }
        self.roaming_entity_removed(slot, &e.id, ts);
        self.hot[slot as usize].in_fence = false;
        self.reset_fence_cache(slot);
        self.free.push(slot);
    }

    /// Removes every entity silent for longer than the TTL (nothing without
    /// a TTL); returns their ids, sorted.
    pub fn evict_stale(&mut self) -> Vec<Arc<str>> {
        let Some(_) = self.options.ttl_ms else {
            return Vec::new();
        };
        let cutoff = self.cutoff(false);
        let mut stale: Vec<(Arc<str>, u32)> = self
            .entities
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                e.as_ref()
                    .filter(|_| self.hot[i].fix.ts_ms < cutoff)
                    .map(|e| (e.id.clone(), i as u32))
            })
            .collect();
        stale.sort_unstable();
        for (_, slot) in &stale {
            self.remove_slot(*slot, self.clock);
        }
        self.stats.evicted += stale.len() as u64;
        stale.into_iter().map(|(id, _)| id).collect()
    }

    /// The stored state of an entity.
    pub fn get(&self, id: &str) -> Option<EntityInfo> {
        let slot = *self.ids.get(id.as_bytes())?;
        let e = self.entities[slot as usize].as_ref()?;
        let h = &self.hot[slot as usize];
        Some(EntityInfo {
            id: e.id.clone(),
            kind: self.kinds.get(h.kind).clone(),
            fix: h.fix,
            low_accuracy: h.low_acc,
            stale: h.fix.ts_ms < self.cutoff(false),
            fences: e
                .inside
                .iter()
                .map(|s| (self.fences.get(s.fence).fence.id.clone(), s.since))
                .chain(self.roam.memberships(slot).iter().map(|&r| {
                    let rs = self.roam.get(r);
                    (rs.fence.id.clone(), rs.members[&slot].since)
                }))
                .collect(),
        })
    }

    /// Every entity id, sorted.
    pub fn ids(&self) -> Vec<Arc<str>> {
        let mut v: Vec<Arc<str>> = self
            .entities
            .iter()
            .flatten()
            .map(|e| e.id.clone())
            .collect();
        v.sort_unstable();
        v
    }

    /// The entity's kept trajectory (empty without
    /// [`GeoOptions::history`]).
    pub fn trajectory(&self, id: &str) -> Option<Trajectory> {
        let slot = *self.ids.get(id.as_bytes())?;
        let e = self.entities[slot as usize].as_ref()?;
        Some(Trajectory::from_trusted(e.trail.iter().copied().collect()))
    }

    fn sel(&self, f: &QueryFilter) -> Sel {
        let kinds = if f.kinds.is_empty() {
            KindSel::All
        } else {
            KindSel::Some(
                f.kinds
                    .iter()
                    .filter_map(|k| self.kinds.lookup(k))
                    .collect(),
            )
        };
        Sel {
            kinds,
            cutoff: self.cutoff(f.include_stale),
            no_low_acc: f.exclude_low_accuracy,
        }
    }

    /// Feeds `v` every selected entry within the visitor's threshold inside
    /// the cap of `r_m` metres.
    fn scan_cap(&self, c: LatLon, q: &[f64; 3], r_m: f64, sel: &Sel, v: &mut impl Visitor) {
        let delta = (r_m / sphere::EARTH_RADIUS_M) * (1.0 + 1e-9) + 1e-12;
        let mut runs: Vec<ColRun> = Vec::new();
        let budget = 4 * self.cells.len() as u64 + 64;
        if delta < std::f64::consts::PI
            && self
                .grid
                .cap_runs(c.lat(), c.lon(), delta, budget, &mut runs)
        {
            for &(b, lo, hi) in &runs {
                for col in lo..=hi {
                    if let Some(cell) = self.cells.get(&key(b, col)) {
                        Self::scan_cell(cell, q, sel, v);
                    }
                }
            }
        } else {
            let cos_lat0 = c.lat().to_radians().cos();
            for (&k, cell) in &self.cells {
                if self.grid.cell_lb_c2(k, c.lat(), c.lon(), cos_lat0) <= v.threshold() {
                    Self::scan_cell(cell, q, sel, v);
                }
            }
        }
    }

    #[inline]
    fn scan_cell(cell: &[Entry], q: &[f64; 3], sel: &Sel, v: &mut impl Visitor) {
        for e in cell {
            if !sel.keep(e) {
                continue;
            }
            let c2 = chord2(q, &e.xyz);
            if c2 <= v.threshold() {
                v.visit(e, c2);
            }
        }
    }

    /// Builds the answers, first touching every record they need in one
    /// tight loop so the cache misses overlap instead of queueing.
    fn hits(&self, found: &[(f64, u32)]) -> Vec<Hit> {
        let mut sink = 0i64;
        for &(_, slot) in found {
            sink ^= self.hot[slot as usize].fix.ts_ms;
            sink ^= self.entities[slot as usize].as_ref().map_or(0, |e| {
                i64::from(e.id.as_bytes().first().copied().unwrap_or(0))
            });
        }
        std::hint::black_box(sink);
        found.iter().map(|&c| self.hit(c)).collect()
    }

    fn hit(&self, (d, slot): (f64, u32)) -> Hit {
        let h = &self.hot[slot as usize];
        Hit {
            id: live(&self.entities, slot).id.clone(),
            kind: self.kinds.get(h.kind).clone(),
            fix: h.fix,
            distance_m: d,
            low_accuracy: h.low_acc,
        }
    }

    fn check_radius(radius_m: f64) -> Result<()> {
        if radius_m.is_nan() || radius_m < 0.0 {
            return Err(Error::InvalidQuery {
                reason: format!("radius {radius_m} m must be >= 0"),
            });
        }
        Ok(())
    }

    /// Entities within `radius_m` metres (great-circle) of `center`, nearest
    /// first (ties by id), at most `limit` of them.
    ///
    /// With a limit this is a bounded nearest-neighbour search: it visits
    /// grid cells nearest first and stops once no unvisited cell can hold a
    /// nearer entity than the `limit`-th found, so its cost depends on the
    /// limit and the local density, not on how many entities the radius holds.
    ///
    /// # Errors
    /// [`Error::InvalidQuery`] if `radius_m` is NaN or negative.
    pub fn radius(
        &self,
        center: LatLon,
        radius_m: f64,
        limit: usize,
        filter: &QueryFilter,
    ) -> Result<Vec<Hit>> {
        Self::check_radius(radius_m)?;
        let found = self.search(center, radius_m.min(MAX_DISTANCE_M), limit, filter);
        Ok(self.hits(&found))
    }

    /// The `k` nearest entities, optionally no farther than `max_distance_m`.
    ///
    /// # Errors
    /// [`Error::InvalidQuery`] if `max_distance_m` is NaN or negative.
    pub fn nearest(
        &self,
        center: LatLon,
        k: usize,
        max_distance_m: Option<f64>,
        filter: &QueryFilter,
    ) -> Result<Vec<Hit>> {
        let r = max_distance_m.unwrap_or(MAX_DISTANCE_M);
        self.radius(center, r, k, filter)
    }

    /// How many entities are within `radius_m` (no sorting, no allocation
    /// per hit).
    ///
    /// # Errors
    /// [`Error::InvalidQuery`] if `radius_m` is NaN or negative.
    pub fn count_within(
        &self,
        center: LatLon,
        radius_m: f64,
        filter: &QueryFilter,
    ) -> Result<usize> {
        Self::check_radius(radius_m)?;
        let sel = self.sel(filter);
        let q = unit(center.lat(), center.lon());
        let r = radius_m.min(MAX_DISTANCE_M);
        let mut v = Count {
            radius: Radius::new(r),
            n: 0,
        };
        self.scan_cap(center, &q, r, &sel, &mut v);
        Ok(v.n)
    }

    pub(crate) fn search(
        &self,
        center: LatLon,
        rmax: f64,
        limit: usize,
        filter: &QueryFilter,
    ) -> Vec<(f64, u32)> {
        if limit == 0 {
            return Vec::new();
        }
        let sel = self.sel(filter);
        if matches!(&sel.kinds, KindSel::Some(v) if v.is_empty()) {
            return Vec::new();
        }
        let q = unit(center.lat(), center.lon());
        if limit >= self.len() {
            let mut v = Collect {
                radius: Radius::new(rmax),
                out: Vec::new(),
            };
            self.scan_cap(center, &q, rmax, &sel, &mut v);
            sort_hits(&mut v.out, &self.entities);
            v.out.truncate(limit);
            return v.out;
        }
        self.best_first(center, &q, rmax, limit, &sel)
    }

    /// The `limit` nearest within `rmax`, visiting cells nearest first.
    ///
    /// Cells are queued by a lower bound of their distance to the query, in
    /// caps that double from one cell size; a cell is scanned only while its
    /// bound is within the current `limit`-th best, so a dense area stops
    /// after the few cells around the point and a sparse one grows the cap
    /// without scanning any cell twice.
    fn best_first<'s>(
        &'s self,
        center: LatLon,
        q: &[f64; 3],
        rmax: f64,
        limit: usize,
        sel: &Sel,
    ) -> Vec<(f64, u32)> {
        let (lat, lon) = (center.lat(), center.lon());
        let cos_lat0 = lat.to_radians().cos();
        let mut v = TopK {
            radius: Radius::new(rmax),
            best: Best::new(limit, &self.entities),
            worst_hi: f64::INFINITY,
        };
        let mut queue: BinaryHeap<QueuedCell> = BinaryHeap::new();
        let mut seen: HashSet<u64, Hasher> = HashSet::default();
        let mut runs: Vec<ColRun> = Vec::new();
        let budget = 4 * self.cells.len() as u64 + 64;
        let mut offer = |k: u64, queue: &mut BinaryHeap<QueuedCell<'s>>, threshold: f64| {
            // The small local set first: the cell table is large and cold.
            if seen.insert(k)
                && let Some(cell) = self.cells.get(&k)
            {
                let lb = self.grid.cell_lb_c2(k, lat, lon, cos_lat0);
                if lb <= threshold {
                    queue.push(QueuedCell { lb, key: k, cell });
                }
            }
        };
        let mut r = rmax.min(self.options.cell_size_m);
        loop {
            let delta = (r / sphere::EARTH_RADIUS_M) * (1.0 + 1e-9) + 1e-12;
            let fits = delta < std::f64::consts::PI
                && self.grid.cap_runs(lat, lon, delta, budget, &mut runs);
            if fits {
                for &(b, lo, hi) in &runs {
                    for col in lo..=hi {
                        offer(key(b, col), &mut queue, v.threshold());
                    }
                }
            } else {
                // Too many cells in the cap: queue the occupied ones.
                for &k in self.cells.keys() {
                    offer(k, &mut queue, v.threshold());
                }
            }
            let complete = r >= rmax || !fits;
            // Every entity within `r` is in a queued (or dropped) cell.
            let covered = if complete {
                f64::INFINITY
            } else {
                m_to_chord2(r) * (1.0 - MARGIN)
            };
            while let Some(&QueuedCell { lb, cell, .. }) = queue.peek() {
                if lb > v.threshold() {
                    // Later cells are farther still, and the threshold
                    // only shrinks.
                    queue.clear();
                    break;
                }
                if lb > covered {
                    break; // a bigger cap may hold nearer cells
                }
                queue.pop();
                Self::scan_cell(cell, q, sel, &mut v);
            }
            if complete || (v.best.heap.len() == limit && v.threshold() <= covered) {
                return v.best.into_sorted();
            }
            r = (r * 2.0).min(rmax);
        }
    }

    /// Entities inside `bbox`, nearest to its centre first (ties by id), at
    /// most `limit`.
    pub fn bbox(&self, bbox: BBox, limit: usize, filter: &QueryFilter) -> Vec<Hit> {
        if limit == 0 {
            return Vec::new();
        }
        let sel = self.sel(filter);
        let centre = bbox.center();
        let q = unit(centre.lat(), centre.lon());
        let (s, w, n, e) = bbox.bounds();
        let all = limit >= self.len();
        let mut best = Best::new(if all { 0 } else { limit }, &self.entities);
        let mut out: Vec<(f64, u32)> = Vec::new();
        let hot = &self.hot;
        let mut take = |cell: &[Entry], inside: bool| {
            for en in cell {
                if !sel.keep(en) {
                    continue;
                }
                if !inside {
                    let f = &hot[en.slot as usize].fix;
                    if !bbox.contains(f.lat, f.lon) {
                        continue;
                    }
                }
                let c2 = chord2(&q, &en.xyz);
                if all {
                    out.push((chord2_to_m(c2), en.slot));
                } else {
                    best.offer(c2, en.slot);
                }
            }
        };
        let mut runs = Vec::new();
        let budget = 4 * self.cells.len() as u64 + 64;
        if self.grid.box_runs(s, w, n, e, budget, &mut runs) {
            for &(b, lo, hi) in &runs {
                for col in lo..=hi {
                    let k = key(b, col);
                    if let Some(cell) = self.cells.get(&k) {
                        take(cell, cell_in_box(self.grid.cell_bounds(k), &bbox));
                    }
                }
            }
        } else {
            for (&k, cell) in &self.cells {
                take(cell, cell_in_box(self.grid.cell_bounds(k), &bbox));
            }
        }
        let hits = if all {
            sort_hits(&mut out, &self.entities);
            out
        } else {
            best.into_sorted()
        };
        self.hits(&hits)
    }

    /// Adds a fence. Entities already inside are not notified until their
    /// next accepted fix.
    ///
    /// # Errors
    /// - [`Error::InvalidId`] if the fence id is empty or longer than
    ///   [`MAX_ID_LEN`](crate::MAX_ID_LEN) bytes;
    /// - [`Error::InvalidFence`] if the shape is empty, a ring has fewer than 3
    ///   distinct points, a coordinate is out of range, it is wider than 360
    ///   degrees of longitude, or its kinds or dwell time are invalid;
    /// - [`Error::DuplicateFence`] if a fence or roaming fence of that id exists;
    /// - [`Error::InvalidKind`] if its kinds would exceed 65,536 distinct tags.
    pub fn add_fence(&mut self, fence: Fence) -> Result<()> {
        let rect = fence.validate()?;
        if self.fences.ids.contains_key(&*fence.id) || self.roam.ids.contains_key(&*fence.id) {
            return Err(Error::DuplicateFence {
                fence: crate::error::truncate(&fence.id),
            });
        }
        let codes = fence
            .kinds
            .iter()
            .map(|k| self.kinds.intern(k))
            .collect::<Result<Vec<_>>>()?;
        self.fences.insert(fence, rect, codes);
        Ok(())
    }

    /// Removes a fence and its per-entity state, without events; returns it.
    pub fn remove_fence(&mut self, id: &str) -> Option<Fence> {
        let (slot, fs) = self.fences.remove(id)?;
        for &m in &fs.members {
            if let Some(e) = self.entities[m as usize].as_mut() {
                e.inside.retain(|s| s.fence != slot);
                self.hot[m as usize].in_fence = !e.inside.is_empty();
            }
        }
        Some(fs.fence)
    }

    /// A fence by id.
    pub fn fence(&self, id: &str) -> Option<&Fence> {
        let slot = *self.fences.ids.get(id)?;
        Some(&self.fences.get(slot).fence)
    }

    /// Every fence, sorted by id.
    pub fn fences(&self) -> Vec<&Fence> {
        let mut v: Vec<&Fence> = self
            .fences
            .slots
            .iter()
            .flatten()
            .map(|f| &f.fence)
            .collect();
        v.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Number of fences.
    pub fn fence_count(&self) -> usize {
        self.fences.len()
    }

    /// Entities currently inside a fence or roaming fence (by their last
    /// fix evaluated), sorted.
    pub fn fence_members(&self, id: &str) -> Option<Vec<Arc<str>>> {
        let Some(&slot) = self.fences.ids.get(id) else {
            return self.roaming_members(id);
        };
        let mut v: Vec<Arc<str>> = self
            .fences
            .get(slot)
            .members
            .iter()
            .filter_map(|&m| self.entities[m as usize].as_ref().map(|e| e.id.clone()))
            .collect();
        v.sort_unstable();
        Some(v)
    }

    /// Ids of the fences containing a point, sorted; with `kind`, only
    /// fences that apply to it.
    pub fn fences_containing(&self, at: LatLon, kind: Option<&Kind>) -> Vec<Arc<str>> {
        let code = match kind {
            Some(k) => match self.kinds.lookup(k) {
                Some(c) => Some(c),
                None => {
                    // A kind never seen: only fences for every kind apply.
                    Some(u16::MAX)
                }
            },
            None => None,
        };
        let mut out = Vec::new();
        self.fences.containing(at.lat(), at.lon(), code, &mut out);
        let mut ids: Vec<Arc<str>> = out
            .into_iter()
            .map(|s| self.fences.get(s).fence.id.clone())
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Restores one entity exactly as saved (used by snapshots).
    pub(crate) fn restore_entity(
        &mut self,
        id: &str,
        kind: u16,
        fix: Fix,
        low_acc: bool,
        inside: Vec<Inside>,
        trail: VecDeque<TrackPoint>,
    ) -> Result<()> {
        if self.ids.contains_key(id.as_bytes()) {
            return Err(Error::InvalidId {
                id: crate::error::truncate(id),
                reason: "duplicate entity id",
            });
        }
        let cell = self.grid.key(fix.lat, fix.lon);
        let slot = self.entities.len() as u32;
        let v = self.cells.entry(cell).or_default();
        let pos = v.len() as u32;
        v.push(Entry {
            xyz: unit(fix.lat, fix.lon),
            ts: fix.ts_ms,
            slot,
            kind,
            low_acc,
        });
        for s in &inside {
            self.fences.get_mut(s.fence).members.insert(slot);
        }
        self.reset_fence_cache(slot);
        let huge = self.options.huge_pages;
        let hot = Hot {
            fix,
            cell,
            pos,
            kind,
            low_acc,
            in_fence: !inside.is_empty(),
        };
        crate::huge::push(&mut self.hot, hot, huge);
        let id = IdKey::new(id);
        let entity = Entity {
            id: Arc::from(id.as_str()),
            inside,
            trail,
        };
        crate::huge::push(&mut self.entities, Some(entity), huge);
        self.ids.insert(id, slot);
        Ok(())
    }

    /// The slot of an entity by id.
    pub(crate) fn slot_of(&self, id: &str) -> Option<u32> {
        self.ids.get(id.as_bytes()).copied()
    }

    /// The id of the live entity in `slot`.
    pub(crate) fn entity_id(&self, slot: u32) -> Arc<str> {
        live(&self.entities, slot).id.clone()
    }

    pub(crate) fn fence_slot(&self, id: &str) -> Option<u32> {
        self.fences.ids.get(id).copied()
    }
}

#[inline]
fn live(entities: &[Option<Entity>], slot: u32) -> &Entity {
    entities[slot as usize].as_ref().expect("slot is live")
}

#[inline]
fn live_mut(entities: &mut [Option<Entity>], slot: u32) -> &mut Entity {
    entities[slot as usize].as_mut().expect("slot is live")
}

#[inline]
fn cell_mut(cells: &mut HashMap<u64, Vec<Entry>, Hasher>, key: u64) -> &mut Vec<Entry> {
    cells.get_mut(&key).expect("entity's cell exists")
}

/// True if a cell (widened bounds) lies inside the box, so its entries need
/// no per-entry test.
fn cell_in_box([s, w, n, e]: [f64; 4], b: &BBox) -> bool {
    let (bs, bw, bn, be) = b.bounds();
    let lon_inside = if bw <= be {
        bw <= w && e <= be
    } else {
        w >= bw || e <= be
    };
    // A widened edge past +-180 is never inside: those entries get the
    // exact test.
    s >= bs && n <= bn && w >= -180.0 && e <= 180.0 && lon_inside
}

fn push_trail(trail: &mut VecDeque<TrackPoint>, h: &HistoryOptions, fix: Fix) {
    trail.push_back(TrackPoint {
        ts_ms: fix.ts_ms,
        lat: fix.lat,
        lon: fix.lon,
    });
    while trail.len() > h.max_points.max(1) {
        trail.pop_front();
    }
    if let Some(age) = h.max_age_ms {
        let keep_from = fix.ts_ms.saturating_sub(age);
        while trail.front().is_some_and(|p| p.ts_ms < keep_from) {
            trail.pop_front();
        }
    }
}
