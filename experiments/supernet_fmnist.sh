#!/usr/bin/env bash
# Issue 10's numbers on Fashion-MNIST: can the supernet's inherited accuracy be trusted to rank
# subnets? Trains the supernet of experiments/spaces/fmnist.json (experiments/train/
# supernet_fmnist.json), picks 8 subnets spread over the space's MACs (the largest, the smallest
# and 6 samples at the MACs quantiles 1/7 .. 6/7 of 200 random subnets), trains each standalone
# with the same recipe and epochs (experiments/train/fmnist.json's), and compares inherited
# (after BN recalibration) with standalone validation top-1: Kendall tau, the largest/smallest
# gaps, the cost of a supernet epoch against the largest subnet's, and `supernet eval`'s time
# for one subnet. Every step resumes: rerun the same command after an interruption.
# Usage: experiments/supernet_fmnist.sh [OUT_DIR]   (EPOCHS=4 by default; VITNAS=./build/vitnas)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/supernet_fmnist}"
epochs="${EPOCHS:-4}"
vitnas="${VITNAS:-./build/vitnas}"
mkdir -p "$out/subnets"

# 1. The supernet (sandwich rule, 4 subnets per step, in-place distillation).
"$vitnas" supernet train --config experiments/train/supernet_fmnist.json --epochs "$epochs" \
  --out "$out/supernet" --resume --no-progress

# 2. Inherited accuracy of 200 random subnets (also times `supernet eval` per subnet), then the
#    8 subnets to train standalone.
[ -f "$out/samples.json" ] || "$vitnas" supernet eval --supernet "$out/supernet" --samples 200 \
  --seed 1 --json --log-level warn > "$out/samples.json.tmp" && mv "$out/samples.json.tmp" "$out/samples.json"
python3 experiments/supernet/pick_subnets.py "$out/samples.json" "$out/subnets" \
  "$("$vitnas" supernet eval --supernet "$out/supernet" --arch largest,smallest --json --log-level warn)"

# 3. Each subnet standalone, the same recipe and epochs.
for arch in "$out"/subnets/*.json; do
  name="$(basename "$arch" .json)"
  "$vitnas" train --config experiments/train/fmnist.json --arch "$arch" --epochs "$epochs" \
    --out "$out/standalone/$name" --resume --no-progress --log-level warn --json > /dev/null
done

# 4. Inherited accuracy of the same 8 (after recalibration on 10 training batches), and the
#    comparison.
archs="$(ls "$out"/subnets/*.json | paste -sd, -)"
"$vitnas" supernet eval --supernet "$out/supernet" --arch "$archs" --json --log-level warn \
  > "$out/inherited.json"
python3 experiments/supernet/proxy_quality.py "$out"
