#!/usr/bin/env bash
# Where vitnas and ONNX Runtime spend the time of one network, step by step: `vitnas bench
# --profile` (each fused step timed alone, median of 20) against ONNX Runtime's own profiler on
# `vitnas export onnx` of the same network (12 runs), whose node names start with the step they
# belong to (blocks1.0.mixer.head1.scores); nodes ONNX Runtime adds itself (layout reorders) are
# their own row. 1 thread, batch 16 by default. Prints the table and writes OUT.
#
#   bash benchmarks/step_profile.sh [NET=m0] [BATCH=16] [OUT=experiments/results/inference_speed/steps_NET_bBATCH.txt]
set -euo pipefail
cd "$(dirname "$0")/.."
NET=${1:-m0}
BATCH=${2:-16}
OUT=${3:-experiments/results/inference_speed/steps_${NET}_b${BATCH}.txt}
export NODE_PATH=$PWD/.deps/onnxruntime/node_modules
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$(dirname "$OUT")"
build/vitnas export onnx --arch "$NET" --out "$WORK/net.onnx" --batch "$BATCH" --opset 13 --log-level warn
build/vitnas bench --arch "$NET" --batch "$BATCH" --threads 1 --seconds 3 --warmup 2 --rounds 1 \
    --profile --json --log-level warn > "$WORK/vitnas.json"
node scripts/onnx_profile.js "$WORK/net.onnx" "$WORK/prof" "$BATCH"
/usr/bin/python3 - "$WORK" "$NET" "$BATCH" <<'PY' | tee "$OUT"
import collections, glob, json, sys
work, net, batch = sys.argv[1:]
bench = json.load(open(f"{work}/vitnas.json"))[0]
steps = [(s["name"], s["median_ms"]) for s in bench["steps"]]
names = sorted((n for n, _ in steps), key=len, reverse=True)

def step_of(node):  # the longest step name the node's name starts with
    for n in names:
        if node == n or node.startswith(n + "."):
            return n
    return "(added by ONNX Runtime)"

trace = json.load(open(glob.glob(f"{work}/prof_*.json")[0]))
runs = sum(1 for e in trace if e.get("cat") == "Session" and e["name"] == "model_run")
ort = collections.Counter()
ops = collections.defaultdict(collections.Counter)
for e in trace:
    if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
        node = e["name"][: -len("_kernel_time")]
        ort[step_of(node)] += e["dur"] / 1000 / runs
        ops[step_of(node)][e["args"]["op_name"]] += 1
print(f"{net}, batch {batch}, 1 thread: per step, ms per batch (vitnas: bench --profile, each step "
      f"timed alone; ONNX Runtime: its profiler on vitnas's export, {runs} runs)")
print(f"{'step':24} {'vitnas':>8} {'ORT':>8} {'vitnas/ORT':>10}  ORT nodes")
for n, ms in steps + [("(added by ONNX Runtime)", 0.0)]:
    if n not in ort and ms == 0.0:
        continue
    o = ort.get(n, 0.0)
    kinds = " ".join(f"{k}x{c // runs}" for k, c in sorted(ops[n].items()))
    print(f"{n:24} {ms:8.3f} {o:8.3f} {ms / o if o else float('inf'):10.2f}  {kinds}")
tv, to = sum(ms for _, ms in steps), sum(ort.values())
print(f"{'total':24} {tv:8.3f} {to:8.3f} {tv / to:10.2f}")
PY
