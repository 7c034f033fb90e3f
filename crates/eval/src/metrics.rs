//! Binary-detection metrics, numerically matching scikit-learn.
//!
//! Every function takes `scores` (higher = more likely machine) and `labels`
//! (`true` = machine = positive class) of equal length.
//!
//! **NaN policy.** Observations whose score is NaN are excluded before any
//! computation; how many were excluded is reported in `n_nan` of the returned
//! structs ([`BinaryCurve::n_nan`], [`RocCurve::n_nan`], [`Confusion::n_nan`],
//! [`FprThreshold::n_nan`]). `±inf` scores are kept as ordinary values.
//!
//! **Cost.** Building a [`BinaryCurve`] sorts once (`O(n log n)`); every metric
//! derived from it is then `O(k)` in the number `k <= n` of distinct scores
//! (or `O(log k)` for [`BinaryCurve::confusion_at`]). The free functions each
//! build their own curve; build a [`BinaryCurve`] once when you need several
//! metrics for the same column.

use serde::{Deserialize, Serialize};

use super::{check_len, EvalError, Result};

/// Cumulative counts at each distinct score, scanned from the highest score
/// down: the equivalent of sklearn's private `_binary_clf_curve`.
///
/// `tps[i]` / `fps[i]` = number of machine / human texts with
/// `score >= thresholds[i]`; `thresholds` is strictly decreasing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinaryCurve {
    /// Distinct non-NaN scores, strictly decreasing.
    pub thresholds: Vec<f64>,
    /// Cumulative true positives at each threshold.
    pub tps: Vec<u64>,
    /// Cumulative false positives at each threshold.
    pub fps: Vec<u64>,
    /// Number of machine (positive) texts with a non-NaN score.
    pub n_pos: u64,
    /// Number of human (negative) texts with a non-NaN score.
    pub n_neg: u64,
    /// Number of texts excluded because their score was NaN.
    pub n_nan: u64,
}

/// ROC curve with sklearn's `roc_curve(..., drop_intermediate=False)` semantics:
/// a first point `(0, 0)` with threshold `+inf`, then one point per distinct
/// score in decreasing order; the last point is `(1, 1)`.
/// (`+inf` serialises to JSON `null`.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocCurve {
    /// False-positive rate `fps / n_neg` at each threshold (non-decreasing).
    pub fpr: Vec<f64>,
    /// True-positive rate `tps / n_pos` at each threshold (non-decreasing).
    pub tpr: Vec<f64>,
    /// Thresholds (decreasing); `thresholds[0] == f64::INFINITY`.
    pub thresholds: Vec<f64>,
    /// Positives used.
    pub n_pos: u64,
    /// Negatives used.
    pub n_neg: u64,
    /// NaN scores excluded.
    pub n_nan: u64,
}

/// One point of the ROC curve: flag iff `score >= threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    /// The inclusive decision threshold (`+inf` = flag nothing).
    pub threshold: f64,
    /// False-positive rate at this threshold.
    pub fpr: f64,
    /// True-positive rate (recall) at this threshold.
    pub tpr: f64,
}

/// Confusion matrix and derived metrics at a fixed threshold (flag iff
/// `score >= threshold`). Ratios whose denominator is zero are reported as
/// `0.0`, like sklearn's default `zero_division` behaviour (minus the warning).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// The threshold used.
    pub threshold: f64,
    /// Machine texts flagged.
    pub tp: u64,
    /// Human texts flagged.
    pub fp: u64,
    /// Human texts not flagged.
    pub tn: u64,
    /// Machine texts not flagged.
    #[serde(rename = "fn")]
    pub fn_: u64,
    /// NaN scores excluded (neither flagged nor counted).
    pub n_nan: u64,
    /// `tp / (tp + fp)`.
    pub precision: f64,
    /// `tp / (tp + fn)` (= TPR).
    pub recall: f64,
    /// `2 tp / (2 tp + fp + fn)`.
    pub f1: f64,
    /// `(tp + tn) / n`.
    pub accuracy: f64,
    /// `fp / (fp + tn)`.
    pub fpr: f64,
}

/// Result of [`threshold_for_fpr`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FprThreshold {
    /// The chosen inclusive threshold (flag iff `score >= threshold`).
    pub threshold: f64,
    /// The target false-positive rate that was asked for.
    pub target_fpr: f64,
    /// Fraction of the (non-NaN) human scores that are `>= threshold`;
    /// always `<= target_fpr`.
    pub achieved_fpr: f64,
    /// Number of human scores `>= threshold`.
    pub n_flagged: u64,
    /// Number of non-NaN human scores used.
    pub n_human: u64,
    /// NaN human scores excluded.
    pub n_nan: u64,
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

impl Confusion {
    fn from_counts(threshold: f64, tp: u64, fp: u64, tn: u64, fn_: u64, n_nan: u64) -> Self {
        Confusion {
            threshold,
            tp,
            fp,
            tn,
            fn_,
            n_nan,
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
            f1: ratio(2 * tp, 2 * tp + fp + fn_),
            accuracy: ratio(tp + tn, tp + fp + tn + fn_),
            fpr: ratio(fp, fp + tn),
        }
    }
}

fn validate_target(target: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&target) {
        return Err(EvalError::InvalidArgument(format!("target FPR must be in [0, 1], got {target}")));
    }
    Ok(())
}

impl BinaryCurve {
    /// Sorts the non-NaN scores once and accumulates counts per distinct score.
    ///
    /// Errors: length mismatch, or no non-NaN score at all.
    pub fn new(scores: &[f64], labels: &[bool]) -> Result<Self> {
        check_len("labels", labels.len(), scores.len())?;
        let mut pairs: Vec<(f64, bool)> = Vec::with_capacity(scores.len());
        let mut n_nan = 0u64;
        for (&s, &l) in scores.iter().zip(labels) {
            if s.is_nan() {
                n_nan += 1;
            } else {
                // `+ 0.0` maps -0.0 to 0.0 so that total_cmp groups them.
                pairs.push((s + 0.0, l));
            }
        }
        if pairs.is_empty() {
            return Err(EvalError::Empty { n_nan: n_nan as usize });
        }
        // Descending by score. Order inside a tie block is irrelevant: only
        // block totals are recorded.
        pairs.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
        let mut thresholds = Vec::new();
        let mut tps = Vec::new();
        let mut fps = Vec::new();
        let (mut tp, mut fp) = (0u64, 0u64);
        for (i, &(s, l)) in pairs.iter().enumerate() {
            if l {
                tp += 1;
            } else {
                fp += 1;
            }
            // Close the block when the next score differs (or at the end).
            if i + 1 == pairs.len() || pairs[i + 1].0 != s {
                thresholds.push(s);
                tps.push(tp);
                fps.push(fp);
            }
        }
        Ok(BinaryCurve { thresholds, tps, fps, n_pos: tp, n_neg: fp, n_nan })
    }

