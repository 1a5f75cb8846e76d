//! Generates `data/en.bspl`, the English dictionary shipped inside the crate,
//! from symspellpy's frequency lists (MIT, see `data/LICENSE-symspellpy-MIT.txt`).
//!
//! ```text
//! python3 -m venv ~/.cache/spell-venv && ~/.cache/spell-venv/bin/pip install symspellpy==6.10.1
//! cargo run --release --example gen_dictionary -- \
//!     ~/.cache/spell-venv/lib/python3.*/site-packages/symspellpy data/en.bspl
//! ```
//!
//! Reads `frequency_dictionary_en_82_765.txt` (`word count` per line) and
//! `frequency_bigramdictionary_en_243_342.txt` (`first second count`), encodes
//! them with [`blocksmith_spell::Lexicon::encode`] and checks the round trip.

use blocksmith_spell::Lexicon;
use std::error::Error;
use std::path::PathBuf;

/// Not part of the tour: a build tool. Returns a summary of the encoding.
#[allow(dead_code)]
pub(crate) fn generate(
    src: &std::path::Path,
    out: &std::path::Path,
) -> Result<String, Box<dyn Error>> {
    let uni = std::fs::read_to_string(src.join("frequency_dictionary_en_82_765.txt"))?;
    let bi = std::fs::read_to_string(src.join("frequency_bigramdictionary_en_243_342.txt"))?;
    let mut words = Vec::new();
    for line in uni.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let (Some(w), Some(c)) = (it.next(), it.next()) else {
            return Err(format!("bad line {line:?}").into());
        };
        words.push((w, c.parse::<u64>()?));
    }
    let mut bigrams = Vec::new();
    for line in bi.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let (Some(a), Some(b), Some(c)) = (it.next(), it.next(), it.next()) else {
            return Err(format!("bad line {line:?}").into());
        };
        bigrams.push((a, b, c.parse::<u64>()?));
    }
    let lex = Lexicon::from_parts(words.iter().copied(), bigrams.iter().copied())?;
    let bytes = lex.encode();
    if Lexicon::decode(&bytes)? != lex {
        return Err("round trip mismatch".into());
    }
    std::fs::write(out, &bytes)?;
    Ok(format!(
        "{} words, {} bigrams: {} text bytes -> {} encoded bytes",
        lex.len(),
        lex.bigram_len(),
        uni.len() + bi.len(),
        bytes.len()
    ))
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args_os().skip(1);
    let src = PathBuf::from(
        args.next()
            .ok_or("usage: gen_dictionary SRC_DIR OUT_FILE")?,
    );
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: gen_dictionary SRC_DIR OUT_FILE")?,
    );
    println!("{}", generate(&src, &out)?);
    Ok(())
}
