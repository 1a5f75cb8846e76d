//! The `Best` codec: ALP-style decimal coding for values (with an ALP_rd
//! fallback for high-precision doubles) and delta-of-delta + frame-of-reference
//! bit-packing for timestamps, both in vectors of [`VECTOR_LEN`] points.
//!
//! # Payload layout (inside a [`Chunk`](crate::Chunk))
//!
//! If there are at least 2 points, the first delta `t1 - t0` comes first, as an
//! unsigned varint (the first timestamp lives in the chunk header). Then, for
//! each vector of up to 1024 points, its timestamp block followed by its
//! value vector, so a decoder streams through the payload once:
//!
//! * timestamp block: the deltas-of-deltas `D_i = (t_i - t_{i-1}) - (t_{i-1} - t_{i-2})`
//!   (wrapping 64-bit arithmetic) of the vector's points, zigzag encoded, minus
//!   their minimum, as a patched frame of reference: `min: varint, width: u8,
//!   exceptions: varint, packed values at width bits (0 in exception slots),
//!   exception positions (u16 LE each), exception values (varint each)`. The
//!   encoder picks the width that minimises the block, so a missed scrape or a
//!   clock jump costs one exception instead of widening every slot. Points 0
//!   and 1 of the chunk have no delta-of-delta; their slots hold a filler the
//!   decoder ignores. Perfectly regular timestamps cost 3 bytes per 1024 points.
//! * value vector: a scheme byte then the scheme's body:
//!    * `0` — ALP decimal: `e: u8, f: u8, width: u8, base: zigzag varint,
//!      exceptions: varint, packed (n - base) at width bits, exception positions
//!      (u16 LE each), exception raw bits (u64 LE each)`. Each value `v` is the
//!      integer `n = round(v · 10^e · 10^-f)` and decodes as `(n · 10^f) · 10^-e`
//!      (`0 <= f <= e <= 18`, `|n| < 2^51`, `10^-e` the nearest double, as in
//!      ALP); the encoder checks every value with the decoder's exact
//!      arithmetic, and values that do not come back bit-exact (NaN, ±inf, −0.0,
//!      too many digits) or fall outside the chosen frame are exceptions;
//!    * `1` — ALP_rd: `r: u8, b: u8, dictionary: 2^b × u16 LE, exceptions: varint,
//!      packed dictionary indices (b bits), packed right parts (r bits),
//!      exception positions (u16 LE each), exception left parts (u16 LE each)`.
//!      Each value's bits are split into a left part (top `64 - r <= 16` bits,
//!      dictionary encoded with up to 8 entries) and a right part (low `r` bits);
//!    * `2` — raw little-endian `u64` bit patterns (never larger than the input).
//!
//! As in ALP, sampling has two levels: on columns of more than two vectors,
//! up to 8 vectors spread over the column are sampled (32 values each) against
//! all 190 `(e, f)` pairs and the 5 most frequent winners are kept; each vector
//! then ranks only those on its own 32-value sample (all pairs for shorter
//! columns) and encodes the vector once with the best; ALP_rd is
//! tried when ALP needs more than 48 bits per value. Beyond ALP, the winner's
//! frame of reference is chosen to minimise total size, turning a few outliers
//! into exceptions instead of widening every value.

pub(crate) mod alp;
mod alp_rd;

use crate::bitpack::{bit_width, pack, packed_len, unpack};
use crate::bytes_io::{ByteReader, put_uvarint, unzigzag, zigzag};
use crate::error::{Error, Result};

/// Points per vector (block) of the `Best` codec.
pub const VECTOR_LEN: usize = 1024;

const SCHEME_ALP: u8 = 0;
const SCHEME_ALP_RD: u8 = 1;
const SCHEME_RAW: u8 = 2;
/// Smallest possible encoded vector, used to bound declared counts.
const MIN_VECTOR_BYTES: usize = 5;

/// How many `(e, f)` pairs the column-level sampling keeps for the vectors.
const COLUMN_CANDIDATES: usize = 5;

