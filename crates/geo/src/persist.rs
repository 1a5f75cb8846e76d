//! Saving and loading an index through [`blocksmith_store`]:
//! [`GeoIndex::save`] and [`GeoIndex::load`] (the workspace's snapshot
//! shape: `value.save(&store, name)`, `Type::load(&store, name)`), and
//! [`delete`].
//!
//! # Layout in the store
//! Under `geo/<name>/`:
//! - `manifest`: a typed record naming the current snapshot epoch, its part
//!   count, total length and CRC-32, and the index's [`GeoOptions`];
//! - `snap/<epoch, 16 hex digits>/<part, 6 digits>`: the snapshot bytes
//!   ([`crate::snapshot`]) cut into parts of at most 8 MiB (less if the
//!   store's capabilities say so), each written create-only.
//!
//! A save writes the new epoch's parts, then swaps the manifest
//! (compare-and-swap against the version it read, so two concurrent savers
//! cannot both win), then deletes every other epoch's parts. The new epoch
//! is past the manifest's and past every epoch that has parts in the store,
//! so the parts a crashed save left behind never stand in the way of the
//! next one.
//!
//! # Crash safety
//! A crash at any store operation loses at most the save in flight: after a
//! restart [`GeoIndex::load`] returns the last snapshot whose save returned `Ok`, or
//! the one in flight if its manifest swap went through, never an error, and
//! the next save succeeds and deletes what the crashed one left behind.

use crate::{Error, GeoIndex, GeoOptions, Result, snapshot};
use blocksmith_store::{Key, PutMode, PutOptions, Store, StoreExt, Version, record::Record};

const PART_SIZE: usize = 8 << 20;

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
struct Manifest {
    epoch: u64,
    parts: u32,
    len: u64,
    crc: u32,
    /// The options of the saved index (the snapshot bytes hold data only).
    options: GeoOptions,
}

impl Record for Manifest {
    const KIND: &'static str = "geo.snapshot";
    const VERSION: u32 = 2;
}

/// What a save wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SaveInfo {
    /// The new epoch (1 for the first save).
    pub epoch: u64,
    /// Snapshot size in bytes.
    pub bytes: u64,
    /// Number of parts written.
    pub parts: u32,
}

fn prefix(name: &str) -> Result<String> {
    // Validates the name as a key segment.
    Key::new(format!("geo/{name}/manifest"))?;
    if name.is_empty() || name.contains('/') {
        return Err(Error::InvalidId {
            id: crate::error::truncate(name),
            reason: "an index name is a non-empty key segment without '/'",
        });
    }
    Ok(format!("geo/{name}"))
}

fn part_key(prefix: &str, epoch: u64, part: usize) -> Result<Key> {
    Ok(Key::new(format!("{prefix}/snap/{epoch:016x}/{part:06}"))?)
}

impl GeoIndex {
    /// Saves the index, with its options, as the snapshot `name` (a
    /// non-empty key segment without `/`), replacing the previous one
    /// atomically (see the module's "Crash safety").
    ///
    /// ```
    /// use blocksmith_geo::{Fix, GeoIndex, GeoOptions, Kind, LatLon, QueryFilter};
    /// use blocksmith_store::{MemoryStore, block_on};
    /// let store = MemoryStore::new();
    /// let mut index = GeoIndex::new(GeoOptions::default().with_ttl_ms(Some(60_000)));
    /// index.upsert("car-1", &Kind::Driver, Fix::new(52.52, 13.405, 1_000))?;
    /// block_on(index.save(&store, "berlin"))?;
    /// let back = block_on(GeoIndex::load(&store, "berlin"))?.expect("saved");
    /// assert_eq!(back.options(), index.options());
    /// let here = LatLon::new(52.52, 13.40)?;
    /// assert_eq!(
    ///     back.radius(here, 1000.0, 10, &QueryFilter::new())?,
    ///     index.radius(here, 1000.0, 10, &QueryFilter::new())?,
    /// );
    /// # Ok::<(), blocksmith_geo::Error>(())
    /// ```
    ///
    /// Last writer wins: it replaces whatever snapshot is stored, even one
    /// saved after this index was loaded ([`GeoIndex::save_if`] refuses
    /// that).
    ///
    /// # Errors
    /// [`Error::InvalidId`] for a bad name, [`Error::Store`] if the store
    /// fails, or holding `PreconditionFailed` when another save swapped the
    /// manifest during this one (retry it).
    pub async fn save<S: Store + ?Sized>(&self, store: &S, name: &str) -> Result<SaveInfo> {
        save(store, name, self, Over::Any)
            .await
            .map(|(info, _)| info)
    }