    fn need_both(&self) -> Result<()> {
        if self.n_pos == 0 {
            return Err(EvalError::Undefined("no machine (positive) examples"));
        }
        if self.n_neg == 0 {
            return Err(EvalError::Undefined("no human (negative) examples"));
        }
        Ok(())
    }

    /// The full ROC curve (`drop_intermediate=False`). Needs both classes.
    pub fn roc(&self) -> Result<RocCurve> {
        self.need_both()?;
        let (p, n) = (self.n_pos as f64, self.n_neg as f64);
        let k = self.thresholds.len() + 1;
        let mut fpr = Vec::with_capacity(k);
        let mut tpr = Vec::with_capacity(k);
        let mut thresholds = Vec::with_capacity(k);
        fpr.push(0.0);
        tpr.push(0.0);
        thresholds.push(f64::INFINITY);
        for i in 0..self.thresholds.len() {
            fpr.push(self.fps[i] as f64 / n);
            tpr.push(self.tps[i] as f64 / p);
            thresholds.push(self.thresholds[i]);
        }
        Ok(RocCurve { fpr, tpr, thresholds, n_pos: self.n_pos, n_neg: self.n_neg, n_nan: self.n_nan })
    }

    /// Area under the ROC curve, trapezoidal over tie blocks — identical to
    /// sklearn's `roc_auc_score` and to the Mann–Whitney U statistic with tied
    /// pairs counted as 1/2: `AUC = P(s_machine > s_human) + ½ P(s_machine = s_human)`.
    ///
    /// Computed exactly in integers (`Σ Δfp·(tp_prev + tp) / (2·P·N)`), then
    /// rounded once. Needs both classes.
    pub fn auroc(&self) -> Result<f64> {
        self.need_both()?;
        let mut acc: u128 = 0;
        let (mut tp_prev, mut fp_prev) = (0u64, 0u64);
        for i in 0..self.thresholds.len() {
            let dfp = (self.fps[i] - fp_prev) as u128;
            acc += dfp * (tp_prev as u128 + self.tps[i] as u128);
            tp_prev = self.tps[i];
            fp_prev = self.fps[i];
        }
        let den = 2u128 * self.n_pos as u128 * self.n_neg as u128;
        Ok(acc as f64 / den as f64)
    }

    /// Average precision (the step-wise AUPRC) exactly as sklearn's
    /// `average_precision_score`: `AP = Σ_k (R_k − R_{k−1}) · P_k` over distinct
    /// thresholds in decreasing order, `R_0 = 0` — no interpolation.
    /// Needs at least one positive (negatives may be absent: AP is then 1).
    pub fn average_precision(&self) -> Result<f64> {
        if self.n_pos == 0 {
            return Err(EvalError::Undefined("no machine (positive) examples"));
        }
        let p = self.n_pos as f64;
        let mut ap = 0.0;
        let mut tp_prev = 0u64;
        for i in 0..self.thresholds.len() {
            let dtp = self.tps[i] - tp_prev;
            if dtp > 0 {
                let precision = self.tps[i] as f64 / (self.tps[i] + self.fps[i]) as f64;
                ap += (dtp as f64 / p) * precision;
            }
            tp_prev = self.tps[i];
        }
        Ok(ap)
    }

    /// The best operating point whose FPR does not exceed `target`:
    /// among the ROC points `(fpr_i, tpr_i)` (including the `(0, 0)` point at
    /// threshold `+inf`) with `fpr_i <= target`, the one with maximal TPR
    /// (and, among equal TPRs, the largest threshold).
    ///
    /// No interpolation between ROC points: the result is an achievable
    /// threshold rule on this data. `fpr_i` is computed as `fp_i as f64 / N as
    /// f64`, exactly like sklearn's `fpr` array. Needs both classes;
    /// `target` must lie in `[0, 1]`.
    pub fn operating_point_at_fpr(&self, target: f64) -> Result<OperatingPoint> {
        validate_target(target)?;
        self.need_both()?;
        let (p, n) = (self.n_pos as f64, self.n_neg as f64);
        // fps is non-decreasing, so the admissible points form a prefix, and
        // tps is non-decreasing, so the last admissible point has max TPR.
        let mut best = OperatingPoint { threshold: f64::INFINITY, fpr: 0.0, tpr: 0.0 };
        for i in 0..self.thresholds.len() {
            let fpr = self.fps[i] as f64 / n;
            if fpr > target {
                break;
            }
            let tpr = self.tps[i] as f64 / p;
            if tpr > best.tpr {
                best = OperatingPoint { threshold: self.thresholds[i], fpr, tpr };
            }
        }
        Ok(best)
    }

    /// `operating_point_at_fpr(target).tpr`: max TPR over ROC points with
    /// FPR `<= target`.
    pub fn tpr_at_fpr(&self, target: f64) -> Result<f64> {
        Ok(self.operating_point_at_fpr(target)?.tpr)
    }

    /// Confusion metrics at `threshold` (flag iff `score >= threshold`) in
    /// `O(log k)`. `threshold` must not be NaN.
    pub fn confusion_at(&self, threshold: f64) -> Result<Confusion> {
        if threshold.is_nan() {
            return Err(EvalError::InvalidArgument("threshold is NaN".into()));
        }
        // Number of distinct scores >= threshold (thresholds are decreasing).
        let k = self.thresholds.partition_point(|&s| s >= threshold);
        let (tp, fp) = if k == 0 { (0, 0) } else { (self.tps[k - 1], self.fps[k - 1]) };
        Ok(Confusion::from_counts(threshold, tp, fp, self.n_neg - fp, self.n_pos - tp, self.n_nan))
    }
}

/// sklearn `roc_curve(labels, scores, drop_intermediate=False)`; NaN scores
/// excluded. Errors if either class is absent (sklearn warns and returns NaN).
pub fn roc_curve(scores: &[f64], labels: &[bool]) -> Result<RocCurve> {
    BinaryCurve::new(scores, labels)?.roc()
}

