//! Unified patches: parse (git and GNU diff output), apply with offset and
//! fuzz tolerance, and report the hunks that did not apply.
//!
//! ```
//! use blocksmith_diff::patch::{apply, ApplyOptions, Patch};
//! let patch = Patch::parse("--- a/f\n+++ b/f\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n")?;
//! // The target moved down by two lines: the hunk still applies, at an offset.
//! let report = apply("x\ny\na\nb\nc\n", &patch.files[0], &ApplyOptions::default());
//! assert_eq!(report.text, "x\ny\na\nB\nc\n");
//! assert_eq!(report.hunks[0].offset, 2);
//! assert!(report.rejects.is_empty());
//! # Ok::<(), blocksmith_diff::Error>(())
//! ```

use crate::text::split_lines;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// One line of a hunk, without its line terminator.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum HunkLine {
    /// Unchanged line (` ` prefix).
    Context {
        /// The line text.
        text: String,
        /// `false` when followed by `\ No newline at end of file`.
        newline: bool,
    },
    /// Removed line (`-` prefix).
    Remove {
        /// The line text.
        text: String,
        /// `false` when followed by `\ No newline at end of file`.
        newline: bool,
    },
    /// Added line (`+` prefix).
    Add {
        /// The line text.
        text: String,
        /// `false` when followed by `\ No newline at end of file`.
        newline: bool,
    },
}

impl HunkLine {
    fn parts(&self) -> (&str, bool) {
        match self {
            HunkLine::Context { text, newline }
            | HunkLine::Remove { text, newline }
            | HunkLine::Add { text, newline } => (text, *newline),
        }
    }
    fn in_old(&self) -> bool {
        !matches!(self, HunkLine::Add { .. })
    }
    fn matches(&self, line: &str) -> bool {
        let (text, newline) = self.parts();
        match line.strip_suffix('\n') {
            Some(body) => newline && body == text,
            None => !newline && line == text,
        }
    }
    fn write_to(&self, out: &mut String) {
        let (text, newline) = self.parts();
        out.push_str(text);
        if newline {
            out.push('\n');
        }
    }
}

/// One hunk: `@@ -old_start,old_len +new_start,new_len @@ section`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Hunk {
    /// 1-based first old line (the line before, for an empty range).
    pub old_start: usize,
    /// Old lines covered.
    pub old_len: usize,
    /// 1-based first new line (the line before, for an empty range).
    pub new_start: usize,
    /// New lines covered.
    pub new_len: usize,
    /// Text after the closing `@@` (git's function context), if any.
    pub section: Option<String>,
    /// The lines.
    pub lines: Vec<HunkLine>,
}

impl Hunk {
    /// The hunk that undoes this one.
    #[must_use]
    pub fn reversed(&self) -> Hunk {
        Hunk {
            old_start: self.new_start,
            old_len: self.new_len,
            new_start: self.old_start,
            new_len: self.old_len,
            section: self.section.clone(),
            lines: self
                .lines
                .iter()
                .map(|l| match l.clone() {
                    HunkLine::Remove { text, newline } => HunkLine::Add { text, newline },
                    HunkLine::Add { text, newline } => HunkLine::Remove { text, newline },
                    c @ HunkLine::Context { .. } => c,
                })
                .collect(),
        }
    }
}

/// The patch of one file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FilePatch {
    /// The `---` path as written (`a/...`), `None` for `/dev/null` (a created file).
    pub old_path: Option<String>,
    /// The `+++` path as written (`b/...`), `None` for `/dev/null` (a deleted file).
    pub new_path: Option<String>,
    /// git's extended header lines (`diff --git`, `index`, modes, renames), verbatim.
    pub extended: Vec<String>,
    /// The hunks, in file order.
    pub hunks: Vec<Hunk>,
}

impl FilePatch {
    /// The target path with `strip` leading components removed (like `patch -pN`):
    /// the new path, or the old one for a deletion.
    pub fn target_path(&self, strip: usize) -> Option<String> {
        let p = self.new_path.as_ref().or(self.old_path.as_ref())?;
        let parts: Vec<&str> = p.split('/').collect();
        (parts.len() > strip).then(|| parts[strip..].join("/"))
    }

    /// The patch that undoes this one.
    #[must_use]
    pub fn reversed(&self) -> FilePatch {
        FilePatch {
            old_path: self.new_path.clone(),
            new_path: self.old_path.clone(),
            extended: Vec::new(),
            hunks: self.hunks.iter().map(Hunk::reversed).collect(),
        }
    }

