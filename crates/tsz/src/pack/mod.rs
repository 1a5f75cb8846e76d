//! The `Pack` codec: pcodec-class ratios (delta orders, common-divisor
//! detection, binning with tANS entropy coding, sampled mode search) with a
//! decoder several times faster than pcodec's.
//!
//! Each column of a chunk becomes one stream of `u64` *latents* coded by
//! the latent coder (`latent.rs`): bins with a four-state tANS entropy
//! coder, as in pcodec, or a patched frame of reference when the entropy
//! coder would save less than 10% (and 1/32 bit per value), since bit
//! unpacking decodes several times faster. The modes below only decide what
//! the latents are. The encoder estimates the size of every candidate mode
//! (ALP integers for the two best `(e, f)` pairs at delta orders 0-2, float
//! images at orders 0-1; timestamps as deltas or deltas of deltas) on a
//! sample (up to 16 runs of 256 consecutive points) with the latent coder's
//! own cost model, and encodes the column once with the smallest.
//!
//! What pcodec does and this codec does not: float-multiplier and
//! float-quantisation modes beyond what the integer multiplier on float
//! images catches (trailing zero bits), delta orders above 2 for values,
//! lookback (repeating) modes, and pages with separate bins inside a chunk. For values, Gorilla's XOR coding is one more
//! candidate, sized exactly by a counting pass (no bits written) and used
//! when smaller, so a value column is never larger than Gorilla's.
//!
//! # Payload layout (inside a [`Chunk`](crate::Chunk))
//!
//! Timestamps (only with at least 2 points; the first lives in the header):
//!
//! * `1` (delta): latent column of the `n - 1` deltas `t_i - t_{i-1}`;
//! * `2` (delta of delta): `first delta: varint (u64)`, latent column of the
//!   `n - 2` zigzagged `(t_i - t_{i-1}) - (t_{i-1} - t_{i-2})`.
//!
//! Values: a mode byte and its body:
//!
//! * `0` (ALP integers): `e: u8, f: u8, order: u8 (0..=2), exceptions:
//!   varint, positions (u16 LE each), raw bits (u64 LE each)`, then the
//!   common part. Each value is the integer `n` with `v = (n · 10^f) · 10^-e`
//!   as in the `Best` codec's ALP scheme; its image is `x = n ^ 2^63`
//!   (order-preserving). Values that do not round-trip are exceptions; their
//!   slots hold the previous integer;
//! * `1` (float bits): `order: u8 (0..=1)`, then the common part; the image
//!   of a value is the order-preserving map of its bit pattern (`bits ^ 2^63`
//!   for positives, `!bits` for negatives);
//! * `2` (Gorilla): `length: varint` and Gorilla XOR-coded values.
//!
//! Common part (pcodec's integer multiplier): `base: varint, g: varint` with
//! every image `x = base + y · g` (`g` the gcd of all `x - base`), the first
//! `order` of the `y`s as varints, then the latent column: the `y`s
//! themselves (order 0) or their zigzagged first or second differences.
//!
//! Values-only streams ([`encode_values`]) are the values part alone.

mod latent;

use crate::best::alp;
use crate::bytes_io::{ByteReader, put_uvarint, unzigzag, zigzag};
use crate::error::{Error, Result};
use crate::gorilla;

const TS_DELTA: u8 = 1;
const TS_DOD: u8 = 2;
const MODE_ALP: u8 = 0;
const MODE_FLOAT: u8 = 1;
const MODE_GORILLA: u8 = 2;
/// Decode batch: latents go through an L1-sized buffer.
const BATCH: usize = 1024;
/// Sampling: runs of this many consecutive points...
const RUN: usize = 256;
/// ...and at most this many of them.
const RUNS: usize = 16;
const SIGN: u64 = 1 << 63;

/// Ranges of consecutive points the mode search estimates on.
#[allow(clippy::single_range_in_vec_init)]
fn sample_runs(n: usize) -> Vec<std::ops::Range<usize>> {
    if n <= RUN * RUNS {
        return vec![0..n];
    }
    (0..RUNS)
        .map(|k| {
            let s = k * (n - RUN) / (RUNS - 1);
            s..s + RUN
        })
        .collect()
}

