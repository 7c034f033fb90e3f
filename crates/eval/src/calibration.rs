//! Score calibration: map a raw detector score to P(machine).
//!
//! * [`PlattScaling`] — `p = σ(a·s + b)`, fitted by maximum likelihood on
//!   Platt's smoothed targets (as scikit-learn's `CalibratedClassifierCV(method
//!   ="sigmoid")`). Note the sign convention: sklearn stores `A = −a`, `B = −b`.
//! * [`IsotonicRegression`] — non-decreasing step-wise-linear map fitted by
//!   pool-adjacent-violators, identical to sklearn's
//!   `IsotonicRegression(out_of_bounds="clip")`.
//! * [`Calibrator`] — a serialisable enum of either (or identity) for policy
//!   files (`{"kind": "platt", "a": …, "b": …}`).
//!
//! NaN scores are excluded when fitting and map to NaN when applied.

use serde::{Deserialize, Serialize};

use super::{check_len, EvalError, Result};

use super::logistic::{sigmoid, softplus};

/// Platt scaling: `P(machine | s) = 1 / (1 + exp(−(a·s + b)))`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlattScaling {
    /// Slope (positive when higher scores mean machine).
    pub a: f64,
    /// Offset.
    pub b: f64,
}

impl PlattScaling {
    /// Fits with Platt's target smoothing: machine targets
    /// `(N₊ + 1)/(N₊ + 2)`, human targets `1/(N₋ + 2)` — this keeps the fit
    /// finite on separable data and matches sklearn. Newton's method on the
    /// 2×2 system with backtracking (Lin, Lin & Weng 2007). Needs both classes.
    pub fn fit(scores: &[f64], labels: &[bool]) -> Result<Self> {
        Self::fit_with(scores, labels, true)
    }

