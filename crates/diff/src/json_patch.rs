//! JSON Patch (RFC 6902) and JSON Pointer (RFC 6901).
//!
//! ```
//! use blocksmith_diff::json_patch::JsonPatch;
//! use serde_json::json;
//! let patch = JsonPatch::from_str(r#"[
//!   {"op": "replace", "path": "/port", "value": 8080},
//!   {"op": "add", "path": "/tags/-", "value": "edge"}
//! ]"#)?;
//! let doc = json!({"port": 80, "tags": ["web"]});
//! assert_eq!(patch.apply(&doc)?, json!({"port": 8080, "tags": ["web", "edge"]}));
//! # Ok::<(), blocksmith_diff::Error>(())
//! ```

use crate::value::{Format, Value};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Escapes a key for a JSON Pointer (`~` to `~0`, `/` to `~1`).
pub fn escape(key: &str) -> String {
    if key.contains(['~', '/']) {
        key.replace('~', "~0").replace('/', "~1")
    } else {
        key.to_string()
    }
}

/// Splits a JSON Pointer into its unescaped reference tokens.
///
/// # Errors
/// [`Error::InvalidPointer`] if `pointer` is not empty and does not start
/// with `/`, or holds a `~` not followed by `0` or `1`.
pub fn parse_pointer(pointer: &str) -> Result<Vec<String>> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let rest = pointer
        .strip_prefix('/')
        .ok_or_else(|| Error::InvalidPointer {
            pointer: pointer.to_string(),
            reason: "must be empty or start with '/'".into(),
        })?;
    rest.split('/')
        .map(|t| {
            let mut out = String::with_capacity(t.len());
            let mut chars = t.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => out.push('~'),
                        Some('1') => out.push('/'),
                        _ => {
                            return Err(Error::InvalidPointer {
                                pointer: pointer.to_string(),
                                reason: "'~' must be followed by '0' or '1'".into(),
                            });
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            Ok(out)
        })
        .collect()
}

/// Joins reference tokens into a JSON Pointer.
pub fn to_pointer<S: AsRef<str>>(tokens: &[S]) -> String {
    tokens.iter().fold(String::new(), |mut s, t| {
        s.push('/');
        s.push_str(&escape(t.as_ref()));
        s
    })
}

/// One JSON Patch operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum PatchOp {
    /// Adds (or, in an object, replaces) a value; in an array, inserts.
    Add {
        /// Where.
        path: String,
        /// What.
        value: Value,
    },
    /// Removes the value at `path`.
    Remove {
        /// Where.
        path: String,
    },
    /// Replaces the existing value at `path`.
    Replace {
        /// Where.
        path: String,
        /// The new value.
        value: Value,
    },
    /// Removes the value at `from` and adds it at `path`.
    Move {
        /// Source.
        from: String,
        /// Destination.
        path: String,
    },
    /// Adds a copy of the value at `from` at `path`.
    Copy {
        /// Source.
        from: String,
        /// Destination.
        path: String,
    },
    /// Fails unless the value at `path` equals `value`.
    Test {
        /// Where.
        path: String,
        /// The expected value.
        value: Value,
    },
}

impl PatchOp {
    /// The operation's name.
    pub fn name(&self) -> &'static str {
        match self {
            PatchOp::Add { .. } => "add",
            PatchOp::Remove { .. } => "remove",
            PatchOp::Replace { .. } => "replace",
            PatchOp::Move { .. } => "move",
            PatchOp::Copy { .. } => "copy",
            PatchOp::Test { .. } => "test",
        }
    }
    /// The operation's `path`.
    pub fn path(&self) -> &str {
        match self {
            PatchOp::Add { path, .. }
            | PatchOp::Remove { path }
            | PatchOp::Replace { path, .. }
            | PatchOp::Move { path, .. }
            | PatchOp::Copy { path, .. }
            | PatchOp::Test { path, .. } => path,
        }
    }
}

/// A JSON Patch document: operations applied in order, all or nothing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JsonPatch(pub Vec<PatchOp>);

