//! Entity kinds and their compact codes.

use crate::error::truncate;
use crate::{Error, Result};
use std::fmt;
use std::sync::Arc;

/// Longest kind tag, in bytes.
pub const MAX_KIND_LEN: usize = 64;

/// What an entity is: one of the built-in kinds or a host-defined tag.
///
/// Tags named like a built-in kind (`"driver"`) are that kind.
///
/// ```
/// use blocksmith_geo::Kind;
/// assert_eq!(Kind::parse("driver"), Kind::Driver);
/// assert_eq!(Kind::parse("scooter"), Kind::Tag("scooter".into()));
/// assert_eq!(Kind::Tag("scooter".into()).as_str(), "scooter");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A driver (ride hailing, delivery).
    Driver,
    /// A rider or customer.
    Rider,
    /// A tracked asset (vehicle, parcel, device).
    Asset,
    /// A host-defined kind (1 to [`MAX_KIND_LEN`] bytes).
    Tag(Arc<str>),
}

impl Kind {
    /// The kind named `s` (`driver`, `rider`, `asset`, or a tag).
    pub fn parse(s: &str) -> Kind {
        match s {
            "driver" => Kind::Driver,
            "rider" => Kind::Rider,
            "asset" => Kind::Asset,
            other => Kind::Tag(other.into()),
        }
    }

    /// The kind's name.
    pub fn as_str(&self) -> &str {
        match self {
            Kind::Driver => "driver",
            Kind::Rider => "rider",
            Kind::Asset => "asset",
            Kind::Tag(t) => t,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Kind {
    fn from(s: &str) -> Self {
        Kind::parse(s)
    }
}

/// Interned kinds: codes 0-2 are the built-ins, tags follow.
#[derive(Debug, Clone)]
pub(crate) struct Kinds {
    names: Vec<Kind>,
    tags: std::collections::HashMap<Arc<str>, u16, foldhash::fast::RandomState>,
}

impl Default for Kinds {
    fn default() -> Self {
        Kinds {
            names: vec![Kind::Driver, Kind::Rider, Kind::Asset],
            tags: std::collections::HashMap::default(),
        }
    }
}

impl Kinds {
    /// The code of `kind`, interning a new tag.
    pub(crate) fn intern(&mut self, kind: &Kind) -> Result<u16> {
        if let Some(c) = self.lookup(kind) {
            return Ok(c);
        }
        let Kind::Tag(t) = kind else {
            unreachable!("built-in kinds always have a code")
        };
        if t.is_empty() || t.len() > MAX_KIND_LEN {
            return Err(Error::InvalidKind {
                kind: truncate(t),
                reason: "a kind tag is 1 to 64 bytes",
            });
        }
        let code = u16::try_from(self.names.len()).map_err(|_| Error::InvalidKind {
            kind: truncate(t),
            reason: "more than 65536 distinct kinds",
        })?;
        self.names.push(kind.clone());
        self.tags.insert(t.clone(), code);
        Ok(code)
    }

    /// The code of `kind` if it was ever interned.
    #[inline]
    pub(crate) fn lookup(&self, kind: &Kind) -> Option<u16> {
        match kind {
            Kind::Driver => Some(0),
            Kind::Rider => Some(1),
            Kind::Asset => Some(2),
            Kind::Tag(t) => match &**t {
                "driver" => Some(0),
                "rider" => Some(1),
                "asset" => Some(2),
                _ => self.tags.get(&**t).copied(),
            },
        }
    }

    pub(crate) fn get(&self, code: u16) -> &Kind {
        &self.names[usize::from(code)]
    }

    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn tags(&self) -> impl Iterator<Item = &Kind> {
        self.names[3..].iter()
    }
}
