#!/usr/bin/env python3
"""Reads a Megatron-LM indexed dataset (X.bin + X.idx, the MMIDIDX format) written from its
format description (docs/formats.md), with the standard library only, and checks a qkv output
against tiktoken goldens: every document's ids are the golden ids followed by the separator.

usage: megatron_reader.py QKVD CORPUS.jsonl GOLDEN.jsonl.gz SEPARATOR WORKDIR
Runs `QKVD run -p tokenize-gpt2 --set output.format=megatron` on the corpus first."""
import gzip
import json
import os
import struct
import subprocess
import sys

DTYPES = {1: "B", 2: "b", 3: "h", 4: "i", 5: "q", 8: "H"}  # Megatron's dtype codes


def read_dataset(prefix):
    with open(prefix + ".idx", "rb") as f:
        idx = f.read()
    assert idx[:9] == b"MMIDIDX\x00\x00", "bad magic"
    version, = struct.unpack_from("<Q", idx, 9)
    assert version == 1, f"version {version}"
    code = idx[17]
    n_seq, n_doc = struct.unpack_from("<QQ", idx, 18)
    off = 34
    sizes = struct.unpack_from(f"<{n_seq}i", idx, off)
    off += 4 * n_seq
    pointers = struct.unpack_from(f"<{n_seq}q", idx, off)
    off += 8 * n_seq
    doc_idx = struct.unpack_from(f"<{n_doc}q", idx, off)
    off += 8 * n_doc
    assert off == len(idx), f"{len(idx) - off} trailing bytes in .idx"
    fmt = DTYPES[code]
    item = struct.calcsize(fmt)
    with open(prefix + ".bin", "rb") as f:
        data = f.read()
    assert len(data) == sum(sizes) * item, "bin size != sum(sizes) * itemsize"
    seqs = [list(struct.unpack_from(f"<{s}{fmt}", data, p)) for s, p in zip(sizes, pointers)]
    docs = [sum(seqs[doc_idx[d]:doc_idx[d + 1]], []) for d in range(n_doc - 1)]
    return code, docs


def main():
    qkvd, corpus, golden, separator, work = sys.argv[1:6]
    os.makedirs(work, exist_ok=True)
    out = os.path.join(work, "corpus.bin")
    subprocess.run([qkvd, "run", "-p", "tokenize-gpt2", "-i", corpus, "-o", out, "--set",
                    "output.format=megatron"], check=True, stdout=subprocess.DEVNULL)
    code, docs = read_dataset(out[:-4])
    expected = [json.loads(l) + [int(separator)] for l in gzip.open(golden, "rt")]
    assert code == 8, f"dtype code {code}, expected 8 (uint16) for GPT-2"
    assert len(docs) == len(expected), f"{len(docs)} documents, expected {len(expected)}"
    bad = [i for i, (a, b) in enumerate(zip(docs, expected)) if a != b]
    assert not bad, f"documents {bad[:5]} differ from the golden ids + separator"
    print(f"megatron: {len(docs)} documents, {sum(map(len, docs))} ids match the goldens")


if __name__ == "__main__":
    main()
