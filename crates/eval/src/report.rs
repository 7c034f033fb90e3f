//! Metric tables: one row per signal (score column) × group (e.g. source or
//! generator), plus an overall row per signal. Serialisable to JSON and
//! renderable as a Markdown table.
//!
//! Metrics that are undefined for a row (e.g. AUROC of a group that contains
//! only human texts) are `None` (JSON `null`, Markdown `n/a`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use rayon::prelude::*;

use super::bootstrap::{curve_intervals, BootstrapOptions, Intervals};
use super::metrics::{clopper_pearson_upper, threshold_for_fpr, BinaryCurve};
use super::{check_len, EvalError, Result};

/// How the decision threshold used for F1 / accuracy is chosen for a signal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdSpec {
    /// A fixed inclusive threshold (flag iff `score >= t`).
    Fixed(f64),
    /// `threshold_for_fpr(all human scores of this signal, target)`: chosen
    /// once on the whole input (not per group), then applied to every group.
    HumanFpr(f64),
}

/// One score column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalInput {
    /// Signal name (column header).
    pub name: String,
    /// One score per row; NaN = not scored (excluded and counted).
    pub scores: Vec<f64>,
    /// Threshold for F1 / accuracy; `None` leaves those cells empty.
    pub threshold: Option<ThresholdSpec>,
}

/// Options for [`build_report`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportOptions {
    /// FPR targets for the TPR@FPR columns (default: 1 % and 5 %).
    pub fpr_targets: Vec<f64>,
    /// Name of the grouping key, e.g. `"source"` or `"generator"`.
    pub group_by: Option<String>,
    /// Emit an overall row (group `"(all)"`) for each signal (default true).
    pub include_overall: bool,
    /// Resamples of the bootstrap behind each row's 95% intervals ([`ReportRow::ci`]); 0 = no intervals.
    #[serde(default)]
    pub bootstrap: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { fpr_targets: vec![0.01, 0.05], group_by: None, include_overall: true, bootstrap: 0 }
    }
}

/// Name of the overall (ungrouped) row.
pub const ALL_GROUP: &str = "(all)";

/// Confidence of [`ReportRow::fpr_upper95`].
pub const FPR_CONFIDENCE: f64 = 0.95;

/// TPR at one FPR target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TprAtFpr {
    /// Target FPR.
    pub fpr: f64,
    /// Max TPR over ROC points with FPR `<= fpr`.
    pub tpr: Option<f64>,
}

/// One table row: a signal on a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    /// Signal name.
    pub signal: String,
    /// Group key ([`ALL_GROUP`] for the overall row).
    pub group: String,
    /// Rows with a non-NaN score (= `n_human + n_machine`).
    pub n: u64,
    /// Human rows with a non-NaN score.
    pub n_human: u64,
    /// Machine rows with a non-NaN score.
    pub n_machine: u64,
    /// Rows excluded because the score was NaN.
    pub n_nan: u64,
    /// sklearn `roc_auc_score`; needs both classes.
    pub auroc: Option<f64>,
    /// sklearn `average_precision_score`; needs a machine row.
    pub auprc: Option<f64>,
    /// TPR at each of [`ReportOptions::fpr_targets`].
    pub tpr_at_fpr: Vec<TprAtFpr>,
    /// Threshold applied for the fields below.
    pub threshold: Option<f64>,
    /// Precision at `threshold`.
    pub precision: Option<f64>,
    /// Recall (TPR) at `threshold`.
    pub recall: Option<f64>,
    /// Observed FPR at `threshold`; `None` without human rows.
    pub fpr: Option<f64>,
    /// Human rows flagged at `threshold` (the false positives behind `fpr`); `None` without human rows.
    #[serde(default)]
    pub human_flagged: Option<u64>,
    /// One-sided 95% Clopper-Pearson upper bound of the FPR at `threshold` ([`FPR_CONFIDENCE`]): what `fpr`
    /// can promise for new text of this group, which `human_flagged` of `n_human` pins down only so far.
    #[serde(default)]
    pub fpr_upper95: Option<f64>,
    /// Machine rows flagged at `threshold` (behind `recall`); `None` without machine rows.
    #[serde(default)]
    pub machine_flagged: Option<u64>,
    /// F1 at `threshold`.
    pub f1: Option<f64>,
    /// Accuracy at `threshold`.
    pub accuracy: Option<f64>,
    /// 95% bootstrap intervals of AUROC and the TPR@FPR columns ([`ReportOptions::bootstrap`]); needs both
    /// classes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<Intervals>,
}

