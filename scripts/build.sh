#!/usr/bin/env bash
# Configures and builds vitnas (library, CLI, tests, micro-benchmarks) in ./build, Release, with
# Ninja; with arguments, only those targets (scripts/test.sh: vitnas_cli vitnas_tests).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)" ${1:+--target "$@"}
