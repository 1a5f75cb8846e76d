//! The error model: how likely a typed string is, given the intended word.
//!
//! A weighted Damerau alignment whose costs encode how people actually
//! mistype: neighbouring keys on the enabled keyboard layouts, vowel and
//! sound-alike confusions, doubled and dropped letters, transpositions; plus a
//! phonetic key that rewards candidates that sound like the typed string.

/// A keyboard layout whose key adjacency informs substitution costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layout {
    /// US/UK QWERTY.
    Qwerty,
    /// German QWERTZ.
    Qwertz,
    /// French AZERTY.
    Azerty,
    /// Dvorak simplified keyboard.
    Dvorak,
}

impl Layout {
    fn rows(self) -> [&'static str; 3] {
        match self {
            Layout::Qwerty => ["qwertyuiop", "asdfghjkl", "zxcvbnm"],
            Layout::Qwertz => ["qwertzuiop", "asdfghjkl", "yxcvbnm"],
            Layout::Azerty => ["azertyuiop", "qsdfghjklm", "wxcvbn"],
            Layout::Dvorak => ["'pyfgcrl", "aoeuidhtns", "qjkxbmwvz"],
        }
    }

    fn position(self, c: u8) -> Option<(f32, f32)> {
        let stagger = match self {
            Layout::Dvorak => [1.0, 0.25, 0.75],
            _ => [0.0, 0.25, 0.75],
        };
        for (r, row) in self.rows().iter().enumerate() {
            if let Some(col) = row.bytes().position(|k| k == c) {
                return Some((r as f32, col as f32 + stagger[r]));
            }
        }
        None
    }

    /// Whether keys `a` and `b` touch on this layout.
    pub fn adjacent(self, a: u8, b: u8) -> bool {
        if a == b {
            return false;
        }
        match (self.position(a), self.position(b)) {
            (Some((ra, xa)), Some((rb, xb))) => {
                let dr = ra - rb;
                let dx = xa - xb;
                dr.abs() <= 1.0 && dx.abs() <= 1.0 && (dr * dr + dx * dx) <= 1.6
            }
            _ => false,
        }
    }
}

/// Adjacency table for a set of layouts: `adj[a][b]` for lowercase letters
/// and the apostrophe.
#[derive(Debug, Clone)]
pub(crate) struct Keyboard {
    adj: Box<[[bool; 27]; 27]>,
}

fn slot(c: u8) -> Option<usize> {
    match c {
        b'a'..=b'z' => Some(usize::from(c - b'a')),
        b'\'' => Some(26),
        _ => None,
    }
}

impl Keyboard {
    pub(crate) fn new(layouts: &[Layout]) -> Self {
        let mut adj = Box::new([[false; 27]; 27]);
        let keys: Vec<u8> = (b'a'..=b'z').chain([b'\'']).collect();
        for &a in &keys {
            for &b in &keys {
                if layouts.iter().any(|l| l.adjacent(a, b)) {
                    adj[slot(a).unwrap_or(0)][slot(b).unwrap_or(0)] = true;
                }
            }
        }
        Keyboard { adj }
    }

    fn adjacent(&self, a: u8, b: u8) -> bool {
        match (slot(a), slot(b)) {
            (Some(x), Some(y)) => self.adj[x][y],
            _ => false,
        }
    }
}

/// Costs of the weighted alignment, in edit units (1.0 = an unexplained edit).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct ErrorCosts {
    /// Substituting a neighbouring key.
    pub adjacent_key: f64,
    /// Substituting one vowel for another.
    pub vowel: f64,
    /// Substituting a sound-alike consonant (c/k/s, s/z, i/y, ...).
    pub sound_alike: f64,
    /// Any other substitution.
    pub substitution: f64,
    /// Typing a letter twice (or doubling the neighbour).
    pub doubled: f64,
    /// Dropping one letter of a double.
    pub dropped_double: f64,
    /// Dropping a vowel.
    pub dropped_vowel: f64,
    /// Any other dropped letter.
    pub deletion: f64,
    /// Inserting a neighbouring key of the next or previous letter.
    pub adjacent_insert: f64,
    /// Any other inserted letter.
    pub insertion: f64,
    /// Swapping two adjacent letters.
    pub transposition: f64,
    /// Subtracted when typed string and candidate share a phonetic key.
    pub phonetic_bonus: f64,
    /// A missing space between two words ("inthe").
    pub missing_space: f64,
}

