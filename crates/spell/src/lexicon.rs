//! The word list with unigram and bigram frequencies, and its compact binary
//! encoding.
//!
//! # Binary format (version 1)
//! All integers are LEB128 varints unless noted.
//!
//! | field | encoding |
//! | --- | --- |
//! | magic | `BSPL` (4 bytes) |
//! | format | `1` (1 byte) |
//! | word count `n`, bigram count `m` | varint, varint |
//! | `n` words, ascending byte order | shared prefix length with the previous word, suffix length, suffix bytes, frequency |
//! | `m` bigrams, ascending `(first, second)` | first-index delta from the previous bigram; second index (delta from the previous second when the first is unchanged); count |
//! | checksum | CRC-32 of everything before it, 4 bytes little-endian |
//!
//! Words are non-empty, at most [`MAX_WORD_LEN`] bytes, and strictly ascending (so unique).
//! The shipped English dictionary (82,834 words, 242,342 bigrams from symspellpy's
//! frequency lists, MIT) encodes to 2.2 MB (from 6.5 MB of text) and decodes in about 12 ms.

use crate::{Error, Result};
use std::sync::{Arc, OnceLock};

/// Longest word the format accepts, in bytes.
pub const MAX_WORD_LEN: usize = 64;

/// Most words a lexicon may hold (the candidate index addresses words with 24 bits).
pub const MAX_WORDS: usize = 1 << 24;

const MAGIC: &[u8; 4] = b"BSPL";
const FORMAT: u8 = 1;

static ENGLISH_BYTES: &[u8] = include_bytes!("../data/en.bspl");

/// A decoded word list: words in ascending byte order with their frequencies,
/// and bigram counts between word indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexicon {
    arena: String,
    offsets: Vec<u32>,
    freqs: Vec<u64>,
    /// `(first << 32 | second, count)`, ascending by key.
    bigrams: Vec<(u64, u64)>,
    total: u64,
    max_len: usize,
}