    /// `true` when there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.hunks.is_empty()
    }
}

/// A parsed patch of one or more files.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Patch {
    /// The files, in patch order.
    pub files: Vec<FilePatch>,
}

fn syntax(line: usize, message: impl Into<String>) -> Error {
    Error::PatchSyntax {
        line,
        message: message.into(),
    }
}

/// Unquotes a git C-style quoted path and drops a trailing tab + timestamp.
fn parse_path(raw: &str, line: usize) -> Result<Option<String>> {
    let raw = raw.trim_end_matches(['\r', '\n']);
    let path = if let Some(rest) = raw.strip_prefix('"') {
        let mut out = Vec::new();
        let mut chars = rest.bytes();
        loop {
            match chars.next() {
                None => return Err(syntax(line, "unterminated quoted path")),
                Some(b'"') => break,
                Some(b'\\') => match chars.next() {
                    Some(b'n') => out.push(b'\n'),
                    Some(b't') => out.push(b'\t'),
                    Some(b'r') => out.push(b'\r'),
                    Some(b'"') => out.push(b'"'),
                    Some(b'\\') => out.push(b'\\'),
                    Some(d @ b'0'..=b'7') => {
                        let mut v = u32::from(d - b'0');
                        for _ in 0..2 {
                            match chars.next() {
                                Some(d @ b'0'..=b'7') => v = v * 8 + u32::from(d - b'0'),
                                _ => return Err(syntax(line, "bad octal escape in path")),
                            }
                        }
                        out.push(u8::try_from(v).map_err(|_| syntax(line, "bad octal escape"))?);
                    }
                    _ => return Err(syntax(line, "bad escape in quoted path")),
                },
                Some(b) => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| syntax(line, "quoted path is not UTF-8"))?
    } else {
        raw.split('\t').next().unwrap_or("").trim_end().to_string()
    };
    if path.is_empty() {
        return Err(syntax(line, "empty path"));
    }
    Ok((path != "/dev/null").then_some(path))
}

fn parse_range(s: &str, line: usize) -> Result<(usize, usize)> {
    let num = |t: &str| {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(syntax(line, format!("bad number {t:?} in hunk header")));
        }
        t.parse::<usize>()
            .map_err(|_| syntax(line, format!("number {t:?} out of range")))
    };
    match s.split_once(',') {
        Some((a, b)) => Ok((num(a)?, num(b)?)),
        None => Ok((num(s)?, 1)),
    }
}

/// Parses `@@ -a,b +c,d @@ section`.
fn parse_hunk_header(l: &str, line: usize) -> Result<Hunk> {
    let rest = l
        .strip_prefix("@@ -")
        .ok_or_else(|| syntax(line, "expected '@@ -'"))?;
    let (ranges, section) = rest
        .split_once(" @@")
        .ok_or_else(|| syntax(line, "hunk header without closing '@@'"))?;
    let (old, new) = ranges
        .split_once(" +")
        .ok_or_else(|| syntax(line, "hunk header without '+' range"))?;
    let (old_start, old_len) = parse_range(old, line)?;
    let (new_start, new_len) = parse_range(new, line)?;
    if (old_start == 0 && old_len > 0) || (new_start == 0 && new_len > 0) {
        return Err(syntax(line, "line numbers start at 1"));
    }
    if old_len == 0 && new_len == 0 {
        return Err(syntax(line, "empty hunk"));
    }
    let section = section.trim_end_matches(['\r', '\n']);
    let section = section.strip_prefix(' ').unwrap_or(section);
    Ok(Hunk {
        old_start,
        old_len,
        new_start,
        new_len,
        section: (!section.is_empty()).then(|| section.to_string()),
        lines: Vec::new(),
    })
}

const EXTENDED: &[&str] = &[
    "index ",
    "old mode ",
    "new mode ",
    "new file mode ",
    "deleted file mode ",
    "similarity index ",
    "dissimilarity index ",
    "rename from ",
    "rename to ",
    "copy from ",
    "copy to ",
];