/// Appends one encoded vector; `pairs` are the column's candidate `(e, f)`
/// pairs (ALP's two-level sampling), or `None` to rank all of them.
fn encode_vector(vals: &[f64], pairs: Option<&[(usize, usize)]>, out: &mut Vec<u8>) {
    debug_assert!(vals.len() <= VECTOR_LEN);
    // The sample's best pair, encoded once with the size-minimising frame
    // (outliers become exceptions).
    let alp_best = alp::candidates(vals, 1, pairs)
        .first()
        .map(|&(e, f)| alp::Encoded::new(vals, e, f, true));
    let raw_size = vals.len() * 8;
    let alp_size = alp_best.as_ref().map_or(usize::MAX, alp::Encoded::size);
    let rd = (alp_size > vals.len() * 6).then(|| alp_rd::Encoded::new(vals));
    let rd_size = rd.as_ref().map_or(usize::MAX, alp_rd::Encoded::size);
    if raw_size < alp_size.min(rd_size) {
        out.push(SCHEME_RAW);
        for v in vals {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    } else if rd_size < alp_size {
        out.push(SCHEME_ALP_RD);
        rd.expect("rd_size is finite only when encoded").write(out);
    } else {
        out.push(SCHEME_ALP);
        alp_best
            .expect("alp_size is finite only when encoded")
            .write(out);
    }
}

/// Decodes one vector into `out` (its length is the vector length).
fn decode_vector(r: &mut ByteReader<'_>, out: &mut [f64], scratch: &mut [u64]) -> Result<()> {
    match r.u8("best scheme")? {
        SCHEME_ALP => alp::decode(r, out, scratch),
        SCHEME_ALP_RD => alp_rd::decode(r, out, scratch),
        SCHEME_RAW => {
            let raw = r.take(out.len() * 8, "raw values")?;
            for (o, c) in out.iter_mut().zip(raw.chunks_exact(8)) {
                let mut a = [0u8; 8];
                a.copy_from_slice(c);
                *o = f64::from_bits(u64::from_le_bytes(a));
            }
            Ok(())
        }
        _ => Err(Error::Corrupt("best: unknown value scheme")),
    }
}

/// Encodes a value column alone (no timestamps) with the `Best` scheme.
///
/// ```
/// let values: Vec<f64> = (0..3000).map(|i| f64::from(i % 250) / 10.0).collect();
/// let bytes = blocksmith_tsz::best::encode_values(&values);
/// assert!(bytes.len() < values.len() * 9 / 8); // about 8 bits per value
/// let back = blocksmith_tsz::best::decode_values(&bytes, values.len())?;
/// assert_eq!(back, values);
/// # Ok::<(), blocksmith_tsz::Error>(())
/// ```
pub fn encode_values(values: &[f64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() * 2 + 16);
    let pairs = column_pairs(values);
    for v in values.chunks(VECTOR_LEN) {
        encode_vector(v, pairs.as_deref(), &mut out);
    }
    out
}

/// Decodes `count` values written by [`encode_values`].
///
/// # Errors
/// [`Error::Truncated`] / [`Error::Corrupt`] for malformed input,
/// [`Error::TrailingBytes`] if bytes are left over.
pub fn decode_values(bytes: &[u8], count: usize) -> Result<Vec<f64>> {
    let mut out = Vec::new();
    decode_values_into(bytes, count, &mut out)?;
    Ok(out)
}

/// Like [`decode_values`], but appends to `out` so its allocation can be reused.
///
/// # Errors
/// As [`decode_values`]; after an error `out` is as it was.
pub fn decode_values_into(bytes: &[u8], count: usize, out: &mut Vec<f64>) -> Result<()> {
    check_count(count, bytes.len())?;
    let at = out.len();
    out.resize(at + count, 0.0);
    let mut r = ByteReader::new(bytes);
    let mut scratch = [0u64; 2 * VECTOR_LEN];
    let mut decode = || {
        for v in out[at..].chunks_mut(VECTOR_LEN) {
            decode_vector(&mut r, v, &mut scratch)?;
        }
        match r.remaining() {
            0 => Ok(()),
            n => Err(Error::TrailingBytes(n)),
        }
    };
    let result = decode();
    if result.is_err() {
        out.truncate(at);
    }
    result
}

/// Rejects counts that `len` bytes cannot possibly describe, so a length
/// field never drives a large allocation.
fn check_count(count: usize, len: usize) -> Result<()> {
    if count.div_ceil(VECTOR_LEN) > len / MIN_VECTOR_BYTES {
        return Err(Error::Truncated("best: input too short for declared count"));
    }
    Ok(())
}

/// Appends the timestamp block for points `start..start + ts.len()` of the chunk
/// (`ts` is that slice of `all`).
fn encode_ts_block(ts: &[i64], start: usize, all: &[i64], zz: &mut Vec<u64>, out: &mut Vec<u8>) {
    zz.clear();
    for (k, &t) in ts.iter().enumerate() {
        let i = start + k;
        zz.push(if i < 2 {
            u64::MAX // filler, replaced below
        } else {
            let d1 = t.wrapping_sub(all[i - 1]);
            let d0 = all[i - 1].wrapping_sub(all[i - 2]);
            zigzag(d1.wrapping_sub(d0))
        });
    }
    // Points 0 and 1 (block 0 only) copy a real entry so they never widen the block.
    if start == 0 {
        let fill = zz.get(2).copied().unwrap_or(0);
        for x in zz.iter_mut().take(2) {
            *x = fill;
        }
    }
    let min = zz.iter().copied().min().unwrap_or(0);
    for x in zz.iter_mut() {
        *x -= min;
    }
    // Patched frame of reference: pick the width that minimises the block's
    // size when the values wider than it become exceptions (a missed scrape
    // then costs one exception, not a wider slot for all 1024 points).
    let mut hist = [0usize; 65];
    for &x in zz.iter() {
        hist[bit_width(x) as usize] += 1;
    }
    let exception_bits = |b: usize| 16 + 8 * b.max(1).div_ceil(7);
    let mut width = 0usize;
    let mut best_cost = usize::MAX;
    let mut wider: usize = hist
        .iter()
        .enumerate()
        .map(|(b, &c)| c * exception_bits(b))
        .sum();
    for (w, &count) in hist.iter().enumerate() {
        // `wider` = cost of the values whose width exceeds `w`, as exceptions.
        wider -= count * exception_bits(w);
        let cost = w * zz.len() + wider;
        if cost < best_cost {
            best_cost = cost;
            width = w;
        }
    }
    let limit = if width == 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    let mut exceptions: Vec<(u16, u64)> = Vec::new();
    for (i, x) in zz.iter_mut().enumerate() {
        if *x > limit {
            exceptions.push((i as u16, *x));
            *x = 0;
        }
    }
    put_uvarint(out, min);
    out.push(width as u8);
    put_uvarint(out, exceptions.len() as u64);
    pack(zz, width as u32, out);
    for &(pos, _) in &exceptions {
        out.extend_from_slice(&pos.to_le_bytes());
    }
    for &(_, x) in &exceptions {
        put_uvarint(out, x);
    }
}

/// Encodes the chunk payload.
pub(crate) fn encode_payload(ts: &[i64], vals: &[f64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ts.len() * 3 + 32);
    if ts.len() >= 2 {
        put_uvarint(&mut out, ts[1].wrapping_sub(ts[0]) as u64);
    }
    let mut zz = Vec::with_capacity(VECTOR_LEN);
    let pairs = column_pairs(vals);
    for (k, (tb, vb)) in ts
        .chunks(VECTOR_LEN)
        .zip(vals.chunks(VECTOR_LEN))
        .enumerate()
    {
        encode_ts_block(tb, k * VECTOR_LEN, ts, &mut zz, &mut out);
        encode_vector(vb, pairs.as_deref(), &mut out);
    }
    out
}

/// The column-level candidates, when there are enough vectors for the
/// first sampling level to pay off (a single vector ranks all pairs itself).
fn column_pairs(vals: &[f64]) -> Option<Vec<(usize, usize)>> {
    (vals.len() > 2 * VECTOR_LEN)
        .then(|| alp::column_candidates(vals, VECTOR_LEN, COLUMN_CANDIDATES))
        .filter(|p| !p.is_empty())
}

/// Running state of the timestamp decoder.
struct TsState {
    t: i64,
    delta: i64,
}

/// Decodes one vector's timestamps into `out`; returns whether they never
/// decrease (from the previous vector's last one on).
fn decode_ts_block(
    r: &mut ByteReader<'_>,
    start: usize,
    st: &mut TsState,
    out: &mut [i64],
    scratch: &mut [u64],
) -> Result<bool> {
    let min = r.uvarint("best timestamp block minimum")?;
    let width = u32::from(r.u8("best timestamp block width")?);
    let n_exc = r.uvarint("best timestamp exception count")?;
    if n_exc > out.len() as u64 {
        return Err(Error::Corrupt("more timestamp exceptions than points"));
    }
    let bytes = r.take(packed_len(out.len(), width.min(64)), "best timestamps")?;
    // Points 0 and 1 of the chunk were set up by the caller.
    let skip = 2usize.saturating_sub(start).min(out.len());
    let (mut t, mut delta) = (st.t, st.delta);
    // The order check rides along the decode loops (off their dependency
    // chain), sparing the caller a second pass.
    let mut sorted = true;
    if width == 0 && n_exc == 0 {
        // Constant delta-of-delta (0 for regular series): nothing to unpack.
        let dod = unzigzag(min);
        for o in &mut out[skip..] {
            delta = delta.wrapping_add(dod);
            let next = t.wrapping_add(delta);
            sorted &= next >= t;
            t = next;
            *o = t;
        }
    } else {
        let zz = &mut scratch[..out.len()];
        unpack(bytes, width, zz)?;
        let n_exc = n_exc as usize;
        let positions = r.take(2 * n_exc, "best timestamp exception positions")?;
        for p in positions.chunks_exact(2) {
            let pos = usize::from(u16::from_le_bytes([p[0], p[1]]));
            let slot = zz
                .get_mut(pos)
                .ok_or(Error::Corrupt("timestamp exception position out of range"))?;
            *slot = r.uvarint("best timestamp exception value")?;
        }
        for (o, &x) in out[skip..].iter_mut().zip(&zz[skip..]) {
            delta = delta.wrapping_add(unzigzag(x.wrapping_add(min)));
            let next = t.wrapping_add(delta);
            sorted &= next >= t;
            t = next;
            *o = t;
        }
    }
    st.t = t;
    st.delta = delta;
    Ok(sorted)
}

/// Decodes a chunk payload of `count` points, handing each vector's
/// timestamps and values to `sink` in order.
pub(crate) fn decode_payload(
    payload: &[u8],
    count: usize,
    first_ts: i64,
    sink: &mut impl FnMut(&[i64], &[f64]) -> Result<()>,
) -> Result<()> {
    let mut d = PayloadDecoder::new(payload, count, first_ts)?;
    let mut tbuf = [0i64; VECTOR_LEN];
    let mut vbuf = [0.0f64; VECTOR_LEN];
    while let Some(len) = d.next_len() {
        d.next_vector(&mut tbuf[..len], &mut vbuf[..len])?;
        sink(&tbuf[..len], &vbuf[..len])?;
    }
    d.finish()
}

/// Decodes a chunk payload of `count` points straight into `ts` and `vals`
/// (each exactly `count` long), with no intermediate copy. Returns whether
/// the timestamps never decrease (the caller decides what that means).
pub(crate) fn decode_payload_into(
    payload: &[u8],
    first_ts: i64,
    ts: &mut [i64],
    vals: &mut [f64],
) -> Result<bool> {
    debug_assert_eq!(ts.len(), vals.len());
    let mut d = PayloadDecoder::new(payload, ts.len(), first_ts)?;
    for (tb, vb) in ts.chunks_mut(VECTOR_LEN).zip(vals.chunks_mut(VECTOR_LEN)) {
        d.next_vector(tb, vb)?;
    }
    let sorted = d.sorted;
    d.finish()?;
    Ok(sorted)
}

/// Walks a payload one vector at a time.
struct PayloadDecoder<'a> {
    r: ByteReader<'a>,
    st: TsState,
    first: [i64; 2],
    start: usize,
    count: usize,
    /// No timestamp so far is below its predecessor.
    sorted: bool,
    scratch: [u64; 2 * VECTOR_LEN],
}

