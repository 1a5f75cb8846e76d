//! Three-way merge of text and of structured values.
//!
//! ```
//! use blocksmith_diff::merge::{merge_text, MergeOptions};
//! let base = "a\nb\nc\nd\ne\n";
//! let ours = "A\nb\nc\nd\ne\n";
//! let theirs = "a\nb\nc\nd\nE\n";
//! let m = merge_text(base, ours, theirs, &MergeOptions::default());
//! assert!(m.is_clean());
//! assert_eq!(m.text, "A\nb\nc\nd\nE\n");
//!
//! let m = merge_text("x\n", "ours\n", "theirs\n", &MergeOptions::default());
//! assert_eq!(m.text, "<<<<<<< ours\nours\n=======\ntheirs\n>>>>>>> theirs\n");
//! assert_eq!(m.conflicts[0].ours, "ours\n");
//! ```

use crate::structured::{
    Segment, StructuredOptions, display_path, identity, identity_key, value_ids,
};
use crate::text::{Algorithm, diff_ids, split_lines};
use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;

/// How conflicts are written into merged text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ConflictStyle {
    /// `<<<<<<<` ours `=======` theirs `>>>>>>>`; lines common to both sides
    /// at the edges of a conflict are moved out of it.
    #[default]
    Merge,
    /// Like `Merge` plus the base between `|||||||` and `=======` (git's `diff3`).
    Diff3,
}

/// Options of [`merge_text`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MergeOptions {
    /// Marker style.
    pub style: ConflictStyle,
    /// Label after `<<<<<<<`.
    pub ours_label: String,
    /// Label after `|||||||`.
    pub base_label: String,
    /// Label after `>>>>>>>`.
    pub theirs_label: String,
}

impl Default for MergeOptions {
    fn default() -> Self {
        Self {
            style: ConflictStyle::Merge,
            ours_label: "ours".into(),
            base_label: "base".into(),
            theirs_label: "theirs".into(),
        }
    }
}

impl MergeOptions {
    /// Sets the conflict style.
    #[must_use]
    pub fn with_style(mut self, style: ConflictStyle) -> Self {
        self.style = style;
        self
    }
    /// Sets the three marker labels.
    #[must_use]
    pub fn with_labels(mut self, ours: &str, base: &str, theirs: &str) -> Self {
        self.ours_label = ours.into();
        self.base_label = base.into();
        self.theirs_label = theirs.into();
        self
    }
}

/// A region of a token-level three-way merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Region {
    /// Base tokens nobody changed.
    Stable(Range<usize>),
    /// Only ours changed it (or both the same way): take ours.
    Ours(Range<usize>),
    /// Only theirs changed it: take theirs.
    Theirs(Range<usize>),
    /// Both changed it differently.
    Conflict {
        base: Range<usize>,
        ours: Range<usize>,
        theirs: Range<usize>,
    },
}

