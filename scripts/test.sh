#!/usr/bin/env bash
# The whole test suite, in timed stages. Called by `make test` and by .ci/run.
#   1. optimized build, every ctest label (unit, parity, integration, daemon, soak, bench smoke)
#   2. ASan+UBSan build of the unit tests only
#   3. TSan build of the daemon tests only
#   4. clang/libFuzzer build of the fuzz targets, 30 s each (`make fuzz`: 60 s)
# QKV_TEST_STAGES="release asan tsan fuzz" picks stages.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-$(nproc)}
stages=${QKV_TEST_STAGES:-release asan tsan fuzz}
failed=()

stage() {  # stage NAME command...
  local name=$1; shift
  local t0=$SECONDS
  echo "=== stage $name: start $(date +%T)"
  if "$@"; then
    echo "=== stage $name: ok in $((SECONDS - t0)) s"
  else
    echo "=== stage $name: FAILED in $((SECONDS - t0)) s"
    failed+=("$name")
  fi
}

build_and_test() {  # dir cmake-args target ctest-args
  local dir=$1 args=$2 target=$3 ctest_args=$4
  # shellcheck disable=SC2086
  cmake -S . -B "$dir" -G Ninja $args > "$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j "$jobs" --target $target || return 1
  # shellcheck disable=SC2086
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" $ctest_args
}

mkdir -p build
for s in $stages; do
  case $s in
    release) stage release build_and_test build/release "-DCMAKE_BUILD_TYPE=Release" all "" ;;
    asan) stage asan build_and_test build/asan "-DCMAKE_BUILD_TYPE=Debug -DQKV_SANITIZE=address" tests-unit "-L unit" ;;
    tsan) stage tsan build_and_test build/tsan "-DCMAKE_BUILD_TYPE=RelWithDebInfo -DQKV_SANITIZE=thread" tests-daemon "-L daemon" ;;
    fuzz) stage fuzz build_and_test build/fuzz "-DCMAKE_BUILD_TYPE=RelWithDebInfo -DQKV_FUZZ=ON -DQKV_FUZZ_SECONDS=30 -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14" tests-fuzz "-L fuzz" ;;
    *) echo "unknown stage $s"; exit 2 ;;
  esac
done

if ((${#failed[@]})); then
  echo "FAILED stages: ${failed[*]}"
  exit 1
fi
echo "all stages passed"
