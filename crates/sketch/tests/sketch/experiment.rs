use super::Rng;
use blocksmith_sketch::experiment::{
    AnalysisOptions, Experiment, MetricKind, RatioStats, SequentialTest, cuped_theta,
    delta_method_ratio_test, srm_chi_square, two_proportion_z_test, welch_t_test,
};

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1e-300)
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (
        m,
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0),
    )
}

#[test]
fn welch_matches_scipy() {
    // scipy.stats.ttest_ind(b, a, equal_var=False) and its confidence_interval(0.95).
    let a = [
        12.1, 14.3, 9.8, 11.0, 13.7, 10.4, 12.9, 15.2, 11.8, 10.9, 13.3, 12.6,
    ];
    let b = [13.9, 15.8, 12.2, 16.4, 14.1, 13.0, 17.3, 12.8, 15.5, 14.6];
    let (ma, va) = mean_var(&a);
    let (mb, vb) = mean_var(&b);
    let r = welch_t_test(ma, va, a.len() as u64, mb, vb, b.len() as u64, 0.95).unwrap();
    assert!(
        close(r.statistic, 3.140_258_686_955_185_4, 1e-12),
        "{}",
        r.statistic
    );
    assert!(
        close(r.p_value, 0.005_347_627_155_363_279, 1e-9),
        "{}",
        r.p_value
    );
    assert!(close(r.df, 19.164_178_559_939_72, 1e-12));
    assert!(
        close(r.ci_low, 0.743_423_874_075_428_2, 1e-9),
        "{}",
        r.ci_low
    );
    assert!(
        close(r.ci_high, 3.709_909_459_257_901_6, 1e-9),
        "{}",
        r.ci_high
    );
}

#[test]
fn two_proportion_and_srm_match_scipy() {
    // scipy.stats.chi2_contingency([[120, 880], [150, 850]], correction=False): chi2 = z^2.
    let r = two_proportion_z_test(120, 1000, 150, 1000, 0.95).unwrap();
    assert!(close(r.statistic, 1.963_049_807_622_355_3, 1e-12));
    assert!(close(r.p_value, 0.049_640_386_865_368_834, 1e-9));
    assert!(close(r.effect, 0.03, 1e-12));
    assert!(r.ci_low < 0.03 && r.ci_high > 0.03);
    // scipy.stats.chisquare([50421, 49102]) and chisquare([3300, 3350, 3350]).
    let s = srm_chi_square(&[50_421, 49_102], &[0.5, 0.5]).unwrap();
    assert!(close(s.chi_square, 17.480_994_343_016_19, 1e-12));
    assert!(close(s.p_value, 2.901_942_438_139_505e-5, 1e-8));
    assert!(s.mismatch);
    let s = srm_chi_square(&[3300, 3350, 3350], &[1.0, 1.0, 1.0]).unwrap();
    assert!(close(s.p_value, 0.778_800_783_071_404_9, 1e-10));
    assert!(!s.mismatch);
}

#[test]
fn two_proportion_counts_near_u64_max_do_not_overflow() {
    // x_a + x_b overflowed u64 (a panic in debug builds).
    let big = u64::MAX - 1;
    let r = two_proportion_z_test(big, u64::MAX, big, u64::MAX, 0.95).unwrap();
    assert!(r.effect.abs() < 1e-12);
    assert!(r.p_value.is_finite() && (0.0..=1.0).contains(&r.p_value));
}

#[test]
fn cuped_theta_is_the_ols_slope_and_reduces_variance() {
    // scipy.stats.linregress(x, y).slope
    let x = [3.0, 5.0, 2.0, 8.0, 6.0, 4.0, 7.0, 1.0];
    let y = [4.1, 6.3, 2.2, 9.4, 6.1, 5.5, 8.2, 1.9];
    assert!(close(cuped_theta(&y, &x), 1.063_095_238_095_238, 1e-12));

    let mut rng = Rng(77);
    let mut exp = Experiment::new(&["control", "treatment"], &[1.0, 1.0]).unwrap();
    exp.define_metric("revenue", MetricKind::Continuous);
    for user in 0..20_000u64 {
        let pre = rng.normal() * 10.0 + 100.0;
        let treated = user % 2 == 1;
        let post = 0.8 * pre + rng.normal() * 6.0 + if treated { 0.5 } else { 0.0 };
        exp.assign(user, if treated { "treatment" } else { "control" })
            .unwrap();
        exp.record(user, "revenue", post).unwrap();
        exp.record_covariate(user, "revenue", pre);
    }
    let plain = exp.analyze("revenue", &AnalysisOptions::default()).unwrap();
    let cuped = exp
        .analyze("revenue", &AnalysisOptions::default().with_cuped(true))
        .unwrap();
    // rho^2 = 64 / (64 + 36) = 0.64 of the variance goes away.
    let vr = cuped.variance_reduction.unwrap();
    assert!((vr - 0.64).abs() < 0.03, "variance reduction {vr}");
    let (wp, wc) = (
        plain.comparisons[0].ci_high - plain.comparisons[0].ci_low,
        cuped.comparisons[0].ci_high - cuped.comparisons[0].ci_low,
    );
    assert!(wc < 0.7 * wp, "CUPED interval {wc} vs {wp}");
    assert!(cuped.comparisons[0].p_value < 1e-4);
    assert!(cuped.comparisons[0].ci_low < 0.5 && 0.5 < cuped.comparisons[0].ci_high);
}

