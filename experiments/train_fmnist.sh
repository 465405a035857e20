#!/usr/bin/env bash
# The README's main job: trains the small EfficientViT of experiments/train/efficientvit_fmnist.json
# (0.40 M parameters, 9.2 M MACs, 28x28 grey input) on Fashion-MNIST from Debian's
# dataset-fashion-mnist, on this machine's cores; each epoch logs its val and test top-1, img/s
# and time.
# Usage: experiments/train_fmnist.sh [OUT_DIR] [any other `vitnas train` flag, e.g. --epochs 2]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/fmnist}"
shift || true
# --resume: a rerun continues an interrupted run, or reports a finished one, rather than
# overwriting it (a fresh run needs a fresh OUT_DIR).
./build/vitnas train --config experiments/train/fmnist.json --out "$out" --resume "$@"
echo "per-epoch metrics (train/val/test top-1, img/s, seconds): $out/metrics.jsonl"
