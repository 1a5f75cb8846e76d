//! Integration tests of blocksmith-diff (one test binary).
#![allow(
    clippy::format_collect,
    clippy::default_trait_access,
    clippy::needless_pass_by_value,
    clippy::format_push_string
)]

mod compat;
mod crash;
mod history;
mod merge;
mod patch;
mod props;
mod rfc6902;
mod rfc7396;
mod structured;
mod text;

use std::path::PathBuf;

/// The real revision corpus: (file name, old version text, new version text).
pub(crate) fn corpus_pairs() -> Vec<(String, String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/python-stdlib");
    let versions = ["3.6", "3.9", "3.12", "3.13"];
    let mut names: Vec<String> = std::fs::read_dir(root.join("3.12"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let texts: Vec<String> = versions
            .iter()
            .filter_map(|v| std::fs::read_to_string(root.join(v).join(&name)).ok())
            .collect();
        for w in texts.windows(2) {
            if w[0] != w[1] {
                out.push((name.clone(), w[0].clone(), w[1].clone()));
            }
        }
    }
    assert!(out.len() >= 15, "corpus has {} pairs", out.len());
    out
}