    /// Saves the index as [`GeoIndex::save`] does, but only over the
    /// snapshot it was loaded from or last saved as (`expected`: the
    /// manifest version [`GeoIndex::load_versioned`] or the last `save_if`
    /// returned; `None`: only if there is no snapshot yet). Returns the new
    /// version. With several nodes that loaded one snapshot, the first save
    /// wins and the others fail instead of overwriting it (the last-writer-
    /// wins of [`GeoIndex::save`]); a loser loads again and re-applies its
    /// changes.
    ///
    /// ```
    /// use blocksmith_geo::{Fix, GeoIndex, GeoOptions, Kind};
    /// use blocksmith_store::{MemoryStore, block_on};
    /// let store = MemoryStore::new();
    /// block_on(async {
    ///     let (_, v) = GeoIndex::new(GeoOptions::default()).save_if(&store, "paris", None).await?;
    ///     let (mut a, va) = GeoIndex::load_versioned(&store, "paris").await?.unwrap();
    ///     let (mut b, vb) = GeoIndex::load_versioned(&store, "paris").await?.unwrap();
    ///     assert_eq!((&va, &vb), (&v, &v));
    ///     a.upsert("car-1", &Kind::Driver, Fix::new(48.85, 2.35, 1_000))?;
    ///     a.save_if(&store, "paris", Some(va)).await?;
    ///     b.upsert("car-2", &Kind::Driver, Fix::new(48.86, 2.34, 1_000))?;
    ///     // `b` is stale now: its save fails and car-1 stays.
    ///     assert!(b.save_if(&store, "paris", Some(vb)).await.is_err());
    ///     let back = GeoIndex::load(&store, "paris").await?.unwrap();
    ///     assert_eq!(back.len(), 1);
    ///     Ok::<_, blocksmith_geo::Error>(())
    /// })?;
    /// # Ok::<_, blocksmith_geo::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`GeoIndex::save`]; [`Error::Store`] holding
    /// `blocksmith_store::Error::PreconditionFailed` (or `AlreadyExists` for
    /// `None`) when the stored snapshot is not the expected one; nothing is
    /// written then.
    pub async fn save_if<S: Store + ?Sized>(
        &self,
        store: &S,
        name: &str,
        expected: Option<Version>,
    ) -> Result<(SaveInfo, Version)> {
        save(store, name, self, Over::Exactly(expected)).await
    }

    /// Loads the snapshot `name` as [`GeoIndex::load`] does, with the
    /// version of its manifest, for [`GeoIndex::save_if`].
    ///
    /// # Errors
    /// As [`GeoIndex::load`].
    pub async fn load_versioned<S: Store + ?Sized>(
        store: &S,
        name: &str,
    ) -> Result<Option<(GeoIndex, Version)>> {
        load(store, name, None).await
    }

    /// Loads the snapshot `name` with the options it was saved with;
    /// `Ok(None)` if there is none.
    ///
    /// # Errors
    /// [`Error::Snapshot`] if the parts do not match their manifest or do
    /// not decode, [`Error::Store`] if the store fails.
    pub async fn load<S: Store + ?Sized>(store: &S, name: &str) -> Result<Option<GeoIndex>> {
        Ok(load(store, name, None).await?.map(|(i, _)| i))
    }

    /// Loads the snapshot `name` with other `options`: the snapshot holds
    /// data, so positions are re-bucketed into the new cell size and the
    /// new limits apply from now on (see [`snapshot::decode`]).
    ///
    /// # Errors
    /// As [`GeoIndex::load`].
    pub async fn load_with<S: Store + ?Sized>(
        store: &S,
        name: &str,
        options: GeoOptions,
    ) -> Result<Option<GeoIndex>> {
        Ok(load(store, name, Some(options)).await?.map(|(i, _)| i))
    }
}

/// What a save may replace.
enum Over {
    /// Whatever is stored (by CAS against the version read at the save).
    Any,
    /// Only this version (`None`: only where nothing is stored).
    Exactly(Option<Version>),
}

