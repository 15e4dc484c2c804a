#!/usr/bin/python3
"""torch 1.13's side of the batch-32 decode comparison (issue 13 item 7): the model directory
generate_bench times (bench/model/make_synthetic.py --arch decoder: qkv's layout, pre-norm
LayerNorm, exact GELU, learned positions, LM head tied to the token embeddings), run by the
loop tests/model/make_generation_fixtures.py writes from the definitions (there is no
transformers package in Debian), here in float32 with a KV cache: every prompt in one
[batch, length] tensor, each layer's keys and values kept in a preallocated [batch, heads,
positions, head_dim] cache that a step writes one position of, greedy argmax. Model
construction (reading and transposing the weights) is not timed; the prefill and each decode
step are, and ms per step is printed.

  torch_decode.py DIR [--threads 2] [--batch 32] [--prompt 128] [--steps 64] [--json FILE]

--json writes the figures for generate_bench --torch-json (with document 0's first 8 tokens,
which generate_bench prints too: the same model gives the same greedy tokens).

Prompt ids are those of generate_bench: token i of prompt b is (b * 131 + i * 7) % vocab.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "model"))
from torch_bert import load_safetensors  # noqa: E402  (F32, as make_synthetic.py writes)


class Decoder:
    def __init__(self, d):
        with open(os.path.join(d, "config.json")) as f:
            self.cfg = cfg = json.load(f)
        assert cfg["architecture"] == "decoder" and cfg["norm_first"] and cfg["positions"] == "learned"
        w = load_safetensors(os.path.join(d, "model.safetensors"))
        self.H, self.d, self.eps = cfg["num_heads"], cfg["d_model"], cfg.get("norm_eps", 1e-5)
        self.tokens = w["decoder.embed_tokens.weight"]
        self.positions = w["decoder.embed_positions.weight"]
        self.layers = []
        for i in range(cfg["decoder_layers"]):
            p = "decoder.layers.%d." % i
            self.layers.append({k: w[p + k].contiguous() for k in (
                "norm1.weight", "norm1.bias", "self_attn.in_proj_weight", "self_attn.in_proj_bias",
                "self_attn.out_proj.weight", "self_attn.out_proj.bias", "norm2.weight", "norm2.bias",
                "linear1.weight", "linear1.bias", "linear2.weight", "linear2.bias")})
        self.final = (w["decoder.norm.weight"], w["decoder.norm.bias"])

    def new_cache(self, batch, length):
        hd = self.d // self.H
        return [(torch.empty(batch, self.H, length, hd), torch.empty(batch, self.H, length, hd))
                for _ in self.layers]

    def forward(self, ids, start, cache):
        """ids [B, L] at positions start.. ; writes K/V there; returns the last row's logits."""
        B, L = ids.shape
        H, d = self.H, self.d
        hd = d // H
        x = self.tokens[ids] + self.positions[start:start + L]
        end = start + L
        for w, (kc, vc) in zip(self.layers, cache):
            a = F.layer_norm(x, (d,), w["norm1.weight"], w["norm1.bias"], self.eps)
            q, k, v = F.linear(a, w["self_attn.in_proj_weight"], w["self_attn.in_proj_bias"]).split(d, -1)
            q = q.view(B, L, H, hd).transpose(1, 2)
            kc[:, :, start:end] = k.view(B, L, H, hd).transpose(1, 2)
            vc[:, :, start:end] = v.view(B, L, H, hd).transpose(1, 2)
            s = q @ kc[:, :, :end].transpose(-1, -2) / math.sqrt(hd)
            if L > 1:
                s = s.masked_fill(torch.ones(L, end, dtype=torch.bool).triu(start + 1), float("-inf"))
            o = (torch.softmax(s, -1) @ vc[:, :, :end]).transpose(1, 2).reshape(B, L, d)
            x = x + F.linear(o, w["self_attn.out_proj.weight"], w["self_attn.out_proj.bias"])
            m = F.layer_norm(x, (d,), w["norm2.weight"], w["norm2.bias"], self.eps)
            x = x + F.linear(F.gelu(F.linear(m, w["linear1.weight"], w["linear1.bias"])),
                             w["linear2.weight"], w["linear2.bias"])
        x = F.layer_norm(x[:, -1], (d,), self.final[0], self.final[1], self.eps)
        return x @ self.tokens.T


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--prompt", type=int, default=128)
    p.add_argument("--steps", type=int, default=64)
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    m = Decoder(a.dir)  # construction: not timed
    V = m.cfg["vocab_size"]
    ids = torch.tensor([[(b * 131 + i * 7) % V for i in range(a.prompt)] for b in range(a.batch)])
    cache = m.new_cache(a.batch, a.prompt + a.steps + 1)
    with torch.no_grad():
        t0 = time.perf_counter()
        nxt = m.forward(ids, 0, cache).argmax(-1)
        prefill = time.perf_counter() - t0
        first = [int(nxt[0])]
        c0, times = time.process_time(), []
        for s in range(a.steps):
            t0 = time.perf_counter()
            nxt = m.forward(nxt[:, None], a.prompt + s, cache).argmax(-1)
            times.append(time.perf_counter() - t0)
            first.append(int(nxt[0]))
        cpu = time.process_time() - c0
    total = sum(times)
    figures = {"torch": torch.__version__, "threads": torch.get_num_threads(),
               "tokens_per_s": a.batch * a.steps / total, "median_step_ms": 1e3 * statistics.median(times),
               "tokens_per_cpu_s": a.batch * a.steps / cpu, "prefill_tokens_per_s": a.batch * a.prompt / prefill,
               "first": first[:8]}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(figures, f)
    print("torch %s, %d threads: batch %d, prompt %d, %d decode steps" % (
        torch.__version__, torch.get_num_threads(), a.batch, a.prompt, a.steps))
    print("| torch batch-%d decode | %.1f tokens/s (%.2f ms per step, median %.2f); %.1f tokens per CPU-second |" % (
        a.batch, a.batch * a.steps / total, 1e3 * total / a.steps, 1e3 * statistics.median(times),
        a.batch * a.steps / cpu))
    print("| torch prefill, %d x %d tokens | %.1f tokens/s |" % (a.batch, a.prompt, a.batch * a.prompt / prefill))


if __name__ == "__main__":
    main()