/// sklearn `roc_auc_score`: ties between a machine and a human score count ½.
pub fn auroc(scores: &[f64], labels: &[bool]) -> Result<f64> {
    BinaryCurve::new(scores, labels)?.auroc()
}

/// sklearn `average_precision_score` (AUPRC without interpolation).
pub fn average_precision(scores: &[f64], labels: &[bool]) -> Result<f64> {
    BinaryCurve::new(scores, labels)?.average_precision()
}

/// Max TPR over the ROC points with FPR `<= target` (see
/// [`BinaryCurve::operating_point_at_fpr`] for the exact definition).
pub fn tpr_at_fpr(scores: &[f64], labels: &[bool], target: f64) -> Result<f64> {
    BinaryCurve::new(scores, labels)?.tpr_at_fpr(target)
}

/// Confusion-matrix metrics at an inclusive threshold, `O(n)`.
pub fn confusion_at(scores: &[f64], labels: &[bool], threshold: f64) -> Result<Confusion> {
    check_len("labels", labels.len(), scores.len())?;
    if threshold.is_nan() {
        return Err(EvalError::InvalidArgument("threshold is NaN".into()));
    }
    let (mut tp, mut fp, mut tn, mut fn_, mut n_nan) = (0u64, 0u64, 0u64, 0u64, 0u64);
    for (&s, &l) in scores.iter().zip(labels) {
        if s.is_nan() {
            n_nan += 1;
            continue;
        }
        match (s >= threshold, l) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, false) => tn += 1,
            (false, true) => fn_ += 1,
        }
    }
    if tp + fp + tn + fn_ == 0 {
        return Err(EvalError::Empty { n_nan: n_nan as usize });
    }
    Ok(Confusion::from_counts(threshold, tp, fp, tn, fn_, n_nan))
}

/// How many of `n` human reference documents a threshold may flag so that the true false-positive rate is
/// at most `target` with probability `confidence`: the largest `k` whose one-sided Clopper-Pearson upper
/// bound stays within `target`, i.e. with `P(Binomial(n, target) <= k) <= 1 - confidence`. `confidence = 0`
/// gives the plain `floor(target · n)`. `None` when even `k = 0` is not enough (too few documents).
///
/// Why: the empirical 1 % point of a thousand pages overshoots 1 % on new pages about half of the time.
pub fn confident_fp_budget(n: usize, target: f64, confidence: f64) -> Result<Option<usize>> {
    validate_target(target)?;
    if !(0.0..1.0).contains(&confidence) {
        return Err(EvalError::InvalidArgument(format!("confidence {confidence} must be in [0, 1)")));
    }
    if confidence == 0.0 || target == 0.0 {
        return Ok(Some((target * n as f64).floor() as usize));
    }
    if target >= 1.0 {
        return Ok(Some(n));
    }
    // Binomial CDF term by term in log space: log C(n,i) p^i (1-p)^(n-i), from i = 0 up.
    let (lp, lq) = (target.ln(), (-target).ln_1p());
    let mut log_term = n as f64 * lq;
    let mut log_cdf = log_term;
    let limit = (1.0 - confidence).ln();
    if log_cdf > limit {
        return Ok(None);
    }
    for k in 0..n {
        log_term += ((n - k) as f64).ln() - ((k + 1) as f64).ln() + lp - lq;
        let hi = log_cdf.max(log_term);
        log_cdf = hi + ((log_cdf - hi).exp() + (log_term - hi).exp()).ln();
        if log_cdf > limit {
            return Ok(Some(k));
        }
    }
    Ok(Some(n))
}

/// The smallest threshold `t` such that the fraction of (non-NaN) human
/// scores with `score >= t` is `<= target`.
///
/// Let `n` be the number of human scores and `k` the largest integer with
/// `k as f64 / n as f64 <= target` (the number of humans we may flag). With
/// `h_(k+1)` the (k+1)-th largest human score, exactly the thresholds
/// `t > h_(k+1)` qualify, so the answer is the smallest `f64` above it,
/// `h_(k+1).next_up()`. (This flags at most `k` humans — fewer when `h_(k+1)`
/// is tied with higher scores, since ties cannot be split.) If `k >= n` every
/// threshold qualifies and the result is `-inf`.
///
/// `O(n)` (selection, no full sort). Errors: no non-NaN human score, `target`
/// outside `[0, 1]`, or `h_(k+1) = +inf` (no threshold can exclude it).
pub fn threshold_for_fpr(human_scores: &[f64], target: f64) -> Result<FprThreshold> {
    validate_target(target)?;
    let mut h: Vec<f64> = human_scores.iter().copied().filter(|s| !s.is_nan()).collect();
    let n_nan = (human_scores.len() - h.len()) as u64;
    let n = h.len();
    if n == 0 {
        return Err(EvalError::Empty { n_nan: n_nan as usize });
    }
    let nf = n as f64;
    // Largest k with k/n <= target, computed with the same float division used
    // to report the FPR (avoids floor(0.29 * 100) = 28 style surprises).
    let mut k = ((target * nf).floor() as usize).min(n);
    while k < n && ((k + 1) as f64 / nf) <= target {
        k += 1;
    }
    while k > 0 && (k as f64 / nf) > target {
        k -= 1;
    }
    let threshold = if k >= n {
        f64::NEG_INFINITY
    } else {
        // (k+1)-th largest = index k in descending order.
        let (_, kth, _) = h.select_nth_unstable_by(k, |a, b| b.total_cmp(a));
        let v = *kth + 0.0;
        if v == f64::INFINITY {
            return Err(EvalError::Undefined(
                "more human scores than allowed are +inf; no threshold reaches the target FPR",
            ));
        }
        v.next_up()
    };
    let n_flagged = h.iter().filter(|&&s| s >= threshold).count() as u64;
    Ok(FprThreshold {
        threshold,
        target_fpr: target,
        achieved_fpr: n_flagged as f64 / nf,
        n_flagged,
        n_human: n as u64,
        n_nan,
    })
}

