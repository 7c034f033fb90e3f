//! `svalbard filter`: the main job.

use std::path::PathBuf;

use clap::Args;

use super::OK;
use crate::config::{Config, OutputFormat};
use crate::error::{exit_code, Error, Result};
use crate::pipeline::{self, Job};
use crate::source::plan_inputs;

const EXAMPLES: &str = "\
Examples:
  svalbard filter dump/*.jsonl.gz --output out/
  svalbard filter crawl.parquet --output out/ --config svalbard.toml --format parquet
  svalbard filter shards/ --output out/ --shard 3/16        # one task of a 16-way array job

Outputs: out/clean/, out/rejected/, out/quarantine/ (part-<input>-<seq>.arrow), out/stats.json.
Re-running with the same --output resumes: finished inputs are skipped, unfinished ones redone.";

#[derive(Args, Debug)]
#[command(about = "Score documents and split them into clean, rejected and quarantine partitions", after_help = EXAMPLES)]
pub struct FilterArgs {
    /// Input files, directories or glob patterns: .jsonl, .jsonl.gz, .jsonl.zst, .parquet.
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Output directory.
    #[arg(short, long)]
    pub output: PathBuf,
    /// TOML configuration (see svalbard.example.toml); defaults apply to anything it leaves out.
    #[arg(short, long)]
    pub config: Option<PathBuf>,
    /// Output format (overrides output.format).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Scoring threads (overrides pipeline.threads; 0 = one per core).
    #[arg(short = 'j', long)]
    pub threads: Option<usize>,
    /// Field holding the text (overrides input.text_field).
    #[arg(long)]
    pub text_field: Option<String>,
    /// Field holding the document id (overrides input.id_field).
    #[arg(long)]
    pub id_field: Option<String>,
    /// Process only shard I of N (0-based): inputs whose plan index is I modulo N.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Delete what the output directory holds instead of resuming.
    #[arg(long)]
    pub overwrite: bool,
    /// List what would be read and written, and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// Print the run's stats as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress bar.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum FormatArg {
    Arrow,
    Parquet,
}

/// Parse "I/N" into (i, n) with i < n.
pub fn parse_shard(s: &str) -> Result<(usize, usize)> {
    let bad = || Error::Config(format!("--shard {s:?}: expected I/N with 0 <= I < N"));
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

fn build_job(a: &FilterArgs) -> Result<Job> {
    let mut config = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    if let Some(f) = a.format {
        config.output.format = match f {
            FormatArg::Arrow => OutputFormat::Arrow,
            FormatArg::Parquet => OutputFormat::Parquet,
        };
    }
    if let Some(t) = a.threads {
        config.pipeline.threads = t;
    }
    if let Some(f) = &a.text_field {
        config.input.text_field = f.clone();
    }
    if let Some(f) = &a.id_field {
        config.input.id_field = f.clone();
    }
    config.validate()?;
    let inputs = plan_inputs(&a.inputs)?;
    let mut job = Job::new(inputs, a.output.clone(), config);
    if let Some(s) = &a.shard {
        let (i, n) = parse_shard(s)?;
        job.selected = (0..job.inputs.len()).filter(|k| k % n == i).collect();
        job.stats_file = format!("stats.shard-{i:05}-of-{n:05}.json");
    }
    job.progress = !a.quiet;
    Ok(job)
}

pub fn run(a: FilterArgs) -> Result<i32> {
    let job = build_job(&a)?;
    if a.dry_run {
        let ext = job.config.output.format.extension();
        println!("would read {} input(s) and write to {}:", job.selected.len(), job.output.display());
        for &i in &job.selected {
            let input = &job.inputs[i];
            println!(
                "  {} ({:?}, {} bytes) -> {{clean,rejected,quarantine}}/{}-*.{ext}",
                input.path.display(),
                input.format,
                input.size,
                crate::sink::part_stem(i)
            );
        }
        println!("  stats -> {}", job.output.join(&job.stats_file).display());
        return Ok(OK);
    }
    if a.overwrite && job.output.exists() {
        std::fs::remove_dir_all(&job.output).map_err(|e| Error::output(&job.output, e))?;
    }
    let stats = pipeline::run(&job)?;
    // A sharded run's manifest is written once all shards are done (`svalbard manifest DIR`).
    if a.shard.is_none() {
        super::vault::write_manifest(&job.output)?;
    }
    let t = &stats.totals;
    eprintln!(
        "svalbard: {} docs: {} clean, {} rejected, {} quarantined; {:.1} MB/s; stats in {}",
        t.docs_in,
        t.clean,
        t.rejected,
        t.quarantined,
        stats.throughput.mb_per_s,
        job.output.join(&job.stats_file).display()
    );
    if a.json {
        println!("{}", serde_json::to_string_pretty(&stats).expect("stats serialize"));
    }
    if stats.had_input_problems() {
        eprintln!(
            "svalbard: {} input(s) unreadable and {} damaged; their readable records were processed, see quarantine/",
            stats.inputs_failed, stats.inputs_damaged
        );
        return Ok(exit_code::INPUT);
    }
    Ok(OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_spec() {
        assert_eq!(parse_shard("3/16").unwrap(), (3, 16));
        assert!(parse_shard("16/16").is_err());
        assert!(parse_shard("1/0").is_err());
        assert!(parse_shard("x").is_err());
    }
}
