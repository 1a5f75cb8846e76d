//! Password hashing: Argon2id with stored, versioned parameters.
//!
//! The vault stores the parameters it was created with (algorithm, version,
//! memory, passes, lanes) next to the salt, so they can be raised later
//! (`Vault::change_password` takes new ones) without breaking old vaults.
//! Unlocking refuses parameters outside a [`KdfPolicy`]: below its floor (a
//! hostile store downgrading the cost to make the derived keys cheap to
//! brute-force) or above its ceiling (a hostile store asking for 1 TiB).

use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Argon2id parameters (version 0x13).
///
/// [`KdfParams::default`] is RFC 9106's second recommended option (64 MiB,
/// 3 passes, 4 lanes), which is also above every OWASP configuration. Tests
/// and demos use [`KdfParams::new`] with small values; check a choice with
/// [`KdfParams::meets_recommendations`], or pick one for a time budget with
/// [`KdfParams::calibrate`].
///
/// ```
/// use blocksmith_vault::KdfParams;
/// let p = KdfParams::default();
/// assert_eq!((p.memory_kib, p.iterations, p.parallelism), (65536, 3, 4));
/// assert!(p.meets_rfc9106() && p.meets_owasp());
/// assert!(!KdfParams::new(64, 1, 1).meets_recommendations());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct KdfParams {
    /// Memory in KiB (Argon2 `m`).
    pub memory_kib: u32,
    /// Passes over memory (Argon2 `t`).
    pub iterations: u32,
    /// Lanes (Argon2 `p`). This implementation computes lanes sequentially;
    /// the value still changes the result and must be kept.
    pub parallelism: u32,
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::RFC9106_SECOND
    }
}

impl KdfParams {
    /// RFC 9106 section 4, second recommended option: 64 MiB, t=3, p=4.
    pub const RFC9106_SECOND: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 4,
    };

    /// OWASP Password Storage Cheat Sheet's lowest Argon2id configuration:
    /// 19 MiB, t=2, p=1.
    pub const OWASP_MINIMUM: KdfParams = KdfParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// OWASP's equivalent (memory KiB, passes) pairs, all with one lane.
    pub const OWASP_CONFIGS: [(u32, u32); 5] = [
        (47_104, 1),
        (19_456, 2),
        (12_288, 3),
        (9_216, 4),
        (7_168, 5),
    ];

    /// Explicit parameters (validated when used).
    pub const fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Self {
        KdfParams {
            memory_kib,
            iterations,
            parallelism,
        }
    }

    /// Sets the memory in KiB.
    #[must_use]
    pub fn with_memory_kib(mut self, m: u32) -> Self {
        self.memory_kib = m;
        self
    }

    /// Sets the number of passes.
    #[must_use]
    pub fn with_iterations(mut self, t: u32) -> Self {
        self.iterations = t;
        self
    }

    /// Sets the number of lanes.
    #[must_use]
    pub fn with_parallelism(mut self, p: u32) -> Self {
        self.parallelism = p;
        self
    }

    /// Checks Argon2's own limits: `t >= 1`, `1 <= p < 2^24`, `m >= 8p`.
    ///
    /// # Errors
    /// [`Error::KdfParams`] naming the first limit broken.
    pub fn validate(&self) -> Result<()> {
        if self.iterations == 0 {
            return Err(Error::KdfParams("iterations must be at least 1".into()));
        }
        if self.parallelism == 0 || self.parallelism > 0x00FF_FFFF {
            return Err(Error::KdfParams("parallelism must be 1..2^24".into()));
        }
        if u64::from(self.memory_kib) < 8 * u64::from(self.parallelism) {
            return Err(Error::KdfParams(
                "memory must be at least 8 KiB per lane".into(),
            ));
        }
        Ok(())
    }

    /// At or above one of RFC 9106's recommended options (section 4):
    /// 2 GiB with t>=1, or 64 MiB with t>=3.
    pub fn meets_rfc9106(&self) -> bool {
        (self.memory_kib >= 2 * 1024 * 1024 && self.iterations >= 1)
            || (self.memory_kib >= 64 * 1024 && self.iterations >= 3)
    }

    /// At or above one of OWASP's Argon2id configurations
    /// ([`KdfParams::OWASP_CONFIGS`]).
    pub fn meets_owasp(&self) -> bool {
        Self::OWASP_CONFIGS
            .iter()
            .any(|&(m, t)| self.memory_kib >= m && self.iterations >= t)
    }

    /// Both [`KdfParams::meets_rfc9106`] and [`KdfParams::meets_owasp`].
    pub fn meets_recommendations(&self) -> bool {
        self.meets_rfc9106() && self.meets_owasp()
    }

    /// Picks parameters whose derivation takes about `target` on this
    /// machine, starting from the defaults (64 MiB, 4 lanes): it times one
    /// pass, then uses as many passes as fit in `target`; if even one pass is
    /// too slow it lowers the memory instead. It runs Argon2 (one pass at
    /// 64 MiB: tens of milliseconds in release builds), so call it once at
    /// setup, not per login. The result may fall below the recommendations
    /// for a small target: check [`KdfParams::meets_recommendations`].
    ///
    /// # Errors
    /// As [`KdfParams::calibrate_from`]; the defaults pass its checks, so in
    /// practice none.
    ///
    /// ```no_run
    /// use blocksmith_vault::KdfParams;
    /// let params = KdfParams::calibrate(std::time::Duration::from_millis(500))?;
    /// assert!(params.meets_recommendations());
    /// # Ok::<(), blocksmith_vault::Error>(())
    /// ```
    pub fn calibrate(target: Duration) -> Result<KdfParams> {
        Self::calibrate_from(KdfParams::default(), target)
    }

    /// [`KdfParams::calibrate`] starting from `base` (its memory and lanes).
    ///
    /// # Errors
    /// [`Error::KdfParams`] if `base` breaks Argon2's limits
    /// ([`KdfParams::validate`]).
    pub fn calibrate_from(base: KdfParams, target: Duration) -> Result<KdfParams> {
        base.validate()?;
        let one = base.with_iterations(1);
        let mut out = [0u8; 32];
        let start = Instant::now();
        argon2id(
            &one,
            b"calibration password",
            &[0u8; 16],
            &[],
            &[],
            &mut out,
        )?;
        let per_pass = start.elapsed().as_secs_f64().max(1e-9);
        let ratio = target.as_secs_f64() / per_pass;
        if ratio >= 1.0 {
            let t = ratio.floor().min(f64::from(u32::MAX)) as u32;
            Ok(one.with_iterations(t.max(1)))
        } else {
            let floor = 8 * base.parallelism;
            let m = (f64::from(base.memory_kib) * ratio) as u32;
            Ok(one.with_memory_kib(m.max(floor)))
        }
    }
}

