//! The pipeline: read → score → decide → write, three stages joined by bounded channels.
//!
//! - the reader thread opens inputs in plan order and yields [`DocBatch`]es (JSONL lines are parsed in
//!   parallel on the rayon pool);
//! - the scoring stage runs the signals on each batch (in parallel over documents), applies the policy and
//!   splits the batch into clean and rejected rows; it takes two batches at once when the reader has the next
//!   one ready, so that one batch's serial steps overlap the other's parallel ones;
//! - the writer thread appends them to the input's partition writers, and when an input is complete renames
//!   its last parts into place and writes the input's completion marker.
//!
//! Channels hold at most `queue_depth` batches (and the scorer two), so memory stays bounded whatever the input
//! size, and a slow stage holds back the ones before it. Batches keep their order, so outputs are deterministic.
//!
//! Resumption: an input with a completion marker in `_progress/` (same path, size and config fingerprint)
//! is skipped; the outputs of any other input are deleted and redone, which is what makes a killed run,
//! re-run, produce exactly the outputs of an uninterrupted one.
//!
//! [`Scoring`] is the scoring stage's work on one batch (signals, decision, the output columns); [`labeled`] runs
//! the first two stages over labeled data, for `calibrate` and `bench`; [`records`] scores Arrow record batches
//! handed over in memory (the Python package) with the same [`Scoring`].

pub mod labeled;
pub mod records;
mod scoring;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::compute::filter_record_batch;
use crossbeam_channel::{bounded, Receiver, Sender};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::batch::{DocBatch, Quarantined};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::signal::Scorer;
use crate::sink::output_dir::{OutputDir, OutputOptions};
use crate::sink::{self, PartitionWriter, CLEAN, QUARANTINE, REJECTED};
use crate::source::{self, InputFile};
use crate::stats::{
    add_rules, add_scored, Counts, InputStats, RuleCount, RuleCounts, RunStats, ScoredCounts, Throughput,
};

pub use crate::sink::output_dir::PROGRESS_DIR;
pub use records::{score_records, ERROR_COLUMN, VERDICT_QUARANTINE};
pub use scoring::{Annotated, Scoring};
pub const STATS_FILE: &str = "stats.json";

/// Everything a run needs, validated.
pub struct Job {
    /// The whole plan, in order (indices name the part files).
    pub inputs: Vec<InputFile>,
    /// Which plan indices this invocation processes (all of them unless sharded).
    pub selected: Vec<usize>,
    pub output: PathBuf,
    pub config: Config,
    /// Show a progress bar (only drawn on a terminal).
    pub progress: bool,
    /// Name of the stats file in the output directory.
    pub stats_file: String,
    /// Directories the inputs were named by (the output may not lie inside one).
    pub input_dirs: Vec<PathBuf>,
    /// Overwrite an earlier run, write beside foreign files.
    pub output_options: OutputOptions,
    /// Set (to the signal's number) when the run should stop: no further batch is read, the unfinished
    /// input's parts are discarded, and stats.json says `interrupted`.
    pub interrupt: Option<Arc<AtomicUsize>>,
}

impl Job {
    pub fn new(inputs: Vec<InputFile>, output: PathBuf, config: Config) -> Self {
        let selected = (0..inputs.len()).collect();
        Job {
            inputs,
            selected,
            output,
            config,
            progress: false,
            stats_file: STATS_FILE.into(),
            input_dirs: Vec::new(),
            output_options: OutputOptions::default(),
            interrupt: None,
        }
    }

    /// The signal that interrupted the run, if one did.
    pub fn interrupted_by(&self) -> Option<usize> {
        self.interrupt.as_ref().map(|f| f.load(Ordering::SeqCst)).filter(|&s| s != 0)
    }

    /// Check the output directory against the inputs, lock it and prepare it (see [`OutputDir::acquire`]).
    pub fn acquire_output(&self) -> Result<OutputDir> {
        let files: Vec<&Path> = self.inputs.iter().map(|i| i.path.as_path()).collect();
        let dirs: Vec<&Path> = self.input_dirs.iter().map(|d| d.as_path()).collect();
        OutputDir::acquire(&self.output, &files, &dirs, self.output_options)
    }
}

