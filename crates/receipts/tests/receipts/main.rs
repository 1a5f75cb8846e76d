//! Integration tests of blocksmith-receipts: the engine against a
//! brute-force reference, the block format, crashes, several writers,
//! the change feed and privacy.

mod blocks;
mod crash;
mod feed;
mod memory;
mod model;
mod persist;
mod privacy;
mod reference;
mod writers;
