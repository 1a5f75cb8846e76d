//! The self-describing chunk container.
//!
//! # Byte layout (little-endian integers)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `b"BTSZ"` |
//! | 4 | 1 | format version ([`FORMAT_VERSION`]) |
//! | 5 | 1 | codec id ([`Codec`]) |
//! | 6 | 1 | time unit id ([`TimeUnit`]) |
//! | 7 | 1 | flags, reserved, must be 0 |
//! | 8 | 4 | point count (at most [`Chunk::MAX_POINTS`]) |
//! | 12 | 8 | first timestamp (`i64`; 0 when empty) |
//! | 20 | 8 | last timestamp (`i64`; 0 when empty) |
//! | 28 | 4 | payload length in bytes |
//! | 32 | 4 | CRC-32 (IEEE) of bytes `0..32` — lets [`Chunk::peek`] trust a header alone |
//! | 36 | len | codec payload |
//! | 36 + len | 4 | CRC-32 (IEEE) of every preceding byte of the chunk |

use crate::crc32::crc32;
use crate::error::{Error, Result};
use crate::{Codec, Point, Policy, TimeUnit, best, gorilla, pack};

/// Magic bytes opening every chunk.
pub const MAGIC: [u8; 4] = *b"BTSZ";
/// The chunk format version this build writes (and the newest it reads).
pub const FORMAT_VERSION: u8 = 1;

/// Encoder and decoder of self-describing, checksummed chunks of points.
///
/// `Chunk` carries no state: it only groups the chunk functions.
///
/// ```
/// use blocksmith_tsz::{Chunk, Policy, TimeUnit};
///
/// let points: Vec<(i64, f64)> = (0..100).map(|i| (i * 1000, f64::from(i as i32) * 0.5)).collect();
/// let bytes = Chunk::encode(&points, TimeUnit::Millis, Policy::Auto)?;
/// let header = Chunk::peek(&bytes)?;
/// assert_eq!((header.first_timestamp, header.last_timestamp), (0, 99_000));
/// assert!(!header.overlaps(100_000, 200_000)); // a range query may skip this chunk
/// assert_eq!(Chunk::decode(&bytes)?, (TimeUnit::Millis, points));
/// # Ok::<(), blocksmith_tsz::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Chunk;

/// The fixed-size header of a chunk, as returned by [`Chunk::peek`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkHeader {
    /// Format version the chunk was written with.
    pub version: u8,
    /// Codec of the payload.
    pub codec: Codec,
    /// Unit of the timestamps.
    pub unit: TimeUnit,
    /// Number of points.
    pub count: u32,
    /// Timestamp of the first point (0 for an empty chunk).
    pub first_timestamp: i64,
    /// Timestamp of the last point (0 for an empty chunk); the largest one.
    pub last_timestamp: i64,
    /// Payload length in bytes.
    pub payload_len: u32,
}

impl ChunkHeader {
    /// Total length of the chunk in bytes: header, payload and trailing checksum.
    pub fn total_len(&self) -> usize {
        Chunk::HEADER_LEN + self.payload_len as usize + Chunk::TRAILER_LEN
    }

    /// Whether any point of the chunk may fall in the inclusive range `start..=end`.
    ///
    /// Always `false` for an empty chunk.
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.count > 0 && self.first_timestamp <= end && self.last_timestamp >= start
    }
}

/// Columns of a decoded chunk, as returned by [`Chunk::decode_columns`].
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    /// The chunk header.
    pub header: ChunkHeader,
    /// Timestamps, non-decreasing.
    pub timestamps: Vec<i64>,
    /// Values, one per timestamp.
    pub values: Vec<f64>,
}

impl Chunk {
    /// Most points one chunk may hold.
    pub const MAX_POINTS: usize = 65_536;
    /// Length of the fixed header in bytes.
    pub const HEADER_LEN: usize = 36;
    /// Length of the trailing checksum in bytes.
    pub const TRAILER_LEN: usize = 4;

