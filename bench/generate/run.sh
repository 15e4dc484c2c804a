#!/usr/bin/env bash
# Full generation benchmark (bench/model/make_synthetic.py makes the random models, f32):
#  1. a GPT-2-small-shaped decoder (12 x 768, vocab 50257, learned positions) through
#     generate_bench, with prefill set against the encoder of the same shape and batch-32 decode
#     against torch 1.13 (torch_decode.py, same model, prompts and threads) where Debian's
#     python3-torch is installed;
#  2. a Transformer-base-shaped seq2seq (6 + 6 x 512, ffn 2048, 8 heads, vocab 32000,
#     sinusoidal positions, post-norm ReLU).
#   bench/generate/run.sh [BUILD_DIR] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/release}
threads=${2:-2}
tmp=${TMPDIR:-/tmp}
synth() {  # DIR ARGS...: make the model once
  [[ -f $1/model.safetensors ]] || /usr/bin/python3 bench/model/make_synthetic.py "$@"
}
gpt2=$tmp/qkv-bench-gpt2-small enc=$tmp/qkv-bench-gpt2-small-encoder s2s=$tmp/qkv-bench-transformer-base
shape=(--d-model 768 --heads 12 --layers 12 --ffn 3072 --vocab 50257 --max-positions 1024)
synth "$gpt2" --arch decoder --positions learned "${shape[@]}"
synth "$enc" --arch encoder --positions learned "${shape[@]}"
synth "$s2s" --arch encoder-decoder --positions sinusoidal --d-model 512 --heads 8 --layers 6 \
  --ffn 2048 --vocab 32000
torch=()
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  # Debian's torch calls the system BLAS (BLIS here), whose threads follow the environment,
  # not torch.set_num_threads: give it the same thread count.
  OMP_NUM_THREADS=$threads BLIS_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads \
    /usr/bin/python3 bench/generate/torch_decode.py "$gpt2" --threads "$threads" \
    --json "$tmp/qkv-bench-torch-decode.json"
  torch=(--torch-json "$tmp/qkv-bench-torch-decode.json")
fi
"$build/bin/generate_bench" --model "$gpt2" --threads "$threads" --encoder "$enc" "${torch[@]}"
"$build/bin/generate_bench" --model "$s2s" --threads "$threads"
