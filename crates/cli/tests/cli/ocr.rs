//! `blocksmith ocr ...`, run as a user would. Goes in `crates/cli/tests/cli/ocr.rs` with
//! `mod ocr;` in `tests/cli/main.rs`, whose `run` and `json` helpers it uses.

use super::{json, run};

/// A PGM page: two lines of three "words" of dark blobs each.
fn page() -> Vec<u8> {
    let (w, h) = (600u32, 300u32);
    let mut px = vec![250u8; (w * h) as usize];
    for line in 0..2u32 {
        for word in 0..3u32 {
            for glyph in 0..4u32 {
                let x0 = 40 + word * 120 + glyph * 24;
                let y0 = 60 + line * 90;
                for y in y0..y0 + 30 {
                    for x in x0..x0 + 16 {
                        px[(y * w + x) as usize] = 20;
                    }
                }
            }
        }
    }
    let mut out = format!("P5\n{w} {h}\n255\n").into_bytes();
    out.extend_from_slice(&px);
    out
}

#[test]
fn ocr_json_hocr_text_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let img = d.join("page.pgm");
    std::fs::write(&img, page()).unwrap();
    let p = img.to_str().unwrap();

    let o = run(d, &["ocr", p, "--json"]);
    assert!(o.status.success(), "{o:?}");
    let v = json(&o);
    assert_eq!(v[0]["pages"], 1);
    let job = v[0]["job"].as_str().unwrap().to_string();
    let lines: usize = v[0]["document"]["pages"][0]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["lines"].as_array().unwrap().len())
        .sum();
    assert_eq!(
        lines, 2,
        "layout finds both lines whatever the recogniser reads"
    );

    // Same image again: the same job from the store.
    let o = run(d, &["ocr", p, "--json"]);
    assert_eq!(json(&o)[0]["job"].as_str().unwrap(), job);

    let o = run(d, &["ocr", p, "--hocr"]);
    assert!(o.status.success(), "{o:?}");
    let h = String::from_utf8(o.stdout).unwrap();
    assert!(h.contains("class=\"ocr_page\""));
    assert_eq!(h.matches("class=\"ocr_line\"").count(), 2);

    let o = run(d, &["ocr", p, "--text"]);
    assert!(o.status.success(), "{o:?}");

    let bad = d.join("bad.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let o = run(d, &["ocr", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.png"));
    let o = run(d, &["ocr", d.join("missing.png").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3), "a missing input is not found");
}

/// A page of real text, typeset in a font the recognizer never saw, read back with `--text`.
#[test]
fn ocr_text_reads_a_typeset_page() {
    use blocksmith_ocr::builtin::render::{Font, RenderOptions, render_page};
    let font = Font::from_bytes(
        "Noto Sans",
        include_bytes!("../../../ocr/tests/data/NotoSans-Regular.ttf").to_vec(),
    )
    .unwrap();
    let words: Vec<&str> = "Every crate here is fast and correct on hostile input"
        .split(' ')
        .collect();
    let page = render_page(
        &font,
        &words,
        &RenderOptions::default().with_pt(12.0),
        1240,
        600,
        100,
        4,
    );
    let dir = tempfile::tempdir().unwrap();
    let img = dir.path().join("typeset.png");
    page.image.save(&img).unwrap();
    let o = run(dir.path(), &["ocr", img.to_str().unwrap(), "--text"]);
    assert!(o.status.success(), "{o:?}");
    let text = String::from_utf8(o.stdout).unwrap();
    let got: Vec<&str> = text.split_whitespace().collect();
    let right = got.iter().zip(&words).filter(|(a, b)| a == b).count();
    assert!(right + 1 >= words.len(), "{text:?} vs {words:?}");
}
