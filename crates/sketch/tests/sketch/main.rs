//! Integration tests of blocksmith-sketch: cross-implementation fixtures,
//! statistical error bounds (fixed seeds, deterministic), round trips and
//! hostile bytes, windowed aggregation with checkpoints, experiment
//! statistics against scipy.

// Identical estimates across implementations and round trips are the point:
// floats are compared exactly on purpose.
#![allow(clippy::float_cmp)]

mod compat;
mod crash;
mod experiment;
mod frequency;
mod hll;
mod quantiles;
mod theta;
mod window;

/// Deterministic xorshift64* generator for the statistical tests.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}
