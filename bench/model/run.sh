#!/usr/bin/env bash
# bench/model: prints the model runtime table (FMA peak, GEMMs, BERT-base encoder vs torch).
# Usage: bench/model/run.sh [BUILD_DIR] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
threads=${2:-2}
work=${QKV_BENCH_DIR:-/tmp/qkv-bench-model}
if [[ ! -f $work/bert-base/model.safetensors ]]; then
  /usr/bin/python3 bench/model/torch_bert.py make "$work/bert-base"
fi
/usr/bin/python3 bench/model/torch_bert.py time "$work/bert-base" --threads "$threads" > "$work/torch.json"
"$build/bin/model_bench" --threads "$threads" --model "$work/bert-base" --torch "$work/torch.json"
