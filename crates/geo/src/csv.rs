//! Loading position reports from CSV.
//!
//! The header names the columns, in any order: `id`, `kind`, `lat`, `lon`,
//! `ts` (milliseconds) are required; `accuracy`, `speed`, `heading` are
//! optional (an empty cell is "unknown"). Fields may be double-quoted with
//! `""` for a quote inside; a record is one line (`\n` or `\r\n`). Blank
//! lines are skipped. Any other deviation is an [`Error::Csv`] naming the
//! line: nothing is skipped silently.
//!
//! ```
//! use blocksmith_geo::csv;
//! let text = "id,kind,lat,lon,ts\ncar-1,driver,52.52,13.405,1700000000000\n\"bike, 2\",courier,52.5,13.4,1700000000500\n";
//! let updates = csv::parse(text.as_bytes())?;
//! assert_eq!(updates.len(), 2);
//! assert_eq!(&*updates[1].id, "bike, 2");
//! assert_eq!(updates[1].kind.as_str(), "courier");
//! assert!(csv::parse(b"id,kind,lat,lon,ts\ncar-1,driver,95,0,1\n").is_err());
//! # Ok::<(), blocksmith_geo::Error>(())
//! ```

use crate::fence::check_id;
use crate::index::{Fix, Update};
use crate::kind::MAX_KIND_LEN;
use crate::{Error, Kind, Result};

const REQUIRED: [&str; 5] = ["id", "kind", "lat", "lon", "ts"];
const OPTIONAL: [&str; 3] = ["accuracy", "speed", "heading"];

fn split(line: &str, lineno: usize) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => {
                        return Err(Error::Csv {
                            line: lineno,
                            reason: "unterminated quoted field".into(),
                        });
                    }
                }
            }
            match chars.next() {
                None => {
                    out.push(field);
                    return Ok(out);
                }
                Some(',') => out.push(field),
                Some(c) => {
                    return Err(Error::Csv {
                        line: lineno,
                        reason: format!("{c:?} after a closing quote"),
                    });
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        out.push(field);
                        return Ok(out);
                    }
                    Some(',') => break,
                    Some('"') => {
                        return Err(Error::Csv {
                            line: lineno,
                            reason: "quote inside an unquoted field".into(),
                        });
                    }
                    Some(c) => field.push(c),
                }
            }
            out.push(field);
        }
    }
}

fn bytecount(b: &[u8]) -> usize {
    b.split(|&c| c == b'\n').count() - 1
}

/// Parses CSV text into updates (see the module documentation).
///
/// # Errors
/// [`Error::Csv`] (with the 1-based line) if `input` is not UTF-8, has no
/// header, names an unknown column or one twice, lacks a required column, or
/// a row has the wrong number of fields, a field that does not parse, or a
/// position, fix field, id or kind out of range.
pub fn parse(input: &[u8]) -> Result<Vec<Update>> {
    let text = std::str::from_utf8(input).map_err(|e| Error::Csv {
        line: 1 + bytecount(&input[..e.valid_up_to()]),
        reason: "not UTF-8".into(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((hline, header)) = lines.next() else {
        return Err(Error::Csv {
            line: 1,
            reason: "empty input: expected a header id,kind,lat,lon,ts".into(),
        });
    };
    let names: Vec<String> = split(header, hline)?
        .into_iter()
        .map(|s| s.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| names.iter().position(|n| n == name);
    for (i, n) in names.iter().enumerate() {
        if !REQUIRED.contains(&n.as_str()) && !OPTIONAL.contains(&n.as_str()) {
            return Err(Error::Csv {
                line: hline,
                reason: format!("unknown column {n:?}"),
            });
        }
        if names[..i].contains(n) {
            return Err(Error::Csv {
                line: hline,
                reason: format!("column {n:?} appears twice"),
            });
        }
    }
    let mut req = [0usize; 5];
    for (slot, name) in req.iter_mut().zip(REQUIRED) {
        *slot = col(name).ok_or_else(|| Error::Csv {
            line: hline,
            reason: format!("missing column {name:?} (header must have id,kind,lat,lon,ts)"),
        })?;
    }
    let [c_id, c_kind, c_lat, c_lon, c_ts] = req;
    let opt = OPTIONAL.map(col);
    let mut out = Vec::new();
    for (lineno, line) in lines {
        let f = split(line, lineno)?;
        let bad = |reason: String| Error::Csv {
            line: lineno,
            reason,
        };
        if f.len() != names.len() {
            return Err(bad(format!(
                "{} fields, the header has {}",
                f.len(),
                names.len()
            )));
        }
        let num = |i: usize, what: &str| -> Result<f64> {
            f[i].trim()
                .parse::<f64>()
                .map_err(|_| bad(format!("{what} {:?} is not a number", f[i])))
        };
        let optf = |c: Option<usize>, what: &str| -> Result<Option<f32>> {
            match c {
                Some(i) if !f[i].trim().is_empty() => f[i]
                    .trim()
                    .parse::<f32>()
                    .map(Some)
                    .map_err(|_| bad(format!("{what} {:?} is not a number", f[i]))),
                _ => Ok(None),
            }
        };
        let id = f[c_id].trim();
        check_id(id).map_err(|e| bad(e.to_string()))?;
        let kind = f[c_kind].trim();
        if kind.is_empty() || kind.len() > MAX_KIND_LEN {
            return Err(bad(format!("kind {kind:?} must be 1 to 64 bytes")));
        }
        let ts = f[c_ts]
            .trim()
            .parse::<i64>()
            .map_err(|_| bad(format!("ts {:?} is not an integer (milliseconds)", f[c_ts])))?;
        let mut fix = Fix::new(num(c_lat, "lat")?, num(c_lon, "lon")?, ts);
        fix.accuracy_m = optf(opt[0], "accuracy")?;
        fix.speed_mps = optf(opt[1], "speed")?;
        fix.heading_deg = optf(opt[2], "heading")?;
        fix.validate().map_err(|e| bad(e.to_string()))?;
        out.push(Update::new(id, Kind::parse(kind), fix));
    }
    Ok(out)
}
