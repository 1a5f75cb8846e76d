//! Known-answer tests: RFC 8439, draft-irtf-cfrg-xchacha-03, RFC 9106, and
//! the envelope layout itself.

use crate::common::{hex, unhex};
use blocksmith_vault::SymmetricKey;
use blocksmith_vault::envelope::{
    Context, Envelope, HEADER_LEN, Kind, xchacha20poly1305_open, xchacha20poly1305_seal,
};
use blocksmith_vault::kdf::{KdfParams, argon2id};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};

// RFC 8439 section 2.8.2 and draft-irtf-cfrg-xchacha-03 appendix A.3.1 share
// key, associated data and plaintext.
const KEY: &str = "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f";
const AAD: &str = "50515253c0c1c2c3c4c5c6c7";
const SUNSCREEN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";

fn key32(h: &str) -> [u8; 32] {
    unhex(h).try_into().unwrap()
}

#[test]
fn rfc8439_section_2_8_2_aead() {
    let expected_ct = unhex(
        "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6\
         3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36\
         92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc\
         3ff4def08e4b7a9de576d26586cec64b6116",
    );
    let tag = unhex("1ae10b594f09e26a7e902ecbd0600691");
    let nonce: [u8; 12] = unhex("070000004041424344454647").try_into().unwrap();
    let c = ChaCha20Poly1305::new(&key32(KEY).into());
    let aad = unhex(AAD);
    let out = c
        .encrypt(
            &nonce.into(),
            Payload {
                msg: SUNSCREEN,
                aad: &aad,
            },
        )
        .unwrap();
    assert_eq!(hex(&out[..SUNSCREEN.len()]), hex(&expected_ct));
    assert_eq!(hex(&out[SUNSCREEN.len()..]), hex(&tag));
    let back = c
        .decrypt(
            &nonce.into(),
            Payload {
                msg: &out,
                aad: &aad,
            },
        )
        .unwrap();
    assert_eq!(back, SUNSCREEN);
}

