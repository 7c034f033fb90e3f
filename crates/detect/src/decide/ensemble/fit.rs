//! Fitting a policy (`svalbard calibrate`): combiners on the training set, calibration on the holdout, the
//! threshold for the target false-positive rate on human reference text, the cascade's band, and what it all
//! measures on the holdout (per stage, the cascade, leave-one-group-out).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::{
    feature, Combiner, Ensemble, EnsembleConfig, FitInfo, FullFitInfo, PolicyFile, Stage, Transform, POLICY_FORMAT,
};
use crate::error::{Error, Result};
use crate::eval::report::FPR_CONFIDENCE;
use crate::eval::{
    auroc, clopper_pearson_upper, confident_fp_budget, threshold_for_fpr, threshold_per_group, tpr_at_fpr,
    BoostingOptions, Calibrator, GradientBoosting, IsotonicRegression, LogisticOptions, LogisticRegression,
    PerGroupThreshold, PlattScaling,
};
use crate::labeled::Dataset;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Platt,
    Isotonic,
}

/// The kind of model a stage is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CombinerKind {
    Boosted,
    Logistic,
}

pub struct FitOptions {
    pub target_fpr: f64,
    /// Probability that the threshold's true FPR is within `target_fpr` (0 = the plain empirical quantile);
    /// see [`confident_fp_budget`].
    pub fpr_confidence: f64,
    /// Field of the reference data (e.g. source) each of whose values must hold `target_fpr` on its own, with
    /// `fpr_confidence` applied per group (see [`threshold_per_group`]); None = the pooled reference humans.
    pub reference_group_field: Option<String>,
    pub method: Method,
    pub combiner: CombinerKind,
    /// Inverse L2 strength of the regression (`CombinerKind::Logistic`).
    pub c: f64,
    /// The trees (`CombinerKind::Boosted`).
    pub boosting: BoostingOptions,
    /// Columns every document gets (the cheap stage's features).
    pub cheap_columns: Vec<String>,
    /// Columns of the expensive signals (the full stage adds them); empty = one stage.
    pub expensive_columns: Vec<String>,
    /// Overrides the fitted uncertain band.
    pub band: Option<[f64; 2]>,
    /// Field whose values weigh the same within each class (see [`sample_weights`]); None = classes only.
    pub balance_field: Option<String>,
    /// Threshold each human reference row on a stage fitted without its `reference_group_field` group's
    /// training rows (see [`cross_fitted_reference`]), so that every group is judged as a new source would be.
    pub cross_fit_reference: bool,
    /// Groups of `reference_group_field` that are measured and reported at the threshold but do not set it
    /// (nor the cascade's band): see [`PerGroupThreshold::report_only`].
    pub report_only_groups: Vec<String>,
    /// Group field for the leave-one-group-out table.
    pub loso_field: Option<String>,
    /// Boolean field marking the training rows the expensive signals' models never trained on; only they
    /// fit the full stage (see [`full_stage_rows`]). None = every row.
    pub full_fit_field: Option<String>,
    pub description: String,
}

/// The training rows the full stage fits on: those whose `field` is true, plus, for each (class, balance
/// group) with no such row, all of that cell's rows.
///
/// A model's scores of its own training documents are too good: fitted on them, the full stage learns to
/// trust the expensive classifier alone and does worse on new text than the cheap stage (measured on dev
/// with minilm: models/minilm/README.md). Out-of-fold scores would fix it at the price of k fine-tunes; the rows the
/// classifier's subsample left out cost nothing. A group the classifier trained on entirely keeps its rows,
/// in-sample, rather than drop out of the fit. Returns the mask and the groups kept in-sample.
pub fn full_stage_rows(train: &Dataset, field: &str, balance_field: Option<&str>) -> Result<(Vec<bool>, Vec<String>)> {
    let flags =
        train.groups.get(field).ok_or_else(|| Error::Config(format!("no field {field:?} in the training data")))?;
    let unseen = flags
        .iter()
        .enumerate()
        .map(|(d, v)| match v.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(Error::Config(format!(
                "field {field:?} of training document {} is {v:?}: expected true or false",
                d + 1
            ))),
        })
        .collect::<Result<Vec<bool>>>()?;
    let cells = cells(train, balance_field)?;
    let covered: BTreeSet<(bool, &str)> = cells.iter().zip(&unseen).filter(|(_, &u)| u).map(|(&c, _)| c).collect();
    let mut in_sample: BTreeSet<String> = BTreeSet::new();
    let mask = cells
        .iter()
        .zip(&unseen)
        .map(|(&(l, g), &u)| {
            let keep_all = !covered.contains(&(l, g));
            if keep_all {
                in_sample.insert(format!("{} {g}", if l { "machine" } else { "human" }).trim_end().to_string());
            }
            u || keep_all
        })
        .collect();
    Ok((mask, in_sample.into_iter().collect()))
}

/// The full stage's training rows (`train` itself without a `full_fit_field`), and the groups kept in-sample.
fn full_train<'a>(train: &'a Dataset, opts: &FitOptions) -> Result<(Cow<'a, Dataset>, Vec<String>)> {
    match &opts.full_fit_field {
        None => Ok((Cow::Borrowed(train), Vec::new())),
        Some(f) => {
            let (mask, in_sample) = full_stage_rows(train, f, opts.balance_field.as_deref())?;
            Ok((Cow::Owned(train.select(&mask)), in_sample))
        }
    }
}

/// Transformed, NaN-filled rows of `columns` for the rows `keep` selects.
fn rows(data: &Dataset, columns: &[String], transforms: &[Transform], fill: &[f64]) -> Result<Vec<Vec<f64>>> {
    let idx: Vec<usize> = columns
        .iter()
        .map(|c| {
            data.columns.iter().position(|x| x == c).ok_or_else(|| Error::Config(format!("no score column {c:?}")))
        })
        .collect::<Result<_>>()?;
    Ok((0..data.len())
        .map(|d| idx.iter().enumerate().map(|(k, &c)| feature(transforms[k], fill[k], data.values[c][d])).collect())
        .collect())
}

