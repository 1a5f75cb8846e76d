//! Content-defined chunking: FastCDC (Xia et al., 2016/2020) with normalized
//! chunking.
//!
//! A gear rolling hash moves over the data; a chunk ends where the hash's top
//! bits are all zero. Normalized chunking uses a harder mask before the
//! average size and an easier one after it, which narrows the size
//! distribution around the average; nothing is hashed before the minimum size
//! and every chunk ends by the maximum. The loop rolls two bytes per step
//! with a pre-shifted gear table, four bytes per iteration, with
//! the same cut points as the one-byte loop (checked by a property test).
//!
//! Boundaries depend only on nearby content, so an insertion early in a file
//! changes the chunks around it and leaves the later ones identical: that is
//! what makes chunk-level deduplication work across versions of a file.

use crate::{Error, Result};

/// Chunk size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CdcOptions {
    /// No chunk is smaller than this, except the last one.
    pub min_size: usize,
    /// The target average size (rounded to a power of two for the masks).
    pub avg_size: usize,
    /// No chunk is larger than this.
    pub max_size: usize,
    /// Normalization level 0-3: mask bits added before and removed after the average.
    pub normalization: u32,
}

impl Default for CdcOptions {
    /// 16 KiB / 64 KiB / 256 KiB, normalization level 1.
    fn default() -> Self {
        CdcOptions {
            min_size: 16 * 1024,
            avg_size: 64 * 1024,
            max_size: 256 * 1024,
            normalization: 1,
        }
    }
}

impl CdcOptions {
    /// Limits `min`/`avg`/`max` with normalization level 1.
    ///
    /// # Errors
    /// As [`CdcOptions::validated`].
    pub fn new(min_size: usize, avg_size: usize, max_size: usize) -> Result<Self> {
        CdcOptions {
            min_size,
            avg_size,
            max_size,
            normalization: 1,
        }
        .validated()
    }

    /// Sets the normalization level (0-3).
    ///
    /// # Errors
    /// As [`CdcOptions::validated`].
    pub fn with_normalization(mut self, level: u32) -> Result<Self> {
        self.normalization = level;
        self.validated()
    }

    /// Checks `64 <= min <= avg <= max <= 1 GiB` and the mask widths.
    ///
    /// # Errors
    /// [`Error::Invalid`] unless `64 <= min <= avg <= max <= 1 GiB` and the
    /// normalization level is at most 3.
    pub fn validated(self) -> Result<Self> {
        let ok = self.min_size >= 64
            && self.min_size <= self.avg_size
            && self.avg_size <= self.max_size
            && self.max_size <= 1 << 30
            && self.normalization <= 3;
        if !ok {
            return Err(Error::invalid(
                "chunking config",
                format!(
                    "need 64 <= min ({}) <= avg ({}) <= max ({}) <= 1 GiB and normalization ({}) <= 3",
                    self.min_size, self.avg_size, self.max_size, self.normalization
                ),
            ));
        }
        Ok(self)
    }

    fn masks(&self) -> (u64, u64) {
        let bits = self.avg_size.max(2).ilog2();
        let hard = (bits + self.normalization).min(40);
        let easy = bits.saturating_sub(self.normalization).max(1);
        (top_mask(hard), top_mask(easy))
    }
}

/// `n` one bits just below bit 63 (bit 63 stays clear so the mask can be
/// shifted left once for the unrolled loop).
const fn top_mask(n: u32) -> u64 {
    ((1u64 << n) - 1) << (63 - n)
}

const fn gear_table() -> [u64; 256] {
    // splitmix64 from a fixed seed: the table is part of the chunk format.
    let mut t = [0u64; 256];
    let mut s: u64 = 0x5EED_B10C_C5A1_7000;
    let mut i = 0;
    while i < 256 {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        t[i] = z ^ (z >> 31);
        i += 1;
    }
    t
}

const fn shifted(t: &[u64; 256]) -> [u64; 256] {
    let mut out = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        out[i] = t[i] << 1;
        i += 1;
    }
    out
}

static GEAR: [u64; 256] = gear_table();
static GEAR_LS: [u64; 256] = shifted(&gear_table());

/// Rolls over `data[from..to]` from hash `h`; returns the cut length if the
/// mask matches, else the final hash.
#[inline]
fn scan(data: &[u8], from: usize, to: usize, mut h: u64, mask: u64) -> Result<usize, u64> {
    let mask_ls = mask << 1;
    let region = &data[from..to];
    let mut quads = region.chunks_exact(4);
    let mut i = from;
    // Per pair of bytes (a, b): the hash after `a`, shifted once, is
    // `(h << 2) + GEAR_LS[a]` (checked with the shifted mask) and the hash
    // after `b` is `(h << 2) + (GEAR_LS[a] + GEAR[b])`. The table sum does not
    // depend on `h`, so the loop-carried chain is one shift and one add per
    // two bytes; the checks hang off it.
    for q in quads.by_ref() {
        let (a0, b0) = (GEAR_LS[usize::from(q[0])], GEAR[usize::from(q[1])]);
        let (a1, b1) = (GEAR_LS[usize::from(q[2])], GEAR[usize::from(q[3])]);
        let m0 = (h << 2).wrapping_add(a0);
        let h1 = (h << 2).wrapping_add(a0.wrapping_add(b0));
        let m1 = (h1 << 2).wrapping_add(a1);
        let h2 = (h1 << 2).wrapping_add(a1.wrapping_add(b1));
        if m0 & mask_ls == 0 {
            return Ok(i + 1);
        }
        if h1 & mask == 0 {
            return Ok(i + 2);
        }
        if m1 & mask_ls == 0 {
            return Ok(i + 3);
        }
        if h2 & mask == 0 {
            return Ok(i + 4);
        }
        h = h2;
        i += 4;
    }
    for &b in quads.remainder() {
        h = (h << 1).wrapping_add(GEAR[usize::from(b)]);
        i += 1;
        if h & mask == 0 {
            return Ok(i);
        }
    }
    Err(h)
}

