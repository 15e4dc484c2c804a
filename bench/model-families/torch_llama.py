#!/usr/bin/python3
"""The torch side of bench/model-families: a random Llama-layout model of SmolLM-360M's shape.

  torch_llama.py make DIR [--dtype F32|BF16] [--layers N]   config.json + model.safetensors
  torch_llama.py time DIR --threads N [--sequences S --seq-len L --reps R]   JSON on stdout

SmolLM-360M (HuggingFaceTB/SmolLM-360M config.json): hidden 960, 15 heads, 5 kv heads, head_dim
64, intermediate 2560, 32 layers, vocabulary 49152, tied embeddings, rope_theta 10000. --layers
keeps fewer of the identical layers so a run fits a loaded 2-core machine. The forward pass timed
is tests/model/make_hf_fixtures.py's llama_forward (the parity-tested reference, from
modeling_llama.py), in float32, on ids from the formula family_bench.cpp uses.
"""
import argparse
import json
import os
import statistics
import struct
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "model"))
from make_fixtures import save_safetensors  # noqa: E402
from make_hf_fixtures import DTYPES, llama_config, llama_forward, llama_state  # noqa: E402


def smollm_config(layers):
    return llama_config("llama", vocab_size=49152, hidden_size=960, intermediate_size=2560,
                        num_hidden_layers=layers, num_attention_heads=15, num_key_value_heads=5,
                        tie_word_embeddings=True, max_position_embeddings=2048, rms_norm_eps=1e-5)


def make(d, dtype, layers):
    cfg = smollm_config(layers)
    st = llama_state(cfg, DTYPES[dtype], torch.Generator().manual_seed(7), std=0.02)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    save_safetensors(os.path.join(d, "model.safetensors"), st)


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        raw = bytearray(data[b:end])
        if e["dtype"] == "BF16":
            t = torch.frombuffer(raw, dtype=torch.bfloat16)
        else:
            t = torch.frombuffer(raw, dtype=torch.float32)
        out[name] = t.reshape(e["shape"]).float()
    return out


def time_it(d, threads, sequences, seq_len, reps):
    torch.set_num_threads(threads)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    st = load_safetensors(os.path.join(d, "model.safetensors"))
    n = sequences * seq_len
    ids = torch.tensor([(i * 2654435761 + 12345) % cfg["vocab_size"] for i in range(n)]).view(sequences, seq_len)
    walls, cpus = [], []
    with torch.no_grad():
        llama_forward(cfg, st, ids)  # warm-up
        for _ in range(reps):
            w0, c0 = time.perf_counter(), time.process_time()
            llama_forward(cfg, st, ids)
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
    print(json.dumps({"torch": torch.__version__, "threads": threads, "tokens": n,
                      "tokens_per_s": n / statistics.median(walls),
                      "tokens_per_cpu_s": n / min(cpus)}))


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("dir")
    m.add_argument("--dtype", default="F32", choices=["F32", "BF16"])
    m.add_argument("--layers", type=int, default=32)
    t = sub.add_parser("time")
    t.add_argument("dir")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--sequences", type=int, default=4)
    t.add_argument("--seq-len", type=int, default=128)
    t.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    if a.cmd == "make":
        make(a.dir, a.dtype, a.layers)
    else:
        time_it(a.dir, a.threads, a.sequences, a.seq_len, a.reps)


if __name__ == "__main__":
    main()
