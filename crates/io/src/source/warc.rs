//! Streaming WARC / WET reader and WARC-record → document conversion.
//!
//! * [`WarcReader`] reads `.warc`, `.warc.gz` and `.warc.wet.gz` (any multi-member gzip; gzip is
//!   detected from the magic bytes, so the file name does not matter) one record at a time.
//!   Memory is bounded: a record body larger than [`WarcReader::with_max_body`] (64 MiB by
//!   default) is skipped without being buffered and reported as [`WarcRecordError::TooLarge`];
//!   header lines and header blocks are capped too.
//! * Errors are items of the iterator, never panics. A *fatal* error (a truncated gzip stream, or a
//!   corrupt member with no member after it; a record cut mid-body; an I/O error) is yielded once and then
//!   the iterator ends. A corrupt gzip member followed by others is skipped by the decoder
//!   ([`super::gz_members`]; [`WarcReader::take_skipped`] lists what was skipped). A
//!   *recoverable* error (malformed header block, missing Content-Length, oversized body) is
//!   yielded and the reader resynchronises on the next line that starts with `WARC/1.`.
//! * A block must be followed by CRLF CRLF. When it is not, the record's Content-Length is wrong (too
//!   large: the block swallowed the start of the next record; too small: part of the block is left over).
//!   The record is yielded as [`WarcRecordError::BadBoundary`] (recoverable, but damage) and the reader
//!   resumes at the next `WARC/1.x` line, looking inside the block it read first, so that a record swallowed
//!   by a too-large Content-Length is still read.
//! * [`record_to_document`] turns a WET `conversion` record (text as-is) or a WARC `response`
//!   record carrying HTML (HTTP header block parsed, chunked transfer-encoding and
//!   gzip/deflate content-encoding undone, charset decoded and the page's text extracted by
//!   [`super::html`], cargo feature `html`) into a [`WebDocument`].

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

/// Default cap on a record body: larger records are skipped and reported.
pub const DEFAULT_MAX_BODY: u64 = 64 * 1024 * 1024;
/// Cap on a single header line (longer lines are a malformed header).
const MAX_HEADER_LINE: usize = 64 * 1024;
/// Cap on a whole header block.
const MAX_HEADER_BLOCK: usize = 1024 * 1024;
/// Cap on a decompressed HTTP payload (Content-Encoding: gzip/deflate).
const MAX_DECODED_PAYLOAD: u64 = 64 * 1024 * 1024;

/// Errors opening a WARC file.
#[derive(Debug, thiserror::Error)]
pub enum WarcError {
    #[error("{path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Errors reading one record. `offset` is the byte offset of the record (or of the point of
/// failure, for I/O errors) in the decompressed stream.
#[derive(Debug, thiserror::Error)]
pub enum WarcRecordError {
    /// The underlying stream failed (truncated or corrupt gzip, read error). Fatal.
    #[error("read error at offset {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: io::Error,
    },
    /// The stream ended inside a record. Fatal.
    #[error("truncated record at offset {offset}: {message}")]
    Truncated { offset: u64, message: String },
    /// The header block is malformed; the reader resynchronises on the next `WARC/1.` line.
    #[error("malformed record header at offset {offset}: {message}")]
    MalformedHeader { offset: u64, message: String },
    /// The body exceeds the configured cap; it was skipped.
    #[error("record at offset {offset} has a {length}-byte body, over the {max}-byte cap; skipped")]
    TooLarge { offset: u64, length: u64, max: u64 },
    /// The block does not end at a record boundary (wrong Content-Length); the record was skipped and the
    /// reader resynchronised on the next record.
    #[error("bad record at offset {offset}: {message}")]
    BadBoundary { offset: u64, message: String },
}

impl WarcRecordError {
    pub fn offset(&self) -> u64 {
        match self {
            WarcRecordError::Io { offset, .. }
            | WarcRecordError::Truncated { offset, .. }
            | WarcRecordError::MalformedHeader { offset, .. }
            | WarcRecordError::TooLarge { offset, .. }
            | WarcRecordError::BadBoundary { offset, .. } => *offset,
        }
    }

    /// Whether the input is damaged: a fatal error, or records whose boundaries had to be searched for.
    pub fn is_damage(&self) -> bool {
        self.is_fatal() || matches!(self, WarcRecordError::BadBoundary { .. })
    }

    /// A fatal error ends the iteration.
    pub fn is_fatal(&self) -> bool {
        matches!(self, WarcRecordError::Io { .. } | WarcRecordError::Truncated { .. })
    }
}

/// One WARC record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarcRecord {
    /// `WARC-Type` (e.g. `response`, `conversion`, `warcinfo`).
    pub record_type: String,
    /// Header fields in file order (names as written, values trimmed).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Byte offset of the record's `WARC/` line in the decompressed stream.
    pub offset: u64,
}

impl WarcRecord {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// `WARC-Target-URI`, with the `<...>` brackets some writers (wget) put around it removed.
    pub fn target_uri(&self) -> Option<&str> {
        self.header("WARC-Target-URI").map(strip_angle)
    }

    /// `WARC-Date` as written (ISO 8601, e.g. `2024-05-18T01:58:10Z`).
    pub fn date(&self) -> Option<&str> {
        self.header("WARC-Date")
    }

    /// `WARC-Record-ID` as written (e.g. `<urn:uuid:...>`).
    pub fn record_id(&self) -> Option<&str> {
        self.header("WARC-Record-ID")
    }

    pub fn content_length(&self) -> Option<u64> {
        self.header("Content-Length").and_then(|v| v.trim().parse().ok())
    }

    /// `WARC-Identified-Content-Language` (WET files; comma-separated ISO 639-3 codes).
    pub fn identified_language(&self) -> Option<&str> {
        self.header("WARC-Identified-Content-Language")
    }
}

