//! Scanning: a bounded front end in front of `rxing`'s decoders.
//!
//! Every input goes through the same steps, each with a limit:
//! 1. **Size checks** before decoding the file: bytes, pixel count, allocation
//!    (the `image` crate's limits), so a decompression bomb is refused early.
//! 2. **Downscaling** of large photos to [`ScanOptions::max_dimension`]: the
//!    decoders' cost grows with the pixel count and codes in photos are big.
//! 3. **Variants**, cheapest and most useful first, until one finds a code
//!    (or all are tried with [`ScanOptions::exhaustive`]): the plain luma
//!    image; a 90° turn (linear codes are read along rows); a deskew by the
//!    dominant edge direction (tilted codes of every kind); overlapping
//!    quadrant tiles (the Data Matrix and Aztec detectors search from the
//!    image centre); a contrast stretch; ±45° rotations; an adaptive
//!    threshold (uneven lighting); half and double scale (blur, noise, tiny
//!    codes); ±22.5° rotations; a median filter (salt noise); last, keystone
//!    corrections (a trapezoid's narrow side stretched back out, four sides
//!    and two strengths: QR and Aztec photographed at an angle). Inverted
//!    (light on dark) codes: the plain image inverted comes second, and the
//!    later variants try inversion inside the decoder.
//! 4. **Several codes per variant**: a found code is blanked out and the
//!    variant decoded again, at most [`ScanOptions::max_codes`] times.
//!
//! # Bounding the work
//! `rxing` has had panics, hangs and an infinite loop in its try-harder mode
//! on hostile input. This front end never sets try-harder; the cost of one
//! decoder call is bounded by the pixel cap, and the number of calls by the
//! variant list and `max_codes`; [`ScanOptions::time_budget`] is checked
//! between calls, so a scan ends within the budget plus one call. Every call
//! into `rxing` runs under [`std::panic::catch_unwind`]: a decoder panic on a
//! crafted image abandons that variant and is counted in
//! [`ScanReport::decoder_panics`] instead of unwinding through the caller
//! (the scan goes on with the next variant). This is the one
//! place the crate catches panics, because the panicking code is a
//! third-party decoder fed with untrusted pixels, and the state it leaves is
//! only its own scratch buffers, which are dropped.

use crate::{Error, Result, Symbology};
use image::{DynamicImage, GrayImage, ImageReader, Limits, Luma};
use imageproc::geometric_transformations::{
    Border, Interpolation, Projection, rotate_about_center_no_crop, warp,
};
use rxing::common::HybridBinarizer;
use rxing::{
    BinaryBitmap, DecodeHints, Luma8LuminanceSource, MultiFormatReader, RXingResultMetadataType,
    RXingResultMetadataValue, Reader,
};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

/// Limits and strategy of a scan.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(clippy::struct_excessive_bools)] // independent switches, each with a builder
pub struct ScanOptions {
    /// Only these symbologies (`None`: every one this crate supports).
    pub symbologies: Option<Vec<Symbology>>,
    /// Largest encoded image file accepted, in bytes.
    pub max_input_bytes: usize,
    /// Largest image accepted, in pixels (width × height), before downscaling.
    pub max_pixels: u64,
    /// Images whose longer side exceeds this are downscaled to it first.
    pub max_dimension: u32,
    /// Stop after this many codes.
    pub max_codes: usize,
    /// Try the extra variants (contrast, threshold, rotations, scales).
    pub preprocess: bool,
    /// Try the ±45° rotations (for tilted linear codes).
    pub rotations: bool,
    /// Try inverted (light on dark) codes.
    pub try_inverted: bool,
    /// Keep trying variants after one found codes (slower; finds more when
    /// an image holds codes that need different variants).
    pub exhaustive: bool,
    /// Wall-clock budget, checked between decoder calls.
    pub time_budget: Duration,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            symbologies: None,
            max_input_bytes: 64 << 20,
            max_pixels: 50_000_000,
            max_dimension: 1920,
            max_codes: 16,
            preprocess: true,
            rotations: true,
            try_inverted: true,
            exhaustive: false,
            time_budget: Duration::from_secs(1),
        }
    }
}