/// The length of the first chunk of `data` (all of it if it is at most `min_size`).
///
/// A config whose fields were changed out of order (`min_size` above
/// `avg_size` or `max_size`, a zero `max_size`) is read with the average
/// and the maximum raised to the minimum (and the maximum to at least one
/// byte), so every chunk of a non-empty input is at least one byte long.
pub fn cut(data: &[u8], config: &CdcOptions) -> usize {
    let n = data.len();
    if n <= config.min_size {
        return n;
    }
    // For a valid config (`min <= avg <= max`) the clamps change nothing.
    let max = n.min(config.max_size).max(config.min_size).max(1);
    let normal = config.avg_size.clamp(config.min_size, max);
    let (hard, easy) = config.masks();
    match scan(data, config.min_size, normal, 0, hard) {
        Ok(len) => len,
        Err(h) => scan(data, normal, max, h, easy).unwrap_or(max),
    }
}

/// One chunk: a byte range of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSpan {
    /// Where it starts.
    pub offset: usize,
    /// Its length.
    pub len: usize,
}

impl ChunkSpan {
    /// The range `offset..offset + len`.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// Iterator over the chunks of a buffer.
///
/// ```
/// use blocksmith_upload::cdc::{CdcOptions, Chunker};
/// let data: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
/// let config = CdcOptions::new(2048, 8192, 32768).unwrap();
/// let chunks: Vec<_> = Chunker::new(&data, config).collect();
/// assert_eq!(chunks.iter().map(|c| c.len).sum::<usize>(), data.len());
/// assert!(chunks.iter().all(|c| c.len <= 32768));
/// ```
#[derive(Debug, Clone)]
pub struct Chunker<'a> {
    data: &'a [u8],
    offset: usize,
    config: CdcOptions,
}

impl<'a> Chunker<'a> {
    /// Chunks `data` with `config`.
    pub fn new(data: &'a [u8], config: CdcOptions) -> Self {
        Chunker {
            data,
            offset: 0,
            config,
        }
    }
}

impl Iterator for Chunker<'_> {
    type Item = ChunkSpan;

    fn next(&mut self) -> Option<ChunkSpan> {
        if self.offset >= self.data.len() {
            return None;
        }
        let len = cut(&self.data[self.offset..], &self.config);
        let span = ChunkSpan {
            offset: self.offset,
            len,
        };
        self.offset += len;
        Some(span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The textbook one-byte loop, to check the unrolled one against.
    fn cut_reference(data: &[u8], c: &CdcOptions) -> usize {
        let n = data.len();
        if n <= c.min_size {
            return n;
        }
        let max = n.min(c.max_size);
        let normal = c.avg_size.min(max);
        let (hard, easy) = c.masks();
        let mut h = 0u64;
        for (i, &b) in data.iter().enumerate().take(max).skip(c.min_size) {
            h = (h << 1).wrapping_add(GEAR[usize::from(b)]);
            let mask = if i < normal { hard } else { easy };
            if h & mask == 0 {
                return i + 1;
            }
        }
        max
    }

    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn average_is_near_target() {
        let data = noise(8 << 20, 7);
        let c = CdcOptions::new(2048, 8192, 65536).unwrap();
        let n = Chunker::new(&data, c).count();
        let avg = data.len() / n;
        assert!((6000..14000).contains(&avg), "avg {avg}");
    }

    #[test]
    fn insertion_keeps_later_chunks() {
        let a = noise(1 << 20, 3);
        let mut b = a.clone();
        b.splice(1000..1000, b"inserted bytes".iter().copied());
        let c = CdcOptions::new(1024, 4096, 16384).unwrap();
        let ha: std::collections::HashSet<&[u8]> =
            Chunker::new(&a, c).map(|s| &a[s.range()]).collect();
        let chunks_b: Vec<&[u8]> = Chunker::new(&b, c).map(|s| &b[s.range()]).collect();
        let shared = chunks_b.iter().filter(|ch| ha.contains(*ch)).count();
        assert!(
            shared + 3 >= chunks_b.len(),
            "{shared} of {}",
            chunks_b.len()
        );
    }

    #[test]
    fn bad_configs_are_rejected() {
        assert!(CdcOptions::new(10, 8192, 65536).is_err());
        assert!(CdcOptions::new(4096, 2048, 65536).is_err());
        assert!(CdcOptions::new(1024, 2048, 1024).is_err());
        assert!(CdcOptions::default().with_normalization(4).is_err());
    }

    proptest! {
        #[test]
        fn unrolled_loop_matches_reference(seed: u64, n in 0usize..40_000, level in 0u32..4, odd in 0usize..2) {
            let data = noise(n, seed);
            let c = CdcOptions::new(256 + odd, 1024, 4096 + odd).unwrap().with_normalization(level).unwrap();
            let mut off = 0;
            while off < data.len() {
                let got = cut(&data[off..], &c);
                prop_assert_eq!(got, cut_reference(&data[off..], &c));
                prop_assert!(got > 0 && got <= c.max_size);
                prop_assert!(got >= c.min_size || off + got == data.len());
                off += got;
            }
        }

        #[test]
        fn chunks_tile_the_input(data in proptest::collection::vec(any::<u8>(), 0..20_000)) {
            let c = CdcOptions::new(64, 256, 1024).unwrap();
            let mut next = 0;
            for s in Chunker::new(&data, c) {
                prop_assert_eq!(s.offset, next);
                next += s.len;
            }
            prop_assert_eq!(next, data.len());
        }
    }
}