impl Patch {
    /// Parses a unified diff: one or more files, from `git diff`, `git
    /// format-patch`, `diff -u` or `diff -ruN`. Text before, between and after
    /// file patches (commit messages, `Index:` lines) is ignored, as GNU patch
    /// does. Binary patches are refused.
    ///
    /// # Errors
    /// [`Error::PatchSyntax`] (with the line) if a hunk header is malformed,
    /// a hunk's body does not match its line counts, a file header is cut short,
    /// or the patch is binary (`GIT binary patch`, `Binary files ... differ`).
    pub fn parse(text: &str) -> Result<Patch> {
        let lines = split_lines(text);
        let mut files: Vec<FilePatch> = Vec::new();
        let mut i = 0;
        let mut pending_ext: Vec<String> = Vec::new();
        let mut in_git = false;
        while i < lines.len() {
            let l = lines[i].trim_end_matches(['\n']);
            let lt = l.trim_end_matches('\r');
            let n = i + 1;
            if lt.starts_with("diff --git ") {
                if in_git {
                    files.push(header_only(std::mem::take(&mut pending_ext)));
                }
                pending_ext = vec![lt.to_string()];
                in_git = true;
                i += 1;
                continue;
            }
            if in_git && EXTENDED.iter().any(|p| lt.starts_with(p)) {
                pending_ext.push(lt.to_string());
                i += 1;
                continue;
            }
            if lt.starts_with("Binary files ") || lt == "GIT binary patch" {
                return Err(syntax(n, "binary patches are not supported"));
            }
            if let Some(old) = lt.strip_prefix("--- ") {
                let Some(next) = lines.get(i + 1) else {
                    if in_git || !files.is_empty() {
                        return Err(syntax(n, "'---' line without '+++' line"));
                    }
                    i += 1;
                    continue;
                };
                let Some(new) = next.trim_end_matches(['\n', '\r']).strip_prefix("+++ ") else {
                    // A "--- " line that is not a header: garbage outside a patch.
                    i += 1;
                    continue;
                };
                let old_path = parse_path(old, n)?;
                let new_path = parse_path(new, n + 1)?;
                let mut fp = FilePatch {
                    old_path,
                    new_path,
                    extended: std::mem::take(&mut pending_ext),
                    hunks: Vec::new(),
                };
                in_git = false;
                i += 2;
                while i < lines.len() && lines[i].starts_with("@@ ") {
                    let (h, next) = parse_hunk(&lines, i)?;
                    fp.hunks.push(h);
                    i = next;
                }
                if fp.hunks.is_empty() {
                    return Err(syntax(i + 1, "file header without hunks"));
                }
                files.push(fp);
                continue;
            }
            if lt.starts_with("@@ ") {
                return Err(syntax(n, "hunk without '---'/'+++' file header"));
            }
            if in_git {
                // A git header without hunks (mode change, pure rename) ends here.
                files.push(header_only(std::mem::take(&mut pending_ext)));
                in_git = false;
            }
            i += 1;
        }
        if in_git {
            files.push(header_only(pending_ext));
        }
        if files.is_empty() {
            return Err(syntax(lines.len().max(1), "no patch found"));
        }
        Ok(files.into_iter().fold(Patch::default(), |mut p, f| {
            p.files.push(f);
            p
        }))
    }
}

/// A git patch without hunks (mode change, pure rename, empty file): the
/// names come from its `diff --git a/X b/Y` line and `rename` lines.
fn header_only(extended: Vec<String>) -> FilePatch {
    let first = extended.first().map_or("", String::as_str);
    let rest = first.strip_prefix("diff --git ").unwrap_or("");
    let (mut old, mut new) = match rest.split_once(" b/") {
        Some((a, b)) => (Some(a.to_string()), Some(format!("b/{b}"))),
        None => (None, None),
    };
    for l in &extended {
        if let Some(p) = l.strip_prefix("rename from ") {
            old = Some(format!("a/{p}"));
        } else if let Some(p) = l.strip_prefix("rename to ") {
            new = Some(format!("b/{p}"));
        } else if l.starts_with("new file mode ") {
            old = None;
        } else if l.starts_with("deleted file mode ") {
            new = None;
        }
    }
    FilePatch {
        old_path: old,
        new_path: new,
        extended,
        hunks: Vec::new(),
    }
}

