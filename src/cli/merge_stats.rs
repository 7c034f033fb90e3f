//! `svalbard merge-stats`: sum the stats of the shards of an array job into one stats.json.

use std::path::PathBuf;

use clap::Args;

use super::OK;
use crate::error::{Error, Result};
use crate::pipeline::STATS_FILE;
use crate::sink::write_atomic;
use crate::stats::{add_rules, RunStats};

#[derive(Args, Debug)]
#[command(
    about = "Sum the shards' stats.shard-*.json of a run directory into stats.json",
    after_help = "Example (after a 16-task array job ran `svalbard filter ... --output out/ --shard $I/16`):\n  svalbard merge-stats out/ && svalbard manifest out/"
)]
pub struct MergeStatsArgs {
    pub dir: PathBuf,
}

pub fn run(a: MergeStatsArgs) -> Result<i32> {
    let mut shards: Vec<PathBuf> = std::fs::read_dir(&a.dir)
        .map_err(|e| Error::input(&a.dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("stats.shard-")))
        .collect();
    shards.sort();
    let mut merged: Option<RunStats> = None;
    for path in &shards {
        let s: RunStats = serde_json::from_slice(&std::fs::read(path)?)
            .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
        match &mut merged {
            None => merged = Some(s),
            Some(m) => {
                if m.config != s.config {
                    return Err(Error::Config(format!(
                        "{} was produced with a different configuration",
                        path.display()
                    )));
                }
                m.totals.add(&s.totals);
                add_rules(&mut m.rules, &s.rules);
                // Shards run side by side: the job took as long as its slowest shard.
                m.elapsed_s = m.elapsed_s.max(s.elapsed_s);
                m.inputs_total += s.inputs_total;
                m.inputs_resumed += s.inputs_resumed;
                m.inputs_failed += s.inputs_failed;
                m.inputs_damaged += s.inputs_damaged;
                m.interrupted |= s.interrupted;
                m.inputs.extend(s.inputs);
            }
        }
    }
    let Some(mut m) = merged else {
        return Err(Error::Config(format!("no stats.shard-*.json in {}", a.dir.display())));
    };
    m.inputs.sort_by_key(|i| i.index);
    m.throughput.mb_per_s = m.totals.bytes_in as f64 / 1e6 / m.elapsed_s.max(1e-9);
    m.throughput.docs_per_s = m.totals.docs_in as f64 / m.elapsed_s.max(1e-9);
    write_atomic(&a.dir.join(STATS_FILE), &serde_json::to_vec_pretty(&m).expect("stats serialize"))?;
    eprintln!(
        "svalbard: merged {} shard(s): {} docs: {} clean, {} rejected, {} quarantined",
        shards.len(),
        m.totals.docs_in,
        m.totals.clean,
        m.totals.rejected,
        m.totals.quarantined
    );
    Ok(if m.had_input_problems() { crate::error::exit_code::INPUT } else { OK })
}
