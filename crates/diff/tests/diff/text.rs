use blocksmith_diff::text::{Algorithm, DiffOptions, Granularity, TextDiff};
use blocksmith_diff::unified::UnifiedOptions;
use std::time::{Duration, Instant};

const ALL: [Algorithm; 4] = [
    Algorithm::Histogram,
    Algorithm::Myers,
    Algorithm::MyersMinimal,
    Algorithm::Patience,
];

#[test]
fn unified_matches_gnu_diff_output() {
    // Expected output written by GNU diff -u (labels replaced).
    let old = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n";
    let new = "1\n2\n3\n4\nfive\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n";
    let d = TextDiff::new(old, new, &DiffOptions::default());
    let u = d.unified(&UnifiedOptions::default().with_labels("a/n", "b/n"));
    assert_eq!(
        u,
        "--- a/n\n+++ b/n\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n@@ -13,3 +13,4 @@\n 13\n 14\n 15\n+16\n"
    );
}

#[test]
fn unified_headers_for_edge_cases() {
    let opts = UnifiedOptions::default().with_labels("a/f", "b/f");
    // Creation from empty, deletion to empty, missing final newline.
    let u = TextDiff::new("", "x\ny\n", &DiffOptions::default()).unified(&opts);
    assert!(u.contains("@@ -0,0 +1,2 @@\n+x\n+y\n"), "{u}");
    let u = TextDiff::new("x\n", "", &DiffOptions::default()).unified(&opts);
    assert!(u.contains("@@ -1 +0,0 @@\n-x\n"), "{u}");
    let u = TextDiff::new("a\nb", "a\nc", &DiffOptions::default()).unified(&opts);
    assert!(
        u.ends_with("@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"),
        "{u}"
    );
    let u = TextDiff::new("a\nb", "a\nb\n", &DiffOptions::default()).unified(&opts);
    assert!(u.ends_with("-b\n\\ No newline at end of file\n+b\n"), "{u}");
    // Zero context and a git header.
    let u = TextDiff::new("a\nb\nc\n", "a\nB\nc\n", &DiffOptions::default()).unified(
        &UnifiedOptions::default()
            .with_git_path("f.txt")
            .with_context(0),
    );
    assert_eq!(
        u,
        "diff --git a/f.txt b/f.txt\n--- a/f.txt\n+++ b/f.txt\n@@ -2 +2 @@\n-b\n+B\n"
    );
    assert_eq!(
        TextDiff::new("same\n", "same\n", &DiffOptions::default()).unified(&opts),
        ""
    );
}

#[test]
fn granularities_rebuild_the_new_text() {
    let old = "The quick brown fox\njumps over the lazy dog.\n";
    let new = "The quick red fox\njumped over the lazy dogs!\n";
    for g in [Granularity::Line, Granularity::Word, Granularity::Char] {
        for alg in ALL {
            let d = TextDiff::new(
                old,
                new,
                &DiffOptions::default()
                    .with_granularity(g)
                    .with_algorithm(alg),
            );
            assert_eq!(d.apply_to_old(), new, "{g:?} {alg:?}");
            assert!(!d.is_empty());
        }
    }
    let w = TextDiff::new(
        old,
        new,
        &DiffOptions::default().with_granularity(Granularity::Word),
    );
    assert_eq!(
        w.inline(),
        "The quick [-brown-]{+red+} fox\n[-jumps-]{+jumped+} over the lazy [-dog.-]{+dogs!+}\n"
    );
    let c = TextDiff::new(
        "kitten",
        "sitting",
        &DiffOptions::default()
            .with_granularity(Granularity::Char)
            .with_algorithm(Algorithm::MyersMinimal),
    );
    assert_eq!(c.stats().insertions + c.stats().deletions, 5); // 2 substitutions + 1 insertion
}

#[test]
fn patience_and_histogram_anchor_on_unique_lines() {
    // The classic case where Myers aligns on braces and patience/histogram on the functions.
    let old = "fn a() {\n  one\n}\n\nfn b() {\n  two\n}\n";
    let new = "fn a() {\n  one\n}\n\nfn c() {\n  three\n}\n\nfn b() {\n  two\n}\n";
    for alg in [Algorithm::Patience, Algorithm::Histogram] {
        let d = TextDiff::new(old, new, &DiffOptions::default().with_algorithm(alg));
        assert_eq!(d.stats().deletions, 0, "{alg:?}");
        assert_eq!(d.stats().insertions, 4, "{alg:?}");
        assert_eq!(d.apply_to_old(), new);
    }
}

#[test]
fn minimal_myers_is_minimal_on_the_corpus() {
    for (name, a, b) in crate::corpus_pairs().into_iter().take(6) {
        let min = TextDiff::new(
            &a,
            &b,
            &DiffOptions::default()
                .with_algorithm(Algorithm::MyersMinimal)
                .with_deadline(None),
        );
        let m = min.stats().insertions + min.stats().deletions;
        for alg in ALL {
            let d = TextDiff::new(&a, &b, &DiffOptions::default().with_algorithm(alg));
            assert_eq!(d.apply_to_old(), b, "{name} {alg:?}");
            assert!(
                d.stats().insertions + d.stats().deletions >= m,
                "{name} {alg:?}"
            );
        }
    }
}

#[test]
fn deadline_bounds_pathological_input() {
    // Two long sequences with no common structure except scattered equal tokens.
    let old: String = (0..40_000u64)
        .map(|i| format!("{}\n", (i * 7919) % 1000))
        .collect();
    let new: String = (0..40_000u64)
        .map(|i| format!("{}\n", (i * 104_729 + 13) % 1000))
        .collect();
    for alg in [Algorithm::MyersMinimal, Algorithm::Patience] {
        let t = Instant::now();
        let d = TextDiff::new(
            &old,
            &new,
            &DiffOptions::default()
                .with_algorithm(alg)
                .with_deadline(Some(Duration::from_millis(50))),
        );
        let took = t.elapsed();
        assert_eq!(d.apply_to_old(), new, "{alg:?}");
        assert!(took < Duration::from_secs(20), "{alg:?} took {took:?}");
    }
    // The heuristic algorithms stay near linear without any deadline.
    for alg in [Algorithm::Histogram, Algorithm::Myers] {
        let t = Instant::now();
        let d = TextDiff::new(
            &old,
            &new,
            &DiffOptions::default()
                .with_algorithm(alg)
                .with_deadline(None),
        );
        assert_eq!(d.apply_to_old(), new);
        assert!(t.elapsed() < Duration::from_secs(20));
    }
}

#[test]
fn crlf_and_unicode_survive() {
    let old = "α\r\nβ\r\nγ\r\n";
    let new = "α\r\nβ!\r\nγ\r\n";
    let d = TextDiff::new(old, new, &DiffOptions::default());
    assert_eq!(d.stats().edits, 1);
    let u = d.unified(&UnifiedOptions::default());
    let p = blocksmith_diff::patch::Patch::parse(&u).unwrap();
    let back = blocksmith_diff::patch::apply_strict(old, &p.files[0], &Default::default()).unwrap();
    assert_eq!(back, new);
}
