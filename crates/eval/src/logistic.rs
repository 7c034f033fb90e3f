//! L2-regularised logistic regression for combining detector signals.
//!
//! Objective (the same as scikit-learn's `LogisticRegression(C=c)` with an
//! unpenalised intercept), on standardised features `z_ij = (x_ij − μ_j) / σ_j`:
//!
//! ```text
//! minimise  ½‖w‖² + C · Σ_i s_i · [ log(1 + e^{η_i}) − y_i η_i ],   η_i = w·z_i + b
//! ```
//!
//! (`s_i` = sample weights, default 1; `σ_j` = population standard deviation,
//! ddof 0, like `StandardScaler`; constant features get `σ_j = 1`.)
//!
//! Solved with damped Newton (Cholesky on the `(d+1)×(d+1)` Hessian, Armijo
//! backtracking) — deterministic, quadratically convergent, `O(n d²)` per
//! iteration. The fitted model is `serde`-serialisable so it can live in a
//! policy file.

use serde::{Deserialize, Serialize};

use super::{check_training_data, EvalError, Result};

/// Fitting options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogisticOptions {
    /// Inverse regularisation strength (sklearn's `C`). Must be > 0.
    pub c: f64,
    /// Standardise features before fitting (recommended; the penalty then
    /// treats all features alike).
    pub standardize: bool,
    /// Fit an (unpenalised) intercept.
    pub fit_intercept: bool,
    /// Maximum Newton iterations.
    pub max_iter: usize,
    /// Stop when the Newton step satisfies `‖Δθ‖∞ <= tol · (1 + ‖θ‖∞)`.
    pub tol: f64,
}

impl Default for LogisticOptions {
    fn default() -> Self {
        LogisticOptions { c: 1.0, standardize: true, fit_intercept: true, max_iter: 100, tol: 1e-10 }
    }
}

/// A fitted model. `predict_proba(x) = σ(w · (x − μ)/σ + b)` = P(machine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    /// Optional feature (signal) names, for the policy file's readability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_names: Option<Vec<String>>,
    /// Per-feature means used for standardisation (0 if not standardised).
    pub means: Vec<f64>,
    /// Per-feature scales used for standardisation (1 if not standardised).
    pub scales: Vec<f64>,
    /// Coefficients on the standardised features.
    pub coef: Vec<f64>,
    /// Intercept on the standardised features.
    pub intercept: f64,
    /// Options used for fitting.
    pub options: LogisticOptions,
    /// Newton iterations performed.
    pub n_iter: usize,
    /// Whether the stopping criterion was met.
    pub converged: bool,
}