/// One-sided Clopper-Pearson upper confidence bound of a rate from `k` events in `n` trials: the `p` at which
/// `P(Binomial(n, p) <= k) = 1 - confidence` (the `confidence` quantile of `Beta(k + 1, n - k)`); `1` when
/// `k = n`. The true false-positive rate of a threshold that flagged `k` of `n` human documents is below it
/// with probability `confidence`.
///
/// Exact up to floating point: the binomial tail is the regularised incomplete beta function (a continued
/// fraction), solved for `p` by bisection. It is the bound [`confident_fp_budget`] inverts: the largest `k`
/// whose bound stays within a target is that function's budget.
///
/// Errors: `n = 0`, `k > n`, or `confidence` outside `(0, 1)`.
pub fn clopper_pearson_upper(k: u64, n: u64, confidence: f64) -> Result<f64> {
    if n == 0 {
        return Err(EvalError::InvalidArgument("a Clopper-Pearson bound needs at least one trial".into()));
    }
    if k > n {
        return Err(EvalError::InvalidArgument(format!("{k} events in {n} trials")));
    }
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(EvalError::InvalidArgument(format!("confidence {confidence} must be in (0, 1)")));
    }
    if k == n {
        return Ok(1.0);
    }
    let alpha = 1.0 - confidence;
    if k == 0 {
        // P(Binomial(n, p) = 0) = (1 - p)^n: closed form, no search.
        return Ok(-(alpha.ln() / n as f64).exp_m1());
    }
    // P(Binomial(n, p) <= k) = 1 - I_p(k + 1, n - k), decreasing in p.
    let (a, b) = ((k + 1) as f64, (n - k) as f64);
    let cdf = |p: f64| 1.0 - regularized_incomplete_beta(a, b, p);
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    // Bisection to a relative width of a few ulps: the bound may be tiny (k = 1 of a million).
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi || hi - lo <= 4.0 * f64::EPSILON * hi {
            break;
        }
        if cdf(mid) > alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, 9 terms; relative error near 1e-15).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 - x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut s = C[0];
    for (i, &c) in C.iter().enumerate().skip(1) {
        s += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + s.ln()
}

/// The regularised incomplete beta function `I_x(a, b)` (a, b > 0), by its continued fraction (modified
/// Lentz), evaluated on the side of `x` where it converges fast.
fn regularized_incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (-x).ln_1p();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_continued_fraction(a, b, x) / a
    } else {
        1.0 - ln_front.exp() * beta_continued_fraction(b, a, 1.0 - x) / b
    }
}

fn beta_continued_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    // One modified-Lentz step with coefficient `aa`: the factor it multiplies `h` by.
    let mut step = |aa: f64| {
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        d * c
    };
    // Converges in O(sqrt(max(a, b))) steps; the cap only guards against a loop without end.
    for m in 1..100_000 {
        let m = m as f64;
        let m2 = 2.0 * m;
        h *= step(m * (b - m) * x / ((qam + m2) * (a + m2)));
        let del = step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)));
        h *= del;
        if (del - 1.0).abs() < 4.0 * f64::EPSILON {
            break;
        }
    }
    h
}

/// One group's part in a [`threshold_per_group`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupThreshold {
    /// The group's key (e.g. a source).
    pub group: String,
    /// Non-NaN human scores of the group.
    pub n: u64,
    /// How many of them the threshold may flag ([`confident_fp_budget`] of the group alone).
    pub budget: u64,
    /// False when the group is too small for the confidence even at a budget of 0: it is then held to 0.
    pub enough: bool,
    /// The lowest threshold that flags at most `budget` of the group (`-inf` when it may flag them all).
    pub threshold: f64,
    /// False for a group that is measured and reported but does not set the threshold
    /// ([`PerGroupThreshold::report_only`]).
    #[serde(default = "holds_by_default")]
    pub holds: bool,
}

fn holds_by_default() -> bool {
    true
}

/// Result of [`threshold_per_group`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerGroupThreshold {
    /// The lowest threshold at which every group that holds it is within its budget: the largest of their
    /// thresholds.
    pub threshold: f64,
    /// Every group, sorted by key.
    pub groups: Vec<GroupThreshold>,
}

impl PerGroupThreshold {
    /// The threshold the same rule gives without `group` (leave one group out); `None` when no other group
    /// is left.
    pub fn without(&self, group: &str) -> Option<f64> {
        self.groups.iter().filter(|g| g.holds && g.group != group).map(|g| g.threshold).reduce(f64::max)
    }

    /// The same groups with `report_only` of them no longer setting the threshold: the threshold is the largest
    /// of the others' own, and the named groups are only measured at it. A web filter's threshold, say, need
    /// not be held on human answers written for an instruction dataset, but what it flags of them is reported.
    /// Every named group must be one of the groups, and at least one group must still hold the threshold.
    pub fn report_only<S: AsRef<str>>(mut self, report_only: &[S]) -> Result<Self> {
        for name in report_only.iter().map(AsRef::as_ref) {
            let group = self.groups.iter_mut().find(|g| g.group == name).ok_or_else(|| {
                EvalError::InvalidArgument(format!("report-only group {name:?} has no human document"))
            })?;
            group.holds = false;
        }
        self.threshold =
            self.groups.iter().filter(|g| g.holds).map(|g| g.threshold).reduce(f64::max).ok_or_else(|| {
                EvalError::InvalidArgument("every group is report-only: none is left to set the threshold".into())
            })?;
        Ok(self)
    }
}

/// The lowest threshold that flags at most `budget` of the (non-NaN) `human_scores`; `-inf` when the budget
/// covers them all. Half a document of slack in the target keeps the float division of
/// [`threshold_for_fpr`] from rounding the budget down.
pub fn budget_threshold(human_scores: &[f64], budget: usize) -> Result<f64> {
    let n = human_scores.iter().filter(|s| !s.is_nan()).count();
    if n == 0 {
        return Err(EvalError::Empty { n_nan: human_scores.len() });
    }
    Ok(threshold_for_fpr(human_scores, ((budget as f64 + 0.5) / n as f64).min(1.0))?.threshold)
}

