//! Preprocessing: grayscale, contrast, binarisation, denoising, border removal, orientation,
//! deskew and DPI normalisation. Every function is pure (no I/O) and total (never panics on
//! an image of any size, including empty ones).

use crate::components::{self, Components};
use image::{DynamicImage, GrayImage};

/// Ink value in binary images.
pub const INK: u8 = 0;
/// Background value in binary images.
pub const PAPER: u8 = 255;

/// How the gray page is turned into ink and paper.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Binarization {
    /// One global threshold chosen by Otsu's method.
    Otsu,
    /// Sauvola's local threshold `m * (1 + k (s / 128 - 1))` over a square window.
    Sauvola {
        /// Window side in pixels (odd values are centred exactly; capped at 66,001).
        window: u32,
        /// Sensitivity, typically 0.2-0.5.
        k: f32,
    },
}

impl Default for Binarization {
    fn default() -> Self {
        Binarization::Sauvola { window: 31, k: 0.2 }
    }
}

/// The rotation, in multiples of 90 degrees clockwise, by which the page content was turned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Orientation {
    /// Upright.
    #[default]
    Up,
    /// Turned 90 degrees clockwise (text runs top to bottom).
    Right,
    /// Upside down.
    Down,
    /// Turned 90 degrees counter-clockwise (text runs bottom to top).
    Left,
}

impl Orientation {
    /// Degrees clockwise: 0, 90, 180 or 270.
    pub fn degrees(self) -> u32 {
        match self {
            Orientation::Up => 0,
            Orientation::Right => 90,
            Orientation::Down => 180,
            Orientation::Left => 270,
        }
    }

    /// Turns an image with this orientation upright.
    pub fn correct(self, img: &GrayImage) -> GrayImage {
        match self {
            Orientation::Up => img.clone(),
            Orientation::Right => image::imageops::rotate270(img),
            Orientation::Down => image::imageops::rotate180(img),
            Orientation::Left => image::imageops::rotate90(img),
        }
    }
}

/// Options of [`preprocess`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
#[allow(clippy::struct_excessive_bools)]
pub struct PreprocessOptions {
    /// Binarisation method (default Sauvola, 31 px, k = 0.2).
    pub binarization: Binarization,
    /// Median filter radius before binarisation; 0 disables (default 0).
    pub median_radius: u32,
    /// With no median radius set, apply a 3x3 median when the page is noisy: when
    /// [`estimate_noise`] is at least [`AUTO_MEDIAN_SIGMA`] gray levels (default on).
    #[serde(default = "yes")]
    pub auto_median: bool,
    /// Ink components of at most this many pixels (at 300 DPI) are removed as speckles (default 3).
    pub speckle_area: u32,
    /// Remove dark scanner borders touching the image edge (default on).
    pub remove_borders: bool,
    /// Detect and correct 0/90/180/270 orientation (default on).
    pub orientation: bool,
    /// Detect and correct skew (default on).
    pub deskew: bool,
    /// Largest skew searched, in degrees (default 15).
    pub max_skew: f32,
    /// Resolution the page is rescaled to (default 300).
    pub target_dpi: f32,
    /// The input's resolution if known; `None` estimates it from text size when
    /// [`PreprocessOptions::estimate_dpi`] is on, otherwise assumes the target.
    pub source_dpi: Option<f32>,
    /// Estimate the resolution from the text height when none is declared (default off).
    pub estimate_dpi: bool,
}

impl Default for PreprocessOptions {
    fn default() -> Self {
        Self {
            binarization: Binarization::default(),
            median_radius: 0,
            auto_median: true,
            speckle_area: 3,
            remove_borders: true,
            orientation: true,
            deskew: true,
            max_skew: 15.0,
            target_dpi: 300.0,
            source_dpi: None,
            estimate_dpi: false,
        }
    }
}

impl PreprocessOptions {
    /// Sets the binarisation.
    #[must_use]
    pub fn with_binarization(mut self, b: Binarization) -> Self {
        self.binarization = b;
        self
    }
    /// Sets the median radius.
    #[must_use]
    pub fn with_median_radius(mut self, r: u32) -> Self {
        self.median_radius = r;
        self
    }
    /// Turns the automatic median filter for noisy pages on or off.
    #[must_use]
    pub fn with_auto_median(mut self, on: bool) -> Self {
        self.auto_median = on;
        self
    }
    /// Sets the speckle area.
    #[must_use]
    pub fn with_speckle_area(mut self, a: u32) -> Self {
        self.speckle_area = a;
        self
    }
    /// Turns border removal on or off.
    #[must_use]
    pub fn with_remove_borders(mut self, on: bool) -> Self {
        self.remove_borders = on;
        self
    }
    /// Turns orientation detection on or off.
    #[must_use]
    pub fn with_orientation(mut self, on: bool) -> Self {
        self.orientation = on;
        self
    }
    /// Turns deskew on or off.
    #[must_use]
    pub fn with_deskew(mut self, on: bool) -> Self {
        self.deskew = on;
        self
    }
    /// Sets the largest skew searched.
    #[must_use]
    pub fn with_max_skew(mut self, degrees: f32) -> Self {
        self.max_skew = degrees;
        self
    }
    /// Sets the target resolution.
    #[must_use]
    pub fn with_target_dpi(mut self, dpi: f32) -> Self {
        self.target_dpi = dpi;
        self
    }
    /// Declares the input resolution.
    #[must_use]
    pub fn with_source_dpi(mut self, dpi: Option<f32>) -> Self {
        self.source_dpi = dpi;
        self
    }
    /// Turns resolution estimation on or off.
    #[must_use]
    pub fn with_estimate_dpi(mut self, on: bool) -> Self {
        self.estimate_dpi = on;
        self
    }
}

