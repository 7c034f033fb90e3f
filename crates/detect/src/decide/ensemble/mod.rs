//! The ensemble: one calibrated probability that a document is machine-generated, from all signals' scores.
//!
//! A policy file (JSON, written by `svalbard calibrate`, see [`fit`]) holds one or two *stages*. Each stage is
//! a combiner over score columns (gradient-boosted trees, or a logistic regression), a calibration map (Platt
//! or isotonic) from its log-odds to a probability, and the threshold on that probability that gave the
//! target false-positive rate on human web pages. The *cheap* stage reads the signals that score every document (heuristics, the `fast` model). The
//! optional *full* stage reads the expensive signals too (a transformer classifier, a neural LM).
//!
//! The cascade: the cheap stage scores every document; only documents whose cheap probability falls inside
//! the policy's uncertain band `[lo, hi)` are scored by the expensive signals and decided by the full stage.
//! Below the band the cheap stage's "human" stands, at or above it its "machine". With `cascade = false`
//! every document gets every signal and the full stage decides alone.
//!
//! The ensemble adds the columns `p_machine` (the deciding stage's calibrated probability) and
//! `ensemble_stage` (1 = decided by the cheap stage, 2 = by the full stage), and the rule `ensemble.machine`.
//! Its reason names the signals that pushed the log-odds up the most, e.g.
//! `ensemble.machine(fast_p_machine=+2.10;vocab_excess_rate=+0.41)`.

pub mod fit;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Error, Result};
use crate::eval::{Calibrator, GradientBoosting, LogisticRegression};
use crate::spec::{Action, SignalSpec};

/// v2: a stage's `model` names its kind (`{"boosted": …}` or `{"logistic": …}`).
pub const POLICY_FORMAT: &str = "svalbard-policy-v2";
/// The policy that matches the shipped signals (heuristics and the built-in `fast` model).
pub const BUILTIN_DEFAULT: &str = "builtin:default";
const DEFAULT_POLICY: &str = include_str!("../../../../../models/policy.json");
pub const P_MACHINE: &str = "p_machine";
pub const STAGE: &str = "ensemble_stage";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnsembleConfig {
    /// Unset (the default): on when the enabled signals write every column the policy reads, else off with a
    /// warning (e.g. `classifiers = []` for a heuristics-only run). `true`: on, and missing columns are an
    /// error. `false`: off.
    pub enabled: Option<bool>,
    /// A policy file from `svalbard calibrate`, or "builtin:default".
    pub policy: String,
    /// What `ensemble.machine` does; while the ensemble is on, the detectors' own rules only flag unless
    /// `[rules]` says otherwise, so that one calibrated threshold decides.
    pub action: Action,
    /// Run the expensive signals only on documents in the uncertain band (false: on every document).
    pub cascade: bool,
    /// Overrides the policy's uncertain band `[lo, hi)` on the cheap stage's probability.
    pub band: Option<[f64; 2]>,
    /// Overrides the policy's threshold on `p_machine` (of the deciding stage).
    pub threshold: Option<f64>,
}

impl Default for EnsembleConfig {
    fn default() -> Self {
        EnsembleConfig {
            enabled: None,
            policy: BUILTIN_DEFAULT.into(),
            action: Action::Reject,
            cascade: true,
            band: None,
            threshold: None,
        }
    }
}

impl EnsembleConfig {
    /// The values only; the policy file is read when the ensemble is built.
    pub fn validate(&self) -> Result<()> {
        if self.policy.is_empty() {
            return Err(Error::Config(format!("ensemble.policy is empty (a policy file, or {BUILTIN_DEFAULT:?})")));
        }
        check::optional("ensemble.threshold", self.threshold, check::unit)?;
        check::optional("ensemble.band", self.band, check_band)
    }
}

