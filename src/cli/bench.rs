//! `svalbard bench`: benchmark every enabled signal, the ensemble and any external detector's scores on
//! labeled data; write report.json, report.md and PNG plots.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::calibrate::scoring_setup;
use super::OK;
use crate::decide::ensemble::{P_MACHINE, STAGE};
use crate::error::{Error, Result};
use crate::eval::{build_report, Report, ReportOptions, SignalInput, ThresholdSpec};
use crate::labeled::{Dataset, LabeledSpec};
use crate::pipeline::labeled::score_inputs;
use crate::signal::Scorer;

const EXAMPLES: &str = "\
Examples:
  svalbard bench --data ../shared/data/detect/dev.jsonl --group-by source,generator --out bench-out/
  svalbard bench --data scored.parquet --score-columns radar,binoculars --out cmp/   # compare other detectors
  svalbard bench --invariance --invariance-docs 1000 --data ../shared/data/detect/dev.jsonl --out inv/

--invariance replaces the report: each text and its publishing transformations (curly/straight quotes,
dashes, line breaks, CR LF, NBSP, trailing spaces, HTML entities, bullets, boilerplate lines, raw/rendered
Markdown) are scored, and invariance.json and invariance.md say per transformation how far p_machine and each
model's own <model>_p_machine moved (max, p99, mean |delta| over the documents it changed) and how many
verdicts flipped. A detector of authorship should not move; labels are not needed.

Each score column is reported with higher = machine; a svalbard column whose AUROC is below 0.5 on this data
is reported negated, as -name (e.g. -ngram_lm_perplexity: lower perplexity = machine). External columns
(--score-columns) are taken as they are. p_machine is judged at the policy's threshold; other columns at the
threshold that flags --target-fpr of this data's human documents.

AUROC and TPR@FPR come with 95% intervals from a stratified bootstrap over documents (--bootstrap resamples,
the same resamples for every column of a group): at 1% FPR on 2,000 human texts the TPR rests on 20 of them,
and two detectors whose intervals overlap widely are not ranked by this data.";

#[derive(Args, Debug)]
#[command(about = "Benchmark detectors on labeled data: AUROC, AUPRC, TPR at 1%/5% FPR, F1, throughput, plots", after_help = EXAMPLES)]
pub struct BenchArgs {
    /// Labeled JSONL/Parquet files.
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<String>,
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    #[arg(long, default_value = "label")]
    pub label_field: String,
    /// Fields to break the figures down by.
    #[arg(long, value_delimiter = ',')]
    pub group_by: Vec<String>,
    /// Input fields holding other detectors' scores (higher = machine) to evaluate beside svalbard's.
    #[arg(long, value_delimiter = ',')]
    pub score_columns: Vec<String>,
    /// FPR on this data's human documents at which columns without a policy threshold are judged.
    #[arg(long, default_value_t = 0.01)]
    pub target_fpr: f64,
    /// Bootstrap resamples behind the 95% intervals of AUROC and TPR@FPR (0 = no intervals).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Scoring threads (0 = one per core).
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,
    #[arg(short, long, default_value = "bench-out")]
    pub out: PathBuf,
    /// Instead of the report: measure how scores move under publishing transformations (invariance.json/.md).
    #[arg(long)]
    pub invariance: bool,
    /// With --invariance: at most this many documents, evenly spaced over the data (0 = all).
    #[arg(long, default_value_t = 0, requires = "invariance")]
    pub invariance_docs: usize,
    /// With --invariance: only these transformations (default: all).
    #[arg(long, value_delimiter = ',', requires = "invariance")]
    pub transformations: Vec<String>,
}

/// Columns worth a per-group row and a plot: the ensemble, the models, the language models and external ones.
fn is_headline(name: &str, external: &[String]) -> bool {
    let n = name.trim_start_matches('-');
    n == P_MACHINE
        || n.ends_with("p_machine")
        || n.contains("perplexity")
        || n.contains("curvature")
        || n.contains("burstiness")
        || n.starts_with("vocab_")
        || external.iter().any(|e| e == n)
}

