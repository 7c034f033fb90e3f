//! HTML to text, for WARC `response` records (cargo feature `html`).
//!
//! The HTML → text step uses **`html5ever`** (the Servo project's spec-compliant HTML5 parser,
//! actively maintained) through its *tokenizer only*: no DOM is built, text is streamed out of
//! a small token sink in this file. That is the lightest maintained option that still gets the
//! hard parts right (character references, `<script>`/`<style>` raw-text states, malformed
//! markup): `html2text` and `scraper` both sit on top of html5ever and add a DOM, a renderer
//! or CSS selectors we do not need, and `html2text` wraps lines to a width. The sink drops
//! non-content (`script`, `style`, `noscript`, `template`, `svg`, `head`, forms controls, ...)
//! and the usual boilerplate containers (`nav`, `aside`, and `header`/`footer` outside an
//! `<article>`/`<main>`, plus anything `hidden`, `aria-hidden="true"` or with an ARIA role of
//! navigation/banner/contentinfo). If that leaves nothing (e.g. an unclosed `<nav>` swallowed
//! the page), the page is re-extracted keeping the boilerplate.

use std::cell::RefCell;

/// The text of an HTML payload: its charset (the Content-Type parameter, else a `<meta>` in its first 2 KiB)
/// decoded, then the page's readable text extracted.
pub fn payload_to_text(payload: &[u8], content_type: &str) -> String {
    let charset = charset_param(content_type).or_else(|| sniff_meta_charset(payload));
    html_to_text(&decode_charset(payload, charset.as_deref()))
}

fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("charset"))
            .then(|| v.trim().trim_matches(|c| c == '"' || c == '\'').to_ascii_lowercase())
    })
}

/// Looks for `<meta charset=...>` or `<meta http-equiv=... content="...charset=...">` in the
/// first 2 KiB.
fn sniff_meta_charset(payload: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&payload[..payload.len().min(2048)]).to_ascii_lowercase();
    let at = head.find("charset=")?;
    let rest = &head[at + "charset=".len()..];
    let rest = rest.trim_start_matches(['"', '\'', ' ']);
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')).unwrap_or(rest.len());
    let cs = &rest[..end];
    (!cs.is_empty()).then(|| cs.to_string())
}

/// UTF-8 (lossy) unless a single-byte Latin charset is declared.
fn decode_charset(bytes: &[u8], charset: Option<&str>) -> String {
    match charset {
        Some("iso-8859-1" | "latin1" | "latin-1" | "l1" | "iso8859-1" | "iso_8859-1" | "us-ascii" | "ascii") => {
            // Per the WHATWG encoding standard these labels all mean windows-1252.
            decode_windows_1252(bytes)
        }
        Some("windows-1252" | "cp1252" | "x-cp1252") => decode_windows_1252(bytes),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// windows-1252 (the superset of ISO-8859-1 that browsers use for "latin-1").
fn decode_windows_1252(bytes: &[u8]) -> String {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}', '\u{02C6}',
        '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{8D}', '\u{017D}', '\u{8F}', '\u{90}', '\u{2018}',
        '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}',
        '\u{203A}', '\u{0153}', '\u{9D}', '\u{017E}', '\u{0178}',
    ];
    bytes.iter().map(|&b| if (0x80..0xA0).contains(&b) { HIGH[(b - 0x80) as usize] } else { b as char }).collect()
}
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{BufferQueue, Tag, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts};
use html5ever::TokenizerResult;

/// Elements whose content is never text.
const DROP_ALWAYS: &[&str] = &[
    "script", "style", "noscript", "template", "svg", "math", "head", "iframe", "object", "embed", "canvas", "select",
    "datalist", "button", "textarea", "audio", "video", "map", "noembed", "noframes",
];
/// Boilerplate containers (dropped when `drop_boilerplate`).
const DROP_BOILERPLATE: &[&str] = &["nav", "aside", "menu", "dialog"];
/// Dropped only outside `<article>`/`<main>`.
const DROP_OUTSIDE_ARTICLE: &[&str] = &["header", "footer"];
/// Elements that start/end a paragraph (blank line around them).
const PARAGRAPH: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "table",
    "ul",
    "ol",
    "dl",
    "section",
    "article",
    "main",
    "figure",
    "address",
    "details",
    "fieldset",
    "hr",
];
/// Elements that start/end a line.
const LINE: &[&str] = &[
    "div",
    "li",
    "tr",
    "dt",
    "dd",
    "figcaption",
    "caption",
    "summary",
    "legend",
    "form",
    "label",
    "option",
    "body",
    "center",
    "header",
    "footer",
    "title",
];
/// Void elements: never have an end tag, so never open a dropped region.
const VOID: &[&str] =
    &["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"];