/// What the scoring stage hands the writer.
enum Scored {
    Batch {
        input: usize,
        clean: Option<RecordBatch>,
        rejected: Option<RecordBatch>,
        quarantined: Vec<Quarantined>,
        counts: Counts,
        rules: Vec<RuleCount>,
        scored: Vec<(&'static str, u64)>,
        damage: Option<String>,
    },
    InputEnd(usize),
    InputFailed(usize, String),
}

enum Read {
    Batch(DocBatch),
    InputEnd(usize),
    InputFailed(usize, String),
}

/// A stable fingerprint of everything in the config that changes outputs.
pub fn config_fingerprint(config: &Config) -> String {
    let mut c = config.clone();
    c.pipeline = Default::default();
    blake3::hash(c.to_toml().as_bytes()).to_hex()[..16].to_string()
}

fn marker_path(output: &Path, index: usize) -> PathBuf {
    output.join(PROGRESS_DIR).join(format!("{}.json", sink::part_stem(index)))
}

/// The completion marker of an input, if it is valid for this plan and config.
fn finished_marker(output: &Path, index: usize, input: &InputFile, fingerprint: &str) -> Result<Option<InputStats>> {
    let path = marker_path(output, index);
    let Ok(bytes) = std::fs::read(&path) else { return Ok(None) };
    let stats: InputStats = match serde_json::from_slice(&bytes) {
        Ok(s) => s,
        Err(_) => return Ok(None), // unreadable marker: redo the input
    };
    if stats.path != input.path.display().to_string() || stats.size != input.size {
        return Err(Error::Config(format!(
            "{} holds the outputs of a different run (input {index} was {}); use a fresh --output or --overwrite",
            output.display(),
            stats.path
        )));
    }
    if stats.config_fingerprint != fingerprint {
        return Err(Error::Config(format!(
            "{} was produced with a different configuration; use a fresh --output or --overwrite",
            output.display()
        )));
    }
    Ok(Some(stats))
}

/// Run the job; returns the run's statistics (also written to the output directory). Holds the output
/// directory's lock for the run.
pub fn run(job: &Job) -> Result<RunStats> {
    job.config.validate()?;
    let output = job.acquire_output()?;
    run_in(job, &output)
}

/// Run the job in an output directory already acquired (callers that do more under the same lock, such as
/// writing the manifest).
pub fn run_in(job: &Job, output: &OutputDir) -> Result<RunStats> {
    debug_assert_eq!(output.path(), job.output.as_path());
    let started = Instant::now();
    let config = &job.config;
    let stages = Stages { scoring: Scoring::new(config)?, fingerprint: config_fingerprint(config) };
    let (done, todo) = resume(job, &stages.fingerprint)?;
    let threads = config.pipeline.workers();
    let processed = run_stages(job, &stages, &todo, threads)?;
    let stats = run_stats(job, stages.scoring.scorer(), started.elapsed().as_secs_f64(), threads, done, processed);
    debug_assert!(stats.totals.balanced());
    let json = serde_json::to_vec_pretty(&stats).expect("stats serialize");
    sink::write_atomic(&job.output.join(&job.stats_file), &json)?;
    Ok(stats)
}

/// What the scoring stage applies to every batch, built once per run.
struct Stages {
    scoring: Scoring,
    /// The config's fingerprint, which a finished input's marker must match to be skipped.
    fingerprint: String,
}

/// The inputs an earlier run finished with this config (their stats, from their markers) and those to do; the
/// partial outputs of the latter are removed.
fn resume(job: &Job, fingerprint: &str) -> Result<(Vec<InputStats>, Vec<usize>)> {
    let mut done: Vec<InputStats> = Vec::new();
    let mut todo: Vec<usize> = Vec::new();
    for &i in &job.selected {
        match finished_marker(&job.output, i, &job.inputs[i], fingerprint)? {
            Some(s) => done.push(s),
            None => todo.push(i),
        }
    }
    let removed = sink::remove_partial_outputs(&job.output, &todo)?;
    if !done.is_empty() || removed > 0 {
        tracing::info!(resumed = done.len(), removed_partial_files = removed, "resuming an earlier run");
    }
    Ok((done, todo))
}

/// Read, score and write the inputs `todo` on three stages joined by bounded channels; the stats of each input.
fn run_stages(job: &Job, stages: &Stages, todo: &[usize], threads: usize) -> Result<Vec<InputStats>> {
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("svalbard-worker-{i}"))
            .build()
            .map_err(|e| Error::Other(format!("thread pool: {e}")))?,
    );
    let bar = progress_bar(job, todo);
    let depth = job.config.pipeline.queue_depth;
    let (read_tx, read_rx) = bounded::<Read>(depth);
    let (scored_tx, scored_rx) = bounded::<Scored>(depth);

    let processed = std::thread::scope(|s| -> Result<Vec<InputStats>> {
        let reader = {
            let pool = pool.clone();
            std::thread::Builder::new()
                .name("svalbard-reader".into())
                .spawn_scoped(s, move || read_stage(job, todo, &pool, read_tx))
                .map_err(Error::Io)?
        };
        let writer = {
            let bar = bar.clone();
            let rule_codes: Vec<String> = stages.scoring.scorer().rules().iter().map(|r| r.code.clone()).collect();
            std::thread::Builder::new()
                .name("svalbard-writer".into())
                .spawn_scoped(s, move || write_stage(job, &stages.fingerprint, &rule_codes, &bar, scored_rx))
                .map_err(Error::Io)?
        };
        let scored = score_stage(&stages.scoring, &pool, read_rx, scored_tx);
        let written = writer.join().map_err(|_| Error::Other("writer thread panicked".into()))?;
        reader.join().map_err(|_| Error::Other("reader thread panicked".into()))?;
        // The writer's error is the root cause when it stopped first (the scorer then only sees a closed channel).
        let written = written?;
        scored?;
        Ok(written)
    })?;
    bar.finish_and_clear();
    Ok(processed)
}

