//! The neural_lm signal through ONNX Runtime on tests/fixtures/models/tiny_lm (svalbard_train.fixtures.test_models),
//! whose per-token outputs are functions of the ids: token_logprob = −(next id % 4) / 2, expected = −1,
//! variance = 0.25; its WordLevel tokenizer maps the 1, cat 2, sat 3, on 4, mat 5, dog 6, . 7, ! 8, ? 9.

mod common;

use std::path::{Path, PathBuf};

use svalbard::onnx::Device;
use svalbard::signal::neural_lm::{NeuralLm, NeuralLmConfig};
use svalbard::signal::BatchSignal;

fn fixture() -> PathBuf {
    fixture_named("tiny_lm")
}

fn fixture_named(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models").join(name)
}

fn lm(max_tokens: usize, batch_size: usize) -> svalbard::Result<NeuralLm> {
    lm_at(fixture(), max_tokens, batch_size)
}

fn lm_at(model: PathBuf, max_tokens: usize, batch_size: usize) -> svalbard::Result<NeuralLm> {
    let config = NeuralLmConfig {
        enabled: true,
        model,
        max_tokens,
        batch_size,
        device: Device::Cpu,
        min_curvature: Some(0.5),
        ..Default::default()
    };
    NeuralLm::new(&config, None, 2)
}

/// (perplexity, burstiness, curvature) per text, and the fired bits.
fn score(m: &NeuralLm, texts: &[&str]) -> (Vec<[f32; 3]>, Vec<u64>) {
    let mut cols = vec![vec![f32::NAN; texts.len()]; 3];
    let mut fired = vec![0u64; texts.len()];
    m.score_batch(texts, &mut cols, &mut fired).unwrap();
    ((0..texts.len()).map(|i| [cols[0][i], cols[1][i], cols[2][i]]).collect(), fired)
}

fn close(a: f32, b: f64) -> bool {
    (a as f64 - b).abs() < 1e-5
}

fn std_pop(v: &[f64]) -> f64 {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
}

#[test]
fn scores_match_hand_computation() {
    let m = lm(256, 4).unwrap();
    assert_eq!(m.provider(), svalbard::onnx::Provider::Cpu);
    let texts = ["The cat sat. The dog sat!", "the cat sat on the mat.", "the", ""];
    let (s, fired) = score(&m, &texts);

    // Text 0: ids 1 2 3 7 | 1 6 3 8; predicted cat sat . the dog sat ! -> −1 −1.5 −1.5 −0.5 −1 −1.5 −0 (sum −7).
    assert!(close(s[0][0], 1f64.exp()), "{:?}", s[0]);
    // Sentence means: (−1 −1.5 −1.5) / 3 and (−0.5 −1 −1.5 −0) / 4: population std = half their distance.
    assert!(close(s[0][1], (4.0 / 3.0 - 0.75) / 2.0), "{:?}", s[0]);
    // (Σ lp − Σ μ) / sqrt(Σ σ²) = (−7 + 7) / sqrt(7 · 0.25) = 0.
    assert!(close(s[0][2], 0.0), "{:?}", s[0]);

    // Text 1: ids 1 2 3 4 1 5 7; predicted 2 3 4 1 5 7 -> −1 −1.5 −0 −0.5 −0.5 −1.5 (sum −5, 6 tokens).
    assert!(close(s[1][0], (5.0f64 / 6.0).exp()), "{:?}", s[1]);
    // One sentence: the token-level std of the surprisals.
    assert!(close(s[1][1], std_pop(&[1.0, 1.5, 0.0, 0.5, 0.5, 1.5])), "{:?}", s[1]);
    assert!(close(s[1][2], (-5.0 + 6.0) / 1.5f64.sqrt()), "{:?}", s[1]);

    // Nothing to predict: NaN, no rule.
    assert!(s[2].iter().chain(&s[3]).all(|x| x.is_nan()), "{:?}", &s[2..]);
    // min_curvature 0.5: only text 1 (0.816) fires.
    assert_eq!(fired, vec![0, 1, 0, 0]);
}

#[test]
fn padding_and_batching_do_not_change_scores() {
    let docs = [
        "the cat sat on the mat. the dog sat on the cat! the mat?",
        "dog dog cat.",
        "the cat sat on the mat.",
        "on the mat the dog sat.\nthe cat sat.",
        "cat",
    ];
    let m = lm(256, 3).unwrap();
    let (together, _) = score(&m, &docs);
    for (i, d) in docs.iter().enumerate() {
        let (alone, _) = score(&m, &[d]);
        for k in 0..3 {
            let (a, b) = (alone[0][k], together[i][k]);
            assert!((a.is_nan() && b.is_nan()) || a == b, "doc {i} column {k}: alone {a} vs batched {b}");
        }
    }
}

