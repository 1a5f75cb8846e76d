//! The latent column coder of the `Pack` codec: pco-style binning of `u64`
//! latents, bin indices entropy coded with a table-based ANS (tANS, as in
//! FSE/zstd and pcodec) over four interleaved states, offsets as raw bits.
//!
//! A latent `x` is first mapped to `q = (x - base) / gcd` (`gcd` is the
//! greatest common divisor of every `x - base`, 1 when none helps). The `q`s
//! fall in *bins* `[lower, lower + 2^width)`; a value costs the code of its
//! bin (about `log2(1 / p(bin))` bits thanks to ANS) plus `width` offset bits.
//! Bins are chosen on a sorted sample by dynamic programming over quantile
//! groups, minimising that very cost plus each bin's header.
//!
//! When one bin with a few outliers costs about as much (within
//! [`ANS_MIN_GAIN`]), the column is a *patched frame of reference* instead:
//! fixed-width bit packing plus exceptions, which decodes several times
//! faster than any entropy coder (regular or gappy timestamps, uniform noise).
//!
//! # Layout
//!
//! A kind byte: `0` empty column (nothing follows), `1` binned tANS, `2`
//! patched frame of reference. Both non-empty kinds continue with
//! `base: varint, gcd: varint`.
//!
//! Patched frame of reference: `width: u8, exceptions: varint`, the `q`s
//! packed at `width` bits (0 in exception slots; the `Best` codec's bit
//! packing), exception positions (u16 LE each), exception `q`s (varint each).
//!
//! Binned tANS: `bins: varint, table_log: u8`, per bin `frequency: varint,
//! lower: varint (delta from the previous bin's lower), width: u8`, the four
//! final ANS states (`varint` each, below `2^table_log`), then two
//! bitstreams, each as `length: varint` and bytes: the ANS refill bits of
//! every value in order, then the offsets of every value in order.
//! Frequencies sum to `2^table_log`. Bitstreams are LSB-first and end with 8
//! zero bytes of padding, so the decoder always reads whole 64-bit words; two
//! streams let it read each with one load per four values.

use crate::bitpack::bit_width;
use crate::bytes_io::{ByteReader, put_uvarint};
use crate::error::{Error, Result};

