//! JSONL input: plain files are read with `read()` in chunks (not memory-mapped: a mapped file truncated by
//! another process would kill the run with SIGBUS); `.gz` (multi-member) and `.zst` are decompressed as a
//! stream. Lines are cut into chunks of about `batch_bytes`, and the lines of a chunk are parsed with
//! simd-json in parallel.
//!
//! Passthrough fields become Utf8 columns: a JSON string as its text, any other value as its JSON. A
//! field first seen later in the file adds a column from that batch on (sinks start a new part file when
//! the schema grows), up to `input.max_passthrough_keys` per input. Malformed JSON, invalid UTF-8, a missing or
//! non-string text field, an oversize document, and the unfinished last line of a truncated stream are
//! quarantined with the error.
//!
//! Cost per record is bounded: a line longer than `input.max_doc_bytes` is noticed while it is being read,
//! its first [`OVERSIZE_RAW_PREFIX`] bytes are kept and the rest is skipped without being buffered. Each
//! read byte is scanned for newlines once. An input whose size or modification time changes while it is
//! read is damaged: what was read before is kept, the rest becomes one quarantine row.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field};
use rayon::prelude::*;
use simd_json::prelude::*;
use simd_json::BorrowedValue;

use super::{BatchIter, Compression, FileStamp, InputFile};
use crate::batch::{doc_schema, DocBatch, Quarantined, OVERSIZE_RAW_PREFIX};
use crate::error::{Error, Result};
use crate::source::InputConfig;

/// Smallest read from the input, so that a line longer than a chunk does not cost a read per few bytes.
const MIN_READ: usize = 4 << 10;
/// Largest single read, so that one read does not overshoot the chunk size by much.
const MAX_READ: usize = 8 << 20;
/// Buffer used to skip the rest of a line over `input.max_doc_bytes`.
const SKIP_BUFFER: usize = 64 << 10;
/// A UTF-8 byte order mark, which some tools write at the start of a text file; it is not part of the
/// first record.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

pub fn open(index: usize, input: &InputFile, compression: Compression, config: &InputConfig) -> Result<BatchIter> {
    let (file, stamp) = super::open_regular(&input.path)?;
    let kind = match compression {
        Compression::None => None,
        Compression::Gzip => Some("gzip"),
        Compression::Zstd => Some("zstd"),
    };
    if let (Some(kind), 0) = (kind, stamp.len) {
        return Err(Error::input(&input.path, format!("empty file, not a {kind} stream")));
    }
    let watched = file.try_clone().map_err(|e| Error::input(&input.path, e))?;
    let reader: Box<dyn Read + Send> = match compression {
        // Bytes appended during the run are not read: the change is reported as damage instead.
        Compression::None => Box::new(file.take(stamp.len)),
        Compression::Gzip => {
            Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(1 << 20, file)))
        }
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::new(file).map_err(|e| Error::input(&input.path, e))?)
        }
    };
    Ok(Box::new(JsonlSource {
        index,
        file_name: input.name(),
        path: input.path.clone(),
        config: config.clone(),
        lines: LineReader {
            reader,
            file: watched,
            stamp,
            carry: Vec::new(),
            offset: 0,
            max_line: config.max_doc_bytes,
            at_start: true,
            ended: None,
            done: false,
        },
        next_line: 1,
        keys: Vec::new(),
        key_index: HashMap::new(),
        dropped_keys: HashSet::new(),
    }))
}

/// Cuts a byte stream into chunks of whole lines.
struct LineReader {
    reader: Box<dyn Read + Send>,
    /// The input file, watched for changes while it is read.
    file: File,
    stamp: FileStamp,
    /// The start of an unfinished line, read past the end of the last chunk.
    carry: Vec<u8>,
    /// Offset of `carry` in the (decompressed) stream.
    offset: u64,
    /// `input.max_doc_bytes`: a line growing past it is skipped instead of buffered.
    max_line: usize,
    /// Nothing read yet: a byte order mark may come.
    at_start: bool,
    /// The stream has ended (with its damage, if any), but lines of it are still in `carry`: a chunk holds at
    /// most `batch_docs` lines.
    ended: Option<Option<String>>,
    done: bool,
}

