//! Policy: from fired rules to a verdict with reasons.
//!
//! A document is rejected when any fired rule's action is `reject`; the rejecting rules are its `reasons`,
//! and rules that fired with action `flag` are its `flags`. Actions come from each signal's `action` and
//! the config's `[rules]` overrides (resolved by [`crate::signal::Scorer`]).

use arrow::array::StringArray;

use crate::signal::Scorer;
use crate::spec::{Action, RuleMask};

pub const VERDICT_CLEAN: &str = "clean";
pub const VERDICT_REJECTED: &str = "rejected";

pub struct Policy {
    reject: RuleMask,
    flag: RuleMask,
    codes: Vec<String>,
    /// Rules of machine-text detectors, which cannot reject a protected document (vintage with
    /// `vintage.keep`, or signed by a trusted publisher): they only flag it.
    detector: RuleMask,
    /// The ensemble's rule, whose code carries the signals that drove it.
    ensemble: Option<usize>,
}

/// Verdicts for a batch.
pub struct Decisions {
    pub rejected: Vec<bool>,
    pub reasons: StringArray,
    pub flags: StringArray,
}

impl Policy {
    pub fn new(scorer: &Scorer) -> Self {
        let mut reject = 0 as RuleMask;
        let mut flag = 0 as RuleMask;
        for (i, a) in scorer.rule_actions().iter().enumerate() {
            match a {
                Action::Reject => reject |= 1 << i,
                Action::Flag => flag |= 1 << i,
                Action::Off => {}
            }
        }
        Policy {
            reject,
            flag,
            codes: scorer.rules().iter().map(|r| r.code.clone()).collect(),
            detector: scorer.detector_rules(),
            ensemble: scorer.ensemble_rule(),
        }
    }

    pub fn reject_mask(&self) -> RuleMask {
        self.reject
    }

    /// Verdicts for a batch; `protected[i]` marks documents no detector may reject (quality rules still apply).
    /// `drivers[i]`, when given, explains the ensemble's rule for document i.
    pub fn decide(&self, fired: &[RuleMask], protected: Option<&[bool]>, drivers: Option<&[String]>) -> Decisions {
        let masks: Vec<(RuleMask, RuleMask)> = fired
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let reject = if protected.is_some_and(|p| p[i]) { self.reject & !self.detector } else { self.reject };
                (m & reject, m & !reject & (self.flag | self.reject))
            })
            .collect();
        let detail = |i: usize| drivers.and_then(|d| d.get(i)).map(String::as_str).unwrap_or("");
        Decisions {
            rejected: masks.iter().map(|(r, _)| *r != 0).collect(),
            reasons: StringArray::from_iter_values(
                masks.iter().enumerate().map(|(i, (r, _))| self.explain(*r, detail(i))),
            ),
            flags: StringArray::from_iter_values(
                masks.iter().enumerate().map(|(i, (_, f))| self.explain(*f, detail(i))),
            ),
        }
    }

    /// Comma-separated codes of the set bits, in rule order, with the ensemble's code followed by `(detail)`
    /// when there is one.
    fn explain(&self, mut mask: RuleMask, detail: &str) -> String {
        let mut s = String::new();
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            if !s.is_empty() {
                s.push(',');
            }
            s.push_str(&self.codes[i]);
            if Some(i) == self.ensemble && !detail.is_empty() {
                s.push('(');
                s.push_str(detail);
                s.push(')');
            }
            mask &= mask - 1;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use arrow::array::Array;

    #[test]
    fn reject_flag_and_override() {
        let mut config = Config::default();
        config.ensemble.enabled = Some(false);
        config.rules.insert("c4.too_few_sentences".into(), Action::Flag);
        config.rules.insert("fineweb.short_lines".into(), Action::Off);
        let scorer = config.scorer().unwrap();
        let policy = Policy::new(&scorer);
        let idx = |code: &str| scorer.rules().iter().position(|r| r.code == code).unwrap();
        let bit = |code: &str| (1 as RuleMask) << idx(code);
        let fired = vec![
            0,
            bit("c4.too_few_sentences"),
            bit("c4.too_few_sentences") | bit("gopher_quality.too_few_words") | bit("vocab.excess_rate"),
            bit("fineweb.short_lines"),
        ];
        let d = policy.decide(&fired, None, None);
        assert_eq!(d.rejected, vec![false, false, true, false]);
        assert_eq!(d.reasons.value(2), "gopher_quality.too_few_words");
        assert_eq!(d.flags.value(1), "c4.too_few_sentences");
        assert_eq!(d.flags.value(2), "c4.too_few_sentences,vocab.excess_rate");
        assert_eq!(d.flags.value(3), "");
        assert_eq!(d.reasons.len(), 4);

        // A protected document's detector rejection becomes a flag; quality rules still reject it.
        let fired = vec![bit("fast.machine"), bit("fast.machine"), bit("fast.machine") | bit("c4.lorem_ipsum")];
        let d = policy.decide(&fired, Some(&[true, false, true]), None);
        assert_eq!(d.rejected, vec![false, true, true]);
        assert_eq!(d.flags.value(0), "fast.machine");
        assert_eq!(d.reasons.value(2), "c4.lorem_ipsum");
    }
}
