//! A time series persisted through [`blocksmith_store`]: appends, range
//! queries that decode only the chunks they need, rollups, counter rates and
//! retention.
//!
//! # Layout in the store
//! Under the series prefix `P` (for example `tsz/cpu.user`):
//! - `P/meta`: a typed record with the time unit and the chunk sequence counter;
//! - `P/chunks/<first timestamp, sortable hex>-<seq>`: sealed [`Chunk`]s, written once
//!   (create-only), rewritten only by a late-write merge (compare-and-swap);
//! - `P/heads/<seq>`: the open, not yet sealed points, written by
//!   [`Series::flush`] under the sequence number the next chunk will get
//!   (`P/head`, without a number, is the same from earlier versions: still
//!   read, and removed by the next flush or seal).
//!
//! Appends go to the open head in memory; a chunk is sealed (encoded and
//! written) when it reaches [`SeriesOptions::max_points`] or spans
//! [`SeriesOptions::max_span`]. Call [`Series::flush`] to make the head durable.
//! One writer per series at a time: concurrent writers are detected by the
//! store's conditions, not merged.
//!
//! # Crash safety
//! A crash at any store operation loses at most the write in flight:
//! every point acknowledged before it (by a [`Series::flush`] that returned
//! `Ok`, or an append that sealed a chunk) is there after a restart,
//! exactly once, and the series opens on a state it went through (the one
//! before the write in flight, or the one after it). A head is stale once a
//! chunk with its sequence number or a later one exists: that chunk was
//! sealed from a head holding all of its points, so a head left behind by a
//! crash between sealing and deleting it is never read twice. A chunk whose
//! length disagrees with its header (torn by a store without atomic puts)
//! was never acknowledged and is skipped, and removed by the next write.

use crate::{Chunk, ChunkHeader, Error, Point, Policy, Result, TimeUnit};
use blocksmith_store::{
    ByteRange, GetOptions, Key, PutMode, PutOptions, Store, StoreExt, Version, record::Record,
};

/// What to do with a point older than the sealed chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LatePolicy {
    /// Refuse it with [`Error::LateWrite`].
    #[default]
    Reject,
    /// Decode the chunk it belongs to, insert it, re-encode and rewrite the
    /// chunk (compare-and-swap).
    Merge,
}

/// How a series seals and encodes chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SeriesOptions {
    /// Unit of the timestamps.
    pub unit: TimeUnit,
    /// Codec choice for sealed chunks.
    pub policy: Policy,
    /// Seal the head when it holds this many points (1..=[`Chunk::MAX_POINTS`]).
    pub max_points: usize,
    /// Seal the head when its last timestamp is this far past its first.
    pub max_span: Option<i64>,
    /// Late points.
    pub late: LatePolicy,
}

impl Default for SeriesOptions {
    fn default() -> Self {
        Self {
            unit: TimeUnit::Millis,
            policy: Policy::Auto,
            max_points: 4096,
            max_span: None,
            late: LatePolicy::Reject,
        }
    }
}

impl SeriesOptions {
    /// Defaults for timestamps in `unit`.
    pub fn new(unit: TimeUnit) -> Self {
        Self {
            unit,
            ..Self::default()
        }
    }
    /// Sets the codec policy.
    #[must_use]
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }
    /// Sets the sealing size (clamped to 1..=[`Chunk::MAX_POINTS`]).
    #[must_use]
    pub fn with_max_points(mut self, n: usize) -> Self {
        self.max_points = n.clamp(1, Chunk::MAX_POINTS);
        self
    }
    /// Seals by time span too.
    #[must_use]
    pub fn with_max_span(mut self, span: i64) -> Self {
        self.max_span = Some(span.max(0));
        self
    }
    /// Sets the late-write policy.
    #[must_use]
    pub fn with_late_policy(mut self, late: LatePolicy) -> Self {
        self.late = late;
        self
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    unit: u8,
    next_seq: u64,
}

impl Record for Meta {
    const KIND: &'static str = "tsz.series";
    const VERSION: u32 = 1;
}

#[derive(Debug, Clone)]
struct SealedChunk {
    key: Key,
    header: ChunkHeader,
}

/// The sequence number at the end of a chunk or head key (`...-<seq>`
/// or `.../<seq>`).
fn seq_of(key: &Key) -> Option<u64> {
    let s = key.as_str();
    let tail = &s[s.rfind(['-', '/'])? + 1..];
    tail.parse().ok()
}

