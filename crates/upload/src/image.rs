//! Image headers without decoding: format and dimensions of every image
//! format [`crate::magic::sniff`] recognises (PNG, JPEG, GIF, WebP, BMP,
//! TIFF, HEIF/HEIC and AVIF), decompression-bomb checks by declared pixel
//! count, and metadata stripping for JPEG, PNG, GIF and WebP.
//!
//! The parsers read only headers and segment framing; pixel data is copied
//! verbatim, never decoded. Hostile input gets [`Error::InvalidImage`].
//!
//! # Stripping policy
//! Stripping keeps what a viewer needs to show the same pixels in the same
//! colours, and drops everything else, wherever it appears in the file
//! (an allowlist: a kind of metadata nobody has thought of yet is dropped).
//!
//! - **JPEG**: the whole marker structure is walked to the end of the image,
//!   through the entropy-coded data (stuffed `FF 00`, restart markers, fill
//!   bytes). Kept: the frame, scan, table and restart-interval segments,
//!   APP0 `JFIF` (rewritten without its thumbnail: it only says the pixel
//!   aspect ratio), APP2 `ICC_PROFILE` (the colour profile: without it wide-gamut
//!   photos show wrong colours; a profile can still name the device maker and
//!   model in its description tags) and APP14 `Adobe` (it says whether three
//!   or four components are RGB/YCbCr/CMYK/YCCK). Dropped: every other APPn
//!   (EXIF, XMP, extended XMP, MPF, IPTC/Photoshop, FlashPix, JFXX
//!   thumbnails ...) and COM, also between progressive scans, and everything
//!   after the end-of-image marker (MPO secondary images with their own EXIF,
//!   Motion Photo videos). Markers no mainstream decoder supports (JPG,
//!   JPGn, hierarchical DHP/EXP, reserved) are refused.
//! - **PNG**: kept: the critical chunks and `tRNS`, `gAMA`, `cHRM`, `sRGB`,
//!   `iCCP`, `cICP`, `mDCV`, `cLLI`, `sBIT`, `bKGD`, `pHYs` and the APNG
//!   chunks `acTL`, `fcTL`, `fdAT`; every other ancillary chunk (`tEXt`,
//!   `zTXt`, `iTXt`, `eXIf`, `tIME`, private chunks ...) and anything after
//!   `IEND` is dropped; an unknown critical chunk is refused.
//! - **GIF**: kept: the screen descriptor, palettes, image data, graphic
//!   control extensions and the `NETSCAPE2.0`/`ANIMEXTS1.0` looping
//!   extension; dropped: comment, plain-text and every other application
//!   extension (XMP, ICC, ...) and anything after the trailer.
//! - **WebP**: kept: `VP8X` (its EXIF and XMP flags cleared), `VP8 `,
//!   `VP8L`, `ALPH`, `ANIM`, `ANMF`, `ICCP`; dropped: `EXIF`, `XMP `, unknown
//!   chunks and anything after the RIFF size.
//! - **BMP, TIFF, HEIF/HEIC, AVIF** cannot be stripped: [`strip_metadata`]
//!   refuses them with [`Error::CannotStrip`] rather than publishing them
//!   with their metadata.
//!
//! [`Scanner`] does the same walk on a stream, window by window, keeping only
//! its parser state (at most one 64 KiB JPEG segment), so an upload is
//! stripped without ever being held whole in memory.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// An image format recognised by [`probe`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ImageFormat {
    /// PNG.
    Png,
    /// JPEG (JFIF/EXIF).
    Jpeg,
    /// GIF 87a/89a.
    Gif,
    /// WebP (lossy, lossless or extended).
    WebP,
    /// Windows bitmap.
    Bmp,
    /// TIFF (classic, either byte order).
    Tiff,
    /// HEIF/HEIC (an ISO BMFF container).
    Heif,
    /// AVIF (an ISO BMFF container).
    Avif,
}

impl ImageFormat {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Gif => "gif",
            ImageFormat::WebP => "webp",
            ImageFormat::Bmp => "bmp",
            ImageFormat::Tiff => "tiff",
            ImageFormat::Heif => "heif",
            ImageFormat::Avif => "avif",
        }
    }

    /// The MIME type (the one [`crate::magic::sniff`] gives).
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Gif => "image/gif",
            ImageFormat::WebP => "image/webp",
            ImageFormat::Bmp => "image/bmp",
            ImageFormat::Tiff => "image/tiff",
            ImageFormat::Heif => "image/heic",
            ImageFormat::Avif => "image/avif",
        }
    }

    /// Whether [`strip_metadata`] and [`Scanner`] handle the format (JPEG,
    /// PNG, GIF and WebP).
    pub fn can_strip(self) -> bool {
        matches!(
            self,
            ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP
        )
    }
}

/// What the headers declare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// The format.
    pub format: ImageFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl ImageInfo {
    /// Declared pixel count.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }

    /// Rejects an image declaring more than `limit` pixels.
    ///
    /// # Errors
    /// [`Error::ImageTooLarge`] if `width * height` is over `limit`.
    pub fn check_pixels(&self, limit: u64) -> Result<()> {
        if self.pixels() > limit {
            return Err(Error::ImageTooLarge {
                width: self.width,
                height: self.height,
                limit,
            });
        }
        Ok(())
    }
}

/// The reason given when headers end early; a caller holding only a prefix of
/// the file can tell "need more bytes" from "malformed" with [`is_truncated`].
pub const TRUNCATED: &str = "truncated";

/// Whether `e` says the headers were cut short.
pub fn is_truncated(e: &Error) -> bool {
    matches!(e, Error::InvalidImage { reason, .. } if *reason == TRUNCATED)
}

/// Whether `data` starts like a Windows bitmap: `BM`, then a DIB header size
/// one of the known ones (needs 18 bytes). A bare `BM` is too weak a
/// signature: plenty of text starts with it.
pub(crate) fn is_bmp(data: &[u8]) -> bool {
    data.len() >= 18
        && data.starts_with(b"BM")
        && matches!(le32(data, 14), 12 | 40 | 52 | 56 | 64 | 108 | 124)
}