/// An uncertain band `[lo, hi)` on a probability: `0 <= lo <= hi <= 1`.
fn check_band(key: &str, band: [f64; 2]) -> Result<()> {
    check::unit(&format!("{key}[0]"), band[0])?;
    check::unit(&format!("{key}[1]"), band[1])?;
    check::ordered(&format!("{key}[0]"), band[0], &format!("{key}[1]"), band[1])
}

/// How a score column is fed to the regression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transform {
    Identity,
    /// `ln(max(x, 1e-6))`: for heavy-tailed, positive columns (perplexities).
    Log,
    /// `ln(p / (1 - p))` clamped to ±12: for probabilities, whose evidence lives near 0 and 1.
    Logit,
}

impl Transform {
    /// The natural transform of a column, from its name.
    pub fn for_column(name: &str) -> Self {
        if name.ends_with("perplexity") {
            Transform::Log
        } else if name.ends_with("p_machine") {
            Transform::Logit
        } else {
            Transform::Identity
        }
    }

    pub fn apply(self, x: f64) -> f64 {
        match self {
            Transform::Identity => x,
            Transform::Log => x.max(1e-6).ln(),
            Transform::Logit => {
                let p = x.clamp(1e-6, 1.0 - 1e-6);
                (p / (1.0 - p)).ln().clamp(-12.0, 12.0)
            }
        }
    }
}

/// A score as the regression sees it: transformed, or `fill` when the signal gave no finite score.
pub(crate) fn feature(transform: Transform, fill: f64, x: f32) -> f64 {
    let x = x as f64;
    if x.is_finite() {
        transform.apply(x)
    } else {
        fill
    }
}

/// The model of a stage, from transformed score columns to log-odds of machine.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Combiner {
    /// Gradient-boosted trees: signals whose evidence depends on each other.
    Boosted(GradientBoosting),
    /// A logistic regression: one weight per column, easy to read (`calibrate`'s default).
    Logistic(LogisticRegression),
}

impl Combiner {
    pub fn decision_function(&self, row: &[f64]) -> f64 {
        match self {
            Combiner::Boosted(m) => m.decision_function(row),
            Combiner::Logistic(m) => m.decision_function(row),
        }
    }

    /// Each column's term of the log-odds (the regression's `w·x` terms; the trees' path attributions).
    pub fn contributions(&self, row: &[f64]) -> Vec<f64> {
        match self {
            Combiner::Boosted(m) => m.contributions(row),
            Combiner::Logistic(m) => m.contributions(row).collect(),
        }
    }

    pub fn n_features(&self) -> usize {
        match self {
            Combiner::Boosted(m) => m.n_features(),
            Combiner::Logistic(m) => m.n_features(),
        }
    }
}

/// One combiner over score columns, calibrated, with its decision threshold.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stage {
    pub features: Vec<String>,
    pub transforms: Vec<Transform>,
    /// Stands in for a NaN score: the feature's training mean (for the regression: a missing score then
    /// contributes nothing).
    pub fill: Vec<f64>,
    pub model: Combiner,
    /// From the regression's log-odds to P(machine).
    pub calibration: Calibrator,
    /// Flag as machine at calibrated p >= threshold.
    pub threshold: f64,
}

impl Stage {
    /// Transformed feature row of document `doc`, NaNs filled.
    fn row(&self, index: &[usize], columns: &[Vec<f32>], doc: usize, row: &mut Vec<f64>) {
        row.clear();
        row.extend(index.iter().enumerate().map(|(k, &c)| feature(self.transforms[k], self.fill[k], columns[c][doc])));
    }

    /// Calibrated P(machine) of a transformed row.
    pub fn probability(&self, row: &[f64]) -> f64 {
        self.calibration.apply(self.model.decision_function(row))
    }

    /// The features that raised the log-odds the most, strongest first: `name=+c` (at most `k`, only c > 0.05).
    fn drivers(&self, row: &[f64], k: usize) -> String {
        let mut c: Vec<(f64, &str)> = self
            .model
            .contributions(row)
            .into_iter()
            .zip(self.features.iter().map(String::as_str))
            .filter(|(c, _)| *c > 0.05)
            .collect();
        c.sort_by(|a, b| b.0.total_cmp(&a.0));
        c.iter().take(k).map(|(c, n)| format!("{n}={c:+.2}")).collect::<Vec<_>>().join(";")
    }

