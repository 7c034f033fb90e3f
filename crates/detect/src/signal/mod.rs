//! Signals: one trait, one file per signal, registered by a stable id.
//!
//! A signal reads a document's text and writes its own score columns (`<signal>_<measure>`); when one of its
//! rules fires it sets that rule's bit. Whether a fired rule rejects the document or only flags it is the
//! policy's business ([`crate::decide::verdict`]), not the signal's.
//!
//! Two kinds: [`DocSignal`]s look at one document at a time and share one [`Analysis`] of it (the cheap
//! heuristics); [`BatchSignal`]s see the whole batch at once (models that batch their inputs).
//!
//! Two views of a document: quality rules judge the page as published and read the raw text; detectors
//! ([`SignalSpec::detector`]) judge the writing and read its canonical view ([`crate::text::canonical`]), so
//! that quotes, dashes, line breaks, entities, bullets and Markdown, which a publishing pipeline decides,
//! cannot move them. The view is computed once per document and shared by every detector.

pub mod classifier;

use std::cell::RefCell;
use std::sync::Arc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::decide::ensemble::{Ensemble, EnsembleConfig};
use crate::decide::verdict::Decider;
use crate::error::Result;
use crate::spec::{Action, RuleMask, RuleSpec, SignalSpec};
use crate::text::canonical::Canonicalizer;
use crate::text::{Analysis, HashSet64};

/// What the registry needs of a signal's configuration section (`[signals.<id>]`).
pub trait SignalConfig {
    /// Whether the section turns the signal on.
    fn enabled(&self) -> bool;
    /// Check the section's values, whether or not the signal is on; messages name the TOML keys.
    fn validate(&self) -> Result<()> {
        Ok(())
    }
    /// Build the signal; called only when it is enabled.
    fn build(&self, settings: &ResolvedSettings) -> Result<Built>;
}

/// A signal of either kind, as its configuration builds it.
pub enum Built {
    Doc(Arc<dyn DocSignal>),
    Batch(Arc<dyn BatchSignal>),
}

