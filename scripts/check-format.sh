#!/usr/bin/env bash
# Fails when a tracked C/C++ file differs from .clang-format (fix: make format).
# tests/abi/v1 and v1_1 are frozen copies of released headers and stay byte-for-byte as released.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cpp' '*.hpp' '*.h' '*.cc' | grep -v '^tests/abi/v1')
# shellcheck disable=SC2086
clang-format --dry-run -Werror $files
echo "clang-format: $(wc -w <<< "$files") files formatted"
