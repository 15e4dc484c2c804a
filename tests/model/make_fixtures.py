#!/usr/bin/python3
"""PyTorch fixtures for the model runtime (daemon/model). Run with Debian's python3 (torch 1.13).

Builds small random models with torch.nn, writes each as a model directory
(config.json + model.safetensors) and the outputs torch computes on a padded batch of
documents of different lengths (expected.safetensors, real tokens only, packed in order):

  bert-tiny/      post-norm GELU(erf) encoder in HF BertModel names (no prefix), full
                  bert-base-uncased vocabulary, F16 weights (the embed-bert pipeline's model)
  bert-prefixed/  same layout with the `bert.` prefix (BertForMaskedLM-style file), F32
  gpt2-tiny/      pre-norm causal GELU(tanh) decoder in HF GPT2Model names (Conv1D [in, out]),
                  full GPT-2 vocabulary, F16 weights, tied LM head (the lm-gpt2 pipeline's model)
  gpt2-prefixed/  `transformer.` prefix and a separate lm_head.weight, BF16 weights
  seq2seq-tiny/   nn.Transformer encoder-decoder + shared embeddings + sinusoidal positions, qkv
                  names, bert-base-uncased vocabulary, F16 (the seq2seq pipeline's model)
  qkv-decoder/    qkv decoder-only: pre-norm RMSNorm, rotary positions, GELU(tanh), own lm_head
  mha/            one nn.MultiheadAttention (packed in_proj) with key_padding_mask

safetensors is written here by hand (header JSON + raw bytes): there is no safetensors package.
manifest.json records the torch version and the sha256 of every file.
"""
import hashlib
import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")
BERT_VOCAB = 30522
GPT2_VOCAB = 50257
DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int32: "I32"}

torch.set_num_threads(1)
torch.manual_seed(1234)


# ---------------------------------------------------------------- file writing

def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name]
        b = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt", "made_by": "tests/model/make_fixtures.py"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # data section 8-byte aligned, as the reference writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def save_model(name, config, state, dtype, expected):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    save_safetensors(os.path.join(d, "model.safetensors"), {k: v.to(dtype) for k, v in state.items()})
    save_safetensors(os.path.join(d, "expected.safetensors"), expected)


