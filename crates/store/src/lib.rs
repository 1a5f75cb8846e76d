#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod blocking;
mod compose;
pub mod conformance;
mod dir;
mod error;
mod ext;
mod key;
mod memory;
mod multipart;
#[cfg(feature = "object-store")]
mod object;
mod offload;
#[cfg(feature = "postgres")]
mod postgres;
pub mod record;
#[cfg(feature = "redb")]
mod redb_store;
#[cfg(feature = "sqlite")]
mod sqlite;
mod stream;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod traits;
mod types;

pub use blocking::block_on;
/// The byte buffer of every value (re-exported from the `bytes` crate).
pub use bytes::Bytes;
pub use compose::{ComposePart, compose_by_copy};
pub use dir::DirStore;
pub use error::{Error, Result};
pub use ext::{Blocking, BlockingBody, DEFAULT_UPDATE_ATTEMPTS, StoreExt};
/// The stream traits a user of [`Store::get_stream`] and
/// [`Store::put_stream`] needs (`next().await`, `map`, `try_collect`...),
/// re-exported so that no other dependency is needed for them.
pub use futures_core::Stream;
pub use futures_util::{StreamExt, TryStreamExt};
pub use key::{Key, MAX_KEY_LEN};
pub use memory::MemoryStore;
pub use multipart::{MultipartId, MultipartLimits, PartId};
#[cfg(feature = "object-store")]
pub use object::ObjectStoreAdapter;
/// The `object_store` crate the adapter is built on, re-exported so that a
/// host builds its `AmazonS3` (or other) client with the same version.
#[cfg(feature = "object-store")]
pub use object_store;
pub use offload::{BlockingPool, Offload};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{MAX_TABLE_PREFIX_LEN, PostgresOptions, PostgresStore};
pub use record::Record;
#[cfg(feature = "redb")]
pub use redb_store::{RedbOptions, RedbStore};
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub use sqlite::{SqliteOptions, SqliteStore};
pub use stream::{
    ByteStream, GetStream, STREAM_CHUNK, byte_stream, get_stream_by_ranges, put_stream_collected,
    reader_stream,
};
pub use traits::{BoxFuture, DynStore, Store};
pub use types::{
    ByteRange, Capabilities, GetOptions, GetResult, ListOptions, ListPage, ObjectMeta, PutMode,
    PutOptions, PutResult, Version,
};
