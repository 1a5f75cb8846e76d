//! Structured diff of parsed documents: by path, key order ignored, array
//! elements matched by an identity key or by position, as a change list, an
//! RFC 6902 JSON Patch and a readable report.
//!
//! ```
//! use blocksmith_diff::structured::{diff, StructuredOptions};
//! use serde_json::json;
//! let a = json!({"containers": [{"name": "web", "image": "nginx:1.25"}, {"name": "db", "image": "pg:15"}]});
//! let b = json!({"containers": [{"name": "db", "image": "pg:16"}, {"name": "web", "image": "nginx:1.25"}]});
//! let d = diff(&a, &b, &StructuredOptions::default().with_identity_key("name"));
//! // Matched by name: one real change, plus the reorder.
//! assert_eq!(d.report(), "> /containers[name=db]: moved from 1 to 0\n~ /containers[name=db]/image: \"pg:15\" -> \"pg:16\"\n");
//! assert_eq!(d.to_json_patch().apply(&a)?, b);
//! # Ok::<(), blocksmith_diff::Error>(())
//! ```

use crate::json_patch::{JsonPatch, PatchOp, escape};
use crate::text::{Algorithm, diff_ids};
use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt::{self, Write as _};

/// Options of structured diff and merge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct StructuredOptions {
    /// Keys that identify array elements, tried in order: an array whose
    /// elements (on both sides) are all objects holding the key with distinct
    /// scalar values is matched by it; other arrays are matched by position
    /// (longest common subsequence of equal elements).
    pub identity_keys: Vec<String>,
}

impl StructuredOptions {
    /// Adds an identity key for array elements (e.g. `"name"`).
    #[must_use]
    pub fn with_identity_key(mut self, key: impl Into<String>) -> Self {
        self.identity_keys.push(key.into());
        self
    }
}

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Segment {
    /// An object member.
    Key(String),
    /// An array element by position.
    Index(usize),
    /// An array element by identity (`key=value`).
    Id {
        /// The identity key.
        key: String,
        /// Its value (strings bare, other scalars as JSON).
        value: String,
    },
}

impl Segment {
    /// The text path patterns match this segment against.
    pub fn match_text(&self) -> String {
        match self {
            Segment::Key(k) => k.clone(),
            Segment::Index(i) => i.to_string(),
            Segment::Id { key, value } => format!("{key}={value}"),
        }
    }
}

/// A readable path: `/a/b/0/containers[name=web]/image`.
pub fn display_path(segments: &[Segment]) -> String {
    let mut s = String::new();
    for seg in segments {
        match seg {
            Segment::Key(k) => {
                s.push('/');
                s.push_str(&escape(k));
            }
            Segment::Index(i) => {
                let _ = write!(s, "/{i}");
            }
            Segment::Id { key, value } => {
                let _ = write!(s, "[{key}={value}]");
            }
        }
    }
    if s.is_empty() { "/".into() } else { s }
}

/// What happened at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Present only in the new document.
    Added,
    /// Present only in the old document.
    Removed,
    /// Present in both with another value (or type).
    Modified,
    /// An identified array element changed position.
    Moved,
}

/// One change between two documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// Where, readable (identity segments for matched array elements).
    pub path: Vec<Segment>,
    /// The JSON Pointer this change applies at when the changes are applied in
    /// order (the `path` of its JSON Patch operation).
    pub pointer: String,
    /// For [`ChangeKind::Moved`]: the pointer it moves from.
    pub from: Option<String>,
    /// The old value (removed, modified).
    pub old: Option<Value>,
    /// The new value (added, modified).
    pub new: Option<Value>,
}

impl Change {
    /// The readable path.
    pub fn display_path(&self) -> String {
        display_path(&self.path)
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.display_path();
        let show = |v: &Option<Value>| v.as_ref().map_or_else(String::new, Value::to_string);
        match self.kind {
            ChangeKind::Added => write!(f, "+ {p}: {}", show(&self.new)),
            ChangeKind::Removed => write!(f, "- {p}: {}", show(&self.old)),
            ChangeKind::Modified => write!(f, "~ {p}: {} -> {}", show(&self.old), show(&self.new)),
            ChangeKind::Moved => {
                let idx = |ptr: &str| ptr.rsplit('/').next().unwrap_or("").to_string();
                write!(
                    f,
                    "> {p}: moved from {} to {}",
                    idx(self.from.as_deref().unwrap_or("")),
                    idx(&self.pointer)
                )
            }
        }
    }
}