impl ScanOptions {
    /// Default limits.
    pub fn new() -> Self {
        Self::default()
    }
    /// Restricts the symbologies looked for (faster, fewer false reads).
    #[must_use]
    pub fn with_symbologies(mut self, s: impl IntoIterator<Item = Symbology>) -> Self {
        self.symbologies = Some(s.into_iter().collect());
        self
    }
    /// Sets [`ScanOptions::max_input_bytes`]: longer inputs are refused
    /// before decoding.
    #[must_use]
    pub fn with_max_input_bytes(mut self, n: usize) -> Self {
        self.max_input_bytes = n;
        self
    }
    /// Sets the maximum pixel count.
    #[must_use]
    pub fn with_max_pixels(mut self, n: u64) -> Self {
        self.max_pixels = n;
        self
    }
    /// Sets the downscaling threshold (clamped to 64..=8192).
    #[must_use]
    pub fn with_max_dimension(mut self, d: u32) -> Self {
        self.max_dimension = d.clamp(64, 8192);
        self
    }
    /// Sets the maximum number of codes.
    #[must_use]
    pub fn with_max_codes(mut self, n: usize) -> Self {
        self.max_codes = n.max(1);
        self
    }
    /// Enables or disables the preprocessing variants.
    #[must_use]
    pub fn with_preprocess(mut self, on: bool) -> Self {
        self.preprocess = on;
        self
    }
    /// Enables or disables the ±45° rotations.
    #[must_use]
    pub fn with_rotations(mut self, on: bool) -> Self {
        self.rotations = on;
        self
    }
    /// Enables or disables inverted codes.
    #[must_use]
    pub fn with_inverted(mut self, on: bool) -> Self {
        self.try_inverted = on;
        self
    }
    /// Tries every variant even after codes were found.
    #[must_use]
    pub fn with_exhaustive(mut self, on: bool) -> Self {
        self.exhaustive = on;
        self
    }
    /// Sets the time budget.
    #[must_use]
    pub fn with_time_budget(mut self, d: Duration) -> Self {
        self.time_budget = d;
        self
    }
}

/// A point in the input image's pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Column.
    pub x: f32,
    /// Row.
    pub y: f32,
}

/// One decoded code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Detection {
    /// The symbology.
    pub symbology: Symbology,
    /// The decoded text.
    pub text: String,
    /// The raw payload bytes when the decoder reports them (QR, Aztec,
    /// Data Matrix, PDF417 codewords), otherwise the text's UTF-8 bytes.
    pub bytes: Vec<u8>,
    /// The points the decoder located, in input-image coordinates: the
    /// finder patterns of 2D codes, the ends of the scan line of linear codes.
    pub points: Vec<Point>,
    /// The corners of the axis-aligned box around `points`: top-left,
    /// top-right, bottom-right, bottom-left.
    pub corners: [Point; 4],
    /// Error correction level reported by the decoder (QR: L/M/Q/H).
    pub ec_level: Option<String>,
    /// Which preprocessing variant found it (`plain`, `contrast`, `threshold`, `rot90`, ...).
    pub variant: String,
}

/// The outcome of a scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ScanReport {
    /// Every code found, in the order found.
    pub codes: Vec<Detection>,
    /// The image size as given.
    pub width: u32,
    /// The image height as given.
    pub height: u32,
    /// The factor the image was downscaled by (1.0: not downscaled).
    pub downscale: f32,
    /// Decoder calls made.
    pub decoder_calls: u32,
    /// Decoder panics caught (each abandons one variant).
    pub decoder_panics: u32,
    /// The time budget ran out before every variant was tried.
    pub budget_exhausted: bool,
    /// Wall-clock time spent.
    pub elapsed: Duration,
}

