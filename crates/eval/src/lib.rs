//! Evaluation core: detector metrics, reports, plots, and score models.
//!
//! Conventions used throughout this module:
//!
//! * A **score** is an `f64` where *higher means more likely machine-generated*.
//! * A **label** is a `bool` where `true` means *machine* (the positive class)
//!   and `false` means *human*.
//! * A text is **flagged** (predicted machine) at threshold `t` iff `score >= t`.
//!   This matches `sklearn.metrics.roc_curve`, whose thresholds are inclusive.
//! * **NaN scores** (a detector that could not score a text) are *excluded* from
//!   every metric and *counted* (`n_nan` fields), never silently treated as 0.
//!   `±inf` scores are ordinary, totally ordered values.
//!
//! Submodules:
//!
//! * [`metrics`] — ROC curve, AUROC, average precision (AUPRC), TPR at a fixed
//!   FPR, threshold selection from human scores (pooled or per group), one-sided
//!   Clopper-Pearson bounds, confusion-matrix metrics.
//!   All `O(n log n)` (one sort), numerically identical to scikit-learn.
//! * [`report`] — per signal × per group metric tables (JSON + Markdown).
//! * [`bootstrap`] — 95% intervals of AUROC and TPR at a fixed FPR (stratified
//!   bootstrap over documents), for the report's rows.
//! * `plot` (feature `plots`) — ROC-curve and score-histogram PNGs (embedded
//!   DejaVu Sans font, no system fonts needed).
//! * [`logistic`] — L2-regularised logistic regression (standardised features,
//!   damped Newton), for combining several signals into one score.
//! * [`boosting`] — gradient-boosted trees (logistic loss), the non-linear
//!   combiner, with per-feature attributions.
//! * [`calibration`] — Platt scaling and isotonic regression (PAV) to turn a
//!   raw score into a probability.

pub mod boosting;
pub mod bootstrap;
pub mod calibration;
pub mod logistic;
pub mod metrics;
#[cfg(feature = "plots")]
pub mod plot;
pub mod report;
pub mod rng;

pub use boosting::{BoostingOptions, GradientBoosting};
pub use calibration::{Calibrator, IsotonicRegression, PlattScaling};
pub use logistic::{LogisticOptions, LogisticRegression};
pub use metrics::{
    auroc, average_precision, budget_threshold, clopper_pearson_upper, confident_fp_budget, confusion_at, roc_curve,
    threshold_for_fpr, threshold_per_group, tpr_at_fpr, BinaryCurve, Confusion, FprThreshold, GroupThreshold,
    OperatingPoint, PerGroupThreshold, RocCurve,
};
#[cfg(feature = "plots")]
pub use plot::{plot_histograms, plot_roc, plot_roc_with, RocPlotOptions};
pub use report::{build_report, Report, ReportOptions, ReportRow, SignalInput, ThresholdSpec};

/// Errors produced by the evaluation module.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Two parallel inputs (e.g. scores and labels) have different lengths.
    #[error("length mismatch: {what} has {got} entries, expected {expected}")]
    LengthMismatch {
        /// Which input was wrong.
        what: &'static str,
        /// Its length.
        got: usize,
        /// The length it should have had.
        expected: usize,
    },
    /// No usable (non-NaN) observations.
    #[error("no usable observations ({n_nan} NaN scores excluded)")]
    Empty {
        /// How many NaN scores were dropped.
        n_nan: usize,
    },
    /// The metric needs both classes but only one is present.
    #[error("metric undefined: {0}")]
    Undefined(&'static str),
    /// A parameter is out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A feature matrix contains NaN/inf or ragged rows.
    #[error("invalid feature matrix: {0}")]
    InvalidFeatures(String),
    /// The optimiser failed (singular system / no convergence).
    #[error("optimisation failed: {0}")]
    Optimization(String),
    /// Rendering a plot failed.
    #[error("plot error: {0}")]
    Plot(String),
    /// I/O error (writing plots / reports).
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Result alias for this module.
pub type Result<T, E = EvalError> = std::result::Result<T, E>;

pub(crate) fn check_len(what: &'static str, got: usize, expected: usize) -> Result<()> {
    if got != expected {
        return Err(EvalError::LengthMismatch { what, got, expected });
    }
    Ok(())
}

/// The checks every learner makes on its training data: one label and (optionally) one finite, non-negative
/// weight per row, rows of equal length. Returns the feature count and the total weight of the machine and
/// the human rows.
pub(crate) fn check_training_data<R: AsRef<[f64]>>(
    x: &[R],
    y: &[bool],
    sample_weight: Option<&[f64]>,
) -> Result<(usize, f64, f64)> {
    check_len("labels", y.len(), x.len())?;
    if let Some(w) = sample_weight {
        check_len("sample_weight", w.len(), x.len())?;
        if w.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
            return Err(EvalError::InvalidArgument("sample weights must be finite and >= 0".into()));
        }
    }
    let Some(first) = x.first() else { return Err(EvalError::Empty { n_nan: 0 }) };
    let d = first.as_ref().len();
    if let Some((i, r)) = x.iter().enumerate().find(|(_, r)| r.as_ref().len() != d) {
        return Err(EvalError::InvalidFeatures(format!("row {i} has {} features, expected {d}", r.as_ref().len())));
    }
    let w = |i: usize| sample_weight.map_or(1.0, |w| w[i]);
    let (machine, human) = (0..x.len()).fold((0.0, 0.0), |(m, h), i| if y[i] { (m + w(i), h) } else { (m, h + w(i)) });
    Ok((d, machine, human))
}

/// Test helpers shared by the submodules: a tiny deterministic PRNG and the
/// optional scikit-learn bridge.
#[cfg(test)]
pub(crate) mod testutil {
    use std::io::Write;
    use std::process::{Command, Stdio};

    pub use super::rng::Rng;

    /// The python interpreter to use: `$SVALBARD_PYTHON`, else `python3`.
    /// Returns `None` (after an explanatory `eprintln!`) if scikit-learn is not
    /// importable, in which case the caller should skip its comparison.
    pub fn sklearn_python() -> Option<String> {
        let py = std::env::var("SVALBARD_PYTHON").unwrap_or_else(|_| "python3".to_string());
        let ok = Command::new(&py)
            .args(["-c", "import sklearn, numpy"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            Some(py)
        } else {
            eprintln!(
                "SKIPPED: scikit-learn comparison: `{py} -c 'import sklearn, numpy'` failed \
                 (set SVALBARD_PYTHON to an interpreter with scikit-learn installed)"
            );
            None
        }
    }

    /// Runs `script` with `input` (JSON) on stdin, returns its stdout parsed as JSON.
    pub fn run_python(py: &str, script: &str, input: &serde_json::Value) -> serde_json::Value {
        let mut child = Command::new(py)
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn python");
        child.stdin.take().unwrap().write_all(serde_json::to_string(input).unwrap().as_bytes()).unwrap();
        let out = child.wait_with_output().expect("python output");
        assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("python printed JSON")
    }

    /// Parses a JSON array of numbers where `null` stands for a non-finite value.
    pub fn f64s(v: &serde_json::Value) -> Vec<Option<f64>> {
        v.as_array().expect("array").iter().map(|x| x.as_f64()).collect()
    }

    pub fn assert_close(a: f64, b: f64, tol: f64, ctx: &str) {
        assert!((a - b).abs() <= tol || (a.is_infinite() && a == b), "{ctx}: {a} vs {b} (diff {})", (a - b).abs());
    }
}
