//! Model cards: what the engine needs to know to run a model (`models/NAME/model.toml`).
//!
//! A user's own classifier runs by writing a card for it; see `models/README.md`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::check;
use crate::error::{Error, Result};

/// The message of a range check, without its "invalid configuration" prefix: in a card it is a model error.
pub fn config_message(e: Error) -> String {
    match e {
        Error::Config(m) => m,
        e => e.to_string(),
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelCard {
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub license: String,
    pub input: InputSpec,
    pub onnx: OnnxSpec,
    pub decision: DecisionSpec,
    /// Free-form provenance and measured metrics.
    #[serde(default)]
    pub training: toml::Table,
    #[serde(default)]
    pub metrics: toml::Table,
    /// The folder the card was read from (not part of the file).
    #[serde(skip)]
    pub dir: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// Hashed word and byte n-grams computed by svalbard (`features` names the scheme).
    HashedNgrams,
    /// Token ids from a HF `tokenizer.json`.
    Tokens,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub kind: InputKind,
    /// hashed_ngrams: the feature scheme, e.g. "svalbard-hash-v1".
    pub features: Option<String>,
    pub buckets: Option<u32>,
    /// Bytes of the document the model reads (a prefix, cut at a char boundary); for tokens models, per
    /// window (the tokenizer is handed `windows` x `max_bytes`; default 8 bytes per token).
    pub max_bytes: Option<usize>,
    /// tokens: the tokenizer file, relative to the card.
    pub tokenizer: Option<String>,
    /// tokens: maximum sequence length.
    pub max_length: Option<usize>,
    /// tokens: how many consecutive windows of `max_length` tokens to score (the tokenizer's overflowing
    /// encodings, each with the special tokens); a document's p_machine is the sigmoid of its windows' mean
    /// logit, weighted by their tokens. 1 (the default) reads the first window only.
    pub windows: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputKind {
    /// [batch] (or [batch, 1]) probabilities of "machine".
    Probability,
    /// [batch] (or [batch, 1]) logits of "machine": sigmoid applies.
    Logit,
    /// [batch, classes] logits: softmax applies, `machine_index` picks the class.
    Logits,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnnxSpec {
    pub file: String,
    /// hashed_ngrams: [ids, weights]; tokens: [input_ids, attention_mask(, token_type_ids)].
    pub inputs: Vec<String>,
    pub output: String,
    pub output_kind: OutputKind,
    #[serde(default)]
    pub machine_index: usize,
    /// Further outputs of the same graph, read like `output` (same `output_kind`), each written as a score
    /// column `<model>_<name>` beside `<model>_p_machine`. One encoding and one ONNX run serve them all: the
    /// built-in `fast` model carries a short-text head this way for the ensemble. No rule reads them.
    #[serde(default)]
    pub extra_outputs: Vec<String>,
    /// The graph's output for a row depends on the other rows of its run, as with the int8 graphs of ONNX
    /// Runtime's `quantize_dynamic`, which scale activations over the whole input tensor (padding rows
    /// included). The engine then runs one row per run, so that a document's score does not depend on which
    /// documents share its batch (or its shard, or the cascade's band).
    #[serde(default)]
    pub batch_dependent: bool,
}

/// Read and parse a card: `path` is a folder holding `model.toml`, or the card file itself. Errors start with
/// `what` and end with `hint` (how to get the model). Returns the card and the folder its files are relative to.
pub fn read_card<T: serde::de::DeserializeOwned>(path: &Path, what: &str, hint: &str) -> Result<(T, PathBuf)> {
    if !path.exists() {
        return Err(Error::Model(format!("{what} {} does not exist; {hint}", path.display())));
    }
    let file = card_file(path);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Error::Model(format!("{what}: cannot read the model card {}: {e}; {hint}", file.display())))?;
    let card = toml::from_str(&text)
        .map_err(|e| Error::Model(format!("{what}: model card {}: {}", file.display(), e.message())))?;
    Ok((card, file.parent().unwrap_or(Path::new(".")).to_path_buf()))
}

/// The card file of `path`: `path/model.toml` for a folder, else `path` itself.
pub fn card_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("model.toml")
    } else {
        path.to_path_buf()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionSpec {
    /// Machine-generated when p_machine >= threshold.
    pub threshold: f32,
}

impl ModelCard {
    /// Read `dir/model.toml` (or a card file given directly).
    pub fn load(path: &Path) -> Result<Self> {
        let (mut card, dir): (ModelCard, PathBuf) =
            read_card(path, "model", "expected a folder with model.toml, a card file, or builtin:fast")?;
        card.dir = dir;
        card.check(&card_file(path).display().to_string())?;
        Ok(card)
    }

    /// Check what the engine relies on; `origin` names the card in errors (its file).
    pub fn check(&self, origin: &str) -> Result<()> {
        let bad = |m: String| Err(Error::Model(format!("model card {origin} ({}): {m}", self.name)));
        let numbers = || -> Result<()> {
            check::unit("decision.threshold", self.decision.threshold)?;
            check::optional("input.max_bytes", self.input.max_bytes, |k, v| check::at_least(k, v, 1))?;
            check::optional("input.max_length", self.input.max_length, |k, v| check::at_least(k, v, 1))?;
            check::optional("input.windows", self.input.windows, |k, v| check::at_least(k, v, 1))
        };
        if let Err(e) = numbers() {
            return bad(config_message(e));
        }
        match self.input.kind {
            InputKind::HashedNgrams => {
                if self.input.features.as_deref() != Some(crate::encode::HASH_V1) {
                    return bad(format!(
                        "unknown features {:?} (supported: {})",
                        self.input.features,
                        crate::encode::HASH_V1
                    ));
                }
                if !self.input.buckets.is_some_and(|b| b.is_power_of_two()) {
                    return bad("input.buckets must be a power of two".into());
                }
                if self.onnx.inputs.len() != 2 {
                    return bad("hashed_ngrams models take two inputs: [ids, weights]".into());
                }
            }
            InputKind::Tokens => {
                if self.input.tokenizer.is_none() || self.input.max_length.is_none() {
                    return bad("tokens models need input.tokenizer and input.max_length".into());
                }
                if !(2..=3).contains(&self.onnx.inputs.len()) {
                    return bad("tokens models take [input_ids, attention_mask] and optionally token_type_ids".into());
                }
            }
        }
        if self.input.kind != InputKind::Tokens && self.input.windows.is_some() {
            return bad("input.windows applies to tokens models only".into());
        }
        for (k, name) in self.onnx.extra_outputs.iter().enumerate() {
            if name == "p_machine" || *name == self.onnx.output || self.onnx.extra_outputs[..k].contains(name) {
                return bad(format!("onnx.extra_outputs: {name:?} is named twice (it would write one column twice)"));
            }
        }
        Ok(())
    }

    pub fn onnx_path(&self) -> PathBuf {
        self.dir.join(&self.onnx.file)
    }

    pub fn max_bytes(&self) -> usize {
        self.input.max_bytes.unwrap_or(usize::MAX)
    }

    /// tokens: the windows of `max_length` tokens scored per document.
    pub fn windows(&self) -> usize {
        self.input.windows.unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(extra: &str) -> ModelCard {
        toml::from_str(&format!(
            r#"name = "m"
[input]
kind = "hashed_ngrams"
features = "{}"
buckets = 16
[onnx]
file = "model.onnx"
inputs = ["ids", "weights"]
output = "p_machine"
output_kind = "probability"
{extra}
[decision]
threshold = 0.5
"#,
            crate::encode::HASH_V1
        ))
        .unwrap()
    }

    #[test]
    fn extra_outputs_must_name_new_columns() {
        assert!(card("").check("m.toml").is_ok());
        assert!(card(r#"extra_outputs = ["p_short", "p_long"]"#).check("m.toml").is_ok());
        for bad in [r#"["p_machine"]"#, r#"["p_short", "p_short"]"#] {
            let e = card(&format!("extra_outputs = {bad}")).check("m.toml").unwrap_err().to_string();
            assert!(e.contains("named twice"), "{e}");
        }
    }

    #[test]
    fn windows_are_for_token_models() {
        let mut c = card("");
        c.input.windows = Some(2);
        let e = c.check("m.toml").unwrap_err().to_string();
        assert!(e.contains("windows applies to tokens models only"), "{e}");
    }

    /// The classifier cards in the repository (the training scripts write them) load and pass the checks
    /// the engine applies, whether or not their ONNX files have been built.
    #[test]
    fn shipped_cards_load() {
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
        let cards = [
            ("fast/model.toml", "fast"),
            ("minilm/model.toml", "minilm"),
            ("minilm/model.fp32.toml", "minilm"),
            ("minilm_short/model.toml", "minilm_short"),
        ];
        for (file, name) in cards {
            let card = ModelCard::load(&models.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(card.name, name);
            assert_eq!(card.dir, models.join(file).parent().unwrap());
        }
    }
}
