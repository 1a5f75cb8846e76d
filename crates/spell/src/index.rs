//! Candidate generation: a symmetric-delete (SymSpell) index stored as a
//! compact hash table in compressed-sparse-row form, plus a filtered scan for
//! distance 3 on long words.
//!
//! Every dictionary word contributes the hashes of all strings obtained by
//! deleting up to `max_distance` characters from its first `prefix_len`
//! characters. A query generates the same deletes of its own prefix; words that
//! share a delete hash are candidates, verified with the real distance. Two
//! strings within `d` edits (transpositions included) always share such a
//! delete, so no candidate is missed; hash collisions only add candidates
//! that verification drops.

use crate::Lexicon;

/// Parameters of the delete index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IndexParams {
    pub(crate) max_distance: usize,
    pub(crate) prefix_len: usize,
}

/// The delete index over a lexicon's words.
#[derive(Debug, Clone)]
pub(crate) struct DeleteIndex {
    params: IndexParams,
    shift: u32,
    /// Bucket `b` holds `entries[starts[b]..starts[b + 1]]`.
    starts: Vec<u32>,
    /// Hash fingerprint (high 32 bits) | word length (8 bits) | word index (24 bits).
    entries: Vec<u64>,
    /// Letter presence masks, for the distance-3 scan.
    masks: Vec<u32>,
    /// Word indices grouped by length and first byte: `by_len[l * 256 + b]`.
    by_len: Vec<Vec<u32>>,
}

const BASE: u64 = 0x9E37_79B9_7F4A_7C15 | 1;
const FP_MASK: u64 = 0xFFFF_FFFF_0000_0000;
const IDX_MASK: u32 = 0x00FF_FFFF;

const fn inverse(b: u64) -> u64 {
    // Newton's iteration for the inverse of an odd number modulo 2^64.
    let mut x = b;
    let mut i = 0;
    while i < 6 {
        x = x.wrapping_mul(2u64.wrapping_sub(b.wrapping_mul(x)));
        i += 1;
    }
    x
}

const BASE_INV: u64 = inverse(BASE);

fn finish(h: u64, len: usize) -> u64 {
    let mut h = h ^ (len as u64).wrapping_mul(0xA24B_AED4_963E_E407);
    h ^= h >> 31;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 29)
}

/// Appends to `out` (cleared first) the hash of every string made by
/// deleting up to `max` (at most 3) bytes from `s` (at most 16 bytes). Uses a
/// polynomial hash whose prefix sums give each delete's hash in O(1).
fn for_each_delete(s: &[u8], max: usize, out: &mut Vec<u64>) {
    out.clear();
    let n = s.len();
    let mut pre = [0u64; 17];
    let mut pow = 1u64;
    for (k, &c) in s.iter().enumerate() {
        pre[k + 1] = pre[k].wrapping_add(u64::from(c).wrapping_mul(pow));
        pow = pow.wrapping_mul(BASE);
    }
    let inv2 = BASE_INV.wrapping_mul(BASE_INV);
    let inv3 = inv2.wrapping_mul(BASE_INV);
    let seg = |a: usize, b: usize| pre[b].wrapping_sub(pre[a]);
    out.push(finish(pre[n], n));
    if max >= 1 {
        for (i, &h1) in pre.iter().enumerate().take(n) {
            out.push(finish(
                h1.wrapping_add(seg(i + 1, n).wrapping_mul(BASE_INV)),
                n - 1,
            ));
            if max >= 2 {
                for j in i + 1..n {
                    let h2 = h1.wrapping_add(seg(i + 1, j).wrapping_mul(BASE_INV));
                    out.push(finish(
                        h2.wrapping_add(seg(j + 1, n).wrapping_mul(inv2)),
                        n - 2,
                    ));
                    if max >= 3 {
                        for k in j + 1..n {
                            let h3 = h2.wrapping_add(seg(j + 1, k).wrapping_mul(inv2));
                            out.push(finish(
                                h3.wrapping_add(seg(k + 1, n).wrapping_mul(inv3)),
                                n - 3,
                            ));
                        }
                    }
                }
            }
        }
    }
}

