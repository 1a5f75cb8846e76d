//! Upload sessions over a [`Store`]: create, send parts in any order, resume,
//! finalize with verification, abort, expire.
//!
//! # Layout in the store
//! Under the prefix `P` (default `uploads`):
//! - `P/sessions/<id>`: the session, a typed record, written on create, on a
//!   deferred length declaration, and on finalize or abort;
//! - `P/parts/<id>/<offset>-<length>-<crc32c>` (16, 16 and 8 hex digits): one
//!   part's bytes. The name carries everything needed to compute the offset
//!   and the missing ranges from a listing, and to detect a torn or rotten
//!   part: its size must equal its length and its bytes must match the CRC;
//! - `P/parts/<id>/<offset>-<length>-<crc32c>-m<tag><part id>`: an empty
//!   marker of a part sent into the session's multipart upload (see
//!   "Multipart uploads" below): the same name, then the upload's tag (8 hex
//!   digits of the CRC-32C of its id: a marker of an upload the session no
//!   longer has is left out, and deleted with the session's parts) and the
//!   store's id of the part
//!   (base64url). It covers its range like a part, so the offset, the missing
//!   ranges and a resume still come from one listing;
//! - the published object under the session's target key (default
//!   `P/objects/<id>`), written create-only;
//! - `P/strip/<id>/<nonce>-<n>`: while finalize strips an image, the pieces
//!   of its output, deleted once composed into the object (and by
//!   [`Uploads::expire`] if a crash left them).
//!
//! # Crash safety
//! Every step is one atomic store operation, and the session state lives only
//! in the store: a process that dies loses at most the part it was writing,
//! and a new process resumes from [`Uploads::status`]. A part is written
//! only after its checksum matched, under a name carrying its length and
//! CRC-32C; a torn part (its size differs from its name) counts as missing
//! and is sent again. With [`Verify::Reread`] finalize also reads every part
//! back and checks its CRC, and a part damaged at rest is deleted and
//! reported as [`Error::CorruptPart`] so the client sends it again: it is
//! never assembled. Finalize publishes create-only, then marks the session,
//! then deletes the parts; run again after a crash at any point, it
//! completes the same publication (an object already there with the same
//! bytes counts as published) and never publishes twice. On a store with
//! multipart uploads the same holds with a part's marker written after the
//! part went into the upload (a crash between them leaves the range
//! missing, and the part is sent again under its number, replacing it).
//!
//! # Multipart uploads
//! On a store that declares multipart uploads
//! ([`blocksmith_store::Capabilities::multipart`]: S3, GCS and Azure through
//! the `object_store` adapter built `with_multipart`), a session that may
//! not be an image (its declared length is over
//! [`UploadOptions::max_image_bytes`], or not declared yet) gets one at
//! create time, at its target key, and records it in the session record
//! with its part size `S` ([`Multipart`]; the larger of
//! [`UploadOptions::multipart_part_size`], 8 MiB, and the store's minimum,
//! raised until the longest allowed upload fits the store's most parts).
//! Any engine, in any process, continues it from the record.
//!
//! - **Receipt.** A part that starts at a multiple of `S` and is `S` bytes
//!   long (or ends the declared length) goes, once its checksum matched,
//!   straight into the upload as part `offset / S + 1`, and an empty marker
//!   names it. While the length is deferred only parts ending past the image
//!   limit do, since an image must be read through at finalize and the parts
//!   of an unfinished upload cannot be read. Other parts (a tus client's odd
//!   chunk sizes) are stored as before. The first part of an image cannot go
//!   into the upload: it is refused as [`Error::ImageBytesTooLarge`] (the
//!   upload is longer than an image may be). The client uploader sends parts
//!   of `S` bytes ([`Session::multipart_part_size`]), so all of its parts
//!   take this path.
//! - **Finalize.** The runs of `S`-slots no marker covers are joined from
//!   the stored parts (read back in 1 MiB windows and checked against their
//!   CRCs: the only bytes that come back) and put as their multipart parts;
//!   then one completion publishes the object. The CRC-32C of the whole
//!   (and a CRC-32C expected checksum) comes from the parts' names, before
//!   anything is sent. A check that needs the bytes (an expected checksum or
//!   [`UploadOptions::digest`] other than CRC-32C, [`Verify::Reread`]) reads
//!   the completed object back once; a mismatch deletes the object and the
//!   session's parts, and the session starts a new multipart upload (the old
//!   one is spent), so sending the right bytes again completes it. With
//!   `overwrite`, that leaves the target deleted rather than as it was.
//!   Otherwise only the object's first bytes are read, for its content type.
//! - **Create-only.** `object_store`'s completion takes no condition. A
//!   target that exists is refused ([`Error::TargetExists`]) before the
//!   upload is completed, and its content is never compared: an object
//!   with the upload's length and CRC-32C is no proof (CRC-32C is linear,
//!   four chosen bytes match it). Just before completing, finalize records
//!   its intent in the session record by compare-and-swap
//!   ([`Multipart::completing`]); a finalize run again after a crash (or
//!   racing one) that finds the upload gone takes the object it completed
//!   for the session's only when that intent is recorded, and otherwise
//!   starts a new upload. A digest mismatch deletes only an object this
//!   completion (or the recorded one) made. A custom create-only target's
//!   upload is created at a key of the engine's (`P/staging/<id>`) and
//!   completed there; the object is then published with
//!   [`Store::compose`] under [`PutOptions::create`], which the
//!   `object_store` adapter does as a server-side `copy_if_not_exists` (on
//!   S3 configure `S3CopyIfNotExists::Multipart`: one `UploadPartCopy`, up
//!   to 5 GiB, the default [`UploadOptions::max_size`]); a writer that
//!   creates the target meanwhile keeps its object and the session gets
//!   [`Error::TargetExists`], and the staging object is deleted with the
//!   session's parts. (Completing at the target would overwrite such a
//!   writer: S3's `CompleteMultipartUpload` takes `If-None-Match`, which
//!   `object_store` does not expose; refusing multipart uploads for these
//!   targets would send every byte back through the client at finalize.)
//!   The default target (`P/objects/<id>`) is written by no one else, so it
//!   is completed in place. Sessions created by engines before staging
//!   keys (a custom create-only target completed in place) keep that, with
//!   its race. An upload found gone at completion otherwise was dropped by
//!   the service (or completed by a racing finalize, which then recorded
//!   the publication): the session gets a new upload and the ranges that
//!   were in the old one are missing again ([`Error::Incomplete`]); a part
//!   sent into a gone upload does the same.
//! - **Parts sent twice.** A part sent again into a slot whose marker is
//!   there goes into the upload again (under its number it replaces what
//!   the upload holds, which may be another send of that slot whose marker
//!   was lost). A completion the service refuses because it holds another
//!   part under a listed number (S3's `InvalidPart`,
//!   `blocksmith_store::Error::InvalidMultipart`) deletes the markers and
//!   answers [`Error::Incomplete`], so the client sends those slots again.
//! - **Abort and expiry** abort the multipart upload (idempotently) before
//!   deleting the parts, so nothing is left to bill. An upload created for a
//!   session whose record was then never written (a crash between the two)
//!   is unknown to every engine: keep a lifecycle rule that aborts incomplete
//!   multipart uploads on the bucket.
//! - **Compatibility.** Records without a multipart upload load and are
//!   written as before. Engines from before multipart uploads read markers as
//!   foreign keys and delete them: upgrade every engine that serves the same
//!   sessions before creating sessions on a multipart store, and give them
//!   the same options. The same goes for staging keys and the completion
//!   intent ([`Multipart::staging`], [`Multipart::completing`]): an engine
//!   from before them ignores both (it would send parts to the target, find
//!   the upload gone and start one there, and write the record without
//!   them), so run one release of engines at a time.
//!
//! tus partial uploads and their concatenation keep stored parts (they are
//! joined by [`Store::compose`]), and so do sessions of at most the image
//! limit, which finalize reads through anyway.
//!
//! # Publication without a copy
//! The verified parts are joined by [`Store::compose`], so a backend that can
//! concatenate objects in place does: `DirStore` hard-links the part files
//! under a manifest, `MemoryStore` shares the part buffers, and other stores
//! fall back to reading and writing the bytes once. On object storage the
//! parts go into a multipart upload instead (below), published by one
//! completion. The digests the session
//! needs (the expected checksum, [`UploadOptions::digest`]) are computed on
//! the verification pass.
//!
//! # Images
//! An upload that sniffs as an image may be at most
//! [`UploadOptions::max_image_bytes`] (default 64 MiB), checked on its first
//! part when its length is known and again at finalize, before more than its
//! first bytes are read. Finalize walks a JPEG, PNG, GIF or WebP window by window through
//! [`image::Scanner`], holding only the parser state: every frame header is
//! checked against [`UploadOptions::max_image_pixels`] and, on request, the
//! metadata is stripped on the same pass, the output written in 1 MiB pieces
//! under `P/strip/<id>/` and composed into the published object (then the
//! pieces are deleted). BMP, TIFF, HEIF and AVIF are probed from their
//! headers (a TIFF whose directories lie past the first 64 KiB is read
//! whole, within the image size limit); with a pixel limit set, one whose
//! dimensions cannot be found is refused, and asking to strip one is refused
//! with [`Error::CannotStrip`].

use crate::checksum::{Algorithm, Checksum, hex};
use crate::image::{self, ImageFormat, ImageInfo};
use crate::{Error, Result, magic};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use blocksmith_store::record::Record;
use blocksmith_store::{
    ComposePart, GetOptions, Key, MultipartId, PartId, PutOptions, Store, StoreExt,
};
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

const MIB: u64 = 1024 * 1024;
/// Bytes read from the start of an upload to sniff its type at finalize.
const HEAD_BYTES: u64 = 64 * 1024;
/// Window in which finalize reads parts back to verify them (bounded memory).
const VERIFY_WINDOW: u64 = MIB;
/// Size of the pieces a stripped image is written in before they are composed.
const STRIP_PIECE: usize = MIB as usize;
/// Bytes enough for [`magic::sniff`].
const SNIFF_BYTES: usize = 18;
/// Most bytes of metadata (keys plus values) a session may carry.
pub const MAX_METADATA: usize = 64 * 1024;

/// Limits and defaults of an [`Uploads`] engine.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadOptions {
    /// Store prefix of sessions, parts and default objects.
    pub prefix: String,
    /// Largest upload (default 5 GiB).
    pub max_size: u64,
    /// Largest upload that sniffs as an image (default 64 MiB): finalize
    /// reads an image through to check every frame header and strip its
    /// metadata, so this bounds that work. Refused with
    /// [`Error::ImageBytesTooLarge`].
    pub max_image_bytes: u64,
    /// Smallest part that is not the last one (default 5 MiB, like S3).
    pub min_part_size: u64,
    /// Largest part (default 5 GiB, like S3).
    pub max_part_size: u64,
    /// Most parts per upload (default 10 000, like S3).
    pub max_parts: u64,
    /// Allowed content types by magic bytes (`image/*`, `video/mp4` ...);
    /// `None` allows everything.
    pub allowed_types: Option<Vec<String>>,
    /// Largest declared image size in pixels (default 100 megapixels),
    /// checked against every frame or page the image declares; with a limit
    /// set, an image whose dimensions cannot be found is refused.
    pub max_image_pixels: Option<u64>,
    /// Session lifetime in seconds when the creator gives none (default 24 h).
    pub default_ttl: u64,
    /// Digest of every published object, in [`Published::checksum`]
    /// (default CRC-32C, combined from the parts' CRCs at no extra cost, like
    /// S3's full-object CRC checksums; SHA-256 costs a pass over the object
    /// where a content identity is wanted). A client's expected checksum of
    /// the same kind is reused.
    pub digest: Algorithm,
    /// How finalize makes sure the stored parts are the bytes that arrived.
    pub verify: Verify,
    /// Send parts straight into the store's multipart upload when it has
    /// one ([`blocksmith_store::Capabilities::multipart`], S3 through the
    /// `object_store` adapter; default `true`). See "Multipart uploads" in
    /// the module docs.
    pub multipart: bool,
    /// The size of a session's multipart parts, raised to the store's
    /// minimum part size (default 8 MiB): parts of exactly this size, at
    /// multiples of it, go straight into the multipart upload.
    pub multipart_part_size: u64,
}

/// How finalize makes sure the stored parts are still the bytes that
/// arrived. Every part is checked on arrival (against the client's checksum,
/// if it sent one, tus's checksum extension) and named by its CRC-32C; a
/// part that fails is refused and never stored, so never assembled. What is
/// left to choose is whether finalize reads the parts back to catch a store
/// that damaged them at rest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verify {
    /// Trust the store to return what it acknowledged, as S3's multipart
    /// completion, GCS's compose and tus servers do: torn parts are still
    /// caught by their size in the listing, and the parts are read back only
    /// when a digest of the whole file needs the bytes anyway (an expected
    /// checksum other than CRC-32C, or such a [`UploadOptions::digest`]), on
    /// which pass their CRCs are checked too. Finalize then costs a listing
    /// and a compose, whatever the size of the upload (the default). Images
    /// are read through in any case, for their frame headers and metadata.
    #[default]
    Trusted,
    /// Also read every part back (in 1 MiB windows) and check it against its
    /// CRC-32C: a part damaged at rest is deleted and reported as
    /// [`Error::CorruptPart`], so the client sends it again. Costs a read of
    /// the whole upload at finalize; for stores without checksums of their
    /// own (`DirStore` on a filesystem that does not checksum data).
    ///
    /// Parts inside a multipart upload cannot be read before it completes:
    /// there, the published object is read back once after the completion
    /// and checked against the CRC-32C combined from the parts' (a mismatch
    /// deletes it and the parts, and is [`Error::ChecksumMismatch`]; see
    /// "Multipart uploads" in the module docs). Stored parts joined at
    /// finalize are checked on the way, as here.
    Reread,
}