/// `stats.json`: the inputs resumed (`done`) and processed by this run, their totals, and this run's throughput.
fn run_stats(
    job: &Job,
    scorer: &Scorer,
    elapsed: f64,
    threads: usize,
    done: Vec<InputStats>,
    processed: Vec<InputStats>,
) -> RunStats {
    let mut this_run = Counts::default();
    for s in &processed {
        this_run.add(&s.counts);
    }
    let inputs_resumed = done.len();
    let mut inputs: Vec<InputStats> = done.into_iter().chain(processed).collect();
    inputs.sort_by_key(|s| s.index);
    let mut totals = Counts::default();
    let mut rules = RuleCounts::new();
    let mut scored = ScoredCounts::new();
    for s in &inputs {
        totals.add(&s.counts);
        add_rules(&mut rules, &s.rules);
        add_scored(&mut scored, &s.scored);
    }
    RunStats {
        svalbard_version: env!("CARGO_PKG_VERSION").into(),
        started_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
            .saturating_sub(elapsed as u64),
        elapsed_s: elapsed,
        threads,
        totals,
        rules,
        scored,
        throughput: Throughput {
            mb_per_s: this_run.bytes_in as f64 / 1e6 / elapsed.max(1e-9),
            docs_per_s: this_run.docs_in as f64 / elapsed.max(1e-9),
        },
        interrupted: job.interrupted_by().is_some(),
        inputs_total: job.selected.len(),
        inputs_resumed,
        inputs_failed: inputs.iter().filter(|s| s.error.is_some()).count(),
        inputs_damaged: inputs.iter().filter(|s| !s.damage.is_empty()).count(),
        inputs,
        config: serde_json::to_value(&job.config).expect("config serializes"),
        signals: scorer.signal_ids().iter().map(|s| s.to_string()).collect(),
        columns: scorer.columns().to_vec(),
    }
}

fn progress_bar(job: &Job, todo: &[usize]) -> ProgressBar {
    if !job.progress {
        return ProgressBar::hidden();
    }
    let total: u64 = todo.iter().map(|&i| job.inputs[i].size).sum();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta}) {msg}",
        )
        .expect("valid template"),
    );
    bar
}

fn read_stage(job: &Job, todo: &[usize], pool: &rayon::ThreadPool, tx: Sender<Read>) {
    for &index in todo {
        if job.interrupted_by().is_some() {
            return;
        }
        let input = &job.inputs[index];
        let opened = source::open(index, input, &job.config.input);
        let mut batches = match opened {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(input = %input.path.display(), error = %e, "input could not be read");
                if tx.send(Read::InputFailed(index, e.to_string())).is_err() {
                    return;
                }
                continue;
            }
        };
        loop {
            if job.interrupted_by().is_some() {
                return; // the unfinished input gets no end: the writer discards its parts
            }
            // Parsing runs on the pool, beside the scoring of the previous batch.
            let next = pool.install(|| batches.next());
            let Some(batch) = next else { break };
            if tx.send(Read::Batch(batch)).is_err() {
                return; // a later stage stopped
            }
        }
        if tx.send(Read::InputEnd(index)).is_err() {
            return;
        }
    }
}

