#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

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

pub use apikey::{ApiKey, ApiKeyInfo, ApiKeyOptions, ApiKeySpec, ApiKeyStatus, ApiKeys, NewApiKey};
pub use error::{Error, Result};
pub use ids::{ItemId, ShareId, VaultId};
pub use item::{ItemInfo, NewItem};
pub use kdf::{KdfFloor, KdfParams, KdfPolicy};
pub use keys::{AuthKey, AuthVerifier, Credentials, RecoveryKey, SecretKey};
pub use secret::{Password, SecretBytes, SymmetricKey};
pub use share::{PublicKey, ReceivedShare, SharedItem};
pub use vault::{PreLogin, RotationProgress, RotationReport, Vault, VaultOptions};
