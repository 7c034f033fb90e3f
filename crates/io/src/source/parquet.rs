//! Parquet input: the file is read with positioned reads (not memory-mapped: a mapped file truncated by
//! another process would kill the run with SIGBUS), only the text, id and passthrough columns are decoded
//! (projection), and row groups are decoded in parallel, a window of them at a time so memory stays bounded
//! by a few row groups whatever the file size.
//!
//! Text and id columns may be strings (`Utf8`, `LargeUtf8`, `Utf8View`), dictionaries of strings, or binary
//! columns without the UTF8 annotation (as Spark writes them); a binary text that is not valid UTF-8 sends
//! its row to quarantine.
//!
//! A file without a readable footer (truncated, not Parquet) cannot be read at all and fails at open. A row
//! group that fails to decode sends each of its rows to quarantine, so they are still counted. A file whose
//! size or modification time changes while it is read is damaged.

use std::fs::File;
use std::io::Read;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BinaryArray, RecordBatch, StringArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field};
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};
use parquet::arrow::ProjectionMask;
use parquet::file::reader::{ChunkReader, Length};
use rayon::prelude::*;

use super::{BatchIter, FileStamp, InputFile};
use crate::batch::{doc_schema, oversize_error, DocBatch, Quarantined};
use crate::error::{Error, Result};
use crate::source::InputConfig;

/// A row group that fails to decode sends each of its rows to quarantine, up to this many; a larger count
/// (a corrupt footer can declare any) becomes one row naming the range, so that memory stays bounded.
const MAX_FAILED_ROWS_LISTED: u64 = 1 << 20;

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// How a text or id column becomes Utf8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TextKind {
    /// Strings or dictionaries of strings: arrow's `cast` to Utf8.
    Strings,
    /// Bytes without the UTF8 annotation: cast to Binary, then each row checked for UTF-8.
    Bytes,
}

/// Whether a column of this type can be a text or id column: strings of any width, bytes without the UTF8
/// annotation (as Spark writes them), or a dictionary of either.
pub fn holds_text(t: &DataType) -> bool {
    kind_of(t).is_some()
}

/// A text column as Utf8 and the rows whose bytes are not UTF-8 (null in the result), as the reader converts
/// each batch; an error for a column that [`holds_text`] refuses.
pub fn text_as_utf8(a: &ArrayRef) -> std::result::Result<(StringArray, Vec<usize>), String> {
    match kind_of(a.data_type()) {
        Some(kind) => to_utf8(a, kind),
        None => Err(format!("a {} column holds no text", a.data_type())),
    }
}

/// Why a row of a text column cannot be a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextRowProblem {
    NotUtf8,
    Null,
    /// Over `max_doc_bytes`: the text's length.
    Oversize(u64),
}

impl TextRowProblem {
    /// The problem of row `i` of a text column (converted by [`text_as_utf8`]), if any: `not_utf8` is whether
    /// its bytes were not UTF-8 (the conversion made it null).
    pub fn of(text: &StringArray, i: usize, not_utf8: bool, max_doc_bytes: usize) -> Option<Self> {
        if not_utf8 {
            Some(TextRowProblem::NotUtf8)
        } else if text.is_null(i) {
            Some(TextRowProblem::Null)
        } else if text.value(i).len() > max_doc_bytes {
            Some(TextRowProblem::Oversize(text.value(i).len() as u64))
        } else {
            None
        }
    }

    /// What the quarantine record says, the same for every reader.
    pub fn message(self, max_doc_bytes: usize) -> String {
        match self {
            TextRowProblem::NotUtf8 => "text is not valid UTF-8".into(),
            TextRowProblem::Null => "text is null".into(),
            TextRowProblem::Oversize(length) => oversize_error(length, max_doc_bytes),
        }
    }
}

fn kind_of(t: &DataType) -> Option<TextKind> {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(TextKind::Strings),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => Some(TextKind::Bytes),
        DataType::Dictionary(_, values) => kind_of(values),
        _ => None,
    }
}

