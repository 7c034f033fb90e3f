//! Record batches handed over in memory rather than read from a file: the Python package's `Filter.score`, and
//! through it Ray Data, datatrove and Spark. A batch is taken as a Parquet input's rows are (text and id columns
//! of any string type, the other columns passed through by `input.passthrough`, a text that is null, not UTF-8
//! or over `input.max_doc_bytes` is malformed), scored by the same [`Scoring`] as `filter`, and comes back with
//! every row in its place: a malformed row is not dropped but marked `verdict = "quarantine"` with its error.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray, StringBuilder, UInt32Array};
use arrow::compute::{cast_with_options, filter, take, CastOptions};
use arrow::datatypes::{DataType, Field, Schema};

use super::Scoring;
use crate::batch::{doc_schema, DocBatch};
use crate::error::{Error, Result};
use crate::source::parquet::{holds_text, text_as_utf8, TextRowProblem};
use crate::source::InputConfig;

/// The verdict of a row that could not be scored (the word of the `quarantine/` partition).
pub const VERDICT_QUARANTINE: &str = "quarantine";
/// The last column of [`score_records`]' output: why a row is in quarantine, null for the others.
pub const ERROR_COLUMN: &str = "error";

/// Score `batch` and return, row for row, the columns `filter` writes to `clean/` and `rejected/` (id and text as
/// Utf8, the passthrough columns as they came, the score and decision columns), then [`ERROR_COLUMN`]. A malformed
/// row has `verdict = "quarantine"`, empty `reasons` and `flags`, null scores, its text when it is a string
/// (null when it is null or not UTF-8), and its error; every field is nullable, so that the schema is the same
/// whether a batch holds such rows or not. A row without an id gets `<source>:<row>`, as a file's row gets
/// `<file name>:<row>`. Errors are the batch's own: no text column, or one that holds no strings.
pub fn score_records(scoring: &Scoring, input: &InputConfig, source: &str, batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    let text_field = &input.text_field;
    let text_idx =
        schema.index_of(text_field).map_err(|_| Error::input(source, format!("no column {text_field:?}")))?;
    let raw_text = batch.column(text_idx);
    if !holds_text(raw_text.data_type()) {
        let t = raw_text.data_type();
        return Err(Error::input(source, format!("column {text_field:?} is {t}, not a string")));
    }
    // The Parquet reader's conversion and row checks: a row that is null, not UTF-8 or oversize is marked rather
    // than failing the batch.
    let (text, not_utf8) = text_as_utf8(raw_text).map_err(|e| Error::input(source, e))?;
    let mut not_utf8 = not_utf8.into_iter().peekable();
    let errors: Vec<Option<String>> = (0..batch.num_rows())
        .map(|i| {
            let bad_bytes = not_utf8.next_if_eq(&i).is_some();
            TextRowProblem::of(&text, i, bad_bytes, input.max_doc_bytes).map(|p| p.message(input.max_doc_bytes))
        })
        .collect();
    let lenient = CastOptions { safe: true, ..Default::default() };
    let ids = ids(batch, &input.id_field, source, &lenient)?;
    let passthrough: Vec<usize> =
        (0..schema.fields().len()).filter(|&i| input.passes_through(schema.field(i).name())).collect();
    let mut columns: Vec<ArrayRef> = vec![Arc::new(ids.clone()), Arc::new(text.clone())];
    columns.extend(passthrough.iter().map(|&i| batch.column(i).clone()));
    let n_malformed = errors.iter().filter(|e| e.is_some()).count();
    let keep = BooleanArray::from_iter(errors.iter().map(|e| Some(e.is_none())));
    if n_malformed > 0 {
        columns = columns.iter().map(|c| filter(c, &keep)).collect::<std::result::Result<_, _>>()?;
    }
    let docs_schema = doc_schema(&input.id_field, text_field, passthrough.iter().map(|&i| schema.field(i).clone()));
    let docs = RecordBatch::try_new(docs_schema, columns)?;
    let bytes = (0..docs.num_rows()).map(|i| docs.column(1).as_string::<i32>().value(i).len() as u64).sum();
    let docs = DocBatch { input: 0, docs, quarantined: Vec::new(), bytes, blank_lines: 0, damage: None };
    let annotated = scoring.annotate(&docs)?.batch;

    let mut fields: Vec<Field> =
        annotated.schema().fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
    fields.push(Field::new(ERROR_COLUMN, DataType::Utf8, true));
    let mut out: Vec<ArrayRef> = annotated.columns().to_vec();
    if n_malformed > 0 {
        // Back to one row per input row: the rows scored in their places, null in the malformed rows' places.
        let mut next = 0u32;
        let places = UInt32Array::from_iter(keep.iter().map(|k| {
            k.unwrap_or(false).then(|| {
                next += 1;
                next - 1
            })
        }));
        let n_docs_columns = 2 + passthrough.len();
        for (k, column) in out.iter_mut().enumerate() {
            *column = match (k, fields[k].name().as_str()) {
                (0, _) => Arc::new(ids.clone()),
                (1, _) => Arc::new(text.clone()),
                (k, _) if k < n_docs_columns => batch.column(passthrough[k - 2]).clone(),
                (_, name @ ("verdict" | "reasons" | "flags")) => {
                    let instead = if name == "verdict" { VERDICT_QUARANTINE } else { "" };
                    let scored = column.as_string::<i32>();
                    let mut b = StringBuilder::with_capacity(places.len(), scored.value_data().len());
                    for place in places.iter() {
                        b.append_value(place.map_or(instead, |j| scored.value(j as usize)));
                    }
                    Arc::new(b.finish())
                }
                _ => take(column, &places, None)?,
            };
        }
    }
    out.push(Arc::new(StringArray::from(errors)));
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), out)?)
}