fn strip_angle(s: &str) -> &str {
    let t = s.trim();
    t.strip_prefix('<').and_then(|x| x.strip_suffix('>')).unwrap_or(t)
}

/// A buffered reader with bytes put back in front of it: where a record's block turns out to hold the start
/// of the next record, reading resumes there.
struct Rewind<R> {
    front: Vec<u8>,
    at: usize,
    inner: R,
}

impl<R: BufRead> Rewind<R> {
    /// Put `bytes` back in front of what is still to be read.
    fn unread(&mut self, bytes: &[u8]) {
        let mut front = bytes.to_vec();
        front.extend_from_slice(&self.front[self.at..]);
        self.front = front;
        self.at = 0;
    }
}

impl<R: BufRead> Read for Rewind<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Rewind<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.at < self.front.len() {
            return Ok(&self.front[self.at..]);
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        if self.at < self.front.len() {
            self.at += n;
            if self.at >= self.front.len() {
                self.front.clear();
                self.at = 0;
            }
        } else {
            self.inner.consume(n);
        }
    }
}

/// How a record's version line starts.
const RECORD_START: &[u8] = b"WARC/1.";

/// Where the next record starts inside `block`: the first line, other than the first, that is a WARC version
/// line (`WARC/1.0` or `WARC/1.1`), or could be one continued after the block.
fn find_record_start(block: &[u8]) -> Option<usize> {
    memchr::memmem::find_iter(block, b"\nWARC/1.").map(|i| i + 1).find(|&at| {
        let rest = &block[at + RECORD_START.len()..];
        match rest {
            [] => true,
            [digit, after @ ..] => {
                digit.is_ascii_digit() && (after.starts_with(b"\r\n") || after.starts_with(b"\n") || after.len() <= 1)
            }
        }
    })
}

/// Streaming reader over the records of a WARC stream (already decompressed).
pub struct WarcReader<R: BufRead> {
    inner: Rewind<R>,
    /// Bytes consumed from `inner` so far.
    pos: u64,
    max_body: u64,
    done: bool,
    /// Set after a recoverable header error: skip lines until one starts with `WARC/1.`.
    resync: bool,
    /// A line already read (the `WARC/` line found while resynchronising).
    pending: Option<(u64, Vec<u8>)>,
    /// For a gzip input: the corrupt stretches the decoder skipped (see [`super::gz_members`]).
    skipped: Option<super::gz_members::SkipLog>,
}

impl WarcReader<Box<dyn BufRead + Send>> {
    /// Opens a `.warc`, `.warc.gz` or `.warc.wet.gz` file. Gzip (single or multi-member) is
    /// detected from the magic bytes.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, WarcError> {
        let path = path.as_ref();
        let err = |source| WarcError::Open { path: path.to_path_buf(), source };
        let file = File::open(path).map_err(err)?;
        Self::from_file(file).map_err(err)
    }

    /// Reads an open `.warc`, `.warc.gz` or `.warc.wet.gz` file (gzip detected from the magic bytes).
    pub fn from_file(file: File) -> io::Result<Self> {
        let mut buf = BufReader::with_capacity(256 * 1024, file);
        let is_gz = {
            let head = buf.fill_buf()?;
            head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b
        };
        if is_gz {
            let (decoder, log) = super::gz_members::ResyncingGzDecoder::new(buf);
            let mut reader = WarcReader::new(Box::new(BufReader::with_capacity(256 * 1024, decoder)) as Box<_>);
            reader.skipped = Some(log);
            Ok(reader)
        } else {
            Ok(WarcReader::new(Box::new(buf) as Box<_>))
        }
    }
}

enum Line {
    /// A complete line (without its terminator); `true` when it was cut at the cap.
    Line(Vec<u8>, bool),
    Eof,
}

impl<R: BufRead> WarcReader<R> {
    /// Reads records from an already-decompressed stream.
    pub fn new(inner: R) -> Self {
        WarcReader {
            inner: Rewind { front: Vec::new(), at: 0, inner },
            pos: 0,
            max_body: DEFAULT_MAX_BODY,
            done: false,
            resync: false,
            pending: None,
            skipped: None,
        }
    }

    /// The corrupt gzip stretches skipped since the last call (empty for an uncompressed input).
    pub fn take_skipped(&mut self) -> Vec<super::gz_members::Skipped> {
        self.skipped.as_ref().map(|log| std::mem::take(&mut *log.lock().expect("skip log"))).unwrap_or_default()
    }

    /// Sets the body cap (bytes); larger records yield [`WarcRecordError::TooLarge`].
    pub fn with_max_body(mut self, max_body: u64) -> Self {
        self.max_body = max_body;
        self
    }