/// Most bins per column.
pub(crate) const MAX_BINS: usize = 256;
/// Largest ANS table: `2^11` states (8 KiB of decode table, in L1).
pub(crate) const MAX_TABLE_LOG: u32 = 11;
const TABLE_SIZE: usize = 1 << MAX_TABLE_LOG;
/// Interleaved ANS states (consecutive values use consecutive states, so
/// the decoder's table lookups do not wait on each other).
const STATES: usize = 4;
/// Bytes of zero padding after the bitstream.
const PADDING: usize = 8;
/// Quantile groups the bin search starts from.
const GROUPS: usize = 96;
/// Largest sample the bin search sorts.
const SAMPLE: usize = 8192;
/// Binned tANS is chosen over the patched frame of reference only when its
/// estimate is smaller by at least this fraction: the frame of reference
/// decodes several times faster, so a marginal saving is not worth it.
pub(crate) const ANS_MIN_GAIN: f64 = 0.10;
const KIND_EMPTY: u8 = 0;
const KIND_ANS: u8 = 1;
const KIND_FOR: u8 = 2;
/// Estimated bits of a frame-of-reference exception of a `b`-bit value.
fn exception_bits(b: u32) -> u64 {
    16 + 8 * u64::from(b.max(1).div_ceil(7))
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// `(base, gcd)` of `xs`: the minimum and the gcd of every `x - min` (1 if
/// all are equal or no divisor above 1 exists).
pub(crate) fn base_and_gcd(xs: &[u64]) -> (u64, u64) {
    let base = xs.iter().copied().min().unwrap_or(0);
    let mut g = 0u64;
    for &x in xs {
        g = gcd(g, x - base);
        if g == 1 {
            break;
        }
    }
    (base, g.max(1))
}

fn varint_len(v: u64) -> u32 {
    (bit_width(v).max(1)).div_ceil(7)
}

/// A bin as chosen on a sample: its lower bound (in `q` space) and, for the
/// estimate, its sample count and width.
#[derive(Debug, Clone, Copy)]
struct SampleBin {
    lower: u64,
    width: u32,
    count: usize,
}

/// Chooses bins for the sorted sample `s`; returns them and the estimated
/// cost in bits of the *sample's* values (entropy + offsets) and of the bin
/// headers (which do not scale with the sample).
fn choose_bins(s: &[u64]) -> (Vec<SampleBin>, f64, f64) {
    let m = s.len();
    if m == 0 {
        return (Vec::new(), 0.0, 0.0);
    }
    // Quantile groups; a run of equal values never straddles two groups.
    let mut groups: Vec<(usize, usize)> = Vec::with_capacity(GROUPS + 1);
    let mut start = 0;
    while start < m {
        let mut end = (start + m.div_ceil(GROUPS)).min(m);
        while end < m && s[end] == s[end - 1] {
            end += 1;
        }
        // A run starting inside the group's tail gets a group of its own,
        // so frequent exact values end up in width-0 bins.
        let mut cut = end;
        while cut > start + 1 && s[cut - 1] == s[end - 1] {
            cut -= 1;
        }
        if cut > start && cut < end && end - cut >= (end - start) / 2 {
            groups.push((start, cut));
            start = cut;
        }
        groups.push((start, end));
        start = end;
    }
    let g = groups.len();
    let mf = m as f64;
    let log_m = mf.log2();
    // best[j]: cheapest cover of groups 0..j; from[j]: where its last bin starts.
    let mut best = vec![f64::INFINITY; g + 1];
    let mut from = vec![0usize; g + 1];
    best[0] = 0.0;
    for j in 1..=g {
        let (_, end) = groups[j - 1];
        let hi = s[end - 1];
        for i in (0..j).rev() {
            let (st, _) = groups[i];
            let lo = s[st];
            let c = (end - st) as f64;
            let w = bit_width(hi - lo);
            let prev_lo = if i == 0 { 0 } else { s[groups[i - 1].0] };
            let header = f64::from(8 * (varint_len(lo - prev_lo) + 2) + 8);
            let cost = best[i] + c * (f64::from(w) + log_m - log2_of(end - st)) + header;
            if cost < best[j] {
                best[j] = cost;
                from[j] = i;
            }
            // Wider than any sensible bin: stop growing it.
            if w == 64 {
                break;
            }
        }
    }
    let mut bins = Vec::new();
    let mut j = g;
    let mut header_bits = 0.0;
    while j > 0 {
        let i = from[j];
        let (st, _) = groups[i];
        let (_, end) = groups[j - 1];
        bins.push(SampleBin {
            lower: s[st],
            width: bit_width(s[end - 1] - s[st]),
            count: end - st,
        });
        j = i;
    }
    bins.reverse();
    let mut prev = 0;
    let mut data_bits = 0.0;
    for b in &bins {
        header_bits += f64::from(8 * (varint_len(b.lower - prev) + 2) + 8);
        prev = b.lower;
        let c = b.count as f64;
        data_bits += c * (f64::from(b.width) + (mf / c).log2());
    }
    (bins, data_bits, header_bits)
}

/// `log2(c)`, from a table for the counts a sample can have.
fn log2_of(c: usize) -> f64 {
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| (0..=2 * SAMPLE).map(|i| (i as f64).log2()).collect());
    t.get(c).copied().unwrap_or_else(|| (c as f64).log2())
}

/// Up to [`SAMPLE`] latents spread over `xs` (all of them if few).
fn sample_of(xs: &[u64]) -> Vec<u64> {
    if xs.len() <= SAMPLE {
        return xs.to_vec();
    }
    let step = xs.len() as f64 / SAMPLE as f64;
    (0..SAMPLE)
        .map(|i| xs[((i as f64 * step) as usize).min(xs.len() - 1)])
        .collect()
}

/// Patched frame of reference for `q`s with these bit-width counts: the
/// width minimising `n * width + exceptions`, and that cost in bits.
fn for_plan(hist: &[usize; 65]) -> (u32, f64) {
    let n: usize = hist.iter().sum();
    let mut wider: u64 = hist
        .iter()
        .enumerate()
        .map(|(b, &c)| c as u64 * exception_bits(b as u32))
        .sum();
    let mut best = (0u32, f64::INFINITY);
    for (w, &c) in hist.iter().enumerate() {
        wider -= c as u64 * exception_bits(w as u32);
        let cost = (w * n) as f64 + wider as f64;
        if cost < best.1 {
            best = (w as u32, cost);
        }
    }
    best
}

fn width_hist(q: &[u64]) -> [usize; 65] {
    let mut hist = [0usize; 65];
    for &x in q {
        hist[bit_width(x) as usize] += 1;
    }
    hist
}

