#!/usr/bin/env bash
# Training-step speed of EfficientViT-M0 at 224x224, batch 32, fp32 on the CPU (forward,
# label-smoothing loss, backward, clipping at 5.0, AdamW), 1 and 2 threads: `vitnas bench-train`
# against the official PyTorch loop itself (benchmarks/official_train_step.py: Microsoft's model
# ported to Python in benchmarks/efficientvit_official.py, timm's AdamW groups, Debian's
# python3-torch 1.13), in the same run, round by round in turn, on a quiet machine (see
# benchmarks/train_step.py). Writes experiments/results/train_step.json.
# Needs ./build/vitnas and python3-torch (installed here with apt-get when missing, as root;
# otherwise: apt-get install python3-torch). Python is for this benchmark only: vitnas never
# runs it.
# Usage: benchmarks/train_step.sh [--rounds 7] [--glibc-default] [--max-load 1.2] [...]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3  # Debian's python, the one python3-torch installs into
if ! "$PY" -c "import torch" 2>/dev/null; then
  echo "train_step.sh: installing Debian's python3-torch (for the official loop)" >&2
  if [ "$(id -u)" != 0 ]; then
    echo "train_step.sh: not root: run 'sudo apt-get install python3-torch' first" >&2
    exit 1
  fi
  apt-get install -y python3-torch >&2 || { apt-get update >&2 && apt-get install -y python3-torch >&2; }
fi
test -x build/vitnas || { echo "train_step.sh: build first (bash scripts/build.sh)" >&2; exit 1; }
# The port is the official model: its parameter count, and the reference logits when present.
reference=../shared/reference/efficientvit/vec_m0.safetensors
"$PY" benchmarks/official_train_step.py --check "$([ -f "$reference" ] && echo "$reference")" >&2
exec "$PY" benchmarks/train_step.py "$@"  # its default --python is this one
