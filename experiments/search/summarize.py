"""Summarises experiments/search_fmnist.sh's runs into experiments/results/search_fmnist.txt and
copies the full search's front (json, csv, svg, ArchSpecs) and its history (without the ArchSpecs)
beside it. Usage: summarize.py RUN_DIR HAND_MS"""
import csv
import json
import os
import shutil
import statistics
import sys

run, hand_ms = sys.argv[1], float(sys.argv[2])
results = "experiments/results"
lines = []


def say(s=""):
    print(s)
    lines.append(s)


# NSGA-II vs random search.
hv = {"nsga2": [], "random": []}
for seed in range(3):
    for strategy in hv:
        j = json.load(open(f"{run}/hv/{strategy}-{seed}.json"))
        hv[strategy].append((seed, j["hypervolume"], j["evaluated"], j["seconds"], len(j["front"])))
say("== NSGA-II vs random search: front hypervolume, the same evaluations (accuracy x latency box,")
say("   reference: 0 % top-1 and the space's largest network's latency) ==")
for strategy, rows in hv.items():
    for seed, h, n, sec, front in rows:
        say(f"{strategy:7s} seed {seed}: hypervolume {h:.4f}  ({n} networks scored, front of {front}, {sec:.0f} s)")
    say(f"{strategy:7s} median hypervolume {statistics.median(r[1] for r in rows):.4f}")
wins = sum(a[1] > b[1] for a, b in zip(hv["nsga2"], hv["random"]))
say(f"NSGA-II larger in {wins} of 3 seeds; median {statistics.median(r[1] for r in hv['nsga2']):.4f} "
    f"vs {statistics.median(r[1] for r in hv['random']):.4f}")

# The full search.
full = json.load(open(f"{run}/full.json"))
say()
say(f"== Full search: population {full['search']['population']}, {full['search']['generations']} "
    f"generations, {full['evaluated']} networks scored in {full['seconds']:.0f} s "
    f"({full['seconds'] / 60:.1f} min, --measure excluded) ==")
say(f"front of {len(full['front'])}, hypervolume {full['hypervolume']:.4f}")
hand = full["marks"][0]
say(f"hand-designed {hand['name']}: predicted {hand['latency']:.3f} ms, "
    + (f"supernet top-1 {hand['accuracy']:.2f} %, " if "accuracy" in hand else "(outside the space), ")
    + f"attention share {100 * hand['attention_share']:.0f} %")
for b in full["budgets"]:
    if b.get("name") is None:
        say(f"budget {b['budget']:.3f} ms ({b['budget'] / hand_ms:.1f}x): none found")
        continue
    say(f"budget {b['budget']:.3f} ms ({b['budget'] / hand_ms:.1f}x): {b['name']} supernet top-1 "
        f"{b['accuracy']:.2f} %, predicted {b['latency']:.3f} ms, measured "
        f"{b.get('measured_latency', float('nan')):.3f} ms ({b.get('error_pct', float('nan')):+.1f} %), "
        f"{b['params'] / 1e6:.3f} M params, {b['macs'] / 1e6:.2f} MMACs, "
        f"attention share {100 * b['attention_share']:.0f} %")


def measured_summary(rows, what):
    seen = {}
    for r in rows:
        if r.get("error_pct") is not None:
            seen[r["name"]] = abs(r["error_pct"])
    errors = list(seen.values())
    if errors:
        say(f"{what} measured: {len(errors)}; |prediction error| median {statistics.median(errors):.1f} %, "
            f"max {max(errors):.1f} %, within 5 %: {sum(e <= 5 for e in errors)}, within 10 %: "
            f"{sum(e <= 10 for e in errors)}")


measured_summary(full["budgets"] + full["front"], "networks")
share = [r["attention_share"] for r in full["front"]]
say(f"attention share (MHSA / (MHSA + FFN), every FFN counted) over the front: mean "
    f"{100 * statistics.mean(share):.0f} %, min {100 * min(share):.0f} %, max {100 * max(share):.0f} % "
    f"(plain ViT 50 %, EfficientViT-M4 27 %)")

# The latency-only search.
m = json.load(open(f"{run}/mspace.json"))
say()
say(f"== Latency/MACs only, m-space, 10 budgets: {m['evaluated']} networks scored in "
    f"{m['seconds']:.1f} s, front of {len(m['front'])} ==")
for b in m["budgets"]:
    say(f"budget {b['budget']:g} ms: {b['name']} predicted {b['latency']:.2f} ms, measured "
        f"{b.get('measured_latency', float('nan')):.2f} ms ({b.get('error_pct', float('nan')):+.1f} %), "
        f"{b['macs'] / 1e6:.1f} MMACs, attention share {100 * b['attention_share']:.0f} %")
measured_summary(m["budgets"], "budget picks")
for mk in m["marks"]:
    say(f"  preset {mk['name']}: {mk['latency']:.2f} ms, {mk['macs'] / 1e6:.1f} MMACs")

open(f"{results}/search_fmnist.txt", "w").write("\n".join(lines) + "\n")
dest = f"{results}/search_fmnist_front"
shutil.rmtree(dest, ignore_errors=True)
os.makedirs(dest)
for f in ("front.json", "front.csv", "front.svg"):
    shutil.copy(f"{run}/full/{f}", dest)
shutil.copytree(f"{run}/full/front", f"{dest}/front")
with open(f"{dest}/history.csv", "w", newline="") as out:
    w = csv.writer(out)
    w.writerow(["name", "generation", "accuracy", "latency_ms", "params", "macs"])
    for line in open(f"{run}/full/history.jsonl"):
        h = json.loads(line)
        w.writerow([h["name"], h["generation"], h["accuracy"], h["latency"], int(h["params"]), int(h["macs"])])