fn score_stage(scoring: &Scoring, pool: &rayon::ThreadPool, rx: Receiver<Read>, tx: Sender<Scored>) -> Result<()> {
    let mut waiting: Option<Read> = None;
    while let Some(msg) = waiting.take().or_else(|| rx.recv().ok()) {
        let scored = match msg {
            // Two batches at once when the reader has the next one ready: each batch has serial parts (the
            // ensemble, building its columns, splitting it), and with two in flight the pool's threads fill
            // them with the other batch's documents. The writer still gets them in order.
            Read::Batch(first) => match rx.try_recv() {
                Ok(Read::Batch(second)) => {
                    let (a, b) =
                        pool.install(|| rayon::join(|| score_batch(scoring, first), || score_batch(scoring, second)));
                    vec![a?, b?]
                }
                next => {
                    waiting = next.ok();
                    vec![pool.install(|| score_batch(scoring, first))?]
                }
            },
            Read::InputEnd(i) => vec![Scored::InputEnd(i)],
            Read::InputFailed(i, e) => vec![Scored::InputFailed(i, e)],
        };
        for out in scored {
            if tx.send(out).is_err() {
                return Ok(()); // the writer stopped; its error is reported by run()
            }
        }
    }
    Ok(())
}

/// Score one batch, decide, and split it into clean and rejected rows with the score and decision columns.
fn score_batch(scoring: &Scoring, batch: DocBatch) -> Result<Scored> {
    let annotated = scoring.annotate(&batch)?;
    let n = batch.len() as u64;
    let n_rejected = annotated.rejected.true_count() as u64;
    let clean_mask = arrow::compute::not(&annotated.rejected)?;
    let clean = (n - n_rejected > 0).then(|| filter_record_batch(&annotated.batch, &clean_mask)).transpose()?;
    let rejected = (n_rejected > 0).then(|| filter_record_batch(&annotated.batch, &annotated.rejected)).transpose()?;
    let q = batch.quarantined.len() as u64;
    let counts = Counts {
        docs_in: n + q,
        clean: n - n_rejected,
        rejected: n_rejected,
        quarantined: q,
        blank_lines: batch.blank_lines,
        bytes_in: batch.bytes,
    };
    Ok(Scored::Batch {
        input: batch.input,
        clean,
        rejected,
        quarantined: batch.quarantined,
        counts,
        rules: annotated.rules,
        scored: annotated.scored,
        damage: batch.damage,
    })
}

/// Writers and running stats of the input being written.
struct InputWriters {
    clean: PartitionWriter,
    rejected: PartitionWriter,
    quarantine: PartitionWriter,
    stats: InputStats,
    started: Instant,
}

impl InputWriters {
    fn new(job: &Job, index: usize, fingerprint: &str) -> Self {
        let out = &job.config.output;
        let w = |c| PartitionWriter::new(&job.output, c, index, out.format, out.max_file_bytes);
        let input = &job.inputs[index];
        InputWriters {
            clean: w(CLEAN),
            rejected: w(REJECTED),
            quarantine: w(QUARANTINE),
            stats: InputStats {
                index,
                path: input.path.display().to_string(),
                size: input.size,
                config_fingerprint: fingerprint.to_string(),
                ..Default::default()
            },
            started: Instant::now(),
        }
    }

    /// Remove everything written for this input: it will be redone whole.
    fn discard(self) {
        self.clean.discard();
        self.rejected.discard();
        self.quarantine.discard();
    }
}

