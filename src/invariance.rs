//! Metamorphic invariance: does `p_machine` ignore how a text was *published*?
//!
//! A publishing transformation changes what a CMS, an editor, an HTML extractor or a chat front-end does to a
//! text (quotes, dashes, line breaks, entities, bullets, boilerplate, Markdown) and leaves the author's words
//! alone. A detector of authorship should give the original and the transformed text the same score; a detector
//! that moves has learned the publisher, and its false positives follow publishing habits instead of writers.
//!
//! [`TRANSFORMATIONS`] is the registry (deterministic `fn(&str) -> String`s); [`run`] scores the originals and
//! every transformed version with a [`Scorer`] and reports, per transformation and watched column, how far the
//! scores moved and how many verdicts flipped.

use rayon::prelude::*;
use serde::Serialize;

use crate::config::Config;
use crate::decide::ensemble::P_MACHINE;
use crate::error::Result;
use crate::signal::Scorer;
use crate::spec::RuleMask;

/// A named publishing transformation.
#[derive(Clone, Copy)]
pub struct Transformation {
    /// Stable name (`--transformations`, reports).
    pub name: &'static str,
    /// One line: what a publisher does here.
    pub description: &'static str,
    pub apply: fn(&str) -> String,
}

impl std::fmt::Debug for Transformation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every publishing transformation, in report order.
pub static TRANSFORMATIONS: &[Transformation] = &[
    Transformation {
        name: "curly_quotes",
        description: "straight quotes and apostrophes made typographic (opening after start, space or bracket)",
        apply: curly_quotes,
    },
    Transformation {
        name: "straight_quotes",
        description: "typographic quotes, apostrophes and primes made ASCII",
        apply: straight_quotes,
    },
    Transformation {
        name: "dashes",
        description: "spaced hyphen and -- or --- become an em dash, a hyphen between digits an en dash",
        apply: dashes,
    },
    Transformation { name: "one_line", description: "every run of line breaks becomes one space", apply: one_line },
    Transformation {
        name: "line_per_paragraph",
        description: "blank lines between paragraphs become single line breaks",
        apply: line_per_paragraph,
    },
    Transformation {
        name: "blank_line_paragraphs",
        description: "every line break becomes a blank line",
        apply: blank_line_paragraphs,
    },
    Transformation { name: "crlf", description: "line breaks become CR LF", apply: crlf },
    Transformation {
        name: "nbsp",
        description: "the space after a sentence end, and between a number and a word, becomes U+00A0",
        apply: nbsp,
    },
    Transformation {
        name: "trailing_spaces",
        description: "every line ends in spaces or tabs",
        apply: trailing_spaces,
    },
    Transformation {
        name: "html_entities",
        description: "& < > quotes, apostrophes, dashes and NBSP left as HTML entities (&amp; &#39; &rsquo; ...)",
        apply: html_entities,
    },
    Transformation {
        name: "bullets",
        description: "every non-blank line after the first starts with \"• \"",
        apply: bullets,
    },
    Transformation {
        name: "boilerplate_prepend",
        description: "\"Share this article\" as the first line",
        apply: boilerplate_prepend,
    },
    Transformation {
        name: "boilerplate_append",
        description: "\"Posted by admin\" as the last line",
        apply: boilerplate_append,
    },
    Transformation {
        name: "markdown_raw",
        description: "raw chat Markdown: first line a ## heading, a bold word, later lines \"- \" list items",
        apply: markdown_raw,
    },
    Transformation {
        name: "markdown_rendered",
        description: "Markdown syntax removed as a browser renders it (texts without Markdown unchanged)",
        apply: markdown_rendered,
    },
];

/// The transformation called `name`.
pub fn transformation(name: &str) -> Option<&'static Transformation> {
    TRANSFORMATIONS.iter().find(|t| t.name == name)
}

/// Where a quote is an opening one: at the start, after white space, an opening bracket, a dash or another
/// opening quote.
fn opens_after(prev: Option<char>) -> bool {
    match prev {
        None => true,
        Some(c) => c.is_whitespace() || matches!(c, '(' | '[' | '{' | '<' | '—' | '–' | '“' | '‘'),
    }
}

