//! Common Crawl input: WARC (`response` records with HTML, text extracted) and WET (`conversion` records)
//! files become DocBatches with the record metadata as columns: `url`, `warc_date`, `record_id`,
//! `content_length` and `language` (WET); the pipeline derives `vintage` from `warc_date`.
//!
//! Records are read one at a time (bounded memory) and converted to text in parallel per batch. A malformed
//! or oversize record, or a response whose body cannot be decoded, is quarantined with its offset; a
//! truncated stream ends the input with its damage recorded, and so does a record whose Content-Length is
//! wrong (the reader resynchronises on the next record), a corrupt gzip member (decoding resumes at the next
//! member; the stretch skipped is a quarantine row) or a file that changes while it is read.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder, UInt64Builder};
use arrow::datatypes::{DataType, Field};
use rayon::prelude::*;

use super::warc::{record_to_document, WarcReader, WarcRecord};
use super::{BatchIter, FileStamp, InputFile};
use crate::batch::{doc_schema, DocBatch, Quarantined};
use crate::error::{Error, Result};
use crate::source::InputConfig;

pub fn open(index: usize, input: &InputFile, config: &InputConfig) -> Result<BatchIter> {
    let (file, stamp) = super::open_regular(&input.path)?;
    if stamp.len == 0 && input.name().to_ascii_lowercase().ends_with(".gz") {
        return Err(Error::input(&input.path, "empty file, not a gzip stream"));
    }
    let watched = file.try_clone().map_err(|e| Error::input(&input.path, e))?;
    let reader = WarcReader::from_file(file)
        .map_err(|e| Error::input(&input.path, e))?
        .with_max_body(config.max_doc_bytes as u64);
    Ok(Box::new(WarcSource {
        index,
        reader,
        config: config.clone(),
        done: false,
        watched,
        stamp,
        change_reported: false,
    }))
}

struct WarcSource {
    index: usize,
    reader: WarcReader<Box<dyn std::io::BufRead + Send>>,
    config: InputConfig,
    done: bool,
    /// The input file, watched for changes while it is read.
    watched: std::fs::File,
    stamp: FileStamp,
    change_reported: bool,
}

fn metadata_fields() -> Vec<Field> {
    vec![
        Field::new("url", DataType::Utf8, true),
        Field::new("warc_date", DataType::Utf8, true),
        Field::new("content_length", DataType::UInt64, true),
        Field::new("language", DataType::Utf8, true),
    ]
}

impl Iterator for WarcSource {
    type Item = DocBatch;

    fn next(&mut self) -> Option<DocBatch> {
        if self.done {
            return None;
        }
        let mut records: Vec<WarcRecord> = Vec::new();
        let mut quarantined = Vec::new();
        let mut damage = None;
        let mut bytes = 0usize;
        while records.len() < self.config.batch_docs && bytes < self.config.batch_bytes {
            match self.reader.next() {
                None => {
                    self.done = true;
                    break;
                }
                Some(Ok(r)) => {
                    bytes += r.body.len();
                    records.push(r);
                }
                Some(Err(e)) => {
                    quarantined.push(Quarantined::new(format!("byte {}", e.offset()), e.to_string(), &[]));
                    if e.is_damage() && damage.is_none() {
                        damage = Some(e.to_string());
                    }
                    if e.is_fatal() {
                        self.done = true;
                        break;
                    }
                }
            }
        }
        for skipped in self.reader.take_skipped() {
            let error =
                format!("{}; {} compressed bytes skipped to the next gzip member", skipped.error, skipped.bytes);
            quarantined.push(Quarantined::new(format!("compressed byte {}", skipped.offset), error.clone(), &[]));
            damage.get_or_insert(error);
        }
        if !self.change_reported {
            if let Some(change) = self.stamp.changed(&self.watched) {
                self.change_reported = true;
                damage = Some(damage.map_or(change.clone(), |d| format!("{change}; {d}")));
            }
        }
        if records.is_empty() && quarantined.is_empty() && damage.is_none() {
            return None;
        }
        let docs: Vec<_> = records.par_iter().map(|r| (r.offset, record_to_document(r))).collect();
        let (mut ids, mut texts) = (StringBuilder::new(), StringBuilder::new());
        let (mut urls, mut dates, mut langs) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
        let mut lengths = UInt64Builder::new();
        for (offset, d) in docs {
            match d {
                None => {} // warcinfo, request, metadata, non-HTML responses: not documents
                Some(Err(error)) => {
                    let raw =
                        records.iter().find(|r| r.offset == offset).map(|r| r.body.as_slice()).unwrap_or_default();
                    quarantined.push(Quarantined::new(format!("byte {offset}"), error, raw));
                }
                Some(Ok(doc)) => {
                    ids.append_value(if doc.record_id.is_empty() {
                        format!("byte {offset}")
                    } else {
                        doc.record_id.clone()
                    });
                    texts.append_value(&doc.text);
                    urls.append_value(&doc.url);
                    dates.append_value(&doc.date);
                    lengths.append_value(doc.content_length);
                    langs.append_option(doc.language.as_deref());
                }
            }
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(ids.finish()),
            Arc::new(texts.finish()),
            Arc::new(urls.finish()),
            Arc::new(dates.finish()),
            Arc::new(lengths.finish()),
            Arc::new(langs.finish()),
        ];
        let schema = doc_schema(&self.config.id_field, &self.config.text_field, metadata_fields());
        let docs = RecordBatch::try_new(schema, columns).expect("columns match the schema");
        Some(DocBatch { input: self.index, docs, quarantined, bytes: bytes as u64, blank_lines: 0, damage })
    }
}
