//! Labeled data for `calibrate` and `bench`: read labeled documents with the ordinary sources, score them
//! with the configured signals, and keep the score columns beside each document's label and group fields.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use arrow::array::{Array, StringArray};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::signal::Scorer;
use crate::source;

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
        let from = self
            .columns
            .iter()
            .position(|c| c == field)
            .ok_or_else(|| Error::Config(format!("no field {field:?} was read from the labeled data")))?;
        if let Some(d) = self.values[from].iter().position(|v| !v.is_finite()) {
            return Err(Error::Config(format!(
                "field {field:?} has no number for document {} of the labeled data (each needs one to stand for \
                 {column:?})",
                d + 1
            )));
        }
        match self.columns.iter().position(|c| c == column) {
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

/// Read and score labeled inputs (JSONL or Parquet, as `filter` reads them).
pub fn score_inputs(config: &Config, scorer: &Scorer, inputs: &[String], spec: &LabeledSpec<'_>) -> Result<Dataset> {
    let plan = source::plan_inputs(inputs)?;
    let mut input_config = config.input.clone();
    input_config.passthrough = spec
        .group_fields
        .iter()
        .chain(spec.score_fields)
        .chain(std::iter::once(&spec.label_field.to_string()))
        .cloned()
        .collect();
    let mut columns: Vec<String> = scorer.columns().to_vec();
    columns.extend(spec.score_fields.iter().cloned());
    let mut data = Dataset {
        values: vec![Vec::new(); columns.len()],
        columns,
        groups: spec.group_fields.iter().map(|g| (g.clone(), Vec::new())).collect(),
        ..Default::default()
    };
    let n_scorer = scorer.columns().len();
    for (index, input) in plan.iter().enumerate() {
        for batch in source::open(index, input, &input_config)? {
            data.unreadable += batch.quarantined.len() as u64;
            if let Some(d) = &batch.damage {
                return Err(Error::input(&input.path, d));
            }
            if batch.is_empty() {
                continue;
            }
            let docs = &batch.docs;
            let strings = |field: &str| -> Option<&StringArray> {
                docs.column_by_name(field).and_then(|c| c.as_any().downcast_ref::<StringArray>())
            };
            let labels = strings(spec.label_field).ok_or_else(|| {
                Error::input(&input.path, format!("no label field {:?} (set --label-field)", spec.label_field))
            })?;
            for i in 0..labels.len() {
                let v = if labels.is_valid(i) { labels.value(i) } else { "" };
                data.labels.push(parse_label(v).ok_or_else(|| {
                    Error::input(
                        &input.path,
                        format!(
                            "label {v:?} of document {} is neither human nor machine",
                            docs.column(0).as_any().downcast_ref::<StringArray>().map(|a| a.value(i)).unwrap_or("?")
                        ),
                    )
                })?);
            }
            for g in spec.group_fields {
                let out = data.groups.get_mut(g).expect("group field registered");
                match strings(g) {
                    Some(a) => {
                        out.extend(
                            (0..a.len()).map(|i| if a.is_valid(i) { a.value(i).to_string() } else { String::new() }),
                        )
                    }
                    None => out.extend(std::iter::repeat_n(String::new(), batch.len())),
                }
            }
            for (k, f) in spec.score_fields.iter().enumerate() {
                let a = strings(f).ok_or_else(|| Error::input(&input.path, format!("no score field {f:?}")))?;
                data.values[n_scorer + k].extend((0..a.len()).map(|i| {
                    if a.is_valid(i) {
                        a.value(i).trim().parse::<f32>().unwrap_or(f32::NAN)
                    } else {
                        f32::NAN
                    }
                }));
            }
            let texts = batch.texts();
            let started = Instant::now();
            let table = scorer.score(&texts)?;
            data.score_time += started.elapsed();
            data.bytes += texts.iter().map(|t| t.len() as u64).sum::<u64>();
            for (k, t) in &table.timings {
                add_timing(&mut data.timings, k, *t);
            }
            for (c, v) in table.columns.into_iter().enumerate() {
                data.values[c].extend(v);
            }
        }
    }
    Ok(data)
}

fn add_timing(timings: &mut Vec<(String, Duration)>, key: &str, t: Duration) {
    match timings.iter_mut().find(|(k, _)| k == key) {
        Some((_, d)) => *d += t,
        None => timings.push((key.to_string(), t)),
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

    #[test]
    fn scores_labeled_jsonl_with_groups_and_external_scores() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.jsonl");
        std::fs::write(
            &path,
            concat!(
                r#"{"text":"The cat sat on the mat. It was warm and the sun was out.","label":"human","source":"a","ext":"0.25"}"#,
                "\n",
                r#"{"text":"Delve into the intricate tapestry of innovation.","label":"machine","source":"b","ext":"0.75"}"#,
                "\n"
            ),
        )
        .unwrap();
        let mut config = Config::default();
        config.signals.classifiers.clear();
        config.ensemble.enabled = Some(false);
        let scorer = Scorer::from_config(&config).unwrap();
        let spec =
            LabeledSpec { label_field: "label", group_fields: &["source".into()], score_fields: &["ext".into()] };
        let d = score_inputs(&config, &scorer, &[path.display().to_string()], &spec).unwrap();
        assert_eq!(d.labels, vec![false, true]);
        assert_eq!(d.groups["source"], vec!["a", "b"]);
        assert_eq!(d.column("ext").unwrap(), &[0.25, 0.75]);
        assert_eq!(d.columns.len(), scorer.columns().len() + 1);
        assert!(d.values.iter().all(|v| v.len() == 2));
        let words = d.column("gopher_quality_word_count").unwrap();
        assert_eq!(words[1], 7.0);

        std::fs::write(&path, r#"{"text":"x","label":"unsure"}"#).unwrap();
        let err = score_inputs(&config, &scorer, &[path.display().to_string()], &spec).unwrap_err().to_string();
        assert!(err.contains("neither human nor machine"), "{err}");
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
        // A document without a number, or no such field, is an error.
        let mut d = dataset(&["a", "oof"], vec![vec![1.0, 2.0], vec![0.1, f32::NAN]]);
        let err = d.set_column_from_field("m_p", "oof").unwrap_err().to_string();
        assert!(err.contains("document 2"), "{err}");
        let err = d.set_column_from_field("m_p", "nope").unwrap_err().to_string();
        assert!(err.contains("no field \"nope\""), "{err}");
    }
}