/// Order-preserving map of a double's bits to an unsigned integer.
#[inline]
fn float_latent(v: f64) -> u64 {
    let b = v.to_bits();
    if b & SIGN == 0 { b ^ SIGN } else { !b }
}

#[inline]
fn float_from_latent(l: u64) -> f64 {
    f64::from_bits(if l & SIGN != 0 { l ^ SIGN } else { !l })
}

/// Latents of `ints` at a delta order (the first `order` values are left out).
fn order_latents(ints: &[i64], order: u8, out: &mut Vec<u64>) {
    match order {
        0 => out.extend(ints.iter().map(|&n| n as u64)),
        1 => out.extend(ints.windows(2).map(|w| zigzag(w[1].wrapping_sub(w[0])))),
        _ => out.extend(ints.windows(3).map(|w| {
            zigzag(
                w[2].wrapping_sub(w[1])
                    .wrapping_sub(w[1].wrapping_sub(w[0])),
            )
        })),
    }
}

/// ALP integers of `vals` for `(e, f)`, exceptions filled with the previous
/// integer; `None` if no value is encodable.
fn alp_ints(vals: &[f64], e: usize, f: usize) -> Option<(Vec<i64>, Vec<u16>)> {
    let mut ints = Vec::with_capacity(vals.len());
    let mut exc = Vec::new();
    let mut prev = None;
    for (i, &v) in vals.iter().enumerate() {
        if let Some(n) = alp::encode_one(v, e, f) {
            ints.push(n);
            prev = Some(n);
        } else {
            exc.push(i as u16);
            ints.push(prev.unwrap_or(0));
        }
    }
    // Leading exceptions copy the first encodable integer.
    let first = (0..vals.len()).find(|&i| exc.get(i).is_none_or(|&p| usize::from(p) != i))?;
    let fill = ints[first];
    for n in &mut ints[..first] {
        *n = fill;
    }
    Some((ints, exc))
}

/// The order-preserving `u64` image of ALP integers.
fn int_images(ints: &[i64]) -> Vec<u64> {
    ints.iter().map(|&n| (n as u64) ^ SIGN).collect()
}

/// A value mode the search may pick.
#[derive(Debug, Clone, Copy, PartialEq)]
enum ValueMode {
    Alp { e: usize, f: usize, order: u8 },
    Float { order: u8 },
}

