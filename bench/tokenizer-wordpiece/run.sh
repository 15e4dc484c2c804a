#!/usr/bin/env bash
# The full tokenizer-wordpiece benchmark: the npm peer, then qkv, one table on stdout.
#   bench/tokenizer-wordpiece/run.sh [BUILD_DIR] [RUNS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build/release}
runs=${2:-5}
cd "$here"
[ -d node_modules ] || npm ci --no-audit --no-fund >&2
peer=$(mktemp)
trap 'rm -f "$peer"' EXIT
RAYON_NUM_THREADS=1 node peer.mjs --runs "$runs" > "$peer"
cd "$here/../.."
"$build/bin/qkv_bench_wordpiece" --runs "$runs" --peer "$peer"
