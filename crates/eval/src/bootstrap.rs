//! 95% intervals for AUROC and TPR at a fixed FPR: a stratified bootstrap over documents.
//!
//! Why: TPR at 1% FPR rests on the few human documents above the threshold (20 of dev's 1,998), so two
//! detectors a point or two apart are often not distinguishable. A report that gives the interval says so.
//!
//! * Stratified: each resample draws as many machine and as many human documents as the data has (with
//!   replacement), so every resample has both classes in the data's proportions.
//! * Percentile intervals (the `(1 - level) / 2` and `(1 + level) / 2` quantiles of the resampled values,
//!   linear interpolation as numpy's default).
//! * Cheap: a resample only changes how many documents each tie block of the original curve holds, so its
//!   curve is the same thresholds with new cumulative counts, and AUROC and TPR@FPR come from
//!   [`BinaryCurve`]'s own code: one sort in all, then `O(n)` per resample.
//! * Paired and reproducible: every call draws from the same seed by document position, so two score
//!   columns without NaN over the same documents are judged on the same resamples, and a re-run gives the
//!   same intervals.

use serde::{Deserialize, Serialize};

use super::metrics::BinaryCurve;
use super::rng::Rng;
use super::{EvalError, Result};

/// Interval bounds `[low, high]` of a report row's metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intervals {
    /// Coverage, e.g. 0.95.
    pub level: f64,
    /// Number of resamples.
    pub resamples: usize,
    /// AUROC interval.
    pub auroc: [f64; 2],
    /// TPR interval at each FPR target, in the order of the targets.
    pub tpr_at_fpr: Vec<[f64; 2]>,
}

/// How the intervals are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BootstrapOptions {
    pub resamples: usize,
    pub level: f64,
    pub seed: u64,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        BootstrapOptions { resamples: 1000, level: 0.95, seed: 0x5EED }
    }
}

/// Bootstrap intervals of AUROC and of TPR at each of `fpr_targets` (NaN scores excluded, as everywhere).
/// Errors: length mismatch, a target outside [0, 1], no resamples, a level outside (0, 1), or a class
/// missing (the metrics are undefined).
pub fn bootstrap_intervals(
    scores: &[f64],
    labels: &[bool],
    fpr_targets: &[f64],
    opts: &BootstrapOptions,
) -> Result<Intervals> {
    curve_intervals(&BinaryCurve::new(scores, labels)?, scores, labels, fpr_targets, opts)
}

/// [`bootstrap_intervals`] for a caller that has built the curve of `scores` and `labels` already.
pub fn curve_intervals(
    curve: &BinaryCurve,
    scores: &[f64],
    labels: &[bool],
    fpr_targets: &[f64],
    opts: &BootstrapOptions,
) -> Result<Intervals> {
    if opts.resamples == 0 {
        return Err(EvalError::InvalidArgument("the bootstrap needs at least one resample".into()));
    }
    if !(opts.level > 0.0 && opts.level < 1.0) {
        return Err(EvalError::InvalidArgument(format!("interval level {} not in (0, 1)", opts.level)));
    }
    curve.auroc()?; // both classes present
    for &t in fpr_targets {
        curve.tpr_at_fpr(t)?; // validates the target
    }
    let (machine, human) = block_members(curve, scores, labels);
    let mut rng = Rng::new(opts.seed);
    let mut resampled = curve.clone();
    let (mut machine_counts, mut human_counts) =
        (vec![0u64; curve.thresholds.len()], vec![0u64; curve.thresholds.len()]);
    let mut auroc = Vec::with_capacity(opts.resamples);
    let mut tpr: Vec<Vec<f64>> = vec![Vec::with_capacity(opts.resamples); fpr_targets.len()];
    for _ in 0..opts.resamples {
        draw(&machine, &mut machine_counts, &mut rng);
        draw(&human, &mut human_counts, &mut rng);
        set_block_counts(&mut resampled, &machine_counts, &human_counts);
        auroc.push(resampled.auroc()?);
        for (values, &t) in tpr.iter_mut().zip(fpr_targets) {
            values.push(resampled.tpr_at_fpr(t)?);
        }
    }
    let q = [(1.0 - opts.level) / 2.0, (1.0 + opts.level) / 2.0];
    Ok(Intervals {
        level: opts.level,
        resamples: opts.resamples,
        auroc: interval(auroc, q),
        tpr_at_fpr: tpr.into_iter().map(|v| interval(v, q)).collect(),
    })
}