/// A full report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Grouping key name, if any.
    pub group_by: Option<String>,
    /// FPR targets of the TPR@FPR columns.
    pub fpr_targets: Vec<f64>,
    /// Rows: for each signal in input order, the overall row first, then
    /// groups in lexicographic order.
    pub rows: Vec<ReportRow>,
}

fn row_for(
    signal: &str,
    group: &str,
    scores: &[f64],
    labels: &[bool],
    threshold: Option<f64>,
    targets: &[f64],
    bootstrap: usize,
) -> ReportRow {
    let mut row = ReportRow {
        signal: signal.to_string(),
        group: group.to_string(),
        n: 0,
        n_human: 0,
        n_machine: 0,
        n_nan: 0,
        auroc: None,
        auprc: None,
        tpr_at_fpr: targets.iter().map(|&fpr| TprAtFpr { fpr, tpr: None }).collect(),
        threshold,
        precision: None,
        recall: None,
        fpr: None,
        human_flagged: None,
        fpr_upper95: None,
        machine_flagged: None,
        f1: None,
        accuracy: None,
        ci: None,
    };
    let curve = match BinaryCurve::new(scores, labels) {
        Ok(c) => c,
        Err(_) => {
            // all NaN (or empty group)
            row.n_nan = scores.iter().filter(|s| s.is_nan()).count() as u64;
            return row;
        }
    };
    row.n_human = curve.n_neg;
    row.n_machine = curve.n_pos;
    row.n = curve.n_neg + curve.n_pos;
    row.n_nan = curve.n_nan;
    row.auroc = curve.auroc().ok();
    row.auprc = curve.average_precision().ok();
    for t in &mut row.tpr_at_fpr {
        t.tpr = curve.tpr_at_fpr(t.fpr).ok();
    }
    if let Some(th) = threshold {
        if let Ok(c) = curve.confusion_at(th) {
            row.accuracy = Some(c.accuracy);
            row.f1 = Some(c.f1);
            row.precision = (c.tp + c.fp > 0).then_some(c.precision);
            row.recall = (curve.n_pos > 0).then_some(c.recall);
            row.fpr = (curve.n_neg > 0).then_some(c.fpr);
            if curve.n_neg > 0 {
                row.human_flagged = Some(c.fp);
                row.fpr_upper95 = clopper_pearson_upper(c.fp, curve.n_neg, FPR_CONFIDENCE).ok();
            }
            row.machine_flagged = (curve.n_pos > 0).then_some(c.tp);
        }
    }
    if bootstrap > 0 {
        // None where a class is missing: the intervals are as undefined as the metrics.
        let opts = BootstrapOptions { resamples: bootstrap, ..Default::default() };
        row.ci = curve_intervals(&curve, scores, labels, targets, &opts).ok();
    }
    row
}

