#!/usr/bin/python3
"""The torch side of bench/model: a BERT-base-sized encoder (random weights, HF BERT names).

  torch_bert.py make DIR                writes DIR/config.json + DIR/model.safetensors
  torch_bert.py time DIR --threads N    times torch 1.13 on the same weights, prints JSON
  torch_bert.py export DIR              writes DIR/model.onnx (the same weights) for ORT's side,
                                        bench/model/ort/ort_bert.mjs

The model is tests/model/make_fixtures.py's BertLike (the parity-tested definition), so both
sides compute the same function; ids follow the formula model_bench.cpp uses.
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
from make_fixtures import BertLike, save_safetensors  # noqa: E402

CONFIG = {"model_type": "bert", "vocab_size": 8192, "hidden_size": 768, "num_hidden_layers": 12,
          "num_attention_heads": 12, "intermediate_size": 3072, "hidden_act": "gelu",
          "max_position_embeddings": 512, "type_vocab_size": 2, "layer_norm_eps": 1e-12}


def build():
    c = CONFIG
    return BertLike(c["vocab_size"], c["hidden_size"], c["num_attention_heads"], c["num_hidden_layers"],
                    c["intermediate_size"], c["max_position_embeddings"], c["type_vocab_size"])


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
        out[name] = torch.frombuffer(bytearray(data[b:end]), dtype=torch.float32).reshape(e["shape"])
    return out


def make(d):
    torch.manual_seed(7)
    m = build()
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(1.0 + 0.1 * torch.randn_like(p) if "LayerNorm.weight" in name else 0.02 * torch.randn_like(p))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
    save_safetensors(os.path.join(d, "model.safetensors"), m.state_dict())


def export(d):
    """ids [sequences, seq_len] (int64) -> hidden [sequences, seq_len, 768]; every token is real
    (the bench's documents are all full length), so the key mask is all ones inside the graph."""
    m = build()
    m.load_state_dict(load_safetensors(os.path.join(d, "model.safetensors")))
    m.eval()

    class IdsOnly(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, ids):
            return self.inner(ids, torch.ones_like(ids, dtype=torch.bool))

    ids = torch.zeros(2, 128, dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(IdsOnly(m), (ids,), os.path.join(d, "model.onnx"), input_names=["ids"],
                          output_names=["hidden"], opset_version=14,
                          dynamic_axes={"ids": {0: "sequences", 1: "tokens"},
                                        "hidden": {0: "sequences", 1: "tokens"}})


def time_it(d, threads, sequences, seq_len, reps):
    torch.set_num_threads(threads)
    m = build()
    m.load_state_dict(load_safetensors(os.path.join(d, "model.safetensors")))
    m.eval()
    n = sequences * seq_len
    ids = torch.tensor([(i * 2654435761 + 12345) % CONFIG["vocab_size"] for i in range(n)]).view(sequences, seq_len)
    mask = torch.ones(sequences, seq_len, dtype=torch.bool)
    times, cpu = [], []
    with torch.inference_mode():
        m(ids, mask)  # warm-up
        for _ in range(reps):
            t0, c0 = time.perf_counter(), time.process_time()
            m(ids, mask)
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    # process_time: CPU seconds of all threads, as model_bench measures (a shared machine's
    # other tenants do not count).
    print(json.dumps({"torch": torch.__version__, "threads": threads, "tokens_per_s": n / statistics.median(times),
                      "tokens_per_cpu_s": n / statistics.mean(cpu)}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["make", "time", "export"])
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sequences", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    if a.what == "make":
        make(a.dir)
    elif a.what == "export":
        export(a.dir)
    else:
        time_it(a.dir, a.threads, a.sequences, a.seq_len, a.reps)


if __name__ == "__main__":
    main()