#[test]
fn experiment_readout_end_to_end() {
    let mut rng = Rng(11);
    let mut exp = Experiment::new(&["a", "b", "c"], &[2.0, 1.0, 1.0]).unwrap();
    exp.define_metric("clicked", MetricKind::Binary);
    exp.define_metric("revenue_per_session", MetricKind::Ratio);
    for user in 0..40_000u64 {
        let v = match rng.next_u64() % 4 {
            0 | 1 => "a",
            2 => "b",
            _ => "c",
        };
        exp.assign(user, v).unwrap();
        exp.assign(user, v).unwrap(); // duplicate exposure
        let p = match v {
            "a" | "b" => 0.10,
            _ => 0.13,
        };
        if rng.uniform() < p {
            exp.record(user, "clicked", 1.0).unwrap();
        }
        let sessions = 1.0 + (rng.uniform() * 4.0).floor();
        let rev = sessions * (2.0 + rng.normal() * 0.5) * if v == "b" { 1.1 } else { 1.0 };
        exp.record_ratio(user, "revenue_per_session", rev, sessions)
            .unwrap();
    }
    exp.assign(40_000, "a").unwrap();
    exp.assign(40_000, "b").unwrap(); // a conflicting reassignment is ignored and counted
    assert_eq!(exp.conflicts(), 1);
    let total: u64 = exp.exposures().iter().map(|e| e.1).sum();
    assert_eq!(total, 40_001);
    assert!(!exp.srm().mismatch);
    let clicks = exp.analyze("clicked", &AnalysisOptions::default()).unwrap();
    assert_eq!(clicks.comparisons.len(), 2);
    assert!(clicks.comparisons[0].p_value > 0.001, "b = a");
    assert!(clicks.comparisons[1].p_value < 1e-6, "c > a");
    let rps = exp
        .analyze("revenue_per_session", &AnalysisOptions::default())
        .unwrap();
    assert!(rps.comparisons[0].p_value < 1e-6 && rps.comparisons[0].relative_effect > 0.08);
    assert!(rps.comparisons[1].p_value > 0.001);
    assert!(exp.analyze("missing", &AnalysisOptions::default()).is_err());
}

#[test]
fn delta_method_intervals_cover_at_their_level() {
    let mut rng = Rng(3);
    let runs = 400;
    let mut covered = 0;
    for _ in 0..runs {
        let mut groups = [Vec::new(), Vec::new()];
        for g in &mut groups {
            for _ in 0..500 {
                let x = 1.0 + (rng.uniform() * 5.0).floor();
                let y = x * (3.0 + rng.normal()) + rng.normal();
                g.push((y, x));
            }
        }
        let r = delta_method_ratio_test(
            &RatioStats::from_pairs(&groups[0]),
            &RatioStats::from_pairs(&groups[1]),
            0.95,
        )
        .unwrap();
        if r.ci_low <= 0.0 && 0.0 <= r.ci_high {
            covered += 1;
        }
    }
    let rate = f64::from(covered) / f64::from(runs);
    assert!((0.92..=0.98).contains(&rate), "coverage {rate}");
}

#[test]
fn msprt_keeps_false_positives_under_alpha_when_peeking() {
    let mut rng = Rng(8);
    let (runs, peeks, batch) = (300, 40, 50);
    let (mut seq_fp, mut naive_fp, mut power) = (0, 0, 0);
    for run in 0..runs {
        let effect = if run % 2 == 0 { 0.0 } else { 0.4 };
        let mut seq = SequentialTest::new(0.1).unwrap();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut naive_rejected = false;
        for _ in 0..peeks {
            for _ in 0..batch {
                a.push(rng.normal());
                b.push(rng.normal() + effect);
            }
            let (ma, va) = mean_var(&a);
            let (mb, vb) = mean_var(&b);
            let p = seq.observe(mb - ma, va / a.len() as f64 + vb / b.len() as f64);
            let naive = welch_t_test(ma, va, a.len() as u64, mb, vb, b.len() as u64, 0.95).unwrap();
            naive_rejected |= naive.p_value < 0.05;
            let _ = p;
        }
        if effect == 0.0 {
            seq_fp += usize::from(seq.p_value() < 0.05);
            naive_fp += usize::from(naive_rejected);
        } else {
            power += usize::from(seq.p_value() < 0.05);
        }
    }
    let half = f64::from(runs / 2);
    let (seq_rate, naive_rate) = (seq_fp as f64 / half, naive_fp as f64 / half);
    assert!(seq_rate <= 0.06, "mSPRT false positives {seq_rate}");
    assert!(
        naive_rate > 0.12,
        "naive peeking should inflate false positives, got {naive_rate}"
    );
    assert!(
        power as f64 / half > 0.9,
        "mSPRT power {}",
        power as f64 / half
    );
}
