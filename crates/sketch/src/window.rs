//! Keyed aggregation over tumbling, sliding and session windows in event
//! time, with a watermark, a late-event policy, bounded state and
//! checkpoints through `blocksmith-store` (`Windowed::save` and
//! `Windowed::load`, the workspace's snapshot shape).
//!
//! - The watermark is the largest event time seen minus the allowed
//!   lateness; it never goes back.
//! - A window `[start, end)` fires once the watermark reaches `end`, in
//!   `(end, key, start)` order, so output is deterministic.
//! - An event for a window that has already fired is *late*: by
//!   [`LatePolicy`] it is dropped (and counted), emitted to a side output, or
//!   folded into the fired result, which is emitted again as an update while
//!   the window is retained.
//! - State is only the windows still open (plus fired windows retained for
//!   late updates until the watermark passes `end + retention`): a key that
//!   goes idle leaves nothing behind.
//!
//! ```
//! use blocksmith_sketch::aggregate::Count;
//! use blocksmith_sketch::window::{Emission, WindowOptions, Windowed, WindowKind};
//! let opts = WindowOptions::new(WindowKind::Tumbling { size: 60 }).with_allowed_lateness(10);
//! let mut job: Windowed<String, (), Count> = Windowed::new(opts)?;
//! let mut out = Vec::new();
//! for (t, page) in [(1, "/a"), (5, "/a"), (30, "/b"), (75, "/a"), (130, "/a")] {
//!     out.extend(job.process(page.to_string(), t, ())?);
//! }
//! let fired: Vec<_> = out.iter().filter_map(|e| match e {
//!     Emission::Fired { key, window, output } => Some((key.clone(), window.start, *output)),
//!     _ => None,
//! }).collect();
//! assert_eq!(fired, [("/a".to_string(), 0, 2), ("/b".to_string(), 0, 1), ("/a".to_string(), 60, 1)]);
//! # Ok::<(), blocksmith_sketch::Error>(())
//! ```

use crate::aggregate::Aggregator;
use crate::{Error, Result};
use blocksmith_store::record::Record;
use blocksmith_store::{Key, PutOptions, Store, StoreExt, Version};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::marker::PhantomData;

/// How events are grouped in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WindowKind {
    /// Fixed, non-overlapping windows `[k*size, (k+1)*size)`.
    Tumbling {
        /// Window length (event-time units).
        size: i64,
    },
    /// Overlapping windows of `size` starting every `slide` (`slide <= size`,
    /// at most 10,000 windows per event).
    Sliding {
        /// Window length.
        size: i64,
        /// Distance between window starts.
        slide: i64,
    },
    /// Per-key activity sessions: a window closes after `gap` without events.
    Session {
        /// Inactivity gap that ends a session.
        gap: i64,
    },
}

/// What happens to an event whose window has already fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum LatePolicy {
    /// Drop it (counted in [`Stats::late_dropped`]).
    #[default]
    Drop,
    /// Emit it as [`Emission::Late`] for the caller to route elsewhere.
    SideOutput,
    /// Fold it into the fired window and emit [`Emission::Updated`]
    /// (while the window is retained; dropped and counted after).
    Update,
}

/// Options of a windowed aggregation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WindowOptions {
    /// The windowing.
    pub kind: WindowKind,
    /// How far behind the largest event time the watermark trails.
    pub allowed_lateness: i64,
    /// The late-event policy.
    pub late_policy: LatePolicy,
    /// With [`LatePolicy::Update`], how long (event time past `end`) fired
    /// windows stay updatable.
    pub update_retention: i64,
}

impl Default for WindowOptions {
    fn default() -> Self {
        WindowOptions::new(WindowKind::Tumbling { size: 60_000 })
    }
}

impl WindowOptions {
    /// Options for `kind`, no lateness, late events dropped.
    pub fn new(kind: WindowKind) -> Self {
        WindowOptions {
            kind,
            allowed_lateness: 0,
            late_policy: LatePolicy::Drop,
            update_retention: 0,
        }
    }
    /// Sets the allowed lateness.
    #[must_use]
    pub fn with_allowed_lateness(mut self, lateness: i64) -> Self {
        self.allowed_lateness = lateness;
        self
    }
    /// Sets the late policy.
    #[must_use]
    pub fn with_late_policy(mut self, policy: LatePolicy) -> Self {
        self.late_policy = policy;
        self
    }
    /// Sets the update retention.
    #[must_use]
    pub fn with_update_retention(mut self, retention: i64) -> Self {
        self.update_retention = retention;
        self
    }

