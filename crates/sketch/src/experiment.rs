//! A/B experiment statistics: exposures, per-variant metrics and the tests
//! an experiment readout needs.
//!
//! Feed [`Experiment`] assignment events (a user enters a variant; repeats
//! are deduplicated on a roaring bitmap, a user seen in two variants is
//! counted as a conflict and kept in the first) and metric events, then
//! [`Experiment::analyze`] a metric:
//! - binary metrics (did the user convert): two-proportion z-test;
//! - continuous metrics (per-user sums): Welch's t-test, optionally with
//!   CUPED variance reduction against a pre-experiment covariate;
//! - ratio metrics (sum of numerators over sum of denominators, such as
//!   revenue per session): delta-method z-test.
//!
//! Every comparison carries the effect, the relative effect, a confidence
//! interval and a p-value; [`Experiment::srm`] checks the sample ratio with
//! a chi-square test, and [`SequentialTest`] gives an always-valid p-value
//! (mSPRT) that may be peeked at after every batch without inflating false
//! positives. The free functions run the same tests from summary numbers.
//!
//! ```
//! use blocksmith_sketch::experiment::{Experiment, MetricKind, AnalysisOptions};
//! let mut exp = Experiment::new(&["control", "treatment"], &[0.5, 0.5])?;
//! exp.define_metric("converted", MetricKind::Binary);
//! for user in 0..2000u64 {
//!     let variant = if user % 2 == 0 { "control" } else { "treatment" };
//!     exp.assign(user, variant)?;
//!     let rate = if user % 2 == 0 { 10 } else { 5 }; // 10% vs 20%
//!     if user % rate == 1 || (rate == 10 && user % rate == 0 && user % 20 == 0) {
//!         exp.record(user, "converted", 1.0)?;
//!     }
//! }
//! let report = exp.analyze("converted", &AnalysisOptions::default())?;
//! assert!(report.comparisons[0].p_value < 0.001);
//! assert!(exp.srm().p_value > 0.01);
//! # Ok::<(), blocksmith_sketch::Error>(())
//! ```

use crate::bloom::ExactSet;
use crate::stats::{chi_square_sf, normal_quantile, normal_sf, t_quantile, t_two_sided_p};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The shape of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MetricKind {
    /// Per user: converted (any positive value) or not.
    Binary,
    /// Per user: the sum of the values.
    Continuous,
    /// Sum of numerators over sum of denominators, users as the unit.
    Ratio,
}

/// Options of an analysis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AnalysisOptions {
    /// Confidence level of the intervals (default 0.95).
    pub confidence: f64,
    /// Apply CUPED with the metric's recorded covariate (continuous metrics).
    pub cuped: bool,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            confidence: 0.95,
            cuped: false,
        }
    }
}

impl AnalysisOptions {
    /// Sets the confidence level.
    #[must_use]
    pub fn with_confidence(mut self, c: f64) -> Self {
        self.confidence = c;
        self
    }
    /// Enables CUPED.
    #[must_use]
    pub fn with_cuped(mut self, on: bool) -> Self {
        self.cuped = on;
        self
    }
}

/// The result of comparing a treatment with the control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestResult {
    /// Treatment minus control.
    pub effect: f64,
    /// `effect / control` (NaN when the control is 0).
    pub relative_effect: f64,
    /// Confidence interval of `effect`.
    pub ci_low: f64,
    /// Confidence interval of `effect`.
    pub ci_high: f64,
    /// The z or t statistic.
    pub statistic: f64,
    /// Degrees of freedom (infinite for z-tests).
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

fn check_conf(confidence: f64) -> Result<()> {
    if confidence > 0.0 && confidence < 1.0 {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "confidence must be in (0, 1), got {confidence}"
        )))
    }
}

