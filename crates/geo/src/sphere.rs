//! Great-circle geometry on a spherical Earth.
//!
//! Every distance in the crate comes from [`distance_m`]: the chord between
//! the two points' unit vectors, turned into an arc. The index compares the
//! same chords, so its answers are exactly those of a brute-force scan with
//! [`distance_m`], with no special case at the antimeridian or the poles
//! (unit vectors have neither).

use crate::{Error, Result};

/// Mean Earth radius in metres (IUGG), the one used by `geo`'s `Haversine`.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Half the Earth's circumference: no two points are farther apart.
pub const MAX_DISTANCE_M: f64 = std::f64::consts::PI * EARTH_RADIUS_M;

/// A validated position: latitude in [-90, 90], longitude in [-180, 180],
/// both finite, in degrees.
///
/// ```
/// use blocksmith_geo::LatLon;
/// let p = LatLon::new(48.8566, 2.3522)?;
/// assert_eq!(p.lat(), 48.8566);
/// assert!(LatLon::new(91.0, 0.0).is_err());
/// assert!(LatLon::new(f64::NAN, 0.0).is_err());
/// # Ok::<(), blocksmith_geo::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    lat: f64,
    lon: f64,
}

impl LatLon {
    /// Validates a position.
    ///
    /// # Errors
    /// [`Error::InvalidCoordinate`] if `lat` or `lon` is NaN, infinite,
    /// |lat| > 90 or |lon| > 180.
    pub fn new(lat: f64, lon: f64) -> Result<Self> {
        check(lat, lon)?;
        Ok(LatLon { lat, lon })
    }

    /// For positions known to be valid.
    pub(crate) const fn trusted(lat: f64, lon: f64) -> Self {
        LatLon { lat, lon }
    }

    /// Latitude in degrees.
    pub fn lat(self) -> f64 {
        self.lat
    }

    /// Longitude in degrees.
    pub fn lon(self) -> f64 {
        self.lon
    }
}

/// Checks that `lat`/`lon` are finite and in range.
pub(crate) fn check(lat: f64, lon: f64) -> Result<()> {
    if lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0 {
        Ok(())
    } else {
        Err(Error::InvalidCoordinate { lat, lon })
    }
}

/// The unit vector of a position (x towards 0°E on the equator, z north).
#[inline]
pub(crate) fn unit(lat: f64, lon: f64) -> [f64; 3] {
    // -180 and 180 are one meridian: give them one vector (distance 0).
    let lon = if lon <= -180.0 { 180.0 } else { lon };
    let (sf, cf) = lat.to_radians().sin_cos();
    let (sl, cl) = lon.to_radians().sin_cos();
    [cf * cl, cf * sl, sf]
}

/// Squared chord length between two unit vectors (0 to 4).
#[inline]
pub(crate) fn chord2(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let dx = a[0] - b[0];
    let dy = a[1] - b[1];
    let dz = a[2] - b[2];
    dx * dx + dy * dy + dz * dz
}

/// Great-circle metres of a squared chord.
#[inline]
pub(crate) fn chord2_to_m(c2: f64) -> f64 {
    2.0 * EARTH_RADIUS_M * (c2.sqrt() * 0.5).min(1.0).asin()
}

/// Squared chord of a great-circle distance (4 or more: the whole sphere).
pub(crate) fn m_to_chord2(m: f64) -> f64 {
    if m >= MAX_DISTANCE_M {
        4.5
    } else {
        let s = (m / (2.0 * EARTH_RADIUS_M)).sin();
        4.0 * s * s
    }
}

/// Great-circle distance in metres between two positions.
///
/// Accurate to well under a millimetre up to thousands of kilometres, and to
/// about ten centimetres for nearly antipodal points (where every formula in
/// double precision loses digits).
///
/// ```
/// use blocksmith_geo::{LatLon, distance_m};
/// let a = LatLon::new(0.0, 179.9995)?;
/// let b = LatLon::new(0.0, -179.9995)?;
/// assert!((distance_m(a, b) - 111.19).abs() < 0.01); // across the antimeridian
/// # Ok::<(), blocksmith_geo::Error>(())
/// ```
pub fn distance_m(a: LatLon, b: LatLon) -> f64 {
    chord2_to_m(chord2(&unit(a.lat, a.lon), &unit(b.lat, b.lon)))
}

/// Haversine of an angle in radians.
#[inline]
pub(crate) fn hav(x: f64) -> f64 {
    let s = (x * 0.5).sin();
    s * s
}

/// Shortest angular difference of two longitudes in degrees, in [0, 180].
#[inline]
pub(crate) fn lon_gap(a: f64, b: f64) -> f64 {
    let d = (a - b).abs() % 360.0;
    if d > 180.0 { 360.0 - d } else { d }
}
