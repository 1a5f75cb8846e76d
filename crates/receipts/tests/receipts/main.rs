//! Integration tests of blocksmith-receipts: the engine against a
//! brute-force reference, the block format, crashes, several writers,
//! the change feed and privacy.

mod model;
mod reference;