/// The changes between two documents, in application order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StructuredDiff {
    /// The changes.
    pub changes: Vec<Change>,
}

impl StructuredDiff {
    /// `true` when the documents are equal.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The changes as an RFC 6902 JSON Patch: applying it to the old document
    /// gives the new one.
    pub fn to_json_patch(&self) -> JsonPatch {
        JsonPatch(
            self.changes
                .iter()
                .map(|c| match c.kind {
                    ChangeKind::Added => PatchOp::Add {
                        path: c.pointer.clone(),
                        value: c.new.clone().unwrap_or(Value::Null),
                    },
                    ChangeKind::Removed => PatchOp::Remove {
                        path: c.pointer.clone(),
                    },
                    ChangeKind::Modified => PatchOp::Replace {
                        path: c.pointer.clone(),
                        value: c.new.clone().unwrap_or(Value::Null),
                    },
                    ChangeKind::Moved => PatchOp::Move {
                        from: c.from.clone().unwrap_or_default(),
                        path: c.pointer.clone(),
                    },
                })
                .collect(),
        )
    }

    /// One line per change: `+ path: value`, `- path: value`, `~ path: old -> new`,
    /// `> path: moved from i to j`.
    pub fn report(&self) -> String {
        self.changes.iter().fold(String::new(), |mut s, c| {
            let _ = writeln!(s, "{c}");
            s
        })
    }

    /// Counts by kind: (added, removed, modified, moved).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let n = |k| self.changes.iter().filter(|c| c.kind == k).count();
        (
            n(ChangeKind::Added),
            n(ChangeKind::Removed),
            n(ChangeKind::Modified),
            n(ChangeKind::Moved),
        )
    }
}

/// Diffs two documents.
pub fn diff(old: &Value, new: &Value, options: &StructuredOptions) -> StructuredDiff {
    let mut w = Walker {
        options,
        out: Vec::new(),
    };
    let mut path = Vec::new();
    w.walk(old, new, &mut path, "");
    StructuredDiff { changes: w.out }
}

/// The identity of an array element under `key`, if it has a scalar one.
pub(crate) fn identity(v: &Value, key: &str) -> Option<String> {
    match v.as_object()?.get(key)? {
        Value::String(s) => Some(s.clone()),
        v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}

/// The first identity key that identifies every element of every array given.
pub(crate) fn identity_key<'o>(
    options: &'o StructuredOptions,
    arrays: &[&[Value]],
) -> Option<&'o str> {
    options
        .identity_keys
        .iter()
        .map(String::as_str)
        .find(|key| {
            arrays.iter().all(|arr| {
                let mut seen = HashSet::with_capacity(arr.len());
                arr.iter()
                    .all(|v| identity(v, key).is_some_and(|id| seen.insert(id)))
            })
        })
}

/// Dense ids of values by content, shared across the given slices.
pub(crate) fn value_ids(slices: &[&[Value]]) -> Vec<Vec<u32>> {
    let mut map: HashMap<String, u32> = HashMap::new();
    slices
        .iter()
        .map(|s| {
            s.iter()
                .map(|v| {
                    let n = map.len() as u32;
                    *map.entry(crate::value::canonical(v)).or_insert(n)
                })
                .collect()
        })
        .collect()
}

struct Walker<'o> {
    options: &'o StructuredOptions,
    out: Vec<Change>,
}