    /// Encodes `points` (non-decreasing timestamps) into one chunk.
    ///
    /// # Errors
    /// [`Error::TooManyPoints`] beyond [`Chunk::MAX_POINTS`],
    /// [`Error::UnsortedTimestamps`] if a timestamp decreases.
    pub fn encode(points: &[Point], unit: TimeUnit, policy: Policy) -> Result<Vec<u8>> {
        check_len(points.len())?;
        let ts: Vec<i64> = points.iter().map(|p| p.0).collect();
        let vals: Vec<f64> = points.iter().map(|p| p.1).collect();
        Self::encode_columns(&ts, &vals, unit, policy)
    }

    /// Encodes a chunk from separate timestamp and value columns.
    ///
    /// # Errors
    /// As [`Chunk::encode`], plus [`Error::ColumnLengthMismatch`].
    pub fn encode_columns(
        timestamps: &[i64],
        values: &[f64],
        unit: TimeUnit,
        policy: Policy,
    ) -> Result<Vec<u8>> {
        if timestamps.len() != values.len() {
            return Err(Error::ColumnLengthMismatch {
                timestamps: timestamps.len(),
                values: values.len(),
            });
        }
        check_len(timestamps.len())?;
        if let Some(i) = timestamps.windows(2).position(|w| w[1] < w[0]) {
            return Err(Error::UnsortedTimestamps {
                index: i + 1,
                previous: timestamps[i],
                current: timestamps[i + 1],
            });
        }
        let (codec, payload) = match policy {
            Policy::Gorilla => (Codec::Gorilla, gorilla::encode_payload(timestamps, values)),
            Policy::Alp => (Codec::Best, best::encode_payload(timestamps, values)),
            Policy::Best => {
                // Gorilla's exact size, counted without encoding: a chunk is
                // never larger than Gorilla's.
                let p = pack::encode_payload(timestamps, values);
                if gorilla::payload_len(timestamps, values) < p.len() {
                    (Codec::Gorilla, gorilla::encode_payload(timestamps, values))
                } else {
                    (Codec::Pack, p)
                }
            }
            Policy::Auto => {
                let mut best = (Codec::Pack, pack::encode_payload(timestamps, values));
                for (c, p) in [
                    (Codec::Best, best::encode_payload(timestamps, values)),
                    (Codec::Gorilla, gorilla::encode_payload(timestamps, values)),
                ] {
                    if p.len() < best.1.len() {
                        best = (c, p);
                    }
                }
                best
            }
        };
        let mut out = Vec::with_capacity(Self::HEADER_LEN + payload.len() + Self::TRAILER_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(FORMAT_VERSION);
        out.push(codec.id());
        out.push(unit.id());
        out.push(0);
        out.extend_from_slice(&(timestamps.len() as u32).to_le_bytes());
        out.extend_from_slice(&timestamps.first().copied().unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&timestamps.last().copied().unwrap_or(0).to_le_bytes());
        let payload_len =
            u32::try_from(payload.len()).map_err(|_| Error::Corrupt("payload exceeds 4 GiB"))?;
        out.extend_from_slice(&payload_len.to_le_bytes());
        let hcrc = crc32(&out);
        out.extend_from_slice(&hcrc.to_le_bytes());
        out.extend_from_slice(&payload);
        let crc = crc32(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    /// Reads and validates only the header (the first [`Chunk::HEADER_LEN`]
    /// bytes; more may follow and are ignored). Use it to skip chunks that
    /// fall outside a queried time range without decoding them.
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::BadMagic`], [`Error::UnsupportedVersion`],
    /// [`Error::UnknownCodec`], [`Error::UnknownTimeUnit`],
    /// [`Error::ChecksumMismatch`] (header checksum) or [`Error::Corrupt`].
    pub fn peek(bytes: &[u8]) -> Result<ChunkHeader> {
        parse_header(bytes, true)
    }

    /// Decodes a whole chunk into its time unit and points.
    ///
    /// # Errors
    /// Any header error of [`Chunk::peek`]; [`Error::Truncated`],
    /// [`Error::TrailingBytes`], [`Error::ChecksumMismatch`] or
    /// [`Error::Corrupt`] for a damaged chunk.
    pub fn decode(bytes: &[u8]) -> Result<(TimeUnit, Vec<Point>)> {
        let mut points = Vec::new();
        let h = decode_impl(bytes, true, &mut |h, ts, vals| {
            points.reserve(h.count as usize);
            points.extend(ts.iter().copied().zip(vals.iter().copied()));
        })?;
        Ok((h.unit, points))
    }

    /// Decodes a whole chunk into columns (the fastest form: no interleaving).
    ///
    /// # Errors
    /// As [`Chunk::decode`].
    pub fn decode_columns(bytes: &[u8]) -> Result<Columns> {
        let mut timestamps = Vec::new();
        let mut values = Vec::new();
        let header = Self::decode_columns_into(bytes, &mut timestamps, &mut values)?;
        Ok(Columns {
            header,
            timestamps,
            values,
        })
    }

    /// Decodes a whole chunk into caller-provided buffers (cleared first),
    /// so repeated decodes reuse their allocations.
    ///
    /// # Errors
    /// As [`Chunk::decode`]; the buffers' contents are unspecified after an error.
    pub fn decode_columns_into(
        bytes: &[u8],
        timestamps: &mut Vec<i64>,
        values: &mut Vec<f64>,
    ) -> Result<ChunkHeader> {
        let (header, payload) = validated_payload(bytes, true)?;
        if matches!(header.codec, Codec::Best | Codec::Pack) {
            // Straight into the caller's buffers: no per-vector copy. Buffers
            // already of the right length (repeated decodes) are not cleared.
            let count = header.count as usize;
            timestamps.truncate(count);
            values.truncate(count);
            timestamps.resize(count, 0);
            values.resize(count, 0.0);
            let sorted = if header.codec == Codec::Best {
                best::decode_payload_into(payload, header.first_timestamp, timestamps, values)?
            } else {
                pack::decode_payload_into(payload, header.first_timestamp, timestamps, values)?
            };
            if !sorted {
                return Err(Error::Corrupt("decoded timestamps decrease"));
            }
            if timestamps
                .last()
                .is_some_and(|&t| t != header.last_timestamp)
            {
                return Err(Error::Corrupt("decoded points disagree with the header"));
            }
            return Ok(header);
        }
        timestamps.clear();
        values.clear();
        decode_payload(&header, payload, &mut |h, ts, vals| {
            timestamps.reserve(h.count as usize);
            values.reserve(h.count as usize);
            timestamps.extend_from_slice(ts);
            values.extend_from_slice(vals);
        })
    }

    /// Decodes a chunk **without verifying either checksum**; every structural
    /// check still applies. Meant for fuzzing the payload decoders and for
    /// salvaging data from a chunk whose checksum no longer matches.
    ///
    /// # Errors
    /// As [`Chunk::decode`], minus [`Error::ChecksumMismatch`].
    pub fn decode_unverified(bytes: &[u8]) -> Result<(TimeUnit, Vec<Point>)> {
        let mut points = Vec::new();
        let h = decode_impl(bytes, false, &mut |h, ts, vals| {
            points.reserve(h.count as usize);
            points.extend(ts.iter().copied().zip(vals.iter().copied()));
        })?;
        Ok((h.unit, points))
    }
}

fn check_len(n: usize) -> Result<()> {
    if n > Chunk::MAX_POINTS {
        return Err(Error::TooManyPoints {
            count: n,
            max: Chunk::MAX_POINTS,
        });
    }
    Ok(())
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn le_i64(b: &[u8], at: usize) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    i64::from_le_bytes(a)
}

fn parse_header(bytes: &[u8], verify: bool) -> Result<ChunkHeader> {
    if bytes.len() < 4 || bytes[..4] != MAGIC {
        return Err(if bytes.len() < 4 && MAGIC.starts_with(bytes) {
            Error::Truncated("chunk header")
        } else {
            Error::BadMagic
        });
    }
    let h = bytes
        .get(..Chunk::HEADER_LEN)
        .ok_or(Error::Truncated("chunk header"))?;
    if verify {
        let stored = le_u32(h, 32);
        let computed = crc32(&h[..32]);
        if stored != computed {
            return Err(Error::ChecksumMismatch {
                what: "header",
                stored,
                computed,
            });
        }
    }
    if h[4] == 0 || h[4] > FORMAT_VERSION {
        return Err(Error::UnsupportedVersion(h[4]));
    }
    let codec = Codec::from_id(h[5])?;
    let unit = TimeUnit::from_id(h[6])?;
    if h[7] != 0 {
        return Err(Error::Corrupt("reserved flags set"));
    }
    let count = le_u32(h, 8);
    if count as usize > Chunk::MAX_POINTS {
        return Err(Error::TooManyPoints {
            count: count as usize,
            max: Chunk::MAX_POINTS,
        });
    }
    let first_timestamp = le_i64(h, 12);
    let last_timestamp = le_i64(h, 20);
    if first_timestamp > last_timestamp
        || (count == 0 && (first_timestamp, last_timestamp) != (0, 0))
    {
        return Err(Error::Corrupt("header timestamps inconsistent"));
    }
    Ok(ChunkHeader {
        version: h[4],
        codec,
        unit,
        count,
        first_timestamp,
        last_timestamp,
        payload_len: le_u32(h, 28),
    })
}

/// Checks the header, length and (if `verify`) checksums; returns the
/// header and the payload.
fn validated_payload(bytes: &[u8], verify: bool) -> Result<(ChunkHeader, &[u8])> {
    let header = parse_header(bytes, verify)?;
    let total = header.total_len();
    if bytes.len() < total {
        return Err(Error::Truncated("chunk payload"));
    }
    if bytes.len() > total {
        return Err(Error::TrailingBytes(bytes.len() - total));
    }
    if verify {
        let stored = le_u32(bytes, total - Chunk::TRAILER_LEN);
        let computed = crc32(&bytes[..total - Chunk::TRAILER_LEN]);
        if stored != computed {
            return Err(Error::ChecksumMismatch {
                what: "chunk",
                stored,
                computed,
            });
        }
    }
    Ok((
        header,
        &bytes[Chunk::HEADER_LEN..total - Chunk::TRAILER_LEN],
    ))
}

/// Decodes the chunk, handing validated batches of timestamps and values to `sink`.
fn decode_impl(
    bytes: &[u8],
    verify: bool,
    sink: &mut impl FnMut(&ChunkHeader, &[i64], &[f64]),
) -> Result<ChunkHeader> {
    let (header, payload) = validated_payload(bytes, verify)?;
    decode_payload(&header, payload, sink)
}

fn decode_payload(
    header: &ChunkHeader,
    payload: &[u8],
    sink: &mut impl FnMut(&ChunkHeader, &[i64], &[f64]),
) -> Result<ChunkHeader> {
    let header = *header;
    let count = header.count as usize;
    let mut prev = header.first_timestamp;
    let mut seen = 0usize;
    let mut check = |ts: &[i64], vals: &[f64]| -> Result<()> {
        // Decoded timestamps must be non-decreasing and end at the header's last one.
        let mut ok = ts.first().is_some_and(|&t| t >= prev);
        for w in ts.windows(2) {
            ok &= w[0] <= w[1];
        }
        if !ok {
            return Err(Error::Corrupt("decoded timestamps decrease"));
        }
        prev = ts[ts.len() - 1];
        seen += ts.len();
        sink(&header, ts, vals);
        Ok(())
    };
    match header.codec {
        Codec::Gorilla => {
            gorilla::decode_payload(payload, count, header.first_timestamp, &mut check)?;
        }
        Codec::Best => best::decode_payload(payload, count, header.first_timestamp, &mut check)?,
        Codec::Pack => {
            let (mut ts, mut vals) = (vec![0; count], vec![0.0; count]);
            pack::decode_payload_into(payload, header.first_timestamp, &mut ts, &mut vals)?;
            if count > 0 {
                check(&ts, &vals)?;
            }
        }
    }
    if seen != count || (count > 0 && prev != header.last_timestamp) {
        return Err(Error::Corrupt("decoded points disagree with the header"));
    }
    Ok(header)
}
