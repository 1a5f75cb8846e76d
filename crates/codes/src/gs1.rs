//! GS1 Application Identifier (AI) element strings: GS1-128, GS1 DataMatrix,
//! GS1 QR, the bracketed human-readable form, and GS1 Digital Link URLs.
//!
//! ```
//! use blocksmith_codes::gs1;
//! // As a scanner returns GS1-128: symbology identifier, FNC1 as GS (0x1D).
//! let m = gs1::parse("]C10109506000134352172012251012AB\u{1d}21SN-7").unwrap();
//! assert_eq!(m.get("17"), Some("201225"));
//! assert_eq!(m.get("21"), Some("SN-7"));
//! assert_eq!(m.to_bracketed(), "(01)09506000134352(17)201225(10)12AB(21)SN-7");
//! let dl = gs1::parse_digital_link("https://id.example.com/01/09506000134352/10/12AB?17=201225").unwrap();
//! assert_eq!(dl.get("10"), Some("12AB"));
//! ```

use crate::error::Gs1Error;
use crate::{Error, Result, gtin};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The group separator standing for FNC1 inside decoded data.
pub const GS: char = '\u{1d}';

/// How an AI's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Digits only.
    Numeric,
    /// GS1 character set 82.
    Alnum,
}

/// One entry of the AI table. `ai` may end in `n`: any digit (a decimal
/// point position, as in `310n` net weight).
#[derive(Debug, Clone, Copy)]
struct Spec {
    ai: &'static str,
    min: usize,
    max: usize,
    kind: Kind,
    check: bool,
    date: bool,
    title: &'static str,
}

const fn n(ai: &'static str, min: usize, max: usize, title: &'static str) -> Spec {
    Spec {
        ai,
        min,
        max,
        kind: Kind::Numeric,
        check: false,
        date: false,
        title,
    }
}
const fn x(ai: &'static str, max: usize, title: &'static str) -> Spec {
    Spec {
        ai,
        min: 1,
        max,
        kind: Kind::Alnum,
        check: false,
        date: false,
        title,
    }
}
const fn chk(ai: &'static str, len: usize, title: &'static str) -> Spec {
    Spec {
        ai,
        min: len,
        max: len,
        kind: Kind::Numeric,
        check: true,
        date: false,
        title,
    }
}
const fn date(ai: &'static str, title: &'static str) -> Spec {
    Spec {
        ai,
        min: 6,
        max: 6,
        kind: Kind::Numeric,
        check: false,
        date: true,
        title,
    }
}

