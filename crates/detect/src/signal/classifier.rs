//! The learned detector: any ONNX text classifier described by a model card, run through ONNX Runtime.
//!
//! Documents are cut to what the model reads (a byte prefix: tokenizing whole documents would cap the
//! pipeline), encoded (svalbard's hashed n-grams, or a HF tokenizer), sorted by length so batches carry
//! little padding, and run in batches of `batch_size` on a pool of sessions, one per worker. The score column
//! is `<model>_p_machine`; the rule `<model>.machine` fires at p_machine >= the threshold.
//!
//! A hashed-n-gram model whose graph is a sparse linear model (the built-in `fast`) is evaluated in Rust
//! instead when the config says `native = true` ([`crate::onnx::sparse_linear`]): the same function, one pass
//! over each document's features, no padded batch, no session call and no ONNX Runtime library.

use std::path::PathBuf;
use std::sync::Arc;

use ort::value::Tensor;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{rule_bits, Action, BatchSignal, SignalSpec};
use crate::check;
use crate::error::{Error, Result};
use crate::onnx::encode::{hash_v1, prefix, HashScratch};
use crate::onnx::model_card::{InputKind, ModelCard, OutputKind};
use crate::onnx::sparse_linear::SparseLinear;
use crate::onnx::{self, batch, Device, SessionPool};

thread_local! {
    /// Each scoring thread's hashing buffers and one document's features, kept from batch to batch: the
    /// buffers include a megabyte of counts by bucket, too much to set up for every slice of a batch.
    static HASHING: std::cell::RefCell<(HashScratch, Vec<i64>, Vec<f32>)> = Default::default();
}

/// The default model, compiled into the binary so that only the ONNX Runtime library is needed beside it.
pub const BUILTIN_FAST: &str = "builtin:fast";
const FAST_CARD: &str = include_str!("../../../../models/fast/model.toml");
pub const FAST_ONNX: &[u8] = include_bytes!("../../../../models/fast/model.onnx");

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassifierConfig {
    /// A model folder (with model.toml), a card file, or "builtin:fast".
    pub model: String,
    pub action: Action,
    /// Overrides the card's default threshold.
    pub threshold: Option<f32>,
    pub device: Device,
    /// Documents per ONNX run.
    pub batch_size: usize,
    /// Evaluate a hashed-n-gram model whose graph is a sparse linear model (the built-in `fast`) in Rust,
    /// without ONNX Runtime, on a CPU device: the same function in one pass over each document's features. Its
    /// scores agree with ONNX Runtime's within 1e-6, not bit for bit (results in docs/models.md); `false` runs
    /// every model on ONNX Runtime.
    pub native: bool,
}

impl Default for ClassifierConfig {
    fn default() -> Self {
        ClassifierConfig {
            model: BUILTIN_FAST.into(),
            action: Action::Reject,
            threshold: None,
            device: Device::Auto,
            batch_size: 64,
            native: true,
        }
    }
}

impl ClassifierConfig {
    /// `key` is the entry's place in the config, e.g. `signals.classifiers[0]`.
    pub fn validate(&self, key: &str) -> Result<()> {
        check::optional(&format!("{key}.threshold"), self.threshold, check::unit)?;
        check::at_least(&format!("{key}.batch_size"), self.batch_size, 1)
    }
}

enum Encoder {
    Hashed { max_bytes: usize, buckets: u32 },
    Tokens { tokenizer: Box<tokenizers::Tokenizer>, max_bytes: usize, windows: usize },
}

/// One row of model input: a document, or one window of a document's tokens.
struct Row {
    doc: usize,
    ids: Vec<i64>,
    /// hashed n-grams: the feature weights; tokens: the attention mask.
    values: Vec<f32>,
}

/// A document's probability from its windows' probabilities: the sigmoid of their mean logit, each window
/// weighted by its tokens, so that a short last window counts for less (a document read in one window keeps
/// its probability as it is). Weighted, the mean lifted the dev AUROC of a one-epoch `minilm` from 0.885
/// (first window) to 0.893 with two windows; unweighted, to 0.888 (short windows are noisy).
fn mean_window_probability(p: &[f32], tokens: impl Iterator<Item = usize>) -> f32 {
    if let [single] = p {
        return *single;
    }
    // Clamped so that a saturated window (p = 1.0 in f32) counts as a large logit, not an infinite one.
    let logit = |p: f32| {
        let p = (p as f64).clamp(1e-12, 1.0 - 1e-12);
        (p / (1.0 - p)).ln()
    };
    let (mut sum, mut weight) = (0.0, 0.0);
    for (&x, n) in p.iter().zip(tokens) {
        sum += n as f64 * logit(x);
        weight += n as f64;
    }
    let mean = if weight > 0.0 { sum / weight } else { 0.0 };
    (1.0 / (1.0 + (-mean).exp())) as f32
}

