//! Text diff and three-way merge on arbitrary input (split in three at NULs):
//! never panics, diffs rebuild the new text, merging a side with itself is clean.
#![no_main]

use blocksmith_diff::merge::{MergeOptions, merge_text};
use blocksmith_diff::text::{DiffOptions, TextDiff};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\0');
    let (base, ours, theirs) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let d = TextDiff::new(base, ours, &DiffOptions::default());
    assert_eq!(d.apply_to_old(), ours);
    let m = merge_text(base, ours, theirs, &MergeOptions::default());
    // Every conflict's marker line is inside the merged text.
    let lines = m.text.lines().count();
    assert!(m.conflicts.iter().all(|c| c.marker_line <= lines));
    // Both sides making the same change never conflicts, and merges to it.
    let same = merge_text(base, ours, ours, &MergeOptions::default());
    assert!(same.is_clean());
    assert_eq!(same.text, ours);
});
