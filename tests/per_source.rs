//! Thresholds that hold per source: `calibrate --reference-group-field source` chooses the lowest threshold at
//! which every human source of the reference stays within the target FPR (with leave-one-source-out checks),
//! and `bench --group-by source` reports each source's FPR with its Clopper-Pearson bound, sources with one
//! class included.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use serde_json::Value;
use svalbard::eval::clopper_pearson_upper;

const HUMAN: [&str; 5] = [
    "We walked down to the harbour after lunch and watched the boats come in.",
    "The council has not yet said when the road will reopen, and shopkeepers are worried.",
    "My grandmother kept bees for forty years and never once wore gloves.",
    "The train was late again, so I read the paper twice and ate both sandwiches.",
    "Rain fell all night; by morning the creek had burst its banks near the old mill.",
];
const MACHINE: [&str; 5] = [
    "Let us delve into the intricate tapestry of innovation, showcasing pivotal insights.",
    "This underscores the multifaceted landscape, fostering a nuanced and comprehensive understanding.",
    "In the realm of technology, it is crucial to navigate the evolving landscape with meticulous care.",
    "Furthermore, the findings highlight a pivotal shift, underscoring the seamless integration of ideas.",
    "Embark on a journey to unlock the transformative potential that lies within this vibrant tapestry.",
];

/// A document of 4-8 sentences, `machine_share` of them (rounded) from the machine pool.
fn text(i: usize, machine_share: f64) -> String {
    let len = 4 + i % 5;
    let from_machine = (machine_share * len as f64).round() as usize;
    (0..len)
        .map(|k| if k < from_machine { MACHINE[(i * 7 + k * 3) % 5] } else { HUMAN[(i * 7 + k * 3) % 5] })
        .collect::<Vec<_>>()
        .join(" ")
}

fn write(path: &Path, docs: &[(String, &str, &str)]) {
    let mut f = std::fs::File::create(path).unwrap();
    for (i, (text, label, source)) in docs.iter().enumerate() {
        let doc = serde_json::json!({"id": format!("{source}-{i}"), "text": text, "label": label, "source": source});
        writeln!(f, "{doc}").unwrap();
    }
}

/// The fitting data: news (both classes, which overlap: some human news quotes machine text, some machine news
/// mixes in human sentences, so that the probabilities are graded), books (human only), gen (machine only).
/// The reference: human news, books, and forum posts, which quote machine text heavily and so read
/// machine-like; the fitting data has none.
fn data(dir: &Path) -> (String, String) {
    let fit: Vec<(String, &str, &str)> = (0..240)
        .map(|i| match i % 4 {
            0 => (text(i, [0.0, 0.0, 0.25, 0.5][(i / 4) % 4]), "human", "news"),
            1 => (text(i, [0.5, 0.75, 1.0, 1.0][(i / 4) % 4]), "machine", "news"),
            2 => (text(i, 0.0), "human", "books"),
            _ => (text(i, 1.0), "machine", "gen"),
        })
        .collect();
    let mut reference: Vec<(String, &str, &str)> = Vec::new();
    reference.extend((0..100).map(|i| (text(i, 0.0), "human", "news")));
    reference.extend((0..60).map(|i| (text(i + 1, 0.0), "human", "books")));
    reference.extend((0..40).map(|i| (text(i, 0.25 + 0.75 * (i % 4) as f64 / 3.0), "human", "forum")));
    let (f, r) = (dir.join("fit.jsonl"), dir.join("reference.jsonl"));
    write(&f, &fit);
    write(&r, &reference);
    (f.display().to_string(), r.display().to_string())
}

fn svalbard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_svalbard")).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> std::process::Output {
    let o = svalbard(args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    o
}

/// The scores the fixture was built on: `fast` run by ONNX Runtime. In Rust (the default) its scores differ by
/// less than 1e-6, enough here for the most machine-like forum posts, saturated at the top of the in-sample
/// Platt map, to tie, and with ties the pooled and per-source thresholds coincide. The test is about the
/// threshold rule, so it keeps the scores it was written for.
const SIGNALS: &str = "[[signals.classifiers]]\nmodel = \"builtin:fast\"\nnative = false\n";

/// Fit on `fit`, threshold on `reference`; returns the policy file.
fn calibrate(fit: &str, reference: &str, out: &Path, extra: &[&str]) -> Value {
    let cfg = out.with_extension("toml");
    std::fs::write(&cfg, SIGNALS).unwrap();
    let mut args = vec!["calibrate", "-c", cfg.to_str().unwrap(), "--train", fit, "--holdout", fit, "--reference"];
    args.extend([reference, "--target-fpr", "0.05"]);
    args.extend(extra);
    args.extend(["--out", out.to_str().unwrap()]);
    let o = ok(&args);
    let policy: Value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    // calibrate prints the policy's metrics.
    let printed: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(printed, policy["metrics"]);
    policy
}

