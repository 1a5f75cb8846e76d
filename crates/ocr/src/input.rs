//! Decoding document images: PNG, JPEG, TIFF (every page) and PBM/PGM, with limits checked from
//! the header before any pixel is decoded.

use crate::{Error, Result};
use image::{DynamicImage, GrayImage, ImageFormat, ImageReader, RgbImage, RgbaImage};
use std::io::Cursor;

/// Size limits applied to untrusted input.
///
/// Width, height and pixel count are checked against the file's header before decoding, so a
/// small file that declares a huge image is rejected without allocating it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Limits {
    /// Largest accepted input, in bytes (default 64 MiB).
    pub max_bytes: usize,
    /// Largest accepted width (default 20 000).
    pub max_width: u32,
    /// Largest accepted height (default 20 000).
    pub max_height: u32,
    /// Largest accepted width x height of one page (default 100 M pixels).
    pub max_pixels: u64,
    /// Most pages read from a multi-page file (default 500).
    pub max_pages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 64 << 20,
            max_width: 20_000,
            max_height: 20_000,
            max_pixels: 100_000_000,
            max_pages: 500,
        }
    }
}

impl Limits {
    /// The default limits.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets [`Limits::max_bytes`].
    #[must_use]
    pub fn with_max_bytes(mut self, v: usize) -> Self {
        self.max_bytes = v;
        self
    }
    /// Sets [`Limits::max_width`] and [`Limits::max_height`].
    #[must_use]
    pub fn with_max_dimensions(mut self, width: u32, height: u32) -> Self {
        self.max_width = width;
        self.max_height = height;
        self
    }
    /// Sets [`Limits::max_pixels`].
    #[must_use]
    pub fn with_max_pixels(mut self, v: u64) -> Self {
        self.max_pixels = v;
        self
    }
    /// Sets [`Limits::max_pages`].
    #[must_use]
    pub fn with_max_pages(mut self, v: usize) -> Self {
        self.max_pages = v;
        self
    }

    /// Checks declared dimensions against the limits.
    ///
    /// # Errors
    /// [`Error::EmptyImage`] if a dimension is zero; [`Error::DimensionsTooLarge`]
    /// if the width or height is over its limit; [`Error::TooManyPixels`] if
    /// `width * height` is over [`Limits::max_pixels`].
    pub fn check_dimensions(&self, width: u32, height: u32) -> Result<()> {
        if width == 0 || height == 0 {
            return Err(Error::EmptyImage);
        }
        if width > self.max_width || height > self.max_height {
            return Err(Error::DimensionsTooLarge {
                width,
                height,
                max_width: self.max_width,
                max_height: self.max_height,
            });
        }
        let pixels = u64::from(width) * u64::from(height);
        if pixels > self.max_pixels {
            return Err(Error::TooManyPixels {
                pixels,
                max: self.max_pixels,
            });
        }
        Ok(())
    }
}

/// An input format recognised by its magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Format {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// TIFF (little- or big-endian, classic or BigTIFF), possibly multi-page.
    Tiff,
    /// Netpbm: PBM (P1, P4) or PGM (P2, P5); PPM (P3, P6) is accepted too.
    Pnm,
}

impl Format {
    /// The format's name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
            Format::Tiff => "TIFF",
            Format::Pnm => "PNM",
        }
    }
}

/// Recognises the format from the first bytes, or `None`.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    match bytes {
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(Format::Png),
        [0xFF, 0xD8, 0xFF, ..] => Some(Format::Jpeg),
        [b'I', b'I', 42 | 43, 0, ..] | [b'M', b'M', 0, 42 | 43, ..] => Some(Format::Tiff),
        [b'P', b'1'..=b'6', c, ..] if c.is_ascii_whitespace() || *c == b'#' => Some(Format::Pnm),
        _ => None,
    }
}

/// Decodes every page of a document image, enforcing `limits`.
///
/// PNG, JPEG and PNM yield one page; TIFF yields one page per image file directory.
///
/// # Errors
/// - [`Error::TooManyBytes`] if `bytes` are longer than [`Limits::max_bytes`];
/// - [`Error::UnknownFormat`] if the magic bytes are not PNG, JPEG, TIFF or PNM;
/// - as [`Limits::check_dimensions`] for any page's declared size (checked
///   from the header, before its pixels are decoded);
/// - [`Error::TooManyPages`] if a TIFF has more than [`Limits::max_pages`] pages;
/// - [`Error::TooManyPixels`] if a decoder's allocation limit trips;
/// - [`Error::Corrupt`] if the file is damaged or uses a feature of its format
///   this crate does not read (a TIFF colour type other than 1-, 8- or 16-bit
///   gray, gray with alpha, 8- or 16-bit RGB or 8-bit RGBA).
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Vec<DynamicImage>> {
    if bytes.len() > limits.max_bytes {
        return Err(Error::TooManyBytes {
            bytes: bytes.len(),
            max: limits.max_bytes,
        });
    }
    let format = sniff(bytes).ok_or(Error::UnknownFormat)?;
    match format {
        Format::Tiff => decode_tiff(bytes, limits),
        Format::Png => decode_single(bytes, ImageFormat::Png, format, limits).map(|p| vec![p]),
        Format::Jpeg => decode_single(bytes, ImageFormat::Jpeg, format, limits).map(|p| vec![p]),
        Format::Pnm => decode_single(bytes, ImageFormat::Pnm, format, limits).map(|p| vec![p]),
    }
}

