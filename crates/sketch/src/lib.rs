//! `blocksmith-sketch`: the engine of a streaming analytics service and of an
//! A/B experiment analysis service. Aggregate high-velocity events in
//! bounded memory, in event time, and answer with known error bounds.
//!
//! - [`hll`]: HyperLogLog distinct counts, byte-compatible with Apache
//!   DataSketches (HLL_4/6/8, list/set/HLL modes, MurmurHash3 seed 9001).
//! - [`kll`]: KLL rank-error quantiles, DataSketches-compatible bytes.
//! - [`ddsketch`]: relative-error quantiles, DataDog protobuf bytes.
//! - [`theta`]: Theta sketches with union, intersection and difference,
//!   DataSketches-compatible compact bytes.
//! - [`frequency`]: Count-Min and Space-Saving top-k with
//!   no-false-positive / no-false-negative queries; [`bloom`]: Bloom filter
//!   and exact roaring-bitmap sets.
//! - [`window`]: keyed tumbling/sliding/session windows with a watermark,
//!   late-event policies and checkpoints through `blocksmith-store`, over
//!   the pluggable [`aggregate`]s.
//! - [`experiment`]: exposures, binary/continuous/ratio metrics, z and
//!   Welch tests, SRM, CUPED and an always-valid sequential test.
//!
//! Every deserializer treats its input as hostile: typed [`Error`]s, no
//! panics, no allocation a length field asks for that the input cannot back.
//!
//! ```
//! use blocksmith_sketch::aggregate::DistinctCount;
//! use blocksmith_sketch::hll::HllSketch;
//! use blocksmith_sketch::window::{Emission, WindowKind, WindowOptions, Windowed};
//!
//! // Unique users per page per minute, in event time, 5 s allowed lateness.
//! let opts = WindowOptions::new(WindowKind::Tumbling { size: 60_000 }).with_allowed_lateness(5_000);
//! let mut job: Windowed<String, u64, DistinctCount> = Windowed::new(opts)?;
//! let mut fired = Vec::new();
//! for i in 0..10_000u64 {
//!     let t = (i * 12) as i64; // 10k clicks over two minutes
//!     fired.extend(job.process(format!("/page/{}", i % 3), t, i % 700)?);
//! }
//! fired.extend(job.flush());
//! assert_eq!(fired.len(), 6); // 3 pages x 2 minutes
//! for e in &fired {
//!     if let Emission::Fired { output, .. } = e {
//!         assert!((output - 700.0).abs() < 35.0); // all 700 users each minute, within 3 sigma
//!     }
//! }
//!
//! // The sketches travel as Apache DataSketches bytes.
//! let mut hll = HllSketch::new(12, blocksmith_sketch::hll::HllType::Hll4)?;
//! for user in 0..1_000u64 { hll.update(&user); }
//! let bytes = hll.to_bytes(); // readable by datasketches in Java, C++, Python
//! assert_eq!(HllSketch::from_bytes(&bytes)?.estimate(), hll.estimate());
//! # Ok::<(), blocksmith_sketch::Error>(())
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod aggregate;
pub mod bloom;
pub mod ddsketch;
mod error;
pub mod experiment;
pub mod frequency;
pub mod hash;
pub mod hll;
pub mod kll;
mod proto;
pub mod stats;
pub mod theta;
pub mod window;

pub use error::{Error, Result};
