//! Rendering a [`Symbol`] to pixels, SVG, PNG and the terminal, with a
//! quiet zone, a scale, colours checked for contrast and an optional centre
//! logo checked against the error correction budget.

use crate::{Error, Result, Symbol, Symbology};
use base64::Engine as _;
use image::{ImageEncoder, Rgb, RgbImage, RgbaImage};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Color(pub [u8; 3]);

impl Color {
    /// Black.
    pub const BLACK: Color = Color([0, 0, 0]);
    /// White.
    pub const WHITE: Color = Color([255, 255, 255]);

    /// Parses `#rrggbb`, `rrggbb` or `#rgb`.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] if `s` is not 6 or 3 hex digits (with or without `#`).
    pub fn parse(s: &str) -> Result<Self> {
        let h = s.strip_prefix('#').unwrap_or(s);
        let bad = || Error::InvalidOption(format!("bad colour {s:?}, want #rrggbb"));
        if !h.is_ascii() {
            return Err(bad());
        }
        let hex = |t: &str| u8::from_str_radix(t, 16).map_err(|_| bad());
        match h.len() {
            6 => Ok(Color([hex(&h[0..2])?, hex(&h[2..4])?, hex(&h[4..6])?])),
            3 => {
                let d = |i: usize| hex(&h[i..=i]).map(|v| v * 17);
                Ok(Color([d(0)?, d(1)?, d(2)?]))
            }
            _ => Err(bad()),
        }
    }

    /// `#rrggbb`.
    pub fn to_hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0[0], self.0[1], self.0[2])
    }

    /// WCAG 2 relative luminance, 0 (black) to 1 (white).
    pub fn relative_luminance(self) -> f64 {
        let lin = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.040_45 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(self.0[0]) + 0.7152 * lin(self.0[1]) + 0.0722 * lin(self.0[2])
    }
}

/// WCAG 2 contrast ratio of two colours, 1 to 21.
pub fn contrast_ratio(a: Color, b: Color) -> f64 {
    let (la, lb) = (a.relative_luminance(), b.relative_luminance());
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// A centre logo for a QR code.
#[derive(Debug, Clone, PartialEq)]
pub struct Logo {
    /// The logo image (alpha is blended over the background colour).
    pub image: RgbaImage,
    /// Logo width as a fraction of the symbol width (quiet zone excluded).
    pub ratio: f32,
}

impl Logo {
    /// A logo from PNG or JPEG bytes (at most 4096×4096 = 16,777,216 pixels in all; a
    /// side may be longer when the other is shorter).
    ///
    /// # Errors
    /// [`Error::Image`] if `bytes` do not decode as an image;
    /// [`Error::ImageTooLarge`] if it holds more than 4096×4096 pixels or is
    /// larger than 64 MiB. The ratio is checked when the logo is rendered
    /// ([`RenderOptions::check`]).
    pub fn from_bytes(bytes: &[u8], ratio: f32) -> Result<Self> {
        let opts = crate::ScanOptions::new().with_max_pixels(4096 * 4096);
        let image = crate::scan::load_image(bytes, &opts)?.to_rgba8();
        Ok(Self { image, ratio })
    }
}

/// How to draw a symbol.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RenderOptions {
    /// Pixels per module (1-100).
    pub scale: u32,
    /// Quiet zone in modules; `None` uses the symbology's standard one.
    pub quiet_zone: Option<u32>,
    /// Colour of dark modules.
    pub fg: Color,
    /// Background colour.
    pub bg: Color,
    /// Minimum WCAG contrast ratio between `fg` and `bg`.
    pub min_contrast: f64,
    /// Allow a foreground lighter than the background (many scanners fail on it).
    pub allow_inverted: bool,
    /// Bar height of linear codes, in modules.
    pub bar_height: u32,
    /// Optional centre logo (QR only).
    pub logo: Option<Logo>,
    /// Fraction of the error correction budget a logo may use (0-1).
    pub logo_budget: f32,
    /// Largest output in pixels (width × height).
    pub max_pixels: u64,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            scale: 8,
            quiet_zone: None,
            fg: Color::BLACK,
            bg: Color::WHITE,
            min_contrast: 3.0,
            allow_inverted: false,
            bar_height: 60,
            logo: None,
            logo_budget: 0.6,
            max_pixels: 64_000_000,
        }
    }
}

