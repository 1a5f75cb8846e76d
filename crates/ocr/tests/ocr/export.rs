use blocksmith_ocr::export::{from_json, to_hocr, to_json, to_text};
use blocksmith_ocr::{
    Block, BlockKind, Char, Document, Error, Line, Orientation, Page, Rect, StageTimings, Word,
};

fn r(x: u32, y: u32, w: u32, h: u32) -> Rect {
    Rect { x, y, w, h }
}

fn word(text: &str, x: u32, y: u32, conf: f32) -> Word {
    let chars = text
        .chars()
        .enumerate()
        .map(|(i, ch)| Char {
            ch,
            bbox: r(x + 10 * i as u32, y, 9, 20),
            confidence: conf,
        })
        .collect();
    Word {
        bbox: r(x, y, 10 * text.chars().count() as u32, 20),
        text: text.into(),
        confidence: conf,
        chars,
    }
}

fn line(words: Vec<Word>) -> Line {
    let bbox = words
        .iter()
        .map(|w| w.bbox)
        .fold(Rect::default(), blocksmith_ocr::layout::union);
    let mut l = Line {
        bbox,
        baseline: (bbox.y + 16) as f32,
        x_height: 10.0,
        confidence: 0.0,
        words,
    };
    l.aggregate();
    l
}

pub(crate) fn sample() -> Document {
    let b1 = Block {
        bbox: r(10, 10, 300, 50),
        kind: BlockKind::Text,
        confidence: 0.0,
        lines: vec![
            line(vec![word("Left", 10, 10, 0.9), word("<col>", 60, 10, 0.5)]),
            line(vec![word("a&b", 10, 40, 0.99)]),
        ],
    };
    let b2 = Block {
        bbox: r(400, 10, 300, 30),
        kind: BlockKind::TableCell {
            table: 0,
            row: 0,
            col: 1,
        },
        confidence: 0.0,
        lines: vec![line(vec![word("Right\"'", 400, 10, 0.7)])],
    };
    let mut p = Page {
        index: 0,
        width: 800,
        height: 600,
        orientation: Orientation::Right,
        skew_degrees: 1.25,
        scale: 1.0,
        confidence: 0.0,
        blocks: vec![b1, b2],
        timings: StageTimings::default(),
    };
    p.aggregate();
    let mut p2 = p.clone();
    p2.index = 1;
    p2.blocks.truncate(1);
    p2.aggregate();
    Document {
        pages: vec![p, p2],
        timings: StageTimings::default(),
    }
}

#[test]
fn plain_text_in_reading_order() {
    let t = to_text(&sample());
    assert_eq!(t, "Left <col>\na&b\n\nRight\"'\n\u{c}Left <col>\na&b\n");
    assert_eq!(to_text(&Document::default()), "");
}

/// Checks that tags nest and close (a minimal XML well-formedness check).
fn balanced(xml: &str) -> bool {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find('<') {
        let Some(j) = rest[i..].find('>') else {
            return false;
        };
        let tag = &rest[i + 1..i + j];
        rest = &rest[i + j + 1..];
        if tag.starts_with('?') || tag.starts_with('!') || tag.ends_with('/') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            if stack.pop().as_deref() != Some(name) {
                return false;
            }
        } else {
            stack.push(tag.split_whitespace().next().unwrap_or("").to_string());
        }
    }
    stack.is_empty() && !rest.contains('>')
}

#[test]
fn hocr_is_well_formed_with_boxes_and_confidences() {
    let h = to_hocr(&sample());
    assert!(balanced(&h), "{h}");
    assert_eq!(h.matches("class=\"ocr_page\"").count(), 2);
    assert_eq!(h.matches("class=\"ocr_carea\"").count(), 3);
    assert_eq!(h.matches("class=\"ocr_par\"").count(), 3);
    assert_eq!(h.matches("class=\"ocr_line\"").count(), 5);
    assert_eq!(h.matches("class=\"ocrx_word\"").count(), 7);
    assert!(h.contains("title=\"bbox 0 0 800 600; ppageno 0\""));
    assert!(h.contains("title=\"bbox 60 10 110 30; x_wconf 50\">&lt;col&gt;</span>"));
    assert!(h.contains(">a&amp;b<"));
    assert!(h.contains(">Right&quot;&#39;<"));
    // Every element id is unique.
    let ids: Vec<&str> = h
        .split("id=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    let mut uniq = ids.clone();
    uniq.sort_unstable();
    uniq.dedup();
    assert_eq!(ids.len(), uniq.len());
}

#[test]
fn json_round_trip_and_errors() {
    let d = sample();
    let j = to_json(&d);
    assert_eq!(from_json(&j).unwrap(), d);
    assert!(j.contains("\"table_cell\""));
    assert!(matches!(from_json("{\"pages\": 3}"), Err(Error::Serde(_))));
    assert!(matches!(from_json(""), Err(Error::Serde(_))));
}

#[test]
fn confidence_aggregation_and_review() {
    let d = sample();
    let p = &d.pages[0];
    // Line 1: "Left" (4 chars, 0.9) and "<col>" (5 chars, 0.5).
    let l = &p.blocks[0].lines[0];
    assert!((l.confidence - (4.0 * 0.9 + 5.0 * 0.5) / 9.0).abs() < 1e-6);
    let chars = 9.0 + 3.0 + 7.0;
    let want = (4.0 * 0.9 + 5.0 * 0.5 + 3.0 * 0.99 + 7.0 * 0.7) / chars;
    assert!((p.confidence - want).abs() < 1e-6);
    let review = d.low_confidence(0.75);
    let texts: Vec<&str> = review.iter().map(|r| r.text.as_str()).collect();
    assert_eq!(texts, ["<col>", "Right\"'", "<col>"]);
    assert_eq!(review[2].page, 1);
}