/// The Application Identifiers this parser knows (the ones seen on trade
/// items, logistic units and in Digital Link URLs).
const TABLE: &[Spec] = &[
    chk("00", 18, "SSCC"),
    chk("01", 14, "GTIN"),
    chk("02", 14, "CONTENT"),
    x("10", 20, "BATCH/LOT"),
    date("11", "PROD DATE"),
    date("12", "DUE DATE"),
    date("13", "PACK DATE"),
    date("15", "BEST BEFORE"),
    date("16", "SELL BY"),
    date("17", "USE BY"),
    n("20", 2, 2, "VARIANT"),
    x("21", 20, "SERIAL"),
    x("22", 20, "CPV"),
    x("240", 30, "ADDITIONAL ID"),
    x("241", 30, "CUST. PART No."),
    n("242", 1, 6, "MTO VARIANT"),
    x("243", 20, "PCN"),
    x("250", 30, "SECONDARY SERIAL"),
    x("251", 30, "REF. TO SOURCE"),
    x("253", 30, "GDTI"),
    x("254", 20, "GLN EXTENSION"),
    n("255", 13, 25, "GCN"),
    n("30", 1, 8, "VAR. COUNT"),
    n("310n", 6, 6, "NET WEIGHT (kg)"),
    n("311n", 6, 6, "LENGTH (m)"),
    n("312n", 6, 6, "WIDTH (m)"),
    n("313n", 6, 6, "HEIGHT (m)"),
    n("314n", 6, 6, "AREA (m2)"),
    n("315n", 6, 6, "NET VOLUME (l)"),
    n("316n", 6, 6, "NET VOLUME (m3)"),
    n("320n", 6, 6, "NET WEIGHT (lb)"),
    n("330n", 6, 6, "GROSS WEIGHT (kg)"),
    n("37", 1, 8, "COUNT"),
    n("390n", 1, 15, "AMOUNT"),
    n("391n", 4, 18, "AMOUNT (ISO)"),
    n("392n", 1, 15, "PRICE"),
    n("393n", 4, 18, "PRICE (ISO)"),
    x("400", 30, "ORDER NUMBER"),
    x("401", 30, "GINC"),
    chk("402", 17, "GSIN"),
    x("403", 30, "ROUTE"),
    chk("410", 13, "SHIP TO LOC"),
    chk("411", 13, "BILL TO"),
    chk("412", 13, "PURCHASE FROM"),
    chk("413", 13, "SHIP FOR LOC"),
    chk("414", 13, "LOC No."),
    chk("415", 13, "PAY TO"),
    chk("416", 13, "PROD/SERV LOC"),
    chk("417", 13, "PARTY"),
    x("420", 20, "SHIP TO POST"),
    x("421", 12, "SHIP TO POST (ISO)"),
    n("422", 3, 3, "ORIGIN"),
    n("423", 3, 15, "COUNTRY - INITIAL PROCESS"),
    n("424", 3, 3, "COUNTRY - PROCESS"),
    n("425", 3, 15, "COUNTRY - DISASSEMBLY"),
    n("426", 3, 3, "COUNTRY - FULL PROCESS"),
    n("7003", 10, 10, "EXPIRY TIME"),
    date("7006", "FIRST FREEZE DATE"),
    x("8003", 30, "GRAI"),
    x("8004", 30, "GIAI"),
    n("8005", 6, 6, "PRICE PER UNIT"),
    n("8006", 18, 18, "ITIP"),
    x("8007", 34, "IBAN"),
    n("8008", 8, 12, "PROD TIME"),
    chk("8017", 18, "GSRN - PROVIDER"),
    chk("8018", 18, "GSRN - RECIPIENT"),
    x("8020", 25, "REF No."),
    x("8200", 70, "PRODUCT URL"),
    x("90", 30, "INTERNAL"),
    x("91", 90, "INTERNAL"),
    x("92", 90, "INTERNAL"),
    x("93", 90, "INTERNAL"),
    x("94", 90, "INTERNAL"),
    x("95", 90, "INTERNAL"),
    x("96", 90, "INTERNAL"),
    x("97", 90, "INTERNAL"),
    x("98", 90, "INTERNAL"),
    x("99", 90, "INTERNAL"),
];

/// AIs whose first two digits imply a predefined length: no FNC1 follows them.
fn predefined_length(ai: &str) -> bool {
    matches!(
        &ai[..2],
        "00" | "01"
            | "02"
            | "03"
            | "04"
            | "11"
            | "12"
            | "13"
            | "14"
            | "15"
            | "16"
            | "17"
            | "18"
            | "19"
            | "20"
            | "31"
            | "32"
            | "33"
            | "34"
            | "35"
            | "36"
            | "41"
    )
}

fn spec_for(ai: &str) -> Option<&'static Spec> {
    TABLE.iter().find(|s| {
        s.ai.len() == ai.len()
            && s.ai
                .bytes()
                .zip(ai.bytes())
                .all(|(p, c)| p == c || (p == b'n' && c.is_ascii_digit()))
    })
}

/// The AI at the start of `data`, if any (AIs are prefix-free).
fn ai_at(data: &str) -> Option<(&str, &'static Spec)> {
    (2..=4)
        .filter(|&l| data.len() >= l && data.is_char_boundary(l))
        .find_map(|l| spec_for(&data[..l]).map(|s| (&data[..l], s)))
}

/// The human-readable title of an AI (`"GTIN"`, `"BATCH/LOT"`), if known.
pub fn ai_title(ai: &str) -> Option<&'static str> {
    spec_for(ai).map(|s| s.title)
}

fn is_cset82(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!\"%&'()*+,-./:;<=>?_".contains(c)
}

/// One AI and its value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Element {
    /// The Application Identifier, e.g. `"01"`.
    pub ai: String,
    /// Its value.
    pub value: String,
}