/// A preprocessed page: the images the layout and recognition stages work on.
#[derive(Clone, Debug)]
pub struct Preprocessed {
    /// Upright, deskewed, contrast-normalised gray page (0 = black).
    pub gray: GrayImage,
    /// The same page binarised (0 = ink, 255 = paper).
    pub binary: GrayImage,
    /// Orientation found (and corrected).
    pub orientation: Orientation,
    /// Skew found (and corrected), degrees; positive = lines descend to the right.
    pub skew_degrees: f32,
    /// Scale applied for DPI normalisation (output pixels per input pixel).
    pub scale: f32,
}

/// Converts to 8-bit gray.
pub fn to_gray(img: &DynamicImage) -> GrayImage {
    img.to_luma8()
}

/// Histogram of 8-bit values, counted in four interleaved tables so runs of equal values
/// (a white page) do not serialise on one counter.
fn histogram(raw: &[u8]) -> [u64; 256] {
    let mut h = [[0u64; 256]; 4];
    let mut chunks = raw.chunks_exact(4);
    for c in &mut chunks {
        h[0][c[0] as usize] += 1;
        h[1][c[1] as usize] += 1;
        h[2][c[2] as usize] += 1;
        h[3][c[3] as usize] += 1;
    }
    for &v in chunks.remainder() {
        h[0][v as usize] += 1;
    }
    let mut out = [0u64; 256];
    for (i, o) in out.iter_mut().enumerate() {
        *o = h[0][i] + h[1][i] + h[2][i] + h[3][i];
    }
    out
}

/// Percentile contrast stretch: the `low` and `high` percentiles (0-100) map to 0 and 255.
/// A flat image is returned unchanged.
pub fn normalize_contrast(gray: &GrayImage, low: f32, high: f32) -> GrayImage {
    let mut out = gray.clone();
    stretch_contrast(&mut out, low, high);
    out
}

/// [`normalize_contrast`] in place.
fn stretch_contrast(gray: &mut GrayImage, low: f32, high: f32) {
    let hist = histogram(gray.as_raw());
    let n: u64 = hist.iter().sum();
    if n == 0 {
        return;
    }
    let pct = |q: f32| -> u8 {
        let target = ((f64::from(q.clamp(0.0, 100.0)) / 100.0) * n as f64) as u64;
        let mut acc = 0;
        for (v, c) in hist.iter().enumerate() {
            acc += c;
            if acc > target {
                return v as u8;
            }
        }
        255
    };
    let (lo, hi) = (pct(low), pct(high));
    if hi <= lo.saturating_add(8) {
        return;
    }
    let span = f32::from(hi - lo);
    let mut lut = [0u8; 256];
    for (v, l) in lut.iter_mut().enumerate() {
        *l = ((f32::from((v as u8).clamp(lo, hi) - lo) / span) * 255.0).round() as u8;
    }
    for p in gray.iter_mut() {
        *p = lut[*p as usize];
    }
}

/// Otsu's global threshold level.
pub fn otsu_level(gray: &GrayImage) -> u8 {
    if gray.width() == 0 || gray.height() == 0 {
        return 127;
    }
    imageproc::contrast::otsu_level(gray)
}

/// Binarises with Otsu's threshold: pixels at or below the level become ink.
pub fn binarize_otsu(gray: &GrayImage) -> GrayImage {
    let level = otsu_level(gray);
    let mut out = gray.clone();
    for p in out.iter_mut() {
        *p = if *p <= level { INK } else { PAPER };
    }
    out
}