impl JsonPatch {
    /// Parses a JSON Patch document from JSON text (strict: duplicate members are errors).
    ///
    /// # Errors
    /// [`Error::Parse`] if `text` is not JSON (duplicate members included);
    /// otherwise as [`JsonPatch::from_value`].
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str) -> Result<JsonPatch> {
        Self::from_value(&crate::value::parse(text, Format::Json)?)
    }

    /// Reads a JSON Patch document from a parsed value, checking every
    /// operation's members and pointers. Unknown members are ignored (RFC 6902 §4).
    ///
    /// # Errors
    /// [`Error::InvalidJsonPatch`] (with the operation's index) if `doc` is not
    /// an array of objects, an operation is unknown or lacks a member it needs
    /// (`path`, `from`, `value`), a member has the wrong type, or a pointer is
    /// malformed.
    pub fn from_value(doc: &Value) -> Result<JsonPatch> {
        let ops = doc.as_array().ok_or(Error::InvalidJsonPatch {
            index: 0,
            reason: "a JSON Patch document is an array of operations".into(),
        })?;
        let mut out = Vec::with_capacity(ops.len());
        for (index, op) in ops.iter().enumerate() {
            let bad = |reason: String| Error::InvalidJsonPatch { index, reason };
            let obj = op
                .as_object()
                .ok_or_else(|| bad("an operation is an object".into()))?;
            let string = |name: &str| -> Result<String> {
                match obj.get(name) {
                    Some(Value::String(s)) => {
                        if name != "op" {
                            parse_pointer(s).map_err(|e| bad(e.to_string()))?;
                        }
                        Ok(s.clone())
                    }
                    Some(_) => Err(bad(format!("member {name:?} must be a string"))),
                    None => Err(bad(format!("member {name:?} is missing"))),
                }
            };
            let value = || {
                obj.get("value")
                    .cloned()
                    .ok_or_else(|| bad("member \"value\" is missing".into()))
            };
            let path = string("path")?;
            out.push(match string("op")?.as_str() {
                "add" => PatchOp::Add {
                    path,
                    value: value()?,
                },
                "remove" => PatchOp::Remove { path },
                "replace" => PatchOp::Replace {
                    path,
                    value: value()?,
                },
                "move" => PatchOp::Move {
                    from: string("from")?,
                    path,
                },
                "copy" => PatchOp::Copy {
                    from: string("from")?,
                    path,
                },
                "test" => PatchOp::Test {
                    path,
                    value: value()?,
                },
                other => return Err(bad(format!("unknown op {other:?}"))),
            });
        }
        Ok(JsonPatch(out))
    }

    /// The patch as a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The operations.
    pub fn ops(&self) -> &[PatchOp] {
        &self.0
    }

    /// `true` when there are no operations.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Applies the patch to a copy of `doc`. If any operation fails the error
    /// names it and nothing is changed.
    ///
    /// # Errors
    /// [`Error::JsonPatchFailed`] naming the first operation that fails: a
    /// `test` that does not match, a path or `from` that does not exist, an array
    /// index out of range or not a number, a move into its own child, a
    /// parent that is not a container, or removing the whole document.
    pub fn apply(&self, doc: &Value) -> Result<Value> {
        let mut out = doc.clone();
        for (index, op) in self.0.iter().enumerate() {
            apply_op(&mut out, op).map_err(|reason| Error::JsonPatchFailed {
                index,
                op: op.name(),
                path: op.path().to_string(),
                reason,
            })?;
        }
        Ok(out)
    }

    /// Applies the patch in place, all or nothing.
    ///
    /// # Errors
    /// As [`JsonPatch::apply`]; `doc` is unchanged then.
    pub fn apply_in_place(&self, doc: &mut Value) -> Result<()> {
        *doc = self.apply(doc)?;
        Ok(())
    }
}

fn tokens(p: &str) -> Result<Vec<String>, String> {
    parse_pointer(p).map_err(|e| e.to_string())
}