    fn validate(&self) -> Result<()> {
        let ok = match self.kind {
            WindowKind::Tumbling { size } => size > 0,
            // Each event lands in size / slide windows: keep that bounded.
            WindowKind::Sliding { size, slide } => {
                size > 0 && slide > 0 && slide <= size && size / slide <= 10_000
            }
            WindowKind::Session { gap } => gap > 0,
        };
        if !ok || self.allowed_lateness < 0 || self.update_retention < 0 {
            return Err(Error::InvalidArgument(format!(
                "bad window options {self:?}"
            )));
        }
        Ok(())
    }
}

/// A half-open event-time interval `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Window {
    /// Inclusive start.
    pub start: i64,
    /// Exclusive end.
    pub end: i64,
}

/// What a job emits.
#[derive(Debug, Clone, PartialEq)]
pub enum Emission<K, I, O> {
    /// A window closed: its final (or first) result.
    Fired {
        /// The key.
        key: K,
        /// The window.
        window: Window,
        /// The aggregate.
        output: O,
    },
    /// A fired window took a late event ([`LatePolicy::Update`]).
    Updated {
        /// The key.
        key: K,
        /// The window.
        window: Window,
        /// The revised aggregate.
        output: O,
    },
    /// A late event routed to the side output ([`LatePolicy::SideOutput`]).
    Late {
        /// The key.
        key: K,
        /// Its event time.
        time: i64,
        /// The input.
        input: I,
    },
}

/// Counters of a job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Events processed.
    pub events: u64,
    /// Windows fired.
    pub fired: u64,
    /// Late events dropped.
    pub late_dropped: u64,
    /// Late events emitted to the side output.
    pub late_side: u64,
    /// Late events folded into fired windows.
    pub late_updates: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Slot<A> {
    end: i64,
    agg: A,
    fired: bool,
}

/// A keyed, windowed aggregation job with aggregator `A` over inputs `I`.
#[derive(Debug, Clone)]
pub struct Windowed<K, I, A> {
    opts: WindowOptions,
    max_time: Option<i64>,
    watermark: i64,
    slots: BTreeMap<(K, i64), Slot<A>>,
    /// Open windows by `(end, key, start)`.
    pending: BTreeSet<(i64, K, i64)>,
    /// Fired windows kept for updates, by `(expiry, key, start)`.
    retained: BTreeSet<(i64, K, i64)>,
    stats: Stats,
    template: A,
    _input: PhantomData<fn(I)>,
}

impl<K, I, A> Windowed<K, I, A>
where
    K: Ord + Clone + std::fmt::Debug,
    I: Clone,
    A: Aggregator<I> + Default,
{
    /// A job with default-constructed aggregators.
    ///
    /// # Errors
    /// As [`Windowed::with_aggregator`].
    pub fn new(opts: WindowOptions) -> Result<Self> {
        Self::with_aggregator(opts, A::default())
    }
}

