#!/usr/bin/env bash
# How close the memory estimate that commands check before allocating (core/memory.h, printed by
# `vitnas info --batch B`) is to what they really use. For each network and batch: the peak RSS
# (/usr/bin/time) of `bench` (inference) and `bench-train` (training) at batch B minus the same
# command at batch 1 (the CLI, LibTorch and the weights), against the estimate's growth from 1 to B.
# ratio = measured growth / estimated growth: <= 1.1 means the estimate bounds the run within 10%.
# The estimate's per-family factors (core/memory.cpp) were fitted on the "fit" networks; the
# "held-out" ones check them.
#   benchmarks/memory_bound.sh [OUT.csv]    (default experiments/results/memory_bound.csv)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-experiments/results/memory_bound.csv}
vitnas=${VITNAS:-build/vitnas}  # VITNAS=path: another build

peak_kb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
estimate() {  # arch batch kind -> bytes
  "$vitnas" info --arch "$1" --batch "$2" --json |
    python3 -c "import json,sys; print(json.load(sys.stdin)['memory']['$3_bytes'])"
}
run() {  # kind arch batch -> peak KB
  case "$1" in
    inference) peak_kb "$vitnas" bench --arch "$2" --batch "$3" --threads 1 --seconds 0.01 \
                 --warmup 0 --rounds 1 ;;
    training) peak_kb "$vitnas" bench-train --arch "$2" --batch "$3" --threads 1 --steps 1 \
                --rounds 1 --warmup 0 ;;
  esac
}

mkdir -p "$(dirname "$out")"
tmp=$out.tmp.$$
echo "kind,set,arch,batch,peak_mb,base_peak_mb,measured_growth_mb,estimated_growth_mb,ratio" > "$tmp"
printf '%-10s %-9s %-12s %6s %10s %10s %7s\n' kind set arch batch measured estimated ratio
for kind in ${KINDS:-inference training}; do
  for arch in ${ARCHS:-m0 m5 vit_7_4_32 deit_tiny m2 m4 vit_9_12_64}; do
    set=held-out
    [[ " m0 m5 vit_7_4_32 deit_tiny " == *" $arch "* ]] && set=fit
    base_batch=1
    [[ $kind == training ]] && base_batch=2  # BatchNorm needs two images to train
    base=$(run "$kind" "$arch" $base_batch)
    base_est=$(estimate "$arch" $base_batch "$kind")
    for batch in 32 128; do
      peak=$(run "$kind" "$arch" "$batch")
      est=$(estimate "$arch" "$batch" "$kind")
      python3 - "$kind" "$set" "$arch" "$batch" "$peak" "$base" "$est" "$base_est" >> "$tmp" <<'PY'
import sys
kind, set_, arch, batch, peak, base, est, base_est = sys.argv[1:]
measured = (int(peak) - int(base)) / 1024
estimated = (int(est) - int(base_est)) / 2**20
print(f"{kind},{set_},{arch},{batch},{int(peak)/1024:.1f},{int(base)/1024:.1f},{measured:.1f},"
      f"{estimated:.1f},{measured / estimated:.3f}")
PY
      tail -1 "$tmp" | awk -F, '{printf "%-10s %-9s %-12s %6s %8s MB %7s MB %7s\n", $1, $2, $3, $4, $7, $8, $9}'
    done
  done
done
mv "$tmp" "$out"
echo "wrote $out"
