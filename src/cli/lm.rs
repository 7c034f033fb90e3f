//! `svalbard lm train`: build the n-gram language model of human text that the `ngram_lm` signal reads.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::OK;
use crate::error::{Error, Result};
use crate::lm::{NgramModel, TrainOptions};
use crate::source::InputConfig;
use crate::source::{self, plan_inputs};

#[derive(Args, Debug)]
#[command(about = "Language models for the ngram_lm signal")]
pub struct LmArgs {
    #[command(subcommand)]
    pub command: LmCommand,
}

#[derive(Subcommand, Debug)]
pub enum LmCommand {
    Train(TrainArgs),
}

#[derive(Args, Debug)]
#[command(
    about = "Train a Kneser-Ney word n-gram model on human text into a memory-mappable binary",
    after_help = "Example:\n  svalbard lm train ../shared/data/human_gutenberg.jsonl.gz ../shared/data/web_text/human_web.jsonl.gz \\\n      --out .svalbard/models/ngram-human-4.bin\n\nTrain on human text only, and never on the data you evaluate on: a model that saw a document\nscores it as unusually predictable."
)]
pub struct TrainArgs {
    /// JSONL (.gz/.zst) or Parquet files, directories or globs with the training text.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    #[arg(short, long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 4)]
    pub order: usize,
    /// Field holding the text.
    #[arg(long, default_value = "text")]
    pub text_field: String,
    /// Words seen fewer times become <unk>.
    #[arg(long, default_value_t = 2)]
    pub min_count: u32,
}

pub fn run(a: LmArgs) -> Result<i32> {
    match a.command {
        LmCommand::Train(t) => train(t),
    }
}

fn train(a: TrainArgs) -> Result<i32> {
    let config = InputConfig { text_field: a.text_field.clone(), passthrough: Vec::new(), ..Default::default() };
    let inputs = plan_inputs(&a.inputs)?;
    let mut texts: Vec<String> = Vec::new();
    let mut canonicalizer = crate::text::canonical::Canonicalizer::default();
    for (i, input) in inputs.iter().enumerate() {
        for batch in source::open(i, input, &config)? {
            if let Some(d) = &batch.damage {
                return Err(Error::input(&input.path, format!("damaged input: {d}")));
            }
            // The ngram_lm signal reads the canonical view, so the model learns that view's words.
            texts.extend(batch.texts().into_iter().map(|t| {
                let mut view = String::new();
                canonicalizer.run(t, &mut view);
                view
            }));
        }
    }
    if let Some(dir) = a.out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::output(dir, e))?;
    }
    let opts = TrainOptions { order: a.order, min_count: a.min_count, ..Default::default() };
    let summary = NgramModel::train_to_file(texts, &opts, &a.out)?;
    eprintln!(
        "svalbard: {} docs, {} words, vocabulary {}, n-grams kept {:?}, {} bytes in {:.1} s -> {}",
        summary.docs,
        summary.words,
        summary.vocab_size,
        summary.ngrams_kept,
        summary.file_bytes,
        summary.seconds,
        a.out.display()
    );
    Ok(OK)
}