/// Decodes an image file (PNG or JPEG) from bytes and scans it.
///
/// # Errors
/// As [`load_image`], then as [`scan_gray`].
pub fn scan_bytes(bytes: &[u8], options: &ScanOptions) -> Result<ScanReport> {
    let img = load_image(bytes, options)?;
    scan_gray(&img.to_luma8(), options)
}

/// Decodes an image file to a [`DynamicImage`] under the limits of `options`.
///
/// # Errors
/// [`Error::InputTooLarge`] if `bytes` are longer than
/// [`ScanOptions::max_input_bytes`]; [`Error::ImageTooLarge`] if the image has more than
/// [`ScanOptions::max_pixels`] pixels (checked from the header, before
/// decoding); [`Error::Image`] if the format is not recognised, the header
/// or the pixels do not decode, or the image is empty.
pub fn load_image(bytes: &[u8], options: &ScanOptions) -> Result<DynamicImage> {
    if bytes.len() > options.max_input_bytes {
        return Err(Error::InputTooLarge {
            size: bytes.len(),
            limit: options.max_input_bytes,
        });
    }
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Image(e.to_string()))?;
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| Error::Image(e.to_string()))?;
    if w == 0 || h == 0 {
        return Err(Error::Image("empty image".into()));
    }
    if u64::from(w) * u64::from(h) > options.max_pixels {
        return Err(Error::ImageTooLarge {
            width: w,
            height: h,
            limit: format!("{} pixels", options.max_pixels),
        });
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::Image(e.to_string()))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    // 4 channels of 16 bits is the widest decode we allow, plus slack.
    limits.max_alloc = Some(options.max_pixels.saturating_mul(8).saturating_add(1 << 20));
    reader.limits(limits);
    reader.decode().map_err(|e| Error::Image(e.to_string()))
}

/// Scans a colour or grayscale image.
///
/// # Errors
/// As [`scan_gray`].
pub fn scan_image(img: &DynamicImage, options: &ScanOptions) -> Result<ScanReport> {
    scan_gray(&img.to_luma8(), options)
}

/// Scans an 8-bit grayscale buffer (`width * height` bytes, row-major), as a
/// camera's Y plane.
///
/// # Errors
/// [`Error::Image`] if a dimension is zero or `luma` is not `width * height`
/// bytes; then as [`scan_gray`].
pub fn scan_luma(
    width: u32,
    height: u32,
    luma: &[u8],
    options: &ScanOptions,
) -> Result<ScanReport> {
    if u64::from(width) * u64::from(height) != luma.len() as u64 || width == 0 || height == 0 {
        return Err(Error::Image(format!(
            "{width}x{height} does not match {} bytes",
            luma.len()
        )));
    }
    let img = GrayImage::from_raw(width, height, luma.to_vec())
        .ok_or_else(|| Error::Image("buffer size mismatch".into()))?;
    scan_gray(&img, options)
}

/// How a variant's coordinates map back to the input image.
#[derive(Debug, Clone, Copy)]
struct Transform {
    /// Variant pixel = input pixel / scale (after rotation).
    scale: f32,
    /// Clockwise rotation in radians applied to the (scaled) image.
    theta: f32,
    /// Centre of the scaled image before rotation.
    c_old: (f32, f32),
    /// Centre of the rotated image.
    c_new: (f32, f32),
    /// Offset of a tile inside the (scaled, unrotated) image.
    offset: (f32, f32),
    /// Projective map from variant pixels back to the (scaled) image, for
    /// keystone-corrected variants; applied before everything else.
    unwarp: Option<Projection>,
}