/// A parsed, validated GS1 message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Message {
    /// The elements in their order of appearance.
    pub elements: Vec<Element>,
}

impl Message {
    /// The value of `ai`, if present.
    pub fn get(&self, ai: &str) -> Option<&str> {
        self.elements
            .iter()
            .find(|e| e.ai == ai)
            .map(|e| e.value.as_str())
    }

    /// The GTIN (AI 01 or 02), validated.
    pub fn gtin(&self) -> Option<gtin::Gtin> {
        self.get("01")
            .or_else(|| self.get("02"))
            .and_then(|g| gtin::Gtin::parse(g).ok())
    }

    /// The bracketed human-readable form, `(01)...(10)...`; a `(` inside a
    /// value is written `\(` (the GS1 syntax engine's escape).
    pub fn to_bracketed(&self) -> String {
        let mut s = String::new();
        for e in &self.elements {
            s.push('(');
            s.push_str(&e.ai);
            s.push(')');
            s.push_str(&e.value.replace('(', "\\("));
        }
        s
    }

    /// The element string a GS1-128/DataMatrix/QR carries after the leading
    /// FNC1: values of variable length are ended by [`GS`] unless last.
    pub fn to_element_string(&self) -> String {
        let mut s = String::new();
        for (i, e) in self.elements.iter().enumerate() {
            s.push_str(&e.ai);
            s.push_str(&e.value);
            if i + 1 < self.elements.len() && !predefined_length(&e.ai) {
                s.push(GS);
            }
        }
        s
    }

    /// A GS1 Digital Link URI on `base` (e.g. `https://id.gs1.org`): the
    /// primary key and its qualifiers in the path, the rest as query parameters.
    ///
    /// # Errors
    /// [`Error::Gs1`] with [`Gs1Error::DigitalLink`] if the message has no AI that
    /// can be a Digital Link primary key (01, 00, 414, 8006, ...).
    pub fn to_digital_link(&self, base: &str) -> Result<String> {
        let primary = self
            .elements
            .iter()
            .find(|e| PRIMARY.contains(&e.ai.as_str()))
            .ok_or(Error::Gs1 {
                offset: 0,
                reason: Gs1Error::DigitalLink("no primary key AI".into()),
            })?;
        let mut url = base.trim_end_matches('/').to_string();
        let mut used = vec![primary.ai.as_str()];
        url.push('/');
        url.push_str(&primary.ai);
        url.push('/');
        url.push_str(&pct_encode(&primary.value));
        for q in qualifiers(&primary.ai) {
            if let Some(v) = self.get(q) {
                url.push('/');
                url.push_str(q);
                url.push('/');
                url.push_str(&pct_encode(v));
                used.push(q);
            }
        }
        let mut sep = '?';
        for e in &self.elements {
            if !used.contains(&e.ai.as_str()) {
                url.push(sep);
                sep = '&';
                url.push_str(&e.ai);
                url.push('=');
                url.push_str(&pct_encode(&e.value));
            }
        }
        Ok(url)
    }
}

fn err(offset: usize, reason: Gs1Error) -> Error {
    Error::Gs1 { offset, reason }
}

fn valid_date(v: &str) -> bool {
    let b = v.as_bytes();
    let num = |i: usize| u32::from(b[i] - b'0') * 10 + u32::from(b[i + 1] - b'0');
    b.len() == 6 && (1..=12).contains(&num(2)) && num(4) <= 31
}

/// Checks one value against its AI's rules.
fn check_value(ai: &str, spec: &Spec, value: &str, offset: usize) -> Result<()> {
    let len = value.chars().count();
    if len > spec.max {
        return Err(err(
            offset,
            Gs1Error::TooLong {
                ai: ai.into(),
                len,
                max: spec.max,
            },
        ));
    }
    if len < spec.min {
        return Err(err(
            offset,
            Gs1Error::TooShort {
                ai: ai.into(),
                len,
                min: spec.min,
            },
        ));
    }
    let ok = |c: char| match spec.kind {
        Kind::Numeric => c.is_ascii_digit(),
        Kind::Alnum => is_cset82(c),
    };
    if let Some(ch) = value.chars().find(|&c| !ok(c)) {
        return Err(err(offset, Gs1Error::BadChar { ai: ai.into(), ch }));
    }
    if spec.check {
        let (body, last) = value.split_at(value.len() - 1);
        if gtin::check_digit(body).ok() != Some(last.as_bytes()[0] - b'0') {
            return Err(err(offset, Gs1Error::CheckDigit { ai: ai.into() }));
        }
    }
    if spec.date && !valid_date(value) {
        return Err(err(
            offset,
            Gs1Error::BadDate {
                ai: ai.into(),
                value: value.into(),
            },
        ));
    }
    Ok(())
}

