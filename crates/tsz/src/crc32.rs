//! CRC-32 (IEEE 802.3, reflected polynomial `0xEDB88320`, the zlib/PNG CRC).
//!
//! Computed by `crc32fast`, which uses carry-less multiplication (PCLMULQDQ /
//! PMULL) where the CPU has it: checksumming a whole chunk is then a small
//! fraction of decoding it. An earlier table-driven slicing-by-8 version of our
//! own ran at about a third of the speed and capped full-chunk decode
//! throughput (see `docs/benchmarks.md`).

/// Computes the CRC-32 (IEEE) of `data`.
pub(crate) fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

#[cfg(test)]
mod tests {
    use super::crc32;

    const POLY: u32 = 0xEDB8_8320;

    #[test]
    fn check_value() {
        // The standard CRC-32 check value.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
        let long: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        // Must agree with the bitwise definition.
        let mut crc = !0u32;
        for &b in &long {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ POLY
                } else {
                    crc >> 1
                };
            }
        }
        assert_eq!(crc32(&long), !crc);
    }
}
