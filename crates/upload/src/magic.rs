//! Content types by magic bytes, never by file name.

/// The MIME type of `data` by its leading bytes; `application/octet-stream`
/// if nothing matches. Needs at most the first 18 bytes (a bitmap is known
/// by its DIB header size, not by `BM` alone, which plenty of text starts
/// with). Every `image/*` type it gives is an [`ImageFormat`] that
/// [`crate::image::format_of`] recognises too.
///
/// [`ImageFormat`]: crate::image::ImageFormat
///
/// ```
/// assert_eq!(blocksmith_upload::magic::sniff(b"\x89PNG\r\n\x1a\n...."), "image/png");
/// assert_eq!(blocksmith_upload::magic::sniff(b"hello"), "application/octet-stream");
/// ```
pub fn sniff(data: &[u8]) -> &'static str {
    let starts = |m: &[u8]| data.starts_with(m);
    let at = |off: usize, m: &[u8]| data.len() >= off + m.len() && &data[off..off + m.len()] == m;
    if starts(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if starts(b"\xFF\xD8\xFF") {
        "image/jpeg"
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        "image/gif"
    } else if starts(b"RIFF") && at(8, b"WEBP") {
        "image/webp"
    } else if starts(b"RIFF") && at(8, b"WAVE") {
        "audio/wav"
    } else if starts(b"RIFF") && at(8, b"AVI ") {
        "video/x-msvideo"
    } else if at(4, b"ftyp") {
        match data.get(8..12) {
            Some(b"avif" | b"avis") => "image/avif",
            Some(b"heic" | b"heix" | b"mif1" | b"msf1") => "image/heic",
            Some(b"qt  ") => "video/quicktime",
            Some(b"M4A ") => "audio/mp4",
            _ => "video/mp4",
        }
    } else if starts(b"\x1A\x45\xDF\xA3") {
        "video/webm"
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        "image/tiff"
    } else if crate::image::is_bmp(data) {
        "image/bmp"
    } else if starts(b"%PDF-") {
        "application/pdf"
    } else if starts(b"PK\x03\x04") {
        "application/zip"
    } else if starts(b"\x1F\x8B") {
        "application/gzip"
    } else if starts(b"OggS") {
        "audio/ogg"
    } else if starts(b"fLaC") {
        "audio/flac"
    } else if starts(b"ID3") || (data.len() >= 2 && data[0] == 0xFF && data[1] & 0xE0 == 0xE0) {
        "audio/mpeg"
    } else if data.len() >= 189 && at(188, b"\x47") && data[0] == 0x47 {
        "video/mp2t"
    } else {
        "application/octet-stream"
    }
}

/// Whether `mime` matches one of `allowed` (exact types, `type/*`, or `*/*`).
///
/// ```
/// use blocksmith_upload::magic::allowed;
/// let list = ["image/*".to_string(), "video/mp4".to_string()];
/// assert!(allowed(&list, "image/png"));
/// assert!(!allowed(&list, "application/pdf"));
/// ```
pub fn allowed(allowed: &[String], mime: &str) -> bool {
    allowed.iter().any(|a| {
        a == "*/*"
            || a.eq_ignore_ascii_case(mime)
            || a.strip_suffix("/*").is_some_and(|t| {
                mime.split('/')
                    .next()
                    .is_some_and(|m| m.eq_ignore_ascii_case(t))
            })
    })
}
