//! Image headers, bombs and metadata stripping on hand-built files.

use blocksmith_upload::image::{ImageFormat, probe, strip_metadata};
use proptest::prelude::*;

fn png_chunk(out: &mut Vec<u8>, kind: [u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(&kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A PNG with IHDR, optional text/EXIF chunks, an IDAT and IEND.
pub(crate) fn png_with(w: u32, h: u32, meta: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    png_chunk(&mut out, *b"IHDR", &ihdr);
    for (k, v) in meta {
        png_chunk(&mut out, **k, v);
    }
    png_chunk(
        &mut out,
        *b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    png_chunk(&mut out, *b"IEND", &[]);
    out
}

pub(crate) fn png(w: u32, h: u32, meta: bool) -> Vec<u8> {
    let m = if meta {
        vec![
            (b"tEXt", b"Author\0someone".to_vec()),
            (b"eXIf", b"MM\0*GPS".to_vec()),
        ]
    } else {
        vec![]
    };
    png_with(w, h, &m)
}

fn segment(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(body);
}

/// A baseline JPEG skeleton: APP0, optional APP1 EXIF and COM, SOF0, SOS, data, EOI.
pub(crate) fn jpeg_with(w: u16, h: u16, exif: Option<&[u8]>, comment: Option<&[u8]>) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    segment(&mut out, 0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    if let Some(e) = exif {
        let mut body = b"Exif\0\0".to_vec();
        body.extend_from_slice(e);
        segment(&mut out, 0xE1, &body);
    }
    if let Some(c) = comment {
        segment(&mut out, 0xFE, c);
    }
    let mut sof = vec![8];
    sof.extend_from_slice(&h.to_be_bytes());
    sof.extend_from_slice(&w.to_be_bytes());
    sof.extend_from_slice(&[1, 1, 0x11, 0]);
    segment(&mut out, 0xC0, &sof);
    segment(&mut out, 0xDA, &[1, 1, 0, 0, 0x3F, 0]);
    out.extend_from_slice(&[0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD0, 0x78]);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

pub(crate) fn jpeg(w: u16, h: u16, meta: bool) -> Vec<u8> {
    if meta {
        jpeg_with(
            w,
            h,
            Some(b"MM\0*\0\0\0\x08GPS-DATA"),
            Some(b"shot on a phone"),
        )
    } else {
        jpeg_with(w, h, None, None)
    }
}

fn riff_chunk(out: &mut Vec<u8>, kind: [u8; 4], data: &[u8]) {
    out.extend_from_slice(&kind);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
}

/// An extended WebP: VP8X (+EXIF/XMP flags), VP8L, EXIF, XMP.
pub(crate) fn webp(w: u32, h: u32, exif: &[u8]) -> Vec<u8> {
    let mut body = b"WEBP".to_vec();
    let mut x = vec![0x08 | 0x04, 0, 0, 0];
    x.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
    x.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
    riff_chunk(&mut body, *b"VP8X", &x);
    let bits = (w - 1) | ((h - 1) << 14);
    let mut l = vec![0x2F];
    l.extend_from_slice(&bits.to_le_bytes());
    l.extend_from_slice(&[0, 0, 0]);
    riff_chunk(&mut body, *b"VP8L", &l);
    riff_chunk(&mut body, *b"EXIF", exif);
    riff_chunk(&mut body, *b"XMP ", b"<x:xmpmeta/>");
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// A GIF89a with a global palette, a comment, one frame.
pub(crate) fn gif(w: u16, h: u16, comment: &[u8]) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&[0x80, 0, 0]); // 2-colour global table
    out.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    out.extend_from_slice(&[0x21, 0xFE]);
    for c in comment.chunks(255) {
        out.push(c.len() as u8);
        out.extend_from_slice(c);
    }
    out.push(0);
    out.extend_from_slice(&[0x2C, 0, 0, 0, 0]);
    out.extend_from_slice(&w.to_le_bytes());
    out.extend_from_slice(&h.to_le_bytes());
    out.extend_from_slice(&[0, 2, 2, 0x4C, 0x01, 0, 0x3B]);
    out
}

#[test]
fn dimensions_of_each_format() {
    let cases: Vec<(Vec<u8>, ImageFormat, u32, u32)> = vec![
        (png(1920, 1080, true), ImageFormat::Png, 1920, 1080),
        (jpeg(4032, 3024, true), ImageFormat::Jpeg, 4032, 3024),
        (webp(800, 600, b"exif"), ImageFormat::WebP, 800, 600),
        (gif(320, 200, b"hi"), ImageFormat::Gif, 320, 200),
    ];
    for (data, format, w, h) in cases {
        let info = probe(&data).unwrap().unwrap();
        assert_eq!((info.format, info.width, info.height), (format, w, h));
        // The headers are enough: a prefix of the file will do.
        let head = &data[..data.len().min(200)];
        assert_eq!(probe(head).unwrap().unwrap().width, w);
    }
    // Lossy VP8 frame header.
    let mut vp8 = b"RIFF\0\0\0\0WEBPVP8 \x10\0\0\0\0\0\0\x9d\x01\x2a".to_vec();
    vp8.extend_from_slice(&640u16.to_le_bytes());
    vp8.extend_from_slice(&480u16.to_le_bytes());
    let info = probe(&vp8).unwrap().unwrap();
    assert_eq!((info.width, info.height), (640, 480));
}

#[test]
fn stripping_removes_metadata_and_keeps_pixels() {
    let p = png(10, 10, true);
    let (out, s) = strip_metadata(&p).unwrap().unwrap();
    assert_eq!(out, png(10, 10, false));
    assert_eq!(s.removed, 2);
    let j = jpeg(10, 10, true);
    let (out, s) = strip_metadata(&j).unwrap().unwrap();
    assert_eq!(out, jpeg(10, 10, false));
    assert_eq!(s.removed, 2);
    let w = webp(10, 10, b"GPS 51.5N");
    let (out, s) = strip_metadata(&w).unwrap().unwrap();
    assert_eq!(s.removed, 2);
    assert!(!out.windows(4).any(|x| x == b"EXIF" || x == b"XMP "));
    assert_eq!(out[20] & 0x0C, 0, "VP8X flags cleared");
    assert_eq!(
        u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize,
        out.len() - 8
    );
    assert_eq!(probe(&out).unwrap().unwrap().width, 10);
    let g = gif(10, 10, b"secret comment");
    let (out, s) = strip_metadata(&g).unwrap().unwrap();
    assert_eq!(s.removed, 1);
    assert!(!out.windows(6).any(|x| x == b"secret"));
    assert_eq!(*out.last().unwrap(), 0x3B);
}

#[test]
fn fuzz_regression_webp_riff_size_below_first_chunk() {
    // RIFF size 1: stripping used to keep only the first 12 bytes.
    let d = b"RIFF\x01\0\0\0WEBPVP8X\x0a\0\0\0\x08\xfeb\0@\x000\0\0\x02\x02";
    let before = probe(d);
    match strip_metadata(d) {
        Ok(Some((out, _))) => {
            let after = probe(&out).unwrap().unwrap();
            assert_eq!(after.width, before.unwrap().unwrap().width);
        }
        Ok(None) => panic!("a WebP signature"),
        Err(_) => {}
    }
}

#[test]
fn fuzz_regression_webp_second_empty_vp8x_chunk() {
    let d: &[u8] = &[
        0x52, 0x49, 0x46, 0x46, 0x3e, 0x0, 0x0, 0x0, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38,
        0x58, 0xa, 0x0, 0x0, 0x0, 0x0, 0x0, 0x2f, 0x3f, 0xc0, 0xb, 0x0, 0x0, 0x0, 0x0, 0x45, 0x5c,
        0x49, 0x0, 0x0, 0x0, 0x0, 0x0, 0x45, 0x58, 0x49, 0x0, 0x0, 0x0, 0x0, 0x0, 0x45, 0x59, 0x49,
        0x0, 0x0, 0x0, 0x0, 0x0, 0x45, 0x59, 0x49, 0x0, 0x0, 0x0, 0x0, 0x0, 0x56, 0x50, 0x38, 0x58,
        0x0, 0x0, 0x0, 0x0, 0x0, 0x2f, 0x3f, 0xc0, 0xb, 0x0, 0x0, 0x0, 0x0, 0x45, 0x5c, 0x49, 0x0,
        0x0, 0x51, 0x0, 0x0, 0x0, 0x0, 0x0, 0x0, 0x1, 0x45, 0x51,
    ];
    if let Ok(Some((out, _))) = strip_metadata(d) {
        assert_eq!(probe(&out).unwrap(), probe(d).unwrap());
    }
}

#[test]
fn malformed_headers_are_typed_errors() {
    for bad in [
        b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDX\0\0\0\x01\0\0\0\x01".to_vec(),
        b"\xFF\xD8\xFF\xD9".to_vec(),
        b"\xFF\xD8\xFF\xE0\0\x01".to_vec(),
        b"RIFF\0\0\0\0WEBPVP9 \0\0\0\0\0\0\0\0\0\0\0\0\0\0".to_vec(),
        png(0, 10, false),
    ] {
        assert!(probe(&bad).is_err(), "{bad:?}");
    }
}

proptest! {
    #[test]
    fn png_strip_roundtrip(w in 1u32..100_000, h in 1u32..100_000, texts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..50), 0..4)) {
        let meta: Vec<(&[u8; 4], Vec<u8>)> = texts.into_iter().map(|t| (b"tEXt", t)).collect();
        let n = meta.len();
        let with = png_with(w, h, &meta);
        let (out, s) = strip_metadata(&with).unwrap().unwrap();
        prop_assert_eq!(out, png_with(w, h, &[]));
        prop_assert_eq!(s.removed, n);
        let info = probe(&with).unwrap().unwrap();
        prop_assert_eq!((info.width, info.height), (w, h));
    }

    #[test]
    fn jpeg_strip_roundtrip(w in 1u16.., h in 1u16.., exif in proptest::collection::vec(any::<u8>(), 0..300), com in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..100))) {
        let with = jpeg_with(w, h, Some(&exif), com.as_deref());
        let (out, _) = strip_metadata(&with).unwrap().unwrap();
        prop_assert_eq!(out, jpeg_with(w, h, None, None));
        let info = probe(&with).unwrap().unwrap();
        prop_assert_eq!((info.width, info.height), (u32::from(w), u32::from(h)));
    }

    #[test]
    fn hostile_images_never_panic(kind in 0usize..4, cut in any::<usize>(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6)) {
        let mut d = match kind { 0 => png(100, 100, true), 1 => jpeg(100, 100, true), 2 => webp(100, 100, b"abc"), _ => gif(100, 100, b"c") };
        for (i, b) in flips { let n = d.len(); d[i % n] ^= b; }
        let n = d.len();
        d.truncate(cut % (n + 1));
        let _ = probe(&d);
        if let Ok(Some((out, _))) = strip_metadata(&d) {
            prop_assert!(out.len() <= d.len());
        }
    }
}