/// Two-proportion z-test of `x_b / n_b` against `x_a / n_a`: pooled standard
/// error for the test, unpooled for the interval (the textbook Wald forms).
///
/// # Errors
/// [`Error::InvalidArgument`] if `confidence` is not in (0, 1), a group is
/// empty (`n_a` or `n_b` is 0), or has more successes than trials.
pub fn two_proportion_z_test(
    x_a: u64,
    n_a: u64,
    x_b: u64,
    n_b: u64,
    confidence: f64,
) -> Result<TestResult> {
    check_conf(confidence)?;
    if n_a == 0 || n_b == 0 || x_a > n_a || x_b > n_b {
        return Err(Error::InvalidArgument(
            "proportions need 0 <= x <= n and n > 0".into(),
        ));
    }
    let (na, nb) = (n_a as f64, n_b as f64);
    let (pa, pb) = (x_a as f64 / na, x_b as f64 / nb);
    // In f64: `x_a + x_b` overflows u64 for counts above 2^63.
    let pooled = (x_a as f64 + x_b as f64) / (na + nb);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    let se = (pa * (1.0 - pa) / na + pb * (1.0 - pb) / nb).sqrt();
    let effect = pb - pa;
    let z = if se_pooled > 0.0 {
        effect / se_pooled
    } else {
        0.0
    };
    let q = normal_quantile(0.5 + confidence / 2.0);
    Ok(TestResult {
        effect,
        relative_effect: effect / pa,
        ci_low: effect - q * se,
        ci_high: effect + q * se,
        statistic: z,
        df: f64::INFINITY,
        p_value: if se_pooled > 0.0 {
            2.0 * normal_sf(z.abs())
        } else {
            1.0
        },
    })
}

/// Welch's unequal-variance t-test of mean B against mean A from summary
/// statistics (sample variances), with Welch–Satterthwaite degrees of freedom.
///
/// # Errors
/// [`Error::InvalidArgument`] if `confidence` is not in (0, 1) or a group has
/// fewer than two values.
pub fn welch_t_test(
    mean_a: f64,
    var_a: f64,
    n_a: u64,
    mean_b: f64,
    var_b: f64,
    n_b: u64,
    confidence: f64,
) -> Result<TestResult> {
    check_conf(confidence)?;
    if n_a < 2 || n_b < 2 {
        return Err(Error::InvalidArgument(
            "Welch's t-test needs two values per group".into(),
        ));
    }
    let (va, vb) = (var_a / n_a as f64, var_b / n_b as f64);
    let se = (va + vb).sqrt();
    let df = (va + vb).powi(2) / (va * va / (n_a - 1) as f64 + vb * vb / (n_b - 1) as f64);
    let effect = mean_b - mean_a;
    let t = if se > 0.0 { effect / se } else { 0.0 };
    let df = if df.is_finite() {
        df
    } else {
        (n_a + n_b - 2) as f64
    };
    let q = t_quantile(0.5 + confidence / 2.0, df);
    Ok(TestResult {
        effect,
        relative_effect: effect / mean_a,
        ci_low: effect - q * se,
        ci_high: effect + q * se,
        statistic: t,
        df,
        p_value: if se > 0.0 { t_two_sided_p(t, df) } else { 1.0 },
    })
}

/// Per-group statistics of a ratio metric `sum(y) / sum(x)` over users.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RatioStats {
    /// Users.
    pub n: u64,
    /// Mean numerator per user.
    pub mean_y: f64,
    /// Mean denominator per user.
    pub mean_x: f64,
    /// Sample variance of the numerators.
    pub var_y: f64,
    /// Sample variance of the denominators.
    pub var_x: f64,
    /// Sample covariance of numerator and denominator.
    pub cov_xy: f64,
}

impl RatioStats {
    /// From per-user `(numerator, denominator)` pairs.
    pub fn from_pairs(pairs: &[(f64, f64)]) -> Self {
        let n = pairs.len();
        let nf = n as f64;
        let my = pairs.iter().map(|p| p.0).sum::<f64>() / nf;
        let mx = pairs.iter().map(|p| p.1).sum::<f64>() / nf;
        let d = (nf - 1.0).max(1.0);
        let vy = pairs.iter().map(|p| (p.0 - my).powi(2)).sum::<f64>() / d;
        let vx = pairs.iter().map(|p| (p.1 - mx).powi(2)).sum::<f64>() / d;
        let c = pairs.iter().map(|p| (p.0 - my) * (p.1 - mx)).sum::<f64>() / d;
        RatioStats {
            n: n as u64,
            mean_y: my,
            mean_x: mx,
            var_y: vy,
            var_x: vx,
            cov_xy: c,
        }
    }

    /// The ratio `mean_y / mean_x`.
    pub fn ratio(&self) -> f64 {
        self.mean_y / self.mean_x
    }

