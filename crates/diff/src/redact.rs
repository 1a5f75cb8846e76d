//! Secret redaction by path pattern, applied to every output that shows values.
//!
//! Patterns are `/`-separated globs over path segments (`*` any run of
//! characters, `?` one character, `**` any number of segments), matched
//! case-insensitively. A pattern starting with `/` is anchored at the root;
//! any other pattern may match at any depth. A match hides the whole value
//! under that path. Array elements match by index, and by `key=value` when
//! they carry an identity key (so `*password*` hides `env[name=DB_PASSWORD]`).
//!
//! ```
//! use blocksmith_diff::redact::Redactor;
//! use serde_json::json;
//! let r = Redactor::new(["*password*", "/tls/key"])?;
//! let v = json!({"db": {"host": "h", "password": "hunter2"}, "tls": {"key": "PEM", "cert": "C"}});
//! assert_eq!(r.redact_value(&v), json!({"db": {"host": "h", "password": "[REDACTED]"},
//!                                       "tls": {"key": "[REDACTED]", "cert": "C"}}));
//! # Ok::<(), blocksmith_diff::Error>(())
//! ```

use crate::structured::{Segment, StructuredDiff, identity};
use crate::value::Value;
use crate::{Error, Result};

/// What redacted values are replaced with.
pub const MASK: &str = "[REDACTED]";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    AnyDepth,
    Glob(Vec<char>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    text: String,
    parts: Vec<Part>,
}

/// A set of secret path patterns.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Redactor {
    patterns: Vec<Pattern>,
    identity_keys: Vec<String>,
}

/// The patterns of [`Redactor::secrets`].
pub const DEFAULT_SECRET_PATTERNS: &[&str] = &[
    "*password*",
    "*passwd*",
    "*secret*",
    "*token*",
    "*api_key*",
    "*apikey*",
    "*private_key*",
    "*credential*",
];

impl Redactor {
    /// Compiles patterns; an empty pattern is an error.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if a pattern is empty or has an empty segment
    /// (`a//b`, a trailing `/`).
    pub fn new<I, S>(patterns: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = Vec::new();
        for p in patterns {
            let p = p.as_ref();
            let body = p.strip_prefix('/');
            let text = body.unwrap_or(p);
            if text.is_empty() || text.split('/').any(str::is_empty) {
                return Err(Error::InvalidArgument(format!(
                    "redaction pattern {p:?} has an empty segment"
                )));
            }
            let mut parts = Vec::new();
            if body.is_none() {
                parts.push(Part::AnyDepth);
            }
            for seg in text.split('/') {
                parts.push(if seg == "**" {
                    Part::AnyDepth
                } else {
                    Part::Glob(seg.to_lowercase().chars().collect())
                });
            }
            out.push(Pattern {
                text: p.to_string(),
                parts,
            });
        }
        Ok(Redactor {
            patterns: out,
            identity_keys: vec!["name".into(), "id".into(), "key".into()],
        })
    }

    /// Common secret names: passwords, secrets, tokens, API and private keys, credentials.
    pub fn secrets() -> Self {
        Self::new(DEFAULT_SECRET_PATTERNS).unwrap_or_default()
    }

    /// No redaction.
    pub fn none() -> Self {
        Self::default()
    }

    /// Adds patterns.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if a pattern is empty or has an empty segment
    /// (`a//b`, a trailing `/`).
    pub fn with_patterns<I, S>(mut self, patterns: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let more = Redactor::new(patterns)?;
        self.patterns.extend(more.patterns);
        if self.identity_keys.is_empty() {
            self.identity_keys = more.identity_keys;
        }
        Ok(self)
    }

    /// The patterns as given.
    pub fn patterns(&self) -> Vec<&str> {
        self.patterns.iter().map(|p| p.text.as_str()).collect()
    }

    /// `true` if `path` or one of its ancestors matches a pattern.
    pub fn matches(&self, path: &[Segment]) -> bool {
        if self.patterns.is_empty() {
            return false;
        }
        let texts: Vec<Vec<String>> = path.iter().map(seg_texts).collect();
        (1..=texts.len()).any(|n| {
            self.patterns
                .iter()
                .any(|p| match_parts(&p.parts, &texts[..n]))
        })
    }

    /// A copy of `value` with every secret replaced by [`MASK`].
    pub fn redact_value(&self, value: &Value) -> Value {
        self.redact_value_at(value, &[])
    }

    /// Like [`Redactor::redact_value`] for a value found at `base`.
    pub fn redact_value_at(&self, value: &Value, base: &[Segment]) -> Value {
        if self.patterns.is_empty() {
            return value.clone();
        }
        let mut path = base.to_vec();
        self.walk(value, &mut path)
    }

