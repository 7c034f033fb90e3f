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

/// Parse an ARPA model from a buffered reader.
#[expect(clippy::too_many_lines, reason = "predates the lint; to be split into its steps")]
pub(crate) fn read_arpa<R: BufRead>(r: R) -> Result<Estimated, LmError> {
    let err = |line: usize, m: &str| LmError::Format(format!("ARPA line {line}: {m}"));
    let mut counts: Vec<usize> = Vec::new();
    let mut vocab: Vec<String> = Vec::new();
    let mut id_of: HashMap<String, u32> = HashMap::new();
    let mut grams: Vec<Grams> = Vec::new();
    let mut section = 0usize; // 0 = before \data\, usize::MAX = \data\ block, k = k-grams
    let mut seen_data = false;
    let mut ended = false;
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
        if t == "\\data\\" {
            seen_data = true;
            section = usize::MAX;
            continue;
        }
        if t == "\\end\\" {
            ended = true;
            break;
        }
        if let Some(rest) = t.strip_prefix('\\') {
            if let Some(num) = rest.strip_suffix("-grams:") {
                let k: usize = num.parse().map_err(|_| err(lineno, "bad section header"))?;
                if k != grams.len() + 1 || k > counts.len() {
                    return Err(err(lineno, "unexpected section"));
                }
                grams.push(Grams { ids: Vec::with_capacity(counts[k - 1] * k), prob: Vec::new(), bo: Vec::new() });
                section = k;
                continue;
            }
            return Err(err(lineno, "unknown section"));
        }
        if section == usize::MAX {
            let rest = t.strip_prefix("ngram").ok_or_else(|| err(lineno, "expected 'ngram k=count'"))?;
            let (k, c) = rest.trim().split_once('=').ok_or_else(|| err(lineno, "expected 'ngram k=count'"))?;
            let k: usize = k.trim().parse().map_err(|_| err(lineno, "bad order"))?;
            let c: usize = c.trim().parse().map_err(|_| err(lineno, "bad count"))?;
            if k != counts.len() + 1 {
                return Err(err(lineno, "ngram counts out of order"));
            }
            counts.push(c);
            continue;
        }
        if section == 0 {
            continue; // preamble text before \data\
        }
        let k = section;
        let mut f = t.split_ascii_whitespace();
        let p = parse_f32(f.next().ok_or_else(|| err(lineno, "empty"))?, lineno)?;
        let g = grams.last_mut().expect("section open");
        for _ in 0..k {
            let w = f.next().ok_or_else(|| err(lineno, "too few words"))?;
            let id = match id_of.get(w) {
                Some(&id) => id,
                None if k == 1 => {
                    let id = vocab.len() as u32;
                    vocab.push(w.to_string());
                    id_of.insert(w.to_string(), id);
                    id
                }
                None => return Err(err(lineno, &format!("word {w:?} not in the unigrams"))),
            };
            g.ids.push(id);
        }
        let b = match f.next() {
            Some(s) => parse_f32(s, lineno)?,
            None => 0.0,
        };
        if f.next().is_some() {
            return Err(err(lineno, "too many fields"));
        }
        g.prob.push(p);
        g.bo.push(b);
    }
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
