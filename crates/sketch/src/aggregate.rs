//! Pluggable aggregators for [`crate::window`]: count, sum, min/max,
//! mean/variance (Welford) and every sketch of this crate.
//!
//! An aggregator is a mergeable accumulator: [`Aggregator::update`] folds one
//! input in, [`Aggregator::merge`] folds another accumulator in (session
//! windows merge when they touch), [`Aggregator::output`] reads the result.
//! Aggregators are serde values so a job can be checkpointed; sketches
//! serialize through their own (DataSketches/protobuf) bytes.
//!
//! ```
//! use blocksmith_sketch::aggregate::{Aggregator, Welford};
//! let mut w = Welford::default();
//! for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] { w.update(&x); }
//! let m = w.output();
//! assert_eq!(m.mean, 5.0);
//! assert!((m.variance_population() - 4.0).abs() < 1e-12);
//! ```

use crate::ddsketch::DdSketch;
use crate::frequency::SpaceSaving;
use crate::hll::{HllSketch, HllType};
use crate::kll::KllSketch;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A mergeable accumulator of inputs `I`.
pub trait Aggregator<I>: Clone + Serialize + for<'de> Deserialize<'de> + Send {
    /// What the aggregator reports.
    type Output: Clone + PartialEq + std::fmt::Debug;
    /// Folds one input in.
    fn update(&mut self, input: &I);
    /// Folds another accumulator (of the same configuration) in.
    ///
    /// # Errors
    /// [`crate::Error::Incompatible`] if `other` was configured differently
    /// (a sketch of another accuracy); `self` is unchanged then.
    fn merge(&mut self, other: &Self) -> crate::Result<()>;
    /// The current result.
    fn output(&self) -> Self::Output;
}

/// Counts inputs of any type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count(pub u64);

impl<I> Aggregator<I> for Count {
    type Output = u64;
    fn update(&mut self, _: &I) {
        self.0 += 1;
    }
    fn merge(&mut self, other: &Self) -> crate::Result<()> {
        self.0 += other.0;
        Ok(())
    }
    fn output(&self) -> u64 {
        self.0
    }
}

/// Serializes `f64`s as their bit patterns so checkpoints restore them
/// exactly whatever the JSON float parser does.
mod bits {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    #[allow(clippy::trivially_copy_pass_by_ref)] // serde's `with` signature
    pub(super) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        v.to_bits().serialize(s)
    }
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        u64::deserialize(d).map(f64::from_bits)
    }
}

/// Sums `f64` inputs (Neumaier-compensated, so long sums stay exact-ish).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sum {
    #[serde(with = "bits")]
    sum: f64,
    #[serde(with = "bits")]
    comp: f64,
}

impl Aggregator<f64> for Sum {
    type Output = f64;
    fn update(&mut self, x: &f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.comp += (self.sum - t) + x;
        } else {
            self.comp += (x - t) + self.sum;
        }
        self.sum = t;
    }
    fn merge(&mut self, o: &Self) -> crate::Result<()> {
        self.update(&o.sum);
        self.comp += o.comp;
        Ok(())
    }
    fn output(&self) -> f64 {
        self.sum + self.comp
    }
}

/// Minimum and maximum of `f64` inputs (NaN ignored).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MinMax(Option<(f64, f64)>);

impl Serialize for MinMax {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.map(|(a, b)| (a.to_bits(), b.to_bits())).serialize(s)
    }
}

impl<'de> Deserialize<'de> for MinMax {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Option::<(u64, u64)>::deserialize(d)?;
        Ok(MinMax(
            v.map(|(a, b)| (f64::from_bits(a), f64::from_bits(b))),
        ))
    }
}