    fn check(&self, what: &str) -> Result<()> {
        check::unit(&format!("policy {what} stage: threshold"), self.threshold)?;
        let d = self.features.len();
        if d == 0 || self.transforms.len() != d || self.fill.len() != d || self.model.n_features() != d {
            return Err(Error::Config(format!("policy {what} stage: features, transforms, fill and model disagree")));
        }
        if let Combiner::Boosted(m) = &self.model {
            m.check().map_err(|e| Error::Config(format!("policy {what} stage: {e}")))?;
        }
        Ok(())
    }
}

/// What a policy was fitted on, for the record.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FitInfo {
    pub train: Vec<String>,
    pub holdout: Vec<String>,
    pub fpr_reference: Vec<String>,
    pub n_train_human: u64,
    pub n_train_machine: u64,
    pub n_holdout_human: u64,
    pub n_holdout_machine: u64,
    pub n_fpr_reference: u64,
    /// The rows the full stage was fitted on, where they are not all of `train`.
    #[serde(default, skip_serializing_if = "FullFitInfo::is_all_rows")]
    pub full_stage_train: FullFitInfo,
    pub svalbard_version: String,
}

/// Which training rows fitted the full stage (`calibrate --full-fit-field`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FullFitInfo {
    /// The boolean field marking documents the expensive models never trained on.
    pub field: Option<String>,
    pub n_human: u64,
    pub n_machine: u64,
    /// Groups ("machine web-gpt2") with no unseen row, fitted on all their rows.
    pub in_sample_groups: Vec<String>,
}

impl FullFitInfo {
    fn is_all_rows(&self) -> bool {
        self.field.is_none()
    }
}

/// The policy file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PolicyFile {
    pub format: String,
    pub description: String,
    /// The false-positive rate on human reference text the thresholds were chosen for.
    pub target_fpr: f64,
    pub cheap: Stage,
    pub full: Option<Stage>,
    /// The cheap stage's uncertain band `[lo, hi)`, where the full stage decides.
    pub band: Option<[f64; 2]>,
    pub fitted_on: FitInfo,
    /// What `calibrate` measured (per stage, the cascade, leave-one-group-out).
    pub metrics: serde_json::Value,
}