/// diff3 over interned token sequences. Changes whose base ranges overlap or
/// touch are merged into one region (like diff3 and git).
pub(crate) fn merge3_ids(base: &[u32], ours: &[u32], theirs: &[u32]) -> Vec<Region> {
    let a = diff_ids(base, ours, Algorithm::Histogram);
    let b = diff_ids(base, theirs, Algorithm::Histogram);
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    let (mut da, mut db) = (0isize, 0isize); // ours/theirs position minus base position
    let mut pos = 0usize;
    let shift = |p: usize, d: isize| (p as isize + d) as usize;
    while i < a.len() || j < b.len() {
        let start = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.old.start.min(y.old.start),
            (Some(x), None) => x.old.start,
            (None, Some(y)) => y.old.start,
            (None, None) => unreachable!("loop condition"),
        };
        let mut end = start;
        let (i0, j0) = (i, j);
        loop {
            let mut grew = false;
            while let Some(x) = a
                .get(i)
                .filter(|x| x.old.start <= end || (i == i0 && x.old.start == start))
            {
                end = end.max(x.old.end);
                i += 1;
                grew = true;
            }
            while let Some(y) = b
                .get(j)
                .filter(|y| y.old.start <= end || (j == j0 && y.old.start == start))
            {
                end = end.max(y.old.end);
                j += 1;
                grew = true;
            }
            if !grew {
                break;
            }
        }
        if pos < start {
            out.push(Region::Stable(pos..start));
        }
        let grow = |edits: &[crate::text::Edit]| {
            edits
                .iter()
                .map(|e| e.new.len() as isize - e.old.len() as isize)
                .sum::<isize>()
        };
        let ours_r = shift(start, da)..shift(end, da + grow(&a[i0..i]));
        let theirs_r = shift(start, db)..shift(end, db + grow(&b[j0..j]));
        let (in_a, in_b) = (i > i0, j > j0);
        da += grow(&a[i0..i]);
        db += grow(&b[j0..j]);
        out.push(if in_a && !in_b {
            Region::Ours(ours_r)
        } else if in_b && !in_a {
            Region::Theirs(theirs_r)
        } else if ours[ours_r.clone()] == theirs[theirs_r.clone()] {
            Region::Ours(ours_r)
        } else {
            Region::Conflict {
                base: start..end,
                ours: ours_r,
                theirs: theirs_r,
            }
        });
        pos = end;
    }
    if pos < base.len() {
        out.push(Region::Stable(pos..base.len()));
    }
    out
}

/// A text conflict, as data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextConflict {
    /// 1-based base lines covered (`start..end`, empty for an insertion point).
    pub base_lines: Range<usize>,
    /// 1-based line of the `<<<<<<<` marker in the merged text.
    pub marker_line: usize,
    /// The base text of the region.
    pub base: String,
    /// Our text.
    pub ours: String,
    /// Their text.
    pub theirs: String,
}

/// The result of [`merge_text`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextMerge {
    /// The merged text, with conflict markers where the sides disagree.
    pub text: String,
    /// The conflicts, in text order.
    pub conflicts: Vec<TextConflict>,
}

impl TextMerge {
    /// `true` when there is no conflict.
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty()
    }
}

fn intern3<'a>(seqs: [&[&'a str]; 3]) -> [Vec<u32>; 3] {
    let mut map: HashMap<&'a str, u32> = HashMap::new();
    seqs.map(|s| {
        s.iter()
            .map(|t| {
                let n = map.len() as u32;
                *map.entry(t).or_insert(n)
            })
            .collect()
    })
}

fn push_block(out: &mut String, lines: &[&str]) {
    for l in lines {
        out.push_str(l);
    }
    if !out.is_empty() && !out.ends_with('\n') && !lines.is_empty() {
        out.push('\n');
    }
}

/// Merges two texts that both started from `base`, line by line.
pub fn merge_text(base: &str, ours: &str, theirs: &str, options: &MergeOptions) -> TextMerge {
    let (b, o, t) = (split_lines(base), split_lines(ours), split_lines(theirs));
    let [ib, io, it] = intern3([&b, &o, &t]);
    let mut text = String::with_capacity(ours.len().max(theirs.len()));
    let mut conflicts = Vec::new();
    for r in merge3_ids(&ib, &io, &it) {
        match r {
            Region::Stable(r) => b[r].iter().for_each(|l| text.push_str(l)),
            Region::Ours(r) => o[r].iter().for_each(|l| text.push_str(l)),
            Region::Theirs(r) => t[r].iter().for_each(|l| text.push_str(l)),
            Region::Conflict { base, ours, theirs } => {
                let (mut os, mut ts) = (&o[ours], &t[theirs]);
                if options.style == ConflictStyle::Merge {
                    let pre = os.iter().zip(ts).take_while(|(x, y)| x == y).count();
                    os[..pre].iter().for_each(|l| text.push_str(l));
                    os = &os[pre..];
                    ts = &ts[pre..];
                    let suf = os
                        .iter()
                        .rev()
                        .zip(ts.iter().rev())
                        .take_while(|(x, y)| x == y)
                        .count();
                    let tail = &os[os.len() - suf..];
                    os = &os[..os.len() - suf];
                    ts = &ts[..ts.len() - suf];
                    if os.is_empty() && ts.is_empty() {
                        text.extend(tail.iter().copied());
                        continue;
                    }
                    emit_conflict(
                        &mut text,
                        &mut conflicts,
                        options,
                        &b[base.clone()],
                        os,
                        ts,
                        &base,
                    );
                    text.extend(tail.iter().copied());
                } else {
                    emit_conflict(
                        &mut text,
                        &mut conflicts,
                        options,
                        &b[base.clone()],
                        os,
                        ts,
                        &base,
                    );
                }
            }
        }
    }
    TextMerge { text, conflicts }
}