/// Parses one hunk starting at `lines[start]` (its header); returns it and
/// the index of the line after it.
fn parse_hunk(lines: &[&str], start: usize) -> Result<(Hunk, usize)> {
    let mut h = parse_hunk_header(lines[start].trim_end_matches('\n'), start + 1)?;
    let (mut old_left, mut new_left) = (h.old_len, h.new_len);
    let mut i = start + 1;
    while old_left > 0 || new_left > 0 {
        let Some(raw) = lines.get(i) else {
            return Err(syntax(
                i,
                format!("hunk truncated: {old_left} old and {new_left} new lines missing"),
            ));
        };
        let body = raw.strip_suffix('\n').unwrap_or(raw);
        let n = i + 1;
        let (kind, text) = match body.as_bytes().first() {
            Some(b' ') => (b' ', &body[1..]),
            Some(b'-') => (b'-', &body[1..]),
            Some(b'+') => (b'+', &body[1..]),
            // Editors strip the lone space of an empty context line.
            None => (b' ', ""),
            Some(b'\\') => return Err(syntax(n, "'\\' line not after a hunk line")),
            Some(_) => {
                return Err(syntax(
                    n,
                    format!(
                        "unexpected line in hunk ({old_left} old and {new_left} new lines missing)"
                    ),
                ));
            }
        };
        let (old_use, new_use) = match kind {
            b' ' => (1, 1),
            b'-' => (1, 0),
            _ => (0, 1),
        };
        if old_use > old_left || new_use > new_left {
            return Err(syntax(n, "hunk has more lines than its header says"));
        }
        old_left -= old_use;
        new_left -= new_use;
        let mut newline = true;
        if let Some(next) = lines.get(i + 1)
            && next.starts_with("\\ ")
        {
            newline = false;
            i += 1;
        }
        let text = text.to_string();
        h.lines.push(match kind {
            b' ' => HunkLine::Context { text, newline },
            b'-' => HunkLine::Remove { text, newline },
            _ => HunkLine::Add { text, newline },
        });
        i += 1;
    }
    Ok((h, i))
}

/// How tolerant [`apply`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// Context lines that may be ignored at each end of a hunk when it does not
    /// match exactly (GNU patch's `--fuzz`, default 2).
    pub fuzz: usize,
    /// How far (in lines) from its stated position a hunk may be found; `None`
    /// searches the whole file.
    pub max_offset: Option<usize>,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            fuzz: 2,
            max_offset: None,
        }
    }
}

impl ApplyOptions {
    /// Exact application: no fuzz, no offset.
    pub fn strict() -> Self {
        Self {
            fuzz: 0,
            max_offset: Some(0),
        }
    }
    /// Sets the fuzz factor.
    #[must_use]
    pub fn with_fuzz(mut self, fuzz: usize) -> Self {
        self.fuzz = fuzz;
        self
    }
    /// Sets the largest offset searched.
    #[must_use]
    pub fn with_max_offset(mut self, max_offset: Option<usize>) -> Self {
        self.max_offset = max_offset;
        self
    }
}

/// Where and how a hunk applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HunkOutcome {
    /// 0-based index of the hunk in its file patch.
    pub index: usize,
    /// Lines between where the hunk said it applies and where it did.
    pub offset: isize,
    /// Context lines ignored at each end to make it apply.
    pub fuzz: usize,
}

/// A hunk that did not apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reject {
    /// 0-based index of the hunk in its file patch.
    pub index: usize,
    /// Why.
    pub reason: String,
    /// The hunk itself (what a `.rej` file holds).
    pub hunk: Hunk,
}

/// The result of [`apply`]: the patched text plus what happened to each hunk.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApplyReport {
    /// The text with every applicable hunk applied.
    pub text: String,
    /// The hunks that applied.
    pub hunks: Vec<HunkOutcome>,
    /// The hunks that did not.
    pub rejects: Vec<Reject>,
}

impl ApplyReport {
    /// `true` if every hunk applied.
    pub fn is_clean(&self) -> bool {
        self.rejects.is_empty()
    }

    /// The rejected hunks as a `.rej` file (unified format, like GNU patch writes).
    pub fn rejects_file(&self, patch: &FilePatch) -> String {
        if self.rejects.is_empty() {
            return String::new();
        }
        let mut out = format!(
            "--- {}\n+++ {}\n",
            patch.old_path.as_deref().unwrap_or("/dev/null"),
            patch.new_path.as_deref().unwrap_or("/dev/null")
        );
        for r in &self.rejects {
            crate::unified::render_hunk(&mut out, &r.hunk);
        }
        out
    }
}

fn matches_at(target: &[&str], at: usize, pattern: &[&HunkLine]) -> bool {
    at + pattern.len() <= target.len()
        && pattern
            .iter()
            .zip(&target[at..at + pattern.len()])
            .all(|(p, t)| p.matches(t))
}