/// A run of whole lines (the last may lack its newline), possibly followed by one line over
/// `input.max_doc_bytes` that was skipped.
struct Chunk {
    bytes: Vec<u8>,
    /// Offset of `bytes` in the (decompressed) stream.
    offset: u64,
    oversize: Option<OversizeLine>,
    /// The stream broke off, or the file changed, after these bytes; an unfinished last line is then
    /// incomplete.
    damage: Option<String>,
}

/// A line over `input.max_doc_bytes`: its beginning and its true length.
struct OversizeLine {
    prefix: Vec<u8>,
    /// Bytes of the record, without its line terminator.
    length: u64,
    /// Bytes consumed from the stream, terminator included.
    consumed: u64,
}

impl LineReader {
    /// The next chunk of about `target` bytes, and at most `max_lines` lines, ending at a line boundary. The
    /// line cap bounds what a chunk costs downstream (a parsed record and its quarantine row per line) when
    /// lines are tiny: millions of `{}` lines fit in a few megabytes.
    fn next_chunk(&mut self, target: usize, max_lines: usize) -> Option<Chunk> {
        if self.done {
            return None;
        }
        let target = target.max(1);
        let mut offset = self.offset;
        let mut buf = std::mem::take(&mut self.carry);
        // After a skipped line or a line-capped chunk the carry may hold whole lines; otherwise it has no newline.
        let mut last_newline = memchr::memrchr(b'\n', &buf);
        let mut newlines = memchr::memchr_iter(b'\n', &buf).count();
        // The chunk ends at the first newline at or past `target` bytes: the same cut whatever the read sizes,
        // so batches (and the float results of batched inference) do not depend on how the bytes arrived.
        let mut boundary = newline_from(&buf, target);
        // Some(damage) once the stream has ended; already so when the last chunk was cut by the line cap.
        let resumed = self.ended.is_some();
        let mut ended: Option<Option<String>> = self.ended.take();
        loop {
            if ended.is_some() {
                break;
            }
            if boundary.is_some() || (newlines >= max_lines && last_newline.is_some()) {
                break;
            }
            let line_start = last_newline.map_or(0, |i| i + 1);
            // The record excludes a CR before the newline, hence the one byte of slack.
            if buf.len() - line_start > self.max_line.saturating_add(1) {
                return Some(self.skip_oversize(buf, line_start, offset));
            }
            let old = buf.len();
            // Up to the target, then in growing steps while a long line has no newline yet.
            let want = if old < target { target - old } else { old / 2 };
            buf.resize(old + want.clamp(MIN_READ, MAX_READ), 0);
            match read_some(self.reader.as_mut(), &mut buf[old..]) {
                Ok(0) => {
                    buf.truncate(old);
                    ended = Some(None);
                }
                Ok(n) => {
                    buf.truncate(old + n);
                    // Only the new bytes are scanned: a long line costs linear time.
                    if let Some(i) = memchr::memrchr(b'\n', &buf[old..]) {
                        last_newline = Some(old + i);
                        newlines += memchr::memchr_iter(b'\n', &buf[old..]).count();
                        boundary = boundary.or_else(|| newline_from(&buf, target.max(old)));
                    }
                }
                Err(e) => {
                    buf.truncate(old);
                    ended = Some(Some(format!("stream broken after {} bytes: {e}", offset + old as u64)));
                }
            }
            if self.at_start && (buf.len() >= UTF8_BOM.len() || ended.is_some()) {
                self.at_start = false;
                if buf.starts_with(UTF8_BOM) {
                    buf.drain(..UTF8_BOM.len());
                    offset += UTF8_BOM.len() as u64;
                    last_newline = memchr::memrchr(b'\n', &buf);
                    boundary = newline_from(&buf, target);
                }
            }
            if ended.is_some() {
                break;
            }
        }
        let changed = if resumed { None } else { self.stamp.changed(&self.file) };
        let stop = ended.is_some() || changed.is_some();
        let damage = join_damage(changed, ended.flatten());
        let line_cap = memchr::memchr_iter(b'\n', &buf).nth(max_lines.max(1) - 1).map(|i| i + 1);
        if stop {
            if let Some(cut) = line_cap.filter(|&c| c < buf.len()) {
                // More lines than a chunk may hold: hand out the first ones, keep the end of the stream for later.
                self.carry = buf.split_off(cut);
                self.offset = offset + cut as u64;
                self.ended = Some(damage);
                return Some(Chunk { bytes: buf, offset, oversize: None, damage: None });
            }
            // The whole rest goes out: an unfinished line is the damaged tail.
            self.done = true;
            self.offset = offset + buf.len() as u64;
            if buf.is_empty() && damage.is_none() {
                return None;
            }
            return Some(Chunk { bytes: buf, offset, oversize: None, damage });
        }
        let cut = boundary.or(last_newline).expect("checked by the loop") + 1;
        let cut = cut.min(line_cap.unwrap_or(usize::MAX));
        self.carry = buf.split_off(cut);
        self.offset = offset + cut as u64;
        Some(Chunk { bytes: buf, offset, oversize: None, damage: None })
    }

