//! Labeled data for `calibrate` and `bench`: score columns beside each document's label and group fields
//! ([`crate::pipeline::labeled`] reads and scores them).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{Error, Result};

/// Scored, labeled documents, column-major.
#[derive(Debug, Default, Clone)]
pub struct Dataset {
    /// Score column names (the scorer's, then any external columns read from the input).
    pub columns: Vec<String>,
    /// `values[c][d]`: column c of document d (NaN = not scored).
    pub values: Vec<Vec<f32>>,
    /// true = machine.
    pub labels: Vec<bool>,
    /// Requested group fields (e.g. source, generator), "" where a document has none.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Input bytes and documents scored, and the time spent in the scorer.
    pub bytes: u64,
    pub score_time: Duration,
    /// Records the sources could not read (quarantined): counted, not scored.
    pub unreadable: u64,
    /// Scoring time per stage (see [`crate::signal::ScoreTable::timings`]), in first-seen order.
    pub timings: Vec<(String, Duration)>,
}

/// What to read besides the text.
pub struct LabeledSpec<'a> {
    pub label_field: &'a str,
    pub group_fields: &'a [String],
    /// Input fields holding external detectors' scores (higher = machine), parsed as numbers.
    pub score_fields: &'a [String],
}

/// A label value: machine (true) or human (false).
pub fn parse_label(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "machine" | "ai" | "generated" | "llm" | "synthetic" | "1" | "true" => Some(true),
        "human" | "0" | "false" => Some(false),
        _ => None,
    }
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn column(&self, name: &str) -> Option<&[f32]> {
        self.columns.iter().position(|c| c == name).map(|i| self.values[i].as_slice())
    }

    /// Make the values of the external score column `field` the score column `column` (in its place, or added
    /// when no signal scored it here), and drop `field`: the signal's own scores of these documents are not the
    /// ones to fit on (a model scoring its own training documents), its out-of-fold scores are. Every document
    /// must have a finite value.
    pub fn set_column_from_field(&mut self, column: &str, field: &str) -> Result<()> {
        // Fields come after the scorer's columns: the last of a name is the field where both share it.
        let from = self
            .columns
            .iter()
            .rposition(|c| c == field)
            .ok_or_else(|| Error::Config(format!("no field {field:?} was read from the labeled data")))?;
        if let Some(d) = self.values[from].iter().position(|v| !v.is_finite()) {
            return Err(Error::Config(format!(
                "field {field:?} has no number for document {} of the labeled data (each needs one to stand for \
                 {column:?})",
                d + 1
            )));
        }
        match self.columns.iter().position(|c| c == column) {
            // The field has the column's name, and no signal wrote that column: it is the column already.
            Some(to) if to == from => {}
            Some(to) => {
                self.values.swap(from, to);
                self.values.remove(from);
                self.columns.remove(from);
            }
            None => self.columns[from] = column.to_string(),
        }
        Ok(())
    }

    /// The rows `keep` selects, in order.
    pub fn select(&self, keep: &[bool]) -> Dataset {
        let pick = |v: &Vec<f32>| v.iter().zip(keep).filter(|(_, &k)| k).map(|(x, _)| *x).collect::<Vec<f32>>();
        Dataset {
            columns: self.columns.clone(),
            values: self.values.iter().map(pick).collect(),
            labels: self.labels.iter().zip(keep).filter(|(_, &k)| k).map(|(l, _)| *l).collect(),
            groups: self
                .groups
                .iter()
                .map(|(k, g)| (k.clone(), g.iter().zip(keep).filter(|(_, &k)| k).map(|(x, _)| x.clone()).collect()))
                .collect(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(parse_label("machine"), Some(true));
        assert_eq!(parse_label(" Human "), Some(false));
        assert_eq!(parse_label("1"), Some(true));
        assert_eq!(parse_label("maybe"), None);
    }

    fn dataset(columns: &[&str], values: Vec<Vec<f32>>) -> Dataset {
        Dataset { columns: columns.iter().map(|c| c.to_string()).collect(), values, ..Default::default() }
    }

    #[test]
    fn a_field_replaces_a_scored_column_or_stands_for_an_unscored_one() {
        // Scored here: the field's values move into the column's place and the field is dropped.
        let mut d = dataset(&["a", "m_p", "oof"], vec![vec![1.0, 2.0], vec![0.9, 0.8], vec![0.1, 0.2]]);
        d.set_column_from_field("m_p", "oof").unwrap();
        assert_eq!(d.columns, ["a", "m_p"]);
        assert_eq!(d.values, [vec![1.0, 2.0], vec![0.1, 0.2]]);
        // Not scored (calibrate did not run the model): the field becomes the column.
        let mut d = dataset(&["a", "oof"], vec![vec![1.0, 2.0], vec![0.1, 0.2]]);
        d.set_column_from_field("m_p", "oof").unwrap();
        assert_eq!(d.columns, ["a", "m_p"]);
        assert_eq!(d.column("m_p").unwrap(), &[0.1, 0.2]);
        // A field of the column's own name: it is the column, whether a signal wrote one (the field, read after
        // the scorer's columns, wins) or not.
        let mut d = dataset(&["a", "m_p", "m_p"], vec![vec![1.0, 2.0], vec![0.9, 0.8], vec![0.1, 0.2]]);
        d.set_column_from_field("m_p", "m_p").unwrap();
        assert_eq!(d.columns, ["a", "m_p"]);
        assert_eq!(d.values, [vec![1.0, 2.0], vec![0.1, 0.2]]);
        let mut d = dataset(&["a", "m_p"], vec![vec![1.0, 2.0], vec![0.1, 0.2]]);
        d.set_column_from_field("m_p", "m_p").unwrap();
        assert_eq!(d.columns, ["a", "m_p"]);
        assert_eq!(d.values, [vec![1.0, 2.0], vec![0.1, 0.2]]);
        // A document without a number, or no such field, is an error.
        let mut d = dataset(&["a", "oof"], vec![vec![1.0, 2.0], vec![0.1, f32::NAN]]);
        let err = d.set_column_from_field("m_p", "oof").unwrap_err().to_string();
        assert!(err.contains("document 2"), "{err}");
        let err = d.set_column_from_field("m_p", "nope").unwrap_err().to_string();
        assert!(err.contains("no field \"nope\""), "{err}");
    }
}
