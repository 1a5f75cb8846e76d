//! The plain data of a feed: ids, posts, kinds, interactions.

use std::fmt;

/// A user, as a dense 32-bit id (hosts map their own ids onto these; the
/// follow graph keeps them in roaring bitmaps).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UserId(pub u32);

/// A post, numbered densely from 0 in creation order.
///
/// Ids only grow, which is what makes a cursor's "posts created after this
/// page" boundary a single number.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PostId(pub u64);

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "u{}", self.0)
    }
}
impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "u{}", self.0)
    }
}
impl fmt::Debug for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}
impl fmt::Display for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

/// Content kind of a post; the default scorer weighs each kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum Kind {
    /// Plain text.
    #[default]
    Text,
    /// A photo or gallery.
    Photo,
    /// A video.
    Video,
    /// A shared link.
    Link,
    /// A poll.
    Poll,
}

impl Kind {
    /// Every kind, in id order.
    pub const ALL: [Kind; 5] = [Kind::Text, Kind::Photo, Kind::Video, Kind::Link, Kind::Poll];

    /// The stable one-byte id used in persisted records.
    pub fn id(self) -> u8 {
        match self {
            Kind::Text => 0,
            Kind::Photo => 1,
            Kind::Video => 2,
            Kind::Link => 3,
            Kind::Poll => 4,
        }
    }

    /// The kind of a persisted id.
    pub fn from_id(id: u8) -> Option<Kind> {
        Kind::ALL.get(usize::from(id)).copied()
    }

    /// Lower-case name (`"text"`, `"photo"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Photo => "photo",
            Kind::Video => "video",
            Kind::Link => "link",
            Kind::Poll => "poll",
        }
    }
}

/// How a user engaged with a post: bumps the post's counters and velocity
/// and the user's affinity for its author.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Interaction {
    /// Opened or dwelt on the post (affinity only).
    Click,
    /// Liked.
    Like,
    /// Commented.
    Comment,
    /// Shared (counts as engagement; use [`crate::Feed::reshare`] to also
    /// put a reshare in the sharer's followers' feeds).
    Share,
}

impl Interaction {
    /// Weight of the interaction in the user's affinity for the author.
    pub fn affinity_weight(self) -> f64 {
        match self {
            Interaction::Click => 0.5,
            Interaction::Like => 1.0,
            Interaction::Comment => 2.0,
            Interaction::Share => 3.0,
        }
    }
}

/// A post and its engagement state.
#[derive(Clone, Debug, PartialEq)]
pub struct Post {
    /// Its id.
    pub id: PostId,
    /// Who posted it (for a reshare: who reshared).
    pub author: UserId,
    /// When, in milliseconds (any epoch, consistently).
    pub ts: i64,
    /// Content kind (a reshare carries its original's kind).
    pub kind: Kind,
    /// The original post, if this is a reshare.
    pub reshare_of: Option<PostId>,
    /// Like count.
    pub likes: u32,
    /// Comment count.
    pub comments: u32,
    /// Share count.
    pub shares: u32,
    /// Exponentially decayed engagement rate, as of `velocity_ts`.
    pub velocity: f64,
    /// When `velocity` was last updated.
    pub velocity_ts: i64,
    /// Deleted posts are never served.
    pub deleted: bool,
    /// Whether the post was pushed into followers' inboxes (fan-out on
    /// write); otherwise it is pulled at read time (its author was a
    /// celebrity when posting).
    pub pushed: bool,
}

impl Post {
    /// The post whose content this one shows: itself, or the original of a reshare.
    pub fn original(&self) -> PostId {
        self.reshare_of.unwrap_or(self.id)
    }

    /// The decayed engagement rate at `now`, with `half_life_ms`.
    pub fn velocity_at(&self, now: i64, half_life_ms: i64) -> f64 {
        decay(
            self.velocity,
            now.saturating_sub(self.velocity_ts),
            half_life_ms,
        )
    }
}

/// `value * 0.5^(dt / half_life)`, with negative `dt` treated as 0.
pub fn decay(value: f64, dt: i64, half_life_ms: i64) -> f64 {
    if dt <= 0 || value == 0.0 {
        return value;
    }
    value * (-(dt as f64) / half_life_ms.max(1) as f64 * std::f64::consts::LN_2).exp()
}
