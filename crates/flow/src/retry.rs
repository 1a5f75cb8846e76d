//! Retry policies for steps: exponential backoff with jitter, a cap on
//! attempts, and error classes that are never retried.

use serde::{Deserialize, Serialize};

/// How a failed step is retried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Delay before the second attempt, in milliseconds.
    pub initial_interval_ms: u64,
    /// Each delay is the previous one times this (at least 1).
    pub backoff_coefficient: f64,
    /// No delay is longer than this, in milliseconds.
    pub maximum_interval_ms: u64,
    /// Attempts in all, the first one included (at least 1).
    pub maximum_attempts: u32,
    /// Share of each delay drawn at random, 0 to 1 (0.2: the delay is
    /// between 80% and 120% of its nominal value). The draw is a hash of
    /// the step's idempotency key, so it is reproducible.
    pub jitter: f64,
    /// Error classes ([`crate::StepError::class`]) never retried.
    pub non_retryable: Vec<String>,
}

impl Default for RetryPolicy {
    /// 1 s, doubling, at most 60 s apart, 5 attempts, 20% jitter.
    fn default() -> Self {
        RetryPolicy {
            initial_interval_ms: 1_000,
            backoff_coefficient: 2.0,
            maximum_interval_ms: 60_000,
            maximum_attempts: 5,
            jitter: 0.2,
            non_retryable: Vec::new(),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub fn none() -> Self {
        RetryPolicy {
            maximum_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// Sets the first delay.
    #[must_use]
    pub fn with_initial_interval_ms(mut self, ms: u64) -> Self {
        self.initial_interval_ms = ms;
        self
    }

    /// Sets the backoff coefficient.
    #[must_use]
    pub fn with_backoff_coefficient(mut self, c: f64) -> Self {
        self.backoff_coefficient = c;
        self
    }

    /// Sets the longest delay.
    #[must_use]
    pub fn with_maximum_interval_ms(mut self, ms: u64) -> Self {
        self.maximum_interval_ms = ms;
        self
    }

    /// Sets the number of attempts, the first included.
    #[must_use]
    pub fn with_maximum_attempts(mut self, n: u32) -> Self {
        self.maximum_attempts = n.max(1);
        self
    }

    /// Sets the jitter share (clamped to 0..=1).
    #[must_use]
    pub fn with_jitter(mut self, j: f64) -> Self {
        self.jitter = j;
        self
    }

    /// Adds an error class that is never retried.
    #[must_use]
    pub fn with_non_retryable(mut self, class: impl Into<String>) -> Self {
        self.non_retryable.push(class.into());
        self
    }

    /// Whether a failure of `class` at attempt `attempt` (1-based) is
    /// retried.
    pub fn retries(&self, class: &str, retryable: bool, attempt: u32) -> bool {
        retryable
            && attempt < self.maximum_attempts.max(1)
            && !self.non_retryable.iter().any(|c| c == class)
    }

    /// The delay after failed attempt `attempt` (1-based), with the jitter
    /// drawn from `seed`.
    pub fn delay_ms(&self, attempt: u32, seed: &str) -> u64 {
        let coefficient = if self.backoff_coefficient.is_finite() {
            self.backoff_coefficient.max(1.0)
        } else {
            1.0
        };
        let exp = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let nominal = (self.initial_interval_ms as f64 * coefficient.powi(exp))
            .min(self.maximum_interval_ms as f64)
            .max(0.0);
        let jitter = if self.jitter.is_finite() {
            self.jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        // A uniform draw in [-1, 1] from the seed.
        let h = crc32fast::hash(seed.as_bytes());
        let u = f64::from(h) / f64::from(u32::MAX) * 2.0 - 1.0;
        let d = nominal * (1.0 + jitter * u);
        if d.is_finite() && d > 0.0 {
            d.min(u64::MAX as f64) as u64
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_caps_and_jitters_reproducibly() {
        let p = RetryPolicy::default().with_jitter(0.0);
        assert_eq!(p.delay_ms(1, "k"), 1_000);
        assert_eq!(p.delay_ms(2, "k"), 2_000);
        assert_eq!(p.delay_ms(3, "k"), 4_000);
        assert_eq!(p.delay_ms(30, "k"), 60_000);
        let j = RetryPolicy::default();
        let d = j.delay_ms(2, "some/key#2");
        assert!((1_600..=2_400).contains(&d), "{d}");
        assert_eq!(d, j.delay_ms(2, "some/key#2"));
        assert!(j.retries("io", true, 4));
        assert!(!j.retries("io", true, 5));
        assert!(!j.retries("io", false, 1));
        assert!(
            !j.clone()
                .with_non_retryable("card_declined")
                .retries("card_declined", true, 1)
        );
    }

    #[test]
    fn hostile_policies_never_panic() {
        let p = RetryPolicy::default()
            .with_backoff_coefficient(f64::NAN)
            .with_jitter(f64::INFINITY)
            .with_maximum_interval_ms(u64::MAX)
            .with_initial_interval_ms(u64::MAX);
        for a in [0, 1, 2, u32::MAX] {
            let _ = p.delay_ms(a, "x");
        }
    }
}
