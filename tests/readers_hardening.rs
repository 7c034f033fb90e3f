//! Regression tests for the input readers' hardening (issue 28): every record ends as a document or a
//! quarantine row, bad input gets a clear error and loses nothing, and the cost of a record is bounded.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, StringArray};
use svalbard::batch::{DocBatch, Quarantined, MAX_QUARANTINE_RAW, OVERSIZE_RAW_PREFIX};
use svalbard::source::InputConfig;
use svalbard::source::{self, detect_format, InputFile};

fn input(path: &Path) -> InputFile {
    InputFile {
        path: path.to_path_buf(),
        format: detect_format(path).unwrap(),
        size: std::fs::metadata(path).unwrap().len(),
    }
}

fn read_all(path: &Path, cfg: &InputConfig) -> Vec<DocBatch> {
    source::open(0, &input(path), cfg).unwrap().collect()
}

/// What a whole input turned into.
#[derive(Debug, Default)]
struct Tally {
    texts: Vec<String>,
    quarantined: Vec<Quarantined>,
    blank_lines: u64,
    damage: Vec<String>,
    columns: usize,
}

fn tally(batches: &[DocBatch]) -> Tally {
    let mut t = Tally::default();
    for b in batches {
        t.texts.extend(b.texts().into_iter().map(str::to_string));
        t.quarantined.extend(b.quarantined.iter().cloned());
        t.blank_lines += b.blank_lines;
        t.damage.extend(b.damage.clone());
        t.columns = t.columns.max(b.docs.num_columns());
    }
    t
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn doc_line(text: &str) -> String {
    format!("{}\n", serde_json::json!({ "text": text }))
}

// 1. A long line in a compressed input is skipped in linear time and quarantined with a bounded prefix.
#[test]
fn gz_line_over_max_doc_bytes_is_skipped_with_a_bounded_prefix() {
    let d = tempfile::tempdir().unwrap();
    let long = 64usize << 20;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(doc_line("before").as_bytes()).unwrap();
    let block = vec![b'a'; 1 << 20];
    for _ in 0..long / block.len() {
        e.write_all(&block).unwrap();
    }
    e.write_all(b"\n").unwrap();
    for t in ["after one", "after two", "after three"] {
        e.write_all(doc_line(t).as_bytes()).unwrap();
    }
    let path = d.path().join("long.jsonl.gz");
    std::fs::write(&path, e.finish().unwrap()).unwrap();

    let cfg = InputConfig { max_doc_bytes: 1 << 20, ..Default::default() };
    let started = std::time::Instant::now();
    let t = tally(&read_all(&path, &cfg));
    eprintln!("read in {:?}", started.elapsed());
    assert_eq!(t.texts, ["before", "after one", "after two", "after three"]);
    assert_eq!(t.quarantined.len(), 1, "{:?}", t.quarantined.iter().map(|q| &q.error).collect::<Vec<_>>());
    let q = &t.quarantined[0];
    assert_eq!(q.location, "line 2");
    assert_eq!(q.error, format!("record of {long} bytes exceeds input.max_doc_bytes = {}", 1 << 20));
    assert!(q.raw.len() <= OVERSIZE_RAW_PREFIX, "raw of {} bytes", q.raw.len());
    assert!(q.raw.iter().all(|&b| b == b'a') && !q.raw.is_empty());
    assert!(t.damage.is_empty());
}

// 2. Quarantine raw is bounded in every reader: oversize records keep a prefix, malformed ones a cap.
#[test]
fn plain_jsonl_quarantine_raw_is_bounded() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("big.jsonl");
    let oversize = doc_line(&"b".repeat(300 << 10));
    let garbage = "x".repeat(200 << 10);
    std::fs::write(&path, format!("{oversize}{garbage}\n{}", doc_line("fine"))).unwrap();
    let cfg = InputConfig { max_doc_bytes: 256 << 10, ..Default::default() };
    let t = tally(&read_all(&path, &cfg));
    assert_eq!(t.texts, ["fine"]);
    assert_eq!(t.quarantined.len(), 2);
    let (big, bad) = (&t.quarantined[0], &t.quarantined[1]);
    assert_eq!(
        big.error,
        format!("record of {} bytes exceeds input.max_doc_bytes = {}", oversize.len() - 1, 256 << 10)
    );
    assert!(big.raw.len() <= OVERSIZE_RAW_PREFIX, "raw of {} bytes", big.raw.len());
    assert!(big.raw.starts_with(b"{\"text\":\"bbb"));
    assert!(bad.error.starts_with("malformed JSON"), "{}", bad.error);
    assert!(bad.error.contains(&format!("{}", 200 << 10)), "true length missing: {}", bad.error);
    assert_eq!(bad.raw.len(), MAX_QUARANTINE_RAW);
}