/// Per column: its transform, and the mean of its transformed finite training values (the NaN fill).
fn prepare(train: &Dataset, columns: &[String]) -> Result<(Vec<Transform>, Vec<f64>)> {
    let mut transforms = Vec::new();
    let mut fill = Vec::new();
    for c in columns {
        let v = train.column(c).ok_or_else(|| Error::Config(format!("no score column {c:?}")))?;
        let mut t = Transform::for_column(c);
        let finite: Vec<f64> = v.iter().map(|&x| x as f64).filter(|x| x.is_finite()).collect();
        // Counts (words, lines, characters) are heavy-tailed: compare them on a log scale.
        if t == Transform::Identity && finite.iter().all(|&x| x >= 0.0) && finite.iter().any(|&x| x > 50.0) {
            t = Transform::Log;
        }
        let mean =
            if finite.is_empty() { 0.0 } else { finite.iter().map(|&x| t.apply(x)).sum::<f64>() / finite.len() as f64 };
        transforms.push(t);
        fill.push(mean);
    }
    Ok((transforms, fill))
}

/// Each training row's cell: its class and its value of `balance_field` ("" without one).
fn cells<'a>(train: &'a Dataset, balance_field: Option<&str>) -> Result<Vec<(bool, &'a str)>> {
    let groups = match balance_field {
        Some(f) => {
            Some(train.groups.get(f).ok_or_else(|| Error::Config(format!("no field {f:?} in the training data")))?)
        }
        None => None,
    };
    Ok(train
        .labels
        .iter()
        .enumerate()
        .map(|(d, &l)| (l, groups.and_then(|g| g.get(d)).map_or("", String::as_str)))
        .collect())
}

/// Training weights: the two classes weigh the same in total; with `balance_field`, so does every value of
/// that field within its class (e.g. each source of machine text, and web pages as much as books among the
/// human text), so that the largest source does not decide alone what "human" looks like.
fn sample_weights(train: &Dataset, balance_field: Option<&str>) -> Result<Vec<f64>> {
    let n_machine = train.labels.iter().filter(|&&l| l).count();
    if n_machine == 0 || n_machine == train.len() {
        return Err(Error::Config("the training data needs both human and machine documents".into()));
    }
    let cells = cells(train, balance_field)?;
    let mut count: BTreeMap<(bool, &str), usize> = BTreeMap::new();
    for &c in &cells {
        *count.entry(c).or_default() += 1;
    }
    let groups_of = |l: bool| count.keys().filter(|(c, _)| *c == l).count() as f64;
    let per_class = [groups_of(false), groups_of(true)];
    // Each class totals n/2, split equally among its groups.
    let n = train.len() as f64;
    Ok(cells.iter().map(|c| n / 2.0 / per_class[c.0 as usize] / count[c] as f64).collect())
}

/// Fit one stage: the combiner on `train` (classes weighted equally), calibration on `holdout`, and the
/// threshold for `target_fpr` on the human rows of `reference`.
/// A fitted stage and its calibrated probabilities on every holdout and reference row, which fitting has
/// computed anyway and the policy's metrics reuse.
struct Fitted {
    stage: Stage,
    holdout: Vec<f64>,
    reference: Vec<f64>,
    /// The per-group threshold rule's groups, with `FitOptions::reference_group_field`.
    groups: Option<PerGroupThreshold>,
}

/// The group of each human row of `reference` (in row order) by `field`, which every one of them must have.
///
/// An unknown field reads as empty on every document: it is an error naming the field, not one group of all.
pub fn reference_groups<'a>(reference: &'a Dataset, field: &str) -> Result<Vec<&'a str>> {
    let values = reference.groups.get(field).ok_or_else(|| {
        Error::Config(format!("--reference-group-field {field}: the reference data was not read with that field"))
    })?;
    let human: Vec<&str> = values.iter().zip(&reference.labels).filter(|(_, &l)| !l).map(|(g, _)| g.as_str()).collect();
    let missing = human.iter().filter(|g| g.is_empty()).count();
    if missing == human.len() {
        return Err(Error::Config(format!(
            "--reference-group-field {field}: no human document of the reference data has a {field:?} field"
        )));
    }
    if missing > 0 {
        return Err(Error::Config(format!(
            "--reference-group-field {field}: {missing} of the {} human reference documents have no {field:?} \
             value (each must belong to a group for the threshold to hold per group)",
            human.len()
        )));
    }
    Ok(human)
}

/// The combiner of one stage fitted on `train` (classes weighted equally), not yet calibrated (identity) nor
/// thresholded (1.0).
fn fit_combiner(train: &Dataset, columns: &[String], opts: &FitOptions) -> Result<Stage> {
    let (transforms, fill) = prepare(train, columns)?;
    let x = rows(train, columns, &transforms, &fill)?;
    let weights = sample_weights(train, opts.balance_field.as_deref())?;
    let model = match opts.combiner {
        CombinerKind::Logistic => Combiner::Logistic(
            LogisticRegression::fit_weighted(
                &x,
                &train.labels,
                Some(&weights),
                &LogisticOptions { c: opts.c, ..Default::default() },
            )?
            .with_feature_names(columns.to_vec()),
        ),
        CombinerKind::Boosted => Combiner::Boosted(
            GradientBoosting::fit_weighted(&x, &train.labels, Some(&weights), &opts.boosting)?
                .with_feature_names(columns.to_vec()),
        ),
    };
    Ok(Stage { features: columns.to_vec(), transforms, fill, model, calibration: Calibrator::Identity, threshold: 1.0 })
}

/// The combiner of one stage fitted on `train` and calibrated on `holdout`, its threshold not yet set (1.0); and
/// its probabilities on the holdout rows.
fn fit_calibrated(
    train: &Dataset,
    holdout: &Dataset,
    columns: &[String],
    opts: &FitOptions,
) -> Result<(Stage, Vec<f64>)> {
    let mut stage = fit_combiner(train, columns, opts)?;
    let held: Vec<f64> = rows(holdout, columns, &stage.transforms, &stage.fill)?
        .iter()
        .map(|r| stage.model.decision_function(r))
        .collect();
    stage.calibration = match opts.method {
        Method::Platt => Calibrator::Platt(PlattScaling::fit(&held, &holdout.labels)?),
        Method::Isotonic => Calibrator::Isotonic(IsotonicRegression::fit(&held, &holdout.labels)?),
    };
    let p_holdout: Vec<f64> = held.iter().map(|&z| stage.calibration.apply(z)).collect();
    Ok((stage, p_holdout))
}

