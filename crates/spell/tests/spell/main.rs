//! Integration tests of `blocksmith-spell`: one binary, modules beside it.

mod accuracy;
mod correct;
mod crash;
mod dictionary;
mod stream;
mod text;
mod user;

use blocksmith_spell::Speller;
use std::sync::OnceLock;

/// One shared English speller (the dictionary and index are built once).
fn speller() -> &'static Speller {
    static S: OnceLock<Speller> = OnceLock::new();
    S.get_or_init(Speller::english)
}

/// A test-data file.
fn data(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/spell/data")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}
