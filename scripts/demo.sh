#!/usr/bin/env bash
# The main job on the sample that ships in the repo, set-up included:
# install ONNX Runtime (PyPI wheel) and build, then filter tests/fixtures/sample/web_sample.jsonl into out/sample.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
./target/release/svalbard filter tests/fixtures/sample/web_sample.jsonl --output out/sample --overwrite "$@"
python3 - <<'PY' 2>/dev/null || cat out/sample/stats.json
import json
s = json.load(open("out/sample/stats.json"))
t = s["totals"]
print(f"\n{t['docs_in']} records: {t['clean']} clean, {t['rejected']} rejected, {t['quarantined']} quarantined")
print("rules that rejected documents:")
for code, c in sorted(s["rules"].items(), key=lambda kv: -kv[1]["rejected"]):
    if c["rejected"]:
        print(f"  {code:45s} {c['rejected']}")
print("outputs:", ", ".join(o["path"] for i in s["inputs"] for o in i["outputs"]))
PY
