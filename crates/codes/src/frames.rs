//! Scanning camera frames with state across frames: a region of interest
//! that follows the last code, frames that did not change are not decoded
//! again, a code is reported once it was seen in N frames, and the same code
//! is not reported twice while it stays in view.

use crate::scan::{self, Detection, Point, ScanOptions};
use crate::{Error, Result, Symbology};
use image::GrayImage;
use std::collections::HashMap;

/// A rectangle in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Roi {
    /// Left.
    pub x: u32,
    /// Top.
    pub y: u32,
    /// Width.
    pub w: u32,
    /// Height.
    pub h: u32,
}

/// Frame scanner settings.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FrameOptions {
    /// Frames a code must be seen in before it is reported.
    pub confirm_frames: u32,
    /// A candidate not seen for this many frames starts over.
    pub max_gap: u32,
    /// A reported code is reported again only after being out of view this many frames.
    pub dedup_frames: u32,
    /// Mean absolute difference (0-255) of the frame thumbnail below which a
    /// frame counts as unchanged and is not decoded.
    pub change_threshold: f32,
    /// A fixed region of interest (e.g. the viewfinder box).
    pub roi: Option<Roi>,
    /// Decode around the last code first.
    pub track: bool,
    /// Scan options for each decode (defaults favour speed: no rotations).
    pub scan: ScanOptions,
}

impl Default for FrameOptions {
    fn default() -> Self {
        Self {
            confirm_frames: 3,
            max_gap: 2,
            dedup_frames: 30,
            change_threshold: 1.5,
            roi: None,
            track: true,
            scan: ScanOptions::default()
                .with_rotations(false)
                .with_max_dimension(1280)
                .with_time_budget(std::time::Duration::from_millis(150)),
        }
    }
}

impl FrameOptions {
    /// Defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the number of frames to confirm a code.
    #[must_use]
    pub fn with_confirm_frames(mut self, n: u32) -> Self {
        self.confirm_frames = n.max(1);
        self
    }
    /// Sets a fixed region of interest.
    #[must_use]
    pub fn with_roi(mut self, roi: Roi) -> Self {
        self.roi = Some(roi);
        self
    }
    /// Sets the unchanged-frame threshold.
    #[must_use]
    pub fn with_change_threshold(mut self, t: f32) -> Self {
        self.change_threshold = t;
        self
    }
    /// Sets the scan options.
    #[must_use]
    pub fn with_scan(mut self, s: ScanOptions) -> Self {
        self.scan = s;
        self
    }
}

/// What one frame produced.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct FrameResult {
    /// The frame was not decoded (unchanged since the last decoded one).
    pub skipped: bool,
    /// The frame was decoded inside the tracked region only.
    pub tracked: bool,
    /// Codes seen in this frame (confirmed or not).
    pub seen: Vec<Detection>,
    /// Codes confirmed by this frame: report these.
    pub confirmed: Vec<Detection>,
}

#[derive(Debug, Clone)]
struct Candidate {
    hits: u32,
    last_seen: u64,
    reported: bool,
    detection: Detection,
}

const THUMB: u32 = 32;

/// The stateful frame scanner.
#[derive(Debug)]
pub struct FrameScanner {
    options: FrameOptions,
    frame: u64,
    last_thumb: Option<(u32, u32, Vec<u8>)>,
    last_seen: Vec<Detection>,
    track: Option<Roi>,
    candidates: HashMap<(Symbology, String), Candidate>,
}

impl FrameScanner {
    /// A scanner with `options`.
    pub fn new(options: FrameOptions) -> Self {
        Self {
            options,
            frame: 0,
            last_thumb: None,
            last_seen: Vec::new(),
            track: None,
            candidates: HashMap::new(),
        }
    }

    /// Frames pushed so far.
    pub fn frames(&self) -> u64 {
        self.frame
    }

    /// Forgets every candidate and reported code.
    pub fn reset(&mut self) {
        self.candidates.clear();
        self.last_thumb = None;
        self.last_seen.clear();
        self.track = None;
    }

    /// Processes one grayscale frame (a camera's Y plane, `width * height` bytes).
    ///
    /// # Errors
    /// [`Error::Image`] if a dimension is zero or `luma` is not `width * height`
    /// bytes; then as [`FrameScanner::push_image`].
    pub fn push(&mut self, width: u32, height: u32, luma: &[u8]) -> Result<FrameResult> {
        if width == 0 || height == 0 || u64::from(width) * u64::from(height) != luma.len() as u64 {
            return Err(Error::Image(format!(
                "frame {width}x{height} does not match {} bytes",
                luma.len()
            )));
        }
        let img = GrayImage::from_raw(width, height, luma.to_vec())
            .ok_or_else(|| Error::Image("frame buffer".into()))?;
        self.push_image(&img)
    }

