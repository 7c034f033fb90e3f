//! `svalbard filter`: the main job.

use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use clap::Args;

use super::OK;
use crate::config::Config;
use crate::error::{exit_code, Error, Result};
use crate::pipeline::{self, Job};
use crate::sink::output_dir::OutputOptions;
use crate::sink::OutputFormat;
use crate::source::plan_inputs;

const EXAMPLES: &str = "\
Examples:
  svalbard filter dump/*.jsonl.gz --output out/
  svalbard filter crawl.parquet --output out/ --config svalbard.toml --format parquet
  svalbard filter shards/ --output out/ --shard 3/16        # one task of a 16-way array job

Outputs: out/clean/, out/rejected/, out/quarantine/ (part-<input>-<seq>.arrow), out/stats.json.
Re-running with the same --output resumes: finished inputs are skipped, unfinished ones redone.
The output directory is locked for the run; svalbard refuses one inside an input directory or holding
files it did not write (--allow-foreign-files), and --overwrite deletes only what svalbard wrote.
SIGTERM or SIGINT stops reading, discards the unfinished input, writes stats.json (interrupted = true)
and exits 128 + the signal; a second signal ends the process at once.";

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
    /// Score every document with every signal, also those a quality rule already rejected (overrides
    /// signals.score_all): for benchmarks and analyses that want every column and every failed rule.
    #[arg(long)]
    pub score_all: bool,
    /// Process only shard I of N (0-based): inputs whose plan index is I modulo N.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Delete the files an earlier svalbard run wrote in the output directory instead of resuming (files
    /// svalbard did not write are never deleted).
    #[arg(long)]
    pub overwrite: bool,
    /// Write into an output directory that holds files svalbard did not write (they are kept untouched).
    #[arg(long)]
    pub allow_foreign_files: bool,
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
    let mut config = Config::load_or_default(a.config.as_deref())?;
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
    if a.score_all {
        config.signals.score_all = true;
    }
    config.validate()?;
    let inputs = plan_inputs(&a.inputs)?;
    let mut job = Job::new(inputs, a.output.clone(), config);
    job.input_dirs = a.inputs.iter().map(PathBuf::from).filter(|p| p.is_dir()).collect();
    job.output_options = OutputOptions { overwrite: a.overwrite, allow_foreign: a.allow_foreign_files, shard: None };
    if let Some(s) = &a.shard {
        let (i, n) = parse_shard(s)?;
        job.selected = (0..job.inputs.len()).filter(|k| k % n == i).collect();
        job.stats_file = format!("stats.shard-{i:05}-of-{n:05}.json");
        job.output_options.shard = Some((i, n));
    }
    job.progress = !a.quiet;
    Ok(job)
}

/// SIGTERM and SIGINT set the returned flag to their number (the run then stops cleanly); a second one, with
/// the flag already set, ends the process at once with 128 + the signal.
fn stop_on_signals() -> Result<Arc<AtomicUsize>> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let flag = Arc::new(AtomicUsize::new(0));
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [SIGTERM, SIGINT] {
        let register = || -> std::io::Result<()> {
            // Registered first, so it sees the state before this signal's own flag is set.
            signal_hook::flag::register_conditional_shutdown(sig, exit_code::INTERRUPTED_BASE + sig, armed.clone())?;
            signal_hook::flag::register(sig, armed.clone())?;
            signal_hook::flag::register_usize(sig, flag.clone(), sig as usize)?;
            Ok(())
        };
        register().map_err(|e| Error::Other(format!("installing the handler of signal {sig}: {e}")))?;
    }
    Ok(flag)
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
    let mut job = job;
    job.interrupt = Some(stop_on_signals()?);
    let output = job.acquire_output()?;
    let stats = pipeline::run_in(&job, &output)?;
    if let Some(signal) = job.interrupted_by() {
        eprintln!(
            "svalbard: interrupted by signal {signal}: {} of {} input(s) finished and kept, stats in {}; \
             run the same command again to resume",
            stats.inputs.len(),
            stats.inputs_total,
            job.output.join(&job.stats_file).display()
        );
        return Ok(exit_code::INTERRUPTED_BASE + signal as i32);
    }
    // A sharded run's manifest is written once all shards are done (`svalbard manifest DIR`).
    if a.shard.is_none() {
        // Its files are hashed on as many threads as the run used, no more.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(job.config.pipeline.workers())
            .build()
            .map_err(|e| Error::Other(format!("thread pool: {e}")))?;
        // The manifest not being writable is an output error (exit 5), like any other file of the run.
        pool.install(|| super::vault::write_manifest(&job.output)).map_err(|e| match e {
            Error::Vault(e) => match e.downcast::<crate::vault::VaultError>().map(|v| *v) {
                Ok(crate::vault::VaultError::Io { path, source }) => Error::output(path, source),
                Ok(other) => other.into(),
                Err(e) => Error::Vault(e),
            },
            e => e,
        })?;
    }
    drop(output);
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
