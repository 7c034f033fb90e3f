//! Issue 28, config hardening: every numeric value is range-checked by `Config::validate` (no NaN, no
//! infinity, probabilities in [0, 1], counts where 0 makes no sense), the thread count and queue depth are
//! bounded, two signals cannot write one column, model cards are checked when loaded, and the example config
//! is the default config.

use std::path::Path;
use std::time::{Duration, Instant};

use svalbard::config::Config;
use svalbard::signal::vocab::{Vocab, VocabConfig};
use svalbard::signal::{DocSignal, Scorer};

/// (TOML snippet, substring the error must contain: the key it names).
const REJECTED: &[(&str, &str)] = &[
    // The ensemble's threshold: NaN never rejects, -1 rejects everything.
    ("[ensemble]\nthreshold = nan", "ensemble.threshold"),
    ("[ensemble]\nthreshold = -1.0", "ensemble.threshold"),
    ("[ensemble]\nthreshold = 1.5", "ensemble.threshold"),
    ("[ensemble]\nthreshold = inf", "ensemble.threshold"),
    ("[ensemble]\nband = [0.2, nan]", "ensemble.band"),
    ("[ensemble]\nband = [0.8, 0.2]", "ensemble.band"),
    ("[ensemble]\nband = [-0.1, 0.5]", "ensemble.band"),
    ("[ensemble]\npolicy = \"\"", "ensemble.policy"),
    // Classifier thresholds and batch sizes.
    ("[[signals.classifiers]]\nthreshold = nan", "signals.classifiers[0].threshold"),
    ("[[signals.classifiers]]\nthreshold = -0.5", "signals.classifiers[0].threshold"),
    ("[[signals.classifiers]]\nthreshold = 1.5", "signals.classifiers[0].threshold"),
    ("[[signals.classifiers]]\nthreshold = inf", "signals.classifiers[0].threshold"),
    (
        "[[signals.classifiers]]\n[[signals.classifiers]]\nmodel = \"m\"\nthreshold = -inf",
        "signals.classifiers[1].threshold",
    ),
    ("[[signals.classifiers]]\nbatch_size = 0", "signals.classifiers[0].batch_size"),
    // Vocabulary.
    ("[signals.vocab]\nmax_rate = nan", "signals.vocab.max_rate"),
    ("[signals.vocab]\nmax_rate = -0.1", "signals.vocab.max_rate"),
    ("[signals.vocab]\nmax_rate = 2.0", "signals.vocab.max_rate"),
    // Gopher quality.
    ("[signals.gopher_quality]\nmin_mean_word_length = nan", "signals.gopher_quality.min_mean_word_length"),
    ("[signals.gopher_quality]\nmax_mean_word_length = inf", "signals.gopher_quality.max_mean_word_length"),
    ("[signals.gopher_quality]\nmin_mean_word_length = -1.0", "signals.gopher_quality.min_mean_word_length"),
    ("[signals.gopher_quality]\nmax_symbol_word_ratio = nan", "signals.gopher_quality.max_symbol_word_ratio"),
    ("[signals.gopher_quality]\nmax_symbol_word_ratio = -0.1", "signals.gopher_quality.max_symbol_word_ratio"),
    ("[signals.gopher_quality]\nmin_alpha_words_ratio = nan", "signals.gopher_quality.min_alpha_words_ratio"),
    ("[signals.gopher_quality]\nmin_words = 10\nmax_words = 5", "signals.gopher_quality.min_words"),
    ("[signals.gopher_quality]\nmax_words = 0", "signals.gopher_quality.max_words"),
    // Gopher repetition: every fraction, the arrays element by element.
    ("[signals.gopher_repetition]\nmax_dup_line_char_frac = 1.5", "signals.gopher_repetition.max_dup_line_char_frac"),
    ("[signals.gopher_repetition]\nmax_dup_para_char_frac = nan", "signals.gopher_repetition.max_dup_para_char_frac"),
    (
        "[signals.gopher_repetition]\nmax_top_ngram_char_frac = [0.2, nan, 0.1]",
        "signals.gopher_repetition.max_top_ngram_char_frac[1]",
    ),
    (
        "[signals.gopher_repetition]\nmax_dup_ngram_char_frac = [0.1, 0.1, 0.1, 0.1, 0.1, -0.1]",
        "signals.gopher_repetition.max_dup_ngram_char_frac[5]",
    ),
    // FineWeb and C4.
    ("[signals.fineweb]\nmax_newline_word_ratio = nan", "signals.fineweb.max_newline_word_ratio"),
    ("[signals.fineweb]\nmax_newline_word_ratio = -1.0", "signals.fineweb.max_newline_word_ratio"),
    ("[signals.fineweb]\nmin_line_punct_frac = inf", "signals.fineweb.min_line_punct_frac"),
    ("[signals.c4]\nmax_word_length = 0", "signals.c4.max_word_length"),
    // Language models.
    ("[signals.ngram_lm]\nhead_max_perplexity = nan", "signals.ngram_lm.head_max_perplexity"),
    ("[signals.ngram_lm]\ntail_min_perplexity = inf", "signals.ngram_lm.tail_min_perplexity"),
    ("[signals.ngram_lm]\nhead_max_perplexity = -5.0", "signals.ngram_lm.head_max_perplexity"),
    (
        "[signals.ngram_lm]\nhead_max_perplexity = 2000.0\ntail_min_perplexity = 1000.0",
        "signals.ngram_lm.head_max_perplexity",
    ),
    ("[signals.ngram_lm]\nlow_perplexity = nan", "signals.ngram_lm.low_perplexity"),
    ("[signals.ngram_lm]\nlow_perplexity = -3.0", "signals.ngram_lm.low_perplexity"),
    ("[signals.neural_lm]\nmax_tokens = 1", "signals.neural_lm.max_tokens"),
    ("[signals.neural_lm]\nbatch_size = 0", "signals.neural_lm.batch_size"),
    ("[signals.neural_lm]\nmin_curvature = nan", "signals.neural_lm.min_curvature"),
    ("[signals.neural_lm]\nmin_curvature = -inf", "signals.neural_lm.min_curvature"),
    ("[signals.stylometry]\nttr_words = 0", "signals.stylometry.ttr_words"),
    // Pipeline bounds: -j 100000 reached 8 GB of RSS in 25 s.
    ("[pipeline]\nthreads = 100000", "pipeline.threads"),
    ("[pipeline]\nqueue_depth = 0", "pipeline.queue_depth"),
    ("[pipeline]\nqueue_depth = 1000", "pipeline.queue_depth"),
    // Sizes.
    ("[input]\nbatch_docs = 0", "input.batch_docs"),
    ("[input]\nbatch_bytes = 10", "input.batch_bytes"),
    ("[input]\nmax_doc_bytes = 0", "input.max_doc_bytes"),
    ("[output]\nmax_file_bytes = 0", "output.max_file_bytes"),
    // Above 2^63 - 1 the config cannot be written back as TOML (`validate` printing it panicked).
    ("[output]\nmax_file_bytes = 9223372036854775808", "output.max_file_bytes"),
    // A value of the wrong type names the key too (the error quotes the line).
    ("[signals.vocab]\nmin_count = -1", "min_count"),
];