impl RenderOptions {
    /// Defaults: 8 px per module, standard quiet zone, black on white.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets pixels per module.
    #[must_use]
    pub fn with_scale(mut self, scale: u32) -> Self {
        self.scale = scale;
        self
    }
    /// Sets the quiet zone in modules.
    #[must_use]
    pub fn with_quiet_zone(mut self, modules: u32) -> Self {
        self.quiet_zone = Some(modules);
        self
    }
    /// Sets the colours.
    #[must_use]
    pub fn with_colors(mut self, fg: Color, bg: Color) -> Self {
        self.fg = fg;
        self.bg = bg;
        self
    }
    /// Sets the minimum contrast ratio.
    #[must_use]
    pub fn with_min_contrast(mut self, ratio: f64) -> Self {
        self.min_contrast = ratio;
        self
    }
    /// Allows light-on-dark codes.
    #[must_use]
    pub fn with_allow_inverted(mut self, on: bool) -> Self {
        self.allow_inverted = on;
        self
    }
    /// Sets the bar height of linear codes in modules.
    #[must_use]
    pub fn with_bar_height(mut self, modules: u32) -> Self {
        self.bar_height = modules;
        self
    }
    /// Adds a centre logo.
    #[must_use]
    pub fn with_logo(mut self, logo: Logo) -> Self {
        self.logo = Some(logo);
        self
    }

    /// Checks the options against `symbol`: scale, contrast, logo budget.
    ///
    /// # Errors
    /// - [`Error::InvalidOption`] if the scale is outside 1..=100, the quiet zone
    ///   over 100 modules, the bar height outside 1..=1000, the output larger than
    ///   `max_pixels`, or a logo is set on a code that is not QR or with a ratio
    ///   outside 0..=0.5 or a budget outside 0..=1;
    /// - [`Error::LowContrast`] if the colours' contrast ratio is under
    ///   `min_contrast`, or the foreground is lighter than the background without
    ///   `allow_inverted`;
    /// - [`Error::LogoTooLarge`] if the logo hides more codewords than its share of
    ///   the error correction budget.
    pub fn check(&self, symbol: &Symbol) -> Result<()> {
        if !(1..=100).contains(&self.scale) {
            return Err(Error::InvalidOption(format!(
                "scale {} outside 1..=100",
                self.scale
            )));
        }
        if self.quiet_zone.is_some_and(|q| q > 100) || !(1..=1000).contains(&self.bar_height) {
            return Err(Error::InvalidOption(
                "quiet zone or bar height out of range".into(),
            ));
        }
        let ratio = contrast_ratio(self.fg, self.bg);
        let inverted = self.fg.relative_luminance() > self.bg.relative_luminance();
        if ratio < self.min_contrast || (inverted && !self.allow_inverted) {
            return Err(Error::LowContrast {
                fg: self.fg.to_hex(),
                bg: self.bg.to_hex(),
                ratio,
                min: self.min_contrast,
                inverted,
            });
        }
        if let Some(logo) = &self.logo {
            logo_budget(symbol, logo.ratio, self.logo_budget)?;
        }
        let (w, h) = self.pixel_size(symbol);
        if u64::from(w) * u64::from(h) > self.max_pixels {
            return Err(Error::InvalidOption(format!(
                "output {w}x{h} exceeds {} pixels",
                self.max_pixels
            )));
        }
        Ok(())
    }

    fn quiet(&self, s: &Symbol) -> u32 {
        self.quiet_zone
            .unwrap_or_else(|| s.symbology.default_quiet_zone())
    }

    fn rows(&self, s: &Symbol) -> u32 {
        if s.height == 1 {
            self.bar_height
        } else {
            s.height as u32
        }
    }

    /// Output size in pixels.
    pub fn pixel_size(&self, s: &Symbol) -> (u32, u32) {
        let q = self.quiet(s);
        // Linear codes keep the quiet zone horizontal only, plus 2 modules above/below.
        let vq = if s.height == 1 { 2 } else { q };
        (
            (s.width as u32 + 2 * q) * self.scale,
            (self.rows(s) + 2 * vq) * self.scale,
        )
    }
}

/// The centre square a logo of `ratio` occupies, in modules: (x0, y0, size).
fn logo_square(symbol: &Symbol, ratio: f32) -> (usize, usize, usize) {
    let size = ((symbol.width as f32 * ratio).ceil() as usize).min(symbol.width);
    // Keep the square centred on the module grid (same parity as the width).
    let size = if (symbol.width - size) % 2 == 1 {
        size + 1
    } else {
        size
    }
    .min(symbol.width);
    let x0 = (symbol.width - size) / 2;
    (x0, x0, size)
}