/// How strict unlocking is about the stored parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KdfFloor {
    /// At least one OWASP configuration (the default).
    Owasp,
    /// At least one RFC 9106 recommended option.
    Rfc9106,
    /// At least this much memory and these many passes.
    Custom {
        /// Minimum memory in KiB.
        memory_kib: u32,
        /// Minimum passes.
        iterations: u32,
    },
    /// No floor: only for tests and vaults you created yourself with small
    /// parameters.
    None,
}

/// Bounds on the stored parameters that unlocking accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KdfPolicy {
    /// Refuse cheaper parameters (downgrade protection).
    pub floor: KdfFloor,
    /// Refuse more memory than this, in KiB (default 1 GiB: a store asking
    /// for more is trying to exhaust the client).
    pub max_memory_kib: u32,
    /// Refuse more passes than this (default 64).
    pub max_iterations: u32,
    /// Refuse more lanes than this (default 64).
    pub max_parallelism: u32,
    /// The parameters this device last derived with, if it remembers them:
    /// anything cheaper (less memory or fewer passes) is refused, so a
    /// hostile server cannot ask for cheaper guessing than it had before.
    pub previous: Option<KdfParams>,
}

impl Default for KdfPolicy {
    fn default() -> Self {
        KdfPolicy {
            floor: KdfFloor::Owasp,
            max_memory_kib: 1024 * 1024,
            max_iterations: 64,
            max_parallelism: 64,
            previous: None,
        }
    }
}

impl KdfPolicy {
    /// Sets the floor.
    #[must_use]
    pub fn with_floor(mut self, floor: KdfFloor) -> Self {
        self.floor = floor;
        self
    }

    /// Sets the memory ceiling in KiB.
    #[must_use]
    pub fn with_max_memory_kib(mut self, m: u32) -> Self {
        self.max_memory_kib = m;
        self
    }

