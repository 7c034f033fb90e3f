//! The ensemble end to end: the built-in policy deciding in `filter` (p_machine, reasons, protection), and
//! `calibrate` → `filter` with the cascade → `bench` on labeled data made here.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use svalbard::config::Config;
use svalbard::pipeline::{self, Job};
use svalbard::source::plan_inputs;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_svalbard")
}

#[test]
fn builtin_policy_decides_with_reasons_and_respects_vintage() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    let mut f = std::fs::File::create(&input).unwrap();
    for (id, date) in [("old", "2019-06-01"), ("new", "2024-01-01")] {
        writeln!(f, "{}", serde_json::json!({"id": id, "text": PROSE, "date": date})).unwrap();
    }
    drop(f);
    // Threshold 0: the ensemble calls everything machine; the vintage document is protected.
    let mut config = Config::from_toml_str("[vintage]\nkeep = true\n[ensemble]\nthreshold = 0.0\n").unwrap();
    config.signals.gopher_quality.action = svalbard::spec::Action::Flag;
    config.signals.c4.action = svalbard::spec::Action::Flag;
    let out = d.path().join("out");
    let job = Job::new(plan_inputs(&[input.display().to_string()]).unwrap(), out.clone(), config);
    let stats = pipeline::run(&job).unwrap();
    assert!(stats.signals.contains(&"ensemble".to_string()));
    assert_eq!((stats.totals.clean, stats.totals.rejected), (1, 1));
    let rejected = read_category(&out, "rejected");
    let reasons = strings(&rejected, "reasons");
    // The fast model's own rule only flags while the ensemble is on; the ensemble's reason names its drivers.
    assert!(reasons[0].starts_with("ensemble.machine") && !reasons[0].contains("fast.machine"), "{reasons:?}");
    let p = floats(&rejected, "p_machine")[0];
    assert!((0.0..=1.0).contains(&p), "{p}");
    assert_eq!(floats(&rejected, "ensemble_stage"), vec![1.0]);
    let clean = read_category(&out, "clean");
    assert_eq!(strings(&clean, "id"), vec!["old"]);
    assert!(strings(&clean, "flags")[0].contains("ensemble.machine"));
}

/// `calibrate` fits on the detectors' columns, which read the canonical view, so the shipped policy must read
/// exactly those of the default signals, and none of the quality rules' layout columns (line, bullet and word
/// counts), which a publishing pipeline decides, nor stylometry's length-dependent ones, which lowered every
/// leave-one-source-out figure: a detector added to the defaults without `scripts/build_policy.sh` fails here,
/// and so does a policy fitted on layout.
#[test]
fn builtin_policy_reads_the_authorship_columns_of_the_default_signals() {
    let scorer = Config::default().scorer().unwrap();
    let ensemble = scorer.ensemble().expect("the built-in policy binds to the default signals");
    let mut authorship = scorer.detector_columns();
    let mut read: Vec<String> = ensemble.policy().cheap.features.clone();
    authorship.sort_unstable();
    read.sort_unstable();
    assert_eq!(read, authorship);
    assert!(read.iter().any(|c| c == "fast_p_machine") && read.iter().any(|c| c == "vocab_excess_rate"));
    for layout in ["gopher_", "c4_", "fineweb_", "typography_", "stylometry_", "vocab_excess_count"] {
        assert!(!read.iter().any(|c| c.starts_with(layout)), "{layout} in {read:?}");
    }
}

