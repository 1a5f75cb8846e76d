use blocksmith_ocr::builtin::model::{MAGIC, Model, ModelError, VERSION};
use blocksmith_ocr::builtin::{BuiltinRecognizer, EMBEDDED_MODEL, train};
use proptest::prelude::*;

#[test]
fn embedded_model_loads_and_is_compact() {
    let m = Model::from_bytes(EMBEDDED_MODEL).expect("embedded model decodes");
    assert_eq!(m.classes, train::classes());
    assert!(
        EMBEDDED_MODEL.len() < 1_000_000,
        "model is {} bytes",
        EMBEDDED_MODEL.len()
    );
    assert!(m.temperature > 0.0);
    BuiltinRecognizer::embedded().expect("recognizer");
}

#[test]
fn reencoding_is_stable() {
    let m = Model::from_bytes(EMBEDDED_MODEL).unwrap();
    assert_eq!(m.to_bytes(), EMBEDDED_MODEL);
}

#[test]
fn damaged_bytes_give_typed_errors() {
    let good = EMBEDDED_MODEL;
    assert!(matches!(
        Model::from_bytes(&[]),
        Err(ModelError::Truncated { .. })
    ));
    assert!(matches!(
        Model::from_bytes(&good[..good.len() / 2]),
        Err(ModelError::Checksum { .. })
    ));
    let mut bad = good.to_vec();
    bad[0] ^= 1;
    assert_eq!(Model::from_bytes(&bad), Err(ModelError::BadMagic));
    let mut bad = good.to_vec();
    bad[8..10].copy_from_slice(&(VERSION + 1).to_le_bytes());
    assert_eq!(
        Model::from_bytes(&bad),
        Err(ModelError::UnsupportedVersion(VERSION + 1))
    );
    for pos in [12, 100, good.len() / 3, good.len() - 5, good.len() - 1] {
        let mut bad = good.to_vec();
        bad[pos] ^= 0x40;
        assert!(
            matches!(Model::from_bytes(&bad), Err(ModelError::Checksum { .. })),
            "flip at {pos}"
        );
    }
}

/// Re-seal a body with a fresh checksum so structural checks (not only the CRC) are exercised.
fn seal(mut body: Vec<u8>) -> Vec<u8> {
    let crc = crc32fast::hash(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

#[test]
fn structurally_bad_but_checksummed_bytes_are_malformed() {
    let good = EMBEDDED_MODEL;
    let body = &good[..good.len() - 4];
    // Truncated body with a valid checksum.
    assert!(matches!(
        Model::from_bytes(&seal(body[..body.len() - 7].to_vec())),
        Err(ModelError::Truncated { .. })
    ));
    // Trailing garbage.
    let mut longer = body.to_vec();
    longer.push(0);
    assert_eq!(
        Model::from_bytes(&seal(longer)),
        Err(ModelError::Malformed("trailing bytes"))
    );
    // One class only.
    let mut v = MAGIC.to_vec();
    v.extend_from_slice(&VERSION.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    assert!(matches!(
        Model::from_bytes(&seal(v)),
        Err(ModelError::Malformed(_))
    ));
}

fn small_model() -> impl Strategy<Value = Model> {
    (
        2usize..6,
        1usize..5,
        any::<u64>(),
        -3.0f32..3.0,
        0.5f32..3.0,
    )
        .prop_map(|(nc, h, seed, b, t)| {
            let classes: Vec<char> = "\0abcdefgh".chars().take(nc).collect();
            let mut m = Model::new(classes, &[h], seed);
            m.platt_b = b;
            m.temperature = t;
            m
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn model_bytes_round_trip(m in small_model()) {
        let bytes = m.to_bytes();
        let back = Model::from_bytes(&bytes).unwrap();
        // Quantisation is idempotent after the first pass: decoding then encoding gives the same bytes.
        prop_assert_eq!(back.to_bytes(), bytes);
        prop_assert_eq!(back.classes, m.classes);
        for (a, b) in back.layers.iter().zip(&m.layers) {
            let max = b.w.iter().fold(0f32, |x, v| x.max(v.abs()));
            for (x, y) in a.w.iter().zip(&b.w) {
                prop_assert!((x - y).abs() <= max / 127.0 + 1e-6);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = Model::from_bytes(&bytes);
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&VERSION.to_le_bytes());
        v.extend_from_slice(&bytes);
        let _ = Model::from_bytes(&seal(v));
    }
}
