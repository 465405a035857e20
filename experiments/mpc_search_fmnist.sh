#!/usr/bin/env bash
# Issue 13's search figures: MPCViT's head-kind search on Fashion-MNIST with vit_7_4_32 (in_chans
# 1, 32x32; experiments/mpc/vit_7_4_32_fmnist.json), costed on the WAN mpc table calibrated on
# MPCViT's CIFAR-10 seconds (experiments/mpc_calibration.sh's link form), at a short schedule
# (vit_7_4_32 trains at ~23 img/s on this 2-core machine: IMAGES training images, EPOCHS epochs,
# TEST_IMAGES test images, the same for every run):
#   1. the all-softmax teacher (vitnas train, seed 0, TEACHER_EPOCHS epochs);
#   2. per seed (0 and 1, side by side): vitnas search-mpc at mu 0.1/0.3/0.5/0.7, every mu
#      network and one random placement of as many RSAttn heads per mu retrained the same way
#      (with KD from the teacher); seed 0 also retrains the all-softmax, all-RSAttn and
#      all-ScaleAttn networks;
#   3. without KD (after seed 0; NO_KD=0 skips it): seed 0's mu networks and the three
#      baselines, by vitnas train;
#   4. MPCViT+ (after seed 1; vit only, LIN=0 skips it): the seed-0 search with --linearise LIN,
#      its mu networks retrained;
#   5. the summary table (experiments/mpc_search_summary.py) and the result files.
# INHERITED_ONLY=1 runs only the two searches, without retraining (a few minutes): every network's
# inherited top-1 (the search's weights, no retraining), into RESULTS/inherited_s{0,1}/ and
# RESULTS/inherited.txt, and checks that the alphas are those of RESULTS/search_s{0,1}/. With
# SOFTMAX_CANDIDATES=1 too, the searches have softmax as a third candidate per head
# (--softmax-candidates), into RESULTS/inherited_softmax_s{0,1}/ and inherited_softmax.txt.
# Every step resumes: rerun the same command after an interruption. The defaults are what fits
# this machine in 95 minutes, far too short for the accuracies to mean anything (see the README);
# on a GPU: IMAGES=0 TEST_IMAGES=0 EPOCHS=30 TEACHER_EPOCHS=30 SEARCH_EPOCHS=10 DEVICE=cuda.
# EfficientViT (issue 13's search over cascaded group attention heads, README; 37 minutes):
#   ARCH=experiments/train/efficientvit_fmnist.json LIN=0 NO_KD=0 IMAGES=12800 TEST_IMAGES=0
#   EPOCHS=3 TEACHER_EPOCHS=6 SEARCH_EPOCHS=2 LR=2e-3
#   RESULTS=experiments/results/mpc_search_efficientvit_fmnist
# Usage: experiments/mpc_search_fmnist.sh [RUN_DIR]   (VITNAS=./build/vitnas,
#        ARCH=experiments/mpc/vit_7_4_32_fmnist.json, IMAGES=2560, TEST_IMAGES=2000, EPOCHS=1,
#        TEACHER_EPOCHS=2, SEARCH_EPOCHS=2, BATCH=64, LR=1e-3, LAMBDA=1e-4, LIN=2, NO_KD=1,
#        DEVICE=cpu, RESULTS=experiments/results/mpc_search_fmnist)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/mpc_search_fmnist}"
vitnas="${VITNAS:-./build/vitnas}"
images="${IMAGES:-2560}"
test_images="${TEST_IMAGES:-2000}"
epochs="${EPOCHS:-1}"
teacher_epochs="${TEACHER_EPOCHS:-2}"
search_epochs="${SEARCH_EPOCHS:-2}"
batch="${BATCH:-64}"
lambda="${LAMBDA:-1e-4}"
lin="${LIN:-2}"
no_kd="${NO_KD:-1}"
lr="${LR:-1e-3}"
device="${DEVICE:-cpu}"
results="${RESULTS:-experiments/results/mpc_search_fmnist}"
arch="${ARCH:-experiments/mpc/vit_7_4_32_fmnist.json}"
mkdir -p "$out" "$results"
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# The table: the analytic 2-party model on WAN, calibrated on MPCViT's seven CIFAR-10 points.
"$vitnas" profile --device mpc --link wan --arch "$arch" --out "$out/mpc_wan.json" --resume \
  --log-level warn
"$vitnas" latency calibrate --form link --table "$out/mpc_wan.json" \
  --measured experiments/mpc/mpcvit_cifar10_all.json --out "$out/mpc_wan_calibrated.json" \
  --log-level warn > /dev/null