/// The thorough profile (svalbard.thorough.toml) ships its policy: a cascade whose cheap stage reads the profile's
/// detectors' columns (the default ones and stylometry's) and whose full stage adds the neural LM's, with a band,
/// and whose threshold the QA-dataset answers do not set (they are reported). Checked without the LM's graph,
/// which is built locally.
#[test]
fn thorough_profile_policy_binds_to_the_default_detectors_and_the_neural_lm() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = Config::from_toml_str(&std::fs::read_to_string(root.join("svalbard.thorough.toml")).unwrap()).unwrap();
    assert!(config.signals.neural_lm.enabled && config.ensemble.cascade);
    let mut ensemble_config = config.ensemble.clone();
    ensemble_config.policy = root.join(&config.ensemble.policy).display().to_string();
    // The profile's own detectors but the LM (whose graph is not here), then the LM's columns.
    let mut without_lm = config.clone();
    without_lm.signals.neural_lm.enabled = false;
    let mut columns = without_lm.scorer().unwrap().detector_columns();
    assert!(columns.iter().any(|c| c.starts_with("stylometry_")), "the profile turns stylometry on: {columns:?}");
    let lm = ["neural_lm_perplexity", "neural_lm_burstiness", "neural_lm_curvature"].map(String::from);
    columns.extend(lm.iter().cloned());
    let ensemble = svalbard::decide::ensemble::Ensemble::new(&ensemble_config, &columns).unwrap();
    let policy = ensemble.policy();
    let full = policy.full.as_ref().expect("two stages");
    assert_eq!(&full.features[..policy.cheap.features.len()], &policy.cheap.features[..]);
    assert_eq!(&full.features[policy.cheap.features.len()..], &lm[..]);
    let [lo, hi] = policy.band.expect("a band");
    assert!(0.0 < lo && lo < hi && hi <= 1.0, "{lo} {hi}");
    let groups = policy.metrics["reference_groups"]["full"]["groups"].as_object().unwrap();
    let mut report_only: Vec<&str> =
        groups.iter().filter(|(_, g)| g["holds_threshold"] == false).map(|(k, _)| k.as_str()).collect();
    report_only.sort_unstable();
    assert_eq!(report_only, ["dolly15k_partial", "hc3-plus-si-en", "medquad"]);
    for (name, g) in groups.iter().filter(|(_, g)| g["holds_threshold"] == true) {
        assert!(g["flagged"].as_u64() <= g["budget"].as_u64(), "{name} over its budget: {g}");
    }
}

/// Labeled documents: human prose, and machine prose heavy with the words LLMs over-use.
fn labeled(path: &Path, n: usize) {
    let human = [
        "We walked down to the harbour after lunch and watched the boats come in.",
        "The council has not yet said when the road will reopen, and shopkeepers are worried.",
        "My grandmother kept bees for forty years and never once wore gloves.",
        "The train was late again, so I read the paper twice and ate both sandwiches.",
        "Rain fell all night; by morning the creek had burst its banks near the old mill.",
    ];
    let machine = [
        "Let us delve into the intricate tapestry of innovation, showcasing pivotal insights.",
        "This underscores the multifaceted landscape, fostering a nuanced and comprehensive understanding.",
        "In the realm of technology, it is crucial to navigate the evolving landscape with meticulous care.",
        "Furthermore, the findings highlight a pivotal shift, underscoring the seamless integration of ideas.",
        "Embark on a journey to unlock the transformative potential that lies within this vibrant tapestry.",
    ];
    let mut f = std::fs::File::create(path).unwrap();
    for i in 0..n {
        let is_machine = i % 2 == 1;
        let pool = if is_machine { &machine } else { &human };
        let text: Vec<&str> = (0..4 + i % 5).map(|k| pool[(i * 7 + k * 3) % 5]).collect();
        let label = if is_machine { "machine" } else { "human" };
        let source = if i % 4 < 2 { "a" } else { "b" };
        writeln!(
            f,
            "{}",
            serde_json::json!({"id": format!("d{i}"), "text": text.join(" "), "label": label, "source": source,
                               "fast_oof": 0.5, "unseen": i % 3 != 0})
        )
        .unwrap();
    }
}