/// Estimated bits of each candidate on the sample; the cheapest first.
fn rank_value_modes(vals: &[f64]) -> Vec<(f64, ValueMode)> {
    let n = vals.len();
    let runs = sample_runs(n);
    let sample: Vec<f64> = runs
        .iter()
        .flat_map(|r| vals[r.clone()].iter().copied())
        .collect();
    let m = sample.len().max(1);
    let scale = n as f64 / m as f64;
    let mut lat = Vec::with_capacity(m);
    let mut out = Vec::new();
    for (e, f) in alp::candidates(&sample, 2, None) {
        // Exceptions of the sample, then latents per run (deltas never span runs).
        let mut ok = true;
        let mut exc = 0usize;
        let mut run_ints = Vec::new();
        for r in &runs {
            match alp_ints(&vals[r.clone()], e, f) {
                Some((ints, x)) => {
                    exc += x.len();
                    run_ints.push(ints);
                }
                None => ok = false,
            }
        }
        if !ok {
            continue;
        }
        let exc_bits = exc as f64 * scale * 80.0;
        let all: Vec<u64> = run_ints.iter().flat_map(|r| int_images(r)).collect();
        let (base, g) = latent::base_and_gcd(&all);
        let run_ys: Vec<Vec<i64>> = run_ints
            .iter()
            .map(|r| {
                int_images(r)
                    .iter()
                    .map(|&x| ((x - base) / g) as i64)
                    .collect()
            })
            .collect();
        for order in 0..=2u8 {
            lat.clear();
            for ys in &run_ys {
                order_latents(ys, order, &mut lat);
            }
            let bits = latent::estimate_bits(&mut lat, n) + exc_bits + 64.0 * f64::from(order);
            out.push((bits, ValueMode::Alp { e, f, order }));
        }
    }
    let all: Vec<u64> = sample.iter().map(|&v| float_latent(v)).collect();
    let (base, g) = latent::base_and_gcd(&all);
    let run_ys: Vec<Vec<i64>> = runs
        .iter()
        .map(|r| {
            vals[r.clone()]
                .iter()
                .map(|&v| ((float_latent(v) - base) / g) as i64)
                .collect()
        })
        .collect();
    for order in 0..=1u8 {
        lat.clear();
        for ys in &run_ys {
            order_latents(ys, order, &mut lat);
        }
        let bits = latent::estimate_bits(&mut lat, n) + 64.0 * f64::from(order);
        out.push((bits, ValueMode::Float { order }));
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

fn encode_mode(vals: &[f64], mode: ValueMode, out: &mut Vec<u8>) {
    let (xs, order) = match mode {
        ValueMode::Alp { e, f, order } => {
            let (ints, exc) = alp_ints(vals, e, f).expect("ranked modes encode");
            out.push(MODE_ALP);
            out.push(e as u8);
            out.push(f as u8);
            out.push(order);
            put_uvarint(out, exc.len() as u64);
            for p in &exc {
                out.extend_from_slice(&p.to_le_bytes());
            }
            for &p in &exc {
                out.extend_from_slice(&vals[usize::from(p)].to_bits().to_le_bytes());
            }
            (int_images(&ints), order)
        }
        ValueMode::Float { order } => {
            out.push(MODE_FLOAT);
            out.push(order);
            (vals.iter().map(|&v| float_latent(v)).collect(), order)
        }
    };
    let (base, g) = latent::base_and_gcd(&xs);
    let mut ys = xs;
    if g == 1 {
        for x in &mut ys {
            *x -= base;
        }
    } else {
        for x in &mut ys {
            *x = (*x - base) / g;
        }
    }
    put_uvarint(out, base);
    put_uvarint(out, g);
    let k = usize::from(order).min(ys.len());
    for &y in &ys[..k] {
        put_uvarint(out, y);
    }
    deltas_in_place(&mut ys, order);
    ys.drain(..k);
    latent::encode(ys, out);
}

/// [`order_latents`] in place: entries from `order` on become the zigzagged
/// first or second differences (earlier entries are left as they are).
fn deltas_in_place(ys: &mut [u64], order: u8) {
    if order == 0 {
        return;
    }
    for i in (1..ys.len()).rev() {
        ys[i] = ys[i].wrapping_sub(ys[i - 1]);
    }
    if order == 1 {
        ys.iter_mut().skip(1).for_each(|d| *d = zigzag(*d as i64));
    } else {
        for i in (2..ys.len()).rev() {
            ys[i] = zigzag(ys[i].wrapping_sub(ys[i - 1]) as i64);
        }
    }
}

/// Appends the values part: the smallest of the ranked modes and Gorilla.
fn encode_values_into(vals: &[f64], out: &mut Vec<u8>) {
    if vals.is_empty() {
        encode_mode(vals, ValueMode::Float { order: 0 }, out);
        return;
    }
    let ranked = rank_value_modes(vals);
    // Gorilla's exact size costs a pass that writes nothing; it is encoded
    // for real only when it is smaller.
    let start = out.len();
    encode_mode(vals, ranked[0].1, out);
    let gorilla_len = gorilla::values_len(vals);
    let mut len_bytes = Vec::new();
    put_uvarint(&mut len_bytes, gorilla_len as u64);
    let gorilla_total = 1 + len_bytes.len() + gorilla_len;
    if gorilla_total < out.len() - start {
        out.truncate(start);
        out.push(MODE_GORILLA);
        out.extend_from_slice(&len_bytes);
        out.extend_from_slice(&gorilla::encode_values(vals));
        debug_assert_eq!(out.len() - start, gorilla_total);
    }
}

/// Encodes a value column alone (no timestamps) with the `Pack` scheme.
///
/// ```
/// let values: Vec<f64> = (0..3000).map(|i| f64::from(i % 250) / 10.0).collect();
/// let bytes = blocksmith_tsz::pack::encode_values(&values);
/// let back = blocksmith_tsz::pack::decode_values(&bytes, values.len())?;
/// assert_eq!(back, values);
/// # Ok::<(), blocksmith_tsz::Error>(())
/// ```
pub fn encode_values(values: &[f64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(values.len() + 64);
    encode_values_into(values, &mut out);
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
    // Every value costs at least one bit... except in bins of width 0 with a
    // single-state table, so bound the allocation by a generous constant.
    if count > crate::Chunk::MAX_POINTS {
        return Err(Error::TooManyPoints {
            count,
            max: crate::Chunk::MAX_POINTS,
        });
    }
    let at = out.len();
    out.resize(at + count, 0.0);
    let mut r = ByteReader::new(bytes);
    let result = decode_values_part(&mut r, &mut out[at..]).and_then(|()| match r.remaining() {
        0 => Ok(()),
        n => Err(Error::TrailingBytes(n)),
    });
    if result.is_err() {
        out.truncate(at);
    }
    result
}

/// Decodes the values part into `out` (its length is the count).
fn decode_values_part(r: &mut ByteReader<'_>, out: &mut [f64]) -> Result<()> {
    let n = out.len();
    let mode = r.u8("pack: value mode")?;
    let (alp, order) = match mode {
        MODE_ALP => {
            let e = usize::from(r.u8("pack: alp exponent")?);
            let f = usize::from(r.u8("pack: alp factor")?);
            if e > alp::MAX_EXPONENT || f > e {
                return Err(Error::Corrupt("pack: alp exponent/factor out of range"));
            }
            (Some((e, f)), r.u8("pack: delta order")?)
        }
        MODE_FLOAT => (None, r.u8("pack: delta order")?),
        MODE_GORILLA => {
            let len = r.uvarint("pack: gorilla length")?;
            if len > r.remaining() as u64 {
                return Err(Error::Truncated("pack: gorilla values"));
            }
            let bytes = r.take(len as usize, "pack: gorilla values")?;
            let mut v = Vec::with_capacity(n);
            gorilla::decode_values_into(bytes, n, &mut v)?;
            out.copy_from_slice(&v);
            return Ok(());
        }
        _ => return Err(Error::Corrupt("pack: unknown value mode")),
    };
    if order > 2 {
        return Err(Error::Corrupt("pack: delta order above 2"));
    }
    let (mut pos, mut raw): (&[u8], &[u8]) = (&[], &[]);
    if alp.is_some() {
        let exc = r.uvarint("pack: exception count")?;
        if exc > n as u64 {
            return Err(Error::Corrupt("pack: more exceptions than values"));
        }
        let exc = exc as usize;
        pos = r.take(exc * 2, "pack: exception positions")?;
        raw = r.take(exc * 8, "pack: exception values")?;
    }
    let base = r.uvarint("pack: multiplier base")?;
    let g = r.uvarint("pack: multiplier")?;
    let k = usize::from(order).min(n);
    let mut first = [0i64; 2];
    for y in &mut first[..k] {
        *y = r.uvarint("pack: first values")? as i64;
    }
    let mut lr = latent::Reader::new(r, n - k)?;
    // The y of each value, then its image x = base + y * g, then the value.
    let (fact, frac) = alp.map_or((1.0, 1.0), |(e, f)| alp::factors(e, f));
    let convert = |ys: &[u64], out: &mut [f64]| {
        let pairs = out.iter_mut().zip(ys);
        match (alp.is_some(), g == 1) {
            (true, true) => {
                // (x ^ 2^63) is x + 2^63: fold it into one offset.
                let off = base ^ SIGN;
                for (o, &y) in pairs {
                    *o = alp::int_to_f64(y.wrapping_add(off) as i64) * fact * frac;
                }
            }
            (true, false) => {
                for (o, &y) in pairs {
                    let x = base.wrapping_add(y.wrapping_mul(g));
                    *o = alp::int_to_f64((x ^ SIGN) as i64) * fact * frac;
                }
            }
            (false, true) => {
                for (o, &y) in pairs {
                    *o = float_from_latent(base.wrapping_add(y));
                }
            }
            (false, false) => {
                for (o, &y) in pairs {
                    *o = float_from_latent(base.wrapping_add(y.wrapping_mul(g)));
                }
            }
        }
    };
    let mut buf = [0u64; BATCH];
    for (b, &y) in buf.iter_mut().zip(&first[..k]) {
        *b = y as u64;
    }
    convert(&buf[..k], &mut out[..k]);
    let (mut prev, mut delta) = match k {
        2 => (first[1], first[1].wrapping_sub(first[0])),
        1 => (first[0], 0),
        _ => (0, 0),
    };
    for chunk in out[k..].chunks_mut(BATCH) {
        let l = &mut buf[..chunk.len()];
        lr.next(l)?;
        // Delta decoding in place, then a conversion loop the compiler can
        // vectorise.
        match order {
            0 => {}
            1 => {
                for x in l.iter_mut() {
                    prev = prev.wrapping_add(unzigzag(*x));
                    *x = prev as u64;
                }
            }
            _ => {
                for x in l.iter_mut() {
                    delta = delta.wrapping_add(unzigzag(*x));
                    prev = prev.wrapping_add(delta);
                    *x = prev as u64;
                }
            }
        }
        convert(l, chunk);
    }
    for (p, v) in pos.chunks_exact(2).zip(raw.chunks_exact(8)) {
        let p = usize::from(u16::from_le_bytes([p[0], p[1]]));
        let mut a = [0u8; 8];
        a.copy_from_slice(v);
        *out.get_mut(p)
            .ok_or(Error::Corrupt("pack: exception position out of range"))? =
            f64::from_bits(u64::from_le_bytes(a));
    }
    Ok(())
}

/// Appends the timestamps part (nothing below 2 points).
fn encode_timestamps(ts: &[i64], out: &mut Vec<u8>) {
    if ts.len() < 2 {
        return;
    }
    let runs = sample_runs(ts.len());
    let mut delta = Vec::new();
    let mut dod = Vec::new();
    for r in &runs {
        let s = &ts[r.clone()];
        delta.extend(s.windows(2).map(|w| w[1].wrapping_sub(w[0]) as u64));
        order_latents(s, 2, &mut dod);
    }
    let n = ts.len();
    let d_bits = latent::estimate_bits(&mut delta, n);
    let dd_bits = latent::estimate_bits(&mut dod, n) + 64.0;
    let mut lat = Vec::with_capacity(n);
    if d_bits <= dd_bits {
        out.push(TS_DELTA);
        lat.extend(ts.windows(2).map(|w| w[1].wrapping_sub(w[0]) as u64));
    } else {
        out.push(TS_DOD);
        put_uvarint(out, ts[1].wrapping_sub(ts[0]) as u64);
        order_latents(ts, 2, &mut lat);
    }
    latent::encode(lat, out);
}

/// Decodes the timestamps part into `out` (`out[0]` is the first
/// timestamp); returns whether they never decrease.
fn decode_timestamps(r: &mut ByteReader<'_>, first: i64, out: &mut [i64]) -> Result<bool> {
    let n = out.len();
    if n == 0 {
        return Ok(true);
    }
    out[0] = first;
    if n < 2 {
        return Ok(true);
    }
    let mut buf = [0u64; BATCH];
    let mut sorted = true;
    let mut t = first;
    match r.u8("pack: timestamp mode")? {
        TS_DELTA => {
            let mut lr = latent::Reader::new(r, n - 1)?;
            if let Some((base, g, exc)) = lr.constant() {
                // Regular or gappy: runs of one delta between exceptions.
                return Ok(constant_deltas(&mut out[1..], t, base as i64, g, exc));
            }
            for chunk in out[1..].chunks_mut(BATCH) {
                let l = &mut buf[..chunk.len()];
                lr.next(l)?;
                for (o, &d) in chunk.iter_mut().zip(l.iter()) {
                    let next = t.wrapping_add(d as i64);
                    sorted &= next >= t;
                    t = next;
                    *o = t;
                }
            }
        }
        TS_DOD => {
            let mut delta = r.uvarint("pack: first delta")? as i64;
            t = t.wrapping_add(delta);
            sorted &= t >= first;
            out[1] = t;
            let mut lr = latent::Reader::new(r, n - 2)?;
            if let Some((0, _, [])) = lr.constant() {
                // Perfectly regular: one delta throughout.
                return Ok(constant_deltas(&mut out[2..], t, delta, 1, &[]) && sorted);
            }
            for chunk in out[2..].chunks_mut(BATCH) {
                let l = &mut buf[..chunk.len()];
                lr.next(l)?;
                for (o, &x) in chunk.iter_mut().zip(l.iter()) {
                    delta = delta.wrapping_add(unzigzag(x));
                    let next = t.wrapping_add(delta);
                    sorted &= next >= t;
                    t = next;
                    *o = t;
                }
            }
        }
        _ => return Err(Error::Corrupt("pack: unknown timestamp mode")),
    }
    Ok(sorted)
}

/// Timestamps after `t` from deltas that all equal `step` but at the
/// exceptions `(position, q)`, whose delta is `step + q * g`; returns whether
/// they never decrease. Runs between exceptions are a plain induction the
/// compiler vectorises, checked for order once per run.
fn constant_deltas(out: &mut [i64], mut t: i64, step: i64, g: u64, exc: &[(usize, u64)]) -> bool {
    let mut sorted = true;
    let mut from = 0;
    let end = [(out.len(), 0)];
    for &(p, q) in exc.iter().chain(&end) {
        let Some(run) = out.get_mut(from..p) else {
            return false;
        };
        let t0 = t;
        for o in run.iter_mut() {
            t = t.wrapping_add(step);
            *o = t;
        }
        if !run.is_empty() {
            sorted &=
                step >= 0 && i128::from(t0) + i128::from(step) * run.len() as i128 == i128::from(t);
        }
        if let Some(o) = out.get_mut(p) {
            let d = (step as u64).wrapping_add(q.wrapping_mul(g)) as i64;
            let next = t.wrapping_add(d);
            sorted &= next >= t;
            t = next;
            *o = t;
        }
        from = p + 1;
    }
    sorted
}

/// Encodes the chunk payload: timestamps part, then values part.
pub(crate) fn encode_payload(ts: &[i64], vals: &[f64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ts.len() + 64);
    encode_timestamps(ts, &mut out);
    encode_values_into(vals, &mut out);
    out
}

/// Decodes a payload straight into `ts` and `vals` (each `count` long);
/// returns whether the timestamps never decrease.
pub(crate) fn decode_payload_into(
    payload: &[u8],
    first_ts: i64,
    ts: &mut [i64],
    vals: &mut [f64],
) -> Result<bool> {
    let mut r = ByteReader::new(payload);
    let sorted = decode_timestamps(&mut r, first_ts, ts)?;
    decode_values_part(&mut r, vals)?;
    match r.remaining() {
        0 => Ok(sorted),
        n => Err(Error::TrailingBytes(n)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    fn rt(ts: &[i64], vals: &[f64]) -> usize {
        let p = encode_payload(ts, vals);
        let mut t2 = vec![0; ts.len()];
        let mut v2 = vec![0.0; vals.len()];
        let sorted =
            decode_payload_into(&p, ts.first().copied().unwrap_or(0), &mut t2, &mut v2).unwrap();
        assert!(sorted);
        assert_eq!(t2, ts);
        assert_eq!(bits(&v2), bits(vals));
        let v = encode_values(vals);
        assert_eq!(bits(&decode_values(&v, vals.len()).unwrap()), bits(vals));
        p.len()
    }

    #[test]
    fn modes_round_trip() {
        let ts: Vec<i64> = (0..5000)
            .map(|i| 1_700_000_000_000 + i * 1000 + (i % 7))
            .collect();
        let decimal: Vec<f64> = (0..5000)
            .map(|i| f64::from(i * 37 % 1000) / 100.0)
            .collect();
        let walk: Vec<f64> = (0..5000)
            .scan(2137i64, |s, i| {
                *s += (i * 7919 % 7) - 3;
                Some(*s as f64 / 100.0)
            })
            .collect();
        let precise: Vec<f64> = (0..5000)
            .map(|i| (f64::from(i) * 0.37).sin() * 3.0)
            .collect();
        let special: Vec<f64> = (0..5000)
            .map(|i| match i % 6 {
                0 => f64::NAN,
                1 => -0.0,
                2 => f64::INFINITY,
                3 => -1.5,
                _ => f64::from(i) * 0.25,
            })
            .collect();
        for v in [&decimal, &walk, &precise, &special] {
            rt(&ts, v);
        }
        for n in [0usize, 1, 2, 3, 5] {
            rt(&ts[..n], &walk[..n]);
        }
        rt(&[i64::MIN, -1, 0, i64::MAX], &[1.0, 2.0, 3.0, 4.0]);
    }
}