/// A threshold that holds the false-positive rate on **each** group of human documents, not only on their
/// pool: each group gets its own budget ([`confident_fp_budget`] of its own size: `floor(target · n)` with
/// `confidence = 0`) and its own lowest threshold within it; the answer is the largest of them, the lowest
/// threshold at which no group exceeds its budget. A group too small for the confidence is held to a budget
/// of 0 (flag none of it) and marked `enough = false`, not dropped.
///
/// Why: a threshold fitted on the pool lets a source whose human text looks machine-like run far over the
/// target, and a new source is more like one of those than like the pool's average.
///
/// `human_scores[i]` belongs to group `groups[i]`; NaN scores are left out. Errors: length mismatch, no
/// non-NaN score, a target outside `[0, 1]` or a confidence outside `[0, 1)`.
pub fn threshold_per_group<S: AsRef<str>>(
    human_scores: &[f64],
    groups: &[S],
    target: f64,
    confidence: f64,
) -> Result<PerGroupThreshold> {
    check_len("groups", groups.len(), human_scores.len())?;
    let mut by_group: std::collections::BTreeMap<&str, Vec<f64>> = std::collections::BTreeMap::new();
    for (s, g) in human_scores.iter().zip(groups) {
        if !s.is_nan() {
            by_group.entry(g.as_ref()).or_default().push(*s);
        }
    }
    if by_group.is_empty() {
        return Err(EvalError::Empty { n_nan: human_scores.len() });
    }
    let mut out = Vec::with_capacity(by_group.len());
    for (group, h) in by_group {
        let budget = confident_fp_budget(h.len(), target, confidence)?;
        let (budget, enough) = (budget.unwrap_or(0), budget.is_some());
        out.push(GroupThreshold {
            group: group.to_string(),
            n: h.len() as u64,
            budget: budget as u64,
            enough,
            threshold: budget_threshold(&h, budget)?,
            holds: true,
        });
    }
    let threshold = out.iter().map(|g| g.threshold).fold(f64::NEG_INFINITY, f64::max);
    Ok(PerGroupThreshold { threshold, groups: out })
}

#[cfg(test)]
mod fp_budget_tests {
    use super::*;

    #[test]
    fn confident_budget_matches_scipy() {
        // scipy.stats.binom: the largest k with binom.cdf(k, n, p) <= 1 - c.
        assert_eq!(confident_fp_budget(1087, 0.01, 0.9).unwrap(), Some(6));
        assert_eq!(confident_fp_budget(1087, 0.01, 0.5).unwrap(), Some(10));
        assert_eq!(confident_fp_budget(100, 0.05, 0.9).unwrap(), Some(1));
        assert_eq!(confident_fp_budget(100_000, 0.01, 0.95).unwrap(), Some(948));
        assert_eq!(confident_fp_budget(20, 0.01, 0.9).unwrap(), None);
        assert_eq!(confident_fp_budget(1087, 0.01, 0.0).unwrap(), Some(10));
        assert!(confident_fp_budget(10, 0.01, 1.0).is_err());
    }

    #[test]
    fn clopper_pearson_upper_matches_scipy() {
        // scipy.stats.beta.ppf(confidence, k + 1, n - k), scipy 1.x.
        let cases = [
            (0, 100, 0.95, 0.029513049607039925),
            (1, 100, 0.95, 0.046559811453538935),
            (5, 1000, 0.95, 0.010484076911415651),
            (10, 1087, 0.95, 0.015554646372204587),
            (3, 10, 0.9, 0.551730832383599),
            (99, 100, 0.95, 0.9994871985837377),
            (500, 1000, 0.95, 0.5264822687643087),
            (50, 100_000, 0.95, 0.0006328286928247058),
            (1, 1_000_000, 0.95, 4.743855638214234e-06),
            (2000, 1_000_000, 0.99, 0.0021064194581681696),
            (0, 1, 0.95, 0.95),
        ];
        for (k, n, c, want) in cases {
            let got = clopper_pearson_upper(k, n, c).unwrap();
            assert!((got - want).abs() <= 1e-9 * want, "k={k} n={n} c={c}: {got} vs scipy {want}");
        }
        assert_eq!(clopper_pearson_upper(7, 7, 0.95).unwrap(), 1.0);
        assert!(clopper_pearson_upper(0, 0, 0.95).is_err());
        assert!(clopper_pearson_upper(3, 2, 0.95).is_err());
        assert!(clopper_pearson_upper(1, 2, 1.0).is_err());
        assert!(clopper_pearson_upper(1, 2, 0.0).is_err());
    }

    #[test]
    fn clopper_pearson_upper_is_the_bound_the_confident_budget_inverts() {
        // The budget is the largest k whose upper bound stays within the target; the bound grows with k.
        for (n, target, c) in [(1087, 0.01, 0.9), (2000, 0.05, 0.9), (100_000, 0.01, 0.95), (500, 0.02, 0.5)] {
            let budget = confident_fp_budget(n, target, c).unwrap().unwrap() as u64;
            let n = n as u64;
            assert!(clopper_pearson_upper(budget, n, c).unwrap() <= target, "n={n}");
            assert!(clopper_pearson_upper(budget + 1, n, c).unwrap() > target, "n={n}");
            let mut last = 0.0;
            for k in 0..=budget + 5 {
                let u = clopper_pearson_upper(k, n, c).unwrap();
                assert!(u > last && u > k as f64 / n as f64, "k={k} n={n}: {u}");
                last = u;
            }
        }
    }

    /// Humans of group `g` flagged at `t`.
    fn flagged(scores: &[f64], groups: &[&str], g: &str, t: f64) -> usize {
        scores.iter().zip(groups).filter(|(&s, &x)| x == g && s >= t).count()
    }