/// Concatenates `parts` sorted by the top `bits` bits of each entry, in
/// least-significant-digit passes of at most 10 bits (cache friendly).
fn radix_by_top_bits(parts: &[Vec<u64>], bits: u32) -> Vec<u64> {
    let total: usize = parts.iter().map(Vec::len).sum();
    let mut v = vec![0u64; total];
    let mut tmp = vec![0u64; total];
    let passes = bits.div_ceil(10).max(1);
    let per = bits.div_ceil(passes);
    for p in 0..passes {
        let lo = 64 - bits + p * per;
        let width = per.min(64 - lo);
        let mask = (1u64 << width) - 1;
        let mut counts = vec![0usize; (1 << width) + 1];
        let scatter =
            |src: &mut dyn Iterator<Item = u64>, dst: &mut [u64], counts: &mut [usize]| {
                for e in src {
                    let d = ((e >> lo) & mask) as usize;
                    dst[counts[d]] = e;
                    counts[d] += 1;
                }
            };
        if p == 0 {
            for e in parts.iter().flatten() {
                counts[((e >> lo) & mask) as usize + 1] += 1;
            }
            for k in 1..counts.len() {
                counts[k] += counts[k - 1];
            }
            scatter(&mut parts.iter().flatten().copied(), &mut v, &mut counts);
        } else {
            for &e in &v {
                counts[((e >> lo) & mask) as usize + 1] += 1;
            }
            for k in 1..counts.len() {
                counts[k] += counts[k - 1];
            }
            scatter(&mut v.iter().copied(), &mut tmp, &mut counts);
            std::mem::swap(&mut v, &mut tmp);
        }
    }
    v
}

pub(crate) fn letter_mask(w: &[u8]) -> u32 {
    w.iter().fold(0u32, |m, &c| {
        let bit = if c.is_ascii_lowercase() {
            c - b'a'
        } else {
            26 + (c % 6)
        };
        m | (1 << bit)
    })
}