#[test]
fn parquet_and_warc_quarantine_raw_is_bounded() {
    use arrow::datatypes::{DataType, Field, Schema};
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("big.parquet");
    let schema = Arc::new(Schema::new(vec![Field::new("text", DataType::Utf8, true)]));
    let batch = arrow::array::RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(StringArray::from(vec!["small".to_string(), "c".repeat(100 << 10)]))],
    )
    .unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let t = tally(&read_all(&path, &InputConfig { max_doc_bytes: 10 << 10, ..Default::default() }));
    assert_eq!(t.texts, ["small"]);
    assert_eq!(t.quarantined.len(), 1);
    assert!(t.quarantined[0].raw.len() <= OVERSIZE_RAW_PREFIX, "raw of {} bytes", t.quarantined[0].raw.len());
    assert_eq!(
        t.quarantined[0].error,
        format!("record of {} bytes exceeds input.max_doc_bytes = {}", 100 << 10, 10 << 10)
    );

    // A WARC response whose HTTP payload cannot be read: its raw body is capped too.
    let mut body = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec();
    body.extend(vec![b'q'; 200 << 10]);
    let path = d.path().join("bad.warc");
    std::fs::write(&path, warc_record("response", "http://x/", &body, 0)).unwrap();
    let t = tally(&read_all(&path, &InputConfig::default()));
    assert_eq!(t.quarantined.len(), 1);
    assert!(t.quarantined[0].raw.len() <= MAX_QUARANTINE_RAW, "raw of {} bytes", t.quarantined[0].raw.len());
}

// 3. An input truncated or rewritten while it is read is reported as damaged; what was read is kept.
fn write_many_docs(path: &Path, n: usize) -> Vec<u8> {
    let mut data = Vec::new();
    for i in 0..n {
        data.extend(doc_line(&format!("document number {i} with a few words of text in it")).as_bytes());
    }
    std::fs::write(path, &data).unwrap();
    data
}

#[test]
fn plain_jsonl_truncated_while_read_is_damaged_not_a_crash() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("shrinks.jsonl");
    let data = write_many_docs(&path, 100_000);
    let cfg = InputConfig { batch_bytes: 64 << 10, ..Default::default() };
    let mut it = source::open(0, &input(&path), &cfg).unwrap();
    let first = it.next().unwrap();
    let first_docs = first.len();
    assert!(first_docs > 100);
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(data.len() as u64 / 2).unwrap();
    let mut batches = vec![first];
    batches.extend(it);
    let t = tally(&batches);
    assert!(t.texts.len() >= first_docs && t.texts.len() < 100_000, "{} docs", t.texts.len());
    assert_eq!(t.texts[0], "document number 0 with a few words of text in it");
    assert_eq!(t.damage.len(), 1, "{:?}", t.damage);
    assert!(t.damage[0].contains("truncated/changed during the run"), "{}", t.damage[0]);
    // The unread tail is accounted for by a quarantine row.
    assert!(!t.quarantined.is_empty());
}

#[test]
fn plain_jsonl_rewritten_in_place_is_damaged() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("rewritten.jsonl");
    let data = write_many_docs(&path, 20_000);
    let cfg = InputConfig { batch_bytes: 64 << 10, ..Default::default() };
    let mut it = source::open(0, &input(&path), &cfg).unwrap();
    let first = it.next().unwrap();
    // Same size, other content, new modification time.
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    use std::os::unix::fs::FileExt;
    f.write_all_at(&data.iter().map(|&b| if b == b'd' { b'D' } else { b }).collect::<Vec<_>>(), 0).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(3600)).unwrap();
    drop(f);
    let mut batches = vec![first];
    batches.extend(it);
    let t = tally(&batches);
    assert!(t.damage.iter().any(|d| d.contains("truncated/changed during the run")), "{:?}", t.damage);
}

// 4. WARC records whose Content-Length is wrong are quarantined and the reader resynchronises.
fn warc_record(kind: &str, url: &str, body: &[u8], length_error: i64) -> Vec<u8> {
    let mut v = Vec::new();
    write!(
        v,
        "WARC/1.0\r\nWARC-Type: {kind}\r\nWARC-Target-URI: {url}\r\nWARC-Date: 2024-01-01T00:00:00Z\r\nContent-Length: {}\r\n\r\n",
        body.len() as i64 + length_error
    )
    .unwrap();
    v.extend_from_slice(body);
    v.extend_from_slice(b"\r\n\r\n");
    v
}