    /// Like [`fit`](Self::fit); `smoothing = false` uses hard 0/1 targets
    /// (plain 1-D logistic regression; diverges on separable data, in which
    /// case an `Optimization` error is returned).
    pub fn fit_with(scores: &[f64], labels: &[bool], smoothing: bool) -> Result<Self> {
        check_len("labels", labels.len(), scores.len())?;
        let data: Vec<(f64, bool)> =
            scores.iter().copied().zip(labels.iter().copied()).filter(|(s, _)| !s.is_nan()).collect();
        if data.is_empty() {
            return Err(EvalError::Empty { n_nan: scores.len() });
        }
        if let Some((s, _)) = data.iter().find(|(s, _)| s.is_infinite()) {
            return Err(EvalError::InvalidArgument(format!("Platt scaling needs finite scores, got {s}")));
        }
        let n_pos = data.iter().filter(|d| d.1).count() as f64;
        let n_neg = data.len() as f64 - n_pos;
        if n_pos == 0.0 || n_neg == 0.0 {
            return Err(EvalError::Undefined("Platt scaling needs both classes"));
        }
        let (t_pos, t_neg) = if smoothing { ((n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0)) } else { (1.0, 0.0) };
        let target: Vec<f64> = data.iter().map(|d| if d.1 { t_pos } else { t_neg }).collect();
        // Rescale scores so that Newton works in a well-conditioned space
        // (the MLE is equivariant: a_raw = a_scaled / scale).
        let scale = data.iter().fold(0f64, |m, d| m.max(d.0.abs())).max(1e-300);
        let scale = if scale > 1.0 { scale } else { 1.0 };
        let xs: Vec<f64> = data.iter().map(|d| d.0 / scale).collect();

        let obj = |a: f64, b: f64| -> f64 {
            xs.iter()
                .zip(&target)
                .map(|(&x, &t)| {
                    let eta = a * x + b;
                    softplus(eta) - t * eta
                })
                .sum()
        };
        let (mut a, mut b) = (0.0, ((n_pos + 1.0) / (n_neg + 1.0)).ln());
        let mut f = obj(a, b);
        for _ in 0..200 {
            let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for (&x, &t) in xs.iter().zip(&target) {
                let p = sigmoid(a * x + b);
                let r = p - t;
                let w = p * (1.0 - p);
                ga += r * x;
                gb += r;
                haa += w * x * x;
                hab += w * x;
                hbb += w;
            }
            // Tiny ridge (as in Lin et al.) guards against a singular Hessian.
            let (haa, hbb) = (haa + 1e-12, hbb + 1e-12);
            let det = haa * hbb - hab * hab;
            if det.is_nan() || det <= 0.0 {
                return Err(EvalError::Optimization("singular Hessian in Platt scaling".into()));
            }
            let da = (hbb * ga - hab * gb) / det;
            let db = (haa * gb - hab * ga) / det;
            let slope = -(ga * da + gb * db);
            let mut t = 1.0;
            let mut accepted = false;
            while t >= 1e-12 {
                let (na, nb) = (a - t * da, b - t * db);
                let nf = obj(na, nb);
                if nf <= f + 1e-4 * t * slope {
                    a = na;
                    b = nb;
                    f = nf;
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
            let step = (t * da).abs().max((t * db).abs());
            if !accepted || step <= 1e-12 * (1.0 + a.abs().max(b.abs())) {
                if !(a.is_finite() && b.is_finite()) {
                    break;
                }
                return Ok(PlattScaling { a: a / scale, b });
            }
        }
        Err(EvalError::Optimization("Platt scaling did not converge (separable data without smoothing?)".into()))
    }

    /// Calibrated probability of machine; NaN → NaN.
    pub fn apply(&self, score: f64) -> f64 {
        sigmoid(self.a * score + self.b)
    }
}

/// Isotonic (monotone non-decreasing) calibration map: piecewise linear
/// through `(x[i], y[i])`, constant (clipped) outside `[x[0], x[last]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IsotonicRegression {
    /// Knot scores, strictly increasing.
    pub x: Vec<f64>,
    /// Fitted P(machine) at the knots, non-decreasing, in `[0, 1]`.
    pub y: Vec<f64>,
}

impl IsotonicRegression {
    /// Fits on (score, label) with label 1 = machine. Ties in the score are
    /// first averaged (weighted by count), then pool-adjacent-violators runs
    /// on the distinct scores; interior knots of constant runs are dropped
    /// (this does not change the interpolant). `O(n log n)`.
    /// Errors only if there is no non-NaN score (one class is fine: the map
    /// is then constant 0 or 1). Scores must be finite.
    pub fn fit(scores: &[f64], labels: &[bool]) -> Result<Self> {
        check_len("labels", labels.len(), scores.len())?;
        let mut data: Vec<(f64, f64)> = scores
            .iter()
            .zip(labels)
            .filter(|(s, _)| !s.is_nan())
            .map(|(&s, &l)| (s + 0.0, if l { 1.0 } else { 0.0 }))
            .collect();
        if data.is_empty() {
            return Err(EvalError::Empty { n_nan: scores.len() });
        }
        if let Some((s, _)) = data.iter().find(|d| d.0.is_infinite()) {
            return Err(EvalError::InvalidArgument(format!("isotonic calibration needs finite scores, got {s}")));
        }
        data.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        // Distinct x with mean y and weight.
        let mut ux: Vec<f64> = Vec::new();
        let mut sum_y: Vec<f64> = Vec::new();
        let mut w: Vec<f64> = Vec::new();
        for &(s, l) in &data {
            if ux.last() == Some(&s) {
                *sum_y.last_mut().unwrap() += l;
                *w.last_mut().unwrap() += 1.0;
            } else {
                ux.push(s);
                sum_y.push(l);
                w.push(1.0);
            }
        }
        // PAV with a stack of blocks (value, weight, end index exclusive).
        let mut blocks: Vec<(f64, f64, usize)> = Vec::with_capacity(ux.len());
        for i in 0..ux.len() {
            let mut val = sum_y[i] / w[i];
            let mut wt = w[i];
            while let Some(&(pv, pw, _)) = blocks.last() {
                if pv > val {
                    val = (pv * pw + val * wt) / (pw + wt);
                    wt += pw;
                    blocks.pop();
                } else {
                    break;
                }
            }
            blocks.push((val, wt, i + 1));
        }
        let mut fitted = vec![0.0; ux.len()];
        let mut start = 0;
        for &(v, _, end) in &blocks {
            fitted[start..end].iter_mut().for_each(|f| *f = v);
            start = end;
        }
        // Drop interior points of constant runs (keeps first and last of each run).
        let k = ux.len();
        let mut x = Vec::with_capacity(k);
        let mut y = Vec::with_capacity(k);
        for i in 0..k {
            let keep = i == 0 || i + 1 == k || fitted[i - 1] != fitted[i] || fitted[i] != fitted[i + 1];
            if keep {
                x.push(ux[i]);
                y.push(fitted[i]);
            }
        }
        Ok(IsotonicRegression { x, y })
    }

