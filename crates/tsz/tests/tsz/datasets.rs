//! Compression ratios on real data: the 1024-value samples of the ALP paper's
//! benchmark datasets in `data/timeseries/` (see its README and licence).
//!
//! Prints bits/value for our Gorilla, Best (ALP) and Pack codecs next to
//! ALP's published figure and to pcodec (the `pco` crate at its default
//! level, computed in the same run), and fails if the bars regress.

use blocksmith_tsz::{Chunk, Codec, Policy, TimeUnit, best, gorilla, pack};
use pco::ChunkConfig;
use pco::standalone::simple_compress;
use std::path::PathBuf;

/// One sample file and its reference figures.
struct Dataset {
    file: &'static str,
    /// ALP's published bits/value on the full dataset (data README, the
    /// artifact's table), where the README has one for this file.
    published: Option<f64>,
    /// What ALP itself yields on this very 1024-value sample: the artifact's
    /// expected bit width plus its exceptions at 80 bits each (64-bit value +
    /// 16-bit position), from the per-sample (exceptions, bit width) columns
    /// of `data/include/double_columns.hpp` in the ALP repository.
    alp_on_sample: Option<f64>,
    /// Decimal data (ALP's scheme); `false` for high-precision doubles.
    decimal: bool,
}

const fn ds(
    file: &'static str,
    published: Option<f64>,
    exc_bw: Option<(u32, u32)>,
    decimal: bool,
) -> Dataset {
    let alp_on_sample = match exc_bw {
        Some((exc, bw)) => Some(bw as f64 + exc as f64 * 80.0 / 1024.0),
        None => None,
    };
    Dataset {
        file,
        published,
        alp_on_sample,
        decimal,
    }
}

/// `air_sensor_f` holds 15-17 significant digit doubles (ALP_rd territory);
/// the README pairs it with "Air-Pressure 16.43", but ALP's artifact computes
/// that figure on `neon_air_pressure.csv`, which is not among the samples, so
/// no published figure applies to it. `stocks_de` has no figure in the README.
const DATASETS: &[Dataset] = &[
    ds("air_sensor_f", None, None, false),
    ds("arade4", Some(24.94), Some((8, 24)), true),
    ds("basel_temp_f", Some(29.66), Some((47, 28)), true),
    ds("bird_migration_f", Some(20.14), Some((2, 17)), true),
    ds("bitcoin_transactions_f", Some(36.22), Some((11, 30)), true),
    ds("cms1", Some(35.66), Some((10, 41)), true),
    ds("cms9", Some(11.68), Some((2, 10)), true),
    ds("cms25", Some(41.11), Some((6, 42)), true),
    ds("neon_dew_point_temp", Some(13.39), Some((6, 13)), true),
    ds("neon_bio_temp_c", Some(10.75), Some((0, 10)), true),
    ds("gov10", Some(31.00), Some((72, 27)), true),
    ds("gov30", Some(7.48), Some((4, 0)), true),
    ds("gov31", Some(3.06), Some((1, 0)), true),
    ds("gov40", Some(0.85), Some((3, 0)), true),
    ds("medicare1", Some(39.37), Some((37, 38)), true),
    ds("neon_pm10_dust", Some(8.67), Some((0, 8)), true),
    ds("poi_lon", Some(56.47), None, false),
    ds("ssd_hdd_benchmarks_f", Some(16.21), Some((0, 17)), true),
    ds("stocks_uk", Some(12.59), Some((0, 9)), true),
    ds("neon_wind_dir", Some(15.89), Some((0, 16)), true),
    ds("stocks_de", None, Some((5, 10)), true),
];

/// Samples on which ALP itself lands more than 10% above its full-dataset
/// figure (its own expected result on the sample is in `alp_on_sample`), so
/// the published bar cannot apply: cms1's sample needs 41 bits at ALP's
/// chosen exponent where the full dataset averages 35.66.
const SAMPLE_HARDER_THAN_DATASET: &[&str] = &["cms1"];

pub(crate) fn load(name: &str) -> Vec<f64> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "data",
        "timeseries",
        &format!("{name}.csv"),
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .parse::<f64>()
                .unwrap_or_else(|e| panic!("{name}: {l:?}: {e}"))
        })
        .collect()
}

fn bits_per_value(bytes: usize, n: usize) -> f64 {
    bytes as f64 * 8.0 / n as f64
}