/// The two kinds' estimates for `n` latents from a sorted sample of their
/// `q`s: `(ans_bits, for_bits)`.
fn estimates(sorted: &[u64], n: usize, base: u64, g: u64) -> (f64, f64, Vec<SampleBin>) {
    let scale = n as f64 / sorted.len().max(1) as f64;
    let fixed = 8.0 * f64::from(2 + varint_len(base) + varint_len(g));
    let (bins, data, header) = choose_bins(sorted);
    let ans = data * scale + header + fixed + 8.0 * (PADDING + 8) as f64;
    let (_, for_cost) = for_plan(&width_hist(sorted));
    (ans, for_cost * scale + fixed + 16.0, bins)
}

/// Whether binned tANS is worth its slower decode for `n` latents: it must
/// save [`ANS_MIN_GAIN`] of the size and at least 1/32 bit per value.
fn prefer_ans(ans: f64, for_bits: f64, n: usize) -> bool {
    ans * (1.0 + ANS_MIN_GAIN) + n as f64 / 32.0 < for_bits
}

/// Estimated encoded size in bits of a column of `n` latents, from `sample`
/// (latents of the same column, consecutive or spread; modified).
pub(crate) fn estimate_bits(sample: &mut [u64], n: usize) -> f64 {
    if sample.is_empty() || n == 0 {
        return 8.0;
    }
    let (base, g) = base_and_gcd(sample);
    for x in sample.iter_mut() {
        *x = (*x - base) / g;
    }
    sample.sort_unstable();
    let (ans, for_bits, _) = estimates(sample, n, base, g);
    if prefer_ans(ans, for_bits, n) {
        ans
    } else {
        for_bits
    }
}

/// Appends a patched frame-of-reference column of the `q`s.
fn encode_for(q: &[u64], base: u64, g: u64, out: &mut Vec<u8>) {
    let (width, _) = for_plan(&width_hist(q));
    let limit = low_mask(width);
    let mut packed = Vec::with_capacity(q.len());
    let mut exc = Vec::new();
    for (i, &x) in q.iter().enumerate() {
        if x > limit {
            exc.push((i as u16, x));
            packed.push(0);
        } else {
            packed.push(x);
        }
    }
    out.push(KIND_FOR);
    put_uvarint(out, base);
    put_uvarint(out, g);
    out.push(width as u8);
    put_uvarint(out, exc.len() as u64);
    crate::bitpack::pack(&packed, width, out);
    for &(p, _) in &exc {
        out.extend_from_slice(&p.to_le_bytes());
    }
    for &(_, x) in &exc {
        put_uvarint(out, x);
    }
}

/// LSB-first bit writer.
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    nbits: u32,
}

impl BitWriter {
    #[inline]
    fn put32(&mut self, v: u64, nb: u32) {
        debug_assert!(nb <= 32 && (nb == 64 || v >> nb == 0));
        self.acc |= v << self.nbits;
        self.nbits += nb;
        if self.nbits >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.nbits -= 32;
        }
    }

    #[inline]
    fn put(&mut self, v: u64, nb: u32) {
        if nb > 32 {
            self.put32(v & 0xFFFF_FFFF, 32);
            self.put32(v >> 32, nb - 32);
        } else {
            self.put32(v, nb);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        let tail = self.nbits.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.acc.to_le_bytes()[..tail]);
        self.out.extend_from_slice(&[0; PADDING]);
        self.out
    }
}

#[inline]
fn low_mask(nb: u32) -> u64 {
    if nb >= 64 { u64::MAX } else { (1u64 << nb) - 1 }
}

fn floor_log2(x: u32) -> u32 {
    x.ilog2()
}

/// Frequencies summing to `2^log` (each at least 1) from `counts`.
fn normalize(counts: &[usize], log: u32) -> Vec<u32> {
    let l = 1u64 << log;
    let n: u64 = counts.iter().map(|&c| c as u64).sum();
    let mut f: Vec<u32> = counts
        .iter()
        .map(|&c| ((c as u64 * l + n / 2) / n).max(1) as u32)
        .collect();
    let mut sum: i64 = f.iter().map(|&x| i64::from(x)).sum();
    while sum != l as i64 {
        // Adjust the largest frequency (the relative change is smallest there).
        let (k, _) = f
            .iter()
            .enumerate()
            .max_by_key(|&(_, &x)| x)
            .expect("at least one bin");
        if sum < l as i64 {
            f[k] += (l as i64 - sum) as u32;
            sum = l as i64;
        } else {
            let take = (sum - l as i64).min(i64::from(f[k]) - 1);
            f[k] -= take as u32;
            sum -= take;
        }
    }
    f
}

/// The order in which table slots are dealt to symbols (FSE's spread).
fn spread(freqs: &[u32], log: u32) -> Vec<u8> {
    let l = 1usize << log;
    let mask = l - 1;
    let step = ((l >> 1) + (l >> 3) + 3) | 1;
    let mut table = vec![0u8; l];
    let mut pos = 0usize;
    for (s, &f) in freqs.iter().enumerate() {
        for _ in 0..f {
            table[pos] = s as u8;
            pos = (pos + step) & mask;
        }
    }
    table
}

