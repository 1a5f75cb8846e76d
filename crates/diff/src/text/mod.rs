//! Text diff at line, word and character granularity.
//!
//! ```
//! use blocksmith_diff::text::{DiffOptions, Granularity, TextDiff};
//! let old = "a\nb\nc\n";
//! let new = "a\nB\nc\nd\n";
//! let diff = TextDiff::new(old, new, &DiffOptions::default());
//! assert_eq!(diff.stats().deletions, 1);
//! assert_eq!(diff.stats().insertions, 2);
//!
//! let words = TextDiff::new("the quick fox", "the slow fox",
//!     &DiffOptions::default().with_granularity(Granularity::Word));
//! assert_eq!(words.inline(), "the [-quick-]{+slow+} fox");
//! ```

mod engine;

pub(crate) use engine::diff_ids;

use crate::patch::{FilePatch, Hunk, HunkLine};
use crate::unified::UnifiedOptions;
use serde::{Deserialize, Serialize};
use std::ops::Range;
use std::time::{Duration, Instant};

/// The diff algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Algorithm {
    /// Histogram diff (git's `--histogram`, imara-diff's implementation): readable
    /// hunks anchored on rare lines, and the fastest here. Highly repetitive
    /// regions fall back to heuristic Myers, so the cost stays near linear.
    #[default]
    Histogram,
    /// Myers' O(ND) algorithm with the git/GNU diff heuristics (imara-diff):
    /// near-minimal, cost bounded on pathological input.
    Myers,
    /// Exact, minimal Myers (`similar`), bounded by the deadline: when the
    /// deadline passes the rest is diffed coarsely (still correct, no longer minimal).
    MyersMinimal,
    /// Patience diff (`similar`): anchors on lines unique on both sides;
    /// bounded by the deadline like [`Algorithm::MyersMinimal`].
    Patience,
}

impl std::str::FromStr for Algorithm {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "histogram" => Ok(Algorithm::Histogram),
            "myers" => Ok(Algorithm::Myers),
            "myers-minimal" | "minimal" => Ok(Algorithm::MyersMinimal),
            "patience" => Ok(Algorithm::Patience),
            _ => Err(crate::Error::InvalidArgument(format!(
                "unknown diff algorithm {s:?} (histogram, myers, myers-minimal, patience)"
            ))),
        }
    }
}

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Granularity {
    /// Lines, each with its line terminator (the last may have none).
    #[default]
    Line,
    /// Runs of word characters (alphanumeric and `_`), runs of whitespace, and
    /// single other characters.
    Word,
    /// Unicode scalar values.
    Char,
}

/// Options of [`TextDiff::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DiffOptions {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The token size.
    pub granularity: Granularity,
    /// Time budget for the algorithms that can go quadratic
    /// ([`Algorithm::MyersMinimal`], [`Algorithm::Patience`]); past it they
    /// finish with a coarser, still correct diff. Default 5 s.
    pub deadline: Option<Duration>,
}

impl Default for DiffOptions {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Histogram,
            granularity: Granularity::Line,
            deadline: Some(Duration::from_secs(5)),
        }
    }
}

impl DiffOptions {
    /// Sets the algorithm.
    #[must_use]
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }
    /// Sets the granularity.
    #[must_use]
    pub fn with_granularity(mut self, granularity: Granularity) -> Self {
        self.granularity = granularity;
        self
    }
    /// Sets (or removes) the deadline.
    #[must_use]
    pub fn with_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }
}

/// One changed region: tokens `old` of the old text were replaced by tokens
/// `new` of the new text (either may be empty, not both). Edits are sorted and
/// separated by at least one unchanged token.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Edit {
    /// Token range in the old text.
    pub old: Range<usize>,
    /// Token range in the new text.
    pub new: Range<usize>,
}

/// Counts of changed tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DiffStats {
    /// Tokens only in the new text.
    pub insertions: usize,
    /// Tokens only in the old text.
    pub deletions: usize,
    /// Changed regions.
    pub edits: usize,
}

/// The kind of one [`Change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeTag {
    /// In both texts.
    Equal,
    /// Only in the old text.
    Delete,
    /// Only in the new text.
    Insert,
}

/// One token of a diff, in output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Change<'a> {
    /// What happened to it.
    pub tag: ChangeTag,
    /// Its index in the old text, if it is there.
    pub old_index: Option<usize>,
    /// Its index in the new text, if it is there.
    pub new_index: Option<usize>,
    /// The token.
    pub value: &'a str,
}

/// A computed diff between two texts.
#[derive(Debug, Clone)]
pub struct TextDiff<'a> {
    old: Vec<&'a str>,
    new: Vec<&'a str>,
    edits: Vec<Edit>,
    granularity: Granularity,
}

/// Checks that `bytes` are text (UTF-8 without NUL bytes, as git decides
/// "binary"); `what` names the input in the error.
///
/// # Errors
/// [`Error::Binary`](crate::Error::Binary) (naming `what`) if `bytes` are not
/// UTF-8 or hold a NUL byte.
pub fn as_text<'b>(bytes: &'b [u8], what: &str) -> crate::Result<&'b str> {
    if let Some(p) = memchr::memchr(0, bytes) {
        return Err(crate::Error::Binary {
            what: format!("{what}: NUL byte at offset {p}"),
        });
    }
    std::str::from_utf8(bytes).map_err(|e| crate::Error::Binary {
        what: format!("{what}: invalid UTF-8 at offset {}", e.valid_up_to()),
    })
}

