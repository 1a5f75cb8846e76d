//! Fuzz target: arbitrary bytes into every blocksmith-tsz decoder.
//!
//! Decoders must return `Ok` or a typed `Err` — never panic, hang or
//! allocate without bound. `decode_unverified` skips the checksums so the
//! fuzzer reaches the payload decoders instead of stopping at the CRC.
#![no_main]

use blocksmith_tsz::{Chunk, best, gorilla, pack, prometheus};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Chunk::peek(data);
    let _ = Chunk::decode(data);
    let _ = Chunk::decode_unverified(data);
    // The direct-to-buffer column decoder agrees with the point decoder.
    let (mut ts, mut vals) = (Vec::new(), Vec::new());
    let cols = Chunk::decode_columns_into(data, &mut ts, &mut vals);
    match (Chunk::decode(data), cols) {
        (Ok((_, p)), Ok(_)) => {
            assert!(p.iter().map(|x| x.0).eq(ts.iter().copied()));
            assert!(
                p.iter()
                    .map(|x| x.1.to_bits())
                    .eq(vals.iter().map(|v| v.to_bits()))
            );
        }
        (Err(_), Err(_)) => {}
        (a, b) => panic!("decode {a:?} but decode_columns_into {b:?}"),
    }
    let _ = prometheus::decode(data);
    // The first two bytes choose a value count for the column decoders.
    if let [a, b, rest @ ..] = data {
        let count = usize::from(u16::from_le_bytes([*a, *b]));
        let _ = gorilla::decode_values(rest, count);
        let _ = best::decode_values(rest, count);
        let _ = pack::decode_values(rest, count);
    }
});
