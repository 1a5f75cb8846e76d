//! [`ReceiptStore`]: [`Receipts`] over a [`Store`], one block per
//! conversation, written by compare-and-swap and merged by maximum when
//! another writer got there first.

use crate::{
    Badge, ChangePage, Clock, Conversation, DeviceId, Error, ListKind, MessageStatus, Privacy,
    ReceiptKind, Receipts, ReceiptsOptions, Result, Seq, SystemClock, Unread, UserId,
};
use blocksmith_store::{Key, PutOptions, Store, StoreExt, block_on};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// How many times a write retries after losing the compare-and-swap.
const CAS_ATTEMPTS: u32 = 64;

/// What [`ReceiptStore::tick`] and [`ReceiptStore::flush`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlushStats {
    /// Conversation blocks written.
    pub written: usize,
    /// Bytes written.
    pub bytes: usize,
    /// Writes that lost the compare-and-swap to another writer and merged
    /// its block before trying again.
    pub merged: usize,
    /// Change-feed batches formed ([`ReceiptStore::tick`] only).
    pub batches: usize,
}

struct Inner<S> {
    store: S,
    options: ReceiptsOptions,
    engine: Mutex<Receipts>,
}

/// Receipts persisted in a [`Store`]: the [`Receipts`] engine in memory,
/// each conversation stored as one compact block (`<prefix>/c/<id>`, see
/// [`crate::block`]), not a key per member.
///
/// Conversations load on first use. Changes are written per conversation
/// by compare-and-swap on the block's version, at most
/// [`ReceiptsOptions::flush_interval_ms`] after the first unwritten change
/// ([`ReceiptStore::tick`]), at once when
/// [`ReceiptsOptions::flush_max_updates`] wait, or before each call returns
/// with an interval of 0 (write-through). A write that loses the race to
/// another process reads that process's block, merges it (watermarks by
/// maximum, so neither side's updates are lost) and tries again.
///
/// Cheap to clone (shared state). Every method is async; [`ReceiptStore::blocking`]
/// has the same calls for synchronous hosts.
pub struct ReceiptStore<S> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for ReceiptStore<S> {
    fn clone(&self) -> Self {
        ReceiptStore {
            inner: self.inner.clone(),
        }
    }
}

impl<S> fmt::Debug for ReceiptStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceiptStore")
            .field("prefix", &self.inner.options.prefix)
            .finish_non_exhaustive()
    }
}

impl<S: Store> ReceiptStore<S> {
    /// A handle over `store` (no I/O until a conversation is used).
    pub fn new(store: S, options: ReceiptsOptions) -> Self {
        Self::with_clock(store, options, SystemClock)
    }