/// Sauvola binarisation: threshold `m * (1 + k (s / 128 - 1))` from the mean `m` and standard
/// deviation `s` of a `window` x `window` neighbourhood (clipped at the edges).
///
/// Window sums are kept as running column sums and their prefix sums along each row, so the
/// cost per pixel is constant whatever the window; the test is done in exact integer sums
/// without a square root, first as a branch-free "at or above the mean" pass. Windows are
/// capped at 66,001 pixels.
pub fn binarize_sauvola(gray: &GrayImage, window: u32, k: f32) -> GrayImage {
    let (w, h) = gray.dimensions();
    let (wu, hu) = (w as usize, h as usize);
    let mut out = GrayImage::new(w, h);
    if wu == 0 || hu == 0 {
        return out;
    }
    // Windows taller than 66,001 rows are capped there, so a column's sum of squares fits
    // in 32 bits (66,001 x 255^2 < 2^32).
    let r = (window.max(3) / 2).min(33_000) as usize;
    let raw = gray.as_raw();
    let k = f64::from(k.clamp(0.0, 1.0));
    // Column sums over rows [y0, y1) of the current window, and their prefix sums along the
    // row (so any horizontal window is two subtractions).
    let mut col_s = vec![0u32; wu];
    let mut col_q = vec![0u32; wu];
    let mut pre_s = vec![0u64; wu + 1];
    let mut pre_q = vec![0u64; wu + 1];
    let (mut y0, mut y1) = (0usize, 0usize);
    let o = &mut *out;
    for y in 0..hu {
        let want0 = y.saturating_sub(r);
        let want1 = (y + r + 1).min(hu);
        while y1 < want1 {
            let row = &raw[y1 * wu..(y1 + 1) * wu];
            for ((cs, cq), &p) in col_s.iter_mut().zip(col_q.iter_mut()).zip(row) {
                let v = u32::from(p);
                *cs += v;
                *cq += v * v;
            }
            y1 += 1;
        }
        while y0 < want0 {
            let row = &raw[y0 * wu..(y0 + 1) * wu];
            for ((cs, cq), &p) in col_s.iter_mut().zip(col_q.iter_mut()).zip(row) {
                let v = u32::from(p);
                *cs -= v;
                *cq -= v * v;
            }
            y0 += 1;
        }
        let (mut as_, mut aq) = (0u64, 0u64);
        for (((ps, pq), &cs), &cq) in pre_s[1..]
            .iter_mut()
            .zip(pre_q[1..].iter_mut())
            .zip(&col_s)
            .zip(&col_q)
        {
            as_ += u64::from(cs);
            aq += u64::from(cq);
            *ps = as_;
            *pq = aq;
        }
        let rows = (y1 - y0) as u64;
        let row = &raw[y * wu..(y + 1) * wu];
        let orow = &mut o[y * wu..(y + 1) * wu];
        // p <= m (1 + k (sd / R - 1))  <=>  p n - s (1 - k) <= k s sqrt(V) / (n R),
        // with V = n q - s^2 = n^2 var.
        let exact = |p: u8, n: u64, s: u64, q: u64| -> u8 {
            let (nf, sf) = (n as f64, s as f64);
            let a = f64::from(p) * nf - sf * (1.0 - k);
            let ink = if a <= 0.0 {
                true
            } else {
                let v = (n * q).saturating_sub(s * s) as f64;
                a * a * nf * nf * 128.0 * 128.0 <= k * k * sf * sf * v
            };
            if ink { INK } else { PAPER }
        };
        // The threshold is below the mean when k > 0 (sd <= 127.5 < R), so a pixel at or
        // above the mean is paper: the common case, decided in integers. Where the window is
        // whole (n constant) this test runs first over the row as a branch-free pass, and the
        // exact test only on the pixels it leaves (marked 1).
        let span = 2 * r + 1;
        let (ilo, ihi) = if k > 0.0 && wu > span {
            (r, wu - r)
        } else {
            (0, 0)
        };
        if ilo < ihi {
            let n = rows * span as u64;
            for ((op, &p), (&hi, &lo)) in orow[ilo..ihi]
                .iter_mut()
                .zip(&row[ilo..ihi])
                .zip(pre_s[span..].iter().zip(&pre_s[..]))
            {
                let s = hi - lo;
                *op = if u64::from(p) * n >= s && s > 0 {
                    PAPER
                } else {
                    1
                };
            }
            for x in ilo..ihi {
                if orow[x] == 1 {
                    let (x0, x1) = (x - r, x + r + 1);
                    orow[x] = exact(row[x], n, pre_s[x1] - pre_s[x0], pre_q[x1] - pre_q[x0]);
                }
            }
        }
        for x in (0..ilo).chain(ihi.max(ilo)..wu) {
            let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(wu));
            let n = rows * (x1 - x0) as u64;
            let s = pre_s[x1] - pre_s[x0];
            orow[x] = if k > 0.0 && s > 0 && u64::from(row[x]) * n >= s {
                PAPER
            } else {
                exact(row[x], n, s, pre_q[x1] - pre_q[x0])
            };
        }
    }
    out
}

/// Binarises with the chosen method.
pub fn binarize(gray: &GrayImage, method: Binarization) -> GrayImage {
    match method {
        Binarization::Otsu => binarize_otsu(gray),
        Binarization::Sauvola { window, k } => binarize_sauvola(gray, window, k),
    }
}

/// Background noise (in gray levels, as a Gaussian sigma) above which
/// [`PreprocessOptions::auto_median`] filters the page.
pub const AUTO_MEDIAN_SIGMA: f32 = 6.0;

fn yes() -> bool {
    true
}

/// A robust estimate of the background noise of a page, as the sigma of Gaussian noise in gray
/// levels: the median absolute difference between a light (paper) pixel and the mean of its four
/// neighbours, over every other row and column, scaled to a sigma. Text edges are a minority of
/// paper pixels and smooth illumination changes cancel out, so a clean page gives about 0
/// whatever its layout or lighting, and sensor noise gives about its sigma (less where the
/// noise clips at white).
pub fn estimate_noise(gray: &GrayImage) -> f32 {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    if w < 3 || h < 3 {
        return 0.0;
    }
    let t = otsu_level(gray);
    let px = gray.as_raw();
    let mut hist = [0u64; 256];
    let mut n = 0u64;
    for y in (1..h - 1).step_by(2) {
        let (up, row, down) = (
            &px[(y - 1) * w..y * w],
            &px[y * w..(y + 1) * w],
            &px[(y + 1) * w..(y + 2) * w],
        );
        for x in (1..w - 1).step_by(2) {
            let p = row[x];
            if p <= t {
                continue;
            }
            let around = u32::from(row[x - 1])
                + u32::from(row[x + 1])
                + u32::from(up[x])
                + u32::from(down[x]);
            let d = (u32::from(p) * 4).abs_diff(around).div_ceil(4);
            hist[d.min(255) as usize] += 1;
            n += 1;
        }
    }
    if n == 0 {
        return 0.0;
    }
    let mut seen = 0;
    let mad = hist
        .iter()
        .position(|&c| {
            seen += c;
            seen * 2 >= n
        })
        .unwrap_or(0);
    // |p - mean of 4| has sigma * sqrt(1 + 1/4) for independent noise; MAD -> sigma: 1.4826.
    1.4826 * mad as f32 / 1.118
}