/// The format by signature, if it is one of ours. Agrees with
/// [`crate::magic::sniff`]: every `image/*` type it gives has a format here.
pub fn format_of(data: &[u8]) -> Option<ImageFormat> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if data.starts_with(b"\xFF\xD8\xFF") {
        Some(ImageFormat::Jpeg)
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some(ImageFormat::Gif)
    } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
    } else if data.starts_with(b"II*\0") || data.starts_with(b"MM\0*") {
        Some(ImageFormat::Tiff)
    } else if is_bmp(data) {
        Some(ImageFormat::Bmp)
    } else if data.get(4..8) == Some(b"ftyp") {
        match data.get(8..12) {
            Some(b"avif" | b"avis") => Some(ImageFormat::Avif),
            Some(b"heic" | b"heix" | b"mif1" | b"msf1") => Some(ImageFormat::Heif),
            _ => None,
        }
    } else {
        None
    }
}

fn bad(format: ImageFormat, reason: &'static str) -> Error {
    Error::InvalidImage {
        format: format.name(),
        reason,
    }
}

fn be16(d: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([d[i], d[i + 1]])
}
fn le16(d: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([d[i], d[i + 1]])
}
fn be32(d: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]])
}
fn le32(d: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]])
}
fn le24(d: &[u8], i: usize) -> u32 {
    u32::from_le_bytes([d[i], d[i + 1], d[i + 2], 0])
}

/// Reads format and dimensions from the headers.
///
/// `Ok(None)` if `data` is none of the formats of [`ImageFormat`]. A prefix
/// of a file is enough when it holds the headers; otherwise the error says
/// [`TRUNCATED`]. A multi-page TIFF reports its first page, a HEIF/AVIF file
/// its largest image extent (`ispe`); [`crate::Uploads`] checks the pixel
/// limit against the largest page or frame the file declares.
///
/// ```
/// use blocksmith_upload::image::{probe, ImageFormat};
/// let gif = b"GIF89a\x40\x01\xf0\x00\x00\x00\x00;";
/// let info = probe(gif).unwrap().unwrap();
/// assert_eq!((info.format, info.width, info.height), (ImageFormat::Gif, 320, 240));
/// ```
///
/// # Errors
/// [`Error::InvalidImage`] if the headers are malformed, or end early (the
/// reason is then [`TRUNCATED`], see [`is_truncated`]).
pub fn probe(data: &[u8]) -> Result<Option<ImageInfo>> {
    Ok(probe_all(data)?.map(|p| p.info))
}

/// What [`probe_all`] found: the image's dimensions and those of the largest
/// page or frame declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Probed {
    pub(crate) info: ImageInfo,
    pub(crate) largest: ImageInfo,
}

impl Probed {
    pub(crate) fn check(&self, limit: u64) -> Result<()> {
        self.info.check_pixels(limit)?;
        self.largest.check_pixels(limit)
    }
}

/// [`probe`], with the largest page of a TIFF.
pub(crate) fn probe_all(data: &[u8]) -> Result<Option<Probed>> {
    let Some(format) = format_of(data) else {
        return Ok(None);
    };
    let (first, largest) = match format {
        ImageFormat::Png => png_dims(data).map(|d| (d, d))?,
        ImageFormat::Gif => {
            if data.len() < 10 {
                return Err(bad(format, TRUNCATED));
            }
            let d = (u32::from(le16(data, 6)), u32::from(le16(data, 8)));
            (d, d)
        }
        ImageFormat::Jpeg => jpeg_dims(data).map(|d| (d, d))?,
        ImageFormat::WebP => webp_dims(data).map(|d| (d, d))?,
        ImageFormat::Bmp => bmp_dims(data).map(|d| (d, d))?,
        ImageFormat::Tiff => tiff_dims(data)?,
        ImageFormat::Heif | ImageFormat::Avif => heif_dims(data, format).map(|d| (d, d))?,
    };
    let info = |(width, height): (u32, u32)| ImageInfo {
        format,
        width,
        height,
    };
    if first.0 == 0 || first.1 == 0 {
        return Err(bad(format, "zero width or height"));
    }
    Ok(Some(Probed {
        info: info(first),
        largest: info(largest),
    }))
}

fn png_dims(d: &[u8]) -> Result<(u32, u32)> {
    let f = ImageFormat::Png;
    if d.len() < 24 {
        return Err(bad(f, TRUNCATED));
    }
    if &d[12..16] != b"IHDR" || be32(d, 8) != 13 {
        return Err(bad(f, "first chunk is not IHDR"));
    }
    let (w, h) = (be32(d, 16), be32(d, 20));
    if w > i32::MAX as u32 || h > i32::MAX as u32 {
        return Err(bad(f, "dimension above 2^31-1"));
    }
    Ok((w, h))
}

fn jpeg_dims(d: &[u8]) -> Result<(u32, u32)> {
    let mut j = Jpeg::default();
    j.feed(Mode::Probe, d, &mut Vec::new())?;
    j.frame.ok_or_else(|| bad(ImageFormat::Jpeg, TRUNCATED))
}

