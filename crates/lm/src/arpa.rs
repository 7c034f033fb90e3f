//! Reading and writing the ARPA text format (as written by KenLM / SRILM):
//!
//! ```text
//! \data\
//! ngram 1=3
//! ngram 2=2
//!
//! \1-grams:
//! -0.30103 <s> -0.2
//! ...
//! \2-grams:
//! -0.1 <s> a
//! \end\
//! ```
//!
//! Each n-gram line is `log10prob <TAB> w1 .. wk [<TAB> log10backoff]` (any
//! whitespace is accepted). Gzip-compressed files are accepted too.

use super::train::{Estimated, Grams};
use super::LmError;
use std::collections::HashMap;
use std::io::{BufRead, Write};

/// Does `data` (the first buffer of a file) contain a `\data\` line within
/// its first 64 KiB? (ARPA files may carry a free-text preamble.)
pub(crate) fn looks_like_arpa(data: &[u8]) -> bool {
    let head = &data[..data.len().min(1 << 16)];
    head.split(|&b| b == b'\n').any(|l| l.trim_ascii() == b"\\data\\")
}

fn parse_f32(s: &str, line: usize) -> Result<f32, LmError> {
    match s {
        "-inf" | "-Infinity" => Ok(-99.0),
        _ => s.parse::<f32>().map_err(|_| LmError::Format(format!("ARPA line {line}: bad number {s:?}"))),
    }
}

fn format_error(line: usize, message: &str) -> LmError {
    LmError::Format(format!("ARPA line {line}: {message}"))
}

/// Parse an ARPA model from a buffered reader.
pub(crate) fn read_arpa<R: BufRead>(r: R) -> Result<Estimated, LmError> {
    let mut parser = ArpaParser::default();
    let mut line = String::new();
    let mut r = r;
    let mut lineno = 0usize;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            break;
        }
        lineno += 1;
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if t == "\\end\\" {
            parser.ended = true;
            break;
        }
        parser.line(t, lineno)?;
    }
    parser.finish()
}

/// Where the parser is in the file.
#[derive(Default, Clone, Copy)]
enum Section {
    /// Free text before `\data\`.
    #[default]
    Preamble,
    /// The `ngram k=count` lines.
    Data,
    /// The `\k-grams:` section.
    Grams(usize),
}

/// The model read so far.
#[derive(Default)]
struct ArpaParser {
    /// N-gram count per order, from the `\data\` block.
    counts: Vec<usize>,
    vocab: Vec<String>,
    id_of: HashMap<String, u32>,
    grams: Vec<Grams>,
    section: Section,
    seen_data: bool,
    ended: bool,
}

impl ArpaParser {
    /// One non-blank line (trimmed) before `\end\`.
    fn line(&mut self, t: &str, lineno: usize) -> Result<(), LmError> {
        if t == "\\data\\" {
            self.seen_data = true;
            self.section = Section::Data;
            return Ok(());
        }
        if let Some(rest) = t.strip_prefix('\\') {
            return self.section_header(rest, lineno);
        }
        match self.section {
            Section::Preamble => Ok(()),
            Section::Data => self.count_line(t, lineno),
            Section::Grams(k) => self.ngram_line(t, k, lineno),
        }
    }

    /// `\k-grams:` (the backslash stripped): sections come in order, each announced in `\data\`.
    fn section_header(&mut self, rest: &str, lineno: usize) -> Result<(), LmError> {
        let Some(num) = rest.strip_suffix("-grams:") else {
            return Err(format_error(lineno, "unknown section"));
        };
        let k: usize = num.parse().map_err(|_| format_error(lineno, "bad section header"))?;
        if k != self.grams.len() + 1 || k > self.counts.len() {
            return Err(format_error(lineno, "unexpected section"));
        }
        self.grams.push(Grams { ids: Vec::with_capacity(self.counts[k - 1] * k), prob: Vec::new(), bo: Vec::new() });
        self.section = Section::Grams(k);
        Ok(())
    }