/// Checks that a logo of `ratio` leaves the code decodable: the data
/// modules under it, counted as damaged codewords (8 modules each, plus one
/// per row and column of the square for codewords that straddle its edge),
/// must fit in `budget` times what the error correction restores.
///
/// # Errors
/// [`Error::InvalidOption`] if `symbol` is not a QR code, `ratio` is outside
/// 0..=0.5 or `budget` outside 0..=1; [`Error::LogoTooLarge`] if the logo
/// hides more codewords than `budget` times what the error correction restores.
pub fn logo_budget(symbol: &Symbol, ratio: f32, budget: f32) -> Result<()> {
    if symbol.symbology != Symbology::Qr {
        return Err(Error::InvalidOption(
            "a centre logo is supported on QR codes only".into(),
        ));
    }
    if !(0.0..=0.5).contains(&ratio) || !(0.0..=1.0).contains(&budget) {
        return Err(Error::InvalidOption(
            "logo ratio must be 0-0.5 and budget 0-1".into(),
        ));
    }
    let max = symbol.max_codeword_errors.unwrap_or(0);
    let (x0, y0, size) = logo_square(symbol, ratio);
    let version: i16 = symbol
        .version
        .as_deref()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut covered = 0usize;
    for y in y0..y0 + size {
        for x in x0..x0 + size {
            if !qrcode::canvas::is_functional(
                qrcode::Version::Normal(version),
                symbol.width as i16,
                x as i16,
                y as i16,
            ) {
                covered += 1;
            }
        }
    }
    let needed = if covered == 0 {
        0
    } else {
        covered.div_ceil(8) + size
    };
    let allowed = (max as f32 * budget).floor() as usize;
    if needed > allowed {
        return Err(Error::LogoTooLarge {
            needed,
            budget: allowed,
            level: symbol
                .ec_level
                .map_or_else(|| "?".into(), |l| l.as_str().to_string()),
        });
    }
    Ok(())
}

/// Renders to an RGB image.
///
/// # Errors
/// As [`RenderOptions::check`]: the options do not fit the symbol.
pub fn to_image(symbol: &Symbol, o: &RenderOptions) -> Result<RgbImage> {
    o.check(symbol)?;
    let (w, h) = o.pixel_size(symbol);
    let q = o.quiet(symbol);
    let vq = if symbol.height == 1 { 2 } else { q };
    let mut img = RgbImage::from_pixel(w, h, Rgb(o.bg.0));
    let rows = o.rows(symbol) as usize;
    for my in 0..rows {
        let sy = if symbol.height == 1 { 0 } else { my };
        for mx in 0..symbol.width {
            if symbol.get(mx, sy) {
                let px = (mx as u32 + q) * o.scale;
                let py = (my as u32 + vq) * o.scale;
                for yy in py..py + o.scale {
                    for xx in px..px + o.scale {
                        img.put_pixel(xx, yy, Rgb(o.fg.0));
                    }
                }
            }
        }
    }
    if let Some(logo) = &o.logo {
        let (x0, y0, size) = logo_square(symbol, logo.ratio);
        let px0 = (x0 as u32 + q) * o.scale;
        let py0 = (y0 as u32 + q) * o.scale;
        let side = size as u32 * o.scale;
        // Clear the square, then draw the logo fitted inside with a 1-module margin.
        for y in py0..py0 + side {
            for x in px0..px0 + side {
                img.put_pixel(x, y, Rgb(o.bg.0));
            }
        }
        let inner = side.saturating_sub(2 * o.scale).max(1);
        let fitted = image::imageops::resize(
            &logo.image,
            inner,
            inner,
            image::imageops::FilterType::Triangle,
        );
        for (x, y, p) in fitted.enumerate_pixels() {
            let a = f32::from(p.0[3]) / 255.0;
            let blend = |c: u8, b: u8| (f32::from(c) * a + f32::from(b) * (1.0 - a)).round() as u8;
            let px = Rgb([
                blend(p.0[0], o.bg.0[0]),
                blend(p.0[1], o.bg.0[1]),
                blend(p.0[2], o.bg.0[2]),
            ]);
            img.put_pixel(px0 + o.scale + x, py0 + o.scale + y, px);
        }
    }
    Ok(img)
}

/// Renders to PNG bytes (deterministic for the same symbol and options).
///
/// # Errors
/// As [`RenderOptions::check`]; [`Error::Image`] if the PNG encoder fails.
pub fn to_png(symbol: &Symbol, o: &RenderOptions) -> Result<Vec<u8>> {
    let img = to_image(symbol, o)?;
    png_bytes(&img)
}

pub(crate) fn png_bytes(img: &RgbImage) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| Error::Image(e.to_string()))?;
    Ok(out)
}