    /// Delta-method variance of the ratio estimate.
    pub fn ratio_variance(&self) -> f64 {
        let (mx, my) = (self.mean_x, self.mean_y);
        (self.var_y / (mx * mx) - 2.0 * my * self.cov_xy / mx.powi(3)
            + my * my * self.var_x / mx.powi(4))
            / self.n as f64
    }
}

/// Delta-method z-test of ratio B against ratio A.
///
/// # Errors
/// [`Error::InvalidArgument`] if `confidence` is not in (0, 1), a group has
/// fewer than two users, or a group's mean denominator is 0.
pub fn delta_method_ratio_test(
    a: &RatioStats,
    b: &RatioStats,
    confidence: f64,
) -> Result<TestResult> {
    check_conf(confidence)?;
    if a.n < 2 || b.n < 2 || a.mean_x == 0.0 || b.mean_x == 0.0 {
        return Err(Error::InvalidArgument(
            "ratio metrics need two users and non-zero denominators".into(),
        ));
    }
    let effect = b.ratio() - a.ratio();
    let se = (a.ratio_variance() + b.ratio_variance()).sqrt();
    let z = if se > 0.0 { effect / se } else { 0.0 };
    let q = normal_quantile(0.5 + confidence / 2.0);
    Ok(TestResult {
        effect,
        relative_effect: effect / a.ratio(),
        ci_low: effect - q * se,
        ci_high: effect + q * se,
        statistic: z,
        df: f64::INFINITY,
        p_value: if se > 0.0 {
            2.0 * normal_sf(z.abs())
        } else {
            1.0
        },
    })
}

/// The result of a sample-ratio-mismatch check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SrmResult {
    /// Pearson's chi-square statistic.
    pub chi_square: f64,
    /// Degrees of freedom (variants - 1).
    pub df: f64,
    /// Its p-value.
    pub p_value: f64,
    /// True when `p_value < 0.001`, the usual alarm threshold.
    pub mismatch: bool,
}

/// Chi-square goodness-of-fit of observed exposure counts against the
/// expected traffic split `weights` (normalized here).
///
/// # Errors
/// [`Error::InvalidArgument`] if there are fewer than two variants, `observed`
/// and `weights` differ in length, or a weight is NaN, zero or negative.
pub fn srm_chi_square(observed: &[u64], weights: &[f64]) -> Result<SrmResult> {
    if observed.len() != weights.len()
        || observed.len() < 2
        || weights.iter().any(|w| w.is_nan() || *w <= 0.0)
    {
        return Err(Error::InvalidArgument(
            "SRM needs two or more variants with positive weights".into(),
        ));
    }
    let total: f64 = observed.iter().map(|&o| o as f64).sum();
    let wsum: f64 = weights.iter().sum();
    let chi: f64 = observed
        .iter()
        .zip(weights)
        .map(|(&o, w)| {
            let e = total * w / wsum;
            if e > 0.0 {
                (o as f64 - e).powi(2) / e
            } else {
                0.0
            }
        })
        .sum();
    let df = (observed.len() - 1) as f64;
    let p = if total > 0.0 {
        chi_square_sf(chi, df)
    } else {
        1.0
    };
    Ok(SrmResult {
        chi_square: chi,
        df,
        p_value: p,
        mismatch: p < 0.001,
    })
}

/// CUPED's `theta = cov(x, y) / var(x)` for metric `y` and pre-period covariate `x`.
pub fn cuped_theta(y: &[f64], x: &[f64]) -> f64 {
    let n = y.len().min(x.len()) as f64;
    if n < 2.0 {
        return 0.0;
    }
    let my = y.iter().sum::<f64>() / n;
    let mx = x.iter().sum::<f64>() / n;
    let cov: f64 = y.iter().zip(x).map(|(a, b)| (a - my) * (b - mx)).sum();
    let var: f64 = x.iter().map(|b| (b - mx).powi(2)).sum();
    if var > 0.0 { cov / var } else { 0.0 }
}

/// An always-valid sequential test (mSPRT with a normal mixture, Johari et
/// al. 2017) of a difference whose estimate is approximately normal.
///
/// Call [`SequentialTest::observe`] at every peek with the current effect
/// estimate and its variance; the returned p-value never increases and
/// stays valid however often you look: rejecting when it drops below
/// `alpha` keeps the false-positive rate at most `alpha`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SequentialTest {
    tau2: f64,
    p: f64,
}