/// Dimensions from the start of a WebP's first chunk (`body`, as much of it
/// as there is, of `size` bytes).
fn webp_chunk_dims(kind: &[u8], size: u32, body: &[u8]) -> Result<(u32, u32)> {
    let f = ImageFormat::WebP;
    let need = |n: u32| {
        if size < n {
            Err(bad(f, "first chunk too short"))
        } else if body.len() < n as usize {
            Err(bad(f, TRUNCATED))
        } else {
            Ok(())
        }
    };
    match kind {
        b"VP8 " => {
            need(10)?;
            if body[3..6] != [0x9D, 0x01, 0x2A] {
                return Err(bad(f, "bad VP8 start code"));
            }
            Ok((
                u32::from(le16(body, 6) & 0x3FFF),
                u32::from(le16(body, 8) & 0x3FFF),
            ))
        }
        b"VP8L" => {
            need(5)?;
            if body[0] != 0x2F {
                return Err(bad(f, "bad VP8L signature"));
            }
            let bits = le32(body, 1);
            Ok(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => {
            need(10)?;
            Ok((le24(body, 4) + 1, le24(body, 7) + 1))
        }
        _ => Err(bad(f, "unknown first chunk")),
    }
}

fn webp_dims(d: &[u8]) -> Result<(u32, u32)> {
    let f = ImageFormat::WebP;
    if d.len() < 20 {
        return Err(bad(f, TRUNCATED));
    }
    // The dimensions must lie inside the first chunk, as it declares itself.
    webp_chunk_dims(&d[12..16], le32(d, 16), &d[20..d.len().min(30)])
}

fn bmp_dims(d: &[u8]) -> Result<(u32, u32)> {
    let f = ImageFormat::Bmp;
    if d.len() < 18 {
        return Err(bad(f, TRUNCATED));
    }
    if le32(d, 14) == 12 {
        // OS/2 BITMAPCOREHEADER: 16-bit unsigned dimensions.
        if d.len() < 22 {
            return Err(bad(f, TRUNCATED));
        }
        return Ok((u32::from(le16(d, 18)), u32::from(le16(d, 20))));
    }
    if d.len() < 26 {
        return Err(bad(f, TRUNCATED));
    }
    let w = le32(d, 18) as i32;
    let h = le32(d, 22) as i32; // negative: rows stored top-down
    if w <= 0 {
        return Err(bad(f, "width not positive"));
    }
    Ok((w as u32, h.unsigned_abs()))
}

/// Most pages a TIFF may have (each is checked against the pixel limit).
const MAX_TIFF_PAGES: usize = 1024;

/// The first page's dimensions and the largest page's.
fn tiff_dims(d: &[u8]) -> Result<((u32, u32), (u32, u32))> {
    let f = ImageFormat::Tiff;
    let need = |n: usize| {
        if n > d.len() {
            Err(bad(f, TRUNCATED))
        } else {
            Ok(())
        }
    };
    need(8)?;
    let le = d[0] == b'I';
    let r16 = |i: usize| if le { le16(d, i) } else { be16(d, i) };
    let r32 = |i: usize| if le { le32(d, i) } else { be32(d, i) };
    let mut off = r32(4) as usize;
    let mut seen: Vec<usize> = Vec::new();
    let (mut first, mut largest) = (None, (0u32, 0u32));
    while off != 0 {
        if off < 8 {
            return Err(bad(f, "directory offset inside the header"));
        }
        if seen.contains(&off) {
            return Err(bad(f, "directories form a loop"));
        }
        if seen.len() >= MAX_TIFF_PAGES {
            return Err(bad(f, "more than 1024 pages"));
        }
        seen.push(off);
        need(off + 2)?;
        let n = usize::from(r16(off));
        let end = off + 2 + 12 * n;
        need(end + 4)?;
        let (mut w, mut h) = (None, None);
        for e in 0..n {
            let at = off + 2 + 12 * e;
            let value = match r16(at + 2) {
                3 if r32(at + 4) == 1 => u32::from(r16(at + 8)),
                4 if r32(at + 4) == 1 => r32(at + 8),
                _ => continue,
            };
            match r16(at) {
                256 => w = Some(value),
                257 => h = Some(value),
                _ => {}
            }
        }
        let (Some(w), Some(h)) = (w, h) else {
            return Err(bad(f, "a page without width and height"));
        };
        if w == 0 || h == 0 {
            return Err(bad(f, "zero width or height"));
        }
        first.get_or_insert((w, h));
        if u64::from(w) * u64::from(h) > u64::from(largest.0) * u64::from(largest.1) {
            largest = (w, h);
        }
        off = r32(end) as usize;
    }
    let first = first.ok_or_else(|| bad(f, "no pages"))?;
    Ok((first, largest))
}

/// The boxes of an ISO BMFF container between `start` and `end`: type, body
/// start, end. A box that reaches past `d` is cut short ([`TRUNCATED`]) only
/// if it is needed; `end` past `d` is fine at the top level.
fn bmff_boxes(
    d: &[u8],
    f: ImageFormat,
    start: usize,
    end: usize,
) -> impl Iterator<Item = Result<([u8; 4], usize, usize)>> + '_ {
    let mut i = start;
    std::iter::from_fn(move || {
        if i >= end {
            return None;
        }
        if i + 8 > d.len() {
            i = end;
            return Some(Err(bad(f, TRUNCATED)));
        }
        let size = u64::from(be32(d, i));
        let kind = [d[i + 4], d[i + 5], d[i + 6], d[i + 7]];
        let (header, size) = match size {
            0 => (8, (end - i) as u64),
            1 => {
                if i + 16 > d.len() {
                    i = end;
                    return Some(Err(bad(f, TRUNCATED)));
                }
                let large = u64::from(be32(d, i + 8)) << 32 | u64::from(be32(d, i + 12));
                (16, large)
            }
            s => (8, s),
        };
        if size < header as u64 {
            i = end;
            return Some(Err(bad(f, "box smaller than its header")));
        }
        let box_end = usize::try_from(size)
            .ok()
            .and_then(|s| i.checked_add(s))
            .filter(|&e| e <= end);
        let Some(box_end) = box_end else {
            i = end;
            return Some(Err(bad(f, "box reaches past its parent")));
        };
        let item = (kind, i + header, box_end);
        i = box_end;
        Some(Ok(item))
    })
}

/// The largest image spatial extent (`ispe`) in `meta/iprp/ipco`.
fn heif_dims(d: &[u8], f: ImageFormat) -> Result<(u32, u32)> {
    let find = |start: usize, end: usize, kind: &[u8; 4]| -> Result<(usize, usize)> {
        for b in bmff_boxes(d, f, start, end) {
            let (k, body, box_end) = b?;
            if &k == kind {
                if box_end > d.len() {
                    return Err(bad(f, TRUNCATED));
                }
                return Ok((body, box_end));
            }
        }
        Err(bad(f, "no image properties"))
    };
    // Top-level boxes may run past what we hold (an `mdat` before `meta`).
    let (meta, meta_end) = find(0, usize::MAX, b"meta")?;
    let (iprp, iprp_end) = find(meta + 4, meta_end, b"iprp")?; // meta is a full box
    let (ipco, ipco_end) = find(iprp, iprp_end, b"ipco")?;
    let mut largest: Option<(u32, u32)> = None;
    for b in bmff_boxes(d, f, ipco, ipco_end) {
        let (kind, body, end) = b?;
        if &kind == b"ispe" {
            if end < body + 12 {
                return Err(bad(f, "short ispe box"));
            }
            let (w, h) = (be32(d, body + 4), be32(d, body + 8));
            if w == 0 || h == 0 {
                return Err(bad(f, "zero width or height"));
            }
            if largest
                .is_none_or(|(lw, lh)| u64::from(w) * u64::from(h) > u64::from(lw) * u64::from(lh))
            {
                largest = Some((w, h));
            }
        }
    }
    largest.ok_or_else(|| bad(f, "no image spatial extents (ispe)"))
}

/// What [`strip_metadata`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stripped {
    /// Segments or chunks removed (a trailer after the end of the image
    /// counts as one).
    pub removed: usize,
    /// Bytes removed.
    pub bytes: usize,
}