pub fn run(a: BenchArgs) -> Result<i32> {
    let (config, pool) = scoring_setup(a.config.as_ref(), a.threads)?;
    // A benchmark measures every detector on every document, whatever a quality rule decided.
    let scorer = config.scorer()?.scoring_all();
    if a.invariance {
        return pool.install(|| invariance(&a, &config, &scorer));
    }
    let spec = LabeledSpec { label_field: &a.label_field, group_fields: &a.group_by, score_fields: &a.score_columns };
    let data = pool.install(|| score_inputs(&config, &scorer, &a.data, &spec))?;
    if data.is_empty() {
        return Err(Error::Config("the --data holds no documents".into()));
    }
    let policy_threshold = scorer.ensemble().map(|e| {
        let p = e.policy();
        config.ensemble.threshold.unwrap_or(p.full.as_ref().unwrap_or(&p.cheap).threshold)
    });
    let signals = signal_inputs(&data, scorer.columns().len(), policy_threshold, a.target_fpr)?;
    std::fs::create_dir_all(&a.out).map_err(|e| Error::output(&a.out, e))?;

    let overall = ReportOptions { bootstrap: a.bootstrap, ..Default::default() };
    let mut reports = vec![("overall".to_string(), build_report(&signals, &data.labels, None, &overall)?)];
    let headline: Vec<SignalInput> =
        signals.iter().filter(|s| is_headline(&s.name, &a.score_columns)).cloned().collect();
    for g in &a.group_by {
        let opts = ReportOptions { group_by: Some(g.clone()), include_overall: false, ..overall.clone() };
        reports.push((g.clone(), build_report(&headline, &data.labels, Some(&data.groups[g]), &opts)?));
    }
    let throughput = throughput(&data);
    let plots = plot(&a.out, &headline, &data.labels)?;

    let n_machine = data.labels.iter().filter(|&&l| l).count();
    let report = json!({
        "data": a.data,
        "documents": data.len(),
        "human": data.len() - n_machine,
        "machine": n_machine,
        "unreadable_records": data.unreadable,
        "policy_threshold": policy_threshold,
        "throughput": throughput,
        "reports": reports.iter().map(|(k, r)| (k.clone(), serde_json::to_value(r).expect("report serializes"))).collect::<serde_json::Map<_, _>>(),
        "plots": plots,
        "svalbard_version": env!("CARGO_PKG_VERSION"),
    });
    let md = markdown(&a, &data, &reports, &throughput, &plots);
    write_outputs(&a.out, "report", &report, &md)
}