/// Median filter of the given radius (0 returns a copy). Radius 1 (3x3) takes a fast path
/// (columns sorted once, then three min/max passes per row, which vectorise); larger radii use
/// imageproc's sliding-histogram filter. Borders are extended by replication, like imageproc's.
pub fn median_denoise(gray: &GrayImage, radius: u32) -> GrayImage {
    if radius == 0 || gray.width() == 0 || gray.height() == 0 {
        return gray.clone();
    }
    if radius == 1 {
        return median3x3(gray);
    }
    imageproc::filter::median_filter(gray, radius, radius)
}

/// 3x3 median: per column, the three pixels above, at and below sorted into (lo, mid, hi); the
/// median of the nine is then med3(max of the three lows, med3 of the three mids, min of the
/// three highs).
fn median3x3(gray: &GrayImage) -> GrayImage {
    let (w, h) = (gray.width() as usize, gray.height() as usize);
    let px = gray.as_raw();
    let row = |y: usize| &px[y.min(h - 1) * w..(y.min(h - 1) + 1) * w];
    let mut out = vec![0u8; w * h];
    // Sorted columns, padded by one replicated column on each side.
    let (mut lo, mut mid, mut hi) = (vec![0u8; w + 2], vec![0u8; w + 2], vec![0u8; w + 2]);
    for y in 0..h {
        let (a, b, c) = (row(y.saturating_sub(1)), row(y), row(y + 1));
        for x in 0..w {
            let (p, q, r) = (a[x], b[x], c[x]);
            let (p, q) = (p.min(q), p.max(q));
            let (q, r) = (q.min(r), q.max(r));
            let (p, q) = (p.min(q), p.max(q));
            lo[x + 1] = p;
            mid[x + 1] = q;
            hi[x + 1] = r;
        }
        for v in [&mut lo, &mut mid, &mut hi] {
            v[0] = v[1];
            v[w + 1] = v[w];
        }
        let dst = &mut out[y * w..(y + 1) * w];
        for x in 0..w {
            let l = lo[x].max(lo[x + 1]).max(lo[x + 2]);
            let hh = hi[x].min(hi[x + 1]).min(hi[x + 2]);
            let (m0, m1, m2) = (mid[x], mid[x + 1], mid[x + 2]);
            let m = m0.min(m1).max(m0.max(m1).min(m2));
            dst[x] = l.min(m).max(l.max(m).min(hh));
        }
    }
    GrayImage::from_raw(w as u32, h as u32, out).expect("buffer matches the dimensions")
}

/// Removes ink components of at most `max_area` pixels; returns how many were removed.
pub fn remove_speckles(binary: &mut GrayImage, max_area: u32) -> usize {
    if max_area == 0 {
        return 0;
    }
    let cc = components::label(binary);
    cc.erase_where(&mut [binary], PAPER, |c| c.area <= max_area)
}

/// Removes dark scanner borders: ink components touching the image edge that span more than
/// a quarter of the page width or height. They are painted as paper in `binary` and `gray`.
/// Returns how many components were removed.
pub fn remove_borders(gray: &mut GrayImage, binary: &mut GrayImage) -> usize {
    let (w, h) = binary.dimensions();
    if gray.dimensions() != (w, h) {
        return 0;
    }
    let cc = components::label(binary);
    cc.erase_where(&mut [binary, gray], PAPER, |c| {
        let b = c.bbox;
        let touches = b.x == 0 || b.y == 0 || b.x + b.w == w || b.y + b.h == h;
        touches && (b.w * 4 > w || b.h * 4 > h)
    })
}

/// Ink points of `binary` on a grid coarsened so the longer side is at most `max_side`.
fn ink_points(binary: &GrayImage, max_side: u32) -> (Vec<(f32, f32)>, u32) {
    let (w, h) = binary.dimensions();
    let f = w.max(h).div_ceil(max_side.max(1)).max(1);
    let (sw, sh) = (w.div_ceil(f) as usize, h.div_ceil(f) as usize);
    let mut cell = vec![false; sw * sh];
    let raw = binary.as_raw();
    let fu = f as usize;
    for y in 0..h as usize {
        let row = &raw[y * w as usize..(y + 1) * w as usize];
        let crow = &mut cell[(y / fu) * sw..(y / fu + 1) * sw];
        if fu == 1 {
            for (c, &p) in crow.iter_mut().zip(row) {
                *c = p < 128;
            }
            continue;
        }
        for (cx, chunk) in row.chunks(fu).enumerate() {
            if !crow[cx] && chunk.iter().any(|&p| p < 128) {
                crow[cx] = true;
            }
        }
    }
    // Keep the lower edge of the ink (an ink cell above a paper cell): text lines align there,
    // and it is a fraction of all ink cells.
    let mut pts = Vec::new();
    for y in 0..sh {
        for x in 0..sw {
            if cell[y * sw + x] && (y + 1 == sh || !cell[(y + 1) * sw + x]) {
                pts.push((x as f32, y as f32));
            }
        }
    }
    (pts, f)
}