def randomize(module, dtype, std=0.2):
    """Random weights, rounded to the storage dtype so torch computes with the stored values."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name.lower() and name.endswith("weight"):
                v = 1.0 + 0.2 * torch.randn_like(p)
            else:
                v = std * torch.randn_like(p)
            p.copy_(v.to(dtype).float())


# ---------------------------------------------------------------- batches and attention

def batch(lengths, vocab, seed):
    g = torch.Generator().manual_seed(seed)
    ids = [torch.randint(0, vocab, (n,), generator=g) for n in lengths]
    L = max(lengths)
    padded = torch.zeros(len(lengths), L, dtype=torch.long)
    mask = torch.zeros(len(lengths), L, dtype=torch.bool)  # True = real token
    for b, x in enumerate(ids):
        padded[b, : len(x)] = x
        mask[b, : len(x)] = True
    cu = torch.tensor([0] + list(torch.tensor(lengths).cumsum(0)), dtype=torch.int32)
    return padded, mask, torch.cat(ids).to(torch.int32), cu


def pack(x, mask):
    """[B, L, ...] padded -> [real tokens, ...] in document order."""
    return x[mask].contiguous()


def attention(q, k, v, heads, key_mask, causal):
    B, Lq, d = q.shape
    Lk = k.shape[1]
    hd = d // heads
    q = q.view(B, Lq, heads, hd).transpose(1, 2)
    k = k.view(B, Lk, heads, hd).transpose(1, 2)
    v = v.view(B, Lk, heads, hd).transpose(1, 2)
    s = q @ k.transpose(-1, -2) / math.sqrt(hd)
    hide = ~key_mask[:, None, None, :]
    if causal:
        hide = hide | torch.ones(Lq, Lk, dtype=torch.bool).triu(1)
    p = s.masked_fill(hide, float("-inf")).softmax(-1)
    return (p @ v).transpose(1, 2).reshape(B, Lq, d)


def lm_outputs(hidden, head_weight, padded, mask, k=5):
    """Next-token log-probabilities (row 0 of each document: 0), perplexities, top-k logits."""
    logits = hidden @ head_weight.t()
    logp = logits.log_softmax(-1)
    lp = torch.zeros(padded.shape)
    lp[:, 1:] = logp[:, :-1].gather(-1, padded[:, 1:, None])[..., 0]
    lp = lp * mask
    n = mask.sum(1)
    ppl = torch.exp(-lp.sum(1) / (n - 1).clamp(min=1))
    ppl[n < 2] = float("nan")
    top = logits.topk(k, -1)
    return {
        "logprobs": pack(lp, mask),
        "perplexity": ppl,
        "topk_logits": pack(top.values, mask),
        "topk_ids": pack(top.indices, mask).to(torch.int32),
    }


# ---------------------------------------------------------------- BERT (modeling_bert.py names)

def container(**children):
    m = nn.Module()
    for k, v in children.items():
        m.add_module(k, v)
    return m


class BertLike(nn.Module):
    def __init__(self, V, d, H, layers, ffn, P, types):
        super().__init__()
        self.heads = H
        self.embeddings = container(
            word_embeddings=nn.Embedding(V, d), position_embeddings=nn.Embedding(P, d),
            token_type_embeddings=nn.Embedding(types, d), LayerNorm=nn.LayerNorm(d, eps=1e-12))
        self.encoder = container(layer=nn.ModuleList([
            container(
                attention=container(
                    self=container(query=nn.Linear(d, d), key=nn.Linear(d, d), value=nn.Linear(d, d)),
                    output=container(dense=nn.Linear(d, d), LayerNorm=nn.LayerNorm(d, eps=1e-12))),
                intermediate=container(dense=nn.Linear(d, ffn)),
                output=container(dense=nn.Linear(ffn, d), LayerNorm=nn.LayerNorm(d, eps=1e-12)))
            for _ in range(layers)]))

    def forward(self, ids, mask):
        e = self.embeddings
        pos = torch.arange(ids.shape[1])[None]
        x = e.word_embeddings(ids) + e.position_embeddings(pos) + e.token_type_embeddings(torch.zeros_like(ids))
        x = e.LayerNorm(x)
        for L in self.encoder.layer:
            s = L.attention.self
            a = attention(s.query(x), s.key(x), s.value(x), self.heads, mask, False)
            x = L.attention.output.LayerNorm(x + L.attention.output.dense(a))
            h = F.gelu(L.intermediate.dense(x))
            x = L.output.LayerNorm(x + L.output.dense(h))
        return x


def make_bert(name, V, dtype, prefix, lengths, seed):
    d, H, layers, ffn, P = 16, 2, 2, 32, 64
    m = BertLike(V, d, H, layers, ffn, P, 2)
    randomize(m, dtype)
    padded, mask, ids, cu = batch(lengths, V, seed)
    with torch.no_grad():
        h = m(padded, mask)
    hidden = pack(h, mask)
    mean = torch.stack([h[b, mask[b]].mean(0) for b in range(len(lengths))])
    state = {prefix + k: v for k, v in m.state_dict().items()}
    if prefix:  # a masked-LM head the runtime must ignore
        state["cls.predictions.bias"] = torch.zeros(V)
    config = {"model_type": "bert", "vocab_size": V, "hidden_size": d, "num_hidden_layers": layers,
              "num_attention_heads": H, "intermediate_size": ffn, "hidden_act": "gelu",
              "max_position_embeddings": P, "type_vocab_size": 2, "layer_norm_eps": 1e-12,
              "position_embedding_type": "absolute", "architectures": ["BertModel"]}
    save_model(name, config, state, dtype, {"ids": ids, "cu": cu, "hidden": hidden,
                                            "pooled_cls": h[:, 0].contiguous(), "pooled_mean": mean})


# ---------------------------------------------------------------- GPT-2 (modeling_gpt2.py names)

class Conv1D(nn.Module):
    """GPT-2's Conv1D: a linear layer whose weight is stored [in, out]."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.empty(n_out))

    def forward(self, x):
        return x @ self.weight + self.bias


