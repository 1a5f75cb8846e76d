//! Fuzz the binary dictionary decoder: never panics; what decodes re-encodes
//! to bytes that decode to the same lexicon.
#![no_main]

use blocksmith_spell::Lexicon;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(lex) = Lexicon::decode(data) {
        let again = Lexicon::decode(&lex.encode()).expect("re-encoded lexicon decodes");
        assert_eq!(again, lex);
    }
});
