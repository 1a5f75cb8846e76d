//! Integration tests of blocksmith-geo (one binary).

// The tests check exact answers (bit-equal to a brute-force scan, stored
// values returned unchanged), so exact float comparison is the point.
#![allow(clippy::float_cmp)]

mod crash;
mod csv_load;
mod fence_model;
mod fences;
mod ingest;
mod queries;
mod roaming;
mod snapshot;
mod trajectory;
