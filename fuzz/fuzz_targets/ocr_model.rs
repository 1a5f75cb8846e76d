#![no_main]
//! Fuzz the model decoder: arbitrary bytes must give a model or a typed error, never a panic; a decoded
//! model must re-encode to bytes that decode to the same model.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = blocksmith_ocr::builtin::model::Model::from_bytes(data) {
        let again = blocksmith_ocr::builtin::model::Model::from_bytes(&m.to_bytes())
            .expect("re-encoded model decodes");
        assert_eq!(again.classes, m.classes);
    }
});