fn table_log_for(bins: usize, n: usize) -> u32 {
    if bins <= 1 {
        return 0;
    }
    let need = bit_width(bins as u64 - 1) + 1;
    let want = bit_width(n.max(2) as u64 - 1);
    need.max(want).min(MAX_TABLE_LOG)
}

/// Assigns every `q` to a bin (the first bin's lower moved to 0 so that all
/// fit); returns the lowers, each value's bin, each bin's largest offset and
/// its count.
fn assign(sbins: &[SampleBin], q: &[u64]) -> (Vec<u64>, Vec<u8>, Vec<u64>, Vec<usize>) {
    let mut lowers: Vec<u64> = sbins.iter().map(|b| b.lower).collect();
    lowers.truncate(MAX_BINS);
    lowers[0] = 0;
    let nb = lowers.len();
    let mut syms = Vec::with_capacity(q.len());
    let mut maxes = vec![0u64; nb];
    let mut counts = vec![0usize; nb];
    for &x in q {
        let b = lowers.partition_point(|&lo| lo <= x) - 1;
        syms.push(b as u8);
        maxes[b] = maxes[b].max(x - lowers[b]);
        counts[b] += 1;
    }
    (lowers, syms, maxes, counts)
}

/// Appends the encoded column of `xs`.
pub(crate) fn encode(mut q: Vec<u64>, out: &mut Vec<u8>) {
    if q.is_empty() {
        out.push(KIND_EMPTY);
        return;
    }
    let (base, g) = base_and_gcd(&q);
    if g == 1 {
        for x in &mut q {
            *x -= base;
        }
    } else {
        for x in &mut q {
            *x = (*x - base) / g;
        }
    }
    let mut sample = sample_of(&q);
    sample.sort_unstable();
    let (ans, for_bits, mut sbins) = estimates(&sample, q.len(), base, g);
    if !prefer_ans(ans, for_bits, q.len()) {
        encode_for(&q, base, g, out);
        return;
    }
    // Assign bins; widths cover each bin's largest member.
    let (mut lowers, mut syms, mut maxes, mut counts) = assign(&sbins, &q);
    // A strided sample can miss rare outliers, which would widen a bin for
    // every value: if a bin grew wider than on the sample, add the values
    // beyond their sample bin to the sample and choose again.
    if sample.len() < q.len() && (0..lowers.len()).any(|b| bit_width(maxes[b]) > sbins[b].width) {
        let extra = q.iter().zip(&syms).filter(|&(&x, &b)| {
            let b = usize::from(b);
            x - lowers[b] > low_mask(sbins[b].width)
        });
        sample.extend(extra.map(|(&x, _)| x));
        sample.sort_unstable();
        sbins = choose_bins(&sample).0;
        (lowers, syms, maxes, counts) = assign(&sbins, &q);
    }
    let nb = lowers.len();
    // Drop empty bins (a sample may have seen values the column lacks: not
    // possible for a sample of it, but keep the format invariant simple).
    let keep: Vec<usize> = (0..nb).filter(|&b| counts[b] > 0).collect();
    let mut remap = vec![0u8; nb];
    for (k, &b) in keep.iter().enumerate() {
        remap[b] = k as u8;
    }
    for s in &mut syms {
        *s = remap[*s as usize];
    }
    let lowers: Vec<u64> = keep.iter().map(|&b| lowers[b]).collect();
    let widths: Vec<u32> = keep.iter().map(|&b| bit_width(maxes[b])).collect();
    let counts: Vec<usize> = keep.iter().map(|&b| counts[b]).collect();
    let log = table_log_for(lowers.len(), q.len());
    let freqs = normalize(&counts, log);

    // Encoder table: for symbol s, its f_s states in spread order.
    let l = 1u32 << log;
    let spread = spread(&freqs, log);
    let mut cum = vec![0u32; freqs.len() + 1];
    for (s, &f) in freqs.iter().enumerate() {
        cum[s + 1] = cum[s] + f;
    }
    let mut next = cum.clone();
    let mut enc = vec![0u32; l as usize];
    for (x, &s) in spread.iter().enumerate() {
        enc[next[s as usize] as usize] = l + x as u32;
        next[s as usize] += 1;
    }
    // Encode backwards, recording each value's refill bits.
    let mut states = [l; STATES];
    let mut refill: Vec<(u32, u8)> = vec![(0, 0); q.len()];
    for i in (0..q.len()).rev() {
        let s = syms[i] as usize;
        let f = freqs[s];
        let x = states[i % STATES];
        let k = log - floor_log2(f);
        let nbits = if (x >> k) < f { k - 1 } else { k };
        refill[i] = (x & ((1 << nbits) - 1), nbits as u8);
        states[i % STATES] = enc[(cum[s] + (x >> nbits) - f) as usize];
    }
    let new_writer = |cap| BitWriter {
        out: Vec::with_capacity(cap),
        acc: 0,
        nbits: 0,
    };
    let mut wa = new_writer(q.len() / 2 + PADDING);
    let mut wb = new_writer(q.len() + PADDING);
    for (i, &x) in q.iter().enumerate() {
        let s = syms[i] as usize;
        wa.put(u64::from(refill[i].0), u32::from(refill[i].1));
        wb.put(x - lowers[s], widths[s]);
    }
    let (bits_a, bits_b) = (wa.finish(), wb.finish());

    out.push(KIND_ANS);
    put_uvarint(out, base);
    put_uvarint(out, g);
    put_uvarint(out, lowers.len() as u64);
    out.push(log as u8);
    let mut prev = 0;
    for ((&f, &lo), &wd) in freqs.iter().zip(&lowers).zip(&widths) {
        put_uvarint(out, u64::from(f));
        put_uvarint(out, lo - prev);
        prev = lo;
        out.push(wd as u8);
    }
    for s in states {
        put_uvarint(out, u64::from(s - l));
    }
    for bits in [bits_a, bits_b] {
        put_uvarint(out, bits.len() as u64);
        out.extend_from_slice(&bits);
    }
}

