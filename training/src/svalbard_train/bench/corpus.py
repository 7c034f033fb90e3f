"""Generate a synthetic, web-like benchmark corpus for svalbard.

Usage (from the repository root):

    .venv/bin/python -m svalbard_train.bench.corpus --out bench-data/c500 --size-mb 500 [--seed 7] [--parquet]
        [--mix cc]
    # --parquet needs pyarrow: bash scripts/setup_python.sh arrow

Writes DIR/corpus.jsonl (about N MB, one JSON object per line) and, with --parquet,
DIR/corpus.parquet with the same documents (zstd, row groups of 50k rows or 128 MB).
Fields: id, url, date, text, plus two passthrough fields the engine must carry
unchanged: `lang` ("en") and `meta` (an object: {"kind": ..., "src": ...} telling
how the document was made -- a rough ground truth, not a label to train on).

Text comes from ../shared/data (--data): human prose (detect/train human texts,
web_text/human_web, human_nltk, paragraphs of human_gutenberg) and machine prose
(detect/train machine texts, web_text/machine_web), sampled and recombined, plus a
realistic share of junk pages: nav/boilerplate with short lines, repeated lines and
paragraphs, very short docs, lorem ipsum, pages with `{` code, bullet lists,
ellipsis-heavy teasers, hashtag spam, keyword spam, cookie/javascript notices.
Lengths follow a web-like distribution (median ~2.5 KB, tail to ~100 KB).
Deterministic for a given --seed and data; output is streamed (memory holds only
the source pools, ~0.5 GB, and one Parquet row group).
"""
import argparse
import gzip
import json
import math
import os
import random
import re
import sys
import time

from svalbard_train import paths

KINDS = [  # (kind, weight)
    ("prose_human", 0.50),
    ("prose_machine", 0.14),
    ("prose_mixed", 0.04),
    ("boilerplate", 0.08),
    ("repeated", 0.04),
    ("short", 0.06),
    ("lorem", 0.01),
    ("code", 0.03),
    ("bullets", 0.04),
    ("ellipsis", 0.02),
    ("hashtags", 0.02),
    ("keyword_spam", 0.01),
    ("notice", 0.01),
]

# --mix cc: a Common Crawl-like mix, where most pages are navigation, boilerplate, short or repeated text that a
# quality rule rejects (FineWeb keeps a minority of a crawl's extracted pages), so that a benchmark shows what
# stopping at the first rejection saves.
KINDS_CC = [
    ("prose_human", 0.20),
    ("prose_machine", 0.06),
    ("prose_mixed", 0.02),
    ("boilerplate", 0.25),
    ("repeated", 0.10),
    ("short", 0.15),
    ("lorem", 0.01),
    ("code", 0.04),
    ("bullets", 0.06),
    ("ellipsis", 0.04),
    ("hashtags", 0.03),
    ("keyword_spam", 0.02),
    ("notice", 0.02),
]
MIXES = {"web": KINDS, "cc": KINDS_CC}

NAV = ["Home", "About", "About Us", "Contact", "Contact Us", "Blog", "News", "Shop", "Cart (0)", "Login",
       "Sign in", "Register", "Search", "Menu", "Skip to content", "FAQ", "Help", "Careers", "Press",
       "Privacy Policy", "Terms of Use", "Terms & Conditions", "Sitemap", "Subscribe", "Follow us",
       "Facebook", "Twitter", "Instagram", "YouTube", "LinkedIn", "Pinterest", "Share", "Tweet", "Email",
       "Print", "Previous", "Next", "Back to top", "Read more", "Categories", "Archives", "Tags",
       "Recent Posts", "Popular", "Related articles", "Leave a comment", "Reply", "Events", "Gallery",
       "Downloads", "Support", "Account", "My Orders", "Wishlist", "Newsletter", "Advertise", "Español",
       "Deutsch", "Français", "English", "Accessibility", "Cookie Settings", "Store Locator"]