/// Removes metadata by the [module's policy](self#stripping-policy).
///
/// Returns `Ok(None)` for data that is not an image; a BMP, TIFF, HEIF or
/// AVIF image is refused with [`Error::CannotStrip`].
///
/// ```
/// use blocksmith_upload::image::strip_metadata;
/// let mut jpeg = b"\xFF\xD8\xFF\xFE\x00\x08secret".to_vec(); // a comment
/// jpeg.extend_from_slice(b"\xFF\xC0\x00\x0B\x08\x00\x01\x00\x01\x01\x01\x11\x00");
/// jpeg.extend_from_slice(b"\xFF\xDA\x00\x08\x01\x01\x00\x00\x3F\x00\x12\x34\xFF\xD9");
/// jpeg.extend_from_slice(b"trailing second image");
/// let (out, stripped) = strip_metadata(&jpeg).unwrap().unwrap();
/// assert_eq!(stripped.removed, 2);
/// assert!(out.ends_with(b"\xFF\xD9") && !out.windows(6).any(|w| w == b"secret"));
/// ```
///
/// # Errors
/// [`Error::CannotStrip`] for a BMP, TIFF, HEIF or AVIF image;
/// [`Error::InvalidImage`] if the image is malformed or cut short, or uses a
/// marker mainstream decoders refuse (see the stripping policy).
pub fn strip_metadata(data: &[u8]) -> Result<Option<(Vec<u8>, Stripped)>> {
    let Some(format) = format_of(data) else {
        return Ok(None);
    };
    let Some(mut scanner) = Scanner::new(format, true) else {
        return Err(Error::CannotStrip {
            format: format.name(),
        });
    };
    probe(data)?; // headers must be sound
    let mut out = Vec::with_capacity(data.len());
    scanner.feed(data, &mut out)?;
    let done = scanner.finish()?;
    if !done.prefix.is_empty() {
        out.splice(0..0, done.prefix);
    }
    Ok(Some((out, done.stripped)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Stop at the first frame header (dimensions only).
    Probe,
    /// Walk the whole image, checking every frame header; emit nothing.
    Check,
    /// Walk the whole image and emit it without its metadata.
    Strip,
}

/// A streaming walk over a JPEG, PNG, GIF or WebP image: fed the file window
/// by window, in order, it checks the structure and every frame header and,
/// when stripping, emits the file without its metadata (the [module's
/// policy](self#stripping-policy)). It holds only its parser state, at most
/// one JPEG marker segment (64 KiB).
///
/// ```
/// use blocksmith_upload::image::{ImageFormat, Scanner};
/// let mut gif = b"GIF89a\x02\x00\x01\x00\x00\x00\x00".to_vec();
/// gif.extend_from_slice(b"\x21\xFE\x03abc\x00"); // a comment
/// gif.extend_from_slice(b"\x2C\0\0\0\0\x02\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3B");
/// let mut scanner = Scanner::new(ImageFormat::Gif, true).unwrap();
/// let mut out = Vec::new();
/// for window in gif.chunks(3) {
///     scanner.feed(window, &mut out).unwrap();
/// }
/// let done = scanner.finish().unwrap();
/// assert_eq!((done.info.width, done.stripped.removed), (2, 1));
/// assert_eq!(out.len(), gif.len() - 7);
/// ```
#[derive(Debug)]
pub struct Scanner {
    format: ImageFormat,
    mode: Mode,
    state: Walk,
    read: u64,
    written: u64,
}

#[derive(Debug)]
enum Walk {
    Jpeg(Jpeg),
    Png(Png),
    Gif(Gif),
    WebP(WebP),
}

/// What a [`Scanner`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Scanned {
    /// The image's format and dimensions.
    pub info: ImageInfo,
    /// The largest frame the image declares (a GIF frame may be larger than
    /// its screen); the pixel limit applies to it too.
    pub largest: ImageInfo,
    /// Bytes that go before everything emitted (the WebP RIFF header, whose
    /// size is known only at the end); empty for the other formats.
    pub prefix: Vec<u8>,
    /// What was removed (zero when not stripping).
    pub stripped: Stripped,
}

impl Scanner {
    /// A scanner for `format`, stripping metadata if `strip`; `None` for a
    /// format it cannot walk (see [`ImageFormat::can_strip`]).
    pub fn new(format: ImageFormat, strip: bool) -> Option<Self> {
        let state = match format {
            ImageFormat::Jpeg => Walk::Jpeg(Jpeg::default()),
            ImageFormat::Png => Walk::Png(Png::default()),
            ImageFormat::Gif => Walk::Gif(Gif::default()),
            ImageFormat::WebP => Walk::WebP(WebP::default()),
            _ => return None,
        };
        Some(Scanner {
            format,
            mode: if strip { Mode::Strip } else { Mode::Check },
            state,
            read: 0,
            written: 0,
        })
    }

    /// The format.
    pub fn format(&self) -> ImageFormat {
        self.format
    }

    /// Feeds the next bytes of the file; when stripping, appends what is kept
    /// to `out`.
    ///
    /// # Errors
    /// [`Error::InvalidImage`] if the bytes so far are not a well-formed image of
    /// the format.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let before = out.len();
        let mode = self.mode;
        match &mut self.state {
            Walk::Jpeg(j) => j.feed(mode, input, out)?,
            Walk::Png(p) => p.feed(mode, input, out)?,
            Walk::Gif(g) => g.feed(mode, input, out)?,
            Walk::WebP(w) => w.feed(mode, input, out)?,
        }
        self.read += input.len() as u64;
        self.written += (out.len() - before) as u64;
        Ok(())
    }

    /// Ends the walk: checks that the image is complete enough (every
    /// header, and when stripping no segment cut short) and returns what it
    /// declares, with the [`Scanned::prefix`] that goes before the output.
    ///
    /// # Errors
    /// [`Error::InvalidImage`] if the image ended before its headers, or, when
    /// stripping, inside a segment, or declares a zero width or height.
    pub fn finish(self) -> Result<Scanned> {
        let f = self.format;
        let strip = self.mode == Mode::Strip;
        let (first, largest, removed, prefix) = match self.state {
            Walk::Jpeg(j) => {
                let frame = j.finish(strip)?;
                (frame, frame, j.removed + usize::from(j.junk), Vec::new())
            }
            Walk::Png(p) => {
                let dims = p.finish(strip)?;
                (dims, dims, p.removed, Vec::new())
            }
            Walk::Gif(g) => {
                let (screen, largest) = g.finish(strip)?;
                (screen, largest, g.removed, Vec::new())
            }
            Walk::WebP(w) => {
                let removed = w.removed;
                let (dims, prefix) = w.finish(strip, self.written)?;
                (dims, dims, removed, prefix)
            }
        };
        if first.0 == 0 || first.1 == 0 {
            return Err(bad(f, "zero width or height"));
        }
        let info = |(width, height): (u32, u32)| ImageInfo {
            format: f,
            width,
            height,
        };
        let kept = self.written + prefix.len() as u64;
        Ok(Scanned {
            info: info(first),
            largest: info(largest),
            prefix,
            stripped: if strip {
                Stripped {
                    removed,
                    bytes: self.read.saturating_sub(kept) as usize,
                }
            } else {
                Stripped::default()
            },
        })
    }
}

