#!/usr/bin/env bash
# `make run`: the default pipeline (configs/qkvd.yaml: default_pipeline) over the bundled sample
# corpus (data/sample/*.jsonl), in-process with `qkvd run`; qkvd prints the summary.
#   scripts/run-demo.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
qkvd="$build/bin/qkvd"
[[ -x $qkvd ]] || { echo "run-demo: $qkvd not built (run: make build)" >&2; exit 1; }
out=build/run
mkdir -p "$out"
"$qkvd" --config configs/qkvd.yaml run --input 'data/sample/*.jsonl' --output "$out/sample.ids.jsonl"
echo "first document's ids (head): $(head -c 120 "$out/sample.ids.jsonl")..."
