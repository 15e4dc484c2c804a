#!/usr/bin/env bash
# Regenerates every PyTorch fixture set (`make fixtures`): runs each tests/**/make_*fixtures.py
# with Debian's python3 (the one python3-torch installs for), then shows what changed in the
# fixture folders. A clean `git diff` means the committed fixtures match this torch.
set -euo pipefail
cd "$(dirname "$0")/.."
py=/usr/bin/python3
mapfile -t scripts < <(find tests -name "make_*fixtures.py" -type f | sort)
if ((${#scripts[@]} == 0)); then
  echo "no tests/**/make_fixtures.py found"
  exit 0
fi
dirs=()
for s in "${scripts[@]}"; do
  echo "=== $s"
  "$py" "$s"
  dirs+=("$(dirname "$s")")
done
echo "=== changes against the committed fixtures"
git status --short -- "${dirs[@]}"
git diff --stat -- "${dirs[@]}"
