//! From fired rules to a verdict with reasons.
//!
//! A document is rejected when any fired rule's action is `reject`; the rejecting rules are its `reasons`,
//! and rules that fired with action `flag` are its `flags`. Actions come from each signal's `action` and
//! the config's `[rules]` overrides (resolved by [`crate::signal::Scorer`], which builds the [`Decider`]).

use arrow::array::StringArray;

use crate::spec::{Action, RuleMask, RuleSpec};

pub const VERDICT_CLEAN: &str = "clean";
pub const VERDICT_REJECTED: &str = "rejected";

pub struct Decider {
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

impl Decider {
    /// `rules` and their `actions` in rule order; `detector`: the detectors' rules (a protected document's
    /// rejections by them become flags); `ensemble`: the index of the ensemble's rule, when it is on.
    pub fn new(rules: &[RuleSpec], actions: &[Action], detector: RuleMask, ensemble: Option<usize>) -> Self {
        let mut reject = 0 as RuleMask;
        let mut flag = 0 as RuleMask;
        for (i, a) in actions.iter().enumerate() {
            match a {
                Action::Reject => reject |= 1 << i,
                Action::Flag => flag |= 1 << i,
                Action::Off => {}
            }
        }
        Decider { reject, flag, codes: rules.iter().map(|r| r.code.clone()).collect(), detector, ensemble }
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