impl Default for UploadOptions {
    fn default() -> Self {
        UploadOptions {
            prefix: "uploads".into(),
            max_size: 5 * 1024 * MIB,
            max_image_bytes: 64 * MIB,
            min_part_size: 5 * MIB,
            max_part_size: 5 * 1024 * MIB,
            max_parts: 10_000,
            allowed_types: None,
            max_image_pixels: Some(100_000_000),
            default_ttl: 24 * 3600,
            digest: Algorithm::Crc32c,
            verify: Verify::Trusted,
            multipart: true,
            multipart_part_size: 8 * MIB,
        }
    }
}

impl UploadOptions {
    /// Sets the store prefix.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
    /// Sets the largest upload.
    #[must_use]
    pub fn with_max_size(mut self, bytes: u64) -> Self {
        self.max_size = bytes;
        self
    }
    /// Sets the largest image upload in bytes.
    #[must_use]
    pub fn with_max_image_bytes(mut self, bytes: u64) -> Self {
        self.max_image_bytes = bytes;
        self
    }
    /// Sets the part size bounds (`min` applies to every part but the last).
    #[must_use]
    pub fn with_part_size(mut self, min: u64, max: u64) -> Self {
        self.min_part_size = min;
        self.max_part_size = max.max(1);
        self
    }
    /// Sets the most parts per upload.
    #[must_use]
    pub fn with_max_parts(mut self, n: u64) -> Self {
        self.max_parts = n.max(1);
        self
    }
    /// Allows only these content types (checked by magic bytes).
    #[must_use]
    pub fn with_allowed_types<I: IntoIterator<Item = T>, T: Into<String>>(
        mut self,
        types: I,
    ) -> Self {
        self.allowed_types = Some(types.into_iter().map(Into::into).collect());
        self
    }
    /// Sets the image pixel limit (`None`: no limit).
    #[must_use]
    pub fn with_max_image_pixels(mut self, limit: Option<u64>) -> Self {
        self.max_image_pixels = limit;
        self
    }
    /// Sets the digest of published objects.
    #[must_use]
    pub fn with_digest(mut self, algorithm: Algorithm) -> Self {
        self.digest = algorithm;
        self
    }
    /// Sets how finalize checks the stored parts.
    #[must_use]
    pub fn with_verify(mut self, verify: Verify) -> Self {
        self.verify = verify;
        self
    }
    /// Sets the default session lifetime in seconds.
    #[must_use]
    pub fn with_default_ttl(mut self, secs: u64) -> Self {
        self.default_ttl = secs;
        self
    }
    /// Uses the store's multipart uploads (when it has them) or not.
    #[must_use]
    pub fn with_multipart(mut self, on: bool) -> Self {
        self.multipart = on;
        self
    }
    /// Sets the size of multipart parts (raised to the store's minimum).
    #[must_use]
    pub fn with_multipart_part_size(mut self, bytes: u64) -> Self {
        self.multipart_part_size = bytes.max(1);
        self
    }
}

/// How a new session is created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateOptions {
    /// The session id (1-64 of `[A-Za-z0-9_-]`); random if `None`. Creating
    /// an id that exists resumes that session.
    pub id: Option<String>,
    /// Total length; `None` defers it ([`Uploads::declare_length`]).
    pub length: Option<u64>,
    /// Free-form metadata (tus `Upload-Metadata`).
    pub metadata: BTreeMap<String, String>,
    /// The expected checksum of the whole upload, verified at finalize.
    pub expected: Option<Checksum>,
    /// Where to publish; default `<prefix>/objects/<id>`.
    pub target: Option<String>,
    /// Lifetime in seconds; default [`UploadOptions::default_ttl`].
    pub ttl: Option<u64>,
    /// A tus partial upload: never published itself, only concatenated.
    pub partial: bool,
    /// Strip image metadata (EXIF ...) before publishing, by the policy of
    /// [`crate::image`]; an image format that cannot be stripped is refused
    /// at finalize with [`Error::CannotStrip`]. Files that are not images
    /// are published as they are.
    pub strip_metadata: bool,
    /// Replace an existing object at the target instead of failing.
    pub overwrite: bool,
}

impl CreateOptions {
    /// A session of `length` bytes.
    pub fn new(length: u64) -> Self {
        CreateOptions {
            length: Some(length),
            ..Self::default()
        }
    }
    /// Sets the length (`CreateOptions::default().with_length(n)` is
    /// `CreateOptions::new(n)`).
    #[must_use]
    pub fn with_length(mut self, length: u64) -> Self {
        self.length = Some(length);
        self
    }
    /// A session whose length comes later.
    pub fn deferred() -> Self {
        Self::default()
    }
    /// Sets the id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
    /// Adds a metadata entry.
    #[must_use]
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }
    /// Sets the expected full-upload checksum.
    #[must_use]
    pub fn with_expected(mut self, checksum: Checksum) -> Self {
        self.expected = Some(checksum);
        self
    }
    /// Sets the publication key.
    #[must_use]
    pub fn with_target(mut self, key: impl Into<String>) -> Self {
        self.target = Some(key.into());
        self
    }
    /// Sets the lifetime in seconds.
    #[must_use]
    pub fn with_ttl(mut self, secs: u64) -> Self {
        self.ttl = Some(secs);
        self
    }
    /// Marks the session as a tus partial upload.
    #[must_use]
    pub fn with_partial(mut self, partial: bool) -> Self {
        self.partial = partial;
        self
    }
    /// Strips image metadata before publishing.
    #[must_use]
    pub fn with_strip_metadata(mut self, strip: bool) -> Self {
        self.strip_metadata = strip;
        self
    }
    /// Replaces an existing object at the target.
    #[must_use]
    pub fn with_overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }
}

/// Where a session is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum SessionState {
    /// Receiving parts.
    Open,
    /// Published.
    Finalized(Published),
    /// Aborted by the client; kept as a tombstone until it expires.
    Aborted,
}

/// A published object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// The key it was published under.
    pub key: String,
    /// Its size in bytes (after metadata stripping, if asked).
    pub size: u64,
    /// Digest of the published bytes ([`UploadOptions::digest`]).
    pub checksum: Checksum,
    /// Content type by magic bytes.
    pub content_type: String,
    /// Image format and dimensions, for images.
    pub image: Option<ImageInfo>,
    /// Bytes removed by metadata stripping.
    pub stripped_bytes: u64,
}

/// An upload session as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The id.
    pub id: String,
    /// Total length, if declared.
    pub length: Option<u64>,
    /// Metadata.
    pub metadata: BTreeMap<String, String>,
    /// Expected checksum of the whole upload.
    pub expected: Option<Checksum>,
    /// Publication key.
    pub target: String,
    /// Creation time, Unix seconds.
    pub created_at: u64,
    /// Expiry, Unix seconds.
    pub expires_at: u64,
    /// A tus partial upload.
    pub partial: bool,
    /// Strip image metadata before publishing.
    pub strip_metadata: bool,
    /// Replace an existing object at the target.
    pub overwrite: bool,
    /// State.
    pub state: SessionState,
    /// For a concatenation: the partial sessions it was made of, in order.
    #[serde(default)]
    pub concat: Vec<String>,
    /// The store's multipart upload the session's aligned parts go into,
    /// when the store has them (absent in records of other sessions, and
    /// of engines before multipart uploads, which still load).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multipart: Option<Multipart>,
}

impl Session {
    /// The part size a client should send for every part to go straight
    /// into the store's multipart upload (parts of this size at multiples
    /// of it, and the last part), if the session has one.
    pub fn multipart_part_size(&self) -> Option<u64> {
        self.multipart.as_ref().map(|m| m.part_size)
    }
}

/// A session's multipart upload in the store (see "Multipart uploads" in
/// the module docs): its id, at the session's target key, and the part
/// size. Part `n` (from 1) holds the bytes `(n - 1) * part_size ..
/// n * part_size`, the last one fewer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Multipart {
    /// The upload's id, as the store issued it.
    pub upload: MultipartId,
    /// Bytes per part.
    pub part_size: u64,
    /// The key the upload completes at when it is not the session's target:
    /// for a create-only custom target, an engine key (`P/staging/<id>`),
    /// published to the target by a conditional copy (see "Multipart
    /// uploads" in the module docs). Absent: the target itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staging: Option<String>,
    /// Set by compare-and-swap just before a finalize completes `upload`:
    /// a finalize run again (after a crash, or racing that one) finds the
    /// upload gone and treats the object it completed as this session's
    /// only when this is set. Nothing else makes an existing object the
    /// session's: its content is never compared for that.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub completing: bool,
}

impl Record for Session {
    const KIND: &'static str = "upload.session";
    const VERSION: u32 = 1;
}

/// A session with what has been received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The session.
    pub session: Session,
    /// Bytes received contiguously from the start (the tus `Upload-Offset`).
    pub offset: u64,
    /// Bytes received in total.
    pub received: u64,
    /// Ranges still missing (up to the length, or up to the last byte
    /// received while the length is deferred).
    pub missing: Vec<Range<u64>>,
    /// Number of stored parts.
    pub parts: usize,
}

impl Status {
    /// Whether every byte of a declared length is here.
    pub fn is_complete(&self) -> bool {
        self.session.length.is_some() && self.missing.is_empty()
    }
}

/// A range a session holds, with the CRC-32C of its bytes (see
/// [`Uploads::received`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// The bytes' place in the upload.
    pub range: Range<u64>,
    /// Their CRC-32C (Castagnoli).
    pub crc32c: u32,
}

/// The result of [`Uploads::create`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The session.
    pub session: Session,
    /// `true` if the id existed and the session was resumed.
    pub resumed: bool,
}

/// What [`Uploads::expire`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpireReport {
    /// Sessions removed (expired, or tombstones past their expiry).
    pub sessions: usize,
    /// Parts removed.
    pub parts: usize,
    /// Parts (and pieces of stripped images) removed that belonged to no
    /// live session.
    pub orphans: usize,
    /// Session records removed because they could not be decoded.
    pub corrupt_records: usize,
    /// Expired sessions left for the next run because their multipart
    /// upload could not be aborted (the store failed, or the record names
    /// an invalid target): one such session does not stop the others.
    pub deferred: usize,
}

/// What [`Uploads::read_back`] found.
#[derive(Default)]
struct ReadBack {
    size: u64,
    crc: u32,
    head: Vec<u8>,
    sums: Vec<Checksum>,
}

impl ReadBack {
    fn sum(&self, algorithm: Algorithm) -> Option<&Checksum> {
        self.sums.iter().find(|c| c.algorithm == algorithm)
    }
}

/// A clock in Unix seconds.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

fn system_clock() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What [`Uploads::mark_completing`] found.
enum Marked {
    /// It recorded the intent.
    Now,
    /// Another finalize had recorded it (racing this one).
    Already,
    /// A racing finalize published the session meanwhile.
    Published(Published),
}

/// A stored part, parsed from its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub(crate) key: Key,
    pub(crate) offset: u64,
    pub(crate) len: u64,
    pub(crate) crc: u32,
    pub(crate) stored: u64,
    /// For a marker: the part in the session's multipart upload that holds
    /// the bytes (the marker itself is empty).
    pub(crate) in_upload: Option<PartId>,
}

/// What a name under a session's parts says.
enum Named {
    /// A stored part.
    Stored,
    /// A marker of a part in the session's multipart upload.
    Marker(PartId),
    /// A marker of another multipart upload.
    OtherUpload,
}

/// A short tag of a multipart upload's id, in its markers' names: a marker
/// of another upload (one replaced since) is stale.
fn upload_tag(upload: &MultipartId) -> u32 {
    crc32c::crc32c(upload.as_str().as_bytes())
}

impl Part {
    fn end(&self) -> u64 {
        self.offset + self.len
    }
}

/// Merges `[start, end)` ranges into sorted, disjoint ones.
pub fn merge_ranges(mut ranges: Vec<Range<u64>>) -> Vec<Range<u64>> {
    ranges.retain(|r| r.start < r.end);
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// The gaps of merged `covered` ranges within `0..end`.
pub fn gaps(covered: &[Range<u64>], end: u64) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    let mut at = 0;
    for r in covered {
        if r.start > at {
            out.push(at..r.start.min(end));
        }
        at = at.max(r.end);
        if at >= end {
            break;
        }
    }
    if at < end {
        out.push(at..end);
    }
    out.retain(|r| r.start < r.end);
    out
}

/// Whether the first bytes of an upload make it an image.
fn is_image(head: &[u8]) -> bool {
    magic::sniff(head).starts_with("image/") || image::format_of(head).is_some()
}

/// What finalize does with an upload besides verifying it.
enum Content {
    /// Not an image: published as it is.
    Plain,
    /// A BMP, TIFF, HEIF or AVIF image, probed from its headers.
    Probed(Option<ImageInfo>),
    /// A JPEG, PNG, GIF or WebP image, walked through (and maybe stripped).
    Scan(image::Scanner),
}

