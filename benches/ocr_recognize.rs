//! Recognition speed of the built-in recognizer on the lines of an A4 page at 300 DPI (11 pt Noto Sans,
//! a held-out font), against two named baselines in the same run: a copy of the page (memcpy) and
//! segmentation alone (connected components + stacked merging of every word box, no classification).

use std::hint::black_box;
use std::time::Duration;

use blocksmith::ocr::builtin::render::{Font, RenderOptions, render_page};
use blocksmith::ocr::builtin::{BuiltinRecognizer, harness, segment};
use blocksmith::ocr::recognize::Recognizer;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let font = Font::from_bytes(
        "NotoSans",
        include_bytes!("../crates/ocr/tests/data/NotoSans-Regular.ttf").to_vec(),
    )
    .expect("font");
    let text = include_str!("../crates/ocr/data/eval_text.txt");
    let words: Vec<&str> = text.split_whitespace().collect();
    let page = render_page(
        &font,
        &words,
        &RenderOptions::default().with_pt(11.0),
        2480,
        3508,
        236,
        60,
    );
    let lines = harness::split_page(&page.image);
    let chars = page.text.chars().filter(|c| !c.is_whitespace()).count() as u64;
    let rec = BuiltinRecognizer::embedded().expect("model");
    let mut g = c.benchmark_group("ocr");
    g.sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(chars));
    g.bench_function("baseline_memcpy_page", |b| {
        b.iter(|| black_box(page.image.as_raw().clone()));
    });
    g.bench_function("baseline_segmentation_only", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for l in &lines {
                for w in &l.words {
                    n += segment::stack_merge(segment::components(&l.binary, *w, 2)).len();
                }
            }
            black_box(n)
        });
    });
    g.bench_function("recognize_page_lines", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for l in &lines {
                n += rec.recognize_line(&l.as_line()).len();
            }
            black_box(n)
        });
    });
    g.bench_function("split_and_recognize_page", |b| {
        b.iter(|| black_box(harness::recognize_page(&rec, &page.image).len()));
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