    /// `buf[line_start..]` is an unfinished line already over the limit: keep its beginning, read past the
    /// rest up to the next newline without buffering it, and hand out the lines before it with it.
    fn skip_oversize(&mut self, mut buf: Vec<u8>, line_start: usize, offset: u64) -> Chunk {
        let prefix = buf[line_start..(line_start + OVERSIZE_RAW_PREFIX).min(buf.len())].to_vec();
        let mut length = (buf.len() - line_start) as u64;
        let mut last_byte = buf.last().copied();
        buf.truncate(line_start);
        let mut scratch = vec![0u8; SKIP_BUFFER];
        let mut terminated = false;
        let mut damage = None;
        loop {
            match read_some(self.reader.as_mut(), &mut scratch) {
                Ok(0) => break,
                Ok(n) => match memchr::memchr(b'\n', &scratch[..n]) {
                    Some(i) => {
                        length += i as u64;
                        if i > 0 {
                            last_byte = Some(scratch[i - 1]);
                        }
                        self.carry = scratch[i + 1..n].to_vec();
                        terminated = true;
                        break;
                    }
                    None => {
                        length += n as u64;
                        last_byte = Some(scratch[n - 1]);
                    }
                },
                Err(e) => {
                    let at = offset + line_start as u64 + length;
                    damage = Some(format!("stream broken after {at} bytes: {e}"));
                    break;
                }
            }
        }
        let consumed = length + terminated as u64;
        if last_byte == Some(b'\r') {
            length -= 1;
        }
        self.offset = offset + line_start as u64 + consumed;
        if !terminated {
            self.done = true;
            damage = join_damage(self.stamp.changed(&self.file), damage);
        }
        Chunk { bytes: buf, offset, oversize: Some(OversizeLine { prefix, length, consumed }), damage }
    }
}

/// The first newline at or after `from`.
fn newline_from(buf: &[u8], from: usize) -> Option<usize> {
    buf.get(from..).and_then(|rest| memchr::memchr(b'\n', rest)).map(|i| from + i)
}

fn join_damage(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
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
    path: std::path::PathBuf,
    config: InputConfig,
    lines: LineReader,
    next_line: u64,
    /// Passthrough keys seen so far in this input, in order of first appearance.
    keys: Vec<String>,
    key_index: HashMap<String, usize>,
    /// Keys not made into columns because of `input.max_passthrough_keys`.
    dropped_keys: HashSet<String>,
}

/// A document's text: where simd-json left it in the line's own buffer (no copy), or a copy.
enum DocText {
    InLine(Vec<u8>, Range<usize>),
    Owned(String),
}