    /// Bytes of the decompressed stream consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Reads one line (up to `\n`), keeping at most `cap` bytes of it; the rest is discarded.
    /// The terminator (`\n` or `\r\n`) is stripped.
    fn read_line(&mut self, cap: usize) -> io::Result<Line> {
        let mut out = Vec::new();
        let mut cut = false;
        let mut any = false;
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                if !any {
                    return Ok(Line::Eof);
                }
                break;
            }
            any = true;
            let (chunk, found) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            let room = cap.saturating_sub(out.len());
            let take = chunk.min(room);
            out.extend_from_slice(&buf[..take]);
            if take < chunk {
                cut = true;
            }
            self.inner.consume(chunk);
            self.pos += chunk as u64;
            if found {
                break;
            }
        }
        if out.last() == Some(&b'\n') {
            out.pop();
            if out.last() == Some(&b'\r') {
                out.pop();
            }
        }
        Ok(Line::Line(out, cut))
    }

    fn fatal_io(&mut self, source: io::Error) -> Option<Result<WarcRecord, WarcRecordError>> {
        self.done = true;
        Some(Err(WarcRecordError::Io { offset: self.pos, source }))
    }

    fn malformed(&mut self, offset: u64, message: impl Into<String>) -> Option<Result<WarcRecord, WarcRecordError>> {
        self.resync = true;
        Some(Err(WarcRecordError::MalformedHeader { offset, message: message.into() }))
    }

    /// Reads exactly `len` bytes into a vector. Returns the bytes read so far on early EOF.
    fn read_body(&mut self, len: u64) -> io::Result<(Vec<u8>, bool)> {
        let mut body = Vec::with_capacity(len.min(8 * 1024 * 1024) as usize);
        let n = (&mut self.inner).take(len).read_to_end(&mut body)?;
        self.pos += n as u64;
        Ok((body, n as u64 == len))
    }

    /// Discards `len` bytes; returns how many were actually there.
    fn skip_body(&mut self, len: u64) -> io::Result<u64> {
        let n = io::copy(&mut (&mut self.inner).take(len), &mut io::sink())?;
        self.pos += n;
        Ok(n)
    }

    /// Put bytes already counted in `pos` back in front of the stream.
    fn unread(&mut self, bytes: &[u8]) {
        self.inner.unread(bytes);
        self.pos -= bytes.len() as u64;
    }

    /// Whether the block just read ends at a record boundary: CRLF CRLF (or LF LF) follows. Anything else
    /// read to decide is put back.
    fn at_record_boundary(&mut self) -> io::Result<bool> {
        let mut next = Vec::with_capacity(4);
        (&mut self.inner).take(4).read_to_end(&mut next)?;
        self.pos += next.len() as u64;
        if next.starts_with(b"\r\n\r\n") {
            return Ok(true);
        }
        if next.starts_with(b"\n\n") {
            self.unread(&next[2..]);
            return Ok(true);
        }
        // Anything else, the end of the stream included, means the block's length was wrong (or the file
        // was cut right after it).
        self.unread(&next);
        Ok(false)
    }

    /// A record whose block does not end at a record boundary: resume at the next record start inside the
    /// block read (a Content-Length too large swallowed it), or else at the next `WARC/1.` line after it.
    fn bad_boundary(
        &mut self,
        offset: u64,
        block: &[u8],
        message: String,
    ) -> Option<Result<WarcRecord, WarcRecordError>> {
        match find_record_start(block) {
            Some(at) => self.unread(&block[at..]),
            None => {
                // The next record's version line may begin at the end of the block and end after it.
                let line_start = memchr::memrchr(b'\n', block).map_or(0, |i| i + 1);
                let tail = &block[line_start..];
                if !tail.is_empty() && tail.len() < RECORD_START.len() && RECORD_START.starts_with(tail) {
                    self.unread(tail);
                }
                self.resync = true;
            }
        }
        Some(Err(WarcRecordError::BadBoundary { offset, message }))
    }

    fn next_record(&mut self) -> NextRecord {
        let (offset, version) = match self.version_line() {
            Ok(found) => found,
            Err(out) => return out,
        };
        if !version.starts_with(b"WARC/") {
            let shown = String::from_utf8_lossy(&version[..version.len().min(60)]).into_owned();
            return self.malformed(offset, format!("expected a WARC/1.x version line, found {shown:?}"));
        }
        let headers = match self.header_fields(offset, version.len()) {
            Ok(headers) => headers,
            Err(out) => return out,
        };
        let find = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let length: u64 = match find("Content-Length").map(|v| v.trim().parse::<u64>()) {
            Some(Ok(n)) => n,
            Some(Err(_)) => return self.malformed(offset, "unparseable Content-Length"),
            None => return self.malformed(offset, "missing Content-Length"),
        };
        let record_type = find("WARC-Type").unwrap_or("").to_string();
        if length > self.max_body {
            return self.skip_oversized_block(offset, length);
        }
        self.read_block(offset, length, record_type, headers)
    }

    /// The record's version line and its offset, skipping blank lines (and, when resynchronising, anything
    /// that is not a `WARC/1.` line). `Err` is what [`Self::next_record`] returns instead: the end, or a fatal
    /// error.
    #[inline]
    fn version_line(&mut self) -> Result<(u64, Vec<u8>), NextRecord> {
        loop {
            if let Some(p) = self.pending.take() {
                return Ok(p);
            }
            let start = self.pos;
            let line = match self.read_line(MAX_HEADER_LINE) {
                Ok(Line::Eof) => {
                    self.done = true;
                    return Err(None);
                }
                Ok(Line::Line(l, _)) => l,
                Err(e) => return Err(self.fatal_io(e)),
            };
            if self.resync {
                if line.starts_with(b"WARC/1.") {
                    self.resync = false;
                    return Ok((start, line));
                }
                continue;
            }
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            return Ok((start, line));
        }
    }

    /// The header fields after the version line (`version_len` bytes, counted in the header block's cap), up
    /// to the blank line. `Err` is what [`Self::next_record`] returns instead.
    #[inline]
    fn header_fields(&mut self, offset: u64, version_len: usize) -> Result<Vec<(String, String)>, NextRecord> {
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut block = version_len;
        loop {
            let line_start = self.pos;
            let (line, cut) = match self.read_line(MAX_HEADER_LINE) {
                Ok(Line::Eof) => {
                    self.done = true;
                    return Err(Some(Err(WarcRecordError::Truncated {
                        offset,
                        message: "stream ended inside the header block".into(),
                    })));
                }
                Ok(Line::Line(l, cut)) => (l, cut),
                Err(e) => return Err(self.fatal_io(e)),
            };
            if line.is_empty() {
                return Ok(headers);
            }
            if cut {
                return Err(self.malformed(
                    offset,
                    format!("header line at offset {line_start} longer than {MAX_HEADER_LINE} bytes"),
                ));
            }
            block += line.len();
            if block > MAX_HEADER_BLOCK {
                return Err(self.malformed(offset, format!("header block longer than {MAX_HEADER_BLOCK} bytes")));
            }
            if line.starts_with(b"WARC/1.") {
                // A new record started before this one's header ended: resume there.
                self.pending = Some((line_start, line));
                return Err(Some(Err(WarcRecordError::MalformedHeader {
                    offset,
                    message: "header block not terminated by a blank line".into(),
                })));
            }
            if let Err(shown) = push_header_line(&mut headers, &line) {
                let message = format!("header line at offset {line_start} is not `Name: value`: {shown:?}");
                return Err(self.malformed(offset, message));
            }
        }
    }

    /// A block over the body cap: skipped without being buffered, then reported.
    fn skip_oversized_block(&mut self, offset: u64, length: u64) -> NextRecord {
        match self.skip_body(length) {
            Ok(n) if n == length => match self.at_record_boundary() {
                Ok(true) => Some(Err(WarcRecordError::TooLarge { offset, length, max: self.max_body })),
                Ok(false) => {
                    // What was skipped is gone: resume at the next `WARC/1.` line after it.
                    self.resync = true;
                    Some(Err(WarcRecordError::BadBoundary {
                        offset,
                        message: format!(
                            "Content-Length {length} (over the {}-byte cap, skipped) does not end at a record \
                             boundary",
                            self.max_body
                        ),
                    }))
                }
                Err(e) => self.fatal_io(e),
            },
            Ok(n) => {
                self.done = true;
                Some(Err(WarcRecordError::Truncated {
                    offset,
                    message: format!("oversized body cut short: {n} of {length} bytes"),
                }))
            }
            Err(e) => self.fatal_io(e),
        }
    }

    /// The block, which must end at a record boundary: the record, or why its length is wrong.
    #[inline(always)]
    fn read_block(
        &mut self,
        offset: u64,
        length: u64,
        record_type: String,
        headers: Vec<(String, String)>,
    ) -> NextRecord {
        match self.read_body(length) {
            Ok((body, true)) => match self.at_record_boundary() {
                Ok(true) => Some(Ok(WarcRecord { record_type, headers, body, offset })),
                Ok(false) => self.bad_boundary(
                    offset,
                    &body,
                    format!("Content-Length {length} does not end at a record boundary (no CRLF CRLF after the block)"),
                ),
                Err(e) => self.fatal_io(e),
            },
            Ok((body, false)) if find_record_start(&body).is_some() => self.bad_boundary(
                offset,
                &body,
                format!("Content-Length {length} goes past the next record (only {} bytes before the end)", body.len()),
            ),
            Ok((body, false)) => {
                self.done = true;
                Some(Err(WarcRecordError::Truncated {
                    offset,
                    message: format!("body cut short: {} of {length} bytes", body.len()),
                }))
            }
            Err(e) => self.fatal_io(e),
        }
    }
}