impl Walker<'_> {
    fn push(
        &mut self,
        kind: ChangeKind,
        path: &[Segment],
        pointer: String,
        old: Option<&Value>,
        new: Option<&Value>,
    ) {
        self.out.push(Change {
            kind,
            path: path.to_vec(),
            pointer,
            from: None,
            old: old.cloned(),
            new: new.cloned(),
        });
    }

    fn walk(&mut self, a: &Value, b: &Value, path: &mut Vec<Segment>, ptr: &str) {
        if a == b {
            return;
        }
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                for (k, v) in x {
                    if !y.contains_key(k) {
                        path.push(Segment::Key(k.clone()));
                        let p = format!("{ptr}/{}", escape(k));
                        self.push(ChangeKind::Removed, path, p, Some(v), None);
                        path.pop();
                    }
                }
                for (k, v) in y {
                    path.push(Segment::Key(k.clone()));
                    let p = format!("{ptr}/{}", escape(k));
                    match x.get(k) {
                        Some(old) => self.walk(old, v, path, &p),
                        None => self.push(ChangeKind::Added, path, p, None, Some(v)),
                    }
                    path.pop();
                }
            }
            (Value::Array(x), Value::Array(y)) => match identity_key(self.options, &[x, y]) {
                Some(key) => self.by_identity(x, y, key, path, ptr),
                None => self.by_position(x, y, path, ptr),
            },
            _ => self.push(
                ChangeKind::Modified,
                path,
                ptr.to_string(),
                Some(a),
                Some(b),
            ),
        }
    }

    fn by_position(&mut self, x: &[Value], y: &[Value], path: &mut Vec<Segment>, ptr: &str) {
        let ids = value_ids(&[x, y]);
        let edits = diff_ids(&ids[0], &ids[1], Algorithm::Histogram);
        let mut idx = 0usize; // position in the array being patched
        let mut ai = 0usize;
        for e in edits {
            idx += e.old.start - ai;
            let paired = e.old.len().min(e.new.len());
            for k in 0..paired {
                path.push(Segment::Index(idx + k));
                self.walk(
                    &x[e.old.start + k],
                    &y[e.new.start + k],
                    path,
                    &format!("{ptr}/{}", idx + k),
                );
                path.pop();
            }
            for k in paired..e.old.len() {
                path.push(Segment::Index(e.old.start + k));
                let p = format!("{ptr}/{}", idx + paired);
                self.push(
                    ChangeKind::Removed,
                    path,
                    p,
                    Some(&x[e.old.start + k]),
                    None,
                );
                path.pop();
            }
            for k in paired..e.new.len() {
                path.push(Segment::Index(idx + k));
                let p = format!("{ptr}/{}", idx + k);
                self.push(ChangeKind::Added, path, p, None, Some(&y[e.new.start + k]));
                path.pop();
            }
            idx += e.new.len();
            ai = e.old.end;
        }
    }

    fn by_identity(
        &mut self,
        x: &[Value],
        y: &[Value],
        key: &str,
        path: &mut Vec<Segment>,
        ptr: &str,
    ) {
        let ids_x: Vec<String> = x.iter().filter_map(|v| identity(v, key)).collect();
        let ids_y: Vec<String> = y.iter().filter_map(|v| identity(v, key)).collect();
        let in_y: HashSet<&str> = ids_y.iter().map(String::as_str).collect();
        let by_id: HashMap<&str, &Value> = ids_x.iter().map(String::as_str).zip(x).collect();
        let seg = |id: &str| Segment::Id {
            key: key.to_string(),
            value: id.to_string(),
        };
        let mut working: Vec<&str> = ids_x.iter().map(String::as_str).collect();
        for i in (0..x.len()).rev() {
            if !in_y.contains(ids_x[i].as_str()) {
                path.push(seg(&ids_x[i]));
                self.push(
                    ChangeKind::Removed,
                    path,
                    format!("{ptr}/{i}"),
                    Some(&x[i]),
                    None,
                );
                path.pop();
                working.remove(i);
            }
        }
        for (j, id) in ids_y.iter().enumerate() {
            path.push(seg(id));
            let p = format!("{ptr}/{j}");
            if let Some(off) = working[j..].iter().position(|w| w == id) {
                if off > 0 {
                    let w = working.remove(j + off);
                    working.insert(j, w);
                    self.out.push(Change {
                        kind: ChangeKind::Moved,
                        path: path.clone(),
                        pointer: p.clone(),
                        from: Some(format!("{ptr}/{}", j + off)),
                        old: None,
                        new: None,
                    });
                }
                if let Some(old) = by_id.get(id.as_str()) {
                    self.walk(old, &y[j], path, &p);
                }
            } else {
                working.insert(j, id);
                self.push(ChangeKind::Added, path, p, None, Some(&y[j]));
            }
            path.pop();
        }
    }
}