/// Builds a report from parallel columns.
///
/// * `signals`: one score column per signal, each of length `labels.len()`.
/// * `labels`: `true` = machine.
/// * `groups`: optional group key per row (same length). Without it only the
///   overall rows are produced (even if `include_overall` is false).
///
/// Cost: one sort per (signal, group) — `O(S · n log n)` overall — plus `O(S · n)` per bootstrap resample;
/// signals are reported in parallel (rayon).
pub fn build_report(
    signals: &[SignalInput],
    labels: &[bool],
    groups: Option<&[String]>,
    opts: &ReportOptions,
) -> Result<Report> {
    for t in &opts.fpr_targets {
        if !(0.0..=1.0).contains(t) {
            return Err(EvalError::InvalidArgument(format!("FPR target {t} not in [0, 1]")));
        }
    }
    if let Some(g) = groups {
        check_len("groups", g.len(), labels.len())?;
    }
    // Row indices per group, groups sorted lexicographically.
    let mut by_group: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    if let Some(g) = groups {
        for (i, key) in g.iter().enumerate() {
            by_group.entry(key.as_str()).or_default().push(i);
        }
    }
    let per_signal = signals.par_iter().map(|sig| -> Result<Vec<ReportRow>> {
        let mut rows = Vec::new();
        check_len("signal scores", sig.scores.len(), labels.len())?;
        let threshold = match sig.threshold {
            None => None,
            Some(ThresholdSpec::Fixed(t)) => Some(t),
            Some(ThresholdSpec::HumanFpr(target)) => {
                let human: Vec<f64> = sig.scores.iter().zip(labels).filter(|(_, &l)| !l).map(|(&s, _)| s).collect();
                match threshold_for_fpr(&human, target) {
                    Ok(r) => Some(r.threshold),
                    Err(EvalError::InvalidArgument(m)) => return Err(EvalError::InvalidArgument(m)),
                    Err(_) => None,
                }
            }
        };
        if opts.include_overall || groups.is_none() {
            rows.push(row_for(&sig.name, ALL_GROUP, &sig.scores, labels, threshold, &opts.fpr_targets, opts.bootstrap));
        }
        for (key, idx) in &by_group {
            let s: Vec<f64> = idx.iter().map(|&i| sig.scores[i]).collect();
            let l: Vec<bool> = idx.iter().map(|&i| labels[i]).collect();
            rows.push(row_for(&sig.name, key, &s, &l, threshold, &opts.fpr_targets, opts.bootstrap));
        }
        Ok(rows)
    });
    let rows = per_signal.collect::<Result<Vec<_>>>()?.into_iter().flatten().collect();
    Ok(Report { group_by: opts.group_by.clone(), fpr_targets: opts.fpr_targets.clone(), rows })
}

fn fmt_opt(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.4}"),
        Some(x) => format!("{x}"),
        None => "n/a".to_string(),
    }
}

fn fmt_pct(t: f64) -> String {
    let p = t * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{}%", p.round())
    } else {
        format!("{p}%")
    }
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