    fn walk(&self, v: &Value, path: &mut Vec<Segment>) -> Value {
        if !path.is_empty() && self.matches(path) {
            return Value::String(MASK.into());
        }
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| {
                        path.push(Segment::Key(k.clone()));
                        let r = self.walk(x, path);
                        path.pop();
                        (k.clone(), r)
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, x)| {
                        let id = self
                            .identity_keys
                            .iter()
                            .find_map(|k| identity(x, k).map(|v| (k.clone(), v)));
                        let hidden = id.is_some_and(|(key, value)| {
                            path.push(Segment::Id { key, value });
                            let m = self.matches(path);
                            path.pop();
                            m
                        });
                        if hidden {
                            return Value::String(MASK.into());
                        }
                        path.push(Segment::Index(i));
                        let r = self.walk(x, path);
                        path.pop();
                        r
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// A copy of a structured diff with secret values masked (paths stay visible,
    /// so a changed secret still shows as changed).
    pub fn redact_diff(&self, diff: &StructuredDiff) -> StructuredDiff {
        let mut out = diff.clone();
        for c in &mut out.changes {
            let hide = self.matches(&c.path);
            for v in [&mut c.old, &mut c.new].into_iter().flatten() {
                *v = if hide {
                    Value::String(MASK.into())
                } else {
                    self.redact_value_at(v, &c.path)
                };
            }
        }
        out
    }

    /// Masks the value of `key = value` / `key: value` lines whose key matches
    /// a pattern's last segment (for configs that are plain text).
    pub fn redact_text(&self, text: &str) -> String {
        if self.patterns.is_empty() {
            return text.to_string();
        }
        let mut out = String::with_capacity(text.len());
        for line in crate::text::split_lines(text) {
            out.push_str(&self.redact_line(line));
        }
        out
    }

    fn redact_line(&self, line: &str) -> String {
        let Some(sep) = line.find(['=', ':']) else {
            return line.to_string();
        };
        let key = line[..sep]
            .trim()
            .trim_start_matches(['+', '-', ' ', '"', '\''])
            .trim_end_matches(['"', '\'']);
        if key.is_empty() || !self.matches(&[Segment::Key(key.to_string())]) {
            return line.to_string();
        }
        let nl = if line.ends_with("\r\n") {
            "\r\n"
        } else if line.ends_with('\n') {
            "\n"
        } else {
            ""
        };
        format!("{}{} {MASK}{nl}", &line[..sep], &line[sep..=sep])
    }
}

fn seg_texts(s: &Segment) -> Vec<String> {
    match s {
        Segment::Key(k) => vec![k.to_lowercase()],
        Segment::Index(i) => vec![i.to_string()],
        Segment::Id { key, value } => vec![
            format!("{key}={value}").to_lowercase(),
            value.to_lowercase(),
        ],
    }
}

fn match_parts(parts: &[Part], path: &[Vec<String>]) -> bool {
    match parts.split_first() {
        None => path.is_empty(),
        Some((Part::AnyDepth, rest)) => (0..=path.len()).any(|k| match_parts(rest, &path[k..])),
        Some((Part::Glob(g), rest)) => match path.split_first() {
            Some((seg, more)) => {
                seg.iter().any(|t| glob(g, &t.chars().collect::<Vec<_>>()))
                    && match_parts(rest, more)
            }
            None => false,
        },
    }
}

fn glob(p: &[char], t: &[char]) -> bool {
    // Iterative wildcard match with backtracking to the last '*'.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let g = |p: &str, t: &str| {
            glob(
                &p.chars().collect::<Vec<_>>(),
                &t.chars().collect::<Vec<_>>(),
            )
        };
        assert!(g("*pass*", "db_password"));
        assert!(g("a?c", "abc"));
        assert!(!g("a?c", "ac"));
        assert!(g("*", ""));
        assert!(!g("x*", "yx"));
    }

    #[test]
    fn anchored_and_floating() {
        let r = Redactor::new(["/a/b", "**/c/*"]).unwrap();
        let k = |s: &str| Segment::Key(s.into());
        assert!(r.matches(&[k("a"), k("b")]));
        assert!(r.matches(&[k("a"), k("b"), k("x")]));
        assert!(!r.matches(&[k("x"), k("a"), k("b")]));
        assert!(r.matches(&[k("x"), k("c"), k("y")]));
        assert!(!r.matches(&[k("c")]));
        assert!(Redactor::new(["a//b"]).is_err());
    }
}
