//! Run statistics: where every document went, per input and in total, per rule, and how fast.
//!
//! The invariant every run keeps: `docs_in = clean + rejected + quarantined`, where a quarantined record
//! is anything read that could not be scored as a document (a malformed line, a row of a broken row
//! group, an input that could not be opened at all).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::sink::PartFile;

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    pub docs_in: u64,
    pub clean: u64,
    pub rejected: u64,
    pub quarantined: u64,
    /// Blank JSONL lines: not documents, skipped.
    pub blank_lines: u64,
    /// Uncompressed input bytes read.
    pub bytes_in: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.docs_in += o.docs_in;
        self.clean += o.clean;
        self.rejected += o.rejected;
        self.quarantined += o.quarantined;
        self.blank_lines += o.blank_lines;
        self.bytes_in += o.bytes_in;
    }

    pub fn balanced(&self) -> bool {
        self.docs_in == self.clean + self.rejected + self.quarantined
    }
}

#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RuleCount {
    /// Documents on which the rule fired.
    pub fired: u64,
    /// Documents rejected with this rule among the reasons.
    pub rejected: u64,
}

pub type RuleCounts = BTreeMap<String, RuleCount>;

/// Documents each signal scored, by signal id. Scoring stops at the first quality signal that rejects a document
/// (unless `[signals] score_all`): the later quality signals and the detectors skip it; and the cascade's expensive signals score only the documents the cheap stage is
/// unsure of.
pub type ScoredCounts = BTreeMap<String, u64>;

pub fn add_scored(into: &mut ScoredCounts, from: &ScoredCounts) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

pub fn add_rules(into: &mut RuleCounts, from: &RuleCounts) {
    for (k, v) in from {
        let e = into.entry(k.clone()).or_default();
        e.fired += v.fired;
        e.rejected += v.rejected;
    }
}

/// One input's outcome; also its completion marker's content.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct InputStats {
    pub index: usize,
    pub path: String,
    pub size: u64,
    pub counts: Counts,
    pub rules: RuleCounts,
    #[serde(default)]
    pub scored: ScoredCounts,
    pub outputs: Vec<PartFile>,
    /// Abnormal endings (truncated stream, row group that failed to decode).
    pub damage: Vec<String>,
    /// The input could not be opened at all.
    pub error: Option<String>,
    pub elapsed_s: f64,
    /// Fingerprint of the config that produced the outputs (a resumed run must use the same).
    pub config_fingerprint: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Throughput {
    pub mb_per_s: f64,
    pub docs_per_s: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunStats {
    pub svalbard_version: String,
    pub started_unix_s: u64,
    pub elapsed_s: f64,
    pub threads: usize,
    /// Over every input of the run, including those finished by an earlier, interrupted run.
    pub totals: Counts,
    pub rules: RuleCounts,
    pub scored: ScoredCounts,
    /// Of the inputs processed by this invocation.
    pub throughput: Throughput,
    /// Stopped early by SIGTERM or SIGINT: only the finished inputs are counted and kept; a re-run with the
    /// same output resumes.
    #[serde(default)]
    pub interrupted: bool,
    pub inputs_total: usize,
    pub inputs_resumed: usize,
    pub inputs_failed: usize,
    pub inputs_damaged: usize,
    pub inputs: Vec<InputStats>,
    /// The exact configuration used.
    pub config: serde_json::Value,
    pub signals: Vec<String>,
    pub columns: Vec<String>,
}

impl RunStats {
    /// True when some input was unreadable or damaged (exit code 4).
    pub fn had_input_problems(&self) -> bool {
        self.inputs_failed > 0 || self.inputs_damaged > 0
    }
}