impl Transform {
    fn identity(scale: f32) -> Self {
        Self {
            scale,
            theta: 0.0,
            c_old: (0.0, 0.0),
            c_new: (0.0, 0.0),
            offset: (0.0, 0.0),
            unwarp: None,
        }
    }
    fn back(&self, x: f32, y: f32) -> Point {
        let (x, y) = match self.unwarp {
            Some(p) => p * (x, y),
            None => (x, y),
        };
        let (dx, dy) = (x - self.c_new.0, y - self.c_new.1);
        let (s, c) = (-self.theta).sin_cos();
        let (ux, uy) = (
            c * dx - s * dy + self.c_old.0,
            s * dx + c * dy + self.c_old.1,
        );
        Point {
            x: (ux + self.offset.0) * self.scale,
            y: (uy + self.offset.1) * self.scale,
        }
    }
}

fn rotated(img: &GrayImage, theta: f32) -> (GrayImage, (f32, f32), (f32, f32)) {
    let out = rotate_about_center_no_crop(
        img,
        theta,
        Interpolation::Bilinear,
        Border::Constant(Luma([255])),
    );
    let c_old = (img.width() as f32 / 2.0, img.height() as f32 / 2.0);
    let c_new = (out.width() as f32 / 2.0, out.height() as f32 / 2.0);
    (out, c_old, c_new)
}

fn percentile_stretch(img: &GrayImage) -> Option<GrayImage> {
    let mut hist = [0u64; 256];
    for p in img.pixels() {
        hist[p.0[0] as usize] += 1;
    }
    let total: u64 = hist.iter().sum();
    let cut = total / 100;
    let (mut lo, mut acc) = (0usize, 0u64);
    while lo < 255 && acc + hist[lo] <= cut {
        acc += hist[lo];
        lo += 1;
    }
    let (mut hi, mut acc) = (255usize, 0u64);
    while hi > 0 && acc + hist[hi] <= cut {
        acc += hist[hi];
        hi -= 1;
    }
    // Already full range, or flat: the variant would add nothing.
    if hi <= lo || (lo < 8 && hi > 247) {
        return None;
    }
    Some(imageproc::contrast::stretch_contrast(
        img, lo as u8, hi as u8, 0, 255,
    ))
}

/// Averages `k`×`k` blocks: a fast, alias-free integer downscale.
fn downsample(img: &GrayImage, k: u32) -> GrayImage {
    let (w, h) = img.dimensions();
    let (nw, nh) = ((w / k).max(1), (h / k).max(1));
    let raw = img.as_raw();
    let mut sums = vec![0u32; nw as usize];
    let mut out = Vec::with_capacity((nw * nh) as usize);
    let n = k * k;
    for by in 0..nh {
        sums.fill(0);
        for y in by * k..(by * k + k).min(h) {
            let row = &raw[(y * w) as usize..((y + 1) * w) as usize];
            for (bx, s) in sums.iter_mut().enumerate() {
                let x0 = bx * k as usize;
                *s += row[x0..(x0 + k as usize).min(w as usize)]
                    .iter()
                    .map(|&p| u32::from(p))
                    .sum::<u32>();
            }
        }
        out.extend(sums.iter().map(|s| (s / n) as u8));
    }
    GrayImage::from_raw(nw, nh, out).unwrap_or_else(|| GrayImage::new(1, 1))
}

fn resize(img: &GrayImage, w: u32, h: u32) -> GrayImage {
    image::imageops::resize(
        img,
        w.max(1),
        h.max(1),
        image::imageops::FilterType::Triangle,
    )
}

type Variant = (
    &'static str,
    Box<dyn Fn(&GrayImage) -> Vec<(GrayImage, Transform)>>,
);

