//! Multi-member gzip that survives a corrupt member: decoding resumes at the next member header instead of
//! ending the input. Common Crawl writes one gzip member per WARC record, so a damaged member costs the records
//! inside it, not the rest of the file. Every skipped stretch is logged for the reader to report as damage.
//!
//! A corrupt member with no member after it (a truncated file) still ends in the decoder's error, as with a
//! plain multi-member decoder.

use std::io::{self, BufRead, Read};
use std::sync::{Arc, Mutex};

use flate2::bufread::GzDecoder;

/// The gzip magic and the deflate method byte: how every member starts.
const MEMBER_MAGIC: [u8; 3] = [0x1f, 0x8b, 0x08];
const BUFFER: usize = 256 * 1024;

/// A stretch of compressed input that was skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// Offset in the compressed file where the skipped stretch starts.
    pub offset: u64,
    /// Compressed bytes skipped.
    pub bytes: u64,
    pub error: String,
}

/// Shared log of skipped stretches, drained by the reader that reports damage.
pub type SkipLog = Arc<Mutex<Vec<Skipped>>>;

pub struct ResyncingGzDecoder<R: Read> {
    state: State<R>,
    /// Compressed offset where the member being decoded starts.
    member_start: u64,
    log: SkipLog,
}

enum State<R: Read> {
    Decoding(Box<GzDecoder<Lookahead<R>>>),
    Between(Lookahead<R>),
    Done,
}

impl<R: Read> ResyncingGzDecoder<R> {
    pub fn new(inner: R) -> (Self, SkipLog) {
        let log = SkipLog::default();
        let decoder =
            ResyncingGzDecoder { state: State::Between(Lookahead::new(inner)), member_start: 0, log: log.clone() };
        (decoder, log)
    }

    fn skip(&self, offset: u64, bytes: u64, error: String) {
        self.log.lock().expect("skip log").push(Skipped { offset, bytes, error });
    }
}

impl<R: Read> Read for ResyncingGzDecoder<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return Ok(0),
                State::Decoding(mut decoder) => match decoder.read(out) {
                    Ok(0) => self.state = State::Between(decoder.into_inner()),
                    Ok(n) => {
                        self.state = State::Decoding(decoder);
                        return Ok(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => self.state = State::Decoding(decoder),
                    Err(e) => {
                        let mut inner = decoder.into_inner();
                        // Past the failed member's first byte at least, so that the search always moves on.
                        let from = inner.pos.max(self.member_start + 1);
                        match inner.seek_magic(from)? {
                            Some(next) => {
                                self.skip(
                                    self.member_start,
                                    next - self.member_start,
                                    format!("corrupt gzip member: {e}"),
                                );
                                self.state = State::Between(inner);
                            }
                            // No member follows: a truncated or broken end, reported as the decoder's error.
                            None => return Err(e),
                        }
                    }
                },
                State::Between(mut inner) => {
                    if inner.peek(MEMBER_MAGIC.len())?.is_empty() {
                        return Ok(0);
                    }
                    let at = inner.pos;
                    if !inner.peek(MEMBER_MAGIC.len())?.starts_with(&MEMBER_MAGIC) {
                        // Not a member header: bytes between members (or after the last), skipped to the next one.
                        let next = inner.seek_magic(at + 1)?;
                        let end = next.unwrap_or(inner.pos);
                        self.skip(at, end - at, "bytes that are not a gzip member".into());
                        if next.is_none() {
                            return Ok(0);
                        }
                    }
                    self.member_start = inner.pos;
                    self.state = State::Decoding(Box::new(GzDecoder::new(inner)));
                }
            }
        }
    }
}

/// A buffered reader that can look a few bytes ahead across refills, and counts what it consumed.
struct Lookahead<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes consumed so far: the offset of `buf[start]` in the stream.
    pos: u64,
}

