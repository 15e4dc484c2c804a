#!/usr/bin/env bash
# The full tokenizer-sentencepiece benchmark: the SentencePiece library (python3-sentencepiece),
# the HF npm binding, then qkv, one table on stdout; ROUNDS rounds so the ratios come from
# interleaved measurements on a shared machine.
#   bench/tokenizer-sentencepiece/run.sh [BUILD_DIR] [RUNS] [ROUNDS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build/release}
runs=${2:-3}
rounds=${3:-1}
cd "$here"
[ -d node_modules ] || npm ci --no-audit --no-fund >&2
sp=$(mktemp)
hf=$(mktemp)
trap 'rm -f "$sp" "$hf"' EXIT
for round in $(seq "$rounds"); do
  [ "$rounds" = 1 ] || echo "round $round"
  /usr/bin/python3 peer_sentencepiece.py --runs "$runs" > "$sp"
  RAYON_NUM_THREADS=1 node peer_hf.mjs --runs "$runs" > "$hf"
  (cd "$here/../.." && "$build/bin/qkv_bench_sentencepiece" --runs "$runs" --peer "$sp" --hf "$hf")
done
