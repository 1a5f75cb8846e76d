//! Deterministic image degradations: what a camera and a printer do to a
//! code. Used to build the benchmark set and the robustness tests, and
//! useful to test any scanner.

use crate::{Error, Result};
use image::{GrayImage, Luma};
use imageproc::geometric_transformations::{
    Border, Interpolation, Projection, rotate_about_center_no_crop, warp,
};
use serde::{Deserialize, Serialize};

/// One degradation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Degradation {
    /// Nothing.
    None,
    /// Rotation clockwise by degrees (canvas grown to fit, white fill).
    Rotate(f32),
    /// Perspective: the top edge shrunk by this fraction of the width (0-0.45).
    Perspective(f32),
    /// Gaussian blur with this sigma in pixels.
    Blur(f32),
    /// Additive Gaussian noise with this standard deviation (0-255 scale).
    Noise(f32),
    /// Dark and light squeezed to `mid ± span/2` (span 0-255).
    LowContrast(u8),
    /// JPEG compression at this quality (1-100).
    Jpeg(u8),
    /// Scaling by this factor (0.05-4).
    Scale(f32),
}

impl Degradation {
    /// A short label (`rotate-30`, `blur-2.0`).
    pub fn label(&self) -> String {
        match self {
            Degradation::None => "none".into(),
            Degradation::Rotate(d) => format!("rotate-{d}"),
            Degradation::Perspective(p) => format!("perspective-{p}"),
            Degradation::Blur(s) => format!("blur-{s}"),
            Degradation::Noise(s) => format!("noise-{s}"),
            Degradation::LowContrast(s) => format!("contrast-{s}"),
            Degradation::Jpeg(q) => format!("jpeg-{q}"),
            Degradation::Scale(f) => format!("scale-{f}"),
        }
    }

    /// The family (`rotate`, `blur`, ...), for grouping results.
    pub fn family(&self) -> &'static str {
        match self {
            Degradation::None => "none",
            Degradation::Rotate(_) => "rotate",
            Degradation::Perspective(_) => "perspective",
            Degradation::Blur(_) => "blur",
            Degradation::Noise(_) => "noise",
            Degradation::LowContrast(_) => "contrast",
            Degradation::Jpeg(_) => "jpeg",
            Degradation::Scale(_) => "scale",
        }
    }

    /// Applies the degradation; `seed` makes noise reproducible.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] if a perspective has no projective map (an
    /// empty image); [`Error::Image`] if the JPEG round trip fails.
    pub fn apply(&self, img: &GrayImage, seed: u64) -> Result<GrayImage> {
        Ok(match *self {
            Degradation::None => img.clone(),
            Degradation::Rotate(d) => rotate_about_center_no_crop(
                img,
                d.to_radians(),
                Interpolation::Bilinear,
                Border::Constant(Luma([255])),
            ),
            Degradation::Perspective(p) => {
                let (w, h) = (img.width() as f32, img.height() as f32);
                let p = p.clamp(0.0, 0.45) * w;
                let from = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
                let to = [(p, 0.0), (w - p, 0.0), (w, h), (0.0, h)];
                let proj = Projection::from_control_points(from, to)
                    .ok_or_else(|| Error::InvalidOption("degenerate perspective".into()))?;
                warp(
                    img,
                    proj,
                    Interpolation::Bilinear,
                    Border::Constant(Luma([255])),
                )
            }
            Degradation::Blur(s) => {
                if s <= 0.0 {
                    img.clone()
                } else {
                    imageproc::filter::gaussian_blur_f32(img, s)
                }
            }
            Degradation::Noise(s) => {
                imageproc::noise::gaussian_noise(img, 0.0, f64::from(s.max(0.0)), seed)
            }
            Degradation::LowContrast(span) => {
                let lo = 128 - i32::from(span) / 2;
                let mut out = img.clone();
                for p in out.pixels_mut() {
                    p.0[0] = (lo + i32::from(p.0[0]) * i32::from(span) / 255) as u8;
                }
                out
            }
            Degradation::Jpeg(q) => {
                let mut buf = Vec::new();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, q.clamp(1, 100))
                    .encode_image(img)
                    .map_err(|e| Error::Image(e.to_string()))?;
                image::load_from_memory(&buf)
                    .map_err(|e| Error::Image(e.to_string()))?
                    .to_luma8()
            }
            Degradation::Scale(f) => {
                let f = f.clamp(0.05, 4.0);
                let w = ((img.width() as f32 * f).round() as u32).max(1);
                let h = ((img.height() as f32 * f).round() as u32).max(1);
                image::imageops::resize(img, w, h, image::imageops::FilterType::Triangle)
            }
        })
    }
}

/// The benchmark set's degradations: every family at a few strengths.
pub fn benchmark_set() -> Vec<Degradation> {
    use Degradation as D;
    vec![
        D::None,
        D::Rotate(10.0),
        D::Rotate(30.0),
        D::Rotate(45.0),
        D::Rotate(90.0),
        D::Perspective(0.15),
        D::Perspective(0.3),
        D::Blur(1.0),
        D::Blur(2.0),
        D::Noise(20.0),
        D::Noise(40.0),
        D::LowContrast(60),
        D::LowContrast(30),
        D::Jpeg(30),
        D::Jpeg(10),
        D::Scale(0.5),
        D::Scale(0.3),
        D::Scale(2.0),
    ]
}

/// Pastes `code` onto a `w`×`h` canvas of `bg` gray at (`x`, `y`), with a
/// gentle lighting gradient so the background is not flat.
pub fn place(code: &GrayImage, w: u32, h: u32, x: u32, y: u32, bg: u8) -> GrayImage {
    let mut out = GrayImage::from_fn(w, h, |px, py| {
        let g = i32::from(bg) - ((px + py) * 40 / (w + h).max(1)) as i32;
        Luma([g.clamp(0, 255) as u8])
    });
    image::imageops::overlay(&mut out, code, i64::from(x), i64::from(y));
    out
}