impl PolicyFile {
    pub fn load(spec: &str) -> Result<Self> {
        let (text, origin) = if spec == BUILTIN_DEFAULT {
            (DEFAULT_POLICY.to_string(), "the built-in policy".to_string())
        } else {
            let path = PathBuf::from(spec);
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::Config(format!("ensemble policy {}: {e} (write one with `svalbard calibrate`)", path.display()))
            })?;
            (text, path.display().to_string())
        };
        let bad = |e: serde_json::Error| Error::Config(format!("ensemble policy {origin}: {e}"));
        // The format first: an older policy's fields would not parse, and the fix is to re-fit it. Read alone
        // (every other field skipped unparsed), not through a `serde_json::Value` of the whole file, which cost
        // more than parsing the policy itself.
        #[derive(Deserialize)]
        struct Format {
            #[serde(default)]
            format: String,
        }
        let format = serde_json::from_str::<Format>(&text).map_err(bad)?.format;
        if format != POLICY_FORMAT {
            return Err(Error::Config(format!(
                "ensemble policy {origin}: format {format:?}, expected {POLICY_FORMAT:?} (re-fit it with \
                 `svalbard calibrate`)"
            )));
        }
        let p: PolicyFile = serde_json::from_str(&text).map_err(bad)?;
        let in_file = |e: Error| match e {
            Error::Config(m) => Error::Config(format!("ensemble policy {origin}: {m}")),
            e => e,
        };
        check::unit("target_fpr", p.target_fpr).map_err(in_file)?;
        check::optional("band", p.band, check_band).map_err(in_file)?;
        p.cheap.check("cheap").map_err(in_file)?;
        if let Some(f) = &p.full {
            f.check("full").map_err(in_file)?;
        }
        Ok(p)
    }

    /// Columns the policy reads.
    pub fn columns(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.cheap.features.iter().map(String::as_str).collect();
        for f in self.full.iter().flat_map(|s| &s.features) {
            if !v.contains(&f.as_str()) {
                v.push(f);
            }
        }
        v
    }

    /// Pretty JSON, except that each tree of a boosted stage is one line: a policy of 300 trees stays a
    /// file a person can read (and diff), a third of the size of fully pretty JSON.
    pub fn to_json(&self) -> String {
        let mut v = serde_json::to_value(self).expect("policy serializes");
        let mut compact = Vec::new();
        for stage in ["cheap", "full"] {
            let trees = v.get_mut(stage).and_then(|s| s.pointer_mut("/model/boosted/trees"));
            if let Some(trees) = trees {
                let lines: Vec<String> = trees
                    .as_array()
                    .expect("trees are an array")
                    .iter()
                    .map(|t| serde_json::to_string(t).expect("tree serializes"))
                    .collect();
                let key = format!("@{stage}-trees@");
                compact.push((key.clone(), lines));
                *trees = serde_json::Value::String(key);
            }
        }
        let mut text = serde_json::to_string_pretty(&v).expect("policy serializes");
        for (key, lines) in compact {
            text = text.replace(&format!("\"{key}\""), &format!("[\n{}\n]", lines.join(",\n")));
        }
        text
    }
}

/// The ensemble's decisions for a batch.
pub struct EnsembleScores {
    pub p_machine: Vec<f32>,
    pub stage: Vec<f32>,
    pub machine: Vec<bool>,
    /// Per document: the signals that drove a "machine" (empty otherwise).
    pub drivers: Vec<String>,
}

/// A policy bound to a scorer's column layout.
pub struct Ensemble {
    policy: PolicyFile,
    cheap_index: Vec<usize>,
    full_index: Option<Vec<usize>>,
    cascade: bool,
    band: [f64; 2],
    threshold_override: Option<f64>,
    spec: SignalSpec,
}

impl Ensemble {
    /// Bind the policy to `columns` (the scorer's score columns); every column it reads must be there.
    pub fn new(config: &EnsembleConfig, columns: &[String]) -> Result<Self> {
        Self::with_policy(config, PolicyFile::load(&config.policy)?, columns)
    }

    /// The ensemble the config asks for, if any: see [`EnsembleConfig::enabled`].
    pub fn from_config(config: &EnsembleConfig, columns: &[String]) -> Result<Option<Self>> {
        if config.enabled == Some(false) {
            return Ok(None);
        }
        let policy = PolicyFile::load(&config.policy)?;
        let missing: Vec<&str> = policy.columns().into_iter().filter(|c| !columns.iter().any(|x| x == c)).collect();
        if config.enabled.is_none() && !missing.is_empty() {
            let shown = missing.iter().take(3).copied().collect::<Vec<_>>().join(",");
            let more = if missing.len() > 3 { format!(" and {} more", missing.len() - 3) } else { String::new() };
            tracing::warn!(
                policy = %config.policy,
                missing = %format!("{shown}{more}"),
                "the ensemble is off: the enabled signals do not write every column its policy reads \
                 (set [ensemble] enabled = true to make this an error)"
            );
            return Ok(None);
        }
        Self::with_policy(config, policy, columns).map(Some)
    }