#[test]
fn calibrate_names_what_is_missing() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("labeled.jsonl");
    labeled(&data, 40);
    let data_s = data.to_str().unwrap();
    let out = d.path().join("p.json");
    let run = |extra: &[&str]| {
        let mut args = vec!["calibrate", "--train", data_s, "--holdout", data_s, "--out", out.to_str().unwrap()];
        args.extend(extra);
        let o = Command::new(bin()).args(&args).output().unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stderr).to_string())
    };
    let (code, err) = run(&["--train-column", "fast_p_machine=nope"]);
    assert_eq!(code, Some(4), "an input without the field is an input problem: {err}");
    assert!(err.contains("\"nope\""), "{err}");
    let (code, err) = run(&["--train-column", "fats_p_machine=fast_oof"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("fats_p_machine") && err.contains("no enabled signal writes"), "{err}");
    // Cross-fitting is by the reference's groups: without them there is nothing to leave out.
    let (code, err) = run(&["--cross-fit-reference"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--reference-group-field"), "{err}");
    // A report-only group the reference lacks is a typo, named before any fitting.
    let (code, err) = run(&["--reference-group-field", "source", "--reference-group-report-only", "a,c"]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("--reference-group-report-only c") && err.contains("source \"c\""), "{err}");
    // 20 human documents cannot show a 1 % FPR with 90 % confidence.
    let (code, err) = run(&[]);
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("too few") && err.contains("--fpr-confidence"), "{err}");
    assert!(!out.exists());
}

/// A model whose every column comes from `--train-column` is not run on the training data, and the fields stand for
/// its columns there; a model with a column no field stands for still runs. `--holdout-column` does the same for
/// the holdout data.
#[test]
fn calibrate_does_not_run_a_model_whose_columns_come_from_fields() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("labeled.jsonl");
    labeled(&data, 200);
    let data_s = data.to_str().unwrap();
    let fit_with = |flag: &'static str, replace: &[&'static str], name: &str| {
        let out = d.path().join(name);
        let mut args = vec!["calibrate", "--train", data_s, "--holdout", data_s, "--target-fpr", "0.05"];
        for r in replace {
            args.extend([flag, r]);
        }
        args.extend(["--out", out.to_str().unwrap()]);
        let o = svalbard(&args);
        let p: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        (String::from_utf8_lossy(&o.stderr).to_string(), p)
    };
    let fit = |replace: &[&'static str], name: &str| fit_with("--train-column", replace, name);
    let (err, _) =
        fit_with("--holdout-column", &["fast_p_machine=fast_oof", "fast_p_machine_short=fast_oof"], "h.json");
    assert!(err.contains("fast does not score the holdout data"), "{err}");
    assert!(!err.contains("does not score the training data"), "{err}");
    let (err, both) = fit(&["fast_p_machine=fast_oof", "fast_p_machine_short=fast_oof"], "both.json");
    assert!(err.contains("fast does not score the training data"), "{err}");
    let (err, one) = fit(&["fast_p_machine=fast_oof"], "one.json");
    assert!(!err.contains("does not score"), "fast writes a column no field stands for: {err}");
    // The field (all 0.5) stood for both columns: each NaN fill, the mean of the transformed values, is that of
    // 0.5 (a logit for p_machine, the value itself for the extra head).
    let fill = |p: &serde_json::Value, column: &str| {
        let k = p["cheap"]["features"].as_array().unwrap().iter().position(|f| f == column).unwrap();
        p["cheap"]["fill"][k].as_f64().unwrap()
    };
    assert_eq!(fill(&both, "fast_p_machine"), 0.0);
    assert_eq!(fill(&both, "fast_p_machine_short"), 0.5);
    assert_ne!(fill(&one, "fast_p_machine_short"), 0.5, "fast's own short-head scores, not the field's");
    assert_eq!(both["cheap"]["features"], one["cheap"]["features"], "the same columns either way");
}

