//! Unified patch parser: never panics; what parses re-renders and re-parses
//! to the same hunks, and applies to arbitrary text without panicking.
#![no_main]

use blocksmith_diff::patch::{ApplyOptions, Patch, apply};
use blocksmith_diff::unified::{UnifiedOptions, render};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(patch) = Patch::parse(&text) else {
        return;
    };
    let again = Patch::parse(&render(&patch, &UnifiedOptions::default()));
    if patch.files.iter().any(|f| !f.hunks.is_empty()) {
        let again = again.expect("a rendered patch parses");
        let hunks = |p: &Patch| {
            p.files
                .iter()
                .flat_map(|f| f.hunks.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(hunks(&patch), hunks(&again));
    }
    let target: String = text
        .lines()
        .rev()
        .take(64)
        .map(|l| format!("{l}\n"))
        .collect();
    for f in &patch.files {
        let _ = apply(&target, f, &ApplyOptions::default());
        let _ = apply(&target, &f.reversed(), &ApplyOptions::strict());
    }
});