/// A column as Utf8. Rows of a binary column that are not valid UTF-8 are null in the result and listed.
fn to_utf8(a: &ArrayRef, kind: TextKind) -> std::result::Result<(StringArray, Vec<usize>), String> {
    if kind == TextKind::Strings {
        let a = cast(a, &DataType::Utf8).map_err(|e| e.to_string())?;
        return Ok((a.as_any().downcast_ref::<StringArray>().expect("cast to Utf8").clone(), Vec::new()));
    }
    let bin = cast(a, &DataType::Binary).map_err(|e| e.to_string())?;
    let bin = bin.as_any().downcast_ref::<BinaryArray>().expect("cast to Binary");
    let mut invalid = Vec::new();
    let mut out = StringBuilder::with_capacity(bin.len(), bin.value_data().len());
    for i in 0..bin.len() {
        if bin.is_null(i) {
            out.append_null();
            continue;
        }
        match std::str::from_utf8(bin.value(i)) {
            Ok(s) => out.append_value(s),
            Err(_) => {
                invalid.push(i);
                out.append_null();
            }
        }
    }
    Ok((out.finish(), invalid))
}

/// The input file read with positioned reads (`pread`): the threads decoding row groups in parallel share
/// it without sharing a file offset, and a file truncated meanwhile reads short, an error for the row
/// groups concerned, where a memory map would fault.
#[derive(Clone)]
struct PositionedFile {
    file: Arc<File>,
    len: u64,
}

impl Length for PositionedFile {
    fn len(&self) -> u64 {
        self.len
    }
}

impl ChunkReader for PositionedFile {
    type T = std::io::BufReader<PositionedRead>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(std::io::BufReader::new(PositionedRead { file: self.file.clone(), pos: start }))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0u8; length];
        self.file.read_exact_at(&mut buf, start)?;
        Ok(buf.into())
    }
}

struct PositionedRead {
    file: Arc<File>,
    pos: u64,
}

impl Read for PositionedRead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

pub fn open(index: usize, input: &InputFile, config: &InputConfig) -> Result<BatchIter> {
    let (file, stamp) = super::open_regular(&input.path)?;
    let data = PositionedFile { file: Arc::new(file), len: stamp.len };
    // The footer parser may panic on a corrupt footer; that is an unreadable file too.
    let meta = std::panic::catch_unwind(|| ArrowReaderMetadata::load(&data, Default::default()))
        .unwrap_or_else(|panic| Err(parquet::errors::ParquetError::General(panic_message(&panic))))
        .map_err(|e| Error::input(&input.path, format!("not a readable Parquet file (truncated?): {e}")))?;
    let schema = meta.schema().clone();
    let text_idx = schema
        .index_of(&config.text_field)
        .map_err(|_| Error::input(&input.path, format!("no column {:?}", config.text_field)))?;
    let Some(text_kind) = kind_of(schema.field(text_idx).data_type()) else {
        return Err(Error::input(
            &input.path,
            format!("column {:?} is {}, not a string", config.text_field, schema.field(text_idx).data_type()),
        ));
    };
    // An id column of another type (numbers) is cast to Utf8 as it is.
    let id_idx = schema.index_of(&config.id_field).ok();
    let id_kind = id_idx.map(|i| kind_of(schema.field(i).data_type()).unwrap_or(TextKind::Strings));
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
        stamp,
        damage_reported: false,
        meta,
        mask,
        config: config.clone(),
        text_name: schema.field(text_idx).name().clone(),
        text_kind,
        id_name: id_idx.map(|i| schema.field(i).name().clone()),
        id_kind: id_kind.unwrap_or(TextKind::Strings),
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
    data: PositionedFile,
    stamp: FileStamp,
    /// The file changed during the run and a batch says so.
    damage_reported: bool,
    meta: ArrowReaderMetadata,
    mask: ProjectionMask,
    config: InputConfig,
    text_name: String,
    text_kind: TextKind,
    id_name: Option<String>,
    id_kind: TextKind,
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
            groups.par_iter().map(|&(g, first, rows)| self.decode_group_guarded(g, first, rows)).collect();
        self.pending.extend(decoded.into_iter().flatten());
        if !self.damage_reported {
            if let Some(change) = self.stamp.changed(&self.data.file) {
                self.damage_reported = true;
                match self.pending.front_mut() {
                    Some(b) => b.damage = Some(b.damage.take().map_or(change.clone(), |d| format!("{change}; {d}"))),
                    None => self.pending.push_back(DocBatch {
                        input: self.index,
                        docs: RecordBatch::new_empty(self.schema()),
                        quarantined: Vec::new(),
                        bytes: 0,
                        blank_lines: 0,
                        damage: Some(change),
                    }),
                }
            }
        }
        self.pending.pop_front()
    }
}

