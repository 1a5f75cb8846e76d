//! Image probing and metadata stripping against an independent decoder (the
//! `image` crate: zune-jpeg, png) on encoder-made files: JPEG fill bytes,
//! progressive scans, restart markers, metadata between scans, MPO-style
//! trailers, PNG chunks; and the image limits through the session engine for
//! every format that sniffs as an image.

use blocksmith_store::{Key, MemoryStore, StoreExt, block_on};
use blocksmith_upload::image::{ImageFormat, Scanner, probe, strip_metadata};
use blocksmith_upload::{CreateOptions, Error, UploadOptions, Uploads};
use bytes::Bytes;
use image::ImageEncoder as _;
use proptest::prelude::*;

// ------------------------------------------------------------ helpers

/// A smooth RGB picture (JPEG-friendly) with some texture from `seed`.
fn picture(w: u16, h: u16, seed: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
    for y in 0..u32::from(h) {
        for x in 0..u32::from(w) {
            let s = u32::from(seed);
            out.push((x * 7 + s) as u8);
            out.push((y * 5 + s * 3) as u8);
            out.push(((x ^ y) * 3 + s) as u8);
        }
    }
    out
}

/// A baseline JPEG from the `image` crate's encoder.
fn baseline(w: u16, h: u16, seed: u8) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80)
        .encode(
            &picture(w, h, seed),
            u32::from(w),
            u32::from(h),
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

/// A JPEG from `jpeg-encoder`: progressive or not, with restart markers,
/// with APP segments (number, body).
fn encoded(
    w: u16,
    h: u16,
    seed: u8,
    progressive: bool,
    restart: Option<u16>,
    apps: &[(u8, Vec<u8>)],
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut e = jpeg_encoder::Encoder::new(&mut out, 85);
    e.set_progressive(progressive);
    if let Some(r) = restart {
        e.set_restart_interval(r);
    }
    for (n, body) in apps {
        e.add_app_segment(*n, body.clone()).unwrap();
    }
    e.encode(&picture(w, h, seed), w, h, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

fn be16(d: &[u8], i: usize) -> usize {
    usize::from(u16::from_be_bytes([d[i], d[i + 1]]))
}

/// Every marker of a JPEG as a decoder meets it, past SOI: (offset of its
/// 0xFF, after any fill bytes; code), restart markers inside scans included,
/// EOI last.
fn markers(d: &[u8]) -> Vec<(usize, u8)> {
    let mut out = Vec::new();
    let mut i = 2;
    loop {
        assert_eq!(d[i], 0xFF, "marker expected at {i}");
        while d[i + 1] == 0xFF {
            i += 1; // fill bytes
        }
        let m = d[i + 1];
        out.push((i, m));
        if m == 0xD9 {
            return out;
        }
        let end = i + 2 + be16(d, i + 2);
        if m != 0xDA {
            i = end;
            continue;
        }
        let mut j = end;
        loop {
            if d[j] == 0xFF && d[j + 1] != 0 {
                if (0xD0..=0xD7).contains(&d[j + 1]) {
                    out.push((j, d[j + 1]));
                } else {
                    break;
                }
            }
            j += 1;
        }
        i = j;
    }
}

fn insert(d: &[u8], at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut out = d[..at].to_vec();
    out.extend_from_slice(bytes);
    out.extend_from_slice(&d[at..]);
    out
}

/// A marker segment.
fn segment(marker: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0xFF, marker];
    out.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn exif_gps() -> Vec<u8> {
    b"Exif\0\0MM\0*\0\0\0\x08GPS 51.5074N 0.1278W".to_vec()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The decoder's dimensions.
fn decoder_dims(d: &[u8]) -> (u32, u32) {
    image::ImageReader::new(std::io::Cursor::new(d))
        .with_guessed_format()
        .unwrap()
        .into_dimensions()
        .unwrap()
}

/// The decoded pixels (format, size, bytes).
fn pixels(d: &[u8]) -> (image::ColorType, u32, u32, Vec<u8>) {
    let img = image::load_from_memory(d).unwrap();
    (
        img.color(),
        img.width(),
        img.height(),
        img.as_bytes().to_vec(),
    )
}

/// Strips through a [`Scanner`] fed in windows of `window` bytes.
fn strip_streaming(d: &[u8], window: usize) -> Vec<u8> {
    let mut s = Scanner::new(blocksmith_upload::image::format_of(d).unwrap(), true).unwrap();
    let mut out = Vec::new();
    for w in d.chunks(window.max(1)) {
        s.feed(w, &mut out).unwrap();
    }
    let done = s.finish().unwrap();
    let mut all = done.prefix;
    all.extend_from_slice(&out);
    all
}

/// Checks that stripping `d` keeps its pixels (as the decoder sees them,
/// and as `clean` decodes), whole and streamed, and that the probe agrees
/// with the decoder.
fn check_strip(d: &[u8], clean: &[u8]) -> Vec<u8> {
    let info = probe(d).unwrap().unwrap();
    assert_eq!((info.width, info.height), decoder_dims(d));
    let (out, _) = strip_metadata(d).unwrap().unwrap();
    assert_eq!(pixels(&out), pixels(clean));
    let info = probe(&out).unwrap().unwrap();
    assert_eq!((info.width, info.height), decoder_dims(&out));
    for window in [1, 7, 4096] {
        assert_eq!(strip_streaming(d, window), out, "window {window}");
    }
    out
}

// ------------------------------------------------------------ JPEG: sizes

#[test]
fn fill_bytes_before_the_frame_header_do_not_hide_its_size() {
    // A real 16x16 JPEG whose frame header says 65535 wide, 65281 high, with
    // one fill byte before it (FF FF C0): read from the first 0xFF of the
    // run, the header said 511x2303, 1.2 Mpx, under any limit.
    let mut d = baseline(16, 16, 1);
    let (sof, _) = *markers(&d)
        .iter()
        .find(|(_, m)| *m == 0xC0)
        .expect("a frame header");
    d[sof + 5..sof + 7].copy_from_slice(&65281u16.to_be_bytes());
    d[sof + 7..sof + 9].copy_from_slice(&65535u16.to_be_bytes());
    let d = insert(&d, sof, &[0xFF]);
    assert_eq!(decoder_dims(&d), (65535, 65281));
    let info = probe(&d).unwrap().unwrap();
    assert_eq!((info.width, info.height), (65535, 65281));
    // More fill bytes, before other markers too.
    let mut many = d.clone();
    for (at, _) in markers(&d).into_iter().rev() {
        many = insert(&many, at, &[0xFF; 3]);
    }
    let info = probe(&many).unwrap().unwrap();
    assert_eq!((info.width, info.height), (65535, 65281));

    // Through the engine: refused on the first part, and at finalize when
    // the first part is too short to hold the frame header.
    let store = MemoryStore::new();
    let up = Uploads::with_options(&store, UploadOptions::default().with_part_size(1, 1 << 20));
    let id = block_on(up.create(CreateOptions::new(d.len() as u64)))
        .unwrap()
        .session
        .id;
    let r = block_on(up.put_part(&id, 0, Bytes::from(d.clone()), None));
    assert!(
        matches!(
            r,
            Err(Error::ImageTooLarge {
                width: 65535,
                height: 65281,
                ..
            })
        ),
        "{r:?}"
    );
    let id = block_on(up.create(CreateOptions::new(d.len() as u64)))
        .unwrap()
        .session
        .id;
    block_on(up.put_part(&id, 0, Bytes::copy_from_slice(&d[..4]), None)).unwrap();
    block_on(up.put_part(&id, 4, Bytes::copy_from_slice(&d[4..]), None)).unwrap();
    let r = block_on(up.finalize(&id));
    assert!(matches!(r, Err(Error::ImageTooLarge { .. })), "{r:?}");
}

#[test]
fn a_height_left_to_dnl_is_refused() {
    let mut d = baseline(16, 16, 2);
    let (sof, _) = *markers(&d).iter().find(|(_, m)| *m == 0xC0).unwrap();
    d[sof + 5..sof + 7].copy_from_slice(&0u16.to_be_bytes());
    assert!(matches!(probe(&d), Err(Error::InvalidImage { .. })));
    assert!(matches!(
        strip_metadata(&d),
        Err(Error::InvalidImage { .. })
    ));
}

#[test]
fn a_second_frame_header_after_the_scan_is_refused() {
    // A small frame, its scan, then a huge frame: the limit must not be
    // checked against the first one only.
    let d = baseline(16, 16, 3);
    let eoi = d.len() - 2;
    let mut sof = vec![8];
    sof.extend_from_slice(&60_000u16.to_be_bytes());
    sof.extend_from_slice(&60_000u16.to_be_bytes());
    sof.extend_from_slice(&[1, 1, 0x11, 0]);
    let d = insert(&d, eoi, &segment(0xC0, &sof));
    assert!(matches!(
        strip_metadata(&d),
        Err(Error::InvalidImage { .. })
    ));
    let store = MemoryStore::new();
    let up = Uploads::with_options(&store, UploadOptions::default().with_part_size(1, 1 << 20));
    let id = block_on(up.create(CreateOptions::new(d.len() as u64)))
        .unwrap()
        .session
        .id;
    block_on(up.put_part(&id, 0, Bytes::from(d), None)).unwrap();
    assert!(matches!(
        block_on(up.finalize(&id)),
        Err(Error::InvalidImage { .. })
    ));
}

#[test]
fn probe_agrees_with_the_decoder_on_real_files() {
    let files = [
        baseline(33, 17, 4),
        encoded(40, 24, 5, false, None, &[]),
        encoded(57, 31, 6, true, None, &[]),
        encoded(64, 48, 7, false, Some(2), &[]),
        encoded(70, 50, 8, true, Some(3), &[]),
    ];
    for d in &files {
        let info = probe(d).unwrap().unwrap();
        assert_eq!(info.format, ImageFormat::Jpeg);
        assert_eq!((info.width, info.height), decoder_dims(d));
        check_strip(d, d);
    }
    // Restart markers are there.
    assert!(
        markers(&files[3])
            .iter()
            .any(|(_, m)| (0xD0..=0xD7).contains(m))
    );
    // Progressive files have several scans.
    assert!(
        markers(&files[2])
            .iter()
            .filter(|(_, m)| *m == 0xDA)
            .count()
            > 2
    );
}

// ------------------------------------------------------------ JPEG: stripping

#[test]
fn mpo_trailer_with_its_own_gps_is_cut() {
    let first = encoded(48, 32, 9, true, None, &[(1, exif_gps())]);
    // The second image of an MPO (or a Motion Photo's video) after EOI.
    let second = encoded(24, 16, 10, false, None, &[(1, exif_gps())]);
    let mut mpo = first.clone();
    mpo.extend_from_slice(&second);
    let (clean, _) = strip_metadata(&first).unwrap().unwrap();
    let out = check_strip(&mpo, &first);
    assert_eq!(out, clean, "nothing of the trailer is left");
    assert!(out.ends_with(&[0xFF, 0xD9]));
    assert!(!contains(&out, b"GPS") && !contains(&out, b"Exif"));
    assert_eq!(
        markers(&out).iter().filter(|(_, m)| *m == 0xD8).count(),
        0,
        "no second image"
    );
}

#[test]
fn metadata_between_progressive_scans_is_removed() {
    let clean = encoded(64, 40, 11, true, None, &[]);
    let scans: Vec<usize> = markers(&clean)
        .iter()
        .filter(|(_, m)| *m == 0xDA)
        .map(|(at, _)| *at)
        .collect();
    assert!(scans.len() >= 3);
    // APP1 EXIF, APP2 MPF, XMP, a comment, before the second and the last scans.
    let mut meta = segment(0xE1, &exif_gps());
    meta.extend(segment(0xE2, b"MPF\0II*\0secret index"));
    meta.extend(segment(
        0xE1,
        b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta GPS/>",
    ));
    meta.extend(segment(0xFE, b"GPS in a comment"));
    let mut d = insert(&clean, *scans.last().unwrap(), &meta);
    d = insert(&d, scans[1], &meta);
    let (out, s) = strip_metadata(&d).unwrap().unwrap();
    assert_eq!(s.removed, 8);
    assert_eq!(out, clean);
    assert!(!contains(&out, b"GPS") && !contains(&out, b"MPF"));
    check_strip(&d, &clean);
}

#[test]
fn extraneous_bytes_between_segments_after_a_scan_are_skipped() {
    // libjpeg skips bytes that are not a marker where one is due (with a
    // warning); the walk does the same, so it sees every marker a decoder
    // sees, and stripping drops them.
    let clean = encoded(40, 40, 16, true, None, &[]);
    let scans: Vec<usize> = markers(&clean)
        .iter()
        .filter(|(_, m)| *m == 0xDA)
        .map(|(at, _)| *at)
        .collect();
    // After a segment between two scans (after scan data, bytes are scan
    // data, not extraneous).
    let mut extra = segment(0xFE, b"c");
    extra.extend_from_slice(b"junk");
    let d = insert(&clean, scans[2], &extra);
    let (out, s) = strip_metadata(&d).unwrap().unwrap();
    assert_eq!(out, clean);
    assert_eq!((s.removed, s.bytes), (2, 5 + 4));
    // Before the first scan, the headers must be sound.
    let (second, _) = markers(&clean)[1];
    assert!(probe(&insert(&clean, second, b"junk")).is_err());
}

#[test]
fn colour_segments_stay_thumbnails_go() {
    let icc = {
        let mut p = b"ICC_PROFILE\0\x01\x01".to_vec();
        p.extend_from_slice(&[0x42; 200]);
        p
    };
    let adobe = b"Adobe\0\x64\0\0\0\0\x01".to_vec();
    // JFIF with a 2x2 RGB thumbnail, and a JFXX thumbnail extension.
    let mut jfif = b"JFIF\0\x01\x02\x01\0\x48\0\x48\x02\x02".to_vec();
    jfif.extend_from_slice(b"THUMBNAILRGB");
    let jfxx = b"JFXX\0\x13\xFF\xD8\xFF\xD9".to_vec();
    let clean = encoded(32, 32, 12, false, None, &[]);
    // jpeg-encoder writes its own JFIF APP0 first: put ours after it.
    let (second, _) = markers(&clean)[1];
    let mut extra = segment(0xE0, &jfif);
    extra.extend(segment(0xE0, &jfxx));
    extra.extend(segment(0xE2, &icc));
    extra.extend(segment(0xEE, &adobe));
    extra.extend(segment(0xED, b"Photoshop 3.0\08BIM\x04\x04 IPTC city"));
    let d = insert(&clean, second, &extra);
    let out = check_strip(&d, &d);
    assert!(contains(&out, b"ICC_PROFILE\0") && contains(&out, b"Adobe"));
    assert!(!contains(&out, b"JFXX") && !contains(&out, b"IPTC"));
    assert!(!contains(&out, b"THUMBNAIL"), "JFIF thumbnail dropped");
    // Our JFIF keeps its density, without the thumbnail.
    assert!(contains(
        &out,
        &segment(0xE0, b"JFIF\0\x01\x02\x01\0\x48\0\x48\0\0")
    ));
}

#[test]
fn unsupported_markers_are_refused_when_stripping() {
    let clean = baseline(16, 16, 13);
    let (second, _) = markers(&clean)[1];
    for m in [0xC8, 0xF1, 0xDE, 0x30] {
        let d = insert(&clean, second, &segment(m, b"???"));
        assert!(
            matches!(strip_metadata(&d), Err(Error::InvalidImage { .. })),
            "{m:#x}"
        );
    }
}

// ------------------------------------------------------------ PNG

fn png_chunk(kind: [u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[4..]);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

fn png_encoded(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let mut rgba = Vec::new();
    for i in 0..w * h {
        rgba.extend_from_slice(&[(i * 3) as u8, seed, (i / 7) as u8, 200 + (i % 50) as u8]);
    }
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(&rgba, w, h, image::ExtendedColorType::Rgba8)
        .unwrap();
    out
}

/// The chunk types of a PNG, in order.
fn png_chunks(d: &[u8]) -> Vec<[u8; 4]> {
    let mut out = Vec::new();
    let mut i = 8;
    while i + 8 <= d.len() {
        let len = u32::from_be_bytes(d[i..i + 4].try_into().unwrap()) as usize;
        out.push(d[i + 4..i + 8].try_into().unwrap());
        i += 12 + len;
    }
    out
}

#[test]
fn png_chunks_by_allowlist() {
    let clean = png_encoded(20, 10, 1);
    let ihdr_end = 8 + 25;
    let mut meta = Vec::new();
    meta.extend(png_chunk(*b"gAMA", &45455u32.to_be_bytes()));
    meta.extend(png_chunk(*b"pHYs", &[0, 0, 11, 19, 0, 0, 11, 19, 1]));
    meta.extend(png_chunk(*b"tEXt", b"Author\0someone"));
    meta.extend(png_chunk(*b"zTXt", b"Comment\0\0x\x9c\x03\0\0\0\0\x01"));
    meta.extend(png_chunk(
        *b"iTXt",
        b"XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta GPS/>",
    ));
    meta.extend(png_chunk(*b"eXIf", b"MM\0*\0\0\0\x08GPS"));
    meta.extend(png_chunk(*b"tIME", &[7, 232, 1, 2, 3, 4, 5]));
    meta.extend(png_chunk(*b"prIv", b"a private ancillary chunk"));
    let mut d = insert(&clean, ihdr_end, &meta);
    let iend = d.len() - 12;
    d = insert(&d, iend, &png_chunk(*b"tEXt", b"late\0GPS"));
    d.extend_from_slice(b"trailing bytes after IEND with GPS");
    let out = check_strip(&d, &clean);
    let kinds = png_chunks(&out);
    assert_eq!(&kinds[..3], &[*b"IHDR", *b"gAMA", *b"pHYs"]);
    assert!(kinds[3..].iter().all(|k| k == b"IDAT" || k == b"IEND"));
    assert!(!contains(&out, b"GPS"));
    // An unknown critical chunk is refused.
    let bad = insert(&clean, ihdr_end, &png_chunk(*b"XXXX", b"?"));
    assert!(matches!(
        strip_metadata(&bad),
        Err(Error::InvalidImage { .. })
    ));
}

// ------------------------------------------------------------ properties

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Encoder-made JPEGs with fill bytes before any of their markers (and
    /// metadata between scans): the probe agrees with the decoder, stripping
    /// keeps the pixels, whole or streamed.
    #[test]
    fn jpeg_fill_bytes_and_metadata_keep_pixels(
        w in 1u16..80, h in 1u16..80, seed: u8, progressive: bool,
        restart in proptest::option::of(1u16..4),
        fills in proptest::collection::vec((any::<prop::sample::Index>(), 1usize..4), 0..6),
        meta_at in proptest::option::of(any::<prop::sample::Index>()),
        window in 1usize..5000,
    ) {
        let clean = encoded(w, h, seed, progressive, restart, &[]);
        let ms = markers(&clean);
        // Insert from the back so earlier offsets stay valid; only before
        // segment markers and EOI (fill bytes before RSTn are legal too,
        // but not every decoder takes them).
        let mut spots: Vec<(usize, Vec<u8>)> = fills
            .iter()
            .map(|(ix, n)| {
                let cands: Vec<usize> = ms.iter().filter(|(_, m)| !(0xD0..=0xD7).contains(m)).map(|(at, _)| *at).collect();
                (cands[ix.index(cands.len())], vec![0xFF; *n])
            })
            .collect();
        if let Some(ix) = meta_at {
            let cands: Vec<usize> = ms.iter().filter(|(_, m)| !(0xD0..=0xD9).contains(m)).map(|(at, _)| *at).collect();
            let mut meta = segment(0xE1, &exif_gps());
            meta.extend(segment(0xFE, b"comment"));
            spots.push((cands[ix.index(cands.len())], meta));
        }
        spots.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        let mut d = clean.clone();
        for (at, bytes) in &spots {
            d = insert(&d, *at, bytes);
        }
        let info = probe(&d).unwrap().unwrap();
        prop_assert_eq!((info.width, info.height), (u32::from(w), u32::from(h)));
        prop_assert_eq!(decoder_dims(&d), (u32::from(w), u32::from(h)));
        let (out, _) = strip_metadata(&d).unwrap().unwrap();
        prop_assert_eq!(&out, &clean, "fill bytes and metadata gone, the rest verbatim");
        prop_assert_eq!(strip_streaming(&d, window), out);
        prop_assert_eq!(pixels(&d), pixels(&clean));
    }

    /// Encoder-made PNGs with metadata chunks anywhere between IHDR and IEND.
    #[test]
    fn png_metadata_chunks_keep_pixels(
        w in 1u32..40, h in 1u32..40, seed: u8,
        extra in proptest::collection::vec((0usize..3, proptest::collection::vec(any::<u8>(), 0..40)), 0..5),
        window in 1usize..3000,
    ) {
        let clean = png_encoded(w, h, seed);
        let mut d = clean.clone();
        for (kind, body) in &extra {
            let kind = [b"tEXt", b"eXIf", b"zzZz"][*kind];
            d = insert(&d, 33, &png_chunk(*kind, body));
        }
        let (out, s) = strip_metadata(&d).unwrap().unwrap();
        prop_assert_eq!(s.removed, extra.len());
        prop_assert_eq!(&out, &clean);
        prop_assert_eq!(strip_streaming(&d, window), out);
        prop_assert_eq!(decoder_dims(&d), (w, h));
    }

    /// Arbitrary bytes behind each signature: no panic, and whatever
    /// stripping accepts probes the same before and after, streamed or not.
    #[test]
    fn arbitrary_bytes_never_panic(kind in 0usize..8, body in proptest::collection::vec(any::<u8>(), 0..400), window in 1usize..64) {
        let sig: &[u8] = [
            &b"\x89PNG\r\n\x1a\n"[..], b"\xFF\xD8\xFF", b"GIF89a", b"RIFF\x40\0\0\0WEBPVP8X",
            b"II*\0", b"MM\0*", b"BM\0\0\0\0\0\0\0\0\0\0\0\0\x28\0\0\0", b"\0\0\0\x10ftypheic\0\0\0\0",
        ][kind];
        let mut d = sig.to_vec();
        d.extend_from_slice(&body);
        let before = probe(&d);
        if let Ok(Some((out, _))) = strip_metadata(&d) {
            prop_assert!(out.len() <= d.len());
            let after = probe(&out).unwrap().unwrap();
            let before = before.unwrap().unwrap();
            prop_assert_eq!((before.width, before.height), (after.width, after.height));
            prop_assert_eq!(strip_streaming(&d, window), out);
        }
    }

    /// Mutated encoder output: no panic; a successful strip keeps dimensions.
    #[test]
    fn mutated_encoder_output_never_panics(progressive: bool, flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
        let mut d = encoded(24, 16, 1, progressive, Some(1), &[(1, exif_gps())]);
        for (ix, b) in flips {
            let i = ix.index(d.len());
            d[i] ^= b;
        }
        d.truncate(cut.index(d.len() + 1));
        let _ = probe(&d);
        if let Ok(Some((out, _))) = strip_metadata(&d) {
            prop_assert!(out.len() <= d.len());
            prop_assert_eq!(probe(&out).unwrap(), probe(&d).unwrap());
        }
    }
}

// ------------------------------------------------------------ other formats

fn bmp(w: i32, h: i32) -> Vec<u8> {
    let mut d = b"BM".to_vec();
    d.extend_from_slice(&70u32.to_le_bytes()); // file size (unchecked)
    d.extend_from_slice(&[0; 4]);
    d.extend_from_slice(&54u32.to_le_bytes());
    d.extend_from_slice(&40u32.to_le_bytes());
    d.extend_from_slice(&w.to_le_bytes());
    d.extend_from_slice(&h.to_le_bytes());
    d.extend_from_slice(&1u16.to_le_bytes());
    d.extend_from_slice(&24u16.to_le_bytes());
    d.extend_from_slice(&[0; 24]);
    d.extend_from_slice(&[0x80; 16]);
    d
}

/// A little-endian TIFF whose directories come after `pad` bytes of data.
fn tiff(pages: &[(u32, u32)], pad: usize) -> Vec<u8> {
    let mut d = b"II*\0".to_vec();
    d.extend_from_slice(&((8 + pad) as u32).to_le_bytes());
    d.resize(8 + pad, 0x55);
    for (i, (w, h)) in pages.iter().enumerate() {
        let start = d.len();
        d.extend_from_slice(&2u16.to_le_bytes());
        for (tag, v) in [(256u16, w), (257, h)] {
            d.extend_from_slice(&tag.to_le_bytes());
            d.extend_from_slice(&4u16.to_le_bytes());
            d.extend_from_slice(&1u32.to_le_bytes());
            d.extend_from_slice(&v.to_le_bytes());
        }
        let next = if i + 1 < pages.len() {
            (start + 2 + 24 + 4) as u32
        } else {
            0
        };
        d.extend_from_slice(&next.to_le_bytes());
    }
    d
}

fn bmff(kind: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&kind);
    out.extend_from_slice(body);
    out
}

/// A HEIF/AVIF skeleton: ftyp, meta/iprp/ipco with these `ispe`s, mdat.
fn heif(brand: [u8; 4], extents: &[(u32, u32)]) -> Vec<u8> {
    let mut ftyp = brand.to_vec();
    ftyp.extend_from_slice(&[0; 4]);
    ftyp.extend_from_slice(b"mif1");
    let mut ipco = Vec::new();
    for (w, h) in extents {
        let mut ispe = vec![0; 4];
        ispe.extend_from_slice(&w.to_be_bytes());
        ispe.extend_from_slice(&h.to_be_bytes());
        ipco.extend(bmff(*b"ispe", &ispe));
    }
    let mut meta = vec![0; 4];
    meta.extend(bmff(*b"hdlr", &[0; 24]));
    meta.extend(bmff(*b"iprp", &bmff(*b"ipco", &ipco)));
    let mut d = bmff(*b"ftyp", &ftyp);
    d.extend(bmff(*b"meta", &meta));
    d.extend(bmff(*b"mdat", &[0x11; 64]));
    d
}

#[test]
fn every_sniffed_image_format_is_probed() {
    use blocksmith_upload::magic::sniff;
    let cases: Vec<(Vec<u8>, &str, (u32, u32))> = vec![
        (bmp(640, -480), "image/bmp", (640, 480)),
        (tiff(&[(300, 200), (20, 10)], 0), "image/tiff", (300, 200)),
        (
            heif(*b"heic", &[(4032, 3024), (512, 512)]),
            "image/heic",
            (4032, 3024),
        ),
        (heif(*b"avif", &[(1920, 1080)]), "image/avif", (1920, 1080)),
    ];
    for (d, mime, dims) in cases {
        assert_eq!(sniff(&d), mime);
        let info = probe(&d).unwrap().unwrap();
        assert_eq!((info.width, info.height), dims, "{mime}");
        assert_eq!(info.format.mime(), mime);
        assert!(matches!(strip_metadata(&d), Err(Error::CannotStrip { .. })));
    }
    // Text that starts with "BM" is not a bitmap.
    assert_eq!(
        sniff(b"BMW 320i, BMW 330e, prices"),
        "application/octet-stream"
    );
}

fn engine(store: &MemoryStore) -> Uploads<&MemoryStore> {
    Uploads::with_options(store, UploadOptions::default().with_part_size(1, 1 << 20))
}

/// Uploads `d` in parts of `part` bytes; the result of finalize (or of the
/// first refused part).
fn upload(
    up: &Uploads<&MemoryStore>,
    d: &[u8],
    part: usize,
    strip: bool,
) -> Result<blocksmith_upload::Published, Error> {
    let id = block_on(up.create(CreateOptions::new(d.len() as u64).with_strip_metadata(strip)))?
        .session
        .id;
    for (i, c) in d.chunks(part).enumerate() {
        block_on(up.put_part(&id, (i * part) as u64, Bytes::copy_from_slice(c), None))?;
    }
    block_on(up.finalize(&id))
}

#[test]
fn pixel_limits_apply_to_every_sniffed_format() {
    let store = MemoryStore::new();
    let up = engine(&store);
    // Bombs of each format, whole and in small parts (so only finalize can
    // see the headers).
    let bombs = [
        bmp(30_000, 30_000),
        tiff(&[(100, 100), (30_000, 30_000)], 0),
        heif(*b"heic", &[(512, 512), (30_000, 30_000)]),
        heif(*b"avif", &[(30_000, 30_000)]),
    ];
    for d in &bombs {
        for part in [d.len(), 9] {
            let r = upload(&up, d, part, false);
            assert!(matches!(r, Err(Error::ImageTooLarge { .. })), "{r:?}");
        }
    }
    // A TIFF whose second page lies past the first 64 KiB: read whole.
    let far = tiff(&[(100, 100), (30_000, 30_000)], 100_000);
    let r = upload(&up, &far, 50_000, false);
    assert!(matches!(r, Err(Error::ImageTooLarge { .. })), "{r:?}");
    let fine = tiff(&[(100, 100), (200, 300)], 100_000);
    let p = upload(&up, &fine, 50_000, false).unwrap();
    assert_eq!(
        p.image.map(|i| (i.format, i.width)),
        Some((ImageFormat::Tiff, 100))
    );
    // Within the limit: published with their dimensions.
    let p = upload(&up, &heif(*b"heic", &[(4032, 3024)]), 20, false).unwrap();
    assert_eq!(p.image.map(|i| (i.width, i.height)), Some((4032, 3024)));
    assert_eq!(p.content_type, "image/heic");
    // Dimensions nowhere to be found: refused under a limit, published
    // without one.
    let blind = heif(*b"avif", &[]);
    assert!(matches!(
        upload(&up, &blind, 1000, false),
        Err(Error::InvalidImage { .. })
    ));
    let unlimited = Uploads::with_options(
        &store,
        UploadOptions::default()
            .with_part_size(1, 1 << 20)
            .with_max_image_pixels(None),
    );
    let p = upload(&unlimited, &blind, 1000, false).unwrap();
    assert_eq!(p.image, None);
}

#[test]
fn stripping_a_format_that_cannot_be_stripped_is_refused() {
    let store = MemoryStore::new();
    let up = engine(&store);
    for d in [
        bmp(10, 10),
        tiff(&[(10, 10)], 0),
        heif(*b"heic", &[(10, 10)]),
        heif(*b"avif", &[(10, 10)]),
    ] {
        let r = upload(&up, &d, d.len(), true);
        assert!(matches!(r, Err(Error::CannotStrip { .. })), "{r:?}");
        // Without stripping, they go through.
        upload(&up, &d, d.len(), false).unwrap();
    }
}

#[test]
fn a_bomb_behind_a_one_byte_first_part_is_still_refused() {
    // The first part used to be the only bytes sniffed: one byte of it made
    // a PNG bomb look like a file of unknown type.
    let store = MemoryStore::new();
    let up = engine(&store);
    let bomb = crate::images::png(60_000, 60_000, false);
    let r = upload(&up, &bomb, 1, false);
    assert!(matches!(r, Err(Error::ImageTooLarge { .. })), "{r:?}");
}

#[test]
fn stripped_upload_decodes_to_the_same_pixels() {
    let store = MemoryStore::new();
    let up = Uploads::with_options(
        &store,
        UploadOptions::default()
            .with_part_size(1, 1 << 20)
            .with_digest(blocksmith_upload::Algorithm::Sha256),
    );
    let first = encoded(96, 64, 14, true, Some(2), &[(1, exif_gps())]);
    let mut mpo = first.clone();
    mpo.extend(encoded(32, 32, 15, false, None, &[(1, exif_gps())]));
    let p = upload(&up, &mpo, 333, true).unwrap();
    let stored = store
        .blocking()
        .get(&Key::new(p.key.as_str()).unwrap())
        .unwrap()
        .data;
    assert!(!contains(&stored, b"GPS") && !contains(&stored, b"Exif"));
    assert_eq!(pixels(&stored), pixels(&first));
    assert_eq!(p.size, stored.len() as u64);
    assert_eq!(p.size + p.stripped_bytes, mpo.len() as u64);
    assert_eq!(
        p.checksum,
        blocksmith_upload::Algorithm::Sha256.digest(&stored)
    );
    assert_eq!(p.image.map(|i| (i.width, i.height)), Some((96, 64)));
    // No piece of the stripped output is left behind.
    assert!(
        store
            .blocking()
            .list_all("uploads/strip/")
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .blocking()
            .list_all("uploads/parts/")
            .unwrap()
            .is_empty()
    );
}