    /// [`ReceiptStore::new`] with the clock that times flushes and the feed.
    pub fn with_clock(store: S, options: ReceiptsOptions, clock: impl Clock) -> Self {
        let clock: Arc<dyn Clock> = Arc::new(clock);
        let engine = Receipts::new(options.clone()).with_shared_clock(clock);
        ReceiptStore {
            inner: Arc::new(Inner {
                store,
                options,
                engine: Mutex::new(engine),
            }),
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The options.
    pub fn options(&self) -> &ReceiptsOptions {
        &self.inner.options
    }

    fn lock(&self) -> MutexGuard<'_, Receipts> {
        self.inner
            .engine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the engine in memory (queries of loaded conversations,
    /// [`Receipts::memory`], ...). Changes made here are written like any
    /// other by the next [`ReceiptStore::tick`] or [`ReceiptStore::flush`].
    pub fn with_engine<T>(&self, f: impl FnOnce(&mut Receipts) -> T) -> T {
        f(&mut self.lock())
    }

    fn key(&self, conv: &str) -> Result<Key> {
        if !crate::valid_id(conv) {
            return Err(Error::InvalidConversation(conv.to_string()));
        }
        Ok(Key::new(format!("{}/c/{conv}", self.inner.options.prefix))?)
    }

    /// Reads `conv`'s block into memory unless it is there already.
    /// Returns whether the conversation exists (in memory or stored).
    ///
    /// # Errors
    /// [`Error::InvalidConversation`]; [`Error::Corrupt`] or
    /// [`Error::UnsupportedFormat`] for a damaged block; the store's errors.
    pub async fn load(&self, conv: &str) -> Result<bool> {
        let key = self.key(conv)?;
        if self.lock().contains(conv) {
            return Ok(true);
        }
        let Some(got) = self.inner.store.get_opt(&key).await? else {
            return Ok(false);
        };
        let c = Conversation::from_bytes(&got.data, &self.inner.options)?;
        if c.id() != conv {
            return Err(Error::Corrupt {
                reason: "the block names another conversation",
                offset: 0,
            });
        }
        self.lock().insert(c, Some(got.meta.version));
        Ok(true)
    }

    /// Loads every stored conversation (a tool's view of the whole store;
    /// a server loads the ones its users open). Returns how many are in memory.
    ///
    /// # Errors
    /// As [`ReceiptStore::load`], for any block.
    pub async fn load_all(&self) -> Result<usize> {
        let prefix = format!("{}/c/", self.inner.options.prefix);
        for meta in self.inner.store.list_all(&prefix).await? {
            if let Some(id) = meta.key.as_str().strip_prefix(&prefix) {
                self.load(id).await?;
            }
        }
        Ok(self.lock().conversations().count())
    }

    /// Runs a change on `conv` (loaded first), then writes the conversation
    /// if the options say so now.
    async fn change<T>(
        &self,
        conv: &str,
        f: impl FnOnce(&mut Receipts) -> Result<T> + Send,
    ) -> Result<T> {
        self.load(conv).await?;
        let (out, flush) = {
            let mut e = self.lock();
            let out = f(&mut e)?;
            let flush = e.slot_index(conv).is_ok_and(|k| e.must_flush(k));
            (out, flush)
        };
        if flush {
            self.write(conv, &mut FlushStats::default()).await?;
        }
        Ok(out)
    }

    /// [`Receipts::join`], then written as the options say.
    ///
    /// # Errors
    /// As [`Receipts::join`] and [`ReceiptStore::load`]; a failed write.
    pub async fn join(&self, conv: &str, user: UserId) -> Result<Seq> {
        self.change(conv, |e| e.join(conv, user)).await
    }

    /// [`Receipts::leave`], then written as the options say.
    ///
    /// # Errors
    /// As [`Receipts::leave`] and [`ReceiptStore::load`]; a failed write.
    pub async fn leave(&self, conv: &str, user: UserId) -> Result<()> {
        self.change(conv, |e| e.leave(conv, user)).await
    }

    /// [`Receipts::post`], then written as the options say.
    ///
    /// # Errors
    /// As [`Receipts::post`] and [`ReceiptStore::load`]; a failed write.
    pub async fn post(
        &self,
        conv: &str,
        seq: Seq,
        sender: UserId,
        mentions: &[UserId],
    ) -> Result<()> {
        self.change(conv, |e| e.post(conv, seq, sender, mentions))
            .await
    }

    /// [`Receipts::delete`], then written as the options say.
    ///
    /// # Errors
    /// As [`Receipts::delete`] and [`ReceiptStore::load`]; a failed write.
    pub async fn delete(&self, conv: &str, seq: Seq) -> Result<()> {
        self.change(conv, |e| e.delete(conv, seq)).await
    }

    /// [`Receipts::receipt`], then written as the options say.
    ///
    /// # Errors
    /// As [`Receipts::receipt`] and [`ReceiptStore::load`]; a failed write.
    pub async fn receipt(
        &self,
        conv: &str,
        user: UserId,
        kind: ReceiptKind,
        seq: Seq,
    ) -> Result<bool> {
        self.change(conv, |e| e.receipt(conv, user, kind, seq))
            .await
    }

    /// [`Receipts::delivered`], then written as the options say.
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub async fn delivered(&self, conv: &str, user: UserId, seq: Seq) -> Result<bool> {
        self.receipt(conv, user, ReceiptKind::Delivered, seq).await
    }

    /// [`Receipts::read`], then written as the options say.
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub async fn read(&self, conv: &str, user: UserId, seq: Seq) -> Result<bool> {
        self.receipt(conv, user, ReceiptKind::Read, seq).await
    }

    /// [`Receipts::read_private`], then written as the options say.
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub async fn read_private(&self, conv: &str, user: UserId, seq: Seq) -> Result<bool> {
        self.receipt(conv, user, ReceiptKind::ReadPrivate, seq)
            .await
    }

    /// [`Receipts::delivered_to_device`], then written as the options say.
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub async fn delivered_to_device(
        &self,
        conv: &str,
        user: UserId,
        device: DeviceId,
        seq: Seq,
    ) -> Result<bool> {
        self.change(conv, |e| e.delivered_to_device(conv, user, device, seq))
            .await
    }

    /// [`Receipts::remove_device`], then written as the options say.
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub async fn remove_device(&self, conv: &str, user: UserId, device: DeviceId) -> Result<bool> {
        self.change(conv, |e| e.remove_device(conv, user, device))
            .await
    }

    /// [`Receipts::set_privacy`], then written as the options say.
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub async fn set_privacy(&self, conv: &str, user: UserId, privacy: Privacy) -> Result<()> {
        self.change(conv, |e| e.set_privacy(conv, user, privacy))
            .await
    }

    /// [`Receipts::mark_read`], then written as the options say.
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub async fn mark_read(&self, conv: &str, user: UserId) -> Result<bool> {
        self.change(conv, |e| e.mark_read(conv, user)).await
    }

    /// [`Receipts::mark_unread`], then written as the options say.
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub async fn mark_unread(&self, conv: &str, user: UserId, from: Seq) -> Result<()> {
        self.change(conv, |e| e.mark_unread(conv, user, from)).await
    }

    /// [`Receipts::mark_all_read`] over the conversations in memory, then
    /// written as the options say.
    ///
    /// # Errors
    /// A failed write.
    pub async fn mark_all_read(&self, user: UserId) -> Result<u32> {
        let (n, due) = {
            let mut e = self.lock();
            let n = e.mark_all_read(user);
            let due: Vec<String> = e
                .conversations_of(user)
                .into_iter()
                .map(str::to_string)
                .collect();
            let due = due
                .into_iter()
                .filter(|c| e.slot_index(c).is_ok_and(|k| e.must_flush(k)))
                .collect::<Vec<_>>();
            (n, due)
        };
        let mut stats = FlushStats::default();
        for c in due {
            self.write(&c, &mut stats).await?;
        }
        Ok(n)
    }

    /// [`Receipts::status`] (the conversation loaded first).
    ///
    /// # Errors
    /// [`Error::UnknownConversation`] if it is not stored either; as
    /// [`Receipts::status`] and [`ReceiptStore::load`].
    pub async fn status(&self, conv: &str, seq: Seq, viewer: UserId) -> Result<MessageStatus> {
        self.load(conv).await?;
        self.lock().status(conv, seq, viewer)
    }

    /// [`Receipts::list`] (the conversation loaded first).
    ///
    /// # Errors
    /// As [`ReceiptStore::status`] and [`Receipts::list`].
    pub async fn list(
        &self,
        conv: &str,
        seq: Seq,
        viewer: UserId,
        kind: ListKind,
        limit: usize,
    ) -> Result<Vec<UserId>> {
        self.load(conv).await?;
        self.lock().list(conv, seq, viewer, kind, limit)
    }

    /// [`Receipts::unread`] (the conversation loaded first).
    ///
    /// # Errors
    /// As [`ReceiptStore::status`].
    pub async fn unread(&self, conv: &str, user: UserId) -> Result<Unread> {
        self.load(conv).await?;
        self.lock().unread(conv, user)
    }

    /// [`Receipts::badge`] over the conversations in memory (load a user's
    /// conversations first, or [`ReceiptStore::load_all`]).
    pub fn badge(&self, user: UserId) -> Badge {
        self.lock().badge(user)
    }

    /// Forms the change-feed batches that are due ([`Receipts::feed_tick`]),
    /// then writes the conversations whose flush interval has passed (or
    /// whose update count reached the limit). Call it about every
    /// [`ReceiptsOptions::flush_interval_ms`] or
    /// [`ReceiptsOptions::feed_interval_ms`], whichever is shorter.
    ///
    /// # Errors
    /// The first failed write (the others still wait, in memory).
    pub async fn tick(&self) -> Result<FlushStats> {
        let now = self.lock().clock.now_ms();
        let due = self.lock().due(now, false);
        let mut stats = FlushStats {
            batches: self.lock().feed_tick(),
            ..FlushStats::default()
        };
        for c in due {
            self.write(&c, &mut stats).await?;
        }
        Ok(stats)
    }

    /// [`Receipts::changes`] (the conversation loaded first). Batches form
    /// in [`ReceiptStore::tick`].
    ///
    /// # Errors
    /// As [`ReceiptStore::status`] and [`Receipts::changes`].
    pub async fn changes(
        &self,
        conv: &str,
        viewer: UserId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<ChangePage> {
        self.load(conv).await?;
        self.lock().changes(conv, viewer, cursor, limit)
    }

    /// Writes every conversation with unwritten changes (at shutdown, or
    /// to make a point durable).
    ///
    /// # Errors
    /// The first failed write.
    pub async fn flush(&self) -> Result<FlushStats> {
        let due = self.lock().due(0, true);
        let mut stats = FlushStats::default();
        for c in due {
            self.write(&c, &mut stats).await?;
        }
        Ok(stats)
    }

    /// Writes one conversation's block if it has unwritten changes:
    /// compare-and-swap on the version read or last written; on a lost
    /// race, merge the stored block and try again.
    async fn write(&self, conv: &str, stats: &mut FlushStats) -> Result<()> {
        let key = self.key(conv)?;
        for _ in 0..CAS_ATTEMPTS {
            let (k, bytes, version, changes) = {
                let e = self.lock();
                let k = e.slot_index(conv)?;
                let s = &e.slots[k as usize];
                if !s.in_dirty {
                    return Ok(());
                }
                (k, s.conv.to_bytes(), s.version.clone(), s.conv.changes)
            };
            let len = bytes.len();
            let mode = match version {
                Some(v) => PutOptions::update(v),
                None => PutOptions::create(),
            };
            match self.inner.store.put(&key, bytes.into(), mode).await {
                Ok(put) => {
                    self.lock().flushed(k, changes, put.version);
                    stats.written += 1;
                    stats.bytes += len;
                    return Ok(());
                }
                Err(e) if e.is_conflict() => {
                    stats.merged += 1;
                    if let Some(got) = self.inner.store.get_opt(&key).await? {
                        let stored = Conversation::from_bytes(&got.data, &self.inner.options)?;
                        self.lock().merge_stored(k, &stored, got.meta.version);
                    } else {
                        // Removed meanwhile: create it again.
                        self.lock().slots[k as usize].version = None;
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contended(conv.to_string()))
    }

    /// The same calls as blocking ones, for synchronous hosts, tools and
    /// tests (each drives the async method to completion on the calling
    /// thread: never call it from inside an async runtime's task).
    pub fn blocking(&self) -> BlockingReceiptStore<'_, S> {
        BlockingReceiptStore(self)
    }
}

/// Blocking calls over [`ReceiptStore`] (see [`ReceiptStore::blocking`]);
/// each method drives the async one with [`blocksmith_store::block_on`].
pub struct BlockingReceiptStore<'a, S>(&'a ReceiptStore<S>);

impl<S> fmt::Debug for BlockingReceiptStore<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingReceiptStore")
            .finish_non_exhaustive()
    }
}

impl<S: Store> BlockingReceiptStore<'_, S> {
    /// [`ReceiptStore::load`].
    ///
    /// # Errors
    /// As [`ReceiptStore::load`].
    pub fn load(&self, conv: &str) -> Result<bool> {
        block_on(self.0.load(conv))
    }
    /// [`ReceiptStore::load_all`].
    ///
    /// # Errors
    /// As [`ReceiptStore::load_all`].
    pub fn load_all(&self) -> Result<usize> {
        block_on(self.0.load_all())
    }
    /// [`ReceiptStore::join`].
    ///
    /// # Errors
    /// As [`ReceiptStore::join`].
    pub fn join(&self, conv: &str, user: UserId) -> Result<Seq> {
        block_on(self.0.join(conv, user))
    }
    /// [`ReceiptStore::leave`].
    ///
    /// # Errors
    /// As [`ReceiptStore::leave`].
    pub fn leave(&self, conv: &str, user: UserId) -> Result<()> {
        block_on(self.0.leave(conv, user))
    }
    /// [`ReceiptStore::post`].
    ///
    /// # Errors
    /// As [`ReceiptStore::post`].
    pub fn post(&self, conv: &str, seq: Seq, sender: UserId, mentions: &[UserId]) -> Result<()> {
        block_on(self.0.post(conv, seq, sender, mentions))
    }
    /// [`ReceiptStore::delete`].
    ///
    /// # Errors
    /// As [`ReceiptStore::delete`].
    pub fn delete(&self, conv: &str, seq: Seq) -> Result<()> {
        block_on(self.0.delete(conv, seq))
    }
    /// [`ReceiptStore::receipt`].
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub fn receipt(&self, conv: &str, user: UserId, kind: ReceiptKind, seq: Seq) -> Result<bool> {
        block_on(self.0.receipt(conv, user, kind, seq))
    }
    /// [`ReceiptStore::delivered`].
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub fn delivered(&self, conv: &str, user: UserId, seq: Seq) -> Result<bool> {
        block_on(self.0.delivered(conv, user, seq))
    }
    /// [`ReceiptStore::read`].
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub fn read(&self, conv: &str, user: UserId, seq: Seq) -> Result<bool> {
        block_on(self.0.read(conv, user, seq))
    }
    /// [`ReceiptStore::read_private`].
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub fn read_private(&self, conv: &str, user: UserId, seq: Seq) -> Result<bool> {
        block_on(self.0.read_private(conv, user, seq))
    }
    /// [`ReceiptStore::delivered_to_device`].
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub fn delivered_to_device(
        &self,
        conv: &str,
        user: UserId,
        device: DeviceId,
        seq: Seq,
    ) -> Result<bool> {
        block_on(self.0.delivered_to_device(conv, user, device, seq))
    }
    /// [`ReceiptStore::remove_device`].
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub fn remove_device(&self, conv: &str, user: UserId, device: DeviceId) -> Result<bool> {
        block_on(self.0.remove_device(conv, user, device))
    }
    /// [`ReceiptStore::set_privacy`].
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub fn set_privacy(&self, conv: &str, user: UserId, privacy: Privacy) -> Result<()> {
        block_on(self.0.set_privacy(conv, user, privacy))
    }
    /// [`ReceiptStore::mark_read`].
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub fn mark_read(&self, conv: &str, user: UserId) -> Result<bool> {
        block_on(self.0.mark_read(conv, user))
    }
    /// [`ReceiptStore::mark_unread`].
    ///
    /// # Errors
    /// As [`ReceiptStore::receipt`].
    pub fn mark_unread(&self, conv: &str, user: UserId, from: Seq) -> Result<()> {
        block_on(self.0.mark_unread(conv, user, from))
    }
    /// [`ReceiptStore::mark_all_read`].
    ///
    /// # Errors
    /// As [`ReceiptStore::mark_all_read`].
    pub fn mark_all_read(&self, user: UserId) -> Result<u32> {
        block_on(self.0.mark_all_read(user))
    }
    /// [`ReceiptStore::status`].
    ///
    /// # Errors
    /// As [`ReceiptStore::status`].
    pub fn status(&self, conv: &str, seq: Seq, viewer: UserId) -> Result<MessageStatus> {
        block_on(self.0.status(conv, seq, viewer))
    }
    /// [`ReceiptStore::list`].
    ///
    /// # Errors
    /// As [`ReceiptStore::list`].
    pub fn list(
        &self,
        conv: &str,
        seq: Seq,
        viewer: UserId,
        kind: ListKind,
        limit: usize,
    ) -> Result<Vec<UserId>> {
        block_on(self.0.list(conv, seq, viewer, kind, limit))
    }
    /// [`ReceiptStore::unread`].
    ///
    /// # Errors
    /// As [`ReceiptStore::unread`].
    pub fn unread(&self, conv: &str, user: UserId) -> Result<Unread> {
        block_on(self.0.unread(conv, user))
    }
    /// [`ReceiptStore::badge`].
    pub fn badge(&self, user: UserId) -> Badge {
        self.0.badge(user)
    }
    /// [`ReceiptStore::tick`].
    ///
    /// # Errors
    /// As [`ReceiptStore::tick`].
    pub fn tick(&self) -> Result<FlushStats> {
        block_on(self.0.tick())
    }
    /// [`ReceiptStore::changes`].
    ///
    /// # Errors
    /// As [`ReceiptStore::changes`].
    pub fn changes(
        &self,
        conv: &str,
        viewer: UserId,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<ChangePage> {
        block_on(self.0.changes(conv, viewer, cursor, limit))
    }
    /// [`ReceiptStore::flush`].
    ///
    /// # Errors
    /// As [`ReceiptStore::flush`].
    pub fn flush(&self) -> Result<FlushStats> {
        block_on(self.0.flush())
    }
}
