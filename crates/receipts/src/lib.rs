#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

pub mod block;
mod conversation;
mod engine;
mod error;
pub mod feed;
mod fenwick;
mod handle;

pub use conversation::{
    Conversation, ListKind, MemberView, MessageState, MessageStatus, ReceiptKind, Unread,
};
pub use engine::{Badge, MemoryStats, Receipts};
pub use error::{Error, Result};
pub use feed::{Change, ChangeBatch, ChangePage};
pub use handle::{BlockingReceiptStore, FlushStats, ReceiptStore};

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A message's sequence number in its conversation: 1, 2, 3, ... in the
/// order the host's server accepted the messages (gaps allowed: a number
/// never posted counts as no message). 0 means "before the first message".
pub type Seq = u64;

/// The most [`ReceiptsOptions::max_ahead`] may be.
pub const MAX_AHEAD_LIMIT: u64 = 1 << 20;

/// A user, by the host's numeric id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub u64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One of a user's devices, by the host's numeric id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(pub u64);

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A member's read-receipt setting in a conversation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Privacy {
    /// Read receipts are shown to others.
    #[default]
    Public,
    /// Read receipts are not shown: reads move only the user's own position
    /// (as private receipts do). Delivery is still shown. Under
    /// [`ReceiptsOptions::reciprocal`] the user sees no one's read receipts
    /// either (WhatsApp's rule).
    Hidden,
}

impl Privacy {
    /// `"public"` or `"hidden"`.
    pub fn name(self) -> &'static str {
        match self {
            Privacy::Public => "public",
            Privacy::Hidden => "hidden",
        }
    }
}

/// When a message counts as delivered to a user with several devices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DevicePolicy {
    /// As soon as one device has it.
    #[default]
    Any,
    /// When every device the user has acknowledged from (and not removed)
    /// has it. A device's first acknowledgement starts it at the user's
    /// delivered watermark, so adding a device never moves delivery back.
    All,
}

/// What configures [`Receipts`] and [`ReceiptStore`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReceiptsOptions {
    /// How per-device deliveries make a user's delivered watermark.
    pub device_policy: DevicePolicy,
    /// WhatsApp's rule: a member who hides read receipts sees no one's.
    pub reciprocal: bool,
    /// Groups with more active members than this show read counts but no
    /// read list (`None`: no limit). Delivered lists are always shown.
    pub read_list_limit: Option<u32>,
    /// How far past the newest message known here a receipt or message may
    /// point (another node may know newer messages); at most
    /// [`MAX_AHEAD_LIMIT`].
    pub max_ahead: u64,
    /// A changed conversation is written at most this long after its first
    /// unwritten change ([`ReceiptStore::tick`]); 0 writes every change
    /// before the call returns (write-through).
    pub flush_interval_ms: u64,
    /// A conversation is written as soon as this many updates wait.
    pub flush_max_updates: u32,
    /// Change-feed batches of a conversation are at least this far apart.
    pub feed_interval_ms: u64,
    /// Batches kept per conversation for subscribers to resume from.
    pub feed_retain: usize,
    /// A batch reports counts of at most this many (newest) messages.
    pub feed_max_messages: usize,
    /// Key prefix of the blocks in the store.
    pub prefix: String,
}

impl Default for ReceiptsOptions {
    fn default() -> Self {
        ReceiptsOptions {
            device_policy: DevicePolicy::Any,
            reciprocal: false,
            read_list_limit: None,
            max_ahead: 1 << 16,
            flush_interval_ms: 1000,
            flush_max_updates: 4096,
            feed_interval_ms: 1000,
            feed_retain: 256,
            feed_max_messages: 1024,
            prefix: "receipts".into(),
        }
    }
}

impl ReceiptsOptions {
    /// Sets [`ReceiptsOptions::device_policy`].
    #[must_use]
    pub fn with_device_policy(mut self, policy: DevicePolicy) -> Self {
        self.device_policy = policy;
        self
    }
    /// Sets [`ReceiptsOptions::reciprocal`].
    #[must_use]
    pub fn with_reciprocal(mut self, on: bool) -> Self {
        self.reciprocal = on;
        self
    }
    /// Sets [`ReceiptsOptions::read_list_limit`].
    #[must_use]
    pub fn with_read_list_limit(mut self, limit: Option<u32>) -> Self {
        self.read_list_limit = limit;
        self
    }
    /// Sets [`ReceiptsOptions::max_ahead`] (capped at [`MAX_AHEAD_LIMIT`]).
    #[must_use]
    pub fn with_max_ahead(mut self, n: u64) -> Self {
        self.max_ahead = n.min(MAX_AHEAD_LIMIT);
        self
    }
    /// Sets [`ReceiptsOptions::flush_interval_ms`] (0: write-through).
    #[must_use]
    pub fn with_flush_interval_ms(mut self, ms: u64) -> Self {
        self.flush_interval_ms = ms;
        self
    }
    /// Sets [`ReceiptsOptions::flush_max_updates`] (at least 1).
    #[must_use]
    pub fn with_flush_max_updates(mut self, n: u32) -> Self {
        self.flush_max_updates = n.max(1);
        self
    }
    /// Sets [`ReceiptsOptions::feed_interval_ms`].
    #[must_use]
    pub fn with_feed_interval_ms(mut self, ms: u64) -> Self {
        self.feed_interval_ms = ms;
        self
    }
    /// Sets [`ReceiptsOptions::feed_retain`] (at least 1).
    #[must_use]
    pub fn with_feed_retain(mut self, n: usize) -> Self {
        self.feed_retain = n.max(1);
        self
    }
    /// Sets [`ReceiptsOptions::feed_max_messages`] (at least 1).
    #[must_use]
    pub fn with_feed_max_messages(mut self, n: usize) -> Self {
        self.feed_max_messages = n.max(1);
        self
    }
    /// Sets [`ReceiptsOptions::prefix`].
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

/// Whether `id` is a valid conversation id: 1 to 128 bytes of ASCII
/// letters, digits, `-`, `_`, `.` and `:`, not `.` or `..`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Where time comes from (interval flushes, feed throttling).
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch (or any fixed origin).
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// A clock that moves only when told (tests, simulations). Clones share the time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock at `ms`.
    pub fn new(ms: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(ms)))
    }
    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::Relaxed);
    }
    /// Sets the clock.
    pub fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::Relaxed);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