impl SequentialTest {
    /// A test with mixing variance `tau2` (the squared effect size you
    /// expect; larger detects large effects sooner).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `tau2` is not positive and finite.
    pub fn new(tau2: f64) -> Result<Self> {
        if !(tau2 > 0.0 && tau2.is_finite()) {
            return Err(Error::InvalidArgument(
                "mSPRT mixing variance must be positive".into(),
            ));
        }
        Ok(SequentialTest { tau2, p: 1.0 })
    }

    /// The mixture likelihood ratio for an effect estimate `effect` with variance `var`.
    pub fn likelihood_ratio(&self, effect: f64, var: f64) -> f64 {
        if var.is_nan() || var <= 0.0 {
            return 1.0;
        }
        let t = self.tau2;
        (var / (var + t)).sqrt() * (effect * effect * t / (2.0 * var * (var + t))).exp()
    }

    /// Records a peek and returns the always-valid p-value so far.
    pub fn observe(&mut self, effect: f64, var: f64) -> f64 {
        let lr = self.likelihood_ratio(effect, var);
        if lr.is_finite() && lr > 0.0 {
            self.p = self.p.min(1.0 / lr);
        } else if lr.is_infinite() {
            self.p = 0.0;
        }
        self.p
    }

    /// The always-valid p-value so far.
    pub fn p_value(&self) -> f64 {
        self.p
    }
}

/// One variant's summary of a metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantSummary {
    /// The variant.
    pub variant: String,
    /// Exposed users.
    pub users: u64,
    /// Conversion rate, mean per user, or ratio.
    pub value: f64,
    /// Sample variance of the per-user values (for ratios, of the ratio estimate).
    pub variance: f64,
}

/// A treatment compared with the control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The treatment variant.
    pub variant: String,
    /// The test.
    #[serde(flatten)]
    pub result: TestResult,
}

impl std::ops::Deref for Comparison {
    type Target = TestResult;
    fn deref(&self) -> &TestResult {
        &self.result
    }
}

/// The analysis of one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricReport {
    /// The metric.
    pub metric: String,
    /// Its kind.
    pub kind: MetricKind,
    /// Per variant, control first.
    pub variants: Vec<VariantSummary>,
    /// Each treatment against the control.
    pub comparisons: Vec<Comparison>,
    /// CUPED's theta, when applied.
    pub cuped_theta: Option<f64>,
    /// Fraction of variance CUPED removed, when applied.
    pub variance_reduction: Option<f64>,
}

/// Per-user `(numerator, denominator)` sums of one metric.
type PerUser = HashMap<u64, (f64, f64)>;

/// Assignments, metric events and their analysis.
#[derive(Debug, Clone)]
pub struct Experiment {
    variants: Vec<String>,
    weights: Vec<f64>,
    assignment: HashMap<u64, u16>,
    exposed: Vec<ExactSet>,
    conflicts: u64,
    metrics: BTreeMap<String, (MetricKind, PerUser)>,
    covariates: BTreeMap<String, HashMap<u64, f64>>,
}

impl Experiment {
    /// An experiment over `variants` (the first is the control) with the
    /// expected traffic split `weights`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if there are fewer than 2 or more than 1000
    /// variants, not one weight per variant, or a weight is not positive and
    /// finite.
    pub fn new(variants: &[&str], weights: &[f64]) -> Result<Self> {
        if variants.len() < 2 || variants.len() != weights.len() || variants.len() > 1000 {
            return Err(Error::InvalidArgument(
                "an experiment needs 2..=1000 variants, one weight each".into(),
            ));
        }
        if weights.iter().any(|w| !(*w > 0.0 && w.is_finite())) {
            return Err(Error::InvalidArgument(
                "variant weights must be positive".into(),
            ));
        }
        Ok(Experiment {
            variants: variants.iter().map(|s| (*s).to_string()).collect(),
            weights: weights.to_vec(),
            assignment: HashMap::new(),
            exposed: vec![ExactSet::new(); variants.len()],
            conflicts: 0,
            metrics: BTreeMap::new(),
            covariates: BTreeMap::new(),
        })
    }

    /// The variants, control first.
    pub fn variants(&self) -> &[String] {
        &self.variants
    }

    /// Declares a metric (re-declaring keeps its data).
    pub fn define_metric(&mut self, name: &str, kind: MetricKind) {
        self.metrics
            .entry(name.to_string())
            .or_insert_with(|| (kind, HashMap::new()));
    }