/// `rule_codes` names the rules of the scorer, in the order of each batch's rule counts.
fn write_stage(
    job: &Job,
    fingerprint: &str,
    rule_codes: &[String],
    bar: &ProgressBar,
    rx: Receiver<Scored>,
) -> Result<Vec<InputStats>> {
    let mut finished = Vec::new();
    let mut current: Option<InputWriters> = None;
    let result = (|| -> Result<()> {
        for msg in rx.iter() {
            match msg {
                Scored::Batch { input, clean, rejected, quarantined, counts, rules, scored, damage } => {
                    let w = current.get_or_insert_with(|| InputWriters::new(job, input, fingerprint));
                    if let Some(b) = &clean {
                        w.clean.write(b)?;
                    }
                    if let Some(b) = &rejected {
                        if job.config.output.write_rejected {
                            w.rejected.write(b)?;
                        }
                    }
                    if !quarantined.is_empty() {
                        w.quarantine.write(&sink::quarantine_batch(&w.stats.path, &quarantined)?)?;
                    }
                    w.stats.counts.add(&counts);
                    for (code, rc) in rule_codes.iter().zip(&rules) {
                        if rc.fired > 0 {
                            let e = w.stats.rules.entry(code.clone()).or_default();
                            e.fired += rc.fired;
                            e.rejected += rc.rejected;
                        }
                    }
                    for (id, n) in scored {
                        *w.stats.scored.entry(id.to_string()).or_default() += n;
                    }
                    w.stats.damage.extend(damage);
                    bar.inc(counts.bytes_in.min(job.inputs[input].size.saturating_sub(bar.position())));
                    bar.set_message(format!("{} docs", w.stats.counts.docs_in));
                }
                Scored::InputFailed(index, error) => {
                    let mut w = InputWriters::new(job, index, fingerprint);
                    let record = Quarantined { location: "file".into(), error: error.clone(), raw: Vec::new() };
                    w.quarantine.write(&sink::quarantine_batch(&w.stats.path, &[record])?)?;
                    w.stats.counts.docs_in = 1;
                    w.stats.counts.quarantined = 1;
                    w.stats.error = Some(error);
                    // No completion marker: a later run retries an input that could not be opened.
                    finished.push(close_input(job, w, false)?);
                }
                Scored::InputEnd(index) => {
                    let w = current.take().unwrap_or_else(|| InputWriters::new(job, index, fingerprint));
                    let stats = close_input(job, w, true)?;
                    bar.set_position(
                        job.inputs[..=index].iter().map(|i| i.size).sum::<u64>().min(bar.length().unwrap_or(0)),
                    );
                    finished.push(stats);
                }
            }
        }
        Ok(())
    })();
    // An input still open here was cut short (an error, or the reader stopped on an interrupt).
    if let Some(w) = current.take() {
        tracing::info!(input = %w.stats.path, "discarding the outputs of an unfinished input");
        w.discard();
    }
    result?;
    Ok(finished)
}

fn close_input(job: &Job, w: InputWriters, mark_done: bool) -> Result<InputStats> {
    let mut stats = w.stats;
    for writer in [w.clean, w.rejected, w.quarantine] {
        stats.outputs.extend(writer.finish()?);
    }
    stats.elapsed_s = w.started.elapsed().as_secs_f64();
    if mark_done {
        let json = serde_json::to_vec_pretty(&stats).expect("stats serialize");
        sink::write_atomic(&marker_path(&job.output, stats.index), &json)?;
    }
    tracing::info!(
        input = %stats.path,
        docs = stats.counts.docs_in,
        clean = stats.counts.clean,
        rejected = stats.counts.rejected,
        quarantined = stats.counts.quarantined,
        "input done"
    );
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use arrow::array::Array;

    use crate::config::Config;
    use crate::spec::{Action, RuleMask};

    #[test]
    fn verdicts_follow_actions_overrides_and_protection() {
        let mut config = Config::default();
        config.ensemble.enabled = Some(false);
        config.rules.insert("c4.too_few_sentences".into(), Action::Flag);
        config.rules.insert("fineweb.short_lines".into(), Action::Off);
        let scorer = config.scorer().unwrap();
        let decider = scorer.decider();
        let idx = |code: &str| scorer.rules().iter().position(|r| r.code == code).unwrap();
        let bit = |code: &str| (1 as RuleMask) << idx(code);
        let fired = vec![
            0,
            bit("c4.too_few_sentences"),
            bit("c4.too_few_sentences") | bit("gopher_quality.too_few_words") | bit("vocab.excess_rate"),
            bit("fineweb.short_lines"),
        ];
        let d = decider.decide(&fired, None, None);
        assert_eq!(d.rejected, vec![false, false, true, false]);
        assert_eq!(d.reasons.value(2), "gopher_quality.too_few_words");
        assert_eq!(d.flags.value(1), "c4.too_few_sentences");
        assert_eq!(d.flags.value(2), "c4.too_few_sentences,vocab.excess_rate");
        assert_eq!(d.flags.value(3), "");
        assert_eq!(d.reasons.len(), 4);

        // A protected document's detector rejection becomes a flag; quality rules still reject it.
        let fired = vec![bit("fast.machine"), bit("fast.machine"), bit("fast.machine") | bit("c4.lorem_ipsum")];
        let d = decider.decide(&fired, Some(&[true, false, true]), None);
        assert_eq!(d.rejected, vec![false, true, true]);
        assert_eq!(d.flags.value(0), "fast.machine");
        assert_eq!(d.reasons.value(2), "c4.lorem_ipsum");
    }
}