#[test]
fn bits_per_value_on_real_datasets() {
    println!(
        "{:<24} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} | {:>8} {:>8} {:>8}",
        "dataset",
        "gorilla",
        "best",
        "pack",
        "pco",
        "ALP pub",
        "ALP smpl",
        "best/pub",
        "chunk G",
        "chunk A",
        "chunk P"
    );
    let fmt = |x: Option<f64>, p: usize| x.map_or("-".to_string(), |v| format!("{v:.p$}"));
    let (mut sum_g, mut sum_b, mut sum_p, mut sum_pco) = (0.0, 0.0, 0.0, 0.0);
    let (mut dec_ours, mut dec_pub) = (0.0, 0.0);
    let mut failures = Vec::new();
    for d in DATASETS {
        let vals = load(d.file);
        assert_eq!(vals.len(), 1024, "{}", d.file);
        let g = gorilla::encode_values(&vals);
        let b = best::encode_values(&vals);
        let p = pack::encode_values(&vals);
        let pco = simple_compress(&vals, &ChunkConfig::default()).unwrap();
        // Lossless check on the real data.
        for decoded in [
            gorilla::decode_values(&g, vals.len()).unwrap(),
            best::decode_values(&b, vals.len()).unwrap(),
            pack::decode_values(&p, vals.len()).unwrap(),
        ] {
            assert!(
                vals.iter()
                    .zip(&decoded)
                    .all(|(x, y)| x.to_bits() == y.to_bits())
            );
        }
        // Whole chunks with regular one-second timestamps (header, CRCs and timestamps included).
        let points: Vec<(i64, f64)> = vals
            .iter()
            .enumerate()
            .map(|(i, &v)| (1_700_000_000 + i as i64, v))
            .collect();
        let cg = Chunk::encode(&points, TimeUnit::Seconds, Policy::Gorilla).unwrap();
        let cb = Chunk::encode(&points, TimeUnit::Seconds, Policy::Alp).unwrap();
        let cp = Chunk::encode(&points, TimeUnit::Seconds, Policy::Best).unwrap();
        assert_eq!(Chunk::decode(&cb).unwrap().1, points);
        let back = Chunk::decode(&cp).unwrap().1;
        assert!(
            back.iter()
                .zip(&points)
                .all(|(x, y)| x.0 == y.0 && x.1.to_bits() == y.1.to_bits())
        );
        assert!(
            cp.len() <= cg.len(),
            "{}: Best chunk above Gorilla's",
            d.file
        );
        assert_eq!(Chunk::peek(&cp).unwrap().codec, Codec::Pack, "{}", d.file);

        let (bg, bb, bp, bpco) = (
            bits_per_value(g.len(), vals.len()),
            bits_per_value(b.len(), vals.len()),
            bits_per_value(p.len(), vals.len()),
            bits_per_value(pco.len(), vals.len()),
        );
        sum_g += bg;
        sum_b += bb;
        sum_p += bp;
        sum_pco += bpco;
        if bp > bg {
            failures.push(format!("{}: Pack {bp:.2} above Gorilla {bg:.2}", d.file));
        }
        println!(
            "{:<24} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8} {:>8} {:>9} | {:>8.2} {:>8.2} {:>8.2}",
            d.file,
            bg,
            bb,
            bp,
            bpco,
            fmt(d.published, 2),
            fmt(d.alp_on_sample, 2),
            fmt(d.published.map(|p| bb / p), 3),
            bits_per_value(cg.len(), vals.len()),
            bits_per_value(cb.len(), vals.len()),
            bits_per_value(cp.len(), vals.len()),
        );
        // +0.1 bit of slack for the near-zero gov datasets (per-vector header bytes).
        if let Some(s) = d.alp_on_sample.filter(|&s| bb > 1.10 * s + 0.1) {
            failures.push(format!(
                "{}: {bb:.2} > 110% of ALP on the sample ({s:.2})",
                d.file
            ));
        }
        if let Some(p) = d.published {
            if d.decimal {
                dec_ours += bb;
                dec_pub += p;
            }
            if !SAMPLE_HARDER_THAN_DATASET.contains(&d.file) && bb > 1.10 * p {
                failures.push(format!(
                    "{}: {bb:.2} > 110% of ALP published ({p:.2})",
                    d.file
                ));
            }
        }
    }
    let n = DATASETS.len() as f64;
    let (avg_g, avg_b, avg_p, avg_pco) = (sum_g / n, sum_b / n, sum_p / n, sum_pco / n);
    println!(
        "{:<24} {:>8.2} {:>8.2} {:>8.2} {:>8.2}   (Best saves {:.1}% vs Gorilla, Pack {:.1}%; \
         on decimal datasets with a published figure Best totals {dec_ours:.1} vs ALP's \
         {dec_pub:.1})",
        "AVERAGE",
        avg_g,
        avg_b,
        avg_p,
        avg_pco,
        100.0 * (1.0 - avg_b / avg_g),
        100.0 * (1.0 - avg_p / avg_g)
    );
    assert!(
        avg_p <= avg_pco,
        "Pack must average at most pco's bits/value ({avg_p:.2} > {avg_pco:.2})"
    );
    assert!(
        avg_b <= 0.60 * avg_g,
        "Best must average >= 40% fewer bits than Gorilla"
    );
    assert!(
        dec_ours <= 1.10 * dec_pub,
        "Best must stay within 10% of ALP overall"
    );
    assert!(failures.is_empty(), "{failures:#?}");
}
