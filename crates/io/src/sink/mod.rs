//! Sinks: partitioned Arrow IPC or Parquet files for clean, rejected and quarantined records.
//!
//! Each input gets its own part files, `<category>/part-<input>-<seq>.<ext>`, so a re-run can redo one
//! input without touching the others. A part is written under a hidden temporary name and renamed into
//! place only when complete: readers never see half a file, and a killed run leaves only temporaries,
//! which the next run deletes.

mod arrow_ipc;
mod config;
pub mod output_dir;
mod parquet;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BinaryArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::batch::Quarantined;
use crate::error::{Error, Result};
use crate::files::{run_token, write_atomic_io, TMP_SUFFIX};

pub use config::{OutputConfig, OutputFormat};

pub const CLEAN: &str = "clean";
pub const REJECTED: &str = "rejected";
pub const QUARANTINE: &str = "quarantine";
/// An error of a format writer, as the output error it is when the file system refused a write (disk full,
/// quota, permissions), so that the exit code says "output not writable".
fn writing(path: &Path, e: Error) -> Error {
    fn io_of(e: &(dyn std::error::Error + 'static)) -> Option<std::io::Error> {
        let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
        while let Some(err) = cur {
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                return Some(std::io::Error::new(io.kind(), io.to_string()));
            }
            cur = err.source();
        }
        None
    }
    let io = match &e {
        Error::Io(io) => Some(std::io::Error::new(io.kind(), io.to_string())),
        Error::Arrow(arrow::error::ArrowError::IoError(_, io)) => Some(std::io::Error::new(io.kind(), io.to_string())),
        Error::Arrow(a) => io_of(a),
        Error::Parquet(::parquet::errors::ParquetError::External(inner)) => io_of(inner.as_ref()),
        _ => None,
    };
    match io {
        Some(io) => Error::output(path, io),
        None => e,
    }
}

/// A finished part file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PartFile {
    /// Relative to the output directory, with '/' separators.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
}

/// Writes one format; implemented by the IPC and Parquet writers.
trait FormatWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<()>;
    /// Bytes written so far (an estimate is fine: it only decides when to roll).
    fn bytes_written(&self) -> u64;
    fn finish(self: Box<Self>) -> Result<File>;
}

struct OpenPart {
    writer: Box<dyn FormatWriter>,
    schema: SchemaRef,
    tmp: PathBuf,
    dest: PathBuf,
    rows: u64,
}

/// Rolling writer for one category of one input.
pub struct PartitionWriter {
    root: PathBuf,
    category: &'static str,
    stem: String,
    format: OutputFormat,
    max_bytes: u64,
    seq: usize,
    open: Option<OpenPart>,
    finished: Vec<PartFile>,
}

/// Counts bytes as they go to the file.
pub(crate) struct CountingWriter {
    inner: BufWriter<File>,
    pub(crate) count: u64,
}

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl CountingWriter {
    fn new(file: File) -> Self {
        CountingWriter { inner: BufWriter::with_capacity(1 << 20, file), count: 0 }
    }
    pub(crate) fn into_file(self) -> Result<File> {
        self.inner.into_inner().map_err(|e| Error::Io(e.into_error()))
    }
}

impl PartitionWriter {
    pub fn new(root: &Path, category: &'static str, input: usize, format: OutputFormat, max_bytes: u64) -> Self {
        PartitionWriter {
            root: root.to_path_buf(),
            category,
            stem: part_stem(input),
            format,
            max_bytes,
            seq: 0,
            open: None,
            finished: Vec::new(),
        }
    }

