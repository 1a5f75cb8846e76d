//! Chunk-level deduplication across uploads: content-addressed chunks, a
//! [`Manifest`] per object, and a client-side [`Plan`] that sends only the
//! chunks the server does not have.
//!
//! # Layout in the store
//! Under the prefix `P` (default `dedup`):
//! - `P/chunks/<sha256 hex>`: a chunk's bytes, written create-only;
//! - `P/manifests/<name>`: the manifest of object `name`.
//!
//! A manifest is written only after every chunk it names is stored, so a
//! crash leaves at worst unreferenced chunks, which [`DedupStore::gc`] removes.
//! Run `gc` when no upload is in flight: a chunk sent but not yet committed is
//! unreferenced too.

use crate::cdc::{CdcOptions, Chunker};
use crate::checksum::{hex, sha256, unhex};
use crate::manifest::{ChunkRef, Manifest};
use crate::{Error, Result};
use blocksmith_store::{GetOptions, Key, PutOptions, Store, StoreExt};
use bytes::{Bytes, BytesMut};
use std::collections::HashSet;

/// A client's plan for one file: its chunks and their hashes.
///
/// ```
/// use blocksmith_upload::cdc::CdcOptions;
/// use blocksmith_upload::dedup::{DedupStore, Plan};
/// use blocksmith_store::{MemoryStore, block_on};
/// let store = MemoryStore::new();
/// let dedup = DedupStore::new(&store);
/// let v1: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
/// let mut v2 = v1.clone();
/// v2[150_000] ^= 1; // a one-byte edit
/// let config = CdcOptions::new(4096, 16384, 65536).unwrap();
/// block_on(async {
///     dedup.upload("v1", &v1, &Plan::new(&v1, config)?).await?;
///     let report = dedup.upload("v2", &v2, &Plan::new(&v2, config)?).await?;
///     assert!(report.bytes_sent < v2.len() as u64 / 4); // only the edited chunk travels
///     assert_eq!(dedup.read("v2").await?, v2);
///     Ok::<_, blocksmith_upload::Error>(())
/// }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Plan {
    manifest: Manifest,
    offsets: Vec<u64>,
}

impl Plan {
    /// Chunks `data` with `config` and hashes every chunk.
    ///
    /// # Errors
    /// [`Error::Invalid`] only if the chunker's spans did not tile `data`, which
    /// they always do (a chunk is at most `max_size`, at most 1 GiB).
    pub fn new(data: &[u8], config: CdcOptions) -> Result<Self> {
        let spans: Vec<_> = Chunker::new(data, config).map(|s| s.range()).collect();
        let offsets = spans.iter().map(|r| r.start as u64).collect();
        Ok(Plan {
            manifest: Manifest::build(data, spans)?,
            offsets,
        })
    }

    /// The manifest the upload will commit.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Byte range of chunk `i` in the file.
    ///
    /// # Panics
    /// If `i` is not less than the number of chunks (`manifest().chunks.len()`),
    /// as indexing a slice does.
    pub fn range(&self, i: usize) -> std::ops::Range<usize> {
        let start = self.offsets[i] as usize;
        start..start + self.manifest.chunks[i].len as usize
    }

    /// Distinct chunk hashes, in first-appearance order.
    pub fn distinct(&self) -> Vec<[u8; 32]> {
        let mut seen = HashSet::new();
        self.manifest
            .chunks
            .iter()
            .filter(|c| seen.insert(c.hash))
            .map(|c| c.hash)
            .collect()
    }

    /// Bytes that dedup saves within the file itself (repeated chunks).
    pub fn internal_dedup_ratio(&self) -> f64 {
        let distinct: HashSet<_> = self.manifest.chunks.iter().collect();
        let unique: u64 = distinct.iter().map(|c| u64::from(c.len)).sum();
        if unique == 0 {
            1.0
        } else {
            self.manifest.length as f64 / unique as f64
        }
    }

    /// Fraction of this file's bytes that are in chunks `other` also has.
    pub fn shared_fraction(&self, other: &Plan) -> f64 {
        let theirs: HashSet<_> = other.manifest.chunks.iter().map(|c| c.hash).collect();
        let shared: u64 = self
            .manifest
            .chunks
            .iter()
            .filter(|c| theirs.contains(&c.hash))
            .map(|c| u64::from(c.len))
            .sum();
        if self.manifest.length == 0 {
            1.0
        } else {
            shared as f64 / self.manifest.length as f64
        }
    }
}

/// What [`DedupStore::upload`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadReport {
    /// Chunks in the file.
    pub chunks: usize,
    /// Chunks sent (the server did not have them).
    pub chunks_sent: usize,
    /// Bytes sent.
    pub bytes_sent: u64,
    /// Bytes the server already had.
    pub bytes_reused: u64,
}

/// Content-addressed chunks and manifests over a [`Store`].
#[derive(Debug, Clone)]
pub struct DedupStore<S> {
    store: S,
    prefix: String,
}

