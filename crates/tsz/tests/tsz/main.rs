//! Integration tests of blocksmith-tsz (one binary, one module per topic).

mod datasets;
mod hostile;
mod roundtrip;
mod series;
