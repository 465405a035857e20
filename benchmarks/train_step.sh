#!/usr/bin/env bash
# Training-step speed of EfficientViT-M0 at 224x224, batch 32 (forward, label-smoothing loss,
# backward, AdamW with clipping), 1 and 2 threads: vitnas's step against the official PyTorch
# loop ported as written (torch::optim::AdamW over per-parameter tensors), timed round by round
# in turn in the same process. The official PyTorch eager step measured on this machine runs
# about 57 img/s with 1 thread and 92 img/s with 2 threads (the issue's figures). The last two
# lines repeat both with glibc's default malloc settings (VITNAS_GLIBC_MALLOC=default), which is
# what PyTorch runs with: freed activations are unmapped and page-faulted in again every step.
# Usage: benchmarks/train_step.sh [any other `vitnas bench-train` flag, e.g. --rounds 9]
set -euo pipefail
cd "$(dirname "$0")/.."
for threads in 1 2; do
  ./build/vitnas bench-train --arch m0 --batch 32 --threads "$threads" --baseline \
    --warmup 2 --steps 4 --rounds 7 "$@"
done
for threads in 1 2; do
  echo -n "glibc default malloc: "
  VITNAS_GLIBC_MALLOC=default ./build/vitnas bench-train --arch m0 --batch 32 \
    --threads "$threads" --baseline --warmup 2 --steps 4 --rounds 7 "$@"
done
echo "official PyTorch eager (issue 4, this machine): 57 img/s (1 thread), 92 img/s (2 threads)"