    /// Calibrated probability; NaN → NaN; clipped outside the fitted range.
    pub fn apply(&self, score: f64) -> f64 {
        if score.is_nan() {
            return f64::NAN;
        }
        let (x, y) = (&self.x, &self.y);
        let last = x.len() - 1;
        if score <= x[0] {
            return y[0];
        }
        if score >= x[last] {
            return y[last];
        }
        // first knot strictly greater than score; 1 <= hi <= last
        let hi = x.partition_point(|&v| v <= score);
        let lo = hi - 1;
        y[lo] + (score - x[lo]) * (y[hi] - y[lo]) / (x[hi] - x[lo])
    }
}

/// A serialisable calibration map (tagged by `kind`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Calibrator {
    /// Scores are used as they are.
    Identity,
    /// Platt scaling.
    Platt(PlattScaling),
    /// Isotonic regression.
    Isotonic(IsotonicRegression),
}

impl Calibrator {
    /// Maps one score.
    pub fn apply(&self, score: f64) -> f64 {
        match self {
            Calibrator::Identity => score,
            Calibrator::Platt(p) => p.apply(score),
            Calibrator::Isotonic(i) => i.apply(score),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{assert_close, f64s, run_python, sklearn_python, Rng};
    use super::*;

    #[test]
    fn isotonic_hand_example() {
        // x: 1 2 3 4 5 ; y: 1 0 1 0 1
        // PAV: [1] then 0 < 1 → pool {1,0} = 0.5; then 1 ≥ 0.5 ok; then 0 < 1 →
        // pool {1,0} = 0.5, now 0.5 ≥ 0.5 ok (no violation); then 1.
        // fitted: 0.5 0.5 0.5 0.5 1 → knots (1,.5) (4,.5) (5,1)
        let s = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [true, false, true, false, true];
        let m = IsotonicRegression::fit(&s, &y).unwrap();
        assert_eq!(m.x, vec![1.0, 4.0, 5.0]);
        assert_eq!(m.y, vec![0.5, 0.5, 1.0]);
        assert_eq!(m.apply(0.0), 0.5);
        assert_eq!(m.apply(4.5), 0.75); // linear between (4,.5) and (5,1)
        assert_eq!(m.apply(9.0), 1.0);
        assert!(m.apply(f64::NAN).is_nan());
        // ties: x = 1,1,2 with y = 1,0,0 → mean at 1 is 0.5 > 0 at 2 → pooled
        // (0.5·2 + 0·1)/3 = 1/3 everywhere.
        let m = IsotonicRegression::fit(&[1.0, 1.0, 2.0], &[true, false, false]).unwrap();
        assert_eq!(m.y, vec![1.0 / 3.0, 1.0 / 3.0]);
    }

    #[test]
    fn platt_recovers_logistic_link() {
        // labels drawn from σ(2s − 1) → MLE ≈ (2, −1) (smoothing is negligible
        // at this n).
        let mut rng = Rng::new(5);
        let n = 50_000;
        let s: Vec<f64> = (0..n).map(|_| rng.normal() * 1.5).collect();
        let y: Vec<bool> = s.iter().map(|&x| rng.uniform() < sigmoid(2.0 * x - 1.0)).collect();
        let p = PlattScaling::fit(&s, &y).unwrap();
        assert!((p.a - 2.0).abs() < 0.08, "a = {}", p.a);
        assert!((p.b + 1.0).abs() < 0.06, "b = {}", p.b);
        // separable data stays finite with smoothing
        let p = PlattScaling::fit(&[0.0, 1.0, 2.0, 3.0], &[false, false, true, true]).unwrap();
        assert!(p.a.is_finite() && p.a > 0.0);
        assert!(p.apply(3.0) > 0.5 && p.apply(0.0) < 0.5);
        // serde via the enum
        let c = Calibrator::Platt(p);
        let j = serde_json::to_string(&c).unwrap();
        assert!(j.contains("\"kind\":\"platt\""));
        let back: Calibrator = serde_json::from_str(&j).unwrap();
        assert_eq!(back, c);
        let iso = Calibrator::Isotonic(IsotonicRegression::fit(&[0.0, 1.0], &[false, true]).unwrap());
        let back: Calibrator = serde_json::from_str(&serde_json::to_string(&iso).unwrap()).unwrap();
        assert_eq!(back.apply(0.25), 0.25);
        assert!(PlattScaling::fit(&[1.0, 2.0], &[true, true]).is_err());
    }

    const SKLEARN_CAL: &str = r#"
import sys, json
import numpy as np
from scipy.optimize import minimize
from sklearn.isotonic import IsotonicRegression
from sklearn.calibration import _sigmoid_calibration
out = []
for c in json.load(sys.stdin):
    s = np.array(c["s"], dtype=float); y = np.array(c["y"], dtype=int); q = np.array(c["q"], dtype=float)
    iso = IsotonicRegression(out_of_bounds="clip").fit(s, y)
    A, B = _sigmoid_calibration(s, y)
    # tight reference optimum of the same objective
    n1 = y.sum(); n0 = len(y) - n1
    T = np.where(y > 0, (n1 + 1.0) / (n1 + 2.0), 1.0 / (n0 + 2.0))
    def f(ab):
        eta = ab[0] * s + ab[1]
        p = 1 / (1 + np.exp(-eta))
        return np.sum(np.logaddexp(0, eta) - T * eta), np.array([np.sum((p - T) * s), np.sum(p - T)])
    r = minimize(f, [-A, -B], jac=True, method="BFGS", options={"gtol": 1e-11})
    out.append({"iso": iso.predict(q).tolist(), "a_sk": float(-A), "b_sk": float(-B),
                "a": float(r.x[0]), "b": float(r.x[1])})
print(json.dumps(out))
"#;

    #[test]
    fn matches_sklearn_calibration() {
        let Some(py) = sklearn_python() else { return };
        let mut rng = Rng::new(77);
        let mut cases = Vec::new();
        for (ci, &n) in [20usize, 300, 2000, 5000].iter().enumerate() {
            let s: Vec<f64> = (0..n)
                .map(|_| if ci % 2 == 0 { (rng.normal() * 3.0).round() / 2.0 } else { rng.normal() * 2.0 + 1.0 })
                .collect();
            let y: Vec<bool> = s.iter().map(|&x| rng.uniform() < sigmoid(1.3 * x - 0.4)).collect();
            let q: Vec<f64> =
                (0..200).map(|i| -6.0 + 12.0 * i as f64 / 199.0).chain(s.iter().take(50).copied()).collect();
            cases.push((s, y, q));
        }
        let input = serde_json::Value::Array(
            cases.iter().map(|(s, y, q)| serde_json::json!({"s": s, "y": y, "q": q})).collect(),
        );
        let out = run_python(&py, SKLEARN_CAL, &input);
        for (ci, ((s, y, q), o)) in cases.iter().zip(out.as_array().unwrap()).enumerate() {
            let ctx = format!("case {ci}");
            let iso = IsotonicRegression::fit(s, y).unwrap();
            let expect = f64s(&o["iso"]);
            for (qi, &qv) in q.iter().enumerate() {
                assert_close(iso.apply(qv), expect[qi].unwrap(), 1e-9, &format!("{ctx} iso q={qv}"));
            }
            let p = PlattScaling::fit(s, y).unwrap();
            assert_close(p.a, o["a"].as_f64().unwrap(), 1e-7, &format!("{ctx} platt a (tight ref)"));
            assert_close(p.b, o["b"].as_f64().unwrap(), 1e-7, &format!("{ctx} platt b (tight ref)"));
            assert_close(p.a, o["a_sk"].as_f64().unwrap(), 1e-4, &format!("{ctx} platt a (sklearn)"));
            assert_close(p.b, o["b_sk"].as_f64().unwrap(), 1e-4, &format!("{ctx} platt b (sklearn)"));
            eprintln!("{ctx}: platt ({}, {}) sklearn ({}, {})", p.a, p.b, o["a_sk"], o["b_sk"]);
        }
    }
}