fn push(msg: &mut Message, ai: &str, value: &str, offset: usize) -> Result<()> {
    if msg.elements.iter().any(|e| e.ai == ai) {
        return Err(err(offset, Gs1Error::Duplicate(ai.into())));
    }
    msg.elements.push(Element {
        ai: ai.into(),
        value: value.into(),
    });
    Ok(())
}

/// Longest input the parsers accept (the largest GS1 symbols hold ~3 KB).
pub const MAX_INPUT: usize = 8192;

/// Parses an element string as a scanner returns it: an optional symbology
/// identifier (`]C1` GS1-128, `]d2` GS1 DataMatrix, `]Q3` GS1 QR, `]e0`
/// DataBar), an optional leading FNC1 as [`GS`], then AIs and values with
/// variable-length values ended by [`GS`]. Bracketed input `(01)...` is
/// accepted too.
///
/// # Errors
/// [`Error::Gs1`] with the byte offset of the problem and the reason:
/// - [`Gs1Error::TooLong`] if `input` is longer than [`MAX_INPUT`];
/// - [`Gs1Error::Empty`] if nothing follows the symbology identifier and FNC1;
/// - [`Gs1Error::UnknownAi`] if no known AI starts at a field;
/// - [`Gs1Error::Truncated`] if the input ends inside a fixed-length field;
/// - [`Gs1Error::TooLong`], [`Gs1Error::TooShort`], [`Gs1Error::BadChar`],
///   [`Gs1Error::CheckDigit`] or [`Gs1Error::BadDate`] if a value breaks its
///   AI's rules;
/// - [`Gs1Error::Duplicate`] if an AI appears twice.
///
/// Bracketed input fails as [`parse_bracketed`].
pub fn parse(input: &str) -> Result<Message> {
    if input.len() > MAX_INPUT {
        return Err(err(
            MAX_INPUT,
            Gs1Error::TooLong {
                ai: String::new(),
                len: input.len(),
                max: MAX_INPUT,
            },
        ));
    }
    if input.starts_with('(') {
        return parse_bracketed(input);
    }
    let mut pos = 0;
    for sid in ["]C1", "]d2", "]Q3", "]e0", "]J1"] {
        if input.starts_with(sid) {
            pos = sid.len();
            break;
        }
    }
    while input[pos..].starts_with(GS) {
        pos += GS.len_utf8();
    }
    if pos >= input.len() {
        return Err(err(pos, Gs1Error::Empty));
    }
    let mut msg = Message::default();
    while pos < input.len() {
        let rest = &input[pos..];
        let (ai, spec) = ai_at(rest)
            .ok_or_else(|| err(pos, Gs1Error::UnknownAi(rest.chars().take(4).collect())))?;
        let vstart = pos + ai.len();
        let value;
        if spec.min == spec.max && predefined_length(ai) {
            let end = vstart + spec.max;
            if end > input.len() || !input.is_char_boundary(end) {
                return Err(err(pos, Gs1Error::Truncated(ai.into())));
            }
            value = &input[vstart..end];
            pos = end;
            // A separator after a fixed-length field is redundant but common.
            if input[pos..].starts_with(GS) {
                pos += 1;
            }
        } else {
            let end = input[vstart..].find(GS).map_or(input.len(), |i| vstart + i);
            value = &input[vstart..end];
            pos = if end < input.len() { end + 1 } else { end };
        }
        check_value(ai, spec, value, vstart)?;
        push(&mut msg, ai, value, vstart)?;
    }
    Ok(msg)
}

