//! Fuzz target: arbitrary bytes into every blocksmith-tsz decoder.
//!
//! Decoders must return `Ok` or a typed `Err` — never panic, hang or
//! allocate without bound. `decode_unverified` skips the checksums so the
//! fuzzer reaches the payload decoders instead of stopping at the CRC.
#![no_main]

use blocksmith_tsz::{Chunk, best, gorilla, prometheus};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Chunk::peek(data);
    let _ = Chunk::decode(data);
    let _ = Chunk::decode_unverified(data);
    let _ = prometheus::decode(data);
    // The first two bytes choose a value count for the column decoders.
    if let [a, b, rest @ ..] = data {
        let count = usize::from(u16::from_le_bytes([*a, *b]));
        let _ = gorilla::decode_values(rest, count);
        let _ = best::decode_values(rest, count);
    }
});