/// The stage's probabilities on the reference rows, each human row scored by the same combiner fitted without the
/// training rows of its own group (`field`, e.g. its source) and mapped through `stage`'s calibration: what a
/// source the policy never saw gets. A threshold held on in-sample scores holds on the documents the combiner was
/// fitted on, which new sources do not resemble (docs/results/2026-12-06-cascade.md). Machine rows keep
/// `stage`'s probabilities.
fn cross_fitted_reference(
    train: &Dataset,
    reference: &Dataset,
    columns: &[String],
    field: &str,
    opts: &FitOptions,
    stage: &Stage,
) -> Result<Vec<f64>> {
    let mut p = stage_probabilities(stage, reference)?;
    let train_groups = train.groups.get(field).ok_or_else(|| {
        Error::Config(format!("--cross-fit-reference: the training data was not read with the field {field:?}"))
    })?;
    let reference_groups = reference.groups.get(field).ok_or_else(|| {
        Error::Config(format!("--cross-fit-reference: the reference data was not read with the field {field:?}"))
    })?;
    let human_groups: BTreeSet<&String> =
        reference_groups.iter().zip(&reference.labels).filter(|(_, &l)| !l).map(|(g, _)| g).collect();
    for g in human_groups {
        let rows: Vec<bool> = reference_groups.iter().zip(&reference.labels).map(|(x, &l)| !l && x == g).collect();
        let without: Vec<bool> = train_groups.iter().map(|x| x != g).collect();
        let sub = train.select(&without);
        if sub.labels.iter().all(|&l| l) {
            return Err(Error::Config(format!(
                "--cross-fit-reference: without {field} {g:?} the training data has no human document"
            )));
        }
        let mut refit = fit_combiner(&sub, columns, opts)?;
        // The refit's log-odds on the stage's own probability scale: a calibration fitted per refit would
        // rescale each group differently, and the threshold is one number on one scale.
        refit.calibration = stage.calibration.clone();
        let scored = stage_probabilities(&refit, &reference.select(&rows))?;
        let places = rows.iter().enumerate().filter(|(_, &r)| r).map(|(i, _)| i);
        for (i, q) in places.zip(scored) {
            p[i] = q;
        }
    }
    Ok(p)
}

fn fit_stage(
    train: &Dataset,
    holdout: &Dataset,
    reference: &Dataset,
    columns: &[String],
    opts: &FitOptions,
) -> Result<Fitted> {
    let (mut stage, p_holdout) = fit_calibrated(train, holdout, columns, opts)?;
    let p_reference = match (&opts.reference_group_field, opts.cross_fit_reference) {
        (Some(field), true) => cross_fitted_reference(train, reference, columns, field, opts, &stage)?,
        _ => stage_probabilities(&stage, reference)?,
    };
    let human: Vec<f64> = p_reference.iter().zip(&reference.labels).filter(|(_, &l)| !l).map(|(&p, _)| p).collect();
    let n = human.len();
    if let Some(field) = &opts.reference_group_field {
        let groups = reference_groups(reference, field)?;
        let per_group = threshold_per_group(&human, &groups, opts.target_fpr, opts.fpr_confidence)?
            .report_only(&opts.report_only_groups)?;
        stage.threshold = per_group.threshold.min(1.0);
        return Ok(Fitted { stage, holdout: p_holdout, reference: p_reference, groups: Some(per_group) });
    }
    let budget = confident_fp_budget(n, opts.target_fpr, opts.fpr_confidence)?.ok_or_else(|| {
        Error::Config(format!(
            "{n} human reference documents are too few to hold a {}% false-positive rate with {}% confidence \
             (give more reference text, or a lower --fpr-confidence)",
            opts.target_fpr * 100.0,
            opts.fpr_confidence * 100.0
        ))
    })?;
    // Half a document of slack: `threshold_for_fpr` then flags at most `budget` of the n.
    stage.threshold = threshold_for_fpr(&human, (budget as f64 + 0.5) / n as f64)?.threshold.min(1.0);
    Ok(Fitted { stage, holdout: p_holdout, reference: p_reference, groups: None })
}

/// The per-group threshold of a fitted stage, measured: for each group of the reference, its humans, its own
/// budget and threshold, and how many the stage's threshold flags (FPR and its one-sided 95% Clopper-Pearson
/// upper bound); and leave one group out (`loso_threshold`): the threshold the same rule gives without the
/// group, and what it flags of the group. The latter is what a source the reference does not hold can expect.
fn reference_group_metrics(fitted: &Fitted, reference: &Dataset, field: &str) -> Result<serde_json::Value> {
    let Some(per_group) = &fitted.groups else { return Ok(serde_json::Value::Null) };
    let groups = reference_groups(reference, field)?;
    let human: Vec<f64> =
        fitted.reference.iter().zip(&reference.labels).filter(|(_, &l)| !l).map(|(&p, _)| p).collect();
    // (flagged, FPR, upper bound) of group `g`'s humans at threshold `t`.
    let measure = |g: &str, n: u64, t: f64| -> Result<(u64, f64, f64)> {
        let k = human.iter().zip(&groups).filter(|(&p, &x)| x == g && p >= t).count() as u64;
        Ok((k, k as f64 / n as f64, clopper_pearson_upper(k, n, FPR_CONFIDENCE)?))
    };
    let threshold = fitted.stage.threshold;
    let (mut rows, mut loso) = (serde_json::Map::new(), serde_json::Map::new());
    for g in &per_group.groups {
        let (flagged, fpr, upper) = measure(&g.group, g.n, threshold)?;
        rows.insert(
            g.group.clone(),
            json!({
                "n": g.n,
                "budget": g.budget,
                "enough_for_confidence": g.enough,
                "own_threshold": g.threshold,
                "holds_threshold": g.holds,
                "flagged": flagged,
                "fpr": fpr,
                "upper95": upper,
            }),
        );
        let row = match per_group.without(&g.group) {
            Some(t) => {
                let t = t.min(1.0);
                let (flagged, fpr, upper) = measure(&g.group, g.n, t)?;
                json!({ "threshold_without": t, "n": g.n, "flagged": flagged, "fpr": fpr, "upper95": upper })
            }
            // The only group: nothing is left to fit a threshold on.
            None => json!({ "threshold_without": null, "n": g.n, "flagged": null, "fpr": null, "upper95": null }),
        };
        loso.insert(g.group.clone(), row);
    }
    Ok(json!({ "threshold": threshold, "groups": rows, "loso_threshold": loso }))
}