/// Declares the registered signals: each line `id: ConfigType` declares the signal's module (`signal/<id>.rs`)
/// and its `[signals.<id>]` section, a type of that module that implements [`SignalConfig`].
macro_rules! registry {
    ($($(#[$doc:meta])* $id:ident: $config:ident,)*) => {
        $(pub mod $id;)*

        /// Every signal's configuration (`[signals]`); each signal defines and validates its own section.
        #[derive(Clone, Debug, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct SignalsConfig {
            $($(#[$doc])* pub $id: $id::$config,)*
            /// ONNX classifiers; the built-in `fast` model by default. `classifiers = []` runs heuristics only.
            pub classifiers: Vec<classifier::ClassifierConfig>,
            /// Run every signal on every document. Off (the default), scoring stops at the first quality signal
            /// (cheapest first) whose `reject` rule fires: the later quality signals and the detectors cannot change
            /// the verdict, and their columns (`p_machine` too) are null. `bench`, `calibrate` and the invariance
            /// runner always score all.
            pub score_all: bool,
        }

        impl SignalsConfig {
            /// The registered sections, in registry order.
            fn registered(&self) -> Vec<&dyn SignalConfig> {
                vec![$(&self.$id),*]
            }
        }

        impl Default for SignalsConfig {
            fn default() -> Self {
                SignalsConfig {
                    $($id: Default::default(),)*
                    classifiers: vec![classifier::ClassifierConfig::default()],
                    score_all: false,
                }
            }
        }
    };
}

// The signal registry: adding a signal is its file and one line here. The order is that of the score columns
// (document signals in this order, then the classifiers, then the registered batch signals in this order).
// Classifiers are a list (`[[signals.classifiers]]`), outside the registry.
registry! {
    gopher_quality: GopherQualityConfig,
    gopher_repetition: GopherRepetitionConfig,
    c4: C4Config,
    fineweb: FineWebConfig,
    vocab: VocabConfig,
    /// Typing habits (detached punctuation, lower-case sentence starts, curly quotes, dashes): ensemble inputs.
    typography: TypographyConfig,
    /// Sentence-length rhythm and word variety: ensemble inputs.
    stylometry: StylometryConfig,
    ngram_lm: NgramLmConfig,
    /// Perplexity, burstiness and curvature under a neural LM (SmolLM2, scripts/build_smollm.sh); off by default.
    neural_lm: NeuralLmConfig,
}

impl SignalsConfig {
    pub fn validate(&self) -> Result<()> {
        for section in self.registered() {
            section.validate()?;
        }
        for (i, c) in self.classifiers.iter().enumerate() {
            c.validate(&format!("signals.classifiers[{i}]"))?;
        }
        Ok(())
    }
}

/// Settings resolved once at the entry point (the root config's `[pipeline]` and `[onnx]`) and handed to the
/// signals that run models.
#[derive(Clone, Debug)]
pub struct ResolvedSettings {
    /// Scoring threads: each model keeps a session per worker.
    pub workers: usize,
    /// libonnxruntime.so, when the config names one.
    pub onnx_library: Option<std::path::PathBuf>,
}

/// Per-thread scratch space shared by the document signals.
#[derive(Default)]
pub struct Scratch {
    pub analysis: Analysis,
    /// The analysis of the canonical view, for the detectors.
    pub canonical_analysis: Analysis,
    pub set_a: HashSet64,
    pub set_b: HashSet64,
    pub hashes: Vec<u64>,
}

impl Scratch {
    /// Give back memory after an unusually large document so one 50 MB page does not pin it per thread.
    fn trim(&mut self) {
        const KEEP_WORDS: usize = 1 << 20;
        if self.analysis.words.capacity() > KEEP_WORDS || self.canonical_analysis.words.capacity() > KEEP_WORDS {
            self.analysis.words = Vec::new();
            self.canonical_analysis.words = Vec::new();
            self.hashes = Vec::new();
            self.set_a = HashSet64::default();
            self.set_b = HashSet64::default();
        }
    }
}

/// One document as the document signals see it.
pub struct Doc<'a> {
    pub text: &'a str,
    pub analysis: &'a Analysis,
}

/// A signal that scores documents one at a time from the shared analysis.
pub trait DocSignal: Send + Sync {
    fn spec(&self) -> &SignalSpec;
    /// Write one value per column into `out` and return the bit set of fired rules (bit i = `spec().rules[i]`).
    fn score(&self, doc: &Doc<'_>, out: &mut [f32], scratch: &mut ScratchSets) -> u64;
}

/// The part of [`Scratch`] a signal may use while the analysis is borrowed.
pub struct ScratchSets<'a> {
    pub set_a: &'a mut HashSet64,
    pub set_b: &'a mut HashSet64,
    pub hashes: &'a mut Vec<u64>,
}

/// A signal that scores a whole batch (ONNX models, language models).
pub trait BatchSignal: Send + Sync {
    fn spec(&self) -> &SignalSpec;
    /// `columns[c][d]` receives column c of document d; `fired[d]` the bit set of fired rules of document d.
    fn score_batch(&self, texts: &[&str], columns: &mut [Vec<f32>], fired: &mut [u64]) -> Result<()>;
}

/// The scores of one batch.
pub struct ScoreTable {
    /// One vector per column of [`Scorer::columns`], each one value per document.
    pub columns: Vec<Vec<f32>>,
    /// Fired rules per document, over [`Scorer::rules`].
    pub fired: Vec<RuleMask>,
    /// Per document, the signals that drove the ensemble's "machine" (empty without the ensemble).
    pub ensemble_drivers: Vec<String>,
    /// Time spent per stage: "heuristics" (the document signals), each batch signal by id, "ensemble".
    pub timings: Vec<(&'static str, std::time::Duration)>,
    /// Per document, the signals that did not run on it because a quality rule had rejected it first (bit i is
    /// signal i of [`Scorer::signal_ids`]): the detectors, and the quality signals after the one that rejected.
    /// Their cells are NaN there and mean "not computed" (see [`Scorer::column_signals`]).
    pub skipped: Vec<SignalSet>,
    /// Per signal id (and "ensemble"), how many documents it scored.
    pub scored: Vec<(&'static str, u64)>,
}

/// A bit set of signals, by their index in [`Scorer::signal_ids`] (at most 64 signals).
pub type SignalSet = u64;

/// All enabled signals, in a fixed order, with their columns and rules laid end to end.
pub struct Scorer {
    // Shared, so that a scorer with fewer signals reuses the loaded models (`without_batch_signals`).
    doc_signals: Vec<Arc<dyn DocSignal>>,
    batch_signals: Vec<Arc<dyn BatchSignal>>,
    columns: Vec<String>,
    rules: Vec<RuleSpec>,
    rule_actions: Vec<Action>,
    detector_rules: RuleMask,
    /// The calibrated combination of all signals, when enabled; it decides which batch signals are expensive.
    ensemble: Option<Ensemble>,
    /// Per batch signal: run only on documents the ensemble's cheap stage is unsure of.
    expensive: Vec<bool>,
    /// What the signals read (a quality rule the raw text, a detector the canonical view): the analysis of the
    /// raw text and that of the canonical view (each when a document signal of that side reads one,
    /// [`SignalSpec::reads_analysis`]), the canonical view itself (any detector).
    raw_analysis: bool,
    canonical_analysis: bool,
    canonical_view: bool,
    /// Per document signal, where its columns and rules start.
    doc_offsets: Vec<(usize, usize)>,
    /// The quality rules whose firing ends a document's scoring (those set to reject), unless `score_all`.
    early_exit: RuleMask,
    /// The quality signals (indices into `doc_signals`), cheapest first: the order they run in, so that with
    /// early exit a page a cheap rule rejects never pays for an expensive one.
    quality_order: Vec<usize>,
    /// The detectors, the batch signals and the ensemble, as a [`SignalSet`]: what a quality rejection skips.
    detector_signals: SignalSet,
    /// Per column, the index of the signal that writes it (in [`Scorer::signal_ids`] order).
    column_signals: Vec<usize>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
    static CANONICALIZER: RefCell<Canonicalizer> = RefCell::new(Canonicalizer::default());
}

impl Scorer {
    /// Build the signals `s` enables, with the rule overrides and the ensemble of the same config.
    pub fn from_config(
        s: &SignalsConfig,
        rules: &std::collections::BTreeMap<String, Action>,
        ensemble: &EnsembleConfig,
        settings: &ResolvedSettings,
    ) -> Result<Self> {
        let mut doc: Vec<Arc<dyn DocSignal>> = Vec::new();
        let mut batch: Vec<Arc<dyn BatchSignal>> = Vec::new();
        for c in &s.classifiers {
            batch.push(Arc::new(classifier::Classifier::new(c, settings.onnx_library.as_deref(), settings.workers)?));
        }
        for section in s.registered().into_iter().filter(|c| c.enabled()) {
            match section.build(settings)? {
                Built::Doc(signal) => doc.push(signal),
                Built::Batch(signal) => batch.push(signal),
            }
        }
        Self::build(doc, batch, rules, Some(ensemble), s.score_all)
    }

    /// The same signals less the batch signals (classifiers, language models) that `drop` picks, without the
    /// ensemble: `calibrate` does not run a model on the training data when every column it writes is read
    /// from the input instead (an expensive model on tens of thousands of documents costs minutes to hours).
    /// The models are shared with `self`, not loaded again.
    pub fn without_batch_signals(
        &self,
        drop: impl Fn(&SignalSpec) -> bool,
        overrides: &std::collections::BTreeMap<String, Action>,
    ) -> Result<Self> {
        let kept = self.batch_signals.iter().filter(|s| !drop(s.spec())).cloned().collect();
        Self::build(self.doc_signals.clone(), kept, overrides, None, true)
    }

    pub fn new(
        doc_signals: Vec<Arc<dyn DocSignal>>,
        batch_signals: Vec<Arc<dyn BatchSignal>>,
        overrides: &std::collections::BTreeMap<String, Action>,
    ) -> Result<Self> {
        Self::build(doc_signals, batch_signals, overrides, None, true)
    }

    /// The same scorer, scoring every document with every signal: what analysis runs (`bench`, `calibrate`,
    /// the invariance runner) need, whatever `score_all` says.
    pub fn scoring_all(mut self) -> Self {
        self.early_exit = 0;
        self
    }

    fn build(
        doc_signals: Vec<Arc<dyn DocSignal>>,
        batch_signals: Vec<Arc<dyn BatchSignal>>,
        overrides: &std::collections::BTreeMap<String, Action>,
        ensemble: Option<&EnsembleConfig>,
        score_all: bool,
    ) -> Result<Self> {
        let mut specs: Vec<&SignalSpec> =
            doc_signals.iter().map(|s| s.spec()).chain(batch_signals.iter().map(|s| s.spec())).collect();
        let mut columns: Vec<String> = specs.iter().flat_map(|s| s.columns.iter().cloned()).collect();
        let ensemble = match ensemble {
            Some(c) => Ensemble::from_config(c, &columns)?,
            None => None,
        };
        let mut expensive = Vec::new();
        if let Some(e) = &ensemble {
            let exp = e.expensive_columns();
            let mut offset: usize = doc_signals.iter().map(|s| s.spec().columns.len()).sum();
            for s in &batch_signals {
                let width = s.spec().columns.len();
                expensive.push((offset..offset + width).any(|c| exp.contains(&c)));
                offset += width;
            }
            columns.extend(e.spec().columns.iter().cloned());
            specs.push(e.spec());
        } else {
            expensive = vec![false; batch_signals.len()];
        }
        check_unique_names(&specs)?;
        let mut rules = Vec::new();
        let mut rule_actions = Vec::new();
        let mut detector_rules: RuleMask = 0;
        for spec in &specs {
            // With the ensemble on, one calibrated threshold decides: the detectors' own rules only flag.
            let action =
                if ensemble.is_some() && spec.detector && spec.id != "ensemble" && spec.action == Action::Reject {
                    Action::Flag
                } else {
                    spec.action
                };
            for r in &spec.rules {
                if spec.detector && rules.len() < RuleMask::BITS as usize {
                    detector_rules |= 1 << rules.len();
                }
                rule_actions.push(overrides.get(&r.code).copied().unwrap_or(action));
                rules.push(r.clone());
            }
        }
        if rules.len() > RuleMask::BITS as usize {
            return Err(crate::Error::Config(format!("{} rules enabled; at most 128 are supported", rules.len())));
        }
        for s in &specs {
            if s.rules.len() > 64 {
                return Err(crate::Error::Config(format!("signal {} has more than 64 rules", s.id)));
            }
        }
        if specs.len() > SignalSet::BITS as usize {
            return Err(crate::Error::Config(format!("{} signals enabled; at most 64 are supported", specs.len())));
        }
        let column_signals =
            specs.iter().enumerate().flat_map(|(i, s)| std::iter::repeat_n(i, s.columns.len())).collect();
        // The batch signals and the ensemble are detectors too: all of them read the canonical view.
        let detector_signals = specs
            .iter()
            .enumerate()
            .filter(|(i, s)| s.detector || *i >= doc_signals.len())
            .fold(0, |set: SignalSet, (i, _)| set | 1 << i);
        drop(specs);
        let mut early_exit: RuleMask = 0;
        if !score_all {
            for (i, action) in rule_actions.iter().enumerate() {
                if *action == Action::Reject && (detector_rules >> i) & 1 == 0 {
                    early_exit |= 1 << i;
                }
            }
        }
        let mut doc_offsets = Vec::with_capacity(doc_signals.len());
        let (mut col, mut rule) = (0usize, 0usize);
        for signal in &doc_signals {
            doc_offsets.push((col, rule));
            col += signal.spec().columns.len();
            rule += signal.spec().rules.len();
        }
        let mut quality_order: Vec<usize> =
            (0..doc_signals.len()).filter(|&k| !doc_signals[k].spec().detector).collect();
        quality_order.sort_by_key(|&k| doc_signals[k].spec().cost_rank);
        let raw_analysis = reads_analysis(&doc_signals, false);
        let canonical_analysis = reads_analysis(&doc_signals, true);
        let canonical_view = doc_signals.iter().any(|s| s.spec().detector) || !batch_signals.is_empty();
        Ok(Scorer {
            doc_signals,
            batch_signals,
            columns,
            rules,
            rule_actions,
            detector_rules,
            ensemble,
            expensive,
            raw_analysis,
            canonical_analysis,
            canonical_view,
            doc_offsets,
            early_exit,
            quality_order,
            detector_signals,
            column_signals,
        })
    }

    /// What turns this scorer's fired rules into verdicts: each rule's action after the config's overrides,
    /// which rules are the detectors' (protections turn their rejections into flags) and which is the ensemble's
    /// (the last rule, when the ensemble is on).
    pub fn decider(&self) -> Decider {
        let ensemble_rule = self.ensemble.as_ref().map(|_| self.rules.len() - 1);
        Decider::new(&self.rules, &self.rule_actions, self.detector_rules, ensemble_rule)
    }

    pub fn ensemble(&self) -> Option<&Ensemble> {
        self.ensemble.as_ref()
    }

    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The columns of the detectors, which read the canonical view: the only columns an ensemble may combine,
    /// since the quality rules' columns (counts of lines, bullets, words) describe how a page is laid out.
    pub fn detector_columns(&self) -> Vec<String> {
        self.doc_signals
            .iter()
            .map(|s| s.spec())
            .chain(self.batch_signals.iter().map(|s| s.spec()))
            .filter(|s| s.detector)
            .flat_map(|s| s.columns.iter().filter(|c| !s.not_ensemble_inputs.contains(c)).cloned())
            .collect()
    }

    pub fn rules(&self) -> &[RuleSpec] {
        &self.rules
    }

    /// Per column of [`Scorer::columns`], the index (in [`Scorer::signal_ids`]) of the signal that writes it: a
    /// cell is not computed where [`ScoreTable::skipped`] holds that signal.
    pub fn column_signals(&self) -> &[usize] {
        &self.column_signals
    }

    /// The action of each rule, after the config's overrides.
    pub fn rule_actions(&self) -> &[Action] {
        &self.rule_actions
    }

    /// The batch signals (classifiers, language models), in the order they run.
    pub fn batch_specs(&self) -> impl Iterator<Item = &SignalSpec> {
        self.batch_signals.iter().map(|s| s.spec())
    }

    pub fn signal_ids(&self) -> Vec<&'static str> {
        self.doc_signals
            .iter()
            .map(|s| s.spec().id)
            .chain(self.batch_signals.iter().map(|s| s.spec().id))
            .chain(self.ensemble.as_ref().map(|e| e.spec().id))
            .collect()
    }

    /// Score a batch: document signals in parallel over documents, then each batch signal.
    pub fn score(&self, texts: &[&str]) -> Result<ScoreTable> {
        let n = texts.len();
        let mut timings = Vec::new();
        let started = std::time::Instant::now();
        let doc_cols: usize = self.doc_signals.iter().map(|s| s.spec().columns.len()).sum();
        // Row-major scratch for the document signals, transposed into columns afterwards.
        let mut rows = vec![0f32; n * doc_cols.max(1)];
        let mut fired = vec![0 as RuleMask; n];
        let mut canonical = vec![String::new(); n];
        let mut skipped: Vec<SignalSet> = vec![0; n];
        if !self.doc_signals.is_empty() || self.canonical_view {
            rows.par_chunks_mut(doc_cols.max(1))
                .zip(fired.par_iter_mut())
                .zip(canonical.par_iter_mut().zip(skipped.par_iter_mut()))
                .zip(texts.par_iter())
                .with_min_len(8)
                .for_each(|(((row, mask), (view, skipped)), text)| {
                    SCRATCH.with(|cell| {
                        let mut scratch = cell.borrow_mut();
                        (*mask, *skipped) = self.score_doc(text, view, row, &mut scratch);
                        scratch.trim();
                    })
                });
        }
        // False where a quality rule rejected the document before the detectors ran.
        let detectors_ran: Vec<bool> = skipped.iter().map(|&s| s & self.detector_signals == 0).collect();
        let canonical: Vec<&str> = canonical.iter().map(String::as_str).collect();
        let mut columns: Vec<Vec<f32>> = Vec::with_capacity(self.columns.len());
        for c in 0..doc_cols {
            columns.push(rows.iter().skip(c).step_by(doc_cols).copied().collect());
        }
        timings.push(("heuristics", started.elapsed()));
        let n_scored = detectors_ran.iter().filter(|&&ran| ran).count() as u64;
        let mut scored = self.doc_signals_scored(&skipped);
        // Batch signals: the cheap ones on every document the quality rules kept, then (with the ensemble's
        // cascade) the expensive ones on those the cheap stage is unsure of. Unscored cells stay NaN.
        let mut offsets = Vec::with_capacity(self.batch_signals.len());
        let mut rule_offset: usize = self.doc_signals.iter().map(|s| s.spec().rules.len()).sum();
        for signal in &self.batch_signals {
            offsets.push((columns.len(), rule_offset));
            columns.extend(std::iter::repeat_n(vec![f32::NAN; n], signal.spec().columns.len()));
            rule_offset += signal.spec().rules.len();
            scored.push((signal.spec().id, 0));
        }
        let kept: Vec<usize> = (0..n).filter(|&i| detectors_ran[i]).collect();
        let doc_signals = self.doc_signals.len();
        let mut run = |k: usize, rows: &[usize], columns: &mut Vec<Vec<f32>>| -> Result<()> {
            if rows.is_empty() {
                return Ok(());
            }
            let signal = &self.batch_signals[k];
            let (col, rule) = offsets[k];
            let started = std::time::Instant::now();
            let subset: Vec<&str> = rows.iter().map(|&i| canonical[i]).collect();
            let mut cols = vec![vec![f32::NAN; rows.len()]; signal.spec().columns.len()];
            let mut local = vec![0u64; rows.len()];
            signal.score_batch(&subset, &mut cols, &mut local)?;
            timings.push((signal.spec().id, started.elapsed()));
            scored[doc_signals + k].1 += rows.len() as u64;
            for (j, &i) in rows.iter().enumerate() {
                fired[i] |= (local[j] as RuleMask) << rule;
                for (c, v) in cols.iter().enumerate() {
                    columns[col + c][i] = v[j];
                }
            }
            Ok(())
        };
        for k in (0..self.batch_signals.len()).filter(|&k| !self.expensive[k]) {
            run(k, &kept, &mut columns)?;
        }
        let mut ensemble_drivers = Vec::new();
        if let Some(e) = &self.ensemble {
            let started = std::time::Instant::now();
            let need = e.needs_full(&columns, &detectors_ran);
            let mut cheap_time = started.elapsed();
            let rows: Vec<usize> = (0..n).filter(|&i| need[i]).collect();
            for k in (0..self.batch_signals.len()).filter(|&k| self.expensive[k]) {
                run(k, &rows, &mut columns)?;
            }
            let started = std::time::Instant::now();
            let scores = e.decide(&columns, &need, &detectors_ran);
            cheap_time += started.elapsed();
            timings.push(("ensemble", cheap_time));
            scored.push((e.spec().id, n_scored));
            for (m, &machine) in fired.iter_mut().zip(&scores.machine) {
                *m |= (machine as RuleMask) << rule_offset;
            }
            columns.push(scores.p_machine);
            columns.push(scores.stage);
            ensemble_drivers = scores.drivers;
        }
        Ok(ScoreTable { columns, fired, ensemble_drivers, timings, skipped, scored })
    }

    /// Per document signal, its id and how many documents it scored (those that did not skip it).
    fn doc_signals_scored(&self, skipped: &[SignalSet]) -> Vec<(&'static str, u64)> {
        let scored = |k: usize| skipped.iter().filter(|&&set| set >> k & 1 == 0).count() as u64;
        self.doc_signals.iter().enumerate().map(|(k, s)| (s.spec().id, scored(k))).collect()
    }

    /// Score one document with the document signals: the quality rules on the raw text, cheapest first, then
    /// its canonical view (into `view`, for the batch signals too) and the detectors. With early exit, the first
    /// quality signal that rejects the document ends its scoring: the signals after it are skipped (their cells
    /// NaN). Returns the fired rules and the skipped signals.
    fn score_doc(
        &self,
        text: &str,
        view: &mut String,
        row: &mut [f32],
        scratch: &mut Scratch,
    ) -> (RuleMask, SignalSet) {
        let Scratch { analysis, canonical_analysis, set_a, set_b, hashes } = scratch;
        if self.raw_analysis {
            analysis.run(text);
        }
        let mut sets = ScratchSets { set_a, set_b, hashes };
        let mut mask: RuleMask = 0;
        let raw = Doc { text, analysis };
        for (done, &k) in self.quality_order.iter().enumerate() {
            let (signal, (col, rule)) = (&self.doc_signals[k], self.doc_offsets[k]);
            let width = signal.spec().columns.len();
            mask |= (signal.score(&raw, &mut row[col..col + width], &mut sets) as RuleMask) << rule;
            if mask & self.early_exit != 0 {
                let mut skipped = self.detector_signals;
                for &later in &self.quality_order[done + 1..] {
                    skipped |= 1 << later;
                }
                for (k, signal) in self.doc_signals.iter().enumerate().filter(|(k, _)| skipped >> k & 1 == 1) {
                    let (col, _) = self.doc_offsets[k];
                    row[col..col + signal.spec().columns.len()].fill(f32::NAN);
                }
                return (mask, skipped);
            }
        }
        if self.canonical_view {
            CANONICALIZER.with(|cell| cell.borrow_mut().run(text, view));
        }
        if self.canonical_analysis {
            canonical_analysis.run(view);
        }
        let canonical = Doc { text: view, analysis: canonical_analysis };
        for (signal, &(col, rule)) in self.doc_signals.iter().zip(&self.doc_offsets).filter(|(s, _)| s.spec().detector)
        {
            let width = signal.spec().columns.len();
            mask |= (signal.score(&canonical, &mut row[col..col + width], &mut sets) as RuleMask) << rule;
        }
        (mask, 0)
    }
}

/// Whether a quality signal (`detector` false) or a detector among `signals` reads the shared analysis of its
/// text: the raw text's analysis, or the canonical view's, runs only then.
fn reads_analysis(signals: &[Arc<dyn DocSignal>], detector: bool) -> bool {
    signals.iter().map(|s| s.spec()).any(|s| s.detector == detector && s.reads_analysis)
}

/// Every signal has its own id and writes its own columns: the output schema, the rule codes, the ensemble's
/// inputs and the timings are all looked up by name, and a name written twice is ambiguous (the same classifier
/// listed twice wrote two columns `fast_p_machine`).
fn check_unique_names(specs: &[&SignalSpec]) -> Result<()> {
    let mut ids = std::collections::HashSet::new();
    let mut writers: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    for spec in specs {
        if !ids.insert(spec.id) {
            return Err(crate::Error::Config(format!(
                "signal {} is listed twice (the same classifier twice in [[signals.classifiers]], or a model card \
                 named like another signal); each signal needs its own columns",
                spec.id
            )));
        }
        for column in &spec.columns {
            if let Some(other) = writers.insert(column, spec.id) {
                return Err(crate::Error::Config(format!(
                    "signals {other} and {} both write column {column}: a column may be written only once (twice \
                     makes the output schema ambiguous)",
                    spec.id
                )));
            }
        }
    }
    Ok(())
}

/// `a / b`, or 0 when `b` is 0 (an empty document has no ratio to speak of; its word-count rule fires).
#[inline]
pub(crate) fn ratio(a: usize, b: usize) -> f32 {
    if b == 0 {
        0.0
    } else {
        (a as f64 / b as f64) as f32
    }
}

/// Build a rule bit set from conditions in rule order.
#[inline]
pub(crate) fn rule_bits(conditions: &[bool]) -> u64 {
    conditions.iter().enumerate().fold(0u64, |m, (i, &c)| m | ((c as u64) << i))
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;

    /// Score one text with one document signal; returns (columns by name, fired rule codes).
    pub fn run(signal: &dyn DocSignal, text: &str) -> (std::collections::HashMap<String, f32>, Vec<String>) {
        let mut scratch = Scratch::default();
        let Scratch { analysis, set_a, set_b, hashes, .. } = &mut scratch;
        analysis.run(text);
        let spec = signal.spec();
        let mut out = vec![f32::NAN; spec.columns.len()];
        let doc = Doc { text, analysis };
        let bits = signal.score(&doc, &mut out, &mut ScratchSets { set_a, set_b, hashes });
        let cols = spec.columns.iter().cloned().zip(out).collect();
        let fired =
            spec.rules.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, r)| r.code.clone()).collect();
        (cols, fired)
    }

    pub fn approx(a: f32, b: f64) -> bool {
        (a as f64 - b).abs() < 1e-5
    }
}
