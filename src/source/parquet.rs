//! Parquet input: the file is memory-mapped, only the text, id and passthrough columns are decoded
//! (projection), and row groups are decoded in parallel, a window of them at a time so memory stays bounded
//! by a few row groups whatever the file size.
//!
//! A file without a readable footer (truncated, not Parquet) cannot be read at all and fails at open. A row
//! group that fails to decode sends each of its rows to quarantine, so they are still counted.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;

use super::{BatchIter, InputFile};
use crate::batch::{doc_schema, DocBatch, Quarantined};
use crate::config::InputConfig;
use crate::error::{Error, Result};

pub fn open(index: usize, input: &InputFile, config: &InputConfig) -> Result<BatchIter> {
    let file = std::fs::File::open(&input.path).map_err(|e| Error::input(&input.path, e))?;
    let data = if input.size == 0 {
        bytes::Bytes::new()
    } else {
        // Safety: read-only map, see source::jsonl.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::input(&input.path, e))?;
        bytes::Bytes::from_owner(map)
    };
    let meta = ArrowReaderMetadata::load(&data, Default::default())
        .map_err(|e| Error::input(&input.path, format!("not a readable Parquet file (truncated?): {e}")))?;
    let schema = meta.schema().clone();
    let text_idx = schema
        .index_of(&config.text_field)
        .map_err(|_| Error::input(&input.path, format!("no column {:?}", config.text_field)))?;
    if !matches!(schema.field(text_idx).data_type(), DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
        return Err(Error::input(
            &input.path,
            format!("column {:?} is {}, not a string", config.text_field, schema.field(text_idx).data_type()),
        ));
    }
    let id_idx = schema.index_of(&config.id_field).ok();
    let passthrough: Vec<usize> =
        (0..schema.fields().len()).filter(|&i| config.passes_through(schema.field(i).name())).collect();
    let mut roots = vec![text_idx];
    roots.extend(id_idx);
    roots.extend(&passthrough);
    roots.sort();
    let mask = ProjectionMask::roots(meta.metadata().file_metadata().schema_descr(), roots.iter().copied());
    let row_groups: Vec<(usize, u64, usize)> = {
        let mut first = 0u64;
        meta.metadata()
            .row_groups()
            .iter()
            .enumerate()
            .map(|(i, rg)| {
                let r = (i, first, rg.num_rows() as usize);
                first += rg.num_rows() as u64;
                r
            })
            .collect()
    };
    let window = rayon::current_num_threads().max(1);
    let source = ParquetSource {
        index,
        file_name: input.name(),
        data,
        meta,
        mask,
        config: config.clone(),
        text_name: schema.field(text_idx).name().clone(),
        id_name: id_idx.map(|i| schema.field(i).name().clone()),
        passthrough: passthrough.iter().map(|&i| schema.field(i).clone()).collect(),
        row_groups,
        next_group: 0,
        window,
        pending: std::collections::VecDeque::new(),
    };
    Ok(Box::new(source))
}

struct ParquetSource {
    index: usize,
    file_name: String,
    data: bytes::Bytes,
    meta: ArrowReaderMetadata,
    mask: ProjectionMask,
    config: InputConfig,
    text_name: String,
    id_name: Option<String>,
    passthrough: Vec<Field>,
    /// (row group, first row in file, rows)
    row_groups: Vec<(usize, u64, usize)>,
    next_group: usize,
    window: usize,
    pending: std::collections::VecDeque<DocBatch>,
}

impl Iterator for ParquetSource {
    type Item = DocBatch;

    fn next(&mut self) -> Option<DocBatch> {
        if let Some(b) = self.pending.pop_front() {
            return Some(b);
        }
        if self.next_group >= self.row_groups.len() {
            return None;
        }
        let end = (self.next_group + self.window).min(self.row_groups.len());
        let groups = &self.row_groups[self.next_group..end];
        self.next_group = end;
        let decoded: Vec<Vec<DocBatch>> =
            groups.par_iter().map(|&(g, first, rows)| self.decode_group(g, first, rows)).collect();
        self.pending.extend(decoded.into_iter().flatten());
        self.pending.pop_front()
    }
}

impl ParquetSource {
    fn decode_group(&self, group: usize, first_row: u64, rows: usize) -> Vec<DocBatch> {
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(self.data.clone(), self.meta.clone())
            .with_projection(self.mask.clone())
            .with_row_groups(vec![group])
            .with_batch_size(self.config.batch_docs)
            .build();
        let mut out = Vec::new();
        let mut row = first_row;
        let fail = |row: u64, e: String| DocBatch {
            input: self.index,
            docs: RecordBatch::new_empty(self.schema()),
            quarantined: (row..first_row + rows as u64)
                .map(|r| Quarantined {
                    location: format!("row {r}"),
                    error: format!("row group {group}: {e}"),
                    raw: Vec::new(),
                })
                .collect(),
            bytes: 0,
            blank_lines: 0,
            damage: Some(format!("row group {group} failed to decode: {e}")),
        };
        let reader = match reader {
            Ok(r) => r,
            Err(e) => return vec![fail(row, e.to_string())],
        };
        for batch in reader {
            match batch.map_err(|e| e.to_string()).and_then(|b| self.to_docs(&b, row)) {
                Ok(b) => {
                    row += (b.docs.num_rows() + b.quarantined.len()) as u64;
                    out.push(b);
                }
                Err(e) => {
                    out.push(fail(row, e));
                    break;
                }
            }
        }
        out
    }

    fn schema(&self) -> arrow::datatypes::SchemaRef {
        doc_schema(&self.config.id_field, &self.config.text_field, self.passthrough.iter().cloned())
    }

