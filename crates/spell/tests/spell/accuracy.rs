//! Accuracy bars on held-out halves of public misspelling lists (sampled so
//! the debug build stays quick; `examples/spell_eval.rs` runs them whole).

use super::{data, speller};
use blocksmith_spell::Verdict;

fn is_test(word: &str) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in word.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h & 1 == 1
}

/// (top-1, replacements, right replacements, n) on every `step`-th held-out pair.
fn measure(list: &str, step: usize) -> (f64, usize, usize, usize) {
    let s = speller();
    let text = data(list);
    let pairs: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(b, _)| is_test(b))
        .step_by(step)
        .collect();
    let (mut top1, mut rep, mut right) = (0usize, 0usize, 0usize);
    for (bad, good) in &pairs {
        let c = s.correct(bad, None);
        if s.best(bad, None) == *good {
            top1 += 1;
        }
        if c.replace {
            rep += 1;
            right += usize::from(c.best == *good);
        }
        assert!(c.verdict != Verdict::Protected(blocksmith_spell::Protection::Code));
    }
    (top1 as f64 / pairs.len() as f64, rep, right, pairs.len())
}

fn check(list: &str, step: usize, min_top1: f64) {
    let (top1, rep, right, n) = measure(list, step);
    let precision = right as f64 / rep.max(1) as f64;
    eprintln!("{list}: n={n} top1={top1:.4} replaced={rep} precision={precision:.4}");
    assert!(top1 >= min_top1, "{list}: top-1 {top1:.4} < {min_top1}");
    assert!(precision >= 0.97, "{list}: precision {precision:.4}");
    assert!(rep * 10 >= n, "{list}: replaces too rarely ({rep} of {n})");
}

// Floors sit a little under the full-list figures in docs/benchmarks.md
// (symspellpy scores 85.5 / 81.7 / 85.5 on the same halves).
#[test]
fn wikipedia_list() {
    check("wikipedia.tsv", 2, 0.90);
}

#[test]
fn codespell_list() {
    check("codespell.tsv", 40, 0.84);
}

#[test]
fn cspell_list() {
    check("cspell.tsv", 60, 0.87);
}

#[test]
fn correctly_spelled_text_is_left_alone() {
    let s = speller();
    let text = data("correct_text.txt");
    let r = s.correct_text(&text);
    assert!(r.words > 29_000);
    let per_1000 = r.replacements.len() as f64 * 1000.0 / r.words as f64;
    eprintln!(
        "false replacements: {} in {} words",
        r.replacements.len(),
        r.words
    );
    assert!(
        per_1000 <= 0.5,
        "{per_1000:.2} false replacements per 1000 words: {:?}",
        r.replacements
    );
}
