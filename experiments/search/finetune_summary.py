#!/usr/bin/env python3
"""experiments/search_finetune_fmnist.sh's two steps after the measurement.

  finetune_summary.py baselines SEARCH OUT   each budget pick's baseline: of the hand-designed
      network and its scaled grid (OUT/scaled.txt), the one whose measured latency
      (OUT/measured.csv, one round-robin run) is nearest the pick's; writes OUT/baselines.json
      and prints the baselines' ArchSpec paths, comma-separated (the hand-designed one left out:
      it is trained anyway)
  finetune_summary.py table SEARCH OUT       test top-1 of each pick against its baseline
      (OUT/finetune/finetune.json), with issue 11's verdict per budget: >= +0.5 point at equal
      measured latency, or >= 1.2x faster at equal accuracy
"""
import csv
import json
import math
import os
import sys

HAND = "experiments/train/efficientvit_fmnist.json"


def measured(out):
    with open(os.path.join(out, "measured.csv")) as f:
        return {r["name"]: float(r["measured_ms"]) for r in csv.DictReader(f)}


def picks(search):
    front = json.load(open(os.path.join(search, "front.json")))
    return [b for b in front["budgets"] if b["name"]], front["unit"]


def baselines(search, out):
    ms = measured(out)
    hand_name = json.load(open(HAND))["name"]
    grid = {hand_name: HAND}
    for path in open(os.path.join(out, "scaled.txt")).read().split():
        name = json.load(open(path))["name"]
        if name != hand_name + "_w1_d1":  # the hand-designed network itself
            grid[name] = path
    chosen = []
    for b in picks(search)[0]:
        target = ms[b["name"]]
        name = min(grid, key=lambda n: abs(math.log(ms[n] / target)))
        chosen.append({"budget": b["budget"], "pick": b["name"], "pick_ms": target,
                       "baseline": name, "baseline_path": grid[name], "baseline_ms": ms[name]})
    tmp = os.path.join(out, "baselines.json.tmp")
    json.dump(chosen, open(tmp, "w"), indent=1)
    os.replace(tmp, os.path.join(out, "baselines.json"))
    paths = []
    for c in chosen:
        if c["baseline_path"] != HAND and c["baseline_path"] not in paths:
            paths.append(c["baseline_path"])
    print(",".join(paths))


def table(search, out):
    chosen = json.load(open(os.path.join(out, "baselines.json")))
    report = json.load(open(os.path.join(out, "finetune", "finetune.json")))
    top1 = {n["name"]: n for n in report["networks"]}
    ms = measured(out)
    hand_name = json.load(open(HAND))["name"]
    r = report["recipe"]
    print("recipe: %s, %d epochs, batch %d, lr %g, seed %d%s" %
          (r["data"], r["epochs"], r["batch"], r["lr"], r["seed"],
           ", from scratch" if r["from_scratch"] else ", from the supernet's weights"))
    print("hand-designed %s: %.2f ms measured, test top-1 %.2f%%" %
          (hand_name, ms[hand_name], top1[hand_name]["test_top1"]))
    print("%-10s %-10s %9s %8s  %-30s %9s %8s %8s %8s  %s" %
          ("budget", "found", "ms", "top-1", "scaled hand-designed", "ms", "top-1", "gain", "speed", "verdict"))
    wins = 0
    for c in chosen:
        p, b = top1[c["pick"]], top1[c["baseline"]]
        gain = p["test_top1"] - b["test_top1"]
        speed = c["baseline_ms"] / c["pick_ms"]
        # Equal latency: the pick at most 5% slower than its baseline (the grid's resolution).
        win = (gain >= 0.5 and c["pick_ms"] <= 1.05 * c["baseline_ms"]) or \
              (speed >= 1.2 and gain >= 0)
        wins += win
        print("%-10.4g %-10s %9.2f %7.2f%%  %-30s %9.2f %7.2f%% %+7.2f %7.2fx  %s" %
              (c["budget"], c["pick"], c["pick_ms"], p["test_top1"], c["baseline"], c["baseline_ms"],
               b["test_top1"], gain, speed, "met" if win else "not met"))
    print("budgets won: %d of %d (target: >= 2 of 3)" % (wins, len(chosen)))


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("baselines", "table"):
        print("usage: finetune_summary.py baselines|table SEARCH OUT", file=sys.stderr)
        sys.exit(2)
    (baselines if sys.argv[1] == "baselines" else table)(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    main()