/// Keystone corrections of `g`: each maps a trapezoid whose narrow side is
/// shrunk by `k` of the width (or height) at both ends onto the whole image.
fn keystones(g: &GrayImage, base_scale: f32) -> Vec<(GrayImage, Transform)> {
    let (w, h) = (g.width() as f32, g.height() as f32);
    if g.width().min(g.height()) < 64 {
        return Vec::new();
    }
    let rect = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
    let mut out = Vec::with_capacity(8);
    for k in [0.15, 0.3] {
        let (dx, dy) = (k * w, k * h);
        let quads = [
            [(dx, 0.0), (w - dx, 0.0), (w, h), (0.0, h)],
            [(0.0, 0.0), (w, 0.0), (w - dx, h), (dx, h)],
            [(0.0, dy), (w, 0.0), (w, h), (0.0, h - dy)],
            [(0.0, 0.0), (w, dy), (w, h - dy), (0.0, h)],
        ];
        for quad in quads {
            let Some(p) = Projection::from_control_points(quad, rect) else {
                continue;
            };
            let img = warp(g, p, Interpolation::Bilinear, Border::Constant(Luma([255])));
            let mut t = Transform::identity(base_scale);
            t.unwarp = Some(p.invert());
            out.push((img, t));
        }
    }
    out
}

fn rotation_variant(name: &'static str, deg: f32, base_scale: f32) -> Variant {
    (
        name,
        Box::new(move |g: &GrayImage| {
            let theta = deg.to_radians();
            let (r, c_old, c_new) = rotated(g, theta);
            vec![(
                r,
                Transform {
                    scale: base_scale,
                    theta,
                    c_old,
                    c_new,
                    offset: (0.0, 0.0),
                    unwarp: None,
                },
            )]
        }),
    )
}

/// The dominant edge direction modulo 90°, in degrees in (-45, 45], when
/// it is clearly away from the axes. Sobel gradients on a subsampled grid
/// vote with the quadrupled angle (so the two perpendicular edge directions
/// of a 2D code, and both sides of a bar, agree), weighted by squared
/// magnitude. `None` for axis-aligned or structureless images.
fn dominant_angle(g: &GrayImage) -> Option<f32> {
    let (w, h) = g.dimensions();
    if w < 8 || h < 8 {
        return None;
    }
    let step = ((w.max(h) / 500) as usize).max(1);
    let px = |x: u32, y: u32| f32::from(g.get_pixel(x, y).0[0]);
    let (mut c, mut s, mut total) = (0f64, 0f64, 0f64);
    for y in (1..h - 1).step_by(step) {
        for x in (1..w - 1).step_by(step) {
            let gx = px(x + 1, y - 1) + 2.0 * px(x + 1, y) + px(x + 1, y + 1)
                - px(x - 1, y - 1)
                - 2.0 * px(x - 1, y)
                - px(x - 1, y + 1);
            let gy = px(x - 1, y + 1) + 2.0 * px(x, y + 1) + px(x + 1, y + 1)
                - px(x - 1, y - 1)
                - 2.0 * px(x, y - 1)
                - px(x + 1, y - 1);
            let m2 = f64::from(gx * gx + gy * gy);
            if m2 < 100.0 * 100.0 {
                continue;
            }
            let t = f64::from(gy.atan2(gx)) * 4.0;
            c += m2 * t.cos();
            s += m2 * t.sin();
            total += m2;
        }
    }
    if total <= 0.0 || (c * c + s * s).sqrt() < 0.2 * total {
        return None;
    }
    let deg = (s.atan2(c) / 4.0).to_degrees() as f32;
    (deg.abs() >= 2.0).then_some(deg)
}