/// One decode-table slot: the bin, the refill bit count and mask, and the
/// next state's base.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    base: u16,
    mask: u16,
    nbits: u8,
    sym: u8,
}

/// The ANS part of a [`Reader`].
struct Ans<'a> {
    /// ANS refill bits and read position.
    bits: &'a [u8],
    pos: usize,
    /// Offset bits and read position.
    obits: &'a [u8],
    opos: usize,
    table: Box<[Slot; TABLE_SIZE]>,
    lower: [u64; MAX_BINS],
    omask: [u64; MAX_BINS],
    owidth: [u8; MAX_BINS],
    states: [usize; STATES],
    /// The widest offset.
    max_width: usize,
}

/// The frame-of-reference part of a [`Reader`].
struct For<'a> {
    packed: &'a [u8],
    width: u32,
    /// Exceptions `(position, q)`, by position.
    exc: Vec<(usize, u64)>,
    next_exc: usize,
}

enum Kind<'a> {
    Empty,
    Ans(Box<Ans<'a>>),
    For(For<'a>),
}

/// A column constant but for its exceptions: `(base, g, [(position, q)])`.
pub(crate) type Constant<'e> = (u64, u64, &'e [(usize, u64)]);

/// Streaming decoder of one latent column.
pub(crate) struct Reader<'a> {
    kind: Kind<'a>,
    base: u64,
    gcd: u64,
    left: usize,
    done: usize,
}

#[inline(always)]
fn peek(bits: &[u8], pos: usize) -> Result<u64> {
    let at = pos >> 3;
    match bits.get(at..at + 8) {
        Some(s) => {
            let mut a = [0u8; 8];
            a.copy_from_slice(s);
            Ok(u64::from_le_bytes(a) >> (pos & 7))
        }
        None => Err(Error::Truncated("pack: latent bitstream")),
    }
}

/// `peek` for a position the caller has proven to be in range.
#[inline(always)]
fn peek_in(bits: &[u8], pos: usize) -> u64 {
    let at = pos >> 3;
    let mut a = [0u8; 8];
    a.copy_from_slice(&bits[at..at + 8]);
    u64::from_le_bytes(a) >> (pos & 7)
}

/// `w` bits at bit `pos` of a bit-packed stream (no padding after it).
fn bits_at(src: &[u8], pos: usize, w: u32) -> Result<u64> {
    let mut v = 0u64;
    for k in 0..w as usize {
        let p = pos + k;
        let byte = src
            .get(p >> 3)
            .ok_or(Error::Truncated("pack: packed latents"))?;
        v |= u64::from((byte >> (p & 7)) & 1) << k;
    }
    Ok(v)
}