    /// Normalise one decoded batch: id and text as Utf8 first, null or oversize texts to quarantine.
    fn to_docs(&self, b: &RecordBatch, first_row: u64) -> Result<DocBatch, String> {
        let text =
            cast(b.column_by_name(&self.text_name).expect("projected"), &DataType::Utf8).map_err(|e| e.to_string())?;
        let text = text.as_any().downcast_ref::<StringArray>().expect("cast to Utf8");
        let ids = match &self.id_name {
            Some(n) => Some(cast(b.column_by_name(n).expect("projected"), &DataType::Utf8).map_err(|e| e.to_string())?),
            None => None,
        };
        let ids = ids.as_ref().map(|a| a.as_any().downcast_ref::<StringArray>().expect("cast to Utf8"));
        let mut keep = Vec::with_capacity(text.len());
        let mut quarantined = Vec::new();
        let mut id_out = StringBuilder::new();
        let mut bytes = 0u64;
        for i in 0..text.len() {
            let row = first_row + i as u64;
            let ok = if text.is_null(i) {
                quarantined.push(Quarantined {
                    location: format!("row {row}"),
                    error: "text is null".into(),
                    raw: Vec::new(),
                });
                false
            } else if text.value(i).len() > self.config.max_doc_bytes {
                quarantined.push(Quarantined {
                    location: format!("row {row}"),
                    error: format!("document of {} bytes exceeds input.max_doc_bytes", text.value(i).len()),
                    raw: text.value(i).as_bytes().to_vec(),
                });
                false
            } else {
                bytes += text.value(i).len() as u64;
                match ids {
                    Some(ids) if ids.is_valid(i) => id_out.append_value(ids.value(i)),
                    _ => id_out.append_value(format!("{}:{row}", self.file_name)),
                }
                true
            };
            keep.push(ok);
        }
        let keep = arrow::array::BooleanArray::from(keep);
        let filter = |a: &ArrayRef| arrow::compute::filter(a, &keep).map_err(|e| e.to_string());
        let mut columns: Vec<ArrayRef> =
            vec![Arc::new(id_out.finish()), filter(&(Arc::new(text.clone()) as ArrayRef))?];
        for f in &self.passthrough {
            columns.push(filter(b.column_by_name(f.name()).expect("projected"))?);
        }
        let docs = RecordBatch::try_new(self.schema(), columns).map_err(|e| e.to_string())?;
        Ok(DocBatch { input: self.index, docs, quarantined, bytes, blank_lines: 0, damage: None })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::source::detect_format;
    use arrow::array::Int64Array;
    use arrow::datatypes::Schema;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    /// Write a Parquet file with `n` rows (text, id:int64, url, extra) in row groups of `group_rows`.
    pub fn write_sample(path: &std::path::Path, n: usize, group_rows: usize, null_every: usize) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("text", DataType::LargeUtf8, true),
            Field::new("url", DataType::Utf8, true),
            Field::new("big_unused", DataType::Utf8, true),
        ]));
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(group_rows))
            .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
            .build();
        let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema.clone(), Some(props)).unwrap();
        let texts: Vec<Option<String>> =
            (0..n).map(|i| (null_every == 0 || i % null_every != 0).then(|| format!("text of row {i}"))).collect();
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(0..n as i64)),
                Arc::new(arrow::array::LargeStringArray::from(texts)),
                Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("http://x/{i}")))),
                Arc::new(StringArray::from_iter_values((0..n).map(|_| "z"))),
            ],
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    fn input(path: &std::path::Path) -> InputFile {
        InputFile {
            path: path.into(),
            format: detect_format(path).unwrap(),
            size: std::fs::metadata(path).unwrap().len(),
        }
    }

    #[test]
    fn reads_projected_columns_in_order_across_row_groups() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.parquet");
        write_sample(&p, 1000, 64, 100);
        let cfg = InputConfig { passthrough: vec!["url".into()], batch_docs: 50, ..Default::default() };
        let batches: Vec<DocBatch> = open(0, &input(&p), &cfg).unwrap().collect();
        let docs: usize = batches.iter().map(|b| b.len()).sum();
        let q: Vec<&Quarantined> = batches.iter().flat_map(|b| &b.quarantined).collect();
        assert_eq!(docs, 990);
        assert_eq!(q.len(), 10);
        assert_eq!(q[1].location, "row 100");
        let b = &batches[0];
        assert_eq!(
            b.docs.schema().fields().iter().map(|f| f.name().as_str()).collect::<Vec<_>>(),
            vec!["id", "text", "url"]
        );
        let ids: Vec<String> = batches
            .iter()
            .flat_map(|b| {
                let c = b.docs.column(0).as_any().downcast_ref::<StringArray>().unwrap().clone();
                (0..c.len()).map(move |i| c.value(i).to_string())
            })
            .collect();
        assert_eq!(ids[0], "1");
        assert!(ids.windows(2).all(|w| w[0].parse::<i64>().unwrap() < w[1].parse::<i64>().unwrap()));
    }

    #[test]
    fn truncated_file_fails_at_open_and_bad_column_is_named() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.parquet");
        write_sample(&p, 100, 50, 0);
        let full = std::fs::read(&p).unwrap();
        let t = d.path().join("t.parquet");
        std::fs::write(&t, &full[..full.len() - 20]).unwrap();
        let e = open(0, &input(&t), &InputConfig::default()).err().unwrap();
        assert!(e.to_string().contains("not a readable Parquet file"), "{e}");
        let e = open(0, &input(&p), &InputConfig { text_field: "body".into(), ..Default::default() }).err().unwrap();
        assert!(e.to_string().contains("no column \"body\""), "{e}");
        let e =
            open(0, &input(&p), &InputConfig { text_field: "id".into(), id_field: "x".into(), ..Default::default() })
                .err()
                .unwrap();
        assert!(e.to_string().contains("not a string"), "{e}");
    }
}
