#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang, ASan+UBSan) in ./build-fuzz and runs each one
# on its seed corpus for a time or a number of executions, one after the other (one job each).
#   scripts/fuzz.sh --seconds 30          # each target 30 s (CI: --seconds 5)
#   scripts/fuzz.sh --runs 100000 idx     # only the named targets, N executions each
# Prints per target: executions, coverage (edges), features, corpus size, result. Exits 1 if any
# target crashed, leaked, timed out or ran out of memory; the reproducer is then in
# build-fuzz/artifacts/<target>/ (add it to tests/fuzz/corpus/<target>/ once fixed).
# New inputs the fuzzers find go to build-fuzz/corpus/<target>/ (kept between runs, seeded
# from tests/fuzz/corpus/), never into the committed seeds.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=(-max_total_time=30)
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) limit=(-max_total_time="$2"); shift 2 ;;
    --runs) limit=(-runs="$2"); shift 2 ;;
    -h|--help) sed -n 2,10p "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (use --seconds N or --runs N)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(arch_spec search_space latency_table mpc_cost_table
  measured_points safetensors checkpoint idx cifar image_decode)

CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DVITNAS_FUZZ=ON > /dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null || cmake --build build-fuzz -j1

# The largest input worth trying per format: JSON files and safetensors headers stay small; an
# image or IDX needs a few KB to reach past its header; a CIFAR record is 3074 bytes.
max_len() {
  case "$1" in
    latency_table|measured_points|search_space|arch_spec) echo 16384 ;;
    cifar) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

failed=0
# The Catch2 regression tests of earlier findings, sanitized (tests/test_fuzz_regressions.cpp).
build-fuzz/fuzz_regressions > build-fuzz/fuzz_regressions.log 2>&1 ||
  { echo "fuzz_regressions FAILED: see build-fuzz/fuzz_regressions.log"; failed=1; }
printf '%-16s %10s %7s %7s %8s  %s\n' target execs cov ft corpus result
for t in "${targets[@]}"; do
  bin=build-fuzz/fuzz_$t
  [[ -x $bin ]] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/artifacts/$t"
  dict=()
  [[ -f tests/fuzz/dict/$t.dict ]] && dict=(-dict="tests/fuzz/dict/$t.dict")
  log=build-fuzz/fuzz_$t.log
  rc=0
  # LibTorch's and libpng's own allocations at exit are not ours to fix: no leak check noise
  # from them is expected, so leaks stay on (detect_leaks=1, libFuzzer's -detect_leaks default).
  "$bin" "${limit[@]}" "${dict[@]}" -rss_limit_mb=2048 -timeout=10 -max_len="$(max_len "$t")" \
    -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$t/" \
    "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" > "$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+.*(cov|DONE)' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<< "$last")
  result=ok
  if [[ $rc -ne 0 ]]; then
    result="FAILED (rc $rc): $(grep -m1 -E 'ERROR|runtime error|terminate called' "$log" || echo see log) -> $log"
    failed=1
  fi
  printf '%-16s %10s %7s %7s %8s  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done
exit $failed