/// An array index token: `0` or digits without a leading zero.
fn index(token: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    if token == "-" && allow_end {
        return Ok(len);
    }
    let ok = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    let i: usize = if ok {
        token
            .parse()
            .map_err(|_| format!("array index {token:?} is too large"))?
    } else {
        return Err(format!("{token:?} is not an array index"));
    };
    let max = if allow_end {
        len
    } else {
        len.saturating_sub(1)
    };
    if i > max || (!allow_end && len == 0) {
        return Err(format!("array index {i} is out of bounds (length {len})"));
    }
    Ok(i)
}

fn get<'a>(doc: &'a Value, toks: &[String]) -> Result<&'a Value, String> {
    let mut cur = doc;
    for t in toks {
        cur = match cur {
            Value::Object(m) => m.get(t).ok_or_else(|| format!("no member {t:?}"))?,
            Value::Array(a) => &a[index(t, a.len(), false)?],
            _ => return Err(format!("cannot index a scalar with {t:?}")),
        };
    }
    Ok(cur)
}

fn get_mut<'a>(doc: &'a mut Value, toks: &[String]) -> Result<&'a mut Value, String> {
    let mut cur = doc;
    for t in toks {
        cur = match cur {
            Value::Object(m) => m.get_mut(t).ok_or_else(|| format!("no member {t:?}"))?,
            Value::Array(a) => {
                let i = index(t, a.len(), false)?;
                &mut a[i]
            }
            _ => return Err(format!("cannot index a scalar with {t:?}")),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, toks: &[String], value: Value) -> Result<(), String> {
    let Some((last, parent)) = toks.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_mut(doc, parent).map_err(|e| format!("parent does not exist: {e}"))? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) => {
            let i = index(last, a.len(), true)?;
            a.insert(i, value);
        }
        _ => return Err("parent is not an object or array".into()),
    }
    Ok(())
}

fn remove(doc: &mut Value, toks: &[String]) -> Result<Value, String> {
    let Some((last, parent)) = toks.split_last() else {
        return Err("cannot remove the whole document".into());
    };
    match get_mut(doc, parent)? {
        Value::Object(m) => m.remove(last).ok_or_else(|| format!("no member {last:?}")),
        Value::Array(a) => {
            let i = index(last, a.len(), false)?;
            Ok(a.remove(i))
        }
        _ => Err("parent is not an object or array".into()),
    }
}

/// Equality as RFC 6902 `test` defines it: numbers by numeric value.
pub fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(i), Some(j)) = (as_i128(x), as_i128(y)) {
                i == j
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

fn as_i128(n: &serde_json::Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
        .or_else(|| {
            let f = n.as_f64()?;
            (f.fract() == 0.0 && f.abs() < 9e15).then_some(f as i128)
        })
}

fn apply_op(doc: &mut Value, op: &PatchOp) -> Result<(), String> {
    match op {
        PatchOp::Add { path, value } => add(doc, &tokens(path)?, value.clone()),
        PatchOp::Remove { path } => remove(doc, &tokens(path)?).map(drop),
        PatchOp::Replace { path, value } => {
            *get_mut(doc, &tokens(path)?)? = value.clone();
            Ok(())
        }
        PatchOp::Move { from, path } => {
            let (f, t) = (tokens(from)?, tokens(path)?);
            if f == t {
                return get(doc, &f).map(drop);
            }
            if t.len() > f.len() && t[..f.len()] == f[..] {
                return Err("cannot move a value into one of its children".into());
            }
            let v = remove(doc, &f).map_err(|e| format!("from: {e}"))?;
            add(doc, &t, v)
        }
        PatchOp::Copy { from, path } => {
            let v = get(doc, &tokens(from)?)
                .map_err(|e| format!("from: {e}"))?
                .clone();
            add(doc, &tokens(path)?, v)
        }
        PatchOp::Test { path, value } => {
            let actual = get(doc, &tokens(path)?)?;
            if json_equal(actual, value) {
                Ok(())
            } else {
                Err(format!("value is {actual}, expected {value}"))
            }
        }
    }
}
