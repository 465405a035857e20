#!/usr/bin/env bash
# The outputs of two vitnas builds, compared: the check that a refactor changed no command's
# output. `info` (text and JSON) for every preset; `latency predict` (text and JSON) with the
# shipped CPU table for m0..m5; an MPC table (WAN) built by each build, uncalibrated and
# calibrated on MPCViT's CIFAR-10 points, predicting vit_7_4_32, vit_9_12_64 and two MPCViT
# mu networks. Prints one line per comparison and a summary; exit 1 on any difference.
# MPC JSON is compared without the `link` key, which newer builds add beside `network`, and the
# measured points are given to both builds under the old key name (`network`).
# Usage: benchmarks/compare_outputs.sh OLD_BINARY NEW_BINARY
set -uo pipefail
old=$1 new=$2
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
same=0 differ=0
check() {  # label, file a, file b; an empty output (a failed command) counts as a difference
  if [ -s "$2" ] && cmp -s "$2" "$3"; then same=$((same + 1)); echo "same    $1"
  else differ=$((differ + 1)); echo "DIFFERS $1"; fi
}
both() {  # label, args...
  local label=$1; shift
  "$old" "$@" > "$tmp/a" 2>/dev/null; "$new" "$@" > "$tmp/b" 2>/dev/null
  check "$label" "$tmp/a" "$tmp/b"
}

for a in m0 m1 m2 m3 m4 m5 vit_7_4_32 vit_9_12_64 deit_tiny; do
  both "info $a" info --arch "$a"
  both "info $a --json" info --arch "$a" --json
done
cpu="$root/experiments/tables/cpu_1t_b16.json"
for a in m0 m1 m2 m3 m4 m5; do
  both "predict cpu $a" latency predict --table "$cpu" --arch "$a"
  both "predict cpu $a --json" latency predict --table "$cpu" --arch "$a" --json
done

sed 's/"link"/"network"/' "$root/experiments/mpc/mpcvit_cifar10.json" > "$tmp/points.json"
for tag in old new; do
  bin=$old; [ $tag = new ] && bin=$new
  "$bin" profile --device mpc --network wan --arch vit_7_4_32 --out "$tmp/$tag.json" > /dev/null 2>&1
  "$bin" latency calibrate --table "$tmp/$tag.json" --measured "$tmp/points.json" \
    --out "$tmp/${tag}_cal.json" > /dev/null 2>&1
done
mpc_predict() {  # label, table suffix, arch, [--json]
  local label=$1 suffix=$2 arch=$3; shift 3
  "$old" latency predict --table "$tmp/old$suffix.json" --arch "$arch" "$@" > "$tmp/a" 2>/dev/null
  "$new" latency predict --table "$tmp/new$suffix.json" --arch "$arch" "$@" > "$tmp/b" 2>/dev/null
  if [ $# -gt 0 ]; then
    for f in a b; do
      python3 -c "import json; d=json.load(open('$tmp/$f')); d.pop('link', None); print(json.dumps(d, sort_keys=True))" \
        > "$tmp/$f.j" 2>/dev/null || : > "$tmp/$f.j"
    done
    check "$label" "$tmp/a.j" "$tmp/b.j"
  else
    check "$label" "$tmp/a" "$tmp/b"
  fi
}
for a in vit_7_4_32 vit_9_12_64 "$root/experiments/mpc/vit_7_4_32_mu0.1.json" "$root/experiments/mpc/vit_7_4_32_mu0.5.json"; do
  n=$(basename "$a" .json)
  mpc_predict "predict mpc $n" "" "$a"
  mpc_predict "predict mpc $n --json" "" "$a" --json
  mpc_predict "predict mpc calibrated $n" "_cal" "$a"
  mpc_predict "predict mpc calibrated $n --json" "_cal" "$a" --json
done
echo "$same same, $differ differ"
[ "$differ" -eq 0 ]