class Gpt2Like(nn.Module):
    def __init__(self, V, d, H, layers, P):
        super().__init__()
        self.heads = H
        self.wte = nn.Embedding(V, d)
        self.wpe = nn.Embedding(P, d)
        self.h = nn.ModuleList([
            container(ln_1=nn.LayerNorm(d), attn=container(c_attn=Conv1D(d, 3 * d), c_proj=Conv1D(d, d)),
                      ln_2=nn.LayerNorm(d), mlp=container(c_fc=Conv1D(d, 4 * d), c_proj=Conv1D(4 * d, d)))
            for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)

    def forward(self, ids, mask):
        x = self.wte(ids) + self.wpe(torch.arange(ids.shape[1])[None])
        for L in self.h:
            q, k, v = L.attn.c_attn(L.ln_1(x)).chunk(3, -1)
            x = x + L.attn.c_proj(attention(q, k, v, self.heads, mask, True))
            x = x + L.mlp.c_proj(F.gelu(L.mlp.c_fc(L.ln_2(x)), approximate="tanh"))
        return self.ln_f(x)


def make_gpt2(name, V, dtype, prefix, separate_head, lengths, seed):
    d, H, layers, P = 16, 2, 2, 64
    m = Gpt2Like(V, d, H, layers, P)
    randomize(m, dtype)
    head = m.wte.weight
    state = {prefix + k: v for k, v in m.state_dict().items()}
    if separate_head:
        head = (0.2 * torch.randn(V, d)).to(dtype).float()
        state["lm_head.weight"] = head
    padded, mask, ids, cu = batch(lengths, V, seed)
    with torch.no_grad():
        h = m(padded, mask)
        expected = {"ids": ids, "cu": cu, "hidden": pack(h, mask)}
        expected.update(lm_outputs(h, head, padded, mask))
    config = {"model_type": "gpt2", "vocab_size": V, "n_embd": d, "n_layer": layers, "n_head": H,
              "n_positions": P, "n_inner": None, "activation_function": "gelu_new",
              "layer_norm_epsilon": 1e-5, "architectures": ["GPT2LMHeadModel"]}
    save_model(name, config, state, dtype, expected)


# ---------------------------------------------------------------- nn.Transformer, qkv names

def sinusoidal(L, d, base=10000.0):
    pos = torch.arange(L, dtype=torch.float64)[:, None]
    inv = base ** (-2.0 * torch.arange(d // 2, dtype=torch.float64) / d)
    pe = torch.zeros(L, d, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(pos * inv)
    pe[:, 1::2] = torch.cos(pos * inv)
    return pe.float()


def make_seq2seq(name, src_lengths, tgt_lengths, seed):
    # bert-base-uncased vocabulary (the seq2seq pipeline tokenizes with WordPiece), one embedding
    # table shared by both stacks (the file has no decoder.embed_tokens), F16 weights.
    V, d, H, ffn = BERT_VOCAB, 16, 2, 32
    t = nn.Transformer(d_model=d, nhead=H, num_encoder_layers=2, num_decoder_layers=2,
                       dim_feedforward=ffn, dropout=0.0, batch_first=True)
    t.encoder.add_module("embed_tokens", nn.Embedding(V, d))
    randomize(t, torch.float16)
    t.eval()
    scale = math.sqrt(d)
    sp, smask, sids, scu = batch(src_lengths, V, seed)
    tp, tmask, tids, tcu = batch(tgt_lengths, V, seed + 1)

    def embed(emb, ids):
        return emb(ids) * scale + sinusoidal(ids.shape[1], d)[None]

    with torch.no_grad():
        src, tgt = embed(t.encoder.embed_tokens, sp), embed(t.encoder.embed_tokens, tp)
        memory = t.encoder(src, src_key_padding_mask=~smask)
        causal = torch.full((tp.shape[1], tp.shape[1]), float("-inf")).triu(1)
        h = t.decoder(tgt, memory, tgt_mask=causal, tgt_key_padding_mask=~tmask,
                      memory_key_padding_mask=~smask)
        expected = {"src_ids": sids, "src_cu": scu, "tgt_ids": tids, "tgt_cu": tcu,
                    "memory": pack(memory, smask), "hidden": pack(h, tmask)}
        expected.update(lm_outputs(h, t.encoder.embed_tokens.weight, tp, tmask))
    config = {"model_type": "qkv", "architecture": "encoder-decoder", "vocab_size": V, "d_model": d,
              "num_heads": H, "ffn_dim": ffn, "encoder_layers": 2, "decoder_layers": 2,
              "norm": "layernorm", "norm_eps": 1e-5, "norm_first": False, "final_norm": True,
              "activation": "relu", "positions": "sinusoidal", "embed_scale": scale,
              "tie_lm_head": True}
    save_model(name, config, t.state_dict(), torch.float16, expected)


# ---------------------------------------------------------------- qkv decoder: RMSNorm + RoPE

class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope(x, heads, base=10000.0):
    """NeoX half-split rotation of [B, L, heads*hd]; angles in float64, rounded once."""
    B, L, d = x.shape
    hd = d // heads
    half = hd // 2
    ang = torch.arange(L, dtype=torch.float64)[:, None] * base ** (-2.0 * torch.arange(half, dtype=torch.float64) / hd)
    c, s = torch.cos(ang).float(), torch.sin(ang).float()
    x = x.view(B, L, heads, hd)
    a, b = x[..., :half], x[..., half:]
    c, s = c[None, :, None, :], s[None, :, None, :]
    return torch.cat([a * c - b * s, b * c + a * s], -1).reshape(B, L, d)


def make_qkv_decoder(name, lengths, seed):
    V, d, H, ffn, layers = 80, 32, 4, 96, 2
    m = container(
        decoder=container(
            embed_tokens=nn.Embedding(V, d),
            layers=nn.ModuleList([
                container(self_attn=nn.MultiheadAttention(d, H, batch_first=True), norm1=RMSNorm(d),
                          linear1=nn.Linear(d, ffn), linear2=nn.Linear(ffn, d), norm2=RMSNorm(d))
                for _ in range(layers)]),
            norm=RMSNorm(d)),
        lm_head=nn.Linear(d, V, bias=False))
    randomize(m, torch.float32)
    padded, mask, ids, cu = batch(lengths, V, seed)
    with torch.no_grad():
        x = m.decoder.embed_tokens(padded)
        for L in m.decoder.layers:
            a = L.self_attn
            q, k, v = F.linear(L.norm1(x), a.in_proj_weight, a.in_proj_bias).chunk(3, -1)
            x = x + a.out_proj(attention(rope(q, H), rope(k, H), v, H, mask, True))
            x = x + L.linear2(F.gelu(L.linear1(L.norm2(x)), approximate="tanh"))
        h = m.decoder.norm(x)
        expected = {"ids": ids, "cu": cu, "hidden": pack(h, mask)}
        expected.update(lm_outputs(h, m.lm_head.weight, padded, mask))
    config = {"model_type": "qkv", "architecture": "decoder", "vocab_size": V, "d_model": d,
              "num_heads": H, "ffn_dim": ffn, "decoder_layers": layers, "norm": "rmsnorm",
              "norm_eps": 1e-6, "norm_first": True, "final_norm": True, "activation": "gelu_tanh",
              "positions": "rotary", "rope_base": 10000.0, "tie_lm_head": False}
    save_model(name, config, m.state_dict(), torch.float32, expected)


# ---------------------------------------------------------------- nn.MultiheadAttention

def make_mha(name, lengths, seed):
    d, H = 24, 3
    mha = nn.MultiheadAttention(d, H, batch_first=True)
    randomize(mha, torch.float32, std=0.3)
    mha.eval()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(len(lengths), max(lengths), d, generator=g)
    mask = torch.zeros(len(lengths), max(lengths), dtype=torch.bool)
    for b, n in enumerate(lengths):
        mask[b, :n] = True
    with torch.no_grad():
        out, _ = mha(x, x, x, key_padding_mask=~mask, need_weights=False)
    cu = torch.tensor([0] + list(torch.tensor(lengths).cumsum(0)), dtype=torch.int32)
    expected = {"x": pack(x, mask), "cu": cu, "out": pack(out, mask)}
    config = {"model_type": "nn.MultiheadAttention", "embed_dim": d, "num_heads": H}
    save_model(name, config, mha.state_dict(), torch.float32, expected)


def main():
    os.makedirs(OUT, exist_ok=True)
    make_bert("bert-tiny", BERT_VOCAB, torch.float16, "", [7, 3, 12, 1], 1)
    make_bert("bert-prefixed", 100, torch.float32, "bert.", [5, 9], 2)
    make_gpt2("gpt2-tiny", GPT2_VOCAB, torch.float16, "", False, [6, 11, 2, 1], 3)
    make_gpt2("gpt2-prefixed", 120, torch.bfloat16, "transformer.", True, [8, 4], 4)
    make_seq2seq("seq2seq-tiny", [6, 10, 3], [5, 2, 9], 5)
    make_qkv_decoder("qkv-decoder", [9, 4, 13], 6)
    make_mha("mha", [5, 8, 1], 7)
    files = {}
    for root, _, names in os.walk(OUT):
        for n in sorted(names):
            p = os.path.join(root, n)
            if n == "manifest.json" and root == OUT:
                continue
            with open(p, "rb") as f:
                files[os.path.relpath(p, OUT)] = hashlib.sha256(f.read()).hexdigest()
    manifest = {"generator": "tests/model/make_fixtures.py", "torch": torch.__version__,
                "files": dict(sorted(files.items()))}
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