    /// Records that `user` was exposed to `variant`. Repeats are no-ops; a
    /// user already in another variant stays there and counts as a conflict.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `variant` is not one of the experiment's
    /// variants.
    pub fn assign(&mut self, user: u64, variant: &str) -> Result<()> {
        let idx = self
            .variants
            .iter()
            .position(|v| v == variant)
            .ok_or_else(|| Error::InvalidArgument(format!("unknown variant {variant:?}")))?
            as u16;
        match self.assignment.get(&user) {
            Some(&v) if v != idx => self.conflicts += 1,
            Some(_) => {}
            None => {
                self.assignment.insert(user, idx);
                self.exposed[usize::from(idx)].insert(user);
            }
        }
        Ok(())
    }

    /// Users seen in two variants (kept in their first).
    pub fn conflicts(&self) -> u64 {
        self.conflicts
    }

    /// Exposed users per variant (exact, deduplicated).
    pub fn exposures(&self) -> Vec<(String, u64)> {
        self.variants
            .iter()
            .cloned()
            .zip(self.exposed.iter().map(ExactSet::len))
            .collect()
    }

    fn metric_mut(&mut self, metric: &str) -> Result<&mut (MetricKind, PerUser)> {
        self.metrics
            .get_mut(metric)
            .ok_or_else(|| Error::InvalidArgument(format!("undefined metric {metric:?}")))
    }

    /// Records a metric value for a user (summed per user; for binary
    /// metrics any positive value means converted).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `value` is not finite or `metric` was never
    /// defined ([`Experiment::define_metric`]).
    pub fn record(&mut self, user: u64, metric: &str, value: f64) -> Result<()> {
        if !value.is_finite() {
            return Err(Error::InvalidArgument(
                "metric values must be finite".into(),
            ));
        }
        let e = self.metric_mut(metric)?.1.entry(user).or_insert((0.0, 0.0));
        e.0 += value;
        Ok(())
    }

    /// Records a ratio metric's numerator and denominator for a user.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `numerator` or `denominator` is not finite,
    /// or `metric` was never defined ([`Experiment::define_metric`]).
    pub fn record_ratio(
        &mut self,
        user: u64,
        metric: &str,
        numerator: f64,
        denominator: f64,
    ) -> Result<()> {
        if !numerator.is_finite() || !denominator.is_finite() {
            return Err(Error::InvalidArgument(
                "metric values must be finite".into(),
            ));
        }
        let e = self.metric_mut(metric)?.1.entry(user).or_insert((0.0, 0.0));
        e.0 += numerator;
        e.1 += denominator;
        Ok(())
    }

    /// Records a pre-experiment covariate of `metric` for a user (CUPED).
    pub fn record_covariate(&mut self, user: u64, metric: &str, value: f64) {
        if value.is_finite() {
            *self
                .covariates
                .entry(metric.to_string())
                .or_default()
                .entry(user)
                .or_insert(0.0) += value;
        }
    }

    /// The sample-ratio-mismatch check of the exposures.
    pub fn srm(&self) -> SrmResult {
        let obs: Vec<u64> = self.exposed.iter().map(ExactSet::len).collect();
        srm_chi_square(&obs, &self.weights).unwrap_or(SrmResult {
            chi_square: 0.0,
            df: 0.0,
            p_value: 1.0,
            mismatch: false,
        })
    }