impl<R: Read> Lookahead<R> {
    fn new(inner: R) -> Self {
        Lookahead { inner, buf: vec![0; BUFFER], start: 0, end: 0, pos: 0 }
    }

    /// At least `n` buffered bytes, or all that is left of the stream.
    fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        while self.end - self.start < n {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            let read = loop {
                match self.inner.read(&mut self.buf[self.end..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other?,
                }
            };
            if read == 0 {
                break;
            }
            self.end += read;
        }
        Ok(&self.buf[self.start..self.end])
    }

    /// Consume up to offset `from`, then up to the next member header; its offset, or None at the end.
    fn seek_magic(&mut self, from: u64) -> io::Result<Option<u64>> {
        while self.pos < from {
            let available = self.fill_buf()?.len();
            if available == 0 {
                return Ok(None);
            }
            self.consume(available.min((from - self.pos) as usize));
        }
        loop {
            let window = self.peek(MEMBER_MAGIC.len())?;
            if window.len() < MEMBER_MAGIC.len() {
                let n = window.len();
                self.consume(n);
                return Ok(None);
            }
            match memchr::memmem::find(window, &MEMBER_MAGIC) {
                Some(i) => {
                    self.consume(i);
                    return Ok(Some(self.pos));
                }
                // Keep the last bytes: the magic may straddle the refill.
                None => {
                    let n = window.len() - (MEMBER_MAGIC.len() - 1);
                    self.consume(n);
                }
            }
        }
    }
}

impl<R: Read> Read for Lookahead<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(out.len());
            out[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for Lookahead<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            self.peek(1)?;
        }
        Ok(&self.buf[self.start..self.end])
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.pos += n as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn member(text: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text).unwrap();
        e.finish().unwrap()
    }

    fn decode(bytes: &[u8]) -> (io::Result<Vec<u8>>, Vec<Skipped>) {
        let (mut d, log) = ResyncingGzDecoder::new(bytes);
        let mut out = Vec::new();
        let r = d.read_to_end(&mut out).map(|_| out);
        let skipped = log.lock().unwrap().clone();
        (r, skipped)
    }

    #[test]
    fn members_decode_in_order_like_a_multi_member_decoder() {
        let bytes: Vec<u8> = [member(b"one\n"), member(b"two\n"), member(b"")].concat();
        let (out, skipped) = decode(&bytes);
        assert_eq!(out.unwrap(), b"one\ntwo\n");
        assert!(skipped.is_empty());
    }

    #[test]
    fn a_corrupt_member_is_skipped_and_logged() {
        let (a, b, c) = (member(&b"first record ".repeat(50)), member(&b"second record ".repeat(50)), member(b"third"));
        let mut bad = b.clone();
        // Damage the deflate data, keep the header: the member fails to decode (or to match its checksum).
        for byte in &mut bad[12..30] {
            *byte ^= 0x5a;
        }
        let bytes: Vec<u8> = [a.clone(), bad.clone(), c.clone()].concat();
        let (out, skipped) = decode(&bytes);
        let out = out.unwrap();
        assert!(out.starts_with(&b"first record ".repeat(50)), "the member before is whole");
        assert!(out.ends_with(b"third"), "the member after is read");
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(skipped[0].offset, a.len() as u64);
        assert_eq!(skipped[0].bytes, bad.len() as u64);
    }

    #[test]
    fn garbage_between_members_is_skipped_and_a_truncated_end_is_an_error() {
        let bytes: Vec<u8> = [member(b"one\n"), b"junk junk".to_vec(), member(b"two\n")].concat();
        let (out, skipped) = decode(&bytes);
        assert_eq!(out.unwrap(), b"one\ntwo\n");
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].bytes, 9);
        let last = member(&b"a long last record ".repeat(100));
        let bytes: Vec<u8> = [member(b"one\n"), last[..last.len() / 2].to_vec()].concat();
        let (out, _) = decode(&bytes);
        assert!(out.is_err(), "a member cut short with nothing after it is the stream's error");
    }
}
