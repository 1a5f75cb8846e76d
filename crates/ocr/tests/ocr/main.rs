//! Integration tests of blocksmith-ocr.

#![allow(clippy::float_cmp, clippy::cast_lossless)]

mod crash;
mod export;
mod input;
mod jobs;
mod layout;
mod pipeline;
mod preprocess;
mod props;
mod rec_accuracy;
mod rec_hostile;
mod rec_model;
mod rec_util;
mod render;
