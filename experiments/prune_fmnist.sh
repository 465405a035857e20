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

# One table path for every run (a resumed run must name the same): the first run measures the
# widths pruning needs into its own copy, which then serves the others.
[ -f "$out/table.json" ] || cp "$table" "$out/table.json"
table="$out/table.json"
measured=""
for r in $ratios; do
  for imp in taylor magnitude random; do
    $bin prune --config experiments/train/fmnist.json --arch "$trained/arch.json" \
      --weights "$trained/weights.safetensors" --table "$table" --target-ratio "$r" --importance "$imp" \
      --steps "$steps" --finetune-epochs "$finetune" --epochs "$epochs" --warmup-epochs 0 --lr 5e-4 \
      --no-progress --log-level warn --out "$out/r${r}_$imp" --resume
    [ -n "$measured" ] || { cp "$out/r${r}_$imp/table.json" "$out/table.json"; measured=1; }
  done
done

# Scores normalised per group type (what prune uses), then raw Taylor across types (the paper's
# comparison of q.k, v and FFN); the oracle check runs with the first.
analyse() {  # NAME RUN_DIR
  $bin prune analyse --arch "$2/arch.json" --weights "$2/weights.safetensors" --data fashion-mnist \
    --oracle-groups 64 --oracle-batches 16 --log-level warn --out "$out/analyse_$1"
  $bin prune analyse --arch "$2/arch.json" --weights "$2/weights.safetensors" --data fashion-mnist \
    --raw --embed --oracle-groups 0 --log-level warn --out "$out/analyse_$1_raw"
  $bin prune analyse --arch "$2/arch.json" --weights "$2/weights.safetensors" --data fashion-mnist \
    --embed --oracle-groups 0 --log-level warn --out "$out/analyse_$1_embed"
}
analyse efficientvit "$trained"
[ -z "$deit" ] || analyse deit "$deit"
python3 experiments/prune/summarize_fmnist.py "$out" | tee "$out/summary.txt"
