#!/usr/bin/python3
"""Peer of the tokenizer-sentencepiece benchmark: Debian's python3-sentencepiece (the C++ library
behind a thin SWIG binding), one encode call per document, single thread, whole corpus per
language. Thread CPU time, median of --runs. Prints JSON:
{"<model>": {"mbps": {"en": MB/s, ...}, "ids": {"en": total ids, ...}}, ...}
Run with /usr/bin/python3 (Debian's python, where the package is installed)."""
import argparse
import json
import os
import statistics
import time

import sentencepiece as spm

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ap = argparse.ArgumentParser()
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--models", default="unigram-8k,bpe-6k-llama")
ap.add_argument("--langs", default="en,zh,code,ru")
args = ap.parse_args()

docs = {}
for lang in args.langs.split(","):
    with open(os.path.join(ROOT, "tests/data/corpus", lang + ".jsonl"), encoding="utf-8") as f:
        docs[lang] = [json.loads(line)["text"] for line in f if line.strip()]

out = {}
for model in args.models.split(","):
    sp = spm.SentencePieceProcessor(
        model_file=os.path.join(ROOT, "data/vocab/sentencepiece", model, "tokenizer.model"))
    res = {"mbps": {}, "ids": {}}
    for lang, texts in docs.items():
        size = sum(len(t.encode("utf-8")) for t in texts)
        for t in texts[:8]:
            sp.encode(t)  # warm-up
        times = []
        for _ in range(args.runs):
            c0 = time.thread_time()
            ids = sum(len(sp.encode(t)) for t in texts)
            times.append(time.thread_time() - c0)
        res["mbps"][lang] = size / 1e6 / statistics.median(times)
        res["ids"][lang] = ids
    out[model] = res
print(json.dumps(out))
