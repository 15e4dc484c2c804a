#!/usr/bin/env bash
# `make run`: the default pipeline (configs/qkvd.yaml: default_pipeline) over the bundled sample
# corpus (data/sample/*.jsonl), as a job of a qkvd daemon (docs/service.md): qkvctl prints the summary.
#   scripts/run-demo.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
qkvd="$build/bin/qkvd"
[[ -x $qkvd ]] || { echo "run-demo: $qkvd not built (run: make build)" >&2; exit 1; }
out=build/out                       # the shipped output root (configs/qkvd.yaml: roots)
mkdir -p "$out" build/run
# Through the daemon: start qkvd, submit the job and watch it, then stop qkvd (SIGTERM drains).
# In-process alternative: "$qkvd" --config configs/qkvd.yaml run --input 'data/sample/*.jsonl' --output ...
qkvctl=("$build/bin/qkvctl" --config configs/qkvd.yaml)
"$qkvd" --config configs/qkvd.yaml 2> build/run/qkvd.log &
qkvd_pid=$!
trap 'kill "$qkvd_pid" 2>/dev/null || true; wait "$qkvd_pid" 2>/dev/null || true' EXIT
for _ in $(seq 300); do
  "${qkvctl[@]}" health > /dev/null 2>&1 && break
  kill -0 "$qkvd_pid" 2>/dev/null || { cat build/run/qkvd.log >&2; exit 1; }
  sleep 0.1
done
"${qkvctl[@]}" submit --wait --output "$out/sample.ids.jsonl" 'data/sample/*.jsonl'
kill -TERM "$qkvd_pid" && wait "$qkvd_pid"
trap - EXIT
echo "first document's ids (head): $(head -c 120 "$out/sample.ids.jsonl")..."
