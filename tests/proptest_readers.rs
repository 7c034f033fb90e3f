//! Property tests of the input readers: arbitrary bytes and arbitrary mutations of valid inputs (byte flips,
//! truncation, insertion, duplicated ranges) never panic or hang, and every record is accounted for.
//!
//! Conservation, per format:
//! * JSONL: the records of an input are its lines, after a leading UTF-8 byte order mark is removed: the
//!   pieces between `\n`s, the last one counted only when non-empty. Without damage, documents + quarantine
//!   rows + blank lines = lines. With damage (a compressed stream that breaks off), the lines of the readable
//!   prefix are counted the same way, and the unreadable rest is one more quarantine row unless the prefix
//!   ends inside a line (that incomplete line is then the row).
//! * Parquet: without damage, documents + quarantine rows = the rows the footer declares.
//! * WARC: of records written as separate documents, those before the mutated record are read exactly,
//!   those after the one following it are all read as documents, and every other record is a document, a
//!   quarantine row or swallowed by its damaged neighbour.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use svalbard::batch::DocBatch;
use svalbard::source::InputConfig;
use svalbard::source::{self, detect_format, InputFile};

fn input(path: &Path) -> InputFile {
    InputFile {
        path: path.to_path_buf(),
        format: detect_format(path).unwrap(),
        size: std::fs::metadata(path).unwrap().len(),
    }
}

/// The batches of one input, or None when it fails at open (the pipeline then writes one quarantine row).
fn read(path: &Path, cfg: &InputConfig) -> Option<Vec<DocBatch>> {
    source::open(0, &input(path), cfg).ok().map(|it| it.collect())
}

#[derive(Debug, Default)]
struct Tally {
    texts: Vec<String>,
    quarantined: usize,
    blank_lines: u64,
    damaged: bool,
}

fn tally(batches: &[DocBatch]) -> Tally {
    let mut t = Tally::default();
    for b in batches {
        t.texts.extend(b.texts().into_iter().map(str::to_string));
        t.quarantined += b.quarantined.len();
        t.blank_lines += b.blank_lines;
        t.damaged |= b.damage.is_some();
    }
    t
}

/// A mutation of a byte string. Positions are fractions of its length, so that they apply to any input.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { at: f64, xor: u8 },
    Truncate { at: f64 },
    Insert { at: f64, bytes: Vec<u8> },
    Duplicate { from: f64, len: usize, to: f64 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    prop_oneof![
        (at.clone(), 1..=255u8).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        at.clone().prop_map(|at| Mutation::Truncate { at }),
        (
            at.clone(),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 1..16),
                Just(b"\n".to_vec()),
                Just(b"\r\n\r\n".to_vec()),
                Just(b"WARC/1.0\r\n".to_vec()),
                Just(b"\xEF\xBB\xBF".to_vec()),
            ]
        )
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (at.clone(), 1..200usize, at).prop_map(|(from, len, to)| Mutation::Duplicate { from, len, to }),
    ]
}

fn apply(data: &[u8], m: &Mutation) -> Vec<u8> {
    let pos = |f: f64| ((data.len() as f64 * f) as usize).min(data.len());
    let mut v = data.to_vec();
    match m {
        Mutation::Flip { at, xor } => {
            if !v.is_empty() {
                let i = pos(*at).min(v.len() - 1);
                v[i] ^= xor;
            }
        }
        Mutation::Truncate { at } => v.truncate(pos(*at)),
        Mutation::Insert { at, bytes } => {
            let i = pos(*at);
            v.splice(i..i, bytes.iter().copied());
        }
        Mutation::Duplicate { from, len, to } => {
            let a = pos(*from);
            let b = (a + len).min(v.len());
            let piece = v[a..b].to_vec();
            let i = pos(*to);
            v.splice(i..i, piece);
        }
    }
    v
}

fn apply_all(data: &[u8], ms: &[Mutation]) -> Vec<u8> {
    ms.iter().fold(data.to_vec(), |d, m| apply(&d, m))
}