/// The preprocessing variants, cheapest and most often useful first.
fn variants(options: &ScanOptions, base_scale: f32) -> Vec<Variant> {
    let id = move || Transform::identity(base_scale);
    let mut v: Vec<Variant> = vec![(
        "plain",
        Box::new(move |g: &GrayImage| vec![(g.clone(), id())]),
    )];
    // Light-on-dark codes: the plain image inverted. Later variants try
    // inversion inside the decoder instead (see `scan_gray`).
    if options.try_inverted {
        v.push((
            "inverted",
            Box::new(move |g: &GrayImage| {
                let mut inv = g.clone();
                image::imageops::invert(&mut inv);
                vec![(inv, id())]
            }),
        ));
    }
    if !options.preprocess {
        return v;
    }
    // Linear codes are read along rows: a vertical one needs a quarter turn.
    v.push((
        "rot90",
        Box::new(move |g: &GrayImage| {
            let r = imageproc::geometric_transformations::rotate90(g);
            // rotate90 is clockwise: input (x, y) -> (h - 1 - y, x).
            let t = Transform {
                scale: base_scale,
                theta: std::f32::consts::FRAC_PI_2,
                c_old: (g.width() as f32 / 2.0, g.height() as f32 / 2.0),
                c_new: (r.width() as f32 / 2.0, r.height() as f32 / 2.0),
                offset: (0.0, 0.0),
                unwarp: None,
            };
            vec![(r, t)]
        }),
    ));
    // Tilted codes: undo the dominant edge orientation.
    v.push((
        "deskew",
        Box::new(move |g: &GrayImage| {
            let Some(deg) = dominant_angle(g) else {
                return Vec::new();
            };
            // Linear codes need their bars vertical: try the quarter turn too.
            let (_, a) = rotation_variant("deskew", -deg, base_scale);
            let (_, b) = rotation_variant("deskew", 90.0 - deg, base_scale);
            a(g).into_iter().chain(b(g)).collect()
        }),
    ));
    // Data Matrix and Aztec detectors search outward from the image centre:
    // off-centre codes are found in overlapping quadrant tiles.
    v.push((
        "tiles",
        Box::new(move |g: &GrayImage| {
            let (w, h) = g.dimensions();
            if w.min(h) < 240 {
                return Vec::new();
            }
            let (tw, th) = (w * 3 / 5, h * 3 / 5);
            [(0, 0), (w - tw, 0), (0, h - th), (w - tw, h - th)]
                .into_iter()
                .map(|(x, y)| {
                    let tile = image::imageops::crop_imm(g, x, y, tw, th).to_image();
                    let mut t = id();
                    t.offset = (x as f32, y as f32);
                    (tile, t)
                })
                .collect()
        }),
    ));
    v.push((
        "contrast",
        Box::new(move |g: &GrayImage| {
            percentile_stretch(g)
                .map(|s| (s, id()))
                .into_iter()
                .collect()
        }),
    ));
    if options.rotations {
        v.push(rotation_variant("rot45", 45.0, base_scale));
        v.push(rotation_variant("rot-45", -45.0, base_scale));
    }
    v.push((
        "threshold",
        Box::new(move |g: &GrayImage| {
            let r = (g.width().min(g.height()) / 24).clamp(4, 40);
            vec![(imageproc::contrast::adaptive_threshold(g, r, 0), id())]
        }),
    ));
    v.push((
        "half",
        Box::new(move |g: &GrayImage| {
            if g.width().min(g.height()) < 200 {
                return Vec::new();
            }
            let mut t = id();
            t.scale = base_scale * 2.0;
            vec![(downsample(g, 2), t)]
        }),
    ));
    v.push((
        "double",
        Box::new(move |g: &GrayImage| {
            if g.width().max(g.height()) > 640 {
                return Vec::new();
            }
            let mut t = id();
            t.scale = base_scale * 0.5;
            vec![(resize(g, g.width() * 2, g.height() * 2), t)]
        }),
    ));
    if options.rotations {
        v.push(rotation_variant("rot22", 22.5, base_scale));
        v.push(rotation_variant("rot-22", -22.5, base_scale));
    }
    v.push((
        "median",
        Box::new(move |g: &GrayImage| vec![(imageproc::filter::median_filter(g, 1, 1), id())]),
    ));
    // Codes photographed at an angle: the QR and Aztec detectors tolerate
    // mild perspective only. Stretch the narrow side of a trapezoid back out,
    // for each of the four sides and two strengths. Last, as the costliest.
    v.push((
        "keystone",
        Box::new(move |g: &GrayImage| keystones(g, base_scale)),
    ));
    v
}

