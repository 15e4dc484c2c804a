#!/usr/bin/python3
"""Greedy-generation references for the model runtime's generator (daemon/model/generator.cpp).
Run with Debian's python3 (torch 1.13; there is no transformers package in Debian, so the
decoding loop is written here from its definition: at every step the whole sequence is run
again, without any cache, in float64, and the argmax is appended).

Reads the committed tiny models (tests/model/fixtures/{gpt2-tiny,qkv-decoder,seq2seq-tiny}:
F16, F32 and F16 weights) and writes fixtures/generate/greedy.json: per model, prompts (for
seq2seq-tiny: sources, the decoder starting from DECODER_START) of random ids and the ids
greedy decoding appends. Where the top-2 margin of the float64 logits is below 1e-3 the
reference stops for that prompt (a float32 runtime may rightly pick either token there);
`ambiguous` counts those prompts.

fixtures/generate/corpus.json holds the same greedy references over a corpus slice instead of
random ids: every document of a committed slice of tests/data/corpus (en.jsonl lines 0-15 and
code.jsonl lines 0-7), its prompt the document's first ids as the repo's token-id goldens hold
them (tests/data/golden/*.r50k_base.jsonl.gz, GPT-2's encoding, for gpt2-tiny;
*.bert-base-uncased.jsonl.gz, the seq2seq pipeline's tokenizer, for seq2seq-tiny's sources),
CORPUS_LENGTHS ids long in turn (the longest, 48 + 16 new tokens, fills gpt2-tiny's 64
positions). Each case names its file and line.

It also writes fixtures/generate/beam.json: beam search over the same prompts, written from
Hugging Face's definition (transformers/generation/beam_search.py, BeamSearchScorer.process /
finalize and BeamHypotheses.add / is_done; the loop of GenerationMixin._beam_search) rather than
imported: each step the max(2, 1 + #eos) * num_beams best (beam, token) pairs by summed
log-softmax; an eos pair ranked below num_beams becomes a finished hypothesis scored
sum / generated_len ** length_penalty (generated_len counts the eos token), the others continue
until num_beams continue; a prompt is done when num_beams hypotheses are finished and
early_stopping is set, or the worst of them >= best candidate sum / generated_len **
length_penalty; at max_new_tokens the running beams are added; the output is the best
hypothesis. The eos id of each model is the id its greedy references emit most often, so
hypotheses do finish early. Every beam is recomputed from scratch in float64; a prompt where two
candidates that decide the outcome are closer than MARGIN is marked ambiguous (not compared).
"""
import gzip
import json
import math
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "fixtures")
MARGIN = 1e-3
NEW_TOKENS = 16


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        raw = data[a:b]
        if e["dtype"] == "F32":
            t = torch.from_numpy(np.frombuffer(raw, dtype=np.float32).copy())
        elif e["dtype"] == "F16":
            t = torch.from_numpy(np.frombuffer(raw, dtype=np.float16).astype(np.float32))
        elif e["dtype"] == "BF16":
            t = torch.from_numpy(np.frombuffer(raw, dtype=np.int16).copy()).view(torch.bfloat16).float()
        else:
            raise ValueError(e["dtype"])
        out[name] = t.reshape(e["shape"]).double()
    return out


def attention(q, k, v, heads, causal=True):
    """softmax(q k^T / sqrt(hd) [+ causal mask]) v for one sequence: q [Lq, d], k, v [Lk, d]."""
    Lq, d = q.shape
    Lk = k.shape[0]
    hd = d // heads
    q = q.view(Lq, heads, hd).transpose(0, 1)
    k = k.view(Lk, heads, hd).transpose(0, 1)
    v = v.view(Lk, heads, hd).transpose(0, 1)
    s = q @ k.transpose(-1, -2) / math.sqrt(hd)
    if causal:
        s = s.masked_fill(torch.ones(Lq, Lk, dtype=torch.bool).triu(1), float("-inf"))
    return (torch.softmax(s, -1) @ v).transpose(0, 1).reshape(Lq, d)


def layer_norm(x, w, b, eps):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope(x, heads, base):
    """NeoX half-split rotation of [L, heads*hd]."""
    L, d = x.shape
    hd = d // heads
    half = hd // 2
    ang = torch.arange(L, dtype=torch.float64)[:, None] * base ** (
        -2.0 * torch.arange(half, dtype=torch.float64) / hd)
    c, s = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
    x = x.view(L, heads, hd)
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * c - b * s, b * c + a * s], -1).reshape(L, d)


