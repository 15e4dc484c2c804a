#!/usr/bin/python3
"""Builds the SentencePiece test fixtures with the reference library (Debian python3-sentencepiece).

  /usr/bin/python3 tests/tokenizer-sentencepiece/make_fixtures.py [--skip-train]
  node tests/tokenizer-sentencepiece/hf_goldens.mjs      # the second reference (npm tokenizers)

Writes, for every model in MODELS:
  data/vocab/sentencepiece/<name>/tokenizer.model   trained by spm.SentencePieceTrainer
  data/vocab/sentencepiece/<name>/tokenizer.json    the HF-format equivalent (converter below)
  tests/data/golden/<corpus>.sp-<name>.jsonl.gz     SentencePieceProcessor.encode(text) per doc
  tests/data/golden/invalid_utf8.sp-<name>.replaced.jsonl.gz   on the U+FFFD-replaced lines
  tests/data/golden/invalid_utf8.sp-<name>.raw.jsonl.gz        on the raw bytes (spm replaces
                                                               every invalid byte by U+FFFD)
  tests/data/golden/<corpus>.sp-<name>.decoded.jsonl.gz        decode(encode(text)) per doc: null
                                                               when it is the text itself, else
                                                               the sha256 hex of its UTF-8
                                                               (SentencePiece is lossy under
                                                               NFKC and whitespace folding)
Training input: every line of the test corpora (documents split at LF; spm skips sentences over
max_sentence_length), deterministic: one thread, no shuffling.
"""
import base64
import gzip
import hashlib
import io
import json
import os
import sys

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(ROOT, "tests/data/corpus")
GOLDEN = os.path.join(ROOT, "tests/data/golden")
MODELS_DIR = os.path.join(ROOT, "data/vocab/sentencepiece")
CORPORA = ["en", "ru", "zh", "ja", "code", "mixed_edge"]

# Small vocabularies cannot hold the CJK characters: they are trained on these only (Chinese and
# Japanese then exercise <unk> and byte fallback).
SMALL = ["en", "ru", "code"]

# name -> trainer options (train_on: corpora to train on, default all). Covers: Unigram and BPE, byte fallback on and off, small and larger
# vocabularies, add_dummy_prefix on and off, nmt_nfkc / nfkc / identity, user-defined symbols,
# split_digits, remove_extra_whitespaces off (Llama style).
MODELS = {
    "unigram-8k": dict(model_type="unigram", vocab_size=8000,
                       normalization_rule_name="nmt_nfkc"),
    "unigram-1k-identity": dict(model_type="unigram", vocab_size=1000,
                                normalization_rule_name="identity", add_dummy_prefix=False,
                                train_on=SMALL),
    "unigram-2k-bytes": dict(model_type="unigram", vocab_size=2000,
                             normalization_rule_name="nfkc", byte_fallback=True,
                             user_defined_symbols=["<|endoftext|>", "[MASK]", "<sep>"], train_on=SMALL),
    "bpe-6k-llama": dict(model_type="bpe", vocab_size=6000, normalization_rule_name="identity",
                         byte_fallback=True, split_digits=True, remove_extra_whitespaces=False,
                         allow_whitespace_only_pieces=True),
    "bpe-1k": dict(model_type="bpe", vocab_size=1000, normalization_rule_name="nmt_nfkc",
                   train_on=SMALL),
}


def read_docs(name):
    with open(os.path.join(CORPUS, name + ".jsonl"), encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f if line.strip()]


def read_invalid():
    with open(os.path.join(CORPUS, "invalid_utf8.bin"), "rb") as f:
        data = f.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def write_gz_jsonl(path, rows):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0, filename="") as gz:
        for r in rows:
            gz.write((json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n")
                     .encode("utf-8"))
    with open(path, "wb") as f:
        f.write(buf.getvalue())


def train(name, opts):
    opts = dict(opts)
    corpora = opts.pop("train_on", CORPORA)
    out = os.path.join(MODELS_DIR, name)
    os.makedirs(out, exist_ok=True)
    sentences = []
    for c in corpora:
        for d in read_docs(c):
            sentences.extend(s for s in d.split("\n") if s.strip())
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_prefix=os.path.join(out, "tokenizer"),
        num_threads=1, shuffle_input_sentence=False, input_sentence_size=0,
        max_sentence_length=4192, minloglevel=2, **{"character_coverage": 0.9995, **opts})
    os.remove(os.path.join(out, "tokenizer.vocab"))


# ---------------------------------------------------------------- tokenizer.json converter
# Written after transformers' SpmConverter / LlamaConverter (Debian has neither transformers
# nor tokenizers for Python), with the whitespace handling as close to SentencePiece as HF's
# building blocks allow.

SPACE = "\u2581"


