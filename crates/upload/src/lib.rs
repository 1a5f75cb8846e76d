//! Resumable chunked uploads for the Blocksmith SDK.
//!
//! Large files go up in parts that survive disconnects and crashes on either
//! side, are verified, and are assembled into one object in the store.
//!
//! - [`session`]: the engine ([`Uploads`]): sessions with a declared or
//!   deferred length, parts in any order with checksums, offset and missing
//!   ranges for resuming, finalize (assemble, verify, publish create-only),
//!   abort, expiry; validation up front (size, part bounds like S3's, content
//!   type by magic bytes, image size and pixel limits).
//! - [`tus`]: the tus 1.0 protocol (core, creation, creation-with-upload,
//!   creation-defer-length, expiration, checksum, termination,
//!   concatenation) as plain request and response values, for any HTTP stack.
//! - [`cdc`], [`manifest`], [`dedup`]: FastCDC content-defined chunking,
//!   chunk-level dedup across uploads with a manifest per object, and a client
//!   [`dedup::Plan`] that sends only the chunks the server lacks.
//! - [`image`]: dimensions from headers (PNG, JPEG, GIF, WebP, BMP, TIFF,
//!   HEIF, AVIF), decompression-bomb checks, streaming metadata stripping by
//!   an allowlist (JPEG, PNG, GIF, WebP); [`magic`]: content types by magic
//!   bytes; [`checksum`].
//! - [`client`]: a resumable uploader of a local buffer.
//!
//! ```
//! use blocksmith_store::{MemoryStore, StoreExt, Key, block_on};
//! use blocksmith_upload::{Algorithm, CreateOptions, UploadOptions, Uploads};
//! use bytes::Bytes;
//!
//! let store = MemoryStore::new();
//! let uploads = Uploads::with_options(&store, UploadOptions::default().with_part_size(4, 1 << 20));
//! let file = Bytes::from_static(b"hello, resumable world!");
//! block_on(async {
//!     let opened = uploads
//!         .create(CreateOptions::with_length(file.len() as u64)
//!             .with_target("files/hello.txt")
//!             .with_expected(Algorithm::Sha256.digest(&file)))
//!         .await?;
//!     let id = opened.session.id;
//!     // Parts in any order, each with its checksum.
//!     let tail = file.slice(12..);
//!     uploads.put_part(&id, 12, tail.clone(), Some(&Algorithm::Crc32c.digest(&tail))).await?;
//!     // After a crash, ask what is missing and send only that.
//!     let status = uploads.status(&id).await?;
//!     assert_eq!(status.missing, vec![0..12]);
//!     uploads.put_part(&id, 0, file.slice(0..12), None).await?;
//!     let published = uploads.finalize(&id).await?;
//!     assert_eq!(published.key, "files/hello.txt");
//!     Ok::<_, blocksmith_upload::Error>(())
//! }).unwrap();
//! let key = Key::new("files/hello.txt").unwrap();
//! assert_eq!(&store.blocking().get(&key).unwrap().data[..], b"hello, resumable world!");
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cdc;
pub mod checksum;
pub mod client;
pub mod dedup;
mod error;
pub mod image;
pub mod magic;
pub mod manifest;
pub mod session;
pub mod tus;

pub use checksum::{Algorithm, Checksum};
pub use error::{Error, Result};
pub use session::{
    CreateOptions, ExpireReport, Opened, Published, Session, SessionState, Status, UploadOptions,
    Uploads, Verify,
};
