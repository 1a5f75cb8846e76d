//! GTIN-8/12/13/14 check digits, validation and normalisation.

use crate::error::GtinError;
use crate::{Error, Result};

/// The GS1 mod-10 check digit of `body` (the digits without the check digit).
///
/// ```
/// assert_eq!(blocksmith_codes::gtin::check_digit("400638133393").unwrap(), 1);
/// ```
///
/// # Errors
/// [`GtinError::NonDigit`] with the position (from the left) of the rightmost
/// character that is not an ASCII digit.
pub fn check_digit(body: &str) -> Result<u8, GtinError> {
    let mut sum = 0u32;
    for (i, b) in body.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return Err(GtinError::NonDigit(body.len() - 1 - i));
        }
        let d = u32::from(b - b'0');
        sum += if i % 2 == 0 { 3 * d } else { d };
    }
    Ok(((10 - sum % 10) % 10) as u8)
}

/// Validates a GTIN-8, -12, -13 or -14 (length, digits, check digit).
///
/// # Errors
/// [`GtinError::Length`] if `gtin` is not 8, 12, 13 or 14 bytes long;
/// [`GtinError::NonDigit`] at the first character that is not an ASCII digit;
/// [`GtinError::CheckDigit`] if the last digit is not the check digit.
pub fn validate(gtin: &str) -> Result<(), GtinError> {
    if !matches!(gtin.len(), 8 | 12 | 13 | 14) {
        return Err(GtinError::Length(gtin.chars().count()));
    }
    let bytes = gtin.as_bytes();
    if let Some(i) = bytes.iter().position(|b| !b.is_ascii_digit()) {
        return Err(GtinError::NonDigit(i));
    }
    let expected = check_digit(&gtin[..gtin.len() - 1])?;
    let found = bytes[gtin.len() - 1] - b'0';
    if found != expected {
        return Err(GtinError::CheckDigit { found, expected });
    }
    Ok(())
}

/// A validated GTIN, stored as its 14-digit form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gtin([u8; 14]);

impl Gtin {
    /// Parses and validates a GTIN of 8, 12, 13 or 14 digits.
    ///
    /// # Errors
    /// [`Error::Gtin`] with the reason [`validate`] gives.
    pub fn parse(s: &str) -> Result<Self> {
        validate(s).map_err(|reason| Error::Gtin {
            gtin: s.chars().take(32).collect(),
            reason,
        })?;
        let mut out = [b'0'; 14];
        out[14 - s.len()..].copy_from_slice(s.as_bytes());
        Ok(Gtin(out))
    }

    /// The 14-digit form (GTIN-14, zero padded), the key a catalog uses.
    pub fn as_gtin14(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// The shortest standard form: GTIN-8, -12, -13 or -14, by leading zeros.
    pub fn shortest(&self) -> &str {
        let s = self.as_gtin14();
        s.strip_prefix("000000")
            .or_else(|| s.strip_prefix("00"))
            .or_else(|| s.strip_prefix('0'))
            .unwrap_or(s)
    }
}

impl std::fmt::Display for Gtin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_gtin14())
    }
}

/// Expands a UPC-E (7 digits: number system + 6, or 8 with its check digit)
/// to the 12-digit UPC-A it stands for.
///
/// # Errors
/// [`GtinError::Length`] if `upce` is not 7 or 8 digits long;
/// [`GtinError::NonDigit`] at the first character that is not an ASCII digit;
/// [`GtinError::CheckDigit`] if an 8th digit is not the UPC-A check digit.
pub fn upce_to_upca(upce: &str) -> Result<String, GtinError> {
    if !(upce.len() == 7 || upce.len() == 8) {
        return Err(GtinError::Length(upce.len()));
    }
    if let Some(i) = upce.bytes().position(|b| !b.is_ascii_digit()) {
        return Err(GtinError::NonDigit(i));
    }
    let d: Vec<char> = upce.chars().collect();
    let ns = d[0];
    let m = &d[1..7];
    let body: String = match m[5] {
        '0'..='2' => format!("{ns}{}{}{}0000{}{}{}", m[0], m[1], m[5], m[2], m[3], m[4]),
        '3' => format!("{ns}{}{}{}00000{}{}", m[0], m[1], m[2], m[3], m[4]),
        '4' => format!("{ns}{}{}{}{}00000{}", m[0], m[1], m[2], m[3], m[4]),
        _ => format!("{ns}{}{}{}{}{}0000{}", m[0], m[1], m[2], m[3], m[4], m[5]),
    };
    let c = check_digit(&body)?;
    if upce.len() == 8 {
        let found = d[7] as u8 - b'0';
        if found != c {
            return Err(GtinError::CheckDigit { found, expected: c });
        }
    }
    Ok(format!("{body}{c}"))
}
