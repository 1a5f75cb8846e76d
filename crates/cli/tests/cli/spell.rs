//! `blocksmith spell ...`, run as a user would. Goes in
//! `crates/cli/tests/cli/spell.rs` with `mod spell;` in `tests/cli/main.rs`,
//! whose `run`, `run_stdin` and `json` helpers it uses.

use super::{json, run, run_stdin};
use std::io::Write as _;
use std::process::{Command, Stdio};

fn lines(o: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

#[test]
fn spell_correct_words_json_shape() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = run(
        d,
        &[
            "spell", "correct", "teh", "receive", "thn", "NASA", "--json",
        ],
    );
    assert!(o.status.success(), "{o:?}");
    let v = lines(&o);
    assert_eq!(v.len(), 4);
    for x in &v {
        let mut keys: Vec<&str> = x.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["best", "confidence", "replace", "word"]);
    }
    assert_eq!(v[0]["word"], "teh");
    assert_eq!(v[0]["best"], "the");
    assert_eq!(v[0]["replace"], true);
    assert!(v[0]["confidence"].as_f64().unwrap() > 0.97);
    assert_eq!(v[1]["best"], "receive");
    assert_eq!(v[1]["replace"], false);
    assert_eq!(v[2]["replace"], false);
    assert_eq!(v[3]["best"], "NASA");
    assert_eq!(v[3]["replace"], false);
    // Reading never creates a store.
    assert!(!d.join("blocksmith.redb").exists());
}

#[test]
fn spell_correct_reads_stdin_one_word_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_stdin(
        dir.path(),
        &["spell", "correct", "--json"],
        "recieve\n\nbecuase\n",
    );
    assert!(o.status.success(), "{o:?}");
    let v = lines(&o);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0]["best"], "receive");
    assert_eq!(v[1]["best"], "because");
    let o = run_stdin(dir.path(), &["spell", "correct"], "teh\n");
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with("teh -> the (replace"),
        "{o:?}"
    );
}

#[test]
fn spell_text_and_user_words() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = "Teh tokio crate, see https://tokio.rs and Jhon.\n";
    let o = run_stdin(d, &["spell", "text"], input);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "The tokyo crate, see https://tokio.rs and Jhon.\n"
    );
    let o = run(d, &["spell", "add", "tokio", "--json"]);
    assert!(o.status.success(), "{o:?}");
    assert_eq!(json(&o)["words"], 1);
    let o = run_stdin(d, &["spell", "text", "--json"], input);
    let v = json(&o);
    assert_eq!(
        v["text"],
        "The tokio crate, see https://tokio.rs and Jhon.\n"
    );
    assert_eq!(v["replacements"].as_array().unwrap().len(), 1);
    assert_eq!(v["replacements"][0]["original"], "Teh");
    assert_eq!(v["replacements"][0]["start"], 0);
    let o = run(d, &["spell", "words", "--json"]);
    assert_eq!(json(&o)["words"], serde_json::json!(["tokio"]));
    let o = run(d, &["spell", "remove", "tokio"]);
    assert!(o.status.success());
    let o = run(d, &["spell", "correct", "tokio", "--json"]);
    assert_eq!(json(&o)["best"], "tokyo");
}

#[test]
fn spell_segment_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = run(d, &["spell", "segment", "thequickbrownfox", "--json"]);
    assert_eq!(
        json(&o)["words"],
        serde_json::json!(["the", "quick", "brown", "fox"])
    );
    let o = run(d, &["spell", "add", "two words"]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let o = run_stdin(d, &["spell", "text"], "\u{0}\u{ff}");
    assert!(o.status.success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_blocksmith"))
        .args(["spell", "text"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&[0xff, 0xfe])
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "invalid UTF-8 is bad input: {o:?}"
    );
}
