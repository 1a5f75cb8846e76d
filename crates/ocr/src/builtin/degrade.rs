//! Image degradations (training augmentation and the evaluation set's conditions) and binarisation.

use image::{GrayImage, Luma};

/// A small deterministic PRNG (SplitMix64), so training and evaluation sets are reproducible.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[0, 1)`.
    pub fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.f32()
    }
    /// Uniform index below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
    /// Standard normal sample (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = self.f32().max(1e-7);
        let u2 = self.f32();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    }
}

/// Gaussian blur with standard deviation `sigma` pixels (separable, clamped edges).
pub fn blur(img: &GrayImage, sigma: f32) -> GrayImage {
    if sigma <= 0.05 || img.width() == 0 || img.height() == 0 {
        return img.clone();
    }
    let r = (sigma * 3.0).ceil() as i64;
    let k: Vec<f32> = (-r..=r)
        .map(|i| (-((i * i) as f32) / (2.0 * sigma * sigma)).exp())
        .collect();
    let s: f32 = k.iter().sum();
    let k: Vec<f32> = k.iter().map(|v| v / s).collect();
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let src: Vec<f32> = img.as_raw().iter().map(|&v| f32::from(v)).collect();
    let mut tmp = vec![0f32; src.len()];
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for (j, kv) in k.iter().enumerate() {
                let xx = (x + j as i64 - r).clamp(0, w - 1);
                acc += kv * src[(y * w + xx) as usize];
            }
            tmp[(y * w + x) as usize] = acc;
        }
    }
    let mut out = GrayImage::new(img.width(), img.height());
    for y in 0..h {
        for x in 0..w {
            let mut acc = 0.0;
            for (j, kv) in k.iter().enumerate() {
                let yy = (y + j as i64 - r).clamp(0, h - 1);
                acc += kv * tmp[(yy * w + x) as usize];
            }
            out.put_pixel(
                x as u32,
                y as u32,
                Luma([acc.round().clamp(0.0, 255.0) as u8]),
            );
        }
    }
    out
}

/// Add gaussian noise of standard deviation `sigma` gray levels.
pub fn noise(img: &GrayImage, sigma: f32, rng: &mut Rng) -> GrayImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        p.0[0] = (f32::from(p.0[0]) + sigma * rng.normal())
            .round()
            .clamp(0.0, 255.0) as u8;
    }
    out
}

/// Map gray levels linearly so that black becomes `ink` and white becomes `paper`.
pub fn contrast(img: &GrayImage, ink: u8, paper: u8) -> GrayImage {
    let (i, p) = (f32::from(ink), f32::from(paper));
    let mut out = img.clone();
    for px in out.pixels_mut() {
        let t = f32::from(px.0[0]) / 255.0;
        px.0[0] = (i + (p - i) * t).round().clamp(0.0, 255.0) as u8;
    }
    out
}

/// Thicken (`amount` > 0) or thin (`amount` < 0) strokes by blending with a 3x3 min/max filter.
pub fn thickness(img: &GrayImage, amount: f32) -> GrayImage {
    let (w, h) = img.dimensions();
    let a = amount.abs().min(1.0);
    GrayImage::from_fn(w, h, |x, y| {
        let mut m = img.get_pixel(x, y).0[0];
        for dy in -1i64..=1 {
            for dx in -1i64..=1 {
                let (xx, yy) = (i64::from(x) + dx, i64::from(y) + dy);
                if xx < 0 || yy < 0 || xx >= i64::from(w) || yy >= i64::from(h) {
                    continue;
                }
                let v = img.get_pixel(xx as u32, yy as u32).0[0];
                m = if amount > 0.0 { m.min(v) } else { m.max(v) };
            }
        }
        let v = f32::from(img.get_pixel(x, y).0[0]);
        Luma([(v + a * (f32::from(m) - v)).round() as u8])
    })
}

/// Rotate by `degrees` around the centre (bilinear, white fill), keeping the size.
pub fn rotate(img: &GrayImage, degrees: f32) -> GrayImage {
    let (w, h) = img.dimensions();
    let (s, c) = degrees.to_radians().sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    GrayImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
        let sx = c * dx + s * dy + cx;
        let sy = -s * dx + c * dy + cy;
        Luma([bilinear(img, sx, sy)])
    })
}

fn bilinear(img: &GrayImage, x: f32, y: f32) -> u8 {
    let (w, h) = img.dimensions();
    if x < 0.0 || y < 0.0 || x > (w - 1) as f32 || y > (h - 1) as f32 {
        return 255;
    }
    let (x0, y0) = (x.floor() as u32, y.floor() as u32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let g = |a: u32, b: u32| f32::from(img.get_pixel(a, b).0[0]);
    let top = g(x0, y0) * (1.0 - fx) + g(x1, y0) * fx;
    let bot = g(x0, y1) * (1.0 - fx) + g(x1, y1) * fx;
    (top * (1.0 - fy) + bot * fy).round() as u8
}

/// Scale by `factor` (bilinear).
pub fn scale(img: &GrayImage, factor: f32) -> GrayImage {
    let w = ((img.width() as f32 * factor).round() as u32).max(1);
    let h = ((img.height() as f32 * factor).round() as u32).max(1);
    if img.width() == 0 || img.height() == 0 {
        return GrayImage::new(w, h);
    }
    GrayImage::from_fn(w, h, |x, y| {
        let sx = ((x as f32 + 0.5) / factor - 0.5).clamp(0.0, (img.width() - 1) as f32);
        let sy = ((y as f32 + 0.5) / factor - 0.5).clamp(0.0, (img.height() - 1) as f32);
        Luma([bilinear(img, sx, sy)])
    })
}

/// Round-trip through JPEG at `quality` (1-100).
pub fn jpeg(img: &GrayImage, quality: u8) -> GrayImage {
    let mut buf = Vec::new();
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality.clamp(1, 100));
    if img.write_with_encoder(enc).is_err() {
        return img.clone();
    }
    image::load_from_memory_with_format(&buf, image::ImageFormat::Jpeg)
        .map_or_else(|_| img.clone(), |d| d.to_luma8())
}

/// Otsu's threshold of a gray image (ink = values <= threshold).
pub fn otsu(img: &GrayImage) -> u8 {
    let mut hist = [0u64; 256];
    for p in img.pixels() {
        hist[p.0[0] as usize] += 1;
    }
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return 127;
    }
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * c as f64)
        .sum();
    let (mut wb, mut sb, mut best, mut th) = (0f64, 0f64, -1f64, 127u8);
    for (t, &c) in hist.iter().enumerate() {
        wb += c as f64;
        if wb == 0.0 {
            continue;
        }
        let wf = total as f64 - wb;
        if wf == 0.0 {
            break;
        }
        sb += t as f64 * c as f64;
        let (mb, mf) = (sb / wb, (sum_all - sb) / wf);
        let between = wb * wf * (mb - mf) * (mb - mf);
        if between > best {
            best = between;
            th = t as u8;
        }
    }
    th
}

/// Binarise with a global threshold: values <= `threshold` become 0 (ink), others 255.
pub fn binarize(img: &GrayImage, threshold: u8) -> GrayImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        p.0[0] = if p.0[0] <= threshold { 0 } else { 255 };
    }
    out
}
