#!/usr/bin/python3
"""HF-layout fixtures for the model families (issue 14). Run with Debian's python3 (torch 1.13).

Each fixture is a small random checkpoint in the family's exact HF layout and config.json
conventions (model.safetensors + config.json), plus expected.safetensors: what an independent
forward pass written here computes, in float64 from the stored (rounded) weights, on a batch of
documents of different lengths (real tokens only, packed in order). The forward pass follows the
published modeling code of HF transformers, not qkv:

  modeling_llama.py    LlamaRMSNorm, LlamaRotaryEmbedding, rotate_half, apply_rotary_pos_emb,
                       repeat_kv, eager_attention_forward, LlamaMLP, LlamaDecoderLayer,
                       LlamaModel (final norm), LlamaForCausalLM (lm_head, tie_word_embeddings)
  modeling_rope_utils.py  _compute_default_rope_parameters, _compute_linear_scaling_rope_parameters,
                       _compute_llama3_parameters
  modeling_qwen2.py    Qwen2Attention (q/k/v with bias, o_proj without)
  modeling_mistral.py  sliding_window: query i sees keys j with i - sliding_window < j <= i
  modeling_roberta.py  create_position_ids_from_input_ids, RobertaEmbeddings, RobertaSelfAttention
                       (extended attention mask over padding), RobertaSelfOutput,
                       RobertaIntermediate, RobertaOutput (XLMRobertaModel is the same code)
  modeling_marian.py   MarianSinusoidalPositionalEmbedding (half layout), MarianEncoder /
                       MarianDecoder (no layernorm_embedding, positions from 0), swish
  modeling_bart.py     BartLearnedPositionalEmbedding (offset 2), BartScaledWordEmbedding
                       (scale_embedding), BartAttention, BartEncoderLayer, BartDecoderLayer
                       (post-norm, cross-attention over the encoder output), BartEncoder /
                       BartDecoder (layernorm_embedding), BartForConditionalGeneration
                       (lm_head tied to shared, + final_logits_bias; labels -> decoder input
                       by shift_tokens_right)
  sentence_transformers/models/Pooling.py, Normalize.py  cls / mean / max / lasttoken pooling
                       over the attention mask, L2 normalization

Fixtures (tests/model/hf_fixtures/):
  llama-gqa1        llama, 5 heads (not a power of two), 1 kv head, head_dim 12 != 40/5, untied
                    lm_head, F32
  qwen2-gqa2-bf16   qwen2, 6 heads / 2 kv heads, q/k/v biases, tied embeddings, rope_theta 1e6,
                    rope_scaling linear (factor 2, under "type"), BF16
  mistral-mha-f16   mistral, 4 heads = 4 kv heads, sliding_window 5 < document lengths, full GPT-2
                    vocabulary and tied embeddings (runs in the lm-gpt2 pipeline), F16
  llama3-scaled     llama, rope_scaling llama3 (under "rope_type") with
                    original_max_position_embeddings 16 and documents up to 40 tokens,
                    attention_bias and mlp_bias, 2 kv heads of 4, F32

  marian-tiny       marian (MarianMTModel names), 3 heads, swish, scale_embedding, sinusoidal
                    positions (the stored tables are what the plugin must recompute), F32: as
                    bart-tiny, tgt shifted right after decoder_start_token_id = pad_token_id;
                    from text: source.spm / target.spm (another model: tgt and decoding) /
                    vocab.json (MarianTokenizer), texts.jsonl
                    {src, tgt} and text_expected.safetensors (ids, shifted decoder hidden)
  marian-codes      vocab.json = marian-tiny's plus the language codes >>fr<< and >>pt_BR<<, and
                    codes_expected.json: MarianTokenizer's ids of texts with codes (source.spm)
  roberta-mixed     roberta (RobertaModel names, `roberta.` prefix), pad_token_id 1, padded
                    batch of mixed lengths in torch vs padding-free in qkv, F32: hidden and every
                    pooling
  xlmr-st           xlm-roberta as a sentence-transformers folder (modules.json, 1_Pooling mean,
                    2_Normalize, sentence_bert_config.json), no prefix, F16: normalized mean;
                    from text: sentencepiece.bpe.model (XLMRobertaTokenizer), texts.jsonl and
                    text_expected.safetensors (ids, normalized mean)
  bert-st           bert as a sentence-transformers folder with its vocab.txt (1_Pooling mean,
                    2_Normalize, max_seq_length 16, do_lower_case, prompts with default
                    "query"), F32: normalized vectors of texts.jsonl with the default prompt,
                    another prompt, a prefix, left truncation and 8-token windows (overlap 2);
                    and mean / max / last pooling without the prompt's tokens (include_prompt false)
  bart-tiny         bart (BartForConditionalGeneration names, `model.` prefix), 4 heads, post-norm,
                    scale_embedding, non-zero final_logits_bias, F32: encoder output, decoder
                    hidden, logits (teacher-forced ids fed as given), and the seq2seq run's
                    labels convention (shift_tokens_right): hidden, top-k, label log-probs

Needs python3-sentencepiece too (the tokenizers' .model files are trained here).
safetensors is written by hand (tests/model/make_fixtures.py); manifest.json records the torch
version and the sha256 of every file.
"""
import hashlib
import json
import math
import os
import re

import torch

from make_fixtures import GPT2_VOCAB, batch, pack, save_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "hf_fixtures")
D = torch.float64

torch.set_num_threads(1)


# ---------------------------------------------------------------- modeling_rope_utils.py

def default_inv_freq(base, dim):
    # _compute_default_rope_parameters: 1 / base^(arange(0, dim, 2) / dim)
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=D) / dim))


