#!/usr/bin/python3
"""Makes the .npy fixtures of the `qkvd attention` test (Debian's python3 + torch 1.13).

Each case: q/k/v float32 [tokens, heads, head_dim], optional int32 cu_seqlens, and the
expected output computed with torch in float64 per sequence: key/value heads expanded with
repeat_interleave (GQA as HuggingFace does it), scores = q k^T * scale, causal mask aligned
bottom-right (query i of Lq sees keys j <= i + Lk - Lq), softmax, probabilities @ v; rows with
no visible key are zeros. fixtures/manifest.json records the torch version, each case's
command-line flags and each file's sha256.

Usage: make_fixtures.py [--check]   (--check: regenerate in a temporary folder and compare)
"""
import argparse
import hashlib
import json
import math
import pathlib
import sys
import tempfile

import numpy as np
import torch

HERE = pathlib.Path(__file__).resolve().parent

CASES = [
    # name, heads_q, heads_kv, head_dim, q lengths, k lengths, causal, scale, use_cu
    ("self_causal_gqa", 4, 2, 16, [5, 7], [5, 7], True, None, True),
    ("cross_scaled", 2, 2, 8, [3, 4], [6, 2], False, 0.3, True),
    ("causal_longer_queries", 2, 1, 8, [6], [3], True, None, True),
    ("single_sequence", 3, 3, 32, [9], [9], False, None, False),
]


def attention(q, k, v, causal, scale):
    """q [Lq, Hq, D], k/v [Lk, Hkv, D] float64 -> [Lq, Hq, D]."""
    lq, hq, d = q.shape
    lk, hkv, _ = k.shape
    k = k.repeat_interleave(hq // hkv, dim=1)
    v = v.repeat_interleave(hq // hkv, dim=1)
    scores = torch.einsum("ihd,jhd->hij", q, k) * scale
    visible = torch.ones(lq, lk, dtype=torch.bool)
    if causal:
        i = torch.arange(lq)[:, None]
        j = torch.arange(lk)[None, :]
        visible = j <= i + lk - lq
    scores = scores.masked_fill(~visible, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    probs = torch.nan_to_num(probs, nan=0.0)  # rows with no visible key
    return torch.einsum("hij,jhd->ihd", probs, v)


def write(out_dir):
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(2017)
    manifest = dict(generator="tests/conformance/qkvd_attention/make_fixtures.py",
                    torch=torch.__version__, numpy=np.__version__, cases=[], sha256={})
    for name, hq, hkv, d, lqs, lks, causal, scale, use_cu in CASES:
        q = torch.randn(sum(lqs), hq, d, generator=gen)
        k = torch.randn(sum(lks), hkv, d, generator=gen)
        v = torch.randn(sum(lks), hkv, d, generator=gen)
        s = scale if scale is not None else 1.0 / math.sqrt(d)
        outs, q0, k0 = [], 0, 0
        for lq, lk in zip(lqs, lks):
            outs.append(attention(q[q0:q0 + lq].double(), k[k0:k0 + lk].double(),
                                  v[k0:k0 + lk].double(), causal, s))
            q0, k0 = q0 + lq, k0 + lk
        arrays = dict(q=q, k=k, v=v, expected=torch.cat(outs).float())
        flags = []
        if use_cu:
            arrays["cu_q"] = torch.tensor(np.cumsum([0] + lqs), dtype=torch.int32)
            arrays["cu_k"] = torch.tensor(np.cumsum([0] + lks), dtype=torch.int32)
        if causal:
            flags.append("--causal")
        if scale is not None:
            flags += ["--scale", repr(scale)]
        files = {}
        for key, t in arrays.items():
            fname = f"{name}.{key}.npy"
            np.save(out_dir / fname, t.numpy())
            files[key] = fname
            manifest["sha256"][fname] = hashlib.sha256((out_dir / fname).read_bytes()).hexdigest()
        manifest["cases"].append(dict(name=name, flags=flags, heads_kv=hkv, files=files))
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    target = HERE / "fixtures"
    if not args.check:
        write(target)
        print(f"wrote {target}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = pathlib.Path(tmp)
        write(fresh)
        differ = sorted(f.name for f in fresh.iterdir()
                        if not (target / f.name).exists() or
                        (target / f.name).read_bytes() != f.read_bytes())
        stale = sorted(f.name for f in target.iterdir() if not (fresh / f.name).exists())
    for n in differ:
        print(f"differs: {n}")
    for n in stale:
        print(f"not generated any more: {n}")
    print("qkvd attention fixtures: " + ("identical" if not differ and not stale else "DIFFER"))
    return 1 if differ or stale else 0


if __name__ == "__main__":
    sys.exit(main())
