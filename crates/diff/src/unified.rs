//! Unified diff output, as `diff -u` and `git diff` write it.
//!
//! ```
//! use blocksmith_diff::text::{DiffOptions, TextDiff};
//! use blocksmith_diff::unified::UnifiedOptions;
//! let d = TextDiff::new("a\nb\nc\n", "a\nB\nc\n", &DiffOptions::default());
//! let text = d.unified(&UnifiedOptions::default().with_labels("a/f.txt", "b/f.txt"));
//! assert_eq!(text, "--- a/f.txt\n+++ b/f.txt\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n");
//! ```

use crate::patch::{FilePatch, Hunk, HunkLine, Patch};
use std::fmt::Write as _;

/// How unified diffs are written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnifiedOptions {
    /// Unchanged lines shown around each change (default 3, like git and GNU diff).
    pub context: usize,
    /// The `---` label (`/dev/null` for a created file).
    pub old_label: String,
    /// The `+++` label (`/dev/null` for a deleted file).
    pub new_label: String,
    /// Write a `diff --git OLD NEW` line first (labels should then carry the
    /// `a/` and `b/` prefixes).
    pub git_header: bool,
}

impl Default for UnifiedOptions {
    fn default() -> Self {
        Self {
            context: 3,
            old_label: "a".into(),
            new_label: "b".into(),
            git_header: false,
        }
    }
}

impl UnifiedOptions {
    /// Sets the number of context lines.
    #[must_use]
    pub fn with_context(mut self, context: usize) -> Self {
        self.context = context;
        self
    }
    /// Sets the `---` and `+++` labels.
    #[must_use]
    pub fn with_labels(mut self, old: impl Into<String>, new: impl Into<String>) -> Self {
        self.old_label = old.into();
        self.new_label = new.into();
        self
    }
    /// Labels both sides git-style: `a/PATH` and `b/PATH`, with a `diff --git` line.
    #[must_use]
    pub fn with_git_path(mut self, path: &str) -> Self {
        self.old_label = format!("a/{path}");
        self.new_label = format!("b/{path}");
        self.git_header = true;
        self
    }
    /// Writes (or not) the `diff --git` line.
    #[must_use]
    pub fn with_git_header(mut self, on: bool) -> Self {
        self.git_header = on;
        self
    }
}

/// Writes a hunk header, omitting a count of 1 as GNU diff and git do.
pub fn hunk_header(h: &Hunk) -> String {
    let range = |start: usize, len: usize| {
        if len == 1 {
            format!("{start}")
        } else {
            format!("{start},{len}")
        }
    };
    let mut s = format!(
        "@@ -{} +{} @@",
        range(h.old_start, h.old_len),
        range(h.new_start, h.new_len)
    );
    if let Some(sec) = &h.section {
        s.push(' ');
        s.push_str(sec);
    }
    s
}

/// Writes one hunk: its header and its lines.
pub fn render_hunk(out: &mut String, h: &Hunk) {
    out.push_str(&hunk_header(h));
    out.push('\n');
    for l in &h.lines {
        let (c, text, newline) = match l {
            HunkLine::Context { text, newline } => (' ', text, *newline),
            HunkLine::Remove { text, newline } => ('-', text, *newline),
            HunkLine::Add { text, newline } => ('+', text, *newline),
        };
        out.push(c);
        out.push_str(text);
        out.push('\n');
        if !newline {
            out.push_str("\\ No newline at end of file\n");
        }
    }
}

/// Writes one file's patch. An empty patch (no hunks, no extended header) is
/// the empty string, as `diff` prints nothing for equal files.
pub fn render_file(p: &FilePatch, options: &UnifiedOptions) -> String {
    let mut out = String::new();
    if p.hunks.is_empty() && p.extended.is_empty() {
        return out;
    }
    let old = p.old_path.as_deref().unwrap_or("/dev/null");
    let new = p.new_path.as_deref().unwrap_or("/dev/null");
    if !p.extended.is_empty() {
        for l in &p.extended {
            out.push_str(l);
            out.push('\n');
        }
    } else if options.git_header {
        let _ = writeln!(
            out,
            "diff --git {} {}",
            p.old_path.as_deref().unwrap_or(new),
            p.new_path.as_deref().unwrap_or(old)
        );
        if p.old_path.is_none() {
            out.push_str("new file mode 100644\n");
        } else if p.new_path.is_none() {
            out.push_str("deleted file mode 100644\n");
        }
    }
    if !p.hunks.is_empty() {
        let _ = writeln!(out, "--- {}", quote_path(old));
        let _ = writeln!(out, "+++ {}", quote_path(new));
        for h in &p.hunks {
            render_hunk(&mut out, h);
        }
    }
    out
}

/// Writes a multi-file patch.
pub fn render(p: &Patch, options: &UnifiedOptions) -> String {
    p.files.iter().map(|f| render_file(f, options)).collect()
}

/// Quotes a path the way git does when it holds special characters.
fn quote_path(p: &str) -> String {
    if !p
        .chars()
        .any(|c| c == '"' || c == '\\' || c == '\t' || c == '\n' || c.is_control())
    {
        return p.to_string();
    }
    let mut s = String::from("\"");
    for c in p.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            '\t' => s.push_str("\\t"),
            '\n' => s.push_str("\\n"),
            // Octal escapes are bytes, as git writes them: a control
            // character outside ASCII (U+0080-U+009F) is its UTF-8 bytes.
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(s, "\\{b:03o}");
                }
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}