/// Calibrated probabilities of a stage on every row of `data`.
pub fn stage_probabilities(stage: &Stage, data: &Dataset) -> Result<Vec<f64>> {
    Ok(rows(data, &stage.features, &stage.transforms, &stage.fill)?.iter().map(|r| stage.probability(r)).collect())
}

/// AUROC, TPR at 1 % and 5 % FPR of scores on a labeled set (null where undefined).
fn headline(scores: &[f64], labels: &[bool]) -> serde_json::Value {
    json!({
        "n": labels.len(),
        "auroc": auroc(scores, labels).ok(),
        "tpr_at_1pct_fpr": tpr_at_fpr(scores, labels, 0.01).ok(),
        "tpr_at_5pct_fpr": tpr_at_fpr(scores, labels, 0.05).ok(),
    })
}

fn rate(flags: impl Iterator<Item = bool>) -> f64 {
    let (mut k, mut n) = (0usize, 0usize);
    for f in flags {
        k += f as usize;
        n += 1;
    }
    if n == 0 {
        f64::NAN
    } else {
        k as f64 / n as f64
    }
}

/// The human rows of `reference` that hold the threshold: all of them, less those of the report-only groups.
fn guarded_humans(reference: &Dataset, opts: &FitOptions) -> Vec<bool> {
    let groups = opts.reference_group_field.as_ref().and_then(|f| reference.groups.get(f));
    (0..reference.labels.len())
        .map(|i| {
            !reference.labels[i] && groups.is_none_or(|values| !opts.report_only_groups.iter().any(|g| *g == values[i]))
        })
        .collect()
}

/// Fit a policy. `reference` holds the human text the threshold is chosen on (its machine rows are ignored).
pub fn fit_policy(train: &Dataset, holdout: &Dataset, reference: &Dataset, opts: &FitOptions) -> Result<PolicyFile> {
    let cheap = fit_stage(train, holdout, reference, &opts.cheap_columns, opts)?;
    let full_columns: Vec<String> =
        opts.cheap_columns.iter().chain(&opts.expensive_columns).cloned().collect::<Vec<_>>();
    let count = |d: &Dataset, machine: bool| d.labels.iter().filter(|&&l| l == machine).count() as u64;
    let (full, full_fit) = if opts.expensive_columns.is_empty() {
        (None, FullFitInfo::default())
    } else {
        let (rows, in_sample) = full_train(train, opts)?;
        if !in_sample.is_empty() {
            tracing::warn!(
                groups = in_sample.join(", "),
                "the full stage fits these groups on scores of documents the expensive models trained on: no row \
                 of theirs is marked unseen"
            );
        }
        let info = FullFitInfo {
            field: opts.full_fit_field.clone(),
            n_human: count(&rows, false),
            n_machine: count(&rows, true),
            in_sample_groups: in_sample,
        };
        (Some(fit_stage(&rows, holdout, reference, &full_columns, opts)?), info)
    };
    let mut metrics = serde_json::Map::new();
    metrics.insert("cheap_holdout".into(), headline(&cheap.holdout, &holdout.labels));
    let human_ref =
        |p: &[f64], t: f64| rate(p.iter().zip(&reference.labels).filter(|(_, &l)| !l).map(|(&p, _)| p >= t));
    metrics.insert("cheap_reference_fpr".into(), json!(human_ref(&cheap.reference, cheap.stage.threshold)));
    let mut band = None;
    if let Some(full) = &full {
        metrics.insert("full_holdout".into(), headline(&full.holdout, &holdout.labels));
        metrics.insert("full_reference_fpr".into(), json!(human_ref(&full.reference, full.stage.threshold)));
        // The band: below `lo` the cheap stage misses at most 2 % of the holdout's machine text; at or above
        // `hi` it flags at most a tenth of the target FPR of human reference text.
        let b = match opts.band {
            Some(b) => b,
            None => {
                let mut machine: Vec<f64> =
                    cheap.holdout.iter().zip(&holdout.labels).filter(|(_, &l)| l).map(|(&p, _)| p).collect();
                machine.sort_by(f64::total_cmp);
                let lo = machine.get(machine.len() / 50).copied().unwrap_or(0.0);
                let guarded = guarded_humans(reference, opts);
                let human: Vec<f64> =
                    cheap.reference.iter().zip(&guarded).filter(|(_, &g)| g).map(|(&p, _)| p).collect();
                let hi = threshold_for_fpr(&human, opts.target_fpr / 10.0)?.threshold.min(1.0);
                [lo.min(hi), hi]
            }
        };
        band = Some(b);
        metrics.insert("cascade".into(), cascade_metrics(&cheap, full, b, holdout, reference));
    }
    if let Some(field) = &opts.reference_group_field {
        let few: Vec<String> = cheap
            .groups
            .iter()
            .flat_map(|g| &g.groups)
            .filter(|g| !g.enough)
            .map(|g| format!("{} ({})", g.group, g.n))
            .collect();
        if !few.is_empty() {
            tracing::warn!(
                groups = few.join(", "),
                "too few human reference documents to hold the target FPR with --fpr-confidence: each of these \
                 groups may have none of its documents flagged"
            );
        }
        let mut m = serde_json::Map::new();
        m.insert("field".into(), json!(field));
        m.insert("target_fpr".into(), json!(opts.target_fpr));
        m.insert("fpr_confidence".into(), json!(opts.fpr_confidence));
        m.insert("cheap".into(), reference_group_metrics(&cheap, reference, field)?);
        if let Some(full) = &full {
            m.insert("full".into(), reference_group_metrics(full, reference, field)?);
        }
        metrics.insert("reference_groups".into(), serde_json::Value::Object(m));
    }
    if let Some(field) = &opts.loso_field {
        metrics.insert("leave_one_group_out".into(), loso(train, holdout, reference, field, opts)?);
    }
    Ok(PolicyFile {
        format: POLICY_FORMAT.into(),
        description: opts.description.clone(),
        target_fpr: opts.target_fpr,
        cheap: cheap.stage,
        full: full.map(|f| f.stage),
        band,
        fitted_on: FitInfo {
            n_train_human: count(train, false),
            n_train_machine: count(train, true),
            n_holdout_human: count(holdout, false),
            n_holdout_machine: count(holdout, true),
            n_fpr_reference: count(reference, false),
            full_stage_train: full_fit,
            svalbard_version: env!("CARGO_PKG_VERSION").into(),
            ..Default::default()
        },
        metrics: serde_json::Value::Object(metrics),
    })
}

