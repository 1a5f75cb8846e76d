use super::render::{PROSE, draw_text, rect_contains, text_width, wrap};
use blocksmith_ocr::layout::{self, BlockKind};
use blocksmith_ocr::preprocess::binarize_otsu;
use image::{GrayImage, Luma};

fn words(line: &str) -> usize {
    line.split_whitespace().count()
}

/// Title across the page, then two columns of wrapped prose.
fn two_column_page() -> (GrayImage, String, Vec<String>, Vec<String>) {
    let mut img = GrayImage::from_pixel(1400, 1100, Luma([255]));
    let title = "Harbour Quarterly Report".to_string();
    let tw = text_width(&title, 44.0);
    draw_text(&mut img, &title, (1400.0 - tw) / 2.0, 110.0, 44.0);
    let left = wrap(PROSE, 22.0, 560.0);
    let right = wrap(
        "Jackdaws love my big sphinx of quartz and the quick onyx goblin jumps over the lazy dwarf while bright vixens jump and dozy fowl quack in the night",
        22.0,
        560.0,
    );
    for (i, l) in left.iter().enumerate() {
        draw_text(&mut img, l, 80.0, 220.0 + i as f32 * 33.0, 22.0);
    }
    for (i, l) in right.iter().enumerate() {
        draw_text(&mut img, l, 760.0, 220.0 + i as f32 * 33.0, 22.0);
    }
    (img, title, left, right)
}

#[test]
fn two_columns_in_reading_order_with_lines_and_words() {
    let (img, title, left, right) = two_column_page();
    let lay = layout::analyze(&binarize_otsu(&img));
    let text: Vec<_> = lay
        .blocks
        .iter()
        .filter(|b| b.kind == BlockKind::Text)
        .collect();
    assert_eq!(
        text.len(),
        3,
        "{:#?}",
        lay.blocks.iter().map(|b| b.bbox).collect::<Vec<_>>()
    );
    // Title, then the left column, then the right column.
    assert_eq!(text[0].lines.len(), 1);
    assert_eq!(text[0].lines[0].words.len(), words(&title));
    assert_eq!(text[1].lines.len(), left.len());
    assert!(text[1].bbox.x < 200 && text[1].bbox.x + text[1].bbox.w < 700);
    assert_eq!(text[2].lines.len(), right.len());
    assert!(text[2].bbox.x > 700);
    for (block, src) in [(text[1], &left), (text[2], &right)] {
        for (l, s) in block.lines.iter().zip(src.iter()) {
            assert_eq!(
                l.words.len(),
                words(s),
                "line {s:?} {:?}",
                l.words.iter().map(|w| (w.x, w.w)).collect::<Vec<_>>()
            );
            for w in &l.words {
                assert!(rect_contains(l.bbox, *w));
            }
            // x-height of DejaVu Sans is 0.55 em; baseline near the drawn one.
            assert!((l.x_height - 12.0).abs() <= 3.0, "x-height {}", l.x_height);
        }
        for (i, l) in block.lines.iter().enumerate() {
            let drawn = 220.0 + i as f32 * 33.0;
            assert!(
                (l.baseline - drawn).abs() <= 2.0,
                "baseline {} vs {drawn}",
                l.baseline
            );
        }
    }
}

#[test]
fn dots_and_accents_join_their_line_and_mixed_sizes_split() {
    let mut img = GrayImage::from_pixel(900, 300, Luma([255]));
    draw_text(&mut img, "minimum illicit jiujitsu", 30.0, 80.0, 30.0);
    draw_text(&mut img, "Big and small", 30.0, 170.0, 48.0);
    draw_text(&mut img, "tiny print here", 400.0, 170.0, 16.0);
    let lay = layout::analyze(&binarize_otsu(&img));
    let lines: Vec<_> = lay.blocks.iter().flat_map(|b| &b.lines).collect();
    assert_eq!(lines[0].words.len(), 3, "{:?}", lines[0].words);
    // Every i/j dot belongs to the first line: no line lies above it.
    assert!(lines.iter().all(|l| l.bbox.y + l.bbox.h > 50));
    let total: usize = lines.iter().map(|l| l.words.len()).sum();
    assert_eq!(total, 9, "{lines:#?}");
}

/// A paragraph, then a ruled 3x4 table with one word per cell.
fn table_page() -> (GrayImage, Vec<Vec<String>>) {
    let mut img = GrayImage::from_pixel(1200, 800, Luma([255]));
    draw_text(&mut img, "Quarterly figures by region", 60.0, 80.0, 28.0);
    let (x0, y0, cw, ch) = (60u32, 150u32, 260u32, 70u32);
    let mut cells = Vec::new();
    for r in 0..3u32 {
        let mut row = Vec::new();
        for c in 0..4u32 {
            let t = format!(
                "{}{}",
                ["North", "South", "East", "West"][c as usize],
                r + 1
            );
            draw_text(
                &mut img,
                &t,
                (x0 + c * cw + 20) as f32,
                (y0 + r * ch + 45) as f32,
                26.0,
            );
            row.push(t);
        }
        cells.push(row);
    }
    for r in 0..=3u32 {
        for x in x0..=x0 + 4 * cw {
            for t in 0..3 {
                img.put_pixel(x, y0 + r * ch + t, Luma([0]));
            }
        }
    }
    for c in 0..=4u32 {
        for y in y0..=y0 + 3 * ch + 2 {
            for t in 0..3 {
                img.put_pixel(x0 + c * cw + t, y, Luma([0]));
            }
        }
    }
    (img, cells)
}

#[test]
fn ruled_table_becomes_cells() {
    let (img, cells) = table_page();
    let lay = layout::analyze(&binarize_otsu(&img));
    assert_eq!(lay.tables.len(), 1);
    let t = &lay.tables[0];
    assert_eq!((t.rows(), t.cols()), (3, 4));
    assert_eq!(lay.blocks[0].kind, BlockKind::Text);
    assert_eq!(lay.blocks[0].lines[0].words.len(), 4);
    let cell_blocks: Vec<_> = lay.blocks.iter().skip(1).collect();
    assert_eq!(cell_blocks.len(), 12);
    for (i, b) in cell_blocks.iter().enumerate() {
        let (r, c) = (i / 4, i % 4);
        assert_eq!(
            b.kind,
            BlockKind::TableCell {
                table: 0,
                row: r as u32,
                col: c as u32
            }
        );
        assert_eq!(b.lines.len(), 1, "cell {r},{c} {:?}", cells[r][c]);
        assert_eq!(b.lines[0].words.len(), 1);
        assert!(rect_contains(b.bbox, b.lines[0].bbox));
    }
}

#[test]
fn blank_and_tiny_pages() {
    let blank = GrayImage::from_pixel(50, 50, Luma([255]));
    assert!(layout::analyze(&blank).blocks.is_empty());
    assert!(layout::analyze(&GrayImage::new(0, 0)).blocks.is_empty());
    let ink = GrayImage::from_pixel(7, 3, Luma([0]));
    let lay = layout::analyze(&ink);
    assert!(lay.blocks.len() <= 1);
}