/// Where [`Uploads::verify_parts`] sends the bytes it reads.
enum Collect<'a> {
    Nothing,
    Bytes(&'a mut BytesMut),
    Image(&'a mut ImageSink),
    Slots(&'a mut SlotSink),
}

/// Stored parts joined into multipart parts at finalize: the bytes of the
/// slot being filled, and the parts put so far.
struct SlotSink {
    target: Key,
    upload: MultipartId,
    part_size: u64,
    length: u64,
    /// Where `buf` starts in the upload (a multiple of `part_size`).
    at: u64,
    buf: BytesMut,
    /// Slot index and part of every part put.
    done: Vec<(u64, PartId)>,
}

impl SlotSink {
    /// The length of the slot that starts at `at`.
    fn slot_len(&self) -> u64 {
        self.part_size.min(self.length - self.at)
    }
}

/// An image walk during finalize, and the pieces of its stripped output.
struct ImageSink {
    scanner: Option<image::Scanner>,
    strip: bool,
    /// Output not yet written.
    buf: Vec<u8>,
    /// Key prefix of the pieces.
    prefix: String,
    /// Every piece written (to delete afterwards).
    keys: Vec<Key>,
    /// The pieces to compose, in order.
    pieces: Vec<ComposePart>,
    /// CRC-32C and length of the pieces.
    crc: u32,
    len: u64,
}

impl ImageSink {
    fn new(scanner: image::Scanner, strip: bool, prefix: String) -> Self {
        ImageSink {
            scanner: Some(scanner),
            strip,
            buf: Vec::new(),
            prefix,
            keys: Vec::new(),
            pieces: Vec::new(),
            crc: 0,
            len: 0,
        }
    }

    fn feed(&mut self, data: &[u8]) -> Result<()> {
        self.scanner
            .as_mut()
            .expect("fed before finish")
            .feed(data, &mut self.buf)
    }
}

/// The upload engine over a store.
///
/// Cheap to clone when `S` is (`&MemoryStore`, `Arc<...>`); holds no state
/// besides its options: any number of engines in any number of processes can
/// serve the same sessions.
#[derive(Clone)]
pub struct Uploads<S> {
    store: S,
    options: UploadOptions,
    clock: Clock,
}

impl<S> fmt::Debug for Uploads<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Uploads")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Checks a session id: 1-64 of `[A-Za-z0-9_-]`.
///
/// # Errors
/// [`Error::InvalidId`] if `id` is empty, longer than 64 bytes, or has a
/// character other than `A-Z a-z 0-9 _ -`.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId {
            id: id.chars().take(64).collect(),
        })
    }
}

fn random_id() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::Random(e.to_string()))?;
    Ok(hex(&b))
}

