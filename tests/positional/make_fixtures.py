#!/usr/bin/python3
"""Makes the PyTorch fixtures of the positional plugins (run with Debian's python3 + torch 1.13).

Each case is written as .npy files (inputs and expected outputs, float32 / int32) into
fixtures/, and fixtures/manifest.json records the torch version, every case's parameters and
each file's sha256. The references follow the usual public formulations, independent of the
C++ code:
  - sinusoidal: the PyTorch tutorial's PositionalEncoding (div_term via exp/log, sin on even,
    cos on odd columns), evaluated in float64;
  - RoPE neox: HF LLaMA's rotate_half (cat(-x2, x1)) with cos/sin of cat(freqs, freqs);
  - RoPE gptj: HF GPT-J's rotate_every_two (stack(-x_odd, x_even)) with repeat_interleave'd
    cos/sin; partial rotary as GPT-NeoX / GPT-J do it (rotate the first rotary_dim dims);
  - learned: torch.nn.Embedding lookup.
Angles are computed in float64 (as the plugins do), inputs and outputs are stored as float32.

Usage: make_fixtures.py [--out DIR] [--check]
  --check  regenerate into a temporary folder and report any file that differs from fixtures/.
"""
import argparse
import hashlib
import json
import math
import pathlib
import shutil
import sys
import tempfile

import numpy as np
import torch

HERE = pathlib.Path(__file__).resolve().parent


def sinusoidal_pe(positions, d_model, base):
    # The tutorial's formula, with positions given explicitly instead of arange(max_len).
    position = positions.to(torch.float64).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64) *
                         (-math.log(base) / d_model))
    pe = torch.zeros(len(positions), d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rotate_every_two(x):
    x1 = x[..., ::2]
    x2 = x[..., 1::2]
    return torch.stack((-x2, x1), dim=-1).flatten(-2)


def rope(x, positions, layout, base, rotary_fraction):
    """x: [tokens, heads, head_dim] float32 -> rotated float32 (math in float64)."""
    head_dim = x.shape[-1]
    rotary_dim = int(head_dim * rotary_fraction)
    x = x.to(torch.float64)
    x_rot, x_pass = x[..., :rotary_dim], x[..., rotary_dim:]
    inv_freq = 1.0 / (base ** (torch.arange(0, rotary_dim, 2, dtype=torch.float64) / rotary_dim))
    freqs = torch.einsum("i,j->ij", positions.to(torch.float64), inv_freq)  # [tokens, rd/2]
    if layout == "neox":
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
        out = x_rot * cos + rotate_half(x_rot) * sin
    elif layout == "gptj":
        cos = torch.repeat_interleave(freqs.cos(), 2, dim=-1)[:, None, :]
        sin = torch.repeat_interleave(freqs.sin(), 2, dim=-1)[:, None, :]
        out = x_rot * cos + rotate_every_two(x_rot) * sin
    else:
        raise ValueError(layout)
    return torch.cat((out, x_pass), dim=-1).to(torch.float32)


def positions_tensor(values):
    return torch.tensor(values, dtype=torch.int32)


def make_cases(gen):
    cases = []

    def randn(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float32)

    # Additive sinusoidal: small and large positions, two widths and a non-default base.
    for name, d, base, pos in [
        ("sinusoidal_d64", 64, 10000.0, [0, 1, 2, 3, 10, 63, 64, 511, 2047, 4095]),
        ("sinusoidal_d512", 512, 10000.0, [0, 1, 5, 100, 1000, 8191, 30000, 7, 7]),
        ("sinusoidal_d32_base500", 32, 500.0, [0, 3, 9, 27, 81, 243]),
    ]:
        p = positions_tensor(pos)
        x = randn(len(pos), d)
        expected = (x.to(torch.float64) + sinusoidal_pe(p, d, base)).to(torch.float32)
        pe_only = sinusoidal_pe(p, d, base).to(torch.float32)
        cases.append(dict(name=name, kind="sinusoidal", config=dict(base=base),
                          arrays=dict(x=x, positions=p, expected=expected, pe=pe_only)))

    # Rotary: both layouts, full and partial rotary fractions, a non-default base, GQA-like
    # head counts and large positions.
    for name, layout, heads, head_dim, fraction, base, pos in [
        ("rope_neox_d64", "neox", 4, 64, 1.0, 10000.0, [0, 1, 2, 7, 100, 511, 4095, 30000]),
        ("rope_gptj_d64", "gptj", 4, 64, 1.0, 10000.0, [0, 1, 2, 7, 100, 511, 4095, 30000]),
        ("rope_neox_d128_base1e6", "neox", 2, 128, 1.0, 1000000.0, [0, 5, 17, 1023, 65535]),
        ("rope_neox_d64_partial25", "neox", 3, 64, 0.25, 10000.0, [0, 1, 9, 300, 2047]),
        ("rope_gptj_d32_partial50", "gptj", 3, 32, 0.5, 10000.0, [0, 1, 9, 300, 2047]),
        ("rope_gptj_d80", "gptj", 2, 80, 1.0, 10000.0, [3, 2, 1, 0, 12345]),
    ]:
        p = positions_tensor(pos)
        x = randn(len(pos), heads, head_dim)
        expected = rope(x, p, layout, base, fraction)
        cases.append(dict(name=name, kind="rope",
                          config=dict(layout=layout, base=base, rotary_fraction=fraction),
                          arrays=dict(x=x, positions=p, expected=expected)))

    # Learned: an embedding table as GPT-2's wpe.
    table = torch.nn.Embedding(32, 24)
    with torch.no_grad():
        table.weight.copy_(randn(32, 24))
        p = positions_tensor([0, 1, 2, 31, 5, 5, 17])
        x = randn(len(p), 24)
        expected = (x + table(p.long())).to(torch.float32)
    cases.append(dict(name="learned_32x24", kind="learned", config=dict(tensor="wpe.weight"),
                      arrays=dict(table=table.weight.detach().clone(), x=x, positions=p,
                                  expected=expected)))
    return cases


def write(out_dir):
    out_dir.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(20170612)
    manifest = dict(generator="tests/positional/make_fixtures.py", torch=torch.__version__,
                    numpy=np.__version__, tolerance="|a-b| <= 1e-5 + 1e-4*max|ref|",
                    cases=[], sha256={})
    for case in make_cases(gen):
        files = {}
        for key, tensor in case["arrays"].items():
            fname = f"{case['name']}.{key}.npy"
            np.save(out_dir / fname, tensor.numpy())
            files[key] = fname
            manifest["sha256"][fname] = hashlib.sha256((out_dir / fname).read_bytes()).hexdigest()
        manifest["cases"].append(dict(name=case["name"], kind=case["kind"],
                                      config=case["config"], files=files))
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=pathlib.Path, default=HERE / "fixtures")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    if not args.check:
        write(args.out)
        print(f"wrote {args.out}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = pathlib.Path(tmp)
        write(fresh)
        differ = [f.name for f in sorted(fresh.iterdir())
                  if not (args.out / f.name).exists() or
                  (args.out / f.name).read_bytes() != f.read_bytes()]
        stale = [f.name for f in sorted(args.out.iterdir()) if not (fresh / f.name).exists()]
    for name in differ:
        print(f"differs: {name}")
    for name in stale:
        print(f"not generated any more: {name}")
    if differ or stale:
        print(f"positional fixtures: {len(differ) + len(stale)} file(s) differ "
              f"(regenerate with {sys.argv[0]})")
        return 1
    print("positional fixtures: identical")
    return 0


if __name__ == "__main__":
    sys.exit(main())