fn profile_score(pts: &[(f32, f32)], angle_deg: f32, bins: &mut [u32], off: f32) -> f64 {
    let t = angle_deg.to_radians().tan();
    bins.fill(0);
    for &(x, y) in pts {
        let yy = y - x * t + off;
        if yy >= 0.0 {
            let i = yy as usize;
            if i < bins.len() {
                bins[i] += 1;
            }
        }
    }
    bins.iter().map(|&b| f64::from(b) * f64::from(b)).sum()
}

/// Estimates the skew of text lines in degrees (positive = lines descend to the right) by
/// maximising the variance of the projection profile over `-max..=max`, coarse to fine, on a
/// downscaled copy of the ink.
pub fn estimate_skew(binary: &GrayImage, max_degrees: f32) -> f32 {
    skew_search(binary, max_degrees).0
}

/// The skew angle and its profile score (the sum of squared row counts at that angle; higher
/// means ink more concentrated in lines).
fn skew_search(binary: &GrayImage, max_degrees: f32) -> (f32, f64) {
    skew_search_grid(binary, max_degrees, 1200)
}

/// [`skew_search`] with the fine grid's longer side at most `fine_side` cells.
fn skew_search_grid(binary: &GrayImage, max_degrees: f32, fine_side: u32) -> (f32, f64) {
    let (coarse, fc) = ink_points(binary, 600);
    let (fine, ff) = ink_points(binary, fine_side);
    skew_search_points(&coarse, fc, &fine, ff, max_degrees)
}

/// The same points turned a quarter counter-clockwise (as `imageops::rotate270`).
fn quarter_turn(pts: &[(f32, f32)]) -> Vec<(f32, f32)> {
    let maxx = pts.iter().fold(0f32, |m, p| m.max(p.0));
    pts.iter().map(|&(x, y)| (y, maxx - x)).collect()
}

fn skew_search_points(
    coarse: &[(f32, f32)],
    fc: u32,
    fine: &[(f32, f32)],
    ff: u32,
    max_degrees: f32,
) -> (f32, f64) {
    let max = if max_degrees.is_finite() {
        max_degrees.clamp(0.0, 45.0)
    } else {
        0.0
    };
    if fine.len() < 16 {
        return (0.0, 0.0);
    }
    let search = |pts: &[(f32, f32)], lo: f32, hi: f32, step: f32| -> (f32, f64) {
        let (mut maxx, mut maxy) = (0f32, 0f32);
        for &(x, y) in pts {
            maxx = maxx.max(x);
            maxy = maxy.max(y);
        }
        let off = maxx * max.to_radians().tan() + 1.0;
        let mut bins = vec![0u32; (maxy + 2.0 * off + 2.0) as usize];
        let mut best = (0.0f32, f64::MIN);
        let n = ((hi - lo) / step).round() as i32;
        for i in 0..=n {
            let a = lo + i as f32 * step;
            let s = profile_score(pts, a, &mut bins, off);
            if s > best.1 {
                best = (a, s);
            }
        }
        best
    };
    // Coarse on a smaller grid when it is really smaller, then fine on the larger one.
    let first = if fc > ff && coarse.len() >= 16 {
        coarse
    } else {
        fine
    };
    let (a, _) = search(first, -max, max, 0.25);
    let (a, _) = search(fine, (a - 0.3).max(-max), (a + 0.3).min(max), 0.05);
    search(fine, (a - 0.06).max(-max), (a + 0.06).min(max), 0.01)
}