async fn save<S: Store + ?Sized>(
    store: &S,
    name: &str,
    index: &GeoIndex,
    over: Over,
) -> Result<(SaveInfo, Version)> {
    let prefix = prefix(name)?;
    let manifest_key = Key::new(format!("{prefix}/manifest"))?;
    let current = store.get_record::<Manifest>(&manifest_key).await?;
    if let Over::Exactly(expected) = &over {
        let stored = current.as_ref().map(|(_, v)| v);
        if stored != expected.as_ref() {
            // Refused before any part is written.
            let key = manifest_key.as_str().to_string();
            return Err(Error::Store(match expected {
                None => blocksmith_store::Error::AlreadyExists { key },
                Some(_) => blocksmith_store::Error::PreconditionFailed { key },
            }));
        }
    }
    // Past every epoch with parts: a save that crashed before its manifest
    // swap left parts of `current + 1`, which create-only puts would refuse.
    let snap = format!("{prefix}/snap/");
    let mut newest = current.as_ref().map_or(0, |(m, _)| m.epoch);
    for meta in store.list_all(&snap).await? {
        let epoch = meta.key.as_str()[snap.len()..]
            .split('/')
            .next()
            .and_then(|e| u64::from_str_radix(e, 16).ok());
        newest = newest.max(epoch.unwrap_or(0));
    }
    let epoch = newest + 1;
    let bytes = snapshot::encode(index);
    let part_size = store
        .capabilities()
        .max_value_size
        .map_or(PART_SIZE, |m| (m as usize).clamp(1, PART_SIZE));
    let mut parts = 0usize;
    for (i, chunk) in bytes.chunks(part_size).enumerate() {
        store
            .put(
                &part_key(&prefix, epoch, i)?,
                bytes::Bytes::copy_from_slice(chunk),
                PutOptions::create(),
            )
            .await?;
        parts = i + 1;
    }
    let manifest = Manifest {
        epoch,
        parts: u32::try_from(parts).map_err(|_| Error::Snapshot {
            offset: 0,
            reason: "too many parts".into(),
        })?,
        len: bytes.len() as u64,
        crc: crc32fast::hash(&bytes),
        options: index.options().clone(),
    };
    let mode = match current {
        Some((_, v)) => PutMode::Update(v),
        None => PutMode::Create,
    };
    let version = store
        .put_record(&manifest_key, &manifest, PutOptions::new().with_mode(mode))
        .await?
        .version;
    // Only older epochs go: a save on another node that started after
    // this one may have committed a newer epoch meanwhile, and its parts
    // are the snapshot the manifest names now.
    for meta in store.list_all(&snap).await? {
        let older = meta.key.as_str()[snap.len()..]
            .split('/')
            .next()
            .and_then(|e| u64::from_str_radix(e, 16).ok())
            .is_some_and(|e| e < epoch);
        if older {
            store.delete(&meta.key).await?;
        }
    }
    Ok((
        SaveInfo {
            epoch,
            bytes: bytes.len() as u64,
            parts: manifest.parts,
        },
        version,
    ))
}

async fn load<S: Store + ?Sized>(
    store: &S,
    name: &str,
    options: Option<GeoOptions>,
) -> Result<Option<(GeoIndex, Version)>> {
    let prefix = prefix(name)?;
    let manifest_key = Key::new(format!("{prefix}/manifest"))?;
    let Some((m, version)) = store.get_record::<Manifest>(&manifest_key).await? else {
        return Ok(None);
    };
    let corrupt = |reason: String| Error::Snapshot { offset: 0, reason };
    let len = usize::try_from(m.len).map_err(|_| corrupt("snapshot too large".into()))?;
    let mut bytes = Vec::with_capacity(len.min(1 << 30));
    for i in 0..m.parts as usize {
        let r = store
            .get(
                &part_key(&prefix, m.epoch, i)?,
                blocksmith_store::GetOptions::new(),
            )
            .await?;
        bytes.extend_from_slice(&r.data);
        if bytes.len() > len {
            return Err(corrupt(format!("parts exceed the manifest's {len} bytes")));
        }
    }
    if bytes.len() != len || crc32fast::hash(&bytes) != m.crc {
        return Err(corrupt(format!(
            "snapshot epoch {} does not match its manifest",
            m.epoch
        )));
    }
    snapshot::decode(&bytes, options.unwrap_or(m.options)).map(|i| Some((i, version)))
}

/// Deletes the snapshot `name` (manifest and parts); succeeds if absent.
///
/// # Errors
/// [`Error::InvalidId`] for a bad name, [`Error::Store`] if the store fails.
pub async fn delete<S: Store + ?Sized>(store: &S, name: &str) -> Result<()> {
    let prefix = prefix(name)?;
    store
        .delete(&Key::new(format!("{prefix}/manifest"))?)
        .await?;
    for meta in store.list_all(&format!("{prefix}/snap/")).await? {
        store.delete(&meta.key).await?;
    }
    Ok(())
}