/// Records of a JSONL byte string, as the module doc defines them.
fn jsonl_lines(data: &[u8]) -> u64 {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let newlines = memchr::memchr_iter(b'\n', data).count() as u64;
    newlines + u64::from(!data.is_empty() && !data.ends_with(b"\n"))
}

/// Lines of valid, blank and malformed JSONL, some long.
fn jsonl_input() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        4 => "[a-zA-Z0-9 é\\\\\"]{0,40}".prop_map(|t| format!("{}\n", serde_json::json!({"id": t.len(), "text": t, "k": t}))),
        1 => Just("\n".to_string()),
        1 => Just("  \r\n".to_string()),
        1 => "[{}\\[\\]:,\"a-z0-9 ]{0,30}".prop_map(|s| format!("{s}\n")),
        1 => (100..3000usize).prop_map(|n| format!("{}\n", serde_json::json!({"text": "x".repeat(n)}))),
    ];
    proptest::collection::vec(line, 0..40).prop_map(|lines| lines.concat().into_bytes())
}

fn jsonl_config() -> impl Strategy<Value = InputConfig> {
    (prop_oneof![Just(1usize), 64..8192usize], prop_oneof![Just(256usize << 20), 16..2000usize])
        .prop_map(|(batch_bytes, max_doc_bytes)| InputConfig { batch_bytes, max_doc_bytes, ..Default::default() })
}

fn check_plain_jsonl(data: &[u8], cfg: &InputConfig) -> Result<(), TestCaseError> {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("p.jsonl");
    std::fs::write(&path, data).unwrap();
    let t = tally(&read(&path, cfg).expect("a plain file opens"));
    prop_assert!(!t.damaged);
    prop_assert_eq!(t.texts.len() as u64 + t.quarantined as u64 + t.blank_lines, jsonl_lines(data));
    Ok(())
}

/// Compressed JSONL: the readable prefix is what the same decoder yields before it fails.
fn check_compressed_jsonl(name: &str, compressed: &[u8], cfg: &InputConfig) -> Result<(), TestCaseError> {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join(name);
    std::fs::write(&path, compressed).unwrap();
    let Some(batches) = read(&path, cfg) else {
        prop_assert!(compressed.is_empty(), "only an empty file fails at open");
        return Ok(());
    };
    let t = tally(&batches);
    let mut prefix = Vec::new();
    let clean = if name.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(compressed).read_to_end(&mut prefix).is_ok()
    } else {
        match zstd::stream::read::Decoder::new(compressed) {
            Ok(mut dec) => dec.read_to_end(&mut prefix).is_ok(),
            Err(_) => false,
        }
    };
    let rows = t.texts.len() as u64 + t.quarantined as u64 + t.blank_lines;
    if clean && !t.damaged {
        prop_assert_eq!(rows, jsonl_lines(&prefix));
    } else {
        prop_assert!(t.damaged, "the decoder failed but no damage was recorded");
        prop_assert!(t.quarantined >= 1);
        let tail_row = u64::from(prefix.is_empty() || prefix.ends_with(b"\n"));
        prop_assert_eq!(rows, jsonl_lines(&prefix) + tail_row);
    }
    Ok(())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn plain_jsonl_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..2000), cfg in jsonl_config()) {
        check_plain_jsonl(&data, &cfg)?;
    }

    #[test]
    fn plain_jsonl_mutated(data in jsonl_input(), ms in proptest::collection::vec(mutation(), 0..4), cfg in jsonl_config()) {
        check_plain_jsonl(&apply_all(&data, &ms), &cfg)?;
    }

    #[test]
    fn gz_jsonl_mutated(data in jsonl_input(), ms in proptest::collection::vec(mutation(), 0..3), cfg in jsonl_config()) {
        // Two members, as concatenated gzip files have.
        let half = data.len() / 2;
        let compressed = [gzip(&data[..half]), gzip(&data[half..])].concat();
        check_compressed_jsonl("m.jsonl.gz", &apply_all(&compressed, &ms), &cfg)?;
    }

    #[test]
    fn zst_jsonl_mutated(data in jsonl_input(), ms in proptest::collection::vec(mutation(), 0..3), cfg in jsonl_config()) {
        let compressed = zstd::encode_all(&data[..], 3).unwrap();
        check_compressed_jsonl("m.jsonl.zst", &apply_all(&compressed, &ms), &cfg)?;
    }

    #[test]
    fn compressed_jsonl_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..600), cfg in jsonl_config()) {
        check_compressed_jsonl("a.jsonl.gz", &data, &cfg)?;
        check_compressed_jsonl("a.jsonl.zst", &data, &cfg)?;
    }
}

