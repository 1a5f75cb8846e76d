#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::missing_errors_doc, clippy::missing_panics_doc)]
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