FOOTERS = ["© {y} {site}. All rights reserved.", "Copyright {y} {site} Inc.", "Powered by WordPress",
           "Theme by {site}", "All content © {site} {y}", "Site map | Privacy | Terms",
           "We use cookies to improve your experience. By continuing to use this site you agree to our cookie policy.",
           "This website uses cookies. Accept", "Please enable JavaScript to view the comments.",
           "JavaScript is disabled in your browser. Please enable javascript to continue.",
           "Sign up for our newsletter", "Posted in Uncategorized | Leave a comment",
           "Your email address will not be published. Required fields are marked *"]
LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et "
         "dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip "
         "ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu "
         "fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt "
         "mollit anim id est laborum.")
CODE = [
    "function init() {\n  var el = document.getElementById('main');\n  if (!el) { return; }\n  el.classList.add('ready');\n}",
    ".header { margin: 0 auto; padding: 12px 24px; }\n.nav li { display: inline-block; }\n@media (max-width: 600px) { .nav { display: none; } }",
    "window.dataLayer = window.dataLayer || [];\nfunction gtag(){dataLayer.push(arguments);}\ngtag('js', new Date());\ngtag('config', 'UA-1234567-1');",
    "for (int i = 0; i < n; i++) {\n    sum += a[i];\n}\nprintf(\"%d\\n\", sum);",
    "def main():\n    data = {'a': 1, 'b': 2}\n    for k, v in data.items():\n        print(k, v)",
    "{\"@context\": \"https://schema.org\", \"@type\": \"Article\", \"headline\": \"{t}\", \"author\": {\"@type\": \"Person\"}}",
    "if (x > 0) {\n  return x * 2;\n} else {\n  throw new Error('negative');\n}",
    "SELECT id, name FROM users WHERE created_at > '2020-01-01' ORDER BY id;",
    "$(document).ready(function() { $('.slider').slick({ autoplay: true, dots: true }); });",
]
TLDS = [".com", ".com", ".com", ".org", ".net", ".co.uk", ".io", ".info", ".blog", ".de", ".com.au", ".ca"]
SITE_WORDS = ["daily", "news", "tech", "life", "home", "garden", "travel", "food", "city", "world", "blue", "green",
              "review", "guide", "hub", "central", "post", "times", "journal", "forum", "shop", "store", "health",
              "money", "sports", "auto", "pets", "style", "family", "local", "media", "digital", "smart", "best"]
HASHTAGS = ["#love", "#instagood", "#photooftheday", "#fashion", "#beautiful", "#happy", "#follow", "#tbt",
            "#followme", "#nature", "#travel", "#fitness", "#food", "#art", "#style", "#motivation", "#repost",
            "#summer", "#giveaway", "#sale", "#blessed", "#goals", "#inspiration", "#crypto", "#bitcoin", "#nft",
            "#marketing", "#seo", "#business", "#music", "#photography", "#tech", "#ai", "#news"]
SPAM_TERMS = ["cheap", "best price", "buy now", "free shipping", "discount", "online", "sale", "top rated",
              "2024", "near me", "review", "coupon", "deal", "official site", "wholesale", "fast delivery"]

