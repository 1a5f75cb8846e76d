//! Fuzz whole-text and streaming correction with arbitrary UTF-8: never
//! panics, replacements lie inside the input, and undoing every replacement
//! of a typing session restores exactly what was typed.
#![no_main]

use blocksmith_spell::{Speller, Typist};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn speller() -> &'static Speller {
    static S: OnceLock<Speller> = OnceLock::new();
    S.get_or_init(Speller::english)
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let s = speller();
    let r = s.correct_text(text);
    for x in &r.replacements {
        assert!(x.start <= x.end && x.end <= text.len());
        assert_eq!(&text[x.start..x.end], x.original);
    }
    let _ = s.segment(text);
    let mut own = s.clone();
    let mut t = Typist::new(&mut own);
    t.type_str(text);
    t.finish();
    while t.undo_last().is_ok() {}
    assert_eq!(t.text(), text);
});