#[inline]
pub(crate) fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// log(1 + e^z), stable.
#[inline]
pub(crate) fn softplus(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// In-place Cholesky solve of `A x = b` for symmetric positive definite `A`
/// (row-major `d×d`). Returns `None` if `A` is not numerically SPD.
fn cholesky_solve(a: &[f64], b: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = a[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    let mut y = b.to_vec();
    for i in 0..d {
        for k in 0..i {
            y[i] -= l[i * d + k] * y[k];
        }
        y[i] /= l[i * d + i];
    }
    for i in (0..d).rev() {
        for k in i + 1..d {
            y[i] -= l[k * d + i] * y[k];
        }
        y[i] /= l[i * d + i];
    }
    Some(y)
}

/// `(d, Σ machine weights, Σ human weights)` of valid training data: C positive, finite features, and both
/// classes when an intercept is fitted.
fn check_inputs<R: AsRef<[f64]>>(
    x: &[R],
    y: &[bool],
    sample_weight: Option<&[f64]>,
    opts: &LogisticOptions,
) -> Result<(usize, f64, f64)> {
    if !(opts.c > 0.0 && opts.c.is_finite()) {
        return Err(EvalError::InvalidArgument(format!("C must be > 0, got {}", opts.c)));
    }
    let (d, wpos, wneg) = check_training_data(x, y, sample_weight)?;
    for (i, r) in x.iter().enumerate() {
        if let Some(j) = r.as_ref().iter().position(|v| !v.is_finite()) {
            return Err(EvalError::InvalidFeatures(format!("row {i} feature {j} is not finite")));
        }
    }
    if opts.fit_intercept && (wpos == 0.0 || wneg == 0.0) {
        return Err(EvalError::Undefined("logistic regression needs both classes"));
    }
    Ok((d, wpos, wneg))
}

/// Per-feature means and scales, unweighted like `StandardScaler` without `sample_weight`. A constant feature
/// keeps scale 1, so that it does not blow up to noise.
fn standardization<R: AsRef<[f64]>>(x: &[R], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = x.len();
    let mut means = vec![0.0; d];
    let mut scales = vec![1.0; d];
    for r in x {
        for (m, v) in means.iter_mut().zip(r.as_ref()) {
            *m += v;
        }
    }
    means.iter_mut().for_each(|m| *m /= n as f64);
    let mut var = vec![0.0; d];
    for r in x {
        for j in 0..d {
            let c = r.as_ref()[j] - means[j];
            var[j] += c * c;
        }
    }
    for j in 0..d {
        let s = (var[j] / n as f64).sqrt();
        scales[j] = if s > 1e-12 * (1.0 + means[j].abs()) { s } else { 1.0 };
    }
    (means, scales)
}

/// The penalised objective over `θ = (w, b)` on the standardised design matrix.
struct Objective<'a> {
    /// Row-major `n × p`: the standardised features, then a 1 for the intercept when it is fitted.
    z: Vec<f64>,
    y: Vec<f64>,
    sample_weight: Option<&'a [f64]>,
    c: f64,
    n: usize,
    /// Penalised coefficients (the intercept, if any, comes after them and is not penalised).
    d: usize,
    p: usize,
}

impl<'a> Objective<'a> {
    fn new<R: AsRef<[f64]>>(
        x: &[R],
        y: &[bool],
        sample_weight: Option<&'a [f64]>,
        means: &[f64],
        scales: &[f64],
        opts: &LogisticOptions,
    ) -> Self {
        let (n, d) = (x.len(), means.len());
        let p = d + usize::from(opts.fit_intercept);
        let mut z = vec![0.0; n * p];
        for (i, r) in x.iter().enumerate() {
            let r = r.as_ref();
            for j in 0..d {
                z[i * p + j] = (r[j] - means[j]) / scales[j];
            }
            if opts.fit_intercept {
                z[i * p + d] = 1.0;
            }
        }
        let y = y.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
        Objective { z, y, sample_weight, c: opts.c, n, d, p }
    }

    #[inline]
    fn sw(&self, i: usize) -> f64 {
        self.sample_weight.map_or(1.0, |w| w[i])
    }

    #[inline]
    fn row(&self, i: usize) -> &[f64] {
        &self.z[i * self.p..(i + 1) * self.p]
    }

    /// `½‖w‖² + C Σ s_i [log(1 + e^η_i) − y_i η_i]`.
    fn value(&self, theta: &[f64]) -> f64 {
        let mut f = 0.5 * theta[..self.d].iter().map(|w| w * w).sum::<f64>();
        let mut loss = 0.0;
        for i in 0..self.n {
            let eta: f64 = self.row(i).iter().zip(theta).map(|(a, b)| a * b).sum();
            loss += self.sw(i) * (softplus(eta) - self.y[i] * eta);
        }
        f += self.c * loss;
        f
    }

    /// Gradient and Hessian (row-major `p × p`) at `theta`, written over `grad` and `hess`.
    fn gradient_hessian(&self, theta: &[f64], grad: &mut [f64], hess: &mut [f64]) {
        let (p, c) = (self.p, self.c);
        grad.iter_mut().for_each(|g| *g = 0.0);
        hess.iter_mut().for_each(|h| *h = 0.0);
        for i in 0..self.n {
            let row = self.row(i);
            let eta: f64 = row.iter().zip(theta).map(|(a, b)| a * b).sum();
            let mu = sigmoid(eta);
            let r = c * self.sw(i) * (mu - self.y[i]);
            let wgt = c * self.sw(i) * mu * (1.0 - mu);
            // The lower triangle only; mirrored below.
            for a in 0..p {
                grad[a] += r * row[a];
                let wa = wgt * row[a];
                for b in 0..=a {
                    hess[a * p + b] += wa * row[b];
                }
            }
        }
        for a in 0..p {
            for b in 0..a {
                hess[b * p + a] = hess[a * p + b];
            }
        }
        for j in 0..self.d {
            grad[j] += theta[j];
            hess[j * p + j] += 1.0;
        }
    }

    /// Damped Newton from `theta` (updated in place); returns `(iterations, converged)`.
    fn minimize(&self, theta: &mut [f64], opts: &LogisticOptions) -> Result<(usize, bool)> {
        let p = self.p;
        let mut f_cur = self.value(theta);
        let mut converged = false;
        let mut n_iter = 0;
        let mut grad = vec![0.0; p];
        let mut hess = vec![0.0; p * p];
        while n_iter < opts.max_iter {
            n_iter += 1;
            self.gradient_hessian(theta, &mut grad, &mut hess);
            let step = newton_direction(&hess, &grad, p)?;
            let slope: f64 = -grad.iter().zip(&step).map(|(g, s)| g * s).sum::<f64>();
            let mut cand = theta.to_vec();
            let (t, accepted) = self.backtrack(theta, &step, slope, f_cur, &mut cand);
            let step_norm = step.iter().fold(0f64, |m, s| m.max((t * s).abs()));
            let theta_norm = theta.iter().fold(0f64, |m, s| m.max(s.abs()));
            if let Some(f_new) = accepted {
                f_cur = f_new;
                theta.copy_from_slice(&cand);
            }
            if step_norm <= opts.tol * (1.0 + theta_norm) || accepted.is_none() {
                // Not accepted: no decrease representable in f64 — we are at the optimum to machine precision.
                converged = true;
                break;
            }
        }
        Ok((n_iter, converged))
    }

    /// Armijo backtracking along `-step` from `theta`: the step length tried last and, when it was accepted,
    /// the objective there (`cand` then holds the new point).
    fn backtrack(&self, theta: &[f64], step: &[f64], slope: f64, f_cur: f64, cand: &mut [f64]) -> (f64, Option<f64>) {
        let mut t = 1.0;
        for _ in 0..60 {
            for a in 0..self.p {
                cand[a] = theta[a] - t * step[a];
            }
            let f_new = self.value(cand);
            if f_new <= f_cur + 1e-4 * t * slope {
                return (t, Some(f_new));
            }
            t *= 0.5;
        }
        (t, None)
    }
}

/// The Newton step `H⁻¹ g`, with a little ridge added when the Hessian is numerically singular (e.g. a
/// saturated intercept).
fn newton_direction(hess: &[f64], grad: &[f64], p: usize) -> Result<Vec<f64>> {
    let mut step = None;
    let mut ridge = 0.0;
    for _ in 0..8 {
        let mut h = hess.to_vec();
        for a in 0..p {
            h[a * p + a] += ridge;
        }
        step = cholesky_solve(&h, grad, p);
        if step.is_some() {
            break;
        }
        ridge = if ridge == 0.0 { 1e-10 } else { ridge * 100.0 };
    }
    step.ok_or_else(|| EvalError::Optimization("singular Hessian".into()))
}

impl LogisticRegression {
    /// Fits on rows `x` (each of the same length `d`) and labels `y`
    /// (`true` = machine). Both classes must be present when fitting an
    /// intercept. Features must be finite.
    pub fn fit<R: AsRef<[f64]>>(x: &[R], y: &[bool], opts: &LogisticOptions) -> Result<Self> {
        Self::fit_weighted(x, y, None, opts)
    }

    /// Like [`fit`](Self::fit) with optional non-negative per-sample weights.
    pub fn fit_weighted<R: AsRef<[f64]>>(
        x: &[R],
        y: &[bool],
        sample_weight: Option<&[f64]>,
        opts: &LogisticOptions,
    ) -> Result<Self> {
        let (d, wpos, wneg) = check_inputs(x, y, sample_weight, opts)?;
        let (means, scales) = if opts.standardize { standardization(x, d) } else { (vec![0.0; d], vec![1.0; d]) };
        let objective = Objective::new(x, y, sample_weight, &means, &scales, opts);
        let mut theta = vec![0.0; objective.p];
        if opts.fit_intercept {
            // Start at the weighted log-odds of the base rate.
            theta[d] = (wpos / wneg).ln();
        }
        let (n_iter, converged) = objective.minimize(&mut theta, opts)?;
        let intercept = if opts.fit_intercept { theta[d] } else { 0.0 };
        theta.truncate(d);
        Ok(LogisticRegression {
            feature_names: None,
            means,
            scales,
            coef: theta,
            intercept,
            options: opts.clone(),
            n_iter,
            converged,
        })
    }

    /// Attaches feature names (builder style).
    pub fn with_feature_names(mut self, names: Vec<String>) -> Self {
        self.feature_names = Some(names);
        self
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.coef.len()
    }

    /// Linear predictor (log-odds of machine). NaN features give NaN.
    /// Panics if `row.len() != n_features()`.
    pub fn decision_function(&self, row: &[f64]) -> f64 {
        self.intercept + self.contributions(row).sum::<f64>()
    }

    /// Each feature's term of the log-odds, `w_j (x_j − μ_j) / σ_j` (0 at the training mean).
    /// Panics if `row.len() != n_features()`.
    pub fn contributions<'a>(&'a self, row: &'a [f64]) -> impl Iterator<Item = f64> + 'a {
        assert_eq!(row.len(), self.coef.len(), "feature count mismatch");
        row.iter().zip(&self.coef).zip(self.means.iter().zip(&self.scales)).map(|((x, w), (m, s))| w * (x - m) / s)
    }

    /// P(machine | row).
    pub fn predict_proba(&self, row: &[f64]) -> f64 {
        sigmoid(self.decision_function(row))
    }

    /// Coefficients and intercept in the *original* feature units:
    /// `η = Σ_j raw_j x_j + raw_b`.
    pub fn raw_coefficients(&self) -> (Vec<f64>, f64) {
        let raw: Vec<f64> = self.coef.iter().zip(&self.scales).map(|(w, s)| w / s).collect();
        let b = self.intercept - raw.iter().zip(&self.means).map(|(r, m)| r * m).sum::<f64>();
        (raw, b)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{assert_close, run_python, sklearn_python, Rng};
    use super::*;

    fn synth(seed: u64, n: usize, beta: &[f64], b: f64, scale: &[f64], shift: &[f64]) -> (Vec<Vec<f64>>, Vec<bool>) {
        let mut rng = Rng::new(seed);
        let mut x = Vec::with_capacity(n);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let z: Vec<f64> = (0..beta.len()).map(|_| rng.normal()).collect();
            let eta: f64 = z.iter().zip(beta).map(|(a, b)| a * b).sum::<f64>() + b;
            y.push(rng.uniform() < sigmoid(eta));
            // observed feature = z * scale + shift; true raw coef = beta / scale
            x.push(z.iter().zip(scale).zip(shift).map(|((z, s), m)| z * s + m).collect());
        }
        (x, y)
    }

    #[test]
    fn recovers_known_coefficients() {
        let beta = [2.0, -1.0, 0.0];
        let scale = [1.0, 10.0, 0.1];
        let shift = [0.0, 100.0, -3.0];
        let (x, y) = synth(11, 20000, &beta, 0.5, &scale, &shift);
        let opts = LogisticOptions { c: 1e6, ..Default::default() };
        let m = LogisticRegression::fit(&x, &y, &opts).unwrap();
        assert!(m.converged, "did not converge in {} iterations", m.n_iter);
        assert!(m.n_iter < 15, "{} iterations", m.n_iter);
        let (raw, b) = m.raw_coefficients();
        // true raw coefficients: beta_j / scale_j
        let true_raw: Vec<f64> = beta.iter().zip(&scale).map(|(b, s)| b / s).collect();
        for j in 0..3 {
            assert!((raw[j] - true_raw[j]).abs() < 0.08 / scale[j], "coef {j}: {} vs {}", raw[j], true_raw[j]);
        }
        // The raw intercept amplifies coefficient noise by the feature shifts,
        // so check the log-odds at the feature means instead: 0.5 by construction.
        assert!((m.decision_function(&shift) - 0.5).abs() < 0.06, "eta at mean {}", m.decision_function(&shift));
        // decision function in raw units agrees with the standardised form
        let row = &x[5];
        let eta_raw: f64 = raw.iter().zip(row).map(|(a, b)| a * b).sum::<f64>() + b;
        assert_close(m.decision_function(row), eta_raw, 1e-8, "raw vs std");
        // serde round trip
        let json =
            serde_json::to_string(&m.clone().with_feature_names(vec!["a".into(), "b".into(), "c".into()])).unwrap();
        let back: LogisticRegression = serde_json::from_str(&json).unwrap();
        assert_eq!(back.predict_proba(row), m.predict_proba(row));
    }

    #[test]
    fn gradient_vanishes_at_optimum_separable() {
        // Perfectly separable 1-D data: the penalty keeps w finite.
        let x: Vec<[f64; 1]> = (0..40).map(|i| [i as f64]).collect();
        let y: Vec<bool> = (0..40).map(|i| i >= 20).collect();
        let m = LogisticRegression::fit(&x, &y, &LogisticOptions::default()).unwrap();
        assert!(m.converged);
        assert!(m.coef[0] > 1.0);
        // ∂/∂b = C Σ (μ_i − y_i) = 0 at the optimum
        let g: f64 = x.iter().zip(&y).map(|(r, &l)| m.predict_proba(r) - if l { 1.0 } else { 0.0 }).sum();
        assert!(g.abs() < 1e-8, "intercept gradient {g}");
        // ∂/∂w = w + C Σ (μ_i − y_i) z_i = 0
        let gw: f64 = m.coef[0]
            + x.iter()
                .zip(&y)
                .map(|(r, &l)| (m.predict_proba(r) - if l { 1.0 } else { 0.0 }) * (r[0] - m.means[0]) / m.scales[0])
                .sum::<f64>();
        assert!(gw.abs() < 1e-8, "weight gradient {gw}");
    }

    #[test]
    fn rejects_bad_input() {
        let x = vec![vec![1.0], vec![2.0]];
        assert!(LogisticRegression::fit(&x, &[true, true], &LogisticOptions::default()).is_err());
        assert!(
            LogisticRegression::fit(&[vec![1.0], vec![f64::NAN]], &[true, false], &LogisticOptions::default()).is_err()
        );
        assert!(
            LogisticRegression::fit(&[vec![1.0], vec![1.0, 2.0]], &[true, false], &LogisticOptions::default()).is_err()
        );
    }

    const SKLEARN_LOGREG: &str = r#"
import sys, json
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
out = []
for c in json.load(sys.stdin):
    X = StandardScaler().fit_transform(np.array(c["x"], dtype=float))
    y = np.array(c["y"], dtype=int)
    sw = np.array(c["w"], dtype=float) if c["w"] is not None else None
    m = LogisticRegression(C=c["c"], solver="newton-cholesky", tol=1e-14, max_iter=1000)
    m.fit(X, y, sample_weight=sw)
    out.append({"coef": m.coef_[0].tolist(), "intercept": float(m.intercept_[0])})
print(json.dumps(out))
"#;

    #[test]
    fn matches_sklearn_logistic_regression() {
        let Some(py) = sklearn_python() else { return };
        let mut cases = Vec::new();
        let (x1, y1) = synth(1, 3000, &[1.5, -0.7, 0.2, 0.0], -0.3, &[1.0, 5.0, 0.01, 2.0], &[0.0, 10.0, 1.0, -4.0]);
        cases.push((x1.clone(), y1.clone(), 1.0, None));
        cases.push((x1, y1, 0.01, None));
        let (x2, y2) = synth(2, 800, &[4.0, 3.0], 1.0, &[1.0, 1.0], &[0.0, 0.0]);
        let mut rng = Rng::new(9);
        let w: Vec<f64> = (0..x2.len()).map(|_| 0.2 + rng.uniform() * 2.0).collect();
        cases.push((x2.clone(), y2.clone(), 10.0, Some(w)));
        cases.push((x2, y2, 1e4, None));
        let input = serde_json::Value::Array(
            cases.iter().map(|(x, y, c, w)| serde_json::json!({"x": x, "y": y, "c": c, "w": w})).collect(),
        );
        let out = run_python(&py, SKLEARN_LOGREG, &input);
        for (ci, ((x, y, c, w), o)) in cases.iter().zip(out.as_array().unwrap()).enumerate() {
            let opts = LogisticOptions { c: *c, ..Default::default() };
            let m = LogisticRegression::fit_weighted(x, y, w.as_deref(), &opts).unwrap();
            let ctx = format!("case {ci} C={c}");
            assert!(m.converged, "{ctx}");
            for (j, pc) in o["coef"].as_array().unwrap().iter().enumerate() {
                assert_close(m.coef[j], pc.as_f64().unwrap(), 1e-6, &ctx);
            }
            assert_close(m.intercept, o["intercept"].as_f64().unwrap(), 1e-6, &ctx);
            eprintln!("{ctx}: coef {:?} intercept {} (sklearn {})", m.coef, m.intercept, o);
        }
    }
}
