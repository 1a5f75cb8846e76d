//! One value model for JSON, YAML and TOML documents.
//!
//! Every format parses into a [`Value`] (a `serde_json::Value`): objects
//! compare with key order ignored, numbers keep integer/float distinction.
//! Parsing is strict where the formats' own parsers are lenient: a duplicate
//! key is an error (JSON parsers usually keep the last one silently), as are
//! non-finite floats and YAML tags; YAML keys that are numbers or booleans
//! become strings. TOML datetimes become strings in RFC 3339 form.
//!
//! ```
//! use blocksmith_diff::value::{parse, Format};
//! let a = parse("{\"port\": 80, \"host\": \"a\"}", Format::Json)?;
//! let b = parse("host: a\nport: 80\n", Format::Yaml)?;
//! let c = parse("port = 80\nhost = \"a\"\n", Format::Toml)?;
//! assert!(a == b && b == c);
//! let err = parse("{\"a\": 1, \"a\": 2}", Format::Json).unwrap_err();
//! assert!(err.to_string().contains("line 1"));
//! # Ok::<(), blocksmith_diff::Error>(())
//! ```

use crate::{Error, Result};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The value model: a JSON value (objects are key-sorted maps).
pub use serde_json::Value;

/// A document format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Format {
    /// JSON (RFC 8259).
    Json,
    /// YAML 1.2 (one document).
    Yaml,
    /// TOML 1.0.
    Toml,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Json => "JSON",
            Format::Yaml => "YAML",
            Format::Toml => "TOML",
        })
    }
}

impl std::str::FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "yaml" | "yml" => Ok(Format::Yaml),
            "toml" => Ok(Format::Toml),
            _ => Err(Error::InvalidArgument(format!(
                "unknown format {s:?} (json, yaml, toml)"
            ))),
        }
    }
}

impl Format {
    /// The format a file name's extension names, if any.
    pub fn from_path(path: &str) -> Option<Format> {
        let ext = path.rsplit_once('.')?.1;
        ext.parse().ok()
    }
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// Parses a document of `format` into a [`Value`].
///
/// # Errors
/// [`Error::Parse`] (with line and column when the parser gives them) if
/// `text` is not a valid document of `format`, including duplicate keys and
/// (for JSON) numbers out of range.
pub fn parse(text: &str, format: Format) -> Result<Value> {
    match format {
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            let v = Strict
                .deserialize(&mut de)
                .and_then(|v| de.end().map(|()| v));
            v.map_err(|e| Error::Parse {
                format,
                line: e.line(),
                column: e.column(),
                message: strip_position(&e.to_string()),
            })
        }
        Format::Yaml => {
            check_yaml_nesting(text)?;
            let de = serde_norway::Deserializer::from_str(text);
            Strict.deserialize(de).map_err(|e| {
                let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
                Error::Parse {
                    format,
                    line,
                    column,
                    message: strip_position(&e.to_string()),
                }
            })
        }
        Format::Toml => {
            let de = toml::Deserializer::parse(text).map_err(|e| toml_error(text, &e))?;
            Strict.deserialize(de).map_err(|e| toml_error(text, &e))
        }
    }
}

/// Deepest nesting accepted in YAML (the same order as serde_json's 128).
pub const MAX_YAML_NESTING: usize = 128;

/// Rejects YAML nested deeper than [`MAX_YAML_NESTING`] before the parser
/// sees it: the YAML parser's time grows quadratically with nesting depth (a
/// 200 KB line of `[` took minutes), so hostile depth must stop here. Counts
/// flow collections (`[`, `{` outside quotes and comments) and compact block
/// sequences (`- - - x`) on one line.
fn check_yaml_nesting(text: &str) -> Result<()> {
    let too_deep = |line: usize, column: usize| Error::Parse {
        format: Format::Yaml,
        line,
        column,
        message: format!("nesting deeper than {MAX_YAML_NESTING} levels"),
    };
    let mut depth = 0usize;
    for (i, line) in text.lines().enumerate() {
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        // Compact block sequences at the start of the line: "- - - x".
        let mut compact = 0usize;
        let mut leading = true;
        for (col, c) in line.chars().enumerate() {
            match quote {
                Some('\'') if c == '\'' => quote = None,
                Some('"') if c == '"' && prev != '\\' => quote = None,
                Some(_) => {}
                None => match c {
                    '#' if prev.is_whitespace() || col == 0 => break,
                    '\'' | '"'
                        if prev.is_whitespace()
                            || matches!(prev, '[' | '{' | ',' | ':')
                            || col == 0 =>
                    {
                        quote = Some(c);
                    }
                    '[' | '{' => {
                        depth += 1;
                        if depth > MAX_YAML_NESTING {
                            return Err(too_deep(i + 1, col + 1));
                        }
                    }
                    ']' | '}' => depth = depth.saturating_sub(1),
                    '-' if leading => {
                        compact += 1;
                        if compact > MAX_YAML_NESTING {
                            return Err(too_deep(i + 1, col + 1));
                        }
                    }
                    c if c.is_whitespace() => {}
                    _ => leading = false,
                },
            }
            prev = if prev == '\\' && c == '\\' { ' ' } else { c };
        }
    }
    Ok(())
}