impl<S: Store> DedupStore<S> {
    /// The synchronous twin: the same calls, each driving the async one
    /// with [`blocksmith_store::block_on`] (for synchronous code; on an
    /// async runtime use the async methods).
    pub fn blocking(&self) -> BlockingDedupStore<'_, S> {
        BlockingDedupStore(self)
    }

    /// A dedup store under the prefix `dedup`.
    pub fn new(store: S) -> Self {
        Self::with_prefix(store, "dedup")
    }

    /// A dedup store under `prefix`.
    pub fn with_prefix(store: S, prefix: impl Into<String>) -> Self {
        DedupStore {
            store,
            prefix: prefix.into(),
        }
    }

    fn chunk_key(&self, hash: &[u8; 32]) -> Result<Key> {
        Ok(Key::new(format!("{}/chunks/{}", self.prefix, hex(hash)))?)
    }

    fn manifest_key(&self, name: &str) -> Result<Key> {
        Ok(Key::new(format!("{}/manifests/{name}", self.prefix))?)
    }

    /// Which of `chunks` the server has (by key and size), in order.
    ///
    /// # Errors
    /// [`Error::Store`] if the prefix (or `name`) does not make a valid key or the store fails.
    pub async fn have(&self, chunks: &[ChunkRef]) -> Result<Vec<bool>> {
        let mut out = Vec::with_capacity(chunks.len());
        for c in chunks {
            match self.store.head(&self.chunk_key(&c.hash)?).await {
                Ok(m) => out.push(m.size == u64::from(c.len)),
                Err(blocksmith_store::Error::NotFound { .. }) => out.push(false),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    /// Stores one chunk after checking its hash; `Ok(false)` if it was there.
    ///
    /// # Errors
    /// [`Error::ChecksumMismatch`] if `data` does not hash to `hash`;
    /// [`Error::Store`] if the prefix (or `name`) does not make a valid key or the store fails.
    pub async fn put_chunk(&self, hash: &[u8; 32], data: Bytes) -> Result<bool> {
        if &sha256(&data) != hash {
            return Err(Error::ChecksumMismatch {
                what: "chunk",
                algorithm: "sha256",
            });
        }
        let key = self.chunk_key(hash)?;
        match self
            .store
            .put(&key, data.clone(), PutOptions::create())
            .await
        {
            Ok(_) => Ok(true),
            Err(blocksmith_store::Error::AlreadyExists { .. }) => {
                // Repair a torn copy; a sound one is left alone.
                if self.store.head(&key).await?.size != data.len() as u64 {
                    self.store.put(&key, data, PutOptions::new()).await?;
                    return Ok(true);
                }
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Writes `manifest` as object `name` once every chunk it names is stored.
    ///
    /// # Errors
    /// [`Error::ChunkMissing`] if a chunk the manifest names is not stored whole;
    /// [`Error::Store`] if the prefix (or `name`) does not make a valid key or the store fails.
    pub async fn commit(&self, name: &str, manifest: &Manifest) -> Result<()> {
        let distinct: HashSet<_> = manifest.chunks.iter().copied().collect();
        let distinct: Vec<_> = distinct.into_iter().collect();
        for (c, ok) in distinct.iter().zip(self.have(&distinct).await?) {
            if !ok {
                return Err(Error::ChunkMissing { hash: hex(&c.hash) });
            }
        }
        self.store
            .put(
                &self.manifest_key(name)?,
                manifest.encode().into(),
                PutOptions::new(),
            )
            .await?;
        Ok(())
    }

    /// Uploads `data` as object `name` following `plan`: asks which chunks
    /// exist, sends only the others, then commits the manifest.
    ///
    /// # Errors
    /// [`Error::Invalid`] if `data` is not as long as the planned file;
    /// [`Error::ChecksumMismatch`] if a chunk of `data` is not the planned one
    /// (other bytes of the same length); then as [`DedupStore::commit`].
    pub async fn upload(&self, name: &str, data: &[u8], plan: &Plan) -> Result<UploadReport> {
        if data.len() as u64 != plan.manifest.length {
            return Err(Error::invalid(
                "dedup upload",
                format!(
                    "{} bytes given for a plan of {} bytes",
                    data.len(),
                    plan.manifest.length
                ),
            ));
        }
        let chunks = &plan.manifest.chunks;
        let have = self.have(chunks).await?;
        let mut report = UploadReport {
            chunks: chunks.len(),
            ..UploadReport::default()
        };
        let mut sent = HashSet::new();
        for (i, (c, had)) in chunks.iter().zip(have).enumerate() {
            if had || sent.contains(&c.hash) {
                report.bytes_reused += u64::from(c.len);
                continue;
            }
            let bytes = Bytes::copy_from_slice(&data[plan.range(i)]);
            self.put_chunk(&c.hash, bytes).await?;
            sent.insert(c.hash);
            report.chunks_sent += 1;
            report.bytes_sent += u64::from(c.len);
        }
        self.commit(name, &plan.manifest).await?;
        Ok(report)
    }

    /// The manifest of object `name`.
    ///
    /// # Errors
    /// [`Error::Store`] if `name` does not make a valid key, no manifest is stored
    /// under it (`NotFound`) or the store fails; [`Error::Invalid`] if the stored
    /// manifest does not decode.
    pub async fn manifest(&self, name: &str) -> Result<Manifest> {
        let key = self.manifest_key(name)?;
        let r = self.store.get(&key, GetOptions::new()).await?;
        Manifest::decode(&r.data)
    }

    /// Reads object `name`, checking every chunk's hash and the object's.
    ///
    /// # Errors
    /// As [`DedupStore::manifest`]; [`Error::ChunkMissing`] if a chunk is missing
    /// or does not match its hash; [`Error::ChecksumMismatch`] if the whole
    /// object does not match the manifest's SHA-256.
    pub async fn read(&self, name: &str) -> Result<Vec<u8>> {
        let m = self.manifest(name).await?;
        let mut out = BytesMut::with_capacity(usize::try_from(m.length).unwrap_or(0));
        for c in &m.chunks {
            let key = self.chunk_key(&c.hash)?;
            let data = match self.store.get_opt(&key).await? {
                Some(r) if sha256(&r.data) == c.hash => r.data,
                _ => return Err(Error::ChunkMissing { hash: hex(&c.hash) }),
            };
            out.extend_from_slice(&data);
        }
        if sha256(&out) != m.sha256 {
            return Err(Error::ChecksumMismatch {
                what: "object",
                algorithm: "sha256",
            });
        }
        Ok(out.to_vec())
    }

    /// Deletes object `name`'s manifest (its chunks go at the next [`DedupStore::gc`]).
    ///
    /// # Errors
    /// [`Error::Store`] if the prefix (or `name`) does not make a valid key or the store fails.
    pub async fn delete(&self, name: &str) -> Result<()> {
        self.store.delete(&self.manifest_key(name)?).await?;
        Ok(())
    }

    /// Deletes chunks no manifest references; returns how many.
    ///
    /// # Errors
    /// [`Error::Store`] if the store fails to list, read or delete. A manifest
    /// that does not decode is deleted, not an error.
    pub async fn gc(&self) -> Result<usize> {
        let mut live = HashSet::new();
        let mprefix = format!("{}/manifests/", self.prefix);
        for meta in self.store.list_all(&mprefix).await? {
            let r = self.store.get(&meta.key, GetOptions::new()).await?;
            // An unreadable manifest keeps nothing alive and is itself removed.
            match Manifest::decode(&r.data) {
                Ok(m) => live.extend(m.chunks.iter().map(|c| c.hash)),
                Err(_) => self.store.delete(&meta.key).await?,
            }
        }
        let cprefix = format!("{}/chunks/", self.prefix);
        let mut deleted = 0;
        for meta in self.store.list_all(&cprefix).await? {
            let name = &meta.key.as_str()[cprefix.len()..];
            if unhex::<32>(name).is_none_or(|h| !live.contains(&h)) {
                self.store.delete(&meta.key).await?;
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

/// Blocking calls over [`DedupStore`] (see [`DedupStore::blocking`]): the same methods,
/// same names and arguments.
#[derive(Debug)]
pub struct BlockingDedupStore<'a, S>(&'a DedupStore<S>);

impl<S: Store> BlockingDedupStore<'_, S> {
    /// [`DedupStore::have`].
    ///
    /// # Errors
    /// As [`DedupStore::have`].
    pub fn have(&self, chunks: &[ChunkRef]) -> Result<Vec<bool>> {
        blocksmith_store::block_on(self.0.have(chunks))
    }

    /// [`DedupStore::put_chunk`].
    ///
    /// # Errors
    /// As [`DedupStore::put_chunk`].
    pub fn put_chunk(&self, hash: &[u8; 32], data: Bytes) -> Result<bool> {
        blocksmith_store::block_on(self.0.put_chunk(hash, data))
    }

    /// [`DedupStore::commit`].
    ///
    /// # Errors
    /// As [`DedupStore::commit`].
    pub fn commit(&self, name: &str, manifest: &Manifest) -> Result<()> {
        blocksmith_store::block_on(self.0.commit(name, manifest))
    }

    /// [`DedupStore::upload`].
    ///
    /// # Errors
    /// As [`DedupStore::upload`].
    pub fn upload(&self, name: &str, data: &[u8], plan: &Plan) -> Result<UploadReport> {
        blocksmith_store::block_on(self.0.upload(name, data, plan))
    }

    /// [`DedupStore::manifest`].
    ///
    /// # Errors
    /// As [`DedupStore::manifest`].
    pub fn manifest(&self, name: &str) -> Result<Manifest> {
        blocksmith_store::block_on(self.0.manifest(name))
    }

    /// [`DedupStore::read`].
    ///
    /// # Errors
    /// As [`DedupStore::read`].
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        blocksmith_store::block_on(self.0.read(name))
    }

    /// [`DedupStore::delete`].
    ///
    /// # Errors
    /// As [`DedupStore::delete`].
    pub fn delete(&self, name: &str) -> Result<()> {
        blocksmith_store::block_on(self.0.delete(name))
    }

    /// [`DedupStore::gc`].
    ///
    /// # Errors
    /// As [`DedupStore::gc`].
    pub fn gc(&self) -> Result<usize> {
        blocksmith_store::block_on(self.0.gc())
    }
}
