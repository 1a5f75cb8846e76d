//! Fuzz the user-dictionary record decoder (the store envelope plus JSON).
#![no_main]

use blocksmith_spell::UserDictionary;
use blocksmith_store::record;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = record::decode::<UserDictionary>("spell/fuzz/user", data) {
        let bytes = record::encode(&d).expect("encodes");
        let back: UserDictionary = record::decode("spell/fuzz/user", &bytes).expect("round trip");
        assert_eq!(back, d);
    }
});
