#!/usr/bin/env bash
# CPU inference speed, m0..m5 at 224x224: vitnas's fused network against ONNX Runtime on the
# official model exported by torch.onnx.export (and on vitnas's own export) and against the
# official model traced and fused (speed_test.py's protocol), the same random weights, round by
# round in the same run; 1 thread batch 16, 1 thread batch 1, 2 threads batch 16 (see
# benchmarks/inference_speed.py). Writes OUT/results.json and OUT/table.md.
#
#   [NETS="m0 m5"] bash benchmarks/inference_speed.sh [OUT_DIR] [inference_speed.py flags:
#       --rounds 3 --seconds 3 --configs 1x16,1x1,2x16 ...]   (NETS: default m0..m5)
#
# Needs scripts/setup.sh (onnxruntime-node, python3-torch, python3-onnx) and a build.
set -euo pipefail
export INFERENCE_SPEED_COMMAND="NETS=\"${NETS:-m0 m1 m2 m3 m4 m5}\" bash benchmarks/inference_speed.sh $*"  # for results.json
cd "$(dirname "$0")/.."
OUT=${1:-experiments/results/inference_speed}
[ $# -gt 0 ] && shift
test -x build/vitnas || { echo "error: inference_speed.sh: build first (bash scripts/build.sh)" >&2; exit 2; }
test -d .deps/onnxruntime/node_modules/onnxruntime-node ||
  { echo "error: inference_speed.sh: run scripts/setup.sh first (onnxruntime-node)" >&2; exit 2; }
NETS=${NETS:-m0 m1 m2 m3 m4 m5}
NET_LIST=$(echo $NETS | tr ' ' ,)
# Flags are checked before the (minutes of) model preparation.
/usr/bin/python3 benchmarks/inference_speed.py --dir . --nets "$NET_LIST" --check-only "$@" || exit 2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
for m in $NETS; do
  OMP_NUM_THREADS=1 /usr/bin/python3 benchmarks/official_inference.py prepare --net "$m" \
      --dir "$WORK" --batches 16,1 2>/dev/null
  for b in 16 1; do
    build/vitnas export onnx --arch "$m" --weights "$WORK/$m.safetensors" \
        --out "$WORK/${m}_b${b}_vitnas.onnx" --batch "$b" --opset 13 --log-level warn
  done
done
/usr/bin/python3 benchmarks/inference_speed.py --dir "$WORK" --nets "$NET_LIST" \
    --out "$OUT/results.json" "$@" \
    | tee "$OUT/table.md"