/// The model as a sparse linear graph evaluated in Rust, when the config allows it (`native`, a CPU device)
/// and the card and graph are one: hashed n-grams in, probabilities out, every output of that shape.
fn native_model(config: &ClassifierConfig, card: &ModelCard, model: &[u8]) -> Option<SparseLinear> {
    if !config.native
        || !matches!(config.device, Device::Auto | Device::Cpu)
        || card.input.kind != InputKind::HashedNgrams
        || card.onnx.output_kind != OutputKind::Probability
    {
        return None;
    }
    let [ids, weights] = card.onnx.inputs.as_slice() else { return None };
    let outputs: Vec<&str> =
        std::iter::once(&card.onnx.output).chain(&card.onnx.extra_outputs).map(String::as_str).collect();
    let model = SparseLinear::from_onnx(model, ids, weights, &outputs, card.input.buckets? as usize)?;
    tracing::debug!(model = %card.name, "evaluated in Rust: a sparse linear graph");
    Some(model)
}

/// Sessions for the model, checked to have the inputs and outputs its card names.
fn checked_pool(
    config: &ClassifierConfig,
    card: &ModelCard,
    model: &[u8],
    library: Option<&std::path::Path>,
    workers: usize,
) -> Result<SessionPool> {
    let rt = onnx::runtime(library)?;
    let pool = onnx::session_pool(rt, model, config.device, workers)?;
    for name in card.onnx.inputs.iter() {
        if !pool.input_names.contains(name) {
            return Err(Error::Model(format!(
                "model {}: the card names input {name:?} but the graph's inputs are {:?}",
                card.name, pool.input_names
            )));
        }
    }
    for name in std::iter::once(&card.onnx.output).chain(&card.onnx.extra_outputs) {
        if !pool.output_names.contains(name) {
            return Err(Error::Model(format!(
                "model {}: the card names output {name:?} but the graph's outputs are {:?}",
                card.name, pool.output_names
            )));
        }
    }
    Ok(pool)
}

pub struct Classifier {
    card: ModelCard,
    threshold: f32,
    batch_size: usize,
    encoder: Encoder,
    /// How the graph runs: in Rust (a sparse linear model) or on ONNX Runtime's sessions.
    runner: Runner,
    spec: SignalSpec,
}

enum Runner {
    Native(SparseLinear),
    OnnxRuntime(Arc<SessionPool>),
}

impl Classifier {
    pub fn new(config: &ClassifierConfig, library: Option<&std::path::Path>, workers: usize) -> Result<Self> {
        let (card, model_bytes) = if config.model == BUILTIN_FAST {
            let mut card: ModelCard =
                toml::from_str(FAST_CARD).map_err(|e| Error::Model(format!("built-in card: {e}")))?;
            card.dir = PathBuf::from("<builtin>");
            card.check(BUILTIN_FAST)?;
            (card, FAST_ONNX.to_vec())
        } else {
            let card = ModelCard::load(std::path::Path::new(&config.model))?;
            let path = card.onnx_path();
            let bytes = std::fs::read(&path)
                .map_err(|e| Error::Model(format!("model {}: cannot read {}: {e}", card.name, path.display())))?;
            (card, bytes)
        };
        let encoder = match card.input.kind {
            InputKind::HashedNgrams => Encoder::Hashed {
                max_bytes: card.max_bytes(),
                buckets: card.input.buckets.expect("checked by the card"),
            },
            InputKind::Tokens => {
                let path = card.dir.join(card.input.tokenizer.as_deref().expect("checked by the card"));
                let mut tokenizer = tokenizers::Tokenizer::from_file(&path)
                    .map_err(|e| Error::Model(format!("model {}: tokenizer {}: {e}", card.name, path.display())))?;
                let max_length = card.input.max_length.expect("checked by the card");
                let windows = card.windows();
                // Padding is done per batch here; truncation to what the model reads, the rest of the prefix
                // going to the overflowing encodings (the further windows).
                tokenizer.with_padding(None);
                tokenizer
                    .with_truncation(Some(tokenizers::TruncationParams { max_length, ..Default::default() }))
                    .map_err(|e| Error::Model(format!("model {}: tokenizer: {e}", card.name)))?;
                // About 8 bytes per token is generous for English sub-words; the tokenizer sees no more.
                let max_bytes = card.input.max_bytes.unwrap_or(max_length * 8) * windows;
                Encoder::Tokens { tokenizer: Box::new(tokenizer), max_bytes, windows }
            }
        };
        let runner = match native_model(config, &card, &model_bytes) {
            Some(model) => Runner::Native(model),
            None => Runner::OnnxRuntime(Arc::new(checked_pool(config, &card, &model_bytes, library, workers)?)),
        };
        let id: &'static str = Box::leak(card.name.clone().into_boxed_str());
        let columns: Vec<&str> =
            std::iter::once("p_machine").chain(card.onnx.extra_outputs.iter().map(String::as_str)).collect();
        let spec =
            SignalSpec::new(id, config.action, &columns, &[("machine", "p_machine at or above the model's threshold")])
                .detector();
        Ok(Classifier {
            threshold: config.threshold.unwrap_or(card.decision.threshold),
            batch_size: config.batch_size,
            card,
            encoder,
            runner,
            spec,
        })
    }