    fn with_policy(config: &EnsembleConfig, policy: PolicyFile, columns: &[String]) -> Result<Self> {
        let index = |stage: &Stage| -> Result<Vec<usize>> {
            stage
                .features
                .iter()
                .map(|f| {
                    columns.iter().position(|c| c == f).ok_or_else(|| {
                        Error::Config(format!(
                            "the ensemble policy {} reads column {f:?}, which no enabled signal writes; enable \
                             its signal, use a policy fitted on the enabled signals (`svalbard calibrate`), or \
                             set [ensemble] enabled = false",
                            config.policy
                        ))
                    })
                })
                .collect()
        };
        let cheap_index = index(&policy.cheap)?;
        let full_index = policy.full.as_ref().map(index).transpose()?;
        // The policy's band was checked when it was loaded; the config is checked here too, since an
        // ensemble can be built from a config that never went through `Config::validate` (calibrate, tests).
        config.validate()?;
        let band = config.band.or(policy.band).unwrap_or([0.0, 1.0]);
        let mut spec = SignalSpec::new(
            "ensemble",
            config.action,
            &[],
            &[("machine", "the ensemble's calibrated p_machine at or above the policy threshold")],
        )
        .detector();
        spec.columns = vec![P_MACHINE.into(), STAGE.into()];
        Ok(Ensemble {
            policy,
            cheap_index,
            full_index,
            cascade: config.cascade,
            band,
            threshold_override: config.threshold,
            spec,
        })
    }

    pub fn spec(&self) -> &SignalSpec {
        &self.spec
    }

    pub fn policy(&self) -> &PolicyFile {
        &self.policy
    }

    /// Columns only the full stage reads: the signals behind them are the expensive ones.
    pub fn expensive_columns(&self) -> Vec<usize> {
        let Some(full) = &self.full_index else { return Vec::new() };
        full.iter().copied().filter(|c| !self.cheap_index.contains(c)).collect()
    }

    /// Which documents need the expensive signals: with the cascade, those in the cheap stage's uncertain band.
    /// Only documents with `scored[d]` (the detectors ran on them) can.
    pub fn needs_full(&self, columns: &[Vec<f32>], scored: &[bool]) -> Vec<bool> {
        if self.full_index.is_none() {
            return vec![false; scored.len()];
        }
        if !self.cascade {
            return scored.to_vec();
        }
        let mut row = Vec::new();
        (0..scored.len())
            .map(|d| {
                scored[d] && {
                    self.policy.cheap.row(&self.cheap_index, columns, d, &mut row);
                    let p = self.policy.cheap.probability(&row);
                    p >= self.band[0] && p < self.band[1]
                }
            })
            .collect()
    }

