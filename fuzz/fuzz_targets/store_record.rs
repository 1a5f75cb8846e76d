//! Typed-record envelopes from hostile bytes: typed errors, never a panic.
#![no_main]

use blocksmith_store::record::{self, Record};
use libfuzzer_sys::fuzz_target;

#[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
struct Sample {
    id: u64,
    name: String,
    tags: Vec<String>,
}

impl Record for Sample {
    const KIND: &'static str = "fuzz.sample";
    const VERSION: u32 = 1;
}

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = record::peek("fuzz", data) {
        assert!(env.payload.len() < data.len());
    }
    if let Ok(s) = record::decode::<Sample>("fuzz", data) {
        // Whatever decodes re-encodes to something that decodes the same.
        let again = record::encode(&s).unwrap();
        assert_eq!(record::decode::<Sample>("fuzz", &again).unwrap(), s);
    }
});