fn emit_conflict(
    text: &mut String,
    conflicts: &mut Vec<TextConflict>,
    options: &MergeOptions,
    base: &[&str],
    ours: &[&str],
    theirs: &[&str],
    base_range: &Range<usize>,
) {
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let marker_line = text.bytes().filter(|&c| c == b'\n').count() + 1;
    let _ = writeln!(text, "<<<<<<< {}", options.ours_label);
    push_block(text, ours);
    if options.style == ConflictStyle::Diff3 {
        let _ = writeln!(text, "||||||| {}", options.base_label);
        push_block(text, base);
    }
    text.push_str("=======\n");
    push_block(text, theirs);
    let _ = writeln!(text, ">>>>>>> {}", options.theirs_label);
    conflicts.push(TextConflict {
        base_lines: base_range.start + 1..base_range.end + 1,
        marker_line,
        base: base.concat(),
        ours: ours.concat(),
        theirs: theirs.concat(),
    });
}

/// A structured conflict, as data: `None` means absent on that side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueConflict {
    /// The readable path (identity segments for matched array elements).
    pub path: String,
    /// The base value.
    pub base: Option<Value>,
    /// Our value (what the merged document holds at this path).
    pub ours: Option<Value>,
    /// Their value.
    pub theirs: Option<Value>,
}

/// The result of [`merge_values`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValueMerge {
    /// The merged document; at each conflicting path it holds our value.
    pub value: Value,
    /// The conflicts.
    pub conflicts: Vec<ValueConflict>,
}

impl ValueMerge {
    /// `true` when there is no conflict.
    pub fn is_clean(&self) -> bool {
        self.conflicts.is_empty()
    }
}

/// Merges two documents that both started from `base`: objects key by key,
/// identified arrays element by element, other arrays as sequences (diff3);
/// a value changed differently on both sides is a conflict.
///
/// ```
/// use blocksmith_diff::merge::merge_values;
/// use blocksmith_diff::structured::StructuredOptions;
/// use serde_json::json;
/// let base = json!({"replicas": 2, "image": "v1", "env": {"A": "1"}});
/// let ours = json!({"replicas": 3, "image": "v1", "env": {"A": "1"}});
/// let theirs = json!({"replicas": 2, "image": "v2", "env": {"A": "1", "B": "2"}});
/// let m = merge_values(&base, &ours, &theirs, &StructuredOptions::default());
/// assert!(m.is_clean());
/// assert_eq!(m.value, json!({"replicas": 3, "image": "v2", "env": {"A": "1", "B": "2"}}));
/// ```
pub fn merge_values(
    base: &Value,
    ours: &Value,
    theirs: &Value,
    options: &StructuredOptions,
) -> ValueMerge {
    let mut conflicts = Vec::new();
    let mut path = Vec::new();
    let value = merge3(
        Some(base),
        Some(ours),
        Some(theirs),
        options,
        &mut path,
        &mut conflicts,
    )
    .unwrap_or(Value::Null);
    ValueMerge { value, conflicts }
}