// ---------------------------------------------------------------- JPEG

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum JState {
    /// Bytes of the SOI marker seen.
    #[default]
    Soi0,
    Soi1,
    /// Between segments: a 0xFF comes next.
    Marker,
    /// After one or more 0xFF: fill bytes or the marker code.
    Code,
    /// The segment length of `marker`, high byte seen or not.
    Len(u8, Option<u8>),
    /// Collecting the body of `marker`: bytes left.
    Body(u8, usize),
    /// Entropy-coded data of a scan.
    Entropy,
    /// `n` 0xFF bytes inside entropy-coded data: a stuffed 0xFF, a restart
    /// marker or the end of the scan comes next.
    EntropyFf(usize),
    /// After EOI (or the first frame header when probing).
    Done,
}

#[derive(Debug, Default)]
struct Jpeg {
    state: JState,
    /// The body of the segment being collected (at most 65 533 bytes).
    seg: Vec<u8>,
    frame: Option<(u32, u32)>,
    scans: u64,
    removed: usize,
    trailer: bool,
    /// Extraneous bytes were skipped (counted once as removed).
    junk: bool,
}

fn is_sof(m: u8) -> bool {
    matches!(m, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF)
}

impl Jpeg {
    fn feed(&mut self, mode: Mode, d: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let fmt = ImageFormat::Jpeg;
        let strip = mode == Mode::Strip;
        let mut i = 0;
        while i < d.len() {
            match self.state {
                JState::Soi0 | JState::Soi1 => {
                    let want = if self.state == JState::Soi0 {
                        0xFF
                    } else {
                        0xD8
                    };
                    if d[i] != want {
                        return Err(bad(fmt, "no start-of-image marker"));
                    }
                    if strip {
                        out.push(d[i]);
                    }
                    i += 1;
                    self.state = if self.state == JState::Soi0 {
                        JState::Soi1
                    } else {
                        JState::Marker
                    };
                }
                JState::Marker => {
                    if d[i] == 0xFF {
                        i += 1;
                        self.state = JState::Code;
                    } else if self.scans > 0 {
                        // Extraneous bytes before a marker: decoders skip
                        // them to the next 0xFF (libjpeg with a warning), so
                        // the walk does too, and stripping drops them.
                        let skip = d[i..].iter().position(|&b| b == 0xFF);
                        i = skip.map_or(d.len(), |p| i + p);
                        self.junk = true;
                    } else {
                        return Err(bad(fmt, "expected a marker"));
                    }
                }
                JState::Code => {
                    let m = d[i];
                    i += 1;
                    if m != 0xFF {
                        // Any number of fill bytes may precede a marker.
                        self.marker(mode, m, out)?;
                    }
                }
                JState::Len(m, None) => {
                    self.state = JState::Len(m, Some(d[i]));
                    i += 1;
                }
                JState::Len(m, Some(hi)) => {
                    let len = usize::from(u16::from_be_bytes([hi, d[i]]));
                    i += 1;
                    if len < 2 {
                        return Err(bad(fmt, "segment length below 2"));
                    }
                    self.seg.clear();
                    self.state = JState::Body(m, len - 2);
                    if len == 2 {
                        self.segment(mode, m, out)?;
                    }
                }
                JState::Body(m, left) => {
                    let take = left.min(d.len() - i);
                    self.seg.extend_from_slice(&d[i..i + take]);
                    i += take;
                    if take == left {
                        self.segment(mode, m, out)?;
                    } else {
                        self.state = JState::Body(m, left - take);
                    }
                }
                JState::Entropy => {
                    let rest = &d[i..];
                    if let Some(p) = rest.iter().position(|&b| b == 0xFF) {
                        if strip {
                            out.extend_from_slice(&rest[..p]);
                        }
                        i += p + 1;
                        self.state = JState::EntropyFf(1);
                    } else {
                        if strip {
                            out.extend_from_slice(rest);
                        }
                        i = d.len();
                    }
                }
                JState::EntropyFf(n) => {
                    let b = d[i];
                    i += 1;
                    match b {
                        0xFF => self.state = JState::EntropyFf(n + 1),
                        // A stuffed 0xFF or a restart marker: still the scan.
                        0x00 | 0xD0..=0xD7 => {
                            if strip {
                                out.extend(std::iter::repeat_n(0xFF, n));
                                out.push(b);
                            }
                            self.state = JState::Entropy;
                        }
                        // The end of the scan; the run's extra 0xFF are fill.
                        m => self.marker(mode, m, out)?,
                    }
                }
                JState::Done => {
                    if mode != Mode::Probe && !self.trailer {
                        self.trailer = true;
                        self.removed += 1;
                    }
                    i = d.len();
                }
            }
        }
        Ok(())
    }

    /// A marker code after 0xFF (and any fill bytes).
    fn marker(&mut self, mode: Mode, m: u8, out: &mut Vec<u8>) -> Result<()> {
        let fmt = ImageFormat::Jpeg;
        match m {
            0xD8 => Err(bad(fmt, "unexpected start-of-image marker")),
            0x00 => Err(bad(fmt, "stuffed byte outside a scan")),
            0xD9 if self.scans == 0 => Err(bad(fmt, "end of image before any scan")),
            0xD9 => {
                if mode == Mode::Strip {
                    out.extend_from_slice(&[0xFF, 0xD9]);
                }
                self.state = JState::Done;
                Ok(())
            }
            // Standalone markers between segments (RSTn, TEM): harmless.
            0x01 | 0xD0..=0xD7 => {
                if mode == Mode::Strip {
                    out.extend_from_slice(&[0xFF, m]);
                }
                self.state = JState::Marker;
                Ok(())
            }
            _ => {
                self.state = JState::Len(m, None);
                Ok(())
            }
        }
    }