/// Renders to an SVG document: one path of unit squares merged into runs,
/// in module units scaled by `scale`, crisp at any zoom.
///
/// # Errors
/// As [`RenderOptions::check`]: the options do not fit the symbol.
pub fn to_svg(symbol: &Symbol, o: &RenderOptions) -> Result<String> {
    o.check(symbol)?;
    let (w, h) = o.pixel_size(symbol);
    let q = o.quiet(symbol) as usize;
    let vq = if symbol.height == 1 { 2 } else { q };
    let (mw, mh) = (w / o.scale, h / o.scale);
    let mut d = String::new();
    let rows = o.rows(symbol) as usize;
    if symbol.height == 1 {
        // One vertical bar per run, full height.
        let mut x = 0;
        while x < symbol.width {
            if symbol.get(x, 0) {
                let start = x;
                while x < symbol.width && symbol.get(x, 0) {
                    x += 1;
                }
                let _ = write!(
                    d,
                    "M{} {}h{}v{}h-{}z",
                    start + q,
                    vq,
                    x - start,
                    rows,
                    x - start
                );
            } else {
                x += 1;
            }
        }
    } else {
        for y in 0..symbol.height {
            let mut x = 0;
            while x < symbol.width {
                if symbol.get(x, y) && !under_logo(symbol, o, x, y) {
                    let start = x;
                    while x < symbol.width && symbol.get(x, y) && !under_logo(symbol, o, x, y) {
                        x += 1;
                    }
                    let _ = write!(
                        d,
                        "M{} {}h{}v1h-{}z",
                        start + q,
                        y + vq,
                        x - start,
                        x - start
                    );
                } else {
                    x += 1;
                }
            }
        }
    }
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {mw} {mh}\" shape-rendering=\"crispEdges\">\
         <rect width=\"{mw}\" height=\"{mh}\" fill=\"{}\"/><path fill=\"{}\" d=\"{d}\"/>",
        o.bg.to_hex(),
        o.fg.to_hex()
    );
    if let Some(logo) = &o.logo {
        let (x0, y0, size) = logo_square(symbol, logo.ratio);
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(
                logo.image.as_raw(),
                logo.image.width(),
                logo.image.height(),
                image::ExtendedColorType::Rgba8,
            )
            .map_err(|e| Error::Image(e.to_string()))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
        let _ = write!(
            svg,
            "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" href=\"data:image/png;base64,{b64}\"/>",
            x0 + q + 1,
            y0 + q + 1,
            size.saturating_sub(2).max(1),
            size.saturating_sub(2).max(1)
        );
    }
    svg.push_str("</svg>\n");
    Ok(svg)
}

fn under_logo(symbol: &Symbol, o: &RenderOptions, x: usize, y: usize) -> bool {
    o.logo.as_ref().is_some_and(|l| {
        let (x0, y0, size) = logo_square(symbol, l.ratio);
        (x0..x0 + size).contains(&x) && (y0..y0 + size).contains(&y)
    })
}

/// Renders for a terminal with Unicode half blocks, two module rows per line.
///
/// With `dark_on_light` the dark modules are drawn as ink (for light
/// terminal themes); otherwise the light modules are (dark themes), so the
/// code shows dark-on-light either way.
pub fn to_terminal(symbol: &Symbol, quiet_zone: Option<u32>, dark_on_light: bool) -> String {
    let q = quiet_zone.unwrap_or_else(|| symbol.symbology.default_quiet_zone().min(4)) as isize;
    let rows = if symbol.height == 1 {
        10
    } else {
        symbol.height
    } as isize;
    let vq = if symbol.height == 1 { 1 } else { q };
    let dark = |x: isize, y: isize| -> bool {
        if x < 0 || y < 0 || y >= rows {
            return false;
        }
        let sy = if symbol.height == 1 { 0 } else { y as usize };
        symbol.get(x as usize, sy)
    };
    let ink = |x: isize, y: isize| dark(x, y) == dark_on_light;
    let mut out = String::new();
    let mut y = -vq;
    while y < rows + vq {
        for x in -q..symbol.width as isize + q {
            let (top, bottom) = (ink(x, y), ink(x, y + 1) && y + 1 < rows + vq);
            out.push(match (top, bottom) {
                (true, true) => '█',
                (true, false) => '▀',
                (false, true) => '▄',
                (false, false) => ' ',
            });
        }
        out.push('\n');
        y += 2;
    }
    out
}

/// Raw modules as text, one row per line, `#` dark and `.` light (no quiet zone).
pub fn to_text(symbol: &Symbol) -> String {
    let mut s = String::with_capacity((symbol.width + 1) * symbol.height);
    for y in 0..symbol.height {
        for x in 0..symbol.width {
            s.push(if symbol.get(x, y) { '#' } else { '.' });
        }
        s.push('\n');
    }
    s
}