SENT_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def jsonl(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def paragraphs(text):
    return [p.strip() for p in re.split(r"\n\s*\n|\n", text) if p.strip()]


def load_pools(data, max_gutenberg_books):
    t0 = time.time()
    hum_docs, mac_docs, hum_paras, mac_paras, gut_paras = [], [], [], [], []
    for r in jsonl(os.path.join(data, "detect/train.jsonl")):
        if len(r["text"]) < 40:
            continue
        (hum_docs if r["label"] == "human" else mac_docs).append(r["text"])
    for r in jsonl(os.path.join(data, "web_text/human_web.jsonl.gz")):
        hum_docs.append(r["text"])
    for r in jsonl(os.path.join(data, "web_text/machine_web.jsonl.gz")):
        mac_docs.append(r["text"])
    for r in jsonl(os.path.join(data, "human_nltk.jsonl.gz")):
        hum_docs.append(r["text"])
    for i, r in enumerate(jsonl(os.path.join(data, "human_gutenberg.jsonl.gz"))):
        if i >= max_gutenberg_books:
            break
        t = r["text"]
        a, b = t.find("*** START"), t.find("*** END")
        if a >= 0:
            t = t[t.find("\n", a) + 1:b if b > a else None]
        for p in re.split(r"\n\s*\n", t):
            p = " ".join(p.split())
            if len(p) >= 60:
                gut_paras.append(p)
    for d in hum_docs:
        hum_paras.extend(p for p in paragraphs(d) if len(p) >= 30)
    for d in mac_docs:
        mac_paras.extend(p for p in paragraphs(d) if len(p) >= 30)
    print(f"pools: human docs {len(hum_docs)}, machine docs {len(mac_docs)}, human paragraphs {len(hum_paras)}, "
          f"machine paragraphs {len(mac_paras)}, gutenberg paragraphs {len(gut_paras)} "
          f"({time.time() - t0:.1f}s)", file=sys.stderr)
    return hum_docs, mac_docs, hum_paras, mac_paras, gut_paras


class Gen:
    def __init__(self, rng, pools, kinds=KINDS):
        self.r = rng
        self.hum_docs, self.mac_docs, self.hum_paras, self.mac_paras, self.gut_paras = pools
        self.sites = [self._site() for _ in range(5000)]
        self.kinds = [k for k, _ in kinds]
        self.cum = []
        acc = 0.0
        for _, w in kinds:
            acc += w
            self.cum.append(acc)

    def _site(self):
        r = self.r
        name = "".join(r.sample(SITE_WORDS, r.choice((1, 2, 2, 3))))
        if r.random() < 0.3:
            name += str(r.randint(1, 999))
        return name + r.choice(TLDS)

    def target_len(self):
        r = self.r
        if r.random() < 0.03:  # long tail: 20-100 KB
            return int(20000 * math.exp(r.random() * math.log(5)))
        return max(150, min(100000, int(r.lognormvariate(math.log(3500), 0.9))))

    def fill(self, paras, target, start=None):
        out, n = [], 0
        if start:
            out.append(start)
            n = len(start)
        i = self.r.randrange(len(paras))  # consecutive paragraphs: same source doc/book, in order
        while n < target:
            p = paras[i % len(paras)]
            i += 1
            out.append(p)
            n += len(p) + 2
        return out

    def human_paras(self):
        return self.gut_paras if self.r.random() < 0.15 else self.hum_paras

    def sentences(self, paras, k):
        out = []
        while len(out) < k:
            ss = [s for s in SENT_RE.split(self.r.choice(paras)) if 15 < len(s) < 300]
            out.extend(ss[: self.r.randint(1, 3)])
        return out[:k]

    def title(self):
        s = self.sentences(self.hum_paras, 1)[0]
        words = s.split()[: self.r.randint(3, 10)]
        return " ".join(w.strip(".,;:") for w in words).title()

    def doc(self):
        r = self.r
        x = r.random() * self.cum[-1]
        kind = next(k for k, c in zip(self.kinds, self.cum) if x < c)
        target = self.target_len()
        src = "human"
        if kind == "prose_human":
            if r.random() < 0.4:
                text = r.choice(self.hum_docs)
                if len(text) < target and r.random() < 0.5:
                    text = "\n\n".join(self.fill(self.human_paras(), target, text))
            else:
                text = "\n\n".join(self.fill(self.human_paras(), target))
        elif kind == "prose_machine":
            src = "machine"
            if r.random() < 0.5:
                text = r.choice(self.mac_docs)
            else:
                text = "\n\n".join(self.fill(self.mac_paras, target))
        elif kind == "prose_mixed":
            src = "mixed"
            ps = self.fill(self.hum_paras, target)
            for _ in range(max(1, len(ps) // 3)):
                ps.insert(r.randrange(len(ps) + 1), r.choice(self.mac_paras))
            text = "\n\n".join(ps)
        elif kind == "boilerplate":
            site = r.choice(self.sites)
            nav = r.sample(NAV, r.randint(6, 25))
            body = self.fill(self.hum_paras, r.randint(0, 1500)) if r.random() < 0.7 else []
            links = [self.title() for _ in range(r.randint(3, 20))]
            foot = [f.format(y=r.randint(2008, 2024), site=site.split(".")[0].title())
                    for f in r.sample(FOOTERS, r.randint(1, 4))]
            text = "\n".join(nav + [self.title()] + body + ["Related:"] + links + foot)
        elif kind == "repeated":
            base = self.fill(self.human_paras() if r.random() < 0.8 else self.mac_paras, max(300, target // 4))
            if r.random() < 0.5:  # repeated paragraphs
                ps = [r.choice(base) for _ in range(r.randint(4, 12))]
                text = "\n\n".join(base + ps)
            else:  # repeated short lines
                line = r.choice(NAV + [self.title()])
                lines = []
                for p in base:
                    lines.append(p)
                    lines.extend([line] * r.randint(1, 4))
                text = "\n".join(lines)
        elif kind == "short":
            c = r.random()
            if c < 0.4:
                text = self.title()
            elif c < 0.8:
                text = " ".join(self.sentences(self.hum_paras, r.randint(1, 2)))
            else:
                text = r.choice(NAV) + "\n" + r.choice(FOOTERS).format(y=2020, site="Example")
        elif kind == "lorem":
            ps = [LOREM] * r.randint(1, 4)
            text = "\n\n".join([self.title()] + ps + self.fill(self.hum_paras, r.randint(0, 800)))
        elif kind == "code":
            ps = self.fill(self.hum_paras, max(200, target // 2))
            for _ in range(r.randint(1, 5)):
                ps.insert(r.randrange(len(ps) + 1), r.choice(CODE).replace("{t}", self.title()))
            text = "\n\n".join(ps)
        elif kind == "bullets":
            mark = r.choice(["- ", "* ", "\u2022 ", "1. ", "\u2013 "])
            items = self.sentences(self.hum_paras if r.random() < 0.7 else self.mac_paras, r.randint(5, 30))
            if mark == "1. ":
                items = [f"{i + 1}. {s}" for i, s in enumerate(items)]
            else:
                items = [mark + s for s in items]
            intro = self.fill(self.hum_paras, r.randint(0, 1200))
            text = "\n".join([self.title()] + intro + items)
        elif kind == "ellipsis":
            lines = []
            for s in self.sentences(self.hum_paras, r.randint(5, 25)):
                w = s.split()
                lines.append(" ".join(w[: max(3, len(w) // 2)]) + r.choice(["...", "\u2026", " ...", "... Read more"]))
            text = "\n".join([self.title()] + lines)
        elif kind == "hashtags":
            lines = []
            for s in self.sentences(self.hum_paras, r.randint(3, 15)):
                tags = " ".join(r.sample(HASHTAGS, r.randint(3, 15)))
                lines.append(f"@{r.choice(SITE_WORDS)}{r.randint(1, 99)} {s[:140]} {tags}")
            text = "\n".join(lines)
        elif kind == "keyword_spam":
            kw = self.title().lower()
            parts = []
            for _ in range(r.randint(20, 120)):
                parts.append(f"{kw} {r.choice(SPAM_TERMS)}")
            text = ", ".join(parts)
            if r.random() < 0.5:
                text = text.upper()
        else:  # notice
            site = r.choice(self.sites)
            text = "\n".join(r.sample(FOOTERS, r.randint(2, 5))).format(y=2021, site=site)
        if kind.startswith("prose") and r.random() < 0.25:  # light page chrome around prose
            text = "\n".join(r.sample(NAV, r.randint(2, 8))) + "\n" + self.title() + "\n" + text
            if r.random() < 0.5:
                text += "\n" + r.choice(FOOTERS).format(y=r.randint(2008, 2024), site="Site")
        if len(text) > 110000:
            text = text[:100000]
        return kind, src, text

    def url_date(self, i):
        r = self.r
        site = r.choice(self.sites)
        y, m, d = r.randint(2013, 2024), r.randint(1, 12), r.randint(1, 28)
        slug = "-".join(self.title().lower().split()[:6])
        slug = re.sub(r"[^a-z0-9-]", "", slug) or f"p{i}"
        url = f"http{'s' if r.random() < 0.8 else ''}://{'www.' if r.random() < 0.5 else ''}{site}/{y}/{m:02d}/{slug}"
        date = f"{y}-{m:02d}-{d:02d}T{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z"
        return url, date


def main():
    ap = argparse.ArgumentParser(description="synthetic web-like corpus for svalbard benchmarks")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--size-mb", type=float, required=True, help="approximate size of corpus.jsonl in MB (1e6 bytes)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--parquet", action="store_true", help="also write corpus.parquet (zstd; needs pyarrow)")
    ap.add_argument("--data", default=paths.DATA, help="the shared data directory (default: $SVALBARD_DATA, else "
                    "../shared/data beside the repository)")
    ap.add_argument("--gutenberg-books", type=int, default=40, help="books of human_gutenberg to sample from")
    ap.add_argument("--mix", choices=sorted(MIXES), default="web", help="kinds of page: web (mostly prose, the "
                    "default) or cc (Common Crawl-like: most pages fail a quality rule)")
    args = ap.parse_args()

    pq = None
    if args.parquet:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            sys.exit("--parquet needs pyarrow: bash scripts/setup_python.sh arrow, then run this with .venv/bin/python")

    t0 = time.time()
    rng = random.Random(args.seed)
    gen = Gen(rng, load_pools(args.data, args.gutenberg_books), MIXES[args.mix])
    os.makedirs(args.out, exist_ok=True)
    limit = int(args.size_mb * 1e6)
    jpath = os.path.join(args.out, "corpus.jsonl")

    writer, batch, batch_bytes = None, [], 0
    if pq:
        schema = pa.schema([("id", pa.string()), ("url", pa.string()), ("date", pa.string()),
                            ("text", pa.string()), ("lang", pa.string()),
                            ("meta", pa.struct([("kind", pa.string()), ("src", pa.string())]))])
        writer = pq.ParquetWriter(os.path.join(args.out, "corpus.parquet"), schema, compression="zstd")

    def flush():
        nonlocal batch, batch_bytes
        if writer and batch:
            cols = list(zip(*batch))
            writer.write_table(pa.table({
                "id": cols[0], "url": cols[1], "date": cols[2], "text": cols[3], "lang": ["en"] * len(batch),
                "meta": [{"kind": k, "src": s} for k, s in zip(cols[4], cols[5])]}, schema=schema),
                row_group_size=len(batch))
        batch, batch_bytes = [], 0

    n = written = 0
    with open(jpath, "w", encoding="utf-8", buffering=1 << 20) as f:
        while written < limit:
            kind, src, text = gen.doc()
            url, date = gen.url_date(n)
            did = f"svb-{args.seed}-{n:09d}"
            line = json.dumps({"id": did, "url": url, "date": date, "text": text, "lang": "en",
                               "meta": {"kind": kind, "src": src}}, ensure_ascii=False) + "\n"
            f.write(line)
            written += len(line.encode("utf-8"))
            n += 1
            if writer:
                batch.append((did, url, date, text, kind, src))
                batch_bytes += len(text)
                if len(batch) >= 50000 or batch_bytes >= 128 << 20:
                    flush()
    flush()
    if writer:
        writer.close()
    dt = time.time() - t0
    print(f"wrote {n} docs, {written} bytes ({written / 1e6:.1f} MB) to {jpath}"
          f"{' and corpus.parquet' if writer else ''} in {dt:.1f}s ({written / 1e6 / dt:.1f} MB/s)")


if __name__ == "__main__":
    main()
