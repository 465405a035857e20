"""CPU inference speed of vitnas's fused EfficientViT against ONNX Runtime and the official PyTorch
model, m0..m5 at 224x224, in the same run.

Contestants, all on the same random weights (benchmarks/official_inference.py prepare):
  vitnas        `vitnas bench --weights W` (the fused network)
  ort           ONNX Runtime (onnxruntime-node, scripts/onnx_bench.js: intra-op threads = T,
                sequential, all graph optimisations) on torch.onnx.export of the official model,
                opset 13: what the paper and its users run on a CPU
  ort_vitnas    ONNX Runtime on `vitnas export onnx` of the same network (BN folded by vitnas)
  traced        the official speed_test.py protocol: replace_batchnorm + torch.jit.trace
                (Debian's python3-torch), batch-16 configurations only
Every round times each network once per configuration with one process per contestant, the
contestants' order reversed every other round; the figure is the median over rounds of
batch / mean iteration time. Before each process the machine must be quiet (other processes
using at most --max-busy cores). Run through benchmarks/inference_speed.sh, which prepares the
models.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from train_step import busy_cores, result_header, torch_version, wait_until  # noqa: E402

NETS = ["m0", "m1", "m2", "m3", "m4", "m5"]


def run_json(cmd, env=None):
    """The JSON a process prints: one document (vitnas), or one object per line (node, python)."""
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    try:
        return [json.loads(out)]
    except json.JSONDecodeError:
        return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def configs(text):
    """"1x16,1x1,2x16" -> [(1, 16), (1, 1), (2, 16)]; anything else is a usage error (exit 2)."""
    try:
        out = [tuple(int(v) for v in c.split("x")) for c in text.split(",")]
    except ValueError:
        out = []
    if not out or any(len(c) != 2 or min(c) < 1 for c in out):
        raise argparse.ArgumentTypeError(f"{text!r}: give THREADSxBATCH,... e.g. 1x16,1x1,2x16")
    return out


def nets(text):
    out = text.split(",")
    bad = [n for n in out if n not in NETS]
    if bad:
        raise argparse.ArgumentTypeError(f"{','.join(bad)}: not one of {','.join(NETS)}")
    return out


class Parser(argparse.ArgumentParser):
    def error(self, message):  # a one-line error and exit code 2, as vitnas's own
        print(f"error: inference_speed.py: {message}", file=sys.stderr)
        sys.exit(2)


def main():
    p = Parser(description=__doc__.split("\n")[0])
    p.add_argument("--dir", required=True, help="the prepared models (inference_speed.sh)")
    p.add_argument("--vitnas", default="./build/vitnas")
    p.add_argument("--python", default="/usr/bin/python3", help="the python with torch")
    p.add_argument("--nets", type=nets, default=NETS)
    p.add_argument("--configs", type=configs, default=[(1, 16), (1, 1), (2, 16)],
                   help="THREADSxBATCH,... (default 1x16,1x1,2x16)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=3.0, help="timed seconds per process")
    p.add_argument("--warmup", type=float, default=1.0, help="untimed seconds per process")
    p.add_argument("--max-busy", type=float, default=0.3)
    p.add_argument("--wait", type=float, default=3600, help="give up after this many seconds")
    p.add_argument("--out", default="experiments/results/inference_speed/results.json")
    p.add_argument("--check-only", action="store_true", help="check the flags and exit")
    a = p.parse_args()
    if a.check_only:
        return
    env = dict(os.environ, NODE_PATH=os.path.abspath(".deps/onnxruntime/node_modules"))
    timing = ["--seconds", str(a.seconds), "--warmup", str(a.warmup)]

    def vitnas(net, t, b):
        rows = run_json([a.vitnas, "bench", "--arch", net, "--weights", f"{a.dir}/{net}.safetensors",
                         "--threads", str(t), "--batch", str(b), "--rounds", "1", "--json",
                         "--log-level", "warn"] + timing)
        return {"vitnas": rows[0][0]["img_per_s_mean"]}  # batch / mean, as the others

    def ort(net, t, b, reverse):
        models = {"ort": f"{a.dir}/{net}_b{b}_torch.onnx", "ort_vitnas": f"{a.dir}/{net}_b{b}_vitnas.onnx"}
        names = list(reversed(models)) if reverse else list(models)
        rows = run_json(["node", "scripts/onnx_bench.js", *[models[n] for n in names], "--batch", str(b),
                         "--threads", str(t), "--rounds", "1"] + timing, env)
        return {n: r["img_per_s"] for n, r in zip(names, rows)}

    def traced(net, t, b):
        rows = run_json([a.python, os.path.join(HERE, "official_inference.py"), "time", "--net", net,
                         "--weights", f"{a.dir}/{net}.safetensors", "--threads", str(t),
                         "--batch", str(b)] + timing)
        return {"traced": rows[0]["img_per_s"]}

    speeds = {(t, b, n): {} for t, b in a.configs for n in a.nets}
    busy_seen = []
    for r in range(a.rounds):
        for t, b in a.configs:
            for net in a.nets:
                sides = [lambda: vitnas(net, t, b), lambda: ort(net, t, b, r % 2 == 1)]
                if b == 16:
                    sides.append(lambda: traced(net, t, b))
                for side in (sides if r % 2 == 0 else reversed(sides)):
                    busy_seen.append(wait_until(lambda: (lambda x: (x <= a.max_busy, x))(busy_cores(0.5)),
                                                "other processes' busy cores", a.wait))
                    for name, ips in side().items():
                        speeds[(t, b, net)].setdefault(name, []).append(ips)
                got = speeds[(t, b, net)]
                print(f"  round {r + 1}/{a.rounds} {t} thread(s) batch {b} {net}: " +
                      ", ".join(f"{k} {v[-1]:.1f}" for k, v in got.items()), file=sys.stderr)

    rows = []
    for (t, b, net), got in speeds.items():
        med = {k: statistics.median(v) for k, v in got.items()}
        row = {"net": net, "threads": t, "batch": b,
               **{f"{k}_img_per_s": round(v, 1) for k, v in med.items()},
               "vitnas_over_ort": round(med["vitnas"] / med["ort"], 3),
               "vitnas_over_ort_vitnas": round(med["vitnas"] / med["ort_vitnas"], 3),
               "rounds": {k: [round(x, 1) for x in v] for k, v in got.items()}}
        if "traced" in med:
            row["vitnas_over_traced"] = round(med["vitnas"] / med["traced"], 3)
        rows.append(row)

    print("| threads | batch | net | vitnas img/s | ONNX Runtime (torch.onnx.export) | ratio "
          "| ONNX Runtime (vitnas export) | ratio | official traced | ratio |")
    print("|---" * 10 + "|")
    for row in rows:
        traced_cols = (f"{row['traced_img_per_s']:.1f} | {row['vitnas_over_traced']:.2f}x"
                       if "traced_img_per_s" in row else "- | -")
        print(f"| {row['threads']} | {row['batch']} | {row['net']} | {row['vitnas_img_per_s']:.1f} | "
              f"{row['ort_img_per_s']:.1f} | {row['vitnas_over_ort']:.2f}x | "
              f"{row['ort_vitnas_img_per_s']:.1f} | {row['vitnas_over_ort_vitnas']:.2f}x | {traced_cols} |")
    by = {(r["threads"], r["batch"], r["net"]): r for r in rows}
    for net in a.nets:
        if (1, 16, net) in by and (2, 16, net) in by:
            s = {k: by[(2, 16, net)][f"{k}_img_per_s"] / by[(1, 16, net)][f"{k}_img_per_s"]
                 for k in ("vitnas", "ort")}
            print(f"2 threads over 1, batch 16, {net}: vitnas {s['vitnas']:.2f}x, "
                  f"ONNX Runtime {s['ort']:.2f}x")
    print(f"other processes' busy cores before each timing: max {max(busy_seen):.2f}, "
          f"median {statistics.median(busy_seen):.2f}")

    result = {
        **result_header("EfficientViT m0..m5 inference, 224x224, fp32 CPU",
                        os.environ.get("INFERENCE_SPEED_COMMAND", " ".join(sys.argv))),
        "traced": f"official_inference.py, {torch_version(a.python)}",
        "ort": "onnxruntime-node " + json.load(open(".deps/onnxruntime/node_modules/onnxruntime-node/package.json"))["version"],
        "rounds": a.rounds, "seconds": a.seconds, "warmup": a.warmup,
        "other_busy_cores": {"max": round(max(busy_seen), 2),
                             "median": round(statistics.median(busy_seen), 2)},
        "results": rows,
    }
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    os.replace(tmp, a.out)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
