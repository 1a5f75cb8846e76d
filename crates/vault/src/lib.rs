#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

/// Implements `Drop` zeroizing the `name` and `collection` labels of item
/// types (the secret zeroizes itself).
macro_rules! zeroize_labels_on_drop {
    ($($t:ty),+) => {$(
        impl Drop for $t {
            fn drop(&mut self) {
                zeroize::Zeroize::zeroize(&mut self.name);
                zeroize::Zeroize::zeroize(&mut self.collection);
            }
        }
    )+};
}

pub mod apikey;
mod encoding;
pub mod envelope;
mod error;
mod ids;
pub mod item;
pub mod kdf;
pub mod keys;
mod secret;
pub mod share;
pub mod vault;
mod wire;

pub use apikey::{
    ApiKey, ApiKeyInfo, ApiKeyOptions, ApiKeySpec, ApiKeyStatus, ApiKeys, BlockingApiKeys,
    NewApiKey,
};
pub use error::{Error, Result};
pub use ids::{ItemId, ShareId, VaultId};
pub use item::{ItemInfo, NewItem};
pub use kdf::{KdfFloor, KdfParams, KdfPolicy};
pub use keys::{AuthKey, AuthVerifier, Credentials, RecoveryKey, SecretKey};
pub use secret::{Password, SecretBytes, SymmetricKey};
pub use share::{PublicKey, ReceivedShare, SharedItem};
pub use vault::{
    BlockingVault, Inbox, PendingShare, PreLogin, ReceiveReport, RotationProgress, RotationReport,
    Vault, VaultOptions,
};