impl DocText {
    fn as_str(&self) -> &str {
        match self {
            DocText::InLine(buf, range) => std::str::from_utf8(&buf[range.clone()]).expect("simd-json validated it"),
            DocText::Owned(s) => s,
        }
    }
}

enum Parsed {
    Blank,
    Doc { id: Option<String>, text: DocText, extra: Vec<(String, Option<String>)> },
    Oversize(usize),
    Bad(String),
}

impl Iterator for JsonlSource {
    type Item = DocBatch;

    fn next(&mut self) -> Option<DocBatch> {
        match self.lines.next_chunk(self.config.batch_bytes, self.config.batch_docs) {
            Some(chunk) => Some(self.decode(chunk)),
            None => {
                if !self.dropped_keys.is_empty() {
                    tracing::warn!(
                        input = %self.path.display(),
                        cap = self.config.max_passthrough_keys,
                        dropped = self.dropped_keys.len(),
                        "too many distinct passthrough fields: {} fields beyond the first {} \
                         were not carried to the output (the documents were); raise input.max_passthrough_keys \
                         or list the fields in input.passthrough",
                        self.dropped_keys.len(),
                        self.config.max_passthrough_keys
                    );
                    self.dropped_keys.clear();
                }
                None
            }
        }
    }
}

impl JsonlSource {
    fn decode(&mut self, chunk: Chunk) -> DocBatch {
        let data = chunk.bytes.as_slice();
        let (lines, unterminated) = line_ranges(data);
        let damaged_tail = chunk.damage.is_some() && unterminated;
        let parsed = self.parse_lines(data, &lines);
        let first_line = self.next_line;
        self.next_line += lines.len() as u64;
        let mut columns = DocColumns::new(self.keys.len(), parsed.len(), data.len());
        let mut quarantined = Vec::new();
        let mut blank_lines = 0;
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
                Parsed::Bad(error) => quarantined.push(Quarantined::new(format!("line {line_no}"), error, &data[s..e])),
                Parsed::Oversize(length) => quarantined.push(Quarantined::oversize(
                    format!("line {line_no}"),
                    length as u64,
                    self.config.max_doc_bytes,
                    &data[s..e],
                )),
                Parsed::Doc { id, text, extra } => self.append_doc(&mut columns, line_no, id, text, extra),
            }
        }
        let bytes = self.quarantine_chunk_end(&chunk, damaged_tail, &mut quarantined);
        let docs = self.record_batch(columns);
        DocBatch { input: self.index, docs, quarantined, bytes, blank_lines, damage: chunk.damage }
    }

    /// Each line parsed on its own, in parallel.
    fn parse_lines(&self, data: &[u8], lines: &[(usize, usize)]) -> Vec<Parsed> {
        let cfg = &self.config;
        // Once the cap is reached, values of new keys are not even encoded.
        let known = (self.keys.len() >= cfg.max_passthrough_keys).then_some(&self.key_index);
        lines
            .par_iter()
            .with_min_len(64)
            .map_init(simd_json::Buffers::default, |buffers, &(s, e)| parse_line(&data[s..e], buffers, cfg, known))
            .collect()
    }

    /// One document's row: its id (the file name and line number when it has none), its text, and a value or
    /// null in every passthrough column.
    #[inline]
    fn append_doc(
        &mut self,
        columns: &mut DocColumns,
        line_no: u64,
        id: Option<String>,
        text: DocText,
        extra: Vec<(String, Option<String>)>,
    ) {
        match id {
            Some(id) => columns.ids.append_value(id),
            None => columns.ids.append_value(format!("{}:{line_no}", self.file_name)),
        }
        columns.texts.append_value(text.as_str());
        drop(text);
        columns.filled.clear();
        columns.filled.resize(columns.extra.len(), false);
        for (k, v) in extra {
            let Some(idx) = self.passthrough_column(columns, k) else { continue };
            // A key repeated in a record keeps its first value.
            if !columns.filled[idx] {
                columns.extra[idx].append_option(v);
                columns.filled[idx] = true;
            }
        }
        for (b, f) in columns.extra.iter_mut().zip(&columns.filled) {
            if !f {
                b.append_null();
            }
        }
        columns.n_docs += 1;
    }

    /// The column of passthrough key `k`. A new key gets a column, null for the documents before, until
    /// `input.max_passthrough_keys`; beyond it the key is only counted, for the warning at the end.
    #[inline]
    fn passthrough_column(&mut self, columns: &mut DocColumns, k: String) -> Option<usize> {
        match self.key_index.get(&k) {
            Some(&idx) => Some(idx),
            None if self.keys.len() >= self.config.max_passthrough_keys => {
                self.dropped_keys.insert(k);
                None
            }
            None => {
                let idx = self.keys.len();
                self.key_index.insert(k.clone(), idx);
                self.keys.push(k);
                let mut b = StringBuilder::new();
                b.append_nulls(columns.n_docs);
                columns.extra.push(b);
                columns.filled.push(false);
                Some(idx)
            }
        }
    }

    /// The rows for what follows the chunk's lines: a skipped oversize line, or the damage after the last whole
    /// line. Returns the input bytes the chunk covers.
    fn quarantine_chunk_end(&mut self, chunk: &Chunk, damaged_tail: bool, quarantined: &mut Vec<Quarantined>) -> u64 {
        let mut bytes = chunk.bytes.len() as u64;
        if let Some(o) = &chunk.oversize {
            quarantined.push(Quarantined::oversize(
                format!("line {}", self.next_line),
                o.length,
                self.config.max_doc_bytes,
                &o.prefix,
            ));
            self.next_line += 1;
            bytes += o.consumed;
        } else if let (Some(damage), false) = (&chunk.damage, damaged_tail) {
            // The input broke off after a whole line (or before any): the unread rest is one row.
            quarantined.push(Quarantined::new(
                format!("byte {}", chunk.offset + chunk.bytes.len() as u64),
                damage.clone(),
                &[],
            ));
        }
        bytes
    }

    /// The batch: id, text, then the passthrough columns in order of first appearance in this input.
    fn record_batch(&self, mut columns: DocColumns) -> RecordBatch {
        let schema = doc_schema(
            &self.config.id_field,
            &self.config.text_field,
            self.keys.iter().map(|k| Field::new(k, DataType::Utf8, true)),
        );
        let mut arrays: Vec<ArrayRef> = vec![Arc::new(columns.ids.finish()), Arc::new(columns.texts.finish())];
        arrays.extend(columns.extra.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        RecordBatch::try_new(schema, arrays).expect("columns match the schema")
    }
}