    /// A whole marker segment, its body in `self.seg`.
    fn segment(&mut self, mode: Mode, m: u8, out: &mut Vec<u8>) -> Result<()> {
        let fmt = ImageFormat::Jpeg;
        self.state = JState::Marker;
        let body = &self.seg;
        let mut jfif = [0u8; 14];
        let keep: Option<&[u8]> = match m {
            _ if is_sof(m) => {
                // precision(1) height(2) width(2) components(1) ...
                if body.len() < 6 {
                    return Err(bad(fmt, "short frame header"));
                }
                if self.frame.is_some() {
                    return Err(bad(fmt, "more than one frame header"));
                }
                let (h, w) = (be16(body, 1), be16(body, 3));
                if h == 0 {
                    // The height would come in a DNL marker after the first
                    // scan: libjpeg refuses this too, and it must not pass
                    // the pixel limit as a zero-pixel image.
                    return Err(bad(fmt, "frame height left to a DNL marker"));
                }
                if w == 0 {
                    return Err(bad(fmt, "zero width or height"));
                }
                self.frame = Some((u32::from(w), u32::from(h)));
                if mode == Mode::Probe {
                    self.state = JState::Done;
                }
                Some(body)
            }
            0xDA => {
                if self.frame.is_none() {
                    return Err(bad(fmt, "no frame header before the scan"));
                }
                self.scans += 1;
                self.state = JState::Entropy;
                Some(body)
            }
            // DHT, DAC, DQT, DNL, DRI: tables and structure.
            0xC4 | 0xCC | 0xDB | 0xDC | 0xDD => Some(body),
            0xE0 if body.len() >= 14 && body.starts_with(b"JFIF\0") => {
                // Version, units and density, without the thumbnail.
                jfif[..12].copy_from_slice(&body[..12]);
                if body.len() > 14 || body[12] != 0 || body[13] != 0 {
                    self.removed += 1;
                }
                Some(&jfif[..])
            }
            0xE2 if body.starts_with(b"ICC_PROFILE\0") => Some(body),
            0xEE if body.starts_with(b"Adobe") => Some(body),
            0xE0..=0xEF | 0xFE => {
                self.removed += 1;
                None
            }
            _ if mode == Mode::Strip => {
                return Err(bad(fmt, "unsupported marker"));
            }
            _ => None,
        };
        if mode == Mode::Strip
            && let Some(b) = keep
        {
            out.extend_from_slice(&[0xFF, m]);
            out.extend_from_slice(&((b.len() + 2) as u16).to_be_bytes());
            out.extend_from_slice(b);
        }
        Ok(())
    }

    fn finish(&self, strip: bool) -> Result<(u32, u32)> {
        let fmt = ImageFormat::Jpeg;
        let frame = self.frame.ok_or_else(|| bad(fmt, TRUNCATED))?;
        if strip {
            // An image cut short in its entropy-coded data still decodes (the
            // rest shows grey), as it would have before stripping; a marker
            // segment cut short does not.
            let ok = self.scans > 0
                && matches!(
                    self.state,
                    JState::Done | JState::Entropy | JState::EntropyFf(_) | JState::Marker
                );
            if !ok {
                return Err(bad(fmt, TRUNCATED));
            }
        }
        Ok(frame)
    }
}

// ---------------------------------------------------------------- PNG

/// Ancillary chunks kept: colour, transparency, pixel size, animation.
const PNG_KEEP: [&[u8; 4]; 14] = [
    b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"cICP", b"mDCV", b"cLLI", b"sBIT", b"bKGD",
    b"pHYs", b"acTL", b"fcTL", b"fdAT",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum PState {
    /// Bytes of the signature seen.
    #[default]
    Signature,
    /// Collecting a chunk's length and type.
    Head,
    /// A chunk's data and CRC: bytes left, kept or not.
    Body(u64, bool),
    /// After IEND.
    Done,
}

#[derive(Debug, Default)]
struct Png {
    state: PState,
    buf: Vec<u8>,
    /// The IHDR chunk being collected.
    ihdr: bool,
    dims: Option<(u32, u32)>,
    removed: usize,
    trailer: bool,
}

impl Png {
    fn feed(&mut self, mode: Mode, d: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let f = ImageFormat::Png;
        let strip = mode == Mode::Strip;
        let mut i = 0;
        while i < d.len() {
            match self.state {
                PState::Signature | PState::Head => {
                    let take = (8 - self.buf.len()).min(d.len() - i);
                    self.buf.extend_from_slice(&d[i..i + take]);
                    i += take;
                    if self.buf.len() < 8 {
                        continue;
                    }
                    if self.state == PState::Signature {
                        if self.buf != b"\x89PNG\r\n\x1a\n" {
                            return Err(bad(f, "bad signature"));
                        }
                        if strip {
                            out.extend_from_slice(&self.buf);
                        }
                        self.buf.clear();
                        self.state = PState::Head;
                        continue;
                    }
                    let len = be32(&self.buf, 0);
                    let kind: [u8; 4] = self.buf[4..8].try_into().expect("four bytes");
                    if len > i32::MAX as u32 {
                        return Err(bad(f, "chunk length above 2^31-1"));
                    }
                    if !kind.iter().all(u8::is_ascii_alphabetic) {
                        return Err(bad(f, "bad chunk type"));
                    }
                    let first = self.dims.is_none();
                    if first != (&kind == b"IHDR") {
                        return Err(bad(
                            f,
                            if first {
                                "first chunk is not IHDR"
                            } else {
                                "more than one IHDR"
                            },
                        ));
                    }
                    let critical = kind[0].is_ascii_uppercase();
                    let keep = if critical {
                        if !matches!(&kind, b"IHDR" | b"PLTE" | b"IDAT" | b"IEND") && strip {
                            return Err(bad(f, "unknown critical chunk"));
                        }
                        true
                    } else {
                        PNG_KEEP.contains(&&kind)
                    };
                    if strip && keep {
                        out.extend_from_slice(&self.buf);
                    }
                    if !keep {
                        self.removed += 1;
                    }
                    self.ihdr = first;
                    if first && len != 13 {
                        return Err(bad(f, "first chunk is not IHDR"));
                    }
                    if &kind == b"IEND" {
                        // Its CRC follows; then the image ends.
                        self.buf.clear();
                        self.buf.extend_from_slice(b"IEND");
                    } else {
                        self.buf.clear();
                    }
                    self.state = PState::Body(u64::from(len) + 4, keep);
                }
                PState::Body(left, keep) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(d.len() - i);
                    if strip && keep {
                        out.extend_from_slice(&d[i..i + take]);
                    }
                    if self.ihdr {
                        self.buf.extend_from_slice(&d[i..i + take]);
                    }
                    i += take;
                    let left = left - take as u64;
                    if left > 0 {
                        self.state = PState::Body(left, keep);
                        continue;
                    }
                    if self.ihdr {
                        let (w, h) = (be32(&self.buf, 0), be32(&self.buf, 4));
                        if w > i32::MAX as u32 || h > i32::MAX as u32 {
                            return Err(bad(f, "dimension above 2^31-1"));
                        }
                        self.dims = Some((w, h));
                        self.ihdr = false;
                    }
                    let end = self.buf == b"IEND";
                    self.buf.clear();
                    self.state = if end { PState::Done } else { PState::Head };
                }
                PState::Done => {
                    if !self.trailer {
                        self.trailer = true;
                        self.removed += 1;
                    }
                    i = d.len();
                }
            }
        }
        Ok(())
    }

    fn finish(&self, strip: bool) -> Result<(u32, u32)> {
        let dims = self.dims.ok_or_else(|| bad(ImageFormat::Png, TRUNCATED))?;
        if strip && self.state != PState::Done {
            return Err(bad(ImageFormat::Png, TRUNCATED));
        }
        Ok(dims)
    }
}