// ---- Parquet ----

fn parquet_file(rows: usize, group_rows: usize) -> Vec<u8> {
    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("text", DataType::Utf8, true),
        Field::new("url", DataType::Utf8, true),
    ]));
    let props = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows.max(1)))
        .build();
    let mut out = Vec::new();
    let mut w = parquet::arrow::ArrowWriter::try_new(&mut out, schema.clone(), Some(props)).unwrap();
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from_iter_values(0..rows as i64)),
            Arc::new(StringArray::from_iter((0..rows).map(|i| (i % 7 != 3).then(|| format!("text of row {i}"))))),
            Arc::new(StringArray::from_iter_values((0..rows).map(|i| format!("http://x/{i}")))),
        ],
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    out
}

fn declared_rows(data: &[u8]) -> Option<i64> {
    use parquet::file::reader::FileReader;
    let r = parquet::file::serialized_reader::SerializedFileReader::new(bytes::Bytes::copy_from_slice(data)).ok()?;
    Some(r.metadata().row_groups().iter().map(|g| g.num_rows()).sum())
}

fn check_parquet(data: &[u8]) -> Result<(), TestCaseError> {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("m.parquet");
    std::fs::write(&path, data).unwrap();
    let cfg = InputConfig { batch_docs: 16, ..Default::default() };
    if let Some(batches) = read(&path, &cfg) {
        let t = tally(&batches);
        if !t.damaged {
            if let Some(rows) = declared_rows(data) {
                prop_assert_eq!(t.texts.len() as i64 + t.quarantined as i64, rows);
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parquet_mutated(rows in 0..200usize, group in 1..80usize, ms in proptest::collection::vec(mutation(), 1..3)) {
        check_parquet(&apply_all(&parquet_file(rows, group), &ms))?;
    }

    #[test]
    fn parquet_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut data = data;
        // Give some cases a plausible frame so that the footer parser is reached.
        if data.len() > 8 && data[0] % 2 == 0 {
            data[..4].copy_from_slice(b"PAR1");
            let n = data.len();
            data[n - 4..].copy_from_slice(b"PAR1");
        }
        check_parquet(&data)?;
    }
}

// ---- WARC ----

fn wet_record(i: usize, body: &str) -> Vec<u8> {
    let mut v = Vec::new();
    write!(
        v,
        "WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: http://x/{i}\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n\
         Content-Length: {}\r\n\r\n{body}\r\n\r\n",
        body.len()
    )
    .unwrap();
    v
}

fn wet_bodies() -> impl Strategy<Value = Vec<String>> {
    proptest::collection::vec("[a-z ]{1,60}(\r?\n[a-z ]{1,40}){0,3}", 1..12)
        .prop_map(|bodies| bodies.into_iter().enumerate().map(|(i, b)| format!("record {i}: {b}")).collect())
}

/// `file` holds records with `bodies`, mutated inside record `k`; `after`: the records after it are still
/// there (the mutation was not a truncation).
fn check_warc(name: &str, file: &[u8], bodies: &[String], k: usize, after: bool) -> Result<(), TestCaseError> {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join(name);
    std::fs::write(&path, file).unwrap();
    let Some(batches) = read(&path, &InputConfig::default()) else {
        prop_assert!(file.is_empty());
        return Ok(());
    };
    let t = tally(&batches);
    if bodies.is_empty() {
        return Ok(());
    }
    prop_assert!(t.texts.len() >= k);
    prop_assert_eq!(&t.texts[..k], &bodies[..k]);
    if !after {
        return Ok(());
    }
    for later in bodies.iter().skip(k + 2) {
        prop_assert!(t.texts.contains(later), "record {later:?} lost");
    }
    prop_assert!(t.texts.len() + t.quarantined + 2 >= bodies.len());
    Ok(())
}

/// A mutation confined to `range` of `data`.
fn apply_within(data: &[u8], range: std::ops::Range<usize>, m: &Mutation) -> Vec<u8> {
    let (head, tail) = (&data[..range.start], &data[range.end..]);
    let piece = match m {
        // A truncation inside the record cuts the whole file there.
        Mutation::Truncate { .. } => return [head, &apply(&data[range], m)].concat(),
        _ => apply(&data[range], m),
    };
    [head, &piece, tail].concat()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn plain_warc_mutated(bodies in wet_bodies(), k in any::<prop::sample::Index>(), m in mutation()) {
        let records: Vec<Vec<u8>> = bodies.iter().enumerate().map(|(i, b)| wet_record(i, b)).collect();
        let k = k.index(records.len());
        let start: usize = records[..k].iter().map(Vec::len).sum();
        let file = apply_within(&records.concat(), start..start + records[k].len(), &m);
        let after = !matches!(m, Mutation::Truncate { .. });
        check_warc("m.warc", &file, &bodies, k, after)?;
    }

    #[test]
    fn gz_warc_mutated(bodies in wet_bodies(), k in any::<prop::sample::Index>(), m in mutation()) {
        // One gzip member per record, as Common Crawl writes them. A damaged member ends the stream, so only
        // the records before it are certain.
        let members: Vec<Vec<u8>> = bodies.iter().enumerate().map(|(i, b)| gzip(&wet_record(i, b))).collect();
        let k = k.index(members.len());
        let start: usize = members[..k].iter().map(Vec::len).sum();
        let file = apply_within(&members.concat(), start..start + members[k].len(), &m);
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("m.warc.gz");
        std::fs::write(&path, &file).unwrap();
        // A truncation at the first byte leaves an empty file, which fails at open (one quarantine row).
        let Some(batches) = read(&path, &InputConfig::default()) else {
            prop_assert!(file.is_empty(), "only an empty file fails at open");
            return Ok(());
        };
        let t = tally(&batches);
        prop_assert!(t.texts.len() >= k, "{} docs, mutated member {k}", t.texts.len());
        prop_assert_eq!(&t.texts[..k], &bodies[..k]);
    }

    #[test]
    fn warc_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..2000), gz in any::<bool>()) {
        let (name, file) = if gz { ("a.warc.gz", gzip(&data)) } else { ("a.warc", data) };
        check_warc(name, &file, &[], 0, false)?;
    }

    #[test]
    fn warc_with_wrong_content_lengths(bodies in wet_bodies(), errors in proptest::collection::vec(-20..40i64, 12)) {
        // Every record with a wrong Content-Length is a quarantine row; every other one a document.
        let mut file = Vec::new();
        let mut wrong = 0;
        for (i, b) in bodies.iter().enumerate() {
            let mut r = wet_record(i, b);
            let e = errors[i].max(-(b.len() as i64) + 1);
            if e != 0 {
                wrong += 1;
                let header = format!("Content-Length: {}\r\n", b.len());
                let at = r.windows(header.len()).position(|w| w == header.as_bytes()).unwrap();
                r.splice(at..at + header.len(), format!("Content-Length: {}\r\n", b.len() as i64 + e).bytes());
            }
            file.extend(r);
        }
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("cl.warc");
        std::fs::write(&path, &file).unwrap();
        let t = tally(&read(&path, &InputConfig::default()).unwrap());
        let good: Vec<&String> = bodies.iter().enumerate().filter(|(i, b)| errors[*i].max(-(b.len() as i64) + 1) == 0).map(|(_, b)| b).collect();
        prop_assert_eq!(t.texts.iter().collect::<Vec<_>>(), good);
        prop_assert_eq!(t.quarantined, wrong);
        prop_assert_eq!(t.damaged, wrong > 0);
    }
}