fn merge3(
    base: Option<&Value>,
    ours: Option<&Value>,
    theirs: Option<&Value>,
    options: &StructuredOptions,
    path: &mut Vec<Segment>,
    conflicts: &mut Vec<ValueConflict>,
) -> Option<Value> {
    if ours == theirs {
        return ours.cloned();
    }
    if base == ours {
        return theirs.cloned();
    }
    if base == theirs {
        return ours.cloned();
    }
    match (ours, theirs) {
        (Some(Value::Object(o)), Some(Value::Object(t))) => {
            let empty = serde_json::Map::new();
            let b = base.and_then(Value::as_object).unwrap_or(&empty);
            let mut keys: Vec<&String> = b.keys().chain(o.keys()).chain(t.keys()).collect();
            keys.sort();
            keys.dedup();
            let mut out = serde_json::Map::new();
            for k in keys {
                path.push(Segment::Key(k.clone()));
                if let Some(v) = merge3(b.get(k), o.get(k), t.get(k), options, path, conflicts) {
                    out.insert(k.clone(), v);
                }
                path.pop();
            }
            return Some(Value::Object(out));
        }
        (Some(Value::Array(o)), Some(Value::Array(t))) => {
            let b: &[Value] = base.and_then(Value::as_array).map_or(&[], Vec::as_slice);
            if let Some(key) = identity_key(options, &[b, o, t]) {
                return Some(merge_identified(b, o, t, key, options, path, conflicts));
            }
            let ids = value_ids(&[b, o, t]);
            let regions = merge3_ids(&ids[0], &ids[1], &ids[2]);
            if !regions.iter().any(|r| matches!(r, Region::Conflict { .. })) {
                let mut out = Vec::new();
                for r in regions {
                    match r {
                        Region::Stable(r) => out.extend_from_slice(&b[r]),
                        Region::Ours(r) => out.extend_from_slice(&o[r]),
                        Region::Theirs(r) => out.extend_from_slice(&t[r]),
                        Region::Conflict { .. } => {}
                    }
                }
                return Some(Value::Array(out));
            }
        }
        _ => {}
    }
    conflicts.push(ValueConflict {
        path: display_path(path),
        base: base.cloned(),
        ours: ours.cloned(),
        theirs: theirs.cloned(),
    });
    ours.cloned()
}

fn merge_identified(
    b: &[Value],
    o: &[Value],
    t: &[Value],
    key: &str,
    options: &StructuredOptions,
    path: &mut Vec<Segment>,
    conflicts: &mut Vec<ValueConflict>,
) -> Value {
    let index = |arr: &[Value]| -> Vec<(String, usize)> {
        arr.iter()
            .enumerate()
            .filter_map(|(i, v)| identity(v, key).map(|id| (id, i)))
            .collect()
    };
    let (ib, io, it) = (index(b), index(o), index(t));
    let mb: HashMap<&str, &Value> = ib.iter().map(|(id, i)| (id.as_str(), &b[*i])).collect();
    let mo: HashMap<&str, &Value> = io.iter().map(|(id, i)| (id.as_str(), &o[*i])).collect();
    let mt: HashMap<&str, &Value> = it.iter().map(|(id, i)| (id.as_str(), &t[*i])).collect();
    // Order: ours, then each element only theirs has, after its predecessor in theirs.
    let mut order: Vec<&str> = io.iter().map(|(id, _)| id.as_str()).collect();
    for (n, (id, _)) in it.iter().enumerate() {
        if order.contains(&id.as_str()) {
            continue;
        }
        let after = it[..n]
            .iter()
            .rev()
            .find_map(|(p, _)| order.iter().position(|x| x == p));
        order.insert(after.map_or(0, |p| p + 1), id);
    }
    for (id, _) in &ib {
        if !order.contains(&id.as_str()) {
            order.push(id);
        }
    }
    let mut out = Vec::new();
    for id in order {
        path.push(Segment::Id {
            key: key.to_string(),
            value: id.to_string(),
        });
        let merged = merge3(
            mb.get(id).copied(),
            mo.get(id).copied(),
            mt.get(id).copied(),
            options,
            path,
            conflicts,
        );
        path.pop();
        out.extend(merged);
    }
    Value::Array(out)
}