/// Adds a header line to `headers`: a `Name: value` field, or (obsolete line folding) the continuation of the
/// previous value. `Err` holds the start of a line that is neither, to show in the error.
#[inline]
fn push_header_line(headers: &mut Vec<(String, String)>, line: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(line);
    if (line[0] == b' ' || line[0] == b'\t') && !headers.is_empty() {
        let last = headers.last_mut().expect("non-empty");
        last.1.push(' ');
        last.1.push_str(text.trim());
        return Ok(());
    }
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() && !name.contains(char::is_whitespace) => {
            headers.push((name.to_string(), value.trim().to_string()));
            Ok(())
        }
        _ => Err(text.chars().take(60).collect()),
    }
}

/// What reading the next record gives: a record, an error, or the end of the stream.
type NextRecord = Option<Result<WarcRecord, WarcRecordError>>;

impl<R: BufRead> Iterator for WarcReader<R> {
    type Item = Result<WarcRecord, WarcRecordError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.next_record()
    }
}

/// Parses the date part of a `WARC-Date` (`2024-05-18T01:58:10Z`, also a bare `2024-05-18`).
pub fn parse_warc_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    let day = s.get(..10)?;
    let rest = &s[10..];
    if !(rest.is_empty() || rest.starts_with('T') || rest.starts_with('t') || rest.starts_with(' ')) {
        return None;
    }
    NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()
}

/// A text document extracted from a WARC/WET record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebDocument {
    pub url: String,
    /// The `WARC-Date` string as written.
    pub date: String,
    pub record_id: String,
    /// The record's WARC `Content-Length`.
    pub content_length: u64,
    /// `WARC-Identified-Content-Language` (WET only), e.g. `eng` or `eng,fra`.
    pub language: Option<String>,
    pub text: String,
}

impl WebDocument {
    /// Crawl date parsed from [`WebDocument::date`].
    pub fn crawl_date(&self) -> Option<NaiveDate> {
        parse_warc_date(&self.date)
    }
}

/// Converts a record into a document:
/// * WET `conversion` → the text as-is (UTF-8, decoded lossily);
/// * WARC `response` whose HTTP `Content-Type` is HTML → extracted text;
/// * anything else → `None`.
///
/// `Some(Err(_))` says why a record that should have been a document could not be read.
pub fn record_to_document(rec: &WarcRecord) -> Option<Result<WebDocument, String>> {
    let kind = rec.record_type.to_ascii_lowercase();
    let text = match kind.as_str() {
        "conversion" => Ok(String::from_utf8_lossy(&rec.body).into_owned()),
        "response" => {
            // Non-HTTP responses (e.g. Heritrix `text/dns` records) are not documents.
            let ct = rec.header("Content-Type").unwrap_or("application/http").to_ascii_lowercase();
            if !ct.contains("application/http") && !rec.body.starts_with(b"HTTP/") {
                return None;
            }
            response_html_text(&rec.body)?
        }
        _ => return None,
    };
    Some(text.and_then(|text| {
        let url = rec.target_uri().ok_or_else(|| format!("record at offset {} has no WARC-Target-URI", rec.offset))?;
        Ok(WebDocument {
            url: url.to_string(),
            date: rec.date().unwrap_or("").to_string(),
            record_id: rec.record_id().unwrap_or("").to_string(),
            content_length: rec.content_length().unwrap_or(rec.body.len() as u64),
            language: rec.identified_language().map(str::to_string),
            text,
        })
    }))
}

