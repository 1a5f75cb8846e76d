//! Google's [encoded polyline algorithm format].
//!
//! Each coordinate is rounded to `precision` decimal digits (5 for Google
//! Maps, 6 for OSRM/Valhalla), delta-coded against the previous point,
//! zig-zag encoded and written as 5-bit groups in printable ASCII.
//!
//! Written here rather than taken from the `polyline` crate so that decoding
//! hostile strings has the crate's typed error with a byte offset, checks
//! that decoded coordinates are valid positions and bounds every shift and
//! sum (see `fuzz_targets/geo_polyline.rs`).
//!
//! [encoded polyline algorithm format]: https://developers.google.com/maps/documentation/utilities/polylinealgorithm
//!
//! ```
//! use blocksmith_geo::polyline;
//! // The example of the format's specification.
//! let points = [(38.5, -120.2), (40.7, -120.95), (43.252, -126.453)];
//! let s = polyline::encode(&points, 5)?;
//! assert_eq!(s, "_p~iF~ps|U_ulLnnqC_mqNvxq`@");
//! assert_eq!(polyline::decode(&s, 5)?, points);
//! # Ok::<(), blocksmith_geo::Error>(())
//! ```

use crate::{Error, Result, sphere};

/// Largest supported precision (decimal digits).
pub const MAX_PRECISION: u32 = 7;

fn factor(precision: u32) -> Result<f64> {
    if precision > MAX_PRECISION {
        return Err(Error::Polyline {
            offset: 0,
            reason: "precision must be 0 to 7 digits",
        });
    }
    Ok(10f64.powi(precision as i32))
}

fn push_value(v: i64, out: &mut String) {
    let mut z = if v < 0 { !(v << 1) } else { v << 1 } as u64;
    while z >= 0x20 {
        out.push(char::from((((z & 0x1f) | 0x20) + 63) as u8));
        z >>= 5;
    }
    out.push(char::from((z + 63) as u8));
}

/// Encodes `(lat, lon)` points (degrees) at `precision` digits.
///
/// # Errors
/// [`Error::Polyline`] if `precision` is above 7;
/// [`Error::InvalidCoordinate`] if a point is out of range.
pub fn encode(points: &[(f64, f64)], precision: u32) -> Result<String> {
    let f = factor(precision)?;
    let mut out = String::with_capacity(points.len() * 8);
    let (mut plat, mut plon) = (0i64, 0i64);
    for &(lat, lon) in points {
        sphere::check(lat, lon)?;
        let (ilat, ilon) = ((lat * f).round() as i64, (lon * f).round() as i64);
        push_value(ilat - plat, &mut out);
        push_value(ilon - plon, &mut out);
        (plat, plon) = (ilat, ilon);
    }
    Ok(out)
}

fn err<T>(offset: usize, reason: &'static str) -> Result<T> {
    Err(Error::Polyline { offset, reason })
}

/// Decodes a polyline into `(lat, lon)` points (degrees).
///
/// Rejects characters outside `?`..`~`, a value cut short, a lone latitude
/// without its longitude, values too long to be coordinates, and decoded
/// positions outside the valid ranges.
///
/// # Errors
/// [`Error::Polyline`] (with the byte offset) for each case above and a
/// `precision` above 7.
pub fn decode(s: &str, precision: u32) -> Result<Vec<(f64, f64)>> {
    let f = factor(precision)?;
    let limit = (180.0 * f) as i64;
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 4);
    let mut i = 0;
    let (mut lat, mut lon) = (0i64, 0i64);
    let read = |i: &mut usize| -> Result<i64> {
        let start = *i;
        let mut acc: u64 = 0;
        let mut shift = 0u32;
        loop {
            let Some(&b) = bytes.get(*i) else {
                return err(start, "value cut short");
            };
            if !(63..=126).contains(&b) {
                return err(*i, "character outside '?'..'~'");
            }
            if shift > 35 {
                return err(*i, "value too long for a coordinate");
            }
            let chunk = u64::from(b - 63);
            acc |= (chunk & 0x1f) << shift;
            shift += 5;
            *i += 1;
            if chunk < 0x20 {
                break;
            }
        }
        let v = (acc >> 1) as i64;
        Ok(if acc & 1 == 1 { !v } else { v })
    };
    while i < bytes.len() {
        let dlat = read(&mut i)?;
        if i >= bytes.len() {
            return err(i, "latitude without a longitude");
        }
        let at = i;
        let dlon = read(&mut i)?;
        lat += dlat;
        lon += dlon;
        if lat.abs() > limit || lon.abs() > limit {
            return err(at, "decoded coordinate out of range");
        }
        let p = (lat as f64 / f, lon as f64 / f);
        if sphere::check(p.0, p.1).is_err() {
            return err(at, "decoded coordinate out of range");
        }
        out.push(p);
    }
    Ok(out)
}