impl<'a> Reader<'a> {
    /// Reads the column header of `n` latents.
    pub(crate) fn new(r: &mut ByteReader<'a>, n: usize) -> Result<Self> {
        let kind = r.u8("pack: latent kind")?;
        let mut rd = Reader {
            kind: Kind::Empty,
            base: 0,
            gcd: 1,
            left: n,
            done: 0,
        };
        if kind == KIND_EMPTY {
            return if n == 0 {
                Ok(rd)
            } else {
                Err(Error::Corrupt("pack: empty latent column for values"))
            };
        }
        rd.base = r.uvarint("pack: latent base")?;
        rd.gcd = r.uvarint("pack: latent gcd")?;
        if rd.gcd == 0 {
            return Err(Error::Corrupt("pack: zero gcd"));
        }
        rd.kind = match kind {
            KIND_ANS => Kind::Ans(Box::new(Self::ans(r)?)),
            KIND_FOR => Kind::For(Self::for_(r, n)?),
            _ => return Err(Error::Corrupt("pack: unknown latent kind")),
        };
        Ok(rd)
    }

    fn for_(r: &mut ByteReader<'a>, n: usize) -> Result<For<'a>> {
        let width = u32::from(r.u8("pack: frame width")?);
        if width > 64 {
            return Err(Error::Corrupt("pack: frame width above 64"));
        }
        let count = r.uvarint("pack: exception count")?;
        if count > n as u64 {
            return Err(Error::Corrupt("pack: more exceptions than latents"));
        }
        let count = count as usize;
        let packed = r.take(crate::bitpack::packed_len(n, width), "pack: packed latents")?;
        if count * 3 > r.remaining() {
            return Err(Error::Truncated("pack: latent exceptions"));
        }
        let pos = r.take(2 * count, "pack: exception positions")?;
        let mut exc = Vec::with_capacity(count);
        let mut last = None;
        for p in pos.chunks_exact(2) {
            let p = usize::from(u16::from_le_bytes([p[0], p[1]]));
            if p >= n || last.is_some_and(|l| p <= l) {
                return Err(Error::Corrupt("pack: exception positions out of order"));
            }
            last = Some(p);
            exc.push((p, r.uvarint("pack: exception value")?));
        }
        Ok(For {
            packed,
            width,
            exc,
            next_exc: 0,
        })
    }

    fn ans(r: &mut ByteReader<'a>) -> Result<Ans<'a>> {
        let bins = r.uvarint("pack: bin count")?;
        if bins == 0 || bins > MAX_BINS as u64 {
            return Err(Error::Corrupt("pack: bin count out of range"));
        }
        let bins = bins as usize;
        let log = u32::from(r.u8("pack: table log")?);
        if log > MAX_TABLE_LOG || (1usize << log) < bins {
            return Err(Error::Corrupt("pack: table log out of range"));
        }
        let l = 1usize << log;
        let mut a = Ans {
            bits: &[],
            pos: 0,
            obits: &[],
            opos: 0,
            table: Box::new([Slot::default(); TABLE_SIZE]),
            lower: [0; MAX_BINS],
            omask: [0; MAX_BINS],
            owidth: [0; MAX_BINS],
            states: [0; STATES],
            max_width: 0,
        };
        let mut freqs = Vec::with_capacity(bins);
        let mut sum = 0u64;
        let mut lower = 0u64;
        let mut widest = 0u32;
        for b in 0..bins {
            let f = r.uvarint("pack: bin frequency")?;
            if f == 0 || f > l as u64 {
                return Err(Error::Corrupt("pack: bin frequency out of range"));
            }
            sum += f;
            freqs.push(f as u32);
            lower = lower.wrapping_add(r.uvarint("pack: bin lower")?);
            let w = u32::from(r.u8("pack: bin width")?);
            if w > 64 {
                return Err(Error::Corrupt("pack: bin width above 64"));
            }
            widest = widest.max(w);
            a.lower[b] = lower;
            a.omask[b] = low_mask(w);
            a.owidth[b] = w as u8;
        }
        if sum != l as u64 {
            return Err(Error::Corrupt(
                "pack: bin frequencies do not fill the table",
            ));
        }
        a.max_width = widest as usize;
        let spread = spread(&freqs, log);
        let mut next = freqs.clone();
        for (x, &s) in spread.iter().enumerate() {
            let nx = next[s as usize];
            next[s as usize] += 1;
            let nbits = log - floor_log2(nx);
            a.table[x] = Slot {
                base: ((nx << nbits) - l as u32) as u16,
                mask: ((1u32 << nbits) - 1) as u16,
                nbits: nbits as u8,
                sym: s,
            };
        }
        for s in &mut a.states {
            let v = r.uvarint("pack: ans state")?;
            if v >= l as u64 {
                return Err(Error::Corrupt("pack: ans state out of range"));
            }
            *s = v as usize;
        }
        let mut streams = [&[][..]; 2];
        for st in &mut streams {
            let len = r.uvarint("pack: bitstream length")?;
            if len < PADDING as u64 || len > r.remaining() as u64 {
                return Err(Error::Truncated("pack: latent bitstream"));
            }
            *st = r.take(len as usize, "pack: latent bitstream")?;
        }
        [a.bits, a.obits] = streams;
        Ok(a)
    }

    /// For a column that is constant but for its exceptions (a frame of
    /// reference of width 0, nothing read yet): the common value, the
    /// divisor and the exceptions `(position, q)` with value `base + q * g`.
    pub(crate) fn constant(&self) -> Option<Constant<'_>> {
        match &self.kind {
            Kind::For(f) if f.width == 0 && self.done == 0 => Some((self.base, self.gcd, &f.exc)),
            _ => None,
        }
    }

    /// Decodes the next `out.len()` latents (at most those left).
    pub(crate) fn next(&mut self, out: &mut [u64]) -> Result<()> {
        if out.len() > self.left {
            return Err(Error::Corrupt("pack: reading past the column"));
        }
        if out.is_empty() {
            return Ok(());
        }
        match &mut self.kind {
            Kind::Empty => return Err(Error::Corrupt("pack: reading past the column")),
            Kind::Ans(a) => {
                a.next(out, self.done)?;
                if self.left == out.len()
                    && (a.pos > (a.bits.len() - PADDING) * 8
                        || a.opos > (a.obits.len() - PADDING) * 8)
                {
                    return Err(Error::Corrupt("pack: bitstream overrun"));
                }
            }
            Kind::For(f) => f.next(out, self.done)?,
        }
        self.done += out.len();
        self.left -= out.len();
        let (b, g) = (self.base, self.gcd);
        if g != 1 {
            for o in out.iter_mut() {
                *o = b.wrapping_add(o.wrapping_mul(g));
            }
        } else if b != 0 {
            for o in out.iter_mut() {
                *o = o.wrapping_add(b);
            }
        }
        Ok(())
    }
}

impl For<'_> {
    fn next(&mut self, out: &mut [u64], done: usize) -> Result<()> {
        let w = self.width;
        let start = done * w as usize;
        if start.is_multiple_of(8) {
            let from = start / 8;
            let len = crate::bitpack::packed_len(out.len(), w);
            let src = self
                .packed
                .get(from..from + len)
                .ok_or(Error::Truncated("pack: packed latents"))?;
            crate::bitpack::unpack(src, w, out)?;
        } else {
            for (k, o) in out.iter_mut().enumerate() {
                *o = bits_at(self.packed, start + k * w as usize, w)?;
            }
        }
        let end = done + out.len();
        while let Some(&(p, x)) = self.exc.get(self.next_exc) {
            if p >= end {
                break;
            }
            out[p - done] = x;
            self.next_exc += 1;
        }
        Ok(())
    }
}