    #[test]
    fn per_group_threshold_holds_every_group() {
        // Group a: 0..100 (scores 0.00-0.99); group b: 20 scores, its humans score high (0.80-0.99).
        let mut scores: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
        let mut groups: Vec<&str> = vec!["a"; 100];
        scores.extend((0..20).map(|i| 0.8 + i as f64 / 100.0));
        groups.extend(vec!["b"; 20]);
        // Pooled, 5% of 120 = 6 may be flagged: 0.97 and up, three of a and three of b (b at 15%).
        let pooled = threshold_for_fpr(&scores, 0.05).unwrap();
        assert_eq!(flagged(&scores, &groups, "b", pooled.threshold), 3);
        let r = threshold_per_group(&scores, &groups, 0.05, 0.0).unwrap();
        // a may flag 5 (its own threshold just above 0.94), b only 1 (just above 0.98): b decides.
        assert_eq!(r.groups.len(), 2);
        let (a, b) = (&r.groups[0], &r.groups[1]);
        assert_eq!((a.group.as_str(), a.n, a.budget, a.enough), ("a", 100, 5, true));
        assert_eq!((b.group.as_str(), b.n, b.budget, b.enough), ("b", 20, 1, true));
        assert_eq!(a.threshold, 0.94f64.next_up());
        assert_eq!(b.threshold, (0.8 + 18.0 / 100.0f64).next_up());
        assert_eq!(r.threshold, b.threshold);
        for g in ["a", "b"] {
            let k = flagged(&scores, &groups, g, r.threshold) as f64;
            let n = groups.iter().filter(|&&x| x == g).count() as f64;
            assert!(k / n <= 0.05, "{g}: {k} of {n}");
        }
        // The lowest such threshold: one step lower, b is over its budget.
        assert!(flagged(&scores, &groups, "b", r.threshold.next_down()) > 1);
        // Leave one group out: without b, a's own threshold; without a, b's.
        assert_eq!(r.without("b"), Some(a.threshold));
        assert_eq!(r.without("a"), Some(b.threshold));
        assert_eq!(r.without("nope"), Some(r.threshold));
        // b only reported: a's own threshold holds, b is measured at it (and flags more than its budget).
        let a_only = r.clone().report_only(&["b"]).unwrap();
        assert_eq!(a_only.threshold, a.threshold);
        assert!(!a_only.groups[1].holds && a_only.groups[0].holds);
        assert!(flagged(&scores, &groups, "b", a_only.threshold) > 1);
        assert_eq!(a_only.without("a"), None, "b sets no threshold, with a left out none is left");
        assert_eq!(a_only.without("b"), Some(a.threshold));
        assert!(r.clone().report_only(&["a", "b"]).unwrap_err().to_string().contains("every group is report-only"));
        assert!(r.clone().report_only(&["c"]).unwrap_err().to_string().contains("\"c\""));
        assert_eq!(r.clone().report_only::<&str>(&[]).unwrap(), r);
    }