/// Straight quotes and apostrophes made typographic.
pub fn curly_quotes(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut prev = None;
    for c in text.chars() {
        let mapped = match c {
            '"' if opens_after(prev) => '“',
            '"' => '”',
            // Inside or at the end of a word an apostrophe and a closing quote are the same glyph.
            '\'' if prev.is_some_and(char::is_alphanumeric) => '’',
            '\'' if opens_after(prev) => '‘',
            '\'' => '’',
            c => c,
        };
        out.push(mapped);
        prev = Some(mapped);
    }
    out
}

/// Typographic quotes, apostrophes and primes made ASCII.
pub fn straight_quotes(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '‘' | '’' | '‚' | '‛' | '′' => '\'',
            '“' | '”' | '„' | '‟' | '″' => '"',
            c => c,
        })
        .collect()
}

/// `--`/`---` and a spaced hyphen become an em dash; a hyphen between digits an en dash.
pub fn dashes(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '-' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&c| c == '-').count();
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + run).copied();
        match run {
            // Longer runs are rules drawn with hyphens, not dashes.
            2 | 3 => out.push('—'),
            1 if prev == Some(' ') && next == Some(' ') => out.push('—'),
            1 if prev.is_some_and(|c| c.is_ascii_digit()) && next.is_some_and(|c| c.is_ascii_digit()) => out.push('–'),
            _ => out.extend(std::iter::repeat_n('-', run)),
        }
        i += run;
    }
    out
}

/// Rewrites each maximal run of white space that holds a line break: `f(breaks, at_edge, run)` gives its
/// replacement, where `breaks` counts line breaks (CR LF is one) and `at_edge` says the run starts or ends
/// the text.
fn map_break_runs(text: &str, f: impl Fn(usize, bool, &str) -> String) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    let mut at_start = true;
    while let Some(start) = rest.find(char::is_whitespace) {
        let (before, tail) = rest.split_at(start);
        let len = tail.find(|c: char| !c.is_whitespace()).unwrap_or(tail.len());
        let (run, after) = tail.split_at(len);
        out.push_str(before);
        let breaks = run.matches('\n').count() + run.matches('\r').count() - run.matches("\r\n").count();
        if breaks == 0 {
            out.push_str(run);
        } else {
            out.push_str(&f(breaks, (at_start && before.is_empty()) || after.is_empty(), run));
        }
        at_start = false;
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Every run of line breaks becomes one space (dropped at the text's edges).
pub fn one_line(text: &str) -> String {
    map_break_runs(text, |_, edge, _| if edge { String::new() } else { " ".into() })
}

/// Blank lines between paragraphs become single line breaks.
pub fn line_per_paragraph(text: &str) -> String {
    map_break_runs(text, |breaks, edge, run| if breaks >= 2 && !edge { "\n".into() } else { run.into() })
}

/// Every line break becomes a blank line, so each line stands as its own paragraph.
pub fn blank_line_paragraphs(text: &str) -> String {
    map_break_runs(text, |_, edge, run| if edge { run.into() } else { "\n\n".into() })
}

/// Line breaks become CR LF.
pub fn crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 32);
    let mut prev = '\0';
    for c in text.chars() {
        if c == '\n' && prev != '\r' {
            out.push('\r');
        }
        out.push(c);
        prev = c;
    }
    out
}

/// The space after a sentence end, and between a number and a following word, becomes a no-break space.
pub fn nbsp(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 16);
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let sentence_end =
            prev.is_some_and(|p| matches!(p, '.' | '!' | '?')) && next.is_some_and(|n| !n.is_whitespace());
        let number_unit = prev.is_some_and(|p| p.is_ascii_digit()) && next.is_some_and(char::is_alphabetic);
        out.push(if c == ' ' && (sentence_end || number_unit) { '\u{a0}' } else { c });
    }
    out
}