impl Ans<'_> {
    fn next(&mut self, out: &mut [u64], done: usize) -> Result<()> {
        let (bits, obits) = (self.bits, self.obits);
        let table = &*self.table;
        let (lower, omask, owidth) = (&self.lower, &self.omask, &self.owidth);
        let (mut pos, mut opos) = (self.pos, self.opos);
        let mut st = self.states;
        let mut k = done % STATES;
        let mut rest: &mut [u64] = out;
        // Realign to state 0.
        while k != 0 && !rest.is_empty() {
            let (o, tail) = rest.split_first_mut().expect("non-empty");
            *o = one(self, &mut st[k], &mut pos, &mut opos)?;
            rest = tail;
            k = (k + 1) % STATES;
        }
        // Four values (four states) at a time: one 64-bit load per stream
        // covers them all (at most 4 x 11 refill bits, 4 x 14 offset bits),
        // and one comparison per stream proves the loads in range.
        let mut done_quads = 0;
        if self.max_width == 0 {
            // Only single-value bins (frequent exact values): no offsets.
            let limit = (bits.len() * 8).saturating_sub(64);
            let [mut s0, mut s1, mut s2, mut s3] = st;
            for q in rest.chunks_exact_mut(STATES) {
                if pos > limit {
                    break;
                }
                let mut a = peek_in(bits, pos);
                macro_rules! step {
                    ($s:ident, $o:expr) => {{
                        let e = table[$s & (TABLE_SIZE - 1)];
                        $s = usize::from(e.base) + (a as usize & usize::from(e.mask));
                        a >>= e.nbits;
                        pos += usize::from(e.nbits);
                        $o = lower[e.sym as usize];
                    }};
                }
                step!(s0, q[0]);
                step!(s1, q[1]);
                step!(s2, q[2]);
                step!(s3, q[3]);
                done_quads += 1;
            }
            st = [s0, s1, s2, s3];
        } else if self.max_width * STATES <= 56 {
            let limit = (bits.len() * 8).saturating_sub(64);
            let olimit = (obits.len() * 8).saturating_sub(64);
            let quad_bits = STATES * MAX_TABLE_LOG as usize;
            let quad_obits = (STATES * self.max_width).max(1);
            let [mut s0, mut s1, mut s2, mut s3] = st;
            let total = rest.len() / STATES;
            // Runs of quads that even at their widest stay inside both
            // streams: no bound check inside a run.
            while done_quads < total {
                let room = (limit.saturating_sub(pos) / quad_bits)
                    .min(olimit.saturating_sub(opos) / quad_obits)
                    .min(total - done_quads);
                if room == 0 {
                    break;
                }
                let run = &mut rest[done_quads * STATES..(done_quads + room) * STATES];
                for q in run.chunks_exact_mut(STATES) {
                    let mut a = peek_in(bits, pos);
                    let mut b = peek_in(obits, opos);
                    macro_rules! step {
                        ($s:ident, $o:expr) => {{
                            let e = table[$s & (TABLE_SIZE - 1)];
                            let sym = e.sym as usize;
                            $s = usize::from(e.base) + (a as usize & usize::from(e.mask));
                            a >>= e.nbits;
                            pos += usize::from(e.nbits);
                            $o = lower[sym].wrapping_add(b & omask[sym]);
                            b >>= owidth[sym];
                            opos += usize::from(owidth[sym]);
                        }};
                    }
                    step!(s0, q[0]);
                    step!(s1, q[1]);
                    step!(s2, q[2]);
                    step!(s3, q[3]);
                }
                done_quads += room;
            }
            st = [s0, s1, s2, s3];
        }
        for (i, o) in rest[done_quads * STATES..].iter_mut().enumerate() {
            *o = one(self, &mut st[i % STATES], &mut pos, &mut opos)?;
        }
        self.pos = pos;
        self.opos = opos;
        self.states = st;
        Ok(())
    }
}

