//! The shipped dictionary and its binary encoding.

use blocksmith_spell::{Error, Lexicon};
use proptest::prelude::*;

#[test]
fn english_dictionary_is_complete_and_compact() {
    let bytes = Lexicon::english_bytes();
    assert!(bytes.len() < 3_000_000, "{} bytes", bytes.len());
    let t = std::time::Instant::now();
    let lex = Lexicon::decode(bytes).unwrap();
    let took = t.elapsed();
    assert_eq!(lex.len(), 82_834);
    assert_eq!(lex.bigram_len(), 242_342);
    assert!(lex.freq_of("the") > lex.freq_of("cat"));
    assert!(lex.freq_of("cat") > 0);
    assert_eq!(lex.freq_of("teh"), 0);
    let (a, b) = (lex.index_of("of").unwrap(), lex.index_of("the").unwrap());
    assert!(lex.bigram(a, b) > 0);
    // Generous: the release build decodes in ~20 ms; debug builds are slower.
    assert!(took.as_secs() < 5, "decode took {took:?}");
    assert_eq!(lex.encode(), bytes, "re-encoding is byte-identical");
}

#[test]
fn rejects_hostile_headers() {
    for bad in [
        &b""[..],
        b"BSPL",
        b"XXXX\x01\0\0\0\0\0\0",
        b"BSPL\x02\0\0\0\0\0\0",
    ] {
        assert!(matches!(
            Lexicon::decode(bad),
            Err(Error::CorruptDictionary { .. })
        ));
    }
    // A huge declared word count with a valid checksum is refused before allocating.
    let mut v = b"BSPL\x01".to_vec();
    v.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
    let crc = crc32(&v);
    v.extend_from_slice(&crc.to_le_bytes());
    assert!(matches!(
        Lexicon::decode(&v),
        Err(Error::CorruptDictionary { .. })
    ));
}

fn crc32(bytes: &[u8]) -> u32 {
    // Bitwise CRC-32 (IEEE), independent of the crate's dependency.
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn word() -> impl Strategy<Value = String> {
    "[a-z']{1,12}|[a-zé]{1,5}"
}

proptest! {
    #[test]
    fn round_trip(words in prop::collection::btree_map(word(), 0u64..u64::MAX, 0..60), picks in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), 1u64..1_000_000), 0..80)) {
        let ws: Vec<(&str, u64)> = words.iter().map(|(w, f)| (w.as_str(), *f)).collect();
        let bigrams: Vec<(&str, &str, u64)> = if ws.is_empty() { vec![] } else {
            picks.iter().map(|(a, b, c)| (ws[a.index(ws.len())].0, ws[b.index(ws.len())].0, *c)).collect()
        };
        let lex = Lexicon::from_parts(ws.iter().copied(), bigrams.iter().copied()).unwrap();
        let bytes = lex.encode();
        let back = Lexicon::decode(&bytes).unwrap();
        prop_assert_eq!(&back, &lex);
        for (w, f) in &ws {
            prop_assert_eq!(back.freq_of(w), *f);
        }
    }

    #[test]
    fn mutated_bytes_never_panic(pos in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
        let lex = Lexicon::from_parts([("alpha", 3), ("beta", 2), ("gamma", 1)], [("alpha", "beta", 5)]).unwrap();
        let mut bytes = lex.encode();
        let i = pos.index(bytes.len());
        bytes[i] = byte;
        let _ = Lexicon::decode(&bytes);
        let _ = Lexicon::decode(&bytes[..cut.index(bytes.len())]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut v = b"BSPL\x01".to_vec();
        v.extend_from_slice(&bytes);
        let crc = crc32(&v);
        v.extend_from_slice(&crc.to_le_bytes());
        let _ = Lexicon::decode(&v);
    }
}
