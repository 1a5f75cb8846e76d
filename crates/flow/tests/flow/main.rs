//! Integration tests of `blocksmith-flow`: one binary, one module per theme.

mod basics;
mod common;
mod crash;
mod hostile;
mod model;
mod processes;
mod timers;
mod workers;
