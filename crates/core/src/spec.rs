//! What every scoring stage declares (a signal, the ensemble): its score columns, the rules it can fire with
//! their stable codes, and what a fired rule does by default. The policy and the config read these, so they
//! sit below the stages that implement them.

use serde::{Deserialize, Serialize};

/// What fired rules of a signal do to a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// A fired rule rejects the document.
    #[default]
    Reject,
    /// A fired rule is recorded in the `flags` column; the document stays clean.
    Flag,
    /// The rule is not evaluated as a decision at all (its score columns are still written).
    Off,
}

impl Action {
    /// The name the config and `svalbard rules` use (serde's, by `rename_all = "lowercase"`).
    pub fn name(self) -> &'static str {
        match self {
            Action::Reject => "reject",
            Action::Flag => "flag",
            Action::Off => "off",
        }
    }
}

/// A rule a signal can fire, with a stable code (`<signal>.<rule>`).
#[derive(Clone, Debug)]
pub struct RuleSpec {
    pub code: String,
    pub description: String,
}

/// What a signal adds to the output.
#[derive(Clone, Debug)]
pub struct SignalSpec {
    pub id: &'static str,
    /// Column names, all Float32.
    pub columns: Vec<String>,
    pub rules: Vec<RuleSpec>,
    /// The action for this signal's rules unless `[rules]` in the config overrides one.
    pub action: Action,
    /// A machine-text detector (as opposed to a quality rule): it reads the canonical view, its columns are
    /// the ensemble's inputs, and `vintage.keep` overrides its rejections.
    pub detector: bool,
    /// Columns of a detector that the ensemble may not combine: counts that grow with a document's length,
    /// which depends on how much of a page an extractor kept.
    pub not_ensemble_inputs: Vec<String>,
    /// Rank of a quality signal's cost per document beyond the shared analysis pass (which runs anyway), cheapest
    /// 0: with early exit the quality signals run in this order and stop at the first that rejects, so a page a
    /// cheap rule rejects never pays for an expensive one (the costs: benches/RESULTS.md).
    pub cost_rank: u8,
    /// Whether the signal reads [`crate::text::Analysis`] (the shared pass over its text). One that does not
    /// scans the text itself for the little it needs, and a run whose signals of a text all do without it
    /// skips that text's analysis.
    pub reads_analysis: bool,
}

impl SignalSpec {
    pub fn new(id: &'static str, action: Action, columns: &[&str], rules: &[(&str, &str)]) -> Self {
        SignalSpec {
            id,
            action,
            detector: false,
            not_ensemble_inputs: Vec::new(),
            cost_rank: 0,
            reads_analysis: true,
            columns: columns.iter().map(|c| format!("{id}_{c}")).collect(),
            rules: rules
                .iter()
                .map(|(code, description)| RuleSpec {
                    code: format!("{id}.{code}"),
                    description: description.to_string(),
                })
                .collect(),
        }
    }

    /// Mark the signal as a machine-text detector.
    pub fn detector(mut self) -> Self {
        self.detector = true;
        self
    }

    /// Mark the signal as reading only the text, not the shared analysis ([`SignalSpec::reads_analysis`]).
    pub fn without_analysis(mut self) -> Self {
        self.reads_analysis = false;
        self
    }

    /// Set [`SignalSpec::cost_rank`].
    pub fn cost_rank(mut self, rank: u8) -> Self {
        self.cost_rank = rank;
        self
    }

    /// Keep these measures (names without the signal's prefix) out of the ensemble.
    pub fn not_ensemble_inputs(mut self, measures: &[&str]) -> Self {
        self.not_ensemble_inputs = measures.iter().map(|m| format!("{}_{m}", self.id)).collect();
        self
    }
}

/// Bit set of fired rules over all signals of a scorer (at most 128 rules).
pub type RuleMask = u128;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_are_the_configs() {
        for a in [Action::Reject, Action::Flag, Action::Off] {
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{}\"", a.name()));
        }
    }
}