/// Every line ends in spaces or tabs (a cycle of four endings).
pub fn trailing_spaces(text: &str) -> String {
    const ENDINGS: [&str; 4] = [" ", "  ", "\t", " \t"];
    let mut out = String::with_capacity(text.len() + text.len() / 16 + 2);
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_end_matches(['\n', '\r']);
        out.push_str(body);
        out.push_str(ENDINGS[i % ENDINGS.len()]);
        out.push_str(&line[body.len()..]);
    }
    out
}

/// Characters an HTML page escapes, left as entities (a page's text taken without decoding them).
pub fn html_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '‘' => out.push_str("&lsquo;"),
            '’' => out.push_str("&rsquo;"),
            '“' => out.push_str("&ldquo;"),
            '”' => out.push_str("&rdquo;"),
            '—' => out.push_str("&mdash;"),
            '–' => out.push_str("&ndash;"),
            '\u{a0}' => out.push_str("&nbsp;"),
            '…' => out.push_str("&hellip;"),
            c => out.push(c),
        }
    }
    out
}

/// Every non-blank line after the first becomes a "• " item (after its indentation).
pub fn bullets(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let body = line.trim_start();
        if i > 0 && !body.trim_end().is_empty() {
            out.push_str(&line[..line.len() - body.len()]);
            out.push_str("• ");
            out.push_str(body);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// A share button's label as the first line.
pub fn boilerplate_prepend(text: &str) -> String {
    format!("Share this article\n{text}")
}

/// A blog engine's byline as the last line (before any trailing white space).
pub fn boilerplate_append(text: &str) -> String {
    let body = text.trim_end();
    format!("{body}\nPosted by admin{}", &text[body.len()..])
}

/// The line starts with a list marker (`-`, `*`, `+`, `•`, or a number with `.` or `)`), then a space.
fn list_marker_len(line: &str) -> Option<usize> {
    let mut chars = line.char_indices();
    let (_, first) = chars.next()?;
    let after = match first {
        '-' | '*' | '+' | '•' => first.len_utf8(),
        d if d.is_ascii_digit() => {
            let digits = line.bytes().take_while(u8::is_ascii_digit).count();
            match line.as_bytes().get(digits) {
                Some(b'.' | b')') => digits + 1,
                _ => return None,
            }
        }
        _ => return None,
    };
    line[after..].starts_with(' ').then_some(after + 1)
}

/// Raw Markdown as a chat model emits it: the first line a `## ` heading, the longest word of the first
/// sentence in bold, every later non-blank line a `- ` list item (unless it already is a list item).
pub fn markdown_raw(text: &str) -> String {
    let first_end = text.find('\n').unwrap_or(text.len());
    let first = text[..first_end].trim_end_matches('\r');
    let first = first.trim_start();
    let sentence_end = first
        .char_indices()
        .find(|&(i, c)| matches!(c, '.' | '!' | '?') && first[i + 1..].chars().next().is_none_or(char::is_whitespace))
        .map_or(first.len(), |(i, _)| i);
    let mut longest: Option<(usize, usize, usize)> = None;
    let mut start = None;
    for (i, c) in first[..sentence_end].char_indices().chain(std::iter::once((sentence_end, ' '))) {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let len = first[s..i].chars().count();
                if longest.is_none_or(|(_, _, best)| len > best) {
                    longest = Some((s, i, len));
                }
                start = None;
            }
            _ => {}
        }
    }
    let mut out = String::with_capacity(text.len() + 64);
    out.push_str("## ");
    match longest {
        Some((s, e, _)) => {
            out.push_str(&first[..s]);
            out.push_str("**");
            out.push_str(&first[s..e]);
            out.push_str("**");
            out.push_str(&first[e..]);
        }
        None => out.push_str(first),
    }
    let first_line_rest = text[..first_end].trim_end_matches('\r');
    out.push_str(&text[first_line_rest.len()..first_end]);
    for line in text[first_end..].split_inclusive('\n') {
        let body = line.trim_start();
        if !body.trim_end().is_empty() && list_marker_len(body).is_none() {
            out.push_str(&line[..line.len() - body.len()]);
            out.push_str("- ");
            out.push_str(body);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The text contains Markdown syntax a renderer would act on: an ATX heading, a code fence or inline code,
/// a `**`/`__` pair or a `[text](url)` link.
pub fn has_markdown(text: &str) -> bool {
    let heading = text.lines().any(|l| {
        let l = l.trim_start();
        let hashes = l.bytes().take_while(|&b| b == b'#').count();
        (1..=6).contains(&hashes) && l[hashes..].starts_with(' ')
    });
    heading
        || text.contains("```")
        || text.matches("**").count() >= 2
        || text.matches("__").count() >= 2
        || text.contains("](")
        || text.matches('`').count() >= 2
}

/// Markdown syntax removed as a browser shows the rendered page (headings, emphasis, list markers, code
/// fences and backticks, block quotes, rules, links and images); a text without Markdown is returned as is.
pub fn markdown_rendered(text: &str) -> String {
    if !has_markdown(text) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let ending = &line[line.trim_end_matches(['\n', '\r']).len()..];
        let body = line[..line.len() - ending.len()].trim_start();
        if body.starts_with("```") || body.starts_with("~~~") {
            continue;
        }
        let mut marks = body.chars().filter(|c| !c.is_whitespace());
        let rule = marks.next().filter(|c| matches!(c, '-' | '*' | '_'));
        if rule.is_some_and(|r| marks.clone().count() >= 2 && marks.all(|c| c == r)) {
            out.push_str(ending);
            continue;
        }
        let mut body = body;
        let hashes = body.bytes().take_while(|&b| b == b'#').count();
        if (1..=6).contains(&hashes) && body[hashes..].starts_with(' ') {
            body = body[hashes..].trim_start();
        }
        while let Some(rest) = body.strip_prefix('>') {
            body = rest.trim_start();
        }
        if let Some(n) = list_marker_len(body) {
            body = body[n..].trim_start();
        }
        out.push_str(&render_inline(body));
        out.push_str(ending);
    }
    out
}

/// Inline Markdown rendered: links and images to their text, emphasis markers and backticks dropped.
fn render_inline(line: &str) -> String {
    let links = render_links(line);
    let no_strong = links.replace("**", "").replace("__", "").replace('`', "");
    let chars: Vec<char> = no_strong.chars().collect();
    let mut out = String::with_capacity(no_strong.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '*' {
            let prev = i.checked_sub(1).map(|j| chars[j]);
            let next = chars.get(i + 1).copied();
            let opens = next.is_some_and(|n| !n.is_whitespace()) && !prev.is_some_and(char::is_alphanumeric);
            let closes = prev.is_some_and(|p| !p.is_whitespace()) && !next.is_some_and(char::is_alphanumeric);
            if opens || closes {
                continue;
            }
        }
        out.push(c);
    }
    out
}

/// `[text](url)` and `![alt](url)` become their text.
fn render_links(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|c| open + c) else { break };
        let Some(end) = rest[close + 2..].find(')').map(|e| close + 2 + e) else { break };
        if rest[open + 1..close].contains('[') {
            out.push_str(&rest[..open + 1]);
            rest = &rest[open + 1..];
            continue;
        }
        let before = &rest[..open];
        out.push_str(before.strip_suffix('!').unwrap_or(before));
        out.push_str(&rest[open + 1..close]);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A score column whose shifts are measured, and where its verdict comes from.
#[derive(Clone, Debug, Serialize)]
pub struct Watched {
    pub column: String,
    /// The rule that fires when the column says "machine" (`ensemble.machine` for `p_machine`,
    /// `<model>.machine` for `<model>_p_machine`): verdicts are the scorer's own decisions.
    pub rule: String,
    /// The threshold that rule applies, where known (the policy's, or `[ensemble] threshold`, for `p_machine`).
    pub threshold: Option<f64>,
}

/// The columns worth watching: `p_machine` (when the ensemble is on) and every model's own `<model>_p_machine`.
/// The policy threshold is found as `bench` finds it: `[ensemble] threshold`, else the deciding stage's.
pub fn watched_columns(scorer: &Scorer, config: &Config) -> Vec<Watched> {
    let rule_of = |column: &str| -> Option<String> {
        let code = if column == P_MACHINE {
            "ensemble.machine".to_string()
        } else {
            format!("{}.machine", column.strip_suffix("_p_machine")?)
        };
        scorer.rules().iter().any(|r| r.code == code).then_some(code)
    };
    let policy_threshold = scorer.ensemble().map(|e| {
        let p = e.policy();
        config.ensemble.threshold.unwrap_or(p.full.as_ref().unwrap_or(&p.cheap).threshold)
    });
    scorer
        .columns()
        .iter()
        .filter_map(|c| {
            let rule = rule_of(c)?;
            let threshold = if c == P_MACHINE { policy_threshold } else { None };
            Some(Watched { column: c.clone(), rule, threshold })
        })
        .collect()
}

/// The document whose score moved most under a transformation.
#[derive(Clone, Debug, Serialize)]
pub struct Worst {
    /// Index into the texts given to [`run`].
    pub index: usize,
    /// Transformed minus original score.
    pub delta: f64,
    pub before: f64,
    pub after: f64,
    /// The original text's first 200 characters.
    pub preview: String,
}

/// How one column moved under one transformation, over the documents it changed (an unchanged text scores
/// the same, so counting it would only dilute the figures).
#[derive(Clone, Debug, Serialize)]
pub struct Shift {
    pub column: String,
    pub max_abs_delta: f64,
    /// Nearest-rank 99th percentile of |Δ|.
    pub p99_abs_delta: f64,
    pub mean_abs_delta: f64,
    /// Verdicts that changed (the watched rule fired on one version only).
    pub flips: usize,
    pub flips_to_machine: usize,
    pub flips_to_human: usize,
    /// Documents scored on one version and not the other (NaN on one side): no Δ to take, a failure in itself.
    pub unscored: usize,
    pub worst: Option<Worst>,
}

/// One transformation's results.
#[derive(Clone, Debug, Serialize)]
pub struct TransformationResult {
    pub name: String,
    pub description: String,
    pub documents: usize,
    /// Documents the transformation changed (the others are not rescored).
    pub changed: usize,
    pub shifts: Vec<Shift>,
}

impl TransformationResult {
    pub fn shift(&self, column: &str) -> Option<&Shift> {
        self.shifts.iter().find(|s| s.column == column)
    }
}

/// Everything [`run`] measured.
#[derive(Clone, Debug, Serialize)]
pub struct InvarianceReport {
    pub documents: usize,
    pub watched: Vec<Watched>,
    pub transformations: Vec<TransformationResult>,
}

impl InvarianceReport {
    /// One table per watched column: transformation | docs changed | max |Δ| | p99 |Δ| | mean |Δ| | flips.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        for w in &self.watched {
            let at = w.threshold.map(|t| format!(", verdicts at {t:.4}")).unwrap_or_default();
            s.push_str(&format!(
                "### {} ({} documents{at}; verdict = rule {})\n\n\
                 | transformation | docs changed | max \\|Δ\\| | p99 \\|Δ\\| | mean \\|Δ\\| | flips (→machine / →human) |\n\
                 |---|---:|---:|---:|---:|---:|\n",
                w.column, self.documents, w.rule
            ));
            for t in &self.transformations {
                let Some(x) = t.shift(&w.column) else { continue };
                let unscored = if x.unscored > 0 { format!(", {} unscored", x.unscored) } else { String::new() };
                s.push_str(&format!(
                    "| {} | {} | {:.4} | {:.4} | {:.4} | {} ({} / {}){unscored} |\n",
                    t.name,
                    t.changed,
                    x.max_abs_delta,
                    x.p99_abs_delta,
                    x.mean_abs_delta,
                    x.flips,
                    x.flips_to_machine,
                    x.flips_to_human
                ));
            }
            s.push('\n');
        }
        s
    }
}

