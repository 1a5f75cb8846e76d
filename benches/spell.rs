//! `cargo bench --bench spell`: per-word latency of blocksmith-spell against
//! the `symspell` crate (same dictionary, distance 2, prefix 7), and
//! dictionary load time.
//!
//! - `lookup`: candidate generation only (all words within distance 2),
//!   ours vs `symspell` `Verbosity::All`, for a batch of 16 typos and
//!   (`lookup_word`) one typo at a time;
//! - `correct`: our full noisy-channel correction vs `symspell`
//!   `Verbosity::Top` (closest, then most frequent);
//! - `load`: decoding the embedded dictionary, building our index, and
//!   `symspell` loading the same words.

use blocksmith::spell::{Lexicon, SpellOptions, Speller};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use symspell::{AsciiStringStrategy, SymSpell, SymSpellBuilder, Verbosity};

/// Typos of several shapes and lengths (transpositions, omissions, doubles,
/// substitutions, distance 2 and 3).
const WORDS: [&str; 16] = [
    "teh",
    "recieve",
    "acommodate",
    "definately",
    "seperate",
    "occured",
    "wierd",
    "untill",
    "goverment",
    "tommorow",
    "begining",
    "beleive",
    "neccessary",
    "accross",
    "enviroment",
    "responsbility",
];

fn symspell_from(lex: &Lexicon) -> SymSpell<AsciiStringStrategy> {
    let mut s: SymSpell<AsciiStringStrategy> = SymSpellBuilder::default()
        .max_dictionary_edit_distance(2)
        .prefix_length(7)
        .count_threshold(1)
        .build()
        .expect("symspell settings");
    for (w, f) in lex.iter() {
        s.load_dictionary_line(&format!("{w} {f}"), 0, 1, " ");
    }
    s
}

fn bench(c: &mut Criterion) {
    let ours = Speller::english();
    let theirs = symspell_from(Lexicon::english());

    let mut g = c.benchmark_group("lookup");
    g.bench_function("blocksmith::spell", |b| {
        b.iter(|| {
            for w in WORDS {
                black_box(ours.lookup(black_box(w), 2));
            }
        });
    });
    g.bench_function("symspell", |b| {
        b.iter(|| {
            for w in WORDS {
                black_box(theirs.lookup(black_box(w), Verbosity::All, 2));
            }
        });
    });
    g.finish();

    // One word at a time, for the per-word median.
    let mut g = c.benchmark_group("lookup_word");
    g.measurement_time(Duration::from_secs(2));
    g.warm_up_time(Duration::from_millis(500));
    for w in WORDS {
        g.bench_with_input(BenchmarkId::new("blocksmith::spell", w), w, |b, w| {
            b.iter(|| black_box(ours.lookup(black_box(w), 2)));
        });
        g.bench_with_input(BenchmarkId::new("symspell", w), w, |b, w| {
            b.iter(|| black_box(theirs.lookup(black_box(w), Verbosity::All, 2)));
        });
    }
    g.finish();

    let mut g = c.benchmark_group("correct");
    g.bench_function("blocksmith::spell", |b| {
        b.iter(|| {
            for w in WORDS {
                black_box(ours.correct(black_box(w), None));
            }
        });
    });
    g.bench_function("symspell_top", |b| {
        b.iter(|| {
            for w in WORDS {
                black_box(theirs.lookup(black_box(w), Verbosity::Top, 2));
            }
        });
    });
    g.finish();

    let mut g = c.benchmark_group("load");
    g.sample_size(10);
    g.bench_function("blocksmith_spell_decode", |b| {
        b.iter(|| black_box(Lexicon::decode(Lexicon::english_bytes()).expect("valid")));
    });
    g.bench_function("blocksmith_spell_decode_and_index", |b| {
        b.iter(|| {
            let lex = Lexicon::decode(Lexicon::english_bytes()).expect("valid");
            black_box(Speller::new(lex, SpellOptions::default()))
        });
    });
    g.bench_function("symspell", |b| {
        b.iter(|| black_box(symspell_from(Lexicon::english())));
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