/// The tie block (index into `curve.thresholds`) of each non-NaN machine and human document, in input order.
fn block_members(curve: &BinaryCurve, scores: &[f64], labels: &[bool]) -> (Vec<u32>, Vec<u32>) {
    let (mut machine, mut human) = (Vec::new(), Vec::new());
    for (&s, &l) in scores.iter().zip(labels) {
        if s.is_nan() {
            continue;
        }
        // Thresholds are the distinct scores, descending (-0.0 folded into 0.0 as BinaryCurve does).
        let s = s + 0.0;
        let block = curve.thresholds.partition_point(|&t| t > s) as u32;
        if l {
            machine.push(block)
        } else {
            human.push(block)
        }
    }
    (machine, human)
}

/// One resample of a class: as many draws with replacement as it has members, counted per block.
fn draw(members: &[u32], counts: &mut [u64], rng: &mut Rng) {
    counts.fill(0);
    for _ in 0..members.len() {
        counts[members[rng.below(members.len() as u64) as usize] as usize] += 1;
    }
}

/// Rewrites `curve`'s cumulative counts from per-block counts (its thresholds stay). A block a resample
/// left empty repeats the previous ROC point, which changes neither AUROC nor any operating point.
fn set_block_counts(curve: &mut BinaryCurve, machine: &[u64], human: &[u64]) {
    let (mut tp, mut fp) = (0u64, 0u64);
    for i in 0..curve.thresholds.len() {
        tp += machine[i];
        fp += human[i];
        curve.tps[i] = tp;
        curve.fps[i] = fp;
    }
    curve.n_pos = tp;
    curve.n_neg = fp;
}

fn interval(mut values: Vec<f64>, q: [f64; 2]) -> [f64; 2] {
    values.sort_unstable_by(f64::total_cmp);
    q.map(|q| quantile(&values, q))
}

