//! Image headers without decoding: format and dimensions of PNG, JPEG, GIF
//! and WebP, decompression-bomb checks by declared pixel count, and metadata
//! stripping (EXIF, XMP, IPTC, text chunks, comments).
//!
//! The parsers read only headers and segment framing; pixel data is copied
//! verbatim, never decoded. Hostile input gets [`Error::InvalidImage`].

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
}

impl ImageFormat {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Gif => "gif",
            ImageFormat::WebP => "webp",
        }
    }

    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Gif => "image/gif",
            ImageFormat::WebP => "image/webp",
        }
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

/// The format by signature, if it is one of ours.
pub fn format_of(data: &[u8]) -> Option<ImageFormat> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if data.starts_with(b"\xFF\xD8\xFF") {
        Some(ImageFormat::Jpeg)
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some(ImageFormat::Gif)
    } else if data.len() >= 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some(ImageFormat::WebP)
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
/// `Ok(None)` if `data` is not PNG, JPEG, GIF or WebP. A prefix of a file is
/// enough when it holds the headers; otherwise the error says [`TRUNCATED`].
///
/// ```
/// use blocksmith_upload::image::{probe, ImageFormat};
/// let gif = b"GIF89a\x40\x01\xf0\x00\x00\x00\x00;";
/// let info = probe(gif).unwrap().unwrap();
/// assert_eq!((info.format, info.width, info.height), (ImageFormat::Gif, 320, 240));
/// ```
pub fn probe(data: &[u8]) -> Result<Option<ImageInfo>> {
    let Some(format) = format_of(data) else {
        return Ok(None);
    };
    let (width, height) = match format {
        ImageFormat::Png => png_dims(data)?,
        ImageFormat::Gif => {
            if data.len() < 10 {
                return Err(bad(format, TRUNCATED));
            }
            (u32::from(le16(data, 6)), u32::from(le16(data, 8)))
        }
        ImageFormat::Jpeg => jpeg_dims(data)?,
        ImageFormat::WebP => webp_dims(data)?,
    };
    if width == 0 || height == 0 {
        return Err(bad(format, "zero width or height"));
    }
    Ok(Some(ImageInfo {
        format,
        width,
        height,
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

/// One JPEG marker segment before the scan.
struct Segment {
    marker: u8,
    /// Start of the marker (the 0xFF).
    start: usize,
    /// One past the end of the segment.
    end: usize,
}

/// Walks JPEG segments up to and including the first SOS header; calls `f`
/// on each. Returns the offset where the entropy-coded data starts.
fn jpeg_walk(d: &[u8], mut f: impl FnMut(&Segment) -> Result<bool>) -> Result<usize> {
    let fmt = ImageFormat::Jpeg;
    let mut i = 2; // after SOI
    loop {
        // Markers may be preceded by fill bytes 0xFF.
        if i >= d.len() {
            return Err(bad(fmt, TRUNCATED));
        }
        if d[i] != 0xFF {
            return Err(bad(fmt, "expected a marker"));
        }
        let start = i;
        while i < d.len() && d[i] == 0xFF {
            i += 1;
        }
        let Some(&marker) = d.get(i) else {
            return Err(bad(fmt, TRUNCATED));
        };
        i += 1;
        match marker {
            0x01 | 0xD0..=0xD7 => {
                if !f(&Segment {
                    marker,
                    start,
                    end: i,
                })? {
                    return Ok(i);
                }
                continue;
            }
            0xD8 | 0x00 => return Err(bad(fmt, "unexpected marker")),
            0xD9 => return Err(bad(fmt, "end of image before any scan")),
            _ => {}
        }
        if i + 2 > d.len() {
            return Err(bad(fmt, TRUNCATED));
        }
        let len = usize::from(be16(d, i));
        if len < 2 {
            return Err(bad(fmt, "segment length below 2"));
        }
        let end = i + len;
        if end > d.len() {
            return Err(bad(fmt, TRUNCATED));
        }
        let seg = Segment { marker, start, end };
        let more = f(&seg)?;
        i = end;
        if marker == 0xDA || !more {
            return Ok(i);
        }
    }
}

fn is_sof(m: u8) -> bool {
    matches!(m, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF)
}

fn jpeg_dims(d: &[u8]) -> Result<(u32, u32)> {
    let mut dims = None;
    jpeg_walk(d, |s| {
        if is_sof(s.marker) {
            // FF Cx len(2) precision(1) height(2) width(2)
            let body = s.start + 4;
            if s.end < body + 5 {
                return Err(bad(ImageFormat::Jpeg, "short frame header"));
            }
            dims = Some((u32::from(be16(d, body + 3)), u32::from(be16(d, body + 1))));
            return Ok(false);
        }
        Ok(true)
    })?;
    dims.ok_or_else(|| bad(ImageFormat::Jpeg, "no frame header before the scan"))
}

fn webp_dims(d: &[u8]) -> Result<(u32, u32)> {
    let f = ImageFormat::WebP;
    if d.len() < 20 {
        return Err(bad(f, TRUNCATED));
    }
    // The dimensions must lie inside the first chunk, as it declares itself.
    let size = le32(d, 16);
    let need = |n: u32| {
        if size < n {
            Err(bad(f, "first chunk too short"))
        } else if d.len() < 20 + n as usize {
            Err(bad(f, TRUNCATED))
        } else {
            Ok(())
        }
    };
    match &d[12..16] {
        b"VP8 " => {
            need(10)?;
            if d[23..26] != [0x9D, 0x01, 0x2A] {
                return Err(bad(f, "bad VP8 start code"));
            }
            Ok((
                u32::from(le16(d, 26) & 0x3FFF),
                u32::from(le16(d, 28) & 0x3FFF),
            ))
        }
        b"VP8L" => {
            need(5)?;
            if d[20] != 0x2F {
                return Err(bad(f, "bad VP8L signature"));
            }
            let bits = le32(d, 21);
            Ok(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => {
            need(10)?;
            Ok((le24(d, 24) + 1, le24(d, 27) + 1))
        }
        _ => Err(bad(f, "unknown first chunk")),
    }
}

/// What [`strip_metadata`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stripped {
    /// Segments or chunks removed.
    pub removed: usize,
    /// Bytes removed.
    pub bytes: usize,
}

/// Removes metadata: JPEG APP1 (EXIF, XMP), APP3-APP13, APP15 and comments
/// (APP0 JFIF, APP2 ICC and APP14 Adobe stay); PNG `tEXt`, `zTXt`, `iTXt`,
/// `eXIf` and `tIME` chunks and bytes after `IEND`; WebP `EXIF` and `XMP `
/// chunks (flags fixed); GIF comment and XMP extensions.
///
/// Returns `Ok(None)` for data that is not one of these formats. JPEG data
/// after the first scan header is copied verbatim.
pub fn strip_metadata(data: &[u8]) -> Result<Option<(Vec<u8>, Stripped)>> {
    let Some(format) = format_of(data) else {
        return Ok(None);
    };
    probe(data)?; // headers must be sound
    let out = match format {
        ImageFormat::Png => strip_png(data)?,
        ImageFormat::Jpeg => strip_jpeg(data)?,
        ImageFormat::WebP => strip_webp(data)?,
        ImageFormat::Gif => strip_gif(data)?,
    };
    let stats = Stripped {
        removed: out.1,
        bytes: data.len() - out.0.len(),
    };
    Ok(Some((out.0, stats)))
}

fn strip_png(d: &[u8]) -> Result<(Vec<u8>, usize)> {
    let f = ImageFormat::Png;
    let mut out = Vec::with_capacity(d.len());
    out.extend_from_slice(&d[..8]);
    let mut i = 8;
    let mut removed = 0;
    loop {
        if i + 8 > d.len() {
            return Err(bad(f, TRUNCATED));
        }
        let len = be32(d, i) as usize;
        if len > i32::MAX as usize {
            return Err(bad(f, "chunk length above 2^31-1"));
        }
        let end = i
            .checked_add(12 + len)
            .filter(|&e| e <= d.len())
            .ok_or_else(|| bad(f, TRUNCATED))?;
        let kind = &d[i + 4..i + 8];
        if matches!(kind, b"tEXt" | b"zTXt" | b"iTXt" | b"eXIf" | b"tIME") {
            removed += 1;
        } else {
            out.extend_from_slice(&d[i..end]);
        }
        i = end;
        if kind == b"IEND" {
            return Ok((out, removed));
        }
    }
}

fn strip_jpeg(d: &[u8]) -> Result<(Vec<u8>, usize)> {
    let mut out = Vec::with_capacity(d.len());
    out.extend_from_slice(&d[..2]);
    let mut removed = 0;
    let scan = jpeg_walk(d, |s| {
        let drop = matches!(s.marker, 0xE1 | 0xE3..=0xED | 0xEF | 0xFE);
        if drop {
            removed += 1;
        } else {
            out.extend_from_slice(&d[s.start..s.end]);
        }
        Ok(true)
    })?;
    out.extend_from_slice(&d[scan..]);
    Ok((out, removed))
}

fn strip_webp(d: &[u8]) -> Result<(Vec<u8>, usize)> {
    let f = ImageFormat::WebP;
    let riff_end = (le32(d, 4) as usize)
        .checked_add(8)
        .filter(|&e| e <= d.len())
        .ok_or_else(|| bad(f, TRUNCATED))?;
    if riff_end < 20 {
        return Err(bad(f, "RIFF size smaller than its first chunk"));
    }
    let mut out = Vec::with_capacity(d.len());
    out.extend_from_slice(&d[..12]);
    let mut i = 12;
    let mut removed = 0;
    let mut vp8x_at = None;
    while i < riff_end {
        if i + 8 > riff_end {
            return Err(bad(f, TRUNCATED));
        }
        let size = le32(d, i + 4) as usize;
        let end = (i + 8)
            .checked_add(size + (size & 1))
            .filter(|&e| e <= riff_end)
            .ok_or_else(|| bad(f, TRUNCATED))?;
        match &d[i..i + 4] {
            b"EXIF" | b"XMP " => removed += 1,
            kind => {
                if kind == b"VP8X" && i == 12 {
                    vp8x_at = Some(out.len());
                }
                out.extend_from_slice(&d[i..end]);
            }
        }
        i = end;
    }
    // The first chunk is the VP8X header (probe checked its size): clear its
    // EXIF and XMP flags.
    if let Some(flags) = vp8x_at.and_then(|at| out.get_mut(at + 8)) {
        *flags &= !(0x08 | 0x04);
    }
    let riff = (out.len() - 8) as u32;
    out[4..8].copy_from_slice(&riff.to_le_bytes());
    Ok((out, removed))
}

fn strip_gif(d: &[u8]) -> Result<(Vec<u8>, usize)> {
    let f = ImageFormat::Gif;
    let need = |n: usize| {
        if n > d.len() {
            Err(bad(f, TRUNCATED))
        } else {
            Ok(())
        }
    };
    // Skips data sub-blocks starting at `i`; returns the index after the terminator.
    let sub_blocks = |mut i: usize| -> Result<usize> {
        loop {
            need(i + 1)?;
            let n = usize::from(d[i]);
            i += 1 + n;
            if n == 0 {
                return Ok(i);
            }
        }
    };
    need(13)?;
    let mut i = 13;
    if d[10] & 0x80 != 0 {
        i += 3 << ((d[10] & 7) + 1);
    }
    need(i)?;
    let mut out = d[..i].to_vec();
    let mut removed = 0;
    loop {
        need(i + 1)?;
        match d[i] {
            0x3B => {
                out.push(0x3B);
                return Ok((out, removed));
            }
            0x21 => {
                need(i + 2)?;
                let label = d[i + 1];
                let end = sub_blocks(i + 2)?;
                let is_xmp = label == 0xFF
                    && d.get(i + 2) == Some(&11)
                    && d.get(i + 3..i + 14) == Some(b"XMP DataXMP".as_slice());
                if label == 0xFE || is_xmp {
                    removed += 1;
                } else {
                    out.extend_from_slice(&d[i..end]);
                }
                i = end;
            }
            0x2C => {
                need(i + 10)?;
                let flags = d[i + 9];
                let mut j = i + 10;
                if flags & 0x80 != 0 {
                    j += 3 << ((flags & 7) + 1);
                }
                need(j + 1)?; // LZW minimum code size
                let end = sub_blocks(j + 1)?;
                out.extend_from_slice(&d[i..end]);
                i = end;
            }
            _ => return Err(bad(f, "unknown block")),
        }
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
    }
}
