"""Build models/vocab/excess_words.txt: the LLM "excess vocabulary" word list.

Usage (from the repository root):

    .venv/bin/python -m svalbard_train.vocab.build \
        --data ../shared/data --out models/vocab/excess_words.txt [--report]

Standard library only. The list is the union of three curated sources:

1. Kobak et al. 2024 (berenslab/llm-excess-vocab, MIT): the words typed `style`
   (also `content/style`, `style/content`) in lexicons/excess_words_kobak2024.csv,
   minus words that are common in ordinary human web text (more than
   MAX_BG_PER_MILLION per million tokens in the human background corpus:
   web_text/human_web + human_nltk) and minus KOBAK_EXCLUDE (generic academic /
   reporting verbs, news words and inflections whose excess is specific to
   biomedical abstracts or that lean human in our data).
2. Words over-represented in machine vs human text of detect/train.jsonl (only the
   instruction-tuned generators davinci, gpt-3.5-turbo, gpt-4, chatgpt): log-odds
   ratio with an informative Dirichlet prior (Monroe et al. 2008; prior = all
   counts, strength 1000), z >= 2.5, >= 6 machine occurrences, background
   frequency <= 60 per million.  The candidate list is dominated by topic words
   (the generators rewrote UK news, PubMed answers, stories) and dataset artifacts
   (prompt words: explain, paraphrase, five-year-old, ...), so only the generic
   English style words in DATA_ACCEPT (reviewed by hand from the printed
   candidates, see --report) are kept.
3. KNOWN_TELLS: widely reported LLM tells, with the inflected forms that matter.

Word tokens (must match the Rust engine): NFKD + ASCII fold, lowercase, split on
whitespace, strip leading/trailing ASCII punctuation and curly quotes/dashes/ellipsis;
a token counts as a word when it contains at least one letter.
"""
import argparse
import collections
import csv
import gzip
import json
import math
import os
import string
import sys
import unicodedata

from svalbard_train import paths
from svalbard_train.metrics import auroc_ranks

PUNCT = string.punctuation + "\u201c\u201d\u2018\u2019\u2014\u2013\u2026"
MAX_BG_PER_MILLION = 40.0
MODERN = {"davinci", "gpt-3.5-turbo", "gpt-4", "chatgpt"}

# Kobak `style` words that are dropped although rare enough in human web text:
# neutral academic/reporting verbs and nouns, news vocabulary, and forms whose
# excess is specific to biomedical abstracts.
KOBAK_EXCLUDE = set("""
achieving acknowledges acknowledging addresses addressing adhered adhering advocates advocating
affirming afflicted aiding aims apologizes assess assessed assessing assessments attains attributed
broader capabilities categorized categorizes categorizing challenges closures complexities complicates
complicating comprehend comprehending comprising concurrently consequently consolidates contributing
conversely correlating crafted crafting declare deductively deeper delineates demonstrated demonstrates
demonstrating dependability dependable detailing detrimentally diminishes diminishing discern discerned
discernible discerning displaying disrupts distinct distinctions distinctive diverse easing efficacy
elevated embracing emerged emerges employed employing employs emulating emulation enabling endangering
enduring enhanced escalating essentials evaluates evolving exacerbating examines exceeding exerting exhibit
exhibited exhibiting exhibits exploration explores facilitated facilitates facilitating featuring focusing
furnish gauged hardest heterogenous hinder hinges hinting imbalances impacting impede impeding inadequately
inaugural incorporates incorporating indicating influencing inherent initially inquiries integrates
integrating integration introduces investigates juxtaposed landscape limitations linked maintaining merges
methodologies midst minimizing modulating necessity observed optimizing originality outcomes outlines
overlook overlooking overwhelmed persist pinpoint pinpointed pinpointing pose posed poses posing postponed
precise predominantly presents preserving pressing prevalent primarily prioritizes prominence promising
prompting pronounced realizes recognizing refine refines refining reframing reliance remotely resulting
resuming rethink revealing reveals revolves scrutinize scrutinized scrutinizing seeks serving spanned
spanning specifically spurred standardizing stemming strategies subsequently substantiated substantiates
surged surpassed swift swiftly synthesizes techniques thereby thorough typically unexplored urging
varying verifies wandering warranting yielding
avenue avenues alongside amid remarkable compelling notable advancing
""".split())

# Reviewed by hand from the data-driven candidates (source 2): generic style words.
DATA_ACCEPT = set("""
regarding testament resilience emphasized ongoing sparked sparking solace vibrant bustling stark prowess
enthusiasts overlooked captivating captivated beacon ensures unwavering echoed eagerly tapestry intertwined
glimmer relentless symphony uncover hues utilize harmonious profound newfound daunting tranquility navigate
poignant ethereal serenity ignited unfold unfolds immense embrace alleviate tangible adversity essence
transcends awe alike actively commitments initiatives stakeholders transparency empathy
dedication backdrop vivid furthermore additionally amidst
""".split())