impl Aggregator<f64> for MinMax {
    type Output = Option<(f64, f64)>;
    fn update(&mut self, x: &f64) {
        if x.is_nan() {
            return;
        }
        self.0 = Some(match self.0 {
            Some((lo, hi)) => (lo.min(*x), hi.max(*x)),
            None => (*x, *x),
        });
    }
    fn merge(&mut self, o: &Self) -> crate::Result<()> {
        if let Some((lo, hi)) = o.0 {
            self.update(&lo);
            self.update(&hi);
        }
        Ok(())
    }
    fn output(&self) -> Self::Output {
        self.0
    }
}

/// Count, mean and variance by Welford's online algorithm (merged with
/// Chan et al.'s parallel formula).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Welford {
    n: u64,
    #[serde(with = "bits")]
    mean: f64,
    #[serde(with = "bits")]
    m2: f64,
}

/// What [`Welford`] reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Number of values.
    pub count: u64,
    /// Arithmetic mean (0 when empty).
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
}

impl Moments {
    /// Sample variance (`n - 1` denominator); 0 below two values.
    pub fn variance(&self) -> f64 {
        if self.count < 2 {
            0.0
        } else {
            self.m2 / (self.count - 1) as f64
        }
    }
    /// Population variance (`n` denominator).
    pub fn variance_population(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.m2 / self.count as f64
        }
    }
    /// Sample standard deviation.
    pub fn std_dev(&self) -> f64 {
        self.variance().sqrt()
    }
}

impl Welford {
    /// Builds from a slice.
    pub fn from_values(xs: &[f64]) -> Self {
        let mut w = Welford::default();
        for x in xs {
            w.update(x);
        }
        w
    }
}

impl Aggregator<f64> for Welford {
    type Output = Moments;
    fn update(&mut self, x: &f64) {
        if !x.is_finite() {
            return;
        }
        self.n += 1;
        let d = x - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (x - self.mean);
    }
    fn merge(&mut self, o: &Self) -> crate::Result<()> {
        if o.n == 0 {
            return Ok(());
        }
        if self.n == 0 {
            *self = *o;
            return Ok(());
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        self.mean += d * o.n as f64 / n as f64;
        self.m2 += o.m2 + d * d * (self.n as f64 * o.n as f64 / n as f64);
        self.n = n;
        Ok(())
    }
    fn output(&self) -> Moments {
        Moments {
            count: self.n,
            mean: self.mean,
            m2: self.m2,
        }
    }
}

macro_rules! serde_via_bytes {
    ($t:ty, $ser:expr, $de:expr) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let bytes: Vec<u8> = $ser(self);
                bytes.serialize(s)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let bytes = Vec::<u8>::deserialize(d)?;
                $de(&bytes).map_err(D::Error::custom)
            }
        }
    };
}

/// Distinct count of string or integer inputs with an [`HllSketch`].
#[derive(Clone, Debug, PartialEq)]
pub struct DistinctCount(pub HllSketch);

impl Default for DistinctCount {
    fn default() -> Self {
        DistinctCount::new(12)
    }
}

impl DistinctCount {
    /// With `2^lg_k` registers (clamped to 4..=21), HLL_8.
    pub fn new(lg_k: u8) -> Self {
        let lg = lg_k.clamp(crate::hll::MIN_LG_K, crate::hll::MAX_LG_K);
        DistinctCount(
            HllSketch::new(lg, HllType::Hll8).unwrap_or_else(|_| unreachable!("lg_k clamped")),
        )
    }
}

serde_via_bytes!(
    DistinctCount,
    |s: &DistinctCount| s.0.to_bytes(),
    |b: &[u8]| { HllSketch::from_bytes(b).map(DistinctCount) }
);

impl Aggregator<String> for DistinctCount {
    type Output = f64;
    fn update(&mut self, x: &String) {
        self.0.update(x.as_str());
    }
    fn merge(&mut self, o: &Self) -> crate::Result<()> {
        self.0.merge(&o.0)
    }
    fn output(&self) -> f64 {
        self.0.estimate()
    }
}