#[test]
fn warc_wrong_content_length_quarantines_the_record_and_resyncs() {
    let d = tempfile::tempdir().unwrap();
    let records = [
        warc_record("conversion", "http://a/", b"text of record zero", 0),
        warc_record("conversion", "http://b/", b"text of record one, length too large", 40),
        warc_record("conversion", "http://c/", b"text of record two", 0),
        warc_record("conversion", "http://d/", b"text of record three, length too small", -12),
        warc_record("conversion", "http://e/", b"text of record four", 0),
    ];
    let plain = d.path().join("lengths.warc");
    std::fs::write(&plain, records.concat()).unwrap();
    let gz = d.path().join("lengths.warc.gz");
    std::fs::write(&gz, records.iter().flat_map(|r| gzip(r)).collect::<Vec<u8>>()).unwrap();
    for path in [plain, gz] {
        let t = tally(&read_all(&path, &InputConfig::default()));
        assert_eq!(t.texts, ["text of record zero", "text of record two", "text of record four"], "{path:?}");
        assert_eq!(t.quarantined.len(), 2, "{path:?}: {:?}", t.quarantined);
        for q in &t.quarantined {
            assert!(q.error.contains("Content-Length"), "{}", q.error);
        }
        assert!(!t.damage.is_empty(), "{path:?}");
    }
}

/// Common Crawl writes a gzip member per record: a corrupt member costs its record, and reading resumes at the
/// next member (the skipped stretch is a quarantine row, and damage).
#[test]
fn warc_gz_corrupt_member_is_skipped_to_the_next_member() {
    let d = tempfile::tempdir().unwrap();
    let texts = ["text of record zero ", "text of record one ", "text of record two "];
    let members: Vec<Vec<u8>> =
        texts.iter().map(|t| gzip(&warc_record("conversion", "http://a/", t.repeat(40).as_bytes(), 0))).collect();
    let mut bad = members[1].clone();
    for byte in &mut bad[12..40] {
        *byte ^= 0x5a;
    }
    let path = d.path().join("corrupt.warc.gz");
    std::fs::write(&path, [members[0].clone(), bad.clone(), members[2].clone()].concat()).unwrap();
    let t = tally(&read_all(&path, &InputConfig::default()));
    assert_eq!(t.texts, [texts[0].repeat(40), texts[2].repeat(40)], "{:?}", t.quarantined);
    let skipped: Vec<_> = t.quarantined.iter().filter(|q| q.error.contains("gzip member")).collect();
    assert_eq!(skipped.len(), 1, "{:?}", t.quarantined);
    assert_eq!(skipped[0].location, format!("compressed byte {}", members[0].len()));
    assert!(skipped[0].error.contains(&format!("{} compressed bytes skipped", bad.len())), "{}", skipped[0].error);
    assert!(!t.damage.is_empty());
}

#[test]
fn warc_content_length_beyond_the_end_keeps_the_records_inside() {
    let d = tempfile::tempdir().unwrap();
    let records = [
        warc_record("conversion", "http://a/", b"text of record zero", 10_000),
        warc_record("conversion", "http://b/", b"text of record one", 0),
        warc_record("conversion", "http://c/", b"text of record two", 0),
    ];
    let path = d.path().join("beyond.warc");
    std::fs::write(&path, records.concat()).unwrap();
    let t = tally(&read_all(&path, &InputConfig::default()));
    assert_eq!(t.texts, ["text of record one", "text of record two"]);
    assert_eq!(t.quarantined.len(), 1);
    assert!(!t.damage.is_empty());
}

// 9. Unreadable compressed files become a quarantine row and damage (or fail at open), never nothing.
#[test]
fn unreadable_compressed_files_are_quarantined() {
    let d = tempfile::tempdir().unwrap();
    let cases: [(&str, Vec<u8>); 5] = [
        ("notgzip.jsonl.gz", doc_line("plain text, not gzip").into_bytes()),
        ("empty.jsonl.gz", Vec::new()),
        ("garbage.jsonl.zst", b"\x00\x01garbage that is not a zstd frame at all".to_vec()),
        ("empty.jsonl.zst", Vec::new()),
        ("trailing.jsonl.gz", [gzip(doc_line("ok").as_bytes()), b"trailing garbage".to_vec()].concat()),
    ];
    for (name, bytes) in cases {
        let path = d.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        match source::open(0, &input(&path), &InputConfig::default()) {
            Err(e) => eprintln!("{name}: fails at open: {e}"),
            Ok(it) => {
                let t = tally(&it.collect::<Vec<_>>());
                assert!(!t.quarantined.is_empty(), "{name}: no quarantine row");
                assert!(!t.damage.is_empty(), "{name}: no damage");
                let q = t.quarantined.last().unwrap();
                assert!(q.location.starts_with("byte ") || q.location.starts_with("line "), "{name}: {q:?}");
            }
        }
    }
}

