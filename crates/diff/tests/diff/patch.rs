use blocksmith_diff::Error;
use blocksmith_diff::patch::{ApplyOptions, HunkLine, Patch, apply, apply_strict};

const GIT_PATCH: &str = "From 1234 Mon Sep 17 00:00:00 2001
Subject: [PATCH] tweak

---
 f.txt | 2 +-

diff --git a/f.txt b/f.txt
index 3b18e51..a1b2c3d 100644
--- a/f.txt
+++ b/f.txt
@@ -1,4 +1,4 @@ section
 one
-two
+TWO
 three
 four
diff --git a/old.txt b/new.txt
similarity index 100%
rename from old.txt
rename to new.txt
diff --git a/g.txt b/g.txt
new file mode 100644
index 0000000..e69de29
--- /dev/null
+++ b/g.txt
@@ -0,0 +1 @@
+hello
\\ No newline at end of file
-- 
2.47.3
";

#[test]
fn parses_git_format_patch_with_garbage_renames_and_new_files() {
    let p = Patch::parse(GIT_PATCH).unwrap();
    assert_eq!(p.files.len(), 3);
    let f = &p.files[0];
    assert_eq!(f.old_path.as_deref(), Some("a/f.txt"));
    assert_eq!(f.target_path(1).as_deref(), Some("f.txt"));
    assert_eq!(f.hunks[0].section.as_deref(), Some("section"));
    assert_eq!(f.hunks[0].lines.len(), 5);
    let r = &p.files[1];
    assert!(r.hunks.is_empty());
    assert_eq!(r.old_path.as_deref(), Some("a/old.txt"));
    assert_eq!(r.new_path.as_deref(), Some("b/new.txt"));
    let g = &p.files[2];
    assert_eq!(g.old_path, None);
    assert_eq!(
        g.hunks[0].lines,
        [HunkLine::Add {
            text: "hello".into(),
            newline: false
        }]
    );
    assert_eq!(
        apply_strict("", g, &ApplyOptions::strict()).unwrap(),
        "hello"
    );
}

