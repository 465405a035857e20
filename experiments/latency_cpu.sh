#!/usr/bin/env bash
# Reproduces the README's CPU latency figures: profiles every block of efficientvit_m.json
# (1 thread, batch 16) into a table, then validates it on 100 random networks of the space that
# were not used for calibration. Run from the repository root after scripts/build.sh.
# A table made on another machine is refused: pass OUT=path to make your own.
set -euo pipefail
OUT=${OUT:-experiments/tables/cpu_1t_b16.json}
SPACE=experiments/spaces/efficientvit_m.json
time ./build/vitnas profile --device cpu --threads 1 --batch 16 --space "$SPACE" --out "$OUT" --resume
time ./build/vitnas latency validate --table "$OUT" --space "$SPACE" --samples 100 --seed 1 \
  --csv "${OUT%.json}_validation.csv"
./build/vitnas latency predict --table "$OUT" --arch m5 --repeat 1000000 | grep predictions