/// numpy's default (linear) quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, frac) = (pos.floor() as usize, pos - pos.floor());
    if lo + 1 < sorted.len() {
        sorted[lo] + frac * (sorted[lo + 1] - sorted[lo])
    } else {
        sorted[lo]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::Rng as TestRng;

    fn binormal(n_machine: usize, n_human: usize, shift: f64, seed: u64) -> (Vec<f64>, Vec<bool>) {
        let mut rng = TestRng::new(seed);
        let mut scores = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n_machine + n_human {
            let machine = i < n_machine;
            // Rounded to 2 decimals: plenty of ties, as real scores have.
            scores.push(((rng.normal() + if machine { shift } else { 0.0 }) * 100.0).round() / 100.0);
            labels.push(machine);
        }
        (scores, labels)
    }

    /// The block-count shortcut gives exactly what a curve built from the materialized resample gives.
    #[test]
    fn block_counts_equal_a_materialized_resample() {
        let (mut scores, labels) = binormal(150, 250, 1.0, 7);
        scores[3] = f64::NAN;
        scores[200] = -0.0;
        let curve = BinaryCurve::new(&scores, &labels).unwrap();
        let (machine, human) = block_members(&curve, &scores, &labels);
        let by_class = |want: bool| -> Vec<f64> {
            scores.iter().zip(&labels).filter(|(s, &l)| !s.is_nan() && l == want).map(|(&s, _)| s).collect()
        };
        let (machine_scores, human_scores) = (by_class(true), by_class(false));
        let mut rng = TestRng::new(11);
        let mut resampled = curve.clone();
        for _ in 0..20 {
            let pick =
                |n: usize, rng: &mut TestRng| -> Vec<usize> { (0..n).map(|_| rng.below(n as u64) as usize).collect() };
            let (mi, hi) = (pick(machine.len(), &mut rng), pick(human.len(), &mut rng));
            let mut mc = vec![0u64; curve.thresholds.len()];
            let mut hc = vec![0u64; curve.thresholds.len()];
            mi.iter().for_each(|&i| mc[machine[i] as usize] += 1);
            hi.iter().for_each(|&i| hc[human[i] as usize] += 1);
            set_block_counts(&mut resampled, &mc, &hc);
            let mut s: Vec<f64> = mi.iter().map(|&i| machine_scores[i]).collect();
            s.extend(hi.iter().map(|&i| human_scores[i]));
            let l: Vec<bool> = (0..s.len()).map(|k| k < mi.len()).collect();
            let direct = BinaryCurve::new(&s, &l).unwrap();
            assert_eq!(resampled.auroc().unwrap(), direct.auroc().unwrap());
            for t in [0.0, 0.01, 0.05, 0.5] {
                assert_eq!(resampled.tpr_at_fpr(t).unwrap(), direct.tpr_at_fpr(t).unwrap(), "target {t}");
            }
        }
    }

    /// The interval holds the point estimate, is reproducible, and its width follows the known standard
    /// error of AUROC (Hanley & McNeil 1982) and shrinks as 1/sqrt(n).
    #[test]
    fn intervals_match_the_standard_error() {
        let opts = BootstrapOptions::default();
        let hanley_mcneil = |a: f64, m: f64, h: f64| {
            let (q1, q2) = (a / (2.0 - a), 2.0 * a * a / (1.0 + a));
            ((a * (1.0 - a) + (m - 1.0) * (q1 - a * a) + (h - 1.0) * (q2 - a * a)) / (m * h)).sqrt()
        };
        let mut widths = Vec::new();
        for n in [200usize, 3200] {
            let (scores, labels) = binormal(n, n, 1.5, 3);
            let ci = bootstrap_intervals(&scores, &labels, &[0.01, 0.05], &opts).unwrap();
            let point = crate::auroc(&scores, &labels).unwrap();
            assert!(ci.auroc[0] <= point && point <= ci.auroc[1], "{ci:?} vs {point}");
            let tpr5 = crate::tpr_at_fpr(&scores, &labels, 0.05).unwrap();
            assert!(ci.tpr_at_fpr[1][0] <= tpr5 && tpr5 <= ci.tpr_at_fpr[1][1]);
            let expected = 2.0 * 1.96 * hanley_mcneil(point, n as f64, n as f64);
            let width = ci.auroc[1] - ci.auroc[0];
            assert!((width / expected - 1.0).abs() < 0.2, "n {n}: width {width} vs {expected}");
            widths.push(width);
            assert_eq!(bootstrap_intervals(&scores, &labels, &[0.01, 0.05], &opts).unwrap(), ci);
        }
        // 16x the documents: a quarter of the width.
        assert!((widths[0] / widths[1] - 4.0).abs() < 1.0, "{widths:?}");
    }

    #[test]
    fn errors() {
        let opts = BootstrapOptions::default();
        assert!(bootstrap_intervals(&[0.1, 0.2], &[true, true], &[0.01], &opts).is_err());
        assert!(bootstrap_intervals(&[0.1, 0.2], &[true, false], &[1.5], &opts).is_err());
        let none = BootstrapOptions { resamples: 0, ..opts };
        assert!(bootstrap_intervals(&[0.1, 0.2], &[true, false], &[0.01], &none).is_err());
        let level = BootstrapOptions { level: 1.0, ..opts };
        assert!(bootstrap_intervals(&[0.1, 0.2], &[true, false], &[0.01], &level).is_err());
    }

    #[test]
    fn quantile_is_numpys_linear_one() {
        let v = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 8.0);
        assert_eq!(quantile(&v, 0.5), 3.0); // np.quantile([1,2,4,8], .5)
        assert!((quantile(&v, 0.025) - 1.075).abs() < 1e-12); // np.quantile([1,2,4,8], .025)
    }
}
