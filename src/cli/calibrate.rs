//! `svalbard calibrate`: fit the ensemble's policy file on labeled data.

use std::path::PathBuf;

use clap::Args;

use super::OK;
use crate::config::Config;
use crate::decide::ensemble::fit::{self, CombinerKind, FitOptions, Method};
use crate::decide::ensemble::PolicyFile;
use crate::error::{Error, Result};
use crate::eval::BoostingOptions;
use crate::labeled::{Dataset, LabeledSpec};
use crate::pipeline::labeled::score_inputs;
use crate::spec::SignalSpec;

const EXAMPLES: &str = "\
Example (what scripts/build_policy.sh runs to make models/policy.json):
  svalbard calibrate --train bench-data/authorship/train.jsonl \\
      --train-column fast_p_machine=fast_p_machine_oof \\
      --train-column fast_p_machine_short=fast_p_machine_short_oof --balance-field group \\
      --holdout bench-data/authorship/dev.jsonl --reference bench-data/authorship/train.jsonl \\
      --reference-column fast_p_machine=fast_p_machine_oof \\
      --reference-column fast_p_machine_short=fast_p_machine_short_oof \\
      --reference-group-field source --reference-group-report-only hc3-plus-si-en,dolly15k_partial,medquad \\
      --fpr-confidence 0 --out models/policy.json

The combiners read the detectors' columns only (they read the canonical view); the quality rules'
columns describe a page's layout and never enter p_machine.

The combiners (a logistic regression by default) are fitted on --train, calibrated on --holdout, and
the threshold keeps the false-positive rate on the human documents of --reference (default: of
--holdout) within --target-fpr with --fpr-confidence; with --reference-group-field source, on
each source of them on its own (a threshold fitted on the pool lets a source whose human text
reads machine-like run far over the target, and a new source is more like one of those than like
the pool). Where a model was trained on the --train documents, give its out-of-fold scores with
--train-column (svalbard_train.fast.train writes them for fast, out of fold by source): a model's scores of its own training
documents are too good, and the combiner would trust it alone. Signals named by --expensive (when
the config enables them) form the full stage of the cascade; the others the cheap stage. Where the
expensive model trained on a subsample of --train, --full-fit-field names a boolean field marking
the documents it never saw, and the full stage fits on those.";

