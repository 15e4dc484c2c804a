#!/usr/bin/env bash
# `make bench`: every benchmark in full mode against its peers, one table each, headed by the
# commit they ran on (paste the output into bench/README.md). Peers: npm tokenizers + tiktoken
# (installed into bench/tokenizer-*/node_modules from the committed lock files), Debian's
# python3-torch and redis-server (scripts/setup.sh --peers).
#   bench/run.sh [BUILD_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (with uncommitted changes)'), $(date -u +%F), $(nproc) cores"
section() { echo; echo "## $1"; }
section "Tokenizers: BPE"; bench/tokenizer-bpe/run.sh "$build" 7
section "Tokenizers: WordPiece"; bench/tokenizer-wordpiece/run.sh "$build" 5
section "Tokenizers: SentencePiece"; bench/tokenizer-sentencepiece/run.sh "$build" 3
section "Attention"; "$build/bin/qkv_bench_attention"
section "Model runtime"; bench/model/run.sh "$build" 2
section "Model families: Llama prefill"; bench/model-families/run.sh "$build" 2 32
section "Daemon"; "$build/bin/qkv_bench_daemon" --build "$build"