    /// Sets the passes ceiling.
    #[must_use]
    pub fn with_max_iterations(mut self, t: u32) -> Self {
        self.max_iterations = t;
        self
    }

    /// Refuses parameters cheaper than `params`, the ones this device last
    /// used (store them with the device's settings after each unlock, from
    /// [`crate::Vault::kdf_params`]).
    #[must_use]
    pub fn with_previous(mut self, params: KdfParams) -> Self {
        self.previous = Some(params);
        self
    }

    /// Sets the lanes ceiling.
    #[must_use]
    pub fn with_max_parallelism(mut self, p: u32) -> Self {
        self.max_parallelism = p;
        self
    }

    /// Accepts or rejects `params`.
    ///
    /// # Errors
    /// [`Error::KdfParams`] if `params` break Argon2's limits
    /// ([`KdfParams::validate`]), exceed one of the ceilings, are cheaper
    /// (less memory or fewer passes) than [`KdfPolicy::previous`], or fall
    /// below [`KdfPolicy::floor`].
    pub fn check(&self, params: &KdfParams) -> Result<()> {
        params.validate()?;
        if params.memory_kib > self.max_memory_kib
            || params.iterations > self.max_iterations
            || params.parallelism > self.max_parallelism
        {
            return Err(Error::KdfParams(format!(
                "m={} KiB t={} p={} exceed the policy's ceiling",
                params.memory_kib, params.iterations, params.parallelism
            )));
        }
        if let Some(prev) = &self.previous
            && (params.memory_kib < prev.memory_kib || params.iterations < prev.iterations)
        {
            return Err(Error::KdfParams(format!(
                "m={} KiB t={} are cheaper than the m={} KiB t={} this device used before",
                params.memory_kib, params.iterations, prev.memory_kib, prev.iterations
            )));
        }
        let ok = match self.floor {
            KdfFloor::Owasp => params.meets_owasp(),
            KdfFloor::Rfc9106 => params.meets_rfc9106(),
            KdfFloor::Custom {
                memory_kib,
                iterations,
            } => params.memory_kib >= memory_kib && params.iterations >= iterations,
            KdfFloor::None => true,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::KdfParams(format!(
                "m={} KiB t={} p={} are below the policy's floor ({:?})",
                params.memory_kib, params.iterations, params.parallelism, self.floor
            )))
        }
    }
}

/// The stored form of [`KdfParams`], naming the algorithm and its version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredKdf {
    pub(crate) algorithm: String,
    pub(crate) version: u32,
    pub(crate) memory_kib: u32,
    pub(crate) iterations: u32,
    pub(crate) parallelism: u32,
}

impl StoredKdf {
    pub(crate) fn from_params(p: &KdfParams) -> Self {
        StoredKdf {
            algorithm: "argon2id".into(),
            version: 0x13,
            memory_kib: p.memory_kib,
            iterations: p.iterations,
            parallelism: p.parallelism,
        }
    }

    pub(crate) fn params(&self) -> Result<KdfParams> {
        if self.algorithm != "argon2id" {
            return Err(Error::KdfParams(format!(
                "unknown algorithm {:?}",
                self.algorithm.chars().take(32).collect::<String>()
            )));
        }
        if self.version != 0x13 {
            return Err(Error::UnsupportedVersion {
                what: "argon2",
                version: self.version,
            });
        }
        let p = KdfParams::new(self.memory_kib, self.iterations, self.parallelism);
        p.validate()?;
        Ok(p)
    }
}