/// Scans a grayscale image.
///
/// # Errors
/// [`Error::Image`] if the image is empty; [`Error::ImageTooLarge`] if it has
/// more than [`ScanOptions::max_pixels`] pixels. Finding no code is not an
/// error (an empty [`ScanReport::codes`]), nor is a decoder panic (counted in
/// [`ScanReport::decoder_panics`]) or an exhausted time budget.
pub fn scan_gray(img: &GrayImage, options: &ScanOptions) -> Result<ScanReport> {
    let start = Instant::now();
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return Err(Error::Image("empty image".into()));
    }
    if u64::from(w) * u64::from(h) > options.max_pixels {
        return Err(Error::ImageTooLarge {
            width: w,
            height: h,
            limit: format!("{} pixels", options.max_pixels),
        });
    }
    let max_dim = options.max_dimension.max(64);
    let (base, scale) = if w.max(h) > max_dim {
        let k = w.max(h).div_ceil(max_dim);
        (downsample(img, k), k as f32)
    } else {
        (img.clone(), 1.0)
    };
    // The first two variants (plain, inverted) are the fast path: no
    // per-call inversion there, so a frame with one code costs two passes.
    let fast_hints = hints_for(options, false);
    let hints = hints_for(options, options.try_inverted);
    let mut report = ScanReport {
        codes: Vec::new(),
        width: w,
        height: h,
        downscale: scale,
        decoder_calls: 0,
        decoder_panics: 0,
        budget_exhausted: false,
        elapsed: Duration::ZERO,
    };
    let mut seen: HashSet<(Symbology, String)> = HashSet::new();
    for (name, make) in variants(options, scale) {
        if report.codes.len() >= options.max_codes {
            break;
        }
        if start.elapsed() >= options.time_budget {
            report.budget_exhausted = true;
            break;
        }
        if !report.codes.is_empty() && !options.exhaustive {
            break;
        }
        for (mut g, t) in make(&base) {
            if start.elapsed() >= options.time_budget {
                report.budget_exhausted = true;
                break;
            }
            let h = if matches!(name, "plain" | "inverted") {
                &fast_hints
            } else {
                &hints
            };
            decode_all(&mut g, &t, name, h, options, start, &mut seen, &mut report);
        }
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

/// Decodes one variant image repeatedly, blanking each code found.
#[allow(clippy::too_many_arguments)]
fn decode_all(
    g: &mut GrayImage,
    t: &Transform,
    name: &str,
    hints: &DecodeHints,
    options: &ScanOptions,
    start: Instant,
    seen: &mut HashSet<(Symbology, String)>,
    report: &mut ScanReport,
) {
    for _ in 0..options.max_codes.saturating_add(1) {
        if report.codes.len() >= options.max_codes {
            return;
        }
        if start.elapsed() >= options.time_budget {
            report.budget_exhausted = true;
            return;
        }
        report.decoder_calls += 1;
        let res = match decode_once(g, hints) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(_) => {
                report.decoder_panics += 1;
                return;
            }
        };
        let Some(symbology) = Symbology::from_rxing(*res.getBarcodeFormat()) else {
            return;
        };
        let pts: Vec<(f32, f32)> = res.getPoints().iter().map(|p| (p.x, p.y)).collect();
        blank(g, &pts, symbology.is_linear());
        let text = res.getText().to_string();
        if !seen.insert((symbology, text.clone())) {
            continue;
        }
        let points: Vec<Point> = pts.iter().map(|&(x, y)| t.back(x, y)).collect();
        let ec_level = res
            .getRXingResultMetadata()
            .get(&RXingResultMetadataType::ERROR_CORRECTION_LEVEL)
            .and_then(|v| match v {
                RXingResultMetadataValue::ErrorCorrectionLevel(s) => Some(s.clone()),
                _ => None,
            });
        let raw = res.getRawBytes();
        report.codes.push(Detection {
            symbology,
            bytes: if raw.is_empty() || symbology.is_linear() {
                text.as_bytes().to_vec()
            } else {
                raw.to_vec()
            },
            text,
            corners: corners(&points),
            points,
            ec_level,
            variant: name.to_string(),
        });
    }
}

