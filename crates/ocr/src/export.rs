//! Exports: plain text in reading order, hOCR and JSON.

use crate::tree::Document;
use crate::{Error, Rect, Result};
use std::fmt::Write as _;

/// Plain text in reading order: lines end with `\n`, blocks are separated by a blank line,
/// pages by a form feed.
pub fn to_text(doc: &Document) -> String {
    let mut out = String::new();
    for (pi, page) in doc.pages.iter().enumerate() {
        if pi > 0 {
            out.push('\u{c}');
        }
        let mut first = true;
        for block in &page.blocks {
            let lines: Vec<String> = block
                .lines
                .iter()
                .map(crate::tree::Line::text)
                .filter(|t| !t.is_empty())
                .collect();
            if lines.is_empty() {
                continue;
            }
            if !first {
                out.push('\n');
            }
            first = false;
            for l in lines {
                out.push_str(&l);
                out.push('\n');
            }
        }
    }
    out
}

fn esc(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

fn bbox(r: Rect) -> String {
    format!("bbox {} {} {} {}", r.x, r.y, r.x + r.w, r.y + r.h)
}

/// hOCR 1.2 as XHTML: `ocr_page`, `ocr_carea`, `ocr_par`, `ocr_line` and `ocrx_word` elements with
/// `bbox`, `baseline`, `x_size` and `x_wconf` (0-100).
pub fn to_hocr(doc: &Document) -> String {
    let mut o = String::new();
    o.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    o.push_str("<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" \"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n");
    o.push_str("<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n<head>\n<title></title>\n");
    o.push_str("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\" />\n");
    o.push_str("<meta name=\"ocr-system\" content=\"blocksmith-ocr\" />\n");
    o.push_str("<meta name=\"ocr-capabilities\" content=\"ocr_page ocr_carea ocr_par ocr_line ocrx_word\" />\n</head>\n<body>\n");
    let (mut nb, mut nl, mut nw) = (0, 0, 0);
    for p in &doc.pages {
        let pr = Rect {
            x: 0,
            y: 0,
            w: p.width,
            h: p.height,
        };
        let _ = writeln!(
            o,
            "<div class=\"ocr_page\" id=\"page_{}\" title=\"{}; ppageno {}\">",
            p.index + 1,
            bbox(pr),
            p.index
        );
        for b in &p.blocks {
            nb += 1;
            let _ = writeln!(
                o,
                "<div class=\"ocr_carea\" id=\"block_{nb}\" title=\"{}\">\n<p class=\"ocr_par\" id=\"par_{nb}\" title=\"{}\">",
                bbox(b.bbox),
                bbox(b.bbox)
            );
            for l in &b.lines {
                nl += 1;
                let slope_off = l.baseline - (l.bbox.y + l.bbox.h) as f32;
                let _ = write!(
                    o,
                    "<span class=\"ocr_line\" id=\"line_{nl}\" title=\"{}; baseline 0 {:.0}; x_size {:.1}\">",
                    bbox(l.bbox),
                    slope_off,
                    l.x_height
                );
                for (k, w) in l.words.iter().enumerate() {
                    nw += 1;
                    if k > 0 {
                        o.push(' ');
                    }
                    let _ = write!(
                        o,
                        "<span class=\"ocrx_word\" id=\"word_{nw}\" title=\"{}; x_wconf {}\">",
                        bbox(w.bbox),
                        (w.confidence.clamp(0.0, 1.0) * 100.0).round() as u32
                    );
                    esc(&w.text, &mut o);
                    o.push_str("</span>");
                }
                o.push_str("</span>\n");
            }
            o.push_str("</p>\n</div>\n");
        }
        o.push_str("</div>\n");
    }
    o.push_str("</body>\n</html>\n");
    o
}

/// The document as JSON (the serde form of [`Document`]).
pub fn to_json(doc: &Document) -> String {
    serde_json::to_string(doc).unwrap_or_else(|_| "{}".to_string())
}

/// Reads a document back from [`to_json`] output.
///
/// # Errors
/// [`Error::Serde`] if `s` is not the JSON of a [`Document`].
pub fn from_json(s: &str) -> Result<Document> {
    serde_json::from_str(s).map_err(|e| Error::Serde(e.to_string()))
}
