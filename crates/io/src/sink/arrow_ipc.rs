//! Arrow IPC file writer.

use std::fs::File;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use arrow::ipc::writer::FileWriter;

use super::{CountingWriter, FormatWriter};
use crate::error::Result;

pub(super) struct IpcWriter {
    inner: FileWriter<CountingWriter>,
}

impl IpcWriter {
    pub(super) fn new(out: CountingWriter, schema: &Schema) -> Result<Self> {
        Ok(IpcWriter { inner: FileWriter::try_new(out, schema)? })
    }
}

impl FormatWriter for IpcWriter {
    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        Ok(self.inner.write(batch)?)
    }

    fn bytes_written(&self) -> u64 {
        self.inner.get_ref().count
    }

    fn finish(mut self: Box<Self>) -> Result<File> {
        self.inner.finish()?;
        self.inner.into_inner()?.into_file()
    }
}