    pub fn card(&self) -> &ModelCard {
        &self.card
    }

    /// Where the model runs; a natively evaluated model runs on the CPU.
    pub fn provider(&self) -> onnx::Provider {
        match &self.runner {
            Runner::Native(_) => onnx::Provider::Cpu,
            Runner::OnnxRuntime(pool) => pool.provider,
        }
    }

    /// Whether the graph is evaluated in Rust rather than by ONNX Runtime.
    pub fn is_native(&self) -> bool {
        matches!(self.runner, Runner::Native(_))
    }

    /// Encode documents into model input rows, in document order (a document's windows are adjacent).
    fn encode(&self, texts: &[&str]) -> Result<Vec<Row>> {
        match &self.encoder {
            Encoder::Hashed { max_bytes, buckets } => Ok(texts
                .par_iter()
                .enumerate()
                .map(|(doc, t)| {
                    let (mut ids, mut values) = (Vec::new(), Vec::new());
                    HASHING.with_borrow_mut(|(s, _, _)| hash_v1(t, *max_bytes, *buckets, s, &mut ids, &mut values));
                    Row { doc, ids, values }
                })
                .collect()),
            Encoder::Tokens { tokenizer, max_bytes, windows } => {
                let per_doc: Vec<Vec<Row>> = texts
                    .par_iter()
                    .enumerate()
                    .map(|(doc, t)| {
                        let enc = tokenizer
                            .encode(prefix(t, *max_bytes), true)
                            .map_err(|e| Error::Model(format!("tokenizer: {e}")))?;
                        Ok(std::iter::once(&enc)
                            .chain(enc.get_overflowing())
                            .take(*windows)
                            .map(|w| {
                                let ids: Vec<i64> = w.get_ids().iter().map(|&i| i as i64).collect();
                                Row { doc, values: vec![1f32; ids.len()], ids }
                            })
                            .collect())
                    })
                    .collect::<Result<_>>()?;
                Ok(per_doc.into_iter().flatten().collect())
            }
        }
    }

    /// Per row, one value per output (`output`, then `extra_outputs`), from ONNX Runtime.
    fn run_rows(&self, pool: &SessionPool, rows: &[Row]) -> Result<Vec<Vec<f32>>> {
        let rows_per_run = batch::rows_per_run(self.card.onnx.batch_dependent, self.batch_size);
        batch::run_by_length(rows, |r| r.ids.len(), rows_per_run, |run| self.run_chunk(pool, run))
    }

    /// The model evaluated in Rust, one value per output per document, laid out document by document. Each
    /// document is hashed and evaluated in one step, into buffers each thread reuses: no feature row is
    /// allocated per document, and the features are read while they are still in cache.
    fn run_native(&self, model: &SparseLinear, texts: &[&str]) -> Result<Vec<f32>> {
        let Encoder::Hashed { max_bytes, buckets } = self.encoder else {
            return Err(Error::Model(format!("{}: a model evaluated in Rust reads hashed n-grams", self.card.name)));
        };
        let mut flat = vec![0f32; texts.len() * model.outputs()];
        flat.par_chunks_mut(model.outputs()).zip(texts).with_min_len(16).for_each(|(out, text)| {
            HASHING.with_borrow_mut(|(scratch, ids, values)| {
                hash_v1(text, max_bytes, buckets, scratch, ids, values);
                model.eval(ids, values, out);
            });
        });
        Ok(flat)
    }