#[test]
fn malformed_patches_give_line_numbers() {
    let cases = [
        ("--- a\n+++ b\n@@ -1,2 +1,2 @@\n a\n-b\n", 5, "truncated"),
        ("--- a\n+++ b\n@@ -1 +1 @@\n-a\n-b\n+c\n", 5, "more lines"),
        ("--- a\n+++ b\n@@ -x +1 @@\n", 3, "bad number"),
        ("--- a\n+++ b\n@@ -1,1 +1,1\n a\n", 3, "closing"),
        ("--- a\n+++ b\n@@ -1 +1 @@\n?a\n", 4, "unexpected"),
        (
            "--- a\n+++ b\n@@ -99999999999999999999999 +1 @@\n",
            3,
            "out of range",
        ),
        ("@@ -1 +1 @@\n-a\n+b\n", 1, "without"),
        ("just some text\n", 1, "no patch"),
        (
            "diff --git a/x b/x\nBinary files a/x and b/x differ\n",
            2,
            "binary",
        ),
        ("--- \"a\\qx\"\n+++ b\n@@ -1 +1 @@\n-a\n+b\n", 1, "escape"),
    ];
    for (text, line, what) in cases {
        match Patch::parse(text) {
            Err(Error::PatchSyntax { line: l, message }) => {
                assert_eq!(l, line, "{text:?}: {message}");
                assert!(message.contains(what), "{text:?}: {message}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
}

#[test]
fn offset_and_fuzz_like_gnu_patch() {
    let patch = Patch::parse("--- a/f\n+++ b/f\n@@ -2,5 +2,5 @@\n c1\n c2\n-old\n+new\n c3\n c4\n")
        .unwrap();
    let f = &patch.files[0];
    // Exact.
    let r = apply("x\nc1\nc2\nold\nc3\nc4\n", f, &ApplyOptions::default());
    assert_eq!(
        (r.text.as_str(), r.hunks[0].offset, r.hunks[0].fuzz),
        ("x\nc1\nc2\nnew\nc3\nc4\n", 0, 0)
    );
    // Offset: three lines were inserted above.
    let r = apply(
        "p\nq\nr\nx\nc1\nc2\nold\nc3\nc4\n",
        f,
        &ApplyOptions::default(),
    );
    assert_eq!(r.hunks[0].offset, 3);
    assert!(r.text.contains("c2\nnew\nc3"));
    // Fuzz 1: the first and last context lines changed.
    let r = apply("x\nC1\nc2\nold\nc3\nC4\n", f, &ApplyOptions::default());
    assert_eq!(r.hunks[0].fuzz, 1);
    assert_eq!(r.text, "x\nC1\nc2\nnew\nc3\nC4\n");
    // Fuzz 2 needed but only 1 allowed: rejected, text unchanged, .rej written.
    let target = "x\nC1\nC2\nold\nc3\nc4\n";
    let r = apply(target, f, &ApplyOptions::default().with_fuzz(1));
    assert_eq!(r.rejects.len(), 1);
    assert_eq!(r.text, target);
    assert!(r.rejects_file(f).contains("@@ -2,5 +2,5 @@\n c1\n"));
    assert!(r.rejects[0].reason.contains("fuzz 1"));
    // max_offset limits the search.
    let r = apply(
        "p\nq\nr\nx\nc1\nc2\nold\nc3\nc4\n",
        f,
        &ApplyOptions::default().with_max_offset(Some(2)),
    );
    assert_eq!(r.rejects.len(), 1);
    // The removed line itself differs: never fuzzed away.
    let r = apply("x\nc1\nc2\nOLD\nc3\nc4\n", f, &ApplyOptions::default());
    assert!(!r.is_clean());
    match apply_strict("x\nc1\nc2\nOLD\nc3\nc4\n", f, &ApplyOptions::default()) {
        Err(Error::PatchRejected {
            total,
            rejects,
            file,
        }) => {
            assert_eq!((total, rejects.len(), file.as_deref()), (1, 1, Some("b/f")));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn later_hunks_apply_when_one_is_rejected() {
    let old: String = (1..=30).map(|i| format!("l{i}\n")).collect();
    let new = old.replace("l3\n", "L3\n").replace("l25\n", "L25\n");
    let d = blocksmith_diff::text::TextDiff::new(&old, &new, &Default::default());
    let p = Patch::parse(&d.unified(&Default::default())).unwrap();
    assert_eq!(p.files[0].hunks.len(), 2);
    let target = old.replace("l3\n", "changed\n");
    let r = apply(&target, &p.files[0], &ApplyOptions::default());
    assert_eq!(r.rejects.len(), 1);
    assert_eq!(r.rejects[0].index, 0);
    assert!(r.text.contains("L25\n") && r.text.contains("changed\n"));
}

#[test]
fn reversed_patch_undoes() {
    let old = "a\nb\nc\nd\n";
    let new = "a\nB\nc\nd\ne";
    let d = blocksmith_diff::text::TextDiff::new(old, new, &Default::default());
    let p = Patch::parse(&d.unified(&Default::default())).unwrap();
    let fwd = apply_strict(old, &p.files[0], &ApplyOptions::strict()).unwrap();
    assert_eq!(fwd, new);
    let back = apply_strict(&fwd, &p.files[0].reversed(), &ApplyOptions::strict()).unwrap();
    assert_eq!(back, old);
}

#[test]
fn empty_context_lines_without_space_are_accepted() {
    // Some editors strip the single space of empty context lines.
    let p = Patch::parse("--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n").unwrap();
    assert_eq!(
        apply_strict("a\n\nb\n", &p.files[0], &ApplyOptions::strict()).unwrap(),
        "a\n\nc\n"
    );
}

/// Found by the `diff_unified_patch` fuzz target (a 20 s timeout): a hunk stating an old start
/// line far past the end of the target made the offset search count up to that line number.
#[test]
fn a_hunk_stated_far_past_the_end_is_placed_or_rejected_at_once() {
    let p = Patch::parse("--- a\n+++ b\n@@ -8006024407900225518 +1 @@\n-x\n+y\n").unwrap();
    let start = std::time::Instant::now();
    let r = apply("a\nx\nb\n", &p.files[0], &ApplyOptions::default());
    assert!(r.is_clean(), "{:?}", r.rejects);
    assert_eq!(r.text, "a\ny\nb\n");
    // Out of reach of a bounded offset search: rejected, also at once.
    let r = apply(
        "a\nx\nb\n",
        &p.files[0],
        &ApplyOptions::default().with_max_offset(Some(10)),
    );
    assert_eq!(r.rejects.len(), 1);
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
}

/// Found by the `diff_unified_patch` fuzz target: a path with a control
/// character outside ASCII (U+009F) was quoted as one octal byte, which is
/// not UTF-8, so the rendered patch did not parse back.
#[test]
fn paths_with_non_ascii_control_characters_render_and_parse_back() {
    let data: &[u8] = b"\x2d\x2d\x2d\x20\x7f\x9f\x9f\x9f\x9f\x9f\xc2\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x9f\x30\x30\x5c\x30\x30\x30\x61\x0a\x2b\x2b\x2b\x20\x62\x0a\x40\x40\x20\x2d\x31\x20\x2b\x31\x20\x40\x40\x0a\x2d\x78\x0a\x5c\x20\x4e\x6f\x20\x6c\x69\x6e\x20\x61\x66\x69\x6c\x65\x0a\x2b\x79\x0a";
    let text = String::from_utf8_lossy(data);
    let patch = blocksmith_diff::patch::Patch::parse(&text).unwrap();
    let rendered = blocksmith_diff::unified::render(
        &patch,
        &blocksmith_diff::unified::UnifiedOptions::default(),
    );
    let again = blocksmith_diff::patch::Patch::parse(&rendered).unwrap();
    assert_eq!(again.files[0].old_path, patch.files[0].old_path);
    assert_eq!(again.files[0].hunks, patch.files[0].hunks);
    assert!(rendered.contains("\\302\\237"), "{rendered:?}");
}