    /// Analyzes `metric` across variants.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `opts.confidence` is not in (0, 1), `metric`
    /// was never defined, CUPED is asked for a metric with no recorded
    /// covariate, or a variant has too few users for its test: none for a binary
    /// metric, fewer than two for a continuous one, fewer than two or a zero mean
    /// denominator for a ratio one.
    pub fn analyze(&self, metric: &str, opts: &AnalysisOptions) -> Result<MetricReport> {
        check_conf(opts.confidence)?;
        let (kind, data) = self
            .metrics
            .get(metric)
            .ok_or_else(|| Error::InvalidArgument(format!("undefined metric {metric:?}")))?;
        let per_variant: Vec<Vec<(u64, f64, f64)>> = self
            .exposed
            .iter()
            .map(|set| {
                set.bitmap()
                    .iter()
                    .map(|u| {
                        let (y, x) = data.get(&u).copied().unwrap_or((0.0, 0.0));
                        (u, y, x)
                    })
                    .collect()
            })
            .collect();
        let mut report = MetricReport {
            metric: metric.to_string(),
            kind: *kind,
            variants: Vec::new(),
            comparisons: Vec::new(),
            cuped_theta: None,
            variance_reduction: None,
        };
        match kind {
            MetricKind::Binary => {
                let conv: Vec<(u64, u64)> = per_variant
                    .iter()
                    .map(|v| {
                        (
                            v.iter().filter(|r| r.1 > 0.0).count() as u64,
                            v.len() as u64,
                        )
                    })
                    .collect();
                for (name, &(x, n)) in self.variants.iter().zip(&conv) {
                    let p = if n > 0 { x as f64 / n as f64 } else { 0.0 };
                    report.variants.push(VariantSummary {
                        variant: name.clone(),
                        users: n,
                        value: p,
                        variance: p * (1.0 - p),
                    });
                }
                for (i, name) in self.variants.iter().enumerate().skip(1) {
                    let r = two_proportion_z_test(
                        conv[0].0,
                        conv[0].1,
                        conv[i].0,
                        conv[i].1,
                        opts.confidence,
                    )?;
                    report.comparisons.push(Comparison {
                        variant: name.clone(),
                        result: r,
                    });
                }
            }
            MetricKind::Continuous => {
                let mut values: Vec<Vec<f64>> = per_variant
                    .iter()
                    .map(|v| v.iter().map(|r| r.1).collect())
                    .collect();
                if opts.cuped {
                    let cov = self.covariates.get(metric).ok_or_else(|| {
                        Error::InvalidArgument(format!("no covariate recorded for {metric:?}"))
                    })?;
                    let xs: Vec<Vec<f64>> = per_variant
                        .iter()
                        .map(|v| {
                            v.iter()
                                .map(|r| cov.get(&r.0).copied().unwrap_or(0.0))
                                .collect()
                        })
                        .collect();
                    let all_y: Vec<f64> = values.iter().flatten().copied().collect();
                    let all_x: Vec<f64> = xs.iter().flatten().copied().collect();
                    let theta = cuped_theta(&all_y, &all_x);
                    let mx = all_x.iter().sum::<f64>() / all_x.len().max(1) as f64;
                    let before = variance(&all_y);
                    for (ys, xs) in values.iter_mut().zip(&xs) {
                        for (y, x) in ys.iter_mut().zip(xs) {
                            *y -= theta * (x - mx);
                        }
                    }
                    let after = variance(&values.iter().flatten().copied().collect::<Vec<_>>());
                    report.cuped_theta = Some(theta);
                    report.variance_reduction = Some(if before > 0.0 {
                        1.0 - after / before
                    } else {
                        0.0
                    });
                }
                let summaries: Vec<(f64, f64, u64)> = values
                    .iter()
                    .map(|v| (mean(v), variance(v), v.len() as u64))
                    .collect();
                for (name, &(m, v, n)) in self.variants.iter().zip(&summaries) {
                    report.variants.push(VariantSummary {
                        variant: name.clone(),
                        users: n,
                        value: m,
                        variance: v,
                    });
                }
                let (ma, va, na) = summaries[0];
                for (i, name) in self.variants.iter().enumerate().skip(1) {
                    let (mb, vb, nb) = summaries[i];
                    let r = welch_t_test(ma, va, na, mb, vb, nb, opts.confidence)?;
                    report.comparisons.push(Comparison {
                        variant: name.clone(),
                        result: r,
                    });
                }
            }
            MetricKind::Ratio => {
                let stats: Vec<RatioStats> = per_variant
                    .iter()
                    .map(|v| {
                        RatioStats::from_pairs(&v.iter().map(|r| (r.1, r.2)).collect::<Vec<_>>())
                    })
                    .collect();
                for (name, s) in self.variants.iter().zip(&stats) {
                    report.variants.push(VariantSummary {
                        variant: name.clone(),
                        users: s.n,
                        value: s.ratio(),
                        variance: s.ratio_variance(),
                    });
                }
                for (i, name) in self.variants.iter().enumerate().skip(1) {
                    let r = delta_method_ratio_test(&stats[0], &stats[i], opts.confidence)?;
                    report.comparisons.push(Comparison {
                        variant: name.clone(),
                        result: r,
                    });
                }
            }
        }
        Ok(report)
    }
}

fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}

fn variance(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let m = mean(v);
    v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
}
