#!/usr/bin/python3
"""A random model directory in qkv's own layout (nn.Transformer names, docs/model.md), for
timing the runtime where torch is not installed: model_bench --model DIR runs it.

  make_synthetic.py DIR [--arch encoder|decoder|encoder-decoder]
                        [--positions learned|sinusoidal|rotary|none]
                        [--d-model 512] [--heads 8] [--layers 6] [--ffn 2048] [--vocab 8192]
                        [--max-positions 1024]

encoder-decoder: --layers encoder and as many decoder layers (nn.Transformer's, with cross
attention), embeddings shared and tied to the LM head, decoder_start_token_id 1; post-norm and
ReLU like Transformer-base (the others are pre-norm decoders and post-norm encoders, GELU).

Only the standard library: the weights are one block of uniform floats, repeated (their values
do not change the time; norms are 1 and 0 so activations stay finite). F32, little-endian.
"""
import argparse
import array
import json
import math
import os
import random
import struct
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir")
    p.add_argument("--arch", choices=["encoder", "decoder", "encoder-decoder"], default="encoder")
    p.add_argument("--positions", choices=["learned", "sinusoidal", "rotary", "none"], default="learned")
    p.add_argument("--d-model", type=int, default=512)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--ffn", type=int, default=2048)
    p.add_argument("--vocab", type=int, default=8192)
    p.add_argument("--max-positions", type=int, default=1024)
    a = p.parse_args()
    d, f = a.d_model, a.ffn
    stacks = ["encoder", "decoder"] if a.arch == "encoder-decoder" else [a.arch]
    config = {"model_type": "qkv", "architecture": a.arch, "vocab_size": a.vocab, "d_model": d,
              "num_heads": a.heads, "ffn_dim": f, "max_positions": a.max_positions,
              "norm": "layernorm", "norm_first": a.arch == "decoder", "final_norm": True,
              "activation": "relu" if a.arch == "encoder-decoder" else "gelu",
              "positions": a.positions}
    for stack in stacks:
        config[f"{stack}_layers"] = a.layers
    if a.arch == "encoder-decoder":
        config.update({"tie_lm_head": True, "decoder_start_token_id": 1,
                       "embed_scale": math.sqrt(d)})

    shapes = {f"{stacks[0]}.embed_tokens.weight": [a.vocab, d]}  # shared by both stacks
    for stack in stacks:
        if a.positions == "learned":
            shapes[f"{stack}.embed_positions.weight"] = [a.max_positions, d]
        for i in range(a.layers):
            L = f"{stack}.layers.{i}."
            attn = ["self_attn."] + (["multihead_attn."] if len(stacks) == 2 and stack == "decoder" else [])
            for m in attn:
                shapes.update({L + m + "in_proj_weight": [3 * d, d], L + m + "in_proj_bias": [3 * d],
                               L + m + "out_proj.weight": [d, d], L + m + "out_proj.bias": [d]})
            shapes.update({L + "linear1.weight": [f, d], L + "linear1.bias": [f],
                           L + "linear2.weight": [d, f], L + "linear2.bias": [d]})
            for n in ("norm1", "norm2", "norm3")[:len(attn) + 1]:
                shapes.update({L + n + ".weight": [d], L + n + ".bias": [d]})
        shapes.update({f"{stack}.norm.weight": [d], f"{stack}.norm.bias": [d]})

    rng = random.Random(7)
    block = array.array("f", (rng.uniform(-0.05, 0.05) for _ in range(1 << 16)))
    if sys.byteorder != "little":
        block.byteswap()

    def data(name, n):
        if "norm" in name:
            return array.array("f", [1.0 if name.endswith("weight") else 0.0]) * n
        return (block * (n // len(block) + 1))[:n]

    count = {name: math.prod(shape) for name, shape in shapes.items()}
    header, off = {}, 0
    for name in sorted(shapes):
        header[name] = {"dtype": "F32", "shape": shapes[name], "data_offsets": [off, off + 4 * count[name]]}
        off += 4 * count[name]
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    os.makedirs(a.dir, exist_ok=True)
    with open(os.path.join(a.dir, "config.json"), "w") as out:
        json.dump(config, out, indent=2, sort_keys=True)
        out.write("\n")
    with open(os.path.join(a.dir, "model.safetensors"), "wb") as out:
        out.write(struct.pack("<Q", len(h)))
        out.write(h)
        for name in sorted(shapes):
            out.write(data(name, count[name]).tobytes())


if __name__ == "__main__":
    main()
