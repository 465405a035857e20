#!/usr/bin/env bash
# Issue 11's end-to-end figure on Fashion-MNIST: the network the search found at each latency
# budget, trained with the README's 15-epoch recipe (experiments/train/fmnist.json), against the
# hand-designed network scaled uniformly in width and depth to the same *measured* latency,
# trained with the same recipe.
#   1. the grid of scaled networks (experiments/search/scale_uniform.py: width factors WIDTHS,
#      depths DEPTHS);
#   2. one round-robin measurement (`latency validate`, 1 thread, batch 16) of the budget picks,
#      the hand-designed network and the grid; each pick's baseline is the grid network whose
#      measured latency is nearest its own;
#   3. `vitnas search finetune` of the picks (from the supernet's weights; FROM_SCRATCH=1: from
#      scratch) with the hand-designed network and the chosen baselines beside them (from
#      scratch), all with the same recipe;
#   4. the table: test top-1 at equal measured latency, per budget.
# Every step resumes: rerun the same command after an interruption.
# Usage: experiments/search_finetune_fmnist.sh [OUT_DIR]   (SEARCH=runs/search_fmnist/full, the
#        budgets search of experiments/search_fmnist.sh; EPOCHS, TRAIN_IMAGES for a short run;
#        MEASURE_S seconds per network; VITNAS=./build/vitnas)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/search_finetune_fmnist}"
search="${SEARCH:-runs/search_fmnist/full}"
vitnas="${VITNAS:-./build/vitnas}"
widths="${WIDTHS:-0.5,0.625,0.75,0.875,1,1.125,1.25,1.375,1.5}"
depths="${DEPTHS:-1,2}"
measure_s="${MEASURE_S:-6}"
hand=experiments/train/efficientvit_fmnist.json
[ -f "$search/front.json" ] || { echo "error: no search at $search (SEARCH=...): run experiments/search_fmnist.sh first" >&2; exit 2; }
mkdir -p "$out"

# 1. The scaled grid.
python3 experiments/search/scale_uniform.py "$hand" "$out/scaled" --widths "$widths" --depths "$depths" > "$out/scaled.txt"
picks="$(python3 -c '
import json, sys
d = sys.argv[1]; f = json.load(open(d + "/front.json"))
names = []
for b in f["budgets"]:
    if b["name"] and d + "/" + b["file"] not in names: names.append(d + "/" + b["file"])
print(",".join(names))' "$search")"
all="$picks,$hand,$(paste -sd, "$out/scaled.txt")"

# 2. One round-robin measurement of the picks, the hand-designed network and the grid. `latency
# validate` times networks its table prices, so a table of exactly these networks is profiled
# first (its predictions are not used: the baselines are chosen by measured latency).
"$vitnas" profile --device cpu --threads 1 --batch 16 --arch "$all" --out "$out/table.json" --resume \
  --log-level warn
[ -f "$out/measured.csv" ] || "$vitnas" latency validate --table "$out/table.json" --arch "$all" \
  --seconds "$measure_s" --rounds 5 --csv "$out/measured.csv" --log-level warn
baselines="$(python3 experiments/search/finetune_summary.py baselines "$search" "$out")"

# 3. The picks fine-tuned (or trained from scratch) and the references trained, one recipe.
scratch=()
[ "${FROM_SCRATCH:-0}" = 1 ] && scratch=(--from-scratch)
extra=()
[ -n "${EPOCHS:-}" ] && extra+=(--epochs "$EPOCHS" --warmup-epochs "$(( EPOCHS > 1 ? 1 : 0 ))")
[ -n "${TRAIN_IMAGES:-}" ] && extra+=(--train-images "$TRAIN_IMAGES")
"$vitnas" search finetune --front "$search" --networks budgets --config experiments/train/fmnist.json \
  --arch "$hand,$baselines" "${scratch[@]}" "${extra[@]}" --out "$out/finetune" --resume \
  --log-level warn --no-progress

# 4. The comparison.
python3 experiments/search/finetune_summary.py table "$search" "$out" | tee "$out/summary.txt"