impl<K, I, A> Windowed<K, I, A>
where
    K: Ord + Clone + std::fmt::Debug,
    I: Clone,
    A: Aggregator<I>,
{
    /// A job whose windows start as clones of `template` (for configured
    /// aggregators, such as a sketch with a chosen accuracy).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `opts` are out of range: a window size,
    /// slide or session gap that is not positive, a slide above the size or
    /// below `size / 10_000` (an event would land in too many windows), or a
    /// negative allowed lateness or update retention.
    pub fn with_aggregator(opts: WindowOptions, template: A) -> Result<Self> {
        opts.validate()?;
        Ok(Windowed {
            opts,
            max_time: None,
            watermark: i64::MIN,
            slots: BTreeMap::new(),
            pending: BTreeSet::new(),
            retained: BTreeSet::new(),
            stats: Stats::default(),
            template,
            _input: PhantomData,
        })
    }

    /// The options.
    pub fn options(&self) -> &WindowOptions {
        &self.opts
    }

    /// The current watermark (`i64::MIN` before any event).
    pub fn watermark(&self) -> i64 {
        self.watermark
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Windows held in memory (open plus retained): the job's state size.
    pub fn state_windows(&self) -> usize {
        self.slots.len()
    }

    /// Distinct keys with state.
    pub fn active_keys(&self) -> usize {
        let mut n = 0;
        let mut last: Option<&K> = None;
        for (k, _) in self.slots.keys() {
            if last != Some(k) {
                n += 1;
                last = Some(k);
            }
        }
        n
    }

    fn assign(&self, t: i64) -> Vec<Window> {
        match self.opts.kind {
            WindowKind::Tumbling { size } => {
                let start = t.saturating_sub(t.rem_euclid(size));
                vec![Window {
                    start,
                    end: start.saturating_add(size),
                }]
            }
            WindowKind::Sliding { size, slide } => {
                let last = t.saturating_sub(t.rem_euclid(slide));
                let mut out = Vec::new();
                let mut s = last;
                let lowest = t.saturating_sub(size);
                while s > lowest {
                    out.push(Window {
                        start: s,
                        end: s.saturating_add(size),
                    });
                    match s.checked_sub(slide) {
                        Some(next) => s = next,
                        None => break,
                    }
                }
                out.reverse();
                out
            }
            WindowKind::Session { gap } => vec![Window {
                start: t,
                end: t.saturating_add(gap),
            }],
        }
    }

    /// Processes one event: assigns it to its windows, then advances the
    /// watermark and fires what it passed. Returns the emissions in order.
    ///
    /// # Errors
    /// [`Error::Incompatible`] if the event joins session windows whose
    /// aggregators refuse to merge ([`Aggregator::merge`]); clones of one
    /// template always merge, so the built-in aggregators never fail here.
    pub fn process(
        &mut self,
        key: K,
        time: i64,
        input: I,
    ) -> Result<Vec<Emission<K, I, A::Output>>> {
        let mut out = Vec::new();
        self.stats.events += 1;
        let mut late = false;
        if let WindowKind::Session { .. } = self.opts.kind {
            late = self.add_session(&key, time, &input, &mut out)?;
        } else {
            for w in self.assign(time) {
                late |= self.add_fixed(&key, w, &input, &mut out);
            }
        }
        if late {
            match self.opts.late_policy {
                LatePolicy::SideOutput => {
                    self.stats.late_side += 1;
                    out.push(Emission::Late { key, time, input });
                }
                // Drop, or Update past the retention: nothing left to update.
                LatePolicy::Drop | LatePolicy::Update => self.stats.late_dropped += 1,
            }
        }
        let max = self.max_time.map_or(time, |m| m.max(time));
        self.max_time = Some(max);
        self.advance(max.saturating_sub(self.opts.allowed_lateness), &mut out);
        Ok(out)
    }

    /// Adds to a fixed window; true if the event was late and not absorbed.
    fn add_fixed(
        &mut self,
        key: &K,
        w: Window,
        input: &I,
        out: &mut Vec<Emission<K, I, A::Output>>,
    ) -> bool {
        let id = (key.clone(), w.start);
        if let Some(slot) = self.slots.get_mut(&id) {
            if !slot.fired {
                slot.agg.update(input);
                return false;
            }
            if self.opts.late_policy == LatePolicy::Update {
                slot.agg.update(input);
                self.stats.late_updates += 1;
                out.push(Emission::Updated {
                    key: key.clone(),
                    window: w,
                    output: slot.agg.output(),
                });
                return false;
            }
            return true;
        }
        if w.end <= self.watermark {
            // Fired already and no longer retained (or never had events).
            return true;
        }
        let mut agg = self.template.clone();
        agg.update(input);
        self.slots.insert(
            id,
            Slot {
                end: w.end,
                agg,
                fired: false,
            },
        );
        self.pending.insert((w.end, key.clone(), w.start));
        false
    }

    fn add_session(
        &mut self,
        key: &K,
        t: i64,
        input: &I,
        out: &mut Vec<Emission<K, I, A::Output>>,
    ) -> Result<bool> {
        let WindowKind::Session { gap } = self.opts.kind else {
            return Ok(false);
        };
        let mut w = Window {
            start: t,
            end: t.saturating_add(gap),
        };
        // Sessions of this key that overlap or touch [t, t + gap) (Flink's
        // convention: an event exactly `gap` after the last one extends the session).
        let touching: Vec<(i64, i64, bool)> = self
            .slots
            .range((key.clone(), i64::MIN)..=(key.clone(), i64::MAX))
            .filter(|((_, s), slot)| *s <= w.end && slot.end >= w.start)
            .map(|((_, s), slot)| (*s, slot.end, slot.fired))
            .collect();
        if let Some(&(s, e, _)) = touching.iter().find(|x| x.2) {
            // Inside (or adjacent to) a fired session.
            if self.opts.late_policy == LatePolicy::Update && s <= t && t < e {
                let window = Window { start: s, end: e };
                if let Some(slot) = self.slots.get_mut(&(key.clone(), s)) {
                    slot.agg.update(input);
                    self.stats.late_updates += 1;
                    out.push(Emission::Updated {
                        key: key.clone(),
                        window,
                        output: slot.agg.output(),
                    });
                    return Ok(false);
                }
            }
            if s <= t && t < e {
                return Ok(true);
            }
        }
        if w.end <= self.watermark {
            return Ok(true);
        }
        let mut agg = self.template.clone();
        agg.update(input);
        // Merge first, remove after: a merge that fails (sessions restored
        // from a checkpoint with another configuration) changes nothing.
        let mut merged = Vec::new();
        for (s, e, fired) in touching {
            if fired {
                continue;
            }
            if let Some(slot) = self.slots.get(&(key.clone(), s)) {
                agg.merge(&slot.agg)?;
                merged.push((s, e));
                w.start = w.start.min(s);
                w.end = w.end.max(e);
            }
        }
        for (s, e) in merged {
            self.slots.remove(&(key.clone(), s));
            self.pending.remove(&(e, key.clone(), s));
        }
        self.slots.insert(
            (key.clone(), w.start),
            Slot {
                end: w.end,
                agg,
                fired: false,
            },
        );
        self.pending.insert((w.end, key.clone(), w.start));
        Ok(false)
    }

    fn advance(&mut self, wm: i64, out: &mut Vec<Emission<K, I, A::Output>>) {
        if wm <= self.watermark {
            return;
        }
        self.watermark = wm;
        while let Some(first) = self.pending.first() {
            if first.0 > wm {
                break;
            }
            let Some((end, key, start)) = self.pending.pop_first() else {
                break;
            };
            self.fire(key, start, end, out);
        }
        while let Some(first) = self.retained.first() {
            if first.0 > wm {
                break;
            }
            let Some((_, key, start)) = self.retained.pop_first() else {
                break;
            };
            self.slots.remove(&(key, start));
        }
    }

    fn fire(&mut self, key: K, start: i64, end: i64, out: &mut Vec<Emission<K, I, A::Output>>) {
        let id = (key.clone(), start);
        let keep = self.opts.late_policy == LatePolicy::Update && self.opts.update_retention > 0;
        let output = if keep {
            let Some(slot) = self.slots.get_mut(&id) else {
                return;
            };
            slot.fired = true;
            self.retained.insert((
                end.saturating_add(self.opts.update_retention),
                key.clone(),
                start,
            ));
            slot.agg.output()
        } else {
            let Some(slot) = self.slots.remove(&id) else {
                return;
            };
            slot.agg.output()
        };
        self.stats.fired += 1;
        out.push(Emission::Fired {
            key,
            window: Window { start, end },
            output,
        });
    }

    /// Ends the stream: fires every open window (as if the watermark went to
    /// +infinity) and drops retained ones.
    pub fn flush(&mut self) -> Vec<Emission<K, I, A::Output>> {
        let mut out = Vec::new();
        while let Some((end, key, start)) = self.pending.pop_first() {
            self.fire(key, start, end, &mut out);
        }
        self.retained.clear();
        self.slots.clear();
        out
    }
}

/// The serialized state of a job (a store record).
#[derive(Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize, A: Serialize",
    deserialize = "K: DeserializeOwned, A: DeserializeOwned"
))]
struct Checkpoint<K, A> {
    opts: WindowOptions,
    max_time: Option<i64>,
    watermark: i64,
    slots: Vec<(K, i64, Slot<A>)>,
    retained: Vec<(i64, K, i64)>,
    stats: Stats,
    template: A,
}