/// bench's p_machine rows per source (and overall) with `policy`.
fn bench(dir: &Path, data: &[&str], policy: &Path, name: &str) -> (Vec<Value>, String) {
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(&cfg, format!("{SIGNALS}[ensemble]\npolicy = \"{}\"\n", policy.display())).unwrap();
    let out = dir.join(name);
    let mut args = vec!["bench", "-c", cfg.to_str().unwrap(), "--group-by", "source", "--bootstrap", "0"];
    args.push("--data");
    args.extend(data);
    args.extend(["--out", out.to_str().unwrap()]);
    ok(&args);
    let r: Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let mut rows: Vec<Value> = Vec::new();
    for report in ["overall", "source"] {
        rows.extend(
            r["reports"][report]["rows"].as_array().unwrap().iter().filter(|x| x["signal"] == "p_machine").cloned(),
        );
    }
    (rows, std::fs::read_to_string(out.join("report.md")).unwrap())
}

fn row<'a>(rows: &'a [Value], group: &str) -> &'a Value {
    rows.iter().find(|r| r["group"] == group).unwrap_or_else(|| panic!("no row for {group}: {rows:?}"))
}

#[test]
fn thresholds_hold_per_source_and_bench_reports_each_sources_fpr() {
    let d = tempfile::tempdir().unwrap();
    let (fit, reference) = data(d.path());
    let confidence = ["--fpr-confidence", "0"];

    let pooled_path = d.path().join("pooled.json");
    let pooled = calibrate(&fit, &reference, &pooled_path, &confidence);
    assert!(pooled["metrics"].get("reference_groups").is_none(), "no group table without the field");
    let per_path = d.path().join("per_source.json");
    let mut extra = confidence.to_vec();
    extra.extend(["--reference-group-field", "source"]);
    let per = calibrate(&fit, &reference, &per_path, &extra);

    let rg = &per["metrics"]["reference_groups"];
    assert_eq!((rg["field"].as_str(), rg["target_fpr"].as_f64()), (Some("source"), Some(0.05)));
    let cheap = &rg["cheap"];
    let threshold = per["cheap"]["threshold"].as_f64().unwrap();
    assert_eq!(cheap["threshold"].as_f64(), Some(threshold));
    let groups = cheap["groups"].as_object().unwrap();
    assert_eq!(groups.keys().collect::<Vec<_>>(), ["books", "forum", "news"], "the reference's human sources");
    let mut highest_own = f64::NEG_INFINITY;
    for (g, v) in groups {
        let (n, k) = (v["n"].as_u64().unwrap(), v["flagged"].as_u64().unwrap());
        assert_eq!(n, [("books", 60), ("forum", 40), ("news", 100)].iter().find(|x| x.0 == g).unwrap().1);
        // The plain rule per source: floor(0.05 n) may be flagged, and no more are.
        assert_eq!(v["budget"].as_u64().unwrap(), n / 20, "{g}");
        assert!(k <= n / 20 && v["fpr"].as_f64().unwrap() <= 0.05, "{g}: {v}");
        assert_eq!(v["fpr"].as_f64().unwrap(), k as f64 / n as f64);
        assert_eq!(v["upper95"].as_f64().unwrap(), clopper_pearson_upper(k, n, 0.95).unwrap(), "{g}");
        assert!(v["enough_for_confidence"].as_bool().unwrap());
        highest_own = highest_own.max(v["own_threshold"].as_f64().unwrap());
    }
    // The threshold is the highest of the sources' own: the lowest at which every source is within its budget.
    assert_eq!(threshold, highest_own.min(1.0));
    // The forum posts read machine-like: the pooled threshold is lower and lets them run over the target
    // (measured by bench below); the per-source one is held up by them.
    let pooled_threshold = pooled["cheap"]["threshold"].as_f64().unwrap();
    assert!(threshold > pooled_threshold, "{threshold} vs pooled {pooled_threshold}");
    assert_eq!(groups["forum"]["own_threshold"].as_f64().unwrap(), highest_own);

    // Leave one source out: the threshold fitted on the others, measured on it. Without forum, the others'
    // threshold flags too much of the forum; without news or books, forum still holds it up.
    let loso = &cheap["loso_threshold"];
    let forum = &loso["forum"];
    let without_forum = forum["threshold_without"].as_f64().unwrap();
    assert!(without_forum < threshold);
    assert_eq!(
        without_forum,
        groups["news"]["own_threshold"]
            .as_f64()
            .unwrap()
            .max(groups["books"]["own_threshold"].as_f64().unwrap())
            .min(1.0)
    );
    assert!(forum["fpr"].as_f64().unwrap() > 0.05, "{forum}");
    let (k, n) = (forum["flagged"].as_u64().unwrap(), forum["n"].as_u64().unwrap());
    assert_eq!(forum["upper95"].as_f64().unwrap(), clopper_pearson_upper(k, n, 0.95).unwrap());
    for g in ["news", "books"] {
        assert_eq!(loso[g]["threshold_without"].as_f64(), Some(threshold), "{g}");
        assert_eq!(loso[g]["flagged"], groups[g]["flagged"]);
    }

    // bench on the fitting data and the reference: news has both classes, books and forum humans only, gen
    // machine text only. Every one gets its row, with the FPR and its bound where there are humans.
    let (rows, md) = bench(d.path(), &[fit.as_str(), reference.as_str()], &pooled_path, "bench_pooled");
    for g in ["(all)", "news", "books", "forum", "gen"] {
        let r = row(&rows, g);
        // The policy's threshold, as it applies to p_machine stored as f32.
        assert!((r["threshold"].as_f64().unwrap() - pooled_threshold).abs() < 1e-6, "{g}");
        let (n, n_machine) = (r["n_human"].as_u64().unwrap(), r["n_machine"].as_u64().unwrap());
        if n > 0 {
            let k = r["human_flagged"].as_u64().unwrap();
            assert_eq!(r["fpr"].as_f64().unwrap(), k as f64 / n as f64, "{g}");
            assert_eq!(r["fpr_upper95"].as_f64().unwrap(), clopper_pearson_upper(k, n, 0.95).unwrap(), "{g}");
        } else {
            assert!(r["fpr"].is_null() && r["human_flagged"].is_null() && r["fpr_upper95"].is_null(), "{g}: {r}");
        }
        if n_machine > 0 {
            assert_eq!(r["recall"].as_f64().unwrap(), r["machine_flagged"].as_u64().unwrap() as f64 / n_machine as f64);
        } else {
            assert!(r["recall"].is_null() && r["machine_flagged"].is_null(), "{g}: {r}");
        }
    }
    assert_eq!(row(&rows, "forum")["n_human"], 40);
    assert_eq!(row(&rows, "gen")["n_machine"], 60);
    let pooled_forum = row(&rows, "forum")["fpr"].as_f64().unwrap();
    assert!(pooled_forum > 0.05, "the pooled threshold flags {pooled_forum} of the forum posts");
    assert!(md.contains("### False positives per source at the threshold"), "{md}");
    assert!(md.contains(
        "| signal | source | threshold | human n | flagged | FPR | 95% upper | machine n | TPR at threshold |"
    ));
    assert!(
        md.lines().any(|l| l.starts_with("| p_machine | gen |") && l.contains("| 0 | n/a | n/a | n/a | 60 |")),
        "{md}"
    );

    // With the per-source policy bench counts what calibrate counted on the reference's forum posts.
    let (rows, _) = bench(d.path(), &[fit.as_str(), reference.as_str()], &per_path, "bench_per_source");
    assert_eq!(row(&rows, "forum")["human_flagged"], groups["forum"]["flagged"]);
    assert!(row(&rows, "forum")["fpr"].as_f64().unwrap() <= 0.05);
}

