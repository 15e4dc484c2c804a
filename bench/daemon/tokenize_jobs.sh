#!/usr/bin/env bash
# Whole `qkvd run` tokenize jobs as a user runs them, start-up removed: a job on the corpus
# minus the same job on its first 8 documents, for each vocabulary, jsonl and .bin output,
# 1 and 2 threads; plus the wall of a 1-document job (start-up). Wall and CPU seconds
# (user+sys of the whole process, from /usr/bin/time) so a loaded machine can be read.
#   bench/daemon/tokenize_jobs.sh [BUILD_DIR] [COPIES] [RUNS]
#   --smoke: one small GPT-2 jsonl case, to keep the script from rotting (seconds)
# The bare tokenizers on the same text: bench/tokenizer-*/ (qkv_bench_bpe, qkv_bench_wordpiece).
set -euo pipefail
smoke=0
if [ "${1:-}" = --smoke ]; then smoke=1; shift; fi
build=${1:-build/release}
copies=${2:-4}  # en.jsonl (4.1 MB) repeated: 16 MB by default
runs=${3:-3}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
corpus_dir=${QKV_CORPUS_DIR:-/work/shared/data/corpus}
[ -d "$corpus_dir" ] || corpus_dir=tests/data/corpus
if [ "$smoke" = 1 ]; then copies=1; runs=1; fi
work=$(mktemp -d "${TMPDIR:-/tmp}/qkv-tokjobs.XXXXXX")
trap 'rm -rf "$work"' EXIT

big="$work/en.jsonl"
for _ in $(seq "$copies"); do cat "$corpus_dir/en.jsonl"; done > "$big"
[ "$smoke" = 1 ] && head -200 "$corpus_dir/en.jsonl" > "$big"
head -8 "$corpus_dir/en.jsonl" > "$work/small.jsonl"
head -1 "$corpus_dir/en.jsonl" > "$work/one.jsonl"
bytes=$(stat -c %s "$big")
small_bytes=$(stat -c %s "$work/small.jsonl")

# One job: prints "wall cpu" seconds.
job() {  # pipeline input output threads
  rm -rf "$work"/out*
  /usr/bin/time -f "%e %U %S" -o "$work/time" \
    "$build/bin/qkvd" run -p "configs/pipelines/$1.yaml" -i "$2" -o "$3" -t "$4" > /dev/null 2> "$work/log" ||
    { cat "$work/log" >&2; exit 1; }
  awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$work/time"
}
# Median of $runs jobs: "wall cpu".
median_job() {
  for _ in $(seq "$runs"); do job "$@"; done | sort -n | awk '{w[NR]=$1; c[NR]=$2}
    END {m=int((NR+1)/2); print w[m], c[m]}'
}

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "corpus: en.jsonl x $copies = $((bytes / 1000000)) MB; medians of $runs runs"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
echo
echo "| vocabulary | output | threads | 1-doc job wall s | steady wall MB/s | steady MB per CPU-s |"
echo "|---|---|---:|---:|---:|---:|"
pipelines="tokenize-gpt2 tokenize-cl100k tokenize-o200k tokenize-bert-base-uncased"
outputs="jsonl bin"
threads="1 2"
if [ "$smoke" = 1 ]; then pipelines=tokenize-gpt2; outputs=jsonl; threads=1; fi
for p in $pipelines; do
  one=$(median_job "$p" "$work/one.jsonl" "$work/out.jsonl" 1 | cut -d' ' -f1)
  for ext in $outputs; do
    for t in $threads; do
      read -r sw sc < <(median_job "$p" "$work/small.jsonl" "$work/out.$ext" "$t")
      read -r bw bc < <(median_job "$p" "$big" "$work/out.$ext" "$t")
      awk -v p="$p" -v e="$ext" -v t="$t" -v one="$one" -v b="$bytes" -v s="$small_bytes" \
        -v bw="$bw" -v sw="$sw" -v bc="$bc" -v sc="$sc" 'BEGIN {
          mb = (b - s) / 1e6; dw = bw - sw; dc = bc - sc
          w = "-"; c = "-"
          if (dw > 0) w = sprintf("%.1f", mb / dw)
          if (dc > 0) c = sprintf("%.1f", mb / dc)
          printf "| %s | %s | %d | %.3f | %s | %s |\n", p, e, t, one, w, c }'
    done
  done
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