    #[test]
    fn per_group_threshold_ties_tiny_groups_and_nan() {
        // Ties: group a has three humans tied at the top; with a budget of 1 none of them can be flagged alone.
        let scores = [0.9, 0.9, 0.9, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, f64::NAN, 0.2];
        let groups = ["a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "tiny"];
        let r = threshold_per_group(&scores, &groups, 0.1, 0.0).unwrap();
        let a = &r.groups[0];
        assert_eq!((a.n, a.budget), (10, 1), "NaN left out");
        assert_eq!(a.threshold, 0.9f64.next_up());
        assert_eq!(flagged(&scores, &groups, "a", r.threshold), 0);
        // The one-document group may flag none of it: just above its score, below a's.
        let tiny = &r.groups[1];
        assert_eq!((tiny.n, tiny.budget, tiny.enough, tiny.threshold), (1, 0, true, 0.2f64.next_up()));
        assert_eq!(r.threshold, 0.9f64.next_up());
        // With a confidence it is too small even for a budget of 0: held to 0 and marked, not dropped.
        let r = threshold_per_group(&scores, &groups, 0.1, 0.9).unwrap();
        let tiny = r.groups.iter().find(|g| g.group == "tiny").unwrap();
        assert_eq!((tiny.budget, tiny.enough, tiny.threshold), (0, false, 0.2f64.next_up()));
        // One group: the pooled rule exactly (the policy's threshold without a group field).
        let h: Vec<f64> = (0..1000).map(|i| ((i * 7919) % 1000) as f64 / 1000.0).collect();
        let one = threshold_per_group(&h, &vec!["x"; h.len()], 0.01, 0.9).unwrap();
        let budget = confident_fp_budget(h.len(), 0.01, 0.9).unwrap().unwrap();
        assert_eq!(one.threshold, threshold_for_fpr(&h, (budget as f64 + 0.5) / 1000.0).unwrap().threshold);
        assert_eq!(one.without("x"), None);
        // Budget covering everything: -inf.
        assert_eq!(budget_threshold(&[0.5, 0.6], 2).unwrap(), f64::NEG_INFINITY);
        assert!(threshold_per_group(&[f64::NAN], &["a"], 0.1, 0.0).is_err());
        assert!(threshold_per_group(&[0.1], &["a", "b"], 0.1, 0.0).is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{assert_close, f64s, run_python, sklearn_python, Rng};
    use super::*;

    const T: bool = true;
    const F: bool = false;

    #[test]
    fn hand_example_no_ties() {
        // score: 0.9 0.8 0.7 0.6 0.5 0.4
        // label:  M   H   M   M   H   H      (P = 3, N = 3)
        let s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
        let y = [T, F, T, T, F, F];
        let roc = roc_curve(&s, &y).unwrap();
        // cumulative (tp, fp) going down: (1,0) (1,1) (2,1) (3,1) (3,2) (3,3)
        assert_eq!(roc.thresholds[0], f64::INFINITY);
        assert_eq!(&roc.thresholds[1..], &s);
        assert_eq!(roc.tpr, vec![0.0, 1. / 3., 1. / 3., 2. / 3., 1.0, 1.0, 1.0]);
        assert_eq!(roc.fpr, vec![0.0, 0.0, 1. / 3., 1. / 3., 1. / 3., 2. / 3., 1.0]);
        // AUC = pairs (m > h) / 9: m=0.9 beats 3 h, m=0.7 beats 2, m=0.6 beats 2
        //     = 7/9
        assert_close(auroc(&s, &y).unwrap(), 7.0 / 9.0, 1e-15, "auc");
        // AP = Σ ΔR·P at each positive: (1/3)(1/1) + (1/3)(2/3) + (1/3)(3/4)
        //    = 1/3 + 2/9 + 1/4 = 12/36 + 8/36 + 9/36 = 29/36
        assert_close(average_precision(&s, &y).unwrap(), 29.0 / 36.0, 1e-15, "ap");
        // FPR <= 0   → point (0, 1/3) at threshold 0.9
        // FPR <= 1/3 → best TPR 1 at threshold 0.6
        let op = BinaryCurve::new(&s, &y).unwrap().operating_point_at_fpr(0.0).unwrap();
        assert_eq!(op, OperatingPoint { threshold: 0.9, fpr: 0.0, tpr: 1.0 / 3.0 });
        assert_eq!(tpr_at_fpr(&s, &y, 0.34).unwrap(), 1.0);
        assert_eq!(tpr_at_fpr(&s, &y, 0.33).unwrap(), 1.0 / 3.0);
        // Threshold 0.6: flagged {0.9 M, 0.8 H, 0.7 M, 0.6 M} → tp 3, fp 1, tn 2, fn 0
        // precision 3/4, recall 1, F1 = 6/7, accuracy 5/6.
        let c = confusion_at(&s, &y, 0.6).unwrap();
        assert_eq!((c.tp, c.fp, c.tn, c.fn_), (3, 1, 2, 0));
        assert_close(c.precision, 0.75, 1e-15, "p");
        assert_close(c.recall, 1.0, 1e-15, "r");
        assert_close(c.f1, 6.0 / 7.0, 1e-15, "f1");
        assert_close(c.accuracy, 5.0 / 6.0, 1e-15, "acc");
        let c2 = BinaryCurve::new(&s, &y).unwrap().confusion_at(0.6).unwrap();
        assert_eq!(c, c2);
    }

    #[test]
    fn hand_example_with_ties_and_nan() {
        // score: 0.8 0.8 0.5 0.5 0.5 0.1 NaN
        // label:  M   H   M   H   H   M   M   (NaN excluded → P = 3, N = 3)
        let s = [0.8, 0.8, 0.5, 0.5, 0.5, 0.1, f64::NAN];
        let y = [T, F, T, F, F, T, T];
        let c = BinaryCurve::new(&s, &y).unwrap();
        assert_eq!(c.n_nan, 1);
        assert_eq!((c.n_pos, c.n_neg), (3, 3));
        // blocks: 0.8 → (tp 1, fp 1); 0.5 → (2, 3); 0.1 → (3, 3)
        assert_eq!(c.thresholds, vec![0.8, 0.5, 0.1]);
        assert_eq!(c.tps, vec![1, 2, 3]);
        assert_eq!(c.fps, vec![1, 3, 3]);
        // AUC = Σ Δfp (tp_prev + tp) / (2PN) = [1·(0+1) + 2·(1+2) + 0] / 18 = 7/18
        // Check via pairs: M0.8: beats 2 (0.5,0.5) + ½ tie = 2.5; M0.5: tie with
        // 2 → 1; M0.1: 0 → 3.5/9 = 7/18 ✓
        assert_close(c.auroc().unwrap(), 7.0 / 18.0, 1e-15, "auc");
        // AP = (1/3)(1/2) + (1/3)(2/5) + (1/3)(3/6) = 1/6 + 2/15 + 1/6 = 7/15
        assert_close(c.average_precision().unwrap(), 7.0 / 15.0, 1e-15, "ap");
        // FPR 1/3 reachable at 0.8 (tpr 1/3), nothing better until fpr 1.
        assert_eq!(c.tpr_at_fpr(0.5).unwrap(), 1.0 / 3.0);
        assert_eq!(c.tpr_at_fpr(1.0).unwrap(), 1.0);
        let conf = confusion_at(&s, &y, 0.5).unwrap();
        assert_eq!((conf.tp, conf.fp, conf.tn, conf.fn_, conf.n_nan), (2, 3, 0, 1, 1));
    }

    #[test]
    fn all_tied_auc_is_half() {
        let s = [0.3; 5];
        let y = [T, F, T, F, F];
        assert_eq!(auroc(&s, &y).unwrap(), 0.5);
        // one block: precision 2/5 at recall 1 → AP = 0.4
        assert_close(average_precision(&s, &y).unwrap(), 0.4, 1e-15, "ap");
    }

    #[test]
    fn errors() {
        assert!(matches!(auroc(&[1.0, 2.0], &[T, T]), Err(EvalError::Undefined(_))));
        assert!(matches!(auroc(&[f64::NAN], &[T]), Err(EvalError::Empty { n_nan: 1 })));
        assert!(matches!(auroc(&[1.0], &[T, F]), Err(EvalError::LengthMismatch { .. })));
        assert!(tpr_at_fpr(&[1.0, 2.0], &[T, F], 1.5).is_err());
        // AP defined without negatives
        assert_eq!(average_precision(&[1.0, 2.0], &[T, T]).unwrap(), 1.0);
    }

    #[test]
    fn threshold_for_fpr_hand() {
        // humans: 10 scores 0.0..0.9; target 0.2 → k = 2 may be flagged,
        // h_(3) = 0.7 → threshold = next_up(0.7): flags 0.9, 0.8 → FPR 0.2.
        let h: Vec<f64> = (0..10).map(|i| i as f64 / 10.0).collect();
        let r = threshold_for_fpr(&h, 0.2).unwrap();
        assert_eq!(r.threshold, 0.7f64.next_up());
        assert_eq!(r.n_flagged, 2);
        assert_eq!(r.achieved_fpr, 0.2);
        // target 0.29 with n = 100: k = 29 (floor(0.29*100) would be 28).
        let h100: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let r = threshold_for_fpr(&h100, 0.29).unwrap();
        assert_eq!(r.n_flagged, 29);
        assert_eq!(r.threshold, 70f64.next_up());
        // ties: [5,5,5,1]; target 0.5 → k = 2, h_(3) = 5 → t = next_up(5),
        // flags none (ties can't be split).
        let r = threshold_for_fpr(&[5.0, 5.0, 1.0, 5.0, f64::NAN], 0.5).unwrap();
        assert_eq!((r.n_flagged, r.n_human, r.n_nan), (0, 4, 1));
        assert_eq!(r.threshold, 5f64.next_up());
        // target 0 → strictly above the max.
        assert_eq!(threshold_for_fpr(&h, 0.0).unwrap().n_flagged, 0);
        // target 1 → everything may be flagged.
        assert_eq!(threshold_for_fpr(&h, 1.0).unwrap().threshold, f64::NEG_INFINITY);
        // minimality: one ulp lower must violate the target.
        let r = threshold_for_fpr(&h, 0.2).unwrap();
        let lower = r.threshold.next_down();
        assert!(h.iter().filter(|&&x| x >= lower).count() as f64 / 10.0 > 0.2);
    }

    #[test]
    fn random_consistency_with_bruteforce() {
        let mut rng = Rng::new(7);
        for case in 0..200 {
            let n = 1 + rng.below(40) as usize;
            let s: Vec<f64> = (0..n).map(|_| rng.below(6) as f64).collect();
            let y: Vec<bool> = (0..n).map(|_| rng.below(2) == 1).collect();
            let (p, ng) = (y.iter().filter(|&&b| b).count(), y.iter().filter(|&&b| !b).count());
            if p == 0 || ng == 0 {
                continue;
            }
            // brute-force Mann–Whitney
            let mut wins = 0.0;
            for i in 0..n {
                for j in 0..n {
                    if y[i] && !y[j] {
                        wins += if s[i] > s[j] {
                            1.0
                        } else if s[i] == s[j] {
                            0.5
                        } else {
                            0.0
                        };
                    }
                }
            }
            assert_close(auroc(&s, &y).unwrap(), wins / (p * ng) as f64, 1e-12, &format!("case {case}"));
            // threshold_for_fpr invariant on the human subset
            let h: Vec<f64> = s.iter().zip(&y).filter(|(_, &l)| !l).map(|(&v, _)| v).collect();
            for &t in &[0.0, 0.1, 0.25, 0.5, 0.9] {
                let r = threshold_for_fpr(&h, t).unwrap();
                assert!(r.achieved_fpr <= t);
                let lower = r.threshold.next_down();
                if r.threshold > f64::NEG_INFINITY {
                    let f = h.iter().filter(|&&x| x >= lower).count() as f64 / h.len() as f64;
                    assert!(f > t, "threshold not minimal");
                }
            }
        }
    }

    #[test]
    fn threshold_survives_json_roundtrip_exactly() {
        // threshold_for_fpr returns next_up(h); a 1-ulp loss on the way through
        // a policy file would flag the humans tied at h. serde_json's default
        // float parser is not always correctly rounded: the crate must enable
        // serde_json's `float_roundtrip` feature.
        let mut rng = Rng::new(99);
        for _ in 0..2000 {
            let h: Vec<f64> = (0..50).map(|_| rng.normal()).collect();
            let r = threshold_for_fpr(&h, 0.05).unwrap();
            let back: FprThreshold = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
            assert_eq!(
                back.threshold.to_bits(),
                r.threshold.to_bits(),
                "JSON round trip changed a threshold: enable serde_json feature `float_roundtrip`"
            );
        }
    }

    const SKLEARN_METRICS: &str = r#"
import sys, json
import numpy as np
from sklearn.metrics import (roc_curve, roc_auc_score, average_precision_score,
                             precision_score, recall_score, f1_score, accuracy_score)
out = []
for c in json.load(sys.stdin):
    s = np.array(c["s"], dtype=float); y = np.array(c["y"], dtype=int)
    fpr, tpr, thr = roc_curve(y, s, drop_intermediate=False)
    tat = [float(tpr[fpr <= t].max()) for t in c["targets"]]
    pred = (s >= c["thr"]).astype(int)
    out.append({
        "fpr": fpr.tolist(), "tpr": tpr.tolist(),
        "thr": [float(t) if np.isfinite(t) else None for t in thr],
        "auc": float(roc_auc_score(y, s)), "ap": float(average_precision_score(y, s)),
        "tpr_at": tat,
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "acc": float(accuracy_score(y, pred)),
    })
print(json.dumps(out))
"#;

    #[test]
    fn matches_sklearn_on_random_inputs_with_ties() {
        let Some(py) = sklearn_python() else { return };
        let mut rng = Rng::new(2024);
        let targets = [0.0, 0.01, 0.05, 0.1, 0.5];
        let mut cases = Vec::new();
        for (ci, &n) in [7usize, 30, 100, 500, 2000, 5000, 20000, 3].iter().enumerate() {
            let mut s: Vec<f64> = Vec::with_capacity(n);
            let mut y: Vec<bool> = Vec::with_capacity(n);
            for i in 0..n {
                let lab = if i < 2 { i == 0 } else { rng.uniform() < 0.3 + 0.05 * ci as f64 };
                let shift = if lab { 0.8 } else { 0.0 };
                let v = match ci % 3 {
                    // heavy ties: few distinct values
                    0 => (rng.below(5) as f64) + if lab { rng.below(2) as f64 } else { 0.0 },
                    // continuous rounded to 2 decimals → moderate ties
                    1 => ((rng.normal() + shift) * 100.0).round() / 100.0,
                    // continuous, mostly distinct, with some exact duplicates
                    _ => {
                        if rng.below(10) == 0 && !s.is_empty() {
                            s[rng.below(s.len() as u64) as usize]
                        } else {
                            rng.normal() + shift
                        }
                    }
                };
                s.push(v);
                y.push(lab);
            }
            let thr = s[rng.below(n as u64) as usize];
            cases.push((s, y, thr));
        }
        let input = serde_json::Value::Array(
            cases
                .iter()
                .map(|(s, y, thr)| serde_json::json!({"s": s, "y": y, "targets": targets, "thr": thr}))
                .collect(),
        );
        let out = run_python(&py, SKLEARN_METRICS, &input);
        for (ci, ((s, y, thr), o)) in cases.iter().zip(out.as_array().unwrap()).enumerate() {
            let ctx = format!("case {ci} (n={})", s.len());
            let curve = BinaryCurve::new(s, y).unwrap();
            let roc = curve.roc().unwrap();
            let (pf, pt, pth) = (f64s(&o["fpr"]), f64s(&o["tpr"]), f64s(&o["thr"]));
            assert_eq!(roc.fpr.len(), pf.len(), "{ctx}: roc length");
            for i in 0..pf.len() {
                assert_close(roc.fpr[i], pf[i].unwrap(), 1e-12, &ctx);
                assert_close(roc.tpr[i], pt[i].unwrap(), 1e-12, &ctx);
                match pth[i] {
                    Some(t) => assert_eq!(roc.thresholds[i], t, "{ctx}: threshold"),
                    None => assert!(roc.thresholds[i].is_infinite(), "{ctx}"),
                }
            }
            assert_close(curve.auroc().unwrap(), o["auc"].as_f64().unwrap(), 1e-9, &ctx);
            assert_close(curve.average_precision().unwrap(), o["ap"].as_f64().unwrap(), 1e-9, &ctx);
            for (ti, t) in targets.into_iter().enumerate() {
                let py_t = o["tpr_at"][ti].as_f64().unwrap();
                assert_close(curve.tpr_at_fpr(t).unwrap(), py_t, 1e-12, &ctx);
            }
            let c = confusion_at(s, y, *thr).unwrap();
            assert_close(c.precision, o["precision"].as_f64().unwrap(), 1e-12, &ctx);
            assert_close(c.recall, o["recall"].as_f64().unwrap(), 1e-12, &ctx);
            assert_close(c.f1, o["f1"].as_f64().unwrap(), 1e-12, &ctx);
            assert_close(c.accuracy, o["acc"].as_f64().unwrap(), 1e-12, &ctx);
        }
        eprintln!("sklearn metrics comparison: {} random cases agree", cases.len());
    }
}