impl Default for ErrorCosts {
    /// Fitted by coordinate descent on the dev halves of the evaluation lists
    /// (`examples/spell_eval.rs --tune`): omissions are the commonest error,
    /// dropped doubles and vowels cheapest of all.
    fn default() -> Self {
        ErrorCosts {
            adjacent_key: 1.05,
            vowel: 1.03,
            sound_alike: 0.56,
            substitution: 1.5,
            doubled: 0.57,
            dropped_double: 0.28,
            dropped_vowel: 0.5,
            deletion: 0.48,
            adjacent_insert: 1.12,
            insertion: 1.21,
            transposition: 0.66,
            phonetic_bonus: 0.45,
            missing_space: 1.24,
        }
    }
}
impl ErrorCosts {
    /// The smallest cost one edit can have (before the phonetic bonus, which
    /// applies once per word): a lower bound used to prune candidates.
    pub fn floor(&self) -> f64 {
        let m = [
            self.adjacent_key,
            self.vowel,
            self.sound_alike,
            self.substitution,
            self.doubled,
            self.dropped_double,
            self.dropped_vowel,
            self.deletion,
            self.adjacent_insert,
            self.insertion,
            self.transposition,
        ]
        .into_iter()
        .fold(f64::INFINITY, f64::min);
        m.max(0.0)
    }
}

fn is_vowel(c: u8) -> bool {
    matches!(c, b'a' | b'e' | b'i' | b'o' | b'u')
}

fn sound_alike(a: u8, b: u8) -> bool {
    const PAIRS: [(u8, u8); 10] = [
        (b'c', b'k'),
        (b'c', b's'),
        (b's', b'z'),
        (b'i', b'y'),
        (b'g', b'j'),
        (b'v', b'w'),
        (b'f', b'v'),
        (b'm', b'n'),
        (b'd', b't'),
        (b'b', b'p'),
    ];
    PAIRS
        .iter()
        .any(|&(x, y)| (a == x && b == y) || (a == y && b == x))
}

/// The weighted error model.
#[derive(Debug, Clone)]
pub(crate) struct ErrorModel {
    pub(crate) costs: ErrorCosts,
    keyboard: Keyboard,
    /// Substitution costs between byte classes (a-z, apostrophe, other).
    sub: Box<[[f64; 28]; 28]>,
}

fn class(c: u8) -> usize {
    slot(c).unwrap_or(27)
}

impl ErrorModel {
    pub(crate) fn new(costs: ErrorCosts, layouts: &[Layout]) -> Self {
        let mut m = ErrorModel {
            costs,
            keyboard: Keyboard::new(layouts),
            sub: Box::new([[costs.substitution; 28]; 28]),
        };
        let keys: Vec<u8> = (b'a'..=b'z').chain([b'\'']).collect();
        for &a in &keys {
            for &b in &keys {
                m.sub[class(a)][class(b)] = m.sub_cost(a, b);
            }
        }
        m
    }

    fn sub_cost(&self, typed: u8, intended: u8) -> f64 {
        let c = &self.costs;
        if typed == intended {
            0.0
        } else if is_vowel(typed) && is_vowel(intended) {
            c.vowel
        } else if self.keyboard.adjacent(typed, intended) {
            c.adjacent_key
        } else if sound_alike(typed, intended) {
            c.sound_alike
        } else {
            c.substitution
        }
    }

    /// Cost of the typed string containing the extra letter `t[j]`.
    fn ins_cost(&self, t: &[u8], j: usize) -> f64 {
        let c = &self.costs;
        let x = t[j];
        let prev = j.checked_sub(1).map(|k| t[k]);
        let next = t.get(j + 1).copied();
        if prev == Some(x) || next == Some(x) {
            c.doubled
        } else if prev.is_some_and(|p| self.keyboard.adjacent(p, x))
            || next.is_some_and(|n| self.keyboard.adjacent(n, x))
        {
            c.adjacent_insert
        } else {
            c.insertion
        }
    }

    /// Cost of the typed string missing the letter `w[i]` of the word.
    fn del_cost(&self, w: &[u8], i: usize) -> f64 {
        let c = &self.costs;
        let x = w[i];
        let prev = i.checked_sub(1).map(|k| w[k]);
        let next = w.get(i + 1).copied();
        if prev == Some(x) || next == Some(x) {
            c.dropped_double
        } else if is_vowel(x) {
            c.dropped_vowel
        } else {
            c.deletion
        }
    }

    /// Weighted alignment cost of typing `typed` when `word` was meant
    /// (0 for identical strings), minus the phonetic bonus when they sound
    /// alike. `typed_key` is `phonetic_key(typed)`. Both strings at most 64 bytes.
    pub(crate) fn cost(&self, typed: &[u8], typed_key: &[u8], word: &[u8]) -> f64 {
        if typed == word {
            return 0.0;
        }
        let (n, m) = (typed.len().min(64), word.len().min(64));
        let (typed, word) = (&typed[..n], &word[..m]);
        // Insertion and deletion costs depend on one position only.
        let mut ins = [0.0f64; 64];
        for (i, v) in ins.iter_mut().enumerate().take(n) {
            *v = self.ins_cost(typed, i);
        }
        let mut del = [0.0f64; 64];
        for (j, v) in del.iter_mut().enumerate().take(m) {
            *v = self.del_cost(word, j);
        }
        // Three rolling rows: i-2, i-1, i.
        let mut rows = [[0.0f64; 65]; 3];
        for j in 1..=m {
            rows[0][j] = rows[0][j - 1] + del[j - 1];
        }
        for i in 1..=n {
            let (cur, p1, p2) = (i % 3, (i + 2) % 3, (i + 1) % 3);
            rows[cur][0] = rows[p1][0] + ins[i - 1];
            let sub_row = &self.sub[class(typed[i - 1])];
            for j in 1..=m {
                let s = if typed[i - 1] == word[j - 1] {
                    0.0
                } else {
                    sub_row[class(word[j - 1])]
                };
                let mut v = rows[p1][j - 1] + s;
                v = v.min(rows[p1][j] + ins[i - 1]);
                v = v.min(rows[cur][j - 1] + del[j - 1]);
                if i > 1
                    && j > 1
                    && typed[i - 1] == word[j - 2]
                    && typed[i - 2] == word[j - 1]
                    && typed[i - 1] != typed[i - 2]
                {
                    v = v.min(rows[p2][j - 2] + self.costs.transposition);
                }
                rows[cur][j] = v;
            }
        }
        let mut cost = rows[n % 3][m];
        let mut key = [0u8; 64];
        if phonetic_key_into(word, &mut key) == typed_key {
            cost = (cost - self.costs.phonetic_bonus).max(0.1);
        }
        cost
    }
}

