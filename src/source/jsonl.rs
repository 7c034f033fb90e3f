//! JSONL input: plain files are memory-mapped; `.gz` (multi-member) and `.zst` are decompressed as a
//! stream. Lines are cut into chunks of about `batch_bytes`, and the lines of a chunk are parsed with
//! simd-json in parallel.
//!
//! Passthrough fields become Utf8 columns: a JSON string as its text, any other value as its JSON. A
//! field first seen later in the file adds a column from that batch on (sinks start a new part file when
//! the schema grows). Malformed JSON, invalid UTF-8, a missing or non-string text field, an oversize
//! document, and the unfinished last line of a truncated stream are quarantined with the error.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field};
use memmap2::Mmap;
use rayon::prelude::*;
use simd_json::prelude::*;
use simd_json::BorrowedValue;

use super::{BatchIter, Compression, InputFile};
use crate::batch::{doc_schema, DocBatch, Quarantined};
use crate::config::InputConfig;
use crate::error::{Error, Result};

pub fn open(index: usize, input: &InputFile, compression: Compression, config: &InputConfig) -> Result<BatchIter> {
    let file = File::open(&input.path).map_err(|e| Error::input(&input.path, e))?;
    let bytes: ByteSource = match compression {
        Compression::None if input.size == 0 => ByteSource::Done,
        Compression::None => {
            // Safety: the map is read-only; a file truncated by another process while mapped would fault, which
            // is the accepted trade-off of memory-mapped readers (ripgrep makes the same one).
            let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::input(&input.path, e))?;
            #[cfg(unix)]
            let _ = map.advise(memmap2::Advice::Sequential);
            ByteSource::Mapped { map: Arc::new(map), pos: 0 }
        }
        Compression::Gzip => {
            stream(flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(1 << 20, file)))
        }
        Compression::Zstd => stream(zstd::stream::read::Decoder::new(file).map_err(|e| Error::input(&input.path, e))?),
    };
    Ok(Box::new(JsonlSource {
        index,
        file_name: input.name(),
        config: config.clone(),
        bytes,
        next_line: 1,
        keys: Vec::new(),
        key_index: HashMap::new(),
    }))
}

fn stream(r: impl Read + Send + 'static) -> ByteSource {
    ByteSource::Stream { reader: Box::new(r), carry: Vec::new() }
}

enum ByteSource {
    Mapped { map: Arc<Mmap>, pos: usize },
    Stream { reader: Box<dyn Read + Send>, carry: Vec<u8> },
    Done,
}

/// A run of whole lines (the last may lack its newline).
struct Chunk {
    bytes: ChunkBytes,
    /// The stream broke off after these bytes; the last line is then incomplete.
    damage: Option<String>,
}

enum ChunkBytes {
    Mapped(Arc<Mmap>, std::ops::Range<usize>),
    Owned(Vec<u8>),
}

impl ChunkBytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            ChunkBytes::Mapped(m, r) => &m[r.clone()],
            ChunkBytes::Owned(v) => v,
        }
    }
}

impl ByteSource {
    /// The next chunk of about `target` bytes ending at a line boundary.
    fn next_chunk(&mut self, target: usize) -> Option<Chunk> {
        match self {
            ByteSource::Done => None,
            ByteSource::Mapped { map, pos } => {
                let len = map.len();
                if *pos >= len {
                    *self = ByteSource::Done;
                    return None;
                }
                let start = *pos;
                let want = (start + target).min(len);
                let end = if want == len {
                    len
                } else {
                    match memchr::memchr(b'\n', &map[want..]) {
                        Some(off) => want + off + 1,
                        None => len,
                    }
                };
                *pos = end;
                Some(Chunk { bytes: ChunkBytes::Mapped(map.clone(), start..end), damage: None })
            }
            ByteSource::Stream { reader, carry } => {
                let mut buf = std::mem::take(carry);
                let mut damage = None;
                let mut eof = false;
                // Read until the buffer holds `target` bytes and at least one newline, or the stream ends.
                loop {
                    if buf.len() >= target && memchr::memrchr(b'\n', &buf).is_some() {
                        break;
                    }
                    let old = buf.len();
                    buf.resize(old + target.saturating_sub(old).max(8192), 0);
                    match read_some(reader.as_mut(), &mut buf[old..]) {
                        Ok(0) => {
                            buf.truncate(old);
                            eof = true;
                            break;
                        }
                        Ok(n) => buf.truncate(old + n),
                        Err(e) => {
                            buf.truncate(old);
                            damage = Some(format!("stream broken after {} bytes: {e}", old));
                            eof = true;
                            break;
                        }
                    }
                }
                if eof {
                    *self = ByteSource::Done;
                    if buf.is_empty() && damage.is_none() {
                        return None;
                    }
                    return Some(Chunk { bytes: ChunkBytes::Owned(buf), damage });
                }
                let cut = memchr::memrchr(b'\n', &buf).expect("checked above") + 1;
                *carry = buf.split_off(cut);
                Some(Chunk { bytes: ChunkBytes::Owned(buf), damage: None })
            }
        }
    }
}