/// Parses the bracketed human-readable form `(01)09506000134352(10)AB`.
///
/// # Errors
/// [`Error::Gs1`] with the byte offset of the problem and the reason:
/// - [`Gs1Error::Empty`] if `input` is empty;
/// - [`Gs1Error::Syntax`] if a field does not start with `(` or has no `)`;
/// - [`Gs1Error::UnknownAi`] if the AI in brackets is not known;
/// - [`Gs1Error::TooLong`], [`Gs1Error::TooShort`], [`Gs1Error::BadChar`],
///   [`Gs1Error::CheckDigit`] or [`Gs1Error::BadDate`] if a value breaks its
///   AI's rules;
/// - [`Gs1Error::Duplicate`] if an AI appears twice.
pub fn parse_bracketed(input: &str) -> Result<Message> {
    let mut msg = Message::default();
    let mut pos = 0;
    if input.is_empty() {
        return Err(err(0, Gs1Error::Empty));
    }
    while pos < input.len() {
        let rest = &input[pos..];
        if !rest.starts_with('(') {
            return Err(err(pos, Gs1Error::Syntax));
        }
        let close = rest.find(')').ok_or(err(pos, Gs1Error::Syntax))?;
        let ai = &rest[1..close];
        let spec = spec_for(ai)
            .ok_or_else(|| err(pos + 1, Gs1Error::UnknownAi(ai.chars().take(8).collect())))?;
        let vstart = pos + close + 1;
        // The value runs to the next unescaped '('.
        let bytes = input.as_bytes();
        let mut vend = vstart;
        while vend < bytes.len()
            && !(bytes[vend] == b'(' && (vend == vstart || bytes[vend - 1] != b'\\'))
        {
            vend += 1;
        }
        let value = input[vstart..vend].replace("\\(", "(");
        check_value(ai, spec, &value, vstart)?;
        push(&mut msg, ai, &value, vstart)?;
        pos = vend;
    }
    Ok(msg)
}

/// AIs that can be the primary key of a Digital Link.
const PRIMARY: &[&str] = &[
    "01", "00", "253", "255", "401", "402", "414", "417", "8003", "8004", "8006", "8017", "8018",
];

fn qualifiers(primary: &str) -> &'static [&'static str] {
    match primary {
        "01" | "8006" => &["22", "10", "21"],
        "414" => &["254"],
        _ => &[],
    }
}

fn pct_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn pct_decode(v: &str, offset: usize) -> Result<String> {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = v
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    err(
                        offset + i,
                        Gs1Error::DigitalLink("bad percent escape".into()),
                    )
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| err(offset, Gs1Error::DigitalLink("not UTF-8".into())))
}

/// Convenience names some Digital Link URLs use instead of numeric AIs.
fn alias(key: &str) -> &str {
    match key {
        "gtin" => "01",
        "cpv" => "22",
        "lot" => "10",
        "ser" => "21",
        "exp" => "17",
        "bbd" => "15",
        "sscc" => "00",
        "gln" => "414",
        other => other,
    }
}