// 5. Parquet text and id columns as dictionaries or as BINARY without the UTF8 annotation (Spark).
#[test]
fn parquet_dictionary_and_binary_text_columns() {
    use arrow::array::{BinaryArray, DictionaryArray, Int32Array};
    use arrow::datatypes::{DataType, Field, Int32Type, Schema};
    let d = tempfile::tempdir().unwrap();

    let dict_path = d.path().join("dict.parquet");
    let texts: DictionaryArray<Int32Type> = vec!["alpha", "beta", "alpha", "gamma"].into_iter().collect();
    let ids: DictionaryArray<Int32Type> = vec!["i0", "i1", "i2", "i3"].into_iter().collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), false),
        Field::new("text", DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), false),
        Field::new("n", DataType::Int32, false),
    ]));
    let batch = arrow::array::RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(ids), Arc::new(texts), Arc::new(Int32Array::from(vec![1, 2, 3, 4]))],
    )
    .unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&dict_path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let batches = read_all(&dict_path, &InputConfig::default());
    let t = tally(&batches);
    assert_eq!(t.texts, ["alpha", "beta", "alpha", "gamma"]);
    assert!(t.quarantined.is_empty());
    let ids = batches[0].docs.column(0).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(ids.value(3), "i3");

    let bin_path = d.path().join("binary.parquet");
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Binary, true),
        Field::new("text", DataType::Binary, true),
    ]));
    let texts = BinaryArray::from(vec![&b"first"[..], &b"bad \xff utf-8"[..], &b"third"[..]]);
    let ids = BinaryArray::from(vec![&b"a"[..], &b"b"[..], &b"c"[..]]);
    let batch = arrow::array::RecordBatch::try_new(schema.clone(), vec![Arc::new(ids), Arc::new(texts)]).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&bin_path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let batches = read_all(&bin_path, &InputConfig::default());
    let t = tally(&batches);
    assert_eq!(t.texts, ["first", "third"]);
    assert_eq!(t.quarantined.len(), 1);
    assert_eq!(t.quarantined[0].location, "row 1");
    assert!(t.quarantined[0].error.contains("UTF-8"), "{}", t.quarantined[0].error);
    assert_eq!(t.quarantined[0].raw, b"bad \xff utf-8");
    let ids = batches[0].docs.column(0).as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!((ids.value(0), ids.value(1)), ("a", "c"));
}

// 8. Passthrough of many distinct keys is capped; every document is kept.
#[test]
fn passthrough_of_many_distinct_keys_is_capped() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("keys.jsonl");
    let mut data = String::new();
    for doc in 0..500 {
        let mut obj = serde_json::Map::new();
        obj.insert("text".into(), format!("document {doc}").into());
        for k in 0..100 {
            obj.insert(format!("key_{doc}_{k}"), k.into());
        }
        data.push_str(&serde_json::Value::Object(obj).to_string());
        data.push('\n');
    }
    std::fs::write(&path, data).unwrap();
    let cfg = InputConfig { batch_bytes: 64 << 10, ..Default::default() };
    let t = tally(&read_all(&path, &cfg));
    assert_eq!(t.texts.len(), 500);
    assert_eq!(t.texts[499], "document 499");
    assert!(t.quarantined.is_empty());
    assert!(t.columns <= svalbard::source::InputConfig::default().max_passthrough_keys + 2, "{} columns", t.columns);
}

// 6. A UTF-8 byte order mark at the start of the input is not part of the first record.
#[test]
fn utf8_bom_is_stripped() {
    let d = tempfile::tempdir().unwrap();
    let data = [b"\xEF\xBB\xBF".as_slice(), doc_line("first").as_bytes(), doc_line("second").as_bytes()].concat();
    let plain = d.path().join("bom.jsonl");
    std::fs::write(&plain, &data).unwrap();
    let gz = d.path().join("bom.jsonl.gz");
    std::fs::write(&gz, gzip(&data)).unwrap();
    let zst = d.path().join("bom.jsonl.zst");
    std::fs::write(&zst, zstd::encode_all(&data[..], 3).unwrap()).unwrap();
    for p in [plain, gz, zst] {
        let t = tally(&read_all(&p, &InputConfig::default()));
        assert_eq!(t.texts, ["first", "second"], "{p:?}: {:?}", t.quarantined);
    }
}

