"""Picks the subnets of experiments/supernet_fmnist.sh: the largest, the smallest, and the 6
samples at the MACs quantiles 1/7 .. 6/7 of the random subnets `supernet eval --samples` scored.
Writes each as OUT_DIR/<name>.json (an ArchSpec). Usage: pick_subnets.py SAMPLES.json OUT_DIR EXTREMES_JSON"""
import json
import os
import sys

samples = json.load(open(sys.argv[1]))["subnets"]
extremes = json.loads(sys.argv[3])["subnets"]
out = sys.argv[2]
by_macs = sorted(samples, key=lambda s: s["macs"])
picked = {s["name"]: s["arch"] for s in extremes}  # largest, smallest
for q in range(1, 7):
    s = by_macs[round(q * (len(by_macs) - 1) / 7)]
    picked[f"q{q}_{s['name']}"] = s["arch"]
for name, arch in picked.items():
    arch = dict(arch, name=name)
    path = os.path.join(out, name + ".json")
    with open(path + ".tmp", "w") as f:
        json.dump(arch, f, indent=2)
    os.replace(path + ".tmp", path)
