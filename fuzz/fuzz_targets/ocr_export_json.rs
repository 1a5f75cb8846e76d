//! `ocr::export::from_json` on arbitrary text: a document or a typed error, never a panic.
//! Whatever reads back writes JSON that reads back to the same document, and the other
//! exports (text, hOCR, review regions) accept it.
#![no_main]

use blocksmith_ocr::export::{from_json, to_hocr, to_json, to_text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = from_json(s) else {
        return;
    };
    let json = to_json(&doc);
    let back = from_json(&json).expect("to_json output reads back");
    assert_eq!(back, doc, "JSON round trip");
    assert_eq!(to_json(&back), json);
    let _ = to_text(&doc);
    let _ = to_hocr(&doc);
    for page in &doc.pages {
        let _ = page.low_confidence(0.5);
    }
});
