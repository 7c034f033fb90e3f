//! The classifier signal through ONNX Runtime, on tiny models whose outputs can be computed by hand
//! (tests/fixtures/models, built by svalbard_train.fixtures.test_models), and its error paths.

mod common;

use std::path::{Path, PathBuf};

use svalbard::onnx::encode::{hash_v1, HashScratch};
use svalbard::onnx::Device;
use svalbard::signal::classifier::{Classifier, ClassifierConfig};
use svalbard::signal::BatchSignal;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models").join(name).display().to_string()
}

fn edited_fixture(name: &str, edit: impl Fn(&str) -> String) -> tempfile::TempDir {
    common::edited_model(Path::new(&fixture(name)), edit)
}

/// A classifier run by ONNX Runtime (`native = false`: these tests are about the ONNX path).
fn classifier(model: &str, device: Device) -> svalbard::Result<Classifier> {
    let config = ClassifierConfig { model: model.into(), device, batch_size: 3, native: false, ..Default::default() };
    Classifier::new(&config, None, 2)
}

fn score(c: &Classifier, texts: &[&str]) -> (Vec<f32>, Vec<u64>) {
    let mut cols = vec![vec![f32::NAN; texts.len()]];
    let mut fired = vec![0u64; texts.len()];
    c.score_batch(texts, &mut cols, &mut fired).unwrap();
    (cols.remove(0), fired)
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

#[test]
fn hashed_model_scores_match_hand_computation() {
    let c = classifier(&fixture("tiny_hashed"), Device::Cpu).unwrap();
    assert_eq!(c.provider(), svalbard::onnx::Provider::Cpu);
    // Different lengths, so the length-sorted batches of 3 reorder them; results must come back in place.
    let texts = [
        "The cat sat on the mat.",
        "",
        "a",
        "Quite a bit longer text, with punctuation; and more words to hash!",
        "xyz xyz xyz",
    ];
    let (p, fired) = score(&c, &texts);
    let mut s = HashScratch::default();
    for (i, t) in texts.iter().enumerate() {
        let (mut ids, mut vals) = (Vec::new(), Vec::new());
        hash_v1(t, 3000, 16, &mut s, &mut ids, &mut vals);
        let z: f64 = ids.iter().zip(&vals).map(|(&id, &v)| ((id % 7 - 3) as f64 / 4.0) * v as f64).sum::<f64>() - 0.5;
        assert!((p[i] as f64 - sigmoid(z)).abs() < 1e-5, "{t:?}: {} vs {}", p[i], sigmoid(z));
        assert_eq!(fired[i], (p[i] >= 0.5) as u64);
    }
}

#[test]
fn token_model_with_tokenizer_json_and_truncation() {
    let c = classifier(&fixture("tiny_tokens"), Device::Cpu).unwrap();
    // WordLevel tokenizer, whitespace pre-tokenizer, max_length 8: p = sigmoid(0.1 * tokens).
    let texts = ["the cat", "the cat sat on the mat", "one two three four five six seven eight nine ten", "x"];
    let (p, fired) = score(&c, &texts);
    let expected = [2.0, 6.0, 8.0, 1.0].map(|n: f64| sigmoid(0.1 * n));
    for i in 0..4 {
        assert!((p[i] as f64 - expected[i]).abs() < 1e-6, "{}: {} vs {}", texts[i], p[i], expected[i]);
    }
    // Threshold 0.6: sigmoid(0.6) = 0.646 and sigmoid(0.8) = 0.69 fire, sigmoid(0.2) and sigmoid(0.1) do not.
    assert_eq!(fired, vec![0, 1, 1, 0]);
}

/// `windows = N` in the card: a document past `max_length` tokens is read in up to N windows (the tokenizer's
/// overflow) and scored by the mean of their logits weighted by their tokens; the windows run in the same length-sorted batches as
/// other documents' rows, and each score lands on its own document.
#[test]
fn token_model_scores_the_mean_logit_of_its_windows() {
    let d = edited_fixture("tiny_tokens", |card| card.replace("max_length = 8", "max_length = 8\nwindows = 2"));
    let c = classifier(&d.path().display().to_string(), Device::Cpu).unwrap();
    let words = |n: usize| vec!["the"; n].join(" ");
    let (ten, twenty, eight) = (words(10), words(20), words(8));
    // Batches of 3 rows: the windows of one document fall into different batches.
    let texts = ["the cat", ten.as_str(), twenty.as_str(), eight.as_str(), "x"];
    let (p, fired) = score(&c, &texts);
    // Logit 0.1 * tokens per window. Windows: [2], [8, 2], [8, 8] (the third, 4 tokens, unread), [8], [1].
    let expected = [0.2, (8.0 * 0.8 + 2.0 * 0.2) / 10.0, 0.8, 0.8, 0.1].map(sigmoid);
    for i in 0..texts.len() {
        assert!((p[i] as f64 - expected[i]).abs() < 1e-6, "{}: {} vs {}", texts[i], p[i], expected[i]);
    }
    // Threshold 0.6: the mean fires (sigmoid(0.68) = 0.66); the first window alone would not (sigmoid(0.2)).
    assert_eq!(fired, vec![0, 1, 1, 1, 0]);
    let bad = edited_fixture("tiny_tokens", |card| card.replace("max_length = 8", "max_length = 8\nwindows = 0"));
    let e = classifier(&bad.path().display().to_string(), Device::Cpu).err().unwrap().to_string();
    assert!(e.contains("windows must be at least 1"), "{e}");
}

/// A card with `batch_dependent = true` runs one row at a time: the fixture's graph gives every row the largest
/// token count of its run, so batched rows would score as the longest text among them.
#[test]
fn batch_dependent_model_scores_each_document_alone() {
    let texts = ["the cat", "the cat sat on the mat", "x", "the the the"];
    let own = [2.0, 6.0, 1.0, 3.0].map(|n: f64| sigmoid(0.1 * n));
    let (p, _) = score(&classifier(&fixture("tiny_batch_dependent"), Device::Cpu).unwrap(), &texts);
    for i in 0..texts.len() {
        assert!((p[i] as f64 - own[i]).abs() < 1e-6, "{}: {} vs {}", texts[i], p[i], own[i]);
    }
    // The control: the same graph run in batches of 3 (length-sorted: x, the cat, the the the | the cat sat ...).
    let d = edited_fixture("tiny_batch_dependent", |card| card.replace("batch_dependent = true", ""));
    let (batched, _) = score(&classifier(&d.path().display().to_string(), Device::Cpu).unwrap(), &texts);
    assert!((batched[0] as f64 - sigmoid(0.3)).abs() < 1e-6, "{}", batched[0]);
}

#[test]
fn builtin_fast_model_separates_obvious_cases() {
    let c = classifier("builtin:fast", Device::Auto).unwrap();
    assert_eq!(c.card().name, "fast");
    let (p, _) = score(&c, &[common::PROSE, ""]);
    assert!(p.iter().all(|x| (0.0..=1.0).contains(x)));
    // An empty text scores sigmoid(bias) (no features): fast v3's bias.
    assert!((p[1] - 0.6066).abs() < 1e-3, "{}", p[1]);
}

#[test]
fn extra_outputs_become_columns_from_one_run() {
    let c = classifier(&fixture("tiny_two_heads"), Device::Cpu).unwrap();
    assert_eq!(c.spec().columns, ["tiny_two_heads_p_machine", "tiny_two_heads_p_flip"]);
    let texts = ["The cat sat on the mat.", "", "xyz xyz xyz", "Quite a bit longer text, with punctuation!"];
    let mut cols = vec![vec![f32::NAN; texts.len()]; 2];
    let mut fired = vec![0u64; texts.len()];
    c.score_batch(&texts, &mut cols, &mut fired).unwrap();
    // The first head is the tiny_hashed model; the second is 1 - p, row for row after the length sort.
    let (single, single_fired) = score(&classifier(&fixture("tiny_hashed"), Device::Cpu).unwrap(), &texts);
    for i in 0..texts.len() {
        assert_eq!(cols[0][i], single[i], "{:?}", texts[i]);
        assert!((cols[1][i] - (1.0 - single[i])).abs() < 1e-6, "{:?}: {} vs {}", texts[i], cols[1][i], single[i]);
        assert_eq!(fired[i], single_fired[i], "only p_machine drives the rule");
    }
    let e = classifier(&fixture("missing_head"), Device::Cpu).err().unwrap().to_string();
    assert!(e.contains("output \"p_short\"") && e.contains("p_flip"), "{e}");
}

#[test]
fn wrong_tensor_names_and_bad_paths_are_clear_errors() {
    let e = classifier(&fixture("wrong_names"), Device::Cpu).err().unwrap().to_string();
    assert!(e.contains("input \"input_ids\"") && e.contains("[\"ids\", \"weights\"]"), "{e}");
    let e = classifier("/nonexistent/model", Device::Cpu).err().unwrap().to_string();
    assert!(e.contains("/nonexistent/model does not exist"), "{e}");
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(PathBuf::from(fixture("tiny_hashed")).join("model.toml"), d.path().join("model.toml")).unwrap();
    let e = classifier(&d.path().display().to_string(), Device::Cpu).err().unwrap().to_string();
    assert!(e.contains("cannot read") && e.contains("model.onnx"), "{e}");
}

#[test]
fn explicit_gpu_device_is_not_silently_cpu() {
    let cuda = classifier(&fixture("tiny_hashed"), Device::Cuda);
    match cuda {
        // A machine with a CUDA build of ONNX Runtime and a GPU really gets CUDA.
        Ok(c) => assert_eq!(c.provider(), svalbard::onnx::Provider::Cuda),
        Err(e) => assert!(e.to_string().contains("Cuda requested"), "{e}"),
    }
    // auto falls back to CPU here and says so through the provider it reports.
    let auto = classifier(&fixture("tiny_hashed"), Device::Auto).unwrap();
    let _ = auto.provider();
}

#[test]
fn cli_missing_library_and_classifier_column() {
    let bin = env!("CARGO_BIN_EXE_svalbard");
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    common::write_jsonl(&input, &common::good_docs(3));
    let cfg = d.path().join("c.toml");
    let filter = |config: &str, out: &str| {
        std::fs::write(&cfg, config).unwrap();
        let o = d.path().join(out);
        std::process::Command::new(bin)
            .args(["filter", input.to_str().unwrap(), "-o", o.to_str().unwrap(), "-c", cfg.to_str().unwrap(), "-q"])
            .output()
            .unwrap()
    };
    // A model run by ONNX Runtime needs the library, and its absence is exit 6 with a way to install it.
    let library = "[onnx]\nlibrary = \"/nonexistent/libonnxruntime.so\"\n";
    let out = filter(&format!("{library}[[signals.classifiers]]\nmodel = \"builtin:fast\"\nnative = false\n"), "o");
    assert_eq!(out.status.code(), Some(6));
    // Evaluated in Rust (native, the default), the built-in fast model does not load ONNX Runtime at all.
    let native = filter(library, "o0");
    assert_eq!(native.status.code(), Some(0), "{}", String::from_utf8_lossy(&native.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/libonnxruntime.so") && err.contains("setup_ort.sh"), "{err}");

    // With a threshold of 0 the classifier rejects everything it scores, with its own reason (the ensemble off:
    // while it is on, detectors only flag and its calibrated threshold decides).
    std::fs::write(&cfg, "[ensemble]\nenabled = false\n[signals.gopher_quality]\naction = \"flag\"\n[signals.gopher_repetition]\naction = \"flag\"\n[signals.c4]\naction = \"flag\"\n[signals.fineweb]\naction = \"flag\"\n[[signals.classifiers]]\nmodel = \"builtin:fast\"\nthreshold = 0.0\n").unwrap();
    let o = d.path().join("o2");
    let run = std::process::Command::new(bin)
        .args(["filter", input.to_str().unwrap(), "-o", o.to_str().unwrap(), "-c", cfg.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let rejected = common::read_category(&o, "rejected");
    assert_eq!(common::strings(&rejected, "reasons"), vec!["fast.machine"; 3]);
    assert!(rejected[0].schema().index_of("fast_p_machine").is_ok());
}

/// Both columns of a two-output classifier over `texts`.
fn score_two(c: &Classifier, texts: &[&str]) -> [Vec<f32>; 2] {
    let mut cols = vec![vec![f32::NAN; texts.len()]; 2];
    let mut fired = vec![0u64; texts.len()];
    c.score_batch(texts, &mut cols, &mut fired).unwrap();
    [cols.remove(0), cols.remove(0)]
}

/// The built-in `fast` model evaluated in Rust (its graph is a sparse linear model) gives ONNX Runtime's
/// scores within 1e-6, on the shipped sample, edge cases and, where ../shared is present, detect/dev.jsonl.
#[test]
fn native_fast_matches_onnx_runtime() {
    let native = Classifier::new(&ClassifierConfig::default(), None, 2).unwrap();
    assert!(native.is_native(), "the built-in fast graph is recognised as a sparse linear model, by default");
    let ort = Classifier::new(&ClassifierConfig { native: false, ..Default::default() }, None, 2).unwrap();
    assert!(!ort.is_native());
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sample/web_sample.jsonl");
    // Read lossily: the sample holds a line of invalid UTF-8 on purpose (a quarantine row in the demo).
    let mut texts: Vec<String> = String::from_utf8_lossy(&std::fs::read(sample).unwrap())
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()?["text"].as_str().map(str::to_string))
        .collect();
    texts.extend(["", "a", "Ünïcödé — “quotes” … and 日本語", &"word ".repeat(5000)].map(str::to_string));
    match common::shared_data() {
        Some(data) => {
            let dev = String::from_utf8_lossy(&std::fs::read(data.join("detect/dev.jsonl")).unwrap()).into_owned();
            texts.extend(dev.lines().filter_map(|l| {
                serde_json::from_str::<serde_json::Value>(l).ok()?["text"].as_str().map(str::to_string)
            }));
        }
        None => eprintln!("skipped the detect/dev.jsonl part: ../shared/data is absent"),
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (a, b) = (score_two(&native, &refs), score_two(&ort, &refs));
    for (column, (x, y)) in ["p_machine", "p_machine_short"].iter().zip(a.iter().zip(&b)) {
        let worst = x.iter().zip(y).map(|(p, q)| (p - q).abs()).fold(0f32, f32::max);
        eprintln!(
            "{column}: largest difference {worst:e}, bit-identical {} of {}",
            x.iter().zip(y).filter(|(p, q)| p.to_bits() == q.to_bits()).count(),
            refs.len()
        );
        assert!(worst <= 1e-6, "{column}: largest difference {worst:e} over {} texts", refs.len());
    }
}