# Well-known LLM tells (ChatGPT era), with the inflected forms that matter.
KNOWN_TELLS = set("""
delve delves delved delving tapestry tapestries testament intricate intricately intricacies
meticulous meticulously commendable underscore underscores underscored underscoring showcase showcases
showcased showcasing pivotal realm realms multifaceted nuanced seamless seamlessly holistic paramount
foster fosters fostered fostering elevate elevates elevating resonate resonates resonated resonating
unwavering embark embarks embarked embarking embarkation beacon bustling vibrant camaraderie
kaleidoscope enigmatic labyrinth labyrinthine plethora myriad moreover furthermore additionally notably
crucial leverage leverages leveraging leveraged navigate navigates navigating navigated invaluable
insightful groundbreaking transformative unparalleled unleash unleashes unleashed unleashing unlock unlocks
unlocking revolutionize revolutionizes revolutionizing revolutionized nestled boasts esteemed endeavor
endeavors endeavour endeavours synergy synergies interplay interconnected interconnectedness
ever-evolving ever-changing game-changer game-changing thought-provoking awe-inspiring breathtaking
enchanting mesmerizing captivating enthralling harnessing harness harnesses harnessed realm
utilize utilizes utilizing utilized streamline streamlines streamlined streamlining empower empowers
empowering empowered bolster bolsters bolstered bolstering garner garnered garnering grapple grapples
grappling elucidate elucidates elucidating noteworthy adept showcasing culminating culminated
burgeoning uncharted unveil unveils unveiled unveiling unraveling unravel unravels intriguing
comprehensive robust profound indelible poised heartfelt cherish cherished emphasizing
emphasizes underpinning underpins spearheading spearheaded exemplifies exemplified encompass encompasses
encompassing
""".split())


def fold(s):
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")


def words(text):
    out = []
    for t in fold(text).lower().split():
        t = t.strip(PUNCT)
        if t and any(c.isalpha() for c in t):
            out.append(t)
    return out


def jsonl(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt", encoding="utf-8") as f:
        for line in f:
            yield json.loads(line)


def logodds_z(a, b, prior, alpha0=1000.0):
    na, nb, n0 = sum(a.values()), sum(b.values()), sum(prior.values())
    out = {}
    for w in set(a) | set(b):
        p = (prior.get(w, 0) + 0.5) / n0 * alpha0
        ya, yb = a.get(w, 0), b.get(w, 0)
        d = math.log((ya + p) / (na + alpha0 - ya - p)) - math.log((yb + p) / (nb + alpha0 - yb - p))
        out[w] = d / math.sqrt(1 / (ya + p) + 1 / (yb + p))
    return out


def quantiles(xs, qs):
    xs = sorted(xs)
    return [xs[min(len(xs) - 1, int(q * len(xs)))] for q in qs]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=paths.DATA)
    ap.add_argument("--out", default=os.path.join(paths.model_dir("vocab"), "excess_words.txt"))
    ap.add_argument("--report", action="store_true", help="print candidates and dev evaluation")
    args = ap.parse_args()
    D = args.data

    bg = collections.Counter()
    for r in jsonl(os.path.join(D, "web_text/human_web.jsonl.gz")):
        bg.update(words(r["text"]))
    for r in jsonl(os.path.join(D, "human_nltk.jsonl.gz")):
        bg.update(words(r["text"]))
    nbg = sum(bg.values())

    def bg_pm(w):
        return 1e6 * bg.get(w, 0) / nbg

    # (1) Kobak et al. 2024
    kobak_rows = list(csv.DictReader(open(os.path.join(D, "lexicons/excess_words_kobak2024.csv"))))
    kobak_style = {r["word"] for r in kobak_rows if "style" in r["type"]}
    kobak_keep = {w for w in kobak_style if bg_pm(w) <= MAX_BG_PER_MILLION and w not in KOBAK_EXCLUDE}

    # (2) data-driven candidates from detect/train.jsonl
    hum, mac = collections.Counter(), collections.Counter()
    for r in jsonl(os.path.join(D, "detect/train.jsonl")):
        if r["label"] == "human":
            hum.update(words(r["text"]))
        elif r["generator"] in MODERN:
            mac.update(words(r["text"]))
    z = logodds_z(mac, hum + bg, hum + bg + mac)
    cands = sorted(((z[w], w) for w in z if mac[w] >= 6 and z[w] >= 2.5 and bg_pm(w) <= 60
                    and w.replace("-", "").isalpha()), reverse=True)
    cand_set = {w for _, w in cands}
    missing = sorted(DATA_ACCEPT - cand_set)
    if missing:
        print("note: DATA_ACCEPT words not among current candidates:", " ".join(missing), file=sys.stderr)
    data_keep = DATA_ACCEPT & cand_set

    final = sorted(kobak_keep | data_keep | KNOWN_TELLS)
    origin = {w: "+".join(n for n, s in (("kobak", kobak_keep), ("data", data_keep), ("tell", KNOWN_TELLS))
                          if w in s) for w in final}

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write("# svalbard: LLM excess vocabulary (one lowercase ASCII word per line; '#' = comment)\n")
        f.write("# Origin: Kobak et al. 2024 'Delving into LLM-assisted writing in biomedical publications\n")
        f.write("#   through excess vocabulary' (berenslab/llm-excess-vocab, MIT) style words, filtered;\n")
        f.write("#   + words over-represented in instruction-tuned LLM text of the detect train split\n")
        f.write("#   (fast-detect-gpt MIT, HC3-Plus CC-BY-SA), hand-reviewed; + well-known LLM tells.\n")
        f.write("# Built by: .venv/bin/python -m svalbard_train.vocab.build --data ../shared/data "
                "--out models/vocab/excess_words.txt\n")
        f.write("# Tokens: NFKD ASCII-fold, lowercase, whitespace split, strip leading/trailing punctuation.\n")
        f.write(f"# {len(final)} words (kobak {len(kobak_keep)}, data {len(data_keep)}, tells {len(KNOWN_TELLS)};"
                " overlapping)\n")
        for w in final:
            f.write(w + "\n")
    print(f"wrote {len(final)} words to {args.out}")

    if not args.report:
        return
    print("\n== data-driven candidates (z, machine count, bg per million) ==")
    print(" ".join(f"{w}:{s:.1f}" for s, w in cands[:400]))
    print("\n== final words: origin, bg per million, modern-machine per million, detect-human per million ==")
    nm, nh = sum(mac.values()), sum(hum.values())
    for w in final:
        print(f"{w:24s} {origin[w]:16s} bg={bg_pm(w):7.1f} mac={1e6 * mac[w] / nm:7.1f} hum={1e6 * hum[w] / nh:7.1f}")
    evaluate(D, set(final))