impl<S: Store> Uploads<S> {
    /// The synchronous twin: the same calls, blocking.
    ///
    /// ```
    /// use blocksmith_store::MemoryStore;
    /// use blocksmith_upload::{Bytes, CreateOptions, Uploads};
    /// let store = MemoryStore::new();
    /// let uploads = Uploads::new(&store);
    /// let sync = uploads.blocking();
    /// let opened = sync.create(CreateOptions::new(5).with_target("files/hello"))?;
    /// sync.put_part(&opened.session.id, 0, Bytes::from_static(b"hello"), None)?;
    /// assert_eq!(sync.finalize(&opened.session.id)?.size, 5);
    /// # Ok::<(), blocksmith_upload::Error>(())
    /// ```
    pub fn blocking(&self) -> BlockingUploads<'_, S> {
        BlockingUploads(self)
    }

    /// An engine with default options.
    pub fn new(store: S) -> Self {
        Self::with_options(store, UploadOptions::default())
    }

    /// An engine with `options`.
    pub fn with_options(store: S, options: UploadOptions) -> Self {
        Uploads {
            store,
            options,
            clock: Arc::new(system_clock),
        }
    }

    /// Replaces the clock (Unix seconds), for tests and simulations.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The options.
    pub fn options(&self) -> &UploadOptions {
        &self.options
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The current time of the engine's clock.
    pub fn now(&self) -> u64 {
        (self.clock)()
    }

    fn session_key(&self, id: &str) -> Result<Key> {
        Ok(Key::new(format!("{}/sessions/{id}", self.options.prefix))?)
    }

    fn parts_prefix(&self, id: &str) -> String {
        format!("{}/parts/{id}/", self.options.prefix)
    }

    fn part_key(&self, id: &str, offset: u64, len: u64, crc: u32) -> Result<Key> {
        Ok(Key::new(format!(
            "{}{offset:016x}-{len:016x}-{crc:08x}",
            self.parts_prefix(id)
        ))?)
    }

    /// The marker of a part stored in the multipart upload `upload` as
    /// `part`: the part's name, then `-m`, the upload's tag (8 hex digits)
    /// and the part's content id (base64url).
    fn marker_key(
        &self,
        id: &str,
        offset: u64,
        len: u64,
        crc: u32,
        upload: &MultipartId,
        part: &PartId,
    ) -> Result<Key> {
        Ok(Key::new(format!(
            "{}{offset:016x}-{len:016x}-{crc:08x}-m{:08x}{}",
            self.parts_prefix(id),
            upload_tag(upload),
            URL_SAFE_NO_PAD.encode(part.content_id())
        ))?)
    }

    /// The key `session`'s multipart upload is at (and completes to): its
    /// staging key, or its target.
    fn upload_key(session: &Session) -> Result<Key> {
        let key = session
            .multipart
            .as_ref()
            .and_then(|m| m.staging.as_deref())
            .unwrap_or(session.target.as_str());
        Ok(Key::new(key)?)
    }

    /// [`Uploads::upload_key`] of a session with `target` and `mp`.
    fn upload_key_of(target: &str, mp: &Multipart) -> Result<Key> {
        Ok(Key::new(mp.staging.as_deref().unwrap_or(target))?)
    }

    /// Deletes the staging object of `session`'s multipart upload, if it
    /// has one (published, or no longer needed).
    async fn delete_staging(&self, session: &Session) -> Result<()> {
        if let Some(staging) = session.multipart.as_ref().and_then(|m| m.staging.as_ref()) {
            self.store.delete(&Key::new(staging.as_str())?).await?;
        }
        Ok(())
    }

    fn check_length(&self, length: u64) -> Result<()> {
        if length > self.options.max_size {
            return Err(Error::TooLarge {
                what: "upload",
                size: length,
                limit: self.options.max_size,
            });
        }
        if length.div_ceil(self.options.max_part_size) > self.options.max_parts {
            return Err(Error::TooManyParts {
                limit: self.options.max_parts,
            });
        }
        Ok(())
    }

    /// Creates a session, or resumes it if `options.id` names an existing one
    /// (which must then agree on length and target).
    ///
    /// # Errors
    /// - [`Error::InvalidId`] if `options.id` is not a valid session id;
    ///   [`Error::Random`] if the system's random source fails to make one;
    /// - [`Error::TooLarge`] if the declared length is over
    ///   [`UploadOptions::max_size`] or the metadata over [`MAX_METADATA`] bytes;
    ///   [`Error::TooManyParts`] if the length needs more than `max_parts` parts of
    ///   the maximum part size;
    /// - [`Error::InvalidState`] if a session with this id exists with another
    ///   length or target;
    /// - [`Error::Invalid`] if the target lies among the engine's own records
    ///   (`<prefix>/sessions/`, `parts/` or `strip/`);
    /// - [`Error::Store`] if the target is not a valid key, the store fails
    ///   (creating the session's multipart upload too), or an existing session
    ///   record is not of this version.
    pub async fn create(&self, options: CreateOptions) -> Result<Opened> {
        self.create_inner(options, Vec::new()).await
    }

    async fn create_inner(&self, options: CreateOptions, concat: Vec<String>) -> Result<Opened> {
        let id = match options.id {
            Some(id) => {
                validate_id(&id)?;
                id
            }
            None => random_id()?,
        };
        if let Some(l) = options.length {
            self.check_length(l)?;
        }
        let meta_bytes: usize = options
            .metadata
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        if meta_bytes > MAX_METADATA {
            return Err(Error::TooLarge {
                what: "metadata",
                size: meta_bytes as u64,
                limit: MAX_METADATA as u64,
            });
        }
        let default_target = format!("{}/objects/{id}", self.options.prefix);
        let target = options.target.unwrap_or_else(|| default_target.clone());
        let custom = target != default_target;
        Key::new(target.as_str())?;
        // The engine's own records are no place to publish to.
        for area in ["sessions", "parts", "strip", "staging"] {
            if target.starts_with(&format!("{}/{area}/", self.options.prefix)) {
                return Err(Error::invalid(
                    "target",
                    format!("{target} is among the engine's own {area} records"),
                ));
            }
        }
        let now = self.now();
        let plan = self.multipart_plan(options.length, options.partial, concat.is_empty());
        let mut session = Session {
            id: id.clone(),
            length: options.length,
            metadata: options.metadata,
            expected: options.expected,
            target,
            created_at: now,
            expires_at: now.saturating_add(options.ttl.unwrap_or(self.options.default_ttl)),
            partial: options.partial,
            strip_metadata: options.strip_metadata,
            overwrite: options.overwrite,
            state: SessionState::Open,
            concat,
            multipart: None,
        };
        let key = self.session_key(&id)?;
        if let Some(part_size) = plan {
            // A session that exists is resumed as it is: no upload for it.
            if let Some((existing, _)) = self.store.get_record::<Session>(&key).await? {
                return Self::resumed(id.clone(), self.checked(&id, existing)?, &session);
            }
            // A create-only custom target is published by a conditional
            // copy from a key only this engine writes: the completion
            // itself takes no condition.
            let staging = (!session.overwrite && custom)
                .then(|| format!("{}/staging/{id}", self.options.prefix));
            let at = Key::new(staging.as_deref().unwrap_or(session.target.as_str()))?;
            let upload = self.store.create_multipart(&at).await?;
            session.multipart = Some(Multipart {
                upload,
                part_size,
                staging,
                completing: false,
            });
        }
        let created = self
            .store
            .put_record(&key, &session, PutOptions::create())
            .await;
        if created.is_err()
            && let Some(m) = &session.multipart
        {
            // Not this session's upload after all (best effort: an upload
            // left here is dropped by the service's expiry).
            let _ = self
                .store
                .abort_multipart(&Self::upload_key(&session)?, &m.upload)
                .await;
        }
        match created {
            Ok(_) => Ok(Opened {
                session,
                resumed: false,
            }),
            Err(blocksmith_store::Error::AlreadyExists { .. }) => {
                let existing = self.session(&id).await?;
                Self::resumed(id, existing, &session)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The answer of a create that found the session `existing`: resumed,
    /// if it agrees with the one `asked` for on target and length.
    fn resumed(id: String, existing: Session, asked: &Session) -> Result<Opened> {
        if existing.target != asked.target {
            return Err(Error::InvalidState {
                id,
                reason: "exists with another target",
            });
        }
        if asked.length.is_some() && existing.length.is_some() && existing.length != asked.length {
            return Err(Error::InvalidState {
                id,
                reason: "exists with another length",
            });
        }
        Ok(Opened {
            session: existing,
            resumed: true,
        })
    }

    /// The part size of a new session's multipart upload, if it gets one:
    /// the store has them, the options allow them, the session is published
    /// itself (not a tus partial or concatenation) and it cannot be an image
    /// (longer than [`UploadOptions::max_image_bytes`], or of a length still
    /// unknown), since finalize reads an image through and the parts in an
    /// unfinished multipart upload cannot be read.
    fn multipart_plan(&self, length: Option<u64>, partial: bool, plain: bool) -> Option<u64> {
        if !self.options.multipart || partial || !plain {
            return None;
        }
        let limits = self.store.capabilities().multipart?;
        if length.is_some_and(|l| l <= self.options.max_image_bytes) {
            return None;
        }
        // Enough parts for the longest upload the session may become.
        let most = length.unwrap_or(self.options.max_size);
        let by_count = most.div_ceil(u64::from(limits.max_parts.max(1)));
        let size = self
            .options
            .multipart_part_size
            .max(limits.min_part_size)
            .max(by_count)
            .max(1);
        (size <= limits.max_part_size && size <= self.options.max_part_size).then_some(size)
    }

    /// The number of the multipart part that the part `offset..offset + len`
    /// of `session` is, if it goes straight into the session's multipart
    /// upload: it starts at a multiple of the part size and is that long (or
    /// ends the upload), and the upload is known to be too long to be an
    /// image (see [`Uploads::multipart_plan`]).
    fn multipart_number(&self, session: &Session, offset: u64, len: u64) -> Option<u32> {
        let size = session.multipart.as_ref()?.part_size;
        let end = offset.checked_add(len)?;
        let last = session.length == Some(end);
        let shaped =
            offset.is_multiple_of(size) && (len == size || (last && len > 0 && len < size));
        let no_image = session
            .length
            .map_or(end, |l| l)
            .gt(&self.options.max_image_bytes);
        if !(shaped && no_image) {
            return None;
        }
        u32::try_from(offset / size + 1).ok()
    }

    /// Reads a session record (any state).
    ///
    /// # Errors
    /// [`Error::InvalidId`] if `id` is not a valid session id;
    /// [`Error::NotFound`] if no session has it; [`Error::Store`] if the store
    /// fails or the session record is not of this version.
    pub async fn session(&self, id: &str) -> Result<Session> {
        validate_id(id)?;
        match self
            .store
            .get_record::<Session>(&self.session_key(id)?)
            .await?
        {
            Some((s, _)) => self.checked(id, s),
            None => Err(Error::NotFound { id: id.into() }),
        }
    }

    /// Refuses a session record whose multipart part size this engine
    /// would not have chosen (zero, under the store's minimum, over its or
    /// the options' maximum), or whose staging key is not the one of the
    /// session `id`: a damaged or forged record gives a typed error, never
    /// a division by zero, an allocation it asks for or a delete of a key
    /// it names.
    fn checked(&self, id: &str, s: Session) -> Result<Session> {
        if let Some(mp) = &s.multipart {
            let ok = self.store.capabilities().multipart.is_some_and(|limits| {
                mp.part_size >= limits.min_part_size.max(1)
                    && mp.part_size <= limits.max_part_size
                    && mp.part_size <= self.options.max_part_size
            });
            if !ok {
                return Err(Error::Invalid {
                    what: "session record",
                    reason: format!(
                        "multipart part size {} is outside what this store and these options allow",
                        mp.part_size
                    ),
                });
            }
            // The one staging key an engine gives this session: a record
            // naming another (damaged, forged) would have finalize, abort
            // and expire delete it.
            let staging = format!("{}/staging/{id}", self.options.prefix);
            if mp.staging.as_ref().is_some_and(|k| *k != staging) {
                return Err(Error::Invalid {
                    what: "session record",
                    reason: "its multipart staging key is not this session's".into(),
                });
            }
        }
        Ok(s)
    }

    /// A session that can still receive parts.
    async fn open_session(&self, id: &str) -> Result<Session> {
        let s = self.session(id).await?;
        match s.state {
            SessionState::Open if s.expires_at <= self.now() => Err(Error::Gone {
                id: id.into(),
                reason: "expired",
            }),
            SessionState::Open => Ok(s),
            SessionState::Aborted => Err(Error::Gone {
                id: id.into(),
                reason: "aborted",
            }),
            SessionState::Finalized(_) => Err(Error::InvalidState {
                id: id.into(),
                reason: "already finalized",
            }),
        }
    }

    /// The ranges an open session holds, each with the CRC-32C of its
    /// bytes, in order of offset: what a client resuming from its own copy
    /// checks that copy against before it sends the rest.
    ///
    /// # Errors
    /// As [`Uploads::session`]; [`Error::Store`] if listing the parts (or
    /// deleting a torn one) fails.
    pub async fn received(&self, id: &str) -> Result<Vec<Received>> {
        let session = self.session(id).await?;
        Ok(self
            .parts(&session)
            .await?
            .into_iter()
            .map(|p| Received {
                range: p.offset..p.end(),
                crc32c: p.crc,
            })
            .collect())
    }

    /// The parts `session` holds, sorted by offset: stored parts and the
    /// markers of parts in its multipart upload. Foreign keys and torn parts
    /// are deleted on the way; markers of another upload than the session's
    /// (one it no longer has, or, in a race, one it has just been given) are
    /// left out, and go with the session's other parts.
    pub(crate) async fn parts(&self, session: &Session) -> Result<Vec<Part>> {
        let prefix = self.parts_prefix(&session.id);
        let mut out = Vec::new();
        for meta in self.store.list_all(&prefix).await? {
            let name = &meta.key.as_str()[prefix.len()..];
            let parsed = Self::parse_part(session, name)
                .filter(|(offset, len, ..)| offset.checked_add(*len).is_some());
            let Some((offset, len, crc, named)) = parsed else {
                // Not ours (a foreign key under our prefix): garbage.
                self.store.delete(&meta.key).await?;
                continue;
            };
            let in_upload = match named {
                Named::Stored => None,
                Named::Marker(part) => Some(part),
                Named::OtherUpload => continue,
            };
            out.push(Part {
                key: meta.key.clone(),
                offset,
                len,
                crc,
                stored: meta.size,
                in_upload,
            });
        }
        // A torn part (size differs from its name; a marker is empty) is as
        // good as missing.
        let mut sound = Vec::with_capacity(out.len());
        for p in out {
            let want = if p.in_upload.is_some() { 0 } else { p.len };
            if p.stored == want {
                sound.push(p);
            } else {
                self.store.delete(&p.key).await?;
            }
        }
        sound.sort_by_key(|p| (p.offset, p.len));
        Ok(sound)
    }

    /// Offset, length, CRC-32C and what a part's name says it is; `None`
    /// for a name no engine writes.
    fn parse_part(session: &Session, name: &str) -> Option<(u64, u64, u32, Named)> {
        let mut it = name.splitn(4, '-');
        let off = u64::from_str_radix(it.next()?, 16).ok()?;
        let len = u64::from_str_radix(it.next()?, 16).ok()?;
        let crc = u32::from_str_radix(it.next()?, 16).ok()?;
        if len == 0 {
            return None;
        }
        let Some(marker) = it.next() else {
            return Some((off, len, crc, Named::Stored));
        };
        let rest = marker.strip_prefix('m')?;
        let tag = u32::from_str_radix(rest.get(..8)?, 16).ok()?;
        let content = URL_SAFE_NO_PAD.decode(rest.get(8..)?).ok()?;
        let content = String::from_utf8(content).ok()?;
        let Some(mp) = session
            .multipart
            .as_ref()
            .filter(|mp| tag == upload_tag(&mp.upload))
        else {
            return Some((off, len, crc, Named::OtherUpload));
        };
        if !off.is_multiple_of(mp.part_size) {
            return None;
        }
        let number = u32::try_from(off / mp.part_size + 1).ok()?;
        Some((off, len, crc, Named::Marker(PartId::new(number, content))))
    }

    fn status_of(session: Session, parts: &[Part]) -> Status {
        let covered = merge_ranges(parts.iter().map(|p| p.offset..p.end()).collect());
        let received = covered.iter().map(|r| r.end - r.start).sum();
        let offset = covered
            .first()
            .filter(|r| r.start == 0)
            .map_or(0, |r| r.end);
        let end = session
            .length
            .unwrap_or_else(|| covered.last().map_or(0, |r| r.end));
        let missing = gaps(&covered, end);
        Status {
            session,
            offset,
            received,
            missing,
            parts: parts.len(),
        }
    }

    /// The session with its offset and missing ranges: what a client needs to
    /// resume after a crash on either side.
    ///
    /// # Errors
    /// As [`Uploads::session`]; [`Error::Store`] if listing the parts (or deleting
    /// a torn one) fails.
    pub async fn status(&self, id: &str) -> Result<Status> {
        let session = self.session(id).await?;
        let parts = if session.state == SessionState::Open {
            self.parts(&session).await?
        } else {
            Vec::new()
        };
        let mut st = Self::status_of(session, &parts);
        if let SessionState::Finalized(p) = &st.session.state {
            st.offset = st.session.length.unwrap_or(p.size);
            st.received = st.offset;
        }
        Ok(st)
    }

    /// Declares the length of a deferred-length session (idempotent for the
    /// same value).
    ///
    /// # Errors
    /// - [`Error::TooLarge`] or [`Error::TooManyParts`] as for [`Uploads::create`];
    /// - [`Error::InvalidId`] if `id` is not a valid session id;
    ///   [`Error::NotFound`] if no session has it;
    ///   [`Error::Gone`] if the session expired or was aborted;
    ///   [`Error::InvalidState`] if it is finalized;
    /// - [`Error::LengthConflict`] if another length was declared;
    /// - [`Error::OutOfBounds`] if a part already received reaches past `length`;
    /// - [`Error::Store`] if the store fails or the session record is not of
    ///   this version.
    pub async fn declare_length(&self, id: &str, length: u64) -> Result<Session> {
        self.check_length(length)?;
        let s = self.open_session(id).await?;
        if let Some(d) = s.length {
            return if d == length {
                Ok(s)
            } else {
                Err(Error::LengthConflict {
                    declared: d,
                    got: length,
                })
            };
        }
        if let Some(last) = self.parts(&s).await?.last() {
            let end = last.end();
            if end > length {
                return Err(Error::OutOfBounds {
                    range: last.offset..end,
                    length,
                });
            }
        }
        let mut out = None;
        self.store
            .update_record::<Session, _>(&self.session_key(id)?, |cur| {
                let Some(mut cur) = cur else {
                    return Err(blocksmith_store::Error::NotFound { key: id.into() });
                };
                let write = cur.length.is_none();
                cur.length.get_or_insert(length);
                out = Some(cur.clone());
                Ok(write.then_some(cur))
            })
            .await?;
        let s = out.ok_or_else(|| Error::NotFound { id: id.into() })?;
        match s.length {
            Some(d) if d != length => Err(Error::LengthConflict {
                declared: d,
                got: length,
            }),
            _ => Ok(s),
        }
    }

    /// Content type and image checks on the first bytes (`whole`: all of
    /// them) of an upload of `length` bytes, if known.
    fn check_head(&self, data: &[u8], whole: bool, length: Option<u64>) -> Result<()> {
        self.check_type(data, whole)?;
        if !is_image(data) {
            return Ok(());
        }
        if let Some(size) = length.filter(|&l| l > self.options.max_image_bytes) {
            return Err(Error::ImageBytesTooLarge {
                size,
                limit: self.options.max_image_bytes,
            });
        }
        if let Some(limit) = self.options.max_image_pixels {
            match image::probe_all(data) {
                Ok(Some(p)) => p.check(limit)?,
                Ok(None) => {}
                Err(e) if image::is_truncated(&e) => {} // checked again at finalize
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The content type check on the first bytes (`whole`: all of them).
    fn check_type(&self, data: &[u8], whole: bool) -> Result<()> {
        if let Some(allowed) = &self.options.allowed_types {
            // Too few bytes of a longer file may not be enough to sniff:
            // finalize checks again on the first 64 KiB.
            if whole || data.len() >= SNIFF_BYTES {
                let found = magic::sniff(data);
                if !magic::allowed(allowed, found) {
                    return Err(Error::ContentTypeNotAllowed {
                        found: found.into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Stores the part `data` at `offset`, after checking it against
    /// `checksum` if given. Parts may come in any order and in parallel; a
    /// part identical to one already stored is accepted again (a retry); any
    /// other overlap is refused. Returns the new status.
    ///
    /// In a session with a multipart upload, a part of the session's part
    /// size at a multiple of it (or the last part) goes straight into the
    /// upload (see "Multipart uploads" in the module docs).
    ///
    /// # Errors
    /// - [`Error::InvalidId`] if `id` is not a valid session id;
    ///   [`Error::NotFound`] if no session has it;
    ///   [`Error::Gone`] if the session expired or was aborted;
    ///   [`Error::InvalidState`] if it is finalized;
    /// - [`Error::OutOfBounds`] if the part reaches past the declared length (or
    ///   past `u64::MAX`), also when the length was declared while it was stored
    ///   (it is then deleted);
    /// - [`Error::TooLarge`] if the part is over the maximum part size, or reaches
    ///   past [`UploadOptions::max_size`] while the length is deferred;
    /// - [`Error::PartTooSmall`] if it is under the minimum part size and does not
    ///   end the upload;
    /// - [`Error::ChecksumMismatch`] if `checksum` does not match `data`;
    /// - on the first bytes of an upload (offset 0, not a partial one):
    ///   [`Error::ContentTypeNotAllowed`] if the sniffed type is not allowed,
    ///   [`Error::ImageBytesTooLarge`] for an image longer than
    ///   [`UploadOptions::max_image_bytes`] (or the first part of an image that
    ///   would go into the session's multipart upload, which only an upload
    ///   longer than that has), [`Error::ImageTooLarge`] if its
    ///   headers declare more than [`UploadOptions::max_image_pixels`], and
    ///   [`Error::InvalidImage`] if they are malformed;
    /// - [`Error::Overlap`] if the part overlaps one already received with other
    ///   bounds or content (the same part again is accepted);
    /// - [`Error::TooManyParts`] if the session holds `max_parts` parts already;
    /// - [`Error::Gone`] or [`Error::InvalidState`] if the session's multipart
    ///   upload was gone and the session was aborted or finalized meanwhile;
    /// - [`Error::Store`] if the store fails (sending the part into the
    ///   multipart upload too) or the session record is not of this version.
    pub async fn put_part(
        &self,
        id: &str,
        offset: u64,
        data: Bytes,
        checksum: Option<&Checksum>,
    ) -> Result<Status> {
        let session = self.open_session(id).await?;
        let len = data.len() as u64;
        let end = offset.checked_add(len).ok_or(Error::OutOfBounds {
            range: offset..u64::MAX,
            length: session.length.unwrap_or(u64::MAX),
        })?;
        if len > self.options.max_part_size {
            return Err(Error::TooLarge {
                what: "part",
                size: len,
                limit: self.options.max_part_size,
            });
        }
        match session.length {
            Some(l) if end > l => {
                return Err(Error::OutOfBounds {
                    range: offset..end,
                    length: l,
                });
            }
            None if end > self.options.max_size => {
                return Err(Error::TooLarge {
                    what: "upload",
                    size: end,
                    limit: self.options.max_size,
                });
            }
            _ => {}
        }
        if len < self.options.min_part_size && len > 0 && session.length.is_some_and(|l| end != l) {
            return Err(Error::PartTooSmall {
                offset,
                size: len,
                min: self.options.min_part_size,
            });
        }
        if let Some(c) = checksum.filter(|c| !c.matches(&data)) {
            return Err(Error::ChecksumMismatch {
                what: "part",
                algorithm: c.algorithm.name(),
            });
        }
        if offset == 0 && !session.partial {
            self.check_head(&data, session.length == Some(len), session.length)?;
        }
        let mut parts = self.parts(&session).await?;
        if len == 0 {
            return Ok(Self::status_of(session, &parts));
        }
        // The client's CRC-32C, already checked, names the part as it is.
        let crc = match checksum {
            Some(c) if c.algorithm == Algorithm::Crc32c => {
                u32::from_be_bytes([c.digest[0], c.digest[1], c.digest[2], c.digest[3]])
            }
            _ => crc32c::crc32c(&data),
        };
        let number = self.multipart_number(&session, offset, len);
        let mut duplicate = false;
        // The marker of the same part sent into the upload before: the part
        // is sent again (idempotent), since the upload may hold another
        // part under its number (two sends of a slot at once, the other's
        // marker lost): what the marker names is then what it holds.
        let mut resend: Option<Key> = None;
        for p in &parts {
            if p.offset < end && offset < p.end() {
                if p.offset == offset && p.len == len && p.crc == crc {
                    if p.in_upload.is_some() && number.is_some() {
                        resend = Some(p.key.clone());
                    } else {
                        duplicate = true;
                    }
                } else {
                    return Err(Error::Overlap { range: offset..end });
                }
            }
        }
        if duplicate {
            return Ok(Self::status_of(session, &parts));
        }
        if resend.is_none() && parts.len() as u64 >= self.options.max_parts {
            return Err(Error::TooManyParts {
                limit: self.options.max_parts,
            });
        }
        let mut session = session;
        let (key, in_upload) = if let Some(number) = number {
            // Its bytes cannot be read back before the upload completes:
            // an image (which finalize reads through) cannot go there,
            // and this one is longer than an image may be.
            if offset == 0 && is_image(&data) {
                return Err(Error::ImageBytesTooLarge {
                    size: session.length.unwrap_or(end),
                    limit: self.options.max_image_bytes,
                });
            }
            let (upload, part, renewed) = self.put_into_upload(&session, number, data).await?;
            let key = self
                .marker_key(id, offset, len, crc, &upload, &part)
                .map_err(|e| match e {
                    Error::Store(blocksmith_store::Error::InvalidKey { .. }) => Error::Invalid {
                        what: "multipart part id",
                        reason: format!(
                            "the store's id of part {number} ({} bytes) makes its marker key \
                             longer than a key may be ({} bytes): use a shorter upload prefix \
                             or session id, or turn multipart uploads off",
                            part.content_id().len(),
                            blocksmith_store::MAX_KEY_LEN
                        ),
                    },
                    e => e,
                })?;
            self.store
                .put(&key, Bytes::new(), PutOptions::new())
                .await?;
            if let Some(old) = resend.as_ref().filter(|old| **old != key) {
                // Sent again under another id: the old marker names a part
                // the upload no longer holds.
                self.store.delete(old).await?;
            }
            parts.retain(|p| Some(&p.key) != resend.as_ref());
            if let Some(r) = renewed {
                // Markers of the upload that was gone are stale now.
                session = r;
                parts = self.parts(&session).await?;
                parts.retain(|p| p.key != key);
            }
            (key, Some(part))
        } else {
            let key = self.part_key(id, offset, len, crc)?;
            self.store.put(&key, data, PutOptions::new()).await?;
            (key, None)
        };
        if session.length.is_none() {
            // The length may have been declared, by another engine, while
            // this part was on its way: a part past it must not stay.
            let now = self.session(id).await?;
            if let Some(l) = now.length.filter(|&l| end > l) {
                self.store.delete(&key).await?;
                return Err(Error::OutOfBounds {
                    range: offset..end,
                    length: l,
                });
            }
        }
        parts.push(Part {
            key,
            offset,
            len,
            crc,
            stored: if in_upload.is_some() { 0 } else { len },
            in_upload,
        });
        parts.sort_by_key(|p| (p.offset, p.len));
        Ok(Self::status_of(session, &parts))
    }

    /// Puts `data` as part `number` of `session`'s multipart upload: the
    /// upload and the part, and the session as now stored if the upload was
    /// gone (expired by the service, aborted) and had to be replaced.
    async fn put_into_upload(
        &self,
        session: &Session,
        number: u32,
        data: Bytes,
    ) -> Result<(MultipartId, PartId, Option<Session>)> {
        let target = Self::upload_key(session)?;
        let Some(mp) = &session.multipart else {
            return Err(Error::InvalidState {
                id: session.id.clone(),
                reason: "has no multipart upload",
            });
        };
        match self
            .store
            .put_part(&target, &mp.upload, number, data.clone())
            .await
        {
            Ok(part) => Ok((mp.upload.clone(), part, None)),
            Err(blocksmith_store::Error::NotFound { .. }) => {
                let renewed = self.renew_multipart(&session.id, &mp.upload).await?;
                let upload = match (&renewed.state, &renewed.multipart) {
                    (SessionState::Open, Some(m)) => m.upload.clone(),
                    (SessionState::Finalized(_), _) => {
                        return Err(Error::InvalidState {
                            id: session.id.clone(),
                            reason: "already finalized",
                        });
                    }
                    _ => {
                        return Err(Error::Gone {
                            id: session.id.clone(),
                            reason: "aborted",
                        });
                    }
                };
                let part = self.store.put_part(&target, &upload, number, data).await?;
                Ok((upload, part, Some(renewed)))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Gives the open session `id` a new multipart upload in place of `old`
    /// (gone, or consumed by a completion whose object was then refused),
    /// unless it has another one already; returns the session as stored.
    /// The markers of `old` are stale from then on.
    async fn renew_multipart(&self, id: &str, old: &MultipartId) -> Result<Session> {
        let current = self.session(id).await?;
        let Some((part_size, staging)) = current
            .multipart
            .as_ref()
            .filter(|m| &m.upload == old && current.state == SessionState::Open)
            .map(|m| (m.part_size, m.staging.clone()))
        else {
            return Ok(current);
        };
        let target = Self::upload_key(&current)?;
        let upload = self.store.create_multipart(&target).await?;
        let mut out = None;
        let updated = self
            .store
            .update_record::<Session, _>(&self.session_key(id)?, |cur| {
                let Some(mut cur) = cur else {
                    return Err(blocksmith_store::Error::NotFound { key: id.into() });
                };
                let ours = cur.state == SessionState::Open
                    && cur.multipart.as_ref().is_some_and(|m| &m.upload == old);
                if ours {
                    cur.multipart = Some(Multipart {
                        upload: upload.clone(),
                        part_size,
                        staging: staging.clone(),
                        completing: false,
                    });
                }
                out = Some(cur.clone());
                Ok(ours.then_some(cur))
            })
            .await;
        let applied = updated.is_ok()
            && out
                .as_ref()
                .and_then(|s| s.multipart.as_ref())
                .is_some_and(|m| m.upload == upload);
        if !applied {
            let _ = self.store.abort_multipart(&target, &upload).await;
        }
        updated?;
        out.ok_or_else(|| Error::NotFound { id: id.into() })
    }

    /// Reads and checks every part, in order: the assembled bytes and their
    /// CRC-32C (combined from the parts', no extra pass). Only for images
    /// (BMP, TIFF) whose headers lie past the first bytes, so at most
    /// [`UploadOptions::max_image_bytes`].
    async fn assemble(&self, length: u64, parts: &[Part]) -> Result<(Bytes, u32)> {
        let mut out = BytesMut::with_capacity(usize::try_from(length).unwrap_or(0));
        let (crc, _) = self
            .verify_parts(0..length, parts, &mut [], true, Collect::Bytes(&mut out))
            .await?;
        Ok((out.freeze(), crc))
    }

    fn strip_prefix(&self, id: &str) -> String {
        format!("{}/strip/{id}/", self.options.prefix)
    }

    /// Deletes a session's parts (returns how many) and any pieces of a
    /// stripped image left by a finalize that did not finish.
    async fn delete_parts(&self, id: &str) -> Result<usize> {
        let metas = self.store.list_all(&self.parts_prefix(id)).await?;
        for m in &metas {
            self.store.delete(&m.key).await?;
        }
        for m in self.store.list_all(&self.strip_prefix(id)).await? {
            self.store.delete(&m.key).await?;
        }
        Ok(metas.len())
    }

    /// Assembles, verifies and atomically publishes the upload, then removes
    /// its parts. Idempotent: after a crash anywhere in it, calling it again
    /// completes the same publication.
    ///
    /// When the whole upload does not match the checksum it was created with
    /// ([`Error::ChecksumMismatch`]), its parts are deleted: the session stays
    /// open, and sending the right bytes again completes it.
    ///
    /// A session with a multipart upload is published by completing it, after
    /// joining its stored parts into multipart parts (see "Multipart uploads"
    /// in the module docs).
    ///
    /// # Errors
    /// Finalizing a session finalized already returns its publication again.
    /// - [`Error::InvalidId`] if `id` is not a valid session id;
    ///   [`Error::NotFound`] if no session has it;
    ///   [`Error::Gone`] if the session expired or was aborted;
    ///   [`Error::InvalidState`] if it is a partial upload (those are
    ///   concatenated, see [`Uploads::concat`]);
    /// - [`Error::LengthUnknown`] if its length is still deferred;
    /// - [`Error::OutOfBounds`] if a part reaches past the length (it is deleted,
    ///   so its bytes can be sent again); [`Error::Incomplete`] if bytes are
    ///   missing, also when the session's multipart upload was found gone
    ///   (the ranges that were in it are missing again);
    /// - [`Error::CorruptPart`] if a stored part no longer matches its size or its
    ///   CRC-32C (it is deleted; send that range again), or two parts were sent
    ///   into one multipart slot at once (both markers are deleted);
    /// - [`Error::ContentTypeNotAllowed`], [`Error::ImageBytesTooLarge`],
    ///   [`Error::ImageTooLarge`], [`Error::InvalidImage`] as for
    ///   [`Uploads::put_part`], checked on the whole file; [`Error::CannotStrip`]
    ///   if metadata stripping was asked for a BMP, TIFF, HEIF or AVIF image;
    /// - [`Error::ChecksumMismatch`] if the file does not match the session's
    ///   expected checksum (its parts are deleted, see above), or, with
    ///   [`Verify::Reread`] on a multipart upload, the completed object is not
    ///   the bytes its parts had (deleted with the parts);
    /// - [`Error::TargetExists`] if the target holds another object (without
    ///   `overwrite`);
    /// - [`Error::Random`] if the system's random source fails (stripping names
    ///   its pieces with a nonce); [`Error::Store`] if the store fails or the
    ///   session record is not of this version.
    pub async fn finalize(&self, id: &str) -> Result<Published> {
        let session = self.session(id).await?;
        match &session.state {
            SessionState::Finalized(p) => {
                self.delete_parts(id).await?;
                self.delete_staging(&session).await?;
                return Ok(p.clone());
            }
            SessionState::Aborted => {
                return Err(Error::Gone {
                    id: id.into(),
                    reason: "aborted",
                });
            }
            SessionState::Open if session.expires_at <= self.now() => {
                return Err(Error::Gone {
                    id: id.into(),
                    reason: "expired",
                });
            }
            SessionState::Open => {}
        }
        if session.partial {
            return Err(Error::InvalidState {
                id: id.into(),
                reason: "a partial upload is concatenated, not published",
            });
        }
        let length = session.length.ok_or(Error::LengthUnknown)?;
        let parts = self.parts(&session).await?;
        // A part stored while another engine declared a shorter length (its
        // check and the declaration raced): its bytes contradict the length.
        // Discarded, so the client can send those bytes again.
        if let Some(p) = parts.iter().find(|p| p.end() > length) {
            self.store.delete(&p.key).await?;
            return Err(Error::OutOfBounds {
                range: p.offset..p.end(),
                length,
            });
        }
        let st = Self::status_of(session.clone(), &parts);
        if let Some(e) = Self::incomplete(&st) {
            return Err(e);
        }
        let in_upload = parts.iter().any(|p| p.in_upload.is_some());
        if let Some(mp) = &session.multipart
            && (in_upload || length > self.options.max_image_bytes)
        {
            let published = self.publish_multipart(&session, mp, length, &parts).await?;
            let published = self.record_published(id, published).await?;
            self.delete_staging(&session).await?;
            return Ok(published);
        }
        let mut head = self.read_head(&parts, SNIFF_BYTES as u64).await?;
        if is_image(&head) && (head.len() as u64) < HEAD_BYTES.min(length) {
            // Small parts: the image headers may lie in the next ones.
            head = self.read_head(&parts, HEAD_BYTES).await?;
        }
        let content = self.classify(&session, length, &parts, &head).await?;
        let published = self
            .publish(&session, length, &parts, &head, content)
            .await?;
        let published = self.record_published(id, published).await?;
        // A deferred length that turned out short enough for an image: the
        // multipart upload went unused.
        self.drop_upload(&session).await;
        Ok(published)
    }

    /// [`Error::Incomplete`] for what `st` misses, if anything.
    fn incomplete(st: &Status) -> Option<Error> {
        st.missing.first().map(|first| Error::Incomplete {
            missing: st.missing.iter().map(|r| r.end - r.start).sum(),
            first: first.clone(),
        })
    }

    /// Aborts the multipart upload of a session that no longer needs it,
    /// best effort: [`Uploads::expire`] aborts it again with the session.
    async fn drop_upload(&self, session: &Session) {
        if let (Some(mp), Ok(at)) = (&session.multipart, Self::upload_key(session)) {
            let _ = self.store.abort_multipart(&at, &mp.upload).await;
        }
    }

    /// Publishes a session whose parts went into the store's multipart
    /// upload: the slots no marker covers are joined from the stored parts
    /// (read back, checked against their CRCs) and put as their multipart
    /// parts, then one completion publishes the object; nothing else is
    /// read, unless a check needs the bytes (see "Multipart uploads" in the
    /// module docs).
    ///
    /// The object a completion leaves is this session's only when this call
    /// completed it, or when a finalize recorded its intent to complete
    /// this upload (`completing`, set by compare-and-swap before the
    /// completion) and the upload is gone; an object found anywhere else
    /// is someone else's, whatever its bytes. A create-only target that
    /// exists is refused before anything is completed; a staged upload is
    /// published to it by a conditional copy.
    async fn publish_multipart(
        &self,
        session: &Session,
        mp: &Multipart,
        length: u64,
        parts: &[Part],
    ) -> Result<Published> {
        let size = mp.part_size;
        let slot = |k: u64| k * size..((k + 1) * size).min(length);
        let slots = length.div_ceil(size);
        let mut marked: BTreeMap<u64, &Part> = BTreeMap::new();
        let mut raw: Vec<Part> = Vec::new();
        for p in parts {
            if p.in_upload.is_none() {
                raw.push(p.clone());
                continue;
            }
            let k = p.offset / size;
            if (p.offset..p.end()) != slot(k) {
                // Not a slot of this session: sent by an engine with other
                // options.
                self.store.delete(&p.key).await?;
                return Err(Error::CorruptPart {
                    range: p.offset..p.end(),
                });
            }
            if let Some(q) = marked.insert(k, p) {
                // Two parts sent for one slot at once: which one the upload
                // holds is unknown. Both go; the client sends it again.
                self.store.delete(&p.key).await?;
                self.store.delete(&q.key).await?;
                return Err(Error::CorruptPart { range: slot(k) });
            }
        }
        // A stored part in a slot the upload holds raced its marker: the
        // slot's bytes are in the upload, so it goes, and whatever else of
        // it no other part covers is asked for again.
        if let Some(p) = raw
            .iter()
            .find(|p| (p.offset / size..=(p.end() - 1) / size).any(|k| marked.contains_key(&k)))
        {
            self.store.delete(&p.key).await?;
            let rest: Vec<Part> = parts.iter().filter(|q| q.key != p.key).cloned().collect();
            let st = Self::status_of(session.clone(), &rest);
            return Err(Self::incomplete(&st).unwrap_or(Error::Overlap {
                range: p.offset..p.end(),
            }));
        }
        // What the first bytes are: read when a stored part holds them,
        // else they were checked on arrival.
        let head = if marked.contains_key(&0) {
            None
        } else {
            let head = self.read_head(&raw, SNIFF_BYTES as u64).await?;
            self.check_type(&head, head.len() as u64 == length)?;
            if is_image(&head) {
                return Err(Error::ImageBytesTooLarge {
                    size: length,
                    limit: self.options.max_image_bytes,
                });
            }
            Some(head)
        };
        let target = Key::new(session.target.as_str())?;
        // The runs of slots no marker covers: their stored parts are joined.
        let mut runs = Vec::new();
        let mut k = 0;
        while k < slots {
            if marked.contains_key(&k) {
                k += 1;
                continue;
            }
            let first = k;
            while k < slots && !marked.contains_key(&k) {
                k += 1;
            }
            let run = slot(first).start..slot(k - 1).end;
            let in_run: Vec<Part> = raw
                .iter()
                .filter(|p| p.offset < run.end && p.end() > run.start)
                .cloned()
                .collect();
            runs.push((run, in_run));
        }
        // The object's CRC-32C, from the parts' names (or, where racing
        // parts overlap, from their bytes).
        let crc = if let Some(crc) = Self::named_crc(parts, length) {
            crc
        } else {
            let mut by_slot: BTreeMap<u64, (u64, u32)> = marked
                .values()
                .map(|p| (p.offset, (p.len, p.crc)))
                .collect();
            for (run, in_run) in &runs {
                let (c, _) = self
                    .verify_parts(run.clone(), in_run, &mut [], true, Collect::Nothing)
                    .await?;
                by_slot.insert(run.start, (run.end - run.start, c));
            }
            by_slot.values().fold(0u32, |acc, &(len, c)| {
                crc32c::crc32c_combine(acc, c, len as usize)
            })
        };
        // The checks that need no bytes come first.
        let digest = self.options.digest;
        let mut algos = Vec::new();
        if let Some(e) = &session.expected {
            if e.algorithm == Algorithm::Crc32c {
                if e.digest != crc.to_be_bytes() {
                    self.delete_parts(&session.id).await?;
                    return Err(Error::ChecksumMismatch {
                        what: "upload",
                        algorithm: e.algorithm.name(),
                    });
                }
            } else {
                algos.push(e.algorithm);
            }
        }
        if digest != Algorithm::Crc32c && !algos.contains(&digest) {
            algos.push(digest);
        }
        // Where the upload completes: the target, or the session's staging
        // key (then published to the target by a conditional copy).
        let at = Self::upload_key_of(&session.target, mp)?;
        // A finalize recorded its intent to complete this upload before
        // this call (then crashed, or races this one).
        let mut recorded = mp.completing;
        if !session.overwrite && !recorded {
            // Create-only: a target that exists is someone else's; refused
            // before the upload is spent (it waits: `abort` drops it). Its
            // content is never compared.
            match self.store.head(&target).await {
                Ok(_) => {
                    return Err(Error::TargetExists {
                        key: session.target.clone(),
                    });
                }
                Err(blocksmith_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !recorded {
            match self.mark_completing(&session.id, &mp.upload).await? {
                Marked::Now => {}
                Marked::Already => recorded = true,
                // Published by a racing finalize meanwhile.
                Marked::Published(p) => return Ok(p),
            }
        }
        let completed = match self
            .join_and_complete(&at, mp, length, &marked, &runs)
            .await
        {
            Ok(()) => true,
            Err(Error::Store(blocksmith_store::Error::NotFound { .. })) => false,
            Err(Error::Store(blocksmith_store::Error::InvalidMultipart { .. })) => {
                // The service holds other parts than the markers name (a
                // part sent twice at once whose marker lost the race): the
                // upload was not completed. The marked slots are asked for
                // again; a part sent again replaces the one in the upload.
                for p in marked.values() {
                    self.store.delete(&p.key).await?;
                }
                self.clear_completing(&session.id, &mp.upload).await;
                let st = Self::status_of(session.clone(), &raw);
                return Err(Self::incomplete(&st).unwrap_or(Error::Incomplete {
                    missing: length,
                    first: 0..length,
                }));
            }
            Err(e) => return Err(e),
        };
        if !completed {
            // The upload is gone: completed by the finalize that recorded
            // its intent before this call (its object is then at `at`), or
            // dropped by the service, or completed by a racing finalize.
            let ours = recorded
                && match self.store.head(&at).await {
                    Ok(meta) => meta.size == length,
                    Err(blocksmith_store::Error::NotFound { .. }) => false,
                    Err(e) => return Err(e.into()),
                };
            if !ours {
                let now = self.session(&session.id).await?;
                if let SessionState::Finalized(p) = now.state {
                    return Ok(p);
                }
                if recorded && self.store.head(&at).await.is_ok() {
                    // Something of another size where this upload
                    // completed: not this session's, and left alone.
                    return Err(Error::TargetExists {
                        key: at.to_string(),
                    });
                }
                // The ranges that were in the upload are missing again.
                self.renew_multipart(&session.id, &mp.upload).await?;
                let st = Self::status_of(session.clone(), &raw);
                return Err(Self::incomplete(&st).unwrap_or(Error::Incomplete {
                    missing: length,
                    first: 0..length,
                }));
            }
        }
        let reread = self.options.verify == Verify::Reread;
        let read = if reread || !algos.is_empty() {
            Some(self.read_back(&at, &algos).await?)
        } else {
            None
        };
        if let Some(back) = &read {
            let expected = session
                .expected
                .as_ref()
                .filter(|e| e.algorithm != Algorithm::Crc32c);
            let wrong = if back.size != length || back.crc != crc {
                Some("crc32c")
            } else {
                expected
                    .filter(|e| back.sum(e.algorithm).is_some_and(|c| c.digest != e.digest))
                    .map(|e| e.algorithm.name())
            };
            if let Some(algorithm) = wrong {
                // Completed bytes that are not the ones that arrived, or not
                // the ones expected: taken back (this call or the recorded
                // completion put them there; a staged upload never reached
                // the target), and the session starts over with a new
                // upload (the old one is spent).
                self.store.delete(&at).await?;
                self.delete_parts(&session.id).await?;
                self.renew_multipart(&session.id, &mp.upload).await?;
                return Err(Error::ChecksumMismatch {
                    what: "upload",
                    algorithm,
                });
            }
        }
        let head = match (head, &read) {
            (Some(head), _) => head,
            (None, Some(back)) => Bytes::from(back.head.clone()),
            (None, None) => {
                let end = (SNIFF_BYTES as u64).min(length);
                self.store
                    .get(&at, GetOptions::new().with_range(0..end))
                    .await?
                    .data
            }
        };
        if mp.staging.is_some() {
            // Published create-only, by a copy the server makes only if the
            // target is absent. Found taken: published by the finalize
            // whose crash this call resumes (the same SHA-256 as the staged
            // object), or someone else's object, left as it is.
            let staged = [ComposePart::new(at.clone())];
            match self
                .store
                .compose(&target, &staged, PutOptions::create())
                .await
            {
                Ok(_) => {}
                Err(blocksmith_store::Error::AlreadyExists { .. }) => {
                    self.check_taken(session, &target, &staged, length).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let checksum = if digest == Algorithm::Crc32c {
            Checksum {
                algorithm: digest,
                digest: crc.to_be_bytes().to_vec(),
            }
        } else {
            read.as_ref()
                .and_then(|b| b.sum(digest))
                .cloned()
                .expect("read back for its digest")
        };
        Ok(Published {
            key: session.target.clone(),
            size: length,
            checksum,
            content_type: magic::sniff(&head).to_string(),
            image: None,
            stripped_bytes: 0,
        })
    }

    /// Records, by compare-and-swap, that a finalize is about to complete
    /// `upload` (see [`Multipart::completing`]).
    ///
    /// # Errors
    /// [`Error::Gone`] if the session was aborted meanwhile;
    /// [`Error::InvalidState`] if its upload was replaced meanwhile.
    async fn mark_completing(&self, id: &str, upload: &MultipartId) -> Result<Marked> {
        let mut seen = None;
        self.store
            .update_record::<Session, _>(&self.session_key(id)?, |cur| {
                let Some(mut cur) = cur else {
                    return Err(blocksmith_store::Error::NotFound { key: id.into() });
                };
                seen = Some(cur.clone());
                let ours = cur.state == SessionState::Open
                    && cur
                        .multipart
                        .as_ref()
                        .is_some_and(|m| &m.upload == upload && !m.completing);
                if !ours {
                    return Ok(None);
                }
                if let Some(m) = cur.multipart.as_mut() {
                    m.completing = true;
                }
                Ok(Some(cur))
            })
            .await?;
        let Some(seen) = seen else {
            return Err(Error::NotFound { id: id.into() });
        };
        let same = seen.multipart.as_ref().filter(|m| &m.upload == upload);
        match seen.state {
            SessionState::Finalized(p) => Ok(Marked::Published(p)),
            SessionState::Aborted => Err(Error::Gone {
                id: id.into(),
                reason: "aborted",
            }),
            SessionState::Open if same.is_some_and(|m| m.completing) => Ok(Marked::Already),
            SessionState::Open if same.is_some() => Ok(Marked::Now),
            SessionState::Open => Err(Error::InvalidState {
                id: id.into(),
                reason: "its multipart upload was replaced meanwhile; finalize again",
            }),
        }
    }

    /// Takes back the intent [`Uploads::mark_completing`] recorded, once a
    /// completion of `upload` was refused (best effort: left set, a later
    /// finalize completes the upload again, or finds it gone).
    async fn clear_completing(&self, id: &str, upload: &MultipartId) {
        let Ok(key) = self.session_key(id) else {
            return;
        };
        let _ = self
            .store
            .update_record::<Session, _>(&key, |cur| {
                let Some(mut cur) = cur else { return Ok(None) };
                match cur.multipart.as_mut() {
                    Some(m) if &m.upload == upload && m.completing => {
                        m.completing = false;
                        Ok(Some(cur))
                    }
                    _ => Ok(None),
                }
            })
            .await;
    }

    /// The CRC-32C of `0..length` combined from the CRCs in the parts'
    /// names, if they tile it (identical duplicates aside); `None` where
    /// racing parts overlap partly.
    fn named_crc(parts: &[Part], length: u64) -> Option<u32> {
        let mut crc = 0u32;
        let mut at = 0u64;
        for p in parts {
            if p.end() <= at {
                continue;
            }
            if p.offset != at {
                return None;
            }
            crc = crc32c::crc32c_combine(crc, p.crc, p.len as usize);
            at = p.end();
        }
        (at == length).then_some(crc)
    }

    /// Joins the stored parts of each of `runs` into the multipart parts of
    /// its slots (read back and checked against their CRCs), then completes
    /// the upload with them and the `marked` slots' parts.
    async fn join_and_complete(
        &self,
        target: &Key,
        mp: &Multipart,
        length: u64,
        marked: &BTreeMap<u64, &Part>,
        runs: &[(Range<u64>, Vec<Part>)],
    ) -> Result<()> {
        let mut sink = SlotSink {
            target: target.clone(),
            upload: mp.upload.clone(),
            part_size: mp.part_size,
            length,
            at: 0,
            buf: BytesMut::new(),
            done: Vec::new(),
        };
        for (run, in_run) in runs {
            sink.at = run.start;
            sink.buf.clear();
            self.verify_parts(
                run.clone(),
                in_run,
                &mut [],
                true,
                Collect::Slots(&mut sink),
            )
            .await?;
        }
        let mut joined: BTreeMap<u64, PartId> = sink.done.into_iter().collect();
        let slots = length.div_ceil(mp.part_size);
        let mut ids = Vec::with_capacity(usize::try_from(slots).unwrap_or(0));
        for k in 0..slots {
            let part = match marked.get(&k) {
                Some(p) => p.in_upload.clone(),
                None => joined.remove(&k),
            };
            let Some(part) = part else {
                let start = k * mp.part_size;
                return Err(Error::Incomplete {
                    missing: mp.part_size.min(length - start),
                    first: start..(start + mp.part_size).min(length),
                });
            };
            ids.push(part);
        }
        self.store
            .complete_multipart(target, &mp.upload, &ids)
            .await?;
        Ok(())
    }

    /// Reads the object at `key` once, as a stream: its size, CRC-32C and
    /// first bytes, and its digests by `algos`.
    async fn read_back(&self, key: &Key, algos: &[Algorithm]) -> Result<ReadBack> {
        let mut hashers: Vec<_> = algos.iter().map(|a| a.hasher()).collect();
        let mut body = self.store.get_stream(key, GetOptions::new()).await?.body;
        let mut back = ReadBack::default();
        while let Some(chunk) = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await {
            let chunk = chunk?;
            back.crc = crc32c::crc32c_append(back.crc, &chunk);
            back.size += chunk.len() as u64;
            let room = (HEAD_BYTES as usize).saturating_sub(back.head.len());
            back.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
            for h in &mut hashers {
                h.update(&chunk);
            }
        }
        back.sums = hashers
            .into_iter()
            .map(crate::checksum::Hasher::finish)
            .collect();
        Ok(back)
    }

    /// The first bytes of the upload: the first part's, up to 64 KiB, and
    /// the next parts' while there are fewer than `want` (however small the
    /// parts are, enough to sniff the type or read most image headers).
    async fn read_head(&self, parts: &[Part], want: u64) -> Result<Bytes> {
        let mut out = BytesMut::new();
        let mut at = 0u64;
        for p in parts {
            if at >= HEAD_BYTES || (at > 0 && at >= want) || p.offset > at {
                break;
            }
            if p.end() <= at {
                continue;
            }
            let range = at - p.offset..p.len.min(at - p.offset + HEAD_BYTES - at);
            match self
                .store
                .get(&p.key, GetOptions::new().with_range(range.clone()))
                .await
            {
                Ok(r) if r.data.len() as u64 == range.end - range.start => {
                    out.extend_from_slice(&r.data);
                }
                Ok(_) | Err(blocksmith_store::Error::InvalidRange { .. }) => {
                    return Err(Error::CorruptPart {
                        range: p.offset..p.end(),
                    });
                }
                Err(blocksmith_store::Error::NotFound { .. }) => {
                    return Err(Error::Incomplete {
                        missing: p.len,
                        first: p.offset..p.end(),
                    });
                }
                Err(e) => return Err(e.into()),
            }
            at = p.offset + range.end;
        }
        Ok(out.freeze())
    }

    /// What finalize does with the bytes besides verifying them: images are
    /// checked against the image limits (and set up for stripping), other
    /// files only against the allowed types.
    async fn classify(
        &self,
        session: &Session,
        length: u64,
        parts: &[Part],
        head: &[u8],
    ) -> Result<Content> {
        self.check_type(head, head.len() as u64 == length)?;
        if !is_image(head) {
            return Ok(Content::Plain);
        }
        if length > self.options.max_image_bytes {
            return Err(Error::ImageBytesTooLarge {
                size: length,
                limit: self.options.max_image_bytes,
            });
        }
        let format = image::format_of(head);
        if let Some(scanner) = format.and_then(|f| image::Scanner::new(f, session.strip_metadata)) {
            return Ok(Content::Scan(scanner));
        }
        if session.strip_metadata {
            return Err(Error::CannotStrip {
                format: format.map_or("unknown", ImageFormat::name),
            });
        }
        // BMP, TIFF, HEIF, AVIF: their headers may lie anywhere in the file.
        let probed = match image::probe_all(head) {
            Err(e) if image::is_truncated(&e) && (head.len() as u64) < length => {
                let (data, _) = self.assemble(length, parts).await?;
                image::probe_all(&data)
            }
            r => r,
        };
        match (probed, self.options.max_image_pixels) {
            (Ok(Some(p)), Some(limit)) => {
                p.check(limit)?;
                Ok(Content::Probed(Some(p.info)))
            }
            (Ok(p), None) => Ok(Content::Probed(p.map(|p| p.info))),
            (Err(_), None) => Ok(Content::Probed(None)),
            (Err(e), Some(_)) => Err(e),
            (Ok(None), Some(_)) => Err(Error::InvalidImage {
                format: "unknown",
                reason: "dimensions not found",
            }),
        }
    }

    /// Reads every part back in windows (all of them when `reread`, else only
    /// those a race made overlap) and checks it against the CRC-32C in
    /// its name (a corrupt part is deleted and reported), feeding the bytes
    /// the object uses to `hashers` and to `collect`. Returns the CRC-32C of
    /// the bytes `range` (the whole upload, `0..length`, or a run of it the
    /// `parts` cover), combined from the parts' with no extra pass, and the
    /// parts to compose.
    async fn verify_parts(
        &self,
        range: Range<u64>,
        parts: &[Part],
        hashers: &mut [(Algorithm, crate::checksum::Hasher)],
        reread: bool,
        mut collect: Collect<'_>,
    ) -> Result<(u32, Vec<ComposePart>)> {
        let length = range.end;
        let mut crc = 0u32;
        let mut at = range.start;
        let mut pieces = Vec::with_capacity(parts.len());
        for p in parts {
            if p.end() > length {
                // Stored past a length declared meanwhile (a race between
                // `put_part` and `declare_length` on two engines).
                return Err(Error::OutOfBounds {
                    range: p.offset..p.end(),
                    length,
                });
            }
            if p.end() <= at {
                continue; // fully covered by earlier parts (a racing duplicate)
            }
            if p.offset > at {
                return Err(Error::Incomplete {
                    missing: p.offset - at,
                    first: at..p.offset,
                });
            }
            let skip = at - p.offset;
            if !reread && skip == 0 {
                crc = crc32c::crc32c_combine(crc, p.crc, p.len as usize);
                pieces.push(ComposePart::new(p.key.clone()));
                at = p.end();
                continue;
            }
            let corrupt = || Error::CorruptPart {
                range: p.offset..p.end(),
            };
            let (mut part_crc, mut used_crc) = (0u32, 0u32);
            let mut off = 0u64;
            while off < p.len {
                let end = (off + VERIFY_WINDOW).min(p.len);
                let got = self
                    .store
                    .get(&p.key, GetOptions::new().with_range(off..end))
                    .await;
                let data = match got {
                    Ok(r) if r.meta.size == p.len && r.data.len() as u64 == end - off => r.data,
                    Ok(_) | Err(blocksmith_store::Error::InvalidRange { .. }) => {
                        self.store.delete(&p.key).await?;
                        return Err(corrupt());
                    }
                    Err(blocksmith_store::Error::NotFound { .. }) => {
                        return Err(Error::Incomplete {
                            missing: p.len,
                            first: p.offset..p.end(),
                        });
                    }
                    Err(e) => return Err(e.into()),
                };
                part_crc = crc32c::crc32c_append(part_crc, &data);
                let used = &data[(skip.saturating_sub(off).min(end - off)) as usize..];
                if skip > 0 {
                    used_crc = crc32c::crc32c_append(used_crc, used);
                }
                for (_, h) in hashers.iter_mut() {
                    h.update(used);
                }
                match &mut collect {
                    Collect::Nothing => {}
                    Collect::Bytes(out) => out.extend_from_slice(used),
                    Collect::Image(sink) => {
                        sink.feed(used)?;
                        self.flush_sink(sink, false).await?;
                    }
                    Collect::Slots(sink) => {
                        sink.buf.extend_from_slice(used);
                        self.flush_slots(sink).await?;
                    }
                }
                off = end;
            }
            if part_crc != p.crc {
                self.store.delete(&p.key).await?;
                return Err(corrupt());
            }
            let used_len = p.len - skip;
            crc = crc32c::crc32c_combine(
                crc,
                if skip == 0 { p.crc } else { used_crc },
                used_len as usize,
            );
            let piece = ComposePart::new(p.key.clone());
            pieces.push(if skip == 0 {
                piece
            } else {
                piece.with_range(skip..p.len)
            });
            at = p.end();
        }
        if let Some(missing) = length.checked_sub(at).filter(|&m| m > 0) {
            return Err(Error::Incomplete {
                missing,
                first: at..length,
            });
        }
        Ok((crc, pieces))
    }

    /// Puts every whole slot a joining sink holds as its multipart part.
    async fn flush_slots(&self, sink: &mut SlotSink) -> Result<()> {
        while sink.at < sink.length && sink.buf.len() as u64 >= sink.slot_len() {
            let n = sink.slot_len() as usize;
            let data = sink.buf.split_to(n).freeze();
            let slot = sink.at / sink.part_size;
            let number = u32::try_from(slot + 1).map_err(|_| Error::TooManyParts {
                limit: u64::from(u32::MAX),
            })?;
            let part = self
                .store
                .put_part(&sink.target, &sink.upload, number, data)
                .await?;
            sink.done.push((slot, part));
            sink.at += n as u64;
        }
        Ok(())
    }

    /// Writes out what a stripping sink holds, in pieces of at most
    /// [`STRIP_PIECE`] bytes (all of it when `all`, else only whole pieces).
    async fn flush_sink(&self, sink: &mut ImageSink, all: bool) -> Result<()> {
        while sink.buf.len() >= STRIP_PIECE || (all && !sink.buf.is_empty()) {
            let n = sink.buf.len().min(STRIP_PIECE);
            let rest = sink.buf.split_off(n);
            let piece = Bytes::from(std::mem::replace(&mut sink.buf, rest));
            let key = Key::new(format!("{}{:08x}", sink.prefix, sink.keys.len()))?;
            sink.keys.push(key.clone());
            self.store
                .put(&key, piece.clone(), PutOptions::new())
                .await?;
            sink.crc = crc32c::crc32c_combine(sink.crc, crc32c::crc32c(&piece), piece.len());
            sink.len += piece.len() as u64;
            sink.pieces.push(ComposePart::new(key));
        }
        Ok(())
    }

    /// Ends an image walk: the last piece, and the header that goes first
    /// (WebP), written out.
    async fn finish_sink(&self, sink: &mut ImageSink) -> Result<image::Scanned> {
        let scanner = sink.scanner.take().expect("finished once");
        let scanned = scanner.finish()?;
        if !sink.strip {
            return Ok(scanned);
        }
        self.flush_sink(sink, true).await?;
        if !scanned.prefix.is_empty() {
            let key = Key::new(format!("{}head", sink.prefix))?;
            sink.keys.push(key.clone());
            let head = Bytes::from(scanned.prefix.clone());
            self.store
                .put(&key, head.clone(), PutOptions::new())
                .await?;
            sink.crc = crc32c::crc32c_combine(crc32c::crc32c(&head), sink.crc, sink.len as usize);
            sink.len += head.len() as u64;
            sink.pieces.insert(0, ComposePart::new(key));
        }
        Ok(scanned)
    }

    /// Reads `pieces` (as [`Store::compose`] would join them) in windows,
    /// feeding `f`; returns how many bytes there were.
    async fn read_pieces(&self, pieces: &[ComposePart], mut f: impl FnMut(&[u8])) -> Result<u64> {
        let mut total = 0u64;
        for p in pieces {
            let size = self.store.head(&p.key).await?.size;
            let range = match &p.range {
                Some(r) => r.resolve(&p.key, size)?,
                None => 0..size,
            };
            let mut off = range.start;
            while off < range.end {
                let end = (off + VERIFY_WINDOW).min(range.end);
                let r = self
                    .store
                    .get(&p.key, GetOptions::new().with_range(off..end))
                    .await?;
                f(&r.data);
                total += r.data.len() as u64;
                off = end;
            }
        }
        Ok(total)
    }

    /// The key a session publishes to, and the condition: create-only
    /// unless the session may overwrite.
    fn target_of(session: &Session) -> Result<(Key, PutOptions)> {
        let mode = if session.overwrite {
            PutOptions::new()
        } else {
            PutOptions::create()
        };
        Ok((Key::new(session.target.as_str())?, mode))
    }

    /// A create-only publication found `target` taken: published before a
    /// crash (it holds the bytes of `pieces`), or someone else's object.
    /// Compared by SHA-256 in windows, never in memory whole.
    async fn check_taken(
        &self,
        session: &Session,
        target: &Key,
        pieces: &[ComposePart],
        size: u64,
    ) -> Result<()> {
        let taken = || Error::TargetExists {
            key: session.target.clone(),
        };
        match self.store.head(target).await {
            Ok(meta) if meta.size == size => {}
            Ok(_) | Err(blocksmith_store::Error::NotFound { .. }) => return Err(taken()),
            Err(e) => return Err(e.into()),
        }
        let mut ours = Algorithm::Sha256.hasher();
        self.read_pieces(pieces, |d| ours.update(d)).await?;
        let mut theirs = Algorithm::Sha256.hasher();
        let n = self
            .read_pieces(&[ComposePart::new(target.clone())], |d| theirs.update(d))
            .await?;
        if n != size || ours.finish() != theirs.finish() {
            return Err(taken());
        }
        Ok(())
    }

    /// Verifies the parts (and walks an image through its scanner), then
    /// publishes with [`Store::compose`]: the parts themselves, joined by the
    /// store without a copy where it can (`DirStore`, `MemoryStore`), or the
    /// pieces of a stripped image.
    async fn publish(
        &self,
        session: &Session,
        length: u64,
        parts: &[Part],
        head: &[u8],
        content: Content,
    ) -> Result<Published> {
        let (mut sink, info) = match content {
            Content::Plain => (None, None),
            Content::Probed(info) => (None, info),
            Content::Scan(scanner) => {
                let nonce = random_id()?;
                let prefix = format!("{}{nonce}-", self.strip_prefix(&session.id));
                (
                    Some(ImageSink::new(scanner, session.strip_metadata, prefix)),
                    None,
                )
            }
        };
        let result = self
            .publish_inner(session, length, parts, head, sink.as_mut(), info)
            .await;
        // The pieces of a stripped image are in the object now (or were for
        // nothing): drop them, whatever happened.
        if let Some(sink) = &sink {
            for key in &sink.keys {
                let deleted = self.store.delete(key).await;
                if result.is_ok() {
                    deleted?;
                }
            }
        }
        result
    }

    async fn publish_inner(
        &self,
        session: &Session,
        length: u64,
        parts: &[Part],
        head: &[u8],
        mut sink: Option<&mut ImageSink>,
        info: Option<ImageInfo>,
    ) -> Result<Published> {
        let digest = self.options.digest;
        let strip = sink.as_ref().is_some_and(|s| s.strip);
        let mut hashers = Vec::new();
        if let Some(e) = session
            .expected
            .as_ref()
            .filter(|e| e.algorithm != Algorithm::Crc32c)
        {
            hashers.push((e.algorithm, e.algorithm.hasher()));
        }
        // The digest of what is published: of the upload, unless stripped.
        if !strip && digest != Algorithm::Crc32c && !hashers.iter().any(|(a, _)| *a == digest) {
            hashers.push((digest, digest.hasher()));
        }
        let reread = sink.is_some() || self.options.verify == Verify::Reread || !hashers.is_empty();
        let collect = match sink.as_deref_mut() {
            Some(s) => Collect::Image(s),
            None => Collect::Nothing,
        };
        let (crc, pieces) = self
            .verify_parts(0..length, parts, &mut hashers, reread, collect)
            .await?;
        let scanned = match sink.as_deref_mut() {
            Some(s) => Some(self.finish_sink(s).await?),
            None => None,
        };
        if let (Some(s), Some(limit)) = (&scanned, self.options.max_image_pixels) {
            s.info.check_pixels(limit)?;
            s.largest.check_pixels(limit)?;
        }
        let sums: Vec<Checksum> = hashers.into_iter().map(|(_, h)| h.finish()).collect();
        let sum_of = |a: Algorithm| {
            if a == Algorithm::Crc32c {
                Checksum {
                    algorithm: a,
                    digest: crc.to_be_bytes().to_vec(),
                }
            } else {
                sums.iter()
                    .find(|c| c.algorithm == a)
                    .cloned()
                    .expect("a hasher per algorithm needed")
            }
        };
        if let Some(expected) = session
            .expected
            .as_ref()
            .filter(|e| sum_of(e.algorithm).digest != e.digest)
        {
            // Some part holds other bytes than the ones expected, and no one
            // can tell which: drop them all, so the same session can still
            // be completed by sending the right bytes again.
            self.delete_parts(&session.id).await?;
            return Err(Error::ChecksumMismatch {
                what: "upload",
                algorithm: expected.algorithm.name(),
            });
        }
        let info = scanned.as_ref().map(|s| s.info).or(info);
        let (pieces, size, checksum, stripped_bytes) = match (sink, &scanned) {
            (Some(s), Some(scanned)) if s.strip => {
                let checksum = if digest == Algorithm::Crc32c {
                    Checksum {
                        algorithm: digest,
                        digest: s.crc.to_be_bytes().to_vec(),
                    }
                } else {
                    let mut h = digest.hasher();
                    self.read_pieces(&s.pieces, |d| h.update(d)).await?;
                    h.finish()
                };
                let pieces = std::mem::take(&mut s.pieces);
                (pieces, s.len, checksum, scanned.stripped.bytes as u64)
            }
            _ => (pieces, length, sum_of(digest), 0),
        };
        let (target, mode) = Self::target_of(session)?;
        match self.store.compose(&target, &pieces, mode).await {
            Ok(_) => {}
            Err(blocksmith_store::Error::AlreadyExists { .. }) => {
                self.check_taken(session, &target, &pieces, size).await?;
            }
            Err(e) => return Err(e.into()),
        }
        Ok(Published {
            key: session.target.clone(),
            size,
            checksum,
            content_type: magic::sniff(head).to_string(),
            image: info,
            stripped_bytes,
        })
    }

    /// Marks the session finalized (unless a racing finalize did first), then
    /// deletes the parts.
    async fn record_published(&self, id: &str, published: Published) -> Result<Published> {
        let mut winner = None;
        self.store
            .update_record::<Session, _>(&self.session_key(id)?, |cur| {
                let Some(mut cur) = cur else {
                    return Err(blocksmith_store::Error::NotFound { key: id.into() });
                };
                if let SessionState::Finalized(p) = &cur.state {
                    winner = Some(p.clone());
                    return Ok(None);
                }
                cur.state = SessionState::Finalized(published.clone());
                Ok(Some(cur))
            })
            .await?;
        self.delete_parts(id).await?;
        Ok(winner.unwrap_or(published))
    }

    /// Aborts a session, its multipart upload (if it has one) and deletes its
    /// parts (tus termination), so no storage of it is left. The record
    /// stays as a tombstone until [`Uploads::expire`]. Idempotent.
    ///
    /// # Errors
    /// [`Error::InvalidId`] if `id` is not a valid session id; [`Error::NotFound`]
    /// if no session has it; [`Error::InvalidState`] if the session is
    /// finalized; [`Error::Store`] if the store fails (aborting the multipart
    /// upload too: call again) or the session record is not of this version.
    pub async fn abort(&self, id: &str) -> Result<()> {
        let s = self.session(id).await?;
        if let SessionState::Finalized(_) = s.state {
            return Err(Error::InvalidState {
                id: id.into(),
                reason: "already finalized",
            });
        }
        let mut upload = s.multipart.clone();
        self.store
            .update_record::<Session, _>(&self.session_key(id)?, |cur| {
                if let Some(c) = &cur {
                    upload.clone_from(&c.multipart);
                }
                Ok(cur.filter(|c| c.state == SessionState::Open).map(|mut c| {
                    c.state = SessionState::Aborted;
                    c
                }))
            })
            .await?;
        if let Some(mp) = upload {
            let at = Self::upload_key_of(&s.target, &mp)?;
            self.store.abort_multipart(&at, &mp.upload).await?;
        }
        self.delete_parts(id).await?;
        self.delete_staging(&s).await?;
        Ok(())
    }

    /// Removes sessions past their expiry (open ones with their parts and
    /// multipart upload, finalized and aborted tombstones), parts of no open
    /// session, and undecodable session records.
    ///
    /// # Errors
    /// [`Error::Store`] if the store fails to list, read or delete (nothing
    /// is deleted on a failed read). A session record whose bytes are
    /// damaged is deleted and counted, not an error; one written by a newer
    /// release is kept with its parts; a session whose multipart upload
    /// cannot be aborted is kept for the next run
    /// ([`ExpireReport::deferred`]).
    pub async fn expire(&self) -> Result<ExpireReport> {
        let now = self.now();
        let mut report = ExpireReport::default();
        let sprefix = format!("{}/sessions/", self.options.prefix);
        let mut live = std::collections::HashSet::new();
        for meta in self.store.list_all(&sprefix).await? {
            let id = meta.key.as_str()[sprefix.len()..].to_string();
            let session = match self.store.get_record::<Session>(&meta.key).await {
                Ok(Some((s, _))) => s,
                Ok(None) => continue,
                // A record a newer release wrote (a rolling upgrade): its
                // session lives on, parts included.
                Err(blocksmith_store::Error::SchemaMismatch {
                    found, expected, ..
                }) if found > expected => {
                    live.insert(id);
                    continue;
                }
                // Damaged bytes: nothing can resume that session.
                Err(
                    blocksmith_store::Error::Corrupt { .. }
                    | blocksmith_store::Error::Serde { .. }
                    | blocksmith_store::Error::SchemaMismatch { .. },
                ) => {
                    self.store.delete(&meta.key).await?;
                    report.corrupt_records += 1;
                    continue;
                }
                // The store failed (perhaps only for a moment): say so, and
                // delete nothing on a guess.
                Err(e) => return Err(e.into()),
            };
            if session.expires_at <= now {
                if let Some(mp) = &session.multipart {
                    let aborted = match Self::upload_key(&session) {
                        Ok(at) => self
                            .store
                            .abort_multipart(&at, &mp.upload)
                            .await
                            .map_err(Error::from),
                        Err(e) => Err(e),
                    };
                    if aborted.is_err() {
                        // Kept (with its parts) so the next run tries again.
                        report.deferred += 1;
                        live.insert(id);
                        continue;
                    }
                }
                report.parts += self.delete_parts(&id).await?;
                self.store.delete(&meta.key).await?;
                report.sessions += 1;
            } else if session.state == SessionState::Open {
                live.insert(id);
            }
        }
        // Parts, pieces of stripped images and staging objects of no open
        // session (a published one's staging object is garbage too). A
        // session another node created after the listing above has its
        // record written before any of its parts, so reading the record
        // again before deleting keeps its parts.
        let mut rechecked: std::collections::HashMap<String, bool> =
            std::collections::HashMap::new();
        for dir in ["parts", "strip", "staging"] {
            let pprefix = format!("{}/{dir}/", self.options.prefix);
            for meta in self.store.list_all(&pprefix).await? {
                let rest = &meta.key.as_str()[pprefix.len()..];
                let id = rest.split('/').next().unwrap_or("");
                if live.contains(id) {
                    continue;
                }
                let keep = if let Some(&keep) = rechecked.get(id) {
                    keep
                } else {
                    let keep = self.still_open(id, now).await?;
                    rechecked.insert(id.to_string(), keep);
                    keep
                };
                if !keep {
                    self.store.delete(&meta.key).await?;
                    report.orphans += 1;
                }
            }
        }
        Ok(report)
    }

    /// Whether session `id` is open and not expired as stored now (or
    /// written by a newer release): its parts are not garbage.
    async fn still_open(&self, id: &str, now: u64) -> Result<bool> {
        let Ok(key) = self.session_key(id) else {
            return Ok(false);
        };
        match self.store.get_record::<Session>(&key).await {
            Ok(Some((s, _))) => Ok(s.state == SessionState::Open && s.expires_at > now),
            Err(blocksmith_store::Error::SchemaMismatch {
                found, expected, ..
            }) if found > expected => Ok(true),
            Ok(None)
            | Err(
                blocksmith_store::Error::Corrupt { .. }
                | blocksmith_store::Error::Serde { .. }
                | blocksmith_store::Error::SchemaMismatch { .. },
            ) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Lists the ids of every stored session.
    ///
    /// # Errors
    /// [`Error::Store`] if the store fails to list.
    pub async fn list(&self) -> Result<Vec<String>> {
        let sprefix = format!("{}/sessions/", self.options.prefix);
        Ok(self
            .store
            .list_all(&sprefix)
            .await?
            .into_iter()
            .map(|m| m.key.as_str()[sprefix.len()..].to_string())
            .collect())
    }

    /// Concatenates complete partial sessions into a new session (tus
    /// `concatenation`) and finalizes it. The partials stay until they expire.
    ///
    /// # Errors
    /// - [`Error::Invalid`] if `sources` is empty;
    /// - as [`Uploads::status`] for each source; [`Error::InvalidState`] if a
    ///   source is not a partial upload or is incomplete; [`Error::Gone`] if it is
    ///   not open;
    /// - [`Error::TooLarge`] or [`Error::TooManyParts`] if the sum of the lengths
    ///   is too large;
    /// - as [`Uploads::create`] for `options`;
    /// - [`Error::CorruptPart`] or [`Error::Incomplete`] if a source's stored
    ///   parts no longer check out; then as [`Uploads::finalize`].
    pub async fn concat(
        &self,
        sources: &[String],
        options: CreateOptions,
    ) -> Result<(Session, Published)> {
        if sources.is_empty() {
            return Err(Error::invalid("concatenation", "no partial uploads"));
        }
        let mut plan = Vec::with_capacity(sources.len());
        let mut total = 0u64;
        for sid in sources {
            let st = self.status(sid).await?;
            if !st.session.partial {
                return Err(Error::InvalidState {
                    id: sid.clone(),
                    reason: "not a partial upload",
                });
            }
            if st.session.state != SessionState::Open {
                return Err(Error::Gone {
                    id: sid.clone(),
                    reason: "not open",
                });
            }
            if !st.is_complete() {
                return Err(Error::InvalidState {
                    id: sid.clone(),
                    reason: "partial upload is incomplete",
                });
            }
            let len = st.session.length.unwrap_or(0);
            plan.push((st.session, total, len));
            total = total.checked_add(len).ok_or(Error::TooLarge {
                what: "upload",
                size: u64::MAX,
                limit: self.options.max_size,
            })?;
        }
        self.check_length(total)?;
        let mut options = options;
        options.length = Some(total);
        options.partial = false;
        let opened = self.create_inner(options, sources.to_vec()).await?;
        let id = opened.session.id.clone();
        if opened.session.state == SessionState::Open {
            for (partial, base, len) in plan {
                // Each partial upload becomes one part of the final one,
                // composed by the store (no copy where it can).
                let parts = self.parts(&partial).await?;
                let reread = self.options.verify == Verify::Reread;
                let (crc, pieces) = self
                    .verify_parts(0..len, &parts, &mut [], reread, Collect::Nothing)
                    .await?;
                if len == 0 {
                    continue;
                }
                let key = self.part_key(&id, base, len, crc)?;
                self.store.compose(&key, &pieces, PutOptions::new()).await?;
            }
        }
        let published = self.finalize(&id).await?;
        let session = self.session(&id).await?;
        Ok((session, published))
    }
}

/// Blocking calls over [`Uploads`] (see [`Uploads::blocking`]): each method
/// drives the async one of the same name and arguments with
/// [`blocksmith_store::block_on`]. For synchronous code; on an async runtime
/// use the async methods.
#[derive(Debug)]
pub struct BlockingUploads<'a, S>(&'a Uploads<S>);

impl<S: Store> BlockingUploads<'_, S> {
    /// [`Uploads::create`].
    ///
    /// # Errors
    /// As [`Uploads::create`].
    pub fn create(&self, options: CreateOptions) -> Result<Opened> {
        blocksmith_store::block_on(self.0.create(options))
    }

    /// [`Uploads::session`].
    ///
    /// # Errors
    /// As [`Uploads::session`].
    pub fn session(&self, id: &str) -> Result<Session> {
        blocksmith_store::block_on(self.0.session(id))
    }

    /// [`Uploads::received`].
    ///
    /// # Errors
    /// As [`Uploads::received`].
    pub fn received(&self, id: &str) -> Result<Vec<Received>> {
        blocksmith_store::block_on(self.0.received(id))
    }

    /// [`Uploads::status`].
    ///
    /// # Errors
    /// As [`Uploads::status`].
    pub fn status(&self, id: &str) -> Result<Status> {
        blocksmith_store::block_on(self.0.status(id))
    }

    /// [`Uploads::declare_length`].
    ///
    /// # Errors
    /// As [`Uploads::declare_length`].
    pub fn declare_length(&self, id: &str, length: u64) -> Result<Session> {
        blocksmith_store::block_on(self.0.declare_length(id, length))
    }

    /// [`Uploads::put_part`].
    ///
    /// # Errors
    /// As [`Uploads::put_part`].
    pub fn put_part(
        &self,
        id: &str,
        offset: u64,
        data: Bytes,
        checksum: Option<&Checksum>,
    ) -> Result<Status> {
        blocksmith_store::block_on(self.0.put_part(id, offset, data, checksum))
    }

    /// [`Uploads::finalize`].
    ///
    /// # Errors
    /// As [`Uploads::finalize`].
    pub fn finalize(&self, id: &str) -> Result<Published> {
        blocksmith_store::block_on(self.0.finalize(id))
    }

    /// [`Uploads::abort`].
    ///
    /// # Errors
    /// As [`Uploads::abort`].
    pub fn abort(&self, id: &str) -> Result<()> {
        blocksmith_store::block_on(self.0.abort(id))
    }

    /// [`Uploads::expire`].
    ///
    /// # Errors
    /// As [`Uploads::expire`].
    pub fn expire(&self) -> Result<ExpireReport> {
        blocksmith_store::block_on(self.0.expire())
    }

    /// [`Uploads::list`].
    ///
    /// # Errors
    /// As [`Uploads::list`].
    pub fn list(&self) -> Result<Vec<String>> {
        blocksmith_store::block_on(self.0.list())
    }

    /// [`Uploads::concat`].
    ///
    /// # Errors
    /// As [`Uploads::concat`].
    pub fn concat(
        &self,
        sources: &[String],
        options: CreateOptions,
    ) -> Result<(Session, Published)> {
        blocksmith_store::block_on(self.0.concat(sources, options))
    }
}
