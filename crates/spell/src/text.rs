//! Whole-text correction: tokenizing, protecting what must never be touched,
//! correcting words in context, preserving case and punctuation.

use crate::speller::{Correction, Protection, Speller, Suggestion, Verdict};

/// One silent replacement made in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Replacement {
    /// Byte offset of the original word in the input text.
    pub start: usize,
    /// Byte offset just past the original word in the input text.
    pub end: usize,
    /// What was typed.
    pub original: String,
    /// What replaced it.
    pub replacement: String,
    /// Calibrated confidence.
    pub confidence: f64,
}

/// A word left alone but flagged, with suggestions.
#[derive(Debug, Clone, PartialEq)]
pub struct Flagged {
    /// Byte offset of the word in the input text.
    pub start: usize,
    /// Byte offset just past it.
    pub end: usize,
    /// The word.
    pub word: String,
    /// Ranked suggestions.
    pub suggestions: Vec<Suggestion>,
}

/// The result of [`Speller::correct_text`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextCorrection {
    /// The corrected text (input with replacements applied).
    pub text: String,
    /// Replacements, in text order.
    pub replacements: Vec<Replacement>,
    /// Words flagged but kept.
    pub flagged: Vec<Flagged>,
    /// Number of words examined.
    pub words: usize,
}

const TLDS: [&str; 24] = [
    "com", "org", "net", "io", "dev", "edu", "gov", "co", "uk", "de", "fr", "rs", "app", "ai",
    "me", "info", "us", "ca", "eu", "ly", "gg", "sh", "tv", "html",
];

/// Abbreviations whose full stop does not end a sentence.
const ABBREVIATIONS: [&str; 16] = [
    "mr", "mrs", "ms", "dr", "st", "prof", "sr", "jr", "vs", "etc", "e.g", "i.e", "no", "fig",
    "mt", "ft",
];

fn is_edge_punct(c: char) -> bool {
    !c.is_alphanumeric()
        && !matches!(
            c,
            '@' | '_'
                | '/'
                | '\\'
                | '#'
                | '$'
                | '%'
                | '&'
                | '*'
                | '='
                | '<'
                | '>'
                | '~'
                | '`'
                | '^'
                | '|'
                | '+'
        )
}

/// Splits a whitespace-free chunk into (leading punctuation, core, trailing
/// punctuation) byte ranges. The core keeps internal apostrophes.
pub(crate) fn split_chunk(chunk: &str) -> (usize, usize) {
    let start = chunk
        .char_indices()
        .find(|&(_, c)| !is_edge_punct(c))
        .map_or(chunk.len(), |(i, _)| i);
    let end = chunk
        .char_indices()
        .rev()
        .find(|&(_, c)| !is_edge_punct(c))
        .map_or(start, |(i, c)| i + c.len_utf8());
    (start, end.max(start))
}

/// Why `core` (a word without surrounding punctuation) must not be touched,
/// if it must not. `mid_sentence`: a capital then marks a proper noun.
pub fn protection(core: &str, mid_sentence: bool) -> Option<Protection> {
    let lower = core.to_ascii_lowercase();
    if core.contains('@') {
        let (user, domain) = core.split_once('@').unwrap_or(("", ""));
        if !user.is_empty() && domain.contains('.') {
            return Some(Protection::Email);
        }
        return Some(Protection::Code);
    }
    if lower.contains("://") || lower.starts_with("www.") {
        return Some(Protection::Url);
    }
    if let Some((_, tld)) = lower.rsplit_once('.') {
        let tld = tld.split('/').next().unwrap_or("");
        if TLDS.contains(&tld) && lower.split('.').next().is_some_and(|l| l.len() >= 2) {
            return Some(Protection::Url);
        }
    }
    if core.chars().any(|c| c.is_ascii_digit()) {
        return Some(Protection::Number);
    }
    if core
        .chars()
        .any(|c| "_/\\{}[]<>=;()#$%^&*|~`+:.".contains(c))
        || core.contains("::")
    {
        return Some(Protection::Code);
    }
    let letters: Vec<char> = core.chars().filter(|c| c.is_alphabetic()).collect();
    if letters.len() >= 2 && letters.iter().all(|c| c.is_uppercase()) {
        return Some(Protection::Acronym);
    }
    // camelCase or iPhone-like inner capitals.
    if core
        .chars()
        .zip(core.chars().skip(1))
        .any(|(a, b)| a.is_lowercase() && b.is_uppercase())
    {
        return Some(Protection::Code);
    }
    if core
        .chars()
        .any(|c| c.is_alphabetic() && !c.is_ascii_alphabetic())
    {
        return Some(Protection::Foreign);
    }
    if mid_sentence && core.chars().next().is_some_and(char::is_uppercase) {
        return Some(Protection::ProperNoun);
    }
    None
}

/// What happened to one word of a chunk.
#[derive(Debug, Clone)]
pub(crate) struct WordOutcome {
    /// Byte range of the word inside the chunk.
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) correction: Correction,
}

/// Reading state carried from chunk to chunk.
#[derive(Debug, Clone, Default)]
pub(crate) struct Context {
    /// The previous word (lowercase, after correction) when directly adjacent.
    pub(crate) prev: Option<String>,
    /// Whether the next word starts a sentence.
    pub(crate) mid_sentence: bool,
}

