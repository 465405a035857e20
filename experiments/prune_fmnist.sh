#!/usr/bin/env bash
# Pruning on Fashion-MNIST: the README's network (trained by experiments/train_fmnist.sh, or any
# run directory given as TRAINED) pruned to RATIOS of its predicted latency on this machine's
# table with Taylor, magnitude and random importance, the same schedule each (STEPS steps,
# FINETUNE epochs between steps, EPOCHS after the last, distilled from the unpruned network),
# then the analysis (`prune analyse`: kept widths at half the MACs, Taylor vs the oracle) of
# the EfficientViT and of a DeiT-style ViT (DEIT, trained with experiments/train/deit_fmnist_recipe.json).
# Usage: TRAINED=runs/fmnist DEIT=runs/deit_fmnist experiments/prune_fmnist.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/prune_fmnist}"
bin="${VITNAS:-./build/vitnas}"
trained="${TRAINED:-runs/fmnist}"
deit="${DEIT:-}"
table="${TABLE:-experiments/tables/fmnist_cpu_1t_b16.json}"
ratios="${RATIOS:-0.6 0.4}"
steps="${STEPS:-3}" finetune="${FINETUNE:-1}" epochs="${EPOCHS:-3}"
mkdir -p "$out"

for r in $ratios; do
  for imp in taylor magnitude random; do
    $bin prune --config experiments/train/fmnist.json --arch "$trained/arch.json" \
      --weights "$trained/weights.safetensors" --table "$table" --target-ratio "$r" --importance "$imp" \
      --steps "$steps" --finetune-epochs "$finetune" --epochs "$epochs" --warmup-epochs 0 --lr 5e-4 \
      --no-progress --log-level warn --out "$out/r${r}_$imp" --resume
  done
done

$bin prune analyse --arch "$trained/arch.json" --weights "$trained/weights.safetensors" --data fashion-mnist \
  --oracle-groups 64 --oracle-batches 16 --log-level warn --out "$out/analyse_efficientvit"
[ -z "$deit" ] || $bin prune analyse --arch "$deit/arch.json" --weights "$deit/weights.safetensors" \
  --data fashion-mnist --oracle-groups 64 --oracle-batches 16 --log-level warn --out "$out/analyse_deit"
python3 experiments/prune/summarize_fmnist.py "$out" | tee "$out/summary.txt"
