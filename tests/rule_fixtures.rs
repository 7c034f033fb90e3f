//! A fixture per rule: every rule of the document signals has a text that makes it fire.
//!
//! `tests/fixtures/signals/<signal>/<rule>.json` holds a text that fires rule `<signal>.<rule>`:
//! `{"text": "...", "fires": [every rule code the text fires, exactly], "columns": {"<column>": [min, max]}}`
//! (`columns` is optional: bounds on the score columns that show why the rule fires; `"repeat": n`, also
//! optional, scores the text repeated n times, for the rule that needs 100,000 words). `clean.json` is ordinary
//! prose that fires nothing. The test scores each text with the default document signals (no classifier, no
//! ensemble) and checks the fired set and the bounds; and it checks that every rule of those signals has its
//! fixture, so a rule that stops firing, or a new rule without a fixture, fails here. To add a rule, write its
//! fixture (run this test: a wrong "fires" prints what the text does fire) and list what it fires.
//!
//! Out of scope: the rules of signals that need a model file or are off by default (`fast.machine`,
//! `ensemble.machine`, `ngram_lm.*`, `neural_lm.*`); their own tests cover them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fixture {
    text: String,
    fires: BTreeSet<String>,
    #[serde(default)]
    columns: BTreeMap<String, [f32; 2]>,
    repeat: Option<usize>,
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

#[test]
fn every_rule_fires_on_its_fixture() {
    let mut config = svalbard::config::Config::default();
    config.signals.classifiers.clear();
    config.ensemble.enabled = Some(false);
    // Every rule a text fires, not only those of the first quality signal that rejects it (early exit).
    let scorer = config.scorer().unwrap().scoring_all();
    let codes: Vec<&str> = scorer.rules().iter().map(|r| r.code.as_str()).collect();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/signals");
    let mut files = Vec::new();
    json_files(&root, &mut files);
    files.sort();

    let mut failures = Vec::new();
    let mut named = BTreeSet::new();
    for path in &files {
        let name = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        let fixture: Fixture = serde_json::from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: not a fixture: {e}"));
        // `<signal>/<rule>.json` is the fixture of rule `<signal>.<rule>` and must fire it.
        if let Some(code) = name.strip_suffix(".json").filter(|n| n.contains('/')).map(|n| n.replace('/', ".")) {
            if !fixture.fires.contains(&code) {
                failures.push(format!("{name}: is the fixture of {code} but \"fires\" does not list it"));
            }
            named.insert(code);
        }
        for code in fixture.fires.iter().filter(|c| !codes.contains(&c.as_str())) {
            failures.push(format!("{name}: names {code}, which is not a rule of the default signals"));
        }
        let text = fixture.text.repeat(fixture.repeat.unwrap_or(1));
        let table = scorer.score(&[text.as_str()]).unwrap();
        let fired: BTreeSet<String> =
            (0..codes.len()).filter(|&i| table.fired[0] >> i & 1 == 1).map(|i| codes[i].to_string()).collect();
        if fired != fixture.fires {
            failures.push(format!("{name}: fires {fired:?}, the fixture says {:?}", fixture.fires));
        }
        for (column, [min, max]) in &fixture.columns {
            match scorer.columns().iter().position(|c| c == column) {
                None => failures.push(format!("{name}: no column {column}")),
                Some(c) if !(*min..=*max).contains(&table.columns[c][0]) => {
                    failures.push(format!("{name}: {column} = {}, not in [{min}, {max}]", table.columns[c][0]))
                }
                Some(_) => {}
            }
        }
    }
    for code in codes.iter().filter(|c| !named.contains(**c)) {
        failures
            .push(format!("rule {code} has no fixture: add tests/fixtures/signals/{}.json", code.replace('.', "/")));
    }
    assert!(failures.is_empty(), "{} failures in {} fixtures:\n{}", failures.len(), files.len(), failures.join("\n"));
}
