//! The one error type of `blocksmith-vault`.
//!
//! No variant ever carries a secret: not a password, a key, a plaintext nor an
//! API key. Item names are not included either; only opaque ids are.

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the vault, the envelope codec and the API
/// key service.
///
/// Decoders of hostile bytes return [`Error::Malformed`],
/// [`Error::UnsupportedVersion`] or [`Error::Decrypt`], never panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] blocksmith_store::Error),
    /// Bytes or text are not in the expected format (bad magic, truncated,
    /// bad length, bad character).
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being decoded.
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A format version this build does not understand.
    #[error("unsupported {what} version {version}")]
    UnsupportedVersion {
        /// What was being decoded.
        what: &'static str,
        /// The version found.
        version: u32,
    },
    /// An envelope of another kind than the one expected (an item key where
    /// item content was expected, ...).
    #[error("envelope of kind {found}, expected kind {expected}")]
    WrongKind {
        /// The kind the caller expected.
        expected: u8,
        /// The kind in the envelope header.
        found: u8,
    },
    /// Authenticated decryption failed: wrong key, wrong associated data
    /// (another vault, item, version) or tampered bytes.
    #[error("decryption failed: wrong key, wrong context or tampered data")]
    Decrypt,
    /// The password (or secret key, or recovery key) does not open the vault.
    #[error("wrong password, secret key or recovery key")]
    WrongCredentials,
    /// The vault was created with a secret key and none was given.
    #[error("this vault needs its secret key as well as the password")]
    SecretKeyRequired,
    /// Data sealed under a vault key generation that is retired (after a
    /// rotation) or unknown.
    #[error("key epoch {epoch} is retired or unknown")]
    UnknownKeyEpoch {
        /// The key generation named by the envelope.
        epoch: u32,
    },
    /// Stored state is older than state already seen: a replay or rollback.
    #[error("rollback detected on {what}: expected at least {expected}, found {found}")]
    Rollback {
        /// What was rolled back.
        what: &'static str,
        /// The smallest acceptable sequence number.
        expected: u64,
        /// The sequence number found.
        found: u64,
    },
    /// Stored records contradict each other (a record of another vault, an
    /// epoch mismatch).
    #[error("inconsistent vault state: {0}")]
    Inconsistent(&'static str),
    /// No vault with this id in the store.
    #[error("vault {id} not found")]
    VaultNotFound {
        /// The vault id.
        id: String,
    },
    /// No item with this id in the vault.
    #[error("item {id} not found")]
    ItemNotFound {
        /// The item id.
        id: String,
    },
    /// An item with the same name already exists (names are unique in a vault).
    #[error("an item with this name already exists (item {id})")]
    DuplicateName {
        /// The id of the existing item.
        id: String,
    },
    /// Key-derivation parameters are invalid, too weak for the configured
    /// floor, or too expensive for the configured ceiling.
    #[error("key derivation parameters rejected: {0}")]
    KdfParams(String),
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Rng,
    /// The vault was unlocked with the recovery key: set a new password
    /// (`change_password`) before this operation.
    #[error("unlocked with the recovery key: set a new password first")]
    PasswordRequired,
    /// Another writer changed the vault concurrently; reopen and retry.
    #[error("concurrent modification of {0}; reopen the vault and retry")]
    Conflict(&'static str),
    /// A value is larger than this format allows.
    #[error("{what} too large: {len} bytes, at most {max}")]
    TooLarge {
        /// What was too large.
        what: &'static str,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An argument is not acceptable (an empty name, a bad prefix).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// An API key's embedded checksum does not match: a typo or a truncated copy.
    #[error("API key checksum mismatch (typo or truncated key)")]
    ApiKeyChecksum,
    /// The API key is unknown or its secret part is wrong (deliberately not
    /// distinguished).
    #[error("API key rejected")]
    ApiKeyRejected,
    /// The API key expired.
    #[error("API key {id} expired")]
    ApiKeyExpired {
        /// The key id (the public part of the key).
        id: String,
    },
    /// The API key was revoked, or its rotation grace period is over.
    #[error("API key {id} revoked")]
    ApiKeyRevoked {
        /// The key id (the public part of the key).
        id: String,
    },
    /// No API key with this id.
    #[error("API key {id} not found")]
    ApiKeyNotFound {
        /// The key id.
        id: String,
    },
    /// The API key cannot be rotated or revoked in its current state.
    #[error("API key {id} is not active")]
    ApiKeyNotActive {
        /// The key id.
        id: String,
    },
}

impl Error {
    pub(crate) fn malformed(what: &'static str, reason: &'static str) -> Self {
        Error::Malformed { what, reason }
    }
}