#[derive(Args, Debug)]
#[command(about = "Fit the ensemble policy (weights, calibration, threshold, cascade band) on labeled data", after_help = EXAMPLES)]
pub struct CalibrateArgs {
    /// Labeled JSONL/Parquet to fit the regressions on.
    #[arg(long, required = true, num_args = 1..)]
    pub train: Vec<String>,
    /// Labeled data to calibrate probabilities on (and to measure the policy on).
    #[arg(long, required = true, num_args = 1..)]
    pub holdout: Vec<String>,
    /// Human reference text the threshold is chosen on (its machine rows are ignored); default: --holdout.
    #[arg(long, num_args = 1..)]
    pub reference: Vec<String>,
    /// TOML configuration: which signals run (the ensemble section is ignored while fitting).
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    #[arg(long, default_value = "label")]
    pub label_field: String,
    /// Signal ids whose columns only the full stage reads.
    #[arg(long, value_delimiter = ',', default_value = "minilm,minilm_short,neural_lm")]
    pub expensive: Vec<String>,
    /// False-positive rate on human reference text the thresholds are chosen for.
    #[arg(long, default_value_t = 0.01)]
    pub target_fpr: f64,
    /// Confidence that the threshold's false-positive rate on new human text is within --target-fpr: it
    /// flags at most k of the n reference humans, k the largest count whose one-sided Clopper-Pearson bound
    /// stays within the target (0 = flag target × n, which overshoots on new text about half the time).
    #[arg(long, default_value_t = 0.9)]
    pub fpr_confidence: f64,
    /// Field of the --reference data (e.g. source): the threshold holds --target-fpr (with --fpr-confidence)
    /// on each of its values on its own, not only on their pool: the lowest threshold at which no group flags
    /// more than its own budget. The policy's metrics then give each group's FPR with its 95% upper bound, and
    /// the threshold fitted without each group, measured on that group (loso_threshold).
    #[arg(long)]
    pub reference_group_field: Option<String>,
    /// With --reference-group-field: score each group's human reference documents with the stage refitted
    /// without that group's training documents (one refit per group), and hold the threshold on those scores,
    /// so that each group counts as a source the policy never saw. Without it, reference documents that are
    /// also training documents get the scores of a combiner fitted on them, which new sources do not get.
    #[arg(long, requires = "reference_group_field")]
    pub cross_fit_reference: bool,
    /// With --reference-group-field: these groups (comma-separated) are measured and reported at the threshold
    /// (their FPR and its bound, holds_threshold = false) but neither set it nor the cascade's band. For human
    /// text outside what the filter is for, e.g. answers written for an instruction dataset in a web filter.
    #[arg(long, value_delimiter = ',', requires = "reference_group_field")]
    pub reference_group_report_only: Vec<String>,
    #[arg(long, value_enum, default_value = "platt")]
    pub method: Method,
    /// The stages' model: a logistic regression (one weight per column; both shipped policies), or gradient-boosted
    /// trees (for signals whose evidence depends on each other; they ranked sources kept out of training worse here).
    #[arg(long, value_enum, default_value = "logistic")]
    pub combiner: CombinerKind,
    /// Inverse L2 regularisation strength of the regression (--combiner logistic).
    #[arg(long, default_value_t = 1.0)]
    pub c: f64,
    /// Trees (--combiner boosted).
    #[arg(long, default_value_t = BoostingOptions::default().n_trees)]
    pub trees: usize,
    /// Depth of each tree (--combiner boosted).
    #[arg(long, default_value_t = BoostingOptions::default().max_depth)]
    pub depth: usize,
    /// Learning rate (--combiner boosted).
    #[arg(long, default_value_t = BoostingOptions::default().learning_rate)]
    pub learning_rate: f64,
    /// Read a score column of the --train data from an input field instead of scoring it, COLUMN=FIELD
    /// (repeatable): out-of-fold scores of a model that was trained on those documents (svalbard_train.fast.train). A
    /// model whose every column is given so does not run on the --train data (the same for --holdout-column and
    /// --reference-column).
    #[arg(long, value_parser = parse_pair)]
    pub train_column: Vec<(String, String)>,
    /// The same for the --reference data, COLUMN=FIELD (repeatable): when the reference humans are training
    /// documents, their out-of-fold scores (by source, svalbard_train.fast.train) stand for the model's scores of
    /// text from sources it never saw, which is what the threshold must hold on.
    #[arg(long, value_parser = parse_pair)]
    pub reference_column: Vec<(String, String)>,
    /// The same for the --holdout data, COLUMN=FIELD (repeatable): scores computed once beforehand, e.g. an
    /// expensive model's columns from an earlier `svalbard filter` run, so that refits do not rerun it.
    #[arg(long, value_parser = parse_pair)]
    pub holdout_column: Vec<(String, String)>,
    /// Boolean field of the --train data marking the documents the expensive signals' models never trained
    /// on: only they fit the full stage, with every
    /// row of a class and --balance-field group that has none of them. A model's scores of its own training
    /// documents are too good, and fitted on them the full stage trusts it alone.
    #[arg(long)]
    pub full_fit_field: Option<String>,
    /// The cascade's uncertain band on the cheap stage's probability, LO,HI (default: fitted).
    #[arg(long, value_delimiter = ',', num_args = 2)]
    pub band: Option<Vec<f64>>,
    /// Field whose values weigh the same within each class when fitting (e.g. group: each source of machine
    /// text alike, web pages as much as books); default: only the two classes weigh the same.
    #[arg(long)]
    pub balance_field: Option<String>,
    /// Field to leave out one value of at a time (e.g. source) for the leave-one-group-out table.
    #[arg(long)]
    pub loso_field: Option<String>,
    #[arg(long, default_value = "")]
    pub description: String,
    /// Scoring threads (0 = one per core).
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,
    /// Where to write the policy (JSON).
    #[arg(short, long)]
    pub out: PathBuf,
}