/// Splits text into lines, each keeping its `\n` (the last may have none).
pub fn split_lines(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 40 + 1);
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', bytes) {
        out.push(&text[start..=i]);
        start = i + 1;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Splits text into word, whitespace and punctuation tokens.
pub fn split_words(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut class = None;
    for (i, c) in text.char_indices() {
        let k = if is_word(c) {
            1
        } else if c.is_whitespace() {
            2
        } else {
            3
        };
        if class != Some(k) || k == 3 {
            if i > start {
                out.push(&text[start..i]);
            }
            start = i;
            class = Some(k);
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Splits text into characters.
pub fn split_chars(text: &str) -> Vec<&str> {
    text.char_indices()
        .map(|(i, c)| &text[i..i + c.len_utf8()])
        .collect()
}

/// Tokenizes `text` at `granularity`.
pub fn tokenize(text: &str, granularity: Granularity) -> Vec<&str> {
    match granularity {
        Granularity::Line => split_lines(text),
        Granularity::Word => split_words(text),
        Granularity::Char => split_chars(text),
    }
}

impl<'a> TextDiff<'a> {
    /// Diffs `old` against `new`.
    pub fn new(old: &'a str, new: &'a str, options: &DiffOptions) -> Self {
        let start = Instant::now();
        let deadline = options.deadline.map(|d| start + d);
        let old_t = tokenize(old, options.granularity);
        let new_t = tokenize(new, options.granularity);
        let edits = engine::diff(&old_t, &new_t, options.algorithm, deadline);
        TextDiff {
            old: old_t,
            new: new_t,
            edits,
            granularity: options.granularity,
        }
    }

    /// Diffs two token sequences you split yourself.
    pub fn from_tokens(old: Vec<&'a str>, new: Vec<&'a str>, options: &DiffOptions) -> Self {
        let deadline = options.deadline.map(|d| Instant::now() + d);
        let edits = engine::diff(&old, &new, options.algorithm, deadline);
        TextDiff {
            old,
            new,
            edits,
            granularity: options.granularity,
        }
    }

    /// The old text's tokens.
    pub fn old_tokens(&self) -> &[&'a str] {
        &self.old
    }

    /// The new text's tokens.
    pub fn new_tokens(&self) -> &[&'a str] {
        &self.new
    }

    /// The changed regions.
    pub fn edits(&self) -> &[Edit] {
        &self.edits
    }

    /// The granularity the diff was computed at.
    pub fn granularity(&self) -> Granularity {
        self.granularity
    }

    /// `true` if the texts are equal.
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// Counts of changed tokens.
    pub fn stats(&self) -> DiffStats {
        DiffStats {
            insertions: self.edits.iter().map(|e| e.new.len()).sum(),
            deletions: self.edits.iter().map(|e| e.old.len()).sum(),
            edits: self.edits.len(),
        }
    }

    /// Every token in output order: equal, then deleted before inserted in each edit.
    pub fn changes(&self) -> Vec<Change<'a>> {
        let mut out = Vec::with_capacity(self.old.len().max(self.new.len()));
        let (mut i, mut j) = (0, 0);
        let equal_to = |out: &mut Vec<Change<'a>>, i: &mut usize, j: &mut usize, oi: usize| {
            while *i < oi {
                out.push(Change {
                    tag: ChangeTag::Equal,
                    old_index: Some(*i),
                    new_index: Some(*j),
                    value: self.old[*i],
                });
                *i += 1;
                *j += 1;
            }
        };
        for e in &self.edits {
            equal_to(&mut out, &mut i, &mut j, e.old.start);
            for k in e.old.clone() {
                out.push(Change {
                    tag: ChangeTag::Delete,
                    old_index: Some(k),
                    new_index: None,
                    value: self.old[k],
                });
            }
            for k in e.new.clone() {
                out.push(Change {
                    tag: ChangeTag::Insert,
                    old_index: None,
                    new_index: Some(k),
                    value: self.new[k],
                });
            }
            i = e.old.end;
            j = e.new.end;
        }
        equal_to(&mut out, &mut i, &mut j, self.old.len());
        out
    }

    /// Rebuilds the new text from the old tokens and the edits (a self-check
    /// and the token-level `apply`).
    pub fn apply_to_old(&self) -> String {
        let mut out = String::new();
        let mut i = 0;
        for e in &self.edits {
            self.old[i..e.old.start]
                .iter()
                .for_each(|t| out.push_str(t));
            self.new[e.new.clone()].iter().for_each(|t| out.push_str(t));
            i = e.old.end;
        }
        self.old[i..].iter().for_each(|t| out.push_str(t));
        out
    }

    /// The diff inline, like `git diff --word-diff=plain`: deletions as
    /// `[-...-]`, insertions as `{+...+}`.
    pub fn inline(&self) -> String {
        let mut out = String::new();
        let mut i = 0;
        for e in &self.edits {
            self.old[i..e.old.start]
                .iter()
                .for_each(|t| out.push_str(t));
            if !e.old.is_empty() {
                out.push_str("[-");
                self.old[e.old.clone()].iter().for_each(|t| out.push_str(t));
                out.push_str("-]");
            }
            if !e.new.is_empty() {
                out.push_str("{+");
                self.new[e.new.clone()].iter().for_each(|t| out.push_str(t));
                out.push_str("+}");
            }
            i = e.old.end;
        }
        self.old[i..].iter().for_each(|t| out.push_str(t));
        out
    }

    /// The diff as a structured unified patch for one file (line granularity;
    /// other granularities are re-split into lines first).
    pub fn to_patch(&self, options: &UnifiedOptions) -> FilePatch {
        if self.granularity != Granularity::Line {
            let old: String = self.old.concat();
            let new: String = self.new.concat();
            let d = TextDiff::new(&old, &new, &DiffOptions::default());
            return d.to_patch(options);
        }
        build_patch(&self.old, &self.new, &self.edits, options)
    }

    /// The diff as unified diff text (`diff -u` / `git diff` format).
    pub fn unified(&self, options: &UnifiedOptions) -> String {
        crate::unified::render_file(&self.to_patch(options), options)
    }
}

fn line_body(l: &str) -> (String, bool) {
    match l.strip_suffix('\n') {
        Some(b) => (b.to_string(), true),
        None => (l.to_string(), false),
    }
}

fn hline(kind: u8, l: &str) -> HunkLine {
    let (text, newline) = line_body(l);
    match kind {
        b' ' => HunkLine::Context { text, newline },
        b'-' => HunkLine::Remove { text, newline },
        _ => HunkLine::Add { text, newline },
    }
}

/// Groups line edits into hunks with `context` lines around them.
fn build_patch(old: &[&str], new: &[&str], edits: &[Edit], options: &UnifiedOptions) -> FilePatch {
    let ctx = options.context;
    let mut hunks = Vec::new();
    let mut k = 0;
    while k < edits.len() {
        // Edits closer than 2*ctx lines share a hunk.
        let mut end = k;
        while end + 1 < edits.len() && edits[end + 1].old.start - edits[end].old.end <= 2 * ctx {
            end += 1;
        }
        let first = &edits[k];
        let last = &edits[end];
        let lead = ctx.min(first.old.start);
        let old_start = first.old.start - lead;
        let new_start = first.new.start - lead;
        let trail = ctx.min(old.len() - last.old.end);
        let old_end = last.old.end + trail;
        let new_end = last.new.end + trail;
        let mut lines = Vec::new();
        let mut i = old_start;
        for e in &edits[k..=end] {
            lines.extend(old[i..e.old.start].iter().map(|l| hline(b' ', l)));
            lines.extend(old[e.old.clone()].iter().map(|l| hline(b'-', l)));
            lines.extend(new[e.new.clone()].iter().map(|l| hline(b'+', l)));
            i = e.old.end;
        }
        lines.extend(old[i..old_end].iter().map(|l| hline(b' ', l)));
        hunks.push(Hunk {
            old_start: if old_end > old_start {
                old_start + 1
            } else {
                old_start
            },
            old_len: old_end - old_start,
            new_start: if new_end > new_start {
                new_start + 1
            } else {
                new_start
            },
            new_len: new_end - new_start,
            section: None,
            lines,
        });
        k = end + 1;
    }
    FilePatch {
        old_path: Some(options.old_label.clone()),
        new_path: Some(options.new_label.clone()),
        hunks,
        ..FilePatch::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_input_is_refused() {
        assert!(as_text(b"a\nb", "x").is_ok());
        assert!(matches!(
            as_text(b"a\0b", "x"),
            Err(crate::Error::Binary { .. })
        ));
        assert!(
            as_text(&[0xff, 0xfe], "x")
                .unwrap_err()
                .to_string()
                .contains("offset 0")
        );
    }

    #[test]
    fn word_split_keeps_everything() {
        let t = "fn foo(a, b) { a+b }\n";
        assert_eq!(split_words(t).concat(), t);
        assert_eq!(split_words("ab  cd,e"), ["ab", "  ", "cd", ",", "e"]);
        assert_eq!(split_lines("a\nb"), ["a\n", "b"]);
        assert_eq!(split_chars("hé"), ["h", "é"]);
    }

    #[test]
    fn every_algorithm_rebuilds_the_new_text() {
        let old = "a\nb\nc\nd\ne\nf\n";
        let new = "a\nc\nd\nX\ne\nf\ng\n";
        for alg in [
            Algorithm::Histogram,
            Algorithm::Myers,
            Algorithm::MyersMinimal,
            Algorithm::Patience,
        ] {
            let d = TextDiff::new(old, new, &DiffOptions::default().with_algorithm(alg));
            assert_eq!(d.apply_to_old(), new, "{alg:?}");
            assert_eq!(d.stats().deletions, 1, "{alg:?}");
            assert_eq!(d.stats().insertions, 2, "{alg:?}");
        }
    }
}
