//! Edit distances: the optimal-string-alignment (Damerau) distance with unit
//! costs, as a bit-parallel pattern matcher (Hyyrö's algorithm: one pass of a
//! few word operations per character) and as the plain dynamic programme.

/// A query string prepared for fast OSA distance computations against many
/// candidates (at most 64 bytes).
#[derive(Debug, Clone)]
pub struct Pattern {
    peq: Box<[u64; 256]>,
    len: usize,
}

impl Pattern {
    /// Prepares `p`; `None` when it is longer than 64 bytes.
    pub fn new(p: &[u8]) -> Option<Self> {
        if p.len() > 64 {
            return None;
        }
        let mut peq = Box::new([0u64; 256]);
        for (i, &c) in p.iter().enumerate() {
            peq[usize::from(c)] |= 1u64 << i;
        }
        Some(Pattern { peq, len: p.len() })
    }

    /// Length of the pattern in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the pattern is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// OSA distance between the pattern and `t`, or `None` above `max`.
    pub fn distance(&self, t: &[u8], max: usize) -> Option<usize> {
        let m = self.len;
        if t.len().abs_diff(m) > max {
            return None;
        }
        if m == 0 {
            return Some(t.len());
        }
        let mask = if m == 64 { u64::MAX } else { (1u64 << m) - 1 };
        let last = 1u64 << (m - 1);
        let mut pv = mask;
        let mut mv = 0u64;
        let mut score = m;
        let mut d0_prev = 0u64;
        let mut pm_prev = 0u64;
        for (j, &c) in t.iter().enumerate() {
            let pm = self.peq[usize::from(c)];
            let tr = (((!d0_prev) & pm) << 1) & pm_prev;
            let d0 = ((((pm & pv).wrapping_add(pv)) ^ pv) | pm | mv | tr) & mask;
            let hp = mv | !(d0 | pv);
            let hn = d0 & pv;
            if hp & last != 0 {
                score += 1;
            } else if hn & last != 0 {
                score -= 1;
            }
            let hp = (hp << 1) | 1;
            let hn = hn << 1;
            pv = (hn | !(d0 | hp)) & mask;
            mv = hp & d0 & mask;
            d0_prev = d0;
            pm_prev = pm;
            // The final distance is at least score - (remaining characters).
            let remaining = t.len() - j - 1;
            if score > max + remaining {
                return None;
            }
        }
        (score <= max).then_some(score)
    }
}

/// Optimal string alignment distance (Levenshtein plus adjacent
/// transpositions, each counted as one edit) between two byte strings, or
/// `None` when it exceeds `max`. The reference dynamic programme.
pub fn osa_distance(a: &[u8], b: &[u8], max: usize) -> Option<usize> {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[pre..], &b[pre..]);
    let suf = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (&a[..a.len() - suf], &b[..b.len() - suf]);
    let (a, b) = if a.len() > b.len() { (b, a) } else { (a, b) };
    if b.len() - a.len() > max {
        return None;
    }
    if a.is_empty() {
        return Some(b.len());
    }
    let n = b.len();
    let mut prev2: Vec<usize> = vec![0; n + 1];
    let mut prev: Vec<usize> = (0..=n).collect();
    let mut cur: Vec<usize> = vec![0; n + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=n {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[n];
    (d <= max).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_distances() {
        let d = |a: &str, b: &str| osa_distance(a.as_bytes(), b.as_bytes(), 10);
        let p = |a: &str, b: &str| {
            Pattern::new(a.as_bytes())
                .unwrap()
                .distance(b.as_bytes(), 10)
        };
        for (a, b, want) in [
            ("", "", 0),
            ("abc", "abc", 0),
            ("teh", "the", 1),
            ("ca", "abc", 3),
            ("kitten", "sitting", 3),
            ("acommodate", "accommodate", 1),
            ("", "abc", 3),
            ("abcd", "badc", 2),
        ] {
            assert_eq!(d(a, b), Some(want), "{a} {b}");
            assert_eq!(p(a, b), Some(want), "{a} {b}");
        }
        assert_eq!(osa_distance(b"abcdef", b"ab", 2), None);
        assert_eq!(osa_distance(b"kitten", b"sitting", 2), None);
        assert_eq!(
            Pattern::new(b"kitten").unwrap().distance(b"sitting", 2),
            None
        );
        assert!(Pattern::new(&[b'a'; 65]).is_none());
    }

    proptest! {
        #[test]
        fn bit_parallel_matches_dp(a in "[abc]{0,12}", b in "[abc]{0,12}", max in 0usize..6) {
            let p = Pattern::new(a.as_bytes()).unwrap();
            prop_assert_eq!(p.distance(b.as_bytes(), max), osa_distance(a.as_bytes(), b.as_bytes(), max));
        }

        #[test]
        fn bit_parallel_long(a in "[a-e]{50,64}", b in "[a-e]{50,64}") {
            let p = Pattern::new(a.as_bytes()).unwrap();
            prop_assert_eq!(p.distance(b.as_bytes(), 64), osa_distance(a.as_bytes(), b.as_bytes(), 64));
        }
    }
}