impl<K: Serialize + DeserializeOwned, A: Serialize + DeserializeOwned> Record for Checkpoint<K, A> {
    const KIND: &'static str = "sketch.window.checkpoint";
    const VERSION: u32 = 2;
}

impl<K, I, A> Windowed<K, I, A>
where
    K: Ord + Clone + std::fmt::Debug + Serialize + DeserializeOwned + Send + Sync,
    I: Clone,
    A: Aggregator<I> + Sync,
{
    fn checkpoint_key(name: &str) -> Result<Key> {
        Ok(Key::new(format!("sketch/window/{name}"))?)
    }

    /// Writes the whole job state under `sketch/window/<name>` (overwriting
    /// the previous checkpoint). Returns the stored version.
    ///
    /// # Errors
    /// [`Error::Store`] if `name` does not make a valid store key
    /// (`sketch/window/<name>`: no empty segment, `.`, `..`, backslash or
    /// control character), the checkpoint cannot be encoded, or the store fails.
    pub async fn save<S: Store + ?Sized>(&self, store: &S, name: &str) -> Result<Version> {
        self.save_with(store, name, PutOptions::new()).await
    }

    /// Writes the checkpoint only over the one this job was loaded from or
    /// last saved (`expected`: the version [`Windowed::load_versioned`] or
    /// the last save returned; `None`: only if there is no checkpoint yet).
    /// With several instances of one job (a failover that left the old one
    /// running), the stale instance's save fails instead of overwriting the
    /// live one's checkpoint.
    ///
    /// ```
    /// use blocksmith_sketch::aggregate::DistinctCount;
    /// use blocksmith_sketch::window::{WindowKind, WindowOptions, Windowed};
    /// use blocksmith_store::{MemoryStore, block_on};
    /// type Job = Windowed<String, u64, DistinctCount>;
    /// let store = MemoryStore::new();
    /// let opts = WindowOptions::new(WindowKind::Tumbling { size: 60_000 });
    /// block_on(async {
    ///     let v = Job::new(opts)?.save_if(&store, "users", None).await?;
    ///     let (a, va) = Job::load_versioned(&store, "users").await?.unwrap();
    ///     let (b, vb) = Job::load_versioned(&store, "users").await?.unwrap();
    ///     assert_eq!((&va, &vb), (&v, &v));
    ///     a.save_if(&store, "users", Some(va)).await?;
    ///     // The other instance is stale now.
    ///     assert!(b.save_if(&store, "users", Some(vb)).await.is_err());
    ///     Ok::<_, blocksmith_sketch::Error>(())
    /// })?;
    /// # Ok::<_, blocksmith_sketch::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Windowed::save`]; [`Error::Store`] holding
    /// `blocksmith_store::Error::PreconditionFailed` (or `AlreadyExists` for
    /// `None`) when another instance saved meanwhile.
    pub async fn save_if<S: Store + ?Sized>(
        &self,
        store: &S,
        name: &str,
        expected: Option<Version>,
    ) -> Result<Version> {
        let mode = match expected {
            Some(v) => PutOptions::update(v),
            None => PutOptions::create(),
        };
        self.save_with(store, name, mode).await
    }

    async fn save_with<S: Store + ?Sized>(
        &self,
        store: &S,
        name: &str,
        mode: PutOptions,
    ) -> Result<Version> {
        let cp = Checkpoint {
            opts: self.opts.clone(),
            max_time: self.max_time,
            watermark: self.watermark,
            slots: self
                .slots
                .iter()
                .map(|((k, s), slot)| (k.clone(), *s, slot.clone()))
                .collect(),
            retained: self.retained.iter().cloned().collect(),
            stats: self.stats,
            template: self.template.clone(),
        };
        let key = Self::checkpoint_key(name)?;
        Ok(store.put_record(&key, &cp, mode).await?.version)
    }

    /// Loads the job saved by [`Windowed::save`] under `name` (its options
    /// and aggregator template come from the checkpoint); `None` if there is
    /// none.
    ///
    /// # Errors
    /// - [`Error::Store`] if `name` does not make a valid store key, the stored
    ///   checkpoint does not decode (as these `K` and `A`), or the store fails;
    /// - [`Error::InvalidArgument`] if the checkpoint's options are out of range
    ///   (as for [`Windowed::with_aggregator`]).
    pub async fn load<S: Store + ?Sized>(store: &S, name: &str) -> Result<Option<Self>> {
        Ok(Self::load_versioned(store, name).await?.map(|(job, _)| job))
    }

    /// [`Windowed::load`], with the checkpoint's version for
    /// [`Windowed::save_if`].
    ///
    /// # Errors
    /// As [`Windowed::load`].
    pub async fn load_versioned<S: Store + ?Sized>(
        store: &S,
        name: &str,
    ) -> Result<Option<(Self, Version)>> {
        let key = Self::checkpoint_key(name)?;
        let Some((cp, version)) = store.get_record::<Checkpoint<K, A>>(&key).await? else {
            return Ok(None);
        };
        cp.opts.validate()?;
        let mut job = Self::with_aggregator(cp.opts, cp.template)?;
        job.max_time = cp.max_time;
        job.watermark = cp.watermark;
        job.stats = cp.stats;
        for (k, s, slot) in cp.slots {
            if !slot.fired {
                job.pending.insert((slot.end, k.clone(), s));
            }
            job.slots.insert((k, s), slot);
        }
        job.retained = cp.retained.into_iter().collect();
        Ok(Some((job, version)))
    }
}