impl Lexicon {
    /// The shipped English dictionary, decoded on first use.
    ///
    /// # Panics
    /// Never in practice: the embedded bytes are checked by the test suite.
    pub fn english() -> &'static Lexicon {
        Self::english_shared()
    }

    /// The shipped English dictionary as a shared handle, decoded on first use.
    ///
    /// # Panics
    /// Never in practice: the embedded bytes are checked by the test suite.
    pub fn english_shared() -> &'static Arc<Lexicon> {
        static EN: OnceLock<Arc<Lexicon>> = OnceLock::new();
        EN.get_or_init(|| {
            Arc::new(Lexicon::decode(ENGLISH_BYTES).expect("embedded dictionary is valid"))
        })
    }

    /// The encoded bytes of the shipped English dictionary.
    pub fn english_bytes() -> &'static [u8] {
        ENGLISH_BYTES
    }

    /// Builds a lexicon from words with frequencies and bigrams of word pairs.
    /// Words may come in any order; bigrams naming unknown words are an error.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if there are more than [`MAX_WORDS`] words, a word
    /// is empty, longer than [`MAX_WORD_LEN`] bytes or listed twice, or a bigram
    /// names a word that is not in `words`.
    pub fn from_parts<'a>(
        words: impl IntoIterator<Item = (&'a str, u64)>,
        bigrams: impl IntoIterator<Item = (&'a str, &'a str, u64)>,
    ) -> Result<Self> {
        let mut ws: Vec<(&str, u64)> = words.into_iter().collect();
        if ws.len() > MAX_WORDS {
            return Err(Error::InvalidInput(format!(
                "{} words, at most {MAX_WORDS}",
                ws.len()
            )));
        }
        ws.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for pair in ws.windows(2) {
            if pair[0].0 == pair[1].0 {
                return Err(Error::InvalidInput(format!(
                    "duplicate word {:?}",
                    pair[0].0
                )));
            }
        }
        let mut arena = String::new();
        let mut offsets = vec![0u32];
        let mut freqs = Vec::with_capacity(ws.len());
        for (w, f) in &ws {
            if w.is_empty() || w.len() > MAX_WORD_LEN {
                return Err(Error::InvalidInput(format!(
                    "word length {} out of range",
                    w.len()
                )));
            }
            arena.push_str(w);
            offsets.push(arena.len() as u32);
            freqs.push(*f);
        }
        let mut lex = Lexicon {
            arena,
            offsets,
            freqs,
            bigrams: Vec::new(),
            total: 0,
            max_len: 0,
        };
        let mut bi = Vec::new();
        for (a, b, c) in bigrams {
            let ia = lex.index_of(a).ok_or_else(|| {
                Error::InvalidInput(format!("bigram word {a:?} not in the word list"))
            })?;
            let ib = lex.index_of(b).ok_or_else(|| {
                Error::InvalidInput(format!("bigram word {b:?} not in the word list"))
            })?;
            bi.push(((u64::from(ia) << 32) | u64::from(ib), c));
        }
        bi.sort_unstable();
        bi.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                earlier.1 = earlier.1.saturating_add(later.1);
                true
            } else {
                false
            }
        });
        lex.bigrams = bi;
        lex.finish();
        Ok(lex)
    }

    fn finish(&mut self) {
        self.total = self
            .freqs
            .iter()
            .fold(0u64, |a, &f| a.saturating_add(f))
            .max(1);
        self.max_len = (0..self.len())
            .map(|i| self.word(i as u32).len())
            .max()
            .unwrap_or(0);
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.freqs.len()
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.freqs.is_empty()
    }

    /// Number of bigrams.
    pub fn bigram_len(&self) -> usize {
        self.bigrams.len()
    }

    /// Sum of all word frequencies (at least 1).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Length in bytes of the longest word.
    pub fn max_word_len(&self) -> usize {
        self.max_len
    }

    /// The word at `index`.
    ///
    /// # Panics
    /// If `index` is out of range.
    pub fn word(&self, index: u32) -> &str {
        let i = index as usize;
        &self.arena[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// The bytes of the word at `index` (no UTF-8 boundary checks).
    pub(crate) fn word_bytes(&self, index: u32) -> &[u8] {
        let i = index as usize;
        &self.arena.as_bytes()[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// The frequency of the word at `index`.
    ///
    /// # Panics
    /// If `index` is out of range.
    pub fn freq(&self, index: u32) -> u64 {
        self.freqs[index as usize]
    }

    /// The index of `word`, if present (binary search; the words are sorted).
    pub fn index_of(&self, word: &str) -> Option<u32> {
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            let mid = usize::midpoint(lo, hi);
            match self.word_bytes(mid as u32).cmp(word.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }

    /// The frequency of `word`, 0 when absent.
    pub fn freq_of(&self, word: &str) -> u64 {
        self.index_of(word).map_or(0, |i| self.freq(i))
    }

    /// The count of the bigram `(first, second)` by word index, 0 when absent.
    pub fn bigram(&self, first: u32, second: u32) -> u64 {
        let key = (u64::from(first) << 32) | u64::from(second);
        self.bigrams
            .binary_search_by_key(&key, |e| e.0)
            .map_or(0, |i| self.bigrams[i].1)
    }

    /// Iterates `(word, frequency)` in ascending word order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        (0..self.len() as u32).map(|i| (self.word(i), self.freq(i)))
    }

    /// Iterates `(first, second, count)` bigrams in ascending index order.
    pub fn iter_bigrams(&self) -> impl Iterator<Item = (&str, &str, u64)> + '_ {
        self.bigrams
            .iter()
            .map(|&(k, c)| (self.word((k >> 32) as u32), self.word(k as u32), c))
    }

    /// Iterates `(first, second, count)` bigrams by word index.
    pub fn iter_bigram_indices(&self) -> impl Iterator<Item = (u32, u32, u64)> + '_ {
        self.bigrams
            .iter()
            .map(|&(k, c)| ((k >> 32) as u32, k as u32, c))
    }

    /// Encodes to the binary format described in the module docs.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.arena.len() + self.bigrams.len() * 6);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT);
        put_varint(&mut out, self.len() as u64);
        put_varint(&mut out, self.bigrams.len() as u64);
        let mut prev = "";
        for (w, f) in self.iter() {
            let shared = prev
                .bytes()
                .zip(w.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            put_varint(&mut out, shared as u64);
            put_varint(&mut out, (w.len() - shared) as u64);
            out.extend_from_slice(&w.as_bytes()[shared..]);
            put_varint(&mut out, f);
            prev = w;
        }
        let (mut pa, mut pb) = (0u64, 0u64);
        for &(k, c) in &self.bigrams {
            let (a, b) = (k >> 32, k & 0xFFFF_FFFF);
            put_varint(&mut out, a - pa);
            if a == pa {
                put_varint(&mut out, b - pb);
            } else {
                put_varint(&mut out, b);
            }
            put_varint(&mut out, c);
            (pa, pb) = (a, b);
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes the binary format, validating everything: a hostile input gets
    /// [`Error::CorruptDictionary`], never a panic.
    ///
    /// # Errors
    /// [`Error::CorruptDictionary`] (with the byte offset) if `bytes` are too
    /// short, lack the magic or the known format version, fail the CRC-32, or hold
    /// counts, lengths, words or bigram indices that are out of range, unsorted or
    /// not UTF-8.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let corrupt = |offset, reason| Error::CorruptDictionary { offset, reason };
        if bytes.len() < MAGIC.len() + 1 + 4 {
            return Err(corrupt(0, "too short"));
        }
        if &bytes[..4] != MAGIC {
            return Err(corrupt(0, "bad magic"));
        }
        if bytes[4] != FORMAT {
            return Err(corrupt(4, "unknown format version"));
        }
        let body_end = bytes.len() - 4;
        let stored = u32::from_le_bytes([
            bytes[body_end],
            bytes[body_end + 1],
            bytes[body_end + 2],
            bytes[body_end + 3],
        ]);
        if crc32fast::hash(&bytes[..body_end]) != stored {
            return Err(corrupt(body_end, "checksum mismatch"));
        }
        let mut r = Reader {
            buf: &bytes[..body_end],
            pos: 5,
        };
        let n = r.varint()?;
        let m = r.varint()?;
        // Each word takes at least 4 bytes, each bigram at least 3: bound the allocations.
        let remaining = (body_end - r.pos) as u64;
        if n > MAX_WORDS as u64 || n.saturating_mul(4) > remaining {
            return Err(corrupt(r.pos, "word count exceeds the data"));
        }
        if m.saturating_mul(3) > remaining {
            return Err(corrupt(r.pos, "bigram count exceeds the data"));
        }
        let (n, m) = (n as usize, m as usize);
        let mut arena = String::with_capacity(n * 8);
        let mut offsets = Vec::with_capacity(n + 1);
        offsets.push(0u32);
        let mut freqs = Vec::with_capacity(n);
        let mut prev: [u8; MAX_WORD_LEN] = [0; MAX_WORD_LEN];
        let mut prev_len = 0usize;
        let mut word = [0u8; MAX_WORD_LEN];
        for i in 0..n {
            let at = r.pos;
            let shared = r.varint()? as usize;
            let suffix = r.varint()? as usize;
            if shared > prev_len || suffix == 0 || shared + suffix > MAX_WORD_LEN {
                return Err(corrupt(at, "bad word lengths"));
            }
            let tail = r.bytes(suffix)?;
            word[..shared].copy_from_slice(&prev[..shared]);
            word[shared..shared + suffix].copy_from_slice(tail);
            let len = shared + suffix;
            let w = &word[..len];
            if i > 0 && w <= &prev[..prev_len] {
                return Err(corrupt(at, "words not strictly ascending"));
            }
            let s = std::str::from_utf8(w).map_err(|_| corrupt(at, "word is not UTF-8"))?;
            arena.push_str(s);
            if arena.len() > u32::MAX as usize {
                return Err(corrupt(at, "word data too large"));
            }
            offsets.push(arena.len() as u32);
            freqs.push(r.varint()?);
            prev[..len].copy_from_slice(w);
            prev_len = len;
        }
        let mut bigrams = Vec::with_capacity(m);
        let (mut pa, mut pb) = (0u64, 0u64);
        for i in 0..m {
            let at = r.pos;
            let da = r.varint()?;
            let a = pa
                .checked_add(da)
                .ok_or_else(|| corrupt(at, "index overflow"))?;
            let rb = r.varint()?;
            let b = if da == 0 {
                if i > 0 && rb == 0 {
                    return Err(corrupt(at, "duplicate bigram"));
                }
                pb.checked_add(rb)
                    .ok_or_else(|| corrupt(at, "index overflow"))?
            } else {
                rb
            };
            if a >= n as u64 || b >= n as u64 {
                return Err(corrupt(at, "bigram index out of range"));
            }
            let c = r.varint()?;
            bigrams.push(((a << 32) | b, c));
            (pa, pb) = (a, b);
        }
        if r.pos != body_end {
            return Err(corrupt(r.pos, "trailing bytes"));
        }
        let mut lex = Lexicon {
            arena,
            offsets,
            freqs,
            bigrams,
            total: 0,
            max_len: 0,
        };
        lex.finish();
        Ok(lex)
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(Error::CorruptDictionary {
                    offset: self.pos,
                    reason: "truncated varint",
                });
            };
            self.pos += 1;
            let part = u64::from(b & 0x7F);
            if shift == 63 && part > 1 {
                return Err(Error::CorruptDictionary {
                    offset: self.pos - 1,
                    reason: "varint overflow",
                });
            }
            v |= part << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Error::CorruptDictionary {
            offset: self.pos,
            reason: "varint too long",
        })
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(Error::CorruptDictionary {
                offset: self.pos,
                reason: "truncated word",
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_small() {
        let lex = Lexicon::from_parts(
            [("the", 100), ("then", 5), ("a", 50), ("théâtre", 1)],
            [("the", "a", 3), ("a", "then", 1), ("a", "the", 2)],
        )
        .unwrap();
        let bytes = lex.encode();
        let back = Lexicon::decode(&bytes).unwrap();
        assert_eq!(back, lex);
        assert_eq!(back.freq_of("then"), 5);
        assert_eq!(back.freq_of("than"), 0);
        let (a, t) = (back.index_of("a").unwrap(), back.index_of("the").unwrap());
        assert_eq!(back.bigram(t, a), 3);
        assert_eq!(back.bigram(a, t), 2);
        assert_eq!(back.bigram(a, a), 0);
    }

    #[test]
    fn rejects_duplicates_and_unknown_bigram_words() {
        assert!(Lexicon::from_parts([("a", 1), ("a", 2)], []).is_err());
        assert!(Lexicon::from_parts([("a", 1)], [("a", "b", 1)]).is_err());
        assert!(Lexicon::from_parts([("", 1)], []).is_err());
    }

    #[test]
    fn detects_corruption() {
        let lex = Lexicon::from_parts([("a", 1), ("b", 2)], [("a", "b", 1)]).unwrap();
        let mut bytes = lex.encode();
        bytes[7] ^= 1;
        assert!(matches!(
            Lexicon::decode(&bytes),
            Err(Error::CorruptDictionary { .. })
        ));
        assert!(Lexicon::decode(b"BSPL").is_err());
        assert!(Lexicon::decode(&[]).is_err());
    }
}
