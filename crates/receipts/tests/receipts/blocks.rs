//! The block format: round trips of random engines, hostile bytes (never a
//! panic, always a typed error or a consistent conversation), the checksum,
//! versions, and a block's size.

use crate::model::{apply, op, options};
use crate::reference::Reference;
use blocksmith_receipts::block::{FORMAT_VERSION, MAGIC};
use blocksmith_receipts::{Conversation, Error, Receipts, ReceiptsOptions, UserId};
use proptest::prelude::*;

fn sample() -> Vec<u8> {
    let mut r = Receipts::default();
    for u in 0..6 {
        r.join("g", UserId(u)).unwrap();
    }
    for seq in 1..=30 {
        r.post("g", seq, UserId(seq % 6), &[UserId((seq + 2) % 6)])
            .unwrap();
    }
    r.read("g", UserId(1), 12).unwrap();
    r.read_private("g", UserId(2), 20).unwrap();
    r.delivered_to_device("g", UserId(3), blocksmith_receipts::DeviceId(7), 25)
        .unwrap();
    r.delete("g", 4).unwrap();
    r.mark_unread("g", UserId(1), 9).unwrap();
    r.set_privacy("g", UserId(4), blocksmith_receipts::Privacy::Hidden)
        .unwrap();
    r.leave("g", UserId(5)).unwrap();
    r.conversation("g").unwrap().to_bytes()
}

/// Recomputes the trailing checksum so a mutation reaches the structural checks.
fn reseal(mut b: Vec<u8>) -> Vec<u8> {
    let n = b.len() - 4;
    let crc = crc32fast::hash(&b[..n]);
    b[n..].copy_from_slice(&crc.to_le_bytes());
    b
}

/// Decodes, and if that works, checks the conversation is usable and stable.
fn decode_checked(bytes: &[u8]) -> Result<(), Error> {
    let c = Conversation::from_bytes(bytes, &ReceiptsOptions::default())?;
    let again = Conversation::from_bytes(&c.to_bytes(), &ReceiptsOptions::default()).unwrap();
    assert_eq!(again.to_bytes(), c.to_bytes());
    for seq in 0..=c.last_seq() + 1 {
        let _ = c.status(seq, UserId(0));
    }
    for u in c.users().collect::<Vec<_>>() {
        let _ = c.unread(u);
    }
    Ok(())
}

#[test]
fn every_truncation_and_flip_is_a_typed_error() {
    let b = sample();
    decode_checked(&b).unwrap();
    for n in 0..b.len() {
        let e = Conversation::from_bytes(&b[..n], &ReceiptsOptions::default()).unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{n}: {e}");
    }
    for i in 0..b.len() {
        for bit in 0..8 {
            let mut m = b.clone();
            m[i] ^= 1 << bit;
            let e = Conversation::from_bytes(&m, &ReceiptsOptions::default()).unwrap_err();
            assert!(
                matches!(e, Error::Corrupt { .. } | Error::UnsupportedFormat { .. }),
                "byte {i} bit {bit}: {e}"
            );
        }
    }
}

#[test]
fn resealed_mutations_decode_or_fail_typed() {
    let b = sample();
    let (mut ok, mut bad) = (0, 0);
    for i in 5..b.len() - 4 {
        for v in [
            0u8,
            1,
            0x7f,
            0x80,
            0xff,
            b[i].wrapping_add(1),
            b[i].wrapping_sub(1),
        ] {
            let mut m = b.clone();
            m[i] = v;
            match decode_checked(&reseal(m)) {
                Ok(()) => ok += 1,
                Err(Error::Corrupt { .. }) => bad += 1,
                Err(e) => panic!("byte {i} = {v}: {e}"),
            }
        }
    }
    assert!(ok > 0 && bad > 0, "{ok} decoded, {bad} refused");
}

#[test]
fn other_versions_and_magic_are_refused() {
    let mut b = sample();
    assert_eq!(&b[..4], MAGIC);
    b[4] = FORMAT_VERSION + 1;
    assert!(matches!(
        Conversation::from_bytes(&reseal(b), &ReceiptsOptions::default()),
        Err(Error::UnsupportedFormat { found, .. }) if found == FORMAT_VERSION + 1
    ));
    assert!(matches!(
        Conversation::from_bytes(b"NOPE\x01\0\0\0\0", &ReceiptsOptions::default()),
        Err(Error::Corrupt { .. })
    ));
}

#[test]
fn a_large_group_block_is_compact() {
    let mut r = Receipts::default();
    for u in 0..10_000u64 {
        r.join("big", UserId(1_000_000 + u)).unwrap();
    }
    for seq in 1..=2000 {
        r.post("big", seq, UserId(1_000_000 + seq * 7 % 10_000), &[])
            .unwrap();
    }
    for u in 0..10_000u64 {
        r.read("big", UserId(1_000_000 + u), (u * 13) % 2000)
            .unwrap();
    }
    let b = r.conversation("big").unwrap().to_bytes();
    // About 10 bytes a member (ids of 3 bytes, watermarks as small deltas)
    // and 2 a message.
    assert!(b.len() < 10_000 * 12 + 2000 * 3, "{} bytes", b.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut b = MAGIC.to_vec();
        b.push(FORMAT_VERSION);
        b.extend_from_slice(&bytes);
        b.extend_from_slice(&[0; 4]);
        let b = reseal(b);
        match decode_checked(&b) {
            Ok(()) | Err(Error::Corrupt { .. }) => {}
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    #[test]
    fn random_engines_round_trip(ops in prop::collection::vec(op(), 1..60)) {
        let (options, policy) = options(false, false, false);
        let mut r = Receipts::new(options.clone());
        let mut m = Reference::new(policy);
        for o in &ops {
            apply(&mut r, &mut m, o, &options);
        }
        for c in r.conversations() {
            let b = c.to_bytes();
            let back = Conversation::from_bytes(&b, &options).unwrap();
            prop_assert_eq!(back.to_bytes(), b);
            for seq in 0..=c.last_seq() + 1 {
                for v in 0..3 {
                    let (x, y) = (c.status(seq, UserId(v)).ok(), back.status(seq, UserId(v)).ok());
                    prop_assert_eq!(x, y);
                }
            }
            for u in c.users() {
                prop_assert_eq!(c.unread(u), back.unread(u));
                prop_assert_eq!(c.member(u), back.member(u));
            }
        }
    }
}
