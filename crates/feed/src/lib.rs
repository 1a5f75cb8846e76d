//! Personalized feed ranking and hybrid fan-out delivery: the engine of a news
//! feed service.
//!
//! - **Follow graph** as roaring bitmaps per user (followees, followers,
//!   mutes, blocks).
//! - **Hybrid delivery**: posts of ordinary authors are fanned out on write
//!   into bounded per-user [`Inbox`]es; posts of celebrities (authors above
//!   [`FeedConfig::celebrity_threshold`] followers) are pulled at read time
//!   and merged. Unfollow, delete, block and mute are applied at read, so no
//!   stale or forbidden post is ever served. Trimmed inboxes keep a
//!   *horizon* and the reader pulls what lies below it, so the hybrid page is
//!   exactly the brute-force page. Follows backfill the inbox.
//! - **Ranking** by a pluggable [`Scorer`]; the default [`EdgeRank`] combines
//!   recency decay, decayed author affinity learned from interactions,
//!   weighted engagement with a velocity term, and kind weights. Then
//!   [`diversify`] limits runs of one author or kind, and reshares of one post
//!   are shown once with "shared by" context.
//! - **Pagination** by opaque, MAC-signed [`Cursor`]s that snapshot the
//!   session (no duplicates or gaps while posts arrive), with
//!   [`Feed::new_since`] for pull-to-refresh; **seen-state** demotes or hides
//!   posts already served.
//! - **Persistence** through `blocksmith-store` with [`FeedStore`]: compact
//!   binary records (roaring bitmaps, varint-delta inbox blocks, post blocks),
//!   written incrementally.
//!
//! ```
//! use blocksmith_feed::{CursorKey, Feed, FeedConfig, Kind, UserId};
//!
//! let config = FeedConfig::default().with_celebrity_threshold(2).with_page_size(2);
//! let mut feed = Feed::new(config, CursorKey::derive(b"server secret"));
//! let (ada, bob, cy, dee) = (UserId(1), UserId(2), UserId(3), UserId(4));
//! feed.follow(ada, bob)?;
//! feed.follow(ada, cy)?;
//! feed.follow(dee, cy)?; // cy has 2 followers: a celebrity, pulled at read
//! let hour = 3_600_000;
//! let p1 = feed.publish(bob, 1 * hour, Kind::Text)?; // pushed to ada's inbox
//! let p2 = feed.publish(cy, 2 * hour, Kind::Photo)?; // pulled at read
//! let p3 = feed.publish(bob, 3 * hour, Kind::Video)?;
//!
//! let page = feed.read(ada, None, 4 * hour)?;
//! let ids: Vec<_> = page.items.iter().map(|i| i.post).collect();
//! assert_eq!(ids, [p3, p2]);
//! // New posts do not disturb the session; the next page continues it.
//! feed.publish(bob, 5 * hour, Kind::Text)?;
//! let next = feed.read(ada, page.next.as_deref(), 6 * hour)?;
//! assert_eq!(next.items.iter().map(|i| i.post).collect::<Vec<_>>(), [p1]);
//! assert_eq!(feed.new_since(ada, page.next.as_deref().unwrap(), 6 * hour)?, 1);
//!
//! // Unfollow takes effect on the next read.
//! feed.unfollow(ada, bob);
//! let page = feed.read(ada, None, 6 * hour)?;
//! assert_eq!(page.items.iter().map(|i| i.post).collect::<Vec<_>>(), [p2]);
//! # Ok::<(), blocksmith_feed::Error>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod codec;
pub mod cursor;
mod error;
mod feed;
pub mod inbox;
mod model;
pub mod persist;
pub mod score;
pub mod sim;

pub use cursor::{Cursor, CursorKey, RunState};
pub use error::{Error, Result};
pub use feed::{Delivery, Feed, FeedConfig, FeedItem, FeedStats, Page, SeenPolicy};
pub use inbox::{Entry, Inbox};
pub use model::{Interaction, Kind, Post, PostId, UserId, decay};
pub use persist::{BlockingFeedStore, FeedStore, SaveStats};
pub use score::{Candidate, Diversity, EdgeRank, Scorer, diversify};