#[derive(Default)]
struct TextState {
    out: String,
    /// Dropped region: the element name and its nesting depth.
    skip: Option<(String, usize)>,
    /// Depth of `<pre>` (whitespace kept verbatim).
    pre: usize,
    /// Depth of `<article>`/`<main>`.
    article: usize,
    /// A space is owed before the next word.
    space: bool,
    /// Characters that would have been output inside dropped boilerplate.
    dropped_chars: usize,
}

impl TextState {
    fn newline(&mut self, n: usize) {
        self.space = false;
        let trailing = self.out.len() - self.out.trim_end_matches('\n').len();
        if self.out.is_empty() {
            return;
        }
        for _ in trailing..n {
            self.out.push('\n');
        }
    }

    fn text(&mut self, s: &str) {
        if self.pre > 0 {
            self.out.push_str(s);
            self.space = false;
            return;
        }
        for (i, word) in s.split(|c: char| c.is_whitespace()).enumerate() {
            if i > 0 {
                self.space = true;
            }
            if word.is_empty() {
                continue;
            }
            if self.space && !self.out.is_empty() && !self.out.ends_with(['\n', ' ', '\t']) {
                self.out.push(' ');
            }
            self.space = false;
            self.out.push_str(word);
        }
    }
}

struct TextSink {
    state: RefCell<TextState>,
    drop_boilerplate: bool,
}

fn attr<'a>(tag: &'a Tag, name: &str) -> Option<&'a str> {
    tag.attrs.iter().find(|a| &*a.name.local == name).map(|a| &*a.value)
}

impl TextSink {
    fn should_drop(&self, st: &TextState, tag: &Tag, name: &str) -> bool {
        if DROP_ALWAYS.contains(&name) {
            return true;
        }
        if !self.drop_boilerplate || VOID.contains(&name) {
            return false;
        }
        if DROP_BOILERPLATE.contains(&name) || (st.article == 0 && DROP_OUTSIDE_ARTICLE.contains(&name)) {
            return true;
        }
        if attr(tag, "hidden").is_some() || attr(tag, "aria-hidden").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return true;
        }
        matches!(
            attr(tag, "role").map(|r| r.to_ascii_lowercase()).as_deref(),
            Some("navigation" | "banner" | "contentinfo")
        )
    }
}

fn raw_kind(name: &str) -> Option<TokenSinkResult<()>> {
    Some(match name {
        "script" => TokenSinkResult::RawData(RawKind::ScriptData),
        "style" | "xmp" | "iframe" | "noembed" | "noframes" | "noscript" => TokenSinkResult::RawData(RawKind::Rawtext),
        "title" | "textarea" => TokenSinkResult::RawData(RawKind::Rcdata),
        "plaintext" => TokenSinkResult::Plaintext,
        _ => return None,
    })
}