impl Report {
    /// Pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialises")
    }

    /// GitHub-flavoured Markdown table.
    pub fn to_markdown(&self) -> String {
        let group_col = self.group_by.as_deref().unwrap_or("group");
        let mut header = vec![
            "signal".to_string(),
            group_col.to_string(),
            "n".into(),
            "human".into(),
            "machine".into(),
            "NaN".into(),
            "AUROC".into(),
            "AUPRC".into(),
        ];
        for t in &self.fpr_targets {
            header.push(format!("TPR@{}FPR", fmt_pct(*t)));
        }
        header.extend(["threshold", "FPR", "F1", "accuracy"].map(String::from));
        let with_ci = self.rows.iter().any(|r| r.ci.is_some());
        if with_ci {
            header.push("AUROC 95% CI".into());
            for t in &self.fpr_targets {
                header.push(format!("TPR@{}FPR 95% CI", fmt_pct(*t)));
            }
        }
        let mut out = String::new();
        let _ = writeln!(out, "| {} |", header.iter().map(|h| md_escape(h)).collect::<Vec<_>>().join(" | "));
        let align: Vec<&str> = (0..header.len()).map(|i| if i < 2 { "---" } else { "---:" }).collect();
        let _ = writeln!(out, "| {} |", align.join(" | "));
        for r in &self.rows {
            let mut cells = vec![
                md_escape(&r.signal),
                md_escape(&r.group),
                r.n.to_string(),
                r.n_human.to_string(),
                r.n_machine.to_string(),
                r.n_nan.to_string(),
                fmt_opt(r.auroc),
                fmt_opt(r.auprc),
            ];
            for t in &r.tpr_at_fpr {
                cells.push(fmt_opt(t.tpr));
            }
            cells.push(match r.threshold {
                Some(t) => format!("{t:.6}"),
                None => "n/a".into(),
            });
            cells.push(fmt_opt(r.fpr));
            cells.push(fmt_opt(r.f1));
            cells.push(fmt_opt(r.accuracy));
            if with_ci {
                match &r.ci {
                    Some(ci) => cells.extend(
                        std::iter::once(&ci.auroc).chain(&ci.tpr_at_fpr).map(|[lo, hi]| format!("{lo:.4}–{hi:.4}")),
                    ),
                    None => cells.extend(std::iter::repeat_n("n/a".to_string(), 1 + self.fpr_targets.len())),
                }
            }
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }

    /// The false positives at each row's threshold, one row per signal and group that has one: human
    /// documents, how many were flagged, the FPR and its one-sided 95% Clopper-Pearson upper bound, then the
    /// machine documents and the TPR at the same threshold. Groups with one class only keep their row (the
    /// other class's cells are `n/a`). Empty when no row has a threshold.
    pub fn fpr_markdown(&self) -> String {
        let rows: Vec<&ReportRow> = self.rows.iter().filter(|r| r.threshold.is_some()).collect();
        if rows.is_empty() {
            return String::new();
        }
        let group_col = md_escape(self.group_by.as_deref().unwrap_or("group"));
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| signal | {group_col} | threshold | human n | flagged | FPR | 95% upper | machine n | TPR at threshold |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for r in rows {
            let count = |v: Option<u64>| v.map_or("n/a".to_string(), |k| k.to_string());
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                md_escape(&r.signal),
                md_escape(&r.group),
                r.threshold.map_or("n/a".to_string(), |t| format!("{t:.6}")),
                r.n_human,
                count(r.human_flagged),
                fmt_opt(r.fpr),
                fmt_opt(r.fpr_upper95),
                r.n_machine,
                fmt_opt(r.recall),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<SignalInput>, Vec<bool>, Vec<String>) {
        // group a: scores 0.9 M, 0.1 H, 0.8 M, 0.2 H  (perfectly separated)
        // group b: scores 0.6 M, 0.7 H, NaN M          (inverted, one NaN)
        // group c: scores 0.3 H                         (human only)
        let labels = vec![true, false, true, false, true, false, true, false];
        let groups: Vec<String> = ["a", "a", "a", "a", "b", "b", "b", "c"].iter().map(|s| s.to_string()).collect();
        let s1 = vec![0.9, 0.1, 0.8, 0.2, 0.6, 0.7, f64::NAN, 0.3];
        let s2: Vec<f64> = s1.iter().map(|x| 1.0 - x).collect();
        (
            vec![
                SignalInput { name: "sig1".into(), scores: s1, threshold: Some(ThresholdSpec::Fixed(0.5)) },
                SignalInput { name: "sig2".into(), scores: s2, threshold: None },
            ],
            labels,
            groups,
        )
    }

    #[test]
    fn builds_rows_and_renders() {
        let (sig, labels, groups) = sample();
        let opts = ReportOptions { group_by: Some("source".into()), ..Default::default() };
        let rep = build_report(&sig, &labels, Some(&groups), &opts).unwrap();
        assert_eq!(rep.rows.len(), 2 * 4);
        let all = &rep.rows[0];
        assert_eq!((all.signal.as_str(), all.group.as_str()), ("sig1", ALL_GROUP));
        assert_eq!((all.n, all.n_human, all.n_machine, all.n_nan), (7, 4, 3, 1));
        // overall sig1: M {0.9,0.8,0.6} vs H {0.1,0.2,0.7,0.3}: wins 4+4+3 = 11... 0.6 beats 0.1,0.2,0.3 = 3
        // 0.9: 4, 0.8: 4 → 11/12
        assert!((all.auroc.unwrap() - 11.0 / 12.0).abs() < 1e-12);
        // threshold 0.5: flagged 0.9 M, 0.8 M, 0.6 M, 0.7 H → tp 3 fp 1 tn 3 fn 0
        assert!((all.f1.unwrap() - 6.0 / 7.0).abs() < 1e-12);
        assert!((all.accuracy.unwrap() - 6.0 / 7.0).abs() < 1e-12);
        let a = &rep.rows[1];
        assert_eq!(a.group, "a");
        assert_eq!(a.auroc, Some(1.0));
        assert_eq!(a.tpr_at_fpr[0].tpr, Some(1.0));
        let b = &rep.rows[2];
        assert_eq!((b.n, b.n_nan), (2, 1));
        assert_eq!(b.auroc, Some(0.0));
        let c = &rep.rows[3];
        assert_eq!(c.group, "c");
        assert_eq!(c.auroc, None);
        assert_eq!(c.auprc, None);
        assert_eq!(c.accuracy, Some(1.0)); // 0.3 < 0.5 → correct human
        assert_eq!(rep.rows[4].f1, None); // sig2 has no threshold

        let md = rep.to_markdown();
        assert!(
            md.starts_with("| signal | source | n | human | machine | NaN | AUROC | AUPRC | TPR@1%FPR | TPR@5%FPR |")
        );
        assert!(md.contains("| sig1 | c | 1 | 1 | 0 | 0 | n/a | n/a |"));
        let json = rep.to_json();
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back.rows.len(), rep.rows.len());
        assert_eq!(back.rows[1], rep.rows[1]);
    }

    #[test]
    fn human_fpr_threshold_and_no_groups() {
        let (mut sig, labels, _) = sample();
        sig[0].threshold = Some(ThresholdSpec::HumanFpr(0.25));
        let rep = build_report(&sig[..1], &labels, None, &ReportOptions::default()).unwrap();
        assert_eq!(rep.rows.len(), 1);
        // humans {0.1,0.2,0.7,0.3}, target 0.25 → k = 1, 2nd largest = 0.3 → t = next_up(0.3)
        assert_eq!(rep.rows[0].threshold, Some(0.3f64.next_up()));
        assert_eq!(rep.rows[0].fpr, Some(0.25));
    }

    #[test]
    fn bootstrap_intervals_per_row() {
        let (sig, labels, groups) = sample();
        let plain = build_report(&sig, &labels, Some(&groups), &ReportOptions::default()).unwrap();
        assert!(plain.rows.iter().all(|r| r.ci.is_none()));
        assert!(!plain.to_json().contains("\"ci\""));
        assert!(!plain.to_markdown().contains("95% CI"));

        let opts = ReportOptions { bootstrap: 200, ..Default::default() };
        let rep = build_report(&sig, &labels, Some(&groups), &opts).unwrap();
        let all = &rep.rows[0];
        let ci = all.ci.as_ref().expect("both classes: an interval");
        assert_eq!((ci.resamples, ci.tpr_at_fpr.len()), (200, 2));
        assert!(ci.auroc[0] <= all.auroc.unwrap() && all.auroc.unwrap() <= ci.auroc[1]);
        assert!(ci.auroc[0] < ci.auroc[1], "3 machine and 4 human texts cannot pin AUROC down: {ci:?}");
        assert!(rep.rows[3].ci.is_none(), "group c holds humans only");
        // Without the intervals the rows are the same.
        for (a, b) in rep.rows.iter().zip(&plain.rows) {
            assert_eq!(ReportRow { ci: None, ..a.clone() }, *b);
        }
        let md = rep.to_markdown();
        assert!(md.lines().next().unwrap().ends_with("| AUROC 95% CI | TPR@1%FPR 95% CI | TPR@5%FPR 95% CI |"));
        assert!(md.contains(&format!("| {:.4}–{:.4} |", ci.auroc[0], ci.auroc[1])));
        assert!(md.lines().any(|l| l.starts_with("| sig1 | c |") && l.ends_with("| n/a | n/a | n/a |")));
        let back: Report = serde_json::from_str(&rep.to_json()).unwrap();
        assert_eq!(back, rep);
    }

    #[test]
    fn fpr_rows_with_bounds_for_every_group_even_with_one_class() {
        // Group "both": humans 0.1, 0.6 and machine 0.9, 0.4; "humans": 0.2, 0.7, 0.8; "machines": 0.95, 0.3.
        let scores = vec![0.1, 0.6, 0.9, 0.4, 0.2, 0.7, 0.8, 0.95, 0.3];
        let labels = vec![false, false, true, true, false, false, false, true, true];
        let groups: Vec<String> =
            ["both", "both", "both", "both", "humans", "humans", "humans", "machines", "machines"]
                .map(String::from)
                .to_vec();
        let sig = [SignalInput { name: "s".into(), scores, threshold: Some(ThresholdSpec::Fixed(0.5)) }];
        let opts = ReportOptions { group_by: Some("source".into()), bootstrap: 50, ..Default::default() };
        let rep = build_report(&sig, &labels, Some(&groups), &opts).unwrap();
        let row = |g: &str| rep.rows.iter().find(|r| r.group == g).unwrap();
        // scipy.stats.beta.ppf(0.95, k + 1, n - k)
        let all = row(ALL_GROUP);
        assert_eq!((all.n_human, all.human_flagged, all.fpr), (5, Some(3), Some(0.6)));
        assert_eq!((all.n_machine, all.machine_flagged, all.recall), (4, Some(2), Some(0.5)));
        let both = row("both");
        assert_eq!((both.human_flagged, both.fpr, both.machine_flagged), (Some(1), Some(0.5), Some(1)));
        assert!((both.fpr_upper95.unwrap() - 0.9746794344808963).abs() < 1e-9, "{both:?}");
        // Human only: no AUROC, but the FPR and its bound.
        let h = row("humans");
        assert_eq!((h.auroc, h.n_machine, h.machine_flagged, h.recall), (None, 0, None, None));
        assert_eq!((h.n_human, h.human_flagged), (3, Some(2)));
        assert!((h.fpr.unwrap() - 2.0 / 3.0).abs() < 1e-15);
        assert!((h.fpr_upper95.unwrap() - 0.9830475724915585).abs() < 1e-9, "{h:?}");
        // Machine only: the TPR, no FPR.
        let m = row("machines");
        assert_eq!((m.auroc, m.n_human, m.human_flagged, m.fpr, m.fpr_upper95), (None, 0, None, None, None));
        assert_eq!((m.machine_flagged, m.recall), (Some(1), Some(0.5)));

        let md = rep.fpr_markdown();
        let mut lines = md.lines();
        assert_eq!(
            lines.next().unwrap(),
            "| signal | source | threshold | human n | flagged | FPR | 95% upper | machine n | TPR at threshold |"
        );
        assert!(md.contains("| s | humans | 0.500000 | 3 | 2 | 0.6667 | 0.9830 | 0 | n/a |"), "{md}");
        assert!(md.contains("| s | machines | 0.500000 | 0 | n/a | n/a | n/a | 2 | 0.5000 |"), "{md}");
        assert_eq!(md.lines().count(), 2 + 4);
        // The new fields survive JSON, and reports written before them still load.
        let back: Report = serde_json::from_str(&rep.to_json()).unwrap();
        assert_eq!(back, rep);
        let mut old: serde_json::Value = serde_json::from_str(&rep.to_json()).unwrap();
        for r in old["rows"].as_array_mut().unwrap() {
            for k in ["human_flagged", "fpr_upper95", "machine_flagged"] {
                r.as_object_mut().unwrap().remove(k);
            }
        }
        let old: Report = serde_json::from_value(old).unwrap();
        assert_eq!(old.rows[0].fpr_upper95, None);
        // Without thresholds there is no table.
        let none = [SignalInput { threshold: None, ..sig[0].clone() }];
        assert_eq!(build_report(&none, &labels, None, &ReportOptions::default()).unwrap().fpr_markdown(), "");
    }

    #[test]
    fn length_mismatch() {
        let (sig, labels, _) = sample();
        let g = vec!["x".to_string()];
        assert!(build_report(&sig, &labels, Some(&g), &ReportOptions::default()).is_err());
    }
}
