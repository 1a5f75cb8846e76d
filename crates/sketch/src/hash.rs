//! MurmurHash3 x64 128-bit, the hash every Apache DataSketches implementation
//! uses (with seed [`DEFAULT_SEED`] = 9001), and the canonical byte forms of
//! the item types DataSketches hashes.

/// The DataSketches default update seed.
pub const DEFAULT_SEED: u64 = 9001;

const C1: u64 = 0x87c3_7b91_1142_53d5;
const C2: u64 = 0x4cf5_ad43_2745_937f;

#[inline]
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

#[inline]
fn mix_k1(k1: u64) -> u64 {
    k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2)
}

#[inline]
fn mix_k2(k2: u64) -> u64 {
    k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1)
}

#[inline]
fn finish(mut h1: u64, mut h2: u64, len: u64) -> (u64, u64) {
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix64(h1);
    h2 = fmix64(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (h1, h2)
}

/// MurmurHash3 x64 128 of `data` with `seed`; returns `(h1, h2)`.
///
/// ```
/// // Reference value of the public algorithm (seed 0, empty input).
/// assert_eq!(blocksmith_sketch::hash::murmur3_x64_128(b"", 0), (0, 0));
/// ```
pub fn murmur3_x64_128(data: &[u8], seed: u64) -> (u64, u64) {
    let mut h1 = seed;
    let mut h2 = seed;
    let mut blocks = data.chunks_exact(16);
    for b in &mut blocks {
        let k1 = u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
        let k2 = u64::from_le_bytes(b[8..].try_into().unwrap_or([0; 8]));
        h1 ^= mix_k1(k1);
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        h2 ^= mix_k2(k2);
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    let mut k1 = 0u64;
    let mut k2 = 0u64;
    for (i, &byte) in tail.iter().enumerate() {
        if i < 8 {
            k1 |= u64::from(byte) << (8 * i);
        } else {
            k2 |= u64::from(byte) << (8 * (i - 8));
        }
    }
    if tail.len() > 8 {
        h2 ^= mix_k2(k2);
    }
    if !tail.is_empty() {
        h1 ^= mix_k1(k1);
    }
    finish(h1, h2, data.len() as u64)
}

/// MurmurHash3 x64 128 of one little-endian `u64` (the bytes DataSketches
/// hashes for an integer item), without going through a byte slice.
#[inline]
pub fn murmur3_u64(value: u64, seed: u64) -> (u64, u64) {
    let h1 = seed ^ mix_k1(value);
    finish(h1, seed, 8)
}

/// An item DataSketches-compatible sketches can hash, reduced to the bytes
/// Apache DataSketches (Java, C++, Python) hashes for the same value, so that
/// the same item counts once across implementations.
///
/// Integers hash as 8-byte little-endian `i64`/`u64`; floats as the 8 bytes of
/// an `f64` with `-0.0` folded into `0.0` and every NaN into the canonical NaN;
/// strings as their UTF-8 bytes (the empty string is ignored, as DataSketches
/// does); byte slices as themselves (empty ignored).
pub trait SketchItem {
    /// Hashes the item with `seed`; `None` for items DataSketches ignores.
    fn hash128(&self, seed: u64) -> Option<(u64, u64)>;
}

macro_rules! int_item {
    ($($t:ty),*) => {$(
        impl SketchItem for $t {
            #[inline]
            fn hash128(&self, seed: u64) -> Option<(u64, u64)> {
                Some(murmur3_u64(i64::from(*self) as u64, seed))
            }
        }
    )*};
}
int_item!(i8, i16, i32, i64, u8, u16, u32);

impl SketchItem for u64 {
    #[inline]
    fn hash128(&self, seed: u64) -> Option<(u64, u64)> {
        Some(murmur3_u64(*self, seed))
    }
}

impl SketchItem for f64 {
    fn hash128(&self, seed: u64) -> Option<(u64, u64)> {
        let v = if *self == 0.0 {
            0.0
        } else if self.is_nan() {
            f64::NAN
        } else {
            *self
        };
        // Canonical NaN: 0x7ff8000000000000 as Java's doubleToLongBits.
        let bits = if v.is_nan() {
            0x7ff8_0000_0000_0000
        } else {
            v.to_bits()
        };
        Some(murmur3_u64(bits, seed))
    }
}

impl SketchItem for f32 {
    fn hash128(&self, seed: u64) -> Option<(u64, u64)> {
        f64::from(*self).hash128(seed)
    }
}

impl SketchItem for str {
    fn hash128(&self, seed: u64) -> Option<(u64, u64)> {
        self.as_bytes().hash128(seed)
    }
}

impl SketchItem for String {
    fn hash128(&self, seed: u64) -> Option<(u64, u64)> {
        self.as_bytes().hash128(seed)
    }
}

impl SketchItem for [u8] {
    fn hash128(&self, seed: u64) -> Option<(u64, u64)> {
        if self.is_empty() {
            None
        } else {
            Some(murmur3_x64_128(self, seed))
        }
    }
}

impl SketchItem for Vec<u8> {
    fn hash128(&self, seed: u64) -> Option<(u64, u64)> {
        self.as_slice().hash128(seed)
    }
}

impl<T: SketchItem + ?Sized> SketchItem for &T {
    #[inline]
    fn hash128(&self, seed: u64) -> Option<(u64, u64)> {
        (**self).hash128(seed)
    }
}

/// The 16-bit seed hash DataSketches stores in Theta sketches to refuse
/// mixing sketches built with different seeds.
pub fn seed_hash(seed: u64) -> u16 {
    (murmur3_u64(seed, 0).0 & 0xffff) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u64_fast_path_matches_bytes() {
        for v in [0u64, 1, 42, u64::MAX, 0x1234_5678_9abc_def0] {
            assert_eq!(
                murmur3_u64(v, 9001),
                murmur3_x64_128(&v.to_le_bytes(), 9001)
            );
        }
    }

    #[test]
    fn known_vector() {
        // Widely published value: MurmurHash3_x64_128("hello", seed 0).
        let (h1, h2) = murmur3_x64_128(b"hello", 0);
        assert_eq!(h1, 0xcbd8_a7b3_41bd_9b02);
        assert_eq!(h2, 0x5b1e_906a_48ae_1d19);
    }

    #[test]
    fn seed_hash_of_default_seed() {
        assert_eq!(seed_hash(DEFAULT_SEED), 0x93cc);
    }
}
