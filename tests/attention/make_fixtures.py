#!/usr/bin/python3
"""Makes the PyTorch fixtures for the attention tests (run with Debian's /usr/bin/python3).

Each case writes fixtures/<case>.json (shapes, mask, scale, cu_seqlens, file names) and raw
little-endian float32 files <case>.{q,k,v,out[,probs]}.bin in the ABI's packed layout
([tokens, heads, head_dim]; probs per sequence, per query head, [Lq, Lk] row-major).

Expected outputs are softmax(q k^T * scale + mask) v computed in float64 torch, one sequence
at a time, with k/v heads repeated (repeat_interleave) for GQA/MQA and the causal mask
bottom-right aligned (query i sees keys j <= i + Lk - Lq). Where torch has a ready-made path
(nn.functional.multi_head_attention_forward with identity projections, for MHA without masks
or with Lq == Lk causal masks) the script checks the explicit formula against it first.
manifest.json records the torch version and every file's sha256.
"""
import hashlib
import json
import math
import pathlib

import torch
import torch.nn.functional as F

OUT = pathlib.Path(__file__).resolve().parent / "fixtures"


def visible(lq, lk, causal):
    """[lq, lk] bool: which keys each query sees."""
    if not causal:
        return torch.ones(lq, lk, dtype=torch.bool)
    i = torch.arange(lq).unsqueeze(1)
    j = torch.arange(lk).unsqueeze(0)
    return j <= i + (lk - lq)


def attend(q, k, v, causal, scale):
    """One sequence, float64. q [lq, hq, d], k/v [lk, hkv, d] -> out [lq, hq, d], probs [hq, lq, lk]."""
    hq, hkv = q.shape[1], k.shape[1]
    k = k.repeat_interleave(hq // hkv, dim=1)
    v = v.repeat_interleave(hq // hkv, dim=1)
    s = torch.einsum("ihd,jhd->hij", q, k) * scale
    seen = visible(q.shape[0], k.shape[0], causal)
    s = s.masked_fill(~seen, float("-inf"))
    # A row with no visible key is all -inf: softmax would give NaN; the contract says zeros.
    p = torch.softmax(s, dim=-1).nan_to_num(0.0)
    return torch.einsum("hij,jhd->ihd", p, v), p


def torch_mha(q, k, v, causal):
    """The same through torch's own multi-head attention with identity projections (MHA only)."""
    lq, h, d = q.shape
    e = h * d
    eye = torch.eye(e, dtype=torch.float64)
    mask = None
    if causal:
        mask = ~visible(lq, k.shape[0], True)
    out, _ = F.multi_head_attention_forward(
        q.reshape(lq, 1, e), k.reshape(-1, 1, e), v.reshape(-1, 1, e), e, h,
        in_proj_weight=None, in_proj_bias=None, bias_k=None, bias_v=None, add_zero_attn=False,
        dropout_p=0.0, out_proj_weight=eye, out_proj_bias=torch.zeros(e, dtype=torch.float64),
        training=False, need_weights=False, attn_mask=mask, use_separate_proj_weight=True,
        q_proj_weight=eye, k_proj_weight=eye, v_proj_weight=eye)
    return out.reshape(lq, h, d)


def make_case(name, seed, lens_q, lens_k, heads_q, heads_kv, dim, causal, scale=0.0, probs=False):
    g = torch.Generator().manual_seed(seed)
    tq, tk = sum(lens_q), sum(lens_k)
    q = torch.randn(tq, heads_q, dim, generator=g)
    k = torch.randn(tk, heads_kv, dim, generator=g)
    v = torch.randn(tk, heads_kv, dim, generator=g)
    eff_scale = scale if scale != 0.0 else 1.0 / math.sqrt(dim)
    outs, ps = [], []
    cq, ck = [0], [0]
    for lq, lk in zip(lens_q, lens_k):
        qs = q[cq[-1]:cq[-1] + lq].double()
        ks = k[ck[-1]:ck[-1] + lk].double()
        vs = v[ck[-1]:ck[-1] + lk].double()
        o, p = attend(qs, ks, vs, causal, eff_scale)
        every_row_sees = bool(visible(lq, lk, causal).any(dim=1).all()) if lq and lk else False
        if heads_q == heads_kv and scale == 0.0 and every_row_sees and (not causal or lq == lk):
            ref = torch_mha(qs, ks, vs, causal)
            assert torch.allclose(o, ref, rtol=1e-10, atol=1e-12), f"{name}: formula != torch MHA"
        outs.append(o)
        ps.append(p.reshape(-1))
        cq.append(cq[-1] + lq)
        ck.append(ck[-1] + lk)
    tensors = {"q": q, "k": k, "v": v, "out": torch.cat(outs).float()}
    if probs:
        tensors["probs"] = torch.cat(ps).float()
    meta = {
        "batch": len(lens_q), "heads_q": heads_q, "heads_kv": heads_kv, "head_dim": dim,
        "mask": "causal" if causal else "none", "scale": scale,
        "cu_seqlens_q": cq, "cu_seqlens_k": ck, "files": {},
    }
    written = []
    for key, t in tensors.items():
        fname = f"{name}.{key}.bin"
        (OUT / fname).write_bytes(t.contiguous().numpy().astype("<f4").tobytes())
        meta["files"][key] = fname
        written.append(fname)
    (OUT / f"{name}.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    return [f"{name}.json"] + written


CASES = [
    # name, seed, lens_q, lens_k, heads_q, heads_kv, dim, causal, extra
    ("self", 1, [7], [7], 2, 2, 16, False, {}),
    ("self_d80", 2, [5], [5], 3, 3, 80, False, {}),
    ("causal_equal", 3, [9, 9], [9, 9], 2, 2, 8, True, {}),
    ("causal_short_q", 4, [5], [12], 2, 2, 16, True, {}),  # bottom-right: last query sees all
    ("causal_long_q", 5, [10], [4], 2, 2, 8, True, {"probs": True}),  # rows 0..5 fully masked
    ("cross", 6, [6, 3], [11, 17], 4, 4, 16, False, {}),
    ("ragged_none", 7, [5, 1, 13], [5, 1, 13], 2, 2, 32, False, {}),
    ("ragged_causal", 8, [5, 1, 13], [5, 1, 13], 2, 2, 32, True, {}),
    ("gqa", 9, [8, 3], [8, 3], 6, 2, 16, True, {}),
    ("gqa_cross", 10, [4, 7], [9, 2], 6, 3, 8, False, {}),
    ("mqa", 11, [6, 11], [6, 11], 4, 1, 16, False, {}),
    ("probs", 12, [4, 6], [7, 6], 2, 1, 8, True, {"probs": True}),
    ("scale", 13, [6], [6], 2, 2, 16, False, {"scale": 0.3}),
    ("empty_keys", 14, [3, 4], [0, 5], 2, 2, 8, False, {"probs": True}),  # Lk = 0: zeros
]


def main():
    OUT.mkdir(exist_ok=True)
    torch.set_num_threads(1)
    files = []
    for name, seed, lq, lk, hq, hkv, d, causal, extra in CASES:
        files += make_case(name, seed, lq, lk, hq, hkv, d, causal, **extra)
    manifest = {
        "generator": "tests/attention/make_fixtures.py",
        "torch": torch.__version__,
        "files": {f: hashlib.sha256((OUT / f).read_bytes()).hexdigest() for f in sorted(files)},
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(files)} files to {OUT}")


if __name__ == "__main__":
    main()
