#!/usr/bin/env bash
# Where ONNX Runtime spends its time on m4 (batch 16, 1 thread): vitnas's ONNX against
# torch.onnx.export of the official model, same random weights, per op type (ONNX Runtime's
# profiler, 12 runs each). Prints the table and writes it to OUT (default
# experiments/results/onnx_export_speed/profile_m4.txt).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-experiments/results/onnx_export_speed/profile_m4.txt}
export NODE_PATH=$PWD/.deps/onnxruntime/node_modules
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
OMP_NUM_THREADS=1 /usr/bin/python3 - "$WORK" <<'PY' 2>/dev/null
import sys, torch
sys.path[:0] = ["python", "benchmarks"]
import efficientvit_official, vitnas_torch as vt
torch.manual_seed(0)
m = efficientvit_official.efficientvit("m4").eval()
vt.save_file(m.state_dict(), f"{sys.argv[1]}/m4.safetensors")
torch.onnx.export(m, torch.randn(16, 3, 224, 224), f"{sys.argv[1]}/official.onnx", opset_version=13,
                  input_names=["images"], output_names=["logits"])
PY
build/vitnas export onnx --arch m4 --weights "$WORK/m4.safetensors" --out "$WORK/vitnas.onnx" \
    --batch 16 --opset 13 --log-level warn
for g in vitnas official; do node scripts/onnx_profile.js "$WORK/$g.onnx" "$WORK/prof_$g"; done
/usr/bin/python3 - "$WORK" <<'PY' | tee "$OUT"
import collections, glob, json, sys
for g in ["vitnas", "official"]:
    trace = json.load(open(glob.glob(f"{sys.argv[1]}/prof_{g}_*.json")[0]))
    ms, nodes = collections.Counter(), collections.Counter()
    runs = sum(1 for e in trace if e.get("cat") == "Session" and e["name"] == "model_run")
    for e in trace:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            ms[e["args"]["op_name"]] += e["dur"] / 1000
            nodes[e["args"]["op_name"]] += 1
    print(f"m4 {g}: {sum(ms.values()) / runs:.1f} ms per run of batch 16 ({runs} runs)")
    for op, t in ms.most_common(8):
        print(f"  {op:20s} {t / runs:8.2f} ms  {nodes[op] // runs:4d} nodes")
PY