#[test]
fn reference_group_field_names_what_is_wrong_and_keeps_small_groups() {
    let d = tempfile::tempdir().unwrap();
    let (fit, reference) = data(d.path());
    let out = d.path().join("p.json");
    let args = |extra: &[&str]| {
        let mut a = vec!["calibrate", "--train", fit.as_str(), "--holdout", fit.as_str(), "--reference"];
        a.extend([reference.as_str(), "--target-fpr"]);
        a.extend(["0.05", "--out", out.to_str().unwrap()]);
        a.extend(extra.iter().copied());
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let o = Command::new(env!("CARGO_BIN_EXE_svalbard"))
        .args(args(&["--reference-group-field", "publisher"]))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("publisher") && err.contains("--reference-group-field"), "{err}");
    assert!(!out.exists());

    // With 90% confidence at 5%, 40 forum posts are too few even to flag none of them (0.95^40 > 0.1): the
    // group is held to flagging none and marked, not dropped; news (100) and books (60) have budgets of their own.
    let o = Command::new(env!("CARGO_BIN_EXE_svalbard"))
        .args(args(&["--reference-group-field", "source", "--fpr-confidence", "0.9"]))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let p: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let groups = &p["metrics"]["reference_groups"]["cheap"]["groups"];
    assert_eq!(groups["forum"]["enough_for_confidence"], false);
    assert_eq!((groups["forum"]["budget"].as_u64(), groups["forum"]["flagged"].as_u64()), (Some(0), Some(0)));
    assert_eq!(groups["news"]["enough_for_confidence"], true);
    assert_eq!(p["metrics"]["reference_groups"]["fpr_confidence"].as_f64(), Some(0.9));
}