/// Argon2id (version 0x13) with every RFC 9106 input: password `P`, salt
/// `S` (at least 8 bytes), secret `K` (may be empty), associated data `X`
/// (at most 32 bytes), writing a tag of `out.len()` bytes (at least 4).
///
/// The vault calls it with `K` = the account's secret key and `X` = its
/// vault id; it is public so the RFC 9106 known-answer test runs through it.
///
/// # Errors
/// [`Error::KdfParams`] if `params` break Argon2's limits
/// ([`KdfParams::validate`]), or if Argon2 rejects an input: a salt shorter
/// than 8 bytes, associated data longer than 32 bytes, a tag length below 4
/// bytes, a secret longer than 2^32 - 1 bytes.
pub fn argon2id(
    params: &KdfParams,
    password: &[u8],
    salt: &[u8],
    secret: &[u8],
    associated_data: &[u8],
    out: &mut [u8],
) -> Result<()> {
    params.validate()?;
    let kdf_err = |e: argon2::Error| Error::KdfParams(e.to_string());
    let data = argon2::AssociatedData::new(associated_data).map_err(kdf_err)?;
    let p = argon2::ParamsBuilder::new()
        .m_cost(params.memory_kib)
        .t_cost(params.iterations)
        .p_cost(params.parallelism)
        .output_len(out.len())
        .data(data)
        .build()
        .map_err(kdf_err)?;
    let ctx = if secret.is_empty() {
        argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, p)
    } else {
        argon2::Argon2::new_with_secret(
            secret,
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            p,
        )
        .map_err(kdf_err)?
    };
    ctx.hash_password_into(password, salt, out).map_err(kdf_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_meet_rfc9106_and_owasp_without_running() {
        let d = KdfParams::default();
        assert!(d.meets_rfc9106(), "{d:?}");
        assert!(d.meets_owasp(), "{d:?}");
        assert!(d.meets_recommendations());
        assert!(d.validate().is_ok());
        assert!(KdfPolicy::default().check(&d).is_ok());
        assert!(
            KdfPolicy::default()
                .with_floor(KdfFloor::Rfc9106)
                .check(&d)
                .is_ok()
        );
        assert!(KdfParams::OWASP_MINIMUM.meets_owasp());
        assert!(!KdfParams::OWASP_MINIMUM.meets_rfc9106());
        for (m, t) in KdfParams::OWASP_CONFIGS {
            assert!(KdfParams::new(m, t, 1).meets_owasp());
            assert!(!KdfParams::new(m - 1, t, 1).meets_owasp());
        }
    }

    #[test]
    fn policy_floor_and_ceiling() {
        let p = KdfPolicy::default();
        assert!(p.check(&KdfParams::new(1024, 1, 1)).is_err());
        assert!(p.check(&KdfParams::new(u32::MAX, 3, 4)).is_err());
        assert!(p.check(&KdfParams::new(65536, 1000, 4)).is_err());
        let none = p.with_floor(KdfFloor::None);
        assert!(none.check(&KdfParams::new(64, 1, 1)).is_ok());
        assert!(none.check(&KdfParams::new(7, 1, 1)).is_err());
        assert!(none.check(&KdfParams::new(64, 0, 1)).is_err());
        assert!(none.check(&KdfParams::new(64, 1, 0)).is_err());
        let custom = p.with_floor(KdfFloor::Custom {
            memory_kib: 128,
            iterations: 2,
        });
        assert!(custom.check(&KdfParams::new(128, 2, 1)).is_ok());
        assert!(custom.check(&KdfParams::new(128, 1, 1)).is_err());
    }

    #[test]
    fn stored_form_names_algorithm() {
        let s = StoredKdf::from_params(&KdfParams::new(64, 1, 1));
        assert_eq!(s.params().unwrap(), KdfParams::new(64, 1, 1));
        let mut bad = s.clone();
        bad.algorithm = "scrypt".into();
        assert!(bad.params().is_err());
        let mut bad = s;
        bad.version = 0x10;
        assert!(matches!(
            bad.params(),
            Err(Error::UnsupportedVersion { version: 16, .. })
        ));
    }

    #[test]
    fn calibrate_hits_the_budget_shape() {
        // Calibration runs one pass only; a generous budget buys more passes
        // at the same memory (a pass at 64 KiB takes well under 10 s).
        let base = KdfParams::new(64, 1, 1);
        let p = KdfParams::calibrate_from(base, Duration::from_secs(10)).unwrap();
        assert_eq!((p.memory_kib, p.parallelism), (64, 1));
        assert!(p.iterations > 1, "{p:?}");
        let small =
            KdfParams::calibrate_from(KdfParams::new(4096, 1, 1), Duration::from_nanos(1)).unwrap();
        assert_eq!(small.iterations, 1);
        assert!(small.memory_kib < 4096 && small.memory_kib >= 8);
    }

    #[test]
    fn argon2id_rejects_bad_inputs() {
        let mut out = [0u8; 32];
        let p = KdfParams::new(64, 1, 1);
        assert!(argon2id(&p, b"pw", b"short", &[], &[], &mut out).is_err());
        assert!(argon2id(&p, b"pw", &[0; 16], &[], &[0; 33], &mut out).is_err());
        assert!(argon2id(&p, b"pw", &[0; 16], &[], &[0; 32], &mut out).is_ok());
    }
}