fn svalbard(args: &[&str]) -> std::process::Output {
    let out = Command::new(bin()).args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
#[expect(clippy::too_many_lines, reason = "predates the lint; to be split into its steps")]
fn calibrate_then_cascade_then_bench() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("labeled.jsonl");
    labeled(&data, 200);
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/tiny_hashed");
    let signals = format!(
        "[[signals.classifiers]]\nmodel = \"builtin:fast\"\n[[signals.classifiers]]\nmodel = \"{}\"\n",
        tiny.display()
    );
    let fit_cfg = d.path().join("fit.toml");
    std::fs::write(&fit_cfg, &signals).unwrap();
    let policy = d.path().join("policy.json");
    let (data_s, policy_s) = (data.to_str().unwrap(), policy.to_str().unwrap());
    svalbard(&[
        "calibrate",
        "--train",
        data_s,
        "--holdout",
        data_s,
        "-c",
        fit_cfg.to_str().unwrap(),
        "--expensive",
        "tiny_hashed",
        "--loso-field",
        "source",
        "--balance-field",
        "source",
        "--target-fpr",
        "0.05",
        "--train-column",
        "fast_p_machine=fast_oof",
        "--full-fit-field",
        "unseen",
        "--out",
        policy_s,
    ]);
    let p: serde_json::Value = serde_json::from_slice(&std::fs::read(&policy).unwrap()).unwrap();
    // The training set's fast column came from the field (all 0.5): its NaN fill, the mean of its logits, is 0.
    let fast = p["cheap"]["features"].as_array().unwrap().iter().position(|f| f == "fast_p_machine").unwrap();
    assert_eq!(p["cheap"]["fill"][fast].as_f64(), Some(0.0));
    assert!(p["cheap"]["model"]["logistic"].is_object(), "a logistic regression is the default combiner");
    assert!(p["full"]["features"].as_array().unwrap().iter().any(|f| f == "tiny_hashed_p_machine"));
    assert!(!p["cheap"]["features"].as_array().unwrap().iter().any(|f| f == "tiny_hashed_p_machine"));
    // The excess-vocabulary texts are easy: the cheap stage separates them.
    assert!(p["metrics"]["cheap_holdout"]["auroc"].as_f64().unwrap() > 0.95, "{}", p["metrics"]);
    assert!(p["metrics"]["leave_one_group_out"]["groups"]["a"]["auroc"].is_number());
    // The full stage was fitted on the 133 rows marked unseen (a JSON boolean), every class and source having some.
    let rows = &p["fitted_on"]["full_stage_train"];
    assert_eq!(rows["field"], "unseen");
    assert_eq!(rows["n_human"].as_u64().unwrap() + rows["n_machine"].as_u64().unwrap(), 133, "{rows}");
    assert_eq!(rows["in_sample_groups"].as_array().map(Vec::len), Some(0));

    // Filter with a band override: [0, 0] sends nothing to the expensive signal, [0, m) the documents whose cheap
    // probability is below m. The expensive column is scored exactly where the full stage decides.
    let filter = |band: &str, out: &Path| -> HashMap<String, (f32, f32, f32)> {
        let cfg = d.path().join("run.toml");
        // score_all: the cascade is checked on every document, those a quality rule rejects included.
        let run = format!("[signals]\nscore_all = true\n{signals}[ensemble]\npolicy = \"{policy_s}\"\nband = {band}\n");
        std::fs::write(&cfg, run).unwrap();
        svalbard(&["filter", data_s, "-o", out.to_str().unwrap(), "-c", cfg.to_str().unwrap(), "-q"]);
        let mut rows = HashMap::new();
        for cat in ["clean", "rejected"] {
            let b = read_category(out, cat);
            if b.is_empty() {
                continue;
            }
            let ids = strings(&b, "id");
            let (p, s, t) =
                (floats(&b, "p_machine"), floats(&b, "ensemble_stage"), floats(&b, "tiny_hashed_p_machine"));
            for (k, id) in ids.into_iter().enumerate() {
                rows.insert(id, (p[k], s[k], t[k]));
            }
        }
        rows
    };
    let cheap = filter("[0.0, 0.0]", &d.path().join("o1"));
    assert_eq!(cheap.len(), 200);
    assert!(cheap.values().all(|(_, s, t)| *s == 1.0 && t.is_nan()));
    let mut ps: Vec<f32> = cheap.values().map(|r| r.0).collect();
    ps.sort_by(f32::total_cmp);
    // The band's edge halfway between two documents' scores, so that no document sits on it (where a decimal
    // edge compared with an f32 score could fall either way).
    let k = (100..199).find(|&k| ps[k - 1] < ps[k]).expect("distinct scores");
    let m = (f64::from(ps[k - 1]) + f64::from(ps[k])) / 2.0;
    let mixed = filter(&format!("[0.0, {m}]"), &d.path().join("o2"));
    let mut sent = 0;
    for (id, (_, stage, tiny_p)) in &mixed {
        let in_band = f64::from(cheap[id].0) < m;
        assert_eq!(*stage == 2.0, in_band, "{id}");
        assert_eq!(tiny_p.is_finite(), in_band, "{id}");
        sent += in_band as usize;
    }
    assert!(sent > 0 && sent < 200, "{sent}");

    // bench: report.json, report.md and plots, per group, with throughput per stage.
    let cfg = d.path().join("run.toml");
    let out = d.path().join("bench");
    svalbard(&[
        "bench",
        "--data",
        data_s,
        "-c",
        cfg.to_str().unwrap(),
        "--group-by",
        "source",
        "--out",
        out.to_str().unwrap(),
    ]);
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["documents"], 200);
    let rows = r["reports"]["overall"]["rows"].as_array().unwrap();
    let pm = rows.iter().find(|x| x["signal"] == "p_machine").unwrap();
    assert!(pm["auroc"].as_f64().unwrap() > 0.9, "{pm}");
    // 95% bootstrap intervals (1000 resamples by default) around the point estimates.
    let ci = &pm["ci"];
    assert_eq!(ci["resamples"], 1000);
    let (lo, hi) = (ci["auroc"][0].as_f64().unwrap(), ci["auroc"][1].as_f64().unwrap());
    assert!(lo <= pm["auroc"].as_f64().unwrap() && pm["auroc"].as_f64().unwrap() <= hi, "{pm}"); // [1, 1] here: separable data
    assert_eq!(ci["tpr_at_fpr"].as_array().unwrap().len(), 2);
    assert_eq!(r["reports"]["source"]["group_by"], "source");
    assert!(r["throughput"]["per_stage"]["tiny_hashed"]["docs_per_s"].as_f64().unwrap() > 0.0);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| p_machine |") && md.contains("roc.png") && md.contains("AUROC 95% CI"));
    let png: PathBuf = out.join("roc.png");
    assert_eq!(&std::fs::read(png).unwrap()[..4], b"\x89PNG");
}