/// The config with its thread count applied, and a pool to score on.
pub(super) fn scoring_setup(config: Option<&PathBuf>, threads: Option<usize>) -> Result<(Config, rayon::ThreadPool)> {
    let mut config = Config::load_or_default(config.map(PathBuf::as_path))?;
    if let Some(t) = threads {
        config.pipeline.threads = t;
    }
    config.validate()?;
    let n = config.pipeline.workers();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .map_err(|e| Error::Other(format!("thread pool: {e}")))?;
    Ok((config, pool))
}

fn parse_pair(s: &str) -> std::result::Result<(String, String), String> {
    match s.split_once('=') {
        Some((c, f)) if !c.is_empty() && !f.is_empty() => Ok((c.to_string(), f.to_string())),
        _ => Err(format!("{s:?}: expected COLUMN=FIELD")),
    }
}

/// The flags' values that no type can check; the cascade's band, when one is given.
fn checked_band(a: &CalibrateArgs) -> Result<Option<[f64; 2]>> {
    if !(0.0..1.0).contains(&a.target_fpr) {
        return Err(Error::Config(format!("--target-fpr {} must be in [0, 1)", a.target_fpr)));
    }
    if !(0.0..1.0).contains(&a.fpr_confidence) {
        return Err(Error::Config(format!("--fpr-confidence {} must be in [0, 1)", a.fpr_confidence)));
    }
    match a.band.as_deref() {
        Some([lo, hi]) if 0.0 <= *lo && lo <= hi && *hi <= 1.0 => Ok(Some([*lo, *hi])),
        Some(b) => Err(Error::Config(format!("--band {b:?}: expected LO,HI with 0 <= LO <= HI <= 1"))),
        None => Ok(None),
    }
}

pub fn run(a: CalibrateArgs) -> Result<i32> {
    let band = checked_band(&a)?;
    let (mut config, pool) = scoring_setup(a.config.as_ref(), a.threads)?;
    // The policy is fitted on the signals themselves, every one on every document.
    config.ensemble.enabled = Some(false);
    let scorer = config.scorer()?.scoring_all();
    let mut groups: Vec<String> = a.loso_field.iter().cloned().collect();
    for f in a.balance_field.iter().chain(&a.full_fit_field).chain(&a.reference_group_field) {
        if !groups.contains(f) {
            groups.push(f.clone());
        }
    }
    let score = |inputs: &[String], what: &str, given: &[(String, String)]| -> Result<Dataset> {
        // A model whose every column comes from a field is not run on this data.
        let from_fields = |spec: &SignalSpec| spec.columns.iter().all(|c| given.iter().any(|(t, _)| t == c));
        let skipped: Vec<&'static str> = scorer.batch_specs().filter(|s| from_fields(s)).map(|s| s.id).collect();
        for id in &skipped {
            eprintln!("svalbard: {id} does not score the {what} data: every column it writes comes from a field");
        }
        let this_scorer = scorer.without_batch_signals(|s| skipped.contains(&s.id), &config.rules)?;
        let fields: Vec<String> = given.iter().map(|(_, f)| f.clone()).collect();
        let spec = LabeledSpec { label_field: &a.label_field, group_fields: &groups, score_fields: &fields };
        let mut d = pool.install(|| score_inputs(&config, &this_scorer, inputs, &spec))?;
        tracing::info!(docs = d.len(), seconds = d.score_time.as_secs_f64(), "scored the {what} data");
        if d.is_empty() {
            return Err(Error::Config(format!("the {what} data holds no documents")));
        }
        for (column, field) in given {
            d.set_column_from_field(column, field)?;
        }
        Ok(d)
    };
    let all_columns = scorer.columns().to_vec();
    // The ensemble combines the detectors' columns only: they read the canonical view; the quality rules'
    // columns describe the page's layout, which the publishing pipeline decides.
    let authorship_columns = scorer.detector_columns();
    let given = a
        .train_column
        .iter()
        .map(|c| ("--train-column", c))
        .chain(a.holdout_column.iter().map(|c| ("--holdout-column", c)))
        .chain(a.reference_column.iter().map(|c| ("--reference-column", c)));
    for (flag, (column, _)) in given {
        if !all_columns.contains(column) {
            return Err(Error::Config(format!("{flag} {column}: no enabled signal writes that column")));
        }
    }
    let holdout = score(&a.holdout, "holdout", &a.holdout_column)?;
    let reference =
        if a.reference.is_empty() { holdout.clone() } else { score(&a.reference, "reference", &a.reference_column)? };
    if let Some(f) = &a.reference_group_field {
        // Before the long part: a field the reference lacks, or a report-only group it lacks, is a mistake to
        // name now.
        let groups = fit::reference_groups(&reference, f)?;
        if let Some(g) = a.reference_group_report_only.iter().find(|g| !groups.contains(&g.as_str())) {
            return Err(Error::Config(format!(
                "--reference-group-report-only {g}: no human document of the reference data has {f} {g:?}"
            )));
        }
    }
    let train = score(&a.train, "training", &a.train_column)?;
    let (cheap_columns, expensive_columns) = fit::split_columns(&authorship_columns, &a.expensive);
    if let (Some(f), true) = (&a.full_fit_field, expensive_columns.is_empty()) {
        tracing::warn!(
            "--full-fit-field {f} has no effect: no enabled signal is named by --expensive, so there is no full stage"
        );
    }
    let opts = fit_options(&a, cheap_columns, expensive_columns, band);
    let policy = fit::fit_policy(&train, &holdout, &reference, &opts)?;
    write_policy(&a, policy, &all_columns)?;
    Ok(OK)
}