/// Values at the edges of their ranges, which must stay valid.
const ACCEPTED: &[&str] = &[
    "[ensemble]\nthreshold = 0.0",
    "[ensemble]\nthreshold = 1.0",
    "[ensemble]\nband = [0.0, 1.0]",
    "[ensemble]\nband = [0.5, 0.5]",
    "[[signals.classifiers]]\nthreshold = 0.0",
    "[[signals.classifiers]]\nthreshold = 1.0",
    "[signals.vocab]\nmax_rate = 0.0",
    "[signals.vocab]\nmax_rate = 1.0",
    "[signals.gopher_quality]\nmax_symbol_word_ratio = 3.0",
    "[signals.fineweb]\nmax_newline_word_ratio = 2.0",
    "[signals.ngram_lm]\nlow_perplexity = 50.0",
    "[signals.neural_lm]\nmin_curvature = -2.5",
    "[pipeline]\nthreads = 0",
    "[pipeline]\nthreads = 1024",
    "[pipeline]\nqueue_depth = 64",
];

#[test]
fn every_numeric_key_is_range_checked() {
    let mut failures = Vec::new();
    for (toml, key) in REJECTED {
        match Config::from_toml_str(toml) {
            Ok(_) => failures.push(format!("accepted: {toml:?} (expected an error naming {key})")),
            Err(e) if !e.to_string().contains(key) => {
                failures.push(format!("{toml:?}: error does not name {key}: {e}"))
            }
            Err(_) => {}
        }
    }
    for toml in ACCEPTED {
        if let Err(e) = Config::from_toml_str(toml) {
            failures.push(format!("rejected a valid value: {toml:?}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases wrong:\n{}",
        failures.len(),
        REJECTED.len() + ACCEPTED.len(),
        failures.join("\n")
    );
}

/// `validate` is the one gate: a config built in code (as the CLI does with its flags) is checked as well as
/// one read from TOML.
#[test]
fn validate_checks_configs_built_in_code() {
    let mut c = Config::default();
    c.signals.vocab.max_rate = f32::NAN;
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("signals.vocab.max_rate"), "{e}");
    let mut c = Config::default();
    c.ensemble.threshold = Some(f64::NAN);
    assert!(c.validate().unwrap_err().to_string().contains("ensemble.threshold"));
    let mut c = Config::default();
    c.pipeline.threads = 100_000;
    assert!(c.validate().unwrap_err().to_string().contains("pipeline.threads"));
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_svalbard")
}

#[test]
fn validate_command_reports_bad_numbers_with_exit_3() {
    let d = tempfile::tempdir().unwrap();
    for (toml, key) in [
        ("[signals.vocab]\nmax_rate = nan\n", "signals.vocab.max_rate"),
        ("[ensemble]\nthreshold = -1.0\n", "ensemble.threshold"),
        ("[[signals.classifiers]]\nthreshold = 1.5\n", "signals.classifiers[0].threshold"),
    ] {
        let cfg = d.path().join("bad.toml");
        std::fs::write(&cfg, toml).unwrap();
        let o = std::process::Command::new(bin()).args(["validate", cfg.to_str().unwrap()]).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{toml:?}: {stderr}");
        assert!(stderr.contains(key), "{toml:?}: stderr does not name {key}: {stderr}");
    }
}

/// `svalbard rules` lists the rules the config applies, each with its action after `[rules]` overrides.
#[test]
fn rules_command_lists_every_rule_with_its_overridden_action() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[signals]\nclassifiers = []\n[ensemble]\nenabled = false\n[rules]\n\"c4.curly_bracket\" = \"off\"\n",
    )
    .unwrap();
    let o = std::process::Command::new(bin())
        .args(["rules", "--json", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let rows: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let config = Config::load(&cfg).unwrap();
    let scorer = config.scorer().unwrap();
    let codes: Vec<&str> = rows.iter().map(|r| r["code"].as_str().unwrap()).collect();
    let want: Vec<&str> = scorer.rules().iter().map(|r| r.code.as_str()).collect();
    assert_eq!(codes, want);
    let action = |code: &str| rows.iter().find(|r| r["code"] == code).unwrap()["action"].as_str().unwrap().to_string();
    assert_eq!(action("c4.curly_bracket"), "off");
    assert_eq!(action("c4.lorem_ipsum"), "reject");
    assert_eq!(action("vocab.excess_rate"), "flag");
    assert!(rows.iter().all(|r| !r["description"].as_str().unwrap().is_empty()));
    // A misspelt override is the config error it is in `filter`.
    std::fs::write(&cfg, "[signals]\nclassifiers = []\n[rules]\n\"c4.curly_brackets\" = \"off\"\n").unwrap();
    let o = std::process::Command::new(bin()).args(["rules", "--config", cfg.to_str().unwrap()]).output().unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `svalbard --help` and README.md list the same exit codes: both come from, or are checked against,
/// `exit_code::TABLE`.
#[test]
fn help_and_readme_list_the_same_exit_codes() {
    let table: Vec<&str> = svalbard::error::exit_code::TABLE.iter().map(|(code, _)| *code).collect();
    let o = std::process::Command::new(bin()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    let listed: Vec<&str> = help
        .split("Exit codes:")
        .nth(1)
        .expect("--help lists the exit codes")
        .lines()
        .filter_map(|l| table.iter().find(|c| l.trim_start().starts_with(&format!("{c} "))).copied())
        .collect();
    assert_eq!(listed, table, "--help:\n{help}");
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("### Exit codes").nth(1).expect("README has an exit codes section");
    let rows: Vec<String> = section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .map(|l| l.split('|').nth(1).unwrap().trim().to_string())
        .collect();
    assert_eq!(rows, table, "README.md's exit code table differs from exit_code::TABLE");
}

/// `filter` rejects the bad value before it reads anything: no output directory is made, and it is quick.
#[test]
fn filter_rejects_bad_numbers_before_reading() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    std::fs::write(&input, "{\"id\":\"a\",\"text\":\"hello\"}\n").unwrap();
    let cfg = d.path().join("bad.toml");
    std::fs::write(&cfg, "[signals.vocab]\nmax_rate = nan\n").unwrap();
    let out = d.path().join("out");
    let o = std::process::Command::new(bin())
        .args(["filter", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q", "-c", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("signals.vocab.max_rate"), "{stderr}");
    assert!(!out.exists(), "filter wrote output before rejecting the config");
}

#[test]
fn filter_thread_flag_is_bounded() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    std::fs::write(&input, "{\"id\":\"a\",\"text\":\"hello\"}\n").unwrap();
    let out = d.path().join("out");
    let started = Instant::now();
    let mut child = std::process::Command::new(bin())
        .args(["filter", input.to_str().unwrap(), "-o", out.to_str().unwrap(), "-q", "-j", "100000"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Guard: the unbounded version spawns 100000 threads; never let it run away with the machine.
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("filter -j 100000 still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("pipeline.threads"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}

/// Two signals writing one column make an ambiguous schema: the Scorer refuses to be built.
#[test]
fn two_signals_cannot_write_one_column() {
    let vocab =
        || -> std::sync::Arc<dyn DocSignal> { std::sync::Arc::new(Vocab::new(VocabConfig::default()).unwrap()) };
    let e = match Scorer::new(vec![vocab(), vocab()], Vec::new(), &Default::default()) {
        Ok(_) => panic!("a scorer with the same signal twice was built"),
        Err(e) => e.to_string(),
    };
    assert!(e.contains("vocab_excess_count") || e.contains("signal vocab"), "{e}");
    assert!(e.contains("twice"), "{e}");
    assert!(Scorer::new(vec![vocab()], Vec::new(), &Default::default()).is_ok());
}

/// The same classifier listed twice: `svalbard validate` names it (needs ONNX Runtime to build the scorer; the
/// error comes before any model runs).
#[test]
fn the_same_classifier_listed_twice_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("twice.toml");
    std::fs::write(
        &cfg,
        "[[signals.classifiers]]\nmodel = \"builtin:fast\"\n[[signals.classifiers]]\nmodel = \"builtin:fast\"\n",
    )
    .unwrap();
    let o = std::process::Command::new(bin()).args(["validate", cfg.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    if o.status.code() == Some(6) {
        eprintln!("skipped: ONNX Runtime unavailable: {stderr}");
        return;
    }
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("fast") && stderr.contains("twice"), "{stderr}");
}

/// A model card's threshold is checked when the card is loaded, and the error names the file and the key.
#[test]
fn model_card_thresholds_are_checked_with_file_and_key() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/fast/model.toml");
    let card = std::fs::read_to_string(&src).unwrap();
    let d = tempfile::tempdir().unwrap();
    for bad in ["nan", "-0.5", "1.5", "inf"] {
        let edited = replace_threshold(&card, bad);
        let path = d.path().join("model.toml");
        std::fs::write(&path, &edited).unwrap();
        let e = svalbard::onnx::model_card::ModelCard::load(&path).unwrap_err().to_string();
        assert!(e.contains("decision.threshold"), "{bad}: {e}");
        assert!(e.contains(&path.display().to_string()), "{bad}: error does not name the file: {e}");
    }
}

fn replace_threshold(card: &str, value: &str) -> String {
    let mut in_decision = false;
    let mut replaced = false;
    let lines: Vec<String> = card
        .lines()
        .map(|l| {
            if l.trim_start().starts_with('[') {
                in_decision = l.trim() == "[decision]";
            }
            if in_decision && l.trim_start().starts_with("threshold") {
                replaced = true;
                format!("threshold = {value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(replaced, "the card has no [decision] threshold");
    lines.join("\n")
}

/// `filter --help` points at svalbard.example.toml: it must exist, load, validate, and be the default config,
/// so that it cannot drift from the code.
#[test]
fn example_config_is_the_default_config() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("svalbard.example.toml");
    let c = Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    c.validate().unwrap();
    assert_eq!(c.to_toml(), Config::default().to_toml(), "svalbard.example.toml differs from Config::default()");
    // Every key is written out, so that the example documents the whole config: a key left out would still
    // load (defaults fill it in), which the comparison above cannot see.
    let example: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let default: toml::Table = toml::from_str(&Config::default().to_toml()).unwrap();
    assert_eq!(example, default, "svalbard.example.toml leaves out or adds keys");
}

mod properties {
    //! Arbitrary numbers (NaN, ±infinity, negatives, > 1, huge) in every numeric key of a valid config:
    //! `Config::from_toml_str` (parse, then validate) never panics, and either accepts a value inside the key's
    //! documented range or rejects it with an error that names the key.

    use proptest::prelude::*;
    use svalbard::config::Config;

    #[derive(Clone, Copy, Debug)]
    enum Range {
        /// [0, 1]
        Unit,
        /// finite, >= 0
        NonNegative,
        /// finite, > 0
        Positive,
        /// finite
        Finite,
    }

    impl Range {
        fn contains(self, v: f64) -> bool {
            match self {
                Range::Unit => (0.0..=1.0).contains(&v),
                Range::NonNegative => v.is_finite() && v >= 0.0,
                Range::Positive => v.is_finite() && v > 0.0,
                Range::Finite => v.is_finite(),
            }
        }
    }

    /// (TOML with `{}` where the value goes, the key the value lands in, its documented range).
    const FLOAT_KEYS: &[(&str, &str, Range)] = &[
        ("[ensemble]\nthreshold = {}", "ensemble.threshold", Range::Unit),
        ("[ensemble]\nband = [{}, 0.9]", "ensemble.band[0]", Range::Unit),
        ("[ensemble]\nband = [0.1, {}]", "ensemble.band[1]", Range::Unit),
        ("[[signals.classifiers]]\nthreshold = {}", "signals.classifiers[0].threshold", Range::Unit),
        ("[signals.vocab]\nmax_rate = {}", "signals.vocab.max_rate", Range::Unit),
        (
            "[signals.gopher_quality]\nmin_mean_word_length = {}",
            "signals.gopher_quality.min_mean_word_length",
            Range::NonNegative,
        ),
        (
            "[signals.gopher_quality]\nmax_mean_word_length = {}",
            "signals.gopher_quality.max_mean_word_length",
            Range::NonNegative,
        ),
        (
            "[signals.gopher_quality]\nmax_symbol_word_ratio = {}",
            "signals.gopher_quality.max_symbol_word_ratio",
            Range::NonNegative,
        ),
        (
            "[signals.gopher_quality]\nmax_bullet_lines_ratio = {}",
            "signals.gopher_quality.max_bullet_lines_ratio",
            Range::Unit,
        ),
        (
            "[signals.gopher_quality]\nmax_ellipsis_lines_ratio = {}",
            "signals.gopher_quality.max_ellipsis_lines_ratio",
            Range::Unit,
        ),
        (
            "[signals.gopher_quality]\nmin_alpha_words_ratio = {}",
            "signals.gopher_quality.min_alpha_words_ratio",
            Range::Unit,
        ),
        (
            "[signals.gopher_repetition]\nmax_dup_line_frac = {}",
            "signals.gopher_repetition.max_dup_line_frac",
            Range::Unit,
        ),
        (
            "[signals.gopher_repetition]\nmax_dup_para_frac = {}",
            "signals.gopher_repetition.max_dup_para_frac",
            Range::Unit,
        ),
        (
            "[signals.gopher_repetition]\nmax_dup_line_char_frac = {}",
            "signals.gopher_repetition.max_dup_line_char_frac",
            Range::Unit,
        ),
        (
            "[signals.gopher_repetition]\nmax_dup_para_char_frac = {}",
            "signals.gopher_repetition.max_dup_para_char_frac",
            Range::Unit,
        ),
        (
            "[signals.gopher_repetition]\nmax_top_ngram_char_frac = [0.2, {}, 0.16]",
            "signals.gopher_repetition.max_top_ngram_char_frac[1]",
            Range::Unit,
        ),
        (
            "[signals.gopher_repetition]\nmax_dup_ngram_char_frac = [0.15, 0.14, 0.13, 0.12, 0.11, {}]",
            "signals.gopher_repetition.max_dup_ngram_char_frac[5]",
            Range::Unit,
        ),
        ("[signals.fineweb]\nmin_line_punct_frac = {}", "signals.fineweb.min_line_punct_frac", Range::Unit),
        ("[signals.fineweb]\nmax_short_line_frac = {}", "signals.fineweb.max_short_line_frac", Range::Unit),
        ("[signals.fineweb]\nmax_dup_line_char_frac = {}", "signals.fineweb.max_dup_line_char_frac", Range::Unit),
        (
            "[signals.fineweb]\nmax_newline_word_ratio = {}",
            "signals.fineweb.max_newline_word_ratio",
            Range::NonNegative,
        ),
        ("[signals.ngram_lm]\nhead_max_perplexity = {}", "signals.ngram_lm.head_max_perplexity", Range::Positive),
        ("[signals.ngram_lm]\ntail_min_perplexity = {}", "signals.ngram_lm.tail_min_perplexity", Range::Positive),
        ("[signals.ngram_lm]\nlow_perplexity = {}", "signals.ngram_lm.low_perplexity", Range::Positive),
        ("[signals.neural_lm]\nmin_curvature = {}", "signals.neural_lm.min_curvature", Range::Finite),
    ];

    /// (TOML with `{}` for the value, its key, the documented range: lowest and highest accepted).
    /// The largest integer TOML holds: a larger one cannot be written back.
    const I64_MAX: i128 = i64::MAX as i128;

    const INT_KEYS: &[(&str, &str, i128, i128)] = &[
        ("[pipeline]\nthreads = {}", "pipeline.threads", 0, 1024),
        ("[pipeline]\nqueue_depth = {}", "pipeline.queue_depth", 1, 64),
        ("[input]\nbatch_bytes = {}", "input.batch_bytes", 1024, (1 << 31) - 1),
        ("[input]\nbatch_docs = {}", "input.batch_docs", 1, I64_MAX),
        ("[input]\nmax_doc_bytes = {}", "input.max_doc_bytes", 1, (1 << 31) - 1),
        ("[output]\nmax_file_bytes = {}", "output.max_file_bytes", 1024, I64_MAX),
        // At least min_words (50 by default).
        ("[signals.gopher_quality]\nmax_words = {}", "signals.gopher_quality.max_words", 50, I64_MAX),
        ("[signals.c4]\nmax_word_length = {}", "signals.c4.max_word_length", 1, I64_MAX),
        ("[signals.stylometry]\nttr_words = {}", "signals.stylometry.ttr_words", 1, I64_MAX),
        ("[signals.neural_lm]\nmax_tokens = {}", "signals.neural_lm.max_tokens", 2, I64_MAX),
        ("[signals.neural_lm]\nbatch_size = {}", "signals.neural_lm.batch_size", 1, I64_MAX),
        ("[[signals.classifiers]]\nbatch_size = {}", "signals.classifiers[0].batch_size", 1, I64_MAX),
        ("[signals.gopher_quality]\nmin_words = {}", "signals.gopher_quality.min_words", 0, 100_000),
        ("[signals.gopher_quality]\nmin_stop_words = {}", "signals.gopher_quality.min_stop_words", 0, I64_MAX),
        ("[signals.c4]\nmin_sentences = {}", "signals.c4.min_sentences", 0, I64_MAX),
        ("[signals.c4]\nmin_words_per_line = {}", "signals.c4.min_words_per_line", 0, I64_MAX),
        ("[signals.fineweb]\nshort_line_chars = {}", "signals.fineweb.short_line_chars", 0, I64_MAX),
        ("[signals.vocab]\nmin_count = {}", "signals.vocab.min_count", 0, I64_MAX),
    ];

    fn toml_float(v: f64) -> String {
        if v.is_nan() {
            "nan".into()
        } else if v.is_infinite() {
            if v > 0.0 { "inf" } else { "-inf" }.into()
        } else {
            format!("{v:?}")
        }
    }

    /// The value at `key` ("a.b[1].c") of a config, read back from its TOML.
    fn lookup(config: &Config, key: &str) -> toml::Value {
        let mut v = toml::Value::Table(toml::from_str(&config.to_toml()).unwrap());
        for part in key.split('.') {
            let (name, index) = match part.split_once('[') {
                Some((n, i)) => (n, Some(i.trim_end_matches(']').parse::<usize>().unwrap())),
                None => (part, None),
            };
            v = v.get(name).unwrap_or_else(|| panic!("{key}: no {name}")).clone();
            if let Some(i) = index {
                v = v.get(i).unwrap().clone();
            }
        }
        v
    }

    /// The last segment of a key, which a parse error names through the quoted line.
    fn leaf(key: &str) -> &str {
        let last = key.rsplit('.').next().unwrap();
        last.split('[').next().unwrap()
    }

    fn float() -> impl Strategy<Value = f64> {
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(0.0),
            Just(-0.0),
            Just(1.0),
            -2.0..2.0f64,
            -1e6..1e6f64,
        ]
    }

    fn int() -> impl Strategy<Value = i128> {
        prop_oneof![
            Just(0i128),
            Just(1),
            Just(-1),
            -10..100i128,
            0..100_000i128,
            any::<i64>().prop_map(i128::from),
            any::<u64>().prop_map(i128::from),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_float_is_accepted_in_range_or_rejected_by_name(k in 0..FLOAT_KEYS.len(), v in float()) {
            let (template, key, range) = FLOAT_KEYS[k];
            let toml = template.replace("{}", &toml_float(v));
            match Config::from_toml_str(&toml) {
                Ok(config) => {
                    let stored = lookup(&config, key).as_float().unwrap();
                    prop_assert!(range.contains(stored), "{toml:?}: accepted {stored}, outside {range:?}");
                }
                Err(e) => {
                    let e = e.to_string();
                    prop_assert!(e.contains(key) || e.contains(leaf(key)), "{toml:?}: error does not name {key}: {e}");
                }
            }
        }

        #[test]
        fn any_integer_is_accepted_in_range_or_rejected_by_name(k in 0..INT_KEYS.len(), v in int()) {
            let (template, key, lo, hi) = INT_KEYS[k];
            let toml = template.replace("{}", &v.to_string());
            match Config::from_toml_str(&toml) {
                Ok(config) => {
                    let stored = lookup(&config, key).as_integer().unwrap() as i128;
                    prop_assert!((lo..=hi).contains(&stored), "{toml:?}: accepted {stored}, outside {lo}..={hi}");
                }
                Err(e) => {
                    let e = e.to_string();
                    prop_assert!(e.contains(key) || e.contains(leaf(key)), "{toml:?}: error does not name {key}: {e}");
                }
            }
        }
    }
}
