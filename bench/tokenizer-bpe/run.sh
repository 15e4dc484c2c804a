#!/usr/bin/env bash
# The full tokenizer-bpe benchmark: npm peers, then qkv, one table on stdout.
#   bench/tokenizer-bpe/run.sh [BUILD_DIR] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build/release}
runs=${2:-5}
cd "$here"
[ -d node_modules ] || npm ci --no-audit --no-fund >&2
peers=$(mktemp)
trap 'rm -f "$peers"' EXIT
RAYON_NUM_THREADS=1 node peers.mjs --runs "$runs" > "$peers"
cd "$here/../.."
"$build/bin/qkv_bench_bpe" --runs "$runs" --peers "$peers"
