//! Multipart uploads: an object written as numbered parts, sent in any
//! order (by any number of processes), then joined in one step, the way S3,
//! GCS and Azure assemble large objects. See [`crate::Store::create_multipart`].
//!
//! The ids are plain serializable values: a process that records the
//! [`MultipartId`] and the [`PartId`]s it got (in a session record, say) lets
//! another process send the remaining parts and complete the upload.

use crate::{Error, Key, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The id of a multipart upload in progress, as the backend issued it
/// ([`crate::Store::create_multipart`]).
///
/// Serializable, so that another process (or a restarted one) can send
/// parts to the same upload and complete it.
///
/// ```
/// use blocksmith_store::MultipartId;
/// let id = MultipartId::new("2~abc");
/// let json = serde_json::to_string(&id).unwrap();
/// assert_eq!(json, "\"2~abc\"");
/// assert_eq!(serde_json::from_str::<MultipartId>(&json).unwrap(), id);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MultipartId(String);

impl MultipartId {
    /// Wraps a backend's upload id.
    pub fn new(id: impl Into<String>) -> Self {
        MultipartId(id.into())
    }

    /// The id as the backend issued it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MultipartId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MultipartId({})", self.0)
    }
}

impl fmt::Display for MultipartId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A part stored in a multipart upload ([`crate::Store::put_part`]): its
/// number and the backend's id of its content (S3's ETag of the part).
///
/// Serializable, like [`MultipartId`]; [`crate::Store::complete_multipart`]
/// takes the parts numbered `1..=n`, in order.
///
/// ```
/// use blocksmith_store::PartId;
/// let part = PartId::new(3, "\"9b2cf535f27731c974343645a3985328\"");
/// assert_eq!(part.number(), 3);
/// let back: PartId = serde_json::from_str(&serde_json::to_string(&part).unwrap()).unwrap();
/// assert_eq!(back, part);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PartId {
    number: u32,
    content_id: String,
}

impl PartId {
    /// The part numbered `number` (from 1), with the backend's id of its
    /// content.
    pub fn new(number: u32, content_id: impl Into<String>) -> Self {
        PartId {
            number,
            content_id: content_id.into(),
        }
    }

    /// The part's number, from 1.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The backend's id of the part's content (an ETag on S3; empty on
    /// backends that need none).
    pub fn content_id(&self) -> &str {
        &self.content_id
    }
}

/// What a backend's multipart uploads accept, declared in
/// [`crate::Capabilities::multipart`].
///
/// ```
/// use blocksmith_store::MultipartLimits;
/// let s3 = MultipartLimits::S3;
/// assert_eq!((s3.min_part_size, s3.max_parts), (5 << 20, 10_000));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MultipartLimits {
    /// The smallest part but the last one (S3: 5 MiB).
    pub min_part_size: u64,
    /// The largest part (S3: 5 GiB).
    pub max_part_size: u64,
    /// The most parts of one upload, numbered from 1 (S3: 10 000).
    pub max_parts: u32,
}

impl MultipartLimits {
    /// Amazon S3's limits (shared by GCS's XML API and most S3-compatible
    /// servers): parts of 5 MiB to 5 GiB, the last one shorter, at most
    /// 10 000 of them.
    pub const S3: MultipartLimits = MultipartLimits {
        min_part_size: 5 << 20,
        max_part_size: 5 << 30,
        max_parts: 10_000,
    };

    /// Limits of parts from `min_part_size` (but the last) to
    /// `max_part_size` bytes, at most `max_parts` of them.
    pub const fn new(min_part_size: u64, max_part_size: u64, max_parts: u32) -> Self {
        MultipartLimits {
            min_part_size,
            max_part_size,
            max_parts,
        }
    }
}

/// Checks a part number against `limits`.
#[cfg_attr(not(feature = "object-store"), allow(dead_code))]
pub(crate) fn check_number(key: &Key, number: u32, limits: &MultipartLimits) -> Result<()> {
    if number == 0 || number > limits.max_parts {
        return Err(Error::InvalidMultipart {
            key: key.to_string(),
            reason: format!("part number {number} is outside 1..={}", limits.max_parts),
        });
    }
    Ok(())
}

/// Checks that `parts` are the parts numbered `1..=n`, in order, each once:
/// what a completion must name.
#[cfg_attr(not(feature = "object-store"), allow(dead_code))]
pub(crate) fn check_parts(key: &Key, parts: &[PartId]) -> Result<()> {
    for (i, p) in parts.iter().enumerate() {
        let want = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if p.number != want {
            let reason = if p.number > want {
                format!("part {want} is missing (the parts go 1, 2, ... in order)")
            } else {
                format!(
                    "part {} is out of order or repeated at position {want}",
                    p.number
                )
            };
            return Err(Error::InvalidMultipart {
                key: key.to_string(),
                reason,
            });
        }
    }
    Ok(())
}

/// What the provided multipart methods of [`crate::Store`] answer.
pub(crate) fn unsupported() -> Error {
    Error::Unsupported {
        backend: "this backend",
        operation: "multipart uploads (it declares none in Capabilities::multipart)",
    }
}