impl DeleteIndex {
    pub(crate) fn build(lex: &Lexicon, params: IndexParams) -> Self {
        let prefix_len = params.prefix_len.clamp(1, 16);
        let params = IndexParams {
            max_distance: params.max_distance.min(3),
            prefix_len,
        };
        let n = lex.len();
        // About eight entries (one cache line) per bucket.
        let approx = n * 24 / 8;
        let bits = (usize::BITS - approx.max(2).leading_zeros()).clamp(2, 24);
        let shift = 64 - bits;
        let mut masks = Vec::with_capacity(n);
        let mut by_len: Vec<Vec<u32>> = vec![Vec::new(); (lex.max_word_len() + 1) * 256];
        for i in 0..n as u32 {
            let w = lex.word(i).as_bytes();
            masks.push(letter_mask(w));
            by_len[w.len() * 256 + usize::from(w[0])].push(i);
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, 4);
        let per = n.div_ceil(threads).max(1);
        let parts: Vec<Vec<u64>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .step_by(per)
                .map(|lo| {
                    let hi = (lo + per).min(n);
                    scope.spawn(move || {
                        let mut raw = Vec::with_capacity((hi - lo) * 24);
                        let mut tmp = Vec::with_capacity(64);
                        for i in lo as u32..hi as u32 {
                            let w = lex.word(i).as_bytes();
                            let p = &w[..w.len().min(prefix_len)];
                            for_each_delete(p, params.max_distance, &mut tmp);
                            for &h in &tmp {
                                raw.push(
                                    (h & FP_MASK) | ((w.len() as u64 & 0xFF) << 24) | u64::from(i),
                                );
                            }
                        }
                        raw
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        // LSD radix sort by bucket (the top `bits` bits of the hash) in two
        // cache-friendly passes, then bucket starts from one linear scan.
        let entries = radix_by_top_bits(&parts, bits);
        let buckets = 1usize << bits;
        let mut starts = vec![0u32; buckets + 1];
        let mut b = 0usize;
        for (k, &e) in entries.iter().enumerate() {
            let eb = (e >> shift) as usize;
            while b < eb {
                b += 1;
                starts[b] = k as u32;
            }
        }
        while b < buckets {
            b += 1;
            starts[b] = entries.len() as u32;
        }
        DeleteIndex {
            params,
            shift,
            starts,
            entries,
            masks,
            by_len,
        }
    }

    pub(crate) fn max_distance(&self) -> usize {
        self.params.max_distance
    }

    /// Number of stored delete entries.
    pub(crate) fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// Words within `max` (at most the index distance) of `query`, with their
    /// distance, appended to `out` (cleared first).
    pub(crate) fn lookup(&self, lex: &Lexicon, query: &[u8], max: usize, out: &mut Vec<(u32, u8)>) {
        out.clear();
        let max = max.min(self.params.max_distance);
        let p = &query[..query.len().min(self.params.prefix_len)];
        let Some(pattern) = crate::distance::Pattern::new(query) else {
            return;
        };
        let mut deletes = Vec::with_capacity(64);
        for_each_delete(p, max, &mut deletes);
        let mut cands: Vec<u32> = Vec::with_capacity(64);
        let qlen = query.len();
        for &h in &deletes {
            let b = (h >> self.shift) as usize;
            let fp = h & FP_MASK;
            for &e in &self.entries[self.starts[b] as usize..self.starts[b + 1] as usize] {
                // Same fingerprint, and a length within reach: no memory access.
                if e & FP_MASK == fp && ((e >> 24) as usize & 0xFF).abs_diff(qlen) <= max {
                    cands.push(e as u32 & IDX_MASK);
                }
            }
        }
        cands.sort_unstable();
        cands.dedup();
        for i in cands {
            if let Some(d) = pattern.distance(lex.word_bytes(i), max) {
                out.push((i, d as u8));
            }
        }
    }

    /// Words within `max` edits that start with the same letter, found by a
    /// filtered scan over words of similar length (used for distance 3 on long
    /// words, where a wrong first letter is rare).
    pub(crate) fn scan(&self, lex: &Lexicon, query: &[u8], max: usize, out: &mut Vec<(u32, u8)>) {
        let Some(pattern) = crate::distance::Pattern::new(query) else {
            return;
        };
        let qm = letter_mask(query);
        let lo = query.len().saturating_sub(max);
        let Some(&first) = query.first() else {
            return;
        };
        let hi = (query.len() + max).min(self.by_len.len() / 256 - 1);
        for l in lo..=hi {
            for &i in &self.by_len[l * 256 + usize::from(first)] {
                // Each edit changes at most two presence bits.
                if (qm ^ self.masks[i as usize]).count_ones() as usize > 2 * max {
                    continue;
                }
                if let Some(d) = pattern.distance(lex.word_bytes(i), max) {
                    out.push((i, d as u8));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distance::osa_distance;

    #[test]
    fn index_finds_every_word_within_distance() {
        let words = [
            "the",
            "then",
            "than",
            "there",
            "their",
            "accommodate",
            "separate",
            "definitely",
            "a",
            "i",
            "internationalization",
        ];
        let lex = Lexicon::from_parts(words.iter().map(|w| (*w, 1)), []).unwrap();
        let idx = DeleteIndex::build(
            &lex,
            IndexParams {
                max_distance: 2,
                prefix_len: 7,
            },
        );
        for q in [
            "teh",
            "thier",
            "acommodate",
            "seperate",
            "definately",
            "x",
            "internationalisation",
            "th",
        ] {
            let mut got = Vec::new();
            idx.lookup(&lex, q.as_bytes(), 2, &mut got);
            got.sort_unstable();
            let mut want: Vec<(u32, u8)> = (0..lex.len() as u32)
                .filter_map(|i| {
                    osa_distance(q.as_bytes(), lex.word(i).as_bytes(), 2).map(|d| (i, d as u8))
                })
                .collect();
            want.sort_unstable();
            assert_eq!(got, want, "query {q}");
        }
    }
}