// ---------------------------------------------------------------- GIF

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum GState {
    /// Collecting the 13-byte header and screen descriptor.
    #[default]
    Header,
    /// A colour table: bytes left, and whether image data follows.
    Table(usize, bool),
    /// A block introducer comes next.
    Block,
    /// The label of an extension comes next.
    Label,
    /// Collecting the first sub-block of an application extension.
    AppId,
    /// Collecting an image descriptor.
    Descriptor,
    /// The LZW minimum code size.
    LzwMin,
    /// A sub-block length byte (kept or not).
    SubLen(bool),
    /// Sub-block data: bytes left, kept or not.
    SubData(usize, bool),
    /// After the trailer.
    Done,
}

#[derive(Debug, Default)]
struct Gif {
    state: GState,
    buf: Vec<u8>,
    screen: Option<(u32, u32)>,
    largest: (u32, u32),
    removed: usize,
    trailer: bool,
}

impl GState {
    /// A colour table of `left` bytes, or what follows it if it is empty.
    fn table(left: usize, image: bool) -> Self {
        match (left, image) {
            (0, true) => GState::LzwMin,
            (0, false) => GState::Block,
            _ => GState::Table(left, image),
        }
    }
}

fn table_size(flags: u8) -> usize {
    if flags & 0x80 != 0 {
        3 << ((flags & 7) + 1)
    } else {
        0
    }
}

impl Gif {
    fn grow(&mut self, w: u32, h: u32) {
        if u64::from(w) * u64::from(h) > u64::from(self.largest.0) * u64::from(self.largest.1) {
            self.largest = (w, h);
        }
    }

    fn feed(&mut self, mode: Mode, d: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let f = ImageFormat::Gif;
        let strip = mode == Mode::Strip;
        let mut i = 0;
        while i < d.len() {
            match self.state {
                GState::Header | GState::Descriptor | GState::AppId => {
                    let want = match self.state {
                        GState::Header => 13,
                        GState::Descriptor => 10,
                        _ => 1 + self.buf.first().map_or(0, |&n| usize::from(n)),
                    };
                    let take = (want - self.buf.len()).min(d.len() - i);
                    self.buf.extend_from_slice(&d[i..i + take]);
                    i += take;
                    let want = match self.state {
                        GState::AppId => 1 + usize::from(self.buf[0]),
                        _ => want,
                    };
                    if self.buf.len() < want {
                        continue;
                    }
                    match self.state {
                        GState::Header => {
                            if !(self.buf.starts_with(b"GIF87a") || self.buf.starts_with(b"GIF89a"))
                            {
                                return Err(bad(f, "bad signature"));
                            }
                            let (w, h) =
                                (u32::from(le16(&self.buf, 6)), u32::from(le16(&self.buf, 8)));
                            self.screen = Some((w, h));
                            self.grow(w, h);
                            if strip {
                                out.extend_from_slice(&self.buf);
                            }
                            self.state = GState::table(table_size(self.buf[10]), false);
                        }
                        GState::Descriptor => {
                            let (w, h) =
                                (u32::from(le16(&self.buf, 5)), u32::from(le16(&self.buf, 7)));
                            self.grow(w, h);
                            if strip {
                                out.extend_from_slice(&self.buf);
                            }
                            self.state = GState::table(table_size(self.buf[9]), true);
                        }
                        _ => {
                            let id = &self.buf[1..];
                            let keep = id == b"NETSCAPE2.0" || id == b"ANIMEXTS1.0";
                            if keep {
                                if strip {
                                    out.extend_from_slice(&[0x21, 0xFF]);
                                    out.extend_from_slice(&self.buf);
                                }
                            } else {
                                self.removed += 1;
                            }
                            self.state = if self.buf[0] == 0 {
                                // That was the terminator already.
                                GState::Block
                            } else {
                                GState::SubLen(keep)
                            };
                        }
                    }
                    self.buf.clear();
                }
                GState::Table(left, image) => {
                    let take = left.min(d.len() - i);
                    if strip {
                        out.extend_from_slice(&d[i..i + take]);
                    }
                    i += take;
                    self.state = GState::table(left - take, image);
                }
                GState::Block => {
                    let b = d[i];
                    i += 1;
                    match b {
                        0x3B => {
                            if strip {
                                out.push(0x3B);
                            }
                            self.state = GState::Done;
                        }
                        0x21 => self.state = GState::Label,
                        0x2C => {
                            self.buf.push(0x2C);
                            self.state = GState::Descriptor;
                        }
                        _ => return Err(bad(f, "unknown block")),
                    }
                }
                GState::Label => {
                    let label = d[i];
                    i += 1;
                    match label {
                        0xF9 => {
                            if strip {
                                out.extend_from_slice(&[0x21, 0xF9]);
                            }
                            self.state = GState::SubLen(true);
                        }
                        0xFF => self.state = GState::AppId,
                        _ => {
                            self.removed += 1;
                            self.state = GState::SubLen(false);
                        }
                    }
                }
                GState::LzwMin => {
                    if strip {
                        out.push(d[i]);
                    }
                    i += 1;
                    self.state = GState::SubLen(true);
                }
                GState::SubLen(keep) => {
                    let n = usize::from(d[i]);
                    if strip && keep {
                        out.push(d[i]);
                    }
                    i += 1;
                    self.state = if n == 0 {
                        GState::Block
                    } else {
                        GState::SubData(n, keep)
                    };
                }
                GState::SubData(left, keep) => {
                    let take = left.min(d.len() - i);
                    if strip && keep {
                        out.extend_from_slice(&d[i..i + take]);
                    }
                    i += take;
                    self.state = if take < left {
                        GState::SubData(left - take, keep)
                    } else {
                        GState::SubLen(keep)
                    };
                }
                GState::Done => {
                    if !self.trailer {
                        self.trailer = true;
                        self.removed += 1;
                    }
                    i = d.len();
                }
            }
        }
        Ok(())
    }