/// An HTTP response parsed out of a WARC `response` body.
struct HttpResponse<'a> {
    status: u16,
    headers: Vec<(String, String)>,
    payload: &'a [u8],
}

impl HttpResponse<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn parse_http_response(body: &[u8]) -> Result<HttpResponse<'_>, String> {
    if !body.starts_with(b"HTTP/") {
        return Err("response body does not start with an HTTP status line".into());
    }
    // End of the header block: first empty line (CRLF CRLF, or bare LF LF).
    let mut i = 0;
    let mut lines: Vec<&[u8]> = Vec::new();
    let payload_start = loop {
        let Some(nl) = memchr::memchr(b'\n', &body[i..]) else {
            return Err("HTTP header block not terminated".into());
        };
        let mut line = &body[i..i + nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        i += nl + 1;
        if line.is_empty() {
            break i;
        }
        lines.push(line);
    };
    let status_line = String::from_utf8_lossy(lines[0]);
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad HTTP status line {:?}", status_line.chars().take(60).collect::<String>()))?;
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in &lines[1..] {
        let text = String::from_utf8_lossy(line);
        if (line[0] == b' ' || line[0] == b'\t') && !headers.is_empty() {
            let last = headers.last_mut().expect("non-empty");
            last.1.push(' ');
            last.1.push_str(text.trim());
        } else if let Some((k, v)) = text.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        } // Junk lines in HTTP headers are common in the wild: ignore them.
    }
    Ok(HttpResponse { status, headers, payload: &body[payload_start..] })
}

/// Decodes a chunked transfer-encoded payload. Lenient about a missing final chunk (the
/// crawler may have stopped early), strict about malformed chunk sizes.
pub fn dechunk(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    loop {
        if i >= data.len() {
            return Ok(out); // no terminating 0-chunk: keep what we have
        }
        let Some(nl) = memchr::memchr(b'\n', &data[i..]) else {
            return Err(format!("chunked encoding: size line without newline at payload byte {i}"));
        };
        let line = String::from_utf8_lossy(&data[i..i + nl]);
        let size_str = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_str, 16).map_err(|_| {
            format!(
                "chunked encoding: bad chunk size {:?} at payload byte {i}",
                size_str.chars().take(20).collect::<String>()
            )
        })?;
        i += nl + 1;
        if size == 0 {
            return Ok(out); // trailers ignored
        }
        let end = i.saturating_add(size).min(data.len());
        out.extend_from_slice(&data[i..end]);
        i = end;
        // CRLF after the chunk data.
        if data[i..].starts_with(b"\r\n") {
            i += 2;
        } else if data[i..].starts_with(b"\n") {
            i += 1;
        }
    }
}

fn decode_content_encoding(payload: Vec<u8>, encoding: &str) -> Result<Vec<u8>, String> {
    let enc = encoding.trim().to_ascii_lowercase();
    let mut out = Vec::new();
    let res = match enc.as_str() {
        "" | "identity" => return Ok(payload),
        "gzip" | "x-gzip" => {
            flate2::read::MultiGzDecoder::new(&payload[..]).take(MAX_DECODED_PAYLOAD).read_to_end(&mut out)
        }
        "deflate" => {
            // "deflate" is zlib-wrapped per the RFC, raw deflate in practice for some servers.
            let r = flate2::read::ZlibDecoder::new(&payload[..]).take(MAX_DECODED_PAYLOAD).read_to_end(&mut out);
            if r.is_err() {
                out.clear();
                flate2::read::DeflateDecoder::new(&payload[..]).take(MAX_DECODED_PAYLOAD).read_to_end(&mut out)
            } else {
                r
            }
        }
        other => return Err(format!("unsupported Content-Encoding {other:?}")),
    };
    res.map_err(|e| format!("Content-Encoding {enc}: {e}"))?;
    Ok(out)
}

/// `None` when the response is not HTML (or not a successful-looking HTTP response).
fn response_html_text(body: &[u8]) -> Option<Result<String, String>> {
    let http = match parse_http_response(body) {
        Ok(h) => h,
        Err(e) => return Some(Err(e)),
    };
    let content_type = http.header("Content-Type").unwrap_or("").to_ascii_lowercase();
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !(mime == "text/html" || mime == "application/xhtml+xml") {
        return None;
    }
    if !(200..300).contains(&http.status) {
        return None;
    }
    let mut payload = http.payload.to_vec();
    if let Some(te) = http.header("Transfer-Encoding") {
        if te.to_ascii_lowercase().contains("chunked") {
            payload = match dechunk(&payload) {
                Ok(p) => p,
                Err(e) => return Some(Err(e)),
            };
        }
    }
    if let Some(ce) = http.header("Content-Encoding") {
        payload = match decode_content_encoding(payload, ce) {
            Ok(p) => p,
            Err(e) => return Some(Err(e)),
        };
    }
    Some(payload_text(&payload, &content_type))
}

#[cfg(feature = "html")]
fn payload_text(payload: &[u8], content_type: &str) -> Result<String, String> {
    Ok(super::html::payload_to_text(payload, content_type))
}