// 7. Malformed JSON is reported with a position, not simd-json's "character 0".
#[test]
fn malformed_json_error_has_a_position() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("bad.jsonl");
    std::fs::write(&path, b"{\"text\": }\n{\"text\": \"ok\",}\n").unwrap();
    let t = tally(&read_all(&path, &InputConfig::default()));
    assert_eq!(t.quarantined.len(), 2);
    assert_eq!(t.quarantined[0].error, "malformed JSON: expected value at line 1 column 10");
    assert!(t.quarantined[1].error.ends_with("at line 1 column 15"), "{}", t.quarantined[1].error);
}

// 10. A FIFO (or any non-regular file) is refused at open instead of hanging.
#[test]
fn fifo_input_is_refused_at_open() {
    let d = tempfile::tempdir().unwrap();
    for name in ["pipe.jsonl", "pipe.jsonl.gz", "pipe.parquet", "pipe.warc"] {
        let path = d.path().join(name);
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let (tx, rx) = std::sync::mpsc::channel();
        let input = InputFile { path: path.clone(), format: detect_format(&path).unwrap(), size: 0 };
        std::thread::spawn(move || {
            let r = source::open(0, &input, &InputConfig::default()).map(|_| ()).map_err(|e| e.to_string());
            let _ = tx.send(r);
        });
        match rx.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(r) => {
                let e = r.expect_err(name);
                assert!(e.contains("not a regular file"), "{name}: {e}");
            }
            Err(_) => {
                // Release the reader blocked in open() before failing.
                let _ = std::fs::OpenOptions::new().write(true).open(&path);
                panic!("{name}: open hangs on a FIFO");
            }
        }
    }
}

// 9. A compressed stream cut short is damage, for zstd as for gzip.
#[test]
fn truncated_compressed_streams_are_damaged() {
    let d = tempfile::tempdir().unwrap();
    let data: String = (0..2000).map(|i| doc_line(&format!("document {i} with some words"))).collect();
    let zst = zstd::encode_all(data.as_bytes(), 3).unwrap();
    let gz = gzip(data.as_bytes());
    for (name, bytes) in [("cut.jsonl.zst", &zst), ("cut.jsonl.gz", &gz)] {
        let path = d.path().join(name);
        std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();
        let t = tally(&read_all(&path, &InputConfig::default()));
        assert!(!t.damage.is_empty(), "{name}: no damage");
        assert!(!t.quarantined.is_empty(), "{name}: no quarantine row");
        assert!(t.texts.len() < 2000);
    }
}

// 11. Peak memory of the reader alone on a large input: `SVALBARD_BIG_INPUT=big.jsonl cargo test --test
// readers_hardening reader_peak_rss -- --ignored --nocapture`.
#[test]
#[ignore]
fn reader_peak_rss() {
    let Some(path) = std::env::var_os("SVALBARD_BIG_INPUT") else { return };
    let t = tally(&read_all(Path::new(&path), &InputConfig::default()));
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // Safety: getrusage fills the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    eprintln!("{} docs, {} quarantined, peak RSS {} MiB", t.texts.len(), t.quarantined.len(), usage.ru_maxrss / 1024);
}

/// A Parquet file whose footer gives a column chunk a negative offset: the parquet crate asserts on it while
/// reading a row group (found by the fuzzer, kept as a seed of fuzz/corpus/parquet_reader). The reader catches
/// the panic: the input either fails at open or its rows end as quarantine rows with the damage said, and
/// nothing unwinds out of the reader.
#[test]
fn parquet_metadata_that_panics_the_parquet_crate_is_damage_not_a_crash() {
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parquet_reader/negative-column-chunk-offset");
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("bad.parquet");
    std::fs::copy(&seed, &path).unwrap();
    let read = std::panic::catch_unwind(|| {
        source::open(0, &input(&path), &InputConfig::default()).map(|it| it.collect::<Vec<DocBatch>>())
    });
    let Ok(opened) = read else { panic!("a panic escaped the Parquet reader") };
    if let Ok(batches) = opened {
        let t = tally(&batches);
        assert!(!t.quarantined.is_empty() || !t.damage.is_empty(), "{t:?}");
    }
}
