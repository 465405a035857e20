#!/usr/bin/env bash
# The README's main job: trains the small EfficientViT of experiments/train/efficientvit_fmnist.json
# (0.40 M parameters, 9.2 M MACs, 28x28 grey input) on Fashion-MNIST from Debian's
# dataset-fashion-mnist, on this machine's cores, and prints the test top-1 and the time.
# Usage: experiments/train_fmnist.sh [OUT_DIR] [any other `vitnas train` flag, e.g. --epochs 2]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/fmnist}"
shift || true
rm -rf "$out"
./build/vitnas train --config experiments/train/fmnist.json --out "$out" "$@"
echo "test top-1 per epoch (metrics.jsonl):"
python3 -c '
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    print("  epoch %2d  test top-1 %.2f%%  val top-1 %.2f%%  %6.0f img/s  %6.1f s total"
          % (m["epoch"], m["test_top1"], m["val_top1"], m["img_per_s"], m["seconds"]))
' "$out/metrics.jsonl" 2>/dev/null || cat "$out/metrics.jsonl"
