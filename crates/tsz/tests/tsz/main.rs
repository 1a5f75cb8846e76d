//! Integration tests of blocksmith-tsz (one binary, one module per topic).

mod crash;
mod datasets;
mod golden;
mod heldout;
mod hostile;
mod roundtrip;
mod series;
