#!/usr/bin/env bash
# How close the memory check of `supernet eval` and `search --supernet` (train/supernet_dir.cpp:
# the images held in memory plus the largest subnet's inference estimate) is to what they use.
# A supernet of experiments/spaces/small.json is trained for one epoch on synthetic 32x32 data;
# its recipe is then pointed at synthetic data of growing size, and the peak RSS of
# `supernet eval --arch largest` at each size, minus the smallest size's, is compared with the
# growth of the checked bytes (the held images, x1.1). ratio = measured growth / checked growth:
# <= 1.1 means the check bounds the run within 10%.
#   benchmarks/memory_bound_supernet.sh [OUT.csv]  (default experiments/results/memory_bound_supernet.csv)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-experiments/results/memory_bound_supernet.csv}
vitnas=${VITNAS:-build/vitnas}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
"$vitnas" supernet train --space experiments/spaces/small.json --data synthetic:512 --epochs 1 \
  --batch 32 --threads 1 --bn-batches 1 --val-fraction 0 --out "$T/sn" --log-level warn --no-progress > /dev/null
peak_kb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }
echo "data,eval_images,peak_mb,measured_growth_mb,checked_growth_mb,ratio" > "$out.tmp.$$"
base=""
for n in 512 40000 160000; do
  python3 - "$T/sn/recipe.json" "synthetic:$n" <<'PY'
import json, sys
p, data = sys.argv[1:]
r = json.load(open(p)); r["data"] = data; json.dump(r, open(p, "w"))
PY
  peak=$(peak_kb "$vitnas" supernet eval --supernet "$T/sn" --arch largest --bn-batches 1 --json)
  images=$(( n / 4 ))  # synthetic:N has N / 4 test images (no val split: --val-fraction 0)
  [[ -z $base ]] && { base=$peak; base_images=$images; }
  python3 - "$n" "$images" "$peak" "$base" "$base_images" >> "$out.tmp.$$" <<'PY'
import sys
n, images, peak, base, base_images = map(int, sys.argv[1:])
checked = 1.1 * (images - base_images) * 4 * 3 * 32 * 32 / 2**20  # the check's factor
measured = (peak - base) / 1024
ratio = f"{measured / checked:.3f}" if checked else ""
print(f"synthetic:{n},{images},{peak / 1024:.1f},{measured:.1f},{checked:.1f},{ratio}")
PY
  tail -1 "$out.tmp.$$"
done
mv "$out.tmp.$$" "$out"
echo "wrote $out"