    /// Run one length-sorted chunk; per row, one value per output (`output`, then `extra_outputs`).
    fn run_chunk(&self, pool: &SessionPool, rows: &[&Row]) -> Result<Vec<Vec<f32>>> {
        let b = rows.len();
        let (ids, shape) = batch::padded(&rows.iter().map(|r| r.ids.as_slice()).collect::<Vec<_>>());
        let (second, _) = batch::padded(&rows.iter().map(|r| r.values.as_slice()).collect::<Vec<_>>());
        let names = &self.card.onnx.inputs;
        let err = |e: ort::Error| Error::Model(format!("model {}: {e}", self.card.name));
        let mut inputs: Vec<(std::borrow::Cow<'_, str>, ort::session::SessionInputValue<'_>)> =
            vec![(names[0].as_str().into(), Tensor::from_array((shape, ids)).map_err(err)?.into())];
        match self.encoder {
            Encoder::Hashed { .. } => {
                inputs.push((names[1].as_str().into(), Tensor::from_array((shape, second)).map_err(err)?.into()))
            }
            Encoder::Tokens { .. } => {
                let mask: Vec<i64> = second.iter().map(|&m| m as i64).collect();
                inputs.push((names[1].as_str().into(), Tensor::from_array((shape, mask)).map_err(err)?.into()));
                if let Some(tt) = names.get(2) {
                    inputs.push((
                        tt.as_str().into(),
                        Tensor::from_array((shape, vec![0i64; b * shape[1]])).map_err(err)?.into(),
                    ));
                }
            }
        }
        let kind = self.card.onnx.output_kind;
        let machine = self.card.onnx.machine_index;
        let outputs: Vec<&str> =
            std::iter::once(&self.card.onnx.output).chain(&self.card.onnx.extra_outputs).map(String::as_str).collect();
        pool.with_session(|s| {
            let out = s.run(inputs).map_err(err)?;
            let per_output: Vec<Vec<f32>> = outputs
                .iter()
                .map(|&output| {
                    let (shape, data) = out[output].try_extract_tensor::<f32>().map_err(err)?;
                    let dims: Vec<i64> = shape.iter().copied().collect();
                    let per_row = if dims.len() <= 1 { 1 } else { dims[1..].iter().product::<i64>() as usize };
                    if data.len() != b * per_row {
                        return Err(Error::Model(format!(
                            "model {}: output {output:?} has shape {dims:?} for {b} rows",
                            self.card.name
                        )));
                    }
                    Ok((0..b)
                        .map(|r| {
                            let row = &data[r * per_row..(r + 1) * per_row];
                            match kind {
                                OutputKind::Probability => row[0],
                                OutputKind::Logit => 1.0 / (1.0 + (-row[0]).exp()),
                                OutputKind::Logits => {
                                    let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
                                    let z: f32 = row.iter().map(|x| (x - m).exp()).sum();
                                    (row[machine.min(row.len() - 1)] - m).exp() / z
                                }
                            }
                        })
                        .collect())
                })
                .collect::<Result<_>>()?;
            Ok((0..b).map(|r| per_output.iter().map(|values| values[r]).collect()).collect())
        })
    }
}

impl BatchSignal for Classifier {
    fn spec(&self) -> &SignalSpec {
        &self.spec
    }

    fn score_batch(&self, texts: &[&str], columns: &mut [Vec<f32>], fired: &mut [u64]) -> Result<()> {
        let pool = match &self.runner {
            Runner::OnnxRuntime(pool) => pool,
            Runner::Native(model) => {
                // One window per document: its probabilities are the document's.
                for (doc, out) in self.run_native(model, texts)?.chunks_exact(model.outputs()).enumerate() {
                    for (column, &p) in columns.iter_mut().zip(out) {
                        column[doc] = p;
                    }
                    fired[doc] = rule_bits(&[out[0] >= self.threshold]);
                }
                return Ok(());
            }
        };
        let rows = self.encode(texts)?;
        let per_row = self.run_rows(pool, &rows)?;
        let per_output: Vec<Vec<f32>> =
            (0..columns.len()).map(|o| per_row.iter().map(|outputs| outputs[o]).collect()).collect();
        let mut start = 0;
        for doc_rows in rows.chunk_by(|a, b| a.doc == b.doc) {
            let (doc, end) = (doc_rows[0].doc, start + doc_rows.len());
            for (column, row_values) in columns.iter_mut().zip(&per_output) {
                column[doc] = mean_window_probability(&row_values[start..end], doc_rows.iter().map(|r| r.ids.len()));
            }
            fired[doc] = rule_bits(&[columns[0][doc] >= self.threshold]);
            start = end;
        }
        Ok(())
    }
}