/// One interval of a rollup.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Start of the interval (a multiple of the interval).
    pub start: i64,
    /// Number of points.
    pub count: u64,
    /// Sum of the values.
    pub sum: f64,
    /// Smallest value (NaN-ignoring; NaN if all are NaN).
    pub min: f64,
    /// Largest value (NaN-ignoring; NaN if all are NaN).
    pub max: f64,
    /// The value of the latest point.
    pub last: f64,
}

impl Bucket {
    /// Mean value.
    pub fn avg(&self) -> f64 {
        self.sum / self.count as f64
    }
}

/// What a range query read, for callers that watch their I/O.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Sealed chunks in the series.
    pub chunks_total: usize,
    /// Chunks fetched and decoded.
    pub chunks_decoded: usize,
}

/// A series over a [`Store`].
///
/// ```
/// use blocksmith_store::{MemoryStore, block_on};
/// use blocksmith_tsz::{series::{Series, SeriesOptions}, TimeUnit};
/// block_on(async {
///     let store = MemoryStore::new();
///     let config = SeriesOptions::new(TimeUnit::Seconds).with_max_points(100);
///     let mut s = Series::open(&store, "cpu", config).await?;
///     for t in 0..1000 {
///         s.append(t, (t % 60) as f64).await?;
///     }
///     s.flush().await?;
///     let (points, stats) = s.range(250, 349).await?;
///     assert_eq!(points.len(), 100);
///     assert!(stats.chunks_decoded <= 2);
///     Ok::<(), blocksmith_tsz::Error>(())
/// })?;
/// # Ok::<(), blocksmith_tsz::Error>(())
/// ```
#[derive(Debug)]
pub struct Series<S> {
    store: S,
    name: String,
    prefix: String,
    config: SeriesOptions,
    sealed: Vec<SealedChunk>,
    head: Vec<Point>,
    next_seq: u64,
    meta_version: Option<Version>,
    /// The version of the head record under the current number, when this
    /// handle read or wrote it: the next flush replaces exactly that one
    /// (create-only when `None`), so a second writer of the series fails
    /// instead of erasing points the first one flushed.
    head_version: Option<Version>,
    /// Keys to remove once the head's points are durable elsewhere (after
    /// the next flush or seal): superseded or sealed heads, torn chunks.
    stale: Vec<Key>,
}

fn sortable(t: i64) -> u64 {
    (t as u64) ^ (1 << 63)
}