def convert(model_path):
    m = pb.ModelProto()
    with open(model_path, "rb") as f:
        m.ParseFromString(f.read())
    ts, ns = m.trainer_spec, m.normalizer_spec
    pieces = [(p.piece, p.score, p.type) for p in m.pieces]
    T = pb.ModelProto.SentencePiece
    unk_id = next(i for i, p in enumerate(pieces) if p[2] == T.UNKNOWN)
    added = []
    for i, (piece, _, t) in enumerate(pieces):
        if t in (T.CONTROL, T.UNKNOWN, T.USER_DEFINED):
            added.append({"id": i, "content": piece, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False,
                          "special": t != T.USER_DEFINED})
    norms = []
    if ns.precompiled_charsmap:
        norms.append({"type": "Precompiled",
                      "precompiled_charsmap": base64.b64encode(ns.precompiled_charsmap).decode()})
    if ns.remove_extra_whitespaces:
        # SentencePiece drops leading/trailing ' ' and folds runs of ' ' (after the charsmap);
        # HF's Strip would also drop LF and TAB, so this uses regex replaces instead (\A and \z:
        # Oniguruma's ^ and $ also match at line breaks).
        norms.append({"type": "Replace", "pattern": {"Regex": "\\A +| +\\z"}, "content": ""})
        norms.append({"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "})
    prepend = "always" if ns.add_dummy_prefix else "never"
    pre = {"type": "Metaspace", "replacement": SPACE, "prepend_scheme": prepend, "split": False}
    if ts.model_type == pb.TrainerSpec.UNIGRAM:
        model = {"type": "Unigram", "unk_id": unk_id, "byte_fallback": ts.byte_fallback,
                 "vocab": [[p[0], p[1]] for p in pieces]}
        post_special = "</s>"
    else:
        vocab = {p[0]: i for i, p in enumerate(pieces)}
        # Every way of building a piece from two pieces, ordered by the merged piece's score:
        # BPE in SentencePiece merges the best-scoring pair; HF merges the lowest rank.
        merges = []
        for i, (piece, score, t) in enumerate(pieces):
            if t != T.NORMAL:
                continue
            for k in range(1, len(piece)):
                a, b = piece[:k], piece[k:]
                if a in vocab and b in vocab and pieces[vocab[a]][2] == T.NORMAL and \
                        pieces[vocab[b]][2] == T.NORMAL:
                    merges.append((-score, i, vocab[a], vocab[b], a, b))
        merges.sort()
        model = {"type": "BPE", "dropout": None, "unk_token": pieces[unk_id][0],
                 "continuing_subword_prefix": None, "end_of_word_suffix": None,
                 "fuse_unk": True, "byte_fallback": ts.byte_fallback, "ignore_merges": False,
                 "vocab": vocab, "merges": [[x[4], x[5]] for x in merges]}
        post_special = "<s>"
    special_id = next(i for i, p in enumerate(pieces) if p[0] == post_special)
    if post_special == "<s>":
        single = [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                  {"Sequence": {"id": "A", "type_id": 0}}]
    else:
        single = [{"Sequence": {"id": "A", "type_id": 0}},
                  {"SpecialToken": {"id": "</s>", "type_id": 0}}]
    post = {"type": "TemplateProcessing", "single": single, "pair": single + [
        {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {post_special: {"id": post_special, "ids": [special_id],
                                          "tokens": [post_special]}}}
    decoders = [{"type": "Replace", "pattern": {"String": SPACE}, "content": " "}]
    if ts.byte_fallback:
        decoders.append({"type": "ByteFallback"})
    decoders.append({"type": "Fuse"})
    if ns.add_dummy_prefix:
        decoders.append({"type": "Strip", "content": " ", "start": 1, "stop": 0})
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": {"type": "Sequence", "normalizers": norms} if norms else None,
            "pre_tokenizer": pre, "post_processor": post,
            "decoder": {"type": "Sequence", "decoders": decoders}, "model": model}


def decoded_digest(text, decoded):
    if decoded == text:
        return None
    return hashlib.sha256(decoded.encode("utf-8")).hexdigest()


def main():
    os.makedirs(GOLDEN, exist_ok=True)
    invalid = read_invalid()
    for name, opts in MODELS.items():
        model_path = os.path.join(MODELS_DIR, name, "tokenizer.model")
        if "--skip-train" not in sys.argv or not os.path.exists(model_path):
            train(name, opts)
        sp = spm.SentencePieceProcessor(model_file=model_path)
        with open(os.path.join(MODELS_DIR, name, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(convert(model_path), f, ensure_ascii=False, indent=1)
            f.write("\n")
        for c in CORPORA:
            docs = read_docs(c)
            ids = [sp.encode(d) for d in docs]
            write_gz_jsonl(os.path.join(GOLDEN, f"{c}.sp-{name}.jsonl.gz"), ids)
            write_gz_jsonl(os.path.join(GOLDEN, f"{c}.sp-{name}.decoded.jsonl.gz"),
                           [decoded_digest(d, sp.decode(x)) for d, x in zip(docs, ids)])
        replaced = [b.decode("utf-8", "replace") for b in invalid]
        write_gz_jsonl(os.path.join(GOLDEN, f"invalid_utf8.sp-{name}.replaced.jsonl.gz"),
                       [sp.encode(t) for t in replaced])
        write_gz_jsonl(os.path.join(GOLDEN, f"invalid_utf8.sp-{name}.raw.jsonl.gz"),
                       [sp.encode(b) for b in invalid])
        print(name, sp.get_piece_size(), "pieces", flush=True)


if __name__ == "__main__":
    main()