/// The lines of a chunk as `(start, end)` without the newline, and whether the last one lacks its newline.
fn line_ranges(data: &[u8]) -> (Vec<(usize, usize)>, bool) {
    let mut lines = Vec::new();
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', data) {
        lines.push((start, nl));
        start = nl + 1;
    }
    let unterminated = start < data.len();
    if unterminated {
        lines.push((start, data.len()));
    }
    (lines, unterminated)
}

/// The Arrow columns of one batch, filled a document at a time.
struct DocColumns {
    ids: StringBuilder,
    texts: StringBuilder,
    /// One per passthrough key known so far.
    extra: Vec<StringBuilder>,
    /// Which of `extra` the current document has filled.
    filled: Vec<bool>,
    n_docs: usize,
}

impl DocColumns {
    /// Columns for up to `lines` documents from `bytes` bytes of input, with `keys` passthrough columns.
    fn new(keys: usize, lines: usize, bytes: usize) -> Self {
        DocColumns {
            ids: StringBuilder::new(),
            texts: StringBuilder::with_capacity(lines, bytes),
            extra: (0..keys).map(|_| StringBuilder::new()).collect(),
            filled: Vec::new(),
            n_docs: 0,
        }
    }
}

fn parse_line(
    line: &[u8],
    buffers: &mut simd_json::Buffers,
    cfg: &InputConfig,
    known_keys: Option<&HashMap<String, usize>>,
) -> Parsed {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(|b| b.is_ascii_whitespace()) {
        return Parsed::Blank;
    }
    if line.len() > cfg.max_doc_bytes {
        return Parsed::Oversize(line.len());
    }
    // simd-json parses in place; the line keeps its own buffer so that the text can stay where it is.
    let mut owned = line.to_vec();
    let (base, len) = (owned.as_ptr() as usize, owned.len());
    let (id, text, extra) = {
        let value = match simd_json::to_borrowed_value_with_buffers(&mut owned, buffers) {
            Ok(v) => v,
            Err(e) => return Parsed::Bad(malformed(line, &e)),
        };
        let Some(obj) = value.as_object() else {
            return Parsed::Bad(format!("line is a JSON {}, not an object", type_name(&value)));
        };
        let text = match obj.get(cfg.text_field.as_str()) {
            Some(BorrowedValue::String(s)) => {
                let at = s.as_ptr() as usize;
                if at >= base && at + s.len() <= base + len {
                    Ok(at - base..at - base + s.len())
                } else {
                    Err(s.to_string())
                }
            }
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
        let extra: Vec<(String, Option<String>)> = obj
            .iter()
            .filter(|(k, _)| cfg.passes_through(k))
            .map(|(k, v)| {
                if known_keys.is_some_and(|known| !known.contains_key(k.as_ref())) {
                    // Beyond the cap: only the name is needed, to count it.
                    return (k.to_string(), None);
                }
                let v = match v {
                    BorrowedValue::String(s) => Some(s.to_string()),
                    v if v.is_null() => None,
                    v => Some(v.encode()),
                };
                (k.to_string(), v)
            })
            .collect();
        (id, text, extra)
    };
    let text = match text {
        Ok(range) => DocText::InLine(owned, range),
        Err(copy) => DocText::Owned(copy),
    };
    Parsed::Doc { id, text, extra }
}

/// The error of a line simd-json refused. simd-json reports most syntax errors at "character 0"; serde_json,
/// run on this line only, says where the error is.
fn malformed(line: &[u8], simd_error: &simd_json::Error) -> String {
    if std::str::from_utf8(line).is_err() {
        return "invalid UTF-8".to_string();
    }
    match serde_json::from_slice::<serde::de::IgnoredAny>(line) {
        Err(e) => format!("malformed JSON: {e}"),
        Ok(_) => format!("malformed JSON: {simd_error}"),
    }
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

    /// Millions of tiny bad lines fit in one byte-sized chunk; each costs a quarantine row downstream, so a
    /// batch holds at most `batch_docs` lines, whatever the compression and wherever the stream ends.
    #[test]
    fn a_batch_holds_at_most_batch_docs_lines() {
        let d = tempfile::tempdir().unwrap();
        let mut raw = b"{}\n".repeat(10_000);
        raw.extend(b"{\"text\":\"last\"}\n");
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&raw).unwrap();
            e.finish().unwrap()
        };
        let truncated = &gz[..gz.len() - 12];
        for (name, bytes) in [("p.jsonl", &raw[..]), ("g.jsonl.gz", &gz[..]), ("t.jsonl.gz", truncated)] {
            let p = d.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let cfg = InputConfig { batch_docs: 300, ..Default::default() };
            let batches = read_all(&p, &cfg);
            for b in &batches {
                assert!(
                    b.len() + b.quarantined.len() + b.blank_lines as usize <= 301,
                    "{name}: {}",
                    b.quarantined.len()
                );
            }
            let q: usize = batches.iter().map(|b| b.quarantined.len()).sum();
            let docs: usize = batches.iter().map(|b| b.len()).sum();
            if name.starts_with('t') {
                assert!(batches.last().unwrap().damage.is_some(), "the damage stays on the last batch");
                assert!(batches[..batches.len() - 1].iter().all(|b| b.damage.is_none()));
                assert!(q + docs >= 9_000, "{q} + {docs}");
            } else {
                assert_eq!((q, docs), (10_000, 1), "{name}");
            }
        }
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