impl<S: Store> Series<S> {
    /// The synchronous twin: the same calls, each driving the async one
    /// with [`blocksmith_store::block_on`] (for synchronous code; on an
    /// async runtime use the async methods).
    pub fn blocking(&mut self) -> BlockingSeries<'_, S> {
        BlockingSeries(self)
    }

    /// Opens (or creates) the series `name` in `store`, loading its chunk
    /// index (chunk headers only, by ranged reads) and its unsealed head.
    ///
    /// # Errors
    /// - [`Error::SeriesMismatch`] if the series was stored with another time
    ///   unit than `config.unit`;
    /// - [`Error::Store`] if `name` does not make a valid key
    ///   ([`blocksmith_store::Error::InvalidKey`], e.g. an empty name or one
    ///   with a `..` segment), if the stored meta record is not readable, or if
    ///   the store fails;
    /// - any error of [`Chunk::peek`] for a damaged stored chunk header, or of
    ///   [`Chunk::decode`] for a damaged stored head.
    pub async fn open(store: S, name: &str, config: SeriesOptions) -> Result<Self> {
        let prefix = format!("tsz/{name}");
        let meta_key = Key::new(format!("{prefix}/meta"))?;
        let (next_seq, meta_version) = match store.get_record::<Meta>(&meta_key).await? {
            Some((m, v)) => {
                if m.unit != config.unit.id() {
                    return Err(Error::SeriesMismatch {
                        series: name.to_string(),
                        reason: format!(
                            "stored with time unit {:?}, opened with {:?}",
                            TimeUnit::from_id(m.unit),
                            config.unit
                        ),
                    });
                }
                (m.next_seq, Some(v))
            }
            None => (0, None),
        };
        let mut sealed = Vec::new();
        let mut stale = Vec::new();
        // The highest sequence number of a sealed chunk, plus one.
        let mut chunks_end = 0;
        for meta in store.list_all(&format!("{prefix}/chunks/")).await? {
            if meta.size < Chunk::HEADER_LEN as u64 {
                stale.push(meta.key); // torn (see below)
                continue;
            }
            let r = store
                .get(
                    &meta.key,
                    GetOptions::new().with_range(ByteRange::Bounded(0..Chunk::HEADER_LEN as u64)),
                )
                .await?;
            let header = Chunk::peek(&r.data)?;
            if header.total_len() as u64 != meta.size {
                // Torn: its put failed, so its seal was never acknowledged
                // and a head still holds its points.
                stale.push(meta.key);
                continue;
            }
            chunks_end = chunks_end.max(seq_of(&meta.key).map_or(0, |s| s + 1));
            sealed.push(SealedChunk {
                header,
                key: meta.key,
            });
        }
        sealed.sort_by_key(|c| (c.header.first_timestamp, c.header.last_timestamp));
        // The newest head no chunk has sealed yet holds every unsealed point
        // (a head only loses points to a seal, and a chunk is sealed from a
        // head holding all of them); the others are stale.
        let mut live: Option<(u64, Key)> = None;
        for meta in store.list_all(&format!("{prefix}/heads/")).await? {
            match seq_of(&meta.key) {
                Some(seq) if seq >= chunks_end && live.as_ref().is_none_or(|l| seq > l.0) => {
                    stale.extend(live.replace((seq, meta.key)).map(|l| l.1));
                }
                _ => stale.push(meta.key),
            }
        }
        let (mut head, live_version) = match &live {
            Some((_, key)) => {
                let r = store.get(key, GetOptions::new()).await?;
                (Chunk::decode(&r.data)?.1, Some(r.meta.version))
            }
            None => (Vec::new(), None),
        };
        // A head from before numbered heads, if any.
        let legacy_key = Key::new(format!("{prefix}/head"))?;
        if let Some(r) = store.get_opt(&legacy_key).await? {
            stale.push(legacy_key);
            let mut legacy = Chunk::decode(&r.data)?.1;
            // A crash between writing a sealed chunk and deleting the head
            // left a head identical to the last chunk: not doubled.
            if let (Some(last), Some(f), Some(l)) = (sealed.last(), legacy.first(), legacy.last()) {
                let h = &last.header;
                if (h.first_timestamp, h.last_timestamp, h.count as usize)
                    == (f.0, l.0, legacy.len())
                {
                    legacy.clear();
                }
            }
            if live.is_none() {
                head = legacy;
            }
        }
        // The next chunk's number is past every chunk and every head, so
        // sealing it makes every head there is now stale.
        let next_seq = next_seq
            .max(chunks_end)
            .max(live.as_ref().map_or(0, |l| l.0));
        // The live head is the one the next flush replaces when it is under
        // that number.
        let head_version = match &live {
            Some((seq, _)) if *seq == next_seq => live_version,
            _ => None,
        };
        Ok(Series {
            store,
            name: name.to_string(),
            prefix,
            config,
            sealed,
            head,
            next_seq,
            meta_version,
            head_version,
            stale,
        })
    }

    fn head_key(&self) -> Result<Key> {
        Ok(Key::new(format!(
            "{}/heads/{:010}",
            self.prefix, self.next_seq
        ))?)
    }

    /// Removes stale heads and torn chunks, once the points they held are
    /// durable elsewhere.
    async fn remove_stale(&mut self) -> Result<()> {
        while let Some(key) = self.stale.last() {
            self.store.delete(key).await?;
            self.stale.pop();
        }
        Ok(())
    }

    /// The series name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configuration.
    pub fn config(&self) -> &SeriesOptions {
        &self.config
    }

    /// Number of sealed chunks.
    pub fn sealed_chunks(&self) -> usize {
        self.sealed.len()
    }

    /// Points in sealed chunks plus the head.
    pub fn len(&self) -> u64 {
        self.sealed
            .iter()
            .map(|c| u64::from(c.header.count))
            .sum::<u64>()
            + self.head.len() as u64
    }

    /// True when the series holds no point.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of sealed chunks (their encoded size).
    pub fn sealed_bytes(&self) -> u64 {
        self.sealed
            .iter()
            .map(|c| c.header.total_len() as u64)
            .sum()
    }

    fn sealed_until(&self) -> Option<i64> {
        self.sealed.iter().map(|c| c.header.last_timestamp).max()
    }

    /// Appends one point. Points out of order within the head are sorted in;
    /// points older than the sealed chunks follow [`SeriesOptions::late`].
    ///
    /// # Errors
    /// - [`Error::LateWrite`] if `timestamp` is older than the newest sealed
    ///   point and the policy is [`LatePolicy::Reject`];
    /// - with [`LatePolicy::Merge`], for such a point: [`Error::TooManyPoints`]
    ///   if the chunk it belongs to already holds [`Chunk::MAX_POINTS`], any
    ///   error of [`Chunk::decode`] if that stored chunk is damaged, and
    ///   [`Error::Store`] if the store fails (a
    ///   [`blocksmith_store::Error::PreconditionFailed`] if another writer
    ///   rewrote the chunk since it was read);
    /// - when the point fills the head, the errors of [`Series::seal`].
    ///
    /// On an error the point may already be in the in-memory head.
    pub async fn append(&mut self, timestamp: i64, value: f64) -> Result<()> {
        if let Some(until) = self.sealed_until()
            && timestamp < until
        {
            return match self.config.late {
                LatePolicy::Reject => Err(Error::LateWrite {
                    timestamp,
                    sealed_until: until,
                }),
                LatePolicy::Merge => self.merge_late(timestamp, value).await,
            };
        }
        match self.head.last() {
            Some(&(last, _)) if timestamp < last => {
                let at = self.head.partition_point(|p| p.0 <= timestamp);
                self.head.insert(at, (timestamp, value));
            }
            _ => self.head.push((timestamp, value)),
        }
        let span_full = self.config.max_span.is_some_and(|span| {
            self.head
                .last()
                .zip(self.head.first())
                .is_some_and(|(l, f)| l.0.saturating_sub(f.0) >= span)
        });
        if self.head.len() >= self.config.max_points || span_full {
            self.seal().await?;
        }
        Ok(())
    }

    /// Appends many points.
    ///
    /// # Errors
    /// As [`Series::append`], at the first point that fails; the points
    /// before it are appended.
    pub async fn append_all(&mut self, points: &[Point]) -> Result<()> {
        for &(t, v) in points {
            self.append(t, v).await?;
        }
        Ok(())
    }

    async fn save_meta(&mut self) -> Result<()> {
        let meta_key = Key::new(format!("{}/meta", self.prefix))?;
        let meta = Meta {
            unit: self.config.unit.id(),
            next_seq: self.next_seq,
        };
        let mode = match self.meta_version.take() {
            Some(v) => PutMode::Update(v),
            None => PutMode::Create,
        };
        let r = self
            .store
            .put_record(&meta_key, &meta, PutOptions::new().with_mode(mode))
            .await?;
        self.meta_version = Some(r.version);
        Ok(())
    }

    /// Encodes the head into a chunk and writes it, even if not full.
    ///
    /// # Errors
    /// - [`Error::TooManyPoints`] if the head outgrew [`Chunk::MAX_POINTS`]
    ///   (only when [`SeriesOptions::max_points`] was set above it directly,
    ///   bypassing [`SeriesOptions::with_max_points`]);
    /// - [`Error::Corrupt`] if the stored chunk sequence counter is exhausted
    ///   (only a damaged or hostile meta record gets there);
    /// - [`Error::Store`] if the store fails, or if another writer touched the
    ///   series since it was opened
    ///   ([`blocksmith_store::Error::PreconditionFailed`] or
    ///   [`blocksmith_store::Error::AlreadyExists`] on the meta record or the
    ///   chunk).
    pub async fn seal(&mut self) -> Result<()> {
        if self.head.is_empty() {
            return Ok(());
        }
        let bytes = Chunk::encode(&self.head, self.config.unit, self.config.policy)?;
        let header = Chunk::peek(&bytes)?;
        let key = Key::new(format!(
            "{}/chunks/{:016x}-{:010}",
            self.prefix,
            sortable(header.first_timestamp),
            self.next_seq
        ))?;
        // The head flushed under this number, if any: stale once the chunk
        // is written (and whatever happens next, since the number moves on).
        // A stored counter at its end (only a corrupt or hostile meta record
        // gets there) is an error, not an overflow.
        let next = self
            .next_seq
            .checked_add(1)
            .ok_or(Error::Corrupt("series chunk sequence exhausted"))?;
        self.stale.push(self.head_key()?);
        self.next_seq = next;
        self.head_version = None;
        // The counter is saved first: a crash between the two leaves a gap in
        // sequence numbers, never two chunks with the same key.
        self.save_meta().await?;
        self.store
            .put(&key, bytes.into(), PutOptions::create())
            .await?;
        self.sealed.push(SealedChunk { key, header });
        self.head.clear();
        self.remove_stale().await
    }

    /// Makes the unsealed head durable.
    ///
    /// # Errors
    /// [`Error::Store`] if the store fails, or holding
    /// [`blocksmith_store::Error::AlreadyExists`] or
    /// [`blocksmith_store::Error::PreconditionFailed`] if another writer of
    /// this series flushed its head, or created this new series' meta
    /// record, since this handle opened or last flushed it (reopen the
    /// series: one writer per series).
    pub async fn flush(&mut self) -> Result<()> {
        let head_key = self.head_key()?;
        if self.head.is_empty() {
            self.store.delete(&head_key).await?;
            self.head_version = None;
        } else {
            let bytes = Chunk::encode(&self.head, self.config.unit, Policy::Best)?;
            let mode = match self.head_version.clone() {
                Some(v) => PutOptions::update(v),
                None => PutOptions::create(),
            };
            let r = self.store.put(&head_key, bytes.into(), mode).await?;
            self.head_version = Some(r.version);
        }
        if self.meta_version.is_none() {
            self.save_meta().await?;
        }
        self.remove_stale().await
    }

    async fn merge_late(&mut self, timestamp: i64, value: f64) -> Result<()> {
        // The chunk whose range covers the point, else the latest one starting
        // before it, else the first.
        let idx = self
            .sealed
            .iter()
            .rposition(|c| c.header.first_timestamp <= timestamp)
            .unwrap_or(0);
        let key = self.sealed[idx].key.clone();
        let r = self.store.get(&key, GetOptions::new()).await?;
        let (_, mut points) = Chunk::decode(&r.data)?;
        let at = points.partition_point(|p| p.0 <= timestamp);
        points.insert(at, (timestamp, value));
        if points.len() > Chunk::MAX_POINTS {
            return Err(Error::TooManyPoints {
                count: points.len(),
                max: Chunk::MAX_POINTS,
            });
        }
        let bytes = Chunk::encode(&points, self.config.unit, self.config.policy)?;
        let header = Chunk::peek(&bytes)?;
        self.store
            .put(&key, bytes.into(), PutOptions::update(r.meta.version))
            .await?;
        self.sealed[idx].header = header;
        self.sealed
            .sort_by_key(|c| (c.header.first_timestamp, c.header.last_timestamp));
        Ok(())
    }

    /// Points with `start <= timestamp <= end`, in time order. Only sealed
    /// chunks whose header range overlaps are fetched and decoded.
    ///
    /// # Errors
    /// [`Error::Store`] if the store fails (including
    /// [`blocksmith_store::Error::NotFound`] for a chunk another writer
    /// deleted since this series was opened); any error of [`Chunk::decode`]
    /// if a stored chunk is damaged.
    pub async fn range(&self, start: i64, end: i64) -> Result<(Vec<Point>, QueryStats)> {
        let mut stats = QueryStats {
            chunks_total: self.sealed.len(),
            chunks_decoded: 0,
        };
        let mut out = Vec::new();
        for c in self.sealed.iter().filter(|c| c.header.overlaps(start, end)) {
            let r = self.store.get(&c.key, GetOptions::new()).await?;
            let (_, points) = Chunk::decode(&r.data)?;
            stats.chunks_decoded += 1;
            out.extend(points.into_iter().filter(|p| p.0 >= start && p.0 <= end));
        }
        out.extend(self.head.iter().filter(|p| p.0 >= start && p.0 <= end));
        // Late merges can make chunk ranges overlap; keep the answer sorted.
        if !out.is_sorted_by_key(|p| p.0) {
            out.sort_by_key(|p| p.0);
        }
        Ok((out, stats))
    }

    /// Downsamples `[start, end]` into buckets of `interval` time units
    /// (aligned to multiples of `interval`): count, sum, min, max, last (and
    /// [`Bucket::avg`]). Empty intervals are omitted.
    ///
    /// # Errors
    /// As [`Series::range`].
    pub async fn rollup(&self, start: i64, end: i64, interval: i64) -> Result<Vec<Bucket>> {
        let interval = interval.max(1);
        let (points, _) = self.range(start, end).await?;
        Ok(rollup(&points, interval))
    }

    /// Per-second rate of a monotonic counter over `[start, end]`, with
    /// counter resets handled as Prometheus does (a drop means the counter
    /// restarted from zero). `None` with fewer than two points.
    ///
    /// # Errors
    /// As [`Series::range`].
    pub async fn rate(&self, start: i64, end: i64) -> Result<Option<f64>> {
        let (points, _) = self.range(start, end).await?;
        Ok(rate(&points, self.config.unit))
    }

    /// Deletes sealed chunks whose newest point is older than `cutoff`;
    /// returns how many were dropped.
    ///
    /// # Errors
    /// [`Error::Store`] if a delete fails (of a stale head or of a chunk).
    pub async fn drop_before(&mut self, cutoff: i64) -> Result<usize> {
        // Stale heads go first: they are stale because of chunks that may be
        // about to go.
        self.remove_stale().await?;
        let (old, keep): (Vec<_>, Vec<_>) = self
            .sealed
            .drain(..)
            .partition(|c| c.header.last_timestamp < cutoff);
        self.sealed = keep;
        for c in &old {
            self.store.delete(&c.key).await?;
        }
        Ok(old.len())
    }
}

