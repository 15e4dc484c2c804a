#!/usr/bin/env bash
# Installs the Debian 12 packages qkv needs to build and test, only those missing.
# A no-op when everything is present. Usage: scripts/setup.sh [--peers]
#   --peers  also the benchmark peers (PyTorch, Redis, SentencePiece, Node.js for the npm tokenizers)
set -euo pipefail

packages=(
  g++ cmake ninja-build make pkg-config git ca-certificates
  clang-14 libclang-rt-14-dev               # libFuzzer targets
  libboost-dev libboost-filesystem-dev      # Asio, DLL (+ filesystem)
  libyaml-cpp-dev libtbb-dev libhwy-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libutf8proc-dev nlohmann-json3-dev libsimdjson-dev libcli11-dev
  unicode-data                              # DerivedAge.txt: WordPiece's Unicode 8.0 gate
  zlib1g-dev libzstd-dev zstd gzip libssl-dev
  python3 valgrind clang-format
  dpkg-dev                                  # cpack -G DEB (dpkg-shlibdeps) and the packaging test (dpkg-deb)
  libhiredis-dev redis-server               # the Redis Streams job source and its tests (issue 16)
)
if [[ "${1:-}" == "--peers" ]]; then
  packages+=(python3-torch python3-numpy redis-tools python3-sentencepiece)
  command -v npm >/dev/null || packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "setup: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
