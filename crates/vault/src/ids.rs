//! Identifiers: random 128-bit ids shown as 32 lower-case hex digits.

use crate::encoding::{hex_array, hex_encode};
use crate::secret::random_array;
use crate::{Error, Result};
use std::fmt;
use std::str::FromStr;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 16]);

        impl $name {
            /// A fresh random id.
            ///
            /// # Errors
            /// [`Error::Rng`] if the operating system's random number
            /// generator fails.
            pub fn generate() -> Result<Self> {
                Ok($name(random_array()?))
            }

            /// The id from its 16 bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                $name(bytes)
            }

            /// The 16 bytes.
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex_encode(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                if s.len() != 32 {
                    return Err(Error::malformed($what, "expected 32 hex digits"));
                }
                Ok($name(hex_array($what, s)?))
            }
        }
    };
}

id_type!(
    /// A vault's id: part of every envelope's associated data, and the
    /// Argon2 associated data of its key derivation.
    VaultId,
    "vault id"
);

id_type!(
    /// An item's id: random, so store keys reveal nothing about the item.
    ItemId,
    "item id"
);

id_type!(
    /// A share's id.
    ShareId,
    "share id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_display_roundtrip() {
        let id = ItemId::generate().unwrap();
        assert_eq!(id.to_string().parse::<ItemId>().unwrap(), id);
        assert!("xyz".parse::<VaultId>().is_err());
        assert!("0".repeat(31).parse::<VaultId>().is_err());
        assert!(format!("{id:?}").starts_with("ItemId("));
    }
}
