//! JSON Patch: parse an operation list and apply it to a document, both from
//! the input (split at the first NUL); never panics, failures leave the
//! document unchanged.
#![no_main]

use blocksmith_diff::json_patch::JsonPatch;
use blocksmith_diff::value::{Format, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (doc, ops) = text.split_once('\0').unwrap_or(("{}", &text));
    let Ok(doc) = parse(doc, Format::Json) else {
        return;
    };
    let Ok(patch) = JsonPatch::from_str(ops) else {
        return;
    };
    let mut copy = doc.clone();
    match patch.apply_in_place(&mut copy) {
        Ok(()) => assert_eq!(patch.apply(&doc).ok(), Some(copy)),
        Err(_) => assert_eq!(copy, doc),
    }
});