/// Rotates a gray page by `degrees` clockwise about its centre (bilinear, same size as the
/// input), filling with white. Equivalent to imageproc's `rotate_about_center`: the source
/// position is stepped along each row in 32.32 fixed point and the four neighbours are
/// weighted in 1/256 steps, so the inner loop has no floating point.
pub fn rotate(gray: &GrayImage, degrees: f32) -> GrayImage {
    const ONE: f64 = 4_294_967_296.0; // 2^32
    let (w, h) = gray.dimensions();
    if w == 0 || h == 0 || degrees == 0.0 || !degrees.is_finite() {
        return gray.clone();
    }
    let (sin, cos) = f64::from(degrees).to_radians().sin_cos();
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
    let raw = gray.as_raw();
    let wu = w as usize;
    let (wi, hi) = (i64::from(w), i64::from(h));
    // Interior: x0 in 0..w-1 and y0 in 0..h-1 (all four neighbours inside).
    let ih = (hi - 1) as u64;
    let get = |x: i64, y: i64| -> u32 {
        if x < 0 || y < 0 || x >= wi || y >= hi {
            255
        } else {
            u32::from(raw[(y * wi + x) as usize])
        }
    };
    let (step_x, step_y) = ((cos * ONE).round() as i64, (-sin * ONE).round() as i64);
    let lerp = |a: u32, b: u32, c: u32, d: u32, fx: u32, fy: u32| -> u8 {
        let top = a * (256 - fx) + b * fx;
        let bot = c * (256 - fx) + d * fx;
        ((top * (256 - fy) + bot * fy + 32_768) >> 16) as u8
    };
    let mut out = GrayImage::new(w, h);
    for (y, orow) in out.chunks_exact_mut(wu).enumerate() {
        let dy = y as f64 - cy;
        // Source of output (x, y): inverse rotation about the centre.
        let mut sx = ((-cx * cos + dy * sin + cx) * ONE).round() as i64;
        let mut sy = ((cx * sin + dy * cos + cy) * ONE).round() as i64;
        let mut x = 0usize;
        while x < wu {
            // A segment of the row whose source row pair (y0, y0 + 1) stays the same.
            let y0 = sy >> 32;
            let len = match step_y.cmp(&0) {
                std::cmp::Ordering::Less => (sy - (y0 << 32)) / -step_y + 1,
                std::cmp::Ordering::Greater => (((y0 + 1) << 32) - 1 - sy) / step_y + 1,
                std::cmp::Ordering::Equal => wi,
            };
            let end = x + (len.max(1) as usize).min(wu - x);
            let seg = &mut orow[x..end];
            if (y0 as u64) < ih {
                let r0 = &raw[y0 as usize * wu..(y0 as usize + 1) * wu];
                let r1 = &raw[(y0 as usize + 1) * wu..(y0 as usize + 2) * wu];
                // Within a run, x0 steps by exactly one per pixel (cos <= 1), so the four
                // neighbours are four shifted slices and the loop vectorises.
                let drift = (1i64 << 32) - step_x;
                let mut seg = seg;
                while !seg.is_empty() {
                    let x0 = sx >> 32;
                    let run = if drift <= 0 {
                        seg.len()
                    } else {
                        ((sx & 0xffff_ffff) / drift + 1).min(seg.len() as i64) as usize
                    };
                    let (head, rest) = seg.split_at_mut(run);
                    if x0 >= 0 && x0 + (run as i64) < wi {
                        let k = x0 as usize;
                        let (mut fxs, mut fys) = (sx as u32, sy as u32);
                        let (stx, sty) = (step_x as u32, step_y as u32);
                        for ((((px, &a), &b), &c), &d) in head
                            .iter_mut()
                            .zip(&r0[k..k + run])
                            .zip(&r0[k + 1..=k + run])
                            .zip(&r1[k..k + run])
                            .zip(&r1[k + 1..=k + run])
                        {
                            *px = lerp(
                                u32::from(a),
                                u32::from(b),
                                u32::from(c),
                                u32::from(d),
                                fxs >> 24,
                                fys >> 24,
                            );
                            fxs = fxs.wrapping_add(stx);
                            fys = fys.wrapping_add(sty);
                        }
                        sx += step_x * run as i64;
                        sy += step_y * run as i64;
                    } else {
                        for px in head {
                            let x0 = sx >> 32;
                            let fx = ((sx >> 24) & 0xff) as u32;
                            let fy = ((sy >> 24) & 0xff) as u32;
                            *px = lerp(
                                get(x0, y0),
                                get(x0 + 1, y0),
                                get(x0, y0 + 1),
                                get(x0 + 1, y0 + 1),
                                fx,
                                fy,
                            );
                            sx += step_x;
                            sy += step_y;
                        }
                    }
                    seg = rest;
                }
            } else {
                for px in seg {
                    let x0 = sx >> 32;
                    *px = if x0 < -1 || y0 < -1 || x0 >= wi || y0 >= hi {
                        255
                    } else {
                        let fx = ((sx >> 24) & 0xff) as u32;
                        let fy = ((sy >> 24) & 0xff) as u32;
                        lerp(
                            get(x0, y0),
                            get(x0 + 1, y0),
                            get(x0, y0 + 1),
                            get(x0 + 1, y0 + 1),
                            fx,
                            fy,
                        )
                    };
                    sx += step_x;
                    sy += step_y;
                }
            }
            x = end;
        }
    }
    out
}

/// Ascending minus descending components over all text lines of a page whose lines are
/// horizontal: positive means upright. Latin text has far more glyphs reaching above the
/// x-height band (capitals, b d f h k l t, digits, i and j dots) than below it (g j p q y).
pub fn ascender_bias(binary: &GrayImage) -> i64 {
    let cc = components::label(binary);
    ascender_bias_of(binary.height() as usize, &cc, &vec![false; cc.items.len()])
}

/// [`ascender_bias`] from labelled components, ignoring those flagged in `removed`.
fn ascender_bias_of(h: usize, cc: &Components, removed: &[bool]) -> i64 {
    let mut rows = vec![0u32; h];
    for (r, &c) in cc.runs.iter().zip(&cc.run_component) {
        if !removed[c as usize]
            && let Some(row) = rows.get_mut(r.y as usize)
        {
            *row += r.x1 - r.x0;
        }
    }
    // Rows with a few stray pixels still separate lines.
    let floor = rows.iter().max().map_or(0, |&m| m / 30);
    // For each row, the x-height band (top, bottom) of the line it belongs to.
    let mut band: Vec<Option<(u32, u32)>> = vec![None; h];
    let mut y = 0usize;
    while y < h {
        if rows[y] <= floor {
            y += 1;
            continue;
        }
        let s = y;
        while y < h && rows[y] > floor {
            y += 1;
        }
        let line = &rows[s..y];
        if line.len() < 4 {
            continue;
        }
        let peak = line.iter().copied().max().unwrap_or(0);
        let c0 = line.iter().position(|&c| c * 2 >= peak).unwrap_or(0);
        let c1 = line.iter().rposition(|&c| c * 2 >= peak).unwrap_or(0);
        for b in &mut band[s..y] {
            *b = Some(((s + c0) as u32, (s + c1) as u32));
        }
    }
    let mut bias = 0i64;
    for (c, &gone) in cc.items.iter().zip(removed) {
        let b = c.bbox;
        if gone || c.area < 3 {
            continue;
        }
        let cy = (b.y + b.h / 2) as usize;
        let Some((t, bo)) = band.get(cy).copied().flatten() else {
            continue;
        };
        let tol = ((bo - t) / 5).max(1);
        if b.y + tol < t {
            bias += 1;
        }
        if b.y + b.h > bo + 1 + tol {
            bias -= 1;
        }
    }
    bias
}

