//! Lossless time-series compression for the Blocksmith SDK.
//!
//! Points are `(i64 timestamp, f64 value)` pairs. They are stored in
//! self-describing, checksummed [`Chunk`]s of up to [`Chunk::MAX_POINTS`]
//! points with non-decreasing timestamps, compressed by one of three codecs:
//!
//! * [`Codec::Pack`] — the default: pcodec-class ratios (delta orders,
//!   integer multipliers, binning with a table-based ANS entropy coder and a
//!   sampled search over those modes) with whole chunks decoding about 3x
//!   (entropy-coded) to 6x (bit-packed) faster than pcodec, see [`pack`];
//! * [`Codec::Best`] — ALP-style decimal coding (SIGMOD 2024) with an ALP_rd
//!   fallback and bit-packed delta-of-delta timestamps, see [`best`];
//! * [`Codec::Gorilla`] — the Facebook Gorilla scheme (VLDB 2015): delta-of-delta
//!   timestamps and XOR-ed values, see [`gorilla`].
//!
//! A [`Policy`] picks the codec: [`Policy::Best`] writes `Pack` unless
//! Gorilla's chunk is smaller (a chunk is never larger than Gorilla's),
//! [`Policy::Alp`] the ALP codec, [`Policy::Auto`] encodes all three and
//! keeps the smallest. Chunks of every codec ever written keep decoding
//! (golden files in `tests/golden/`). Every `f64` bit pattern (NaN payloads,
//! −0.0, ±∞, subnormals) round-trips exactly, and decoders return a typed
//! [`Error`] — never panic — on corrupt or truncated input. The
//! [`prometheus`] module reads and writes Prometheus TSDB XOR chunks for
//! interoperability.
//!
//! ```
//! use blocksmith_tsz::{Chunk, Policy, TimeUnit};
//!
//! // A minute of temperature readings, one per second.
//! let points: Vec<(i64, f64)> = (0..60)
//!     .map(|i| (1_700_000_000 + i, 21.5 + f64::from(i as i32 % 7) / 10.0))
//!     .collect();
//!
//! let bytes = Chunk::encode(&points, TimeUnit::Seconds, Policy::Best)?;
//! assert!(bytes.len() < points.len() * 16 / 4);
//!
//! // The header alone tells a range query whether to decode the chunk.
//! let header = Chunk::peek(&bytes)?;
//! assert_eq!(header.count, 60);
//! assert!(header.overlaps(1_700_000_030, 1_700_000_100));
//!
//! let (unit, decoded) = Chunk::decode(&bytes)?;
//! assert_eq!(unit, TimeUnit::Seconds);
//! assert_eq!(decoded, points);
//! # Ok::<(), blocksmith_tsz::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// The bit-unpacking and ALP loops are hot: forced inlining was measured
// faster (examples/throughput.rs), and their short names follow the paper.
#![allow(clippy::inline_always)]

pub mod best;
mod bitpack;
mod bitstream;
mod bytes_io;
mod chunk;
mod crc32;
mod error;
pub mod gorilla;
pub mod pack;
pub mod prometheus;
pub mod series;

pub use chunk::{Chunk, ChunkHeader, Columns, FORMAT_VERSION, MAGIC};
pub use error::{Error, Result};

/// One sample: `(timestamp, value)`; the timestamp's unit is a [`TimeUnit`].
pub type Point = (i64, f64);

/// Unit of the timestamps of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum TimeUnit {
    /// Seconds.
    Seconds,
    /// Milliseconds (Prometheus' unit).
    #[default]
    Millis,
    /// Microseconds.
    Micros,
    /// Nanoseconds.
    Nanos,
}

impl TimeUnit {
    /// The id stored in chunk headers.
    pub const fn id(self) -> u8 {
        match self {
            TimeUnit::Seconds => 0,
            TimeUnit::Millis => 1,
            TimeUnit::Micros => 2,
            TimeUnit::Nanos => 3,
        }
    }

    /// The unit for a header id.
    ///
    /// # Errors
    /// [`Error::UnknownTimeUnit`] for an id above 3.
    pub const fn from_id(id: u8) -> Result<Self> {
        match id {
            0 => Ok(TimeUnit::Seconds),
            1 => Ok(TimeUnit::Millis),
            2 => Ok(TimeUnit::Micros),
            3 => Ok(TimeUnit::Nanos),
            other => Err(Error::UnknownTimeUnit(other)),
        }
    }

    /// Number of nanoseconds in one unit.
    pub const fn nanos(self) -> i64 {
        match self {
            TimeUnit::Seconds => 1_000_000_000,
            TimeUnit::Millis => 1_000_000,
            TimeUnit::Micros => 1_000,
            TimeUnit::Nanos => 1,
        }
    }
}

/// The codec of a chunk's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// Gorilla delta-of-delta timestamps and XOR values ([`gorilla`]).
    Gorilla,
    /// ALP-style values and bit-packed delta-of-delta timestamps ([`best`]);
    /// the default codec of releases before [`Codec::Pack`].
    Best,
    /// Binned, tANS entropy-coded latents with delta orders, common divisors
    /// and a sampled mode search ([`pack`]): pcodec-class ratios.
    Pack,
}

impl Codec {
    /// The id stored in chunk headers.
    pub const fn id(self) -> u8 {
        match self {
            Codec::Gorilla => 1,
            Codec::Best => 2,
            Codec::Pack => 3,
        }
    }

    /// The codec for a header id.
    ///
    /// # Errors
    /// [`Error::UnknownCodec`] for an unknown id.
    pub const fn from_id(id: u8) -> Result<Self> {
        match id {
            1 => Ok(Codec::Gorilla),
            2 => Ok(Codec::Best),
            3 => Ok(Codec::Pack),
            other => Err(Error::UnknownCodec(other)),
        }
    }
}

/// How [`Chunk::encode`] chooses the codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Policy {
    /// Always [`Codec::Gorilla`].
    Gorilla,
    /// [`Codec::Pack`] (the default: smallest on typical data), or
    /// [`Codec::Gorilla`] when that chunk would be smaller (its exact size is
    /// counted without encoding), so a chunk is never larger than Gorilla's.
    #[default]
    Best,
    /// Always [`Codec::Best`], the ALP-style codec: slightly faster to decode
    /// than `Pack`, larger on most data.
    Alp,
    /// Encode with every codec and keep the smallest chunk (ties go to
    /// `Pack`, then `Best`).
    Auto,
}