    /// Processes one frame.
    ///
    /// # Errors
    /// [`Error::Image`] if the frame is empty; [`Error::ImageTooLarge`] if the
    /// region scanned has more than the scan options' `max_pixels`. A frame
    /// without a code is not an error.
    pub fn push_image(&mut self, img: &GrayImage) -> Result<FrameResult> {
        if img.width() == 0 || img.height() == 0 {
            return Err(Error::Image("empty frame".into()));
        }
        self.frame += 1;
        let roi = clamp_roi(
            self.options.roi.unwrap_or(Roi {
                x: 0,
                y: 0,
                w: img.width(),
                h: img.height(),
            }),
            img,
        );
        let thumb = thumbnail(img, roi);
        let unchanged = self.last_thumb.as_ref().is_some_and(|(w, h, t)| {
            *w == img.width()
                && *h == img.height()
                && mad(t, &thumb) < self.options.change_threshold
        });
        let mut result = FrameResult::default();
        let seen = if unchanged {
            result.skipped = true;
            self.last_seen.clone()
        } else {
            self.last_thumb = Some((img.width(), img.height(), thumb));
            let mut found = Vec::new();
            if let Some(t) = self.track.filter(|_| self.options.track) {
                found = self.scan_roi(img, clamp_roi(t, img))?;
                result.tracked = !found.is_empty();
            }
            if found.is_empty() {
                found = self.scan_roi(img, roi)?;
            }
            self.track = found.first().map(|d| grow(d, img));
            self.last_seen.clone_from(&found);
            found
        };
        let frame = self.frame;
        for d in &seen {
            let c = self
                .candidates
                .entry((d.symbology, d.text.clone()))
                .or_insert_with(|| Candidate {
                    hits: 0,
                    last_seen: frame,
                    reported: false,
                    detection: d.clone(),
                });
            if frame - c.last_seen > u64::from(self.options.max_gap) && !c.reported {
                c.hits = 0;
            }
            if c.reported && frame - c.last_seen > u64::from(self.options.dedup_frames) {
                c.reported = false;
                c.hits = 0;
            }
            c.hits += 1;
            c.last_seen = frame;
            c.detection = d.clone();
            if !c.reported && c.hits >= self.options.confirm_frames {
                c.reported = true;
                result.confirmed.push(d.clone());
            }
        }
        // Forget long-gone candidates.
        let keep = u64::from(self.options.dedup_frames.max(self.options.max_gap)) + 1;
        self.candidates.retain(|_, c| frame - c.last_seen <= keep);
        result.seen = seen;
        Ok(result)
    }

    fn scan_roi(&self, img: &GrayImage, roi: Roi) -> Result<Vec<Detection>> {
        let crop = image::imageops::crop_imm(img, roi.x, roi.y, roi.w, roi.h).to_image();
        let report = scan::scan_gray(&crop, &self.options.scan)?;
        Ok(report
            .codes
            .into_iter()
            .map(|mut d| {
                let shift = |p: &mut Point| {
                    p.x += roi.x as f32;
                    p.y += roi.y as f32;
                };
                d.points.iter_mut().for_each(shift);
                d.corners.iter_mut().for_each(shift);
                d
            })
            .collect())
    }
}

fn clamp_roi(r: Roi, img: &GrayImage) -> Roi {
    let x = r.x.min(img.width().saturating_sub(1));
    let y = r.y.min(img.height().saturating_sub(1));
    Roi {
        x,
        y,
        w: r.w.clamp(1, img.width() - x),
        h: r.h.clamp(1, img.height() - y),
    }
}

/// The detection's box grown by its own size on each side.
fn grow(d: &Detection, img: &GrayImage) -> Roi {
    let [tl, _, br, _] = d.corners;
    let size = (br.x - tl.x).max(br.y - tl.y).max(32.0);
    let x0 = (tl.x - size).max(0.0) as u32;
    let y0 = (tl.y - size).max(0.0) as u32;
    let x1 = ((br.x + size) as u32).min(img.width());
    let y1 = ((br.y + size) as u32).min(img.height());
    Roi {
        x: x0,
        y: y0,
        w: x1.saturating_sub(x0).max(1),
        h: y1.saturating_sub(y0).max(1),
    }
}

fn thumbnail(img: &GrayImage, roi: Roi) -> Vec<u8> {
    let mut out = Vec::with_capacity((THUMB * THUMB) as usize);
    for ty in 0..THUMB {
        for tx in 0..THUMB {
            // Average a small block around the sample point.
            let cx = roi.x + (tx * 2 + 1) * roi.w / (THUMB * 2);
            let cy = roi.y + (ty * 2 + 1) * roi.h / (THUMB * 2);
            let mut sum = 0u32;
            let mut n = 0u32;
            for dy in 0..2 {
                for dx in 0..2 {
                    let (x, y) = (cx + dx, cy + dy);
                    if x < img.width() && y < img.height() {
                        sum += u32::from(img.get_pixel(x, y).0[0]);
                        n += 1;
                    }
                }
            }
            out.push((sum / n.max(1)) as u8);
        }
    }
    out
}

fn mad(a: &[u8], b: &[u8]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return f32::MAX;
    }
    let s: u64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| u64::from(x.abs_diff(*y)))
        .sum();
    s as f32 / a.len() as f32
}
