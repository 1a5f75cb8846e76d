//! The bucket grid of the moving-entity index.
//!
//! Latitude is cut into bands of equal height; each band is cut into as many
//! longitude columns as keep a cell at least `cell_m` wide at the band's
//! poleward edge. Cells are therefore roughly square in metres everywhere,
//! and the bands touching a pole hold a single cell, so a query near a pole
//! visits a handful of cells instead of thousands of degenerate slivers.
//!
//! A query turns its spherical cap (or box) into, per band, one or two runs
//! of columns (two when it wraps across the antimeridian). The cap's
//! longitude half-width is computed per band from the exact small-circle
//! formula, with margins that only ever add cells, never drop them.

use crate::sphere::{EARTH_RADIUS_M, hav, lon_gap};

/// Margin added to every range, in degrees (about 0.1 mm).
const EPS_DEG: f64 = 1e-9;

/// A run of columns `lo..=hi` in band `band`.
pub(crate) type ColRun = (u32, u32, u32);

#[derive(Debug, Clone)]
pub(crate) struct Grid {
    /// Band height in degrees.
    h: f64,
    nbands: u32,
    ncols: Vec<u32>,
}

impl Grid {
    pub(crate) fn new(cell_m: f64) -> Grid {
        let deg = cell_m / (EARTH_RADIUS_M * std::f64::consts::PI / 180.0);
        let nbands = ((180.0 / deg).ceil() as u32).max(1);
        let h = 180.0 / f64::from(nbands);
        let ncols = (0..nbands)
            .map(|b| {
                let lo = -90.0 + f64::from(b) * h;
                let hi = lo + h;
                let poleward = lo.abs().max(hi.abs()).min(90.0);
                let c = poleward.to_radians().cos().max(0.0);
                ((360.0 * c / h).floor() as u32).max(1)
            })
            .collect();
        Grid { h, nbands, ncols }
    }

    #[inline]
    pub(crate) fn band(&self, lat: f64) -> u32 {
        (((lat + 90.0) / self.h).floor() as i64).clamp(0, i64::from(self.nbands) - 1) as u32
    }

    #[inline]
    pub(crate) fn col(&self, band: u32, lon: f64) -> u32 {
        let n = self.ncols[band as usize];
        (((lon + 180.0) / 360.0 * f64::from(n)).floor() as i64).clamp(0, i64::from(n) - 1) as u32
    }

    #[inline]
    pub(crate) fn key(&self, lat: f64, lon: f64) -> u64 {
        let b = self.band(lat);
        key(b, self.col(b, lon))
    }

    fn band_lats(&self, b: u32) -> (f64, f64) {
        let lo = -90.0 + f64::from(b) * self.h;
        let hi = if b + 1 == self.nbands {
            90.0
        } else {
            lo + self.h
        };
        (lo, hi)
    }

    fn col_lons(&self, b: u32, c: u32) -> (f64, f64) {
        let n = self.ncols[b as usize];
        let w = 360.0 / f64::from(n);
        let lo = -180.0 + f64::from(c) * w;
        let hi = if c + 1 == n { 180.0 } else { lo + w };
        (lo, hi)
    }

    /// Columns of band `b` covering longitudes `lo..=hi` (`hi - lo < 360`,
    /// either end possibly past ±180), merged so no column appears twice.
    fn push_lon_range(&self, b: u32, lo: f64, hi: f64, out: &mut Vec<ColRun>) -> u64 {
        let n = self.ncols[b as usize];
        let run = |a: f64, z: f64| (self.col(b, a - EPS_DEG), self.col(b, z + EPS_DEG));
        let runs = if hi - lo >= 360.0 - 2.0 * EPS_DEG {
            [(0, n - 1), (1, 0)]
        } else if lo <= -180.0 {
            // -180 and 180 are one meridian: a range touching either end
            // covers the columns at both.
            [run(lo + 360.0, 180.0), run(-180.0, hi)]
        } else if hi >= 180.0 {
            [run(lo, 180.0), run(-180.0, hi - 360.0)]
        } else {
            [run(lo, hi), (1, 0)]
        };
        let (a, z) = (runs[0], runs[1]);
        let mut count = 0u64;
        if z.0 > z.1 {
            out.push((b, a.0, a.1));
            count += u64::from(a.1 - a.0 + 1);
        } else {
            // `a` is the eastern run (high columns), `z` the western one.
            let (lo_run, hi_run) = if a.0 <= z.0 { (a, z) } else { (z, a) };
            if hi_run.0 <= lo_run.1 + 1 {
                let m = (lo_run.0, lo_run.1.max(hi_run.1));
                out.push((b, m.0, m.1));
                count += u64::from(m.1 - m.0 + 1);
            } else {
                out.push((b, lo_run.0, lo_run.1));
                out.push((b, hi_run.0, hi_run.1));
                count += u64::from(lo_run.1 - lo_run.0 + 1) + u64::from(hi_run.1 - hi_run.0 + 1);
            }
        }
        count
    }