#[test]
fn batch_dependent_model_scores_each_document_alone() {
    // tiny_lm_batch_dependent's expected_logprob is -(rows in the run): its card's `batch_dependent = true` makes
    // every run one row, so it scores as tiny_lm (expected -1) does; without the flag, curvature moves.
    let docs = ["the cat sat on the mat.", "dog dog cat.", "the cat sat. the dog sat!"];
    let (reference, _) = score(&lm(256, 3).unwrap(), &docs);
    let one_row = fixture_named("tiny_lm_batch_dependent");
    let (alone, _) = score(&lm_at(one_row.clone(), 256, 3).unwrap(), &docs);
    assert_eq!(alone, reference);
    let batched = common::edited_model(&one_row, |card| card.replace("batch_dependent = true", ""));
    let (together, _) = score(&lm_at(batched.path().to_path_buf(), 256, 3).unwrap(), &docs);
    for (t, r) in together.iter().zip(&reference) {
        assert_eq!(t[0], r[0], "perplexity does not read expected_logprob");
        assert!(t[2] > r[2] + 1.0, "three rows in one run: expected -3 per token, curvature {} vs {}", t[2], r[2]);
    }
}

#[test]
fn max_tokens_truncates() {
    // max_tokens 3: ids 1 2 3, predicted cat sat -> −1, −1.5: perplexity exp(1.25).
    let m = lm(3, 2).unwrap();
    let (s, _) = score(&m, &["the cat sat on the mat."]);
    assert!(close(s[0][0], 1.25f64.exp()), "{:?}", s[0]);
}

#[test]
fn missing_model_is_a_clear_error() {
    let config = NeuralLmConfig { enabled: true, model: "/nonexistent/smollm2".into(), ..Default::default() };
    let e = NeuralLm::new(&config, None, 1).err().unwrap().to_string();
    assert!(e.contains("/nonexistent/smollm2") && e.contains("scripts/build_smollm.sh"), "{e}");
    // A card without its ONNX file.
    let d = tempfile::tempdir().unwrap();
    std::fs::copy(fixture().join("model.toml"), d.path().join("model.toml")).unwrap();
    let config = NeuralLmConfig { enabled: true, model: d.path().to_path_buf(), ..Default::default() };
    let e = NeuralLm::new(&config, None, 1).err().unwrap().to_string();
    assert!(e.contains("cannot read") && e.contains("model.onnx") && e.contains("scripts/build_smollm.sh"), "{e}");
}

#[test]
fn cli_writes_the_three_columns() {
    let bin = env!("CARGO_BIN_EXE_svalbard");
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.jsonl");
    let docs = vec![
        ("a".to_string(), "The cat sat. The dog sat!".to_string()),
        ("b".to_string(), "the cat sat on the mat.".to_string()),
    ];
    common::write_jsonl(&input, &docs);
    let cfg = d.path().join("c.toml");
    // Only neural_lm: the heuristics, the classifiers and the ensemble (which combines their columns) are off.
    let toml = format!(
        "[signals.gopher_quality]\nenabled = false\n[signals.gopher_repetition]\nenabled = false\n\
         [signals.c4]\nenabled = false\n[signals.fineweb]\nenabled = false\n[signals]\nclassifiers = []\n\
         [signals.neural_lm]\nenabled = true\nmodel = {:?}\nmin_curvature = 0.5\n\
         [ensemble]\nenabled = false\n",
        fixture().display().to_string()
    );
    std::fs::write(&cfg, toml).unwrap();
    let o = d.path().join("o");
    let run = std::process::Command::new(bin)
        .args(["filter", input.to_str().unwrap(), "-o", o.to_str().unwrap(), "-c", cfg.to_str().unwrap(), "-q"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    let batches = common::read_category(&o, "clean");
    let ids = common::strings(&batches, "id");
    assert_eq!(ids.len(), 2);
    let col = |name: &str| common::floats(&batches, name);
    let (ppl, burst, curv) = (col("neural_lm_perplexity"), col("neural_lm_burstiness"), col("neural_lm_curvature"));
    let a = ids.iter().position(|i| i == "a").unwrap();
    let b = ids.iter().position(|i| i == "b").unwrap();
    assert!(close(ppl[a], 1f64.exp()) && close(burst[a], (4.0 / 3.0 - 0.75) / 2.0) && close(curv[a], 0.0));
    assert!(close(ppl[b], (5.0f64 / 6.0).exp()) && close(curv[b], 1.0 / 1.5f64.sqrt()));
    // The rule is a flag by default: the document stays clean, flagged.
    assert_eq!(common::strings(&batches, "flags")[b], "neural_lm.machine_like");
}