/// One value with checked reads, any widths (two reads for offsets wider
/// than 56 bits).
#[inline(always)]
fn one(a: &Ans<'_>, s: &mut usize, pos: &mut usize, opos: &mut usize) -> Result<u64> {
    let e = a.table[*s & (TABLE_SIZE - 1)];
    let w = peek(a.bits, *pos)?;
    *s = usize::from(e.base) + (w as usize & usize::from(e.mask));
    *pos += usize::from(e.nbits);
    let b = e.sym as usize;
    let ow = a.owidth[b];
    let off = if ow == 0 {
        0
    } else if ow <= 56 {
        peek(a.obits, *opos)?
    } else {
        (peek(a.obits, *opos)? & low_mask(56)) | (peek(a.obits, *opos + 56)? << 56)
    };
    *opos += usize::from(ow);
    Ok(a.lower[b].wrapping_add(off & a.omask[b]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(xs: &[u64]) -> usize {
        let mut out = Vec::new();
        encode(xs.to_vec(), &mut out);
        let mut r = ByteReader::new(&out);
        let mut d = Reader::new(&mut r, xs.len()).unwrap();
        let mut back = vec![0u64; xs.len()];
        // Odd batch sizes exercise the state realignment.
        let mut at = 0;
        for step in [3usize, 1, 7, 1024].iter().cycle() {
            if at == xs.len() {
                break;
            }
            let n = (*step).min(xs.len() - at);
            d.next(&mut back[at..at + n]).unwrap();
            at += n;
        }
        assert_eq!(r.remaining(), 0);
        assert_eq!(back, xs);
        out.len()
    }

    #[test]
    fn round_trips() {
        let mut s = 0x1234_5678_9ABC_DEF0u64;
        let mut rnd = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        rt(&[]);
        rt(&[5]);
        rt(&[u64::MAX, 0, u64::MAX, 1]);
        rt(&vec![7; 3000]);
        let skew: Vec<u64> = (0..5000)
            .map(|_| {
                let r = rnd();
                if r % 10 < 8 { 100 } else { r % 1000 }
            })
            .collect();
        let size = rt(&skew);
        assert!(size < 5000 * 3 / 8, "{size}");
        let wide: Vec<u64> = (0..3001).map(|_| rnd()).collect();
        rt(&wide);
        let mult: Vec<u64> = (0..2000)
            .map(|_| 1_000_000 + (rnd() % 50) * 15_000)
            .collect();
        let size = rt(&mult);
        assert!(size < 2000, "{size}");
    }
}