/// Drop the pages of a parsed chunk from this process, so that resident memory stays bounded by the
/// batches in flight instead of growing with the size of a memory-mapped input. Called once the chunk's
/// documents and quarantined lines have been copied out; a later read would re-fault from the file.
fn release_mapped(bytes: &ChunkBytes) {
    #[cfg(unix)]
    if let ChunkBytes::Mapped(map, range) = bytes {
        const PAGE: usize = 4096;
        // Whole pages inside the range only: a page shared with the next chunk stays.
        let start = range.start.div_ceil(PAGE) * PAGE;
        let end = if range.end == map.len() { map.len() } else { range.end / PAGE * PAGE };
        if end > start {
            // Safety: the map is a read-only file mapping; MADV_DONTNEED only drops cached pages of it.
            let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start) };
        }
    }
}

fn read_some(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

struct JsonlSource {
    index: usize,
    file_name: String,
    config: InputConfig,
    bytes: ByteSource,
    next_line: u64,
    /// Passthrough keys seen so far in this input, in order of first appearance.
    keys: Vec<String>,
    key_index: HashMap<String, usize>,
}

enum Parsed {
    Blank,
    Doc { id: Option<String>, text: String, extra: Vec<(String, Option<String>)> },
    Bad(String),
}

impl Iterator for JsonlSource {
    type Item = DocBatch;

    fn next(&mut self) -> Option<DocBatch> {
        let chunk = self.bytes.next_chunk(self.config.batch_bytes)?;
        Some(self.decode(chunk))
    }
}

impl JsonlSource {
    fn decode(&mut self, chunk: Chunk) -> DocBatch {
        let data = chunk.bytes.as_slice();
        // Line boundaries: (start, end) without the newline.
        let mut lines = Vec::new();
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', data) {
            lines.push((start, nl));
            start = nl + 1;
        }
        if start < data.len() {
            lines.push((start, data.len()));
        }
        let damaged_tail = chunk.damage.is_some() && start < data.len();
        let cfg = &self.config;
        let parsed: Vec<Parsed> = lines
            .par_iter()
            .with_min_len(64)
            .map_init(Vec::new, |buf, &(s, e)| parse_line(&data[s..e], buf, cfg))
            .collect();

        let first_line = self.next_line;
        self.next_line += lines.len() as u64;
        let mut ids = StringBuilder::new();
        let mut texts = StringBuilder::with_capacity(parsed.len(), data.len());
        let mut extra_cols: Vec<StringBuilder> = self.keys.iter().map(|_| StringBuilder::new()).collect();
        let mut quarantined = Vec::new();
        let mut blank_lines = 0;
        let mut n_docs = 0usize;
        let mut filled: Vec<bool> = Vec::new();
        let last = parsed.len().saturating_sub(1);
        for (i, p) in parsed.into_iter().enumerate() {
            let line_no = first_line + i as u64;
            let (s, e) = lines[i];
            let p = if damaged_tail && i == last {
                Parsed::Bad(format!("incomplete last line: {}", chunk.damage.as_deref().unwrap_or_default()))
            } else {
                p
            };
            match p {
                Parsed::Blank => blank_lines += 1,
                Parsed::Bad(error) => quarantined.push(Quarantined {
                    location: format!("line {line_no}"),
                    error,
                    raw: data[s..e].to_vec(),
                }),
                Parsed::Doc { id, text, extra } => {
                    match id {
                        Some(id) => ids.append_value(id),
                        None => ids.append_value(format!("{}:{line_no}", self.file_name)),
                    }
                    texts.append_value(text);
                    filled.clear();
                    filled.resize(extra_cols.len(), false);
                    for (k, v) in extra {
                        let idx = match self.key_index.get(&k) {
                            Some(&idx) => idx,
                            None => {
                                let idx = self.keys.len();
                                self.key_index.insert(k.clone(), idx);
                                self.keys.push(k);
                                let mut b = StringBuilder::new();
                                b.append_nulls(n_docs);
                                extra_cols.push(b);
                                filled.push(false);
                                idx
                            }
                        };
                        if !filled[idx] {
                            extra_cols[idx].append_option(v);
                            filled[idx] = true;
                        }
                    }
                    for (b, f) in extra_cols.iter_mut().zip(&filled) {
                        if !f {
                            b.append_null();
                        }
                    }
                    n_docs += 1;
                }
            }
        }
        let schema = doc_schema(
            &self.config.id_field,
            &self.config.text_field,
            self.keys.iter().map(|k| Field::new(k, DataType::Utf8, true)),
        );
        let mut columns: Vec<ArrayRef> = vec![Arc::new(ids.finish()), Arc::new(texts.finish())];
        columns.extend(extra_cols.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        let docs = RecordBatch::try_new(schema, columns).expect("columns match the schema");
        release_mapped(&chunk.bytes);
        DocBatch { input: self.index, docs, quarantined, bytes: data.len() as u64, blank_lines, damage: chunk.damage }
    }
}

fn parse_line(line: &[u8], buf: &mut Vec<u8>, cfg: &InputConfig) -> Parsed {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(|b| b.is_ascii_whitespace()) {
        return Parsed::Blank;
    }
    if line.len() > cfg.max_doc_bytes {
        return Parsed::Bad(format!(
            "record of {} bytes exceeds input.max_doc_bytes = {}",
            line.len(),
            cfg.max_doc_bytes
        ));
    }
    buf.clear();
    buf.extend_from_slice(line);
    let value = match simd_json::to_borrowed_value(buf) {
        Ok(v) => v,
        Err(e) => {
            return Parsed::Bad(if std::str::from_utf8(line).is_err() {
                "invalid UTF-8".to_string()
            } else {
                format!("malformed JSON: {e}")
            })
        }
    };
    let Some(obj) = value.as_object() else {
        return Parsed::Bad(format!("line is a JSON {}, not an object", type_name(&value)));
    };
    let text = match obj.get(cfg.text_field.as_str()) {
        Some(BorrowedValue::String(s)) => s.to_string(),
        Some(other) => {
            return Parsed::Bad(format!("field {:?} is a {}, not a string", cfg.text_field, type_name(other)))
        }
        None => return Parsed::Bad(format!("missing text field {:?}", cfg.text_field)),
    };
    let id = match obj.get(cfg.id_field.as_str()) {
        Some(BorrowedValue::String(s)) => Some(s.to_string()),
        Some(v) if v.is_null() => None,
        Some(v) => Some(v.encode()),
        None => None,
    };
    let extra = obj
        .iter()
        .filter(|(k, _)| cfg.passes_through(k))
        .map(|(k, v)| {
            let v = match v {
                BorrowedValue::String(s) => Some(s.to_string()),
                v if v.is_null() => None,
                v => Some(v.encode()),
            };
            (k.to_string(), v)
        })
        .collect();
    Parsed::Doc { id, text, extra }
}

fn type_name(v: &BorrowedValue) -> &'static str {
    match v {
        BorrowedValue::String(_) => "string",
        BorrowedValue::Array(_) => "array",
        BorrowedValue::Object(_) => "object",
        v if v.is_null() => "null",
        v if v.is_bool() => "boolean",
        _ => "number",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{detect_format, Format, InputFile};
    use arrow::array::{Array, StringArray};
    use std::io::Write;

    fn read_all(path: &std::path::Path, config: &InputConfig) -> Vec<DocBatch> {
        let size = std::fs::metadata(path).unwrap().len();
        let input = InputFile { path: path.to_path_buf(), format: detect_format(path).unwrap(), size };
        let Format::Jsonl(c) = input.format else { panic!() };
        open(0, &input, c, config).unwrap().collect()
    }

    fn col(b: &DocBatch, name: &str) -> Vec<Option<String>> {
        let c = b.docs.column_by_name(name).unwrap().as_any().downcast_ref::<StringArray>().unwrap();
        (0..c.len()).map(|i| c.is_valid(i).then(|| c.value(i).to_string())).collect()
    }

    const SAMPLE: &[u8] = b"{\"id\":\"a\",\"text\":\"hello\",\"url\":\"u1\"}\n\
        not json\n\
        \n\
        {\"text\":\"no id\",\"n\":5,\"tags\":[1,2]}\n\
        {\"id\":7,\"text\":\"\\u00e9t\\u00e9\",\"url\":null}\n\
        [1,2]\n\
        {\"id\":\"m\"}\n\
        {\"id\":\"x\",\"text\":12}\n\
        {\"text\":\"bad \xff utf8\"}\n\
        {\"id\":\"last\",\"text\":\"no newline\"}";

    fn check_sample(batches: &[DocBatch]) {
        let docs: usize = batches.iter().map(|b| b.len()).sum();
        let q: Vec<&Quarantined> = batches.iter().flat_map(|b| &b.quarantined).collect();
        let blank: u64 = batches.iter().map(|b| b.blank_lines).sum();
        assert_eq!(docs, 4);
        assert_eq!(blank, 1);
        let errors: Vec<(&str, &str)> = q.iter().map(|q| (q.location.as_str(), q.error.as_str())).collect();
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert!(errors[0].0 == "line 2" && errors[0].1.starts_with("malformed JSON"));
        assert!(errors[1].0 == "line 6" && errors[1].1.contains("array, not an object"));
        assert!(errors[2].0 == "line 7" && errors[2].1.contains("missing text field"));
        assert!(errors[3].0 == "line 8" && errors[3].1.contains("number, not a string"));
        assert_eq!(errors[4], ("line 9", "invalid UTF-8"));
        assert_eq!(q[0].raw, b"not json");
    }

    #[test]
    fn plain_jsonl_fields_ids_and_quarantine() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.jsonl");
        std::fs::write(&p, SAMPLE).unwrap();
        let batches = read_all(&p, &InputConfig::default());
        check_sample(&batches);
        assert_eq!(batches.len(), 1);
        let b = &batches[0];
        assert_eq!(
            col(b, "id"),
            vec![Some("a".into()), Some("s.jsonl:4".into()), Some("7".into()), Some("last".into())]
        );
        assert_eq!(col(b, "text")[2].as_deref(), Some("été"));
        assert_eq!(col(b, "url"), vec![Some("u1".into()), None, None, None]);
        assert_eq!(col(b, "n"), vec![None, Some("5".into()), None, None]);
        assert_eq!(col(b, "tags")[1].as_deref(), Some("[1,2]"));
    }

    #[test]
    fn gzip_and_zstd_match_plain() {
        let d = tempfile::tempdir().unwrap();
        let gz = d.path().join("s.jsonl.gz");
        let mut e = flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
        e.write_all(SAMPLE).unwrap();
        e.finish().unwrap();
        check_sample(&read_all(&gz, &InputConfig::default()));
        let zst = d.path().join("s.jsonl.zst");
        std::fs::write(&zst, zstd::encode_all(SAMPLE, 3).unwrap()).unwrap();
        check_sample(&read_all(&zst, &InputConfig::default()));
    }

    #[test]
    fn small_batches_cover_every_line_once() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("many.jsonl.gz");
        let mut e = flate2::write::GzEncoder::new(File::create(&p).unwrap(), flate2::Compression::fast());
        for i in 0..5000 {
            writeln!(e, "{{\"id\":\"{i}\",\"text\":\"document number {i}\"}}").unwrap();
        }
        e.finish().unwrap();
        let cfg = InputConfig { batch_bytes: 4096, ..Default::default() };
        let batches = read_all(&p, &cfg);
        assert!(batches.len() > 10);
        let ids: Vec<String> = batches.iter().flat_map(|b| col(b, "id")).map(|x| x.unwrap()).collect();
        assert_eq!(ids, (0..5000).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn passthrough_selection_and_oversize() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("s.jsonl");
        std::fs::write(&p, b"{\"text\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"url\":\"u\",\"x\":1}\n{\"text\":\"ok\",\"url\":\"v\",\"x\":2}\n").unwrap();
        let cfg = InputConfig { passthrough: vec!["url".into()], max_doc_bytes: 40, ..Default::default() };
        let b = read_all(&p, &cfg);
        assert_eq!(b[0].docs.num_columns(), 3);
        assert_eq!(col(&b[0], "url"), vec![Some("v".into())]);
        assert!(b[0].quarantined[0].error.contains("exceeds input.max_doc_bytes"));
    }

    #[test]
    fn truncated_gzip_keeps_complete_lines_and_quarantines_the_rest() {
        let d = tempfile::tempdir().unwrap();
        let mut raw = Vec::new();
        for i in 0..2000 {
            writeln!(raw, "{{\"id\":\"{i}\",\"text\":\"document {i} with some words in it\"}}").unwrap();
        }
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&raw).unwrap();
            e.finish().unwrap()
        };
        let p = d.path().join("t.jsonl.gz");
        std::fs::write(&p, &gz[..gz.len() / 2]).unwrap();
        let batches = read_all(&p, &InputConfig::default());
        let docs: usize = batches.iter().map(|b| b.len()).sum();
        let q: usize = batches.iter().map(|b| b.quarantined.len()).sum();
        assert!(batches.iter().any(|b| b.damage.is_some()));
        assert!(docs > 100 && docs < 2000, "{docs}");
        assert!(q <= 1);
    }
}
