//! Validated keys.

use crate::{Error, Result};
use std::fmt;

/// The longest key accepted, in bytes of UTF-8.
pub const MAX_KEY_LEN: usize = 1024;

/// A validated object key: `/`-separated segments of UTF-8.
///
/// Rules, checked once at construction so every backend can rely on them:
/// non-empty, at most [`MAX_KEY_LEN`] bytes, no leading, trailing or doubled
/// `/`, no `.` or `..` segment, no control character (U+0000-U+001F, U+007F-U+009F),
/// no backslash. Unicode is welcome.
///
/// ```
/// use blocksmith_store::Key;
/// let key = Key::new("users/42/profile").unwrap();
/// assert_eq!(key.as_str(), "users/42/profile");
/// assert!(Key::new("users/../etc/passwd").is_err());
/// assert!(Key::new("").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key(String);

impl Key {
    /// Validates `key`.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if `key` is empty, longer than [`MAX_KEY_LEN`] bytes, has a control
    /// character or a backslash, or an empty, `.` or `..` segment (a leading, trailing or doubled
    /// `/`).
    pub fn new(key: impl Into<String>) -> Result<Self> {
        let key = key.into();
        validate(&key)?;
        Ok(Key(key))
    }

    /// The key as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Appends a path segment, validating the result.
    ///
    /// ```
    /// # use blocksmith_store::Key;
    /// let k = Key::new("a").unwrap().join("b").unwrap();
    /// assert_eq!(k.as_str(), "a/b");
    /// ```
    ///
    /// # Errors
    /// As [`Key::new`] for the joined key.
    pub fn join(&self, segment: &str) -> Result<Key> {
        Key::new(format!("{}/{}", self.0, segment))
    }

    /// The segments of the key.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// Consumes the key and returns the string.
    pub fn into_string(self) -> String {
        self.0
    }
}

fn invalid(key: &str, reason: &'static str) -> Error {
    Error::InvalidKey {
        key: key.chars().take(64).collect(),
        reason,
    }
}

fn validate(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(invalid(key, "empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(invalid(key, "longer than 1024 bytes"));
    }
    validate_chars(key)?;
    // The common case without walking segments: no empty segment and no
    // segment that starts with '.'.
    if !key.starts_with(['/', '.'])
        && !key.ends_with('/')
        && !key.contains("//")
        && !key.contains("/.")
    {
        return Ok(());
    }
    for seg in key.split('/') {
        match seg {
            "" => {
                return Err(invalid(
                    key,
                    "empty segment (leading, trailing or doubled '/')",
                ));
            }
            "." | ".." => return Err(invalid(key, "'.' or '..' segment")),
            _ => {}
        }
    }
    Ok(())
}

fn validate_chars(key: &str) -> Result<()> {
    // The common case in one pass over bytes: printable ASCII, no backslash.
    if key.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'\\') {
        return Ok(());
    }
    if key.chars().any(char::is_control) {
        return Err(invalid(key, "control character"));
    }
    if key.contains('\\') {
        return Err(invalid(key, "backslash"));
    }
    Ok(())
}

/// Checks a listing prefix: any leading part of a valid key (so it may end in
/// `/` or in the middle of a segment), or empty for everything.
///
/// Every complete segment (one followed by `/`) obeys the key rules: not
/// empty, not `.` or `..`. The last, partial segment may be anything a key
/// segment starts with (`".."` is the start of the valid segment `"..."`).
/// No key can lie under a prefix that breaks these rules, so refusing it
/// loses nothing, and a backend that maps prefixes to paths never walks
/// outside its root.
pub(crate) fn validate_prefix(prefix: &str) -> Result<()> {
    if prefix.len() > MAX_KEY_LEN {
        return Err(invalid(prefix, "longer than 1024 bytes"));
    }
    validate_chars(prefix)?;
    let mut segments = prefix.split('/');
    // The text after the last '/' (or the whole prefix) is partial.
    segments.next_back();
    for seg in segments {
        match seg {
            "" => return Err(invalid(prefix, "empty segment (leading or doubled '/')")),
            "." | ".." => return Err(invalid(prefix, "'.' or '..' segment")),
            _ => {}
        }
    }
    Ok(())
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?})", self.0)
    }
}

/// Keys order and hash exactly as their strings, so maps keyed by `Key` can be
/// searched with `&str`.
impl std::borrow::Borrow<str> for Key {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Key {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for Key {
    type Error = Error;
    fn try_from(value: &str) -> Result<Self> {
        Key::new(value)
    }
}

impl TryFrom<String> for Key {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Key::new(value)
    }
}

impl std::str::FromStr for Key {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Key::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_keys() {
        for bad in [
            "", "/a", "a/", "a//b", ".", "..", "a/./b", "a/../b", "a\0b", "a\nb", "a\u{7f}", "a\\b",
        ] {
            assert!(
                matches!(Key::new(bad), Err(Error::InvalidKey { .. })),
                "{bad:?} accepted"
            );
        }
        assert!(Key::new("x".repeat(MAX_KEY_LEN + 1)).is_err());
        assert!(Key::new("x".repeat(MAX_KEY_LEN)).is_ok());
    }

    #[test]
    fn accepts_good_keys() {
        for good in ["a", "a/b", "...", "a/.hidden", "日本/🦀", "a b/c-d_e.f"] {
            assert_eq!(Key::new(good).unwrap().as_str(), good);
        }
    }

    #[test]
    fn prefixes() {
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("a/").is_ok());
        assert!(validate_prefix("a/b").is_ok());
        assert!(validate_prefix("/a").is_err());
        assert!(validate_prefix("a//").is_err());
        for bad in ["../", "./", "a/../", "a/./b", "a/../../", "../x", "a/b/../"] {
            assert!(
                matches!(validate_prefix(bad), Err(Error::InvalidKey { .. })),
                "{bad:?} accepted"
            );
        }
        // A partial last segment may be the start of a valid one.
        for good in ["..", ".", "a/..", "a/.", "a/.hid", "...", "a/.../"] {
            assert!(validate_prefix(good).is_ok(), "{good:?} refused");
        }
    }

    proptest::proptest! {
        #[test]
        fn valid_keys_roundtrip(s in "[a-z0-9\u{e9}\u{65e5}]{1,8}(/[a-z0-9._-]{1,8}){0,4}") {
            let ok = !s.split('/').any(|seg| seg == "." || seg == "..");
            let k = Key::new(s.clone());
            proptest::prop_assert_eq!(k.is_ok(), ok);
            if let Ok(k) = k { proptest::prop_assert_eq!(k.as_str(), s.as_str()); }
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,40}") {
            if let Ok(k) = Key::new(s.clone()) {
                proptest::prop_assert!(!k.as_str().is_empty());
                proptest::prop_assert!(!k.as_str().chars().any(char::is_control));
            }
        }
    }
}
