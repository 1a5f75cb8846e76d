//! JSON Merge Patch (RFC 7396).
//!
//! ```
//! use blocksmith_diff::merge_patch;
//! use serde_json::json;
//! let target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
//! let patch = json!({"a": "z", "c": {"f": null}});
//! assert_eq!(merge_patch::apply(&target, &patch), json!({"a": "z", "c": {"d": "e"}}));
//! let back = merge_patch::create(&target, &json!({"a": "z", "c": {"d": "e"}}))?;
//! assert_eq!(back, patch);
//! # Ok::<(), blocksmith_diff::Error>(())
//! ```

use crate::value::Value;
use crate::{Error, Result};

/// Applies a merge patch to a copy of `target` (RFC 7396 §2).
pub fn apply(target: &Value, patch: &Value) -> Value {
    let mut out = target.clone();
    apply_in_place(&mut out, patch);
    out
}

/// Applies a merge patch in place.
pub fn apply_in_place(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                apply_in_place(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// The merge patch that turns `from` into `to`. Fails when `to` holds a
/// `null` member, which a merge patch cannot express (it means "remove").
///
/// # Errors
/// [`Error::InvalidArgument`] if `to` holds a `null` the patch would have to
/// write (a new or changed member, or inside one): in a merge patch `null`
/// means "remove".
pub fn create(from: &Value, to: &Value) -> Result<Value> {
    create_at(from, to, "")
}

fn create_at(from: &Value, to: &Value, path: &str) -> Result<Value> {
    if let (Value::Object(f), Value::Object(t)) = (from, to) {
        let mut out = serde_json::Map::new();
        for k in f.keys() {
            if !t.contains_key(k) {
                out.insert(k.clone(), Value::Null);
            }
        }
        for (k, v) in t {
            let p = format!("{path}/{}", crate::json_patch::escape(k));
            match f.get(k) {
                Some(old) if old == v => {}
                Some(old) => {
                    out.insert(k.clone(), create_at(old, v, &p)?);
                }
                None => {
                    check_no_null(v, &p)?;
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        return Ok(Value::Object(out));
    }
    // A null patch at the top level is fine: it makes the document null.
    if !(path.is_empty() && to.is_null()) {
        check_no_null(to, path)?;
    }
    Ok(to.clone())
}

fn check_no_null(v: &Value, path: &str) -> Result<()> {
    match v {
        Value::Null => Err(Error::InvalidArgument(format!(
            "a merge patch cannot set {} to null",
            if path.is_empty() { "/" } else { path }
        ))),
        Value::Object(m) => m.iter().try_for_each(|(k, x)| {
            check_no_null(x, &format!("{path}/{}", crate::json_patch::escape(k)))
        }),
        _ => Ok(()),
    }
}
