//! Entity ids stored inline when short, so that looking one up or reading it
//! back touches no per-entity heap allocation (a dependent cache miss that
//! costs more than the rest of an upsert).

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Longest id kept inline (a UUID string is 36 bytes).
const INLINE: usize = 38;

#[derive(Clone)]
pub(crate) enum IdKey {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Arc<str>),
}

impl IdKey {
    pub(crate) fn new(id: &str) -> IdKey {
        if id.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..id.len()].copy_from_slice(id.as_bytes());
            IdKey::Inline {
                len: id.len() as u8,
                bytes,
            }
        } else {
            IdKey::Heap(id.into())
        }
    }

    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            IdKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            IdKey::Heap(s) => s.as_bytes(),
        }
    }

    /// The id as text (always valid UTF-8: built from a `&str`).
    pub(crate) fn as_str(&self) -> &str {
        match self {
            IdKey::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            IdKey::Heap(s) => s,
        }
    }
}

impl std::fmt::Debug for IdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl PartialEq for IdKey {
    fn eq(&self, o: &Self) -> bool {
        self.as_bytes() == o.as_bytes()
    }
}

impl Eq for IdKey {}

impl PartialOrd for IdKey {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

impl Ord for IdKey {
    /// Byte order, which is `str` order.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.as_bytes().cmp(o.as_bytes())
    }
}

impl Hash for IdKey {
    /// Hashes like the `[u8]` it borrows as.
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_bytes().hash(h);
    }
}

impl Borrow<[u8]> for IdKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn inline_and_heap_ids_look_up_and_order_like_strings() {
        let short = "drv-0000001";
        let long = "x".repeat(100);
        let uuid = "123e4567-e89b-12d3-a456-426614174000";
        let mut m = HashMap::new();
        for (i, s) in [short, long.as_str(), uuid, "", "é"]
            .into_iter()
            .enumerate()
        {
            m.insert(IdKey::new(s), i);
        }
        assert!(matches!(IdKey::new(uuid), IdKey::Inline { .. }));
        assert!(matches!(IdKey::new(&long), IdKey::Heap(_)));
        assert_eq!(m.get(short.as_bytes()), Some(&0));
        assert_eq!(m.get(long.as_bytes()), Some(&1));
        assert_eq!(m.get(uuid.as_bytes()), Some(&2));
        assert_eq!(m.get("é".as_bytes()), Some(&4));
        assert_eq!(m.get("drv".as_bytes()), None);
        assert_eq!(IdKey::new("é").as_str(), "é");
        let mut v = [
            IdKey::new("b"),
            IdKey::new(&long),
            IdKey::new("a"),
            IdKey::new("ab"),
        ];
        v.sort();
        let s: Vec<&str> = v.iter().map(IdKey::as_str).collect();
        let mut want = vec!["b", long.as_str(), "a", "ab"];
        want.sort_unstable();
        assert_eq!(s, want);
    }
}