/// The cascade against the full stage on every document: share sent to the full stage, and TPR / FPR at the
/// policy's decisions.
fn cascade_metrics(
    cheap: &Fitted,
    full: &Fitted,
    band: [f64; 2],
    holdout: &Dataset,
    reference: &Dataset,
) -> serde_json::Value {
    let decide = |pc: &[f64], pf: &[f64], cascade: bool| -> (Vec<bool>, f64) {
        let mut sent = 0usize;
        let machine = pc
            .iter()
            .zip(pf)
            .map(|(&c, &f)| {
                if !cascade || (c >= band[0] && c < band[1]) {
                    sent += 1;
                    f >= full.stage.threshold
                } else {
                    c >= band[1]
                }
            })
            .collect();
        (machine, sent as f64 / pc.len().max(1) as f64)
    };
    let summary = |cascade: bool| -> serde_json::Value {
        let (m, sent) = decide(&cheap.holdout, &full.holdout, cascade);
        let (r, _) = decide(&cheap.reference, &full.reference, cascade);
        json!({
            "share_scored_by_expensive_signals": sent,
            "holdout_tpr": rate(m.iter().zip(&holdout.labels).filter(|(_, &l)| l).map(|(&m, _)| m)),
            "holdout_fpr": rate(m.iter().zip(&holdout.labels).filter(|(_, &l)| !l).map(|(&m, _)| m)),
            "reference_fpr": rate(r.iter().zip(&reference.labels).filter(|(_, &l)| !l).map(|(&m, _)| m)),
        })
    };
    json!({ "band": band, "cascade": summary(true), "all_signals": summary(false) })
}

/// Leave one group out: refit without the group's training rows, test on the group's holdout rows (with all
/// holdout human rows added when the group has no human text of its own).
fn loso(
    train: &Dataset,
    holdout: &Dataset,
    reference: &Dataset,
    field: &str,
    opts: &FitOptions,
) -> Result<serde_json::Value> {
    let tg = train
        .groups
        .get(field)
        .ok_or_else(|| Error::Config(format!("no group field {field:?} in the training data")))?;
    let hg = holdout
        .groups
        .get(field)
        .ok_or_else(|| Error::Config(format!("no group field {field:?} in the holdout data")))?;
    let groups: BTreeSet<&String> = tg.iter().filter(|g| !g.is_empty()).collect();
    let columns: Vec<String> = opts.cheap_columns.iter().chain(&opts.expensive_columns).cloned().collect();
    let mut out = BTreeMap::new();
    for g in groups {
        let keep: Vec<bool> = tg.iter().map(|x| x != g).collect();
        let sub = train.select(&keep);
        if sub.labels.iter().all(|&l| l) || sub.labels.iter().all(|&l| !l) {
            continue;
        }
        let in_group: Vec<bool> = hg.iter().map(|x| x == g).collect();
        let has_human = in_group.iter().zip(&holdout.labels).any(|(&i, &l)| i && !l);
        let test_rows: Vec<bool> =
            in_group.iter().zip(&holdout.labels).map(|(&i, &l)| i || (!has_human && !l)).collect();
        let test = holdout.select(&test_rows);
        if test.labels.iter().all(|&l| l) || test.labels.iter().all(|&l| !l) {
            continue;
        }
        let fit_rows = if opts.expensive_columns.is_empty() { Cow::Borrowed(&sub) } else { full_train(&sub, opts)?.0 };
        let stage = fit_stage(&fit_rows, holdout, reference, &columns, opts)?.stage;
        let p = stage_probabilities(&stage, &test)?;
        let mut h = headline(&p, &test.labels);
        h["humans"] = json!(if has_human { "the group's own" } else { "all holdout human rows" });
        out.insert(g.clone(), h);
    }
    Ok(json!({ "field": field, "groups": out }))
}

/// The policy's columns split by the enabled config: those of expensive signals are the ones the `expensive`
/// list names (by signal id prefix).
pub fn split_columns(all: &[String], expensive_signals: &[String]) -> (Vec<String>, Vec<String>) {
    let is_expensive = |c: &String| expensive_signals.iter().any(|s| c.starts_with(&format!("{s}_")));
    let own = |c: &&String| c.as_str() != super::P_MACHINE && c.as_str() != super::STAGE;
    (
        all.iter().filter(own).filter(|c| !is_expensive(c)).cloned().collect(),
        all.iter().filter(own).filter(|c| is_expensive(c)).cloned().collect(),
    )
}

