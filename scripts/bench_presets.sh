#!/usr/bin/env bash
# The README's throughput table: vitnas's fused network against the official network form (every
# Conv2d_BN replaced by its folded conv, as the official speed test does), same process, timed
# round by round in turn. Official protocol on CPU: 1 thread, batch 16, 224x224.
# Usage: scripts/bench_presets.sh [--seconds S] [any other `vitnas bench` flag]
set -euo pipefail
cd "$(dirname "$0")/.."
exec ./build/vitnas bench --arch m0,m1,m2,m3,m4,m5 --baseline --threads 1 --batch 16 \
  --warmup 5 --seconds 30 --rounds 5 "$@"
