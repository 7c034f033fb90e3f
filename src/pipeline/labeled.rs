//! The pipeline's first two stages over labeled inputs, for `calibrate` and `bench`: read labeled documents
//! with the ordinary sources, score them with the configured signals, and keep the score columns beside each
//! document's label and group fields.

use std::time::{Duration, Instant};

use arrow::array::{Array, StringArray};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::labeled::{parse_label, Dataset, LabeledSpec};
use crate::signal::Scorer;
use crate::source;

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
                let values =
                    score_field(docs, f).ok_or_else(|| Error::input(&input.path, format!("no score field {f:?}")))?;
                data.values[n_scorer + k].extend(values);
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

/// A score field's values: JSON gives text (parsed; not a number is NaN), Parquet and Arrow inputs numbers (an
/// earlier `svalbard filter` run's score columns, say). Null is NaN. None when the field is absent or of
/// another type.
fn score_field(docs: &arrow::array::RecordBatch, field: &str) -> Option<Vec<f32>> {
    use arrow::array::Float32Array;
    let column = docs.column_by_name(field)?;
    if let Some(a) = column.as_any().downcast_ref::<StringArray>() {
        let parse = |i| if a.is_valid(i) { a.value(i).trim().parse::<f32>().unwrap_or(f32::NAN) } else { f32::NAN };
        return Some((0..a.len()).map(parse).collect());
    }
    if !column.data_type().is_numeric() {
        return None;
    }
    let cast = arrow::compute::cast(column, &arrow::datatypes::DataType::Float32).ok()?;
    let a = cast.as_any().downcast_ref::<Float32Array>()?;
    Some((0..a.len()).map(|i| if a.is_valid(i) { a.value(i) } else { f32::NAN }).collect())
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
        let scorer = config.scorer().unwrap();
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

    /// Score fields of Parquet and Arrow inputs are numbers (a `svalbard filter` output's score columns): any
    /// numeric type is read, null is NaN; text is parsed as in JSON; another type is no score field.
    #[test]
    fn score_fields_are_text_or_numbers() {
        use arrow::array::{BooleanArray, Float32Array, Float64Array, Int64Array};
        use std::sync::Arc;
        let batch = arrow::array::RecordBatch::try_from_iter([
            ("f32", Arc::new(Float32Array::from(vec![Some(0.5), None])) as arrow::array::ArrayRef),
            ("f64", Arc::new(Float64Array::from(vec![0.25, 2.0])) as _),
            ("i64", Arc::new(Int64Array::from(vec![3, -1])) as _),
            ("text", Arc::new(StringArray::from(vec![" 0.75", "n/a"])) as _),
            ("flag", Arc::new(BooleanArray::from(vec![true, false])) as _),
        ])
        .unwrap();
        let read = |f: &str| score_field(&batch, f).map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        let bits = |v: &[f32]| Some(v.iter().map(|x| x.to_bits()).collect::<Vec<_>>());
        assert_eq!(read("f32"), bits(&[0.5, f32::NAN]));
        assert_eq!(read("f64"), bits(&[0.25, 2.0]));
        assert_eq!(read("i64"), bits(&[3.0, -1.0]));
        assert_eq!(read("text"), bits(&[0.75, f32::NAN]));
        assert_eq!(read("flag"), None);
        assert_eq!(read("absent"), None);
    }
}
