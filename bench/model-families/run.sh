#!/usr/bin/env bash
# bench/model-families: SmolLM-360M-shaped random Llama prefill, f32 and bf16 weights, qkv vs
# torch 1.13 (the fixture script's forward) in the same run.
# Usage: bench/model-families/run.sh [BUILD_DIR] [THREADS] [LAYERS (32: all of SmolLM-360M)]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
threads=${2:-2}
layers=${3:-32}
work=${QKV_BENCH_DIR:-/tmp/qkv-bench-families}
for dtype in F32 BF16; do
  dir=$work/smollm-360m-$dtype-$layers
  [[ -f $dir/model.safetensors ]] ||
    /usr/bin/python3 bench/model-families/torch_llama.py make "$dir" --dtype "$dtype" --layers "$layers"
  /usr/bin/python3 bench/model-families/torch_llama.py time "$dir" --threads "$threads" > "$dir/torch.json"
  echo "## $dtype weights"
  "$build/bin/family_bench" --threads "$threads" --model "$dir" --torch "$dir/torch.json"
done
