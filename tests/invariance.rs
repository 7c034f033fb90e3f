//! Metamorphic invariance of the shipped detector: publishing a text differently (quotes, dashes, line breaks,
//! entities, bullets, boilerplate lines, Markdown) must not change its `p_machine` or its verdict. Documents
//! are drawn deterministically from the shared data, human and machine, across genres; the scorer is the
//! default configuration, the one users get.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;

use svalbard::config::Config;
use svalbard::invariance::{self, TRANSFORMATIONS};

/// A published text may shift `p_machine` by this much at most.
const MAX_DELTA: f64 = 0.01;
/// Longer texts are passed over so the test stays quick; they are a small share of every file.
const MAX_BYTES: usize = 20_000;

struct Doc {
    id: String,
    label: String,
    text: String,
}

/// The JSONL records of `path` (plain or gzip) with a text of at most MAX_BYTES, and the group `group` puts
/// each in (None drops it).
fn read(path: &Path, group: impl Fn(&str) -> Option<&'static str>) -> Vec<(&'static str, Doc)> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader: Box<dyn BufRead> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::new(flate2::read::GzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let mut out = Vec::new();
    for line in reader.lines() {
        let line = line.unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        let field = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let text = field("text");
        if text.trim().is_empty() || text.len() > MAX_BYTES {
            continue;
        }
        let id = match v["id"].as_str() {
            Some(id) => id.to_string(),
            None => field("pair_id"),
        };
        if let Some(g) = group(&id) {
            out.push((g, Doc { id, label: field("label"), text }));
        }
    }
    out
}

/// `n` documents of group `g`, evenly spaced over the file's order.
fn every_kth(docs: &mut [(&'static str, Doc)], g: &str, n: usize) -> Vec<Doc> {
    let idx: Vec<usize> = docs.iter().enumerate().filter(|(_, (k, _))| *k == g).map(|(i, _)| i).collect();
    assert!(idx.len() >= n, "group {g}: {} documents, {n} wanted", idx.len());
    (0..n)
        .map(|j| {
            let d = &mut docs[idx[j * idx.len() / n]].1;
            Doc {
                id: std::mem::take(&mut d.id),
                label: std::mem::take(&mut d.label),
                text: std::mem::take(&mut d.text),
            }
        })
        .collect()
}

/// The sample: detect/dev (news, Wikipedia, stories, PubMed; both labels), human web pages as their corpora
/// give them, as extracted main content (`:main:`, blank-line paragraphs and bullets) and as whole-page WET
/// text (`:wet:`), human essays and answers, and modern chat-model output (Markdown-heavy).
fn sample(data: &Path) -> Vec<Doc> {
    let all = |_: &str| Some("all");
    let mut docs = Vec::new();
    let mut dev = read(&data.join("detect/dev.jsonl"), all);
    docs.extend(every_kth(&mut dev, "all", 80));
    let mut web = read(&data.join("web_text2/human_web2.jsonl.gz"), |id| {
        Some(if id.contains(":main:") {
            "main"
        } else if id.contains(":wet:") {
            "wet"
        } else {
            "plain"
        })
    });
    docs.extend(every_kth(&mut web, "plain", 40));
    docs.extend(every_kth(&mut web, "main", 40));
    docs.extend(every_kth(&mut web, "wet", 30));
    for (file, n) in [("human_essays", 50), ("human_answers", 40), ("machine_modern", 100)] {
        let mut d = read(&data.join(format!("web_text2/{file}.jsonl.gz")), all);
        docs.extend(every_kth(&mut d, "all", n));
    }
    docs
}

#[test]
fn p_machine_ignores_publishing() {
    let Some(data) = common::shared_data() else {
        eprintln!("skipped: ../shared/data not found (set SVALBARD_SHARED_DATA)");
        return;
    };
    let docs = sample(&data);
    let machine = docs.iter().filter(|d| d.label == "machine").count();
    assert!(
        docs.len() >= 300 && machine >= 100 && docs.len() - machine >= 150,
        "{} docs, {machine} machine",
        docs.len()
    );

    let config = Config::default();
    // As `bench --invariance` does: every detector on every document, a page the quality rules reject included.
    let scorer = config.scorer().unwrap().scoring_all();
    let watched = invariance::watched_columns(&scorer, &config);
    assert!(watched.iter().any(|w| w.column == "p_machine"), "the default configuration decides by p_machine");
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    let report = invariance::run(&scorer, &texts, TRANSFORMATIONS, &watched).unwrap();
    eprintln!("{}", report.to_markdown());

    let mut failures = Vec::new();
    for t in &report.transformations {
        // A transformation that changes nothing in the sample would pass without testing anything.
        if t.changed == 0 {
            failures.push(format!("{}: changed none of the {} documents", t.name, t.documents));
            continue;
        }
        let s = t.shift("p_machine").expect("p_machine is watched");
        if s.max_abs_delta > MAX_DELTA || s.flips > 0 || s.unscored > 0 {
            let worst = s
                .worst
                .as_ref()
                .map(|w| {
                    let d = &docs[w.index];
                    format!(
                        "worst {} ({}): {:.4} -> {:.4}: {:?}",
                        d.id,
                        d.label,
                        w.before,
                        w.after,
                        d.text.chars().take(200).collect::<String>()
                    )
                })
                .unwrap_or_default();
            failures.push(format!(
                "{}: {} changed, max |Δ| {:.4}, p99 |Δ| {:.4}, flips {} (→machine {}, →human {}), unscored {}; {worst}",
                t.name,
                t.changed,
                s.max_abs_delta,
                s.p99_abs_delta,
                s.flips,
                s.flips_to_machine,
                s.flips_to_human,
                s.unscored
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "p_machine moves under {} of {} publishing transformations (allowed: max |Δ| ≤ {MAX_DELTA}, no flips) \
         over {} documents:\n{}",
        failures.len(),
        report.transformations.len(),
        docs.len(),
        failures.join("\n")
    );
}
