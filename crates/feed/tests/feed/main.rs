//! Integration tests of blocksmith-feed.

mod crash;
mod delivery;
mod extremes;
mod pagination;
mod persistence;
mod reference;
mod writers;

use blocksmith_feed::{CursorKey, Feed, FeedItem, FeedOptions, Page, UserId};

pub(crate) const HOUR: i64 = 3_600_000;

pub(crate) fn key() -> CursorKey {
    CursorKey::derive(b"integration tests")
}

pub(crate) fn feed(config: FeedOptions) -> Feed {
    Feed::new(config, key())
}

pub(crate) fn ids(items: &[FeedItem]) -> Vec<u64> {
    items.iter().map(|i| i.post.0).collect()
}

/// Reads every page of a session, returning the concatenated items.
pub(crate) fn read_all(feed: &Feed, u: UserId, now: i64) -> Vec<FeedItem> {
    let mut out = Vec::new();
    let mut page: Page = feed.read(u, None, now).unwrap();
    loop {
        out.extend(page.items.clone());
        match page.next {
            Some(c) => page = feed.read(u, Some(&c), now + 1).unwrap(),
            None => return out,
        }
    }
}