    /// Append a batch, rolling to a new part whenever the open one reaches `max_bytes`. A batch larger than the
    /// room left is cut into row slices that fit (by its in-memory size per row, an upper estimate of what it
    /// adds to the file), so a part exceeds `max_bytes` by at most one row.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        if rows == 0 {
            return Ok(());
        }
        if self.open.as_ref().is_some_and(|p| p.schema != batch.schema()) {
            // The input grew a column (a JSONL field first seen late): start a new part with the wider schema.
            self.close_part()?;
        }
        let bytes_per_row = (batch.get_array_memory_size() / rows).max(1) as u64;
        let mut start = 0;
        while start < rows {
            if self.open.is_none() {
                self.open_part(batch.schema())?;
            }
            let part = self.open.as_mut().expect("opened above");
            let room = self.max_bytes.saturating_sub(part.writer.bytes_written());
            let take = ((room / bytes_per_row) as usize).clamp(1, rows - start);
            let slice = batch.slice(start, take);
            part.writer.write(&slice).map_err(|e| writing(&part.tmp, e))?;
            part.rows += take as u64;
            start += take;
            if part.writer.bytes_written() >= self.max_bytes || start < rows {
                self.close_part()?;
            }
        }
        Ok(())
    }

    fn open_part(&mut self, schema: SchemaRef) -> Result<()> {
        let dir = self.root.join(self.category);
        std::fs::create_dir_all(&dir).map_err(|e| Error::output(&dir, e))?;
        let name = format!("{}-{:04}.{}", self.stem, self.seq, self.format.extension());
        self.seq += 1;
        let dest = dir.join(&name);
        let tmp = dir.join(format!(".{name}.{}{TMP_SUFFIX}", run_token()));
        let file = File::create(&tmp).map_err(|e| Error::output(&tmp, e))?;
        let out = CountingWriter::new(file);
        let writer: Box<dyn FormatWriter> = match self.format {
            OutputFormat::Arrow => Box::new(arrow_ipc::IpcWriter::new(out, &schema)?),
            OutputFormat::Parquet => Box::new(parquet::ParquetWriter::new(out, schema.clone())?),
        };
        self.open = Some(OpenPart { writer, schema, tmp, dest, rows: 0 });
        Ok(())
    }

    fn close_part(&mut self) -> Result<()> {
        let Some(part) = self.open.take() else { return Ok(()) };
        let file = part.writer.finish().map_err(|e| writing(&part.tmp, e))?;
        file.sync_all().map_err(|e| Error::output(&part.tmp, e))?;
        let bytes = file.metadata().map_err(|e| Error::output(&part.tmp, e))?.len();
        drop(file);
        std::fs::rename(&part.tmp, &part.dest).map_err(|e| Error::output(&part.dest, e))?;
        let rel = format!("{}/{}", self.category, part.dest.file_name().unwrap().to_string_lossy());
        self.finished.push(PartFile { path: rel, rows: part.rows, bytes });
        Ok(())
    }

    /// Close the open part and return every part written.
    pub fn finish(mut self) -> Result<Vec<PartFile>> {
        self.close_part()?;
        Ok(self.finished)
    }

    /// Drop the open part's temporary file and the parts already finished (on a fatal error or an
    /// interruption): an input's outputs are all there or none are.
    pub fn discard(mut self) {
        if let Some(p) = self.open.take() {
            drop(p.writer);
            let _ = std::fs::remove_file(&p.tmp);
        }
        for part in &self.finished {
            let _ = std::fs::remove_file(self.root.join(&part.path));
        }
    }
}

/// The common prefix of an input's part files.
pub fn part_stem(input: usize) -> String {
    format!("part-{input:05}")
}

/// Remove the part files of the given inputs, finished or temporary: what a killed run left of them. Other
/// inputs' files stay, temporaries included: in a sharded job they belong to shards running beside this one.
pub fn remove_partial_outputs(root: &Path, unfinished_inputs: &[usize]) -> Result<usize> {
    let mut removed = 0;
    for category in [CLEAN, REJECTED, QUARANTINE] {
        let dir = root.join(category);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let entry = entry.map_err(|e| Error::output(&dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let stem = name.strip_prefix('.').filter(|_| name.ends_with(TMP_SUFFIX)).unwrap_or(&name);
            let stale = unfinished_inputs.iter().any(|&i| stem.starts_with(&format!("{}-", part_stem(i))));
            if stale {
                std::fs::remove_file(entry.path()).map_err(|e| Error::output(entry.path(), e))?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Schema of quarantine partitions.
pub fn quarantine_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source_file", DataType::Utf8, false),
        Field::new("location", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, false),
        Field::new("raw", DataType::Binary, false),
    ]))
}

pub fn quarantine_batch(source_file: &str, records: &[Quarantined]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(records.iter().map(|_| source_file))),
        Arc::new(StringArray::from_iter_values(records.iter().map(|q| q.location.as_str()))),
        Arc::new(StringArray::from_iter_values(records.iter().map(|q| q.error.as_str()))),
        Arc::new(BinaryArray::from_iter_values(records.iter().map(|q| q.raw.as_slice()))),
    ];
    Ok(RecordBatch::try_new(quarantine_schema(), columns)?)
}

/// [`crate::files::write_atomic_io`] with the error naming the output path.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_io(path, bytes).map_err(|e| Error::output(path, e))
}