#[cfg(not(feature = "html"))]
fn payload_text(_: &[u8], _: &str) -> Result<String, String> {
    Err("an HTML response, and this svalbard was built without the cargo feature `html` (HTML to text): \
         read the crawl's WET files, or build with the feature"
        .into())
}
#[cfg(test)]
mod tests {
    use super::*;
    use flate2::bufread::MultiGzDecoder;
    use std::io::{Cursor, Write};

    /// `/work/shared/data/web`, located from `SVALBARD_SHARED_DATA` or `../shared/data` beside the
    /// crate. `None` (and a message) when absent.
    fn web_data() -> Option<PathBuf> {
        let candidates = [
            std::env::var_os("SVALBARD_SHARED_DATA").map(PathBuf::from),
            Some(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data"))),
        ];
        for c in candidates.into_iter().flatten() {
            let web = c.join("web");
            if web.join("whirlwind.warc.gz").exists() {
                return Some(web);
            }
        }
        eprintln!("SKIP: shared data not found (set SVALBARD_SHARED_DATA or put it at ../shared/data)");
        None
    }

    fn read_all(path: &Path) -> Vec<Result<WarcRecord, WarcRecordError>> {
        WarcReader::open(path).unwrap().collect()
    }

    fn record(kind: &str, extra: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        write!(v, "WARC/1.0\r\nWARC-Type: {kind}\r\n").unwrap();
        for (k, val) in extra {
            write!(v, "{k}: {val}\r\n").unwrap();
        }
        write!(v, "Content-Length: {}\r\n\r\n", body.len()).unwrap();
        v.extend_from_slice(body);
        v.extend_from_slice(b"\r\n\r\n");
        v
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    #[cfg(feature = "html")]
    fn whirlwind_warc() {
        let Some(web) = web_data() else { return };
        let recs = read_all(&web.join("whirlwind.warc.gz"));
        assert_eq!(recs.len(), 4);
        let recs: Vec<WarcRecord> = recs.into_iter().map(|r| r.unwrap()).collect();
        let types: Vec<&str> = recs.iter().map(|r| r.record_type.as_str()).collect();
        assert_eq!(types, ["warcinfo", "request", "response", "metadata"]);
        assert_eq!(recs[0].offset, 0);
        assert!(recs[1].offset > 0 && recs[2].offset > recs[1].offset);
        let resp = &recs[2];
        assert_eq!(resp.target_uri(), Some("https://an.wikipedia.org/wiki/Escopete"));
        assert_eq!(resp.content_length(), Some(74581));
        assert_eq!(resp.body.len(), 74581);
        assert_eq!(resp.header("warc-type"), Some("response"));
        assert_eq!(resp.record_id(), Some("<urn:uuid:2aabeff2-67f5-4608-8466-e87c6296e2b6>"));
        let docs: Vec<WebDocument> = recs.iter().filter_map(record_to_document).map(|d| d.unwrap()).collect();
        assert_eq!(docs.len(), 1);
        let d = &docs[0];
        assert_eq!(d.url, "https://an.wikipedia.org/wiki/Escopete");
        assert_eq!(d.date, "2024-05-18T01:58:10Z");
        assert_eq!(d.crawl_date(), NaiveDate::from_ymd_opt(2024, 5, 18));
        assert!(d.text.contains("Escopete"), "{}", &d.text[..d.text.len().min(500)]);
        assert!(!d.text.contains("<div") && !d.text.contains("function("), "markup or script leaked");
    }

    #[test]
    fn whirlwind_wet() {
        let Some(web) = web_data() else { return };
        let recs: Vec<WarcRecord> =
            read_all(&web.join("whirlwind.warc.wet.gz")).into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(recs.len(), 2);
        let docs: Vec<WebDocument> = recs.iter().filter_map(record_to_document).map(|d| d.unwrap()).collect();
        assert_eq!(docs.len(), 1);
        let d = &docs[0];
        assert_eq!(d.url, "https://an.wikipedia.org/wiki/Escopete");
        assert_eq!(d.language.as_deref(), Some("spa"));
        assert_eq!(d.record_id, "<urn:uuid:ba729a40-ff84-4085-8d48-0a5b2ee0c42d>");
        assert_eq!(d.content_length, 4456);
        assert_eq!(d.text.len(), 4456);
        assert!(d.text.contains("Escopete"));
    }

    #[test]
    #[cfg(feature = "html")]
    fn dolma_samples() {
        let Some(web) = web_data() else { return };
        // (file, records, html responses)
        for (file, n_records, n_responses) in
            [("dolma_sample-0000.warc.gz", 48, 22), ("dolma_sample-0001.warc.gz", 34, 15)]
        {
            let recs: Vec<WarcRecord> = read_all(&web.join(file)).into_iter().map(|r| r.unwrap()).collect();
            assert_eq!(recs.len(), n_records, "{file}");
            let responses = recs.iter().filter(|r| r.record_type == "response").count();
            assert_eq!(responses, n_responses, "{file}");
            let docs: Vec<WebDocument> = recs.iter().filter_map(record_to_document).map(|d| d.unwrap()).collect();
            // Every response in these samples is a 200 text/html page.
            assert_eq!(docs.len(), n_responses, "{file}");
            for d in &docs {
                assert!(d.url.starts_with("http"), "{}", d.url);
                assert!(!d.url.starts_with('<'));
                assert_eq!(d.crawl_date(), NaiveDate::from_ymd_opt(2024, 4, 25), "{}", d.date);
                assert!(!d.text.trim().is_empty(), "empty text for {}", d.url);
                assert!(!d.text.contains("</"), "markup leaked in {}", d.url);
            }
            if file.ends_with("0000.warc.gz") {
                let urls: Vec<&str> = docs.iter().map(|d| d.url.as_str()).collect();
                assert!(urls.contains(&"https://soldaini.net/"));
                assert!(urls.contains(&"https://maria-antoniak.github.io/2023/07/04/notes-on-mastodon.html"));
                // This one is served with Transfer-Encoding: chunked.
                let weld = docs.iter().find(|d| d.url == "https://www.cs.washington.edu/people/faculty/weld").unwrap();
                assert!(weld.text.contains("Weld"), "{}", weld.text);
                assert!(!weld.text.contains("\n6a43\n"), "chunk size leaked");
            }
        }
    }

    #[test]
    fn truncated_gzip_samples() {
        let Some(web) = web_data() else { return };
        for file in ["whirlwind.warc.gz", "dolma_sample-0000.warc.gz", "whirlwind.warc.wet.gz"] {
            let full = std::fs::read(web.join(file)).unwrap();
            let n_full = WarcReader::new(BufReader::new(MultiGzDecoder::new(&full[..]))).count();
            for frac in [1, 10, 33, 50, 77, 99] {
                let cut = full.len() * frac / 100;
                let dir = std::env::temp_dir().join(format!("svalbard-warc-trunc-{}", std::process::id()));
                std::fs::create_dir_all(&dir).unwrap();
                let p = dir.join(format!("{frac}-{file}"));
                std::fs::write(&p, &full[..cut]).unwrap();
                let items: Vec<_> = WarcReader::open(&p).unwrap().take(10_000).collect();
                assert!(items.len() <= n_full + 1, "{file} cut at {cut}: {} items", items.len());
                // Cut inside a gzip member: the last item is a fatal error with an offset.
                let last = items.last().expect("at least one item");
                match last {
                    Err(e) => {
                        assert!(e.is_fatal(), "{file}@{cut}: {e}");
                        assert!(e.to_string().contains("offset"), "{e}");
                    }
                    Ok(_) => panic!("{file} cut at {cut} of {} ended without an error", full.len()),
                }
                assert!(items[..items.len() - 1].iter().all(|r| r.is_ok()));
                std::fs::remove_file(&p).ok();
            }
        }
    }

    #[test]
    fn truncated_plain_mid_body_and_mid_header() {
        let mut data = record("conversion", &[("WARC-Target-URI", "http://a/")], b"hello world");
        data.extend(record("conversion", &[("WARC-Target-URI", "http://b/")], b"second body here"));
        let second = data.len() - 16 - 4; // inside the second body
        let items: Vec<_> = WarcReader::new(Cursor::new(&data[..second])).collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        let e = items[1].as_ref().unwrap_err();
        assert!(matches!(e, WarcRecordError::Truncated { .. }), "{e}");
        assert!(e.offset() > 0);
        // Cut in the middle of the second header block.
        let first_len = record("conversion", &[("WARC-Target-URI", "http://a/")], b"hello world").len();
        let items: Vec<_> = WarcReader::new(Cursor::new(&data[..first_len + 20])).collect();
        assert_eq!(items.len(), 2);
        assert!(matches!(items[1], Err(WarcRecordError::Truncated { offset, .. }) if offset == first_len as u64));
    }

    #[test]
    fn malformed_header_resyncs() {
        let good1 = record("conversion", &[("WARC-Target-URI", "http://a/")], b"one");
        let mut bad = record("conversion", &[("WARC-Target-URI", "http://bad/")], b"bad body");
        // Corrupt: replace the ':' of the target-uri header with a space.
        let at = bad.windows(16).position(|w| w == b"WARC-Target-URI:").unwrap();
        bad[at + 15] = b' ';
        let good2 = record("conversion", &[("WARC-Target-URI", "http://c/")], b"three");
        let mut data = good1.clone();
        data.extend(&bad);
        data.extend(&good2);
        let items: Vec<_> = WarcReader::new(Cursor::new(&data)).collect();
        assert_eq!(items.len(), 3, "{items:?}");
        assert_eq!(items[0].as_ref().unwrap().target_uri(), Some("http://a/"));
        let e = items[1].as_ref().unwrap_err();
        assert!(matches!(e, WarcRecordError::MalformedHeader { .. }));
        assert_eq!(e.offset(), good1.len() as u64);
        let r = items[2].as_ref().unwrap();
        assert_eq!(r.target_uri(), Some("http://c/"));
        assert_eq!(r.body, b"three");
        assert_eq!(r.offset, (good1.len() + bad.len()) as u64);

        // Garbage before the first record, and a bad Content-Length.
        let mut data = b"garbage line\nmore garbage\n".to_vec();
        data.extend(&good1);
        data.extend(b"WARC/1.0\r\nWARC-Type: response\r\nContent-Length: abc\r\n\r\nxyz\r\n\r\n");
        data.extend(&good2);
        let items: Vec<_> = WarcReader::new(Cursor::new(&data)).collect();
        let oks: Vec<_> = items.iter().filter_map(|r| r.as_ref().ok()).map(|r| r.target_uri().unwrap()).collect();
        assert_eq!(oks, ["http://a/", "http://c/"]);
        assert_eq!(items.iter().filter(|r| r.is_err()).count(), 2);
    }

    #[test]
    fn corrupt_gzip_header_in_sample() {
        let Some(web) = web_data() else { return };
        let full = std::fs::read(web.join("whirlwind.warc.gz")).unwrap();
        let mut bad = full.clone();
        // Flip bytes in the middle of the compressed stream.
        let mid = bad.len() / 2;
        for b in &mut bad[mid..mid + 64] {
            *b ^= 0x5a;
        }
        let items: Vec<_> = WarcReader::new(BufReader::new(MultiGzDecoder::new(&bad[..]))).take(1000).collect();
        assert!(items.len() <= 5);
        assert!(items.iter().any(|r| r.is_err()));
    }

    #[test]
    fn oversized_body_is_skipped() {
        let mut data = record("conversion", &[("WARC-Target-URI", "http://big/")], &[b'x'; 5000]);
        data.extend(record("conversion", &[("WARC-Target-URI", "http://small/")], b"ok"));
        let items: Vec<_> = WarcReader::new(Cursor::new(&data)).with_max_body(1000).collect();
        assert_eq!(items.len(), 2);
        assert!(matches!(items[0], Err(WarcRecordError::TooLarge { length: 5000, max: 1000, offset: 0 })));
        assert_eq!(items[1].as_ref().unwrap().body, b"ok");
    }

    #[test]
    fn plain_and_gz_streams_and_open() {
        let mut data = record("warcinfo", &[], b"software: test");
        data.extend(record(
            "conversion",
            &[("WARC-Target-URI", "http://a/"), ("WARC-Date", "2021-01-02T03:04:05Z")],
            b"text a",
        ));
        // Multi-member gzip: one member per record.
        let mut gzdata = Vec::new();
        for rec in WarcReader::new(Cursor::new(&data)) {
            let rec = rec.unwrap();
            let mut one = record(&rec.record_type, &[], &rec.body);
            if rec.record_type == "conversion" {
                one = record(
                    "conversion",
                    &[("WARC-Target-URI", "http://a/"), ("WARC-Date", "2021-01-02T03:04:05Z")],
                    &rec.body,
                );
            }
            gzdata.extend(gz(&one));
        }
        let dir = std::env::temp_dir().join(format!("svalbard-warc-open-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.warc"), &data).unwrap();
        std::fs::write(dir.join("a.warc.wet.gz"), &gzdata).unwrap();
        for name in ["a.warc", "a.warc.wet.gz"] {
            let recs: Vec<WarcRecord> = WarcReader::open(dir.join(name)).unwrap().map(|r| r.unwrap()).collect();
            assert_eq!(recs.len(), 2, "{name}");
            let d = record_to_document(&recs[1]).unwrap().unwrap();
            assert_eq!(d.text, "text a");
            assert!(d.crawl_date().is_some_and(|c| c < NaiveDate::from_ymd_opt(2022, 11, 30).unwrap()));
            assert!(record_to_document(&recs[0]).is_none());
        }
        assert!(WarcReader::open(dir.join("missing.warc")).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn dates() {
        assert_eq!(parse_warc_date("2022-11-29T23:59:59Z"), NaiveDate::from_ymd_opt(2022, 11, 29));
        assert_eq!(parse_warc_date("2024-05-18T01:58:10.123456Z"), NaiveDate::from_ymd_opt(2024, 5, 18));
        assert_eq!(parse_warc_date("2024-05-18"), NaiveDate::from_ymd_opt(2024, 5, 18));
        assert_eq!(parse_warc_date("not a date"), None);
        assert_eq!(parse_warc_date("2024-13-01T00:00:00Z"), None);
    }

    fn http_record(http: &[u8]) -> WarcRecord {
        let data =
            record("response", &[("WARC-Target-URI", "<http://x/>"), ("WARC-Date", "2020-01-01T00:00:00Z")], http);
        WarcReader::new(Cursor::new(data)).next().unwrap().unwrap()
    }

    #[test]
    #[cfg(not(feature = "html"))]
    fn html_response_without_the_feature_says_so() {
        let rec = http_record(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>x</p>");
        let e = record_to_document(&rec).unwrap().unwrap_err();
        assert!(e.contains("cargo feature `html`"), "{e}");
    }

    #[test]
    #[cfg(feature = "html")]
    fn http_responses() {
        // Chunked, latin-1.
        let mut http =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=ISO-8859-1\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_vec();
        let html: &[u8] = b"<html><body><p>Caf\xe9 cr\xe8me</p><script>var x='<p>no</p>';</script><nav>Menu</nav><p>End &amp; more</p></body></html>";
        let (a, b) = html.split_at(30);
        http.extend(format!("{:x}\r\n", a.len()).as_bytes());
        http.extend(a);
        http.extend(format!("\r\n{:X};ext=1\r\n", b.len()).as_bytes());
        http.extend(b);
        http.extend(b"\r\n0\r\n\r\n");
        let d = record_to_document(&http_record(&http)).unwrap().unwrap();
        assert_eq!(d.url, "http://x/");
        assert_eq!(d.text, "Café crème\n\nEnd & more");
        assert!(d.crawl_date().is_some_and(|c| c < NaiveDate::from_ymd_opt(2022, 11, 30).unwrap()));

        // gzip content-encoding, charset from <meta>, UTF-8.
        let body = gz("<html><head><meta charset=\"utf-8\"><title>T</title></head><body><h1>Título</h1><div>a<br>b</div></body></html>".as_bytes());
        let mut http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n\r\n".to_vec();
        http.extend(&body);
        let d = record_to_document(&http_record(&http)).unwrap().unwrap();
        assert_eq!(d.text, "Título\n\na\nb");

        // Non-HTML, non-200, request records → None; broken HTTP → Err.
        assert!(
            record_to_document(&http_record(b"HTTP/1.1 200 OK\r\nContent-Type: application/pdf\r\n\r\n%PDF")).is_none()
        );
        assert!(record_to_document(&http_record(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\n\r\n<p>x</p>"))
            .is_none());
        assert!(record_to_document(&http_record(b"garbage")).unwrap().is_err());
        let dns = record(
            "response",
            &[("WARC-Target-URI", "dns:example.com"), ("Content-Type", "text/dns")],
            b"20240101000000\nexample.com. 300 IN A 1.2.3.4",
        );
        let dns = WarcReader::new(Cursor::new(dns)).next().unwrap().unwrap();
        assert!(record_to_document(&dns).is_none());
        assert!(record_to_document(&http_record(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc"
        ))
        .unwrap()
        .is_err());
    }
}
