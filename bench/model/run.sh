#!/usr/bin/env bash
# bench/model: prints the model runtime table (FMA peak, GEMMs of qkv, oneDNN and BLIS, the
# BERT-base encoder vs ONNX Runtime and torch on the same weights and ids), once per thread count.
# Usage: bench/model/run.sh [BUILD_DIR] [THREADS...]   (default threads: 2 1)
# Peers: Debian's python3-torch (scripts/setup.sh --peers) exports the model; ONNX Runtime comes
# from npm (onnxruntime-node, installed here with --ignore-scripts: its install script fetches GPU
# binaries; the CPU ones ship in the package).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
shift || true
threads=("$@")
[[ ${#threads[@]} -gt 0 ]] || threads=(2 1)
sequences=${QKV_BENCH_SEQUENCES:-32}
work=${QKV_BENCH_DIR:-/tmp/qkv-bench-model}
if [[ ! -f $work/bert-base/model.safetensors ]]; then
  /usr/bin/python3 bench/model/torch_bert.py make "$work/bert-base"
fi
if [[ ! -f $work/bert-base/model.onnx ]]; then
  /usr/bin/python3 bench/model/torch_bert.py export "$work/bert-base" 2>/dev/null
fi
[[ -d bench/model/ort/node_modules ]] ||
  (cd bench/model/ort && npm ci --ignore-scripts --no-audit --no-fund >&2)
first=1
for t in "${threads[@]}"; do
  /usr/bin/python3 bench/model/torch_bert.py time "$work/bert-base" --threads "$t" \
    --sequences "$sequences" > "$work/torch.json"
  node bench/model/ort/ort_bert.mjs "$work/bert-base" --threads "$t" --sequences "$sequences" \
    --hidden "$work/ort-hidden.bin" > "$work/ort.json"
  extra=()
  [[ $first == 1 ]] || extra=(--stage-only)
  "$build/bin/model_bench" --threads "$t" --model "$work/bert-base" --sequences "$sequences" \
    --torch "$work/torch.json" --ort "$work/ort.json" --ort-hidden "$work/ort-hidden.bin" \
    "${extra[@]}"
  first=0
  echo
done