/// Texts per call to the scorer, so that memory stays bounded on large samples.
const CHUNK: usize = 512;

/// Scores of the watched columns and their verdicts, per document.
struct Scored {
    values: Vec<Vec<f32>>,
    machine: Vec<Vec<bool>>,
}

fn score_all(scorer: &Scorer, texts: &[&str], watched: &[(usize, usize)]) -> Result<Scored> {
    let mut out = Scored { values: vec![Vec::new(); watched.len()], machine: vec![Vec::new(); watched.len()] };
    for chunk in texts.chunks(CHUNK) {
        let table = scorer.score(chunk)?;
        for (k, &(col, rule)) in watched.iter().enumerate() {
            out.values[k].extend_from_slice(&table.columns[col]);
            out.machine[k].extend(table.fired.iter().map(|m| m & ((1 as RuleMask) << rule) != 0));
        }
    }
    Ok(out)
}

fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Score `texts` and every transformed version of them, and measure how each watched column moved.
///
/// Watched columns the scorer does not write are left out. Verdicts are the scorer's decisions (the watched
/// rule's bit), so a cascade policy's band is honoured.
pub fn run(
    scorer: &Scorer,
    texts: &[&str],
    transformations: &[Transformation],
    watched: &[Watched],
) -> Result<InvarianceReport> {
    let watched: Vec<Watched> = watched.iter().filter(|w| scorer.columns().contains(&w.column)).cloned().collect();
    let index: Vec<(usize, usize)> = watched
        .iter()
        .map(|w| {
            let col = scorer.columns().iter().position(|c| *c == w.column).expect("filtered above");
            let rule = scorer.rules().iter().position(|r| r.code == w.rule).unwrap_or(usize::MAX);
            (col, rule)
        })
        .collect();
    if let Some(w) = watched.iter().zip(&index).find(|(_, &(_, r))| r >= RuleMask::BITS as usize).map(|(w, _)| w) {
        return Err(crate::Error::Config(format!("the scorer has no rule {} for column {}", w.rule, w.column)));
    }
    let base = score_all(scorer, texts, &index)?;
    let mut results = Vec::with_capacity(transformations.len());
    for t in transformations {
        let transformed: Vec<(usize, String)> = texts
            .par_iter()
            .enumerate()
            .filter_map(|(i, &text)| {
                let new = (t.apply)(text);
                (new != text).then_some((i, new))
            })
            .collect();
        let refs: Vec<&str> = transformed.iter().map(|(_, s)| s.as_str()).collect();
        let after = score_all(scorer, &refs, &index)?;
        let shifts = watched
            .iter()
            .enumerate()
            .map(|(k, w)| {
                let mut deltas = Vec::with_capacity(transformed.len());
                let (mut to_machine, mut to_human, mut unscored) = (0, 0, 0);
                let mut worst: Option<Worst> = None;
                for (j, &(i, _)) in transformed.iter().enumerate() {
                    let (b, a) = (base.values[k][i] as f64, after.values[k][j] as f64);
                    match (base.machine[k][i], after.machine[k][j]) {
                        (false, true) => to_machine += 1,
                        (true, false) => to_human += 1,
                        _ => {}
                    }
                    if b.is_nan() || a.is_nan() {
                        unscored += usize::from(b.is_nan() != a.is_nan());
                        continue;
                    }
                    let d = a - b;
                    if worst.as_ref().is_none_or(|x| d.abs() > x.delta.abs()) {
                        worst = Some(Worst { index: i, delta: d, before: b, after: a, preview: String::new() });
                    }
                    deltas.push(d.abs());
                }
                deltas.sort_by(f64::total_cmp);
                if let Some(w) = worst.as_mut() {
                    w.preview = texts[w.index].chars().take(200).collect();
                }
                Shift {
                    column: w.column.clone(),
                    max_abs_delta: deltas.last().copied().unwrap_or(0.0),
                    p99_abs_delta: nearest_rank(&deltas, 0.99),
                    mean_abs_delta: if deltas.is_empty() {
                        0.0
                    } else {
                        deltas.iter().sum::<f64>() / deltas.len() as f64
                    },
                    flips: to_machine + to_human,
                    flips_to_machine: to_machine,
                    flips_to_human: to_human,
                    unscored,
                    worst,
                }
            })
            .collect();
        results.push(TransformationResult {
            name: t.name.to_string(),
            description: t.description.to_string(),
            documents: texts.len(),
            changed: transformed.len(),
            shifts,
        });
    }
    Ok(InvarianceReport { documents: texts.len(), watched, transformations: results })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_found() {
        let mut names: Vec<&str> = TRANSFORMATIONS.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TRANSFORMATIONS.len());
        assert_eq!(transformation("crlf").map(|t| (t.apply)("a\nb")), Some("a\r\nb".to_string()));
        assert!(transformation("nope").is_none());
    }

    #[test]
    fn curly_quotes_open_after_space_and_brackets_and_close_otherwise() {
        assert_eq!(
            curly_quotes(r#""Hi," she said. (It's 'fine'.) Dogs' bowls"#),
            "“Hi,” she said. (It’s ‘fine’.) Dogs’ bowls"
        );
        assert_eq!(curly_quotes("'quoted \"inner\"'"), "‘quoted “inner”’");
        assert_eq!(curly_quotes("[\"a\"]"), "[“a”]");
    }

    #[test]
    fn straight_quotes_undo_typography() {
        assert_eq!(
            straight_quotes("“Hi,” she said. It’s ‘fine’ — 5′ 3″ „x‟"),
            "\"Hi,\" she said. It's 'fine' — 5' 3\" \"x\""
        );
        assert_eq!(straight_quotes(&curly_quotes("It's \"x\"")), "It's \"x\"");
    }

    #[test]
    fn dashes_em_for_spaced_and_doubled_en_between_digits() {
        assert_eq!(dashes("Yes - no -- maybe---so"), "Yes — no — maybe—so");
        assert_eq!(dashes("pages 10-12, well-known, -5, 2004-05"), "pages 10–12, well-known, -5, 2004–05");
        assert_eq!(dashes("a ---- rule"), "a ---- rule");
    }

    #[test]
    fn line_break_transformations() {
        let t = "Title\n\nFirst line\nsecond line.\r\n\r\n  Next para.\n";
        assert_eq!(one_line(t), "Title First line second line. Next para.");
        assert_eq!(line_per_paragraph(t), "Title\nFirst line\nsecond line.\nNext para.\n");
        assert_eq!(blank_line_paragraphs(t), "Title\n\nFirst line\n\nsecond line.\n\nNext para.\n");
        assert_eq!(one_line("\n a b\n"), "a b");
        assert_eq!(line_per_paragraph("no breaks here"), "no breaks here");
    }

    #[test]
    fn crlf_leaves_existing_crlf_alone() {
        assert_eq!(crlf("a\nb\r\nc\n"), "a\r\nb\r\nc\r\n");
    }

    #[test]
    fn nbsp_after_sentence_ends_and_in_number_unit_pairs() {
        assert_eq!(
            nbsp("It weighs 5 kg. Really? Yes.  Two 3 4"),
            "It weighs 5\u{a0}kg.\u{a0}Really?\u{a0}Yes.  Two 3 4"
        );
    }

    #[test]
    fn trailing_spaces_on_every_line() {
        assert_eq!(trailing_spaces("a\nb\r\n\nc"), "a \nb  \r\n\t\nc \t");
        assert_eq!(trailing_spaces("a\n"), "a \n");
    }

    #[test]
    fn html_entities_escape_markup_and_typography() {
        assert_eq!(
            html_entities("Tom & Jerry's \"show\" <b> it’s 5\u{a0}km — “ok” – ‘x’…"),
            "Tom &amp; Jerry&#39;s &quot;show&quot; &lt;b&gt; it&rsquo;s 5&nbsp;km &mdash; &ldquo;ok&rdquo; &ndash; \
             &lsquo;x&rsquo;&hellip;"
        );
    }

    #[test]
    fn bullets_prefix_later_non_blank_lines() {
        assert_eq!(bullets("Intro\nfirst\n\n  second\n"), "Intro\n• first\n\n  • second\n");
        assert_eq!(bullets("one paragraph only"), "one paragraph only");
    }

    #[test]
    fn boilerplate_lines() {
        assert_eq!(boilerplate_prepend("Body."), "Share this article\nBody.");
        assert_eq!(boilerplate_append("Body.\n\n"), "Body.\nPosted by admin\n\n");
        assert_eq!(boilerplate_append("Body."), "Body.\nPosted by admin");
    }

    #[test]
    fn markdown_raw_heading_bold_and_list_items() {
        assert_eq!(
            markdown_raw("The quick brown fox jumps. Then naps.\nIt was tired.\n\n- already a list\n2. numbered\n"),
            "## The **quick** brown fox jumps. Then naps.\n- It was tired.\n\n- already a list\n2. numbered\n"
        );
        assert_eq!(markdown_raw("Short title\r\nBody text."), "## **Short** title\r\n- Body text.");
        // Only the first sentence's words compete; ties go to the first.
        assert_eq!(markdown_raw("Cats nap. Elephants roam."), "## **Cats** nap. Elephants roam.");
    }

    #[test]
    fn markdown_rendered_strips_syntax_and_leaves_plain_text_alone() {
        let md = "## Title\n\nSome **bold** and *em* text with `code` and [a link](https://x.org).\n\n\
                  - item one\n* item two\n1. first\n> quoted\n---\n```rust\nlet x = 2 * 3;\n```\n![alt](i.png) end";
        assert_eq!(
            markdown_rendered(md),
            "Title\n\nSome bold and em text with code and a link.\n\nitem one\nitem two\nfirst\nquoted\n\n\
             let x = 2 * 3;\nalt end"
        );
        let plain = "- a dash line\n5 * 3 = 15 and a_b_c, #hashtag";
        assert!(!has_markdown(plain));
        assert_eq!(markdown_rendered(plain), plain);
        assert_eq!(markdown_rendered(&markdown_raw("A title\nSome body.")), "A title\nSome body.");
    }

    #[test]
    fn nearest_rank_percentile() {
        let v: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 0.99), 198.0);
        assert_eq!(nearest_rank(&[3.0], 0.99), 3.0);
        assert_eq!(nearest_rank(&[], 0.99), 0.0);
    }

    /// The runner on a scorer without models or ensemble, watching the word count through the rule that fires
    /// below a minimum: deltas and flips are counted where the text changed, unchanged texts are not rescored.
    #[test]
    fn runner_measures_shifts_and_flips() {
        let mut config = Config::default();
        config.signals.classifiers.clear();
        config.ensemble.enabled = Some(false);
        config.signals.gopher_quality.min_words = 5;
        // As `bench` builds it: every signal scores every document (early exit would skip gopher_quality on the
        // texts fineweb rejects first).
        let scorer = config.scorer().unwrap().scoring_all();
        assert!(watched_columns(&scorer, &config).is_empty(), "no ensemble, no model: nothing to watch");
        let column = "gopher_quality_word_count".to_string();
        let watched =
            [Watched { column: column.clone(), rule: "gopher_quality.too_few_words".into(), threshold: None }];
        let texts = ["one two three", "alpha beta\ngamma delta epsilon zeta", "no line breaks"];
        let appended = [*transformation("boilerplate_append").unwrap()];
        let report = run(&scorer, &texts, &appended, &watched).unwrap();
        let t = &report.transformations[0];
        assert_eq!((t.documents, t.changed), (3, 3));
        let s = t.shift(&column).unwrap();
        // "Posted by admin" adds three words to every text.
        assert_eq!((s.max_abs_delta, s.p99_abs_delta, s.mean_abs_delta), (3.0, 3.0, 3.0));
        assert_eq!((s.flips, s.flips_to_human, s.unscored), (2, 2, 0));
        let one = [*transformation("one_line").unwrap()];
        let report = run(&scorer, &texts, &one, &watched).unwrap();
        let t = &report.transformations[0];
        assert_eq!(t.changed, 1);
        let s = t.shift(&column).unwrap();
        assert_eq!((s.max_abs_delta, s.flips), (0.0, 0));
        assert_eq!(s.worst.as_ref().map(|w| w.index), Some(1));
        assert!(report.to_markdown().contains("| one_line | 1 | 0.0000 |"), "{}", report.to_markdown());
    }
}
