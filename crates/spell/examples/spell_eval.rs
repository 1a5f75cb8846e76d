//! Accuracy evaluation on public misspelling lists and on correctly spelled
//! text; fits the confidence calibration. Not part of the tour.
//!
//! ```text
//! cargo run --release --example spell_eval -- [DATA_DIR] [--scale S] [--keep K] [--threshold T] [--fit]
//! ```
//!
//! Each list is split by a hash of the misspelling into a dev half (used to fit
//! the calibration with `--fit`) and a held-out test half (reported). Figures:
//! top-1 accuracy (the best candidate is the listed correction), silent
//! replacements made and their precision, and false replacements per 1000 words
//! of correctly spelled text (a public-domain Sherlock Holmes passage).

use blocksmith_spell::{SpellOptions, Speller, Verdict};
use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

/// The held-out half: FNV-1a of the misspelling is odd.
pub(crate) fn is_test(word: &str) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in word.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h & 1 == 1
}

/// `(misspelling, correction)` pairs of a list.
pub(crate) fn read_pairs(path: &std::path::Path) -> Result<Vec<(String, String)>, Box<dyn Error>> {
    Ok(std::fs::read_to_string(path)?
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect())
}

#[derive(Default, Debug)]
pub(crate) struct Score {
    pub(crate) n: usize,
    pub(crate) top1: usize,
    pub(crate) replaced: usize,
    pub(crate) replaced_right: usize,
}

/// Scores a speller on pairs; `samples` collects (raw confidence, correct) for calibration.
pub(crate) fn score(
    sp: &Speller,
    pairs: &[(String, String)],
    samples: &mut Vec<(f64, bool)>,
) -> Score {
    let mut s = Score::default();
    for (bad, good) in pairs {
        let c = sp.correct(bad, None);
        s.n += 1;
        let best = if matches!(c.verdict, Verdict::Suggest | Verdict::Replace) && c.best == c.word {
            c.suggestions
                .first()
                .map_or(c.best.clone(), |x| x.word.clone())
        } else {
            c.best.clone()
        };
        if best == *good {
            s.top1 += 1;
        }
        if matches!(c.verdict, Verdict::Suggest | Verdict::Replace) && c.best != c.word {
            samples.push((c.confidence, c.best == *good));
        }
        if c.replace {
            s.replaced += 1;
            if c.best == *good {
                s.replaced_right += 1;
            }
        }
    }
    s
}

/// Words and false replacements on correct text; samples get its candidates as negatives.
pub(crate) fn false_replacements(
    sp: &Speller,
    text: &str,
    samples: &mut Vec<(f64, bool)>,
) -> (usize, usize, Vec<String>) {
    let r = sp.correct_text(text);
    let mut examples = Vec::new();
    for x in &r.replacements {
        if examples.len() < 12 {
            examples.push(format!("{}->{}", x.original, x.replacement));
        }
        samples.push((x.confidence, false));
    }
    for f in &r.flagged {
        if let Some(s) = f.suggestions.first() {
            samples.push((s.confidence, false));
        }
    }
    (r.words, r.replacements.len(), examples)
}

fn fit_platt(samples: &[(f64, bool)]) -> (f64, f64) {
    let xs: Vec<(f64, f64)> = samples
        .iter()
        .map(|&(p, y)| {
            let p = p.clamp(1e-9, 1.0 - 1e-9);
            ((p / (1.0 - p)).ln(), if y { 1.0 } else { 0.0 })
        })
        .collect();
    let (mut a, mut b) = (1.0f64, 0.0f64);
    for _ in 0..3000 {
        let (mut ga, mut gb) = (0.0, 0.0);
        for &(x, y) in &xs {
            let q = 1.0 / (1.0 + (-(a * x + b)).exp());
            ga += (q - y) * x;
            gb += q - y;
        }
        let n = xs.len().max(1) as f64;
        a -= 0.05 * ga / n;
        b -= 0.05 * gb / n;
    }
    (a, b)
}