/// Reads the dimensions of the first page from the header only.
///
/// # Errors
/// [`Error::UnknownFormat`] if the magic bytes are not PNG, JPEG, TIFF or PNM;
/// [`Error::Corrupt`] if the header does not decode.
pub fn dimensions(bytes: &[u8]) -> Result<(u32, u32)> {
    let format = sniff(bytes).ok_or(Error::UnknownFormat)?;
    if format == Format::Tiff {
        let mut dec = tiff::decoder::Decoder::new(Cursor::new(bytes)).map_err(tiff_err)?;
        return dec.dimensions().map_err(tiff_err);
    }
    let fmt = match format {
        Format::Png => ImageFormat::Png,
        Format::Jpeg => ImageFormat::Jpeg,
        _ => ImageFormat::Pnm,
    };
    ImageReader::with_format(Cursor::new(bytes), fmt)
        .into_dimensions()
        .map_err(|e| corrupt(format, &e))
}

fn corrupt(format: Format, e: &dyn std::fmt::Display) -> Error {
    Error::Corrupt {
        format: format.name(),
        message: e.to_string(),
    }
}

fn decode_single(
    bytes: &[u8],
    fmt: ImageFormat,
    format: Format,
    limits: &Limits,
) -> Result<DynamicImage> {
    // Header first: reject oversized images before allocating them.
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), fmt)
        .into_dimensions()
        .map_err(|e| corrupt(format, &e))?;
    limits.check_dimensions(w, h)?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), fmt);
    let mut il = image::Limits::default();
    il.max_image_width = Some(limits.max_width);
    il.max_image_height = Some(limits.max_height);
    // Eight bytes per pixel covers 16-bit RGBA plus decoder scratch.
    il.max_alloc = Some(limits.max_pixels.saturating_mul(8).max(1 << 20));
    reader.limits(il);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => Error::TooManyPixels {
            pixels: u64::from(w) * u64::from(h),
            max: limits.max_pixels,
        },
        other => corrupt(format, &other),
    })?;
    if img.width() != w || img.height() != h {
        return Err(corrupt(format, &"decoded size differs from header"));
    }
    Ok(img)
}

fn tiff_err(e: tiff::TiffError) -> Error {
    match e {
        tiff::TiffError::LimitsExceeded => Error::Corrupt {
            format: "TIFF",
            message: "decoder limits exceeded".into(),
        },
        other => corrupt(Format::Tiff, &other),
    }
}

fn decode_tiff(bytes: &[u8], limits: &Limits) -> Result<Vec<DynamicImage>> {
    let mut tl = tiff::decoder::Limits::default();
    tl.decoding_buffer_size = usize::try_from(limits.max_pixels.saturating_mul(8))
        .unwrap_or(usize::MAX)
        .max(1 << 20);
    tl.intermediate_buffer_size = tl.decoding_buffer_size;
    let mut dec = tiff::decoder::Decoder::new(Cursor::new(bytes))
        .map_err(tiff_err)?
        .with_limits(tl);
    let mut pages = Vec::new();
    loop {
        if pages.len() == limits.max_pages {
            return Err(Error::TooManyPages {
                max: limits.max_pages,
            });
        }
        let (w, h) = dec.dimensions().map_err(tiff_err)?;
        limits.check_dimensions(w, h)?;
        let color = dec.colortype().map_err(tiff_err)?;
        let data = dec.read_image().map_err(tiff_err)?;
        pages.push(tiff_to_image(w, h, color, data)?);
        if !dec.more_images() {
            break;
        }
        dec.next_image().map_err(tiff_err)?;
    }
    Ok(pages)
}

fn tiff_to_image(
    w: u32,
    h: u32,
    color: tiff::ColorType,
    data: tiff::decoder::DecodingResult,
) -> Result<DynamicImage> {
    use tiff::ColorType as C;
    use tiff::decoder::DecodingResult as D;
    let n = w as usize * h as usize;
    let bad = || corrupt(Format::Tiff, &"pixel data does not match the declared size");
    let img = match (color, data) {
        (C::Gray(1), D::U8(v)) => {
            let stride = (w as usize).div_ceil(8);
            if v.len() < stride * h as usize {
                return Err(bad());
            }
            DynamicImage::ImageLuma8(GrayImage::from_fn(w, h, |x, y| {
                let byte = v[y as usize * stride + x as usize / 8];
                let bit = (byte >> (7 - (x % 8))) & 1;
                image::Luma([if bit == 1 { 255 } else { 0 }])
            }))
        }
        (C::Gray(8), D::U8(v)) => {
            DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, truncate(v, n)?).ok_or_else(bad)?)
        }
        (C::Gray(16), D::U16(v)) => {
            let v: Vec<u8> = truncate(v, n)?.iter().map(|p| (p >> 8) as u8).collect();
            DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, v).ok_or_else(bad)?)
        }
        (C::GrayA(8), D::U8(v)) => {
            let v: Vec<u8> = truncate(v, 2 * n)?.chunks_exact(2).map(|p| p[0]).collect();
            DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, v).ok_or_else(bad)?)
        }
        (C::RGB(8), D::U8(v)) => {
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, truncate(v, 3 * n)?).ok_or_else(bad)?)
        }
        (C::RGB(16), D::U16(v)) => {
            let v: Vec<u8> = truncate(v, 3 * n)?.iter().map(|p| (p >> 8) as u8).collect();
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, v).ok_or_else(bad)?)
        }
        (C::RGBA(8), D::U8(v)) => DynamicImage::ImageRgba8(
            RgbaImage::from_raw(w, h, truncate(v, 4 * n)?).ok_or_else(bad)?,
        ),
        (c, _) => {
            return Err(corrupt(
                Format::Tiff,
                &format!("unsupported colour type {c:?}"),
            ));
        }
    };
    Ok(img)
}

fn truncate<T>(mut v: Vec<T>, n: usize) -> Result<Vec<T>> {
    if v.len() < n {
        return Err(corrupt(
            Format::Tiff,
            &"pixel data does not match the declared size",
        ));
    }
    v.truncate(n);
    Ok(v)
}
