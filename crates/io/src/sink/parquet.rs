//! Parquet writer (zstd, statistics on), for `--format parquet`.

use std::fs::File;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use super::{CountingWriter, FormatWriter};
use crate::error::Result;

pub(super) struct ParquetWriter {
    inner: ArrowWriter<CountingWriter>,
}

impl ParquetWriter {
    pub(super) fn new(out: CountingWriter, schema: SchemaRef) -> Result<Self> {
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
            .set_max_row_group_row_count(Some(64 * 1024))
            .build();
        Ok(ParquetWriter { inner: ArrowWriter::try_new(out, schema, Some(props))? })
    }
}

impl FormatWriter for ParquetWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        Ok(self.inner.write(batch)?)
    }

    fn bytes_written(&self) -> u64 {
        // Buffered row-group data counts too, or a part would only roll at row-group boundaries.
        self.inner.bytes_written() as u64 + self.inner.in_progress_size() as u64
    }

    fn finish(self: Box<Self>) -> Result<File> {
        self.inner.into_inner()?.into_file()
    }
}
