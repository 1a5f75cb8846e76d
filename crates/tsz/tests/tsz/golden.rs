//! Golden files: chunks written by earlier versions of the codecs must keep
//! decoding to exactly the points they were made from.
//!
//! `tests/golden/<name>.btsz` were written by the code of the version in the
//! name and are committed; `TSZ_WRITE_GOLDEN=1` rewrites only the files of the
//! current version (never the older ones, whose bytes are the point).

use blocksmith_tsz::{Chunk, Codec, Policy, TimeUnit};
use std::path::PathBuf;

/// Deterministic inputs covering every value scheme and timestamp shape.
fn input(kind: &str) -> Vec<(i64, f64)> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut rnd = move || {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        s.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let n = 1500i64;
    let mut t = 1_700_000_000_000i64;
    let mut walk = 2137i64;
    let mut x = 1000.0f64;
    (0..n)
        .map(|i| {
            let r = rnd();
            // Jittered 1 s timestamps with an occasional gap.
            t += 1000 + (r % 7) as i64 - 3 + if r % 211 == 0 { 60_000 } else { 0 };
            let v = match kind {
                // 2-decimal random walk (ALP path).
                "decimal" => {
                    walk += (r >> 8) as i64 % 7 - 3;
                    walk as f64 / 100.0
                }
                // Full-precision random walk (ALP_rd path).
                "precise" => {
                    x += ((r >> 11) as f64 / (1u64 << 53) as f64) - 0.5;
                    x
                }
                // Log-normal latencies, one decimal (Pack's tANS path).
                "skewed" => {
                    let (u1, u2) = (
                        ((r >> 11) as f64 / (1u64 << 53) as f64).max(1e-12),
                        f64::from((r & 0xFFFF) as u32) / 65536.0,
                    );
                    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                    ((2.5 + 0.6 * z).exp() * 10.0).round() / 10.0
                }
                // Arbitrary bit patterns with specials (raw path).
                _ => match i % 9 {
                    0 => f64::NAN,
                    1 => -0.0,
                    2 => f64::INFINITY,
                    _ => f64::from_bits(r),
                },
            };
            (t, v)
        })
        .collect()
}

fn path(name: &str) -> PathBuf {
    [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "golden",
        &format!("{name}.btsz"),
    ]
    .iter()
    .collect()
}

/// (file name, input kind, codec the file must carry, policy that wrote it).
const V1: &[(&str, &str, Codec, Policy)] = &[
    (
        "v1_gorilla_decimal",
        "decimal",
        Codec::Gorilla,
        Policy::Gorilla,
    ),
    ("v1_gorilla_raw", "raw", Codec::Gorilla, Policy::Gorilla),
    ("v1_best_decimal", "decimal", Codec::Best, Policy::Alp),
    ("v1_best_precise", "precise", Codec::Best, Policy::Alp),
    ("v1_best_raw", "raw", Codec::Best, Policy::Alp),
];

/// Written by the first version of the Pack codec (chunk format 1, codec 3).
const PACK1: &[(&str, &str, Codec, Policy)] = &[
    ("pack1_decimal", "decimal", Codec::Pack, Policy::Best),
    ("pack1_precise", "precise", Codec::Pack, Policy::Best),
    ("pack1_skewed", "skewed", Codec::Pack, Policy::Best),
    ("pack1_raw", "raw", Codec::Pack, Policy::Best),
];

fn check(files: &[(&str, &str, Codec, Policy)], current: bool) {
    let write = current && std::env::var_os("TSZ_WRITE_GOLDEN").is_some();
    for &(name, kind, codec, policy) in files {
        let points = input(kind);
        if write {
            let bytes = Chunk::encode(&points, TimeUnit::Millis, policy).unwrap();
            std::fs::write(path(name), bytes).unwrap();
        }
        let bytes = std::fs::read(path(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let header = Chunk::peek(&bytes).unwrap();
        assert_eq!(header.codec, codec, "{name}");
        let (unit, back) = Chunk::decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(unit, TimeUnit::Millis);
        assert_eq!(back.len(), points.len(), "{name}");
        for (a, b) in back.iter().zip(&points) {
            assert_eq!(a.0, b.0, "{name}");
            assert_eq!(a.1.to_bits(), b.1.to_bits(), "{name}");
        }
    }
}

#[test]
fn v1_chunks_still_decode() {
    // Policy::Best wrote the v1 "best" files; it now writes Pack, so these
    // are never rewritten.
    check(V1, false);
}

#[test]
fn pack1_chunks_still_decode() {
    check(PACK1, true);
}