impl ParquetSource {
    /// [`Self::decode_group`], with a panic of the decoder on corrupt data turned into a failed row group.
    fn decode_group_guarded(&self, group: usize, first_row: u64, rows: usize) -> Vec<DocBatch> {
        let decoded =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.decode_group(group, first_row, rows)));
        decoded.unwrap_or_else(|panic| {
            let e = format!("the Parquet decoder failed: {}", panic_message(&panic));
            let row = first_row;
            vec![DocBatch {
                input: self.index,
                docs: RecordBatch::new_empty(self.schema()),
                quarantined: vec![Quarantined::new(format!("rows {row}..{}", row + rows as u64), e.clone(), &[])],
                bytes: 0,
                blank_lines: 0,
                damage: Some(format!("row group {group}: {e}")),
            }]
        })
    }

    fn decode_group(&self, group: usize, first_row: u64, rows: usize) -> Vec<DocBatch> {
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(self.data.clone(), self.meta.clone())
            .with_projection(self.mask.clone())
            .with_row_groups(vec![group])
            .with_batch_size(self.config.batch_docs)
            .build();
        let mut out = Vec::new();
        let mut row = first_row;
        let end = first_row + rows as u64;
        let fail = |row: u64, e: String| DocBatch {
            input: self.index,
            docs: RecordBatch::new_empty(self.schema()),
            quarantined: if end.saturating_sub(row) <= MAX_FAILED_ROWS_LISTED {
                (row..end)
                    .map(|r| Quarantined::new(format!("row {r}"), format!("row group {group}: {e}"), &[]))
                    .collect()
            } else {
                let error = format!("row group {group}: {e} ({} rows)", end - row);
                vec![Quarantined::new(format!("rows {row}..{end}"), error, &[])]
            },
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
                    return out;
                }
            }
        }
        if row < end {
            out.push(fail(row, format!("the row group ended after {} of {rows} rows", row - first_row)));
        }
        out
    }

    fn schema(&self) -> arrow::datatypes::SchemaRef {
        doc_schema(&self.config.id_field, &self.config.text_field, self.passthrough.iter().cloned())
    }

    /// Normalise one decoded batch: id and text as Utf8 first; null, non-UTF-8 or oversize texts to
    /// quarantine. An id that is not valid UTF-8 is replaced by the derived `<file name>:<row>`.
    fn to_docs(&self, b: &RecordBatch, first_row: u64) -> Result<DocBatch, String> {
        let text_column = b.column_by_name(&self.text_name).expect("projected");
        let (text, invalid_text) = to_utf8(text_column, self.text_kind)?;
        let text = &text;
        let ids = match &self.id_name {
            Some(n) => Some(to_utf8(b.column_by_name(n).expect("projected"), self.id_kind)?.0),
            None => None,
        };
        let ids = ids.as_ref();
        // The bytes of the rows that are not UTF-8, for their quarantine rows.
        let raw_text = match invalid_text.is_empty() {
            true => None,
            false => Some(cast(text_column, &DataType::Binary).map_err(|e| e.to_string())?),
        };
        let raw_text = raw_text.as_ref().map(|a| a.as_any().downcast_ref::<BinaryArray>().expect("cast to Binary"));
        let mut invalid_text = invalid_text.into_iter().peekable();
        let mut keep = Vec::with_capacity(text.len());
        let mut quarantined = Vec::new();
        let mut id_out = StringBuilder::new();
        let mut bytes = 0u64;
        for i in 0..text.len() {
            let row = first_row + i as u64;
            let not_utf8 = invalid_text.next_if_eq(&i).is_some();
            let max = self.config.max_doc_bytes;
            let problem = TextRowProblem::of(text, i, not_utf8, max);
            let ok = problem.is_none();
            match problem {
                Some(problem) => {
                    let location = format!("row {row}");
                    quarantined.push(match problem {
                        TextRowProblem::NotUtf8 => {
                            Quarantined::new(location, problem.message(max), raw_text.expect("cast above").value(i))
                        }
                        TextRowProblem::Null => Quarantined::new(location, problem.message(max), &[]),
                        TextRowProblem::Oversize(length) => {
                            Quarantined::oversize(location, length, max, text.value(i).as_bytes())
                        }
                    })
                }
                None => {
                    bytes += text.value(i).len() as u64;
                    match ids {
                        Some(ids) if ids.is_valid(i) => id_out.append_value(ids.value(i)),
                        _ => id_out.append_value(format!("{}:{row}", self.file_name)),
                    }
                }
            }
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