fn toml_error(text: &str, e: &toml::de::Error) -> Error {
    let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
    Error::Parse {
        format: Format::Toml,
        line,
        column,
        message: e.message().to_string(),
    }
}

/// Drops a parser's own " at line X column Y" suffix (the error carries them as fields).
fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Parses `text`, guessing the format: JSON if it parses as JSON, else TOML
/// if it parses as TOML, else YAML (which accepts most text). Use [`parse`]
/// when you know the format.
///
/// # Errors
/// [`Error::Parse`] (as YAML, the last format tried) if `text` parses as
/// none of JSON, TOML and YAML.
pub fn parse_any(text: &str) -> Result<(Value, Format)> {
    let trimmed = text.trim_start();
    if (trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(v) = parse(text, Format::Json)
    {
        return Ok((v, Format::Json));
    }
    if let Ok(v) = parse(text, Format::Toml) {
        return Ok((v, Format::Toml));
    }
    parse(text, Format::Yaml).map(|v| (v, Format::Yaml))
}

/// Writes a value as a document of `format` (pretty JSON with a final newline,
/// block YAML, TOML). TOML cannot hold `null` or a top level that is not a table.
///
/// # Errors
/// [`Error::Encode`] if `value` cannot be written as `format`: for TOML, a
/// `null` anywhere or a top level that is not a table.
pub fn to_string(value: &Value, format: Format) -> Result<String> {
    let enc = |message: String| Error::Encode { format, message };
    match format {
        Format::Json => serde_json::to_string_pretty(value)
            .map(|s| s + "\n")
            .map_err(|e| enc(e.to_string())),
        Format::Yaml => serde_norway::to_string(value).map_err(|e| enc(e.to_string())),
        Format::Toml => {
            if !value.is_object() {
                return Err(enc("the top level must be a table".into()));
            }
            if let Some(p) = find_null(value, String::new()) {
                return Err(enc(format!("null at {p} has no TOML form")));
            }
            toml::to_string(value).map_err(|e| enc(e.to_string()))
        }
    }
}

fn find_null(v: &Value, path: String) -> Option<String> {
    match v {
        Value::Null => Some(if path.is_empty() { "/".into() } else { path }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| find_null(x, format!("{path}/{i}"))),
        Value::Object(m) => m
            .iter()
            .find_map(|(k, x)| find_null(x, format!("{path}/{}", crate::json_patch::escape(k)))),
        _ => None,
    }
}

/// A visitor building a [`Value`] that refuses duplicate keys, non-finite
/// numbers and tagged values.
struct Strict;

const TOML_DATETIME: &str = "$__toml_private_datetime";

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON-compatible value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        i64::try_from(v)
            .map(Value::from)
            .or_else(|_| u64::try_from(v).map(Value::from))
            .map_err(|_| E::custom(format!("integer {v} out of range")))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        u64::try_from(v)
            .map(Value::from)
            .map_err(|_| E::custom(format!("integer {v} out of range")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("non-finite number {v} has no JSON form")))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Value, E> {
        Err(E::custom("binary values are not supported"))
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Value, A::Error> {
        Err(de::Error::custom(
            "tagged values (YAML `!tag`) are not supported",
        ))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element_seed(Strict)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(k) = map.next_key_seed(KeySeed)? {
            if k == TOML_DATETIME {
                let v: Value = map.next_value_seed(Strict)?;
                return Ok(v);
            }
            let v = map.next_value_seed(Strict)?;
            if out.contains_key(&k) {
                return Err(de::Error::custom(format!("duplicate key {k:?}")));
            }
            out.insert(k, v);
        }
        Ok(Value::Object(out))
    }
}

/// Map keys: strings, or scalars (YAML) turned into strings.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = String;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or boolean key")
    }
    fn visit_str<E>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_bool<E>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_unit<E>(self) -> Result<String, E> {
        Ok("null".into())
    }
    fn visit_none<E>(self) -> Result<String, E> {
        Ok("null".into())
    }
}

/// Canonical compact JSON of a value (keys sorted): the content that hashes
/// and equality of structured configs are based on.
pub fn canonical(value: &Value) -> String {
    value.to_string()
}