/// Read every row of a part file written by svalbard (IPC or Parquet), for tests, `verify` and tools.
pub fn read_part(path: &Path) -> Result<Vec<RecordBatch>> {
    let file = File::open(path).map_err(|e| Error::input(path, e))?;
    if path.extension().is_some_and(|e| e == "parquet") {
        let reader = ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)?.build()?;
        Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
    } else {
        let reader = arrow::ipc::reader::FileReader::try_new(file, None)?;
        Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int32Array;

    fn batch(n: i32, wide: bool) -> RecordBatch {
        let mut fields = vec![Field::new("a", DataType::Int32, false)];
        let mut cols: Vec<ArrayRef> = vec![Arc::new(Int32Array::from_iter_values(0..n))];
        if wide {
            fields.push(Field::new("b", DataType::Utf8, false));
            cols.push(Arc::new(StringArray::from_iter_values((0..n).map(|i| i.to_string()))));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
    }

    fn roll_and_read(format: OutputFormat) {
        let d = tempfile::tempdir().unwrap();
        let mut w = PartitionWriter::new(d.path(), CLEAN, 3, format, 4096);
        for _ in 0..10 {
            w.write(&batch(1000, false)).unwrap();
        }
        w.write(&batch(10, true)).unwrap();
        let parts = w.finish().unwrap();
        assert!(parts.len() >= 3, "{parts:?}");
        assert!(parts[0].path.starts_with("clean/part-00003-0000."));
        let total: u64 = parts.iter().map(|p| p.rows).sum();
        assert_eq!(total, 10_010);
        let mut read = 0;
        for p in &parts {
            let batches = read_part(&d.path().join(&p.path)).unwrap();
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            assert_eq!(rows as u64, p.rows);
            read += rows;
        }
        assert_eq!(read, 10_010);
        // The widened schema lives in its own, last part.
        let last = read_part(&d.path().join(&parts.last().unwrap().path)).unwrap();
        assert_eq!(last[0].num_columns(), 2);
        let leftovers: Vec<_> = std::fs::read_dir(d.path().join(CLEAN))
            .unwrap()
            .filter_map(|e| {
                let n = e.unwrap().file_name().to_string_lossy().into_owned();
                n.ends_with(TMP_SUFFIX).then_some(n)
            })
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn arrow_ipc_parts_roll_and_read_back() {
        roll_and_read(OutputFormat::Arrow);
    }

    #[test]
    fn parquet_parts_roll_and_read_back() {
        roll_and_read(OutputFormat::Parquet);
    }

    #[test]
    fn a_batch_larger_than_a_part_is_cut_to_fit() {
        let d = tempfile::tempdir().unwrap();
        let raw: Vec<Vec<u8>> = (0..1000).map(|i| vec![b'a' + (i % 26) as u8; 1000]).collect();
        let records: Vec<Quarantined> =
            raw.iter().map(|r| Quarantined { location: "line 1".into(), error: "e".into(), raw: r.clone() }).collect();
        let big = quarantine_batch("in.jsonl", &records).unwrap();
        let max = 64 * 1024;
        let mut w = PartitionWriter::new(d.path(), QUARANTINE, 0, OutputFormat::Arrow, max);
        w.write(&big).unwrap();
        let parts = w.finish().unwrap();
        assert!(parts.len() >= 10, "{parts:?}");
        assert_eq!(parts.iter().map(|p| p.rows).sum::<u64>(), 1000);
        // One row of slack, and the file's own framing (schema and footer).
        let slack = 1000 + 100 + 2048;
        for p in &parts {
            assert!(p.bytes <= max + slack, "{} is {} bytes, over {max} + {slack}", p.path, p.bytes);
        }
    }

    #[test]
    fn abort_leaves_nothing_and_cleanup_removes_partials() {
        let d = tempfile::tempdir().unwrap();
        let mut w = PartitionWriter::new(d.path(), CLEAN, 0, OutputFormat::Arrow, 1 << 30);
        w.write(&batch(10, false)).unwrap();
        w.discard();
        assert_eq!(std::fs::read_dir(d.path().join(CLEAN)).unwrap().count(), 0);
        let mut w = PartitionWriter::new(d.path(), CLEAN, 0, OutputFormat::Arrow, 1024);
        for _ in 0..4 {
            w.write(&batch(1000, false)).unwrap();
        }
        w.discard();
        assert_eq!(std::fs::read_dir(d.path().join(CLEAN)).unwrap().count(), 0, "finished parts go too");
        // A finished part of input 1 and a leftover temporary of input 2.
        let mut w = PartitionWriter::new(d.path(), CLEAN, 1, OutputFormat::Arrow, 1 << 30);
        w.write(&batch(10, false)).unwrap();
        w.finish().unwrap();
        std::fs::write(d.path().join(CLEAN).join(".part-00002-0000.arrow.tmp"), b"x").unwrap();
        let mut keep = PartitionWriter::new(d.path(), CLEAN, 0, OutputFormat::Arrow, 1 << 30);
        keep.write(&batch(1, false)).unwrap();
        keep.finish().unwrap();
        // Input 2's temporary is not this run's to remove...
        assert_eq!(remove_partial_outputs(d.path(), &[1]).unwrap(), 1);
        assert!(d.path().join(CLEAN).join(".part-00002-0000.arrow.tmp").exists());
        // ...until input 2 is one of the run's unfinished inputs.
        assert_eq!(remove_partial_outputs(d.path(), &[2]).unwrap(), 1);
        let left: Vec<String> = std::fs::read_dir(d.path().join(CLEAN))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec!["part-00000-0000.arrow"]);
    }
}
