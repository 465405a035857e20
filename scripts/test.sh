#!/usr/bin/env bash
# Builds and runs the whole test suite (Catch2 under CTest), then every libFuzzer target (clang,
# ASan+UBSan) for 5 s on its committed corpus, two at a time. The reference data is read from
# ../shared/reference beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh vitnas_cli vitnas_tests  # what the tests run (not the micro-benchmarks)
ctest --test-dir build --output-on-failure -j"$(nproc)"
bash scripts/fuzz.sh --seconds 5 --jobs "$(nproc)"