impl Aggregator<u64> for DistinctCount {
    type Output = f64;
    fn update(&mut self, x: &u64) {
        self.0.update_u64(*x);
    }
    fn merge(&mut self, o: &Self) -> crate::Result<()> {
        self.0.merge(&o.0)
    }
    fn output(&self) -> f64 {
        self.0.estimate()
    }
}

/// Rank-error quantiles of `f64` inputs with a [`KllSketch`]; outputs the sketch.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantiles(pub KllSketch<f64>);

impl Default for Quantiles {
    fn default() -> Self {
        Quantiles(KllSketch::new(crate::kll::DEFAULT_K).unwrap_or_else(|_| unreachable!("valid k")))
    }
}

serde_via_bytes!(Quantiles, |s: &Quantiles| s.0.to_bytes(), |b: &[u8]| {
    KllSketch::from_bytes(b).map(Quantiles)
});

impl Aggregator<f64> for Quantiles {
    type Output = KllSketch<f64>;
    fn update(&mut self, x: &f64) {
        self.0.update(*x);
    }
    fn merge(&mut self, o: &Self) -> crate::Result<()> {
        self.0.merge(&o.0)
    }
    fn output(&self) -> KllSketch<f64> {
        self.0.clone()
    }
}

/// Relative-error quantiles of `f64` inputs with a [`DdSketch`] (1% by
/// default); outputs the sketch. Sum, min and max survive checkpoints
/// (stored beside the protobuf message, which has no field for them).
#[derive(Clone, Debug, PartialEq)]
pub struct RelativeQuantiles(pub DdSketch);

impl Default for RelativeQuantiles {
    fn default() -> Self {
        RelativeQuantiles(DdSketch::new(0.01).unwrap_or_else(|_| unreachable!("valid alpha")))
    }
}

impl Serialize for RelativeQuantiles {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // The protobuf message has no sum/min/max: they go beside it, when
        // known and the sketch is not empty.
        let summary = match (self.0.sum(), self.0.min(), self.0.max()) {
            (Some(sum), Some(min), Some(max)) => {
                Some((sum.to_bits(), min.to_bits(), max.to_bits()))
            }
            _ => None,
        };
        (self.0.to_bytes(), summary).serialize(s)
    }
}

impl<'de> Deserialize<'de> for RelativeQuantiles {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (bytes, summary) = <(Vec<u8>, Option<(u64, u64, u64)>)>::deserialize(d)?;
        let mut s = DdSketch::from_bytes(&bytes).map_err(D::Error::custom)?;
        if let Some((sum, min, max)) = summary {
            s.restore_summary(
                f64::from_bits(sum),
                f64::from_bits(min),
                f64::from_bits(max),
            )
            .map_err(D::Error::custom)?;
        }
        Ok(RelativeQuantiles(s))
    }
}

impl Aggregator<f64> for RelativeQuantiles {
    type Output = DdSketch;
    fn update(&mut self, x: &f64) {
        self.0.update(*x);
    }
    fn merge(&mut self, o: &Self) -> crate::Result<()> {
        self.0.merge(&o.0)
    }
    fn output(&self) -> DdSketch {
        self.0.clone()
    }
}

/// Heavy hitters of string inputs with a [`SpaceSaving`] summary (64
/// counters by default); outputs the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct TopK(pub SpaceSaving);

impl Default for TopK {
    fn default() -> Self {
        TopK(SpaceSaving::new(64).unwrap_or_else(|_| unreachable!("valid capacity")))
    }
}

serde_via_bytes!(TopK, |s: &TopK| s.0.to_bytes(), |b: &[u8]| {
    SpaceSaving::from_bytes(b).map(TopK)
});

impl Aggregator<String> for TopK {
    type Output = SpaceSaving;
    fn update(&mut self, x: &String) {
        self.0.update(x, 1);
    }
    fn merge(&mut self, o: &Self) -> crate::Result<()> {
        self.0.merge(&o.0)
    }
    fn output(&self) -> SpaceSaving {
        self.0.clone()
    }
}