    /// Fills `out` with the column runs covering the spherical cap of angular
    /// radius `delta` (radians) around `lat0`/`lon0`. Returns `false` (and
    /// `out` is then meaningless) when more than `budget` cells would be
    /// visited: the caller scans occupied cells instead.
    pub(crate) fn cap_runs(
        &self,
        lat0: f64,
        lon0: f64,
        delta: f64,
        budget: u64,
        out: &mut Vec<ColRun>,
    ) -> bool {
        out.clear();
        let d = delta.to_degrees();
        let (lat_min, lat_max) = (lat0 - d, lat0 + d);
        let b0 = self.band(lat_min.max(-90.0) - EPS_DEG);
        let b1 = self.band(lat_max.min(90.0) + EPS_DEG);
        if u64::from(b1 - b0 + 1) > budget {
            return false;
        }
        let mut total = 0u64;
        let pole = lat_max >= 90.0 - 1e-7 || lat_min <= -90.0 + 1e-7;
        if pole {
            for b in b0..=b1 {
                let n = self.ncols[b as usize];
                out.push((b, 0, n - 1));
                total += u64::from(n);
                if total > budget {
                    return false;
                }
            }
            return true;
        }
        let (s0, c0) = lat0.to_radians().sin_cos();
        let cos_d = delta.cos();
        let phi_star = (s0 / cos_d).clamp(-1.0, 1.0).asin().to_degrees();
        for b in b0..=b1 {
            let (la, lb) = self.band_lats(b);
            let (ia, ib) = (la.max(lat_min), lb.min(lat_max));
            let phi = if ia <= ib {
                phi_star.clamp(ia, ib)
            } else {
                lat_min.max(lat_max.min(la))
            };
            let denom = c0 * phi.to_radians().cos();
            let half = if denom <= 1e-12 {
                180.0
            } else {
                let cos_dl = (cos_d - s0 * phi.to_radians().sin()) / denom;
                // Widen: acos is ill-conditioned near 1.
                (cos_dl - 1e-12).clamp(-1.0, 1.0).acos().to_degrees() + 1e-7
            };
            total += if half >= 180.0 {
                let n = self.ncols[b as usize];
                out.push((b, 0, n - 1));
                u64::from(n)
            } else {
                self.push_lon_range(b, lon0 - half, lon0 + half, out)
            };
            if total > budget {
                return false;
            }
        }
        true
    }

    /// Like [`Grid::cap_runs`] for a box; `west > east` wraps across the
    /// antimeridian.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn box_runs(
        &self,
        south: f64,
        west: f64,
        north: f64,
        east: f64,
        budget: u64,
        out: &mut Vec<ColRun>,
    ) -> bool {
        out.clear();
        let b0 = self.band(south - EPS_DEG);
        let b1 = self.band(north + EPS_DEG);
        if u64::from(b1 - b0 + 1) > budget {
            return false;
        }
        let hi = if west > east { east + 360.0 } else { east };
        let mut total = 0u64;
        for b in b0..=b1 {
            total += self.push_lon_range(b, west, hi, out);
            if total > budget {
                return false;
            }
        }
        true
    }

    /// `[south, west, north, east]` of a cell, widened by the margin.
    pub(crate) fn cell_bounds(&self, cell: u64) -> [f64; 4] {
        let (b, c) = unkey(cell);
        let (la, lb) = self.band_lats(b);
        let (wa, wb) = self.col_lons(b, c);
        [la - EPS_DEG, wa - EPS_DEG, lb + EPS_DEG, wb + EPS_DEG]
    }

    /// A lower bound of the squared chord from a point to any point of a
    /// cell (used to skip cells when scanning occupied ones).
    pub(crate) fn cell_lb_c2(&self, cell: u64, lat0: f64, lon0: f64, cos_lat0: f64) -> f64 {
        let (b, c) = unkey(cell);
        let (la, lb) = self.band_lats(b);
        let (wa, wb) = self.col_lons(b, c);
        let (la, lb, wa, wb) = (la - EPS_DEG, lb + EPS_DEG, wa - EPS_DEG, wb + EPS_DEG);
        let dphi = if lat0 < la {
            la - lat0
        } else if lat0 > lb {
            lat0 - lb
        } else {
            0.0
        };
        let dlam = if (wa..=wb).contains(&lon0) {
            0.0
        } else {
            lon_gap(lon0, wa).min(lon_gap(lon0, wb))
        };
        let cos_pole = la.to_radians().cos().min(lb.to_radians().cos()).max(0.0);
        let lb = 4.0 * (hav(dphi.to_radians()) + cos_lat0 * cos_pole * hav(dlam.to_radians()));
        lb * (1.0 - 1e-9) - 1e-18
    }
}

#[inline]
pub(crate) fn key(band: u32, col: u32) -> u64 {
    (u64::from(band) << 32) | u64::from(col)
}

#[inline]
pub(crate) fn unkey(k: u64) -> (u32, u32) {
    ((k >> 32) as u32, k as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polar_bands_have_one_cell_and_equator_is_square() {
        let g = Grid::new(1000.0);
        assert_eq!(g.ncols[0], 1);
        assert_eq!(*g.ncols.last().unwrap(), 1);
        let eq = g.band(0.0);
        let n = g.ncols[eq as usize];
        let width_m = 2.0 * std::f64::consts::PI * EARTH_RADIUS_M / f64::from(n);
        assert!((999.0..1001.0).contains(&width_m), "{width_m}");
    }

    #[test]
    fn wrapping_runs_never_repeat_a_column() {
        let g = Grid::new(50_000.0);
        let mut out = Vec::new();
        // A band with few columns, a range wider than half the world.
        assert!(g.box_runs(88.0, 10.0, 89.9, -10.0, u64::MAX, &mut out));
        for &(b, lo, hi) in &out {
            assert!(lo <= hi && hi < g.ncols[b as usize]);
        }
        let mut cells: Vec<(u32, u32)> = out
            .iter()
            .flat_map(|&(b, lo, hi)| (lo..=hi).map(move |c| (b, c)))
            .collect();
        let n = cells.len();
        cells.sort_unstable();
        cells.dedup();
        assert_eq!(cells.len(), n);
    }
}