table="$out/mpc_wan_calibrated.json"

# Two runs side by side, one thread each (the teacher alone on both).
common=(--data fashion-mnist --train-images "$images" --test-images "$test_images" --val-fraction 0
        --batch "$batch" --lr "$lr" --loader-threads 1 --device "$device" --no-progress
        --log-level warn --resume)

if [ "${INHERITED_ONLY:-0}" = 1 ]; then
  name=inherited
  extra=()
  if [ "${SOFTMAX_CANDIDATES:-0}" = 1 ]; then
    name=inherited_softmax
    extra=(--softmax-candidates)
  fi
  pids=()
  for seed in 0 1; do
    dir="$out/${name}_s$seed"
    mkdir -p "$dir"
    log "search-mpc seed $seed, inherited only -> $dir"
    "$vitnas" search-mpc --arch "$arch" --table "$table" "${common[@]}" --threads 1 \
      --seed "$seed" --epochs "$search_epochs" --lambda "$lambda" --cost latency \
      --random-baselines 1 "${extra[@]}" --out "$dir" --json > "$dir.json.tmp" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done  # set -e: a failed search stops here
  for seed in 0 1; do
    dir="$out/${name}_s$seed"
    mv "$dir.json.tmp" "$dir.json"
    mkdir -p "$results/${name}_s$seed"
    cp "$dir/front.csv" "$dir/front.json" "$dir/search/alphas.json" "$dir/search/metrics.jsonl" \
      "$results/${name}_s$seed/"
    if [ "$name" = inherited ]; then
      cmp -s "$dir/search/alphas.json" "$results/search_s$seed/alphas.json" \
        || echo "note: seed $seed's alphas differ from $results/search_s$seed/alphas.json" >&2
    fi
  done
  python3 experiments/mpc_search_summary.py --inherited "$out" "$name" | tee "$results/$name.txt"
  exit 0
fi

# 1. The teacher: the all-softmax network, trained without distillation.
log "teacher"
"$vitnas" train --arch "$arch" "${common[@]}" --threads 2 --epochs "$teacher_epochs" --seed 0 \
  --out "$out/teacher" > /dev/null
teacher="$out/teacher/weights.safetensors"

# 2. The search, its retraining and the random placements, two seeds side by side.
search() {  # seed, run dir, extra flags...
  local seed=$1 dir=$2
  shift 2
  log "search-mpc seed $seed -> $dir"
  "$vitnas" search-mpc --arch "$arch" --table "$table" "${common[@]}" --threads 1 --seed "$seed" \
    --epochs "$search_epochs" --retrain-epochs "$epochs" --lambda "$lambda" --cost latency \
    --teacher-weights "$teacher" "$@" --out "$dir" --json > "$dir.json.tmp"
  mv "$dir.json.tmp" "$dir.json"
}
without_kd() {
  for a in "$out"/search_s0/mu0.?/arch.json "$out"/search_s0/all-*/arch.json; do
    local name
    name=$(basename "$(dirname "$a")")
    log "without KD: $name"
    "$vitnas" train --arch "$a" "${common[@]}" --threads 1 --epochs "$epochs" --seed 0 \
      --out "$out/no_kd/$name" > /dev/null
  done
}
runs=(search_s0 search_s1)
[ "$lin" -gt 0 ] && runs+=(linearise_s0)
for run in "${runs[@]}"; do mkdir -p "$out/$run"; done
# Lane 1: seed 0 with the baselines, then without KD. Lane 2: seed 1, then MPCViT+.
{ search 0 "$out/search_s0" --random-baselines 1 --retrain-baselines
  if [ "$no_kd" = 1 ]; then without_kd; fi; } &
lane1=$!
search 1 "$out/search_s1" --random-baselines 1
if [ "$lin" -gt 0 ]; then search 0 "$out/linearise_s0" --linearise "$lin"; fi
wait "$lane1"

# 5. The table and the files behind the README's figures.
python3 experiments/mpc_search_summary.py "$out" | tee "$results/summary.txt"
for run in "${runs[@]}"; do
  mkdir -p "$results/$run"
  cp "$out/$run/front.csv" "$out/$run/front.svg" "$out/$run/front.json" "$results/$run/"
  cp "$out/$run/search/alphas.json" "$out/$run/search/metrics.jsonl" "$results/$run/"
done
cp "$out/teacher/metrics.jsonl" "$results/teacher_metrics.jsonl"
for d in "$out"/no_kd/*/; do
  [ -d "$d" ] || continue  # NO_KD=0
  cp "$d/metrics.jsonl" "$results/no_kd_$(basename "$d")_metrics.jsonl"
done