/// Corrects the words of one whitespace-free chunk, advancing `ctx`.
pub(crate) fn process_chunk(speller: &Speller, chunk: &str, ctx: &mut Context) -> Vec<WordOutcome> {
    let (s, e) = split_chunk(chunk);
    let core = &chunk[s..e];
    let trailing = &chunk[e..];
    let leading = &chunk[..s];
    let mut out = Vec::new();
    if !leading.is_empty() {
        ctx.prev = None;
    }
    if core.is_empty() {
        if trailing.contains(['.', '!', '?']) || leading.contains(['.', '!', '?']) {
            ctx.mid_sentence = false;
        }
        return out;
    }
    let mid = ctx.mid_sentence;
    // Hyphenated compounds are examined part by part below.
    if let Some(p) = protection(core, mid) {
        out.push(WordOutcome {
            start: s,
            end: e,
            correction: Correction {
                word: core.to_string(),
                best: core.to_string(),
                confidence: 1.0,
                replace: false,
                verdict: Verdict::Protected(p),
                suggestions: Vec::new(),
            },
        });
        ctx.prev = None;
    } else {
        let mut off = s;
        for (k, part) in core.split('-').enumerate() {
            if k > 0 {
                ctx.prev = None;
            }
            if !part.is_empty() {
                let mid_here = mid || k > 0;
                let c = match protection(part, mid_here) {
                    Some(p) => Correction {
                        word: part.to_string(),
                        best: part.to_string(),
                        confidence: 1.0,
                        replace: false,
                        verdict: Verdict::Protected(p),
                        suggestions: Vec::new(),
                    },
                    None if speller.user().contains(part) => Correction {
                        word: part.to_string(),
                        best: part.to_string(),
                        confidence: 1.0,
                        replace: false,
                        verdict: Verdict::Protected(Protection::UserWord),
                        suggestions: Vec::new(),
                    },
                    None => speller.rank(part, ctx.prev.as_deref()),
                };
                let used = if c.replace { &c.best } else { &c.word };
                ctx.prev = (!used.contains(' ')).then(|| used.to_lowercase());
                if used.contains(' ') {
                    ctx.prev = used.rsplit(' ').next().map(str::to_lowercase);
                }
                out.push(WordOutcome {
                    start: off,
                    end: off + part.len(),
                    correction: c,
                });
            }
            off += part.len() + 1;
        }
    }
    let abbreviation =
        trailing == "." && ABBREVIATIONS.contains(&core.to_ascii_lowercase().as_str());
    ctx.mid_sentence = abbreviation || !trailing.contains(['.', '!', '?']);
    if !trailing.is_empty() {
        ctx.prev = None;
    }
    out
}

/// Iterates `(byte offset, chunk)` over the whitespace-separated chunks of `text`.
pub(crate) fn chunks(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_whitespace()
        .map(move |c| (c.as_ptr() as usize - text.as_ptr() as usize, c))
}

impl Speller {
    /// Corrects running text: every word is examined with the previous word
    /// as context; confident corrections are applied (case and punctuation
    /// preserved), the rest are flagged with suggestions.
    pub fn correct_text(&self, text: &str) -> TextCorrection {
        let mut ctx = Context::default();
        let mut result = TextCorrection::default();
        let mut out = String::with_capacity(text.len());
        let mut copied = 0;
        let mut prev_end = 0;
        for (at, chunk) in chunks(text) {
            if text[prev_end..at].contains("\n\n") {
                ctx = Context::default();
            }
            prev_end = at + chunk.len();
            for w in process_chunk(self, chunk, &mut ctx) {
                result.words += 1;
                let c = w.correction;
                let (start, end) = (at + w.start, at + w.end);
                if c.replace {
                    out.push_str(&text[copied..start]);
                    out.push_str(&c.best);
                    copied = end;
                    result.replacements.push(Replacement {
                        start,
                        end,
                        original: c.word,
                        replacement: c.best,
                        confidence: c.confidence,
                    });
                } else if c.verdict == Verdict::Suggest {
                    result.flagged.push(Flagged {
                        start,
                        end,
                        word: c.word,
                        suggestions: c.suggestions,
                    });
                }
            }
        }
        out.push_str(&text[copied..]);
        result.text = out;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protections() {
        assert_eq!(
            protection("https://exmaple.com/x", true),
            Some(Protection::Url)
        );
        assert_eq!(protection("exmaple.com", true), Some(Protection::Url));
        assert_eq!(protection("jon@exmaple.org", true), Some(Protection::Email));
        assert_eq!(protection("3rd", true), Some(Protection::Number));
        assert_eq!(protection("snake_case", true), Some(Protection::Code));
        assert_eq!(protection("camelCase", true), Some(Protection::Code));
        assert_eq!(protection("NASA", true), Some(Protection::Acronym));
        assert_eq!(protection("Smith", true), Some(Protection::ProperNoun));
        assert_eq!(protection("Teh", false), None);
        assert_eq!(protection("naïve", false), Some(Protection::Foreign));
        assert_eq!(protection("teh", true), None);
    }

    #[test]
    fn chunk_split() {
        let c = "(\"hello,\")";
        let (s, e) = split_chunk(c);
        assert_eq!(&c[s..e], "hello");
        let c = "don't.";
        let (s, e) = split_chunk(c);
        assert_eq!(&c[s..e], "don't");
        assert_eq!(split_chunk("..."), (3, 3));
    }
}
