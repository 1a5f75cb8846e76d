//! Integration tests of `blocksmith-flow`: one binary, one module per theme.

mod basics;
mod common;
mod crash;
mod model;
mod timers;
mod workers;
