//! Integration tests of `blocksmith-dispute`: one binary, one module per theme.

mod checklists;
mod common;
mod crash;
mod deadlines;
mod events;
mod hostile;
mod lifecycle;
mod model;
mod queue;