def rope_inv_freq(cfg, dim):
    inv = default_inv_freq(cfg.get("rope_theta", 10000.0), dim)
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "linear":  # _compute_linear_scaling_rope_parameters
        return inv / rs["factor"]
    if kind == "llama3":  # _compute_llama3_parameters
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old_context_len = rs["original_max_position_embeddings"]
        low_freq_wavelen = old_context_len / low
        high_freq_wavelen = old_context_len / high
        wavelen = 2 * math.pi / inv
        inv_llama = torch.where(wavelen > low_freq_wavelen, inv / factor, inv)
        smooth = (old_context_len / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_llama / factor + smooth * inv_llama
        is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
        return torch.where(is_medium, smoothed, inv_llama)
    assert kind == "default"
    return inv


# ---------------------------------------------------------------- modeling_llama.py

def rms_norm(x, w, eps):  # LlamaRMSNorm.forward
    variance = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(variance + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):  # cos, sin: [L, hd], unsqueezed over batch and heads
    cos, sin = cos[None, None], sin[None, None]
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


def repeat_kv(x, n_rep):  # [B, kv, L, hd] -> [B, kv * n_rep, L, hd]
    B, kv, L, hd = x.shape
    return x[:, :, None].expand(B, kv, n_rep, L, hd).reshape(B, kv * n_rep, L, hd)


def linear(x, st, name, bias):
    y = x @ st[name + ".weight"].t()
    return y + st[name + ".bias"] if bias else y


def llama_forward(cfg, st, ids):
    """LlamaModel / Qwen2Model / MistralModel on right-padded ids [B, L]: last hidden state."""
    B, L = ids.shape
    H, d = cfg["num_attention_heads"], cfg["hidden_size"]
    kv = cfg.get("num_key_value_heads", H)
    hd = cfg.get("head_dim") or d // H
    eps = cfg["rms_norm_eps"]
    qwen2 = cfg["model_type"] == "qwen2"
    qkv_bias = True if qwen2 else cfg.get("attention_bias", False)
    o_bias = False if qwen2 else cfg.get("attention_bias", False)
    mlp_bias = False if qwen2 else cfg.get("mlp_bias", False)
    window = cfg.get("sliding_window") if cfg["model_type"] == "mistral" else None

    inv = rope_inv_freq(cfg, hd)  # LlamaRotaryEmbedding.forward, position_ids = arange(L)
    freqs = torch.arange(L, dtype=D)[:, None] * inv[None]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()

    i = torch.arange(L)[:, None]
    j = torch.arange(L)[None]
    hide = j > i  # causal
    if window is not None:
        hide = hide | (j <= i - window)

    x = st["model.embed_tokens.weight"][ids]
    cos, sin = cos.to(x.dtype), sin.to(x.dtype)  # float64 here; float32 in bench/model-families
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        r = x
        h = rms_norm(x, st[p + "input_layernorm.weight"], eps)
        q = linear(h, st, p + "self_attn.q_proj", qkv_bias).view(B, L, H, hd).transpose(1, 2)
        k = linear(h, st, p + "self_attn.k_proj", qkv_bias).view(B, L, kv, hd).transpose(1, 2)
        v = linear(h, st, p + "self_attn.v_proj", qkv_bias).view(B, L, kv, hd).transpose(1, 2)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        k, v = repeat_kv(k, H // kv), repeat_kv(v, H // kv)
        w = (q @ k.transpose(2, 3)) * hd ** -0.5  # eager_attention_forward, scaling = head_dim^-0.5
        w = w.masked_fill(hide[None, None], float("-inf")).softmax(-1)
        a = (w @ v).transpose(1, 2).reshape(B, L, H * hd)
        x = r + linear(a, st, p + "self_attn.o_proj", o_bias)
        r = x
        h = rms_norm(x, st[p + "post_attention_layernorm.weight"], eps)
        gate = linear(h, st, p + "mlp.gate_proj", mlp_bias)
        up = linear(h, st, p + "mlp.up_proj", mlp_bias)
        x = r + linear(torch.nn.functional.silu(gate) * up, st, p + "mlp.down_proj", mlp_bias)
    return rms_norm(x, st["model.norm.weight"], eps)


def llama_state(cfg, dtype, gen, std=0.2):
    """Random weights in LlamaForCausalLM names, rounded to the storage dtype."""
    H, d = cfg["num_attention_heads"], cfg["hidden_size"]
    kv = cfg.get("num_key_value_heads", H)
    hd = cfg.get("head_dim") or d // H
    V, ffn = cfg["vocab_size"], cfg["intermediate_size"]
    qwen2 = cfg["model_type"] == "qwen2"
    qkv_bias = True if qwen2 else cfg.get("attention_bias", False)
    o_bias = False if qwen2 else cfg.get("attention_bias", False)
    mlp_bias = False if qwen2 else cfg.get("mlp_bias", False)
    shapes = {"model.embed_tokens.weight": [V, d], "model.norm.weight": [d]}
    for layer in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{layer}."
        for name, out, inp, bias in [("self_attn.q_proj", H * hd, d, qkv_bias),
                                     ("self_attn.k_proj", kv * hd, d, qkv_bias),
                                     ("self_attn.v_proj", kv * hd, d, qkv_bias),
                                     ("self_attn.o_proj", d, H * hd, o_bias),
                                     ("mlp.gate_proj", ffn, d, mlp_bias),
                                     ("mlp.up_proj", ffn, d, mlp_bias),
                                     ("mlp.down_proj", d, ffn, mlp_bias)]:
            shapes[p + name + ".weight"] = [out, inp]
            if bias:
                shapes[p + name + ".bias"] = [out]
        shapes[p + "input_layernorm.weight"] = [d]
        shapes[p + "post_attention_layernorm.weight"] = [d]
    if not cfg.get("tie_word_embeddings", False):
        shapes["lm_head.weight"] = [V, d]
    st = {}
    for name, shape in shapes.items():
        if name.endswith("norm.weight"):  # norm weights != 1
            v = 1.0 + 0.2 * torch.randn(shape, generator=gen)
        else:
            v = std * torch.randn(shape, generator=gen)
        st[name] = v.to(dtype)
    return st


def lm_outputs(hidden, head, padded, mask, k=5):
    """Next-token log-probabilities (row 0 of each document: 0), perplexities, top-k logits."""
    logits = hidden @ head.t()
    logp = logits.log_softmax(-1)
    lp = torch.zeros(padded.shape, dtype=D)
    lp[:, 1:] = logp[:, :-1].gather(-1, padded[:, 1:, None])[..., 0]
    lp = lp * mask
    n = mask.sum(1)
    ppl = torch.exp(-lp.sum(1) / (n - 1).clamp(min=1))
    ppl[n < 2] = float("nan")
    top = logits.topk(k, -1)
    return {"logprobs": pack(lp, mask).float(), "perplexity": ppl.float(),
            "topk_logits": pack(top.values, mask).float(),
            "topk_ids": pack(top.indices, mask).to(torch.int32)}


DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def make_llama(name, cfg, dtype, lengths, seed):
    gen = torch.Generator().manual_seed(seed)
    st = llama_state(cfg, DTYPES[dtype], gen)
    ref = {k: v.to(D) for k, v in st.items()}
    padded, mask, ids, cu = batch(lengths, cfg["vocab_size"], seed + 100)
    with torch.no_grad():
        h = llama_forward(cfg, ref, padded)
        head = ref["model.embed_tokens.weight" if cfg.get("tie_word_embeddings") else "lm_head.weight"]
        expected = {"ids": ids, "cu": cu, "hidden": pack(h, mask).float()}
        expected.update(lm_outputs(h, head, padded, mask))
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    save_safetensors(os.path.join(d, "model.safetensors"), st)
    save_safetensors(os.path.join(d, "expected.safetensors"), expected)


def llama_config(model_type, **kw):
    cfg = {"model_type": model_type, "architectures": [
        {"llama": "LlamaForCausalLM", "qwen2": "Qwen2ForCausalLM", "mistral": "MistralForCausalLM"}[model_type]],
        "hidden_act": "silu", "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": None,
        "tie_word_embeddings": False, "max_position_embeddings": 64, "torch_dtype": "float32"}
    cfg.update(kw)
    return cfg


# ---------------------------------------------------------------- modeling_roberta.py

def create_position_ids_from_input_ids(input_ids, padding_idx):
    mask = input_ids.ne(padding_idx).int()
    incremental_indices = torch.cumsum(mask, dim=1).type_as(mask) * mask
    return incremental_indices.long() + padding_idx


def layer_norm(x, st, name, eps):
    mu = x.mean(-1, keepdim=True)
    var = (x - mu).pow(2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * st[name + ".weight"] + st[name + ".bias"]


def roberta_forward(cfg, st, ids, mask, prefix):
    B, L = ids.shape
    H, d = cfg["num_attention_heads"], cfg["hidden_size"]
    hd, eps = d // H, cfg["layer_norm_eps"]
    p = prefix + "embeddings."
    if cfg["model_type"] == "bert":  # BertEmbeddings: position_ids = arange(L)
        pos = torch.arange(L)[None, :].expand(B, L)
    else:
        pos = create_position_ids_from_input_ids(ids, cfg["pad_token_id"])
    x = (st[p + "word_embeddings.weight"][ids] + st[p + "position_embeddings.weight"][pos]
         + st[p + "token_type_embeddings.weight"][torch.zeros_like(ids)])
    x = layer_norm(x, st, p + "LayerNorm", eps)
    ext = (~mask)[:, None, None, :]  # get_extended_attention_mask: padding keys hidden
    for layer in range(cfg["num_hidden_layers"]):
        p = f"{prefix}encoder.layer.{layer}."
        q = linear(x, st, p + "attention.self.query", True).view(B, L, H, hd).transpose(1, 2)
        k = linear(x, st, p + "attention.self.key", True).view(B, L, H, hd).transpose(1, 2)
        v = linear(x, st, p + "attention.self.value", True).view(B, L, H, hd).transpose(1, 2)
        w = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        w = w.masked_fill(ext, float("-inf")).softmax(-1)
        a = (w @ v).transpose(1, 2).reshape(B, L, d)
        x = layer_norm(linear(a, st, p + "attention.output.dense", True) + x, st,
                       p + "attention.output.LayerNorm", eps)
        h = torch.nn.functional.gelu(linear(x, st, p + "intermediate.dense", True))
        x = layer_norm(linear(h, st, p + "output.dense", True) + x, st, p + "output.LayerNorm", eps)
    return x


def st_pooling(h, mask):
    """sentence_transformers Pooling.forward over the attention mask, each mode alone."""
    m = mask[..., None].to(D)
    lengths = mask.sum(1)
    return {
        "pooled_cls": h[:, 0],
        "pooled_mean": (h * m).sum(1) / m.sum(1).clamp(min=1e-9),
        "pooled_max": h.masked_fill(~mask[..., None], -1e9).max(1).values,
        "pooled_last": h[torch.arange(h.shape[0]), lengths - 1],
    }


def roberta_state(cfg, dtype, gen, prefix):
    V, d, ffn = cfg["vocab_size"], cfg["hidden_size"], cfg["intermediate_size"]
    P, T = cfg["max_position_embeddings"], cfg["type_vocab_size"]
    shapes = {"embeddings.word_embeddings.weight": [V, d],
              "embeddings.position_embeddings.weight": [P, d],
              "embeddings.token_type_embeddings.weight": [T, d],
              "embeddings.LayerNorm.weight": [d], "embeddings.LayerNorm.bias": [d]}
    for layer in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{layer}."
        for name, out, inp in [("attention.self.query", d, d), ("attention.self.key", d, d),
                               ("attention.self.value", d, d), ("attention.output.dense", d, d),
                               ("intermediate.dense", ffn, d), ("output.dense", d, ffn)]:
            shapes[p + name + ".weight"] = [out, inp]
            shapes[p + name + ".bias"] = [out]
        for name in ["attention.output.LayerNorm", "output.LayerNorm"]:
            shapes[p + name + ".weight"] = [d]
            shapes[p + name + ".bias"] = [d]
    st = {}
    for name, shape in shapes.items():
        v = 1.0 + 0.2 * torch.randn(shape, generator=gen) if name.endswith("LayerNorm.weight") \
            else 0.2 * torch.randn(shape, generator=gen)
        st[prefix + name] = v.to(dtype)
    if prefix:  # RobertaForMaskedLM's head, which qkv must ignore
        st["lm_head.bias"] = torch.zeros(V, dtype=dtype)
    return st


def roberta_batch(lengths, V, pad, seed):
    """Right-padded with pad_token_id, as a tokenizer pads; no document contains it."""
    g = torch.Generator().manual_seed(seed)
    docs = [torch.randint(pad + 2, V, (n,), generator=g) for n in lengths]
    L = max(lengths)
    padded = torch.full((len(lengths), L), pad, dtype=torch.long)
    mask = torch.zeros(len(lengths), L, dtype=torch.bool)
    for b, x in enumerate(docs):
        padded[b, : len(x)] = x
        mask[b, : len(x)] = True
    cu = torch.tensor([0] + list(torch.tensor(lengths).cumsum(0)), dtype=torch.int32)
    return padded, mask, torch.cat(docs).to(torch.int32), cu


def make_roberta(name, cfg, dtype, prefix, lengths, seed, st_folder=None, from_text=None):
    gen = torch.Generator().manual_seed(seed)
    st = roberta_state(cfg, DTYPES[dtype], gen, prefix)
    ref = {k: v.to(D) for k, v in st.items()}
    padded, mask, ids, cu = roberta_batch(lengths, cfg["vocab_size"], cfg["pad_token_id"], seed + 100)
    with torch.no_grad():
        h = roberta_forward(cfg, ref, padded, mask, prefix)
        expected = {"ids": ids, "cu": cu, "hidden": pack(h, mask).float()}
        pooled = st_pooling(h, mask)
        expected.update({k: v.float().contiguous() for k, v in pooled.items()})
        # Normalize.forward: F.normalize(p=2, dim=1); Matryoshka: truncate to 8, then normalize
        expected["normalized_mean"] = torch.nn.functional.normalize(pooled["pooled_mean"], p=2, dim=1).float()
        expected["mean_dims8"] = torch.nn.functional.normalize(pooled["pooled_mean"][:, :8], p=2, dim=1).float()
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    save_safetensors(os.path.join(d, "model.safetensors"), st)
    save_safetensors(os.path.join(d, "expected.safetensors"), expected)
    for rel, content in (st_folder or {}).items():  # sentence-transformers files
        os.makedirs(os.path.dirname(os.path.join(d, rel)), exist_ok=True)
        with open(os.path.join(d, rel), "w") as f:
            json.dump(content, f, indent=2)
            f.write("\n")
    if from_text:
        from_text(cfg, ref, d)


def roberta_config(model_type, **kw):
    cfg = {"model_type": model_type,
           "architectures": ["RobertaModel" if model_type == "roberta" else "XLMRobertaModel"],
           "hidden_act": "gelu", "layer_norm_eps": 1e-5, "pad_token_id": 1, "bos_token_id": 0,
           "eos_token_id": 2, "type_vocab_size": 1, "position_embedding_type": "absolute"}
    cfg.update(kw)
    return cfg


# ------------------------------------------------- embedding options (bert-st, issue 14 item 3)
#
# The options are applied here from their definitions, not from qkv:
#   prompts / input.prefix   SentenceTransformer.encode: prompt + sentence, before tokenizing
#   do_lower_case            models/Transformer.py tokenize(): str.lower() of the whole text
#   truncation               tokenization_utils_base.py truncate_sequences with
#                            truncation_side right / left: the text's tokens are cut, then
#                            build_inputs_with_special_tokens adds [CLS] ... [SEP]
#   max_seq_length           sentence_bert_config.json: the tokenizer's max_length
#   chunking (model.chunk)   windows of the text's tokens, `tokens - 2` wide (room for [CLS]
#                            and [SEP]), starting every width - overlap, the last one ending with
#                            the text; each window is embedded as a document of its own
# The tokenizer is BERT's BasicTokenizer (whitespace, then punctuation split off; lowercase off:
# the folder's do_lower_case does it) + WordPiece greedy longest-match-first
# (tokenization_bert.py), on ASCII texts, with byte offsets.

# modules.json and 1_Pooling/config.json of a Transformer -> mean Pooling -> Normalize folder
ST_MODULES = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
              {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
              {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]
ST_MEAN_POOLING = {"word_embedding_dimension": 16, "pooling_mode_cls_token": False,
                   "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
                   "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
                   "pooling_mode_lasttoken": False, "include_prompt": True}

ST_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "query", "passage", "search", ":", ".",
            ",", "the", "quick", "brown", "fox", "jump", "##s", "##ed", "over", "lazy", "dog",
            "a", "red", "cat", "sat", "on", "blue", "mat", "and", "it", "is", "hello", "world",
            "##ing"] + [f"[unused{i}]" for i in range(14)]

ST_TEXTS = ["The quick brown fox jumps over the lazy dog.",
            "Hello world",
            "A red cat sat on the blue mat, and the dog jumped over it. The fox is quick and "
            "the cat is lazy.",
            "Cats and dogs",
            "Jumping Foxes sat"]


def basic_words(text):
    """BasicTokenizer without lowercasing: whitespace split, punctuation as words; byte spans."""
    words, i = [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
        elif not text[i].isalnum():
            words.append((text[i], i, i + 1))
            i += 1
        else:
            j = i
            while j < len(text) and text[j].isalnum():
                j += 1
            words.append((text[i:j], i, j))
            i = j
    return words


def wordpiece(text, vocab):
    """WordpieceTokenizer.tokenize: greedy longest-match-first; ids with byte offsets."""
    ids, offs = [], []
    for word, b, e in basic_words(text):
        start, pieces = 0, []
        while start < len(word):
            end, cur = len(word), None
            while start < end:
                sub = ("##" if start else "") + word[start:end]
                if sub in vocab:
                    cur = sub
                    break
                end -= 1
            if cur is None:
                pieces = None
                break
            pieces.append((vocab[cur], b + start, b + end))
            start = end
        if pieces is None:
            pieces = [(vocab["[UNK]"], b, e)]
        for i, pb, pe in pieces:
            ids.append(i)
            offs.append((pb, pe))
    return ids, offs


def st_text_tokens(text, vocab, prefix, lower):
    """prefix + text, lowered, as ids; offsets mapped back onto the document (a prefix token:
    (0, 0); ASCII texts: lowering keeps byte positions)."""
    full = prefix + text
    if lower:
        full = full.lower()
    ids, offs = wordpiece(full, vocab)
    return ids, [(max(0, b - len(prefix)), max(0, e - len(prefix))) for b, e in offs]


def st_tokenize(text, vocab, prefix, lower, max_len, side):
    """The text's tokens truncated to max_len - 2, then [CLS] .. [SEP]."""
    ids, offs = st_text_tokens(text, vocab, prefix, lower)
    room = max_len - 2
    if len(ids) > room:
        ids, offs = (ids[:room], offs[:room]) if side == "right" else (ids[-room:], offs[-room:])
    return [vocab["[CLS]"]] + ids + [vocab["[SEP]"]], offs


def st_windows(text, vocab, prefix, lower, tokens, overlap):
    ids, offs = st_text_tokens(text, vocab, prefix, lower)
    width = tokens - 2
    out, b = [], 0
    while True:
        e = min(b + width, len(ids))
        out.append(([vocab["[CLS]"]] + ids[b:e] + [vocab["[SEP]"]],
                    (offs[b][0], offs[e - 1][1]) if e > b else (0, 0)))
        if e == len(ids):
            return out
        b += width - overlap


def st_pooling_without_prompt(h, prompt_length):
    """sentence_transformers Pooling.forward with include_prompt False (models/Pooling.py, v3):
    `attention_mask[:, :prompt_length] = 0` over the sequence, then each mode on that mask: mean
    divides by the mask's sum clamped to 1e-9; max fills masked tokens with -1e9; lasttoken
    takes the last 1 of the mask (attention_mask.flip(1).max(1)). CLS is token 0 whatever the
    mask, so it is not here."""
    mask = torch.ones(h.shape[:2], dtype=torch.long)
    mask[:, :prompt_length] = 0
    m = mask[..., None].to(D)
    seq_len = mask.shape[1]
    values, indices = mask.flip(1).max(1)
    last = seq_len - torch.where(values == 0, seq_len - 1, indices) - 1
    return {
        "mean": (h * m).sum(1) / m.sum(1).clamp(min=1e-9),
        "max": h.masked_fill(m == 0, -1e9).max(1).values,
        "last": h[torch.arange(h.shape[0]), last],
    }


def embed_docs(cfg, ref, docs, prompt_length=None, mode="mean"):
    """Each document alone (no padding): the ST folder's mean pooling + Normalize; with
    prompt_length, the Pooling module's include_prompt False."""
    vecs = []
    for ids in docs:
        x = torch.tensor([ids])
        mask = torch.ones_like(x, dtype=torch.bool)
        h = roberta_forward(cfg, ref, x, mask, "")
        pooled = (st_pooling(h, mask)["pooled_mean"] if prompt_length is None
                  else st_pooling_without_prompt(h, prompt_length)[mode])
        vecs.append(torch.nn.functional.normalize(pooled, p=2, dim=1))
    return torch.cat(vecs).float().contiguous()


def make_bert_st(name, seed):
    cfg = {"model_type": "bert", "architectures": ["BertModel"], "vocab_size": len(ST_VOCAB),
           "hidden_size": 16, "num_attention_heads": 2, "num_hidden_layers": 2,
           "intermediate_size": 32, "max_position_embeddings": 32, "hidden_act": "gelu",
           "layer_norm_eps": 1e-12, "type_vocab_size": 2, "pad_token_id": 0,
           "position_embedding_type": "absolute"}
    vocab = {t: i for i, t in enumerate(ST_VOCAB)}
    gen = torch.Generator().manual_seed(seed)
    st = roberta_state(cfg, torch.float32, gen, "")
    ref = {k: v.to(D) for k, v in st.items()}
    max_len = 16  # sentence_bert_config.json
    prompts = {"query": "query: ", "passage": "passage: "}
    cases = {  # name: (prefix, truncation side); the folder's default prompt is "query"
        "default": (prompts["query"], "right"),
        "passage": (prompts["passage"], "right"),
        "prefix": ("Search: ", "right"),
        "left": (prompts["query"], "left")}
    expected = {}
    with torch.no_grad():
        for case, (prefix, side) in cases.items():
            toks = [st_tokenize(t, vocab, prefix, True, max_len, side) for t in ST_TEXTS]
            expected[case] = embed_docs(cfg, ref, [ids for ids, _ in toks])
            expected[case + "_ids"] = torch.tensor([i for ids, _ in toks for i in ids], dtype=torch.int32)
            expected[case + "_cu"] = torch.tensor([0] + list(torch.tensor([len(i) for i, _ in toks]).cumsum(0)),
                                                  dtype=torch.int32)
        # input.prefix on a tokenize-only pipeline: ids with offsets on the document's bytes
        toks = [st_tokenize(t, vocab, "Search: ", False, 1 << 30, "right") for t in ST_TEXTS]
        expected["prefix_offsets"] = torch.tensor([o for _, offs in toks for b, e in offs for o in (b, e)],
                                                  dtype=torch.int32)
        # tokenizer.max_length 5 with truncation_side left on an ids pipeline (no prefix, no
        # lowercasing): [CLS] + the last 3 text tokens + [SEP]
        toks = [st_tokenize(t, vocab, "", False, 5, "left") for t in ST_TEXTS]
        expected["max_length_left_ids"] = torch.tensor([i for ids, _ in toks for i in ids], dtype=torch.int32)
        # include_prompt False (a copy of the folder with it set): SentenceTransformer.encode
        # passes prompt_length = len(tokenize([prompt])["input_ids"][0]) - 1, i.e. [CLS] and the
        # prompt's tokens without the prompt's own [SEP]; the same length whatever truncation did.
        prompt_length = len(st_tokenize("", vocab, prompts["query"], True, max_len, "right")[0]) - 1
        expected["no_prompt_length"] = torch.tensor([prompt_length], dtype=torch.int32)
        for side in ("right", "left"):
            docs = [st_tokenize(t, vocab, prompts["query"], True, max_len, side)[0] for t in ST_TEXTS]
            for mode in ("mean", "max", "last") if side == "right" else ("mean",):
                expected[f"no_prompt_{mode}" + ("_left" if side == "left" else "")] = embed_docs(
                    cfg, ref, docs, prompt_length, mode)
        windows, table = [], []
        for d, t in enumerate(ST_TEXTS):
            for ids, (b, e) in st_windows(t, vocab, prompts["query"], True, 8, 2):
                windows.append(ids)
                table.append([d, b, e])
        expected["chunk"] = embed_docs(cfg, ref, windows)
        expected["chunk_windows"] = torch.tensor(table, dtype=torch.int32)
    d = os.path.join(OUT, name)
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(ST_VOCAB) + "\n")
    with open(os.path.join(d, "texts.jsonl"), "w") as f:
        for t in ST_TEXTS:
            f.write(json.dumps({"text": t}) + "\n")
    save_safetensors(os.path.join(d, "model.safetensors"), st)
    save_safetensors(os.path.join(d, "expected.safetensors"), expected)
    for rel, content in {"modules.json": ST_MODULES, "1_Pooling/config.json": ST_MEAN_POOLING,
                         "sentence_bert_config.json": {"max_seq_length": max_len, "do_lower_case": True},
                         "tokenizer_config.json": {"do_lower_case": False, "model_max_length": 32},
                         "config_sentence_transformers.json": {"prompts": prompts,
                                                                "default_prompt_name": "query"}}.items():
        with open(os.path.join(d, rel), "w") as f:
            json.dump(content, f, indent=2)
            f.write("\n")


# ---------------------------------------------------------------- modeling_bart.py

def bart_attention(x, kv, st, p, H, key_hide, causal):
    B, Lq, d = x.shape
    Lk = kv.shape[1]
    hd = d // H
    q = (linear(x, st, p + "q_proj", True) * hd ** -0.5).view(B, Lq, H, hd).transpose(1, 2)
    k = linear(kv, st, p + "k_proj", True).view(B, Lk, H, hd).transpose(1, 2)
    v = linear(kv, st, p + "v_proj", True).view(B, Lk, H, hd).transpose(1, 2)
    w = q @ k.transpose(-1, -2)
    hide = key_hide[:, None, None, :]
    if causal:
        hide = hide | torch.ones(Lq, Lk, dtype=torch.bool).triu(1)
    w = w.masked_fill(hide, float("-inf")).softmax(-1)
    return linear((w @ v).transpose(1, 2).reshape(B, Lq, d), st, p + "out_proj", True)


def marian_sinusoidal(n_pos, dim):
    """modeling_marian.py MarianSinusoidalPositionalEmbedding._init_weight (numpy there, torch
    float64 here): sin of the even columns of position_enc first, then cos of the odd ones."""
    j = torch.arange(dim, dtype=D)
    position_enc = torch.arange(n_pos, dtype=D)[:, None] / torch.pow(10000.0, 2 * (j // 2) / dim)[None]
    sentinel = dim // 2 if dim % 2 == 0 else (dim // 2) + 1
    out = torch.empty(n_pos, dim, dtype=D)
    out[:, 0:sentinel] = torch.sin(position_enc[:, 0::2])
    out[:, sentinel:] = torch.cos(position_enc[:, 1::2])
    return out


def bart_embed(cfg, st, stack, ids):
    d = cfg["d_model"]
    scale = math.sqrt(d) if cfg["scale_embedding"] else 1.0
    if cfg["model_type"] == "marian":  # MarianEncoder/Decoder: positions from 0, no layernorm_embedding
        pos = marian_sinusoidal(cfg["max_position_embeddings"], d)[: ids.shape[1]]
        return st["model.shared.weight"][ids] * scale + pos[None]
    pos = torch.arange(ids.shape[1]) + 2  # BartLearnedPositionalEmbedding.offset
    x = st["model.shared.weight"][ids] * scale + st[f"model.{stack}.embed_positions.weight"][pos][None]
    return layer_norm(x, st, f"model.{stack}.layernorm_embedding", 1e-5)


def bart_forward(cfg, st, src, smask, tgt, tmask):
    H = cfg["encoder_attention_heads"]
    act = {"gelu": torch.nn.functional.gelu, "swish": torch.nn.functional.silu}[cfg["activation_function"]]
    x = bart_embed(cfg, st, "encoder", src)
    for i in range(cfg["encoder_layers"]):
        p = f"model.encoder.layers.{i}."
        x = layer_norm(x + bart_attention(x, x, st, p + "self_attn.", H, ~smask, False), st,
                       p + "self_attn_layer_norm", 1e-5)
        x = layer_norm(x + linear(act(linear(x, st, p + "fc1", True)), st, p + "fc2", True), st,
                       p + "final_layer_norm", 1e-5)
    memory = x
    y = bart_embed(cfg, st, "decoder", tgt)
    for i in range(cfg["decoder_layers"]):
        p = f"model.decoder.layers.{i}."
        y = layer_norm(y + bart_attention(y, y, st, p + "self_attn.", H, ~tmask, True), st,
                       p + "self_attn_layer_norm", 1e-5)
        y = layer_norm(y + bart_attention(y, memory, st, p + "encoder_attn.", H, ~smask, False), st,
                       p + "encoder_attn_layer_norm", 1e-5)
        y = layer_norm(y + linear(act(linear(y, st, p + "fc1", True)), st, p + "fc2", True), st,
                       p + "final_layer_norm", 1e-5)
    return memory, y


def bart_state(cfg, dtype, gen):
    V, d, f, P = cfg["vocab_size"], cfg["d_model"], cfg["encoder_ffn_dim"], cfg["max_position_embeddings"]
    shapes = {"model.shared.weight": [V, d], "final_logits_bias": [1, V]}
    marian = cfg["model_type"] == "marian"
    for stack, n, cross in [("encoder", cfg["encoder_layers"], False), ("decoder", cfg["decoder_layers"], True)]:
        if not marian:
            shapes[f"model.{stack}.embed_positions.weight"] = [P + 2, d]
            shapes[f"model.{stack}.layernorm_embedding.weight"] = [d]
            shapes[f"model.{stack}.layernorm_embedding.bias"] = [d]
        for i in range(n):
            p = f"model.{stack}.layers.{i}."
            attns = ["self_attn."] + (["encoder_attn."] if cross else [])
            for a in attns:
                for proj in ["q_proj", "k_proj", "v_proj", "out_proj"]:
                    shapes[p + a + proj + ".weight"] = [d, d]
                    shapes[p + a + proj + ".bias"] = [d]
            norms = ["self_attn_layer_norm", "final_layer_norm"] + (["encoder_attn_layer_norm"] if cross else [])
            for nm in norms:
                shapes[p + nm + ".weight"] = [d]
                shapes[p + nm + ".bias"] = [d]
            shapes[p + "fc1.weight"], shapes[p + "fc1.bias"] = [f, d], [f]
            shapes[p + "fc2.weight"], shapes[p + "fc2.bias"] = [d, f], [d]
    st = {}
    for name, shape in shapes.items():
        if "layer_norm.weight" in name or "layernorm_embedding.weight" in name:
            v = 1.0 + 0.2 * torch.randn(shape, generator=gen)
        else:
            v = 0.2 * torch.randn(shape, generator=gen)
        st[name] = v.to(dtype)
    # HF files also hold the tied copies of the shared table
    st["model.encoder.embed_tokens.weight"] = st["model.shared.weight"].clone()
    st["model.decoder.embed_tokens.weight"] = st["model.shared.weight"].clone()
    st["lm_head.weight"] = st["model.shared.weight"].clone()
    if marian:  # the fixed tables as Marian checkpoints store them
        for stack in ["encoder", "decoder"]:
            st[f"model.{stack}.embed_positions.weight"] = marian_sinusoidal(P, d).to(dtype)
    return st


def shift_tokens_right(input_ids, pad_token_id, decoder_start_token_id):  # modeling_bart.py
    shifted_input_ids = input_ids.new_zeros(input_ids.shape)
    shifted_input_ids[:, 1:] = input_ids[:, :-1].clone()
    shifted_input_ids[:, 0] = decoder_start_token_id
    shifted_input_ids.masked_fill_(shifted_input_ids == -100, pad_token_id)
    return shifted_input_ids


def make_bart(name, cfg, dtype, src_lengths, tgt_lengths, seed, from_text=None):
    gen = torch.Generator().manual_seed(seed)
    st = bart_state(cfg, DTYPES[dtype], gen)
    ref = {k: v.to(D) for k, v in st.items()}
    sp, smask, sids, scu = roberta_batch(src_lengths, cfg["vocab_size"], cfg["pad_token_id"], seed + 100)
    tp, tmask, tids, tcu = roberta_batch(tgt_lengths, cfg["vocab_size"], cfg["pad_token_id"], seed + 200)
    with torch.no_grad():
        memory, h = bart_forward(cfg, ref, sp, smask, tp, tmask)
        logits = h @ ref["model.shared.weight"].t() + ref["final_logits_bias"]
        top = logits.topk(5, -1)
        expected = {"src_ids": sids, "src_cu": scu, "tgt_ids": tids, "tgt_cu": tcu,
                    "memory": pack(memory, smask).float(), "hidden": pack(h, tmask).float(),
                    "topk_logits": pack(top.values, tmask).float(),
                    "topk_ids": pack(top.indices, tmask).to(torch.int32)}
        # BartForConditionalGeneration.forward with labels=tgt: the decoder reads
        # shift_tokens_right(labels, pad_token_id, decoder_start_token_id); row t predicts tgt[t].
        shifted = shift_tokens_right(tp, cfg["pad_token_id"], cfg["decoder_start_token_id"])
        _, hs = bart_forward(cfg, ref, sp, smask, shifted, tmask)
        ls = hs @ ref["model.shared.weight"].t() + ref["final_logits_bias"]
        tops = ls.topk(5, -1)
        lp = ls.log_softmax(-1).gather(-1, tp[..., None])[..., 0] * tmask
        expected.update({"shifted_hidden": pack(hs, tmask).float(),
                         "shifted_topk_logits": pack(tops.values, tmask).float(),
                         "shifted_topk_ids": pack(tops.indices, tmask).to(torch.int32),
                         "shifted_logprobs": pack(lp, tmask).float(),
                         "shifted_perplexity": torch.exp(-lp.sum(1) / tmask.sum(1)).float()})
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    save_safetensors(os.path.join(d, "model.safetensors"), st)
    save_safetensors(os.path.join(d, "expected.safetensors"), expected)
    if from_text:
        from_text(cfg, ref, d)


# ------------------------------------- from text: the SentencePiece tokenizers of XLM-R and Marian
#
# The folders get a small SentencePiece model trained here (python3-sentencepiece), texts.jsonl and
# text_expected.safetensors: the ids HF's slow tokenizer gives for each text, with its id rules
# written from transformers' code (not from qkv), and the forward above on those ids.
#   tokenization_xlm_roberta.py  fairseq_tokens_to_ids {<s>: 0, <pad>: 1, </s>: 2, <unk>: 3},
#                                fairseq_offset 1, _convert_token_to_id (spm id 0 -> unk),
#                                <mask> = len(sp_model) + 1, build_inputs_with_special_tokens
#                                [cls] + ids + [sep]
#   tokenization_marian.py       _tokenize: spm.encode(text, out_type=str); _convert_token_to_id:
#                                encoder.get(token, encoder[unk_token]); build_inputs_with_special_
#                                tokens: ids + [eos]; labels (text_target) with target.spm

SPM_TRAIN = [
    "the cat sat on the mat and the dog sat on the log",
    "a small model reads short lines of text and writes new ones",
    "every word is split into pieces by the unigram language model",
    "we train a tiny vocabulary so that the ids fit the random checkpoint",
    "translation turns a sentence in one language into another language",
    "the quick brown fox jumps over the lazy dog near the river bank",
    "pieces that start a word carry the meta symbol for the space before them",
    "numbers and rare letters become unknown pieces in such a tiny vocabulary",
    "batch jobs embed documents with an encoder and pool the hidden states",
    "attention weighs every position against the others with queries and keys",
    "generation samples one token after another until the end of the sequence",
    "sentence vectors are normalized so that their length is exactly one",
    "a daemon runs pipelines from files and queues without stopping",
    "plugins bring tokenizers, positions and kernels through a stable interface",
] * 4

XLMR_TEXTS = ["the cat sat on the mat", "A quick fox, near the river!",
              "translation of tiny words", "caf\u00e9 \u03a9\u03a9 and the dog",
              "a daemon runs batch jobs that embed every document with an encoder, pools the hidden "
              "states and writes the normalized vectors"]
MARIAN_PAIRS = [("the dog sat on the log", "a cat reads the text"),
                ("\u03a9 rare letters", "the river \u03a9 bank \u00e9"),
                ("short lines of text", "new ones")]


MARIAN_NEW_TOKENS = 8


def train_spm(prefix, vocab_size):
    import sentencepiece as spm
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(SPM_TRAIN), model_prefix=prefix, model_type="unigram",
        vocab_size=vocab_size, character_coverage=1.0, num_threads=1, shuffle_input_sentence=False,
        normalization_rule_name="nmt_nfkc", minloglevel=2)
    return spm.SentencePieceProcessor(model_file=prefix + ".model")


def write_texts(d, rows):
    with open(os.path.join(d, "texts.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def ids_batch(docs, pad):
    L = max(len(x) for x in docs)
    padded = torch.full((len(docs), L), pad, dtype=torch.long)
    mask = torch.zeros(len(docs), L, dtype=torch.bool)
    for b, x in enumerate(docs):
        padded[b, : len(x)] = torch.tensor(x)
        mask[b, : len(x)] = True
    cu = torch.tensor([0] + list(torch.tensor([len(x) for x in docs]).cumsum(0)), dtype=torch.int32)
    return padded, mask, torch.tensor([i for x in docs for i in x], dtype=torch.int32), cu


def xlmr_from_text(cfg, ref, d):
    sp = train_spm(os.path.join(d, "sentencepiece.bpe"), cfg["vocab_size"] - 2)
    os.remove(os.path.join(d, "sentencepiece.bpe.vocab"))
    fairseq_tokens_to_ids = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    offset = 1
    assert len(sp) + offset + 1 == cfg["vocab_size"]  # XLMRobertaTokenizer.vocab_size (+ <mask>)

    def convert_token_to_id(token):
        if token in fairseq_tokens_to_ids:
            return fairseq_tokens_to_ids[token]
        spm_id = sp.PieceToId(token)
        return spm_id + offset if spm_id else fairseq_tokens_to_ids["<unk>"]

    full = [[0] + [convert_token_to_id(t) for t in sp.encode(x, out_type=str)] + [2] for x in XLMR_TEXTS]
    assert any(3 in x for x in full)  # <unk> is hit
    # SentenceTransformer: the tokenizer with truncation to max_seq_length (24), specials kept
    # (truncate_sequences cuts the text's ids, build_inputs_with_special_tokens adds <s> </s>).
    max_len = 24
    docs = [x if len(x) <= max_len else x[: max_len - 1] + [2] for x in full]
    assert sum(len(x) > max_len for x in full) == 1
    _, _, ids, cu = ids_batch(full, cfg["pad_token_id"])
    padded, mask, model_ids, model_cu = ids_batch(docs, cfg["pad_token_id"])
    with torch.no_grad():
        h = roberta_forward(cfg, ref, padded, mask, "")
        mean = st_pooling(h, mask)["pooled_mean"]
    write_texts(d, [{"text": t} for t in XLMR_TEXTS])
    save_safetensors(os.path.join(d, "text_expected.safetensors"), {
        "ids": ids, "cu": cu, "model_ids": model_ids, "model_cu": model_cu,
        "normalized_mean": torch.nn.functional.normalize(mean, p=2, dim=1).float().contiguous()})


def marian_from_text(cfg, ref, d):
    # The vocab.json is not the .model's numbering: </s> <pad> <unk> first (unk at 2, not Marian's
    # usual 1), two pieces of the first text left out (they become <unk>), and "\u03a9", which the
    # .model lacks, in: an <unk> run with that text gets its id, as encoder.get() gives it.
    sp = train_spm(os.path.join(d, "source"), cfg["vocab_size"] + 1)
    os.replace(os.path.join(d, "source.model"), os.path.join(d, "source.spm"))
    os.remove(os.path.join(d, "source.vocab"))
    # MarianTokenizer's spm_target: another model (fewer pieces, so that tgt segments otherwise),
    # mapped through the same vocab.json; its pieces that vocab.json lacks are <unk>.
    tsp = train_spm(os.path.join(d, "target"), 50)
    os.replace(os.path.join(d, "target.model"), os.path.join(d, "target.spm"))
    os.remove(os.path.join(d, "target.vocab"))
    dropped = [p for p in sp.encode(MARIAN_PAIRS[0][0], out_type=str) if p != "\u2581"][1:3]
    pieces = [sp.IdToPiece(i) for i in range(len(sp)) if not (sp.IsControl(i) or sp.IsUnknown(i))]
    encoder = {"</s>": 0, "<pad>": 1, "<unk>": 2}
    for p in [p for p in pieces if p not in dropped] + ["\u03a9"]:
        encoder[p] = len(encoder)
    assert len(encoder) == cfg["vocab_size"] and encoder["<pad>"] == cfg["pad_token_id"]
    assert encoder["</s>"] == cfg["eos_token_id"]
    with open(os.path.join(d, "vocab.json"), "w") as f:
        json.dump(encoder, f, ensure_ascii=False, indent=1)
        f.write("\n")

    def encode(text, model=sp):
        return [encoder.get(t, encoder["<unk>"]) for t in model.encode(text, out_type=str)] + [encoder["</s>"]]

    marian_codes(sp, encoder)

    src = [encode(s) for s, _ in MARIAN_PAIRS]
    tgt = [encode(t, tsp) for _, t in MARIAN_PAIRS]  # text_target: target.spm
    assert tgt != [encode(t) for _, t in MARIAN_PAIRS]  # source.spm would give other ids
    flat = [i for x in src + tgt for i in x]
    assert encoder["<unk>"] in flat and encoder["\u03a9"] in flat
    sp_, smask, sids, scu = ids_batch(src, cfg["pad_token_id"])
    tp, tmask, tids, tcu = ids_batch(tgt, cfg["pad_token_id"])
    with torch.no_grad():  # MarianMTModel.forward(labels=tgt): shift_tokens_right
        shifted = shift_tokens_right(tp, cfg["pad_token_id"], cfg["decoder_start_token_id"])
        _, hs = bart_forward(cfg, ref, sp_, smask, shifted, tmask)
    write_texts(d, [{"src": s, "tgt": t} for s, t in MARIAN_PAIRS])
    save_safetensors(os.path.join(d, "text_expected.safetensors"), {
        "src_ids": sids, "src_cu": scu, "tgt_ids": tids, "tgt_cu": tcu,
        "shifted_hidden": pack(hs, tmask).float()})

    # Greedy translation (GenerationMixin greedy search: from decoder_start_token_id, argmax of
    # lm_head + final_logits_bias, stop at eos_token_id, which is not part of the output), text
    # = target.spm's decode of the pieces (MarianTokenizer.decode: spm_target).
    inverse = {i: p for p, i in encoder.items()}
    cases = []
    for s_ids in src:
        s_t, s_m = torch.tensor([s_ids]), torch.ones(1, len(s_ids), dtype=torch.bool)
        out, finish = [], "length"
        for _ in range(MARIAN_NEW_TOKENS):
            dec = torch.tensor([[cfg["decoder_start_token_id"]] + out])
            with torch.no_grad():
                _, h = bart_forward(cfg, ref, s_t, s_m, dec, torch.ones_like(dec, dtype=torch.bool))
            logits = h[0, -1] @ ref["model.shared.weight"].t() + ref["final_logits_bias"][0]
            top = logits.topk(2)
            assert float(top.values[0] - top.values[1]) > 1e-3, "a near tie: change the texts"
            nxt = int(top.indices[0])
            if nxt == cfg["eos_token_id"]:
                finish = "eos"
                break
            out.append(nxt)
        assert all(i not in (encoder["<pad>"], encoder["<unk>"]) for i in out)
        cases.append({"ids": out, "finish_reason": finish,
                      "text": tsp.decode_pieces([inverse[i] for i in out])})
    with open(os.path.join(d, "translate_expected.json"), "w") as f:
        json.dump({"max_new_tokens": MARIAN_NEW_TOKENS, "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")


# Multilingual Marian (opus-mt-en-ROMANCE): tokenization_marian.py language_code_re =
# re.compile(">>.+<<"); remove_language_code: code = [re.match(...).group(0)] if it matches at the
# start, text = language_code_re.sub("", text); _tokenize: code + spm.encode(text, out_type=str).
# marian-codes/vocab.json = marian-tiny's with two codes appended (the .model stays source.spm).
MARIAN_CODE_TEXTS = [
    ">>fr<< the dog sat on the log", ">>pt_BR<<a cat reads", ">>xx<< short lines",
    "the dog >>fr<< sat", ">>fr<< a << text", "line >>fr<<\n>>pt_BR<< of text",
    ">><<text", "new ones", ">>fr<<"]


def marian_codes(sp, encoder):
    codes = dict(encoder)
    codes[">>fr<<"] = len(codes)
    codes[">>pt_BR<<"] = len(codes)
    language_code_re = re.compile(">>.+<<")

    def tokenize(text):
        match = language_code_re.match(text)
        code = [match.group(0)] if match else []
        return code + sp.encode(language_code_re.sub("", text), out_type=str)

    cases = []
    for text in MARIAN_CODE_TEXTS:
        tokens = tokenize(text)
        cases.append({"text": text, "tokens": tokens,
                      "ids": [codes.get(t, codes["<unk>"]) for t in tokens] + [codes["</s>"]]})
    assert sum(c["ids"][0] == codes[">>fr<<"] for c in cases) == 2
    assert any(c["ids"][0] == codes[">>pt_BR<<"] for c in cases)
    d = os.path.join(OUT, "marian-codes")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "vocab.json"), "w") as f:
        json.dump(codes, f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(d, "codes_expected.json"), "w") as f:
        json.dump({"model": "marian-tiny/source.spm", "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    make_llama("llama-gqa1", llama_config(
        "llama", vocab_size=96, hidden_size=40, intermediate_size=56, num_hidden_layers=2,
        num_attention_heads=5, num_key_value_heads=1, head_dim=12, attention_bias=False,
        mlp_bias=False), "F32", [9, 4, 13, 1], 11)
    make_llama("qwen2-gqa2-bf16", llama_config(
        "qwen2", vocab_size=112, hidden_size=48, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=6, num_key_value_heads=2, rope_theta=1000000.0,
        rope_scaling={"type": "linear", "factor": 2.0}, tie_word_embeddings=True,
        use_sliding_window=False, sliding_window=4, max_window_layers=2,
        torch_dtype="bfloat16"), "BF16", [7, 12, 3], 12)
    make_llama("mistral-mha-f16", llama_config(
        "mistral", vocab_size=GPT2_VOCAB, hidden_size=16, intermediate_size=24,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4, sliding_window=5,
        tie_word_embeddings=True, max_position_embeddings=1024, torch_dtype="float16"),
        "F16", [11, 3, 8], 13)
    make_llama("llama3-scaled", llama_config(
        "llama", vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, attention_bias=True, mlp_bias=True,
        rope_theta=500000.0, max_position_embeddings=128,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                      "high_freq_factor": 4.0, "original_max_position_embeddings": 16}),
        "F32", [40, 17, 29], 14)
    make_bart("bart-tiny", {
        "model_type": "bart", "architectures": ["BartForConditionalGeneration"], "vocab_size": 70,
        "d_model": 32, "encoder_layers": 2, "decoder_layers": 2, "encoder_attention_heads": 4,
        "decoder_attention_heads": 4, "encoder_ffn_dim": 48, "decoder_ffn_dim": 48,
        "activation_function": "gelu", "max_position_embeddings": 40, "scale_embedding": True,
        "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "decoder_start_token_id": 2,
        "tie_word_embeddings": True, "normalize_before": False, "add_final_layer_norm": False},
        "F32", [6, 11, 3], [5, 2, 9], 17)
    make_bart("marian-tiny", {
        "model_type": "marian", "architectures": ["MarianMTModel"], "vocab_size": 66,
        "decoder_vocab_size": 66, "d_model": 30, "encoder_layers": 2, "decoder_layers": 2,
        "encoder_attention_heads": 3, "decoder_attention_heads": 3, "encoder_ffn_dim": 44,
        "decoder_ffn_dim": 44, "activation_function": "swish", "max_position_embeddings": 64,
        "scale_embedding": True, "pad_token_id": 1, "eos_token_id": 0, "decoder_start_token_id": 1,
        "share_encoder_decoder_embeddings": True, "tie_word_embeddings": True,
        "normalize_before": False, "add_final_layer_norm": False, "static_position_embeddings": True},
        "F32", [7, 12, 4], [6, 3, 10], 18, marian_from_text)
    make_roberta("roberta-mixed", roberta_config(
        "roberta", vocab_size=90, hidden_size=24, num_attention_heads=3, num_hidden_layers=2,
        intermediate_size=40, max_position_embeddings=34), "F32", "roberta.", [7, 1, 15, 4, 32], 15)
    make_roberta("xlmr-st", roberta_config(
        "xlm-roberta", vocab_size=120, hidden_size=16, num_attention_heads=2, num_hidden_layers=2,
        intermediate_size=32, max_position_embeddings=40), "F16", "", [9, 3, 14], 16,
        {"modules.json": ST_MODULES, "1_Pooling/config.json": ST_MEAN_POOLING,
         "sentence_bert_config.json": {"max_seq_length": 24, "do_lower_case": False},
         "config_sentence_transformers.json": {"prompts": {"query": "query: ", "passage": "passage: "},
                                                "default_prompt_name": None}}, xlmr_from_text)
    make_bert_st("bert-st", 19)
    files = {}
    for root, _, names in os.walk(OUT):
        for n in sorted(names):
            p = os.path.join(root, n)
            if n == "manifest.json" and root == OUT:
                continue
            with open(p, "rb") as f:
                files[os.path.relpath(p, OUT)] = hashlib.sha256(f.read()).hexdigest()
    manifest = {"generator": "tests/model/make_hf_fixtures.py", "torch": torch.__version__,
                "files": dict(sorted(files.items()))}
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