/// `--invariance`: the texts of `--data` (evenly thinned to `--invariance-docs`) under every transformation.
fn invariance(a: &BenchArgs, config: &crate::config::Config, scorer: &Scorer) -> Result<i32> {
    use crate::invariance::{self, TRANSFORMATIONS};
    let chosen: Vec<invariance::Transformation> = if a.transformations.is_empty() {
        TRANSFORMATIONS.to_vec()
    } else {
        a.transformations
            .iter()
            .map(|n| {
                invariance::transformation(n).copied().ok_or_else(|| {
                    let known: Vec<&str> = TRANSFORMATIONS.iter().map(|t| t.name).collect();
                    Error::Config(format!("unknown transformation {n:?} (known: {})", known.join(", ")))
                })
            })
            .collect::<Result<_>>()?
    };
    let mut texts = Vec::new();
    for (index, input) in crate::source::plan_inputs(&a.data)?.iter().enumerate() {
        for batch in crate::source::open(index, input, &config.input)? {
            if let Some(d) = &batch.damage {
                return Err(Error::input(&input.path, d));
            }
            texts.extend(batch.texts().into_iter().map(str::to_string));
        }
    }
    let read = texts.len();
    if a.invariance_docs > 0 && read > a.invariance_docs {
        let k = a.invariance_docs;
        texts = (0..k).map(|i| std::mem::take(&mut texts[i * read / k])).collect();
    }
    if texts.is_empty() {
        return Err(Error::Config("the --data holds no documents".into()));
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let watched = invariance::watched_columns(scorer, config);
    if watched.is_empty() {
        return Err(Error::Config("--invariance needs p_machine or a model's p_machine column to watch".into()));
    }
    let started = std::time::Instant::now();
    let report = invariance::run(scorer, &refs, &chosen, &watched)?;
    std::fs::create_dir_all(&a.out).map_err(|e| Error::output(&a.out, e))?;
    let value = json!({
        "data": a.data,
        "documents_read": read,
        "seconds": started.elapsed().as_secs_f64(),
        "invariance": report,
        "svalbard_version": env!("CARGO_PKG_VERSION"),
    });
    let md = format!(
        "# svalbard bench --invariance\n\nData: {} ({} of {read} documents).\n\n{}",
        a.data.join(", "),
        report.documents,
        report.to_markdown()
    );
    write_outputs(&a.out, "invariance", &value, &md)
}

/// `STEM.json` and `STEM.md` in `out`, each written atomically; the markdown is printed too.
fn write_outputs(out: &std::path::Path, stem: &str, json: &serde_json::Value, md: &str) -> Result<i32> {
    let pretty = serde_json::to_string_pretty(json).expect("json");
    crate::sink::write_atomic(&out.join(format!("{stem}.json")), pretty.as_bytes())?;
    crate::sink::write_atomic(&out.join(format!("{stem}.md")), md.as_bytes())?;
    println!("{md}");
    Ok(OK)
}

/// One report input per score column, oriented so that higher = machine.
fn signal_inputs(
    data: &Dataset,
    n_own: usize,
    policy_threshold: Option<f64>,
    target_fpr: f64,
) -> Result<Vec<SignalInput>> {
    let mut out = Vec::new();
    for (c, name) in data.columns.iter().enumerate() {
        if name == STAGE {
            continue;
        }
        let mut scores: Vec<f64> = data.values[c].iter().map(|&x| x as f64).collect();
        let mut name = name.clone();
        if c < n_own && name != P_MACHINE && crate::eval::auroc(&scores, &data.labels).is_ok_and(|a| a < 0.5) {
            scores.iter_mut().for_each(|x| *x = -*x);
            name = format!("-{name}");
        }
        let threshold = match policy_threshold {
            Some(t) if name == P_MACHINE => ThresholdSpec::Fixed(stored_p_threshold(t)),
            _ => ThresholdSpec::HumanFpr(target_fpr),
        };
        out.push(SignalInput { name, scores, threshold: Some(threshold) });
    }
    Ok(out)
}

/// The threshold on p_machine as the labeled data stores it (f32) that flags what the policy's threshold `t`
/// flags on the f64 probability `filter` decides on. Thresholds are chosen just above a human document's
/// probability (`threshold_for_fpr`), and that document's f32 rounds up to `t` or past it about half the
/// time: flagged here, at `>= t`, though `filter` keeps it, with every document tied with it. Only an f32
/// strictly above `t`'s own rounding is surely a probability at or above `t`; one less than an f32 step above
/// `t` may be missed instead, which takes a near-tie with the threshold rather than a tie.
fn stored_p_threshold(t: f64) -> f64 {
    let t32 = t as f32;
    if t32 as f64 == t {
        t
    } else {
        t32.next_up() as f64
    }
}

fn throughput(data: &Dataset) -> serde_json::Value {
    let per = |secs: f64| {
        json!({
            "seconds": secs,
            "docs_per_s": data.len() as f64 / secs.max(1e-9),
            "mb_per_s": data.bytes as f64 / 1e6 / secs.max(1e-9),
        })
    };
    let mut stages = serde_json::Map::new();
    for (k, t) in &data.timings {
        stages.insert(k.clone(), per(t.as_secs_f64()));
    }
    json!({ "total": per(data.score_time.as_secs_f64()), "bytes": data.bytes, "per_stage": stages })
}

/// ROC curves (linear and log-FPR) of the headline columns, strongest first (at most 8), and histograms.
#[cfg(feature = "plots")]
fn plot(out: &std::path::Path, signals: &[SignalInput], labels: &[bool]) -> Result<Vec<String>> {
    use crate::eval::{plot_histograms, plot_roc_with, roc_curve, RocPlotOptions};
    let mut ranked: Vec<(f64, &SignalInput)> =
        signals.iter().filter_map(|s| crate::eval::auroc(&s.scores, labels).ok().map(|a| (a, s))).collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    ranked.truncate(8);
    let curves: Vec<(String, Vec<f64>, Vec<f64>)> = ranked
        .iter()
        .map(|(_, s)| roc_curve(&s.scores, labels).map(|r| (s.name.clone(), r.fpr, r.tpr)))
        .collect::<std::result::Result<_, _>>()?;
    let refs: Vec<(&str, &[f64], &[f64])> =
        curves.iter().map(|(n, f, t)| (n.as_str(), f.as_slice(), t.as_slice())).collect();
    let mut files = Vec::new();
    if !refs.is_empty() {
        plot_roc_with(out.join("roc.png"), &refs, &RocPlotOptions { title: "ROC".into(), ..Default::default() })?;
        let log = RocPlotOptions { title: "ROC (log FPR)".into(), log_x: true, min_fpr: 1e-3, ..Default::default() };
        plot_roc_with(out.join("roc_log.png"), &refs, &log)?;
        files.extend(["roc.png".to_string(), "roc_log.png".to_string()]);
    }
    for (_, s) in &ranked {
        let human: Vec<f64> = s.scores.iter().zip(labels).filter(|(_, &l)| !l).map(|(&x, _)| x).collect();
        let machine: Vec<f64> = s.scores.iter().zip(labels).filter(|(_, &l)| l).map(|(&x, _)| x).collect();
        let file = format!("hist_{}.png", s.name.trim_start_matches('-'));
        if plot_histograms(out.join(&file), &s.name, &human, &machine).is_ok() {
            files.push(file);
        }
    }
    Ok(files)
}

#[cfg(not(feature = "plots"))]
fn plot(_: &std::path::Path, _: &[SignalInput], _: &[bool]) -> Result<Vec<String>> {
    tracing::info!("no PNG plots: this svalbard was built without the cargo feature `plots`");
    Ok(Vec::new())
}

fn markdown(
    a: &BenchArgs,
    data: &Dataset,
    reports: &[(String, Report)],
    throughput: &serde_json::Value,
    plots: &[String],
) -> String {
    let n_machine = data.labels.iter().filter(|&&l| l).count();
    let mut s = format!(
        "# svalbard bench\n\nData: {} ({} documents: {} human, {} machine).\n\n",
        a.data.join(", "),
        data.len(),
        data.len() - n_machine,
        n_machine
    );
    s.push_str("## Throughput (scoring only)\n\n| stage | seconds | docs/s | MB/s |\n|---|---:|---:|---:|\n");
    let row = |name: &str, v: &serde_json::Value| {
        format!(
            "| {name} | {:.2} | {:.1} | {:.2} |\n",
            v["seconds"].as_f64().unwrap_or(f64::NAN),
            v["docs_per_s"].as_f64().unwrap_or(f64::NAN),
            v["mb_per_s"].as_f64().unwrap_or(f64::NAN)
        )
    };
    s.push_str(&row("all signals", &throughput["total"]));
    if let Some(m) = throughput["per_stage"].as_object() {
        for (k, v) in m {
            s.push_str(&row(k, v));
        }
    }
    if a.bootstrap > 0 {
        s.push_str(&format!(
            "\n95% CI: percentile intervals from a stratified bootstrap over documents ({} resamples; the same \
             resamples for every column of a group that scores all its documents).\n",
            a.bootstrap
        ));
    }
    for (k, r) in reports {
        s.push_str(&format!(
            "\n## {}\n\n{}\n",
            if k == "overall" { "All documents".to_string() } else { format!("By {k}") },
            r.to_markdown()
        ));
        let fpr = r.fpr_markdown();
        if !fpr.is_empty() {
            // Per group, what the threshold promises for new text of that group: a few false positives among a
            // few hundred pages pin its rate down only loosely, and the bound says how loosely.
            s.push_str(&format!(
                "\n### False positives {} at the threshold\n\nflagged of the human documents, the FPR and its \
                 one-sided 95% Clopper-Pearson upper bound; the TPR at the same threshold.\n\n{fpr}\n",
                if k == "overall" { "overall".to_string() } else { format!("per {k}") },
            ));
        }
    }
    for p in plots {
        s.push_str(&format!("\n![{p}]({p})\n"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stored_p_threshold_flags_what_filter_flags() {
        let mut rng = crate::eval::rng::Rng::new(5);
        for _ in 0..10_000 {
            // The policy's threshold sits one step above a human document's probability h.
            let h = rng.uniform();
            let t = h.next_up();
            let stored = stored_p_threshold(t);
            assert!(((h as f32) as f64) < stored, "h = {h}: the document at the threshold's edge is flagged");
            let above = t + 1e-6;
            assert!(((above as f32) as f64) >= stored, "h = {h}: a document clearly above is not flagged");
        }
        // A threshold an f32 holds exactly is kept: the policy's clamp at 1 flags p = 1.
        assert_eq!(stored_p_threshold(1.0), 1.0);
        assert_eq!(stored_p_threshold(0.5), 0.5);
    }
}
