//! The scoring stage's work on one batch: signals, protections and the decision, and the columns `filter` writes.
//! One piece of code for the run over files and for batches handed over in memory ([`super::records`]), so the
//! two cannot drift apart.

use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use crate::batch::DocBatch;
use crate::config::Config;
use crate::decide::protection::Protection;
use crate::decide::verdict::{Decider, VERDICT_CLEAN, VERDICT_REJECTED};
use crate::error::Result;
use crate::signal::Scorer;
use crate::spec::RuleMask;
use crate::stats::RuleCount;

/// The scorer, the decider and the protections of a config, built once (models loaded, ONNX sessions made).
pub struct Scoring {
    scorer: Scorer,
    decider: Decider,
    protection: Protection,
}

/// One batch scored and decided.
pub struct Annotated {
    /// The batch's columns, then the score columns (`<signal>_<measure>`, `p_machine`, `ensemble_stage`, ...),
    /// `vintage` and `signed_human` when protections are configured, `verdict`, `reasons` and `flags`: the
    /// columns of `clean/` and `rejected/`.
    pub batch: RecordBatch,
    /// Per row: the verdict is "rejected".
    pub rejected: BooleanArray,
    /// Per rule of the scorer, in its order: documents it fired on and rejected.
    pub rules: Vec<RuleCount>,
    /// Documents scored per signal.
    pub scored: Vec<(&'static str, u64)>,
}

impl Scoring {
    /// Validate the config and build what scoring needs: what `filter` does before it reads an input.
    pub fn new(config: &Config) -> Result<Self> {
        config.validate()?;
        let scorer = config.checked_scorer()?;
        Ok(Scoring { decider: scorer.decider(), protection: Protection::new(&config.vintage, &config.trust)?, scorer })
    }

    pub fn scorer(&self) -> &Scorer {
        &self.scorer
    }

    /// Score the documents of `batch` (its quarantined records are not touched) and decide each one. Runs on
    /// the current rayon pool.
    pub fn annotate(&self, batch: &DocBatch) -> Result<Annotated> {
        let (scorer, protection) = (&self.scorer, &self.protection);
        let texts = batch.texts();
        let scores = scorer.score(&texts)?;
        let signed = protection.signed(&batch.docs, &texts);
        drop(texts);
        let is_vintage = protection.of(&batch.docs);
        let keep_vintage = protection.keep_vintage;
        let protected: Option<Vec<bool>> = (signed.is_some() || (keep_vintage && is_vintage.is_some())).then(|| {
            (0..batch.len())
                .map(|i| {
                    signed.as_ref().is_some_and(|s| s[i])
                        || (keep_vintage && is_vintage.as_ref().is_some_and(|v| v[i] == Some(true)))
                })
                .collect()
        });
        let decisions = self.decider.decide(&scores.fired, protected.as_deref(), Some(&scores.ensemble_drivers));
        let mut rules = vec![RuleCount::default(); scorer.rules().len()];
        let reject_mask = self.decider.reject_mask();
        for (mask, &rejected) in scores.fired.iter().zip(&decisions.rejected) {
            let mut m: RuleMask = *mask;
            while m != 0 {
                let i = m.trailing_zeros() as usize;
                rules[i].fired += 1;
                if rejected && (reject_mask >> i) & 1 == 1 {
                    rules[i].rejected += 1;
                }
                m &= m - 1;
            }
        }

        let docs = &batch.docs;
        let mut fields: Vec<Field> = docs.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        let mut columns: Vec<ArrayRef> = docs.columns().to_vec();
        let any_skipped = scores.skipped.iter().any(|&s| s != 0);
        for ((name, values), &signal) in scorer.columns().iter().zip(scores.columns).zip(scorer.column_signals()) {
            fields.push(Field::new(name, DataType::Float32, true));
            columns.push(Arc::new(if any_skipped && scores.skipped.iter().any(|&s| s >> signal & 1 == 1) {
                // Not computed (a quality rule rejected the document first) is null; NaN stays "computed, undefined".
                Float32Array::from_iter(
                    values.iter().zip(&scores.skipped).map(|(&v, &s)| (s >> signal & 1 == 0).then_some(v)),
                )
            } else {
                Float32Array::from(values)
            }));
        }
        if let Some(v) = &is_vintage {
            fields.push(Field::new("vintage", DataType::Boolean, true));
            columns.push(Arc::new(BooleanArray::from(v.clone())));
        }
        if let Some(s) = &signed {
            fields.push(Field::new("signed_human", DataType::Boolean, false));
            columns.push(Arc::new(BooleanArray::from(s.clone())));
        }
        let verdict = StringArray::from_iter_values(decisions.rejected.iter().map(|&r| {
            if r {
                VERDICT_REJECTED
            } else {
                VERDICT_CLEAN
            }
        }));
        for (name, col) in [("verdict", verdict), ("reasons", decisions.reasons), ("flags", decisions.flags)] {
            fields.push(Field::new(name, DataType::Utf8, false));
            columns.push(Arc::new(col));
        }
        Ok(Annotated {
            batch: RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?,
            rejected: BooleanArray::from(decisions.rejected),
            rules,
            scored: scores.scored,
        })
    }
}
