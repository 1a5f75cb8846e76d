//! Integration tests of `blocksmith-vault`: one binary, one module per theme.

mod apikeys;
mod common;
mod crash;
mod instrumented;
mod kat;
mod negative;
mod rotation;
mod sharing;
mod trust;
mod vault_flow;
mod wycheproof_vectors;
