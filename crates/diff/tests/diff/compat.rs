//! Compatibility with git and GNU patch on real file revisions (the CPython
//! standard library corpus in `data/`). Each test runs the tools as processes
//! and skips, saying so, when a tool is absent, unless
//! `BLOCKSMITH_REQUIRE_TOOLS=1` (CI sets it), which makes a missing tool fail
//! the test instead.

use blocksmith_diff::patch::{ApplyOptions, Patch, apply_strict};
use blocksmith_diff::text::{Algorithm, DiffOptions, TextDiff};
use blocksmith_diff::unified::UnifiedOptions;
use std::path::Path;
use std::process::{Command, Stdio};

/// Whether `BLOCKSMITH_REQUIRE_TOOLS` asks for every external tool to be
/// present (any value but empty or `0`).
fn tools_required() -> bool {
    std::env::var_os("BLOCKSMITH_REQUIRE_TOOLS").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether `name --version` runs. If it does not, the calling test should
/// return (it prints a notice), or, under `BLOCKSMITH_REQUIRE_TOOLS=1`, this
/// panics so the test fails.
pub(crate) fn tool(name: &str) -> bool {
    let ok = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            !tools_required(),
            "BLOCKSMITH_REQUIRE_TOOLS is set but `{name}` is missing (`{name} --version` did not \
             run): install it, or unset BLOCKSMITH_REQUIRE_TOOLS to skip this compatibility test"
        );
        println!("NOTICE: `{name}` not found, skipping this compatibility test");
    }
    ok
}

fn write_tree(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn git_apply_accepts_our_unified_diffs() {
    if !tool("git") {
        return;
    }
    let mut checked = 0;
    for alg in [Algorithm::Histogram, Algorithm::Myers, Algorithm::Patience] {
        for (name, old, new) in crate::corpus_pairs() {
            let dir = tempfile::tempdir().unwrap();
            write_tree(dir.path(), &name, &old);
            let d = TextDiff::new(&old, &new, &DiffOptions::default().with_algorithm(alg));
            let patch = d.unified(&UnifiedOptions::default().with_git_path(&name));
            std::fs::write(dir.path().join("p.diff"), &patch).unwrap();
            let out = Command::new("git")
                .args(["apply", "--verbose", "p.diff"])
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{name} {alg:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                std::fs::read_to_string(dir.path().join(&name)).unwrap(),
                new,
                "{name} {alg:?}"
            );
            checked += 1;
        }
    }
    println!("git apply accepted {checked} patches");
}

#[test]
fn gnu_patch_accepts_our_unified_diffs() {
    if !tool("patch") {
        return;
    }
    for (name, old, new) in crate::corpus_pairs() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &name, &old);
        // Plain `diff -u` style, no git header, one context size per run.
        for ctx in [3, 1] {
            write_tree(dir.path(), &name, &old);
            let d = TextDiff::new(&old, &new, &DiffOptions::default());
            let patch = d.unified(
                &UnifiedOptions::default()
                    .with_context(ctx)
                    .with_labels(format!("a/{name}"), format!("b/{name}")),
            );
            std::fs::write(dir.path().join("p.diff"), &patch).unwrap();
            let out = Command::new("patch")
                .args(["-p1", "--batch", "--fuzz=0", "-i", "p.diff"])
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
            assert_eq!(
                std::fs::read_to_string(dir.path().join(&name)).unwrap(),
                new,
                "{name} ctx {ctx}"
            );
        }
    }
}

#[test]
fn we_apply_git_diff_no_index_output() {
    if !tool("git") {
        return;
    }
    for (name, old, new) in crate::corpus_pairs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::create_dir_all(dir.path().join("b")).unwrap();
        std::fs::write(dir.path().join("a").join(&name), &old).unwrap();
        std::fs::write(dir.path().join("b").join(&name), &new).unwrap();
        for algo in ["--histogram", "--minimal", "--patience"] {
            let out = Command::new("git")
                .args(["diff", "--no-index", "--no-color", algo])
                .arg(format!("a/{name}"))
                .arg(format!("b/{name}"))
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1), "{name}");
            let text = String::from_utf8(out.stdout).unwrap();
            let p = Patch::parse(&text).unwrap();
            assert_eq!(p.files.len(), 1);
            assert_eq!(
                apply_strict(&old, &p.files[0], &ApplyOptions::strict()).unwrap(),
                new,
                "{name} {algo}"
            );
            // And against an edited target: lines inserted at the top shift every hunk.
            let shifted = format!("# local header\n# one more\n{old}");
            let r = blocksmith_diff::patch::apply(&shifted, &p.files[0], &ApplyOptions::default());
            assert!(r.is_clean(), "{name}: {:?}", r.rejects);
            assert_eq!(r.text, format!("# local header\n# one more\n{new}"));
            assert!(r.hunks.iter().all(|h| h.offset == 2));
        }
    }
}

#[test]
fn our_hunks_match_git_line_counts() {
    // Our minimal Myers finds no more changed lines than `git diff --minimal`
    // (git discards some lines before its search, so it can find more).
    if !tool("git") {
        return;
    }
    for (name, old, new) in crate::corpus_pairs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("old"), &old).unwrap();
        std::fs::write(dir.path().join("new"), &new).unwrap();
        let out = Command::new("git")
            .args(["diff", "--no-index", "--numstat", "--minimal", "old", "new"])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stat = String::from_utf8(out.stdout).unwrap();
        let nums: Vec<usize> = stat
            .split_whitespace()
            .take(2)
            .map(|n| n.parse().unwrap())
            .collect();
        let d = TextDiff::new(
            &old,
            &new,
            &DiffOptions::default()
                .with_algorithm(Algorithm::MyersMinimal)
                .with_deadline(None),
        );
        let s = d.stats();
        assert!(
            s.insertions + s.deletions <= nums[0] + nums[1],
            "{name}: {s:?} vs {nums:?}"
        );
    }
}
