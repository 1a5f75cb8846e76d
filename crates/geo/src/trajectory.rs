//! Per-entity trajectories: retention, Douglas-Peucker simplification with a
//! tolerance in metres, encoded polyline export.

use crate::sphere::{EARTH_RADIUS_M, unit};
use crate::{Error, Result, polyline};
use geo::{LineString, SimplifyIdx};

/// How much history each entity keeps (see
/// [`crate::GeoOptions::with_history`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct HistoryOptions {
    /// Keep at most this many points per entity (oldest dropped first).
    pub max_points: usize,
    /// Drop points older than this, relative to the entity's latest fix.
    pub max_age_ms: Option<i64>,
}

impl Default for HistoryOptions {
    fn default() -> Self {
        HistoryOptions {
            max_points: 1024,
            max_age_ms: Some(3_600_000),
        }
    }
}

impl HistoryOptions {
    /// Sets [`HistoryOptions::max_points`] (at least 1).
    #[must_use]
    pub fn with_max_points(mut self, n: usize) -> Self {
        self.max_points = n.max(1);
        self
    }

    /// Sets [`HistoryOptions::max_age_ms`].
    #[must_use]
    pub fn with_max_age_ms(mut self, ms: Option<i64>) -> Self {
        self.max_age_ms = ms.map(|m| m.max(0));
        self
    }
}

/// One point of a trajectory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackPoint {
    /// Time of the fix, milliseconds.
    pub ts_ms: i64,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
}

/// A time-ordered sequence of positions.
///
/// ```
/// use blocksmith_geo::{TrackPoint, Trajectory};
/// // A straight road with GPS jitter of a metre or two, then a turn.
/// let mut pts = Vec::new();
/// for i in 0..=100 {
///     let jitter = if i % 2 == 0 { 0.00001 } else { -0.00001 };
///     pts.push(TrackPoint { ts_ms: i * 1000, lat: 45.0 + jitter, lon: 7.0 + i as f64 * 0.0001 });
/// }
/// pts.push(TrackPoint { ts_ms: 101_000, lat: 45.01, lon: 7.01 });
/// let t = Trajectory::new(pts)?;
/// let s = t.simplify(5.0);
/// assert_eq!(s.len(), 3); // start, the corner, the end
/// assert!(s.to_polyline(5)?.len() < 20);
/// # Ok::<(), blocksmith_geo::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trajectory {
    points: Vec<TrackPoint>,
}

impl Trajectory {
    /// Validates positions and time order (equal timestamps allowed).
    ///
    /// # Errors
    /// [`Error::InvalidCoordinate`] if a point is out of range;
    /// [`Error::InvalidTrajectory`] if a timestamp is before the previous one.
    pub fn new(points: Vec<TrackPoint>) -> Result<Self> {
        for p in &points {
            crate::sphere::check(p.lat, p.lon)?;
        }
        if let Some(w) = points.windows(2).find(|w| w[1].ts_ms < w[0].ts_ms) {
            return Err(Error::InvalidTrajectory {
                reason: format!("timestamp {} after {}", w[1].ts_ms, w[0].ts_ms),
            });
        }
        Ok(Trajectory { points })
    }

    pub(crate) fn from_trusted(points: Vec<TrackPoint>) -> Self {
        Trajectory { points }
    }

    /// The points.
    pub fn points(&self) -> &[TrackPoint] {
        &self.points
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True if there is no point.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Great-circle length in metres.
    pub fn length_m(&self) -> f64 {
        self.points
            .windows(2)
            .map(|w| {
                crate::sphere::chord2_to_m(crate::sphere::chord2(
                    &unit(w[0].lat, w[0].lon),
                    &unit(w[1].lat, w[1].lon),
                ))
            })
            .sum()
    }

    /// Douglas-Peucker simplification: keeps the first and last points and
    /// every point farther than `tolerance_m` metres from the simplified
    /// line (via `geo`'s `SimplifyIdx`).
    ///
    /// Points are projected on the plane tangent to the sphere at the middle
    /// of each stretch of at most 500 km, so the antimeridian and the poles
    /// need no special case; the distortion within a stretch is under 0.2 %.
    #[must_use]
    pub fn simplify(&self, tolerance_m: f64) -> Trajectory {
        const MAX_STRETCH: f64 = 500_000.0 / EARTH_RADIUS_M; // radians
        let n = self.points.len();
        if n < 3 || tolerance_m.is_nan() || tolerance_m < 0.0 {
            return self.clone();
        }
        let cos_max = MAX_STRETCH.cos();
        let units: Vec<[f64; 3]> = self.points.iter().map(|p| unit(p.lat, p.lon)).collect();
        let mut keep = vec![false; n];
        let mut start = 0;
        while start < n - 1 {
            let mut end = start + 1;
            while end + 1 < n && dot(&units[start], &units[end + 1]) >= cos_max {
                end += 1;
            }
            let piece = &units[start..=end];
            let ls = project(piece);
            for i in ls.simplify_idx(tolerance_m) {
                keep[start + i] = true;
            }
            start = end;
        }
        keep[0] = true;
        keep[n - 1] = true;
        Trajectory {
            points: self
                .points
                .iter()
                .zip(keep)
                .filter_map(|(p, k)| k.then_some(*p))
                .collect(),
        }
    }

    /// The encoded polyline of the positions (`precision` 5 for Google Maps,
    /// 6 for OSRM).
    ///
    /// # Errors
    /// [`Error::Polyline`] if `precision` is above 7.
    pub fn to_polyline(&self, precision: u32) -> Result<String> {
        let pts: Vec<(f64, f64)> = self.points.iter().map(|p| (p.lat, p.lon)).collect();
        polyline::encode(&pts, precision)
    }
}

fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Projects unit vectors on the plane tangent at their (normalised) mean,
/// in metres.
fn project(piece: &[[f64; 3]]) -> LineString<f64> {
    let mut c = [0.0; 3];
    for u in piece {
        for k in 0..3 {
            c[k] += u[k];
        }
    }
    let norm = dot(&c, &c).sqrt();
    let c = if norm > 1e-12 {
        [c[0] / norm, c[1] / norm, c[2] / norm]
    } else {
        piece[0]
    };
    // East = z x c (or x x c at the poles), north = c x east.
    let mut east = [-c[1], c[0], 0.0];
    let en = dot(&east, &east).sqrt();
    if en < 1e-9 {
        east = [0.0, -c[2], c[1]];
    }
    let en = dot(&east, &east).sqrt();
    let east = [east[0] / en, east[1] / en, east[2] / en];
    let north = [
        c[1] * east[2] - c[2] * east[1],
        c[2] * east[0] - c[0] * east[2],
        c[0] * east[1] - c[1] * east[0],
    ];
    piece
        .iter()
        .map(|u| {
            (
                dot(u, &east) * EARTH_RADIUS_M,
                dot(u, &north) * EARTH_RADIUS_M,
            )
        })
        .collect::<Vec<_>>()
        .into()
}
