#!/usr/bin/env bash
# Builds the whole library, CLI and Catch2 suite with AddressSanitizer + UndefinedBehaviorSanitizer
# in ./build-asan and runs ctest there. A full build (about as long as scripts/build.sh, plus the
# sanitizers' ~2x): not for every commit.
#   scripts/sanitize.sh              # gcc (the default compiler); CXX=clang++ CC=clang also works
#   scripts/sanitize.sh -R data      # extra arguments go to ctest (here: only tests matching data)
# Leak checking is off (detect_leaks=0): LibTorch keeps process-lifetime allocations (its op
# registry, thread pools) that LeakSanitizer reports at exit and that are not ours to fix.
# UBSan reports are fatal (-fno-sanitize-recover=all, halt_on_error), so a test that triggers one
# fails. Tests are slower under ASan: ctest's timeout is raised to 1500 s per test.
set -euo pipefail
cd "$(dirname "$0")/.."
flags="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
# -O1 -g1 (line tables for the reports, no variable info): the build is the cost of this run.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS="-O1 -g1 $flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
cmake --build build-asan -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure --timeout 1500 -j"$(nproc)" "$@"