    fn finish(&self, strip: bool) -> Result<((u32, u32), (u32, u32))> {
        let screen = self
            .screen
            .ok_or_else(|| bad(ImageFormat::Gif, TRUNCATED))?;
        // A GIF without its trailer still shows (browsers stop at the end of
        // the data), but not one cut inside a block.
        if strip && !matches!(self.state, GState::Done | GState::Block) {
            return Err(bad(ImageFormat::Gif, TRUNCATED));
        }
        Ok((screen, self.largest))
    }
}

// ---------------------------------------------------------------- WebP

const WEBP_KEEP: [&[u8; 4]; 7] = [
    b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum WState {
    /// Collecting `RIFF` size `WEBP`.
    #[default]
    Riff,
    /// Collecting a chunk header.
    Head,
    /// Collecting the start of the first chunk (its dimensions): bytes
    /// wanted, padded size of the chunk.
    First(usize, u64),
    /// A chunk's body and padding: bytes left, kept or not.
    Body(u64, bool),
    /// At or past the RIFF size.
    Done,
}

#[derive(Debug, Default)]
struct WebP {
    state: WState,
    buf: Vec<u8>,
    /// The RIFF header, held back until its size is known.
    riff: Vec<u8>,
    /// Where the RIFF data ends, and how far the walk is.
    end: u64,
    at: u64,
    dims: Option<(u32, u32)>,
    removed: usize,
    trailer: bool,
}

impl WebP {
    fn feed(&mut self, mode: Mode, d: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let f = ImageFormat::WebP;
        let strip = mode == Mode::Strip;
        let mut i = 0;
        while i < d.len() {
            match self.state {
                WState::Riff | WState::Head => {
                    let want = if self.state == WState::Riff { 12 } else { 8 };
                    let take = (want - self.buf.len()).min(d.len() - i);
                    self.buf.extend_from_slice(&d[i..i + take]);
                    i += take;
                    self.at += take as u64;
                    if self.buf.len() < want {
                        continue;
                    }
                    if self.state == WState::Riff {
                        if &self.buf[..4] != b"RIFF" || &self.buf[8..12] != b"WEBP" {
                            return Err(bad(f, "bad signature"));
                        }
                        self.end = u64::from(le32(&self.buf, 4)) + 8;
                        if self.end < 20 {
                            return Err(bad(f, "RIFF size smaller than its first chunk"));
                        }
                        self.riff = std::mem::take(&mut self.buf);
                        self.state = WState::Head;
                        continue;
                    }
                    let size = le32(&self.buf, 4);
                    let padded = u64::from(size) + u64::from(size & 1);
                    if self.at + padded > self.end {
                        return Err(bad(f, TRUNCATED));
                    }
                    let kind: [u8; 4] = self.buf[..4].try_into().expect("four bytes");
                    if self.dims.is_none() {
                        // The first chunk: keep its header with its start.
                        let want = match &kind {
                            b"VP8L" => 5,
                            _ => 10,
                        };
                        self.state = WState::First(want.min(size as usize), padded);
                        if want > size as usize {
                            // Let the dimension parser name the problem.
                            webp_chunk_dims(&kind, size, &[])?;
                        }
                        continue;
                    }
                    let keep = WEBP_KEEP.contains(&&kind);
                    if strip && keep {
                        out.extend_from_slice(&self.buf);
                    }
                    if !keep {
                        self.removed += 1;
                    }
                    self.buf.clear();
                    self.state = WState::Body(padded, keep);
                    self.after_body();
                }
                WState::First(want, padded) => {
                    let have = self.buf.len() - 8;
                    let take = (want - have).min(d.len() - i);
                    self.buf.extend_from_slice(&d[i..i + take]);
                    i += take;
                    self.at += take as u64;
                    if self.buf.len() - 8 < want {
                        continue;
                    }
                    let size = le32(&self.buf, 4);
                    let dims = webp_chunk_dims(&self.buf[..4], size, &self.buf[8..])?;
                    self.dims = Some(dims);
                    if &self.buf[..4] == b"VP8X" && strip {
                        // No EXIF and no XMP any more.
                        self.buf[8] &= !(0x08 | 0x04);
                    }
                    if strip {
                        out.extend_from_slice(&self.buf);
                    }
                    self.buf.clear();
                    self.state = WState::Body(padded - want as u64, true);
                    self.after_body();
                }
                WState::Body(left, keep) => {
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(d.len() - i);
                    if strip && keep {
                        out.extend_from_slice(&d[i..i + take]);
                    }
                    i += take;
                    self.at += take as u64;
                    self.state = WState::Body(left - take as u64, keep);
                    self.after_body();
                }
                WState::Done => {
                    if !self.trailer {
                        self.trailer = true;
                        self.removed += 1;
                    }
                    i = d.len();
                }
            }
        }
        Ok(())
    }

    /// A chunk body done: the next chunk, or the end of the RIFF data.
    fn after_body(&mut self) {
        if self.state == WState::Body(0, true) || self.state == WState::Body(0, false) {
            self.state = if self.at >= self.end {
                WState::Done
            } else {
                WState::Head
            };
        }
    }

    /// The dimensions and the RIFF header with the size of what was kept.
    fn finish(&self, strip: bool, written: u64) -> Result<((u32, u32), Vec<u8>)> {
        let f = ImageFormat::WebP;
        let dims = self.dims.ok_or_else(|| bad(f, TRUNCATED))?;
        if !strip {
            return Ok((dims, Vec::new()));
        }
        if self.state != WState::Done {
            return Err(bad(f, TRUNCATED));
        }
        let mut riff = self.riff.clone();
        let size = u32::try_from(written + 4).map_err(|_| bad(f, "too large"))?;
        riff[4..8].copy_from_slice(&size.to_le_bytes());
        Ok((dims, riff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_images_are_none() {
        assert_eq!(probe(b"hello world").unwrap(), None);
        assert_eq!(strip_metadata(b"hello").unwrap(), None);
        assert!(is_truncated(&probe(b"\x89PNG\r\n\x1a\n\0\0").unwrap_err()));
        // "BM" alone is text, not a bitmap.
        assert_eq!(probe(b"BMW owners, 2024 list, page 1").unwrap(), None);
    }
}