    /// Decide every document with `scored[d]`; `full[d]` says whether document d has the expensive signals'
    /// scores. A document not scored (a quality rule rejected it before the detectors ran) gets NaN for
    /// `p_machine` and `stage`, no verdict and no drivers, and costs no evaluation of the policy.
    pub fn decide(&self, columns: &[Vec<f32>], full: &[bool], scored: &[bool]) -> EnsembleScores {
        let n = full.len();
        let mut out = EnsembleScores {
            p_machine: Vec::with_capacity(n),
            stage: Vec::with_capacity(n),
            machine: Vec::with_capacity(n),
            drivers: Vec::with_capacity(n),
        };
        let mut row = Vec::new();
        for (d, (&use_full, &scored)) in full.iter().zip(scored).enumerate() {
            if !scored {
                out.p_machine.push(f32::NAN);
                out.stage.push(f32::NAN);
                out.machine.push(false);
                out.drivers.push(String::new());
                continue;
            }
            let (stage, index, by_full) = match (&self.policy.full, &self.full_index) {
                (Some(s), Some(i)) if use_full => (s, i, true),
                _ => (&self.policy.cheap, &self.cheap_index, false),
            };
            stage.row(index, columns, d, &mut row);
            let p = stage.probability(&row);
            let threshold = self.threshold_override.unwrap_or(stage.threshold);
            // Outside the band the cheap stage's answer stands: above it is machine whatever its threshold.
            let machine =
                if !by_full && self.policy.full.is_some() && self.cascade { p >= self.band[1] } else { p >= threshold };
            out.drivers.push(if machine { stage.drivers(&row, 3) } else { String::new() });
            out.p_machine.push(p as f32);
            out.stage.push(if by_full { 2.0 } else { 1.0 });
            out.machine.push(machine);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{LogisticOptions, PlattScaling};

    /// A regression with log-odds `Σ coef_j (x_j - mean_j) / scale_j`.
    fn linear(means: &[f64], scales: &[f64], coef: &[f64]) -> Combiner {
        let x: Vec<Vec<f64>> = vec![vec![0.0; coef.len()], vec![1.0; coef.len()]];
        let mut model = LogisticRegression::fit(&x, &[false, true], &LogisticOptions::default()).unwrap();
        model.means = means.to_vec();
        model.scales = scales.to_vec();
        model.coef = coef.to_vec();
        model.intercept = 0.0;
        Combiner::Logistic(model)
    }

    /// A one-feature stage: log-odds = 2 * (x - 0.5) / 0.25, identity calibration.
    fn stage(feature: &str, threshold: f64) -> Stage {
        Stage {
            features: vec![feature.into()],
            transforms: vec![Transform::Identity],
            fill: vec![0.5],
            model: linear(&[0.5], &[0.25], &[2.0]),
            calibration: Calibrator::Platt(PlattScaling { a: 1.0, b: 0.0 }),
            threshold,
        }
    }

    fn policy(full: bool) -> PolicyFile {
        let mut full_stage = stage("expensive", 0.5);
        full_stage.features = vec!["cheap".into(), "expensive".into()];
        full_stage.transforms = vec![Transform::Identity; 2];
        full_stage.fill = vec![0.5, 0.5];
        full_stage.model = linear(&[0.5, 0.5], &[1.0, 0.25], &[0.0, 2.0]);
        PolicyFile {
            format: POLICY_FORMAT.into(),
            description: "test".into(),
            target_fpr: 0.01,
            cheap: stage("cheap", 0.9),
            full: full.then_some(full_stage),
            band: full.then_some([0.2, 0.95]),
            fitted_on: FitInfo::default(),
            metrics: serde_json::Value::Null,
        }
    }

    fn bind(p: &PolicyFile, cascade: bool) -> Ensemble {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, p.to_json()).unwrap();
        let config = EnsembleConfig { policy: path.display().to_string(), cascade, ..Default::default() };
        Ensemble::new(&config, &["other".into(), "cheap".into(), "expensive".into()]).unwrap()
    }

    #[test]
    fn transforms() {
        assert_eq!(Transform::for_column("ngram_lm_perplexity"), Transform::Log);
        assert_eq!(Transform::for_column("fast_p_machine"), Transform::Logit);
        assert_eq!(Transform::for_column("c4_lines"), Transform::Identity);
        assert!((Transform::Log.apply(std::f64::consts::E) - 1.0).abs() < 1e-12);
        assert!((Transform::Logit.apply(0.75) - 3f64.ln()).abs() < 1e-12);
        assert_eq!(Transform::Logit.apply(1.0), 12.0);
    }

    #[test]
    fn one_stage_decides_by_its_threshold_and_names_drivers() {
        let e = bind(&policy(false), true);
        // cheap x = 0.75 -> log-odds 2 * 0.25 / 0.25 = 2 -> p = sigmoid(2) = 0.8808 < 0.9; x = 1 -> sigmoid(4) = 0.982.
        let cols = vec![vec![9.0, 9.0, 9.0], vec![0.75, 1.0, f32::NAN], vec![0.0; 3]];
        assert_eq!(e.needs_full(&cols, &[true; 3]), vec![false; 3]);
        assert!(e.expensive_columns().is_empty());
        let s = e.decide(&cols, &[false; 3], &[true; 3]);
        assert!((s.p_machine[0] - 0.880797).abs() < 1e-5);
        assert_eq!(s.machine, vec![false, true, false]);
        assert_eq!(s.drivers[1], "cheap=+4.00");
        // NaN is filled with the mean: log-odds 0, p = 0.5.
        assert!((s.p_machine[2] - 0.5).abs() < 1e-6);
        assert_eq!(s.stage, vec![1.0; 3]);
    }

    #[test]
    fn cascade_sends_only_the_uncertain_band_to_the_full_stage() {
        let p = policy(true);
        let e = bind(&p, true);
        assert_eq!(e.expensive_columns(), vec![2]);
        // cheap p: x=0 -> sigmoid(-4) = 0.018 (below band), x=0.5 -> 0.5 (in band), x=1 -> 0.982 (above band).
        let cols = vec![vec![0.0; 3], vec![0.0, 0.5, 1.0], vec![f32::NAN, 0.9, f32::NAN]];
        let need = e.needs_full(&cols, &[true; 3]);
        assert_eq!(need, vec![false, true, false]);
        let s = e.decide(&cols, &need, &[true; 3]);
        assert_eq!(s.stage, vec![1.0, 2.0, 1.0]);
        // full stage on the middle one: log-odds 2 * 0.4 / 0.25 = 3.2 -> p = 0.9608 >= 0.5.
        assert!((s.p_machine[1] - 0.960834).abs() < 1e-5);
        assert_eq!(s.machine, vec![false, true, true]);
        assert_eq!(s.drivers[1], "expensive=+3.20");

        // Without the cascade the full stage decides every document.
        let e = bind(&p, false);
        assert_eq!(e.needs_full(&cols, &[true; 3]), vec![true; 3]);
        let cols = vec![vec![0.0; 3], vec![0.0, 0.5, 1.0], vec![0.0, 0.9, 0.3]];
        let s = e.decide(&cols, &[true; 3], &[true; 3]);
        assert_eq!(s.machine, vec![false, true, false]);

        // A document the detectors did not score is neither sent to the full stage nor decided.
        let e = bind(&p, true);
        let cols = vec![vec![0.0; 3], vec![0.5, 0.5, 1.0], vec![f32::NAN, 0.9, f32::NAN]];
        let scored = [false, true, false];
        let need = e.needs_full(&cols, &scored);
        assert_eq!(need, vec![false, true, false]);
        let s = e.decide(&cols, &need, &scored);
        assert!(s.p_machine[0].is_nan() && s.stage[0].is_nan() && s.p_machine[2].is_nan() && s.stage[2].is_nan());
        assert_eq!(s.machine, vec![false, true, false]);
        assert_eq!(s.drivers[2], "");
    }

    #[test]
    fn missing_columns_and_bad_files_are_config_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, policy(true).to_json()).unwrap();
        let config = EnsembleConfig { policy: path.display().to_string(), ..Default::default() };
        let err = Ensemble::new(&config, &["cheap".into()]).err().unwrap().to_string();
        assert!(err.contains("\"expensive\"") && err.contains("svalbard calibrate"), "{err}");
        // Unset `enabled`: a policy the signals cannot feed turns the ensemble off; `true` makes it an error.
        assert!(Ensemble::from_config(&config, &["cheap".into()]).unwrap().is_none());
        let on = EnsembleConfig { enabled: Some(true), ..config.clone() };
        assert!(Ensemble::from_config(&on, &["cheap".into()]).is_err());
        let off = EnsembleConfig { enabled: Some(false), policy: "/nonexistent".into(), ..config.clone() };
        assert!(Ensemble::from_config(&off, &[]).unwrap().is_none());
        std::fs::write(&path, "{}").unwrap();
        assert!(matches!(Ensemble::new(&config, &["cheap".into()]), Err(Error::Config(_))));
        let config = EnsembleConfig { policy: "/nonexistent/policy.json".into(), ..Default::default() };
        assert!(Ensemble::new(&config, &[]).err().unwrap().to_string().contains("svalbard calibrate"));
    }
}
