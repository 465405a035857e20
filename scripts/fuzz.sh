#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang, ASan+UBSan) in ./build-fuzz and runs each one
# on its seed corpus for a time or a number of executions, --jobs at a time (one process each).
#   scripts/fuzz.sh --seconds 30                # each target 30 s
#   scripts/fuzz.sh --seconds 10 --jobs 2       # what scripts/test.sh (CI) runs
#   scripts/fuzz.sh --runs 10000000 idx         # only the named targets, N executions each
#   scripts/fuzz.sh --runs 10000000 --seconds 3600   # whichever comes first
# Prints per target: executions, executions/s, coverage (edges), features, corpus size, result.
# Exits 1 if any target crashed, leaked, timed out or ran out of memory; the reproducer is then
# in build-fuzz/artifacts/<target>/ (add it to tests/fuzz/corpus/<target>/ once fixed).
# New inputs the fuzzers find go to build-fuzz/corpus/<target>/ (kept between runs, seeded
# from tests/fuzz/corpus/), never into the committed seeds.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=()
jobs=1
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) limit+=(-max_total_time="$2"); shift 2 ;;
    --runs) limit+=(-runs="$2"); shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    -h|--help) sed -n 2,12p "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (use --seconds N, --runs N, --jobs N)" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ ${#limit[@]} -gt 0 ]] || limit=(-max_total_time=30)
[[ ${#targets[@]} -gt 0 ]] || targets=(arch_spec search_space latency_table mpc_cost_table
  measured_points safetensors checkpoint idx cifar image_decode)

# OSS-Fuzz's flags: -O1 with line tables only (the reports' stack traces) builds in less time
# than RelWithDebInfo, which matters in CI.
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" -DVITNAS_FUZZ=ON > /dev/null
cmake --build build-fuzz -j"$(nproc)" >/dev/null || cmake --build build-fuzz -j1
for t in "${targets[@]}"; do
  [[ -x build-fuzz/fuzz_$t ]] || { echo "fuzz.sh: no target $t" >&2; exit 2; }
done

# The largest input worth trying per format: JSON files and safetensors headers stay small; an
# image or IDX needs a few KB to reach past its header; a CIFAR record is 3074 bytes.
max_len() {
  case "$1" in
    latency_table|measured_points|search_space|arch_spec) echo 16384 ;;
    cifar) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

# Runs one target and writes its table row to build-fuzz/fuzz_<target>.row.
run_target() {
  local t=$1 rc=0
  mkdir -p "build-fuzz/corpus/$t" "build-fuzz/artifacts/$t"
  local dict=()
  [[ -f tests/fuzz/dict/$t.dict ]] && dict=(-dict="tests/fuzz/dict/$t.dict")
  local log=build-fuzz/fuzz_$t.log
  # LibTorch's and libpng's own allocations at exit are not ours to fix: no leak check noise
  # from them is expected, so leaks stay on (detect_leaks=1, libFuzzer's -detect_leaks default).
  "build-fuzz/fuzz_$t" "${limit[@]}" "${dict[@]}" -rss_limit_mb=2048 -timeout=10 \
    -max_len="$(max_len "$t")" -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$t/" \
    "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t" > "$log" 2>&1 || rc=$?
  local execs rate last cov ft corp result=ok
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+.*(cov|DONE)' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<< "$last")
  if [[ $rc -ne 0 ]]; then
    result="FAILED (rc $rc): $(grep -m1 -E 'ERROR|runtime error|terminate called' "$log" ||
      echo see log) -> $log"
  fi
  printf '%-16s %10s %7s %7s %7s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
    "${ft:-?}" "${corp:-?}" "$result" > "build-fuzz/fuzz_$t.row"
}

failed=0
# The Catch2 regression tests of earlier findings, sanitized (tests/test_fuzz_regressions.cpp).
build-fuzz/fuzz_regressions > build-fuzz/fuzz_regressions.log 2>&1 ||
  { echo "fuzz_regressions FAILED: see build-fuzz/fuzz_regressions.log"; failed=1; }
start=$SECONDS
for t in "${targets[@]}"; do
  rm -f "build-fuzz/fuzz_$t.row"
  run_target "$t" &
  while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do wait -n || true; done
done
wait
printf '%-16s %10s %7s %7s %7s %8s  %s\n' target execs exec/s cov ft corpus result
for t in "${targets[@]}"; do
  row=build-fuzz/fuzz_$t.row
  if [[ -f $row ]]; then cat "$row"; else echo "$t: no result (killed?)"; failed=1; fi
  grep -q FAILED "$row" 2>/dev/null && failed=1
done
echo "fuzz.sh: ${#targets[@]} targets in $((SECONDS - start)) s, $jobs at a time"
exit $failed
