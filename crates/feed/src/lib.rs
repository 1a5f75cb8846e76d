#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]

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
pub use feed::{Delivery, Feed, FeedItem, FeedOptions, FeedStats, Page, SeenPolicy};
pub use inbox::{Entry, Inbox};
pub use model::{Interaction, Kind, Post, PostId, UserId, decay};
pub use persist::{BlockingFeedStore, FeedStore, SaveStats};
pub use score::{Candidate, Diversity, EdgeRank, Scorer, diversify};
