"""Sources, splits and generator families for training and judging the detectors on authorship.

A detector scored on a random split of its training sources learns those sources' publishing pipelines and
looks better than it is. So the unit here is the *source*: every human and machine source is either a
training source or a test source, whole, and each machine text belongs to a generator family that the
leave-one-family-out runs remove from training entirely.

Roles (`split`):
* `train`: fit the models and the ensemble (the ensemble on out-of-fold scores, folds by source).
* `dev`: `detect/dev.jsonl` and a by-prompt part of the training modern-chat sources: in-distribution.
* `test`: sources never used for fitting, thresholds or choices: real saved web pages (main content and
  WET form), BBC news, e-mail, Guardian columns, Stack Exchange answers, FCE and MICUSP essays (learner and
  native writers), and two chat-model sources (GPTeacher role-play, MGTBench TruthfulQA answers).

Texts are cleaned of what is not writing before anything else sees them: chat openers ("Sure! Here is ...",
"Certainly!") that published LLM text mostly lacks, and ASAP's anonymisation tokens (`@PERSON1`), which
become ordinary words. Everything else (Markdown, quotes, line breaks) is left for the canonical view.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import re

from svalbard_train.data import corpora
from svalbard_train.paths import DATA

TEST_HUMAN_SOURCES = {
    "cleaneval", "l3s-gn1", "cleanportaleval", "postlight-parser-fixtures", "mozilla-readability-testpages",
    "goose3-test-fixtures", "bbc-news-2005", "spamassassin-ham", "web_text:guardian", "stackexchange", "fce",
    "micusp",
}
TEST_MACHINE_SOURCES = {"GPTeacher-roleplay", "MGTBench-TruthfulQA"}
# Real saved HTML pages turned into text: the held-out "web pages" the threshold must hold on.
WEB_PAGE_SOURCES = {"cleaneval", "l3s-gn1", "cleanportaleval", "postlight-parser-fixtures",
                    "mozilla-readability-testpages", "goose3-test-fixtures"}
MODERN_DEV_PCT = 15

_FAMILIES = [
    ("anthropic", ("claude",)),
    ("google", ("gemini", "bard", "gemma", "palm")),
    ("mistral", ("mistral", "mixtral", "zephyr", "starling")),
    ("meta-llama", ("llama-2", "llama-3", "meta-llama", "vicuna", "tulu", "alpaca", "wizardlm", "openchat",
                    "xwinlm")),
    ("legacy", ("gpt-2", "gpt2", "gpt-neo", "gptneo", "gpt-j", "gptj", "neox", "opt-", "gpt3", "gpt-3 175b",
                "llama")),
    ("openai", ("gpt-3.5", "gpt-4", "gpt4", "chatgpt", "davinci")),
    ("other", ("qwen", "yi-", "yi ", "baichuan", "chatglm", "cohere", "dbrx", "deepseek", "falcon", "internlm")),
]
FAMILIES = [f for f, _ in _FAMILIES]


def family(generator: str | None) -> str | None:
    """The generator family of a machine text: whole families are left out of training in turn."""
    if generator is None:
        return None
    g = generator.lower()
    for name, keys in _FAMILIES:
        if any(k in g for k in keys) and not (name == "legacy" and g.startswith("llama-")):
            return name
    return "other"


_OPENER = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|absolutely|great question|good question|okay|ok)\b[^.!?:\n]{0,80}[.!?:]\s*"
    r"|(?:here(?: is|'s| are)|below (?:is|are))\b[^.!?:\n]{0,120}[.!?:]\s*"
    r"|as an ai(?: language model)?\b[^.!?\n]{0,200}[.!?]\s*)",
    re.I)
_ASAP_TOKEN = re.compile(r"@([A-Z]+)[0-9]*")
_ASAP_WORDS = {"PERSON": "Alex", "CAPS": "Smith", "LOCATION": "Boston", "ORGANIZATION": "Acme", "DATE": "Monday",
               "TIME": "noon", "MONEY": "ten dollars", "PERCENT": "ten percent", "NUM": "five", "MONTH": "May",
               "CITY": "Boston", "STATE": "Ohio", "EMAIL": "email", "DR": "Dr. Smith", "STREET": "Main Street"}


def strip_openers(text: str) -> str:
    """Chat-answer openers, repeatedly ("Sure! Here is the essay:"), from the start of a text."""
    for _ in range(3):
        m = _OPENER.match(text)
        if not m or m.end() >= len(text):
            break
        text = text[m.end():]
    return text


def mask_asap(text: str) -> str:
    return _ASAP_TOKEN.sub(lambda m: _ASAP_WORDS.get(m.group(1), "Smith"), text)


def prompt_of(doc_id: str) -> str:
    """The prompt part of a machine_modern id (the model's part removed): `flask:alpaca_13b:1016` -> `1016`,
    `l2r:AcademicResearch:GPT-3-Turbo:0` -> `AcademicResearch:0`, `ndhal:1:GPT35:0` -> `1`."""
    parts = doc_id.split(":")
    if parts[0] == "l2r":
        return f"{parts[1]}:{parts[3]}"
    if parts[0] == "ndhal":
        return parts[1]
    return parts[-1]


def _pct(key: str) -> int:
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % 100


def _rec(text, label, source, generator, split, unit, genre):
    return {"text": text, "y": 1 if label == "machine" else 0, "source": source, "generator": generator,
            "family": family(generator) if label == "machine" else None, "split": split, "unit": unit,
            "genre": genre}


def _jsonl_gz(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def _detect():
    for name, split in (("train.jsonl", "train"), ("dev.jsonl", "dev")):
        with open(os.path.join(DATA, "detect", name), encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                unit = f"pair:{d['pair_id']}" if d.get("pair_id") is not None else f"detect:{d['id']}"
                yield _rec(d["text"], d["label"], d["source"], d["generator"], split, unit, d.get("domain"))


def _web_text():
    for fn, label in (("human_web.jsonl.gz", "human"), ("machine_web.jsonl.gz", "machine")):
        for d in _jsonl_gz(os.path.join(DATA, "web_text", fn)):
            if not d["text"].strip():
                continue
            src = d["source"]
            if "guardian" in src:
                source = "web_text:guardian"
            elif "reuters" in src:
                source = "web_text:reuters"
            elif "webtext" in src or "WebText" in src:
                source = "web_text:webtext"
            elif "amazon" in src or "yelp" in src or "app_reviews" in src:
                source = "web_text:reviews"
            elif label == "machine":
                source = "web_text:gpt2" if d["generator"].startswith("GPT-2") else "web_text:gpt3"
            else:
                source = "web_text:misc"
            split = "test" if source in TEST_HUMAN_SOURCES else "train"
            yield _rec(d["text"], label, source, d.get("generator") if label == "machine" else None, split,
                       "web:" + d["id"], "web")


def _books():
    train, _ = corpora.load_books()
    _, test = corpora.load_books()
    for r in train + test:
        yield _rec(r["text"], "human", "books:" + ("gutenberg" if r["source"] == "gutenberg" else "nltk"), None,
                   "train", r["unit"], "book")


def _web_text2():
    for fn in ("human_web2.jsonl.gz", "human_essays.jsonl.gz", "human_answers.jsonl.gz", "machine_modern.jsonl.gz"):
        for d in _jsonl_gz(os.path.join(DATA, "web_text2", fn)):
            text = d["text"]
            source = "stackexchange" if d["source"].startswith("stackexchange") else d["source"]
            if d["label"] == "machine":
                text = strip_openers(text)
                # instruction sources answer one prompt with many models: the prompt is the unit of a split
                unit = f"{source}:{prompt_of(d['id'])}"
                if source in TEST_MACHINE_SOURCES:
                    split = "test"
                else:
                    split = "dev" if _pct("modern:" + unit) < MODERN_DEV_PCT else "train"
                generator = d["generator"]
            else:
                if source == "asap":
                    text = mask_asap(text)
                unit = f"{source}:{d['id']}"
                split = "test" if source in TEST_HUMAN_SOURCES else "train"
                generator = None
            if not text.strip():
                continue
            r = _rec(text, d["label"], source, generator, split, unit, d.get("genre"))
            if "l1" in d:
                r["l1"] = d.get("l1")
            r["id"] = d["id"]
            yield r


def load_all():
    """Every labeled text with its source, split, family and unit."""
    out = []
    for gen in (_detect(), _web_text(), _books(), _web_text2()):
        out.extend(gen)
    return out


def is_native(r) -> bool | None:
    """For essays: whether the writer's first language is English (None: not recorded)."""
    if r["source"] == "fce":
        return False
    l1 = r.get("l1")
    return None if l1 is None else str(l1).strip().lower() == "en"


def read_split(out: str, split: str) -> list[dict]:
    """The records of one split as svalbard_train.fast.train writes them to OUT/{train,dev,test}.jsonl."""
    with open(os.path.join(out, f"{split}.jsonl"), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def weight_group(r) -> str:
    """A written record's group for `fast`'s sample weights (svalbard_train.fast.train.sample_weights):
    `<y>|<source>`."""
    return ("1|" if r["label"] == "machine" else "0|") + r["source"]
