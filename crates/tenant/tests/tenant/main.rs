//! Integration tests of `blocksmith-tenant`: one binary, one module per theme.

mod crash;
mod lifecycle;
mod provisioning;