impl<'a> PayloadDecoder<'a> {
    fn new(payload: &'a [u8], count: usize, first_ts: i64) -> Result<Self> {
        check_count(count, payload.len())?;
        let mut r = ByteReader::new(payload);
        let mut st = TsState {
            t: first_ts,
            delta: 0,
        };
        if count >= 2 {
            st.delta = r.uvarint("best first delta")? as i64;
            st.t = first_ts.wrapping_add(st.delta);
        }
        Ok(PayloadDecoder {
            r,
            first: [first_ts, st.t],
            st,
            start: 0,
            count,
            sorted: true,
            scratch: [0; 2 * VECTOR_LEN],
        })
    }

    /// The length of the next vector, if any is left.
    fn next_len(&self) -> Option<usize> {
        (self.start < self.count).then(|| (self.count - self.start).min(VECTOR_LEN))
    }

    /// Decodes the next vector into `ts` and `vals` (its length each).
    fn next_vector(&mut self, ts: &mut [i64], vals: &mut [f64]) -> Result<()> {
        if self.start == 0 {
            // Points 0 and 1 come from the header and the first delta.
            let n = ts.len().min(2);
            ts[..n].copy_from_slice(&self.first[..n]);
            self.sorted &= n < 2 || self.first[1] >= self.first[0];
        }
        self.sorted &=
            decode_ts_block(&mut self.r, self.start, &mut self.st, ts, &mut self.scratch)?;
        decode_vector(&mut self.r, vals, &mut self.scratch)?;
        self.start += ts.len();
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self.r.remaining() {
            0 => Ok(()),
            n => Err(Error::TrailingBytes(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    #[test]
    fn schemes_round_trip() {
        let decimal: Vec<f64> = (0..2500)
            .map(|i| f64::from(i * 37 % 1000) / 100.0)
            .collect();
        let precise: Vec<f64> = (0..2500)
            .map(|i| (f64::from(i) * 0.37).sin() * 3.0)
            .collect();
        let random: Vec<f64> = (0..700u64)
            .map(|i| f64::from_bits(i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .collect();
        let special = vec![
            f64::NAN,
            -0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::from_bits(1),
            f64::MAX,
            f64::MIN,
            f64::from_bits(0x7FF0_0000_0000_0001),
            1.5,
        ];
        for vals in [decimal, precise, random, special, vec![], vec![42.0]] {
            let bytes = encode_values(&vals);
            let back = decode_values(&bytes, vals.len()).unwrap();
            assert_eq!(bits(&back), bits(&vals));
        }
    }

    fn payload_rt(ts: &[i64], vals: &[f64]) -> usize {
        let p = encode_payload(ts, vals);
        let (mut t2, mut v2) = (Vec::new(), Vec::new());
        decode_payload(
            &p,
            ts.len(),
            ts.first().copied().unwrap_or(0),
            &mut |t, v| {
                t2.extend_from_slice(t);
                v2.extend_from_slice(v);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(t2, ts);
        assert_eq!(bits(&v2), bits(vals));
        p.len()
    }

    #[test]
    fn regular_timestamps_cost_nothing() {
        let ts: Vec<i64> = (0..4096).map(|i| 1_700_000_000_000 + i * 15_000).collect();
        let vals = vec![1.0; ts.len()];
        // first delta (3 bytes) + 4 × (2-byte timestamp block + 7-byte constant vector).
        assert!(payload_rt(&ts, &vals) <= 3 + 4 * 9);
    }

    #[test]
    fn extreme_timestamps() {
        for ts in [
            vec![],
            vec![i64::MIN],
            vec![5, 5],
            vec![i64::MIN, i64::MIN, -1, 0, i64::MAX, i64::MAX],
            (0..2051).map(|i| i * i * 1000).collect(),
        ] {
            let vals: Vec<f64> = ts.iter().map(|&t| t as f64).collect();
            payload_rt(&ts, &vals);
        }
    }
}
