#!/usr/bin/env bash
# Latency target hit: m0 at 224 (random weights: one epoch on synthetic data) pruned by
# `vitnas prune` (Taylor importance, the latency knapsack on this machine's table, widths the
# table lacks measured first) to 10 targets between 0.5x and 0.95x of its measured latency.
# Each network is pruned to --target-ratio r of m0's predicted latency (the table's scale: on a
# machine that drifted since the table was made, m0 measures above its prediction, and an
# absolute target from a measurement would sit on another scale); the claim is checked in one
# final round-robin measurement of m0 and the 10 pruned networks (`latency validate`, 1 thread,
# batch 16): measured / measured(m0) against r, and against r x m0's first measurement.
# The first prune (the "profile" run) also times the pruning's own calibration networks (m0 and 11
# random cuts, `--calibration-networks`) into the shared table, so every later run prices with a
# fit made on pruned m0s instead of the m-space's.
# CLOSED_LOOP=N (default 5) re-cuts each network up to N times against its measured ratio to m0
# (`prune --closed-loop`, MEASURE_S seconds per network and cut); CLOSED_LOOP=0 trusts the table.
# Usage: experiments/prune_m0_latency.sh [OUT_DIR] [TABLE]   (run on a quiet machine)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/prune_m0_latency}"
table="${2:-experiments/tables/cpu_1t_b16_avx2.json}"
bin="${VITNAS:-./build/vitnas}"  # VITNAS=... runs another build
closed_loop="${CLOSED_LOOP:-5}"
measure_s="${MEASURE_S:-8}"
mkdir -p "$out"

# m0 with random (one synthetic epoch) weights.
[ -f "$out/m0/weights.safetensors" ] ||
  $bin train --arch m0 --data synthetic:64 --epochs 1 --warmup-epochs 0 --batch 16 --val-fraction 0.25 \
    --threads 1 --no-progress --log-level warn --out "$out/m0"

# The widths pruning needs, measured once into a table every run then shares.
[ -f "$out/table.json" ] || {
  $bin prune --arch m0 --weights "$out/m0/weights.safetensors" --data synthetic:64 --val-fraction 0.25 \
    --table "$table" --target-ratio 0.9 --importance-batches 1 --importance-batch-size 8 --threads 1 \
    --no-measure --no-progress --log-level warn --out "$out/profile"
  cp "$out/profile/table.json" "$out/table.json"
}

# m0's measured latency (the absolute check's base).
$bin latency validate --table "$out/table.json" --arch m0 --seconds 6 --rounds 3 --csv "$out/m0_measured.csv" \
  --log-level warn
base=$(python3 -c "import csv,sys; print(next(csv.DictReader(open(sys.argv[1])))['measured_ms'])" "$out/m0_measured.csv")
echo "m0 measured: $base ms per batch of 16"

archs=m0
for r in 0.50 0.55 0.60 0.65 0.70 0.75 0.80 0.85 0.90 0.95; do
  [ -f "$out/r$r/arch.json" ] ||
    $bin prune --arch m0 --weights "$out/m0/weights.safetensors" --data synthetic:64 --val-fraction 0.25 \
      --table "$out/table.json" --target-ratio "$r" --importance-batches 2 --importance-batch-size 8 \
      --threads 1 --no-measure --closed-loop "$closed_loop" --measure-seconds "$measure_s" \
      --no-progress --log-level warn --out "$out/r$r" --resume
  archs="$archs,$out/r$r/arch.json"
done

# One round-robin measurement of all of them.
$bin latency validate --table "$out/table.json" --arch "$archs" --seconds 33 --rounds 5 --csv "$out/final.csv" \
  --log-level warn
python3 experiments/prune/summarize_latency.py "$out" "$base" | tee "$out/summary.txt"
