#!/usr/bin/env python3
"""Write the labeled JSONL files the ensemble policy is fitted and tested on (scripts/build_policy.sh).

Same sources and deterministic splits as the `fast` model (scripts/fast_data.py), so no document the fast
model was trained on is used to calibrate or test the policy. The held-out web text is split once more, by
a second hash, into a calibration half (where the threshold is chosen) and a test half (where its
false-positive rate is measured):

  train.jsonl      detect/train + web_text training part + book/NLTK training chunks  (fit the regressions)
  holdout.jsonl    detect/dev + held-out web, calibration half                       (calibrate)
  web_calib.jsonl  held-out web, calibration half                                    (choose the threshold)
  web_test.jsonl   held-out web, test half                                            (measure)
  books_test.jsonl held-out book/NLTK chunks                                          (measure)

Fields: text, label (human|machine), source, generator, group (source, with web machine text split by
generator family: the leave-one-group-out unit).
Usage: python3 scripts/policy_data.py OUT_DIR   (standard library only)
"""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import fast_data  # noqa: E402


def calib_half(text: str) -> bool:
    return int(hashlib.sha1(("calib:" + text).encode("utf-8")).hexdigest(), 16) % 2 == 0


def row(r):
    label = "machine" if r["y"] == 1 else "human"
    if r["source"] == "web_text":
        group = r["generator"] if label == "machine" else "web-human"
        generator = r.get("generator_raw") or "human"
    elif r["group"] == "books-human":
        group, generator = "books", "human"
    else:
        group, generator = r["source"], r["generator"] or "human"
    return {"text": r["text"], "label": label, "source": r["source"], "generator": generator, "group": group}


def write(path, rows, extra=None):
    """`extra`: optional per-row dicts of more fields (scripts/oof_fast.py adds the out-of-fold scores)."""
    with open(path, "w", encoding="utf-8") as f:
        for i, r in enumerate(rows):
            out = row(r)
            if extra is not None:
                out.update(extra[i])
            f.write(json.dumps(out, ensure_ascii=False) + "\n")
    print(f"{path}: {len(rows)} documents")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "bench-data/policy"
    os.makedirs(out, exist_ok=True)
    train, evals = fast_data.load_all()
    web = evals["web_heldout"]
    web_calib = [r for r in web if calib_half(r["text"])]
    web_test = [r for r in web if not calib_half(r["text"])]
    write(os.path.join(out, "train.jsonl"), train)
    write(os.path.join(out, "holdout.jsonl"), evals["dev"] + web_calib)
    write(os.path.join(out, "web_calib.jsonl"), web_calib)
    write(os.path.join(out, "web_test.jsonl"), web_test)
    write(os.path.join(out, "books_test.jsonl"), evals["books_heldout"])
    write(os.path.join(out, "dev.jsonl"), evals["dev"])


if __name__ == "__main__":
    main()
