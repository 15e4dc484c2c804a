#!/usr/bin/env bash
# Full generation benchmark: a GPT-2-small-shaped random decoder (12 x 768, vocab 50257, f32,
# learned positions; bench/model/make_synthetic.py) through generate_bench.
#   bench/generate/run.sh [BUILD_DIR] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
threads=${2:-2}
dir=${TMPDIR:-/tmp}/qkv-bench-gpt2-small
[[ -f $dir/model.safetensors ]] ||
  /usr/bin/python3 bench/model/make_synthetic.py "$dir" --arch decoder --positions learned \
    --d-model 768 --heads 12 --layers 12 --ffn 3072 --vocab 50257 --max-positions 1024
"$build/bin/generate_bench" --model "$dir" --threads "$threads"