/// Buckets of `interval` over sorted points (see [`Series::rollup`]). A
/// bucket whose aligned start would fall below `i64::MIN` starts at
/// `i64::MIN`.
pub fn rollup(points: &[Point], interval: i64) -> Vec<Bucket> {
    let interval = interval.max(1);
    let mut out: Vec<Bucket> = Vec::new();
    for &(t, v) in points {
        // Near i64::MIN the multiple below may not be representable: clamped.
        let start = t.div_euclid(interval).saturating_mul(interval);
        match out.last_mut() {
            Some(b) if b.start == start => {
                b.count += 1;
                b.sum += v;
                b.min = b.min.min(v);
                b.max = b.max.max(v);
                b.last = v;
            }
            _ => out.push(Bucket {
                start,
                count: 1,
                sum: v,
                min: v,
                max: v,
                last: v,
            }),
        }
    }
    out
}

/// Counter rate per second over sorted points (see [`Series::rate`]).
pub fn rate(points: &[Point], unit: TimeUnit) -> Option<f64> {
    let (first, last) = (points.first()?, points.last()?);
    if points.len() < 2 || last.0 == first.0 {
        return None;
    }
    let increase: f64 = points
        .windows(2)
        .map(|w| {
            let d = w[1].1 - w[0].1;
            if d < 0.0 { w[1].1 } else { d }
        })
        .sum();
    // The span can exceed i64::MAX (a series from before to after 1970 at
    // the extremes): taken as u64.
    let seconds = last.0.abs_diff(first.0) as f64 * unit.nanos() as f64 / 1e9;
    Some(increase / seconds)
}