fn ece(samples: &[(f64, bool)]) -> (f64, Vec<(f64, f64, usize)>) {
    let mut bins = vec![(0.0, 0.0, 0usize); 10];
    for &(p, y) in samples {
        let k = ((p * 10.0) as usize).min(9);
        bins[k].0 += p;
        bins[k].1 += if y { 1.0 } else { 0.0 };
        bins[k].2 += 1;
    }
    let n = samples.len().max(1) as f64;
    let mut e = 0.0;
    let mut rows = Vec::new();
    for &(sp, sy, c) in &bins {
        if c > 0 {
            e += (sp - sy).abs() / n;
            rows.push((sp / c as f64, sy / c as f64, c));
        }
    }
    (e, rows)
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/spell/data"));
    let mut opts = SpellOptions::default();
    let mut fit = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val =
            || -> Result<f64, Box<dyn Error>> { Ok(args.next().ok_or("missing value")?.parse()?) };
        match a.as_str() {
            "--scale" => opts = opts.with_error_scale(val()?),
            "--keep" => opts = opts.with_keep_log_prior(val()?),
            "--threshold" => opts = opts.with_threshold(val()?),
            "--margin" => opts = opts.with_min_margin(val()?),
            "--bigram" => opts = opts.with_bigram_weight(val()?),
            "--fit" => fit = true,
            "--tune" => return tune(&dir, opts),
            "--misses" => {
                let sp = Speller::english_with(opts.clone());
                misses(&sp, &read_pairs(&dir.join(args.next().ok_or("list")?))?);
                return Ok(());
            }
            "--wrong" => {
                let sp = Speller::english_with(opts.clone());
                wrong(&sp, &read_pairs(&dir.join(args.next().ok_or("list")?))?);
                return Ok(());
            }
            other => dir = PathBuf::from(other),
        }
    }
    if fit {
        opts = opts.with_calibration(1.0, 0.0);
    }
    let t = Instant::now();
    let sp = Speller::english_with(opts.clone());
    println!("load+index {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let text = std::fs::read_to_string(dir.join("correct_text.txt"))?;
    let lines: Vec<&str> = text.lines().collect();
    let (dev_text, test_text) = lines.split_at(lines.len() / 2);
    let (dev_text, test_text) = (dev_text.join("\n"), test_text.join("\n"));
    let t = Instant::now();
    let mut sym: symspell::SymSpell<symspell::AsciiStringStrategy> =
        symspell::SymSpellBuilder::default()
            .max_dictionary_edit_distance(2)
            .prefix_length(7)
            .count_threshold(1)
            .build()?;
    for (w, f) in sp.lexicon().iter() {
        sym.load_dictionary_line(&format!("{w} {f}"), 0, 1, " ");
    }
    println!(
        "symspell crate load {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let mut dev_samples = Vec::new();
    let mut test_samples = Vec::new();
    for name in ["wikipedia", "codespell", "cspell"] {
        let pairs = read_pairs(&dir.join(format!("{name}.tsv")))?;
        let (test, dev): (Vec<_>, Vec<_>) = pairs.into_iter().partition(|(b, _)| is_test(b));
        let t = Instant::now();
        let d = score(&sp, &dev, &mut dev_samples);
        let s = score(&sp, &test, &mut test_samples);
        let us = t.elapsed().as_secs_f64() * 1e6 / (d.n + s.n) as f64;
        let t = Instant::now();
        let sym_right = test
            .iter()
            .filter(|(b, g)| {
                sym.lookup(b, symspell::Verbosity::Top, 2)
                    .first()
                    .is_some_and(|x| x.term == *g)
            })
            .count();
        let sym_us = t.elapsed().as_secs_f64() * 1e6 / test.len() as f64;
        println!(
            "{name:10} test n={} top1={:.2}% replaced={} ({:.1}%) precision={:.2}% | dev top1={:.2}% precision={:.2}% | {us:.1} us/word | symspell crate top1={:.2}% {sym_us:.1} us/word",
            s.n,
            100.0 * s.top1 as f64 / s.n as f64,
            s.replaced,
            100.0 * s.replaced as f64 / s.n as f64,
            100.0 * s.replaced_right as f64 / s.replaced.max(1) as f64,
            100.0 * d.top1 as f64 / d.n as f64,
            100.0 * d.replaced_right as f64 / d.replaced.max(1) as f64,
            100.0 * sym_right as f64 / test.len() as f64,
        );
    }
    let (wd, fd, _) = false_replacements(&sp, &dev_text, &mut dev_samples);
    let (wt, ft, ex) = false_replacements(&sp, &test_text, &mut test_samples);
    println!(
        "correct text: test {ft} false replacements in {wt} words ({:.2}/1000) | dev {fd} in {wd} ({:.2}/1000); e.g. {ex:?}",
        1000.0 * ft as f64 / wt as f64,
        1000.0 * fd as f64 / wd as f64
    );
    if fit {
        let (a, b) = fit_platt(&dev_samples);
        println!(
            "platt fit on {} dev samples: a={a:.4} b={b:.4}",
            dev_samples.len()
        );
    }
    let (e, rows) = ece(&test_samples);
    println!(
        "calibration on {} held-out samples: ECE={e:.4}",
        test_samples.len()
    );
    for (p, acc, c) in rows {
        println!("  mean confidence {p:.3}  accuracy {acc:.3}  n={c}");
    }
    Ok(())
}

/// Prints wrong silent replacements of a list (diagnostics).
#[allow(dead_code)]
pub(crate) fn wrong(sp: &Speller, pairs: &[(String, String)]) {
    for (bad, good) in pairs.iter().take(20000) {
        let c = sp.correct(bad, None);
        if c.replace && c.best != *good {
            println!(
                "WRONG {bad} -> {} (want {good}) conf {:.3}",
                c.best, c.confidence
            );
        }
    }
}

/// Prints top-1 misses of a list (diagnostics).
#[allow(dead_code)]
pub(crate) fn misses(sp: &Speller, pairs: &[(String, String)]) {
    for (bad, good) in pairs {
        let got = sp.best(bad, None);
        if got != *good {
            let c = sp.correct(bad, None);
            let sug: Vec<String> = c
                .suggestions
                .iter()
                .take(3)
                .map(|s| format!("{}:{:.2}", s.word, s.confidence))
                .collect();
            println!(
                "MISS {bad} -> {got} (want {good}, known={}) {sug:?}",
                sp.is_known(good)
            );
        }
    }
}

type Field = fn(&mut blocksmith_spell::ErrorCosts) -> &mut f64;

/// Coordinate descent over the error-model costs on the dev halves (subsampled).
#[allow(dead_code)]
pub(crate) fn tune(dir: &std::path::Path, base: SpellOptions) -> Result<(), Box<dyn Error>> {
    let mut lists = Vec::new();
    for name in ["wikipedia", "codespell", "cspell"] {
        let pairs = read_pairs(&dir.join(format!("{name}.tsv")))?;
        let dev: Vec<_> = pairs.into_iter().filter(|(b, _)| !is_test(b)).collect();
        let step = (dev.len() / 2500).max(1);
        lists.push(dev.into_iter().step_by(step).collect::<Vec<_>>());
    }
    let eval = |o: &SpellOptions| -> f64 {
        let sp = Speller::english_with(o.clone());
        lists
            .iter()
            .map(|l| {
                l.iter().filter(|(b, g)| sp.best(b, None) == *g).count() as f64 / l.len() as f64
            })
            .sum::<f64>()
            / 3.0
    };
    let mut best = base;
    let mut best_score = eval(&best);
    println!("start {best_score:.4}");
    let fields: [(&str, Field); 13] = [
        ("missing_space", |c| &mut c.missing_space),
        ("adjacent_key", |c| &mut c.adjacent_key),
        ("vowel", |c| &mut c.vowel),
        ("sound_alike", |c| &mut c.sound_alike),
        ("substitution", |c| &mut c.substitution),
        ("doubled", |c| &mut c.doubled),
        ("dropped_double", |c| &mut c.dropped_double),
        ("dropped_vowel", |c| &mut c.dropped_vowel),
        ("deletion", |c| &mut c.deletion),
        ("adjacent_insert", |c| &mut c.adjacent_insert),
        ("insertion", |c| &mut c.insertion),
        ("transposition", |c| &mut c.transposition),
        ("phonetic_bonus", |c| &mut c.phonetic_bonus),
    ];
    for round in 0..1 {
        for (name, f) in &fields {
            for factor in [0.8, 0.9, 1.1, 1.25] {
                let mut costs = best.costs;
                *f(&mut costs) *= factor;
                let o = best.clone().with_costs(costs);
                let s = eval(&o);
                if s > best_score + 1e-4 {
                    best_score = s;
                    best = o;
                    println!("round {round} {name} x{factor} -> {s:.4}");
                }
            }
        }
        for len in [7, 8, 10] {
            let o = best.clone().with_long_word_len(len);
            let s = eval(&o);
            if s > best_score + 1e-4 {
                best_score = s;
                best = o;
                println!("round {round} long_word_len {len} -> {s:.4}");
            }
        }
        for factor in [0.85, 1.15] {
            let o = best.clone().with_error_scale(best.error_scale * factor);
            let s = eval(&o);
            if s > best_score + 1e-4 {
                best_score = s;
                best = o;
                println!("round {round} error_scale x{factor} -> {s:.4}");
            }
        }
    }
    println!(
        "best {best_score:.4}: {:?} scale {} long {}",
        best.costs, best.error_scale, best.long_word_len
    );
    Ok(())
}