    /// `ngram k=count`, in order of `k`.
    fn count_line(&mut self, t: &str, lineno: usize) -> Result<(), LmError> {
        let rest = t.strip_prefix("ngram").ok_or_else(|| format_error(lineno, "expected 'ngram k=count'"))?;
        let (k, c) = rest.trim().split_once('=').ok_or_else(|| format_error(lineno, "expected 'ngram k=count'"))?;
        let k: usize = k.trim().parse().map_err(|_| format_error(lineno, "bad order"))?;
        let c: usize = c.trim().parse().map_err(|_| format_error(lineno, "bad count"))?;
        if k != self.counts.len() + 1 {
            return Err(format_error(lineno, "ngram counts out of order"));
        }
        self.counts.push(c);
        Ok(())
    }

    /// `log10prob w1 .. wk [log10backoff]`. The unigrams define the vocabulary; a higher-order n-gram may only
    /// use its words.
    fn ngram_line(&mut self, t: &str, k: usize, lineno: usize) -> Result<(), LmError> {
        let mut f = t.split_ascii_whitespace();
        let p = parse_f32(f.next().ok_or_else(|| format_error(lineno, "empty"))?, lineno)?;
        let g = self.grams.last_mut().expect("section open");
        for _ in 0..k {
            let w = f.next().ok_or_else(|| format_error(lineno, "too few words"))?;
            let id = match self.id_of.get(w) {
                Some(&id) => id,
                None if k == 1 => {
                    let id = self.vocab.len() as u32;
                    self.vocab.push(w.to_string());
                    self.id_of.insert(w.to_string(), id);
                    id
                }
                None => return Err(format_error(lineno, &format!("word {w:?} not in the unigrams"))),
            };
            g.ids.push(id);
        }
        let b = match f.next() {
            Some(s) => parse_f32(s, lineno)?,
            None => 0.0,
        };
        if f.next().is_some() {
            return Err(format_error(lineno, "too many fields"));
        }
        g.prob.push(p);
        g.bo.push(b);
        Ok(())
    }

    /// The model, once the whole file is read: every announced section present and as long as announced.
    fn finish(self) -> Result<Estimated, LmError> {
        let ArpaParser { counts, vocab, grams, seen_data, ended, .. } = self;
        if !seen_data || !ended || grams.len() != counts.len() || grams.is_empty() {
            return Err(LmError::Format("ARPA: missing \\data\\, a section, or \\end\\".into()));
        }
        for (k, g) in grams.iter().enumerate() {
            if g.prob.len() != counts[k] {
                return Err(LmError::Format(format!(
                    "ARPA: {}-grams: header says {}, found {}",
                    k + 1,
                    counts[k],
                    g.prob.len()
                )));
            }
        }
        if grams.len() > super::table::MAX_ORDER {
            return Err(LmError::Format("ARPA: order too large".into()));
        }
        Ok(Estimated { vocab, grams })
    }
}

/// Write `est` as ARPA text.
pub(crate) fn write_arpa<W: Write>(est: &Estimated, w: W) -> Result<(), LmError> {
    let mut w = std::io::BufWriter::with_capacity(1 << 20, w);
    writeln!(w, "\\data\\")?;
    for (k, g) in est.grams.iter().enumerate() {
        writeln!(w, "ngram {}={}", k + 1, g.prob.len())?;
    }
    let n = est.order();
    for (k0, g) in est.grams.iter().enumerate() {
        let k = k0 + 1;
        writeln!(w, "\n\\{k}-grams:")?;
        for (j, ids) in g.ids.chunks(k).enumerate() {
            write!(w, "{}\t", g.prob[j])?;
            for (i, &id) in ids.iter().enumerate() {
                if i > 0 {
                    w.write_all(b" ")?;
                }
                w.write_all(est.vocab[id as usize].as_bytes())?;
            }
            if k < n {
                write!(w, "\t{}", g.bo[j])?;
            }
            w.write_all(b"\n")?;
        }
    }
    writeln!(w, "\n\\end\\")?;
    w.flush()?;
    Ok(())
}