/// Parses a GS1 Digital Link URI (`https://host/[prefix/]01/<gtin>[/22/..][/10/..][/21/..][?17=..&..]`).
/// Query parameters that are not AIs are ignored, as the standard says.
///
/// # Errors
/// [`Error::Gs1`] with the byte offset of the problem and the reason:
/// - [`Gs1Error::DigitalLink`] if `url` is longer than [`MAX_INPUT`], has no
///   `http` or `https` scheme, no primary key in its path, a path AI without a
///   value, a path qualifier its primary key does not allow or out of order, a
///   bad percent escape or a value that is not UTF-8;
/// - [`Gs1Error::UnknownAi`] if a path segment or a numeric query key is not a
///   known AI;
/// - [`Gs1Error::TooLong`], [`Gs1Error::TooShort`], [`Gs1Error::BadChar`],
///   [`Gs1Error::CheckDigit`] or [`Gs1Error::BadDate`] if a value breaks its
///   AI's rules;
/// - [`Gs1Error::Duplicate`] if an AI appears twice.
pub fn parse_digital_link(url: &str) -> Result<Message> {
    if url.len() > MAX_INPUT {
        return Err(err(MAX_INPUT, Gs1Error::DigitalLink("too long".into())));
    }
    let dl = |o: usize, m: &str| err(o, Gs1Error::DigitalLink(m.into()));
    let scheme_end = url.find("://").ok_or_else(|| dl(0, "no scheme"))?;
    let scheme = &url[..scheme_end];
    if !scheme.eq_ignore_ascii_case("https") && !scheme.eq_ignore_ascii_case("http") {
        return Err(dl(0, "scheme must be http or https"));
    }
    let after = scheme_end + 3;
    let path_start = url[after..].find('/').map_or(url.len(), |i| after + i);
    let frag = url.find('#').unwrap_or(url.len());
    let (path_end, query) = match url[..frag].find('?') {
        Some(q) if q >= path_start => (q, Some(q + 1)),
        _ => (frag, None),
    };
    let path = &url[path_start.min(path_end)..path_end];
    let segs: Vec<(usize, &str)> = {
        let mut v = Vec::new();
        let mut off = path_start;
        for s in path.split('/') {
            if !s.is_empty() {
                v.push((off, s));
            }
            off += s.len() + 1;
        }
        v
    };
    // The primary key is the first segment naming a primary AI followed by a value;
    // anything before it is a path prefix of the resolver.
    let start = segs
        .iter()
        .position(|(_, s)| PRIMARY.contains(&alias(s)))
        .ok_or_else(|| dl(path_start, "no primary key in the path"))?;
    let mut msg = Message::default();
    let pairs = &segs[start..];
    if !pairs.len().is_multiple_of(2) {
        return Err(dl(pairs[pairs.len() - 1].0, "AI without a value"));
    }
    let primary = alias(pairs[0].1).to_string();
    let allowed = qualifiers(&primary);
    let mut last_q: Option<usize> = None;
    for (i, pair) in pairs.chunks(2).enumerate() {
        let (off, key) = pair[0];
        let ai = alias(key);
        let spec = spec_for(ai)
            .ok_or_else(|| err(off, Gs1Error::UnknownAi(key.chars().take(8).collect())))?;
        if i > 0 {
            // Qualifiers must be allowed for this primary key, in order.
            let idx = allowed
                .iter()
                .position(|q| *q == ai)
                .ok_or_else(|| dl(off, "AI is not a path qualifier of this primary key"))?;
            if last_q.is_some_and(|l| idx <= l) {
                return Err(dl(off, "path qualifiers out of order"));
            }
            last_q = Some(idx);
        }
        let value = pct_decode(pair[1].1, pair[1].0)?;
        // GTINs in Digital Links may be 8, 12 or 13 digits: normalise to 14.
        let value = if ai == "01" && matches!(value.len(), 8 | 12 | 13) {
            format!("{value:0>14}")
        } else {
            value
        };
        check_value(ai, spec, &value, pair[1].0)?;
        push(&mut msg, ai, &value, off)?;
    }
    if let Some(q) = query {
        let mut off = q;
        for kv in url[q..frag].split('&') {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let ai = alias(k);
            if !ai.is_empty() && ai.bytes().all(|b| b.is_ascii_digit()) {
                let spec = spec_for(ai)
                    .ok_or_else(|| err(off, Gs1Error::UnknownAi(k.chars().take(8).collect())))?;
                let value = pct_decode(v, off + k.len() + 1)?;
                check_value(ai, spec, &value, off)?;
                push(&mut msg, ai, &value, off)?;
            }
            off += kv.len() + 1;
        }
    }
    Ok(msg)
}

/// Builds a message from `(ai, value)` pairs, validating each.
///
/// # Errors
/// [`Error::Gs1`] with [`Gs1Error::UnknownAi`] for an AI not in the table,
/// [`Gs1Error::Empty`] if `pairs` is empty, and as [`parse`] for a value that
/// breaks its AI's rules or an AI given twice.
pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Message> {
    let mut msg = Message::default();
    for (ai, value) in pairs {
        let spec = spec_for(ai)
            .ok_or_else(|| err(0, Gs1Error::UnknownAi(ai.chars().take(8).collect())))?;
        check_value(ai, spec, value, 0)?;
        push(&mut msg, ai, value, 0)?;
    }
    if msg.elements.is_empty() {
        return Err(err(0, Gs1Error::Empty));
    }
    Ok(msg)
}