/// Check a fitted policy binds to the columns it was fitted on (the same check `filter` makes).
pub fn check_binds(policy_path: &std::path::Path, columns: &[String]) -> Result<Ensemble> {
    Ensemble::new(&EnsembleConfig { policy: policy_path.display().to_string(), ..Default::default() }, columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::rng::Rng;

    /// Two informative columns (one cheap, one expensive) and one noise column.
    fn synthetic(n: usize, seed: u64) -> Dataset {
        let mut rng = Rng::new(seed);
        let mut d = Dataset {
            columns: vec!["a_score".into(), "b_score".into(), "noise".into()],
            values: vec![Vec::new(), Vec::new(), Vec::new()],
            ..Default::default()
        };
        let mut group = Vec::new();
        for i in 0..n {
            let machine = i % 2 == 0;
            let shift = if machine { 1.0 } else { 0.0 };
            d.values[0].push((rng.normal() + 1.5 * shift) as f32);
            d.values[1].push((rng.normal() + 3.0 * shift) as f32);
            d.values[2].push(rng.normal() as f32);
            d.labels.push(machine);
            group.push(if i % 3 == 0 { "x" } else { "y" }.to_string());
        }
        d.groups.insert("source".into(), group);
        d
    }

    fn options(expensive: bool) -> FitOptions {
        FitOptions {
            target_fpr: 0.05,
            fpr_confidence: 0.0,
            reference_group_field: None,
            method: Method::Platt,
            combiner: CombinerKind::Logistic,
            c: 1.0,
            boosting: BoostingOptions::default(),
            cheap_columns: vec!["a_score".into(), "noise".into()],
            expensive_columns: if expensive { vec!["b_score".into()] } else { vec![] },
            band: None,
            balance_field: None,
            loso_field: Some("source".into()),
            cross_fit_reference: false,
            report_only_groups: Vec::new(),
            full_fit_field: None,
            description: "test".into(),
        }
    }

    #[test]
    fn fits_a_calibrated_policy_whose_threshold_meets_the_target_fpr() {
        let (train, holdout, reference) = (synthetic(4000, 1), synthetic(2000, 2), synthetic(4000, 3));
        let p = fit_policy(&train, &holdout, &reference, &options(true)).unwrap();
        let full = p.full.as_ref().unwrap();
        // The informative columns carry the weight; the noise column next to none.
        let Combiner::Logistic(m) = &p.cheap.model else { panic!("asked for a regression") };
        assert!(m.coef[0] > 0.5 && m.coef[1].abs() < 0.1, "{:?}", m.coef);
        // The threshold holds the reference FPR at or under the target, and near it.
        let fpr = p.metrics["full_reference_fpr"].as_f64().unwrap();
        assert!(fpr <= 0.05 && fpr > 0.03, "{fpr}");
        // Separations: the full stage (d' = sqrt(1.5^2 + 3^2) = 3.35) beats the cheap one (d' = 1.5).
        let cheap_auc = p.metrics["cheap_holdout"]["auroc"].as_f64().unwrap();
        let full_auc = p.metrics["full_holdout"]["auroc"].as_f64().unwrap();
        assert!((cheap_auc - 0.856).abs() < 0.03 && (full_auc - 0.991).abs() < 0.01, "{cheap_auc} {full_auc}");
        // Calibration: among holdout rows with p in [0.4, 0.6], about half are machine.
        let probs = stage_probabilities(full, &holdout).unwrap();
        let mid: Vec<bool> =
            probs.iter().zip(&holdout.labels).filter(|(p, _)| (0.4..0.6).contains(*p)).map(|(_, &l)| l).collect();
        let share = rate(mid.iter().copied());
        assert!(mid.len() > 20 && (share - 0.5).abs() < 0.2, "{share} of {}", mid.len());
        // The cascade sends only part of the documents on, at little cost.
        let c = &p.metrics["cascade"];
        let sent = c["cascade"]["share_scored_by_expensive_signals"].as_f64().unwrap();
        assert!(sent < 0.9 && sent > 0.1, "{sent}");
        let lost = c["all_signals"]["holdout_tpr"].as_f64().unwrap() - c["cascade"]["holdout_tpr"].as_f64().unwrap();
        assert!(lost < 0.03, "{lost}");
        let b = p.band.unwrap();
        assert!(b[0] < b[1]);
        let groups = &p.metrics["leave_one_group_out"]["groups"];
        assert!(groups["x"]["auroc"].as_f64().unwrap() > 0.95);
        // And it survives a round trip through its file and binds to its columns.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.json");
        std::fs::write(&path, p.to_json()).unwrap();
        let e = check_binds(&path, &train.columns).unwrap();
        assert_eq!(e.expensive_columns(), vec![1]);
    }

    /// Human source z writes like the machine text in `style`; the combiner fitted with z's documents learns to
    /// excuse them, one fitted without them does not. Cross-fitted, z's reference humans get the scores a new
    /// source like z would get, and the threshold rises to hold the target on them; the model is the same.
    #[test]
    fn cross_fitted_reference_scores_each_group_as_a_new_source() {
        let mut rng = Rng::new(7);
        let mut d = Dataset {
            columns: vec!["a_score".into(), "style".into()],
            values: vec![Vec::new(), Vec::new()],
            ..Default::default()
        };
        let mut source = Vec::new();
        for i in 0..4000 {
            let (machine, s, style) = match i % 4 {
                0 | 1 => (true, "m", 3.0),
                2 => (false, "x", 0.0),
                _ => (false, "z", 3.0),
            };
            d.values[0].push((rng.normal() + if machine { 1.5 } else { 0.0 }) as f32);
            d.values[1].push((rng.normal() + style) as f32);
            d.labels.push(machine);
            source.push(s.to_string());
        }
        d.groups.insert("source".into(), source);
        let mut o = options(false);
        o.cheap_columns = vec!["a_score".into(), "style".into()];
        o.loso_field = None;
        o.reference_group_field = Some("source".into());
        let in_sample = fit_policy(&d, &d, &d, &o).unwrap();
        o.cross_fit_reference = true;
        let cross = fit_policy(&d, &d, &d, &o).unwrap();
        let (Combiner::Logistic(a), Combiner::Logistic(b)) = (&in_sample.cheap.model, &cross.cheap.model) else {
            panic!("asked for a regression")
        };
        assert_eq!(a.coef, b.coef, "cross-fitting moves the threshold only");
        let (t_in, t_cross) = (in_sample.cheap.threshold, cross.cheap.threshold);
        assert!(t_cross > t_in + 0.1, "in-sample threshold {t_in}, cross-fitted {t_cross}");
        // z only reported: x alone sets the threshold, and what it flags of z is in the metrics.
        o.report_only_groups = vec!["z".into()];
        let x_only = fit_policy(&d, &d, &d, &o).unwrap();
        let groups = &x_only.metrics["reference_groups"]["cheap"]["groups"];
        assert_eq!(x_only.cheap.threshold, groups["x"]["own_threshold"].as_f64().unwrap());
        assert!(x_only.cheap.threshold < t_cross - 0.1, "{} vs {t_cross}", x_only.cheap.threshold);
        assert_eq!(
            (groups["x"]["holds_threshold"].as_bool(), groups["z"]["holds_threshold"].as_bool()),
            (Some(true), Some(false))
        );
        assert!(groups["z"]["flagged"].as_u64().unwrap() > groups["z"]["budget"].as_u64().unwrap());
        o.report_only_groups = vec!["y".into()];
        let e = fit_policy(&d, &d, &d, &o).unwrap_err().to_string();
        assert!(e.contains("\"y\"") && e.contains("no human document"), "{e}");
    }

    #[test]
    fn one_stage_without_expensive_columns_and_isotonic() {
        let mut o = options(false);
        o.method = Method::Isotonic;
        o.loso_field = None;
        let p = fit_policy(&synthetic(2000, 4), &synthetic(2000, 5), &synthetic(2000, 6), &o).unwrap();
        assert!(p.full.is_none() && p.band.is_none());
        assert!(matches!(p.cheap.calibration, Calibrator::Isotonic(_)));
    }

    #[test]
    fn boosted_stages_meet_the_target_fpr_and_match_the_regression_where_it_is_right() {
        // On these Gaussian data the regression is the Bayes-optimal form: the trees must come close to it
        // (AUROC near the theoretical 0.856 / 0.991), hold the threshold's FPR, and survive a round trip.
        let mut o = options(true);
        o.combiner = CombinerKind::Boosted;
        o.boosting = BoostingOptions { n_trees: 100, max_depth: 3, ..Default::default() };
        let (train, holdout, reference) = (synthetic(4000, 1), synthetic(2000, 2), synthetic(4000, 3));
        let p = fit_policy(&train, &holdout, &reference, &o).unwrap();
        assert!(matches!(p.cheap.model, Combiner::Boosted(_)));
        let cheap_auc = p.metrics["cheap_holdout"]["auroc"].as_f64().unwrap();
        let full_auc = p.metrics["full_holdout"]["auroc"].as_f64().unwrap();
        assert!((cheap_auc - 0.856).abs() < 0.03 && (full_auc - 0.991).abs() < 0.01, "{cheap_auc} {full_auc}");
        let fpr = p.metrics["full_reference_fpr"].as_f64().unwrap();
        assert!(fpr <= 0.05 && fpr > 0.03, "{fpr}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.json");
        std::fs::write(&path, p.to_json()).unwrap();
        let back = PolicyFile::load(path.to_str().unwrap()).unwrap();
        let a = stage_probabilities(p.full.as_ref().unwrap(), &holdout).unwrap();
        let b = stage_probabilities(back.full.as_ref().unwrap(), &holdout).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn a_confident_threshold_flags_fewer_reference_humans() {
        let mut o = options(false);
        o.loso_field = None;
        let (train, holdout, reference) = (synthetic(2000, 7), synthetic(2000, 8), synthetic(4000, 9));
        let plain = fit_policy(&train, &holdout, &reference, &o).unwrap();
        o.fpr_confidence = 0.9;
        let confident = fit_policy(&train, &holdout, &reference, &o).unwrap();
        // 2000 reference humans, target 5 %: the plain rule may flag 100, the 90 %-confident one 87
        // (the largest k with P(Binomial(2000, 0.05) <= k) <= 0.1).
        assert_eq!(confident_fp_budget(2000, 0.05, 0.9).unwrap(), Some(87));
        let fpr = |p: &PolicyFile| p.metrics["cheap_reference_fpr"].as_f64().unwrap();
        assert!(fpr(&confident) <= 87.0 / 2000.0 && fpr(&confident) > 0.035, "{}", fpr(&confident));
        assert!(fpr(&plain) <= 0.05 && fpr(&plain) > fpr(&confident), "{}", fpr(&plain));
        assert!(confident.cheap.threshold > plain.cheap.threshold);
    }

    #[test]
    fn a_per_source_threshold_holds_every_source_of_the_reference() {
        let mut o = options(false);
        o.loso_field = None;
        let (train, holdout, mut reference) = (synthetic(2000, 7), synthetic(2000, 8), synthetic(4000, 9));
        // The human text of source x reads machine-like: its cheap column sits one standard deviation higher.
        let x: Vec<bool> = reference.groups["source"].iter().map(|g| g == "x").collect();
        for ((v, &in_x), &machine) in reference.values[0].iter_mut().zip(&x).zip(&reference.labels) {
            if in_x && !machine {
                *v += 1.0;
            }
        }
        let pooled = fit_policy(&train, &holdout, &reference, &o).unwrap();
        assert!(pooled.metrics.get("reference_groups").is_none());
        o.reference_group_field = Some("source".into());
        let p = fit_policy(&train, &holdout, &reference, &o).unwrap();
        // The same combiner and calibration: only the threshold moves, up.
        assert_eq!(
            stage_probabilities(&p.cheap, &holdout).unwrap(),
            stage_probabilities(&pooled.cheap, &holdout).unwrap()
        );
        assert!(p.cheap.threshold > pooled.cheap.threshold);
        let probs = stage_probabilities(&p.cheap, &reference).unwrap();
        let flagged = |g: &str, t: f64| {
            (0..reference.len()).filter(|&d| !reference.labels[d] && (g == "x") == x[d] && probs[d] >= t).count()
        };
        let humans = |g: &str| (0..reference.len()).filter(|&d| !reference.labels[d] && (g == "x") == x[d]).count();
        // The pooled threshold lets x run over the target; the per-source one holds both, and is the lowest
        // that does.
        assert!(flagged("x", pooled.cheap.threshold) as f64 / humans("x") as f64 > 0.06);
        let m = &p.metrics["reference_groups"];
        assert_eq!(m["field"], "source");
        for g in ["x", "y"] {
            let (k, n) = (flagged(g, p.cheap.threshold), humans(g));
            assert!(k <= n / 20, "{g}: {k} of {n}");
            let row = &m["cheap"]["groups"][g];
            assert_eq!((row["n"].as_u64(), row["flagged"].as_u64()), (Some(n as u64), Some(k as u64)));
            assert_eq!(row["budget"].as_u64(), Some(n as u64 / 20));
            assert_eq!(row["upper95"].as_f64(), Some(clopper_pearson_upper(k as u64, n as u64, 0.95).unwrap()));
        }
        assert!(flagged("x", p.cheap.threshold.next_down()) > humans("x") / 20);
        // Leave one source out: fitted on y alone, the threshold flags too much of x.
        let loso = &m["cheap"]["loso_threshold"]["x"];
        let t = loso["threshold_without"].as_f64().unwrap();
        assert_eq!(t, m["cheap"]["groups"]["y"]["own_threshold"].as_f64().unwrap());
        assert_eq!(loso["flagged"].as_u64(), Some(flagged("x", t) as u64));
        assert!(loso["fpr"].as_f64().unwrap() > 0.06, "{loso}");
        assert_eq!(m["cheap"]["loso_threshold"]["y"]["threshold_without"].as_f64(), Some(p.cheap.threshold));

        // A reference without the field, or with documents outside every group, is an error naming it.
        o.reference_group_field = Some("publisher".into());
        let e = fit_policy(&train, &holdout, &reference, &o).unwrap_err().to_string();
        assert!(e.contains("publisher"), "{e}");
        reference.groups.insert("publisher".into(), vec![String::new(); reference.len()]);
        let e = reference_groups(&reference, "publisher").unwrap_err().to_string();
        assert!(e.contains("no human document") && e.contains("publisher"), "{e}");
        reference.groups.get_mut("publisher").unwrap()[1] = "p".into(); // row 1 is human
        let e = reference_groups(&reference, "publisher").unwrap_err().to_string();
        assert!(e.contains("1999 of the 2000") && e.contains("publisher"), "{e}");
    }

    #[test]
    fn balanced_weights_give_each_group_of_a_class_the_same_total() {
        let mut d = synthetic(12, 1); // machine at even rows; group "x" at rows 0, 3, 6, 9
        let w = sample_weights(&d, None).unwrap();
        assert!(w.iter().all(|&x| (x - 1.0).abs() < 1e-12));
        let w = sample_weights(&d, Some("source")).unwrap();
        // machine: x = rows 0, 6; y = rows 2, 4, 8, 10 → 3 / 2 each for x, 3 / 4 each for y (class total 6)
        assert!((w[0] - 1.5).abs() < 1e-12 && (w[2] - 0.75).abs() < 1e-12);
        // human: x = rows 3, 9; y = rows 1, 5, 7, 11 → the same split
        assert!((w[3] - 1.5).abs() < 1e-12 && (w[1] - 0.75).abs() < 1e-12);
        assert!((w.iter().sum::<f64>() - 12.0).abs() < 1e-9);
        assert!(sample_weights(&d, Some("nope")).is_err());
        d.labels.iter_mut().for_each(|l| *l = true);
        assert!(sample_weights(&d, None).is_err());
    }

    #[test]
    fn full_stage_rows_keep_unseen_rows_and_groups_without_any() {
        // Machine at even rows; group "x" at rows 0, 3, 6, 9. Unseen: human rows 1, 3 and machine row 2
        // (group y); machine x (rows 0, 6) has no unseen row.
        let mut d = synthetic(12, 1);
        let flags = ["false", "true", "1", "TRUE", "0", "false", "false", "false", "false", "false", "false", "false"];
        d.groups.insert("unseen".into(), flags.map(String::from).to_vec());
        let (mask, in_sample) = full_stage_rows(&d, "unseen", Some("source")).unwrap();
        let kept: Vec<usize> = (0..12).filter(|&i| mask[i]).collect();
        assert_eq!(kept, vec![0, 1, 2, 3, 6]);
        assert_eq!(in_sample, vec!["machine x"]);
        // Without a balance field, the classes are the cells: both have unseen rows.
        let (mask, in_sample) = full_stage_rows(&d, "unseen", None).unwrap();
        assert_eq!((0..12).filter(|&i| mask[i]).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(in_sample.is_empty());
        d.groups.get_mut("unseen").unwrap()[5] = "maybe".into();
        let e = full_stage_rows(&d, "unseen", None).unwrap_err().to_string();
        assert!(e.contains("document 6") && e.contains("maybe"), "{e}");
        assert!(full_stage_rows(&d, "nope", None).is_err());
    }

    #[test]
    fn the_full_stage_fits_on_the_unseen_rows_and_the_cheap_stage_on_all() {
        let mut train = synthetic(4000, 11);
        // The expensive column is far too good on the rows its model trained on (a quarter of each class is
        // unseen: machine rows are the even ones).
        let flags: Vec<String> = (0..train.len()).map(|d| ((d / 2) % 4 == 3).to_string()).collect();
        for d in (0..train.len()).filter(|&d| (d / 2) % 4 != 3) {
            train.values[1][d] = if train.labels[d] { 9.0 } else { -9.0 };
        }
        train.groups.insert("unseen".into(), flags.clone());
        let (holdout, reference) = (synthetic(2000, 12), synthetic(3000, 13));
        let mut o = options(true);
        o.loso_field = None;
        let all_rows = fit_policy(&train, &holdout, &reference, &o).unwrap();
        o.full_fit_field = Some("unseen".into());
        let p = fit_policy(&train, &holdout, &reference, &o).unwrap();
        let unseen: Vec<bool> = flags.iter().map(|f| f == "true").collect();
        o.full_fit_field = None;
        let on_unseen = fit_policy(&train.select(&unseen), &holdout, &reference, &o).unwrap();
        let probs = |s: &Stage| stage_probabilities(s, &holdout).unwrap();
        // The full stage is the one fitted on the unseen rows alone; the cheap stage still sees every row.
        assert_eq!(probs(p.full.as_ref().unwrap()), probs(on_unseen.full.as_ref().unwrap()));
        assert_eq!(probs(&p.cheap), probs(&all_rows.cheap));
        assert_ne!(probs(p.full.as_ref().unwrap()), probs(all_rows.full.as_ref().unwrap()));
        let info = &p.fitted_on.full_stage_train;
        assert_eq!((info.n_human, info.n_machine, info.field.as_deref()), (500, 500, Some("unseen")));
        assert!(info.in_sample_groups.is_empty());
        assert!(all_rows.fitted_on.full_stage_train.field.is_none());
        // The record survives the policy file, and files without it still load.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.json");
        std::fs::write(&path, p.to_json()).unwrap();
        let back = PolicyFile::load(path.to_str().unwrap()).unwrap();
        assert_eq!(back.fitted_on.full_stage_train.n_machine, 500);
        std::fs::write(&path, all_rows.to_json()).unwrap();
        assert!(!std::fs::read_to_string(&path).unwrap().contains("full_stage_train"));
        assert!(PolicyFile::load(path.to_str().unwrap()).unwrap().fitted_on.full_stage_train.field.is_none());
    }

    #[test]
    fn splits_columns_by_signal() {
        let all: Vec<String> = ["c4_lines", "minilm_p_machine", "fast_p_machine", "p_machine", "neural_lm_perplexity"]
            .map(String::from)
            .to_vec();
        let (cheap, exp) = split_columns(&all, &["minilm".into(), "neural_lm".into()]);
        assert_eq!(cheap, vec!["c4_lines", "fast_p_machine"]);
        assert_eq!(exp, vec!["minilm_p_machine", "neural_lm_perplexity"]);
    }
}