fn hints_for(options: &ScanOptions, also_inverted: bool) -> DecodeHints {
    let formats: HashSet<_> = options
        .symbologies
        .as_deref()
        .unwrap_or(&Symbology::ALL)
        .iter()
        .map(|s| s.to_rxing())
        .collect();
    DecodeHints {
        PossibleFormats: Some(formats),
        TryHarder: Some(false),
        AlsoInverted: Some(also_inverted),
        ..DecodeHints::default()
    }
}

/// One bounded decoder call; `Err` if the decoder panicked.
fn decode_once(g: &GrayImage, hints: &DecodeHints) -> Result<Option<rxing::RXingResult>> {
    let (w, h) = g.dimensions();
    let data = g.as_raw().clone();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let source = Luma8LuminanceSource::new(data, w, h).ok()?;
        let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
        let mut reader = MultiFormatReader::default();
        reader.decode_with_hints(&mut bitmap, hints).ok()
    }));
    outcome.map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        Error::DecoderPanic(msg)
    })
}

/// Paints the region of a found code white so the next call finds another.
fn blank(g: &mut GrayImage, pts: &[(f32, f32)], linear: bool) {
    if pts.is_empty() {
        return;
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for &(x, y) in pts {
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    let size = (x1 - x0).max(y1 - y0).max(8.0);
    // 2D finder centres sit ~3.5 modules inside the corners; linear codes
    // report one scan line, so blank a band above and below it.
    let (mx, my) = if linear {
        (size * 0.08, size * 0.6)
    } else {
        (size * 0.25, size * 0.25)
    };
    let clamp = |v: f32, hi: u32| v.max(0.0).min(hi as f32) as u32;
    let (w, h) = g.dimensions();
    let (ax, bx) = (clamp(x0 - mx, w), clamp(x1 + mx, w));
    let (ay, by) = (clamp(y0 - my, h), clamp(y1 + my, h));
    for y in ay..by {
        for x in ax..bx {
            g.put_pixel(x, y, Luma([255]));
        }
    }
}

fn corners(points: &[Point]) -> [Point; 4] {
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in points {
        x0 = x0.min(p.x);
        y0 = y0.min(p.y);
        x1 = x1.max(p.x);
        y1 = y1.max(p.y);
    }
    if points.is_empty() {
        (x0, y0, x1, y1) = (0.0, 0.0, 0.0, 0.0);
    }
    [
        Point { x: x0, y: y0 },
        Point { x: x1, y: y0 },
        Point { x: x1, y: y1 },
        Point { x: x0, y: y1 },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dominant_angle_measures_the_tilt() {
        let opts = crate::EncodeOptions::new(Symbology::Aztec);
        let s = crate::encode("Aztec: boarding pass 123", &opts).unwrap();
        let img = crate::render::to_image(&s, &crate::RenderOptions::new().with_scale(4)).unwrap();
        let g = DynamicImage::ImageRgb8(img).to_luma8();
        assert_eq!(dominant_angle(&g), None);
        for deg in [12.0f32, -25.0, 30.0, 44.0] {
            let (r, _, _) = rotated(&g, deg.to_radians());
            let a = dominant_angle(&r).unwrap();
            assert!((a - deg).abs() < 1.5, "{deg} measured as {a}");
        }
        // A quarter turn more is the same modulo 90.
        let (r, _, _) = rotated(&g, 100f32.to_radians());
        assert!((dominant_angle(&r).unwrap() - 10.0).abs() < 1.5);
    }

    #[test]
    fn downsample_averages_blocks() {
        let g = GrayImage::from_fn(7, 5, |x, _| Luma([if x % 2 == 0 { 0 } else { 200 }]));
        let d = downsample(&g, 2);
        assert_eq!(d.dimensions(), (3, 2));
        assert!(d.pixels().all(|p| p.0[0] == 100));
    }
}
