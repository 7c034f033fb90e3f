//! Property tests of the write side: whatever batches arrive, the partition writers give back exactly the rows
//! they were given, in order, in parts that respect `max_file_bytes`; and whatever lines a JSONL input holds, a
//! run puts every record in exactly one of clean, rejected or quarantine, with stats that agree with the disk.

mod common;

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use proptest::prelude::*;

use common::*;
use svalbard::config::Config;
use svalbard::pipeline::{self, Job};
use svalbard::sink::OutputFormat;
use svalbard::sink::{PartitionWriter, CLEAN};
use svalbard::source::plan_inputs;

fn batch(rows: &[(String, Option<String>)], wide: bool) -> RecordBatch {
    let mut fields = vec![Field::new("id", DataType::Utf8, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0.as_str())))];
    if wide {
        fields.push(Field::new("extra", DataType::Utf8, true));
        columns.push(Arc::new(StringArray::from_iter(rows.iter().map(|r| r.1.as_deref()))));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
}

fn row() -> impl Strategy<Value = (String, Option<String>)> {
    (".{0,300}", proptest::option::of(".{0,50}"))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn parts_hold_exactly_the_rows_written_and_respect_the_size_limit(
        batches in proptest::collection::vec((proptest::collection::vec(row(), 0..40), any::<bool>()), 1..12),
        max_bytes in 1024u64..64 * 1024,
        parquet in any::<bool>(),
    ) {
        let d = tempfile::tempdir().unwrap();
        let format = if parquet { OutputFormat::Parquet } else { OutputFormat::Arrow };
        let mut w = PartitionWriter::new(d.path(), CLEAN, 7, format, max_bytes);
        let mut want = Vec::new();
        let mut widest_row = 0u64;
        for (rows, wide) in &batches {
            w.write(&batch(rows, *wide)).unwrap();
            want.extend(rows.iter().map(|r| r.0.clone()));
            widest_row = widest_row.max(rows.iter().map(|r| (r.0.len() + r.1.as_ref().map_or(0, |s| s.len())) as u64).max().unwrap_or(0));
        }
        let parts = w.finish().unwrap();
        let mut got = Vec::new();
        for p in &parts {
            let read = svalbard::sink::read_part(&d.path().join(&p.path)).unwrap();
            let n: usize = read.iter().map(|b| b.num_rows()).sum();
            prop_assert_eq!(n as u64, p.rows);
            got.extend(strings(&read, "id"));
            // One row of slack plus the file's framing (schema, footer, Parquet page headers and statistics).
            let slack = widest_row * 2 + 4096;
            prop_assert!(p.bytes <= max_bytes + slack, "{} is {} bytes, limit {} + {}", p.path, p.bytes, max_bytes, slack);
        }
        prop_assert_eq!(got, want);
        let leftovers = std::fs::read_dir(d.path().join(CLEAN)).map(|rd| rd.filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.')).count()).unwrap_or(0);
        prop_assert_eq!(leftovers, 0);
    }
}

/// One line of a JSONL input, and whether it is a document.
#[derive(Clone, Debug)]
enum Line {
    Doc(String),
    Blank,
    Garbage(Vec<u8>),
    NoText,
}

fn line() -> impl Strategy<Value = Line> {
    prop_oneof![
        4 => ".{0,400}".prop_map(Line::Doc),
        1 => Just(Line::Blank),
        1 => proptest::collection::vec(any::<u8>(), 1..80)
            .prop_filter("not a newline, not blank, not an object", |b| !b.contains(&b'\n') && !b.iter().all(|c| c.is_ascii_whitespace()) && b.first() != Some(&b'{'))
            .prop_map(Line::Garbage),
        1 => Just(Line::NoText),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_line_ends_in_exactly_one_place(lines in proptest::collection::vec(line(), 0..200), gz in any::<bool>(), batch_bytes in 1024usize..16 * 1024) {
        let d = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        let (mut docs, mut bad, mut blank) = (Vec::new(), 0u64, 0u64);
        for (i, l) in lines.iter().enumerate() {
            match l {
                Line::Doc(text) => {
                    let id = format!("doc-{i}");
                    bytes.extend(jsonl_line(&id, text).as_bytes());
                    docs.push(id);
                }
                Line::Blank => { blank += 1; }
                Line::Garbage(b) => { bytes.extend(b); bad += 1; }
                Line::NoText => { bytes.extend(br#"{"id":"x","title":"no text here"}"#); bad += 1; }
            }
            bytes.push(b'\n');
        }
        let input = d.path().join(if gz { "in.jsonl.gz" } else { "in.jsonl" });
        std::fs::write(&input, if gz { gzip(&bytes) } else { bytes }).unwrap();
        let mut config = Config::default();
        config.signals.classifiers.clear();
        config.input.batch_bytes = batch_bytes;
        config.output.max_file_bytes = 4096;
        let out = d.path().join("out");
        let job = Job::new(plan_inputs(&[input.display().to_string()]).unwrap(), out.clone(), config);
        let stats = pipeline::run(&job).unwrap();
        let t = &stats.totals;
        prop_assert!(t.balanced(), "{:?}", t);
        prop_assert_eq!(t.docs_in, docs.len() as u64 + bad);
        prop_assert_eq!(t.quarantined, bad);
        prop_assert_eq!(t.blank_lines, blank);
        prop_assert_eq!(rows(&out, "quarantine"), bad);
        let mut kept = strings(&read_category(&out, "clean"), "id");
        kept.extend(strings(&read_category(&out, "rejected"), "id"));
        kept.sort();
        docs.sort();
        prop_assert_eq!(kept, docs);
    }
}
