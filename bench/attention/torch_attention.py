#!/usr/bin/python3
"""torch 1.13 peer for bench/attention: matmul + softmax + matmul, fp32, median seconds.

Usage: torch_attention.py THREADS REPEATS SHAPES_JSON
SHAPES_JSON: [{"batch":..,"heads":..,"lq":..,"lk":..,"dim":..,"causal":bool}, ...]
Prints a JSON list, one [median wall seconds on THREADS threads, best thread-CPU seconds on
1 thread] per shape (the second is barely affected by other load on the machine).
"""
import json
import statistics
import sys
import time

import torch


def run(shape, repeats, threads):
    b, h, lq, lk, d = (shape[k] for k in ("batch", "heads", "lq", "lk", "dim"))
    g = torch.Generator().manual_seed(0)
    q = torch.randn(b, h, lq, d, generator=g)
    k = torch.randn(b, h, lk, d, generator=g)
    v = torch.randn(b, h, lk, d, generator=g)
    scale = d ** -0.5
    mask = None
    if shape["causal"]:  # bottom-right aligned: query i sees keys j <= i + lk - lq
        i = torch.arange(lq).unsqueeze(1)
        j = torch.arange(lk).unsqueeze(0)
        mask = j > i + (lk - lq)

    def once():
        s = torch.matmul(q, k.transpose(-1, -2)) * scale
        if mask is not None:
            s = s.masked_fill(mask, float("-inf"))
        return torch.matmul(torch.softmax(s, dim=-1), v)

    with torch.no_grad():
        torch.set_num_threads(threads)
        once()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            once()
            times.append(time.perf_counter() - t0)
        torch.set_num_threads(1)  # intra-op work then runs on this thread: thread_time sees it all
        once()
        cpu = []
        for _ in range(repeats):
            t0 = time.thread_time()
            once()
            cpu.append(time.thread_time() - t0)
    return [statistics.median(times), min(cpu)]


def main():
    threads, repeats, shapes = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
    print(json.dumps([run(s, repeats, threads) for s in shapes]))


if __name__ == "__main__":
    main()