/// Which quarter turn makes text lines horizontal, and the skew then: compares the best
/// projection-profile score of the page as it is and turned a quarter.
fn text_axis(binary: &GrayImage, max_skew: f32, fine_side: u32) -> (bool, f32) {
    let (coarse, fc) = ink_points(binary, 600);
    let (fine, ff) = ink_points(binary, fine_side);
    let (a0, s0) = skew_search_points(&coarse, fc, &fine, ff, max_skew);
    let (a1, s1) = skew_search_points(
        &quarter_turn(&coarse),
        fc,
        &quarter_turn(&fine),
        ff,
        max_skew,
    );
    if s1 > s0 { (true, a1) } else { (false, a0) }
}

/// Detects whether the page is turned by 0, 90, 180 or 270 degrees: text lines concentrate ink
/// in rows (horizontal) or columns (vertical); after levelling the lines, ascenders versus
/// descenders tell up from down.
pub fn detect_orientation(binary: &GrayImage) -> Orientation {
    let (w, h) = binary.dimensions();
    if w < 8 || h < 8 {
        return Orientation::Up;
    }
    let (quarter, skew) = text_axis(binary, 15.0, 1200);
    let mut level = if quarter {
        image::imageops::rotate270(binary)
    } else {
        binary.clone()
    };
    if skew.abs() >= 0.05 {
        level = rotate(&level, -skew);
        for p in level.iter_mut() {
            *p = if *p < 128 { INK } else { PAPER };
        }
    }
    match (quarter, ascender_bias(&level) >= 0) {
        (false, true) => Orientation::Up,
        (false, false) => Orientation::Down,
        (true, true) => Orientation::Right,
        (true, false) => Orientation::Left,
    }
}

/// Estimates the resolution from the median height of character-sized components, assuming
/// body text of about 10-11 pt (median component height ~ 26 px at 300 DPI).
pub fn estimate_dpi(binary: &GrayImage) -> Option<f32> {
    let cc = components::label(binary);
    let mut hs: Vec<u32> = cc
        .items
        .iter()
        .filter(|c| c.area >= 6 && c.bbox.h >= 3 && c.bbox.w < 4 * c.bbox.h.max(1))
        .map(|c| c.bbox.h)
        .collect();
    if hs.len() < 20 {
        return None;
    }
    let mid = hs.len() / 2;
    let (_, m, _) = hs.select_nth_unstable(mid);
    Some(300.0 * *m as f32 / 26.0)
}

/// Rescales a gray page from `source_dpi` to `target_dpi` (bilinear); returns the scale used.
pub fn normalize_dpi(gray: &GrayImage, source_dpi: f32, target_dpi: f32) -> (GrayImage, f32) {
    if !(source_dpi.is_finite() && target_dpi.is_finite()) || source_dpi <= 0.0 {
        return (gray.clone(), 1.0);
    }
    let scale = (target_dpi / source_dpi).clamp(0.1, 10.0);
    if (scale - 1.0).abs() < 0.02 {
        return (gray.clone(), 1.0);
    }
    let nw = ((gray.width() as f32 * scale).round() as u32).max(1);
    let nh = ((gray.height() as f32 * scale).round() as u32).max(1);
    if gray.width() == 0 || gray.height() == 0 {
        return (gray.clone(), 1.0);
    }
    (
        image::imageops::resize(gray, nw, nh, image::imageops::FilterType::Triangle),
        scale,
    )
}

/// Box-average downscale by an integer factor (partial blocks at the right and bottom edges
/// average the pixels they have).
fn downscale(gray: &GrayImage, f: u32) -> GrayImage {
    let (w, h) = gray.dimensions();
    if f <= 1 || w == 0 || h == 0 {
        return gray.clone();
    }
    let (sw, sh) = (w.div_ceil(f), h.div_ceil(f));
    let (wu, fu) = (w as usize, f as usize);
    let raw = gray.as_raw();
    let mut out = GrayImage::new(sw, sh);
    let mut acc = vec![0u32; wu];
    for (sy, orow) in out.chunks_exact_mut(sw as usize).enumerate() {
        let (y0, y1) = (sy * fu, ((sy + 1) * fu).min(h as usize));
        acc.fill(0);
        for y in y0..y1 {
            for (a, &p) in acc.iter_mut().zip(&raw[y * wu..(y + 1) * wu]) {
                *a += u32::from(p);
            }
        }
        let rows = (y1 - y0) as u32;
        for (o, chunk) in orow.iter_mut().zip(acc.chunks(fu)) {
            let n = rows * chunk.len() as u32;
            *o = ((chunk.iter().sum::<u32>() + n / 2) / n) as u8;
        }
    }
    out
}