/// A coarse phonetic key (in the spirit of Metaphone): sound-alike spellings
/// of a word map to the same key.
pub fn phonetic_key(word: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 64];
    phonetic_key_into(&word[..word.len().min(64)], &mut buf).to_vec()
}

/// Writes the phonetic key of `word` (at most 64 bytes) into `out`, returning it.
pub(crate) fn phonetic_key_into<'b>(word: &[u8], out: &'b mut [u8; 64]) -> &'b [u8] {
    let mut wbuf = [0u8; 64];
    let mut wl = 0;
    for &c in word.iter().take(64) {
        if c.is_ascii_alphabetic() {
            wbuf[wl] = c.to_ascii_lowercase();
            wl += 1;
        }
    }
    let w = &wbuf[..wl];
    let mut len = 0usize;
    let mut i = 0;
    let at = |k: usize| w.get(k).copied().unwrap_or(0);
    while i < w.len() {
        let c = w[i];
        let next = at(i + 1);
        let mut code = c;
        let mut skip = 1;
        match c {
            b'a' | b'e' | b'i' | b'o' | b'u' | b'y' => code = if i == 0 { b'a' } else { 0 },
            b'p' if next == b'h' => {
                code = b'f';
                skip = 2;
            }
            b'c' if next == b'k' => {
                code = b'k';
                skip = 2;
            }
            b'c' if matches!(next, b'e' | b'i' | b'y') => code = b's',
            b'c' | b'q' | b'x' => code = b'k',
            b'z' => code = b's',
            b'd' if next == b'g' => {
                code = b'j';
                skip = 2;
            }
            b'g' if next == b'h' => {
                code = 0;
                skip = 2;
            }
            b'w' if next == b'r' => code = 0,
            b'k' if next == b'n' && i == 0 => code = 0,
            b'h' if !matches!(next, b'a' | b'e' | b'i' | b'o' | b'u') => code = 0,
            b'w' if !matches!(next, b'a' | b'e' | b'i' | b'o' | b'u') => code = 0,
            b't' if next == b'h' => {
                code = b'0';
                skip = 2;
            }
            b's' if next == b'h' => {
                code = b'x';
                skip = 2;
            }
            b't' if next == b'i' && matches!(at(i + 2), b'o' | b'a') => code = b'x',
            _ => {}
        }
        if code != 0 && (len == 0 || out[len - 1] != code) {
            out[len] = code;
            len += 1;
        }
        i += skip;
    }
    &out[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        assert!(Layout::Qwerty.adjacent(b'q', b'w'));
        assert!(Layout::Qwerty.adjacent(b'd', b'e'));
        assert!(Layout::Qwerty.adjacent(b'g', b'b'));
        assert!(!Layout::Qwerty.adjacent(b'q', b'p'));
        assert!(Layout::Azerty.adjacent(b'a', b'z'));
        assert!(!Layout::Qwerty.adjacent(b'q', b'z'));
        assert!(!Layout::Qwerty.adjacent(b'a', b'e'));
        assert!(Layout::Dvorak.adjacent(b'a', b'o'));
    }

    #[test]
    fn costs_prefer_typical_errors() {
        let m = ErrorModel::new(ErrorCosts::default(), &[Layout::Qwerty]);
        let c = |t: &str, w: &str| m.cost(t.as_bytes(), &phonetic_key(t.as_bytes()), w.as_bytes());
        assert!(c("teh", "the") < c("teh", "tea"));
        assert!(c("acommodate", "accommodate") < 0.5);
        assert!(c("seperate", "separate") < 0.7);
        assert!(c("wprd", "word") < c("wxrd", "word"));
        assert!(c("word", "word").abs() < f64::EPSILON);
        assert_eq!(phonetic_key(b"fone"), phonetic_key(b"phone"));
        assert_eq!(phonetic_key(b"nite"), phonetic_key(b"night"));
    }
}