/// Blocking calls over [`Series`] (see [`Series::blocking`]): the same methods,
/// same names and arguments.
#[derive(Debug)]
pub struct BlockingSeries<'a, S>(&'a mut Series<S>);

impl<S: Store> BlockingSeries<'_, S> {
    /// [`Series::append`].
    ///
    /// # Errors
    /// As [`Series::append`].
    pub fn append(&mut self, timestamp: i64, value: f64) -> Result<()> {
        blocksmith_store::block_on(self.0.append(timestamp, value))
    }

    /// [`Series::append_all`].
    ///
    /// # Errors
    /// As [`Series::append_all`].
    pub fn append_all(&mut self, points: &[Point]) -> Result<()> {
        blocksmith_store::block_on(self.0.append_all(points))
    }

    /// [`Series::seal`].
    ///
    /// # Errors
    /// As [`Series::seal`].
    pub fn seal(&mut self) -> Result<()> {
        blocksmith_store::block_on(self.0.seal())
    }

    /// [`Series::flush`].
    ///
    /// # Errors
    /// As [`Series::flush`].
    pub fn flush(&mut self) -> Result<()> {
        blocksmith_store::block_on(self.0.flush())
    }

    /// [`Series::range`].
    ///
    /// # Errors
    /// As [`Series::range`].
    pub fn range(&self, start: i64, end: i64) -> Result<(Vec<Point>, QueryStats)> {
        blocksmith_store::block_on(self.0.range(start, end))
    }

    /// [`Series::rollup`].
    ///
    /// # Errors
    /// As [`Series::rollup`].
    pub fn rollup(&self, start: i64, end: i64, interval: i64) -> Result<Vec<Bucket>> {
        blocksmith_store::block_on(self.0.rollup(start, end, interval))
    }

    /// [`Series::rate`].
    ///
    /// # Errors
    /// As [`Series::rate`].
    pub fn rate(&self, start: i64, end: i64) -> Result<Option<f64>> {
        blocksmith_store::block_on(self.0.rate(start, end))
    }

    /// [`Series::drop_before`].
    ///
    /// # Errors
    /// As [`Series::drop_before`].
    pub fn drop_before(&mut self, cutoff: i64) -> Result<usize> {
        blocksmith_store::block_on(self.0.drop_before(cutoff))
    }
}
