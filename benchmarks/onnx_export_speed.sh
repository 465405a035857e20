#!/usr/bin/env bash
# ONNX Runtime speed of `vitnas export onnx` against torch.onnx.export of the official PyTorch
# model (benchmarks/efficientvit_official.py, the official code ported module for module),
# m0..m5, the same random weights, 1 thread, batch 16, opset 13, timed interleaved
# (scripts/onnx_bench.js), median of ROUNDS rounds (default 3). ONNX Runtime folds the official
# graph's BatchNorms itself at graph optimisation; vitnas's graph has them folded already.
#
#   [ROUNDS=7] bash benchmarks/onnx_export_speed.sh [OUT_DIR]
#       (default OUT_DIR experiments/results/onnx_export_speed)
#
# Needs scripts/setup.sh (onnxruntime-node, python3-torch, python3-onnx) and a build.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-experiments/results/onnx_export_speed}
ROUNDS=${ROUNDS:-3}
# Checked before the (minutes of) export: onnx_bench.js would refuse it only at the end.
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] ||
  { echo "error: onnx_export_speed.sh: ROUNDS must be a positive whole number, not '$ROUNDS'" >&2; exit 2; }
VITNAS=build/vitnas
PY=/usr/bin/python3
export NODE_PATH=$PWD/.deps/onnxruntime/node_modules
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

models=()
for m in m0 m1 m2 m3 m4 m5; do
  # Random weights and BN statistics in the official model, exported by both.
  OMP_NUM_THREADS=1 "$PY" - "$WORK" "$m" <<'PY'
import sys, torch
sys.path[:0] = ["python", "benchmarks"]
import efficientvit_official
import vitnas_torch as vt
work, name = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
model = efficientvit_official.efficientvit(name).eval()
with torch.no_grad():
    for mod in model.modules():
        if isinstance(mod, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
            mod.running_mean.normal_(0, 0.1); mod.running_var.uniform_(0.5, 2.0)
vt.save_file(model.state_dict(), f"{work}/{name}.safetensors")  # official keys: vitnas loads them
images = torch.randn(16, 3, 224, 224)
with torch.no_grad():
    vt.save_file({"images": images}, f"{work}/{name}_images.safetensors")
    vt.save_file({"logits": model(images)}, f"{work}/{name}_official_logits.safetensors")
torch.onnx.export(model, torch.randn(16, 3, 224, 224), f"{work}/{name}_torch.onnx", opset_version=13,
                  input_names=["images"], output_names=["logits"], do_constant_folding=True)
PY
  "$VITNAS" export onnx --arch "$m" --weights "$WORK/$m.safetensors" --out "$WORK/${m}_vitnas.onnx" \
      --batch 16 --opset 13 --log-level warn
  models+=("$WORK/${m}_vitnas.onnx" "$WORK/${m}_torch.onnx")
  node scripts/onnx_run.js "$WORK/${m}_vitnas.onnx" "$WORK/${m}_images.safetensors" "$WORK/${m}_ort_logits.safetensors"
done

# Exactness: vitnas's ONNX in ONNX Runtime against the official PyTorch model's eval logits.
"$PY" - "$WORK" > "$OUT/exactness.jsonl" <<'PY'
import json, sys
sys.path.insert(0, "python")
import vitnas_torch as vt
work = sys.argv[1]
for m in ["m0", "m1", "m2", "m3", "m4", "m5"]:
    ref = vt.load_file(f"{work}/{m}_official_logits.safetensors")[0]["logits"]
    got = vt.load_file(f"{work}/{m}_ort_logits.safetensors")[0]["logits"]
    print(json.dumps({"net": m, "max_abs_diff": float((ref - got).abs().max()),
                      "max_abs_logit": float(ref.abs().max()),
                      "top1_agree": float((ref.argmax(1) == got.argmax(1)).float().mean())}))
PY

node scripts/onnx_bench.js "${models[@]}" --batch 16 --threads 1 --rounds "$ROUNDS" --seconds 3 \
    | sed "s#$WORK/##" > "$OUT/results.jsonl"
"$PY" - "$OUT/results.jsonl" "$OUT/exactness.jsonl" <<'PY' | tee "$OUT/table.txt"
import json, sys
rows = {json.loads(l)["model"]: json.loads(l) for l in open(sys.argv[1])}
exact = {json.loads(l)["net"]: json.loads(l) for l in open(sys.argv[2])}
# ratio: of the medians; rounds won: rounds in which vitnas's graph was the faster of the two
# (they run one after the other in each round, so a round is a paired comparison).
print(f"{'net':4} {'vitnas ONNX img/s':>18} {'torch.onnx.export img/s':>24} {'ratio':>6} "
      f"{'rounds won':>10} {'max|diff| vs official':>22}")
for m in ["m0", "m1", "m2", "m3", "m4", "m5"]:
    v, t = rows[f"{m}_vitnas.onnx"], rows[f"{m}_torch.onnx"]
    won = f"{sum(a > b for a, b in zip(v['rounds'], t['rounds']))}/{len(v['rounds'])}"
    print(f"{m:4} {v['img_per_s']:18.1f} {t['img_per_s']:24.1f} "
          f"{v['img_per_s'] / t['img_per_s']:6.3f} {won:>10} {exact[m]['max_abs_diff']:22.2e}")
PY