/// The fit's options from the flags.
fn fit_options(
    a: &CalibrateArgs,
    cheap_columns: Vec<String>,
    expensive_columns: Vec<String>,
    band: Option<[f64; 2]>,
) -> FitOptions {
    FitOptions {
        target_fpr: a.target_fpr,
        fpr_confidence: a.fpr_confidence,
        reference_group_field: a.reference_group_field.clone(),
        method: a.method,
        combiner: a.combiner,
        c: a.c,
        boosting: BoostingOptions {
            n_trees: a.trees,
            max_depth: a.depth,
            learning_rate: a.learning_rate,
            ..Default::default()
        },
        cheap_columns,
        expensive_columns,
        band,
        balance_field: a.balance_field.clone(),
        loso_field: a.loso_field.clone(),
        cross_fit_reference: a.cross_fit_reference,
        report_only_groups: a.reference_group_report_only.clone(),
        full_fit_field: a.full_fit_field.clone(),
        description: a.description.clone(),
    }
}

/// Write the policy file (and the folder it goes in), check that the engine can load it with these columns,
/// and report its metrics (stdout, JSON) and stages (stderr).
fn write_policy(a: &CalibrateArgs, mut policy: PolicyFile, all_columns: &[String]) -> Result<()> {
    policy.fitted_on.train = a.train.clone();
    policy.fitted_on.holdout = a.holdout.clone();
    policy.fitted_on.fpr_reference = if a.reference.is_empty() { a.holdout.clone() } else { a.reference.clone() };
    let json = policy.to_json();
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
    }
    crate::sink::write_atomic(&a.out, json.as_bytes())?;
    fit::check_binds(&a.out, all_columns)?;
    println!("{}", serde_json::to_string_pretty(&policy.metrics).expect("metrics serialize"));
    eprintln!(
        "svalbard: wrote {} (cheap stage: {} columns, threshold {:.4}{})",
        a.out.display(),
        policy.cheap.features.len(),
        policy.cheap.threshold,
        match &policy.full {
            Some(f) => format!("; full stage: {} columns, threshold {:.4}", f.features.len(), f.threshold),
            None => String::new(),
        }
    );
    Ok(())
}