/// The same binarisation for a page downscaled by `f`: Sauvola's window shrinks with it.
fn scaled_method(method: Binarization, f: u32) -> Binarization {
    match method {
        Binarization::Sauvola { window, k } if f > 1 => Binarization::Sauvola {
            window: (window / f).max(3),
            k,
        },
        m => m,
    }
}

/// Binarises `gray`, then removes dark borders (painting them as paper in `gray` too) and
/// speckles of at most `speckle` pixels, with one labelling. Returns the binary page, its
/// components and which of them were removed.
fn binarize_clean(
    gray: &mut GrayImage,
    method: Binarization,
    borders: bool,
    speckle: u32,
) -> (GrayImage, Components, Vec<bool>) {
    let mut binary = binarize(gray, method);
    let (w, h) = binary.dimensions();
    let cc = components::label(&binary);
    let is_border = |c: &components::Component| {
        let b = c.bbox;
        let touches = b.x == 0 || b.y == 0 || b.x + b.w == w || b.y + b.h == h;
        borders && touches && (b.w * 4 > w || b.h * 4 > h)
    };
    let border: Vec<bool> = cc.items.iter().map(is_border).collect();
    if border.iter().any(|&b| b) {
        cc.erase_where(&mut [&mut binary, gray], PAPER, |c| is_border(c));
    }
    let removed: Vec<bool> = cc
        .items
        .iter()
        .zip(&border)
        .map(|(c, &b)| b || c.area <= speckle)
        .collect();
    if speckle > 0 {
        cc.erase_where(&mut [&mut binary], PAPER, |c| c.area <= speckle);
    }
    (binary, cc, removed)
}

/// The factor by which the page is shrunk to find its orientation and skew: the longer side
/// of the copy stays at or above 1,200 pixels, the resolution of the fine skew search.
fn analysis_factor(w: u32, h: u32) -> u32 {
    (w.max(h) / 1200).max(1)
}

/// Runs the whole preprocessing chain on one page.
///
/// Orientation and skew are found on a copy shrunk so its longer side is about 1,200 pixels
/// (binarised and cleaned the same way); the full gray page is then turned once and binarised
/// once. A page that needs no turn (skew under 0.05 degrees) is not resampled at all.
pub fn preprocess(img: &DynamicImage, opts: &PreprocessOptions) -> Preprocessed {
    let mut gray = to_gray(img);
    let mut scale = 1.0;
    let source = match opts.source_dpi {
        Some(d) => Some(d),
        None if opts.estimate_dpi => estimate_dpi(&binarize_otsu(&gray)),
        None => None,
    };
    if let Some(src) = source {
        let (g, s) = normalize_dpi(&gray, src, opts.target_dpi);
        gray = g;
        scale = s;
    }
    if opts.median_radius > 0 {
        gray = median_denoise(&gray, opts.median_radius);
    } else if opts.auto_median && estimate_noise(&gray) >= AUTO_MEDIAN_SIGMA {
        gray = median_denoise(&gray, 1);
    }
    stretch_contrast(&mut gray, 0.5, 99.5);
    let dpi_factor = (opts.target_dpi / 300.0).powi(2);
    let speckle = (opts.speckle_area as f32 * dpi_factor).round() as u32;
    let mut orientation = Orientation::Up;
    let mut skew = 0.0;
    // The final binary page when the analysis already made it at full size and nothing moved.
    let mut done = None;
    if opts.orientation || opts.deskew {
        let f = analysis_factor(gray.width(), gray.height());
        // The fine skew search runs on every cell of a shrunk copy (a grid no coarser than
        // the 1,200-cell one used at full size).
        let fine_side = if f == 1 {
            1200
        } else {
            gray.width().max(gray.height()).div_ceil(f)
        };
        let analyse = |binary: &GrayImage| {
            if opts.orientation {
                text_axis(binary, opts.max_skew, fine_side)
            } else {
                (false, skew_search_grid(binary, opts.max_skew, fine_side).0)
            }
        };
        let (quarter, a) = if f == 1 {
            let full = binarize_clean(&mut gray, opts.binarization, opts.remove_borders, speckle);
            let axis = analyse(&full.0);
            done = Some(full);
            axis
        } else {
            let mut small = downscale(&gray, f);
            let small_speckle = (speckle as f32 / (f * f) as f32).round() as u32;
            let (sb, _, _) = binarize_clean(
                &mut small,
                scaled_method(opts.binarization, f),
                opts.remove_borders,
                small_speckle,
            );
            analyse(&sb)
        };
        if quarter {
            gray = image::imageops::rotate270(&gray);
            orientation = Orientation::Right;
            done = None;
        }
        if opts.deskew && a.abs() >= 0.05 {
            skew = a;
            gray = rotate(&gray, -a);
            done = None;
        }
    }
    let (mut binary, cc, removed) = match done {
        Some(d) => d,
        None => binarize_clean(&mut gray, opts.binarization, opts.remove_borders, speckle),
    };
    if opts.orientation && ascender_bias_of(binary.height() as usize, &cc, &removed) < 0 {
        // A half turn of a row-major buffer is its reversal.
        gray.reverse();
        binary.reverse();
        orientation = if orientation == Orientation::Right {
            Orientation::Left
        } else {
            Orientation::Down
        };
    }
    Preprocessed {
        gray,
        binary,
        orientation,
        skew_degrees: skew,
        scale,
    }
}