#[test]
fn rfc8439_appendix_a5_decryption() {
    let key = key32("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
    let nonce: [u8; 12] = unhex("000000000102030405060708").try_into().unwrap();
    let aad = unhex("f33388860000000000004e91");
    let mut ct = unhex(
        "64a0861575861af460f062c79be643bd5e805cfd345cf389f108670ac76c8cb2\
         4c6cfc18755d43eea09ee94e382d26b0bdb7b73c321b0100d4f03b7f355894cf\
         332f830e710b97ce98c8a84abd0b948114ad176e008d33bd60f982b1ff37c855\
         9797a06ef4f0ef61c186324e2b3506383606907b6a7c02b0f9f6157b53c867e4\
         b9166c767b804d46a59b5216cde7a4e99040c5a40433225ee282a1b0a06c523e\
         af4534d7f83fa1155b0047718cbc546a0d072b04b3564eea1b422273f548271a\
         0bb2316053fa76991955ebd63159434ecebb4e466dae5a1073a6727627097a10\
         49e617d91d361094fa68f0ff77987130305beaba2eda04df997b714d6c6f2c29\
         a6ad5cb4022b02709b",
    );
    ct.extend(unhex("eead9d67890cbb22392336fea1851f38"));
    let pt = ChaCha20Poly1305::new(&key.into())
        .decrypt(
            &nonce.into(),
            Payload {
                msg: &ct,
                aad: &aad,
            },
        )
        .unwrap();
    let text = String::from_utf8(pt).unwrap();
    assert!(
        text.starts_with("Internet-Drafts are draft documents valid for a maximum of six months")
    );
    assert!(text.ends_with("/\u{201c}work in progress./\u{201d}"));
}

const XNONCE: &str = "404142434445464748494a4b4c4d4e4f5051525354555657";
const XCT: &str = "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb\
                   731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452\
                   2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9\
                   21f9664c97637da9768812f615c68b13b52e";
const XTAG: &str = "c0875924c1c7987947deafd8780acf49";

#[test]
fn xchacha_draft_a_3_1_through_our_primitive() {
    let key = SymmetricKey::from_bytes(key32(KEY));
    let nonce: [u8; 24] = unhex(XNONCE).try_into().unwrap();
    let aad = unhex(AAD);
    let out = xchacha20poly1305_seal(&key, &nonce, &aad, SUNSCREEN);
    assert_eq!(hex(&out), format!("{}{XTAG}", XCT.replace(' ', "")));
    let back = xchacha20poly1305_open(&key, &nonce, &aad, &out).unwrap();
    assert_eq!(back.expose_secret(), SUNSCREEN);
    let mut bad = out.clone();
    bad[0] ^= 1;
    assert!(xchacha20poly1305_open(&key, &nonce, &aad, &bad).is_err());
    assert!(xchacha20poly1305_open(&key, &nonce, b"other", &out).is_err());
}

#[test]
fn envelope_is_header_plus_xchacha_over_documented_aad() {
    // The draft's key, nonce and plaintext sealed as an envelope: the body must
    // be XChaCha20-Poly1305 (computed here by the RustCrypto crate directly)
    // with associated data = header || len-prefixed scope || item || version,
    // zero-padded to a multiple of 64 bytes.
    let key = SymmetricKey::from_bytes(key32(KEY));
    let nonce: [u8; 24] = unhex(XNONCE).try_into().unwrap();
    let ctx = Context::new(b"vault-0123456789")
        .with_item(b"item-42")
        .with_version(7);
    let env =
        Envelope::seal_with_nonce(&key, Kind::ItemContent, 3, &ctx, &nonce, SUNSCREEN).unwrap();
    let mut aad = env[..HEADER_LEN].to_vec();
    aad.extend_from_slice(&16u16.to_le_bytes());
    aad.extend_from_slice(b"vault-0123456789");
    aad.extend_from_slice(&7u16.to_le_bytes());
    aad.extend_from_slice(b"item-42");
    aad.extend_from_slice(&7u64.to_le_bytes());
    assert_eq!(aad.len(), 34 + 18 + 9 + 8);
    aad.resize(128, 0);
    let body = XChaCha20Poly1305::new(&key32(KEY).into())
        .encrypt(
            &nonce.into(),
            Payload {
                msg: SUNSCREEN,
                aad: &aad,
            },
        )
        .unwrap();
    assert_eq!(
        hex(&env[..HEADER_LEN]),
        format!("42535645010103000000{XNONCE}")
    );
    assert_eq!(env[HEADER_LEN..], body[..]);
    // Frozen bytes: the v1 format must never change silently.
    assert_eq!(
        hex(&blake3::hash(&env).as_bytes()[..16]),
        GOLDEN_ENVELOPE_HASH,
        "envelope v1 bytes changed"
    );
}

const GOLDEN_ENVELOPE_HASH: &str = "45f1bb54844634f9974b31c847e8b8cf";

fn rfc9106(algorithm: argon2::Algorithm) -> String {
    let params = argon2::ParamsBuilder::new()
        .m_cost(32)
        .t_cost(3)
        .p_cost(4)
        .data(argon2::AssociatedData::new(&[4; 12]).unwrap())
        .output_len(32)
        .build()
        .unwrap();
    let ctx = argon2::Argon2::new_with_secret(&[3; 8], algorithm, argon2::Version::V0x13, params)
        .unwrap();
    let mut out = [0u8; 32];
    ctx.hash_password_into(&[1; 32], &[2; 16], &mut out)
        .unwrap();
    hex(&out)
}

#[test]
fn rfc9106_section_5_3_argon2id_through_our_kdf() {
    let mut out = [0u8; 32];
    argon2id(
        &KdfParams::new(32, 3, 4),
        &[1; 32],
        &[2; 16],
        &[3; 8],
        &[4; 12],
        &mut out,
    )
    .unwrap();
    assert_eq!(
        hex(&out),
        "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
    );
}

#[test]
fn rfc9106_sections_5_1_and_5_2_argon2d_argon2i() {
    assert_eq!(
        rfc9106(argon2::Algorithm::Argon2d),
        "512b391b6f1162975371d30919734294f868e3be3984f3c1a13a4db9fabe4acb"
    );
    assert_eq!(
        rfc9106(argon2::Algorithm::Argon2i),
        "c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8"
    );
    assert_eq!(
        rfc9106(argon2::Algorithm::Argon2id),
        "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
    );
}