/// Applies one file's hunks to `text`, tolerating moved code (offset) and
/// changed context (fuzz) like GNU patch; hunks that cannot be placed are
/// returned as rejects and the rest still applies.
pub fn apply(text: &str, patch: &FilePatch, options: &ApplyOptions) -> ApplyReport {
    let target = split_lines(text);
    let mut out = String::with_capacity(text.len());
    let mut report = ApplyReport::default();
    let mut pos = 0usize; // target lines before `pos` are already written
    let mut drift = 0isize; // offset of the previous hunk, carried forward
    for (index, h) in patch.hunks.iter().enumerate() {
        let old: Vec<&HunkLine> = h.lines.iter().filter(|l| l.in_old()).collect();
        let lead = h
            .lines
            .iter()
            .take_while(|l| matches!(l, HunkLine::Context { .. }))
            .count();
        let trail = h
            .lines
            .iter()
            .rev()
            .take_while(|l| matches!(l, HunkLine::Context { .. }))
            .count()
            .min(old.len() - lead.min(old.len()));
        let stated = if h.old_len == 0 {
            h.old_start
        } else {
            h.old_start.saturating_sub(1)
        }
        .min(isize::MAX as usize / 4) as isize;
        let mut placed = None;
        let mut tried = None;
        'fuzz: for fuzz in 0..=options.fuzz {
            let skip_lead = fuzz.min(lead);
            let skip_trail = fuzz.min(trail);
            if tried == Some((skip_lead, skip_trail)) {
                break;
            }
            tried = Some((skip_lead, skip_trail));
            let pattern = &old[skip_lead..old.len() - skip_trail];
            if pattern.is_empty() && !old.is_empty() {
                break;
            }
            let want = stated
                .saturating_add(drift)
                .saturating_add(skip_lead as isize);
            let lo = pos as isize;
            let hi = target.len() as isize - pattern.len() as isize;
            if hi < lo {
                continue;
            }
            let limit = options
                .max_offset
                .map_or(isize::MAX, |m| m.min(isize::MAX as usize) as isize);
            let span = (want - lo).abs().max((hi - want).abs()).min(limit);
            // Distances below `first` put both candidates outside `lo..=hi`: start
            // there, so a hunk that states a line far past the end (a hostile
            // `@@ -8006024407900225518 @@`) costs the target's length, not its line number.
            let first = (want - hi).max(lo - want).max(0);
            for d in first..=span {
                let candidates = [Some(want - d), (d > 0).then(|| want.saturating_add(d))];
                for at in candidates.into_iter().flatten() {
                    if at >= lo && at <= hi && matches_at(&target, at as usize, pattern) {
                        placed = Some((at as usize, skip_lead, skip_trail, pattern.len(), fuzz));
                        break 'fuzz;
                    }
                }
            }
        }
        let Some((at, skip_lead, skip_trail, plen, fuzz)) = placed else {
            report.rejects.push(Reject {
                index,
                reason: if options.fuzz == 0 {
                    format!(
                        "no match for its {} old lines at or after line {}",
                        old.len(),
                        pos + 1
                    )
                } else {
                    format!(
                        "no match for its {} old lines at or after line {}, even with fuzz {}",
                        old.len(),
                        pos + 1,
                        options.fuzz
                    )
                },
                hunk: h.clone(),
            });
            continue;
        };
        // Copy what precedes, then the hunk's middle (skipped context stays as it is).
        target[pos..at].iter().for_each(|l| out.push_str(l));
        let mut t = at;
        // Skipped context lines lie outside the window and stay as the target has them.
        for l in &h.lines[skip_lead..h.lines.len() - skip_trail] {
            match l {
                HunkLine::Context { .. } => {
                    out.push_str(target[t]);
                    t += 1;
                }
                HunkLine::Remove { .. } => t += 1,
                HunkLine::Add { .. } => l.write_to(&mut out),
            }
        }
        pos = at + plen;
        let offset = at as isize - skip_lead as isize - stated;
        drift = offset;
        report.hunks.push(HunkOutcome {
            index,
            offset,
            fuzz,
        });
    }
    target[pos..].iter().for_each(|l| out.push_str(l));
    report.text = out;
    report
}

/// Applies every hunk or fails with [`Error::PatchRejected`] naming the ones that did not apply.
///
/// # Errors
/// [`Error::PatchRejected`] naming each hunk that did not apply, and why.
pub fn apply_strict(text: &str, patch: &FilePatch, options: &ApplyOptions) -> Result<String> {
    let report = apply(text, patch, options);
    if report.rejects.is_empty() {
        Ok(report.text)
    } else {
        Err(Error::PatchRejected {
            file: patch.target_path(0),
            total: patch.hunks.len(),
            rejects: report.rejects,
        })
    }
}
