#!/usr/bin/env bash
# Issue 11's search figures on Fashion-MNIST with this machine's CPU table (1 thread, batch 16):
#   1. the table of experiments/spaces/fmnist.json (profiled here when missing);
#   2. NSGA-II against random search, the same number of evaluations, seeds 0..2 (HV_POP
#      networks per generation, HV_GENS generations): the front's hypervolume;
#   3. the full search: population 100, 30 generations, three latency budgets (0.6x, 1x, 1.5x
#      the predicted latency of the hand-designed experiments/train/efficientvit_fmnist.json),
#      timed, with the budget picks measured (--measure) and the hand-designed one marked;
#   4. a latency/MACs-only search of 10 budgets on the m-space, on a table of this machine
#      (MTABLE, profiled when missing as experiments/latency_cpu.sh does), its 10 picks measured.
# Accuracy is the supernet's (experiments/supernet_fmnist.sh trains it: SUPERNET=its dir), on
# the first 1024 validation images after recalibrating BN on 4 training batches. Every step
# resumes: rerun the same command after an interruption.
# Usage: experiments/search_fmnist.sh [OUT_DIR]   (SUPERNET=runs/supernet_fmnist/supernet,
#        VITNAS=./build/vitnas, HV_POP=50, HV_GENS=10, MTABLE=OUT_DIR/mspace_cpu_1t_b16.json)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/search_fmnist}"
supernet="${SUPERNET:-runs/supernet_fmnist/supernet}"
vitnas="${VITNAS:-./build/vitnas}"
hv_pop="${HV_POP:-50}"
hv_gens="${HV_GENS:-10}"
table=experiments/tables/fmnist_cpu_1t_b16.json
hand=experiments/train/efficientvit_fmnist.json
mkdir -p "$out/hv"
[ -d "$supernet" ] || { echo "no supernet at $supernet: run experiments/supernet_fmnist.sh first" >&2; exit 2; }

# 1. The table (the same protocol as experiments/latency_cpu.sh).
"$vitnas" profile --device cpu --threads 1 --batch 16 --space experiments/spaces/fmnist.json \
  --out "$table" --resume --log-level warn

accuracy=(--supernet "$supernet" --table "$table" --eval-images 1024 --bn-batches 4 --log-level warn)

# 2. NSGA-II vs random search.
for seed in 0 1 2; do
  for strategy in nsga2 random; do
    run="$out/hv/$strategy-$seed"
    [ -f "$run.json" ] || { "$vitnas" search "${accuracy[@]}" --strategy "$strategy" --seed "$seed" \
      --population "$hv_pop" --generations "$hv_gens" --out "$run" --resume --json > "$run.json.tmp" \
      && mv "$run.json.tmp" "$run.json"; }
  done
done

# 3. The full search at three budgets.
hand_ms="$("$vitnas" latency predict --table "$table" --arch "$hand" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ms"])')"
budgets="$(python3 -c "print(','.join('%.3f' % (f * $hand_ms) for f in (0.6, 1.0, 1.5)))")"
[ -f "$out/full.json" ] || { "$vitnas" search "${accuracy[@]}" --budgets "$budgets" --population 100 \
  --generations 30 --seed 0 --mark "$hand" --measure --out "$out/full" --resume --json \
  > "$out/full.json.tmp" && mv "$out/full.json.tmp" "$out/full.json"; }

# 4. Latency/MACs only, the m-space, 10 budgets.
mtable="${MTABLE:-$out/mspace_cpu_1t_b16.json}"
"$vitnas" profile --device cpu --threads 1 --batch 16 --space experiments/spaces/efficientvit_m.json \
  --out "$mtable" --resume --log-level warn
# Ten budgets evenly from m0's to m5's predicted latency.
mbudgets="$(for m in m0 m5; do "$vitnas" latency predict --table "$mtable" --arch $m --json; done |
  python3 -c 'import json,sys; d=json.JSONDecoder(); t=sys.stdin.read().strip(); a,i=d.raw_decode(t); b,_=d.raw_decode(t[i:].strip())
lo,hi=a[0]["ms"],b[0]["ms"]; print(",".join("%.2f" % (lo+(hi-lo)*k/9) for k in range(10)))')"
[ -f "$out/mspace.json" ] || { "$vitnas" search --space experiments/spaces/efficientvit_m.json \
  --table "$mtable" --budgets "$mbudgets" \
  --mark m0,m1,m2,m3,m4,m5 --measure --out "$out/mspace" --resume --json --log-level warn \
  > "$out/mspace.json.tmp" && mv "$out/mspace.json.tmp" "$out/mspace.json"; }

python3 experiments/search/summarize.py "$out" "$hand_ms"