def evaluate(D, vocab):
    def rate(text):
        ws = words(text)
        return (sum(1 for w in ws if w in vocab) / len(ws)) if ws else 0.0

    by = collections.defaultdict(lambda: ([], []))  # key -> (machine rates, human rates)
    for r in jsonl(os.path.join(D, "detect/dev.jsonl")):
        x = rate(r["text"])
        keys = ["all", "source=" + r["source"]]
        if r["label"] == "machine":
            keys.append("gen=" + r["generator"])
            keys.append("modern" if r["generator"] in MODERN else "older")
        for k in keys:
            by[k][0 if r["label"] == "machine" else 1].append(x)
    hum_all = by["all"][1]
    print("\n== dev AUROC of the excess-word rate (machine positive) ==")
    for k in sorted(by):
        m, h = by[k]
        if k.startswith("gen=") or k in ("modern", "older"):
            h = hum_all
        if m and h:
            print(f"{k:32s} n_machine={len(m):5d} n_human={len(h):5d} AUROC={auroc_ranks(m, h):.3f}")
    for label, path in (("human_web", "web_text/human_web.jsonl.gz"), ("machine_web", "web_text/machine_web.jsonl.gz")):
        rates = [rate(r["text"]) for r in jsonl(os.path.join(D, path))]
        qs = quantiles(rates, [0.5, 0.9, 0.99, 0.999])
        nz = sum(1 for v in rates if v > 0) / len(rates)
        print(f"\n{label}: n={len(rates)} mean={sum(rates) / len(rates):.5f} nonzero={nz:.3f} "
              f"p50={qs[0]:.5f} p90={qs[1]:.5f} p99={qs[2]:.5f} p99.9={qs[3]:.5f} "
              f">=0.01:{sum(1 for v in rates if v >= 0.01) / len(rates):.4f} "
              f">=0.02:{sum(1 for v in rates if v >= 0.02) / len(rates):.4f}")
    m, h = by["all"]
    print(f"\ndev machine: mean={sum(m) / len(m):.5f} p50/p90/p99={quantiles(m, [.5, .9, .99])}")
    print(f"dev human:   mean={sum(h) / len(h):.5f} p50/p90/p99={quantiles(h, [.5, .9, .99])}")


if __name__ == "__main__":
    main()