def gpt2_logits(w, cfg, ids):
    H, eps = cfg["n_head"], cfg["layer_norm_epsilon"]
    x = w["wte.weight"][ids] + w["wpe.weight"][torch.arange(len(ids))]
    for i in range(cfg["n_layer"]):
        p = "h.%d." % i
        a = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        q, k, v = (a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]).chunk(3, -1)
        x = x + attention(q, k, v, H) @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        m = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        f = F.gelu(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"], approximate="tanh")
        x = x + f @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    return x[-1] @ w["wte.weight"].T


def qkv_decoder_logits(w, cfg, ids):
    H, eps, base = cfg["num_heads"], cfg["norm_eps"], cfg["rope_base"]
    x = w["decoder.embed_tokens.weight"][ids]
    for i in range(cfg["decoder_layers"]):
        p = "decoder.layers.%d." % i
        a = rms_norm(x, w[p + "norm1.weight"], eps)
        q, k, v = (a @ w[p + "self_attn.in_proj_weight"].T + w[p + "self_attn.in_proj_bias"]).chunk(3, -1)
        o = attention(rope(q, H, base), rope(k, H, base), v, H)
        x = x + o @ w[p + "self_attn.out_proj.weight"].T + w[p + "self_attn.out_proj.bias"]
        m = rms_norm(x, w[p + "norm2.weight"], eps)
        f = F.gelu(m @ w[p + "linear1.weight"].T + w[p + "linear1.bias"], approximate="tanh")
        x = x + f @ w[p + "linear2.weight"].T + w[p + "linear2.bias"]
    x = rms_norm(x, w["decoder.norm.weight"], eps)
    return x[-1] @ w["lm_head.weight"].T


DECODER_START = 101  # [CLS] of bert-base-uncased, the seq2seq pipeline's start id


def sinusoidal(L, d, base=10000.0):
    pos = torch.arange(L, dtype=torch.float64)[:, None]
    inv = base ** (-2.0 * torch.arange(d // 2, dtype=torch.float64) / d)
    pe = torch.zeros(L, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * inv)
    pe[:, 1::2] = torch.cos(pos * inv)
    return pe


def mha(w, p, x, mem, H, causal):
    """nn.MultiheadAttention from its packed in_proj: queries from x, keys/values from mem."""
    W, b = w[p + "in_proj_weight"], w[p + "in_proj_bias"]
    d = x.shape[1]
    q = x @ W[:d].T + b[:d]
    k = mem @ W[d:2 * d].T + b[d:2 * d]
    v = mem @ W[2 * d:].T + b[2 * d:]
    return attention(q, k, v, H, causal) @ w[p + "out_proj.weight"].T + w[p + "out_proj.bias"]


def seq2seq_logits(w, cfg, ids, source):
    """nn.Transformer, post-norm, ReLU, shared embeddings scaled by embed_scale + sinusoidal."""
    H, eps, d = cfg["num_heads"], cfg["norm_eps"], cfg["d_model"]
    emb = w["encoder.embed_tokens.weight"]

    def ln(x, p):
        return layer_norm(x, w[p + "weight"], w[p + "bias"], eps)

    def ff(x, p):
        return F.relu(x @ w[p + "linear1.weight"].T + w[p + "linear1.bias"]) @ w[p + "linear2.weight"].T + w[p + "linear2.bias"]

    m = emb[source] * cfg["embed_scale"] + sinusoidal(len(source), d)
    for i in range(cfg["encoder_layers"]):
        p = "encoder.layers.%d." % i
        m = ln(m + mha(w, p + "self_attn.", m, m, H, False), p + "norm1.")
        m = ln(m + ff(m, p), p + "norm2.")
    m = ln(m, "encoder.norm.")
    x = emb[ids] * cfg["embed_scale"] + sinusoidal(len(ids), d)
    for i in range(cfg["decoder_layers"]):
        p = "decoder.layers.%d." % i
        x = ln(x + mha(w, p + "self_attn.", x, x, H, True), p + "norm1.")
        x = ln(x + mha(w, p + "multihead_attn.", x, m, H, False), p + "norm2.")
        x = ln(x + ff(x, p), p + "norm3.")
    x = ln(x, "decoder.norm.")
    return x[-1] @ emb.T


def greedy(logits_fn, prompt, new_tokens):
    ids, out = list(prompt), []
    for _ in range(new_tokens):
        l = logits_fn(torch.tensor(ids))
        top = torch.topk(l, 2)
        if float(top.values[0] - top.values[1]) < MARGIN:
            return out, True
        out.append(int(top.indices[0]))
        ids.append(out[-1])
    return out, False


def beam_search(logits_fn, inputs, num_beams, length_penalty, early_stopping, eos, max_new,
                repetition_penalty=1.0):
    """Returns (ids, eos id or None, ambiguous). repetition_penalty as HF's _beam_search applies
    its logits processors: to the log-softmax scores, over the decoder's input ids (the prompt,
    or the decoder start) and the beam's ids, once per distinct id (negative scores multiplied,
    positive divided)."""
    K, C = num_beams, max(2, 1 + len(eos)) * num_beams
    beams = [([], 0.0)]  # HF starts beams 1.. at -1e9: the first step continues beam 0 only
    hyps, worst, ambiguous = [], 1e9, False

    def add(ids, total, generated, end):
        nonlocal worst
        score = total / generated ** length_penalty
        if len(hyps) < K or score > worst:
            hyps.append((score, ids, end))
            if len(hyps) > K:
                order = sorted((h[0], i) for i, h in enumerate(hyps))
                del hyps[order[0][1]]
                worst = order[1][0]
            else:
                worst = min(score, worst)

    for step in range(max_new):
        cands = []
        for b, (ids, total) in enumerate(beams):
            lp = torch.log_softmax(logits_fn(torch.tensor(inputs + ids)), -1)
            if repetition_penalty != 1.0:
                seen = torch.tensor(sorted(set(inputs + ids)))
                s = lp[seen]
                lp[seen] = torch.where(s < 0, s * repetition_penalty, s / repetition_penalty)
            top = torch.topk(lp, C + 1)
            cands += [(total + float(v), b, int(t)) for v, t in zip(top.values, top.indices)]
        cands.sort(key=lambda c: -c[0])
        generated = step + 1
        nxt, role = [], []  # role of each ranked candidate: continues, finishes, or neither
        for rank, (total, b, t) in enumerate(cands[:C + 1]):
            if len(nxt) == K or rank == C:
                role.append("out")
            elif t in eos:
                role.append("hyp" if rank < K else "out")
                if rank < K:
                    add(beams[b][0], total, generated, t)
            else:
                role.append("beam")
                nxt.append((total, b, t))
        # Only neighbours of different roles change the outcome when they swap.
        ambiguous |= any(cands[i][0] - cands[i + 1][0] < MARGIN and role[i] != role[i + 1]
                         for i in range(len(role) - 1))
        if len(hyps) >= K:
            attainable = cands[0][0] / generated ** length_penalty
            if not early_stopping:
                ambiguous |= abs(worst - attainable) < MARGIN
            if early_stopping or worst >= attainable:
                break
        beams = [(beams[b][0] + [t], total) for total, b, t in nxt]
        if generated == max_new:
            for ids, total in beams:
                add(ids, total, generated, None)
    ranked = sorted(hyps, key=lambda h: h[0])  # stable: the last of equal scores wins
    ambiguous |= len(ranked) > 1 and ranked[-1][0] - ranked[-2][0] < MARGIN
    return ranked[-1][1], ranked[-1][2], ambiguous


BEAM_SETTINGS = [{"num_beams": 4, "length_penalty": 1.0, "early_stopping": True},
                 {"num_beams": 3, "length_penalty": 0.6, "early_stopping": False},
                 {"num_beams": 3, "length_penalty": 1.0, "early_stopping": True,
                  "repetition_penalty": 1.5}]
BEAM_NEW_TOKENS = 12


def make_beam(name, logits_fn, greedy_fixture, seq2seq=False):
    d = os.path.join(FIX, name)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    w = load_safetensors(os.path.join(d, "model.safetensors"))
    # The eos id: the one the greedy references emit most often in their second half among
    # those none of them starts with (so hypotheses finish at different lengths rather than
    # all at the first step); without one (gpt2-tiny repeats two ids), none: beams run to
    # max_new_tokens.
    firsts = {c["ids"][0] for c in greedy_fixture["cases"] if c["ids"]}
    counts = {}
    for c in greedy_fixture["cases"]:
        for t in c["ids"][len(c["ids"]) // 2:]:
            if t not in firsts:
                counts[t] = counts.get(t, 0) + 1
    eos = max(sorted(counts), key=lambda t: counts[t]) if counts else None
    runs = []
    for setting in BEAM_SETTINGS:
        cases, ambiguous = [], 0
        for c in greedy_fixture["cases"]:
            prompt = c["prompt"]
            if seq2seq:
                fn, inputs = (lambda x: logits_fn(w, cfg, x, torch.tensor(prompt))), [DECODER_START]
            else:
                fn, inputs = (lambda x: logits_fn(w, cfg, x)), list(prompt)
            ids, end, amb = beam_search(fn, inputs, setting["num_beams"], setting["length_penalty"],
                                        setting["early_stopping"], [] if eos is None else [eos],
                                        BEAM_NEW_TOKENS, setting.get("repetition_penalty", 1.0))
            ambiguous += amb
            cases.append({"prompt": prompt, "ids": ids, "eos": end is not None, "ambiguous": amb})
        runs.append(dict(setting, ambiguous=ambiguous, cases=cases))
    return {"model": name, "max_new_tokens": BEAM_NEW_TOKENS, "eos": eos,
            "decoder_start": DECODER_START if seq2seq else None, "margin": MARGIN, "runs": runs}


def make(name, logits_fn, lengths, seed, seq2seq=False):
    d = os.path.join(FIX, name)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    w = load_safetensors(os.path.join(d, "model.safetensors"))
    g = torch.Generator().manual_seed(seed)
    V = cfg["vocab_size"]
    cases, ambiguous = [], 0
    for n in lengths:
        prompt = torch.randint(0, V, (n,), generator=g).tolist()
        if seq2seq:  # the decoder continues [DECODER_START] conditioned on the source
            ids, stopped = greedy(lambda x: logits_fn(w, cfg, x, torch.tensor(prompt)),
                                  [DECODER_START], NEW_TOKENS)
        else:
            ids, stopped = greedy(lambda x: logits_fn(w, cfg, x), prompt, NEW_TOKENS)
        ambiguous += stopped
        cases.append({"prompt": prompt, "ids": ids, "stopped_at_small_margin": stopped})
    return {"model": name, "max_new_tokens": NEW_TOKENS, "decoder_start": DECODER_START if seq2seq else None, "margin": MARGIN,
            "ambiguous": ambiguous, "cases": cases}


REPO = os.path.dirname(os.path.dirname(HERE))
CORPUS_SLICE = [("en", range(16)), ("code", range(8))]
CORPUS_LENGTHS = [48, 5, 31, 12, 1, 40, 23, 8]


def corpus_prompts(encoding):
    """[(golden file, line, prompt ids)] over CORPUS_SLICE; the i-th document's prompt is its
    first CORPUS_LENGTHS[i % len] ids."""
    out = []
    for corpus, lines in CORPUS_SLICE:
        rel = "tests/data/golden/%s.%s.jsonl.gz" % (corpus, encoding)
        with gzip.open(os.path.join(REPO, rel), "rt") as f:
            docs = [json.loads(l) for l in f]
        for line in lines:
            n = CORPUS_LENGTHS[len(out) % len(CORPUS_LENGTHS)]
            out.append((rel, line, docs[line][:n]))
    return out


def make_corpus(name, logits_fn, encoding, seq2seq=False):
    d = os.path.join(FIX, name)
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    w = load_safetensors(os.path.join(d, "model.safetensors"))
    cases, ambiguous = [], 0
    for rel, line, prompt in corpus_prompts(encoding):
        if seq2seq:
            ids, stopped = greedy(lambda x: logits_fn(w, cfg, x, torch.tensor(prompt)),
                                  [DECODER_START], NEW_TOKENS)
        else:
            ids, stopped = greedy(lambda x: logits_fn(w, cfg, x), prompt, NEW_TOKENS)
        ambiguous += stopped
        cases.append({"golden": rel, "line": line, "prompt": prompt, "ids": ids,
                      "stopped_at_small_margin": stopped})
    return {"model": name, "max_new_tokens": NEW_TOKENS,
            "decoder_start": DECODER_START if seq2seq else None, "margin": MARGIN,
            "ambiguous": ambiguous, "cases": cases}


def main():
    torch.set_num_threads(1)
    out = {"generator": "tests/model/make_generation_fixtures.py", "torch": torch.__version__,
           "models": [make("gpt2-tiny", gpt2_logits, [1, 5, 12, 3, 20, 7, 2, 9], 11),
                      make("qkv-decoder", qkv_decoder_logits, [1, 4, 13, 6, 25, 2, 9, 17], 12),
                      make("seq2seq-tiny", seq2seq_logits, [3, 8, 1, 12, 5, 20, 2, 7], 13, True)]}
    beam = {"generator": out["generator"], "torch": torch.__version__,
            "models": [make_beam("gpt2-tiny", gpt2_logits, out["models"][0]),
                       make_beam("qkv-decoder", qkv_decoder_logits, out["models"][1]),
                       make_beam("seq2seq-tiny", seq2seq_logits, out["models"][2], True)]}
    corpus = {"generator": out["generator"], "torch": torch.__version__,
              "models": [make_corpus("gpt2-tiny", gpt2_logits, "r50k_base"),
                         make_corpus("seq2seq-tiny", seq2seq_logits, "bert-base-uncased", True)]}
    os.makedirs(os.path.join(FIX, "generate"), exist_ok=True)
    for name, doc in (("greedy.json", out), ("beam.json", beam), ("corpus.json", corpus)):
        with open(os.path.join(FIX, "generate", name), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