/// The id of every row, as Utf8: the id column cast (numbers too), or `<source>:<row>` where it is missing, null
/// or not UTF-8.
fn ids(batch: &RecordBatch, id_field: &str, source: &str, lenient: &CastOptions) -> Result<StringArray> {
    let given = match batch.column_by_name(id_field) {
        Some(c) => Some(cast_with_options(c, &DataType::Utf8, lenient)?),
        None => None,
    };
    let given = given.as_ref().map(|c| c.as_string::<i32>());
    if let Some(g) = given.filter(|g| g.null_count() == 0) {
        return Ok(g.clone());
    }
    let mut b = StringBuilder::with_capacity(batch.num_rows(), given.map_or(0, |g| g.value_data().len()));
    for i in 0..batch.num_rows() {
        match given {
            Some(g) if g.is_valid(i) => b.append_value(g.value(i)),
            _ => b.append_value(format!("{source}:{i}")),
        }
    }
    Ok(b.finish())
}

#[cfg(test)]
mod tests {
    use arrow::array::{BinaryArray, Int64Array};

    use super::*;
    use crate::batch::oversize_error;
    use crate::config::Config;

    #[test]
    fn malformed_rows_keep_their_place_and_the_others_score_as_a_file_would() {
        let mut config = Config::default();
        config.signals.classifiers.clear();
        config.ensemble.enabled = Some(false);
        config.input.max_doc_bytes = 400;
        let scoring = Scoring::new(&config).unwrap();
        let prose = "The ferry left at dawn and we watched the harbour lights go out one by one. ".repeat(4);
        let oversize = "x ".repeat(300);
        let texts: Vec<Option<&[u8]>> =
            vec![Some(prose.as_bytes()), None, Some(b"caf\xe9"), Some(oversize.as_bytes()), Some(b"Short.")];
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![Some(10), Some(11), Some(12), Some(13), None])) as ArrayRef),
            ("text", Arc::new(BinaryArray::from(texts)) as ArrayRef),
            ("url", Arc::new(StringArray::from(vec!["a", "b", "c", "d", "e"])) as ArrayRef),
        ])
        .unwrap();
        let out = score_records(&scoring, &config.input, "batch", &batch).unwrap();
        let column = |name: &str| out.column_by_name(name).unwrap().as_string::<i32>().clone();
        let (ids, verdicts, errors) = (column("id"), column("verdict"), column(ERROR_COLUMN));
        assert_eq!(out.num_rows(), 5);
        assert_eq!(ids.iter().collect::<Vec<_>>(), [Some("10"), Some("11"), Some("12"), Some("13"), Some("batch:4")]);
        assert_eq!(&verdicts.iter().map(Option::unwrap).collect::<Vec<_>>()[1..4], [VERDICT_QUARANTINE; 3]);
        assert_eq!(
            errors.iter().collect::<Vec<_>>(),
            [
                None,
                Some("text is null"),
                Some("text is not valid UTF-8"),
                Some(oversize_error(600, 400).as_str()),
                None
            ]
        );
        assert_eq!(column("text").value(3), oversize, "an oversize text stays");
        assert!(column("text").is_null(2) && column("url").value(2) == "c");
        // The quality rules run cheapest first (Gopher's word counts before the others) and stop at the first
        // rejection, so the first scores every document that was read, and none that was not.
        let words = out.column_by_name("gopher_quality_word_count").unwrap();
        assert!(words.is_null(1) && words.is_valid(0) && words.is_valid(4));

        // The rows that were read score as the same documents in a DocBatch: one piece of scoring.
        let docs = RecordBatch::try_from_iter([
            ("id", Arc::new(StringArray::from(vec!["10", "batch:4"])) as ArrayRef),
            ("text", Arc::new(StringArray::from(vec![prose.as_str(), "Short."])) as ArrayRef),
            ("url", Arc::new(StringArray::from(vec!["a", "e"])) as ArrayRef),
        ])
        .unwrap();
        let docs = DocBatch { input: 0, docs, quarantined: Vec::new(), bytes: 0, blank_lines: 0, damage: None };
        let direct = scoring.annotate(&docs).unwrap().batch;
        for (k, field) in direct.schema().fields().iter().enumerate().skip(3) {
            let ours = take(out.column_by_name(field.name()).unwrap(), &UInt32Array::from(vec![0, 4]), None).unwrap();
            assert_eq!(ours.to_data(), direct.column(k).to_data(), "{}", field.name());
        }
    }
}