impl TokenSink for TextSink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut st = self.state.borrow_mut();
        match token {
            Token::TagToken(tag) => {
                let name: &str = &tag.name;
                let start = tag.kind == TagKind::StartTag;
                // Raw-text elements must switch the tokenizer's state whatever we do with them.
                let raw = if start && !tag.self_closing { raw_kind(name) } else { None };

                if let Some((skip_name, depth)) = st.skip.as_mut() {
                    if skip_name == name && !tag.self_closing {
                        if start {
                            *depth += 1;
                        } else {
                            *depth -= 1;
                            if *depth == 0 {
                                st.skip = None;
                            }
                        }
                    }
                    return raw.unwrap_or(TokenSinkResult::Continue);
                }
                if start {
                    if self.should_drop(&st, &tag, name) {
                        if !tag.self_closing && !VOID.contains(&name) {
                            st.skip = Some((name.to_string(), 1));
                        }
                        return raw.unwrap_or(TokenSinkResult::Continue);
                    }
                    match name {
                        "br" => st.newline(1),
                        "pre" => {
                            st.newline(2);
                            st.pre += 1
                        }
                        "article" | "main" => {
                            st.newline(2);
                            st.article += 1
                        }
                        "td" | "th" => {
                            if !st.out.ends_with('\n') && !st.out.is_empty() {
                                st.out.push('\t');
                            }
                            st.space = false;
                        }
                        "img" => {
                            if let Some(alt) = attr(&tag, "alt") {
                                let alt = alt.trim().to_string();
                                if !alt.is_empty() {
                                    st.space = true;
                                    st.text(&alt);
                                    st.space = true;
                                }
                            }
                        }
                        _ if PARAGRAPH.contains(&name) => st.newline(2),
                        _ if LINE.contains(&name) => st.newline(1),
                        _ => {}
                    }
                } else {
                    match name {
                        "pre" => {
                            st.pre = st.pre.saturating_sub(1);
                            st.newline(2)
                        }
                        "article" | "main" => {
                            st.article = st.article.saturating_sub(1);
                            st.newline(2)
                        }
                        _ if PARAGRAPH.contains(&name) => st.newline(2),
                        _ if LINE.contains(&name) => st.newline(1),
                        _ => {}
                    }
                }
                raw.unwrap_or(TokenSinkResult::Continue)
            }
            Token::CharacterTokens(s) => {
                if st.skip.is_some() {
                    st.dropped_chars += s.len();
                } else {
                    st.text(&s);
                }
                TokenSinkResult::Continue
            }
            _ => TokenSinkResult::Continue,
        }
    }
}

fn extract(html: &str, drop_boilerplate: bool) -> (String, usize) {
    let sink = TextSink { state: RefCell::new(TextState::default()), drop_boilerplate };
    let tok = Tokenizer::new(sink, TokenizerOpts::default());
    let queue = BufferQueue::default();
    queue.push_back(html.into());
    // The sink never returns `Script`, so `feed` runs to the end of the input.
    while let TokenizerResult::Script(()) = tok.feed(&queue) {}
    tok.end();
    let st = tok.sink.state.into_inner();
    (tidy(&st.out), st.dropped_chars)
}

/// Trims lines, keeps at most one blank line between paragraphs.
fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut blank = 0usize;
    for line in s.lines() {
        // Leading whitespace only survives from <pre> blocks (the sink never starts a line with it).
        let line = line.trim_end();
        if line.is_empty() {
            blank += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank > 0 { "\n\n" } else { "\n" });
        }
        blank = 0;
        out.push_str(line);
    }
    out
}

/// Extracts readable text from an HTML document (see the module docs for what is dropped).
pub fn html_to_text(html: &str) -> String {
    let (text, dropped) = extract(html, true);
    if text.trim().is_empty() && dropped > 0 {
        return extract(html, false).0;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_extraction() {
        let t = html_to_text("<html><head><style>p{color:red}</style></head><body><header>Site</header><article><header><h1>Title</h1></header><p>One  two\n three.</p><ul><li>a</li><li>b</li></ul></article><footer>(c) 2024</footer><div hidden>secret</div><table><tr><td>x</td><td>y</td></tr></table></body></html>");
        assert_eq!(t, "Title\n\nOne two three.\n\na\nb\n\nx\ty");
        // Unclosed <nav> swallowing the page falls back to keeping boilerplate.
        let t = html_to_text("<nav><p>Only text</p>");
        assert_eq!(t, "Only text");
        // Pre keeps whitespace; entities decoded; img alt kept.
        let t = html_to_text("<pre>a  b\n  c</pre><p>x &lt; y <img alt=\"pic\"> z</p>");
        assert_eq!(t, "a  b\n  c\n\nx < y pic z");
        assert_eq!(html_to_text(""), "");
        assert_eq!(html_to_text("<script>alert(1)</script>"), "");
    }
}
